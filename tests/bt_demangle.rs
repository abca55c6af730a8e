//! bt-demangle on real gdb sessions of the bundled extensions, and on bad input.
//!
//! Two extensions are built against the debug interpreter's headers: the C one
//! (`examples/dbgpipe_example`, whose `crash_null` writes through NULL) with debug
//! information and a stripped copy of it, and the C++ one (`examples/dbgpipe_cpp`, which
//! crashes inside `std::unordered_map::emplace`) with and without `-g`. Each crash runs under
//! `gdb -batch`, all sessions in parallel, once per test process. These tests need gdb,
//! python3.11-dbg, a C and a C++ compiler, strip and c++filt (binutils); they fail, not skip,
//! when one is missing. gdb needs ptrace, which root in a container has.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use xtask::example::{self, Example};

const BT: &str = env!("CARGO_BIN_EXE_bt-demangle");

fn tmp() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bt_demangle");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One gdb session to capture.
struct Session {
    name: &'static str,
    ext: Ext,
    /// gdb commands run before `run` (`set print demangle off`).
    before: &'static [&'static str],
    /// gdb commands run after the crash.
    after: &'static [&'static str],
    /// Start a second, sleeping thread before the crash.
    thread: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ext {
    C,
    CStripped,
    CppDebug,
    Cpp,
}

const BT_ONLY: &[&str] = &["bt"];
const ALL_THREADS: &[&str] = &["bt", "thread apply all bt"];
const DEMANGLE_OFF: &[&str] = &["set print demangle off"];

const SESSIONS: &[Session] = &[
    Session {
        name: "c",
        ext: Ext::C,
        before: &[],
        after: &["bt", "py-bt"],
        thread: false,
    },
    Session {
        name: "c-again",
        ext: Ext::C,
        before: &[],
        after: BT_ONLY,
        thread: false,
    },
    Session {
        name: "c-stripped",
        ext: Ext::CStripped,
        before: &[],
        after: BT_ONLY,
        thread: false,
    },
    Session {
        name: "c-thread",
        ext: Ext::C,
        before: &[],
        after: ALL_THREADS,
        thread: true,
    },
    Session {
        name: "cpp",
        ext: Ext::Cpp,
        before: &[],
        after: ALL_THREADS,
        thread: true,
    },
    Session {
        name: "cpp-again",
        ext: Ext::Cpp,
        before: &[],
        after: ALL_THREADS,
        thread: true,
    },
    Session {
        name: "cpp-mangled",
        ext: Ext::Cpp,
        before: DEMANGLE_OFF,
        after: ALL_THREADS,
        thread: true,
    },
    Session {
        name: "cpp-g",
        ext: Ext::CppDebug,
        before: &[],
        after: ALL_THREADS,
        thread: true,
    },
    Session {
        name: "cpp-g-mangled",
        ext: Ext::CppDebug,
        before: DEMANGLE_OFF,
        after: ALL_THREADS,
        thread: true,
    },
];

/// gdb's output of every session, by name.
fn sessions() -> &'static BTreeMap<&'static str, String> {
    static RUNS: OnceLock<BTreeMap<&'static str, String>> = OnceLock::new();
    RUNS.get_or_init(|| {
        let python = example::debug_python()
            .expect("python3.11-dbg is required (apt-get install python3.11-dbg)");
        let dir = tmp();
        let c = example::build(&python, &dir.join("c")).expect("building the C example");
        let stripped = strip(&c, &dir.join("c-stripped"));
        let cpp =
            example::build_cpp(&python, &dir.join("cpp"), false).expect("building the C++ example");
        let cpp_g = example::build_cpp(&python, &dir.join("cpp-g"), true)
            .expect("building the C++ example with -g");
        let handles: Vec<_> = SESSIONS
            .iter()
            .map(|s| {
                let ex = match s.ext {
                    Ext::C => c.clone(),
                    Ext::CStripped => stripped.clone(),
                    Ext::CppDebug => cpp_g.clone(),
                    Ext::Cpp => cpp.clone(),
                };
                std::thread::spawn(move || (s.name, gdb(&ex, s)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A copy of the C example without its debug information, as a release build ships.
fn strip(c: &Example, dir: &Path) -> Example {
    std::fs::create_dir_all(dir).unwrap();
    let so = dir.join(c.so.file_name().unwrap());
    let status = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&so)
        .arg(&c.so)
        .status()
        .expect("strip (binutils) is required: apt-get install binutils");
    assert!(status.success());
    Example {
        so,
        dir: dir.to_path_buf(),
        ..c.clone()
    }
}

/// Runs one session: `gdb -q -batch [before…] -ex run [after…] --args python …`.
fn gdb(ex: &Example, s: &Session) -> String {
    let mut cmd = Command::new("gdb");
    cmd.args(["-q", "-batch", "-nx"]);
    // -nx skips ~/.gdbinit but also the auto-loaded Python helpers; load the interpreter's
    // own (for py-bt) explicitly.
    cmd.args(["-iex", "set auto-load safe-path /"]);
    cmd.args(["-iex", "set auto-load python-scripts on"]);
    for c in s.before {
        cmd.args(["-ex", c]);
    }
    cmd.args(["-ex", "run"]);
    for c in s.after {
        cmd.args(["-ex", c]);
    }
    cmd.arg("--args").arg(&ex.python);
    let is_cpp = matches!(s.ext, Ext::Cpp | Ext::CppDebug);
    if is_cpp {
        cmd.arg(&ex.driver).arg("crash_map");
        if s.thread {
            cmd.arg("--thread");
        }
    } else if s.thread {
        let script = "import sys, threading, time; sys.path.insert(0, sys.argv[1]); \
                      import dbgpipe_example as m; \
                      threading.Thread(target=time.sleep, args=(60,), daemon=True).start(); \
                      time.sleep(0.2); m.crash_null()";
        cmd.arg("-c").arg(script).arg(&ex.dir);
    } else {
        cmd.arg(&ex.driver).arg("crash_null");
    }
    cmd.env(example::DIR_ENV, &ex.dir)
        .current_dir(example::repo_root());
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("gdb is required (apt-get install gdb)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("received signal SIGSEGV"),
        "{}: gdb saw no crash (is ptrace allowed?)\n{text}\n{}",
        s.name,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(tmp().join(format!("{}.gdb.txt", s.name)), &text).unwrap();
    text
}

fn bt(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BT)
        .args(args)
        .current_dir(example::repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// bt-demangle's JSON lines for a session (the project being the checkout, by default).
fn jsonl(session: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--format", "jsonl"];
    args.extend_from_slice(extra);
    let out = bt(&args, sessions()[session].as_bytes());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&out)
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_type<'a>(recs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["type"] == kind).collect()
}

fn crash(recs: &[Value]) -> &Value {
    let crashes = of_type(recs, "crash");
    assert_eq!(crashes.len(), 1, "{crashes:?}");
    crashes[0]
}

fn summary(recs: &[Value]) -> &Value {
    let last = recs.last().expect("a summary");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["tool"], "bt-demangle");
    assert_eq!(last["schema"], 2);
    last
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The first backtrace's frames (thread of the first frame), in order.
fn first_stack(recs: &[Value]) -> Vec<&Value> {
    let frames = of_type(recs, "frame");
    let mut stack = Vec::new();
    for f in frames {
        if f["index"] == 0 && !stack.is_empty() {
            break;
        }
        stack.push(f);
    }
    stack
}

#[test]
fn the_c_crash_has_its_project_frames_classes_and_a_stable_signature() {
    let recs = jsonl("c", &[]);
    let stack = first_stack(&recs);
    assert_eq!(s(&stack[0]["function"]), "dbgpipe_store");
    assert_eq!(s(&stack[0]["args"]), "p=0x0, v=42");
    assert!(s(&stack[0]["file"]).ends_with("examples/dbgpipe_example/dbgpipe_example.c"));
    assert!(stack[0]["line"].as_u64().unwrap() > 0);
    assert_eq!(stack[0]["class"], "project");
    assert_eq!(s(&stack[1]["function"]), "crash_null");
    assert_eq!(stack[1]["class"], "project");
    assert_eq!(s(&stack[2]["function"]), "cfunction_vectorcall_NOARGS");
    // Below the extension: the interpreter, down to main.
    assert!(
        stack[2..].iter().all(|f| f["class"] == "python"),
        "{stack:#?}"
    );
    assert!(stack
        .iter()
        .any(|f| f["function"] == "_PyEval_EvalFrameDefault"));
    let c = crash(&recs);
    assert_eq!(c["signal"], "SIGSEGV");
    // gdb 8 and later say "Program received signal" when there was only ever thread 1, but
    // older ones say it of any thread: the report names no thread, and none is invented.
    assert_eq!(c["thread"], Value::Null, "{c}");
    assert_eq!(c["project_frame"]["function"], "dbgpipe_store");
    assert_eq!(
        c["signature_functions"],
        serde_json::json!(["dbgpipe_store", "crash_null"])
    );
    // py-bt's frames.
    let py = of_type(&recs, "py_frame");
    assert!(
        py.iter()
            .any(|p| p["function"] == "call" && s(&p["file"]).ends_with("run.py")),
        "{py:?}"
    );
    assert_eq!(summary(&recs)["unparsed_lines"], 0);

    // The same crash again: the same signature; without debug information: the same too.
    let again = jsonl("c-again", &[]);
    assert_eq!(crash(&again)["signature"], c["signature"]);
    let stripped = jsonl("c-stripped", &[]);
    let top = first_stack(&stripped)[0];
    assert_eq!(
        (s(&top["function"]), &top["args"]),
        ("dbgpipe_store", &Value::from(""))
    );
    assert!(top["file"].is_null() && s(&top["object"]).ends_with(".so"));
    assert!(top.get("library").is_none(), "schema 2: {top}");
    assert_eq!(top["class"], "project");
    assert_eq!(crash(&stripped)["signature"], c["signature"]);
}

#[test]
fn a_second_thread_is_read_and_the_crashing_one_is_chosen() {
    let recs = jsonl("c-thread", &[]);
    let c = crash(&recs);
    assert_eq!(c["thread"], 1);
    assert!(s(&c["thread_name"]).starts_with("python3.11"), "{c}");
    assert_eq!(c["project_frame"]["function"], "dbgpipe_store");
    assert_eq!(summary(&recs)["threads"], 2);
    let second: Vec<&Value> = of_type(&recs, "frame")
        .into_iter()
        .filter(|f| f["thread"] == 2)
        .collect();
    assert!(!second.is_empty());
    assert!(
        second.iter().all(|f| f["class"] != "project"),
        "{second:#?}"
    );
    assert!(second.iter().any(|f| f["class"] == "system"), "{second:#?}");
    // The same crash with and without a second thread: the same signature.
    assert_eq!(c["signature"], crash(&jsonl("c", &[]))["signature"]);
}

#[test]
fn the_cpp_crash_is_short_readable_and_stable() {
    let recs = jsonl("cpp", &[]);
    let stack = first_stack(&recs);
    let top = stack[0];
    let function = s(&top["function"]);
    assert!(
        function.contains("_Hashtable")
            && function.contains("_M_emplace")
            && function.contains("dbgpipe::parameter")
            && function.contains("std::string_view"),
        "{function}"
    );
    assert!(function.len() < 160, "{} chars: {function}", function.len());
    assert!(s(&top["function_raw"]).len() > 800);
    assert!(
        s(&top["function_raw"]).contains("std::basic_string_view<char, std::char_traits<char> >")
    );
    assert_eq!(
        top["class"], "project",
        "the extension built under the checkout"
    );
    assert_eq!(top["inlined"], false);
    assert!(s(&stack[1]["function"]).starts_with("dbgpipe::insert("));
    assert_eq!(s(&stack[2]["function"]), "crash_map(_object*, _object*)");
    let c = crash(&recs);
    assert_eq!(c["thread"], 1);
    assert_eq!(summary(&recs)["threads"], 2);
    assert_eq!(
        c["signature_functions"],
        serde_json::json!([
            "std::_Hashtable::_M_emplace",
            "dbgpipe::insert",
            "crash_map"
        ])
    );
    // Stable across runs, independent of gdb's demangling, distinct from the C crash.
    assert_eq!(crash(&jsonl("cpp-again", &[]))["signature"], c["signature"]);
    assert_eq!(
        crash(&jsonl("cpp-mangled", &[]))["signature"],
        c["signature"]
    );
    assert_ne!(c["signature"], crash(&jsonl("c", &[]))["signature"]);
    // --no-simplify keeps the name whole; --depth 0 folds every template.
    let whole = jsonl("cpp", &["--no-simplify"]);
    assert_eq!(first_stack(&whole)[0]["function"], top["function_raw"]);
    let folded = jsonl("cpp", &["--depth", "0"]);
    assert_eq!(
        s(&first_stack(&folded)[0]["function"]),
        "std::_Hashtable<…>::_M_emplace<…>(std::integral_constant<…>, std::string_view&, dbgpipe::parameter&&)"
    );
}

#[test]
fn the_cpp_crash_with_debug_information_has_inlined_frames() {
    let recs = jsonl("cpp-g", &[]);
    let stack = first_stack(&recs);
    assert_eq!(s(&stack[0]["function"]), "dbgpipe::BadHash::operator()");
    assert!(
        stack.iter().take(3).all(|f| f["addr"].is_null()),
        "{stack:#?}"
    );
    // gdb prints no address for #1 and #2 because they are inlined, and none for #0 because
    // it stopped at the first instruction of a line (or is inlined: the text cannot say).
    assert_eq!(stack[0]["inlined"], false);
    assert_eq!(
        (&stack[1]["inlined"], &stack[2]["inlined"]),
        (&Value::from(true), &Value::from(true))
    );
    assert!(stack.iter().any(|f| s(&f["function"])
        .starts_with("std::_Hashtable<…>::_M_emplace<std::string_view&, dbgpipe::parameter>")));
    let insert = stack
        .iter()
        .find(|f| f["function"] == "dbgpipe::insert")
        .expect("dbgpipe::insert");
    assert_eq!(insert["class"], "project");
    assert!(s(&insert["file"]).ends_with("examples/dbgpipe_cpp/dbgpipe_cpp.cpp"));
    assert!(s(&insert["args"]).contains("key=\"key\""));
    // libstdc++'s templates inlined from /usr/include are the system's.
    assert!(stack
        .iter()
        .any(|f| s(&f["file"]).starts_with("/usr/include/c++/") && f["class"] == "system"));
    let c = crash(&recs);
    assert_eq!(c["project_frame"]["function"], "dbgpipe::insert");
    assert_eq!(
        crash(&jsonl("cpp-g-mangled", &[]))["signature"],
        c["signature"]
    );
    assert_eq!(summary(&recs)["unparsed_lines"], 0);
}

/// With `set print demangle off` gdb prints linkage names; bt-demangle's names for them must
/// be what binutils' `c++filt` prints.
#[test]
fn names_demangled_from_gdb_equal_cppfilt() {
    let mut mangled = Vec::new();
    for session in ["cpp-mangled", "cpp-g-mangled"] {
        for f in of_type(&jsonl(session, &["--no-simplify"]), "frame") {
            let raw = s(&f["function_raw"]);
            if raw.starts_with("_Z") {
                mangled.push((raw.to_string(), s(&f["function"]).to_string()));
            }
        }
    }
    mangled.sort();
    mangled.dedup();
    assert!(mangled.len() >= 6, "{mangled:?}");
    // `-i`: without implementation details (`std::string`, not `std::__cxx11::basic_string<…>`),
    // as gdb itself prints names.
    let out = Command::new("c++filt")
        .arg("-i")
        .args(mangled.iter().map(|(m, _)| m))
        .output()
        .expect("c++filt (binutils) is required: apt-get install binutils");
    let printed = String::from_utf8(out.stdout).unwrap();
    let cppfilt: Vec<&str> = printed.lines().collect();
    assert_eq!(cppfilt.len(), mangled.len());
    for ((raw, ours), theirs) in mangled.iter().zip(&cppfilt) {
        assert_eq!(ours, theirs, "{raw}");
    }
}

#[test]
fn text_output_folds_the_interpreter_and_marks_the_project() {
    let input = sessions()["cpp"].as_bytes();
    let out = bt(&[], input);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let top = text
        .lines()
        .find(|l| l.starts_with("#0  0x") && l.contains("_M_emplace"))
        .expect("frame #0");
    assert!(
        top.contains("std::_Hashtable<…>::_M_emplace<std::string_view&, dbgpipe::parameter>"),
        "{top}"
    );
    assert!(top.ends_with("  <- project"), "{top}");
    assert!(top.len() < 300, "{top}");
    assert!(
        text.lines()
            .any(|l| l.trim().starts_with("… ") && l.ends_with(" interpreter frames …")),
        "{text}"
    );
    assert!(
        text.contains("received signal SIGSEGV"),
        "gdb's lines pass through"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("crash: SIGSEGV (Segmentation fault) in thread 1")),
        "{text}"
    );
    let all = String::from_utf8(bt(&["--all", "--keep-args"], input).stdout).unwrap();
    assert!(!all.contains("interpreter frames"));
    assert!(
        all.contains("_PyEval_EvalFrameDefault (tstate="),
        "--keep-args shows values"
    );
    assert!(all.lines().count() > text.lines().count());

    let csv = String::from_utf8(bt(&["--format", "csv"], input).stdout).unwrap();
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some("thread,index,class,function,file,line,object,addr,inlined,lwp")
    );
    let first = rows.next().unwrap();
    assert!(
        first.starts_with("1,0,project,\"std::_Hashtable<…>::_M_emplace"),
        "{first}"
    );
}

#[test]
fn bad_input_is_read_or_refused_in_one_line() {
    let mut noise = Vec::new();
    let mut x: u32 = 7;
    for _ in 0..200_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        noise.push((x >> 16) as u8);
    }
    let gdb_text = sessions()["cpp"].clone();
    let crlf = gdb_text.replace('\n', "\r\n");
    let truncated = gdb_text[..gdb_text.len() * 2 / 3].to_string();
    let mut long = b"#0  0x1 in ".to_vec();
    long.extend(vec![b'_'; 3 << 20]);
    long.extend(b" ()\n#1  0x2 in f () from /x.so\n");
    let non_utf8 = b"Program received signal SIGSEGV, Segmentation fault.\n#0  0x1 in f\xff\xfe (s=\"\xc3\") at /src/\xff.c:3\n\xff\xfe plain\n".to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("noise", noise),
        ("crlf", crlf.into_bytes()),
        ("truncated", truncated.into_bytes()),
        ("long", long),
        ("non-utf8", non_utf8),
    ];
    for (name, data) in &cases {
        for format in ["text", "jsonl", "csv"] {
            let out = bt(&["--format", format], data);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "{name} {format}: {err}");
            if *name == "noise" {
                // Binary data is no gdb output: refused in one line, nothing written.
                assert_eq!(out.status.code(), Some(2), "{name} {format}: {err}");
                assert_eq!(err, "bt-demangle: <stdin>: is binary data, not a log\n");
                assert!(out.stdout.is_empty());
                continue;
            }
            assert_eq!(out.status.code(), Some(0), "{name} {format}: {err}");
        }
        if *name == "noise" {
            continue;
        }
        let recs = lines(&bt(&["--format", "jsonl"], data));
        let sum = summary(&recs);
        match *name {
            "empty" => assert_eq!(
                (sum["lines"].as_u64(), sum["frames"].as_u64()),
                (Some(0), Some(0))
            ),
            "crlf" => {
                let plain = lines(&bt(&["--format", "jsonl"], gdb_text.as_bytes()));
                assert_eq!(sum["frames"], summary(&plain)["frames"]);
                assert_eq!(crash(&recs)["signature"], crash(&plain)["signature"]);
            }
            "truncated" => assert!(sum["frames"].as_u64().unwrap() > 0),
            "long" => {
                assert_eq!(sum["long_lines"], 1);
                assert_eq!(sum["frames"], 2);
            }
            "non-utf8" => {
                assert_eq!(sum["frames"], 1);
                // Lines that are not UTF-8 pass through as they are.
                let text = bt(&[], data).stdout;
                let line: &[u8] = b"\n\xff\xfe plain\n";
                assert!(
                    text.windows(line.len()).any(|w| w == line),
                    "{}",
                    String::from_utf8_lossy(&text)
                );
            }
            _ => {}
        }
    }

    let dir = tmp();
    let missing = dir.join("no-such.txt");
    for (args, needle) in [
        (vec![missing.to_str().unwrap()], "no-such.txt"),
        (vec![dir.to_str().unwrap()], "is a directory"),
        (vec!["--format", "yaml"], "yaml"),
        (vec!["--depth", "x"], "--depth"),
    ] {
        let out = bt(&args, b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        if !args[0].starts_with("--") {
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
            assert!(err.starts_with("bt-demangle: "), "{err}");
        }
    }
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let mut big = String::new();
    while big.len() < 4 << 20 {
        big.push_str(&sessions()["cpp"]);
    }
    let mut child = Command::new(BT)
        .arg("--all")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(big.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The inputs that are no gdb output: an executable (often `--project lib.so` written without
/// `=`) is refused naming it; a Valgrind log passes through with a note saying what was
/// expected, what it is and which tool reads it; other text with a note saying what was
/// expected; a symbol list and empty input get no note.
#[test]
fn input_that_is_no_gdb_output() {
    // Built by the sessions.
    let _ = sessions();
    let so = std::fs::read_dir(tmp().join("c"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "so"))
        .expect("the C example's shared object");
    let so_name = so.to_str().unwrap();
    for args in [vec![so_name], vec!["--project", so_name]] {
        let out = bt(&args, b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "bt-demangle: {so_name}: is an executable or shared object"
            )),
            "{err}"
        );
        assert!(err.contains("--project=PATTERN"), "{err}");
    }
    // A pattern written with a space, which is no file: the fix in one line.
    let out = bt(&["--project", "dbgpipe_example"], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--project=dbgpipe_example"), "{err}");

    let log = example::repo_root().join("tests/data/memcheck-logs/py311-leaky-gensupp.log");
    let text = std::fs::read(&log).unwrap();
    let lines = text.split(|&b| b == b'\n').count() - 1;
    let valgrind = String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| {
            l.strip_prefix("==").is_some_and(|r| {
                let digits = r.bytes().take_while(u8::is_ascii_digit).count();
                digits > 0 && r[digits..].starts_with("==")
            })
        })
        .count();
    for format in ["text", "jsonl", "csv"] {
        let out = bt(&["--format", format, log.to_str().unwrap()], b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
        let note = format!(
            "bt-demangle: {}: expected gdb's bt/backtrace output, but this looks like a Valgrind log ({valgrind} of {lines} lines start with ==PID==): read it with vg-filter; {lines} lines passed through",
            log.display()
        );
        assert_eq!(err.lines().next(), Some(note.as_str()), "{format}: {err}");
        if format == "text" {
            assert_eq!(out.stdout, text, "the log passes through as it was");
        }
        if format == "jsonl" {
            let recs = self::lines(&out);
            let sum = summary(&recs);
            assert_eq!(sum["lines"], lines);
            assert_eq!(sum["passed_lines"], lines);
            assert_eq!(sum["frames"], 0);
        }
    }
    // Two inputs: the note names the one that held nothing.
    let gdb_log = tmp().join("c.gdb.txt");
    let out = bt(&[gdb_log.to_str().unwrap(), log.to_str().unwrap()], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("py311-leaky-gensupp.log: expected gdb's bt/backtrace output, but this looks like a Valgrind log"),
        "{err}"
    );
    // Other text: what was expected, and that it passed through.
    let out = bt(&[], b"hello\nworld\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "bt-demangle: <stdin>: no gdb frames or signal found (expected gdb's bt/backtrace output); 2 lines passed through\n"
    );
    for quiet in [&b""[..], b"_ZN3foo3barEv\n"] {
        let out = bt(&[], quiet);
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `bt-demangle --format jsonl X | bt-demangle --format jsonl` gives the same records (the same
/// frames and crash signature) for every live session, and `… | bt-demangle` the text report
/// of X without gdb's lines that are no record (its chatter, the signal report, thread
/// headers, source lines: JSON lines carry records only), and the built-ins of `py-bt`
/// without the address gdb printed after them. The summary line is the same: the first
/// run's summary carries over what it read.
#[test]
fn json_lines_read_back_give_the_same_records_and_report() {
    for (name, gdb_text) in sessions() {
        let first = bt(&["--format", "jsonl"], gdb_text.as_bytes());
        let second = bt(&["--format", "jsonl"], &first.stdout);
        assert!(
            second.stderr.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&second.stderr)
        );
        let (a, b) = (lines(&first), lines(&second));
        assert_eq!(a.len(), b.len(), "{name}");
        assert_eq!(a[..a.len() - 1], b[..b.len() - 1], "{name}");
        assert_eq!(crash(&a)["signature"], crash(&b)["signature"], "{name}");
        assert!(crash(&b)["signature"].is_string(), "{name}");
        assert_eq!(crash(&b)["input"], "<stdin>");
        // What the first run read is carried over by its summary.
        let (mut sa, sb) = (summary(&a).clone(), summary(&b));
        sa["records_read"] = sb["records_read"].clone();
        assert_eq!(&sa, sb, "{name}");
        assert_eq!(sb["records_read"].as_u64(), Some(a.len() as u64), "{name}");

        let direct = String::from_utf8(bt(&[], gdb_text.as_bytes()).stdout).unwrap();
        let back = String::from_utf8(bt(&[], &first.stdout).stdout).unwrap();
        let direct: Vec<String> = direct.lines().map(without_remote_address).collect();
        let back: Vec<&str> = back.lines().collect();
        assert_eq!(
            direct.last().map(String::as_str),
            back.last().copied(),
            "{name}"
        );
        // Every line of the report read back is the report's, in order.
        let mut at = 0;
        for line in &back {
            let found = direct[at..].iter().position(|d| d == line);
            let Some(i) = found else {
                panic!(
                    "{name}: {line:?} is not in the direct report after line {at}:\n{}",
                    direct.join("\n")
                );
            };
            at += i + 1;
        }
        // And what it leaves out is no record: no frame, stop location, fold or crash line.
        let records = |lines: &mut dyn Iterator<Item = &str>| {
            lines
                .filter(|l| {
                    l.starts_with('#')
                        || l.starts_with("    … ")
                        || l.starts_with("crash: ")
                        || l.starts_with("  top: ")
                        || l.starts_with("  project: ")
                        || l.ends_with("  <- project")
                        || l.starts_with("  File \"")
                        || l.starts_with("  <built-in ")
                })
                .count()
        };
        assert_eq!(
            records(&mut direct.iter().map(String::as_str)),
            records(&mut back.iter().copied()),
            "{name}"
        );
    }
}

/// `<built-in method sleep of module object at remote 0x7ffff7bfb3d0>` → `<built-in method
/// sleep of module object>`: a `py-bt` line as it reads back.
fn without_remote_address(line: &str) -> String {
    match (line.find(" at remote 0x"), line.ends_with('>')) {
        (Some(i), true) if line.trim_start().starts_with("<built-in ") => {
            format!("{}>", &line[..i])
        }
        _ => line.to_string(),
    }
}

/// Known crashes: a run against its own output passes, another crash is new (exit 1), and
/// the baseline's crash that did not happen again is listed as fixed. Fingerprints do not
/// depend on where the checkout lies.
#[test]
fn a_baseline_of_known_crashes_tells_new_ones() {
    let c = sessions()["c"].as_bytes();
    let first = bt(&["--format", "jsonl"], c);
    let fingerprint = crash(&lines(&first))["fingerprint"].clone();
    assert_eq!(fingerprint.as_str().map(str::len), Some(16));
    let base = tmp().join("known-crashes.jsonl");
    std::fs::write(&base, &first.stdout).unwrap();
    let base = base.to_str().unwrap();

    let again = bt(&["--format", "jsonl", "--baseline", base], c);
    assert_eq!(again.status.code(), Some(0));
    let recs = lines(&again);
    assert_eq!(crash(&recs)["baseline"], "known");
    assert_eq!(summary(&recs)["known"], 1);

    // The C++ crash is another one: new, and the C crash is gone.
    let other = bt(
        &["--format", "jsonl", "--baseline", base],
        sessions()["cpp"].as_bytes(),
    );
    assert_eq!(other.status.code(), Some(1));
    let recs = lines(&other);
    assert_eq!(crash(&recs)["baseline"], "new");
    let fixed = of_type(&recs, "fixed");
    assert_eq!(fixed.len(), 1);
    assert_eq!(fixed[0]["fingerprint"], fingerprint);

    // The same gdb output from another checkout path: the same fingerprint.
    let root = example::repo_root().display().to_string();
    let moved = sessions()["c"].replace(&root, "/elsewhere/checkout");
    let recs = lines(&bt(
        &["--format", "jsonl", "--root", "/elsewhere/checkout"],
        moved.as_bytes(),
    ));
    assert_eq!(crash(&recs)["fingerprint"], fingerprint);
}
