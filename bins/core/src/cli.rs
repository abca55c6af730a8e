//! What every tool's `main` shares: input handling, the exit-status convention, and the
//! one-line error.
//!
//! Exit status: 0 clean, 1 findings, 2 usage, I/O or input error (clap exits 2 on bad flags
//! itself), 101 only on a panic, which is a bug. A closed stdout (`| head -1`) ends quietly
//! with 0.

use crate::output::is_broken_pipe;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
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
/// an unreadable file is an error naming it, before anything is read. Paths need not be
/// UTF-8.
///
/// Each file is checked here but held open only while it is read: `vg-filter vg.*.log` over
/// the logs of a test suite's thousands of processes must not run out of file descriptors.
pub fn open_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, crate::Error> {
    if paths.is_empty() {
        return Ok(vec![stdin_input()]);
    }
    paths
        .iter()
        .map(|p| {
            let input = open_input(p)?;
            if p == Path::new("-") {
                return Ok(input);
            }
            // Checked (it opened), then let go until its turn comes.
            drop(input);
            Ok(Input {
                name: p.display().to_string(),
                reader: Box::new(LazyFile {
                    path: p.clone(),
                    file: None,
                }),
            })
        })
        .collect()
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
        reader: Box::new(BufReader::with_capacity(BUFFER, file)),
    })
}

/// Read buffer of each input.
const BUFFER: usize = 256 * 1024;

/// A file opened on its first read. (An error opening it then, as when it was removed since
/// it was checked, is a read error of that input.)
struct LazyFile {
    path: PathBuf,
    file: Option<BufReader<File>>,
}

impl LazyFile {
    fn open(&mut self) -> io::Result<&mut BufReader<File>> {
        if self.file.is_none() {
            let file = File::open(&self.path)?;
            self.file = Some(BufReader::with_capacity(BUFFER, file));
        }
        // Just set when it was not.
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("input not open"))
    }
}

impl Read for LazyFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.open()?.read(buf)
    }
}

impl BufRead for LazyFile {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.open()?.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Some(file) = &mut self.file {
            file.consume(amount);
        }
    }
}

fn stdin_input() -> Input {
    Input {
        name: "<stdin>".to_string(),
        reader: Box::new(BufReader::with_capacity(BUFFER, io::stdin())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: every input used to be opened before the first was read, so a few
    /// thousand logs ran out of file descriptors (`Too many open files`).
    #[test]
    fn inputs_are_held_open_one_at_a_time() {
        let dir = std::env::temp_dir().join(format!("dbgpipe-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths: Vec<PathBuf> = (0..200)
            .map(|i| {
                let p = dir.join(format!("{i}.log"));
                std::fs::write(&p, format!("line {i}\n")).unwrap();
                p
            })
            .collect();
        let fds = || {
            std::fs::read_dir("/proc/self/fd")
                .map(|d| d.count())
                .unwrap_or(0)
        };
        let before = fds();
        let inputs = open_inputs(&paths).unwrap();
        // Other tests of this process open files meanwhile: allow for a few of theirs.
        assert!(
            fds() < before + 50,
            "opening 200 inputs holds no descriptor each"
        );
        for mut input in inputs {
            let mut text = String::new();
            input.reader.read_line(&mut text).unwrap();
            assert!(text.starts_with("line "), "{text}");
        }
        let missing = open_inputs(&[paths[0].clone(), dir.join("nope")]);
        assert!(missing.err().unwrap().to_string().contains("nope"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
