//! `cargo xtask rss [-- CMD…]`: the process's RSS in rounds, `rss-rounds watch`.
//!
//! The manual recipe is a leak-test script printing `Round N Max RSS: X` (dd-trace-py's), run
//! for a long time while someone reads the numbers and judges "it grows". `rss-rounds watch`
//! runs the command, samples the RSS of its process tree at each round line, and judges each
//! series with a trend test; `--plot` draws them. Without a command it runs the example's
//! `rounds.py` with `leak_definite` and with `clean`, each judged on its own.
//!
//! Leaves `target/dbgpipe/rss/<name>.jsonl` (rounds, verdicts, summary) and `<name>.svg`.
//! Exit status: 0 nothing leaks, 1 a run leaks, 2 the recipe could not run.

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

/// The example's functions run in rounds when no command is given.
pub const DEFAULT_FUNCTIONS: &[&str] = &["leak_definite", "clean"];

/// What to watch.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project, where the files go, and whether no command means the bundled example.
    pub ws: Workspace,
    /// Here, or in the image.
    pub place: PlaceOpts,
    /// The interpreter for the example (default: the debug interpreter).
    pub python: Option<PathBuf>,
    /// The command; empty: the example's `rounds.py` on [`DEFAULT_FUNCTIONS`].
    pub command: Vec<String>,
    /// Output directory name under the workspace's `out`.
    pub task: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ws: Workspace::default(),
            place: PlaceOpts::default(),
            python: None,
            command: Vec::new(),
            task: "rss".into(),
        }
    }
}

/// One watched command's verdicts.
#[derive(Debug, Clone)]
pub struct Watched {
    /// `leak_definite`, `clean`, or `command`.
    pub name: String,
    /// rss-rounds' JSON lines.
    pub jsonl: PathBuf,
    /// The plot.
    pub plot: PathBuf,
    /// The `verdict` records, one per series.
    pub verdicts: Vec<SeriesVerdict>,
    /// The `summary` record.
    pub summary: RoundsSummary,
}

impl Watched {
    /// Whether rss-rounds judged the run leaking.
    pub fn leaks(&self) -> bool {
        self.summary.verdict == Verdict::Leak
    }

    /// The verdict of one series (`rss_mib`, `max_rss_mib`, …).
    pub fn series(&self, name: &str) -> Option<&SeriesVerdict> {
        self.verdicts.iter().find(|v| v.series == name)
    }
}

/// What a run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// `target/dbgpipe/<task>/`.
    pub dir: PathBuf,
    /// Where it ran.
    pub place: String,
    /// One per command, in order.
    pub watched: Vec<Watched>,
}

impl Outcome {
    /// Findings when a run leaks.
    pub fn status(&self) -> Status {
        Status::findings_if(self.watched.iter().any(Watched::leaks))
    }

    /// The run called `name`.
    pub fn get(&self, name: &str) -> Option<&Watched> {
        self.watched.iter().find(|w| w.name == name)
    }
}

/// Runs the recipe.
pub fn rss(opts: &Options) -> anyhow::Result<Outcome> {
    let host_python = opts.python.clone().unwrap_or_else(place::debug_python);
    let needs = match opts.command.first() {
        None => vec![place::need_example(&host_python, false)],
        Some(program) => vec![place::need_command(program)],
    };
    let place = place::choose("rss", &needs, &opts.place, &opts.ws)?;
    let python = place.debug_python(opts.python.as_deref());
    let rss_rounds = tools::bin("rss-rounds")?;
    // (name, argv, env, quiet): the example's 100 Round lines are noise on a terminal; a
    // user's command keeps its output.
    type Run = (String, Vec<OsString>, Vec<(String, OsString)>, bool);
    let runs: Vec<Run> = if opts.command.is_empty() {
        let ex = place.example(&python)?;
        let driver = example::source_dir().join("rounds.py");
        DEFAULT_FUNCTIONS
            .iter()
            .map(|f| {
                (
                    f.to_string(),
                    vec![
                        ex.python.clone().into(),
                        driver.clone().into(),
                        OsString::from(f),
                    ],
                    vec![(example::DIR_ENV.to_string(), ex.dir.clone().into())],
                    true,
                )
            })
            .collect()
    } else {
        vec![(
            "command".into(),
            opts.command.iter().map(OsString::from).collect(),
            Vec::new(),
            false,
        )]
    };
    let dir = opts.ws.recipe_dir(&opts.task)?;
    let mut watched = Vec::new();
    for (name, argv, env, quiet) in runs {
        let jsonl = dir.join(format!("{name}.jsonl"));
        let plot = dir.join(format!("{name}.svg"));
        let out = std::fs::File::create(&jsonl)
            .with_context(|| format!("cannot create {}", jsonl.display()))?;
        let mut full: Vec<OsString> = vec![
            rss_rounds.clone().into(),
            "watch".into(),
            "--format".into(),
            "jsonl".into(),
            "--plot".into(),
            plot.clone().into(),
        ];
        if quiet {
            full.push("--quiet".into());
        }
        full.push("--".into());
        full.extend(argv.iter().cloned());
        let mut command = place.command(&full, &env, false)?;
        command.stdout(out).stderr(Stdio::inherit());
        eprintln!(
            "rss: rss-rounds watch {} ({})",
            argv.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            place.describe()
        );
        // Leak tests run for minutes: run_with_progress polls and says how far it got.
        let watched_file = jsonl.clone();
        let status = tools::run_with_progress(
            "rss-rounds watch",
            command,
            &|| {
                std::fs::metadata(&watched_file)
                    .map(|m| m.len())
                    .unwrap_or(0)
            },
            Duration::from_secs(10),
        )?;
        tools::check_ran("rss-rounds watch", place.is_image(), &status)?;
        let code = tools::code_of(&status);
        if code > 1 {
            bail!("rss-rounds watch failed on {name} (exit status {code}); its message is above");
        }
        let output = records::read::<RssRounds>(&jsonl)?;
        watched.push(Watched {
            name,
            jsonl,
            plot,
            verdicts: output.records,
            summary: output.summary,
        });
    }
    Ok(Outcome {
        dir,
        place: place.describe(),
        watched,
    })
}

/// The short human summary: a line per run, the growth of the leaking series, the files.
pub fn report(o: &Outcome) -> String {
    let mut s = String::new();
    let width = o.watched.iter().map(|w| w.name.len()).max().unwrap_or(0);
    for w in &o.watched {
        // No verdict at all: no series was read, so no round either.
        let rounds = w.verdicts.first().map_or(0, |v| v.points);
        let verdict = match w.summary.verdict {
            Verdict::Leak => {
                let series: Vec<String> = w
                    .verdicts
                    .iter()
                    .filter(|v| v.verdict == Verdict::Leak)
                    .map(|v| match v.growth_per_round {
                        Some(growth) => format!(
                            "{} {} MiB/round",
                            v.series,
                            crate::rounds::trend::fmt_signed(growth)
                        ),
                        None => format!("{} (growth not estimated)", v.series),
                    })
                    .collect();
                format!("LEAK     {}", series.join(", "))
            }
            Verdict::NoLeak => "no leak".to_string(),
            other => other.as_str().to_string(),
        };
        s.push_str(&format!(
            "  {:<width$}  {verdict} ({rounds} rounds)\n",
            w.name
        ));
    }
    let leaks = o.watched.iter().filter(|w| w.leaks()).count();
    s.push_str(&format!(
        "rss: {leaks} of {} run(s) leak ({})\n",
        o.watched.len(),
        o.place
    ));
    for w in &o.watched {
        s.push_str(&format!(
            "rss: {} and {}\n",
            w.jsonl.display(),
            w.plot.display()
        ));
    }
    s
}

/// `dbgpipe rss`, in `ws`.
pub fn run(flags: flags::Rss, ws: Workspace) -> anyhow::Result<Status> {
    let opts = Options {
        ws,
        place: flags.place,
        python: flags.python.path,
        command: flags.command.argv,
        ..Options::default()
    };
    let o = rss(&opts)?;
    tools::print(&report(&o))?;
    Ok(o.status())
}
