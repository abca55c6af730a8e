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
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use super::example;
use super::flags;
use super::place::{self, PlaceOpts};
use super::records::{self, RoundsSummary, RssRounds, SeriesVerdict, Verdict};
use super::tools;
use super::{Status, Workspace};

/// The example's functions judged when no `MODULE:FN` is given: the leaking one, the clean one.
pub const DEFAULT_FUNCTIONS: &[&str] = &["refleak", "clean"];

/// Measured rounds by default (rss-rounds' own default).
pub const DEFAULT_ROUNDS: u32 = 1000;

/// Calls per round by default.
pub const DEFAULT_CALLS: u32 = 1;

/// What to judge.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project (put on PYTHONPATH for `MODULE:FN`), where the files go, and whether no
    /// target means the bundled example.
    pub ws: Workspace,
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
            rounds: DEFAULT_ROUNDS,
            calls: DEFAULT_CALLS,
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
    pub verdicts: Vec<SeriesVerdict>,
    /// The `summary` record.
    pub summary: RoundsSummary,
    /// rss-rounds' exit status: 0 no leak, 1 leak.
    pub status: i32,
}

impl Judged {
    /// Whether rss-rounds judged the workload leaking.
    pub fn leaks(&self) -> bool {
        self.summary.verdict == Verdict::Leak
    }

    /// The verdict of one series (`refs`, `blocks`, `fds`, `rss_kib`).
    pub fn series(&self, name: &str) -> Option<&SeriesVerdict> {
        self.verdicts.iter().find(|v| v.series == name)
    }
}

/// What a run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// `OUT/<task>/`.
    pub dir: PathBuf,
    /// Where it ran.
    pub place: String,
    /// One per workload, in order.
    pub judged: Vec<Judged>,
    /// What the user should know about the run (one line each, also said on stderr).
    pub notes: Vec<String>,
}

impl Outcome {
    /// Findings when a workload leaks.
    pub fn status(&self) -> Status {
        Status::findings_if(self.judged.iter().any(Judged::leaks))
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
    if on_example && !opts.ws.bundled_example {
        bail!("no workload: name the functions to judge as MODULE:FN (e.g. dbgpipe refs mypkg.tests:roundtrip)");
    }
    let needs = if on_example {
        vec![place::need_example(&host_python, false)]
    } else {
        vec![place::need_program(
            &host_python.display().to_string(),
            "python3.11-dbg",
        )]
    };
    let place = place::choose("refs", &needs, &opts.place, &opts.ws)?;
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
        // The project's root first (an in-place build imports from there), then the
        // caller's own path; the image does not see this machine's environment, so it is
        // passed on in any case.
        let mut path = opts.ws.root.clone().into_os_string();
        if let Some(old) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(old);
        }
        env.push(("PYTHONPATH".into(), path));
        opts.targets.clone()
    };
    let mut notes = Vec::new();
    if place::is_debug_build(&place, &python.display().to_string()) == Some(false) {
        let text = format!(
            "{} is not a debug build: it has no sys.gettotalrefcount, so references are not \
             counted (only blocks, fds and RSS are); use python3.11-dbg (apt-get install \
             python3.11-dbg) or --python",
            python.display()
        );
        eprintln!("refs: {text}");
        notes.push(text);
    }
    let dir = opts.ws.recipe_dir(&opts.task)?;
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
        let output = records::read::<RssRounds>(&jsonl)?;
        judged.push(Judged {
            target: target.clone(),
            jsonl,
            verdicts: output.records,
            summary: output.summary,
            status: code,
        });
    }
    Ok(Outcome {
        dir,
        place: place.describe(),
        judged,
        notes,
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
            .filter(|v| v.verdict == Verdict::Leak)
            .map(|v| match v.growth_per_round {
                Some(growth) => format!(
                    "{} {}/round",
                    v.series,
                    crate::rounds::trend::fmt_signed(growth)
                ),
                None => format!("{} (growth not estimated)", v.series),
            })
            .collect();
        let verdict = match j.summary.verdict {
            Verdict::Leak => format!("LEAK     {}", leaking.join(", ")),
            Verdict::NoLeak => "no leak".to_string(),
            other => other.as_str().to_string(),
        };
        s.push_str(&format!("  {:<width$}  {verdict}\n", j.target));
    }
    let leaks = o.judged.iter().filter(|j| j.leaks()).count();
    s.push_str(&format!(
        "refs: {leaks} of {} workload(s) leak ({})\n",
        o.judged.len(),
        o.place
    ));
    for note in &o.notes {
        s.push_str(&format!("refs: {note}\n"));
    }
    for j in &o.judged {
        s.push_str(&format!("refs: verdicts in {}\n", j.jsonl.display()));
    }
    s
}

/// `dbgpipe refs`, in `ws`.
pub fn run(flags: flags::Refs, ws: Workspace) -> anyhow::Result<Status> {
    let opts = Options {
        ws,
        place: flags.place,
        python: flags.python.path,
        targets: flags.targets,
        rounds: flags.rounds,
        calls: flags.calls,
        ..Options::default()
    };
    let o = refs(&opts)?;
    tools::print(&report(&o))?;
    Ok(o.status())
}
