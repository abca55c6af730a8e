//! ptrace-fix's reading of its inputs, and its records: gdb's output (or ptrace-fix's own
//! JSON lines) in, the `diagnosis`, `ptrace` and `summary` records out, through a
//! [`Printer`] that alone knows the format.
//!
//! An input is told by its first bytes ([`Content`]): an executable or binary data is refused
//! naming it; JSON lines are ptrace-fix's records read back (`diagnosis` records merge into
//! this run's, which explains them again with this machine's facts; the earlier run's
//! `change`, `ptrace` and `summary` records are replaced by this run's; lines of other types
//! or tools are passed on unchanged); anything else is gdb's output, read line by line with
//! lines cut at [`MAX_LINE`].
//!
//! The inputs are read before anything is changed (`--apply`), so that a bad input changes
//! nothing; the records are written at the end ([`Filter::finish`]), with the facts as they
//! are after the changes.

use crate::input::{read_line, Content, MAX_LINE};
use crate::output::{Printer, SCHEMA};
use crate::ptrace::diagnosis::{diagnose, report, Probe};
use crate::ptrace::facts::Facts;
use crate::ptrace::gdb::{Found, Line, Symptoms};
use crate::ptrace::records::{Change, Diagnosis, Record, Summary};
use crate::Error;
use std::io::BufRead;

/// The tool's name in its summary.
pub const TOOL: &str = "ptrace-fix";

/// How the lines of one input, or of all, were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines read.
    pub lines: u64,
    /// Lines cut at [`MAX_LINE`].
    pub long_lines: u64,
    /// Lines in which gdb says ptrace was refused.
    pub symptom_lines: u64,
    /// Other lines of gdb's.
    pub gdb_lines: u64,
    /// ptrace-fix's own records read back.
    pub record_lines: u64,
    /// JSON lines of other types or tools, passed on.
    pub passed_lines: u64,
    /// The rest.
    pub other_lines: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.lines += other.lines;
        self.long_lines += other.long_lines;
        self.symptom_lines += other.symptom_lines;
        self.gdb_lines += other.gdb_lines;
        self.record_lines += other.record_lines;
        self.passed_lines += other.passed_lines;
        self.other_lines += other.other_lines;
    }

    /// A one-line hint for an input of which nothing was recognised: neither gdb's lines nor
    /// ptrace-fix's records, so that its diagnosis of "nothing" is no false comfort. `None`
    /// for an empty input and for one with something recognised.
    pub fn hint(&self, input: &str) -> Option<String> {
        let recognised = self.symptom_lines + self.gdb_lines + self.record_lines;
        (self.lines > 0 && recognised == 0).then(|| {
            format!(
                "{input}: no line of gdb's among its {} line{}: ptrace-fix reads what gdb \
                 printed (`gdb -batch -ex run --args PROG 2>&1 | ptrace-fix -`)",
                self.lines,
                if self.lines == 1 { "" } else { "s" }
            )
        })
    }
}

/// Reads the inputs; see the module documentation.
#[derive(Debug, Default)]
pub struct Filter {
    symptoms: Symptoms,
    counts: Counts,
    inputs: u64,
    buf: Vec<u8>,
}

impl Filter {
    /// A filter that has read nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one input named `input`, passing JSON lines of other types on to `out`; returns
    /// how its lines were read (for [`Counts::hint`]). An executable or binary input is an
    /// error naming it, as is a read error or a malformed `diagnosis` record.
    pub fn read(
        &mut self,
        input: &str,
        reader: &mut dyn BufRead,
        out: &mut dyn Printer<Record>,
    ) -> Result<Counts, Error> {
        self.inputs += 1;
        let content = Content::of(reader.fill_buf().map_err(|e| Error::io(input, &e))?);
        match content {
            Content::Elf => {
                return Err(Error::at(
                    input,
                    None,
                    "is an executable or shared object, not gdb's output (ptrace-fix reads what \
                     gdb printed: `gdb -batch -ex run --args PROG 2>&1 | ptrace-fix -`)",
                ))
            }
            other => {
                if let Some(e) = other.refuse(input) {
                    return Err(e);
                }
            }
        }
        let records = content == Content::JsonLines;
        let mut counts = Counts::default();
        // The buffer is taken out while a line borrows it; an error leaves a new one.
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(end) =
            read_line(reader, &mut buf, MAX_LINE).map_err(|e| Error::io(input, &e))?
        {
            counts.lines += 1;
            counts.long_lines += u64::from(end.cut);
            let text = String::from_utf8_lossy(&buf);
            if records && self.record(input, counts.lines, &text, &buf, &mut counts, out)? {
                continue;
            }
            match self.symptoms.line(input, counts.lines, &text) {
                Line::Symptom(_) => counts.symptom_lines += 1,
                Line::Gdb => counts.gdb_lines += 1,
                Line::Other => counts.other_lines += 1,
            }
        }
        self.buf = buf;
        self.counts.add(&counts);
        Ok(counts)
    }

    /// A line of a JSON-lines input: true when it was a JSON object, and so taken (one of
    /// ptrace-fix's records) or passed on (another type's); false for text, which is read as
    /// gdb's.
    fn record(
        &mut self,
        input: &str,
        number: u64,
        text: &str,
        bytes: &[u8],
        counts: &mut Counts,
        out: &mut dyn Printer<Record>,
    ) -> Result<bool, Error> {
        let Ok(serde_json::Value::Object(object)) = serde_json::from_str(text.trim()) else {
            return Ok(false);
        };
        let kind = object.get("type").and_then(|t| t.as_str());
        let tool = object.get("tool").and_then(|t| t.as_str());
        match kind {
            Some("diagnosis") => {
                let d: Diagnosis = serde_json::from_value(serde_json::Value::Object(object))
                    .map_err(|e| {
                        Error::at(
                            input,
                            Some(number),
                            format!("malformed diagnosis record: {e}"),
                        )
                    })?;
                self.symptoms.add(Found {
                    symptom: d.symptom,
                    input: d.input,
                    line: d.line,
                    count: d.count,
                    text: d.text,
                });
                counts.record_lines += 1;
            }
            // This run's records replace them.
            Some("change" | "ptrace") => counts.record_lines += 1,
            Some("summary") if tool == Some(TOOL) => counts.record_lines += 1,
            _ => {
                let mut line = bytes.to_vec();
                line.push(b'\n');
                out.passthrough(&line)?;
                counts.passed_lines += 1;
            }
        }
        Ok(true)
    }

    /// Writes the records: `changes`, a diagnosis per symptom found (explained with `facts`,
    /// this machine's after the changes), the `ptrace` record (the `probe` deciding when there
    /// is one), and the summary, which is returned.
    pub fn finish(
        self,
        facts: &Facts,
        probe: Option<&Probe>,
        changes: &[Change],
        out: &mut dyn Printer<Record>,
    ) -> Result<Summary, Error> {
        for c in changes {
            out.record(&Record::Change(c.clone()))?;
        }
        let diagnoses = diagnose(self.symptoms.found(), facts);
        for d in &diagnoses {
            out.record(&Record::Diagnosis(d.clone()))?;
        }
        let report = report(facts, probe);
        let can_run = report.can_run;
        out.record(&Record::Ptrace(report))?;
        let c = self.counts;
        let summary = Summary {
            tool: TOOL.into(),
            schema: SCHEMA,
            can_run,
            inputs: self.inputs,
            lines: c.lines,
            long_lines: c.long_lines,
            symptom_lines: c.symptom_lines,
            gdb_lines: c.gdb_lines,
            record_lines: c.record_lines,
            passed_lines: c.passed_lines,
            other_lines: c.other_lines,
            diagnoses: diagnoses.len() as u64,
            blocking: diagnoses.iter().filter(|d| d.blocking).count() as u64,
            changes: changes.iter().filter(|c| c.changed).count() as u64,
        };
        out.record(&Record::Summary(summary.clone()))?;
        out.finish()?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{JsonLines, Sink};
    use crate::ptrace::gdb::Symptom;

    fn facts() -> Facts {
        Facts {
            yama: Some(1),
            cap_sys_ptrace: false,
            seccomp: Some(0),
            no_new_privs: Some(false),
            euid: Some(1000),
            container: None,
            kernel: Some("6.1.0".into()),
        }
    }

    /// Runs the filter over `inputs` and returns its JSON lines and summary.
    fn run(inputs: &[(&str, &[u8])]) -> Result<(Vec<String>, Summary, Vec<Counts>), Error> {
        let mut bytes = Vec::new();
        let mut counts = Vec::new();
        let summary = {
            let mut out = JsonLines::new(Sink::new(&mut bytes, false));
            let mut filter = Filter::new();
            for (name, input) in inputs {
                counts.push(filter.read(name, &mut &input[..], &mut out)?);
            }
            filter.finish(&facts(), None, &[], &mut out)?
        };
        let lines = String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        Ok((lines, summary, counts))
    }

    const GDB: &[u8] = b"Attaching to process 4242\n\
        Could not attach to process.  If your uid matches the uid of the target\n\
        ptrace: Operation not permitted.\n\
        hello from the program\n";

    #[test]
    fn lines_add_up_and_symptoms_become_diagnoses() {
        let (lines, s, counts) = run(&[("gdb.txt", GDB)]).unwrap();
        assert_eq!(
            (s.lines, s.symptom_lines, s.gdb_lines, s.other_lines),
            (4, 2, 1, 1)
        );
        assert_eq!((s.diagnoses, s.blocking, s.inputs), (2, 2, 1));
        assert_eq!(counts[0].hint("gdb.txt"), None);
        let types: Vec<String> = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
            .collect();
        assert_eq!(
            types,
            [
                "\"diagnosis\"",
                "\"diagnosis\"",
                "\"ptrace\"",
                "\"summary\""
            ]
        );
        assert!(lines[3].contains("\"schema\":2"), "{}", lines[3]);
    }

    /// The JSON lines of one run, read back: the same diagnoses (merged with a second input
    /// of gdb's), other tools' lines passed on, the earlier run's own records replaced.
    #[test]
    fn its_own_records_read_back() {
        let (first, _, _) = run(&[("gdb.txt", GDB)]).unwrap();
        let mut jsonl = first.join("\n") + "\n";
        jsonl.push_str("{\"type\":\"frame\",\"tool\":\"bt-demangle\"}\n");
        jsonl.push_str("{\"type\":\"summary\",\"tool\":\"bt-demangle\",\"schema\":2}\n");
        let (lines, s, counts) = run(&[("a.jsonl", jsonl.as_bytes()), ("gdb.txt", GDB)]).unwrap();
        assert_eq!((s.record_lines, s.passed_lines), (4, 2));
        assert_eq!(s.lines, 6 + 4);
        assert_eq!(
            s.lines,
            s.symptom_lines + s.gdb_lines + s.record_lines + s.passed_lines + s.other_lines
        );
        assert_eq!(counts[0].hint("a.jsonl"), None);
        assert_eq!(lines[0], "{\"type\":\"frame\",\"tool\":\"bt-demangle\"}");
        let d: Vec<Record> = lines[2..4]
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        match &d[0] {
            Record::Diagnosis(d) => {
                assert_eq!((d.symptom, d.count), (Symptom::AttachDenied, 2));
                assert_eq!((d.input.as_str(), d.line), ("gdb.txt", 2));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.diagnoses, 2);
        let summaries = lines.iter().filter(|l| l.contains("\"summary\"")).count();
        assert_eq!(summaries, 2, "bt-demangle's and this run's: {lines:?}");
    }

    #[test]
    fn a_malformed_diagnosis_is_an_error_at_its_line() {
        let input = b"{\"type\":\"ptrace\"}\n{\"type\":\"diagnosis\",\"symptom\":\"nope\"}\n";
        let e = run(&[("x.jsonl", input)]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.jsonl:2: malformed diagnosis record"),
            "{e}"
        );
    }

    #[test]
    fn no_gdb_line_is_a_hint_and_binary_an_error() {
        let (_, s, counts) = run(&[("notes.txt", b"just\nsome text\n"), ("e", b"")]).unwrap();
        assert_eq!((s.lines, s.other_lines, s.diagnoses), (2, 2, 0));
        let hint = counts[0].hint("notes.txt").unwrap();
        assert!(
            hint.starts_with("notes.txt: no line of gdb's among its 2 lines"),
            "{hint}"
        );
        assert!(!hint.contains('\n'));
        assert_eq!(counts[1].hint("e"), None, "an empty input is no mistake");
        let e = run(&[("prog", b"\x7fELF\x02\x01\x01\0\0\0")]).unwrap_err();
        assert!(e.to_string().starts_with("prog: is an executable"), "{e}");
        let e = run(&[("noise", b"\x01\x02\x03\0\x04")]).unwrap_err();
        assert_eq!(e.to_string(), "noise: is binary data, not a log");
    }

    #[test]
    fn long_lines_are_cut_and_counted() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\nptrace: Operation not permitted.\n");
        let (_, s, _) = run(&[("big", &input)]).unwrap();
        assert_eq!((s.lines, s.long_lines, s.symptom_lines), (2, 1, 1));
    }
}
