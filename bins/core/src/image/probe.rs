//! The check of a built image: a fixed Python program ([`SCRIPT`]) run inside it by its debug
//! interpreter, which answers with one JSON object ([`Answer`]), and the judgement of that
//! answer against what the image should have ([`Answer::problems`]).
//!
//! The interpreter's build is read from its own `sysconfig` (pymalloc, Valgrind client
//! requests), and the source recipe's tarball from the line the build left in
//! [`SOURCE_FILE`]; the source recipe must be built without pymalloc and with Valgrind
//! support, from a tarball whose SHA-256, where dbg-image knows python.org's, is that one.
//!
//! The check runs tools, not only asks for versions: valgrind must run a program (a missing
//! `ld.so` redirection only shows then) and gdb must start. It runs with `--network none` in
//! a throwaway container, so it cannot depend on anything outside the image.

use crate::image::dockerfile::SOURCE_FILE;
use crate::image::engine::{first_line, Engine};
use crate::image::recipe::{known_sha256, python_org_name, TOOLS};
use crate::Error;
use serde::Deserialize;
use std::process::Stdio;

/// The check run inside a built image by its debug interpreter (`python3.X-dbg -I -c
/// SCRIPT`): it prints one JSON object, an [`Answer`].
pub const SCRIPT: &str = r##"import json, os, platform, shutil, subprocess, sys, sysconfig
def run(argv):
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    except (OSError, subprocess.SubprocessError) as e:
        return None, str(e)
    return p.returncode, p.stdout.decode("utf-8", "replace")
def first(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[0] if lines else ""
out = {"executable": sys.executable, "python": "%d.%d" % sys.version_info[:2],
       "version": platform.python_version(), "debug_build": hasattr(sys, "gettotalrefcount"),
       "pymalloc": bool(sysconfig.get_config_var("WITH_PYMALLOC")),
       "with_valgrind": bool(sysconfig.get_config_var("WITH_VALGRIND")),
       "valgrind": None, "gdb": None, "memray": None, "memray_path": None, "memray_python": None,
       "source": None, "source_file": None, "source_sha256": None, "problems": []}
try:
    with open("/usr/local/share/dbgpipe/python-source") as f:
        fields = f.read().split()
    if len(fields) == 3:
        out["source"], out["source_file"], out["source_sha256"] = fields
except OSError:
    pass
if not out["debug_build"]:
    out["problems"].append("not a debug build: sys.gettotalrefcount is missing")
code, text = run(["valgrind", "--version"])
if code == 0:
    c, t = run(["valgrind", "-q", "--error-exitcode=99", "true"])
    if c == 0:
        out["valgrind"] = first(text).replace("valgrind-", "")
    else:
        out["problems"].append("valgrind cannot run a program: " + first(t))
else:
    out["problems"].append("valgrind: " + first(text))
code, text = run(["gdb", "--version"])
if code == 0:
    c, t = run(["gdb", "-nx", "-batch", "-ex", "print 6*7"])
    if c == 0 and "42" in t:
        out["gdb"] = first(text).split()[-1]
    else:
        out["problems"].append("gdb does not start: " + first(t))
else:
    out["problems"].append("gdb: " + first(text))
path = shutil.which("memray")
if path:
    code, text = run([path, "--version"])
    if code == 0:
        out["memray"] = first(text).split()[-1]
        out["memray_path"] = path
        try:
            with open(os.path.realpath(path), "rb") as f:
                line = f.readline().decode("utf-8", "replace")
            if line.startswith("#!"):
                out["memray_python"] = line[2:].strip()
        except OSError:
            pass
    else:
        out["problems"].append("memray: " + first(text))
else:
    out["problems"].append("memray: not on PATH")
print(json.dumps(out))
"##;

/// What [`SCRIPT`] prints: the facts of the image as its debug interpreter sees them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Answer {
    /// `sys.executable`.
    pub executable: Option<String>,
    /// `X.Y` of the interpreter.
    pub python: Option<String>,
    /// Its full version.
    pub version: Option<String>,
    /// `sys.gettotalrefcount` exists: a `--with-pydebug` build.
    pub debug_build: bool,
    /// `sysconfig`'s `WITH_PYMALLOC`: CPython's small-object allocator is built in.
    #[serde(default)]
    pub pymalloc: Option<bool>,
    /// `sysconfig`'s `WITH_VALGRIND`: Valgrind client requests are compiled in.
    #[serde(default)]
    pub with_valgrind: Option<bool>,
    /// valgrind's version when it ran a program, else `None`.
    pub valgrind: Option<String>,
    /// gdb's version when it started, else `None`.
    pub gdb: Option<String>,
    /// memray's version when it ran, else `None`.
    pub memray: Option<String>,
    /// memray's path in the image.
    pub memray_path: Option<String>,
    /// The interpreter of memray's `#!` line.
    pub memray_python: Option<String>,
    /// Where the source recipe's tarball came from (`python.org`, `debian-orig`, `file`).
    #[serde(default)]
    pub source: Option<String>,
    /// The tarball's file name.
    #[serde(default)]
    pub source_file: Option<String>,
    /// The tarball's SHA-256.
    #[serde(default)]
    pub source_sha256: Option<String>,
    /// What the script found wrong, one sentence each, starting with the tool's name.
    pub problems: Vec<String>,
}

impl Answer {
    /// The answer of an interpreter that did not run at all: nothing works.
    fn did_not_run(interpreter: &str, stderr: &[u8]) -> Answer {
        Answer {
            executable: None,
            python: None,
            version: None,
            debug_build: false,
            pymalloc: None,
            with_valgrind: None,
            valgrind: None,
            gdb: None,
            memray: None,
            memray_path: None,
            memray_python: None,
            source: None,
            source_file: None,
            source_sha256: None,
            problems: vec![format!(
                "{interpreter} did not run in the image: {}",
                first_line(stderr)
            )],
        }
    }

    /// Reads the script's standard output; `what` names the check in errors.
    pub fn read(what: &str, stdout: &[u8]) -> Result<Answer, Error> {
        let text = String::from_utf8_lossy(stdout);
        serde_json::from_str(text.trim()).map_err(|e| {
            Error::at(
                what,
                None,
                format!("the check printed no JSON ({e}): {}", first_line(stdout)),
            )
        })
    }

    /// What is wrong with an image of `recipe` (the `org.dbgpipe.recipe` label) that should
    /// have a debug `interpreter` and the tools in `wanted` (the `org.dbgpipe.with` label:
    /// tools, then extra packages): the script's problems, less those about tools the image
    /// was not meant to have, with the build's named first.
    pub fn problems(
        &self,
        interpreter: &str,
        wanted: &[String],
        recipe: Option<&str>,
    ) -> Vec<String> {
        let mut problems: Vec<String> = Vec::new();
        if !self.debug_build {
            problems.push(format!(
                "{interpreter} is not a debug build: sys.gettotalrefcount is missing"
            ));
        }
        if recipe == Some("source") && self.executable.is_some() {
            problems.extend(self.source_problems(interpreter));
        }
        for p in &self.problems {
            // The script names the tool first: `valgrind: …`, `gdb does not start: …`.
            let tool = p
                .split(':')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next()
                .unwrap_or("");
            if TOOLS.contains(&tool) && !wanted.iter().any(|w| w == tool) {
                continue;
            }
            // Said above, with the interpreter's name.
            if !p.starts_with("not a debug build") {
                problems.push(p.clone());
            }
        }
        problems
    }

    /// What is wrong with the source recipe's interpreter: pymalloc built in, no Valgrind
    /// client requests, no record of its tarball, or a tarball whose SHA-256 is not the one
    /// dbg-image knows for that python.org release.
    fn source_problems(&self, interpreter: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.pymalloc != Some(false) {
            problems.push(format!(
                "{interpreter} has pymalloc (WITH_PYMALLOC): the source recipe configures --without-pymalloc"
            ));
        }
        if self.with_valgrind != Some(true) {
            problems.push(format!(
                "{interpreter} has no Valgrind client requests (WITH_VALGRIND): the source recipe configures --with-valgrind"
            ));
        }
        match (&self.source, &self.source_file, &self.source_sha256) {
            (Some(_), Some(file), Some(sha)) => {
                let official = python_org_name(file);
                let known = official.as_deref().and_then(known_sha256);
                if let (Some(official), Some(known)) = (official, known) {
                    if known != sha {
                        problems.push(format!(
                            "{file}: SHA-256 {sha} is not python.org's for {official} ({known})"
                        ));
                    }
                }
            }
            _ => problems.push(format!(
                "no record of the source tarball in {SOURCE_FILE}: the image was not built by the source recipe"
            )),
        }
        problems
    }
}

/// Runs [`SCRIPT`] in a throwaway container of `tag` with its debug interpreter. An
/// interpreter that does not run is an answer (with that problem), not an error; an engine
/// that cannot be run, or a script that answers no JSON, is an error.
pub fn run(engine: &Engine, tag: &str, interpreter: &str) -> Result<Answer, Error> {
    let what = format!("checking {tag}");
    let out = engine
        .command()
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            interpreter,
            tag,
        ])
        .args(["-I", "-c", SCRIPT])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::at(&what, None, e.to_string()))?;
    if !out.status.success() {
        return Ok(Answer::did_not_run(interpreter, &out.stderr));
    }
    Answer::read(&what, &out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: &str) -> Answer {
        Answer::read("t", json.as_bytes()).unwrap()
    }

    const GOOD: &str = r#"{"executable": "/usr/bin/python3.11-dbg", "python": "3.11", "version": "3.11.2", "debug_build": true, "valgrind": "3.19.0", "gdb": "13.1", "memray": null, "memray_path": null, "memray_python": null, "problems": ["memray: not on PATH"]}"#;

    #[test]
    fn problems_of_tools_the_image_should_not_have_are_dropped() {
        let a = answer(GOOD);
        let with = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(a
            .problems(
                "/usr/bin/python3.11-dbg",
                &with(&["valgrind", "gdb"]),
                Some("debian")
            )
            .is_empty());
        assert_eq!(
            a.problems(
                "/usr/bin/python3.11-dbg",
                &with(&["gdb", "memray", "strace"]),
                None
            ),
            ["memray: not on PATH"]
        );
    }

    #[test]
    fn a_release_build_is_named_once_with_its_interpreter() {
        let a = answer(
            &GOOD
                .replace(r#""debug_build": true"#, r#""debug_build": false"#)
                .replace(
                    r#""problems": ["#,
                    r#""problems": ["not a debug build: sys.gettotalrefcount is missing", "#,
                ),
        );
        assert_eq!(
            a.problems("/x/python3", &[], None),
            ["/x/python3 is not a debug build: sys.gettotalrefcount is missing"]
        );
    }

    #[test]
    fn an_interpreter_that_did_not_run_is_a_problem_and_no_json_an_error() {
        let a = Answer::did_not_run("python3.11-dbg", b"\nexec: no such file\n");
        assert!(!a.debug_build && a.valgrind.is_none());
        assert_eq!(
            a.problems("python3.11-dbg", &[], Some("source")),
            [
                "python3.11-dbg is not a debug build: sys.gettotalrefcount is missing",
                "python3.11-dbg did not run in the image: exec: no such file"
            ]
        );
        let e = Answer::read("checking t", b"Traceback (most recent call last):\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("checking t: the check printed no JSON"),
            "{e}"
        );
        assert!(e.to_string().contains("Traceback"), "{e}");
    }

    /// What the source recipe's check demands: no pymalloc, Valgrind client requests, a
    /// record of the tarball, and python.org's bytes where dbg-image knows them.
    #[test]
    fn the_source_recipe_is_checked_for_its_build_and_its_tarball() {
        let good = GOOD
            .replace(r#""debug_build": true"#, r#""debug_build": true, "pymalloc": false, "with_valgrind": true"#)
            .replace(
                r#""problems": ["#,
                r#""source": "debian-orig", "source_file": "python3.11_3.11.2.orig.tar.gz", "source_sha256": "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849", "problems": ["#,
            );
        let tools = ["valgrind".to_string(), "gdb".to_string()];
        let interp = "/usr/local/bin/python3.11-dbg";
        assert!(answer(&good)
            .problems(interp, &tools, Some("source"))
            .is_empty());
        let bad = good
            .replace(r#""pymalloc": false"#, r#""pymalloc": true"#)
            .replace(r#""with_valgrind": true"#, r#""with_valgrind": false"#)
            .replace("2411c74b", "0000c74b");
        assert_eq!(
            answer(&bad).problems(interp, &tools, Some("source")),
            [
                format!("{interp} has pymalloc (WITH_PYMALLOC): the source recipe configures --without-pymalloc"),
                format!("{interp} has no Valgrind client requests (WITH_VALGRIND): the source recipe configures --with-valgrind"),
                "python3.11_3.11.2.orig.tar.gz: SHA-256 0000c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849 is not python.org's for Python-3.11.2.tgz (2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849)".to_string(),
            ]
        );
        // The Debian recipe's interpreter keeps pymalloc (PYTHONMALLOC=malloc is set).
        assert!(answer(&bad)
            .problems(interp, &tools, Some("debian"))
            .is_empty());
        // An image without the record, and an unknown release (nothing to compare with).
        let unrecorded = good.replace(r#""source": "debian-orig""#, r#""source": null"#);
        let p = answer(&unrecorded).problems(interp, &tools, Some("source"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "no record of the source tarball in /usr/local/share/dbgpipe/python-source"
            ),
            "{p:?}"
        );
        let unknown = good
            .replace("3.11.2.orig", "3.11.9.orig")
            .replace("2411c74b", "1111c74b");
        assert!(answer(&unknown)
            .problems(interp, &tools, Some("source"))
            .is_empty());
    }

    /// The script reads the file the template writes.
    #[test]
    fn the_script_reads_the_source_file_the_recipe_writes() {
        assert!(SCRIPT.contains(&format!("open(\"{SOURCE_FILE}\")")));
    }
}
