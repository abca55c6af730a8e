//! ptrace-fix against fake /proc trees (every Yama value, Yama absent, no CAP_SYS_PTRACE,
//! seccomp filter and strict mode, a container), on real captured gdb output, its changes
//! (--apply, --persist, --revert) in fake trees, and against the real machine, where its
//! verdict must agree with what gdb actually does.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PTRACE_FIX: &str = env!("CARGO_BIN_EXE_ptrace-fix");

/// CapEff of root on a host (every capability, CAP_SYS_PTRACE included).
const ALL_CAPS: &str = "000001ffffffffff";
/// CapEff of docker's default set: no CAP_SYS_PTRACE (bit 19).
const DOCKER_CAPS: &str = "00000000a80425fb";

/// A fake machine: `DIR/proc`, `DIR/sysctl.d`, `DIR/run`.
struct Tree {
    dir: PathBuf,
}

impl Tree {
    fn new(name: &str, yama: Option<&str>, caps: &str, seccomp: u8, uid: u32) -> Tree {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("ptrace_fix")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let proc = dir.join("proc");
        std::fs::create_dir_all(proc.join("self")).unwrap();
        std::fs::create_dir_all(proc.join("1")).unwrap();
        std::fs::create_dir_all(proc.join("sys/kernel")).unwrap();
        std::fs::create_dir_all(dir.join("sysctl.d")).unwrap();
        std::fs::create_dir_all(dir.join("run")).unwrap();
        if let Some(value) = yama {
            std::fs::create_dir_all(proc.join("sys/kernel/yama")).unwrap();
            std::fs::write(
                proc.join("sys/kernel/yama/ptrace_scope"),
                format!("{value}\n"),
            )
            .unwrap();
        }
        std::fs::write(proc.join("sys/kernel/osrelease"), "6.1.0-18-amd64\n").unwrap();
        std::fs::write(
            proc.join("self/status"),
            format!(
                "Name:\tptrace-fix\nUmask:\t0022\nState:\tR (running)\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n\
                 Gid:\t{uid}\t{uid}\t{uid}\t{uid}\nCapInh:\t0000000000000000\nCapPrm:\t{caps}\n\
                 CapEff:\t{caps}\nNoNewPrivs:\t0\nSeccomp:\t{seccomp}\nSeccomp_filters:\t{}\n",
                u8::from(seccomp == 2)
            ),
        )
        .unwrap();
        std::fs::write(proc.join("1/cgroup"), "0::/\n").unwrap();
        std::fs::write(
            proc.join("self/mountinfo"),
            "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n",
        )
        .unwrap();
        Tree { dir }
    }

    fn in_docker(self) -> Tree {
        std::fs::write(
            self.dir.join("proc/self/mountinfo"),
            "600 500 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC,upperdir=/var/lib/docker/overlay2/x/diff\n",
        )
        .unwrap();
        self
    }

    fn yama(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("proc/sys/kernel/yama/ptrace_scope"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--proc-root".into(),
            self.dir.join("proc").display().to_string(),
            "--sysctl-dir".into(),
            self.dir.join("sysctl.d").display().to_string(),
            "--run-dir".into(),
            self.dir.join("run").display().to_string(),
        ]
    }

    fn run(&self, extra: &[&str], stdin: Option<&str>) -> Output {
        let mut args = self.args();
        args.extend(extra.iter().map(|s| s.to_string()));
        run(&args.iter().map(String::as_str).collect::<Vec<_>>(), stdin)
    }
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(PTRACE_FIX)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        // The tool may exit before reading (a usage error): a closed pipe is fine then.
        let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
    }
    child.wait_with_output().unwrap()
}

fn records(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

fn report(out: &Output) -> Value {
    let all = records(out);
    assert_eq!(all.last().unwrap()["type"], "summary", "{all:?}");
    of_type(&all, "ptrace")[0].clone()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn every_yama_value_and_its_absence() {
    // (yama, caps) -> (exit, can_run, can_attach)
    let cases = [
        (None, DOCKER_CAPS, 0, true, true),
        (Some("0"), DOCKER_CAPS, 0, true, true),
        (Some("1"), DOCKER_CAPS, 0, true, false),
        (Some("1"), ALL_CAPS, 0, true, true),
        (Some("2"), DOCKER_CAPS, 1, false, false),
        (Some("2"), ALL_CAPS, 0, true, true),
        (Some("3"), ALL_CAPS, 1, false, false),
        (Some("3"), DOCKER_CAPS, 1, false, false),
    ];
    for (i, (yama, caps, exit, can_run, can_attach)) in cases.into_iter().enumerate() {
        let tree = Tree::new(&format!("yama-{i}"), yama, caps, 0, 1000);
        let out = tree.run(&[], None);
        let r = report(&out);
        let what = format!("yama {yama:?} caps {caps}: {r}");
        assert_eq!(out.status.code(), Some(exit), "{what}");
        assert_eq!(r["can_run"], can_run, "{what}");
        assert_eq!(r["can_attach"], can_attach, "{what}");
        assert_eq!(
            r["yama_ptrace_scope"],
            yama.map(|v| v.parse::<u8>().unwrap())
                .map_or(Value::Null, Value::from),
            "{what}"
        );
        assert_eq!(r["cap_sys_ptrace"], caps == ALL_CAPS, "{what}");
        assert_eq!(
            r["probe"],
            Value::Null,
            "a fake tree must not run gdb: {what}"
        );
        assert_eq!(r["in_container"], false, "{what}");
        if !can_attach {
            assert!(!r["fixes"].as_array().unwrap().is_empty(), "{what}");
        }
        // Reporting changes nothing.
        assert_eq!(tree.yama().as_deref(), yama, "{what}");
    }
}

#[test]
fn yama_fixes_name_the_right_remedy() {
    let one = report(&Tree::new("fix-1", Some("1"), DOCKER_CAPS, 0, 1000).run(&[], None));
    let fixes = one["fixes"].to_string();
    assert!(
        fixes.contains("ptrace-fix --apply") && fixes.contains("gdb --args"),
        "{fixes}"
    );
    let three = report(&Tree::new("fix-3", Some("3"), ALL_CAPS, 0, 0).run(&[], None));
    assert!(
        three["verdict"].as_str().unwrap().contains("until reboot"),
        "{three}"
    );
    assert!(three["fixes"].to_string().contains("--persist"), "{three}");
}

#[test]
fn a_container_with_dockers_defaults() {
    let tree = Tree::new("docker", None, DOCKER_CAPS, 2, 0).in_docker();
    let out = tree.run(&[], None);
    let r = report(&out);
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert_eq!(
        (r["in_container"].clone(), r["container"].clone()),
        (Value::Bool(true), Value::from("docker"))
    );
    assert_eq!(r["seccomp"], 2);
    assert_eq!(r["cap_sys_ptrace"], false);
    assert_eq!(r["aslr_disable"], false);
    assert!(r["fixes"].to_string().contains("seccomp=unconfined"), "{r}");
    // Yama 1 on the host applies inside, where only --cap-add helps.
    let tree = Tree::new("docker-yama1", Some("1"), DOCKER_CAPS, 2, 0).in_docker();
    let r = report(&tree.run(&[], None));
    assert_eq!(r["can_attach"], false);
    assert!(
        r["fixes"].to_string().contains("run-in-image --ptrace"),
        "{r}"
    );
}

#[test]
fn seccomp_strict_mode_blocks() {
    let out = Tree::new("strict", None, ALL_CAPS, 1, 0).run(&[], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report(&out)["can_run"], false);
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/ptrace")
            .join(name),
    )
    .unwrap()
}

#[test]
fn gdb_output_gets_a_cause_and_a_fix() {
    let tree = Tree::new("diag", None, DOCKER_CAPS, 2, 0).in_docker();
    // gdb run under a profile that refuses ptrace: blocking.
    let out = tree.run(&["-"], Some(&fixture("gdb-run-seccomp-denies-ptrace.txt")));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all = records(&out);
    let d = of_type(&all, "diagnosis");
    let symptoms: Vec<&str> = d.iter().map(|d| d["symptom"].as_str().unwrap()).collect();
    assert_eq!(symptoms, ["trace_denied", "ptrace_eperm"]);
    assert_eq!(d[0]["line"], 1);
    assert_eq!(d[0]["input"], "<stdin>");
    assert_eq!(d[0]["blocking"], true);
    assert!(
        d[0]["fix"]
            .as_str()
            .unwrap()
            .contains("run-in-image --ptrace"),
        "{}",
        d[0]
    );
    let summary = all.last().unwrap();
    assert_eq!(
        (summary["diagnoses"].clone(), summary["blocking"].clone()),
        (Value::from(2), Value::from(2))
    );
    // docker's default profile: a warning only.
    let out = tree.run(&["-"], Some(&fixture("gdb-run-docker-default-profile.txt")));
    assert_eq!(out.status.code(), Some(0));
    let all = records(&out);
    let d = of_type(&all, "diagnosis");
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0]["symptom"].clone(), d[0]["blocking"].clone()),
        (Value::from("aslr_not_disabled"), Value::Bool(false))
    );
    assert!(
        d[0]["cause"]
            .as_str()
            .unwrap()
            .contains("personality(ADDR_NO_RANDOMIZE)"),
        "{}",
        d[0]
    );
    // Attaching to another user's process without CAP_SYS_PTRACE, read from a file.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ptrace/gdb-attach-other-uid-no-cap.txt");
    let out = tree.run(&[path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let all = records(&out);
    let d = of_type(&all, "diagnosis");
    assert_eq!(d[0]["symptom"], "ptrace_eperm");
    assert!(
        d[0]["cause"].as_str().unwrap().contains("CAP_SYS_PTRACE"),
        "{}",
        d[0]
    );
    // gdb's older wording under Yama 1, on a host.
    let host = Tree::new("diag-host", Some("1"), DOCKER_CAPS, 0, 1000);
    let text = "Attaching to process 4242\nCould not attach to process.  If your uid matches the uid of the target\n\
        process, check the setting of /proc/sys/kernel/yama/ptrace_scope, or try\nagain as the root user.  \
        For more details, see /etc/sysctl.d/10-ptrace.conf\nptrace: Operation not permitted.\n";
    let out = host.run(&["-", "--format", "text"], Some(text));
    assert_eq!(out.status.code(), Some(1));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("gdb said: Could not attach to process."),
        "{shown}"
    );
    assert!(shown.contains("only its own descendants"), "{shown}");
    assert!(shown.contains("ptrace-fix --apply"), "{shown}");
}

#[test]
fn apply_then_revert() {
    let tree = Tree::new("apply", Some("1"), DOCKER_CAPS, 0, 0);
    let out = tree.run(&["--apply"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = records(&out);
    let c = of_type(&all, "change");
    assert_eq!(
        (c[0]["action"].clone(), c[0]["changed"].clone()),
        (Value::from("apply"), Value::Bool(true))
    );
    assert_eq!(
        (c[0]["from"].clone(), c[0]["to"].clone()),
        (Value::from("1"), Value::from("0"))
    );
    assert!(
        c[0]["message"]
            .as_str()
            .unwrap()
            .contains("ptrace-fix --revert"),
        "{}",
        c[0]
    );
    assert_eq!(tree.yama().as_deref(), Some("0"));
    // The report after the change says attaching works now.
    assert_eq!(report(&out)["can_attach"], true);
    // A second --apply keeps the first saved value.
    let again = tree.run(&["--apply"], None);
    assert_eq!(of_type(&records(&again), "change")[0]["changed"], false);
    let out = tree.run(&["--revert"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let c = records(&out);
    let c = of_type(&c, "change");
    assert_eq!(
        (c[0]["changed"].clone(), c[0]["to"].clone()),
        (Value::Bool(true), Value::from("1"))
    );
    assert_eq!(tree.yama().as_deref(), Some("1"));
    assert!(!tree.dir.join("run/dbgpipe/ptrace_scope.before").exists());
    // Nothing left to revert.
    let out = tree.run(&["--revert"], None);
    assert_eq!(of_type(&records(&out), "change")[0]["changed"], false);
}

#[test]
fn persist_then_revert() {
    let tree = Tree::new("persist", Some("2"), ALL_CAPS, 0, 0);
    let out = tree.run(&["--persist"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = tree.dir.join("sysctl.d/90-dbgpipe-ptrace.conf");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("kernel.yama.ptrace_scope = 0\n"), "{text}");
    // --persist alone does not change the running value.
    assert_eq!(tree.yama().as_deref(), Some("2"));
    let out = tree.run(&["--revert"], None);
    assert_eq!(of_type(&records(&out), "change")[0]["changed"], true);
    assert!(!file.exists());
}

/// Exit status 2 and one line naming the problem.
fn fails_with(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "{err}");
    if !err.contains("Usage:") {
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("ptrace-fix: "), "{err}");
    }
}

#[test]
fn changes_need_root_and_a_lowerable_value() {
    let user = Tree::new("user", Some("1"), DOCKER_CAPS, 0, 1000);
    fails_with(
        &user.run(&["--apply"], None),
        "--apply: needs root (effective uid 1000)",
    );
    fails_with(&user.run(&["--persist"], None), "--persist: needs root");
    assert_eq!(user.yama().as_deref(), Some("1"));
    let three = Tree::new("three", Some("3"), ALL_CAPS, 0, 0);
    fails_with(
        &three.run(&["--apply"], None),
        "ptrace_scope 3 cannot be lowered before a reboot",
    );
    assert_eq!(three.yama().as_deref(), Some("3"));
    let absent = Tree::new("absent", None, ALL_CAPS, 0, 0);
    let out = absent.run(&["--apply", "--persist"], None);
    assert_eq!(out.status.code(), Some(0));
    let all = records(&out);
    let c = of_type(&all, "change");
    assert!(c.iter().all(|c| c["changed"] == false), "{c:?}");
    assert!(!absent.dir.join("sysctl.d/90-dbgpipe-ptrace.conf").exists());
}

#[test]
fn bad_input_is_exit_2_with_one_line() {
    let bad = Tree::new("bad-yama", Some("7"), ALL_CAPS, 0, 0);
    fails_with(&bad.run(&[], None), "malformed ptrace_scope \"7\"");
    let status = Tree::new("bad-status", None, ALL_CAPS, 0, 0);
    std::fs::write(
        status.dir.join("proc/self/status"),
        "Name:\tx\nCapEff:\tnot-hex\n",
    )
    .unwrap();
    fails_with(&status.run(&[], None), "status:2: malformed CapEff");
    fails_with(
        &run(&["--proc-root", "/nonexistent-dbgpipe"], None),
        "/nonexistent-dbgpipe/self/status",
    );
    fails_with(
        &run(&["/nonexistent/gdb.log"], None),
        "/nonexistent/gdb.log",
    );
    fails_with(&run(&["--apply", "--revert"], None), "cannot be used with");
    fails_with(&run(&["--bogus"], None), "unexpected argument");
    // A bad input changes nothing, even with --apply.
    let tree = Tree::new("bad-input-apply", Some("1"), ALL_CAPS, 0, 0);
    fails_with(
        &tree.run(&["--apply", "/nonexistent/gdb.log"], None),
        "/nonexistent/gdb.log",
    );
    assert_eq!(tree.yama().as_deref(), Some("1"));
}

/// On the real machine the exit status must say what gdb actually does.
#[test]
fn the_real_machine_agrees_with_gdb() {
    let gdb = Command::new("gdb")
        .args(["-nx", "-batch", "-ex", "run", "--args", "true"])
        .stdin(Stdio::null())
        .output()
        .expect("gdb is required (apt-get install gdb)");
    let gdb_ran = String::from_utf8_lossy(&gdb.stdout).contains("exited normally");
    let out = run(&[], None);
    let r = report(&out);
    assert_eq!(out.status.code(), Some(if gdb_ran { 0 } else { 1 }), "{r}");
    assert_eq!(r["can_run"], gdb_ran, "{r}");
    assert_eq!(r["probe"], if gdb_ran { "ok" } else { "blocked" }, "{r}");
    // The facts are this process's.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let seccomp: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(r["seccomp"], seccomp, "{r}");
    let yama = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .map(|s| s.trim().parse::<u64>().unwrap());
    assert_eq!(
        r["yama_ptrace_scope"],
        yama.map_or(Value::Null, Value::from),
        "{r}"
    );
    // Without the probe the verdict is the facts' alone; here they agree.
    let facts_only = report(&run(&["--no-probe"], None));
    assert_eq!(facts_only["probe"], Value::Null);
    assert_eq!(facts_only["can_run"], gdb_ran, "{facts_only}");
    let text = run(&["--format", "text"], None);
    assert!(
        String::from_utf8_lossy(&text.stdout).starts_with("ptrace-fix: gdb "),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
}

/// Schema 2, and the summary's line counts add up.
#[test]
fn the_summary_counts_every_line() {
    let tree = Tree::new("counts", None, DOCKER_CAPS, 2, 0).in_docker();
    let input = fixture("gdb-run-docker-default-profile.txt") + "hello from the program\n";
    let out = tree.run(&["-"], Some(&input));
    let all = records(&out);
    let s = all.last().unwrap();
    assert_eq!(
        (s["tool"].clone(), s["schema"].clone()),
        ("ptrace-fix".into(), 2.into())
    );
    assert_eq!(
        (
            s["inputs"].as_u64(),
            s["lines"].as_u64(),
            s["symptom_lines"].as_u64(),
            s["gdb_lines"].as_u64(),
            s["other_lines"].as_u64()
        ),
        (Some(1), Some(5), Some(1), Some(3), Some(1)),
        "{s}"
    );
    let parts: u64 = [
        "symptom_lines",
        "gdb_lines",
        "record_lines",
        "passed_lines",
        "other_lines",
    ]
    .iter()
    .map(|k| s[k].as_u64().unwrap())
    .sum();
    assert_eq!(Some(parts), s["lines"].as_u64(), "{s}");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

/// Real backtraces from bug reports (tests/data/gdb) hold no ptrace error, but are gdb's:
/// no hint, and their lines are counted as gdb's.
#[test]
fn real_backtraces_are_gdbs_output() {
    let tree = Tree::new("backtraces", None, ALL_CAPS, 0, 0);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gdb");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for file in &files {
        let out = tree.run(&[file.to_str().unwrap()], None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            file.display(),
            stderr(&out)
        );
        assert!(
            stderr(&out).is_empty(),
            "{}: {}",
            file.display(),
            stderr(&out)
        );
        let all = records(&out);
        let s = all.last().unwrap();
        assert_eq!(s["diagnoses"], 0, "{}: {s}", file.display());
        assert!(
            s["gdb_lines"].as_u64().unwrap() > 0,
            "{}: {s}",
            file.display()
        );
    }
}

/// Text that is no gdb output gets a one-line hint on stderr (the verdict is still printed,
/// the exit status is the machine's); an executable is refused naming it.
#[test]
fn input_that_is_no_gdb_output() {
    let tree = Tree::new("not-gdb", None, ALL_CAPS, 0, 0);
    let out = tree.run(
        &["-"],
        Some("Traceback (most recent call last):\n  File \"t.py\"\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ptrace-fix: <stdin>: no line of gdb's among its 2 lines"),
        "{err}"
    );
    let s = records(&out).last().unwrap().clone();
    assert_eq!(
        (s["lines"].clone(), s["other_lines"].clone()),
        (2.into(), 2.into())
    );
    // An empty input is no mistake: no hint.
    let out = tree.run(&["-"], Some(""));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // The program itself, given by mistake.
    fails_with(
        &tree.run(&[PTRACE_FIX], None),
        &format!("{PTRACE_FIX}: is an executable or shared object, not gdb's output"),
    );
}

/// Its JSON lines read back give the same report as the gdb output they came from: a format
/// converted without gdb's output; other tools' lines pass through unchanged.
#[test]
fn its_own_json_lines_read_back() {
    let tree = Tree::new("read-back", Some("1"), DOCKER_CAPS, 0, 1000);
    let gdb = fixture("gdb-run-seccomp-denies-ptrace.txt");
    let first = tree.run(&["-"], Some(&gdb));
    let jsonl = String::from_utf8(first.stdout.clone()).unwrap();
    let from_gdb = tree.run(&["--format", "text", "-"], Some(&gdb));
    let from_jsonl = tree.run(&["--format", "text", "-"], Some(&jsonl));
    assert_eq!(from_jsonl.status.code(), from_gdb.status.code());
    assert_eq!(
        String::from_utf8_lossy(&from_jsonl.stdout),
        String::from_utf8_lossy(&from_gdb.stdout)
    );
    assert!(stderr(&from_jsonl).is_empty(), "{}", stderr(&from_jsonl));
    // Twice through JSON lines: the same records, another tool's line kept; the summary
    // counts what this run read.
    let other = "{\"type\":\"crash\",\"signal\":\"SIGSEGV\"}\n";
    let again = tree.run(&["-"], Some(&format!("{other}{jsonl}")));
    let text = String::from_utf8(again.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let before: Vec<&str> = jsonl.lines().collect();
    assert_eq!(lines[0], other.trim_end());
    assert_eq!(lines[1..lines.len() - 1], before[..before.len() - 1]);
    let s = records(&again).last().unwrap().clone();
    assert_eq!(
        (
            s["lines"].clone(),
            s["record_lines"].clone(),
            s["passed_lines"].clone()
        ),
        (5.into(), 4.into(), 1.into()),
        "{s}"
    );
    assert_eq!(
        (s["diagnoses"].clone(), s["blocking"].clone()),
        (2.into(), 2.into())
    );
}
