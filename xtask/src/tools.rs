//! What the recipes share: the dbgpipe binaries, output directories, and long-running
//! commands with a progress line.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use xshell::{cmd, Shell};

use crate::example::repo_root;

/// Builds the tool binaries once per process (`cargo build --bins`) and returns the path of
/// one of them.
pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(|| {
            let build = || -> anyhow::Result<PathBuf> {
                let sh = Shell::new()?;
                sh.change_dir(repo_root());
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                cmd!(sh, "{cargo} build --quiet --package dbgpipe --bins")
                    .quiet()
                    .run()?;
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| repo_root().join("target"));
                Ok(target.join("debug"))
            };
            build().map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(anyhow::Error::msg)?;
    let path = dir.join(name);
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

/// `target/dbgpipe/<task>/`, emptied of a previous run's files so that no stale log is read.
pub fn task_dir(task: &str) -> anyhow::Result<PathBuf> {
    let dir = repo_root().join("target").join("dbgpipe").join(task);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// The first of `names` found on `PATH`, or an error saying which package brings it.
pub fn require(name: &str, package: &str) -> anyhow::Result<PathBuf> {
    find_on_path(name)
        .with_context(|| format!("{name} not found: install it (apt-get install {package})"))
}

/// A program on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs a long command (valgrind takes minutes on real test suites), printing every
/// `every` a line with what runs, for how long, and how large its logs are so far.
///
/// Spawned with std rather than xshell because xshell 0.2 cannot wait with a timeout.
pub fn run_with_progress(
    what: &str,
    mut command: Command,
    logs: &dyn Fn() -> u64,
    every: Duration,
) -> anyhow::Result<ExitStatus> {
    let start = Instant::now();
    let mut child: Child = command
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let mut next = every;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(200));
        if start.elapsed() >= next {
            next += every;
            eprintln!(
                "  … {what}: running for {}s, logs {:.1} MB so far",
                start.elapsed().as_secs(),
                logs() as f64 / 1e6
            );
        }
    }
}

/// Total size of the files in `dir` whose names start with `prefix`.
pub fn size_of_logs(dir: &Path, prefix: &str) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Files in `dir` whose names start with `prefix`, sorted.
pub fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A process's exit code, or 128 + the signal that ended it (as a shell reports it).
pub fn code_of(status: &ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(2)
}

/// Fails when a command run through `run-in-image` could not run at all: 125 is the engine
/// failing, 126/127 the command not runnable or not found inside (run-in-image's own statuses).
pub fn check_ran(what: &str, in_image: bool, status: &ExitStatus) -> anyhow::Result<()> {
    let code = code_of(status);
    if in_image && (125..=127).contains(&code) {
        bail!("{what} could not run in the image (run-in-image exited with {code})");
    }
    if !in_image && code == 127 {
        bail!("{what} was not found");
    }
    Ok(())
}

/// Writes a task's report to stdout. An error (a closed pipe included, which `main` takes
/// for a reader that had enough) goes back to the caller instead of panicking as `print!`
/// would.
pub fn print(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Whether `error` is, or was caused by, writing to a closed pipe.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// This process's stderr as a child's stdout, so that a program's chatter does not mix with
/// the task's report on stdout.
pub fn stderr_as_stdout() -> std::process::Stdio {
    use std::os::fd::AsFd;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::process::Stdio::from)
        .unwrap_or_else(|_| std::process::Stdio::inherit())
}
