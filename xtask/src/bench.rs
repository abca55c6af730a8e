//! `cargo xtask bench [--quick]`: dbgpipe's filters against the tools people use instead, on
//! the same files, in one run, written to BENCHMARKS.md.
//!
//! Three jobs, each on inputs made deterministically from real captures (see [`inputs`]):
//! - **vg-filter** on a ≥ 500 MiB Memcheck text log (the corpus's raw CPython 3.11 logs
//!   replicated as one process each), against `grep -cE` of the record headers on the same file
//!   (the floor: a scan that parses nothing), and against ValgrindCI (PyPI, in a venv the
//!   bench makes) on the XML of the same records; and vg-filter's peak RSS at 50 and 500 MiB.
//! - **bt-demangle** on ≥ 200k mangled symbols from `nm` of the system's C++ libraries,
//!   against binutils' `c++filt` (plain and `-i`), and on a gdb log of ≥ 10k frames.
//! - **rss-rounds** on 10M lines of `Round N Max RSS: X`, and the harness's time per round
//!   on an empty workload.
//!
//! Figures are medians of whole-process wall-clock times over repeated runs ([`measure`]);
//! the table gives each row's ratio to a reference row of the same run, and the targets of
//! issue 16 are judged from those ratios. Where one is missed the bench profiles both sides
//! with callgrind and puts the hot functions in the report. BENCHMARKS.md is generated here
//! ([`report`]); `--quick` (tiny inputs, one run, no PyPI) writes under `target/` instead,
//! for CI to prove the bench works without timing anything.

pub mod inputs;
pub mod measure;
pub mod report;

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

use crate::example::{self, repo_root};
use crate::flags;
use crate::records::{self, BtDemangle, VgFilter, VgSummary};
use crate::tools;
use crate::{memcheck, Status, Workspace};
use inputs::MIB;
use measure::{Measurement, Runner, Spec};
use report::{Check, Figure, Profile, Report, Role, Row, Target};

/// The three jobs (`--only vg,bt,rss`; the tools' names work too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// vg-filter against grep and ValgrindCI.
    #[value(alias = "vg-filter")]
    Vg,
    /// bt-demangle against c++filt.
    #[value(alias = "bt-demangle")]
    Bt,
    /// rss-rounds and its harness.
    #[value(alias = "rss-rounds")]
    Rss,
}

impl Section {
    const ALL: [Section; 3] = [Section::Vg, Section::Bt, Section::Rss];

    fn name(self) -> &'static str {
        match self {
            Section::Vg => "vg-filter",
            Section::Bt => "bt-demangle",
            Section::Rss => "rss-rounds",
        }
    }
}

/// What `cargo xtask bench` is told.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Tiny inputs, one run per command, no PyPI; writes under `target/`.
    pub quick: bool,
    /// Timed runs per command (default 5; 1 in quick mode). The slow peer gets at most 3.
    pub runs: Option<usize>,
    /// Only these jobs (default: all).
    pub only: Vec<Section>,
    /// Where to write the report (default: BENCHMARKS.md at the root, or
    /// `target/dbgpipe/bench/quick/BENCHMARKS.md` in quick mode).
    pub out: Option<PathBuf>,
    /// Leave out ValgrindCI (no PyPI).
    pub no_valgrindci: bool,
    /// Profile with callgrind even where the targets are met.
    pub profile: bool,
    /// Use the tool binaries in this directory instead of building them in release mode
    /// (the test of the quick mode passes its own debug builds).
    pub bins: Option<PathBuf>,
}

/// Input sizes of one mode.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    vg_main: u64,
    vg_small: u64,
    symbols: u64,
    gdb_frames: u64,
    rss_lines: u64,
    harness_rounds: (u64, u64),
}

const FULL: Sizes = Sizes {
    vg_main: 500 << 20,
    vg_small: 50 << 20,
    symbols: 200_000,
    gdb_frames: 10_000,
    rss_lines: 10_000_000,
    harness_rounds: (200, 2000),
};

/// Quick mode: one small and one large log (1.4 and 7.2 MB), libstdc++'s symbols only.
const QUICK: Sizes = Sizes {
    vg_main: 2 << 20,
    vg_small: 1,
    symbols: 5_000,
    gdb_frames: 1_000,
    rss_lines: 100_000,
    harness_rounds: (10, 40),
};

/// Record headers of a Memcheck text log (every kind vg-filter names): what the floor counts.
pub const HEADER_RE: &str = r"^==[0-9]+== (Invalid (read|write|free|alignment|size|file descriptor)|Mismatched |Jump to the invalid|Source and destination overlap|Syscall param |Conditional jump or move|Use of uninitialised value|(Uninitialised|Unaddressable) byte|Illegal memory pool|Argument '|realloc|Unsafe allocation|Open (file descriptor|AF_)|File descriptor |[0-9,]+ (\([0-9,]+ direct, [0-9,]+ indirect\) )?bytes in [0-9,]+ blocks are)";

/// The extension's source directory in the corpus's XML logs (their paths were rewritten to
/// it): ValgrindCI's `--source-dir`, the counterpart of `vg-filter --project=leaky`.
const XML_SOURCE_DIR: &str = "/opt/example/gen";

/// The ValgrindCI release the bench installs.
const VALGRINDCI: &str = "ValgrindCI==0.3.0";

/// Runs ValgrindCI's own command-line entry point on each log of a list, in one interpreter.
const VALGRINDCI_DRIVER: &str = r#""""Written by cargo xtask bench: ValgrindCI's command-line entry point (what the
valgrind-ci script calls) once per XML log named in LIST, in one interpreter so that its
start-up is paid once, as `valgrind-ci LOG --source-dir DIR --number-of-errors --summary`."""
import sys

import ValgrindCI

source_dir, list_file = sys.argv[1], sys.argv[2]
with open(list_file) as f:
    logs = [line.rstrip("\n") for line in f if line.strip()]
for log in logs:
    sys.argv = ["valgrind-ci", log, "--source-dir", source_dir, "--number-of-errors", "--summary"]
    ValgrindCI.main()
"#;

/// What one bench run works with.
struct Ctx {
    sh: Shell,
    bins: PathBuf,
    /// `target/dbgpipe/bench/`: inputs (cached) and scratch files.
    dir: PathBuf,
    runner: Runner,
    runs: usize,
    /// Runs of the slowest peer (minutes per run at full size).
    slow_runs: usize,
    warmup: bool,
    quick: bool,
    sizes: Sizes,
    no_valgrindci: bool,
    profile: bool,
}

impl Ctx {
    fn bin(&self, name: &str) -> anyhow::Result<PathBuf> {
        let p = self.bins.join(name);
        if !p.is_file() {
            bail!("{} is missing", p.display());
        }
        Ok(p)
    }

    /// Paths as the report shows them: relative to the checkout where they lie in it.
    fn short(&self, s: &str) -> String {
        let root = repo_root();
        let root = root.to_string_lossy();
        match s.strip_prefix(&format!("{root}/")) {
            Some(rest) => rest.to_string(),
            None => s.to_string(),
        }
    }

    fn measure(&self, label: &str, spec: &Spec) -> anyhow::Result<Measurement> {
        self.runner.measure(label, spec, self.runs, self.warmup)
    }

    /// [`Runner::measure_together`]: commands a ratio compares.
    fn measure_together(&self, commands: &[(&str, &Spec)]) -> anyhow::Result<Vec<Measurement>> {
        self.runner
            .measure_together(commands, self.runs, self.warmup)
    }

    fn row(&self, group: &str, name: &str, role: Role, spec: &Spec, m: &Measurement) -> Row {
        Row {
            group: group.to_string(),
            name: name.to_string(),
            role,
            command: spec.display(&|s| self.short(s)),
            figure: Figure::Timed {
                median: m.median(),
                min: m.min(),
                max: m.max(),
                runs: m.samples.len(),
                max_rss_kib: m.max_rss_kib,
            },
            throughput: None,
            ratio: None,
        }
    }
}

/// What a bench run produced and where the report went.
#[derive(Debug)]
pub struct Outcome {
    /// The results.
    pub report: Report,
    /// The Markdown file written.
    pub written: PathBuf,
}

/// Runs the bench and writes its report.
pub fn bench(opts: &Options) -> anyhow::Result<Outcome> {
    let sh = Shell::new()?;
    sh.change_dir(repo_root());
    let bins = match &opts.bins {
        Some(b) => b.clone(),
        None => release_bins(&sh)?,
    };
    let dir = repo_root().join("target").join("dbgpipe").join("bench");
    let scratch = dir.join("run");
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let runs = opts.runs.unwrap_or(if opts.quick { 1 } else { 5 }).max(1);
    let ctx = Ctx {
        sh,
        bins,
        runner: Runner {
            timer: measure::find_timer(),
            scratch: scratch.clone(),
        },
        dir,
        runs,
        slow_runs: runs.min(3),
        warmup: !opts.quick,
        quick: opts.quick,
        sizes: if opts.quick { QUICK } else { FULL },
        no_valgrindci: opts.no_valgrindci,
        profile: opts.profile,
    };
    let mut report = Report {
        quick: opts.quick,
        date: cmd!(ctx.sh, "date -u +%Y-%m-%dT%H:%MZ")
            .quiet()
            .read()
            .unwrap_or_default(),
        ..Report::default()
    };
    report.method = method(&ctx);
    let load_before = load_average();
    let sections: Vec<Section> = if opts.only.is_empty() {
        Section::ALL.to_vec()
    } else {
        opts.only.clone()
    };
    for section in Section::ALL {
        if !sections.contains(&section) {
            report
                .skipped
                .push(format!("{}: not asked for (--only)", section.name()));
            continue;
        }
        match section {
            Section::Vg => vg(&ctx, &mut report)?,
            Section::Bt => bt(&ctx, &mut report)?,
            Section::Rss => rss(&ctx, &mut report)?,
        }
    }
    if sections.contains(&Section::Vg) || sections.contains(&Section::Bt) {
        report.targets.push(rss_target(&report));
    }
    report.machine = machine();
    // Other work on the machine slows every command; the load says how much there was.
    report.machine.push((
        "load average (1, 5, 15 min)".into(),
        format!("{load_before} at the start, {} at the end", load_average()),
    ));
    report.tools = versions(&ctx, &report);
    report.limits = limits(&ctx);
    let written = match &opts.out {
        Some(p) => p.clone(),
        None if opts.quick => ctx.dir.join("quick").join("BENCHMARKS.md"),
        None => repo_root().join("BENCHMARKS.md"),
    };
    if let Some(parent) = written.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&written, report.markdown())
        .with_context(|| format!("cannot write {}", written.display()))?;
    Ok(Outcome { report, written })
}

/// Builds the tools in release mode (`cargo build --release`) and returns their directory.
fn release_bins(sh: &Shell) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("bench: cargo build --release --package dbgpipe --bins");
    cmd!(
        sh,
        "{cargo} build --quiet --release --package dbgpipe --bins"
    )
    .run()
    .context("building the tools in release mode")?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    Ok(target.join("release"))
}

fn mib_s(bytes: u64, seconds: f64) -> Option<String> {
    (seconds > 0.0).then(|| format!("{:.0} MiB/s", bytes as f64 / MIB / seconds))
}

fn per_s(n: u64, unit: &str, seconds: f64) -> Option<String> {
    (seconds > 0.0).then(|| {
        let r = n as f64 / seconds;
        if r >= 1e6 {
            format!("{:.2} M {unit}/s", r / 1e6)
        } else if r >= 1e4 {
            format!("{:.0} k {unit}/s", r / 1e3)
        } else {
            format!("{r:.0} {unit}/s")
        }
    })
}

fn ratio(a: &Row, b: &Row) -> Option<f64> {
    match (a.median(), b.median()) {
        (Some(x), Some(y)) if y > 0.0 => Some(x / y),
        _ => None,
    }
}

/// The summary of a vg-filter JSON-lines output (`what` names the run in an error).
fn vg_summary(stdout: &[u8], what: &str) -> anyhow::Result<VgSummary> {
    let text = String::from_utf8_lossy(stdout);
    Ok(records::parse::<VgFilter>(&format!("vg-filter's output ({what})"), &text)?.summary)
}

fn first_number(bytes: &[u8]) -> Option<u64> {
    String::from_utf8_lossy(bytes).trim().parse().ok()
}

/// The name of a generated log: its minimum size, or `one-log` for the smallest (one
/// replica, whatever its size).
fn label(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{}MiB", bytes >> 20)
    } else {
        "one-log".to_string()
    }
}

/// `1 process`, `2 processes`.
fn processes(n: usize) -> String {
    if n == 1 {
        "1 process".into()
    } else {
        format!("{n} processes")
    }
}

/// vg-filter against the grep floor and ValgrindCI; its peak RSS at two sizes.
fn vg(ctx: &Ctx, report: &mut Report) -> anyhow::Result<()> {
    let s = ctx.sizes;
    let inputs_dir = ctx.dir.join("inputs");
    std::fs::create_dir_all(&inputs_dir)?;
    let main = inputs::memcheck(&ctx.sh, &inputs_dir, &label(s.vg_main), s.vg_main, true)?;
    let small = inputs::memcheck(&ctx.sh, &inputs_dir, &label(s.vg_small), s.vg_small, false)?;
    let vg_filter = ctx.bin("vg-filter")?;
    let grep = tools::require("grep", "grep")?;
    let mb = |b: u64| format!("{:.0} MiB", b as f64 / MIB);
    let group = format!(
        "vg-filter: {} Memcheck text log ({}) and its {} XML twin",
        mb(main.text_bytes),
        processes(main.replicas),
        mb(main.xml_bytes)
    );
    report.inputs.push((
        ctx.short(&main.text.display().to_string()),
        format!(
            "{} bytes: the corpus's raw Valgrind 3.19 logs of CPython 3.11 with a leaking \
             extension (memcheck-logs/py311-leaky-malloc-all.log, py311-big-malloc-all.log) \
             taken in turn {} times, each as its own process (PID 20000 + 2i, every `0x…` \
             address moved by (i + 1) × 64 KiB), two processes at a time interleaved record by \
             record as `--trace-children=yes` writes them into one stream.",
            report::thousands(main.text_bytes),
            main.replicas
        ),
    ));
    report.inputs.push((
        ctx.short(&main.text.with_extension("").display().to_string()) + "-xml/vg.*.xml",
        format!(
            "{} files, {} bytes: the same {} processes from the XML logs of the same runs \
             (py311-*-malloc-all.xml), one file per process as `--xml-file=vg.%p.xml` writes \
             them, with the same PIDs and address offsets.",
            main.xml.len(),
            report::thousands(main.xml_bytes),
            main.replicas
        ),
    ));
    report.inputs.push((
        ctx.short(&small.text.display().to_string()),
        format!(
            "{} bytes, {}, made the same way: the small input of the peak-RSS pair.",
            report::thousands(small.text_bytes),
            processes(small.replicas)
        ),
    ));

    // The floor: count the record headers, parse nothing. C locale: grep's fastest matcher.
    let grep_spec = Spec::new(&grep)
        .env("LC_ALL", "C")
        .arg("-cE")
        .arg(HEADER_RE)
        .arg(&main.text)
        .ok(&[0, 1])
        .keep_stdout();
    let vg_spec = Spec::new(&vg_filter)
        .arg("--project=leaky")
        .arg(&main.text)
        .ok(&[0, 1])
        .keep_stdout();
    let supp = repo_root().join("suppressions").join("python3.11.supp");
    let supp_spec = supp.is_file().then(|| {
        Spec::new(&vg_filter)
            .arg("--project=leaky")
            .arg("--suppressions")
            .arg(&supp)
            .arg(&main.text)
            .ok(&[0, 1])
            .keep_stdout()
    });
    let xml_spec = Spec::new(&vg_filter)
        .arg("--project=leaky")
        .args(&main.xml)
        .ok(&[0, 1])
        .keep_stdout();
    // The commands the targets compare, their runs taking turns.
    let mut compared = vec![
        ("grep -cE headers", &grep_spec),
        ("vg-filter text", &vg_spec),
        ("vg-filter XML", &xml_spec),
    ];
    compared.extend(
        supp_spec
            .iter()
            .map(|s| ("vg-filter text + suppressions", s)),
    );
    let mut measured = ctx.measure_together(&compared)?.into_iter();
    let mut next = || measured.next().context("a measurement is missing");
    let (grep_m, text_m, xml_m) = (next()?, next()?, next()?);
    let supp_m = match supp_spec {
        Some(_) => Some(next()?),
        None => None,
    };

    let m = grep_m;
    let grep_count = first_number(&m.first.stdout);
    let mut floor = ctx.row(
        &group,
        "grep -cE record headers",
        Role::Floor,
        &grep_spec,
        &m,
    );
    floor.throughput = mib_s(main.text_bytes, m.median());

    let m = text_m;
    let text_summary = vg_summary(&m.first.stdout, "text log")?;
    let text_first_stdout = m.first.stdout.clone();
    let mut text_row = ctx.row(
        &group,
        "vg-filter --project (text)",
        Role::Ours,
        &vg_spec,
        &m,
    );
    text_row.throughput = mib_s(main.text_bytes, m.median());
    text_row.ratio = ratio(&text_row, &floor).map(|r| (r, "grep".to_string()));

    let supp_row = if let (Some(spec), Some(m)) = (&supp_spec, supp_m) {
        let mut row = ctx.row(
            &group,
            "vg-filter --project --suppressions (text)",
            Role::Ours,
            spec,
            &m,
        );
        row.throughput = mib_s(main.text_bytes, m.median());
        row.ratio = ratio(&row, &floor).map(|r| (r, "grep".to_string()));
        let sum = vg_summary(&m.first.stdout, "text log with suppressions")?;
        let conserved =
            sum.records == sum.suppressed + sum.kept + sum.not_project && sum.suppressed > 0;
        report.checks.push(Check::new(
            format!(
                "With the shipped suppressions/python3.11.supp (the interpreter these logs come \
                 from), vg-filter suppresses {} of the {} records, keeps {} and leaves {} \
                 (suppressed + kept + left = records).",
                report::thousands(sum.suppressed),
                report::thousands(sum.records),
                report::thousands(sum.kept),
                report::thousands(sum.not_project),
            ),
            conserved,
        ));
        Some(row)
    } else {
        None
    };

    let small_spec = Spec::new(&vg_filter)
        .arg("--project=leaky")
        .arg(&small.text)
        .ok(&[0, 1]);
    let m = ctx.measure("vg-filter small text", &small_spec)?;
    let mut small_row = ctx.row(
        &group,
        &format!("vg-filter --project (text, {})", mb(small.text_bytes)),
        Role::Ours,
        &small_spec,
        &m,
    );
    small_row.throughput = mib_s(small.text_bytes, m.median());

    let m = xml_m;
    let xml_summary = vg_summary(&m.first.stdout, "XML logs")?;
    let mut xml_row = ctx.row(
        &group,
        "vg-filter --project (XML)",
        Role::Ours,
        &xml_spec,
        &m,
    );
    xml_row.throughput = mib_s(main.xml_bytes, m.median());
    xml_row.ratio = ratio(&xml_row, &text_row).map(|r| (r, "vg-filter (text)".to_string()));

    let (vci_row, vci_kept) = valgrindci(ctx, report, &group, &main)?;
    let mut vci_row = vci_row;
    vci_row.ratio = ratio(&vci_row, &text_row).map(|r| (r, "vg-filter (text)".to_string()));
    if vci_row.median().is_some() {
        vci_row.throughput = mib_s(main.xml_bytes, vci_row.median().unwrap_or(0.0));
    }

    // Same input, same answer.
    let records_agree = grep_count == Some(text_summary.records)
        && grep_count == Some(xml_summary.records)
        && text_summary.kept == xml_summary.kept
        && vci_kept.map_or(true, |k| k == text_summary.kept);
    report.checks.push(Check::new(
        format!(
        "Records in the {} log: grep counts {} headers; vg-filter reads {} records from the text \
         and {} from the XML, and keeps {} and {} of them as the extension's.{}",
        mb(main.text_bytes),
        grep_count.map_or("?".into(), report::thousands),
        report::thousands(text_summary.records),
        report::thousands(xml_summary.records),
        report::thousands(text_summary.kept),
        report::thousands(xml_summary.kept),
        match vci_kept {
            Some(k) => format!(
                " ValgrindCI counts {} errors with a frame under --source-dir {XML_SOURCE_DIR} \
                 (its `--number-of-errors`, summed over the files).",
                report::thousands(k)
            ),
            None => String::new(),
        }
    ),
        records_agree,
    ));

    // Both cores or one, the same output.
    let one_thread = Spec::new(&vg_filter)
        .arg("--jobs=1")
        .arg("--project=leaky")
        .arg(&main.text)
        .ok(&[0, 1])
        .keep_stdout();
    let single = ctx
        .runner
        .measure("vg-filter --jobs=1 text", &one_thread, 1, false)?;
    let threads_agree = single.first.stdout == text_first_stdout;
    report.checks.push(Check::new(
        format!(
            "vg-filter --jobs=1 (one thread) and the default ({} threads here) write the same {}              bytes of JSON lines for the {} log.",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            report::thousands(text_first_stdout.len() as u64),
            mb(main.text_bytes)
        ),
        threads_agree,
    ));

    // Targets: issue 16's, each a ratio of two rows of this run.
    let floor_ratio = ratio(&text_row, &floor);
    let vs_floor = |row: &Row, r: Option<f64>| match r {
        Some(r) => format!(
            "{} ({} {}, grep {})",
            report::times(r),
            row.name,
            report::seconds(row.median().unwrap_or(0.0)),
            report::seconds(floor.median().unwrap_or(0.0))
        ),
        None => "n/a".into(),
    };
    report.targets.push(Target {
        goal: format!(
            "vg-filter --project (text) at most 1.0× the grep floor ({} log, every record \
             parsed)",
            mb(main.text_bytes)
        ),
        measured: vs_floor(&text_row, floor_ratio),
        met: floor_ratio.map(|r| r <= 1.0),
    });
    let supp_ratio = supp_row.as_ref().and_then(|row| ratio(row, &floor));
    report.targets.push(Target {
        goal: "vg-filter --project --suppressions (the shipped baseline) at most 1.5× the grep \
               floor"
            .into(),
        measured: match &supp_row {
            Some(row) => vs_floor(row, supp_ratio),
            None => "n/a (suppressions/python3.11.supp is missing)".into(),
        },
        met: supp_ratio.map(|r| r <= 1.5),
    });
    let xml_text = ratio(&xml_row, &text_row);
    report.targets.push(Target {
        goal: "vg-filter on the XML at most 2× its time on the same records as text".into(),
        measured: match xml_text {
            Some(r) => format!(
                "{} (XML {}, text {})",
                report::times(r),
                report::seconds(xml_row.median().unwrap_or(0.0)),
                report::seconds(text_row.median().unwrap_or(0.0))
            ),
            None => "n/a".into(),
        },
        met: xml_text.map(|r| r <= 2.0),
    });
    let vci_xml = ratio(&vci_row, &xml_row);
    report.targets.push(Target {
        goal: "vg-filter at least 50× faster than ValgrindCI on the same XML".into(),
        measured: match vci_xml {
            Some(r) => format!(
                "ValgrindCI takes {} vg-filter's time ({} against {})",
                report::times(r),
                report::seconds(vci_row.median().unwrap_or(0.0)),
                report::seconds(xml_row.median().unwrap_or(0.0))
            ),
            None => "not measured (see Left out)".into(),
        },
        met: vci_xml.map(|r| r >= 50.0),
    });
    let share = recipe_share(ctx, report)?;
    report.targets.push(share);

    report.rows.push(floor);
    report.rows.push(text_row.clone());
    report.rows.extend(supp_row);
    report.rows.push(small_row);
    report.rows.push(xml_row);
    report.rows.push(vci_row);

    // Quick mode's figures mean nothing, so a "miss" there is no reason to profile.
    let missed = |r: Option<f64>, bad: fn(f64) -> bool| !ctx.quick && r.is_some_and(bad);
    if ctx.profile || missed(floor_ratio, |r| r > 1.0) || missed(supp_ratio, |r| r > 1.5) {
        let profile_input = inputs::memcheck(
            &ctx.sh,
            &inputs_dir,
            &label(QUICK.vg_main),
            QUICK.vg_main,
            // With its XML, as quick mode makes it: the same stamp, so neither remakes it.
            true,
        )?;
        for (title, spec) in [
            (
                "vg-filter on the text log",
                Spec::new(&vg_filter)
                    .arg("--project=leaky")
                    .arg(&profile_input.text)
                    .ok(&[0, 1]),
            ),
            (
                "the grep floor on the same log",
                Spec::new(&grep)
                    .env("LC_ALL", "C")
                    .arg("-cE")
                    .arg(HEADER_RE)
                    .arg(&profile_input.text)
                    .ok(&[0, 1]),
            ),
        ] {
            match callgrind(ctx, title, &spec, profile_input.text_bytes, "input byte") {
                Ok(p) => report.profiles.push(p),
                Err(e) => report.skipped.push(format!("profile of {title}: {e:#}")),
            }
        }
    }
    if ctx.profile || missed(xml_text, |r| r > 2.0) || missed(vci_xml, |r| r < 50.0) {
        let largest = main
            .xml
            .iter()
            .filter_map(|p| Some((std::fs::metadata(p).ok()?.len(), p)))
            .max();
        if let Some((bytes, file)) = largest {
            let title = "vg-filter on one XML log";
            let spec = Spec::new(&vg_filter)
                .arg("--project=leaky")
                .arg(file)
                .ok(&[0, 1]);
            match callgrind(ctx, title, &spec, bytes, "input byte") {
                Ok(p) => report.profiles.push(p),
                Err(e) => report.skipped.push(format!("profile of {title}: {e:#}")),
            }
        }
    }
    Ok(())
}

/// vg-filter's share of a `memcheck` recipe's wall time: the recipe run on the bundled
/// example as `cargo xtask memcheck` runs it (valgrind on the example's defects, then
/// vg-filter on its logs), with the release tools; vg-filter's step is timed again as the
/// rows are.
fn recipe_share(ctx: &Ctx, report: &mut Report) -> anyhow::Result<Target> {
    let goal = "vg-filter under 1% of a memcheck recipe's wall time (the bundled example)";
    let not_measured = |why: String| Target {
        goal: goal.into(),
        measured: format!("not measured: {why}"),
        met: None,
    };
    if ctx.quick {
        report
            .skipped
            .push("the memcheck recipe's time: quick mode runs no recipe".into());
        return Ok(not_measured("quick mode".into()));
    }
    tools::use_bins_from(&ctx.bins);
    let opts = memcheck::Options {
        ws: Workspace::checkout(),
        task: "bench-memcheck".into(),
        ..memcheck::Options::default()
    };
    eprintln!("bench: the memcheck recipe on the bundled example");
    let o = match memcheck::memcheck(&opts) {
        Ok(o) => o,
        Err(e) => {
            report.skipped.push(format!("the memcheck recipe: {e:#}"));
            return Ok(not_measured(format!("{e:#}")));
        }
    };
    // The recipe timed its vg-filter step once; a 50 ms process timed once is at the mercy of
    // one hiccup of a shared machine (one run here took 0.8 s). The same step is timed again
    // as every other row is, and its median weighed against valgrind's run.
    let spec = Spec::new(ctx.bin("vg-filter")?)
        .args(&o.vg_filter_args)
        .ok(&[0, 1]);
    let filter = ctx
        .measure("vg-filter in the memcheck recipe", &spec)?
        .median();
    let run = o.valgrind_time.as_secs_f64();
    let share = filter / (run + filter);
    Ok(Target {
        goal: goal.into(),
        measured: format!(
            "{:.2}% (vg-filter {} of {}: {} logs, {} records)",
            share * 100.0,
            report::seconds(filter),
            report::seconds(run + filter),
            o.logs.len(),
            report::thousands(o.summary.records)
        ),
        met: Some(share < 0.01),
    })
}

/// Peak RSS of every run of vg-filter and bt-demangle, on every input, under 10 MB.
fn rss_target(report: &Report) -> Target {
    let ours = report.rows.iter().filter(|r| {
        r.role == Role::Ours
            && (r.name.starts_with("vg-filter") || r.name.starts_with("bt-demangle"))
    });
    let peaks: Vec<(u64, &str)> = ours
        .filter_map(|r| Some((r.max_rss_kib()?, r.name.as_str())))
        .collect();
    let largest = peaks.iter().max();
    Target {
        goal: "vg-filter's and bt-demangle's peak RSS under 10 MB on every input".into(),
        measured: match largest {
            Some((kib, name)) => format!(
                "at most {} ({name}), over {} runs",
                report::mib(*kib),
                peaks.len()
            ),
            None => "n/a (GNU time is missing: apt-get install time)".into(),
        },
        met: largest.map(|(kib, _)| kib * 1024 < 10_000_000),
    }
}

/// ValgrindCI on the XML files: its row, and the errors it counted under the source dir.
fn valgrindci(
    ctx: &Ctx,
    report: &mut Report,
    group: &str,
    main: &inputs::MemcheckInput,
) -> anyhow::Result<(Row, Option<u64>)> {
    let skipped = |why: String| Row {
        group: group.to_string(),
        name: "ValgrindCI (XML)".into(),
        role: Role::Peer,
        command: String::new(),
        figure: Figure::Skipped(why),
        throughput: None,
        ratio: None,
    };
    if ctx.quick {
        let why = "quick mode does not reach PyPI (the full bench installs ValgrindCI)";
        report.skipped.push(format!("ValgrindCI: {why}"));
        return Ok((skipped(why.into()), None));
    }
    if ctx.no_valgrindci {
        report
            .skipped
            .push("ValgrindCI: left out by --no-valgrindci".into());
        return Ok((skipped("--no-valgrindci".into()), None));
    }
    // A peer that cannot be installed or run leaves its row empty, not the whole bench.
    match valgrindci_run(ctx, group, main) {
        Ok((row, kept)) => Ok((row, Some(kept))),
        Err(e) => {
            let why = format!("{e:#}");
            report.skipped.push(format!("ValgrindCI: {why}"));
            Ok((skipped(why), None))
        }
    }
}

/// Installs (when needed) and times ValgrindCI; its row and the errors it counted.
fn valgrindci_run(
    ctx: &Ctx,
    group: &str,
    main: &inputs::MemcheckInput,
) -> anyhow::Result<(Row, u64)> {
    let python = valgrindci_venv(ctx)?;
    let driver = ctx.dir.join("valgrindci_driver.py");
    std::fs::write(&driver, VALGRINDCI_DRIVER)?;
    let list = ctx.dir.join("run").join("valgrindci-logs.txt");
    let lines: Vec<String> = main.xml.iter().map(|p| p.display().to_string()).collect();
    std::fs::write(&list, lines.join("\n") + "\n")?;
    let spec = Spec::new(&python)
        .arg(&driver)
        .arg(XML_SOURCE_DIR)
        .arg(&list)
        .keep_stdout();
    // Its modules are compiled to bytecode on first import: do that on one file, untimed.
    let warm_list = ctx.dir.join("run").join("valgrindci-warm.txt");
    std::fs::write(
        &warm_list,
        lines.first().cloned().unwrap_or_default() + "\n",
    )?;
    let warm = Spec::new(&python)
        .arg(&driver)
        .arg(XML_SOURCE_DIR)
        .arg(&warm_list);
    ctx.runner.run(&warm, false)?;
    let m = ctx
        .runner
        .measure("ValgrindCI", &spec, ctx.slow_runs, false)?;
    let kept: u64 = String::from_utf8_lossy(&m.first.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(" errors."))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum();
    let mut row = ctx.row(group, "ValgrindCI (XML)", Role::Peer, &spec, &m);
    row.command = format!(
        "{} (per file: valgrind-ci LOG --source-dir {XML_SOURCE_DIR} --number-of-errors --summary)",
        row.command
    );
    Ok((row, kept))
}

/// The venv `target/dbgpipe/venv-bench` with ValgrindCI; returns its python.
fn valgrindci_venv(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    let venv = repo_root()
        .join("target")
        .join("dbgpipe")
        .join("venv-bench");
    let python = venv.join("bin").join("python");
    let sh = &ctx.sh;
    let installed = |python: &Path| {
        cmd!(sh, "{python} -c 'import ValgrindCI'")
            .quiet()
            .ignore_stderr()
            .run()
            .is_ok()
    };
    if python.is_file() && installed(&python) {
        return Ok(python);
    }
    let system = tools::require("python3", "python3-venv")?;
    if !python.is_file() {
        eprintln!("bench: python3 -m venv {}", venv.display());
        cmd!(sh, "{system} -m venv {venv}")
            .quiet()
            .run()
            .context("cannot make the venv (apt-get install python3-venv)")?;
    }
    eprintln!("bench: pip install {VALGRINDCI} into {}", venv.display());
    tools::pip_install(&python, &[VALGRINDCI])?;
    if !installed(&python) {
        bail!("ValgrindCI does not import after pip install");
    }
    Ok(python)
}

/// bt-demangle against c++filt on mangled symbols and on a long gdb log.
fn bt(ctx: &Ctx, report: &mut Report) -> anyhow::Result<()> {
    let s = ctx.sizes;
    let inputs_dir = ctx.dir.join("inputs");
    std::fs::create_dir_all(&inputs_dir)?;
    let bt = ctx.bin("bt-demangle")?;
    let cppfilt = tools::require("c++filt", "binutils")?;
    let syms = inputs::symbols(&ctx.sh, &inputs_dir, s.symbols)?;
    report.inputs.push((
        ctx.short(&syms.path.display().to_string()),
        format!(
            "{} lines, {} distinct mangled C++ names (`_Z…`, symbol versions cut) from `nm` and \
             `nm -D` of: {}{}",
            report::thousands(syms.lines),
            report::thousands(syms.unique),
            syms.sources
                .iter()
                // A second name of a library read before (a symlink) adds nothing.
                .filter(|(_, n)| *n > 0)
                .map(|(lib, n)| format!("{lib} ({} new)", report::thousands(*n)))
                .collect::<Vec<_>>()
                .join(", "),
            if syms.unique < syms.lines {
                format!(
                    "; the libraries hold fewer distinct names than {}, so the list is \
                     repeated to that length",
                    report::thousands(syms.lines)
                )
            } else {
                String::new()
            }
        ),
    ));
    let group = format!(
        "bt-demangle: {} mangled symbols, one per line",
        report::thousands(syms.lines)
    );
    let plain = Spec::new(&cppfilt).stdin(&syms.path).keep_stdout();
    let m = ctx.measure("c++filt", &plain)?;
    let plain_out = m.first.stdout.clone();
    let mut plain_row = ctx.row(&group, "c++filt", Role::Peer, &plain, &m);
    plain_row.throughput = per_s(syms.lines, "symbols", m.median());

    let no_verbose = Spec::new(&cppfilt)
        .arg("-i")
        .stdin(&syms.path)
        .keep_stdout();
    let m = ctx.measure("c++filt -i", &no_verbose)?;
    let i_out = m.first.stdout.clone();
    let mut i_row = ctx.row(&group, "c++filt -i", Role::Peer, &no_verbose, &m);
    i_row.throughput = per_s(syms.lines, "symbols", m.median());

    let whole = Spec::new(&bt)
        .arg("--no-simplify")
        .stdin(&syms.path)
        .keep_stdout();
    let m = ctx.measure("bt-demangle --no-simplify", &whole)?;
    let bt_out = m.first.stdout.clone();
    let mut whole_row = ctx.row(&group, "bt-demangle --no-simplify", Role::Ours, &whole, &m);
    whole_row.throughput = per_s(syms.lines, "symbols", m.median());
    whole_row.ratio = ratio(&whole_row, &plain_row).map(|r| (r, "c++filt".to_string()));

    let simple = Spec::new(&bt).stdin(&syms.path);
    let m = ctx.measure("bt-demangle", &simple)?;
    let mut simple_row = ctx.row(&group, "bt-demangle (simplifying)", Role::Ours, &simple, &m);
    simple_row.throughput = per_s(syms.lines, "symbols", m.median());
    simple_row.ratio = ratio(&simple_row, &plain_row).map(|r| (r, "c++filt".to_string()));

    let same = |a: &[u8], b: &[u8]| {
        let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
        let same = a.lines().zip(b.lines()).filter(|(x, y)| x == y).count();
        (same as u64, a.lines().count().max(b.lines().count()) as u64)
    };
    let (si, ni) = same(&bt_out, &i_out);
    let (sp, np) = same(&bt_out, &plain_out);
    report.checks.push(Check::new(
        format!(
            "bt-demangle --no-simplify prints the same line as `c++filt -i` for {} of {} \
             symbols, and as plain `c++filt` for {} of {} (plain c++filt also prints \
             implementation details such as `[clone .cold]`-style suffixes in full).",
            report::thousands(si),
            report::thousands(ni),
            report::thousands(sp),
            report::thousands(np)
        ),
        ni > 0 && si == ni,
    ));

    let (r_plain, r_i) = (ratio(&whole_row, &plain_row), ratio(&whole_row, &i_row));
    let r_simple = ratio(&simple_row, &plain_row);
    report.targets.push(Target {
        goal: format!(
            "bt-demangle's default mode (demangling and simplifying every name) at most 1.0× \
             c++filt ({} symbols)",
            report::thousands(syms.lines)
        ),
        measured: match (r_simple, r_plain, r_i) {
            (Some(s), Some(p), Some(i)) => format!(
                "{} c++filt's time (--no-simplify, c++filt's own output: {} c++filt's, {} \
                 c++filt -i's)",
                report::times(s),
                report::times(p),
                report::times(i)
            ),
            _ => "n/a".into(),
        },
        met: r_simple.map(|s| s <= 1.0),
    });
    report
        .rows
        .extend([plain_row, i_row, whole_row.clone(), simple_row]);

    // A long gdb log.
    let gdb = inputs::gdb_log(&inputs_dir, s.gdb_frames)?;
    report.inputs.push((
        ctx.short(&gdb.path.display().to_string()),
        format!(
            "{} bytes, {} frames: the corpus's two complete gdb captures \
             (gdb/local_python_ctypes_hashtable.txt: CPython 3.11 calling C++ through ctypes, \
             `bt` and `thread apply all bt` of 2 threads; gdb/local_cpp_debuginfo.txt) taken in \
             turn {} times, addresses moved by 4 KiB per copy and LWP ids renumbered.",
            report::thousands(gdb.bytes),
            report::thousands(gdb.frames),
            gdb.sessions
        ),
    ));
    let group = format!(
        "bt-demangle: gdb log of {} frames",
        report::thousands(gdb.frames)
    );
    let cf = Spec::new(&cppfilt).stdin(&gdb.path);
    let m = ctx.measure("c++filt gdb log", &cf)?;
    let mut cf_row = ctx.row(
        &group,
        "c++filt (passes the text through)",
        Role::Peer,
        &cf,
        &m,
    );
    cf_row.throughput = per_s(gdb.frames, "frames", m.median());
    let text = Spec::new(&bt).stdin(&gdb.path);
    let m = ctx.measure("bt-demangle gdb log", &text)?;
    let mut text_row = ctx.row(&group, "bt-demangle (text report)", Role::Ours, &text, &m);
    text_row.throughput = per_s(gdb.frames, "frames", m.median());
    text_row.ratio = ratio(&text_row, &cf_row).map(|r| (r, "c++filt".to_string()));
    let jsonl = Spec::new(&bt)
        .arg("--format")
        .arg("jsonl")
        .stdin(&gdb.path)
        .keep_stdout();
    let m = ctx.measure("bt-demangle --format jsonl gdb log", &jsonl)?;
    let frames_read = records::parse::<BtDemangle>(
        "bt-demangle's output (gdb log)",
        &String::from_utf8_lossy(&m.first.stdout),
    )?
    .summary
    .frames;
    let mut json_row = ctx.row(&group, "bt-demangle --format jsonl", Role::Ours, &jsonl, &m);
    json_row.throughput = per_s(gdb.frames, "frames", m.median());
    json_row.ratio = ratio(&json_row, &cf_row).map(|r| (r, "c++filt".to_string()));
    report.checks.push(Check::new(
        format!(
            "The gdb log holds {} frame lines; bt-demangle's summary counts {} frames.",
            report::thousands(gdb.frames),
            report::thousands(frames_read)
        ),
        frames_read == gdb.frames,
    ));
    report.rows.extend([cf_row, text_row, json_row]);

    if ctx.profile
        || (!ctx.quick && (r_plain.is_some_and(|r| r > 1.0) || r_i.is_some_and(|r| r > 1.0)))
    {
        let n = 20_000.min(syms.lines);
        let slice = ctx.dir.join("run").join("symbols-profile.txt");
        let text = std::fs::read_to_string(&syms.path)?;
        let head: Vec<&str> = text.lines().take(n as usize).collect();
        std::fs::write(&slice, head.join("\n") + "\n")?;
        for (title, spec) in [
            (
                "bt-demangle --no-simplify on symbols",
                Spec::new(&bt).arg("--no-simplify").stdin(&slice),
            ),
            (
                "c++filt on the same symbols",
                Spec::new(&cppfilt).stdin(&slice),
            ),
        ] {
            match callgrind(ctx, title, &spec, n, "symbol") {
                Ok(p) => report.profiles.push(p),
                Err(e) => report.skipped.push(format!("profile of {title}: {e:#}")),
            }
        }
    }
    Ok(())
}

/// rss-rounds on many lines, and the harness's cost per round.
fn rss(ctx: &Ctx, report: &mut Report) -> anyhow::Result<()> {
    let s = ctx.sizes;
    let inputs_dir = ctx.dir.join("inputs");
    std::fs::create_dir_all(&inputs_dir)?;
    let rss_rounds = ctx.bin("rss-rounds")?;
    let grep = tools::require("grep", "grep")?;
    let (path, bytes) = inputs::rss_lines(&inputs_dir, s.rss_lines)?;
    report.inputs.push((
        ctx.short(&path.display().to_string()),
        format!(
            "{} lines, {} bytes of `Round N Max RSS: X`, as a leak-test script prints \
             `ru_maxrss / 1024`: 40 MiB growing steadily by 10 MiB over the run plus up to 63 KiB of \
             noise from a fixed linear congruential generator.",
            report::thousands(s.rss_lines),
            report::thousands(bytes)
        ),
    ));
    let group = format!(
        "rss-rounds: {} lines of `Round N Max RSS: X`",
        report::thousands(s.rss_lines)
    );
    let floor = Spec::new(&grep)
        .env("LC_ALL", "C")
        .arg("-c")
        .arg("Max RSS")
        .arg(&path)
        .ok(&[0, 1]);
    let m = ctx.measure("grep -c rss lines", &floor)?;
    let mut floor_row = ctx.row(&group, "grep -c 'Max RSS'", Role::Floor, &floor, &m);
    floor_row.throughput = per_s(s.rss_lines, "lines", m.median());
    let csv = Spec::new(&rss_rounds).arg(&path).ok(&[0, 1]);
    let m = ctx.measure("rss-rounds csv", &csv)?;
    let mut csv_row = ctx.row(
        &group,
        "rss-rounds (csv: a row per value, and the verdict)",
        Role::Ours,
        &csv,
        &m,
    );
    csv_row.throughput = per_s(s.rss_lines, "lines", m.median());
    csv_row.ratio = ratio(&csv_row, &floor_row).map(|r| (r, "grep".to_string()));
    let text = Spec::new(&rss_rounds)
        .arg("--format")
        .arg("text")
        .arg(&path)
        .ok(&[0, 1])
        .keep_stdout();
    let m = ctx.measure("rss-rounds text", &text)?;
    let verdict = String::from_utf8_lossy(&m.first.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    let mut text_row = ctx.row(
        &group,
        "rss-rounds --format text (the verdict only)",
        Role::Ours,
        &text,
        &m,
    );
    text_row.throughput = per_s(s.rss_lines, "lines", m.median());
    text_row.ratio = ratio(&text_row, &floor_row).map(|r| (r, "grep".to_string()));
    // The generated series grows by 10 MiB over the run: a leak, by construction.
    report.checks.push(Check::new(
        format!("rss-rounds on the rounds, which grow by construction: \"{verdict}\"."),
        verdict.starts_with("leak:"),
    ));
    report.rows.extend([floor_row, csv_row, text_row]);

    // The harness: an empty workload, at two round counts; the slope is the time per round.
    let python = example::debug_python()
        .or_else(|| tools::find_on_path("python3"))
        .context("no Python interpreter for the harness (apt-get install python3.11-dbg)")?;
    let module_dir = ctx.dir.join("run");
    std::fs::write(
        module_dir.join("bench_empty.py"),
        "def nothing():\n    \"\"\"The empty workload.\"\"\"\n",
    )?;
    let group = format!(
        "rss-rounds run: the harness on an empty workload ({})",
        python
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let (r1, r2) = s.harness_rounds;
    let mut medians = Vec::new();
    for rounds in [r1, r2] {
        let spec = Spec::new(&rss_rounds)
            .env("PYTHONPATH", &module_dir)
            .args(["run", "--python"])
            .arg(&python)
            .args(["--noise-rounds", "0", "--rounds"])
            .arg(rounds.to_string())
            .args(["--format", "text", "bench_empty:nothing"])
            .ok(&[0, 1]);
        let m = ctx.measure(&format!("rss-rounds run {rounds} rounds"), &spec)?;
        medians.push(m.median());
        let mut row = ctx.row(
            &group,
            &format!("rss-rounds run, {rounds} rounds"),
            Role::Ours,
            &spec,
            &m,
        );
        row.throughput = per_s(rounds, "rounds", m.median());
        report.rows.push(row);
    }
    let per_round = (medians[1] - medians[0]) / (r2 - r1) as f64;
    let fixed = medians[0] - per_round * r1 as f64;
    report.rows.push(Row {
        group,
        name: "per round (slope between the two)".into(),
        role: Role::Ours,
        command: String::new(),
        figure: Figure::Derived(format!(
            "{:.3} ms/round, + {} fixed",
            per_round * 1e3,
            report::seconds(fixed.max(0.0))
        )),
        throughput: None,
        ratio: None,
    });
    Ok(())
}

/// Profiles one command with callgrind: instructions in all, per unit, the top functions by
/// self cost, dbgpipe's own functions by inclusive cost, and what the known hot spots mean.
fn callgrind(
    ctx: &Ctx,
    title: &str,
    spec: &Spec,
    units: u64,
    unit: &str,
) -> anyhow::Result<Profile> {
    let valgrind = tools::require("valgrind", "valgrind")?;
    let annotate = tools::require("callgrind_annotate", "valgrind")?;
    let out = ctx.dir.join("run").join("callgrind.out");
    let mut wrapped = spec.clone();
    wrapped.program = valgrind;
    wrapped.args = [
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}", out.display()).into(),
        spec.program.clone().into_os_string(),
    ]
    .into_iter()
    .chain(spec.args.iter().cloned())
    .collect();
    eprintln!("  bench: callgrind {title}");
    let bare = Runner {
        timer: None,
        scratch: ctx.runner.scratch.clone(),
    };
    bare.run(&wrapped, false)?;
    // callgrind_annotate's Perl warns about empty cost lines of stripped binaries: noise.
    let self_text = cmd!(ctx.sh, "{annotate} {out}")
        .quiet()
        .ignore_stderr()
        .read()?;
    let inclusive_text = cmd!(ctx.sh, "{annotate} --inclusive=yes {out}")
        .quiet()
        .ignore_stderr()
        .read()?;
    let (total, top) = parse_annotate(&self_text, 12, |_, _| true);
    let total = total.context("callgrind_annotate printed no total")?;
    // dbgpipe's own functions, without the wrappers that contain everything.
    let (_, inclusive) = parse_annotate(&inclusive_text, 8, |pct, f| {
        f.contains("dbgpipe_core::") && pct < 95.0
    });
    let notes = HOT_SPOTS
        .iter()
        .filter(|(needle, _)| {
            inclusive.iter().any(|(pct, f)| {
                f.contains(needle)
                    && pct.trim_end_matches('%').parse::<f64>().unwrap_or(0.0) >= 10.0
            })
        })
        .map(|(needle, why)| format!("`{needle}`: {why}"))
        .collect();
    Ok(Profile {
        title: title.to_string(),
        command: spec.display(&|s| ctx.short(s)),
        summary: format!(
            "{} instructions, {:.1} per {unit} ({} {unit}s)",
            report::thousands(total),
            total as f64 / units.max(1) as f64,
            report::thousands(units)
        ),
        top,
        inclusive,
        notes,
    })
}

/// What the known hot spots of dbgpipe's own code are, for the report of a missed target:
/// each is said only when the profile shows it at 10% or more.
const HOT_SPOTS: &[(&str, &str)] = &[
    (
        "project::Project::frame_matches",
        "`--project` matching (bins/core/src/project.rs) clones each frame's object and file \
         paths to compare them (two or three allocations per frame of every record); comparing \
         borrowed `&str`s, joining dir and file only when both are given, removes them",
    ),
    (
        "drop_in_place<dbgpipe_core::memcheck::Record>",
        "freeing the records that are not the project's: every frame holds up to five \
         `String`s (`Frame`'s `Option<String>` fields, bins/core/src/frame.rs), allocated by \
         the parser and freed here",
    ),
    (
        "xml::LineCounter",
        "quick-xml asks its reader for the buffer about twice per event (some 2.5 million \
         calls per 23 MB), and each call goes through the line counter, then `Box<dyn BufRead>` \
         (bins/core/src/cli.rs) to the file's `BufReader`",
    ),
    (
        "suppressions::",
        "matching every record against every suppression entry (bins/core/src/memcheck/suppressions.rs)",
    ),
];

/// `callgrind_annotate`'s total and its first `max` functions that `keep` (percent,
/// function) accepts: (percent, function), each function once.
fn parse_annotate(
    text: &str,
    max: usize,
    keep: impl Fn(f64, &str) -> bool,
) -> (Option<u64>, Vec<(String, String)>) {
    let number = |s: &str| s.replace(',', "").trim().parse::<u64>().ok();
    let mut total = None;
    let mut top: Vec<(String, String)> = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.contains("PROGRAM TOTALS") {
            total = line.split_whitespace().next().and_then(number);
            continue;
        }
        if line.contains("file:function") {
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with('-') {
            continue;
        }
        if line.trim().is_empty() {
            if !top.is_empty() {
                break;
            }
            continue;
        }
        // `42,145,194 ( 9.05%)  /path/to/file.rs:function [/obj]`
        let Some((cost, rest)) = line.split_once(")  ") else {
            continue;
        };
        let pct = cost
            .split_once('(')
            .map(|(_, p)| p.trim().to_string())
            .unwrap_or_default();
        let value = pct.trim_end_matches('%').parse::<f64>().unwrap_or(0.0);
        let rest = match rest.rfind(" [") {
            Some(i) if rest.ends_with(']') => &rest[..i],
            _ => rest,
        };
        let func = rest.split_once(':').map_or(rest, |(_, f)| f);
        let func: String = if func.chars().count() > 110 {
            func.chars().take(109).chain(['…']).collect()
        } else {
            func.to_string()
        };
        if !keep(value, &func) || top.iter().any(|(_, f)| *f == func) {
            continue;
        }
        top.push((pct, func));
        if top.len() == max {
            break;
        }
    }
    (total, top)
}

/// How the runs were made.
fn method(ctx: &Ctx) -> Vec<String> {
    let mut m = vec![
        format!(
            "Each command ran {} time(s){}; the table gives the median wall-clock time from \
             spawn to exit (a monotonic clock in the bench process), the fastest and slowest \
             run, and the largest peak RSS of any run (`ru_maxrss`, from GNU time's `-f %M`).",
            ctx.runs,
            if ctx.warmup {
                " after one untimed warm-up run (so every input is in the page cache)"
            } else {
                ", without a warm-up run"
            }
        ),
        "Standard output and error are read through pipes and dropped, as the next tool in a \
         pipeline would read them (GNU grep stops at the first match when its output is \
         /dev/null, so a file or /dev/null would not do)."
            .into(),
        format!(
            "All commands run one at a time, in `target/dbgpipe/bench/run/`, on the tools in \
             `{}`{}.",
            ctx.short(&ctx.bins.display().to_string()),
            if ctx.bins.ends_with("release") {
                " (`cargo build --release`; the release profile keeps line tables for profiles)"
            } else {
                ""
            }
        ),
        "Inputs are made by the bench from real captures and cached under \
         `target/dbgpipe/bench/inputs/` with a stamp of their sources, size and generator \
         version; a rerun reuses them."
            .into(),
    ];
    if !ctx.quick {
        m.push(format!(
            "ValgrindCI ran {} time(s), after an untimed run on one file that compiles its \
             modules: at this size a run takes minutes.",
            ctx.slow_runs
        ));
    }
    m
}

/// What limits each figure.
fn limits(ctx: &Ctx) -> Vec<String> {
    let mut l = vec![
        "The machine is a shared virtual machine with 2 cores; the run-to-run spread is in the \
         min–max column. The runs of the commands a vg-filter target compares (grep, vg-filter \
         on the text, on the XML, with the suppressions) take turns, one of each after the \
         other, so that a drift of the machine's speed slows them alike; other ratios compare \
         runs made minutes apart in the same bench."
            .into(),
        "Inputs are read from the page cache (they were just written or read), so the times are \
         CPU time, not disk time: on a cold cache every tool waits for the disk alike."
            .into(),
        "vg-filter vs grep: grep only counts header lines (the floor of any tool that reads the \
         whole log); vg-filter parses every line into records with their frames, matches each \
         frame against --project, merges and writes the records it keeps."
            .into(),
        "vg-filter vs ValgrindCI: both read the records of the same processes; ValgrindCI \
         only reads XML (the DOM of each file, with ElementTree), vg-filter reads either. \
         ValgrindCI runs as `valgrind-ci LOG --source-dir /opt/example/gen --number-of-errors \
         --summary` per file (its main(), called in one interpreter, which spares it ~0.2 s of \
         start-up per file). Valgrind writes one XML document per process; all of them in one \
         document would not fit ValgrindCI's DOM in memory."
            .into(),
        "bt-demangle vs c++filt: the same symbols on standard input, demangled output on \
         standard output. `--no-simplify` writes what c++filt -i writes; the default also \
         rewrites every name (std::string, default template arguments, depth folding), which \
         c++filt does not do. c++filt writes each line as it goes; both are drained by a pipe."
            .into(),
        "gdb log: c++filt only passes gdb's already demangled text through, so it is a floor \
         for reading the log, not a peer doing the same work."
            .into(),
        "rss-rounds: the csv row writes one row per value; --format text writes only \
         the verdict, so the difference between the two is mostly output. rss-rounds keeps \
         the values in memory for the trend tests, up to its caps (the cross-check above says \
         how many were dropped over them), so its peak RSS grows with the lines."
            .into(),
        "The harness: per-round time is the slope between two round counts, so the \
         interpreter's start-up and the analysis cancel out; each round calls the workload, \
         runs gc.collect() and reads four counters. By default `rss-rounds run` also measures \
         as many noise rounds, so a default run costs twice the rounds."
            .into(),
    ];
    if ctx.runner.timer.is_none() {
        l.push(
            "GNU time was not found, so no peak RSS was measured (apt-get install time).".into(),
        );
    }
    l
}

/// The first three fields of `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Cores, CPU, memory, kernel, OS.
fn machine() -> Vec<(String, String)> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let mem = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    vec![
        ("cores".into(), cores),
        ("CPU".into(), model),
        ("memory".into(), mem),
        (
            "kernel".into(),
            read("/proc/sys/kernel/osrelease").trim().to_string(),
        ),
        ("OS".into(), os),
    ]
}

/// The first line of `PROGRAM --version` (or of `ARGS`), or `not found`.
fn version_of(sh: &Shell, program: &Path, args: &[&str]) -> String {
    cmd!(sh, "{program} {args...}")
        .quiet()
        .ignore_status()
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| "not found".into())
}

fn versions(ctx: &Ctx, report: &Report) -> Vec<(String, String)> {
    let sh = &ctx.sh;
    let mut v = Vec::new();
    for tool in ["vg-filter", "bt-demangle", "rss-rounds"] {
        if let Ok(p) = ctx.bin(tool) {
            v.push((
                tool.to_string(),
                format!(
                    "{} ({})",
                    version_of(sh, &p, &["--version"]),
                    ctx.short(&p.display().to_string())
                ),
            ));
        }
    }
    v.push((
        "rustc".into(),
        version_of(sh, Path::new("rustc"), &["--version"]),
    ));
    for (name, args) in [
        ("grep", &["--version"][..]),
        ("c++filt", &["--version"][..]),
        ("nm", &["--version"][..]),
        ("GNU time", &["--version"][..]),
        ("valgrind", &["--version"][..]),
    ] {
        let program = if name == "GNU time" {
            ctx.runner.timer.clone()
        } else {
            tools::find_on_path(name)
        };
        if let Some(p) = program {
            let mut line = version_of(sh, &p, args);
            // Debian's GNU time says "UNKNOWN"; its package knows.
            if name == "GNU time" && line.contains("UNKNOWN") {
                // xshell would read `{Version}` as a variable: pass the format as one.
                let format = "${Version}";
                let package = cmd!(sh, "dpkg-query -W -f {format} time")
                    .quiet()
                    .ignore_stderr()
                    .read()
                    .unwrap_or_default();
                if !package.is_empty() {
                    line = format!("GNU time, Debian package time {package}");
                }
            }
            v.push((name.to_string(), line));
        }
    }
    if let Some(py) = example::debug_python().or_else(|| tools::find_on_path("python3")) {
        v.push((
            "harness interpreter".into(),
            format!("{} ({})", version_of(sh, &py, &["--version"]), py.display()),
        ));
    }
    let venv_python = repo_root()
        .join("target")
        .join("dbgpipe")
        .join("venv-bench")
        .join("bin")
        .join("python");
    let measured_vci = report
        .rows
        .iter()
        .any(|r| r.role == Role::Peer && r.name.starts_with("ValgrindCI") && r.median().is_some());
    if measured_vci && venv_python.is_file() {
        v.push((
            "ValgrindCI".into(),
            version_of(
                sh,
                &venv_python,
                &[
                    "-c",
                    "import sys, ValgrindCI; print('ValgrindCI', ValgrindCI.__version__, 'on Python', sys.version.split()[0])",
                ],
            ),
        ));
    }
    v
}

/// `cargo xtask bench`.
pub fn run(flags: flags::Bench) -> anyhow::Result<Status> {
    let opts = Options {
        quick: flags.quick,
        runs: flags.runs,
        only: flags.only,
        out: flags.out,
        no_valgrindci: flags.no_valgrindci,
        profile: flags.profile,
        bins: flags.bins,
    };
    let outcome = bench(&opts)?;
    tools::print(&outcome.report.table())?;
    eprintln!("bench: wrote {}", outcome.written.display());
    let disagreeing: Vec<&Check> = outcome.report.checks.iter().filter(|c| !c.agrees).collect();
    for c in &disagreeing {
        eprintln!("bench: DISAGREES: {}", c.text);
    }
    Ok(Status::findings_if(!disagreeing.is_empty()))
}
