//! The first line of a Memcheck record, shared by both formats.
//!
//! The text log names an error only by its header sentence; the XML log gives `<kind>` and the
//! same sentence in `<what>`/`<xwhat><text>`. Both parsers call [`parse`] so that the kind, byte
//! counts and loss-record numbers come out identical.

/// Every kind this parser can name, as Valgrind's XML `<kind>` spells them (Memcheck, plus the
/// core's file-descriptor kinds of protocol 5).
pub const KINDS: &[&str] = &[
    "InvalidRead",
    "InvalidWrite",
    "InvalidFree",
    "MismatchedFree",
    "MismatchedAllocateDeallocateSize",
    "MismatchedAllocateDeallocateAlignment",
    "InvalidJump",
    "Overlap",
    "SyscallParam",
    "UninitCondition",
    "UninitValue",
    "ClientCheck",
    "CoreMemError",
    "InvalidMemPool",
    "FishyValue",
    "ReallocSizeZero",
    "InvalidAlignment",
    "InvalidSize",
    "InvalidSizeAndAlignment",
    "Leak_DefinitelyLost",
    "Leak_IndirectlyLost",
    "Leak_PossiblyLost",
    "Leak_StillReachable",
    "FdBadClose",
    "FdNotClosed",
    "FdBadUse",
];

/// What a header line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The XML kind name, one of [`KINDS`].
    pub kind: &'static str,
    /// Leak bytes (direct + indirect).
    pub bytes: Option<u64>,
    /// Directly lost bytes, when split.
    pub direct: Option<u64>,
    /// Indirectly lost bytes, when split.
    pub indirect: Option<u64>,
    /// Leak blocks.
    pub blocks: Option<u64>,
    /// `loss record N of M`: N.
    pub loss_record: Option<u64>,
    /// `loss record N of M`: M.
    pub loss_records_total: Option<u64>,
    /// Access size for InvalidRead/InvalidWrite/UninitValue (`of size 8`), used to pick the
    /// suppression kind `Addr8`/`Value8`.
    pub size: Option<u64>,
}

/// Ordered (prefix, kind) table: the first matching prefix wins.
const PREFIXES: &[(&str, &str)] = &[
    ("Invalid read of size", "InvalidRead"),
    ("Invalid write of size", "InvalidWrite"),
    ("Invalid free() / delete / delete[]", "InvalidFree"),
    ("Mismatched free() / delete / delete", "MismatchedFree"),
    (
        "Mismatched new/delete size",
        "MismatchedAllocateDeallocateSize",
    ),
    (
        "Mismatched new[]/delete[] size",
        "MismatchedAllocateDeallocateSize",
    ),
    (
        "Mismatched new[][/delete[] size",
        "MismatchedAllocateDeallocateSize",
    ),
    (
        "Mismatched new/delete alignment",
        "MismatchedAllocateDeallocateAlignment",
    ),
    (
        "Mismatched new[]/delete[] alignment",
        "MismatchedAllocateDeallocateAlignment",
    ),
    ("Jump to the invalid address", "InvalidJump"),
    ("Source and destination overlap in", "Overlap"),
    ("Syscall param ", "SyscallParam"),
    (
        "Conditional jump or move depends on uninitialised",
        "UninitCondition",
    ),
    ("Use of uninitialised value of size", "UninitValue"),
    (
        "Uninitialised byte(s) found during client check",
        "ClientCheck",
    ),
    (
        "Unaddressable byte(s) found during client check",
        "ClientCheck",
    ),
    ("Illegal memory pool address", "InvalidMemPool"),
    ("Argument '", "FishyValue"),
    ("realloc() with size 0", "ReallocSizeZero"),
    ("reallocarray() with size 0", "ReallocSizeZero"),
    ("reallocf() with size 0", "ReallocSizeZero"),
    // Valgrind's XML names this InvalidSize, not ReallocSizeZero.
    ("Unsafe allocation with size of zero", "InvalidSize"),
    ("Invalid alignment value", "InvalidAlignment"),
    ("Invalid size value", "InvalidSizeAndAlignment"),
    ("Open file descriptor", "FdNotClosed"),
    ("Open AF_", "FdNotClosed"),
    ("File descriptor ", "FdBadClose"),
    ("Invalid file descriptor", "FdBadUse"),
];

/// Parses a header sentence. `None` when it is not a Memcheck record header.
pub fn parse(what: &str) -> Option<Header> {
    let what = what.trim();
    if let Some(h) = parse_leak(what) {
        return Some(h);
    }
    let (_, kind) = PREFIXES.iter().find(|(p, _)| what.starts_with(p))?;
    // "Invalid size value: 5 alignment value: 4 (…)" is the combined kind; the bare one
    // has no alignment part.
    let size = what
        .strip_prefix("Invalid read of size ")
        .or_else(|| what.strip_prefix("Invalid write of size "))
        .or_else(|| what.strip_prefix("Use of uninitialised value of size "))
        .and_then(number);
    Some(Header {
        kind,
        size,
        ..Header::default()
    })
}

/// The Memcheck kind for a text header that lacks a `<kind>`, or for checking an XML one.
pub fn kind_of(what: &str) -> Option<&'static str> {
    parse(what).map(|h| h.kind)
}

/// Whether `text` is the start of a header sentence cut short (a paste wrapped it):
/// `Conditional jump or move depends`, `8 bytes in 1 blocks are definitely lost in loss`.
pub fn kind_of_prefix(text: &str) -> bool {
    let text = text.trim_end();
    if PREFIXES.iter().any(|(p, _)| p.starts_with(text)) {
        return true;
    }
    // A leak header: a number, then ` bytes`, cut before it ends. A whole one ends with its
    // loss record's numbers (`of 9`, or `of ...` in Valgrind's filtered test outputs): told
    // by the last byte, before anything costlier.
    let whole = text.ends_with(|c: char| c.is_ascii_digit()) || text.ends_with("...");
    !whole && text.split(' ').next().is_some_and(|n| number(n).is_some()) && text.contains(" bytes")
}

/// `s.split_once(pat)` for an ASCII `pat`, searched byte by byte: a header is short, and
/// the standard two-way searcher cost more to set up than the search (every leak header
/// comes here several times).
fn split_ascii<'a>(s: &'a str, pat: &str) -> Option<(&'a str, &'a str)> {
    debug_assert!(pat.is_ascii() && !pat.is_empty());
    let (h, p) = (s.as_bytes(), pat.as_bytes());
    let last = h.len().checked_sub(p.len())?;
    // An ASCII byte is always a character boundary, on both sides of the match.
    let i = (0..=last).find(|&i| h[i] == p[0] && h[i..].starts_with(p))?;
    Some((&s[..i], &s[i + p.len()..]))
}

/// `168 (48 direct, 120 indirect) bytes in 3 blocks are definitely lost in loss record 5 of 9`,
/// also with `,` thousands separators, `(+N)` deltas of `--leak-check=full` reruns, and the
/// `...` that Valgrind's test filters put in place of numbers.
fn parse_leak(what: &str) -> Option<Header> {
    // Told by the first byte for every other header and description (all start with a
    // capital), before the substring search.
    if what.as_bytes().first().map_or(true, u8::is_ascii_uppercase) {
        return None;
    }
    let (amounts, rest) = split_ascii(what, " bytes in ")?;
    let (blocks_part, tail) = split_ascii(rest, " blocks are ")?;
    let kind = if tail.starts_with("definitely lost") {
        "Leak_DefinitelyLost"
    } else if tail.starts_with("indirectly lost") {
        "Leak_IndirectlyLost"
    } else if tail.starts_with("possibly lost") {
        "Leak_PossiblyLost"
    } else if tail.starts_with("still reachable") {
        "Leak_StillReachable"
    } else {
        return None;
    };
    let (bytes, direct, indirect) = match split_ascii(amounts, " (") {
        Some((total, split)) if split.contains("direct") => {
            let (d, i) = split_ascii(split.trim_end_matches(')'), ", ")?;
            (
                number(total),
                number(d.trim_end_matches(" direct")),
                number(i.trim_end_matches(" indirect")),
            )
        }
        // `N (+M)`: the total, then the change since the previous leak check.
        Some((total, _delta)) => (number(total), None, None),
        None => (number(amounts), None, None),
    };
    let blocks = number(blocks_part.split(" (").next().unwrap_or(blocks_part));
    let (loss_record, loss_records_total) = match split_ascii(tail, "in loss record ") {
        Some((_, nums)) => match split_ascii(nums, " of ") {
            Some((n, m)) => (number(n), number(m)),
            None => (number(nums), None),
        },
        None => (None, None),
    };
    Some(Header {
        kind,
        bytes,
        direct,
        indirect,
        blocks,
        loss_record,
        loss_records_total,
        size: None,
    })
}

/// A decimal with optional `,` separators; `None` for anything else (e.g. `...`).
fn number(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return None;
    }
    s.bytes()
        .filter(u8::is_ascii_digit)
        .try_fold(0u64, |acc, b| {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        type Case = (
            &'static str,
            &'static str,
            Option<u64>,
            Option<u64>,
            Option<u64>,
            Option<u64>,
            Option<u64>,
            Option<u64>,
        );
        let cases: &[Case] = &[
            // what, kind, bytes, direct, indirect, blocks, loss, total
            ("168 (48 direct, 120 indirect) bytes in 3 blocks are definitely lost in loss record 5 of 9",
             "Leak_DefinitelyLost", Some(168), Some(48), Some(120), Some(3), Some(5), Some(9)),
            ("8 bytes in 1 blocks are definitely lost in loss record 2 of 957",
             "Leak_DefinitelyLost", Some(8), None, None, Some(1), Some(2), Some(957)),
            ("1,000 bytes in 1,000 blocks are possibly lost in loss record 3 of 4",
             "Leak_PossiblyLost", Some(1000), None, None, Some(1000), Some(3), Some(4)),
            ("16 (+16) bytes in 1 (+1) blocks are still reachable in loss record ... of ...",
             "Leak_StillReachable", Some(16), None, None, Some(1), None, None),
            ("x bytes in 1 blocks are indirectly lost in loss record ... of ...",
             "Leak_IndirectlyLost", None, None, None, Some(1), None, None),
        ];
        for &(what, kind, bytes, direct, indirect, blocks, loss, total) in cases {
            let h = parse(what).unwrap_or_else(|| panic!("{what}"));
            assert_eq!(
                (
                    h.kind,
                    h.bytes,
                    h.direct,
                    h.indirect,
                    h.blocks,
                    h.loss_record,
                    h.loss_records_total
                ),
                (kind, bytes, direct, indirect, blocks, loss, total),
                "{what}"
            );
        }
    }

    #[test]
    fn error_kinds() {
        let cases = [
            ("Invalid read of size 1", "InvalidRead"),
            ("Invalid write of size 8", "InvalidWrite"),
            (
                "Invalid free() / delete / delete[] / realloc()",
                "InvalidFree",
            ),
            ("Mismatched free() / delete / delete []", "MismatchedFree"),
            (
                "Mismatched new/delete size value: 4",
                "MismatchedAllocateDeallocateSize",
            ),
            (
                "Jump to the invalid address stated on the next line",
                "InvalidJump",
            ),
            (
                "Source and destination overlap in memcpy(0x1, 0x2, 3)",
                "Overlap",
            ),
            (
                "Syscall param write(buf) points to uninitialised byte(s)",
                "SyscallParam",
            ),
            (
                "Conditional jump or move depends on uninitialised value(s)",
                "UninitCondition",
            ),
            ("Use of uninitialised value of size 8", "UninitValue"),
            (
                "Uninitialised byte(s) found during client check request",
                "ClientCheck",
            ),
            (
                "Argument 'size' of function malloc has a fishy (possibly negative) value: -1",
                "FishyValue",
            ),
            ("realloc() with size 0", "ReallocSizeZero"),
            (
                "Invalid alignment value: 3 (should be power of 2)",
                "InvalidAlignment",
            ),
            (
                "Invalid size value: 3 alignment value: 4 (size should be a multiple of alignment)",
                "InvalidSizeAndAlignment",
            ),
            ("Open file descriptor 3: /tmp/x", "FdNotClosed"),
        ];
        for (what, kind) in cases {
            assert_eq!(kind_of(what), Some(kind), "{what}");
        }
        assert_eq!(parse("Invalid read of size 4").unwrap().size, Some(4));
        assert_eq!(kind_of("HEAP SUMMARY:"), None);
        assert_eq!(
            kind_of("Address 0x1 is 0 bytes after a block of size 8 alloc'd"),
            None
        );
    }
}
