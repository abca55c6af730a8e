//! Project automation for dbgpipe, run as `cargo xtask TASK` (the alias lives in
//! `.cargo/config.toml`).
//!
//! The recipes (memcheck, refs, rss, memray, segv, suppressions, image) are the library's
//! ([`dbgpipe_core::recipe`], which the installed `dbgpipe` binary runs too): `cargo xtask
//! RECIPE` is that same code run from this checkout, writing into `target/dbgpipe/` and
//! running the bundled example when given no command. The tasks only this checkout has:
//! - [`demo`]: every recipe on the bundled example, as a self-check.
//! - [`bench`]: the tools against grep, c++filt and ValgrindCI on the same inputs; BENCHMARKS.md.
//! - [`fuzz`]: the parsers' cargo-fuzz targets.
//! - [`example`]: build the bundled extension `examples/dbgpipe_example` for a Python
//!   interpreter.
//!
//! Every flag is declared in [`flags`]; `main.rs` parses them, dispatches on the task, and
//! maps the status to the exit status.
#![deny(missing_docs)]

pub mod bench;
pub mod demo;
pub mod example;
pub mod flags;
pub mod fuzz;

pub use dbgpipe_core::recipe::{
    image, massif, memcheck, memray, place, records, refs, rss, segv, suppressions, tools, Status,
    Workspace,
};

/// Builds the tool binaries (`cargo build --bins`, once per process) and makes the recipes
/// use them.
pub fn build_tools() -> anyhow::Result<std::path::PathBuf> {
    use std::sync::OnceLock;
    static BUILT: OnceLock<Result<std::path::PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(|| {
            let build = || -> anyhow::Result<std::path::PathBuf> {
                let sh = xshell::Shell::new()?;
                sh.change_dir(example::repo_root());
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                xshell::cmd!(sh, "{cargo} build --quiet --package dbgpipe --bins")
                    .quiet()
                    .run()?;
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| example::repo_root().join("target"));
                Ok(target.join("debug"))
            };
            build().map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(anyhow::Error::msg)?;
    tools::use_bins_from(&dir);
    Ok(dir)
}
