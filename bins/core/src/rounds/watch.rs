//! `rss-rounds watch -- CMD…`: run a command, sample its process tree's memory from the
//! outside, and judge the samples.
//!
//! The command's stdout and stderr are passed through, line by line, to rss-rounds'
//! stderr (so that stdout carries only the report), and read like any input: its own
//! `Round N Max RSS` and `References:` lines become series too. `PYTHONUNBUFFERED=1` is set
//! for it, because a Python program writing into a pipe would otherwise hold its lines
//! back until its buffer fills and every round would be sampled at the same moment.
//!
//! Samples (see [`crate::rounds::memory`]):
//! - at each line that marks a round (`--marker`, default: a line starting with
//!   `Round N`), read at once from the known processes of the tree; the round is the
//!   marker's `round` group, else the count of markers so far;
//! - every `--interval` milliseconds, which also refreshes the list of processes in the
//!   tree and keeps the highest RSS seen.
//!
//! With markers, the series are `rss_mib` (the tree's RSS at each marker) and
//! `peak_rss_mib` (the larger of the tree's summed `VmHWM` and the highest RSS any sample
//! saw so far). Without a single marker, each interval sample is a round.

use crate::input::{read_line_capped, MAX_LINE};
use crate::output::Printer;
use crate::rounds::filter::Filter;
use crate::rounds::memory::{self, Usage};
use crate::rounds::records::{CommandStatus, Record};
use crate::rounds::trend::Kind;
use crate::Error;
use std::ffi::OsString;
use std::io::{self, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The default round marker.
pub const DEFAULT_MARKER: &str = r"^\s*Round\s+(?P<round>\d+)";

/// What `watch` is told.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The command and its arguments.
    pub command: Vec<OsString>,
    /// Time between samples.
    pub interval: Duration,
    /// Lines that mark a round; an optional group `round` numbers it.
    pub marker: regex::bytes::Regex,
    /// Pass the command's output through to stderr.
    pub echo: bool,
}

enum Event {
    Line {
        bytes: Vec<u8>,
        marker: Option<(Option<u64>, Usage)>,
    },
    Eof,
}

const MIB: f64 = 1024.0 * 1024.0;

/// Runs the command to its end, feeding `filter` (its records go to `out`); returns how it
/// ended. Errors name the command.
pub fn watch(
    filter: &mut Filter,
    opts: &WatchOptions,
    out: &mut dyn Printer<Record>,
) -> Result<CommandStatus, Error> {
    let argv: Vec<String> = opts
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let program = opts
        .command
        .first()
        .ok_or_else(|| Error::at("watch", None, "no command given"))?;
    let name = program.to_string_lossy().into_owned();
    let mut child = Command::new(program)
        .args(&opts.command[1..])
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::at(&name, None, format!("cannot run it: {e}")))?;
    let root = child.id();
    let pids = Arc::new(Mutex::new(memory::tree(root)));
    let highest = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel();
    let mut readers = Vec::new();
    let streams: Vec<Box<dyn Read + Send>> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    let streams_count = streams.len();
    for stream in streams {
        let (tx, pids, highest) = (tx.clone(), pids.clone(), highest.clone());
        let (marker, echo) = (opts.marker.clone(), opts.echo);
        readers.push(thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            while let Ok(Some(_)) = read_line_capped(&mut reader, &mut buf, MAX_LINE) {
                if echo {
                    let mut err = io::stderr().lock();
                    // The echo is a courtesy: a closed stderr must not stop the sampling.
                    let _ = err.write_all(&buf).and_then(|_| err.write_all(b"\n"));
                }
                let marker = marker.captures(&buf).map(|caps| {
                    let round = caps
                        .name("round")
                        .and_then(|m| std::str::from_utf8(m.as_bytes()).ok())
                        .and_then(|r| r.parse().ok());
                    let list = pids.lock().map(|p| p.clone()).unwrap_or_default();
                    let u = memory::usage(&list);
                    highest.fetch_max(u.rss, Ordering::Relaxed);
                    (round, u)
                });
                let bytes = std::mem::take(&mut buf);
                if tx.send(Event::Line { bytes, marker }).is_err() {
                    break;
                }
            }
            let _ = tx.send(Event::Eof);
        }));
    }
    drop(tx);

    let mut markers = 0u64;
    let mut timed: Vec<Usage> = Vec::new();
    let mut eofs = 0;
    let mut next = Instant::now() + opts.interval;
    let mut result = Ok(());
    while eofs < streams_count {
        let wait = next.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Event::Line { bytes, marker }) => {
                if result.is_err() {
                    continue;
                }
                result = filter.line(&bytes, out).and_then(|_| match marker {
                    Some((round, u)) => {
                        let round = round.unwrap_or(markers);
                        markers += 1;
                        let peak = u.peak.max(highest.load(Ordering::Relaxed));
                        record(filter, Some(round), u.rss, peak, out)
                    }
                    None => Ok(()),
                });
            }
            Ok(Event::Eof) => eofs += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                next = Instant::now() + opts.interval;
                let list = memory::tree(root);
                let u = memory::usage(&list);
                if let Ok(mut p) = pids.lock() {
                    *p = list;
                }
                if u.processes > 0 {
                    highest.fetch_max(u.rss, Ordering::Relaxed);
                    timed.push(u);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::at(&name, None, format!("waiting for it: {e}")))?;
    for r in readers {
        let _ = r.join();
    }
    result?;
    if markers == 0 {
        // No round markers: the samples in time are the rounds.
        let mut peak = 0;
        for (i, u) in timed.iter().enumerate() {
            peak = peak.max(u.peak).max(u.rss);
            record(filter, Some(i as u64), u.rss, peak, out)?;
        }
    }
    Ok(CommandStatus {
        argv,
        exit_code: status.code(),
        signal: signal_of(&status),
    })
}

fn record(
    filter: &mut Filter,
    round: Option<u64>,
    rss: u64,
    peak: u64,
    out: &mut dyn Printer<Record>,
) -> Result<(), Error> {
    filter.observe("rss_mib", Kind::Level, "MiB", round, rss as f64 / MIB, out)?;
    filter.observe(
        "peak_rss_mib",
        Kind::Level,
        "MiB",
        round,
        peak as f64 / MIB,
        out,
    )
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> Option<i32> {
    None
}
