//! The installed runner, `dbgpipe`, on real third-party extensions, run as their maintainers
//! would: from inside an unpacked sdist (an in-place build with debug information), with
//! nothing but the command and the defaults.
//!
//! The sdists and workloads are in `tests/data/thirdparty/` (provenance, licences and the
//! measured facts in its README): python-rapidjson 1.23 (a leaking `RawJSON` constructor, the
//! same leak seen as references, and a crash in `dumps_internal`) against 1.24, which fixed
//! all three, and bitarray 1.8.1 (a crash in `bitarray_copy`) against 1.8.2.
//!
//! Needs python3.11-dbg with its headers, a C/C++ compiler, valgrind and gdb (`.ci/run`
//! installs them). Each checkout is built once per test process.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

const DBGPIPE: &str = env!("CARGO_BIN_EXE_dbgpipe");
const VG_FILTER: &str = env!("CARGO_BIN_EXE_vg-filter");
const PYTHON: &str = "python3.11-dbg";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/thirdparty")
}

/// A scratch folder of this test binary's, emptied once per process.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("thirdparty");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// The sdist `file` unpacked as a user's checkout, its workloads (from `workloads`) copied
/// in beside their code, and built in place with debug information: once per process.
fn checkout(file: &str, workloads: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, dir)) = built.iter().find(|(f, _)| f == file) {
        return dir.clone();
    }
    let name = file.trim_end_matches(".tar.gz");
    let dir = scratch().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("tar")
        .args(["xzf"])
        .arg(data().join(file))
        .args(["--strip-components=1", "-C"])
        .arg(&dir)
        .status()
        .expect("tar");
    assert!(status.success(), "unpacking {file}");
    for entry in std::fs::read_dir(data().join(workloads)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let out = Command::new(PYTHON)
        .args(["setup.py", "build_ext", "--inplace"])
        .env("CFLAGS", "-O0 -g")
        .current_dir(&dir)
        .output()
        .expect("python3.11-dbg setup.py");
    assert!(
        out.status.success(),
        "building {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    built.push((file.to_string(), dir.clone()));
    dir
}

/// `dbgpipe ARGS` from inside `checkout`, with a cache of its own (a first run's baseline).
fn dbgpipe(checkout: &Path, args: &[&str]) -> Output {
    let out = Command::new(DBGPIPE)
        .args(args)
        .current_dir(checkout)
        .env("XDG_CACHE_HOME", scratch().join("cache"))
        .env_remove("PYTHONPATH")
        .output()
        .expect("running dbgpipe");
    eprintln!(
        "dbgpipe {}: {}\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn records_of<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn memcheck_names_the_leaking_constructor_in_the_affected_release_and_passes_the_fixed_one() {
    let affected = checkout("python_rapidjson-1.23.tar.gz", "python-rapidjson");
    let out = dbgpipe(&affected, &["memcheck", "--", PYTHON, "leak.py"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("applied the shipped baseline for python3.11-dbg"),
        "{text}"
    );
    // Outputs go under the user's project, not into dbgpipe's tree.
    let lines = jsonl(&affected.join(".dbgpipe/memcheck/records.jsonl"));
    let leaks: Vec<&Value> = records_of(&lines, "error")
        .into_iter()
        .filter(|r| r["kind"] == "Leak_DefinitelyLost")
        .collect();
    assert_eq!(leaks.len(), 1, "{leaks:#?}");
    let frame = &leaks[0]["project_frame"];
    assert!(
        frame["function"]
            .as_str()
            .unwrap()
            .starts_with("RawJSON_new"),
        "{frame}"
    );
    assert!(
        frame["file"].as_str().unwrap().ends_with("rapidjson.cpp"),
        "{frame}"
    );
    assert_eq!(leaks[0]["bytes"], 240, "ten 24-byte objects");
    assert!(text.contains("RawJSON_new"), "{text}");

    // Its own records as the baseline: the known leak no longer fails the run.
    let baseline = scratch().join("rapidjson-1.23-baseline.jsonl");
    std::fs::copy(affected.join(".dbgpipe/memcheck/records.jsonl"), &baseline).unwrap();
    let out = dbgpipe(
        &affected,
        &[
            "memcheck",
            "--baseline",
            baseline.to_str().unwrap(),
            "--",
            PYTHON,
            "leak.py",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("against the baseline: 0 new,"),
        "{}",
        stdout(&out)
    );

    // The fixed release, its normal use: exit 0 with the default options, although the
    // module's setup (multi-phase init, module_exec) leaves blocks possibly lost and reachable.
    let fixed = checkout("python_rapidjson-1.24.tar.gz", "python-rapidjson");
    let out = dbgpipe(&fixed, &["memcheck", "--", PYTHON, "leak.py"]);
    let lines = jsonl(&fixed.join(".dbgpipe/memcheck/records.jsonl"));
    let kept = records_of(&lines, "error");
    assert_eq!(out.status.code(), Some(0), "{kept:#?}");
    let text = stdout(&out);
    assert!(
        text.contains("applied the shipped baseline for python3.11-dbg"),
        "{text}"
    );
    assert!(text.contains("(not failing)"), "{text}");
    assert!(
        kept.iter().all(|r| r["kind"] != "Leak_DefinitelyLost"),
        "{kept:#?}"
    );
    assert!(
        kept.iter().any(|r| r["module_init"] == true),
        "the module's setup records are kept and marked: {kept:#?}"
    );
}

#[test]
fn segv_names_the_project_frame_and_tells_the_two_crash_sites_apart() {
    let rapidjson = checkout("python_rapidjson-1.23.tar.gz", "python-rapidjson");
    let bitarray = checkout("bitarray-1.8.1.tar.gz", "bitarray");
    let crash = |dir: &Path, script: &str| -> Value {
        let out = dbgpipe(dir, &["segv", "--", PYTHON, script]);
        assert_eq!(out.status.code(), Some(1), "a crash");
        let lines = jsonl(&dir.join(".dbgpipe/segv/command.jsonl"));
        let crashes = records_of(&lines, "crash");
        assert_eq!(crashes.len(), 1, "{lines:#?}");
        crashes[0].clone()
    };
    let a = crash(&rapidjson, "crash_a.py");
    let b = crash(&bitarray, "crash_b.py");
    // A pattern adds to the root, it does not replace it.
    let out = dbgpipe(
        &bitarray,
        &[
            "segv",
            "--project=no-such-object",
            "--",
            PYTHON,
            "crash_b.py",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("(project: bitarray_copy)"),
        "{}",
        stdout(&out)
    );
    let project_function = |c: &Value| -> String {
        c["project_frame"]["function"]
            .as_str()
            .unwrap_or_else(|| panic!("no project frame: {c:#}"))
            .to_string()
    };
    assert!(project_function(&a).starts_with("dumps_internal"), "{a:#}");
    // Frame 0 is glibc's memcpy; the project's frame is the caller.
    assert!(project_function(&b).starts_with("bitarray_copy"), "{b:#}");
    assert_eq!(a["signal"], "SIGSEGV");
    assert_ne!(a["signature"], b["signature"]);

    // The fixed releases do not crash: 1.24 prints [null], 1.8.2 raises TypeError.
    for (file, dir, script) in [
        (
            "python_rapidjson-1.24.tar.gz",
            "python-rapidjson",
            "crash_a.py",
        ),
        ("bitarray-1.8.2.tar.gz", "bitarray", "crash_b.py"),
    ] {
        let fixed = checkout(file, dir);
        let out = dbgpipe(&fixed, &["segv", "--", PYTHON, script]);
        assert_eq!(out.status.code(), Some(0), "{file}");
    }
}

#[test]
fn refs_finds_the_reference_leak_from_the_checkout() {
    let affected = checkout("python_rapidjson-1.23.tar.gz", "python-rapidjson");
    // The root goes on PYTHONPATH: the in-place build and workloads.py import from it.
    let out = dbgpipe(&affected, &["refs", "--rounds", "200", "workloads:refleak"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("LEAK"), "{text}");
    // Rounded for people: `refs +1/round`, not 1.0000000000000002.
    assert!(text.contains("refs +1/round"), "{text}");
    let fixed = checkout("python_rapidjson-1.24.tar.gz", "python-rapidjson");
    let out = dbgpipe(&fixed, &["refs", "--rounds", "200", "workloads:refleak"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

/// `valgrind --leak-check=full FLAGS python3.11-dbg leak.py` in `dir`, its log in `dir/NAME`.
fn valgrind_leak(dir: &Path, flags: &[&str], name: &str) -> PathBuf {
    let log = dir.join(name);
    let status = Command::new("valgrind")
        .arg("--leak-check=full")
        .args(flags)
        .arg(format!("--log-file={}", log.display()))
        .args([PYTHON, "leak.py"])
        .current_dir(dir)
        .env("PYTHONMALLOC", "malloc")
        .status()
        .expect("valgrind");
    assert!(status.success());
    log
}

/// `vg-filter ARGS LOG --fail-on Leak_DefinitelyLost` in `dir`.
fn vg_filter(dir: &Path, args: &[&str], log: &Path) -> Output {
    Command::new(VG_FILTER)
        .args(args)
        .args(["--fail-on", "Leak_DefinitelyLost"])
        .arg(log)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The README's first pipe, from the checkout, as a user types it: Valgrind's defaults
/// (base names, 12 callers) and `--project`.
#[test]
fn the_raw_pipe_finds_the_leak_from_the_checkout() {
    let affected = checkout("python_rapidjson-1.23.tar.gz", "python-rapidjson");
    let log = valgrind_leak(&affected, &[], "vg.log");
    // Under the root, and by package name (the source's base name, rapidjson.cpp, holds it).
    for project in ["--project", "--project=rapidjson"] {
        let out = vg_filter(&affected, &[project], &log);
        assert_eq!(out.status.code(), Some(1), "{project}");
        assert!(stdout(&out).contains("RawJSON_new"), "{project}");
    }

    // Stacks too short to reach the project: vg-filter says how to rerun valgrind.
    let short = valgrind_leak(&affected, &["--num-callers=4"], "vg-short.log");
    let out = vg_filter(&affected, &["--project"], &short);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the leak is cut off: {err}");
    assert!(err.contains("--num-callers="), "{err}");
}

/// A wheel built from the user's tree and installed into a venv elsewhere: the module loads
/// from the venv's site-packages, outside the root, and its debug information still names the
/// tree's sources, which make its frames the project's.
#[test]
fn segv_finds_the_project_frame_in_a_wheel_installed_into_a_venv() {
    let tree = checkout("bitarray-1.8.1.tar.gz", "bitarray");
    let work = scratch().join("wheel");
    let (dist, venv, scripts) = (work.join("dist"), work.join("venv"), work.join("scripts"));
    for dir in [&dist, &scripts] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let run = |program: &Path, args: &[&str]| {
        let out = Command::new(program)
            .args(args)
            .env("CFLAGS", "-O0 -g")
            .current_dir(&tree)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        Path::new(PYTHON),
        &[
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            dist.to_str().unwrap(),
            ".",
        ],
    );
    run(Path::new(PYTHON), &["-m", "venv", venv.to_str().unwrap()]);
    let wheel = std::fs::read_dir(&dist)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let python = venv.join("bin/python");
    run(
        &python,
        &[
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            wheel.to_str().unwrap(),
        ],
    );
    // The script lies outside the tree, so that `bitarray` is imported from the venv.
    std::fs::copy(tree.join("crash_b.py"), scripts.join("crash_b.py")).unwrap();
    let out = dbgpipe(
        &tree,
        &[
            "segv",
            "--",
            python.to_str().unwrap(),
            scripts.join("crash_b.py").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    // The module the script imports is the venv's, outside the tree.
    let imported = Command::new(&python)
        .args(["-c", "import bitarray._bitarray as m; print(m.__file__)"])
        .current_dir(&scripts)
        .output()
        .unwrap();
    let imported = String::from_utf8_lossy(&imported.stdout);
    assert!(
        imported.contains("/wheel/venv/lib/python3.11/site-packages/bitarray/"),
        "{imported}"
    );
    let lines = jsonl(&tree.join(".dbgpipe/segv/command.jsonl"));
    let crash = records_of(&lines, "crash")[0].clone();
    assert!(
        crash["project_frame"]["function"]
            .as_str()
            .is_some_and(|f| f.starts_with("bitarray_copy")),
        "{crash:#}"
    );
}
