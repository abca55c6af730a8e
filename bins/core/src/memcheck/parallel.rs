//! A log read on several cores: cut into pieces between records, each piece parsed and
//! filtered by a worker thread on its own, and what the workers made added up in input order.
//! This is for a text log; an XML log is read the same way, but for what is said at
//! [`read_xml`].
//!
//! The output is the one a single thread gives, record for record and count for count:
//! - A piece is cut after a blank `==PID== ` line that a `==` line follows, where a record
//!   has just ended. A worker reads it with a parser made [`Pieces::after`] what the lines
//!   before it left behind when they left no record open: the thread each process was last
//!   in, which the cutter reads off the `Thread N:` lines. Whether they left nothing else is
//!   known once the piece before has been read: unless its parser is [`Pieces::settled`]
//!   into that same carry (another process was in the middle of a record, a paste's state
//!   was open, …), the piece is read again here by the parser that read the one before. A
//!   paste, or a log whose processes interleave line by line, is read right, only slower.
//! - A worker's filter has the options and baseline of the one reading the input, so it
//!   judges every record as that one would; what it made of a piece ([`Part`]) is added to
//!   that filter in input order, which keeps the merged records in first-seen order.
//! - A piece holding a `-v` log's repeated errors is read again here: a repeat finds the
//!   record it repeats among all of the input's.
//! - Several inputs are read several at a time instead ([`read_inputs`]), each whole by a
//!   worker, and added in input order the same way.
//! - A piece grows until it ends at a record boundary; one of [`MAX_PIECE`] bytes without
//!   one (a single line of that length, or a log without `==PID==` prefixes) sends the rest of
//!   the input to this thread.

use super::filter::{Filter, Part};
use super::records::Record;
use super::text::{Carry, Pieces};
use super::{xml, Event, ParseStats};
use crate::cli::Input;
use crate::output::Printer;
use crate::Error;
use std::collections::BTreeMap;
use std::io::{self, BufRead, Read};
use std::sync::mpsc;
use std::sync::Mutex;

/// Bytes a piece starts at: small enough that the pieces in flight stay a few MiB, large
/// enough that handing them around costs nothing next to reading them.
pub(crate) const PIECE: usize = 256 << 10;

/// Fewest bytes the cutter asks its reader for at a time: the read buffer of a file input.
const READ: usize = crate::cli::BUFFER;

/// Most bytes a piece grows to while looking for a record boundary.
const MAX_PIECE: usize = 16 << 20;

/// A piece of the input for a worker.
struct Piece<C = Carry> {
    seq: usize,
    bytes: Vec<u8>,
    /// What the lines before it leave behind, if they leave no record open.
    carry: C,
    /// It ends where the input ends.
    last: bool,
}

/// Where a format's pieces are cut, and what the cutter keeps track of between them.
trait Cut: Clone + Default {
    /// Pieces are cut after the last of these in them, this many bytes into it.
    const BOUNDARY: &'static [u8];
    const AT: usize;
    /// Takes in a piece, as a parser reading it would (a guess, checked in order).
    fn see(&mut self, piece: &[u8]);
}

impl Cut for Carry {
    /// The end of a blank `==PID== ` line and the start of the next `==PID==` line: a
    /// record of that process has just ended.
    const BOUNDARY: &'static [u8] = b"== \n==";
    const AT: usize = 4;
    fn see(&mut self, piece: &[u8]) {
        Carry::see(self, piece);
    }
}

impl Cut for xml::Carry {
    const BOUNDARY: &'static [u8] = xml::BOUNDARY;
    const AT: usize = xml::BOUNDARY.len();
    fn see(&mut self, piece: &[u8]) {
        xml::Carry::see(self, piece);
    }
}

/// What a worker made of a piece.
struct Done {
    seq: usize,
    bytes: Vec<u8>,
    carry: Carry,
    /// The parser after the piece: the one the next piece is checked against.
    pieces: Pieces,
    stats: ParseStats,
    part: Part,
    /// The piece must be read again in input order (it holds a `-v` repeat).
    again: bool,
}

/// Reads a text log with `filter`'s jobs, as [`super::text::parse`] would with `filter`
/// as its sink; `piece` is the size pieces start at ([`PIECE`]; tests make it small).
pub(crate) fn read_text<R: Read>(
    filter: &mut Filter,
    input: &str,
    reader: R,
    stats: &mut ParseStats,
    piece: usize,
) -> Result<(), Error> {
    let jobs = filter.jobs();
    // One queue that every worker takes from: a worker slowed down (by this thread sharing
    // its core, say) takes fewer pieces instead of holding the others up.
    let (work, queue) = mpsc::channel::<Piece>();
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        for _ in 0..jobs {
            let mut worker = filter.piece_worker();
            let (queue, done_tx) = (&queue, done_tx.clone());
            scope.spawn(move || {
                while let Some(p) = next_piece(queue) {
                    if done_tx.send(read_piece(&mut worker, input, p)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);

        let mut cutter = Cutter::<R, Carry>::new(reader, piece.max(1));
        let mut order = InOrder::default();
        let mut sent = 0usize;
        let read = loop {
            let next = match cutter.next(&mut order.spare) {
                Ok(Some(p)) => p,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            match next {
                Next::Piece(p) => {
                    // No worker left (it cannot be: they end when the queue closes) would
                    // leave the piece unread: read it here instead.
                    if let Err(mpsc::SendError(p)) = work.send(p) {
                        order.wait_for(p.seq, &done_rx, filter, input, stats);
                        order.redo(&p.bytes, filter, input, stats);
                        continue;
                    }
                    sent += 1;
                    // Keep at most two pieces per worker in flight: memory stays flat.
                    while sent - order.next >= 2 * jobs {
                        order.take(&done_rx, filter, input, stats);
                    }
                }
                Next::Rest(bytes) => {
                    order.wait_for(sent, &done_rx, filter, input, stats);
                    order.redo(&bytes, filter, input, stats);
                }
            }
        };
        drop(work);
        order.wait_for(sent, &done_rx, filter, input, stats);
        if let Err(e) = read {
            return Err(Error::at(input, Some(stats.lines + 1), e.to_string()));
        }
        let last = order
            .parser
            .take()
            .unwrap_or_else(|| Pieces::new(filter.lazy_frames()));
        last.finish(stats, &mut |event| filter.event(input, event));
        Ok(())
    })
}

/// The next piece from the queue the workers share, once one comes; none once the queue is
/// closed (or a worker panicked holding it). The lock is held only while waiting for the
/// piece, not while it is read.
fn next_piece<T>(queue: &Mutex<mpsc::Receiver<T>>) -> Option<T> {
    queue.lock().ok()?.recv().ok()
}

/// What a worker made of a piece of an XML input.
struct XmlDone {
    seq: usize,
    bytes: Vec<u8>,
    /// What the worker took the pieces before to leave behind.
    carry: xml::Carry,
    last: bool,
    /// What the piece leaves behind when it ends settled ([`xml::parse_piece`]); an error,
    /// or a piece that ends unsettled before the input's end, is read again in order.
    end: Result<Option<xml::Carry>, Error>,
    stats: ParseStats,
    part: Part,
}

/// Reads an XML input with `filter`'s jobs, as [`xml::parse`] would with `filter` as its
/// sink; `piece` as [`read_text`] takes it.
///
/// Pieces are cut after `</error>` lines ([`xml::BOUNDARY`]) and read by the workers, each
/// inside the document the pieces before leave open ([`xml::parse_piece`]). A piece is
/// added when it starts where the one before ended and ends settled itself (or ends the
/// input); the first one that does not, and everything after it, is read here in order,
/// from where the last piece added left off ([`xml::parse_after`]): an XML log that is not
/// Valgrind's own, a paste, a comment that holds an `</error>`, are read right, only slower.
pub(crate) fn read_xml<R: BufRead>(
    filter: &mut Filter,
    input: &str,
    reader: R,
    stats: &mut ParseStats,
    piece: usize,
) -> Result<(), Error> {
    let jobs = filter.jobs();
    let (work, queue) = mpsc::channel::<Piece<xml::Carry>>();
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<XmlDone>();
        for _ in 0..jobs {
            let mut worker = filter.piece_worker();
            let (queue, done_tx) = (&queue, done_tx.clone());
            scope.spawn(move || {
                let mut buffer = Vec::new();
                while let Some(p) = next_piece(queue) {
                    let mut stats = ParseStats::default();
                    let after = (p.seq > 0).then_some(&p.carry);
                    let end = xml::parse_piece(
                        input,
                        &p.bytes,
                        after,
                        &mut buffer,
                        &mut stats,
                        &mut |event| worker.event(input, event),
                    );
                    let done = XmlDone {
                        seq: p.seq,
                        bytes: p.bytes,
                        carry: p.carry,
                        last: p.last,
                        end,
                        stats,
                        part: worker.take_part(),
                    };
                    if done_tx.send(done).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);

        let mut cutter = Cutter::<R, xml::Carry>::new(reader, piece.max(1));
        let mut order = XmlOrder::default();
        let (mut sent, mut received) = (0usize, 0usize);
        // The pieces from the first one not added on, by sequence, for reading here.
        let mut rest: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let mut failed = None;
        while rest.is_empty() {
            let next = match cutter.next(&mut order.spare) {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            match next {
                Next::Piece(p) => {
                    if let Err(mpsc::SendError(p)) = work.send(p) {
                        rest.insert(p.seq, p.bytes);
                        break;
                    }
                    sent += 1;
                    // At most two pieces per worker in flight: memory stays flat.
                    while rest.is_empty() && sent - order.next >= 2 * jobs {
                        let Ok(d) = done_rx.recv() else { break };
                        received += 1;
                        order.take(d, filter, stats, &mut rest);
                    }
                }
                Next::Rest(bytes) => {
                    rest.insert(cutter.seq, bytes);
                }
            }
        }
        drop(work);
        // What no worker has started yet is not read apart any more.
        let mut drained = 0;
        if !rest.is_empty() {
            if let Ok(q) = queue.lock() {
                for p in q.try_iter() {
                    drained += 1;
                    rest.insert(p.seq, p.bytes);
                }
            }
        }
        while received + drained < sent {
            let Ok(d) = done_rx.recv() else { break };
            received += 1;
            if rest.is_empty() {
                order.take(d, filter, stats, &mut rest);
            } else {
                rest.insert(d.seq, d.bytes);
            }
        }
        // Pieces read after the first one not added wait for it too.
        rest.extend(
            std::mem::take(&mut order.waiting)
                .into_iter()
                .map(|(seq, d)| (seq, d.bytes)),
        );
        let (pending, reader) = cutter.into_rest();
        // After a read error, what was read before it is read, and then the error said.
        let reader = reader.take(if failed.is_some() { 0 } else { u64::MAX });
        let result = if rest.is_empty() {
            Ok(())
        } else {
            let mut bytes = rest.into_values().collect::<Vec<_>>().concat();
            bytes.extend_from_slice(&pending);
            let read = io::Cursor::new(bytes).chain(reader);
            let mut sink = |event: Event| filter.event(input, event);
            match order.carry {
                Some(carry) if order.next > 0 => {
                    let lines = stats.lines;
                    xml::parse_after(input, read, &carry, lines, stats, &mut sink)
                }
                // Nothing added yet: the input read from its start, as a whole. (A piece
                // added that did not end settled ended the input: nothing follows it.)
                _ => xml::parse(input, with_head(read), stats, &mut sink),
            }
        };
        match failed {
            Some(e) if result.is_ok() => {
                Err(Error::at(input, Some(stats.lines + 1), e.to_string()))
            }
            _ => result,
        }
    })
}

/// `input` as [`Filter::read`] hands an input to a parser: its first
/// [`HEAD`](super::filter::HEAD) bytes in a buffer of their own, which is what a parser's
/// first look at the input sees.
fn with_head<R: BufRead>(mut input: R) -> impl BufRead {
    let mut head = Vec::with_capacity(super::filter::HEAD);
    while head.len() < super::filter::HEAD {
        let Ok(chunk) = input.fill_buf() else { break };
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len().min(super::filter::HEAD - head.len());
        head.extend_from_slice(&chunk[..n]);
        input.consume(n);
    }
    io::Cursor::new(head).chain(input)
}

/// The XML workers' results, added to the filter in input order.
#[derive(Default)]
struct XmlOrder {
    next: usize,
    waiting: BTreeMap<usize, XmlDone>,
    /// What the pieces added leave behind (they all end settled, but the input's last).
    carry: Option<xml::Carry>,
    spare: Vec<Vec<u8>>,
}

impl XmlOrder {
    /// Takes one result and adds what is in order, up to the first piece that cannot be
    /// added: that one goes to `rest` (the pieces after it stay in `waiting`).
    fn take(
        &mut self,
        d: XmlDone,
        filter: &mut Filter,
        stats: &mut ParseStats,
        rest: &mut BTreeMap<usize, Vec<u8>>,
    ) {
        self.waiting.insert(d.seq, d);
        while let Some(d) = self.waiting.remove(&self.next) {
            let starts_right = d.seq == 0 || self.carry.as_ref() == Some(&d.carry);
            let settled = match &d.end {
                Ok(end) if starts_right && (end.is_some() || d.last) => end.clone(),
                _ => {
                    rest.insert(d.seq, d.bytes);
                    return;
                }
            };
            self.next += 1;
            filter.add_part(d.part);
            stats.add(&d.stats);
            if d.stats.num_callers.is_some() {
                stats.num_callers = d.stats.num_callers;
            }
            self.carry = settled;
            self.spare.push(d.bytes);
        }
    }
}

/// What a worker made of a whole input.
struct InputDone {
    index: usize,
    result: Result<(), Error>,
    part: Part,
    notes: Vec<String>,
    /// Lines the input passed through (JSON lines of other tools), for the printer.
    passed: Vec<Vec<u8>>,
}

/// Keeps the lines an input passes through; records are printed only at the end, by the
/// filter that adds them up.
#[derive(Default)]
struct Passed(Vec<Vec<u8>>);

impl Printer<Record> for Passed {
    fn record(&mut self, _: &Record) -> io::Result<()> {
        Ok(())
    }
    fn passthrough(&mut self, line: &[u8]) -> io::Result<()> {
        self.0.push(line.to_vec());
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads `inputs` with `filter`'s jobs, each whole by a worker, as [`Filter::read_all`]
/// does one after the other.
pub(crate) fn read_inputs(
    filter: &mut Filter,
    inputs: Vec<Input>,
    out: &mut dyn Printer<Record>,
    notes: &mut dyn FnMut(String),
) -> Result<(), Error> {
    let jobs = filter.jobs().min(inputs.len());
    let count = inputs.len();
    let queue = Mutex::new(inputs.into_iter().enumerate());
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<InputDone>();
        for _ in 0..jobs {
            let mut worker = filter.worker();
            let (queue, done_tx) = (&queue, done_tx.clone());
            scope.spawn(move || loop {
                // A poisoned queue (a worker panicked) ends this worker too.
                let next = match queue.lock() {
                    Ok(mut q) => q.next(),
                    Err(_) => None,
                };
                let Some((index, input)) = next else { break };
                let mut passed = Passed::default();
                let result = worker.read(&input.name, input.reader, &mut passed);
                let done = InputDone {
                    index,
                    result,
                    part: worker.take_part(),
                    notes: worker.take_notes(),
                    passed: passed.0,
                };
                if done_tx.send(done).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        while next < count {
            let Ok(done) = done_rx.recv() else { break };
            waiting.insert(done.index, done);
            while let Some(done) = waiting.remove(&next) {
                next += 1;
                for line in &done.passed {
                    out.passthrough(line)?;
                }
                if let Err(e) = done.result {
                    // Ends the reading: the workers stop once the queue is dropped with
                    // the scope, after the inputs they are reading.
                    drain(&queue);
                    return Err(e);
                }
                filter.add_part(done.part);
                done.notes.into_iter().for_each(&mut *notes);
            }
        }
        Ok(())
    })
}

/// Takes the inputs no worker has started, so that the workers stop after their current one.
fn drain<I: Iterator>(queue: &Mutex<I>) {
    if let Ok(mut q) = queue.lock() {
        q.by_ref().for_each(drop);
    }
}

/// A worker's reading of one piece.
fn read_piece(worker: &mut Filter, input: &str, p: Piece) -> Done {
    let lazy = worker.lazy_frames();
    let mut pieces = if p.seq == 0 {
        Pieces::new(lazy)
    } else {
        Pieces::after(&p.carry, lazy)
    };
    let mut stats = ParseStats::default();
    let mut again = false;
    pieces.feed(&p.bytes, &mut stats, &mut |event| {
        if matches!(event, Event::Repeat { .. }) {
            again = true;
        }
        if !again {
            worker.event(input, event);
        }
    });
    Done {
        seq: p.seq,
        bytes: p.bytes,
        carry: p.carry,
        pieces,
        stats,
        part: worker.take_part(),
        again,
    }
}

/// The workers' results, added to the filter in input order.
#[derive(Default)]
struct InOrder {
    /// The next piece to add.
    next: usize,
    /// Pieces read ahead of it.
    waiting: BTreeMap<usize, Done>,
    /// The parser that read the input up to `next`.
    parser: Option<Pieces>,
    /// Buffers of pieces added, for the cutter to read the next ones into.
    spare: Vec<Vec<u8>>,
}

impl InOrder {
    /// Waits for one result and adds what is in order.
    fn take(
        &mut self,
        done: &mpsc::Receiver<Done>,
        filter: &mut Filter,
        input: &str,
        stats: &mut ParseStats,
    ) {
        if let Ok(d) = done.recv() {
            self.waiting.insert(d.seq, d);
        }
        while let Some(d) = self.waiting.remove(&self.next) {
            self.add(d, filter, input, stats);
        }
    }

    /// Adds every piece before `seq`.
    fn wait_for(
        &mut self,
        seq: usize,
        done: &mpsc::Receiver<Done>,
        filter: &mut Filter,
        input: &str,
        stats: &mut ParseStats,
    ) {
        while self.next < seq {
            let before = self.next;
            self.take(done, filter, input, stats);
            if self.next == before && self.waiting.is_empty() {
                // Every worker is gone: nothing more will come.
                break;
            }
        }
    }

    /// One piece, in order: what the worker made of it when it started where the piece
    /// before left off, else the piece read again.
    fn add(&mut self, d: Done, filter: &mut Filter, input: &str, stats: &mut ParseStats) {
        self.next += 1;
        let open = match &self.parser {
            None => (d.seq == 0).then(Vec::new),
            Some(before) => before
                .settled()
                .filter(|s| s.carry == d.carry && !d.pieces.touched_any(&s.open))
                .map(|s| s.open),
        };
        if let (Some(open), false) = (open, d.again) {
            filter.add_part(d.part);
            stats.add(&d.stats);
            if d.stats.num_callers.is_some() {
                stats.num_callers = d.stats.num_callers;
            }
            let mut after = d.pieces;
            if let Some(before) = &mut self.parser {
                after.adopt(before, &open);
            }
            self.parser = Some(after);
        } else {
            self.redo(&d.bytes, filter, input, stats);
        }
        self.spare.push(d.bytes);
    }

    /// Reads `bytes` here, with the parser that read what came before.
    fn redo(&mut self, bytes: &[u8], filter: &mut Filter, input: &str, stats: &mut ParseStats) {
        let parser = self
            .parser
            .get_or_insert_with(|| Pieces::new(filter.lazy_frames()));
        parser.feed(bytes, stats, &mut |event| filter.event(input, event));
    }
}

/// What the cutter gives.
enum Next<C = Carry> {
    /// A piece for a worker.
    Piece(Piece<C>),
    /// Bytes to read here, in order.
    Rest(Vec<u8>),
}

/// Cuts the input into pieces at record boundaries.
struct Cutter<R, C> {
    reader: R,
    piece: usize,
    /// Read past the last cut.
    pending: Vec<u8>,
    eof: bool,
    seq: usize,
    /// What the lines before the next piece leave behind.
    carry: C,
    /// No boundary was found within [`MAX_PIECE`] bytes: the rest goes to this thread.
    rest: bool,
}

impl<R: Read, C: Cut> Cutter<R, C> {
    fn new(reader: R, piece: usize) -> Self {
        Cutter {
            reader,
            piece,
            pending: Vec::new(),
            eof: false,
            seq: 0,
            carry: C::default(),
            rest: false,
        }
    }

    /// Reads into `buf` past its first `filled` bytes until it holds `want` bytes or the
    /// input ends. The bytes a recycled buffer holds are overwritten, not zeroed first.
    /// Each read asks for at least [`READ`] bytes, which a `BufReader` of that capacity
    /// passes straight to the file instead of copying through its own buffer.
    fn fill(&mut self, buf: &mut Vec<u8>, filled: &mut usize, want: usize) -> io::Result<()> {
        while *filled < want && !self.eof {
            let end = want.max(*filled + READ);
            if buf.len() < end {
                buf.resize(end, 0);
            }
            match self.reader.read(&mut buf[*filled..end]) {
                Ok(0) => self.eof = true,
                Ok(n) => *filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next piece, in a buffer taken from `spare` when it has one.
    fn next(&mut self, spare: &mut Vec<Vec<u8>>) -> io::Result<Option<Next<C>>> {
        let mut buf = spare.pop().unwrap_or_default();
        let mut filled = self.pending.len();
        if buf.len() < filled {
            buf.resize(filled, 0);
        }
        buf[..filled].copy_from_slice(&self.pending);
        self.pending.clear();
        self.fill(&mut buf, &mut filled, self.piece)?;
        buf.truncate(filled);
        if buf.is_empty() {
            return Ok(None);
        }
        if self.rest {
            return Ok(Some(Next::Rest(buf)));
        }
        // Bytes searched already, but for the pattern's length.
        let mut from = self.piece / 2;
        let cut = loop {
            if self.eof {
                break buf.len();
            }
            if let Some(at) = boundary::<C>(&buf, from) {
                break at;
            }
            from = buf.len().saturating_sub(C::BOUNDARY.len());
            if buf.len() >= MAX_PIECE {
                self.rest = true;
                return Ok(Some(Next::Rest(buf)));
            }
            let want = buf.len() + self.piece;
            self.fill(&mut buf, &mut filled, want)?;
            buf.truncate(filled);
        };
        self.pending.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        let carry = self.carry.clone();
        self.carry.see(&buf);
        let seq = self.seq;
        self.seq += 1;
        Ok(Some(Next::Piece(Piece {
            seq,
            last: self.eof && self.pending.is_empty(),
            bytes: buf,
            carry,
        })))
    }

    /// What is left of the input: read past the last cut, then the reader.
    fn into_rest(self) -> (Vec<u8>, R) {
        (self.pending, self.reader)
    }
}

/// Where to cut `buf`: after the last of `C`'s boundaries in it, looked for from `from` on.
fn boundary<C: Cut>(buf: &[u8], from: usize) -> Option<usize> {
    let from = from.min(buf.len());
    memchr::memmem::rfind(&buf[from..], C::BOUNDARY).map(|i| from + i + C::AT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memcheck::filter::{FailOn, Options};
    use crate::memcheck::records::Record;
    use crate::memcheck::suppressions;
    use crate::output::Printer;
    use crate::project::Project;
    use std::path::{Path, PathBuf};

    /// Keeps what a filter prints, as JSON lines.
    #[derive(Default)]
    struct Lines(Vec<String>);

    impl Printer<Record> for Lines {
        fn record(&mut self, r: &Record) -> io::Result<()> {
            self.0
                .push(serde_json::to_string(r).map_err(io::Error::other)?);
            Ok(())
        }
        fn passthrough(&mut self, line: &[u8]) -> io::Result<()> {
            self.0.push(String::from_utf8_lossy(line).into_owned());
            Ok(())
        }
        fn finish(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn data() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
    }

    fn options(project: Project, suppressions: Vec<suppressions::Suppression>) -> Options {
        Options {
            project,
            suppressions,
            show_suppressed: true,
            fail_on: FailOn::Default,
            merge: true,
            gen_suppressions: true,
        }
    }

    /// Everything a filter gives for `log`: records, summary, notes, generated suppressions.
    fn run(log: &[u8], opts: Options, jobs: usize, piece: usize) -> Vec<String> {
        run_lazy(log, opts, jobs, piece, true)
    }

    /// [`run`], with records' frames made only when kept (`lazy`, when the options allow
    /// it: see [`Filter::lazy_frames`]) or always.
    fn run_lazy(log: &[u8], opts: Options, jobs: usize, piece: usize, lazy: bool) -> Vec<String> {
        let mut filter = Filter::new(opts);
        filter.set_lazy(lazy);
        filter.set_jobs(jobs);
        filter.set_piece(piece);
        let mut out = Lines::default();
        if let Err(e) = filter.read("log", log, &mut out) {
            out.0.push(format!("error: {e}"));
        }
        out.0.extend(filter.take_notes());
        out.0.push(filter.generated_suppressions("x"));
        let _ = filter.finish(&mut out);
        out.0
    }

    /// The files under `dirs`, at any depth, sorted.
    fn files_under(mut dirs: Vec<PathBuf>) -> Vec<PathBuf> {
        let mut files = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    fn text_logs() -> Vec<(String, Vec<u8>)> {
        let dirs = vec![
            data().join("pasted/valgrind"),
            data().join("valgrind/memcheck"),
        ];
        let mut logs = Vec::new();
        for path in files_under(dirs) {
            let name = path.display().to_string();
            let bytes = std::fs::read(&path).unwrap();
            if !(bytes.starts_with(b"<?xml") || name.ends_with(".xml")) {
                logs.push((name, bytes));
            }
        }
        logs.sort();
        logs
    }

    fn gunzip(path: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn shipped_suppressions() -> Vec<suppressions::Suppression> {
        let path = data().join("../../suppressions/python3.11.supp");
        let text = std::fs::read_to_string(path).unwrap();
        suppressions::parse("python3.11.supp", &text).unwrap()
    }

    /// Two processes' logs interleaved `n` lines at a time, as processes that write into one
    /// stream unbuffered (n = 1) or in blocks do: a record of one is open across pieces that
    /// hold only the other's lines.
    fn interleaved(a: &[u8], b: &[u8], n: usize) -> Vec<u8> {
        let lines = |x: &[u8]| {
            x.split_inclusive(|&c| c == b'\n')
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        };
        let (a, b) = (lines(a), lines(b));
        let mut out = Vec::new();
        let (mut a, mut b) = (a.chunks(n), b.chunks(n));
        loop {
            match (a.next(), b.next()) {
                (None, None) => break,
                (x, y) => {
                    out.extend(x.unwrap_or_default().concat());
                    out.extend(y.unwrap_or_default().concat());
                }
            }
        }
        out
    }

    fn with_pid(log: &[u8], pid: &str) -> Vec<u8> {
        let text = String::from_utf8_lossy(log);
        let mut out = String::new();
        for line in text.lines() {
            match line.split_once("== ").filter(|(p, _)| p.starts_with("==")) {
                Some((_, rest)) => out.push_str(&format!("=={pid}== {rest}\n")),
                None => out.push_str(&format!("{line}\n")),
            }
        }
        out.into_bytes()
    }

    /// What [`Filter::read_all`] gives for these inputs (name, bytes) with `jobs` threads:
    /// passed-through lines, records, summary, notes, an error.
    fn run_all(inputs: &[(String, Vec<u8>)], jobs: usize) -> Vec<String> {
        let mut filter = Filter::new(options(
            Project::Patterns(vec!["leak".into()].into()),
            shipped_suppressions(),
        ));
        filter.set_jobs(jobs);
        let inputs = inputs
            .iter()
            .map(|(name, bytes)| Input {
                name: name.clone(),
                reader: Box::new(io::Cursor::new(bytes.clone())),
            })
            .collect();
        let mut out = Lines::default();
        let mut notes = Vec::new();
        let read = filter.read_all(inputs, &mut out, &mut |n| notes.push(n));
        out.0.extend(notes);
        match read {
            Ok(()) => {
                out.0.push(filter.generated_suppressions("x"));
                let _ = filter.finish(&mut out);
            }
            Err(e) => out.0.push(format!("error: {e}")),
        }
        out.0
    }

    /// Every XML log in `tests/data`, by name.
    fn xml_logs() -> Vec<(String, Vec<u8>)> {
        let mut logs = Vec::new();
        for path in files_under(vec![data()]) {
            let name = path.display().to_string();
            if name.ends_with(".xml.gz") {
                logs.push((name, gunzip(&path)));
            } else if !name.ends_with(".gz") {
                let bytes = std::fs::read(&path).unwrap();
                if bytes.starts_with(b"<?xml") {
                    logs.push((name, bytes));
                }
            }
        }
        logs.sort();
        logs
    }

    #[test]
    fn xml_pieces_read_on_two_threads_give_what_one_thread_gives() {
        let logs = xml_logs();
        assert!(logs.len() >= 20, "{} XML logs", logs.len());
        let big = &logs
            .iter()
            .find(|(n, _)| n.ends_with("py311-leaky-malloc-all.xml.gz"))
            .unwrap()
            .1;
        let small = &logs
            .iter()
            .find(|(n, _)| n.ends_with("xml1.stderr.exp"))
            .unwrap()
            .1;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut inputs = logs.clone();
        // `cat vg.*.xml`, and a document cut short before the next.
        inputs.push(("two documents".into(), [&big[..], small].concat()));
        inputs.push(("two again".into(), [&small[..], big].concat()));
        inputs.push((
            "a cut document".into(),
            [&big[..big.len() / 2], small].concat(),
        ));
        // What is not Valgrind's own writing: a paste, quoted or after prose, and an
        // `</error>` line and a `<pid>` in comments between errors.
        let quoted: String = text(big).lines().map(|l| format!("> {l}\n")).collect();
        inputs.push(("quoted".into(), quoted.into_bytes()));
        inputs.push((
            "after prose".into(),
            [&b"Here is the log:\n\n"[..], big].concat(),
        ));
        let commented = text(big).replacen(
            "</error>\n",
            "</error>\n<!-- <pid>7</pid>\n</error>\n<error> -->\n",
            40,
        );
        inputs.push(("comments".into(), commented.into_bytes()));
        // Damaged: an error that never ends, elements cut, bytes that are not UTF-8.
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        let mut random = |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        for round in 0..40 {
            // Mostly the small log, whose few pieces a change touches more often.
            let mut mangled = if round % 8 == 0 { big } else { small }.clone();
            for _ in 0..1 + random(3) {
                let at = random(mangled.len());
                match random(3) {
                    0 => mangled[at] = b"<>&/\n \xff"[random(7)],
                    1 => {
                        let end = (at + random(300)).min(mangled.len());
                        mangled.drain(at..end);
                    }
                    _ => mangled
                        .splice(at..at, b"</error>\n".iter().copied())
                        .for_each(drop),
                }
            }
            inputs.push((format!("mangled {round}"), mangled));
        }
        let patterns = || Project::Patterns(vec!["leak".into()].into());
        for (i, (name, xml)) in inputs.iter().enumerate() {
            let mut option_sets = vec![(options(Project::Everything, Vec::new()), "everything")];
            // The real logs with the project's options too; the others every record kept,
            // so that every `<errorcounts>` pair finds its record, in a piece or before.
            if i < logs.len() {
                option_sets.push((options(patterns(), Vec::new()), "--project"));
                option_sets.push((
                    options(patterns(), shipped_suppressions()),
                    "--project --suppressions",
                ));
            }
            for (opts, what) in option_sets {
                let one = run(xml, opts.clone(), 1, PIECE);
                for piece in [300, 20_000] {
                    assert!(
                        run(xml, opts.clone(), 2, piece) == one,
                        "{name} ({what}) in pieces of {piece}"
                    );
                }
            }
        }
    }

    #[test]
    fn inputs_read_at_once_give_what_one_after_the_other_gives() {
        let dir = data().join("memcheck-logs");
        let xml = gunzip(&dir.join("py311-leaky-malloc-all.xml.gz"));
        let text = gunzip(&dir.join("py311-leaky-malloc-all.log.gz"));
        let small = std::fs::read(dir.join("py311-leaky-gensupp.log")).unwrap();
        // vg-filter's own output of one log, read back, with another tool's line in it.
        let lines = run_all(&[("small".into(), small.clone())], 1);
        let json = lines.iter().filter(|l| l.starts_with('{'));
        let mut back = json.cloned().collect::<Vec<_>>().join("\n");
        back.push_str("\n{\"type\":\"frame\",\"tool\":\"bt-demangle\"}\n");
        let inputs: Vec<(String, Vec<u8>)> = vec![
            ("xml".into(), xml.clone()),
            ("back".into(), back.into_bytes()),
            ("text".into(), text),
            ("small".into(), small),
            ("prose".into(), b"nothing of Valgrind's\n".to_vec()),
            ("xml again".into(), xml.clone()),
        ];
        let one = run_all(&inputs, 1);
        assert!(
            one.iter().any(|l| l.contains("\"type\":\"frame\"")),
            "{one:?}"
        );
        assert_eq!(one, run_all(&inputs, 3));
        // A malformed input ends the reading with its error, as it does in order.
        let mut bad = inputs.clone();
        let malformed = b"<valgrindoutput>\n<error>\n</stack>\n</valgrindoutput>\n";
        bad.insert(2, ("bad".into(), malformed.to_vec()));
        let one = run_all(&bad, 1);
        assert!(one.last().unwrap().starts_with("error: bad"), "{one:?}");
        assert_eq!(one, run_all(&bad, 2));
    }

    /// `log` with a `Thread N:` line before its first record.
    fn in_thread(log: &[u8], tid: u32) -> Vec<u8> {
        let text = String::from_utf8_lossy(log);
        let at = text.find("== Conditional jump").expect("a record");
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let prefix = &text[start..at + 3];
        let mut out = text[..start].to_string();
        out.push_str(&format!("{prefix}Thread {tid}:\n"));
        out.push_str(&text[start..]);
        out.into_bytes()
    }

    #[test]
    fn pieces_read_on_two_threads_give_what_one_thread_gives() {
        let supps = shipped_suppressions();
        for (name, log) in text_logs() {
            for project in [
                Project::Everything,
                Project::Patterns(vec!["leak".into()].into()),
            ] {
                let one = run(&log, options(project.clone(), supps.clone()), 1, PIECE);
                for piece in [64, 1000] {
                    let two = run(&log, options(project.clone(), supps.clone()), 2, piece);
                    assert_eq!(one, two, "{name}, pieces of {piece} bytes");
                }
            }
        }
    }

    /// Records judged on their frames' text, the frames made only for those kept, read as
    /// records whose frames are all made: on every text log, on real logs of two processes
    /// interleaved, on one thread and in pieces on two.
    #[test]
    fn records_judged_on_frames_as_text_read_as_made_ones() {
        let dir = data().join("memcheck-logs");
        let leaky = gunzip(&dir.join("py311-leaky-malloc-all.log.gz"));
        let big = gunzip(&dir.join("py311-big-malloc-all.log.gz"));
        let mut logs = text_logs();
        let (a, b) = (with_pid(&leaky, "7"), in_thread(&with_pid(&big, "8"), 3));
        logs.push(("real logs, interleaved".into(), interleaved(&a, &b, 40)));
        let options = |patterns: &[&str], merge: bool| Options {
            project: Project::Patterns(
                patterns
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            suppressions: Vec::new(),
            show_suppressed: false,
            fail_on: FailOn::Default,
            merge,
            gen_suppressions: false,
        };
        assert!(Filter::new(options(&["leak"], true)).lazy_frames());
        for (name, log) in logs {
            for (patterns, merge) in [(&["leak"][..], true), (&["*.c", "libc*"][..], false)] {
                for (jobs, piece) in [(1, PIECE), (2, 1000)] {
                    let run = |lazy| run_lazy(&log, options(patterns, merge), jobs, piece, lazy);
                    assert_eq!(run(true), run(false), "{name}, {patterns:?}, {jobs} jobs");
                }
            }
        }
    }

    #[test]
    fn real_logs_interleaved_and_cut_small_read_the_same() {
        let dir = data().join("memcheck-logs");
        let leaky = gunzip(&dir.join("py311-leaky-malloc-all.log.gz"));
        let big = gunzip(&dir.join("py311-big-malloc-all.log.gz"));
        // Threads named once, before the first records: the records of later pieces are
        // theirs too.
        let (a, b) = (
            in_thread(&with_pid(&leaky, "7"), 2),
            in_thread(&with_pid(&big, "8"), 3),
        );
        let mut one_after_other = leaky.clone();
        one_after_other.extend(&big);
        let supps = shipped_suppressions();
        let logs = [
            ("by lines", interleaved(&a, &b, 1)),
            ("by blocks", interleaved(&a, &b, 150)),
            ("one after the other", one_after_other),
        ];
        for (what, log) in logs {
            let project = || Project::Patterns(vec!["leaky".into()].into());
            let one = run(&log, options(project(), supps.clone()), 1, PIECE);
            assert!(one.len() > 3, "{what}: {one:?}");
            for (jobs, piece) in [(2, 4096), (3, 20_000)] {
                let many = run(&log, options(project(), supps.clone()), jobs, piece);
                assert_eq!(one, many, "{what}: {jobs} jobs, pieces of {piece} bytes");
            }
        }
    }
}
