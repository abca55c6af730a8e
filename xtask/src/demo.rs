//! `cargo xtask demo`: every recipe on the bundled example, as a self-check.
//!
//! Exits 0 only when each step ran and found exactly what the example plants (see
//! examples/dbgpipe_example/README.md) and nothing in its clean entry point.

use std::process::ExitCode;

use crate::memcheck::{self, Options};

/// What Memcheck must find in `run.py all-defects`: (kind, project function).
pub const PLANTED_MEMCHECK: &[(&str, &str)] = &[
    ("Leak_DefinitelyLost", "leak_definite"),
    ("Leak_DefinitelyLost", "leak_indirect"),
    ("Leak_IndirectlyLost", "leak_indirect"),
    ("Leak_PossiblyLost", "leak_possible"),
    ("InvalidRead", "invalid_read"),
    ("UninitCondition", "uninit_branch"),
    ("InvalidFree", "invalid_free"),
    ("Leak_StillReachable", "refleak"),
];

/// Checks a Memcheck outcome against the plan; returns what is wrong.
pub fn check_memcheck(defects: &memcheck::Outcome, clean: &memcheck::Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let found: Vec<(String, String)> = defects
        .records
        .iter()
        .map(|r| {
            let f = r["project_frame"]["fn"].as_str().unwrap_or("").to_string();
            (r["kind"].as_str().unwrap_or("").to_string(), f)
        })
        .collect();
    for (kind, func) in PLANTED_MEMCHECK {
        if !found.iter().any(|(k, f)| k == kind && f == func) {
            problems.push(format!("memcheck missed {kind} in {func}"));
        }
    }
    for (kind, func) in &found {
        if !PLANTED_MEMCHECK.iter().any(|(k, f)| k == kind && f == func) {
            problems.push(format!("memcheck reported an unplanted {kind} in {func}"));
        }
    }
    if !clean.records.is_empty() {
        problems.push(format!(
            "memcheck kept {} records of the clean function",
            clean.records.len()
        ));
    }
    problems
}

/// `cargo xtask demo`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(a) = args.first() {
        if a == "-h" || a == "--help" {
            println!("usage: cargo xtask demo\n\nRuns every recipe on the bundled example and checks that each finds exactly\nwhat the example plants. Exit status 0 when all do, 1 otherwise.");
            return Ok(ExitCode::SUCCESS);
        }
        return Err(crate::UsageError(format!("unexpected argument `{a}`")).into());
    }
    println!("== memcheck: the planted memory errors");
    let defects = memcheck::memcheck(&Options::default())?;
    print!("{}", memcheck::report(&defects));
    println!("== memcheck: the clean function");
    let clean = memcheck::memcheck(&Options {
        example_args: vec!["clean".into()],
        task: "memcheck-clean".into(),
        ..Options::default()
    })?;
    print!("{}", memcheck::report(&clean));

    let problems = check_memcheck(&defects, &clean);
    if problems.is_empty() {
        println!("demo: OK, every step found exactly what the example plants");
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            println!("demo: FAIL: {p}");
        }
        Ok(ExitCode::from(1))
    }
}
