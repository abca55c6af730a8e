//! Timing whole processes: the wall-clock median of repeated runs, and the peak RSS.
//!
//! Each run is spawned afresh, its stdout and stderr drained through pipes by two threads
//! (as the next tool in a pipeline would read them: a file or `/dev/null` would not do, GNU
//! grep stops at the first match when its output is `/dev/null`), and timed from spawn to
//! exit with a monotonic clock. The peak RSS is the child's `ru_maxrss`, as GNU time reports
//! it with `-f %M`: the workspace forbids `unsafe`, so `wait4` is not called directly.
//!
//! std's `Command` is used rather than xshell because a run needs a file as stdin, two
//! drained pipes and a clock around exactly the child's life.

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A command to time.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment.
    pub env: Vec<(OsString, OsString)>,
    /// A file to read as standard input (else `/dev/null`).
    pub stdin: Option<PathBuf>,
    /// Exit codes that mean the run worked (a filter's 1 is "findings", not a failure).
    pub ok_codes: Vec<i32>,
    /// Keep the first run's standard output (for the cross-checks); later runs' output is
    /// read and dropped.
    pub keep_stdout: bool,
}

impl Spec {
    /// `program` with no arguments, standard input `/dev/null`, exit status 0 expected.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Spec {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            ok_codes: vec![0],
            keep_stdout: false,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = A>, A: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one environment variable for the command.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Reads standard input from `path`.
    pub fn stdin(mut self, path: impl Into<PathBuf>) -> Self {
        self.stdin = Some(path.into());
        self
    }

    /// Exit codes accepted besides failure.
    pub fn ok(mut self, codes: &[i32]) -> Self {
        self.ok_codes = codes.to_vec();
        self
    }

    /// Keeps the first run's standard output.
    pub fn keep_stdout(mut self) -> Self {
        self.keep_stdout = true;
        self
    }

    /// The command as a person would type it, paths shortened by `short`.
    pub fn display(&self, short: &dyn Fn(&str) -> String) -> String {
        let quote = |s: &str| {
            let s = short(s);
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+%@".contains(&b))
            {
                s
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        };
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), quote(&v.to_string_lossy())))
            .collect();
        parts.push(quote(&self.program.to_string_lossy()));
        // A long list of files (one XML log per process) is shown as its first and a count.
        if self.args.len() > 8 {
            for a in &self.args[..3] {
                parts.push(quote(&a.to_string_lossy()));
            }
            parts.push(format!("… ({} more arguments)", self.args.len() - 3));
        } else {
            parts.extend(self.args.iter().map(|a| quote(&a.to_string_lossy())));
        }
        if let Some(input) = &self.stdin {
            parts.push(format!("< {}", quote(&input.to_string_lossy())));
        }
        parts.join(" ")
    }
}

/// One run's result.
#[derive(Debug, Clone)]
pub struct Run {
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak resident set size in KiB, when GNU time is there to report it.
    pub max_rss_kib: Option<u64>,
    /// Standard output when kept, else empty.
    pub stdout: Vec<u8>,
    /// Bytes written to standard output.
    pub stdout_len: u64,
    /// Standard error (always kept: it is short for every tool measured here).
    pub stderr: Vec<u8>,
    /// Exit code.
    pub code: i32,
}

/// How runs are made.
#[derive(Debug, Clone)]
pub struct Runner {
    /// GNU time, for the peak RSS; `None` times without it.
    pub timer: Option<PathBuf>,
    /// Where GNU time writes its report.
    pub scratch: PathBuf,
}

impl Runner {
    /// Runs the command once.
    pub fn run(&self, spec: &Spec, keep_stdout: bool) -> anyhow::Result<Run> {
        let report = self.scratch.join("time.out");
        let mut command = match &self.timer {
            Some(timer) => {
                let mut c = Command::new(timer);
                c.arg("-f").arg("%M").arg("-o").arg(&report).arg("--");
                c.arg(&spec.program);
                c
            }
            None => Command::new(&spec.program),
        };
        command.args(&spec.args);
        for (k, v) in &spec.env {
            command.env(k, v);
        }
        let stdin = match &spec.stdin {
            Some(path) => Stdio::from(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ),
            None => Stdio::null(),
        };
        // An empty directory of the bench's own: bt-demangle indexes the sources under its
        // working directory (its default project root), and that must not depend on where
        // the bench was started.
        command
            .current_dir(&self.scratch)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", spec.program.display()))?;
        let out = child.stdout.take().context("no stdout pipe")?;
        let err = child.stderr.take().context("no stderr pipe")?;
        let out = thread::spawn(move || drain(out, keep_stdout));
        let err = thread::spawn(move || drain(err, true));
        let status = child.wait()?;
        let wall = start.elapsed();
        let (stdout, stdout_len) = out
            .join()
            .map_err(|_| anyhow::anyhow!("stdout reader panicked"))??;
        let (stderr, _) = err
            .join()
            .map_err(|_| anyhow::anyhow!("stderr reader panicked"))??;
        let code = status.code().unwrap_or(-1);
        if !spec.ok_codes.contains(&code) {
            bail!(
                "{} exited with {status}: {}",
                spec.program.display(),
                String::from_utf8_lossy(&stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
        }
        let max_rss_kib = match &self.timer {
            // GNU time writes "Command exited with non-zero status 1" before the figure.
            Some(_) => std::fs::read_to_string(&report)
                .ok()
                .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok())),
            None => None,
        };
        Ok(Run {
            wall,
            max_rss_kib,
            stdout,
            stdout_len,
            stderr,
            code,
        })
    }

    /// A warm-up run (when `warmup`), then `runs` timed runs. The first run's output is
    /// kept when the spec asks for it.
    pub fn measure(
        &self,
        label: &str,
        spec: &Spec,
        runs: usize,
        warmup: bool,
    ) -> anyhow::Result<Measurement> {
        let mut all = self.measure_together(&[(label, spec)], runs, warmup)?;
        all.pop().context("no run was made")
    }

    /// [`Runner::measure`] of commands whose times are compared, their runs taking turns
    /// (a, b, c, a, b, c, …): a shared machine's speed drifts by a third within minutes,
    /// and runs made one command after the other would put that drift into the ratios.
    pub fn measure_together(
        &self,
        commands: &[(&str, &Spec)],
        runs: usize,
        warmup: bool,
    ) -> anyhow::Result<Vec<Measurement>> {
        let runs = runs.max(1);
        let mut firsts: Vec<Option<Run>> = commands.iter().map(|_| None).collect();
        if warmup {
            for ((_, spec), first) in commands.iter().zip(&mut firsts) {
                *first = Some(self.run(spec, spec.keep_stdout)?);
            }
        }
        let mut samples = vec![Vec::with_capacity(runs); commands.len()];
        let mut rss = vec![Vec::with_capacity(runs); commands.len()];
        for i in 0..runs {
            for (c, (label, spec)) in commands.iter().enumerate() {
                let run = self.run(spec, spec.keep_stdout && firsts[c].is_none())?;
                eprintln!(
                    "  bench: {label}: run {}/{runs} {:.3} s",
                    i + 1,
                    run.wall.as_secs_f64()
                );
                samples[c].push(run.wall);
                rss[c].extend(run.max_rss_kib);
                if firsts[c].is_none() {
                    firsts[c] = Some(run);
                }
            }
        }
        firsts
            .into_iter()
            .zip(samples)
            .zip(rss)
            .map(|((first, samples), rss)| {
                Ok(Measurement {
                    samples,
                    max_rss_kib: rss.into_iter().max(),
                    first: first.context("no run was made")?,
                })
            })
            .collect()
    }
}

/// Reads a pipe to its end, keeping the bytes when asked.
fn drain(mut pipe: impl Read, keep: bool) -> std::io::Result<(Vec<u8>, u64)> {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        if keep {
            kept.extend_from_slice(&buf[..n]);
        }
    }
    Ok((kept, total))
}

/// The timed runs of one command.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Wall-clock times of the timed runs.
    pub samples: Vec<Duration>,
    /// The largest peak RSS of any run, KiB.
    pub max_rss_kib: Option<u64>,
    /// The first run (its output, for the cross-checks).
    pub first: Run,
}

impl Measurement {
    /// The median wall-clock time, in seconds.
    pub fn median(&self) -> f64 {
        median(
            &self
                .samples
                .iter()
                .map(Duration::as_secs_f64)
                .collect::<Vec<_>>(),
        )
    }

    /// The fastest run, in seconds.
    pub fn min(&self) -> f64 {
        self.samples
            .iter()
            .map(Duration::as_secs_f64)
            .fold(f64::INFINITY, f64::min)
    }

    /// The slowest run, in seconds.
    pub fn max(&self) -> f64 {
        self.samples
            .iter()
            .map(Duration::as_secs_f64)
            .fold(0.0, f64::max)
    }
}

/// The median of `values` (the mean of the middle two for an even count); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// GNU time when installed (`apt-get install time`); `None` otherwise, and the table then
/// shows no peak RSS.
pub fn find_timer() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/time");
    if fixed.is_file() {
        return Some(fixed.to_path_buf());
    }
    crate::tools::find_on_path("time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        let spec = Spec::new("/usr/bin/grep").env("LC_ALL", "C").args([
            "-cE",
            "^==[0-9]+== (a|b)",
            "/x/y.log",
        ]);
        assert_eq!(
            spec.display(&|s| s.to_string()),
            "LC_ALL=C /usr/bin/grep -cE '^==[0-9]+== (a|b)' /x/y.log"
        );
    }
}
