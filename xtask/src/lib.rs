//! Project automation for dbgpipe, run as `cargo xtask TASK` (the alias lives in
//! `.cargo/config.toml`).
//!
//! Each task is one module with one `run(flags)` entry point, which returns the task's
//! [`Status`], and everything a task does is also a plain function here, so that tests and
//! other tasks can call it without spawning `cargo`. Every flag is declared in [`flags`];
//! `main.rs` parses them, dispatches on the task, and maps the status to the exit status.
//!
//! Tasks:
//! - [`demo`]: every recipe on the bundled example, as a self-check.
//! - [`memcheck`]: valgrind under PYTHONMALLOC=malloc, one log per process, | vg-filter.
//! - [`refs`]: reference-count leaks, `rss-rounds run` on the debug interpreter.
//! - [`rss`]: RSS in rounds, `rss-rounds watch`, with a plot.
//! - [`memray`]: `memray run --native`, the `--leaks` flamegraph and the leaking native functions.
//! - [`segv`]: `gdb -batch -ex run -ex bt | bt-demangle`, and `ptrace-fix` when gdb is refused.
//! - [`suppressions`]: the baseline suppression files under `suppressions/`.
//! - [`bench`]: the tools against grep, c++filt and ValgrindCI on the same inputs; BENCHMARKS.md.
//! - [`image`]: the debug-interpreter image (`dbg-image build`), and regenerating `docker/`.
//! - [`example`]: build the bundled extension `examples/dbgpipe_example` for a Python
//!   interpreter, the program the demos and the end-to-end tests run under Valgrind and gdb
//!   (and, from Rust, the C++ one `examples/dbgpipe_cpp` with [`example::build_cpp`]).
//!
//! [`place`] decides where a recipe runs (this machine, or the debug image through
//! `run-in-image`), the same way for every recipe; [`records`] reads the tools' JSON lines
//! into typed records.
#![deny(missing_docs)]

use std::process::ExitCode;

pub mod bench;
pub mod demo;
pub mod example;
pub mod flags;
pub mod fuzz;
pub mod image;
pub mod memcheck;
pub mod memray;
pub mod place;
pub mod records;
pub mod refs;
pub mod rss;
pub mod segv;
pub mod suppressions;
pub mod tools;

/// What a task found, which is its exit status (the tools' convention): `main` maps it, and
/// nothing else does.
///
/// Ordered from best to worst, so that the status of several runs is their `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing found: exit 0.
    Clean,
    /// Findings (records kept, a leak, a crash, a disagreeing cross-check): exit 1.
    Findings,
    /// The task, or a step of it, could not run: exit 2, as for a usage error or an error.
    CouldNotRun,
}

impl Status {
    /// `Findings` when `found`, else `Clean`.
    pub fn findings_if(found: bool) -> Status {
        if found {
            Status::Findings
        } else {
            Status::Clean
        }
    }

    /// The status of a program that follows the same convention (vg-filter, dbg-image): 0
    /// and 1 are theirs, anything else (a signal, a panic's 101) means it could not run.
    pub fn of_code(code: i32) -> Status {
        match code {
            0 => Status::Clean,
            1 => Status::Findings,
            _ => Status::CouldNotRun,
        }
    }

    /// The exit status: 0, 1 or 2.
    pub fn code(self) -> u8 {
        match self {
            Status::Clean => 0,
            Status::Findings => 1,
            Status::CouldNotRun => 2,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status.code())
    }
}
