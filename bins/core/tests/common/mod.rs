//! What the Memcheck conformance tests share: the repository's real inputs and one way to
//! parse them.

use dbgpipe_core::memcheck::{self, Event, ParseStats};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The repository's real inputs (`tests/data`, see its README).
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// A file's bytes, gzip'd ones unpacked.
pub fn read(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..]).read_to_end(&mut out).unwrap();
        out
    } else {
        raw
    }
}

/// Every file under `dir`, recursively.
pub fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// What the parser of `data`'s format (as vg-filter tells it) reports, and its counts.
pub fn events(name: &str, data: &[u8]) -> (Vec<Event>, ParseStats) {
    let mut out = Vec::new();
    let mut stats = ParseStats::default();
    let result = match memcheck::detect(data) {
        memcheck::Format::Text => {
            memcheck::text::parse(name, data, &mut stats, &mut |e| out.push(e))
        }
        memcheck::Format::Xml => memcheck::xml::parse(name, data, &mut stats, &mut |e| out.push(e)),
    };
    result.unwrap_or_else(|e| panic!("{e}"));
    (out, stats)
}
