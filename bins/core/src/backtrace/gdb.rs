//! gdb's output, read line by line: backtrace frames, thread headers, signal reports, the
//! stop location, `py-bt` Python frames, and everything else.
//!
//! The parser is pushed one line at a time and emits [`Event`]s in input order. It copes with
//! what gdb and people do to a backtrace on its way into a bug report:
//! - the pager prompt (`--Type <RET> for more, q to quit, c to continue without paging--`,
//!   and gdb 7's `---Type <return> to continue, or q <return> to quit---`), alone on a line
//!   (dropped, with the answer typed after it) or in the middle of one, even of a library
//!   path, whose two halves are joined;
//! - lines gdb wrapped at its wrap points: `   from LIB` and `    at FILE:LINE` on the next
//!   line, an argument list continued over several lines, `    (args)` after a long name, and
//!   a pretty-printer's error message with a newline inside an argument list;
//! - argument lists holding parentheses, brackets, quoted strings (`"(" && x`), Python reprs
//!   and `<error reading variable …>`; function names holding parentheses, angle brackets and
//!   operators (`std::_Function_handler<void (), …>::_M_invoke(…)`, `operator<<`,
//!   `(anonymous namespace)`, `{lambda()#1}`, `[clone .isra.0]`);
//! - frames without an address (inlined, or frame #0 at the start of a line), `?? ()`,
//!   `<signal handler called>`, `bt full` locals and `No locals.`, the source line gdb echoes
//!   after a stop;
//! - excerpts cut anywhere: the first line may be the tail of a frame and the last may stop
//!   mid-name, mid-argument or mid-path (such a frame is kept, flagged `truncated`).
//!
//! A frame whose end may still come on the next line is held until that line arrives (or the
//! input ends); everything else is emitted at once, so the parser streams.

use crate::input::MAX_LINE;
use crate::Frame;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, digit1, space1};
use nom::combinator::{map_res, recognize};
use nom::{IResult, Parser as _};

/// One native frame line (`#3  0x00007f… in f (a=1) at f.c:12`), or the stop location gdb
/// prints after a signal, which has no `#N`: the [`Frame`] it names (gdb's `from LIB` is its
/// `object`), and what the line says beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameLine {
    /// The frame: its function as printed (demangled or not, with or without parameter
    /// types; `None` for `??`), `addr` `None` for inlined frames.
    pub frame: Frame,
    /// `N` of `#N`; `None` for a stop location.
    pub index: Option<u32>,
    /// gdb's thread number this frame belongs to, when the input says (thread header, signal
    /// line, `[Current thread is N …]`).
    pub thread: Option<u32>,
    /// The argument values between the parentheses (`p=0x0, v=42`); `None` when the frame
    /// has no argument list (pseudo frames, cut lines).
    pub args: Option<String>,
    /// `<signal handler called>` or `<function called from gdb>`: a marker, not a function.
    pub pseudo: bool,
    /// The line was cut before the frame's end (an excerpt's last line).
    pub truncated: bool,
    /// The frame as read, wrapped lines joined and pager prompts removed.
    pub text: String,
}

/// A Python frame printed by `py-bt` (`  File "t.py", line 3, in f`) or `py-bt-full`
/// (`#5 Frame 0x…, for file t.py, line 3, in f (x=1)`), or a built-in it names
/// (`<built-in method sleep of module object at remote 0x…>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyFrame {
    /// Thread, as for native frames.
    pub thread: Option<u32>,
    /// Position in its traceback, most recent first, from 0.
    pub index: u32,
    /// The Python function, or the built-in's description without its address.
    pub function: String,
    /// The source file, `None` for built-ins.
    pub file: Option<String>,
    /// The line number, `None` for built-ins.
    pub line: Option<u32>,
}

/// `Thread 2 (Thread 0x7ffff79b46c0 (LWP 23167) "python3.11"):` before a thread's backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadHeader {
    /// gdb's thread number.
    pub thread: u32,
    /// The kernel's thread id, when printed.
    pub lwp: Option<u64>,
    /// The thread's name, when printed (gdb 12 and later).
    pub name: Option<String>,
}

/// `Program received signal SIGSEGV, Segmentation fault.`, `Thread 20 "python3.5" received
/// signal …`, or for a core file `Program terminated with signal …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// `SIGSEGV`.
    pub signal: String,
    /// `Segmentation fault`.
    pub description: Option<String>,
    /// The thread that received it, when named.
    pub thread: Option<u32>,
    /// That thread's name, when printed.
    pub thread_name: Option<String>,
}

/// What one line (or a few wrapped lines) of gdb output is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// A backtrace frame.
    Frame(FrameLine),
    /// The location gdb prints when the program stops (after a signal line), without `#N`.
    Stop(FrameLine),
    /// A Python frame of `py-bt` or `py-bt-full`, and its line.
    PyFrame(PyFrame, &'a str),
    /// A thread header of `thread apply all bt`.
    Thread(ThreadHeader, &'a str),
    /// A signal report.
    Signal(Signal, &'a str),
    /// A line that belongs to the frame before it: `bt full` locals, `No locals.`, the source
    /// line echoed after a stop, the source line under a `py-bt` frame.
    Detail(&'a str),
    /// A line that starts like a frame (`#N `) but is not one gdb prints.
    Unparsed(&'a str),
    /// Any other line: gdb's chatter, the program's output.
    Other(&'a str),
}

/// Most lines joined into one frame; a frame cut mid-argument followed by unrelated text
/// must not swallow the rest of the input.
const MAX_CONTINUATIONS: usize = 32;

/// What the last emitted line was, for lines whose meaning depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    Nothing,
    /// A frame or stop location: locals and a source line may follow.
    Frame,
    /// A signal report: the stop location may follow, after `[…]` lines.
    Signal,
    /// Inside a `py-bt` traceback.
    PyBt,
}

/// A frame that the next line may still continue.
#[derive(Debug)]
struct Pending {
    index: Option<u32>,
    thread: Option<u32>,
    /// The text after `#N  ` (or the whole stop line), wrapped lines joined.
    body: String,
    text: String,
    joined: usize,
    /// A line of it was cut by the end of the input (it had no newline).
    cut: bool,
}

/// The streaming parser; see the module documentation.
#[derive(Debug)]
pub struct Parser {
    pending: Option<Pending>,
    /// The text before a pager prompt in mid-line, which the next line continues.
    carry: Option<String>,
    after: After,
    /// Thread of the backtrace being read.
    bt_thread: Option<u32>,
    /// A thread header was just read: the next `#0` starts its backtrace.
    header_armed: bool,
    /// The thread a plain `bt` shows: named by the signal line, `[Current thread is N …]` or
    /// `[Switching to thread N …]`.
    current: Option<u32>,
    /// Index of the next Python frame in the traceback being read.
    py_index: u32,
    /// The line being read is the input's last and has no newline: it was cut.
    line_cut: bool,
    /// No line has been read yet.
    at_start: bool,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser at the start of an input.
    pub fn new() -> Self {
        Parser {
            pending: None,
            carry: None,
            after: After::Nothing,
            bt_thread: None,
            header_armed: false,
            current: None,
            py_index: 0,
            line_cut: false,
            at_start: true,
        }
    }

    /// The thread gdb's plain `bt` referred to, as far as the input said.
    pub fn current_thread(&self) -> Option<u32> {
        self.current
    }

    /// Reads one line (without its newline) and emits what it completes. `emit` may fail
    /// (the output is gone); the first failure is returned.
    pub fn push<E>(
        &mut self,
        line: &str,
        emit: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let joined;
        let mut line = line;
        if let Some(mut carry) = self.carry.take() {
            carry.push_str(line);
            joined = carry;
            line = &joined;
        }
        if let Some(before) = before_pager_prompt(line) {
            // Alone on its line the prompt (and the answer typed after it) is noise; in
            // mid-line the next line carries on where it interrupted. Lines that each hold
            // a prompt would join without end: past `MAX_LINE` the text so far is taken as
            // a line of its own, so the parser's memory stays bounded.
            if before.len() > MAX_LINE {
                let before = before.to_string();
                return self.complete_line(&before, emit);
            }
            if !before.is_empty() {
                self.carry = Some(before.to_string());
            }
            return Ok(());
        }
        self.complete_line(line, emit)
    }

    /// A line with any pager prompt removed: a continuation of the held frame, or a new line.
    fn complete_line<E>(
        &mut self,
        line: &str,
        emit: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(p) = self.pending.as_mut() {
            if p.joined < MAX_CONTINUATIONS && continues(&p.body, line) {
                join(&mut p.body, line);
                join(&mut p.text, line);
                p.joined += 1;
                p.cut |= self.line_cut;
                return self.release_if_complete(emit);
            }
            self.flush(false, emit)?;
        }
        self.line(line, emit)
    }

    /// Reads the input's last line when it has no newline: the input was cut there (an
    /// excerpt, a log whose writer died), so the frame it belongs to is flagged `truncated`
    /// even when what is left of it reads as complete (`at a.c:1` of `at a.c:12`).
    pub fn push_cut<E>(
        &mut self,
        line: &str,
        emit: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.line_cut = true;
        // A frame still held might have gone on in the part of this line that is missing
        // (`   from LIB` cut to `   fr`, or to blanks): it may be incomplete too. Not when
        // the line starts the next frame or thread: then the held one had ended.
        if let Some(p) = self.pending.as_mut() {
            p.cut |= !(line.starts_with('#') || line.starts_with("Thread "));
        }
        let result = self.push(line, emit);
        self.line_cut = false;
        result
    }

    /// Ends the input: emits the frame still held, as cut if it is incomplete.
    pub fn finish<E>(&mut self, emit: &mut dyn FnMut(Event<'_>) -> Result<(), E>) -> Result<(), E> {
        if let Some(carry) = self.carry.take() {
            // As any line: it may continue the held frame, and must not replace it.
            self.complete_line(&carry, emit)?;
        }
        self.flush(true, emit)
    }

    fn line<E>(
        &mut self,
        line: &str,
        emit: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let first = std::mem::replace(&mut self.at_start, false);
        if first && is_cut_continuation(line) {
            // An excerpt that starts with the wrapped end of a frame (`   from LIB`): the
            // frame itself was cut off, which is worth counting.
            return emit(Event::Unparsed(line));
        }
        if let Ok((rest, index)) = frame_head(line) {
            if let Some(py) = py_full_frame(rest) {
                return self.py_frame(py, line, emit);
            }
            if index == 0 {
                self.start_backtrace();
            }
            self.pending = Some(Pending {
                index: Some(index),
                thread: self.bt_thread,
                body: rest.to_string(),
                text: line.to_string(),
                joined: 0,
                cut: self.line_cut,
            });
            return self.release_if_complete(emit);
        }
        if let Some(header) = thread_header(line) {
            self.bt_thread = Some(header.thread);
            self.header_armed = true;
            self.after = After::Nothing;
            return emit(Event::Thread(header, line));
        }
        if let Some(signal) = signal_line(line) {
            if signal.thread.is_some() {
                self.current = signal.thread;
            }
            self.after = After::Signal;
            return emit(Event::Signal(signal, line));
        }
        if let Some(n) = current_thread_line(line) {
            self.current = Some(n);
        }
        if line.trim_end() == "Traceback (most recent call first):" {
            self.start_backtrace();
            self.py_index = 0;
            self.after = After::PyBt;
            return emit(Event::Other(line));
        }
        if self.after == After::PyBt {
            if let Some(py) = py_bt_frame(line) {
                return self.py_frame(py, line, emit);
            }
            if line.starts_with("    ") {
                return emit(Event::Detail(line));
            }
            if line.starts_with("  ") {
                return emit(Event::Other(line));
            }
        }
        if self.after == After::Frame && is_frame_detail(line) {
            return emit(Event::Detail(line));
        }
        if self.after == After::Signal {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('[') {
                return emit(Event::Other(line));
            }
            if looks_like_location(line) {
                self.pending = Some(Pending {
                    index: None,
                    thread: self.current,
                    body: line.to_string(),
                    text: line.to_string(),
                    joined: 0,
                    cut: self.line_cut,
                });
                return self.release_if_complete(emit);
            }
        }
        self.after = After::Nothing;
        // `#7` of a frame line cut right after it (or its `#` alone) is a frame, unread.
        if line.starts_with('#')
            && (self.line_cut || line[1..].starts_with(|c: char| c.is_ascii_digit()))
        {
            return emit(Event::Unparsed(line));
        }
        emit(Event::Other(line))
    }

    /// A new backtrace begins: its thread is the one a header just named, else the current
    /// thread.
    fn start_backtrace(&mut self) {
        if !self.header_armed {
            self.bt_thread = self.current;
        }
        self.header_armed = false;
    }

    fn py_frame<E>(
        &mut self,
        py: PyParts,
        line: &str,
        emit: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.after != After::PyBt {
            self.start_backtrace();
            self.py_index = 0;
        }
        self.after = After::PyBt;
        let frame = PyFrame {
            thread: self.bt_thread,
            index: self.py_index,
            function: py.function,
            file: py.file,
            line: py.line,
        };
        self.py_index += 1;
        emit(Event::PyFrame(frame, line))
    }

    /// Emits the pending frame once nothing can follow it: it has a location.
    fn release_if_complete<E>(
        &mut self,
        emit: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let complete = self.pending.as_ref().is_some_and(|p| {
            let body = p.body.as_str();
            match locate(body) {
                Some(l) => {
                    l.close.is_some()
                        && (l.tail.starts_with(" at ") || l.tail.starts_with(" from "))
                }
                None => is_pseudo(body),
            }
        });
        if complete {
            self.flush(false, emit)?;
        }
        Ok(())
    }

    /// Emits the pending frame; `eof` says the input ended, so an incomplete frame was cut.
    fn flush<E>(
        &mut self,
        eof: bool,
        emit: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        match parse_body(&p.body, eof || p.cut) {
            Some(mut frame) => {
                frame.truncated |= p.cut;
                frame.index = p.index;
                frame.thread = p.thread;
                frame.text = p.text;
                self.after = After::Frame;
                if p.index.is_some() {
                    emit(Event::Frame(frame))
                } else {
                    emit(Event::Stop(frame))
                }
            }
            None if p.index.is_none() => {
                self.after = After::Nothing;
                emit(Event::Other(&p.text))
            }
            None => {
                self.after = After::Nothing;
                emit(Event::Unparsed(&p.text))
            }
        }
    }
}

/// The text before a pager prompt, when the line holds one.
fn before_pager_prompt(line: &str) -> Option<&str> {
    const PROMPTS: &[&str] = &[
        "--Type <RET> for more, q to quit, c to continue without paging--",
        "---Type <return> to continue, or q <return> to quit---",
    ];
    // Cheap test first: nearly every line has no `Type <`.
    if !line.contains("Type <") {
        return None;
    }
    PROMPTS
        .iter()
        .filter_map(|p| line.find(p))
        .min()
        .map(|i| &line[..i])
}

/// True when `line` carries on the frame whose text so far is `body`.
fn continues(body: &str, line: &str) -> bool {
    if line.trim().is_empty() || frame_head(line).is_ok() || thread_header(line).is_some() {
        return false;
    }
    if is_pseudo(body) {
        return false;
    }
    let indented = line.starts_with(' ');
    let rest = line.trim_start();
    match locate(body) {
        // The argument list is still open: gdb wrapped it, or a pretty-printer's message
        // broke it with a newline.
        Some(l) if l.close.is_none() => true,
        // Closed, and no location yet: `from LIB` and `at FILE:LINE` may be on the next line.
        Some(l) if l.tail.is_empty() => {
            indented
                && (rest.starts_with("from ") || (rest.starts_with("at ") && !rest.contains(" = ")))
        }
        Some(_) => false,
        // A name without its argument list: gdb may wrap before ` (`.
        None => indented && rest.starts_with('(') && has_function(body),
    }
}

/// The wrapped tail of a frame on a line of its own: `   from LIB`, `    at FILE:LINE` or
/// `    (args) at …`, indented as gdb indents them.
fn is_cut_continuation(line: &str) -> bool {
    let rest = line.trim_start();
    rest.len() < line.len()
        && (rest.starts_with("from /") || rest.starts_with("at ") || rest.starts_with('('))
}

fn has_function(body: &str) -> bool {
    match hex_addr(body) {
        Ok((rest, _)) => rest.starts_with(" in "),
        Err(_) => !body.trim().is_empty(),
    }
}

/// Appends a wrapped line: the indentation gdb added is dropped, one space stands for the
/// line break except right after `(` and before `,` or `)`.
fn join(acc: &mut String, line: &str) {
    let trimmed_len = acc.trim_end().len();
    acc.truncate(trimmed_len);
    let rest = line.trim_start();
    if !(acc.ends_with('(') || rest.starts_with(',') || rest.starts_with(')')) {
        acc.push(' ');
    }
    acc.push_str(rest);
}

/// `#12 ` (any spaces): the rest of the line and the frame number.
fn frame_head(line: &str) -> IResult<&str, u32> {
    let (rest, n) =
        nom::sequence::preceded(char('#'), map_res(digit1, str::parse::<u32>)).parse(line)?;
    let (rest, _) = space1(rest)?;
    Ok((rest, n))
}

/// `0x00007ffff77ad6b1`.
fn hex_addr(s: &str) -> IResult<&str, &str> {
    recognize((tag("0x"), take_while1(|c: char| c.is_ascii_hexdigit()))).parse(s)
}

/// `<signal handler called>` and `<function called from gdb>`: the markers gdb prints in a
/// frame's place (and what such a frame's `function` holds).
pub fn is_pseudo(body: &str) -> bool {
    let b = body.trim_end();
    b == "<signal handler called>" || b == "<function called from gdb>"
}

/// Lines that belong to the frame above them: `bt full` locals (indented by 8), the messages
/// in place of locals, and the source line echoed after a stop (`271\t    *p = v;`, or with
/// spaces where a tab was copied from a terminal). Public for the text report, which folds a
/// frame's details with it.
pub fn is_frame_detail(line: &str) -> bool {
    if line.starts_with("        ") {
        return true;
    }
    let t = line.trim_end();
    if t == "No locals." || t == "No symbol table info available." {
        return true;
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && {
        let rest = &line[digits..];
        rest.starts_with('\t') || rest.starts_with("  ")
    }
}

/// A stop location after a signal: `0x… in f () from LIB` or `f (a=1) at f.c:3` (or the
/// start of one wrapped inside its argument list). Without an address it needs its location,
/// so that the program's own `Error (code 3)` printed there is not taken for one.
fn looks_like_location(line: &str) -> bool {
    match hex_addr(line) {
        Ok((rest, _)) => rest.starts_with(" in ") || rest.is_empty(),
        Err(_) => {
            matches!(locate(line), Some(l) if l.open > 0 && (l.close.is_none() || !l.tail.is_empty()))
        }
    }
}

/// Where a frame body's argument list is: `open` is its `(`, `close` its `)` (`None` when
/// the line was cut inside it), `tail` what follows (`""`, ` at …`, ` from …`).
struct Located<'a> {
    open: usize,
    close: Option<usize>,
    tail: &'a str,
}

/// What CPython's gdb helpers write where they cut a repr.
const REPR_CUT: &str = "...(truncated)";

/// Finds the argument list of a frame body (after `0x… in `). It is the first `(` that
/// follows a space outside every bracket of the name and whose matching `)` ends the line or
/// is followed by ` at ` or ` from `; parentheses inside a C++ name (`f(int)`,
/// `void ()` in a template, `(anonymous namespace)`) are not preceded by a space at the top
/// level. Inside the argument list only parentheses, brackets and quotes nest: `<` and `>`
/// appear unbalanced in values (`<optimized out>`, `0x1 <sym+8>`, `a->b`).
fn locate(body: &str) -> Option<Located<'_>> {
    let b = body.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut parens = 0usize;
    let mut candidate: Option<usize> = None;
    let mut first_open: Option<usize> = None;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        // CPython's gdb helpers cut a long repr (a module's globals) at 1024 characters and
        // write `...(truncated)`: what the repr opened (its quote, braces, brackets) is
        // never closed, and the argument list goes on after the marker.
        if c == b'.' && candidate.is_some() && body[i..].starts_with(REPR_CUT) {
            quote = None;
            stack.truncate(1);
            parens = 1;
            i += REPR_CUT.len();
            continue;
        }
        if let Some(q) = quote {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' | b'\'' if parens > 0 && opens_quote(b, i) => quote = Some(c),
            b'(' => {
                if stack.is_empty() && i > 0 && b[i - 1] == b' ' {
                    candidate = Some(i);
                    first_open.get_or_insert(i);
                }
                stack.push(b'(');
                parens += 1;
            }
            b')' => {
                // Unclosed `<` inside the group (an expression, a cut value) end with it.
                while let Some(top) = stack.pop() {
                    if top == b'(' {
                        parens -= 1;
                        break;
                    }
                }
                if stack.is_empty() {
                    if let Some(open) = candidate.take() {
                        let tail = &body[i + 1..];
                        if tail.is_empty() || tail.starts_with(" at ") || tail.starts_with(" from ")
                        {
                            return Some(Located {
                                open,
                                close: Some(i),
                                tail,
                            });
                        }
                    }
                }
            }
            b'[' | b'{' => stack.push(c),
            b']' | b'}' => {
                let open = if c == b']' { b'[' } else { b'{' };
                if let Some(pos) = stack.iter().rposition(|&t| t == open) {
                    parens -= stack[pos..].iter().filter(|&&t| t == b'(').count();
                    stack.truncate(pos);
                }
            }
            b'<' if parens == 0 => stack.push(b'<'),
            b'>' if parens == 0 && stack.last() == Some(&b'<') => {
                stack.pop();
            }
            b'o' if parens == 0
                && body[i..].starts_with("operator")
                && (i == 0 || !is_name_byte(b[i - 1])) =>
            {
                i += "operator".len();
                let rest = &b[i..];
                if rest.starts_with(b"()") || rest.starts_with(b"[]") {
                    i += 2;
                } else {
                    i += rest
                        .iter()
                        .take_while(|c| b"<>=!+-*/%^&|~,".contains(c))
                        .count();
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    // Cut inside the argument list: the open candidate, else the first one seen.
    candidate.or(first_open).map(|open| Located {
        open,
        close: None,
        tail: "",
    })
}

/// A quote at `i` opens a literal unless it is an apostrophe inside a word (`Couldn't`, in
/// a gdb error message); Python's `b'…'`, `r'…'` prefixes still open one.
fn opens_quote(b: &[u8], i: usize) -> bool {
    match i.checked_sub(1).map(|j| b[j]) {
        None => true,
        Some(p) if !is_name_byte(p) => true,
        Some(b'b' | b'r' | b'u' | b'f') => i < 2 || !is_name_byte(b[i - 2]),
        Some(_) => false,
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Reads a frame body (what follows `#N  `, or a whole stop line). `eof` allows a body cut
/// before its argument list, which only the last line of an input may be.
fn parse_body(body: &str, eof: bool) -> Option<FrameLine> {
    let body = body.trim_end();
    let mut frame = FrameLine::default();
    if is_pseudo(body) {
        frame.frame.function = Some(body.to_string());
        frame.pseudo = true;
        return Some(frame);
    }
    let rest = match hex_addr(body) {
        Ok((rest, addr)) => {
            frame.frame.addr = Some(addr.to_string());
            if rest.is_empty() {
                // `#9  0x00007f2d1c82f53b`: an excerpt cut after the address.
                frame.truncated = true;
                return Some(frame);
            }
            rest.strip_prefix(" in ")?
        }
        Err(_) => body,
    };
    match locate(rest) {
        Some(l) => {
            let name = rest[..l.open].trim_end();
            if name.is_empty() {
                return None;
            }
            frame.frame.function = (name != "??").then(|| name.to_string());
            match l.close {
                Some(close) => {
                    frame.args = Some(rest[l.open + 1..close].to_string());
                    location(&mut frame, l.tail);
                }
                None => {
                    frame.args = Some(rest[l.open + 1..].to_string());
                    frame.truncated = true;
                }
            }
            Some(frame)
        }
        // A name and nothing after it: only a cut line ends like that (an address shows it
        // is a frame anyway).
        None if !rest.trim().is_empty() && (frame.frame.addr.is_some() || eof) => {
            frame.frame.function = Some(rest.trim().to_string());
            frame.truncated = true;
            Some(frame)
        }
        None => None,
    }
}

/// ` at FILE:LINE` or ` from LIB` after the argument list.
fn location(frame: &mut FrameLine, tail: &str) {
    if let Some(at) = tail.strip_prefix(" at ") {
        match at.rsplit_once(':') {
            Some((file, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
                frame.frame.file = Some(file.to_string());
                frame.frame.line = line.parse().ok();
            }
            _ => {
                frame.frame.file = Some(at.to_string());
                frame.truncated = true;
            }
        }
    } else if let Some(lib) = tail.strip_prefix(" from ") {
        frame.frame.object = Some(lib.to_string());
    }
}

/// `Thread 2 (Thread 0x7ffff79b46c0 (LWP 23167) "python3.11"):`, `Thread 1 (process 42):`.
fn thread_header(line: &str) -> Option<ThreadHeader> {
    let line = line.trim_end();
    let (inner, thread) = thread_number(line).ok()?;
    let inner = inner.strip_prefix(" (")?.strip_suffix("):")?;
    let lwp = inner.find("(LWP ").and_then(|i| {
        let digits: String = inner[i + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    });
    let name = inner
        .strip_suffix('"')
        .and_then(|s| s.find('"').map(|i| s[i + 1..].to_string()));
    Some(ThreadHeader { thread, lwp, name })
}

fn thread_number(line: &str) -> IResult<&str, u32> {
    nom::sequence::preceded(tag("Thread "), map_res(digit1, str::parse::<u32>)).parse(line)
}

/// The signal reports of a live process and of a core file.
fn signal_line(line: &str) -> Option<Signal> {
    let line = line.trim_end();
    let (thread, thread_name, rest) =
        if let Some(rest) = line.strip_prefix("Program received signal ") {
            // gdb names the thread as soon as the process has ever had a second one, so a live
            // process that says "Program" has only ever had thread 1.
            (Some(1), None, rest)
        } else if let Some(rest) = line.strip_prefix("Program terminated with signal ") {
            // A core file: the thread is named later, by `[Current thread is N …]`.
            (None, None, rest)
        } else {
            let (after, n) = thread_number(line).ok()?;
            let (name, rest) = if let Some(rest) = after.strip_prefix(" received signal ") {
                (None, rest)
            } else {
                let quoted = after.strip_prefix(" \"")?;
                let end = quoted.rfind("\" received signal ")?;
                (
                    Some(quoted[..end].to_string()),
                    &quoted[end + "\" received signal ".len()..],
                )
            };
            (Some(n), name, rest)
        };
    let (signal, description) = match rest.split_once(", ") {
        Some((s, d)) => (s, Some(d.trim_end_matches('.').to_string())),
        None => (rest.trim_end_matches('.'), None),
    };
    if !signal.starts_with("SIG") && !signal.starts_with('?') {
        return None;
    }
    Some(Signal {
        signal: signal.to_string(),
        description,
        thread,
        thread_name,
    })
}

/// `[Current thread is 1 (Thread 0x… (LWP 294))]` (core files) and `[Switching to thread 2
/// (Thread …)]` (the `thread N` command): the thread a following `bt` shows.
fn current_thread_line(line: &str) -> Option<u32> {
    let rest = line
        .strip_prefix("[Current thread is ")
        .or_else(|| line.strip_prefix("[Switching to thread "))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The parts of a Python frame line.
struct PyParts {
    function: String,
    file: Option<String>,
    line: Option<u32>,
}

/// `  File "/x/run.py", line 101, in call` or `  <built-in method … at remote 0x…>`.
fn py_bt_frame(line: &str) -> Option<PyParts> {
    let rest = line.strip_prefix("  ")?;
    if rest.starts_with('<') {
        return builtin(rest);
    }
    let (rest, file) = nom::sequence::delimited(
        tag::<_, _, nom::error::Error<&str>>("File \""),
        nom::bytes::complete::take_until("\", line "),
        tag("\", line "),
    )
    .parse(rest)
    .ok()?;
    let (rest, n) = map_res(digit1::<_, nom::error::Error<&str>>, str::parse::<u32>)
        .parse(rest)
        .ok()?;
    let function = rest.strip_prefix(", in ")?;
    Some(PyParts {
        function: function.trim_end().to_string(),
        file: Some(file.to_string()),
        line: Some(n),
    })
}

/// `Frame 0x7ffff7aec1e0, for file /x/run.py, line 101, in call (function=…)` or
/// `<built-in method …>`, after `#N ` in `py-bt-full`.
fn py_full_frame(rest: &str) -> Option<PyParts> {
    if rest.starts_with("<built-in ") {
        return builtin(rest);
    }
    let after = rest.strip_prefix("Frame ")?;
    let (after, _) = hex_addr(after).ok()?;
    let after = after.strip_prefix(", for file ")?;
    let (file, after) = after.split_once(", line ")?;
    let (after, n) = map_res(digit1::<_, nom::error::Error<&str>>, str::parse::<u32>)
        .parse(after)
        .ok()?;
    let after = after.strip_prefix(", in ")?;
    let function = after.split_once(" (").map_or(after, |(f, _)| f);
    Some(PyParts {
        function: function.trim_end().to_string(),
        file: Some(file.to_string()),
        line: Some(n),
    })
}

/// `<built-in method sleep of module object at remote 0x7ffff7bfb3d0>` → `built-in method
/// sleep of module object`: the address differs from run to run.
fn builtin(rest: &str) -> Option<PyParts> {
    let inner = rest.trim_end().strip_prefix('<')?.strip_suffix('>')?;
    if !inner.starts_with("built-in ") {
        return None;
    }
    let function = inner.split(" at remote 0x").next().unwrap_or(inner);
    Some(PyParts {
        function: function.to_string(),
        file: None,
        line: None,
    })
}

/// Parses a whole text, for tests and small inputs: every event, owned.
pub fn parse_all(text: &str) -> Vec<OwnedEvent> {
    let mut out = Vec::new();
    let mut parser = Parser::new();
    let mut emit = |e: Event<'_>| -> Result<(), std::convert::Infallible> {
        out.push(OwnedEvent::from(e));
        Ok(())
    };
    for line in text.lines() {
        let _ = parser.push(line, &mut emit);
    }
    let _ = parser.finish(&mut emit);
    out
}

/// An [`Event`] that owns its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedEvent {
    /// See [`Event::Frame`].
    Frame(FrameLine),
    /// See [`Event::Stop`].
    Stop(FrameLine),
    /// See [`Event::PyFrame`].
    PyFrame(PyFrame),
    /// See [`Event::Thread`].
    Thread(ThreadHeader),
    /// See [`Event::Signal`].
    Signal(Signal),
    /// See [`Event::Detail`].
    Detail(String),
    /// See [`Event::Unparsed`].
    Unparsed(String),
    /// See [`Event::Other`].
    Other(String),
}

impl From<Event<'_>> for OwnedEvent {
    fn from(e: Event<'_>) -> Self {
        match e {
            Event::Frame(f) => OwnedEvent::Frame(f),
            Event::Stop(f) => OwnedEvent::Stop(f),
            Event::PyFrame(f, _) => OwnedEvent::PyFrame(f),
            Event::Thread(h, _) => OwnedEvent::Thread(h),
            Event::Signal(s, _) => OwnedEvent::Signal(s),
            Event::Detail(t) => OwnedEvent::Detail(t.to_string()),
            Event::Unparsed(t) => OwnedEvent::Unparsed(t.to_string()),
            Event::Other(t) => OwnedEvent::Other(t.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(text: &str) -> Vec<FrameLine> {
        parse_all(text)
            .into_iter()
            .filter_map(|e| match e {
                OwnedEvent::Frame(f) | OwnedEvent::Stop(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    fn one(line: &str) -> FrameLine {
        let mut f = frames(line);
        assert_eq!(f.len(), 1, "{line}");
        f.remove(0)
    }

    /// (addr, function, args, file, line, object) of a frame.
    type Parts<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<u32>,
        Option<&'a str>,
    );

    fn parts(f: &FrameLine) -> Parts<'_> {
        (
            f.frame.addr.as_deref(),
            f.frame.function.as_deref(),
            f.args.as_deref(),
            f.frame.file.as_deref(),
            f.frame.line,
            f.frame.object.as_deref(),
        )
    }

    #[test]
    fn frame_lines() {
        let cases: &[(&str, Parts)] = &[
            (
                "#0  0x00007ffff77ad6b1 in dbgpipe_store (p=0x0, v=42) at /x/dbgpipe_example.c:271",
                (Some("0x00007ffff77ad6b1"), Some("dbgpipe_store"), Some("p=0x0, v=42"), Some("/x/dbgpipe_example.c"), Some(271), None),
            ),
            (
                "#3  0x00007ffff79bbf7a in ?? () from /lib/x86_64-linux-gnu/libffi.so.8",
                (Some("0x00007ffff79bbf7a"), None, Some(""), None, None, Some("/lib/x86_64-linux-gnu/libffi.so.8")),
            ),
            (
                "#25 function_code_fastcall () at Objects/call.c:283",
                (None, Some("function_code_fastcall"), Some(""), Some("Objects/call.c"), Some(283), None),
            ),
            (
                "#1  0x00007f9da361d00d in pollset_work(grpc_pollset*, grpc_pollset_worker**, long) () from /x/cygrpc.so",
                (Some("0x00007f9da361d00d"), Some("pollset_work(grpc_pollset*, grpc_pollset_worker**, long)"), Some(""), None, None, Some("/x/cygrpc.so")),
            ),
            (
                "#3  0x1 in std::_Function_handler<void (), tf::(anonymous namespace)::E::S(tf::N const&)::{lambda()#1}>::_M_invoke(std::_Any_data const&) () from /x/libtf.so",
                (Some("0x1"), Some("std::_Function_handler<void (), tf::(anonymous namespace)::E::S(tf::N const&)::{lambda()#1}>::_M_invoke(std::_Any_data const&)"), Some(""), None, None, Some("/x/libtf.so")),
            ),
            (
                "#10 0x1 in f(int) [clone .isra.0] () from /x.so",
                (Some("0x1"), Some("f(int) [clone .isra.0]"), Some(""), None, None, Some("/x.so")),
            ),
            (
                "#2  0x1 in std::operator<< <std::char_traits<char> > (os=..., s=0x2 \"(\") at ostream:611",
                (Some("0x1"), Some("std::operator<< <std::char_traits<char> >"), Some("os=..., s=0x2 \"(\""), Some("ostream"), Some(611), None),
            ),
            (
                "#2  0x1 in __malloc_assert (assertion=0x2 \"(a) && b == 0) || (c\", function=0x3 <__PRETTY_FUNCTION__.13066> \"sysmalloc\") at malloc.c:298",
                (Some("0x1"), Some("__malloc_assert"), Some("assertion=0x2 \"(a) && b == 0) || (c\", function=0x3 <__PRETTY_FUNCTION__.13066> \"sysmalloc\""), Some("malloc.c"), Some(298), None),
            ),
            (
                "#4  0x1 in g (x=<error reading variable: Cannot access memory at address 0x8 (bad)>, m='(', s=\"Couldn't\") at g.c:3",
                (Some("0x1"), Some("g"), Some("x=<error reading variable: Cannot access memory at address 0x8 (bad)>, m='(', s=\"Couldn't\""), Some("g.c"), Some(3), None),
            ),
            (
                "#1  0x1 in h (msg=<error: Couldn't read (memory)>) at h.c:9",
                (Some("0x1"), Some("h"), Some("msg=<error: Couldn't read (memory)>"), Some("h.c"), Some(9), None),
            ),
            (
                "#6  0x1 in run_mod (globals={'__name__': '__main__', '__doc__': 'x (see y).'}) at ../Python/pythonrun.c:1735",
                (Some("0x1"), Some("run_mod"), Some("globals={'__name__': '__main__', '__doc__': 'x (see y).'}"), Some("../Python/pythonrun.c"), Some(1735), None),
            ),
            (
                "#0  0x0000000000000045 in ?? ()",
                (Some("0x0000000000000045"), None, Some(""), None, None, None),
            ),
            // A long repr cut by CPython's gdb helpers, inside a string and a dict.
            (
                "#8  0x1 in PyEval_EvalCode (co=0x2, globals={'__doc__': 'Call (see README.md).', 'MODULE': 'x', 'fail...(truncated), locals={'a': [1, (2...(truncated)) at ../Python/ceval.c:1154",
                (Some("0x1"), Some("PyEval_EvalCode"), Some("co=0x2, globals={'__doc__': 'Call (see README.md).', 'MODULE': 'x', 'fail...(truncated), locals={'a': [1, (2...(truncated)"), Some("../Python/ceval.c"), Some(1154), None),
            ),
        ];
        for (line, want) in cases {
            let f = one(line);
            assert_eq!(parts(&f), *want, "{line}");
            assert!(!f.truncated, "{line}");
        }
        let sig = one("#3  <signal handler called>");
        assert!(sig.pseudo && sig.frame.addr.is_none() && sig.args.is_none());
    }

    #[test]
    fn cut_lines_are_truncated_frames() {
        for (line, function) in [
            ("#9  0x00007f2d1c82f53b", None),
            ("#27 0x00000000004eaaf1 in Py", Some("Py")),
            (
                "#4  0x1 in _int_malloc (av=av@entry=0x2 <main_arena",
                Some("_int_malloc"),
            ),
            (
                "#39 0x1 in _PyEval_EvalFrameDefault () at ./Include/cp",
                Some("_PyEval_EvalFrameDefault"),
            ),
            ("#4  __pyx_f_x (v=0x7f <_Py_Fa", Some("__pyx_f_x")),
        ] {
            let f = one(line);
            assert!(f.truncated, "{line}");
            assert_eq!(f.frame.function.as_deref(), function, "{line}");
        }
        // Without an address, a bare name is a frame only as the last line of an input.
        let events = parse_all("#4  foo\n#5  0x1 in bar () from /x.so\n");
        assert!(
            matches!(&events[0], OwnedEvent::Unparsed(t) if t == "#4  foo"),
            "{events:?}"
        );
        assert!(one("#4  foo").truncated);
    }

    #[test]
    fn wrapped_lines_and_pager_prompts() {
        let text = "\
#0  0x1 in grpc_core::LockfreeEvent::SetReady() ()
--Type <RET> for more, q to quit, c to continue without paging--c
   from /x/cygrpc.cpython-38-x86_64-linux-gnu.so
#10 0x2 in next_call_event() [clone .isra.0] ()
   from /x/cygrpc.cpython--Type <RET> for more, q to quit, c to continue without paging--
-38-x86_64-linux-gnu.so
#4  0x3 in type_call (self=self@entry=0x4 <PyArrayFunctionDispatcher_Type>,
    args=args@entry=0x5 <_PyRuntime+128544>, kwds=kwds@entry=0x0) at Objects/typeobject.c:1985
#2  0x6 in __malloc_assert (
    assertion=0x7 \"x\") at malloc.c:298
#0  dbgpipe::BadHash::operator() (key=Python Exception <class 'gdb.error'>: value has been optimized out
, this=0x8) at /usr/include/c++/12/string_view:216
#7  0x9 in a_very_long_function_name
    (x=1) at a.c:1
---Type <return> to continue, or q <return> to quit---
#8  0xa in last () at a.c:2
";
        let f = frames(text);
        let lib = "/x/cygrpc.cpython-38-x86_64-linux-gnu.so";
        assert_eq!(f.len(), 7, "{f:#?}");
        assert_eq!(f[0].frame.object.as_deref(), Some(lib));
        assert_eq!(f[1].frame.object.as_deref(), Some(lib));
        assert_eq!(
            f[1].frame.function.as_deref(),
            Some("next_call_event() [clone .isra.0]")
        );
        assert_eq!(
            f[2].args.as_deref(),
            Some("self=self@entry=0x4 <PyArrayFunctionDispatcher_Type>, args=args@entry=0x5 <_PyRuntime+128544>, kwds=kwds@entry=0x0")
        );
        assert_eq!(f[2].frame.line, Some(1985));
        assert_eq!(f[3].args.as_deref(), Some("assertion=0x7 \"x\""));
        assert_eq!(
            f[4].frame.function.as_deref(),
            Some("dbgpipe::BadHash::operator()")
        );
        assert_eq!(
            f[4].frame.file.as_deref(),
            Some("/usr/include/c++/12/string_view")
        );
        assert_eq!(
            (f[5].frame.function.as_deref(), f[5].frame.line),
            (Some("a_very_long_function_name"), Some(1))
        );
        assert_eq!(f[6].frame.function.as_deref(), Some("last"));
        assert!(f.iter().all(|f| !f.truncated));
    }

    /// A frame line cut by a pager prompt at the very end of the input used to replace the
    /// frame still held, which was lost.
    #[test]
    fn a_prompt_at_the_end_keeps_the_frame_before_it() {
        let text = "#0  0x1 in f (a=1,\n#1  0x2 in g () from /x.so--Type <RET> for more, q to quit, c to continue without paging--";
        let f = frames(text);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(f[0].frame.function.as_deref(), Some("f"));
        assert!(f[0].truncated);
        assert_eq!(f[1].frame.object.as_deref(), Some("/x.so"));
    }

    /// Every line holding a prompt in mid-line joins the next: without a bound the text
    /// carried grew with the input.
    #[test]
    fn prompts_on_every_line_do_not_join_without_bound() {
        let prompt = "--Type <RET> for more, q to quit, c to continue without paging--";
        let chunk = "x".repeat(64 << 10);
        let mut parser = Parser::new();
        let mut others = 0usize;
        let mut emit = |e: Event<'_>| -> Result<(), std::convert::Infallible> {
            if let Event::Other(t) = e {
                assert!(t.len() <= MAX_LINE + chunk.len(), "{}", t.len());
                others += 1;
            }
            Ok(())
        };
        for _ in 0..64 {
            let Ok(()) = parser.push(&format!("{chunk}{prompt}"), &mut emit);
        }
        let Ok(()) = parser.finish(&mut emit);
        assert_eq!(others, 4, "64 lines of 64 KiB make 4 of just over 1 MiB");
    }

    /// What a cut looks like from each side: the first part's last line has no newline (its
    /// frame is flagged even when what is left reads as complete), and the second part
    /// starts with the wrapped end of a frame (counted as unparsed).
    #[test]
    fn cut_inputs_say_so() {
        let cut_frames = |text: &str, last: &str| {
            let mut frames = Vec::new();
            let mut parser = Parser::new();
            let mut emit = |e: Event<'_>| -> Result<(), std::convert::Infallible> {
                if let Event::Frame(f) = e {
                    frames.push(f);
                }
                Ok(())
            };
            for line in text.lines() {
                let Ok(()) = parser.push(line, &mut emit);
            }
            let Ok(()) = parser.push_cut(last, &mut emit);
            let Ok(()) = parser.finish(&mut emit);
            frames
        };
        // `a.c:1` of `a.c:12`.
        let f = cut_frames("#0  0x1 in f () at a.c:3\n", "#1  0x2 in g () at a.c:1");
        assert_eq!((f[0].truncated, f[1].truncated), (false, true));
        assert_eq!(f[1].frame.line, Some(1));
        // `   from LIB` cut to blanks: the frame before it may lack its library.
        let f = cut_frames("#0  0x1 in f ()\n", "   ");
        assert!(f[0].truncated);
        // The next frame's `#`: the one before had ended.
        let f = cut_frames("#0  0x1 in f ()\n", "#");
        assert!(!f[0].truncated);
        let events = parse_all("   from /lib/libc.so.6\n#1  0x2 in g () at a.c:3\n");
        assert!(matches!(&events[0], OwnedEvent::Unparsed(_)), "{events:?}");
        let events = parse_all("    at a.c:3\n");
        assert!(matches!(&events[0], OwnedEvent::Unparsed(_)), "{events:?}");
    }

    #[test]
    fn threads_signals_stops_and_details() {
        let text = "\
[New Thread 0x7ffff79b46c0 (LWP 23167)]

Thread 1 \"python3.11\" received signal SIGSEGV, Segmentation fault.
0x00007ffff71b082f in f () from /opt/example/libcrash.so
#0  0x00007ffff71b082f in f () from /opt/example/libcrash.so
No locals.
#1  0x2 in g (a=1) at g.c:3
        x = 1
        at = 2

Thread 2 (Thread 0x7ffff79b46c0 (LWP 23167) \"python3.11\"):
#0  0x3 in sleep () from /lib/libc.so.6

Thread 1 (Thread 0x7ffff7caa040 (LWP 23111) \"python3.11\"):
#0  0x00007ffff71b082f in f () from /opt/example/libcrash.so
";
        let events = parse_all(text);
        let signal = events.iter().find_map(|e| match e {
            OwnedEvent::Signal(s) => Some(s.clone()),
            _ => None,
        });
        assert_eq!(
            signal,
            Some(Signal {
                signal: "SIGSEGV".into(),
                description: Some("Segmentation fault".into()),
                thread: Some(1),
                thread_name: Some("python3.11".into()),
            })
        );
        let stops = events
            .iter()
            .filter(|e| matches!(e, OwnedEvent::Stop(_)))
            .count();
        assert_eq!(stops, 1);
        let details: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                OwnedEvent::Detail(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(details, ["No locals.", "        x = 1", "        at = 2"]);
        let threads: Vec<(Option<u32>, Option<u32>)> =
            frames(text).iter().map(|f| (f.index, f.thread)).collect();
        assert_eq!(
            threads,
            [
                (None, Some(1)),
                (Some(0), Some(1)),
                (Some(1), Some(1)),
                (Some(0), Some(2)),
                (Some(0), Some(1))
            ]
        );
        let header = events.iter().find_map(|e| match e {
            OwnedEvent::Thread(h) => Some(h.clone()),
            _ => None,
        });
        assert_eq!(
            header,
            Some(ThreadHeader {
                thread: 2,
                lwp: Some(23167),
                name: Some("python3.11".into())
            })
        );
    }

    #[test]
    fn the_program_output_after_a_signal_is_not_a_stop() {
        let events = parse_all("Program received signal SIGSEGV, x.\nError (code 3)\n");
        assert!(
            matches!(&events[1], OwnedEvent::Other(t) if t == "Error (code 3)"),
            "{events:?}"
        );
        let events = parse_all("Program received signal SIGSEGV, x.\nf (a=1) at f.c:3\n");
        assert!(
            matches!(&events[1], OwnedEvent::Stop(f) if f.frame.line == Some(3)),
            "{events:?}"
        );
    }

    #[test]
    fn signal_lines() {
        let cases = [
            (
                "Program received signal SIGSEGV, Segmentation fault.",
                Some(("SIGSEGV", Some(1), None)),
            ),
            (
                "Program terminated with signal SIGABRT, Aborted.",
                Some(("SIGABRT", None, None)),
            ),
            (
                "Thread 20 \"python3.5\" received signal SIGSEGV, Segmentation fault.",
                Some(("SIGSEGV", Some(20), Some("python3.5"))),
            ),
            (
                "Thread 3 received signal SIGBUS, Bus error.",
                Some(("SIGBUS", Some(3), None)),
            ),
            ("Thread 2 \"x\" hit Breakpoint 1, main () at a.c:3", None),
            ("Program received a letter", None),
        ];
        for (line, want) in cases {
            let got = signal_line(line);
            let got = got
                .as_ref()
                .map(|s| (s.signal.as_str(), s.thread, s.thread_name.as_deref()));
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn python_frames() {
        let text = "\
Traceback (most recent call first):
  <built-in method crash_null of module object at remote 0x7ffff79de450>
  File \"/x/run.py\", line 101, in call
    function()
  File \"/x/run.py\", line 167, in <module>
    main()
#2 <built-in method sleep of module object at remote 0x1>
#5 Frame 0x7ffff7aec1e0, for file /x/run.py, line 101, in call (function=<built-in method x>, rounds=1)
    function()
";
        let events = parse_all(text);
        let py: Vec<(u32, String, Option<u32>)> = events
            .iter()
            .filter_map(|e| match e {
                OwnedEvent::PyFrame(p) => Some((p.index, p.function.clone(), p.line)),
                _ => None,
            })
            .collect();
        assert_eq!(
            py,
            [
                (
                    0,
                    "built-in method crash_null of module object".to_string(),
                    None
                ),
                (1, "call".to_string(), Some(101)),
                (2, "<module>".to_string(), Some(167)),
                (
                    3,
                    "built-in method sleep of module object".to_string(),
                    None
                ),
                (4, "call".to_string(), Some(101)),
            ]
        );
        assert!(!events.iter().any(|e| matches!(e, OwnedEvent::Unparsed(_))));
    }

    #[test]
    fn garbage_never_panics() {
        let long_open = format!("#1  0x1 in f ({}", "(".repeat(100_000));
        let inputs = [
            "",
            "#",
            "#1",
            "#1 ",
            "#99999999999999999999 0x1 in f ()",
            "#1  0x",
            "#1  0x1 in",
            "#1  0x1 in (",
            "#1  ) ( ) at",
            "Thread 1 (",
            "Thread 99999999999 (x):",
            "Program received signal ",
            "--Type <RET> for more, q to quit, c to continue without paging--",
            "x--Type <RET> for more, q to quit, c to continue without paging--",
            "  File \"",
            "#1 Frame 0x1, for file",
            "\u{fffd}\u{fffd}#0  0x1 in \u{fffd} (\u{fffd}",
            long_open.as_str(),
        ];
        for input in inputs {
            parse_all(input);
            parse_all(&format!(
                "Program received signal SIGSEGV, x.\n{input}\n{input}"
            ));
        }
    }
}
