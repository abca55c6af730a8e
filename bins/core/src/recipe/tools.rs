//! What the recipes share: the dbgpipe binaries, programs on PATH, and long-running commands
//! with a progress line.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the tool binaries are, when set: `cargo xtask` and the tests point it at the
/// binaries cargo built.
static BIN_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Takes the tool binaries from `dir` from now on (once per process; a later call is
/// ignored).
pub fn use_bins_from(dir: &Path) {
    let _ = BIN_DIR.set(dir.to_path_buf());
}

/// The path of one of dbgpipe's tools (`vg-filter`, `bt-demangle`, …): from the directory
/// set by [`use_bins_from`], else beside the running program (where `cargo install` and pip
/// put them all), else on `PATH`.
pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    if let Some(dir) = BIN_DIR.get() {
        let path = dir.join(name);
        if !path.is_file() {
            bail!("{} was not built", path.display());
        }
        return Ok(path);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|path| path.is_file());
    beside.or_else(|| find_on_path(name)).with_context(|| {
        format!("{name} is neither beside this program nor on PATH: install dbgpipe's tools (pip install dbgpipe, or cargo install dbgpipe)")
    })
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

/// The system's CA bundle, where `update-ca-certificates` puts the authorities added under
/// `/usr/local/share/ca-certificates`.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `python -m pip install --quiet PACKAGES…`, quietly, into `python`'s environment.
///
/// pip verifies PyPI's certificate against `--cert`, and a TLS-intercepting proxy's authority
/// is in the system bundle but not in the certifi bundle a pip from PyPI carries. So unless
/// `PIP_CERT` already says otherwise, pip is given the system bundle: the same choice the
/// image's recipe makes (Debian's own pip uses that bundle anyway).
pub fn pip_install(python: &Path, packages: &[&str]) -> anyhow::Result<()> {
    let mut pip = Command::new(python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]);
    if std::env::var_os("PIP_CERT").is_none() && Path::new(SYSTEM_CA_BUNDLE).is_file() {
        pip.arg("--cert").arg(SYSTEM_CA_BUNDLE);
    }
    let out = pip
        .args(packages)
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "pip install {} failed (is PyPI reachable? behind a proxy, set PIP_CERT to its CA \
             bundle): {}",
            packages.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
