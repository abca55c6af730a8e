//! `cargo xtask segv [--root DIR] [-- CMD…]`: a crash under gdb, made readable by bt-demangle.
//!
//! The manual recipe is `gdb -batch -ex run -ex bt --args python t.py`, then reading a
//! backtrace of mangled C++ names and pages of interpreter frames, and, when gdb only says
//! `ptrace: Operation not permitted`, searching the web for why. Here gdb's output is kept,
//! `bt-demangle` writes it as JSON lines (frames, the crash with its signature) and prints the
//! readable text report (the project's frames being those under `--root`: the current
//! directory for a command, the checkout for the examples), and when gdb was refused `ptrace-fix` says why and what to do.
//! Without a command it crashes the example's `crash_null` (SIGSEGV in `dbgpipe_store`) and,
//! where a C++ compiler is at hand, the C++ example's `crash_map` (inside
//! `std::unordered_map::emplace`).
//!
//! Leaves `target/dbgpipe/segv/<name>.gdb.txt` (gdb's output), `<name>.jsonl` (bt-demangle's
//! records), `<name>.txt` (its text report) and `<name>.ptrace.jsonl` (ptrace-fix's reading of
//! gdb's output). Exit status: 0 no crash, 1 a crash, 2 the recipe could not run (gdb refused
//! included: the diagnosis says why).

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;
use xshell::{cmd, Shell};

use super::example::{self, repo_root};
use super::flags;
use super::place::{self, Place, PlaceOpts};
use super::records::{self, BtDemangle, Crash, PtraceFix};
use super::tools;
use super::{Status, Workspace};

/// What to crash.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project, where the files go, and whether no command means the bundled example.
    pub ws: Workspace,
    /// Here, or in the image.
    pub place: PlaceOpts,
    /// The interpreter for the examples (default: the debug interpreter).
    pub python: Option<PathBuf>,
    /// The command; empty: the examples' crashes (or `example_functions`).
    pub command: Vec<String>,
    /// Functions of the C example to run when no command is given; empty: `crash_null` and
    /// the C++ example's `crash_map`.
    pub example_functions: Vec<String>,
    /// Project root for bt-demangle's classification (default: the current directory for a
    /// command, the checkout for the examples).
    pub root: Option<PathBuf>,
    /// `--project=PATTERN`s for bt-demangle, besides the frames under the root.
    pub projects: Vec<String>,
    /// bt-demangle's `--baseline`: known crashes.
    pub baseline: Option<PathBuf>,
    /// Output directory name under the workspace's `out`.
    pub task: String,
    /// The debugger (default: `gdb` on `PATH`, or the image's).
    pub gdb: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ws: Workspace::default(),
            place: PlaceOpts::default(),
            gdb: PathBuf::from("gdb"),
            python: None,
            command: Vec::new(),
            example_functions: Vec::new(),
            root: None,
            projects: Vec::new(),
            baseline: None,
            task: "segv".into(),
        }
    }
}

/// One program run under gdb.
#[derive(Debug, Clone)]
pub struct Run {
    /// `crash_null`, `crash_map`, or `command`.
    pub name: String,
    /// gdb's output.
    pub gdb_log: PathBuf,
    /// bt-demangle's JSON lines.
    pub jsonl: PathBuf,
    /// bt-demangle's text report.
    pub text: String,
    /// The crash record, when the program crashed.
    pub crash: Option<Crash>,
    /// ptrace-fix's explanation when gdb was refused.
    pub refused: Option<String>,
}

impl Run {
    /// The crash signature.
    pub fn signature(&self) -> Option<&str> {
        self.crash.as_ref()?.signature.as_deref()
    }

    /// The crashing frame's function (frame #0).
    pub fn top_function(&self) -> Option<&str> {
        self.crash.as_ref()?.top_frame.as_ref()?.function.as_deref()
    }

    /// The first project frame's function.
    pub fn project_function(&self) -> Option<&str> {
        self.crash
            .as_ref()?
            .project_frame
            .as_ref()?
            .function
            .as_deref()
    }
}

/// What a run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// `target/dbgpipe/<task>/`.
    pub dir: PathBuf,
    /// Where it ran.
    pub place: String,
    /// One per program, in order.
    pub runs: Vec<Run>,
    /// Why a default case was left out (the image has no C++ compiler).
    pub skipped: Vec<String>,
}

impl Outcome {
    /// Could not run when gdb was refused, findings when a program crashed.
    pub fn status(&self) -> Status {
        if self.runs.iter().any(|r| r.refused.is_some()) {
            Status::CouldNotRun
        } else {
            Status::findings_if(
                self.runs
                    .iter()
                    .any(|r| r.crash.as_ref().is_some_and(records::Crash::fails)),
            )
        }
    }

    /// The run called `name`.
    pub fn get(&self, name: &str) -> Option<&Run> {
        self.runs.iter().find(|r| r.name == name)
    }
}

/// gdb's arguments before the program's argv.
pub const GDB_ARGS: &[&str] = &[
    "-batch",
    "-ex",
    "set filename-display absolute",
    "-ex",
    "run",
    "-ex",
    "bt",
    "--args",
];

/// Runs the recipe.
pub fn segv(opts: &Options) -> anyhow::Result<Outcome> {
    let host_python = opts.python.clone().unwrap_or_else(place::debug_python);
    let mut needs = vec![place::need_program(&opts.gdb.display().to_string(), "gdb")];
    match opts.command.first() {
        None if opts.ws.bundled_example => needs.push(place::need_example(&host_python, false)),
        None => bail!(
            "no command: give the program that crashes after `--` (e.g. dbgpipe segv -- \
             python3.11-dbg -m pytest tests/test_crash.py)"
        ),
        Some(program) => needs.push(place::need_command(program)),
    }
    let place = place::choose("segv", &needs, &opts.place, &opts.ws)?;
    let python = place.debug_python(opts.python.as_deref());

    // (name, the program's argv, env)
    type Case = (String, Vec<OsString>, Vec<(String, OsString)>);
    let mut cases: Vec<Case> = Vec::new();
    let mut skipped = Vec::new();
    let default_root = if opts.command.is_empty() {
        let ex = place.example(&python)?;
        let env = vec![(
            example::DIR_ENV.to_string(),
            ex.dir.clone().into_os_string(),
        )];
        let functions: Vec<String> = if opts.example_functions.is_empty() {
            vec!["crash_null".into()]
        } else {
            opts.example_functions.clone()
        };
        for f in functions {
            let argv = vec![
                ex.python.clone().into(),
                ex.driver.clone().into(),
                OsString::from(&f),
            ];
            cases.push((f, argv, env.clone()));
        }
        if opts.example_functions.is_empty() {
            // The C++ crash needs a C++ compiler, which the image does not bring: where there
            // is none it is left out, and the summary says so.
            let cpp = match &place {
                Place::Host => example::can_build(&python, true),
                Place::Image(_) => {
                    let sh = Shell::new()?;
                    let probe = place.cmd(&sh, &["g++".into(), "--version".into()], &[])?;
                    match probe.quiet().ignore_stdout().ignore_stderr().run() {
                        Ok(()) => Ok(()),
                        Err(_) => Err("the image has no C++ compiler (g++)".to_string()),
                    }
                }
            }
            .and_then(|()| place.example_cpp(&python).map_err(|e| format!("{e:#}")));
            match cpp {
                Ok(cpp) => cases.push((
                    "crash_map".into(),
                    vec![
                        cpp.python.clone().into(),
                        cpp.driver.clone().into(),
                        "crash_map".into(),
                    ],
                    vec![(
                        example::DIR_ENV.to_string(),
                        cpp.dir.clone().into_os_string(),
                    )],
                )),
                Err(why) => skipped.push(format!("crash_map (the C++ example): {why}")),
            }
        }
        repo_root()
    } else {
        let mut env = Vec::new();
        if place.is_image() {
            if let Some(path) = std::env::var_os("PYTHONPATH") {
                env.push(("PYTHONPATH".to_string(), path));
            }
        }
        cases.push((
            "command".into(),
            opts.command.iter().map(OsString::from).collect(),
            env,
        ));
        opts.ws.root.clone()
    };
    let root = opts.root.clone().unwrap_or(default_root);

    let bt_demangle = tools::bin("bt-demangle")?;
    let ptrace_fix = tools::bin("ptrace-fix")?;
    let dir = opts.ws.recipe_dir(&opts.task)?;
    let sh = Shell::new()?;
    let mut runs = Vec::new();
    for (name, argv, env) in cases {
        let gdb_log = dir.join(format!("{name}.gdb.txt"));
        let jsonl = dir.join(format!("{name}.jsonl"));
        let mut full: Vec<OsString> = vec![opts.gdb.clone().into()];
        full.extend(
            // Absolute file names: a build's relative paths (`./src/mod.c`) would not tell
            // bt-demangle which frames lie under the root.
            GDB_ARGS.iter().map(OsString::from),
        );
        full.extend(argv.iter().cloned());
        let log = std::fs::File::create(&gdb_log)
            .with_context(|| format!("cannot create {}", gdb_log.display()))?;
        let mut command = place.command(&full, &env, true)?;
        // gdb's and the program's output, both streams, in one file as a terminal shows them:
        // bt-demangle reads the signal report and the backtrace from it.
        command
            .stdout(log.try_clone().context("cannot share the gdb log")?)
            .stderr(log);
        eprintln!(
            "segv: {} {} {} ({})",
            opts.gdb.display(),
            GDB_ARGS.join(" "),
            argv.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            place.describe()
        );
        // A program may run for minutes before it crashes: poll, and report the log's size.
        let watched = gdb_log.clone();
        let status = tools::run_with_progress(
            "gdb",
            command,
            &|| std::fs::metadata(&watched).map(|m| m.len()).unwrap_or(0),
            Duration::from_secs(10),
        )?;
        tools::check_ran("gdb", place.is_image(), &status)?;

        // A bare --project with the patterns: the frames under the root stay the project's.
        let patterns: Vec<String> = opts
            .projects
            .iter()
            .map(|p| format!("--project={p}"))
            .chain(opts.projects.first().map(|_| "--project".to_string()))
            .chain(
                opts.baseline
                    .iter()
                    .map(|b| format!("--baseline={}", b.display())),
            )
            .collect();
        let patterns = &patterns;
        let out = cmd!(
            sh,
            "{bt_demangle} --format jsonl --root {root} {patterns...} {gdb_log}"
        )
        .quiet()
        // With --baseline a new crash is exit status 1; a failure leaves no summary, which
        // reading the records then says.
        .ignore_status()
        .read()
        .context("bt-demangle --format jsonl")?;
        std::fs::write(&jsonl, format!("{out}\n"))
            .with_context(|| format!("cannot write {}", jsonl.display()))?;
        let text = cmd!(
            sh,
            "{bt_demangle} --format text --root {root} {patterns...} {gdb_log}"
        )
        .quiet()
        // With --baseline a new crash is exit status 1; a failure leaves no summary, which
        // reading the records then says.
        .ignore_status()
        .read()
        .context("bt-demangle --format text")?;
        std::fs::write(dir.join(format!("{name}.txt")), format!("{text}\n"))?;
        let crash = records::read::<BtDemangle>(&jsonl)?.records.pop();

        let refused = ptrace_refused(&sh, &place, &ptrace_fix, &gdb_log, &dir, &name)?;
        let stop = refused.is_some();
        runs.push(Run {
            name,
            gdb_log,
            jsonl,
            text,
            crash,
            refused,
        });
        if stop {
            // The next program would be refused the same way: one diagnosis is enough.
            break;
        }
    }
    Ok(Outcome {
        dir,
        place: place.describe(),
        runs,
        skipped,
    })
}

/// ptrace-fix's reading of gdb's output: `None` when nothing in it blocked gdb, else the
/// text diagnosis, made where gdb ran (its facts are that machine's).
fn ptrace_refused(
    sh: &Shell,
    place: &Place,
    ptrace_fix: &Path,
    gdb_log: &Path,
    dir: &Path,
    name: &str,
) -> anyhow::Result<Option<String>> {
    // --no-probe: only the symptoms in the log count here, which needs no gdb run.
    let found = cmd!(sh, "{ptrace_fix} --no-probe --format jsonl {gdb_log}")
        .quiet()
        .ignore_status()
        .read()
        .context("ptrace-fix")?;
    let path = dir.join(format!("{name}.ptrace.jsonl"));
    std::fs::write(&path, format!("{found}\n"))?;
    let blocking = records::read::<PtraceFix>(&path)?.summary.blocking;
    if blocking == 0 {
        return Ok(None);
    }
    let argv: Vec<OsString> = vec![
        ptrace_fix.into(),
        "--format".into(),
        "text".into(),
        gdb_log.into(),
    ];
    let text = place
        .cmd(sh, &argv, &[])?
        .quiet()
        .ignore_status()
        .read()
        .context("ptrace-fix --format text")?;
    Ok(Some(text))
}

/// The short human summary: bt-demangle's report per run, then one line each.
pub fn report(o: &Outcome) -> String {
    let mut s = String::new();
    for r in &o.runs {
        s.push_str(&format!(
            "segv: {}, bt-demangle's report:\n{}\n",
            r.name, r.text
        ));
        if let Some(why) = &r.refused {
            s.push_str(&format!("gdb was refused; ptrace-fix says:\n{why}\n"));
        }
    }
    for skipped in &o.skipped {
        s.push_str(&format!("segv: left out {skipped}\n"));
    }
    let width = o.runs.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in &o.runs {
        let line = match (&r.refused, &r.crash) {
            (Some(_), _) => "gdb could not trace it (see ptrace-fix above)".to_string(),
            (None, Some(crash)) => format!(
                "{} in {}{}, signature {}",
                crash.signal.as_deref().unwrap_or("crash"),
                r.top_function().unwrap_or("?"),
                match r.project_function() {
                    Some(f) if Some(f) != r.top_function() => format!(" (project: {f})"),
                    _ => String::new(),
                },
                r.signature().unwrap_or("?")
            ),
            (None, None) => "no crash".to_string(),
        };
        s.push_str(&format!("segv: {:<width$}  {line}\n", r.name));
    }
    for r in &o.runs {
        s.push_str(&format!(
            "segv: {} (gdb: {})\n",
            r.jsonl.display(),
            r.gdb_log.display()
        ));
    }
    s.push_str(&format!("segv: ran on the {}\n", o.place));
    s
}

/// `dbgpipe segv`, in `ws`.
pub fn run(flags: flags::Segv, ws: Workspace) -> anyhow::Result<Status> {
    let opts = Options {
        ws,
        place: flags.place,
        python: flags.python.path,
        projects: flags.project.patterns,
        baseline: flags.baseline,
        gdb: flags.gdb,
        command: flags.command.argv,
        ..Options::default()
    };
    let o = segv(&opts)?;
    tools::print(&report(&o))?;
    if o.status() == Status::CouldNotRun {
        eprintln!("xtask segv: gdb was refused ptrace: see ptrace-fix's diagnosis above");
    }
    Ok(o.status())
}
