//! vg-filter on real Valgrind runs of the bundled example extension (see
//! examples/dbgpipe_example/README.md), and on bad input.
//!
//! The example is built against the debug interpreter's headers and run under real
//! Memcheck, in text and XML mode, once per test process. These tests need valgrind and
//! python3.11-dbg (`.ci/run` installs them); they fail, not skip, when either is missing.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const VG_FILTER: &str = env!("CARGO_BIN_EXE_vg-filter");

struct Runs {
    /// Text log of `run.py all-defects`.
    defects_text: PathBuf,
    /// XML log of the same.
    defects_xml: PathBuf,
    /// Text log of `run.py clean`: interpreter records only.
    clean_text: PathBuf,
    /// Text log of `run.py all-defects` with `-v`: every error printed again at the end.
    defects_verbose: PathBuf,
}

/// One Valgrind run of a fixture: its flags (`--xml=yes` writes the XML to `out`, else the
/// log goes there), the program and its environment (PYTHONMALLOC=malloc always).
struct Valgrind {
    out: PathBuf,
    flags: Vec<String>,
    argv: Vec<std::ffi::OsString>,
    env: Vec<(&'static str, std::ffi::OsString)>,
}

/// Runs the fixtures' Valgrind jobs side by side; returns their outputs, in order.
fn valgrind_in_parallel(jobs: Vec<Valgrind>) -> Vec<PathBuf> {
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            std::thread::spawn(move || {
                let mut cmd = Command::new("valgrind");
                cmd.args(&job.flags);
                let dest = if job.flags.iter().any(|f| f == "--xml=yes") {
                    "--xml-file"
                } else {
                    "--log-file"
                };
                cmd.arg(format!("{dest}={}", job.out.display()));
                cmd.args(&job.argv)
                    .env("PYTHONMALLOC", "malloc")
                    .envs(job.env);
                let status = cmd
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("valgrind is required");
                assert!(status.success(), "valgrind {:?}: {status}", job.argv);
                job.out
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn tmp() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vg_filter");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds the example and runs it under Memcheck three times, in parallel.
fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let python = xtask::example::debug_python()
            .expect("python3.11-dbg is required (apt-get install python3.11-dbg)");
        let example =
            xtask::example::build(&python, &tmp().join("example")).expect("building the example");
        let dir = tmp();
        let jobs = [
            ("all-defects", "defects.log", false),
            ("all-defects", "defects.xml", true),
            ("clean", "clean.log", false),
            ("all-defects", "defects-v.log", false),
        ];
        let driver = xtask::example::source_dir().join("run.py");
        let common = [
            "--leak-check=full",
            "--show-leak-kinds=all",
            "--track-origins=yes",
            "--fullpath-after=",
        ];
        let paths = valgrind_in_parallel(
            jobs.iter()
                .map(|&(what, file, xml)| {
                    let mut flags: Vec<String> = common.iter().map(|f| f.to_string()).collect();
                    if file.ends_with("-v.log") {
                        flags.push("-v".into());
                    }
                    if xml {
                        flags.push("--xml=yes".into());
                    }
                    Valgrind {
                        out: dir.join(file),
                        flags,
                        argv: vec![python.clone().into(), driver.clone().into(), what.into()],
                        env: vec![(xtask::example::DIR_ENV, example.dir.clone().into())],
                    }
                })
                .collect(),
        );
        let mut paths = paths.into_iter();
        Runs {
            defects_text: paths.next().unwrap(),
            defects_xml: paths.next().unwrap(),
            clean_text: paths.next().unwrap(),
            defects_verbose: paths.next().unwrap(),
        }
    })
}

fn vg_filter(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(VG_FILTER);
    cmd.args(args).current_dir(xtask::example::repo_root());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(data) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn summary(recs: &[Value]) -> &Value {
    let last = recs.last().expect("output ends with a summary");
    assert_eq!(last["type"], "summary");
    last
}

fn errors(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "error").collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// (kind, project function) of every kept record, sorted.
fn kept_signature(recs: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<_> = errors(recs)
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["project_frame"]["function"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn mentions_example(r: &Value) -> bool {
    let frames = r["stack"].as_array().unwrap().iter().chain(
        r["aux"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|a| a["stack"].as_array().unwrap().iter()),
    );
    frames.clone().any(|f| {
        f["file"]
            .as_str()
            .is_some_and(|p| p.contains("dbgpipe_example"))
    })
}

#[test]
fn project_keeps_exactly_the_example_records() {
    let runs = runs();
    let out = vg_filter(&["--project", s(&runs.defects_text)], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = lines(&out);
    let sum = summary(&recs);
    // Every planted defect, at its function.
    let kept = kept_signature(&recs);
    for want in [
        ("Leak_DefinitelyLost", "leak_definite"),
        ("Leak_DefinitelyLost", "leak_indirect"),
        ("Leak_IndirectlyLost", "leak_indirect"),
        ("Leak_PossiblyLost", "leak_possible"),
        ("InvalidRead", "invalid_read"),
        ("UninitCondition", "uninit_branch"),
        ("InvalidFree", "invalid_free"),
    ] {
        assert!(
            kept.contains(&(want.0.to_string(), want.1.to_string())),
            "missing {want:?} in {kept:?}"
        );
    }
    assert!(
        errors(&recs).iter().all(|r| mentions_example(r)),
        "a kept record without an example frame"
    );
    // And nothing else: every record of the raw log that has an example frame is kept.
    let all = lines(&vg_filter(&["--no-merge", s(&runs.defects_text)], None));
    let with_example = errors(&all).iter().filter(|r| mentions_example(r)).count() as u64;
    assert_eq!(sum["kept"], with_example);
    assert!(
        sum["not_project"].as_u64().unwrap() > 10,
        "the debug interpreter reports records of its own"
    );
    let n = |k: &str| sum[k].as_u64().unwrap();
    assert_eq!(n("records"), n("kept") + n("suppressed") + n("not_project"));
    assert_eq!(n("unparsed_lines"), 0);
    assert_eq!(n("truncated_records"), 0);
    // A pattern gives the same records as the project root.
    let by_pattern = lines(&vg_filter(
        &["--project=dbgpipe_example", s(&runs.defects_text)],
        None,
    ));
    assert_eq!(kept_signature(&by_pattern), kept);
}

#[test]
fn text_and_xml_of_the_same_run_agree() {
    let runs = runs();
    let text = lines(&vg_filter(&["--project", s(&runs.defects_text)], None));
    let xml = lines(&vg_filter(&["--project", s(&runs.defects_xml)], None));
    assert_eq!(kept_signature(&text), kept_signature(&xml));
    let key = |r: &&Value| {
        let frames: Vec<_> = r["stack"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["function"].clone(), f["line"].clone()))
            .collect();
        (
            r["kind"].to_string(),
            r["what"].to_string(),
            r["bytes"].clone().to_string(),
            format!("{frames:?}"),
        )
    };
    let mut a: Vec<_> = errors(&text).iter().map(key).collect();
    let mut b: Vec<_> = errors(&xml).iter().map(key).collect();
    // Addresses in the header text differ between two processes; compare the rest.
    let strip = |v: &mut Vec<(String, String, String, String)>| {
        for k in v.iter_mut() {
            k.1 = k.1.split(" 0x").next().unwrap().to_string();
            k.1 = k.1.split(" in loss record").next().unwrap().to_string();
        }
        v.sort();
    };
    strip(&mut a);
    strip(&mut b);
    assert_eq!(a, b);
}

#[test]
fn a_clean_run_keeps_nothing() {
    let out = vg_filter(&["--project", s(&runs().clean_text)], None);
    let recs = lines(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(errors(&recs).is_empty(), "{:?}", errors(&recs));
    assert!(summary(&recs)["records"].as_u64().unwrap() > 0);
}

#[test]
fn generated_baseline_suppresses_the_interpreter_and_not_the_project() {
    let runs = runs();
    let supp = tmp().join("baseline.supp");
    let gen = vg_filter(
        &[
            &format!("--gen-suppressions={}", s(&supp)),
            s(&runs.clean_text),
        ],
        None,
    );
    assert!(
        gen.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let text = std::fs::read_to_string(&supp).unwrap();
    let entries = text.lines().filter(|l| *l == "{").count();
    assert!(entries > 0);
    // Small: far fewer entries than the records they cover.
    let clean_records = summary(&lines(&gen))["records"].as_u64().unwrap();
    assert!(
        (entries as u64) < clean_records,
        "{entries} entries for {clean_records} records"
    );

    let before = lines(&vg_filter(&["--project", s(&runs.defects_text)], None));
    let after = lines(&vg_filter(
        &[
            "--project",
            "--suppressions",
            s(&supp),
            s(&runs.defects_text),
        ],
        None,
    ));
    assert_eq!(
        kept_signature(&after),
        kept_signature(&before),
        "the baseline must not hide project records"
    );
    let sum = summary(&after);
    assert!(sum["suppressed"].as_u64().unwrap() > 0);
    // The same baseline applied without --project: what remains is (nearly) only the project.
    let unfiltered = lines(&vg_filter(
        &["--suppressions", s(&supp), s(&runs.defects_text)],
        None,
    ));
    let left: Vec<_> = errors(&unfiltered)
        .into_iter()
        .filter(|r| !mentions_example(r))
        .collect();
    assert!(
        left.len() <= 3,
        "baseline leaves {} interpreter records: {:?}",
        left.len(),
        left.first()
    );
}

#[test]
fn sarif_points_at_the_source_line() {
    let out = vg_filter(
        &["--project", "--format", "sarif", s(&runs().defects_text)],
        None,
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            loc["artifactLocation"]["uri"], "examples/dbgpipe_example/dbgpipe_example.c",
            "{r}"
        );
        assert!(loc["region"]["startLine"].as_u64().unwrap() > 0);
    }
}

#[test]
fn text_and_csv_formats() {
    let log = s(&runs().defects_text);
    let text = vg_filter(&["--project", "--format", "text", log], None);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("InvalidRead: Invalid read of size 1"),
        "{text}"
    );
    assert!(
        text.contains("invalid_read (") && text.contains("<- project"),
        "{text}"
    );
    assert!(text.lines().last().unwrap().contains("kept"));

    let csv_out = vg_filter(&["--project", "--format", "csv", log], None);
    let body = String::from_utf8(csv_out.stdout).unwrap();
    let mut rows = body.lines();
    assert_eq!(
        rows.next().unwrap(),
        "kind,count,bytes,blocks,pids,what,function,file,line,object,suppression,fingerprint,baseline"
    );
    assert!(rows.any(|r| r.starts_with("InvalidRead,1,") && r.contains("invalid_read")));
    assert!(String::from_utf8_lossy(&csv_out.stderr).starts_with("vg-filter: "));
}

#[test]
fn interleaved_processes_and_several_files_merge() {
    let runs = runs();
    let a = std::fs::read_to_string(&runs.defects_text).unwrap();
    let b = std::fs::read_to_string(&runs.clean_text).unwrap();
    // Interleave the two processes' lines, as --trace-children=yes into one stream does.
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut mixed = String::new();
    for i in 0..la.len().max(lb.len()) {
        for l in [la.get(i), lb.get(i)].into_iter().flatten() {
            mixed.push_str(l);
            mixed.push('\n');
        }
    }
    let together = lines(&vg_filter(&["--project"], Some(mixed.as_bytes())));
    let apart = lines(&vg_filter(
        &["--project", s(&runs.defects_text), s(&runs.clean_text)],
        None,
    ));
    assert_eq!(kept_signature(&together), kept_signature(&apart));
    assert_eq!(summary(&together)["records"], summary(&apart)["records"]);
    assert_eq!(summary(&together)["unparsed_lines"], 0);
    // The same log twice: every record merged, counts doubled.
    let twice = lines(&vg_filter(
        &["--project", s(&runs.defects_text), s(&runs.defects_text)],
        None,
    ));
    let once = lines(&vg_filter(&["--project", s(&runs.defects_text)], None));
    assert_eq!(errors(&twice).len(), errors(&once).len());
    for (t, o) in errors(&twice).iter().zip(errors(&once)) {
        assert_eq!(
            t["count"].as_u64().unwrap(),
            2 * o["count"].as_u64().unwrap()
        );
    }
}

#[test]
fn a_cut_log_flags_the_cut_record_and_keeps_the_rest() {
    let log = std::fs::read(&runs().defects_text).unwrap();
    let full = summary(&lines(&vg_filter(&["--no-merge"], Some(&log)))).clone();
    let cut = &log[..log.len() * 2 / 3];
    let recs = lines(&vg_filter(&["--no-merge"], Some(cut)));
    let sum = summary(&recs);
    assert!(sum["truncated_records"].as_u64().unwrap() <= 1);
    assert!(sum["records"].as_u64().unwrap() < full["records"].as_u64().unwrap());
    assert!(sum["records"].as_u64().unwrap() > 0);
}

#[test]
fn bad_input_gets_one_line_and_status_2() {
    let dir = tmp();
    let missing = dir.join("no-such.log");
    for (args, needle) in [
        (vec![s(&missing).to_string()], "no-such.log"),
        (vec![s(&dir).to_string()], "is a directory"),
        (
            vec!["--suppressions".into(), s(&missing).to_string()],
            "no-such.log",
        ),
        (vec!["--format".into(), "yaml".into()], "yaml"),
    ] {
        let out = vg_filter(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            Some(b""),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        if !args.contains(&"--format".to_string()) {
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
            assert!(err.starts_with("vg-filter: "));
        }
    }
    let bad_xml = dir.join("bad.xml");
    std::fs::write(
        &bad_xml,
        "<?xml version=\"1.0\"?>\n<valgrindoutput>\n<error><kind>X</kind></oops>\n",
    )
    .unwrap();
    let out = vg_filter(&[s(&bad_xml)], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.xml:3"), "{err}");
}

/// A segfault under real Valgrind: its fatal-signal report is a record of its own, located
/// at the project's frame, and it fails the run even with no error kept; an indented and
/// quoted paste of the same log says the same.
#[test]
fn a_fatal_signal_is_a_record_and_fails_the_run() {
    let python = xtask::example::debug_python().expect("python3.11-dbg is required");
    let example = xtask::example::build(&python, &tmp().join("example-crash")).unwrap();
    let log = tmp().join("crash.log");
    let status = Command::new("valgrind")
        .arg("--fullpath-after=")
        .arg(format!("--log-file={}", log.display()))
        .arg(&python)
        .arg(xtask::example::source_dir().join("run.py"))
        .arg("crash_null")
        .env("PYTHONMALLOC", "malloc")
        .env(xtask::example::DIR_ENV, &example.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("valgrind is required");
    assert!(!status.success(), "crash_null did not crash: {status}");
    let text = std::fs::read_to_string(&log).unwrap();
    let pasted: String = text.lines().map(|l| format!(">     {l}\n")).collect();
    for (name, input) in [("log", text.clone()), ("pasted", pasted)] {
        let out = vg_filter(
            &["--project", "--fail-on", "InvalidWrite"],
            Some(input.as_bytes()),
        );
        let recs = lines(&out);
        let fatal: Vec<&Value> = recs
            .iter()
            .filter(|r| r["type"] == "fatal_signal")
            .collect();
        assert_eq!(fatal.len(), 1, "{name}: {recs:?}");
        assert_eq!(fatal[0]["signal"], "SIGSEGV", "{name}");
        assert_eq!(
            fatal[0]["project_frame"]["function"], "dbgpipe_store",
            "{name}"
        );
        assert_eq!(summary(&recs)["fatal_signals"], 1, "{name}");
        // --fail-on leaves FatalSignal out: the InvalidWrite Memcheck saw first fails it.
        assert_eq!(out.status.code(), Some(1), "{name}");
    }
    let out = vg_filter(
        &["--project", "--fail-on", "Leak_StillReachable"],
        Some(text.as_bytes()),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "FatalSignal not named: it does not fail"
    );
    // Without --project every frame would match: no project frame is named.
    let out = vg_filter(&[], Some(text.as_bytes()));
    let recs = lines(&out);
    let fatal = recs.iter().find(|r| r["type"] == "fatal_signal").unwrap();
    assert!(fatal["project_frame"].is_null(), "{fatal}");
    let out = vg_filter(&["--project"], Some(text.as_bytes()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a fatal signal fails the run by default"
    );
    assert!(summary(&lines(&out))["failing"].as_u64().unwrap() >= 1);

    // Its own output as the baseline: the crash (and the InvalidWrite before it) are known,
    // and nothing fails; the fatal signal has a fingerprint, the same as in the baseline.
    let base = tmp().join("crash-baseline.jsonl");
    std::fs::write(&base, &out.stdout).unwrap();
    let fatal_fp = lines(&out)
        .into_iter()
        .find(|r| r["type"] == "fatal_signal")
        .unwrap()["fingerprint"]
        .clone();
    assert_eq!(fatal_fp.as_str().map(str::len), Some(16));
    let again = vg_filter(
        &["--project", "--baseline", base.to_str().unwrap()],
        Some(text.as_bytes()),
    );
    assert_eq!(again.status.code(), Some(0));
    let recs = lines(&again);
    let fatal = recs.iter().find(|r| r["type"] == "fatal_signal").unwrap();
    assert_eq!(fatal["baseline"], "known");
    assert_eq!(fatal["fingerprint"], fatal_fp);
}

/// Another tool's output: exit 0, its lines counted as passed over, and a one-line note
/// that says what it looks like.
#[test]
fn a_gdb_backtrace_gets_a_hint() {
    let gdb = "Program received signal SIGSEGV, Segmentation fault.\n\
               0x00007ffff7bc06b1 in dbgpipe_store (p=0x0, v=42) at dbgpipe_example.c:271\n\
               #0  0x00007ffff7bc06b1 in dbgpipe_store (p=0x0, v=42) at dbgpipe_example.c:271\n\
               #1  0x00007ffff7bc06df in crash_null (self=<optimized out>) at dbgpipe_example.c:293\n";
    let out = vg_filter(&[], Some(gdb.as_bytes()));
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("gdb output: bt-demangle reads that"), "{err}");
    let recs = lines(&out);
    let sum = summary(&recs);
    assert_eq!(sum["records"], 0);
    assert_eq!(
        sum["other_lines"].as_u64().unwrap() + sum["unparsed_lines"].as_u64().unwrap(),
        4
    );
}

#[test]
fn odd_input_gives_a_normal_result() {
    let mut noise = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..100_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        noise.push((x >> 16) as u8);
    }
    let crlf = std::fs::read_to_string(&runs().defects_text)
        .unwrap()
        .replace('\n', "\r\n");
    let mut long = vec![b'x'; 3 << 20];
    long.push(b'\n');
    let non_utf8 =
        b"==1== Invalid read of size 1\n==1==    at 0x1: f (/src/\xff\xfe.c:3)\n==1== \n".to_vec();
    // Binary data is no log: one line naming the input, status 2.
    let out = vg_filter(&["--no-merge"], Some(&noise));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim(), "vg-filter: <stdin>: is binary data, not a log");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("crlf", crlf.into_bytes()),
        ("long", long),
        ("non-utf8", non_utf8),
    ];
    for (name, data) in cases {
        let out = vg_filter(&["--no-merge"], Some(&data));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{name}: {:?} {err}",
            out.status
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        let recs = lines(&out);
        let sum = summary(&recs);
        match name {
            "empty" => assert_eq!(sum["records"], 0),
            "long" => assert_eq!(sum["long_lines"], 1),
            "crlf" => assert!(sum["records"].as_u64().unwrap() > 10 && sum["unparsed_lines"] == 0),
            "non-utf8" => assert_eq!(sum["records"], 1),
            _ => {}
        }
    }
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let mut child = Command::new(VG_FILTER)
        .arg("--no-merge")
        .arg(s(&runs().defects_text))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fail_on_narrows_the_exit_status_and_show_suppressed_lists() {
    let log = s(&runs().defects_text);
    // Only still-reachable counts: the example has one (refleak's list), so findings.
    let out = vg_filter(&["--project", "--fail-on=Leak_StillReachable", log], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(summary(&lines(&out))["failing"], 1);
    // A kind the example does not plant: no findings, though records are kept.
    let out = vg_filter(&["--project", "--fail-on=Overlap,InvalidJump", log], None);
    assert_eq!(out.status.code(), Some(0));
    let recs = lines(&out);
    assert!(summary(&recs)["kept"].as_u64().unwrap() >= 8);

    // A hand-written suppression for the planted invalid read: counted by name, listed on
    // request with its name, and no longer kept.
    let supp = tmp().join("invalid_read.supp");
    std::fs::write(
        &supp,
        "{\n   planted-invalid-read\n   Memcheck:Addr1\n   fun:invalid_read\n}\n",
    )
    .unwrap();
    let out = vg_filter(
        &[
            "--project",
            "--show-suppressed",
            "--suppressions",
            s(&supp),
            log,
        ],
        None,
    );
    let recs = lines(&out);
    let sum = summary(&recs);
    assert_eq!(sum["suppressed"], 1);
    assert_eq!(sum["suppressions_used"]["planted-invalid-read"], 1);
    let listed: Vec<_> = recs.iter().filter(|r| r["type"] == "suppressed").collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["suppression"], "planted-invalid-read");
    assert!(!kept_signature(&recs).contains(&("InvalidRead".into(), "invalid_read".into())));
}

/// The baseline shipped in suppressions/ (made by `cargo xtask suppressions`) still covers
/// what this machine's debug interpreter reports on its own, and hides none of the project's
/// records. When it fails after an interpreter or valgrind upgrade, regenerate the file.
#[test]
fn shipped_baseline_covers_the_interpreter_and_not_the_project() {
    let runs = runs();
    let supp = xtask::example::repo_root().join("suppressions/python3.11-dbg.supp");
    let clean = lines(&vg_filter(
        &["--suppressions", s(&supp), s(&runs.clean_text)],
        None,
    ));
    let sum = summary(&clean);
    assert_eq!(
        sum["suppressed"],
        sum["records"],
        "interpreter records left: {:?}",
        errors(&clean)
    );
    let before = lines(&vg_filter(&["--project", s(&runs.defects_text)], None));
    let after = lines(&vg_filter(
        &[
            "--project",
            "--suppressions",
            s(&supp),
            s(&runs.defects_text),
        ],
        None,
    ));
    assert_eq!(kept_signature(&after), kept_signature(&before));
    assert_eq!(
        summary(&after)["not_project"],
        0,
        "every interpreter record is suppressed"
    );
}

/// The lines of an output with the run-dependent part taken out: nothing, since the records
/// and the summary of a read-back must be exactly those of the first run.
fn stdout_text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn write(path: &Path, out: &Output) -> PathBuf {
    std::fs::write(path, &out.stdout).unwrap();
    path.to_path_buf()
}

/// `vg-filter a.jsonl` reproduces a.jsonl (records and summary) and its exit status, with or
/// without the same --project; and --format converts it.
#[test]
fn its_own_json_lines_read_back_as_they_were_written() {
    let runs = runs();
    let first = vg_filter(&["--project", s(&runs.defects_text)], None);
    assert_eq!(first.status.code(), Some(1));
    let a = write(&tmp().join("readback-a.jsonl"), &first);
    for args in [vec!["--project"], vec![]] {
        let mut argv = args.clone();
        argv.push(s(&a));
        let again = vg_filter(&argv, None);
        assert_eq!(again.status.code(), Some(1), "{args:?}");
        assert_eq!(stdout_text(&again), stdout_text(&first), "{args:?}");
    }
    // Converted: the same report as from the log itself.
    for format in ["text", "sarif", "csv"] {
        let from_log = vg_filter(
            &["--project", "--format", format, s(&runs.defects_text)],
            None,
        );
        let from_jsonl = vg_filter(&["--project", "--format", format, s(&a)], None);
        assert_eq!(stdout_text(&from_jsonl), stdout_text(&from_log), "{format}");
        assert_eq!(from_jsonl.status.code(), Some(1), "{format}");
    }
    // Filtered again: a pattern that matches nothing of the example keeps nothing.
    let none = vg_filter(&["--project=no-such-module", s(&a)], None);
    assert_eq!(none.status.code(), Some(0));
    let sum = summary(&lines(&none)).clone();
    let first_sum = summary(&lines(&first)).clone();
    assert_eq!(sum["kept"], 0);
    assert_eq!(sum["records"], first_sum["records"]);
    assert_eq!(sum["not_project"], first_sum["records"]);
}

/// Shards of a run, filtered apart and merged from their JSON lines, give what one pass over
/// all the logs gives: the same records (counts, PIDs, bytes, inputs) and the same summary.
#[test]
fn shard_outputs_merge_into_one_pass() {
    let runs = runs();
    let supp = xtask::example::repo_root().join("suppressions/python3.11-dbg.supp");
    let common = ["--project", "--suppressions", s(&supp)];
    let logs = [
        s(&runs.defects_text),
        s(&runs.clean_text),
        s(&runs.defects_xml),
    ];
    let one_pass = vg_filter(&[&common[..], &logs[..]].concat(), None);
    assert_eq!(one_pass.status.code(), Some(1));
    let shards: Vec<PathBuf> = logs
        .iter()
        .enumerate()
        .map(|(i, log)| {
            let out = vg_filter(&[&common[..], &[*log][..]].concat(), None);
            write(&tmp().join(format!("shard-{i}.jsonl")), &out)
        })
        .collect();
    let shard_args: Vec<&str> = shards.iter().map(|p| s(p)).collect();
    // Merged with the same options, and with none (the shards' filtering stands).
    for opts in [&common[..], &[][..]] {
        let merged = vg_filter(&[opts, &shard_args[..]].concat(), None);
        assert_eq!(merged.status.code(), Some(1), "{opts:?}");
        assert_eq!(stdout_text(&merged), stdout_text(&one_pass), "{opts:?}");
    }
    let recs = lines(&one_pass);
    let sum = summary(&recs);
    assert_eq!(sum["inputs"], 3);
    // The defects were read twice (text and XML): each distinct record counts both.
    assert!(errors(&recs).iter().all(|r| r["count"] == 2), "{recs:?}");
}

#[test]
fn values_and_inputs_that_cannot_be_meant_are_refused() {
    let runs = runs();
    let refused = |args: &[&str], needle: &str| {
        let out = vg_filter(args, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    refused(
        &["--fail-on=InvalidRaed", s(&runs.defects_text)],
        "did you mean InvalidRead?",
    );
    refused(
        &["--project", "mymod", s(&runs.defects_text)],
        "--project=mymod",
    );
    // A shared object given where a log belongs (`--project native.so vg.log`).
    let so = xtask::example::build(
        &xtask::example::debug_python().unwrap(),
        &tmp().join("example"),
    )
    .unwrap()
    .so;
    refused(&["--project", s(&so), s(&runs.defects_text)], "not a log");
    // Known kinds and `all` are fine.
    let out = vg_filter(&["--fail-on=InvalidRead,all", s(&runs.clean_text)], None);
    assert!(out.status.code().is_some_and(|c| c <= 1));
}

#[test]
fn another_tools_output_gets_a_note() {
    let gdb =
        std::fs::read(xtask::example::repo_root().join("tests/data/gdb/local_cpp_debuginfo.txt"))
            .unwrap();
    let out = vg_filter(&[], Some(&gdb));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.starts_with("vg-filter: <stdin>: no Memcheck record found in "),
        "{err}"
    );
    assert_eq!(summary(&lines(&out))["records"], 0);
    // A clean run's log has no record either, and that is no reason for a note (its
    // interpreter records cut at 12 frames get the hint that says so, and nothing else).
    let clean = vg_filter(&["--project", s(&runs().clean_text)], None);
    let err = String::from_utf8_lossy(&clean.stderr);
    assert!(
        err.lines()
            .all(|l| l
                .contains(" cut at 12 frames (the deepest stacks in it) with no project frame")),
        "{err}"
    );
}

/// Logs of the module-init fixture (tests/fixtures/module_init): two extensions whose init
/// keeps memory for the module's lifetime (single-phase `PyInit_single_phase`, multi-phase
/// `exec_multi_phase` called by `PyModule_ExecDef`), a block definitely lost in init, and a
/// possibly lost block kept by an ordinary call.
struct ModuleInitRuns {
    /// Text log, `--fullpath-after=`.
    text: PathBuf,
    /// XML log of the same.
    xml: PathBuf,
    /// Text log without `--fullpath-after=` (source files by base name) and with
    /// `--num-callers=4`.
    bare_short: PathBuf,
    /// Where the fixture's sources are.
    sources: PathBuf,
}

/// Builds the fixture's two extensions with the host `cc` against the debug interpreter's
/// headers and runs `run.py` under Memcheck three ways, in parallel, once per test process.
fn module_init_runs() -> &'static ModuleInitRuns {
    static RUNS: OnceLock<ModuleInitRuns> = OnceLock::new();
    RUNS.get_or_init(|| {
        let python = xtask::example::debug_python()
            .expect("python3.11-dbg is required (apt-get install python3.11-dbg)");
        let sources = xtask::example::repo_root().join("tests/fixtures/module_init");
        let dir = tmp().join("module_init");
        std::fs::create_dir_all(&dir).unwrap();
        let config = |expr: &str| {
            let out = Command::new(&python)
                .args(["-c", &format!("import sysconfig; print({expr})")])
                .output()
                .expect("python3.11-dbg runs");
            assert!(out.status.success());
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        let include = config("sysconfig.get_paths()['include']");
        let suffix = config("sysconfig.get_config_var('EXT_SUFFIX')");
        for module in ["single_phase", "multi_phase"] {
            let status = Command::new("cc")
                .args(["-O0", "-g", "-fPIC", "-shared", "-Wall", "-Werror"])
                .arg(format!("-I{include}"))
                .arg(sources.join(format!("{module}.c")))
                .arg("-o")
                .arg(dir.join(format!("{module}{suffix}")))
                .status()
                .expect("a C compiler (cc) is required");
            assert!(status.success(), "building {module}: {status}");
        }
        let jobs: [(&str, &[&str]); 3] = [
            ("modinit.log", &["--fullpath-after="]),
            ("modinit.xml", &["--fullpath-after=", "--xml=yes"]),
            ("modinit-bare-short.log", &["--num-callers=4"]),
        ];
        let paths = valgrind_in_parallel(
            jobs.iter()
                .map(|&(file, flags)| {
                    let mut flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
                    flags.splice(
                        0..0,
                        ["--leak-check=full".into(), "--show-leak-kinds=all".into()],
                    );
                    Valgrind {
                        out: dir.join(file),
                        flags,
                        argv: vec![python.clone().into(), sources.join("run.py").into()],
                        env: vec![("PYTHONPATH", dir.clone().into())],
                    }
                })
                .collect(),
        );
        let mut paths = paths.into_iter();
        ModuleInitRuns {
            text: paths.next().unwrap(),
            xml: paths.next().unwrap(),
            bare_short: paths.next().unwrap(),
            sources,
        }
    })
}

/// (kind, project function, module_init) of every kept record, sorted.
fn init_signature(recs: &[Value]) -> Vec<(String, String, bool)> {
    let mut v: Vec<_> = errors(recs)
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["project_frame"]["function"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                r["module_init"].as_bool().expect("module_init is a bool"),
            )
        })
        .collect();
    v.sort();
    v
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn module_init_allocations_are_kept_marked_and_do_not_fail() {
    let runs = module_init_runs();
    let project = "--project=fixtures/module_init/";
    let want = |s: &str, f: &str, init: bool| (s.to_string(), f.to_string(), init);
    let expected = vec![
        want("Leak_DefinitelyLost", "PyInit_single_phase", false),
        want("Leak_PossiblyLost", "PyInit_single_phase", true),
        want("Leak_PossiblyLost", "exec_multi_phase", true),
        want("Leak_PossiblyLost", "keep", false),
        want("Leak_StillReachable", "PyInit_single_phase", true),
        want("Leak_StillReachable", "exec_multi_phase", true),
    ];
    for log in [&runs.text, &runs.xml] {
        let out = vg_filter(&[project, s(log)], None);
        let recs = lines(&out);
        assert_eq!(init_signature(&recs), expected, "{}", log.display());
        let sum = summary(&recs);
        assert_eq!(sum["module_init"], 4);
        // The block lost in init and the one kept outside init fail; the four
        // module-lifetime allocations do not.
        assert_eq!(sum["failing"], 2, "{}", log.display());
        assert_eq!(out.status.code(), Some(1));

        // --fail-on ModuleInit: the default kinds, module init included (still reachable
        // is not a default kind); all: everything.
        let out = vg_filter(&[project, "--fail-on", "ModuleInit", s(log)], None);
        assert_eq!(summary(&lines(&out))["failing"], 4);
        let out = vg_filter(&[project, "--fail-on", "all", s(log)], None);
        assert_eq!(summary(&lines(&out))["failing"], 6);
        // Naming the kind alone leaves module init out.
        let out = vg_filter(&[project, "--fail-on=Leak_PossiblyLost", s(log)], None);
        assert_eq!(summary(&lines(&out))["failing"], 1);

        // A module whose only records are module-lifetime allocations passes.
        let out = vg_filter(&["--project=multi_phase.c", s(log)], None);
        let recs = lines(&out);
        assert_eq!(summary(&recs)["kept"], 2);
        assert_eq!(summary(&recs)["module_init"], 2);
        assert_eq!(out.status.code(), Some(0), "{}", log.display());
        let out = vg_filter(
            &["--project=multi_phase.c", "--fail-on=ModuleInit", s(log)],
            None,
        );
        assert_eq!(out.status.code(), Some(1));
    }

    // The text report marks them; its summary line counts them.
    let out = vg_filter(&[project, "--format", "text", s(&runs.text)], None);
    let text = stdout_text(&out);
    assert_eq!(text.matches("  (module init)\n").count(), 4, "{text}");
    assert!(
        text.contains("6 kept (6 distinct, 2 failing, 4 in module init)"),
        "{text}"
    );

    // Read back, the mark is recomputed the same, and the exit status kept.
    let first = vg_filter(&[project, s(&runs.text)], None);
    let saved = write(&tmp().join("module_init/readback.jsonl"), &first);
    let again = vg_filter(&[project, s(&saved)], None);
    assert_eq!(stdout_text(&again), stdout_text(&first));
    assert_eq!(again.status.code(), Some(1));

    // A misspelt word is refused, naming the one meant.
    let out = vg_filter(&[project, "--fail-on", "module_init", s(&runs.text)], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean ModuleInit?"), "{err}");
}

#[test]
fn hints_say_when_the_log_hides_project_frames() {
    let init = module_init_runs();
    let bare = s(&init.bare_short);

    // Base names only, and a pattern for a directory: nothing of the project is found.
    let out = vg_filter(&["--project=fixtures/module_init/", bare], None);
    let recs = lines(&out);
    let sum = summary(&recs);
    assert_eq!(sum["kept"], 0);
    let cut = sum["cut_at_depth"].as_u64().unwrap();
    assert!(cut > 0, "{sum}");
    assert_eq!(sum["hints"], 2);
    assert_eq!(
        out.status.code(),
        Some(0),
        "hints do not change the exit status"
    );
    assert_eq!(
        stderr_lines(&out),
        [
            format!(
                "vg-filter: {bare}: frames name source files without directories, so \
                 --project=fixtures/module_init/ sees only file names; rerun valgrind with \
                 --fullpath-after= (or use --project --root DIR)"
            ),
            format!(
                "vg-filter: {bare}: {cut} records were cut at 4 frames (the deepest stacks \
                 in it) with no project frame in them; rerun valgrind with --num-callers=50"
            ),
        ]
    );
    // The summary line counts the cut records.
    let out = vg_filter(
        &["--project=fixtures/module_init/", "--format=text", bare],
        None,
    );
    assert!(
        stdout_text(&out).contains(&format!(
            "; {cut} not-project records cut at the stack limit"
        )),
        "{}",
        stdout_text(&out)
    );

    // A pattern that matches the base names finds the project: no hint about names, and
    // the records still found at 4 frames.
    let out = vg_filter(&["--project=single_phase", bare], None);
    let recs = lines(&out);
    assert!(summary(&recs)["kept"].as_u64().unwrap() >= 3);
    let err = stderr_lines(&out);
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(err[0].contains("cut at 4 frames"), "{err:?}");

    // --project alone looks the names up under the root: found under the fixture's
    // directory; under an empty root, said.
    let out = vg_filter(&["--project", "--root", s(&init.sources), bare], None);
    assert_eq!(summary(&lines(&out))["kept"], 6);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("without directories"));
    let empty = tmp().join("module_init/empty-root");
    std::fs::create_dir_all(&empty).unwrap();
    let out = vg_filter(&["--project", "--root", s(&empty), bare], None);
    let err = stderr_lines(&out);
    let root = std::fs::canonicalize(&empty).unwrap();
    assert_eq!(
        err[0],
        format!(
            "vg-filter: {bare}: frames name source files without directories and {} holds \
             no source file to look their names up in, so --project finds no project frame; \
             rerun valgrind with --fullpath-after= (or give --root your source tree)",
            root.display()
        )
    );

    // Logs run with --fullpath-after= never get the hint about names. The XML states the
    // limit (its <args>, the default 12 here); the text log's is inferred.
    for (log, inferred) in [
        (&init.text, " (the deepest stacks in it)"),
        (&init.xml, ""),
        (&runs().defects_text, " (the deepest stacks in it)"),
        (&runs().defects_xml, ""),
    ] {
        let out = vg_filter(&["--project=fixtures/module_init/", s(log)], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("without directories"), "{err}");
        let sum = &summary(&lines(&out)).clone();
        if sum["cut_at_depth"].as_u64().unwrap() > 0 {
            assert!(
                err.contains(&format!(
                    " cut at 12 frames{inferred} with no project frame"
                )),
                "{err}"
            );
        }
    }

    // Read back, the counts carry over and nothing is said again: the log is not there.
    let first = vg_filter(&["--project=fixtures/module_init/", bare], None);
    let saved = write(&tmp().join("module_init/hints.jsonl"), &first);
    let again = vg_filter(&["--project=fixtures/module_init/", s(&saved)], None);
    assert!(again.stderr.is_empty());
    let sum = summary(&lines(&again)).clone();
    assert_eq!(sum["hints"], 2);
    assert_eq!(sum["cut_at_depth"], cut);
}

/// (kind, function frames) → occurrences of every kept record, sorted.
fn occurrences(recs: &[Value]) -> Vec<(String, Vec<String>, Value)> {
    let mut v: Vec<_> = errors(recs)
        .iter()
        .map(|r| {
            let frames = r["stack"].as_array().unwrap().iter();
            let functions = frames.map(|f| f["function"].to_string()).collect();
            (
                r["kind"].as_str().unwrap().to_string(),
                functions,
                r["occurrences"].clone(),
            )
        })
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

/// `valgrind -v` prints every error again after the final ERROR SUMMARY (`N errors in
/// context K of M:`, then the record): those are the occurrences of the records read, as
/// XML's `<errorcounts>` give them, not more records.
#[test]
fn a_verbose_log_gives_the_records_of_a_plain_one_and_xmls_occurrences() {
    let runs = runs();
    let log = std::fs::read_to_string(&runs.defects_verbose).unwrap();
    let listing = log
        .lines()
        .position(|l| l.contains(" errors in context 1 of "))
        .expect("-v prints the errors again");
    let counts = [
        "records",
        "kept",
        "suppressed",
        "not_project",
        "distinct",
        "failing",
    ];
    let plain = lines(&vg_filter(&["--project", s(&runs.defects_text)], None));
    let verbose_out = vg_filter(&["--project", s(&runs.defects_verbose)], None);
    assert_eq!(verbose_out.status.code(), Some(1));
    let verbose = lines(&verbose_out);
    for k in counts {
        assert_eq!(summary(&verbose)[k], summary(&plain)[k], "{k}");
    }
    assert_eq!(summary(&verbose)["truncated_records"], 0);
    assert_eq!(summary(&verbose)["unparsed_lines"], 0);
    assert_eq!(kept_signature(&verbose), kept_signature(&plain));
    // The same records apart from occurrences, which the plain log does not state.
    let without = |recs: &[Value]| -> Vec<_> {
        occurrences(recs)
            .into_iter()
            .map(|(k, f, _)| (k, f))
            .collect()
    };
    assert_eq!(without(&verbose), without(&plain));
    assert!(occurrences(&plain).iter().all(|o| o.2.is_null()));
    // Every error has its count, as in the XML of the same program; leaks none in either.
    let xml = lines(&vg_filter(&["--project", s(&runs.defects_xml)], None));
    assert_eq!(occurrences(&verbose), occurrences(&xml));
    for (kind, _, n) in occurrences(&verbose) {
        assert_eq!(n.is_null(), kind.starts_with("Leak_"), "{kind}: {n}");
    }
    // Unmerged, and without --project: the same.
    for args in [&["--no-merge"][..], &[]] {
        let text = lines(&vg_filter(
            &[args, &[s(&runs.defects_verbose)]].concat(),
            None,
        ));
        let xml = lines(&vg_filter(&[args, &[s(&runs.defects_xml)]].concat(), None));
        assert_eq!(
            summary(&text)["records"],
            summary(&xml)["records"],
            "{args:?}"
        );
        assert_eq!(occurrences(&text), occurrences(&xml), "{args:?}");
    }
    // The suppressions generated from it are those of the plain log.
    let gen = |log: &Path, name: &str| {
        let file = tmp().join(name);
        vg_filter(
            &[&format!("--gen-suppressions={}", file.display()), s(log)],
            None,
        );
        std::fs::read_to_string(file).unwrap()
    };
    assert_eq!(
        gen(&runs.defects_verbose, "verbose.supp"),
        gen(&runs.defects_text, "plain.supp")
    );

    // Cut anywhere in the listing: the records of the whole log, none cut; the repeats
    // read so far count.
    let total = log.lines().count();
    for cut in [listing + 1, listing + 3, (listing + total) / 2, total - 2] {
        let head: String = log.lines().take(cut).map(|l| format!("{l}\n")).collect();
        let out = lines(&vg_filter(&["--project"], Some(head.as_bytes())));
        for k in counts {
            assert_eq!(summary(&out)[k], summary(&plain)[k], "cut at {cut}: {k}");
        }
        assert_eq!(summary(&out)["truncated_records"], 0, "cut at {cut}");
    }

    // The listing alone (a paste of the end of a log): its repeats are the records, with
    // their counts.
    let tail: String = log
        .lines()
        .skip(listing)
        .map(|l| format!("{l}\n"))
        .collect();
    let out = lines(&vg_filter(&["--project"], Some(tail.as_bytes())));
    let mut want: Vec<_> = occurrences(&verbose)
        .into_iter()
        .filter(|o| !o.0.starts_with("Leak_"))
        .collect();
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(occurrences(&out), want);
}

/// The fingerprints of the kept records, as a sorted list.
fn fingerprints(recs: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = errors(recs)
        .iter()
        .map(|r| {
            r["fingerprint"]
                .as_str()
                .expect("a fingerprint")
                .to_string()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn fingerprints_ignore_paths_pids_addresses_and_format() {
    let runs = runs();
    let text = lines(&vg_filter(
        &["--project", runs.defects_text.to_str().unwrap()],
        None,
    ));
    let mine = fingerprints(&text);
    assert_eq!(mine.len(), errors(&text).len());
    assert!(mine
        .iter()
        .all(|f| f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit())));
    // Distinct defects, distinct fingerprints.
    let mut unique = mine.clone();
    unique.dedup();
    assert_eq!(unique, mine);

    // The same run as XML.
    let xml = lines(&vg_filter(
        &["--project", runs.defects_xml.to_str().unwrap()],
        None,
    ));
    assert_eq!(fingerprints(&xml), mine);

    // The same log from another checkout path, with other PIDs and load addresses.
    let root = xtask::example::repo_root();
    let log = std::fs::read_to_string(&runs.defects_text).unwrap();
    let pid = regex_lite(&log, "==", "==");
    let moved = log
        .replace(&root.display().to_string(), "/elsewhere/checkout")
        .replace(&format!("=={pid}=="), "==4242==")
        .replace("0x4", "0x5")
        .replace("0x48", "0x91");
    let moved_log = tmp().join("moved.log");
    std::fs::write(&moved_log, moved).unwrap();
    let elsewhere = lines(&vg_filter(
        &[
            "--project",
            "--root",
            "/elsewhere/checkout",
            moved_log.to_str().unwrap(),
        ],
        None,
    ));
    assert_eq!(errors(&elsewhere).len(), errors(&text).len());
    assert_eq!(fingerprints(&elsewhere), mine);

    // SARIF tracks alerts by them.
    let sarif = vg_filter(
        &[
            "--project",
            "--format",
            "sarif",
            runs.defects_text.to_str().unwrap(),
        ],
        None,
    );
    let sarif: Value = serde_json::from_slice(&sarif.stdout).unwrap();
    let mut partial: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["partialFingerprints"]["dbgpipe/v1"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    partial.sort();
    assert_eq!(partial, mine);
}

/// The PID of a `==PID==` log: the digits between the first `==` pair.
fn regex_lite(log: &str, open: &str, close: &str) -> String {
    let start = log.find(open).unwrap() + open.len();
    let len = log[start..].find(close).unwrap();
    log[start..start + len].to_string()
}

#[test]
fn a_run_against_its_own_baseline_passes_and_a_removed_record_is_new() {
    let runs = runs();
    let log = runs.defects_text.to_str().unwrap();
    let first = vg_filter(&["--project", log], None);
    assert_eq!(first.status.code(), Some(1));
    let base = tmp().join("baseline.jsonl");
    std::fs::write(&base, &first.stdout).unwrap();
    let kept = errors(&lines(&first)).len();

    // Against itself: every record known, nothing fails.
    let again = vg_filter(
        &["--project", "--baseline", base.to_str().unwrap(), log],
        None,
    );
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let recs = lines(&again);
    assert!(errors(&recs).iter().all(|r| r["baseline"] == "known"));
    let s = summary(&recs);
    assert_eq!((s["new"].as_u64(), s["fixed"].as_u64()), (Some(0), Some(0)));
    assert_eq!(s["failing"], 0);

    // One record taken out of the baseline: exactly that one is new, first, and fails.
    let text = String::from_utf8(first.stdout.clone()).unwrap();
    let removed = text
        .lines()
        .find(|l| l.contains("\"kind\":\"Leak_DefinitelyLost\""))
        .unwrap();
    let removed_fp = serde_json::from_str::<Value>(removed).unwrap()["fingerprint"].clone();
    let fewer = tmp().join("baseline-fewer.jsonl");
    std::fs::write(&fewer, text.replace(&format!("{removed}\n"), "")).unwrap();
    let out = vg_filter(
        &["--project", "--baseline", fewer.to_str().unwrap(), log],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let recs = lines(&out);
    let new: Vec<&Value> = errors(&recs)
        .into_iter()
        .filter(|r| r["baseline"] == "new")
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["fingerprint"], removed_fp);
    assert_eq!(
        errors(&recs)[0]["fingerprint"],
        removed_fp,
        "new records come first"
    );
    assert_eq!(summary(&recs)["new"], 1);

    // A clean run against the defects' baseline: every baseline record is fixed.
    let clean = vg_filter(
        &[
            "--project",
            "--baseline",
            base.to_str().unwrap(),
            runs.clean_text.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(clean.status.code(), Some(0));
    let recs = lines(&clean);
    let fixed: Vec<&Value> = recs.iter().filter(|r| r["type"] == "fixed").collect();
    assert_eq!(fixed.len(), kept);
    assert_eq!(summary(&recs)["fixed"], kept as u64);

    // Text shows the mark, and the summary line the comparison.
    let out = vg_filter(
        &[
            "--project",
            "--format",
            "text",
            "--baseline",
            fewer.to_str().unwrap(),
            log,
        ],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Leak_DefinitelyLost"), "{text}");
    assert!(text.contains("[new]") && text.contains("[known]"), "{text}");
    assert!(text.contains("against the baseline: 1 new"), "{text}");
}
