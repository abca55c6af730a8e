//! Memcheck's text log: `==PID==` prefixed lines as Valgrind writes them to stderr or
//! `--log-file`, and the prefix-less form of Valgrind's own filtered test outputs.
//!
//! A record is a header line at column 0 (`Invalid read of size 1`, `8 bytes in 1 blocks are
//! definitely lost …`), its frames (`   at 0x…: fn (file:line)`, `   by …`), and auxiliary
//! descriptions indented by one space (` Address 0x… is 0 bytes after …`), each possibly with
//! frames of its own. A blank line (after the prefix) ends it. Valgrind writes a record in one
//! piece per process, but `--trace-children=yes` into one stream interleaves processes, so the
//! state of the record being assembled is kept per PID.

use super::raw::RawStack;
use super::{
    header, spare, AuxStack, Event, FatalSignal, LazyRecord, ParseStats, Record, ValgrindPanic,
    MAX_AUX, MAX_FRAMES,
};
use crate::frame::trim_end;
use crate::input::MAX_LINE;
use crate::{Error, Frame};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufRead};

/// Parses one text input, calling `on_event` for each record (and fatal signal, Valgrind
/// failure) as soon as it is complete.
///
/// Fails only when the input cannot be read; any content gives records and counts.
pub fn parse<R: BufRead>(
    input: &str,
    reader: R,
    stats: &mut ParseStats,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), Error> {
    parse_with(input, reader, false, stats, on_event)
}

/// [`parse`]; `lazy`: a whole error record is handed on as an [`Event::Lazy`], its main
/// stack not made (see [`super::raw`]).
pub(crate) fn parse_with<R: BufRead>(
    input: &str,
    reader: R,
    lazy: bool,
    stats: &mut ParseStats,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), Error> {
    let mut parser = TextParser {
        lazy,
        ..TextParser::default()
    };
    let read = for_each_line(reader, |line, end| {
        parser.counted_line(line, end, stats, on_event)
    });
    if let Err(e) = read {
        return Err(Error::at(input, Some(stats.lines + 1), e.to_string()));
    }
    parser.finish(stats, on_event);
    Ok(())
}

/// Parses a text log a piece at a time: what [`parse_with`] does, for a caller that reads
/// the input itself and may hand pieces of it to several parsers (see
/// [`super::parallel`]).
pub(crate) struct Pieces {
    lines: LineSplitter,
    parser: TextParser,
}

impl Pieces {
    /// For the start of the input; `lazy` as [`parse_with`] takes it.
    pub(crate) fn new(lazy: bool) -> Self {
        Pieces {
            lines: LineSplitter::default(),
            parser: TextParser {
                lazy,
                ..TextParser::default()
            },
        }
    }

    /// For a piece that starts a line of a prefixed log after lines that left no record open
    /// and `carry` behind (what [`Pieces::settled`] of a parser that read them gives).
    pub(crate) fn after(carry: &Carry, lazy: bool) -> Self {
        let mut parser = TextParser {
            prefixed_log: true,
            touched: Some(HashSet::new()),
            lazy,
            ..TextParser::default()
        };
        for (&pid, &tid) in &carry.tids {
            let state = PidState {
                tid: Some(tid),
                ..PidState::default()
            };
            parser.states.insert(pid, state);
        }
        Pieces {
            lines: LineSplitter::default(),
            parser,
        }
    }

    /// The lines `piece` ends; an unfinished last line waits for the next piece.
    pub(crate) fn feed(
        &mut self,
        piece: &[u8],
        stats: &mut ParseStats,
        out: &mut dyn FnMut(Event),
    ) {
        let parser = &mut self.parser;
        self.lines.feed(piece, &mut |line, end| {
            parser.counted_line(line, end, stats, out)
        });
    }

    /// The end of the input.
    pub(crate) fn finish(mut self, stats: &mut ParseStats, out: &mut dyn FnMut(Event)) {
        let parser = &mut self.parser;
        self.lines
            .finish(&mut |line, end| parser.counted_line(line, end, stats, out));
        parser.finish(stats, out);
    }

    /// What the lines read so far leave for the lines after them, when a parser made
    /// [`Pieces::after`] its carry reads what follows as this one does, provided that what
    /// follows has no line of the processes it names as open. `None` when a line is held,
    /// a paste's quotes or indentation are in force, or Valgrind's failure report is open.
    pub(crate) fn settled(&self) -> Option<Settled> {
        let p = &self.parser;
        if self.lines.carrying
            || p.held.is_some()
            || p.panic.is_some()
            || p.in_suppression
            || p.quotes
            || p.base_indent != 0
            || !p.prefixed_log
        {
            return None;
        }
        let mut settled = Settled::default();
        let states = p.current.iter().map(|(pid, s)| (pid, s));
        for (pid, state) in states.chain(&p.states) {
            if state.orphan {
                return None;
            }
            if let Some(tid) = state.tid {
                settled.carry.tids.insert(*pid, tid);
            }
            let quiet = state.record.is_none()
                && state.last_unknown.is_none()
                && !state.in_other_block
                && !state.aux_dropped
                && !state.soft
                && !state.last_frame_cut
                && state.next_repeats.is_none()
                && state.repeats.is_none();
            if !quiet {
                settled.open.push(*pid);
            }
        }
        Some(settled)
    }

    /// Whether the lines this parser read ([`Pieces::after`]) named one of `pids`.
    pub(crate) fn touched_any(&self, pids: &[Option<u32>]) -> bool {
        let touched = self.parser.touched.as_ref();
        pids.iter()
            .any(|pid| touched.map_or(true, |t| t.contains(pid)))
    }

    /// Takes over `before`'s states of `pids` (which this parser's lines did not name), so
    /// that this parser stands where one that read `before`'s lines and then these would.
    pub(crate) fn adopt(&mut self, before: &mut Pieces, pids: &[Option<u32>]) {
        let b = &mut before.parser;
        if let Some((pid, state)) = b.current.take() {
            b.states.insert(pid, state);
        }
        if let Some((pid, state)) = self.parser.current.take() {
            self.parser.states.insert(pid, state);
        }
        for pid in pids {
            if let Some(state) = b.states.remove(pid) {
                self.parser.states.insert(*pid, state);
            }
        }
        self.parser.touched = None;
    }
}

/// What a parser leaves for the lines after it ([`Pieces::settled`]).
#[derive(Debug, Default)]
pub(crate) struct Settled {
    /// What a parser for the lines after needs to start from.
    pub carry: Carry,
    /// Processes in the middle of something (a record, a block, a line of prose): the lines
    /// after may go on with it, so a parser that did not see it reads their lines only if
    /// there are none.
    pub open: Vec<Option<u32>>,
}

/// What the lines before a piece of a prefixed log leave for its lines when no record is
/// open at the cut: the thread each process was last in (`Thread N:` names the thread of the
/// records below it, across blank lines).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Carry {
    tids: BTreeMap<Option<u32>, u32>,
}

impl Carry {
    /// Takes in the `==PID== Thread N:` lines of `bytes` (whole lines), as a parser reading a
    /// Valgrind log does. A paste or a damaged log may make a parser read them otherwise:
    /// [`Pieces::settled`] tells.
    pub(crate) fn see(&mut self, bytes: &[u8]) {
        for at in memchr::memmem::find_iter(bytes, b"Thread ") {
            let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
            let Ok(line) = std::str::from_utf8(&bytes[start..end]) else {
                continue;
            };
            let line = line.strip_suffix('\r').unwrap_or(line);
            let Some(p) = exact_prefix(line).filter(|p| p.tool_message) else {
                continue;
            };
            if let Some(tid) = thread_line(trim_indent(p.body)) {
                self.tids.insert(p.pid, tid);
            }
        }
    }
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
fn for_each_line<R: BufRead>(mut reader: R, mut each: impl FnMut(&str, LineEnd)) -> io::Result<()> {
    let mut lines = LineSplitter::default();
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
        lines.feed(chunk, &mut each);
        reader.consume(used);
    }
    lines.finish(&mut each);
    Ok(())
}

/// Cuts bytes handed in pieces into lines, whatever the pieces: the lines (and their
/// [`LineEnd`]) do not depend on where one piece ends and the next begins.
///
/// This is the hot loop of the largest inputs (a test suite's Memcheck log runs to
/// gigabytes), so it does not copy each line into a buffer as `read_line` does: the whole
/// lines of each piece are validated as UTF-8 in one pass and handed out as slices of it.
/// Only a line that spans two pieces, or is invalid UTF-8, is copied.
#[derive(Default)]
pub(crate) struct LineSplitter {
    /// The start of a line whose end is in a later piece; `carry_cut` once it passed
    /// MAX_LINE.
    carry: Vec<u8>,
    carry_cut: bool,
    carrying: bool,
}

impl LineSplitter {
    /// The lines that `piece` ends; the start of an unfinished last line is kept for the
    /// next piece.
    fn feed(&mut self, piece: &[u8], each: &mut impl FnMut(&str, LineEnd)) {
        let mut rest = piece;
        if self.carrying {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    self.carry_cut |= append_capped(&mut self.carry, &rest[..i]);
                    emit_bytes(each, &self.carry, self.carry_cut, true);
                    self.carry.clear();
                    (self.carrying, self.carry_cut) = (false, false);
                    rest = &rest[i + 1..];
                }
                None => {
                    self.carry_cut |= append_capped(&mut self.carry, rest);
                    return;
                }
            }
        }
        // The whole lines of this piece, checked as UTF-8 at once (with SIMD: a byte at a
        // time cost more than any other part of the check): valid logs take the fast path,
        // and a piece with a bad byte falls back to line by line.
        let whole = memchr::memrchr(b'\n', rest).map_or(0, |i| i + 1);
        let (lines, tail) = rest.split_at(whole);
        match simdutf8::basic::from_utf8(lines) {
            Ok(text) => {
                let mut start = 0;
                // memchr rather than `str::split`: its vector search starts faster on lines
                // of 60 bytes. A `\n` byte is always a character boundary.
                for end in memchr::memchr_iter(b'\n', lines) {
                    let line = &text[start..end];
                    start = end + 1;
                    if line.len() > MAX_LINE {
                        emit_bytes(each, &line.as_bytes()[..MAX_LINE], true, true);
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
                    emit_bytes(each, &line[..line.len().min(MAX_LINE)], cut, true);
                }
            }
        }
        if !tail.is_empty() {
            self.carrying = true;
            self.carry_cut |= append_capped(&mut self.carry, tail);
        }
    }

    /// The end of the input: an unfinished last line is handed out (`newline` false).
    fn finish(&mut self, each: &mut impl FnMut(&str, LineEnd)) {
        if std::mem::take(&mut self.carrying) {
            emit_bytes(each, &self.carry, self.carry_cut, false);
            self.carry.clear();
            self.carry_cut = false;
        }
    }
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

/// Column-0 lines that start a block with frames that is neither an error record nor a fatal
/// signal: XML gives them as `<clientmsg>`, also not errors.
const NOT_RECORDS: &[&str] = &[
    "new/new[] aligned failed and should throw an exception",
    "Emulation fatal error",
    "Emulation warning",
];

/// The header of Valgrind's fatal-signal report.
const FATAL_SIGNAL: &str = "Process terminating with default action of signal";

/// The kind a fatal-signal report is assembled under (like a record: a header, lines that
/// explain it, a stack); [`close`] hands it on as [`Event::FatalSignal`].
const FATAL_KIND: &str = "\0FatalSignal";

/// Most lines joined into one when a paste wrapped a long line (a C++ name can span several).
const MAX_JOINED: usize = 32;

/// Where a line came from: the PID of its `==PID==` prefix, whether the prefix marks
/// Valgrind's own messages (`==`) or core warnings and debug output (`--`, `**`), and the
/// text after it.
struct Prefixed<'a> {
    pid: Option<u32>,
    /// A `==PID==` prefix was there, whole or damaged by the paste.
    prefixed: bool,
    tool_message: bool,
    body: &'a str,
}

impl<'a> Prefixed<'a> {
    fn bare(body: &'a str) -> Self {
        Prefixed {
            pid: None,
            prefixed: false,
            tool_message: true,
            body,
        }
    }
}

/// `==PID==`, `--PID--` or `**PID**` at the start of `line`, as Valgrind writes it.
fn exact_prefix(line: &str) -> Option<Prefixed<'_>> {
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
                return Some(Prefixed {
                    pid: u32::try_from(pid).ok(),
                    prefixed: true,
                    tool_message: *open == b'=',
                    body,
                });
            }
        }
    }
    None
}

/// A `==PID==` prefix that pasting damaged: one `=` lost on either side (`=11345==`), or the
/// PID lost (`== Invalid read…`, whose PID then comes from the frames below it).
fn damaged_prefix(line: &str) -> Option<Prefixed<'_>> {
    let b = line.as_bytes();
    let open = b.iter().take_while(|&&c| c == b'=').count();
    if open == 0 || open > 2 {
        return None;
    }
    let digits = b[open..].iter().take_while(|c| c.is_ascii_digit()).count();
    let close = b[open + digits..]
        .iter()
        .take_while(|&&c| c == b'=')
        .count();
    let after = &line[open + digits + close..];
    let body = match after.strip_prefix(' ') {
        Some(body) => body,
        None if after.is_empty() => after,
        None => return None,
    };
    let pid = match (digits, close) {
        (1..=10, 1..=2) if open + close >= 3 => line[open..open + digits].parse().ok(),
        (0, 0) if open == 2 => None,
        _ => return None,
    };
    Some(Prefixed {
        pid,
        prefixed: true,
        tool_message: true,
        body,
    })
}

/// What pasting put before a line: quote markers (`> `, `>> `, `> > `, an email's or a
/// Markdown blockquote's) and indentation (an rst literal block, Markdown's indented code).
/// Returns the line after the quote markers (indentation kept: without a `==PID==` prefix it
/// is the record's structure) and after both.
fn paste_lead(line: &str, quotes: bool) -> (&str, &str) {
    let mut rest = line;
    if quotes {
        loop {
            let t = rest.trim_start_matches([' ', '\t']);
            match t.strip_prefix('>') {
                Some(after) if after.is_empty() || after.starts_with([' ', '>', '\t']) => {
                    rest = after.strip_prefix(' ').unwrap_or(after);
                }
                _ => break,
            }
        }
        // A line a diff adds (`+==1== …`, a patch to an expected output).
        let t = rest.trim_start_matches([' ', '\t']);
        if let Some(after) = t.strip_prefix('+').filter(|a| !a.starts_with('+')) {
            rest = after;
        }
    }
    (rest, rest.trim_start_matches([' ', '\t']))
}

/// A line starting with quote markers, or with a diff's `+`.
fn quoted(line: &str) -> bool {
    let t = trim_indent(line);
    let quote = super::unquoted(t.as_bytes()).len() < t.len();
    quote || (t.starts_with('+') && !t.starts_with("++"))
}

/// Splits a line into its prefix and body, taking off what a paste added before the prefix:
/// indentation, quote markers, a CI log's timestamp (any lead of up to 64 bytes ending in a
/// space); `quotes` says whether quote markers are taken off.
fn split_line(line: &str, quotes: bool) -> Prefixed<'_> {
    if let Some(p) = exact_prefix(line) {
        return p;
    }
    let (unquoted, bare) = paste_lead(line, quotes);
    if let Some(p) = exact_prefix(bare).or_else(|| damaged_prefix(bare)) {
        return p;
    }
    let head = &bare.as_bytes()[..bare.len().min(64)];
    for i in memchr::memchr_iter(b'=', head) {
        if i > 0 && head[i - 1] == b' ' {
            if let Some(p) = exact_prefix(&bare[i..]) {
                return p;
            }
        }
    }
    Prefixed::bare(unquoted)
}

/// A line that starts a record or a fatal-signal report at column 0 of Valgrind's text.
fn starts_report(bare: &str) -> bool {
    bare.starts_with(FATAL_SIGNAL) || header::parse(bare).is_some()
}

/// `s` without its leading spaces and tabs, by byte (every line comes here; `trim_start`
/// decodes characters).
fn trim_indent(s: &str) -> &str {
    let n = s.bytes().take_while(|&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

/// A Markdown code fence (```` ``` ````, `~~~`, with or without a language).
fn is_fence(bare: &str) -> bool {
    bare.starts_with("```") || bare.starts_with("~~~")
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

/// A frame line the paste cut before its end: Valgrind ends every frame with its location in
/// parentheses or with `???`.
fn unfinished_frame(body: &str) -> bool {
    if body.ends_with(')') {
        // Nearly every frame: told without trimming.
        return false;
    }
    let body = body.trim_end_matches([' ', '\t']);
    !(body.ends_with(')') || body.ends_with("???"))
}

/// Valgrind's own failure: `valgrind: the 'impossible' happened:`, or an assertion in its
/// code (`valgrind: m_mallocfree.c:305 (get_bszB_as_is): Assertion '…' failed.`).
fn is_panic(bare: &str) -> bool {
    // Every line comes here: most are told by their first byte.
    if !bare.starts_with(['v', 'V', 'M', 'm', '"', '\'', '`']) {
        return false;
    }
    // A person quoting it may open with a quote mark.
    let bare = bare.trim_start_matches(['"', '\'', '`']);
    bare.contains("the 'impossible' happened")
        || bare.contains("the `impossible' happened")
        || (bare.starts_with(['v', 'V', 'M', 'm'])
            && bare.contains(": Assertion '")
            && bare.contains(" failed"))
}

/// What one process's part of the stream is in the middle of.
#[derive(Default)]
struct PidState {
    record: Option<Record>,
    /// The open record's main stack, while it is kept as text ([`StateLine::lazy`]).
    raw: RawStack,
    /// Thread named by the last `Thread N:` line.
    tid: Option<u32>,
    /// The last unrecognised column-0 line: if frames follow it, it was the header of a
    /// record kind this parser does not know, and becomes an `Unknown` record instead of
    /// being lost.
    last_unknown: Option<String>,
    /// Inside a block that has frames but is not an error record (a client's message).
    in_other_block: bool,
    /// The record's last auxiliary description was dropped ([`MAX_AUX`]): so are its frames.
    aux_dropped: bool,
    /// The open record's header came without its PID; frames of a PID may claim it.
    orphan: bool,
    /// The open record may be whole: a blank line or a fence of the paste came after it.
    /// What follows decides: more of it (a description, frames), or something else.
    soft: bool,
    /// The open record's last frame was cut (no closing parenthesis, no address).
    last_frame_cut: bool,
    /// `N errors in context K of M:` was read (`-v`, after the final `ERROR SUMMARY`): the
    /// next header is a repeat of an error already reported, which occurred N times.
    next_repeats: Option<u64>,
    /// The open record is such a repeat, of an error that occurred this many times: it
    /// closes as an [`Event::Repeat`], not as a record.
    repeats: Option<u64>,
}

/// Most processes whose state is kept at once. A `--trace-children=yes` log of a test suite
/// can name thousands of PIDs one after the other; past this, the states of processes with
/// no record open are let go (only the thread of their last `Thread N:` line is lost), and
/// if all are open, they are closed as cut (`truncated`).
pub const MAX_PIDS: usize = 10_000;

/// Valgrind's failure report being read: it runs over many lines, prefixed or not.
#[derive(Default)]
struct PanicState {
    panic: ValgrindPanic,
    /// Past `host stacktrace:`: no more details.
    past_details: bool,
    /// In the first `Thread N: status` block: its frames are the client's stack.
    in_client_stack: bool,
    /// The client's stack was read.
    client_stack_done: bool,
}

/// A line that may continue on the next.
struct Held {
    line: String,
    /// Source lines it holds.
    lines: usize,
    /// A header sentence, which a paste wraps between words (the space is lost), rather
    /// than a frame, which it cuts anywhere.
    words: bool,
}

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
    /// A line with a `==PID==` prefix was seen: lines without one are the program's output,
    /// or pieces of Valgrind's lines that the paste damaged.
    prefixed_log: bool,
    /// The input is a quoted paste: quote markers are taken off every line.
    quotes: bool,
    /// Indentation of the last header of a prefix-less log: the paste's, not Valgrind's.
    base_indent: usize,
    /// A line the paste may have wrapped (a frame without its closing parenthesis, a header
    /// cut short), waiting for the next line, which may be its rest.
    held: Option<Held>,
    /// Inside Valgrind's failure report.
    panic: Option<PanicState>,
    /// A header without a PID may be open (see [`TextParser::adopt_orphan`]); false when
    /// none is, so that the check costs nothing on other lines.
    maybe_orphan: bool,
    /// The processes whose lines were read, for a parser of a piece ([`Pieces::after`]).
    touched: Option<HashSet<Option<u32>>>,
    /// The last exact prefix [`TextParser::plain_frame`] read.
    last_prefix: PrefixSeen,
    /// Records are handed on as [`Event::Lazy`] (see [`parse_with`]).
    lazy: bool,
}

/// An exact `==PID== ` prefix as written, with the one space [`exact_prefix`] takes off
/// after it, and its PID.
#[derive(Default)]
struct PrefixSeen {
    /// `==` + up to ten digits + `==` + a space.
    bytes: [u8; 15],
    /// Bytes used; 0 when none is kept.
    len: usize,
    pid: Option<u32>,
}

impl PrefixSeen {
    /// The prefix `p` that [`exact_prefix`] read from `line`; none kept when no space
    /// followed it (a line with one would then read differently).
    fn new(line: &str, p: &Prefixed<'_>) -> Self {
        let end = line.len() - p.body.len();
        let mut seen = PrefixSeen {
            pid: p.pid,
            ..PrefixSeen::default()
        };
        if line.as_bytes()[..end].ends_with(b" ") && end <= seen.bytes.len() {
            seen.bytes[..end].copy_from_slice(&line.as_bytes()[..end]);
            seen.len = end;
        }
        seen
    }
}

impl TextParser {
    /// The state of `pid`'s part of the stream, made current.
    fn state(&mut self, pid: Option<u32>) -> &mut PidState {
        if !matches!(&self.current, Some((p, _)) if *p == pid) {
            if let Some(touched) = &mut self.touched {
                touched.insert(pid);
            }
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

    /// One line as [`LineSplitter`] hands it out, counted.
    fn counted_line(
        &mut self,
        line: &str,
        end: LineEnd,
        stats: &mut ParseStats,
        out: &mut dyn FnMut(Event),
    ) {
        stats.lines += 1;
        if end.cut {
            stats.long_lines += 1;
        }
        self.line(line, end.newline, stats, out);
    }

    /// One line of the input; `newline` is false for an unterminated last line.
    fn line(
        &mut self,
        line: &str,
        newline: bool,
        stats: &mut ParseStats,
        out: &mut dyn FnMut(Event),
    ) {
        if self.held.is_none() && newline && self.plain_frame(line, stats, out) {
            return;
        }
        if let Some(held) = self.held.take() {
            if let Some(rest) = self.continuation(line).filter(|_| held.lines < MAX_JOINED) {
                let space = if held.words && !held.line.ends_with(' ') {
                    " "
                } else {
                    ""
                };
                let joined = format!("{}{space}{rest}", held.line);
                self.line_now(&joined, newline, held.lines + 1, stats, out);
                return;
            }
            self.line_now(&held.line, true, MAX_JOINED, stats, out);
        }
        self.line_now(line, newline, 1, stats, out);
    }

    /// The line nearly every line of a log is, taken the short way: a whole frame after an
    /// exact `==PID==` prefix, outside a failure report, with no PID-less header waiting for
    /// its frames. [`TextParser::line_now`]'s checks for pastes, quotes, wrapped lines and
    /// Valgrind's failures cannot apply to it, and it ends in the same [`state_line`].
    /// False when the line is not one: it goes the long way.
    fn plain_frame(
        &mut self,
        line: &str,
        stats: &mut ParseStats,
        out: &mut dyn FnMut(Event),
    ) -> bool {
        if self.panic.is_some() || self.maybe_orphan || self.states.len() >= MAX_PIDS {
            return false;
        }
        let p = match self.same_prefix(line) {
            Some(p) => p,
            None => {
                let Some(p) = exact_prefix(line) else {
                    return false;
                };
                self.last_prefix = PrefixSeen::new(line, &p);
                p
            }
        };
        let bare = trim_indent(p.body);
        let frame = bare.starts_with("at 0x") || bare.starts_with("by 0x");
        let (Some(pid), true, true, true) = (p.pid, p.tool_message, frame, p.body.ends_with(')'))
        else {
            return false;
        };
        self.prefixed_log = true;
        let lazy = self.lazy;
        let state = self.state(Some(pid));
        let line = StateLine {
            pid: Some(pid),
            body: p.body,
            orphan: false,
            hard_blank: true,
            lazy,
        };
        state_line(state, line, stats, out);
        true
    }

    /// `line`'s prefix when it is the last exact one seen (consecutive lines nearly always
    /// come from one process), told by comparing bytes rather than reading the PID again.
    fn same_prefix<'a>(&self, line: &'a str) -> Option<Prefixed<'a>> {
        let seen = &self.last_prefix;
        let prefix = &seen.bytes[..seen.len];
        if seen.len == 0 || !line.as_bytes().starts_with(prefix) {
            return None;
        }
        // The prefix ends with a space, an ASCII byte: a character boundary.
        Some(Prefixed {
            pid: seen.pid,
            prefixed: true,
            tool_message: prefix[0] == b'=',
            body: &line[seen.len..],
        })
    }

    /// The rest of a wrapped line, when `line` is one: not a line of Valgrind's own (no
    /// prefix, no frame, header, blank or elision), taken off the paste's quote markers and
    /// indentation.
    fn continuation<'a>(&self, line: &'a str) -> Option<&'a str> {
        let p = split_line(line, self.quotes);
        if p.prefixed || is_blank(p.body) {
            return None;
        }
        let bare = p.body.trim_start();
        let own = bare.starts_with("at 0x")
            || bare.starts_with("by 0x")
            || bare.starts_with("...")
            || starts_report(bare)
            || AUX_STARTS.iter().any(|a| bare.starts_with(a))
            || bare.starts_with("Thread ")
            || is_fence(bare);
        (!own).then_some(bare)
    }

    /// One line, wrapped lines already joined (`joined` source lines); a line that may
    /// continue on the next is held instead.
    fn line_now(
        &mut self,
        line: &str,
        newline: bool,
        joined: usize,
        stats: &mut ParseStats,
        out: &mut dyn FnMut(Event),
    ) {
        if !self.quotes && quoted(line) {
            // Quote markers are taken off once they are seen before a line of Valgrind's.
            let (_, bare) = paste_lead(line, true);
            self.quotes = exact_prefix(bare).is_some()
                || damaged_prefix(bare).is_some()
                || starts_report(bare)
                || is_panic(bare)
                || thread_line(bare).is_some()
                || bare.starts_with("at 0x");
        }
        let p = split_line(line, self.quotes);
        // Valgrind writes whole lines, so a prefixed line without its newline at the end of
        // the input is a fragment of a cut log: not a line to act on (`==1==` alone would
        // look like the blank line that ends a record); unless it is a whole frame, as the
        // last line of a paste often is.
        let whole_frame = || frame_head(p.body).is_some() && !unfinished_frame(p.body);
        if !newline && p.prefixed && !whole_frame() {
            stats.unparsed_lines += 1;
            return;
        }
        if self.panic.is_some() {
            self.panic_line(&p, stats, out);
            return;
        }
        if is_panic(trim_indent(p.body)) {
            self.panic = Some(PanicState {
                panic: ValgrindPanic {
                    pid: p.pid,
                    what: p.body.trim().to_string(),
                    ..ValgrindPanic::default()
                },
                ..PanicState::default()
            });
            stats.other_lines += 1;
            return;
        }
        if joined < MAX_JOINED {
            if let Some(words) = self.may_continue(&p) {
                self.held = Some(Held {
                    line: line.to_string(),
                    lines: joined,
                    words,
                });
                return;
            }
        }
        if p.prefixed {
            self.prefixed_log = true;
        }
        let mut pid = p.pid;
        let mut body = p.body;
        let bare = trim_indent(body);
        if !p.prefixed {
            if self.suppression_line(body) {
                stats.other_lines += 1;
                return;
            }
            if is_fence(bare) {
                // The end (or start) of a pasted block: what is open may be whole, or go on
                // in the next block after a line of prose.
                stats.other_lines += 1;
                self.soften_all();
                return;
            }
            if self.prefixed_log && is_blank(body) {
                // A blank line without a prefix is the paste's: the record before it may be
                // whole, or go on below it.
                stats.other_lines += 1;
                if let Some((_, state)) = &mut self.current {
                    state.soft = state.record.is_some();
                }
                return;
            }
            if !self.prefixed_log {
                // A prefix-less paste may be indented as a whole: a header is at column 0
                // of Valgrind's text, so its indentation is the paste's.
                let indent = body.len() - bare.len();
                if frame_head(body).is_none() && starts_report(bare) {
                    self.base_indent = indent;
                }
                if indent >= self.base_indent {
                    body = &body[self.base_indent..];
                }
            }
        }
        if self.prefixed_log && pid.is_none() && !starts_report(bare) {
            // A line whose PID the paste lost (`== ...`, a frame without its prefix) goes on
            // with the last process's record.
            let continues = p.prefixed || frame_head(body).is_some() || is_elision(bare);
            if let Some((last, state)) = &self.current {
                if continues && state.record.is_some() {
                    pid = *last;
                }
            }
        }
        if self.states.len() >= MAX_PIDS && !self.states.contains_key(&pid) {
            self.make_room(stats, out);
        }
        if !p.tool_message {
            // `--PID--` lines: Valgrind's options among them, with `-v`. Listed, they state
            // the stack limit: the default unless one of them sets it.
            if bare.starts_with("Valgrind options:") {
                stats.num_callers = Some(super::DEFAULT_NUM_CALLERS);
            } else if let Some(n) = num_callers(bare) {
                stats.num_callers = Some(n);
            }
            stats.other_lines += 1;
            return;
        }
        if self.maybe_orphan && pid.is_some() && frame_head(body).is_some() {
            self.adopt_orphan(pid);
        }
        let lazy = self.lazy;
        let state = self.state(pid);
        let line = StateLine {
            pid,
            body,
            orphan: p.pid.is_none(),
            hard_blank: p.prefixed,
            lazy,
        };
        state_line(state, line, stats, out);
        if pid.is_none() && state.orphan {
            self.maybe_orphan = true;
        }
    }

    /// A line that may be cut by the paste, to be held to see whether the next line is its
    /// rest: `Some(false)` for a frame, `Some(true)` for a header sentence.
    fn may_continue(&self, p: &Prefixed<'_>) -> Option<bool> {
        let body = p.body;
        // Nearly every frame (and many a header) ends with `)`: whole, told by its last byte.
        if body.ends_with(')') {
            return None;
        }
        if frame_head(body).is_some() {
            return unfinished_frame(body).then_some(false);
        }
        let bare = trim_indent(body);
        // A header cut short: the start of one of Valgrind's sentences, but no whole one.
        let cut_header = bare.len() >= 8
            && body.len() - bare.len() <= self.base_indent
            && header::kind_of_prefix(bare)
            && header::parse(bare).is_none();
        cut_header.then_some(true)
    }

    /// A header that came without its PID (`== Invalid read…`, or its prefix lost) is open
    /// in the PID-less state: the first frame of a PID with no record open takes it over.
    fn adopt_orphan(&mut self, pid: Option<u32>) {
        let open = |s: &PidState| s.record.is_none();
        let target_free = match &self.current {
            Some((p, s)) if *p == pid => open(s),
            _ => self.states.get(&pid).map_or(true, open),
        };
        if !target_free {
            return;
        }
        let orphan = {
            let none = self.state(None);
            let bare = |r: &Record| r.stack.is_empty() && r.aux.is_empty();
            if !none.orphan || !none.record.as_ref().is_some_and(bare) || !none.raw.is_empty() {
                self.maybe_orphan = false;
                return;
            }
            none.orphan = false;
            none.record.take()
        };
        if let Some(mut rec) = orphan {
            rec.pid = pid;
            self.state(pid).record = Some(rec);
        }
    }

    /// A line of Valgrind's failure report: counted as Valgrind's chatter, its first lines
    /// kept as details and the client's stack as the report's stack.
    fn panic_line(&mut self, p: &Prefixed<'_>, stats: &mut ParseStats, out: &mut dyn FnMut(Event)) {
        stats.other_lines += 1;
        let Some(state) = self.panic.as_mut() else {
            return;
        };
        let bare = p.body.trim();
        if state.panic.pid.is_none() {
            state.panic.pid = p.pid;
        }
        if bare.starts_with("host stacktrace:") || bare.starts_with("sched status:") {
            state.past_details = true;
        } else if bare.starts_with("Thread ") && bare.contains("status = ") {
            state.in_client_stack = !state.client_stack_done;
        } else if let Some(frame) = frame_line(p.body) {
            if state.in_client_stack && state.panic.stack.len() < MAX_FRAMES {
                frame.push_onto(&mut state.panic.stack);
            }
        } else {
            if state.in_client_stack {
                state.in_client_stack = false;
                state.client_stack_done = true;
            }
            if !state.past_details && !bare.is_empty() && state.panic.details.len() < 8 {
                state.panic.details.push(bare.to_string());
            }
        }
        // The report's last sentence.
        if bare.contains("what OS and version you are using") {
            self.end_panic(out);
        }
    }

    fn end_panic(&mut self, out: &mut dyn FnMut(Event)) {
        if let Some(state) = self.panic.take() {
            out(Event::ValgrindPanic(state.panic));
        }
    }

    /// Frees room for a new process's state (see [`MAX_PIDS`]).
    fn make_room(&mut self, stats: &mut ParseStats, out: &mut dyn FnMut(Event)) {
        self.states
            .retain(|_, s| s.record.is_some() || s.in_other_block);
        if self.states.len() >= MAX_PIDS {
            // Every other process has a record open: emit them, as cut, in a stable order.
            let mut pids: Vec<Option<u32>> = self.states.keys().copied().collect();
            pids.sort_unstable();
            for pid in pids {
                if let Some(state) = self.states.get_mut(&pid) {
                    close(state, Close::Cut, stats, out);
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

    /// A fence: every open record may be whole.
    fn soften_all(&mut self) {
        let states = self.current.iter_mut().map(|(_, s)| s);
        for state in states.chain(self.states.values_mut()) {
            state.soft = state.record.is_some();
        }
    }

    /// Ends every open record as the input's end does.
    fn close_all(&mut self, stats: &mut ParseStats, out: &mut dyn FnMut(Event)) {
        // In a stable order.
        if let Some((pid, state)) = self.current.take() {
            self.states.insert(pid, state);
        }
        let mut pids: Vec<Option<u32>> = self.states.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            if let Some(state) = self.states.get_mut(&pid) {
                close(state, Close::End, stats, out);
            }
        }
    }

    fn finish(&mut self, stats: &mut ParseStats, out: &mut dyn FnMut(Event)) {
        if let Some(held) = self.held.take() {
            self.line_now(&held.line, true, MAX_JOINED, stats, out);
        }
        self.end_panic(out);
        self.close_all(stats, out);
    }
}

/// One line for a process's state: its body (prefix and paste taken off) and where it came
/// from.
struct StateLine<'a> {
    pid: Option<u32>,
    body: &'a str,
    /// The line has no PID (lost, or a prefix-less log): a header on it may be claimed by
    /// the frames of a PID below it.
    orphan: bool,
    /// A blank line of Valgrind's own (`==PID== `) ends a record for sure; a blank line of
    /// a prefix-less log or of the paste may be followed by more of it.
    hard_blank: bool,
    /// The record's main stack is kept as text ([`TextParser::lazy`]).
    lazy: bool,
}

/// Auxiliary descriptions that may stand at column 0 when a paste trimmed its lines.
const AUX_STARTS: &[&str] = &[
    "Address 0x",
    "Block was alloc'd",
    "Block was free'd",
    "Uninitialised value was created",
];

/// `...` (or `[...]`, `…`): a stack cut on purpose.
fn is_elision(bare: &str) -> bool {
    let t = bare.trim_end();
    matches!(t, "..." | "[...]" | "\u{2026}")
        || (t.starts_with("...") && t.trim_matches('.').is_empty())
}

fn state_line(
    state: &mut PidState,
    line: StateLine<'_>,
    stats: &mut ParseStats,
    out: &mut dyn FnMut(Event),
) {
    let StateLine {
        pid,
        body,
        orphan,
        hard_blank,
        lazy,
    } = line;
    if is_blank(body) {
        stats.other_lines += 1;
        state.in_other_block = false;
        state.last_unknown = None;
        if hard_blank {
            close(state, Close::Complete, stats, out);
        } else {
            state.soft = state.record.is_some();
        }
        return;
    }
    let bare = trim_indent(body);
    if let Some(frame) = frame_line(body) {
        if state.in_other_block {
            stats.other_lines += 1;
            return;
        }
        if state.soft && state.last_unknown.is_some() {
            // Prose, then frames: they belong to what the prose was.
            close(state, Close::Complete, stats, out);
        }
        state.soft = false;
        if state.record.is_none() {
            match state.last_unknown.take() {
                // Frames after an unknown header: keep the record rather than drop it.
                Some(what) => {
                    stats.other_lines = stats.other_lines.saturating_sub(1);
                    state.record = Some(Record {
                        kind: "Unknown".to_string(),
                        pid,
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
        state.last_unknown = None;
        if state.aux_dropped {
            stats.dropped_frames += 1;
            return;
        }
        state.last_frame_cut = unfinished_frame(body);
        if let Some(rec) = state.record.as_mut() {
            let stack = match rec.aux.last_mut() {
                Some(aux) => &mut aux.stack,
                // The main stack, as text until someone keeps the record.
                None if lazy => {
                    if state.raw.len() < MAX_FRAMES {
                        state.raw.push(body, frame.addr, &frame.described);
                    } else {
                        stats.dropped_frames += 1;
                    }
                    return;
                }
                None => &mut rec.stack,
            };
            if stack.len() < MAX_FRAMES {
                frame.push_onto(stack);
            } else {
                stats.dropped_frames += 1;
            }
        }
        return;
    }
    if is_elision(bare) {
        // A stack cut on purpose (Valgrind's test filters, a person shortening a paste).
        // The record goes on.
        match state.record.as_mut() {
            Some(rec) if !state.soft || state.last_unknown.is_none() => {
                rec.elided = true;
                state.soft = false;
            }
            _ => stats.other_lines += 1,
        }
        return;
    }
    if let Some(tid) = thread_line(bare) {
        // `Thread 2:` names the thread of the records below it (at column 0 in Valgrind's
        // text; a paste may indent it); in the repeats' listing, it comes between `N errors
        // in context K of M:` and the header.
        close(state, Close::Complete, stats, out);
        state.in_other_block = false;
        state.last_unknown = None;
        state.tid = Some(tid);
        stats.other_lines += 1;
        return;
    }
    if bare.starts_with("at 0x") || bare.starts_with("by 0x") {
        // A frame mangled past reading: its record was cut here.
        stats.unparsed_lines += 1;
        if state.record.is_some() {
            state.last_frame_cut = true;
        }
        return;
    }
    if let Some(n) = repeat_count(bare) {
        // `-v`: the listing of every error again, after the final `ERROR SUMMARY`. The next
        // header is one of them (see [`Event::Repeat`]).
        close(state, Close::Complete, stats, out);
        state.in_other_block = false;
        state.last_unknown = None;
        state.next_repeats = Some(n);
        stats.other_lines += 1;
        return;
    }
    let header = header::parse(bare);
    let is_aux = header.is_none()
        && !bare.starts_with(FATAL_SIGNAL)
        && (body.starts_with(' ') || AUX_STARTS.iter().any(|a| bare.starts_with(a)));
    if is_aux && state.record.is_some() {
        let describes = AUX_STARTS.iter().any(|a| bare.starts_with(a)) || announces_stack(bare);
        if state.soft && !describes {
            // After a break in the paste, an indented line that describes no address or
            // block is prose: the record waits for what follows.
            stats.other_lines += 1;
            state.last_unknown = Some(bare.trim().to_string());
            return;
        }
        if state.soft && state.last_unknown.is_some() && !announces_stack(bare) {
            // After prose, a description that needs no record of its own is the prose's.
            close(state, Close::Complete, stats, out);
            stats.other_lines += 1;
            return;
        }
        state.soft = false;
        state.last_unknown = None;
        if let Some(rec) = state.record.as_mut() {
            if rec.aux.len() >= MAX_AUX {
                stats.dropped_aux += 1;
                state.aux_dropped = true;
            } else {
                state.aux_dropped = false;
                rec.aux.push(AuxStack {
                    what: bare.trim_end().to_string(),
                    stack: Vec::new(),
                });
            }
        }
        return;
    }
    if body.starts_with(' ') && header.is_none() && !bare.starts_with(FATAL_SIGNAL) {
        stats.other_lines += 1;
        return;
    }
    let other_block =
        || NOT_RECORDS.iter().any(|p| body.starts_with(p)) || body.contains("   at 0x");
    if header.is_none() && !bare.starts_with(FATAL_SIGNAL) && state.soft && !other_block() {
        // Prose between two parts of a pasted record: the record waits for what follows.
        stats.other_lines += 1;
        if let Some(tid) = thread_line(body) {
            state.tid = Some(tid);
        }
        state.last_unknown = Some(bare.trim().to_string());
        return;
    }
    // A header, or a column-0 line: it ends whatever record was open.
    close(state, Close::Complete, stats, out);
    state.in_other_block = false;
    state.last_unknown = None;
    let repeats = state.next_repeats.take();
    if let Some(h) = header {
        state.orphan = orphan;
        state.repeats = repeats;
        state.record = Some(Record {
            kind: h.kind.to_string(),
            pid,
            tid: state.tid,
            what: bare.trim_end().to_string(),
            bytes: h.bytes,
            direct: h.direct,
            indirect: h.indirect,
            blocks: h.blocks,
            loss_record: h.loss_record,
            loss_records_total: h.loss_records_total,
            stack: spare::stack(),
            ..Record::default()
        });
        return;
    }
    if bare.starts_with(FATAL_SIGNAL) {
        state.orphan = orphan;
        state.record = Some(Record {
            kind: FATAL_KIND.to_string(),
            pid,
            tid: state.tid,
            what: bare.trim_end().to_string(),
            ..Record::default()
        });
        return;
    }
    stats.other_lines += 1;
    if let Some(tid) = thread_line(body) {
        state.tid = Some(tid);
    } else if other_block() {
        // Reports with frames that are not error records. `text   at 0x…` is the output of
        // a client's VALGRIND_PRINTF_BACKTRACE.
        state.in_other_block = true;
    } else {
        state.last_unknown = Some(body.trim().to_string());
    }
}

/// How a record ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// At the blank line or the next header Valgrind writes after it.
    Complete,
    /// At the end of the input or of a pasted block: cut, unless it looks whole.
    End,
    /// Set aside for room ([`MAX_PIDS`]): cut.
    Cut,
}

fn close(state: &mut PidState, how: Close, stats: &mut ParseStats, out: &mut dyn FnMut(Event)) {
    state.aux_dropped = false;
    state.orphan = false;
    let soft = std::mem::take(&mut state.soft);
    let cut = std::mem::take(&mut state.last_frame_cut);
    let repeats = state.repeats.take();
    let Some(mut rec) = state.record.take() else {
        return;
    };
    // A record whose main stack is text goes on so only when whole, as an error record:
    // what else happens to a record below reads its frames.
    let lazy = how == Close::Complete && !cut && repeats.is_none() && rec.kind != FATAL_KIND;
    if !lazy {
        state.raw.make_into(&mut rec.stack);
    }
    let truncated = cut
        || match how {
            Close::Complete => false,
            Close::End => !soft && !looks_whole(&rec),
            Close::Cut => true,
        };
    rec.truncated = truncated;
    if rec.kind == FATAL_KIND {
        // Its own record says it was cut; `truncated_records` counts error records.
        out(Event::FatalSignal(fatal_signal(rec)));
        return;
    }
    if let Some(count) = repeats {
        // Not a record: the consumer finds the one it repeats (a repeat cut by the end of the
        // input included, and counts it as a record only when it finds none).
        out(Event::Repeat { record: rec, count });
        return;
    }
    if truncated {
        stats.truncated_records += 1;
    }
    stats.records += 1;
    if state.raw.is_empty() {
        out(Event::Record(rec));
    } else {
        let frames = std::mem::replace(&mut state.raw, spare::raw_stack());
        out(Event::Lazy(LazyRecord {
            record: rec,
            frames,
        }));
    }
}

/// A fatal-signal report assembled as a record: its explaining lines are those before the
/// stack (`Access not within mapped region at address 0x0`); the advice after it (`If you
/// believe this happened as a result of a stack overflow…`) is left out.
fn fatal_signal(rec: Record) -> FatalSignal {
    // `… of signal 11 (SIGSEGV)` or `… of signal 6 (SIGABRT): dumping core`.
    let after = rec.what.split(" of signal ").nth(1).unwrap_or_default();
    let signo = after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok());
    let signal = after
        .split_once('(')
        .and_then(|(_, s)| s.split_once(')'))
        .map(|(name, _)| name.to_string());
    let mut stack = rec.stack;
    let mut details = Vec::new();
    for aux in rec.aux {
        if stack.is_empty() {
            details.push(aux.what);
            stack = aux.stack;
        }
    }
    FatalSignal {
        pid: rec.pid,
        tid: rec.tid,
        signo,
        signal,
        what: rec.what,
        details,
        stack,
        truncated: rec.truncated,
    }
}

/// Whether a record the input ended in looks complete, as a paste that simply stops after
/// the last record's stack does: its last stack ends at a thread's root, or has as many
/// frames as Valgrind's default `--num-callers` (12), or was cut on purpose (`...`). A record without
/// frames, or whose last description announces a stack that is not there (`Block was alloc'd
/// at`), was cut.
fn looks_whole(rec: &Record) -> bool {
    if rec.elided {
        return true;
    }
    if rec
        .aux
        .last()
        .is_some_and(|a| a.stack.is_empty() && announces_stack(&a.what))
    {
        return false;
    }
    // The last stack read: an auxiliary description's, else the main one.
    let stack = rec
        .aux
        .iter()
        .rev()
        .map(|a| &a.stack)
        .find(|s| !s.is_empty())
        .unwrap_or(&rec.stack);
    if stack.is_empty() {
        // File-descriptor records of inherited descriptors have no stack.
        return rec.kind.starts_with("Fd");
    }
    super::reaches_root(stack) || stack.len() >= 12
}

/// `--num-callers=N` as Valgrind lists its options (`--PID--    --num-callers=50`, with
/// `-v`; XML `<arg>`): the deepest stack it records.
pub(crate) fn num_callers(option: &str) -> Option<u32> {
    option
        .trim()
        .strip_prefix("--num-callers=")
        .and_then(|n| n.parse().ok())
}

/// `5 errors in context 1 of 3:` → 5: the line over each error that `-v` prints again after
/// the final `ERROR SUMMARY` (always `errors`, also for one).
fn repeat_count(bare: &str) -> Option<u64> {
    if !bare.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (n, rest) = bare.trim_end().split_once(' ')?;
    let (k, m) = rest
        .strip_prefix("errors in context ")
        .or_else(|| rest.strip_prefix("error in context "))?
        .strip_suffix(':')?
        .split_once(" of ")?;
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(number(k) && number(m)) {
        return None;
    }
    n.parse().ok()
}

/// An auxiliary description that Valgrind follows with a stack.
fn announces_stack(what: &str) -> bool {
    let what = what.trim_end();
    what.ends_with("alloc'd")
        || what.ends_with("free'd")
        || what.ends_with(" at")
        || what.ends_with("allocation")
        || what.ends_with("recently re-allocated block")
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

/// `   at 0x4C2FB55: fn (file.c:12)` and its variants, see
/// [`crate::frame::valgrind_location`].
fn frame_line(body: &str) -> Option<FrameText<'_>> {
    let (rest, addr) = frame_head(body)?;
    let described = crate::frame::valgrind_location(trim_end(rest));
    let addr = (!addr.is_empty()).then_some(addr);
    Some(FrameText { addr, described })
}

/// A frame line's parts, borrowed from it until the frame is kept.
#[derive(Debug)]
struct FrameText<'a> {
    addr: Option<&'a str>,
    described: crate::frame::Described<'a>,
}

impl FrameText<'_> {
    /// The frame, made in `stack` (out of a spare one when there is one).
    fn push_onto(&self, stack: &mut Vec<Frame>) {
        spare::with(|pool| pool.push_frame(stack, self.addr, &self.described));
    }
}

/// The fixed part: indentation, `at`/`by`, the address and `: `; gives what follows and the
/// address.
///
/// Written out rather than as a nom combinator chain: nearly every line of a log is a frame,
/// and the chain cost about 500 instructions a line, a tenth of all vg-filter did per line.
///
/// Valgrind indents frames; a paste may not (a forum that trims lines), so column 0 is taken
/// too. A frame cut right after its address (`by 0x53E7`, the end of an excerpt) gives the
/// address alone.
fn frame_head(body: &str) -> Option<(&str, &str)> {
    let indent = body.bytes().take_while(|&b| b == b' ').count();
    let rest = &body[indent..];
    if rest.len() < 8 && matches!(rest.trim_end(), "at" | "by") {
        // Cut right after the word: a frame, of which nothing is left.
        return Some(("", ""));
    }
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
    let after = match &digits[n..] {
        "" => "",
        more => more.strip_prefix(": ")?,
    };
    Some((after, &rest[..2 + n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(log: &str) -> (Vec<Record>, ParseStats) {
        let mut out = Vec::new();
        let mut stats = ParseStats::default();
        parse("test", log.as_bytes(), &mut stats, &mut |e| {
            out.extend(e.into_record())
        })
        .unwrap();
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

    /// Valgrind lists its options with `-v`: they state the stack limit.
    #[test]
    fn listed_options_state_the_stack_limit() {
        let log = |options: &str| {
            format!(
                "==7== Memcheck, a memory error detector\n==7== Command: python3 t.py\n\
                 --7-- Valgrind options:\n--7--    -v\n{options}--7-- Contents of /proc/version:\n"
            )
        };
        assert_eq!(
            records(&log("--7--    --num-callers=4\n")).1.num_callers,
            Some(4)
        );
        assert_eq!(
            records(&log("--7--    --leak-check=full\n")).1.num_callers,
            Some(12)
        );
        let (_, stats) = records("==7== Memcheck, a memory error detector\n");
        assert_eq!(stats.num_callers, None);
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
            let mut stack = Vec::new();
            frame_line(line).expect(line).push_onto(&mut stack);
            assert_eq!(stack, [want], "{line}");
        }
        assert!(frame_line("   Address 0x1 is 0 bytes after").is_none());
        assert!(frame_line("   at 0xZZ: x").is_none());
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
    fn a_verbose_logs_closing_listing_repeats_records_with_their_counts() {
        // `valgrind -v`, as 3.19 writes it: each error again under the final ERROR SUMMARY,
        // then the suppressions used and the summary again.
        let log = "\
==7== Invalid read of size 1
==7==    at 0x5BD0421: invalid_read (dbgpipe_example.c:144)
==7==    by 0x4ECE36: cfunction_vectorcall_NOARGS (methodobject.c:486)
==7==  Address 0x5b20088 is 0 bytes after a block of size 8 alloc'd
==7==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==7==    by 0x5BD03F2: invalid_read (dbgpipe_example.c:138)
==7== 
==7== 8 bytes in 1 blocks are definitely lost in loss record 1 of 1
==7==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==7==    by 0x5BD02B1: leak_definite (dbgpipe_example.c:50)
==7== 
==7== ERROR SUMMARY: 4 errors from 2 contexts (suppressed: 0 from 0)
==7== 
==7== 3 errors in context 1 of 2:
==7== Thread 2:
==7== Invalid read of size 1
==7==    at 0x5BD0421: invalid_read (dbgpipe_example.c:144)
==7==    by 0x4ECE36: cfunction_vectorcall_NOARGS (methodobject.c:486)
==7==  Address 0x5b20088 is 0 bytes after a block of size 8 alloc'd
==7==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==7==    by 0x5BD03F2: invalid_read (dbgpipe_example.c:138)
==7== 
==7== 
--7-- used_suppression:      2 dl-hack /usr/libexec/valgrind/default.supp:1
==7== 
==7== ERROR SUMMARY: 4 errors from 2 contexts (suppressed: 2 from 1)
";
        let mut stats = ParseStats::default();
        let mut got = Vec::new();
        parse("test", log.as_bytes(), &mut stats, &mut |e| got.push(e)).unwrap();
        let kinds: Vec<&str> = got
            .iter()
            .map(|e| match e {
                Event::Record(r) => r.kind.as_str(),
                Event::Repeat { .. } => "repeat",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["InvalidRead", "Leak_DefinitelyLost", "repeat"]);
        let (Event::Record(first), Event::Repeat { record, count }) = (&got[0], &got[2]) else {
            unreachable!()
        };
        assert_eq!(*count, 3);
        // The same error, in the same words: the consumer finds its record by them.
        assert_eq!(
            (&record.what, &record.stack, &record.aux),
            (&first.what, &first.stack, &first.aux)
        );
        assert_eq!(record.tid, Some(2));
        assert!(!record.truncated);
        // Not a record; its lines are counted as the rest of the log's are.
        assert_eq!(stats.records, 2);
        assert_eq!((stats.unparsed_lines, stats.truncated_records), (0, 0));
        assert_eq!(stats.lines, log.lines().count() as u64);

        // Cut inside the listing: the repeat says it was cut, and is still no record.
        let cut: String = log.lines().take(17).map(|l| format!("{l}\n")).collect();
        let mut stats = ParseStats::default();
        let mut got = Vec::new();
        parse("test", cut.as_bytes(), &mut stats, &mut |e| got.push(e)).unwrap();
        assert!(
            matches!(got.last(), Some(Event::Repeat { record, count: 3 })
            if record.truncated && record.stack.len() == 1)
        );
        assert_eq!((stats.records, stats.truncated_records), (2, 0));

        // The count line and nothing else: a header on another line is a record again.
        assert_eq!(repeat_count("1 errors in context 1 of 21:"), Some(1));
        assert_eq!(
            repeat_count("10709 errors in context 11 of 19:"),
            Some(10709)
        );
        assert_eq!(repeat_count("1 errors in context 1 of 21"), None);
        assert_eq!(
            repeat_count("8 bytes in 1 blocks are definitely lost"),
            None
        );
        let after_prose = "\
==7== 2 errors in context 1 of 1:
==7== something else
==7== Invalid read of size 1
==7==    at 0x5BD0421: invalid_read (dbgpipe_example.c:144)
";
        assert_eq!(records(after_prose).0.len(), 1);
    }

    fn events(log: &str) -> Vec<Event> {
        let mut out = Vec::new();
        let mut stats = ParseStats::default();
        parse("test", log.as_bytes(), &mut stats, &mut |e| out.push(e)).unwrap();
        out
    }

    fn functions(stack: &[Frame]) -> Vec<&str> {
        stack
            .iter()
            .map(|f| f.function.as_deref().unwrap_or("???"))
            .collect()
    }

    const LOG: &str = "\
==7== Invalid read of size 1
==7==    at 0x53C82B4: badread (leaky.c:19)
==7==    by 0x4F61C6: main (main.c:4)
==7==  Address 0x55adaf8 is 0 bytes after a block of size 8 alloc'd
==7==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==7==    by 0x53C82AB: badread (leaky.c:19)
==7== 
==7== 8 bytes in 1 blocks are definitely lost in loss record 1 of 2
==7==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==7==    by 0x53C82AB: leak (leaky.c:9)
==7==    by 0x53C82AB: (below main) (libc-start.c:9)
==7== 
";

    #[test]
    fn pastes_give_the_records_of_the_log() {
        let (want, _) = records(LOG);
        assert_eq!(want.len(), 2);
        let indent = |lead: &str| {
            LOG.lines()
                .map(|l| format!("{lead}{l}\n"))
                .collect::<String>()
        };
        for (name, paste) in [
            ("indented", indent("    ")),
            ("tab", indent("\t")),
            ("quoted", indent("> ")),
            ("quoted twice", indent(">> ")),
            ("quoted and indented", indent(">     ")),
            ("CI timestamps", indent("2024-05-01T10:00:00.1234567Z ")),
            ("fenced", format!("Here is the log:\n```\n{LOG}```\n")),
        ] {
            let (got, stats) = records(&paste);
            assert_eq!(got, want, "{name}");
            assert_eq!(stats.unparsed_lines, 0, "{name}");
        }
    }

    #[test]
    fn damaged_prefixes_keep_their_records() {
        for header in [
            "=7== Invalid read of size 1",
            "==7= Invalid read of size 1",
            "== Invalid read of size 1",
            "Invalid read of size 1",
        ] {
            let log = LOG.replacen("==7== Invalid read of size 1", header, 1);
            let (got, _) = records(&log);
            assert_eq!(got.len(), 2, "{header}");
            assert_eq!(got[0].kind, "InvalidRead", "{header}");
            assert_eq!(got[0].pid, Some(7), "{header}");
            assert_eq!(functions(&got[0].stack), ["badread", "main"], "{header}");
            assert_eq!(got[0].aux.len(), 1, "{header}");
        }
        // A frame that lost its prefix stays in its record.
        let log = LOG.replacen("==7==    by 0x4F61C6", "   by 0x4F61C6", 1);
        let (got, _) = records(&log);
        assert_eq!(functions(&got[0].stack), ["badread", "main"]);
    }

    #[test]
    fn wrapped_lines_are_joined() {
        let log = "\
==9== Conditional jump or move depends
on uninitialised value(s)
==9==    at 0x1: std::vector<std::basic_strin
g<char>, std::allocator<char> >::size() const (stl_vector.h:919)
==9==    by 0x2: foo (in /home/le
o/lib/libfoo.so)
==9==    by 0x3: main (main.cc:3)
==9== 
";
        let (got, stats) = records(log);
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(
            (r.kind.as_str(), r.what.as_str()),
            (
                "UninitCondition",
                "Conditional jump or move depends on uninitialised value(s)"
            )
        );
        assert_eq!(
            r.stack[0].function.as_deref(),
            Some("std::vector<std::basic_string<char>, std::allocator<char> >::size() const")
        );
        assert_eq!(r.stack[0].line, Some(919));
        assert_eq!(
            r.stack[1].object.as_deref(),
            Some("/home/leo/lib/libfoo.so")
        );
        assert_eq!(r.stack.len(), 3);
        assert_eq!((stats.lines, stats.unparsed_lines), (8, 0));
    }

    #[test]
    fn elisions_and_the_end_of_a_paste() {
        // Prefix-less, with `...` at column 0 where a person cut the stack.
        let log = "\
Invalid write of size 4
   at 0x1: store (a.c:3)
...
 Address 0x2 is 4 bytes after a block of size 16 alloc'd
   at 0x3: malloc (vg_replace_malloc.c:299)
   by 0x4: make (a.c:9)
";
        let (got, _) = records(log);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].aux.len(), 1);
        assert_eq!(functions(&got[0].aux[0].stack), ["malloc", "make"]);
        assert!(!got[0].truncated, "elided on purpose");
        // A prefixed paste that ends after a whole record: not cut.
        let whole = LOG.trim_end().trim_end_matches("==7==").trim_end();
        let (got, stats) = records(whole);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|r| !r.truncated), "{got:?}");
        assert_eq!(stats.truncated_records, 0);
        // Ends inside a stack, or where a description announces one: cut.
        for cut in [
            "==7== Invalid read of size 1\n==7==    at 0x1: f (a.c:1)\n",
            "==7== Invalid read of size 1\n==7==    at 0x1: f (a.c:1)\n==7==    by 0x2: main (a.c:9)\n==7==  Block was alloc'd at\n",
            "==7== Invalid read of size 1\n",
        ] {
            let (got, _) = records(cut);
            assert!(got[0].truncated, "{cut}");
        }
    }

    #[test]
    fn fatal_signals_and_valgrind_failures_are_reported() {
        let log = "\
==5== Invalid read of size 4
==5==    at 0x1: crash (c.c:3)
==5==    by 0x2: main (c.c:9)
==5==  Address 0x0 is not stack'd, malloc'd or (recently) free'd
==5== 
==5== 
==5== Process terminating with default action of signal 11 (SIGSEGV)
==5==  Access not within mapped region at address 0x0
==5==    at 0x1: crash (c.c:3)
==5==    by 0x2: main (c.c:9)
==5==  If you believe this happened as a result of a stack
==5==  overflow in your program's main thread (unlikely but
==5== 
valgrind: m_mallocfree.c:305 (get_bszB_as_is): Assertion 'bszB_lo == bszB_hi' failed.
valgrind: Heap block lo/hi size mismatch: lo = 64, hi = 0.
This is probably caused by your program erroneously writing past the

host stacktrace:
==5==    at 0x58046FEA: show_sched_status_wrk (m_libcassert.c:406)

sched status:
  running_tid=1

Thread 1: status = VgTs_Runnable (lwpid 5)
==5==    at 0x4C2A9EF: malloc (vg_replace_malloc.c:299)
==5==    by 0x40061D: main (a.c:10)
client stack range: [0x1FFEFFC000 0x1FFF000FFF] client SP: 0x1FFF000550

In the bug report, send all the above text, the valgrind
version, and what OS and version you are using.  Thanks.
";
        let got = events(log);
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(matches!(&got[0], Event::Record(r) if r.kind == "InvalidRead"));
        let Event::FatalSignal(f) = &got[1] else {
            panic!("{:?}", got[1])
        };
        assert_eq!(
            (f.pid, f.signo, f.signal.as_deref()),
            (Some(5), Some(11), Some("SIGSEGV"))
        );
        assert_eq!(
            f.details,
            ["Access not within mapped region at address 0x0"]
        );
        assert_eq!(functions(&f.stack), ["crash", "main"]);
        assert!(!f.truncated);
        let Event::ValgrindPanic(p) = &got[2] else {
            panic!("{:?}", got[2])
        };
        assert!(p.what.contains("Assertion 'bszB_lo == bszB_hi' failed"));
        assert_eq!(p.details.len(), 2);
        assert_eq!(functions(&p.stack), ["malloc", "main"]);
        assert_eq!(p.pid, Some(5));
    }

    /// Found by the fuzzer: a fatal-signal report cut by the end of the input is marked cut
    /// on its own record, and not counted among the error records that were.
    #[test]
    fn a_cut_fatal_signal_is_not_a_truncated_record() {
        let log = "==1== Process terminating with default action of signal 11 (SIGSEGV)\n\
                   ==1==  Access not within mapped region at address 0x0\n\
                   ==1==    at 0x1: f (a.c:1)\n";
        let mut stats = ParseStats::default();
        let mut got = Vec::new();
        parse("t", log.as_bytes(), &mut stats, &mut |e| got.push(e)).unwrap();
        assert!(
            matches!(&got[..], [Event::FatalSignal(f)] if f.truncated),
            "{got:?}"
        );
        assert_eq!((stats.records, stats.truncated_records), (0, 0));
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
