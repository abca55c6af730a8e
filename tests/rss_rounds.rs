//! rss-rounds end to end: the harness and `watch` on the bundled example extension (see
//! examples/dbgpipe_example/README.md), generated series with a fixed seed, the lines
//! leak-test scripts print, and bad input.
//!
//! The example is built once per test process against the debug interpreter's headers;
//! these tests need python3.11-dbg (`.ci/run` installs it) and fail, not skip, without it.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const RSS_ROUNDS: &str = env!("CARGO_BIN_EXE_rss-rounds");
const VG_FILTER: &str = env!("CARGO_BIN_EXE_vg-filter");

fn tmp() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rss_rounds");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The debug interpreter and the directory holding the example built for it.
fn example() -> &'static (PathBuf, PathBuf) {
    static EXAMPLE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let python = xtask::example::debug_python()
            .expect("python3.11-dbg is required (apt-get install python3.11-dbg)");
        let built =
            xtask::example::build(&python, &tmp().join("example")).expect("building the example");
        (python, built.dir)
    })
}

fn rss_rounds(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(RSS_ROUNDS);
    cmd.args(args).current_dir(xtask::example::repo_root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    child.wait_with_output().unwrap()
}

fn records(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn verdict<'a>(recs: &'a [Value], series: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["type"] == "verdict" && r["series"] == series)
        .unwrap_or_else(|| panic!("no verdict for {series}"))
}

fn summary(recs: &[Value]) -> &Value {
    let last = recs.last().expect("output ends with a summary");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["tool"], "rss-rounds");
    assert_eq!(last["schema"], 2);
    last
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit status 2 with exactly one line on stderr, starting with the tool's name.
fn assert_one_line_error(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("rss-rounds: "), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

// ---------------------------------------------------------------------------------------
// The harness on the example extension.

fn harness(function: &str) -> Output {
    let (python, dir) = example();
    let target = format!("dbgpipe_example:{function}");
    rss_rounds(
        &[
            "run",
            "--format",
            "jsonl",
            "--rounds",
            "300",
            "--python",
            python.to_str().unwrap(),
            &target,
        ],
        None,
        &[("PYTHONPATH", dir)],
    )
}

#[test]
fn the_harness_finds_the_reference_leak() {
    let out = harness("refleak");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out);
    let refs = verdict(&recs, "refs");
    assert_eq!(refs["verdict"], "leak", "{refs}");
    assert_eq!(refs["kind"], "delta");
    // One list per call, one call per round: exactly one reference a round, net of noise.
    assert_eq!(refs["growth_per_round"], 1.0, "{refs}");
    assert_eq!(refs["growth_per_1000"], 1000.0);
    assert!(refs["statement"]
        .as_str()
        .unwrap()
        .contains("grows by at least 1 refs/round"));
    assert_eq!(summary(&recs)["verdict"], "leak");
}

#[test]
fn the_harness_passes_clean_although_its_raw_reference_deltas_are_not_zero() {
    let out = harness("clean");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out);
    let raw: Vec<f64> = recs
        .iter()
        .filter(|r| r["type"] == "round" && r["series"] == "refs")
        .map(|r| r["value"].as_f64().unwrap())
        .collect();
    assert_eq!(raw.len(), 300);
    // What a person reading the raw numbers sees: every round adds references...
    assert!(raw.iter().all(|&d| d != 0.0), "{raw:?}");
    // ...exactly as many as the harness's own empty rounds do, which is the baseline.
    let baseline = recs
        .iter()
        .find(|r| r["type"] == "baseline" && r["series"] == "refs")
        .expect("a baseline record for refs");
    let noise = baseline["per_round"].as_f64().unwrap();
    assert!(noise > 0.0, "{baseline}");
    assert!(baseline["source"]
        .as_str()
        .unwrap()
        .starts_with("harness noise"));
    let net: Vec<f64> = recs
        .iter()
        .filter(|r| r["type"] == "round" && r["series"] == "refs")
        .skip(60)
        .map(|r| r["net_value"].as_f64().unwrap())
        .collect();
    assert!(net.iter().all(|&d| d == 0.0), "{net:?}");
    for series in ["refs", "blocks", "fds", "rss_kib"] {
        let v = verdict(&recs, series);
        assert_eq!(v["verdict"], "no_leak", "{v}");
    }
    assert_eq!(summary(&recs)["verdict"], "no_leak");
    // The saved report, read back without the harness, is judged the same: the baseline
    // records carry the harness's noise.
    let again = rss_rounds(&["--format", "jsonl"], Some(&out.stdout), &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_same_records(&recs, &records(&again));
}

#[test]
fn the_harness_reports_a_missing_module_in_one_line() {
    let (python, _) = example();
    let out = rss_rounds(
        &[
            "run",
            "--python",
            python.to_str().unwrap(),
            "no_such_module:f",
        ],
        None,
        &[],
    );
    assert_one_line_error(&out, "ModuleNotFoundError");
    let out = rss_rounds(
        &["run", "--python", "/nonexistent/python", "m:f"],
        None,
        &[],
    );
    assert_one_line_error(&out, "/nonexistent/python");
    let out = rss_rounds(&["run", "not-a-target"], None, &[]);
    assert_one_line_error(&out, "MODULE:FUNCTION");
}

#[test]
fn the_harness_runs_a_script_per_call() {
    let (python, _) = example();
    let script = tmp().join("workload.py");
    // A module-level cache that keeps every call's list: a leak of one list per call.
    std::fs::write(
        &script,
        "import sys\ncache = sys.modules.setdefault('rss_rounds_cache', type(sys)('c'))\n\
         cache.__dict__.setdefault('kept', []).append([])\n",
    )
    .unwrap();
    let out = rss_rounds(
        &[
            "run",
            "--format",
            "jsonl",
            "--rounds",
            "200",
            "--python",
            python.to_str().unwrap(),
            "--script",
            script.to_str().unwrap(),
        ],
        None,
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out);
    assert_eq!(verdict(&recs, "refs")["verdict"], "leak");
    assert_eq!(verdict(&recs, "blocks")["verdict"], "leak");
}

// ---------------------------------------------------------------------------------------
// watch on a process that leaks native memory in rounds.

fn watch(function: &str) -> Output {
    let (python, dir) = example();
    let driver = xtask::example::source_dir().join("rounds.py");
    rss_rounds(
        &[
            "watch",
            "--format",
            "jsonl",
            "--",
            python.to_str().unwrap(),
            driver.to_str().unwrap(),
            function,
            "--rounds",
            "100",
            "--calls",
            "2000",
        ],
        None,
        &[(xtask::example::DIR_ENV, dir)],
    )
}

#[test]
fn watch_finds_the_native_leak() {
    let out = watch("leak_definite");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out);
    for series in ["rss_mib", "peak_rss_mib", "max_rss_mib"] {
        let v = verdict(&recs, series);
        assert_eq!(v["verdict"], "leak", "{v}");
        assert_eq!(v["points"], 100, "{v}");
        // 2000 blocks of 64 bytes (80 with malloc's header) a round: about 0.15 MiB.
        let g = v["growth_per_round"].as_f64().unwrap();
        assert!((0.1..0.3).contains(&g), "{series}: {g}");
    }
    let s = summary(&recs);
    assert_eq!(s["command"]["exit_code"], 0);
    // The command's own output was passed through to stderr.
    assert!(
        stderr(&out).contains("Round 99 Max RSS: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn watch_passes_the_same_loop_on_clean() {
    let out = watch("clean");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out);
    for series in ["rss_mib", "peak_rss_mib", "max_rss_mib"] {
        assert_eq!(verdict(&recs, series)["verdict"], "no_leak");
    }
}

#[test]
fn watch_reports_the_exit_status_and_samples_without_markers() {
    // No Round lines: the interval samples are the rounds.
    let out = rss_rounds(
        &[
            "watch",
            "--format",
            "jsonl",
            "--interval",
            "20",
            "--",
            "sh",
            "-c",
            "sleep 0.5; echo done; exit 3",
        ],
        None,
        &[],
    );
    let recs = records(&out);
    let s = summary(&recs);
    assert_eq!(s["command"]["exit_code"], 3, "{s}");
    let samples = recs
        .iter()
        .filter(|r| r["type"] == "round" && r["series"] == "rss_mib")
        .count();
    assert!(samples >= 5, "{samples} samples");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let missing = rss_rounds(&["watch", "--", "/nonexistent/cmd"], None, &[]);
    assert_one_line_error(&missing, "/nonexistent/cmd");
}

// ---------------------------------------------------------------------------------------
// Generated series: a fixed seed, and the verdicts a person would give.

/// SplitMix64 with Box–Muller: enough randomness for noise, reproducible everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn gauss(&mut self, sd: f64) -> f64 {
        let u = self.next().max(1e-300);
        let v = self.next();
        sd * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// 2000 rounds of `Round N RSS: X` (MiB) from `f(round, rng)`.
fn level_log(seed: u64, f: impl Fn(usize, &mut Rng) -> f64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = String::new();
    for i in 0..2000 {
        let v = f(i, &mut rng);
        out.push_str(&format!("Round {i} RSS: {v:.4}\n"));
    }
    out.into_bytes()
}

const RSS_PATTERN: &str = r"^Round (?P<round>\d+) RSS: (?P<value>\S+)$";

fn judge_level(log: &[u8]) -> (Output, Value) {
    let out = rss_rounds(
        &[
            "--format",
            "jsonl",
            "--unit",
            "MiB",
            "--pattern",
            RSS_PATTERN,
        ],
        Some(log),
        &[],
    );
    let recs = records(&out);
    let v = verdict(&recs, "pattern").clone();
    (out, v)
}

#[test]
fn generated_flat_noise_is_no_leak() {
    for seed in 1..=3 {
        let (out, v) = judge_level(&level_log(seed, |_, r| 40.0 + r.gauss(0.5)));
        assert_eq!(v["verdict"], "no_leak", "seed {seed}: {v}");
        assert_eq!(out.status.code(), Some(0));
    }
}

#[test]
fn generated_slow_growth_hidden_in_noise_is_a_leak_the_legacy_rule_misses() {
    // 0.0005 MiB a round (half a KiB) under noise of 0.5 MiB: over the whole run the level
    // rises by 1 MiB, two standard deviations of one sample.
    let mut legacy_missed = 0;
    for seed in 1..=3 {
        let log = level_log(seed, |i, r| 40.0 + 0.0005 * i as f64 + r.gauss(0.5));
        let (out, v) = judge_level(&log);
        assert_eq!(v["verdict"], "leak", "seed {seed}: {v}");
        assert_eq!(out.status.code(), Some(1));
        let g = v["growth_per_round"].as_f64().unwrap();
        assert!((0.0003..0.0007).contains(&g), "{g}");
        if v["legacy_leak"] == false {
            legacy_missed += 1;
        }
    }
    assert!(
        legacy_missed >= 2,
        "the 2% half-point rule should miss it mostly"
    );
}

#[test]
fn generated_warmup_step_then_flat_is_no_leak() {
    // The step falls after the default warm-up (20% = 400 rounds): the jump rule takes it.
    for seed in 1..=3 {
        let log = level_log(seed, |i, r| {
            if i < 600 { 30.0 } else { 40.0 }
        } + r.gauss(0.5));
        let (_, v) = judge_level(&log);
        assert_eq!(v["verdict"], "no_leak", "seed {seed}: {v}");
        assert_eq!(v["step_round"], 600.0, "{v}");
        // ...and an early step is simply warm-up.
        let early = level_log(
            seed,
            |i, r| if i < 100 { 30.0 } else { 40.0 } + r.gauss(0.5),
        );
        assert_eq!(judge_level(&early).1["verdict"], "no_leak");
    }
}

#[test]
fn generated_growth_after_a_step_is_still_a_leak() {
    let log = level_log(7, |i, r| {
        if i < 600 { 40.0 } else { 50.0 }
    } + 0.001 * i as f64 + r.gauss(0.5));
    let (_, v) = judge_level(&log);
    assert_eq!(v["verdict"], "leak", "{v}");
    assert_eq!(v["step_round"], 600.0);
}

#[test]
fn generated_sawtooth_from_a_cache_is_no_leak() {
    // A cache that grows 5 MiB over a period and is then emptied, for three periods.
    for (seed, period) in [(1u64, 100usize), (2, 37), (3, 300)] {
        let log = level_log(seed, |i, r| {
            40.0 + 5.0 * (i % period) as f64 / period as f64 + r.gauss(0.2)
        });
        let (_, v) = judge_level(&log);
        assert_eq!(v["verdict"], "no_leak", "period {period}: {v}");
    }
}

#[test]
fn generated_single_spike_is_no_leak() {
    let log = level_log(4, |i, r| {
        40.0 + r.gauss(0.5) + if i == 1000 { 50.0 } else { 0.0 }
    });
    assert_eq!(judge_level(&log).1["verdict"], "no_leak");
    // A spike of a delta series is a jump of its running sum, not a trend.
    let mut refs = String::new();
    for i in 0..2000 {
        refs.push_str(&format!(
            "References: {}\n",
            if i == 1000 { 502 } else { 2 }
        ));
    }
    let out = rss_rounds(
        &["--format", "jsonl", "--baseline", "2"],
        Some(refs.as_bytes()),
        &[],
    );
    let v = verdict(&records(&out), "references").clone();
    assert_eq!(v["verdict"], "no_leak", "{v}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn generated_saturating_warmup_is_no_leak() {
    let log = level_log(5, |i, r| {
        40.0 + 10.0 * (1.0 - (-(i as f64) / 400.0).exp()) + r.gauss(0.5)
    });
    let (_, v) = judge_level(&log);
    assert_eq!(v["verdict"], "no_leak", "{v}");
    assert!(
        v["reason"].as_str().unwrap().starts_with("growth stopped"),
        "{v}"
    );
}

/// `References: D` per round: a cycle of the harness freed a round later (+1 now, -1
/// next), plus `leak_every` rounds one leaked reference.
fn refs_log(seed: u64, leak_every: Option<usize>) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut pending = 0;
    let mut out = String::new();
    for i in 0..2000 {
        let cycle = i32::from(rng.next() < 0.3);
        let leak = leak_every.map_or(0, |k| i32::from(i % k == 0));
        out.push_str(&format!("References: {}\n", 2 + cycle - pending + leak));
        pending = cycle;
    }
    out.into_bytes()
}

#[test]
fn generated_references_constant_two_is_noise_given_the_baseline() {
    let twos = "References: 2\n".repeat(1000);
    let raw = rss_rounds(&["--format", "jsonl"], Some(twos.as_bytes()), &[]);
    assert_eq!(
        raw.status.code(),
        Some(1),
        "without a baseline 2 a round is growth"
    );
    let net = rss_rounds(
        &["--format", "jsonl", "--baseline", "2"],
        Some(twos.as_bytes()),
        &[],
    );
    assert_eq!(net.status.code(), Some(0));
    assert_eq!(
        verdict(&records(&net), "references")["growth_per_round"],
        0.0
    );
    let per_series = rss_rounds(&["--baseline", "references=2"], Some(twos.as_bytes()), &[]);
    assert_eq!(per_series.status.code(), Some(0), "{}", stderr(&per_series));
}

#[test]
fn generated_slow_reference_leak_in_noise_is_found() {
    for seed in 1..=3 {
        let clean = rss_rounds(
            &["--format", "jsonl", "--baseline", "2"],
            Some(&refs_log(seed, None)),
            &[],
        );
        assert_eq!(
            verdict(&records(&clean), "references")["verdict"],
            "no_leak"
        );
        // One reference every 25 rounds, among per-round swings of +-1.
        let leaky = rss_rounds(
            &["--format", "jsonl", "--baseline", "2"],
            Some(&refs_log(seed, Some(25))),
            &[],
        );
        let v = verdict(&records(&leaky), "references").clone();
        assert_eq!(v["verdict"], "leak", "seed {seed}: {v}");
        let g = v["growth_per_round"].as_f64().unwrap();
        assert!((0.03..0.05).contains(&g), "{g}");
    }
}

#[test]
fn a_clean_log_is_a_baseline_file() {
    let clean = tmp().join("clean-refs.log");
    std::fs::write(&clean, "References: 5\n".repeat(200)).unwrap();
    let leaky = "References: 6\n".repeat(200);
    let out = rss_rounds(
        &[
            "--format",
            "jsonl",
            "--refs",
            "--baseline",
            clean.to_str().unwrap(),
        ],
        Some(leaky.as_bytes()),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out);
    let v = verdict(&recs, "references");
    assert_eq!(v["baseline"], 5.0);
    assert_eq!(v["growth_per_round"], 1.0);
    // rss-rounds' own CSV output of the clean run serves as well.
    let csv = rss_rounds(&[], Some("References: 5\n".repeat(200).as_bytes()), &[]);
    let csv_file = tmp().join("clean-refs.csv");
    std::fs::write(&csv_file, &csv.stdout).unwrap();
    let out = rss_rounds(
        &["--baseline", csv_file.to_str().unwrap()],
        Some("References: 5\n".repeat(200).as_bytes()),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------------
// The lines real scripts print.

#[test]
fn dd_trace_style_lines_parse() {
    let log = "Test 3 rounds\nRound 0 Max RSS: 41.9453125\nReferences: 1003\n\
               Round 10000 Max RSS: 42.01171875\nReferences: 2\n42.01171875\n";
    let out = rss_rounds(&["--format", "jsonl"], Some(log.as_bytes()), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out);
    let rounds: Vec<(String, u64, f64)> = recs
        .iter()
        .filter(|r| r["type"] == "round")
        .map(|r| {
            (
                r["series"].as_str().unwrap().to_string(),
                r["round"].as_u64().unwrap(),
                r["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rounds,
        vec![
            ("max_rss_mib".to_string(), 0, 41.9453125),
            ("references".to_string(), 0, 1003.0),
            ("max_rss_mib".to_string(), 10000, 42.01171875),
            ("references".to_string(), 1, 2.0),
        ]
    );
    let s = summary(&recs);
    assert_eq!(s["unmatched"], 2);
    assert_eq!(s["verdict"], "insufficient");
    // The default CSV.
    let csv = rss_rounds(&[], Some(log.as_bytes()), &[]);
    let text = String::from_utf8(csv.stdout.clone()).unwrap();
    assert!(
        text.starts_with("round,series,value,net_value\n0,max_rss_mib,41.9453125,41.9453125\n"),
        "{text}"
    );
    assert!(stderr(&csv).contains("insufficient"), "{}", stderr(&csv));
}

#[test]
fn text_and_plots_for_a_person() {
    let log = level_log(9, |i, r| 40.0 + 0.002 * i as f64 + r.gauss(0.3));
    let svg = tmp().join("rounds.svg");
    let png = tmp().join("rounds.png");
    let out = rss_rounds(
        &[
            "--format",
            "text",
            "--pattern",
            RSS_PATTERN,
            "--unit",
            "MiB",
            "--plot",
            svg.to_str().unwrap(),
        ],
        Some(&log),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("pattern (level, MiB): LEAK\n"), "{text}");
    assert!(
        text.contains("with 99% confidence it grows by at least"),
        "{text}"
    );
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg") && svg_text.trim_end().ends_with("</svg>"));
    assert!(
        svg_text.contains("pattern (level): LEAK"),
        "the caption is in the SVG"
    );
    let out = rss_rounds(
        &["--pattern", RSS_PATTERN, "--plot", png.to_str().unwrap()],
        Some(&log),
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: 1000 pixels wide, one 320-pixel panel.
    assert_eq!(&bytes[16..24], &[0, 0, 3, 232, 0, 0, 1, 64]);
}

// ---------------------------------------------------------------------------------------
// Bad input: a normal result, or one line and exit status 2; never a panic.

#[test]
fn empty_and_garbage_input_give_a_summary() {
    for input in [
        &b""[..],
        b"garbage\n\x01\x02 stray controls\nRound x\n",
        b"\xff\xfe\xfd\nReferences: \xff\n",
    ] {
        let out = rss_rounds(&["--format", "jsonl"], Some(input), &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let recs = records(&out);
        assert_eq!(recs.len(), 1);
        assert_eq!(summary(&recs)["verdict"], "insufficient");
    }
    let strict = rss_rounds(&["--strict"], Some(b""), &[]);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn executables_and_binary_data_are_refused_naming_them() {
    let out = rss_rounds(&[RSS_ROUNDS], None, &[]);
    assert_one_line_error(
        &out,
        &format!("{RSS_ROUNDS}: is an executable or shared object, not a log of rounds"),
    );
    let out = rss_rounds(&[], Some(b"garbage\n\x00\x01\x02\nRound x\n"), &[]);
    assert_one_line_error(&out, "<stdin>: is binary data, not a log");
    assert!(out.stdout.is_empty());
    let out = rss_rounds(&["--baseline", RSS_ROUNDS], Some(b""), &[]);
    assert_one_line_error(&out, "is an executable or shared object");
}

#[test]
fn an_input_without_a_round_line_gets_a_hint() {
    let log = b"iteration 1: rss 41.5 MiB\niteration 2: rss 41.6 MiB\n";
    let out = rss_rounds(&["--format", "jsonl"], Some(log), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "rss-rounds: <stdin>: none of its 2 lines is a round line; expected `Round N Max RSS: \
         X`, `References: N` or a line a --pattern matches, and the first was \"iteration 1: \
         rss 41.5 MiB\"\n"
    );
    let recs = records(&out);
    assert_eq!(summary(&recs)["unmatched"], 2);
    // With the pattern it needs, no hint, and values.
    let out = rss_rounds(&["--pattern", r"rss (?P<value>\S+) MiB"], Some(log), &[]);
    assert!(!stderr(&out).contains("round line"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 values from 2 lines"),
        "{}",
        stderr(&out)
    );
    // Empty input and blank lines are not worth a hint.
    let out = rss_rounds(&[], Some(b"\n\n"), &[]);
    assert!(!stderr(&out).contains("round line"), "{}", stderr(&out));
}

/// Records equal but for the summary, which counts the lines read.
fn assert_same_records(first: &[Value], again: &[Value]) {
    let body = |r: &[Value]| r[..r.len() - 1].to_vec();
    assert_eq!(body(first), body(again));
    let (a, b) = (summary(first), summary(again));
    for key in ["verdict", "series", "leaks", "insufficient", "values"] {
        assert_eq!(a[key], b[key], "{key}");
    }
}

#[test]
fn its_own_json_lines_read_back_to_the_same_verdicts() {
    let mut log = String::from_utf8(refs_log(3, Some(25))).unwrap();
    log.push_str(
        &String::from_utf8(level_log(3, |i, r| 40.0 + r.gauss(0.5) + 0.01 * i as f64)).unwrap(),
    );
    let flags = [
        "--baseline",
        "2",
        "--pattern",
        RSS_PATTERN,
        "--kind",
        "level",
        "--unit",
        "MiB",
    ];
    let first = rss_rounds(
        &[&["--format", "jsonl"][..], &flags].concat(),
        Some(log.as_bytes()),
        &[],
    );
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let recs = records(&first);
    assert_eq!(verdict(&recs, "references")["verdict"], "leak");
    assert_eq!(
        verdict(&recs, "references")["baseline_source"],
        "--baseline"
    );
    assert_eq!(verdict(&recs, "pattern")["verdict"], "leak");
    // `rss-rounds --format jsonl X | rss-rounds --format jsonl`: no flags needed again.
    let again = rss_rounds(&["--format", "jsonl"], Some(&first.stdout), &[]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(stderr(&again).is_empty(), "{}", stderr(&again));
    let again_recs = records(&again);
    assert_same_records(&recs, &again_recs);
    assert_eq!(
        summary(&again_recs)["own_lines"],
        1 + 2 + 1,
        "a baseline, verdicts, a summary"
    );
    // ...and converted to text without rerunning, as the run itself words it.
    let text = rss_rounds(
        &[&["--format", "text"][..], &flags].concat(),
        Some(log.as_bytes()),
        &[],
    );
    let saved = tmp().join("rounds.jsonl");
    std::fs::write(&saved, &first.stdout).unwrap();
    let converted = rss_rounds(&["--format", "text", saved.to_str().unwrap()], None, &[]);
    let verdicts = |o: &Output| {
        let t = String::from_utf8(o.stdout.clone()).unwrap();
        t.lines()
            .take_while(|l| !l.starts_with("leak:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(verdicts(&converted), verdicts(&text));
    assert!(verdicts(&text).len() >= 10, "{:?}", verdicts(&text));
}

#[test]
fn other_tools_records_are_passed_on_in_json_lines_and_counted_elsewhere() {
    let vg = Command::new(VG_FILTER)
        .args(["--format", "jsonl"])
        .arg(
            xtask::example::repo_root()
                .join("tests/data/memcheck-logs/py311-leaky-pymalloc-supp.log"),
        )
        .output()
        .unwrap();
    assert_eq!(
        vg.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&vg.stderr)
    );
    let theirs: Vec<&[u8]> = vg
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert!(theirs.len() >= 2);
    let mut input = vg.stdout.clone();
    input.extend("References: 2\n".repeat(20).bytes());
    input.extend_from_slice(br#"{"type":"wholly_unknown","n":1}"#);
    input.push(b'\n');

    let out = rss_rounds(&["--format", "jsonl"], Some(&input), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines: Vec<&[u8]> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    // vg-filter's records, byte for byte, in their place, then rss-rounds' own.
    assert_eq!(&lines[..theirs.len()], &theirs[..]);
    assert!(lines.contains(&&br#"{"type":"wholly_unknown","n":1}"#[..]));
    let recs = records(&out);
    let s = summary(&recs);
    assert_eq!(s["foreign_records"], theirs.len() as u64 + 1, "{s}");
    assert_eq!(s["unmatched"], 0, "{s}");
    assert_eq!(s["values"], 20);

    // CSV and text have no place for them: counted, and said.
    let csv = rss_rounds(&[], Some(&input), &[]);
    let text = String::from_utf8(csv.stdout.clone()).unwrap();
    assert!(
        !text.contains("vg-filter") && !text.contains("wholly_unknown"),
        "{text}"
    );
    let note = format!("{} records of other tools passed over", theirs.len() + 1);
    assert!(stderr(&csv).contains(&note), "{}", stderr(&csv));
    let text = rss_rounds(&["--format", "text"], Some(&input), &[]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&note));
    assert!(
        !stderr(&text).contains("round line"),
        "no hint: the input had round lines"
    );
}

#[test]
fn a_huge_line_is_cut_and_counted() {
    let mut input = b"References: 1\n".to_vec();
    input.extend(std::iter::repeat_n(b'7', 3 << 20));
    input.extend(b"\nReferences: 2\n");
    let out = rss_rounds(&["--format", "jsonl"], Some(&input), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out);
    let s = summary(&recs);
    assert_eq!(s["long_lines"], 1);
    assert_eq!(s["values"], 2);
}

#[test]
fn unreadable_inputs_are_one_line_errors() {
    let out = rss_rounds(&["/nonexistent/rounds.log"], None, &[]);
    assert_one_line_error(&out, "/nonexistent/rounds.log");
    let dir = tmp();
    let out = rss_rounds(&[dir.to_str().unwrap()], None, &[]);
    assert_one_line_error(&out, "is a directory");
    let out = rss_rounds(&["--baseline", "/nonexistent/clean.log"], Some(b""), &[]);
    assert_one_line_error(&out, "--baseline");
}

#[test]
fn bad_flags_are_one_line_errors() {
    for (args, needle) in [
        (&["--pattern", "(\\d+)"][..], "group named value"),
        (&["--pattern", "(?P<value>"][..], "--pattern"),
        (&["--plot", "x.pdf"][..], ".svg or .png"),
        (&["--warmup", "lots"][..], "--warmup"),
        (&["--alpha", "2"][..], "--alpha"),
        (&["--min-points", "1"][..], "--min-points"),
        (&["watch", "--marker", "(", "--", "true"][..], "--marker"),
    ] {
        let out = rss_rounds(args, Some(b""), &[]);
        assert_one_line_error(&out, needle);
    }
    // clap's own errors also exit 2.
    let out = rss_rounds(&["--format", "xml"], Some(b""), &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let mut child = Command::new(RSS_ROUNDS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..20_000 {
            if stdin.write_all(b"References: 2\nReferences: 3\n").is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn many_lines_are_binned_and_judged_quickly() {
    // 300k rounds: one pass plus a bounded amount of work for the trend test.
    let mut input = String::with_capacity(300_000 * 16);
    for i in 0..300_000u64 {
        input.push_str(if i % 1000 == 0 {
            "References: 3\n"
        } else {
            "References: 2\n"
        });
    }
    let start = std::time::Instant::now();
    let out = rss_rounds(
        &["--format", "text", "--baseline", "2"],
        Some(input.as_bytes()),
        &[],
    );
    let elapsed = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("references (delta, refs): LEAK"), "{text}");
    assert!(elapsed.as_secs() < 20, "{elapsed:?}");
}
