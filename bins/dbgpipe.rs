//! `dbgpipe RECIPE [FLAGS] [-- CMD…]`: the recipes, run from the user's own project.
//!
//! Thin: the flags, the recipes and their reports are the library's
//! ([`dbgpipe_core::recipe`]); this maps what a recipe found to the exit status.

use std::process::ExitCode;

use dbgpipe_core::recipe::flags::Runner;
use dbgpipe_core::recipe::{self, tools, Status, Workspace};

fn main() -> ExitCode {
    // A usage error is clap's: one message, the recipe's usage, exit status 2.
    let runner = Runner::from_env();
    let name = runner.recipe.name();
    let dirs = runner.recipe.dirs().cloned().unwrap_or_default();
    let result = Workspace::project(dirs.root.as_deref(), dirs.out.as_deref())
        .map_err(anyhow::Error::from)
        .and_then(|ws| recipe::run(runner.recipe, ws));
    match result {
        Ok(status) => status.into(),
        // `dbgpipe refs … | head -1`: the reader had what it wanted.
        Err(error) if tools::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("dbgpipe {name}: {error:#}");
            Status::CouldNotRun.into()
        }
    }
}
