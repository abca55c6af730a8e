//! gdb backtraces: any bytes give events, never a panic, and
//! - every line that starts like a frame (`#N ` with N a u32), after a paste's prefix (quote
//!   marks, indentation), gives exactly one frame, one core file's stop line, one `Unparsed`
//!   event, one Python frame or one `py-bt` placeholder: none is lost or doubled, wrapped
//!   lines or not (checked on inputs without pager prompts or quoted-printable soft breaks,
//!   which join lines by design);
//! - a frame's parts are well formed: no empty function name, a line number only with a
//!   file, nothing holds a newline;
//! - bt-demangle over the same bytes counts what it writes: frame records = `frames` =
//!   project + python + system + unknown, every output line is one JSON object, the last one
//!   the summary, and the text format does not panic either (CSV shares all but its rows);
//! - its JSON lines read back as the same records;
//! - a copy of the input quoted as a mail quotes it (`> ` before every line) gives the same
//!   records, when that can hold exactly: the input has no line of its own that starts with
//!   quote marks, blanks or a JSON object (a quoted record is text), and no `=3D` (which makes
//!   a quoted input quoted-printable); both are read after a `(gdb) bt` line, which teaches
//!   the prefix from the start.
//!
//! bt-demangle refuses binary input (NUL bytes, mostly control characters, ELF) before it
//! reads a line; such bytes are checked for that refusal, then fed to the filter with the
//! control characters made blanks, so that the filter still sees every other byte.
#![no_main]
use dbgpipe_core::backtrace::filter::{self, Options};
use dbgpipe_core::backtrace::gdb::{self, Event, FrameLine, Parser};
use dbgpipe_core::backtrace::print::{self, TextOptions};
use dbgpipe_core::backtrace::records::Summary;
use dbgpipe_core::input::{read_line, Content, MAX_LINE};
use dbgpipe_core::output::Format;
use dbgpipe_core::project::Project;
use libfuzzer_sys::fuzz_target;
use std::convert::Infallible;

/// What follows `#12 ` as the parser reads it (`#`, digits that fit a u32, then a blank),
/// after a paste's prefix (quote marks and blanks).
fn frame_head(line: &str) -> Option<&str> {
    let line = line.trim_start_matches(['>', ' ', '\t']);
    let rest = line.strip_prefix('#')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0 && rest[..digits].parse::<u32>().is_ok() && rest[digits..].starts_with([' ', '\t']))
        .then(|| rest[digits..].trim_start_matches([' ', '\t']))
}

fn is_frame_head(line: &str) -> bool {
    frame_head(line).is_some()
}

fn check_frame(f: &FrameLine) {
    assert!(f.frame.function.as_deref() != Some(""), "{f:?}");
    assert!(f.frame.line.is_none() || f.frame.file.is_some(), "{f:?}");
    for part in [
        &f.frame.addr,
        &f.frame.function,
        &f.args,
        &f.frame.file,
        &f.frame.object,
    ]
    .into_iter()
    .flatten()
    {
        assert!(!part.contains('\n'), "{f:?}");
    }
    assert!(!f.text.is_empty(), "{f:?}");
}

fn options() -> Options {
    Options {
        // Patterns, not a root: no file system lookups while fuzzing.
        project: Project::Patterns(vec!["proj".into(), "*.so".into()].into()),
        simplify: true,
        depth: 2,
    }
}

/// bt-demangle's output for `data` in `format`, and its summary.
fn filter(data: &[u8], format: Format) -> Result<(Vec<u8>, Summary), dbgpipe_core::Error> {
    let mut out = Vec::new();
    let summary = {
        let mut printer = print::printer(
            format,
            TextOptions::default(),
            &mut out,
            Box::new(std::io::sink()),
            false,
        )
        .expect("a format bt-demangle writes");
        filter::run("fuzz", data, options(), &mut *printer)?
    };
    Ok((out, summary))
}

fuzz_target!(|data: &[u8]| {
    // The parser, fed lines the way bt-demangle feeds them.
    let mut reader = data;
    let mut buf = Vec::new();
    let mut parser = Parser::new();
    let (mut heads, mut from_heads) = (0u64, 0u64);
    let mut prompts = false;
    let mut count = |ev: Event<'_>| -> Result<(), Infallible> {
        match ev {
            Event::Frame(f) => {
                check_frame(&f);
                from_heads += u64::from(f.index.is_some());
            }
            Event::Stop(f) => {
                check_frame(&f);
                // A core file's stop line (`#0 …`) keeps its number.
                assert!(f.index.is_none() || f.index == Some(0));
                from_heads += u64::from(f.index.is_some());
            }
            Event::Unparsed(t) => from_heads += u64::from(is_frame_head(t)),
            Event::PyFrame(_, t) => from_heads += u64::from(is_frame_head(t)),
            Event::Other(t) | Event::Detail(t) => {
                // A frame line passed through is a `py-bt` placeholder, or it was lost.
                if let Some(rest) = frame_head(t) {
                    assert!(
                        gdb::is_py_placeholder(rest),
                        "a frame line passed through: {t:?}"
                    );
                    from_heads += 1;
                }
            }
            Event::Thread(..) | Event::Signal(..) => {}
        }
        Ok(())
    };
    while let Some(end) = read_line(&mut reader, &mut buf, MAX_LINE).expect("a slice reads") {
        let line = String::from_utf8_lossy(&buf);
        prompts |= line.contains("Type <") || line.contains("=3D");
        heads += u64::from(is_frame_head(&line));
        let Ok(()) = if end.newline {
            parser.push(&line, &mut count)
        } else {
            parser.push_cut(&line, &mut count)
        };
    }
    let Ok(()) = parser.finish(&mut count);
    if !prompts {
        assert_eq!(
            heads, from_heads,
            "every `#N ` line is one frame or one unparsed line"
        );
    }

    // The whole filter, on text: binary input is refused first.
    let text_like: Vec<u8>;
    let data = match Content::of(data).refuse("fuzz") {
        None => data,
        Some(_) => {
            let mut err_out = Vec::new();
            let mut printer = print::printer(
                Format::Jsonl,
                TextOptions::default(),
                &mut err_out,
                Box::new(std::io::sink()),
                false,
            )
            .expect("jsonl");
            let refused = filter::run("fuzz", data, options(), &mut *printer);
            assert!(refused.is_err(), "binary input is refused");
            drop(printer);
            assert!(err_out.is_empty(), "nothing is written before the refusal");
            text_like = data
                .iter()
                .map(|&b| match b {
                    b'\n' | b'\t' => b,
                    0..=0x1f | 0x7f => b' ',
                    _ => b,
                })
                .collect();
            if Content::of(&text_like).refuse("fuzz").is_some() {
                return;
            }
            &text_like
        }
    };

    // JSON lines add up. A line that says it is one of bt-demangle's records and is not
    // is the only error a slice can give: one line, naming its line.
    let (out, summary) = match filter(data, Format::Jsonl) {
        Ok(done) => done,
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.starts_with("fuzz:") && message.contains("record that this version"),
                "{message}"
            );
            assert!(filter(data, Format::Text).is_err());
            return;
        }
    };
    assert_eq!(
        summary.frames,
        summary.project_frames
            + summary.python_frames
            + summary.system_frames
            + summary.unknown_frames
    );
    let text = String::from_utf8(out).expect("JSON output is UTF-8");
    let mut frames = 0u64;
    let mut last = None;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).expect("each line is one JSON object");
        assert!(v.is_object(), "{line}");
        // A JSON object of the input without a type is passed on as it was (bytes that are
        // not UTF-8 replaced: JSON lines are UTF-8).
        let kind = match v["type"].as_str() {
            Some(kind) => kind.to_string(),
            None => {
                let found = String::from_utf8_lossy(data).contains(line);
                assert!(
                    found,
                    "an object without a type that is not the input's: {line}"
                );
                String::new()
            }
        };
        frames += u64::from(kind == "frame");
        last = Some(kind);
    }
    assert_eq!(last.as_deref(), Some("summary"));
    assert_eq!(frames, summary.frames);

    // Read back: the same records. (Lines of the input that were JSON objects of other
    // types pass through the first run, and again through the second.)
    let (again, back) = filter(text.as_bytes(), Format::Jsonl).expect("its own output reads back");
    let again = String::from_utf8(again).expect("JSON output is UTF-8");
    let body = |s: &str| -> Vec<String> {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.pop();
        v
    };
    assert_eq!(body(&again), body(&text));
    assert_eq!(back.frames, summary.frames);
    assert_eq!(back.crashes, summary.crashes);

    // Text: no panic, the same count.
    let (_, text) = filter(data, Format::Text).expect("the same input reads in text");
    assert_eq!(text.frames, summary.frames);

    // Quoted as a mail quotes it: the same records, where that holds exactly.
    let own_prefix = data
        .split(|&b| b == b'\n')
        .any(|l| matches!(l.first(), Some(b'>' | b' ' | b'\t' | b'{' | b'\r')));
    let qp = data.windows(3).any(|w| w == b"=3D");
    if !own_prefix && !qp {
        let mut plain = b"(gdb) bt\n".to_vec();
        plain.extend_from_slice(data);
        let mut quoted = b"> (gdb) bt\n".to_vec();
        for line in data.split_inclusive(|&b| b == b'\n') {
            quoted.extend_from_slice(b"> ");
            quoted.extend_from_slice(line);
        }
        let (a, _) = filter(&plain, Format::Jsonl).expect("text reads");
        let (b, _) = filter(&quoted, Format::Jsonl).expect("text reads");
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "a quoted copy reads as the original"
        );
    }
});
