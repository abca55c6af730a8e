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
pub fn simplify(name: &str, opts: &Options) -> String {
    if !name.contains('<') || name.len() > MAX_LEN {
        return name.to_string();
    }
    let Some(mut seq) = parse(name) else {
        return name.to_string();
    };
    rewrite(&mut seq);
    drop_return_type(&mut seq);
    let mut out = String::with_capacity(name.len() / 2);
    render(&seq, 0, opts.depth, &mut out);
    out.trim().to_string()
}

/// The function's qualified name alone: no return type, template arguments, parameters,
/// qualifiers or `[clone …]`/`[abi:…]` tags. `std::pair<…> std::_Hashtable<…>::_M_emplace<…>(…)`
/// gives `std::_Hashtable::_M_emplace`; `crash_map(_object*, _object*)` gives `crash_map`.
pub fn bare_name(name: &str) -> String {
    let parsed = if name.len() > MAX_LEN {
        None
    } else {
        parse(name)
    };
    let Some(mut seq) = parsed else {
        return name.trim().to_string();
    };
    drop_return_type(&mut seq);
    let end = params_index(&seq).unwrap_or(seq.len());
    let mut out = String::new();
    for node in &seq[..end] {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Atom(a) if !a.starts_with('[') => out.push_str(a),
            _ => {}
        }
    }
    shorten_namespaces(&out).trim().to_string()
}

/// A name as a tree of bracketed groups.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Identifiers, `::`, spaces, `*`, `&`, operator names.
    Text(String),
    /// A template argument list, split at its top-level commas.
    Angle(Vec<Seq>),
    /// A parameter list (or a parenthesised expression), split at its top-level commas.
    Paren(Vec<Seq>),
    /// Kept verbatim: `{lambda()#1}`, `[clone .isra.0]`, `(anonymous namespace)`, literals.
    Atom(String),
}

type Seq = Vec<Node>;

/// Where a sequence is being parsed: what closes it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Angle,
    Paren,
}

fn parse(name: &str) -> Option<Seq> {
    let mut p = Parser {
        s: name.as_bytes(),
        pos: 0,
        text: name,
    };
    let seq = p.seq(Ctx::Top, 0)?;
    (p.pos == p.s.len()).then_some(seq)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl Parser<'_> {
    /// One sequence, up to (not including) the `,`, `>` or `)` that ends it in `ctx`.
    fn seq(&mut self, ctx: Ctx, nesting: usize) -> Option<Seq> {
        if nesting > MAX_NESTING {
            return None;
        }
        let mut seq = Vec::new();
        let mut text_start = self.pos;
        let flush = |seq: &mut Seq, text: &str, from: usize, to: usize| {
            if to > from {
                match seq.last_mut() {
                    Some(Node::Text(t)) => t.push_str(&text[from..to]),
                    _ => seq.push(Node::Text(text[from..to].to_string())),
                }
            }
        };
        while self.pos < self.s.len() {
            let b = self.s[self.pos];
            match b {
                b',' if ctx != Ctx::Top => break,
                b'>' if ctx == Ctx::Angle => break,
                b')' if ctx == Ctx::Paren => break,
                b')' => return None,
                b'o' if self.at_operator() => {
                    self.pos += "operator".len();
                    self.operator_symbol();
                    continue;
                }
                b'<' | b'(' | b'{' | b'[' | b'\'' | b'"' => {
                    flush(&mut seq, self.text, text_start, self.pos);
                    let node = match b {
                        b'<' => Node::Angle(self.list(b'>', Ctx::Angle, nesting)?),
                        b'(' if self.text[self.pos..].starts_with("(anonymous namespace)") => {
                            let atom = "(anonymous namespace)";
                            self.pos += atom.len();
                            Node::Atom(atom.to_string())
                        }
                        b'(' => Node::Paren(self.list(b')', Ctx::Paren, nesting)?),
                        b'{' => Node::Atom(self.balanced(b'{', b'}')?),
                        b'[' => Node::Atom(self.balanced(b'[', b']')?),
                        _ => Node::Atom(self.quoted(b)?),
                    };
                    seq.push(node);
                    text_start = self.pos;
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
        flush(&mut seq, self.text, text_start, self.pos);
        Some(seq)
    }

    /// A bracketed list whose opener is at `pos`: its comma-separated sequences.
    fn list(&mut self, close: u8, ctx: Ctx, nesting: usize) -> Option<Vec<Seq>> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            items.push(self.seq(ctx, nesting + 1)?);
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(&c) if c == close => {
                    self.pos += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    /// `{…}` or `[…]` kept whole, nesting counted on its own bracket kind only.
    fn balanced(&mut self, open: u8, close: u8) -> Option<String> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(&b) = self.s.get(self.pos) {
            self.pos += 1;
            if b == open {
                depth += 1;
            } else if b == close {
                depth -= 1;
                if depth == 0 {
                    return Some(self.text[start..self.pos].to_string());
                }
            }
        }
        None
    }

    /// A quoted literal, backslash escapes included.
    fn quoted(&mut self, quote: u8) -> Option<String> {
        let start = self.pos;
        self.pos += 1;
        while let Some(&b) = self.s.get(self.pos) {
            self.pos += 1;
            if b == b'\\' {
                self.pos += 1;
            } else if b == quote {
                return Some(self.text.get(start..self.pos)?.to_string());
            }
        }
        None
    }

    /// True at the keyword `operator` (as a whole word).
    fn at_operator(&self) -> bool {
        let rest = &self.s[self.pos..];
        rest.starts_with(b"operator")
            && (self.pos == 0 || !is_ident(self.s[self.pos - 1]))
            && rest.get(8).map_or(true, |&b| !is_ident(b))
    }

    /// After `operator`: its symbol (`<<`, `()`, `[]`, `->*`, …), which must not be read as
    /// brackets. Named operators (`new`, `delete`, conversions) are ordinary text.
    fn operator_symbol(&mut self) {
        let rest = &self.s[self.pos..];
        if rest.starts_with(b"()") || rest.starts_with(b"[]") {
            self.pos += 2;
            return;
        }
        while let Some(&b) = self.s.get(self.pos) {
            if b"<>=!+-*/%^&|~,".contains(&b) {
                self.pos += 1;
            } else {
                break;
            }
        }
    }
}

/// The library's inline namespaces, which say nothing to a reader of a backtrace.
const INLINE_NAMESPACES: &[&str] = &["std::__cxx11::", "std::__1::", "std::__detail::"];

fn shorten_namespaces(text: &str) -> String {
    let mut out = text.to_string();
    for ns in INLINE_NAMESPACES {
        if out.contains(ns) {
            out = out.replace(ns, "std::");
        }
    }
    out
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
    let start = text
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '$' || c == ':'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &text[start..]
}

/// Compact text of a sequence, for comparing arguments (`std::string` vs `std::string `).
fn flat(seq: &Seq) -> String {
    let mut s = String::new();
    render(seq, 0, usize::MAX, &mut s);
    s.retain(|c| c != ' ');
    s
}

/// Bottom-up rewriting: namespaces, default arguments, aliases.
fn rewrite(seq: &mut Seq) {
    for node in seq.iter_mut() {
        match node {
            Node::Text(t) => *t = shorten_namespaces(t),
            Node::Angle(items) | Node::Paren(items) => items.iter_mut().for_each(rewrite),
            Node::Atom(_) => {}
        }
    }
    let mut i = 1;
    while i < seq.len() {
        let name = match (&seq[i - 1], &seq[i]) {
            (Node::Text(t), Node::Angle(_)) => trailing_name(t).to_string(),
            _ => {
                i += 1;
                continue;
            }
        };
        if let Node::Angle(items) = &mut seq[i] {
            drop_defaults(items);
            if let Some(alias) = alias(&name, items) {
                if let Node::Text(t) = &mut seq[i - 1] {
                    t.truncate(t.len() - name.len());
                    t.push_str(&alias);
                }
                seq.remove(i);
                merge_text(seq, i);
                continue;
            }
        }
        i += 1;
    }
}

/// Joins the texts on either side of a removed node.
fn merge_text(seq: &mut Seq, i: usize) {
    if i < seq.len() && i > 0 {
        if let (Node::Text(_), Node::Text(b)) = (&seq[i - 1], &seq[i]) {
            let b = b.clone();
            if let Node::Text(a) = &mut seq[i - 1] {
                a.push_str(&b);
            }
            seq.remove(i);
        }
    }
}

/// Drops default template arguments (never the first one).
fn drop_defaults(items: &mut Vec<Seq>) {
    if items.len() < 2 {
        return;
    }
    let first = flat(&items[0]);
    let mut k = 1;
    while k < items.len() {
        let drop = match template_id(&items[k]) {
            Some(("std::allocator", _)) => true,
            Some((head, [inner])) => DEFAULTS_OF_FIRST.contains(&head) && flat(inner) == first,
            _ => false,
        };
        if drop {
            items.remove(k);
        } else {
            k += 1;
        }
    }
}

/// An argument that is exactly `name<args>`: its name and arguments.
fn template_id(item: &Seq) -> Option<(&str, &[Seq])> {
    match item.as_slice() {
        [Node::Text(t), Node::Angle(inner)] => Some((t.trim(), inner)),
        [Node::Text(t), Node::Angle(inner), Node::Text(rest)] if rest.trim().is_empty() => {
            Some((t.trim(), inner))
        }
        _ => None,
    }
}

/// `std::basic_string` with `[char]` → `std::string`, and the like.
fn alias(name: &str, items: &[Seq]) -> Option<String> {
    let (_, short) = ALIASES.iter().find(|(long, _)| *long == name)?;
    let [arg] = items else { return None };
    let arg = flat(arg);
    let is_stream = !short.starts_with("string");
    let (_, prefix, _) = CHAR_PREFIXES
        .iter()
        .find(|(c, _, streams)| *c == arg && (*streams || !is_stream))?;
    Some(format!("std::{prefix}{short}"))
}

/// Index of the function's parameter list: the last top-level parenthesis followed only by
/// qualifiers (` const`, ` &&`, `[clone .isra.0]`, …).
fn params_index(seq: &Seq) -> Option<usize> {
    let mut idx = None;
    for (i, node) in seq.iter().enumerate().rev() {
        match node {
            Node::Paren(_) => {
                idx = Some(i);
                break;
            }
            Node::Atom(a) if a.starts_with('[') => {}
            Node::Text(t) if is_qualifiers(t) => {}
            _ => return None,
        }
    }
    // A parenthesis that opens the name (a function type) is not a parameter list.
    idx.filter(|&i| i > 0)
}

fn is_qualifiers(text: &str) -> bool {
    text.split_whitespace().all(|w| {
        matches!(
            w,
            "const" | "volatile" | "&" | "&&" | "noexcept" | "restrict"
        )
    })
}

/// Removes `R ` from `R ns::f<T>(…)`: only function templates have their return type
/// mangled, so it is only dropped when the name before the parameters has template
/// arguments.
fn drop_return_type(seq: &mut Seq) {
    let Some(p) = params_index(seq) else {
        return;
    };
    if !matches!(seq[p - 1], Node::Angle(_)) {
        return;
    }
    // The last top-level space before the name; spaces after `operator` belong to it.
    let mut cut = None;
    for (i, node) in seq[..p].iter().enumerate() {
        if let Node::Text(t) = node {
            let limit = t.find("operator").unwrap_or(t.len());
            if let Some(sp) = t[..limit].rfind(' ') {
                cut = Some((i, sp));
            }
            if limit < t.len() {
                break;
            }
        }
    }
    let Some((i, sp)) = cut else {
        return;
    };
    if let Node::Text(t) = &mut seq[i] {
        *t = t[sp + 1..].to_string();
    }
    seq.drain(..i);
    if matches!(seq.first(), Some(Node::Text(t)) if t.is_empty()) {
        seq.remove(0);
    }
}

/// True for standard library internals: `std::_Hashtable`, `std::__hash_table`,
/// `__gnu_cxx::__normal_iterator`.
fn is_library_internal(name: &str) -> bool {
    let Some((ns, last)) = name.rsplit_once("::") else {
        return false;
    };
    let internal_ns = ns == "std" || ns.starts_with("std::") || ns == "__gnu_cxx";
    let b = last.as_bytes();
    internal_ns && b.len() > 1 && b[0] == b'_' && (b[1].is_ascii_uppercase() || b[1] == b'_')
}

/// Writes a sequence; `level` is the template nesting the sequence is in (0: outside any).
fn render(seq: &Seq, level: usize, depth: usize, out: &mut String) {
    for (i, node) in seq.iter().enumerate() {
        match node {
            Node::Text(t) | Node::Atom(t) => out.push_str(t),
            Node::Angle(items) => {
                let scope_of_internal = match (i.checked_sub(1).map(|j| &seq[j]), seq.get(i + 1)) {
                    (Some(Node::Text(before)), Some(Node::Text(after))) => {
                        after.starts_with("::") && is_library_internal(trailing_name(before))
                    }
                    _ => false,
                };
                if level + 1 > depth || scope_of_internal {
                    out.push_str("<…>");
                } else {
                    list(items, '<', '>', level + 1, depth, out);
                }
            }
            Node::Paren(items) => list(items, '(', ')', level, depth, out),
        }
    }
}

fn list(items: &[Seq], open: char, close: char, level: usize, depth: usize, out: &mut String) {
    out.push(open);
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        let mut s = String::new();
        render(item, level, depth, &mut s);
        out.push_str(s.trim());
    }
    out.push(close);
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
