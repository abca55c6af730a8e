//! `cargo xtask TASK [FLAGS]`: parses the flags ([`xtask::flags`]), runs the task (a recipe of
//! the library's, from this checkout, or a task of xtask's own), and turns what it found into
//! the exit status, here and nowhere else.

use std::process::ExitCode;

use xtask::flags::{Flags, Task};
use xtask::{bench, demo, example, fuzz, tools, Status, Workspace};

fn main() -> ExitCode {
    // A usage error is clap's: one message, the task's usage, exit status 2.
    let flags = Flags::from_env();
    let name = flags.task.name();
    let result = match flags.task {
        Task::Demo(f) => xtask::build_tools().and_then(|_| demo::run(f)),
        Task::Recipe(recipe) => xtask::build_tools()
            .and_then(|_| {
                let ws = Workspace::checkout();
                Ok(match recipe.dirs() {
                    Some(dirs) => ws.with_dirs(dirs)?,
                    None => ws,
                })
            })
            .and_then(|ws| dbgpipe_core::recipe::run(recipe, ws)),
        Task::Fuzz(f) => fuzz::run(f),
        Task::Bench(f) => xtask::build_tools().and_then(|_| bench::run(f)),
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
