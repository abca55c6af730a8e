//! Valgrind Memcheck reports: the record type, one parser per input format, suppression
//! files, and the `vg-filter` filter.
//!
//! [`text`] reads the human log (`==PID==` prefixed, or prefix-less as in Valgrind's own
//! filtered test outputs) and [`xml`] reads `--xml=yes` output (protocols 4 to 6). Both produce
//! the same [`Record`] for the same error, so everything after parsing is format-blind:
//! [`suppressions`] reads, matches and writes `.supp` files, [`filter`] keeps the records
//! that touch the project and merges them into vg-filter's [`records`], which [`print`] (and
//! the shared printers) write out.

pub mod filter;
pub mod header;
pub mod hints;
mod parallel;
pub mod print;
mod raw;
pub mod records;
mod spare;
pub mod suppressions;
pub mod text;
pub mod xml;

use crate::frame::Frame;
use serde::{Deserialize, Serialize};

/// One auxiliary description with its own stack, such as
/// "Address 0x… is 0 bytes after a block of size 10 alloc'd" followed by the allocation stack,
/// or "Uninitialised value was created by a heap allocation".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuxStack {
    /// The description line, without indentation or PID prefix.
    pub what: String,
    /// Its frames; empty when the description stands alone.
    pub stack: Vec<Frame>,
}

/// One Memcheck error or leak record, as parsed from either format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The XML `<kind>` name: `InvalidRead`, `Leak_DefinitelyLost`, … (see [`header::KINDS`]).
    pub kind: String,
    /// Process that reported it; `None` for prefix-less text.
    pub pid: Option<u32>,
    /// Valgrind thread id when the input gives it (XML `<tid>`, text `Thread N:` lines).
    pub tid: Option<u32>,
    /// The header line, e.g. `Invalid read of size 1`.
    pub what: String,
    /// Leaks: total bytes (direct + indirect).
    pub bytes: Option<u64>,
    /// Leaks: directly lost bytes, when Valgrind splits them.
    pub direct: Option<u64>,
    /// Leaks: indirectly lost bytes, when Valgrind splits them.
    pub indirect: Option<u64>,
    /// Leaks: number of blocks.
    pub blocks: Option<u64>,
    /// Leaks: `loss record N of M` → N.
    pub loss_record: Option<u64>,
    /// Leaks: `loss record N of M` → M.
    pub loss_records_total: Option<u64>,
    /// The main stack, innermost frame first.
    pub stack: Vec<Frame>,
    /// Auxiliary descriptions and their stacks, in input order.
    pub aux: Vec<AuxStack>,
    /// The input ended inside this record: its stack may be incomplete.
    pub truncated: bool,
    /// XML `<unique>`: the id `<errorcounts>` counts this error's occurrences under.
    #[serde(skip)]
    pub unique: Option<String>,
    /// A `...` line cut the stack (Valgrind's test filters, or a person shortening a paste):
    /// the stack is shown in part on purpose, so the end of the input does not truncate it.
    #[serde(skip)]
    pub elided: bool,
}

impl Record {
    /// True for the four `Leak_*` kinds.
    pub fn is_leak(&self) -> bool {
        self.kind.starts_with("Leak_")
    }
}

/// What a parser hands on: the records, and what else Valgrind reports that a person must
/// not miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An error or leak record.
    Record(Record),
    /// An error or leak record whose main stack is not made yet: only from a text parser
    /// asked for it (see [`LazyRecord`]).
    Lazy(LazyRecord),
    /// The process was killed by a signal (`Process terminating with default action of
    /// signal 11 (SIGSEGV)`, XML `<fatal_signal>`).
    FatalSignal(FatalSignal),
    /// Valgrind itself failed (`valgrind: the 'impossible' happened`, an assertion in its
    /// own code): the run's results are incomplete.
    ValgrindPanic(ValgrindPanic),
    /// XML `<errorcounts>`: the error of process `pid` with this `<unique>` id occurred
    /// `count` times (Valgrind prints each distinct error once).
    ErrorCount {
        /// The document's `<pid>`.
        pid: Option<u32>,
        /// The error's `<unique>`.
        unique: String,
        /// How many times it occurred.
        count: u64,
    },
    /// A text log's `<errorcounts>`: with `-v`, after the final `ERROR SUMMARY`, Valgrind
    /// prints every error of the run again, each under `N errors in context K of M:`, in the
    /// same words as when it reported it. Not a new record: the record it repeats (its
    /// header and stacks say which) occurred `count` times. Leak records are not repeated.
    Repeat {
        /// The error as printed again (`truncated` when the input ends inside it).
        record: Record,
        /// `N` of `N errors in context K of M:`.
        count: u64,
    },
}

impl Event {
    /// The record, when this is one.
    pub fn into_record(self) -> Option<Record> {
        match self {
            Event::Record(r) => Some(r),
            Event::Lazy(r) => Some(r.into_record()),
            _ => None,
        }
    }
}

/// A record whose main stack is still the text of its frame lines ([`raw`]): what the text
/// parser hands on instead of an [`Event::Record`] when its consumer asked for it, so that
/// a record nobody keeps is judged without making its frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LazyRecord {
    /// The record, its main stack empty (its auxiliary stacks are made).
    pub(crate) record: Record,
    /// Its main stack.
    pub(crate) frames: raw::RawStack,
}

impl LazyRecord {
    /// The record with its main stack made.
    pub fn into_record(mut self) -> Record {
        self.frames.make_into(&mut self.record.stack);
        self.record
    }
}

/// A process killed by a signal, as Valgrind reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FatalSignal {
    /// The process killed.
    pub pid: Option<u32>,
    /// The Valgrind thread that received it.
    pub tid: Option<u32>,
    /// The signal's number (`11`).
    pub signo: Option<u32>,
    /// Its name (`SIGSEGV`).
    pub signal: Option<String>,
    /// The report's first line (text), or one made from the XML's fields.
    pub what: String,
    /// The lines that explain it (`Access not within mapped region at address 0x0`, …).
    pub details: Vec<String>,
    /// Where it was received, innermost first.
    pub stack: Vec<Frame>,
    /// The input ended inside the report.
    pub truncated: bool,
}

/// Valgrind's own failure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValgrindPanic {
    /// The process Valgrind was running.
    pub pid: Option<u32>,
    /// The first line (`valgrind: the 'impossible' happened:`, `valgrind: m_mallocfree.c:…:
    /// Assertion '…' failed.`).
    pub what: String,
    /// The lines that follow it up to the host stack trace.
    pub details: Vec<String>,
    /// The client's stack when Valgrind stopped (the first `Thread N: status` block).
    pub stack: Vec<Frame>,
}

/// What a parser saw besides records, so that nothing is passed over silently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseStats {
    /// Lines read (text), or lines spanned (XML).
    pub lines: u64,
    /// Records produced (including truncated ones). Not serialised: the tools' summaries
    /// report records themselves, after filtering.
    #[serde(skip)]
    pub records: u64,
    /// Lines that were neither part of a record nor known Valgrind chatter (preamble,
    /// summaries, the program's own output). Counted, not fatal.
    pub unparsed_lines: u64,
    /// Lines of Valgrind's own chatter (preamble, summaries, warnings), the program's output,
    /// and blank separators: read and deliberately not records.
    pub other_lines: u64,
    /// Records the input ended inside of (kept, flagged `truncated`).
    pub truncated_records: u64,
    /// Lines longer than [`crate::input::MAX_LINE`], cut.
    pub long_lines: u64,
    /// Frames dropped because a stack exceeded [`MAX_FRAMES`] (or followed a dropped
    /// auxiliary description).
    pub dropped_frames: u64,
    /// Auxiliary descriptions dropped because a record had [`MAX_AUX`] already.
    pub dropped_aux: u64,
    /// XML elements of unknown names that were skipped.
    pub unknown_elements: u64,
    /// The run's `--num-callers` (the deepest stack Valgrind records), when the input states
    /// it: XML `<args>`, or a text log's options, which Valgrind prints with `-v`. Not
    /// serialised, and not added up: it is a fact about one input.
    #[serde(skip)]
    pub num_callers: Option<u32>,
}

impl ParseStats {
    /// Adds another input's counts to these.
    pub fn add(&mut self, other: &ParseStats) {
        self.lines += other.lines;
        self.records += other.records;
        self.unparsed_lines += other.unparsed_lines;
        self.other_lines += other.other_lines;
        self.truncated_records += other.truncated_records;
        self.long_lines += other.long_lines;
        self.dropped_frames += other.dropped_frames;
        self.dropped_aux += other.dropped_aux;
        self.unknown_elements += other.unknown_elements;
    }
}

/// The functions a thread's stack starts at: a stack whose outermost frame is one of these
/// is whole, whatever its depth.
const THREAD_ROOTS: &[&str] = &[
    "main",
    "(below main)",
    "_start",
    "__libc_start_main",
    "__libc_start_call_main",
    "start_thread",
    "clone",
    "clone3",
    "__clone",
    "__clone3",
    "thread_start",
];

/// Whether a stack reaches its thread's root (see [`THREAD_ROOTS`]): Valgrind did not cut it.
pub fn reaches_root<F: crate::frame::FrameFields>(stack: &[F]) -> bool {
    stack
        .last()
        .and_then(|f| f.function())
        .is_some_and(|f| THREAD_ROOTS.contains(&f))
}

/// Valgrind's default `--num-callers`: the deepest stack it records, in code addresses.
pub const DEFAULT_NUM_CALLERS: u32 = 12;

/// Deepest stack kept per record; Valgrind's own `--num-callers` maximum is 500.
pub const MAX_FRAMES: usize = 500;

/// Most auxiliary descriptions kept per record. Memcheck writes at most a handful
/// (`Address … alloc'd`, `Block was alloc'd at`, `Uninitialised value was created by …`);
/// a log that is not what it claims could otherwise make one record hold every line.
pub const MAX_AUX: usize = 100;

/// How the elements of Valgrind's XML protocol start: what a (cut) XML log starts with.
const XML_STARTS: &[&[u8]] = &[
    b"<?xml",
    b"<!--",
    b"<valgrindoutput",
    b"<error",
    b"<stack",
    b"<frame",
    b"<ip>",
    b"<obj>",
    b"<fn>",
    b"<dir>",
    b"<file>",
    b"<line>",
    b"<kind>",
    b"<what>",
    b"<xwhat",
    b"<auxwhat",
    b"<xauxwhat",
    b"<text>",
    b"<suppression",
    b"<unique>",
    b"<tid>",
    b"<pid>",
    b"<status",
    b"<errorcounts",
    b"<suppcounts",
    b"<preamble",
    b"<protocol",
    b"<tool>",
    b"<args",
    b"<fatal_signal",
    b"</",
];

/// The two input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `==PID==` text log.
    Text,
    /// `--xml=yes` output.
    Xml,
}

/// Tells the format from the first bytes of an input: XML starts (after blanks) with the
/// XML declaration, a comment, or one of the protocol's elements (a cut XML log may start
/// anywhere). A `<` alone is not enough: a text log cut inside a C++ name starts with one.
/// A pasted XML log may follow a Markdown fence or a line of prose: a line of the head that
/// starts with the declaration or `<valgrindoutput` makes it XML too.
pub fn detect(head: &[u8]) -> Format {
    let declared = head.split(|&b| b == b'\n').any(|line| {
        let line = unquoted(line);
        line.starts_with(b"<?xml") || line.starts_with(b"<valgrindoutput")
    });
    if declared {
        return Format::Xml;
    }
    if xml_start(head).is_some() {
        return Format::Xml;
    }
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = &head[start..];
    if XML_STARTS.iter().any(|s| head.starts_with(s)) {
        Format::Xml
    } else {
        Format::Text
    }
}

/// Where XML starts in the head of an input that may open with prose or a fence (a pasted
/// fragment): the offset of the first line that starts (quoted or not) with one of the
/// protocol's elements, unless a line of Valgrind's text log comes first.
pub fn xml_start(head: &[u8]) -> Option<usize> {
    let mut offset = 0;
    for line in head.split(|&b| b == b'\n') {
        let start = offset;
        offset += line.len() + 1;
        let bare = unquoted(line);
        if bare.starts_with(b"==") || bare.starts_with(b"at 0x") || bare.starts_with(b"by 0x") {
            return None;
        }
        if XML_STARTS.iter().any(|s| bare.starts_with(s)) && offset <= head.len() {
            return Some(start);
        }
    }
    None
}

/// A line of the head without a paste's quote markers (`> `, `>> `) and indentation.
pub fn unquoted(line: &[u8]) -> &[u8] {
    let mut rest = line.trim_ascii_start();
    while let Some(after) = rest.strip_prefix(b">") {
        if !(after.is_empty()
            || after.starts_with(b" ")
            || after.starts_with(b">")
            || after.starts_with(b"\t"))
        {
            break;
        }
        rest = after.trim_ascii_start();
    }
    rest
}

/// Whether an XML input is pasted with quote markers (`> <error>`): its lines must then be
/// read without them.
pub fn quoted_xml(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii_start)
        .find(|l| unquoted(l).starts_with(b"<"))
        .is_some_and(|l| l.starts_with(b">"))
}
