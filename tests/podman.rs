//! run-in-image and dbg-image with podman (rootful, as CI runs), for real: the command line
//! run-in-image gives podman (`--init`, `--user`, the bind mount and working directory, `-i`,
//! `--env`, the env-file expander, `--ptrace`'s capability and seccomp profile) and what
//! dbg-image asks of it (build, image inspect, labels, the check's run).
//!
//! The image is the debootstrap base of `tests/image_fixture.rs`, copied from docker's store
//! into podman's (`docker save | podman load`, seconds): the commands here need a shell and
//! coreutils, not Python. Rootless podman (`--userns=keep-id`) is not tested: CI runs as
//! root. These tests need podman and catatonit (its `--init`), which `.ci/run` installs, and
//! fail without.

#[path = "image_fixture.rs"]
mod image_fixture;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const RUN_IN_IMAGE: &str = env!("CARGO_BIN_EXE_run-in-image");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("podman");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The soft and hard limits of open files of this process, from `/proc/self/limits`.
fn open_files_limits() -> (String, String) {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[3].to_string(), fields[4].to_string())
}

/// A containers.conf for these tests (`CONTAINERS_CONF`), and the base loaded into podman's
/// store; once per process.
///
/// Rootful podman raises a container's RLIMIT_NOFILE and RLIMIT_NPROC to its own maximum,
/// which the sandboxes this project's CI runs in refuse ("error setting rlimit type 7:
/// operation not permitted"). The file gives the limits of this process instead, and
/// podman's rootless default for processes; on an ordinary machine it changes nothing that
/// these tests look at.
fn setup() -> &'static (PathBuf, String) {
    static SETUP: OnceLock<(PathBuf, String)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let (soft, hard) = open_files_limits();
        let conf = tmp().join("containers.conf");
        std::fs::write(
            &conf,
            format!(
                "[containers]\ndefault_ulimits = [\"nofile={soft}:{hard}\", \"nproc=32768:32768\"]\n"
            ),
        )
        .unwrap();
        let base = image_fixture::base()["tag"]
            .as_str()
            .expect("the base record has a tag")
            .to_string();
        let present = Command::new("podman")
            .args(["image", "exists", &base])
            .status()
            .expect("podman is not installed (apt-get install podman catatonit)");
        if !present.success() {
            let mut save = Command::new("docker")
                .args(["save", &base])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let load = Command::new("podman")
                .args(["load", "--quiet"])
                .stdin(save.stdout.take().unwrap())
                .output()
                .unwrap();
            assert!(save.wait().unwrap().success());
            assert!(load.status.success(), "podman load: {load:?}");
        }
        (conf, base)
    })
}

/// run-in-image --engine podman --image <base> ARGS, from the repository.
fn rii(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let (conf, base) = setup();
    let mut child = Command::new(RUN_IN_IMAGE)
        .args(["--engine", "podman", "--image", base])
        .args(args)
        .current_dir(repo())
        .env("CONTAINERS_CONF", conf)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    child.wait_with_output().unwrap()
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

#[test]
fn podman_passes_streams_status_and_the_working_directory() {
    let out = rii(
        &[
            "--env",
            "GREETING=a b",
            "--",
            "sh",
            "-c",
            "pwd; echo \"$GREETING\"; tr a-z A-Z; echo to-stderr >&2; exit 7",
        ],
        Some(b"piped in\n"),
    );
    assert_eq!(out.status.code(), Some(7), "{}", show(&out));
    assert_eq!(
        text(&out.stdout),
        format!("{}\na b\nPIPED IN\n", repo().display())
    );
    assert_eq!(text(&out.stderr), "to-stderr\n");
    // Not docker's 127: podman's --init (catatonit) runs the command, and fails with 1.
    let missing = rii(&["--", "no-such-command-dbgpipe"], None);
    assert_eq!(missing.status.code(), Some(1), "{}", show(&missing));
    assert!(
        text(&missing.stderr).contains("failed to exec pid1"),
        "{}",
        show(&missing)
    );
}

#[test]
fn podman_writes_into_the_mount_as_the_invoking_user() {
    let file = tmp().join("written-by-podman");
    let _ = std::fs::remove_file(&file);
    let mount = format!("{}:{}", tmp().display(), tmp().display());
    let out = rii(
        &[
            "--mount",
            &mount,
            "--",
            "sh",
            "-c",
            "id -u > \"$1\"",
            "sh",
            &file.display().to_string(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", show(&out));
    use std::os::unix::fs::MetadataExt;
    let here = std::fs::metadata(tmp()).unwrap();
    let written = std::fs::metadata(&file).unwrap();
    assert_eq!(written.uid(), here.uid());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        here.uid().to_string()
    );
}

#[test]
fn podman_expands_env_files_with_the_containers_values() {
    let env = tmp().join("podman.env");
    std::fs::write(
        &env,
        "export FROM_IMAGE=$PATH:$PWD/bin\nexport TRICK='$(id) `id`'\n",
    )
    .unwrap();
    let out = rii(
        &[
            "--env-file",
            &env.display().to_string(),
            "--",
            "printenv",
            "FROM_IMAGE",
            "TRICK",
        ],
        None,
    );
    assert!(out.status.success(), "{}", show(&out));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert!(
        lines[0].starts_with("/usr/local/sbin:/usr/local/bin:")
            && lines[0].ends_with(&format!(":{}/bin", repo().display())),
        "{lines:?}"
    );
    assert_eq!(lines[1], "$(id) `id`");
}

/// `CapEff` and `Seccomp` of the container's process, from /proc/self/status.
fn capabilities_and_seccomp(ptrace: bool) -> (u64, String) {
    let mut args = vec![];
    if ptrace {
        args.push("--ptrace");
    }
    args.extend(["--", "cat", "/proc/self/status"]);
    let out = rii(&args, None);
    assert!(out.status.success(), "{}", show(&out));
    let status = text(&out.stdout);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .trim()
            .to_string()
    };
    (
        u64::from_str_radix(&field("CapEff:"), 16).unwrap(),
        field("Seccomp:"),
    )
}

#[test]
fn podman_takes_ptraces_capability_and_profile() {
    const CAP_SYS_PTRACE: u64 = 1 << 19;
    let (caps, seccomp) = capabilities_and_seccomp(false);
    assert_eq!(caps & CAP_SYS_PTRACE, 0, "{caps:x}");
    assert_eq!(seccomp, "2", "podman's default seccomp profile filters");
    let (caps, seccomp) = capabilities_and_seccomp(true);
    assert_ne!(caps & CAP_SYS_PTRACE, 0, "{caps:x}");
    assert_eq!(seccomp, "0", "seccomp=unconfined");
}

/// dbg-image with podman: build, inspect, labels, and the check run in the image, which here
/// has no interpreter and fails it.
#[test]
fn dbg_image_builds_and_checks_with_podman() {
    let (conf, base) = setup();
    let text_in =
        format!("FROM {base}\nLABEL org.dbgpipe.python=\"3.11\" org.dbgpipe.test=\"podman\"\n");
    let mut child = Command::new(image_fixture::DBG_IMAGE)
        .args(["build", "-", "--engine", "podman"])
        .env("CONTAINERS_CONF", conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text_in.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let r: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(r["engine"], "podman", "{r}");
    assert_eq!(r["built"], true, "{r}");
    assert!(r["id"].as_str().is_some_and(|id| !id.is_empty()), "{r}");
    assert_eq!(r["debug_build"], false, "{r}");
    assert!(
        r["problems"]
            .to_string()
            .contains("python3.11-dbg did not run in the image"),
        "{r}"
    );
    let tag = r["tag"].as_str().unwrap();
    let removed = Command::new("podman").args(["rmi", tag]).output().unwrap();
    assert!(removed.status.success(), "{removed:?}");
}
