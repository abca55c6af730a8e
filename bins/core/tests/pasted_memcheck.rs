//! Memcheck logs as people paste them into bug reports (`tests/data/pasted/valgrind`, see its
//! README): each one's records must match the facts counted by hand in `expected.json`, and
//! an indented or quoted copy of any log in the repository must give the records of the log.

mod common;

use common::{corpus as data, events, files, read};
use dbgpipe_core::memcheck::{Event, Record};
use serde::Deserialize;
use std::path::Path;

/// One input's hand counts.
#[derive(Debug, Deserialize)]
struct Expected {
    file: String,
    records: Vec<ExpectedRecord>,
    fatal_signal: Option<ExpectedSignal>,
    valgrind_panic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
struct ExpectedRecord {
    kind: String,
    top: Option<String>,
    frames: usize,
    aux: usize,
    truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct ExpectedSignal {
    signal: String,
    top: Option<String>,
    frames: usize,
}

/// The input of a corpus file: its first line is the `# source:` line.
fn input(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.split_once('\n')
        .map_or(String::new(), |(_, rest)| rest.to_string())
}

fn counted(r: &Record) -> ExpectedRecord {
    ExpectedRecord {
        kind: r.kind.clone(),
        top: r.stack.first().and_then(|f| f.function.clone()),
        frames: r.stack.len(),
        aux: r.aux.len(),
        truncated: r.truncated,
    }
}

#[test]
fn pasted_logs_give_their_hand_counted_records() {
    let dir = data().join("pasted/valgrind");
    let expected: Vec<Expected> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert!(expected.len() >= 30, "the set holds {}", expected.len());
    let mut failures = Vec::new();
    for want in &expected {
        let (events, stats) = events(&want.file, input(&dir.join(&want.file)).as_bytes());
        let mut got: Vec<ExpectedRecord> = Vec::new();
        let mut signals = Vec::new();
        let mut panics = 0;
        for e in &events {
            match e {
                // A paste may hold a `-v` log's closing listing without the records it
                // repeats: vg-filter reads such a repeat as the record (the hand count
                // counts its header too).
                Event::Record(r) | Event::Repeat { record: r, .. } => got.push(counted(r)),
                Event::Lazy(r) => got.push(counted(&r.clone().into_record())),
                Event::FatalSignal(f) => signals.push(ExpectedSignal {
                    signal: f.signal.clone().unwrap_or_default(),
                    top: f.stack.first().and_then(|f| f.function.clone()),
                    frames: f.stack.len(),
                }),
                Event::ValgrindPanic(_) => panics += 1,
                Event::ErrorCount { .. } => {}
            }
        }
        // Processes interleave: records are compared as a set, in a stable order.
        let mut want_records = want.records.clone();
        want_records.sort();
        got.sort();
        if got != want_records {
            failures.push(format!(
                "{}: records\n  want {want_records:?}\n  got  {got:?}\n  ({stats:?})",
                want.file
            ));
        }
        if signals.first() != want.fatal_signal.as_ref() {
            failures.push(format!(
                "{}: fatal signal: want {:?}, got {signals:?}",
                want.file, want.fatal_signal
            ));
        }
        if (panics > 0) != want.valgrind_panic {
            failures.push(format!(
                "{}: Valgrind failure: want {}, got {panics}",
                want.file, want.valgrind_panic
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs differ:\n{}",
        failures.len(),
        expected.len(),
        failures.join("\n")
    );
}

/// Every log of the repository: Valgrind's expected outputs, the raw CPython logs and the
/// pasted set.
fn every_log() -> Vec<(String, String)> {
    let mut paths = Vec::new();
    files(&data().join("valgrind"), &mut paths);
    files(&data().join("memcheck-logs"), &mut paths);
    paths.retain(|p| {
        let name = p.to_string_lossy();
        (name.contains(".stderr.exp") || name.ends_with(".log") || name.ends_with(".log.gz"))
            && !name.ends_with(".supp")
    });
    let mut logs: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let text = String::from_utf8_lossy(&read(p)).into_owned();
            (p.display().to_string(), text)
        })
        .collect();
    let mut pasted = Vec::new();
    files(&data().join("pasted/valgrind"), &mut pasted);
    for p in pasted {
        let name = p.to_string_lossy();
        if name.ends_with(".txt") || name.ends_with(".xml") {
            logs.push((p.display().to_string(), input(&p)));
        }
    }
    logs.sort();
    logs
}

/// What a paste must not change: every event, but the parse counts of lines.
fn comparable(events: Vec<Event>) -> Vec<String> {
    events.into_iter().map(|e| format!("{e:?}")).collect()
}

#[test]
fn indented_and_quoted_copies_give_the_same_records() {
    let logs = every_log();
    assert!(logs.len() > 400, "{} logs", logs.len());
    let mut failures = Vec::new();
    for (name, log) in &logs {
        // A client's own printf in the middle of a record (client-msg) is Valgrind's text
        // but not its structure: the paste cannot be told from it.
        if name.contains("client-msg") {
            continue;
        }
        let (want, _) = events(name, log.as_bytes());
        for lead in ["    ", "\t", "> ", ">> "] {
            let paste: String = log.lines().map(|l| format!("{lead}{l}\n")).collect();
            let (got, _) = events(name, paste.as_bytes());
            let (got, want) = (comparable(got), comparable(want.clone()));
            if got != want {
                let first = got.iter().zip(&want).find(|(g, w)| g != w);
                failures.push(format!(
                    "{name} with {lead:?}: {} events, {} from the log; first difference: {first:?}",
                    got.len(),
                    want.len()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
