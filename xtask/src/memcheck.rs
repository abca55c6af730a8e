//! `cargo xtask memcheck [--python PATH] [--suppressions FILE] [-- CMD…]`: the Memcheck recipe.
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
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use crate::example::{self, repo_root};
use crate::place::{self, PlaceOpts};
use crate::tools;
use crate::UsageError;

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
    pub records: Vec<Value>,
    /// vg-filter's summary record.
    pub summary: Value,
    /// vg-filter's exit status.
    pub status: i32,
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
    let status = filtered.code().unwrap_or(2);
    if status > 1 {
        anyhow::bail!("vg-filter failed with {filtered}");
    }
    let text = std::fs::read_to_string(&jsonl)?;
    let lines: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let summary = lines
        .last()
        .cloned()
        .context("vg-filter wrote no summary")?;
    let records = lines.into_iter().filter(|r| r["type"] == "error").collect();
    Ok(Outcome {
        dir,
        logs,
        jsonl,
        records,
        summary,
        status,
        place: place.describe(),
        suppressions: supps,
    })
}

/// The short human summary: one line per kept record, then the counts.
pub fn report(o: &Outcome) -> String {
    let mut s = String::new();
    for r in &o.records {
        let pf = &r["project_frame"];
        let place = match (
            pf["function"].as_str(),
            pf["file"].as_str(),
            pf["line"].as_u64(),
        ) {
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
        let size = r["bytes"]
            .as_u64()
            .map(|b| format!(" {b} bytes"))
            .unwrap_or_default();
        s.push_str(&format!(
            "  {:<22} {place}{size}\n",
            r["kind"].as_str().unwrap_or("?")
        ));
    }
    let n = |k: &str| o.summary[k].as_u64().unwrap_or(0);
    s.push_str(&format!(
        "memcheck: {} of {} records are the project's ({} suppressed, {} elsewhere); {} log(s)\n",
        n("kept"),
        n("records"),
        n("suppressed"),
        n("not_project"),
        o.logs.len()
    ));
    s.push_str(&format!("memcheck: records in {}\n", o.jsonl.display()));
    s
}

/// `cargo xtask memcheck`.
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
            "--suppressions" => opts
                .suppressions
                .get_or_insert_with(Vec::new)
                .push(value("--suppressions")?.into()),
            "--root" => opts.root = Some(value("--root")?.into()),
            "--" => {
                opts.command = it.by_ref().cloned().collect();
                break;
            }
            "-h" | "--help" => {
                println!("{HELP}\n\n{}", place::RULE);
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(UsageError(format!("unexpected argument `{other}`")).into()),
        }
    }
    let o = memcheck(&opts)?;
    print!("{}", report(&o));
    Ok(ExitCode::from(o.status as u8))
}

/// Help text of the task.
pub const HELP: &str = "\
usage: cargo xtask memcheck [--host | --image TAG] [--python PATH] [--suppressions FILE]...
                            [--root DIR] [-- CMD ARGS...]

Runs CMD (default: the bundled example's planted defects on python3.11-dbg) under Valgrind
Memcheck with PYTHONMALLOC=malloc, one log per process, and keeps the records that touch the
project (vg-filter --project; root: the current directory). Suppressions default to the
shipped baseline for the interpreter (suppressions/<python>.supp) when there is one.
Leaves target/dbgpipe/memcheck/{vg.<pid>.log,records.jsonl}.
Exit status: 0 nothing kept, 1 records kept, 2 the recipe could not run.";
