//! bt-demangle's text report, and the printer for each of its formats ([`printer`]).
//!
//! The text report is gdb's output with frames rewritten in place:
//! `#0  0x00007ffff77ad6b1 in dbgpipe_store (…) at /x/dbgpipe_example.c:271  <- project`;
//! argument values shown as `(…)` unless `--keep-args`; runs of two or more interpreter
//! frames of one stack folded into `    … 14 interpreter frames …` (with their `bt full`
//! locals) unless `--all`; every other line as the filter passed it through (mangled names
//! demangled). Then, per gdb session, the crash lines
//! (`crash: SIGSEGV (Segmentation fault) in thread 1, signature 5d1f…`, its top frame and
//! its first project frame), and one summary line, unless nothing was read at all: a list
//! of symbols comes out exactly as `c++filt` would print it.

use super::classify::Class;
use super::gdb;
use super::records::{
    CrashRecord, FixedCrash, FrameRecord, FrameRef, PyFrameRecord, Record, Summary,
};
use crate::output::{Csv, Format, JsonLines, Printer, Sink};
use crate::{Error, Frame};
use std::io::{self, Write};

/// What only the text report is told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// Show argument values (`--keep-args`); they are `(…)` otherwise.
    pub keep_args: bool,
    /// Show every interpreter frame (`--all`) instead of folding runs of them.
    pub all: bool,
}

/// The printer for `format`: the text report, JSON lines, or CSV (notes to `notes`, which is
/// standard error for the binary).
pub fn printer<'a, W: Write + 'a>(
    format: Format,
    opts: TextOptions,
    out: W,
    notes: Box<dyn Write>,
    line_buffered: bool,
) -> Result<Box<dyn Printer<Record> + 'a>, Error> {
    let sink = Sink::new(out, line_buffered);
    Ok(match format {
        Format::Text => Box::new(Text::new(sink, opts)),
        Format::Jsonl => Box::new(JsonLines::new(sink)),
        Format::Csv => Box::new(Csv::new(sink, notes, line_buffered)),
        Format::Sarif => {
            return Err(Error::at(
                "--format sarif",
                None,
                "bt-demangle writes text, jsonl or csv",
            ))
        }
    })
}

/// Most bytes held for one interpreter frame and its `bt full` locals while it is not known
/// whether a run follows; past it they are written out, and the run starts afresh.
const MAX_HELD: usize = 1 << 20;

/// The text report (see the module documentation).
pub struct Text<W: Write> {
    sink: Sink<W>,
    opts: TextOptions,
    /// Interpreter frames of the run being folded.
    fold_frames: usize,
    /// The run's first frame and its details, as text, while it is the only one: a lone
    /// interpreter frame is shown as itself. (From the second on the run is shown as a
    /// count, so its text is not kept: a run of millions would otherwise all be held.)
    held: Vec<u8>,
    /// Thread and index of the run's last frame: a run ends where a stack does.
    last: Option<(Option<u32>, u32)>,
}

impl<W: Write> Text<W> {
    /// A text printer writing to `sink`.
    pub fn new(sink: Sink<W>, opts: TextOptions) -> Self {
        Text {
            sink,
            opts,
            fold_frames: 0,
            held: Vec::new(),
            last: None,
        }
    }

    fn frame(&mut self, f: &FrameRecord) -> io::Result<()> {
        let line = match &f.text {
            // What is left of a cut line is shown as it is.
            Some(text) if f.truncated => format!("{text}\n"),
            _ => render(
                Some(f.index),
                &f.frame,
                f.args.as_deref(),
                f.class,
                f.truncated,
                self.opts.keep_args,
            ),
        };
        if f.class != Class::Python || self.opts.all {
            self.flush_fold()?;
            return self.sink.text(&line);
        }
        let same_stack = self
            .last
            .is_some_and(|(thread, index)| thread == f.thread && f.index > index);
        if !same_stack {
            self.flush_fold()?;
        }
        self.last = Some((f.thread, f.index));
        self.fold_frames += 1;
        if self.fold_frames == 1 {
            self.held.extend_from_slice(line.as_bytes());
        } else {
            self.held.clear();
        }
        Ok(())
    }

    fn flush_fold(&mut self) -> io::Result<()> {
        match self.fold_frames {
            0 => return Ok(()),
            1 => self.sink.bytes(&self.held)?,
            n => self
                .sink
                .text(&format!("    … {n} interpreter frames …\n"))?,
        }
        self.fold_frames = 0;
        self.held.clear();
        self.last = None;
        Ok(())
    }
}

impl<W: Write> Printer<Record> for Text<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Frame(f) => self.frame(f),
            Record::Stop(s) => {
                self.flush_fold()?;
                match &s.text {
                    Some(text) if s.truncated => self.sink.text(&format!("{text}\n")),
                    _ => {
                        // A breakpoint report's line: the report, then the location.
                        if let Some(lead) = &s.lead {
                            self.sink.text(lead)?;
                        }
                        self.sink.text(&render(
                            None,
                            &s.frame,
                            s.args.as_deref(),
                            s.class,
                            s.truncated,
                            self.opts.keep_args,
                        ))
                    }
                }
            }
            Record::PyFrame(p) => {
                self.flush_fold()?;
                match &p.text {
                    Some(text) => self.sink.text(&format!("{text}\n")),
                    None => self.sink.text(&render_python(p)),
                }
            }
            Record::Crash(c) => {
                self.flush_fold()?;
                self.sink.text(&crash_text(c))
            }
            Record::Fixed(f) => {
                self.flush_fold()?;
                self.sink.text(&fixed_text(f))
            }
            Record::Summary(s) => {
                self.flush_fold()?;
                // Text without any frame (a list of symbols, a program's output) stays
                // exactly the input demangled, as `c++filt` would print it.
                if s.frames + s.py_frames + s.crashes > 0 {
                    self.sink.text(&format!("{}\n", summary_line(s)))?;
                }
                Ok(())
            }
        }
    }

    /// A line gdb printed that is no record: a `bt full` local of a folded frame goes with
    /// it; anything else ends the run, and is written as it is.
    fn passthrough(&mut self, line: &[u8]) -> io::Result<()> {
        if self.fold_frames > 0 && gdb::is_frame_detail(&String::from_utf8_lossy(line)) {
            if self.fold_frames == 1 {
                self.held.extend_from_slice(line);
                if self.held.len() > MAX_HELD {
                    // The lone frame is shown with what it has; a frame after it starts a
                    // new run.
                    self.sink.bytes(&self.held)?;
                    self.held.clear();
                    self.fold_frames = 0;
                    self.last = None;
                }
            }
            return Ok(());
        }
        self.flush_fold()?;
        self.sink.bytes(line)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush_fold()?;
        self.sink.flush()
    }
}

/// A frame as text: gdb's shape, the function rewritten, argument values elided unless
/// `keep_args`, project frames marked. A truncated frame read back from JSON lines (whose
/// cut line the record does not hold) shows the parts it has: `#9  0x00007f2d1c82f53b` for
/// a line cut after its address.
fn render(
    index: Option<u32>,
    f: &Frame,
    args: Option<&str>,
    class: Class,
    truncated: bool,
    keep_args: bool,
) -> String {
    let mut s = String::with_capacity(128);
    if let Some(i) = index {
        s.push_str(&format!("#{i:<2} "));
    }
    let cut_after_addr = truncated && f.function.is_none() && args.is_none();
    if let Some(addr) = &f.addr {
        s.push_str(addr);
        if !cut_after_addr {
            s.push_str(" in ");
        }
    }
    if !cut_after_addr {
        s.push_str(f.function.as_deref().unwrap_or("??"));
    }
    if let Some(args) = args {
        if keep_args {
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
    if let Some(object) = &f.object {
        s.push_str(" from ");
        s.push_str(object);
    }
    if class == Class::Project {
        s.push_str(super::gdb::PROJECT_MARK);
    }
    s.push('\n');
    s
}

/// A Python frame read back from JSON lines, as `py-bt` prints it (a built-in without the
/// address gdb printed, which the record does not keep).
fn render_python(p: &PyFrameRecord) -> String {
    let function = p.function.as_deref().unwrap_or("?");
    match (&p.file, p.line) {
        (Some(file), Some(line)) => format!("  File \"{file}\", line {line}, in {function}\n"),
        (Some(file), None) => format!("  File \"{file}\", in {function}\n"),
        _ => format!("  <{function}>\n"),
    }
}

/// The crash lines of the text report (and of CSV's notes): the signal, thread and signature,
/// the top frame, and the first project frame when it is another.
pub fn crash_text(c: &CrashRecord) -> String {
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
        Some(sig) => s.push_str(&format!(", signature {sig}")),
        None => s.push_str(", no signature (no named frame)"),
    }
    if let Some(mark) = c.baseline {
        s.push_str(&format!(" [{}]", mark.as_str()));
    }
    s.push('\n');
    let where_ = |label: &str, r: &FrameRef| {
        let f = &r.frame;
        let mut line = format!("  {label}: ");
        if let Some(i) = r.index {
            line.push_str(&format!("#{i} "));
        }
        line.push_str(f.function.as_deref().unwrap_or("??"));
        match (&f.file, f.line, &f.object) {
            (Some(file), Some(l), _) => line.push_str(&format!(" at {file}:{l}")),
            (Some(file), None, _) => line.push_str(&format!(" at {file}")),
            (None, _, Some(object)) => line.push_str(&format!(" from {object}")),
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

/// A baseline crash no input showed: one line.
pub fn fixed_text(f: &FixedCrash) -> String {
    format!(
        "fixed: {} in {} [{}]\n",
        f.signal.as_deref().unwrap_or("crash"),
        f.signature_functions.first().map_or("?", String::as_str),
        f.fingerprint
    )
}

/// `42 frames (2 project, 38 python, 2 system, 0 unknown) in 1 thread(s) from 1 input(s),
/// 1 crash(es)`, then what was cut, dropped or not read, when anything was.
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{} frames ({} project, {} python, {} system, {} unknown) in {} thread(s) from {} input(s), {} crash(es)",
        s.frames, s.project_frames, s.python_frames, s.system_frames, s.unknown_frames, s.threads, s.inputs, s.crashes
    );
    if s.new + s.known + s.fixed > 0 {
        line.push_str(&format!(
            "; against the baseline: {} new, {} known, {} fixed",
            s.new, s.known, s.fixed
        ));
    }
    for (n, what) in [
        (s.py_frames, "Python frames"),
        (s.demangled, "names demangled"),
        (s.truncated_frames, "cut frames"),
        (s.shortened_args, "frames with shortened arguments"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn python_frame(thread: u32, index: u32) -> Record {
        Record::Frame(FrameRecord {
            thread: Some(thread),
            lwp: None,
            index,
            frame: Frame {
                addr: Some("0x1".into()),
                function: Some("_PyEval_EvalFrameDefault".into()),
                file: Some("Python/ceval.c".into()),
                line: Some(2),
                object: None,
            },
            function_raw: Some("_PyEval_EvalFrameDefault".into()),
            args: Some("f=0x1".into()),
            inlined: false,
            class: Class::Python,
            truncated: false,
            text: None,
        })
    }

    fn text(records: &[Record], passed: &[(usize, &str)], opts: TextOptions) -> String {
        let mut out = Vec::new();
        {
            let mut p = Text::new(Sink::new(&mut out, false), opts);
            for (i, r) in records.iter().enumerate() {
                for (_, line) in passed.iter().filter(|(at, _)| *at == i) {
                    p.passthrough(line.as_bytes()).unwrap();
                }
                p.record(r).unwrap();
            }
            p.finish().unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    /// Runs fold with their locals; a lone frame keeps its own; another line, a new stack
    /// or another thread ends a run.
    #[test]
    fn runs_of_interpreter_frames_fold_per_stack() {
        let frame = "#0  0x1 in _PyEval_EvalFrameDefault (…) at Python/ceval.c:2\n";
        let records = [
            python_frame(1, 0),
            python_frame(1, 1),
            python_frame(1, 2),
            python_frame(2, 0),
            python_frame(2, 0),
            python_frame(2, 1),
            python_frame(2, 0),
        ];
        let passed = [(1, "        x = 1\n"), (4, "        y = 2\n")];
        let out = text(&records, &passed, TextOptions::default());
        assert_eq!(
            out,
            format!("    … 3 interpreter frames …\n{frame}        y = 2\n    … 2 interpreter frames …\n{frame}")
        );
        let all = text(
            &records,
            &passed,
            TextOptions {
                all: true,
                keep_args: true,
            },
        );
        assert_eq!(all.lines().count(), 7 + 2, "{all}");
        assert!(all.contains("(f=0x1) at"), "{all}");
        // Another thread, or a line that is no local, ends a run too.
        let two = [python_frame(1, 0), python_frame(2, 1)];
        assert_eq!(text(&two, &[], TextOptions::default()).lines().count(), 2);
        let out = text(&two[..1], &[(0, "x\n")], TextOptions::default());
        assert_eq!(out, format!("x\n{frame}"));
        let split = [python_frame(1, 0), python_frame(1, 1)];
        let out = text(
            &split,
            &[(1, "Python Exception <class 'gdb.error'>\n")],
            TextOptions::default(),
        );
        assert_eq!(
            out,
            format!(
                "{frame}Python Exception <class 'gdb.error'>\n{}",
                frame.replace("#0 ", "#1 ")
            )
        );
    }

    /// A lone interpreter frame with endless locals is written out past [`MAX_HELD`], not
    /// held whole.
    #[test]
    fn a_lone_frame_with_endless_locals_is_not_held() {
        let mut out = Vec::new();
        let mut p = Text::new(Sink::new(&mut out, false), TextOptions::default());
        p.record(&python_frame(1, 0)).unwrap();
        let local = format!("        x = {}\n", "1".repeat(1000));
        for _ in 0..2000 {
            p.passthrough(local.as_bytes()).unwrap();
            assert!(p.held.len() <= MAX_HELD + local.len());
        }
        p.finish().unwrap();
        drop(p);
        assert_eq!(
            out.len(),
            "#0  0x1 in _PyEval_EvalFrameDefault (…) at Python/ceval.c:2\n".len()
                + 2000 * local.len()
        );
    }

    #[test]
    fn python_frames_read_back_look_like_py_bt() {
        let mut p = PyFrameRecord {
            thread: None,
            lwp: None,
            index: 0,
            function: Some("call".into()),
            file: Some("/x/run.py".into()),
            line: Some(101),
            class: Class::Python,
            truncated: false,
            text: None,
        };
        assert_eq!(
            render_python(&p),
            "  File \"/x/run.py\", line 101, in call\n"
        );
        p.function = Some("built-in method sleep of module object".into());
        p.file = None;
        p.line = None;
        assert_eq!(
            render_python(&p),
            "  <built-in method sleep of module object>\n"
        );
    }
}
