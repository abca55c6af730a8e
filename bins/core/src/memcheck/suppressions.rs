//! Valgrind suppression files: parsing them, matching records against their entries, and
//! generating a small file that hides a baseline's records and none of a project's.
//!
//! # The format, as Valgrind reads it
//!
//! ```text
//! # comment lines start with '#' (after optional blanks) and may appear anywhere
//! {
//!    name, free text
//!    Memcheck:Leak                       TOOL[,TOOL…]:KIND
//!    match-leak-kinds: definite,possible Leak only, optional
//!    fun:malloc                          frames, innermost first: fun:, obj:, src:FILE[:LINE], ...
//!    ...
//!    fun:PyList_New
//! }
//! ```
//!
//! Lines are trimmed, blank lines are skipped. `Param` entries carry one more line after the
//! kind, the syscall parameter (`write(buf)`); `FishyValue` entries may carry `function(arg)`.
//! Frame patterns take `*` and `?` wildcards ([`crate::wildcard`]); a `...` frame line matches
//! any number of frames, zero included. An entry matches a record when its kind matches and its
//! frame list matches a *prefix* of the record's stack.
//!
//! Like Valgrind (`m_errormgr.c`, `mc_errors.c`), the parser refuses an entry without frames,
//! one made only of `...`, an unknown Memcheck kind and an unknown frame prefix. Entries of other
//! tools (`Helgrind:Race`, `drd:ConflictingAccess`) are kept, never match a Memcheck record, and
//! are checked only for their shape.
//!
//! # Kinds
//!
//! | record kind (XML `<kind>`) | suppression kind |
//! |---|---|
//! | `InvalidRead`, `InvalidWrite` | `Addr1` `Addr2` `Addr4` `Addr8` `Addr16` `Addr32`, by access size |
//! | `UninitValue` | `Value1` … `Value32`, by size |
//! | `UninitCondition` | `Cond` (also the old spelling `Value0`) |
//! | `SyscallParam` | `Param`, with the parameter line (`write(buf)`) |
//! | `ClientCheck` | `User` |
//! | `CoreMemError` | `CoreMem` |
//! | `InvalidFree`, `MismatchedFree` | `Free` |
//! | `MismatchedAllocateDeallocateSize` | `SizeMismatch` |
//! | `MismatchedAllocateDeallocateAlignment` | `AlignMismatch` |
//! | `InvalidMemPool` | `Mempool` |
//! | `Overlap` / `InvalidJump` | `Overlap` / `Jump` |
//! | `FishyValue` | `FishyValue`, with `function(argument)` |
//! | `ReallocSizeZero` | `ReallocZero` |
//! | `InvalidAlignment`, `InvalidSizeAndAlignment` | `BadAlign` |
//! | `InvalidSize` | `UnsafeZeroSize` (current Valgrind sources) or `BadSize` (earlier releases) |
//! | `Leak_*` | `Leak`, filtered by `match-leak-kinds` |
//! | `Fd*` (core errors) | none: never suppressed by a Memcheck entry |

use crate::memcheck::{header, Record};
use crate::{wildcard, Error, Frame};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// One entry of a suppression file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Suppression {
    /// The free-text name line (`<insert_a_suppression_name_here>` in generated files).
    pub name: String,
    /// The tool list before the `:`, as written (`Memcheck`, `Memcheck,Addrcheck`, `Helgrind`).
    pub tool: String,
    /// The kind after the `:` (`Leak`, `Addr4`, `Param`, …).
    pub kind: String,
    /// The extra line of `Param` (the syscall parameter, `write(buf)`) and `FishyValue`
    /// (`malloc(size)`) entries.
    pub aux: Option<String>,
    /// The `match-leak-kinds:` values (`definite`, `indirect`, `possible`, `reachable`, `all`,
    /// `none`) in file order; `None` when the line is absent, which matches every leak kind.
    pub leak_kinds: Option<Vec<String>>,
    /// Frame patterns, innermost first.
    pub frames: Vec<SuppFrame>,
    /// 1-based line of the opening `{`; 0 for generated entries.
    pub line: u64,
}

/// One frame line of a suppression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SuppFrame {
    /// `fun:PATTERN`: the function name (`???` when unknown), with wildcards.
    Fun(String),
    /// `obj:PATTERN`: the object (executable or shared library) path, with wildcards.
    Obj(String),
    /// `src:FILE[:LINE]`: the source file name, with wildcards, and optionally the line.
    Src {
        /// File name pattern.
        file: String,
        /// Line number; `None` matches any line.
        line: Option<u32>,
    },
    /// `...`: any number of frames, zero included.
    Ellipsis,
}

impl fmt::Display for SuppFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuppFrame::Fun(p) => write!(f, "fun:{p}"),
            SuppFrame::Obj(p) => write!(f, "obj:{p}"),
            SuppFrame::Src {
                file,
                line: Some(l),
            } => write!(f, "src:{file}:{l}"),
            // A reader trims the line, so a name ending in blanks keeps them only before
            // `:0` (any line), as it was read.
            SuppFrame::Src { file, line: None } if file.ends_with(char::is_whitespace) => {
                write!(f, "src:{file}:0")
            }
            SuppFrame::Src { file, line: None } => write!(f, "src:{file}"),
            SuppFrame::Ellipsis => f.write_str("..."),
        }
    }
}

/// Every kind Memcheck accepts after `Memcheck:` (`MC_(is_recognised_suppression)`, plus the
/// `UnsafeZeroSize` of current Valgrind sources).
pub const MEMCHECK_KINDS: &[&str] = &[
    "Param",
    "User",
    "CoreMem",
    "Addr1",
    "Addr2",
    "Addr4",
    "Addr8",
    "Addr16",
    "Addr32",
    "Jump",
    "Free",
    "Leak",
    "Overlap",
    "Mempool",
    "Cond",
    "Value0",
    "Value1",
    "Value2",
    "Value4",
    "Value8",
    "Value16",
    "Value32",
    "FishyValue",
    "ReallocZero",
    "BadAlign",
    "BadSize",
    "UnsafeZeroSize",
    "SizeMismatch",
    "AlignMismatch",
];

/// The values `match-leak-kinds:` takes.
const LEAK_KIND_WORDS: &[&str] = &[
    "definite",
    "indirect",
    "possible",
    "reachable",
    "all",
    "none",
];

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Non-blank, non-comment lines, trimmed, with their 1-based numbers: what Valgrind's
/// `get_nbnc_line` returns.
struct Lines<'a> {
    inner: std::iter::Enumerate<std::str::Lines<'a>>,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<(u64, &'a str)> {
        for (i, raw) in self.inner.by_ref() {
            let line = raw.trim();
            if !line.is_empty() && !line.starts_with('#') {
                return Some((i as u64 + 1, line));
            }
        }
        None
    }
}

/// A line quoted for an error message: one line, at most 60 characters.
fn quote(line: &str) -> String {
    let cut: String = line.chars().take(60).collect();
    if cut.len() < line.len() {
        format!("{:?}…", cut)
    } else {
        format!("{cut:?}")
    }
}

fn is_location(line: &str) -> bool {
    line.starts_with("fun:")
        || line.starts_with("obj:")
        || line.starts_with("src:")
        || line == "..."
}

fn has_tool(tools: &str, tool: &str) -> bool {
    tools.split(',').any(|t| t == tool)
}

/// Largest suppression file read (vg-filter `--suppressions`). The largest real one in the
/// corpus, generated for a whole project, is 535 KB; a file a hundred times that is not a
/// suppression file, and is refused rather than held in memory.
pub const MAX_FILE: usize = 64 << 20;

/// Parses a suppression file. `input` names it in errors (`file.supp:12: …`).
///
/// An empty file, or one of comments only, gives no entries.
pub fn parse(input: &str, text: &str) -> Result<Vec<Suppression>, Error> {
    let mut lines = Lines {
        inner: text.lines().enumerate(),
    };
    let mut out = Vec::new();
    let err = |line: u64, msg: String| Error::at(input, Some(line), msg);
    while let Some((start, open)) = lines.next() {
        if open != "{" {
            return Err(err(
                start,
                format!("expected '{{' or end of file, found {}", quote(open)),
            ));
        }
        let eof = |what: &str| {
            err(
                start,
                format!("suppression is not closed: end of file {what}"),
            )
        };
        let (ln, name) = lines.next().ok_or_else(|| eof("instead of its name"))?;
        if name == "}" {
            return Err(err(ln, "suppression has no name, kind or frames".into()));
        }
        let (ln, tool_kind) = lines
            .next()
            .ok_or_else(|| eof("instead of its TOOL:KIND line"))?;
        // `fun:malloc` has the TOOL:KIND shape too; taking it for tool `fun` (as Valgrind does,
        // skipping the entry) would hide a missing name or kind line.
        let split = match tool_kind.split_once(':') {
            _ if is_location(tool_kind) => None,
            Some((t, k)) if !t.is_empty() && !k.is_empty() => Some((t, k)),
            _ => None,
        };
        let Some((tool, kind)) = split else {
            return Err(err(
                ln,
                format!(
                    "expected a TOOL:KIND line such as Memcheck:Leak, found {}",
                    quote(tool_kind)
                ),
            ));
        };
        let memcheck = has_tool(tool, "Memcheck");
        if memcheck && !MEMCHECK_KINDS.contains(&kind) {
            return Err(err(
                ln,
                format!("unknown Memcheck suppression kind {}", quote(kind)),
            ));
        }

        // The optional or required line between the kind and the frames.
        let mut pending = lines.next();
        let (mut aux, mut leak_kinds) = (None, None);
        if let Some((ln, line)) = pending {
            if let Some(values) = line.strip_prefix("match-leak-kinds:") {
                if !(memcheck && kind == "Leak") {
                    return Err(err(
                        ln,
                        "match-leak-kinds: is only allowed in Memcheck:Leak entries".into(),
                    ));
                }
                leak_kinds = Some(parse_leak_kinds(values).map_err(|m| err(ln, m))?);
                pending = lines.next();
            } else if memcheck && kind == "Param" {
                if is_location(line) || line == "}" {
                    return Err(err(
                        ln,
                        "a Param suppression needs a syscall parameter line such as write(buf)"
                            .into(),
                    ));
                }
                aux = Some(line.to_string());
                pending = lines.next();
            } else if memcheck && kind == "FishyValue" && !is_location(line) && line != "}" {
                if !fishy_shape(line) {
                    return Err(err(
                        ln,
                        format!(
                            "expected function(argument) after FishyValue, found {}",
                            quote(line)
                        ),
                    ));
                }
                aux = Some(line.to_string());
                pending = lines.next();
            } else if !memcheck && !is_location(line) && line != "}" {
                // Valgrind skips other tools' entries unread; a line of theirs that is not a
                // frame is kept like Memcheck's extra lines, so that the entry round-trips.
                aux = Some(line.to_string());
                pending = lines.next();
            }
        } else if memcheck && kind == "Param" {
            return Err(eof("instead of the syscall parameter line"));
        }

        let mut frames = Vec::new();
        loop {
            let (ln, line) = match pending.take() {
                Some(l) => l,
                None => lines
                    .next()
                    .ok_or_else(|| eof("inside its frames (missing '}')"))?,
            };
            if line == "}" {
                break;
            }
            frames.push(parse_frame(line).map_err(|m| err(ln, m))?);
        }
        if frames.is_empty() {
            return Err(err(start, "suppression has no frame lines".into()));
        }
        if frames.iter().all(|f| *f == SuppFrame::Ellipsis) {
            return Err(err(
                start,
                "suppression needs at least one frame line that is not ...".into(),
            ));
        }
        out.push(Suppression {
            name: name.to_string(),
            tool: tool.to_string(),
            kind: kind.to_string(),
            aux,
            leak_kinds,
            frames,
            line: start,
        });
    }
    Ok(out)
}

/// `definite,possible`: comma-separated words; `all` and `none` stand alone. An empty list is
/// accepted (Valgrind accepts it too) and matches no leak.
fn parse_leak_kinds(values: &str) -> Result<Vec<String>, String> {
    let values = values.trim();
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let words: Vec<String> = values.split(',').map(|w| w.trim().to_string()).collect();
    if let Some(bad) = words
        .iter()
        .find(|w| !LEAK_KIND_WORDS.contains(&w.as_str()))
    {
        return Err(format!(
            "unknown leak kind {} (expected definite, indirect, possible, reachable, all or none)",
            quote(bad)
        ));
    }
    if words.len() > 1 && words.iter().any(|w| w == "all" || w == "none") {
        return Err("match-leak-kinds: all and none must stand alone".into());
    }
    Ok(words)
}

fn fishy_shape(line: &str) -> bool {
    matches!(line.split_once('('), Some((f, rest)) if !f.is_empty() && rest.contains(')'))
}

fn parse_frame(line: &str) -> Result<SuppFrame, String> {
    if line == "..." {
        return Ok(SuppFrame::Ellipsis);
    }
    if let Some(p) = line.strip_prefix("fun:") {
        return Ok(SuppFrame::Fun(p.to_string()));
    }
    if let Some(p) = line.strip_prefix("obj:") {
        return Ok(SuppFrame::Obj(p.to_string()));
    }
    if let Some(p) = line.strip_prefix("src:") {
        // Valgrind splits at the first ':'; line 0 means "any line".
        return match p.split_once(':') {
            None => Ok(SuppFrame::Src {
                file: p.to_string(),
                line: None,
            }),
            Some((file, n)) => match n.parse::<u32>() {
                Ok(0) => Ok(SuppFrame::Src {
                    file: file.to_string(),
                    line: None,
                }),
                Ok(l) => Ok(SuppFrame::Src {
                    file: file.to_string(),
                    line: Some(l),
                }),
                Err(_) => Err(format!(
                    "expected src:FILE or src:FILE:LINE, found {}",
                    quote(line)
                )),
            },
        };
    }
    Err(format!(
        "expected a frame line (fun:, obj:, src: or ...), found {}",
        quote(line)
    ))
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

/// What a record is, in suppression terms.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RecordKind {
    /// The kind a generated suppression uses.
    kind: String,
    /// Another spelling Valgrind also accepts for it.
    alias: Option<&'static str>,
    /// The syscall parameter (`Param`) or `function(argument)` (`FishyValue`).
    aux: Option<String>,
    /// `definite`, `indirect`, `possible` or `reachable` for leaks.
    leak: Option<&'static str>,
}

fn record_kind(rec: &Record) -> Option<RecordKind> {
    let what = rec.what.trim();
    let simple = |k: &str| {
        Some(RecordKind {
            kind: k.to_string(),
            alias: None,
            aux: None,
            leak: None,
        })
    };
    let sized = |prefix: &str| {
        let size = header::parse(what)?.size?;
        simple(&format!("{prefix}{size}"))
    };
    // `Unsafe allocation with size of zero` is XML kind InvalidSize even where a text parser
    // files it elsewhere. Current Valgrind sources call its suppression UnsafeZeroSize;
    // earlier releases worded the error `… invalid size value` and called it BadSize.
    if what.starts_with("Unsafe allocation with size of zero") {
        return Some(RecordKind {
            alias: Some("BadSize"),
            ..simple("UnsafeZeroSize")?
        });
    }
    let leak = |word: &'static str| {
        Some(RecordKind {
            leak: Some(word),
            ..simple("Leak")?
        })
    };
    match rec.kind.as_str() {
        "InvalidRead" | "InvalidWrite" => sized("Addr"),
        "UninitValue" => sized("Value"),
        "UninitCondition" => Some(RecordKind {
            alias: Some("Value0"),
            ..simple("Cond")?
        }),
        "SyscallParam" => Some(RecordKind {
            aux: Some(param_name(what)?),
            ..simple("Param")?
        }),
        "ClientCheck" => simple("User"),
        "CoreMemError" => simple("CoreMem"),
        "InvalidFree" | "MismatchedFree" => simple("Free"),
        "MismatchedAllocateDeallocateSize" => simple("SizeMismatch"),
        "MismatchedAllocateDeallocateAlignment" => simple("AlignMismatch"),
        "InvalidMemPool" => simple("Mempool"),
        "Overlap" => simple("Overlap"),
        "InvalidJump" => simple("Jump"),
        "FishyValue" => Some(RecordKind {
            aux: fishy_name(what),
            ..simple("FishyValue")?
        }),
        "ReallocSizeZero" => simple("ReallocZero"),
        "InvalidAlignment" | "InvalidSizeAndAlignment" => simple("BadAlign"),
        "InvalidSize" => Some(RecordKind {
            alias: Some("UnsafeZeroSize"),
            ..simple("BadSize")?
        }),
        "Leak_DefinitelyLost" => leak("definite"),
        "Leak_IndirectlyLost" => leak("indirect"),
        "Leak_PossiblyLost" => leak("possible"),
        "Leak_StillReachable" => leak("reachable"),
        _ => None,
    }
}

/// `Syscall param write(buf) points to uninitialised byte(s)` → `write(buf)`; also the
/// `… contains uninitialised byte(s)` form of register parameters.
fn param_name(what: &str) -> Option<String> {
    let rest = what.strip_prefix("Syscall param ")?;
    let end = [" points to ", " contains "]
        .iter()
        .filter_map(|s| rest.find(s))
        .min()?;
    Some(rest[..end].to_string())
}

/// `Argument 'size' of function malloc has a fishy …` → `malloc(size)`.
fn fishy_name(what: &str) -> Option<String> {
    let rest = what.strip_prefix("Argument '")?;
    let (arg, rest) = rest.split_once("' of function ")?;
    let func = rest.split(' ').next()?;
    Some(format!("{func}({arg})"))
}

/// The suppression kind a record would be suppressed under (`Addr4`, `Leak`, `Param`, …), or
/// `None` when no Memcheck suppression can match it (file-descriptor errors, an access of
/// unknown size).
pub fn suppression_kind(rec: &Record) -> Option<String> {
    record_kind(rec).map(|k| k.kind)
}

impl Suppression {
    /// True when this entry suppresses the record, as Valgrind decides it.
    pub fn matches(&self, rec: &Record) -> bool {
        self.matches_with(rec, &|_| None)
    }

    /// [`Suppression::matches`], also trying `alt_name(pattern)` for each `fun:` pattern
    /// without wildcards: Valgrind compares `fun:` lines against mangled names (`_Znwm`) while
    /// logs show demangled ones (`operator new(unsigned long)`), so a caller with a demangler
    /// returns the demangled form, which is then compared with the frame's name exactly (it is
    /// not a pattern: `char*` in a signature is a pointer, not a wildcard).
    pub fn matches_with(&self, rec: &Record, alt_name: &dyn Fn(&str) -> Option<String>) -> bool {
        if !self.kind_matches(rec) {
            return false;
        }
        let alts = self.alternatives(alt_name);
        let alt = |i: usize| alts.get(i).and_then(|a| a.as_deref());
        self.frames_match(
            rec.stack.len(),
            self.frames.contains(&SuppFrame::Ellipsis),
            &mut Scratch::default(),
            &mut |i, j| frame_matches(&self.frames[i], alt(i), &rec.stack[j]),
        )
    }

    /// Whether this entry's tool and kind (with its extra line) fit the record, frames aside.
    fn kind_matches(&self, rec: &Record) -> bool {
        let Some(rk) = record_kind(rec) else {
            return false;
        };
        has_tool(&self.tool, "Memcheck")
            && (self.kind == rk.kind || Some(self.kind.as_str()) == rk.alias)
            && self.details_match(&rk)
    }

    /// Each frame pattern's other name ([`Suppression::matches_with`]): for a `fun:` without
    /// wildcards, what `alt_name` gives for it.
    fn alternatives(&self, alt_name: &dyn Fn(&str) -> Option<String>) -> Vec<Option<String>> {
        self.frames
            .iter()
            .map(|pat| match pat {
                SuppFrame::Fun(p) if !wildcard::has_wildcard(p) => alt_name(p),
                _ => None,
            })
            .collect()
    }

    /// The checks of its kind's extra line: the syscall parameter, the fishy argument, the
    /// leak kinds.
    fn details_match(&self, rk: &RecordKind) -> bool {
        match self.kind.as_str() {
            // Valgrind compares these strings exactly; a pattern with wildcards is honoured
            // here too (a superset: a literal pattern behaves the same).
            "Param" => match (&self.aux, &rk.aux) {
                (Some(p), Some(name)) => wildcard::matches(p, name),
                _ => false,
            },
            // An entry without its `function(argument)` line matches any fishy value (Valgrind
            // reads such an entry but has nothing to compare).
            "FishyValue" => match (&self.aux, &rk.aux) {
                (None, _) => true,
                (Some(p), Some(name)) => wildcard::matches(p, name),
                (Some(_), None) => false,
            },
            "Leak" => match (&self.leak_kinds, rk.leak) {
                (None, _) => true,
                (Some(words), Some(leak)) => words.iter().any(|w| w == "all" || w == leak),
                (Some(_), None) => false,
            },
            _ => true,
        }
    }

    /// Does the frame list match a prefix of `stack`? A dynamic programme over (pattern
    /// position, frames consumed): O(patterns × frames) comparisons whatever the `...` layout,
    /// where naive backtracking is exponential in the number of `...`.
    ///
    /// `matches(i, j)` says whether pattern `i` matches frame `j` of the `n` frames;
    /// `ellipsis` whether the list has a `...`; `scratch` holds the programme's rows, kept
    /// from call to call so that matching allocates nothing.
    fn frames_match(
        &self,
        n: usize,
        ellipsis: bool,
        scratch: &mut Scratch,
        matches: &mut dyn FnMut(usize, usize) -> bool,
    ) -> bool {
        if !ellipsis {
            // Without `...`, frame i matches pattern i: no programme needed.
            return self.frames.len() <= n && (0..self.frames.len()).all(|i| matches(i, i));
        }
        let needed = self
            .frames
            .iter()
            .filter(|f| **f != SuppFrame::Ellipsis)
            .count();
        if needed > n {
            return false;
        }
        // reach[j]: the patterns so far can account for exactly the first j frames.
        let Scratch { reach, next, .. } = scratch;
        reach.clear();
        reach.resize(n + 1, false);
        next.clear();
        next.resize(n + 1, false);
        reach[0] = true;
        for (i, pat) in self.frames.iter().enumerate() {
            if *pat == SuppFrame::Ellipsis {
                let mut any = false;
                for j in 0..=n {
                    any |= reach[j];
                    next[j] = any;
                }
            } else {
                next[0] = false;
                for j in 0..n {
                    next[j + 1] = reach[j] && matches(i, j);
                }
            }
            std::mem::swap(reach, next);
            if !reach.contains(&true) {
                return false;
            }
        }
        // A prefix suffices: any number of frames may remain.
        reach.contains(&true)
    }

    /// The entry as Valgrind writes it: braces at column 0, every other line indented by three
    /// spaces, ending with a newline.
    pub fn to_text(&self) -> String {
        let mut s = format!("{{\n   {}\n   {}:{}\n", self.name, self.tool, self.kind);
        if let Some(aux) = &self.aux {
            s.push_str(&format!("   {aux}\n"));
        }
        if let Some(words) = &self.leak_kinds {
            s.push_str(&format!("   match-leak-kinds: {}\n", words.join(",")));
        }
        for f in &self.frames {
            s.push_str(&format!("   {f}\n"));
        }
        s.push_str("}\n");
        s
    }
}

/// One frame pattern against one frame. Unknown function and object names are `???`, as
/// Valgrind has them; but a text log prints no object for a frame with a source file, so there
/// an absent object is merely unprinted and only an all-`*` pattern matches it.
fn frame_matches(pat: &SuppFrame, alt: Option<&str>, frame: &Frame) -> bool {
    match pat {
        SuppFrame::Fun(p) => {
            let name = frame.function.as_deref().unwrap_or("???");
            wildcard::matches(p, name) || alt == Some(name)
        }
        SuppFrame::Obj(p) => match (&frame.object, &frame.file) {
            (Some(obj), _) => wildcard::matches(p, obj),
            (None, None) => wildcard::matches(p, "???"),
            (None, Some(_)) => !p.is_empty() && p.bytes().all(|b| b == b'*'),
        },
        SuppFrame::Src { file, line } => {
            let Some(f) = frame.file.as_deref() else {
                return false;
            };
            let base = f.rsplit('/').next().unwrap_or(f);
            let file_ok = wildcard::matches(file, base) || wildcard::matches(file, f);
            file_ok && line.map_or(true, |l| frame.line == Some(l))
        }
        SuppFrame::Ellipsis => true,
    }
}

/// Finds the first suppression matching a record.
pub fn find<'a>(supps: &'a [Suppression], rec: &Record) -> Option<&'a Suppression> {
    supps.iter().find(|s| s.matches(rec))
}

/// Suppressions made ready to be matched against many records, as vg-filter does against
/// every record of a log: [`find`]'s answer, without its cost per record. Each record's
/// suppression kind is worked out once, and only the entries of that kind are tried (in file
/// order, so the first match is the one [`find`] gives); each `fun:` pattern's demangled
/// name is worked out once, when the index is made; and stacks are matched without
/// allocating.
#[derive(Debug, Default)]
pub struct Index {
    supps: Vec<Suppression>,
    /// Memcheck entries by kind: indices into `supps`, in file order.
    by_kind: HashMap<String, Vec<usize>>,
    /// Each entry's patterns' other names ([`Suppression::alternatives`]).
    alts: Vec<Vec<Option<String>>>,
    /// Each entry's patterns as numbers, the same for the same pattern (and other name) in
    /// any entry: entries share their first frames (`fun:malloc`, the allocator's callers),
    /// and a pattern is compared with a record's frame once, not once per entry.
    ids: Vec<Vec<u32>>,
    /// Distinct patterns.
    distinct: usize,
    /// Whether each entry has a `...`.
    ellipsis: Vec<bool>,
}

/// The rows of [`Suppression::frames_match`]'s programme, reused.
#[derive(Debug, Default)]
pub struct Scratch {
    reach: Vec<bool>,
    next: Vec<bool>,
    /// What each distinct pattern said of each of the first frames of the record being
    /// matched: `round << 1 | yes`, valid when its round is this record's (so that nothing
    /// is cleared between records).
    memo: Vec<u32>,
    /// The record being matched, counted from 1.
    round: u32,
}

/// Most cells of [`Scratch::memo`]: with a large file's many distinct patterns, only the
/// first frames are remembered (a suppression rarely names more), bounding its memory.
const MEMO_CELLS: usize = 1 << 16;

impl Index {
    /// An index of `supps`; `alt_name` gives a `fun:` pattern's other name (see
    /// [`Suppression::matches_with`]).
    pub fn new(supps: Vec<Suppression>, alt_name: &dyn Fn(&str) -> Option<String>) -> Index {
        let mut by_kind: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in supps.iter().enumerate() {
            if has_tool(&s.tool, "Memcheck") {
                by_kind.entry(s.kind.clone()).or_default().push(i);
            }
        }
        let alts: Vec<Vec<Option<String>>> =
            supps.iter().map(|s| s.alternatives(alt_name)).collect();
        let mut numbers: HashMap<(&SuppFrame, Option<&str>), u32> = HashMap::new();
        let ids = supps
            .iter()
            .zip(&alts)
            .map(|(s, alts)| {
                s.frames
                    .iter()
                    .zip(alts)
                    .map(|(pat, alt)| {
                        let next = numbers.len() as u32;
                        *numbers.entry((pat, alt.as_deref())).or_insert(next)
                    })
                    .collect()
            })
            .collect();
        let distinct = numbers.len();
        let ellipsis = supps
            .iter()
            .map(|s| s.frames.contains(&SuppFrame::Ellipsis))
            .collect();
        Index {
            supps,
            by_kind,
            alts,
            ids,
            distinct,
            ellipsis,
        }
    }

    /// The first suppression matching a record, as [`find_with`] gives it.
    pub fn find(&self, rec: &Record, scratch: &mut Scratch) -> Option<&Suppression> {
        if self.supps.is_empty() {
            return None;
        }
        let rk = record_kind(rec)?;
        let empty: &[usize] = &[];
        let of = |kind: &str| self.by_kind.get(kind).map_or(empty, Vec::as_slice);
        let (mut a, mut b) = (of(&rk.kind), rk.alias.map_or(empty, of));
        let n = rec.stack.len();
        let depth = n.min(MEMO_CELLS / self.distinct.max(1));
        let mut memo = std::mem::take(&mut scratch.memo);
        if memo.len() < self.distinct * depth {
            memo.resize(self.distinct * depth, 0);
        }
        scratch.round = match scratch.round.checked_add(1).filter(|r| *r < 1 << 31) {
            Some(r) => r,
            None => {
                memo.fill(0);
                1
            }
        };
        let round = scratch.round;
        let found = loop {
            // The two kinds' entries merged back into file order.
            let i = match (a.first(), b.first()) {
                (None, None) => break None,
                (Some(&x), Some(&y)) if y < x => {
                    b = &b[1..];
                    y
                }
                (Some(&x), _) => {
                    a = &a[1..];
                    x
                }
                (None, Some(&y)) => {
                    b = &b[1..];
                    y
                }
            };
            let s = &self.supps[i];
            if !s.details_match(&rk) {
                continue;
            }
            let (ids, alts) = (&self.ids[i], &self.alts[i]);
            let mut matches = |p: usize, j: usize| {
                let ask = || {
                    let alt = alts.get(p).and_then(|a| a.as_deref());
                    frame_matches(&s.frames[p], alt, &rec.stack[j])
                };
                if j >= depth {
                    return ask();
                }
                let cell = &mut memo[j * self.distinct + ids[p] as usize];
                if *cell >> 1 == round {
                    return *cell & 1 == 1;
                }
                let yes = ask();
                *cell = round << 1 | u32::from(yes);
                yes
            };
            if s.frames_match(n, self.ellipsis[i], scratch, &mut matches) {
                break Some(s);
            }
        };
        scratch.memo = memo;
        found
    }
}

/// [`find`] with an alternative-name hook for mangled `fun:` patterns (see
/// [`Suppression::matches_with`]).
pub fn find_with<'a>(
    supps: &'a [Suppression],
    rec: &Record,
    alt_name: &dyn Fn(&str) -> Option<String>,
) -> Option<&'a Suppression> {
    supps.iter().find(|s| s.matches_with(rec, alt_name))
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

/// How [`generate`] cuts stacks and names its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Named frames every entry keeps beyond the allocator layer at the top of the stack
    /// (see [`ALLOCATORS`]); default 4.
    pub min_frames_after_alloc: usize,
    /// Entries are named `{name_prefix}-1`, `{name_prefix}-2`, … in output order.
    pub name_prefix: String,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            min_frames_after_alloc: 4,
            name_prefix: "dbgpipe-baseline".to_string(),
        }
    }
}

/// Function names (wildcard patterns) of the allocation layer: the C allocator and its
/// replacements, C++ `operator new`/`delete` (demangled and mangled), and CPython's memory and
/// object allocators. A GCC clone suffix (`.lto_priv.0`, `.constprop.1`, `.cold`) is ignored.
pub const ALLOCATORS: &[&str] = &[
    "malloc",
    "calloc",
    "realloc",
    "reallocarray",
    "free",
    "memalign",
    "posix_memalign",
    "aligned_alloc",
    "valloc",
    "pvalloc",
    "operator new*",
    "operator delete*",
    "_Znw*",
    "_Zna*",
    "_Zdl*",
    "_Zda*",
    "PyMem_*",
    "_PyMem_*",
    "PyObject_Malloc",
    "PyObject_Calloc",
    "PyObject_Realloc",
    "PyObject_Free",
    "_PyObject_Malloc*",
    "_PyObject_Calloc*",
    "_PyObject_Realloc*",
    "_PyObject_Free*",
    "_PyObject_New*",
    "_PyObject_GC_*",
    "PyObject_GC_*",
    "PyType_GenericAlloc",
    "gc_alloc*",
    "pymalloc_*",
];

/// True for a function of the allocation layer ([`ALLOCATORS`]).
pub fn is_allocator(name: &str) -> bool {
    // `foo.lto_priv.0` is GCC's clone of `foo`; C++ names hold no '.' before their '('.
    let base = match name.find('.') {
        Some(i) if i > 0 && !name[..i].contains('(') => &name[..i],
        _ => name,
    };
    ALLOCATORS.iter().any(|p| wildcard::matches(p, base))
}

/// Frames that say nothing about the caller: no name, or the name Valgrind gives inlined code
/// it cannot name.
fn is_anonymous(frame: &Frame) -> bool {
    matches!(frame.function.as_deref(), None | Some("UnknownInlinedFun"))
}

/// How many leading frames an entry must keep: the allocator layer (allocator frames and the
/// anonymous frames among and right after them, up to the last allocator frame), then
/// `min_after` named frames; the whole stack when it is shorter.
fn protected_len(stack: &[Frame], min_after: usize) -> usize {
    let mut layer = 0;
    for (i, f) in stack.iter().enumerate() {
        match f.function.as_deref() {
            Some(name) if is_allocator(name) => layer = i + 1,
            _ if is_anonymous(f) => {}
            _ => break,
        }
    }
    let mut named = 0;
    let mut len = layer;
    while named < min_after && len < stack.len() {
        if !is_anonymous(&stack[len]) {
            named += 1;
        }
        len += 1;
    }
    len
}

fn literal_frame(frame: &Frame) -> SuppFrame {
    match (&frame.function, &frame.object) {
        (Some(f), _) => SuppFrame::Fun(f.clone()),
        (None, Some(o)) => SuppFrame::Obj(o.clone()),
        (None, None) => SuppFrame::Obj("*".to_string()),
    }
}

/// A suppression in the making.
#[derive(Debug, Clone)]
struct Candidate {
    kind: String,
    aux: Option<String>,
    leak_kinds: BTreeSet<&'static str>,
    frames: Vec<SuppFrame>,
    /// Leading frames that generalisation must keep literal.
    protected: usize,
}

impl Candidate {
    fn to_suppression(&self) -> Suppression {
        Suppression {
            name: String::new(),
            tool: "Memcheck".to_string(),
            kind: self.kind.clone(),
            aux: self.aux.clone(),
            leak_kinds: (self.kind == "Leak").then(|| {
                LEAK_KIND_WORDS
                    .iter()
                    .filter(|w| self.leak_kinds.contains(*w))
                    .map(|w| w.to_string())
                    .collect()
            }),
            frames: self.frames.clone(),
            line: 0,
        }
    }

    fn clean(&self, project: &[&Record]) -> bool {
        let s = self.to_suppression();
        !project.iter().any(|p| s.matches(p))
    }
}

/// The candidate for one baseline record: its frames cut to the shortest prefix that keeps the
/// allocator layer plus `min_after` named callers and matches no project record.
fn candidate(rec: &Record, project: &[&Record], min_after: usize) -> Option<Candidate> {
    let rk = record_kind(rec)?;
    if !MEMCHECK_KINDS.contains(&rk.kind.as_str()) || rec.stack.is_empty() {
        return None;
    }
    let frames: Vec<SuppFrame> = rec.stack.iter().map(literal_frame).collect();
    let mut cand = Candidate {
        kind: rk.kind,
        aux: rk.aux,
        leak_kinds: rk.leak.into_iter().collect(),
        frames: Vec::new(),
        protected: 0,
    };
    // A prefix of length L (no `...`) matches a project record of a compatible kind exactly when
    // L is at most the number of leading frames the two agree on.
    let probe = cand.to_suppression();
    let mut need = protected_len(&rec.stack, min_after).max(1);
    for p in project.iter().filter(|p| probe.kind_matches(p)) {
        let agree = frames
            .iter()
            .zip(&p.stack)
            .take_while(|(pat, f)| frame_matches(pat, None, f))
            .count();
        need = need.max(agree + 1);
    }
    if need > frames.len() {
        // The whole stack also starts a project record's: no entry can tell them apart.
        return None;
    }
    cand.protected = protected_len(&rec.stack, min_after).min(need);
    cand.frames = frames[..need].to_vec();
    Some(cand)
}

type Key = (String, Option<String>, Vec<SuppFrame>);

/// A small suppression set for `--gen-suppressions`: every `baseline` record is matched by some
/// entry and no `project` record is, except baseline records that no entry can separate from
/// the project (their whole stack starts a project record's stack) and those no Memcheck
/// suppression can express (see [`suppression_kind`]; records without a stack); a caller can
/// find those with [`find`].
///
/// 1. Each baseline record gives a candidate: its kind (with the `Param` parameter, the fishy
///    `function(argument)`, or its own leak kind), its frames as `fun:NAME` (`obj:OBJ` without a
///    name, `obj:*` without either), cut to the shortest prefix that keeps the allocator layer
///    and [`GenerateOptions::min_frames_after_alloc`] named callers beyond it (the whole stack if
///    shorter) and matches no project record. Without the callers a baseline run of the bare
///    interpreter would produce `fun:malloc`, which hides every leak of the project later.
/// 2. Identical candidates are merged; leak candidates that differ only in leak kind become one
///    entry with both kinds when that matches no project record.
/// 3. Candidates with the same kind, the same protected prefix and the same last frame but
///    different frames between become `prefix, ..., last`, when that matches no project record.
///    The protected prefix (allocator layer plus callers), not just the first frame, stays
///    literal: `fun:malloc, ..., fun:X` would match the project's own allocations that happen
///    to have X anywhere below them.
/// 4. An entry whose frames extend another entry's literal frames (same kind) is dropped: the
///    shorter one already matches everything it does.
///
/// Output is sorted by kind, then frames, so that equal inputs give equal files.
pub fn generate(
    baseline: &[&Record],
    project: &[&Record],
    opts: &GenerateOptions,
) -> Vec<Suppression> {
    let min_after = opts.min_frames_after_alloc;

    // 1 and 2: candidates, merged by (kind, aux, frames).
    let mut merged: BTreeMap<Key, Vec<Candidate>> = BTreeMap::new();
    for rec in baseline {
        if let Some(c) = candidate(rec, project, min_after) {
            merged
                .entry((c.kind.clone(), c.aux.clone(), c.frames.clone()))
                .or_default()
                .push(c);
        }
    }
    let mut cands: Vec<Candidate> = Vec::new();
    for (_, group) in merged {
        let mut all = group[0].clone();
        for c in &group[1..] {
            all.leak_kinds.extend(c.leak_kinds.iter().copied());
            all.protected = all.protected.min(c.protected);
        }
        if all.leak_kinds.len() <= 1 || all.clean(project) {
            cands.push(all);
        } else {
            // Each leak kind on its own was checked clean when it was cut.
            let mut by_kind: BTreeMap<&'static str, Candidate> = BTreeMap::new();
            for c in group {
                for k in c.leak_kinds.iter().copied() {
                    by_kind.entry(k).or_insert_with(|| Candidate {
                        leak_kinds: [k].into(),
                        ..c.clone()
                    });
                }
            }
            cands.extend(by_kind.into_values());
        }
    }

    // 3: generalise what lies between the protected prefix and the last frame.
    let mut groups: BTreeMap<_, Vec<Candidate>> = BTreeMap::new();
    let mut out: Vec<Candidate> = Vec::new();
    for c in cands {
        if c.frames.len() > c.protected.max(1) {
            let head = c.frames[..c.protected.max(1)].to_vec();
            let last = c.frames[c.frames.len() - 1].clone();
            let key = (
                c.kind.clone(),
                c.aux.clone(),
                c.leak_kinds.clone(),
                head,
                last,
            );
            groups.entry(key).or_default().push(c);
        } else {
            out.push(c);
        }
    }
    for ((_, _, _, head, last), group) in groups {
        if group.len() >= 2 {
            let mut frames = head;
            frames.push(SuppFrame::Ellipsis);
            frames.push(last);
            let general = Candidate {
                frames,
                ..group[0].clone()
            };
            if general.clean(project) {
                out.push(general);
                continue;
            }
        }
        out.extend(group);
    }

    // 4 and the order: sorted by kind then frames, a literal prefix comes right before all the
    // entries that extend it.
    out.sort_by(|a, b| {
        (&a.kind, &a.frames, &a.aux, &a.leak_kinds).cmp(&(
            &b.kind,
            &b.frames,
            &b.aux,
            &b.leak_kinds,
        ))
    });
    let mut kept: Vec<Candidate> = Vec::with_capacity(out.len());
    for c in out {
        let subsumed = kept.iter().rev().take_while(|k| k.kind == c.kind).any(|k| {
            k.aux == c.aux
                && k.leak_kinds.is_superset(&c.leak_kinds)
                && !k.frames.contains(&SuppFrame::Ellipsis)
                && c.frames.starts_with(&k.frames)
        });
        if !subsumed {
            kept.push(c);
        }
    }
    kept.iter()
        .enumerate()
        .map(|(i, c)| Suppression {
            name: format!("{}-{}", opts.name_prefix, i + 1),
            ..c.to_suppression()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memcheck::{text, ParseStats};
    use std::path::{Path, PathBuf};

    /// The index gives the suppression the plain search gives, for every record of the real
    /// logs against every real suppression file (mangled names demangled both ways).
    #[test]
    fn the_index_finds_what_the_search_finds() {
        let mut records = Vec::new();
        for log in [
            "py311-leaky-malloc-all.log.gz",
            "py311-big-malloc-all.log.gz",
        ] {
            let file = std::fs::File::open(corpus().join("memcheck-logs").join(log)).unwrap();
            let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
            let mut stats = ParseStats::default();
            text::parse("log", reader, &mut stats, &mut |e| {
                if let crate::memcheck::Event::Record(r) = e {
                    records.push(r);
                }
            })
            .unwrap();
        }
        // A sample of every kind: the plain search is slow in a debug build.
        let step = (records.len() / 1500).max(1);
        let records: Vec<Record> = records.into_iter().step_by(step).collect();
        assert!(records.len() > 1000, "{}", records.len());
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join("suppressions"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .chain(
                std::fs::read_dir(corpus().join("../../suppressions"))
                    .unwrap()
                    .map(|e| e.unwrap().path()),
            )
            .filter(|p| p.extension().is_some_and(|x| x == "supp"))
            .collect();
        files.sort();
        let names = std::cell::RefCell::new(HashMap::new());
        let alt = |p: &str| {
            let mut names = names.borrow_mut();
            let name = names
                .entry(p.to_string())
                .or_insert_with(|| crate::demangle::demangle(p));
            name.clone()
        };
        let mut found = 0;
        for file in files {
            let supps = parse("f.supp", &read(&file)).unwrap();
            let index = Index::new(supps.clone(), &alt);
            let mut scratch = Scratch::default();
            // Fewer against the largest file (a project's generated half megabyte).
            let step = if supps.len() > 1000 { 20 } else { 1 };
            for r in records.iter().step_by(step) {
                let want = find_with(&supps, r, &alt).map(|s| s.line);
                let got = index.find(r, &mut scratch).map(|s| s.line);
                assert_eq!(got, want, "{}: {}", file.display(), r.what);
                found += usize::from(got.is_some());
            }
        }
        assert!(found > 100, "{found}");
    }

    /// The repository's real inputs (`tests/data`, see its README).
    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
    }

    fn read(path: &Path) -> String {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn supp_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("corpus dir {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                supp_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "supp") {
                out.push(path);
            }
        }
        out.sort();
    }

    fn log_records(path: &Path) -> Vec<Record> {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()));
        let reader: Box<dyn std::io::BufRead> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(
                &bytes[..],
            )))
        } else {
            Box::new(std::io::Cursor::new(bytes))
        };
        let mut out = Vec::new();
        let mut stats = ParseStats::default();
        text::parse("log", reader, &mut stats, &mut |e| {
            out.extend(e.into_record())
        })
        .unwrap();
        out
    }

    /// A frame with a function name (`???` for none).
    fn f(function: &str) -> Frame {
        Frame {
            function: (function != "???").then(|| function.to_string()),
            ..Frame::default()
        }
    }

    fn rec(kind: &str, what: &str, funcs: &[&str]) -> Record {
        Record {
            kind: kind.to_string(),
            what: what.to_string(),
            stack: funcs.iter().map(|n| f(n)).collect(),
            ..Record::default()
        }
    }

    fn leak(word: &str, funcs: &[&str]) -> Record {
        let (kind, words) = match word {
            "definite" => ("Leak_DefinitelyLost", "definitely lost"),
            "indirect" => ("Leak_IndirectlyLost", "indirectly lost"),
            "possible" => ("Leak_PossiblyLost", "possibly lost"),
            _ => ("Leak_StillReachable", "still reachable"),
        };
        rec(
            kind,
            &format!("8 bytes in 1 blocks are {words} in loss record 1 of 1"),
            funcs,
        )
    }

    /// One entry: `kind` is `TOOL:KIND` or just KIND (Memcheck), then extra lines and frames.
    fn supp(kind: &str, lines: &[&str]) -> Suppression {
        let kind = if kind.contains(':') {
            kind.to_string()
        } else {
            format!("Memcheck:{kind}")
        };
        let text = format!(
            "{{\n   t\n   {kind}\n{}}}\n",
            lines
                .iter()
                .map(|l| format!("   {l}\n"))
                .collect::<String>()
        );
        let mut v = parse("t.supp", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    #[test]
    fn corpus_files_parse() {
        let root = corpus();
        let mut files = Vec::new();
        supp_files(&root.join("valgrind/memcheck/tests"), &mut files);
        assert_eq!(files.len(), 31, "Valgrind's test .supp files");
        let mut total = 0;
        for path in &files {
            let text = read(path);
            let supps = parse(&path.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}"));
            assert!(!supps.is_empty(), "{}", path.display());
            total += supps.len();
        }
        // Independently: 136 lines that are `{` once trimmed across the 31 files.
        assert_eq!(total, 136);

        // The counts in suppressions/README.md, checked against the number of lines that are
        // exactly `{` once trimmed (one default.supp entry opens with trailing blanks).
        let readme = read(&root.join("suppressions/README.md"));
        let want = [
            ("cpython-Misc-valgrind-python.supp", 33),
            ("debian-python3.11-python3.supp", 48),
            ("debian-valgrind-3.19-default.supp", 158),
            ("debian-valgrind-3.19-debian.supp", 8),
            ("dd-trace-py-valgrind-python.supp", 1445),
        ];
        for (name, count) in want {
            let row = readme
                .lines()
                .find(|l| l.contains(&format!("`{name}`")))
                .unwrap_or_else(|| panic!("{name} row"));
            assert!(
                row.contains(&format!("| {count} "))
                    || row.contains(&format!("{}", count).replace("1445", "1,445")),
                "{row}"
            );
            let text = read(&root.join("suppressions").join(name));
            let supps = parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(supps.len(), count, "{name}");
            let braces = text.lines().filter(|l| l.trim() == "{").count();
            assert_eq!(braces, count, "{name}: lines that are `{{`");
        }

        // What the big files hold, as the README describes it.
        let dd = parse(
            "dd",
            &read(&root.join("suppressions/dd-trace-py-valgrind-python.supp")),
        )
        .unwrap();
        assert_eq!(
            dd.iter()
                .filter(|s| s.name == "<insert_a_suppression_name_here>")
                .count(),
            1400
        );
        // The README counts 1,401 `match-leak-kinds:` lines, but the entry at line 393 has no
        // name line: Valgrind takes `Memcheck:Leak` for its name and `match-leak-kinds: possible`
        // for its TOOL:KIND, and ignores it as another tool's. So does this parser.
        assert_eq!(dd.iter().filter(|s| s.leak_kinds.is_some()).count(), 1400);
        let nameless = dd.iter().find(|s| s.line == 393).unwrap();
        assert_eq!(
            (
                nameless.name.as_str(),
                nameless.tool.as_str(),
                nameless.kind.as_str()
            ),
            ("Memcheck:Leak", "match-leak-kinds", " possible")
        );
        // 1,387 entries have exactly 12 frames (also by counting frame lines with awk); the
        // README's 1,386 leaves out the nameless one.
        assert_eq!(dd.iter().filter(|s| s.frames.len() == 12).count(), 1387);
        assert_eq!(
            dd.iter()
                .filter(|s| s.frames.len() == 12 && s.line != 393)
                .count(),
            1386
        );
        let default = parse(
            "default",
            &read(&root.join("suppressions/debian-valgrind-3.19-default.supp")),
        )
        .unwrap();
        // 24 `...` lines (in 23 entries) and 195 wildcard frame lines, as the README says.
        let frames = || default.iter().flat_map(|s| &s.frames);
        assert_eq!(frames().filter(|f| **f == SuppFrame::Ellipsis).count(), 24);
        assert_eq!(
            default
                .iter()
                .filter(|s| s.frames.contains(&SuppFrame::Ellipsis))
                .count(),
            23
        );
        let wild = |f: &&SuppFrame| match f {
            SuppFrame::Fun(p) | SuppFrame::Obj(p) | SuppFrame::Src { file: p, .. } => {
                wildcard::has_wildcard(p)
            }
            SuppFrame::Ellipsis => false,
        };
        assert_eq!(frames().filter(wild).count(), 195);
        assert_eq!(default.iter().filter(|s| s.leak_kinds.is_some()).count(), 3);
    }

    #[test]
    fn round_trip() {
        let root = corpus();
        let mut files = Vec::new();
        supp_files(&root.join("valgrind/memcheck/tests"), &mut files);
        supp_files(&root.join("suppressions"), &mut files);
        for path in &files {
            for s in parse("in", &read(path)).unwrap() {
                let again =
                    parse("out", &s.to_text()).unwrap_or_else(|e| panic!("{e}\n{}", s.to_text()));
                assert_eq!(
                    again,
                    vec![Suppression {
                        line: 1,
                        ..s.clone()
                    }],
                    "{}",
                    path.display()
                );
            }
        }
        let s = supp(
            "Leak",
            &[
                "match-leak-kinds: definite,possible",
                "fun:malloc",
                "...",
                "src:a.c:7",
                "obj:*",
            ],
        );
        assert_eq!(
            s.to_text(),
            "{\n   t\n   Memcheck:Leak\n   match-leak-kinds: definite,possible\n   fun:malloc\n   ...\n   src:a.c:7\n   obj:*\n}\n"
        );
        let p = supp("Memcheck,Addrcheck:Param", &["write(buf)", "fun:write"]);
        assert_eq!(
            (p.tool.as_str(), p.kind.as_str(), p.aux.as_deref()),
            ("Memcheck,Addrcheck", "Param", Some("write(buf)"))
        );
        assert_eq!(
            parse("x", &p.to_text()).unwrap()[0],
            Suppression { line: 1, ..p }
        );
    }

    #[test]
    fn parsed_fields() {
        let text = "# head\n\n{\n   a name  \n   Memcheck:Leak\n   match-leak-kinds: definite, possible\n   # inner comment\n   fun:malloc\n   ...\n   src:x.c:12\n   src:y.c\n   obj:/lib/*.so\n}\n{\n n2\n Helgrind:Race\n fun:f\n}\n";
        let v = parse("t", text).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].name, "a name");
        assert_eq!(v[0].line, 3);
        assert_eq!(
            v[0].leak_kinds,
            Some(vec!["definite".to_string(), "possible".to_string()])
        );
        assert_eq!(
            v[0].frames,
            vec![
                SuppFrame::Fun("malloc".into()),
                SuppFrame::Ellipsis,
                SuppFrame::Src {
                    file: "x.c".into(),
                    line: Some(12)
                },
                SuppFrame::Src {
                    file: "y.c".into(),
                    line: None
                },
                SuppFrame::Obj("/lib/*.so".into()),
            ]
        );
        assert_eq!(
            (v[1].tool.as_str(), v[1].kind.as_str(), v[1].line),
            ("Helgrind", "Race", 14)
        );
        assert!(!v[1].matches(&rec("InvalidRead", "Invalid read of size 4", &["f"])));
    }

    #[test]
    fn malformed() {
        let cases: &[(&str, u64, &str)] = &[
            (
                "{\n   n\n   Memcheck:Leak\n   fun:malloc\n",
                1,
                "not closed",
            ),
            ("{\n   n\n   fun:malloc\n}\n", 3, "TOOL:KIND"),
            ("{\n   Memcheck:Leak\n   fun:malloc\n}\n", 3, "TOOL:KIND"),
            (
                "{\n   n\n   Memcheck:Leak\n   fn:malloc\n}\n",
                4,
                "frame line",
            ),
            (
                "{\n   n\n   Memcheck:Leak\n   fun:malloc\n   bogus\n}\n",
                5,
                "frame line",
            ),
            (
                "{\n   n\n   Memcheck:Lek\n   fun:malloc\n}\n",
                3,
                "unknown Memcheck suppression kind",
            ),
            ("{\n   n\n   Memcheck:Leak\n}\n", 1, "no frame lines"),
            (
                "{\n   n\n   Memcheck:Leak\n   ...\n   ...\n}\n",
                1,
                "not ...",
            ),
            (
                "{\n   n\n   Memcheck:Leak\n   match-leak-kinds: lost\n   fun:f\n}\n",
                4,
                "unknown leak kind",
            ),
            (
                "{\n   n\n   Memcheck:Leak\n   match-leak-kinds: all,definite\n   fun:f\n}\n",
                4,
                "stand alone",
            ),
            (
                "{\n   n\n   Memcheck:Addr4\n   match-leak-kinds: all\n   fun:f\n}\n",
                4,
                "only allowed",
            ),
            (
                "{\n   n\n   Memcheck:Param\n   fun:write\n}\n",
                4,
                "syscall parameter",
            ),
            ("{\n   n\n   Memcheck:Param\n", 1, "not closed"),
            (
                "{\n   n\n   Memcheck:FishyValue\n   malloc\n   fun:f\n}\n",
                4,
                "function(argument)",
            ),
            (
                "{\n   n\n   Memcheck:Free\n   src:a.c:x\n}\n",
                4,
                "src:FILE",
            ),
            ("{\n   }\n", 2, "no name"),
            ("{\n   n\n   Memcheck\n   fun:f\n}\n", 3, "TOOL:KIND"),
            ("{\n   n\n   :Leak\n   fun:f\n}\n", 3, "TOOL:KIND"),
            ("{\n", 1, "not closed"),
            ("fun:malloc\n", 1, "expected '{'"),
            ("{\n n\n Memcheck:Leak\n fun:f\n}\n}\n", 6, "expected '{'"),
            ("\u{0}\u{1}\u{fffd}\u{7f}garbage{}\n", 1, "expected '{'"),
        ];
        for &(text, line, msg) in cases {
            let e = parse("bad.supp", text).expect_err(text);
            assert_eq!(e.line, Some(line), "{text:?}: {e}");
            assert!(e.message.contains(msg), "{text:?}: {e}");
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("bad.supp:{line}: ")) && !shown.contains('\n'),
                "{shown}"
            );
        }
        assert_eq!(parse("empty", "").unwrap(), vec![]);
        assert_eq!(
            parse("blank", "\n  \n\t\n# only comments\n   # more\n").unwrap(),
            vec![]
        );

        // Binary garbage and every truncation of a real file: an answer, never a panic.
        let mut noise = 0x2545_f491_4f6c_dd1du64;
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                (noise >> 24) as u8
            })
            .collect();
        assert!(parse("noise", &String::from_utf8_lossy(&bytes)).is_err());
        let real = read(&corpus().join("suppressions/debian-python3.11-python3.supp"));
        for end in (0..real.len())
            .filter(|&i| real.is_char_boundary(i))
            .step_by(5)
        {
            let _ = parse("cut", &real[..end]);
        }
    }

    #[test]
    fn match_table() {
        let stack = ["malloc", "leak", "cfunction_call", "main"];
        let def = leak("definite", &stack);
        let unknown = Frame::default();
        let in_libc = Frame {
            object: Some("/lib/x86_64-linux-gnu/libc.so.6".into()),
            ..Frame::default()
        };
        let with_src = Frame {
            function: Some("free".into()),
            file: Some("/src/proj/suppfree.c".into()),
            line: Some(6),
            ..Frame::default()
        };
        let full_path = Frame {
            function: Some("g".into()),
            file: Some("/src/proj/suppfree.c".into()),
            line: Some(20),
            ..Frame::default()
        };
        let frames_rec = |frames: Vec<Frame>| Record {
            kind: "InvalidFree".into(),
            what: "Invalid free() / delete / delete[] / realloc()".into(),
            stack: frames,
            ..Record::default()
        };
        let objrec = frames_rec(vec![unknown.clone(), in_libc.clone(), with_src.clone()]);
        let srcrec = frames_rec(vec![with_src.clone(), full_path.clone()]);

        let cases: Vec<(&str, Suppression, &Record, bool)> = vec![
            // fun:, wildcards
            (
                "exact",
                supp("Leak", &["fun:malloc", "fun:leak"]),
                &def,
                true,
            ),
            (
                "whole stack",
                supp(
                    "Leak",
                    &["fun:malloc", "fun:leak", "fun:cfunction_call", "fun:main"],
                ),
                &def,
                true,
            ),
            (
                "other fn",
                supp("Leak", &["fun:malloc", "fun:other"]),
                &def,
                false,
            ),
            ("not a prefix", supp("Leak", &["fun:leak"]), &def, false),
            ("star", supp("Leak", &["fun:mal*", "fun:*"]), &def, true),
            (
                "question",
                supp("Leak", &["fun:?alloc", "fun:l??k"]),
                &def,
                true,
            ),
            (
                "question too short",
                supp("Leak", &["fun:?alloc", "fun:l?k"]),
                &def,
                false,
            ),
            // ...
            ("... first", supp("Leak", &["...", "fun:main"]), &def, true),
            (
                "... first, inner",
                supp("Leak", &["...", "fun:leak"]),
                &def,
                true,
            ),
            (
                "... middle",
                supp("Leak", &["fun:malloc", "...", "fun:main"]),
                &def,
                true,
            ),
            (
                "... middle, zero frames",
                supp("Leak", &["fun:malloc", "...", "fun:leak"]),
                &def,
                true,
            ),
            (
                "... middle, absent",
                supp("Leak", &["fun:malloc", "...", "fun:nope"]),
                &def,
                false,
            ),
            (
                "... middle, order",
                supp(
                    "Leak",
                    &["fun:malloc", "...", "fun:main", "...", "fun:leak"],
                ),
                &def,
                false,
            ),
            ("... last", supp("Leak", &["fun:malloc", "..."]), &def, true),
            (
                "... both ends",
                supp("Leak", &["...", "fun:cfunction_call", "..."]),
                &def,
                true,
            ),
            (
                "... several",
                supp(
                    "Leak",
                    &["...", "fun:malloc", "...", "...", "fun:main", "..."],
                ),
                &def,
                true,
            ),
            // too short a stack
            (
                "too short",
                supp(
                    "Leak",
                    &[
                        "fun:malloc",
                        "fun:leak",
                        "fun:cfunction_call",
                        "fun:main",
                        "fun:x",
                    ],
                ),
                &def,
                false,
            ),
            (
                "too short with ...",
                supp(
                    "Leak",
                    &["...", "fun:malloc", "...", "fun:main", "...", "fun:*"],
                ),
                &def,
                false,
            ),
            // leak kinds
            ("kinds absent", supp("Leak", &["fun:malloc"]), &def, true),
            (
                "kind listed",
                supp(
                    "Leak",
                    &["match-leak-kinds: possible,definite", "fun:malloc"],
                ),
                &def,
                true,
            ),
            (
                "kind not listed",
                supp("Leak", &["match-leak-kinds: possible", "fun:malloc"]),
                &def,
                false,
            ),
            (
                "kinds all",
                supp("Leak", &["match-leak-kinds: all", "fun:malloc"]),
                &def,
                true,
            ),
            (
                "kinds none",
                supp("Leak", &["match-leak-kinds: none", "fun:malloc"]),
                &def,
                false,
            ),
            (
                "kinds empty",
                supp("Leak", &["match-leak-kinds:", "fun:malloc"]),
                &def,
                false,
            ),
            ("leak vs addr", supp("Addr8", &["fun:malloc"]), &def, false),
            // tools
            (
                "tool list",
                supp("Addrcheck,Memcheck:Leak", &["fun:malloc"]),
                &def,
                true,
            ),
            (
                "other tool",
                supp("Helgrind:Leak", &["fun:malloc"]),
                &def,
                false,
            ),
            (
                "tool substring",
                supp("Memcheck2:Leak", &["fun:malloc"]),
                &def,
                false,
            ),
            // obj:, unknown frames
            (
                "fun ??? for no name",
                supp("Free", &["fun:???", "obj:*libc.so*"]),
                &objrec,
                true,
            ),
            ("fun * for no name", supp("Free", &["fun:*"]), &objrec, true),
            (
                "obj ??? for unknown",
                supp("Free", &["obj:???", "obj:/lib/*/libc.so.?"]),
                &objrec,
                true,
            ),
            (
                "obj * for unknown",
                supp("Free", &["obj:*", "obj:*"]),
                &objrec,
                true,
            ),
            (
                "obj pattern for unknown",
                supp("Free", &["obj:/lib/*"]),
                &objrec,
                false,
            ),
            (
                "obj not printed beside a file",
                supp("Free", &["obj:*", "obj:*", "obj:???"]),
                &objrec,
                false,
            ),
            (
                "obj * beside a file",
                supp("Free", &["obj:*", "obj:*", "obj:*"]),
                &objrec,
                true,
            ),
            // src:
            (
                "src line",
                supp("Free", &["src:suppfree.c:6"]),
                &srcrec,
                true,
            ),
            (
                "src other line",
                supp("Free", &["src:suppfree.c:20"]),
                &srcrec,
                false,
            ),
            (
                "src no line",
                supp("Free", &["src:suppfree.c"]),
                &srcrec,
                true,
            ),
            (
                "src dir path",
                supp("Free", &["src:/src/proj/suppfree.c:6"]),
                &srcrec,
                true,
            ),
            (
                "src wildcard",
                supp("Free", &["src:supp*.c", "src:*free.c:20"]),
                &srcrec,
                true,
            ),
            (
                "src base of full path",
                supp("Free", &["fun:free", "src:suppfree.c:20"]),
                &srcrec,
                true,
            ),
            (
                "src full path",
                supp("Free", &["...", "src:/src/*/suppfree.c"]),
                &srcrec,
                true,
            ),
            ("src without file", supp("Free", &["src:*"]), &objrec, false),
        ];
        for (name, s, r, want) in cases {
            assert_eq!(s.matches(r), want, "{name}:\n{}", s.to_text());
        }
    }

    #[test]
    fn kinds() {
        let addr = |size: u32, write: bool| {
            let kind = if write { "InvalidWrite" } else { "InvalidRead" };
            rec(
                kind,
                &format!(
                    "Invalid {} of size {size}",
                    if write { "write" } else { "read" }
                ),
                &["f"],
            )
        };
        let cases: Vec<(&str, &[&str], Record, bool)> = vec![
            ("Addr4", &[], addr(4, false), true),
            ("Addr4", &[], addr(4, true), true),
            ("Addr8", &[], addr(4, false), false),
            ("Addr16", &[], addr(16, true), true),
            ("Addr32", &[], addr(32, false), true),
            ("Value8", &[], rec("UninitValue", "Use of uninitialised value of size 8", &["f"]), true),
            ("Value4", &[], rec("UninitValue", "Use of uninitialised value of size 8", &["f"]), false),
            ("Addr8", &[], rec("UninitValue", "Use of uninitialised value of size 8", &["f"]), false),
            ("Cond", &[], rec("UninitCondition", "Conditional jump or move depends on uninitialised value(s)", &["f"]), true),
            ("Value0", &[], rec("UninitCondition", "Conditional jump or move depends on uninitialised value(s)", &["f"]), true),
            ("Param", &["write(buf)"], rec("SyscallParam", "Syscall param write(buf) points to uninitialised byte(s)", &["f"]), true),
            ("Param", &["write(*)"], rec("SyscallParam", "Syscall param write(buf) points to unaddressable byte(s)", &["f"]), true),
            ("Param", &["writev(vector[...])"], rec("SyscallParam", "Syscall param write(buf) points to uninitialised byte(s)", &["f"]), false),
            ("Param", &["exit_group(status)"], rec("SyscallParam", "Syscall param exit_group(status) contains uninitialised byte(s)", &["f"]), true),
            ("User", &[], rec("ClientCheck", "Uninitialised byte(s) found during client check request", &["f"]), true),
            ("CoreMem", &[], rec("CoreMemError", "x contains unaddressable byte(s)", &["f"]), true),
            ("Free", &[], rec("InvalidFree", "Invalid free() / delete / delete[] / realloc()", &["f"]), true),
            ("Free", &[], rec("MismatchedFree", "Mismatched free() / delete / delete []", &["f"]), true),
            ("Free", &[], rec("MismatchedAllocateDeallocateSize", "Mismatched new/delete size value: 4", &["f"]), false),
            ("SizeMismatch", &[], rec("MismatchedAllocateDeallocateSize", "Mismatched new/delete size value: 4", &["f"]), true),
            ("AlignMismatch", &[], rec("MismatchedAllocateDeallocateAlignment", "Mismatched new/delete alignment", &["f"]), true),
            ("Mempool", &[], rec("InvalidMemPool", "Illegal memory pool address", &["f"]), true),
            ("Overlap", &[], rec("Overlap", "Source and destination overlap in memcpy(0x1, 0x2, 3)", &["f"]), true),
            ("Jump", &[], rec("InvalidJump", "Jump to the invalid address stated on the next line", &["f"]), true),
            ("FishyValue", &["malloc(size)"], rec("FishyValue", "Argument 'size' of function malloc has a fishy (possibly negative) value: -1", &["f"]), true),
            ("FishyValue", &["calloc(nmemb)"], rec("FishyValue", "Argument 'size' of function malloc has a fishy (possibly negative) value: -1", &["f"]), false),
            ("FishyValue", &[], rec("FishyValue", "Argument 'size' of function malloc has a fishy (possibly negative) value: -1", &["f"]), true),
            ("ReallocZero", &[], rec("ReallocSizeZero", "realloc() with size 0", &["f"]), true),
            ("BadAlign", &[], rec("InvalidAlignment", "Invalid alignment value: 3 (should be power of 2)", &["f"]), true),
            ("BadAlign", &[], rec("InvalidSizeAndAlignment", "Invalid size value: 3 alignment value: 4 (size should be a multiple of alignment)", &["f"]), true),
            ("UnsafeZeroSize", &[], rec("InvalidSize", "Unsafe allocation with size of zero is implementation-defined", &["f"]), true),
            ("BadSize", &[], rec("InvalidSize", "Unsafe allocation with size of zero is implementation-defined", &["f"]), true),
            ("UnsafeZeroSize", &[], rec("ReallocSizeZero", "Unsafe allocation with size of zero is implementation-defined", &["f"]), true),
            ("ReallocZero", &[], rec("ReallocSizeZero", "Unsafe allocation with size of zero is implementation-defined", &["f"]), false),
            ("Leak", &[], rec("FdNotClosed", "Open file descriptor 3: /tmp/x", &["f"]), false),
            ("Addr4", &[], rec("Mystery", "Invalid read of size 4", &["f"]), false),
        ];
        for (kind, extra, r, want) in cases {
            let mut lines = extra.to_vec();
            lines.push("fun:f");
            let s = supp(kind, &lines);
            assert_eq!(
                s.matches(&r),
                want,
                "{kind} {extra:?} vs {} {:?}",
                r.kind,
                r.what
            );
            // What generation would write is the kind itself, except for the old spellings.
            if want && kind != "Value0" && kind != "BadSize" {
                assert_eq!(suppression_kind(&r).as_deref(), Some(kind), "{}", r.what);
            }
        }
        assert_eq!(suppression_kind(&addr(8, true)).as_deref(), Some("Addr8"));
        assert_eq!(
            suppression_kind(&rec(
                "FdBadClose",
                "File descriptor 3 is already closed",
                &["f"]
            )),
            None
        );
        assert_eq!(
            suppression_kind(&rec("InvalidRead", "Invalid read of size ...", &["f"])),
            None
        );
    }

    #[test]
    fn mangled_alt_name() {
        let r = leak(
            "definite",
            &["operator new(unsigned long)", "Foo::make(char*)", "main"],
        );
        let s = supp("Leak", &["fun:_Znwm", "fun:_ZN3Foo4makeEPc"]);
        let demangle = |p: &str| match p {
            "_Znwm" => Some("operator new(unsigned long)".to_string()),
            "_ZN3Foo4makeEPc" => Some("Foo::make(char*)".to_string()),
            _ => None,
        };
        assert!(!s.matches(&r));
        assert!(s.matches_with(&r, &demangle));
        // The demangled form is compared exactly: its `*` is a pointer, not a wildcard.
        let r2 = leak(
            "definite",
            &["operator new(unsigned long)", "Foo::make(charX)", "main"],
        );
        assert!(!s.matches_with(&r2, &demangle));
        // Wildcard patterns are not offered to the demangler.
        let called = std::cell::Cell::new(0);
        let count = |_: &str| {
            called.set(called.get() + 1);
            None
        };
        assert!(supp("Leak", &["fun:*", "fun:Foo::*"]).matches_with(&r, &count));
        assert_eq!(called.get(), 0);
        let supps = vec![
            supp("Leak", &["fun:nope"]),
            s.clone(),
            supp("Leak", &["fun:operator new*"]),
        ];
        assert_eq!(find(&supps, &r).map(|x| &x.frames), Some(&supps[2].frames));
        assert_eq!(
            find_with(&supps, &r, &demangle).map(|x| &x.frames),
            Some(&s.frames)
        );
    }

    #[test]
    fn hostile_patterns_stay_fast() {
        // 500 frames of `a`, and 250 `..., fun:a*` pairs before a final frame that never
        // matches: backtracking would try every way to place the pairs.
        let frames: Vec<&str> = vec!["aaaa"; 500];
        let r = leak("definite", &frames);
        let mut lines: Vec<&str> = Vec::new();
        for _ in 0..250 {
            lines.extend(["...", "fun:a*"]);
        }
        lines.push("fun:b");
        let s = supp("Leak", &lines);
        let start = std::time::Instant::now();
        assert!(!s.matches(&r));
        lines.pop();
        assert!(supp("Leak", &lines).matches(&r));
        let star_heavy = supp("Leak", &["...", "fun:*a*a*a*a*a*a*a*a*a*a*b", "..."]);
        assert!(!star_heavy.matches(&r));
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
    }

    /// The project-free stack shapes CPython leaks have, from the corpus logs.
    fn interp(tail: &[&str]) -> Vec<&'static str> {
        let mut v = vec![
            "malloc",
            "UnknownInlinedFun",
            "UnknownInlinedFun",
            "_PyObject_GC_New",
        ];
        v.extend(
            tail.iter()
                .map(|s| -> &'static str { Box::leak(s.to_string().into_boxed_str()) }),
        );
        v
    }

    fn check_property(baseline: &[&Record], project: &[&Record], supps: &[Suppression]) -> usize {
        for p in project {
            if let Some(s) = find(supps, p) {
                panic!("project record {:?} matched by\n{}", p.stack, s.to_text());
            }
        }
        let mut unmatched = 0;
        for b in baseline {
            if find(supps, b).is_none() {
                unmatched += 1;
            }
        }
        for s in supps {
            assert_eq!(
                parse("gen", &s.to_text()).unwrap(),
                vec![Suppression {
                    line: 1,
                    ..s.clone()
                }]
            );
        }
        unmatched
    }

    #[test]
    fn generate_synthetic() {
        let rest = ["f1", "f2", "f3", "f4", "f5", "f6", "main"];
        let b: Vec<Record> = vec![
            // Interpreter leaks that share their allocation layer with the project's refleak.
            leak(
                "definite",
                &interp(&["PyList_New", "list_a", "x1", "x2", "x3", "main"]),
            ),
            leak(
                "possible",
                &interp(&["PyList_New", "list_a", "x1", "x2", "x3", "main"]),
            ),
            leak(
                "reachable",
                &interp(&["PyList_New", "list_a", "x1", "x2", "y3", "main"]),
            ),
            leak("definite", &interp(&["PyDict_New", "d1", "d2", "d3", "d4"])),
            leak("definite", &["malloc", "short"]),
            leak(
                "definite",
                &["malloc", "short", "longer", "x", "y", "z", "w"],
            ),
            leak(
                "indirect",
                &[
                    "calloc",
                    "???",
                    "PyMem_Calloc",
                    "c1",
                    "c2",
                    "c3",
                    "c4",
                    "c5",
                ],
            ),
            rec(
                "SyscallParam",
                "Syscall param write(buf) points to uninitialised byte(s)",
                &["write", "w1", "w2", "w3", "w4", "w5"],
            ),
            rec(
                "SyscallParam",
                "Syscall param writev(vector[0]) points to uninitialised byte(s)",
                &["write", "w1", "w2", "w3", "w4", "w5"],
            ),
            rec(
                "InvalidRead",
                "Invalid read of size 4",
                &["_PyObject_Free", "r1", "r2", "r3", "r4", "r5"],
            ),
            rec(
                "InvalidRead",
                "Invalid read of size 8",
                &["_PyObject_Free", "r1", "r2", "r3", "r4", "r5"],
            ),
            rec(
                "UninitCondition",
                "Conditional jump or move depends on uninitialised value(s)",
                &rest,
            ),
            // Unsuppressible: no kind, no stack.
            rec("FdNotClosed", "Open file descriptor 3: /tmp/x", &["open"]),
            leak("definite", &[]),
        ];
        let p: Vec<Record> = vec![
            leak(
                "definite",
                &interp(&["PyList_New", "refleak", "cfunction_call", "main"]),
            ),
            leak("definite", &["malloc", "leak", "cfunction_call", "main"]),
            rec(
                "UninitCondition",
                "Conditional jump or move depends on uninitialised value(s)",
                &["f1", "f2", "f3", "uninit", "main"],
            ),
            rec(
                "SyscallParam",
                "Syscall param write(buf) points to uninitialised byte(s)",
                &["write", "w1", "w2", "w3", "w4", "mine"],
            ),
        ];
        let b_refs: Vec<&Record> = b.iter().collect();
        let p_refs: Vec<&Record> = p.iter().collect();
        let opts = GenerateOptions {
            name_prefix: "syn".into(),
            ..GenerateOptions::default()
        };
        let supps = generate(&b_refs, &p_refs, &opts);
        let text: String = supps.iter().map(Suppression::to_text).collect();
        assert_eq!(check_property(&b_refs, &p_refs, &supps), 2, "{text}");
        assert!(find(&supps, &b[12]).is_none() && find(&supps, &b[13]).is_none());

        // Names in output order, the file deterministic.
        for (i, s) in supps.iter().enumerate() {
            assert_eq!(s.name, format!("syn-{}", i + 1));
            assert_eq!((s.tool.as_str(), s.line), ("Memcheck", 0));
        }
        let again: String = generate(&b_refs, &p_refs, &opts)
            .iter()
            .map(Suppression::to_text)
            .collect();
        assert_eq!(text, again);
        let kinds: Vec<&str> = supps.iter().map(|s| s.kind.as_str()).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(kinds, sorted);

        // The three PyList leaks, cut after the allocation layer (4 frames) plus 4 named
        // callers, differ only in leak kind (the third differs deeper down): one entry.
        let list = supps
            .iter()
            .find(|s| s.frames.contains(&SuppFrame::Fun("list_a".into())))
            .unwrap();
        assert_eq!(
            list.leak_kinds,
            Some(vec![
                "definite".to_string(),
                "possible".to_string(),
                "reachable".to_string()
            ]),
            "{text}"
        );
        assert_eq!(list.frames.len(), 8, "{text}");
        // `malloc, short` (a whole stack) covers its longer sibling.
        let short: Vec<_> = supps
            .iter()
            .filter(|s| s.frames.get(1) == Some(&SuppFrame::Fun("short".into())))
            .collect();
        assert_eq!(short.len(), 1, "{text}");
        assert_eq!(short[0].frames.len(), 2);
        // `???` became `obj:*`, and counted neither as a caller nor as allocator.
        let calloc = supps
            .iter()
            .find(|s| s.frames[0] == SuppFrame::Fun("calloc".into()))
            .unwrap();
        assert_eq!(calloc.frames[1], SuppFrame::Obj("*".into()));
        assert_eq!(calloc.frames.len(), 7, "{text}");
        // Param entries carry their parameter; the one close to the project's is longer.
        let params: Vec<_> = supps.iter().filter(|s| s.kind == "Param").collect();
        assert_eq!(params.len(), 2, "{text}");
        assert!(
            params
                .iter()
                .any(|s| s.aux.as_deref() == Some("write(buf)") && s.frames.len() == 6),
            "{text}"
        );
        assert!(
            params
                .iter()
                .any(|s| s.aux.as_deref() == Some("writev(vector[0])") && s.frames.len() == 4),
            "{text}"
        );
        assert!(supps.iter().any(|s| s.kind == "Addr4") && supps.iter().any(|s| s.kind == "Addr8"));

        // With no callers required the allocation layer alone is kept, which is what the
        // option exists to prevent: a bare `fun:malloc` from the `malloc, short` stack.
        let none = GenerateOptions {
            min_frames_after_alloc: 0,
            name_prefix: "z".into(),
        };
        let bare = generate(&b_refs, &[], &none);
        assert_eq!(check_property(&b_refs, &[], &bare), 2);
        assert!(bare
            .iter()
            .any(|s| s.frames == vec![SuppFrame::Fun("malloc".into())]));
        let zero_p = generate(&b_refs, &p_refs, &none);
        assert_eq!(check_property(&b_refs, &p_refs, &zero_p), 2);
    }

    #[test]
    fn generate_generalises_between_prefix_and_last() {
        let head = ["malloc", "PyMem_Malloc", "a", "b", "c", "d"];
        let with = |tail: &[&'static str]| -> Vec<&'static str> {
            head.iter().chain(tail).copied().collect()
        };
        let p1 = leak("definite", &with(&["e", "x", "w"]));
        let p2 = leak("definite", &with(&["g", "h", "x"]));
        let b1 = leak("definite", &with(&["e", "y", "z"]));
        let b2 = leak("definite", &with(&["g", "h", "y", "z"]));
        let supps = generate(&[&b1, &b2], &[&p1, &p2], &GenerateOptions::default());
        let text: String = supps.iter().map(Suppression::to_text).collect();
        assert_eq!(supps.len(), 1, "{text}");
        let mut want: Vec<SuppFrame> = head.iter().map(|n| SuppFrame::Fun(n.to_string())).collect();
        want.extend([SuppFrame::Ellipsis, SuppFrame::Fun("y".into())]);
        assert_eq!(supps[0].frames, want, "{text}");
        assert_eq!(check_property(&[&b1, &b2], &[&p1, &p2], &supps), 0);

        // When `prefix, ..., last` would reach a project record, the entries stay apart.
        let p3 = leak("definite", &with(&["q", "y"]));
        let supps = generate(&[&b1, &b2], &[&p1, &p2, &p3], &GenerateOptions::default());
        assert_eq!(supps.len(), 2);
        assert_eq!(check_property(&[&b1, &b2], &[&p1, &p2, &p3], &supps), 0);

        // A baseline record whose whole stack starts a project record's cannot be separated.
        let same = leak("definite", &with(&["e"]));
        assert!(generate(&[&same], &[&p1], &GenerateOptions::default()).is_empty());
    }

    #[test]
    fn allocators() {
        for name in [
            "malloc",
            "operator new(unsigned long)",
            "operator new[](unsigned long, std::nothrow_t const&)",
            "_Znwm",
            "_ZdlPv",
            "PyMem_RawMalloc",
            "_PyMem_DebugRawAlloc",
            "PyObject_Malloc",
            "_PyObject_Malloc.lto_priv.0",
            "_PyObject_GC_NewVar",
            "_PyObject_GC_New",
            "gc_alloc.cold",
            "PyType_GenericAlloc",
        ] {
            assert!(is_allocator(name), "{name}");
        }
        for name in [
            "PyList_New",
            "mallocx",
            "leak",
            "UnknownInlinedFun",
            "operator()(int)",
            "_ZN3Foo3barEv",
        ] {
            assert!(!is_allocator(name), "{name}");
        }
    }

    /// Valgrind's own `--gen-suppressions=all` output beside the records it was made for: each
    /// entry matches its record, under the kind this module would give it.
    #[test]
    fn valgrind_generated_entries_match_their_records() {
        let path = corpus().join("memcheck-logs/py311-leaky-gensupp.log");
        let log = read(&path);
        let records = log_records(&path);
        let mut blocks = String::new();
        let mut inside = false;
        for line in log.lines().filter(|l| !l.starts_with("==")) {
            inside |= line == "{";
            if inside {
                blocks.push_str(line);
                blocks.push('\n');
            }
            inside &= line != "}";
        }
        let supps = parse("gensupp", &blocks).unwrap();
        assert_eq!(supps.len(), 4);
        assert_eq!(records.len(), supps.len());
        for (s, r) in supps.iter().zip(&records) {
            assert!(s.matches(r), "{}\n{:?}", s.to_text(), r.stack);
            assert_eq!(Some(s.kind.clone()), suppression_kind(r));
        }
        // And they do not cross: the Cond entry does not match the invalid read.
        assert!(!supps[0].matches(&records[1]));
    }

    /// The records Valgrind left unsuppressed with Debian's python3.supp and default.supp must
    /// stay unsuppressed here.
    #[test]
    fn unsuppressed_records_stay_unsuppressed() {
        let root = corpus();
        let mut supps = parse(
            "py",
            &read(&root.join("suppressions/debian-python3.11-python3.supp")),
        )
        .unwrap();
        supps.extend(
            parse(
                "default",
                &read(&root.join("suppressions/debian-valgrind-3.19-default.supp")),
            )
            .unwrap(),
        );
        let records = log_records(&root.join("memcheck-logs/py311-leaky-pymalloc-supp.log"));
        assert_eq!(records.len(), 4);
        for r in &records {
            assert!(
                find(&supps, r).is_none(),
                "{:?} suppressed by {:?}",
                r.stack,
                find(&supps, r).map(|s| &s.name)
            );
        }
    }

    /// A real run: the leaky extension's records are the project, CPython's are the baseline.
    #[test]
    fn generate_from_real_log() {
        let records = log_records(&corpus().join("memcheck-logs/py311-leaky-malloc-all.log.gz"));
        // 957 loss records and 2 errors (the README's 545 contexts count leaks as errors).
        assert_eq!(records.len(), 959);
        let is_project = |r: &Record| r.stack.iter().any(|f| f.file.as_deref() == Some("leaky.c"));
        let (project, baseline): (Vec<&Record>, Vec<&Record>) =
            records.iter().partition(|r| is_project(r));
        assert!(
            !project.is_empty() && project.len() < 20,
            "{}",
            project.len()
        );
        let supps = generate(&baseline, &project, &GenerateOptions::default());
        let unmatched = check_property(&baseline, &project, &supps);
        let text: String = supps.iter().map(Suppression::to_text).collect();
        let valgrind_style: usize = baseline
            .iter()
            .map(|r| {
                60 + r
                    .stack
                    .iter()
                    .take(12)
                    .map(|f| 8 + f.identity().len())
                    .sum::<usize>()
            })
            .sum();
        eprintln!(
            "real log: {} baseline, {} project records -> {} suppressions, {} bytes ({} unmatched); \
             one 12-frame entry per record would be ~{} bytes",
            baseline.len(),
            project.len(),
            supps.len(),
            text.len(),
            unmatched,
            valgrind_style
        );
        assert_eq!(unmatched, 0);
        assert!(supps.len() < baseline.len());
    }

    /// Found by the `suppressions` fuzz target: `src:supp :0` reads as the file `supp `
    /// (any line), which was written back as `src:supp ` and read again as `supp`.
    #[test]
    fn a_source_name_ending_in_a_blank_survives_writing() {
        let text = "{\n   x\n   Memcheck:Free\n   fun:free\n   src:supp :0\n   src:b\n}\n";
        let supps = parse("t.supp", text).unwrap();
        let written = supps[0].to_text();
        assert!(written.contains("   src:supp :0\n   src:b\n"), "{written}");
        let again = parse("again", &written).unwrap();
        assert_eq!(again[0].frames, supps[0].frames);
    }
}
