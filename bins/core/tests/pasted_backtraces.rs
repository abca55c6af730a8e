//! Conformance on gdb backtraces as people pasted them into bug reports, mails and docs
//! (`tests/data/pasted/gdb/`, see its README): indented, `> `-quoted, fenced, rewrapped by
//! a mail client or quoted-printable, cut at both ends.
//!
//! `expected.json` holds facts counted by hand for each file; bt-demangle's records must
//! say the same: the crash's `signal`, `thread` and `frames`, its top frame's function as gdb
//! printed it (without its argument list: the function of a `--no-simplify` run), the frame
//! records (`total_frames`), the distinct threads with frames (`threads`), the `py_frame`
//! records (`py_frames`). An input with no crash record has no signal, no thread, no frames
//! and no top function. Every line of every input is counted.

use dbgpipe_core::backtrace::filter::{self, Options};
use dbgpipe_core::backtrace::print::{self, TextOptions};
use dbgpipe_core::output::Format;
use dbgpipe_core::project::Project;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/pasted/gdb")
}

/// One object of `expected.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    file: String,
    url: String,
    shapes: Vec<String>,
    signal: Option<String>,
    crash_thread: Option<u32>,
    frames: u64,
    top_function: Option<String>,
    total_frames: u64,
    threads: u64,
    py_frames: u64,
    notes: String,
}

/// The facts of one input, as bt-demangle's records give them, in `expected.json`'s terms.
#[derive(Debug, PartialEq)]
struct Facts {
    signal: Option<String>,
    crash_thread: Option<u32>,
    frames: u64,
    top_function: Option<String>,
    total_frames: u64,
    threads: u64,
    py_frames: u64,
}

/// bt-demangle's JSON records for one input, names as gdb printed them (`--no-simplify`).
fn records(name: &str, input: &[u8]) -> Vec<Value> {
    let opts = Options {
        project: Project::Patterns(Vec::new().into()),
        simplify: false,
        depth: 2,
    };
    let mut out = Vec::new();
    {
        let mut printer = print::printer(
            Format::Jsonl,
            TextOptions::default(),
            &mut out,
            Box::new(std::io::sink()),
            false,
        )
        .unwrap();
        filter::run(name, input, opts, &mut *printer).unwrap();
    }
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn facts(recs: &[Value]) -> Facts {
    let crash = recs.iter().find(|r| r["type"] == "crash");
    let summary = recs.last().unwrap();
    let count = |kind: &str| recs.iter().filter(|r| r["type"] == kind).count() as u64;
    assert_eq!(summary["frames"].as_u64(), Some(count("frame")));
    assert_eq!(summary["py_frames"].as_u64(), Some(count("py_frame")));
    let text = |v: &Value| v.as_str().map(str::to_string);
    Facts {
        signal: crash.and_then(|c| text(&c["signal"])),
        crash_thread: crash.and_then(|c| c["thread"].as_u64()).map(|t| t as u32),
        frames: crash.and_then(|c| c["frames"].as_u64()).unwrap_or(0),
        top_function: crash.and_then(|c| text(&c["top_frame"]["function"])),
        total_frames: count("frame"),
        threads: summary["threads"].as_u64().unwrap(),
        py_frames: count("py_frame"),
    }
}

fn expected() -> Vec<Expected> {
    let text = std::fs::read_to_string(corpus().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_pasted_backtrace_gives_the_facts_counted_by_hand() {
    let expected = expected();
    assert!(expected.len() >= 32, "{} files", expected.len());
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    files.sort();
    let listed: Vec<String> = expected.iter().map(|e| e.file.clone()).collect();
    assert_eq!(files, listed, "expected.json lists every file, in order");

    let mut wrong = Vec::new();
    for e in &expected {
        let data = std::fs::read(corpus().join(&e.file)).unwrap();
        let (first, input) = data.split_at(data.iter().position(|&b| b == b'\n').unwrap() + 1);
        let source = String::from_utf8_lossy(first);
        assert_eq!(
            source.trim_end(),
            format!("# source: {}", e.url),
            "{}: line 1",
            e.file
        );
        assert!(!e.shapes.is_empty() && !e.notes.is_empty(), "{}", e.file);
        let recs = records(&e.file, input);
        let summary = recs.last().unwrap();
        // Nothing dropped silently: every line is counted.
        let lines = input.split(|&b| b == b'\n').count() - 1;
        assert_eq!(summary["lines"].as_u64(), Some(lines as u64), "{}", e.file);
        let got = facts(&recs);
        let want = Facts {
            signal: e.signal.clone(),
            crash_thread: e.crash_thread,
            frames: e.frames,
            top_function: e.top_function.clone(),
            total_frames: e.total_frames,
            threads: e.threads,
            py_frames: e.py_frames,
        };
        if got != want {
            wrong.push(format!(
                "{}:\n  expected {want:?}\n  got      {got:?}",
                e.file
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// No line that starts like a frame is left unread: each is a frame, a Python frame, or a
/// `py-bt` placeholder (`#8 (unable to read python frame information)`).
#[test]
fn no_frame_line_is_left_unread() {
    for e in expected() {
        let data = std::fs::read(corpus().join(&e.file)).unwrap();
        let input = &data[data.iter().position(|&b| b == b'\n').unwrap() + 1..];
        let recs = records(&e.file, input);
        assert_eq!(recs.last().unwrap()["unparsed_lines"], 0, "{}", e.file);
    }
}
