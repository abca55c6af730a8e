//! rss-rounds' records: what the filter produces, one type per kind of line it writes, and
//! what it reads back from its own JSON lines.
//!
//! Wire format (JSON lines, schema [`crate::output::SCHEMA`]; `SCHEMA.md` documents every
//! key): one object per line, `type` first, in this order over a run:
//! - `round` per value read ([`Round`]), as it is read;
//! - `baseline` when a series' per-round baseline is set ([`Baseline`]), before its first
//!   `round`;
//! - `site` per growing allocation site of a Massif file ([`Site`]), after the `round`
//!   records of its series;
//! - `verdict` per series at the end ([`Verdict`]);
//! - `summary` last ([`Summary`]).
//!
//! In CSV a `round` is a row `round,series,value,net_value`; verdicts and the summary are
//! notes, one line each on standard error, as a CSV file holds rows of one shape.

use crate::backtrace::classify::Class;
use crate::output::{CsvLine, CsvRow, SCHEMA};
use crate::rounds::trend::{self, Kind};
use crate::rounds::words;
use crate::Frame;
use serde::{Deserialize, Serialize};

/// The name in the summary's `tool`.
pub const TOOL: &str = "rss-rounds";

/// Every record rss-rounds writes, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// One value of a series.
    Round(Round),
    /// A series' per-round baseline.
    Baseline(Baseline),
    /// A growing allocation site of a Massif file (boxed: it holds a stack).
    Site(Box<Site>),
    /// One series' verdict (boxed: it is five times the size of the `round` records that
    /// make up most of a run, and every record is as large as the largest).
    Verdict(Box<Verdict>),
    /// The closing record.
    Summary(Summary),
}

/// One value of a series, as read: `{"type":"round","series":"refs","round":12,"value":5.0,
/// "net_value":0.0,"kind":"delta","unit":"refs"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// Series name.
    pub series: String,
    /// Round number: the line's, else the series' next (0, 1, 2, …).
    pub round: u64,
    /// The value as read.
    pub value: f64,
    /// What the baseline leaves of it: a delta less the per-round baseline, a level less the
    /// baseline times the rounds since the series' first point.
    pub net_value: f64,
    /// `level` or `delta`.
    pub kind: Kind,
    /// The series' unit (`MiB`, `refs`; empty when unknown).
    pub unit: String,
}

/// A series' per-round baseline: the growth per round that is not the workload's (the
/// harness's own noise, or a clean run's growth), subtracted before judging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Series name.
    pub series: String,
    /// `level` or `delta`: read back, the record creates its series with this kind.
    pub kind: Kind,
    /// The series' unit.
    pub unit: String,
    /// Growth per round subtracted.
    pub per_round: f64,
    /// Where it came from: `--baseline`, a clean run's file name, or
    /// `harness noise (N rounds of an empty workload)`.
    pub source: String,
}

/// A frame of a site's stack: the shared frame keys, then its class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFrame {
    /// The frame.
    #[serde(flatten)]
    pub frame: Frame,
    /// `project`, `python`, `system` or `unknown`, as bt-demangle classes frames.
    pub class: Class,
}

/// A growing allocation site of a Massif file: where the heap grows. Its series
/// (`site:FUNCTION[:FILE:LINE]`) has the `round` records and the `verdict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Its series.
    pub series: String,
    /// The Massif file.
    pub input: String,
    /// Its bytes in the last detailed snapshot.
    pub bytes: u64,
    /// Theil–Sen growth per round (snapshot) of its bytes.
    pub growth_per_round: f64,
    /// Growing stacks with this site frame, summed into the series.
    pub stacks: usize,
    /// Index in `frames` of the frame that names the site.
    pub site_frame: usize,
    /// The stack (of the largest growing one), innermost first: from the allocation
    /// function's caller outwards.
    pub frames: Vec<SiteFrame>,
}

/// One series' verdict, with the numbers it rests on ([`trend::Analysis`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Series name.
    pub series: String,
    /// `level` or `delta`.
    pub kind: Kind,
    /// Unit.
    pub unit: String,
    /// `leak`, `no_leak` or `insufficient`.
    pub verdict: trend::Verdict,
    /// Why, in one sentence.
    pub reason: String,
    /// What the confidence interval says, in words.
    pub statement: String,
    /// Per-round baseline subtracted (0 for none).
    pub baseline: f64,
    /// Where it came from (`null`: no baseline).
    pub baseline_source: Option<String>,
    /// All points.
    pub points: usize,
    /// Warm-up points discarded.
    pub warmup_points: usize,
    /// Points judged.
    pub judged_points: usize,
    /// Bins judged.
    pub bins: usize,
    /// First round judged.
    pub first_round: Option<f64>,
    /// Last round judged.
    pub last_round: Option<f64>,
    /// Theil–Sen growth per round (net).
    pub growth_per_round: Option<f64>,
    /// The same per 1000 rounds.
    pub growth_per_1000: Option<f64>,
    /// Lower end of Sen's interval.
    pub ci_low: Option<f64>,
    /// Upper end.
    pub ci_high: Option<f64>,
    /// Its level, `1 - 2·alpha`.
    pub ci_level: f64,
    /// Fitted growth over the judged rounds.
    pub growth_total: Option<f64>,
    /// The same in percent of the median level.
    pub growth_pct: Option<f64>,
    /// Slope of the last half.
    pub late_growth_per_round: Option<f64>,
    /// Mann–Kendall S.
    pub mk_s: Option<f64>,
    /// Kendall's tau.
    pub kendall_tau: Option<f64>,
    /// Normal score.
    pub mk_z: Option<f64>,
    /// Mann–Kendall's one-sided p-value.
    pub mk_p: Option<f64>,
    /// Delta series: the batch-sum test's one-sided p-value.
    pub batch_p: Option<f64>,
    /// The p-value the verdict used (the larger of the two for a delta series).
    pub p_value: Option<f64>,
    /// Hamed–Rao variance factor.
    pub autocorrelation_factor: Option<f64>,
    /// Round of a jump, when rule 3 found one.
    pub step_round: Option<f64>,
    /// Its height.
    pub step_height: Option<f64>,
    /// Legacy half-point percentage.
    pub legacy_half_pct: Option<f64>,
    /// Whether the legacy rule (> 2 %) calls it a leak.
    pub legacy_leak: Option<bool>,
}

/// What the command run by `watch` or `run` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandStatus {
    /// The command line.
    pub argv: Vec<String>,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
}

/// The closing record. Reading inputs, its line counts add up:
/// `lines = values + unmatched + own_lines + foreign_records` (under `run` and `watch`, the
/// values measured come from no line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `rss-rounds`.
    pub tool: String,
    /// [`SCHEMA`].
    pub schema: u32,
    /// `leak` when any series leaks, else `no_leak` when any was judged, else
    /// `insufficient`.
    pub verdict: trend::Verdict,
    /// Series judged.
    pub series: usize,
    /// Series judged leaking.
    pub leaks: usize,
    /// Series with too few points.
    pub insufficient: usize,
    /// Inputs read.
    pub inputs: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines that gave a value (including those of series not selected, and those dropped
    /// over the caps).
    pub values: u64,
    /// Values of series not selected (`--series`, `--refs`, `--rss`): neither written nor
    /// judged.
    pub ignored: u64,
    /// Lines that matched nothing (counted and passed over).
    pub unmatched: u64,
    /// rss-rounds' own records and CSV header read back from a saved report (a `baseline`
    /// record read back sets its series' baseline): neither values nor noise.
    pub own_lines: u64,
    /// JSON records of another tool or of a type rss-rounds does not know: passed on
    /// unchanged in JSON-lines output, left out of CSV and text.
    pub foreign_records: u64,
    /// Lines cut at 1 MiB (also counted as unmatched: a cut value would be a guess).
    pub long_lines: u64,
    /// Values beyond the caps (series, name length, points, Massif tree points): neither
    /// written nor judged.
    pub dropped_values: u64,
    /// Lines of Massif files (`massif.out`): every line of such an input counts here and in
    /// no other line count.
    #[serde(default)]
    pub massif_lines: u64,
    /// Values taken from Massif's snapshots (heap series and sites), which come from no
    /// single line; they are counted in `values` too.
    #[serde(default)]
    pub massif_values: u64,
    /// Massif snapshots read.
    #[serde(default)]
    pub snapshots: u64,
    /// Growing allocation sites found in Massif's detailed snapshots (at most 10 become
    /// series and `site` records).
    #[serde(default)]
    pub sites: u64,
    /// The command `watch` or `run` ran.
    pub command: Option<CommandStatus>,
    /// The plot written.
    pub plot: Option<String>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            tool: TOOL.to_string(),
            schema: SCHEMA,
            verdict: trend::Verdict::Insufficient,
            series: 0,
            leaks: 0,
            insufficient: 0,
            inputs: 0,
            lines: 0,
            values: 0,
            ignored: 0,
            unmatched: 0,
            own_lines: 0,
            foreign_records: 0,
            long_lines: 0,
            dropped_values: 0,
            massif_lines: 0,
            massif_values: 0,
            snapshots: 0,
            sites: 0,
            command: None,
            plot: None,
        }
    }
}

impl Summary {
    /// Whether exit status 1 is due: a series leaks, or with `strict` a series has too few
    /// points or there is no series at all.
    pub fn findings(&self, strict: bool) -> bool {
        self.leaks > 0 || (strict && (self.insufficient > 0 || self.series == 0))
    }
}

impl CsvRow for Record {
    const HEADER: &'static [&'static str] = &["round", "series", "value", "net_value"];

    fn csv(&self) -> CsvLine {
        match self {
            Record::Round(r) => CsvLine::Row(vec![
                r.round.to_string(),
                r.series.clone(),
                number(r.value),
                number(r.net_value),
            ]),
            // The verdict line says the baseline and where it came from.
            Record::Baseline(_) => CsvLine::Skip,
            Record::Site(site) => CsvLine::Note(format!("{TOOL}: {}", words::site_line(site))),
            Record::Verdict(v) => CsvLine::Note(format!("{TOOL}: {}", words::verdict_line(v))),
            Record::Summary(s) => CsvLine::Note(format!("{TOOL}: {}", words::summary_line(s))),
        }
    }
}

/// A value as CSV shows it: the shortest decimal that reads back to the same `f64`
/// (`41.9453125`, `3`, `0.0001`), written into a string sized for it at once rather than
/// grown (most values of a run pass through here).
fn number(v: f64) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(24);
    let _ = write!(s, "{v}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_tagged_and_read_back() {
        let round = Record::Round(Round {
            series: "refs".into(),
            round: 12,
            value: 5.0,
            net_value: 0.0,
            kind: Kind::Delta,
            unit: "refs".into(),
        });
        let json = serde_json::to_string(&round).unwrap();
        assert_eq!(
            json,
            r#"{"type":"round","series":"refs","round":12,"value":5.0,"net_value":0.0,"kind":"delta","unit":"refs"}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), round);
        let summary = Record::Summary(Summary::default());
        let json = serde_json::to_string(&summary).unwrap();
        assert!(
            json.starts_with(
                r#"{"type":"summary","tool":"rss-rounds","schema":2,"verdict":"insufficient","#
            ),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), summary);
    }

    #[test]
    fn rounds_are_rows_and_the_rest_notes() {
        let round = Record::Round(Round {
            series: "a,b".into(),
            round: 3,
            value: 41.5,
            net_value: -1.0,
            ..Round::default()
        });
        let CsvLine::Row(row) = round.csv() else {
            panic!("a round is a row");
        };
        assert_eq!(row, ["3", "a,b", "41.5", "-1"]);
        let CsvLine::Note(note) = Record::Summary(Summary::default()).csv() else {
            panic!("the summary is a note");
        };
        assert!(
            note.starts_with("rss-rounds: insufficient: 0 of 0 series"),
            "{note}"
        );
    }

    #[test]
    fn findings_follow_strict() {
        let mut s = Summary::default();
        assert!(!s.findings(false));
        assert!(s.findings(true), "no series at all, strict");
        s.series = 1;
        assert!(!s.findings(true));
        s.leaks = 1;
        assert!(s.findings(false));
    }
}
