//! The records dbg-image prints: one per run, `image` after `build` and `base` after `base`.
//!
//! Wire format (JSON, one object on one line, `type` first, absent values `null`, keys in the
//! order of the fields below):
//! `{"type":"image","tag":"dbgpipe/python-dbg:3.11-43895444659f","id":"sha256:…","python":"3.11",…,"problems":[]}`
//! and `{"type":"base","tag":"dbgpipe/debootstrap:bookworm","id":"sha256:…","suite":"bookworm",…}`.
//! dbg-image prints exactly one record and no summary: scripts read its standard output as
//! one JSON value (`cargo xtask image` does). Documented in `SCHEMA.md`.

use serde::{Deserialize, Serialize};

/// Every record dbg-image prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// One record is made per run: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Record {
    /// `dbg-image build`: an image built (or found) and checked.
    Image(Image),
    /// `dbg-image base`: a base image made from debootstrap (or found).
    Base(Base),
}

/// An image `dbg-image build` built or found under its content tag, and what its check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The content tag.
    pub tag: String,
    /// The engine's image id.
    pub id: String,
    /// `X.Y` of the debug interpreter found in the image.
    pub python: Option<String>,
    /// Its path in the image.
    pub interpreter: String,
    /// Its full version.
    pub version: Option<String>,
    /// `sys.gettotalrefcount` exists: a `--with-pydebug` build.
    pub debug_build: bool,
    /// The interpreter has pymalloc (`sysconfig`'s `WITH_PYMALLOC`); null when it did not run.
    pub pymalloc: Option<bool>,
    /// Valgrind client requests are compiled in (`WITH_VALGRIND`); null when it did not run.
    pub with_valgrind: Option<bool>,
    /// valgrind's version when it ran a program in the image, else null.
    pub valgrind: Option<String>,
    /// gdb's version when it ran, else null.
    pub gdb: Option<String>,
    /// memray's version when it ran, else null.
    pub memray: Option<String>,
    /// memray's path in the image.
    pub memray_path: Option<String>,
    /// The release interpreter memray runs under.
    pub memray_python: Option<String>,
    /// `debian` or `source`, from the image's label (null for other Dockerfiles).
    pub recipe: Option<String>,
    /// The source recipe's tarball: `python.org`, `debian-orig` or `file` (null otherwise).
    pub source: Option<String>,
    /// Its file name (`Python-3.11.14.tar.xz`, `python3.11_3.11.2.orig.tar.gz`).
    pub source_file: Option<String>,
    /// Its SHA-256, as checked in the build.
    pub source_sha256: Option<String>,
    /// `docker` or `podman`.
    pub engine: String,
    /// False when the image already existed under its tag and nothing was built.
    pub built: bool,
    /// Time taken, in seconds.
    pub seconds: f64,
    /// What the check found wrong; empty for a good image.
    pub problems: Vec<String>,
}

/// A base image `dbg-image base` made from a debootstrap root filesystem, or found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Base {
    /// `dbgpipe/debootstrap:SUITE`.
    pub tag: String,
    /// The engine's image id.
    pub id: String,
    /// The Debian suite.
    pub suite: String,
    /// debootstrap's variant.
    pub variant: String,
    /// The mirror it was fetched from.
    pub mirror: String,
    /// `docker` or `podman`.
    pub engine: String,
    /// False when the image already existed.
    pub built: bool,
    /// Time taken, in seconds.
    pub seconds: f64,
}

/// Seconds rounded to a tenth: what a record shows of a duration.
pub(crate) fn seconds(elapsed: std::time::Duration) -> f64 {
    (elapsed.as_secs_f64() * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record of the README, read and written back to the same line.
    #[test]
    fn records_read_back_to_the_same_line() {
        for line in [
            r#"{"type":"base","tag":"dbgpipe/debootstrap:bookworm","id":"sha256:6bee","suite":"bookworm","variant":"minbase","mirror":"http://deb.debian.org/debian","engine":"docker","built":false,"seconds":0.0}"#,
            r#"{"type":"image","tag":"dbgpipe/python-dbg:3.11-43895444659f","id":"sha256:8428","python":"3.11","interpreter":"/usr/bin/python3.11-dbg","version":"3.11.2","debug_build":true,"pymalloc":true,"with_valgrind":true,"valgrind":"3.19.0","gdb":"13.1","memray":"1.20.0","memray_path":"/usr/local/bin/memray","memray_python":"/opt/memray/bin/python3.11","recipe":"debian","source":null,"source_file":null,"source_sha256":null,"engine":"docker","built":false,"seconds":1.9,"problems":[]}"#,
            r#"{"type":"image","tag":"t","id":"i","python":null,"interpreter":"python3.11-dbg","version":null,"debug_build":false,"pymalloc":null,"with_valgrind":null,"valgrind":null,"gdb":null,"memray":null,"memray_path":null,"memray_python":null,"recipe":null,"source":null,"source_file":null,"source_sha256":null,"engine":"podman","built":true,"seconds":12.5,"problems":["python3.11-dbg did not run in the image: x"]}"#,
        ] {
            let record: Record = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&record).unwrap(), line);
        }
        assert_eq!(seconds(std::time::Duration::from_millis(1949)), 1.9);
    }
}
