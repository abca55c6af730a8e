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

/// `--project[=PATTERN]` and `--root DIR`: which frames are the user's code, declared once
/// for every tool that tells them apart (vg-filter, bt-demangle).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProjectArgs {
    /// Frames whose object or source path contains PATTERN (a glob when it has * or ?) are the
    /// project's. Repeatable; write it with `=`. Alone: frames whose object or source file lies
    /// under --root. Both (`--project --project=PATTERN`): either.
    #[arg(
        long,
        value_name = "PATTERN",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub project: Vec<String>,

    /// The project's root, for --project without a pattern and for paths shown relative to it
    /// [default: .]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// What a tool does when no `--project` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoProject {
    /// Every frame is the project's (vg-filter keeps everything).
    Everything,
    /// Frames under the root are (bt-demangle always classifies).
    UnderRoot,
}

impl ProjectArgs {
    /// The root: `--root`, else the current directory.
    pub fn root(&self) -> Result<PathBuf, crate::Error> {
        match &self.root {
            Some(root) => Ok(root.clone()),
            None => std::env::current_dir().map_err(|e| crate::Error::io("current directory", &e)),
        }
    }

    /// The project these flags describe.
    pub fn project(&self, absent: NoProject) -> Result<crate::project::Project, crate::Error> {
        use crate::project::{Project, Root};
        let patterns: Vec<String> = self
            .project
            .iter()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect();
        let bare = self.project.iter().any(String::is_empty);
        Ok(if !patterns.is_empty() && bare {
            Project::Either(patterns.into(), Root::new(&self.root()?))
        } else if !patterns.is_empty() {
            Project::Patterns(patterns.into())
        } else if self.project.is_empty() && absent == NoProject::Everything {
            Project::Everything
        } else {
            Project::Under(Root::new(&self.root()?))
        })
    }
}

/// Refuses `--project PATTERN` written with a space, which clap reads as a bare `--project`
/// followed by an input named PATTERN: when the word after a bare `--project` is no file, the
/// user meant a pattern, and one line says how to write it. (A word that is a file stays an
/// input; one that is no log, such as a shared object, is refused when it is read.)
pub fn check_project_spacing(args: &[std::ffi::OsString]) -> Result<(), crate::Error> {
    for pair in args.windows(2) {
        let (flag, next) = (&pair[0], &pair[1]);
        if flag != "--project" || next == "-" || next.to_string_lossy().starts_with('-') {
            continue;
        }
        if !Path::new(next).exists() {
            let word = next.to_string_lossy();
            return Err(crate::Error::at(
                &format!("--project {word}"),
                None,
                format!(
                    "a pattern is given with `=`: --project={word} (a bare --project means the \
                     frames under --root, and {word} would be read as an input, which does not exist)"
                ),
            ));
        }
    }
    Ok(())
}

/// One named input: a file, or standard input for `-`.
pub struct Input {
    /// The name to use in messages (`-` is shown as `<stdin>`).
    pub name: String,
    /// Its reader (`Send`: inputs may be read on other threads).
    pub reader: Box<dyn BufRead + Send>,
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
pub(crate) const BUFFER: usize = 256 * 1024;

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

/// What every binary's unit test asserts of its flags: clap's own consistency checks pass,
/// the help says how the tool exits, and each invocation of `tool` in the EXAMPLES sections
/// of `helps` (at least `at_least` of them) parses with these flags. Panics, naming the
/// example, when one does not.
pub fn assert_help_is_true<P: clap::Parser + clap::CommandFactory>(
    tool: &str,
    helps: &[&str],
    at_least: usize,
) {
    P::command().debug_assert();
    assert!(
        helps.iter().any(|h| h.contains("EXIT STATUS:")),
        "{tool}'s help has no EXIT STATUS section"
    );
    let examples: Vec<Vec<String>> = helps.iter().flat_map(|h| help_examples(tool, h)).collect();
    assert!(examples.len() >= at_least, "{tool}: {examples:?}");
    for words in examples {
        if let Err(e) = P::try_parse_from(&words) {
            panic!("{words:?} does not parse: {e}");
        }
    }
}

/// The invocations of `tool` in the EXAMPLES sections of a help text, each split into words
/// as a shell would (quotes and backslashes; no expansion), from the tool's name to the end
/// of its simple command: what a test parses with the tool's flags, so that a documented
/// example that no longer parses fails the tests.
///
/// A section starts at a line `EXAMPLES:` and ends at the next line that is not indented.
/// A line ending in `\` continues on the next. Pipes, lists, `$(…)` and redirections
/// (`2>&1`, `> file`, `< file`) end or are taken out of a command; `sudo`, variable
/// assignments and a path before the tool's name (`target/debug/ptrace-fix`) are left out.
pub fn help_examples(tool: &str, help: &str) -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    let mut in_section = false;
    let mut pending = String::new();
    for line in help.lines() {
        if line.trim_end() == "EXAMPLES:" {
            in_section = true;
            continue;
        }
        if in_section && !line.is_empty() && !line.starts_with(' ') {
            in_section = false;
        }
        if !in_section {
            continue;
        }
        match line.trim().strip_suffix('\\') {
            Some(start) => {
                pending.push_str(start);
                pending.push(' ');
            }
            None => {
                pending.push_str(line.trim());
                if !pending.is_empty() {
                    lines.push(std::mem::take(&mut pending));
                }
            }
        }
    }
    let mut out = Vec::new();
    for line in lines {
        for command in simple_commands(&line) {
            let start = command
                .iter()
                .position(|w| w == tool || w.ends_with(&format!("/{tool}")));
            if let Some(start) = start {
                let mut words = command[start..].to_vec();
                words[0] = tool.to_string();
                out.push(words);
            }
        }
    }
    out
}

/// The simple commands of one shell line, as words: split at `|`, `;`, `&`, `(`, `)`, with
/// redirections and their targets taken out. Enough shell for help examples, not a shell.
fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut skip_next_word = false;
    let mut chars = line.chars().peekable();
    let end_word =
        |word: &mut String, in_word: &mut bool, skip: &mut bool, cmds: &mut Vec<Vec<String>>| {
            if *in_word {
                if *skip {
                    *skip = false;
                } else if let Some(current) = cmds.last_mut() {
                    current.push(std::mem::take(word));
                }
                word.clear();
                *in_word = false;
            }
        };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                word.push(e);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    word.push(e);
                }
            }
            '>' | '<' => {
                // A file descriptor number before it (`2>`) belongs to the redirection.
                if in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                end_word(&mut word, &mut in_word, &mut skip_next_word, &mut commands);
                while chars.peek().is_some_and(|n| matches!(n, '>' | '<')) {
                    chars.next();
                }
                // `>&1` names a descriptor, not a file.
                if chars.peek() == Some(&'&') {
                    chars.next();
                }
                skip_next_word = true;
            }
            '|' | ';' | '&' | '(' | ')' => {
                end_word(&mut word, &mut in_word, &mut skip_next_word, &mut commands);
                skip_next_word = false;
                commands.push(Vec::new());
            }
            '$' if chars.peek() == Some(&'(') => {
                end_word(&mut word, &mut in_word, &mut skip_next_word, &mut commands);
            }
            c if c.is_whitespace() => {
                end_word(&mut word, &mut in_word, &mut skip_next_word, &mut commands)
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut skip_next_word, &mut commands);
    commands.retain(|c| !c.is_empty());
    commands
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

    #[test]
    fn a_bare_project_and_a_pattern_mean_either() {
        use crate::project::Project;
        let args = |project: &[&str]| ProjectArgs {
            project: project.iter().map(|p| p.to_string()).collect(),
            root: Some(std::env::temp_dir()),
        };
        let kind = |p: Project| match p {
            Project::Everything => "everything",
            Project::Patterns(_) => "patterns",
            Project::Under(_) => "under",
            Project::Either(..) => "either",
        };
        let project = |a: &[&str]| kind(args(a).project(NoProject::Everything).unwrap());
        assert_eq!(project(&[]), "everything");
        assert_eq!(project(&[""]), "under");
        assert_eq!(project(&["m.so"]), "patterns");
        assert_eq!(project(&["", "m.so"]), "either");
        assert_eq!(project(&["m.so", ""]), "either");
    }

    #[test]
    fn a_project_pattern_with_a_space_is_refused_with_the_fix() {
        let args = |v: &[&str]| {
            v.iter()
                .map(Into::into)
                .collect::<Vec<std::ffi::OsString>>()
        };
        let e = check_project_spacing(&args(&["vg-filter", "--project", "mymod", "vg.log"]))
            .unwrap_err();
        assert!(e.to_string().contains("--project=mymod"), "{e}");
        // A file after it is an input; `=` and flags are fine.
        let here = env!("CARGO_MANIFEST_DIR");
        assert!(check_project_spacing(&args(&["t", "--project", here])).is_ok());
        assert!(check_project_spacing(&args(&["t", "--project=mymod", "x"])).is_ok());
        assert!(check_project_spacing(&args(&["t", "--project", "--format", "text"])).is_ok());
        assert!(check_project_spacing(&args(&["t", "--project", "-"])).is_ok());
    }

    #[test]
    fn help_examples_are_the_tools_commands_in_words() {
        let help = "\
Some text about vg-filter.

EXAMPLES:
  valgrind --leak-check=full python3.11-dbg t.py 2>&1 | vg-filter --project
  vg-filter --project=a.so --suppressions x.supp vg.*.log > out.jsonl
  docker rmi $(vg-filter --format 'text x' < in.log) && sudo vg-filter \\
    --format=csv
  run-in-image -- target/debug/vg-filter -

EXIT STATUS:
  vg-filter 0
";
        let got = help_examples("vg-filter", help);
        let want: Vec<Vec<&str>> = vec![
            vec!["vg-filter", "--project"],
            vec![
                "vg-filter",
                "--project=a.so",
                "--suppressions",
                "x.supp",
                "vg.*.log",
            ],
            vec!["vg-filter", "--format", "text x"],
            vec!["vg-filter", "--format=csv"],
            vec!["vg-filter", "-"],
        ];
        assert_eq!(got, want);
    }

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
