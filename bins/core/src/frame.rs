//! One stack frame, as every tool reports it.
//!
//! Valgrind, gdb and Massif all describe a call stack as a list of frames; this is the one
//! shape they share, so that what works on frames (project matching, suppressions,
//! classification, signatures) works on any of them, and a script written against one tool's
//! frames reads another's.
//!
//! Wire format (schema 2; field order is stable, absent values are `null`):
//! `{"addr":"0x53C826E","function":"uninit","file":"/src/leaky.c","line":14,"object":"/x/leaky.so"}`.
//! A record that has more to say about a frame (bt-demangle's `args`, `inlined`, `class`)
//! adds its fields after these, in the same object.

use serde::{Deserialize, Serialize};

/// A stack frame. Fields that the input does not give are `None` (written as JSON `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// Instruction pointer as printed (`0x53C826E`; Valgrind's filtered outputs print
    /// `0x........`); `None` where the tool prints none (gdb's inlined frames).
    pub addr: Option<String>,
    /// Function name, demangled; `None` where the tool printed `???` or `??`.
    pub function: Option<String>,
    /// Source file: the path as the tool printed it (a base name when Valgrind ran without
    /// `--fullpath-after=`; Valgrind's XML gives the directory apart, and it is joined here).
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
    /// The executable or shared object the address lies in.
    pub object: Option<String>,
}

impl Frame {
    /// What identifies this frame when addresses and lines differ between runs: the function
    /// name, or the object for frames without symbols.
    pub fn identity(&self) -> &str {
        self.function
            .as_deref()
            .or(self.object.as_deref())
            .unwrap_or("???")
    }

    /// The source file's base name (`leaky.c` of `/src/leaky.c`).
    pub fn file_name(&self) -> Option<&str> {
        self.file
            .as_deref()
            .map(|f| f.rsplit('/').next().unwrap_or(f))
    }
}

/// The texts of a frame, as matching reads them: of a [`Frame`], or of a [`FrameRef`] not yet
/// copied out of its line. Project patterns, stack depths and thread roots are read through
/// this, so that a record nobody keeps is judged without making its frames.
pub trait FrameFields {
    /// See [`Frame::addr`].
    fn addr(&self) -> Option<&str>;
    /// See [`Frame::function`].
    fn function(&self) -> Option<&str>;
    /// See [`Frame::file`].
    fn file(&self) -> Option<&str>;
    /// See [`Frame::object`].
    fn object(&self) -> Option<&str>;
}

impl FrameFields for Frame {
    fn addr(&self) -> Option<&str> {
        self.addr.as_deref()
    }
    fn function(&self) -> Option<&str> {
        self.function.as_deref()
    }
    fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }
    fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }
}

/// A frame whose texts are borrowed (from the record's text, see
/// `memcheck::raw::RawStack`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// See [`Frame::addr`].
    pub addr: Option<&'a str>,
    /// See [`Frame::function`].
    pub function: Option<&'a str>,
    /// See [`Frame::file`].
    pub file: Option<&'a str>,
    /// See [`Frame::line`].
    pub line: Option<u32>,
    /// See [`Frame::object`].
    pub object: Option<&'a str>,
}

impl FrameFields for FrameRef<'_> {
    fn addr(&self) -> Option<&str> {
        self.addr
    }
    fn function(&self) -> Option<&str> {
        self.function
    }
    fn file(&self) -> Option<&str> {
        self.file
    }
    fn object(&self) -> Option<&str> {
        self.object
    }
}

/// What Valgrind writes after a frame's address (`fn (file.c:12)`, `fn (in /lib/x.so)`,
/// `???`), read without copying: Memcheck's text frames and Massif's heap-tree lines share
/// the format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Described<'a> {
    /// The function; `None` for `???`.
    pub function: Option<&'a str>,
    /// The source file, as written (a base name without `--fullpath-after=`).
    pub file: Option<&'a str>,
    /// The source line (`None` for Valgrind's filtered `...`).
    pub line: Option<u32>,
    /// The object, from `(in OBJECT)`.
    pub object: Option<&'a str>,
}

/// Reads `rest`, the text after a frame's `0x…: `: a function (which may itself contain
/// parentheses, as C++ signatures do) and, in the last balanced parentheses, `in OBJECT` or
/// `FILE:LINE`. A paste may cut the location (`block_free (pyaren`): the function is whole.
pub fn valgrind_location(rest: &str) -> Described<'_> {
    let (func, location) = match rest
        .strip_suffix(')')
        .and_then(|r| last_open_paren(r).map(|i| (r, i)))
    {
        Some((r, i)) if i > 0 && r[..i].ends_with(' ') => (trim_end(&r[..i]), Some(&r[i + 1..])),
        None if !rest.ends_with(')') => match rest.rfind(" (") {
            Some(i) if !rest[i..].contains(')') => (&rest[..i], None),
            _ => (rest, None),
        },
        _ => (rest, None),
    };
    let mut d = Described {
        function: match func {
            "???" | "" => None,
            f => Some(f),
        },
        ..Described::default()
    };
    if let Some(loc) = location {
        if let Some(obj) = loc.strip_prefix("in ") {
            d.object = Some(obj);
        } else {
            // By byte: `rsplit_once` searches with memrchr, slow to start for a short
            // `file.c:12`. A ':' byte is always a character boundary.
            let colon = loc.bytes().rposition(|b| b == b':');
            match colon.map(|i| (&loc[..i], &loc[i + 1..])) {
                // `...`: Valgrind's test filters put it in place of numbers.
                Some((file, "...")) => d.file = Some(file),
                Some((file, line)) => match digits(line) {
                    Some(n) => {
                        d.file = Some(file);
                        d.line = n;
                    }
                    None => d.file = Some(loc),
                },
                None => d.file = Some(loc),
            }
        }
    }
    d
}

/// `s` when it is all digits (`Some`), as a line number (`None` when empty or past
/// `u32::MAX`). One pass, for every frame: `all` then `parse` were two.
fn digits(s: &str) -> Option<Option<u32>> {
    let mut n: Option<u32> = (!s.is_empty()).then_some(0);
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.and_then(|n| n.checked_mul(10)?.checked_add(u32::from(b - b'0')));
    }
    Some(n)
}

/// Index of the `(` that opens the group closed at the end of `s` (whose final `)` has
/// already been stripped).
fn last_open_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    // From paren to paren: a frame's location (`in /usr/lib/…`, `obmalloc.c:807`) seldom
    // holds one, so this is one vector search where a byte loop walked the whole location.
    for i in memchr::memrchr2_iter(b'(', b')', s.as_bytes()) {
        match s.as_bytes()[i] {
            b')' => depth += 1,
            _ if depth == 0 => return Some(i),
            _ => depth -= 1,
        }
    }
    None
}

/// `s.trim_end()`, answered by the last byte when it is printable ASCII (a frame's text
/// nearly always ends so; `trim_end` decodes characters).
pub(crate) fn trim_end(s: &str) -> &str {
    match s.as_bytes().last() {
        Some(b) if b.is_ascii_graphic() => s,
        _ => s.trim_end(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valgrind_locations() {
        let d = |s| valgrind_location(s);
        assert_eq!(
            d("PyObject_Malloc (obmalloc.c:807)"),
            Described {
                function: Some("PyObject_Malloc"),
                file: Some("obmalloc.c"),
                line: Some(807),
                object: None
            }
        );
        assert_eq!(d("malloc (in /lib/x.so)").object, Some("/lib/x.so"));
        assert_eq!(d("???").function, None);
        assert_eq!(d("f (a.c:...)").file, Some("a.c"));
        assert_eq!(d("f (a.c:...)").line, None);
        // Past u32::MAX: the file stays, the line is unknown.
        assert_eq!(d("f (a.c:99999999999)").file, Some("a.c"));
        assert_eq!(d("f (a.c:99999999999)").line, None);
        assert_eq!(d("f (a.c:)").file, Some("a.c"));
        assert_eq!(d("f (C:x12)").file, Some("C:x12"));
        assert_eq!(
            d("std::vector<int>::push_back(int const&) (stl_vector.h:1198)").function,
            Some("std::vector<int>::push_back(int const&)")
        );
        // Cut by a paste inside its location: the function is whole.
        assert_eq!(d("block_free (pyaren").function, Some("block_free"));
    }

    #[test]
    fn the_wire_format_is_stable() {
        let f = Frame {
            addr: Some("0x1".into()),
            function: Some("f".into()),
            file: Some("/src/a.c".into()),
            line: Some(3),
            object: None,
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"addr":"0x1","function":"f","file":"/src/a.c","line":3,"object":null}"#
        );
        assert_eq!(serde_json::from_str::<Frame>(&json).unwrap(), f);
        assert_eq!(f.file_name(), Some("a.c"));
        assert_eq!(f.identity(), "f");
        assert_eq!(Frame::default().identity(), "???");
    }
}
