//! CI at scale (issue 15), on real tools: the example's pytest suite
//! (`examples/dbgpipe_example/tests/`) split into shards by `recipe::shard` and each shard run
//! by real pytest; the memcheck recipe on that suite under pytest-xdist (`-n 2`), whose worker
//! processes' logs merge into one report; and the GitHub Actions workflow users copy
//! (`docs/ci/memcheck.yml`), checked against GitHub's workflow schema by check-jsonschema.
//!
//! They need valgrind, python3.11-dbg with Debian's python3-pytest and python3-pytest-xdist,
//! the release python3.11 with python3.11-venv, and PyPI (check-jsonschema is installed into
//! `target/dbgpipe/ci-venv` on first use); `.ci/run` provides them. A missing one fails the
//! test. actionlint is not run: it is a Go program (github.com/rhysd/actionlint), and no Go
//! toolchain is installed where these tests run.
//!
//! The example module is found by the suite's conftest.py through `$DBGPIPE_EXAMPLE_DIR`,
//! which the memcheck recipe passes on from this process's environment. It is set once, in
//! [`example`], which every test calls before it starts any process: the other tests wait on
//! that initialisation, so no thread reads the environment while it changes.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use dbgpipe_core::recipe::shard::{self, Shard};
use xtask::place::PlaceOpts;
use xtask::{memcheck, Status, Workspace};

fn tmp() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ci_scale");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo() -> PathBuf {
    xtask::example::repo_root()
}

fn python() -> PathBuf {
    xtask::example::debug_python()
        .expect("python3.11-dbg is required (apt-get install python3.11-dbg)")
}

/// The example's pytest suite.
fn suite() -> PathBuf {
    xtask::example::source_dir().join("tests")
}

/// Builds the tools and the example (once per process) and points `$DBGPIPE_EXAMPLE_DIR`
/// at it. Every test calls this first (see the module's documentation).
fn example() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        xtask::build_tools().expect("building the tools");
        let example =
            xtask::example::build(&python(), &tmp().join("example")).expect("building the example");
        // The only change of this process's environment, made while every other test
        // waits for this initialisation.
        std::env::set_var(xtask::example::DIR_ENV, &example.dir);
        example.dir
    })
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Runs a command in `cwd`; its status and stdout and stderr together.
fn run(argv: &[String], cwd: &Path) -> (i32, String) {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// pytest's `N passed` from a run's closing line.
fn passed(output: &str) -> usize {
    let line = output
        .lines()
        .rev()
        .find(|l| l.contains(" passed"))
        .unwrap_or_else(|| panic!("no `passed` line in:\n{output}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| w.starts_with("passed")).unwrap();
    words[at - 1].parse().unwrap()
}

/// The suite's eight ids as pytest names them from `examples/dbgpipe_example`.
const IDS: &[&str] = &[
    "tests/test_example.py::test_leak_definite_returns_none",
    "tests/test_example.py::test_refleak_returns_none",
    "tests/test_example.py::test_clean_returns_the_sum",
    "tests/test_example.py::test_clean_repeated[1]",
    "tests/test_example.py::test_clean_repeated[10]",
    "tests/test_example.py::test_clean_repeated[100]",
    "tests/test_example.py::test_cache_of_random_size_stays_bounded",
    "tests/test_example.py::test_module_exports_every_function",
];

/// The workflow's command, `python3.11-dbg -m pytest tests/`, from the project's root (here
/// the example's directory): real pytest names the eight tests, the split into three is the
/// one the unit tests fix, and each shard's command runs exactly its tests, which pass.
#[test]
fn shards_of_the_example_suite_run_every_test_once() {
    example();
    let cwd = xtask::example::source_dir();
    let python = python().display().to_string();
    let argv = strings(&[&python, "-m", "pytest", "-p", "no:cacheprovider", "tests/"]);
    let ids = shard::collect_test_ids(&argv, &cwd).expect("collecting the example's tests");
    assert_eq!(ids, strings(IDS));

    let expected: [&[usize]; 3] = [&[2, 4, 5], &[0], &[1, 3, 6, 7]];
    let mut ran = Vec::new();
    for (i, members) in expected.iter().enumerate() {
        let shard = Shard {
            index: i as u32 + 1,
            count: 3,
        };
        let selected = shard::select(&ids, shard);
        let want: Vec<&String> = members.iter().map(|&m| &ids[m]).collect();
        assert_eq!(selected, want, "shard {shard}");
        let command = shard::sharded_command(&argv, &selected);
        // What the shard's command would run, as pytest collects it.
        let again = shard::collect_test_ids(&command, &cwd).expect("collecting a shard");
        assert_eq!(again.iter().collect::<Vec<_>>(), selected, "shard {shard}");
        let (status, output) = run(&command, &cwd);
        assert_eq!(status, 0, "shard {shard}: {command:?}\n{output}");
        assert_eq!(passed(&output), selected.len(), "shard {shard}\n{output}");
        ran.extend(selected.into_iter().cloned());
    }
    ran.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(ran, all, "every test in exactly one shard");

    // From the checkout's root with an absolute path, options with values (xdist's -n 2, -k)
    // and -q: the ids are relative to the root, -k narrows the collection, and a shard's
    // command keeps the options.
    let argv = strings(&[
        &python,
        "-m",
        "pytest",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "-k",
        "clean",
        "-q",
        &suite().display().to_string(),
    ]);
    let ids = shard::collect_test_ids(&argv, &repo()).expect("collecting from the root");
    let prefix = "examples/dbgpipe_example/tests/test_example.py::test_clean";
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with(prefix)), "{ids:?}");
    let all: Vec<&String> = ids.iter().collect();
    let command = shard::sharded_command(&argv, &all[..2]);
    assert_eq!(&command[..10], &argv[..10]);
    let (status, output) = run(&command, &repo());
    assert_eq!(status, 0, "{command:?}\n{output}");
    assert_eq!(passed(&output), 2, "{output}");

    // A shard with no test is None, not a command that would run the whole suite.
    let one = strings(&[&python, "-m", "pytest", "-p", "no:cacheprovider", IDS[1]]);
    let cwd = xtask::example::source_dir();
    let for_shard = |index| shard::command_for(&one, &cwd, Shard { index, count: 3 }).unwrap();
    assert!(for_shard(1).is_none());
    let (command, ids) = for_shard(3).expect("refleak's test is in shard 3");
    assert_eq!(ids, strings(&IDS[1..2]));
    assert_eq!(command.last(), Some(&IDS[1].to_string()));
}

/// What cannot be sharded is an error that says why, before anything runs under Valgrind.
#[test]
fn commands_that_cannot_be_sharded_are_refused_with_the_reason() {
    example();
    let python = python().display().to_string();
    let cwd = xtask::example::source_dir();
    let error = |argv: &[&str], cwd: &Path| -> String {
        let argv = strings(argv);
        format!(
            "{:#}",
            shard::collect_test_ids(&argv, cwd).expect_err(&format!("{argv:?}"))
        )
    };

    let e = error(&[&python, "run.py", "clean"], &cwd);
    assert!(e.contains("is not a pytest command"), "{e}");
    let e = error(&[&python, "-m", "unittest"], &cwd);
    assert!(e.contains("runs the module unittest, not pytest"), "{e}");
    // The value of an option this module does not know, written with a blank.
    let e = error(
        &[&python, "-m", "pytest", "--my-plugin-opt", "fast", "tests/"],
        &cwd,
    );
    assert!(
        e.contains("`fast` is neither a file, a directory nor a test id")
            && e.contains("--option=fast"),
        "{e}"
    );
    let e = error(&[&python, "-m", "pytest", "--rootdir=/tmp", "tests/"], &cwd);
    assert!(e.contains("--rootdir /tmp is not the directory"), "{e}");
    // Tests outside the directory the command runs in cannot be named from it.
    let outside = tmp().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let suite = suite().display().to_string();
    let e = error(
        &[&python, "-m", "pytest", "-p", "no:cacheprovider", &suite],
        &outside,
    );
    assert!(
        e.contains("test_example.py::test_leak_definite_returns_none`, whose file is not under"),
        "{e}"
    );
    // A suite that does not collect: pytest's status and its words.
    let broken = tmp().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("test_broken.py"), "def test_a(:\n").unwrap();
    let e = error(
        &[
            &python,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "test_broken.py",
        ],
        &broken,
    );
    assert!(
        e.contains("collecting the tests failed") && e.contains("SyntaxError"),
        "{e}"
    );
    // No test at all is no error: an empty list.
    std::fs::write(broken.join("test_empty.py"), "x = 1\n").unwrap();
    let argv = strings(&[
        &python,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "test_empty.py",
    ]);
    assert_eq!(
        shard::collect_test_ids(&argv, &broken).unwrap(),
        Vec::<String>::new()
    );
}

/// check-jsonschema, pinned, in a venv of the release interpreter under `target/` (made on
/// first use, as the memray recipe makes memray's).
const CHECK_JSONSCHEMA_VERSION: &str = "0.39.0";

fn check_jsonschema() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let venv = repo().join("target").join("dbgpipe").join("ci-venv");
        let bin = venv.join("bin").join("check-jsonschema");
        let spec = format!("check-jsonschema=={CHECK_JSONSCHEMA_VERSION}");
        let has_version = || {
            Command::new(&bin).arg("--version").output().is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains(CHECK_JSONSCHEMA_VERSION)
            })
        };
        if has_version() {
            return bin;
        }
        let python = xtask::memray::RELEASE_PYTHON;
        if !venv.join("bin").join("python").is_file() {
            let status = Command::new(python)
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .unwrap_or_else(|e| {
                    panic!("{python} is required (apt-get install python3.11): {e}")
                });
            assert!(
                status.success(),
                "{python} -m venv failed (apt-get install python3.11-venv)"
            );
        }
        xtask::tools::pip_install(&venv.join("bin").join("python"), &[&spec])
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert!(has_version(), "{} does not run", bin.display());
        bin
    })
}

/// check-jsonschema with GitHub's workflow schema (SchemaStore's, built into it).
fn check_workflow(file: &Path) -> (i32, String) {
    let argv = strings(&[
        &check_jsonschema().display().to_string(),
        "--builtin-schema",
        "vendor.github-workflows",
        &file.display().to_string(),
    ]);
    run(&argv, &repo())
}

fn workflow() -> (PathBuf, String) {
    let path = repo().join("docs").join("ci").join("memcheck.yml");
    let text = std::fs::read_to_string(&path).expect("docs/ci/memcheck.yml");
    (path, text)
}

/// The workflow users copy is valid by GitHub's schema, says what the issue asks (three
/// shards, the memcheck command, the merge with the baseline, SARIF to code scanning), and
/// its shell steps parse; and the checker is not a rubber stamp: broken copies fail it.
#[test]
fn the_ci_workflow_is_valid_and_a_broken_one_is_not() {
    example();
    let (path, text) = workflow();
    let (status, output) = check_workflow(&path);
    assert_eq!(status, 0, "{output}");
    assert!(output.contains("ok -- validation done"), "{output}");

    for needle in [
        "shard: [1, 2, 3]",
        "dbgpipe memcheck --shard ${{ matrix.shard }}/3 --out shard-${{ matrix.shard }}",
        "-- python3.11-dbg -m pytest tests/",
        "shard-${{ matrix.shard }}/memcheck/records.jsonl",
        "apt-get install",
        "valgrind python3.11-dbg python3-pytest",
        "cargo install --locked --git \"$DBGPIPE_GIT\" dbgpipe",
        "DBGPIPE_GIT: https://github.com/OWNER/dbgpipe",
        "needs: shard",
        "actions/download-artifact@v4",
        "vg-filter \"${baseline[@]}\" --format sarif shard-*/memcheck/records.jsonl > memcheck.sarif",
        "MEMCHECK_BASELINE: .dbgpipe/memcheck-baseline.jsonl",
        "github/codeql-action/upload-sarif@v3",
        "security-events: write",
    ] {
        assert!(text.contains(needle), "the workflow lacks `{needle}`");
    }

    // Every `run:` block parses as bash (GitHub's ${{ … }} replaced by a word first), read
    // with the YAML parser check-jsonschema itself uses.
    let venv_python = check_jsonschema().with_file_name("python");
    let script = "import json, sys\n\
        from ruamel.yaml import YAML\n\
        doc = YAML(typ='safe').load(open(sys.argv[1]))\n\
        runs = [s['run'] for j in doc['jobs'].values() for s in j['steps'] if 'run' in s]\n\
        print(json.dumps(runs))";
    let argv = strings(&[
        &venv_python.display().to_string(),
        "-c",
        script,
        &path.display().to_string(),
    ]);
    let (status, output) = run(&argv, &repo());
    assert_eq!(status, 0, "{output}");
    let runs: Vec<String> = serde_json::from_str(&output).expect("the run blocks as JSON");
    assert!(runs.len() >= 8, "{runs:?}");
    let expression = regex::Regex::new(r"\$\{\{[^}]*\}\}").unwrap();
    for block in &runs {
        let block = expression.replace_all(block, "1");
        let out = Command::new("bash")
            .args(["-n", "-c", &block])
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "bash -n: {}\n{block}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Broken copies: a job without runs-on, an unknown key in a job, a step that both runs
    // and uses.
    let broken = [
        (
            "no-runs-on",
            text.replacen("    runs-on: ubuntu-latest\n", "", 1),
            "'runs-on' is a required property",
        ),
        (
            "unknown-key",
            text.replacen(
                "    timeout-minutes: 30\n",
                "    timeout-minutes: 30\n    run-on-fridays: true\n",
                1,
            ),
            "is not valid under any of the given schemas",
        ),
        (
            "run-and-uses",
            text.replacen(
                "      - uses: actions/checkout@v4\n",
                "      - uses: actions/checkout@v4\n        run: echo both\n",
                1,
            ),
            "is not valid under any of the given schemas",
        ),
    ];
    for (name, copy, expected) in broken {
        assert_ne!(copy, text, "{name}: the edit did not apply");
        let file = tmp().join(format!("memcheck-{name}.yml"));
        std::fs::write(&file, &copy).unwrap();
        let (status, output) = check_workflow(&file);
        assert_eq!(status, 1, "{name}: a broken workflow passed:\n{output}");
        assert!(output.contains(expected), "{name}:\n{output}");
    }
}

/// (kind, project function, bytes, module init) of each kept record.
type Kept = BTreeSet<(String, String, Option<u64>, bool)>;

fn kept(outcome: &memcheck::Outcome) -> Kept {
    outcome
        .records
        .iter()
        .map(|r| {
            (
                r.kind.clone(),
                r.project_function().unwrap_or("?").to_string(),
                r.bytes,
                r.module_init,
            )
        })
        .collect()
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The program a Valgrind log's `Command:` line names, with its arguments.
fn command_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines()
        .find_map(|l| l.split_once("Command: ").map(|(_, c)| c.to_string()))
        .unwrap_or_default()
}

fn memcheck_run(name: &str, pytest_args: &[&str]) -> memcheck::Outcome {
    let suite = suite().display().to_string();
    let python = python().display().to_string();
    let mut command = strings(&[&python, "-m", "pytest"]);
    command.extend(strings(pytest_args));
    command.extend(strings(&["-p", "no:cacheprovider", &suite]));
    let start = Instant::now();
    let outcome = memcheck::memcheck(&memcheck::Options {
        ws: Workspace {
            root: repo(),
            out: tmp().join(name),
            bundled_example: false,
        },
        command,
        place: PlaceOpts {
            host: true,
            image: None,
        },
        ..memcheck::Options::default()
    })
    .unwrap_or_else(|e| panic!("memcheck {name}: {e:#}"));
    eprintln!(
        "ci_scale: memcheck {name} took {:.1} s, {} log(s)",
        start.elapsed().as_secs_f64(),
        outcome.logs.len()
    );
    outcome
}

/// The memcheck recipe on the suite under pytest-xdist: the controller and each worker write
/// their own log, the planted leak is found once (in a worker's log), at its function, and
/// the merged report keeps the records a run without xdist keeps; and the suite split in
/// shards run from separate checkouts merges into that run's records.
#[test]
fn memcheck_under_xdist_and_in_shards_gives_one_runs_records() {
    example();
    let xdist = memcheck_run("xdist", &["-n", "2"]);
    assert_eq!(
        xdist.status,
        Status::Findings,
        "{}",
        memcheck::report(&xdist)
    );

    // A log per process: the controller (`-m pytest -n 2 …`) and two workers (execnet's
    // `-c` bootstrap), maybe more children of theirs.
    let commands: Vec<String> = xdist.logs.iter().map(|l| command_line(l)).collect();
    assert!(xdist.logs.len() >= 3, "{commands:#?}");
    let controllers = commands
        .iter()
        .filter(|c| c.contains("-m pytest -n 2"))
        .count();
    assert_eq!(controllers, 1, "{commands:#?}");
    let workers: Vec<&PathBuf> = xdist
        .logs
        .iter()
        .zip(&commands)
        .filter(|(_, c)| c.contains(" -c "))
        .map(|(l, _)| l)
        .collect();
    assert!(workers.len() >= 2, "{commands:#?}");

    // leak_definite's 64 bytes: one record, seen once, from one worker.
    let records = jsonl(&xdist.jsonl);
    let leaks: Vec<&Value> = records
        .iter()
        .filter(|r| r["type"] == "error" && r["project_frame"]["function"] == "leak_definite")
        .collect();
    assert_eq!(leaks.len(), 1, "{leaks:#?}");
    let leak = leaks[0];
    assert_eq!(leak["kind"], "Leak_DefinitelyLost");
    assert_eq!(leak["bytes"], 64);
    assert_eq!(leak["count"], 1);
    assert_eq!(leak["module_init"], false);
    let file = leak["project_frame"]["file"].as_str().unwrap();
    assert_eq!(
        Path::new(file),
        xtask::example::source_dir().join("dbgpipe_example.c")
    );
    let pids = leak["pids"].as_array().unwrap();
    assert_eq!(pids.len(), 1, "{leak}");
    let pid_log = format!("vg.{}.log", pids[0]);
    assert!(
        workers.iter().any(|w| w.ends_with(&pid_log)),
        "the leak's process {pid_log} is a worker: {commands:#?}"
    );
    // refleak's list, once too. After run.py's collection Memcheck finds it still reachable;
    // in pytest's process it is reached only through a pointer into the block, so possibly
    // lost. Either way it is the planted 56-byte list, allocated under refleak.
    let refleak: Vec<&Value> = records
        .iter()
        .filter(|r| r["type"] == "error" && r["project_frame"]["function"] == "refleak")
        .collect();
    assert_eq!(refleak.len(), 1, "{refleak:#?}");
    assert_eq!(refleak[0]["bytes"], 56);
    assert_eq!(refleak[0]["count"], 1);
    let refleak_kind = refleak[0]["kind"].as_str().unwrap().to_string();
    assert!(
        ["Leak_StillReachable", "Leak_PossiblyLost"].contains(&refleak_kind.as_str()),
        "{refleak_kind}"
    );

    // The same suite in one process: the same records (kind, function, bytes). One run after
    // the other: the two workers already keep both cores busy (run side by side, the pair
    // took longer than in turn).
    let plain = memcheck_run("plain", &[]);
    assert_eq!(plain.status, Status::Findings);
    assert_eq!(plain.logs.len(), 1, "{:?}", plain.logs);
    assert_eq!(kept(&xdist), kept(&plain), "xdist against one process");
    let failing: BTreeSet<(String, String)> = kept(&plain)
        .into_iter()
        .filter(|k| !k.3)
        .map(|k| (k.0, k.1))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        (
            "Leak_DefinitelyLost".to_string(),
            "leak_definite".to_string(),
        ),
        (refleak_kind, "refleak".to_string()),
    ]
    .into();
    assert_eq!(failing, expected, "{}", memcheck::report(&plain));

    // The suite in two shards, each run by `dbgpipe` as its own process from its own copy
    // of the example (built there, so that every path differs), then merged by vg-filter:
    // the records of the one run above, by fingerprint, count and bytes.
    let shards: Vec<PathBuf> = (1..=2).map(|k| shard_run(k, 2)).collect();
    let merged = Command::new(env!("CARGO_BIN_EXE_vg-filter"))
        .args(&shards)
        .output()
        .unwrap();
    let merged: Vec<Value> = String::from_utf8_lossy(&merged.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        by_fingerprint(&merged),
        by_fingerprint(&jsonl(&plain.jsonl)),
        "two shards from two checkouts against one run"
    );
}

/// (fingerprint, kind, count, bytes) of each error record of a vg-filter output.
fn by_fingerprint(records: &[Value]) -> BTreeSet<(String, String, u64, Option<u64>)> {
    records
        .iter()
        .filter(|r| r["type"] == "error")
        .map(|r| {
            (
                r["fingerprint"].as_str().unwrap().to_string(),
                r["kind"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
                r["bytes"].as_u64(),
            )
        })
        .collect()
}

/// `dbgpipe memcheck --shard K/N` on the example suite, from a copy of the example in a
/// checkout of its own with the module built there; returns the shard's records.jsonl.
fn shard_run(k: u32, n: u32) -> PathBuf {
    let checkout = tmp().join(format!("checkout-{k}"));
    let _ = std::fs::remove_dir_all(&checkout);
    let source = xtask::example::source_dir();
    std::fs::create_dir_all(checkout.join("tests")).unwrap();
    for file in ["dbgpipe_example.c", "run.py"] {
        std::fs::copy(source.join(file), checkout.join(file)).unwrap();
    }
    for entry in std::fs::read_dir(source.join("tests")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(
                &path,
                checkout.join("tests").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    // Built from the copy: its debug information names the copy's source.
    let query = |var: &str| {
        let (status, out) = run(
            &strings(&[
                &python().display().to_string(),
                "-c",
                &format!("import sysconfig; print(sysconfig.{var})"),
            ]),
            &checkout,
        );
        assert_eq!(status, 0, "{out}");
        out.trim().to_string()
    };
    let include = query("get_paths()['include']");
    let suffix = query("get_config_var('EXT_SUFFIX')");
    let build = checkout.join("build");
    std::fs::create_dir_all(&build).unwrap();
    let so = build.join(format!("dbgpipe_example{suffix}"));
    let (status, out) = run(
        &strings(&[
            "cc",
            "-g",
            "-O0",
            "-fno-omit-frame-pointer",
            "-fPIC",
            "-shared",
            &format!("-I{include}"),
            &checkout.join("dbgpipe_example.c").display().to_string(),
            "-o",
            &so.display().to_string(),
        ]),
        &checkout,
    );
    assert_eq!(status, 0, "{out}");
    let out_dir = checkout.join("out");
    let start = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_dbgpipe"))
        .args([
            "memcheck",
            "--host",
            "--shard",
            &format!("{k}/{n}"),
            "--out",
        ])
        .arg(&out_dir)
        .args(["--", &python().display().to_string(), "-m", "pytest"])
        .args(["-p", "no:cacheprovider", "tests/"])
        .current_dir(&checkout)
        .env(xtask::example::DIR_ENV, &build)
        .output()
        .unwrap();
    eprintln!(
        "ci_scale: shard {k}/{n} took {:.1} s: {}{}",
        start.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "shard {k}/{n}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out_dir.join("memcheck").join("records.jsonl")
}
