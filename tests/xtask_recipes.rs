//! The `cargo xtask` recipes on the bundled example, end to end: each test calls the xtask
//! library (as `cargo xtask TASK` does, without going through cargo) with `--host`, and then
//! reads the tools' JSON output the recipe left in `target/dbgpipe/<task>/`.
//!
//! They need valgrind, gdb, python3.11-dbg, python3.11 with python3.11-dev and -venv, a C and
//! a C++ compiler, and PyPI (memray is installed into `target/dbgpipe/venv` on first use);
//! `.ci/run` provides them. A missing one fails the test with the recipe's one-line error.
//! The last test runs a recipe inside the debug image (docker and the image of
//! `tests/image_fixture.rs`).
//!
//! The recipes write into the same `target/dbgpipe/<task>/` directories (which each run
//! empties first), so the tests take turns.

#[path = "image_fixture.rs"]
mod image_fixture;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use xtask::place::PlaceOpts;
use xtask::records::{self, VgFilter, VgSummary};
use xtask::{demo, massif, memcheck, memray, refs, rss, segv, Status};

/// One recipe at a time: they share `target/dbgpipe/`.
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    xtask::build_tools().expect("building the tools");
    // A failed test poisons the lock; the others still run.
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `--host`: on CI the tools are here, and a missing one must fail the test, not send the
/// recipe into the image.
fn host() -> PlaceOpts {
    PlaceOpts {
        host: true,
        image: None,
    }
}

fn out_dir(task: &str) -> PathBuf {
    xtask::example::repo_root()
        .join("target")
        .join("dbgpipe")
        .join(task)
}

fn jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the recipe left no {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

fn summary(records: &[Value]) -> &Value {
    records
        .last()
        .filter(|r| r["type"] == "summary")
        .expect("the output ends with a summary")
}

#[test]
fn memcheck_keeps_the_examples_records_and_no_interpreter_record() {
    let _turn = turn();
    let outcome = memcheck::memcheck(&memcheck::Options {
        place: host(),
        ..memcheck::Options::default()
    })
    .expect("cargo xtask memcheck");
    assert_eq!(outcome.status, Status::Findings, "findings give status 1");

    let records = jsonl(&out_dir("memcheck").join("records.jsonl"));
    let errors = of_type(&records, "error");
    let found: BTreeSet<(String, String)> = errors
        .iter()
        .map(|r| {
            let frame = &r["project_frame"];
            let file = frame["file"].as_str().unwrap_or_default();
            assert!(
                file.ends_with("examples/dbgpipe_example/dbgpipe_example.c"),
                "a kept record's project frame is not the example's: {r}"
            );
            (
                r["kind"].as_str().unwrap_or_default().to_string(),
                frame["function"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let planted: BTreeSet<(String, String)> = demo::PLANTED_MEMCHECK
        .iter()
        .map(|(k, f)| (k.to_string(), f.to_string()))
        .collect();
    assert_eq!(found, planted);
    let s = summary(&records);
    assert_eq!(s["kept"], 8, "{s}");
    // Every interpreter record is suppressed by the shipped baseline: none is kept, none is
    // left over as "elsewhere".
    assert_eq!(s["not_project"], 0, "{s}");
    assert!(s["suppressed"].as_u64().unwrap_or(0) > 0, "{s}");
    let logs = std::fs::read_dir(out_dir("memcheck"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("vg."))
        .count();
    assert!(logs >= 1, "no per-process log vg.<pid>.log");
}

#[test]
fn refs_flags_refleak_and_not_clean() {
    let _turn = turn();
    let outcome = refs::refs(&refs::Options {
        place: host(),
        ..refs::Options::default()
    })
    .expect("cargo xtask refs");
    assert_eq!(outcome.status(), Status::Findings);

    let dir = out_dir("refs");
    let leaky = jsonl(&dir.join("dbgpipe_example.refleak.jsonl"));
    assert_eq!(summary(&leaky)["verdict"], "leak", "{}", summary(&leaky));
    let refs_verdict = of_type(&leaky, "verdict")
        .into_iter()
        .find(|v| v["series"] == "refs")
        .expect("a verdict on the refs series");
    assert_eq!(refs_verdict["verdict"], "leak");
    assert_eq!(refs_verdict["growth_per_round"], 1.0, "{refs_verdict}");

    let clean = jsonl(&dir.join("dbgpipe_example.clean.jsonl"));
    assert_eq!(summary(&clean)["verdict"], "no_leak", "{}", summary(&clean));
    assert!(of_type(&clean, "verdict")
        .iter()
        .all(|v| v["verdict"] == "no_leak"));
}

#[test]
fn rss_flags_leak_definite_and_not_clean() {
    let _turn = turn();
    let outcome = rss::rss(&rss::Options {
        place: host(),
        ..rss::Options::default()
    })
    .expect("cargo xtask rss");
    assert_eq!(outcome.status(), Status::Findings);

    let dir = out_dir("rss");
    let leaky = jsonl(&dir.join("leak_definite.jsonl"));
    assert_eq!(summary(&leaky)["verdict"], "leak", "{}", summary(&leaky));
    let growth = of_type(&leaky, "verdict")
        .into_iter()
        .find(|v| v["series"] == "rss_mib")
        .and_then(|v| v["growth_per_round"].as_f64())
        .expect("a verdict on rss_mib");
    // 2000 blocks of 64 bytes (80 with malloc's header) a round: 0.15 MiB.
    assert!((0.1..0.2).contains(&growth), "{growth} MiB/round");
    let clean = jsonl(&dir.join("clean.jsonl"));
    assert_eq!(summary(&clean)["verdict"], "no_leak", "{}", summary(&clean));
    for name in ["leak_definite", "clean"] {
        let plot = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        assert!(plot.contains("<svg"), "{name}.svg is not an SVG");
    }
}

/// The massif recipe on the example: leak_definite called once a round loses 64 bytes a
/// round, named at its allocation site; clean grows nowhere.
#[test]
fn massif_names_the_64_byte_leak_and_passes_clean() {
    let _turn = turn();
    let outcome = massif::massif(&massif::Options {
        place: host(),
        ..massif::Options::default()
    })
    .expect("cargo xtask massif");
    assert_eq!(outcome.status(), Status::Findings);
    let leaky = outcome.get("leak_definite").expect("leak_definite was run");
    assert!(leaky.leaks());
    let site = &leaky.sites[0];
    assert_eq!(leaky.sites.len(), 1, "{:?}", leaky.sites);
    assert_eq!(
        site.frame().unwrap().function.as_deref(),
        Some("leak_definite")
    );
    assert_eq!(site.frame().unwrap().class, "project");
    assert_eq!(site.growth_per_round, 64.0);
    let clean = outcome.get("clean").expect("clean was run");
    assert!(!clean.leaks() && clean.sites.is_empty(), "{clean:?}");
    let report = massif::report(&outcome);
    assert!(
        report.contains("LEAK     leak_definite (dbgpipe_example.c:50) +64 B/round"),
        "{report}"
    );
    for j in &outcome.judged {
        let plot = std::fs::read_to_string(&j.plot).unwrap();
        assert!(plot.contains("<svg"), "{}", j.plot.display());
        // ms_print reads the combined file.
        let ms = std::process::Command::new("ms_print")
            .arg(&j.massif)
            .output()
            .unwrap();
        assert!(
            ms.status.success(),
            "{}",
            String::from_utf8_lossy(&ms.stderr)
        );
        assert!(String::from_utf8_lossy(&ms.stdout).contains("Number of snapshots: 200"));
    }
}

/// The same leak, 64 bytes a round, under the rss recipe: RSS moves by pages and the
/// allocator keeps its own reserve, so it is not seen; this is what massif is for.
#[test]
fn rss_does_not_see_a_64_byte_leak_a_round() {
    let _turn = turn();
    let python = xtask::example::debug_python().expect("python3.11-dbg");
    let built = xtask::example::build(&python, &out_dir("rss-small-example")).unwrap();
    let driver = xtask::example::source_dir().join("rounds.py");
    let outcome = rss::rss(&rss::Options {
        place: host(),
        command: vec![
            "env".into(),
            format!("DBGPIPE_EXAMPLE_DIR={}", built.dir.display()),
            python.display().to_string(),
            driver.display().to_string(),
            "leak_definite".into(),
            "--rounds".into(),
            "200".into(),
            "--calls".into(),
            "1".into(),
        ],
        task: "rss-small".into(),
        ..rss::Options::default()
    })
    .expect("cargo xtask rss -- rounds.py leak_definite --calls 1");
    let run = outcome.get("command").expect("the command ran");
    assert_ne!(
        run.summary.verdict,
        records::Verdict::Leak,
        "{:?}",
        run.verdicts
    );
    assert!(run.series("max_rss_mib").is_some(), "{:?}", run.verdicts);
}

#[test]
fn memray_leaves_a_flamegraph_naming_the_leaking_function() {
    let _turn = turn();
    let outcome = memray::memray(&memray::Options {
        place: host(),
        ..memray::Options::default()
    })
    .expect("cargo xtask memray");
    assert_eq!(outcome.status(), Status::Findings);

    let dir = out_dir("memray");
    let html = dir.join("leak_definite.html");
    let strings = memray::flamegraph_strings(&html).expect("the flamegraph's data");
    assert!(
        strings.iter().any(|s| s == "leak_definite"),
        "{} does not name leak_definite",
        html.display()
    );

    let leaks = jsonl(&dir.join("leak_definite.leaks.jsonl"));
    let project: Vec<&Value> = of_type(&leaks, "leak")
        .into_iter()
        .filter(|l| l["project"] == true)
        .collect();
    assert_eq!(project.len(), 1, "{project:?}");
    assert_eq!(project[0]["function"], "leak_definite");
    // run.py leak_definite --rounds 100: 100 blocks of 64 bytes, never freed.
    assert_eq!(project[0]["allocations"], 100, "{}", project[0]);
    assert_eq!(project[0]["bytes"], 6400, "{}", project[0]);
    assert_eq!(
        summary(&leaks)["project_functions"],
        serde_json::json!(["leak_definite"])
    );

    let clean = jsonl(&dir.join("clean.leaks.jsonl"));
    assert_eq!(summary(&clean)["project_sites"], 0, "{}", summary(&clean));
    assert!(dir.join("clean.html").is_file());
}

/// The crash records of a segv run, by name.
fn crashes(task: &str) -> Vec<(String, Value)> {
    ["crash_null", "crash_map"]
        .iter()
        .map(|name| {
            let records = jsonl(&out_dir(task).join(format!("{name}.jsonl")));
            let crash = of_type(&records, "crash")
                .first()
                .map(|c| (*c).clone())
                .unwrap_or_else(|| panic!("{name}: no crash record"));
            (name.to_string(), crash)
        })
        .collect()
}

#[test]
fn segv_signature_is_stable_across_two_runs() {
    let _turn = turn();
    let options = segv::Options {
        place: host(),
        ..segv::Options::default()
    };
    let first = segv::segv(&options).expect("cargo xtask segv");
    assert_eq!(first.status(), Status::Findings);
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);
    let before = crashes("segv");
    let (_, null) = &before[0];
    assert_eq!(null["signal"], "SIGSEGV");
    assert_eq!(null["top_frame"]["function"], "dbgpipe_store");
    assert_eq!(null["signature_functions"][1], "crash_null");
    let (_, map) = &before[1];
    assert_eq!(map["project_frame"]["function"], "dbgpipe::insert");

    segv::segv(&options).expect("cargo xtask segv, again");
    let after = crashes("segv");
    for ((name, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a["signature"], b["signature"], "{name}'s signature changed");
        assert_eq!(a["signature"].as_str().map(str::len), Some(16), "{a}");
    }
    let ptrace = jsonl(&out_dir("segv").join("crash_null.ptrace.jsonl"));
    assert_eq!(summary(&ptrace)["blocking"], 0);
}

#[test]
fn demo_exits_0_and_would_fail_on_a_missed_defect() {
    let _turn = turn();
    let outcome = demo::demo(&demo::Options { place: host() });
    let table = outcome.table();
    assert!(outcome.ok(), "{table}\n{:?}", outcome.steps);
    assert_eq!(outcome.status(), Status::Clean);
    let names: Vec<&str> = outcome.steps.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        ["memcheck", "refs", "rss", "memray", "segv", "suppressions"],
        "{table}"
    );

    // The checks are what makes the demo fail: the real records of its memcheck run, less
    // one planted defect, or plus one that is not planted, are each a problem, and a step
    // with a problem makes the demo exit 1.
    let records = records::read::<VgFilter>(&out_dir("memcheck").join("records.jsonl"))
        .expect("xtask reads vg-filter's records")
        .records;
    let run = |records: Vec<records::VgError>| memcheck::Outcome {
        dir: out_dir("memcheck"),
        logs: Vec::new(),
        jsonl: PathBuf::new(),
        records,
        summary: VgSummary::default(),
        status: Status::Findings,
        place: "host".into(),
        interpreter: None,
        suppressions: Vec::new(),
        baseline: None,
        notes: Vec::new(),
        valgrind_time: std::time::Duration::ZERO,
        vg_filter_args: Vec::new(),
    };
    let clean = run(Vec::new());
    assert_eq!(
        demo::check_memcheck(&run(records.clone()), &clean),
        Vec::<String>::new()
    );
    let missed = demo::check_memcheck(&run(records[1..].to_vec()), &clean);
    assert_eq!(missed.len(), 1, "{missed:?}");
    assert!(missed[0].starts_with("memcheck missed"), "{missed:?}");
    let mut extra = records.clone();
    let mut stranger = records[0].clone();
    stranger
        .project_frame
        .as_mut()
        .expect("a project frame")
        .function = Some("not_planted".into());
    extra.push(stranger);
    let unplanted = demo::check_memcheck(&run(extra), &clean);
    assert!(unplanted[0].contains("unplanted"), "{unplanted:?}");
    let unclean = run(vec![records[0].clone()]);
    assert!(!demo::check_memcheck(&run(records), &unclean).is_empty());

    let mut failing = outcome.clone();
    failing.steps[0].problems = missed;
    assert!(!failing.ok());
    assert_eq!(failing.status(), Status::Findings);
    assert!(failing.table().contains("FAIL"), "{}", failing.table());
}

#[test]
fn segv_in_the_image_gives_the_hosts_signature() {
    let _turn = turn();
    let tag = image_fixture::images().tag().to_string();
    let inside = segv::segv(&segv::Options {
        place: PlaceOpts {
            host: false,
            image: Some(tag.clone()),
        },
        example_functions: vec!["crash_null".into()],
        task: "segv-image".into(),
        ..segv::Options::default()
    })
    .expect("cargo xtask segv --image");
    assert_eq!(inside.place, format!("image {tag}"));
    let run = inside.get("crash_null").expect("crash_null ran");
    assert!(run.refused.is_none(), "{:?}", run.refused);
    assert_eq!(run.top_function(), Some("dbgpipe_store"));

    let here = segv::segv(&segv::Options {
        place: host(),
        example_functions: vec!["crash_null".into()],
        task: "segv-host".into(),
        ..segv::Options::default()
    })
    .expect("cargo xtask segv --host");
    // Names only, and the checkout is mounted at its own path: the same crash, the same
    // signature, wherever gdb ran.
    assert_eq!(
        run.signature(),
        here.get("crash_null").and_then(segv::Run::signature)
    );
}

#[test]
fn segv_explains_a_refused_gdb_with_ptrace_fix() {
    let _turn = turn();
    // What gdb prints where ptrace is refused (a container without SYS_PTRACE, seccomp, Yama
    // 3): a stand-in, since this machine allows it.
    let gdb = Path::new(env!("CARGO_TARGET_TMPDIR")).join("refused-gdb");
    std::fs::write(
        &gdb,
        "#!/bin/sh\n\
         echo 'warning: Error disabling address space randomization: Operation not permitted' >&2\n\
         echo 'Could not trace the inferior process.' >&2\n\
         echo 'warning: ptrace: Operation not permitted' >&2\n\
         echo 'During startup program exited with code 127.' >&2\n\
         exit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gdb, std::fs::Permissions::from_mode(0o755)).unwrap();

    let outcome = segv::segv(&segv::Options {
        place: host(),
        gdb,
        task: "segv-refused".into(),
        ..segv::Options::default()
    })
    .expect("cargo xtask segv --gdb refused-gdb");
    assert_eq!(
        outcome.status(),
        Status::CouldNotRun,
        "a refused gdb is `could not run`"
    );
    assert_eq!(outcome.runs.len(), 1, "one diagnosis is enough");
    let run = &outcome.runs[0];
    assert!(run.crash.is_none());
    let why = run.refused.as_deref().expect("ptrace-fix's diagnosis");
    assert!(why.contains("cause:") && why.contains("fix:"), "{why}");
    let ptrace = jsonl(&out_dir("segv-refused").join("crash_null.ptrace.jsonl"));
    assert_eq!(summary(&ptrace)["blocking"], 2, "{}", summary(&ptrace));
    let report = segv::report(&outcome);
    assert!(report.contains("gdb could not trace it"), "{report}");
}

#[test]
fn segv_root_decides_which_frames_are_the_projects() {
    let _turn = turn();
    // The example's sources lie in the checkout, not under this root: no frame is the
    // project's, so the crash has no project frame, and frame #0 is still dbgpipe_store.
    let elsewhere = segv::segv(&segv::Options {
        place: host(),
        example_functions: vec!["crash_null".into()],
        root: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR"))),
        task: "segv-root".into(),
        ..segv::Options::default()
    })
    .expect("cargo xtask segv --root elsewhere");
    let run = elsewhere.get("crash_null").expect("crash_null ran");
    assert_eq!(run.top_function(), Some("dbgpipe_store"));
    assert_eq!(run.project_function(), None, "{:?}", run.crash);
    let text = std::fs::read_to_string(out_dir("segv-root").join("crash_null.txt")).unwrap();
    assert!(!text.contains("<- project"), "{text}");
}
