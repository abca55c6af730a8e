//! Frames and strings reused from record to record.
//!
//! A Memcheck log is nearly all frames, and nearly all its records are the interpreter's:
//! read, judged not the project's, and dropped. Each frame holds up to four strings, so
//! allocating and freeing them was a third of everything vg-filter did. The frames of a
//! record that is dropped are kept here whole instead, and the next frames' text is copied
//! into their strings (the text parser takes whole frames; the XML parser, which reads a
//! frame's fields one at a time, takes strings, which kept frames are taken apart for). One
//! pool per thread (each worker of [`super::parallel`] has its own), bounded.

use super::raw::RawStack;
use super::{LazyRecord, Record};
use crate::frame::Described;
use crate::Frame;
use std::cell::RefCell;

/// Most frames kept (each with up to four strings of [`MIN_CAPACITY`] bytes or more: under
/// 200 KiB a thread, for vg-filter's peak RSS under 10 MB), and most loose strings. A
/// record's stack is a few dozen frames.
const MAX_FRAMES: usize = 512;
const MAX_STRINGS: usize = 64;

/// Most emptied stacks kept: one per record being read at once (a process each), and then
/// some.
const MAX_STACKS: usize = 16;

/// Most bytes of text an emptied [`RawStack`] is kept with.
const MAX_RAW_BYTES: usize = 16 << 10;

/// Room a new stack is made with: Valgrind's default --num-callers (12) and then some.
const STACK_CAPACITY: usize = 16;

/// Bytes a new string is made with at least, so that most of a frame's texts (an address,
/// a function, a path) fit in any of them without growing it.
const MIN_CAPACITY: usize = 64;

/// What dropped records leave. Their stacks are kept whole, frames still in them: dropping
/// a record is one push, and a frame taken is one move into the stack that takes it (a
/// frame is a hundred bytes, and moving them in and out of a list of loose frames was a
/// tenth of vg-filter's time).
#[derive(Default)]
struct Spare {
    /// Stacks of dropped records with their frames; frames are taken from the last one.
    full: Vec<Vec<Frame>>,
    /// Frames in `full`.
    frames: usize,
    /// Emptied stacks, for the next records.
    empty: Vec<Vec<Frame>>,
    strings: Vec<String>,
    /// Emptied stacks of frames as text ([`super::raw`]).
    raw: Vec<RawStack>,
}

impl Spare {
    fn take_frame(&mut self) -> Option<Frame> {
        loop {
            let last = self.full.last_mut()?;
            if let Some(frame) = last.pop() {
                self.frames -= 1;
                return Some(frame);
            }
            if let Some(stack) = self.full.pop() {
                self.keep_empty(stack);
            }
        }
    }

    fn keep_empty(&mut self, stack: Vec<Frame>) {
        // A stack grown past four times the usual room is let go: it would hold its memory.
        let usual = (1..=4 * STACK_CAPACITY).contains(&stack.capacity());
        if usual && self.empty.len() < MAX_STACKS {
            self.empty.push(stack);
        }
    }

    fn keep(&mut self, mut stack: Vec<Frame>) {
        if stack.is_empty() {
            self.keep_empty(stack);
        } else if self.frames + stack.len() <= MAX_FRAMES && stack.capacity() <= 4 * STACK_CAPACITY
        {
            self.frames += stack.len();
            self.full.push(stack);
        } else {
            stack.clear();
            self.keep_empty(stack);
        }
    }
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
            if let Some(frame) = self.0.take_frame() {
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

    /// Pushes onto `stack` a frame of `addr` and what was `described` after it, in a spare
    /// frame's strings when there is one. The frame is filled where it lies in `stack`.
    pub(crate) fn push_frame(
        &mut self,
        stack: &mut Vec<Frame>,
        addr: Option<&str>,
        described: &Described<'_>,
    ) {
        stack.push(self.0.take_frame().unwrap_or_default());
        let Some(frame) = stack.last_mut() else {
            return;
        };
        self.put(&mut frame.addr, addr);
        self.put(&mut frame.function, described.function);
        self.put(&mut frame.file, described.file);
        self.put(&mut frame.object, described.object);
        frame.line = described.line;
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

/// An empty stack for a new record: an emptied one when there is one, which has room for
/// as many frames as its record had (a stack grown from empty by 30 frames was four
/// reallocations).
pub(crate) fn stack() -> Vec<Frame> {
    SPARE
        .with(|spare| spare.borrow_mut().empty.pop())
        .unwrap_or_else(|| Vec::with_capacity(STACK_CAPACITY))
}

/// An empty stack of frames as text, an emptied one when there is one.
pub(crate) fn raw_stack() -> RawStack {
    SPARE
        .with(|spare| spare.borrow_mut().raw.pop())
        .unwrap_or_default()
}

/// Drops a record whose main stack was not made, keeping what it holds for the next ones.
pub(crate) fn recycle_lazy(lazy: LazyRecord) {
    let LazyRecord { record, mut frames } = lazy;
    recycle(record);
    // One that grew past a few hundred frames' text is let go: it would hold its memory.
    if frames.capacity() <= MAX_RAW_BYTES {
        frames.clear();
        SPARE.with(|spare| {
            let raw = &mut spare.borrow_mut().raw;
            if raw.len() < MAX_STACKS {
                raw.push(frames);
            }
        });
    }
}

/// Drops a record, keeping its stacks, frames in them, for the next ones.
pub(crate) fn recycle(rec: Record) {
    SPARE.with(|spare| {
        let spare = &mut *spare.borrow_mut();
        spare.keep(rec.stack);
        for aux in rec.aux {
            spare.keep(aux.stack);
        }
    });
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
        let mut stack = stack();
        with(|pool| pool.push_frame(&mut stack, Some("0x2"), &described));
        assert_eq!(
            stack[0],
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
            stack,
            ..Record::default()
        });
        assert_eq!(string("leaky.c"), "leaky.c");
    }
}
