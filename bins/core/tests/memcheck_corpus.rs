//! Conformance on inputs nobody on this project wrote: Valgrind's own Memcheck expected
//! outputs, and raw logs of CPython 3.11 under Memcheck (text and XML of the same program).

mod common;

use common::{corpus, files, read};
use dbgpipe_core::memcheck::{self, Event, ParseStats, Record};

/// The records of `data` (fatal signals and the like left out) and the counts; with a `-v`
/// log's repeats of them at its end (`N errors in context K of M:`, see `Event::Repeat`).
fn parse(name: &str, data: &[u8]) -> (Vec<Record>, ParseStats) {
    let (events, stats) = common::events(name, data);
    let records = events.into_iter().filter_map(|e| match e {
        Event::Repeat { record, .. } => Some(record),
        e => e.into_record(),
    });
    (records.collect(), stats)
}

fn is_frame(line: &str) -> bool {
    let t = line.trim_start();
    line.starts_with(' ') && (t.starts_with("at 0x") || t.starts_with("by 0x"))
}

/// Every expected output of Valgrind's Memcheck tests parses, and every error header in
/// it (a column-0 line directly followed by a frame line, outside generated suppression
/// blocks and fatal-signal reports) became a record of a known kind.
#[test]
fn valgrind_expected_outputs_leave_no_header_unparsed() {
    let mut paths = Vec::new();
    files(&corpus().join("valgrind/memcheck"), &mut paths);
    let mut checked = 0;
    let mut total_records = 0;
    let mut failures = Vec::new();
    for path in paths
        .iter()
        .filter(|p| p.to_string_lossy().contains(".stderr.exp"))
    {
        let data = read(path);
        let name = path.display().to_string();
        let (recs, stats) = parse(&name, &data);
        checked += 1;
        total_records += recs.len();
        if memcheck::detect(&data) == memcheck::Format::Xml {
            continue;
        }
        let text = String::from_utf8_lossy(&data);
        let lines: Vec<&str> = text.lines().collect();
        let headers = lines
            .windows(2)
            .filter(|w| !w[0].starts_with(' ') && !w[0].trim().is_empty() && is_frame(w[1]))
            .filter(|w| !w[0].starts_with("Process terminating") && !w[0].contains("   at 0x"))
            .count();
        let mut unknown: Vec<&str> = recs
            .iter()
            .filter(|r| r.kind == "Unknown")
            .map(|r| r.what.as_str())
            .collect();
        // A client's VALGRIND_PRINTF_BACKTRACE whose text is on its own line looks exactly
        // like an error of a kind we do not know; it is kept (as `Unknown`) rather than
        // dropped. This is the one such file.
        if name.ends_with("/client-msg.stderr.exp") {
            assert_eq!(unknown, ["hello <> <&>%s world"]);
            unknown.clear();
        }
        if recs.len() < headers || !unknown.is_empty() || stats.unparsed_lines > 0 {
            failures.push(format!(
                "{name}: {} records for {headers} headers, unknown {unknown:?}, {} unparsed",
                recs.len(),
                stats.unparsed_lines
            ));
        }
    }
    assert!(checked > 450, "only {checked} expected outputs found");
    assert!(total_records > 1000, "only {total_records} records");
    assert!(
        failures.is_empty(),
        "{} files:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What must agree between the two formats: kind, sizes and frames (function, file, line).
/// These text logs were written without `--fullpath-after=`, so they name base names where
/// the XML gives the directory too: the file's base name is what both say.
type Key = (
    String,
    Option<u64>,
    Option<u64>,
    Vec<(Option<String>, Option<String>, Option<u32>)>,
);

fn key(r: &Record) -> Key {
    (
        r.kind.clone(),
        r.bytes,
        r.blocks,
        r.stack
            .iter()
            .map(|f| (f.function.clone(), f.file_name().map(String::from), f.line))
            .collect(),
    )
}

/// The raw logs of CPython 3.11 with a leaking extension: text and XML of the same program
/// (two runs, so PIDs and loss record numbers differ) give the same records.
#[test]
fn raw_cpython_logs_text_and_xml_agree() {
    let dir = corpus().join("memcheck-logs");
    for stem in ["py311-leaky-malloc-all", "py311-big-malloc-all"] {
        let (text, tstats) = parse(stem, &read(&dir.join(format!("{stem}.log.gz"))));
        let (xml, _) = parse(stem, &read(&dir.join(format!("{stem}.xml.gz"))));
        assert_eq!(tstats.unparsed_lines, 0, "{stem}");
        assert_eq!(tstats.truncated_records, 0, "{stem}");
        assert!(
            text.iter().all(|r| r.kind != "Unknown" && r.pid.is_some()),
            "{stem}"
        );
        let mut a: Vec<_> = text.iter().map(key).collect();
        let mut b: Vec<_> = xml.iter().map(key).collect();
        a.sort();
        b.sort();
        let only_text: Vec<_> = a.iter().filter(|k| !b.contains(k)).collect();
        let only_xml: Vec<_> = b.iter().filter(|k| !a.contains(k)).collect();
        // The two runs are separate processes: allow a handful of records that differ
        // (heap layout makes a few leaks possibly-lost in one run and reachable in the other),
        // but the bulk must agree exactly.
        assert!(
            only_text.len() * 100 <= a.len() && only_xml.len() * 100 <= b.len(),
            "{stem}: {} text-only, {} xml-only of {}/{}; first: {:?} / {:?}",
            only_text.len(),
            only_xml.len(),
            a.len(),
            b.len(),
            only_text.first(),
            only_xml.first()
        );
    }
}

/// The leaky extension's records are in the raw log with the frames the README names.
#[test]
fn raw_log_has_the_extension_records() {
    let (recs, _) = parse(
        "leaky",
        &read(&corpus().join("memcheck-logs/py311-leaky-malloc-all.log.gz")),
    );
    let leaky: Vec<&Record> = recs
        .iter()
        .filter(|r| {
            r.stack
                .iter()
                .chain(r.aux.iter().flat_map(|a| &a.stack))
                .any(|f| f.file.as_deref() == Some("leaky.c"))
        })
        .collect();
    let kinds: Vec<&str> = leaky.iter().map(|r| r.kind.as_str()).collect();
    assert!(
        kinds.contains(&"UninitCondition") && kinds.contains(&"InvalidRead"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k.starts_with("Leak_")), "{kinds:?}");
    let read = leaky.iter().find(|r| r.kind == "InvalidRead").unwrap();
    assert_eq!(
        read.aux[0].what,
        "Address 0x55adaf8 is 0 bytes after a block of size 8 alloc'd"
    );
    assert_eq!(read.aux[0].stack[1].function.as_deref(), Some("badread"));
    // 957 loss records and 545 error contexts, per the log's own closing lines.
    let leaks = recs.iter().filter(|r| r.is_leak()).count();
    assert_eq!(leaks, 957);
    // Valgrind's ERROR SUMMARY counts error contexts: the non-leak errors plus the loss
    // records of the kinds --errors-for-leak-kinds names (definite and possible).
    let counted = recs
        .iter()
        .filter(|r| {
            !r.is_leak() || r.kind == "Leak_DefinitelyLost" || r.kind == "Leak_PossiblyLost"
        })
        .count();
    assert_eq!(counted, 545);
}
