//! Memcheck's text log: `==PID==` prefixed lines as Valgrind writes them to stderr or
//! `--log-file`, and the prefix-less form of Valgrind's own filtered test outputs.
//!
//! A record is a header line at column 0 (`Invalid read of size 1`, `8 bytes in 1 blocks are
//! definitely lost …`), its frames (`   at 0x…: fn (file:line)`, `   by …`), and auxiliary
//! descriptions indented by one space (` Address 0x… is 0 bytes after …`), each possibly with
//! frames of its own. A blank line (after the prefix) ends it. Valgrind writes a record in one
//! piece per process, but `--trace-children=yes` into one stream interleaves processes, so the
//! state of the record being assembled is kept per PID.

use super::{header, AuxStack, ParseStats, Record, MAX_AUX, MAX_FRAMES};
use crate::input::MAX_LINE;
use crate::{Error, Frame};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, BufRead};

/// Parses one text input, calling `on_record` for each record as soon as it is complete.
///
/// Fails only when the input cannot be read; any content gives records and counts.
pub fn parse<R: BufRead>(
    input: &str,
    reader: R,
    stats: &mut ParseStats,
    on_record: &mut dyn FnMut(Record),
) -> Result<(), Error> {
    let mut parser = TextParser::default();
    let read = for_each_line(reader, |line, end| {
        stats.lines += 1;
        if end.cut {
            stats.long_lines += 1;
        }
        // Valgrind writes whole lines, so a prefixed line without its newline at the end of
        // the input is a fragment of a cut log: not a line to act on (`==1==` alone would
        // look like the blank line that ends a record).
        if !end.newline && split_prefix(line).pid.is_some() {
            stats.unparsed_lines += 1;
            return;
        }
        parser.line(line, stats, on_record);
    });
    if let Err(e) = read {
        return Err(Error::at(input, Some(stats.lines + 1), e.to_string()));
    }
    parser.finish(stats, on_record);
    Ok(())
}

/// How a line handed out by [`for_each_line`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineEnd {
    /// Longer than [`MAX_LINE`] bytes: cut there, the rest skipped.
    cut: bool,
    /// Ended with a newline (false only for an input's unterminated last line).
    newline: bool,
}

/// Calls `each` with every line of `reader` (without `\n` or `\r\n`, invalid UTF-8 replaced,
/// cut at [`MAX_LINE`] bytes), as [`crate::input::read_line`] would give them.
///
/// This is the hot loop of the largest inputs (a test suite's Memcheck log runs to
/// gigabytes), so it does not copy each line into a buffer as `read_line` does: the lines of
/// each buffer the reader fills are validated as UTF-8 in one pass and handed out as slices
/// of it. Only a line that spans two fills, or is invalid UTF-8, is copied.
fn for_each_line<R: BufRead>(mut reader: R, mut each: impl FnMut(&str, LineEnd)) -> io::Result<()> {
    // The start of a line whose end is in a later fill; `carry_cut` once it passed MAX_LINE.
    let mut carry: Vec<u8> = Vec::new();
    let mut carry_cut = false;
    let mut carrying = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        let used = chunk.len();
        let mut rest = chunk;
        if carrying {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    carry_cut |= append_capped(&mut carry, &rest[..i]);
                    emit_bytes(&mut each, &carry, carry_cut, true);
                    carry.clear();
                    (carrying, carry_cut) = (false, false);
                    rest = &rest[i + 1..];
                }
                None => {
                    carry_cut |= append_capped(&mut carry, rest);
                    reader.consume(used);
                    continue;
                }
            }
        }
        // The whole lines of this fill, checked as UTF-8 at once: valid logs take the fast
        // path, and a fill with a bad byte falls back to line by line.
        let whole = rest.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let (lines, tail) = rest.split_at(whole);
        match std::str::from_utf8(lines) {
            Ok(text) => {
                let mut start = 0;
                // memchr rather than `str::split`: its vector search starts faster on lines
                // of 60 bytes. A `\n` byte is always a character boundary.
                for end in memchr::memchr_iter(b'\n', lines) {
                    let line = &text[start..end];
                    start = end + 1;
                    if line.len() > MAX_LINE {
                        emit_bytes(&mut each, &line.as_bytes()[..MAX_LINE], true, true);
                    } else {
                        let line = line.strip_suffix('\r').unwrap_or(line);
                        each(
                            line,
                            LineEnd {
                                cut: false,
                                newline: true,
                            },
                        );
                    }
                }
            }
            Err(_) => {
                let mut lines = lines.split(|&b| b == b'\n');
                lines.next_back();
                for line in lines {
                    let cut = line.len() > MAX_LINE;
                    emit_bytes(&mut each, &line[..line.len().min(MAX_LINE)], cut, true);
                }
            }
        }
        if !tail.is_empty() {
            carrying = true;
            carry_cut |= append_capped(&mut carry, tail);
        }
        reader.consume(used);
    }
    if carrying {
        emit_bytes(&mut each, &carry, carry_cut, false);
    }
    Ok(())
}

/// Hands one line given as bytes to `each`: a trailing `\r` dropped, invalid UTF-8 replaced.
fn emit_bytes(each: &mut impl FnMut(&str, LineEnd), bytes: &[u8], cut: bool, newline: bool) {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    each(&text, LineEnd { cut, newline });
}

/// Appends `more` to a line being gathered, keeping at most [`MAX_LINE`] bytes; true when
/// something was dropped.
fn append_capped(line: &mut Vec<u8>, more: &[u8]) -> bool {
    let room = MAX_LINE.saturating_sub(line.len());
    line.extend_from_slice(&more[..more.len().min(room)]);
    more.len() > room
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
    // Byte by byte rather than by trying each marker in turn: every line of a log comes here.
    let b = line.as_bytes();
    if let [open @ (b'=' | b'-' | b'*'), second, rest @ ..] = b {
        if second == open {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 && digits <= 10 && rest[digits..].starts_with(&[*open, *open]) {
                let body = &line[2 + digits + 2..];
                let body = body.strip_prefix(' ').unwrap_or(body);
                // Ten digits fit in a u64; a number above u32::MAX is no PID.
                let pid = rest[..digits]
                    .iter()
                    .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                return Prefixed {
                    pid: u32::try_from(pid).ok(),
                    tool_message: *open == b'=',
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

/// `s.trim().is_empty()`, answered by the last byte for nearly every line (a frame or a
/// header ends with a printable character).
fn is_blank(s: &str) -> bool {
    match s.as_bytes().last() {
        None => true,
        Some(b) if b.is_ascii_graphic() => false,
        Some(_) => s.trim().is_empty(),
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
    /// The record's last auxiliary description was dropped ([`MAX_AUX`]): so are its frames.
    aux_dropped: bool,
}

/// Most processes whose state is kept at once. A `--trace-children=yes` log of a test suite
/// can name thousands of PIDs one after the other; past this, the states of processes with
/// no record open are let go (only the thread of their last `Thread N:` line is lost), and
/// if all are open, they are closed as cut (`truncated`).
pub const MAX_PIDS: usize = 10_000;

#[derive(Default)]
struct TextParser {
    /// The process of the last line and its state. Consecutive lines nearly always come from
    /// one process (they interleave a record at a time), so the state is kept out of the map
    /// while its process writes: no hashing per line.
    current: Option<(Option<u32>, PidState)>,
    /// The other processes' states.
    states: HashMap<Option<u32>, PidState>,
    /// Inside a `{ … }` suppression printed by `--gen-suppressions` (never prefixed).
    in_suppression: bool,
}

impl TextParser {
    /// The state of `pid`'s part of the stream, made current.
    fn state(&mut self, pid: Option<u32>) -> &mut PidState {
        if !matches!(&self.current, Some((p, _)) if *p == pid) {
            let next = self.states.remove(&pid).unwrap_or_default();
            if let Some((p, state)) = self.current.replace((pid, next)) {
                self.states.insert(p, state);
            }
        }
        &mut self
            .current
            .get_or_insert_with(|| (pid, PidState::default()))
            .1
    }

    fn line(&mut self, line: &str, stats: &mut ParseStats, out: &mut dyn FnMut(Record)) {
        let p = split_prefix(line);
        if p.pid.is_none() && self.suppression_line(p.body) {
            stats.other_lines += 1;
            return;
        }
        if self.states.len() >= MAX_PIDS && !self.states.contains_key(&p.pid) {
            self.make_room(stats, out);
        }
        let state = self.state(p.pid);
        if !p.tool_message {
            stats.other_lines += 1;
            return;
        }
        let body = p.body;
        if is_blank(body) {
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
            if state.aux_dropped {
                stats.dropped_frames += 1;
                return;
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
                Some(rec) if rec.aux.len() >= MAX_AUX => {
                    stats.dropped_aux += 1;
                    state.aux_dropped = true;
                }
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
                // Room for Valgrind's default --num-callers (12) and then some: a stack grown
                // from empty is four reallocations by 30 frames.
                stack: Vec::with_capacity(16),
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

    /// Frees room for a new process's state (see [`MAX_PIDS`]).
    fn make_room(&mut self, stats: &mut ParseStats, out: &mut dyn FnMut(Record)) {
        self.states
            .retain(|_, s| s.record.is_some() || s.in_other_block);
        if self.states.len() >= MAX_PIDS {
            // Every other process has a record open: emit them, as cut, in a stable order.
            let mut pids: Vec<Option<u32>> = self.states.keys().copied().collect();
            pids.sort_unstable();
            for pid in pids {
                if let Some(state) = self.states.get_mut(&pid) {
                    close(state, true, stats, out);
                }
            }
            self.states.clear();
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
        if let Some((pid, state)) = self.current.take() {
            self.states.insert(pid, state);
        }
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
    state.aux_dropped = false;
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
    let (rest, addr) = frame_head(body)?;
    let mut frame = frame_location(rest.trim_end());
    frame.addr = Some(addr.to_string());
    Some(frame)
}

/// The fixed part: indentation, `at`/`by`, the address and `: `; gives what follows and the
/// address.
///
/// Written out rather than as a nom combinator chain: nearly every line of a log is a frame,
/// and the chain cost about 500 instructions a line, a tenth of all vg-filter did per line.
fn frame_head(body: &str) -> Option<(&str, &str)> {
    let indent = body.bytes().take_while(|&b| b == b' ').count();
    if indent == 0 {
        return None;
    }
    let rest = &body[indent..];
    let rest = rest
        .strip_prefix("at ")
        .or_else(|| rest.strip_prefix("by "))?;
    let digits = rest.strip_prefix("0x")?;
    let n = digits
        .bytes()
        .take_while(|b| b.is_ascii_hexdigit() || *b == b'.')
        .count();
    if n == 0 {
        return None;
    }
    let after = digits[n..].strip_prefix(": ")?;
    Some((after, &rest[..2 + n]))
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
    frame.function = match func {
        "???" | "" => None,
        f => Some(f.to_string()),
    };
    if let Some(loc) = location {
        if let Some(obj) = loc.strip_prefix("in ") {
            frame.object = Some(obj.to_string());
        } else {
            // By byte: `rsplit_once` searches with memrchr, slow to start for a short
            // `file.c:12`. A ':' byte is always a character boundary.
            let colon = loc.bytes().rposition(|b| b == b':');
            match colon.map(|i| (&loc[..i], &loc[i + 1..])) {
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
        function: Option<&str>,
        obj: Option<&str>,
        file: Option<&str>,
        line: Option<u32>,
    ) -> Frame {
        Frame {
            addr: Some(addr.into()),
            function: function.map(Into::into),
            object: obj.map(Into::into),
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
                .map(|f| f.function.clone().unwrap())
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

    /// The lines `for_each_line` hands out, with how each ended.
    fn lines_of(reader: impl BufRead) -> Vec<(String, bool, bool)> {
        let mut out = Vec::new();
        for_each_line(reader, |l, e| out.push((l.to_string(), e.cut, e.newline))).unwrap();
        out
    }

    #[test]
    fn lines_do_not_depend_on_where_the_buffer_ends() {
        // What `input::read_line`, which copies each line, gives for the same bytes.
        let reference = |input: &[u8]| {
            let mut r = io::Cursor::new(input);
            let (mut buf, mut out) = (Vec::new(), Vec::new());
            while let Some(end) = crate::input::read_line(&mut r, &mut buf, MAX_LINE).unwrap() {
                let line = String::from_utf8_lossy(&buf).into_owned();
                out.push((line, end.cut, end.newline));
            }
            out
        };
        let mut long = vec![b'x'; MAX_LINE + 10];
        long.extend_from_slice(b"\r\nafter\n");
        let inputs: [&[u8]; 5] = [
            b"==1== a\r\n==1==    at 0x1: f (a.c:1)\n\xff\xfebad\n\nlast\r",
            "==1== caf\u{e9} \u{2003}\n\u{e9}\u{e9}\u{e9}\n".as_bytes(),
            b"\n\n",
            b"",
            &long,
        ];
        for input in inputs {
            let want = reference(input);
            for capacity in [1, 2, 3, 7, 64, 8192, 1 << 21] {
                let got = lines_of(io::BufReader::with_capacity(capacity, input));
                assert_eq!(got, want, "capacity {capacity}");
            }
            assert_eq!(lines_of(input), want, "one slice");
        }
    }
}
