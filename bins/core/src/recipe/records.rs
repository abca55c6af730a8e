//! The tools' JSON lines as xtask reads them: one `Deserialize` struct per record type, with
//! exactly the fields xtask uses, under their schema 2 names (SCHEMA.md).
//!
//! Reading is strict where it matters and lenient where the schema allows change:
//! - a record that lacks a field xtask reads, or holds another type there, is an error naming
//!   the file and line (`records.jsonl:85: summary record of vg-filter: missing field kept`),
//!   never a zero that would pass for a count;
//! - a value the schema writes as `null` when absent is an `Option`, and its key must still
//!   be there (`nullable`): serde would take a missing key for `None`, and a renamed key
//!   would then read as "absent" forever;
//! - the summary must close the output, and name the tool and the schema xtask was written
//!   against: a bumped schema is a field that changed meaning, which no struct here can see;
//! - fields and record types xtask does not read are passed over, since a tool may add both
//!   without a new schema.
//!
//! These are xtask's own copies, kept private to it while the library's record types are
//! rewritten for schema 2. Each is marked `swap:` where the lead will replace it with the
//! library's type (which must then deserialize as strictly).

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::convert::Infallible;
use std::path::Path;

/// The schema the structs below are written against. swap: `dbgpipe_core::output::SCHEMA`.
pub const SCHEMA: u32 = 2;

/// An `Option` whose key must be present (as `null` or a value): serde's derive lets a
/// missing `Option` field default to `None`, unless the field names its own deserializer.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// One tool's JSON-lines output, as xtask reads it.
pub trait Tool {
    /// The tool's name, as its summary's `tool` says it.
    const NAME: &'static str;
    /// The schema its summary must say.
    const SCHEMA: u32;
    /// One line: `#[serde(tag = "type")]` over the record types xtask reads, the summary,
    /// and `#[serde(other)]` for every other type.
    type Line: DeserializeOwned + Into<Line<Self::Record, Self::Summary>>;
    /// The records xtask reads.
    type Record;
    /// The closing summary.
    type Summary: Summary;
}

/// What a summary says about who wrote it.
pub trait Summary {
    /// `tool` and `schema`.
    fn stamp(&self) -> (&str, u32);
}

/// A line of a tool's output, sorted by what xtask does with it.
#[derive(Debug)]
pub enum Line<R, S> {
    /// A record xtask reads.
    Record(R),
    /// The summary.
    Summary(S),
    /// A type xtask does not read (frames, rounds, baselines, …).
    Other,
}

/// A tool's output: the records xtask reads, in order, and the summary that closed it.
#[derive(Debug, Clone)]
pub struct Output<R, S> {
    /// The records, in the order they were written.
    pub records: Vec<R>,
    /// The summary.
    pub summary: S,
}

/// The output of `T` in the file `path`.
pub fn read<T: Tool>(path: &Path) -> anyhow::Result<Output<T::Record, T::Summary>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse::<T>(&path.display().to_string(), &text)
}

/// The output of `T` in `text`, read from `input` (a path, or a name such as `vg-filter's
/// output`): errors say `input:line`.
pub fn parse<T: Tool>(input: &str, text: &str) -> anyhow::Result<Output<T::Record, T::Summary>> {
    let mut records = Vec::new();
    let mut summary: Option<(usize, T::Summary)> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{input}:{}", i + 1);
        if let Some((n, _)) = &summary {
            bail!("{at}: a line after {}'s summary (line {n})", T::NAME);
        }
        match one::<T::Line>(&at, T::NAME, line)?.into() {
            Line::Record(r) => records.push(r),
            Line::Summary(s) => {
                let (tool, schema) = s.stamp();
                if tool != T::NAME || schema != T::SCHEMA {
                    bail!(
                        "{at}: a summary of {tool} schema {schema}, where xtask reads {} schema {}",
                        T::NAME,
                        T::SCHEMA
                    );
                }
                summary = Some((i + 1, s));
            }
            Line::Other => {}
        }
    }
    let (_, summary) = summary
        .with_context(|| format!("{input}: {} wrote no summary (was it cut off?)", T::NAME))?;
    Ok(Output { records, summary })
}

/// One JSON value of `tool`'s, at `at`: an error naming the record's type and the field.
pub fn one<V: DeserializeOwned>(at: &str, tool: &str, text: &str) -> anyhow::Result<V> {
    serde_json::from_str(text).map_err(|e| {
        // serde_json says where in the line; the line is what a person looks up.
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        let kind = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("type")?.as_str().map(str::to_string));
        match kind {
            Some(kind) => anyhow::anyhow!("{at}: {kind} record of {tool}: {message}"),
            None => anyhow::anyhow!("{at}: not a record of {tool}: {message}"),
        }
    })
}

/// The `tool` and `schema` every summary starts with.
macro_rules! summary {
    ($name:ident) => {
        impl Summary for $name {
            fn stamp(&self) -> (&str, u32) {
                (&self.tool, self.schema)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// vg-filter

/// vg-filter's JSON lines. swap: `dbgpipe_core::memcheck::records::Record`.
pub struct VgFilter;

impl Tool for VgFilter {
    const NAME: &'static str = "vg-filter";
    const SCHEMA: u32 = SCHEMA;
    type Line = VgFilterLine;
    type Record = VgError;
    type Summary = VgSummary;
}

/// A line of vg-filter's output.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VgFilterLine {
    /// A kept record.
    Error(VgError),
    /// The summary.
    Summary(VgSummary),
    /// Any other type.
    #[serde(other)]
    Other,
}

impl From<VgFilterLine> for Line<VgError, VgSummary> {
    fn from(line: VgFilterLine) -> Self {
        match line {
            VgFilterLine::Error(r) => Line::Record(r),
            VgFilterLine::Summary(s) => Line::Summary(s),
            VgFilterLine::Other => Line::Other,
        }
    }
}

/// A Memcheck record vg-filter kept (`"type":"error"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VgError {
    /// Memcheck's kind: `InvalidRead`, `Leak_DefinitelyLost`, …
    pub kind: String,
    /// Bytes lost (leak kinds), else `null`.
    #[serde(deserialize_with = "nullable")]
    pub bytes: Option<u64>,
    /// The first frame that matched the project, `null` without `--project`.
    #[serde(deserialize_with = "nullable")]
    pub project_frame: Option<Frame>,
    /// A module-lifetime allocation made by a module's init (not failing by default).
    pub module_init: bool,
}

impl VgError {
    /// The project frame's function, when there is one and it is named.
    pub fn project_function(&self) -> Option<&str> {
        self.project_frame.as_ref()?.function.as_deref()
    }
}

/// A frame, the schema 2 keys xtask reads (`addr` and the record's own keys are passed over).
/// swap: `dbgpipe_core::Frame`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Frame {
    /// Function name, demangled; `null` for `???`.
    #[serde(deserialize_with = "nullable")]
    pub function: Option<String>,
    /// Source file.
    #[serde(deserialize_with = "nullable")]
    pub file: Option<String>,
    /// Source line.
    #[serde(deserialize_with = "nullable")]
    pub line: Option<u32>,
    /// The executable or shared object.
    #[serde(deserialize_with = "nullable")]
    pub object: Option<String>,
}

/// vg-filter's summary: what it read and where each record went.
/// swap: `dbgpipe_core::memcheck::records::Summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VgSummary {
    /// `vg-filter`.
    pub tool: String,
    /// The schema.
    pub schema: u32,
    /// Records read: `records = kept + suppressed + not_project`.
    pub records: u64,
    /// Records kept (the project's, not suppressed).
    pub kept: u64,
    /// Records a suppression matched.
    pub suppressed: u64,
    /// Records with no project frame.
    pub not_project: u64,
    /// Kept records of the kinds that fail the run.
    pub failing: u64,
    /// Kept records that are module-lifetime allocations.
    pub module_init: u64,
    /// Records with no project frame cut at the stack limit.
    pub cut_at_depth: u64,
    /// Hints said on standard error about the logs.
    pub hints: u64,
    /// With `--baseline`: kept records not in it.
    pub new: u64,
    /// With `--baseline`: kept records in it.
    pub known: u64,
    /// With `--baseline`: its records this run did not keep.
    pub fixed: u64,
}
summary!(VgSummary);

// ---------------------------------------------------------------------------------------
// bt-demangle

/// bt-demangle's JSON lines. swap: `dbgpipe_core::backtrace::records::Record`.
pub struct BtDemangle;

impl Tool for BtDemangle {
    const NAME: &'static str = "bt-demangle";
    const SCHEMA: u32 = SCHEMA;
    type Line = BtDemangleLine;
    type Record = Crash;
    type Summary = BtSummary;
}

/// A line of bt-demangle's output.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BtDemangleLine {
    /// What a gdb session shows crashed.
    Crash(Box<Crash>),
    /// The summary.
    Summary(BtSummary),
    /// Frames, Python frames, and any other type.
    #[serde(other)]
    Other,
}

impl From<BtDemangleLine> for Line<Crash, BtSummary> {
    fn from(line: BtDemangleLine) -> Self {
        match line {
            BtDemangleLine::Crash(r) => Line::Record(*r),
            BtDemangleLine::Summary(s) => Line::Summary(s),
            BtDemangleLine::Other => Line::Other,
        }
    }
}

/// A crash record (`"type":"crash"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Crash {
    /// `SIGSEGV`; `null` when the input has frames but no signal report.
    #[serde(deserialize_with = "nullable")]
    pub signal: Option<String>,
    /// 16 hex digits over the signature's function names; `null` without a named frame.
    #[serde(deserialize_with = "nullable")]
    pub signature: Option<String>,
    /// The crashing thread's innermost frame.
    #[serde(deserialize_with = "nullable")]
    pub top_frame: Option<CrashFrame>,
    /// Its first project frame.
    #[serde(deserialize_with = "nullable")]
    pub project_frame: Option<CrashFrame>,
    /// With `--baseline`: `new` or `known`; null without.
    #[serde(default)]
    pub baseline: Option<String>,
}

impl Crash {
    /// Whether this crash fails the run: any crash, but a known one under a baseline.
    pub fn fails(&self) -> bool {
        self.baseline.as_deref() != Some("known")
    }
}

/// A frame named by a crash record. swap: the library's crash frame type (a `Frame` with
/// `index`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CrashFrame {
    /// `N` of gdb's `#N`; `null` for the stop location.
    #[serde(deserialize_with = "nullable")]
    pub index: Option<u32>,
    /// Function, demangled and simplified.
    #[serde(deserialize_with = "nullable")]
    pub function: Option<String>,
    /// Source file.
    #[serde(deserialize_with = "nullable")]
    pub file: Option<String>,
    /// Source line.
    #[serde(deserialize_with = "nullable")]
    pub line: Option<u32>,
    /// Shared object. Schema 1's name, `library`, is read too until bt-demangle writes
    /// schema 2's (swap: drop the alias with the library's type).
    #[serde(deserialize_with = "nullable", alias = "library")]
    pub object: Option<String>,
}

/// bt-demangle's summary. swap: `dbgpipe_core::backtrace::records::Summary`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BtSummary {
    /// `bt-demangle`.
    pub tool: String,
    /// The schema.
    pub schema: u32,
    /// Native frames read.
    pub frames: u64,
}
summary!(BtSummary);

// ---------------------------------------------------------------------------------------
// rss-rounds

/// rss-rounds' JSON lines (`run` and `watch`). swap: `dbgpipe_core::rounds::records::Record`.
pub struct RssRounds;

impl Tool for RssRounds {
    const NAME: &'static str = "rss-rounds";
    const SCHEMA: u32 = SCHEMA;
    type Line = RssRoundsLine;
    type Record = SeriesVerdict;
    type Summary = RoundsSummary;
}

/// A line of rss-rounds' output.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RssRoundsLine {
    /// One series' verdict.
    Verdict(SeriesVerdict),
    /// The summary.
    Summary(RoundsSummary),
    /// Rounds, baselines, and any other type.
    #[serde(other)]
    Other,
}

impl From<RssRoundsLine> for Line<SeriesVerdict, RoundsSummary> {
    fn from(line: RssRoundsLine) -> Self {
        match line {
            RssRoundsLine::Verdict(r) => Line::Record(r),
            RssRoundsLine::Summary(s) => Line::Summary(s),
            RssRoundsLine::Other => Line::Other,
        }
    }
}

/// What the trend test decided. swap: `dbgpipe_core::rounds::trend::Verdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It keeps growing.
    Leak,
    /// No growth both significant and large enough.
    NoLeak,
    /// Too few points to judge.
    Insufficient,
}

impl Verdict {
    /// The name rss-rounds writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::NoLeak => "no_leak",
            Verdict::Insufficient => "insufficient",
        }
    }
}

/// One series' verdict (`"type":"verdict"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SeriesVerdict {
    /// `refs`, `blocks`, `fds`, `rss_kib`, `rss_mib`, …
    pub series: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Fitted growth per round, in the series' unit; `null` without enough points.
    #[serde(deserialize_with = "nullable")]
    pub growth_per_round: Option<f64>,
    /// Points (rounds) in the series.
    pub points: u64,
}

/// rss-rounds' summary. swap: `dbgpipe_core::rounds::records::Summary`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoundsSummary {
    /// `rss-rounds`.
    pub tool: String,
    /// The schema.
    pub schema: u32,
    /// `leak` when any series leaks, else `no_leak` when any was judged, else `insufficient`.
    pub verdict: Verdict,
}
summary!(RoundsSummary);

/// rss-rounds' output on a Massif file: the verdicts and the growing allocation sites.
pub struct RssRoundsMassif;

impl Tool for RssRoundsMassif {
    const NAME: &'static str = "rss-rounds";
    const SCHEMA: u32 = SCHEMA;
    type Line = RssRoundsMassifLine;
    type Record = MassifRecord;
    type Summary = RoundsSummary;
}

/// A line of rss-rounds' output on a Massif file.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RssRoundsMassifLine {
    /// One series' verdict.
    Verdict(SeriesVerdict),
    /// A growing allocation site.
    Site(GrowingSite),
    /// The summary.
    Summary(RoundsSummary),
    /// Rounds, baselines, and any other type.
    #[serde(other)]
    Other,
}

/// A record of rss-rounds' output on a Massif file that the recipe reads.
#[derive(Debug, Clone)]
pub enum MassifRecord {
    /// One series' verdict.
    Verdict(SeriesVerdict),
    /// A growing allocation site.
    Site(GrowingSite),
}

impl From<RssRoundsMassifLine> for Line<MassifRecord, RoundsSummary> {
    fn from(line: RssRoundsMassifLine) -> Self {
        match line {
            RssRoundsMassifLine::Verdict(r) => Line::Record(MassifRecord::Verdict(r)),
            RssRoundsMassifLine::Site(r) => Line::Record(MassifRecord::Site(r)),
            RssRoundsMassifLine::Summary(s) => Line::Summary(s),
            RssRoundsMassifLine::Other => Line::Other,
        }
    }
}

/// A `site` record of rss-rounds. swap: `dbgpipe_core::rounds::records::Site`.
#[derive(Debug, Clone, Deserialize)]
pub struct GrowingSite {
    /// Its series (`site:FUNCTION:FILE:LINE`).
    pub series: String,
    /// Bytes at the last detailed snapshot.
    pub bytes: u64,
    /// Growth per round.
    pub growth_per_round: f64,
    /// Index of the site frame in `frames`.
    pub site_frame: usize,
    /// The stack, innermost first.
    pub frames: Vec<SiteFrame>,
}

impl GrowingSite {
    /// The frame that names the site.
    pub fn frame(&self) -> Option<&SiteFrame> {
        self.frames.get(self.site_frame)
    }
}

/// A frame of a site's stack, with the keys the recipe shows.
#[derive(Debug, Clone, Deserialize)]
pub struct SiteFrame {
    /// Function, demangled.
    #[serde(deserialize_with = "nullable")]
    pub function: Option<String>,
    /// Source file.
    #[serde(deserialize_with = "nullable")]
    pub file: Option<String>,
    /// Source line.
    #[serde(deserialize_with = "nullable")]
    pub line: Option<u32>,
    /// `project`, `python`, `system` or `unknown`.
    pub class: String,
}

// ---------------------------------------------------------------------------------------
// ptrace-fix

/// ptrace-fix's JSON lines. swap: `dbgpipe_core::ptrace::records::Record`.
pub struct PtraceFix;

impl Tool for PtraceFix {
    const NAME: &'static str = "ptrace-fix";
    const SCHEMA: u32 = SCHEMA;
    type Line = PtraceFixLine;
    type Record = Infallible;
    type Summary = PtraceSummary;
}

/// A line of ptrace-fix's output: xtask reads the summary only.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PtraceFixLine {
    /// The summary.
    Summary(PtraceSummary),
    /// Diagnoses, facts, changes, and any other type.
    #[serde(other)]
    Other,
}

impl From<PtraceFixLine> for Line<Infallible, PtraceSummary> {
    fn from(line: PtraceFixLine) -> Self {
        match line {
            PtraceFixLine::Summary(s) => Line::Summary(s),
            PtraceFixLine::Other => Line::Other,
        }
    }
}

/// ptrace-fix's summary.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PtraceSummary {
    /// `ptrace-fix`.
    pub tool: String,
    /// The schema.
    pub schema: u32,
    /// Diagnoses that keep gdb from running or attaching.
    pub blocking: u64,
}
summary!(PtraceSummary);

// ---------------------------------------------------------------------------------------
// dbg-image

/// The record `dbg-image build` prints. swap: `dbgpipe_core::image::records::ImageRecord`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Image {
    /// The image's tag.
    pub tag: String,
}

// ---------------------------------------------------------------------------------------
// memray (xtask's own records, written by memray_leaks.py)

/// `memray_leaks.py`'s JSON lines (see its header). Its own, so never swapped.
pub struct MemrayLeaks;

impl Tool for MemrayLeaks {
    const NAME: &'static str = "xtask memray";
    const SCHEMA: u32 = 1;
    type Line = MemrayLeaksLine;
    type Record = Leak;
    type Summary = LeakSummary;
}

/// A line of `memray_leaks.py`'s output.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MemrayLeaksLine {
    /// A leak site.
    Leak(Leak),
    /// The summary.
    Summary(LeakSummary),
    /// Any other type.
    #[serde(other)]
    Other,
}

impl From<MemrayLeaksLine> for Line<Leak, LeakSummary> {
    fn from(line: MemrayLeaksLine) -> Self {
        match line {
            MemrayLeaksLine::Leak(r) => Line::Record(r),
            MemrayLeaksLine::Summary(s) => Line::Summary(s),
            MemrayLeaksLine::Other => Line::Other,
        }
    }
}

/// A leak site: the native function that asked for memory never freed (`"type":"leak"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Leak {
    /// The function.
    pub function: String,
    /// Its source file.
    #[serde(deserialize_with = "nullable")]
    pub file: Option<String>,
    /// Its line.
    #[serde(deserialize_with = "nullable")]
    pub line: Option<u32>,
    /// Whether its source lies under the root.
    pub project: bool,
    /// Bytes leaked there.
    pub bytes: u64,
    /// Allocations leaked there.
    pub allocations: u64,
}

/// `memray_leaks.py`'s summary.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LeakSummary {
    /// `xtask memray`.
    pub tool: String,
    /// The schema.
    pub schema: u32,
    /// Bytes leaked in all.
    pub leaked_bytes: u64,
    /// Bytes leaked by the project's functions.
    pub project_bytes: u64,
}
summary!(LeakSummary);

/// The data of a `memray flamegraph` HTML file (`const packed_data = {…}`), what xtask reads
/// of it: the strings (function names, files) of every frame it draws.
#[derive(Debug, Clone, Deserialize)]
pub struct FlamegraphData {
    /// The string table.
    pub strings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const VG: &str = r#"{"type":"error","kind":"InvalidRead","count":1,"bytes":null,"project_frame":{"aux":null,"index":0,"function":"invalid_read","file":"/x/e.c","line":144,"object":null},"module_init":false,"stack":[]}
{"type":"error","kind":"Leak_DefinitelyLost","bytes":64,"project_frame":null,"module_init":true}
{"type":"suppression_use","name":"x"}
{"type":"summary","tool":"vg-filter","schema":2,"records":84,"kept":2,"suppressed":76,"not_project":6,"failing":1,"module_init":1,"cut_at_depth":0,"hints":0,"new":0,"known":0,"fixed":0,"suppressions_used":{}}
"#;

    #[test]
    fn reads_the_records_and_the_summary_and_passes_other_types_over() {
        let out = parse::<VgFilter>("records.jsonl", VG).unwrap();
        assert_eq!(out.records.len(), 2);
        assert_eq!(out.records[0].kind, "InvalidRead");
        assert_eq!(out.records[0].bytes, None);
        assert_eq!(out.records[0].project_function(), Some("invalid_read"));
        assert_eq!(
            out.records[0].project_frame.as_ref().unwrap().line,
            Some(144)
        );
        assert_eq!(out.records[1].bytes, Some(64));
        assert_eq!(out.records[1].project_function(), None);
        assert_eq!(
            (
                out.summary.records,
                out.summary.kept,
                out.summary.suppressed
            ),
            (84, 2, 76)
        );
        assert_eq!(out.summary.not_project, 6);
        assert!(out.records[1].module_init && !out.records[0].module_init);
        assert_eq!((out.summary.failing, out.summary.module_init), (1, 1));
    }

    /// The point of typed records: a renamed, missing or mistyped field is an error naming
    /// the file, the line, the record and the field, never a zero.
    #[test]
    fn a_missing_or_mistyped_field_is_an_error_naming_file_and_line() {
        let error = |text: &str| format!("{:#}", parse::<VgFilter>("r.jsonl", text).unwrap_err());
        let renamed = VG.replace("\"kept\":2", "\"retained\":2");
        assert_eq!(
            error(&renamed),
            "r.jsonl:4: summary record of vg-filter: missing field `kept`"
        );
        let mistyped = VG.replace("\"kept\":2", "\"kept\":\"2\"");
        assert!(
            error(&mistyped).starts_with("r.jsonl:4: summary record of vg-filter: invalid type"),
            "{}",
            error(&mistyped)
        );
        // A nullable key must still be there: `null` is "absent", a missing key is a change.
        let dropped = VG.replace("\"bytes\":64,", "");
        assert_eq!(
            error(&dropped),
            "r.jsonl:2: error record of vg-filter: missing field `bytes`"
        );
        let renamed_frame_key = VG.replace("\"function\":\"invalid_read\"", "\"fn\":\"x\"");
        assert_eq!(
            error(&renamed_frame_key),
            "r.jsonl:1: error record of vg-filter: missing field `function`"
        );
        assert_eq!(
            error("{\"type\":\"error\"\n"),
            "r.jsonl:1: not a record of vg-filter: EOF while parsing an object"
        );
    }

    #[test]
    fn the_summary_must_close_the_output_and_say_the_schema() {
        let error = |text: &str| format!("{:#}", parse::<VgFilter>("r.jsonl", text).unwrap_err());
        let mut lines: Vec<&str> = VG.lines().collect();
        lines.pop();
        assert_eq!(
            error(&lines.join("\n")),
            "r.jsonl: vg-filter wrote no summary (was it cut off?)"
        );
        assert_eq!(
            error(&format!("{VG}{}\n", lines[0])),
            "r.jsonl:5: a line after vg-filter's summary (line 4)"
        );
        assert_eq!(
            error(&VG.replace("\"schema\":2", "\"schema\":3")),
            "r.jsonl:4: a summary of vg-filter schema 3, where xtask reads vg-filter schema 2"
        );
        assert!(
            error(&VG.replace("\"tool\":\"vg-filter\"", "\"tool\":\"bt-demangle\""))
                .contains("a summary of bt-demangle schema 2")
        );
        assert!(parse::<VgFilter>("empty", "").is_err());
    }

    #[test]
    fn crash_frames_read_schema_2_object_and_schema_1_library() {
        let crash = |object_key: &str| {
            format!(
                r#"{{"type":"frame","thread":1,"index":0,"function":"f"}}
{{"type":"crash","input":"x","signal":"SIGSEGV","signature":"c0b48c532b3aeabd","signature_functions":["f"],"frames":1,"top_frame":{{"index":0,"function":"f","file":"/x.c","line":3,"{object_key}":null}},"project_frame":null}}
{{"type":"summary","tool":"bt-demangle","schema":2,"frames":1}}
"#
            )
        };
        for key in ["object", "library"] {
            let out = parse::<BtDemangle>("c.jsonl", &crash(key)).unwrap();
            assert_eq!(out.records.len(), 1);
            let c = &out.records[0];
            assert_eq!(c.signal.as_deref(), Some("SIGSEGV"));
            assert_eq!(c.signature.as_deref(), Some("c0b48c532b3aeabd"));
            let top = c.top_frame.as_ref().unwrap();
            assert_eq!((top.index, top.function.as_deref()), (Some(0), Some("f")));
            assert_eq!(c.project_frame, None);
            assert_eq!(out.summary.frames, 1);
        }
        let error = format!(
            "{:#}",
            parse::<BtDemangle>("c.jsonl", &crash("obj")).unwrap_err()
        );
        assert_eq!(
            error,
            "c.jsonl:2: crash record of bt-demangle: missing field `object`"
        );
    }

    #[test]
    fn verdicts_and_leaks_read_typed() {
        let rounds = r#"{"type":"round","series":"refs","round":0,"value":1}
{"type":"verdict","series":"refs","kind":"delta","verdict":"leak","growth_per_round":1.0,"points":1000}
{"type":"verdict","series":"fds","verdict":"insufficient","growth_per_round":null,"points":3}
{"type":"summary","tool":"rss-rounds","schema":2,"verdict":"leak","series":2}
"#;
        let out = parse::<RssRounds>("v.jsonl", rounds).unwrap();
        assert_eq!(out.summary.verdict, Verdict::Leak);
        assert_eq!(out.records[0].growth_per_round, Some(1.0));
        assert_eq!(out.records[1].verdict, Verdict::Insufficient);
        assert_eq!(out.records[1].growth_per_round, None);
        let unknown = rounds.replace("\"verdict\":\"insufficient\"", "\"verdict\":\"maybe\"");
        let error = format!("{:#}", parse::<RssRounds>("v.jsonl", &unknown).unwrap_err());
        assert!(
            error.starts_with("v.jsonl:3: verdict record of rss-rounds: unknown variant `maybe`"),
            "{error}"
        );

        let leaks = r#"{"type":"leak","function":"leak_definite","file":"/x/e.c","line":50,"project":true,"via":null,"bytes":6400,"allocations":100}
{"type":"summary","tool":"xtask memray","schema":1,"leaked_bytes":171167,"project_bytes":6400}
"#;
        let out = parse::<MemrayLeaks>("l.jsonl", leaks).unwrap();
        assert!(out.records[0].project);
        assert_eq!(out.records[0].bytes, 6400);
        assert_eq!(out.summary.project_bytes, 6400);
        let ptrace = "{\"type\":\"ptrace\",\"can_run\":true}\n{\"type\":\"summary\",\"tool\":\"ptrace-fix\",\"schema\":2,\"blocking\":0}\n";
        assert_eq!(
            parse::<PtraceFix>("p.jsonl", ptrace)
                .unwrap()
                .summary
                .blocking,
            0
        );
    }
}
