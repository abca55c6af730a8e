//! Valgrind's wildcard match: `*` is any run of characters, `?` any one character.
//!
//! Used for suppression `fun:`/`obj:`/`src:` lines and for `--project=PATTERN` globs.

/// True when `text` matches `pattern` as a whole, with `*` and `?` wildcards.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // Iterative match with one backtrack point: linear in practice, never recursive, so
    // hostile patterns cannot exhaust the stack.
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// True when the pattern holds a wildcard character.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn table() {
        let cases = [
            ("malloc", "malloc", true),
            ("malloc", "calloc", false),
            ("*alloc", "calloc", true),
            ("_Py*", "_PyObject_Malloc", true),
            ("?alloc", "malloc", true),
            ("?alloc", "alloc", false),
            (
                "*/libpython3.11*.so*",
                "/usr/lib/libpython3.11d.so.1.0",
                true,
            ),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(matches(p, t), want, "{p} ~ {t}");
        }
    }
}
