//! Round lines (rss-rounds' input): any bytes give values or counted lines, never a panic,
//! and
//! - every value read is finite;
//! - conservation: lines = values + unmatched + own_lines, and rows written = values kept;
//! - rss-rounds reads its own output back to the same data: its CSV rows, read again, are
//!   written out identically, and so are its JSON lines (round and verdict records; only the
//!   summary, which counts lines, differs). A saved report is a valid `--baseline` and
//!   input, so this is what makes it one.
#![no_main]
use dbgpipe_core::output::Sink;
use dbgpipe_core::rounds::filter::{Filter, Format, Options, Report};
use dbgpipe_core::rounds::lines::{self, Line, Pattern};
use dbgpipe_core::rounds::trend::Kind;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A `--pattern`, compiled once: compiling a regex costs more than the rest of a run.
fn pattern() -> Pattern {
    static PATTERN: OnceLock<Pattern> = OnceLock::new();
    PATTERN
        .get_or_init(|| {
            Pattern::new(
                r"iter (?P<round>\d+) (?P<series>\w+)=(?P<value>\S+)",
                "pattern",
                Kind::Level,
                Some("MiB"),
            )
            .expect("the pattern compiles")
        })
        .clone()
}

fn run(data: &[u8], format: Format, patterns: Vec<Pattern>) -> (Vec<u8>, Report) {
    let opts = Options {
        format,
        patterns,
        ..Options::default()
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let report = {
        let mut f = Filter::new(opts, Sink::new(&mut out, false));
        f.read("fuzz", data)
            .expect("a slice reads and a Vec takes writes");
        f.finish(None, &mut err).expect("a Vec takes writes")
    };
    (out, report)
}

fuzz_target!(|data: &[u8]| {
    let patterns = [pattern()];
    for line in data.split(|&b| b == b'\n') {
        if let Line::Value(v) = lines::parse_line(line, &patterns) {
            assert!(v.value.is_finite(), "{v:?}");
        }
    }

    let (csv, report) = run(data, Format::Csv, vec![pattern()]);
    let s = &report.summary;
    assert_eq!(s.lines, s.values + s.unmatched + s.own_lines, "{s:?}");
    let rows = csv.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64;
    let header = u64::from(s.values > s.ignored + s.dropped_values);
    assert_eq!(
        rows,
        s.values - s.ignored - s.dropped_values + header,
        "{s:?}"
    );

    // Names that need CSV quoting cannot be read back from CSV (the reader takes plain
    // names only); JSON carries any name.
    let plain = report.analyses.iter().all(|(name, _)| {
        !name.is_empty()
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.:-".contains(&c))
    });
    if plain {
        let (again, _) = run(&csv, Format::Csv, Vec::new());
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&csv),
            "CSV output read back"
        );
    }

    let (jsonl, _) = run(data, Format::Jsonl, vec![pattern()]);
    let (again, _) = run(&jsonl, Format::Jsonl, Vec::new());
    let body = |b: &[u8]| {
        let text = String::from_utf8(b.to_vec()).expect("JSON output is UTF-8");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let last = lines.pop().expect("a summary line");
        assert!(
            last.starts_with(r#"{"type":"summary","tool":"rss-rounds""#),
            "{last}"
        );
        lines
    };
    assert_eq!(body(&again), body(&jsonl), "JSON lines read back");
});
