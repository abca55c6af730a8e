//! `rss-rounds run MODULE:FUNCTION | --script FILE`: the harness.
//!
//! A small Python script ([`HARNESS`], `harness.py` beside this file) runs on the chosen
//! interpreter. It measures its own cost first, with rounds of an empty workload (the
//! *noise* phase), then calls the workload a few times unmeasured (warm-up), then runs the
//! measured rounds. Each round calls the workload `--calls` times, runs `gc.collect()`,
//! and prints the round's change of `sys.gettotalrefcount()` (debug builds only),
//! `sys.getallocatedblocks()`, open file descriptors and RSS. All the analysis is here:
//! each series' per-round growth in the noise phase (Theil–Sen, after warm-up) becomes its
//! baseline, so the verdicts are on deltas net of what the harness itself does per round.
//!
//! Protocol (on the interpreter's real stdout; the workload's own output goes to stderr):
//! `@rss-rounds start python=3.11.2 debug=1`,
//! `@rss-rounds round phase=noise|work n=N refs=D blocks=D fds=D rss_kib=D`,
//! `@rss-rounds end`, or `@rss-rounds error MESSAGE`.

use crate::input::{read_line_capped, MAX_LINE};
use crate::output::Printer;
use crate::rounds::filter::Filter;
use crate::rounds::lines;
use crate::rounds::records::{CommandStatus, Record};
use crate::rounds::trend::{self, Kind, SeriesRef};
use crate::Error;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Python side, run with `python -c`.
pub const HARNESS: &str = include_str!("harness.py");

/// The debug interpreters looked for first, in order, then the release one.
const PYTHONS: &[&str] = &["python3.11-dbg", "python3.11d", "python3"];

/// The series the harness prints, in order.
pub const SERIES: &[&str] = &["refs", "blocks", "fds", "rss_kib"];

/// What the workload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `module:function` (the function may be dotted).
    Function(String),
    /// A script executed afresh each call.
    Script(PathBuf),
}

/// What `run` is told.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The interpreter.
    pub python: PathBuf,
    /// The workload.
    pub target: Target,
    /// Measured rounds.
    pub rounds: u64,
    /// Calls per round.
    pub calls: u64,
    /// Unmeasured calls before the measured rounds.
    pub warmup_calls: u64,
    /// Rounds of the empty workload measured first (0: no noise baseline).
    pub noise_rounds: u64,
}

/// The debug interpreter when present on `PATH` (`python3.11-dbg`, `python3.11d`), else
/// `python3`.
pub fn default_python() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in PYTHONS {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from("python3")
}

/// Checks a `MODULE:FUNCTION` argument.
pub fn parse_target(text: &str) -> Result<Target, Error> {
    match text.split_once(':') {
        Some((m, f)) if !m.is_empty() && !f.is_empty() && !f.contains(':') => {
            Ok(Target::Function(text.to_string()))
        }
        _ => Err(Error::at(
            &format!("{text:?}"),
            None,
            "expected MODULE:FUNCTION, e.g. mymod.tests:roundtrip",
        )),
    }
}

/// Runs the harness to its end, feeding `filter` with the measured rounds after setting
/// each series' baseline from the noise rounds; the records go to `out`. Errors name the
/// interpreter, or the workload when the harness reported one of its errors.
pub fn run(
    filter: &mut Filter,
    opts: &RunOptions,
    out: &mut dyn Printer<Record>,
) -> Result<CommandStatus, Error> {
    let python = opts.python.display().to_string();
    let target = match &opts.target {
        Target::Function(t) => t.clone(),
        Target::Script(p) => {
            if !p.is_file() {
                return Err(Error::at(
                    &format!("--script {}", p.display()),
                    None,
                    "no such file",
                ));
            }
            format!("script:{}", p.display())
        }
    };
    let numbers = [
        opts.rounds,
        opts.calls,
        opts.warmup_calls,
        opts.noise_rounds,
    ]
    .map(|n| n.to_string());
    let mut argv = vec![
        opts.python.display().to_string(),
        "-c".to_string(),
        "<harness>".to_string(),
        target.clone(),
    ];
    argv.extend(numbers.iter().cloned());
    let mut child = Command::new(&opts.python)
        .arg("-c")
        .arg(HARNESS)
        .arg(&target)
        .args(&numbers)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Error::at(
                &python,
                None,
                format!("cannot run it ({e}): install python3.11-dbg or pass --python PATH"),
            )
        })?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::at(&python, None, "no pipe from the interpreter"))?;
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    let mut noise: Vec<(&'static str, Vec<f64>)> = Vec::new();
    let mut started = false;
    let mut baselines_set = false;
    let mut error = None;
    let mut result = Ok(());
    while let Some(_cut) = read_line_capped(&mut reader, &mut buf, MAX_LINE)
        .map_err(|e| Error::at(&python, None, format!("reading its output: {e}")))?
    {
        if result.is_err() {
            continue; // drain, so the interpreter is not stopped by a full pipe
        }
        let Some(rest) = buf.strip_prefix(b"@rss-rounds ") else {
            continue;
        };
        let text = String::from_utf8_lossy(rest);
        let mut words = text.split_whitespace();
        match words.next() {
            Some("start") => started = true,
            Some("error") => {
                error = Some(text.trim_start_matches("error").trim().to_string());
            }
            Some("round") => {
                let fields: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
                let get = |k: &str| fields.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
                let phase = get("phase");
                let n: Option<u64> = get("n").and_then(|v| v.parse().ok());
                let values = SERIES
                    .iter()
                    .filter_map(|&s| Some((s, get(s)?.parse::<f64>().ok()?)));
                if phase == Some("noise") {
                    for (s, v) in values {
                        match noise.iter_mut().find(|(name, _)| *name == s) {
                            Some((_, list)) => list.push(v),
                            None => noise.push((s, vec![v])),
                        }
                    }
                    continue;
                }
                if !baselines_set {
                    baselines_set = true;
                    result = set_baselines(filter, &noise, out);
                }
                for (s, v) in values {
                    let unit = lines::known(s).map_or("", |k| k.1);
                    if result.is_ok() {
                        result = filter.observe(s, Kind::Delta, unit, n, v, out);
                    }
                }
            }
            _ => {}
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::at(&python, None, format!("waiting for it: {e}")))?;
    result?;
    if let Some(message) = error {
        return Err(Error::at(&target, None, message));
    }
    if !started || !status.success() {
        return Err(Error::at(
            &python,
            None,
            format!(
                "ended ({status}) before the harness finished{}",
                if started {
                    ""
                } else {
                    ": is it a Python 3 interpreter?"
                }
            ),
        ));
    }
    Ok(CommandStatus {
        argv,
        exit_code: status.code(),
        signal: None,
    })
}

/// Each noise series' per-round growth becomes the baseline of its series.
fn set_baselines(
    filter: &mut Filter,
    noise: &[(&'static str, Vec<f64>)],
    out: &mut dyn Printer<Record>,
) -> Result<(), Error> {
    let cfg = filter.options().trend.clone();
    for (name, values) in noise {
        let per_round = noise_per_round(values, &cfg);
        let unit = lines::known(name).map_or("", |k| k.1);
        let source = format!(
            "harness noise ({} rounds of an empty workload)",
            values.len()
        );
        filter.measured_baseline(name, Kind::Delta, unit, per_round, &source, out)?;
    }
    Ok(())
}

/// The harness's own growth per round: the Theil–Sen slope of the noise rounds' running
/// sum, after warm-up; for too few rounds to judge, their median.
pub fn noise_per_round(values: &[f64], cfg: &trend::Config) -> f64 {
    let rounds: Vec<f64> = (0..values.len()).map(|i| i as f64).collect();
    let a = trend::analyze(
        SeriesRef {
            rounds: &rounds,
            values,
            kind: Kind::Delta,
            baseline: 0.0,
        },
        cfg,
    );
    a.growth_per_round.unwrap_or_else(|| {
        let mut v = values.to_vec();
        v.sort_unstable_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    })
}

/// Whether a path looks like an interpreter that exists (for a clear error early).
pub fn python_exists(python: &Path) -> bool {
    if python.components().count() > 1 {
        return python.is_file();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(python).is_file()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("mymod.tests:roundtrip").unwrap(),
            Target::Function("mymod.tests:roundtrip".into())
        );
        assert_eq!(
            parse_target("mymod").unwrap_err().to_string(),
            "\"mymod\": expected MODULE:FUNCTION, e.g. mymod.tests:roundtrip"
        );
        assert!(parse_target(":f").is_err());
        assert!(parse_target("m:").is_err());
    }

    #[test]
    fn noise_is_the_harness_growth_per_round() {
        let cfg = trend::Config::default();
        assert_eq!(noise_per_round(&[5.0; 100], &cfg), 5.0);
        assert_eq!(noise_per_round(&[3.0, 5.0, 5.0], &cfg), 5.0);
        assert_eq!(noise_per_round(&[], &cfg), 0.0);
    }

    #[test]
    fn the_harness_is_shipped() {
        assert!(HARNESS.contains("gc.collect()"));
        assert!(HARNESS.contains("@rss-rounds "));
    }
}
