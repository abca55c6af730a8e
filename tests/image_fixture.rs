//! The images the end-to-end tests run in, shared by `tests/dbg_image.rs`,
//! `tests/run_in_image.rs` and `tests/image_source.rs`: a debootstrap base of Debian bookworm
//! (no registry needed), the default `debian` recipe on it, and the `source` recipe of 3.11 on
//! it, each made by the real `dbg-image` once per test process.
//!
//! All are cached by the engine under their tags (`dbgpipe/debootstrap:bookworm`, and the
//! recipes' content tags), so only the first test process on a machine pays for debootstrap
//! (about 30 s), the Debian build (about a minute) and the source build (CPython compiled:
//! minutes); the others find them. These tests need root, a running docker (or podman) and
//! debootstrap: `.ci/run` provides them. They fail, not skip, without.

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

/// The base's record, made or found once per process.
pub fn base() -> &'static Value {
    static BASE: OnceLock<Value> = OnceLock::new();
    BASE.get_or_init(|| dbg_image(&["base", "--debootstrap", SUITE]))
}

/// The base and the image, made or found once per process.
pub fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let base = base().clone();
        let tag = base["tag"]
            .as_str()
            .expect("the base record has a tag")
            .to_string();
        let image = dbg_image(&["build", "--base", &tag]);
        Images { base, image }
    })
}

/// The source recipe's arguments to `dbg-image build` (and `tag`): CPython 3.11 on the base,
/// its tarball from python.org where that answers, else from Debian's source package (as
/// on this project's machines).
pub fn source_args() -> Vec<String> {
    let base = base()["tag"].as_str().expect("the base record has a tag");
    ["--from", "source", "--python", "3.11", "--base", base]
        .map(String::from)
        .to_vec()
}

/// The source recipe's image record, made or found once per process.
pub fn source_image() -> &'static Value {
    static SOURCE: OnceLock<Value> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let args = source_args();
        let mut all = vec!["build"];
        all.extend(args.iter().map(String::as_str));
        dbg_image(&all)
    })
}
