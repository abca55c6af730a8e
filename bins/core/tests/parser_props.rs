//! Properties of the name simplifier, the gdb parser and the round-line reader, on generated
//! inputs. (The Memcheck parsers have theirs in `memcheck_props.rs`.)
//!
//! Case counts are kept modest (`PROPTEST_CASES` raises them) so that the suite stays quick.

use dbgpipe_core::backtrace::gdb::{self, Event};
use dbgpipe_core::backtrace::simplify::{self, bare_name, simplify};
use dbgpipe_core::input;
use dbgpipe_core::output::{Csv, Sink};
use dbgpipe_core::rounds::filter::{Filter, Options};
use dbgpipe_core::rounds::lines::{self, Line};
use proptest::prelude::*;
use std::convert::Infallible;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Simplification

/// A C++ type as gdb and c++filt print them, templates nested up to `depth`, with the
/// library's verbose spellings that simplification rewrites.
fn cpp_type(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop::sample::select(vec![
        "int",
        "char",
        "unsigned long",
        "double",
        "_object*",
        "ns::Widget",
        "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >",
        "std::basic_string_view<wchar_t, std::char_traits<wchar_t> >",
        "(anonymous namespace)::Impl",
        "{lambda()#1}",
    ])
    .prop_map(str::to_string)
    .boxed();
    if depth == 0 {
        return leaf;
    }
    let inner = cpp_type(depth - 1);
    prop_oneof![
        3 => leaf,
        1 => (inner.clone(), any::<bool>()).prop_map(|(t, alloc)| if alloc {
            format!("std::vector<{t}, std::allocator<{t}> >")
        } else {
            format!("std::vector<{t}>")
        }),
        1 => (inner.clone(), inner.clone()).prop_map(|(k, v)| format!(
            "std::map<{k}, {v}, std::less<{k}>, std::allocator<std::pair<{k} const, {v}> > >"
        )),
        1 => (inner.clone(), prop::sample::select(vec!["", " const", "*", " const&"]))
            .prop_map(|(t, q)| format!("std::unique_ptr<{t}, std::default_delete<{t}> >{q}")),
        1 => (inner.clone(), 0u32..100).prop_map(|(t, n)| format!("std::array<{t}, {n}ul>")),
    ]
    .boxed()
}

/// A function name as a frame shows it: maybe a return type (templates only), a qualified
/// name, template arguments, a parameter list, qualifiers and clone suffixes.
fn cpp_function() -> impl Strategy<Value = String> {
    let scope = prop::sample::select(vec![
        "",
        "ns::",
        "std::__cxx11::",
        "std::_Hashtable<int, std::pair<int const, int>, std::allocator<std::pair<int const, int> > >::",
        "(anonymous namespace)::",
    ]);
    let name = prop::sample::select(vec![
        "f",
        "push_back",
        "operator()",
        "_M_emplace",
        "crash_map",
    ]);
    (
        prop::option::of(cpp_type(1)),
        scope,
        name,
        prop::option::of(prop::collection::vec(cpp_type(2), 1..3)),
        prop::collection::vec(cpp_type(2), 0..3),
        prop::sample::select(vec!["", " const", " [clone .isra.0]"]),
    )
        .prop_map(|(ret, scope, name, targs, params, tail)| {
            let mut s = String::new();
            if let (Some(r), Some(_)) = (&ret, &targs) {
                s.push_str(r);
                s.push(' ');
            }
            s.push_str(scope);
            s.push_str(name);
            if let Some(t) = targs {
                s.push('<');
                s.push_str(&t.join(", "));
                s.push_str(" >");
            }
            s.push('(');
            s.push_str(&params.join(", "));
            s.push(')');
            s.push_str(tail);
            s
        })
}

/// Brackets of a name are balanced, operators apart (none are generated).
fn balanced(s: &str) -> bool {
    let mut depth = 0i64;
    for c in s.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

proptest! {
    #![proptest_config(config(256))]

    /// A name without a template is never changed, whatever it holds (any text: gdb passes
    /// through names and garbage alike).
    #[test]
    fn names_without_templates_are_never_changed(name in "[^<]{0,80}", depth in 0usize..4) {
        let opts = simplify::Options { depth };
        prop_assert_eq!(simplify(&name, &opts), name);
    }

    /// Nor are C-like names of the generated shape (no template anywhere).
    #[test]
    fn c_functions_are_never_changed(
        name in "[a-zA-Z_][a-zA-Z0-9_]{0,20}",
        params in prop::collection::vec("(int|char const\\*|_object\\*|long)", 0..4),
    ) {
        let full = format!("{name}({})", params.join(", "));
        prop_assert_eq!(simplify(&full, &simplify::Options::default()), full);
    }

    /// Simplifying twice gives what simplifying once gives: the output is already in the
    /// simplified form (aliases, defaults dropped, folded `<…>`), so bt-demangle can run on
    /// its own output.
    #[test]
    fn simplification_is_idempotent(name in cpp_function(), depth in 0usize..4) {
        let opts = simplify::Options { depth };
        let once = simplify(&name, &opts);
        let twice = simplify(&once, &opts);
        prop_assert_eq!(&twice, &once, "from {}", name);
    }

    /// Simplification keeps a name well formed and never lengthens it (counted in
    /// characters: `<…>` is three, as `<T>` is).
    #[test]
    fn simplification_keeps_names_whole(name in cpp_function(), depth in 0usize..4) {
        let out = simplify(&name, &simplify::Options { depth });
        prop_assert!(balanced(&out), "{} from {}", out, name);
        prop_assert!(out.chars().count() <= name.chars().count(), "{} from {}", out, name);
        prop_assert!(!out.is_empty());
    }

    /// A crash signature hashes bare names; they do not depend on whether the name was shown
    /// simplified, so signatures are stable across `--no-simplify` and `--depth`.
    #[test]
    fn bare_names_do_not_depend_on_simplification(name in cpp_function(), depth in 0usize..4) {
        let simplified = simplify(&name, &simplify::Options { depth });
        prop_assert_eq!(bare_name(&simplified), bare_name(&name));
    }
}

// ---------------------------------------------------------------------------------------
// gdb backtraces

/// One frame as gdb prints it, possibly over several lines (wrapped argument lists, `from`
/// on the next line), as (text, whether it is a frame line gdb may print).
fn frame_text(index: usize) -> impl Strategy<Value = String> {
    let function = prop::sample::select(vec![
        "dbgpipe_store",
        "_PyEval_EvalFrameDefault",
        "std::vector<int, std::allocator<int> >::push_back(int const&)",
        "??",
        "operator<< <std::char_traits<char> >",
        "_ZN3foo3barEv",
    ]);
    let args = prop::sample::select(vec![
        "",
        "p=0x0, v=42",
        "self=0x7f, args=(1, 2)",
        "s=0x2 \"(\"",
        "x=<optimized out>",
    ]);
    let location = prop::sample::select(vec![
        "",
        " at /src/ext/m.c:271",
        " at ../Python/ceval.c:4231",
        " from /lib/x86_64-linux-gnu/libc.so.6",
    ]);
    (
        function,
        args,
        location,
        prop::option::of(0x1000u64..0xffff_ffff),
        0u8..4,
    )
        .prop_map(move |(function, args, location, addr, wrap)| {
            let head = match addr {
                Some(a) => format!("#{index:<2} 0x{a:016x} in {function}"),
                None => format!("#{index:<2} {function}"),
            };
            match wrap {
                // gdb wraps a long argument list after a comma,
                1 if args.contains(", ") => {
                    let (a, b) = args.split_once(", ").unwrap_or((args, ""));
                    format!("{head} ({a},\n    {b}){location}\n")
                }
                // and puts `from LIB` or `at FILE:LINE` on a line of its own.
                2 if !location.is_empty() => format!("{head} ({args})\n   {}\n", location.trim()),
                _ => format!("{head} ({args}){location}\n"),
            }
        })
}

/// A session: a signal report, then one or more threads' backtraces.
fn backtrace() -> impl Strategy<Value = String> {
    let thread = prop::collection::vec(any::<u8>(), 1..6).prop_flat_map(|frames| {
        let n = frames.len();
        (0..n).map(frame_text).collect::<Vec<_>>()
    });
    (prop::collection::vec(thread, 1..4), any::<bool>()).prop_map(|(threads, signal)| {
        let mut text = String::new();
        if signal {
            text.push_str("Program received signal SIGSEGV, Segmentation fault.\n");
        }
        for (i, frames) in threads.iter().enumerate() {
            text.push_str(&format!(
                "\nThread {} (Thread 0x7ffff79b46c0 (LWP {})):\n",
                i + 1,
                100 + i
            ));
            for f in frames {
                text.push_str(f);
            }
        }
        text
    })
}

/// A frame's own content: what a cut may not change unannounced. (The thread a frame
/// belongs to is context from a header line; cut inside that header, the second part does
/// not know it.)
type Content = (
    Option<u32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u32>,
    Option<String>,
);

/// The `#N` frames of an input read as bt-demangle reads it, and how many events say the
/// input was cut (a truncated frame, or a line that starts like a frame but is not one).
fn frames_of(bytes: &[u8]) -> (Vec<(Content, bool)>, usize) {
    let mut parser = gdb::Parser::new();
    let mut frames = Vec::new();
    let mut unparsed = 0;
    let mut emit = |e: Event<'_>| -> Result<(), Infallible> {
        match e {
            Event::Frame(f) => frames.push((
                (
                    f.index,
                    f.frame.addr,
                    f.frame.function,
                    f.args,
                    f.frame.file,
                    f.frame.line,
                    f.frame.object,
                ),
                f.truncated,
            )),
            Event::Unparsed(_) => unparsed += 1,
            _ => {}
        }
        Ok(())
    };
    let mut reader = bytes;
    let mut buf = Vec::new();
    while let Some(end) =
        dbgpipe_core::input::read_line(&mut reader, &mut buf, dbgpipe_core::input::MAX_LINE)
            .expect("a slice reads")
    {
        let line = String::from_utf8_lossy(&buf);
        let Ok(()) = if end.newline {
            parser.push(&line, &mut emit)
        } else {
            parser.push_cut(&line, &mut emit)
        };
    }
    let Ok(()) = parser.finish(&mut emit);
    (frames, unparsed)
}

proptest! {
    #![proptest_config(config(256))]

    /// A backtrace split at any byte and read as two inputs loses at most the frame the cut
    /// falls in, and says so: every other frame comes out unchanged, in order; and when the
    /// cut frame does not come out whole, the first part's last frame is flagged truncated,
    /// or a line is counted as unparsed (the first part's cut `#N`, or the second part's
    /// opening `   from LIB`).
    #[test]
    fn a_backtrace_split_anywhere_loses_at_most_the_cut_frame(
        text in backtrace(),
        at in any::<prop::sample::Index>(),
    ) {
        let bytes = text.as_bytes();
        let (whole, _) = frames_of(bytes);
        prop_assert!(whole.iter().all(|(_, t)| !t), "{text}");
        let cut = at.index(bytes.len() + 1);
        let (first, first_unparsed) = frames_of(&bytes[..cut]);
        let (second, second_unparsed) = frames_of(&bytes[cut..]);

        // The frames before the cut: a prefix of the whole, but for the last one.
        let intact = |v: &[(Content, bool)]| -> Vec<Content> {
            v.iter().filter(|(_, t)| !t).map(|(c, _)| c.clone()).collect()
        };
        let whole: Vec<Content> = intact(&whole);
        let a = intact(&first);
        let b = intact(&second);
        prop_assert!(a.len() <= whole.len());
        // `a` is whole's prefix, except that its last intact frame may be the cut one (when
        // only the line's newline or a wrapped `from …` line was cut off).
        let common = a.iter().zip(&whole).take_while(|(x, y)| x == y).count();
        prop_assert!(common + 1 >= a.len(), "first part diverges: {a:#?}\nwhole: {whole:#?}");
        // `b` is whole's suffix, except maybe its first frame.
        let tail = b.iter().rev().zip(whole.iter().rev()).take_while(|(x, y)| x == y).count();
        prop_assert!(tail + 1 >= b.len(), "second part diverges: {b:#?}\nwhole: {whole:#?}");
        // Together they hold all but at most one frame of the whole.
        let kept = common.min(a.len()) + tail.min(b.len());
        prop_assert!(kept + 1 >= whole.len(), "lost more than one frame at {cut}: {text:?}");
        if kept < whole.len() {
            // One frame is missing: the cut must be visible, in the first part (its last
            // frame flagged, or its cut `#N` line unparsed) or in the second (it starts with
            // the wrapped end of a frame: `   from LIB`).
            let said = first.last().is_some_and(|(_, t)| *t) || first_unparsed + second_unparsed > 0;
            prop_assert!(said, "cut at {cut} not reported: {text:?}");
        }
    }

    /// Any bytes: the parser never panics, and every `#N ` line gives one frame or one
    /// unparsed line (the fuzz target checks the same at scale).
    #[test]
    fn garbage_gives_events_not_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = frames_of(&bytes);
    }
}

/// bt-demangle's JSON lines for `input` (project: `/src/ext/`).
fn bt_jsonl(input: &[u8]) -> String {
    use dbgpipe_core::backtrace::{filter, print};
    let opts = filter::Options {
        project: dbgpipe_core::project::Project::Patterns(vec!["/src/ext/".into()].into()),
        simplify: true,
        depth: 2,
    };
    let mut out = Vec::new();
    {
        let mut printer = print::printer(
            dbgpipe_core::output::Format::Jsonl,
            print::TextOptions::default(),
            &mut out,
            Box::new(std::io::sink()),
            false,
        )
        .expect("jsonl is a format");
        filter::run("t", input, opts, &mut *printer).expect("a slice reads");
    }
    String::from_utf8(out).expect("JSON lines are UTF-8")
}

proptest! {
    #![proptest_config(config(128))]

    /// bt-demangle reads its own JSON lines back as the same records: the same frames,
    /// classes and crash signature, whatever the backtrace (wrapped lines, threads, mangled
    /// names, a cut last line), and the same summary (but for the records it read).
    #[test]
    fn json_lines_read_back_as_the_same_records(text in backtrace(), cut in 0usize..40) {
        let input = &text.as_bytes()[..text.len() - cut.min(text.len())];
        let first = bt_jsonl(input);
        let second = bt_jsonl(first.as_bytes());
        let (a, b): (Vec<&str>, Vec<&str>) = (first.lines().collect(), second.lines().collect());
        prop_assert_eq!(a.len(), b.len());
        prop_assert_eq!(&a[..a.len() - 1], &b[..b.len() - 1]);
        let summary = |l: &str| serde_json::from_str::<serde_json::Value>(l).expect("JSON");
        let (mut sa, sb) = (summary(a[a.len() - 1]), summary(b[b.len() - 1]));
        // The same counts: what the first run read is carried over by its summary.
        sa["records_read"] = sb["records_read"].clone();
        prop_assert_eq!(&sa, &sb);
        prop_assert_eq!(sb["records_read"].as_u64(), Some(a.len() as u64));
    }
}

// ---------------------------------------------------------------------------------------
// Real backtraces pasted again

/// Every real backtrace of the repository (`tests/data/gdb/`, `tests/data/pasted/gdb/`),
/// without its line 1 (`# source: …`).
fn real_backtraces() -> &'static [(String, Vec<u8>)] {
    static FILES: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
        let mut files = Vec::new();
        for dir in ["gdb", "pasted/gdb"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("the test data") {
                let path = entry.expect("a directory entry").path();
                if path.extension().is_some_and(|e| e == "txt") {
                    let data = std::fs::read(&path).expect("a test file");
                    let body =
                        data[data.iter().position(|&b| b == b'\n').unwrap_or(0) + 1..].to_vec();
                    files.push((path.display().to_string(), body));
                }
            }
        }
        files.sort();
        assert!(files.len() >= 14 + 32, "{} files", files.len());
        files
    })
}

/// The prefix a paste puts before every line: indentation (spaces, a tab), quote marks, or
/// both; and what it leaves on an empty line: nothing, the prefix, or its quote marks.
fn paste() -> impl Strategy<Value = (String, u8)> {
    let prefix = prop_oneof![
        Just("    ".to_string()),
        Just("\t".to_string()),
        Just("> ".to_string()),
        prop::collection::vec(
            prop::sample::select(vec![">", "> ", " ", "  ", "\t", "    "]),
            1..4
        )
        .prop_map(|parts| parts.concat()),
    ];
    (prefix, 0u8..3)
}

/// `text` pasted with `prefix` before every line.
fn pasted(text: &[u8], prefix: &str, empty: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for line in text.split_inclusive(|&b| b == b'\n') {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        match (bare.is_empty(), empty) {
            (true, 0) => {}
            (true, 1) => out.extend_from_slice(prefix.trim_end().as_bytes()),
            _ => out.extend_from_slice(prefix.as_bytes()),
        }
        out.extend_from_slice(line);
    }
    out
}

proptest! {
    #![proptest_config(config(32))]

    /// Issue 13: a copy of any real backtrace indented (Markdown, reStructuredText) or
    /// quoted (a mail, a blockquote), or both, gives the records of the original: the same
    /// frames, stops, Python frames and crash, the same summary (only the lines passed
    /// through differ, by their prefix).
    #[test]
    fn an_indented_or_quoted_copy_reads_as_the_original((prefix, empty) in paste()) {
        for (name, text) in real_backtraces() {
            let original = bt_jsonl(text);
            let copy = bt_jsonl(&pasted(text, &prefix, empty));
            let (a, b): (Vec<&str>, Vec<&str>) = (original.lines().collect(), copy.lines().collect());
            prop_assert_eq!(a, b, "{} pasted with {:?}", name, prefix);
        }
    }
}

#[test]
fn indented_and_quoted_copies_of_every_real_backtrace() {
    for prefix in ["    ", "\t", "> ", ">> ", "> > "] {
        for (name, text) in real_backtraces() {
            let original = bt_jsonl(text);
            let copy = bt_jsonl(&pasted(text, prefix, 1));
            assert_eq!(original, copy, "{name} pasted with {prefix:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Round lines

/// A line of any of the kinds rss-rounds reads, its own output, noise, or bytes.
fn round_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0u64..1000, -1e6f64..1e6)
            .prop_map(|(r, v)| format!("Round {r} Max RSS: {v}").into_bytes()),
        (-100i64..100).prop_map(|v| format!("References: {v}").into_bytes()),
        (0u64..1000, "[a-z_]{1,8}", -1e3f64..1e3)
            .prop_map(|(r, s, v)| format!("{r},{s},{v},").into_bytes()),
        Just(b"round,series,value,net_value".to_vec()),
        (0u64..100, -5.0f64..5.0).prop_map(|(r, v)| format!(
            r#"{{"type":"round","series":"refs","round":{r},"value":{v},"kind":"delta"}}"#
        )
        .into_bytes()),
        Just(br#"{"type":"verdict","series":"refs"}"#.to_vec()),
        Just(br#"{"type":"baseline","series":"refs","per_round":1.5}"#.to_vec()),
        Just(br#"{"type":"summary","tool":"rss-rounds","schema":2}"#.to_vec()),
        Just(br#"{"type":"error","kind":"Leak_DefinitelyLost"}"#.to_vec()),
        Just(br#"{"type":"summary","tool":"vg-filter","schema":2}"#.to_vec()),
        Just(b"Round 3 Max RSS: nan".to_vec()),
        "[ -~]{0,40}".prop_map(String::into_bytes),
        prop::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..40
        ),
    ]
}

proptest! {
    #![proptest_config(config(128))]

    /// Every line is a value, rss-rounds' own record, another tool's record, or counted as
    /// unmatched: nothing is passed over silently. `lines = values + unmatched + own_lines +
    /// foreign_records`, and each value is written out once (none is capped at these sizes)
    /// after the CSV header. Input that is binary data is refused, naming it, before a line
    /// is read.
    #[test]
    fn round_lines_are_conserved(lines in prop::collection::vec(round_line(), 0..60), crlf in any::<bool>()) {
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let input: Vec<u8> = lines.iter().flat_map(|l| l.iter().chain(eol)).copied().collect();
        let refused = input::Content::of(&input).refuse("t").is_some();
        let mut rows = Vec::new();
        let s = {
            let mut out = Csv::new(Sink::new(&mut rows, false), Box::new(std::io::sink()), false);
            let mut f = Filter::new(Options::default());
            match f.read("t", &input[..], &mut out) {
                Err(e) => {
                    prop_assert!(refused, "{}", e);
                    prop_assert!(e.to_string().starts_with("t: is "), "{}", e);
                    return Ok(());
                }
                Ok(()) => prop_assert!(!refused),
            }
            f.finish(&mut out).expect("a Vec takes writes")
        };
        prop_assert_eq!(s.lines, lines.len() as u64);
        prop_assert_eq!(s.lines, s.values + s.unmatched + s.own_lines + s.foreign_records);
        let count = |want: fn(&Line) -> bool| {
            lines.iter().filter(|l| want(&lines::parse_line(l, &[]))).count() as u64
        };
        prop_assert_eq!(s.values, count(|l| matches!(l, Line::Value(_))));
        prop_assert_eq!(s.foreign_records, count(|l| matches!(l, Line::Foreign)));
        let rows = String::from_utf8(rows).expect("CSV is UTF-8").lines().count() as u64;
        prop_assert_eq!(rows, s.values + 1);
    }
}
