//! The recipes: the tools chained on the user's program, as `dbgpipe RECIPE` runs them from
//! the user's own project (and `cargo xtask RECIPE` from this checkout, on the bundled example
//! when given no command).
//!
//! Each recipe is one module with an `Options` struct, a function that runs it and returns
//! what it found as plain data, and a `report` that words that for people:
//! - [`memcheck`]: valgrind under PYTHONMALLOC=malloc, one log per process, | vg-filter,
//!   with the interpreter's suppression baseline ([`suppressions`]);
//! - [`refs`]: reference-count leaks, `rss-rounds run` on the debug interpreter;
//! - [`rss`]: RSS in rounds, `rss-rounds watch`, with a plot;
//! - [`massif`]: the heap over time under Valgrind's Massif, judged by rss-rounds, with the
//!   growing allocation sites;
//! - [`memray`]: `memray run --native`, the `--leaks` flamegraph and the leaking functions;
//! - [`segv`]: `gdb -batch -ex run -ex bt | bt-demangle`, and `ptrace-fix` when gdb is refused;
//! - [`suppressions`]: baseline suppression files for an interpreter;
//! - [`image`]: the debug-interpreter image (`dbg-image build`).
//!
//! [`place`] decides where a recipe runs (this machine, or the debug image through
//! `run-in-image`), the same way for every recipe; [`tools`] finds the dbgpipe binaries and
//! runs long commands; [`records`] reads the tools' JSON lines through their documented
//! schema, as any program downstream of them would; [`example`] builds the bundled example
//! extension that `cargo xtask` runs by default; [`flags`] declares every recipe's flags and
//! help, and [`run`] dispatches on them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub mod example;
pub mod flags;
pub mod image;
pub mod massif;
pub mod memcheck;
pub mod memray;
pub mod place;
pub mod records;
pub mod refs;
pub mod rss;
pub mod segv;
pub mod shard;
pub mod suppressions;
pub mod tools;

/// What a recipe found, which is its exit status (the tools' convention): the binary maps
/// it, and nothing else does.
///
/// Ordered from best to worst, so that the status of several runs is their `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing found: exit 0.
    Clean,
    /// Findings (records kept, a leak, a crash, a disagreeing cross-check): exit 1.
    Findings,
    /// The recipe, or a step of it, could not run: exit 2, as for a usage error or an error.
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

/// Runs `recipe` in `ws` (for `dbgpipe`, [`Workspace::project`] of its `--root` and
/// `--out`; for `cargo xtask`, [`Workspace::checkout`]).
pub fn run(recipe: flags::Recipe, ws: Workspace) -> anyhow::Result<Status> {
    use flags::Recipe;
    match recipe {
        Recipe::Memcheck(f) => memcheck::run(f, ws),
        Recipe::Refs(f) => refs::run(f, ws),
        Recipe::Rss(f) => rss::run(f, ws),
        Recipe::Massif(f) => massif::run(f, ws),
        Recipe::Memray(f) => memray::run(f, ws),
        Recipe::Segv(f) => segv::run(f, ws),
        Recipe::Suppressions(f) => suppressions::run(f, ws),
        Recipe::Image(f) => image::run(f, ws),
    }
}

/// Where a recipe runs from: the project it looks at, where its files go, and what it runs
/// when given no command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The project's root: frames of files under it are the project's (`--root`).
    pub root: PathBuf,
    /// Each recipe's files go into `out/<recipe>/` (`--out`).
    pub out: PathBuf,
    /// Without a command, run the bundled example (`cargo xtask` in this checkout); else a
    /// missing command is an error.
    pub bundled_example: bool,
}

impl Workspace {
    /// The user's project at `root` (default: the current directory): files into
    /// `ROOT/.dbgpipe/` unless `out` says otherwise, a command required.
    pub fn project(root: Option<&Path>, out: Option<&Path>) -> std::io::Result<Workspace> {
        let root = match root {
            Some(root) => std::fs::canonicalize(root).map_err(|e| {
                std::io::Error::new(e.kind(), format!("--root {}: {e}", root.display()))
            })?,
            None => std::env::current_dir()?,
        };
        let out = out.map_or_else(|| root.join(".dbgpipe"), Path::to_path_buf);
        Ok(Workspace {
            root,
            out,
            bundled_example: false,
        })
    }

    /// This checkout, as `cargo xtask` and the tests run the recipes: the project is the
    /// current directory, files go into `target/dbgpipe/`, and no command means the bundled
    /// example.
    pub fn checkout() -> Workspace {
        Workspace {
            root: std::env::current_dir().unwrap_or_else(|_| example::repo_root()),
            out: example::repo_root().join("target").join("dbgpipe"),
            bundled_example: true,
        }
    }

    /// This workspace with `--root` and `--out` applied, when given.
    pub fn with_dirs(mut self, dirs: &flags::Dirs) -> std::io::Result<Workspace> {
        if let Some(root) = &dirs.root {
            self.root = std::fs::canonicalize(root).map_err(|e| {
                std::io::Error::new(e.kind(), format!("--root {}: {e}", root.display()))
            })?;
        }
        if let Some(out) = &dirs.out {
            self.out = out.clone();
        }
        Ok(self)
    }

    /// `out/<recipe>/`, emptied of a previous run's files so that no stale log is read.
    pub fn recipe_dir(&self, recipe: &str) -> anyhow::Result<PathBuf> {
        use anyhow::Context;
        let dir = self.out.join(recipe);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot empty {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }
}

impl Default for Workspace {
    /// [`Workspace::checkout`].
    fn default() -> Workspace {
        Workspace::checkout()
    }
}
