//! `cargo xtask bench --quick` runs end to end: every job measures its rows, the cross-checks
//! agree, and the report is written under `target/` with the shape BENCHMARKS.md has.
//!
//! Nothing here looks at a time or a ratio: speed is reported by the bench, never asserted
//! by a test (a loaded CI machine would make such a test fail at random).

use std::path::Path;

use xtask::bench::report::{Figure, Role};
use xtask::bench::{self, Options};

#[test]
fn quick_bench_reports_every_job_and_leaves_benchmarks_md_alone() {
    // The tools of this package, as built for its tests: the quick mode then needs no
    // release build.
    let vg_filter = Path::new(env!("CARGO_BIN_EXE_vg-filter"));
    let bins = vg_filter.parent().expect("the binary has a directory");
    for tool in [
        env!("CARGO_BIN_EXE_bt-demangle"),
        env!("CARGO_BIN_EXE_rss-rounds"),
    ] {
        assert_eq!(Path::new(tool).parent(), Some(bins), "{tool}");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = root.join("BENCHMARKS.md");
    let before = std::fs::read(&committed).ok();

    let outcome = bench::bench(&Options {
        quick: true,
        bins: Some(bins.to_path_buf()),
        ..Options::default()
    })
    .expect("the quick bench runs");

    // Written under target/, and the generated BENCHMARKS.md is untouched.
    assert!(
        outcome.written.starts_with(root.join("target")),
        "{}",
        outcome.written.display()
    );
    assert_eq!(
        std::fs::read(&committed).ok(),
        before,
        "quick mode must not write BENCHMARKS.md"
    );

    let report = &outcome.report;
    assert!(report.quick);
    let row = |name: &str| {
        report
            .rows
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no row {name:?} in {:#?}", report.rows))
    };
    let timed = [
        ("grep -cE record headers", Role::Floor),
        ("vg-filter --project (text)", Role::Ours),
        ("vg-filter --project (XML)", Role::Ours),
        ("c++filt", Role::Peer),
        ("c++filt -i", Role::Peer),
        ("bt-demangle --no-simplify", Role::Ours),
        ("bt-demangle (simplifying)", Role::Ours),
        ("bt-demangle (text report)", Role::Ours),
        ("grep -c 'Max RSS'", Role::Floor),
        ("rss-rounds --format text (the verdict only)", Role::Ours),
    ];
    for (name, role) in timed {
        let r = row(name);
        assert_eq!(r.role, role, "{name}");
        match r.figure {
            Figure::Timed { median, runs, .. } => {
                assert!(median > 0.0 && runs == 1, "{name}: {:?}", r.figure);
            }
            ref other => panic!("{name} was not timed: {other:?}"),
        }
        assert!(!r.command.is_empty(), "{name} shows its command");
    }
    // Ratios are given against the reference of each group.
    assert_eq!(
        row("vg-filter --project (text)")
            .ratio
            .as_ref()
            .map(|r| r.1.as_str()),
        Some("grep")
    );
    assert_eq!(
        row("bt-demangle --no-simplify")
            .ratio
            .as_ref()
            .map(|r| r.1.as_str()),
        Some("c++filt")
    );
    // No PyPI in quick mode: ValgrindCI is skipped, and says why.
    match &row("ValgrindCI (XML)").figure {
        Figure::Skipped(why) => assert!(why.contains("PyPI"), "{why}"),
        other => panic!("ValgrindCI ran in quick mode: {other:?}"),
    }
    assert!(
        report
            .rows
            .iter()
            .any(|r| matches!(&r.figure, Figure::Derived(v) if v.contains("ms/round"))),
        "the harness's time per round"
    );

    // Every target is listed and measured, but the one that needs PyPI and the one that runs
    // a recipe under valgrind; whether it is met is not asserted (times vary), that it was
    // judged is.
    assert_eq!(report.targets.len(), 7, "{:#?}", report.targets);
    for t in &report.targets {
        if t.goal.contains("ValgrindCI") || t.goal.contains("memcheck recipe") {
            assert_eq!(t.met, None, "not measured in quick mode: {t:?}");
        } else {
            assert!(t.met.is_some(), "not measured: {t:?}");
        }
    }

    // Same input, same answer: every cross-check agrees (one that disagrees makes `cargo
    // xtask bench` exit 1), and each job made its checks.
    let disagreeing: Vec<_> = report.checks.iter().filter(|c| !c.agrees).collect();
    assert!(disagreeing.is_empty(), "{disagreeing:#?}");
    assert_eq!(report.checks.len(), 6, "{:#?}", report.checks);
    let counts = &report
        .checks
        .iter()
        .find(|c| c.text.starts_with("Records in the"))
        .expect("the record cross-check")
        .text;
    let after = |marker: &str| {
        let rest = counts.split_once(marker)?.1;
        let n: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .collect();
        (!n.is_empty()).then_some(n)
    };
    let grep = after("grep counts ");
    assert!(grep.is_some(), "{counts}");
    assert_eq!(grep, after("vg-filter reads "), "{counts}");
    assert_eq!(grep, after("records from the text and "), "{counts}");

    // The report has the sections of BENCHMARKS.md, and says it is generated.
    let md = std::fs::read_to_string(&outcome.written).expect("the report was written");
    for heading in [
        "# Benchmarks",
        "## Targets",
        "## Results",
        "### vg-filter:",
        "### bt-demangle:",
        "### rss-rounds:",
        "## Same input, same answer",
        "## Inputs",
        "## Method",
        "## What limits each figure",
        "## Left out",
        "## Machine",
        "## Tool versions",
    ] {
        assert!(md.contains(heading), "no {heading:?} in\n{md}");
    }
    assert!(
        md.contains("generated by `cargo xtask bench --quick`"),
        "{md}"
    );
    assert!(md.contains("| tool |  | median |"), "{md}");

    // The terminal table: a header, one block per group, the targets.
    let table = report.table();
    assert!(table.lines().next().is_some_and(|l| l.starts_with("tool")));
    assert!(
        table.contains("== vg-filter:") && table.contains("targets:"),
        "{table}"
    );
}
