//! Memcheck's text log: `==PID==` prefixed lines as Valgrind writes them to stderr or
//! `--log-file`, and the prefix-less form of Valgrind's own filtered test outputs.
//!
//! A record is a header line at column 0 (`Invalid read of size 1`, `8 bytes in 1 blocks are
//! definitely lost …`), its frames (`   at 0x…: fn (file:line)`, `   by …`), and auxiliary
//! descriptions indented by one space (` Address 0x… is 0 bytes after …`), each possibly with
//! frames of its own. A blank line (after the prefix) ends it. Valgrind writes a record in one
//! piece per process, but `--trace-children=yes` into one stream interleaves processes, so the
//! state of the record being assembled is kept per PID.

use super::{header, AuxStack, ParseStats, Record, MAX_FRAMES};
use crate::input::{read_line, MAX_LINE};
use crate::{Error, Frame};
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::char;
use nom::combinator::recognize;
use nom::{IResult, Parser};
use std::collections::HashMap;
use std::io::BufRead;

/// Parses one text input, calling `on_record` for each record as soon as it is complete.
///
/// Fails only when the input cannot be read; any content gives records and counts.
pub fn parse<R: BufRead>(
    input: &str,
    mut reader: R,
    stats: &mut ParseStats,
    on_record: &mut dyn FnMut(Record),
) -> Result<(), Error> {
    let mut parser = TextParser::default();
    let mut buf = Vec::with_capacity(256);
    loop {
        let end = match read_line(&mut reader, &mut buf, MAX_LINE) {
            Ok(Some(end)) => end,
            Ok(None) => break,
            Err(e) => return Err(Error::at(input, Some(stats.lines + 1), e.to_string())),
        };
        stats.lines += 1;
        if end.cut {
            stats.long_lines += 1;
        }
        let line = String::from_utf8_lossy(&buf);
        // Valgrind writes whole lines, so a prefixed line without its newline at the end of
        // the input is a fragment of a cut log: not a line to act on (`==1==` alone would
        // look like the blank line that ends a record).
        if !end.newline && split_prefix(&line).pid.is_some() {
            stats.unparsed_lines += 1;
            continue;
        }
        parser.line(&line, stats, on_record);
    }
    parser.finish(stats, on_record);
    Ok(())
}

/// Column-0 lines that start a block with frames that is not an error record.
const NOT_RECORDS: &[&str] = &[
    "Process terminating with default action of signal",
    "new/new[] aligned failed and should throw an exception",
    "Emulation fatal error",
    "Emulation warning",
];

/// Where a line came from: the PID of its `==PID==` prefix, and whether the prefix marks
/// Valgrind's own messages (`==`) or core warnings and debug output (`--`, `**`).
struct Prefixed<'a> {
    pid: Option<u32>,
    tool_message: bool,
    body: &'a str,
}

fn split_prefix(line: &str) -> Prefixed<'_> {
    for (open, tool_message) in [("==", true), ("--", false), ("**", false)] {
        if let Some(rest) = line.strip_prefix(open) {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && digits <= 10 && rest[digits..].starts_with(open) {
                let body = &rest[digits + open.len()..];
                let body = body.strip_prefix(' ').unwrap_or(body);
                return Prefixed {
                    pid: rest[..digits].parse().ok(),
                    tool_message,
                    body,
                };
            }
        }
    }
    Prefixed {
        pid: None,
        tool_message: true,
        body: line,
    }
}

/// What one process's part of the stream is in the middle of.
#[derive(Default)]
struct PidState {
    record: Option<Record>,
    /// Thread named by the last `Thread N:` line.
    tid: Option<u32>,
    /// The last unrecognised column-0 line: if frames follow it, it was the header of a
    /// record kind this parser does not know, and becomes an `Unknown` record instead of
    /// being lost.
    last_unknown: Option<String>,
    /// Inside a block that has frames but is not an error record (the fatal-signal report).
    in_other_block: bool,
}

#[derive(Default)]
struct TextParser {
    states: HashMap<Option<u32>, PidState>,
    /// Inside a `{ … }` suppression printed by `--gen-suppressions` (never prefixed).
    in_suppression: bool,
}

impl TextParser {
    fn line(&mut self, line: &str, stats: &mut ParseStats, out: &mut dyn FnMut(Record)) {
        let p = split_prefix(line);
        if p.pid.is_none() && self.suppression_line(p.body) {
            stats.other_lines += 1;
            return;
        }
        let state = self.states.entry(p.pid).or_default();
        if !p.tool_message {
            stats.other_lines += 1;
            return;
        }
        let body = p.body;
        if body.trim().is_empty() {
            stats.other_lines += 1;
            state.in_other_block = false;
            state.last_unknown = None;
            close(state, false, stats, out);
            return;
        }
        if let Some(frame) = frame_line(body) {
            if state.in_other_block {
                stats.other_lines += 1;
                return;
            }
            if state.record.is_none() {
                match state.last_unknown.take() {
                    // Frames after an unknown header: keep the record rather than drop it.
                    Some(what) => {
                        stats.other_lines = stats.other_lines.saturating_sub(1);
                        state.record = Some(Record {
                            kind: "Unknown".to_string(),
                            pid: p.pid,
                            tid: state.tid,
                            what,
                            ..Record::default()
                        });
                    }
                    None => {
                        stats.unparsed_lines += 1;
                        return;
                    }
                }
            }
            if let Some(rec) = state.record.as_mut() {
                let stack = match rec.aux.last_mut() {
                    Some(aux) => &mut aux.stack,
                    None => &mut rec.stack,
                };
                if stack.len() < MAX_FRAMES {
                    stack.push(frame);
                } else {
                    stats.dropped_frames += 1;
                }
            }
            return;
        }
        let indented = body.starts_with(' ');
        if indented {
            match state.record.as_mut() {
                // `   ...` is where Valgrind's test filters cut a stack.
                Some(_) if body.trim() == "..." => {}
                Some(rec) => rec.aux.push(AuxStack {
                    what: body.trim().to_string(),
                    stack: Vec::new(),
                }),
                None => stats.other_lines += 1,
            }
            return;
        }
        // A column-0 line ends whatever record was open.
        close(state, false, stats, out);
        state.in_other_block = false;
        state.last_unknown = None;
        if let Some(h) = header::parse(body) {
            state.record = Some(Record {
                kind: h.kind.to_string(),
                pid: p.pid,
                tid: state.tid,
                what: body.trim().to_string(),
                bytes: h.bytes,
                direct: h.direct,
                indirect: h.indirect,
                blocks: h.blocks,
                loss_record: h.loss_record,
                loss_records_total: h.loss_records_total,
                ..Record::default()
            });
            return;
        }
        stats.other_lines += 1;
        if let Some(tid) = thread_line(body) {
            state.tid = Some(tid);
        } else if NOT_RECORDS.iter().any(|p| body.starts_with(p)) || body.contains("   at 0x") {
            // Reports with frames that are not error records: XML gives them as
            // <fatal_signal> or <clientmsg>, also not errors. `text   at 0x…` is the output
            // of a client's VALGRIND_PRINTF_BACKTRACE.
            state.in_other_block = true;
        } else {
            state.last_unknown = Some(body.trim().to_string());
        }
    }

    /// Tracks `{ … }` blocks of generated suppressions; true when the line belongs to one.
    fn suppression_line(&mut self, body: &str) -> bool {
        if self.in_suppression {
            if body.trim_end() == "}" {
                self.in_suppression = false;
            }
            return true;
        }
        if body.trim_end() == "{" {
            self.in_suppression = true;
            return true;
        }
        false
    }

    fn finish(&mut self, stats: &mut ParseStats, out: &mut dyn FnMut(Record)) {
        // Emit in a stable order whatever was still open when the input ended.
        let mut pids: Vec<Option<u32>> = self.states.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            if let Some(state) = self.states.get_mut(&pid) {
                // A prefixed log always closes a record with a blank `==PID==` line, so an
                // open one at the end was cut. Prefix-less outputs (Valgrind's filtered test
                // files) may simply end after the last frame.
                close(state, pid.is_some(), stats, out);
            }
        }
    }
}

fn close(
    state: &mut PidState,
    truncated: bool,
    stats: &mut ParseStats,
    out: &mut dyn FnMut(Record),
) {
    if let Some(mut rec) = state.record.take() {
        if truncated {
            rec.truncated = true;
            stats.truncated_records += 1;
        }
        stats.records += 1;
        out(rec);
    }
}

/// `Thread 2:`, `Thread 3 try1:` → the thread number.
fn thread_line(body: &str) -> Option<u32> {
    let rest = body.strip_prefix("Thread ")?;
    if !body.trim_end().ends_with(':') {
        return None;
    }
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `   at 0x4C2FB55: fn (file.c:12)` and its variants, see [`frame_location`].
fn frame_line(body: &str) -> Option<Frame> {
    let (rest, addr) = frame_head(body).ok()?;
    let mut frame = frame_location(rest.trim_end());
    frame.addr = Some(addr.to_string());
    Some(frame)
}

/// The fixed part: indentation, `at`/`by`, the address and `: `.
fn frame_head(body: &str) -> IResult<&str, &str> {
    let (rest, _) = take_while1(|c| c == ' ').parse(body)?;
    let (rest, _) = (alt((tag("at"), tag("by"))), char(' ')).parse(rest)?;
    let (rest, addr) = recognize((
        tag("0x"),
        take_while1(|c: char| c.is_ascii_hexdigit() || c == '.'),
    ))
    .parse(rest)?;
    let (rest, _) = tag(": ").parse(rest)?;
    Ok((rest, addr))
}

/// What follows the address: a function (which may itself contain parentheses, as C++
/// signatures do) and, in the last balanced parentheses, `in OBJECT` or `FILE:LINE`.
fn frame_location(rest: &str) -> Frame {
    let mut frame = Frame::default();
    let (func, location) = match rest
        .strip_suffix(')')
        .and_then(|r| last_open_paren(r).map(|i| (r, i)))
    {
        Some((r, i)) if i > 0 && r[..i].ends_with(' ') => (r[..i].trim_end(), Some(&r[i + 1..])),
        _ => (rest, None),
    };
    frame.func = match func {
        "???" | "" => None,
        f => Some(f.to_string()),
    };
    if let Some(loc) = location {
        if let Some(obj) = loc.strip_prefix("in ") {
            frame.obj = Some(obj.to_string());
        } else {
            match loc.rsplit_once(':') {
                Some((file, line)) if line == "..." || line.bytes().all(|b| b.is_ascii_digit()) => {
                    frame.file = Some(file.to_string());
                    frame.line = line.parse().ok();
                }
                _ => frame.file = Some(loc.to_string()),
            }
        }
    }
    frame
}

/// Index of the `(` that opens the group closed at the end of `s` (whose final `)` has
/// already been stripped).
fn last_open_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in s.bytes().enumerate().rev() {
        match b {
            b')' => depth += 1,
            b'(' if depth == 0 => return Some(i),
            b'(' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(log: &str) -> (Vec<Record>, ParseStats) {
        let mut out = Vec::new();
        let mut stats = ParseStats::default();
        parse("test", log.as_bytes(), &mut stats, &mut |r| out.push(r)).unwrap();
        (out, stats)
    }

    fn f(
        addr: &str,
        func: Option<&str>,
        obj: Option<&str>,
        file: Option<&str>,
        line: Option<u32>,
    ) -> Frame {
        Frame {
            addr: Some(addr.into()),
            func: func.map(Into::into),
            obj: obj.map(Into::into),
            dir: None,
            file: file.map(Into::into),
            line,
        }
    }

    #[test]
    fn frame_lines() {
        let cases = [
            ("   at 0x53C826E: uninit (leaky.c:14)", f("0x53C826E", Some("uninit"), None, Some("leaky.c"), Some(14))),
            (
                "   at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)",
                f("0x48417B4", Some("malloc"), Some("/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so"), None, None),
            ),
            ("   by 0x4005B3: ??? (in /lib/x.so)", f("0x4005B3", None, Some("/lib/x.so"), None, None)),
            ("   by 0x4005B3: ???", f("0x4005B3", None, None, None, None)),
            ("   at 0x........: malloc (vg_replace_malloc.c:...)", f("0x........", Some("malloc"), None, Some("vg_replace_malloc.c"), None)),
            (
                "   by 0x1: std::vector<int, std::allocator<int> >::push_back(int const&) (stl_vector.h:1189)",
                f("0x1", Some("std::vector<int, std::allocator<int> >::push_back(int const&)"), None, Some("stl_vector.h"), Some(1189)),
            ),
            ("   by 0x1: (below main) (libc-start.c:308)", f("0x1", Some("(below main)"), None, Some("libc-start.c"), Some(308))),
            ("   by 0x1: operator new(unsigned long) (in /x.so)", f("0x1", Some("operator new(unsigned long)"), Some("/x.so"), None, None)),
            ("   by 0x1: main (/src/proj/a b.c:7)", f("0x1", Some("main"), None, Some("/src/proj/a b.c"), Some(7))),
        ];
        for (line, want) in cases {
            assert_eq!(frame_line(line).as_ref(), Some(&want), "{line}");
        }
        assert_eq!(frame_line("   Address 0x1 is 0 bytes after"), None);
        assert_eq!(frame_line("   at 0xZZ: x"), None);
    }

    #[test]
    fn record_with_aux_stack() {
        let log = "\
==7== Invalid read of size 1
==7==    at 0x53C82B4: badread (leaky.c:19)
==7==    by 0x4F61C6: cfunction_vectorcall_NOARGS.lto_priv.0 (methodobject.c:486)
==7==  Address 0x55adaf8 is 0 bytes after a block of size 8 alloc'd
==7==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==7==    by 0x53C82AB: badread (leaky.c:19)
==7== 
";
        let (recs, stats) = records(log);
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(
            (r.kind.as_str(), r.pid, r.what.as_str()),
            ("InvalidRead", Some(7), "Invalid read of size 1")
        );
        assert_eq!(r.stack.len(), 2);
        assert_eq!(r.aux.len(), 1);
        assert_eq!(
            r.aux[0].what,
            "Address 0x55adaf8 is 0 bytes after a block of size 8 alloc'd"
        );
        assert_eq!(r.aux[0].stack.len(), 2);
        assert!(!r.truncated);
        assert_eq!(
            (stats.lines, stats.records, stats.unparsed_lines),
            (7, 1, 0)
        );
    }

    #[test]
    fn interleaved_pids_are_not_mixed() {
        let log = "\
==1== 8 bytes in 1 blocks are definitely lost in loss record 1 of 2
==2== Invalid write of size 4
==1==    at 0x1: malloc (in /vg.so)
==2==    at 0x2: writer (w.c:3)
==1==    by 0x3: leaker (l.c:9)
==2== 
==1== 
";
        let (recs, _) = records(log);
        assert_eq!(recs.len(), 2);
        let leak = recs.iter().find(|r| r.pid == Some(1)).unwrap();
        assert_eq!(leak.kind, "Leak_DefinitelyLost");
        assert_eq!(
            leak.stack
                .iter()
                .map(|f| f.func.clone().unwrap())
                .collect::<Vec<_>>(),
            ["malloc", "leaker"]
        );
        let write = recs.iter().find(|r| r.pid == Some(2)).unwrap();
        assert_eq!(write.stack.len(), 1);
    }

    #[test]
    fn cut_log_flags_the_last_record() {
        let log = "==1== Invalid read of size 1\n==1==    at 0x1: f (a.c:1)\n==1==    by 0x2: g (a";
        let (recs, stats) = records(log);
        assert_eq!(recs.len(), 1);
        assert!(recs[0].truncated);
        assert_eq!(stats.truncated_records, 1);
    }

    #[test]
    fn unknown_header_with_frames_is_kept() {
        let log = "==1== Some future error kind\n==1==    at 0x1: f (a.c:1)\n==1== \n";
        let (recs, stats) = records(log);
        assert_eq!(recs[0].kind, "Unknown");
        assert_eq!(recs[0].what, "Some future error kind");
        assert_eq!(stats.other_lines, 1, "only the blank line is chatter");
    }

    #[test]
    fn prefixless_threads_and_suppression_blocks() {
        let log = "\
Invalid write of size 1
   at 0x........: bad_things (threadname.c:21)
   ...

Thread 2:
Invalid write of size 1
   at 0x........: bad_things (threadname.c:21)
{
   <insert_a_suppression_name_here>
   Memcheck:Addr1
   fun:bad_things
}
I am in child_fn_1
";
        let (recs, stats) = records(log);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].tid, None);
        assert_eq!(recs[1].tid, Some(2));
        assert_eq!(recs[1].stack.len(), 1);
        assert_eq!(stats.unparsed_lines, 0);
    }

    #[test]
    fn garbage_never_panics() {
        let inputs: [&[u8]; 5] = [
            b"",
            b"\xff\xfe\x00garbage\n\n",
            b"==1==",
            b"==99999999999999== x\n",
            b"   at 0x1: f (\n",
        ];
        for input in inputs {
            let mut stats = ParseStats::default();
            parse("t", input, &mut stats, &mut |_| {}).unwrap();
        }
    }
}
