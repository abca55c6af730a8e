//! `cargo xtask TASK [FLAGS]`: parses the flags ([`xtask::flags`]), runs the task's module,
//! and turns what it found into the exit status, here and nowhere else.

use std::process::ExitCode;

use xtask::flags::{Flags, Task};
use xtask::{bench, demo, example, fuzz, image, memcheck, memray, refs, rss, segv, suppressions};
use xtask::{tools, Status};

fn main() -> ExitCode {
    // A usage error is clap's: one message, the task's usage, exit status 2.
    let flags = Flags::from_env();
    let name = flags.task.name();
    let result = match flags.task {
        Task::Demo(f) => demo::run(f),
        Task::Memcheck(f) => memcheck::run(f),
        Task::Refs(f) => refs::run(f),
        Task::Rss(f) => rss::run(f),
        Task::Memray(f) => memray::run(f),
        Task::Segv(f) => segv::run(f),
        Task::Fuzz(f) => fuzz::run(f),
        Task::Suppressions(f) => suppressions::run(f),
        Task::Bench(f) => bench::run(f),
        Task::Image(f) => image::run(f),
        Task::Example(f) => example::run(f),
    };
    match result {
        Ok(status) => status.into(),
        // `cargo xtask refs | head -1`: the reader had what it wanted.
        Err(error) if tools::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("xtask {name}: {error:#}");
            Status::CouldNotRun.into()
        }
    }
}
