//! Valgrind Memcheck `--xml=yes` output (protocols 4, 5 and 6), read as a stream.
//!
//! The input is read event by event with `quick-xml` into one reused buffer, and each `<error>`
//! is handed to the caller as soon as it closes, so memory stays flat however long the run was:
//! no DOM is built and nothing but the error being read is kept. Frames written as Valgrind
//! writes them, nearly all of a log's bytes, are read straight from the input's buffer
//! instead ([`State::plain_frames`]), to the same result.
//!
//! What this reader takes from the protocol (Valgrind's
//! `docs/internals/xml-output-protocol*.txt`):
//!
//! ```text
//! <valgrindoutput>            a new document: its <pid> applies to the errors that follow
//!   <pid>                     Record::pid ("..." in Valgrind's filtered test outputs: None)
//!   <error>                   one Record
//!     <tid> <kind>            Record::tid, Record::kind
//!     <what> | <xwhat><text>  Record::what; a second one before the stack is an aux line
//!     <xwhat><leakedbytes>    bytes and blocks when the sentence does not give them
//!     <stack><frame>          the first stack is the main one: ip fn obj dir file line
//!     <auxwhat> | <xauxwhat>  each starts an AuxStack; the <stack> after it is its stack
//!     <unique>                Record::unique, what <errorcounts> counts by
//!   <fatal_signal>            one FatalSignal: tid signo signame event siaddr stack
//!   <errorcounts><pair>       Event::ErrorCount: count and unique
//! ```
//!
//! Everything else the protocols define (preamble, args, status, suppressions, the
//! summaries of protocol 6, client messages, …) is skipped quietly; elements no
//! protocol defines are skipped too but counted in [`ParseStats::unknown_elements`], so that a
//! format change shows up in the summary instead of passing unnoticed.
//!
//! Several documents may follow each other in one stream (`cat vg.*.xml`); even one cut short in
//! the middle of an error is followed correctly by the next, since a `<valgrindoutput>` always
//! starts afresh.

use std::borrow::Cow;
use std::io::{self, BufRead, Read};

use quick_xml::errors::IllFormedError;
use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;

use super::{header, AuxStack, FatalSignal, ParseStats, Record, MAX_AUX, MAX_FRAMES};
use super::{spare, Event};
use crate::frame::{Described, Frame};
use crate::input::MAX_LINE;
use crate::Error;

/// Deepest element nesting accepted. Valgrind never goes beyond 6; the bound keeps the stack of
/// open element names that quick-xml checks end tags against from growing without limit on
/// hostile input.
const MAX_DEPTH: usize = 10_000;

/// Element names the protocols (4 to 6, plus the Helgrind/DRD parts of the common grammar)
/// define. Those we do not use are skipped without being counted as unknown.
const KNOWN: &[&[u8]] = &[
    // Top level and preamble.
    b"valgrindoutput",
    b"protocolversion",
    b"protocoltool",
    b"preamble",
    b"line",
    b"pid",
    b"ppid",
    b"tool",
    b"logfilequalifier",
    b"var",
    b"value",
    b"usercomment",
    b"args",
    b"vargv",
    b"argv",
    b"exe",
    b"arg",
    b"status",
    b"state",
    b"time",
    // Errors.
    b"error",
    b"unique",
    b"tid",
    b"threadname",
    b"kind",
    b"what",
    b"xwhat",
    b"auxwhat",
    b"xauxwhat",
    b"text",
    b"leakedbytes",
    b"leakedblocks",
    b"stack",
    b"frame",
    b"ip",
    b"obj",
    b"fn",
    b"dir",
    b"file",
    b"suppression",
    b"sname",
    b"skind",
    b"skaux",
    b"sframe",
    b"fun",
    b"rawtext",
    // Protocol 5 core errors (--track-fds).
    b"fd",
    b"path",
    // Counts.
    b"errorcounts",
    b"suppcounts",
    b"pair",
    b"count",
    b"name",
    // Client messages and fatal signals.
    b"clientmsg",
    b"fatal_signal",
    b"signo",
    b"signame",
    b"sicode",
    b"event",
    b"siaddr",
    // Protocol 6 summaries.
    b"error_summary",
    b"errors",
    b"error_contexts",
    b"suppressed",
    b"suppressed_contexts",
    b"heap_summary",
    b"memory_in_use_at_exit",
    b"total_heap_usage",
    b"bytes",
    b"blocks",
    b"allocs",
    b"frees",
    b"bytes_allocated",
    b"all_heap_blocks_freed",
    b"leak_summary",
    b"definitely_lost",
    b"indirectly_lost",
    b"possibly_lost",
    b"still_reachable",
    b"in_blocks",
    b"reachable_heuristic",
    // Helgrind and DRD, which share the grammar.
    b"announcethread",
    b"hthreadid",
    b"threadid",
];

/// Parses one XML input, calling `on_record` for each `<error>` as soon as it closes.
///
/// `input` names the input in error messages. Counts go to `stats`: records, truncated records,
/// dropped frames, unknown elements, and `lines`, the newline-terminated lines consumed.
/// Malformed XML is an [`Error`] naming the line; records emitted before it stay emitted.
/// An input that ends inside an `<error>` is not an error: the record is emitted with
/// `truncated: true` when it already has a kind.
pub fn parse<R: BufRead>(
    input: &str,
    reader: R,
    stats: &mut ParseStats,
    on_record: &mut dyn FnMut(Event),
) -> Result<(), Error> {
    parse_with_buffer(input, reader, LINE_COUNTER_BUFFER, stats, on_record)
}

/// [`parse`] through a [`LineCounter`] of `buffer` bytes: the tests make it small, so that
/// frames are cut by its refills, or smaller than any frame, so that none is read plain.
fn parse_with_buffer<R: BufRead>(
    input: &str,
    mut reader: R,
    buffer: usize,
    stats: &mut ParseStats,
    on_record: &mut dyn FnMut(Event),
) -> Result<(), Error> {
    let mut skipped_lines = 0;
    let head = reader.fill_buf().map_err(|e| Error::io(input, &e))?;
    // Prose before a pasted fragment (`Here is the output:`, a fence) is passed over and
    // counted: it is no XML, and a `<` in it would swallow the lines up to the next `>`.
    if let Some(start) = super::xml_start(head).filter(|&s| s > 0) {
        let skipped = &head[..start];
        skipped_lines = skipped.iter().filter(|&&b| b == b'\n').count() as u64;
        stats.unparsed_lines += skipped
            .split(|&b| b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
            .count() as u64;
        reader.consume(start);
    }
    let head = reader.fill_buf().map_err(|e| Error::io(input, &e))?;
    if super::quoted_xml(head) {
        let counter = LineCounter::new(Unquote::new(reader), buffer);
        return parse_counted(input, counter, skipped_lines, stats, on_record);
    }
    let counter = LineCounter::new(reader, buffer);
    parse_counted(input, counter, skipped_lines, stats, on_record)
}

/// [`parse`] after the prose before the XML (`skipped_lines` of it), from `counter`.
fn parse_counted<R: BufRead>(
    input: &str,
    mut counter: LineCounter<R>,
    skipped_lines: u64,
    stats: &mut ParseStats,
    on_record: &mut dyn FnMut(Event),
) -> Result<(), Error> {
    counter.newlines = skipped_lines;
    let mut xml = reader(counter);
    let mut state = State::default();
    let result = read_events(input, &mut xml, &mut state, stats, on_record);
    if result.is_ok() {
        state.finish(stats, on_record);
    }
    stats.lines += xml.get_ref().newlines;
    result.map(drop)
}

/// quick-xml's reader over `counter`, configured as every reading here wants it.
fn reader<R: BufRead>(counter: LineCounter<R>) -> Reader<LineCounter<R>> {
    let mut xml = Reader::from_reader(counter);
    // `<fn/>` then behaves like `<fn></fn>`, so there is one code path per element.
    xml.config_mut().expand_empty_elements = true;
    xml
}

/// Where pieces of an XML input are cut ([`super::parallel`]): after an `</error>` line. A
/// piece then starts between two errors of a document, where the parser's state is only
/// the document's `<pid>` ([`Carry`]), unless the bytes are not what Valgrind writes (the
/// end tag in a comment, say): then the piece before does not end [`settled`](State::settled),
/// and the input is read on in order from there.
pub(crate) const BOUNDARY: &[u8] = b"</error>\n";

/// What the pieces before a piece of an XML input leave behind when they leave nothing open
/// but their document: its `<pid>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Carry {
    pid: Option<u32>,
}

impl Carry {
    /// Takes in a piece as a parser reading it would, as far as the `<pid>` goes. A guess,
    /// checked once the piece before is read: a `<pid>` in a comment misleads it, and then
    /// the piece is read again in order.
    pub(crate) fn see(&mut self, bytes: &[u8]) {
        // A document Valgrind writes starts with `<?xml`, and a `?` is rare after it: a
        // piece without one starts no document, and is not searched for tags whose bytes
        // (`<`, `>`, letters) are everywhere, which took longer than reading the piece.
        if memchr::memchr(b'?', bytes).is_none() {
            return;
        }
        let last = |needle: &[u8]| memchr::memmem::find_iter(bytes, needle).last();
        let document = last(b"<valgrindoutput");
        match last(b"<pid>") {
            Some(at) if document.map_or(true, |d| d < at) => {
                let text = &bytes[at + b"<pid>".len()..];
                let text = &text[..memchr::memchr(b'<', text).unwrap_or(text.len())];
                // As `set_field` reads it.
                self.pid = std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
            }
            _ if document.is_some() => self.pid = None,
            _ => {}
        }
    }
}

/// The start tag that a reader of a piece after the first is given before the piece, so
/// that quick-xml knows the document open, as the reader of the whole input would.
const OPEN_DOCUMENT: &[u8] = b"<valgrindoutput>";

/// Reads a piece of an XML input cut after [`BOUNDARY`]: the input's first (`after`
/// `None`), or one after a piece that ended settled in `after`. Reads as [`parse`] would
/// read those bytes there, but that the first piece is only read here when the input starts
/// plainly with its XML (otherwise it ends unsettled unread: the input is read in order).
/// `buffer` is the line counter's, kept between pieces. Gives what the piece leaves behind
/// when it leaves nothing open but its document (it ends settled): the next piece may then
/// be read apart.
pub(crate) fn parse_piece(
    input: &str,
    bytes: &[u8],
    after: Option<&Carry>,
    buffer: &mut Vec<u8>,
    stats: &mut ParseStats,
    on_record: &mut dyn FnMut(Event),
) -> Result<Option<Carry>, Error> {
    let (prefix, mut state) = match after {
        Some(carry) => (OPEN_DOCUMENT, State::after(carry)),
        None => {
            // What `parse_with_buffer` passes over or unquotes is left to it.
            let head = &bytes[..bytes.len().min(super::filter::HEAD)];
            if super::xml_start(head) != Some(0) || super::quoted_xml(head) {
                return Ok(None);
            }
            (&b""[..], State::default())
        }
    };
    let counter = LineCounter::with_buffer(io::Read::chain(prefix, bytes), std::mem::take(buffer));
    let mut xml = reader(counter);
    if after.is_some() {
        // The document's start tag given before the piece, known to the parser already.
        let _ = xml.read_event_into(&mut Vec::new());
    }
    let result = read_events(input, &mut xml, &mut state, stats, on_record);
    let counter = xml.into_inner();
    stats.lines += counter.newlines;
    *buffer = counter.into_buffer();
    let cut = result?;
    let settled = state.settled(cut);
    // A no-op where it ends settled; where it does not, this is the input's end (else the
    // piece is read again in order).
    state.finish(stats, on_record);
    Ok(settled)
}

/// Reads the rest of an XML input from the end of a piece that ended settled in `after`,
/// as [`parse`] reading the whole input would read on from there; `lines` were read before.
pub(crate) fn parse_after<R: BufRead>(
    input: &str,
    rest: R,
    after: &Carry,
    lines: u64,
    stats: &mut ParseStats,
    on_record: &mut dyn FnMut(Event),
) -> Result<(), Error> {
    let mut counter = LineCounter::new(io::Read::chain(OPEN_DOCUMENT, rest), LINE_COUNTER_BUFFER);
    counter.newlines = lines;
    let mut xml = reader(counter);
    let _ = xml.read_event_into(&mut Vec::new());
    let mut state = State::after(after);
    let result = read_events(input, &mut xml, &mut state, stats, on_record);
    if result.is_ok() {
        state.finish(stats, on_record);
    }
    stats.lines += xml.get_ref().newlines - lines;
    result.map(drop)
}

/// A quoted paste of XML (`> <error>`, an email's or a blockquote's) read without its
/// quote markers, line by line. Only such pastes pay for it.
struct Unquote<R> {
    inner: R,
    line: Vec<u8>,
    /// Where the unread part of `line` starts.
    pos: usize,
}

impl<R: BufRead> Unquote<R> {
    fn new(inner: R) -> Self {
        Unquote {
            inner,
            line: Vec::new(),
            pos: 0,
        }
    }
}

impl<R: BufRead> Read for Unquote<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Unquote<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.line.len() {
            self.line.clear();
            self.pos = 0;
            let mut raw = Vec::new();
            if let Some(end) = crate::input::read_line(&mut self.inner, &mut raw, MAX_LINE)? {
                self.line.extend_from_slice(super::unquoted(&raw));
                if end.newline {
                    self.line.push(b'\n');
                }
            }
        }
        Ok(&self.line[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.line.len());
    }
}

/// The event loop of [`parse`], apart so that the line count is taken on every way out.
/// The caller ends `state` ([`State::finish`]) when it is done with the input. `Ok(true)`
/// when the input ended inside markup.
fn read_events<R: BufRead>(
    input: &str,
    xml: &mut Reader<LineCounter<R>>,
    state: &mut State,
    stats: &mut ParseStats,
    on_record: &mut dyn FnMut(Event),
) -> Result<bool, Error> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // Each call starts at a text run or at the `<` of a markup, and only markup fails, so
        // the line where the call starts is the line of the offending `<`.
        let line = xml.get_ref().newlines + 1;
        let fail = |message: String| Error::at(input, Some(line), message);
        match xml.read_event_into(&mut buf) {
            Ok(XmlEvent::Start(e)) => {
                let name = e.name();
                let name = name.as_ref();
                if is_xml_name(name) {
                    state.start(name, stats, on_record).map_err(fail)?;
                    // Not after `<stack/>`: quick-xml then still owes its end.
                    if name == b"stack" && !xml.get_ref().after_empty_tag() {
                        state.plain_frames(xml.get_mut(), stats);
                    }
                } else if let Some(rest) = cut_by_next_document(name) {
                    // `<fra` + `<?xml …?>`: a document cut inside a tag, then the next one
                    // (`cat vg.*.xml` after a crash). quick-xml took both for one tag.
                    if rest.starts_with(b"valgrindoutput") {
                        state
                            .start(b"valgrindoutput", stats, on_record)
                            .map_err(fail)?;
                    } else {
                        state.start_cut();
                    }
                } else {
                    return Err(fail(format!("invalid element name `{}`", shown(name))));
                }
            }
            Ok(XmlEvent::End(_)) => {
                state.end(stats, on_record);
                state.plain_frames(xml.get_mut(), stats);
            }
            Ok(XmlEvent::Text(t)) => {
                if state.at_top_level() {
                    if let Some(offset) = first_content(&t) {
                        // Prose or a Markdown fence around a pasted log: passed over, counted.
                        let text = String::from_utf8_lossy(&t[offset..]);
                        stats.unparsed_lines +=
                            text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
                    }
                } else if state.capturing() {
                    // `from_utf8` first: `from_utf8_lossy` checks even valid text byte by byte.
                    let raw = match std::str::from_utf8(&t) {
                        Ok(text) => Cow::Borrowed(text),
                        Err(_) => String::from_utf8_lossy(&t),
                    };
                    // A stray `&` or an unknown entity in one symbol name should not cost the
                    // whole log: the text is then kept as written.
                    let text = quick_xml::escape::unescape(&raw).unwrap_or(Cow::Borrowed(&*raw));
                    state.push_text(&text, stats);
                }
            }
            Ok(XmlEvent::CData(c)) => {
                if state.capturing() {
                    state.push_text(&String::from_utf8_lossy(&c), stats);
                }
            }
            Ok(XmlEvent::Eof) => return Ok(false),
            // Declarations (one per concatenated document), comments, PIs, doctypes.
            Ok(_) => {}
            Err(quick_xml::Error::Io(e)) => return Err(Error::io(input, &e)),
            // quick-xml reports markup cut by the end of input (`<fra`, `<!-- …`) as a syntax
            // error; for us that is a truncated input, as when the cut falls between tags.
            Err(quick_xml::Error::Syntax(_)) if at_eof(xml.get_mut()) => return Ok(true),
            // The end-tag side of the same cut (`</fra` + `<?xml …?>`, or the end tag of a
            // start tag that swallowed a declaration): quick-xml has closed the element anyway.
            Err(quick_xml::Error::IllFormed(IllFormedError::MismatchedEndTag {
                expected,
                found,
            })) if expected.contains('<') || found.contains('<') => {
                state.end(stats, on_record);
            }
            Err(quick_xml::Error::IllFormed(IllFormedError::UnmatchedEndTag(found)))
                if found.contains('<') => {}
            // An end tag whose start the excerpt cut off: passed over, counted.
            Err(quick_xml::Error::IllFormed(IllFormedError::UnmatchedEndTag(_))) => {
                stats.unparsed_lines += 1;
            }
            Err(e) => return Err(fail(format!("malformed XML: {e}"))),
        }
    }
}

/// Where the reader stands, as far as the record is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Elements still open from a document that a new `<valgrindoutput>` interrupted.
    Stale(usize),
    /// Inside `<valgrindoutput>`.
    Doc,
    /// Inside `<error>`.
    Error,
    /// Inside `<xwhat>` of an error.
    XWhat,
    /// Inside `<xauxwhat>` of an error.
    XAuxWhat,
    /// Inside a `<stack>` of an error.
    Stack,
    /// Inside a `<frame>` of such a stack.
    Frame,
    /// Inside `<fatal_signal>` (its stack is read as an error's).
    Fatal,
    /// Inside `<errorcounts>`.
    ErrorCounts,
    /// Inside one of its `<pair>`s.
    Pair,
    /// Inside `<args>`.
    Args,
    /// Inside its `<vargv>`: Valgrind's own options.
    Vargv,
    /// Inside an element whose text we keep.
    Field(Field),
}

/// The elements whose text goes into a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Pid,
    Tid,
    Kind,
    What,
    AuxWhat,
    LeakedBytes,
    LeakedBlocks,
    Ip,
    Obj,
    Fn,
    Dir,
    File,
    Line,
    Unique,
    Count,
    Signo,
    Signame,
    SigEvent,
    SigAddr,
    /// An `<arg>` of `<vargv>`.
    Arg,
}

/// The error being read.
#[derive(Debug, Default)]
struct Pending {
    rec: Record,
    have_what: bool,
    main_stack_done: bool,
    /// The last aux line still waits for its stack.
    aux_open: bool,
    /// The last aux line was dropped ([`MAX_AUX`]): so is the stack that follows it.
    aux_dropped: bool,
    /// Aux lines and frames dropped, added to the stats when the error is emitted.
    dropped_aux: u64,
    dropped_frames: u64,
    leaked_bytes: Option<u64>,
    leaked_blocks: Option<u64>,
    stack: Vec<Frame>,
    frame: Frame,
    /// The frame's `<dir>`, joined to its `<file>` when the frame ends.
    dir: Option<String>,
    signo: Option<u32>,
    signame: Option<String>,
    event: Option<String>,
    siaddr: Option<String>,
}

/// The parser's state between events. Its size is bounded by the protocol's nesting (the
/// context stack only grows through elements we use) plus the error being read.
#[derive(Debug, Default)]
struct State {
    ctx: Vec<Ctx>,
    /// Open elements above the context stack that are being skipped.
    skip: usize,
    /// The skipped subtree is a `<usercomment>`, whose content is the user's, not Valgrind's:
    /// its element names are not counted as unknown.
    quiet: bool,
    /// All open elements.
    open: usize,
    /// The current document's `<pid>`.
    pid: Option<u32>,
    pending: Option<Pending>,
    /// The `<pair>` being read: its `<count>` and `<unique>`.
    pair: (Option<u64>, Option<String>),
    text: String,
    text_cut: bool,
}

impl State {
    /// Inside the document of `carry`, between its errors.
    fn after(carry: &Carry) -> Self {
        State {
            ctx: vec![Ctx::Doc],
            open: 1,
            pid: carry.pid,
            ..State::default()
        }
    }

    /// What the input read so far leaves behind, when it leaves nothing open but its
    /// document, and the input did not end inside markup (`cut`).
    fn settled(&self, cut: bool) -> Option<Carry> {
        let between_errors = self.ctx == [Ctx::Doc] && self.open == 1 && self.skip == 0;
        (!cut && between_errors && self.pending.is_none()).then_some(Carry { pid: self.pid })
    }

    fn at_top_level(&self) -> bool {
        self.open == 0
    }

    fn capturing(&self) -> bool {
        self.skip == 0 && matches!(self.ctx.last(), Some(Ctx::Field(_)))
    }

    fn push_text(&mut self, s: &str, stats: &mut ParseStats) {
        let room = MAX_LINE.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
            return;
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(s.get(..end).unwrap_or_default());
        if !self.text_cut {
            self.text_cut = true;
            stats.long_lines += 1;
        }
    }

    fn start(
        &mut self,
        name: &[u8],
        stats: &mut ParseStats,
        on_record: &mut dyn FnMut(Event),
    ) -> Result<(), String> {
        if self.open >= MAX_DEPTH {
            return Err(format!("elements nested more than {MAX_DEPTH} deep"));
        }
        if name == b"valgrindoutput" && !self.quiet {
            self.new_document(stats, on_record);
            self.open += 1;
            return Ok(());
        }
        self.open += 1;
        if self.skip > 0 {
            self.skip += 1;
            if !self.quiet && !is_known(name) {
                stats.unknown_elements += 1;
            }
            return Ok(());
        }
        let next = match (self.ctx.last(), name) {
            // An `<error>` outside of any document is accepted, for fragments cut out of a log.
            (None | Some(Ctx::Stale(_)) | Some(Ctx::Doc), b"error") => {
                self.pending = Some(Pending {
                    rec: Record {
                        pid: self.pid,
                        ..Record::default()
                    },
                    ..Pending::default()
                });
                Some(Ctx::Error)
            }
            (None | Some(Ctx::Stale(_)) | Some(Ctx::Doc), b"fatal_signal") => {
                self.pending = Some(Pending {
                    rec: Record {
                        pid: self.pid,
                        ..Record::default()
                    },
                    ..Pending::default()
                });
                Some(Ctx::Fatal)
            }
            (None | Some(Ctx::Stale(_)) | Some(Ctx::Doc), b"errorcounts") => Some(Ctx::ErrorCounts),
            (Some(Ctx::ErrorCounts), b"pair") => {
                self.pair = (None, None);
                Some(Ctx::Pair)
            }
            (Some(Ctx::Pair), b"count") => Some(Ctx::Field(Field::Count)),
            (Some(Ctx::Pair), b"unique") => Some(Ctx::Field(Field::Unique)),
            (Some(Ctx::Error), b"unique") => Some(Ctx::Field(Field::Unique)),
            (Some(Ctx::Fatal), b"tid") => Some(Ctx::Field(Field::Tid)),
            (Some(Ctx::Fatal), b"signo") => Some(Ctx::Field(Field::Signo)),
            (Some(Ctx::Fatal), b"signame") => Some(Ctx::Field(Field::Signame)),
            (Some(Ctx::Fatal), b"event") => Some(Ctx::Field(Field::SigEvent)),
            (Some(Ctx::Fatal), b"siaddr") => Some(Ctx::Field(Field::SigAddr)),
            (Some(Ctx::Fatal), b"stack") => Some(Ctx::Stack),
            (Some(Ctx::Doc), b"pid") => Some(Ctx::Field(Field::Pid)),
            (Some(Ctx::Doc), b"args") => Some(Ctx::Args),
            (Some(Ctx::Args), b"vargv") => Some(Ctx::Vargv),
            (Some(Ctx::Vargv), b"arg") => Some(Ctx::Field(Field::Arg)),
            (Some(Ctx::Error), b"tid") => Some(Ctx::Field(Field::Tid)),
            (Some(Ctx::Error), b"kind") => Some(Ctx::Field(Field::Kind)),
            (Some(Ctx::Error), b"what") => Some(Ctx::Field(Field::What)),
            (Some(Ctx::Error), b"auxwhat") => Some(Ctx::Field(Field::AuxWhat)),
            (Some(Ctx::Error), b"xwhat") => Some(Ctx::XWhat),
            (Some(Ctx::Error), b"xauxwhat") => Some(Ctx::XAuxWhat),
            (Some(Ctx::Error), b"stack") => Some(Ctx::Stack),
            // Protocol 3 put these directly in the error; accepting them costs nothing.
            (Some(Ctx::Error | Ctx::XWhat), b"leakedbytes") => Some(Ctx::Field(Field::LeakedBytes)),
            (Some(Ctx::Error | Ctx::XWhat), b"leakedblocks") => {
                Some(Ctx::Field(Field::LeakedBlocks))
            }
            (Some(Ctx::XWhat), b"text") => Some(Ctx::Field(Field::What)),
            (Some(Ctx::XAuxWhat), b"text") => Some(Ctx::Field(Field::AuxWhat)),
            (Some(Ctx::Stack), b"frame") => Some(Ctx::Frame),
            (Some(Ctx::Frame), b"ip") => Some(Ctx::Field(Field::Ip)),
            (Some(Ctx::Frame), b"obj") => Some(Ctx::Field(Field::Obj)),
            (Some(Ctx::Frame), b"fn") => Some(Ctx::Field(Field::Fn)),
            (Some(Ctx::Frame), b"dir") => Some(Ctx::Field(Field::Dir)),
            (Some(Ctx::Frame), b"file") => Some(Ctx::Field(Field::File)),
            (Some(Ctx::Frame), b"line") => Some(Ctx::Field(Field::Line)),
            _ => None,
        };
        match next {
            Some(ctx) => {
                match ctx {
                    Ctx::Field(_) => {
                        self.text.clear();
                        self.text_cut = false;
                    }
                    Ctx::Stack => {
                        if let Some(p) = self.pending.as_mut() {
                            p.stack.clear();
                        }
                    }
                    Ctx::Frame => {
                        if let Some(p) = self.pending.as_mut() {
                            p.frame = Frame::default();
                            p.dir = None;
                        }
                    }
                    // Valgrind's options are listed: the stack limit is the default unless
                    // one of them sets it.
                    Ctx::Vargv => stats.num_callers = Some(super::DEFAULT_NUM_CALLERS),
                    _ => {}
                }
                self.ctx.push(ctx);
            }
            None => {
                self.skip = 1;
                self.quiet = name == b"usercomment";
                if !self.quiet && !is_known(name) {
                    stats.unknown_elements += 1;
                }
            }
        }
        Ok(())
    }

    /// Opens a tag cut short by the next document's declaration: skipped, not counted.
    fn start_cut(&mut self) {
        self.open += 1;
        self.skip += 1;
    }

    /// A `<valgrindoutput>` starts a document, even where the previous one was cut short:
    /// its pending error is emitted as truncated, and its open elements are set aside.
    fn new_document(&mut self, stats: &mut ParseStats, on_record: &mut dyn FnMut(Event)) {
        self.finish(stats, on_record);
        self.ctx.clear();
        if self.open > 0 {
            self.ctx.push(Ctx::Stale(self.open));
        }
        self.skip = 0;
        self.quiet = false;
        self.pid = None;
        self.ctx.push(Ctx::Doc);
    }

    fn end(&mut self, stats: &mut ParseStats, on_record: &mut dyn FnMut(Event)) {
        self.open = self.open.saturating_sub(1);
        if self.skip > 0 {
            self.skip -= 1;
            if self.skip == 0 {
                self.quiet = false;
            }
            return;
        }
        match self.ctx.pop() {
            Some(Ctx::Stale(n)) if n > 1 => self.ctx.push(Ctx::Stale(n - 1)),
            Some(Ctx::Field(Field::Arg)) => {
                if let Some(n) = super::text::num_callers(&self.text) {
                    stats.num_callers = Some(n);
                }
            }
            Some(Ctx::Field(field)) => self.set_field(field),
            Some(Ctx::Frame) => self.end_frame(stats),
            Some(Ctx::Stack) => self.end_stack(),
            Some(Ctx::Error) => self.emit(false, stats, on_record),
            Some(Ctx::Fatal) => self.emit_fatal(false, on_record),
            Some(Ctx::Pair) => {
                if let (Some(count), Some(unique)) = std::mem::take(&mut self.pair) {
                    on_record(Event::ErrorCount {
                        pid: self.pid,
                        unique,
                        count,
                    });
                }
            }
            _ => {}
        }
    }

    /// A `<fatal_signal>` read (or cut: `truncated`), as the text log's report says it.
    fn emit_fatal(&mut self, truncated: bool, on_record: &mut dyn FnMut(Event)) {
        let Some(p) = self.pending.take() else { return };
        let signo = p.signo.map_or("?".to_string(), |n| n.to_string());
        let signame = p.signame.clone().unwrap_or_else(|| "?".to_string());
        let details = match (p.event, p.siaddr) {
            (Some(e), Some(a)) => vec![format!("{e} at address {a}")],
            (Some(e), None) => vec![e],
            (None, _) => Vec::new(),
        };
        on_record(Event::FatalSignal(FatalSignal {
            pid: p.rec.pid,
            tid: p.rec.tid,
            signo: p.signo,
            signal: p.signame,
            what: format!("Process terminating with default action of signal {signo} ({signame})"),
            details,
            stack: p.rec.stack,
            truncated,
        }));
    }

    fn set_field(&mut self, field: Field) {
        let text = self.text.trim();
        if field == Field::Pid {
            self.pid = text.parse().ok();
            return;
        }
        if self.ctx.last() == Some(&Ctx::Pair) {
            match field {
                Field::Count => self.pair.0 = text.parse().ok(),
                Field::Unique => self.pair.1 = non_empty(text),
                _ => {}
            }
            return;
        }
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        match field {
            Field::Pid => {}
            Field::Tid => p.rec.tid = text.parse().ok(),
            Field::Kind => p.rec.kind = text.to_string(),
            Field::What => {
                if !p.have_what {
                    p.rec.what = text.to_string();
                    p.have_what = true;
                } else if p.rec.aux.len() >= MAX_AUX {
                    p.dropped_aux += 1;
                    p.aux_dropped = p.main_stack_done;
                    p.aux_open = false;
                } else {
                    // A second what line before the stack belongs to the header and stands
                    // alone; after the stack it can only be an aux line awaiting a stack.
                    p.rec.aux.push(AuxStack {
                        what: text.to_string(),
                        stack: Vec::new(),
                    });
                    p.aux_open = p.main_stack_done;
                }
            }
            Field::AuxWhat if p.rec.aux.len() >= MAX_AUX => {
                p.dropped_aux += 1;
                p.aux_dropped = true;
                p.aux_open = false;
            }
            Field::AuxWhat => {
                p.aux_dropped = false;
                p.rec.aux.push(AuxStack {
                    what: text.to_string(),
                    stack: Vec::new(),
                });
                p.aux_open = true;
            }
            Field::LeakedBytes => p.leaked_bytes = text.parse().ok(),
            Field::LeakedBlocks => p.leaked_blocks = text.parse().ok(),
            // A frame's texts go into strings of the records dropped before ([`spare`]).
            Field::Ip => p.frame.addr = frame_text(text),
            Field::Obj => p.frame.object = frame_text(text),
            // `???` is how the text log spells a missing name; keep both formats alike.
            Field::Fn => p.frame.function = frame_text(text).filter(|f| f != "???"),
            Field::Dir => p.dir = frame_text(text),
            Field::File => p.frame.file = frame_text(text),
            // `...` in Valgrind's filtered test outputs, like any non-number, is no line.
            Field::Line => p.frame.line = text.parse().ok(),
            Field::Unique => p.rec.unique = non_empty(text),
            // Read where it ends (`end`), as it needs the stats.
            Field::Count | Field::Arg => {}
            Field::Signo => p.signo = text.parse().ok(),
            Field::Signame => p.signame = non_empty(text),
            Field::SigEvent => p.event = non_empty(text),
            Field::SigAddr => p.siaddr = non_empty(text),
        }
    }

    /// Reads the frames that follow in the counter's buffer as Valgrind writes them
    /// ([`plain_frame`]), straight from the bytes: they are nearly all of a log, and read
    /// through quick-xml's events they made vg-filter's XML path 4.5 times as costly (1,899 M
    /// instructions against 416 M on the bench's 28 MB log). Called between events in a
    /// `<stack>`, where quick-xml stands between markups; it stops before the first frame
    /// that is not plain (or not whole in the buffer), which quick-xml then reads, so the
    /// frames come out as [`State::end_frame`] makes them either way.
    fn plain_frames<R: BufRead>(&mut self, counter: &mut LineCounter<R>, stats: &mut ParseStats) {
        // A frame opens two elements; the bound is checked as `start` would.
        if self.skip > 0 || self.ctx.last() != Some(&Ctx::Stack) || self.open + 2 > MAX_DEPTH {
            return;
        }
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        let buf = counter.buffered();
        let (mut used, mut newlines) = (0, 0);
        spare::with(|pool| {
            while let Some(Plain {
                frame: f,
                len,
                newlines: n,
            }) = plain_frame(&buf[used..])
            {
                used += len;
                newlines += n;
                if p.stack.len() >= MAX_FRAMES {
                    stats.dropped_frames += 1;
                    continue;
                }
                let described = Described {
                    function: f.function,
                    file: f.file,
                    line: f.line,
                    object: f.object,
                };
                pool.push_frame(&mut p.stack, f.ip, &described);
                // A relative file gets its directory in front, in the frame's own string:
                // building the path apart and copying it in cost a copy more per frame.
                if let (Some(dir), Some(file)) = (f.dir, f.file) {
                    let placed = p.stack.last_mut().and_then(|f| f.file.as_mut());
                    if let (false, Some(path)) = (file.starts_with('/'), placed) {
                        let dir = dir.trim_end_matches('/');
                        path.insert(0, '/');
                        path.insert_str(0, dir);
                    }
                }
            }
        });
        counter.consume_counted(used, newlines);
    }

    fn end_frame(&mut self, stats: &mut ParseStats) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        let mut frame = std::mem::take(&mut p.frame);
        if let (Some(mut dir), Some(file)) = (p.dir.take(), &frame.file) {
            if !file.starts_with('/') {
                // In the directory's string: one allocation fewer per frame.
                join_file(&mut dir, file);
                frame.file = Some(dir);
            }
        }
        if p.stack.len() < MAX_FRAMES {
            p.stack.push(frame);
        } else {
            stats.dropped_frames += 1;
        }
    }

    fn end_stack(&mut self) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        let frames = std::mem::take(&mut p.stack);
        if !p.main_stack_done {
            p.rec.stack = frames;
            p.main_stack_done = true;
        } else if let (true, Some(aux)) = (p.aux_open, p.rec.aux.last_mut()) {
            aux.stack = frames;
            p.aux_open = false;
        } else if p.aux_dropped || p.rec.aux.len() >= MAX_AUX {
            p.aux_dropped = false;
            p.dropped_frames += frames.len() as u64;
        } else {
            // A stack with no description of its own (the grammar allows it): keep it, with
            // an empty description, rather than lose it.
            p.rec.aux.push(AuxStack {
                what: String::new(),
                stack: frames,
            });
        }
    }

    fn emit(&mut self, truncated: bool, stats: &mut ParseStats, on_record: &mut dyn FnMut(Event)) {
        let Some(p) = self.pending.take() else { return };
        stats.dropped_aux += p.dropped_aux;
        stats.dropped_frames += p.dropped_frames;
        let mut rec = p.rec;
        if rec.kind.is_empty() {
            rec.kind = header::kind_of(&rec.what).unwrap_or_default().to_string();
        }
        if truncated && rec.kind.is_empty() {
            if rec.what.is_empty() && rec.stack.is_empty() {
                // Too little was read to say anything: passed over, counted.
                stats.unparsed_lines += 1;
                return;
            }
            rec.kind = "Unknown".to_string();
        }
        if let Some(h) = header::parse(&rec.what) {
            rec.bytes = h.bytes;
            rec.direct = h.direct;
            rec.indirect = h.indirect;
            rec.blocks = h.blocks;
            rec.loss_record = h.loss_record;
            rec.loss_records_total = h.loss_records_total;
        }
        // The sentence is the common ground with the text log; the tagged numbers only fill in
        // what it does not say (Valgrind's test filters replace numbers by `...`).
        rec.bytes = rec.bytes.or(p.leaked_bytes);
        rec.blocks = rec.blocks.or(p.leaked_blocks);
        rec.truncated = truncated;
        stats.records += 1;
        if truncated {
            stats.truncated_records += 1;
        }
        on_record(Event::Record(rec));
    }

    /// The input ended (or a new document began): an error still open is emitted as truncated,
    /// with the frames read so far.
    fn finish(&mut self, stats: &mut ParseStats, on_record: &mut dyn FnMut(Event)) {
        let fatal = self.ctx.contains(&Ctx::Fatal);
        if self.pending.is_none() || !(self.ctx.contains(&Ctx::Error) || fatal) {
            self.pending = None;
            return;
        }
        if self.ctx.contains(&Ctx::Frame) {
            let started = self
                .pending
                .as_ref()
                .is_some_and(|p| p.frame != Frame::default());
            if started {
                self.end_frame(stats);
            }
        }
        if self.ctx.contains(&Ctx::Stack) {
            self.end_stack();
        }
        if fatal {
            self.emit_fatal(true, on_record);
            return;
        }
        self.emit(true, stats, on_record);
    }
}

/// Counts the `\n` bytes consumed, so that errors name a line and the summary counts lines,
/// without a second pass over the input.
///
/// quick-xml asks its reader for the buffer about twice per event, a few bytes at a time
/// (millions of calls for a 23 MB log). Going each time through the input's reader (a
/// `Box<dyn BufRead>` over a lazily opened file's `BufReader`) and moving a mark past each
/// newline cost a fifth of all vg-filter did on XML, so the counter keeps its own large
/// buffer, refilled when used up, and counts the newlines of each `consume`d span, which is
/// short and counted without a call.
struct LineCounter<R> {
    inner: R,
    newlines: u64,
    buf: Vec<u8>,
    /// The size `buf` is made with on first use.
    capacity: usize,
    /// Bytes of `buf` consumed, and filled.
    pos: usize,
    len: usize,
    /// A read error that came after bytes were read: returned once they are consumed.
    failed: Option<io::Error>,
}

/// The counter's buffer: large, so the input's reader is called once per this many bytes.
const LINE_COUNTER_BUFFER: usize = 256 << 10;

impl<R> LineCounter<R> {
    fn new(inner: R, capacity: usize) -> Self {
        LineCounter {
            inner,
            newlines: 0,
            buf: Vec::new(),
            capacity: capacity.max(1),
            pos: 0,
            len: 0,
            failed: None,
        }
    }
}

impl<R> LineCounter<R> {
    /// A counter that fills `buf` (kept from another: its size, or
    /// [`LINE_COUNTER_BUFFER`] when empty).
    fn with_buffer(inner: R, buf: Vec<u8>) -> Self {
        let capacity = if buf.is_empty() {
            LINE_COUNTER_BUFFER
        } else {
            buf.len()
        };
        LineCounter {
            buf,
            ..LineCounter::new(inner, capacity)
        }
    }

    /// The buffer, for another counter.
    fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // Through `fill_buf` and `consume`, so that the count stays with the position.
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.len {
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            if self.buf.is_empty() {
                self.buf = vec![0; self.capacity];
            }
            (self.pos, self.len) = (0, 0);
            // Fill it (a pipe hands out less at a time), up to the end of the input.
            while self.len < self.buf.len() {
                let n = match self.inner.read(&mut self.buf[self.len..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // What was read comes first; the error on the next fill.
                    Err(e) if self.len > 0 => {
                        self.failed = Some(e);
                        break;
                    }
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    break;
                }
                self.len += n;
            }
        }
        Ok(&self.buf[self.pos..self.len])
    }

    fn consume(&mut self, amt: usize) {
        let end = self.pos.saturating_add(amt).min(self.len);
        let span = &self.buf[self.pos..end];
        self.newlines += span.iter().filter(|&&b| b == b'\n').count() as u64;
        self.pos = end;
    }
}

impl<R> LineCounter<R> {
    /// The bytes read and not yet consumed; nothing more is read.
    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.len]
    }

    /// Consumes `amt` bytes that the caller has counted the `newlines` of.
    fn consume_counted(&mut self, amt: usize, newlines: u64) {
        self.pos = self.pos.saturating_add(amt).min(self.len);
        self.newlines += newlines;
    }

    /// Whether the last markup consumed may have been an empty element's (`<stack/>`): its
    /// `/>` is still in the buffer, unless the buffer was refilled since (then: maybe).
    fn after_empty_tag(&self) -> bool {
        self.pos < 2 || self.buf.get(self.pos - 2..self.pos) == Some(b"/>")
    }
}

/// A frame's texts as [`State::set_field`] would keep them.
#[derive(Debug, Default, PartialEq)]
struct PlainFrame<'a> {
    ip: Option<&'a str>,
    object: Option<&'a str>,
    function: Option<&'a str>,
    dir: Option<&'a str>,
    file: Option<&'a str>,
    line: Option<u32>,
}

/// A [`PlainFrame`] and where it ends in the buffer.
#[derive(Debug, PartialEq)]
struct Plain<'a> {
    frame: PlainFrame<'a>,
    /// Bytes up to its `</frame>`, and the newlines among them.
    len: usize,
    newlines: u64,
}

/// The frame at the start of `buf` (after blanks) when it is written as Valgrind writes one:
/// `<frame>`, then only `<ip>`, `<obj>`, `<fn>`, `<dir>`, `<file>` and `<line>` elements
/// with UTF-8 text and no markup, entity, or attribute, blanks between them, and
/// `</frame>`. Anything else, or a frame cut by the end of `buf`, is `None`, and left to
/// quick-xml.
fn plain_frame(buf: &[u8]) -> Option<Plain<'_>> {
    const FIELDS: usize = 6;
    /// Where the blanks from `at` end; their newlines are counted.
    fn blank(buf: &[u8], mut at: usize, newlines: &mut u64) -> usize {
        // Valgrind's own indent, a newline and four spaces, in one compare.
        if buf.get(at..at + 5) == Some(b"\n    ") {
            *newlines += 1;
            at += 5;
        }
        while let Some(&b) = buf.get(at) {
            if b == b'\n' {
                *newlines += 1;
            } else if b != b' ' && b != b'\t' && b != b'\r' {
                break;
            }
            at += 1;
        }
        at
    }
    /// A field's end tag as the eight bytes from its `<` hold it: the tag, and which bits
    /// of the eight are the tag's.
    const fn end_tag(tag: &[u8]) -> (u64, u64) {
        let mut word = 0u64;
        let mut i = 0;
        while i < tag.len() {
            word |= (tag[i] as u64) << (8 * i);
            i += 1;
        }
        (word, u64::MAX >> (64 - 8 * tag.len()))
    }
    const END_TAGS: [(u64, u64); FIELDS] = [
        end_tag(b"</ip>"),
        end_tag(b"</obj>"),
        end_tag(b"</fn>"),
        end_tag(b"</dir>"),
        end_tag(b"</file>"),
        end_tag(b"</line>"),
    ];
    let mut newlines = 0;
    let mut at = blank(buf, 0, &mut newlines);
    if !buf[at..].starts_with(b"<frame>") {
        return None;
    }
    at += b"<frame>".len();
    // Where each field's text lies: the last one counts, as in `set_field`.
    let mut texts: [Option<(usize, usize)>; FIELDS] = [None; FIELDS];
    loop {
        at = blank(buf, at, &mut newlines);
        // Literal tags, compared inline: a call to `memcmp` per tag cost more.
        let (field, open) = match &buf[at..] {
            [b'<', b'i', b'p', b'>', ..] => (0, 4),
            [b'<', b'o', b'b', b'j', b'>', ..] => (1, 5),
            [b'<', b'f', b'n', b'>', ..] => (2, 4),
            [b'<', b'd', b'i', b'r', b'>', ..] => (3, 5),
            [b'<', b'f', b'i', b'l', b'e', b'>', ..] => (4, 6),
            [b'<', b'l', b'i', b'n', b'e', b'>', ..] => (5, 6),
            [b'<', b'/', b'f', b'r', b'a', b'm', b'e', b'>', ..] => {
                at += b"</frame>".len();
                break;
            }
            _ => return None,
        };
        let start = at + open;
        // The text runs to the next markup: an entity is quick-xml's, a newline is counted.
        let mut end = start;
        loop {
            end += memchr::memchr3(b'<', b'&', b'\n', &buf[end..])?;
            match buf[end] {
                b'<' => break,
                b'\n' => newlines += 1,
                _ => return None,
            }
            end += 1;
        }
        if end - start > MAX_LINE {
            return None;
        }
        // `</name>`, in one compare of the eight bytes from its `<`: a whole frame still
        // follows it, so eight bytes there are none too many.
        let (tag, mask) = END_TAGS[field];
        let word = u64::from_le_bytes(*buf[end..].first_chunk::<8>()?);
        if word & mask != tag {
            return None;
        }
        texts[field] = Some((start, end));
        at = end + open + 1;
    }
    // One check for the whole frame: the markup around the texts is ASCII.
    let whole = simdutf8::basic::from_utf8(&buf[..at]).ok()?;
    let text = |field: usize| {
        let (start, end) = texts[field]?;
        let text = whole.get(start..end)?;
        // Valgrind writes no blanks around a text: trimmed only when there are some.
        let bare = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x7f);
        let text = if bare(text.as_bytes().first()) && bare(text.as_bytes().last()) {
            text
        } else {
            text.trim()
        };
        (!text.is_empty()).then_some(text)
    };
    Some(Plain {
        frame: PlainFrame {
            ip: text(0),
            object: text(1),
            // `???` is how the text log spells a missing name, as in `set_field`.
            function: text(2).filter(|&f| f != "???"),
            dir: text(3),
            file: text(4),
            line: text(5).and_then(parse_u32),
        },
        len: at,
        newlines,
    })
}

/// `text.parse::<u32>()`, without the generic parser's cost: a frame's line is a few digits.
fn parse_u32(text: &str) -> Option<u32> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0u32, |n, b| {
        let digit = b.checked_sub(b'0').filter(|&d| d < 10)?;
        n.checked_mul(10)?.checked_add(u32::from(digit))
    })
}

/// A frame's `<dir>`, in `dir`, joined to its relative `<file>`: the text log prints one
/// path (whole with --fullpath-after=), the XML splits it.
fn join_file(dir: &mut String, file: &str) {
    dir.truncate(dir.trim_end_matches('/').len());
    dir.push('/');
    dir.push_str(file);
}

fn at_eof<R: BufRead>(reader: &mut R) -> bool {
    reader.fill_buf().map(|b| b.is_empty()).unwrap_or(true)
}

fn is_known(name: &[u8]) -> bool {
    KNOWN.contains(&name)
}

/// Where text between documents stops being blank: whitespace and the UTF-8 byte-order marks
/// that may open each of several concatenated files are blank.
fn first_content(text: &[u8]) -> Option<usize> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let mut i = 0;
    loop {
        let rest = text.get(i..)?;
        if rest.starts_with(BOM) {
            i += BOM.len();
        } else {
            match rest.first() {
                Some(b) if b.is_ascii_whitespace() => i += 1,
                Some(_) => return Some(i),
                None => return None,
            }
        }
    }
}

/// quick-xml takes any bytes up to `>` as a tag; checking the name (ASCII rules, any non-ASCII
/// byte allowed) is what tells binary garbage such as `<<\x00>` from markup.
fn is_xml_name(name: &[u8]) -> bool {
    let Some((&first, rest)) = name.split_first() else {
        return false;
    };
    let start = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80;
    start(first)
        && rest
            .iter()
            .all(|&b| start(b) || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// For a tag name that runs into a new document (`fra<?xml`, `fra<valgrindoutput`), what
/// follows the `<`.
fn cut_by_next_document(name: &[u8]) -> Option<&[u8]> {
    let at = name.iter().position(|&b| b == b'<')?;
    let rest = name.get(at + 1..)?;
    (rest.starts_with(b"?xml") || rest.starts_with(b"valgrindoutput")).then_some(rest)
}

/// A name for an error message: lossy, and short.
fn shown(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// [`non_empty`] for a frame's texts, in a spare string.
fn frame_text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| spare::string(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::{Path, PathBuf};

    /// The repository's real inputs (`tests/data`, see its README).
    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
    }

    fn run_reader<R: BufRead>(reader: R) -> Result<(Vec<Record>, ParseStats), Error> {
        let mut stats = ParseStats::default();
        let mut records = Vec::new();
        parse("test.xml", reader, &mut stats, &mut |e| {
            records.extend(e.into_record())
        })?;
        Ok((records, stats))
    }

    fn run(xml: &str) -> Result<(Vec<Record>, ParseStats), Error> {
        run_reader(xml.as_bytes())
    }

    fn ok(xml: &str) -> (Vec<Record>, ParseStats) {
        run(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    fn frame(addr: &str, function: Option<&str>, file: Option<&str>, line: Option<u32>) -> Frame {
        Frame {
            addr: Some(addr.to_string()),
            function: function.map(str::to_string),
            file: file.map(str::to_string),
            line,
            ..Frame::default()
        }
    }

    /// (ip, fn, file, line) of a test frame; `None` leaves the element out.
    type FrameSpec<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<u32>);

    /// `<stack>` XML for the given frames.
    fn frames_xml(frames: &[FrameSpec]) -> String {
        let mut s = String::from("<stack>\n");
        for (ip, func, file, line) in frames {
            s += &format!("<frame><ip>{ip}</ip>");
            if let Some(f) = func {
                s += &format!("<fn>{f}</fn>");
            }
            if let Some(f) = file {
                s += &format!("<file>{f}</file>");
            }
            if let Some(l) = line {
                s += &format!("<line>{l}</line>");
            }
            s += "</frame>\n";
        }
        s + "</stack>\n"
    }

    const HEAD: &str =
        "<?xml version=\"1.0\"?>\n<valgrindoutput>\n<protocolversion>4</protocolversion>\n\
        <preamble><line>Memcheck, a memory error detector</line></preamble>\n<pid>4242</pid>\n";

    /// `<args>` states the stack limit: `--num-callers` of `<vargv>` (not the client's
    /// `<argv>`), else the default; a log without `<args>` does not say.
    #[test]
    fn args_state_the_stack_limit() {
        let args = |vargv: &str| {
            format!(
                "{HEAD}<args><vargv><exe>/usr/bin/valgrind</exe>{vargv}</vargv>\
                 <argv><exe>python3</exe><arg>--num-callers=99</arg></argv></args>\
                 </valgrindoutput>\n"
            )
        };
        let limit = |xml: &str| ok(xml).1.num_callers;
        assert_eq!(limit(&args("<arg>--num-callers=4</arg>")), Some(4));
        assert_eq!(limit(&args("<arg>--xml=yes</arg>")), Some(12));
        assert_eq!(limit(&format!("{HEAD}</valgrindoutput>\n")), None);
    }

    #[test]
    fn small_cases() {
        struct Case {
            name: &'static str,
            xml: String,
            check: fn(&[Record], &ParseStats),
        }
        let leak = format!(
            "{HEAD}<error><unique>0x1</unique><tid>1</tid><kind>Leak_DefinitelyLost</kind>\n\
             <xwhat><text>168 (48 direct, 120 indirect) bytes in 3 blocks are definitely lost in loss record 5 of 9</text>\
             <leakedbytes>168</leakedbytes><leakedblocks>3</leakedblocks></xwhat>\n{}\
             <suppression><sname>x</sname><skind>Memcheck:Leak</skind><sframe><fun>malloc</fun></sframe>\
             <rawtext><![CDATA[{{ x }}]]></rawtext></suppression>\n</error>\n\
             <error><unique>0x2</unique><tid>1</tid><kind>Leak_StillReachable</kind>\n\
             <xwhat><text>... bytes in ... blocks are still reachable in loss record ... of ...</text>\
             <leakedbytes>16</leakedbytes><leakedblocks>2</leakedblocks></xwhat>\n{}</error>\n\
             <status><state>FINISHED</state><time>00:00:01</time></status>\n</valgrindoutput>\n",
            frames_xml(&[
                ("0x483B7F3", Some("malloc"), Some("vg_replace_malloc.c"), Some(307)),
                ("0x53C826E", Some("leak"), Some("leaky.c"), Some(9)),
            ]),
            frames_xml(&[("0x1", Some("calloc"), None, None)]),
        );
        let invalid_read = format!(
            "{HEAD}<error><unique>0x0</unique><tid>3</tid><threadname>worker</threadname>\
             <kind>InvalidRead</kind>\n<what>Invalid read of size 1</what>\n{}\
             <auxwhat>Address 0x55adf18 is 0 bytes after a block of size 8 alloc'd</auxwhat>\n{}</error></valgrindoutput>",
            frames_xml(&[
                ("0x53C82B4", Some("badread"), Some("leaky.c"), Some(20)),
                ("0x4F61C6", None, None, None),
            ]),
            frames_xml(&[("0x48417B4", Some("malloc"), None, None)]),
        );
        let cases = [
            Case {
                name: "leak with xwhat and leakedbytes",
                xml: leak,
                check: |recs, stats| {
                    assert_eq!(recs.len(), 2);
                    let r = &recs[0];
                    assert_eq!(r.kind, "Leak_DefinitelyLost");
                    assert_eq!((r.pid, r.tid), (Some(4242), Some(1)));
                    assert_eq!(
                        r.what,
                        "168 (48 direct, 120 indirect) bytes in 3 blocks are definitely lost in loss record 5 of 9"
                    );
                    assert_eq!(
                        (r.bytes, r.direct, r.indirect, r.blocks, r.loss_record, r.loss_records_total),
                        (Some(168), Some(48), Some(120), Some(3), Some(5), Some(9))
                    );
                    assert_eq!(
                        r.stack,
                        [
                            frame("0x483B7F3", Some("malloc"), Some("vg_replace_malloc.c"), Some(307)),
                            frame("0x53C826E", Some("leak"), Some("leaky.c"), Some(9)),
                        ]
                    );
                    assert!(r.aux.is_empty() && !r.truncated);
                    // Filtered numbers: the tagged ones fill in.
                    let r = &recs[1];
                    assert_eq!(r.kind, "Leak_StillReachable");
                    assert_eq!((r.bytes, r.blocks, r.loss_record), (Some(16), Some(2), None));
                    assert_eq!(stats.unknown_elements, 0);
                    assert_eq!(stats.records, 2);
                },
            },
            Case {
                name: "InvalidRead with auxwhat and its stack",
                xml: invalid_read,
                check: |recs, stats| {
                    assert_eq!(recs.len(), 1);
                    let r = &recs[0];
                    assert_eq!((r.kind.as_str(), r.tid), ("InvalidRead", Some(3)));
                    assert_eq!(r.what, "Invalid read of size 1");
                    assert_eq!(r.bytes, None);
                    assert_eq!(
                        r.stack,
                        [
                            frame("0x53C82B4", Some("badread"), Some("leaky.c"), Some(20)),
                            frame("0x4F61C6", None, None, None),
                        ]
                    );
                    assert_eq!(
                        r.aux,
                        [AuxStack {
                            what: "Address 0x55adf18 is 0 bytes after a block of size 8 alloc'd".into(),
                            stack: vec![frame("0x48417B4", Some("malloc"), None, None)],
                        }]
                    );
                    assert_eq!(stats.unknown_elements, 0);
                },
            },
            Case {
                name: "entities in names, CDATA, invalid UTF-8 kept lossy",
                xml: format!(
                    "{HEAD}<error><kind>InvalidFree</kind>\
                     <what>Invalid free() / delete / delete[] / realloc()</what><stack>\
                     <frame><ip>0x1</ip><fn>std::vector&lt;int, std::allocator&lt;int&gt; &gt;::push_back(int const&amp;)</fn>\
                     <dir>/src/a&amp;b</dir><file>v&#x41;.cpp</file><line>7</line></frame>\
                     <frame><ip>0x2</ip><fn>caf\u{e9} <![CDATA[<raw & cdata>]]></fn><file>bad\u{fffd}</file></frame>\
                     <frame><ip>0x3</ip><fn>x &bogus; &amp; y</fn></frame>\
                     </stack></error></valgrindoutput>"
                ),
                check: |recs, _| {
                    let s = &recs[0].stack;
                    assert_eq!(
                        s[0].function.as_deref(),
                        Some("std::vector<int, std::allocator<int> >::push_back(int const&)")
                    );
                    assert_eq!(s[0].file.as_deref(), Some("/src/a&b/vA.cpp"));
                    assert_eq!(s[1].function.as_deref(), Some("caf\u{e9} <raw & cdata>"));
                    // An unknown entity keeps the text as written rather than failing.
                    assert_eq!(s[2].function.as_deref(), Some("x &bogus; &amp; y"));
                },
            },
            Case {
                name: "unknown elements skipped and counted, protocol ones not",
                xml: format!(
                    "{HEAD}<usercomment><anything><goes/></anything></usercomment>\
                     <args><vargv><exe>valgrind</exe><arg>--xml=yes</arg></vargv></args>\
                     <newthing a=\"1\"><deeper/></newthing>\n\
                     <error><unique>0x1</unique><tid>1</tid><kind>FdBadClose</kind><fd>3</fd><path>/tmp/x</path>\
                     <what>File descriptor 3: /tmp/x is already closed</what><extra>z</extra><stack><frame>\
                     <ip>0x1</ip><fn>close</fn><newframefield>q</newframefield></frame></stack></error>\n\
                     <errorcounts><pair><count>1</count><unique>0x1</unique></pair></errorcounts>\
                     <error_summary><errors>1</errors></error_summary><all_heap_blocks_freed>true</all_heap_blocks_freed>\
                     </valgrindoutput>"
                ),
                check: |recs, stats| {
                    assert_eq!(stats.unknown_elements, 4, "newthing, deeper, extra, newframefield");
                    assert_eq!(recs.len(), 1);
                    assert_eq!(recs[0].kind, "FdBadClose");
                    assert_eq!(recs[0].stack, [frame("0x1", Some("close"), None, None)]);
                },
            },
            Case {
                name: "input cut inside an error",
                xml: format!(
                    "{HEAD}<error><kind>Leak_PossiblyLost</kind><xwhat><text>8 bytes in 1 blocks are \
                     possibly lost in loss record 1 of 2</text></xwhat><stack><frame><ip>0x1</ip><fn>malloc</fn></frame>\
                     <frame><ip>0x2</ip><fn>mai"
                ),
                check: |recs, stats| {
                    assert_eq!(recs.len(), 1);
                    let r = &recs[0];
                    assert!(r.truncated);
                    assert_eq!((r.bytes, r.loss_records_total), (Some(8), Some(2)));
                    assert_eq!(r.stack, [frame("0x1", Some("malloc"), None, None), frame("0x2", None, None, None)]);
                    assert_eq!((stats.records, stats.truncated_records), (1, 1));
                },
            },
            Case {
                name: "input cut inside a tag",
                xml: format!("{HEAD}<error><kind>InvalidRead</kind><what>Invalid read of size 4</what><st"),
                check: |recs, stats| {
                    assert_eq!(recs.len(), 1);
                    assert!(recs[0].truncated && recs[0].stack.is_empty());
                    assert_eq!(stats.truncated_records, 1);
                },
            },
            Case {
                name: "input cut before the kind, and between errors",
                xml: format!(
                    "{HEAD}<error><kind>UninitValue</kind><what>Use of uninitialised value of size 8</what></error>\n\
                     <error><unique>0x1</unique><tid>1</tid>"
                ),
                check: |recs, stats| {
                    assert_eq!(recs.len(), 1);
                    assert!(!recs[0].truncated);
                    assert_eq!((stats.records, stats.truncated_records), (1, 0));
                },
            },
            Case {
                name: "concatenated documents keep their own pids",
                xml: format!(
                    "{HEAD}<error><kind>InvalidRead</kind><what>Invalid read of size 1</what></error>\n\
                     </valgrindoutput>\n\u{feff}<?xml version=\"1.0\"?>\n<valgrindoutput>\n<pid>77</pid>\n\
                     <error><kind>InvalidWrite</kind><what>Invalid write of size 2</what></error>\n</valgrindoutput>\n\
                     <?xml version=\"1.0\"?>\n<valgrindoutput>\n<pid>...</pid>\n\
                     <error><kind>UninitCondition</kind><what>Conditional jump or move depends on uninitialised value(s)</what></error>\n\
                     </valgrindoutput>\n"
                ),
                check: |recs, _| {
                    let got: Vec<_> = recs.iter().map(|r| (r.kind.as_str(), r.pid)).collect();
                    assert_eq!(
                        got,
                        [("InvalidRead", Some(4242)), ("InvalidWrite", Some(77)), ("UninitCondition", None)]
                    );
                },
            },
            Case {
                name: "a document cut short, then the next one",
                xml: format!(
                    "{HEAD}<error><kind>InvalidRead</kind><what>Invalid read of size 1</what><stack><frame><ip>0x1</ip><f\
                     <?xml version=\"1.0\"?>\n<valgrindoutput>\n<pid>78</pid>\n\
                     <error><kind>InvalidWrite</kind><what>Invalid write of size 2</what>{}</error>\n</valgrindoutput>\n",
                    frames_xml(&[("0x9", Some("main"), Some("m.c"), Some(3))])
                ),
                check: |recs, stats| {
                    assert_eq!(recs.len(), 2);
                    assert!(recs[0].truncated && recs[0].pid == Some(4242));
                    assert_eq!(recs[0].stack, [frame("0x1", None, None, None)]);
                    assert!(!recs[1].truncated && recs[1].pid == Some(78));
                    assert_eq!(recs[1].stack, [frame("0x9", Some("main"), Some("m.c"), Some(3))]);
                    assert_eq!(stats.truncated_records, 1);
                },
            },
            Case {
                name: "documents cut inside a tag, then the next ones",
                xml: format!(
                    "{HEAD}<error><kind>InvalidRead</kind><what>Invalid read of size 1</what><stack><frame><ip>0x1</ip></fr\
                     <?xml version=\"1.0\"?>\n<valgrindoutput>\n<pid>79</pid>\n\
                     <error><kind>InvalidWrite</kind><what>Invalid write of size 2</what><st\
                     <valgrindoutput>\n<pid>80</pid>\n\
                     <error><kind>UninitValue</kind><what>Use of uninitialised value of size 8</what>{}</error>\n\
                     </valgrindoutput>\n"
                    ,
                    frames_xml(&[("0x9", Some("main"), Some("m.c"), Some(3))])
                ),
                check: |recs, stats| {
                    let got: Vec<_> = recs.iter().map(|r| (r.kind.as_str(), r.pid, r.truncated, r.stack.len())).collect();
                    assert_eq!(
                        got,
                        [("InvalidRead", Some(4242), true, 1), ("InvalidWrite", Some(79), true, 0), ("UninitValue", Some(80), false, 1)]
                    );
                    assert_eq!((stats.truncated_records, stats.unknown_elements), (2, 0));
                },
            },
            Case {
                name: "second what line, xauxwhat, stack without aux, filtered values",
                xml: format!(
                    "{HEAD}<error><tid>...</tid><kind>SyscallParam</kind>\
                     <what>Syscall param write(buf) points to uninitialised byte(s)</what>\
                     <what>second line</what>{}\
                     <xauxwhat><text>Address 0x........ is on thread 1's stack</text><file>a.c</file><line>3</line></xauxwhat>\
                     <auxwhat>Uninitialised value was created by a heap allocation</auxwhat>{}{}</error>",
                    frames_xml(&[("0x........", Some("write"), Some("..."), None)]),
                    frames_xml(&[("0x5", Some("malloc"), None, None)]),
                    frames_xml(&[("0x6", Some("free"), None, None)]),
                )
                .replace("<file>...</file>", "<file>...</file><line>...</line>"),
                check: |recs, stats| {
                    let r = &recs[0];
                    assert_eq!(r.tid, None);
                    assert_eq!(r.pid, Some(4242));
                    assert_eq!(r.stack, [frame("0x........", Some("write"), Some("..."), None)]);
                    let aux: Vec<_> = r.aux.iter().map(|a| (a.what.as_str(), a.stack.len())).collect();
                    assert_eq!(
                        aux,
                        [
                            ("second line", 0),
                            ("Address 0x........ is on thread 1's stack", 0),
                            ("Uninitialised value was created by a heap allocation", 1),
                            ("", 1),
                        ]
                    );
                    assert_eq!(stats.unknown_elements, 0);
                },
            },
            Case {
                name: "empty input",
                xml: String::new(),
                check: |recs, stats| {
                    assert!(recs.is_empty());
                    assert_eq!(*stats, ParseStats::default());
                },
            },
            Case {
                name: "blank input and a document without errors",
                xml: format!("\n \n{HEAD}</valgrindoutput>"),
                check: |recs, stats| {
                    assert!(recs.is_empty());
                    assert_eq!((stats.lines, stats.records), (7, 0));
                },
            },
        ];
        for case in &cases {
            let (recs, stats) = run(&case.xml).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert_eq!(stats.records, recs.len() as u64, "{}", case.name);
            assert_eq!(
                stats.lines,
                case.xml.matches('\n').count() as u64,
                "{}",
                case.name
            );
            (case.check)(&recs, &stats);
        }
    }

    /// What surrounds a pasted log (a fence, a line of prose) and end tags whose start an
    /// excerpt cut off are passed over and counted, not fatal.
    #[test]
    fn text_around_a_paste_and_stray_end_tags_are_counted() {
        for (xml, unparsed) in [
            ("</error>", 1),
            ("<valgrindoutput></valgrindoutput>\n\n  garbage\n", 1),
            (
                "```xml\n<valgrindoutput></valgrindoutput>\n```\nmore text\n",
                3,
            ),
        ] {
            let (recs, stats) = ok(xml);
            assert!(recs.is_empty(), "{xml:?}");
            assert_eq!(stats.unparsed_lines, unparsed, "{xml:?}");
        }
    }

    #[test]
    fn a_read_error_after_some_bytes_is_not_lost() {
        /// Gives its bytes, then fails.
        struct Failing(&'static [u8]);
        impl Read for Failing {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::other("disk gone"));
                }
                let n = self.0.len().min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let xml = b"<valgrindoutput>\n<pid>1</pid>\n";
        let err = run_reader(io::BufReader::new(Failing(xml))).unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
    }

    #[test]
    fn malformed_input_is_an_error_with_its_line() {
        let cases: &[(&str, u64, &str)] = &[
            (
                "<valgrindoutput>\n<error>\n</stack>\n</valgrindoutput>",
                3,
                "stack",
            ),
            (
                "<valgrindoutput>\n<pid>1</pid>\n<<<>>>\n",
                3,
                "invalid element name",
            ),
            ("<a>\n\n< b>", 3, "invalid element name"),
            (
                "<valgrindoutput>\n<\u{0}\u{1}\u{2}>",
                2,
                "invalid element name",
            ),
            (
                "<valgrindoutput>\n  <!x>\n</valgrindoutput>",
                2,
                "malformed",
            ),
            (
                "\n<valgrindoutput>\n<error>\n<kind>InvalidRead</kind>\n</kind>\n",
                5,
                "kind",
            ),
        ];
        for &(xml, line, needle) in cases {
            match run(xml) {
                Ok((recs, _)) => panic!("{xml:?} parsed to {recs:?}"),
                Err(e) => {
                    assert_eq!(e.line, Some(line), "{xml:?}: {e}");
                    assert_eq!(e.input, "test.xml");
                    assert!(e.message.contains(needle), "{xml:?}: {e}");
                }
            }
        }
        // Records read before the bad spot are kept.
        let mut recs = Vec::new();
        let mut stats = ParseStats::default();
        let xml = format!("{HEAD}<error><kind>InvalidRead</kind></error>\n<oops></valgrindoutput>");
        assert!(parse("t", xml.as_bytes(), &mut stats, &mut |r| recs.push(r)).is_err());
        assert_eq!((recs.len(), stats.lines), (1, 6));
    }

    #[test]
    fn never_panics_on_cut_or_mangled_input() {
        let xml = fs::read_to_string(corpus().join("valgrind/memcheck/tests/xml1.stderr.exp"))
            .expect("xml1.stderr.exp");
        let bytes = xml.as_bytes();
        // Every prefix of a real output is either fine or (never) an error, but never a panic.
        for cut in (0..bytes.len()).step_by(7) {
            let prefix = bytes.get(..cut).unwrap_or_default();
            let (recs, stats) = run_reader(prefix).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            assert_eq!(stats.records, recs.len() as u64);
        }
        // Bytes flipped here and there: errors are allowed, panics are not.
        for (i, step) in [(0usize, 97usize), (13, 211), (5, 53)] {
            let mut mangled = bytes.to_vec();
            for b in mangled.iter_mut().skip(i).step_by(step) {
                *b = b.wrapping_add(0x5b);
            }
            let _ = run_reader(mangled.as_slice());
        }
    }

    #[test]
    fn fatal_signals_and_error_counts_are_events() {
        let xml = format!(
            "```xml\n{HEAD}<error><unique>0x3</unique><tid>1</tid><kind>InvalidRead</kind>\
             <what>Invalid read of size 4</what><stack><frame><ip>0x1</ip><fn>crash</fn></frame>\
             </stack></error>\n\
             <fatal_signal><tid>1</tid><signo>11</signo><signame>SIGSEGV</signame><sicode>1</sicode>\
             <event>Access not within mapped region</event><siaddr>0x0</siaddr>\
             <stack><frame><ip>0x1</ip><fn>crash</fn></frame><frame><ip>0x2</ip><fn>main</fn></frame></stack>\
             </fatal_signal>\n\
             <errorcounts><pair><count>7</count><unique>0x3</unique></pair></errorcounts>\n\
             </valgrindoutput>\n```\n"
        );
        let mut events = Vec::new();
        let mut stats = ParseStats::default();
        parse("t.xml", xml.as_bytes(), &mut stats, &mut |e| events.push(e)).unwrap();
        assert_eq!(events.len(), 3, "{events:#?}");
        let Event::Record(r) = &events[0] else {
            panic!("{:?}", events[0])
        };
        assert_eq!(r.unique.as_deref(), Some("0x3"));
        let Event::FatalSignal(f) = &events[1] else {
            panic!("{:?}", events[1])
        };
        assert_eq!(
            (f.pid, f.tid, f.signo, f.signal.as_deref()),
            (Some(4242), Some(1), Some(11), Some("SIGSEGV"))
        );
        assert_eq!(
            f.what,
            "Process terminating with default action of signal 11 (SIGSEGV)"
        );
        assert_eq!(
            f.details,
            ["Access not within mapped region at address 0x0"]
        );
        assert_eq!(f.stack.len(), 2);
        assert_eq!(
            events[2],
            Event::ErrorCount {
                pid: Some(4242),
                unique: "0x3".into(),
                count: 7
            }
        );
        assert_eq!(stats.unparsed_lines, 2, "the fences");
        assert_eq!(
            crate::memcheck::detect(xml.as_bytes()),
            crate::memcheck::Format::Xml
        );
    }

    #[test]
    fn a_document_cut_anywhere_does_not_spoil_the_next() {
        let first =
            fs::read(corpus().join("valgrind/memcheck/tests/xml1.stderr.exp")).expect("xml1");
        let next = format!(
            "<?xml version=\"1.0\"?>\n<valgrindoutput>\n<pid>99</pid>\n\
             <error><kind>InvalidRead</kind><what>Invalid read of size 1</what>{0}</error>\n\
             <error><kind>InvalidWrite</kind><what>Invalid write of size 1</what>{0}</error>\n</valgrindoutput>\n",
            frames_xml(&[("0x9", Some("main"), Some("m.c"), Some(3))])
        );
        for cut in 0..first.len() {
            let mut stream = first.get(..cut).unwrap_or_default().to_vec();
            stream.extend_from_slice(next.as_bytes());
            let (recs, stats) =
                run_reader(stream.as_slice()).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            let tail: Vec<_> = recs
                .iter()
                .filter(|r| r.pid == Some(99))
                .map(|r| (r.kind.as_str(), r.truncated))
                .collect();
            assert_eq!(
                tail,
                [("InvalidRead", false), ("InvalidWrite", false)],
                "cut at {cut}"
            );
            assert!(stats.truncated_records <= 1, "cut at {cut}");
            assert_eq!(stats.unknown_elements, 0, "cut at {cut}");
        }
    }

    #[test]
    fn deep_stacks_are_cut_and_deep_nesting_refused() {
        let frames: Vec<String> = (0..MAX_FRAMES + 5).map(|i| format!("0x{i:X}")).collect();
        let list: Vec<_> = frames
            .iter()
            .map(|ip| (ip.as_str(), Some("f"), None, None))
            .collect();
        let xml = format!(
            "{HEAD}<error><kind>InvalidRead</kind>{}</error></valgrindoutput>",
            frames_xml(&list)
        );
        let (recs, stats) = ok(&xml);
        assert_eq!(recs[0].stack.len(), MAX_FRAMES);
        assert_eq!(
            recs[0].stack.last().and_then(|f| f.addr.as_deref()),
            Some("0x1F3")
        );
        assert_eq!(stats.dropped_frames, 5);

        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let e = run(&deep).expect_err("nesting");
        assert!(e.message.contains("nested"), "{e}");
    }

    /// Found by the `memcheck_xml` fuzz target: quick-xml quotes the mismatched end tag,
    /// newline and all, so the error was two lines.
    #[test]
    fn an_error_quoting_a_newline_is_one_line() {
        let e = run("<valgrindoutput><error><tid>1</tid\ne></error></valgrindoutput>")
            .expect_err("mismatched end tag");
        let shown = e.to_string();
        assert!(shown.starts_with("test.xml:1: malformed XML"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
    }

    #[test]
    fn reads_through_a_tiny_buffer() {
        // Line counts and records must not depend on where the reader's buffer boundaries fall.
        let path = corpus().join("valgrind/memcheck/tests/xml1.stderr.exp");
        let whole = ok(&fs::read_to_string(&path).expect("xml1"));
        let file = fs::File::open(&path).expect("xml1");
        let tiny = run_reader(io::BufReader::with_capacity(3, file)).expect("xml1 via tiny buffer");
        assert_eq!(whole, tiny);
    }

    /// Parses a corpus file (gzip-compressed ones streamed through the decoder) and checks it
    /// against an independent count of its `<error>` tags and lines.
    fn check_corpus_file(path: &Path) -> (Vec<Record>, ParseStats) {
        use std::io::Read as _;
        let gz = path.extension().is_some_and(|e| e == "gz");
        let open = || fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (recs, stats) = if gz {
            let decoder = flate2::read::GzDecoder::new(io::BufReader::new(open()));
            run_reader(io::BufReader::new(decoder))
        } else {
            run_reader(io::BufReader::new(open()))
        }
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut raw = Vec::new();
        if gz {
            flate2::read::GzDecoder::new(open())
                .read_to_end(&mut raw)
                .expect("gunzip");
        } else {
            open().read_to_end(&mut raw).expect("read");
        }
        let text = String::from_utf8_lossy(&raw);
        let name = path.display();
        assert_eq!(
            recs.len(),
            text.matches("<error>").count(),
            "{name}: records"
        );
        // Which errors carry a stack, told from the raw text: Valgrind's test filters remove
        // some (the `exit(status)` error of xml1), so no kind-based rule would do.
        let has_stack: Vec<bool> = text
            .split("<error>")
            .skip(1)
            .map(|e| {
                e.split("</error>")
                    .next()
                    .unwrap_or_default()
                    .contains("<stack>")
            })
            .collect();
        assert_eq!(stats.records, recs.len() as u64, "{name}");
        assert_eq!(
            stats.lines,
            text.matches('\n').count() as u64,
            "{name}: lines"
        );
        assert_eq!(
            stats.unknown_elements, 0,
            "{name}: every element is in the protocol"
        );
        assert_eq!(stats.truncated_records, 0, "{name}");
        assert_eq!(stats.dropped_frames, 0, "{name}");
        for (r, has_stack) in recs.iter().zip(has_stack) {
            assert!(!r.kind.is_empty(), "{name}: record without kind: {r:?}");
            assert!(!r.what.is_empty(), "{name}: record without what: {r:?}");
            assert_eq!(!r.stack.is_empty(), has_stack, "{name}: stack of {r:?}");
            assert!(
                r.stack.iter().all(|f| f.addr.is_some()),
                "{name}: frame without ip"
            );
            if r.is_leak() {
                assert!(
                    r.bytes.is_some() && r.blocks.is_some(),
                    "{name}: leak without sizes: {r:?}"
                );
            }
        }
        (recs, stats)
    }

    fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                files_under(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    #[test]
    fn valgrind_expected_outputs() {
        let mut files = Vec::new();
        files_under(&corpus().join("valgrind/memcheck/tests"), &mut files);
        files.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".stderr.exp"))
                && fs::read(p)
                    .is_ok_and(|b| String::from_utf8_lossy(&b).contains("<valgrindoutput>"))
        });
        files.sort();
        assert!(
            files.len() >= 20,
            "expected the 20 XML outputs, found {}",
            files.len()
        );
        let mut total = 0;
        for path in &files {
            let (recs, _) = check_corpus_file(path);
            // Valgrind's filter replaces the pid by `...`.
            assert!(recs.iter().all(|r| r.pid.is_none()), "{}", path.display());
            total += recs.len();
        }
        assert_eq!(total, 67);

        let (recs, _) = check_corpus_file(
            &corpus().join("valgrind/memcheck/tests/long_namespace_xml.stderr.exp"),
        );
        let func = recs[0].stack[0].function.as_deref().unwrap_or_default();
        assert!(func.starts_with("_ZN5304abcdefghijklmnopqrstuvwxyz") && func.len() > 10_000);
    }

    /// Every event and count of `xml`, and its error, read through a counter of `buffer` bytes.
    fn events_with_buffer(xml: &[u8], buffer: usize) -> (Vec<Event>, ParseStats, Option<String>) {
        let mut stats = ParseStats::default();
        let mut events = Vec::new();
        let result =
            parse_with_buffer("test.xml", xml, buffer, &mut stats, &mut |e| events.push(e));
        (events, stats, result.err().map(|e| e.to_string()))
    }

    #[test]
    fn plain_frame_reads_valgrinds_frames_and_leaves_the_rest_to_quick_xml() {
        // As Memcheck writes one (py311-leaky-malloc-all.xml), with the blanks before it.
        let real = b"\n    <frame>\n      <ip>0x53C826E</ip>\n      \
            <obj>/opt/example/gen/leaky.cpython-311-x86_64-linux-gnu.so</obj>\n      \
            <fn>uninit</fn>\n      <dir>/opt/example/gen</dir>\n      \
            <file>leaky.c</file>\n      <line>14</line>\n    </frame>\n    <frame>";
        let plain = plain_frame(real).expect("a real frame is plain");
        assert!(real[..plain.len].ends_with(b"</frame>"));
        assert_eq!(plain.newlines, 8);
        assert_eq!(
            plain.frame,
            PlainFrame {
                ip: Some("0x53C826E"),
                object: Some("/opt/example/gen/leaky.cpython-311-x86_64-linux-gnu.so"),
                function: Some("uninit"),
                dir: Some("/opt/example/gen"),
                file: Some("leaky.c"),
                line: Some(14),
            }
        );
        // Valgrind's test filters' spellings, and empty or odd texts, as `set_field` keeps them.
        let plain = plain_frame(
            b"<frame><ip>0x........</ip><fn>???</fn><line>...</line><obj></obj></frame>",
        )
        .expect("plain");
        assert_eq!(
            plain.frame,
            PlainFrame {
                ip: Some("0x........"),
                ..PlainFrame::default()
            }
        );
        // The last of a repeated field counts, as in `set_field`.
        let plain = plain_frame(b"<frame><fn>a</fn><fn> b\n</fn></frame>").expect("plain");
        assert_eq!((plain.frame.function, plain.newlines), (Some("b"), 1));
        for not_plain in [
            &b"<frame><ip>0x1</ip>"[..],              // cut by the buffer's end
            b"<frame><ip>0x1</ip></fram",             // the same, in the end tag
            b"<frame><fn>a&amp;b</fn></frame>",       // an entity
            b"<frame><fn><![CDATA[a]]></fn></frame>", // CDATA
            b"<frame><fn a=\"1\">a</fn></frame>",     // an attribute
            b"<frame><fn>a</fn ></frame>",            // a blank in an end tag
            b"<frame><fn>a</ip></frame>",             // mismatched
            b"<frame><args>a</args></frame>",         // not a frame's element
            b"<frame><fn>a</fn>x</frame>",            // text between elements
            b"<frame><fn>\xff</fn></frame>",          // not UTF-8
            b"<frame><!-- c --></frame>",             // a comment
            b"<frame/>",                              // empty
            b"<frames></frames>",
            b"x<frame></frame>",
        ] {
            assert_eq!(
                plain_frame(not_plain),
                None,
                "{}",
                String::from_utf8_lossy(not_plain)
            );
        }
    }

    #[test]
    fn line_numbers_parse_as_str_parse_does() {
        for text in [
            "0",
            "14",
            "+7",
            "007",
            "4294967295",
            "4294967296",
            "99999999999",
            "",
            "+",
            "-1",
            "-0",
            "1 ",
            " 1",
            "1a",
            "١",
            "++1",
            "...",
        ] {
            assert_eq!(parse_u32(text), text.parse::<u32>().ok(), "{text:?}");
        }
    }

    #[test]
    fn frames_read_plain_come_out_as_quick_xml_reads_them() {
        // A buffer smaller than any frame reads none plain; odd sizes cut frames at refills.
        let mut files = Vec::new();
        files_under(&corpus().join("valgrind/memcheck/tests"), &mut files);
        files_under(&corpus().join("xml-peers"), &mut files);
        files_under(&corpus().join("memcheck-logs"), &mut files);
        let mut xmls = 0;
        for path in files {
            let name = path.to_string_lossy();
            let xml = if name.ends_with(".xml.gz") {
                let mut raw = Vec::new();
                let mut decoder = flate2::read::GzDecoder::new(fs::File::open(&path).expect("gz"));
                io::Read::read_to_end(&mut decoder, &mut raw).expect("gunzip");
                raw
            } else {
                fs::read(&path).expect("read")
            };
            if !String::from_utf8_lossy(&xml).contains("<frame>") {
                continue;
            }
            xmls += 1;
            let quick_xml_only = events_with_buffer(&xml, 16);
            assert_eq!(quick_xml_only.2, None, "{name}");
            for buffer in [97, 4099, LINE_COUNTER_BUFFER] {
                assert!(
                    events_with_buffer(&xml, buffer) == quick_xml_only,
                    "{name} through a buffer of {buffer}"
                );
            }
            // Mangled as the fuzzer would: a frame cut in two by a document's end.
            let cut = xml.len() / 3;
            let mut twice = xml[..cut].to_vec();
            twice.extend_from_slice(&xml);
            assert!(
                events_with_buffer(&twice, LINE_COUNTER_BUFFER) == events_with_buffer(&twice, 16),
                "{name} cut at {cut}"
            );
        }
        assert!(xmls >= 20, "{xmls} XML files with frames");

        // What the real logs do not show: how a directory joins its file, names and lines
        // that are not, repeats, blanks, frames beyond the stack limit, and frames that are
        // not plain among plain ones.
        let frames = [
            "<frame><ip>0x1</ip><dir>/src/</dir><file>a.c</file><line>1</line></frame>",
            "<frame><dir>/src</dir><file>/abs/b.c</file></frame>",
            "<frame><dir>/src</dir></frame>",
            "<frame><file>c.c</file><line>x</line><line></line></frame>",
            "<frame>\r\n\t<fn>???</fn><fn> f </fn><obj>\u{a0}o\u{a0}</obj></frame>",
            "<frame><fn>???</fn></frame>",
            "<frame><fn>a&amp;b</fn></frame>",
            "<frame><fn>x</fn><usercomment/></frame>",
            "<frame/>",
            "<frame></frame>",
        ];
        let stack = frames.repeat(60).concat();
        let xml = format!(
            "<valgrindoutput><pid>1</pid><error><unique>0x1</unique><kind>Leak_DefinitelyLost\
             </kind><what>8 bytes in 1 blocks are definitely lost</what><stack>{stack}</stack>\
             <auxwhat>aux</auxwhat><stack>{stack}</stack></error><error><kind>InvalidRead\
             </kind><stack/>{stack}</error><error><kind>InvalidRead</kind><stack>{stack}"
        );
        let quick_xml_only = events_with_buffer(xml.as_bytes(), 16);
        assert!(quick_xml_only.1.dropped_frames > 0);
        for buffer in [97, 4099, LINE_COUNTER_BUFFER] {
            assert!(
                events_with_buffer(xml.as_bytes(), buffer) == quick_xml_only,
                "made-up frames through a buffer of {buffer}"
            );
        }

        // A real log mangled at random: markup characters, blanks, bytes that are not UTF-8,
        // dropped runs. Errors must be the same errors, on the same lines.
        let real = fs::read(corpus().join("valgrind/memcheck/tests/xml1.stderr.exp"))
            .expect("xml1.stderr.exp");
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut random = |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        let mut errors = 0;
        for round in 0..400 {
            let mut mangled = real.clone();
            for _ in 0..1 + random(4) {
                let at = random(mangled.len());
                match random(3) {
                    0 => mangled[at] = b"<>&/\n \xff\"x"[random(9)],
                    1 => {
                        let end = (at + random(40)).min(mangled.len());
                        mangled.drain(at..end);
                    }
                    _ => mangled.insert(at, b"<>&/\n"[random(5)]),
                }
            }
            let quick_xml_only = events_with_buffer(&mangled, 16);
            errors += usize::from(quick_xml_only.2.is_some());
            assert!(
                events_with_buffer(&mangled, LINE_COUNTER_BUFFER) == quick_xml_only,
                "mangled round {round}: {}",
                String::from_utf8_lossy(&mangled)
            );
        }
        assert!(
            errors > 0 && errors < 400,
            "{errors} of 400 mangled logs were errors"
        );
    }

    #[test]
    fn cargo_valgrind_fixtures() {
        let dir = corpus().join("xml-peers/cargo-valgrind");
        let mut counts = Vec::new();
        for name in ["version4.xml", "version6.xml", "version6-2.xml"] {
            let (recs, _) = check_corpus_file(&dir.join(name));
            counts.push(recs.len());
        }
        assert_eq!(counts, [8, 0, 0]);
    }

    #[test]
    fn memcheck_logs() {
        let dir = corpus().join("memcheck-logs");
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .expect("memcheck-logs")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.to_string_lossy().ends_with(".xml.gz"))
            .collect();
        files.sort();
        assert_eq!(files.len(), 2);
        for path in &files {
            check_corpus_file(path);
        }

        let (recs, _) = check_corpus_file(&dir.join("py311-leaky-malloc-all.xml.gz"));
        assert_eq!(recs.len(), 959);
        assert!(recs.iter().all(|r| r.pid == Some(21481)));
        let first = &recs[0];
        assert_eq!(first.kind, "UninitCondition");
        assert_eq!(
            first.what,
            "Conditional jump or move depends on uninitialised value(s)"
        );
        assert_eq!(first.tid, Some(1));
        let top = &first.stack[0];
        assert_eq!(top.addr.as_deref(), Some("0x53C826E"));
        assert_eq!(top.function.as_deref(), Some("uninit"));
        // <dir> joined to <file>.
        assert_eq!(top.file.as_deref(), Some("/opt/example/gen/leaky.c"));
        assert_eq!(top.line, Some(14));
        assert_eq!(
            top.object.as_deref(),
            Some("/opt/example/gen/leaky.cpython-311-x86_64-linux-gnu.so")
        );
        assert_eq!(recs.iter().filter(|r| r.is_leak()).count(), 957);
        let bad = recs
            .iter()
            .find(|r| r.kind == "InvalidRead")
            .expect("the badread error");
        assert_eq!(bad.aux.len(), 1);
        assert_eq!(
            bad.aux[0].what,
            "Address 0x55adf18 is 0 bytes after a block of size 8 alloc'd"
        );
        assert_eq!(bad.aux[0].stack[1].function.as_deref(), Some("badread"));
        let last = recs.last().expect("records");
        assert_eq!(last.loss_records_total, Some(957));
    }
}
