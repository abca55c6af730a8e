//! Reading a file ahead, so that both cores work: its lines in chunks, every other chunk's
//! lines demangled by a second thread while the filter works through the chunk before it.
//!
//! What the second thread works out for a line is a pure function of the line's text (its
//! mangled names demangled and simplified, and how many there were), and the filter takes it
//! only when it is asked to demangle that very text (a line it passes through, such as a
//! symbol of a list); anything else it works out itself, as without reading ahead. So the
//! output is the same either way, and the filter still reads one line after the other.
//!
//! Only files are read ahead ([`super::filter::Filter::set_read_ahead`]): a pipe from a live
//! gdb session must not wait for a chunk to fill.

use crate::input::{read_line, LineEnd, MAX_LINE};
use std::io::{self, BufRead};
use std::sync::mpsc;

/// Bytes of lines per chunk (a longer line is a chunk of its own). Three chunks are held at
/// most, with their demangled text: a few hundred KiB.
const CHUNK: usize = 64 << 10;

/// A line's text with its mangled names demangled, worked out ahead.
#[derive(Debug)]
pub(super) struct Demangled {
    /// The line's text (lossy UTF-8, as the filter reads it).
    pub line: String,
    /// The text with its names demangled, `None` when it holds none.
    pub changed: Option<String>,
    /// The names demangled.
    pub names: u64,
}

/// Lines read in one go.
#[derive(Debug, Default)]
pub(super) struct Chunk {
    /// The lines' bytes, one after the other, without their newlines.
    pub bytes: Vec<u8>,
    /// Where each line ends in `bytes`, and how it ended.
    pub ends: Vec<(usize, LineEnd)>,
    /// What was worked out ahead for each line; empty when the chunk was not sent ahead.
    pub demangled: Vec<Demangled>,
    /// The read error that stopped reading after these lines.
    pub error: Option<io::Error>,
    /// No line comes after these (the input ended, or an error stopped it).
    pub last: bool,
}

impl Chunk {
    /// Reads lines until they hold `size` bytes, the input ends, or reading fails.
    fn read<R: BufRead + ?Sized>(reader: &mut R, buf: &mut Vec<u8>, size: usize) -> Chunk {
        let mut chunk = Chunk::default();
        while chunk.bytes.len() < size {
            match read_line(reader, buf, MAX_LINE) {
                Ok(Some(end)) => {
                    chunk.bytes.extend_from_slice(buf);
                    chunk.ends.push((chunk.bytes.len(), end));
                }
                Ok(None) => {
                    chunk.last = true;
                    break;
                }
                Err(e) => {
                    chunk.error = Some(e);
                    chunk.last = true;
                    break;
                }
            }
        }
        chunk
    }

    fn work_out(&mut self, demangle: &(dyn Fn(&str) -> (Option<String>, u64) + Sync)) {
        let mut start = 0;
        for &(end, _) in &self.ends {
            let bytes = &self.bytes[start..end];
            let line = match std::str::from_utf8(bytes) {
                Ok(text) => text.to_string(),
                Err(_) => String::from_utf8_lossy(bytes).into_owned(),
            };
            let (changed, names) = demangle(&line);
            self.demangled.push(Demangled {
                line,
                changed,
                names,
            });
            start = end;
        }
    }
}

/// Reads `reader` to its end, or to its first read error, in chunks of lines that go to
/// `each` in order (an error from `each` stops reading). Every other chunk first goes to a
/// second thread, which works out each of its lines with `demangle` (given the line's text;
/// giving its demangled text, or `None`, and how many names it demangled).
pub(super) fn read<R: BufRead + ?Sized, E>(
    reader: &mut R,
    demangle: &(dyn Fn(&str) -> (Option<String>, u64) + Sync),
    each: &mut dyn FnMut(Chunk) -> Result<(), E>,
) -> Result<(), E> {
    read_sized(reader, CHUNK, demangle, each)
}

fn read_sized<R: BufRead + ?Sized, E>(
    reader: &mut R,
    size: usize,
    demangle: &(dyn Fn(&str) -> (Option<String>, u64) + Sync),
    each: &mut dyn FnMut(Chunk) -> Result<(), E>,
) -> Result<(), E> {
    let mut buf = Vec::new();
    let mut next = Chunk::read(reader, &mut buf, size);
    // A short input is one chunk: no thread for it.
    if next.last {
        return each(next);
    }
    std::thread::scope(|scope| {
        let (ahead, todo) = mpsc::sync_channel::<Chunk>(1);
        let (worked_out, done) = mpsc::sync_channel::<Chunk>(1);
        scope.spawn(move || {
            for mut chunk in todo {
                chunk.work_out(demangle);
                if worked_out.send(chunk).is_err() {
                    break;
                }
            }
        });
        loop {
            let chunk = next;
            if chunk.last {
                return each(chunk);
            }
            // The chunk after this one goes ahead while this one is read here.
            let after = Chunk::read(reader, &mut buf, size);
            let kept = ahead.send(after).err().map(|e| e.0);
            each(chunk)?;
            let after = match kept {
                Some(after) => after,
                None => match done.recv() {
                    Ok(after) => after,
                    // The thread panicked with the chunk: the end of the scope says so.
                    Err(_) => return Ok(()),
                },
            };
            if after.last {
                return each(after);
            }
            each(after)?;
            next = Chunk::read(reader, &mut buf, size);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks hold every line once, in order, as `read_line` reads them; every other one
    /// comes back worked out, line by line.
    #[test]
    fn chunks_hold_every_line_in_order() {
        let mut text = String::new();
        for i in 0..500 {
            text.push_str(&format!("line {i} _Z{i}\r\n"));
        }
        text.push_str("last, cut");
        let mut want = Vec::new();
        let mut buf = Vec::new();
        let mut reader = text.as_bytes();
        while let Some(how) = read_line(&mut reader, &mut buf, MAX_LINE).unwrap() {
            want.push((String::from_utf8(buf.clone()).unwrap(), how));
        }
        let upper = |t: &str| (Some(t.to_uppercase()), t.len() as u64);
        let mut got = Vec::new();
        let mut chunks = 0;
        let mut worked_out = 0;
        read_sized(&mut text.as_bytes(), 100, &upper, &mut |chunk| {
            chunks += 1;
            let mut start = 0;
            for (i, &(end, how)) in chunk.ends.iter().enumerate() {
                let line = String::from_utf8(chunk.bytes[start..end].to_vec()).unwrap();
                if let Some(d) = chunk.demangled.get(i) {
                    assert_eq!(d.line, line);
                    assert_eq!(d.changed, Some(line.to_uppercase()));
                    assert_eq!(d.names, line.len() as u64);
                    worked_out += 1;
                }
                got.push((line, how));
                start = end;
            }
            assert!(chunk.demangled.is_empty() || chunk.demangled.len() == chunk.ends.len());
            assert!(chunk.error.is_none());
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(got, want);
        assert!(chunks > 50, "{chunks}");
        assert!(worked_out > 200 && worked_out < 320, "{worked_out}");
        // One chunk: read here, no thread.
        let mut once = 0;
        read_sized(&mut &b"a\nb\n"[..], 100, &upper, &mut |chunk| {
            once += chunk.ends.len();
            assert!(chunk.last && chunk.demangled.is_empty());
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(once, 2);
    }

    /// An error from `each` stops reading there.
    #[test]
    fn an_error_stops_reading() {
        let text = "x\n".repeat(10_000);
        let mut seen = 0;
        let result = read_sized(&mut text.as_bytes(), 64, &|_| (None, 0), &mut |chunk| {
            seen += chunk.ends.len();
            if seen > 100 {
                return Err(seen);
            }
            Ok(())
        });
        assert!(matches!(result, Err(n) if n < 200), "{result:?}");
    }
}
