//! ptrace-fix: whether a debugger can trace here, why not, and the fix.
//!
//! gdb runs a program by forking a child that calls `PTRACE_TRACEME`, and attaches to a
//! running one with `PTRACE_ATTACH`; Yama, `CAP_SYS_PTRACE`, seccomp and containers decide
//! whether the kernel allows that. The parts:
//! - [`facts`]: what this machine says, from `/proc` ([`status`] and [`container`] are two
//!   of its formats);
//! - [`diagnosis`]: the verdict from the facts, checked by running gdb, and the cause and fix
//!   of each ptrace error gdb printed;
//! - [`gdb`]: reading gdb's output: its words for a refused ptrace, and which lines are its;
//! - [`fixes`]: `--apply`, `--persist` and `--revert`;
//! - [`filter`], [`records`], [`print`]: the tool's inputs → records → printer.

pub mod container;
pub mod diagnosis;
pub mod facts;
pub mod filter;
pub mod fixes;
pub mod gdb;
pub mod print;
pub mod records;
pub mod status;

use std::path::{Path, PathBuf};

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
