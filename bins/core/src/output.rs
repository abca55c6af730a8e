//! Output shared by every tool: the formats, the printer a filter writes its records to, the
//! JSON-lines and CSV printers, and the rules for a closed pipe.
//!
//! Every filter has the same shape: input → records → printer. A filter builds its records
//! (each tool's `records` module) and hands each to a [`Printer`]; it never asks which format
//! is wanted. [`JsonLines`] prints any record; [`Csv`] prints any record that says what its
//! row is ([`CsvRow`]); the text printers, and SARIF, are the tools' own. A new format is one
//! new printer.
//!
//! JSON lines (schema [`SCHEMA`], documented in `SCHEMA.md`): one compact object per line,
//! `type` first, absent values `null`, field order stable (the order of the Rust struct
//! fields), and every run ends with a `{"type":"summary","tool":…,"schema":N,…}` line, even on
//! empty input.

use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// Version of the record schema; bumped when a field changes meaning or is removed.
/// 2: one frame shape for every tool (`function`, `file`, `line`, `object`).
pub const SCHEMA: u32 = 2;

/// The output formats. One definition for every tool; each offers the ones that fit it
/// ([`Format::parser`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line, closed by a summary (for programs).
    Jsonl,
    /// One row per record, with a header (for spreadsheets).
    Csv,
    /// A short report (for people).
    Text,
    /// One SARIF 2.1.0 document (for code-scanning services).
    Sarif,
}

impl Format {
    /// A clap value parser that accepts only `offered`, so that `--help` lists exactly the
    /// formats a tool has.
    pub fn parser(
        offered: &'static [Format],
    ) -> impl clap::builder::TypedValueParser<Value = Format> {
        use clap::builder::TypedValueParser;
        use clap::ValueEnum;
        clap::builder::PossibleValuesParser::new(
            offered.iter().filter_map(|f| f.to_possible_value()),
        )
        .map(|name: String| {
            Format::from_str(&name, false).expect("clap only passes the names it was given")
        })
    }
}

/// Where a filter's records go: one implementation per output format.
pub trait Printer<R> {
    /// Prints one record.
    fn record(&mut self, record: &R) -> io::Result<()>;

    /// A line of the input that is not one of this tool's records, with its newline: text a
    /// filter passes through (bt-demangle keeps gdb's other lines), or a JSON line of a type
    /// the tool does not know, which a JSON-lines printer passes on unchanged so that filters
    /// chain. Printers that have no place for it drop it.
    fn passthrough(&mut self, _line: &[u8]) -> io::Result<()> {
        Ok(())
    }

    /// The end of the output: writes what a format keeps for the end, then flushes.
    fn finish(&mut self) -> io::Result<()>;
}

/// A buffered writer of records and text that can flush after every line for live pipes.
pub struct Sink<W: Write> {
    out: io::BufWriter<W>,
    line_buffered: bool,
}

impl<W: Write> Sink<W> {
    /// Wraps a writer (usually stdout's lock).
    pub fn new(out: W, line_buffered: bool) -> Self {
        Sink {
            out: io::BufWriter::with_capacity(64 * 1024, out),
            line_buffered,
        }
    }

    /// Writes one record as one JSON line.
    pub fn json<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record).map_err(io::Error::from)?;
        self.out.write_all(b"\n")?;
        self.end_line()
    }

    /// Writes text as is (the caller includes newlines).
    pub fn text(&mut self, s: &str) -> io::Result<()> {
        self.bytes(s.as_bytes())
    }

    /// Writes bytes as they are, such as an input line that is not UTF-8 passed through (the
    /// caller includes the newline).
    pub fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        if b.ends_with(b"\n") {
            self.end_line()?;
        }
        Ok(())
    }

    /// Called at the end of each line: flushes when line-buffered.
    pub fn end_line(&mut self) -> io::Result<()> {
        if self.line_buffered {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flushes everything written so far.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The writer underneath (what was flushed to it so far).
    pub fn get_ref(&self) -> &W {
        self.out.get_ref()
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The JSON-lines printer: every record as one line; passed-through lines that are JSON
/// objects (records of other tools or types) are written unchanged, other text is dropped.
pub struct JsonLines<W: Write> {
    sink: Sink<W>,
}

impl<W: Write> JsonLines<W> {
    /// A printer writing to `sink`.
    pub fn new(sink: Sink<W>) -> Self {
        JsonLines { sink }
    }
}

impl<W: Write, R: Serialize> Printer<R> for JsonLines<W> {
    fn record(&mut self, record: &R) -> io::Result<()> {
        self.sink.json(record)
    }

    fn passthrough(&mut self, line: &[u8]) -> io::Result<()> {
        let trimmed = line.trim_ascii();
        // Braces alone are not enough: gdb prints structs as `{a = 1, b = 2}`, and a line
        // that is no JSON would make the output unreadable as JSON lines.
        if trimmed.starts_with(b"{")
            && trimmed.ends_with(b"}")
            && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok()
        {
            self.sink.bytes(trimmed)?;
            self.sink.bytes(b"\n")?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// What a record is in CSV: a row, a note for a person (written to standard error, as the
/// summary is: a CSV file holds rows of one shape), or nothing.
pub enum CsvLine {
    /// A row, one field per header column.
    Row(Vec<String>),
    /// One line for standard error.
    Note(String),
    /// The record has no place in the CSV.
    Skip,
}

/// A record type that can be printed as CSV.
pub trait CsvRow {
    /// The header row.
    const HEADER: &'static [&'static str];
    /// This record's line.
    fn csv(&self) -> CsvLine;
}

/// The CSV printer, through the `csv` crate (quoting, embedded newlines): the header first,
/// then a row per record that has one; notes go to `notes` (standard error).
pub struct Csv<W: Write> {
    out: csv::Writer<Sink<W>>,
    notes: Box<dyn Write>,
    header_written: bool,
    line_buffered: bool,
}

impl<W: Write> Csv<W> {
    /// A printer writing rows to `sink` and notes to `notes`.
    pub fn new(sink: Sink<W>, notes: Box<dyn Write>, line_buffered: bool) -> Self {
        Csv {
            out: csv::WriterBuilder::new().flexible(false).from_writer(sink),
            notes,
            header_written: false,
            line_buffered,
        }
    }

    fn header<R: CsvRow>(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            self.out.write_record(R::HEADER).map_err(csv_error)?;
        }
        Ok(())
    }
}

fn csv_error(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

impl<W: Write, R: CsvRow> Printer<R> for Csv<W> {
    fn record(&mut self, record: &R) -> io::Result<()> {
        match record.csv() {
            CsvLine::Row(fields) => {
                self.header::<R>()?;
                self.out.write_record(&fields).map_err(csv_error)?;
                if self.line_buffered {
                    self.out.flush()?;
                }
            }
            CsvLine::Note(text) => {
                self.header::<R>()?;
                writeln!(self.notes, "{text}")?;
            }
            CsvLine::Skip => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.notes.flush()
    }
}

/// `Some(v)` as its text, `None` as an empty field: how CSV rows show absent values.
pub fn field<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// True when an error (anywhere in its chain) is a closed pipe: the reader went away
/// (`| head -1`), which ends a filter quietly and successfully.
pub fn is_broken_pipe(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Rec {
        #[serde(rename = "type")]
        kind: &'static str,
        name: String,
    }

    impl CsvRow for Rec {
        const HEADER: &'static [&'static str] = &["name"];
        fn csv(&self) -> CsvLine {
            match self.kind {
                "summary" => CsvLine::Note(format!("summary: {}", self.name)),
                _ => CsvLine::Row(vec![self.name.clone()]),
            }
        }
    }

    fn rec(kind: &'static str, name: &str) -> Rec {
        Rec {
            kind,
            name: name.into(),
        }
    }

    #[test]
    fn json_lines_pass_other_json_on_and_drop_text() {
        let mut out = Vec::new();
        {
            let mut p = JsonLines::new(Sink::new(&mut out, false));
            Printer::<Rec>::passthrough(&mut p, b"{\"type\":\"other\"}\n").unwrap();
            Printer::<Rec>::passthrough(&mut p, b"plain text\n").unwrap();
            Printer::<Rec>::passthrough(&mut p, b"{a = 1, b = {c = 2}}\n").unwrap();
            p.record(&rec("x", "a")).unwrap();
            Printer::<Rec>::finish(&mut p).unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"type\":\"other\"}\n{\"type\":\"x\",\"name\":\"a\"}\n"
        );
    }

    #[test]
    fn csv_quotes_through_the_csv_crate_and_sends_notes_apart() {
        let mut out = Vec::new();
        let notes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        {
            let mut p = Csv::new(
                Sink::new(&mut out, false),
                Box::new(Shared(notes.clone())),
                false,
            );
            p.record(&rec("x", "a, \"b\"\nc")).unwrap();
            p.record(&rec("summary", "1 row")).unwrap();
            Printer::<Rec>::finish(&mut p).unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "name\n\"a, \"\"b\"\"\nc\"\n"
        );
        assert_eq!(
            String::from_utf8(notes.lock().unwrap().clone()).unwrap(),
            "summary: 1 row\n"
        );
    }

    #[test]
    fn formats_are_offered_per_tool() {
        use clap::builder::TypedValueParser;
        let cmd = clap::Command::new("t");
        let parser = Format::parser(&[Format::Text, Format::Jsonl]);
        let ok = parser.parse_ref(&cmd, None, std::ffi::OsStr::new("jsonl"));
        assert_eq!(ok.unwrap(), Format::Jsonl);
        assert!(parser
            .parse_ref(&cmd, None, std::ffi::OsStr::new("sarif"))
            .is_err());
    }
}

/// Whether a record (vg-filter's kept record, bt-demangle's crash) was in the `--baseline`:
/// one mark for every tool that compares with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineMark {
    /// Not in the baseline: it fails the run (when its kind does).
    New,
    /// In the baseline: reported, never failing.
    Known,
}

impl BaselineMark {
    /// `new` or `known`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineMark::New => "new",
            BaselineMark::Known => "known",
        }
    }
}
