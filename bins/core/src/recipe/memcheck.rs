//! `dbgpipe memcheck [--root DIR] [--project PATTERN]… [--suppressions FILE]… [-- CMD…]`:
//! the Memcheck recipe.
//!
//! The manual recipe is `PYTHONMALLOC=malloc valgrind --leak-check=full --suppressions=… CMD`
//! followed by reading thousands of records. Here valgrind writes one log per process
//! (`--trace-children=yes --log-file=…/vg.%p.log`, so no process's report overwrites
//! another's) with full source paths (`--fullpath-after=`) and deep stacks
//! ([`DEFAULT_NUM_CALLERS`]), `vg-filter
//! --project` keeps the records that touch the project, and a short summary names each at its
//! source line.
//!
//! Suppressions: the baseline of the interpreter the logs say ran (their `Command:` line),
//! shipped for Debian's python3.11-dbg and python3.11, made on first use for any other
//! interpreter and kept in the user's cache ([`suppressions::baseline`]).
//!
//! Leaves `OUT/memcheck/`: `vg.<pid>.log` (raw), `records.jsonl` (vg-filter's output). Exit
//! status follows vg-filter: 0 nothing kept, 1 findings.

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::example::{self, repo_root};
use super::flags;
use super::place::{self, PlaceOpts};
use super::records::{self, VgError, VgFilter, VgSummary};
use super::shard::{self, Shard};
use super::suppressions::{self, Baseline};
use super::tools;
use super::{Status, Workspace};

/// Valgrind's options in every memcheck run, besides `--log-file`.
pub const VALGRIND_OPTIONS: &[&str] = &[
    "--leak-check=full",
    "--show-leak-kinds=all",
    "--track-origins=yes",
    // Full source paths, so that vg-filter --project can tell the project's files.
    "--fullpath-after=",
    "--trace-children=yes",
];

/// Valgrind's `--num-callers` by default: its maximum. At Valgrind's default of 12 a leak
/// allocated 17 calls below the project's function has no project frame; and a module's init
/// that imports other modules runs their Python code 50 and more frames below it, where even
/// 50 cuts the stack before the init (and the record reads as a leak, not as the module's).
pub const DEFAULT_NUM_CALLERS: u32 = 500;

/// What to run under Memcheck.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project, where the files go, and whether no command means the bundled example.
    pub ws: Workspace,
    /// Interpreter for the example (default: the debug interpreter).
    pub python: Option<PathBuf>,
    /// Suppression files; default: the baseline of the interpreter the logs say ran.
    pub suppressions: Option<Vec<PathBuf>>,
    /// The command; empty runs the example's `run.py` with `example_args`.
    pub command: Vec<String>,
    /// Arguments to the example driver when no command is given.
    pub example_args: Vec<String>,
    /// Project root for `--project` (default: the workspace's root, or the checkout for the
    /// example).
    pub root: Option<PathBuf>,
    /// `--project=PATTERN`s for vg-filter, besides the frames under the root.
    pub projects: Vec<String>,
    /// vg-filter's `--fail-on`, when given.
    pub fail_on: Option<String>,
    /// Valgrind's `--num-callers`.
    pub num_callers: u32,
    /// vg-filter's `--baseline`: known findings.
    pub baseline: Option<PathBuf>,
    /// Run only this shard of the pytest command's tests ([`super::shard`]).
    pub shard: Option<Shard>,
    /// Output directory name under the workspace's `out`.
    pub task: String,
    /// More vg-filter arguments (the suppressions task adds `--gen-suppressions=FILE`).
    pub filter_args: Vec<String>,
    /// Here, or in the image.
    pub place: PlaceOpts,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ws: Workspace::default(),
            python: None,
            suppressions: None,
            command: Vec::new(),
            example_args: vec!["all-defects".into()],
            root: None,
            projects: Vec::new(),
            fail_on: None,
            num_callers: DEFAULT_NUM_CALLERS,
            baseline: None,
            shard: None,
            task: "memcheck".into(),
            filter_args: Vec::new(),
            place: PlaceOpts::default(),
        }
    }
}

/// What a run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// `OUT/<task>/`.
    pub dir: PathBuf,
    /// The per-process raw logs.
    pub logs: Vec<PathBuf>,
    /// vg-filter's JSON lines.
    pub jsonl: PathBuf,
    /// The kept records.
    pub records: Vec<VgError>,
    /// vg-filter's summary record.
    pub summary: VgSummary,
    /// vg-filter's exit status: findings when it kept a record.
    pub status: Status,
    /// Where valgrind ran.
    pub place: String,
    /// The interpreter the logs say ran, when one did.
    pub interpreter: Option<String>,
    /// The suppression files vg-filter applied.
    pub suppressions: Vec<PathBuf>,
    /// The interpreter's baseline, when the suppressions are the default.
    pub baseline: Option<Baseline>,
    /// What the user should know about the run (one line each, also said on stderr).
    pub notes: Vec<String>,
    /// Wall time of the program under valgrind (the bench weighs vg-filter's time against it).
    pub valgrind_time: Duration,
    /// The arguments vg-filter ran with (the bench times it again with them).
    pub vg_filter_args: Vec<OsString>,
}

/// What a log's preamble says: the program Valgrind ran and the process's parent.
#[derive(Debug, Default)]
struct Preamble {
    program: Option<String>,
    parent: Option<u64>,
}

/// Reads `log`'s preamble (`Command:` and `Parent PID:` lines).
fn preamble_of_log(log: &Path) -> Preamble {
    use std::io::BufRead;
    let mut preamble = Preamble::default();
    let Ok(file) = std::fs::File::open(log) else {
        return preamble;
    };
    // The preamble is a dozen lines; a log without one is not read to its end.
    for line in std::io::BufReader::new(file)
        .lines()
        .take(40)
        .map_while(Result::ok)
    {
        if let Some((_, rest)) = line.split_once("Command: ") {
            preamble.program = rest.split_whitespace().next().map(str::to_string);
        } else if let Some((_, rest)) = line.split_once("Parent PID: ") {
            preamble.parent = rest.trim().parse().ok();
        }
    }
    preamble
}

/// Whether `program` looks like a Python interpreter (`python3.11-dbg`, `/x/bin/python3`).
pub fn is_python(program: &str) -> bool {
    Path::new(program)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("python"))
}

/// The interpreter that ran: the first Python, in process-id order, among the processes
/// whose parent wrote no log (the command given, rather than the workers it started), else
/// among all; none when no log names a Python (a shell script's logs name the shell, and
/// its children the rest). Process ids wrap around (at 32768 by default), so a worker can
/// have a lower one than the process that started it.
pub fn interpreter_in_logs(logs: &[PathBuf]) -> Option<String> {
    let mut processes: Vec<(u64, Preamble)> = logs
        .iter()
        .map(|log| {
            let pid = log
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("vg."))
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(u64::MAX);
            (pid, preamble_of_log(log))
        })
        .collect();
    processes.sort_by_key(|(pid, _)| *pid);
    let pids: std::collections::HashSet<u64> = processes.iter().map(|(pid, _)| *pid).collect();
    let python = |(_, p): &(u64, Preamble)| p.program.clone().filter(|program| is_python(program));
    let started_here = |(_, p): &&(u64, Preamble)| p.parent.map_or(true, |pp| !pids.contains(&pp));
    processes
        .iter()
        .filter(started_here)
        .find_map(python)
        .or_else(|| processes.iter().find_map(python))
}

/// Says a note now (stderr) and keeps it for the report.
fn note(notes: &mut Vec<String>, text: String) {
    eprintln!("memcheck: {text}");
    notes.push(text);
}

/// Runs the recipe.
pub fn memcheck(opts: &Options) -> anyhow::Result<Outcome> {
    let host_python = opts.python.clone().unwrap_or_else(place::debug_python);
    let mut needs = vec![place::need_program("valgrind", "valgrind")];
    match opts.command.first() {
        None if opts.ws.bundled_example => needs.push(place::need_example(&host_python, false)),
        None => bail!(
            "no command: give the program to run after `--` (e.g. dbgpipe memcheck -- \
             python3.11-dbg -m pytest tests/)"
        ),
        Some(program) => needs.push(place::need_command(program)),
    }
    let place = place::choose("memcheck", &needs, &opts.place, &opts.ws)?;
    let python = place.debug_python(opts.python.as_deref());
    let vg_filter = tools::bin("vg-filter")?;
    let dir = opts.ws.recipe_dir(&opts.task)?;
    let (argv, mut env, root) = if opts.command.is_empty() {
        let ex = place.example(&python)?;
        let mut argv = vec![
            ex.python.display().to_string(),
            ex.driver.display().to_string(),
        ];
        argv.extend(opts.example_args.iter().cloned());
        (
            argv,
            vec![(example::DIR_ENV.to_string(), ex.dir.clone().into())],
            repo_root(),
        )
    } else {
        (opts.command.clone(), Vec::new(), opts.ws.root.clone())
    };
    let root = opts.root.clone().unwrap_or(root);
    let argv = match opts.shard {
        None => argv,
        Some(_) if opts.command.is_empty() => {
            bail!("--shard splits a pytest command's tests: give one after `--`")
        }
        Some(_) if place.is_image() => bail!(
            "--shard collects the tests on this machine, and valgrind would run in the image: \
             run it with --host, where the tests and valgrind are"
        ),
        Some(shard) => {
            let cwd = std::env::current_dir().context("no current directory")?;
            match shard::command_for(&argv, &cwd, shard)? {
                Some((command, ids)) => {
                    eprintln!("memcheck: shard {shard}: {} test(s)", ids.len());
                    command
                }
                None => {
                    // Nothing to run; the empty report still says so, for a merge job.
                    eprintln!("memcheck: shard {shard} holds none of the collected tests");
                    return empty(&dir, &vg_filter, &root, place.describe());
                }
            }
        }
    };

    let mut vg_argv: Vec<std::ffi::OsString> = std::iter::once("valgrind")
        .chain(VALGRIND_OPTIONS.iter().copied())
        .map(Into::into)
        .collect();
    vg_argv.push(format!("--num-callers={}", opts.num_callers).into());
    vg_argv.push(format!("--log-file={}/vg.%p.log", dir.display()).into());
    // Suppressions go to vg-filter rather than valgrind: it counts what each one hides, and
    // `--show-suppressed` can list them, where valgrind would drop them without a trace.
    vg_argv.extend(argv.iter().map(Into::into));
    env.push(("PYTHONMALLOC".into(), "malloc".into()));
    let vg = place.command(&vg_argv, &env, false)?;
    eprintln!(
        "memcheck: valgrind {} ({})",
        argv.join(" "),
        place.describe()
    );
    let logs_dir = dir.clone();
    let started = Instant::now();
    let status = tools::run_with_progress(
        "valgrind",
        vg,
        &|| tools::size_of_logs(&logs_dir, "vg."),
        Duration::from_secs(10),
    )?;
    tools::check_ran("valgrind", place.is_image(), &status)?;
    let valgrind_time = started.elapsed();
    eprintln!("memcheck: the program exited with {status}");
    let logs = tools::files_starting(&dir, "vg.");
    if logs.is_empty() {
        bail!("valgrind wrote no log into {}", dir.display());
    }

    // The interpreter that really ran (a shim or a script may stand between the command and
    // it), whose baseline and build the notes are about.
    let mut notes = Vec::new();
    let interpreter = interpreter_in_logs(&logs);
    let mut baseline = None;
    let supps = match (&opts.suppressions, &interpreter) {
        (Some(given), _) => given.clone(),
        (None, None) => {
            note(
                &mut notes,
                "no Python interpreter in the logs' Command: lines, so no baseline applies \
                 (give --suppressions FILE)"
                    .into(),
            );
            Vec::new()
        }
        (None, Some(program)) => {
            let found = suppressions::baseline(&place, program, &opts.ws)?;
            note(&mut notes, found.describe());
            let files = vec![found.path.clone()];
            baseline = Some(found);
            files
        }
    };
    if let Some(program) = &interpreter {
        if place::is_debug_build(&place, program) == Some(false) {
            note(
                &mut notes,
                format!(
                    "{program} is not a debug build: its frames are optimised (inlined, \
                     <optimized out>); python3.11-dbg (apt-get install python3.11-dbg) gives \
                     exact stacks"
                ),
            );
        }
    }

    let jsonl = dir.join("records.jsonl");
    let out = std::fs::File::create(&jsonl)?;
    let mut args: Vec<OsString> = vec!["--project".into(), "--root".into(), root.into()];
    for pattern in &opts.projects {
        args.push(format!("--project={pattern}").into());
    }
    for s in &supps {
        args.extend(["--suppressions".into(), s.into()]);
    }
    if let Some(kinds) = &opts.fail_on {
        args.extend(["--fail-on".into(), kinds.into()]);
    }
    if let Some(baseline) = &opts.baseline {
        args.extend(["--baseline".into(), baseline.into()]);
    }
    args.extend(opts.filter_args.iter().map(OsString::from));
    args.extend(logs.iter().map(OsString::from));
    let filtered = Command::new(&vg_filter)
        .args(&args)
        .stdout(out)
        .status()
        .context("running vg-filter")?;
    let status = Status::of_code(filtered.code().unwrap_or(2));
    if status == Status::CouldNotRun {
        bail!("vg-filter failed with {filtered}");
    }
    let output = records::read::<VgFilter>(&jsonl)?;
    Ok(Outcome {
        dir,
        logs,
        jsonl,
        records: output.records,
        summary: output.summary,
        status,
        place: place.describe(),
        interpreter,
        suppressions: supps,
        baseline,
        notes,
        valgrind_time,
        vg_filter_args: args,
    })
}

/// Where a record points: `function (file:line)` of its project frame.
fn place_of(r: &VgError) -> String {
    let frame = r.project_frame.clone().unwrap_or_default();
    match (&frame.function, &frame.file, frame.line) {
        (Some(f), Some(file), Some(line)) => {
            let file = Path::new(file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{f} ({file}:{line})")
        }
        (Some(f), _, _) => f.to_string(),
        _ => "?".into(),
    }
}

/// What a shard without tests leaves: vg-filter's output of no log (no record, a summary).
fn empty(dir: &Path, vg_filter: &Path, root: &Path, place: String) -> anyhow::Result<Outcome> {
    let jsonl = dir.join("records.jsonl");
    let out = std::fs::File::create(&jsonl)?;
    let status = Command::new(vg_filter)
        .arg("--project")
        .arg("--root")
        .arg(root)
        .arg("/dev/null")
        .stdout(out)
        .stderr(std::process::Stdio::null())
        .status()
        .context("running vg-filter")?;
    if Status::of_code(status.code().unwrap_or(2)) == Status::CouldNotRun {
        bail!("vg-filter failed with {status}");
    }
    let output = records::read::<VgFilter>(&jsonl)?;
    Ok(Outcome {
        dir: dir.to_path_buf(),
        logs: Vec::new(),
        jsonl,
        records: output.records,
        summary: output.summary,
        status: Status::Clean,
        place,
        interpreter: None,
        suppressions: Vec::new(),
        baseline: None,
        notes: vec!["this shard holds none of the collected tests: nothing ran".into()],
        valgrind_time: Duration::ZERO,
        vg_filter_args: Vec::new(),
    })
}

/// The short human summary: one line per kept record (the module-init ones folded into a
/// line per function, since a module's setup makes dozens), then the counts and the notes.
pub fn report(o: &Outcome) -> String {
    let mut s = String::new();
    let mut init: Vec<(String, u64, u64)> = Vec::new();
    for r in &o.records {
        if r.module_init {
            let function = r.project_function().unwrap_or("?").to_string();
            let bytes = r.bytes.unwrap_or(0);
            match init.iter_mut().find(|(f, _, _)| *f == function) {
                Some(entry) => {
                    entry.1 += 1;
                    entry.2 += bytes;
                }
                None => init.push((function, 1, bytes)),
            }
            continue;
        }
        let size = r.bytes.map(|b| format!(" {b} bytes")).unwrap_or_default();
        s.push_str(&format!("  {:<22} {}{size}\n", r.kind, place_of(r)));
    }
    for (function, records, bytes) in &init {
        s.push_str(&format!(
            "  {:<22} {function}: {records} distinct record(s), {bytes} bytes kept for the module's \
             life (not failing)\n",
            "module init"
        ));
    }
    let n = &o.summary;
    s.push_str(&format!(
        "memcheck: {} of {} records are the project's ({} failing, {} module init; {} \
         suppressed, {} elsewhere); {} log(s)\n",
        n.kept,
        n.records,
        n.failing,
        n.module_init,
        n.suppressed,
        n.not_project,
        o.logs.len()
    ));
    if n.new + n.known + n.fixed > 0 {
        s.push_str(&format!(
            "memcheck: against the baseline: {} new, {} known (not failing), {} fixed\n",
            n.new, n.known, n.fixed
        ));
    }
    for note in &o.notes {
        s.push_str(&format!("memcheck: {note}\n"));
    }
    s.push_str(&format!("memcheck: records in {}\n", o.jsonl.display()));
    s
}

/// `dbgpipe memcheck`, in `ws`.
pub fn run(flags: flags::Memcheck, ws: Workspace) -> anyhow::Result<Status> {
    let opts = Options {
        ws,
        place: flags.place,
        python: flags.python.path,
        // None given: the default (the interpreter's baseline).
        suppressions: Some(flags.suppressions.files).filter(|files| !files.is_empty()),
        projects: flags.project.patterns,
        fail_on: flags.fail_on,
        num_callers: flags.num_callers,
        baseline: flags.baseline,
        shard: flags.shard,
        command: flags.command.argv,
        ..Options::default()
    };
    let o = memcheck(&opts)?;
    tools::print(&report(&o))?;
    Ok(o.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `vg.PID.log` files with these preambles in a fresh folder.
    fn logs(name: &str, preambles: &[(u64, &str, Option<u64>)]) -> Vec<PathBuf> {
        let dir = std::env::temp_dir().join(format!("dbgpipe-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        preambles
            .iter()
            .map(|&(pid, command, parent)| {
                let path = dir.join(format!("vg.{pid}.log"));
                let mut text = format!("=={pid}== Memcheck, a memory error detector\n");
                text.push_str(&format!("=={pid}== Command: {command}\n"));
                if let Some(parent) = parent {
                    text.push_str(&format!("=={pid}== Parent PID: {parent}\n"));
                }
                std::fs::write(&path, text).unwrap();
                path
            })
            .collect()
    }

    #[test]
    fn the_interpreter_is_the_commands_not_a_workers_with_a_lower_pid() {
        // pytest -n 2 as a CI run wrote it: the process ids wrapped around past 32768, so a
        // worker (started by its full path) came before the command given.
        let wrapped = logs(
            "wrapped",
            &[
                (21857, "/usr/bin/uname -p", Some(28079)),
                (
                    2474,
                    "/usr/bin/python3.11-dbg -u -c import\\ sys",
                    Some(25304),
                ),
                (25304, "python3.11-dbg -m pytest -n 2 tests/", Some(25301)),
                (
                    28079,
                    "/usr/bin/python3.11-dbg -u -c import\\ sys",
                    Some(25304),
                ),
            ],
        );
        assert_eq!(
            interpreter_in_logs(&wrapped).as_deref(),
            Some("python3.11-dbg")
        );
        // A shell script started the interpreter: the first Python of all, by process id.
        let script = logs(
            "script",
            &[
                (300, "/usr/bin/python3.11 -c pass", Some(100)),
                (100, "/bin/sh run.sh", Some(1)),
                (200, "python3.11-dbg run.py", Some(100)),
            ],
        );
        assert_eq!(
            interpreter_in_logs(&script).as_deref(),
            Some("python3.11-dbg")
        );
        // Logs without the parent's line: by process id, as before.
        let bare = logs(
            "bare",
            &[
                (9, "/usr/bin/python3.11 x.py", None),
                (7, "python3.11-dbg y.py", None),
            ],
        );
        assert_eq!(
            interpreter_in_logs(&bare).as_deref(),
            Some("python3.11-dbg")
        );
        assert_eq!(
            interpreter_in_logs(&logs("none", &[(5, "/bin/true", None)])),
            None
        );
    }
}
