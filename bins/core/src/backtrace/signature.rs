//! The crash signature: what identifies a crash across runs, machines and builds.
//!
//! It hashes function names only, from the crashing thread's stack: up to three system
//! frames above the first project frame (where the project called into the library that
//! crashed), then up to three project frames, stopping where the interpreter takes over
//! again; a stack without project or system frames gives its first three named frames.
//! Names are bare ([`crate::backtrace::simplify::bare_name`]): no addresses, arguments, lines,
//! parameter types or template arguments, which differ between runs, builds, debug levels
//! and `set print demangle` settings, so that the same crash gets the same signature and
//! different crashes differ. gdb's markers (`<signal handler called>`) and `??` frames have
//! no name and are skipped.
//!
//! The hash is FNV-1a 64 over the names, each ended by a NUL, written as 16 hex digits:
//! simple enough to recompute anywhere, and stable across versions of this program.

use super::classify::Class;

/// System frames hashed, at most, above the first project frame.
pub const SYSTEM_FRAMES: usize = 3;
/// Project frames hashed, at most.
pub const PROJECT_FRAMES: usize = 3;

/// The names a signature hashes, innermost first, from a stack's frames given as their
/// class and bare name (`None` for frames without one).
pub fn functions<'a, I>(frames: I) -> Vec<String>
where
    I: IntoIterator<Item = (Class, Option<&'a str>)>,
    I::IntoIter: Clone,
{
    let named = frames
        .into_iter()
        .filter_map(|(class, name)| name.map(|n| (class, n)));
    let mut system = Vec::new();
    let mut project = Vec::new();
    for (class, name) in named.clone() {
        match class {
            Class::System if project.is_empty() && system.len() < SYSTEM_FRAMES => {
                system.push(name.to_string())
            }
            Class::Project => {
                project.push(name.to_string());
                if project.len() == PROJECT_FRAMES {
                    break;
                }
            }
            Class::Python if !project.is_empty() => break,
            _ => {}
        }
    }
    system.extend(project);
    if system.is_empty() {
        system = named
            .take(PROJECT_FRAMES)
            .map(|(_, n)| n.to_string())
            .collect();
    }
    system
}

/// FNV-1a 64 over the names, each ended by a NUL, as 16 hex digits.
pub fn hash(names: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in names
        .iter()
        .flat_map(|n| n.bytes().chain(std::iter::once(0)))
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A crash's fingerprint: FNV-1a 64 over its signal (empty when unknown) and its signature's
/// functions, each followed by a NUL byte; none without either. The signal sets apart a
/// SIGSEGV and a SIGABRT at the same place; no address, path or thread goes in.
pub fn fingerprint(signal: Option<&str>, names: &[String]) -> Option<String> {
    if signal.is_none() && names.is_empty() {
        return None;
    }
    let mut all = vec![signal.unwrap_or("").to_string()];
    all.extend(names.iter().cloned());
    Some(hash(&all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Class::*;

    fn names(stack: &[(Class, &str)]) -> Vec<String> {
        functions(stack.iter().map(|&(c, n)| (c, (n != "??").then_some(n))))
    }

    #[test]
    fn the_names_hashed() {
        let stack = [
            (System, "strlen"),
            (Unknown, "??"),
            (Project, "a"),
            (Project, "b"),
            (Python, "PyObject_Call"),
            (Project, "c"),
            (System, "__libc_start_main"),
        ];
        assert_eq!(names(&stack), ["strlen", "a", "b"]);
        let deep = [
            (System, "s1"),
            (System, "s2"),
            (System, "s3"),
            (System, "s4"),
            (Project, "p1"),
            (Project, "p2"),
            (Project, "p3"),
            (Project, "p4"),
        ];
        assert_eq!(names(&deep), ["s1", "s2", "s3", "p1", "p2", "p3"]);
        let python_only = [(Python, "x"), (Python, "y"), (Python, "z"), (Python, "w")];
        assert_eq!(names(&python_only), ["x", "y", "z"]);
        assert!(names(&[]).is_empty());
    }

    /// A stable, documented hash: FNV-1a 64 of the names, NUL-terminated.
    #[test]
    fn the_hash_is_fnv1a_of_nul_ended_names() {
        assert_eq!(hash(&[]), "cbf29ce484222325");
        // Computed apart (Python, from the published constants): FNV-1a 64 of `a` is
        // af63dc4c8601ec8c, and of `a\0`:
        assert_eq!(hash(&["a".into()]), "089be207b544f1e4");
        // The C example's crash, as the README shows it.
        assert_eq!(
            hash(&["dbgpipe_store".into(), "crash_null".into()]),
            "c0b48c532b3aeabd"
        );
        assert_ne!(hash(&["ab".into()]), hash(&["a".into(), "b".into()]));
    }
}
