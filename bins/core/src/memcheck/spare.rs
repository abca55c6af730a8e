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
    let spare = SPARE.with(|s| s.borrow_mut().pop());
    match spare {
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

/// Drops a record, keeping its frames' strings for the next ones.
pub(crate) fn recycle(rec: Record) {
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        let stacks = std::iter::once(rec.stack).chain(rec.aux.into_iter().map(|a| a.stack));
        for frame in stacks.flatten() {
            let texts = [frame.addr, frame.function, frame.file, frame.object];
            for s in texts.into_iter().flatten() {
                if spare.len() >= MAX_SPARE {
                    return;
                }
                if s.capacity() >= MIN_CAPACITY {
                    spare.push(s);
                }
            }
        }
    });
}
