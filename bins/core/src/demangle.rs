//! Demangling of C++ (Itanium `_Z…`) and Rust (legacy `_ZN…17h<hash>E`, v0 `_R…`) symbols,
//! with the well-kept crates `cpp_demangle` and `rustc-demangle` rather than a home-made
//! demangler.

use cpp_demangle::{DemangleOptions, ParseOptions, Symbol};

/// Deepest recursion the C++ demangler may use: hostile symbols fail instead of exhausting
/// the stack.
const RECURSION_LIMIT: u32 = 256;

/// The demangled form of a symbol, or `None` when it is not a mangled name this module can
/// read. Rust hashes are hidden (`{:#}`), as `c++filt -i` and gdb show them.
pub fn demangle(symbol: &str) -> Option<String> {
    if is_rust(symbol) {
        if let Ok(d) = rustc_demangle::try_demangle(symbol) {
            return Some(format!("{d:#}"));
        }
    }
    if symbol.starts_with("_Z") {
        let parse = ParseOptions::default().recursion_limit(RECURSION_LIMIT);
        let sym = Symbol::new_with_options(symbol.as_bytes(), &parse).ok()?;
        let opts = DemangleOptions::new().recursion_limit(RECURSION_LIMIT);
        return sym.demangle_with_options(&opts).ok();
    }
    None
}

/// Rust v0 symbols start with `_R`; legacy ones look like C++ nested names but end in a
/// 17-character hash component `17h<16 hex>E`.
fn is_rust(symbol: &str) -> bool {
    if symbol.starts_with("_R") {
        return true;
    }
    let Some(body) = symbol.strip_prefix("_ZN").and_then(|s| s.strip_suffix('E')) else {
        return false;
    };
    body.len() > 19 && {
        let tail = &body.as_bytes()[body.len() - 19..];
        tail.starts_with(b"17h") && tail[3..].iter().all(u8::is_ascii_hexdigit)
    }
}

#[cfg(test)]
mod tests {
    use super::demangle;

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
            ("malloc", None),
            ("_Z", None),
        ];
        for (sym, want) in cases {
            assert_eq!(demangle(sym).as_deref(), want, "{sym}");
        }
    }
}
