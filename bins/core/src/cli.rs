//! What every tool's `main` shares: input handling, the exit-status convention, and the
//! one-line error.
//!
//! Exit status: 0 clean, 1 findings, 2 usage, I/O or input error (clap exits 2 on bad flags
//! itself), 101 only on a panic, which is a bug. A closed stdout (`| head -1`) ends quietly
//! with 0.

use crate::output::is_broken_pipe;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What a run found, mapped to an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report: exit 0.
    Clean,
    /// Findings (kept records, a leak verdict, a blocked debugger): exit 1.
    Findings,
}

/// Runs a tool's `run`, prints any error as `tool: message: cause` on one line, and maps the
/// result to the exit status.
pub fn main(tool: &str, run: impl FnOnce() -> anyhow::Result<Outcome>) -> ExitCode {
    match run() {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(e) if e.chain().any(is_broken_pipe) => ExitCode::SUCCESS,
        Err(e) => {
            let line = format!("{tool}: {e:#}").replace('\n', " ");
            let _ = writeln!(io::stderr(), "{line}");
            ExitCode::from(2)
        }
    }
}

/// One named input: a file, or standard input for `-`.
pub struct Input {
    /// The name to use in messages (`-` is shown as `<stdin>`).
    pub name: String,
    /// Its reader.
    pub reader: Box<dyn BufRead>,
}

/// Opens the inputs named on the command line; none means standard input. A directory or
/// an unreadable file is an error naming it. Paths need not be UTF-8.
pub fn open_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, crate::Error> {
    if paths.is_empty() {
        return Ok(vec![stdin_input()]);
    }
    paths.iter().map(|p| open_input(p)).collect()
}

/// Opens one input; `-` is standard input.
pub fn open_input(path: &Path) -> Result<Input, crate::Error> {
    if path == Path::new("-") {
        return Ok(stdin_input());
    }
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| crate::Error::io(&name, &e))?;
    if meta.is_dir() {
        return Err(crate::Error::at(
            &name,
            None,
            "is a directory, not a log file",
        ));
    }
    let file = File::open(path).map_err(|e| crate::Error::io(&name, &e))?;
    Ok(Input {
        name,
        reader: Box::new(BufReader::with_capacity(256 * 1024, file)),
    })
}

fn stdin_input() -> Input {
    Input {
        name: "<stdin>".to_string(),
        reader: Box::new(BufReader::with_capacity(256 * 1024, io::stdin())),
    }
}
