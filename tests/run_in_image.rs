//! run-in-image with the real engine: the bundled example extension built and run inside the
//! debug image (the refcount check on the debug interpreter, valgrind, gdb with `--ptrace`),
//! pipes, exit statuses, file ownership, env files expanded inside the container, argv passed
//! intact; then `--host`, `--dry-run` and bad input.
//!
//! The image is the one of `tests/image_fixture.rs` (debootstrap base, default recipe). The
//! example is compiled inside the container by its gcc, for its interpreter, into
//! `target/tmp/run_in_image/`, which the container sees at the same path because the
//! repository is the current directory and mounted there. These tests need root, a running
//! docker and debootstrap (`.ci/run` provides them) and fail without.

#[path = "image_fixture.rs"]
mod image_fixture;

use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const RUN_IN_IMAGE: &str = env!("CARGO_BIN_EXE_run-in-image");
const VG_FILTER: &str = env!("CARGO_BIN_EXE_vg-filter");
const PTRACE_FIX: &str = env!("CARGO_BIN_EXE_ptrace-fix");

/// The flags `cargo xtask example` compiles the example with (xtask/src/example.rs): every
/// planted defect and frame stays observable.
const CFLAGS: &[&str] = &[
    "-g",
    "-O0",
    "-fno-omit-frame-pointer",
    "-fPIC",
    "-shared",
    "-Wall",
    "-Werror",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run_in_image");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The mounts that make `tmp()` and the test binaries visible inside, when the target
/// directory is not under the repository (CARGO_TARGET_DIR elsewhere).
fn extra_mounts() -> Vec<String> {
    let mut out = Vec::new();
    for dir in [tmp(), Path::new(PTRACE_FIX).parent().unwrap().to_path_buf()] {
        if !dir.starts_with(repo()) {
            out.push("--mount".to_string());
            out.push(format!("{}:{}", dir.display(), dir.display()));
        }
    }
    out
}

/// run-in-image ARGS, from the repository, with `stdin` piped in (or /dev/null).
fn rii(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(RUN_IN_IMAGE);
    cmd.args(args)
        .current_dir(repo())
        .env_remove("DBGPIPE_IMAGE");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(data) = stdin {
        // The tool may exit before reading (a usage error): a closed pipe is fine then.
        let _ = child.stdin.take().unwrap().write_all(data);
    }
    child.wait_with_output().unwrap()
}

/// run-in-image --image <test image> [mounts] ARGS.
fn inside(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let image = image_fixture::images().tag().to_string();
    let mounts = extra_mounts();
    let mut all: Vec<&str> = vec!["--image", &image];
    all.extend(mounts.iter().map(String::as_str));
    all.extend_from_slice(args);
    rii(&all, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// The example built inside the container for its debug interpreter, and an env file that
/// points run.py at it.
struct Example {
    env_file: PathBuf,
}

fn example() -> &'static Example {
    static EXAMPLE: OnceLock<Example> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let query = inside(
            &["--", "python3.11-dbg", "-I", "-c", "import json, sysconfig; print(json.dumps([sysconfig.get_paths()['include'], sysconfig.get_config_var('EXT_SUFFIX')]))"],
            None,
        );
        assert!(query.status.success(), "{}", show(&query));
        let answer: Vec<String> = serde_json::from_slice(&query.stdout).unwrap();
        let dir = tmp().join("example");
        std::fs::create_dir_all(&dir).unwrap();
        let so = dir.join(format!("dbgpipe_example{}", answer[1]));
        let source = repo().join("examples/dbgpipe_example/dbgpipe_example.c");
        let include = format!("-I{}", answer[0]);
        let (so, source) = (so.display().to_string(), source.display().to_string());
        let mut args = vec!["--", "gcc"];
        args.extend_from_slice(CFLAGS);
        args.extend([include.as_str(), "-o", &so, &source]);
        let built = inside(&args, None);
        assert!(built.status.success(), "{}", show(&built));
        assert!(so.contains("cpython-311d"), "{so}");
        let env_file = tmp().join("example.env");
        std::fs::write(
            &env_file,
            format!(
                "# where run.py finds the module built for the container's debug interpreter\n\
                 export DBGPIPE_EXAMPLE_DIR='{}'\n\
                 export PATH=$PATH:$PWD/examples/dbgpipe_example   # the image's PATH, extended\n",
                dir.display()
            ),
        )
        .unwrap();
        Example { env_file }
    })
}

fn env_file() -> String {
    example().env_file.display().to_string()
}

#[test]
fn the_refcount_check_runs_on_the_debug_interpreter() {
    let env = env_file();
    let leak = inside(
        &[
            "--env-file",
            &env,
            "--",
            "python3.11-dbg",
            "examples/dbgpipe_example/run.py",
            "refleak",
            "--rounds",
            "100",
        ],
        None,
    );
    assert!(leak.status.success(), "{}", show(&leak));
    assert_eq!(text(&leak.stdout), "called refleak x100\n");
    assert!(
        text(&leak.stderr).contains("run.py: refleak x100: total refcount +100"),
        "{}",
        show(&leak)
    );
    let clean = inside(
        &[
            "--env-file",
            &env,
            "--",
            "python3.11-dbg",
            "examples/dbgpipe_example/run.py",
            "clean",
            "--rounds",
            "100",
        ],
        None,
    );
    assert!(clean.status.success(), "{}", show(&clean));
    assert!(
        text(&clean.stderr).contains("run.py: clean x100: total refcount +0"),
        "{}",
        show(&clean)
    );
}

#[test]
fn valgrind_in_the_container_finds_the_planted_defects_at_host_paths() {
    let env = env_file();
    let log = tmp().join("vg.defects.log");
    let _ = std::fs::remove_file(&log);
    let log_arg = format!("--log-file={}", log.display());
    let out = inside(
        &[
            "--env-file",
            &env,
            "--",
            "valgrind",
            "--leak-check=full",
            "--show-leak-kinds=all",
            "--track-origins=yes",
            "--fullpath-after=",
            &log_arg,
            "python3.11-dbg",
            "examples/dbgpipe_example/run.py",
            "all-defects",
        ],
        None,
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("called invalid_free x1"),
        "{}",
        show(&out)
    );
    let filtered = Command::new(VG_FILTER)
        .arg("--project")
        .arg("--root")
        .arg(repo())
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(filtered.status.code(), Some(1), "{}", show(&filtered));
    let records: Vec<Value> = text(&filtered.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let source = repo()
        .join("examples/dbgpipe_example/dbgpipe_example.c")
        .display()
        .to_string();
    let mut found: Vec<(String, String)> = records
        .iter()
        .filter(|r| r["type"] == "error")
        .map(|r| {
            // The container mounted the repository at its own path, so the frames name the
            // host's file.
            assert_eq!(r["project_frame"]["file"], source.as_str(), "{r}");
            (
                r["kind"].as_str().unwrap().to_string(),
                r["project_frame"]["function"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    let mut want: Vec<(String, String)> = [
        ("InvalidRead", "invalid_read"),
        ("UninitCondition", "uninit_branch"),
        ("InvalidFree", "invalid_free"),
        ("Leak_StillReachable", "refleak"),
        ("Leak_DefinitelyLost", "leak_definite"),
        ("Leak_IndirectlyLost", "leak_indirect"),
        ("Leak_DefinitelyLost", "leak_indirect"),
        ("Leak_PossiblyLost", "leak_possible"),
    ]
    .iter()
    .map(|(k, f)| (k.to_string(), f.to_string()))
    .collect();
    want.sort();
    assert_eq!(found, want);
}

#[test]
fn gdb_with_ptrace_shows_the_crash() {
    let env = env_file();
    let gdb = [
        "gdb",
        "-nx",
        "-batch",
        "-ex",
        "run",
        "-ex",
        "bt",
        "--args",
        "python3.11-dbg",
        "examples/dbgpipe_example/run.py",
        "crash_null",
    ];
    let out = inside(
        &[&["--ptrace", "--env-file", &env, "--"], &gdb[..]].concat(),
        None,
    );
    let all = show(&out);
    assert!(out.status.success(), "{all}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Program received signal SIGSEGV"), "{all}");
    let frame0 = stdout
        .lines()
        .find(|l| l.starts_with("#0 "))
        .unwrap_or_else(|| panic!("{all}"));
    assert!(frame0.contains("dbgpipe_store (p=0x0, v=42)"), "{all}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("#1 ") && l.contains("crash_null")),
        "{all}"
    );
    // --ptrace's seccomp=unconfined lets gdb turn address-space randomisation off.
    assert!(
        !all.contains("Error disabling address space randomization"),
        "{all}"
    );
    // Without it, docker's default profile refuses that, and gdb says so.
    let plain = inside(&[&["--env-file", &env, "--"], &gdb[..]].concat(), None);
    assert!(
        show(&plain).contains("Error disabling address space randomization"),
        "{}",
        show(&plain)
    );
}

fn ptrace_report(args: &[&str]) -> Value {
    let out = inside(&[args, &["--", PTRACE_FIX]].concat(), None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.into_iter().find(|r| r["type"] == "ptrace").unwrap()
}

#[test]
fn ptrace_fix_inside_the_container_sees_what_ptrace_changes() {
    let plain = ptrace_report(&[]);
    assert_eq!(plain["in_container"], true, "{plain}");
    assert_eq!(plain["container"], "docker", "{plain}");
    assert_eq!(plain["seccomp"], 2, "{plain}");
    assert_eq!(plain["cap_sys_ptrace"], false, "{plain}");
    assert_eq!(plain["aslr_disable"], false, "{plain}");
    assert_eq!(plain["probe"], "ok", "{plain}");
    let traced = ptrace_report(&["--ptrace"]);
    assert_eq!(traced["seccomp"], 0, "{traced}");
    assert_eq!(traced["cap_sys_ptrace"], true, "{traced}");
    assert_eq!(traced["aslr_disable"], true, "{traced}");
    assert_eq!(traced["can_attach"], true, "{traced}");
}

#[test]
fn stdin_stdout_stderr_and_the_exit_status_pass_through() {
    let out = inside(&["--", "python3.11-dbg", "-c", "import sys; sys.stdout.write(sys.stdin.read().upper()); sys.stderr.write('to stderr\\n'); sys.exit(7)"], Some(b"a\nb\n"));
    assert_eq!(out.status.code(), Some(7), "{}", show(&out));
    assert_eq!(text(&out.stdout), "A\nB\n");
    assert_eq!(text(&out.stderr), "to stderr\n");
    // No terminal was allocated: output into a pipe keeps plain newlines.
    assert!(!out.stdout.contains(&b'\r'));
    // A crash is 128 + SIGSEGV, as a shell reports it.
    let crash = inside(
        &[
            "--env-file",
            &env_file(),
            "--",
            "python3.11-dbg",
            "examples/dbgpipe_example/run.py",
            "crash_null",
        ],
        None,
    );
    assert_eq!(crash.status.code(), Some(139), "{}", show(&crash));
    let missing = inside(&["--", "no-such-command-dbgpipe"], None);
    assert_eq!(missing.status.code(), Some(127), "{}", show(&missing));
}

#[test]
fn files_written_into_the_mount_belong_to_the_invoking_user() {
    let file = tmp().join("written-inside");
    let _ = std::fs::remove_file(&file);
    let path = file.display().to_string();
    let out = inside(
        &[
            "--",
            "python3.11-dbg",
            "-c",
            "import os, sys; open(sys.argv[1], 'w').write('%d:%d' % (os.getuid(), os.getgid()))",
            &path,
        ],
        None,
    );
    assert!(out.status.success(), "{}", show(&out));
    let meta = std::fs::metadata(&file).unwrap();
    let here = std::fs::metadata(tmp()).unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    assert_eq!(meta.uid().to_string(), euid);
    assert_eq!(
        std::fs::read_to_string(&file)
            .unwrap()
            .split(':')
            .next()
            .unwrap(),
        euid
    );
    assert_eq!(meta.uid(), here.uid());
}

const TRICKY: &str = r#"# values that would break any program that pasted them into a shell
export FROM_IMAGE=$PATH:$PWD/bin
export AT_HOME=~/x
export DEFAULTED=${NOT_SET_ANYWHERE:-fallback} KEPT=${HOME:-unused}
export TRICK='$(touch /tmp/dbgpipe-rii-pwned) `id`; exit 3 "'"'"
export OVERRIDDEN=from-file
"#;

fn printenv(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}", show(out));
    text(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn env_files_are_expanded_with_the_containers_values() {
    let file = tmp().join("tricky.env");
    std::fs::write(&file, TRICKY).unwrap();
    let file = file.display().to_string();
    let names = [
        "FROM_IMAGE",
        "AT_HOME",
        "DEFAULTED",
        "KEPT",
        "TRICK",
        "OVERRIDDEN",
    ];
    let base = printenv(&inside(&["--", "printenv", "PATH", "HOME"], None));
    let (path, home) = (&base[0], &base[1]);
    let cwd = repo().display().to_string();
    let got = printenv(&inside(
        &[
            &[
                "--env-file",
                file.as_str(),
                "--env",
                "OVERRIDDEN=from-flag",
                "--",
                "printenv",
            ],
            &names[..],
        ]
        .concat(),
        None,
    ));
    assert_eq!(
        got,
        [
            format!("{path}:{cwd}/bin"),
            format!("{home}/x"),
            "fallback".to_string(),
            home.clone(),
            "$(touch /tmp/dbgpipe-rii-pwned) `id`; exit 3 \"'".to_string(),
            "from-flag".to_string(),
        ]
    );
    // The image's PATH, not the host's.
    assert!(
        path.starts_with("/usr/local/sbin:/usr/local/bin:"),
        "{path}"
    );
    assert!(!Path::new("/tmp/dbgpipe-rii-pwned").exists());
    // --host expands the same file with the host's values.
    let host = printenv(&rii(
        &[
            &[
                "--host",
                "--env-file",
                file.as_str(),
                "--env",
                "OVERRIDDEN=from-flag",
                "--",
                "printenv",
            ],
            &names[..],
        ]
        .concat(),
        None,
    ));
    let host_path = std::env::var("PATH").unwrap();
    let host_home = std::env::var("HOME").unwrap();
    assert_eq!(host[0], format!("{host_path}:{cwd}/bin"));
    assert_eq!(host[1], format!("{host_home}/x"));
    assert_eq!(
        host[2..],
        got[2..3]
            .iter()
            .chain([&host_home])
            .chain(&got[4..])
            .cloned()
            .collect::<Vec<_>>()[..]
    );
}

#[test]
fn arguments_arrive_intact() {
    let args = ["a b", "$(id)", ";", "\"", "", "--flag", "*", "'", "\\"];
    let script = "import json, sys; print(json.dumps(sys.argv[1:]))";
    let want: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    for with_env in [false, true] {
        let env = env_file();
        let mut all: Vec<&str> = if with_env {
            vec!["--env-file", &env]
        } else {
            vec![]
        };
        all.extend(["--", "python3.11-dbg", "-c", script]);
        all.extend(args);
        let out = inside(&all, None);
        assert!(out.status.success(), "{}", show(&out));
        let got: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got, want, "with env file: {with_env}");
    }
}

#[test]
fn host_runs_the_same_command_here() {
    let out = rii(
        &[
            "--host",
            "--env",
            "X=1",
            "--",
            "sh",
            "-c",
            "printf '%s' \"$X\"; exit 5",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    assert_eq!(text(&out.stdout), "1");
    let out = rii(&["--host", "--workdir", "examples", "--", "pwd"], None);
    assert_eq!(
        text(&out.stdout).trim(),
        repo().join("examples").display().to_string()
    );
    let missing = rii(&["--host", "--", "no-such-command-dbgpipe"], None);
    assert_eq!(missing.status.code(), Some(127), "{}", show(&missing));
    assert!(
        text(&missing.stderr).starts_with("run-in-image: cannot run no-such-command-dbgpipe"),
        "{}",
        show(&missing)
    );
}

fn dry(args: &[&str]) -> Vec<String> {
    let out = rii(&[&["--dry-run"], args].concat(), None);
    assert!(out.status.success(), "{}", show(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn dry_run_prints_the_engine_command() {
    let argv = dry(&[
        "--image", "img:1", "--ptrace", "--env", "A=b c", "--", "gdb", "-p", "1",
    ]);
    // The engine by name, as PATH finds it, not where this machine keeps it.
    assert_eq!(argv[0], "docker", "{argv:?}");
    assert_eq!(argv[1..4], ["run", "--rm", "--init"]);
    let cwd = repo().display().to_string();
    assert!(
        argv.contains(&format!("type=bind,source={cwd},target={cwd}")),
        "{argv:?}"
    );
    assert!(
        argv.windows(3).any(|w| w
            == [
                "--cap-add=SYS_PTRACE",
                "--security-opt",
                "seccomp=unconfined"
            ]),
        "{argv:?}"
    );
    assert!(!argv.iter().any(|a| a.contains("privileged")), "{argv:?}");
    assert!(argv.windows(2).any(|w| w == ["--env", "A=b c"]), "{argv:?}");
    assert!(
        argv.ends_with(&["img:1".into(), "gdb".into(), "-p".into(), "1".into()]),
        "{argv:?}"
    );
    // Run from a pipe: stdin passed through, no terminal.
    assert!(
        argv.contains(&"-i".to_string()) && !argv.contains(&"-t".to_string()),
        "{argv:?}"
    );
    let host = dry(&["--host", "--env", "A=1", "--", "make"]);
    assert_eq!(host, ["env", "A=1", "make"]);
}

/// Exit status 2 and one line naming the problem.
fn fails_with(args: &[&str], needle: &str) {
    let out = rii(args, None);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
    assert!(err.contains(needle), "{args:?}: {err}");
    if !err.contains("Usage:") {
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("run-in-image: "), "{err}");
    }
}

#[test]
fn bad_input_is_exit_2_with_one_line() {
    let bad = tmp().join("bad.env");
    std::fs::write(&bad, "export A=1\nexport B=$(whoami)\n").unwrap();
    let bad = bad.display().to_string();
    fails_with(
        &["--env-file", &bad, "--", "true"],
        &format!("{bad}:2: command substitution"),
    );
    fails_with(
        &["--env-file", "/nonexistent/dbgpipe.env", "--", "true"],
        "/nonexistent/dbgpipe.env: No such file",
    );
    fails_with(&["--env-file", "/", "--", "true"], "/: Is a directory");
    fails_with(
        &["--engine", "/nonexistent/docker", "--", "true"],
        "/nonexistent/docker not found",
    );
    fails_with(&["--bogus", "--", "true"], "unexpected argument '--bogus'");
    fails_with(&[], "required arguments were not provided");
    fails_with(
        &["--host", "--mount", "a:/b", "--", "true"],
        "--mount has no meaning with --host",
    );
    fails_with(
        &[
            "--dry-run",
            "--mount",
            "/nonexistent-dbgpipe:/x",
            "--",
            "true",
        ],
        "does not exist",
    );
    fails_with(
        &["--dry-run", "--env", "1A=2", "--", "true"],
        "not a variable name",
    );
}
