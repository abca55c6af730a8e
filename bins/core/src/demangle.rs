//! Demangling of C++ (Itanium `_Z…`) and Rust (legacy `_ZN…17h<hash>E`, v0 `_R…`) symbols,
//! with well-kept demanglers rather than a home-made one: GNU libiberty's `cplus_demangle`
//! for C++ (the code `c++filt` and gdb run, linked statically from Debian's `libiberty-dev`)
//! and the `rustc-demangle` crate for Rust.
//!
//! Why libiberty rather than the `cpp_demangle` crate: measured on 190k real symbols here,
//! cpp_demangle took twice the time of `c++filt` (80% of bt-demangle's time was inside it)
//! and dropped the `&&` of forwarding references expanded from a parameter pack (`DpOT_`),
//! so a std::unordered_map frame read differently from gdb's. libiberty prints exactly
//! what `c++filt -i` prints, at its speed, and refuses hostile symbols with its own
//! recursion limit.
//!
//! [`demangle`] reads one symbol the way gdb and `c++filt -i` print it. [`demangle_with`] adds
//! the choices `c++filt` offers (style, `--no-params`, `-t` types, Rust hashes), which is what
//! the conformance suite on libiberty's vectors needs. [`find_mangled`] and [`demangle_text`]
//! find every mangled name inside a line of free text, for filters that pass text through.

use std::ops::Range;

/// Which mangling schemes to try, as `c++filt --format=…` chooses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// Rust first (its legacy symbols are also valid C++ manglings), then C++.
    #[default]
    Auto,
    /// C++ Itanium ABI only (`--format=gnu-v3`).
    Cpp,
    /// Rust only, legacy and v0 (`--format=rust`).
    Rust,
}

/// What to demangle and how to print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Mangling schemes to try.
    pub style: Style,
    /// Print C++ function parameter lists and return types (`c++filt` prints them unless
    /// `--no-params`).
    pub params: bool,
    /// Also read bare C++ type encodings such as `St9bad_alloc` (`c++filt -t`). Off for free
    /// text, where a word like `i` or `Ss` is not a symbol.
    pub types: bool,
    /// Keep Rust's hash (`::h0123…`) and crate disambiguators, as `c++filt` without `-i` does.
    pub rust_hash: bool,
}

impl Default for Options {
    /// What gdb and `c++filt -i` print: auto style, parameters, no bare types, no Rust hash.
    fn default() -> Self {
        Options {
            style: Style::Auto,
            params: true,
            types: false,
            rust_hash: false,
        }
    }
}

/// The demangled form of a symbol, or `None` when it is not a mangled name this module can
/// read. Rust hashes are hidden (`{:#}`), as `c++filt -i` and gdb show them.
pub fn demangle(symbol: &str) -> Option<String> {
    demangle_with(symbol, &Options::default())
}

/// The demangled form of a symbol under the given options, or `None` when it does not
/// demangle (`c++filt` then prints it unchanged).
pub fn demangle_with(symbol: &str, opts: &Options) -> Option<String> {
    // In auto style a symbol is tried as Rust only when it looks like one: legacy Rust
    // symbols are valid C++ manglings too, and C++ must win for everything else.
    let rust = match opts.style {
        Style::Rust => true,
        Style::Auto => is_rust(symbol),
        Style::Cpp => false,
    };
    if rust {
        if let Ok(d) = rustc_demangle::try_demangle(symbol) {
            return Some(if opts.rust_hash {
                format!("{d}")
            } else {
                format!("{d:#}")
            });
        }
    }
    if opts.style == Style::Rust {
        return None;
    }
    if symbol.starts_with("_Z") || (opts.types && !symbol.is_empty()) {
        return demangle_cpp(symbol, opts.params, opts.types);
    }
    None
}

fn demangle_cpp(symbol: &str, params: bool, types: bool) -> Option<String> {
    // The flags `c++filt -i` passes (DMGL_PARAMS | DMGL_ANSI, no DMGL_VERBOSE), GNU v3 only.
    let mut flags = libiberty::ANSI | libiberty::GNU_V3;
    if params {
        flags |= libiberty::PARAMS;
    }
    if types {
        flags |= libiberty::TYPES;
    }
    libiberty::demangle(symbol, flags)
}

/// The one place that calls C: libiberty's demangler.
#[allow(unsafe_code)]
mod libiberty {
    use std::ffi::{c_char, c_int, c_void, CString};

    /// `DMGL_PARAMS`: print function parameters (and return types).
    pub const PARAMS: c_int = 1 << 0;
    /// `DMGL_ANSI`: print const, volatile and the like.
    pub const ANSI: c_int = 1 << 1;
    /// `DMGL_TYPES`: also read bare type encodings (`St9bad_alloc`).
    pub const TYPES: c_int = 1 << 4;
    /// `DMGL_GNU_V3`: the Itanium C++ ABI, the only C++ mangling in use.
    pub const GNU_V3: c_int = 1 << 14;

    /// demangle.h's `demangle_callbackref`: a piece of the demangled text, its length, and
    /// the caller's pointer.
    type Callback = unsafe extern "C" fn(*const c_char, usize, *mut c_void);

    unsafe extern "C" {
        // demangle.h: hands the demangled text to `callback` piece by piece; returns 0 when
        // the name does not demangle. `cplus_demangle(…, DMGL_GNU_V3 | …)`, what `c++filt`
        // calls, runs the same code (`d_demangle_callback`) but collects the pieces in a
        // string it mallocs, which would then be measured, checked and copied once more.
        fn cplus_demangle_v3_callback(
            mangled: *const c_char,
            options: c_int,
            callback: Callback,
            opaque: *mut c_void,
        ) -> c_int;
    }

    /// Appends a piece to the `Vec<u8>` that `out` points to.
    unsafe extern "C" fn append(piece: *const c_char, len: usize, out: *mut c_void) {
        // SAFETY: `out` is the `&mut Vec<u8>` that `demangle` passes, alive and not
        // otherwise borrowed during the call; libiberty passes `len` readable bytes at
        // `piece`.
        let (out, piece) = unsafe {
            (
                &mut *out.cast::<Vec<u8>>(),
                std::slice::from_raw_parts(piece.cast::<u8>(), len),
            )
        };
        out.extend_from_slice(piece);
    }

    /// The demangled name, or `None` when libiberty cannot read it (or it holds a NUL).
    pub fn demangle(symbol: &str, flags: c_int) -> Option<String> {
        if symbol.as_bytes().contains(&0) {
            return None;
        }
        // NUL-terminated for C: on the stack for the usual symbol, else on the heap.
        let mut short = [0u8; 256];
        let long;
        let c: &[u8] = if symbol.len() < short.len() {
            short[..symbol.len()].copy_from_slice(symbol.as_bytes());
            &short[..=symbol.len()]
        } else {
            long = CString::new(symbol).ok()?;
            long.as_bytes_with_nul()
        };
        // Demangled names are about twice as long as mangled ones.
        let mut out: Vec<u8> = Vec::with_capacity(2 * symbol.len() + 32);
        // SAFETY: `c` is NUL-terminated, holds no other NUL and outlives the call, which only
        // reads it; `append` is given `out`, which outlives the call too.
        let ok = unsafe {
            cplus_demangle_v3_callback(
                c.as_ptr().cast(),
                flags,
                append,
                (&mut out as *mut Vec<u8>).cast(),
            )
        };
        if ok == 0 {
            return None;
        }
        // Identifiers are copied from the input byte by byte, and a length in the mangling
        // may cut a UTF-8 character in two.
        Some(
            String::from_utf8(out)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        )
    }
}

/// Rust v0 symbols start with `_R`; legacy ones look like C++ nested names but end in a
/// 17-character hash component `17h<16 hex>E`.
fn is_rust(symbol: &str) -> bool {
    if symbol.starts_with("_R") {
        return true;
    }
    // A legacy symbol may carry an LLVM suffix after its closing `E` (`….llvm.1234`).
    let symbol = symbol.split_once('.').map_or(symbol, |(s, _)| s);
    let Some(body) = symbol.strip_prefix("_ZN").and_then(|s| s.strip_suffix('E')) else {
        return false;
    };
    body.len() > 19 && {
        let tail = &body.as_bytes()[body.len() - 19..];
        tail.starts_with(b"17h") && tail[3..].iter().all(u8::is_ascii_hexdigit)
    }
}

/// Characters a mangled name is made of: identifiers, `$` (Rust legacy escapes) and `.`
/// (clone suffixes such as `.isra.0`, `.cold`, `.llvm.123`).
fn is_symbol_byte(b: u8) -> bool {
    SYMBOL_BYTES[b as usize]
}

/// [`is_symbol_byte`] as a table: every byte of every line is looked up.
const SYMBOL_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'.';
        b += 1;
    }
    t
};

/// Every mangled name in `text` that demangles, with its byte range and demangled form, in
/// order. A name starts with `_Z` or `_R` at a word boundary and runs over identifier
/// characters, `$` and `.`; trailing dots (the end of a sentence) are dropped when the whole
/// word does not demangle.
pub fn find_mangled(text: &str) -> Vec<(Range<usize>, String)> {
    let mut found = Vec::new();
    for_each_word(text, &mut |range| match demangle(&text[range.clone()]) {
        Some(d) => {
            found.push((range, d));
            true
        }
        None => false,
    });
    found
}

/// Calls `try_word` on every word of `text` that may be a mangled name, in order; it says
/// whether the word demangled. A word that did not is tried once more without its trailing
/// dots.
fn for_each_word(text: &str, try_word: &mut dyn FnMut(Range<usize>) -> bool) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'_', &bytes[i..]) {
        let start = i + off;
        i = start + 1;
        if start > 0 && is_symbol_byte(bytes[start - 1]) {
            continue;
        }
        if !matches!(bytes.get(start + 1), Some(b'Z' | b'R')) {
            continue;
        }
        // Every byte in the run is ASCII, so the ranges fall on char boundaries.
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|&&b| is_symbol_byte(b))
                .count();
        i = end;
        if try_word(start..end) {
            continue;
        }
        // All trailing dots at once: one retry per word keeps a line of dots linear.
        let trimmed = text[start..end].trim_end_matches('.').len();
        if trimmed > 2 && trimmed < end - start {
            try_word(start..start + trimmed);
        }
    }
}

/// `text` with every mangled name replaced by `map(demangled)`, or `None` when it holds no
/// mangled name (so that callers can pass the original through without a copy).
pub fn demangle_text(text: &str, map: &mut dyn FnMut(String) -> String) -> Option<String> {
    let mut out: Option<String> = None;
    let mut at = 0;
    for_each_word(text, &mut |range| match demangle(&text[range.clone()]) {
        Some(name) => {
            let out = out.get_or_insert_with(|| String::with_capacity(2 * text.len() + 64));
            out.push_str(&text[at..range.start]);
            out.push_str(&map(name));
            at = range.end;
            true
        }
        None => false,
    });
    let mut out = out?;
    out.push_str(&text[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("_Znwm", Some("operator new(unsigned long)")),
            ("_ZN3foo3barEi", Some("foo::bar(int)")),
            (
                "_ZN4core3ptr13drop_in_place17h0123456789abcdefE",
                Some("core::ptr::drop_in_place"),
            ),
            ("_RNvCs1234_7mycrate3foo", Some("mycrate::foo")),
            ("_Z3foov.isra.0", Some("foo() [clone .isra.0]")),
            (
                "_ZL9crash_mapP7_objectS0_",
                Some("crash_map(_object*, _object*)"),
            ),
            ("malloc", None),
            ("_Z", None),
            ("St9bad_alloc", None),
            ("_Rb_tree", None),
        ];
        for (sym, want) in cases {
            assert_eq!(demangle(sym).as_deref(), want, "{sym}");
        }
    }

    #[test]
    fn options() {
        let types = Options {
            types: true,
            ..Options::default()
        };
        assert_eq!(
            demangle_with("St9bad_alloc", &types).as_deref(),
            Some("std::bad_alloc")
        );
        let no_params = Options {
            params: false,
            ..Options::default()
        };
        assert_eq!(
            demangle_with("_ZN3foo3barEi", &no_params).as_deref(),
            Some("foo::bar")
        );
        let hash = Options {
            rust_hash: true,
            ..Options::default()
        };
        assert_eq!(
            demangle_with("_ZN4core3ptr13drop_in_place17h0123456789abcdefE", &hash).as_deref(),
            Some("core::ptr::drop_in_place::h0123456789abcdef")
        );
        let rust = Options {
            style: Style::Rust,
            ..Options::default()
        };
        assert_eq!(demangle_with("_ZN3foo3barEi", &rust), None);
    }

    #[test]
    fn names_in_text() {
        let line = "#3  0x1 in _ZN3foo3barEi (p=0x2 <_ZL5tablev+16>) at x.cc:3; see _Z3bazv.";
        let out = demangle_text(line, &mut |s| s).unwrap();
        assert_eq!(
            out,
            "#3  0x1 in foo::bar(int) (p=0x2 <table()+16>) at x.cc:3; see baz()."
        );
        // Inside a word, or a word that is not a symbol: left alone.
        for text in [
            "x_ZN3foo3barEi",
            "std::_Rb_tree<int>",
            "_Zebra",
            "no names",
            "",
        ] {
            assert_eq!(demangle_text(text, &mut |s| s), None, "{text}");
        }
        let found = find_mangled("a _RNvCs1234_7mycrate3foo b");
        assert_eq!(found, vec![(2..25, "mycrate::foo".to_string())]);
    }
}
