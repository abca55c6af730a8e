//! dbg-image: the Dockerfile template (and the generated files under docker/), the content
//! tag, and, with the real engine, the debootstrap base, the build, its check and its cache.
//!
//! The engine tests need root, a running docker and debootstrap (`.ci/run` provides them) and
//! fail without. The `--from source` recipe's image is built and run in
//! `tests/image_source.rs`.

#[path = "image_fixture.rs"]
mod image_fixture;

use image_fixture::{dbg_image, images, DBG_IMAGE};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// The generated files and the arguments that generate them (as in `cargo xtask image
/// --regenerate`).
const DOCKERFILES: &[(&str, &[&str])] = &[
    ("Dockerfile.debian", &["--from", "debian"]),
    (
        "Dockerfile.source",
        &["--from", "source", "--source", "python.org"],
    ),
    (
        "Dockerfile.source-debian",
        &["--from", "source", "--source", "debian"],
    ),
];

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(DBG_IMAGE)
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
        // The tool may refuse its arguments and exit before reading: a closed pipe here is
        // part of the outcome under test, not a failure of the harness.
        let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_files_under_docker_are_the_templates_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker");
    for (file, args) in DOCKERFILES {
        let out = run(&[&["dockerfile"], *args].concat(), None);
        assert!(out.status.success(), "{}", stderr(&out));
        let path = dir.join(file);
        if std::env::var_os("DBGPIPE_BLESS").is_some() {
            std::fs::write(&path, &out.stdout).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == stdout(&out),
            "{} differs from `dbg-image dockerfile {}`: run `cargo xtask image --regenerate` (or DBGPIPE_BLESS=1 cargo test --test dbg_image)",
            path.display(),
            args.join(" ")
        );
    }
}

#[test]
fn the_recipes_dockerfiles() {
    let debian = stdout(&run(&["dockerfile"], None));
    assert!(debian.contains("FROM debian:bookworm\n"), "{debian}");
    assert!(
        debian.contains("python3.11-dbg python3.11-dev gcc"),
        "{debian}"
    );
    let source = stdout(&run(
        &["dockerfile", "--python", "3.12", "--source", "python.org"],
        None,
    ));
    for needle in [
        "https://www.python.org/ftp/python/3.12.12/Python-3.12.12.tar.xz",
        "fb85a13414b028c49ba18bbd523c2d055a30b56b18b92ce454ea2c51edc656c4  /tmp/Python.tar\"",
        "--with-pydebug --with-valgrind --without-pymalloc OPT=-g",
        "ln -s python3.12 /usr/local/bin/python3.12-dbg",
        "org.dbgpipe.interpreter=\"/usr/local/bin/python3.12-dbg\"",
    ] {
        assert!(source.contains(needle), "{needle}\n{source}");
    }
    let trixie = stdout(&run(&["dockerfile", "--python", "3.13"], None));
    assert!(
        trixie.contains("FROM debian:trixie\n") && trixie.contains("python3.13-dbg"),
        "{trixie}"
    );
    let lean = stdout(&run(
        &[
            "dockerfile",
            "--with",
            "gdb,strace",
            "--base",
            "dbgpipe/debootstrap:bookworm",
        ],
        None,
    ));
    assert!(
        lean.contains("FROM dbgpipe/debootstrap:bookworm\n"),
        "{lean}"
    );
    assert!(lean.contains("libc6-dbg ca-certificates strace"), "{lean}");
    assert!(
        !lean.contains("memray") && !lean.contains(" valgrind \\"),
        "{lean}"
    );
}

#[test]
fn the_tag_follows_the_content() {
    let tag = |args: &[&str]| {
        stdout(&run(&[&["tag"], args].concat(), None))
            .trim()
            .to_string()
    };
    let default = tag(&[]);
    assert!(default.starts_with("dbgpipe/python-dbg:3.11-"), "{default}");
    assert_eq!(
        default,
        tag(&[
            "--python",
            "3.11",
            "--from",
            "debian",
            "--base",
            "debian:bookworm"
        ])
    );
    assert_ne!(default, tag(&["--base", "dbgpipe/debootstrap:bookworm"]));
    let python_org = tag(&["--python", "3.12", "--source", "python.org"]);
    assert!(
        python_org.starts_with("dbgpipe/python-dbg:3.12-"),
        "{python_org}"
    );
    assert_eq!(
        python_org,
        tag(&[
            "--python",
            "3.12.12",
            "--from",
            "source",
            "--source",
            "python.org"
        ])
    );
    // Debian's source package and python.org's tarball are two recipes, so two tags.
    assert_ne!(
        tag(&["--from", "source", "--source", "debian"]),
        tag(&["--from", "source", "--source", "python.org"])
    );
    // run-in-image's default image is this tag.
    let dry = Command::new(env!("CARGO_BIN_EXE_run-in-image"))
        .args(["--dry-run", "--", "true"])
        .env_remove("DBGPIPE_IMAGE")
        .output()
        .unwrap();
    let argv: Vec<String> = serde_json::from_slice(&dry.stdout).unwrap();
    assert!(argv.contains(&default), "{argv:?}");
}

/// Exit status 2 and one line naming the problem.
fn fails_with(args: &[&str], stdin: Option<&str>, needle: &str) {
    let out = run(args, stdin);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    if !err.contains("Usage:") {
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("dbg-image: "), "{err}");
    }
}

#[test]
fn bad_input_is_exit_2_with_one_line() {
    fails_with(&["dockerfile", "--bogus"], None, "unexpected argument");
    fails_with(&["frobnicate"], None, "unrecognized subcommand");
    fails_with(&["dockerfile", "--python", "3"], None, "not a version");
    fails_with(
        &["dockerfile", "--python", "3.12", "--from", "debian"],
        None,
        "no Debian release ships python3.12-dbg",
    );
    fails_with(
        &["dockerfile", "--python", "3.7"],
        None,
        "no checksum known for CPython 3.7",
    );
    fails_with(
        &["dockerfile", "--python", "3.12", "--source", "debian"],
        None,
        "no Debian release has a python3.12 source package",
    );
    fails_with(
        &["dockerfile", "--from", "debian", "--source", "debian"],
        None,
        "--source and --tarball choose the source recipe's tarball",
    );
    fails_with(
        &[
            "dockerfile",
            "--tarball",
            "/nonexistent/Python-3.12.3.tar.xz",
        ],
        None,
        "/nonexistent/Python-3.12.3.tar.xz: No such file",
    );
    fails_with(
        &["dockerfile", "--tarball", "/nonexistent/python.tgz"],
        None,
        "cannot tell the CPython release from the name",
    );
    fails_with(
        &["dockerfile", "--tarball", "x.tgz", "--source", "debian"],
        None,
        "cannot be used with",
    );
    fails_with(
        &["build", "-", "--tarball", "Python-3.12.3.tar.xz"],
        Some("FROM x\n"),
        "cannot change a given Dockerfile",
    );
    fails_with(
        &["dockerfile", "--base", "x y"],
        None,
        "is not an image name",
    );
    fails_with(
        &["dockerfile", "--with", "gdb,Not_A_Package"],
        None,
        "neither one of",
    );
    fails_with(
        &["build", "--engine", "/nonexistent/docker"],
        None,
        "/nonexistent/docker not found",
    );
    fails_with(
        &["build", "-", "--engine", "/nonexistent/docker"],
        Some("  \n"),
        "is empty",
    );
    fails_with(
        &["build", "/nonexistent/Dockerfile"],
        None,
        "/nonexistent/Dockerfile: No such file",
    );
    fails_with(
        &["build", "-", "--base", "x"],
        Some("FROM x\n"),
        "cannot change a given Dockerfile",
    );
    fails_with(
        &[
            "base",
            "--debootstrap",
            "../etc",
            "--engine",
            "/nonexistent/docker",
        ],
        None,
        "not found",
    );
    fails_with(
        &["base", "--debootstrap", "Bad/Suite"],
        None,
        "is not a Debian suite name",
    );
    fails_with(
        &["base", "--debootstrap", "bookworm", "--mirror", "ftp://x"],
        None,
        "is not an http(s) or file URL",
    );
}

#[test]
fn the_base_is_cached_by_suite() {
    let images = images();
    assert_eq!(images.base["type"], "base");
    assert_eq!(images.base_tag(), "dbgpipe/debootstrap:bookworm");
    assert!(
        images.base["id"].as_str().unwrap().starts_with("sha256:"),
        "{}",
        images.base
    );
    let start = Instant::now();
    let again = dbg_image(&["base", "--debootstrap", "bookworm"]);
    assert!(start.elapsed().as_secs_f64() < 5.0, "{:?}", start.elapsed());
    assert_eq!(again["built"], false);
    assert_eq!(again["id"], images.base["id"]);
}

#[test]
fn the_image_is_a_checked_debug_build() {
    let images = images();
    let r = &images.image;
    assert_eq!(r["type"], "image");
    assert_eq!(r["python"], "3.11");
    assert_eq!(r["interpreter"], "/usr/bin/python3.11-dbg");
    assert!(r["version"].as_str().unwrap().starts_with("3.11."), "{r}");
    assert_eq!(r["debug_build"], true);
    assert_eq!(r["recipe"], "debian");
    for tool in ["valgrind", "gdb", "memray"] {
        assert!(
            r[tool]
                .as_str()
                .is_some_and(|v| v.chars().next().unwrap().is_ascii_digit()),
            "{tool}: {r}"
        );
    }
    assert_eq!(r["memray"], "1.20.0");
    assert_eq!(r["memray_path"], "/usr/local/bin/memray");
    assert_eq!(r["memray_python"], "/opt/memray/bin/python3.11");
    assert_eq!(r["problems"], Value::Array(vec![]));
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys[..13],
        [
            "type",
            "tag",
            "id",
            "python",
            "interpreter",
            "version",
            "debug_build",
            "pymalloc",
            "with_valgrind",
            "valgrind",
            "gdb",
            "memray",
            "memray_path"
        ]
    );
    // Debian's debug build keeps pymalloc (PYTHONMALLOC=malloc is set in the image), and was
    // built --with-valgrind; the record of a recipe with no tarball names none.
    assert_eq!(
        (&r["pymalloc"], &r["with_valgrind"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
    for key in ["source", "source_file", "source_sha256"] {
        assert_eq!(r[key], Value::Null, "{key}: {r}");
    }
    let tag = stdout(&run(&["tag", "--base", images.base_tag()], None));
    assert_eq!(tag.trim(), images.tag());
}

#[test]
fn an_unchanged_recipe_is_not_rebuilt() {
    let images = images();
    let again = dbg_image(&["build", "--base", images.base_tag()]);
    assert_eq!(again["built"], false);
    assert_eq!(again["id"], images.image["id"]);
    assert_eq!(again["tag"], images.image["tag"]);
    // The same text from stdin is the same content, so the same image.
    let text = stdout(&run(&["dockerfile", "--base", images.base_tag()], None));
    let out = run(&["build", "-"], Some(&text));
    assert!(out.status.success(), "{}", stderr(&out));
    let piped: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(piped["built"], false);
    assert_eq!(piped["tag"], images.image["tag"]);
    assert_eq!(piped["debug_build"], true);
}

#[test]
fn an_image_without_a_debug_interpreter_fails_its_check() {
    let images = images();
    // No RUN step: the build is instant, and the image has no python at all.
    let text = format!(
        "FROM {}\nLABEL org.dbgpipe.python=\"3.11\" org.dbgpipe.test=\"no-interpreter\"\n",
        images.base_tag()
    );
    let out = run(&["build", "-"], Some(&text));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(r["debug_build"], false);
    assert_eq!(r["valgrind"], Value::Null);
    let problems = r["problems"].to_string();
    assert!(
        problems.contains("python3.11-dbg did not run in the image"),
        "{problems}"
    );
    let tag = r["tag"].as_str().unwrap();
    let _ = Command::new("docker").args(["rmi", tag]).output();
}
