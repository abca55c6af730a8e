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
