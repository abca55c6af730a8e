//! ptrace-fix: whether a debugger can trace here, why not, and the fix.
//!
//! gdb runs a program by forking a child that calls `PTRACE_TRACEME`, and attaches to a
//! running one with `PTRACE_ATTACH`. Four things decide whether the kernel allows that:
//! - **Yama** (`/proc/sys/kernel/yama/ptrace_scope`): 0 classic (same user); 1 only a
//!   process's own descendants, unless the tracer has `CAP_SYS_PTRACE` (so running under gdb
//!   works and `gdb -p PID` does not); 2 only tracers with `CAP_SYS_PTRACE`, for both; 3 none
//!   at all, and the value cannot be lowered until reboot. Absent when the kernel has no Yama.
//! - **`CAP_SYS_PTRACE`** in the effective set (`CapEff` of `/proc/self/status`): what root
//!   has on a host and what a container lacks unless given `--cap-add=SYS_PTRACE`.
//! - **seccomp** (`Seccomp` of the status): a filter (2) is what container engines install;
//!   their default profiles allow `ptrace` on kernels from 4.8 but refuse the
//!   `personality(ADDR_NO_RANDOMIZE)` call by which gdb turns address-space randomisation
//!   off, hence gdb's warning `Error disabling address space randomization`.
//! - **a container** ([`crate::ptrace::container`]): the host's Yama setting applies inside, and the
//!   fix is a flag of the engine.
//!
//! The verdict is inferred from these facts; on the real machine it is also checked by
//! running `gdb -batch -ex run --args true` when gdb is installed, which decides.
//!
//! `--apply` lowers ptrace_scope 1 or 2 to 0 until reboot and remembers the previous value in
//! `/run/dbgpipe/ptrace_scope.before` (`/run` is emptied at boot, as the setting is);
//! `--persist` writes `/etc/sysctl.d/90-dbgpipe-ptrace.conf`; `--revert` undoes both, and only
//! what ptrace-fix did.

pub mod container;
pub mod status;

use crate::input::{read_file_capped, MAX_SMALL_FILE};
use crate::Error;
use container::Evidence;
use serde::Serialize;
use status::CAP_SYS_PTRACE;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the files live: the real ones by default, fake trees in tests.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `/proc`.
    pub proc_root: PathBuf,
    /// `/etc/sysctl.d`.
    pub sysctl_dir: PathBuf,
    /// `/run`.
    pub run_dir: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            proc_root: PathBuf::from("/proc"),
            sysctl_dir: PathBuf::from("/etc/sysctl.d"),
            run_dir: PathBuf::from("/run"),
        }
    }
}

/// The sysctl file `--persist` writes.
pub const PERSIST_FILE: &str = "90-dbgpipe-ptrace.conf";

impl Paths {
    /// The Yama setting.
    pub fn yama(&self) -> PathBuf {
        self.proc_root.join("sys/kernel/yama/ptrace_scope")
    }

    /// `--persist`'s file.
    pub fn persist_file(&self) -> PathBuf {
        self.sysctl_dir.join(PERSIST_FILE)
    }

    /// Where `--apply` remembers the value it replaced.
    pub fn state_file(&self) -> PathBuf {
        self.run_dir.join("dbgpipe/ptrace_scope.before")
    }

    /// True when these are the machine's own files, so that running gdb tells about them.
    pub fn is_real(&self) -> bool {
        self.proc_root == Path::new("/proc")
    }
}

/// What this machine says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Yama's ptrace_scope, `None` when Yama is absent.
    pub yama: Option<u8>,
    /// `CAP_SYS_PTRACE` in the effective set.
    pub cap_sys_ptrace: bool,
    /// Seccomp mode (0 none, 1 strict, 2 filter); `None` when the kernel does not say.
    pub seccomp: Option<u8>,
    /// `no_new_privs`.
    pub no_new_privs: Option<bool>,
    /// Effective uid.
    pub euid: Option<u32>,
    /// Why we think we are in a container.
    pub container: Option<Evidence>,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: Option<String>,
}

/// Reads the facts under `paths`.
pub fn gather(paths: &Paths) -> Result<Facts, Error> {
    let yama_path = paths.yama();
    // Capped reads: with --proc-root these are any files.
    let yama_name = yama_path.display().to_string();
    let yama_text = std::fs::File::open(&yama_path).and_then(|file| {
        crate::input::read_to_end_capped(&yama_name, file, MAX_SMALL_FILE)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| std::io::Error::other(e.message))
    });
    let yama = match yama_text {
        Ok(text) => Some(
            text.trim()
                .parse::<u8>()
                .ok()
                .filter(|v| *v <= 3)
                .ok_or_else(|| {
                    Error::at(
                        &yama_path.display().to_string(),
                        Some(1),
                        format!("malformed ptrace_scope {:?} (expected 0 to 3)", text.trim()),
                    )
                })?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&yama_path.display().to_string(), &e)),
    };
    let status = status::read(&paths.proc_root.join("self/status"))?;
    let kernel = read_file_capped(
        &paths.proc_root.join("sys/kernel/osrelease"),
        MAX_SMALL_FILE,
    )
    .ok()
    .map(|s| String::from_utf8_lossy(&s).trim().to_string())
    .filter(|s| !s.is_empty());
    Ok(Facts {
        yama,
        cap_sys_ptrace: status.has_capability(CAP_SYS_PTRACE).unwrap_or(false),
        seccomp: status.seccomp,
        no_new_privs: status.no_new_privs,
        euid: status.euid(),
        container: container::detect(&paths.proc_root),
        kernel,
    })
}

/// `major.minor` of a kernel release string (`6.1.0-18-amd64`).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// What the facts mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// gdb can run a program under it (`gdb --args prog`, `-ex run`).
    pub can_run: bool,
    /// gdb can attach to a running process of the same user (`gdb -p PID`).
    pub can_attach: bool,
    /// gdb can turn address-space randomisation off.
    pub aslr_disable: bool,
    /// One sentence.
    pub verdict: String,
    /// The facts that decided, in words.
    pub reasons: Vec<String>,
    /// What to do, most useful first.
    pub fixes: Vec<String>,
}

/// The verdict from the facts alone.
pub fn assess(f: &Facts) -> Assessment {
    let cap = f.cap_sys_ptrace;
    let filter = f.seccomp == Some(2);
    let old_kernel = f
        .kernel
        .as_deref()
        .and_then(kernel_version)
        .is_some_and(|v| v < (4, 8));
    let mut can_run = match f.yama {
        Some(3) => false,
        Some(2) => cap,
        _ => true,
    } && f.seccomp != Some(1);
    // Before kernel 4.8 a seccomp filter could be bypassed through ptrace, so docker's
    // default profile allowed ptrace only with CAP_SYS_PTRACE.
    if filter && !cap && old_kernel {
        can_run = false;
    }
    let can_attach = can_run
        && match f.yama {
            None | Some(0) => true,
            Some(1) | Some(2) => cap,
            _ => false,
        };
    let aslr_disable = !filter && f.seccomp != Some(1);

    let mut reasons = Vec::new();
    reasons.push(match f.yama {
        None => "Yama is absent: the classic rule applies (same user, or CAP_SYS_PTRACE)".to_string(),
        Some(0) => "Yama ptrace_scope 0: any process may trace processes of its own user".into(),
        Some(1) => "Yama ptrace_scope 1: a process may trace only its own descendants, unless it has CAP_SYS_PTRACE".into(),
        Some(2) => "Yama ptrace_scope 2: only processes with CAP_SYS_PTRACE may trace".into(),
        Some(n) => format!("Yama ptrace_scope {n}: no process may trace, and it cannot be lowered until reboot"),
    });
    reasons.push(if cap {
        "CAP_SYS_PTRACE is in the effective set".into()
    } else {
        "CAP_SYS_PTRACE is not in the effective set".into()
    });
    reasons.push(match f.seccomp {
        Some(0) => "no seccomp filter".to_string(),
        Some(1) => "seccomp strict mode: only read, write and exit are allowed".into(),
        Some(_) => "a seccomp filter is active (container engines' default profiles allow ptrace on kernels from 4.8 but refuse disabling address-space randomisation)".into(),
        None => "the kernel does not report seccomp".into(),
    });
    if let Some(c) = &f.container {
        reasons.push(format!("inside a {} container ({})", c.kind, c.source));
    }

    let mut fixes = Vec::new();
    let in_container = f.container.is_some();
    if !can_run || !can_attach {
        match f.yama {
            Some(3) => fixes.push(
                "ptrace_scope 3 stays until reboot: `sudo ptrace-fix --persist` writes kernel.yama.ptrace_scope = 0 to /etc/sysctl.d, then reboot"
                    .to_string(),
            ),
            Some(1) | Some(2) if !cap => {
                if in_container {
                    fixes.push("the host's ptrace_scope applies in containers: give the container CAP_SYS_PTRACE (`run-in-image --ptrace`, i.e. --cap-add=SYS_PTRACE --security-opt seccomp=unconfined), or lower it on the host (`sudo ptrace-fix --apply` there)".into());
                } else {
                    fixes.push("`sudo ptrace-fix --apply` sets kernel.yama.ptrace_scope = 0 until reboot (`--persist` keeps it; `--revert` undoes both), or run gdb as root".into());
                }
                if f.yama == Some(1) {
                    fixes.push("or start the program under gdb (`gdb --args prog …`), which ptrace_scope 1 allows, instead of attaching".into());
                }
            }
            _ => {}
        }
        if in_container && !cap && !fixes.iter().any(|f| f.contains("--cap-add")) {
            fixes.push("run the container with --cap-add=SYS_PTRACE --security-opt seccomp=unconfined (`run-in-image --ptrace`), never --privileged".into());
        }
        if f.seccomp == Some(1) || (filter && !in_container && !can_run) {
            fixes.push("a seccomp filter inherited from the parent process refuses ptrace (a sandbox, systemd's SystemCallFilter=): run gdb outside it".into());
        }
    }
    if !aslr_disable && can_run {
        fixes.push("gdb will warn `Error disabling address space randomization` and run with randomisation on, which is harmless; `--security-opt seccomp=unconfined` (run-in-image --ptrace) or gdb's `set disable-randomization off` silences it".into());
    }

    let verdict = if can_run && can_attach {
        "gdb can run programs and attach to running processes here".to_string()
    } else if can_run {
        "gdb can run programs here, but attaching to a running process (gdb -p) is refused"
            .to_string()
    } else {
        format!(
            "gdb cannot trace here: {}",
            reasons
                .iter()
                .find(|r| !r.starts_with("no seccomp") && !r.starts_with("CAP_SYS_PTRACE is in"))
                .cloned()
                .unwrap_or_default()
        )
    };
    Assessment {
        can_run,
        can_attach,
        aslr_disable,
        verdict,
        reasons,
        fixes,
    }
}

/// What running gdb here showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The program ran to its end under gdb.
    pub ok: bool,
    /// The line of gdb's output that says so (or why not).
    pub message: String,
}

/// Runs `gdb -nx -batch -ex run --args true`, or `None` when gdb is not installed.
pub fn probe() -> Option<Probe> {
    let gdb = crate::image::engine::find_program("gdb")?;
    let truth = crate::image::engine::find_program("true")?;
    let mut child = Command::new(gdb)
        .args(["-nx", "-batch", "-ex", "run", "--args"])
        .arg(truth)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let start = Instant::now();
    // gdb waits forever on a stopped child in some broken setups: bound the wait.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    let ok = status.is_some() && text.contains("exited normally");
    let message = text
        .lines()
        .map(str::trim)
        .find(|l| symptom(l).is_some_and(|s| s.blocking()))
        .or_else(|| {
            text.lines()
                .map(str::trim)
                .find(|l| l.contains("exited normally"))
        })
        .or_else(|| text.lines().map(str::trim).rfind(|l| !l.is_empty()))
        .unwrap_or(if status.is_none() {
            "gdb did not finish in 60 s"
        } else {
            "gdb printed nothing"
        })
        .to_string();
    Some(Probe { ok, message })
}

/// A line of gdb's output that says ptrace failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symptom {
    /// `Could not attach to process.` (`gdb -p`).
    AttachDenied,
    /// `Could not trace the inferior process.` (`run`).
    TraceDenied,
    /// `ptrace: Operation not permitted.`, after either of the above.
    PtraceEperm,
    /// `Error disabling address space randomization: Operation not permitted`.
    Aslr,
}

impl Symptom {
    /// Its name in records.
    pub fn name(self) -> &'static str {
        match self {
            Symptom::AttachDenied => "attach_denied",
            Symptom::TraceDenied => "trace_denied",
            Symptom::PtraceEperm => "ptrace_eperm",
            Symptom::Aslr => "aslr_not_disabled",
        }
    }

    /// Whether it stops the debugger (the ASLR warning does not).
    pub fn blocking(self) -> bool {
        self != Symptom::Aslr
    }
}

/// The symptom a line of gdb's output shows, if any.
pub fn symptom(line: &str) -> Option<Symptom> {
    if line.contains("Could not attach to process") {
        Some(Symptom::AttachDenied)
    } else if line.contains("Could not trace the inferior process") {
        Some(Symptom::TraceDenied)
    } else if line.contains("ptrace: Operation not permitted") {
        Some(Symptom::PtraceEperm)
    } else if line.contains("Error disabling address space randomization") {
        Some(Symptom::Aslr)
    } else {
        None
    }
}

/// One symptom found in the input.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Diagnosis {
    /// Always `diagnosis`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The symptom's name.
    pub symptom: &'static str,
    /// The input it was found in.
    pub input: String,
    /// Its first line there.
    pub line: u64,
    /// How many lines showed it.
    pub count: u64,
    /// The line, trimmed.
    pub text: String,
    /// Whether it stops the debugger.
    pub blocking: bool,
    /// Why, given what this machine says.
    pub cause: String,
    /// What to do.
    pub fix: String,
}

/// Collects symptoms from gdb's output, one diagnosis per symptom.
#[derive(Debug, Default)]
pub struct Scanner {
    found: Vec<(Symptom, String, u64, u64, String)>,
}

impl Scanner {
    /// Looks at one line of input `input`, line number `line`.
    pub fn line(&mut self, input: &str, line: u64, text: &str) {
        if let Some(s) = symptom(text) {
            match self.found.iter_mut().find(|f| f.0 == s) {
                Some(f) => f.3 += 1,
                None => self
                    .found
                    .push((s, input.to_string(), line, 1, text.trim().to_string())),
            }
        }
    }

    /// The diagnoses, their causes named with the facts of this machine.
    pub fn finish(self, facts: &Facts) -> Vec<Diagnosis> {
        let running = self.found.iter().any(|f| f.0 == Symptom::TraceDenied);
        self.found
            .iter()
            .map(|(s, input, line, count, text)| {
                // `ptrace: Operation not permitted` follows both failures; it is about running
                // when gdb also said it could not trace the inferior.
                let attach = match s {
                    Symptom::AttachDenied => true,
                    Symptom::PtraceEperm => !running,
                    _ => false,
                };
                let (cause, fix) = match s {
                    Symptom::Aslr => aslr_cause(facts),
                    _ if attach => attach_cause(facts),
                    _ => run_cause(facts),
                };
                Diagnosis {
                    kind: "diagnosis",
                    symptom: s.name(),
                    input: input.clone(),
                    line: *line,
                    count: *count,
                    text: text.clone(),
                    blocking: s.blocking(),
                    cause,
                    fix,
                }
            })
            .collect()
    }
}

const ELSEWHERE: &str = "this machine would allow it, so gdb ran elsewhere (a container, a CI runner, another user's session): run ptrace-fix there";

fn aslr_cause(f: &Facts) -> (String, String) {
    let cause = if f.seccomp == Some(2) {
        "a seccomp filter (here: a container's default profile) refuses personality(ADDR_NO_RANDOMIZE), so gdb runs the program with address-space randomisation on".to_string()
    } else {
        format!(
            "a seccomp filter refused personality(ADDR_NO_RANDOMIZE) where gdb ran; {ELSEWHERE}"
        )
    };
    (
        cause,
        "harmless (addresses differ between runs); run the container with --security-opt seccomp=unconfined (`run-in-image --ptrace`), or `set disable-randomization off` in gdb to silence it".into(),
    )
}

fn attach_cause(f: &Facts) -> (String, String) {
    let container = f.container.is_some();
    match f.yama {
        Some(3) => (
            "Yama ptrace_scope 3 forbids all tracing until reboot".into(),
            "`sudo ptrace-fix --persist`, then reboot".into(),
        ),
        Some(n @ (1 | 2)) if !f.cap_sys_ptrace => (
            if n == 1 {
                "Yama ptrace_scope 1 lets a process trace only its own descendants, and gdb -p attaches to one that is not".to_string()
            } else {
                "Yama ptrace_scope 2 lets only processes with CAP_SYS_PTRACE trace".to_string()
            },
            if container {
                "`run-in-image --ptrace` (CAP_SYS_PTRACE for the container), or `sudo ptrace-fix --apply` on the host".into()
            } else {
                "`sudo ptrace-fix --apply` (ptrace_scope 0 until reboot; `--revert` undoes it), or attach as root, or start the program under gdb instead".into()
            },
        ),
        _ if container && !f.cap_sys_ptrace => (
            "the container lacks CAP_SYS_PTRACE, which attaching to a process of another user (or under Yama) needs".into(),
            "`run-in-image --ptrace` (--cap-add=SYS_PTRACE --security-opt seccomp=unconfined)".into(),
        ),
        _ => (
            format!("the target runs as another user, is not dumpable (setuid, prctl), or is already traced; otherwise {ELSEWHERE}"),
            "attach as the target's user or as root; check /proc/PID/status TracerPid".into(),
        ),
    }
}

fn run_cause(f: &Facts) -> (String, String) {
    let a = assess(f);
    match f.yama {
        Some(3) => (
            "Yama ptrace_scope 3 forbids all tracing, PTRACE_TRACEME included, until reboot".into(),
            "`sudo ptrace-fix --persist`, then reboot".into(),
        ),
        Some(2) if !f.cap_sys_ptrace => (
            "Yama ptrace_scope 2 lets only processes with CAP_SYS_PTRACE trace, PTRACE_TRACEME included".into(),
            "`sudo ptrace-fix --apply`, or run gdb as root (in a container: `run-in-image --ptrace`)".into(),
        ),
        _ if !a.can_run && f.seccomp.is_some_and(|m| m >= 1) => (
            "a seccomp filter refuses ptrace (an old container default profile, or a sandbox's)".into(),
            "run the container with --cap-add=SYS_PTRACE --security-opt seccomp=unconfined (`run-in-image --ptrace`), or gdb outside the sandbox".into(),
        ),
        _ => (
            format!("ptrace(PTRACE_TRACEME) was refused where gdb ran; {ELSEWHERE}"),
            "in a container: `run-in-image --ptrace` (--cap-add=SYS_PTRACE --security-opt seccomp=unconfined)".into(),
        ),
    }
}

/// One thing `--apply`, `--persist` or `--revert` did, or found it need not do.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    /// Always `change`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `apply`, `persist` or `revert`.
    pub action: &'static str,
    /// The file.
    pub path: String,
    /// Whether it changed.
    pub changed: bool,
    /// The value before (ptrace_scope, or the file's content's setting).
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
    /// What happened, and how to undo it.
    pub message: String,
}

fn change(
    action: &'static str,
    path: &Path,
    changed: bool,
    from: Option<String>,
    to: Option<String>,
    message: String,
) -> Change {
    Change {
        kind: "change",
        action,
        path: path.display().to_string(),
        changed,
        from,
        to,
        message,
    }
}

fn require_root(facts: &Facts, flag: &str) -> Result<(), Error> {
    match facts.euid {
        Some(0) => Ok(()),
        Some(uid) => Err(Error::at(
            flag,
            None,
            format!("needs root (effective uid {uid}): run it with sudo"),
        )),
        None => Err(Error::at(
            flag,
            None,
            "cannot tell the effective uid from /proc/self/status",
        )),
    }
}

/// A write error in words: read-only in a container, refused without root.
fn write_error(path: &Path, e: &std::io::Error, container: bool) -> Error {
    let name = path.display().to_string();
    match e.raw_os_error() {
        Some(30) if container => Error::at(
            &name,
            None,
            "read-only inside a container: change it on the host",
        ),
        _ => Error::io(&name, e),
    }
}

/// `--apply`: ptrace_scope 1 or 2 → 0 until reboot.
pub fn apply(paths: &Paths, facts: &Facts) -> Result<Change, Error> {
    require_root(facts, "--apply")?;
    let yama = paths.yama();
    match facts.yama {
        None => Ok(change(
            "apply",
            &yama,
            false,
            None,
            None,
            "Yama is absent: nothing to lower".into(),
        )),
        Some(0) => Ok(change(
            "apply",
            &yama,
            false,
            Some("0".into()),
            Some("0".into()),
            "ptrace_scope is already 0".into(),
        )),
        Some(3) => Err(Error::at(
            "--apply",
            None,
            "ptrace_scope 3 cannot be lowered before a reboot: `ptrace-fix --persist`, then reboot",
        )),
        Some(n) => {
            let state = paths.state_file();
            // Keep the value from before the first --apply when applied twice.
            if !state.exists() {
                if let Some(dir) = state.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| write_error(dir, &e, facts.container.is_some()))?;
                }
                std::fs::write(&state, format!("{n}\n"))
                    .map_err(|e| write_error(&state, &e, facts.container.is_some()))?;
            }
            if let Err(e) = std::fs::write(&yama, "0\n") {
                let _ = std::fs::remove_file(&state);
                return Err(write_error(&yama, &e, facts.container.is_some()));
            }
            Ok(change(
                "apply",
                &yama,
                true,
                Some(n.to_string()),
                Some("0".into()),
                format!("kernel.yama.ptrace_scope {n} -> 0 until reboot; undo: `ptrace-fix --revert` (or `sysctl -w kernel.yama.ptrace_scope={n}`)"),
            ))
        }
    }
}

/// What `--persist` writes.
pub const PERSIST_TEXT: &str =
    "# Written by `ptrace-fix --persist` (dbgpipe): let debuggers attach to processes of\n\
# the same user (Yama's classic mode). Undo: `ptrace-fix --revert`, or delete this file.\n\
kernel.yama.ptrace_scope = 0\n";

/// `--persist`: the sysctl.d file that sets ptrace_scope 0 at boot.
pub fn persist(paths: &Paths, facts: &Facts) -> Result<Change, Error> {
    require_root(facts, "--persist")?;
    let file = paths.persist_file();
    if facts.yama.is_none() {
        return Ok(change(
            "persist",
            &file,
            false,
            None,
            None,
            "Yama is absent: nothing to persist".into(),
        ));
    }
    if std::fs::read_to_string(&file).is_ok_and(|t| t == PERSIST_TEXT) {
        return Ok(change(
            "persist",
            &file,
            false,
            Some("0".into()),
            Some("0".into()),
            "already written".into(),
        ));
    }
    std::fs::create_dir_all(&paths.sysctl_dir)
        .map_err(|e| write_error(&paths.sysctl_dir, &e, facts.container.is_some()))?;
    std::fs::write(&file, PERSIST_TEXT)
        .map_err(|e| write_error(&file, &e, facts.container.is_some()))?;
    Ok(change(
        "persist",
        &file,
        true,
        None,
        Some("0".into()),
        "kernel.yama.ptrace_scope = 0 from the next boot (now too: `sysctl --system` or `ptrace-fix --apply`); undo: `ptrace-fix --revert`, or delete the file".into(),
    ))
}

/// `--revert`: puts back the value `--apply` replaced and removes `--persist`'s file.
pub fn revert(paths: &Paths, facts: &Facts) -> Result<Vec<Change>, Error> {
    let state = paths.state_file();
    let file = paths.persist_file();
    let mut out = Vec::new();
    if state.exists() || file.exists() {
        require_root(facts, "--revert")?;
    }
    if state.exists() {
        let yama = paths.yama();
        let text = std::fs::read_to_string(&state)
            .map_err(|e| Error::io(&state.display().to_string(), &e))?;
        let before = text
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|v| *v <= 3)
            .ok_or_else(|| {
                Error::at(
                    &state.display().to_string(),
                    Some(1),
                    format!("malformed saved value {:?}", text.trim()),
                )
            })?;
        match facts.yama {
            Some(0) => {
                std::fs::write(&yama, format!("{before}\n"))
                    .map_err(|e| write_error(&yama, &e, facts.container.is_some()))?;
                out.push(change(
                    "revert",
                    &yama,
                    true,
                    Some("0".into()),
                    Some(before.to_string()),
                    format!("kernel.yama.ptrace_scope 0 -> {before}, as before --apply"),
                ));
            }
            now => out.push(change(
                "revert",
                &yama,
                false,
                now.map(|n| n.to_string()),
                now.map(|n| n.to_string()),
                "ptrace_scope changed since --apply (or Yama is gone): left as it is".into(),
            )),
        }
        std::fs::remove_file(&state)
            .map_err(|e| write_error(&state, &e, facts.container.is_some()))?;
    }
    if file.exists() {
        std::fs::remove_file(&file)
            .map_err(|e| write_error(&file, &e, facts.container.is_some()))?;
        out.push(change(
            "revert",
            &file,
            true,
            Some("0".into()),
            None,
            "removed: the next boot uses the system's own setting".into(),
        ));
    }
    if out.is_empty() {
        out.push(change(
            "revert",
            &paths.yama(),
            false,
            None,
            None,
            "nothing to revert: ptrace-fix changed nothing here".into(),
        ));
    }
    Ok(out)
}

/// The report record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Always `ptrace`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// gdb can run a program under it: the exit status.
    pub can_run: bool,
    /// gdb can attach to a running process of the same user.
    pub can_attach: bool,
    /// gdb can disable address-space randomisation.
    pub aslr_disable: bool,
    /// One sentence.
    pub verdict: String,
    /// Yama's ptrace_scope, null when absent.
    pub yama_ptrace_scope: Option<u8>,
    /// CAP_SYS_PTRACE in the effective set.
    pub cap_sys_ptrace: bool,
    /// Seccomp mode.
    pub seccomp: Option<u8>,
    /// no_new_privs.
    pub no_new_privs: Option<bool>,
    /// Effective uid.
    pub euid: Option<u32>,
    /// Whether this runs in a container.
    pub in_container: bool,
    /// Its kind, null outside.
    pub container: Option<String>,
    /// What says so.
    pub container_evidence: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// `ok` or `blocked` when gdb was run here, null when not (fake trees, no gdb).
    pub probe: Option<&'static str>,
    /// gdb's line about it.
    pub probe_message: Option<String>,
    /// The facts in words.
    pub reasons: Vec<String>,
    /// What to do.
    pub fixes: Vec<String>,
}

/// The report for the facts, the probe deciding when there is one.
pub fn report(facts: &Facts, probe: Option<&Probe>) -> Report {
    let mut a = assess(facts);
    if let Some(p) = probe {
        if p.ok != a.can_run {
            a.reasons.push(if p.ok {
                format!("but gdb did run a program here: {}", p.message)
            } else {
                format!("but gdb could not run a program here: {}", p.message)
            });
            if !p.ok {
                a.verdict = format!("gdb cannot trace here: {}", p.message);
                a.can_attach = false;
            }
            a.can_run = p.ok;
        }
    }
    Report {
        kind: "ptrace",
        can_run: a.can_run,
        can_attach: a.can_attach,
        aslr_disable: a.aslr_disable,
        verdict: a.verdict,
        yama_ptrace_scope: facts.yama,
        cap_sys_ptrace: facts.cap_sys_ptrace,
        seccomp: facts.seccomp,
        no_new_privs: facts.no_new_privs,
        euid: facts.euid,
        in_container: facts.container.is_some(),
        container: facts.container.as_ref().map(|c| c.kind.clone()),
        container_evidence: facts.container.as_ref().map(|c| c.source.clone()),
        kernel: facts.kernel.clone(),
        probe: probe.map(|p| if p.ok { "ok" } else { "blocked" }),
        probe_message: probe.map(|p| p.message.clone()),
        reasons: a.reasons,
        fixes: a.fixes,
    }
}

/// The report, diagnoses and changes as short text for a person.
pub fn text(report: &Report, diagnoses: &[Diagnosis], changes: &[Change]) -> String {
    let mut s = String::new();
    for c in changes {
        s.push_str(&format!(
            "{}: {}: {}\n",
            c.action,
            if c.changed { "changed" } else { "unchanged" },
            c.message
        ));
    }
    for d in diagnoses {
        s.push_str(&format!(
            "gdb said: {} ({}:{}{})\n",
            d.text,
            d.input,
            d.line,
            if d.count > 1 {
                format!(", {} times", d.count)
            } else {
                String::new()
            }
        ));
        s.push_str(&format!("  cause: {}\n  fix:   {}\n", d.cause, d.fix));
    }
    s.push_str(&format!("ptrace-fix: {}\n", report.verdict));
    let yes = |b: bool| if b { "yes" } else { "no" };
    s.push_str(&format!(
        "  Yama ptrace_scope  {}\n",
        report
            .yama_ptrace_scope
            .map(|v| v.to_string())
            .unwrap_or_else(|| "absent".into())
    ));
    s.push_str(&format!(
        "  CAP_SYS_PTRACE     {}\n",
        yes(report.cap_sys_ptrace)
    ));
    s.push_str(&format!(
        "  seccomp            {}\n",
        match report.seccomp {
            Some(0) => "0 (none)",
            Some(1) => "1 (strict)",
            Some(_) => "2 (filter)",
            None => "unknown",
        }
    ));
    s.push_str(&format!(
        "  container          {}\n",
        report.container.as_deref().unwrap_or("no")
    ));
    if let (Some(p), Some(m)) = (report.probe, &report.probe_message) {
        s.push_str(&format!("  gdb run here       {p}: {m}\n"));
    }
    for f in &report.fixes {
        s.push_str(&format!("fix: {f}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(yama: Option<u8>, cap: bool, seccomp: u8, container: bool) -> Facts {
        Facts {
            yama,
            cap_sys_ptrace: cap,
            seccomp: Some(seccomp),
            no_new_privs: Some(false),
            euid: Some(0),
            container: container.then(|| Evidence {
                kind: "docker".into(),
                source: "test".into(),
            }),
            kernel: Some("6.1.0".into()),
        }
    }

    #[test]
    fn table_of_verdicts() {
        // (yama, cap, seccomp, container) -> (can_run, can_attach, aslr_disable)
        let cases = [
            ((None, false, 0, false), (true, true, true)),
            ((Some(0), false, 0, false), (true, true, true)),
            ((Some(1), false, 0, false), (true, false, true)),
            ((Some(1), true, 0, false), (true, true, true)),
            ((Some(2), false, 0, false), (false, false, true)),
            ((Some(2), true, 0, false), (true, true, true)),
            ((Some(3), true, 0, false), (false, false, true)),
            ((None, false, 2, true), (true, true, false)),
            ((Some(1), false, 2, true), (true, false, false)),
            ((None, true, 0, true), (true, true, true)),
            ((None, true, 1, false), (false, false, false)),
        ];
        for ((yama, cap, seccomp, container), want) in cases {
            let a = assess(&facts(yama, cap, seccomp, container));
            assert_eq!(
                (a.can_run, a.can_attach, a.aslr_disable),
                want,
                "{yama:?} {cap} {seccomp} {container}: {a:?}"
            );
            if !a.can_run || !a.can_attach {
                assert!(!a.fixes.is_empty(), "{a:?}");
            }
        }
    }

    #[test]
    fn an_old_kernel_with_a_filter_and_no_capability_cannot_trace() {
        let mut f = facts(None, false, 2, true);
        f.kernel = Some("4.4.0-210-generic".into());
        assert!(!assess(&f).can_run);
        assert_eq!(kernel_version("6.18.44-fc"), Some((6, 18)));
    }

    #[test]
    fn gdb_lines_name_their_symptom() {
        for (line, want) in [
            (
                "warning: ptrace: Operation not permitted",
                Some(Symptom::PtraceEperm),
            ),
            (
                "ptrace: Operation not permitted.",
                Some(Symptom::PtraceEperm),
            ),
            (
                "Could not attach to process.  If your uid matches the uid of the target",
                Some(Symptom::AttachDenied),
            ),
            ("During startup program exited with code 127.", None),
            (
                "Could not trace the inferior process.",
                Some(Symptom::TraceDenied),
            ),
            (
                "warning: Error disabling address space randomization: Operation not permitted",
                Some(Symptom::Aslr),
            ),
            ("[Inferior 1 (process 42) exited normally]", None),
        ] {
            assert_eq!(symptom(line), want, "{line}");
        }
    }

    #[test]
    fn eperm_is_about_running_when_gdb_could_not_trace_the_inferior() {
        let mut s = Scanner::default();
        s.line("-", 1, "warning: ptrace: Operation not permitted");
        s.line("-", 2, "Could not trace the inferior process.");
        s.line("-", 3, "warning: ptrace: Operation not permitted");
        let d = s.finish(&facts(Some(2), false, 0, false));
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].symptom, d[0].count, d[0].line),
            ("ptrace_eperm", 2, 1)
        );
        assert!(d[0].cause.contains("PTRACE_TRACEME"), "{d:?}");
        let mut s = Scanner::default();
        s.line("-", 7, "ptrace: Operation not permitted.");
        let d = s.finish(&facts(Some(1), false, 0, false));
        assert!(d[0].cause.contains("only its own descendants"), "{d:?}");
        assert!(d[0].fix.contains("ptrace-fix --apply"), "{d:?}");
    }
}
