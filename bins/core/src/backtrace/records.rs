//! bt-demangle's records: what its JSON lines hold (schema [`SCHEMA`]; `SCHEMA.md` documents
//! every key), the one [`Record`] enum over them, and their CSV rows.
//!
//! Per input, in input order: a [`FrameRecord`] per backtrace frame, a [`StopRecord`] per
//! stop location (the line gdb prints after a signal, without `#N`), a [`PyFrameRecord`] per
//! `py-bt` frame; at the input's end a [`CrashRecord`] when it showed a signal or a frame;
//! and last, once per run, the [`Summary`]. Every record reads back (`bt-demangle
//! out.jsonl`): the filter takes frames, stops, Python frames and crashes as if gdb had
//! printed them, and recomputes what depends on the options (names, classes, the signature).
//!
//! A native frame is the shared [`Frame`] (`addr`, `function`, `file`, `line`, `object`),
//! flattened into the record after `thread` and `index`, followed by what only bt-demangle
//! says of it.

use super::classify::Class;
use super::print;
use crate::output::{field, CsvLine, CsvRow, SCHEMA};
use crate::Frame;
use serde::{Deserialize, Serialize};

/// Every record bt-demangle writes, tagged by `type` (`frame`, `stop`, `py_frame`, `crash`,
/// `summary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A native frame of a backtrace.
    Frame(FrameRecord),
    /// The location gdb printed when the program stopped.
    Stop(StopRecord),
    /// A Python frame of `py-bt`.
    PyFrame(PyFrameRecord),
    /// What one gdb session shows crashed.
    Crash(CrashRecord),
    /// A crash of the `--baseline` that no input of this run showed.
    Fixed(FixedCrash),
    /// The run's closing record.
    Summary(Summary),
}

/// One native frame (`"type":"frame"`):
/// `{"type":"frame","thread":1,"lwp":null,"index":0,"addr":"0x00007ffff77ad6b1","function":"dbgpipe_store",
/// "file":"/x/dbgpipe_example.c","line":271,"object":null,"function_raw":"dbgpipe_store",
/// "args":"p=0x0, v=42","inlined":false,"class":"project","truncated":false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRecord {
    /// gdb's thread number, when the input says.
    pub thread: Option<u32>,
    /// The kernel's thread id (LWP), when the input names it (records of schema 2 before it
    /// was added read as `null`).
    #[serde(default)]
    pub lwp: Option<u64>,
    /// `N` of `#N`.
    pub index: u32,
    /// The frame: `function` demangled and (unless `--no-simplify`) simplified, `null` for
    /// `??`; `object` is gdb's `from LIB`; `addr` is `null` for inlined frames.
    #[serde(flatten)]
    pub frame: Frame,
    /// The function as gdb printed it.
    pub function_raw: Option<String>,
    /// Argument values as printed, mangled names in them demangled; `null` without a list.
    pub args: Option<String>,
    /// No address, not a marker, and not frame #0: gdb prints no address for inlined frames,
    /// and for frame #0 when it stopped at the first instruction of a line, which the text
    /// cannot tell from an inlined one.
    pub inlined: bool,
    /// The frame's class.
    pub class: Class,
    /// The input was cut inside this frame.
    pub truncated: bool,
    /// Not written: the cut line as gdb printed it (mangled names demangled), which the text
    /// report shows for a truncated frame instead of rebuilding it from its parts.
    #[serde(skip)]
    pub text: Option<String>,
}

/// The stop location (`"type":"stop"`): the frame gdb stopped in, as it printed it when the
/// program stopped: `0x… in f (a=1) at f.c:3` after the signal report, the location on a
/// breakpoint report's line (`Breakpoint 1, f (a=1) at f.c:3`), or a core file's `#0` line
/// that `bt` repeats. The same keys as a frame's but `index` and `inlined`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRecord {
    /// The thread that stopped, when the input says.
    pub thread: Option<u32>,
    /// Its LWP, as in [`FrameRecord`].
    #[serde(default)]
    pub lwp: Option<u64>,
    /// The frame, as in [`FrameRecord`].
    #[serde(flatten)]
    pub frame: Frame,
    /// The function as gdb printed it.
    pub function_raw: Option<String>,
    /// Argument values, as in [`FrameRecord`].
    pub args: Option<String>,
    /// The frame's class.
    pub class: Class,
    /// The input was cut inside this line.
    pub truncated: bool,
    /// Not written: the cut line, as in [`FrameRecord`].
    #[serde(skip)]
    pub text: Option<String>,
    /// Not written: the breakpoint report the location ended (`Thread 2 "x" hit Breakpoint
    /// 1, `), which the text report shows before it.
    #[serde(skip)]
    pub lead: Option<String>,
}

/// One Python frame of `py-bt` (`"type":"py_frame"`):
/// `{"type":"py_frame","thread":1,"lwp":null,"index":0,"function":"call","file":"/x/run.py",
/// "line":101,"class":"python","truncated":false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PyFrameRecord {
    /// gdb's thread number, when known.
    pub thread: Option<u32>,
    /// Its LWP, as in [`FrameRecord`].
    #[serde(default)]
    pub lwp: Option<u64>,
    /// Position in the traceback, most recent first.
    pub index: u32,
    /// Function, or the built-in's description (without its address); `null` when the line
    /// was cut before it.
    pub function: Option<String>,
    /// Source file (`null` for built-ins).
    pub file: Option<String>,
    /// Line.
    pub line: Option<u32>,
    /// `project` when the file is the project's, else `python`.
    pub class: Class,
    /// The input was cut inside this frame's line.
    #[serde(default)]
    pub truncated: bool,
    /// Not written: the line as gdb printed it, which the text report shows.
    #[serde(skip)]
    pub text: Option<String>,
}

/// A frame named in a crash record: `{"index":0,"addr":…,"function":…,"file":…,"line":…,
/// "object":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRef {
    /// `N` of `#N` (`null`: the stop location).
    pub index: Option<u32>,
    /// The frame, as in its frame record.
    #[serde(flatten)]
    pub frame: Frame,
}

/// What one gdb session shows crashed (`"type":"crash"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashRecord {
    /// The input's name (kept from the record when read back).
    pub input: String,
    /// `SIGSEGV`; `null` when the input has frames but no signal report.
    pub signal: Option<String>,
    /// `Segmentation fault`.
    pub description: Option<String>,
    /// The crashing thread's number, when known.
    pub thread: Option<u32>,
    /// Its LWP, when the input names it.
    #[serde(default)]
    pub lwp: Option<u64>,
    /// Its name, when printed.
    pub thread_name: Option<String>,
    /// 16 hex digits of FNV-1a over `signature_functions`; `null` without any named frame
    /// ([`super::signature`]).
    pub signature: Option<String>,
    /// The function names hashed, innermost first.
    pub signature_functions: Vec<String>,
    /// Frames of the crashing thread's stack (at most [`super::filter::MAX_STACK`]); 1 when
    /// only the stop location was shown.
    pub frames: usize,
    /// Its innermost frame.
    pub top_frame: Option<FrameRef>,
    /// Its first project frame.
    pub project_frame: Option<FrameRef>,
    /// What identifies the crash across runs and machines: 16 hex digits of FNV-1a over the
    /// signal and `signature_functions` ([`super::signature::fingerprint`]); null when it has
    /// neither. Recomputed when read back.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// With `--baseline`: `new` or `known`; else null.
    #[serde(default)]
    pub baseline: Option<crate::output::BaselineMark>,
}

/// A crash of the baseline that this run did not show (`"type":"fixed"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedCrash {
    /// Its fingerprint.
    pub fingerprint: String,
    /// Its signal.
    pub signal: Option<String>,
    /// Its signature's functions.
    pub signature_functions: Vec<String>,
    /// The input the baseline read it from.
    pub input: String,
}

impl FixedCrash {
    /// The fixed line of a baseline crash that has a fingerprint.
    pub fn of(c: &CrashRecord) -> Option<FixedCrash> {
        Some(FixedCrash {
            fingerprint: c.fingerprint.clone()?,
            signal: c.signal.clone(),
            signature_functions: c.signature_functions.clone(),
            input: c.input.clone(),
        })
    }
}

/// The run's closing record (`"type":"summary"`). Frame counts add up:
/// `frames = project_frames + python_frames + system_frames + unknown_frames`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// `bt-demangle`.
    pub tool: String,
    /// [`SCHEMA`].
    pub schema: u32,
    /// Inputs read.
    pub inputs: u64,
    /// Lines read.
    pub lines: u64,
    /// Native frames read (frame records written).
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
    /// Frames whose argument values the input shows shortened, the frame itself whole:
    /// `(…)` (bt-demangle's text report read again) or `(...)` (gdb's `set print
    /// frame-arguments presence`).
    #[serde(default)]
    pub shortened_args: u64,
    /// Python frames (`py-bt`).
    pub py_frames: u64,
    /// Distinct threads with frames, summed over gdb sessions.
    pub threads: u64,
    /// Crash records written.
    pub crashes: u64,
    /// Mangled names demangled (frame functions, arguments and names in the text).
    pub demangled: u64,
    /// Lines that start like a frame (`#N `) but could not be read as one.
    pub unparsed_lines: u64,
    /// Lines longer than [`crate::input::MAX_LINE`], cut.
    pub long_lines: u64,
    /// Frames written out but not kept for the crash record: past
    /// [`super::filter::MAX_STACK`] in their thread's stack, or of a thread past
    /// [`super::filter::MAX_THREADS`].
    pub dropped_frames: u64,
    /// Lines of gdb's text passed through as they were (names demangled): gdb's other
    /// output, thread headers, signal reports, source lines, `bt full` locals.
    #[serde(default)]
    pub passed_lines: u64,
    /// JSON records of other tools or of types bt-demangle does not have, passed on
    /// unchanged.
    #[serde(default)]
    pub foreign_records: u64,
    /// bt-demangle records read back from JSON lines (its own earlier summaries included,
    /// which are not written again).
    #[serde(default)]
    pub records_read: u64,
    /// With `--baseline`: crashes not in it.
    #[serde(default)]
    pub new: u64,
    /// With `--baseline`: crashes in it.
    #[serde(default)]
    pub known: u64,
    /// With `--baseline`: its crashes that no input showed (`fixed` lines).
    #[serde(default)]
    pub fixed: u64,
}

impl Default for Summary {
    /// The summary of a run that has read nothing.
    fn default() -> Self {
        Summary {
            tool: TOOL.to_string(),
            schema: SCHEMA,
            inputs: 0,
            lines: 0,
            frames: 0,
            project_frames: 0,
            python_frames: 0,
            system_frames: 0,
            unknown_frames: 0,
            truncated_frames: 0,
            shortened_args: 0,
            py_frames: 0,
            threads: 0,
            crashes: 0,
            demangled: 0,
            unparsed_lines: 0,
            long_lines: 0,
            dropped_frames: 0,
            passed_lines: 0,
            foreign_records: 0,
            records_read: 0,
            new: 0,
            known: 0,
            fixed: 0,
        }
    }
}

/// The tool's name, as summaries give it.
pub const TOOL: &str = "bt-demangle";

/// CSV: one row per native frame; the crash and summary lines are notes for standard error,
/// as the text report words them; stop locations and Python frames have no row.
impl CsvRow for Record {
    const HEADER: &'static [&'static str] = &[
        "thread", "index", "class", "function", "file", "line", "object", "addr", "inlined", "lwp",
    ];

    fn csv(&self) -> CsvLine {
        match self {
            Record::Frame(f) => CsvLine::Row(vec![
                field(&f.thread),
                f.index.to_string(),
                f.class.as_str().to_string(),
                field(&f.frame.function),
                field(&f.frame.file),
                field(&f.frame.line),
                field(&f.frame.object),
                field(&f.frame.addr),
                f.inlined.to_string(),
                field(&f.lwp),
            ]),
            Record::Crash(c) => {
                let text = print::crash_text(c);
                CsvLine::Note(format!("{TOOL}: {}", text.trim_end_matches('\n')))
            }
            Record::Fixed(f) => {
                CsvLine::Note(format!("{TOOL}: {}", print::fixed_text(f).trim_end()))
            }
            Record::Summary(s) => CsvLine::Note(format!("{TOOL}: {}", print::summary_line(s))),
            Record::Stop(_) | Record::PyFrame(_) => CsvLine::Skip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_record() -> FrameRecord {
        FrameRecord {
            thread: Some(1),
            lwp: None,
            index: 1,
            frame: Frame {
                addr: Some("0x2".into()),
                function: Some("myext::call()".into()),
                file: None,
                line: None,
                object: Some("/x/myext.so".into()),
            },
            function_raw: Some("_ZN5myext4callEv".into()),
            args: Some(String::new()),
            inlined: false,
            class: Class::Project,
            truncated: false,
            text: None,
        }
    }

    /// The keys, their order and `null`s are the wire format (SCHEMA.md); every record reads
    /// back as itself.
    #[test]
    fn the_wire_format_is_stable_and_reads_back() {
        let frame = Record::Frame(frame_record());
        let json = serde_json::to_string(&frame).unwrap();
        assert_eq!(
            json,
            r#"{"type":"frame","thread":1,"lwp":null,"index":1,"addr":"0x2","function":"myext::call()","file":null,"line":null,"object":"/x/myext.so","function_raw":"_ZN5myext4callEv","args":"","inlined":false,"class":"project","truncated":false}"#
        );
        let crash = Record::Crash(CrashRecord {
            fingerprint: None,
            baseline: None,
            input: "t".into(),
            signal: Some("SIGSEGV".into()),
            description: None,
            thread: Some(1),
            lwp: Some(23111),
            thread_name: None,
            signature: Some("0123456789abcdef".into()),
            signature_functions: vec!["f".into()],
            frames: 1,
            top_frame: Some(FrameRef {
                index: Some(0),
                frame: Frame {
                    function: Some("f".into()),
                    line: Some(3),
                    ..Frame::default()
                },
            }),
            project_frame: None,
        });
        assert_eq!(
            serde_json::to_string(&crash).unwrap(),
            r#"{"type":"crash","input":"t","signal":"SIGSEGV","description":null,"thread":1,"lwp":23111,"thread_name":null,"signature":"0123456789abcdef","signature_functions":["f"],"frames":1,"top_frame":{"index":0,"addr":null,"function":"f","file":null,"line":3,"object":null},"project_frame":null,"fingerprint":null,"baseline":null}"#
        );
        let summary = serde_json::to_string(&Record::Summary(Summary::default())).unwrap();
        assert!(
            summary.starts_with(r#"{"type":"summary","tool":"bt-demangle","schema":2,"inputs":0,"#),
            "{summary}"
        );
        let stop = Record::Stop(StopRecord {
            thread: None,
            lwp: None,
            frame: Frame::default(),
            function_raw: None,
            args: None,
            class: Class::Unknown,
            truncated: true,
            text: Some("not written".into()),
            lead: Some("Breakpoint 1, ".into()),
        });
        let py = Record::PyFrame(PyFrameRecord {
            thread: Some(2),
            lwp: Some(23167),
            index: 0,
            function: Some("call".into()),
            file: Some("/x/run.py".into()),
            line: Some(101),
            class: Class::Python,
            truncated: false,
            text: None,
        });
        for record in [
            frame,
            crash,
            Record::Summary(Summary::default()),
            py.clone(),
        ] {
            let json = serde_json::to_string(&record).unwrap();
            assert_eq!(
                serde_json::from_str::<Record>(&json).unwrap(),
                record,
                "{json}"
            );
        }
        let json = serde_json::to_string(&stop).unwrap();
        assert!(!json.contains("not written"), "{json}");
        assert!(!json.contains("Breakpoint"), "{json}");
        let Record::Stop(back) = serde_json::from_str::<Record>(&json).unwrap() else {
            panic!("{json}")
        };
        assert_eq!((back.truncated, back.text, back.lead), (true, None, None));
        assert_eq!(
            serde_json::to_string(&py).unwrap(),
            r#"{"type":"py_frame","thread":2,"lwp":23167,"index":0,"function":"call","file":"/x/run.py","line":101,"class":"python","truncated":false}"#
        );
    }

    /// Records written before `lwp` (and `py_frame`'s `truncated`) were added read back, as
    /// `null` and `false`: adding a key does not bump the schema.
    #[test]
    fn records_without_the_added_keys_read_back() {
        let frame = r#"{"type":"frame","thread":1,"index":1,"addr":"0x2","function":"f","file":null,"line":null,"object":null,"function_raw":"f","args":"","inlined":false,"class":"unknown","truncated":false}"#;
        let Record::Frame(f) = serde_json::from_str::<Record>(frame).unwrap() else {
            panic!()
        };
        assert_eq!((f.thread, f.lwp), (Some(1), None));
        let py = r#"{"type":"py_frame","thread":null,"index":0,"function":"call","file":"x.py","line":1,"class":"python"}"#;
        let Record::PyFrame(p) = serde_json::from_str::<Record>(py).unwrap() else {
            panic!()
        };
        assert_eq!((p.lwp, p.truncated), (None, false));
    }

    /// Schema 1's key is gone everywhere.
    #[test]
    fn no_library_key() {
        let json = serde_json::to_string(&Record::Frame(frame_record())).unwrap();
        assert!(!json.contains("library"), "{json}");
        assert!(!Record::HEADER.contains(&"library"));
    }
}
