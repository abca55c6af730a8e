//! `cargo xtask demo`: every recipe on the bundled example, as a self-check.
//!
//! Exits 0 only when each step ran and found exactly what the example plants (see
//! examples/dbgpipe_example/README.md) and nothing in its clean entry point:
//!
//! - memcheck: the eight planted records, nothing else; nothing for `clean`;
//! - refs: `refleak` leaks references, `clean` does not;
//! - rss: `leak_definite` grows the RSS, `clean` does not;
//! - memray: `leak_definite` is the project's only leaking native function, and the
//!   flamegraph names it; `clean` leaks nothing of the project's;
//! - segv: `crash_null` dies in `dbgpipe_store` with the same signature in two runs (and the
//!   C++ example's `crash_map` in `dbgpipe::insert`, where it can be built); `clean` does not
//!   crash;
//! - suppressions: the shipped baseline hid every interpreter record of both memcheck runs,
//!   and a baseline generated afresh from the clean run's logs (into `target/`, not over the
//!   shipped file) hides the defects run's interpreter records and none of the planted ones.
//!
//! A step that cannot run is reported in its row and the others still run; the table at the
//! end says what each found and how long it took.

use std::process::Command;
use std::time::Instant;

use anyhow::Context;

use crate::flags;
use crate::memcheck;
use crate::memray;
use crate::place::PlaceOpts;
use crate::records::{self, Verdict, VgFilter};
use crate::refs;
use crate::rss;
use crate::segv;
use crate::suppressions;
use crate::tools;
use crate::{Status, Workspace};
use dbgpipe_core::rounds::trend::fmt_signed;

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
    // A record without a named project frame matches no plant: it is reported as `?`.
    let found: Vec<(String, String)> = defects
        .records
        .iter()
        .map(|r| {
            let f = r.project_function().unwrap_or("?").to_string();
            (r.kind.clone(), f)
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

/// Checks the baselines on the memcheck runs' logs: the shipped file (which memcheck applied)
/// hid every interpreter record of both runs; a file generated now from the clean run's logs
/// hides every interpreter record of the defects run and none of the planted records.
/// Returns what was found and what is wrong.
pub fn check_suppressions(
    defects: &memcheck::Outcome,
    clean: &memcheck::Outcome,
) -> anyhow::Result<(String, Vec<String>)> {
    let mut problems = Vec::new();
    for (name, run) in [("the defects run", defects), ("clean", clean)] {
        let left = run.summary.not_project;
        if left > 0 {
            problems.push(format!(
                "the shipped baseline left {left} interpreter records of {name} unsuppressed"
            ));
        }
    }
    let vg_filter = tools::bin("vg-filter")?;
    let dir = Workspace::checkout().recipe_dir("suppressions-demo")?;
    let generated = dir.join("generated.supp");
    let status = Command::new(&vg_filter)
        .arg(format!("--gen-suppressions={}", generated.display()))
        .arg("--supp-name=demo")
        .args(&clean.logs)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running vg-filter --gen-suppressions")?;
    if !matches!(status.code(), Some(0 | 1)) {
        anyhow::bail!("vg-filter --gen-suppressions failed with {status}");
    }
    let entries = std::fs::read_to_string(&generated)
        .with_context(|| format!("reading {}", generated.display()))?
        .lines()
        .filter(|l| l.trim() == "{")
        .count();
    let output = Command::new(&vg_filter)
        .arg("--project")
        .arg("--root")
        .arg(crate::example::repo_root())
        .arg("--suppressions")
        .arg(&generated)
        .args(&defects.logs)
        .output()
        .context("running vg-filter with the generated baseline")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let summary = records::parse::<VgFilter>(
        "vg-filter's output (the generated baseline on the defects run)",
        &text,
    )?
    .summary;
    let (kept, left, suppressed) = (summary.kept, summary.not_project, summary.suppressed);
    let kept_before = defects.summary.kept;
    if kept != kept_before {
        problems.push(format!(
            "the generated baseline changed the project's records: {kept} kept, {kept_before} \
             with the shipped one"
        ));
    }
    if left > 0 {
        problems.push(format!(
            "the generated baseline left {left} interpreter records of the defects run"
        ));
    }
    if entries == 0 {
        problems.push("the generated baseline is empty".into());
    }
    // memcheck chose the baseline from the interpreter its logs name: the shipped one.
    let shipped = match &defects.baseline {
        Some(b) if b.origin == suppressions::Origin::Shipped => format!(
            "the shipped {}",
            b.path.file_name().unwrap_or_default().to_string_lossy()
        ),
        other => {
            problems.push(format!(
                "memcheck applied no shipped baseline for the example's interpreter ({other:?})"
            ));
            "no shipped file".into()
        }
    };
    let found = format!(
        "{shipped} hid all interpreter records; regenerated from clean: {entries} entries, \
         hide {suppressed} of {} and keep the {kept} planted",
        suppressed + left
    );
    Ok((found, problems))
}

/// Checks the refs recipe: `refleak` leaks references, `clean` nothing.
pub fn check_refs(o: &refs::Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    match o.get("refleak") {
        None => problems.push("refs did not judge refleak".into()),
        Some(j) => {
            let refs_leak = j.series("refs").is_some_and(|v| v.verdict == Verdict::Leak);
            if !j.leaks() || !refs_leak {
                problems.push("refs did not find refleak's reference leak".into());
            }
        }
    }
    match o.get("clean") {
        None => problems.push("refs did not judge clean".into()),
        Some(j) if j.leaks() => problems.push("refs judged clean leaking".into()),
        Some(_) => {}
    }
    problems
}

/// Checks the rss recipe: `leak_definite` grows, `clean` does not.
pub fn check_rss(o: &rss::Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    match o.get("leak_definite") {
        Some(w) if w.leaks() => {}
        Some(_) => problems.push("rss did not find leak_definite growing".into()),
        None => problems.push("rss did not watch leak_definite".into()),
    }
    match o.get("clean") {
        Some(w) if w.leaks() => problems.push("rss judged clean leaking".into()),
        Some(_) => {}
        None => problems.push("rss did not watch clean".into()),
    }
    problems
}

/// Checks the memray recipe: `leak_definite` is the only leaking project function and its
/// flamegraph names it; `clean` leaks nothing of the project's.
pub fn check_memray(o: &memray::Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    match o.get("leak_definite") {
        None => problems.push("memray did not run leak_definite".into()),
        Some(c) => {
            let functions: Vec<&str> = c.project_sites().map(|s| s.function.as_str()).collect();
            if functions != ["leak_definite"] {
                problems.push(format!(
                    "memray's leaking project functions are {functions:?}, not [\"leak_definite\"]"
                ));
            }
            match memray::flamegraph_strings(&c.html) {
                Ok(strings) if strings.iter().any(|s| s == "leak_definite") => {}
                Ok(_) => problems.push(format!("{} does not name leak_definite", c.html.display())),
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
    }
    match o.get("clean") {
        None => problems.push("memray did not run clean".into()),
        Some(c) if c.leaks() => problems.push("memray found clean leaking".into()),
        Some(_) => {}
    }
    problems
}

/// Checks the segv recipe: two runs crash in `dbgpipe_store` (and `dbgpipe::insert`) with the
/// same signatures; `clean` does not crash.
pub fn check_segv(
    first: &segv::Outcome,
    second: &segv::Outcome,
    clean: &segv::Outcome,
) -> Vec<String> {
    let mut problems = Vec::new();
    let expected = [
        ("crash_null", "dbgpipe_store"),
        ("crash_map", "dbgpipe::insert"),
    ];
    for (name, function) in expected {
        let Some(a) = first.get(name) else {
            if name == "crash_null" {
                problems.push("segv did not run crash_null".into());
            }
            // crash_map needs a C++ compiler; its absence is reported in the step's row.
            continue;
        };
        if a.project_function() != Some(function) {
            problems.push(format!(
                "segv: {name} crashed in {:?}, not in {function}",
                a.project_function()
            ));
        }
        let again = second.get(name).and_then(segv::Run::signature);
        if a.signature().is_none() || a.signature() != again {
            problems.push(format!(
                "segv: {name}'s signature changed between runs ({:?}, then {again:?})",
                a.signature()
            ));
        }
    }
    for r in first.runs.iter().chain(&second.runs).chain(&clean.runs) {
        if r.refused.is_some() {
            problems.push(format!("segv: gdb was refused ptrace on {}", r.name));
        }
    }
    if clean.runs.iter().any(|r| r.crash.is_some()) {
        problems.push("segv: clean crashed".into());
    }
    problems
}

/// Options of the demo: where the recipes run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--host`, `--image TAG`, or neither (each recipe decides).
    pub place: PlaceOpts,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Step {
    /// The recipe.
    pub name: &'static str,
    /// Where it ran (`host`, `image TAG`), or `-`.
    pub place: String,
    /// What it found, in a few words.
    pub found: String,
    /// What is not as planted; empty when the step is right.
    pub problems: Vec<String>,
    /// Whether the step could not run at all.
    pub failed: bool,
    /// Wall time.
    pub seconds: f64,
}

/// Every step's row.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// In the order they ran.
    pub steps: Vec<Step>,
    /// Wall time of the whole demo.
    pub seconds: f64,
}

impl Outcome {
    /// Whether every step found exactly what the example plants.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.problems.is_empty())
    }

    /// Clean when every step is right, could not run when a step could not, else findings.
    pub fn status(&self) -> Status {
        if self.ok() {
            Status::Clean
        } else if self.steps.iter().any(|s| s.failed) {
            Status::CouldNotRun
        } else {
            Status::Findings
        }
    }

    /// The table printed at the end.
    pub fn table(&self) -> String {
        let place_width = self
            .steps
            .iter()
            .map(|s| s.place.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let mut t = format!(
            "{:<13} {:<place_width$} {:>6}  {:<4}  found\n",
            "step", "where", "time", "ok"
        );
        for s in &self.steps {
            let verdict = if s.problems.is_empty() { "ok" } else { "FAIL" };
            t.push_str(&format!(
                "{:<13} {:<place_width$} {:>5.1}s  {verdict:<4}  {}\n",
                s.name, s.place, s.seconds, s.found
            ));
        }
        t
    }
}

/// Runs one step: `body` returns (place, found, problems) or fails, which becomes the row.
fn step(
    name: &'static str,
    steps: &mut Vec<Step>,
    body: impl FnOnce() -> anyhow::Result<(String, String, Vec<String>)>,
) {
    println!("== {name}");
    let start = Instant::now();
    let row = match body() {
        Ok((place, found, problems)) => Step {
            name,
            place,
            found,
            problems,
            failed: false,
            seconds: 0.0,
        },
        Err(error) => {
            let why = format!("{error:#}");
            println!("{name}: could not run: {why}");
            Step {
                name,
                place: "-".into(),
                found: format!("could not run: {why}"),
                problems: vec![why],
                failed: true,
                seconds: 0.0,
            }
        }
    };
    steps.push(Step {
        seconds: start.elapsed().as_secs_f64(),
        ..row
    });
}

/// Runs every recipe on the example and checks each.
pub fn demo(opts: &Options) -> Outcome {
    let start = Instant::now();
    let mut steps = Vec::new();
    let place = &opts.place;

    // The memcheck runs, for the suppressions step.
    let mut memcheck_runs = None;
    step("memcheck", &mut steps, || {
        let defects = memcheck::memcheck(&memcheck::Options {
            place: place.clone(),
            ..memcheck::Options::default()
        })?;
        print!("{}", memcheck::report(&defects));
        let clean = memcheck::memcheck(&memcheck::Options {
            example_args: vec!["clean".into()],
            task: "memcheck-clean".into(),
            place: place.clone(),
            ..memcheck::Options::default()
        })?;
        print!("{}", memcheck::report(&clean));
        let found = format!(
            "{} records in the example's code, {} of {} interpreter records suppressed; clean: {}",
            defects.records.len(),
            defects.summary.suppressed,
            defects.summary.suppressed + defects.summary.not_project,
            clean.records.len()
        );
        let problems = check_memcheck(&defects, &clean);
        let place = defects.place.clone();
        memcheck_runs = Some((defects, clean));
        Ok((place, found, problems))
    });

    step("refs", &mut steps, || {
        let o = refs::refs(&refs::Options {
            place: place.clone(),
            ..refs::Options::default()
        })?;
        print!("{}", refs::report(&o));
        let verdict = |name: &str| match o.get(name) {
            Some(j) if j.leaks() => match j.series("refs").and_then(|v| v.growth_per_round) {
                Some(growth) => format!("{name} leaks ({} refs/round)", fmt_signed(growth)),
                None => format!("{name} leaks (refs: no growth estimated)"),
            },
            Some(_) => format!("{name} does not leak"),
            None => format!("{name} not judged"),
        };
        let found = format!("{}; {}", verdict("refleak"), verdict("clean"));
        Ok((o.place.clone(), found, check_refs(&o)))
    });

    step("rss", &mut steps, || {
        let o = rss::rss(&rss::Options {
            place: place.clone(),
            ..rss::Options::default()
        })?;
        print!("{}", rss::report(&o));
        let verdict = |name: &str| match o.get(name) {
            Some(w) if w.leaks() => match w.series("rss_mib").and_then(|v| v.growth_per_round) {
                Some(growth) => format!("{name} grows ({} MiB/round)", fmt_signed(growth)),
                None => format!("{name} grows (rss_mib: no growth estimated)"),
            },
            Some(_) => format!("{name} flat"),
            None => format!("{name} not watched"),
        };
        let found = format!("{}; {}", verdict("leak_definite"), verdict("clean"));
        Ok((o.place.clone(), found, check_rss(&o)))
    });

    step("memray", &mut steps, || {
        let o = memray::memray(&memray::Options {
            place: place.clone(),
            ..memray::Options::default()
        })?;
        print!("{}", memray::report(&o));
        let verdict = |name: &str| match o.get(name) {
            Some(c) if c.leaks() => {
                let functions: Vec<&str> = c.project_sites().map(|s| s.function.as_str()).collect();
                format!(
                    "{name}: {} leaks {} B",
                    functions.join(", "),
                    c.summary.project_bytes
                )
            }
            Some(_) => format!("{name}: no project leak"),
            None => format!("{name} not run"),
        };
        let found = format!(
            "{} (in the flamegraph); {}",
            verdict("leak_definite"),
            verdict("clean")
        );
        Ok((o.place.clone(), found, check_memray(&o)))
    });

    step("segv", &mut steps, || {
        let options = segv::Options {
            place: place.clone(),
            ..segv::Options::default()
        };
        let first = segv::segv(&options)?;
        print!("{}", segv::report(&first));
        let second = segv::segv(&segv::Options {
            task: "segv-again".into(),
            ..options.clone()
        })?;
        let clean = segv::segv(&segv::Options {
            task: "segv-clean".into(),
            example_functions: vec!["clean".into()],
            ..options
        })?;
        let mut found: Vec<String> = first
            .runs
            .iter()
            .map(|r| {
                format!(
                    "{} in {} ({}, same twice: {})",
                    r.name,
                    r.project_function().unwrap_or("?"),
                    r.signature().unwrap_or("no signature"),
                    if second.get(&r.name).and_then(segv::Run::signature) == r.signature() {
                        "yes"
                    } else {
                        "NO"
                    }
                )
            })
            .collect();
        found.extend(first.skipped.iter().map(|s| format!("left out {s}")));
        found.push(format!(
            "clean: {}",
            if clean.runs.iter().any(|r| r.crash.is_some()) {
                "crash"
            } else {
                "no crash"
            }
        ));
        Ok((
            first.place.clone(),
            found.join("; "),
            check_segv(&first, &second, &clean),
        ))
    });

    step("suppressions", &mut steps, || {
        let (defects, clean) = memcheck_runs
            .as_ref()
            .context("memcheck did not run, so there are no logs to check the baseline on")?;
        let (found, problems) = check_suppressions(defects, clean)?;
        Ok(("host".into(), found, problems))
    });

    Outcome {
        steps,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// `cargo xtask demo`.
pub fn run(flags: flags::Demo) -> anyhow::Result<Status> {
    let o = demo(&Options { place: flags.place });
    let mut out = format!("\n{}\n", o.table());
    if o.ok() {
        out.push_str(&format!(
            "demo: OK, every step found exactly what the example plants ({:.0} s)\n",
            o.seconds
        ));
    } else {
        for s in &o.steps {
            for p in &s.problems {
                out.push_str(&format!("demo: FAIL: {}: {p}\n", s.name));
            }
        }
    }
    tools::print(&out)?;
    Ok(o.status())
}
