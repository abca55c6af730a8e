//! `rss-rounds`: rounds of RSS and reference counts in, a leak verdict per series out.
//!
//! The filter reads lines ([`crate::rounds::lines`] says which), keeps each series' rounds and
//! values (16 bytes a point; nothing else grows with the input), writes one output row per
//! value as it is read, and at the end judges every series with [`crate::rounds::trend`] and
//! writes the verdicts and a summary.
//!
//! Memory is bounded whatever the input: lines are cut at [`MAX_LINE`], at most
//! [`MAX_SERIES`] series with names of at most [`MAX_NAME`] bytes are kept, and at most
//! [`MAX_POINTS`] points in all (128 MiB). Values beyond these caps are counted
//! (`dropped_values`), neither written nor judged. [`crate::rounds::watch`] and [`crate::rounds::harness`] feed the same
//! filter from a command they run.
//!
//! # Output (schema 1)
//! - `csv` (default): `round,series,value,net_value`, one row per value; the verdicts go to
//!   stderr, one line per series, then the summary line.
//! - `jsonl`: `{"type":"round","series":"refs","round":12,"value":5.0,"net_value":0.0,
//!   "kind":"delta","unit":"refs"}` per value; `{"type":"baseline","series":…,"per_round":…,
//!   "source":…}` when a baseline is set; then one `{"type":"verdict",…}` per series
//!   ([`VerdictRecord`]) and `{"type":"summary","tool":"rss-rounds","schema":1,…}`
//!   ([`Summary`]).
//! - `text`: the verdicts for a person, then the summary line.
//!
//! The net value is what the baseline leaves: a delta less the per-round baseline, a level
//! less the baseline times the rounds since the series' first point.

use crate::input::{read_line_capped, MAX_LINE};
use crate::output::{Sink, SCHEMA};
use crate::rounds::lines::{self, Line, Pattern};
use crate::rounds::trend::{self, fmt_num, fmt_p, Analysis, Config, Kind, SeriesRef, Verdict};
use crate::Error;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;

/// Most series kept; values of further series are dropped and counted. A leak test prints
/// a handful; thousands mean the input names its series from data (a `--pattern` whose
/// `series` group matches addresses, say).
pub const MAX_SERIES: usize = 1000;

/// Longest series name kept, in bytes; values of series with longer names are dropped and
/// counted.
pub const MAX_NAME: usize = 256;

/// Most points kept over all series (16 bytes each: 128 MB). A million rounds of eight
/// series fit; beyond it values are dropped and counted rather than grow memory without
/// bound.
pub const MAX_POINTS: usize = 8_000_000;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `round,series,value,net_value` rows; verdicts on stderr.
    Csv,
    /// One JSON object per line, closed by a summary.
    Jsonl,
    /// A short report for a person.
    Text,
}

/// A per-round baseline, as given on the command line (files already read).
#[derive(Debug, Clone, PartialEq)]
pub enum Baseline {
    /// For every delta series.
    AllDeltas(f64),
    /// For one series (a level series too).
    Series {
        /// Series name.
        series: String,
        /// Per-round growth to subtract.
        per_round: f64,
        /// Where it came from, for the records (`--baseline`, a file name).
        source: String,
    },
}

/// Everything the filter is told.
#[derive(Debug, Clone)]
pub struct Options {
    /// Output format.
    pub format: Format,
    /// `--pattern`s, tried before the built-in formats.
    pub patterns: Vec<Pattern>,
    /// Judge only these series (empty: all).
    pub select: Vec<String>,
    /// Baselines.
    pub baselines: Vec<Baseline>,
    /// The thresholds of the test.
    pub trend: Config,
    /// Exit 1 when a series has too few points.
    pub strict: bool,
    /// Draw the series here (`.svg` or `.png`).
    pub plot: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: Format::Csv,
            patterns: Vec::new(),
            select: Vec::new(),
            baselines: Vec::new(),
            trend: Config::default(),
            strict: false,
            plot: None,
        }
    }
}

/// One series as read.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name.
    pub name: String,
    /// Level or delta.
    pub kind: Kind,
    /// Its unit (may be empty).
    pub unit: String,
    /// Round of each point.
    pub rounds: Vec<f64>,
    /// Raw value of each point.
    pub values: Vec<f64>,
    /// Per-round growth subtracted.
    pub baseline: f64,
    /// Where the baseline came from (`None`: no baseline).
    pub baseline_source: Option<String>,
    /// Number given to the next point without a round.
    next_round: u64,
    /// The name as a CSV field.
    csv_name: String,
}

impl Series {
    /// The view the trend test takes.
    pub fn as_ref(&self) -> SeriesRef<'_> {
        SeriesRef {
            rounds: &self.rounds,
            values: &self.values,
            kind: self.kind,
            baseline: self.baseline,
        }
    }
}

/// What the command run by `watch` or `run` did, for the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CommandStatus {
    /// The command line.
    pub argv: Vec<String>,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
}

/// The closing record.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    tool: &'static str,
    schema: u32,
    /// `leak` when any series leaks, else `no_leak` when any was judged, else `insufficient`.
    pub verdict: &'static str,
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
    /// Lines that gave a value.
    pub values: u64,
    /// Values of series not selected.
    pub ignored: u64,
    /// Lines that matched nothing (counted and passed over).
    pub unmatched: u64,
    /// rss-rounds' own records and CSV header, read back from a saved report: neither
    /// values nor noise. `lines = values + unmatched + own_lines`.
    pub own_lines: u64,
    /// Lines cut at 1 MiB (also counted as unmatched: a cut value would be a guess).
    pub long_lines: u64,
    /// Values beyond the caps ([`MAX_SERIES`], [`MAX_NAME`], [`MAX_POINTS`]): neither
    /// written nor judged.
    pub dropped_values: u64,
    /// The command `watch` or `run` ran.
    pub command: Option<CommandStatus>,
    /// The plot written.
    pub plot: Option<String>,
}

/// One series' verdict record (`{"type":"verdict",…}`).
#[derive(Debug, Clone, Serialize)]
pub struct VerdictRecord<'a> {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    /// Series name.
    pub series: &'a str,
    /// `level` or `delta`.
    pub kind: &'static str,
    /// Unit.
    pub unit: &'a str,
    /// `leak`, `no_leak` or `insufficient`.
    pub verdict: &'static str,
    /// Why.
    pub reason: &'a str,
    /// The confidence statement.
    pub statement: String,
    /// Per-round baseline subtracted.
    pub baseline: f64,
    /// Where it came from.
    pub baseline_source: Option<&'a str>,
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
    /// Lower end of the interval.
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

#[derive(Serialize)]
struct RoundRecord<'a> {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    series: &'a str,
    round: u64,
    value: f64,
    net_value: f64,
    kind: &'static str,
    unit: &'a str,
}

#[derive(Serialize)]
struct BaselineRecord<'a> {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    series: &'a str,
    per_round: f64,
    source: &'a str,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The summary written.
    pub summary: Summary,
    /// Series names with their analyses, in first-seen order.
    pub analyses: Vec<(String, Analysis)>,
    /// Exit status 1 is due (a leak, or `--strict` and too few points).
    pub findings: bool,
}

/// The filter's state.
pub struct Filter<W: Write> {
    sink: Sink<W>,
    opts: Options,
    series: Vec<Series>,
    index: HashMap<String, usize>,
    /// Points kept over all series.
    points: usize,
    /// [`MAX_POINTS`], lowered by the tests.
    max_points: usize,
    summary: Summary,
    header_done: bool,
    /// The CSV row being written.
    row: String,
}

impl<W: Write> Filter<W> {
    /// A filter writing to `sink`.
    pub fn new(opts: Options, sink: Sink<W>) -> Self {
        Filter {
            sink,
            opts,
            series: Vec::new(),
            index: HashMap::new(),
            points: 0,
            max_points: MAX_POINTS,
            summary: Summary {
                kind_tag: "summary",
                tool: "rss-rounds",
                schema: SCHEMA,
                verdict: Verdict::Insufficient.as_str(),
                series: 0,
                leaks: 0,
                insufficient: 0,
                inputs: 0,
                lines: 0,
                values: 0,
                ignored: 0,
                unmatched: 0,
                own_lines: 0,
                long_lines: 0,
                dropped_values: 0,
                command: None,
                plot: None,
            },
            header_done: false,
            row: String::new(),
        }
    }

    /// The series read so far.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Reads one input line by line. Only a failing read ([`Error`], naming the input and
    /// line) or a failing write (the [`io::Error`] itself, so that a closed pipe is seen
    /// as one) is an error; any content is values or counted lines.
    pub fn read<R: BufRead>(&mut self, input: &str, mut reader: R) -> anyhow::Result<()> {
        self.summary.inputs += 1;
        let mut buf = Vec::new();
        let mut lineno = 0u64;
        loop {
            let cut = match read_line_capped(&mut reader, &mut buf, MAX_LINE) {
                Ok(Some(cut)) => cut,
                Ok(None) => return Ok(()),
                Err(e) => return Err(Error::at(input, Some(lineno + 1), e.to_string()).into()),
            };
            lineno += 1;
            if cut {
                // A cut line's value would be a guess: count it and pass over it.
                self.summary.lines += 1;
                self.summary.long_lines += 1;
                self.summary.unmatched += 1;
                continue;
            }
            self.line(&buf)?;
        }
    }

    /// Takes one line of text (without its newline).
    pub fn line(&mut self, line: &[u8]) -> io::Result<()> {
        self.summary.lines += 1;
        // The patterns are lent out for the line, so that what they matched can be
        // borrowed while the series are updated.
        let patterns = std::mem::take(&mut self.opts.patterns);
        let result = self.parsed_line(line, &patterns);
        self.opts.patterns = patterns;
        result
    }

    fn parsed_line(&mut self, line: &[u8], patterns: &[Pattern]) -> io::Result<()> {
        let parsed = match lines::parse_line(line, patterns) {
            Line::Value(p) => p,
            Line::Own => {
                self.summary.own_lines += 1;
                return Ok(());
            }
            Line::Other => {
                self.summary.unmatched += 1;
                return Ok(());
            }
        };
        let (kind, unit) = match (parsed.kind, lines::known(&parsed.series)) {
            (Some(k), Some((_, u))) => (k, u),
            (Some(k), None) => (k, ""),
            (None, Some((k, u))) => (k, u),
            (None, None) => (Kind::Level, ""),
        };
        let unit = parsed.unit.as_deref().unwrap_or(unit);
        self.observe(&parsed.series, kind, unit, parsed.round, parsed.value)
    }

    /// Whether a series is judged (`--series`).
    pub fn selected(&self, name: &str) -> bool {
        self.opts.select.is_empty() || self.opts.select.iter().any(|s| s == name)
    }

    /// Adds one value to a series (creating it with this kind and unit), and writes its row.
    pub fn observe(
        &mut self,
        name: &str,
        kind: Kind,
        unit: &str,
        round: Option<u64>,
        value: f64,
    ) -> io::Result<()> {
        self.summary.values += 1;
        if !self.selected(name) {
            self.summary.ignored += 1;
            return Ok(());
        }
        let i = match self.index.get(name) {
            Some(&i) => i,
            None if self.series.len() >= MAX_SERIES || name.len() > MAX_NAME => {
                self.summary.dropped_values += 1;
                return Ok(());
            }
            None => self.add_series(name, kind, unit),
        };
        if self.points >= self.max_points {
            self.summary.dropped_values += 1;
            return Ok(());
        }
        self.points += 1;
        let s = &mut self.series[i];
        let round = round.unwrap_or(s.next_round);
        s.next_round = round.saturating_add(1);
        s.rounds.push(round as f64);
        s.values.push(value);
        let net = trend::net_value(s.kind, s.baseline, s.rounds[0], round as f64, value);
        match self.opts.format {
            Format::Csv => {
                if !self.header_done {
                    self.header_done = true;
                    self.sink.text(&format!("{}\n", lines::CSV_HEADER))?;
                }
                // One reused buffer for the rows, and the name quoted once per series.
                use std::fmt::Write as _;
                let s = &self.series[i];
                self.row.clear();
                let _ = writeln!(self.row, "{round},{},{value},{net}", s.csv_name);
                self.sink.text(&self.row)?;
            }
            Format::Jsonl => {
                let s = &self.series[i];
                self.sink.json(&RoundRecord {
                    kind_tag: "round",
                    series: &s.name,
                    round,
                    value,
                    net_value: net,
                    kind: s.kind.as_str(),
                    unit: &s.unit,
                })?;
            }
            Format::Text => {}
        }
        Ok(())
    }

    fn add_series(&mut self, name: &str, kind: Kind, unit: &str) -> usize {
        let mut series = Series {
            name: name.to_string(),
            kind,
            unit: unit.to_string(),
            rounds: Vec::new(),
            values: Vec::new(),
            baseline: 0.0,
            baseline_source: None,
            next_round: 0,
            csv_name: csv_field(name),
        };
        for b in &self.opts.baselines {
            match b {
                Baseline::Series {
                    series: n,
                    per_round,
                    source,
                } if n == name => {
                    series.baseline = *per_round;
                    series.baseline_source = Some(source.clone());
                }
                Baseline::AllDeltas(v)
                    if kind == Kind::Delta && series.baseline_source.is_none() =>
                {
                    series.baseline = *v;
                    series.baseline_source = Some("--baseline".to_string());
                }
                _ => {}
            }
        }
        self.series.push(series);
        self.index.insert(name.to_string(), self.series.len() - 1);
        self.series.len() - 1
    }

    /// Sets a series' baseline from a measurement (the harness's noise rounds), unless the
    /// command line gave one. Call before its first value. Writes a `baseline` record.
    pub fn measured_baseline(
        &mut self,
        name: &str,
        kind: Kind,
        unit: &str,
        per_round: f64,
        source: &str,
    ) -> io::Result<()> {
        if !self.selected(name) {
            return Ok(());
        }
        let i = match self.index.get(name) {
            Some(&i) => i,
            // The harness names a few series of its own; the cap is for names from data.
            None if self.series.len() >= MAX_SERIES || name.len() > MAX_NAME => return Ok(()),
            None => self.add_series(name, kind, unit),
        };
        let s = &mut self.series[i];
        if s.baseline_source.is_none() && s.values.is_empty() {
            s.baseline = per_round;
            s.baseline_source = Some(source.to_string());
        }
        if self.opts.format == Format::Jsonl {
            let s = &self.series[i];
            self.sink.json(&BaselineRecord {
                kind_tag: "baseline",
                series: &s.name,
                per_round: s.baseline,
                source: s.baseline_source.as_deref().unwrap_or(source),
            })?;
        }
        Ok(())
    }

    /// Judges every series without writing anything.
    pub fn analyze(&self) -> Vec<(String, Analysis)> {
        self.series
            .iter()
            .map(|s| (s.name.clone(), trend::analyze(s.as_ref(), &self.opts.trend)))
            .collect()
    }

    /// Judges every series, writes the verdicts, the plot and the summary, and flushes.
    /// `err` gets the verdict lines in CSV mode.
    pub fn finish(
        mut self,
        command: Option<CommandStatus>,
        err: &mut dyn Write,
    ) -> anyhow::Result<Report> {
        let analyses = self.analyze();
        let s = &mut self.summary;
        s.command = command;
        s.series = analyses.len();
        s.leaks = count(&analyses, Verdict::Leak);
        s.insufficient = count(&analyses, Verdict::Insufficient);
        s.verdict = if s.leaks > 0 {
            Verdict::Leak.as_str()
        } else if s.insufficient < s.series {
            Verdict::NoLeak.as_str()
        } else {
            Verdict::Insufficient.as_str()
        };
        if let Some(path) = &self.opts.plot {
            let views: Vec<_> = self
                .series
                .iter()
                .zip(&analyses)
                .map(|(s, (_, a))| (s, a))
                .collect();
            crate::rounds::plot::draw(path, &views)
                .map_err(|e| anyhow::anyhow!("--plot {}: {e}", path.display()))?;
            self.summary.plot = Some(path.display().to_string());
        }
        let ci_level = 1.0 - 2.0 * self.opts.trend.alpha;
        match self.opts.format {
            Format::Jsonl => {
                for (series, (_, a)) in self.series.iter().zip(&analyses) {
                    self.sink
                        .json(&verdict_record(series, a, &self.opts.trend))?;
                }
                self.sink.json(&self.summary)?;
            }
            Format::Csv => {
                self.sink.flush()?;
                for (series, (_, a)) in self.series.iter().zip(&analyses) {
                    writeln!(err, "rss-rounds: {}", verdict_line(series, a, ci_level))?;
                }
                writeln!(err, "rss-rounds: {}", summary_line(&self.summary))?;
            }
            Format::Text => {
                for (series, (_, a)) in self.series.iter().zip(&analyses) {
                    self.sink.text(&text_verdict(series, a, &self.opts.trend))?;
                }
                self.sink
                    .text(&format!("{}\n", summary_line(&self.summary)))?;
            }
        }
        self.sink.flush()?;
        let findings = self.summary.leaks > 0
            || (self.opts.strict && self.summary.insufficient > 0)
            || (self.opts.strict && self.summary.series == 0);
        Ok(Report {
            summary: self.summary,
            analyses,
            findings,
        })
    }
}

fn count(analyses: &[(String, Analysis)], v: Verdict) -> usize {
    analyses.iter().filter(|(_, a)| a.verdict == v).count()
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Builds the verdict record of one series.
pub fn verdict_record<'a>(s: &'a Series, a: &'a Analysis, cfg: &Config) -> VerdictRecord<'a> {
    let mk = a.mann_kendall;
    VerdictRecord {
        kind_tag: "verdict",
        series: &s.name,
        kind: s.kind.as_str(),
        unit: &s.unit,
        verdict: a.verdict.as_str(),
        reason: &a.reason,
        statement: statement(s, a, cfg),
        baseline: s.baseline,
        baseline_source: s.baseline_source.as_deref(),
        points: a.points,
        warmup_points: a.warmup_points,
        judged_points: a.judged_points,
        bins: a.bins,
        first_round: a.first_round,
        last_round: a.last_round,
        growth_per_round: a.growth_per_round,
        growth_per_1000: a.growth_per_round.map(|g| g * 1000.0),
        ci_low: a.ci_low,
        ci_high: a.ci_high,
        ci_level: 1.0 - 2.0 * cfg.alpha,
        growth_total: a.growth_total,
        growth_pct: a.growth_pct,
        late_growth_per_round: a.late_growth_per_round,
        mk_s: mk.map(|m| m.s),
        kendall_tau: mk.map(|m| m.tau),
        mk_z: mk.map(|m| m.z),
        mk_p: mk.map(|m| m.p),
        batch_p: a.batch_p,
        p_value: a.p_value,
        autocorrelation_factor: mk.map(|m| m.autocorrelation_factor),
        step_round: a.step.map(|st| st.round),
        step_height: a.step.map(|st| st.height),
        legacy_half_pct: a.legacy_half_pct,
        legacy_leak: a.legacy_half_pct.map(|p| p > 2.0),
    }
}

fn per_round_unit(unit: &str) -> String {
    if unit.is_empty() {
        "per round".to_string()
    } else {
        format!("{unit}/round")
    }
}

/// The confidence statement: what the interval says, in words.
pub fn statement(s: &Series, a: &Analysis, cfg: &Config) -> String {
    let conf = fmt_num((1.0 - cfg.alpha) * 100.0);
    let unit = per_round_unit(&s.unit);
    match (a.verdict, a.ci_low, a.ci_high, a.p_value) {
        (Verdict::Insufficient, ..) => "too few points to say anything".to_string(),
        (Verdict::Leak, Some(low), _, _) if low > 0.0 => {
            format!("with {conf}% confidence it grows by at least {} {unit}", fmt_num(low))
        }
        // A level that moves in a few steps makes most pairwise slopes exactly 0, so Sen's
        // interval can reach 0 although the rank test is sure of the rise.
        (Verdict::Leak, _, _, Some(p)) => format!(
            "with {conf}% confidence it grows ({}), by about {} {unit}; it moves in steps, so the slope's interval reaches 0",
            fmt_p(p),
            fmt_num(a.growth_per_round.unwrap_or(0.0))
        ),
        (Verdict::NoLeak, Some(_), Some(high), Some(p)) if p >= cfg.alpha => format!(
            "no upward trend at {conf}% confidence ({}); with {conf}% confidence it grows by at most {} {unit}",
            fmt_p(p),
            fmt_num(high.max(0.0))
        ),
        (Verdict::NoLeak, Some(low), Some(high), _) => format!(
            "with {}% confidence it grows by {} to {} {unit}, which the rules do not call a leak",
            fmt_num((1.0 - 2.0 * cfg.alpha) * 100.0),
            fmt_num(low),
            fmt_num(high)
        ),
        _ => "no trend to speak of".to_string(),
    }
}

fn baseline_text(s: &Series) -> String {
    match &s.baseline_source {
        Some(src) => format!(
            "; baseline {} {} from {src}",
            fmt_num(s.baseline),
            per_round_unit(&s.unit)
        ),
        None => String::new(),
    }
}

fn growth_text(s: &Series, a: &Analysis, ci_level: f64) -> String {
    let unit = if s.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", s.unit)
    };
    match (a.growth_per_round, a.ci_low, a.ci_high) {
        (Some(g), Some(lo), Some(hi)) => format!(
            "{}{unit}/round ({} per 1000 rounds; {}% interval {} to {})",
            signed(g),
            signed(g * 1000.0),
            fmt_num(ci_level * 100.0),
            fmt_num(lo),
            fmt_num(hi)
        ),
        _ => "no estimate".to_string(),
    }
}

fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", fmt_num(v))
    } else {
        fmt_num(v)
    }
}

/// One line per series, for stderr in CSV mode.
pub fn verdict_line(s: &Series, a: &Analysis, ci_level: f64) -> String {
    format!(
        "{} ({}): {}: {}; {}{}",
        s.name,
        s.kind.as_str(),
        a.verdict.as_str().replace('_', " "),
        a.reason,
        growth_text(s, a, ci_level),
        baseline_text(s)
    )
}

/// The verdict of one series for a person.
pub fn text_verdict(s: &Series, a: &Analysis, cfg: &Config) -> String {
    let head = match a.verdict {
        Verdict::Leak => "LEAK",
        Verdict::NoLeak => "no leak",
        Verdict::Insufficient => "insufficient",
    };
    let unit = if s.unit.is_empty() {
        String::new()
    } else {
        format!(", {}", s.unit)
    };
    let mut t = format!(
        "{} ({}{unit}): {head}\n  {}\n",
        s.name,
        s.kind.as_str(),
        a.reason
    );
    if a.verdict != Verdict::Insufficient {
        t.push_str(&format!(
            "  growth {}\n",
            growth_text(s, a, 1.0 - 2.0 * cfg.alpha)
        ));
        let mut detail = format!(
            "  judged {} of {} points ({} warm-up",
            a.judged_points, a.points, a.warmup_points
        );
        if let (Some(lo), Some(hi)) = (a.first_round, a.last_round) {
            detail.push_str(&format!(", rounds {} to {}", fmt_num(lo), fmt_num(hi)));
        }
        detail.push(')');
        detail.push_str(&baseline_text(s));
        if let Some(pct) = a.legacy_half_pct {
            detail.push_str(&format!(
                "; legacy half-point {}{}%{}",
                if pct > 0.0 { "+" } else { "" },
                fmt_num(pct),
                if pct > 2.0 {
                    " (legacy: leak)"
                } else {
                    " (legacy: no leak)"
                }
            ));
        }
        t.push_str(&detail);
        t.push('\n');
    }
    t.push_str(&format!("  {}\n", statement(s, a, cfg)));
    t
}

/// The summary as one line.
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{}: {} of {} series leaking",
        s.verdict.replace('_', " "),
        s.leaks,
        s.series
    );
    if s.insufficient > 0 {
        line.push_str(&format!(", {} with too few points", s.insufficient));
    }
    line.push_str(&format!("; {} values", s.values));
    if s.lines > 0 {
        line.push_str(&format!(
            " from {} lines ({} unmatched",
            s.lines, s.unmatched
        ));
        if s.long_lines > 0 {
            line.push_str(&format!(", {} cut at 1 MiB", s.long_lines));
        }
        line.push(')');
    }
    if s.dropped_values > 0 {
        line.push_str(&format!(
            "; {} values dropped over the caps ({MAX_SERIES} series, {MAX_POINTS} points)",
            s.dropped_values
        ));
    }
    if let Some(c) = &s.command {
        match (c.exit_code, c.signal) {
            (Some(code), _) => line.push_str(&format!("; command exited with {code}")),
            (None, Some(sig)) => line.push_str(&format!("; command killed by signal {sig}")),
            _ => {}
        }
    }
    if let Some(p) = &s.plot {
        line.push_str(&format!("; plot in {p}"));
    }
    line
}

/// Reads a baseline file: each series' per-round growth in a clean run, judged by the same
/// rules (warm-up discarded, Theil–Sen).
pub fn baselines_from_file(
    name: &str,
    reader: impl BufRead,
    patterns: &[Pattern],
    cfg: &Config,
) -> Result<Vec<Baseline>, Error> {
    let opts = Options {
        format: Format::Text,
        patterns: patterns.to_vec(),
        trend: cfg.clone(),
        ..Options::default()
    };
    let mut f = Filter::new(opts, Sink::new(io::sink(), false));
    // Nothing is written to io::sink() that can fail: only the read can.
    f.read(name, reader)
        .map_err(|e| match e.downcast::<Error>() {
            Ok(e) => e,
            Err(e) => Error::at(name, None, e.to_string()),
        })?;
    let out: Vec<Baseline> = f
        .analyze()
        .into_iter()
        .filter_map(|(series, a)| {
            a.growth_per_round.map(|per_round| Baseline::Series {
                series,
                per_round,
                source: name.to_string(),
            })
        })
        .collect();
    if out.is_empty() {
        return Err(Error::at(
            name,
            None,
            format!(
                "no series with at least {} points after warm-up to take a baseline from",
                cfg.min_points
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str, opts: Options) -> (String, String, Report) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let report = {
            let mut f = Filter::new(opts, Sink::new(&mut out, false));
            f.read("<test>", input.as_bytes()).unwrap();
            f.finish(None, &mut err).unwrap()
        };
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            report,
        )
    }

    fn refs(values: &[i64]) -> String {
        values
            .iter()
            .map(|v| format!("References: {v}\n"))
            .collect()
    }

    #[test]
    fn csv_rows_carry_net_values() {
        let input = "noise\nReferences: 3\nReferences: 2\nRound 0 Max RSS: 41.5\n";
        let opts = Options {
            baselines: vec![Baseline::AllDeltas(2.0)],
            ..Options::default()
        };
        let (out, err, report) = run(input, opts);
        assert_eq!(
            out,
            "round,series,value,net_value\n0,references,3,1\n1,references,2,0\n0,max_rss_mib,41.5,41.5\n"
        );
        assert_eq!(report.summary.unmatched, 1);
        assert_eq!(report.summary.values, 3);
        assert!(err.contains("references (delta): insufficient"), "{err}");
        assert!(!report.findings);
    }

    #[test]
    fn constant_references_are_noise_with_a_baseline_and_a_leak_without() {
        let input = refs(&[2; 300]);
        let (_, _, leak) = run(&input, Options::default());
        assert!(leak.findings);
        let opts = Options {
            baselines: vec![Baseline::AllDeltas(2.0)],
            ..Options::default()
        };
        let (_, _, clean) = run(&input, opts);
        assert!(!clean.findings);
        assert_eq!(clean.summary.verdict, "no_leak");
    }

    #[test]
    fn jsonl_ends_with_verdicts_and_a_summary() {
        let input = refs(&[3; 50]);
        let opts = Options {
            format: Format::Jsonl,
            baselines: vec![Baseline::AllDeltas(2.0)],
            ..Options::default()
        };
        let (out, _, report) = run(&input, opts);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 52);
        assert_eq!(lines[0]["type"], "round");
        assert_eq!(lines[0]["net_value"], 1.0);
        assert_eq!(lines[50]["type"], "verdict");
        assert_eq!(lines[50]["verdict"], "leak");
        assert_eq!(lines[50]["growth_per_round"], 1.0);
        assert_eq!(lines[51]["type"], "summary");
        assert_eq!(lines[51]["tool"], "rss-rounds");
        assert_eq!(lines[51]["schema"], 2);
        assert!(report.findings);
    }

    #[test]
    fn empty_input_still_gets_a_summary() {
        let opts = Options {
            format: Format::Jsonl,
            ..Options::default()
        };
        let (out, _, report) = run("", opts.clone());
        assert_eq!(out.lines().count(), 1);
        assert!(out.contains(r#""verdict":"insufficient""#));
        assert!(!report.findings);
        let strict = Options {
            strict: true,
            ..opts
        };
        assert!(run("", strict).2.findings);
    }

    #[test]
    fn selection_ignores_other_series() {
        let input = format!("{}Round 1 Max RSS: 40\n", refs(&[2; 20]));
        let opts = Options {
            select: vec!["max_rss_mib".into()],
            format: Format::Text,
            ..Options::default()
        };
        let (out, _, report) = run(&input, opts);
        assert_eq!(report.summary.ignored, 20);
        assert_eq!(report.analyses.len(), 1);
        assert!(
            out.starts_with("max_rss_mib (level, MiB): insufficient"),
            "{out}"
        );
    }

    #[test]
    fn baseline_files_give_each_series_its_growth() {
        let clean = refs(&[5; 100]);
        let b =
            baselines_from_file("clean.log", clean.as_bytes(), &[], &Config::default()).unwrap();
        assert_eq!(
            b,
            vec![Baseline::Series {
                series: "references".into(),
                per_round: 5.0,
                source: "clean.log".into()
            }]
        );
        let err =
            baselines_from_file("x.log", &b"nothing\n"[..], &[], &Config::default()).unwrap_err();
        assert!(err.to_string().starts_with("x.log: no series"), "{err}");
    }

    #[test]
    fn csv_names_are_quoted_when_needed() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("refs"), "refs");
    }

    /// The caps on what is kept: series, name length and points. Values past them are
    /// counted, not written, and the lines still add up.
    #[test]
    fn caps_drop_and_count_values() {
        let mut input = String::new();
        for i in 0..MAX_SERIES + 3 {
            input.push_str(&format!("1,s{i},1,\n"));
        }
        input.push_str(&format!("1,{},1,\n", "n".repeat(MAX_NAME + 1)));
        input.push_str("round,series,value,net_value\n");
        let (out, _, report) = run(&input, Options::default());
        let s = &report.summary;
        assert_eq!(s.dropped_values, 4);
        assert_eq!(report.analyses.len(), MAX_SERIES);
        assert_eq!(out.lines().count(), MAX_SERIES + 1);
        assert_eq!((s.own_lines, s.unmatched), (1, 0));
        assert_eq!(s.lines, s.values + s.unmatched + s.own_lines);
        assert!(
            summary_line(s).contains("4 values dropped over the caps"),
            "{}",
            summary_line(s)
        );

        let mut out = Vec::new();
        let mut f = Filter::new(Options::default(), Sink::new(&mut out, false));
        f.max_points = 10;
        f.read("<test>", refs(&[1; 25]).as_bytes()).unwrap();
        let report = f.finish(None, &mut Vec::new()).unwrap();
        assert_eq!(report.summary.dropped_values, 15);
        assert_eq!(report.summary.values, 25);
        assert_eq!(report.analyses[0].1.points, 10);
    }
}
