//! vg-filter's printers: the text report for a person and the SARIF document for code
//! scanning; JSON lines and CSV are the shared printers of [`crate::output`].

use crate::frame::Frame;
use crate::memcheck::records::{
    fingerprint, BaselineMark, ErrorRecord, FatalSignalRecord, FixedRecord, PanicRecord, Record,
    Summary,
};
use crate::output::{Csv, Format, JsonLines, Printer, Sink};
use serde_json::json;
use std::collections::BTreeSet;
use std::io::{self, Write};

/// The printer for `format`, writing to `out` (CSV's summary and notes go to `notes`).
/// `root` is the project root: SARIF locations are relative to it.
pub fn printer<'a, W: Write + 'a>(
    format: Format,
    out: Sink<W>,
    notes: Box<dyn Write>,
    line_buffered: bool,
    root: Option<String>,
) -> Box<dyn Printer<Record> + 'a> {
    match format {
        Format::Jsonl => Box::new(JsonLines::new(out)),
        Format::Csv => Box::new(Csv::new(out, notes, line_buffered)),
        Format::Text => Box::new(Text { out }),
        Format::Sarif => Box::new(Sarif {
            out,
            root,
            results: Vec::new(),
            reports: Vec::new(),
        }),
    }
}

/// The text report: each record's kind and header, then its frames down to the project frame
/// and two of its callers, the auxiliary stacks likewise; the summary line last.
pub struct Text<W: Write> {
    out: Sink<W>,
}

impl<W: Write> Printer<Record> for Text<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Error(r) => self.out.text(&text_record(r, None)),
            Record::Suppressed(s) => self.out.text(&text_record(&s.record, Some(&s.suppression))),
            Record::FatalSignal(f) => self.out.text(&text_fatal_signal(f)),
            Record::ValgrindPanic(p) => self.out.text(&text_panic(p)),
            Record::Fixed(f) => self.out.text(&text_fixed(f)),
            Record::Summary(s) => self.out.text(&format!("{}\n", s.line())),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn frame_text(f: &Frame) -> String {
    let function = f.function.as_deref().unwrap_or("???");
    match (&f.file, f.line, &f.object) {
        (Some(p), Some(l), _) => format!("{function} ({p}:{l})"),
        (Some(p), None, _) => format!("{function} ({p})"),
        (None, _, Some(o)) => format!("{function} (in {o})"),
        _ => function.to_string(),
    }
}

/// A stack for a person: down to the frame marked and two of its callers (else four frames).
fn stack_lines(s: &mut String, stack: &[Frame], mark: Option<usize>) {
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
}

/// A fatal signal for a person: the report's line and PID, what explains it, the stack.
fn text_fatal_signal(f: &FatalSignalRecord) -> String {
    let mark = f.project_frame.as_ref().map(|p| p.index);
    text_report("FatalSignal", f.pid, &f.what, &f.details, &f.stack, mark)
}

/// Valgrind's failure for a person: its line, its explanation, the client's stack.
fn text_panic(p: &PanicRecord) -> String {
    text_report("ValgrindPanic", p.pid, &p.what, &p.details, &p.stack, None)
}

/// A report that is not an error record: what, PID, the lines explaining it, the stack.
fn text_report(
    kind: &str,
    pid: Option<u32>,
    what: &str,
    details: &[String],
    stack: &[Frame],
    mark: Option<usize>,
) -> String {
    let mut s = format!("{kind}: {what}");
    if let Some(pid) = pid {
        s.push_str(&format!("  [pid {pid}]"));
    }
    s.push('\n');
    for d in details {
        s.push_str(&format!("  {d}\n"));
    }
    stack_lines(&mut s, stack, mark);
    s.push('\n');
    s
}

/// One record for a person: kind, header and count on one line, then the frames.
/// A baseline record that this run no longer has: one line.
fn text_fixed(f: &FixedRecord) -> String {
    let at = f
        .project_frame
        .as_ref()
        .map(|p| format!(" at {}", frame_text(&p.frame)))
        .unwrap_or_default();
    format!("fixed: {}: {}{at}  [{}]\n\n", f.kind, f.what, f.fingerprint)
}

fn text_record(m: &ErrorRecord, suppression: Option<&str>) -> String {
    let mut s = format!("{}: {}", m.kind, m.what);
    if m.count > 1 {
        s.push_str(&format!("  (x{}", m.count));
        if let Some(b) = m.bytes {
            s.push_str(&format!(", {b} bytes in all"));
        }
        s.push(')');
    }
    if m.module_init {
        s.push_str("  (module init)");
    }
    if let Some(mark) = m.baseline {
        s.push_str(&format!("  [{}]", mark.as_str()));
    }
    if let Some(n) = m.occurrences.filter(|&n| n > m.count) {
        s.push_str(&format!("  (occurred {n} times)"));
    }
    if let Some(name) = suppression {
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
        stack_lines(&mut s, stack, mark);
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

/// SARIF 2.1.0: one result per distinct kept record, located at its project frame (else its
/// top frame), with the whole stack as a SARIF stack so code-scanning UIs can show it. The
/// document is one JSON value, written when the summary arrives.
pub struct Sarif<W: Write> {
    out: Sink<W>,
    root: Option<String>,
    results: Vec<ErrorRecord>,
    /// Fatal signals and Valgrind's failures, as the error records they are shown like.
    reports: Vec<ErrorRecord>,
}

impl<W: Write> Printer<Record> for Sarif<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Error(r) => self.results.push(r.clone()),
            // Suppressed records are not findings, and fixed ones are gone.
            Record::Suppressed(_) | Record::Fixed(_) => {}
            Record::FatalSignal(f) => {
                let mut report = report_as_error(
                    "FatalSignal",
                    f.pid,
                    &f.what,
                    &f.stack,
                    f.project_frame.clone(),
                    &f.inputs,
                );
                report.fingerprint = f.fingerprint.clone();
                report.baseline = f.baseline;
                self.reports.push(report)
            }
            Record::ValgrindPanic(p) => self.reports.push(report_as_error(
                "ValgrindPanic",
                p.pid,
                &p.what,
                &p.stack,
                None,
                &p.inputs,
            )),
            Record::Summary(s) => {
                let mut all = std::mem::take(&mut self.results);
                all.append(&mut self.reports);
                let doc = sarif(&all, self.root.as_deref(), s);
                let text = serde_json::to_string_pretty(&doc).map_err(io::Error::from)?;
                self.out.text(&text)?;
                self.out.text("\n")?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A fatal signal or Valgrind failure in the shape of an error record, for SARIF.
fn report_as_error(
    kind: &str,
    pid: Option<u32>,
    what: &str,
    stack: &[Frame],
    project_frame: Option<crate::memcheck::records::ProjectFrame>,
    inputs: &BTreeSet<String>,
) -> ErrorRecord {
    ErrorRecord {
        kind: kind.to_string(),
        count: 1,
        occurrences: None,
        pids: pid.into_iter().collect(),
        what: what.to_string(),
        bytes: None,
        direct: None,
        indirect: None,
        blocks: None,
        loss_record: None,
        loss_records_total: None,
        tid: None,
        truncated: false,
        module_init: false,
        fingerprint: String::new(),
        baseline: None,
        project_frame,
        stack: stack.to_vec(),
        aux: Vec::new(),
        inputs: inputs.clone(),
    }
}

fn sarif(records: &[ErrorRecord], root: Option<&str>, summary: &Summary) -> serde_json::Value {
    let relative = |p: &str| -> String {
        match root.and_then(|r| p.strip_prefix(r)) {
            Some(rest) => rest.trim_start_matches('/').to_string(),
            None => p.to_string(),
        }
    };
    let location = |f: Option<&Frame>| {
        let mut phys = json!({});
        if let Some(file) = f.and_then(|f| f.file.as_deref()) {
            phys["artifactLocation"] = json!({ "uri": relative(file) });
            if let Some(line) = f.and_then(|f| f.line).filter(|&l| l > 0) {
                phys["region"] = json!({ "startLine": line });
            }
        }
        let mut loc = json!({ "physicalLocation": phys });
        if let Some(function) = f.and_then(|f| f.function.as_deref()) {
            loc["logicalLocations"] =
                json!([{ "fullyQualifiedName": function, "kind": "function" }]);
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
            let level = match m.kind.as_str() {
                _ if m.module_init => "note",
                "Leak_StillReachable" => "note",
                "Leak_PossiblyLost" | "Leak_IndirectlyLost" | "ValgrindPanic" => "warning",
                _ => "error",
            };
            let frames: Vec<_> = m
                .stack
                .iter()
                .map(|f| json!({ "location": location(Some(f)) }))
                .collect();
            let mut result = json!({
                "ruleId": m.kind,
                "level": level,
                "message": { "text": format!("{} (seen {} times)", m.what, m.count) },
                "locations": [location(m.location())],
                "stacks": [{ "frames": frames }],
                // Code scanning tracks an alert across commits by it.
                "partialFingerprints": { "dbgpipe/v1": fingerprint_of(m) },
            });
            if let Some(mark) = m.baseline {
                result["baselineState"] = json!(match mark {
                    BaselineMark::New => "new",
                    BaselineMark::Known => "unchanged",
                });
            }
            result
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

/// The record's fingerprint; a fatal signal or a Valgrind failure shown as a record has
/// none of its own and gets one from its whole stack.
fn fingerprint_of(m: &ErrorRecord) -> String {
    if m.fingerprint.is_empty() {
        fingerprint(&m.kind, &m.stack, m.stack.len())
    } else {
        m.fingerprint.clone()
    }
}
