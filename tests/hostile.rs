//! Hostile input for every binary: what CI pipelines fed by crashing programs hand the tools.
//!
//! For each tool and each of its inputs (the three filters' logs; ptrace-fix's gdb output
//! and its `--proc-root` tree; dbg-image's Dockerfile on stdin; run-in-image's env file):
//! empty input, binary noise, a 100 MB line (streamed into the child, its peak RSS measured
//! from `/proc/PID/status` while it reads), invalid UTF-8, CRLF line ends, a stdout closed
//! after one line (`| head -1`) and a real SIGPIPE pipeline, a missing file, a directory, an
//! unreadable file, and a file that fails mid-read. Each gets either the normal result or one
//! line on stderr naming the input with exit status 2; never a panic (101), never a hang.
//! (ptrace-fix refuses binary noise: it is no gdb output.)
//!
//! As root, a file of mode 000 is readable: the unreadable case then runs the tool as
//! `nobody` through `setpriv` (util-linux), where the file really is unreadable.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

const VG_FILTER: &str = env!("CARGO_BIN_EXE_vg-filter");
const BT_DEMANGLE: &str = env!("CARGO_BIN_EXE_bt-demangle");
const RSS_ROUNDS: &str = env!("CARGO_BIN_EXE_rss-rounds");
const PTRACE_FIX: &str = env!("CARGO_BIN_EXE_ptrace-fix");
const DBG_IMAGE: &str = env!("CARGO_BIN_EXE_dbg-image");
const RUN_IN_IMAGE: &str = env!("CARGO_BIN_EXE_run-in-image");

/// Size of the single-line input.
const HUGE: usize = 100 << 20;
/// Peak RSS a tool may reach on it: every input is read through bounded buffers, so this is
/// far below the input's size (a debug build needs 5 to 10 MB).
const RSS_BOUND_KB: u64 = 32 << 10;

fn tmp() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A file under the test directory with these bytes.
fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = tmp().join(name);
    // An earlier run may have left it unwritable (mode 000).
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Deterministic noise: every byte value, no structure (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// One tool and how it is pointed at an input.
#[derive(Clone, Copy)]
struct Tool {
    name: &'static str,
    bin: &'static str,
    /// Arguments before the input's path (`-` for stdin).
    before: &'static [&'static str],
    /// Arguments after it.
    after: &'static [&'static str],
}

impl Tool {
    fn command(&self, input: &str) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.args(self.before).arg(input).args(self.after);
        cmd
    }
}

/// The filters and ptrace-fix take any number of files, `-` for stdin. ptrace-fix reads a
/// fake /proc (every file in order, ptrace allowed) so that its verdict is fixed.
fn line_tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "vg-filter",
            bin: VG_FILTER,
            before: &[],
            after: &[],
        },
        Tool {
            name: "bt-demangle",
            bin: BT_DEMANGLE,
            before: &["--format", "jsonl"],
            after: &[],
        },
        Tool {
            name: "rss-rounds",
            bin: RSS_ROUNDS,
            before: &["--format", "jsonl"],
            after: &[],
        },
        Tool {
            name: "ptrace-fix",
            bin: PTRACE_FIX,
            before: &["--format", "jsonl", "--proc-root"],
            after: &[],
        },
    ]
}

/// ptrace-fix's arguments need the tree's path, which is not static: it is inserted here.
fn command(tool: &Tool, input: &str) -> Command {
    if tool.name == "ptrace-fix" {
        let mut cmd = Command::new(tool.bin);
        cmd.args(tool.before)
            .arg(proc_tree("good", GOOD_STATUS))
            .arg(input);
        cmd
    } else {
        tool.command(input)
    }
}

/// dbg-image and run-in-image read one file each; these run them up to the point where
/// the input is used, without a container engine.
fn file_tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "dbg-image",
            bin: DBG_IMAGE,
            before: &["build", "--engine", "/nonexistent/docker"],
            after: &[],
        },
        Tool {
            name: "run-in-image",
            bin: RUN_IN_IMAGE,
            before: &["--host", "--dry-run", "--env-file"],
            after: &["--", "true"],
        },
    ]
}

const GOOD_STATUS: &str = "Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\nNoNewPrivs:\t0\nSeccomp:\t0\n";

/// A fake /proc for ptrace-fix with this `self/status`; returns its path.
fn proc_tree(name: &str, status: &str) -> PathBuf {
    let root = tmp().join(format!("proc-{name}"));
    // Afresh: an earlier run may have left a directory or a mode-000 file in its place.
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("self")).unwrap();
    std::fs::create_dir_all(root.join("sys/kernel/yama")).unwrap();
    std::fs::write(root.join("sys/kernel/yama/ptrace_scope"), "0\n").unwrap();
    std::fs::write(root.join("self/status"), status).unwrap();
    root
}

/// Runs `cmd` with `stdin` fed from a thread (the tool may stop reading early).
fn run_with(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool runs");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let bytes = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // A tool that exits first closes the pipe: that is its business.
        let _ = pipe.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("the tool ends");
    let _ = feeder.join();
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Status 0 or 1 (a finding), nothing on stderr but the tool's own summary line, and no
/// panic.
fn assert_normal(tool: &str, case: &str, out: &Output) {
    let err = stderr(out);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{tool} {case}: {:?}: {err}",
        out.status
    );
    assert!(!err.contains("panicked"), "{tool} {case}: {err}");
}

/// Status 2 and exactly one line, `TOOL: …` naming `needle`.
fn assert_one_line_error(tool: &str, case: &str, out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{tool} {case}: {err}");
    assert_eq!(err.lines().count(), 1, "{tool} {case}: {err:?}");
    assert!(
        err.starts_with(&format!("{tool}: ")),
        "{tool} {case}: {err}"
    );
    assert!(
        err.contains(needle),
        "{tool} {case}: {err} lacks {needle:?}"
    );
}

/// Each stdout line is one JSON object and the last is the tool's summary.
fn assert_jsonl_summary(tool: &str, case: &str, out: &Output) -> Value {
    let text = String::from_utf8(out.stdout.clone())
        .unwrap_or_else(|e| panic!("{tool} {case}: JSON output is UTF-8: {e}"));
    let mut last = Value::Null;
    for line in text.lines() {
        last = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{tool} {case}: {e}: {line:.200}"));
    }
    assert_eq!(last["type"], "summary", "{tool} {case}: {text:.500}");
    last
}

#[test]
fn empty_input_gives_the_normal_result() {
    for tool in line_tools() {
        let out = run_with(command(&tool, "-"), b"");
        assert_normal(tool.name, "empty", &out);
        let summary = assert_jsonl_summary(tool.name, "empty", &out);
        assert_eq!(summary["tool"], tool.name);
    }
    let empty = file("empty.env", b"");
    let out = run_with(file_tools()[1].command(empty.to_str().unwrap()), b"");
    assert_normal("run-in-image", "empty", &out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[\"env\",\"true\"]\n");
    // An empty Dockerfile is refused.
    let out = run_with(file_tools()[0].command("-"), b"");
    assert_one_line_error("dbg-image", "empty", &out, "is empty");
}

#[test]
fn binary_noise_gives_the_normal_result_or_one_line() {
    let bytes = noise(1 << 20);
    for tool in line_tools() {
        let out = run_with(command(&tool, "-"), &bytes);
        // Binary data is no log: a tool may refuse it (one line naming the input, nothing
        // printed), or read it as the text it is not and count what it passed over.
        // bt-demangle refuses it.
        if tool.name == "bt-demangle" {
            assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        }
        if out.status.code() == Some(2) {
            assert_one_line_error(tool.name, "noise", &out, "<stdin>: is binary data");
            assert!(
                out.stdout.is_empty(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
            continue;
        }
        assert_normal(tool.name, "noise", &out);
        let summary = assert_jsonl_summary(tool.name, "noise", &out);
        assert!(summary["lines"].as_u64().unwrap_or(0) > 1000, "{summary}");
    }
    let out = run_with(file_tools()[0].command("-"), &bytes);
    assert_one_line_error("dbg-image", "noise", &out, "is not UTF-8 text");
    let path = file("noise.env", &bytes);
    let out = run_with(file_tools()[1].command(path.to_str().unwrap()), b"");
    assert_one_line_error(
        "run-in-image",
        "noise",
        &out,
        "noise.env: is not UTF-8 text",
    );
}

/// `VmHWM` of a live process, in kB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Streams a 100 MB line of `byte` into the tool's stdin, 64 KiB at a time (nothing holds
/// the whole input), and watches the tool's peak RSS while it reads. Returns the status,
/// stdout, stderr and the peak.
fn huge_line(mut cmd: Command, byte: u8) -> (ExitStatus, Vec<u8>, String, u64) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool runs");
    let pid = child.id();
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let feeder = std::thread::spawn(move || {
        let chunk = vec![byte; 64 << 10];
        let mut sent = 0;
        while sent < HUGE {
            if pipe.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        // Dropping the pipe is the end of input.
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let mut peak = 0;
    let status = loop {
        // VmHWM only grows: the last reading before the exit is the peak.
        if let Some(kb) = peak_rss_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the tool hangs on a 100 MB line"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = feeder.join();
    (
        status,
        reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default(),
        peak,
    )
}

#[test]
fn a_100_mb_line_is_read_in_bounded_memory() {
    for tool in line_tools() {
        let (status, stdout, err, peak) = huge_line(command(&tool, "-"), b'x');
        let out = Output {
            status,
            stdout,
            stderr: err.into_bytes(),
        };
        assert_normal(tool.name, "100 MB line", &out);
        let summary = assert_jsonl_summary(tool.name, "100 MB line", &out);
        assert_eq!(summary["long_lines"], 1, "{}: {summary}", tool.name);
        assert!(peak > 0, "{}: no RSS reading", tool.name);
        assert!(
            peak < RSS_BOUND_KB,
            "{}: peak RSS {peak} kB on a 100 MB line",
            tool.name
        );
    }
    // A Dockerfile or an env file of 100 MB is refused after its first MiB.
    for (tool, input) in file_tools().into_iter().zip(["-", "/dev/stdin"]) {
        let (status, stdout, err, peak) = huge_line(tool.command(input), b'x');
        let out = Output {
            status,
            stdout,
            stderr: err.into_bytes(),
        };
        assert_one_line_error(tool.name, "100 MB line", &out, "larger than 1 MiB");
        assert!(peak < RSS_BOUND_KB, "{}: peak RSS {peak} kB", tool.name);
    }
}

/// A real input with bytes that are not UTF-8 in it: lines of them between its lines, and
/// inside names where the syntax has text (not in numbers, where they would rightly make
/// the line something else).
fn with_invalid_utf8(text: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line
            .replace(" f (", " f\u{1} (")
            .replace(" store (", " st\u{1}ore (");
        bytes.extend(line.bytes().flat_map(|b| {
            if b == 1 {
                b"\xff\xfe\xc3(".to_vec()
            } else {
                vec![b]
            }
        }));
        bytes.push(b'\n');
        if i % 3 == 1 {
            bytes.extend_from_slice(b"\xff\xfe\xc3( \x80\n");
        }
    }
    bytes
}

/// A small real input per tool, and what its summary must say.
fn sample(tool: &str) -> String {
    match tool {
        "vg-filter" => "==7== Invalid read of size 4\n==7==    at 0x4C2FB55: f (ext.c:12)\n==7==    by 0x4C2FB56: main (ext.c:20)\n==7==  Address 0x0 is not stack'd, malloc'd or (recently) free'd\n==7== \n==7== 8 bytes in 1 blocks are definitely lost in loss record 1 of 1\n==7==    at 0x483B7F3: malloc (vg_replace_malloc.c:307)\n==7==    by 0x4C2FB57: leak (ext.c:30)\n==7== \n".to_string(),
        "bt-demangle" | "ptrace-fix" => "Program received signal SIGSEGV, Segmentation fault.\n0x00007ffff77ad6b1 in store (p=0x0) at /x/m.c:3\n#0  0x00007ffff77ad6b1 in store (p=0x0) at /x/m.c:3\n#1  0x2 in _ZN5myext4callEv () from /x/myext.so\n#2  0x3 in _PyEval_EvalFrameDefault (f=0x1) at Python/ceval.c:2\nptrace: Operation not permitted.\n".to_string(),
        _ => (0..40).map(|i| format!("Round {i} Max RSS: {}\nReferences: 2\n", 40 + i)).collect(),
    }
}

#[test]
fn invalid_utf8_is_read_around() {
    for tool in line_tools() {
        let clean = run_with(command(&tool, "-"), sample(tool.name).as_bytes());
        let dirty = run_with(command(&tool, "-"), &with_invalid_utf8(&sample(tool.name)));
        assert_normal(tool.name, "invalid UTF-8", &dirty);
        let a = assert_jsonl_summary(tool.name, "clean", &clean);
        let b = assert_jsonl_summary(tool.name, "invalid UTF-8", &dirty);
        // The same structure is found: bad bytes sit in text, not in the syntax.
        for key in [
            "records",
            "kept",
            "frames",
            "crashes",
            "values",
            "diagnoses",
        ] {
            assert_eq!(a[key], b[key], "{}: {key}", tool.name);
        }
    }
    let out = run_with(
        file_tools()[0].command("-"),
        b"FROM debian\nRUN echo \xff\n",
    );
    assert_one_line_error("dbg-image", "invalid UTF-8", &out, "is not UTF-8 text");
    let path = file("latin1.env", b"export A=caf\xe9\n");
    let out = run_with(file_tools()[1].command(path.to_str().unwrap()), b"");
    assert_one_line_error(
        "run-in-image",
        "invalid UTF-8",
        &out,
        "latin1.env: is not UTF-8",
    );
}

#[test]
fn crlf_line_ends_read_as_lf_ones() {
    for tool in line_tools() {
        let lf = sample(tool.name);
        let crlf = lf.replace('\n', "\r\n");
        let a = run_with(command(&tool, "-"), lf.as_bytes());
        let b = run_with(command(&tool, "-"), crlf.as_bytes());
        assert_normal(tool.name, "CRLF", &b);
        assert_eq!(
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&b.stdout),
            "{}: CRLF input reads differently",
            tool.name
        );
        assert_eq!(a.status.code(), b.status.code(), "{}", tool.name);
    }
    let lf = file("lf.env", b"export A=1\nexport B=\"$A x\"\n");
    let crlf = file("crlf.env", b"export A=1\r\nexport B=\"$A x\"\r\n");
    let run_in = file_tools()[1];
    let a = run_with(run_in.command(lf.to_str().unwrap()), b"");
    let b = run_with(run_in.command(crlf.to_str().unwrap()), b"");
    assert_normal("run-in-image", "CRLF", &b);
    assert_eq!(a.stdout, b.stdout);
    assert!(String::from_utf8_lossy(&b.stdout).contains("\"B=1 x\""));
    // A CRLF Dockerfile is taken: the run goes on to look for the engine.
    let out = run_with(
        file_tools()[0].command("-"),
        b"FROM debian:bookworm\r\nRUN true\r\n",
    );
    assert_one_line_error("dbg-image", "CRLF", &out, "/nonexistent/docker");
}

/// Lots of output for `| head -1`: more than a pipe holds.
fn chatty(tool: &str) -> Vec<u8> {
    let one = sample(tool);
    one.repeat(match tool {
        "rss-rounds" => 2000,
        _ => 3000,
    })
    .into_bytes()
}

/// Reads one line of the tool's output and closes the pipe, as `| head -1` does; the tool
/// must end quietly, with status 0 (or its verdict) and nothing on stderr.
#[test]
fn a_stdout_closed_after_one_line_ends_quietly() {
    for tool in line_tools() {
        let mut cmd = command(&tool, "-");
        if tool.name == "vg-filter" {
            // One record per input record: output enough to fill the pipe.
            cmd.arg("--no-merge");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tool runs");
        let mut pipe = child.stdin.take().expect("stdin");
        let bytes = chatty(tool.name);
        let feeder = std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("one line");
        drop(out);
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("stderr reads");
        let status = child.wait().expect("the tool ends");
        let _ = feeder.join();
        assert!(!first.is_empty(), "{}", tool.name);
        // ptrace-fix writes everything at the end: its pipe may have taken it all.
        assert!(
            matches!(status.code(), Some(0 | 1)),
            "{}: {status:?}: {err}",
            tool.name
        );
        assert!(err.is_empty(), "{}: {err}", tool.name);
    }
    // dbg-image's and run-in-image's own output, into a pipe already closed.
    for mut cmd in [
        {
            let mut c = Command::new(DBG_IMAGE);
            c.arg("dockerfile");
            c
        },
        {
            let mut c = Command::new(RUN_IN_IMAGE);
            c.args(["--host", "--dry-run", "--", "true"]);
            c
        },
    ] {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tool runs");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("the tool ends");
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{cmd:?}: {}", stderr(&out));
    }
}

/// The same in a shell pipeline, where `head` exits and the kernel raises SIGPIPE for the
/// writer: bash's `pipefail` reports the tool's own status.
#[test]
fn sigpipe_in_a_shell_pipeline_is_not_an_error() {
    for tool in line_tools() {
        let input = file(&format!("{}-chatty.txt", tool.name), &chatty(tool.name));
        let mut cmd = command(&tool, input.to_str().unwrap());
        if tool.name == "vg-filter" {
            cmd.arg("--no-merge");
        }
        let argv: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let out = Command::new("bash")
            .arg("-c")
            .arg(r#"set -o pipefail; "$@" | head -n 1 >/dev/null"#)
            .arg("bash")
            .args(&argv)
            .output()
            .expect("bash runs");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}: {:?}: {}",
            tool.name,
            out.status,
            stderr(&out)
        );
        assert!(out.stderr.is_empty(), "{}: {}", tool.name, stderr(&out));
    }
    let out = Command::new("bash")
        .arg("-c")
        // --source named: without it dbg-image says on stderr where the tarball comes from.
        .arg(r#"set -o pipefail; "$0" dockerfile --from source --source python.org | head -n 1 >/dev/null"#)
        .arg(DBG_IMAGE)
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

/// Every tool with `input` in the place of its input file.
fn every_tool_on(input: &str) -> Vec<(&'static str, Output)> {
    let mut v: Vec<(&'static str, Output)> = line_tools()
        .iter()
        .map(|t| (t.name, run_with(command(t, input), b"")))
        .collect();
    v.extend(
        file_tools()
            .iter()
            .map(|t| (t.name, run_with(t.command(input), b""))),
    );
    v
}

#[test]
fn a_missing_file_is_one_line_naming_it() {
    let path = tmp().join("no such log.txt");
    let name = path.to_str().unwrap();
    for (tool, out) in every_tool_on(name) {
        assert_one_line_error(tool, "missing file", &out, name);
        assert!(
            stderr(&out).contains("No such file"),
            "{tool}: {}",
            stderr(&out)
        );
    }
    // After a good one: nothing is read before all inputs are found.
    let good = file("good.log", sample("vg-filter").as_bytes());
    let out = run_with(
        {
            let mut c = Command::new(VG_FILTER);
            c.arg(&good).arg(name);
            c
        },
        b"",
    );
    assert_one_line_error("vg-filter", "missing second file", &out, name);
    assert!(out.stdout.is_empty());
}

#[test]
fn a_directory_is_one_line_naming_it() {
    let dir = tmp().join("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    let name = dir.to_str().unwrap();
    for (tool, out) in every_tool_on(name) {
        assert_one_line_error(tool, "directory", &out, name);
    }
}

/// The effective uid, from /proc (no libc here).
fn euid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1)?.parse().ok())
        })
        .expect("/proc/self/status names the uid")
}

/// `cmd`, run as `nobody` when we are root (for whom mode 000 means nothing).
fn unprivileged(cmd: Command) -> Command {
    if euid() != 0 {
        return cmd;
    }
    assert!(
        Path::new("/usr/bin/setpriv").exists() || Path::new("/bin/setpriv").exists(),
        "setpriv (util-linux) is needed to test unreadable files as root"
    );
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    c
}

#[test]
fn an_unreadable_file_is_one_line_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let path = file("unreadable.log", b"secret\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let name = path.to_str().unwrap();
    for tool in line_tools() {
        let out = run_with(unprivileged(command(&tool, name)), b"");
        assert_one_line_error(tool.name, "unreadable", &out, name);
        assert!(
            stderr(&out).contains("Permission denied"),
            "{}",
            stderr(&out)
        );
    }
    for tool in file_tools() {
        let out = run_with(unprivileged(tool.command(name)), b"");
        assert_one_line_error(tool.name, "unreadable", &out, name);
    }
    // ptrace-fix's tree: a status file it may not read.
    let root = proc_tree("unreadable", GOOD_STATUS);
    let status = root.join("self/status");
    std::fs::set_permissions(&status, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = Command::new(PTRACE_FIX);
    cmd.arg("--proc-root").arg(&root);
    let out = run_with(unprivileged(cmd), b"");
    assert_one_line_error(
        "ptrace-fix",
        "unreadable status",
        &out,
        status.to_str().unwrap(),
    );
}

/// `/proc/self/mem` opens, then fails on the first read (EIO): an input that breaks while
/// it is read.
#[test]
fn a_read_error_midway_is_one_line_naming_the_input() {
    for tool in line_tools() {
        let out = run_with(command(&tool, "/proc/self/mem"), b"");
        assert_one_line_error(tool.name, "read error", &out, "/proc/self/mem");
        assert!(
            stderr(&out).contains("Input/output error"),
            "{}",
            stderr(&out)
        );
    }
    for tool in file_tools() {
        let out = run_with(tool.command("/proc/self/mem"), b"");
        assert_one_line_error(tool.name, "read error", &out, "/proc/self/mem");
    }
}

/// ptrace-fix's other input, the `--proc-root` tree: missing, a directory where a file
/// should be, noise, a huge file, CRLF.
#[test]
fn ptrace_fix_proc_trees() {
    let run = |root: &Path| {
        let mut cmd = Command::new(PTRACE_FIX);
        cmd.arg("--proc-root").arg(root);
        run_with(cmd, b"")
    };
    let missing = tmp().join("no-proc");
    let out = run(&missing);
    assert_one_line_error("ptrace-fix", "no tree", &out, "no-proc/self/status");

    let root = proc_tree("dir-status", GOOD_STATUS);
    let status = root.join("self/status");
    std::fs::remove_file(&status).unwrap();
    std::fs::create_dir_all(&status).unwrap();
    assert_one_line_error(
        "ptrace-fix",
        "status is a directory",
        &run(&root),
        "self/status",
    );

    let root = proc_tree("noise", "");
    std::fs::write(root.join("self/status"), noise(4096)).unwrap();
    assert_one_line_error("ptrace-fix", "noise", &run(&root), "self/status:");

    let root = proc_tree("huge", "");
    std::fs::write(root.join("self/status"), vec![b'x'; 2 << 20]).unwrap();
    assert_one_line_error(
        "ptrace-fix",
        "huge status",
        &run(&root),
        "larger than 1 MiB",
    );

    let root = proc_tree("crlf", &GOOD_STATUS.replace('\n', "\r\n"));
    let out = run(&root);
    assert_normal("ptrace-fix", "CRLF status", &out);
    let summary = assert_jsonl_summary("ptrace-fix", "CRLF status", &out);
    assert_eq!(summary["can_run"], true, "{summary}");

    let root = proc_tree("empty", "");
    let out = run(&root);
    assert_normal("ptrace-fix", "empty status", &out);
}

/// The filters read the files named, or stdin when there are none or for `-`, in order.
#[test]
fn filters_read_files_stdin_and_dash() {
    for tool in line_tools() {
        let text = sample(tool.name);
        let path = file(&format!("{}-sample.txt", tool.name), text.as_bytes());
        let p = path.to_str().unwrap();
        let by_file = run_with(command(&tool, p), b"");
        let by_dash = run_with(command(&tool, "-"), text.as_bytes());
        assert_normal(tool.name, "file", &by_file);
        let key = "lines";
        let read = assert_jsonl_summary(tool.name, "file", &by_file)[key].clone();
        assert!(
            read.as_u64().is_some_and(|n| n > 0),
            "{}: {read}",
            tool.name
        );
        assert_eq!(
            read,
            assert_jsonl_summary(tool.name, "-", &by_dash)[key],
            "{}",
            tool.name
        );
        // A file, stdin, and the file again: three inputs, read in that order.
        let mut cmd = command(&tool, p);
        cmd.args(["-", p]);
        let three = run_with(cmd, text.as_bytes());
        assert_normal(tool.name, "file - file", &three);
        let summary = assert_jsonl_summary(tool.name, "file - file", &three);
        assert_eq!(summary["inputs"], 3, "{}: {summary}", tool.name);
        assert_eq!(
            summary["lines"].as_u64(),
            Some(3 * text.lines().count() as u64),
            "{}",
            tool.name
        );
    }
    // No argument at all: stdin.
    for (bin, name, extra) in [
        (VG_FILTER, "vg-filter", &[][..]),
        (BT_DEMANGLE, "bt-demangle", &["--format", "jsonl"][..]),
        (RSS_ROUNDS, "rss-rounds", &["--format", "jsonl"][..]),
    ] {
        let mut cmd = Command::new(bin);
        cmd.args(extra);
        let out = run_with(cmd, sample(name).as_bytes());
        let summary = assert_jsonl_summary(name, "stdin", &out);
        assert_eq!(summary["inputs"], 1, "{name}");
        assert_eq!(
            summary["lines"].as_u64(),
            Some(sample(name).lines().count() as u64),
            "{name}"
        );
    }
}
