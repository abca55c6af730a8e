//! rss-rounds: rounds of RSS and reference counts in, a leak verdict per series out; and a
//! harness and a sampler that produce such rounds.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use dbgpipe_core::cli::{self, Outcome, ProjectArgs};
use dbgpipe_core::output::Format;
use dbgpipe_core::rounds::filter::{self, Baseline, Filter, Options};
use dbgpipe_core::rounds::harness::{self, RunOptions, Target};
use dbgpipe_core::rounds::lines::{Pattern, MAX_RSS, REFERENCES};
use dbgpipe_core::rounds::plot;
use dbgpipe_core::rounds::print;
use dbgpipe_core::rounds::trend::{Config, Kind, Warmup};
use dbgpipe_core::rounds::watch::{self, WatchOptions};
use dbgpipe_core::Error;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const AFTER_HELP: &str = "\
INPUT (rss-rounds [LOG...]):
  Round 250 Max RSS: 41.9453125   series max_rss_mib, a level (MiB; ru_maxrss / 1024 on Linux)
  References: 2                   series references, a per-round delta of sys.gettotalrefcount()
  anything --pattern REGEX matches, with named groups value (required), round and series;
  rss-rounds' own CSV rows and JSON lines (so a saved report can be judged again, converted
  to another format, or be a --baseline; its baseline records set the series' baselines).
  Other lines are counted (unmatched) and passed over; records of other tools are passed on
  in jsonl. A line without a round number takes the next number of its series. An input in
  which no line is recognised gets a one-line hint on stderr; an executable or binary data
  is refused.

MASSIF FILES (rss-rounds massif.out.1234; one per run):
  An input that starts with `desc:` is Valgrind Massif's output. Its snapshots are ordered
  samples: the round of a snapshot's values is its number (snapshot=N). Massif keeps its
  snapshots evenly spaced on its time axis (--time-unit i, ms or B), so a round is a snapshot
  interval; a workload that asks Massif for a snapshot at the end of each round (the massif
  recipe's harness does, through a client request) makes snapshot N round N. Series, levels
  in bytes: heap_b (mem_heap_B, the useful heap), heap_extra_b (mem_heap_extra_B) and, with
  --stacks=yes, stacks_b. Every node of the detailed snapshots' trees (an allocation stack)
  is judged too, at --alpha divided by the number of stacks whose bytes changed; the deepest
  growing ones are named by their site frame (the first under --root or matching --project,
  else of a third-party library, else the first that is not an allocator), summed per site
  into series site:FUNCTION:FILE:LINE, and described by `site` records whose frames are
  classed project/python/system/unknown as bt-demangle classes them (at most 10, the largest
  growth first). ms_print's report is not read: give the massif.out file it read. Only the
  callers Massif writes are seen: one below its --threshold is summed into `in N places`.

THE VERDICT, per series (the rules in full: `cargo doc`, dbgpipe_core::rounds::trend):
  The series is judged as a net level: a delta series as the running sum of (delta - baseline),
  a level less baseline x rounds. With no baseline, a delta series that is a constant 2 is a
  leak of 2 per round: give the harness's noise with --baseline (run measures it itself).
  1. the first --warmup points are dropped (default 20%);
  2. the rest is grouped into at most 1000 bins of consecutive points (their medians);
  3. a single jump (two flat segments fit at least twice as well as a line, --step-ratio) is
     a late warm-up: only the side after it (or before, if too short) is judged;
  4. Mann-Kendall, one-sided, ties and autocorrelation (Hamed-Rao 1998) accounted for, and
     for a delta series also the Wilcoxon signed-rank test on the sums of 30 consecutive
     batches of net deltas (valid when the running sum is a random walk): the larger
     p < --alpha (0.01) is a significant upward trend;
  5. Theil-Sen slope: growth per round and per 1000 rounds, with Sen's interval;
  6. the last half must still grow: the upper end of its slope's interval must reach
     --late-ratio (0.5) of the whole slope (a saturating warm-up does not);
  7. large enough: growth over the judged rounds >= --min-growth (1) % of the median level
     (level series), or >= --min-total (1) units (delta series).
  Leak when 4-7 hold; insufficient below --min-points (10) judged points. The legacy
  half-point percentage (middle point to last, raw, leak above 2%) is shown, not used.

OUTPUT (schema 2; SCHEMA.md has every key):
  csv (default): round,series,value,net_value per value; verdict lines and the summary line
    on stderr.
  jsonl: {\"type\":\"round\",\"series\":\"refs\",\"round\":12,\"value\":5.0,\"net_value\":0.0,\"kind\":\"delta\",
    \"unit\":\"refs\"} per value; {\"type\":\"baseline\",\"series\":…,\"kind\":…,\"unit\":…,\"per_round\":…,
    \"source\":…} before a series' first value when it has a baseline; then one
    {\"type\":\"verdict\",\"series\":…,\"verdict\":\"leak\"|\"no_leak\"|\"insufficient\",\"reason\":…,
    \"statement\":…,\"growth_per_round\":…,\"growth_per_1000\":…,\"ci_low\":…,\"ci_high\":…,
    \"p_value\":…,\"legacy_half_pct\":…,…} per series and
    {\"type\":\"summary\",\"tool\":\"rss-rounds\",\"schema\":2,\"verdict\":…,\"series\":…,\"leaks\":…,…}.
  jsonl from a Massif file: also {\"type\":\"site\",\"series\":\"site:leak_definite:ext.c:50\",
    \"input\":…,\"bytes\":…,\"growth_per_round\":64.0,\"stacks\":1,\"site_frame\":0,\"frames\":[{\"addr\":…,
    \"function\":…,\"file\":…,\"line\":…,\"object\":…,\"class\":\"project\"},…]} per growing site,
    before the verdicts; CSV has them as notes on stderr.
  text: the verdicts for a person (and the growing sites with their stacks).
  --plot FILE.svg|FILE.png draws each series (net level, warm-up shaded, fitted line).

LIMITS (memory stays bounded whatever the input; the summary counts each cut):
  lines over 1 MiB are cut and counted (long_lines, also unmatched); at most 1000 series with
  names of up to 256 bytes and 8,000,000 points in all are kept (128 MB), and 8,000,000 tree
  points of a Massif file; values past these are neither written nor judged (dropped_values).
  Reading inputs, lines = values - massif_values + unmatched + own_lines + foreign_records +
  massif_lines (own_lines: rss-rounds' own header and records read back; foreign_records:
  records of other tools; massif_lines: the lines of a Massif file, whose massif_values come
  from its snapshots, not from one line each).

EXAMPLES:
  python3.11 scripts/leak_test.py --iterations 100000 | rss-rounds --format text
  rss-rounds --refs --baseline 2 < refs.log
  rss-rounds --refs --baseline clean.log leaky.log
  rss-rounds --pattern 'iter (?P<round>\\d+) heap=(?P<value>[0-9.]+)' --unit MiB heap.log
  rss-rounds --format jsonl rounds.log > rounds.jsonl; rss-rounds --format text rounds.jsonl
  rss-rounds --format text --plot heap.svg --root ~/src/mypkg massif.out.1234
  rss-rounds run --rounds 2000 mymod.tests:roundtrip
  rss-rounds run --script workload.py --format text --plot rounds.svg
  rss-rounds watch --format text -- python3.11 scripts/leak_test.py

EXIT STATUS:
  0  no series leaks (series with too few points do not count, unless --strict)
  1  a series leaks (or, with --strict, has too few points, or there is no series)
  2  bad usage, an unreadable or binary input, or a run/watch command that could not be run
  A closed stdout (| head) ends quietly with status 0.";

const WATCH_HELP: &str = "\
The command's stdout and stderr go to rss-rounds' stderr line by line (stdout keeps the
report); its own Round/References lines are read as series too. PYTHONUNBUFFERED=1 is set so
that a Python program's lines arrive when printed. Series: rss_mib (the tree's VmRSS summed,
sampled at each marker line) and peak_rss_mib (the larger of the summed VmHWM and the highest
RSS any sample saw); with no marker line at all, each --interval sample is a round. The
command's exit status is in the summary; rss-rounds' own status is the verdict's.

EXAMPLES:
  rss-rounds watch --format text -- python3.11 examples/dbgpipe_example/rounds.py leak_definite
  rss-rounds watch --interval 50 --marker '^iteration (?P<round>\\d+)' -- ./bench --loop";

const RUN_HELP: &str = "\
The harness (a Python script inside rss-rounds) imports the workload, measures rounds of an
empty workload first (its own noise), calls the workload --warmup-calls times unmeasured, then
per round calls it --calls times, runs gc.collect() and records the changes of
sys.gettotalrefcount() (series refs, debug builds only), sys.getallocatedblocks() (blocks),
open file descriptors (fds) and RSS (rss_kib). Each series' baseline is its per-round growth
in the noise rounds, so the verdicts are on net deltas. The workload's output goes to stderr.
Make the module importable (PYTHONPATH, or run from its directory).

EXAMPLES:
  rss-rounds run --format text mymod.tests:roundtrip
  PYTHONPATH=build rss-rounds run --calls 100 --rounds 500 dbgpipe_example:refleak
  rss-rounds run --python python3.11 --script workload.py";

/// Finds leaks in rounds of RSS and reference counts: reads the lines leak-test scripts
/// print (or runs the workload itself, or samples a command), and judges each series with a
/// robust trend test.
#[derive(Parser, Debug)]
#[command(
    name = "rss-rounds",
    version,
    after_help = AFTER_HELP,
    max_term_width = 100,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Cmd>,

    /// Logs to read; none or `-` reads standard input.
    #[arg(value_name = "LOG")]
    inputs: Vec<PathBuf>,

    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a command, sample its process tree's RSS from /proc, and judge the samples.
    #[command(after_help = WATCH_HELP)]
    Watch(WatchArgs),
    /// Run a Python workload in measured rounds (the harness) and judge them.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
struct WatchArgs {
    /// Milliseconds between samples.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    interval: u64,

    /// A line of the command's output that ends a round; a group named `round` numbers it.
    #[arg(long, value_name = "REGEX", default_value = watch::DEFAULT_MARKER)]
    marker: String,

    /// Do not pass the command's output through.
    #[arg(long)]
    quiet: bool,

    /// The command and its arguments (after `--`).
    #[arg(
        value_name = "CMD",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<OsString>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The workload: a function to call, as MODULE:FUNCTION (e.g. mymod.tests:roundtrip).
    #[arg(
        value_name = "MODULE:FUNCTION",
        required_unless_present = "script",
        conflicts_with = "script"
    )]
    target: Option<String>,

    /// A script to execute per call instead (compiled once, a fresh namespace per call).
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,

    /// The interpreter [default: python3.11-dbg when on PATH, else python3].
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,

    /// Measured rounds.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,

    /// Calls of the workload per round.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    calls: u64,

    /// Unmeasured calls before the measured rounds.
    #[arg(long, value_name = "N", default_value_t = 10)]
    warmup_calls: u64,

    /// Rounds of an empty workload measured first, the harness's own noise (0: none)
    /// [default: as many as --rounds].
    #[arg(long, value_name = "N")]
    noise_rounds: Option<u64>,
}

/// Options of every mode (accepted before or after the subcommand).
#[derive(clap::Args, Debug)]
struct Common {
    /// Output format.
    #[arg(
        long,
        value_parser = Format::parser(print::FORMATS),
        default_value = "csv",
        global = true
    )]
    format: Format,

    /// Draw the series with their fitted trends into FILE (.svg or .png).
    #[arg(long, value_name = "FILE", global = true)]
    plot: Option<PathBuf>,

    /// Read another series: a regex with named groups value (required), round, series.
    /// Repeatable; tried before the built-in formats.
    #[arg(long = "pattern", value_name = "REGEX", global = true)]
    patterns: Vec<String>,

    /// Kind of the --pattern series: level (a value that persists) or delta (per round).
    #[arg(long, value_enum, default_value_t = KindArg::Level, global = true)]
    kind: KindArg,

    /// Unit of the --pattern series (shown in the report).
    #[arg(long, value_name = "UNIT", global = true)]
    unit: Option<String>,

    /// Judge only this series (repeatable), e.g. references, max_rss_mib, refs, rss_mib.
    #[arg(long = "series", value_name = "NAME", global = true)]
    series: Vec<String>,

    /// Judge only the reference counts (series references and refs).
    #[arg(long, global = true)]
    refs: bool,

    /// Judge only the RSS series (max_rss_mib, rss_mib, peak_rss_mib, rss_kib).
    #[arg(long, global = true)]
    rss: bool,

    /// Per-round noise to subtract: N for every delta series, SERIES=N for one series, or
    /// FILE, a log of a clean run whose series' per-round growths are subtracted. Repeatable.
    #[arg(long, value_name = "N|SERIES=N|FILE", global = true)]
    baseline: Vec<String>,

    /// Warm-up to discard: a percentage (20%), a fraction (0.2) or a number of points.
    #[arg(long, value_name = "SPEC", default_value = "20%", global = true)]
    warmup: String,

    /// One-sided significance level of the trend test.
    #[arg(long, value_name = "P", default_value_t = 0.01, global = true)]
    alpha: f64,

    /// Fewest points after warm-up for a verdict; fewer is "insufficient".
    #[arg(long, value_name = "N", default_value_t = 10, global = true)]
    min_points: usize,

    /// Level series: least growth over the judged rounds, in percent of the median level.
    #[arg(long, value_name = "PCT", default_value_t = 1.0, global = true)]
    min_growth: f64,

    /// Delta series: least net growth over the judged rounds, in the series' unit.
    #[arg(long, value_name = "N", default_value_t = 1.0, global = true)]
    min_total: f64,

    /// A jump is a late warm-up when two flat segments leave at most this fraction of the
    /// squared error of a line (0: off).
    #[arg(long, value_name = "R", default_value_t = 0.5, global = true)]
    step_ratio: f64,

    /// The last half must grow at least this fraction of the whole slope, as far as its
    /// interval tells (0: off).
    #[arg(long, value_name = "R", default_value_t = 0.5, global = true)]
    late_ratio: f64,

    /// Exit 1 when a series has too few points to judge (or there is no series).
    #[arg(long, global = true)]
    strict: bool,

    /// Flush output after every line.
    #[arg(long, global = true)]
    line_buffered: bool,

    /// Massif files: which frames of the heap trees are the project's.
    #[command(flatten)]
    project: ProjectArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum KindArg {
    Level,
    Delta,
}

fn main() -> ExitCode {
    cli::main("rss-rounds", || run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<Outcome> {
    let opts = options(&args.common)?;
    let stdout = io::stdout();
    let mut out = print::printer(args.common.format, stdout.lock(), args.common.line_buffered)?;
    let mut filter = Filter::new(opts);
    match args.command {
        None => {
            for input in cli::open_inputs(&args.inputs)? {
                filter.read(&input.name, input.reader, out.as_mut())?;
                if let Some(hint) = filter.unrecognised() {
                    // A hint, not an error: a closed stderr must not end the run.
                    let _ = writeln!(io::stderr(), "rss-rounds: {hint}");
                }
            }
        }
        Some(Cmd::Watch(w)) => {
            let status = watch::watch(&mut filter, &watch_options(w)?, out.as_mut())?;
            filter.set_command(status);
        }
        Some(Cmd::Run(r)) => {
            let status = harness::run(&mut filter, &run_options(&r)?, out.as_mut())?;
            filter.set_command(status);
        }
    }
    let summary = filter.finish(out.as_mut())?;
    Ok(if summary.findings(args.common.strict) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn watch_options(w: WatchArgs) -> anyhow::Result<WatchOptions> {
    let marker = regex::bytes::Regex::new(&w.marker)
        .map_err(|e| anyhow::anyhow!("--marker {:?}: {}", w.marker, one_line(&e.to_string())))?;
    Ok(WatchOptions {
        command: w.command,
        interval: Duration::from_millis(w.interval),
        marker,
        echo: !w.quiet,
    })
}

fn run_options(r: &RunArgs) -> anyhow::Result<RunOptions> {
    let target = match (&r.target, &r.script) {
        (_, Some(script)) => Target::Script(script.clone()),
        (Some(t), None) => harness::parse_target(t)?,
        (None, None) => bail!("run: give MODULE:FUNCTION or --script FILE"),
    };
    let python = r.python.clone().unwrap_or_else(harness::default_python);
    if !harness::python_exists(&python) {
        bail!(
            "no Python interpreter {}: install python3.11-dbg or pass --python PATH",
            python.display()
        );
    }
    Ok(RunOptions {
        python,
        target,
        rounds: r.rounds,
        calls: r.calls,
        warmup_calls: r.warmup_calls,
        noise_rounds: r.noise_rounds.unwrap_or(r.rounds),
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The filter's options from the flags; every mistake is a one-line usage error.
fn options(c: &Common) -> anyhow::Result<Options> {
    let warmup = Warmup::parse(&c.warmup)?;
    if !(c.alpha > 0.0 && c.alpha < 0.5) {
        bail!("--alpha {}: must be between 0 and 0.5", c.alpha);
    }
    if c.min_points < 3 {
        bail!(
            "--min-points {}: at least 3 points are needed for a trend",
            c.min_points
        );
    }
    for (name, v) in [
        ("--step-ratio", c.step_ratio),
        ("--late-ratio", c.late_ratio),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bail!("{name} {v}: must be between 0 and 1");
        }
    }
    for (name, v) in [("--min-growth", c.min_growth), ("--min-total", c.min_total)] {
        if !(v.is_finite() && v >= 0.0) {
            bail!("{name} {v}: must be a number of at least 0");
        }
    }
    if let Some(p) = &c.plot {
        plot::kind_of(p)?;
    }
    let trend = Config {
        warmup,
        alpha: c.alpha,
        min_points: c.min_points,
        min_growth_pct: c.min_growth,
        min_total: c.min_total,
        step_ratio: c.step_ratio,
        late_ratio: c.late_ratio,
    };
    let kind = match c.kind {
        KindArg::Level => Kind::Level,
        KindArg::Delta => Kind::Delta,
    };
    let patterns = c
        .patterns
        .iter()
        .enumerate()
        .map(|(i, re)| {
            let name = if i == 0 {
                "pattern".to_string()
            } else {
                format!("pattern{}", i + 1)
            };
            Pattern::new(re, &name, kind, c.unit.as_deref())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut select = c.series.clone();
    if c.refs {
        select.extend([REFERENCES.to_string(), "refs".to_string()]);
    }
    if c.rss {
        select.extend([MAX_RSS, "rss_mib", "peak_rss_mib", "rss_kib"].map(str::to_string));
    }
    let mut baselines = Vec::new();
    for b in &c.baseline {
        baselines.extend(baseline(b, &patterns, &trend)?);
    }
    Ok(Options {
        patterns,
        select,
        baselines,
        trend,
        plot: c.plot.clone(),
        project: c.project.clone(),
    })
}

/// One `--baseline`: a number, SERIES=NUMBER, or a file.
fn baseline(text: &str, patterns: &[Pattern], cfg: &Config) -> anyhow::Result<Vec<Baseline>> {
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    if let Some(v) = number(text) {
        return Ok(vec![Baseline::AllDeltas(v)]);
    }
    if let Some((series, v)) = text.split_once('=') {
        if let (false, Some(v)) = (series.is_empty(), number(v)) {
            return Ok(vec![Baseline::Series {
                series: series.to_string(),
                per_round: v,
                source: "--baseline".to_string(),
            }]);
        }
    }
    let path = PathBuf::from(text);
    if text == "-" {
        bail!("--baseline -: give the clean run as a file, standard input is the run to judge");
    }
    let input = cli::open_input(&path).with_context(|| {
        format!("--baseline {text:?} is not a number, SERIES=NUMBER, or a readable file")
    })?;
    let found = filter::baselines_from_file(&input.name, input.reader, patterns, cfg)
        .map_err(|e: Error| anyhow::anyhow!("--baseline {e}"))?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    /// The flags are consistent, and every documented example parses with them.
    #[test]
    fn help_is_true() {
        dbgpipe_core::cli::assert_help_is_true::<super::Args>(
            "rss-rounds",
            &[super::AFTER_HELP, super::WATCH_HELP, super::RUN_HELP],
            8,
        );
    }
}
