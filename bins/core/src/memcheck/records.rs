//! vg-filter's records: what it writes, and reads back.
//!
//! One `error` per distinct kept record (records with the same kind and function frames are
//! merged, with a count, summed bytes and every PID and input), `suppressed` records of the
//! same shape when asked for (`--show-suppressed`), then one `summary`. The wire format is
//! documented in `SCHEMA.md`; the field order here is the order on the wire.

use crate::frame::Frame;
use crate::memcheck::{self, AuxStack, FatalSignal, ParseStats, ValgrindPanic};
pub use crate::output::BaselineMark;
use crate::output::{field, CsvLine, CsvRow, SCHEMA};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Every record vg-filter writes, tagged by `type`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A distinct kept record.
    Error(ErrorRecord),
    /// A distinct suppressed record (`--show-suppressed`).
    Suppressed(SuppressedRecord),
    /// A process killed by a signal.
    FatalSignal(FatalSignalRecord),
    /// Valgrind's own failure.
    ValgrindPanic(PanicRecord),
    /// A record of the `--baseline` that this run did not keep: the defect is gone.
    Fixed(FixedRecord),
    /// The closing summary.
    Summary(Summary),
}

/// A distinct record: the first one read, with what merging gathered from the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// Valgrind's kind name (`InvalidRead`, `Leak_DefinitelyLost`, …; `Unknown` for a header
    /// of a kind this parser does not know).
    pub kind: String,
    /// How many records were merged into this one.
    pub count: u64,
    /// How many times Valgrind counted them (it prints each distinct error once): XML
    /// `<errorcounts>`, or the repeats a `-v` text log lists at its end ([`memcheck::Event::Repeat`]),
    /// summed over the merged records it counted; `null` when the input does not say (text
    /// logs without `-v`, leak records).
    pub occurrences: Option<u64>,
    /// Every process that reported it.
    pub pids: BTreeSet<u32>,
    /// The first one's header line.
    pub what: String,
    /// Leaked bytes, summed over the merged records.
    pub bytes: Option<u64>,
    /// Directly lost bytes, summed.
    pub direct: Option<u64>,
    /// Indirectly lost bytes, summed.
    pub indirect: Option<u64>,
    /// Leaked blocks, summed.
    pub blocks: Option<u64>,
    /// The first one's loss record number.
    pub loss_record: Option<u64>,
    /// The first one's number of loss records.
    pub loss_records_total: Option<u64>,
    /// The first one's Valgrind thread id.
    pub tid: Option<u32>,
    /// True when any merged record was cut by the end of its input.
    pub truncated: bool,
    /// A module-lifetime allocation: a leak possibly lost, indirectly lost or still
    /// reachable whose allocation stack passes through a module's init
    /// ([`crate::memcheck::hints::module_init`]); it fails the run only with `--fail-on
    /// ModuleInit`. Recomputed from the stack when read back (absent in older outputs).
    #[serde(default)]
    pub module_init: bool,
    /// What identifies the defect across runs and machines ([`fingerprint`]): 16 hex digits.
    /// Recomputed when read back.
    #[serde(default)]
    pub fingerprint: String,
    /// With `--baseline`: `new` (not in the baseline) or `known`; else null.
    #[serde(default)]
    pub baseline: Option<BaselineMark>,
    /// The first frame that is the project's (`null` without `--project`).
    pub project_frame: Option<ProjectFrame>,
    /// The main stack, innermost first.
    pub stack: Vec<Frame>,
    /// Auxiliary descriptions and their stacks.
    pub aux: Vec<AuxStack>,
    /// The inputs it was read from (the original logs, also when read back from JSON lines).
    pub inputs: BTreeSet<String>,
}

/// A distinct suppressed record: an error record and the suppression that matched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressedRecord {
    /// The record.
    #[serde(flatten)]
    pub record: ErrorRecord,
    /// The name of the suppression that matched it.
    pub suppression: String,
}

/// A process killed by a signal under Valgrind: not merged, not suppressed, always kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FatalSignalRecord {
    /// The process killed.
    pub pid: Option<u32>,
    /// Valgrind's thread id of the thread that received it.
    pub tid: Option<u32>,
    /// `SIGSEGV`.
    pub signal: Option<String>,
    /// `11`.
    pub signo: Option<u32>,
    /// The report's first line.
    pub what: String,
    /// The lines explaining it (`Access not within mapped region at address 0x0`).
    pub details: Vec<String>,
    /// Whether the input was cut inside the report.
    pub truncated: bool,
    /// The stack's first project frame (`aux` always null); null without `--project`.
    pub project_frame: Option<ProjectFrame>,
    /// As an error record's ([`fingerprint`]), its kind being `FatalSignal` and the signal.
    #[serde(default)]
    pub fingerprint: String,
    /// With `--baseline`: `new` or `known`; else null.
    #[serde(default)]
    pub baseline: Option<BaselineMark>,
    /// Where the signal was received, innermost first.
    pub stack: Vec<Frame>,
    /// The log it was read from.
    pub inputs: BTreeSet<String>,
}

impl FatalSignalRecord {
    /// A report as parsed, read from `input`.
    pub fn new(f: FatalSignal, input: &str, project_frame: Option<ProjectFrame>) -> Self {
        FatalSignalRecord {
            pid: f.pid,
            tid: f.tid,
            signal: f.signal,
            signo: f.signo,
            what: f.what,
            details: f.details,
            truncated: f.truncated,
            project_frame,
            fingerprint: String::new(),
            baseline: None,
            stack: f.stack,
            inputs: [input.to_string()].into_iter().collect(),
        }
    }
}

/// Valgrind failed while running the program: what it found is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanicRecord {
    /// The process Valgrind ran.
    pub pid: Option<u32>,
    /// The first line of Valgrind's report.
    pub what: String,
    /// The lines after it, up to its own stack trace.
    pub details: Vec<String>,
    /// The client's stack when Valgrind stopped.
    pub stack: Vec<Frame>,
    /// The log it was read from.
    pub inputs: BTreeSet<String>,
}

impl PanicRecord {
    /// A report as parsed, read from `input`.
    pub fn new(p: ValgrindPanic, input: &str) -> Self {
        PanicRecord {
            pid: p.pid,
            what: p.what,
            details: p.details,
            stack: p.stack,
            inputs: [input.to_string()].into_iter().collect(),
        }
    }
}

/// A baseline record this run did not keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedRecord {
    /// The baseline record's fingerprint.
    pub fingerprint: String,
    /// Its kind.
    pub kind: String,
    /// Its header line.
    pub what: String,
    /// Its count in the baseline.
    pub count: u64,
    /// Its bytes in the baseline (leak kinds).
    pub bytes: Option<u64>,
    /// Its project frame in the baseline.
    pub project_frame: Option<ProjectFrame>,
}

impl FixedRecord {
    /// The fixed line of a baseline fatal signal.
    pub fn of_fatal_signal(f: &FatalSignalRecord) -> FixedRecord {
        FixedRecord {
            fingerprint: f.fingerprint.clone(),
            kind: "FatalSignal".into(),
            what: f.what.clone(),
            count: 1,
            bytes: None,
            project_frame: f.project_frame.clone(),
        }
    }

    /// The fixed line of a baseline record.
    pub fn of(r: &ErrorRecord) -> FixedRecord {
        FixedRecord {
            fingerprint: r.fingerprint.clone(),
            kind: r.kind.clone(),
            what: r.what.clone(),
            count: r.count,
            bytes: r.bytes,
            project_frame: r.project_frame.clone(),
        }
    }
}

/// How many frames from the top of `stack` identify a record: through its first project
/// frame (`project_index`) and the project frames right below it (at most 2 more), so that
/// the same defect reached from other callers (another test, a deeper `--num-callers`) keeps
/// its fingerprint; the whole stack when no frame of it is the project's.
pub fn frames_that_matter(
    stack: &[Frame],
    project_index: Option<usize>,
    mut is_project: impl FnMut(&Frame) -> bool,
) -> usize {
    let Some(p) = project_index.filter(|&p| p < stack.len()) else {
        return stack.len();
    };
    let mut end = p + 1;
    while end < stack.len() && end - p <= 2 && is_project(&stack[end]) {
        end += 1;
    }
    end
}

/// A record's fingerprint: FNV-1a 64 over its kind and, for each of the first `matters`
/// frames of its main stack, the function name (else the object's file name, else `???`),
/// each followed by a NUL byte. No addresses, lines, files, PIDs, thread ids, directories or
/// counts go in: the same defect gives the same fingerprint from another checkout path,
/// machine, run or merge, and records that merge (the same kind and function frames) share
/// it, whichever came first.
pub fn fingerprint(kind: &str, stack: &[Frame], matters: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |s: &str| {
        for b in s.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(kind);
    for f in stack.iter().take(matters) {
        let object = f
            .object
            .as_deref()
            .map(|o| o.rsplit('/').next().unwrap_or(o));
        feed(f.function.as_deref().or(object).unwrap_or("???"));
    }
    format!("{h:016x}")
}

/// The first project frame of a record: where it is, and the frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFrame {
    /// `null` for the main stack, else the index into `aux`.
    pub aux: Option<usize>,
    /// The frame's index in that stack.
    pub index: usize,
    /// The frame.
    #[serde(flatten)]
    pub frame: Frame,
}

/// The run's closing record. Counts add up: `records = kept + suppressed + not_project`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// `vg-filter`.
    pub tool: String,
    /// [`SCHEMA`].
    pub schema: u32,
    /// Logs read (a JSON-lines input counts the logs its summary counted).
    pub inputs: u64,
    /// Records read (a merged record read back counts as its `count`).
    pub records: u64,
    /// Records kept: the project's, not suppressed.
    pub kept: u64,
    /// Records a suppression matched.
    pub suppressed: u64,
    /// Records with no project frame.
    pub not_project: u64,
    /// Distinct kept records after merging (lines of type `error`).
    pub distinct: u64,
    /// Kept records of the kinds that fail the run (`--fail-on`).
    pub failing: u64,
    /// Kept records that are module-lifetime allocations (`module_init`), which do not fail
    /// the run unless `--fail-on` names `ModuleInit`.
    #[serde(default)]
    pub module_init: u64,
    /// Kept leaked bytes, summed.
    pub kept_bytes: u64,
    /// Processes killed by a signal (`fatal_signal` records).
    pub fatal_signals: u64,
    /// Valgrind's own failures (`valgrind_panic` records).
    pub valgrind_panics: u64,
    /// JSON lines of other tools or types in JSON-lines inputs, passed on unchanged (a
    /// `fixed` line read back counts here: the defect it names is gone).
    pub foreign_records: u64,
    /// With `--baseline`: kept records not in it (`baseline: new`), counted like `kept`.
    #[serde(default)]
    pub new: u64,
    /// With `--baseline`: kept records in it (`baseline: known`).
    #[serde(default)]
    pub known: u64,
    /// With `--baseline`: its records this run did not keep (`fixed` lines).
    #[serde(default)]
    pub fixed: u64,
    /// Records with no project frame whose stack is exactly as deep as the run's stack limit
    /// (`--num-callers`): a project frame may have been cut off them.
    #[serde(default)]
    pub cut_at_depth: u64,
    /// Hints said on standard error about the logs (source files named without directories,
    /// records cut at the stack limit), one line each; carried over when read back.
    #[serde(default)]
    pub hints: u64,
    /// What the parsers passed over: unparsed lines, chatter, truncated records, cut lines…
    #[serde(flatten)]
    pub parse: ParseStats,
    /// Records hidden by each suppression, by name.
    pub suppressions_used: BTreeMap<String, u64>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            tool: "vg-filter".into(),
            schema: SCHEMA,
            inputs: 0,
            records: 0,
            kept: 0,
            suppressed: 0,
            not_project: 0,
            distinct: 0,
            failing: 0,
            module_init: 0,
            kept_bytes: 0,
            fatal_signals: 0,
            valgrind_panics: 0,
            foreign_records: 0,
            new: 0,
            known: 0,
            fixed: 0,
            cut_at_depth: 0,
            hints: 0,
            parse: ParseStats::default(),
            suppressions_used: BTreeMap::new(),
        }
    }
}

impl Summary {
    /// `3 kept (2 distinct, 2 failing), 1700 suppressed, 12 not project, of 1715 records from 1
    /// input(s)`, plus what was passed over, when anything was.
    pub fn line(&self) -> String {
        let module_init = if self.module_init > 0 {
            format!(", {} in module init", self.module_init)
        } else {
            String::new()
        };
        let mut line = format!(
            "{} kept ({} distinct, {} failing{module_init}), {} suppressed, {} not project, of {} records from {} input(s)",
            self.kept,
            self.distinct,
            self.failing,
            self.suppressed,
            self.not_project,
            self.records,
            self.inputs
        );
        if self.new + self.known + self.fixed > 0 {
            line.push_str(&format!(
                "; against the baseline: {} new, {} known, {} fixed",
                self.new, self.known, self.fixed
            ));
        }
        for (n, what) in [
            (
                self.cut_at_depth,
                "not-project records cut at the stack limit",
            ),
            (self.fatal_signals, "fatal signals"),
            (self.valgrind_panics, "Valgrind failures"),
            (self.parse.unparsed_lines, "unparsed lines"),
            (self.parse.truncated_records, "truncated records"),
            (self.parse.long_lines, "cut long lines"),
            (self.parse.dropped_frames, "dropped frames"),
            (self.parse.dropped_aux, "dropped aux descriptions"),
            (self.parse.unknown_elements, "unknown XML elements"),
            (
                self.foreign_records,
                "records of other tools (or fixed lines) passed over",
            ),
        ] {
            if n > 0 {
                line.push_str(&format!("; {n} {what}"));
            }
        }
        line
    }
}

impl ErrorRecord {
    /// A record as parsed, read from `input`, with its project frame.
    pub fn new(rec: memcheck::Record, input: &str, project_frame: Option<ProjectFrame>) -> Self {
        ErrorRecord {
            kind: rec.kind,
            count: 1,
            occurrences: None,
            pids: rec.pid.into_iter().collect(),
            what: rec.what,
            bytes: rec.bytes,
            direct: rec.direct,
            indirect: rec.indirect,
            blocks: rec.blocks,
            loss_record: rec.loss_record,
            loss_records_total: rec.loss_records_total,
            tid: rec.tid,
            truncated: rec.truncated,
            module_init: false,
            fingerprint: String::new(),
            baseline: None,
            project_frame,
            stack: rec.stack,
            aux: rec.aux,
            inputs: [input.to_string()].into_iter().collect(),
        }
    }

    /// Adds another record of the same kind and stack: its count, PIDs, bytes and inputs.
    pub fn absorb(&mut self, other: &ErrorRecord) {
        fn add(a: &mut Option<u64>, b: Option<u64>) {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0).saturating_add(b));
            }
        }
        self.count = self.count.saturating_add(other.count);
        if let Some(n) = other.occurrences {
            self.occurrences = Some(self.occurrences.unwrap_or(0).saturating_add(n));
        }
        self.pids.extend(other.pids.iter().copied());
        add(&mut self.bytes, other.bytes);
        add(&mut self.direct, other.direct);
        add(&mut self.indirect, other.indirect);
        add(&mut self.blocks, other.blocks);
        self.truncated |= other.truncated;
        for input in &other.inputs {
            if !self.inputs.contains(input) {
                self.inputs.insert(input.clone());
            }
        }
    }

    /// The record's stacks as a parsed record has them, for matching suppressions and the
    /// project again when a record is read back.
    pub fn as_parsed(&self) -> memcheck::Record {
        memcheck::Record {
            kind: self.kind.clone(),
            pid: self.pids.iter().next().copied(),
            tid: self.tid,
            what: self.what.clone(),
            bytes: self.bytes,
            direct: self.direct,
            indirect: self.indirect,
            blocks: self.blocks,
            loss_record: self.loss_record,
            loss_records_total: self.loss_records_total,
            stack: self.stack.clone(),
            aux: self.aux.clone(),
            truncated: self.truncated,
            unique: None,
            elided: false,
        }
    }

    /// What merging compares: the kind and the function frames of the main stack (no
    /// addresses, lines, PIDs).
    pub fn merge_key(&self) -> MergeKey {
        merge_key(&self.kind, &self.stack)
    }

    /// The frame a person looks at first: the project frame, else the top of the stack.
    pub fn location(&self) -> Option<&Frame> {
        match &self.project_frame {
            Some(p) => Some(&p.frame),
            None => self.stack.first(),
        }
    }
}

/// What makes two records "the same": kind and function frames.
pub type MergeKey = (String, Vec<String>);

/// The merge key of a kind and a stack.
pub fn merge_key(kind: &str, stack: &[Frame]) -> MergeKey {
    (
        kind.to_string(),
        stack.iter().map(|f| f.identity().to_string()).collect(),
    )
}

impl CsvRow for Record {
    const HEADER: &'static [&'static str] = &[
        "kind",
        "count",
        "bytes",
        "blocks",
        "pids",
        "what",
        "function",
        "file",
        "line",
        "object",
        "suppression",
        "fingerprint",
        "baseline",
    ];

    /// One row per distinct record, at its project frame (else its top frame); the summary
    /// goes to standard error.
    fn csv(&self) -> CsvLine {
        let (r, suppression) = match self {
            Record::Error(r) => (r, String::new()),
            Record::Suppressed(s) => (&s.record, s.suppression.clone()),
            Record::FatalSignal(f) => {
                let at = f
                    .project_frame
                    .as_ref()
                    .map(|p| &p.frame)
                    .or(f.stack.first());
                return CsvLine::Row(report_row("FatalSignal", f.pid, &f.what, at));
            }
            Record::ValgrindPanic(p) => {
                return CsvLine::Row(report_row("ValgrindPanic", p.pid, &p.what, p.stack.first()))
            }
            Record::Fixed(f) => {
                let at = f.project_frame.as_ref().map(|p| &p.frame);
                let mut row = report_row(&f.kind, None, &f.what, at);
                row[1] = f.count.to_string();
                row[2] = field(&f.bytes);
                row[11] = f.fingerprint.clone();
                row[12] = "fixed".into();
                return CsvLine::Row(row);
            }
            Record::Summary(s) => return CsvLine::Note(format!("vg-filter: {}", s.line())),
        };
        let at = r.location();
        let pids: Vec<String> = r.pids.iter().map(u32::to_string).collect();
        CsvLine::Row(vec![
            r.kind.clone(),
            r.count.to_string(),
            field(&r.bytes),
            field(&r.blocks),
            pids.join(" "),
            r.what.clone(),
            at.map(|f| field(&f.function)).unwrap_or_default(),
            at.map(|f| field(&f.file)).unwrap_or_default(),
            at.map(|f| field(&f.line)).unwrap_or_default(),
            at.map(|f| field(&f.object)).unwrap_or_default(),
            suppression,
            r.fingerprint.clone(),
            r.baseline
                .map(|b| b.as_str().to_string())
                .unwrap_or_default(),
        ])
    }
}

/// The CSV row of a fatal signal or a Valgrind failure: no count, bytes or suppression.
fn report_row(kind: &str, pid: Option<u32>, what: &str, at: Option<&Frame>) -> Vec<String> {
    vec![
        kind.to_string(),
        "1".to_string(),
        String::new(),
        String::new(),
        field(&pid),
        what.to_string(),
        at.map(|f| field(&f.function)).unwrap_or_default(),
        at.map(|f| field(&f.file)).unwrap_or_default(),
        at.map(|f| field(&f.line)).unwrap_or_default(),
        at.map(|f| field(&f.object)).unwrap_or_default(),
        String::new(),
        String::new(),
        String::new(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ErrorRecord {
        let frame = Frame {
            addr: Some("0x1".into()),
            function: Some("leak".into()),
            file: Some("/src/a.c".into()),
            line: Some(5),
            object: None,
        };
        ErrorRecord {
            kind: "Leak_DefinitelyLost".into(),
            count: 2,
            occurrences: None,
            pids: [7, 9].into_iter().collect(),
            what: "64 bytes in 1 blocks are definitely lost in loss record 1 of 2".into(),
            bytes: Some(128),
            direct: None,
            indirect: None,
            blocks: Some(2),
            loss_record: Some(1),
            loss_records_total: Some(2),
            tid: None,
            truncated: false,
            module_init: false,
            fingerprint: String::new(),
            baseline: None,
            project_frame: Some(ProjectFrame {
                aux: None,
                index: 0,
                frame: frame.clone(),
            }),
            stack: vec![frame],
            aux: Vec::new(),
            inputs: ["vg.7.log".to_string()].into_iter().collect(),
        }
    }

    #[test]
    fn records_read_back_as_written() {
        for rec in [
            Record::Error(record()),
            Record::Suppressed(SuppressedRecord {
                record: record(),
                suppression: "py-leak".into(),
            }),
            Record::Summary(Summary::default()),
        ] {
            let line = serde_json::to_string(&rec).unwrap();
            assert!(line.starts_with("{\"type\":"), "{line}");
            let back: Record = serde_json::from_str(&line).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), line);
        }
        let line = serde_json::to_string(&Record::Error(record())).unwrap();
        assert!(
            line.contains(r#""project_frame":{"aux":null,"index":0,"addr":"0x1","function":"leak","file":"/src/a.c","line":5,"object":null}"#),
            "{line}"
        );
        let summary = serde_json::to_string(&Record::Summary(Summary::default())).unwrap();
        assert!(
            summary.starts_with(r#"{"type":"summary","tool":"vg-filter","schema":2,"#),
            "{summary}"
        );
    }

    #[test]
    fn merging_adds_counts_bytes_pids_and_inputs() {
        let mut a = record();
        let mut b = record();
        b.pids = [11].into_iter().collect();
        b.inputs = ["vg.11.log".to_string()].into_iter().collect();
        b.truncated = true;
        a.absorb(&b);
        assert_eq!(a.count, 4);
        assert_eq!(a.bytes, Some(256));
        assert_eq!(a.pids.len(), 3);
        assert_eq!(a.inputs.len(), 2);
        assert!(a.truncated);
    }
}
