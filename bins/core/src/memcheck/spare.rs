//! Frames and strings reused from record to record.
//!
//! A Memcheck log is nearly all frames, and nearly all its records are the interpreter's:
//! read, judged not the project's, and dropped. Each frame holds up to four strings, so
//! allocating and freeing them was a third of everything vg-filter did. The frames of a
//! record that is dropped are kept here whole instead, and the next frames' text is copied
//! into their strings (the text parser takes whole frames; the XML parser, which reads a
//! frame's fields one at a time, takes strings, which kept frames are taken apart for). One
//! pool per thread (each worker of [`super::parallel`] has its own), bounded.

use super::Record;
use crate::frame::Described;
use crate::Frame;
use std::cell::RefCell;

/// Most frames kept (each with up to four strings of [`MIN_CAPACITY`] bytes or more: under
/// 200 KiB a thread, for vg-filter's peak RSS under 10 MB), and most loose strings. A
/// record's stack is a few dozen frames.
const MAX_FRAMES: usize = 512;
const MAX_STRINGS: usize = 64;

/// Bytes a new string is made with at least, so that most of a frame's texts (an address,
/// a function, a path) fit in any of them without growing it.
const MIN_CAPACITY: usize = 64;

#[derive(Default)]
struct Spare {
    frames: Vec<Frame>,
    strings: Vec<String>,
}

thread_local! {
    static SPARE: RefCell<Spare> = RefCell::new(Spare::default());
}

/// `text` as an owned string, in a spare one when there is one.
pub(crate) fn string(text: &str) -> String {
    with(|pool| pool.string(text))
}

/// Runs `f` with this thread's pool: one thread-local access for a whole frame.
pub(crate) fn with<T>(f: impl FnOnce(&mut Pool<'_>) -> T) -> T {
    SPARE.with(|s| f(&mut Pool(&mut s.borrow_mut())))
}

/// This thread's spare frames and strings, borrowed for a while.
pub(crate) struct Pool<'a>(&'a mut Spare);

impl Pool<'_> {
    /// `text` as an owned string, in a spare one when there is one.
    pub(crate) fn string(&mut self, text: &str) -> String {
        if self.0.strings.is_empty() {
            if let Some(frame) = self.0.frames.pop() {
                let texts = [frame.addr, frame.function, frame.file, frame.object];
                self.0.strings.extend(texts.into_iter().flatten());
            }
        }
        match self.0.strings.pop() {
            Some(mut s) => {
                s.clear();
                s.push_str(text);
                s
            }
            None => fresh(text),
        }
    }

    /// A frame of `addr` and what was `described` after it, in a spare frame's strings when
    /// there is one.
    pub(crate) fn frame(&mut self, addr: Option<&str>, described: &Described<'_>) -> Frame {
        let mut frame = self.0.frames.pop().unwrap_or_default();
        self.put(&mut frame.addr, addr);
        self.put(&mut frame.function, described.function);
        self.put(&mut frame.file, described.file);
        self.put(&mut frame.object, described.object);
        frame.line = described.line;
        frame
    }

    /// Sets `slot` to `text`, in the string already there when there is one; an emptied
    /// slot's string is kept for another.
    fn put(&mut self, slot: &mut Option<String>, text: Option<&str>) {
        match (slot.as_mut(), text) {
            (Some(s), Some(text)) => {
                s.clear();
                s.push_str(text);
            }
            (None, Some(text)) => *slot = Some(self.string(text)),
            (Some(_), None) => {
                if let Some(s) = slot.take() {
                    if self.0.strings.len() < MAX_STRINGS {
                        self.0.strings.push(s);
                    }
                }
            }
            (None, None) => {}
        }
    }
}

fn fresh(text: &str) -> String {
    let mut s = String::with_capacity(text.len().max(MIN_CAPACITY));
    s.push_str(text);
    s
}

/// Drops a record, keeping its frames for the next ones.
pub(crate) fn recycle(rec: Record) {
    SPARE.with(|spare| {
        let frames = &mut spare.borrow_mut().frames;
        keep(frames, rec.stack);
        for aux in rec.aux {
            keep(frames, aux.stack);
        }
    });
}

fn keep(frames: &mut Vec<Frame>, stack: Vec<Frame>) {
    let room = MAX_FRAMES.saturating_sub(frames.len());
    frames.extend(stack.into_iter().take(room));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_frame_says_only_what_the_new_one_says() {
        let old = Frame {
            addr: Some("0x1".into()),
            function: Some("old_function".into()),
            file: Some("old.c".into()),
            line: Some(7),
            object: None,
        };
        recycle(Record {
            stack: vec![old],
            ..Record::default()
        });
        let described = crate::frame::valgrind_location("malloc (in /lib/vgpreload.so)");
        let frame = with(|pool| pool.frame(Some("0x2"), &described));
        assert_eq!(
            frame,
            Frame {
                addr: Some("0x2".into()),
                function: Some("malloc".into()),
                file: None,
                line: None,
                object: Some("/lib/vgpreload.so".into()),
            }
        );
        // Strings are taken from kept frames too (the XML parser's way).
        recycle(Record {
            stack: vec![frame],
            ..Record::default()
        });
        assert_eq!(string("leaky.c"), "leaky.c");
    }
}
