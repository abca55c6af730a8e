//! The documentation is true: every command shown in the README (and the examples' READMEs)
//! runs as written, and prints what the README shows.
//!
//! A ```` ```console ```` block is a session: `$ COMMAND` lines (continued by a trailing `\`),
//! each followed by the output it prints. Each command runs with `bash` from the checkout's
//! root, in order, with this build's tools first on `PATH` (as after `cargo install --path
//! .`) and the variables exported by earlier commands; standard error is shown with standard
//! output, as in a terminal, unless the command redirects it.
//!
//! The output is compared line by line after [`normalize`], which stands for what differs
//! from machine to machine and run to run: the checkout's path (the README shows
//! [`README_ROOT`]), hexadecimal addresses and hashes, and every number (times, PIDs, sizes),
//! and runs of blanks (column widths follow the numbers). So the words, the kinds, the names
//! and the shape of every line are checked, the numbers are not. Two marks elide output: a line
//! that is only `…` stands for any number of lines, and a line ending in `…` for any line
//! that starts with the rest.
//!
//! Exit status: `$ echo $?` after a command shows its status, and is checked; a command not
//! followed by one must exit 0 or 1 (a finding), never 2 (a usage or input error).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The checkout's path as the README shows it: a user's clone in their home directory.
const README_ROOT: &str = "/home/me/src/dbgpipe";

/// The documents whose sessions are run, relative to the root.
const DOCUMENTS: &[&str] = &[
    "README.md",
    "examples/dbgpipe_example/README.md",
    "examples/dbgpipe_cpp/README.md",
];

/// One `$ COMMAND` and what the document shows after it.
#[derive(Debug)]
struct Session {
    /// Document and line of the `$`.
    place: String,
    command: String,
    expected: Vec<String>,
    /// The lines (0-based, end exclusive) of the document that `expected` came from.
    lines: std::ops::Range<usize>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sessions of one Markdown document; a `$ ` line outside a console block is an error
/// (it would be a command nobody runs).
fn sessions(name: &str, text: &str) -> Result<Vec<Session>, String> {
    let mut out: Vec<Session> = Vec::new();
    let mut fence: Option<String> = None;
    let mut continuing = false;
    for (i, line) in text.lines().enumerate() {
        let place = format!("{name}:{}", i + 1);
        if let Some(info) = line.strip_prefix("```") {
            fence = match fence {
                None => Some(info.trim().to_string()),
                Some(_) => None,
            };
            continuing = false;
            continue;
        }
        let Some(info) = &fence else {
            continue;
        };
        if info != "console" {
            if line.starts_with("$ ") {
                return Err(format!(
                    "{place}: a `$` command in a ```{info} block: mark the block console so \
                     the test runs it, or show it without `$`"
                ));
            }
            continue;
        }
        if continuing {
            let last = out.last_mut().expect("a command is being continued");
            last.command.push('\n');
            last.command.push_str(line);
            last.lines = i + 1..i + 1;
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            out.push(Session {
                place,
                command: command.to_string(),
                expected: Vec::new(),
                lines: i + 1..i + 1,
            });
            continuing = command.ends_with('\\');
        } else {
            match out.last_mut() {
                Some(s) => {
                    s.expected.push(line.to_string());
                    s.lines.end = i + 1;
                }
                None => return Err(format!("{place}: output before any `$` command")),
            }
        }
    }
    Ok(out)
}

/// What differs between machines and runs, replaced by fixed marks (see the module docs).
fn normalize(line: &str, root: &str) -> String {
    let mut s = line.replace(root, "<root>");
    if root != README_ROOT {
        s = s.replace(README_ROOT, "<root>");
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // 0x… addresses.
        if c == '0'
            && chars.get(i + 1) == Some(&'x')
            && chars.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            i += 2;
            while i < chars.len() && chars[i].is_ascii_hexdigit() {
                i += 1;
            }
            out.push_str("0x#");
            continue;
        }
        // A word of 8 or more hex digits with a digit in it: a hash, an id, a tag.
        if c.is_ascii_hexdigit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_hexdigit() {
                j += 1;
            }
            let word = &chars[i..j];
            let ends = j == chars.len() || !chars[j].is_ascii_alphanumeric();
            if ends && word.len() >= 8 && word.iter().any(char::is_ascii_digit) {
                out.push('#');
                i = j;
                continue;
            }
        }
        // A number, with its decimals: `56` and `59.3` are the same measurement printed to
        // its precision, and versions like `3.11.2` differ between machines too.
        if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
                if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                {
                    i += 1;
                }
            }
            out.push('#');
            continue;
        }
        if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            out.push(' ');
            continue;
        }
        out.push(c);
        i += 1;
    }
    out.trim().to_string()
}

/// Whether `actual` lines match the `expected` pattern lines (both normalized).
fn matches(expected: &[String], actual: &[String]) -> bool {
    // memo[(e, a)]: expected[e..] matches actual[a..].
    fn go(
        e: usize,
        a: usize,
        exp: &[String],
        act: &[String],
        memo: &mut BTreeMap<(usize, usize), bool>,
    ) -> bool {
        if let Some(&v) = memo.get(&(e, a)) {
            return v;
        }
        let v = match exp.get(e) {
            None => a == act.len(),
            Some(p) if p == "…" => (a..=act.len()).any(|k| go(e + 1, k, exp, act, memo)),
            Some(p) => match act.get(a) {
                None => false,
                Some(line) => {
                    let ok = match p.strip_suffix('…') {
                        Some(prefix) if !prefix.is_empty() => {
                            line == p || line.starts_with(prefix.trim_end())
                        }
                        _ => line == p,
                    };
                    ok && go(e + 1, a + 1, exp, act, memo)
                }
            },
        };
        memo.insert((e, a), v);
        v
    }
    go(0, 0, expected, actual, &mut BTreeMap::new())
}

/// Runs one command in bash from the root with the state left by the earlier ones; returns
/// its output (stdout and stderr together) and exit status.
fn run(command: &str, root: &Path, state: &Path, bins: &Path) -> (String, i32) {
    let script = format!(
        "source {state} 2>/dev/null\n{{ {command}\n}} </dev/null 2>&1\nstatus=$?\nexport -p > {state}.new\nexit $status\n",
        state = shell_quote(&state.to_string_lossy()),
    );
    let path = format!(
        "{}:{}",
        bins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(root)
        .env("PATH", path)
        .env_remove("DBGPIPE_IMAGE")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("bash runs");
    let new = PathBuf::from(format!("{}.new", state.display()));
    if new.exists() {
        std::fs::rename(&new, state).expect("state saved");
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    (text, output.status.code().unwrap_or(128))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn every_documented_command_runs_as_written() {
    let root = root();
    let root_text = root.to_string_lossy().into_owned();
    let bins = Path::new(env!("CARGO_BIN_EXE_vg-filter"))
        .parent()
        .expect("binaries have a directory")
        .to_path_buf();
    let scratch = root.join("target/dbgpipe/docs");
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let state = scratch.join("state.sh");
    let _ = std::fs::remove_file(&state);

    // DBGPIPE_BLESS=1 writes what the commands printed into the documents, in place of
    // what differs (the checkout's path shown as README_ROOT); review with `git diff`.
    let bless = std::env::var_os("DBGPIPE_BLESS").is_some();
    let mut failures = Vec::new();
    let mut ran = 0;
    for doc in DOCUMENTS {
        let text = std::fs::read_to_string(root.join(doc)).expect(doc);
        let mut blessed: Vec<(std::ops::Range<usize>, Vec<String>)> = Vec::new();
        let sessions = match sessions(doc, &text) {
            Ok(s) => s,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let mut last_status = 0;
        for s in &sessions {
            if s.command.trim() == "echo $?" {
                let shown = s.expected.join("\n");
                if shown.trim() != last_status.to_string() {
                    blessed.push((s.lines.clone(), vec![last_status.to_string()]));
                    failures.push(format!(
                        "{}: the command before exits {last_status}, the document shows {shown}",
                        s.place
                    ));
                }
                continue;
            }
            ran += 1;
            eprintln!("docs: {}: $ {}", s.place, s.command);
            let (output, status) = run(&s.command, &root, &state, &bins);
            last_status = status;
            let expected: Vec<String> = s
                .expected
                .iter()
                .map(|l| normalize(l, &root_text))
                .collect();
            let actual: Vec<String> = output.lines().map(|l| normalize(l, &root_text)).collect();
            // Blank lines at the end of a shown output are layout, not output.
            let trim = |v: &[String]| -> Vec<String> {
                let mut v = v.to_vec();
                while v.last().is_some_and(String::is_empty) {
                    v.pop();
                }
                v
            };
            let (expected, actual) = (trim(&expected), trim(&actual));
            if !matches(&expected, &actual) {
                blessed.push((
                    s.lines.clone(),
                    output
                        .lines()
                        .map(|l| l.replace(&root_text, README_ROOT).trim_end().to_string())
                        .collect(),
                ));
                failures.push(format!(
                    "{}: $ {}\n--- the document shows (normalized):\n{}\n--- it printed (normalized; status {status}):\n{}\n--- raw:\n{output}",
                    s.place,
                    s.command,
                    expected.join("\n"),
                    actual.join("\n"),
                ));
            }
            let followed_by_status = sessions
                .iter()
                .skip_while(|t| t.place != s.place)
                .nth(1)
                .is_some_and(|t| t.command.trim() == "echo $?");
            if !followed_by_status && status > 1 {
                failures.push(format!(
                    "{}: $ {} exited {status} (the document shows no status, so 0 or 1 is expected)\n{output}",
                    s.place, s.command
                ));
            }
        }
        if bless && !blessed.is_empty() {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            for (range, new) in blessed.into_iter().rev() {
                lines.splice(range, new);
            }
            std::fs::write(root.join(doc), lines.join("\n") + "\n").expect("blessed");
        }
    }
    assert!(ran >= 30, "only {ran} documented commands found");
    assert!(
        failures.is_empty(),
        "{} of {ran} documented commands differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// No document names the machine it was written on, and nothing reads a folder beside the
/// checkout: a clone with nothing beside it must pass.
#[test]
fn nothing_names_a_machine_or_a_folder_beside_the_checkout() {
    let root = root();
    let banned = [
        // The paths of the machines this was first written on.
        concat!("/work", "/main"),
        // A corpus beside the checkout.
        concat!("..", "/shared"),
        concat!("shared", "/corpus"),
        concat!("DBGPIPE", "_CORPUS"),
    ];
    let mut hits = Vec::new();
    let files = repository_files(&root);
    assert!(files.len() > 100, "{} files", files.len());
    for path in files {
        let rel = path.strip_prefix(&root).unwrap_or(&path);
        // Real inputs keep what their machines printed; they are data, not our words.
        if rel.starts_with("tests/data") || rel.starts_with("tests/fixtures") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let markdown = rel.extension().is_some_and(|e| e == "md");
        let mut in_block = false;
        for (i, line) in text.lines().enumerate() {
            in_block ^= line.starts_with("```");
            for b in &banned {
                if line.contains(b) {
                    hits.push(format!("{}:{}: {b}", rel.display(), i + 1));
                }
            }
            // A real input's path (the data keep it, and so does BENCHMARKS.md, which
            // describes them; a sample output must not).
            if markdown
                && !rel.ends_with("BENCHMARKS.md")
                && line.contains(concat!("/opt", "/example"))
            {
                hits.push(format!("{}:{}: a real input's path", rel.display(), i + 1));
            }
            // Prose about where it was written (tools may well speak of the machine they
            // run on, and their output in a block says so).
            if markdown && !in_block && line.to_lowercase().contains(concat!("this", " machine")) {
                hits.push(format!(
                    "{}:{}: a machine in the prose",
                    rel.display(),
                    i + 1
                ));
            }
        }
    }
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

/// The repository's files: what git tracks or would add (not what it ignores, such as the
/// README examples' own `vg.log`), or every file but `target/` outside a git checkout.
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    match listed {
        Ok(out) if out.status.success() => out
            .stdout
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
            .filter(|p| p.is_file())
            .collect(),
        _ => {
            let mut files = Vec::new();
            walk(root, &mut files);
            files
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name != ".ci" && name != ".cargo" || name == "target" {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn normalizing_keeps_words_and_drops_what_varies() {
    let root = "/tmp/ci/dbgpipe";
    assert_eq!(
        normalize(
            "  at invalid_read (/tmp/ci/dbgpipe/a.c:144)  <- project",
            root
        ),
        "at invalid_read (<root>/a.c:#) <- project"
    );
    assert_eq!(
        normalize(&format!("{README_ROOT}/a.c:12"), root),
        normalize("/tmp/ci/dbgpipe/a.c:99", root)
    );
    assert_eq!(normalize("0x00007ffff77ad6b1 in f", root), "0x# in f");
    assert_eq!(
        normalize("signature c0b48c532b3aeabd, tag 3.11-43895444659f", root),
        "signature #, tag #-#"
    );
    // A measurement is one mark whatever its precision.
    assert_eq!(
        normalize("heap +56 B/round", root),
        normalize("heap +59.3 B/round", root)
    );
    assert_eq!(normalize("Python 3.11.2.", root), "Python #.");
    // Words made of hex letters stay words.
    assert_eq!(normalize("deadbeef added", root), "deadbeef added");
    assert_ne!(normalize("LEAK", root), normalize("no leak", root));
}

#[test]
fn elisions_match_any_lines_or_a_line_prefix() {
    let v = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(matches(&v(&["a", "…", "d"]), &v(&["a", "b", "c", "d"])));
    assert!(matches(&v(&["a", "…", "d"]), &v(&["a", "d"])));
    assert!(!matches(&v(&["a", "…", "d"]), &v(&["a", "b"])));
    assert!(matches(
        &v(&["cause: ptrace…"]),
        &v(&["cause: ptrace was refused"])
    ));
    assert!(!matches(&v(&["cause: ptrace…"]), &v(&["fix: other"])));
    assert!(!matches(&v(&["a"]), &v(&["a", "b"])));
}

#[test]
fn sessions_are_read_from_console_blocks_only() {
    let doc = "text\n```console\n$ echo a \\\n  b\na b\n$ true\n```\n```\nnot run\n```\n";
    let s = sessions("d", doc).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].command, "echo a \\\n  b");
    assert_eq!(s[0].expected, ["a b"]);
    assert!(s[1].expected.is_empty());
    assert!(sessions("d", "```\n$ rm -rf x\n```\n").is_err());
}
