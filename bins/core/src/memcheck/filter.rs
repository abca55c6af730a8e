//! `vg-filter`: Memcheck logs in, the records that touch the project out.
//!
//! Each record read is either suppressed (a `.supp` entry matches it), not the project's (no
//! frame matches `--project`), or kept; the summary's counts add up to the records read.
//! Kept records with the same kind and the same function frames are merged, across PIDs and
//! inputs, with a count and summed bytes: the merge table is the only thing that grows with
//! the input, and it grows with the number of *distinct* records.
//!
//! An input is a text log, an XML log, or vg-filter's own JSON lines, told apart by its first
//! bytes. Records read back from JSON lines are filtered again (with this run's suppressions
//! and project) and merged like any other, keeping their counts, PIDs and inputs, and an
//! input's summary carries over what that run passed over (records of no project frame, or
//! suppressed and not listed, and its parse counts): so the outputs of shards of a run merge
//! into what one pass over all the logs gives, and `--format` converts an output without
//! rerunning Valgrind.
//!
//! The records are built here and handed to a [`Printer`]; formats are `print`'s business.

use crate::input::{self, Content};
use crate::memcheck::hints::{self, InputShape};
use crate::memcheck::records::{
    fingerprint, frames_that_matter, merge_key, BaselineMark, ErrorRecord, FatalSignalRecord,
    FixedRecord, MergeKey, PanicRecord, ProjectFrame, Record, Summary, SuppressedRecord,
};
use crate::memcheck::suppressions::{self, GenerateOptions, Suppression};
use crate::memcheck::{self, header, parallel, spare, Event, ParseStats};
use crate::output::Printer;
use crate::project::Project;
use crate::{demangle, Error};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufRead};
use std::sync::Arc;

/// Everything vg-filter is told.
#[derive(Clone)]
pub struct Options {
    /// Which frames are the project's.
    pub project: Project,
    /// Suppressions to apply.
    pub suppressions: Vec<Suppression>,
    /// List suppressed records too.
    pub show_suppressed: bool,
    /// Kinds whose kept records count as failing ([`FailOn`]).
    pub fail_on: FailOn,
    /// Merge identical records (on by default).
    pub merge: bool,
    /// Keep what `--gen-suppressions` needs.
    pub gen_suppressions: bool,
}

/// What `--fail-on` names besides Valgrind's kinds: a header of a kind vg-filter does not
/// know, a process killed by a signal, Valgrind's own failure.
pub const REPORTS: &[&str] = &["Unknown", "FatalSignal", "ValgrindPanic"];

/// The `--fail-on` word that makes module-lifetime allocations (`module_init` records)
/// fail too; with no kind named beside it, the default kinds are meant.
pub const MODULE_INIT: &str = "ModuleInit";

/// Which kept records make the run fail (exit status 1). Records that are module-lifetime
/// allocations ([`hints::module_init`]) fail only under `All` or when `Kinds` names
/// [`MODULE_INIT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailOn {
    /// Every kind but `Leak_StillReachable` (memory still pointed to at exit is not lost),
    /// fatal signals and Valgrind's failures; module-lifetime allocations do not fail.
    Default,
    /// Every kind, module-lifetime allocations too.
    All,
    /// These kinds (the default ones when only [`MODULE_INIT`] is named).
    Kinds(Vec<String>),
}

impl FailOn {
    /// Reads `--fail-on KINDS`: Valgrind's kind names ([`header::KINDS`]), [`REPORTS`] or
    /// `all`; anything else is an error naming it, so that a misspelt kind cannot make a
    /// failing run pass.
    pub fn parse(kinds: &[String]) -> Result<FailOn, Error> {
        if kinds.iter().any(|k| k == "all") {
            return Ok(FailOn::All);
        }
        for k in kinds {
            if !header::KINDS.contains(&k.as_str())
                && !REPORTS.contains(&k.as_str())
                && k != MODULE_INIT
            {
                // `module_init` for ModuleInit, `leak_definitelylost` for Leak_DefinitelyLost.
                let folded = |s: &str| s.replace('_', "").to_ascii_lowercase();
                let close: Vec<&str> = header::KINDS
                    .iter()
                    .chain(REPORTS)
                    .chain([&MODULE_INIT])
                    .copied()
                    .filter(|known| folded(known) == folded(k) || similar(known, k))
                    .collect();
                let hint = match close.first() {
                    Some(c) => format!("did you mean {c}? "),
                    None => String::new(),
                };
                return Err(Error::at(
                    "--fail-on",
                    None,
                    format!(
                        "`{k}` is not a Memcheck kind ({hint}known: {}, {}, {MODULE_INIT}, \
                         or all)",
                        header::KINDS.join(", "),
                        REPORTS.join(", ")
                    ),
                ));
            }
        }
        Ok(FailOn::Kinds(kinds.to_vec()))
    }

    /// Whether a kept record of `kind` fails the run; `module_init`: it is a
    /// module-lifetime allocation.
    fn fails(&self, kind: &str, module_init: bool) -> bool {
        let by_default = kind != "Leak_StillReachable";
        match self {
            FailOn::Default => by_default && !module_init,
            FailOn::All => true,
            FailOn::Kinds(kinds) => {
                let named_init = kinds.iter().any(|k| k == MODULE_INIT);
                let kind_fails = if kinds.iter().all(|k| k == MODULE_INIT) {
                    by_default
                } else {
                    kinds.iter().any(|k| k == kind)
                };
                kind_fails && (named_init || !module_init)
            }
        }
    }
}

/// Two names that differ by one edit (a typo): `InvalidRaed` for `InvalidRead`.
fn similar(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ra, rb) = (a.len() - prefix - suffix, b.len() - prefix - suffix);
    // One substitution, insertion or deletion; or two neighbours swapped.
    (ra <= 1 && rb <= 1)
        || (ra == 2 && rb == 2 && a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix])
}

/// Distinct records in first-seen order.
#[derive(Default)]
pub(crate) struct Table {
    order: Vec<ErrorRecord>,
    index: HashMap<MergeKey, usize>,
}

impl Table {
    /// Adds a record; gives its place, and whether it is a new distinct one (not merged into
    /// another).
    fn add(&mut self, rec: ErrorRecord, merge: bool) -> (usize, bool) {
        if merge {
            let key = rec.merge_key();
            if let Some(&i) = self.index.get(&key) {
                self.order[i].absorb(&rec);
                return (i, false);
            }
            self.index.insert(key, self.order.len());
        }
        self.order.push(rec);
        (self.order.len() - 1, true)
    }
}

/// The records suppression generation works from.
#[derive(Default)]
pub(crate) struct SuppressionSource {
    /// Distinct records that are not the project's: to be suppressed.
    others: Vec<memcheck::Record>,
    /// Merge keys of `others`, so each distinct record is kept once.
    seen: HashSet<MergeKey>,
    /// The project's records: to stay clear of.
    project: Vec<memcheck::Record>,
}

/// Bytes read before telling what an input is (after leading blanks, the longest marker).
pub(crate) const HEAD: usize = 4096;

/// What a JSON-lines input held, to carry its summary over.
#[derive(Default)]
struct ReadBack {
    suppressed: u64,
    summaries: u64,
}

/// The filter's state across inputs.
pub struct Filter {
    opts: Options,
    kept: Table,
    /// Suppressed records, when they are listed, and the name of the suppression that matched
    /// each (the first one's, when several merged).
    suppressed: Table,
    suppressed_by: Vec<String>,
    fatal_signals: Vec<FatalSignalRecord>,
    panics: Vec<PanicRecord>,
    /// The input's kept records by XML `<pid>` and `<unique>`, where its `<errorcounts>`
    /// find them.
    uniques: HashMap<UniqueKey, usize>,
    /// `<errorcounts>` pairs of no record this filter read, when it reads a piece of an
    /// input: the record may be in a piece before, which the filter adding the pieces up
    /// holds ([`Part::counts`]). None when it reads whole inputs.
    counts_elsewhere: Option<Vec<(UniqueKey, u64)>>,
    /// The input's kept text records, by PID and the row they went to: where the repeats
    /// of a `-v` log's closing listing ([`Event::Repeat`]) find the record they repeat.
    text_rows: HashSet<(Option<u32>, usize)>,
    /// The same with merging off, by PID and merge key (several rows may share one).
    text_rows_unmerged: HashMap<PidKey, Vec<usize>>,
    source: Option<SuppressionSource>,
    summary: Summary,
    /// The suppressions, ready to match (shared with the workers of [`parallel`]).
    suppressions: Arc<suppressions::Index>,
    scratch: suppressions::Scratch,
    /// One-line notes for a person (standard error), taken by [`Filter::take_notes`].
    notes: Vec<String>,
    /// The frames of the log being read, for the hints said about it.
    shape: InputShape,
    /// `--baseline`: its kept records by fingerprint ([`Filter::set_baseline`]).
    baseline: Option<BTreeMap<String, FixedRecord>>,
    /// Fingerprints of this run's kept records, to tell which baseline records are gone.
    fingerprints: HashSet<String>,
    /// Threads a log is read with ([`Filter::set_jobs`]).
    jobs: usize,
    /// Records may come with their main stack not made ([`Filter::lazy_frames`]); tests
    /// turn it off to compare.
    lazy: bool,
    /// Bytes the pieces a log is cut into start at ([`parallel::PIECE`]).
    piece: usize,
}

/// A process and a merge key: where a `-v` repeat finds its rows with merging off.
type PidKey = (Option<u32>, MergeKey);

/// An XML `<pid>` and an error's `<unique>`: where `<errorcounts>` find the error.
type UniqueKey = (Option<u32>, String);

/// What a filter made of a piece of an input, read apart from the rest by another filter of
/// the same options (see [`parallel`]): added to the filter that reads the input, it gives
/// what that filter would have made reading the piece itself.
pub(crate) struct Part {
    kept: Vec<ErrorRecord>,
    /// The rows of `kept` that `<errorcounts>` may find ([`Filter::uniques`]).
    uniques: Vec<(UniqueKey, usize)>,
    /// The `<errorcounts>` pairs that found no record of the piece: they count for the
    /// record the filter adding the part up found for them before adding it.
    counts: Vec<(UniqueKey, u64)>,
    /// The rows of `kept` that `-v` repeats may find, by PID ([`Filter::text_rows`]).
    rows: Vec<(Option<u32>, usize)>,
    rows_unmerged: Vec<(PidKey, Vec<usize>)>,
    suppressed: Vec<(ErrorRecord, String)>,
    fatal_signals: Vec<FatalSignalRecord>,
    panics: Vec<PanicRecord>,
    summary: Summary,
    shape: InputShape,
    source: Option<SuppressionSource>,
    fingerprints: HashSet<String>,
}

/// Which kept row a repeat ([`Event::Repeat`]) repeats.
enum Repeated {
    Row(usize),
    /// None of this input: its record was not read.
    Missing,
    /// Several (a repeat cut short).
    Ambiguous,
}

/// What became of a record.
enum Verdict {
    Suppressed,
    NotProject,
    /// Kept, at this place in the table.
    Kept(usize),
}

impl Filter {
    /// A filter with these options.
    pub fn new(opts: Options) -> Self {
        // Generated suppressions name functions mangled (`fun:_Znwm`), text logs print them
        // demangled: both are tried.
        let index = suppressions::Index::new(opts.suppressions.clone(), &demangle::demangle);
        Filter::with_index(opts, Arc::new(index))
    }

    fn with_index(opts: Options, suppressions: Arc<suppressions::Index>) -> Self {
        Filter {
            source: opts.gen_suppressions.then(SuppressionSource::default),
            opts,
            kept: Table::default(),
            suppressed: Table::default(),
            suppressed_by: Vec::new(),
            fatal_signals: Vec::new(),
            panics: Vec::new(),
            uniques: HashMap::new(),
            counts_elsewhere: None,
            text_rows: HashSet::new(),
            text_rows_unmerged: HashMap::new(),
            suppressions,
            scratch: suppressions::Scratch::default(),
            summary: Summary::default(),
            notes: Vec::new(),
            shape: InputShape::default(),
            baseline: None,
            fingerprints: HashSet::new(),
            jobs: 1,
            piece: parallel::PIECE,
            lazy: true,
        }
    }

    /// Reads logs, text or XML, with `jobs` threads (1: in this thread only). The records,
    /// their order and the summary are the same whatever the number.
    pub fn set_jobs(&mut self, jobs: usize) {
        self.jobs = jobs.max(1);
    }

    /// Cuts logs into pieces of about `piece` bytes (tests cut them small).
    #[cfg(test)]
    pub(crate) fn set_piece(&mut self, piece: usize) {
        self.piece = piece;
    }

    /// Makes every record's frames as it is read (tests compare it with [`Filter::lazy_frames`]).
    #[cfg(test)]
    pub(crate) fn set_lazy(&mut self, lazy: bool) {
        self.lazy = lazy;
    }

    /// Threads a log is read with.
    pub(crate) fn jobs(&self) -> usize {
        self.jobs
    }

    /// An empty filter of the same options and baseline, to read a piece of an input apart
    /// ([`Filter::take_part`]).
    pub(crate) fn worker(&self) -> Filter {
        let mut w = Filter::with_index(self.opts.clone(), self.suppressions.clone());
        w.baseline = self.baseline.clone();
        w.lazy = self.lazy;
        w
    }

    /// A [`Filter::worker`] for pieces of an input, not whole ones: what it cannot find
    /// among its records may be in a piece before ([`Part::counts`]).
    pub(crate) fn piece_worker(&self) -> Filter {
        let mut w = self.worker();
        w.counts_elsewhere = Some(Vec::new());
        w
    }

    /// What this filter made since it was made or last asked, taken out of it.
    pub(crate) fn take_part(&mut self) -> Part {
        let kept = std::mem::take(&mut self.kept);
        let suppressed = std::mem::take(&mut self.suppressed);
        let names = std::mem::take(&mut self.suppressed_by);
        Part {
            kept: kept.order,
            uniques: self.uniques.drain().collect(),
            counts: self
                .counts_elsewhere
                .as_mut()
                .map(std::mem::take)
                .unwrap_or_default(),
            rows: self.text_rows.drain().collect(),
            rows_unmerged: self.text_rows_unmerged.drain().collect(),
            suppressed: suppressed.order.into_iter().zip(names).collect(),
            fatal_signals: std::mem::take(&mut self.fatal_signals),
            panics: std::mem::take(&mut self.panics),
            summary: std::mem::take(&mut self.summary),
            shape: std::mem::take(&mut self.shape),
            source: self.source.as_mut().map(std::mem::take),
            fingerprints: std::mem::take(&mut self.fingerprints),
        }
    }

    /// Adds what another filter made of the next piece of the input being read.
    pub(crate) fn add_part(&mut self, part: Part) {
        let merge = self.opts.merge;
        // Before the part's records: the pairs found none of them when they were read.
        for (key, count) in part.counts {
            self.error_count(key, count);
        }
        let rows: Vec<usize> = part
            .kept
            .into_iter()
            .map(|r| self.kept.add(r, merge).0)
            .collect();
        for (pid, i) in part.rows {
            self.text_rows.insert((pid, rows[i]));
        }
        for (key, i) in part.uniques {
            self.uniques.insert(key, rows[i]);
        }
        for (key, local) in part.rows_unmerged {
            let global = local.into_iter().map(|i| rows[i]);
            self.text_rows_unmerged
                .entry(key)
                .or_default()
                .extend(global);
        }
        for (r, name) in part.suppressed {
            if self.suppressed.add(r, merge).1 {
                self.suppressed_by.push(name);
            }
        }
        self.fatal_signals.extend(part.fatal_signals);
        self.panics.extend(part.panics);
        self.fingerprints.extend(part.fingerprints);
        self.shape.add(part.shape);
        if let (Some(mine), Some(theirs)) = (&mut self.source, part.source) {
            for r in theirs.others {
                if mine.seen.insert(merge_key(&r.kind, &r.stack)) {
                    mine.others.push(r);
                }
            }
            mine.project.extend(theirs.project);
        }
        let (sum, s) = (&mut self.summary, &part.summary);
        // A piece's filter read no input itself (these are 0); a whole input's did.
        sum.inputs = sum.inputs.saturating_add(s.inputs);
        sum.foreign_records = sum.foreign_records.saturating_add(s.foreign_records);
        sum.cut_at_depth = sum.cut_at_depth.saturating_add(s.cut_at_depth);
        sum.hints = sum.hints.saturating_add(s.hints);
        sum.parse.add(&s.parse);
        sum.records = sum.records.saturating_add(s.records);
        sum.kept = sum.kept.saturating_add(s.kept);
        sum.suppressed = sum.suppressed.saturating_add(s.suppressed);
        sum.not_project = sum.not_project.saturating_add(s.not_project);
        sum.failing = sum.failing.saturating_add(s.failing);
        sum.module_init = sum.module_init.saturating_add(s.module_init);
        sum.kept_bytes = sum.kept_bytes.saturating_add(s.kept_bytes);
        sum.fatal_signals = sum.fatal_signals.saturating_add(s.fatal_signals);
        sum.valgrind_panics = sum.valgrind_panics.saturating_add(s.valgrind_panics);
        sum.new = sum.new.saturating_add(s.new);
        sum.known = sum.known.saturating_add(s.known);
        for (name, n) in &s.suppressions_used {
            *sum.suppressions_used.entry(name.clone()).or_default() += n;
        }
    }

    /// Compares the kept records with `baseline`'s (an earlier run's, read by a filter of the
    /// same options, [`Filter::into_baseline`]): each is marked `new` or `known`, only new ones
    /// fail the run, and the baseline's records this run does not keep are written as
    /// `fixed` lines. New records come first.
    pub fn set_baseline(&mut self, baseline: BTreeMap<String, FixedRecord>) {
        self.baseline = Some(baseline);
    }

    /// The kept records of what this filter read, by fingerprint: a baseline for another
    /// run ([`Filter::set_baseline`]).
    pub fn into_baseline(self) -> BTreeMap<String, FixedRecord> {
        let mut out = BTreeMap::new();
        for r in &self.kept.order {
            out.entry(r.fingerprint.clone())
                .or_insert_with(|| FixedRecord::of(r));
        }
        for f in &self.fatal_signals {
            out.entry(f.fingerprint.clone())
                .or_insert_with(|| FixedRecord::of_fatal_signal(f));
        }
        out
    }

    /// Reads one input: a text or XML log, or vg-filter's JSON lines. Lines of JSON of other
    /// types are passed to the printer as they are.
    pub fn read<R: BufRead>(
        &mut self,
        input: &str,
        mut reader: R,
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        // A pipe may deliver a few bytes at a time: gather enough to tell the format, then
        // hand the parser those bytes followed by the rest.
        let mut head = Vec::with_capacity(HEAD);
        while head.len() < HEAD {
            let chunk = reader.fill_buf().map_err(|e| Error::io(input, &e))?;
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len().min(HEAD - head.len());
            head.extend_from_slice(&chunk[..n]);
            reader.consume(n);
        }
        let content = Content::of(&head);
        if let Some(mut refused) = content.refuse(input) {
            if content == Content::Elf {
                // The usual way a shared object gets here: `--project native.so vg.log`.
                refused
                    .message
                    .push_str(" (was it meant as --project=PATTERN? a pattern is given with `=`)");
            }
            return Err(refused);
        }
        let reader = io::Read::chain(io::Cursor::new(head.clone()), reader);
        if content == Content::JsonLines {
            return self.read_back(input, io::BufReader::new(reader), out);
        }
        let mut stats = ParseStats::default();
        let records_before = self.summary.records;
        let reports_before = self.fatal_signals.len() + self.panics.len();
        self.uniques.clear();
        self.text_rows.clear();
        self.text_rows_unmerged.clear();
        self.shape = InputShape::default();
        let result = match memcheck::detect(&head) {
            memcheck::Format::Text if self.jobs > 1 => {
                parallel::read_text(self, input, reader, &mut stats, self.piece)
            }
            memcheck::Format::Text => {
                let lazy = self.lazy_frames();
                let mut sink = |event: Event| self.event(input, event);
                memcheck::text::parse_with(input, reader, lazy, &mut stats, &mut sink)
            }
            memcheck::Format::Xml if self.jobs > 1 => {
                parallel::read_xml(self, input, reader, &mut stats, self.piece)
            }
            memcheck::Format::Xml => {
                let mut sink = |event: Event| self.event(input, event);
                memcheck::xml::parse(input, reader, &mut stats, &mut sink)
            }
        };
        self.summary.inputs += 1;
        self.summary.parse.add(&stats);
        let nothing_found = self.summary.records == records_before
            && reports_before == self.fatal_signals.len() + self.panics.len()
            && stats.lines > 0;
        if result.is_ok() && nothing_found && !looks_like_valgrind(&head) {
            self.notes.push(format!(
                "{input}: no Memcheck record found in {} lines, all passed over (expected \
                 Valgrind's log, `==PID==` lines or --xml=yes output; {})",
                stats.lines,
                what_it_looks_like(&head)
            ));
        }
        if result.is_ok() {
            self.hints(input, stats.num_callers);
        }
        result
    }

    /// The hints about a log just read (see [`hints`]): each one line, counted.
    fn hints(&mut self, input: &str, num_callers: Option<u32>) {
        if self.opts.project.is_everything() {
            return;
        }
        let mut said = Vec::new();
        if self.shape.base_names_hide_project() {
            said.extend(hints::base_names_hint(input, &mut self.opts.project));
        }
        if let Some(cut) = self.shape.cut(num_callers).filter(|c| c.records > 0) {
            self.summary.cut_at_depth += cut.records;
            said.push(hints::cut_hint(input, &cut));
        }
        self.summary.hints += said.len() as u64;
        self.notes.extend(said);
    }

    /// Reads inputs one after the other, as [`Filter::read`] does, calling `notes` with each
    /// one's notes; several at a time on [`Filter::set_jobs`] threads, each by a filter of
    /// the same options, what each made added in input order (the output is the same). The
    /// first input that fails ends the reading with its error.
    pub fn read_all(
        &mut self,
        inputs: Vec<crate::cli::Input>,
        out: &mut dyn Printer<Record>,
        notes: &mut dyn FnMut(String),
    ) -> Result<(), Error> {
        if self.jobs < 2 || inputs.len() < 2 {
            for input in inputs {
                self.read(&input.name, input.reader, out)?;
                self.take_notes().into_iter().for_each(&mut *notes);
            }
            return Ok(());
        }
        parallel::read_inputs(self, inputs, out, notes)
    }

    /// Notes for a person gathered so far (an input with nothing recognised in it).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Reads vg-filter's own JSON lines: records are filtered again and merged, summaries
    /// carried over, other lines passed on.
    fn read_back(
        &mut self,
        input: &str,
        mut reader: impl BufRead,
        out: &mut dyn Printer<Record>,
    ) -> Result<(), Error> {
        let mut buf = Vec::new();
        let mut number = 0u64;
        let mut back = ReadBack::default();
        while let Some(end) = input::read_line(&mut reader, &mut buf, input::MAX_LINE)
            .map_err(|e| Error::io(input, &e))?
        {
            number += 1;
            if end.cut {
                self.summary.parse.long_lines += 1;
            }
            let line = buf.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
                self.summary.parse.unparsed_lines += 1;
                continue;
            };
            let kind = value
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_string();
            let ours = match kind.as_str() {
                "error" | "suppressed" | "fatal_signal" | "valgrind_panic" => true,
                "summary" => value.get("tool").and_then(|t| t.as_str()) == Some("vg-filter"),
                _ => false,
            };
            if !ours {
                self.summary.foreign_records += 1;
                out.passthrough(&buf)?;
                continue;
            }
            let record: Record = serde_json::from_value(value).map_err(|e| {
                Error::at(
                    input,
                    Some(number),
                    format!(
                        "a vg-filter `{kind}` record that this version (schema {}) cannot \
                         read: {e}",
                        crate::output::SCHEMA
                    ),
                )
            })?;
            match record {
                Record::Error(r) => self.record_back(r),
                Record::Suppressed(s) => {
                    back.suppressed = back.suppressed.saturating_add(s.record.count);
                    self.record_back(s.record)
                }
                Record::FatalSignal(f) => self.fatal_signal_back(f),
                Record::ValgrindPanic(p) => self.panic(p),
                // A defect an earlier comparison found gone: nothing to keep.
                Record::Fixed(_) => {
                    self.summary.foreign_records = self.summary.foreign_records.saturating_add(1)
                }
                Record::Summary(s) => {
                    back.summaries += 1;
                    self.carry_over(&s, &back);
                    // A file may hold several runs' lines, one after the other.
                    back.suppressed = 0;
                }
            }
        }
        if back.summaries == 0 && number > 0 {
            self.notes.push(format!(
                "{input}: vg-filter's JSON lines end without their summary (cut?): what that \
                 run passed over is not counted"
            ));
        }
        Ok(())
    }

    /// An earlier run's summary: what it did not write as records (records of no project
    /// frame, suppressed records it did not list) and what its parsers passed over.
    fn carry_over(&mut self, s: &Summary, back: &ReadBack) {
        let sum = &mut self.summary;
        sum.inputs += s.inputs;
        sum.foreign_records += s.foreign_records;
        sum.cut_at_depth += s.cut_at_depth;
        sum.hints += s.hints;
        sum.parse.add(&s.parse);
        sum.not_project += s.not_project;
        sum.records += s.not_project;
        if back.suppressed == 0 {
            // Not listed: they are gone, only their counts remain.
            sum.suppressed += s.suppressed;
            sum.records += s.suppressed;
            for (name, n) in &s.suppressions_used {
                *sum.suppressions_used.entry(name.clone()).or_default() += n;
            }
        }
    }

    /// What a parser reported.
    pub(crate) fn event(&mut self, input: &str, event: Event) {
        match event {
            Event::Record(rec) => self.record(input, rec, None),
            Event::Lazy(rec) => self.lazy_record(input, rec),
            Event::Repeat { record, count } => self.repeat(input, record, count),
            Event::ErrorCount { pid, unique, count } => {
                let key = (pid, unique);
                if !self.uniques.contains_key(&key) {
                    if let Some(elsewhere) = &mut self.counts_elsewhere {
                        return elsewhere.push((key, count));
                    }
                }
                self.error_count(key, count);
            }
            Event::FatalSignal(f) => {
                self.shape.see_stack(&f.stack);
                let pf = self.stack_project_frame(&f.stack);
                if pf.is_some() {
                    self.shape.project_hit();
                }
                self.fatal_signal(FatalSignalRecord::new(f, input, pf));
            }
            Event::ValgrindPanic(p) => self.panic(PanicRecord::new(p, input)),
        }
    }

    /// An `<errorcounts>` pair: the kept record it names occurred `count` times.
    fn error_count(&mut self, key: UniqueKey, count: u64) {
        if let Some(&i) = self.uniques.get(&key) {
            let rec = &mut self.kept.order[i];
            rec.occurrences = Some(rec.occurrences.unwrap_or(0).saturating_add(count));
        }
    }

    /// Whether the text parser may hand records on with their main stack not made
    /// ([`Event::Lazy`]): when nothing but the project's patterns or root judges them, so
    /// that a record of no project frame is dropped without making its frames.
    pub(crate) fn lazy_frames(&self) -> bool {
        self.lazy
            && self.opts.suppressions.is_empty()
            && self.source.is_none()
            && !self.opts.project.is_everything()
    }

    /// A record whose main stack is not made: counted as [`Filter::record`] would count it
    /// when it has no project frame, else made and read as any record.
    fn lazy_record(&mut self, input: &str, lazy: memcheck::LazyRecord) {
        if !self.lazy_frames() {
            return self.record(input, lazy.into_record(), None);
        }
        let frames = lazy.frames.frames();
        let project = &mut self.opts.project;
        let mine = project.first_in(&frames).is_some()
            || lazy
                .record
                .aux
                .iter()
                .any(|a| project.first_in(&a.stack).is_some());
        if mine {
            drop(frames);
            return self.record(input, lazy.into_record(), None);
        }
        // What `record` and `judge` do with a record of no project frame when nothing
        // suppresses it and no suppressions are being generated.
        let depths = self.shape.see_record_in(&lazy.record, &frames);
        drop(frames);
        let sum = &mut self.summary;
        sum.records = sum.records.saturating_add(1);
        sum.not_project = sum.not_project.saturating_add(1);
        self.shape.not_project(depths);
        spare::recycle_lazy(lazy);
    }

    /// A record read from a log; `occurrences` when the log says how often it occurred.
    fn record(&mut self, input: &str, rec: memcheck::Record, occurrences: Option<u64>) {
        let unique = rec.unique.clone().map(|u| (rec.pid, u));
        let pid = rec.pid;
        // The depths that tell a cut stack, for a record of no project frame.
        let depths = self.shape.see_record(&rec);
        let make = |rec, pf| ErrorRecord {
            occurrences,
            ..ErrorRecord::new(rec, input, pf)
        };
        match self.judge(rec, 1, make) {
            Verdict::Kept(i) => {
                if self.kept.order[i].project_frame.is_some() {
                    self.shape.project_hit();
                }
                match unique {
                    Some(key) => {
                        self.uniques.insert(key, i);
                    }
                    None if self.opts.merge => {
                        self.text_rows.insert((pid, i));
                    }
                    None => {
                        let key = (pid, self.kept.order[i].merge_key());
                        self.text_rows_unmerged.entry(key).or_default().push(i);
                    }
                }
            }
            Verdict::NotProject => self.shape.not_project(depths),
            Verdict::Suppressed => {}
        }
    }

    /// An error a `-v` text log prints again after its final `ERROR SUMMARY`, with how many
    /// times it occurred: the `occurrences` of the record it repeats, as XML's
    /// `<errorcounts>` give them. A repeat of a suppressed record or of one of no project
    /// frame adds nothing (its record was counted when read). Only a repeat whose record
    /// this input did not hold (a log or paste that starts after it) is read as the record.
    fn repeat(&mut self, input: &str, rec: memcheck::Record, count: u64) {
        let (suppression, pf) = self.classify(&rec);
        if suppression.is_some() || (pf.is_none() && !self.opts.project.is_everything()) {
            return;
        }
        match self.repeated_row(&rec) {
            Repeated::Row(i) => {
                let row = &mut self.kept.order[i];
                row.occurrences = Some(row.occurrences.unwrap_or(0).saturating_add(count));
            }
            // Cut by the end of the input, fitting more than one record: which one it
            // repeats is not known.
            Repeated::Ambiguous => {}
            Repeated::Missing => {
                if rec.truncated {
                    self.summary.parse.truncated_records += 1;
                }
                self.record(input, rec, Some(count));
            }
        }
    }

    /// The kept row of this input that a repeat repeats: by its PID and merge key, with
    /// merging off by its whole text; a repeat cut by the end of the input by the frames it
    /// has.
    fn repeated_row(&self, rec: &memcheck::Record) -> Repeated {
        let rows = &self.kept.order;
        if !rec.truncated {
            let key = merge_key(&rec.kind, &rec.stack);
            let found = if self.opts.merge {
                self.kept
                    .index
                    .get(&key)
                    .copied()
                    .filter(|&i| self.text_rows.contains(&(rec.pid, i)))
            } else {
                let same = |i: &&usize| {
                    let r = &rows[**i];
                    r.what == rec.what && r.stack == rec.stack && r.aux == rec.aux
                };
                let candidates = self.text_rows_unmerged.get(&(rec.pid, key));
                let mut fits = candidates.into_iter().flatten().filter(same);
                // Two contexts Valgrind printed alike: each repeat to a row of its own.
                let first = fits.clone().next().copied();
                fits.find(|&&i| rows[i].occurrences.is_none())
                    .copied()
                    .or(first)
            };
            return found.map_or(Repeated::Missing, Repeated::Row);
        }
        // The frames it has, of the main stack, start the row's.
        let fits = |i: usize| {
            let r = &rows[i];
            r.kind == rec.kind
                && r.stack.len() >= rec.stack.len()
                && r.stack
                    .iter()
                    .zip(&rec.stack)
                    .all(|(a, b)| a.identity() == b.identity())
        };
        let mut found: Vec<usize> = if self.opts.merge {
            self.text_rows
                .iter()
                .filter(|(pid, i)| *pid == rec.pid && fits(*i))
                .map(|&(_, i)| i)
                .collect()
        } else {
            self.text_rows_unmerged
                .iter()
                .filter(|((pid, _), _)| *pid == rec.pid)
                .flat_map(|(_, rows)| rows.iter().copied())
                .filter(|&i| fits(i))
                .collect()
        };
        found.sort_unstable();
        found.dedup();
        match found[..] {
            [] => Repeated::Missing,
            [i] => Repeated::Row(i),
            _ => Repeated::Ambiguous,
        }
    }

    /// The fingerprint of a record or fatal signal of `kind` whose first project frame in
    /// `stack` is at `project_index`. Read back without `--project`, what it was `written`
    /// with stands, as its project frame does.
    fn fingerprint(
        &mut self,
        kind: &str,
        stack: &[crate::Frame],
        project_index: Option<usize>,
        written: String,
    ) -> String {
        if self.opts.project.is_everything() && !written.is_empty() {
            return written;
        }
        let project = &mut self.opts.project;
        let matters = frames_that_matter(stack, project_index, |f| project.frame_matches(f));
        fingerprint(kind, stack, matters)
    }

    /// With `--baseline`: whether `fingerprint` is in it, counted `n` times as `new` or
    /// `known`, and remembered so that the baseline's gone records can be told; else none.
    fn mark(&mut self, fingerprint: &str, n: u64) -> Option<BaselineMark> {
        let known = self.baseline.as_ref()?.contains_key(fingerprint);
        self.fingerprints.insert(fingerprint.to_string());
        let sum = &mut self.summary;
        Some(if known {
            sum.known = sum.known.saturating_add(n);
            BaselineMark::Known
        } else {
            sum.new = sum.new.saturating_add(n);
            BaselineMark::New
        })
    }

    /// The first project frame of a stack (`aux` null); none without `--project`.
    fn stack_project_frame(&mut self, stack: &[crate::Frame]) -> Option<ProjectFrame> {
        first_project_frame(&mut self.opts.project, [(None, stack)])
    }

    fn fatal_signal(&mut self, mut f: FatalSignalRecord) {
        self.summary.fatal_signals += 1;
        // Fingerprinted as an error record of kind `FatalSignal SIGSEGV` would be.
        let kind = format!("FatalSignal {}", f.signal.as_deref().unwrap_or(""));
        let index = f.project_frame.as_ref().map(|p| p.index);
        f.fingerprint = self.fingerprint(&kind, &f.stack, index, f.fingerprint.clone());
        f.baseline = self.mark(&f.fingerprint, 1);
        let known = f.baseline == Some(BaselineMark::Known);
        if self.opts.fail_on.fails("FatalSignal", false) && !known {
            self.summary.failing += 1;
        }
        self.fatal_signals.push(f);
    }

    /// A fatal signal read back: its project frame is found again with this run's
    /// `--project` (kept as written without one).
    fn fatal_signal_back(&mut self, mut f: FatalSignalRecord) {
        if !self.opts.project.is_everything() {
            f.project_frame = self.stack_project_frame(&f.stack);
        }
        self.fatal_signal(f);
    }

    fn panic(&mut self, p: PanicRecord) {
        self.summary.valgrind_panics += 1;
        if self.opts.fail_on.fails("ValgrindPanic", false) {
            self.summary.failing += 1;
        }
        self.panics.push(p);
    }

    /// A merged record read back: judged on its stacks, counted `count` times. Without
    /// `--project` (keep everything) its project frame stays the one it was written with.
    fn record_back(&mut self, r: ErrorRecord) {
        let parsed = r.as_parsed();
        let recompute = !self.opts.project.is_everything();
        let count = r.count;
        let _ = self.judge(parsed, count, move |_, pf| ErrorRecord {
            project_frame: if recompute {
                pf
            } else {
                r.project_frame.clone()
            },
            ..r
        });
    }

    /// The name of the suppression that matches a record, else its first project frame
    /// (none without `--project`). Counts nothing.
    fn classify(&mut self, rec: &memcheck::Record) -> (Option<String>, Option<ProjectFrame>) {
        let suppression = self
            .suppressions
            .find(rec, &mut self.scratch)
            .map(|s| s.name.clone());
        let pf = if suppression.is_none() {
            project_frame(&mut self.opts.project, rec)
        } else {
            None
        };
        (suppression, pf)
    }

    /// Suppressed, not the project's, or kept, `count` times; `make` builds the record to
    /// keep or list (its `module_init` and fingerprint are set here). Nearly every record of
    /// a log is the interpreter's: those are counted, not built.
    fn judge(
        &mut self,
        rec: memcheck::Record,
        count: u64,
        make: impl FnOnce(memcheck::Record, Option<ProjectFrame>) -> ErrorRecord,
    ) -> Verdict {
        let (suppression, pf) = self.classify(&rec);
        let is_project = pf.is_some() || self.opts.project.is_everything();
        if suppression.is_none() {
            if let Some(b) = &mut self.source {
                if is_project && !self.opts.project.is_everything() {
                    b.project.push(rec.clone());
                } else if b.seen.insert(merge_key(&rec.kind, &rec.stack)) {
                    b.others.push(rec.clone());
                }
            }
        }
        let sum = &mut self.summary;
        sum.records = sum.records.saturating_add(count);
        if let Some(name) = suppression {
            sum.suppressed = sum.suppressed.saturating_add(count);
            *sum.suppressions_used.entry(name.clone()).or_default() += count;
            if self.opts.show_suppressed {
                let listed = self.build(rec, pf, make);
                if self.suppressed.add(listed, self.opts.merge).1 {
                    self.suppressed_by.push(name);
                }
            } else {
                spare::recycle(rec);
            }
            return Verdict::Suppressed;
        }
        if !is_project {
            sum.not_project = sum.not_project.saturating_add(count);
            spare::recycle(rec);
            return Verdict::NotProject;
        }
        let mut kept = self.build(rec, pf, make);
        let n = kept.count;
        let module_init = kept.module_init;
        let sum = &mut self.summary;
        sum.kept = sum.kept.saturating_add(n);
        sum.kept_bytes = sum.kept_bytes.saturating_add(kept.bytes.unwrap_or(0));
        if module_init {
            sum.module_init = sum.module_init.saturating_add(n);
        }
        kept.baseline = self.mark(&kept.fingerprint, n);
        let known = kept.baseline == Some(BaselineMark::Known);
        if self.opts.fail_on.fails(&kept.kind, module_init) && !known {
            self.summary.failing = self.summary.failing.saturating_add(n);
        }
        Verdict::Kept(self.kept.add(kept, self.opts.merge).0)
    }

    /// The record to keep or list: `make`'s, with its `module_init` and fingerprint.
    fn build(
        &mut self,
        rec: memcheck::Record,
        pf: Option<ProjectFrame>,
        make: impl FnOnce(memcheck::Record, Option<ProjectFrame>) -> ErrorRecord,
    ) -> ErrorRecord {
        let module_init = hints::module_init(&rec.kind, &rec.stack);
        let mut built = make(rec, pf);
        built.module_init = module_init;
        let main_index = built
            .project_frame
            .as_ref()
            .filter(|p| p.aux.is_none())
            .map(|p| p.index);
        let written = std::mem::take(&mut built.fingerprint);
        built.fingerprint = self.fingerprint(&built.kind, &built.stack, main_index, written);
        built.baseline = None;
        built
    }

    /// Hands the records and the summary to the printer and finishes it; returns the summary
    /// (its `failing` decides the exit status).
    pub fn finish(mut self, out: &mut dyn Printer<Record>) -> Result<Summary, Error> {
        self.summary.distinct = self.kept.order.len() as u64;
        let mut kept = std::mem::take(&mut self.kept.order);
        if self.baseline.is_some() {
            // What a reviewer reads first: the records the baseline does not know.
            kept.sort_by_key(|r| r.baseline != Some(BaselineMark::New));
        }
        for r in kept {
            out.record(&Record::Error(r))?;
        }
        let names = std::mem::take(&mut self.suppressed_by);
        for (record, suppression) in std::mem::take(&mut self.suppressed.order)
            .into_iter()
            .zip(names)
        {
            out.record(&Record::Suppressed(SuppressedRecord {
                record,
                suppression,
            }))?;
        }
        for f in std::mem::take(&mut self.fatal_signals) {
            out.record(&Record::FatalSignal(f))?;
        }
        for p in std::mem::take(&mut self.panics) {
            out.record(&Record::ValgrindPanic(p))?;
        }
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

    /// The suppression file covering the records that are not the project's.
    pub fn generated_suppressions(&self, name_prefix: &str) -> String {
        let Some(source) = &self.source else {
            return String::new();
        };
        let others: Vec<&memcheck::Record> = source.others.iter().collect();
        let project: Vec<&memcheck::Record> = source.project.iter().collect();
        let opts = GenerateOptions {
            name_prefix: name_prefix.to_string(),
            ..GenerateOptions::default()
        };
        let supps = suppressions::generate(&others, &project, &opts);
        let mut text = format!(
            "# Generated by vg-filter --gen-suppressions from {} distinct records that are not the\n\
             # project's ({} read); {} suppressions. Each keeps the shortest frame prefix that\n\
             # reaches past the allocator into its caller and matches no project record.\n",
            source.others.len(),
            self.summary.records,
            supps.len()
        );
        for s in &supps {
            text.push_str(&s.to_text());
        }
        text
    }
}

/// Whether the first bytes of a text input are Valgrind's: a `==PID==` prefix, its banner, or
/// the XML protocol. A log of a clean run has no records, and that is no reason for a note.
fn looks_like_valgrind(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    text.contains("Memcheck")
        || text.contains("<valgrindoutput")
        || text.lines().any(|l| {
            l.strip_prefix("==")
                .and_then(|r| r.split_once("=="))
                .is_some_and(|(pid, _)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// What an input with no Memcheck record in it seems to be, for the note that says so.
fn what_it_looks_like(head: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(head);
    let gdb = text.lines().any(|l| {
        let l = l.trim_start_matches(['>', ' ', '\t']);
        l.starts_with("Program received signal")
            || l.starts_with("Program terminated with signal")
            || l.starts_with("Thread ") && l.contains("received signal")
            || (l.starts_with('#') && l.contains(" in ") && l.contains(" ("))
    });
    if gdb {
        "this looks like gdb output: bt-demangle reads that"
    } else if text
        .lines()
        .any(|l| l.starts_with("Round ") || l.starts_with("References:"))
    {
        "this looks like a series of rounds: rss-rounds reads that"
    } else {
        "is this another tool's output?"
    }
}

/// A record's first project frame: in its main stack, else in its auxiliary stacks.
fn project_frame(project: &mut Project, rec: &memcheck::Record) -> Option<ProjectFrame> {
    let stacks = std::iter::once((None, &rec.stack[..])).chain(
        rec.aux
            .iter()
            .enumerate()
            .map(|(i, a)| (Some(i), &a.stack[..])),
    );
    first_project_frame(project, stacks)
}

/// The first project frame of `stacks` (each with its index into `aux`, `None` for the main
/// stack); none without `--project`, where every frame would match.
fn first_project_frame<'a>(
    project: &mut Project,
    stacks: impl IntoIterator<Item = (Option<usize>, &'a [crate::Frame])>,
) -> Option<ProjectFrame> {
    if project.is_everything() {
        return None;
    }
    for (aux, stack) in stacks {
        if let Some(index) = project.first_in(stack) {
            return Some(ProjectFrame {
                aux,
                index,
                frame: stack[index].clone(),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_takes_known_kinds_only() {
        let kinds = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(FailOn::parse(&kinds(&["all"])).unwrap(), FailOn::All);
        assert_eq!(
            FailOn::parse(&kinds(&["InvalidRead", "Leak_StillReachable"])).unwrap(),
            FailOn::Kinds(kinds(&["InvalidRead", "Leak_StillReachable"]))
        );
        let e = FailOn::parse(&kinds(&["InvalidRaed"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "--fail-on: `InvalidRaed` is not a Memcheck kind (did you mean InvalidRead?"
            ),
            "{e}"
        );
        assert!(FailOn::parse(&kinds(&["leak"])).is_err());
        assert!(FailOn::Default.fails("InvalidRead", false));
        assert!(FailOn::Default.fails("FatalSignal", false));
        assert!(FailOn::parse(&kinds(&["FatalSignl"]))
            .unwrap_err()
            .to_string()
            .contains("did you mean FatalSignal?"));
        assert!(!FailOn::Default.fails("Leak_StillReachable", false));
    }

    #[test]
    fn module_init_fails_only_when_named() {
        let kinds =
            |v: &[&str]| FailOn::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        // By default a module-lifetime allocation does not fail; the same kind elsewhere does.
        assert!(!FailOn::Default.fails("Leak_PossiblyLost", true));
        assert!(FailOn::Default.fails("Leak_PossiblyLost", false));
        // ModuleInit alone: the default kinds, module init included.
        let init = kinds(&["ModuleInit"]).unwrap();
        assert!(init.fails("Leak_PossiblyLost", true));
        assert!(init.fails("Leak_IndirectlyLost", true));
        assert!(!init.fails("Leak_StillReachable", true));
        assert!(init.fails("InvalidRead", false));
        // With kinds: those kinds, module init included.
        let reachable = kinds(&["Leak_StillReachable", "ModuleInit"]).unwrap();
        assert!(reachable.fails("Leak_StillReachable", true));
        assert!(!reachable.fails("Leak_PossiblyLost", true));
        // Kinds without ModuleInit: module-lifetime allocations of them still pass.
        let possibly = kinds(&["Leak_PossiblyLost"]).unwrap();
        assert!(!possibly.fails("Leak_PossiblyLost", true));
        assert!(possibly.fails("Leak_PossiblyLost", false));
        assert!(FailOn::All.fails("Leak_StillReachable", true));
        // The usual misspellings get the word.
        for typo in ["module_init", "moduleinit", "ModuleInt"] {
            let e = kinds(&[typo]).unwrap_err().to_string();
            assert!(e.contains("did you mean ModuleInit?"), "{e}");
        }
        assert!(kinds(&["leak_definitely_lost"])
            .unwrap_err()
            .to_string()
            .contains("did you mean Leak_DefinitelyLost?"));
    }

    #[test]
    fn typos_are_one_edit() {
        assert!(similar("InvalidRead", "InvalidRaed"));
        assert!(similar("InvalidRead", "InvalidRed"));
        assert!(similar("InvalidRead", "InvalidReads"));
        assert!(!similar("InvalidRead", "InvalidWrite"));
    }
}
