//! `rss-rounds`: rounds of RSS and reference counts in, a leak verdict per series out.
//!
//! The filter reads lines ([`crate::rounds::lines`] says which), keeps each series' rounds and
//! values ([`Series`]: 16 bytes a point; nothing else grows with the input), hands a
//! `round` record per value to the printer as it is read, and at the end judges every
//! series with [`crate::rounds::trend`] and hands over the verdicts and the summary
//! ([`crate::rounds::records`]). It never knows the output format: that is the printer's
//! ([`crate::rounds::print`]). [`crate::rounds::watch`] and [`crate::rounds::harness`] feed
//! the same filter from a command they run.
//!
//! Memory is bounded whatever the input: lines are cut at [`MAX_LINE`], at most
//! [`MAX_SERIES`] series with names of at most [`MAX_NAME`] bytes are kept, and at most
//! [`MAX_POINTS`] points in all (128 MiB). Values beyond these caps are counted
//! (`dropped_values`), neither written nor judged.

use crate::cli::NoProject;
use crate::input::{read_line_capped, Content, MAX_LINE};
use crate::output::Printer;
use crate::rounds::lines::{self, Line, Pattern};
use crate::rounds::massif;
use crate::rounds::print::Discard;
use crate::rounds::records::{CommandStatus, Record, Round, Site, SiteFrame, Summary};
pub use crate::rounds::series::{Baseline, Series};
use crate::rounds::trend::{self, Analysis, Config, Kind, SeriesRef, Verdict};
use crate::Error;
use std::collections::HashMap;
use std::io::{self, BufRead};
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

/// Longest piece of an unrecognised line quoted in the hint, in characters.
const HINT_SAMPLE: usize = 60;

/// Everything the filter is told.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--pattern`s, tried before the built-in formats.
    pub patterns: Vec<Pattern>,
    /// Judge only these series (empty: all).
    pub select: Vec<String>,
    /// Baselines.
    pub baselines: Vec<Baseline>,
    /// The thresholds of the test.
    pub trend: Config,
    /// Draw the series here (`.svg` or `.png`).
    pub plot: Option<PathBuf>,
    /// Which frames of Massif's trees are the project's (`--project`, `--root`; without
    /// `--project`, those under the root).
    pub project: crate::cli::ProjectArgs,
}

/// What the input being read gave so far, for the hint when it gave nothing.
#[derive(Debug, Default)]
struct ThisInput {
    name: String,
    lines: u64,
    /// Values and own records (anything rss-rounds recognised as its input).
    recognised: u64,
    /// The first line that was noise and not blank, as text.
    sample: Option<String>,
    /// Whether it looked like `ms_print`'s report rather than Massif's file.
    ms_print: bool,
}

/// The Massif file read (one per run: its snapshot numbers are the rounds).
#[derive(Debug)]
struct MassifRun {
    input: String,
    reader: massif::Reader,
    /// Whether Massif measured stacks (`--stacks=yes` in its `desc:` line).
    stacks: bool,
}

/// The filter's state.
pub struct Filter {
    opts: Options,
    series: Vec<Series>,
    index: HashMap<String, usize>,
    /// Points kept over all series.
    points: usize,
    /// [`MAX_POINTS`], lowered by the tests.
    max_points: usize,
    summary: Summary,
    /// The record of the value being written, reused so that a value costs no allocation.
    row: Round,
    /// A line passed on, with its newline.
    passed: Vec<u8>,
    this_input: ThisInput,
    massif: Option<MassifRun>,
    /// `site` records read back from a saved report, written again at the end.
    sites_read: Vec<Site>,
}

impl Filter {
    /// A filter told `opts`.
    pub fn new(opts: Options) -> Self {
        Filter {
            opts,
            series: Vec::new(),
            index: HashMap::new(),
            points: 0,
            max_points: MAX_POINTS,
            summary: Summary::default(),
            row: Round::default(),
            passed: Vec::new(),
            this_input: ThisInput::default(),
            massif: None,
            sites_read: Vec::new(),
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

    /// Reads one input line by line, handing records to `out`. An input that is an
    /// executable or binary data is refused before any of it is read; otherwise only a
    /// failing read (naming the input and line) or a failing write is an error: any content
    /// is values or counted lines.
    pub fn read<R: BufRead>(
        &mut self,
        input: &str,
        mut reader: R,
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        self.summary.inputs += 1;
        self.this_input = ThisInput {
            name: input.to_string(),
            ..ThisInput::default()
        };
        if refuse_unreadable(input, &mut reader)? {
            return self.read_massif(input, reader, out);
        }
        let mut buf = Vec::new();
        let mut lineno = 0u64;
        loop {
            let cut = match read_line_capped(&mut reader, &mut buf, MAX_LINE) {
                Ok(Some(cut)) => cut,
                Ok(None) => return Ok(()),
                Err(e) => return Err(Error::at(input, Some(lineno + 1), e.to_string())),
            };
            lineno += 1;
            if cut {
                // A cut line's value would be a guess: count it and pass over it.
                self.summary.lines += 1;
                self.summary.long_lines += 1;
                self.summary.unmatched += 1;
                self.this_input.lines += 1;
                self.noise(&buf);
                continue;
            }
            self.line(&buf, out)?;
        }
    }

    /// Reads a Massif file: each snapshot's values become the heap series (round: the
    /// snapshot's number), each detailed snapshot's tree goes to the sites, judged at the end.
    fn read_massif<R: BufRead>(
        &mut self,
        input: &str,
        mut reader: R,
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        if let Some(first) = &self.massif {
            return Err(Error::at(
                input,
                None,
                format!(
                    "a second Massif file (after {}): give rss-rounds one Massif file per run, \
                     as its snapshot numbers are the rounds",
                    first.input
                ),
            ));
        }
        let mut run = MassifRun {
            input: input.to_string(),
            reader: massif::Reader::default(),
            stacks: false,
        };
        let mut buf = Vec::new();
        let mut lineno = 0u64;
        let result = loop {
            let cut = match read_line_capped(&mut reader, &mut buf, MAX_LINE) {
                Ok(Some(cut)) => cut,
                Ok(None) => break Ok(()),
                Err(e) => break Err(Error::at(input, Some(lineno + 1), e.to_string())),
            };
            lineno += 1;
            self.summary.lines += 1;
            self.this_input.lines += 1;
            if lineno == 1 {
                const STACKS: &[u8] = b"--stacks=yes";
                run.stacks = buf.windows(STACKS.len()).any(|w| w == STACKS);
            }
            let step = if cut {
                self.summary.long_lines += 1;
                massif::Step::Unmatched
            } else {
                run.reader.line(&buf)
            };
            match step {
                massif::Step::Unmatched => {
                    self.summary.unmatched += 1;
                    self.noise(&buf);
                }
                massif::Step::Read => {
                    self.summary.massif_lines += 1;
                    self.this_input.recognised += 1;
                }
                massif::Step::Snapshot(snapshot) => {
                    self.summary.massif_lines += 1;
                    self.this_input.recognised += 1;
                    if let Err(e) = self.snapshot(&snapshot, run.stacks, out) {
                        break Err(e);
                    }
                }
            }
        };
        if let Some(snapshot) = run.reader.finish() {
            self.snapshot(&snapshot, run.stacks, out)?;
        }
        self.summary.snapshots += run.reader.snapshots;
        self.summary.dropped_values += run.reader.sites.dropped;
        self.massif = Some(run);
        result
    }

    /// One Massif snapshot's values.
    fn snapshot(
        &mut self,
        s: &massif::Snapshot,
        stacks: bool,
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        let values = [
            (massif::HEAP, Some(s.heap)),
            (massif::EXTRA, s.extra),
            (massif::STACKS, s.stacks.filter(|_| stacks)),
        ];
        for (name, value) in values {
            if let Some(v) = value {
                self.summary.massif_values += 1;
                self.observe(name, Kind::Level, "B", Some(s.n), v as f64, out)?;
            }
        }
        Ok(())
    }

    /// The Massif file's growing sites: each (up to [`massif::MAX_SITES`]) becomes a series,
    /// whose values are written now, and a `site` record.
    fn sites(&mut self, out: &mut dyn Printer<Record>) -> Result<Vec<Site>, Error> {
        let Some(run) = self.massif.take() else {
            return Ok(Vec::new());
        };
        let mut project = self.opts.project.project(NoProject::UnderRoot)?;
        let (growing, _) = run.reader.sites.growing(&self.opts.trend, &mut project);
        self.summary.sites = growing.len() as u64;
        let mut records = Vec::new();
        for g in growing.into_iter().take(massif::MAX_SITES) {
            for &(round, bytes) in &g.points {
                self.summary.massif_values += 1;
                self.observe(&g.series, Kind::Level, "B", Some(round), bytes as f64, out)?;
            }
            records.push(Site {
                series: g.series,
                input: run.input.clone(),
                bytes: g.points.last().map_or(0, |p| p.1),
                growth_per_round: g.growth_per_round,
                stacks: g.stacks,
                site_frame: g.site_frame,
                frames: g
                    .frames
                    .into_iter()
                    .map(|(frame, class)| SiteFrame { frame, class })
                    .collect(),
            });
        }
        Ok(records)
    }

    /// A one-line hint when the last input read had lines but rss-rounds recognised none of
    /// them (no value, none of its own records): what it expected and what it saw. Records
    /// of other tools alone are a pipeline passing through, and get none.
    pub fn unrecognised(&self) -> Option<String> {
        let t = &self.this_input;
        let sample = t.sample.as_ref()?;
        if t.recognised > 0 {
            return None;
        }
        if t.ms_print {
            return Some(format!(
                "{}: this is ms_print's report; give rss-rounds the massif.out file that \
                 ms_print read",
                t.name
            ));
        }
        let lines = match t.lines {
            1 => "its line is not a round line".to_string(),
            n => format!("none of its {n} lines is a round line"),
        };
        Some(format!(
            "{}: {lines}; expected `Round N Max RSS: X`, `References: N` or a line a \
             --pattern matches, and the first was {sample}",
            t.name,
        ))
    }

    /// Keeps the first noise line of the input, for [`Filter::unrecognised`].
    fn noise(&mut self, line: &[u8]) {
        if line.starts_with(b"Massif arguments:") || line.starts_with(b"ms_print arguments:") {
            self.this_input.ms_print = true;
        }
        if self.this_input.sample.is_some() || line.trim_ascii().is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let mut sample: String = text.trim().chars().take(HINT_SAMPLE).collect();
        if text.trim().chars().nth(HINT_SAMPLE).is_some() {
            sample.push('…');
        }
        // Quoted and escaped: the hint stays one line whatever the input holds.
        self.this_input.sample = Some(format!("{sample:?}"));
    }

    /// Takes one line of text (without its newline).
    pub fn line(&mut self, line: &[u8], out: &mut dyn Printer<Record>) -> Result<(), Error> {
        self.summary.lines += 1;
        self.this_input.lines += 1;
        // The patterns are lent out for the line, so that what they matched can be
        // borrowed while the series are updated.
        let patterns = std::mem::take(&mut self.opts.patterns);
        let result = self.parsed_line(line, &patterns, out);
        self.opts.patterns = patterns;
        result
    }

    fn parsed_line(
        &mut self,
        line: &[u8],
        patterns: &[Pattern],
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        match lines::parse_line(line, patterns) {
            Line::Value(parsed) => {
                self.this_input.recognised += 1;
                let (kind, unit) = kind_and_unit(&parsed.series, parsed.kind, None);
                let unit = parsed.unit.as_deref().unwrap_or(unit);
                self.observe(&parsed.series, kind, unit, parsed.round, parsed.value, out)
            }
            Line::Baseline(b) => {
                self.this_input.recognised += 1;
                self.summary.own_lines += 1;
                let (kind, unit) = kind_and_unit(&b.series, b.kind, b.unit.as_deref());
                self.measured_baseline(&b.series, kind, unit, b.per_round, &b.source, out)
            }
            Line::Own => {
                self.this_input.recognised += 1;
                self.summary.own_lines += 1;
                Ok(())
            }
            Line::Site(site) => {
                self.this_input.recognised += 1;
                self.summary.own_lines += 1;
                self.sites_read.push(*site);
                Ok(())
            }
            Line::Foreign => {
                self.summary.foreign_records += 1;
                self.passed.clear();
                self.passed.extend_from_slice(line);
                self.passed.push(b'\n');
                out.passthrough(&self.passed)?;
                Ok(())
            }
            Line::Other => {
                self.summary.unmatched += 1;
                self.noise(line);
                Ok(())
            }
        }
    }

    /// Whether a series is judged (`--series`).
    pub fn selected(&self, name: &str) -> bool {
        self.opts.select.is_empty() || self.opts.select.iter().any(|s| s == name)
    }

    /// The series named `name`, created with this kind and unit (and the command line's
    /// baseline for it, whose record is written) when it is new; `None` when a cap keeps it
    /// out.
    fn series_index(
        &mut self,
        name: &str,
        kind: Kind,
        unit: &str,
        out: &mut dyn Printer<Record>,
    ) -> Result<Option<usize>, Error> {
        if let Some(&i) = self.index.get(name) {
            return Ok(Some(i));
        }
        if self.series.len() >= MAX_SERIES || name.len() > MAX_NAME {
            return Ok(None);
        }
        let series = Series::new(name, kind, unit, &self.opts.baselines);
        if let Some(b) = series.baseline_record() {
            out.record(&Record::Baseline(b))?;
        }
        self.series.push(series);
        self.index.insert(name.to_string(), self.series.len() - 1);
        Ok(Some(self.series.len() - 1))
    }

    /// Adds one value to a series (creating it with this kind and unit), and writes its
    /// record.
    pub fn observe(
        &mut self,
        name: &str,
        kind: Kind,
        unit: &str,
        round: Option<u64>,
        value: f64,
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        self.summary.values += 1;
        if !self.selected(name) {
            self.summary.ignored += 1;
            return Ok(());
        }
        let Some(i) = self.series_index(name, kind, unit, out)? else {
            self.summary.dropped_values += 1;
            return Ok(());
        };
        if self.points >= self.max_points {
            self.summary.dropped_values += 1;
            return Ok(());
        }
        self.points += 1;
        self.series[i].push(round, value, &mut self.row);
        let record = Record::Round(std::mem::take(&mut self.row));
        let written = out.record(&record);
        // The row goes back, its strings' room with it, for the next value.
        if let Record::Round(row) = record {
            self.row = row;
        }
        Ok(written?)
    }

    /// Sets a series' baseline from a measurement (the harness's noise rounds, or a
    /// `baseline` record read back), unless the command line gave one or the series has
    /// values already, and writes its `baseline` record when it is set.
    pub fn measured_baseline(
        &mut self,
        name: &str,
        kind: Kind,
        unit: &str,
        per_round: f64,
        source: &str,
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        if !self.selected(name) {
            return Ok(());
        }
        // The harness names a few series of its own; the cap is for names from data.
        let Some(i) = self.series_index(name, kind, unit, out)? else {
            return Ok(());
        };
        let s = &mut self.series[i];
        if s.baseline_source.is_none() && s.values.is_empty() {
            s.baseline = per_round;
            s.baseline_source = Some(source.to_string());
            if let Some(b) = s.baseline_record() {
                out.record(&Record::Baseline(b))?;
            }
        }
        Ok(())
    }

    /// Records how the command that `watch` or `run` ran ended, for the summary.
    pub fn set_command(&mut self, status: CommandStatus) {
        self.summary.command = Some(status);
    }

    /// Judges every series without writing anything.
    pub fn analyze(&self) -> Vec<(String, Analysis)> {
        self.series
            .iter()
            .map(|s| (s.name.clone(), trend::analyze(s.as_ref(), &self.opts.trend)))
            .collect()
    }

    /// Judges every series, draws the plot, hands the verdicts and the summary to `out`,
    /// and ends the output ([`Printer::finish`]). Returns the summary.
    pub fn finish(mut self, out: &mut dyn Printer<Record>) -> Result<Summary, Error> {
        let mut sites = self.sites(out)?;
        sites.append(&mut self.sites_read);
        for site in sites {
            out.record(&Record::Site(Box::new(site)))?;
        }
        let analyses = self.analyze();
        let count = |v: Verdict| analyses.iter().filter(|(_, a)| a.verdict == v).count();
        let s = &mut self.summary;
        s.series = analyses.len();
        s.leaks = count(Verdict::Leak);
        s.insufficient = count(Verdict::Insufficient);
        s.verdict = if s.leaks > 0 {
            Verdict::Leak
        } else if s.insufficient < s.series {
            Verdict::NoLeak
        } else {
            Verdict::Insufficient
        };
        if let Some(path) = &self.opts.plot {
            let views: Vec<_> = self
                .series
                .iter()
                .zip(&analyses)
                .map(|(s, (_, a))| (s, a))
                .collect();
            crate::rounds::plot::draw(path, &views)?;
            self.summary.plot = Some(path.display().to_string());
        }
        for (series, (_, a)) in self.series.iter().zip(&analyses) {
            out.record(&Record::Verdict(Box::new(
                series.verdict(a, &self.opts.trend),
            )))?;
        }
        out.record(&Record::Summary(self.summary.clone()))?;
        out.finish()?;
        Ok(self.summary)
    }
}

/// A series' kind and unit: what the line says, else what rss-rounds knows of the name,
/// else a level without a unit.
fn kind_and_unit<'a>(series: &str, kind: Option<Kind>, unit: Option<&'a str>) -> (Kind, &'a str) {
    let known = lines::known(series);
    let kind = kind.or(known.map(|k| k.0)).unwrap_or(Kind::Level);
    let unit = unit.or(known.map(|k| k.1)).unwrap_or("");
    (kind, unit)
}

/// Refuses an input that no round line can come from: an executable or binary data, told
/// from its first bytes (which stay in the reader's buffer). True when it is a Massif file.
fn refuse_unreadable<R: BufRead>(input: &str, reader: &mut R) -> Result<bool, Error> {
    let head = loop {
        match reader.fill_buf() {
            Ok(head) => break head,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::at(input, Some(1), e.to_string())),
        }
    };
    match Content::of(head) {
        // rss-rounds has no --project, which `Content::refuse` suggests for the mistake
        // other tools invite.
        Content::Elf => Err(Error::at(
            input,
            None,
            "is an executable or shared object, not a log of rounds",
        )),
        _ if massif::is_massif(head) => Ok(true),
        content => content.refuse(input).map_or(Ok(false), Err),
    }
}

/// Reads a baseline file: each series' per-round growth in a clean run, judged by the same
/// rules (warm-up discarded, Theil–Sen) on its raw values (a `baseline` record in the file,
/// which a saved report of the harness has, is the clean run's own noise, not part of its
/// growth).
pub fn baselines_from_file(
    name: &str,
    reader: impl BufRead,
    patterns: &[Pattern],
    cfg: &Config,
) -> Result<Vec<Baseline>, Error> {
    let opts = Options {
        patterns: patterns.to_vec(),
        trend: cfg.clone(),
        ..Options::default()
    };
    let mut f = Filter::new(opts);
    f.read(name, reader, &mut Discard)?;
    let out: Vec<Baseline> = f
        .series
        .iter()
        .filter_map(|s| {
            let raw = SeriesRef {
                baseline: 0.0,
                ..s.as_ref()
            };
            trend::analyze(raw, cfg)
                .growth_per_round
                .map(|per_round| Baseline::Series {
                    series: s.name.clone(),
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
    use crate::output::{Csv, JsonLines, Sink};
    use crate::rounds::print::{Collect, Text};
    use crate::rounds::records;

    /// Runs the filter on `input` into the records.
    fn run(input: &str, opts: Options) -> (Vec<Record>, Summary) {
        let mut out = Collect::default();
        let mut f = Filter::new(opts);
        f.read("<test>", input.as_bytes(), &mut out).unwrap();
        let summary = f.finish(&mut out).unwrap();
        (out.records, summary)
    }

    fn verdicts(records: &[Record]) -> Vec<&records::Verdict> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Verdict(v) => Some(v.as_ref()),
                _ => None,
            })
            .collect()
    }

    fn refs(values: &[i64]) -> String {
        values
            .iter()
            .map(|v| format!("References: {v}\n"))
            .collect()
    }

    /// The CSV through the shared printer, and its notes.
    fn csv(input: &str, opts: Options) -> (String, String) {
        #[derive(Clone, Default)]
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl io::Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut rows = Vec::new();
        let notes = Shared::default();
        {
            let mut out = Csv::new(Sink::new(&mut rows, false), Box::new(notes.clone()), false);
            let mut f = Filter::new(opts);
            f.read("<test>", input.as_bytes(), &mut out).unwrap();
            f.finish(&mut out).unwrap();
        }
        let notes = notes.0.lock().unwrap().clone();
        (
            String::from_utf8(rows).unwrap(),
            String::from_utf8(notes).unwrap(),
        )
    }

    #[test]
    fn csv_rows_carry_net_values() {
        let input = "noise\nReferences: 3\nReferences: 2\nRound 0 Max RSS: 41.5\n";
        let opts = Options {
            baselines: vec![Baseline::AllDeltas(2.0)],
            ..Options::default()
        };
        let (out, notes) = csv(input, opts.clone());
        assert_eq!(
            out,
            "round,series,value,net_value\n0,references,3,1\n1,references,2,0\n0,max_rss_mib,41.5,41.5\n"
        );
        assert!(
            notes.starts_with("rss-rounds: references (delta): insufficient"),
            "{notes}"
        );
        assert!(
            notes.ends_with(
                "\nrss-rounds: insufficient: 0 of 2 series leaking, 2 with too few points; 3 \
                 values from 4 lines (1 unmatched)\n"
            ),
            "{notes}"
        );
        let (_, summary) = run(input, opts);
        assert_eq!((summary.unmatched, summary.values), (1, 3));
        assert!(!summary.findings(false));
    }

    #[test]
    fn csv_quotes_names_through_the_csv_crate() {
        let p = Pattern::new(r"(?P<series>[^=]+)=(?P<value>\d+)", "p", Kind::Level, None).unwrap();
        let opts = Options {
            patterns: vec![p],
            ..Options::default()
        };
        let (out, _) = csv("a,\"b\"=3\n", opts);
        assert_eq!(out, "round,series,value,net_value\n0,\"a,\"\"b\"\"\",3,3\n");
    }

    #[test]
    fn constant_references_are_noise_with_a_baseline_and_a_leak_without() {
        let input = refs(&[2; 300]);
        let (_, leak) = run(&input, Options::default());
        assert!(leak.findings(false));
        let opts = Options {
            baselines: vec![Baseline::AllDeltas(2.0)],
            ..Options::default()
        };
        let (_, clean) = run(&input, opts);
        assert!(!clean.findings(false));
        assert_eq!(clean.verdict, Verdict::NoLeak);
    }

    #[test]
    fn jsonl_ends_with_verdicts_and_a_summary() {
        let input = refs(&[3; 50]);
        let opts = Options {
            baselines: vec![Baseline::AllDeltas(2.0)],
            ..Options::default()
        };
        let mut out = Vec::new();
        let summary = {
            let mut p = JsonLines::new(Sink::new(&mut out, false));
            let mut f = Filter::new(opts);
            f.read("<test>", input.as_bytes(), &mut p).unwrap();
            f.finish(&mut p).unwrap()
        };
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 53);
        // The baseline comes before the series' first value.
        assert_eq!(lines[0]["type"], "baseline");
        assert_eq!(lines[0]["source"], "--baseline");
        assert_eq!(lines[0]["kind"], "delta");
        assert_eq!(lines[1]["type"], "round");
        assert_eq!(lines[1]["net_value"], 1.0);
        assert_eq!(lines[51]["type"], "verdict");
        assert_eq!(lines[51]["verdict"], "leak");
        assert_eq!(lines[51]["growth_per_round"], 1.0);
        assert_eq!(lines[52]["type"], "summary");
        assert_eq!(lines[52]["tool"], "rss-rounds");
        assert_eq!(lines[52]["schema"], 2);
        assert!(summary.findings(false));
    }

    #[test]
    fn empty_input_still_gets_a_summary() {
        let (records, summary) = run("", Options::default());
        assert_eq!(records.len(), 1);
        assert!(matches!(&records[0], Record::Summary(s) if s.verdict == Verdict::Insufficient));
        assert!(!summary.findings(false));
        assert!(summary.findings(true));
    }

    #[test]
    fn selection_ignores_other_series() {
        let input = format!("{}Round 1 Max RSS: 40\n", refs(&[2; 20]));
        let opts = Options {
            select: vec!["max_rss_mib".into()],
            ..Options::default()
        };
        let mut out = Vec::new();
        let summary = {
            let mut p = Text::new(Sink::new(&mut out, false));
            let mut f = Filter::new(opts);
            f.read("<test>", input.as_bytes(), &mut p).unwrap();
            f.finish(&mut p).unwrap()
        };
        let out = String::from_utf8(out).unwrap();
        assert_eq!(summary.ignored, 20);
        assert_eq!(summary.series, 1);
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

    /// A saved report of the harness carries the harness's noise as `baseline` records:
    /// as a clean run's baseline, the growth is the raw one, noise included.
    #[test]
    fn a_baseline_file_is_judged_on_raw_values() {
        let baseline = r#"{"type":"baseline","series":"refs","kind":"delta","unit":"refs","per_round":5.0,"source":"harness noise"}"#;
        let round = r#"{"type":"round","series":"refs","value":5}"#;
        let report = format!("{baseline}\n{}", format!("{round}\n").repeat(100));
        let b =
            baselines_from_file("clean.jsonl", report.as_bytes(), &[], &Config::default()).unwrap();
        assert_eq!(
            b,
            vec![Baseline::Series {
                series: "refs".into(),
                per_round: 5.0,
                source: "clean.jsonl".into()
            }]
        );
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
        let (records, s) = run(&input, Options::default());
        assert_eq!(s.dropped_values, 4);
        assert_eq!(verdicts(&records).len(), MAX_SERIES);
        let rounds = records
            .iter()
            .filter(|r| matches!(r, Record::Round(_)))
            .count();
        assert_eq!(rounds, MAX_SERIES);
        assert_eq!((s.own_lines, s.unmatched), (1, 0));
        assert_eq!(
            s.lines,
            s.values + s.unmatched + s.own_lines + s.foreign_records
        );
        let line = crate::rounds::words::summary_line(&s);
        assert!(line.contains("4 values dropped over the caps"), "{line}");

        let mut out = Collect::default();
        let mut f = Filter::new(Options::default());
        f.max_points = 10;
        f.read("<test>", refs(&[1; 25]).as_bytes(), &mut out)
            .unwrap();
        assert_eq!(f.series()[0].values.len(), 10);
        let s = f.finish(&mut out).unwrap();
        assert_eq!(s.dropped_values, 15);
        assert_eq!(s.values, 25);
        assert_eq!(verdicts(&out.records)[0].points, 10);
    }

    /// Its own JSON lines read back give the same records: rounds, baselines (the harness's
    /// noise, which the command line did not give this time) and verdicts.
    #[test]
    fn its_own_json_lines_read_back_to_the_same_verdicts() {
        let mut first = Collect::default();
        let mut f = Filter::new(Options::default());
        f.measured_baseline(
            "refs",
            Kind::Delta,
            "refs",
            2.0,
            "harness noise",
            &mut first,
        )
        .unwrap();
        for i in 0..200 {
            let v = if i % 10 == 0 { 3.0 } else { 2.0 };
            f.observe("refs", Kind::Delta, "refs", Some(i), v, &mut first)
                .unwrap();
        }
        let s1 = f.finish(&mut first).unwrap();
        let jsonl: String = first
            .records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        let (again, s2) = run(&jsonl, Options::default());
        let body = |r: &[Record]| r[..r.len() - 1].to_vec();
        assert_eq!(body(&again), body(&first.records));
        assert_eq!((s1.verdict, s1.leaks), (Verdict::Leak, 1));
        assert_eq!((s2.verdict, s2.leaks, s2.values), (s1.verdict, 1, 200));
        assert_eq!(s2.own_lines, 3, "the baseline, the verdict and the summary");
    }

    #[test]
    fn other_tools_records_are_passed_on_and_counted() {
        let input = "{\"type\":\"error\",\"kind\":\"Leak_DefinitelyLost\"}\nReferences: 1\n";
        let mut out = Collect::default();
        let mut f = Filter::new(Options::default());
        f.read("<test>", input.as_bytes(), &mut out).unwrap();
        let s = f.finish(&mut out).unwrap();
        assert_eq!(
            out.passed,
            [b"{\"type\":\"error\",\"kind\":\"Leak_DefinitelyLost\"}\n".to_vec()]
        );
        assert_eq!((s.foreign_records, s.values, s.lines), (1, 1, 2));
    }

    #[test]
    fn an_input_without_a_round_line_gets_a_hint() {
        let mut f = Filter::new(Options::default());
        f.read("a.log", &b"\nrss=41\nrss=42\n"[..], &mut Discard)
            .unwrap();
        assert_eq!(
            f.unrecognised().unwrap(),
            "a.log: none of its 3 lines is a round line; expected `Round N Max RSS: X`, \
             `References: N` or a line a --pattern matches, and the first was \"rss=41\""
        );
        f.read("b.log", &b"References: 1\nnoise\n"[..], &mut Discard)
            .unwrap();
        assert_eq!(f.unrecognised(), None);
        f.read("c.jsonl", &b"{\"type\":\"crash\"}\n"[..], &mut Discard)
            .unwrap();
        assert_eq!(
            f.unrecognised(),
            None,
            "another tool's records pass through"
        );
        f.read("d.log", &b""[..], &mut Discard).unwrap();
        assert_eq!(f.unrecognised(), None);
        let long = format!("{}\x1b[0m\n", "x".repeat(100));
        f.read("e.log", long.as_bytes(), &mut Discard).unwrap();
        let hint = f.unrecognised().unwrap();
        assert!(
            hint.ends_with(&format!("\"{}…\"", "x".repeat(60))),
            "{hint}"
        );
    }

    /// A Massif file's lines count as massif_lines, or unmatched; its values come from its
    /// snapshots, and the line counts still add up.
    #[test]
    fn massif_lines_add_up() {
        let mut input = String::from("desc: --stacks=yes\ncmd: ./a\ntime_unit: B\n");
        for n in 0..12 {
            input.push_str(&format!(
                "#-----------\nsnapshot={n}\n#-----------\ntime={n}\nmem_heap_B={}\n\
                 mem_heap_extra_B=8\nmem_stacks_B=100\nheap_tree=empty\n",
                n * 64
            ));
        }
        input.push_str("not Massif's\n");
        let (records, s) = run(&input, Options::default());
        assert_eq!((s.snapshots, s.unmatched, s.massif_values), (12, 1, 36));
        assert_eq!(
            s.lines,
            s.values - s.massif_values
                + s.unmatched
                + s.own_lines
                + s.foreign_records
                + s.massif_lines
        );
        let names: Vec<&str> = verdicts(&records)
            .iter()
            .map(|v| v.series.as_str())
            .collect();
        assert_eq!(names, ["heap_b", "heap_extra_b", "stacks_b"]);
        assert_eq!(verdicts(&records)[0].verdict, Verdict::Leak);
        assert_eq!(verdicts(&records)[0].growth_per_round, Some(64.0));
    }

    #[test]
    fn executables_and_binary_data_are_refused() {
        let mut f = Filter::new(Options::default());
        let e = f
            .read("ext.so", &b"\x7fELF\x02\x01\x01"[..], &mut Discard)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ext.so: is an executable or shared object, not a log of rounds"
        );
        let e = f
            .read("core", &b"References: 1\n\0\0\0"[..], &mut Discard)
            .unwrap_err();
        assert_eq!(e.to_string(), "core: is binary data, not a log");
        assert_eq!(f.finish(&mut Discard).unwrap().lines, 0);
    }
}
