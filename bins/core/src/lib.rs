//! The library behind the dbgpipe tools. Every binary under `bins/` is a thin shell around
//! this crate, so that all of the logic is tested without spawning processes.
//!
//! Its folders are the parts of the house:
//! - [`memcheck`]: Valgrind Memcheck logs (text and XML), suppression files, and the
//!   `vg-filter` filter;
//! - [`backtrace`]: gdb backtraces, demangling and simplifying names, and the `bt-demangle`
//!   filter;
//! - [`rounds`]: series of memory and reference counts per round, the trend statistics that
//!   judge them, plots, the Python harness and the watcher, and the `rss-rounds` filter;
//! - [`image`]: the debug-interpreter image (`dbg-image`) and running in it (`run-in-image`);
//! - [`ptrace`]: why a debugger cannot trace here, and the fix (`ptrace-fix`);
//! - [`recipe`]: the tools chained on the user's program (`dbgpipe RECIPE`, `cargo xtask`);
//!
//! and what every tool shares: the [`Frame`], reading [`input`], writing [`output`], telling
//! the [`project`]'s code from the rest, the [`Error`] type and the [`cli`] conventions.
#![deny(missing_docs)]

pub mod backtrace;
pub mod cli;
pub mod demangle;
pub mod error;
pub mod frame;
pub mod image;
pub mod input;
pub mod memcheck;
pub mod output;
pub mod project;
pub mod ptrace;
pub mod recipe;
pub mod rounds;
pub mod wildcard;

pub use error::Error;
pub use frame::Frame;
