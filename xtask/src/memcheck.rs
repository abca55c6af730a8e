//! `cargo xtask memcheck [--python PATH] [--root DIR] [--suppressions FILE]… [-- CMD…]`: the
//! Memcheck recipe.
//!
//! The manual recipe is `PYTHONMALLOC=malloc valgrind --leak-check=full --suppressions=… CMD`
//! followed by reading thousands of records. Here valgrind writes one log per process
//! (`--trace-children=yes --log-file=…/vg.%p.log`, so no process's report overwrites
//! another's), `vg-filter --project` keeps the records that touch the project, and a short
//! summary names each at its source line. Without a command it runs the bundled example's
//! planted defects.
//!
//! Leaves `target/dbgpipe/memcheck/`: `vg.<pid>.log` (raw), `records.jsonl` (vg-filter's
//! output). Exit status follows vg-filter: 0 nothing kept, 1 findings.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::example::{self, repo_root};
use crate::flags;
use crate::place::{self, PlaceOpts};
use crate::records::{self, VgError, VgFilter, VgSummary};
use crate::tools;
use crate::Status;

/// What to run under Memcheck.
#[derive(Debug, Clone)]
pub struct Options {
    /// Interpreter for the example (default: the debug interpreter).
    pub python: Option<PathBuf>,
    /// Suppression files; default: the shipped baseline for the interpreter, when there is one.
    pub suppressions: Option<Vec<PathBuf>>,
    /// The command; empty runs the example's `run.py` with `example_args`.
    pub command: Vec<String>,
    /// Arguments to the example driver when no command is given.
    pub example_args: Vec<String>,
    /// Project root for `--project` (default: the current directory, or the checkout for the
    /// example).
    pub root: Option<PathBuf>,
    /// Output directory name under `target/dbgpipe/`.
    pub task: String,
    /// More vg-filter arguments (the suppressions task adds `--gen-suppressions=FILE`).
    pub filter_args: Vec<String>,
    /// Here, or in the image.
    pub place: PlaceOpts,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            python: None,
            suppressions: None,
            command: Vec::new(),
            example_args: vec!["all-defects".into()],
            root: None,
            task: "memcheck".into(),
            filter_args: Vec::new(),
            place: PlaceOpts::default(),
        }
    }
}

/// What a run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// `target/dbgpipe/<task>/`.
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
    /// The suppression files vg-filter applied.
    pub suppressions: Vec<PathBuf>,
}

/// The shipped baseline suppressions for an interpreter: `suppressions/<name>.supp`.
pub fn shipped_suppressions(python: &Path) -> Option<PathBuf> {
    let name = python.file_name()?.to_string_lossy().into_owned();
    let path = repo_root()
        .join("suppressions")
        .join(format!("{name}.supp"));
    path.is_file().then_some(path)
}

/// Runs the recipe.
pub fn memcheck(opts: &Options) -> anyhow::Result<Outcome> {
    let host_python = opts.python.clone().unwrap_or_else(place::debug_python);
    let mut needs = vec![place::need_program("valgrind", "valgrind")];
    match opts.command.first() {
        None => needs.push(place::need_example(&host_python, false)),
        Some(program) => needs.push(place::need_command(program)),
    }
    let place = place::choose("memcheck", &needs, &opts.place)?;
    let python = place.debug_python(opts.python.as_deref());
    let vg_filter = tools::bin("vg-filter")?;
    let dir = tools::task_dir(&opts.task)?;
    let (argv, mut env, root, python): (Vec<String>, Vec<(String, std::ffi::OsString)>, _, _) =
        if opts.command.is_empty() {
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
                Some(ex.python),
            )
        } else {
            let root = std::env::current_dir()?;
            (opts.command.clone(), Vec::new(), root, None)
        };
    let root = opts.root.clone().unwrap_or(root);
    let supps = match &opts.suppressions {
        Some(s) => s.clone(),
        None => python
            .as_deref()
            .and_then(shipped_suppressions)
            .into_iter()
            .collect(),
    };

    let mut vg_argv: Vec<std::ffi::OsString> = [
        "valgrind",
        "--leak-check=full",
        "--show-leak-kinds=all",
        "--track-origins=yes",
        "--num-callers=30",
        // Full source paths, so that vg-filter --project can tell the project's files.
        "--fullpath-after=",
        "--trace-children=yes",
    ]
    .iter()
    .map(Into::into)
    .collect();
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
    let status = tools::run_with_progress(
        "valgrind",
        vg,
        &|| tools::size_of_logs(&logs_dir, "vg."),
        Duration::from_secs(10),
    )?;
    tools::check_ran("valgrind", place.is_image(), &status)?;
    eprintln!("memcheck: the program exited with {status}");
    let logs = tools::files_starting(&dir, "vg.");
    if logs.is_empty() {
        anyhow::bail!("valgrind wrote no log into {}", dir.display());
    }

    let jsonl = dir.join("records.jsonl");
    let out = std::fs::File::create(&jsonl)?;
    let mut filter = Command::new(&vg_filter);
    filter.arg("--project").arg("--root").arg(&root);
    for s in &supps {
        filter.arg("--suppressions").arg(s);
    }
    let filtered = filter
        .args(&opts.filter_args)
        .args(&logs)
        .stdout(out)
        .status()
        .context("running vg-filter")?;
    let status = Status::of_code(filtered.code().unwrap_or(2));
    if status == Status::CouldNotRun {
        anyhow::bail!("vg-filter failed with {filtered}");
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
        suppressions: supps,
    })
}

/// The short human summary: one line per kept record, then the counts.
pub fn report(o: &Outcome) -> String {
    let mut s = String::new();
    for r in &o.records {
        let frame = r.project_frame.clone().unwrap_or_default();
        let place = match (&frame.function, &frame.file, frame.line) {
            (Some(f), Some(file), Some(line)) => {
                let file = Path::new(file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{f} ({file}:{line})")
            }
            (Some(f), _, _) => f.to_string(),
            _ => "?".into(),
        };
        let size = r.bytes.map(|b| format!(" {b} bytes")).unwrap_or_default();
        s.push_str(&format!("  {:<22} {place}{size}\n", r.kind));
    }
    let n = &o.summary;
    s.push_str(&format!(
        "memcheck: {} of {} records are the project's ({} suppressed, {} elsewhere); {} log(s)\n",
        n.kept,
        n.records,
        n.suppressed,
        n.not_project,
        o.logs.len()
    ));
    s.push_str(&format!("memcheck: records in {}\n", o.jsonl.display()));
    s
}

/// `cargo xtask memcheck`.
pub fn run(flags: flags::Memcheck) -> anyhow::Result<Status> {
    let opts = Options {
        place: flags.place,
        python: flags.python.path,
        // None given: the default (the shipped baseline, for the example).
        suppressions: Some(flags.suppressions.files).filter(|files| !files.is_empty()),
        root: flags.root.dir,
        command: flags.command.argv,
        ..Options::default()
    };
    let o = memcheck(&opts)?;
    tools::print(&report(&o))?;
    Ok(o.status)
}
