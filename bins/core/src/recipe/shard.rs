//! Splitting a pytest suite into shards, so that `N` CI jobs each run one part of it under
//! Valgrind (`dbgpipe memcheck --shard I/N -- python3.11-dbg -m pytest tests/`), and their
//! `records.jsonl` merge into one report (`vg-filter shard-*/memcheck/records.jsonl`).
//!
//! The steps, each a function here:
//! 1. [`parse`] reads `I/N` (1-based: `1/3`, `2/3`, `3/3`).
//! 2. [`collect_test_ids`] asks pytest which tests the user's command runs: the command with
//!    `--collect-only --verbosity=-1 --rootdir=.` appended (`--verbosity=-1` is one `-q`
//!    whatever `-q` or `-v` the command gives: two would print counts per file, not ids), in
//!    the directory it will run in, natively (no Valgrind: collection is quick and imports
//!    what the tests import).
//! 3. [`select`] keeps the ids of one shard: test id `t` is in shard [`shard_of`]`(t, N)`, a
//!    stable hash of its bytes (FNV-1a, 64 bits) modulo `N`, plus one. Every job computes
//!    the same split without talking to the others, on any machine, in any process, and a
//!    test added or removed moves no other test to another shard. Shards are not balanced:
//!    with few tests one may be empty (see [`command_for`]).
//! 4. [`sharded_command`] is the user's command restricted to those ids.
//!
//! **Which commands.** The command must be a pytest invocation: `PYTHON [PYTHON-OPTIONS] -m
//! pytest ARGS` (a program whose file name starts with `python`, `-X dev` and the like before
//! `-m` allowed) or `pytest ARGS` (`py.test` too). Anything else is an error, since only
//! pytest's ids can be selected.
//!
//! **How the ids are passed.** pytest names a test by its node id, `tests/test_x.py::test_a`,
//! written relative to its rootdir; a node id given as an argument is read relative to the
//! current directory. So both the collection and the sharded run get `--rootdir=.`
//! (pytest's own rootdir is already the current directory whenever no ini file sits above
//! it, the usual case; `--rootdir` only changes the ids' spelling, the cache's place and
//! `config.rootpath`, not which conftest.py files load). A command that gives `--rootdir`
//! itself keeps it, and it must then name the current directory. A test whose file lies
//! outside the current directory cannot be named from it: that is an error naming the test.
//!
//! The sharded command is the user's with every positional argument of pytest's (its
//! `file_or_dir` arguments: paths, test ids, or with `--pyargs` module names) removed and
//! the shard's ids appended: the user's paths would otherwise collect their whole suite
//! again, and the ids already say which files to read. Every option stays, with its value
//! (`-k`, `-m`, `-p`, `-n 2`, `--maxfail 3`, …), so a `-k` or `-m` selection applies in the
//! collection and in the shard alike. To tell an option's value from a positional argument,
//! the options of pytest and of common plugins (xdist, cov, timeout, rerunfailures, randomly,
//! hypothesis) that take a value are known ([`VALUE_OPTIONS`], [`SHORT_VALUE_OPTIONS`],
//! [`OPTIONAL_VALUE_OPTIONS`]); any other plugin's option that takes a value must be written
//! `--option=value`. [`collect_test_ids`] checks this: a positional argument that is neither
//! an existing file or directory nor a test id is refused with a message saying so, rather
//! than being dropped from the shard's command.
//!
//! Limits: the ids go on the command line, so a shard holds at most about 20,000 ids of 100
//! bytes (Linux's 2 MiB for a command's arguments and environment); an id with `::` inside a
//! parametrize id is not selectable by pytest itself; paths in the ini file's `addopts` are
//! added to every shard by pytest.

use anyhow::{bail, Context};
use std::fmt;
use std::path::Path;
use std::process::Command;

/// One shard of `count`: `index` counts from 1 (`2/3` is the second of three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// 1 to `count`.
    pub index: u32,
    /// How many shards the suite is split into, at least 1.
    pub count: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        parse(s)
    }
}

/// Reads `I/N` (`--shard 2/3`): the value parser for clap (`value_parser = shard::parse`).
/// The message says what is wrong and what to write.
pub fn parse(s: &str) -> Result<Shard, String> {
    let Some((i, n)) = s.split_once('/') else {
        return Err(format!(
            "shard `{s}`: write I/N, the shard I of N (e.g. 1/3 for the first of three)"
        ));
    };
    let number = |part: &str, what: &str| -> Result<u32, String> {
        part.trim().parse::<u32>().map_err(|_| {
            format!("shard `{s}`: {what} must be a whole number (write I/N, e.g. 1/3)")
        })
    };
    let (index, count) = (number(i, "I")?, number(n, "N")?);
    if count == 0 {
        return Err(format!(
            "shard `{s}`: N must be at least 1 (the number of shards)"
        ));
    }
    if index == 0 {
        return Err(format!(
            "shard `{s}`: I counts from 1 (give 1/{count} to {count}/{count})"
        ));
    }
    if index > count {
        return Err(format!(
            "shard `{s}`: I must be at most N (give 1/{count} to {count}/{count})"
        ));
    }
    Ok(Shard { index, count })
}

/// FNV-1a, 64 bits: a fixed function of the bytes, the same on every machine and in every
/// process (std's hasher is seeded per process, so it cannot split a suite across jobs).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The shard (1 to `count`) that the test `test_id` belongs to: FNV-1a 64 of its bytes,
/// modulo `count`, plus one. `count` 0 is taken as 1.
pub fn shard_of(test_id: &str, count: u32) -> u32 {
    let count = u64::from(count.max(1));
    // The remainder is below count, which fits in u32.
    (fnv1a64(test_id.as_bytes()) % count) as u32 + 1
}

/// The ids of `shard`, in their order in `ids`.
pub fn select(ids: &[String], shard: Shard) -> Vec<&String> {
    ids.iter()
        .filter(|id| shard_of(id, shard.count) == shard.index)
        .collect()
}

/// pytest's options (long) that take a value, written `--opt VALUE` or `--opt=VALUE`: those
/// of pytest 7 and 8 and of common plugins. Any other option with a value must be written
/// `--opt=VALUE` in a sharded command.
pub const VALUE_OPTIONS: &[&str] = &[
    // pytest
    "--assert",
    "--basetemp",
    "--capture",
    "--code-highlight",
    "--color",
    "--confcutdir",
    "--config-file",
    "--deselect",
    "--doctest-glob",
    "--doctest-report",
    "--durations",
    "--durations-min",
    "--ignore",
    "--ignore-glob",
    "--import-mode",
    "--junit-prefix",
    "--junit-xml",
    "--junitxml",
    "--keyword",
    "--last-failed-no-failures",
    "--lfnf",
    "--log-auto-indent",
    "--log-cli-date-format",
    "--log-cli-format",
    "--log-cli-level",
    "--log-date-format",
    "--log-disable",
    "--log-file",
    "--log-file-date-format",
    "--log-file-format",
    "--log-file-level",
    "--log-file-mode",
    "--log-format",
    "--log-level",
    "--marker",
    "--maxfail",
    "--override-ini",
    "--pastebin",
    "--pdbcls",
    "--rootdir",
    "--show-capture",
    "--tb",
    "--verbosity",
    // pytest-xdist
    "--dist",
    "--max-worker-restart",
    "--maxprocesses",
    "--numprocesses",
    "--rsyncdir",
    "--rsyncignore",
    "--tx",
    // pytest-cov
    "--cov-config",
    "--cov-context",
    "--cov-fail-under",
    "--cov-report",
    // pytest-timeout
    "--timeout",
    "--timeout-method",
    "--timeout_method",
    // pytest-rerunfailures
    "--only-rerun",
    "--rerun-except",
    "--reruns",
    "--reruns-delay",
    // pytest-randomly
    "--randomly-seed",
    // hypothesis
    "--hypothesis-profile",
    "--hypothesis-seed",
    "--hypothesis-verbosity",
    // dbgpipe's own (python/dbgpipe_pytest)
    "--dbgpipe-measure",
    "--dbgpipe-report",
    "--dbgpipe-rounds",
    "--dbgpipe-warmup",
];

/// pytest's one-letter options that take a value (`-k EXPR`, `-kEXPR`, `-xk EXPR`): `-c`,
/// `-k`, `-m`, `-n` (xdist), `-o`, `-p`, `-r`, `-W`.
pub const SHORT_VALUE_OPTIONS: &[char] = &['c', 'k', 'm', 'n', 'o', 'p', 'r', 'W'];

/// Options whose value is optional (`nargs="?"`): the next argument is their value unless
/// it starts with `-`, as argparse reads them (`--debug tests/` names the debug log
/// `tests/`, in pytest too).
pub const OPTIONAL_VALUE_OPTIONS: &[&str] = &["--cache-show", "--cov", "--debug"];

/// Where pytest's own arguments start in `argv`: after `pytest` (`py.test`), or after `-m
/// pytest` of a Python. An error, saying what is expected, for any other command.
pub fn pytest_args_start(argv: &[String]) -> Result<usize, String> {
    let Some(program) = argv.first() else {
        return Err("no command to shard".into());
    };
    let name = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with("pytest") || name.starts_with("py.test") {
        return Ok(1);
    }
    if name.starts_with("python") {
        // The interpreter's own options come before -m; -m's value is the module.
        let mut i = 1;
        while i < argv.len() {
            let arg = argv[i].as_str();
            if arg == "-m" {
                return match argv.get(i + 1).map(String::as_str) {
                    Some("pytest") => Ok(i + 2),
                    other => Err(format!(
                        "`{}` runs the module {}, not pytest: sharding needs a pytest \
                         command (`{program} -m pytest ARGS` or `pytest ARGS`)",
                        argv.join(" "),
                        other.unwrap_or("(none)")
                    )),
                };
            }
            if arg == "-c" || !arg.starts_with('-') {
                // -c CODE or a script: the program, not pytest.
                break;
            }
            // -X OPT and -W ARG take a value; other interpreter options do not.
            i += if matches!(arg, "-X" | "-W") { 2 } else { 1 };
        }
    }
    Err(format!(
        "`{}` is not a pytest command: sharding selects pytest's test ids, so the command \
         must be `python3.11-dbg -m pytest ARGS` or `pytest ARGS`",
        argv.join(" ")
    ))
}

/// One of pytest's arguments, as pytest's parser reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    /// An option, or an option's value.
    Option,
    /// A positional argument: a file, a directory, a test id (or a module with --pyargs).
    Positional,
}

/// Classifies pytest's arguments (what follows `-m pytest`) the way its argparse parser
/// does, for the options it knows (see the module's documentation).
fn classify(args: &[String]) -> Vec<Arg> {
    let mut kinds = Vec::with_capacity(args.len());
    let mut i = 0;
    let mut only_positionals = false;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        if only_positionals || arg == "-" || !arg.starts_with('-') {
            kinds.push(Arg::Positional);
            continue;
        }
        kinds.push(Arg::Option);
        if arg == "--" {
            only_positionals = true;
            continue;
        }
        let takes_next = if let Some(long) = arg.strip_prefix("--") {
            if long.contains('=') {
                false
            } else if VALUE_OPTIONS.contains(&arg) {
                true
            } else {
                OPTIONAL_VALUE_OPTIONS.contains(&arg)
                    && args.get(i).is_some_and(|next| !next.starts_with('-'))
            }
        } else {
            // A cluster of one-letter options: the first that takes a value takes the rest
            // of the cluster, or the next argument when it ends the cluster.
            let letters: Vec<char> = arg[1..].chars().collect();
            letters
                .iter()
                .position(|c| SHORT_VALUE_OPTIONS.contains(c))
                .is_some_and(|at| at == letters.len() - 1)
        };
        if takes_next && i < args.len() {
            kinds.push(Arg::Option);
            i += 1;
        }
    }
    kinds
}

/// Whether the command's pytest arguments give `--rootdir`.
fn gives_rootdir(args: &[String]) -> Option<String> {
    let kinds = classify(args);
    let mut found = None;
    for (i, arg) in args.iter().enumerate() {
        if kinds[i] != Arg::Option {
            continue;
        }
        if let Some(value) = arg.strip_prefix("--rootdir=") {
            found = Some(value.to_string());
        } else if arg == "--rootdir" {
            found = args.get(i + 1).cloned();
        }
    }
    found
}

/// The ids pytest prints for `--collect-only -q` (verbosity -1): the lines before its
/// closing summary (`7 tests collected in 0.01s`, or a `===` section such as the warnings
/// summary) that start without a blank and name a test (`FILE::NAME`, no blank in FILE).
/// Anything else (a conftest's print, a blank line) is ignored.
pub fn parse_collected(stdout: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for line in stdout.lines() {
        let line = line.trim_end();
        if line.starts_with('=') || is_collect_summary(line) {
            break;
        }
        if line.starts_with(char::is_whitespace) {
            continue;
        }
        if let Some((file, name)) = line.split_once("::") {
            if !file.is_empty() && !name.is_empty() && !file.contains(' ') {
                ids.push(line.to_string());
            }
        }
    }
    ids
}

/// pytest's closing line for a collection: `7 tests collected in 0.01s`, `1 test collected,
/// 1 warning in …`, `3/7 tests collected (4 deselected) in …`, `no tests collected …`,
/// `1 error in …`.
fn is_collect_summary(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let count = |w: &str| {
        w == "no"
            || w.split('/')
                .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    let collected = matches!(
        words.as_slice(),
        [n, "test" | "tests", collected, ..] if count(n) && collected.starts_with("collected")
    );
    let errors = matches!(
        words.as_slice(),
        [n, errors, ..] if count(n) && errors.trim_end_matches(',').starts_with("error")
    );
    collected || errors
}

/// The test ids that the pytest command `python_argv` runs, in pytest's order: the command
/// run in `cwd` with `--collect-only --verbosity=-1` (and `--rootdir=.` unless it gives
/// `--rootdir`)
/// appended, its output read by [`parse_collected`]. Ids are relative to `cwd`, so that
/// they can be given back to pytest run from there ([`sharded_command`]).
///
/// Errors: not a pytest command; a positional argument that is neither a file, a
/// directory nor a test id (the value of an option this module does not know, to be
/// written `--option=value`); a `--rootdir` other than `cwd`; pytest failing to collect
/// (its exit status and the end of its output); a test whose file is not under `cwd`.
/// No test collected (pytest's exit status 5) is an empty list.
pub fn collect_test_ids(python_argv: &[String], cwd: &Path) -> anyhow::Result<Vec<String>> {
    let start = pytest_args_start(python_argv).map_err(anyhow::Error::msg)?;
    let args = &python_argv[start..];
    let kinds = classify(args);
    // With --pyargs the positional arguments may be module names.
    let pyargs = args.iter().any(|a| a == "--pyargs");
    for (arg, kind) in args.iter().zip(&kinds) {
        if *kind != Arg::Positional {
            continue;
        }
        let file = arg.split_once("::").map_or(arg.as_str(), |(file, _)| file);
        if !pyargs && !cwd.join(file).exists() {
            bail!(
                "pytest argument `{arg}` is neither a file, a directory nor a test id under {}: \
                 if it is the value of an option, write it as --option={arg} (the shard's \
                 command drops pytest's path arguments and passes test ids instead)",
                cwd.display()
            );
        }
    }
    let rootdir = gives_rootdir(args);
    if let Some(given) = &rootdir {
        let same = std::fs::canonicalize(cwd.join(given)).ok() == std::fs::canonicalize(cwd).ok();
        if !same {
            bail!(
                "--rootdir {given} is not the directory the command runs in ({}): a sharded \
                 command passes test ids, which pytest reads relative to it; drop --rootdir \
                 or run from that directory",
                cwd.display()
            );
        }
    }
    let mut command = Command::new(&python_argv[0]);
    command
        .args(&python_argv[1..])
        .arg("--collect-only")
        // Last, so it overrides the command's own -q or -v (and an ini file's addopts).
        .arg("--verbosity=-1")
        .current_dir(cwd);
    if rootdir.is_none() {
        command.arg("--rootdir=.");
    }
    let output = command.output().with_context(|| {
        format!(
            "cannot run {} to collect the tests (in {})",
            python_argv[0],
            cwd.display()
        )
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match output.status.code() {
        Some(0) => {}
        // pytest's "no tests were collected".
        Some(5) => return Ok(Vec::new()),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
            let tail = tail[tail.len().saturating_sub(15)..].join("\n");
            bail!(
                "collecting the tests failed ({}, `{} --collect-only` in {}):\n{tail}",
                output.status,
                python_argv.join(" "),
                cwd.display()
            );
        }
    }
    let ids = parse_collected(&stdout);
    for id in &ids {
        let file = id.split_once("::").map_or(id.as_str(), |(file, _)| file);
        if !cwd.join(file).is_file() {
            bail!(
                "pytest collected `{id}`, whose file is not under {} (where the command runs): \
                 a shard names its tests relative to that directory, so run from a directory \
                 that holds the tests",
                cwd.display()
            );
        }
    }
    Ok(ids)
}

/// The pytest command `argv` restricted to the tests `ids` (from [`collect_test_ids`] and
/// [`select`]): pytest's positional arguments (paths, ids) dropped, every option kept,
/// `--rootdir=.` added unless the command gives `--rootdir`, and the ids appended.
///
/// `ids` empty gives a command that runs the *whole* suite again (pytest with no paths
/// collects its `testpaths` or the current directory): the caller must not run it, and
/// [`command_for`] returns `None` instead. A command that is not pytest's (which
/// [`collect_test_ids`] refuses) gets the ids appended and nothing dropped.
pub fn sharded_command(argv: &[String], ids: &[&String]) -> Vec<String> {
    let Ok(start) = pytest_args_start(argv) else {
        return argv
            .iter()
            .cloned()
            .chain(ids.iter().map(|id| id.to_string()))
            .collect();
    };
    let args = &argv[start..];
    let kinds = classify(args);
    let mut command: Vec<String> = argv[..start].to_vec();
    command.extend(
        args.iter()
            .zip(&kinds)
            .filter(|(_, kind)| **kind == Arg::Option)
            .map(|(arg, _)| arg.clone()),
    );
    if gives_rootdir(args).is_none() {
        command.push("--rootdir=.".into());
    }
    // After `--` everything is positional; before it, an id starting with `-` would be
    // read as an option (pytest ids start with a path, so none does).
    command.extend(ids.iter().map(|id| id.to_string()));
    command
}

/// The command for `shard` of the pytest command `argv` run in `cwd`, with the ids it
/// runs: [`collect_test_ids`], [`select`], [`sharded_command`]. `None` when the shard has
/// no test (a small suite split into many shards), which the caller reports and does not
/// run.
pub fn command_for(
    argv: &[String],
    cwd: &Path,
    shard: Shard,
) -> anyhow::Result<Option<(Vec<String>, Vec<String>)>> {
    let ids = collect_test_ids(argv, cwd)?;
    let selected = select(&ids, shard);
    if selected.is_empty() {
        return Ok(None);
    }
    let command = sharded_command(argv, &selected);
    Ok(Some((command, selected.into_iter().cloned().collect())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    /// A few hundred ids shaped like real ones.
    fn synthetic_ids() -> Vec<String> {
        (0..300)
            .map(|i| match i % 3 {
                0 => format!("tests/test_mod{}.py::test_case_{i}", i % 7),
                1 => format!("tests/unit/test_x.py::TestClass::test_{i}[param-{i}]"),
                _ => format!("src/pkg/mod{i}.py::pkg.mod{i}.func"),
            })
            .collect()
    }

    #[test]
    fn parse_reads_i_of_n() {
        assert_eq!(parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(parse("3/3"), Ok(Shard { index: 3, count: 3 }));
        assert_eq!(parse("1/1"), Ok(Shard { index: 1, count: 1 }));
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        assert_eq!(Shard { index: 2, count: 5 }.to_string(), "2/5");
    }

    #[test]
    fn parse_errors_say_what_to_write() {
        let cases = [
            ("0/3", "I counts from 1 (give 1/3 to 3/3)"),
            ("4/3", "I must be at most N (give 1/3 to 3/3)"),
            ("x/2", "I must be a whole number"),
            ("1/0", "N must be at least 1"),
            ("1/y", "N must be a whole number"),
            ("-1/3", "I must be a whole number"),
            ("3", "write I/N"),
            ("", "write I/N"),
        ];
        for (input, expected) in cases {
            let error = parse(input).expect_err(input);
            assert!(error.contains(expected), "{input}: {error}");
            assert!(error.contains(&format!("`{input}`")), "{input}: {error}");
        }
    }

    #[test]
    fn parse_is_a_clap_value_parser() {
        let command = clap::Command::new("memcheck").arg(
            clap::Arg::new("shard")
                .long("shard")
                .value_name("I/N")
                .value_parser(parse),
        );
        let matches = command
            .clone()
            .try_get_matches_from(["memcheck", "--shard", "2/3"])
            .unwrap();
        assert_eq!(
            matches.get_one::<Shard>("shard"),
            Some(&Shard { index: 2, count: 3 })
        );
        let error = command
            .try_get_matches_from(["memcheck", "--shard=4/3"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("invalid value '4/3' for '--shard <I/N>'")
                && error.contains("I must be at most N (give 1/3 to 3/3)"),
            "{error}"
        );
    }

    #[test]
    fn the_hash_is_fnv1a_64() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shards_are_fixed_numbers() {
        // Hardcoded (and checked against an independent FNV-1a in Python): the same in every
        // process and on every machine, so N CI jobs agree on the split. A change here moves
        // tests between shards for every user.
        let ids = [
            (
                "tests/test_example.py::test_leak_definite_returns_none",
                3,
                2,
            ),
            ("tests/test_example.py::test_refleak_returns_none", 3, 3),
            ("tests/test_example.py::test_clean_returns_the_sum", 3, 1),
            ("tests/test_example.py::test_clean_repeated[1]", 3, 3),
            ("tests/test_example.py::test_clean_repeated[10]", 3, 1),
            ("tests/test_example.py::test_clean_repeated[100]", 3, 1),
            (
                "tests/test_example.py::test_module_exports_every_function",
                3,
                3,
            ),
            ("a", 5, 2),
            ("foobar", 7, 7),
        ];
        let got: Vec<(&str, u32, u32)> = ids
            .iter()
            .map(|&(id, n, _)| (id, n, shard_of(id, n)))
            .collect();
        assert_eq!(got, ids);
        // Twice in one process too.
        for &(id, n, shard) in &ids {
            assert_eq!(shard_of(id, n), shard);
        }
    }

    #[test]
    fn every_id_is_in_exactly_one_shard() {
        let ids = synthetic_ids();
        for count in 1..=5 {
            let mut seen = vec![0u32; ids.len()];
            let mut sizes = Vec::new();
            for index in 1..=count {
                let shard = select(&ids, Shard { index, count });
                assert_eq!(
                    shard,
                    select(&ids, Shard { index, count }),
                    "{index}/{count}"
                );
                sizes.push(shard.len());
                for id in shard {
                    let at = ids.iter().position(|i| i == id).unwrap();
                    seen[at] += 1;
                    assert_eq!(shard_of(id, count), index);
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "N={count}: {seen:?}");
            // The hash spreads them: no shard of 300 ids is under half its share.
            let share = ids.len() / count as usize;
            assert!(
                sizes.iter().all(|&s| s * 2 >= share),
                "N={count}: {sizes:?}"
            );
        }
    }

    #[test]
    fn one_shard_holds_everything_in_order() {
        let ids = synthetic_ids();
        let all: Vec<&String> = ids.iter().collect();
        assert_eq!(select(&ids, Shard { index: 1, count: 1 }), all);
        assert_eq!(shard_of("anything", 0), 1);
    }

    #[test]
    fn pytest_commands_are_recognised() {
        let ok = [
            (&["python3.11-dbg", "-m", "pytest", "tests/"][..], 3),
            (&["/usr/bin/python3", "-X", "dev", "-m", "pytest"][..], 5),
            (&["python", "-u", "-m", "pytest", "-x"][..], 4),
            (&["pytest", "tests"][..], 1),
            (&["/venv/bin/py.test"][..], 1),
        ];
        for (argv, start) in ok {
            assert_eq!(pytest_args_start(&strings(argv)), Ok(start), "{argv:?}");
        }
        let bad = [
            &["python3.11-dbg", "t.py"][..],
            &["python3.11-dbg", "-m", "unittest"][..],
            &["python3.11-dbg", "-c", "import pytest; pytest.main()"][..],
            &["bash", "-c", "pytest"][..],
            &[][..],
        ];
        for argv in bad {
            assert!(pytest_args_start(&strings(argv)).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn the_sharded_command_keeps_options_and_replaces_paths() {
        let argv = strings(&[
            "python3.11-dbg",
            "-X",
            "dev",
            "-m",
            "pytest",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            "-k",
            "not slow",
            "--junitxml",
            "out.xml",
            "--maxfail=3",
            "-xq",
            "-W",
            "error",
            "tests/",
            "--cov",
            "src",
            "--debug",
            "-v",
            "tests/test_b.py::test_b",
            "-rA",
            "--pyargs",
        ]);
        let ids = strings(&["tests/test_a.py::test_1", "tests/test_b.py::test_b"]);
        let selected: Vec<&String> = ids.iter().collect();
        let expected = strings(&[
            "python3.11-dbg",
            "-X",
            "dev",
            "-m",
            "pytest",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            "-k",
            "not slow",
            "--junitxml",
            "out.xml",
            "--maxfail=3",
            "-xq",
            "-W",
            "error",
            "--cov",
            "src",
            "--debug",
            "-v",
            "-rA",
            "--pyargs",
            "--rootdir=.",
            "tests/test_a.py::test_1",
            "tests/test_b.py::test_b",
        ]);
        assert_eq!(sharded_command(&argv, &selected), expected);
        // A cluster ending in a value option takes the next argument; one with the value
        // inside does not.
        let argv = strings(&["pytest", "-xk", "fast", "-kfast", "a.py", "--rootdir", "."]);
        assert_eq!(
            sharded_command(&argv, &selected[..1]),
            strings(&[
                "pytest",
                "-xk",
                "fast",
                "-kfast",
                "--rootdir",
                ".",
                "tests/test_a.py::test_1"
            ])
        );
        // After `--` everything is a path.
        let argv = strings(&["pytest", "-q", "--", "-odd-dir"]);
        assert_eq!(
            sharded_command(&argv, &selected[..1]),
            strings(&[
                "pytest",
                "-q",
                "--",
                "--rootdir=.",
                "tests/test_a.py::test_1"
            ])
        );
    }

    #[test]
    fn collected_ids_are_the_lines_before_the_summary() {
        let stdout = "\
a conftest's print
tests/test_a.py::test_1
tests/test_a.py::TestX::test_2[a b-1]
src/pkg/mod.py::pkg.mod.func

=============================== warnings summary ===============================
tests/test_a.py::test_1
  /x/y.py:3: DeprecationWarning: old

-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html
3 tests collected, 1 warning in 0.01s
";
        assert_eq!(
            parse_collected(stdout),
            strings(&[
                "tests/test_a.py::test_1",
                "tests/test_a.py::TestX::test_2[a b-1]",
                "src/pkg/mod.py::pkg.mod.func",
            ])
        );
        assert_eq!(
            parse_collected("t.py::a\nt.py::b\n\n2 tests collected in 0.01s\n"),
            strings(&["t.py::a", "t.py::b"])
        );
        assert!(parse_collected("\nno tests collected in 0.01s\n").is_empty());
        assert!(is_collect_summary(
            "3/7 tests collected (4 deselected) in 0.02s"
        ));
        assert!(is_collect_summary("1 test collected in 0.00s"));
        assert!(is_collect_summary("1 error in 0.12s"));
        assert!(!is_collect_summary("tests/test_a.py::test_1"));
    }
}
