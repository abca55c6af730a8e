//! `cargo xtask refs [MODULE:FN]...`: reference-count leaks, `rss-rounds run` on the debug
//! interpreter.
//!
//! The manual recipe is to call the function in a loop on `python3.11-dbg` and watch
//! `sys.gettotalrefcount()` (the example's `run.py refleak --rounds 100` prints the change),
//! then decide by eye whether +100 is a leak or noise. `rss-rounds run` does the rounds in its
//! harness, measures its own noise first, and judges each series (refs, blocks, fds, RSS) with
//! a trend test. Each `MODULE:FN` is judged on its own (one process each), so a leak in one
//! cannot be blamed on another; without one, the example's `refleak` and `clean`, with
//! `PYTHONPATH` set to the example's build directory.
//!
//! Leaves `target/dbgpipe/refs/<MODULE:FN>.jsonl` (rss-rounds' rounds, verdicts and summary).
//! Exit status: 0 nothing leaks, 1 a function leaks, 2 the recipe could not run.

use anyhow::{bail, Context};
use serde_json::Value;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use crate::example;
use crate::place::{self, PlaceOpts};
use crate::tools;
use crate::UsageError;

/// The example's functions judged when no `MODULE:FN` is given: the leaking one, the clean one.
pub const DEFAULT_FUNCTIONS: &[&str] = &["refleak", "clean"];

/// What to judge.
#[derive(Debug, Clone)]
pub struct Options {
    /// Here, or in the image.
    pub place: PlaceOpts,
    /// The interpreter (default: the debug interpreter, which has `sys.gettotalrefcount`).
    pub python: Option<PathBuf>,
    /// `MODULE:FN` workloads; empty: the example's [`DEFAULT_FUNCTIONS`].
    pub targets: Vec<String>,
    /// Measured rounds (rss-rounds' `--rounds`).
    pub rounds: u32,
    /// Calls per round (rss-rounds' `--calls`).
    pub calls: u32,
    /// Output directory name under `target/dbgpipe/`.
    pub task: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            place: PlaceOpts::default(),
            python: None,
            targets: Vec::new(),
            rounds: 1000,
            calls: 1,
            task: "refs".into(),
        }
    }
}

/// One workload's verdicts.
#[derive(Debug, Clone)]
pub struct Judged {
    /// `MODULE:FN`.
    pub target: String,
    /// rss-rounds' JSON lines.
    pub jsonl: PathBuf,
    /// The `verdict` records, one per series.
    pub verdicts: Vec<Value>,
    /// The `summary` record.
    pub summary: Value,
    /// rss-rounds' exit status: 0 no leak, 1 leak.
    pub status: i32,
}

impl Judged {
    /// Whether rss-rounds judged the workload leaking.
    pub fn leaks(&self) -> bool {
        self.summary["verdict"] == "leak"
    }

    /// The verdict of one series (`refs`, `blocks`, `fds`, `rss_kib`).
    pub fn series(&self, name: &str) -> Option<&Value> {
        self.verdicts.iter().find(|v| v["series"] == name)
    }
}

/// What a run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// `target/dbgpipe/<task>/`.
    pub dir: PathBuf,
    /// Where it ran.
    pub place: String,
    /// One per workload, in order.
    pub judged: Vec<Judged>,
}

impl Outcome {
    /// 1 when a workload leaks, else 0.
    pub fn status(&self) -> i32 {
        i32::from(self.judged.iter().any(Judged::leaks))
    }

    /// The verdicts of `target` (`MODULE:FN`, or a bare function of the example).
    pub fn get(&self, target: &str) -> Option<&Judged> {
        self.judged
            .iter()
            .find(|j| j.target == target || j.target.rsplit(':').next() == Some(target))
    }
}

/// Runs the recipe.
pub fn refs(opts: &Options) -> anyhow::Result<Outcome> {
    let host_python = opts.python.clone().unwrap_or_else(place::debug_python);
    let on_example = opts.targets.is_empty();
    let needs = if on_example {
        vec![place::need_example(&host_python, false)]
    } else {
        vec![place::need_program(
            &host_python.display().to_string(),
            "python3.11-dbg",
        )]
    };
    let place = place::choose("refs", &needs, &opts.place)?;
    let python = place.debug_python(opts.python.as_deref());
    let rss_rounds = tools::bin("rss-rounds")?;
    let mut env: Vec<(String, OsString)> = Vec::new();
    let targets: Vec<String> = if on_example {
        let ex = place.example(&python)?;
        // The example's directory first, then whatever the caller already had.
        let mut path = ex.dir.into_os_string();
        if let Some(old) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(old);
        }
        env.push(("PYTHONPATH".into(), path));
        DEFAULT_FUNCTIONS
            .iter()
            .map(|f| format!("{}:{f}", example::MODULE))
            .collect()
    } else {
        if place.is_image() {
            // The image does not see this machine's environment: pass the import path on.
            if let Some(path) = std::env::var_os("PYTHONPATH") {
                env.push(("PYTHONPATH".into(), path));
            }
        }
        opts.targets.clone()
    };
    let dir = tools::task_dir(&opts.task)?;
    let mut judged = Vec::new();
    for target in &targets {
        let jsonl = dir.join(format!("{}.jsonl", file_name(target)));
        let out = std::fs::File::create(&jsonl)
            .with_context(|| format!("cannot create {}", jsonl.display()))?;
        let argv: Vec<OsString> = vec![
            rss_rounds.clone().into(),
            "run".into(),
            "--python".into(),
            python.clone().into(),
            "--format".into(),
            "jsonl".into(),
            "--rounds".into(),
            opts.rounds.to_string().into(),
            "--calls".into(),
            opts.calls.to_string().into(),
            target.into(),
        ];
        let mut command = place.command(&argv, &env, false)?;
        command.stdout(out).stderr(Stdio::inherit());
        eprintln!(
            "refs: rss-rounds run {target} ({} rounds x {} calls, {})",
            opts.rounds,
            opts.calls,
            place.describe()
        );
        // A real workload can take minutes: run_with_progress polls and says so.
        let watched = jsonl.clone();
        let status = tools::run_with_progress(
            "rss-rounds run",
            command,
            &|| std::fs::metadata(&watched).map(|m| m.len()).unwrap_or(0),
            Duration::from_secs(10),
        )?;
        tools::check_ran("rss-rounds run", place.is_image(), &status)?;
        let code = tools::code_of(&status);
        if code > 1 {
            bail!("rss-rounds run {target} failed (exit status {code}); its message is above");
        }
        let records = tools::read_jsonl(&jsonl)?;
        let summary = tools::last_of(&records, "summary")
            .cloned()
            .with_context(|| format!("rss-rounds wrote no summary into {}", jsonl.display()))?;
        let verdicts = tools::all_of(&records, "verdict").cloned().collect();
        judged.push(Judged {
            target: target.clone(),
            jsonl,
            verdicts,
            summary,
            status: code,
        });
    }
    Ok(Outcome {
        dir,
        place: place.describe(),
        judged,
    })
}

/// `MODULE:FN` as a file name: `:` and `/` would be awkward in a path.
fn file_name(target: &str) -> String {
    target
        .chars()
        .map(|c| if c == '/' || c == ':' { '.' } else { c })
        .collect()
}

/// The short human summary: a line per workload, the leaking series, the files.
pub fn report(o: &Outcome) -> String {
    let mut s = String::new();
    let width = o.judged.iter().map(|j| j.target.len()).max().unwrap_or(0);
    for j in &o.judged {
        let leaking: Vec<String> = j
            .verdicts
            .iter()
            .filter(|v| v["verdict"] == "leak")
            .map(|v| {
                format!(
                    "{} {:+}/round",
                    v["series"].as_str().unwrap_or("?"),
                    v["growth_per_round"].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        let verdict = if j.leaks() {
            format!("LEAK     {}", leaking.join(", "))
        } else {
            match j.summary["verdict"].as_str() {
                Some("no_leak") => "no leak".to_string(),
                Some(other) => other.to_string(),
                None => "?".to_string(),
            }
        };
        s.push_str(&format!("  {:<width$}  {verdict}\n", j.target));
    }
    let leaks = o.judged.iter().filter(|j| j.leaks()).count();
    s.push_str(&format!(
        "refs: {leaks} of {} workload(s) leak ({})\n",
        o.judged.len(),
        o.place
    ));
    for j in &o.judged {
        s.push_str(&format!("refs: verdicts in {}\n", j.jsonl.display()));
    }
    s
}

/// `cargo xtask refs`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let mut opts = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if opts.place.parse(arg, &mut it)? {
            continue;
        }
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| UsageError(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--python" => opts.python = Some(value("--python")?.into()),
            "--rounds" => opts.rounds = number("--rounds", &value("--rounds")?)?,
            "--calls" => opts.calls = number("--calls", &value("--calls")?)?,
            "-h" | "--help" => {
                println!("{HELP}\n\n{}", place::RULE);
                return Ok(ExitCode::SUCCESS);
            }
            target if target.contains(':') && !target.starts_with('-') => {
                opts.targets.push(target.to_string())
            }
            other => return Err(UsageError(format!("unexpected argument `{other}`")).into()),
        }
    }
    let o = refs(&opts)?;
    print!("{}", report(&o));
    Ok(tools::exit(o.status()))
}

/// A positive count from the command line.
pub(crate) fn number(name: &str, value: &str) -> Result<u32, UsageError> {
    value
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| UsageError(format!("{name} needs a positive number, not `{value}`")))
}

/// Help text of the task.
pub const HELP: &str = "\
usage: cargo xtask refs [--host | --image TAG] [--python PATH] [--rounds N] [--calls N] [MODULE:FN]...

Judges each MODULE:FN on its own with `rss-rounds run` on the debug interpreter (default
python3.11-dbg, which has sys.gettotalrefcount): the harness measures its own noise, calls the
function in rounds, and a trend test decides per series (refs, blocks, fds, rss_kib) whether it
leaks. Default: the bundled example's refleak and clean, with PYTHONPATH set to its build
directory; otherwise make MODULE importable yourself (PYTHONPATH). --rounds (default 1000) and
--calls (default 1) are rss-rounds'.
Leaves target/dbgpipe/refs/<MODULE.FN>.jsonl (rounds, verdicts, summary).
Exit status: 0 nothing leaks, 1 a function leaks, 2 the recipe could not run.";
