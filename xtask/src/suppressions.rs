//! `cargo xtask suppressions [--python PATH]... [--root DIR] [-- CMD…]`: the baseline
//! suppression files.
//!
//! Runs the bare interpreter's side of the example (`run.py clean`: startup, imports, a clean
//! call, shutdown) under Memcheck, and keeps what is *not* the project's as a generated
//! suppression file, `suppressions/<interpreter>.supp`, which `cargo xtask memcheck` then
//! applies for that interpreter. Instead of a half-megabyte file of one 12-frame entry per
//! record, each entry is cut to the frames that identify the interpreter's own caller (see
//! `vg-filter --gen-suppressions`).

use anyhow::Context;
use std::path::{Path, PathBuf};

use crate::example::{self, repo_root};
use crate::flags;
use crate::memcheck::{self, Options};
use crate::tools;
use crate::Status;

/// The interpreters a baseline is made for by default: the debug build and the release
/// build, where installed.
pub fn default_pythons() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = example::debug_python().into_iter().collect();
    let release = PathBuf::from("/usr/bin/python3.11");
    if release.is_file() {
        v.push(release);
    }
    v
}

/// Makes `suppressions/<name>.supp` for one interpreter from a run of `command` (empty: the
/// example's clean entry point), leaving out the records of the project under `root`
/// (default: as memcheck's); returns its path and entry count.
pub fn generate(
    python: &Path,
    command: &[String],
    root: Option<&Path>,
) -> anyhow::Result<(PathBuf, usize)> {
    let name = python
        .file_name()
        .context("interpreter path has no file name")?
        .to_string_lossy()
        .into_owned();
    let dest = repo_root()
        .join("suppressions")
        .join(format!("{name}.supp"));
    let body = tools::task_dir("suppressions")?.join(format!("{name}.supp"));
    let o = memcheck::memcheck(&Options {
        python: Some(python.to_path_buf()),
        // Generate from the unsuppressed run: the old file must not hide what it should cover.
        suppressions: Some(Vec::new()),
        command: command.to_vec(),
        example_args: vec!["clean".into()],
        task: format!("suppressions-{name}"),
        filter_args: vec![
            format!("--gen-suppressions={}", body.display()),
            format!("--supp-name={name}"),
        ],
        root: root.map(Path::to_path_buf),
        // The baseline is this machine's interpreter's: never another one's in an image.
        place: crate::place::PlaceOpts {
            host: true,
            image: None,
        },
    })?;
    let version = std::process::Command::new(python)
        .args(["-c", "import sys; print(sys.version.split()[0], 'debug' if hasattr(sys, 'gettotalrefcount') else 'release')"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let valgrind = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let workload = if command.is_empty() {
        "examples/dbgpipe_example/run.py clean".to_string()
    } else {
        command.join(" ")
    };
    let generated = std::fs::read_to_string(&body)
        .with_context(|| format!("vg-filter wrote no {}", body.display()))?;
    let entries = generated.lines().filter(|l| *l == "{").count();
    let text = format!(
        "# Baseline Memcheck suppressions for {name} (Python {version}), {valgrind}.\n\
         # Made by `cargo xtask suppressions`: PYTHONMALLOC=malloc valgrind --leak-check=full\n\
         # --show-leak-kinds=all on `{workload}`, then vg-filter --project --gen-suppressions.\n\
         # They cover what the interpreter reports on its own ({} of {} records), and none of\n\
         # the project's. Regenerate after the interpreter or valgrind is upgraded.\n{generated}",
        o.summary.not_project, o.summary.records
    );
    std::fs::create_dir_all(dest.parent().unwrap_or(&repo_root()))?;
    std::fs::write(&dest, text).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok((dest, entries))
}

/// `cargo xtask suppressions`.
pub fn run(flags: flags::Suppressions) -> anyhow::Result<Status> {
    let mut pythons = flags.pythons.paths;
    if pythons.is_empty() {
        pythons = default_pythons();
    }
    if pythons.is_empty() {
        anyhow::bail!("no python3.11-dbg or python3.11 found: apt-get install python3.11-dbg");
    }
    for python in &pythons {
        let (path, entries) = generate(python, &flags.command.argv, flags.root.dir.as_deref())?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        tools::print(&format!(
            "suppressions: {} ({entries} entries, {size} bytes)\n",
            path.display()
        ))?;
    }
    Ok(Status::Clean)
}
