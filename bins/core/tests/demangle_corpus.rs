//! Demangling conformance on vectors nobody on this project wrote: libiberty's
//! `demangle-expected` and `rust-demangle-expected` (what `c++filt -t -i` must print), and
//! rustc-demangle's own vectors. See `tests/data/demangle/README.md`.
//!
//! The pass rates are floors: they were measured, they are printed on every run
//! (`cargo test --test demangle_corpus -- --nocapture`), and they must not go down.

use dbgpipe_core::demangle::{self, Options, Style};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Measured passes of `demangle-expected`, per format (of 204 gnu-v3, 153 auto and 43 java,
/// gnat or dlang cases, which this demangler does not read). The C++ demangler is GNU
/// libiberty's (Debian's 2023-01 snapshot), so the 10 auto misses are the vectors' 2023-2025
/// additions (C++20 `requires`, explicit-object `this`, `[friend]`, …), exactly those the
/// system's `c++filt` 2.40 misses too.
const FLOOR_LIBIBERTY: &[(&str, usize)] = &[("gnu-v3", 204), ("auto", 143), ("unsupported", 0)];
/// Measured passes of `rust-demangle-expected` (of 75); the miss prints `'∂'` where
/// libiberty escapes it as `'\u{2202}'`.
const FLOOR_RUST_EXPECTED: usize = 73;
/// Measured passes of `rustc-demangle-vectors.tsv` (of 87).
const FLOOR_RUSTC_VECTORS: usize = 87;
/// Measured agreement with the system's `c++filt -t -i` on the 204 gnu-v3 cases.
const FLOOR_CPPFILT_AGREEMENT: usize = 204;

/// The repository's real inputs (`tests/data/demangle`, see its README).
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/demangle")
}

/// One libiberty case.
#[derive(Debug)]
struct Case {
    format: String,
    no_params: bool,
    /// `--is-v3-ctor`, `--ret-postfix`, …: not a plain demangling check.
    special: bool,
    input: String,
    expected: String,
    expected_no_params: Option<String>,
}

/// libiberty's format: comments anywhere, then options / input / expected (and the
/// no-params expectation when the options say so). A blank options line means auto.
fn cases(text: &str) -> Vec<Case> {
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let mut out = Vec::new();
    while let Some(options) = lines.next() {
        let (Some(input), Some(expected)) = (lines.next(), lines.next()) else {
            break;
        };
        let words: Vec<&str> = options.split_whitespace().collect();
        let format = words
            .iter()
            .find_map(|w| w.strip_prefix("--format="))
            .or_else(|| words.iter().find(|w| !w.starts_with("--")).copied())
            .unwrap_or("auto")
            .to_string();
        let no_params = words.contains(&"--no-params");
        let special = words.iter().any(|w| {
            matches!(
                *w,
                "--is-v3-ctor" | "--is-v3-dtor" | "--ret-postfix" | "--ret-drop"
            )
        });
        let expected_no_params = if no_params {
            lines.next().map(str::to_string)
        } else {
            None
        };
        out.push(Case {
            format,
            no_params,
            special,
            input: input.to_string(),
            expected: expected.to_string(),
            expected_no_params,
        });
    }
    out
}

/// What `c++filt -t -i --format=F [-p]` would print with this demangler: the input itself
/// when it does not demangle.
fn ours(case: &Case, params: bool) -> String {
    let style = match case.format.as_str() {
        "gnu-v3" => Style::Cpp,
        "rust" => Style::Rust,
        "auto" => Style::Auto,
        // java, gnat, dlang: not demangled, so the input comes back.
        _ => return case.input.clone(),
    };
    let opts = Options {
        style,
        params,
        types: true,
        rust_hash: false,
    };
    demangle::demangle_with(&case.input, &opts).unwrap_or_else(|| case.input.clone())
}

fn passes(case: &Case) -> bool {
    ours(case, true) == case.expected
        && case
            .expected_no_params
            .as_ref()
            .map_or(true, |want| ours(case, false) == *want)
}

/// Pass and total counts per format group.
fn tally(cases: &[Case]) -> (BTreeMap<String, (usize, usize)>, Vec<String>) {
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for case in cases.iter().filter(|c| !c.special) {
        let group = match case.format.as_str() {
            "gnu-v3" | "auto" | "rust" => case.format.clone(),
            _ => "unsupported".to_string(),
        };
        let entry = counts.entry(group).or_default();
        entry.1 += 1;
        if passes(case) {
            entry.0 += 1;
        } else {
            misses.push(format!(
                "[{}{}] {}\n    want {}\n    got  {}\n    want-np {:?}\n    got-np  {}",
                case.format,
                if case.no_params { " no-params" } else { "" },
                case.input,
                case.expected,
                ours(case, true),
                case.expected_no_params,
                ours(case, false)
            ));
        }
    }
    (counts, misses)
}

fn report(name: &str, counts: &BTreeMap<String, (usize, usize)>, misses: &[String]) {
    for (group, (pass, total)) in counts {
        println!("{name} {group}: {pass}/{total}");
    }
    if std::env::var_os("DBGPIPE_SHOW_MISSES").is_some() {
        for m in misses {
            println!("{m}");
        }
    }
}

#[test]
fn libiberty_vectors() {
    let text = std::fs::read_to_string(corpus().join("demangle-expected")).unwrap();
    let all = cases(&text);
    assert!(all.len() > 400, "{} cases read", all.len());
    let skipped = all.iter().filter(|c| c.special).count();
    let (counts, misses) = tally(&all);
    report("demangle-expected", &counts, &misses);
    println!("demangle-expected: {skipped} cases with --is-v3-*/--ret-* skipped");
    for (group, floor) in FLOOR_LIBIBERTY {
        let (pass, _) = counts.get(*group).copied().unwrap_or_default();
        assert!(
            pass >= *floor,
            "{group}: {pass} passes, the floor is {floor}"
        );
    }
}

#[test]
fn libiberty_rust_vectors() {
    let text = std::fs::read_to_string(corpus().join("rust-demangle-expected")).unwrap();
    let all = cases(&text);
    assert!(all.len() >= 70, "{} cases read", all.len());
    let (counts, misses) = tally(&all);
    report("rust-demangle-expected", &counts, &misses);
    let pass: usize = counts.values().map(|c| c.0).sum();
    assert!(
        pass >= FLOOR_RUST_EXPECTED,
        "{pass} passes, the floor is {FLOOR_RUST_EXPECTED}"
    );
}

#[test]
fn rustc_demangle_vectors() {
    let text = std::fs::read_to_string(corpus().join("rustc-demangle-vectors.tsv")).unwrap();
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut cols = line.split('\t');
        let (Some(mode), Some(mangled)) = (cols.next(), cols.next()) else {
            continue;
        };
        let expected = cols.next().unwrap_or("");
        let opts = Options {
            style: Style::Rust,
            rust_hash: mode == "display",
            ..Options::default()
        };
        let got = demangle::demangle_with(mangled, &opts);
        let ok = match mode {
            "error" => got.is_none(),
            _ => got.as_deref() == Some(expected),
        };
        let entry = counts.entry(mode.to_string()).or_default();
        entry.1 += 1;
        if ok {
            entry.0 += 1;
        } else {
            misses.push(format!(
                "[{mode}] {mangled}\n    want {expected}\n    got  {got:?}"
            ));
        }
    }
    report("rustc-demangle-vectors", &counts, &misses);
    let pass: usize = counts.values().map(|c| c.0).sum();
    assert!(
        pass >= FLOOR_RUSTC_VECTORS,
        "{pass} passes, the floor is {FLOOR_RUSTC_VECTORS}"
    );
}

/// Huge v0 symbols built to exhaust a demangler's recursion: they must be rejected, quickly,
/// whether handed over alone or found in a line of text.
#[test]
fn early_recursion_limit_symbols_fail_cleanly() {
    let text =
        std::fs::read_to_string(corpus().join("rustc-demangle-early-recursion-limit.txt")).unwrap();
    let symbols: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(!symbols.is_empty());
    let start = Instant::now();
    for sym in symbols {
        // The file holds them without the leading underscore, as rustc-demangle's v0 parser
        // also accepts; as they appear in a binary they start with `_R`.
        let underscored = format!("_{sym}");
        for candidate in [sym, underscored.as_str()] {
            for style in [Style::Auto, Style::Rust, Style::Cpp] {
                let opts = Options {
                    style,
                    ..Options::default()
                };
                assert_eq!(demangle::demangle_with(candidate, &opts), None, "{style:?}");
            }
        }
        let line = format!("#0  0x1 in {underscored} () from /x.so");
        assert!(demangle::demangle_text(&line, &mut |s| s).is_none());
    }
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}

/// The same gnu-v3 cases through the system's `c++filt -t -i` (binutils): how often this
/// demangler agrees with it. The tool is required, not optional.
#[test]
fn agreement_with_system_cppfilt() {
    let text = std::fs::read_to_string(corpus().join("demangle-expected")).unwrap();
    let gnu: Vec<Case> = cases(&text)
        .into_iter()
        .filter(|c| c.format == "gnu-v3" && !c.special)
        .collect();
    let out = Command::new("c++filt")
        .args(["-t", "-i", "--format=gnu-v3", "--"])
        .args(gnu.iter().map(|c| c.input.as_str()))
        .output()
        .expect("c++filt (binutils) is required: apt-get install binutils");
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), gnu.len(), "one line per symbol");
    let expected_ok = gnu
        .iter()
        .zip(&lines)
        .filter(|(c, l)| c.expected == **l)
        .count();
    let agree = gnu
        .iter()
        .zip(&lines)
        .filter(|(c, l)| ours(c, true) == **l)
        .count();
    println!(
        "c++filt -t -i: {expected_ok}/{} gnu-v3 cases as expected; dbgpipe agrees with it on {agree}",
        gnu.len()
    );
    assert!(
        agree >= FLOOR_CPPFILT_AGREEMENT,
        "{agree} agreements, the floor is {FLOOR_CPPFILT_AGREEMENT}"
    );
}
