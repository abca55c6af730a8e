//! What decides whether gdb can trace here, and why it could not where it ran: the verdict
//! from this machine's [`Facts`] ([`assess`]), checked by running gdb ([`probe`]) when these
//! are the machine's own files, the `ptrace` record ([`report`]), and the cause and fix of
//! each ptrace error gdb printed ([`diagnose`]).
//!
//! Four things decide whether the kernel lets gdb trace:
//! - **Yama** (`/proc/sys/kernel/yama/ptrace_scope`): 0 classic (same user); 1 only a
//!   process's own descendants, unless the tracer has `CAP_SYS_PTRACE` (so running under gdb
//!   works and `gdb -p PID` does not); 2 only tracers with `CAP_SYS_PTRACE`, for both; 3 none
//!   at all, and the value cannot be lowered until reboot. Absent when the kernel has no Yama.
//! - **`CAP_SYS_PTRACE`** in the effective set: what root has on a host and what a container
//!   lacks unless given `--cap-add=SYS_PTRACE`.
//! - **seccomp**: a filter (2) is what container engines install; their default profiles
//!   allow `ptrace` on kernels from 4.8 but refuse the `personality(ADDR_NO_RANDOMIZE)` call
//!   by which gdb turns address-space randomisation off, hence gdb's warning `Error disabling
//!   address space randomization`.
//! - **a container**: the host's Yama setting applies inside, and the fix is a flag of the
//!   engine.
//!
//! gdb's words ([`crate::ptrace::gdb`]) say which of them bit where gdb ran: `Could not attach`
//! is about attaching, `Could not trace the inferior` about running, and the `ptrace:
//! Operation not permitted` that follows either is about the one beside it.

use crate::image::engine::find_program;
use crate::ptrace::facts::{kernel_version, Facts};
use crate::ptrace::gdb::{symptom, Found, Symptom};
use crate::ptrace::records::{Diagnosis, ProbeResult, Report};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let gdb = find_program("gdb")?;
    let truth = find_program("true")?;
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
        probe: probe.map(|p| {
            if p.ok {
                ProbeResult::Ok
            } else {
                ProbeResult::Blocked
            }
        }),
        probe_message: probe.map(|p| p.message.clone()),
        reasons: a.reasons,
        fixes: a.fixes,
    }
}

/// The diagnoses of what was found, their causes named with the facts of this machine: one
/// per symptom, in the order first seen.
pub fn diagnose(found: &[Found], facts: &Facts) -> Vec<Diagnosis> {
    let running = found.iter().any(|f| f.symptom == Symptom::TraceDenied);
    found
        .iter()
        .map(|f| {
            // `ptrace: Operation not permitted` follows both failures; it is about running
            // when gdb also said it could not trace the inferior.
            let attach = match f.symptom {
                Symptom::AttachDenied => true,
                Symptom::PtraceEperm => !running,
                _ => false,
            };
            let (cause, fix) = match f.symptom {
                Symptom::Aslr => aslr_cause(facts),
                _ if attach => attach_cause(facts),
                _ => run_cause(facts),
            };
            Diagnosis {
                symptom: f.symptom,
                input: f.input.clone(),
                line: f.line,
                count: f.count,
                text: f.text.clone(),
                blocking: f.symptom.blocking(),
                cause,
                fix,
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptrace::container::Evidence;
    use crate::ptrace::gdb::Symptoms;

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
    }

    #[test]
    fn eperm_is_about_running_when_gdb_could_not_trace_the_inferior() {
        let mut s = Symptoms::default();
        s.line("-", 1, "warning: ptrace: Operation not permitted");
        s.line("-", 2, "Could not trace the inferior process.");
        s.line("-", 3, "warning: ptrace: Operation not permitted");
        let d = diagnose(s.found(), &facts(Some(2), false, 0, false));
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].symptom, d[0].count, d[0].line),
            (Symptom::PtraceEperm, 2, 1)
        );
        assert!(d[0].cause.contains("PTRACE_TRACEME"), "{d:?}");
        assert!(d[0].blocking && d[1].blocking);
        let mut s = Symptoms::default();
        s.line("-", 7, "ptrace: Operation not permitted.");
        let d = diagnose(s.found(), &facts(Some(1), false, 0, false));
        assert!(d[0].cause.contains("only its own descendants"), "{d:?}");
        assert!(d[0].fix.contains("ptrace-fix --apply"), "{d:?}");
    }

    #[test]
    fn the_probe_decides_where_it_disagrees() {
        let f = facts(Some(1), false, 0, false);
        let r = report(&f, None);
        assert!(r.can_run && !r.can_attach && r.probe.is_none());
        let blocked = Probe {
            ok: false,
            message: "warning: Could not trace the inferior process.".into(),
        };
        let r = report(&f, Some(&blocked));
        assert!(!r.can_run && !r.can_attach);
        assert_eq!(r.probe, Some(ProbeResult::Blocked));
        assert!(
            r.verdict.ends_with("Could not trace the inferior process."),
            "{r:?}"
        );
        assert!(
            r.reasons.last().unwrap().starts_with("but gdb could not"),
            "{r:?}"
        );
        let ran = Probe {
            ok: true,
            message: "[Inferior 1 (process 9) exited normally]".into(),
        };
        let r = report(&facts(Some(3), true, 0, false), Some(&ran));
        assert!(r.can_run, "{r:?}");
        assert_eq!(r.probe, Some(ProbeResult::Ok));
    }

    #[test]
    fn the_aslr_warning_is_not_blocking_and_names_seccomp() {
        let mut s = Symptoms::default();
        s.line(
            "-",
            1,
            "warning: Error disabling address space randomization: Operation not permitted",
        );
        let d = diagnose(s.found(), &facts(None, false, 2, true));
        assert_eq!(d.len(), 1);
        assert!(!d[0].blocking);
        assert!(
            d[0].cause.contains("personality(ADDR_NO_RANDOMIZE)"),
            "{d:?}"
        );
    }
}
