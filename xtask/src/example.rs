//! `cargo xtask example [--python PATH]`: build the bundled extensions for an interpreter (the
//! building itself is the library's, `dbgpipe_core::recipe::example`, which the recipes use).

use anyhow::Context;
use std::path::Path;

pub use dbgpipe_core::recipe::example::*;
use dbgpipe_core::recipe::tools;

use crate::flags;
use crate::Status;
/// `cargo xtask example [--python PATH]`: build for PATH (default: the debug interpreter) into
/// the default directory and print the path of the built module.
pub fn run(flags: flags::Example) -> anyhow::Result<Status> {
    let python = match flags.python.path {
        Some(python) => python,
        None => debug_python().context(
            "no debug interpreter (python3.11-dbg): install it (apt-get install python3.11-dbg) \
             or pass --python PATH",
        )?,
    };
    let out_dir = default_out_dir(&python);
    let example = build(&python, &out_dir)?;
    let cpp = build_cpp(&python, &out_dir, true)?;
    let shown = |p: &Path| {
        let cwd = std::env::current_dir().unwrap_or_default();
        p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
    };
    tools::print(&format!("{}\n{}\n", shown(&example.so), shown(&cpp.so)))?;
    Ok(Status::Clean)
}
