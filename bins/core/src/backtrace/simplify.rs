//! Shorter C++ names for people: what a demangled libstdc++ frame says once the noise the
//! compiler must spell out is gone.
//!
//! [`simplify`] rewrites a demangled name (as gdb or `c++filt` prints it):
//! - `std::basic_string<char, std::char_traits<char>, std::allocator<char> >` becomes
//!   `std::string`; likewise `wstring`, `u16string`, …, the `string_view`s and the streams;
//! - default template arguments are dropped: any `std::allocator<…>`, and `std::char_traits<T>`,
//!   `std::less<T>`, `std::equal_to<T>`, `std::hash<T>`, `std::default_delete<T>` when `T` is
//!   the template's first argument (a transparent `std::less<void>` stays);
//! - the library's inline namespaces `std::__cxx11::`, `std::__1::` (libc++) and
//!   `std::__detail::` become `std::`;
//! - the return type of a function template is dropped (the Itanium ABI prints it only for
//!   templates, and it is usually as long as the name itself);
//! - template arguments nested deeper than [`Options::depth`] become `<…>`, and so do the
//!   arguments of a standard library internal class used as a scope
//!   (`std::_Hashtable<…>::_M_emplace`): they repeat the public container's, one frame up;
//! - `> >` closes as `>>`.
//!
//! A name without a template (no `<`) is returned unchanged, and so is a name this module
//! cannot parse (unbalanced brackets, nesting deeper than [`MAX_NESTING`]) or one longer than
//! [`MAX_LEN`]: simplification may shorten a name, never garble it.
//!
//! [`bare_name`] goes further for crash signatures: the qualified name alone, without
//! template arguments, parameters, return type or clone suffixes, so that gdb's name of the
//! same function with debug information (`ns::f`) and without (`ns::f(int)`) agree.

use memchr::memmem;
use std::borrow::Cow;
use std::sync::OnceLock;

/// Deepest bracket nesting parsed; deeper names are left as they are.
pub const MAX_NESTING: usize = 256;

/// Longest name simplified, in bytes. Real names stay far below it; a longer one (garbage,
/// a hostile input) is left as it is rather than rendered once per nesting level.
pub const MAX_LEN: usize = 64 << 10;

/// How far to simplify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Template argument lists nested deeper than this are folded to `<…>` (0 folds all).
    pub depth: usize,
}

impl Default for Options {
    /// Depth 2: `std::vector<std::pair<int, std::map<…>>>`.
    fn default() -> Self {
        Options { depth: 2 }
    }
}

/// The simplified form of a demangled C++ name (see the module documentation).
/// The simplified form of a demangled C++ name (see the module documentation).
pub fn simplify(name: &str, opts: &Options) -> String {
    if !name.contains('<') || name.len() > MAX_LEN {
        return name.to_string();
    }
    let Some(mut parsed) = Parsed::parse(name, true) else {
        return name.to_string();
    };
    parsed.drop_return_type();
    let mut out = String::with_capacity(name.len());
    parsed.render(0, 0, opts.depth, true, &mut out);
    out
}

/// The function's qualified name alone: no return type, template arguments, parameters,
/// qualifiers or `[clone …]`/`[abi:…]` tags. `std::pair<…> std::_Hashtable<…>::_M_emplace<…>(…)`
/// gives `std::_Hashtable::_M_emplace`; `crash_map(_object*, _object*)` gives `crash_map`.
pub fn bare_name(name: &str) -> String {
    let parsed = if name.len() > MAX_LEN {
        None
    } else {
        Parsed::parse(name, false)
    };
    let Some(mut parsed) = parsed else {
        return name.trim().to_string();
    };
    parsed.drop_return_type();
    let params = parsed.params().map(|(p, _)| p);
    let mut out = String::new();
    let mut i = 0;
    while let Some(n) = parsed.node(i) {
        if Some(n) == params {
            break;
        }
        match &parsed.toks[n] {
            Tok::Text(t) => out.push_str(t),
            Tok::Atom(a) if !a.starts_with('[') => out.push_str(a),
            _ => {}
        }
        i = parsed.after(n);
    }
    shorten_namespaces(&out).trim().to_string()
}

/// One piece of a parsed name. A bracketed list is its `Open`, its items (each a sequence
/// of pieces) separated by `Comma`s, and its `Close`. Rewriting never moves a piece: what it
/// removes is replaced by a `Skip` over it, so that indices stay valid and nothing is copied.
#[derive(Debug)]
enum Tok<'a> {
    /// Identifiers, `::`, spaces, `*`, `&`, operator names: a slice of the name until
    /// rewriting changes it.
    Text(Cow<'a, str>),
    /// Kept verbatim: `{lambda()#1}`, `[clone .isra.0]`, `(anonymous namespace)`, literals.
    Atom(&'a str),
    /// A template argument list (`angle`) or a parameter list (or a parenthesised
    /// expression), whose `Close` is at `close`.
    Open { angle: bool, close: usize },
    /// Between two items of the innermost list (a top-level comma is text).
    Comma,
    /// The end of a list.
    Close,
    /// Removed pieces: reading goes on at `to`.
    Skip { to: usize },
}

/// Where a sequence is being parsed: what closes it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Angle,
    Paren,
}

/// A name as pieces, parsed once and rewritten in place; each step reads it as sequences of
/// nodes. A sequence (the whole name, or one item of a list) is read from its first piece
/// with [`Parsed::node`] and [`Parsed::after`] until the `Comma` or `Close` that ends it; a
/// list is one node.
struct Parsed<'a> {
    toks: Vec<Tok<'a>>,
}

/// A list being parsed: its `Open`, and the node before it in its sequence (the text whose
/// template arguments it may be).
struct Level {
    open: usize,
    before: Option<usize>,
}

/// The sequence being parsed: its last node, and the text its next text joins (after a list
/// between them was removed).
#[derive(Default)]
struct Seq {
    prev: Option<usize>,
    join: Option<usize>,
}

/// Buffers for the compact text of template arguments ([`Parsed::flat`]), kept across the
/// lists of one name.
#[derive(Default)]
struct Scratch {
    first: String,
    other: String,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Bytes the parser stops at: they may open, separate or close something, or start
/// `operator`. Everything else is text.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let bytes = b",>)o<({['\"";
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
};

impl<'a> Parsed<'a> {
    /// `None` when the brackets do not balance or nest deeper than [`MAX_NESTING`].
    ///
    /// With `rewrite` (simplifying), the name is rewritten as it is read: the library's
    /// inline namespaces go from every text, and each template argument list, when it
    /// closes, loses its default arguments and, as `std::basic_string<char>`, becomes the
    /// alias. That is bottom-up: a list's items, and the lists in them, are complete then,
    /// and so is the text before it, which is all that its rewriting reads.
    fn parse(name: &'a str, rewrite: bool) -> Option<Self> {
        let s = name.as_bytes();
        let mut parsed = Parsed {
            toks: Vec::with_capacity(s.len() / 8 + 8),
        };
        let mut scratch = Scratch::default();
        // The lists around `pos`, innermost last.
        let mut open: Vec<Level> = Vec::new();
        let mut seq = Seq::default();
        let mut ctx = Ctx::Top;
        let mut pos = 0;
        let mut text_start = 0;
        // Where the next `std::__` starts: every inline namespace does, and no text holding
        // none is looked at again.
        let mut next_ns = if rewrite { find_ns(s, 0) } else { None };
        let mut text = |parsed: &mut Parsed<'a>, seq: &mut Seq, from: usize, to: usize| {
            if to <= from {
                return;
            }
            let mut t = Cow::Borrowed(&name[from..to]);
            if next_ns.is_some_and(|at| at < to) {
                t = shorten_namespaces(&name[from..to]);
                next_ns = find_ns(s, to);
            }
            match seq.join.take() {
                Some(j) => {
                    if let Tok::Text(before) = &mut parsed.toks[j] {
                        before.to_mut().push_str(&t);
                    }
                }
                None => {
                    seq.prev = Some(parsed.toks.len());
                    parsed.toks.push(Tok::Text(t));
                }
            }
        };
        loop {
            while pos < s.len() && !SPECIAL[s[pos] as usize] {
                pos += 1;
            }
            let Some(&b) = s.get(pos) else { break };
            match b {
                b',' if ctx != Ctx::Top => {
                    text(&mut parsed, &mut seq, text_start, pos);
                    parsed.toks.push(Tok::Comma);
                    seq = Seq::default();
                }
                b'>' if ctx == Ctx::Angle => {}
                b')' if ctx == Ctx::Paren => {}
                b')' => return None,
                b'o' if at_operator(s, pos) => {
                    pos = operator_symbol(s, pos + "operator".len());
                    continue;
                }
                b'<' | b'(' if !name[pos..].starts_with("(anonymous namespace)") => {
                    if open.len() >= MAX_NESTING {
                        return None;
                    }
                    text(&mut parsed, &mut seq, text_start, pos);
                    open.push(Level {
                        open: parsed.toks.len(),
                        before: seq.prev,
                    });
                    parsed.toks.push(Tok::Open {
                        angle: b == b'<',
                        close: 0,
                    });
                    seq = Seq::default();
                    ctx = if b == b'<' { Ctx::Angle } else { Ctx::Paren };
                }
                b'(' | b'{' | b'[' | b'\'' | b'"' => {
                    text(&mut parsed, &mut seq, text_start, pos);
                    let end = match b {
                        b'(' => pos + "(anonymous namespace)".len(),
                        b'{' => balanced(s, pos, b'{', b'}')?,
                        b'[' => balanced(s, pos, b'[', b']')?,
                        _ => quoted(s, pos)?,
                    };
                    seq = Seq {
                        prev: Some(parsed.toks.len()),
                        join: None,
                    };
                    parsed.toks.push(Tok::Atom(name.get(pos..end)?));
                    pos = end;
                    text_start = pos;
                    continue;
                }
                _ => {
                    pos += 1;
                    continue;
                }
            }
            // A closing bracket of the innermost list (the other arms `continue`d).
            if matches!(b, b'>' | b')') {
                text(&mut parsed, &mut seq, text_start, pos);
                let level = open.pop()?;
                let close = parsed.toks.len();
                parsed.toks.push(Tok::Close);
                if let Tok::Open { close: c, .. } = &mut parsed.toks[level.open] {
                    *c = close;
                }
                // Back in the sequence the list is a node of.
                seq = match level.before {
                    Some(t)
                        if rewrite
                            && b == b'>'
                            && parsed.template_args(t, level.open, close, &mut scratch) =>
                    {
                        // The list is gone: the text before it joins the text after it.
                        Seq {
                            prev: Some(t),
                            join: Some(t),
                        }
                    }
                    _ => Seq {
                        prev: Some(level.open),
                        join: None,
                    },
                };
                ctx = match open.last().map(|l| &parsed.toks[l.open]) {
                    Some(Tok::Open { angle: true, .. }) => Ctx::Angle,
                    Some(_) => Ctx::Paren,
                    None => Ctx::Top,
                };
            }
            pos += 1;
            text_start = pos;
        }
        if !open.is_empty() {
            return None;
        }
        text(&mut parsed, &mut seq, text_start, s.len());
        Some(parsed)
    }

    /// The node at or after `i` in the sequence being read (skips followed), or `None` at
    /// the `Comma` or `Close` that ends it.
    fn node(&self, mut i: usize) -> Option<usize> {
        loop {
            match self.toks.get(i)? {
                Tok::Skip { to } => i = *to,
                Tok::Comma | Tok::Close => return None,
                _ => return Some(i),
            }
        }
    }

    /// Where the sequence goes on after node `n`.
    fn after(&self, n: usize) -> usize {
        match self.toks[n] {
            Tok::Open { close, .. } => close + 1,
            _ => n + 1,
        }
    }

    /// The `Comma` or `Close` that ends the sequence starting at `i`.
    fn end(&self, mut i: usize) -> usize {
        loop {
            match self.toks.get(i) {
                None | Some(Tok::Comma | Tok::Close) => return i,
                Some(Tok::Skip { to }) => i = *to,
                Some(Tok::Open { close, .. }) => i = close + 1,
                Some(_) => i += 1,
            }
        }
    }

    /// Whether the sequence ending at `end` is followed by another item of its list.
    fn more(&self, end: usize) -> bool {
        matches!(self.toks.get(end), Some(Tok::Comma))
    }

    /// The list's one item, if it has exactly one.
    fn only_item(&self, open: usize) -> Option<usize> {
        (!self.more(self.end(open + 1))).then_some(open + 1)
    }

    /// The template arguments opened at `open` (closed at `close`) after the node `before`,
    /// when that is a text: their defaults dropped, and the whole `std::basic_string<char>`
    /// made `std::string` (and the like), which removes the list: then true, and the caller
    /// joins the text that follows to `before`.
    fn template_args(&mut self, before: usize, open: usize, close: usize, s: &mut Scratch) -> bool {
        if !matches!(self.toks[before], Tok::Text(_)) {
            return false;
        }
        self.drop_defaults(open, s);
        let Some(alias) = self.alias(before, open, s) else {
            return false;
        };
        if let Tok::Text(t) = &mut self.toks[before] {
            let t = t.to_mut();
            t.truncate(t.len() - trailing_name(t).len());
            t.push_str(&alias);
        }
        self.toks[open] = Tok::Skip { to: close + 1 };
        true
    }

    /// Drops the default template arguments of the list opened at `open` (never the first).
    fn drop_defaults(&mut self, open: usize, s: &mut Scratch) {
        let first = open + 1;
        // `s.first` holds the first argument's compact text once it has been needed.
        let mut have_first = false;
        let mut sep = self.end(first);
        while self.more(sep) {
            let item = sep + 1;
            let end = self.end(item);
            let drop = match self.template_id(item) {
                Some(("std::allocator", _)) => true,
                Some((head, args)) if DEFAULTS_OF_FIRST.contains(&head) => {
                    match self.only_item(args) {
                        Some(inner) => {
                            if !have_first {
                                self.flat(first, &mut s.first);
                                have_first = true;
                            }
                            self.flat(inner, &mut s.other);
                            s.other == s.first
                        }
                        None => false,
                    }
                }
                _ => false,
            };
            if drop {
                self.toks[sep] = Tok::Skip { to: end };
            }
            sep = end;
        }
    }

    /// An item that is exactly `name<args>`: its name and the `Open` of its arguments.
    fn template_id(&self, item: usize) -> Option<(&str, usize)> {
        let t = self.node(item)?;
        let Tok::Text(head) = &self.toks[t] else {
            return None;
        };
        let a = self.node(t + 1)?;
        let Tok::Open { angle: true, close } = self.toks[a] else {
            return None;
        };
        if let Some(r) = self.node(close + 1) {
            let Tok::Text(rest) = &self.toks[r] else {
                return None;
            };
            if !rest.trim().is_empty() || self.node(r + 1).is_some() {
                return None;
            }
        }
        Some((head.trim(), a))
    }

    /// `std::basic_string` (the name `before` ends with) with `[char]` (the list at `open`)
    /// → `std::string`, and the like.
    fn alias(&self, before: usize, open: usize, s: &mut Scratch) -> Option<String> {
        let Tok::Text(t) = &self.toks[before] else {
            return None;
        };
        let name = trailing_name(t);
        let (_, short) = ALIASES.iter().find(|(long, _)| *long == name)?;
        let arg = self.only_item(open)?;
        self.flat(arg, &mut s.other);
        let is_stream = !short.starts_with("string");
        let (_, prefix, _) = CHAR_PREFIXES
            .iter()
            .find(|(c, _, streams)| *c == s.other && (*streams || !is_stream))?;
        Some(format!("std::{prefix}{short}"))
    }

    /// Compact text of an item, for comparing arguments (`std::string` vs `std::string `).
    fn flat(&self, item: usize, out: &mut String) {
        out.clear();
        self.render(item, 0, usize::MAX, false, out);
        out.retain(|c| c != ' ');
    }

    /// The function's parameter list: the last top-level parenthesis followed only by
    /// qualifiers (` const`, ` &&`, `[clone .isra.0]`, …), with the node before it. A
    /// parenthesis that opens the name (a function type) is not a parameter list.
    fn params(&self) -> Option<(usize, usize)> {
        let (mut found, mut prev) = (None, None);
        let mut i = 0;
        while let Some(n) = self.node(i) {
            match &self.toks[n] {
                Tok::Open { angle: false, .. } => found = prev.map(|p| (n, p)),
                _ if found.is_none() => {}
                Tok::Atom(a) if a.starts_with('[') => {}
                Tok::Text(t) if is_qualifiers(t) => {}
                _ => found = None,
            }
            prev = Some(n);
            i = self.after(n);
        }
        found
    }

    /// Removes `R ` from `R ns::f<T>(…)`: only function templates have their return type
    /// mangled, so it is only dropped when the name before the parameters has template
    /// arguments.
    fn drop_return_type(&mut self) {
        let Some((p, before)) = self.params() else {
            return;
        };
        if !matches!(self.toks[before], Tok::Open { angle: true, .. }) {
            return;
        }
        // The last top-level space before the name; spaces after `operator` belong to it.
        let mut cut = None;
        let mut i = 0;
        while let Some(n) = self.node(i) {
            if n == p {
                break;
            }
            if let Tok::Text(t) = &self.toks[n] {
                let limit = find_operator(t).unwrap_or(t.len());
                if let Some(sp) = t[..limit].rfind(' ') {
                    cut = Some((n, sp + 1));
                }
                if limit < t.len() {
                    break;
                }
            }
            i = self.after(n);
        }
        let Some((n, from)) = cut else {
            return;
        };
        if let Tok::Text(t) = &mut self.toks[n] {
            *t = match std::mem::take(t) {
                Cow::Borrowed(b) => Cow::Borrowed(&b[from..]),
                Cow::Owned(mut o) => {
                    o.drain(..from);
                    Cow::Owned(o)
                }
            };
        }
        if n > 0 {
            self.toks[0] = Tok::Skip { to: n };
        }
    }

    /// Writes the sequence at `start`; `level` is the template nesting it is in (0: outside
    /// any). With `trim`, without the blanks it starts and ends with, as a list's items are
    /// written (`> >` closes as `>>`). Returns where the sequence ends.
    fn render(
        &self,
        start: usize,
        level: usize,
        depth: usize,
        trim: bool,
        out: &mut String,
    ) -> usize {
        let from = out.len();
        let mut prev = None;
        let mut i = start;
        while let Some(n) = self.node(i) {
            match &self.toks[n] {
                // Only a text can start with a blank: an atom, a list or `<…>` starts with
                // its bracket or quote.
                Tok::Text(t) if trim && prev.is_none() => out.push_str(t.trim_start()),
                Tok::Text(t) => out.push_str(t),
                Tok::Atom(a) => out.push_str(a),
                &Tok::Open { angle: true, close } => {
                    if level + 1 > depth || self.scope_of_internal(prev, close) {
                        out.push_str("<…>");
                    } else {
                        self.list(n, ('<', '>'), level + 1, depth, out);
                    }
                }
                Tok::Open { .. } => self.list(n, ('(', ')'), level, depth, out),
                Tok::Comma | Tok::Close | Tok::Skip { .. } => {}
            }
            prev = Some(n);
            i = self.after(n);
        }
        if trim {
            let kept = out[from..].trim_end().len();
            out.truncate(from + kept);
        }
        self.end(i)
    }

    /// Whether the template list ending at `close` is the arguments of a standard library
    /// internal class used as a scope (`std::_Hashtable<…>::_M_emplace`): they repeat the
    /// public container's, one frame up.
    fn scope_of_internal(&self, prev: Option<usize>, close: usize) -> bool {
        let Some(Tok::Text(before)) = prev.map(|p| &self.toks[p]) else {
            return false;
        };
        let Some(Tok::Text(after)) = self.node(close + 1).map(|n| &self.toks[n]) else {
            return false;
        };
        after.starts_with("::") && is_library_internal(trailing_name(before))
    }

    fn list(
        &self,
        open: usize,
        (o, c): (char, char),
        level: usize,
        depth: usize,
        out: &mut String,
    ) {
        out.push(o);
        let mut item = open + 1;
        loop {
            let end = self.render(item, level, depth, true, out);
            if !self.more(end) {
                break;
            }
            out.push_str(", ");
            item = end + 1;
        }
        out.push(c);
    }
}

/// True at the keyword `operator` (as a whole word).
fn at_operator(s: &[u8], pos: usize) -> bool {
    let rest = &s[pos..];
    rest.starts_with(b"operator")
        && (pos == 0 || !is_ident(s[pos - 1]))
        && rest.get(8).map_or(true, |&b| !is_ident(b))
}

/// After `operator` (at `pos`): where its symbol (`<<`, `()`, `[]`, `->*`, …) ends, which
/// must not be read as brackets. Named operators (`new`, `delete`, conversions) are
/// ordinary text.
fn operator_symbol(s: &[u8], mut pos: usize) -> usize {
    let rest = &s[pos..];
    if rest.starts_with(b"()") || rest.starts_with(b"[]") {
        return pos + 2;
    }
    while let Some(&b) = s.get(pos) {
        if b"<>=!+-*/%^&|~,".contains(&b) {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

/// The end of `{…}` or `[…]` opening at `start`, nesting counted on its own bracket kind
/// only.
fn balanced(s: &[u8], start: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in s.iter().enumerate().skip(start) {
        if b == open {
            depth += 1;
        } else if b == close {
            depth -= 1;
            if depth == 0 {
                return Some(i + 1);
            }
        }
    }
    None
}

/// The end of a quoted literal opening at `start`, backslash escapes included.
fn quoted(s: &[u8], start: usize) -> Option<usize> {
    let quote = s[start];
    let mut pos = start + 1;
    while let Some(&b) = s.get(pos) {
        pos += 1;
        if b == b'\\' {
            pos += 1;
        } else if b == quote {
            return Some(pos);
        }
    }
    None
}

/// The library's inline namespaces, which say nothing to a reader of a backtrace.
const INLINE_NAMESPACES: &[&str] = &["std::__cxx11::", "std::__1::", "std::__detail::"];

/// Where the first `std::__` (how each of them starts) at or after `from` is.
fn find_ns(s: &[u8], from: usize) -> Option<usize> {
    static FINDER: OnceLock<memmem::Finder<'static>> = OnceLock::new();
    let finder = FINDER.get_or_init(|| memmem::Finder::new("std::__"));
    finder.find(&s[from..]).map(|at| from + at)
}

/// Where `operator` first occurs in `text`.
fn find_operator(text: &str) -> Option<usize> {
    static FINDER: OnceLock<memmem::Finder<'static>> = OnceLock::new();
    let finder = FINDER.get_or_init(|| memmem::Finder::new("operator"));
    finder.find(text.as_bytes())
}

fn shorten_namespaces(text: &str) -> Cow<'_, str> {
    if find_ns(text.as_bytes(), 0).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for ns in INLINE_NAMESPACES {
        if out.contains(ns) {
            out = out.replace(ns, "std::");
        }
    }
    Cow::Owned(out)
}

/// Defaults that are dropped when their argument repeats the template's first argument.
const DEFAULTS_OF_FIRST: &[&str] = &[
    "std::char_traits",
    "std::less",
    "std::equal_to",
    "std::hash",
    "std::default_delete",
];

/// `std::basic_X<C>` with its default arguments gone → the standard alias.
const ALIASES: &[(&str, &str)] = &[
    ("std::basic_string", "string"),
    ("std::basic_string_view", "string_view"),
    ("std::basic_ostream", "ostream"),
    ("std::basic_istream", "istream"),
    ("std::basic_iostream", "iostream"),
    ("std::basic_ostringstream", "ostringstream"),
    ("std::basic_istringstream", "istringstream"),
    ("std::basic_stringstream", "stringstream"),
    ("std::basic_ofstream", "ofstream"),
    ("std::basic_ifstream", "ifstream"),
    ("std::basic_fstream", "fstream"),
    ("std::basic_streambuf", "streambuf"),
    ("std::basic_stringbuf", "stringbuf"),
    ("std::basic_filebuf", "filebuf"),
    ("std::basic_ios", "ios"),
];

/// Alias prefixes by character type; streams exist for `char` and `wchar_t` only.
const CHAR_PREFIXES: &[(&str, &str, bool)] = &[
    ("char", "", true),
    ("wchar_t", "w", true),
    ("char8_t", "u8", false),
    ("char16_t", "u16", false),
    ("char32_t", "u32", false),
];

/// The qualified name a text ends with (`std::vector` in `const std::vector`).
fn trailing_name(text: &str) -> &str {
    let b = text.as_bytes();
    let mut start = b.len();
    while start > 0 && NAME_BYTES[b[start - 1] as usize] {
        start -= 1;
    }
    if start == 0 || b[start - 1] < 0x80 {
        return &text[start..];
    }
    // A character beyond ASCII: letters and digits of any script are a name's too.
    let start = text
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '$' || c == ':'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &text[start..]
}

/// ASCII bytes of a qualified name: letters, digits, `_`, `$`, `:`.
const NAME_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b':';
        b += 1;
    }
    t
};

fn is_qualifiers(text: &str) -> bool {
    text.split_whitespace().all(|w| {
        matches!(
            w,
            "const" | "volatile" | "&" | "&&" | "noexcept" | "restrict"
        )
    })
}

/// True for standard library internals: `std::_Hashtable`, `std::__hash_table`,
/// `__gnu_cxx::__normal_iterator`.
fn is_library_internal(name: &str) -> bool {
    // The last `::` (`rsplit_once` would set up a string searcher for each call).
    let Some(at) = name.as_bytes().windows(2).rposition(|w| w == b"::") else {
        return false;
    };
    let (ns, last) = (&name[..at], &name[at + 2..]);
    let internal_ns = ns == "std" || ns.starts_with("std::") || ns == "__gnu_cxx";
    let b = last.as_bytes();
    internal_ns && b.len() > 1 && b[0] == b'_' && (b[1].is_ascii_uppercase() || b[1] == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str) -> String {
        simplify(name, &Options::default())
    }

    #[test]
    fn standard_aliases_and_defaults() {
        let cases = [
            ("std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string"),
            (
                "std::__cxx11::basic_string<wchar_t, std::char_traits<wchar_t>, std::allocator<wchar_t> >::size() const",
                "std::wstring::size() const",
            ),
            ("std::basic_string_view<char, std::char_traits<char> >", "std::string_view"),
            ("std::vector<int, std::allocator<int> >::push_back(int const&)", "std::vector<int>::push_back(int const&)"),
            (
                "std::map<int, long, std::less<int>, std::allocator<std::pair<int const, long> > >::at(int const&)",
                "std::map<int, long>::at(int const&)",
            ),
            ("std::set<int, std::less<void>, std::allocator<int> >::find(int)", "std::set<int, std::less<void>>::find(int)"),
            ("std::unique_ptr<Foo, std::default_delete<Foo> >::~unique_ptr()", "std::unique_ptr<Foo>::~unique_ptr()"),
            ("std::__1::vector<int, std::__1::allocator<int> >::at(unsigned long)", "std::vector<int>::at(unsigned long)"),
            ("foo(std::basic_ostream<char, std::char_traits<char> >&)", "foo(std::ostream&)"),
        ];
        for (name, want) in cases {
            assert_eq!(s(name), want, "{name}");
        }
    }

    #[test]
    fn the_hashtable_frame_of_the_issue() {
        let name = "std::pair<std::__detail::_Node_iterator<std::pair<std::basic_string_view<char, std::char_traits<char> > const, ddwaf::parameter>, false, true>, bool> std::_Hashtable<std::basic_string_view<char, std::char_traits<char> >, std::pair<std::basic_string_view<char, std::char_traits<char> > const, ddwaf::parameter>, std::allocator<std::pair<std::basic_string_view<char, std::char_traits<char> > const, ddwaf::parameter> >, std::__detail::_Select1st, std::equal_to<std::basic_string_view<char, std::char_traits<char> > >, std::hash<std::basic_string_view<char, std::char_traits<char> > >, std::__detail::_Mod_range_hashing, std::__detail::_Default_ranged_hash, std::__detail::_Prime_rehash_policy, std::__detail::_Hashtable_traits<true, false, true> >::_M_emplace<std::basic_string_view<char, std::char_traits<char> >&, ddwaf::parameter>(std::integral_constant<bool, true>, std::basic_string_view<char, std::char_traits<char> >&, ddwaf::parameter&&)";
        assert_eq!(
            s(name),
            "std::_Hashtable<…>::_M_emplace<std::string_view&, ddwaf::parameter>(std::integral_constant<bool, true>, std::string_view&, ddwaf::parameter&&)"
        );
        assert_eq!(bare_name(name), "std::_Hashtable::_M_emplace");
    }

    #[test]
    fn depth_folding() {
        let name = "f(std::vector<std::pair<int, std::map<int, int, std::less<int>, std::allocator<std::pair<int const, int> > > >, std::allocator<std::pair<int, std::map<int, int> > > >)";
        assert_eq!(s(name), "f(std::vector<std::pair<int, std::map<…>>>)");
        let deep = |d| simplify(name, &Options { depth: d });
        assert_eq!(deep(0), "f(std::vector<…>)");
        assert_eq!(
            deep(5),
            "f(std::vector<std::pair<int, std::map<int, int>>>)"
        );
    }

    #[test]
    fn names_without_templates_or_unparsable_are_unchanged() {
        for name in [
            "pollset_work(grpc_pollset*, grpc_pollset_worker**, long)",
            "tensorflow::(anonymous namespace)::ExecutorState::Process(tensorflow::(anonymous namespace)::ExecutorState::TaggedNode, long long)",
            "__pyx_f_4grpc_7_cython_6cygrpc__next(grpc_completion_queue*, _object*) [clone .isra.0]",
            "operator new(unsigned long)",
            "foo<int(",
            "bar<)>",
            "",
        ] {
            assert_eq!(s(name), name);
        }
        let deep = format!(
            "{}x{}",
            "a<".repeat(MAX_NESTING + 5),
            ">".repeat(MAX_NESTING + 5)
        );
        assert_eq!(s(&deep), deep);
    }

    #[test]
    fn operators_lambdas_and_return_types() {
        let cases = [
            (
                "std::basic_ostream<char, std::char_traits<char> >& std::operator<< <std::char_traits<char> >(std::basic_ostream<char, std::char_traits<char> >&, char const*)",
                "std::operator<< <std::char_traits<char>>(std::ostream&, char const*)",
            ),
            ("bool operator< <int>(int const&, int const&)", "operator< <int>(int const&, int const&)"),
            ("foo::operator()<int>(int) const", "foo::operator()<int>(int) const"),
            (
                "std::_Function_handler<void (), tensorflow::(anonymous namespace)::ExecutorState::ScheduleReady(tensorflow::gtl::InlinedVector<tensorflow::(anonymous namespace)::ExecutorState::TaggedNode, 8> const&, tensorflow::(anonymous namespace)::ExecutorState::TaggedNodeReadyQueue*)::{lambda()#1}>::_M_invoke(std::_Any_data const&)",
                "std::_Function_handler<…>::_M_invoke(std::_Any_data const&)",
            ),
            ("unsigned long hash_of<std::vector<int, std::allocator<int> > >(std::vector<int, std::allocator<int> > const&)", "hash_of<std::vector<int>>(std::vector<int> const&)"),
            ("tensorflow::gtl::InlinedVector<char const*, 8> const&", "tensorflow::gtl::InlinedVector<char const*, 8> const&"),
        ];
        for (name, want) in cases {
            assert_eq!(s(name), want, "{name}");
        }
    }

    #[test]
    fn bare_names() {
        let cases = [
            ("crash_map(_object*, _object*)", "crash_map"),
            ("crash_map", "crash_map"),
            ("dbgpipe::BadHash::operator()(std::basic_string_view<char, std::char_traits<char> >) const", "dbgpipe::BadHash::operator()"),
            ("dbgpipe::BadHash::operator()", "dbgpipe::BadHash::operator()"),
            ("std::__detail::_Hash_code_base<int, int, std::__detail::_Select1st, H, std::__detail::_Mod_range_hashing, std::__detail::_Default_ranged_hash, false>::_M_hash_code", "std::_Hash_code_base::_M_hash_code"),
            ("foo(int) [clone .isra.0]", "foo"),
            ("tensorflow::Tensor::~Tensor()", "tensorflow::Tensor::~Tensor"),
        ];
        for (name, want) in cases {
            assert_eq!(bare_name(name), want, "{name}");
        }
    }
}
