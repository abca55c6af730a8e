//! Conformance on gdb output nobody on this project wrote: the backtraces quoted from public
//! bug reports and the two local captures in `tests/data/gdb/` (see its README).
//!
//! Every frame line must be read as a frame: a "frame line" is defined here, independently
//! of the parser, as a line that starts with `#N ` once pager prompts are taken out; the
//! number of such lines must equal the frames bt-demangle reports, with no line left
//! unparsed, and agree with the README's table where it gives a count.

use dbgpipe_core::backtrace::filter::{self, Format, Options};
use dbgpipe_core::output::Sink;
use dbgpipe_core::project::Project;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The repository's real inputs (`tests/data/gdb`, see its README).
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/gdb")
}

/// The records bt-demangle writes for one input, in JSON lines.
fn records(name: &str, data: &[u8], project: &[&str]) -> Vec<Value> {
    let opts = Options {
        project: Project::Patterns(project.iter().map(|p| p.to_string()).collect()),
        format: Format::Jsonl,
        simplify: true,
        depth: 2,
        keep_args: false,
        all: false,
    };
    let mut sink = Sink::new(Vec::new(), false);
    filter::run(name, data, opts, &mut sink, &mut std::io::sink()).unwrap();
    let text = String::from_utf8(sink.get_ref().clone()).unwrap();
    text.lines()
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
    joined
        .lines()
        .filter(|l| {
            l.strip_prefix('#').is_some_and(|rest| {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                digits > 0 && rest[digits..].starts_with(' ')
            })
        })
        .count()
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
    assert_eq!(top["library"], "/opt/example/libcrash.so");

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
