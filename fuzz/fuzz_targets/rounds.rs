//! Round lines (rss-rounds' input): any bytes give values or counted lines, or are refused
//! whole as binary data naming the input, never a panic, and
//! - every value read is finite;
//! - conservation: lines = values - massif_values + unmatched + own_lines + foreign_records
//!   + massif_lines (an input starting with `desc:` is read as a Massif file), and rows
//!   written = values kept, after the header;
//! - rss-rounds reads its own output back to the same data: its CSV rows, read again, are
//!   written out identically, and so are its JSON lines (round, baseline and verdict records
//!   and other tools' records passed on; only the summary, which counts lines, differs). A
//!   saved report is a valid `--baseline` and input, so this is what makes it one.
#![no_main]
use dbgpipe_core::input::Content;
use dbgpipe_core::output::{Csv, JsonLines, Printer, Sink};
use dbgpipe_core::rounds::filter::{Filter, Options};
use dbgpipe_core::rounds::lines::{self, Line, Pattern};
use dbgpipe_core::rounds::records::{Record, Summary};
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

#[derive(Clone, Copy)]
enum Format {
    Csv,
    Jsonl,
}

/// What a run gave.
struct Run {
    out: Vec<u8>,
    summary: Summary,
    /// The names of the series judged.
    names: Vec<String>,
    /// Whether a series had a baseline (from a `baseline` record read).
    baselines: bool,
}

/// Runs the filter into the format's printer.
fn run(data: &[u8], format: Format, patterns: Vec<Pattern>) -> Run {
    let opts = Options {
        patterns,
        ..Options::default()
    };
    let mut out = Vec::new();
    let (summary, names, baselines) = {
        let mut printer: Box<dyn Printer<Record> + '_> = match format {
            Format::Csv => Box::new(Csv::new(
                Sink::new(&mut out, false),
                Box::new(std::io::sink()),
                false,
            )),
            Format::Jsonl => Box::new(JsonLines::new(Sink::new(&mut out, false))),
        };
        let mut f = Filter::new(opts);
        f.read("fuzz", data, printer.as_mut())
            .expect("a slice reads and a Vec takes writes");
        let names = f.series().iter().map(|s| s.name.clone()).collect();
        let baselines = f.series().iter().any(|s| s.baseline_source.is_some());
        let summary = f.finish(printer.as_mut()).expect("a Vec takes writes");
        (summary, names, baselines)
    };
    Run {
        out,
        summary,
        names,
        baselines,
    }
}

fuzz_target!(|data: &[u8]| {
    let patterns = [pattern()];
    for line in data.split(|&b| b == b'\n') {
        if let Line::Value(v) = lines::parse_line(line, &patterns) {
            assert!(v.value.is_finite(), "{v:?}");
        }
    }

    if Content::of(data).refuse("fuzz").is_some() {
        let mut f = Filter::new(Options::default());
        let e = f
            .read("fuzz", data, &mut dbgpipe_core::rounds::print::Discard)
            .expect_err("binary data is refused");
        assert!(e.to_string().starts_with("fuzz: is "), "{e}");
        return;
    }

    let first = run(data, Format::Csv, vec![pattern()]);
    let (csv, s, names) = (&first.out, &first.summary, &first.names);
    assert_eq!(
        s.lines,
        s.values - s.massif_values + s.unmatched + s.own_lines + s.foreign_records + s.massif_lines,
        "{s:?}"
    );
    let rows = csv.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64;
    // Names with a newline make a row of two lines (quoted by the csv crate).
    let split_rows: u64 = names.iter().filter(|n| n.contains(['\n', '\r'])).count() as u64;
    if split_rows == 0 {
        assert_eq!(rows, s.values - s.ignored - s.dropped_values + 1, "{s:?}");
    }

    // Names that need CSV quoting cannot be read back from CSV (the reader takes plain
    // names only); JSON carries any name.
    let plain = names.iter().all(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.:-".contains(&c))
    });
    if plain {
        let again = run(csv, Format::Csv, Vec::new());
        // A baseline is not in the CSV (the verdict note on stderr says it), so the net
        // values read back are the raw ones; round, series and value are the same.
        let columns = |b: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(b)
                .lines()
                .map(|l| match first.baselines {
                    true => l.rsplit_once(',').map_or(l, |(head, _)| head).to_string(),
                    false => l.to_string(),
                })
                .collect()
        };
        assert_eq!(columns(&again.out), columns(csv), "CSV output read back");
    }

    let jsonl = run(data, Format::Jsonl, vec![pattern()]).out;
    let again = run(&jsonl, Format::Jsonl, Vec::new()).out;
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
