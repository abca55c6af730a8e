//! Strings reused from record to record.
//!
//! A Memcheck log is nearly all frames, and nearly all its records are the interpreter's:
//! read, judged not the project's, and dropped. Each frame holds up to four strings, so
//! allocating and freeing them was a third of everything vg-filter did. The strings of a
//! record that is dropped are kept here instead, and the next frames' text is copied into
//! them. One pool per thread (each worker of [`super::parallel`] has its own), bounded.

use super::Record;
use std::cell::RefCell;

/// Most strings kept (at [`MIN_CAPACITY`] bytes or more each: about 256 KiB).
const MAX_SPARE: usize = 4096;

/// Bytes a pooled string is made with at least, so that most of a frame's texts (an address,
/// a function, a path) fit in any of them without growing it.
const MIN_CAPACITY: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// `text` as an owned string, in a spare one when there is one.
pub(crate) fn string(text: &str) -> String {
    with(|pool| pool.string(text))
}

/// Runs `f` with this thread's pool: one thread-local access for all the strings of a frame
/// (a frame line takes up to four), not one per string.
pub(crate) fn with<T>(f: impl FnOnce(&mut Pool<'_>) -> T) -> T {
    SPARE.with(|s| f(&mut Pool(&mut s.borrow_mut())))
}

/// This thread's spare strings, borrowed for a while.
pub(crate) struct Pool<'a>(&'a mut Vec<String>);

impl Pool<'_> {
    /// `text` as an owned string, in a spare one when there is one.
    pub(crate) fn string(&mut self, text: &str) -> String {
        match self.0.pop() {
            Some(mut s) => {
                s.clear();
                s.push_str(text);
                s
            }
            None => {
                let mut s = String::with_capacity(text.len().max(MIN_CAPACITY));
                s.push_str(text);
                s
            }
        }
    }
}

/// Drops a record, keeping its frames' strings for the next ones.
pub(crate) fn recycle(rec: Record) {
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        keep(&mut spare, rec.stack);
        for aux in rec.aux {
            keep(&mut spare, aux.stack);
        }
    });
}

fn keep(spare: &mut Vec<String>, stack: Vec<crate::Frame>) {
    for frame in stack {
        if spare.len() + 4 > MAX_SPARE {
            return;
        }
        for s in [frame.addr, frame.function, frame.file, frame.object]
            .into_iter()
            .flatten()
        {
            if s.capacity() >= MIN_CAPACITY {
                spare.push(s);
            }
        }
    }
}
