//! `vg-filter`: Memcheck logs in, the records that touch the project out.
//!
//! Each record read is either suppressed (a `.supp` entry matches it), not the project's (no
//! frame matches `--project`), or kept; the summary's counts add up to the records read.
//! Kept records with the same kind and the same function frames are merged, across PIDs and
//! inputs, with a count and summed bytes: the merge table is the only thing that grows with
//! the input, and it grows with the number of *distinct* records.
//!
//! # JSON lines (schema 1)
//! `{"type":"error","kind":…,"count":…,"pids":[…],"what":…,"bytes":…,"direct":…,"indirect":…,
//! "blocks":…,"loss_record":…,"loss_records_total":…,"tid":…,"truncated":…,
//! "project_frame":{"aux":null,"index":0,"function":…,"file":…,"line":…,"object":…},
//! "stack":[Frame…],"aux":[{"what":…,"stack":[Frame…]}],"inputs":[…]}`, one per distinct
//! record in first-seen order, then `{"type":"summary",…}` ([`Summary`]). `--show-suppressed`
//! adds `{"type":"suppressed",…}` lines of the same shape plus the suppression's name.

use crate::memcheck::suppressions::{self, GenerateOptions, Suppression};
use crate::memcheck::{self, ParseStats, Record};
use crate::output::{Sink, SCHEMA};
use crate::project::Project;
use crate::{demangle, Error, Frame};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, BufRead, Write};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line, closed by a summary.
    Jsonl,
    /// One row per distinct record; the summary goes to stderr.
    Csv,
    /// A short report for a person.
    Text,
    /// One SARIF 2.1.0 document.
    Sarif,
}

/// Everything vg-filter is told.
pub struct Options {
    /// Which frames are the project's.
    pub project: Project,
    /// Suppressions to apply.
    pub suppressions: Vec<Suppression>,
    /// List suppressed records too.
    pub show_suppressed: bool,
    /// Output format.
    pub format: Format,
    /// Kinds whose kept records make the exit status 1; `None`: every kind but
    /// `Leak_StillReachable`.
    pub fail_on: Option<Vec<String>>,
    /// Merge identical records (on by default).
    pub merge: bool,
    /// Project root, used to write SARIF locations relative to it.
    pub root: Option<String>,
}

/// The run's closing record. Counts add up: `records = kept + suppressed + not_project`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    #[serde(rename = "type")]
    kind: &'static str,
    tool: &'static str,
    schema: u32,
    /// Inputs read.
    pub inputs: u64,
    /// Records read (including truncated ones).
    pub records: u64,
    /// Records kept (the project's, not suppressed).
    pub kept: u64,
    /// Records a suppression matched.
    pub suppressed: u64,
    /// Records with no project frame.
    pub not_project: u64,
    /// Distinct kept records after merging (lines of type `error`).
    pub distinct: u64,
    /// Kept records of the kinds that fail the run.
    pub failing: u64,
    /// Kept bytes (leaks), summed.
    pub kept_bytes: u64,
    /// Parser counts: lines, unparsed lines, chatter, truncated records, cut lines, …
    #[serde(flatten)]
    pub parse: ParseStats,
    /// Uses per suppression name.
    pub suppressions_used: BTreeMap<String, u64>,
}

/// The first frame that matched the project.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProjectFrame {
    /// `None` for the main stack, else the index into `aux`.
    pub aux: Option<usize>,
    /// Index into that stack.
    pub index: usize,
    /// The frame's function.
    pub function: Option<String>,
    /// Its source path.
    pub file: Option<String>,
    /// Its line.
    pub line: Option<u32>,
    /// Its object.
    pub object: Option<String>,
}

/// One distinct record with what merging gathered.
#[derive(Debug, Clone, Serialize)]
pub struct Merged {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    /// Record kind.
    pub kind: String,
    /// How many records were merged into this one.
    pub count: u64,
    /// Every PID that reported it.
    pub pids: BTreeSet<u32>,
    /// Header of the first one.
    pub what: String,
    /// Bytes summed over merged records.
    pub bytes: Option<u64>,
    /// Direct bytes summed.
    pub direct: Option<u64>,
    /// Indirect bytes summed.
    pub indirect: Option<u64>,
    /// Blocks summed.
    pub blocks: Option<u64>,
    /// Loss record number of the first one.
    pub loss_record: Option<u64>,
    /// Loss record total of the first one.
    pub loss_records_total: Option<u64>,
    /// Thread of the first one.
    pub tid: Option<u32>,
    /// True when any merged record was cut by the end of its input.
    pub truncated: bool,
    /// The suppression that matched (suppressed records only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<String>,
    /// The first project frame.
    pub project_frame: Option<ProjectFrame>,
    /// Main stack of the first one.
    pub stack: Vec<Frame>,
    /// Auxiliary stacks of the first one.
    pub aux: Vec<memcheck::AuxStack>,
    /// Inputs it was read from.
    pub inputs: BTreeSet<String>,
}

impl Merged {
    fn new(
        rec: Record,
        input: &str,
        project_frame: Option<ProjectFrame>,
        suppression: Option<String>,
    ) -> Self {
        Merged {
            kind_tag: if suppression.is_some() {
                "suppressed"
            } else {
                "error"
            },
            kind: rec.kind,
            count: 1,
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
            suppression,
            project_frame,
            stack: rec.stack,
            aux: rec.aux,
            inputs: [input.to_string()].into_iter().collect(),
        }
    }

    fn absorb(&mut self, rec: &Record, input: &str) {
        fn add(a: &mut Option<u64>, b: Option<u64>) {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0).saturating_add(b));
            }
        }
        self.count += 1;
        self.pids.extend(rec.pid);
        add(&mut self.bytes, rec.bytes);
        add(&mut self.direct, rec.direct);
        add(&mut self.indirect, rec.indirect);
        add(&mut self.blocks, rec.blocks);
        self.truncated |= rec.truncated;
        if !self.inputs.contains(input) {
            self.inputs.insert(input.to_string());
        }
    }
}

/// What makes two records "the same": kind and function frames (no addresses, lines, PIDs).
type MergeKey = (String, Vec<String>);

fn merge_key(rec: &Record) -> MergeKey {
    (
        rec.kind.clone(),
        rec.stack.iter().map(|f| f.identity().to_string()).collect(),
    )
}

/// A table of distinct records in first-seen order.
#[derive(Default)]
struct Table {
    order: Vec<Merged>,
    index: HashMap<MergeKey, usize>,
}

impl Table {
    fn add(
        &mut self,
        rec: Record,
        input: &str,
        merge: bool,
        pf: Option<ProjectFrame>,
        supp: Option<String>,
    ) {
        if merge {
            let key = merge_key(&rec);
            if let Some(&i) = self.index.get(&key) {
                self.order[i].absorb(&rec, input);
                return;
            }
            self.index.insert(key, self.order.len());
        }
        self.order.push(Merged::new(rec, input, pf, supp));
    }
}

/// The records suppression generation works from.
#[derive(Default)]
struct Baseline {
    /// Distinct records that are not the project's: to be suppressed.
    others: Vec<Record>,
    /// Merge keys of `others`, so each distinct record is kept once.
    seen: HashSet<MergeKey>,
    /// The project's records: to stay clear of.
    project: Vec<Record>,
}

/// Bytes read before telling text from XML (after leading blanks, the longest marker).
const HEAD: usize = 4096;

/// The filter's state across inputs.
pub struct Filter {
    opts: Options,
    kept: Table,
    suppressed: Table,
    /// What `--gen-suppressions` needs; `None` without it.
    baseline: Option<Baseline>,
    summary: Summary,
    /// Demangled forms of suppression patterns, computed once each.
    demangled: RefCell<HashMap<String, Option<String>>>,
}

impl Filter {
    /// A filter with these options; `gen_suppressions` keeps what generation needs.
    pub fn new(opts: Options, gen_suppressions: bool) -> Self {
        Filter {
            opts,
            kept: Table::default(),
            suppressed: Table::default(),
            baseline: gen_suppressions.then(Baseline::default),
            demangled: RefCell::default(),
            summary: Summary {
                kind: "summary",
                tool: "vg-filter",
                schema: SCHEMA,
                ..Summary::default()
            },
        }
    }

    /// Reads one input (text or XML, told apart by its first bytes).
    pub fn read<R: BufRead>(&mut self, input: &str, mut reader: R) -> Result<(), Error> {
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
        let format = memcheck::detect(&head);
        let reader = io::Read::chain(io::Cursor::new(head), reader);
        let mut stats = ParseStats::default();
        let mut sink = |rec: Record| self.record(input, rec);
        let result = match format {
            memcheck::Format::Text => memcheck::text::parse(input, reader, &mut stats, &mut sink),
            memcheck::Format::Xml => memcheck::xml::parse(input, reader, &mut stats, &mut sink),
        };
        self.summary.inputs += 1;
        self.summary.parse.add(&stats);
        result
    }

    fn record(&mut self, input: &str, rec: Record) {
        self.summary.records += 1;
        // Generated suppressions name functions mangled (`fun:_Znwm`), text logs print them
        // demangled: try both.
        let names = &self.demangled;
        let alt = |p: &str| {
            names
                .borrow_mut()
                .entry(p.to_string())
                .or_insert_with(|| demangle::demangle(p))
                .clone()
        };
        if let Some(s) = suppressions::find_with(&self.opts.suppressions, &rec, &alt) {
            let name = s.name.clone();
            self.summary.suppressed += 1;
            *self
                .summary
                .suppressions_used
                .entry(name.clone())
                .or_default() += 1;
            if self.opts.show_suppressed {
                self.suppressed
                    .add(rec, input, self.opts.merge, None, Some(name));
            }
            return;
        }
        let pf = project_frame(&mut self.opts.project, &rec);
        let is_project = pf.is_some() || self.opts.project.is_everything();
        if let Some(b) = &mut self.baseline {
            if is_project && !self.opts.project.is_everything() {
                b.project.push(rec.clone());
            } else if b.seen.insert(merge_key(&rec)) {
                b.others.push(rec.clone());
            }
        }
        if !is_project {
            self.summary.not_project += 1;
            return;
        }
        self.summary.kept += 1;
        self.summary.kept_bytes = self
            .summary
            .kept_bytes
            .saturating_add(rec.bytes.unwrap_or(0));
        if self.fails(&rec.kind) {
            self.summary.failing += 1;
        }
        self.kept.add(rec, input, self.opts.merge, pf, None);
    }

    fn fails(&self, kind: &str) -> bool {
        match &self.opts.fail_on {
            Some(kinds) => kinds.iter().any(|k| k == kind || k == "all"),
            None => kind != "Leak_StillReachable",
        }
    }

    /// Writes the report; returns the summary (its `failing` decides the exit status).
    pub fn finish<W: Write>(
        mut self,
        out: &mut Sink<W>,
        err: &mut dyn Write,
    ) -> io::Result<Summary> {
        self.summary.distinct = self.kept.order.len() as u64;
        match self.opts.format {
            Format::Jsonl => {
                for m in self.kept.order.iter().chain(&self.suppressed.order) {
                    out.json(m)?;
                }
                out.json(&self.summary)?;
            }
            Format::Csv => {
                write_csv(out, self.kept.order.iter().chain(&self.suppressed.order))?;
                writeln!(err, "vg-filter: {}", summary_line(&self.summary))?;
            }
            Format::Text => {
                for m in self.kept.order.iter().chain(&self.suppressed.order) {
                    out.text(&text_record(m))?;
                }
                out.text(&format!("{}\n", summary_line(&self.summary)))?;
            }
            Format::Sarif => {
                let doc = sarif(&self.kept.order, self.opts.root.as_deref(), &self.summary);
                out.text(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&doc).map_err(io::Error::from)?
                ))?;
            }
        }
        out.flush()?;
        Ok(self.summary)
    }

    /// The suppression file covering the records that are not the project's.
    pub fn generated_suppressions(&self, name_prefix: &str) -> String {
        let Some(base) = &self.baseline else {
            return String::new();
        };
        let b: Vec<&Record> = base.others.iter().collect();
        let p: Vec<&Record> = base.project.iter().collect();
        let opts = GenerateOptions {
            name_prefix: name_prefix.to_string(),
            ..GenerateOptions::default()
        };
        let supps = suppressions::generate(&b, &p, &opts);
        let mut text = format!(
            "# Generated by vg-filter --gen-suppressions from {} distinct records that are not the\n\
             # project's ({} read); {} suppressions. Each keeps the shortest frame prefix that\n\
             # reaches past the allocator into its caller and matches no project record.\n",
            base.others.len(),
            self.summary.records,
            supps.len()
        );
        for s in &supps {
            text.push_str(&s.to_text());
        }
        text
    }
}

fn project_frame(project: &mut Project, rec: &Record) -> Option<ProjectFrame> {
    if project.is_everything() {
        return None;
    }
    let stacks = std::iter::once((None, &rec.stack))
        .chain(rec.aux.iter().enumerate().map(|(i, a)| (Some(i), &a.stack)));
    for (aux, stack) in stacks {
        if let Some(index) = project.first_in(stack) {
            let f = &stack[index];
            return Some(ProjectFrame {
                aux,
                index,
                function: f.function.clone(),
                file: f.file.clone(),
                line: f.line,
                object: f.object.clone(),
            });
        }
    }
    None
}

/// `3 kept (2 distinct), 1,700 suppressed, 12 not project of 1,715 records; 0 unparsed lines`
fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{} kept ({} distinct, {} failing), {} suppressed, {} not project, of {} records from {} input(s)",
        s.kept, s.distinct, s.failing, s.suppressed, s.not_project, s.records, s.inputs
    );
    for (n, what) in [
        (s.parse.unparsed_lines, "unparsed lines"),
        (s.parse.truncated_records, "truncated records"),
        (s.parse.long_lines, "cut long lines"),
        (s.parse.dropped_frames, "dropped frames"),
        (s.parse.dropped_aux, "dropped aux descriptions"),
        (s.parse.unknown_elements, "unknown XML elements"),
    ] {
        if n > 0 {
            line.push_str(&format!("; {n} {what}"));
        }
    }
    line
}

fn frame_text(f: &Frame) -> String {
    let func = f.function.as_deref().unwrap_or("???");
    match (f.file.clone(), f.line, &f.object) {
        (Some(p), Some(l), _) => format!("{func} ({p}:{l})"),
        (Some(p), None, _) => format!("{func} ({p})"),
        (None, _, Some(o)) => format!("{func} (in {o})"),
        _ => func.to_string(),
    }
}

/// A record for a person: kind, size and count on one line, then the frames down to the
/// project frame and two of its callers.
fn text_record(m: &Merged) -> String {
    let mut s = format!("{}: {}", m.kind, m.what);
    if m.count > 1 {
        s.push_str(&format!("  (x{}", m.count));
        if let Some(b) = m.bytes {
            s.push_str(&format!(", {b} bytes in all"));
        }
        s.push(')');
    }
    if let Some(name) = &m.suppression {
        s.push_str(&format!("  [suppressed by {name}]"));
    }
    s.push('\n');
    let (pf_aux, pf_index) = match &m.project_frame {
        Some(p) => (p.aux, Some(p.index)),
        None => (None, None),
    };
    let mut stack_text = |label: Option<&str>, stack: &[Frame], mark: Option<usize>| {
        if let Some(label) = label {
            s.push_str(&format!("  {label}\n"));
        }
        let shown = mark.map_or(4, |i| i + 3).min(stack.len());
        for (i, f) in stack.iter().take(shown).enumerate() {
            let arrow = if Some(i) == mark { "  <- project" } else { "" };
            s.push_str(&format!(
                "    {} {}{arrow}\n",
                if i == 0 { "at" } else { "by" },
                frame_text(f)
            ));
        }
        if stack.len() > shown {
            s.push_str(&format!("    ... {} more frames\n", stack.len() - shown));
        }
    };
    stack_text(
        None,
        &m.stack,
        if pf_aux.is_none() { pf_index } else { None },
    );
    for (i, a) in m.aux.iter().enumerate() {
        stack_text(
            Some(&a.what),
            &a.stack,
            if pf_aux == Some(i) { pf_index } else { None },
        );
    }
    s.push('\n');
    s
}

fn write_csv<'a, W: Write>(
    out: &mut Sink<W>,
    rows: impl Iterator<Item = &'a Merged>,
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(&mut *out);
    w.write_record([
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
    ])?;
    for m in rows {
        let top = m.stack.first();
        let (func, file, line, obj) = match &m.project_frame {
            Some(p) => (p.function.clone(), p.file.clone(), p.line, p.object.clone()),
            None => (
                top.and_then(|f| f.function.clone()),
                top.and_then(|f| f.file.clone()),
                top.and_then(|f| f.line),
                top.and_then(|f| f.object.clone()),
            ),
        };
        let pids: Vec<String> = m.pids.iter().map(u32::to_string).collect();
        w.write_record([
            m.kind.clone(),
            m.count.to_string(),
            m.bytes.map(|b| b.to_string()).unwrap_or_default(),
            m.blocks.map(|b| b.to_string()).unwrap_or_default(),
            pids.join(" "),
            m.what.clone(),
            func.unwrap_or_default(),
            file.unwrap_or_default(),
            line.map(|l| l.to_string()).unwrap_or_default(),
            obj.unwrap_or_default(),
            m.suppression.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// SARIF 2.1.0: one result per distinct kept record, located at its project frame (else its
/// top frame), with the whole stack as a SARIF stack so code-scanning UIs can show it.
fn sarif(records: &[Merged], root: Option<&str>, summary: &Summary) -> serde_json::Value {
    use serde_json::json;
    let relative = |p: &str| -> String {
        match root.and_then(|r| p.strip_prefix(r)) {
            Some(rest) => rest.trim_start_matches('/').to_string(),
            None => p.to_string(),
        }
    };
    let location = |function: Option<&str>, file: Option<String>, line: Option<u32>| {
        let mut phys = json!({});
        if let Some(file) = file {
            phys["artifactLocation"] = json!({ "uri": relative(&file) });
            if let Some(line) = line.filter(|&l| l > 0) {
                phys["region"] = json!({ "startLine": line });
            }
        }
        let mut loc = json!({ "physicalLocation": phys });
        if let Some(function) = function {
            loc["logicalLocations"] = json!([{ "fullyQualifiedName": function, "kind": "function" }]);
        }
        loc
    };
    let kinds: BTreeSet<&str> = records.iter().map(|m| m.kind.as_str()).collect();
    let rules: Vec<_> = kinds
        .iter()
        .map(|k| json!({ "id": k, "shortDescription": { "text": format!("Valgrind Memcheck {k}") } }))
        .collect();
    let results: Vec<_> = records
        .iter()
        .map(|m| {
            let (func, file, line) = match &m.project_frame {
                Some(p) => (p.function.clone(), p.file.clone(), p.line),
                None => {
                    let top = m.stack.first();
                    (
                        top.and_then(|f| f.function.clone()),
                        top.and_then(|f| f.file.clone()),
                        top.and_then(|f| f.line),
                    )
                }
            };
            let level = match m.kind.as_str() {
                "Leak_StillReachable" => "note",
                "Leak_PossiblyLost" | "Leak_IndirectlyLost" => "warning",
                _ => "error",
            };
            let frames: Vec<_> = m
                .stack
                .iter()
                .map(
                    |f| json!({ "location": location(f.function.as_deref(), f.file.clone(), f.line) }),
                )
                .collect();
            let key = merge_key_text(m);
            json!({
                "ruleId": m.kind,
                "level": level,
                "message": { "text": format!("{} (seen {} times)", m.what, m.count) },
                "locations": [location(func.as_deref(), file, line)],
                "stacks": [{ "frames": frames }],
                "partialFingerprints": { "vgFilterStack/v1": key },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "vg-filter", "rules": rules } },
            "results": results,
            "properties": { "summary": summary },
        }]
    })
}

fn merge_key_text(m: &Merged) -> String {
    // FNV-1a over kind and function frames: stable across runs and machines.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |s: &str| {
        for b in s.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(&m.kind);
    for f in &m.stack {
        feed(f.identity());
    }
    format!("{h:016x}")
}
