//! `cargo xtask fuzz [--seconds N] [--jobs J] [TARGET…]`: every parser under libFuzzer.
//!
//! The targets live in `fuzz/` (a cargo-fuzz crate with its own `[workspace]`, so that the
//! nightly toolchain and the sanitizer flags stay out of the project's build): `memcheck_text`,
//! `memcheck_xml`, `suppressions`, `gdb`, `rounds`, `envfile`. Each checks invariants of its
//! parser, not only that it does not panic (see the comment at the top of each target).
//!
//! The task builds them (`cargo +nightly fuzz build`), prepares seed corpora, then runs the
//! targets `--jobs` at a time (default 2) for `--seconds` each (default 60), and prints per
//! target the executions libFuzzer reports in its final statistics and the crashes it wrote.
//!
//! Seeds, made afresh each run under `target/dbgpipe/fuzz/seeds/TARGET/` (generated data, not
//! committed): the repository's fixtures and real inputs (`tests/fixtures`, `tests/data`),
//! with large logs (gzip'd ones unpacked) cut at line ends into pieces
//! of at most 64 KiB, libFuzzer's `-max_len` here; and the few small hand-written inputs under
//! `fuzz/seeds/TARGET/`. What libFuzzer finds is kept in `fuzz/corpus/TARGET/` (ignored by
//! git) and grows from run to run; crashes go to `fuzz/artifacts/TARGET/`.
//!
//! Exit status: 0 no crash, 1 a target crashed (each crash becomes a unit test with the
//! crashing input: see the report), 2 the task itself failed.

use anyhow::{bail, Context};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;
use xshell::{cmd, Shell};

use crate::example::repo_root;
use crate::flags;
use crate::tools;
use crate::Status;

/// Every target, in the order they run.
pub const TARGETS: &[&str] = &[
    "memcheck_text",
    "memcheck_xml",
    "suppressions",
    "gdb",
    "rounds",
    "envfile",
];

/// Seconds each target runs by default.
pub const DEFAULT_SECONDS: u64 = 60;

/// Targets run at the same time by default: the two cores of the machines this runs on.
pub const DEFAULT_JOBS: usize = 2;

/// Largest input libFuzzer makes, and largest seed piece.
pub const MAX_LEN: usize = 64 << 10;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seconds per target.
    pub seconds: u64,
    /// Targets run at the same time.
    pub jobs: usize,
    /// Targets to run (all when none is named).
    pub targets: Vec<String>,
}

impl From<flags::Fuzz> for Options {
    fn from(flags: flags::Fuzz) -> Options {
        let targets = if flags.targets.is_empty() {
            TARGETS.iter().map(|t| t.to_string()).collect()
        } else {
            flags.targets
        };
        Options {
            seconds: flags.seconds,
            jobs: flags.jobs,
            targets,
        }
    }
}

/// What one target's run gave.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The target.
    pub target: String,
    /// Executions (libFuzzer's `stat::number_of_executed_units`).
    pub execs: u64,
    /// Wall-clock seconds it ran.
    pub seconds: f64,
    /// Inputs in its corpus directory afterwards.
    pub corpus: usize,
    /// Seed files given.
    pub seeds: usize,
    /// Peak RSS libFuzzer reports, MB.
    pub peak_rss_mb: u64,
    /// Crash, timeout, OOM or leak artifacts this run wrote.
    pub crashes: Vec<PathBuf>,
    /// libFuzzer's exit status was a failure (a crash, or it could not start).
    pub failed: bool,
    /// Where its output went.
    pub log: PathBuf,
}

/// Entry point of `cargo xtask fuzz`.
pub fn run(flags: flags::Fuzz) -> anyhow::Result<Status> {
    use std::fmt::Write as _;
    let opts = Options::from(flags);
    let outcomes = fuzz(&opts)?;
    let mut out = String::new();
    writeln!(
        out,
        "{:<14} {:>8} {:>14} {:>10} {:>8} {:>7}  crashes",
        "target", "seconds", "executions", "per second", "corpus", "rss MB"
    )?;
    for o in &outcomes {
        writeln!(
            out,
            "{:<14} {:>8.0} {:>14} {:>10.0} {:>8} {:>7}  {}",
            o.target,
            o.seconds,
            o.execs,
            o.execs as f64 / o.seconds.max(1e-9),
            o.corpus,
            o.peak_rss_mb,
            if o.crashes.is_empty() && !o.failed {
                "none".to_string()
            } else if o.crashes.is_empty() {
                format!("libFuzzer failed, see {}", o.log.display())
            } else {
                o.crashes
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        )?;
    }
    let crashed = outcomes.iter().any(|o| o.failed || !o.crashes.is_empty());
    if crashed {
        writeln!(
            out,
            "reproduce with fuzz/target/<triple>/release/TARGET ARTIFACT; each crash becomes a unit test with its input"
        )?;
    }
    tools::print(&out)?;
    Ok(Status::findings_if(crashed))
}

/// Builds the targets, prepares their seeds and runs them; returns one outcome per target.
pub fn fuzz(opts: &Options) -> anyhow::Result<Vec<Outcome>> {
    let root = repo_root();
    let sh = Shell::new()?;
    sh.change_dir(&root);
    // The rustup proxy, not $CARGO: `+nightly` picks the toolchain cargo-fuzz needs.
    if cmd!(sh, "cargo +nightly fuzz --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        bail!("cargo-fuzz on nightly not found: rustup toolchain install nightly && cargo install cargo-fuzz");
    }
    let targets = &opts.targets;
    // All of them: cargo-fuzz builds one target or every one, and they share everything but
    // their small main.
    eprintln!("fuzz: building the targets");
    cmd!(sh, "cargo +nightly fuzz build")
        .quiet()
        .run()
        .context("cargo +nightly fuzz build")?;
    let host = cmd!(sh, "rustc +nightly -vV").quiet().read()?;
    let triple = host
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .context("rustc -vV names no host")?
        .to_string();
    let bin_dir = root.join("fuzz/target").join(triple).join("release");

    let work = root.join("target/dbgpipe/fuzz");
    let corpus = corpus_dir();
    let mut jobs = Vec::new();
    for target in targets {
        let seeds = work.join("seeds").join(target);
        let n = prepare_seeds(&sh, target, &seeds, &corpus)?;
        jobs.push((target.clone(), seeds, n));
    }
    eprintln!(
        "fuzz: running {} target(s), {} s each, {} at a time",
        jobs.len(),
        opts.seconds,
        opts.jobs
    );

    // Spawned with std rather than xshell: the runs go on in parallel threads, and xshell 0.2's
    // Shell is not Sync.
    let queue = Mutex::new(jobs.into_iter());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.min(targets.len()) {
            scope.spawn(|| loop {
                let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                let Some((target, seeds, n)) = next else {
                    break;
                };
                let outcome = run_target(&root, &bin_dir, &work, &target, &seeds, n, opts.seconds);
                if let Ok(mut r) = results.lock() {
                    r.push(outcome);
                }
            });
        }
    });
    let mut outcomes = Vec::new();
    for r in results.into_inner().unwrap_or_default() {
        outcomes.push(r?);
    }
    // Report in the order the targets were named.
    outcomes.sort_by_key(|o| targets.iter().position(|t| *t == o.target));
    Ok(outcomes)
}

/// Runs one target's binary for `seconds` and reads its final statistics.
fn run_target(
    root: &Path,
    bin_dir: &Path,
    work: &Path,
    target: &str,
    seeds: &Path,
    seed_count: usize,
    seconds: u64,
) -> anyhow::Result<Outcome> {
    let bin = bin_dir.join(target);
    let corpus = root.join("fuzz/corpus").join(target);
    let artifacts = root.join("fuzz/artifacts").join(target);
    let hand_written = root.join("fuzz/seeds").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let before = listing(&artifacts);
    let log = work.join(format!("{target}.log"));
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut cmd = Command::new(&bin);
    cmd.arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .arg(format!("-max_len={MAX_LEN}"))
        // A run of one input over 10 s is a hang worth reporting; 2 GB is far above what
        // any of the parsers needs for 64 KiB.
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&corpus)
        .arg(seeds);
    let mut seed_count = seed_count;
    if hand_written.is_dir() {
        seed_count += listing(&hand_written).len();
        cmd.arg(&hand_written);
    }
    eprintln!(
        "fuzz: {target}: {seed_count} seeds, output in {}",
        log.display()
    );
    let start = Instant::now();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .status()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let elapsed = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let crashes: Vec<PathBuf> = listing(&artifacts)
        .difference(&before)
        .map(|name| artifacts.join(name))
        .collect();
    Ok(Outcome {
        target: target.to_string(),
        execs: stat(&text, "number_of_executed_units").unwrap_or_else(|| last_progress(&text)),
        seconds: elapsed,
        corpus: listing(&corpus).len(),
        seeds: seed_count,
        peak_rss_mb: stat(&text, "peak_rss_mb").unwrap_or(0),
        crashes,
        failed: !status.success(),
        log,
    })
}

/// `stat::NAME: N` of libFuzzer's final statistics.
pub fn stat(log: &str, name: &str) -> Option<u64> {
    let key = format!("stat::{name}:");
    log.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

/// The execution count of the last progress line (`#123456\tpulse  cov: …`), for a run that
/// ended before printing its final statistics.
fn last_progress(log: &str) -> u64 {
    log.lines()
        .rev()
        .filter_map(|l| l.strip_prefix('#'))
        .find_map(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The repository's real inputs (`tests/data`, see its README).
pub fn corpus_dir() -> PathBuf {
    repo_root().join("tests/data")
}

/// Writes `target`'s seeds into `dir` (emptied first); returns how many.
fn prepare_seeds(sh: &Shell, target: &str, dir: &Path, corpus: &Path) -> anyhow::Result<usize> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let root = repo_root();
    let mut files = Vec::new();
    let valgrind_outputs = || {
        walk(&corpus.join("valgrind/memcheck"), &|n| {
            n.contains(".stderr.exp")
        })
    };
    match target {
        "memcheck_text" => {
            files.extend(valgrind_outputs().into_iter().filter(|p| !is_xml(p)));
            files.extend(walk(&corpus.join("memcheck-logs"), &|n| {
                n.ends_with(".log") || n.ends_with(".log.gz")
            }));
            // Logs as people paste them: indented, quoted, fenced, wrapped, damaged.
            files.extend(walk(&corpus.join("pasted/valgrind"), &|n| {
                n.ends_with(".txt")
            }));
        }
        "memcheck_xml" => {
            files.extend(valgrind_outputs().into_iter().filter(|p| is_xml(p)));
            files.extend(walk(&corpus.join("memcheck-logs"), &|n| {
                n.ends_with(".xml.gz")
            }));
            files.extend(walk(&corpus.join("xml-peers"), &|n| n.ends_with(".xml")));
            files.extend(walk(&corpus.join("pasted/valgrind"), &|n| {
                n.ends_with(".xml")
            }));
        }
        "suppressions" => {
            files.extend(walk(&corpus.join("suppressions"), &|n| {
                n.ends_with(".supp")
            }));
            files.extend(walk(&corpus.join("valgrind"), &|n| n.ends_with(".supp")));
            files.extend(walk(&root.join("suppressions"), &|n| n.ends_with(".supp")));
        }
        "gdb" => {
            files.extend(walk(&corpus.join("gdb"), &|n| n.ends_with(".txt")));
            files.extend(walk(&corpus.join("pasted/gdb"), &|n| n.ends_with(".txt")));
            files.extend(walk(&root.join("tests/fixtures"), &|n| n.ends_with(".txt")));
        }
        // Round lines and env files have no real captured inputs here: the hand-written
        // seeds under fuzz/seeds/ are theirs.
        _ => {}
    }
    if files.is_empty() && !root.join("fuzz/seeds").join(target).is_dir() {
        bail!("no seeds for {target}: nothing under {}", corpus.display());
    }
    let mut count = 0;
    for path in files {
        let bytes = if path.extension().is_some_and(|e| e == "gz") {
            cmd!(sh, "gzip -dc {path}")
                .quiet()
                .output()
                .with_context(|| format!("gzip -dc {}", path.display()))?
                .stdout
        } else {
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
        };
        let stem = path
            .file_name()
            .map(|n| n.to_string_lossy().replace(['/', ' '], "_"))
            .unwrap_or_default();
        for (i, piece) in pieces(&bytes, MAX_LEN).into_iter().enumerate() {
            let name = dir.join(format!("{count:04}-{stem}.{i}"));
            std::fs::write(&name, piece)
                .with_context(|| format!("cannot write {}", name.display()))?;
            count += 1;
        }
    }
    Ok(count)
}

/// Cuts `bytes` into pieces of at most `max` bytes, at line ends where a line allows.
pub fn pieces(bytes: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() > max {
        let cut = rest[..max]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(max, |i| i + 1);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

fn is_xml(path: &Path) -> bool {
    std::fs::read(path)
        .map(|b| b.trim_ascii_start().starts_with(b"<?xml"))
        .unwrap_or(false)
}

/// Files under `dir` (recursively) whose names pass `keep`, sorted; none when `dir` is
/// missing.
fn walk(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if keep(&e.file_name().to_string_lossy()) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_at_lines_and_lose_nothing() {
        let text = b"aaaa\nbb\ncccccccccc\nd";
        let p = pieces(text, 6);
        assert_eq!(p, [&b"aaaa\n"[..], b"bb\n", b"cccccc", b"cccc\nd"]);
        assert_eq!(p.concat(), text);
        assert!(pieces(b"", 6).is_empty());
    }

    #[test]
    fn final_statistics() {
        let log = "#2\tINITED cov: 10\n#4096\tpulse  cov: 12\nstat::number_of_executed_units: 123456\nstat::peak_rss_mb: 77\n";
        assert_eq!(stat(log, "number_of_executed_units"), Some(123456));
        assert_eq!(stat(log, "peak_rss_mb"), Some(77));
        assert_eq!(last_progress(log), 4096);
        assert_eq!(stat("", "peak_rss_mb"), None);
    }
}
