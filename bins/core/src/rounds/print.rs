//! rss-rounds' printers: its text report, and the choice of printer for a format (JSON
//! lines and CSV are the shared [`crate::output`] printers).

use crate::output::{Csv, Format, JsonLines, Printer, Sink};
use crate::rounds::records::Record;
use crate::rounds::words;
use crate::Error;
use std::io::{self, Write};

/// The formats rss-rounds offers, the default first.
pub const FORMATS: &[Format] = &[Format::Csv, Format::Jsonl, Format::Text];

/// The printer for `format`, writing to `out`; CSV writes its notes (the verdicts and the
/// summary) to standard error. A format rss-rounds does not offer ([`FORMATS`]) is an
/// error.
pub fn printer<'a, W: Write + 'a>(
    format: Format,
    out: W,
    line_buffered: bool,
) -> Result<Box<dyn Printer<Record> + 'a>, Error> {
    let sink = Sink::new(out, line_buffered);
    Ok(match format {
        Format::Jsonl => Box::new(JsonLines::new(sink)),
        Format::Csv => Box::new(Csv::new(sink, Box::new(io::stderr()), line_buffered)),
        Format::Text => Box::new(Text::new(sink)),
        Format::Sarif => {
            return Err(Error::at(
                "--format sarif",
                None,
                "rss-rounds writes csv, jsonl or text",
            ))
        }
    })
}

/// The report for a person: each series' verdict in a few lines, then the summary line.
/// Values are not shown (they are in CSV and JSON lines, and in `--plot`).
pub struct Text<W: Write> {
    sink: Sink<W>,
}

impl<W: Write> Text<W> {
    /// A printer writing to `sink`.
    pub fn new(sink: Sink<W>) -> Self {
        Text { sink }
    }
}

impl<W: Write> Printer<Record> for Text<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Round(_) | Record::Baseline(_) => Ok(()),
            Record::Site(site) => self.sink.text(&words::site_text(site)),
            Record::Verdict(v) => self.sink.text(&words::text(v)),
            Record::Summary(s) => self.sink.text(&format!("{}\n", words::summary_line(s))),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// A printer that keeps nothing: for a run whose result is only its series (a clean run
/// read as a `--baseline`).
pub struct Discard;

impl Printer<Record> for Discard {
    fn record(&mut self, _: &Record) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A printer that keeps every record, and the lines passed through: for tests and for
/// callers that want the records themselves.
#[derive(Debug, Default)]
pub struct Collect {
    /// The records, in order.
    pub records: Vec<Record>,
    /// The passed-through lines, in order, with their newlines.
    pub passed: Vec<Vec<u8>>,
}

impl Printer<Record> for Collect {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        self.records.push(record.clone());
        Ok(())
    }

    fn passthrough(&mut self, line: &[u8]) -> io::Result<()> {
        self.passed.push(line.to_vec());
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}
