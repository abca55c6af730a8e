//! `bt-demangle`: gdb output in; readable, classified and fingerprinted crash reports out.
//!
//! Every frame gdb printed (see [`crate::backtrace::gdb`] for what is read) gets its function demangled
//! when gdb left it mangled (`set print demangle off`), simplified ([`crate::backtrace::simplify`]) unless
//! told not to, and a class:
//! - `project`: the frame's library or source file matches `--project[=PATTERN]` (without a
//!   pattern, or without the flag: it lies under the project root, the current directory);
//! - `python`: the interpreter: functions `Py…`/`_Py…` and CPython's static helpers, frames in
//!   `libpython*`, the `python*` binary or the standard library's `lib-dynload` modules, and
//!   CPython sources (`Python/`, `Objects/`, `Modules/`, …);
//! - `system`: libc, libstdc++, ld.so and anything else from `/lib`, `/usr/lib`; sources under
//!   `/usr/include` (inlined library templates) or glibc's tree; glibc's internal names;
//!   `<signal handler called>`;
//! - `unknown`: the rest (`?? ()` without a library, a third-party library).
//!
//! Each input (one gdb session) closes with a crash record when it showed a signal or any
//! frame. Its signature is a hash of function names only — up to three system frames above
//! the first project frame, then up to three project frames (stopping at the interpreter) —
//! without addresses, arguments, lines or template arguments, so that the same crash in two
//! CI runs gets the same signature and different crashes differ.
//!
//! # Text (the default)
//! gdb's output with frames rewritten in place:
//! `#0  0x00007ffff77ad6b1 in dbgpipe_store (…) at /x/dbgpipe_example.c:271  <- project`;
//! argument values shown as `(…)` unless `--keep-args`; runs of two or more interpreter
//! frames folded into `    … 14 interpreter frames …` unless `--all`; every other line passed
//! through, with mangled names demangled. Then, per input, a crash line
//! `crash: SIGSEGV (Segmentation fault) in thread 1, signature 5d1f…` with the first project
//! frame, and one summary line, unless no frame was read at all: a list of symbols comes out
//! exactly as `c++filt` would print it.
//!
//! # JSON lines (schema 1)
//! One record per frame as it is read:
//! `{"type":"frame","thread":1,"index":0,"addr":"0x00007ffff77ad6b1","function":"dbgpipe_store",
//! "function_raw":"dbgpipe_store","args":"p=0x0, v=42","file":"/x/dbgpipe_example.c",
//! "line":271,"library":null,"inlined":false,"class":"project","truncated":false}`
//! ([`FrameRecord`]); `{"type":"py_frame","thread":…,"index":0,"function":"call",
//! "file":"/x/run.py","line":101,"class":"python"}` per `py-bt` frame ([`PyFrameRecord`]); per
//! input `{"type":"crash","input":…,"signal":"SIGSEGV","description":"Segmentation fault",
//! "thread":1,"thread_name":…,"signature":"…","signature_functions":[…],"frames":21,
//! "top_frame":{…},"project_frame":{"index":0,"function":…,"file":…,"line":…,"library":…}}`
//! ([`CrashRecord`]); and last `{"type":"summary","tool":"bt-demangle","schema":1,…}`
//! ([`Summary`]). `thread` is gdb's thread number, `null` when the input does not say.
//!
//! # CSV
//! `thread,index,class,function,file,line,library,addr,inlined` then one row per frame; the
//! crash and summary lines go to stderr.

use crate::backtrace::gdb::{self, Event};
use crate::backtrace::simplify;
use crate::demangle;
use crate::input::{read_line, MAX_LINE};
use crate::output::{Sink, SCHEMA};
use crate::project::Project;
use crate::{Error, Frame};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::io::{self, BufRead, Write};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// gdb's text with frames rewritten, for a person.
    Text,
    /// One JSON object per line.
    Jsonl,
    /// One row per frame.
    Csv,
}

/// Everything bt-demangle is told.
#[derive(Debug)]
pub struct Options {
    /// Which frames are the project's.
    pub project: Project,
    /// Output format.
    pub format: Format,
    /// Simplify C++ names (`--no-simplify` turns it off).
    pub simplify: bool,
    /// Template nesting kept by simplification (`--depth`).
    pub depth: usize,
    /// Show argument values in text output (`--keep-args`).
    pub keep_args: bool,
    /// Do not fold interpreter frames in text output (`--all`).
    pub all: bool,
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

/// Names hashed into a signature, at most, from each side of the first project frame.
const SIGNATURE_SYSTEM: usize = 3;
const SIGNATURE_PROJECT: usize = 3;

/// A frame's class (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// The project's own code.
    Project,
    /// The Python interpreter.
    Python,
    /// libc, libstdc++, the dynamic loader and other system libraries.
    System,
    /// Anything else.
    Unknown,
}

impl Class {
    fn as_str(self) -> &'static str {
        match self {
            Class::Project => "project",
            Class::Python => "python",
            Class::System => "system",
            Class::Unknown => "unknown",
        }
    }
}

/// One native frame (`"type":"frame"`).
#[derive(Debug, Clone, Serialize)]
pub struct FrameRecord {
    #[serde(rename = "type")]
    kind: &'static str,
    /// gdb's thread number, when known.
    pub thread: Option<u32>,
    /// `N` of `#N`.
    pub index: u32,
    /// Program counter; `null` for inlined frames.
    pub addr: Option<String>,
    /// Demangled and (unless `--no-simplify`) simplified; `null` for `??`.
    pub function: Option<String>,
    /// As gdb printed it.
    pub function_raw: Option<String>,
    /// Argument values as printed, mangled names in them demangled; `null` without a list.
    pub args: Option<String>,
    /// Source file.
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
    /// Shared object (`from LIB`).
    pub library: Option<String>,
    /// No address: gdb prints none for inlined frames (and for frame #0 stopped on the first
    /// instruction of a line, which the text cannot tell apart).
    pub inlined: bool,
    /// The frame's class.
    pub class: Class,
    /// The input was cut inside this frame.
    pub truncated: bool,
}

/// One Python frame of `py-bt` (`"type":"py_frame"`).
#[derive(Debug, Clone, Serialize)]
pub struct PyFrameRecord {
    #[serde(rename = "type")]
    kind: &'static str,
    /// gdb's thread number, when known.
    pub thread: Option<u32>,
    /// Position in the traceback, most recent first.
    pub index: u32,
    /// Function, or the built-in's description.
    pub function: String,
    /// Source file (`null` for built-ins).
    pub file: Option<String>,
    /// Line.
    pub line: Option<u32>,
    /// `project` when the file is the project's, else `python`.
    pub class: Class,
}

/// A frame named in a crash record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FrameRef {
    /// `N` of `#N` (`null`: the stop location).
    pub index: Option<u32>,
    /// Function, as in the frame record.
    pub function: Option<String>,
    /// Source file.
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
    /// Shared object.
    pub library: Option<String>,
}

/// What one gdb session shows crashed (`"type":"crash"`).
#[derive(Debug, Clone, Serialize)]
pub struct CrashRecord {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The input's name.
    pub input: String,
    /// `SIGSEGV`; `null` when the input has frames but no signal report.
    pub signal: Option<String>,
    /// `Segmentation fault`.
    pub description: Option<String>,
    /// The crashing thread's number, when known.
    pub thread: Option<u32>,
    /// Its name, when printed.
    pub thread_name: Option<String>,
    /// 16 hex digits of FNV-1a over `signature_functions`; `null` without any named frame.
    pub signature: Option<String>,
    /// The function names hashed, innermost first.
    pub signature_functions: Vec<String>,
    /// Frames of the crashing thread's stack.
    pub frames: usize,
    /// Its innermost frame.
    pub top_frame: Option<FrameRef>,
    /// Its first project frame.
    pub project_frame: Option<FrameRef>,
}

/// The run's closing record; frame counts add up:
/// `frames = project_frames + python_frames + system_frames + unknown_frames`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    #[serde(rename = "type")]
    kind: &'static str,
    tool: &'static str,
    schema: u32,
    /// Inputs read.
    pub inputs: u64,
    /// Lines read.
    pub lines: u64,
    /// Native frames read.
    pub frames: u64,
    /// Of which the project's.
    pub project_frames: u64,
    /// Of which the interpreter's.
    pub python_frames: u64,
    /// Of which system libraries'.
    pub system_frames: u64,
    /// Of which unknown.
    pub unknown_frames: u64,
    /// Frames the input was cut inside of.
    pub truncated_frames: u64,
    /// Python frames (`py-bt`).
    pub py_frames: u64,
    /// Distinct threads with frames, summed over inputs.
    pub threads: u64,
    /// Crash records written.
    pub crashes: u64,
    /// Mangled names demangled (frame functions and names in the text).
    pub demangled: u64,
    /// Lines that start like a frame (`#N `) but could not be read as one.
    pub unparsed_lines: u64,
    /// Lines longer than [`MAX_LINE`], cut.
    pub long_lines: u64,
    /// Frames written out but not kept for the crash record: past [`MAX_STACK`] in their
    /// thread's stack, or of a thread past [`MAX_THREADS`].
    pub dropped_frames: u64,
}

/// Why a run stopped.
#[derive(Debug)]
pub enum Failure {
    /// An input could not be read.
    Input(Error),
    /// The output could not be written (a closed pipe among others).
    Output(io::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Input(e) => e.fmt(f),
            Failure::Output(e) => write!(f, "writing the output: {e}"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Input(e) => Some(e),
            Failure::Output(e) => Some(e),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

/// A frame's function as shown, and as hashed into signatures.
struct Named {
    shown: String,
    bare: String,
}

/// What the crash record needs of a frame.
#[derive(Debug, Clone)]
struct Lite {
    index: Option<u32>,
    function: Option<String>,
    bare: Option<String>,
    class: Class,
    file: Option<String>,
    line: Option<u32>,
    library: Option<String>,
    pseudo: bool,
}

impl Lite {
    fn reference(&self) -> FrameRef {
        FrameRef {
            index: self.index,
            function: self.function.clone(),
            file: self.file.clone(),
            line: self.line,
            library: self.library.clone(),
        }
    }
}

/// One thread's first backtrace in an input.
#[derive(Debug)]
struct Stack {
    thread: Option<u32>,
    frames: Vec<Lite>,
}

/// What an input has shown so far.
#[derive(Debug, Default)]
struct InputState {
    signal: Option<gdb::Signal>,
    stop: Option<Lite>,
    stacks: Vec<Stack>,
    /// The stack frames are being added to; `None` while reading a thread's second backtrace
    /// (`bt` then `thread apply all bt` show the crashing thread twice).
    open: Option<usize>,
    last_index: Option<u32>,
    last_thread: Option<u32>,
    /// Threads with frames (at most [`MAX_THREADS`]).
    threads: HashSet<Option<u32>>,
    /// The stack being read belongs to a thread past [`MAX_THREADS`].
    untracked: bool,
    /// Text mode: interpreter frames held for folding, and their lines.
    fold_frames: usize,
    fold_text: String,
}

/// The filter's state across inputs.
pub struct Filter {
    opts: Options,
    summary: Summary,

    /// CSV: crash lines, written to stderr beside the summary.
    crash_lines: Vec<String>,
}

/// Reads one input and writes its records: the whole filter for a single input.
pub fn run<R: BufRead, W: Write>(
    input: &str,
    reader: R,
    opts: Options,
    out: &mut Sink<W>,
    err: &mut dyn Write,
) -> Result<Summary, Failure> {
    let mut filter = Filter::new(opts);
    filter.read(input, reader, out)?;
    Ok(filter.finish(out, err)?)
}

impl Filter {
    /// A filter with these options.
    pub fn new(opts: Options) -> Self {
        Filter {
            opts,
            summary: Summary {
                kind: "summary",
                tool: "bt-demangle",
                schema: SCHEMA,
                ..Summary::default()
            },
            crash_lines: Vec::new(),
        }
    }

    /// Reads one input (one gdb session), writing its frames as they come and its crash
    /// record at its end.
    pub fn read<R: BufRead, W: Write>(
        &mut self,
        input: &str,
        mut reader: R,
        out: &mut Sink<W>,
    ) -> Result<(), Failure> {
        if self.summary.inputs == 0 && self.opts.format == Format::Csv {
            out.text("thread,index,class,function,file,line,library,addr,inlined\n")?;
        }
        self.summary.inputs += 1;
        let mut parser = gdb::Parser::new();
        let mut state = InputState::default();
        let mut buf = Vec::with_capacity(256);
        loop {
            let end = match read_line(&mut reader, &mut buf, MAX_LINE) {
                Ok(Some(end)) => end,
                Ok(None) => break,
                Err(e) => {
                    let at = Some(self.summary.lines + 1);
                    return Err(Failure::Input(Error::at(input, at, e.to_string())));
                }
            };
            self.summary.lines += 1;
            if end.cut {
                self.summary.long_lines += 1;
            }
            let line = match std::str::from_utf8(&buf) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(&buf),
            };
            // A line that is not UTF-8 is passed through as its bytes when nothing in it
            // changes (see `other`).
            let raw = matches!(line, Cow::Owned(_)).then_some(&buf[..]);
            let mut emit = |ev: Event<'_>| self.event(ev, &mut state, out, raw);
            if end.newline {
                parser.push(&line, &mut emit)?;
            } else {
                // Only an input's last line lacks its newline: the input was cut there.
                parser.push_cut(&line, &mut emit)?;
            }
            if buf.capacity() > KEEP_CAPACITY {
                buf = Vec::with_capacity(256);
            }
        }
        parser.finish(&mut |ev| self.event(ev, &mut state, out, None))?;
        self.flush_fold(&mut state, out)?;
        self.end_input(input, &parser, state, out)?;
        Ok(())
    }

    /// Writes the summary (and, in CSV, the crash lines to `err`); returns it.
    pub fn finish<W: Write>(self, out: &mut Sink<W>, err: &mut dyn Write) -> io::Result<Summary> {
        match self.opts.format {
            Format::Jsonl => out.json(&self.summary)?,
            // Text without any frame (a list of symbols, a program's output) stays exactly
            // the input demangled, as `c++filt` would print it.
            Format::Text
                if self.summary.frames + self.summary.py_frames + self.summary.crashes == 0 => {}
            Format::Text => out.text(&format!("{}\n", summary_line(&self.summary)))?,
            Format::Csv => {
                for line in &self.crash_lines {
                    write!(err, "bt-demangle: {line}")?;
                }
                writeln!(err, "bt-demangle: {}", summary_line(&self.summary))?;
            }
        }
        out.flush()?;
        Ok(self.summary)
    }

    fn event<W: Write>(
        &mut self,
        ev: Event<'_>,
        state: &mut InputState,
        out: &mut Sink<W>,
        raw: Option<&[u8]>,
    ) -> io::Result<()> {
        let text = self.opts.format == Format::Text;
        match ev {
            Event::Frame(f) => self.frame(f, state, out),
            Event::Stop(f) => {
                let named = f.function.as_deref().map(|n| self.name(n));
                let function = named.as_ref().map(|n| n.shown.clone());
                let lite = self.lite(&f, named);
                if text {
                    self.flush_fold(state, out)?;
                    let line = self.render(&f, function.as_deref(), lite.class);
                    out.text(&line)?;
                }
                state.stop.get_or_insert(lite);
                Ok(())
            }
            Event::PyFrame(p, line) => {
                self.summary.py_frames += 1;
                match self.opts.format {
                    Format::Text => {
                        self.flush_fold(state, out)?;
                        self.other(line, out, raw)
                    }
                    Format::Jsonl => {
                        let probe = Frame {
                            file: p.file.clone(),
                            ..Frame::default()
                        };
                        let class = if p.file.is_some() && self.opts.project.frame_matches(&probe) {
                            Class::Project
                        } else {
                            Class::Python
                        };
                        out.json(&PyFrameRecord {
                            kind: "py_frame",
                            thread: p.thread,
                            index: p.index,
                            function: p.function,
                            file: p.file,
                            line: p.line,
                            class,
                        })
                    }
                    Format::Csv => Ok(()),
                }
            }
            Event::Signal(s, line) => {
                state.signal.get_or_insert(s);
                if text {
                    self.flush_fold(state, out)?;
                    self.other(line, out, raw)?;
                }
                Ok(())
            }
            Event::Detail(line) => {
                if text {
                    match state.fold_frames {
                        0 => self.other(line, out, raw)?,
                        1 => {
                            state.fold_text.push_str(line);
                            state.fold_text.push('\n');
                        }
                        // Folded away with its frame (see `frame`).
                        _ => {}
                    }
                }
                Ok(())
            }
            Event::Unparsed(line) => {
                self.summary.unparsed_lines += 1;
                if text {
                    self.flush_fold(state, out)?;
                    self.other(line, out, raw)?;
                }
                Ok(())
            }
            Event::Thread(_, line) | Event::Other(line) => {
                if text {
                    self.flush_fold(state, out)?;
                    self.other(line, out, raw)?;
                }
                Ok(())
            }
        }
    }

    /// Passes a line through, its mangled names demangled; a line that was not UTF-8 and
    /// holds none goes out as its original bytes.
    fn other<W: Write>(
        &mut self,
        line: &str,
        out: &mut Sink<W>,
        raw: Option<&[u8]>,
    ) -> io::Result<()> {
        match self.demangle_in(line) {
            Some(changed) => {
                out.text(&changed)?;
                out.text("\n")
            }
            None => match raw {
                Some(bytes) if line.len() >= bytes.len() => {
                    out.bytes(bytes)?;
                    out.bytes(b"\n")
                }
                _ => {
                    out.text(line)?;
                    out.text("\n")
                }
            },
        }
    }

    fn demangle_in(&mut self, text: &str) -> Option<String> {
        let opts = simplify::Options {
            depth: self.opts.depth,
        };
        let simplify = self.opts.simplify;
        let mut count = 0;
        let changed = demangle::demangle_text(text, &mut |name| {
            count += 1;
            if simplify {
                simplify::simplify(&name, &opts)
            } else {
                name
            }
        });
        self.summary.demangled += count;
        changed
    }

    /// A frame's function demangled, when gdb printed it mangled (`set print demangle off`).
    fn demangle_function(&mut self, raw: &str) -> Option<String> {
        if !(raw.starts_with("_Z") || raw.starts_with("_R")) {
            return None;
        }
        let demangled = demangle::demangle(raw);
        if demangled.is_some() {
            self.summary.demangled += 1;
        }
        demangled
    }

    /// A frame's function as shown: demangled, then simplified.
    fn name(&mut self, raw: &str) -> Named {
        let demangled = self.demangle_function(raw);
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

    fn frame<W: Write>(
        &mut self,
        f: gdb::Frame,
        state: &mut InputState,
        out: &mut Sink<W>,
    ) -> io::Result<()> {
        let index = f.index.unwrap_or(0);
        let named = f.function.as_deref().map(|n| self.name(n));
        let function = named.as_ref().map(|n| n.shown.clone());
        let lite = self.lite(&f, named);
        let class = lite.class;
        self.summary.frames += 1;
        match class {
            Class::Project => self.summary.project_frames += 1,
            Class::Python => self.summary.python_frames += 1,
            Class::System => self.summary.system_frames += 1,
            Class::Unknown => self.summary.unknown_frames += 1,
        }
        if f.truncated {
            self.summary.truncated_frames += 1;
        }
        // Stacks: a new one at #0, at a number that does not follow, or at a thread change;
        // only each thread's first one is kept. A thread's first frame always starts a stack
        // (its thread differs from the last frame's), so "new to `threads`" is "no stack yet",
        // found without a search through the stacks.
        let first = state.threads.len() < MAX_THREADS && state.threads.insert(f.thread);
        let new_stack = index == 0
            || state.last_index.map_or(true, |last| index <= last)
            || state.last_thread != f.thread;
        if new_stack {
            state.open = first.then(|| {
                state.stacks.push(Stack {
                    thread: f.thread,
                    frames: Vec::new(),
                });
                state.stacks.len() - 1
            });
            // A thread past the cap has no stack: its frames are dropped below.
            state.untracked = !first && !state.threads.contains(&f.thread);
        }
        state.last_index = Some(index);
        state.last_thread = f.thread;
        match self.opts.format {
            Format::Text => {
                let line = self.render(&f, function.as_deref(), class);
                if class == Class::Python && !self.opts.all {
                    state.fold_frames += 1;
                    // Only a lone interpreter frame is shown as itself; from the second on
                    // the run is shown as a count, so its text need not be kept (a run of
                    // millions would otherwise all be held).
                    if state.fold_frames == 1 {
                        state.fold_text.push_str(&line);
                    } else {
                        state.fold_text.clear();
                    }
                } else {
                    self.flush_fold(state, out)?;
                    out.text(&line)?;
                }
            }
            Format::Jsonl => {
                let args = f
                    .args
                    .as_deref()
                    .map(|a| self.demangle_in(a).unwrap_or_else(|| a.to_string()));
                out.json(&FrameRecord {
                    kind: "frame",
                    thread: f.thread,
                    index,
                    inlined: f.addr.is_none() && !f.pseudo,
                    addr: f.addr.clone(),
                    function,
                    function_raw: f.function.clone(),
                    args,
                    file: f.file.clone(),
                    line: f.line,
                    library: f.library.clone(),
                    class,
                    truncated: f.truncated,
                })?;
            }
            Format::Csv => {
                let fields = [
                    f.thread.map(|t| t.to_string()).unwrap_or_default(),
                    index.to_string(),
                    class.as_str().to_string(),
                    function.unwrap_or_default(),
                    f.file.clone().unwrap_or_default(),
                    f.line.map(|l| l.to_string()).unwrap_or_default(),
                    f.library.clone().unwrap_or_default(),
                    f.addr.clone().unwrap_or_default(),
                    (f.addr.is_none() && !f.pseudo).to_string(),
                ];
                let row: Vec<String> = fields.iter().map(|s| csv_field(s)).collect();
                out.text(&format!("{}\n", row.join(",")))?;
            }
        }
        if let Some(open) = state.open {
            let stack = &mut state.stacks[open].frames;
            if stack.len() < MAX_STACK {
                stack.push(lite);
            } else {
                self.summary.dropped_frames += 1;
            }
        } else if state.untracked {
            self.summary.dropped_frames += 1;
        }
        Ok(())
    }

    fn lite(&mut self, f: &gdb::Frame, named: Option<Named>) -> Lite {
        let class = self.classify(f);
        let (function, bare) = match named {
            Some(n) => (Some(n.shown), (!f.pseudo).then_some(n.bare)),
            None => (None, None),
        };
        Lite {
            index: f.index,
            function,
            bare,
            class,
            file: f.file.clone(),
            line: f.line,
            library: f.library.clone(),
            pseudo: f.pseudo,
        }
    }

    fn classify(&mut self, f: &gdb::Frame) -> Class {
        if f.pseudo {
            return Class::System;
        }
        let probe = Frame {
            addr: None,
            function: f.function.clone(),
            file: f.file.clone(),
            line: f.line,
            object: f.library.clone(),
        };
        let func = f.function.as_deref();
        let (file, lib) = (f.file.as_deref(), f.library.as_deref());
        if (lib.is_some() || file.is_some()) && self.opts.project.frame_matches(&probe) {
            Class::Project
        } else if is_python(func, file, lib) {
            Class::Python
        } else if is_system(func, file, lib) {
            Class::System
        } else {
            Class::Unknown
        }
    }

    /// A frame as text: gdb's shape, the function rewritten, argument values elided unless
    /// `--keep-args`, project frames marked.
    fn render(&mut self, f: &gdb::Frame, function: Option<&str>, class: Class) -> String {
        if f.truncated {
            // What is left of a cut line is shown as it is.
            let mut s = self.demangle_in(&f.text).unwrap_or_else(|| f.text.clone());
            s.push('\n');
            return s;
        }
        let mut s = String::with_capacity(128);
        if let Some(i) = f.index {
            s.push_str(&format!("#{i:<2} "));
        }
        if let Some(addr) = &f.addr {
            s.push_str(addr);
            s.push_str(" in ");
        }
        s.push_str(function.unwrap_or("??"));
        if let Some(args) = &f.args {
            if self.opts.keep_args {
                let args = self.demangle_in(args).unwrap_or_else(|| args.clone());
                s.push_str(&format!(" ({args})"));
            } else if args.trim().is_empty() {
                s.push_str(" ()");
            } else {
                s.push_str(" (…)");
            }
        }
        if let Some(file) = &f.file {
            s.push_str(" at ");
            s.push_str(file);
            if let Some(line) = f.line {
                s.push_str(&format!(":{line}"));
            }
        }
        if let Some(lib) = &f.library {
            s.push_str(" from ");
            s.push_str(lib);
        }
        if class == Class::Project {
            s.push_str("  <- project");
        }
        s.push('\n');
        s
    }

    fn flush_fold<W: Write>(
        &mut self,
        state: &mut InputState,
        out: &mut Sink<W>,
    ) -> io::Result<()> {
        match state.fold_frames {
            0 => return Ok(()),
            1 => out.text(&state.fold_text)?,
            n => out.text(&format!("    … {n} interpreter frames …\n"))?,
        }
        state.fold_frames = 0;
        state.fold_text.clear();
        Ok(())
    }

    /// The crash record of an input that showed a signal or a frame.
    fn end_input<W: Write>(
        &mut self,
        input: &str,
        parser: &gdb::Parser,
        state: InputState,
        out: &mut Sink<W>,
    ) -> io::Result<()> {
        // Frames of an unnamed thread (a plain `bt`) are one of the named ones, when any.
        let named = state.threads.iter().filter(|t| t.is_some()).count();
        self.summary.threads += match named {
            0 => u64::from(!state.threads.is_empty()),
            n => n as u64,
        };
        let crash_thread = state
            .signal
            .as_ref()
            .and_then(|s| s.thread)
            .or(parser.current_thread());
        let stack = crash_thread
            .and_then(|t| state.stacks.iter().find(|s| s.thread == Some(t)))
            .or(state.stacks.first());
        let frames: Vec<Lite> = match (stack, &state.stop) {
            (Some(s), _) if !s.frames.is_empty() => s.frames.clone(),
            (_, Some(stop)) => vec![stop.clone()],
            _ => Vec::new(),
        };
        if frames.is_empty() && state.signal.is_none() {
            return Ok(());
        }
        self.summary.crashes += 1;
        let names = signature_functions(&frames);
        let signature = (!names.is_empty()).then(|| fnv_hex(&names));
        let record = CrashRecord {
            kind: "crash",
            input: input.to_string(),
            signal: state.signal.as_ref().map(|s| s.signal.clone()),
            description: state.signal.as_ref().and_then(|s| s.description.clone()),
            thread: stack.and_then(|s| s.thread).or(crash_thread),
            thread_name: state.signal.as_ref().and_then(|s| s.thread_name.clone()),
            signature,
            signature_functions: names,
            frames: frames.len(),
            top_frame: frames.first().map(Lite::reference),
            project_frame: frames
                .iter()
                .find(|f| f.class == Class::Project)
                .map(Lite::reference),
        };
        match self.opts.format {
            Format::Jsonl => out.json(&record),
            Format::Text => out.text(&crash_text(&record)),
            Format::Csv => {
                // The CSV body holds frames only; the crash goes beside the summary.
                self.crash_lines.push(crash_text(&record));
                Ok(())
            }
        }
    }
}

/// The names a signature hashes: up to three system frames above the first project frame,
/// then up to three project frames, stopping where the interpreter takes over again; when
/// there is neither, the first three named frames.
fn signature_functions(frames: &[Lite]) -> Vec<String> {
    let named = || {
        frames
            .iter()
            .filter(|f| !f.pseudo)
            .filter_map(|f| f.bare.as_ref().map(|b| (f, b)))
    };
    let mut system = Vec::new();
    let mut project = Vec::new();
    for (f, name) in named() {
        match f.class {
            Class::System if project.is_empty() && system.len() < SIGNATURE_SYSTEM => {
                system.push(name.clone())
            }
            Class::Project => {
                project.push(name.clone());
                if project.len() == SIGNATURE_PROJECT {
                    break;
                }
            }
            Class::Python if !project.is_empty() => break,
            _ => {}
        }
    }
    system.extend(project);
    if system.is_empty() {
        system = named()
            .take(SIGNATURE_PROJECT)
            .map(|(_, n)| n.clone())
            .collect();
    }
    system
}

/// FNV-1a 64 over the names, each ended by a NUL: stable across runs, machines and
/// versions of this program.
fn fnv_hex(names: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in names
        .iter()
        .flat_map(|n| n.bytes().chain(std::iter::once(0)))
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn crash_text(c: &CrashRecord) -> String {
    let mut s = format!(
        "crash: {}",
        c.signal.as_deref().unwrap_or("no signal report")
    );
    if let Some(d) = &c.description {
        s.push_str(&format!(" ({d})"));
    }
    if let Some(t) = c.thread {
        s.push_str(&format!(" in thread {t}"));
        if let Some(n) = &c.thread_name {
            s.push_str(&format!(" \"{n}\""));
        }
    }
    match &c.signature {
        Some(sig) => s.push_str(&format!(", signature {sig}\n")),
        None => s.push_str(", no signature (no named frame)\n"),
    }
    let where_ = |label: &str, f: &FrameRef| {
        let mut line = format!("  {label}: ");
        if let Some(i) = f.index {
            line.push_str(&format!("#{i} "));
        }
        line.push_str(f.function.as_deref().unwrap_or("??"));
        match (&f.file, f.line, &f.library) {
            (Some(file), Some(l), _) => line.push_str(&format!(" at {file}:{l}")),
            (Some(file), None, _) => line.push_str(&format!(" at {file}")),
            (None, _, Some(lib)) => line.push_str(&format!(" from {lib}")),
            _ => {}
        }
        line.push('\n');
        line
    };
    if let Some(top) = &c.top_frame {
        s.push_str(&where_("top", top));
    }
    if let Some(pf) = &c.project_frame {
        if Some(pf) != c.top_frame.as_ref() {
            s.push_str(&where_("project", pf));
        }
    }
    s
}

/// `42 frames (2 project, 38 python, 2 system, 0 unknown) in 1 thread(s) from 1 input(s)`.
fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{} frames ({} project, {} python, {} system, {} unknown) in {} thread(s) from {} input(s), {} crash(es)",
        s.frames, s.project_frames, s.python_frames, s.system_frames, s.unknown_frames, s.threads, s.inputs, s.crashes
    );
    for (n, what) in [
        (s.py_frames, "Python frames"),
        (s.demangled, "names demangled"),
        (s.truncated_frames, "cut frames"),
        (s.unparsed_lines, "unparsed frame lines"),
        (s.long_lines, "cut long lines"),
        (
            s.dropped_frames,
            "frames past the caps not kept for the crash record",
        ),
    ] {
        if n > 0 {
            line.push_str(&format!("; {n} {what}"));
        }
    }
    line
}

/// One CSV field, quoted when it must be (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `./x`, `../../x` and `build/../x` → `x`: the relative prefixes of build trees.
fn source_tail(file: &str) -> &str {
    let mut f = file;
    loop {
        if let Some(rest) = f.strip_prefix("./").or_else(|| f.strip_prefix("../")) {
            f = rest;
        } else if let Some(i) = f.find("/../") {
            f = &f[i + 4..];
        } else {
            return f;
        }
    }
}

/// CPython's static helpers that appear in native backtraces between `Py…` functions.
const INTERPRETER_FUNCTIONS: &[&str] = &[
    "cfunction_vectorcall_",
    "cfunction_call",
    "method_vectorcall",
    "function_code_fastcall",
    "call_function",
    "do_call_core",
    "slot_tp_",
    "type_call",
    "vectorcall_",
    "builtin_",
    "run_mod",
    "run_eval_code_obj",
    "pyrun_",
    "pymain_",
    "wrapper_call",
    "thread_run",
    "pythread_wrapper",
    "time_sleep",
    "pysleep",
];

/// CPython's source directories, as its build prints them (relative).
const INTERPRETER_DIRS: &[&str] = &[
    "Python/",
    "Objects/",
    "Modules/",
    "Include/",
    "Parser/",
    "Programs/",
];

fn is_python(func: Option<&str>, file: Option<&str>, lib: Option<&str>) -> bool {
    if let Some(lib) = lib {
        let base = basename(lib);
        return base.starts_with("libpython")
            || is_python_binary(base)
            || lib.contains("/lib-dynload/");
    }
    if let Some(file) = file {
        let tail = source_tail(file);
        if !file.starts_with('/') && INTERPRETER_DIRS.iter().any(|d| tail.starts_with(d)) {
            return true;
        }
    }
    func.is_some_and(|f| {
        let f = f.strip_prefix('_').unwrap_or(f);
        (f.starts_with("Py") && f[2..].starts_with(|c: char| c.is_ascii_uppercase() || c == '_'))
            || INTERPRETER_FUNCTIONS.iter().any(|p| f.starts_with(p))
    })
}

/// `python`, `python3`, `python3.11`, `python3.11-dbg`, `python3.11d`.
fn is_python_binary(base: &str) -> bool {
    base.strip_prefix("python").is_some_and(|rest| {
        let rest = rest.strip_suffix("-dbg").unwrap_or(rest);
        let rest = rest.strip_suffix('d').unwrap_or(rest);
        rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    })
}

/// Shared objects of the C and C++ runtimes, wherever they are installed.
const SYSTEM_LIBRARIES: &[&str] = &[
    "libc.so",
    "libc-",
    "libstdc++",
    "libm.so",
    "libm-",
    "libpthread",
    "libdl",
    "librt",
    "libgcc_s",
    "ld-linux",
    "ld64.so",
    "ld-musl",
    "libresolv",
    "libutil",
];

/// Top directories of glibc's source tree, as its debug information names them (`./nptl/…`,
/// `../sysdeps/…`).
const GLIBC_DIRS: &[&str] = &[
    "nptl/",
    "sysdeps/",
    "stdlib/",
    "malloc/",
    "csu/",
    "string/",
    "libio/",
    "signal/",
    "posix/",
    "elf/",
    "misc/",
    "assert/",
    "dlfcn/",
    "io/",
    "time/",
    "stdio-common/",
];

/// glibc and C++ runtime functions, seen without a library when their debug information is
/// installed.
const SYSTEM_PREFIXES: &[&str] = &[
    "__GI_",
    "__libc_",
    "__pthread_",
    "pthread_",
    "__new_sem",
    "__clock_",
    "_dl_",
    "__cxa_",
    "__gxx_",
    "_Unwind_",
    "__malloc",
    "_int_",
    "__memcpy",
    "__memmove",
    "__memset",
    "__strlen",
    "__strcmp",
    "__restore_rt",
    "std::terminate",
    "__gnu_cxx::__verbose_terminate_handler",
];

const SYSTEM_FUNCTIONS: &[&str] = &[
    "raise",
    "abort",
    "malloc",
    "free",
    "calloc",
    "realloc",
    "sysmalloc",
    "start_thread",
    "clone",
    "clone3",
    "_start",
    "memcpy",
    "memmove",
    "memset",
    "strlen",
    "strcmp",
];

fn is_system(func: Option<&str>, file: Option<&str>, lib: Option<&str>) -> bool {
    if let Some(lib) = lib {
        let base = basename(lib);
        return SYSTEM_LIBRARIES.iter().any(|p| base.starts_with(p))
            || ((lib.starts_with("/lib/")
                || lib.starts_with("/lib64/")
                || lib.starts_with("/usr/lib/")
                || lib.starts_with("/usr/lib64/"))
                && !lib.contains("-packages/"));
    }
    if let Some(file) = file {
        if file.starts_with("/usr/include/")
            || file.contains("libstdc++-v3/")
            || file.contains("/glibc-")
        {
            return true;
        }
        if (file.starts_with("./") || file.starts_with("../"))
            && GLIBC_DIRS.iter().any(|d| source_tail(file).starts_with(d))
        {
            return true;
        }
    }
    func.is_some_and(|f| {
        SYSTEM_PREFIXES.iter().any(|p| f.starts_with(p)) || SYSTEM_FUNCTIONS.contains(&f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(format: Format) -> Options {
        Options {
            project: Project::Patterns(vec!["myext".into()]),
            format,
            simplify: true,
            depth: 2,
            keep_args: false,
            all: false,
        }
    }

    fn output(text: &str, opts: Options) -> (String, Summary) {
        let mut sink = Sink::new(Vec::new(), false);
        let summary = run("t", text.as_bytes(), opts, &mut sink, &mut io::sink()).unwrap();
        let out = String::from_utf8(sink.get_ref().clone()).unwrap();
        (out, summary)
    }

    #[test]
    fn classes() {
        let mut filter = Filter::new(opts(Format::Jsonl));
        let frame = |func: Option<&str>, file: Option<&str>, lib: Option<&str>| gdb::Frame {
            function: func.map(Into::into),
            file: file.map(Into::into),
            library: lib.map(Into::into),
            ..gdb::Frame::default()
        };
        let cases = [
            (
                frame(
                    Some("crash"),
                    None,
                    Some("/x/myext.cpython-311-x86_64-linux-gnu.so"),
                ),
                Class::Project,
            ),
            (
                frame(Some("f"), Some("/src/myext/f.c"), None),
                Class::Project,
            ),
            (
                frame(
                    Some("_PyEval_EvalFrameDefault"),
                    Some("../Python/ceval.c"),
                    None,
                ),
                Class::Python,
            ),
            (frame(Some("PyEval_EvalFrameEx"), None, None), Class::Python),
            (
                frame(
                    Some("cfunction_vectorcall_NOARGS"),
                    Some("/usr/src/x.c"),
                    None,
                ),
                Class::Python,
            ),
            (
                frame(
                    None,
                    None,
                    Some("/usr/lib/x86_64-linux-gnu/libpython3.12.so.1.0"),
                ),
                Class::Python,
            ),
            (
                frame(Some("main"), Some("../Programs/python.c"), None),
                Class::Python,
            ),
            (
                frame(
                    Some("PyCFuncPtr_call"),
                    None,
                    Some("/usr/lib/python3.11/lib-dynload/_ctypes.so"),
                ),
                Class::Python,
            ),
            (
                frame(
                    Some("ffi_call"),
                    None,
                    Some("/lib/x86_64-linux-gnu/libffi.so.8"),
                ),
                Class::System,
            ),
            (
                frame(
                    Some("__GI_raise"),
                    Some("../sysdeps/unix/sysv/linux/raise.c"),
                    None,
                ),
                Class::System,
            ),
            (
                frame(Some("sysmalloc"), Some("malloc.c"), None),
                Class::System,
            ),
            (
                frame(Some("start_thread"), Some("./nptl/pthread_create.c"), None),
                Class::System,
            ),
            (
                frame(
                    Some("std::_Hashtable<…>::_M_emplace"),
                    Some("/usr/include/c++/12/bits/hashtable.h"),
                    None,
                ),
                Class::System,
            ),
            (
                frame(
                    Some("operator new"),
                    None,
                    Some("/opt/gcc/lib64/libstdc++.so.6"),
                ),
                Class::System,
            ),
            (frame(None, None, None), Class::Unknown),
            (
                frame(
                    Some("dispatcher_dealloc"),
                    None,
                    Some("/venv/lib/python3.13/site-packages/numpy/x.so"),
                ),
                Class::Unknown,
            ),
            (
                frame(
                    Some("lib_fn"),
                    None,
                    Some("/usr/lib/python3/dist-packages/x.so"),
                ),
                Class::Unknown,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(filter.classify(&f), want, "{f:?}");
        }
        let pseudo = gdb::Frame {
            pseudo: true,
            ..gdb::Frame::default()
        };
        assert_eq!(filter.classify(&pseudo), Class::System);
    }

    fn lite(name: &str, class: Class) -> Lite {
        Lite {
            index: None,
            function: Some(name.into()),
            bare: Some(name.into()),
            class,
            file: None,
            line: None,
            library: None,
            pseudo: false,
        }
    }

    #[test]
    fn signature_names() {
        use Class::*;
        let stack = [
            lite("strlen", System),
            lite("??", Unknown),
            lite("a", Project),
            lite("b", Project),
            lite("PyObject_Call", Python),
            lite("c", Project),
            lite("__libc_start_main", System),
        ];
        assert_eq!(signature_functions(&stack), ["strlen", "a", "b"]);
        let deep = [
            lite("s1", System),
            lite("s2", System),
            lite("s3", System),
            lite("s4", System),
            lite("p1", Project),
            lite("p2", Project),
            lite("p3", Project),
            lite("p4", Project),
        ];
        assert_eq!(
            signature_functions(&deep),
            ["s1", "s2", "s3", "p1", "p2", "p3"]
        );
        let python_only = [
            lite("x", Python),
            lite("y", Python),
            lite("z", Python),
            lite("w", Python),
        ];
        assert_eq!(signature_functions(&python_only), ["x", "y", "z"]);
        assert!(signature_functions(&[]).is_empty());
        // A stable, documented hash: FNV-1a 64 of the names, NUL-terminated.
        assert_eq!(fnv_hex(&[]), "cbf29ce484222325");
        assert_ne!(fnv_hex(&["ab".into()]), fnv_hex(&["a".into(), "b".into()]));
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("f(int, long)"), "\"f(int, long)\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
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
        let (out, summary) = output(BACKTRACE, opts(Format::Text));
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
        assert!(lines[6].starts_with("crash: SIGSEGV (Segmentation fault) in thread 1, signature "));
        assert_eq!(lines[7], "  top: #0 store at /src/myext/m.c:3");
        assert!(lines[8]
            .starts_with("6 frames (2 project, 4 python, 0 system, 0 unknown) in 1 thread(s)"));
        assert_eq!(summary.demangled, 1);

        let all = Options {
            all: true,
            keep_args: true,
            ..opts(Format::Text)
        };
        let (out, summary) = output(BACKTRACE, all);
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
        let (out, summary) = output(BACKTRACE, opts(Format::Jsonl));
        let recs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs.len(), 6 + 2);
        assert_eq!(
            recs[1],
            serde_json::json!({"type":"frame","thread":1,"index":1,"addr":"0x2","function":"myext::call()",
                "function_raw":"_ZN5myext4callEv","args":"","file":null,"line":null,"library":"/x/myext.so",
                "inlined":false,"class":"project","truncated":false})
        );
        assert_eq!(recs[3]["args"], "f=<foo::bar()+16>");
        let crash = &recs[6];
        assert_eq!(crash["type"], "crash");
        assert_eq!(
            crash["signature_functions"],
            serde_json::json!(["store", "myext::call"])
        );
        assert_eq!(crash["project_frame"]["function"], "store");
        assert_eq!(recs[7]["type"], "summary");
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
    }

    #[test]
    fn symbols_and_many_backtraces_in_one_input() {
        let mut text = String::new();
        for i in 0..300 {
            text.push_str(&format!("_ZN3foo3barILi{i}EEEvv\n{BACKTRACE}"));
        }
        let (out, summary) = output(&text, opts(Format::Text));
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
            ..opts(Format::Text)
        };
        let (out, _) = output(&text, no_simplify);
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
        let (_, summary) = output(&text, opts(Format::Jsonl));
        assert_eq!(summary.frames, MAX_STACK as u64 + 7);
        assert_eq!(summary.dropped_frames, 7);

        let mut text = String::new();
        for t in 1..=MAX_THREADS + 20 {
            text.push_str(&format!(
                "Thread {t} (Thread 0x1 (LWP {t})):\n#0  0x1 in g () from /usr/lib/libc.so.6\n#1  0x2 in h () from /usr/lib/libc.so.6\n"
            ));
        }
        let (out, summary) = output(&text, opts(Format::Text));
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
        let (out, _) = output(&text, opts(Format::Text));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "#0  0x1 in _PyEval_EvalFrameDefault () at Python/ceval.c:2"
        );
        assert_eq!(lines[1], "        x = 1");
        assert_eq!(lines[3], "    … 20000 interpreter frames …");
        assert!(lines[4].starts_with("crash: "), "{}", lines[4]);
    }
}
