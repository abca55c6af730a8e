//! The `bt-demangle` filter: gdb output (or bt-demangle's own JSON lines) in, records out.
//!
//! Each line goes to the gdb parser ([`super::gdb`]), whose events become records: every
//! frame gets its function demangled when gdb left it mangled (`set print demangle off`),
//! simplified ([`super::simplify`]) unless told not to, and a class ([`super::classify`]);
//! lines that are no frame are passed through, their mangled names demangled. A line that is
//! one of bt-demangle's JSON records is read back as what it says: frames, stop locations,
//! Python frames and crashes are taken as if gdb had printed them, so that names, classes
//! and the signature are recomputed with this run's options (the project may differ), and
//! a summary carries over what its run counted that the records do not say; a JSON line of
//! another type or tool is passed on unchanged, and one of bt-demangle's types that does not
//! read as such is an error naming its line.
//!
//! Each input is one gdb session, and closes with a crash record when it showed a signal or
//! any frame ([`super::signature`]); a crash record read back closes the session it ends, so
//! that the JSON lines of several sessions read back as several. The records go to a
//! [`Printer`], which alone knows the output format ([`super::print`]).

use super::ahead::{self, Demangled};
use super::classify::{self, Class};
use super::gdb::{self, Event, FrameLine, ThreadId};
use super::records::{
    CrashRecord, FixedCrash, FrameRecord, FrameRef, PyFrameRecord, Record, StopRecord, Summary,
    TOOL,
};
use super::{signature, simplify};
use crate::demangle;
use crate::input::{read_line, Content, LineEnd, MAX_LINE};
use crate::output::{BaselineMark, Printer};
use crate::project::Project;
use crate::{Error, Frame};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{self, BufRead};

/// What the filter is told (the text report's own options are [`super::print::TextOptions`]).
#[derive(Debug)]
pub struct Options {
    /// Which frames are the project's.
    pub project: Project,
    /// Simplify C++ names (`--no-simplify` turns it off).
    pub simplify: bool,
    /// Template nesting kept by simplification (`--depth`).
    pub depth: usize,
}

/// Capacity the line buffer keeps; after a longer line it is replaced by a small one.
const KEEP_CAPACITY: usize = 64 << 10;

/// Most frames kept per thread for the crash record; the output still has every frame.
/// Frames past it are counted (`dropped_frames`), as vg-filter counts Memcheck's.
pub const MAX_STACK: usize = 500;

/// Most threads whose stacks are kept per input for the crash record (and counted in
/// `threads`); frames of further threads are written out, counted in `dropped_frames`, and
/// not kept. A real process has a few hundred threads; an input with millions of thread
/// headers would otherwise cost memory in proportion.
pub const MAX_THREADS: usize = 4096;

/// A frame's function as shown, and as hashed into signatures.
struct Named {
    shown: String,
    bare: String,
}

/// What the crash record needs of a frame.
#[derive(Debug, Clone)]
struct Lite {
    index: Option<u32>,
    /// With the function as shown.
    frame: Frame,
    /// The bare name hashed into signatures; `None` for `??` and gdb's markers.
    bare: Option<String>,
    class: Class,
    truncated: bool,
}

impl Lite {
    fn reference(&self) -> FrameRef {
        FrameRef {
            index: self.index,
            frame: self.frame.clone(),
        }
    }
}

/// One thread's first backtrace in a session.
#[derive(Debug)]
struct Stack {
    thread: ThreadId,
    frames: Vec<Lite>,
    /// It holds `<signal handler called>`: without a report naming the thread, the crash.
    handler: bool,
}

/// What a gdb session has shown so far.
#[derive(Debug, Default)]
struct Session {
    signal: Option<gdb::Signal>,
    stop: Option<Lite>,
    stacks: Vec<Stack>,
    /// The stack frames are being added to; `None` while reading a thread's second backtrace
    /// (`bt` then `thread apply all bt` show the crashing thread twice).
    open: Option<usize>,
    last_index: Option<u32>,
    last_thread: Option<ThreadId>,
    /// Threads with frames (at most [`MAX_THREADS`]), by [`thread_key`].
    threads: HashSet<ThreadId>,
    /// LWPs of threads with a number: a frame of the same LWP named only by it is theirs.
    numbered_lwps: HashSet<u64>,
    /// The stack being read belongs to a thread past [`MAX_THREADS`].
    untracked: bool,
}

/// A thread as frames are grouped by: its gdb number when the input gives one (the same
/// thread's frames may come with and without its LWP), else its LWP.
fn thread_key(thread: Option<u32>, lwp: Option<u64>) -> ThreadId {
    ThreadId {
        number: thread,
        lwp: if thread.is_some() { None } else { lwp },
    }
}

/// Which thread crashed, as far as the session's text says: the thread its reports name
/// ([`gdb::Parser::stopped_thread`]), and the thread it last switched to.
#[derive(Debug, Default)]
struct CrashThread {
    stopped: Option<gdb::Stopped>,
    current: Option<ThreadId>,
}

/// What one input has shown.
#[derive(Debug, Default)]
struct InputState {
    session: Session,
    /// A frame, a signal, a thread header or a record was read: the input is what
    /// bt-demangle reads.
    recognised: bool,
    /// Lines that were records read back: counted in `records_read`, not in `lines`.
    record_lines: u64,
    /// bt-demangle summaries read back, whose counts were carried over.
    summaries: u64,
}

/// Where reading an input is.
struct Reading {
    parser: gdb::Parser,
    state: InputState,
    /// Lines read so far.
    lines: u64,
    /// Lines that start as Valgrind's do (`==PID==`).
    valgrind_lines: u64,
}

/// What a crash record says of the session it ends, read back.
struct Ending {
    input: String,
    signal: Option<gdb::Signal>,
    /// The record as read, written again when the session has no frame to recompute it from.
    record: Option<CrashRecord>,
}

/// The filter's state across inputs.
pub struct Filter {
    opts: Options,
    summary: Summary,
    /// One-line notes for a person (standard error), taken by [`Filter::take_notes`].
    notes: Vec<String>,
    /// Off while records are read back: the names in them were counted by the run that
    /// demangled them, and its summary carries that count over.
    count_demangled: bool,
    /// A line and its newline, for [`Printer::passthrough`].
    scratch: Vec<u8>,
    /// Lines that were not UTF-8, read while the parser held a core file's stop line: their
    /// text (as the parser has it) and bytes, to pass through as they were when the parser
    /// lets them go.
    deferred: VecDeque<(String, Vec<u8>)>,
    /// `--baseline`: its crashes by fingerprint ([`Filter::set_baseline`]).
    baseline: Option<BTreeMap<String, FixedCrash>>,
    /// Fingerprints of this run's crashes, to tell which baseline crashes are gone.
    fingerprints: HashSet<String>,
    /// Read files ahead ([`Filter::set_read_ahead`]).
    read_ahead: bool,
    /// The line being read, demangled ahead (by [`ahead`]'s second thread).
    ahead: Option<Demangled>,
}

/// `text` with its mangled names demangled (and simplified, with `simplify`), or `None` when
/// it holds none; and how many it held.
fn demangle_line(text: &str, simplify: bool, depth: usize) -> (Option<String>, u64) {
    let opts = simplify::Options { depth };
    let mut count = 0;
    let changed = demangle::demangle_text(text, &mut |name| {
        count += 1;
        if simplify {
            simplify::simplify(&name, &opts)
        } else {
            name
        }
    });
    (changed, count)
}

/// Reads one input and writes its records and the summary: the whole filter for one input.
pub fn run<R: BufRead>(
    input: &str,
    reader: R,
    opts: Options,
    out: &mut dyn Printer<Record>,
) -> Result<Summary, Error> {
    let mut filter = Filter::new(opts);
    filter.read(input, reader, out)?;
    filter.finish(out)
}

impl Filter {
    /// A filter with these options.
    pub fn new(opts: Options) -> Self {
        Filter {
            opts,
            summary: Summary::default(),
            notes: Vec::new(),
            count_demangled: true,
            scratch: Vec::new(),
            deferred: VecDeque::new(),
            baseline: None,
            fingerprints: HashSet::new(),
            read_ahead: false,
            ahead: None,
        }
    }

    /// Reads the inputs that follow ahead, in chunks, with a second thread demangling the
    /// lines of every other chunk (see [`ahead`]): for files, whose lines are all there.
    /// The output is the same either way; a pipe from a live gdb session must not be read
    /// ahead, or its lines would wait for a chunk to fill.
    pub fn set_read_ahead(&mut self, on: bool) {
        self.read_ahead = on;
    }

    /// Compares each crash with `baseline`'s (an earlier run's crashes by fingerprint): it is
    /// marked `new` or `known`, and the baseline's crashes no input shows are written as
    /// `fixed` lines before the summary.
    pub fn set_baseline(&mut self, baseline: BTreeMap<String, FixedCrash>) {
        self.baseline = Some(baseline);
    }

    /// Fingerprints a crash and, with a baseline, marks it; then writes it.
    fn write_crash(
        &mut self,
        mut record: CrashRecord,
        out: &mut dyn Printer<Record>,
    ) -> io::Result<()> {
        self.summary.crashes += 1;
        record.fingerprint =
            signature::fingerprint(record.signal.as_deref(), &record.signature_functions);
        record.baseline = None;
        if let Some(baseline) = &self.baseline {
            let known = record
                .fingerprint
                .as_ref()
                .is_some_and(|f| baseline.contains_key(f));
            if known {
                self.summary.known += 1;
                record.baseline = Some(BaselineMark::Known);
            } else {
                self.summary.new += 1;
                record.baseline = Some(BaselineMark::New);
            }
            if let Some(f) = &record.fingerprint {
                self.fingerprints.insert(f.clone());
            }
        }
        out.record(&Record::Crash(record))
    }

    /// The counts so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Notes for a person gathered so far: an input that held lines but nothing bt-demangle
    /// reads (no frame, signal report, thread header, record or mangled name: a Valgrind
    /// log, say) gets `INPUT: no gdb frames or signal found (…); N lines passed through`.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Reads one input (one gdb session, or bt-demangle's JSON lines), writing its records
    /// as they come and its crash record at its end. An executable or binary data is refused
    /// before anything is written.
    pub fn read<R: BufRead>(
        &mut self,
        input: &str,
        mut reader: R,
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        let head = loop {
            match reader.fill_buf() {
                Ok(head) => break head,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(input, &e)),
            }
        };
        match Content::of(head) {
            // Usually `--project lib.so` written without `=`: the pattern became an input.
            Content::Elf => {
                return Err(Error::at(
                    input,
                    None,
                    "is an executable or shared object, not gdb's output (was it meant as \
                     --project=PATTERN? a pattern is given with `=`)",
                ))
            }
            content => {
                if let Some(refused) = content.refuse(input) {
                    return Err(refused);
                }
            }
        }
        let before = self.summary.clone();
        let mut r = Reading {
            parser: gdb::Parser::new(),
            state: InputState::default(),
            lines: 0,
            valgrind_lines: 0,
        };
        if self.read_ahead {
            let (simplify, depth) = (self.opts.simplify, self.opts.depth);
            let demangle = move |text: &str| demangle_line(text, simplify, depth);
            ahead::read(&mut reader, &demangle, &mut |chunk| {
                let mut start = 0;
                let mut demangled = chunk.demangled.into_iter();
                for (end, how) in chunk.ends {
                    self.ahead = demangled.next();
                    self.line(input, &chunk.bytes[start..end], how, &mut r, out)?;
                    start = end;
                }
                self.ahead = None;
                match chunk.error {
                    Some(e) => Err(Error::at(input, Some(r.lines + 1), e.to_string())),
                    None => Ok(()),
                }
            })?;
        } else {
            let mut buf = Vec::with_capacity(256);
            loop {
                let how = match read_line(&mut reader, &mut buf, MAX_LINE) {
                    Ok(Some(how)) => how,
                    Ok(None) => break,
                    Err(e) => {
                        return Err(Error::at(input, Some(r.lines + 1), e.to_string()));
                    }
                };
                self.line(input, &buf, how, &mut r, out)?;
                if buf.capacity() > KEEP_CAPACITY {
                    buf = Vec::with_capacity(256);
                }
            }
        }
        let Reading {
            mut parser,
            mut state,
            lines: read_lines,
            valgrind_lines,
        } = r;
        let at = (input, read_lines);
        parser.finish(&mut |ev| self.event(ev, &mut state, out, at, None))?;
        let session = std::mem::take(&mut state.session);
        let named = CrashThread {
            stopped: parser.stopped_thread(),
            current: parser.current_thread(),
        };
        self.end_session(input, named, session, None, out)?;

        // Lines of gdb's text; the records' lines are `records_read`, and the lines of the
        // runs that wrote them came with their summaries.
        self.summary.lines += read_lines - state.record_lines;
        // An input of JSON lines with their summary is the inputs that summary counts.
        if state.summaries == 0 {
            self.summary.inputs += 1;
        }
        let demangled = self.summary.demangled - before.demangled;
        let passed = self.summary.passed_lines - before.passed_lines + self.summary.foreign_records
            - before.foreign_records;
        // A Valgrind log is the usual mistake (vg-filter's input): say so, whatever else
        // (mangled names) it held.
        if !state.recognised && valgrind_lines > 0 && valgrind_lines * 4 >= read_lines {
            self.notes.push(format!(
                "{input}: expected gdb's bt/backtrace output, but this looks like a Valgrind \
                 log ({valgrind_lines} of {read_lines} lines start with ==PID==): read it \
                 with vg-filter; {passed} lines passed through"
            ));
        } else if read_lines > 0 && !state.recognised && demangled == 0 {
            self.notes.push(format!(
                "{input}: no gdb frames or signal found (expected gdb's bt/backtrace output); \
                 {passed} lines passed through"
            ));
        }
        Ok(())
    }

    /// One line of an input, read up to `how` it ended.
    fn line(
        &mut self,
        input: &str,
        bytes: &[u8],
        how: LineEnd,
        r: &mut Reading,
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        r.lines += 1;
        if how.cut {
            self.summary.long_lines += 1;
        }
        r.valgrind_lines += u64::from(is_valgrind_line(bytes));
        let line = match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(bytes),
        };
        // A line that is not UTF-8 is passed through as its bytes when nothing in it
        // changes (see `pass`).
        let raw = matches!(line, Cow::Owned(_)).then_some((bytes, &line[..]));
        let at = (input, r.lines);
        let state = &mut r.state;
        let mut emit = |ev: Event<'_>| self.event(ev, state, out, at, raw);
        if how.newline {
            r.parser.push(&line, &mut emit)?;
        } else {
            // Only an input's last line lacks its newline: the input was cut there.
            r.parser.push_cut(&line, &mut emit)?;
        }
        if !r.parser.is_holding() {
            self.deferred.clear();
        } else if let Some((bytes, text)) = raw {
            self.deferred.push_back((text.to_string(), bytes.to_vec()));
        }
        Ok(())
    }

    /// Writes the summary and ends the output; returns the summary.
    pub fn finish(mut self, out: &mut dyn Printer<Record>) -> Result<Summary, Error> {
        for (fingerprint, fixed) in self.baseline.take().unwrap_or_default() {
            if !self.fingerprints.contains(&fingerprint) {
                self.summary.fixed += 1;
                out.record(&Record::Fixed(fixed))?;
            }
        }
        out.record(&Record::Summary(self.summary.clone()))?;
        out.finish()?;
        Ok(self.summary)
    }

    fn event(
        &mut self,
        ev: Event<'_>,
        state: &mut InputState,
        out: &mut dyn Printer<Record>,
        (input, line_number): (&str, u64),
        raw: Option<(&[u8], &str)>,
    ) -> Result<(), Error> {
        match ev {
            Event::Frame(f) => {
                state.recognised = true;
                self.frame(f, &mut state.session, out)?
            }
            Event::Stop(f) => {
                state.recognised = true;
                self.stop(f, &mut state.session, out)?
            }
            Event::PyFrame(p, line) => {
                state.recognised = true;
                self.summary.py_frames += 1;
                let class = classify::classify_python(&mut self.opts.project, p.file.as_deref());
                let text = self.demangle_in(line).unwrap_or_else(|| line.to_string());
                out.record(&Record::PyFrame(PyFrameRecord {
                    thread: p.thread,
                    lwp: p.lwp,
                    index: p.index,
                    function: p.function,
                    file: p.file,
                    line: p.line,
                    class,
                    truncated: p.truncated,
                    text: Some(text),
                }))?
            }
            Event::Signal(s, line) => {
                state.recognised = true;
                state.session.signal.get_or_insert(s);
                self.pass(line, out, raw)?
            }
            Event::Thread(_, line) => {
                state.recognised = true;
                self.pass(line, out, raw)?
            }
            Event::Unparsed(line) => {
                self.summary.unparsed_lines += 1;
                self.pass(line, out, raw)?
            }
            // A JSON line indented as gdb indents a frame's locals is still one: it is read
            // as JSON lines are, wherever it stands.
            Event::Detail(line) | Event::Other(line) => match json_line(line) {
                // Another tool's summary is passed on, as any record of another tool.
                Json::Record(record) => match *record {
                    Record::Summary(s) if s.tool != TOOL => {
                        self.pass_unchanged(line.trim(), out)?
                    }
                    record => {
                        state.recognised = true;
                        state.record_lines += 1;
                        self.summary.records_read += 1;
                        self.count_demangled = false;
                        let result = self.read_back(record, state, out);
                        self.count_demangled = true;
                        result?
                    }
                },
                // A record that says it is bt-demangle's and is not: written on, it would
                // be one more `frame` (say) than the summary counts.
                Json::Unreadable(kind, e) => {
                    return Err(Error::at(
                        input,
                        Some(line_number),
                        format!(
                            "a bt-demangle `{kind}` record that this version (schema {}) \
                             cannot read: {e}",
                            crate::output::SCHEMA
                        ),
                    ))
                }
                Json::Other(object) => self.pass_unchanged(object, out)?,
                Json::Text => self.pass(line, out, raw)?,
            },
        }
        Ok(())
    }

    /// A record of bt-demangle's JSON lines, taken as what gdb printed: frames and stops go
    /// through the same steps as parsed ones, from the function as gdb printed it.
    fn read_back(
        &mut self,
        record: Record,
        state: &mut InputState,
        out: &mut dyn Printer<Record>,
    ) -> io::Result<()> {
        match record {
            Record::Frame(f) => {
                let pseudo = is_marker(&f.frame, f.args.as_deref(), f.function_raw.as_deref());
                let line = self.reread(f.frame, f.function_raw, f.args, f.truncated, pseudo);
                let line = FrameLine {
                    index: Some(f.index),
                    thread: f.thread,
                    lwp: f.lwp,
                    ..line
                };
                self.frame(line, &mut state.session, out)
            }
            Record::Stop(s) => {
                let pseudo = is_marker(&s.frame, s.args.as_deref(), s.function_raw.as_deref());
                let line = self.reread(s.frame, s.function_raw, s.args, s.truncated, pseudo);
                let line = FrameLine {
                    thread: s.thread,
                    lwp: s.lwp,
                    ..line
                };
                self.stop(line, &mut state.session, out)
            }
            Record::PyFrame(mut p) => {
                self.summary.py_frames += 1;
                p.class = classify::classify_python(&mut self.opts.project, p.file.as_deref());
                p.text = None;
                out.record(&Record::PyFrame(p))
            }
            Record::Crash(c) => {
                let session = std::mem::take(&mut state.session);
                let thread = ThreadId {
                    number: c.thread,
                    lwp: c.lwp,
                };
                let named = CrashThread {
                    stopped: (!thread.is_unnamed()).then(|| gdb::Stopped {
                        thread,
                        name: c.thread_name.clone(),
                    }),
                    current: None,
                };
                let ending = Ending {
                    input: c.input.clone(),
                    signal: c.signal.clone().map(|signal| gdb::Signal {
                        signal,
                        description: c.description.clone(),
                        thread: c.thread,
                        thread_name: c.thread_name.clone(),
                    }),
                    record: Some(c),
                };
                let input = ending.input.clone();
                self.end_session(&input, named, session, Some(ending), out)
            }
            // The summary of the run that wrote these lines: this run writes its own, which
            // carries over what that run read and the records do not say.
            // A crash an earlier comparison found gone: nothing to show again.
            Record::Fixed(_) => {
                self.summary.foreign_records += 1;
                Ok(())
            }
            Record::Summary(s) => {
                state.summaries += 1;
                self.carry_over(&s);
                Ok(())
            }
        }
    }

    /// What an earlier run counted that its records do not say: the inputs and lines it read,
    /// the names it demangled, the lines and other tools' records it passed through, the
    /// lines it passed over or cut. (Frames,
    /// classes, threads and crashes are counted again from the records.)
    fn carry_over(&mut self, s: &Summary) {
        let sum = &mut self.summary;
        sum.inputs += s.inputs;
        sum.lines += s.lines;
        sum.demangled += s.demangled;
        sum.unparsed_lines += s.unparsed_lines;
        sum.long_lines += s.long_lines;
        sum.passed_lines += s.passed_lines;
        sum.foreign_records += s.foreign_records;
    }

    /// A frame of a record as the parser would have given it: the function as gdb printed
    /// it (the shown one when the record has no raw name).
    fn reread(
        &mut self,
        mut frame: Frame,
        function_raw: Option<String>,
        args: Option<String>,
        truncated: bool,
        pseudo: bool,
    ) -> FrameLine {
        if function_raw.is_some() {
            frame.function = function_raw;
        }
        FrameLine {
            frame,
            index: None,
            thread: None,
            lwp: None,
            args,
            pseudo,
            truncated,
            text: String::new(),
            lead: None,
        }
    }

    /// Passes a line through, its mangled names demangled; a line that was not UTF-8 and
    /// holds none goes out as its original bytes.
    fn pass(
        &mut self,
        line: &str,
        out: &mut dyn Printer<Record>,
        raw: Option<(&[u8], &str)>,
    ) -> io::Result<()> {
        self.summary.passed_lines += 1;
        self.scratch.clear();
        match self.demangle_in(line) {
            Some(changed) => self.scratch.extend_from_slice(changed.as_bytes()),
            None => match raw {
                // Only when the event's line is the line read (not a frame held from before,
                // or a line joined across a pager prompt).
                Some((bytes, text)) if text == line => self.scratch.extend_from_slice(bytes),
                _ => match self.deferred.iter().position(|(text, _)| text == line) {
                    Some(i) => {
                        let (_, bytes) = self.deferred.remove(i).unwrap_or_default();
                        self.scratch.extend_from_slice(&bytes);
                    }
                    None => self.scratch.extend_from_slice(line.as_bytes()),
                },
            },
        }
        self.scratch.push(b'\n');
        out.passthrough(&self.scratch)
    }

    /// Passes a JSON line of another type or tool on as it is.
    fn pass_unchanged(&mut self, line: &str, out: &mut dyn Printer<Record>) -> io::Result<()> {
        self.summary.foreign_records += 1;
        self.scratch.clear();
        self.scratch.extend_from_slice(line.as_bytes());
        self.scratch.push(b'\n');
        out.passthrough(&self.scratch)
    }

    fn demangle_in(&mut self, text: &str) -> Option<String> {
        let (changed, count) = match self.ahead.take() {
            // Worked out ahead, for the line being read: the same function of the same text.
            Some(ahead) if ahead.line == text => (ahead.changed, ahead.names),
            ahead => {
                self.ahead = ahead;
                demangle_line(text, self.opts.simplify, self.opts.depth)
            }
        };
        if self.count_demangled {
            self.summary.demangled += count;
        }
        changed
    }

    /// A frame's function as shown: demangled when gdb printed it mangled, then simplified;
    /// and its bare name for signatures.
    fn name(&mut self, raw: &str) -> Named {
        let mut demangled = None;
        if raw.starts_with("_Z") || raw.starts_with("_R") {
            demangled = demangle::demangle(raw);
            if demangled.is_some() && self.count_demangled {
                self.summary.demangled += 1;
            }
        }
        let full = demangled.as_deref().unwrap_or(raw);
        let shown = if self.opts.simplify {
            simplify::simplify(
                full,
                &simplify::Options {
                    depth: self.opts.depth,
                },
            )
        } else {
            full.to_string()
        };
        Named {
            shown,
            bare: simplify::bare_name(full),
        }
    }

    /// What every frame and stop location goes through: its class (from the name as gdb
    /// printed it), its name, its arguments demangled, and the cut text of a truncated one.
    fn shown(&mut self, mut f: FrameLine) -> (FrameLine, Option<String>, Class, Option<String>) {
        let class = classify::classify(&mut self.opts.project, &f.frame, f.pseudo);
        let raw = f.frame.function.clone();
        let mut bare = None;
        if let Some(named) = raw.as_deref().map(|n| self.name(n)) {
            f.frame.function = Some(named.shown);
            bare = (!f.pseudo).then_some(named.bare);
        }
        if let Some(args) = f.args.take() {
            f.args = Some(self.demangle_in(&args).unwrap_or(args));
        }
        if f.truncated && !f.text.is_empty() {
            let text = std::mem::take(&mut f.text);
            f.text = self.demangle_in(&text).unwrap_or(text);
        }
        (f, raw, class, bare)
    }

    fn stop(
        &mut self,
        f: FrameLine,
        session: &mut Session,
        out: &mut dyn Printer<Record>,
    ) -> io::Result<()> {
        let (f, function_raw, class, bare) = self.shown(f);
        if session.stop.is_none() {
            session.stop = Some(Lite {
                index: None,
                frame: f.frame.clone(),
                bare,
                class,
                truncated: f.truncated,
            });
        }
        let text = (f.truncated && !f.text.is_empty()).then_some(f.text);
        out.record(&Record::Stop(StopRecord {
            thread: f.thread,
            lwp: f.lwp,
            frame: f.frame,
            function_raw,
            args: f.args,
            class,
            truncated: f.truncated,
            text,
            lead: f.lead,
        }))
    }

    fn frame(
        &mut self,
        f: FrameLine,
        session: &mut Session,
        out: &mut dyn Printer<Record>,
    ) -> io::Result<()> {
        let (f, function_raw, class, bare) = self.shown(f);
        let index = f.index.unwrap_or(0);
        self.summary.frames += 1;
        match class {
            Class::Project => self.summary.project_frames += 1,
            Class::Python => self.summary.python_frames += 1,
            Class::System => self.summary.system_frames += 1,
            Class::Unknown => self.summary.unknown_frames += 1,
        }
        if f.truncated {
            self.summary.truncated_frames += 1;
        } else if matches!(f.args.as_deref().map(str::trim), Some("…" | "...")) {
            self.summary.shortened_args += 1;
        }
        // Stacks: a new one at #0, at a number that does not follow, or at a thread change;
        // only each thread's first one is kept. A thread's first frame always starts a stack
        // (its thread differs from the last frame's), so "new to `threads`" is "no stack yet",
        // found without a search through the stacks (and without hashing every frame).
        let key = thread_key(f.thread, f.lwp);
        let new_stack = index == 0
            || session.last_index.map_or(true, |last| index <= last)
            || session.last_thread != Some(key);
        if new_stack {
            // A thread's first frame always starts a stack: the set is only asked then.
            let first = session.threads.len() < MAX_THREADS && session.threads.insert(key);
            if let (Some(_), Some(lwp)) = (f.thread, f.lwp) {
                if session.numbered_lwps.len() < MAX_THREADS {
                    session.numbered_lwps.insert(lwp);
                }
            }
            session.open = first.then(|| {
                session.stacks.push(Stack {
                    thread: ThreadId {
                        number: f.thread,
                        lwp: f.lwp,
                    },
                    frames: Vec::new(),
                    handler: false,
                });
                session.stacks.len() - 1
            });
            // A thread past the cap has no stack: its frames are dropped below.
            session.untracked = !first && !session.threads.contains(&key);
        }
        session.last_index = Some(index);
        session.last_thread = Some(key);
        let kept = match session.open {
            Some(open) if session.stacks[open].frames.len() < MAX_STACK => Some(open),
            Some(_) => {
                self.summary.dropped_frames += 1;
                None
            }
            None => {
                if session.untracked {
                    self.summary.dropped_frames += 1;
                }
                None
            }
        };
        if let Some(open) = kept {
            let stack = &mut session.stacks[open];
            stack.handler |= f.pseudo
                && function_raw.as_deref().map(str::trim_end) == Some("<signal handler called>");
            if stack.thread.lwp.is_none() {
                stack.thread.lwp = f.lwp;
            }
            stack.frames.push(Lite {
                index: f.index,
                frame: f.frame.clone(),
                bare,
                class,
                truncated: f.truncated,
            });
        }
        let text = (f.truncated && !f.text.is_empty()).then_some(f.text);
        out.record(&Record::Frame(FrameRecord {
            thread: f.thread,
            lwp: f.lwp,
            index,
            // gdb prints no address for frame #0 stopped at the first instruction of a line.
            inlined: f.frame.addr.is_none() && !f.pseudo && index != 0,
            frame: f.frame,
            function_raw,
            args: f.args,
            class,
            truncated: f.truncated,
            text,
        }))
    }

    /// The crash record of a session that showed a signal or a frame (or that a crash record
    /// read back ends).
    ///
    /// The crashing thread is the one a report names (signal, core file's current thread,
    /// breakpoint); else the one whose stack holds `<signal handler called>`; else the one the
    /// session switched to; else the first backtrace's. Its first backtrace is the crash's
    /// frames (the stop location when it has none). A top frame cut by the end of an excerpt
    /// (`bt` repeating a stop line, cut inside the name) is the stop location when that is
    /// the same frame (the same address), which was printed whole.
    fn end_session(
        &mut self,
        input: &str,
        named: CrashThread,
        session: Session,
        ending: Option<Ending>,
        out: &mut dyn Printer<Record>,
    ) -> io::Result<()> {
        // Frames of an unnamed thread (a plain `bt`) are one of the named ones, when any; a
        // thread named by its LWP alone is one with a number when that has the same LWP.
        let named_threads = session
            .threads
            .iter()
            .filter(|t| match (t.number, t.lwp) {
                (Some(_), _) => true,
                (None, Some(lwp)) => !session.numbered_lwps.contains(&lwp),
                (None, None) => false,
            })
            .count();
        self.summary.threads += match named_threads {
            0 => u64::from(!session.threads.is_empty()),
            n => n as u64,
        };
        let stopped = named.stopped.as_ref().map(|s| s.thread);
        let of = |t: ThreadId| session.stacks.iter().find(|s| s.thread.same(&t));
        let stack = match stopped {
            Some(t) => of(t).or_else(|| {
                // The reported thread's stack is not in the input: its stop location says
                // more than another thread's stack.
                session
                    .stop
                    .is_none()
                    .then(|| session.stacks.first())
                    .flatten()
            }),
            None => session
                .stacks
                .iter()
                .find(|s| s.handler)
                .or_else(|| named.current.and_then(of))
                .or(session.stacks.first()),
        };
        let mut thread = stack.map(|s| s.thread).unwrap_or_default();
        let mut thread_name = None;
        if let Some(s) = &named.stopped {
            if stack.map_or(true, |st| {
                st.thread.same(&s.thread) || st.thread.is_unnamed()
            }) {
                thread.number = thread.number.or(s.thread.number);
                thread.lwp = thread.lwp.or(s.thread.lwp);
                thread_name = s.name.clone();
            }
        }
        let whole_top: Option<Lite> = match (stack.and_then(|s| s.frames.first()), &session.stop) {
            (Some(top), Some(stop))
                if top.truncated
                    && !stop.truncated
                    && top.frame.addr.is_some()
                    && top.frame.addr == stop.frame.addr =>
            {
                Some(Lite {
                    index: top.index,
                    ..stop.clone()
                })
            }
            _ => None,
        };
        let mut frames: Vec<&Lite> = match (stack, &session.stop) {
            (Some(s), _) if !s.frames.is_empty() => s.frames.iter().collect(),
            (_, Some(stop)) => vec![stop],
            _ => Vec::new(),
        };
        if let Some(top) = &whole_top {
            frames[0] = top;
        }
        let (signal, read) = match ending {
            Some(e) => (e.signal, e.record),
            None => (session.signal, None),
        };
        if frames.is_empty() {
            match read {
                // Read back without any frame of its session: nothing to recompute it from.
                Some(record) => return self.write_crash(record, out),
                None if signal.is_none() => return Ok(()),
                None => {}
            }
        }
        let names = signature::functions(frames.iter().map(|f| (f.class, f.bare.as_deref())));
        let record = CrashRecord {
            input: input.to_string(),
            signature: (!names.is_empty()).then(|| signature::hash(&names)),
            signature_functions: names,
            description: signal.as_ref().and_then(|s| s.description.clone()),
            thread: thread.number,
            lwp: thread.lwp,
            thread_name,
            signal: signal.map(|s| s.signal),
            frames: frames.len(),
            top_frame: frames.first().map(|f| f.reference()),
            project_frame: frames
                .iter()
                .find(|f| f.class == Class::Project)
                .map(|f| f.reference()),
            fingerprint: None,
            baseline: None,
        };
        self.write_crash(record, out)
    }
}

/// A frame or stop record read back is one of gdb's markers (`<signal handler called>`): no
/// address, no argument list, and the marker's text. (A frame #0 without an address is not
/// inlined, and no marker either.)
fn is_marker(frame: &Frame, args: Option<&str>, function_raw: Option<&str>) -> bool {
    frame.addr.is_none() && args.is_none() && function_raw.is_some_and(gdb::is_pseudo)
}

/// `==1234== …`: a line of a Valgrind log.
fn is_valgrind_line(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"==") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && rest[digits..].starts_with(b"==")
}

/// What a line that may be JSON is.
enum Json<'a> {
    /// One of bt-demangle's records (boxed: a record is large, and most lines are text).
    Record(Box<Record>),
    /// A JSON object of one of bt-demangle's types (`summary`: of bt-demangle) that does not
    /// read as one: its type, and why.
    Unreadable(String, String),
    /// A JSON object of another type or tool, trimmed.
    Other(&'a str),
    /// Not a JSON object: text.
    Text,
}

/// Tells a JSON line from text: a line that is a JSON object is a record when it reads as
/// one of bt-demangle's, else another tool's (or type's) record.
fn json_line(line: &str) -> Json<'_> {
    let trimmed = line.trim();
    if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
        return Json::Text;
    }
    // Schema 1 named a frame's object `library`: such records read as schema 2.
    let read = if trimmed.contains("\"library\":") {
        serde_json::from_str::<serde_json::Value>(trimmed).and_then(|mut value| {
            schema1(&mut value);
            serde_json::from_value::<Record>(value)
        })
    } else {
        serde_json::from_str::<Record>(trimmed)
    };
    let error = match read {
        Ok(record) => return Json::Record(Box::new(record)),
        Err(e) => e,
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed) else {
        return Json::Text;
    };
    let kind = value.get("type").and_then(|t| t.as_str()).unwrap_or("");
    let ours = match kind {
        "frame" | "stop" | "py_frame" | "crash" => true,
        "summary" => value.get("tool").and_then(|t| t.as_str()) == Some(TOOL),
        _ => false,
    };
    if ours {
        Json::Unreadable(kind.to_string(), error.to_string())
    } else {
        Json::Other(trimmed)
    }
}

/// Schema 1's `library` (of a frame record, a crash's `top_frame` and `project_frame`)
/// renamed `object`.
fn schema1(value: &mut serde_json::Value) {
    let rename = |v: &mut serde_json::Value| {
        if let Some(object) = v.as_object_mut() {
            if let Some(library) = object.remove("library") {
                object.entry("object").or_insert(library);
            }
        }
    };
    rename(value);
    for key in ["top_frame", "project_frame"] {
        if let Some(frame) = value.get_mut(key) {
            rename(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtrace::print::{printer, TextOptions};
    use crate::output::Format;

    fn opts() -> Options {
        Options {
            project: Project::Patterns(vec!["myext".into()].into()),
            simplify: true,
            depth: 2,
        }
    }

    fn output_with(
        text: &[u8],
        opts: Options,
        format: Format,
        text_opts: TextOptions,
    ) -> (String, Summary) {
        let mut out = Vec::new();
        let summary = {
            let mut p = printer(format, text_opts, &mut out, Box::new(io::sink()), false).unwrap();
            run("t", text, opts, &mut *p).unwrap()
        };
        (String::from_utf8(out).unwrap(), summary)
    }

    fn output(text: &str, format: Format) -> (String, Summary) {
        output_with(text.as_bytes(), opts(), format, TextOptions::default())
    }

    const BACKTRACE: &str = "\
Program received signal SIGSEGV, Segmentation fault.
0x1 in store (p=0x0) at /src/myext/m.c:3
3\t  *p = 1;
#0  0x1 in store (p=0x0) at /src/myext/m.c:3
#1  0x2 in _ZN5myext4callEv () from /x/myext.so
#2  0x3 in cfunction_call (a=1) at Objects/methodobject.c:1
#3  0x4 in _PyEval_EvalFrameDefault (f=<_ZN3foo3barEv+16>) at Python/ceval.c:2
#4  0x5 in PyEval_EvalCode () at Python/ceval.c:3
#5  0x6 in main () at Programs/python.c:15
";

    #[test]
    fn text_output() {
        let (out, summary) = output(BACKTRACE, Format::Text);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "Program received signal SIGSEGV, Segmentation fault."
        );
        assert_eq!(lines[1], "0x1 in store (…) at /src/myext/m.c:3  <- project");
        assert_eq!(lines[2], "3\t  *p = 1;");
        assert_eq!(
            lines[3],
            "#0  0x1 in store (…) at /src/myext/m.c:3  <- project"
        );
        assert_eq!(
            lines[4],
            "#1  0x2 in myext::call() () from /x/myext.so  <- project"
        );
        assert_eq!(lines[5], "    … 4 interpreter frames …");
        // `Program received signal` names no thread (gdb before 8 says it of any thread).
        assert!(lines[6].starts_with("crash: SIGSEGV (Segmentation fault), signature "));
        assert_eq!(lines[7], "  top: #0 store at /src/myext/m.c:3");
        assert!(lines[8]
            .starts_with("6 frames (2 project, 4 python, 0 system, 0 unknown) in 1 thread(s)"));
        // The function and the name in #3's arguments, shown or not.
        assert_eq!(summary.demangled, 2);

        // The report read again: its frames are whole (the arguments shortened, the
        // project mark no part of the location), and the summary says which is which:
        // #0's arguments were shortened, #1 has none, the interpreter's were folded away.
        let (again, back) = output(&out, Format::Text);
        assert_eq!((back.truncated_frames, back.shortened_args), (0, 1));
        assert_eq!(back.project_frames, 2);
        assert!(
            again.contains("  top: #0 store at /src/myext/m.c:3\n"),
            "{again}"
        );
        assert!(
            again.contains("; 1 frames with shortened arguments\n"),
            "{again}"
        );
        assert!(!again.contains("cut frames"), "{again}");

        let all = TextOptions {
            all: true,
            keep_args: true,
        };
        let (out, summary) = output_with(BACKTRACE.as_bytes(), opts(), Format::Text, all);
        assert!(
            out.contains(
                "#3  0x4 in _PyEval_EvalFrameDefault (f=<foo::bar()+16>) at Python/ceval.c:2\n"
            ),
            "{out}"
        );
        assert!(out.contains("#0  0x1 in store (p=0x0) at"));
        assert_eq!(summary.demangled, 2);
    }

    #[test]
    fn jsonl_records() {
        let (out, summary) = output(BACKTRACE, Format::Jsonl);
        let recs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs.len(), 1 + 6 + 2);
        assert_eq!(recs[0]["type"], "stop");
        assert_eq!(recs[0]["function"], "store");
        assert_eq!(recs[0]["class"], "project");
        assert_eq!(
            recs[2],
            serde_json::json!({"type":"frame","thread":null,"lwp":null,"index":1,"addr":"0x2","function":"myext::call()",
                "file":null,"line":null,"object":"/x/myext.so","function_raw":"_ZN5myext4callEv","args":"",
                "inlined":false,"class":"project","truncated":false})
        );
        assert_eq!(recs[4]["args"], "f=<foo::bar()+16>");
        let crash = &recs[7];
        assert_eq!(crash["type"], "crash");
        assert_eq!(
            crash["signature_functions"],
            serde_json::json!(["store", "myext::call"])
        );
        assert_eq!(
            crash["project_frame"],
            serde_json::json!({"index":0,"addr":"0x1","function":"store","file":"/src/myext/m.c",
                "line":3,"object":null})
        );
        assert_eq!(recs[8]["type"], "summary");
        assert_eq!(
            summary.frames,
            summary.project_frames
                + summary.python_frames
                + summary.system_frames
                + summary.unknown_frames
        );
        assert_eq!(
            (summary.frames, summary.threads, summary.crashes),
            (6, 1, 1)
        );
        // Three lines of gdb's own (the signal report, the source line, nothing else).
        assert_eq!((summary.passed_lines, summary.records_read), (2, 0));
    }

    #[test]
    fn csv_rows_through_the_csv_crate() {
        let text = "#0  0x1 in f (a=1) at /src/myext/a, b.c:3\n";
        let (out, _) = output(text, Format::Csv);
        assert_eq!(
            out,
            "thread,index,class,function,file,line,object,addr,inlined,lwp\n,0,project,f,\"/src/myext/a, b.c\",3,,0x1,false,\n"
        );
        // Empty input: the header alone (the summary goes to standard error).
        assert_eq!(
            output("", Format::Csv).0,
            "thread,index,class,function,file,line,object,addr,inlined,lwp\n"
        );
    }

    /// JSON lines read back: the same records with this run's options, the crash recomputed
    /// (here with another project), other JSON passed on, bt-demangle's summary replaced.
    #[test]
    fn json_lines_read_back() {
        let (jsonl, first) = output(BACKTRACE, Format::Jsonl);
        let (again, second) = output(&jsonl, Format::Jsonl);
        let strip = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.starts_with("{\"type\":\"summary\""))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(strip(&again), strip(&jsonl));
        assert_eq!(second.frames, first.frames);
        assert_eq!(second.crashes, 1);
        assert_eq!(second.records_read, 9);
        // The first run's, carried over: this one passed nothing through.
        assert_eq!(second.passed_lines, first.passed_lines);
        assert_eq!(
            again.lines().filter(|l| l.contains("\"summary\"")).count(),
            1
        );

        // Another project: classes and the crash follow it.
        let other = Options {
            project: Project::Patterns(vec!["ceval".into()].into()),
            ..opts()
        };
        let mixed = format!("{{\"type\":\"other\",\"x\":1}}\n{jsonl}{{\"type\":\"summary\",\"tool\":\"vg-filter\"}}\n");
        let (out, summary) = output_with(
            mixed.as_bytes(),
            other,
            Format::Jsonl,
            TextOptions::default(),
        );
        let recs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs[0], serde_json::json!({"type":"other","x":1}));
        let crash = recs.iter().find(|r| r["type"] == "crash").unwrap();
        assert_eq!(
            crash["project_frame"]["function"],
            "_PyEval_EvalFrameDefault"
        );
        assert_eq!(crash["input"], "t");
        assert_eq!(summary.project_frames, 2);
        assert_eq!(recs[recs.len() - 2]["tool"], "vg-filter");
        assert_eq!(recs[recs.len() - 1]["tool"], "bt-demangle");
        assert_eq!(summary.passed_lines, first.passed_lines);
        assert_eq!(summary.foreign_records, 2);

        // In text: the records as the text report shows them.
        let (text, _) = output(&jsonl, Format::Text);
        let (direct, _) = output(BACKTRACE, Format::Text);
        let records_only: Vec<&str> = direct
            .lines()
            .filter(|l| !l.starts_with("Program received") && !l.starts_with("3\t"))
            .collect();
        // The summary line too: what the first run read and demangled is carried over.
        assert_eq!(text.lines().collect::<Vec<_>>(), records_only);
    }

    /// What a run counted that its records do not say is carried over by its summary, so a
    /// summary read back says what the first one said (but for the records it read).
    #[test]
    fn summaries_carry_over() {
        let (jsonl, first) = output(BACKTRACE, Format::Jsonl);
        let (_, second) = output(&jsonl, Format::Jsonl);
        assert_eq!(
            Summary {
                records_read: 0,
                ..second.clone()
            },
            first
        );
        assert_eq!(second.records_read, 9);
        // Two runs' lines, merged: their counts add up.
        let (_, merged) = output(&format!("{jsonl}{jsonl}"), Format::Jsonl);
        assert_eq!(
            (merged.inputs, merged.lines, merged.frames, merged.crashes),
            (2, 2 * first.lines, 2 * first.frames, 2)
        );
        // Records without their summary (filtered by a script): the frames count, what the
        // first run read does not.
        let frames: String = jsonl
            .lines()
            .filter(|l| l.starts_with("{\"type\":\"frame\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let (_, bare) = output(&frames, Format::Jsonl);
        assert_eq!(
            (bare.inputs, bare.lines, bare.frames, bare.demangled),
            (1, 0, 6, 0)
        );
    }

    /// Schema 1 called a frame's object `library`: its records read as schema 2.
    #[test]
    fn schema_1_records_read_back() {
        let old = r#"{"type":"frame","thread":1,"index":0,"addr":"0x2","function":"call","function_raw":"call","args":"","file":null,"line":null,"library":"/x/myext.so","inlined":false,"class":"unknown","truncated":false}
{"type":"crash","input":"t","signal":"SIGSEGV","description":null,"thread":1,"thread_name":null,"signature":"x","signature_functions":[],"frames":1,"top_frame":{"index":0,"function":"call","file":null,"line":null,"library":"/x/myext.so"},"project_frame":null}
"#;
        let (out, summary) = output(old, Format::Jsonl);
        assert_eq!(summary.project_frames, 1, "{out}");
        let recs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs[0]["object"], "/x/myext.so");
        assert_eq!(recs[0]["class"], "project");
        assert_eq!(recs[1]["project_frame"]["object"], "/x/myext.so");
        assert!(!out.contains("library"), "{out}");
    }

    /// gdb's markers read back as markers (no address, not inlined, the system's), and a
    /// frame that only looks like one (it has an argument list) as a frame.
    #[test]
    fn markers_read_back_as_markers() {
        let text = "#0  0x1 in f () from /usr/lib/libc.so.6\n#1  <signal handler called>\n#2  <signal handler called> ()\n#3  0x2 in g () at /src/myext/g.c:1\n";
        let (first, _) = output(text, Format::Jsonl);
        let (second, _) = output(&first, Format::Jsonl);
        let frames = |s: &str| -> Vec<serde_json::Value> {
            s.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|r| r["type"] == "frame")
                .collect()
        };
        assert_eq!(frames(&second), frames(&first));
        let f = frames(&first);
        assert_eq!(
            (&f[1]["inlined"], &f[1]["class"]),
            (&false.into(), &"system".into())
        );
        assert_eq!(
            (&f[2]["inlined"], &f[2]["class"]),
            (&true.into(), &"unknown".into())
        );
    }

    /// Crash records split read-back sessions; a crash record without frames is kept.
    #[test]
    fn crash_records_end_sessions() {
        let (a, _) = output(BACKTRACE, Format::Jsonl);
        let (b, _) = output(&BACKTRACE.replace("store", "other"), Format::Jsonl);
        let body = |s: &str| {
            s.lines()
                .filter(|l| !l.contains("\"summary\""))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        };
        let both = format!("{}{}", body(&a), body(&b));
        let (out, summary) = output(&both, Format::Jsonl);
        assert_eq!(summary.crashes, 2);
        let crashes: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r["type"] == "crash")
            .collect();
        assert_ne!(crashes[0]["signature"], crashes[1]["signature"]);
        assert_eq!(crashes[1]["top_frame"]["function"], "other");

        let lone = a.lines().find(|l| l.contains("\"crash\"")).unwrap();
        let (out, summary) = output(&format!("{lone}\n"), Format::Jsonl);
        assert_eq!(out.lines().next(), Some(lone));
        assert_eq!(summary.crashes, 1);
    }

    #[test]
    fn symbols_and_many_backtraces_in_one_input() {
        let mut text = String::new();
        for i in 0..300 {
            text.push_str(&format!("_ZN3foo3barILi{i}EEEvv\n{BACKTRACE}"));
        }
        let (out, summary) = output(&text, Format::Text);
        assert_eq!((summary.lines, summary.frames), (300 * 10, 300 * 6));
        // One input is one gdb session: one crash record, from its first backtrace.
        assert_eq!(summary.crashes, 1);
        // Passed-through names are simplified too: the return type of a template goes.
        assert!(
            out.starts_with("foo::bar<0>()\nProgram received signal"),
            "{}",
            &out[..100]
        );
        let no_simplify = Options {
            simplify: false,
            ..opts()
        };
        let (out, _) = output_with(
            text.as_bytes(),
            no_simplify,
            Format::Text,
            TextOptions::default(),
        );
        assert!(out.starts_with("void foo::bar<0>()\n"), "{}", &out[..100]);
    }

    /// Caps on what is kept for the crash record, counted: a deep stack and many threads.
    /// The threads also used to be found by a search through every stack for each new one,
    /// quadratic in the number of threads.
    #[test]
    fn deep_stacks_and_many_threads_are_capped_and_counted() {
        let mut text = String::new();
        for i in 0..MAX_STACK + 7 {
            text.push_str(&format!("#{i}  0x1 in f{i} () from /usr/lib/libc.so.6\n"));
        }
        let (_, summary) = output(&text, Format::Jsonl);
        assert_eq!(summary.frames, MAX_STACK as u64 + 7);
        assert_eq!(summary.dropped_frames, 7);

        let mut text = String::new();
        for t in 1..=MAX_THREADS + 20 {
            text.push_str(&format!(
                "Thread {t} (Thread 0x1 (LWP {t})):\n#0  0x1 in g () from /usr/lib/libc.so.6\n#1  0x2 in h () from /usr/lib/libc.so.6\n"
            ));
        }
        let (out, summary) = output(&text, Format::Text);
        assert_eq!(summary.threads, MAX_THREADS as u64);
        assert_eq!(summary.frames, 2 * (MAX_THREADS as u64 + 20));
        assert_eq!(summary.dropped_frames, 2 * 20);
        assert!(
            out.contains("40 frames past the caps not kept"),
            "{}",
            &out[out.len() - 300..]
        );
    }

    /// Text mode folds runs of interpreter frames; a run's text is no longer kept once it is
    /// known to be folded, and a lone frame still shows with its details.
    #[test]
    fn long_runs_of_interpreter_frames_fold_to_a_count() {
        let mut text = String::from("#0  0x1 in _PyEval_EvalFrameDefault () at Python/ceval.c:2\n        x = 1\n#1  0x9 in f () from /usr/lib/libc.so.6\n");
        for i in 2..20_002 {
            text.push_str(&format!(
                "#{i}  0x1 in _PyEval_EvalFrameDefault () at Python/ceval.c:2\n        x = 1\n"
            ));
        }
        let (out, _) = output(&text, Format::Text);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "#0  0x1 in _PyEval_EvalFrameDefault () at Python/ceval.c:2"
        );
        assert_eq!(lines[1], "        x = 1");
        assert_eq!(lines[3], "    … 20000 interpreter frames …");
        assert!(lines[4].starts_with("crash: "), "{}", lines[4]);
    }

    /// Input that is no gdb output gets a note; a symbol list, gdb's output and empty input
    /// do not; an executable is refused.
    #[test]
    fn input_that_is_no_gdb_output() {
        let note = |text: &[u8]| {
            let mut filter = Filter::new(opts());
            let mut out = Vec::new();
            let mut p = printer(
                Format::Text,
                TextOptions::default(),
                &mut out,
                Box::new(io::sink()),
                false,
            )
            .unwrap();
            filter.read("in.log", text, &mut *p)?;
            let mut notes = filter.take_notes();
            assert!(notes.len() <= 1, "{notes:?}");
            Ok::<_, Error>(notes.pop())
        };
        let valgrind = b"==12== Memcheck, a memory error detector\n==12== \n==12== HEAP SUMMARY:\n";
        assert_eq!(
            note(valgrind).unwrap().as_deref(),
            Some("in.log: expected gdb's bt/backtrace output, but this looks like a Valgrind log (3 of 3 lines start with ==PID==): read it with vg-filter; 3 lines passed through")
        );
        // With a C++ name Valgrind left mangled: still a Valgrind log.
        let mangled = b"==12== Invalid read of size 4\n==12==    at 0x1: _ZN3foo3barEv (a.cc:3)\n";
        assert!(note(mangled)
            .unwrap()
            .unwrap()
            .contains("looks like a Valgrind log (2 of 2 lines"));
        let other = b"hello\nworld\n";
        assert_eq!(
            note(other).unwrap().as_deref(),
            Some("in.log: no gdb frames or signal found (expected gdb's bt/backtrace output); 2 lines passed through")
        );
        assert_eq!(note(b"_ZN3foo3barEv\n").unwrap(), None);
        assert_eq!(note(BACKTRACE.as_bytes()).unwrap(), None);
        assert_eq!(note(b"Thread 2 (Thread 0x1 (LWP 3)):\n").unwrap(), None);
        assert_eq!(note(b"").unwrap(), None);
        let e = note(b"\x7fELF\x02\x01\x01\0\0\0").unwrap_err();
        assert_eq!(
            e.to_string(),
            "in.log: is an executable or shared object, not gdb's output (was it meant as \
             --project=PATTERN? a pattern is given with `=`)"
        );
        // Another tool's records, and nothing else: the note counts them.
        let vg = b"{\"type\":\"error\",\"kind\":\"Leak\"}\n{\"type\":\"summary\",\"tool\":\"vg-filter\"}\n";
        assert!(note(vg)
            .unwrap()
            .unwrap()
            .ends_with("; 2 lines passed through"));
        let e = note(b"\0\0\0\x01\x02").unwrap_err();
        assert_eq!(e.to_string(), "in.log: is binary data, not a log");
    }

    /// A JSON line of one of bt-demangle's types that does not read as one is an error naming
    /// its line (as vg-filter's): passed on, it would be a record the summary does not count.
    #[test]
    fn a_record_that_does_not_read_is_an_error() {
        let mut out = Vec::new();
        let mut p = printer(
            Format::Jsonl,
            TextOptions::default(),
            &mut out,
            Box::new(io::sink()),
            false,
        )
        .unwrap();
        let text = "#0  0x1 in f () at a.c:1\n{\"type\":\"frame\",\"thread\":\"one\"}\n";
        let e = run("x.jsonl", text.as_bytes(), opts(), &mut *p).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "x.jsonl:2: a bt-demangle `frame` record that this version (schema 2) cannot read: "
            ),
            "{e}"
        );
        // Another tool's summary, or a type bt-demangle does not have, is passed on.
        let (out, _) = output(
            "{\"type\":\"summary\",\"tool\":\"rss-rounds\"}\n{\"type\":\"round\"}\n",
            Format::Jsonl,
        );
        assert_eq!(out.lines().count(), 3, "{out}");
    }

    /// A record indented like a frame's locals (after a frame) is a record, not a local passed
    /// on: written on, it would be one more frame than the summary counts.
    #[test]
    fn an_indented_record_after_a_frame_is_a_record() {
        let (jsonl, _) = output("#0  0x1 in f () at a.c:1\n", Format::Jsonl);
        let record = jsonl.lines().next().unwrap();
        let text = format!("#0  0x1 in f () at a.c:1\n        {record}\n");
        let (out, summary) = output(&text, Format::Jsonl);
        let frames = out
            .lines()
            .filter(|l| l.contains("\"type\":\"frame\""))
            .count();
        assert_eq!(
            (frames as u64, summary.frames, summary.records_read),
            (2, 2, 1)
        );
    }

    /// The JSON records of `text`, by type.
    fn typed(text: &str) -> (Vec<serde_json::Value>, Summary) {
        let (out, summary) = output(text, Format::Jsonl);
        let recs = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (recs, summary)
    }

    fn crash_of(recs: &[serde_json::Value]) -> serde_json::Value {
        recs.iter()
            .find(|r| r["type"] == "crash")
            .cloned()
            .unwrap_or_else(|| panic!("no crash: {recs:#?}"))
    }

    /// Reading ahead (files) gives what reading line by line (pipes) gives, byte for byte,
    /// on an input of many chunks: backtraces, symbols, text that is not UTF-8, pager
    /// prompts, records read back, a last line cut; and a read error comes after the same
    /// lines, naming the same line.
    #[test]
    fn reading_ahead_changes_nothing() {
        let (jsonl, _) = output(BACKTRACE, Format::Jsonl);
        let mut input = Vec::new();
        while input.len() < 300 << 10 {
            input.extend_from_slice(BACKTRACE.as_bytes());
            input.extend_from_slice(
                b"_ZNSt6vectorIiSaIiEE9push_backERKi\n_Z3foov.cold and _ZN3foo3barEi.\n\
                  bytes \xff\xfe _Z3bazv\n--Type <RET> for more, q to quit, c to continue \
                  without paging--#5  0x1 in f () at a.c:1\n",
            );
            input.extend_from_slice(jsonl.as_bytes());
        }
        input.extend_from_slice(b"#0  0x1 in _ZN3foo3barEi (");
        let run = |ahead: bool, format: Format, reader: &mut dyn BufRead| {
            let mut out = Vec::new();
            let result = {
                let mut p = printer(
                    format,
                    TextOptions::default(),
                    &mut out,
                    Box::new(io::sink()),
                    false,
                )
                .unwrap();
                let mut filter = Filter::new(opts());
                filter.set_read_ahead(ahead);
                filter
                    .read("t", reader, &mut *p)
                    .and_then(|()| filter.finish(&mut *p))
                    .map_err(|e| e.to_string())
            };
            (String::from_utf8_lossy(&out).into_owned(), result)
        };
        for format in [Format::Text, Format::Jsonl, Format::Csv] {
            let ahead = run(true, format, &mut &input[..]);
            assert_eq!(ahead, run(false, format, &mut &input[..]), "{format:?}");
            assert!(ahead.1.unwrap().frames > 1000);
        }

        /// Gives its bytes, then fails.
        struct Failing<'a>(&'a [u8]);
        impl io::Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::other("the disk is on fire"));
                }
                let n = buf.len().min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let failing = |ahead| {
            let mut reader = io::BufReader::with_capacity(4096, Failing(&input[..200 << 10]));
            run(ahead, Format::Jsonl, &mut reader)
        };
        let (out, result) = failing(true);
        assert_eq!((&out, &result), (&failing(false).0, &failing(false).1));
        let e = result.unwrap_err();
        assert!(
            e.starts_with("t:") && e.ends_with("the disk is on fire"),
            "{e}"
        );
        assert!(out.lines().count() > 1000);
    }

    /// Issue 13, 1: a quoted or indented paste gives the records of the paste itself.
    #[test]
    fn a_pasted_backtrace_gives_the_same_records() {
        let (plain, plain_summary) = typed(BACKTRACE);
        for prefix in ["    ", "\t", "> ", ">> "] {
            let text: String = BACKTRACE
                .lines()
                .map(|l| format!("{prefix}{l}\n"))
                .collect();
            let (recs, summary) = typed(&text);
            assert_eq!(
                recs[..recs.len() - 1],
                plain[..plain.len() - 1],
                "{prefix:?}"
            );
            assert_eq!(summary, plain_summary, "{prefix:?}");
        }
    }

    /// Issue 13, 2 and 3: older gdb's `signal 11` in a core file's report; the stop line that
    /// `bt` repeats is the stop, not a frame: the crash has the backtrace's frames, and its
    /// thread from `[Current thread is …]`.
    #[test]
    fn a_core_files_report_and_stop_line() {
        let text = "\
Core was generated by `./a.out'.
Program terminated with signal 11, Segmentation fault.
#0  0x0000555555555131 in crash (p=0x0) at /src/myext/t.c:3
3\t  *p = 1;
[Current thread is 1 (Thread 0x7ffff7d8a740 (LWP 4242))]
(gdb) bt
#0  0x0000555555555131 in crash (p=0x0) at /src/myext/t.c:3
#1  0x0000555555555150 in main () at /src/myext/t.c:7
";
        let (recs, summary) = typed(text);
        assert_eq!(summary.frames, 2);
        let stop = recs.iter().find(|r| r["type"] == "stop").unwrap();
        assert_eq!(
            (&stop["function"], &stop["thread"]),
            (&"crash".into(), &1.into())
        );
        let crash = crash_of(&recs);
        assert_eq!(crash["signal"], "SIGSEGV");
        assert_eq!(crash["description"], "Segmentation fault");
        assert_eq!((&crash["thread"], &crash["lwp"]), (&1.into(), &4242.into()));
        assert_eq!(crash["frames"], 2);
        // The lines read while the stop line was held pass through as they were, bytes that
        // are not UTF-8 too.
        let bytes: Vec<u8> = text
            .replace("3\t  *p = 1;", "3\t  s = \"\u{1}\";")
            .into_bytes()
            .into_iter()
            .map(|b| if b == 1 { 0xff } else { b })
            .collect();
        let mut raw = Vec::new();
        {
            let mut p = printer(
                Format::Text,
                TextOptions::default(),
                &mut raw,
                Box::new(io::sink()),
                false,
            )
            .unwrap();
            run("t", &bytes[..], opts(), &mut *p).unwrap();
        }
        let line: &[u8] = b"\n3\t  s = \"\xff\";\n";
        assert!(
            raw.windows(line.len()).any(|w| w == line),
            "{}",
            String::from_utf8_lossy(&raw)
        );
        // Only the stop line: it is the one frame.
        let (recs, summary) = typed(
            "Program terminated with signal 6, Aborted.\n#0  0x1 in raise () from /lib/libc.so.6\n",
        );
        assert_eq!(summary.frames, 1);
        let crash = crash_of(&recs);
        assert_eq!(
            (&crash["signal"], &crash["frames"]),
            (&"SIGABRT".into(), &1.into())
        );
    }

    /// Issue 13, 4: without a report naming the thread, the thread whose stack holds
    /// `<signal handler called>` crashed, not the first one listed.
    #[test]
    fn the_signal_handlers_thread_crashed() {
        let text = "\
Thread 3 (Thread 0x7fc513d65700 (LWP 32036)):
#0  0x1 in __lll_lock_wait () from /lib64/libpthread.so.0
#1  0x2 in pthread_mutex_lock () from /lib64/libpthread.so.0

Thread 2 (Thread 0x7fc513564700 (LWP 32037)):
#0  0x3 in handler (sig=11) at /src/myext/h.c:9
#1  <signal handler called>
#2  0x4 in work (p=0x0) at /src/myext/w.c:4
";
        let crash = crash_of(&typed(text).0);
        assert_eq!(
            (&crash["thread"], &crash["lwp"]),
            (&2.into(), &32037.into())
        );
        assert_eq!(crash["frames"], 3);
        assert_eq!(crash["top_frame"]["function"], "handler");
        // A report names the thread: it crashed, handler or not.
        let crash = crash_of(
            &typed(&format!(
                "Thread 3 \"x\" received signal SIGABRT, Aborted.\n{text}"
            ))
            .0,
        );
        assert_eq!(crash["thread"], 3);
        assert_eq!(crash["thread_name"], "x");
        // Nothing says which: the first backtrace, and whose it is.
        let crash =
            crash_of(&typed(&text.replace("#1  <signal handler called>", "#1  0x9 in f ()")).0);
        assert_eq!(crash["thread"], 3);
    }

    /// Issue 13, 5: threads named by their LWP alone have no number, and count once with
    /// their numbered header when it gives the same LWP.
    #[test]
    fn threads_named_by_their_lwp_only() {
        let text = "\
[New Thread 0x7fffee5ff700 (LWP 21564)]
Program received signal SIGSEGV, Segmentation fault.
[Switching to Thread 0x7fffee5ff700 (LWP 21564)]
0x0000000000671a81 in worker (arg=0x0) at w.c:9
(gdb) bt
#0  0x0000000000671a81 in worker (arg=0x0) at w.c:9
#1  0x0000000000671b00 in start_thread () from /lib/libpthread.so.0
(gdb) thread apply all bt

Thread 2 (Thread 0x7fffee5ff700 (LWP 21564)):
#0  0x0000000000671a81 in worker (arg=0x0) at w.c:9
#1  0x0000000000671b00 in start_thread () from /lib/libpthread.so.0

Thread 1 (Thread 0x7ffff7fb5740 (LWP 21560)):
#0  0x1 in main () at m.c:3
";
        let (recs, summary) = typed(text);
        let crash = crash_of(&recs);
        assert_eq!(
            (&crash["thread"], &crash["lwp"]),
            (&serde_json::Value::Null, &21564.into())
        );
        assert_eq!(crash["frames"], 2);
        let first = recs.iter().find(|r| r["type"] == "frame").unwrap();
        assert_eq!(
            (&first["thread"], &first["lwp"]),
            (&serde_json::Value::Null, &21564.into())
        );
        assert_eq!(summary.threads, 2);
        // Headers that name only LWPs: two threads, none numbered.
        let text = "Thread 0x7f1 (LWP 11):\n#0  0x1 in f () at f.c:1\nThread 0x7f2 (LWP 12):\n#0  0x2 in g () at g.c:1\n";
        let (recs, summary) = typed(text);
        assert_eq!(summary.threads, 2);
        let crash = crash_of(&recs);
        assert_eq!(
            (&crash["thread"], &crash["lwp"]),
            (&serde_json::Value::Null, &11.into())
        );
    }

    /// Issue 13, 7: a breakpoint stop is the stop, and without a backtrace the crash's top
    /// frame (no signal); the text report shows the report before the location.
    #[test]
    fn a_breakpoint_stop() {
        let text = "Thread 5 \"qemu-system-i38\" hit Breakpoint 1, qtest_cpu_has_work (cpu=0x5) at \naccel/qtest/qtest.c:52\n52\t    g_assert_not_reached();\n";
        let (recs, summary) = typed(text);
        assert_eq!(summary.frames, 0);
        let stop = recs.iter().find(|r| r["type"] == "stop").unwrap();
        assert_eq!((&stop["thread"], &stop["line"]), (&5.into(), &52.into()));
        let crash = crash_of(&recs);
        assert_eq!(crash["signal"], serde_json::Value::Null);
        assert_eq!(
            (&crash["thread"], &crash["thread_name"]),
            (&5.into(), &"qemu-system-i38".into())
        );
        assert_eq!(crash["frames"], 1);
        assert_eq!(crash["top_frame"]["function"], "qtest_cpu_has_work");
        assert_eq!(crash["top_frame"]["index"], serde_json::Value::Null);
        let (out, _) = output(text, Format::Text);
        assert!(
            out.starts_with("Thread 5 \"qemu-system-i38\" hit Breakpoint 1, qtest_cpu_has_work (…) at accel/qtest/qtest.c:52\n"),
            "{out}"
        );
        assert!(
            out.contains("crash: no signal report in thread 5 \"qemu-system-i38\""),
            "{out}"
        );
        // With a backtrace, its frames.
        let crash = crash_of(&typed(&format!("{text}(gdb) bt\n#0  qtest_cpu_has_work (cpu=0x5) at accel/qtest/qtest.c:52\n#1  0x1 in cpu_has_work (cpu=0x5) at softmmu/cpus.c:254\n")).0);
        assert_eq!(
            (&crash["frames"], &crash["top_frame"]["index"]),
            (&2.into(), &0.into())
        );
    }

    /// Issue 13, 8: frame #0 without an address is not inlined (gdb prints none at the
    /// first instruction of a line); #1 without one is; both read back as they were.
    #[test]
    fn frame_0_without_an_address_is_not_inlined() {
        let text = "#0  parse_tree (item=0x0) at tree.c:255\n#1  inner (x=1) at tree.c:30\n#2  0x1 in outer () at tree.c:40\n";
        let (recs, _) = typed(text);
        let inlined: Vec<Option<bool>> = recs
            .iter()
            .filter(|r| r["type"] == "frame")
            .map(|r| r["inlined"].as_bool())
            .collect();
        assert_eq!(inlined, [Some(false), Some(true), Some(false)]);
        let (jsonl, _) = output(text, Format::Jsonl);
        let (again, _) = output(&jsonl, Format::Jsonl);
        let body = |s: &str| {
            s.lines()
                .filter(|l| !l.contains("\"summary\""))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(body(&again), body(&jsonl));
        assert_eq!(recs[0]["class"], "unknown");
    }

    /// A `bt` cut inside its frame #0's name by the end of an excerpt repeats a stop location
    /// printed whole: the crash's top frame is that (the same address).
    #[test]
    fn a_cut_top_frame_is_the_whole_stop_location() {
        let text = "\
Program received signal SIGSEGV, Segmentation fault.
0x0000000000671a81 in std::_Hashtable<int, int>::_M_bucket_index (this=0x0) at /usr/include/c++/5/bits/hashtable.h:621
(gdb) bt
#0  0x0000000000671a81 in std::_Hashtable<int, i";
        let (recs, summary) = typed(text);
        assert_eq!((summary.frames, summary.truncated_frames), (1, 1));
        let crash = crash_of(&recs);
        assert_eq!(crash["frames"], 1);
        assert_eq!(crash["top_frame"]["index"], 0);
        assert_eq!(
            crash["top_frame"]["function"],
            "std::_Hashtable<…>::_M_bucket_index"
        );
        assert_eq!(crash["top_frame"]["line"], 621);
    }

    /// A line that looks like JSON but is none (gdb printing a struct) is text: it must not
    /// reach a JSON-lines output as if it were a record.
    #[test]
    fn braces_that_are_no_json_are_text() {
        let (out, summary) = output("{a = 1, b = 2}\n{\"type\":\"x\"}\n", Format::Jsonl);
        assert_eq!(out.lines().next(), Some("{\"type\":\"x\"}"));
        assert_eq!(out.lines().count(), 2, "{out}");
        assert_eq!((summary.passed_lines, summary.foreign_records), (1, 1));
        let (out, _) = output("{a = 1, b = 2}\n", Format::Text);
        assert_eq!(out, "{a = 1, b = 2}\n");
    }
}
