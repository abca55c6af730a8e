//! The library behind the dbgpipe tools: record types (the JSON-lines schema), one parser per
//! input format, the filters, and the output writers.
//!
//! Every binary under `bins/` is a thin shell around a `run` function here, so that all of the
//! logic is tested without spawning processes.
#![deny(missing_docs)]

pub mod error;
pub mod frame;
pub mod gdb;
pub mod input;
pub mod memcheck;
pub mod suppressions;
pub mod wildcard;

pub use error::Error;
pub use frame::Frame;
pub mod btdemangle;
pub mod cli;
pub mod container;
pub mod dbgimage;
pub mod demangle;
pub mod engine;
pub mod envfile;
pub mod harness;
pub mod output;
pub mod plot;
pub mod procfs;
pub mod procstatus;
pub mod project;
pub mod ptrace;
pub mod rounds;
pub mod rssrounds;
pub mod runinimage;
pub mod simplify;
pub mod trend;
pub mod vgfilter;
pub mod watch;
