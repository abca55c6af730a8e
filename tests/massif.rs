//! rss-rounds on Massif's output.
//!
//! - Conformance: Valgrind 3.19's own Massif regression programs, run under the real
//!   Valgrind here (tests/data/massif/valgrind-3.19, see its README): every snapshot read
//!   (number, time, useful heap, extra heap, stacks, detailed or not, the peak) must be the
//!   one in the table `ms_print` prints in the suite's expected output for that program.
//! - The bundled example's harness under the real Massif, one detailed snapshot per round:
//!   `leak_definite` (64 bytes a round) is found and named at its allocation site, which the
//!   heap total and RSS cannot show; `clean` grows nowhere.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

use dbgpipe_core::rounds::massif::{Reader, Snapshot, Step, Tree};

const RSS_ROUNDS: &str = env!("CARGO_BIN_EXE_rss-rounds");

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/massif/valgrind-3.19")
}

/// A row of ms_print's table: n, time, total, useful heap, extra heap, stacks.
type Row = [u64; 6];

/// ms_print's tables and its `Detailed snapshots: [9, 19 (peak), …]` line.
fn ms_print_table(text: &str) -> (Vec<Row>, Vec<(u64, bool)>) {
    let mut rows = Vec::new();
    let mut detailed = Vec::new();
    for line in text.lines() {
        if let Some(list) = line.trim().strip_prefix("Detailed snapshots: [") {
            for item in list
                .trim_end_matches(']')
                .split(", ")
                .filter(|i| !i.is_empty())
            {
                let peak = item.ends_with(" (peak)");
                detailed.push((item.trim_end_matches(" (peak)").parse().unwrap(), peak));
            }
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let numbers: Vec<u64> = fields
            .iter()
            .filter_map(|f| f.replace(',', "").parse().ok())
            .collect();
        if fields.len() == 6 && numbers.len() == 6 {
            rows.push([
                numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5],
            ]);
        }
    }
    (rows, detailed)
}

fn read(path: &Path) -> (Vec<Snapshot>, u64) {
    let text = std::fs::read(path).unwrap();
    let mut r = Reader::default();
    let mut snapshots = Vec::new();
    let mut unmatched = 0;
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match r.line(line) {
            Step::Snapshot(s) => snapshots.push(s),
            Step::Unmatched => unmatched += 1,
            Step::Read => {}
        }
    }
    snapshots.extend(r.finish());
    (snapshots, unmatched)
}

#[test]
fn valgrinds_massif_suite_reads_as_ms_print_reads_it() {
    let mut files = 0;
    for entry in std::fs::read_dir(data()).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.to_str().and_then(|p| p.strip_suffix(".massif.out")) else {
            continue;
        };
        files += 1;
        let expected = std::fs::read_to_string(format!("{name}.post.exp")).unwrap();
        let (rows, detailed) = ms_print_table(&expected);
        let (snapshots, unmatched) = read(&path);
        assert_eq!(unmatched, 0, "{name}");
        assert_eq!(snapshots.len(), rows.len(), "{name}: snapshots");
        for (s, row) in snapshots.iter().zip(&rows) {
            let (extra, stacks) = (s.extra.unwrap(), s.stacks.unwrap());
            let ours = [
                s.n,
                s.time.unwrap(),
                s.heap + extra + stacks,
                s.heap,
                extra,
                stacks,
            ];
            assert_eq!(ours, *row, "{name}: snapshot {}", s.n);
        }
        let ours: Vec<(u64, bool)> = snapshots
            .iter()
            .filter(|s| s.tree != Some(Tree::Empty))
            .map(|s| (s.n, s.tree == Some(Tree::Peak)))
            .collect();
        assert_eq!(ours, detailed, "{name}: detailed snapshots");
    }
    assert!(files >= 25, "{files} files");
}

/// rss-rounds on each file of the suite: a report whose lines add up, whatever the file.
#[test]
fn rss_rounds_judges_every_file_of_the_suite() {
    for name in [
        "basic",
        "peak",
        "deep-C",
        "thresholds_0_0",
        "new-cpp",
        "zero1",
    ] {
        let path = data().join(format!("{name}.massif.out"));
        let out = Command::new(RSS_ROUNDS)
            .args(["--format", "jsonl"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{name}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let s: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        let lines = std::fs::read_to_string(&path).unwrap().lines().count() as u64;
        assert_eq!(s["lines"], lines, "{name}");
        assert_eq!(s["massif_lines"], lines, "{name}");
        assert_eq!(s["unmatched"], 0, "{name}");
        assert_eq!(s["values"], s["massif_values"], "{name}");
        let (snapshots, _) = read(&path);
        assert_eq!(s["snapshots"], snapshots.len(), "{name}");
    }
}

/// A second Massif file in one run is refused: its snapshot numbers would be the same
/// rounds again. ms_print's report gets a hint instead of a silent nothing.
#[test]
fn bad_massif_inputs() {
    let basic = data().join("basic.massif.out");
    let out = Command::new(RSS_ROUNDS)
        .arg(&basic)
        .arg(&basic)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("a second Massif file"), "{err}");
    let out = Command::new(RSS_ROUNDS)
        .arg(data().join("basic.post.exp"))
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("this is ms_print's report; give rss-rounds the massif.out file"),
        "{err}"
    );
}

/// The example's harness under the real Massif.
fn under_massif(function: &str) -> (Vec<Value>, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("massif-{function}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let python = xtask::example::debug_python()
        .expect("python3.11-dbg is required (apt-get install python3.11-dbg)");
    let built = xtask::example::build(&python, &dir.join("example")).expect("building the example");
    let prefix = dir.join("round");
    let status = Command::new("valgrind")
        .args([
            "-q",
            "--tool=massif",
            "--threshold=0.1",
            "--fullpath-after=",
        ])
        .arg(format!(
            "--massif-out-file={}",
            dir.join("whole.out").display()
        ))
        .arg(&python)
        .arg("-c")
        .arg(dbgpipe_core::rounds::harness::HARNESS)
        .arg(format!("dbgpipe_example:{function}"))
        .args(["200", "1", "10", "0"])
        .arg(&prefix)
        .env("PYTHONMALLOC", "malloc")
        .env("PYTHONPATH", &built.dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("valgrind is required (apt-get install valgrind)");
    assert!(status.success(), "{status}");
    let mut parts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("round.")
        })
        .collect();
    parts.sort();
    assert_eq!(parts.len(), 200, "a snapshot per round");
    let combined = dir.join("rounds.massif.out");
    dbgpipe_core::rounds::massif::combine(&parts, &combined).unwrap();
    let plot = dir.join("plot.svg");
    let out = Command::new(RSS_ROUNDS)
        .args(["--format", "jsonl", "--plot"])
        .arg(&plot)
        .arg("--root")
        .arg(xtask::example::repo_root())
        .arg(&combined)
        .output()
        .unwrap();
    let recs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let leak = recs.last().unwrap()["verdict"] == "leak";
    assert_eq!(out.status.code(), Some(i32::from(leak)));
    assert!(std::fs::read_to_string(&plot).unwrap().contains("heap_b"));
    (recs, combined)
}

fn of_type<'a>(recs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["type"] == kind).collect()
}

#[test]
fn a_leak_of_64_bytes_a_round_is_found_at_its_site() {
    let (recs, file) = under_massif("leak_definite");
    let sites = of_type(&recs, "site");
    assert_eq!(sites.len(), 1, "{sites:?}");
    let site = sites[0];
    assert_eq!(site["series"], "site:leak_definite:dbgpipe_example.c:50");
    assert_eq!(site["growth_per_round"], 64.0);
    let frame = &site["frames"][site["site_frame"].as_u64().unwrap() as usize];
    assert_eq!(frame["function"], "leak_definite");
    assert_eq!(frame["class"], "project");
    assert!(frame["file"]
        .as_str()
        .unwrap()
        .ends_with("examples/dbgpipe_example/dbgpipe_example.c"));
    assert_eq!(site["frames"][1]["function"], "cfunction_vectorcall_NOARGS");
    assert_eq!(site["frames"][1]["class"], "python");
    let verdicts = of_type(&recs, "verdict");
    let by_series = |s: &str| *verdicts.iter().find(|v| v["series"] == s).unwrap();
    assert_eq!(
        by_series("site:leak_definite:dbgpipe_example.c:50")["verdict"],
        "leak"
    );
    // The heap total grows by the same 64 bytes (less the interpreter's own churn), well
    // under 1% of a debug interpreter's 3 MB heap: only the site says it.
    let heap = by_series("heap_b");
    assert_eq!(heap["verdict"], "no_leak");
    let g = heap["growth_per_round"].as_f64().unwrap();
    assert!((40.0..80.0).contains(&g), "{g}");
    // Read back, the report judges the same (site records and all).
    let jsonl: String = recs.iter().map(|r| r.to_string() + "\n").collect();
    let again = Command::new(RSS_ROUNDS)
        .args(["--format", "jsonl", "-"])
        .stdin(
            std::fs::File::open({
                let p = file.with_extension("jsonl");
                std::fs::write(&p, &jsonl).unwrap();
                p
            })
            .unwrap(),
        )
        .output()
        .unwrap();
    let again: Vec<Value> = String::from_utf8(again.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(of_type(&again, "site"), sites);
    assert_eq!(of_type(&again, "verdict"), verdicts);
}

#[test]
fn the_clean_twin_grows_nowhere() {
    let (recs, _) = under_massif("clean");
    assert!(of_type(&recs, "site").is_empty());
    let s = recs.last().unwrap();
    assert_eq!(s["verdict"], "no_leak");
    assert_eq!(s["sites"], 0);
    assert_eq!(s["snapshots"], 200);
}
