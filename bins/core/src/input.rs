//! Reading inputs line by line with a bound on memory.
//!
//! Logs from crashing programs can hold a single line of hundreds of megabytes (a binary dump,
//! a missing newline). Lines are therefore read into one reused buffer and cut at
//! [`MAX_LINE`] bytes; the rest of such a line is skipped, and the caller counts the cut.

use std::io::{self, BufRead};

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

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

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
