//! `dbgpipe image [--regenerate] [BUILD ARGS…]`: the debug-interpreter image.
//!
//! Without `--regenerate` it is `dbg-image build` with the same arguments (the record on
//! stdout, the engine's progress on stderr, the same exit status). With `--regenerate` it
//! rewrites `docker/Dockerfile.debian`, `docker/Dockerfile.source` (python.org's tarball) and
//! `docker/Dockerfile.source-debian` (Debian's source package) from the template in
//! `dbgpipe_core::image::dockerfile`, which a test checks they still match; they are never edited by
//! hand.

use anyhow::Context;
use std::process::Command;

use super::example::repo_root;
use super::flags;
use super::tools;
use super::{Status, Workspace};

/// The generated files under `docker/` and the `dbg-image dockerfile` arguments of each.
pub const DOCKERFILES: &[(&str, &[&str])] = &[
    ("Dockerfile.debian", &["--from", "debian"]),
    (
        "Dockerfile.source",
        &["--from", "source", "--source", "python.org"],
    ),
    (
        "Dockerfile.source-debian",
        &["--from", "source", "--source", "debian"],
    ),
];

/// Writes `docker/Dockerfile.*` from `dbg-image dockerfile`.
pub fn regenerate() -> anyhow::Result<()> {
    let dbg_image = tools::bin("dbg-image")?;
    let dir = repo_root().join("docker");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, args) in DOCKERFILES {
        let out = Command::new(&dbg_image)
            .arg("dockerfile")
            .args(*args)
            .output()
            .context("running dbg-image dockerfile")?;
        if !out.status.success() {
            anyhow::bail!(
                "dbg-image dockerfile {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let path = dir.join(file);
        std::fs::write(&path, &out.stdout)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("image: wrote {}", path.display());
    }
    Ok(())
}

/// `dbgpipe image`, in `ws`.
pub fn run(flags: flags::Image, ws: Workspace) -> anyhow::Result<Status> {
    if flags.regenerate {
        if !ws.bundled_example {
            anyhow::bail!(
                "--regenerate rewrites dbgpipe's own docker/ files: run `cargo xtask image \
                 --regenerate` in a dbgpipe checkout"
            );
        }
        regenerate()?;
        return Ok(Status::Clean);
    }
    let dbg_image = tools::bin("dbg-image")?;
    let status = Command::new(&dbg_image)
        .arg("build")
        .args(&flags.build_args)
        .status()
        .with_context(|| format!("cannot run {}", dbg_image.display()))?;
    // dbg-image has said why on stderr; its status is the task's.
    Ok(Status::of_code(tools::code_of(&status)))
}
