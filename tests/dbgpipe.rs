//! The installed runner's contract, without running a recipe: its help, its usage errors, and
//! what it refuses (the recipes themselves run in tests/xtask_recipes.rs, through `cargo xtask`,
//! and on third-party code in tests/thirdparty.rs).

use std::process::Command;

const DBGPIPE: &str = env!("CARGO_BIN_EXE_dbgpipe");

fn run(args: &[&str], dir: &std::path::Path) -> (Option<i32>, String, String) {
    let out = Command::new(DBGPIPE)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running dbgpipe");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_recipe_documents_itself_and_its_examples_parse() {
    let here = std::env::temp_dir();
    let (code, top, _) = run(&["--help"], &here);
    assert_eq!(code, Some(0));
    for recipe in [
        "memcheck",
        "refs",
        "rss",
        "memray",
        "segv",
        "suppressions",
        "image",
    ] {
        assert!(top.contains(recipe), "{top}");
        let (code, help, _) = run(&[recipe, "--help"], &here);
        assert_eq!(code, Some(0), "{recipe}");
        for section in ["OUTPUTS:", "EXAMPLES:", "EXIT STATUS"] {
            assert!(help.contains(section), "{recipe}'s help has no {section}");
        }
        if recipe != "image" {
            assert!(help.contains("--root <DIR>"), "{recipe} has no --root");
            assert!(help.contains("--out <DIR>"), "{recipe} has no --out");
        }
        // Every example is a dbgpipe line of this recipe that the parser takes (`--help`
        // appended: it parses everything before it and runs nothing).
        let examples: Vec<&str> = help
            .lines()
            .skip_while(|l| !l.starts_with("EXAMPLES:"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .collect();
        assert!(!examples.is_empty(), "{recipe}");
        for line in examples {
            let words: Vec<&str> = line.split_whitespace().collect();
            let start = words.iter().position(|w| *w == "dbgpipe").expect(line);
            assert_eq!(words[start + 1], recipe, "{line}");
            let (before, _) = line.split_once(" -- ").unwrap_or((line, ""));
            let args: Vec<&str> = before.split_whitespace().skip(start + 1).collect();
            let mut with_help = args.clone();
            with_help.push("--help");
            let (code, _, err) = run(&with_help, &here);
            assert_eq!(code, Some(0), "`{line}`: {err}");
        }
    }
}

#[test]
fn outside_a_dbgpipe_checkout_a_recipe_needs_a_command() {
    let here = std::env::temp_dir();
    for (args, hint) in [
        (&["memcheck"][..], "dbgpipe memcheck -- python3.11-dbg"),
        (&["segv"][..], "dbgpipe segv -- python3.11-dbg"),
        (&["refs"][..], "MODULE:FN"),
    ] {
        let (code, out, err) = run(args, &here);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(hint), "{err}");
    }
    // A bare `--` is a mistake (an empty $CMD), said by clap with the usage.
    let (code, _, err) = run(&["memcheck", "--"], &here);
    assert_eq!(code, Some(2));
    assert!(err.contains("`--` needs a command after it"), "{err}");
    let (code, _, err) = run(&["memcheck", "--root", "/no/such/dir", "--", "true"], &here);
    assert_eq!(code, Some(2));
    assert!(err.contains("--root /no/such/dir"), "{err}");
    let (code, _, err) = run(&["image", "--regenerate"], &here);
    assert_eq!(code, Some(2));
    assert!(err.contains("cargo xtask image --regenerate"), "{err}");
}

/// An interpreter with no shipped baseline (here a copy of Debian's release python3.11 at
/// another path, as a pyenv or source build would be) gets one made on first use, kept in the
/// cache and reused; and the report says it is not a debug build.
#[test]
fn a_baseline_is_made_on_first_use_for_an_interpreter_without_one() {
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dbgpipe-baseline");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("bin")).unwrap();
    let python = tmp.join("bin/python3.11");
    std::fs::copy("/usr/bin/python3.11", &python).expect("python3.11 is required");
    let python = python.to_str().unwrap();
    let memcheck = || {
        Command::new(DBGPIPE)
            .args(["memcheck", "--", python, "-c", "import json"])
            .current_dir(&tmp)
            .env("XDG_CACHE_HOME", tmp.join("cache"))
            .output()
            .expect("running dbgpipe")
    };
    let first = memcheck();
    let text = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("no baseline is shipped for {python}: made one")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{python} is not a debug build")),
        "{text}"
    );
    let made: Vec<_> = std::fs::read_dir(tmp.join("cache/dbgpipe/suppressions"))
        .expect("the baseline is in the cache")
        .collect();
    assert_eq!(made.len(), 1);
    let second = memcheck();
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        text.contains(&format!(
            "applied the baseline made for {python} on first use"
        )),
        "{text}"
    );
    // The baseline hides the interpreter's own records: nothing is left to suppress by hand.
    let summary = std::fs::read_to_string(tmp.join(".dbgpipe/memcheck/records.jsonl")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(summary.lines().last().unwrap()).unwrap();
    assert!(summary["suppressed"].as_u64().unwrap() > 0, "{summary}");
}

/// refs on a release interpreter: it still judges blocks, fds and RSS, and says that
/// references are not counted, rather than reporting "no leak" as if they were.
#[test]
fn refs_on_a_release_interpreter_says_references_are_not_counted() {
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dbgpipe-refs-release");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let out = Command::new(DBGPIPE)
        .args([
            "refs",
            "--host",
            "--rounds",
            "30",
            "--python",
            "/usr/bin/python3.11",
            "os:getpid",
        ])
        .current_dir(&tmp)
        .output()
        .expect("running dbgpipe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("/usr/bin/python3.11 is not a debug build: it has no sys.gettotalrefcount"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tmp.join(".dbgpipe/refs/os.getpid.jsonl").is_file());
}
