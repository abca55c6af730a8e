//! `cargo xtask massif [MODULE:FN]... [-- CMD…]`: the heap over time, Valgrind's Massif read by
//! rss-rounds.
//!
//! The manual recipe is `valgrind --tool=massif CMD`, then `ms_print massif.out.<pid>` and a
//! look at the graph and at the trees of the detailed snapshots: does the heap grow, and
//! under which functions? Massif counts the program's own heap bytes, without the allocator's
//! caching and the page-level noise of RSS, so a leak of tens of bytes a round, which RSS
//! cannot show, is in its numbers. rss-rounds judges the heap series and every allocation
//! stack of the detailed trees, and names the sites that grow.
//!
//! Two ways to run:
//! - `MODULE:FN` (and, in this checkout without one, the example's `leak_definite` and
//!   `clean`): rss-rounds' harness calls the function in rounds under Massif and asks Massif
//!   for a detailed snapshot at the end of each round (a client request), so snapshot N is
//!   round N; the snapshots are combined into `<MODULE.FN>.massif.out`;
//! - `-- CMD`: the command under Massif, one file per process; its snapshots are Massif's
//!   own, evenly spaced in time, and the rounds are snapshots (start-up is growth too: judge a
//!   long-running workload).
//!
//! Leaves in `OUT/massif/`: per run its Massif file, `.jsonl` (rss-rounds' rounds, sites,
//! verdicts and summary) and `.svg`. Exit status: 0 nothing grows, 1 a run leaks, 2 the
//! recipe could not run.

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::example;
use super::flags;
use super::place::{self, PlaceOpts};
use super::records::{
    self, GrowingSite, MassifRecord, RoundsSummary, RssRoundsMassif, SeriesVerdict, Verdict,
};
use super::tools;
use super::{Status, Workspace};
use crate::rounds::{harness, massif};

/// The example's functions judged when nothing is given: the 64-byte leak, the clean twin.
pub const DEFAULT_FUNCTIONS: &[&str] = &["leak_definite", "clean"];

/// Measured rounds by default: at one call a round, enough for a 64 B/round leak to pass
/// the default threshold of a debug interpreter's 4 MB heap (0.1 %) within the first third.
pub const DEFAULT_ROUNDS: u32 = 200;

/// Calls per round by default.
pub const DEFAULT_CALLS: u32 = 1;

/// Massif's `--threshold` by default, in percent of the heap: callers below it are summed
/// into one line of the trees and cannot be named. Massif's own default, 1 %, hides a
/// 64-byte leak of a debug interpreter for 600 rounds; lower costs larger trees.
pub const DEFAULT_THRESHOLD: f64 = 0.1;

/// Unmeasured calls before the rounds.
const WARMUP_CALLS: u32 = 10;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project (first on PYTHONPATH, its frames the project's), where the files go.
    pub ws: Workspace,
    /// Here, or in the image.
    pub place: PlaceOpts,
    /// The interpreter of the harness.
    pub python: Option<PathBuf>,
    /// `MODULE:FN` workloads.
    pub targets: Vec<String>,
    /// The command, instead of workloads.
    pub command: Vec<String>,
    /// Measured rounds.
    pub rounds: u32,
    /// Calls per round.
    pub calls: u32,
    /// Massif's `--threshold`.
    pub threshold: f64,
    /// More of the project's code (`--project=PATTERN`).
    pub patterns: Vec<String>,
    /// Output directory name under the workspace's `out`.
    pub task: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ws: Workspace::default(),
            place: PlaceOpts::default(),
            python: None,
            targets: Vec::new(),
            command: Vec::new(),
            rounds: DEFAULT_ROUNDS,
            calls: DEFAULT_CALLS,
            threshold: DEFAULT_THRESHOLD,
            patterns: Vec::new(),
            task: "massif".into(),
        }
    }
}

/// One Massif file, judged.
#[derive(Debug, Clone)]
pub struct Judged {
    /// `MODULE:FN`, or the Massif file's name for a command.
    pub name: String,
    /// The Massif file.
    pub massif: PathBuf,
    /// rss-rounds' JSON lines.
    pub jsonl: PathBuf,
    /// The plot.
    pub plot: PathBuf,
    /// One per series.
    pub verdicts: Vec<SeriesVerdict>,
    /// The growing allocation sites, largest growth first.
    pub sites: Vec<GrowingSite>,
    /// The summary.
    pub summary: RoundsSummary,
}

impl Judged {
    /// Whether rss-rounds judged it leaking.
    pub fn leaks(&self) -> bool {
        self.summary.verdict == Verdict::Leak
    }

    /// The verdict of one series (`heap_b`, `site:…`).
    pub fn series(&self, name: &str) -> Option<&SeriesVerdict> {
        self.verdicts.iter().find(|v| v.series == name)
    }
}

/// What a run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// `OUT/<task>/`.
    pub dir: PathBuf,
    /// Where Massif ran.
    pub place: String,
    /// One per Massif file.
    pub judged: Vec<Judged>,
}

impl Outcome {
    /// Findings when a run leaks.
    pub fn status(&self) -> Status {
        Status::findings_if(self.judged.iter().any(Judged::leaks))
    }

    /// The run of `name` (`MODULE:FN`, or a bare function of the example).
    pub fn get(&self, name: &str) -> Option<&Judged> {
        self.judged
            .iter()
            .find(|j| j.name == name || j.name.rsplit(':').next() == Some(name))
    }
}

/// Runs the recipe.
pub fn massif(opts: &Options) -> anyhow::Result<Outcome> {
    if !opts.targets.is_empty() && !opts.command.is_empty() {
        bail!("give MODULE:FN workloads or a command after `--`, not both");
    }
    let host_python = opts.python.clone().unwrap_or_else(place::debug_python);
    let on_example = opts.targets.is_empty() && opts.command.is_empty();
    if on_example && !opts.ws.bundled_example {
        bail!(
            "nothing to run: name functions as MODULE:FN (e.g. dbgpipe massif \
             mypkg.tests:roundtrip) or give a command after `--`"
        );
    }
    let mut needs = vec![place::need_program("valgrind", "valgrind")];
    needs.push(match opts.command.first() {
        Some(program) => place::need_command(program),
        None if on_example => place::need_example(&host_python, false),
        None => place::need_program(&host_python.display().to_string(), "python3.11-dbg"),
    });
    let place = place::choose("massif", &needs, &opts.place, &opts.ws)?;
    let dir = opts.ws.recipe_dir(&opts.task)?;
    let root = if on_example {
        example::repo_root()
    } else {
        opts.ws.root.clone()
    };
    let valgrind = |out_file: &str| -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![
            "valgrind".into(),
            "--tool=massif".into(),
            // Without its banner: the harness's command line is the whole script.
            "-q".into(),
            "--time-unit=i".into(),
            format!("--threshold={}", opts.threshold).into(),
            // Full source paths, so that the project's frames are told by where they lie.
            "--fullpath-after=".into(),
            format!("--massif-out-file={}", dir.join(out_file).display()).into(),
        ];
        if !opts.command.is_empty() {
            // Every snapshot detailed: the sites are judged on the detailed ones.
            argv.extend(["--detailed-freq=1".into(), "--trace-children=yes".into()]);
        }
        argv
    };
    let mut env: Vec<(String, OsString)> = vec![("PYTHONMALLOC".into(), "malloc".into())];
    let mut files = Vec::new();
    if opts.command.is_empty() {
        let python = place.debug_python(opts.python.as_deref());
        let (path, targets) = if on_example {
            let ex = place.example(&python)?;
            let targets = DEFAULT_FUNCTIONS
                .iter()
                .map(|f| format!("{}:{f}", example::MODULE))
                .collect();
            (ex.dir.into_os_string(), targets)
        } else {
            (opts.ws.root.clone().into_os_string(), opts.targets.clone())
        };
        let mut path = path;
        if let Some(old) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(old);
        }
        env.push(("PYTHONPATH".into(), path));
        // A file rather than `python -c SCRIPT`: Massif writes the command line into its
        // file as it is, and ms_print reads a `cmd:` of one line only.
        let script = dir.join("rss-rounds-harness.py");
        std::fs::write(&script, harness::HARNESS)
            .with_context(|| format!("cannot write {}", script.display()))?;
        for target in &targets {
            let name = file_name(target);
            let prefix = dir.join(format!("{name}.round"));
            let mut argv = valgrind(&format!("{name}.whole.massif.out"));
            argv.extend([
                python.clone().into_os_string(),
                script.clone().into_os_string(),
                target.into(),
                opts.rounds.to_string().into(),
                opts.calls.to_string().into(),
                WARMUP_CALLS.to_string().into(),
                // No noise rounds: Massif's series are not the harness's deltas.
                "0".into(),
                prefix.clone().into_os_string(),
            ]);
            let protocol = dir.join(format!("{name}.harness.txt"));
            let out = std::fs::File::create(&protocol)
                .with_context(|| format!("cannot create {}", protocol.display()))?;
            let mut command = place.command(&argv, &env, false)?;
            command.stdout(out).stderr(Stdio::inherit());
            eprintln!(
                "massif: valgrind --tool=massif, rss-rounds' harness on {target} ({} rounds x {} \
                 calls, a detailed snapshot per round, {})",
                opts.rounds,
                opts.calls,
                place.describe()
            );
            let watched = dir.clone();
            let status = tools::run_with_progress(
                "valgrind",
                command,
                &|| tools::size_of_logs(&watched, &format!("{name}.round.")),
                Duration::from_secs(10),
            )?;
            tools::check_ran("valgrind", place.is_image(), &status)?;
            let text = std::fs::read_to_string(&protocol).unwrap_or_default();
            if let Some(error) = text
                .lines()
                .find_map(|l| l.strip_prefix("@rss-rounds error "))
            {
                bail!("the harness failed on {target}: {error}");
            }
            if !text.lines().any(|l| l == "@rss-rounds end") {
                bail!("the harness did not finish {target} under Massif ({status}); its output is above");
            }
            let mut parts = tools::files_starting(&dir, &format!("{name}.round."));
            parts.sort();
            let combined = dir.join(format!("{name}.massif.out"));
            massif::combine(&parts, &combined)
                .with_context(|| format!("combining the snapshots of {target}"))?;
            for part in &parts {
                let _ = std::fs::remove_file(part);
            }
            files.push((target.clone(), combined));
        }
    } else {
        let mut argv = valgrind("massif.out.%p");
        argv.extend(opts.command.iter().map(Into::into));
        let mut command = place.command(&argv, &env, false)?;
        command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        eprintln!(
            "massif: valgrind --tool=massif {} ({})",
            opts.command.join(" "),
            place.describe()
        );
        let watched = dir.clone();
        let status = tools::run_with_progress(
            "valgrind",
            command,
            &|| tools::size_of_logs(&watched, "massif.out."),
            Duration::from_secs(10),
        )?;
        tools::check_ran("valgrind", place.is_image(), &status)?;
        eprintln!("massif: the program exited with {status}");
        let mut found = tools::files_starting(&dir, "massif.out.");
        found.sort();
        if found.is_empty() {
            bail!("Massif wrote no massif.out file into {}", dir.display());
        }
        for file in found {
            let name = file
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            files.push((name, file));
        }
    }
    let mut judged = Vec::new();
    for (name, file) in files {
        judged.push(judge(&name, &file, &dir, &root, &opts.patterns)?);
    }
    Ok(Outcome {
        dir,
        place: place.describe(),
        judged,
    })
}

/// rss-rounds on one Massif file, here (the file is in the output directory).
fn judge(
    name: &str,
    file: &Path,
    dir: &Path,
    root: &Path,
    patterns: &[String],
) -> anyhow::Result<Judged> {
    let base = file_name(name);
    let base = base.strip_suffix(".massif.out").unwrap_or(&base);
    let jsonl = dir.join(format!("{base}.jsonl"));
    let plot = dir.join(format!("{base}.svg"));
    let out = std::fs::File::create(&jsonl)
        .with_context(|| format!("cannot create {}", jsonl.display()))?;
    let mut command = std::process::Command::new(tools::bin("rss-rounds")?);
    command
        .args(["--format", "jsonl", "--plot"])
        .arg(&plot)
        .arg("--root")
        .arg(root)
        .args(patterns.iter().map(|p| format!("--project={p}")))
        .arg(file)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::inherit());
    let status = command.status().context("cannot run rss-rounds")?;
    let code = tools::code_of(&status);
    if code > 1 {
        bail!(
            "rss-rounds failed on {} (exit status {code}); its message is above",
            file.display()
        );
    }
    let output = records::read::<RssRoundsMassif>(&jsonl)?;
    let mut verdicts = Vec::new();
    let mut sites = Vec::new();
    for record in output.records {
        match record {
            MassifRecord::Verdict(v) => verdicts.push(v),
            MassifRecord::Site(s) => sites.push(s),
        }
    }
    Ok(Judged {
        name: name.to_string(),
        massif: file.to_path_buf(),
        jsonl,
        plot,
        verdicts,
        sites,
        summary: output.summary,
    })
}

/// `MODULE:FN` as a file name.
fn file_name(target: &str) -> String {
    target
        .chars()
        .map(|c| if c == '/' || c == ':' { '.' } else { c })
        .collect()
}

/// A site as the report shows it: `leak_definite (dbgpipe_example.c:50) +64 B/round`.
fn site_text(site: &GrowingSite) -> String {
    let named = match site.frame() {
        Some(f) => {
            let function = f.function.as_deref().unwrap_or("???");
            match (&f.file, f.line) {
                (Some(file), Some(line)) => {
                    let file = file.rsplit('/').next().unwrap_or(file);
                    format!("{function} ({file}:{line})")
                }
                _ => function.to_string(),
            }
        }
        None => site.series.clone(),
    };
    format!(
        "{named} {} B/round",
        crate::rounds::trend::fmt_signed(site.growth_per_round)
    )
}

/// The short human summary: a line per run (LEAK and its growing sites, the heap's growth),
/// the files.
pub fn report(o: &Outcome) -> String {
    let mut s = String::new();
    let width = o.judged.iter().map(|j| j.name.len()).max().unwrap_or(0);
    for j in &o.judged {
        let heap = j.series(massif::HEAP).and_then(|v| {
            let g = v.growth_per_round?;
            Some(format!(
                "heap {} B/round{}",
                crate::rounds::trend::fmt_signed(g),
                if v.verdict == Verdict::Leak {
                    ", LEAK"
                } else {
                    ""
                }
            ))
        });
        let verdict = match j.summary.verdict {
            Verdict::Leak => {
                let mut what: Vec<String> = j.sites.iter().map(site_text).collect();
                what.extend(heap);
                format!("LEAK     {}", what.join("; "))
            }
            // The heap's growth of a clean run is noise around 0, not worth a line.
            Verdict::NoLeak => "no leak".to_string(),
            other => other.as_str().to_string(),
        };
        s.push_str(&format!("  {:<width$}  {verdict}\n", j.name));
    }
    let leaks = o.judged.iter().filter(|j| j.leaks()).count();
    s.push_str(&format!(
        "massif: {leaks} of {} run(s) leak ({})\n",
        o.judged.len(),
        o.place
    ));
    for j in &o.judged {
        s.push_str(&format!(
            "massif: {} (ms_print reads it), {} and {}\n",
            j.massif.display(),
            j.jsonl.display(),
            j.plot.display()
        ));
    }
    s
}

/// `dbgpipe massif`, in `ws`.
pub fn run(flags: flags::Massif, ws: Workspace) -> anyhow::Result<Status> {
    let opts = Options {
        ws,
        place: flags.place,
        python: flags.python.path,
        targets: flags.targets,
        command: flags.command.argv,
        rounds: flags.rounds,
        calls: flags.calls,
        threshold: flags.threshold,
        patterns: flags.project.patterns,
        ..Options::default()
    };
    let o = massif(&opts)?;
    tools::print(&report(&o))?;
    Ok(o.status())
}
