//! A text record's main stack kept as text until someone keeps the record.
//!
//! Nearly every record of a Memcheck log is the interpreter's: read, judged not the
//! project's, and dropped. Making its frames (four strings each, a hundred bytes moved into
//! the stack) was a fifth of vg-filter's time on such a log. When the filter asks for it
//! ([`super::text::parse_with`]), the text parser copies each frame line's parts into
//! one string per record instead, and the filter judges the record on [`FrameRef`]s of
//! that string; the frames are made only for a record that is kept, listed or handed on.

use crate::frame::{Described, FrameRef};
use crate::Frame;

/// Where a text lies in [`RawStack::text`]; `len == ABSENT` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

const ABSENT: u32 = u32::MAX;

impl Span {
    const NONE: Span = Span {
        start: 0,
        len: ABSENT,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawFrame {
    addr: Span,
    function: Span,
    file: Span,
    object: Span,
    line: Option<u32>,
}

/// Frames as the parts of their lines, in one string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawStack {
    text: String,
    frames: Vec<RawFrame>,
}

impl RawStack {
    pub(crate) fn len(&self) -> usize {
        self.frames.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// A frame of `addr` and what was `described` after it, all read from `line`: the
    /// line is copied once and the texts are found in the copy (four copies, each a call,
    /// were twice the cost). Texts from elsewhere are copied apart.
    pub(crate) fn push(&mut self, line: &str, addr: Option<&str>, described: &Described<'_>) {
        let start = self.text.len();
        self.text.push_str(line);
        let frame = RawFrame {
            addr: self.span_in(line, start, addr),
            function: self.span_in(line, start, described.function),
            file: self.span_in(line, start, described.file),
            object: self.span_in(line, start, described.object),
            line: described.line,
        };
        self.frames.push(frame);
    }

    /// Where `text` lies in the copy of `line` made at `start`, when it lies in `line`.
    fn span_in(&mut self, line: &str, start: usize, text: Option<&str>) -> Span {
        let Some(text) = text else {
            return Span::NONE;
        };
        let offset = (text.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
        if offset > line.len() || text.len() > line.len() - offset {
            return self.add(Some(text));
        }
        match (u32::try_from(start + offset), u32::try_from(text.len())) {
            (Ok(start), Ok(len)) => Span { start, len },
            _ => Span::NONE,
        }
    }

    fn add(&mut self, text: Option<&str>) -> Span {
        let Some(text) = text else {
            return Span::NONE;
        };
        // A record's text is at most `MAX_FRAMES` lines of `MAX_LINE` bytes: far below 4 GiB.
        let (Ok(start), Ok(len)) = (u32::try_from(self.text.len()), u32::try_from(text.len()))
        else {
            return Span::NONE;
        };
        self.text.push_str(text);
        Span { start, len }
    }

    fn get(&self, span: Span) -> Option<&str> {
        if span.len == ABSENT {
            return None;
        }
        let start = span.start as usize;
        self.text.get(start..start + span.len as usize)
    }

    /// The frames, borrowed.
    pub(crate) fn frames(&self) -> Vec<FrameRef<'_>> {
        self.frames
            .iter()
            .map(|f| FrameRef {
                addr: self.get(f.addr),
                function: self.get(f.function),
                file: self.get(f.file),
                line: f.line,
                object: self.get(f.object),
            })
            .collect()
    }

    /// Makes the frames, onto the end of `stack` (in spare frames, see [`super::spare`]),
    /// and empties this.
    pub(crate) fn make_into(&mut self, stack: &mut Vec<Frame>) {
        if self.is_empty() {
            return;
        }
        super::spare::with(|pool| {
            for f in self.frames() {
                let described = Described {
                    function: f.function,
                    file: f.file,
                    line: f.line,
                    object: f.object,
                };
                pool.push_frame(stack, f.addr, &described);
            }
        });
        self.clear();
    }

    /// Bytes of text it has room for.
    pub(crate) fn capacity(&self) -> usize {
        self.text.capacity()
    }

    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::valgrind_location;

    #[test]
    fn frames_come_back_as_they_went_in() {
        let mut raw = RawStack::default();
        let lines = [
            (Some("0x1"), "malloc (in /lib/vgpreload.so)"),
            (Some("0x2"), "leak (leaky.c:14)"),
            (None, "???"),
            (Some("0x3"), "f (a.c:...)"),
            (Some("0x4"), " (x.c:1)"),
        ];
        let mut want = Vec::new();
        for (addr, rest) in lines {
            let d = valgrind_location(rest);
            // Read from the line, and (the address here) from elsewhere.
            raw.push(rest, addr, &d);
            want.push(FrameRef {
                addr,
                function: d.function,
                file: d.file,
                line: d.line,
                object: d.object,
            });
        }
        assert_eq!(raw.len(), 5);
        assert_eq!(raw.frames(), want);
        let made: Vec<Frame> = want
            .iter()
            .map(|f| Frame {
                addr: f.addr.map(Into::into),
                function: f.function.map(Into::into),
                file: f.file.map(Into::into),
                line: f.line,
                object: f.object.map(Into::into),
            })
            .collect();
        let mut stack = vec![Frame::default()];
        raw.make_into(&mut stack);
        assert_eq!(stack[1..], made[..]);
        assert!(raw.is_empty());
        assert!(raw.frames().is_empty());
    }
}
