//! Which frames are the user's own code (`--project[=PATTERN]`, `--root DIR`).
//!
//! Shared by every tool that classifies frames, so that "project" means the same thing in a
//! Memcheck record and in a gdb backtrace.

use crate::frame::FrameFields;
use crate::wildcard;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Source file extensions looked for under the root when a frame names a file without its
/// directory (Valgrind prints base names unless run with `--fullpath-after=`).
const SOURCE_EXTENSIONS: &[&str] = &[
    "c", "h", "cc", "cpp", "cxx", "c++", "hh", "hpp", "hxx", "inl", "pyx", "pxd", "pxi", "rs", "m",
    "mm", "f", "f90", "cu", "i",
];

/// Most files indexed under the root; a huge tree is indexed partially rather than slowly.
const MAX_INDEXED_FILES: usize = 200_000;

/// How frames are judged to be the project's.
#[derive(Debug, Clone)]
pub enum Project {
    /// No `--project`: every frame counts (nothing is filtered out).
    Everything,
    /// `--project=PATTERN`, repeatable: a frame is the project's when its object or source
    /// path contains a pattern (or matches it as a glob when the pattern has `*` or `?`).
    Patterns(Patterns),
    /// `--project` alone: frames whose object or source file lies under the root.
    Under(Root),
    /// A bare `--project` and patterns together (as the recipes pass them): frames under the
    /// root, or matching a pattern.
    Either(Patterns, Root),
}

/// `--project=PATTERN`s, each with its substring searcher made once: a pattern is looked for
/// in every frame of every record.
#[derive(Debug, Clone)]
pub struct Patterns {
    list: Vec<String>,
    /// For each pattern without a wildcard, its searcher.
    finders: Vec<Option<memchr::memmem::Finder<'static>>>,
}

impl From<Vec<String>> for Patterns {
    fn from(list: Vec<String>) -> Self {
        let finders = list
            .iter()
            .map(|p| {
                (!wildcard::has_wildcard(p)).then(|| memchr::memmem::Finder::new(p).into_owned())
            })
            .collect();
        Patterns { list, finders }
    }
}

impl std::ops::Deref for Patterns {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.list
    }
}

/// The project root and what is known about the files under it.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
    prefix: String,
    /// Relative paths of source files under the root, built on first need.
    index: Option<Vec<String>>,
    /// Verdicts for bare file names already looked up.
    seen: HashMap<String, bool>,
}

impl Root {
    /// A root directory; made absolute so that it compares with the absolute paths in logs.
    pub fn new(dir: &Path) -> Self {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut prefix = dir.to_string_lossy().into_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Root {
            dir,
            prefix,
            index: None,
            seen: HashMap::new(),
        }
    }

    /// The root directory, absolute.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether any source file lies under the root: without one, a frame that names its
    /// file without a directory can never be found to be the project's.
    pub fn has_sources(&mut self) -> bool {
        let dir = &self.dir;
        !self
            .index
            .get_or_insert_with(|| index_sources(dir))
            .is_empty()
    }

    fn contains_path(&self, path: &str) -> bool {
        path.starts_with(&self.prefix)
    }

    /// Whether `path` (under the root) lies in an installed-packages folder: a venv inside
    /// the project holds other people's code (`.venv/lib/python3.11/site-packages/numpy/`).
    fn is_installed(&self, path: &str) -> bool {
        path[self.prefix.len().min(path.len())..]
            .split('/')
            .any(|part| part == "site-packages" || part == "dist-packages")
    }

    /// A relative source name (`leaky.c`, `src/mod.c`) is the project's when a file under
    /// the root ends with it.
    fn has_relative_source(&mut self, name: &str) -> bool {
        if let Some(&known) = self.seen.get(name) {
            return known;
        }
        let dir = &self.dir;
        let index = self.index.get_or_insert_with(|| index_sources(dir));
        let suffix = format!("/{name}");
        let found = index.iter().any(|p| p == name || p.ends_with(&suffix));
        self.seen.insert(name.to_string(), found);
        found
    }
}

/// Whether `frame` is under the root (see [`Project::Under`]).
fn under_root(root: &mut Root, frame: &impl FrameFields) -> bool {
    let file = frame.file();
    // An absolute source path says where the code was compiled: the best witness,
    // also when the object was installed elsewhere (a wheel built from the
    // tree, installed into a venv).
    if let Some(path) = file.filter(|p| p.starts_with('/')) {
        if root.contains_path(path) {
            return !root.is_installed(path);
        }
        // pip's temporary build tree: the rest of the path is the project's own
        // layout (`/tmp/pip-req-build-x1/src/mod.c` is `src/mod.c`).
        if let Some(rest) = in_pip_build(path) {
            if root.has_relative_source(rest) {
                return true;
            }
        }
    }
    if let Some(obj) = frame.object() {
        if root.contains_path(obj) {
            return !root.is_installed(obj);
        }
        // An object elsewhere (the interpreter, libc) is not the project's even
        // when one of its sources shares a base name with a project file.
        if obj.starts_with('/') {
            return false;
        }
    }
    match file {
        Some(path) if !path.starts_with('/') => root.has_relative_source(relative_source(path)),
        _ => false,
    }
}

/// Whether `frame`'s object or source path matches one of `patterns` (see
/// [`Project::Patterns`]).
fn matches_a_pattern(patterns: &Patterns, frame: &impl FrameFields) -> bool {
    // Borrowed, not cloned: this runs for every frame of every record, and was
    // the largest cost in vg-filter's profile.
    let candidates = [frame.object(), frame.file()];
    patterns
        .list
        .iter()
        .zip(&patterns.finders)
        .any(|(p, finder)| {
            candidates.iter().flatten().any(|&path| match finder {
                Some(finder) => contains(finder, path.as_bytes()),
                None => {
                    let base = path.rsplit('/').next().unwrap_or(path);
                    wildcard::matches(p, path) || wildcard::matches(p, base)
                }
            })
        })
}

/// Whether `finder`'s needle occurs in `hay`. Most frames' paths are short, where even a
/// ready searcher costs more to start than a search byte by byte.
fn contains(finder: &memchr::memmem::Finder<'_>, hay: &[u8]) -> bool {
    if hay.len() > 64 {
        return finder.find(hay).is_some();
    }
    let needle = finder.needle();
    let (Some(&first), Some(&last)) = (needle.first(), needle.last()) else {
        return true;
    };
    // First and last byte before the whole: `l` of `leaky` starts many a `/usr/lib/` path,
    // and a compare call costs more than the bytes it compares.
    hay.windows(needle.len())
        .any(|w| w[0] == first && w[needle.len() - 1] == last && w == needle)
}

/// A relative source name as a build printed it, without the `./` and `../` that lead it:
/// gdb shows setuptools' `./python/mod.c`, Valgrind `build/../src/mod.c`'s tail.
fn relative_source(path: &str) -> &str {
    let mut rest = path;
    loop {
        if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("../") {
            rest = r;
        } else {
            return rest;
        }
    }
}

/// The part of `path` after pip's temporary build folder (`pip-req-build-*`, or the package
/// folder inside `pip-install-*`), when it lies in one.
fn in_pip_build(path: &str) -> Option<&str> {
    let mut parts = path.split('/').enumerate();
    let (i, part) =
        parts.find(|(_, p)| p.starts_with("pip-req-build-") || p.starts_with("pip-install-"))?;
    let skip = if part.starts_with("pip-install-") {
        i + 2
    } else {
        i + 1
    };
    let mut offset = 0;
    for (n, piece) in path.split('/').enumerate() {
        if n == skip {
            return Some(relative_source(&path[offset..])).filter(|r| !r.is_empty());
        }
        offset += piece.len() + 1;
    }
    None
}

fn index_sources(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if out.len() >= MAX_INDEXED_FILES {
                return out;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Hidden directories, VCS data and build trees of other languages hold no
            // sources of the extension (Cython's generated C lives in build/, kept).
            if name.starts_with('.') || name == "node_modules" || name == "target" {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SOURCE_EXTENSIONS.contains(&e))
            {
                if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
    }
    out
}

impl Project {
    /// True when the frame is the project's.
    pub fn frame_matches(&mut self, frame: &impl FrameFields) -> bool {
        match self {
            Project::Everything => true,
            Project::Patterns(patterns) => matches_a_pattern(patterns, frame),
            Project::Either(patterns, root) => {
                matches_a_pattern(patterns, frame) || under_root(root, frame)
            }
            Project::Under(root) => under_root(root, frame),
        }
    }
    /// Index of the first project frame in a stack.
    pub fn first_in<F: FrameFields>(&mut self, stack: &[F]) -> Option<usize> {
        stack.iter().position(|f| self.frame_matches(f))
    }

    /// True when this filter keeps everything.
    pub fn is_everything(&self) -> bool {
        matches!(self, Project::Everything)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Frame;

    /// A frame of `obj`, and of `file` in `dir` (joined, as every parser gives it).
    fn frame(obj: Option<&str>, dir: Option<&str>, file: Option<&str>) -> Frame {
        Frame {
            object: obj.map(Into::into),
            file: match (dir, file) {
                (Some(d), Some(f)) => Some(format!("{d}/{f}")),
                (_, f) => f.map(Into::into),
            },
            ..Frame::default()
        }
    }

    #[test]
    fn contains_finds_a_needle_anywhere() {
        let has = |hay: &str, needle: &str| {
            contains(&memchr::memmem::Finder::new(needle), hay.as_bytes())
        };
        assert!(has("/src/leaky.c", "leaky"));
        assert!(has("leaky", "leaky"));
        assert!(has("lleaky", "leaky"));
        assert!(!has("leak", "leaky"));
        // First and last bytes agree, the middle does not.
        assert!(!has("/lib/lxxxy.so", "leaky"));
        assert!(has("a/b", "/"));
        assert!(!has("", "l"));
        assert!(has("anything", ""));
        let long = format!("{}leaky", "l".repeat(300));
        assert!(has(&long, "leaky"));
        assert!(!has(&long, "leakyx"));
    }

    #[test]
    fn patterns() {
        let mut p = Project::Patterns(vec!["native-core.so".into(), "*_ddwaf*".into()].into());
        assert!(p.frame_matches(&frame(Some("/x/native-core.so"), None, None)));
        assert!(p.frame_matches(&frame(Some("/x/_ddwaf.cpython-311.so"), None, None)));
        assert!(!p.frame_matches(&frame(Some("/usr/bin/python3.11"), None, Some("ceval.c"))));
    }

    #[test]
    fn under_root() {
        let tmp = std::env::temp_dir().join(format!("dbgpipe-project-{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("src")).unwrap();
        std::fs::write(tmp.join("src/leaky.c"), "").unwrap();
        let mut p = Project::Under(Root::new(&tmp));
        let root = std::fs::canonicalize(&tmp)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(p.frame_matches(&frame(Some(&format!("{root}/build/x.so")), None, None)));
        assert!(
            p.frame_matches(&frame(None, None, Some("leaky.c"))),
            "base name found under the root"
        );
        assert!(p.frame_matches(&frame(None, Some(&format!("{root}/src")), Some("leaky.c"))));
        assert!(!p.frame_matches(&frame(None, None, Some("ceval.c"))));
        assert!(
            !p.frame_matches(&frame(Some("/usr/bin/python3.11"), None, Some("leaky.c"))),
            "object outside wins"
        );
        assert!(!p.frame_matches(&frame(None, Some("/elsewhere"), Some("leaky.c"))));

        // Real layouts: gdb's relative paths of a setuptools build, a wheel installed into a
        // venv elsewhere (the source path is the tree's), pip's temporary build tree, and a
        // venv inside the project (other people's code).
        assert!(p.frame_matches(&frame(None, None, Some("./src/leaky.c"))));
        assert!(p.frame_matches(&frame(None, None, Some("../src/leaky.c"))));
        let venv_so = "/home/u/venv/lib/python3.11/site-packages/m/_m.so";
        assert!(p.frame_matches(&frame(
            Some(venv_so),
            Some(&format!("{root}/src")),
            Some("leaky.c")
        )));
        assert!(p.frame_matches(&frame(
            Some(venv_so),
            Some("/tmp/pip-req-build-k2j/src"),
            Some("leaky.c")
        )));
        assert!(p.frame_matches(&frame(
            Some(venv_so),
            Some("/tmp/pip-install-x/m_19ab/src"),
            Some("leaky.c")
        )));
        assert!(!p.frame_matches(&frame(
            Some(venv_so),
            Some("/tmp/pip-req-build-k2j/src"),
            Some("other.c")
        )));
        // A bare --project and a pattern: either.
        let Project::Under(under) = p else {
            unreachable!()
        };
        let mut p = Project::Either(vec!["_m.so".into()].into(), under);
        assert!(p.frame_matches(&frame(None, None, Some("leaky.c"))));
        assert!(p.frame_matches(&frame(Some("/opt/x/_m.so"), None, None)));
        assert!(!p.frame_matches(&frame(Some("/usr/bin/python3.11"), None, Some("ceval.c"))));
        let vendored =
            format!("{root}/.venv/lib/python3.11/site-packages/numpy/core/_multiarray_umath.so");
        assert!(!p.frame_matches(&frame(Some(&vendored), None, None)));
        match &mut p {
            Project::Either(_, root) => assert!(root.has_sources()),
            _ => unreachable!(),
        }
        let empty = tmp.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert!(!Root::new(&empty).has_sources());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
