//! Output shared by every tool: JSON lines, buffered, and the rules for a closed pipe.
//!
//! Each tool writes one compact JSON object per line with `type` first and ends every run
//! with a `{"type":"summary","tool":…,"schema":1,…}` line, even on empty input. The records'
//! field order is the order of the Rust struct fields that serialise them.

use serde::Serialize;
use std::io::{self, Write};

/// Version of the record schema; bumped when a field changes meaning or is removed.
pub const SCHEMA: u32 = 1;

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
        self.out.write_all(s.as_bytes())?;
        if s.ends_with('\n') {
            self.end_line()?;
        }
        Ok(())
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

    /// The underlying buffered writer, for writers such as `csv` that take one.
    pub fn raw(&mut self) -> &mut io::BufWriter<W> {
        &mut self.out
    }

    fn end_line(&mut self) -> io::Result<()> {
        if self.line_buffered {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flushes everything written so far.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
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
