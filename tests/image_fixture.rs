//! The image the end-to-end tests run in, shared by `tests/dbg_image.rs` and
//! `tests/run_in_image.rs`: a debootstrap base of Debian bookworm (no registry needed) and the
//! default `debian` recipe on it, made by the real `dbg-image` once per test process.
//!
//! Both are cached by the engine under their tags (`dbgpipe/debootstrap:bookworm`, and the
//! recipe's content tag), so only the first test process on a machine pays for debootstrap
//! (about 30 s) and the build (about a minute); the others find them. These tests need root, a
//! running docker (or podman) and debootstrap: `.ci/run` provides them. They fail, not skip,
//! without.

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The dbg-image binary under test.
pub const DBG_IMAGE: &str = env!("CARGO_BIN_EXE_dbg-image");

/// The Debian suite of the base.
pub const SUITE: &str = "bookworm";

/// The base's and the image's records.
pub struct Images {
    /// `dbg-image base --debootstrap bookworm`'s record.
    pub base: Value,
    /// `dbg-image build --base <base>`'s record.
    pub image: Value,
}

impl Images {
    /// The base's tag.
    pub fn base_tag(&self) -> &str {
        self.base["tag"]
            .as_str()
            .expect("the base record has a tag")
    }

    /// The image's tag.
    pub fn tag(&self) -> &str {
        self.image["tag"]
            .as_str()
            .expect("the image record has a tag")
    }
}

/// Runs dbg-image with the engine's progress shown on the test's stderr, and parses its one
/// record.
pub fn dbg_image(args: &[&str]) -> Value {
    let out = Command::new(DBG_IMAGE)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("running dbg-image");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "dbg-image {} failed ({}): {stdout}\n(these tests need root, a running docker and debootstrap: see .ci/run)",
        args.join(" "),
        out.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("dbg-image printed no record ({e}): {stdout}"))
}

/// The base and the image, made or found once per process.
pub fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let base = dbg_image(&["base", "--debootstrap", SUITE]);
        let tag = base["tag"]
            .as_str()
            .expect("the base record has a tag")
            .to_string();
        let image = dbg_image(&["build", "--base", &tag]);
        Images { base, image }
    })
}
