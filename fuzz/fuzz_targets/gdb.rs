//! gdb backtraces: any bytes give events, never a panic, and
//! - every line that starts like a frame (`#N ` with N a u32) gives exactly one frame, one
//!   `Unparsed` event or one Python frame: none is lost or doubled, wrapped lines or not
//!   (checked on inputs without pager prompts, which join lines by design);
//! - a frame's parts are well formed: no empty function name, a line number only with a
//!   file, nothing holds a newline;
//! - bt-demangle over the same bytes counts what it writes: frame records = `frames` =
//!   project + python + system + unknown, every output line is one JSON object, the last one
//!   the summary, and the text and CSV formats do not panic either.
#![no_main]
use dbgpipe_core::backtrace::filter::{self, Format, Options};
use dbgpipe_core::backtrace::gdb::{Event, Parser};
use dbgpipe_core::input::{read_line, MAX_LINE};
use dbgpipe_core::output::Sink;
use dbgpipe_core::project::Project;
use libfuzzer_sys::fuzz_target;
use std::convert::Infallible;

/// `#12 ` as the parser reads it: `#`, digits that fit a u32, then a blank.
fn is_frame_head(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('#') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[..digits].parse::<u32>().is_ok() && rest[digits..].starts_with([' ', '\t'])
}

fn check_frame(f: &dbgpipe_core::backtrace::gdb::Frame) {
    assert!(f.function.as_deref() != Some(""), "{f:?}");
    assert!(f.line.is_none() || f.file.is_some(), "{f:?}");
    for part in [&f.addr, &f.function, &f.args, &f.file, &f.library]
        .into_iter()
        .flatten()
    {
        assert!(!part.contains('\n'), "{f:?}");
    }
    assert!(!f.text.is_empty(), "{f:?}");
}

fn options(format: Format) -> Options {
    Options {
        // Patterns, not a root: no file system lookups while fuzzing.
        project: Project::Patterns(vec!["proj".into(), "*.so".into()]),
        format,
        simplify: true,
        depth: 2,
        keep_args: false,
        all: false,
    }
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
                assert!(f.index.is_none());
            }
            Event::Unparsed(t) => from_heads += u64::from(is_frame_head(t)),
            Event::PyFrame(_, t) => from_heads += u64::from(is_frame_head(t)),
            _ => {}
        }
        Ok(())
    };
    while let Some(end) = read_line(&mut reader, &mut buf, MAX_LINE).expect("a slice reads") {
        let line = String::from_utf8_lossy(&buf);
        prompts |= line.contains("Type <");
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

    // The whole filter: JSON lines add up.
    let mut out = Vec::new();
    let mut err = Vec::new();
    let summary = {
        let mut sink = Sink::new(&mut out, false);
        filter::run("fuzz", data, options(Format::Jsonl), &mut sink, &mut err)
            .expect("writing to a Vec cannot fail")
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
        let kind = v["type"]
            .as_str()
            .expect("each record has a type")
            .to_string();
        frames += u64::from(kind == "frame");
        last = Some(kind);
    }
    assert_eq!(last.as_deref(), Some("summary"));
    assert_eq!(frames, summary.frames);

    // Text: no panic, the same count. (CSV shares everything but the quoting of a row.)
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut sink = Sink::new(&mut out, false);
    let text = filter::run("fuzz", data, options(Format::Text), &mut sink, &mut err)
        .expect("writing to a Vec cannot fail");
    assert_eq!(text.frames, summary.frames);
});
