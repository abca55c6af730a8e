//! Conformance on gdb output nobody on this project wrote: the backtraces quoted from public
//! bug reports and the two local captures in `tests/data/gdb/` (see its README).
//!
//! Every frame line must be read as a frame: a "frame line" is defined here, independently
//! of the parser, as a line that starts with `#N ` once pager prompts are taken out, but a
//! core file's stop line (a `#0` line right after the signal report, only blank and `[…]`
//! lines between) when the next frame line is a `#0` again (`bt` repeating it: that line
//! is the stop location); the number of such lines must equal the frames bt-demangle
//! reports, with no line left unparsed, and agree with the README's table where it gives
//! a count.

use dbgpipe_core::backtrace::filter::{self, Options};
use dbgpipe_core::backtrace::print::{self, TextOptions};
use dbgpipe_core::backtrace::records::Record;
use dbgpipe_core::output::{Format, Printer};
use dbgpipe_core::project::Project;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The repository's real inputs (`tests/data/gdb`, see its README).
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/gdb")
}

/// bt-demangle's output for one input, in `format`.
fn output(name: &str, data: &[u8], project: &[&str], format: Format) -> String {
    output_of(name, data, project, format, false)
}

/// A printer that shows the records only: what the text report holds of the JSON lines.
struct RecordsOnly<'a>(&'a mut dyn Printer<Record>);

impl Printer<Record> for RecordsOnly<'_> {
    fn record(&mut self, record: &Record) -> std::io::Result<()> {
        self.0.record(record)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.0.finish()
    }
}

/// [`output`], or without the lines passed through (`records_only`).
fn output_of(
    name: &str,
    data: &[u8],
    project: &[&str],
    format: Format,
    records_only: bool,
) -> String {
    let opts = Options {
        project: Project::Patterns(
            project
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .into(),
        ),
        simplify: true,
        depth: 2,
    };
    let mut out = Vec::new();
    {
        let mut printer = print::printer(
            format,
            TextOptions::default(),
            &mut out,
            Box::new(std::io::sink()),
            false,
        )
        .unwrap();
        if records_only {
            filter::run(name, data, opts, &mut RecordsOnly(&mut *printer)).unwrap();
        } else {
            filter::run(name, data, opts, &mut *printer).unwrap();
        }
    }
    String::from_utf8(out).unwrap()
}

/// The records bt-demangle writes for one input, in JSON lines.
fn records(name: &str, data: &[u8], project: &[&str]) -> Vec<Value> {
    output(name, data, project, Format::Jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Lines that start with `#N ` once every pager prompt is removed, as a reader would count
/// them. A prompt that interrupts a line joins it with the next.
fn frame_lines(text: &str) -> usize {
    const PROMPT: &str = "--Type <RET> for more, q to quit, c to continue without paging--";
    let mut joined = String::new();
    let mut carry = String::new();
    for line in text.lines().skip(1) {
        let line = format!("{carry}{line}");
        carry.clear();
        match line.find(PROMPT) {
            Some(0) => {}
            Some(i) => carry = line[..i].to_string(),
            None => {
                joined.push_str(&line);
                joined.push('\n');
            }
        }
    }
    let head = |l: &str| -> Option<u32> {
        let rest = l.strip_prefix('#')?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0 && rest[digits..].starts_with(' '))
            .then(|| rest[..digits].parse().ok())
            .flatten()
    };
    let mut count = 0;
    let mut after_report = false;
    // A `#0` right after the report, waiting for the next frame line to say what it is.
    let mut stop_line = false;
    for line in joined.lines() {
        if let Some(n) = head(line) {
            count += 1;
            if stop_line && n == 0 {
                count -= 1;
            }
            stop_line = after_report && n == 0;
            after_report = false;
        } else if line.starts_with("Program terminated with signal")
            || line.starts_with("Program received signal")
        {
            after_report = true;
        } else if !(line.trim().is_empty() || line.starts_with('[')) {
            after_report = false;
        }
    }
    count
}

/// The README's table: file → frames, where the cell starts with a number.
fn readme_counts() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(corpus().join("README.md")).unwrap();
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let file = cells.get(1)?;
            let count: String = cells
                .get(2)?
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !file.ends_with(".txt") {
                return None;
            }
            Some((file.to_string(), count.parse().ok()?))
        })
        .collect()
}

#[test]
fn every_frame_line_of_every_file_is_a_frame() {
    let counts = readme_counts();
    assert!(counts.len() >= 13, "README table: {counts:?}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 13, "{} files", files.len());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let recs = records(&name, &data, &[]);
        let summary = recs.last().unwrap();
        assert_eq!(summary["type"], "summary", "{name}");
        assert_eq!(summary["unparsed_lines"], 0, "{name}");
        let frames = recs.iter().filter(|r| r["type"] == "frame").count();
        assert_eq!(summary["frames"], frames, "{name}");
        let expected = frame_lines(&String::from_utf8_lossy(&data));
        assert_eq!(frames, expected, "{name}: frames read vs frame lines");
        if let Some(&n) = counts.get(&name) {
            assert_eq!(frames, n, "{name}: README count");
        }
        println!(
            "{name}: {frames} frames, {} truncated",
            summary["truncated_frames"]
        );
        // Every input here shows a crash or a backtrace: one crash record.
        assert_eq!(summary["crashes"], 1, "{name}");
        // The local captures are whole: no frame of theirs is cut (a repr CPython's gdb
        // helpers cut, `...(truncated)`, once left the rest of its frame unread).
        if name.starts_with("local_") {
            assert_eq!(summary["truncated_frames"], 0, "{name}");
        }
    }
}

#[test]
fn the_issue_frame_comes_out_short_and_readable() {
    let path = corpus().join("local_python_ctypes_hashtable.txt");
    let recs = records("hashtable", &std::fs::read(path).unwrap(), &["libcrash"]);
    let top = recs
        .iter()
        .find(|r| r["type"] == "frame" && r["index"] == 0)
        .unwrap();
    let function = top["function"].as_str().unwrap();
    assert!(
        function.contains("_Hashtable")
            && function.contains("_M_emplace")
            && function.contains("ddw::parameter"),
        "{function}"
    );
    assert!(function.len() < 160, "{} chars: {function}", function.len());
    assert!(top["function_raw"].as_str().unwrap().len() > 800);
    assert_eq!(top["class"], "project");
    assert_eq!(top["object"], "/opt/example/libcrash.so");
    assert!(top.get("library").is_none(), "{top}");

    let crash = recs.iter().find(|r| r["type"] == "crash").unwrap();
    assert_eq!(crash["signal"], "SIGSEGV");
    assert_eq!(crash["thread"], 1);
    assert_eq!(crash["thread_name"], "python3.11");
    assert_eq!(crash["frames"], 25);
    assert_eq!(crash["project_frame"]["index"], 0);
    assert_eq!(
        crash["signature_functions"],
        serde_json::json!(["std::_Hashtable::_M_emplace", "ddw::insert", "run_crash"])
    );
    let summary = recs.last().unwrap();
    assert_eq!(summary["threads"], 2);
    // The classes of the 65 frames.
    let class_of = |i: u64, thread: u64| {
        recs.iter()
            .find(|r| r["type"] == "frame" && r["index"] == i && r["thread"] == thread)
            .map(|r| r["class"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(class_of(3, 1), "system", "libffi");
    assert_eq!(class_of(10, 1), "python", "_PyEval_EvalFrameDefault");
    assert_eq!(class_of(22, 1), "system", "__libc_start_call_main");
    assert_eq!(class_of(0, 2), "system", "__GI___clock_nanosleep");
}

#[test]
fn excerpts_keep_their_cut_frames_and_their_crash() {
    // A core file excerpt: the crash thread comes from `[Current thread is 1 …]`, and the
    // stack from the `bt` after it.
    let path = corpus().join("dd-trace-py_7533.txt");
    let recs = records("ddtrace", &std::fs::read(path).unwrap(), &["ddtrace/"]);
    let crash = recs.iter().find(|r| r["type"] == "crash").unwrap();
    assert_eq!(crash["thread"], 1);
    assert_eq!(crash["frames"], 5);
    assert_eq!(crash["project_frame"]["index"], 3);
    let last = recs.iter().rfind(|r| r["type"] == "frame").unwrap();
    assert_eq!(last["truncated"], true);
    assert_eq!(last["inlined"], true);
    // Only a stop location: the crash still names the function.
    let path = corpus().join("arrow_3081.txt");
    let recs = records("arrow", &std::fs::read(path).unwrap(), &[]);
    let crash = recs.iter().find(|r| r["type"] == "crash").unwrap();
    assert_eq!(crash["thread"], 3);
    assert_eq!(
        crash["top_frame"]["function"],
        "parquet::arrow::StructImpl::GetDefLevels(short const**, unsigned long*)"
    );
    assert!(crash["signature"].is_string());
}

/// `bt-demangle --format jsonl X | bt-demangle --format jsonl` gives the same records, so the
/// same frames and crash signature; and `… | bt-demangle` gives the text report of X without
/// the lines gdb printed that are no record (its chatter, signal report, thread headers,
/// source lines, locals: JSON lines carry records only), but for truncated frames, whose cut
/// line the record does not hold: they are rebuilt from their parts.
#[test]
fn json_lines_read_back_give_the_same_records_and_report() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let mut rebuilt_total = 0;
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let project = ["libcrash", "ddtrace/", "_ddwaf"];
        let first = output(&name, &data, &project, Format::Jsonl);
        let second = output("<stdin>", first.as_bytes(), &project, Format::Jsonl);
        let records = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.starts_with("{\"type\":\"summary\""))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(records(&second), records(&first), "{name}");
        let crash = records(&first)
            .into_iter()
            .filter(|l| l.starts_with("{\"type\":\"crash\""))
            .count();
        assert_eq!(crash, 1, "{name}");
        let summary =
            |s: &str| -> Value { serde_json::from_str(s.lines().last().unwrap()).unwrap() };
        // What the first run read and passed over is carried over by its summary.
        let (mut a, b) = (summary(&first), summary(&second));
        a["records_read"] = b["records_read"].clone();
        assert_eq!(a, b, "{name}");
        assert_eq!(
            b["records_read"].as_u64(),
            Some(first.lines().count() as u64),
            "{name}"
        );

        let direct = output_of(&name, &data, &project, Format::Text, true);
        let back = output("<stdin>", first.as_bytes(), &project, Format::Text);
        let (direct, back): (Vec<&str>, Vec<&str>) =
            (direct.lines().collect(), back.lines().collect());
        assert_eq!(direct.len(), back.len(), "{name}:\n{direct:#?}\n{back:#?}");
        let truncated = a["truncated_frames"].as_u64().unwrap() as usize;
        let mut rebuilt = 0;
        for (d, b) in direct.iter().zip(&back) {
            if d != b {
                // A cut line, shown as it was read, against its parts.
                rebuilt += 1;
                let head = |l: &str| l.split(" (").next().unwrap_or(l).to_string();
                assert_eq!(head(d), head(b), "{name}");
            }
        }
        assert!(rebuilt <= truncated, "{name}: {rebuilt} lines differ");
        rebuilt_total += rebuilt;
    }
    // Of the corpus's 7 cut frames, the two cut inside their argument list differ (gdb's
    // text shows what is left of the values, the rebuilt line `(…)`); the others (cut after
    // the address, in the name, in the path) come back as they were shown.
    assert_eq!(rebuilt_total, 2);
}
