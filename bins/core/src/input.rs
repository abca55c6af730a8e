//! Reading inputs line by line with a bound on memory.
//!
//! Logs from crashing programs can hold a single line of hundreds of megabytes (a binary dump,
//! a missing newline). Lines are therefore read into one reused buffer and cut at
//! [`MAX_LINE`] bytes; the rest of such a line is skipped, and the caller counts the cut.
//! Small files read whole (env files, Dockerfiles, `/proc` status files) are capped at
//! [`MAX_SMALL_FILE`] and refused beyond it.

use crate::Error;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;

/// What an input looks like from its first bytes, before a parser is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Text (a log, gdb output, round lines): the tool's own parser decides.
    Text,
    /// XML (`<?xml` or `<valgrindoutput>`).
    Xml,
    /// JSON lines (a line that is a JSON object): records of a dbgpipe tool, read back.
    JsonLines,
    /// An executable or shared object (ELF): never a log, usually a mistaken argument
    /// (`--project native.so vg.log` without `=`).
    Elf,
    /// Other binary data (NUL bytes, or mostly bytes that are no text).
    Binary,
}

impl Content {
    /// Tells what `head` (the first few KiB of an input) is. Empty input is text.
    pub fn of(head: &[u8]) -> Content {
        if head.starts_with(b"\x7fELF") {
            return Content::Elf;
        }
        let sample = &head[..head.len().min(4096)];
        let controls = sample
            .iter()
            .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b))
            .count();
        if sample.contains(&0) || controls * 10 > sample.len() {
            return Content::Binary;
        }
        let start = sample.trim_ascii_start();
        if start.starts_with(b"<?xml") || start.starts_with(b"<valgrindoutput") {
            return Content::Xml;
        }
        // Every dbgpipe record starts so; a first line longer than the head is not complete
        // enough to parse, but this prefix is no log line of any tool.
        if start.starts_with(b"{\"type\":\"") {
            return Content::JsonLines;
        }
        if start.starts_with(b"{") {
            let line = start.split(|&b| b == b'\n').next().unwrap_or(start);
            if serde_json::from_slice::<serde_json::Value>(line.trim_ascii())
                .is_ok_and(|v| v.get("type").is_some_and(|t| t.is_string()))
            {
                return Content::JsonLines;
            }
        }
        Content::Text
    }

    /// The error for an input that no tool reads (ELF or binary data), naming it; `None` for
    /// readable content. A tool that knows the likely mistake says it in its own words.
    pub fn refuse(self, input: &str) -> Option<Error> {
        match self {
            Content::Elf => Some(Error::at(
                input,
                None,
                "is an executable or shared object, not a log",
            )),
            Content::Binary => Some(Error::at(input, None, "is binary data, not a log")),
            _ => None,
        }
    }
}

/// Longest line kept, in bytes. Longer lines are cut here; the summary counts them.
pub const MAX_LINE: usize = 1 << 20;

/// Reads one line (without its `\n` or `\r\n`) into `buf`, keeping at most `cap` bytes.
/// Returns `None` at end of input, else `Some(cut)` where `cut` says the line was longer
/// than `cap`.
pub fn read_line_capped<R: BufRead + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    Ok(read_line(reader, buf, cap)?.map(|l| l.cut))
}

/// How a line read by [`read_line`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineEnd {
    /// The line was longer than the cap and was cut.
    pub cut: bool,
    /// The line ended with a newline; `false` only for the last line of an input that was
    /// itself cut (or lacks a final newline).
    pub newline: bool,
}

/// [`read_line_capped`], also telling whether the line ended with a newline.
pub fn read_line<R: BufRead + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<LineEnd>> {
    buf.clear();
    let mut cut = false;
    let mut any = false;
    let mut newline = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let (chunk, found, used) = match memchr_newline(available) {
            Some(i) => (&available[..i], true, i + 1),
            None => (available, false, available.len()),
        };
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            cut = true;
            buf.extend_from_slice(&chunk[..room]);
        } else {
            buf.extend_from_slice(chunk);
        }
        reader.consume(used);
        if found {
            newline = true;
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(LineEnd { cut, newline }))
}

/// Largest file read whole: env files, Dockerfiles and `/proc` status files are a few
/// kilobytes; a larger one is not what it claims to be, and is refused rather than held.
pub const MAX_SMALL_FILE: usize = 1 << 20;

/// Reads all of `reader` (an input named `name`), refusing more than `cap` bytes with an
/// error naming the input, so that no input is held in memory beyond the cap.
pub fn read_to_end_capped<R: Read>(name: &str, reader: R, cap: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    // One byte more than the cap tells "exactly the cap" from "more".
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(name, &e))?;
    if bytes.len() > cap {
        return Err(Error::at(
            name,
            None,
            format!(
                "is larger than {}, too large for this kind of file",
                size(cap)
            ),
        ));
    }
    Ok(bytes)
}

/// [`read_to_end_capped`] on a file.
pub fn read_file_capped(path: &Path, cap: usize) -> Result<Vec<u8>, Error> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io(&name, &e))?;
    read_to_end_capped(&name, file, cap)
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_told_from_the_first_bytes() {
        assert_eq!(Content::of(b""), Content::Text);
        assert_eq!(Content::of(b"==12== Memcheck\n"), Content::Text);
        assert_eq!(Content::of(b"  <?xml version=\"1.0\"?>"), Content::Xml);
        assert_eq!(Content::of(b"{\"type\":\"error\"}\n{"), Content::JsonLines);
        assert_eq!(Content::of(b"{ not json"), Content::Text);
        assert_eq!(Content::of(b"{ \"type\" : \"x\" }"), Content::JsonLines);
        // A first record longer than the head.
        assert_eq!(
            Content::of(b"{\"type\":\"error\",\"kind\":\"Inval"),
            Content::JsonLines
        );
        assert_eq!(Content::of(b"\x7fELF\x02\x01"), Content::Elf);
        assert_eq!(Content::of(b"ab\0cd"), Content::Binary);
        assert_eq!(
            Content::Elf.refuse("x.so").unwrap().to_string(),
            "x.so: is an executable or shared object, not a log"
        );
        assert!(Content::Text.refuse("x").is_none());
    }

    #[test]
    fn whole_reads_are_capped() {
        assert_eq!(read_to_end_capped("x", &b"abcd"[..], 4).unwrap(), b"abcd");
        let e = read_to_end_capped("x.env", &b"abcde"[..], 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.env: is larger than 4 bytes, too large for this kind of file"
        );
        let e = read_to_end_capped("big", io::repeat(b'a'), MAX_SMALL_FILE).unwrap_err();
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
        let e = read_file_capped(Path::new("/nonexistent/x"), 4).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/x: "), "{e}");
    }

    #[test]
    fn lines_are_cut_and_crlf_dropped() {
        let mut r = io::Cursor::new(b"abc\r\nlonger line\nlast".to_vec());
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut r, &mut buf, 4).unwrap(), Some(false));
        assert_eq!(buf, b"abc");
        assert_eq!(read_line_capped(&mut r, &mut buf, 4).unwrap(), Some(true));
        assert_eq!(buf, b"long");
        assert_eq!(read_line_capped(&mut r, &mut buf, 4).unwrap(), Some(false));
        assert_eq!(buf, b"last");
        assert_eq!(read_line_capped(&mut r, &mut buf, 4).unwrap(), None);
    }
}
