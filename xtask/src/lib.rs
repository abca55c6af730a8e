//! Project automation for dbgpipe, run as `cargo xtask TASK` (the alias lives in
//! `.cargo/config.toml`).
//!
//! Each task is one module with one `run(args)` entry point, and everything a task does is also
//! a plain function here, so that tests and other tasks can call it without spawning `cargo`.
//! `main.rs` only dispatches on the task name.
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
//! `run-in-image`), the same way for every recipe.
#![deny(missing_docs)]

use std::fmt;

pub mod bench;
pub mod demo;
pub mod example;
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

/// A mistake in a task's command line, as opposed to a failure of the task itself.
///
/// `main` reports it with the usage text and exit status 2, like clap does for the tools.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
