//! The source recipe's image with the real engine: CPython 3.11 built in the image
//! `--with-pydebug --with-valgrind --without-pymalloc` from its release tarball, which comes
//! from Debian's python3.11 source package on machines that reach only the package registries
//! (as this project's do), or from python.org where it answers; its record; then the
//! example's refs, memcheck and segv recipes inside it, and Valgrind on the example without
//! `PYTHONMALLOC`, which an interpreter without pymalloc does not need.
//!
//! The image is `tests/image_fixture.rs`'s, built once (minutes: CPython is compiled) and
//! then found by its content tag. These tests need root, a running docker and debootstrap
//! (`.ci/run` provides them) and fail without.

#[path = "image_fixture.rs"]
mod image_fixture;

use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use image_fixture::{dbg_image, source_args, source_image, DBG_IMAGE};
use xtask::place::{self, PlaceOpts};
use xtask::{demo, memcheck, refs, segv, suppressions, Status, Workspace};

/// python.org's SHA-256 of `Python-3.11.2.tgz`, which is Debian bookworm's
/// `python3.11_3.11.2.orig.tar.gz` byte for byte.
const PYTHON_3_11_2_TGZ: &str = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849";

/// One recipe at a time: they share the example's build directory in `target/dbgpipe/`.
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    xtask::build_tools().expect("building the tools");
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tag() -> String {
    source_image()["tag"]
        .as_str()
        .expect("the record has a tag")
        .to_string()
}

fn in_image() -> PlaceOpts {
    PlaceOpts {
        host: false,
        image: Some(tag()),
    }
}

#[test]
fn the_source_image_is_a_debug_build_without_pymalloc_with_valgrind() {
    let r = source_image();
    assert_eq!(r["type"], "image", "{r}");
    assert_eq!(r["recipe"], "source", "{r}");
    assert_eq!(r["python"], "3.11", "{r}");
    assert_eq!(r["interpreter"], "/usr/local/bin/python3.11-dbg", "{r}");
    assert_eq!(r["debug_build"], true, "{r}");
    assert_eq!(r["pymalloc"], false, "{r}");
    assert_eq!(r["with_valgrind"], true, "{r}");
    assert_eq!(r["problems"], Value::Array(vec![]), "{r}");
    for tool in ["valgrind", "gdb", "memray"] {
        assert!(
            r[tool]
                .as_str()
                .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())),
            "{tool}: {r}"
        );
    }
    // The tarball the build used, and its checksum: Debian's orig tarball is python.org's
    // Python-3.11.2.tgz.
    match r["source"].as_str() {
        Some("debian-orig") => {
            assert_eq!(r["version"], "3.11.2", "{r}");
            assert_eq!(r["source_file"], "python3.11_3.11.2.orig.tar.gz", "{r}");
            assert_eq!(r["source_sha256"], PYTHON_3_11_2_TGZ, "{r}");
        }
        Some("python.org") => {
            assert_eq!(r["version"], "3.11.14", "{r}");
            assert_eq!(r["source_file"], "Python-3.11.14.tar.xz", "{r}");
        }
        _ => panic!("no source in the record: {r}"),
    }
    // `tag` names the same image, and a second build finds it.
    let mut args = vec!["tag".to_string()];
    args.extend(source_args());
    let out = Command::new(DBG_IMAGE)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), tag());
    let start = Instant::now();
    let mut build = vec!["build".to_string()];
    build.extend(source_args());
    let again = dbg_image(&build.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(again["built"], false, "{again}");
    assert_eq!(again["id"], r["id"]);
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
}

#[test]
fn refs_in_the_source_image_flags_refleak_and_not_clean() {
    let _turn = turn();
    let outcome = refs::refs(&refs::Options {
        place: in_image(),
        task: "refs-source-image".into(),
        ..refs::Options::default()
    })
    .expect("refs in the source image");
    assert_eq!(outcome.place, format!("image {}", tag()));
    assert_eq!(outcome.status(), Status::Findings);
    let leaky = outcome.get("refleak").expect("refleak ran");
    assert!(leaky.leaks(), "{leaky:?}");
    let clean = outcome.get("clean").expect("clean ran");
    assert!(!clean.leaks(), "{clean:?}");
}

/// The planted defects found in a memcheck outcome: (kind, function) of the kept records.
fn found(outcome: &memcheck::Outcome) -> BTreeSet<(String, String)> {
    outcome
        .records
        .iter()
        .map(|r| {
            let frame = r
                .project_frame
                .as_ref()
                .expect("a kept record has a project frame");
            (r.kind.clone(), frame.function.clone().unwrap_or_default())
        })
        .collect()
}

fn planted() -> BTreeSet<(String, String)> {
    demo::PLANTED_MEMCHECK
        .iter()
        .map(|(k, f)| (k.to_string(), f.to_string()))
        .collect()
}

#[test]
fn memcheck_in_the_source_image_finds_the_planted_defects() {
    let _turn = turn();
    let outcome = memcheck::memcheck(&memcheck::Options {
        place: in_image(),
        task: "memcheck-source-image".into(),
        ..memcheck::Options::default()
    })
    .expect("memcheck in the source image");
    assert_eq!(outcome.place, format!("image {}", tag()));
    assert_eq!(outcome.status, Status::Findings);
    assert_eq!(found(&outcome), planted());
    // The image's python3.11-dbg is its own build, not Debian's: the baseline is made for it
    // (or found made), not the one shipped for Debian's, which left interpreter records.
    let baseline = outcome.baseline.as_ref().expect("the default baseline");
    assert_ne!(
        baseline.origin,
        suppressions::Origin::Shipped,
        "{baseline:?}"
    );
    assert_eq!(outcome.summary.not_project, 0, "{:?}", outcome.summary);
}

/// Valgrind on the example with no `PYTHONMALLOC` at all. Without pymalloc every block is
/// malloc's, so Memcheck sees every planted defect; but a debug build's default allocator is
/// then `malloc_debug`, whose hooks put a header before each object and fill new memory with
/// 0xCD: the leaked object of `refleak` is reachable only through a pointer 16 bytes into its
/// block, which Memcheck calls possibly lost rather than still reachable. That is why the
/// memcheck recipe sets `PYTHONMALLOC=malloc` on this build too.
#[test]
fn valgrind_without_pythonmalloc_in_the_source_image() {
    let _turn = turn();
    let ws = Workspace::default();
    let place = place::choose("test", &[], &in_image(), &ws).expect("the source image");
    let python = Path::new("python3.11-dbg");
    let example = place
        .example(python)
        .expect("the example built in the image");
    assert!(
        example.so.to_string_lossy().contains("cpython-311d"),
        "{}",
        example.so.display()
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image_source");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("vg.nopythonmalloc.log");
    let _ = std::fs::remove_file(&log);
    let mut argv: Vec<OsString> = ["valgrind"]
        .iter()
        .chain(memcheck::VALGRIND_OPTIONS)
        .map(OsString::from)
        .collect();
    argv.push(format!("--log-file={}", log.display()).into());
    argv.push("--num-callers=50".into());
    argv.push(python.into());
    argv.push(example.driver.clone().into());
    argv.push("all-defects".into());
    // The image sets no PYTHONMALLOC, and neither does this run: prove it inside.
    let env = [(
        "DBGPIPE_EXAMPLE_DIR".to_string(),
        OsString::from(&example.dir),
    )];
    let mut check: Vec<OsString> = vec!["sh".into(), "-c".into()];
    check.push("test -z \"${PYTHONMALLOC+set}\"".into());
    let unset = place
        .command(&check, &env, false)
        .unwrap()
        .status()
        .unwrap();
    assert!(unset.success(), "PYTHONMALLOC is set in the image");
    let out = place
        .command(&argv, &env, false)
        .unwrap()
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let filtered = Command::new(env!("CARGO_BIN_EXE_vg-filter"))
        .arg("--project")
        .arg("--root")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(filtered.status.code(), Some(1), "{filtered:?}");
    let got: BTreeSet<(String, String)> = String::from_utf8_lossy(&filtered.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "error")
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["project_frame"]["function"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want = planted();
    assert!(want.remove(&("Leak_StillReachable".into(), "refleak".into())));
    want.insert(("Leak_PossiblyLost".into(), "refleak".into()));
    assert_eq!(got, want);
    // The same run under PYTHONMALLOC=malloc, as the recipe does it: the object is malloc's.
    let env = [
        env[0].clone(),
        ("PYTHONMALLOC".to_string(), OsString::from("malloc")),
    ];
    let out = place.command(&argv, &env, false).unwrap().output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let filtered = Command::new(env!("CARGO_BIN_EXE_vg-filter"))
        .args(["--project", "--root", env!("CARGO_MANIFEST_DIR")])
        .arg(&log)
        .output()
        .unwrap();
    let refleak: Vec<String> = String::from_utf8_lossy(&filtered.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "error" && r["project_frame"]["function"] == "refleak")
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refleak, ["Leak_StillReachable"]);
}

#[test]
fn segv_in_the_source_image_names_the_crashing_frame() {
    let _turn = turn();
    let outcome = segv::segv(&segv::Options {
        place: in_image(),
        example_functions: vec!["crash_null".into()],
        task: "segv-source-image".into(),
        ..segv::Options::default()
    })
    .expect("segv in the source image");
    assert_eq!(outcome.place, format!("image {}", tag()));
    let run = outcome.get("crash_null").expect("crash_null ran");
    assert!(run.refused.is_none(), "{:?}", run.refused);
    assert_eq!(run.top_function(), Some("dbgpipe_store"));
}
