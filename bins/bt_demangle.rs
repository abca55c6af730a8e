//! bt-demangle: gdb backtraces in; readable, classified, fingerprinted crash reports out.

use clap::Parser;
use dbgpipe_core::backtrace::filter::{Filter, Options};
use dbgpipe_core::backtrace::print::{self, TextOptions};
use dbgpipe_core::backtrace::records::{FixedCrash, Record};
use dbgpipe_core::cli::{self, NoProject, Outcome, ProjectArgs};
use dbgpipe_core::output::{Format, Printer};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const AFTER_HELP: &str = "\
INPUT:
  gdb's output: `bt`, `bt full`, `thread apply all bt`, `py-bt`, with the signal report and the
  stop location, from a live run (`gdb -batch -ex run -ex bt`) or a core file, whole or as an
  excerpt pasted from a bug report, a mail or docs (pager prompts, wrapped lines, cut first
  and last lines, indented, `> `-quoted or fenced pastes, mail rewraps and quoted-printable
  are fine). Function names may be demangled or not (`set print demangle off`). Several inputs
  are several gdb sessions: each gets its own crash record. bt-demangle's own JSON lines read
  back as the records they are (names, classes and the signature recomputed with this run's
  options, the crash records ending their sessions, the summary's counts carried over), so
  a stored report converts to text or is classified again without rerunning gdb; JSON lines
  of other types or tools pass on unchanged. Its own text report reads again too (`(…)`
  arguments are counted as shortened, not cut; `<- project` is no part of a location). An
  executable or binary data is refused. An input in which nothing was recognised (no frame,
  signal report, thread header or mangled name) passes through with a one-line note on
  stderr (a Valgrind log: read it with vg-filter).

PROJECT:
  Without --project, and with a bare --project, the frames whose object or source file lies
  under --root (default: the current directory) are the project's.

OUTPUT (text, the default):
  gdb's text with each frame rewritten: its function demangled and simplified
  (std::basic_string<char, …> -> std::string, default template arguments dropped, templates
  deeper than --depth folded to <…>), argument values shown as (…), project frames marked
  `<- project`, runs of interpreter frames folded to `… 14 interpreter frames …`. Other lines
  pass through with any mangled name (_Z…, _ZN…E, _R…) demangled, so a list of symbols, one
  per line, comes out demangled like c++filt's. Then per input a crash line with the signal,
  the thread and the signature, and one summary line (none when no frame was read, so that
  a list of symbols comes out as c++filt prints it).

OUTPUT (jsonl, schema 2):
  {\"type\":\"frame\",\"thread\":1,\"lwp\":4242,\"index\":0,\"addr\":\"0x00007ffff77ad6b1\",\"function\":\"dbgpipe_store\",
   \"file\":\"/x/dbgpipe_example.c\",\"line\":271,\"object\":null,\"function_raw\":\"dbgpipe_store\",
   \"args\":\"p=0x0, v=42\",\"inlined\":false,\"class\":\"project\",\"truncated\":false}
  per frame, class one of project, python, system, unknown; {\"type\":\"stop\",\"thread\":1,…} with
  the same keys but index and inlined for the stop location (after the signal report, on a
  breakpoint report's line, a core file's #0 line that bt repeats);
  {\"type\":\"py_frame\",\"thread\":…,\"index\":0,\"function\":\"call\",\"file\":\"run.py\",\"line\":101,…}
  per py-bt frame; per input
  {\"type\":\"crash\",\"input\":…,\"signal\":\"SIGSEGV\",\"description\":\"Segmentation fault\",
   \"thread\":1,\"thread_name\":…,\"signature\":\"3c1f…\",\"signature_functions\":[…],\"frames\":21,
   \"top_frame\":{…},\"project_frame\":{\"index\":0,\"addr\":…,\"function\":…,\"file\":…,\"line\":…,
   \"object\":…}}
  and last {\"type\":\"summary\",\"tool\":\"bt-demangle\",\"schema\":2,\"frames\":N,\"threads\":T,
   \"unparsed_lines\":U,\"long_lines\":L,\"passed_lines\":P,\"foreign_records\":F,…}. csv writes one
  row per frame (thread,index,class,function,file,line,object,addr,inlined,lwp) and the crash and
  summary lines to stderr.

SIGNATURE AND BASELINE:
  16 hex digits hashing function names only (no addresses, arguments, lines or template
  arguments) of the crashing thread: up to 3 system frames above its first project frame,
  then up to 3 project frames. The same crash in two runs gets the same signature. Its
  \"fingerprint\" hashes the signal too (a SIGABRT and a SIGSEGV at one place differ).
  --baseline FILE compares with known crashes (an earlier run's JSON lines, or gdb output):
  each crash gets \"baseline\":\"new\" or \"known\", each baseline crash no input shows is
  written as {\"type\":\"fixed\",\"fingerprint\":…,\"signal\":…,\"signature_functions\":[…]},
  and the exit status is 1 when a crash is new.

LIMITS (memory stays bounded whatever the input; the summary counts each cut):
  lines over 1 MiB are cut (long_lines); a frame joins at most 32 wrapped lines; every frame
  is written out, but the crash record keeps at most 500 frames per thread and 4096 threads
  per input (dropped_frames). An input's last line without a newline was cut: its frame is
  flagged truncated.

EXAMPLES:
  gdb -batch -ex run -ex 'thread apply all bt' --args python3.11-dbg -m pytest 2>&1 | bt-demangle
  bt-demangle --format jsonl --project=_ddwaf < crash.txt | jq .
  bt-demangle --format jsonl crash.txt | jq -r 'select(.type==\"crash\") | .signature'
  bt-demangle --format jsonl crash.txt > crash.jsonl; bt-demangle --project=native crash.jsonl
  nm -D --defined-only libfoo.so | cut -c20- | bt-demangle --no-simplify
  bt-demangle --baseline known-crashes.jsonl --format jsonl gdb.txt

EXIT STATUS:
  0  the input was read (whatever it held: bt-demangle is a filter)
  1  with --baseline: a crash not in the baseline
  2  bad usage, or an input that cannot be read (missing, a directory, an executable, binary
     data, a JSON line of one of bt-demangle's record types that does not read as one)
  A closed stdout (| head) ends quietly with status 0.";

/// Makes gdb backtraces readable: demangled, simplified, classified, with a crash signature.
#[derive(Parser, Debug)]
#[command(name = "bt-demangle", version, after_help = AFTER_HELP, max_term_width = 100)]
struct Args {
    /// gdb output files, or bt-demangle's JSON lines; none or `-` reads standard input.
    #[arg(value_name = "FILE")]
    inputs: Vec<PathBuf>,

    /// Output format.
    #[arg(
        long,
        value_parser = Format::parser(&[Format::Text, Format::Jsonl, Format::Csv]),
        default_value = "text"
    )]
    format: Format,

    #[command(flatten)]
    project: ProjectArgs,

    /// Keep C++ names whole (demangled, not simplified).
    #[arg(long)]
    no_simplify: bool,

    /// Template argument lists nested deeper than N are folded to <…>.
    #[arg(long, value_name = "N", default_value_t = 2)]
    depth: usize,

    /// Show the frames' argument values in text output (they are shown as (…) otherwise).
    #[arg(long)]
    keep_args: bool,

    /// Show every interpreter frame in text output instead of folding runs of them.
    #[arg(long)]
    all: bool,

    /// Compare the crashes with known ones: an earlier run's JSON lines (or gdb output);
    /// exit status 1 when a crash is new, and the gone ones are listed as `fixed`.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,

    /// Flush output after every line.
    #[arg(long)]
    line_buffered: bool,
}

/// The crashes a baseline input shows, by fingerprint; nothing else of it is written.
#[derive(Default)]
struct Known(std::collections::BTreeMap<String, FixedCrash>);

impl Printer<Record> for Known {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        if let Record::Crash(c) = record {
            if let Some(fixed) = FixedCrash::of(c) {
                self.0.entry(fixed.fingerprint.clone()).or_insert(fixed);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether an input (`-`: standard input) is a regular file.
fn is_file(path: &Path) -> bool {
    let meta = if path == Path::new("-") {
        use std::os::fd::AsFd;
        io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .and_then(|fd| std::fs::File::from(fd).metadata())
    } else {
        std::fs::metadata(path)
    };
    meta.is_ok_and(|m| m.is_file())
}

fn main() -> ExitCode {
    cli::main("bt-demangle", || run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<Outcome> {
    cli::check_project_spacing(&std::env::args_os().collect::<Vec<_>>())?;
    // Unlike vg-filter, which keeps everything without --project, classifying needs a notion
    // of "project" always: the frames under the root.
    let opts = Options {
        project: args.project.project(NoProject::UnderRoot)?,
        simplify: !args.no_simplify,
        depth: args.depth,
    };
    let text = TextOptions {
        keep_args: args.keep_args,
        all: args.all,
    };
    let inputs = cli::open_inputs(&args.inputs)?;
    let stdout = io::stdout();
    let mut out = print::printer(
        args.format,
        text,
        stdout.lock(),
        Box::new(io::stderr()),
        args.line_buffered,
    )?;
    let mut filter = Filter::new(opts);
    if let Some(path) = &args.baseline {
        // Read as this run is (the same --project), so that crashes get the same signatures.
        let mut earlier = Filter::new(Options {
            project: args.project.project(NoProject::UnderRoot)?,
            simplify: !args.no_simplify,
            depth: args.depth,
        });
        let input = cli::open_input(path)?;
        let mut known = Known::default();
        earlier.read(&input.name, input.reader, &mut known)?;
        filter.set_baseline(known.0);
    }
    // Files are read ahead, with both cores demangling (a pipe is read line by line: a live
    // gdb session's lines must not wait for a chunk to fill).
    let files: Vec<bool> = match args.inputs.as_slice() {
        [] => vec![is_file(Path::new("-"))],
        paths => paths.iter().map(|p| is_file(p)).collect(),
    };
    for (input, file) in inputs.into_iter().zip(files) {
        filter.set_read_ahead(file);
        filter.read(&input.name, input.reader, &mut *out)?;
        for note in filter.take_notes() {
            writeln!(io::stderr(), "bt-demangle: {note}")?;
        }
    }
    let summary = filter.finish(&mut *out)?;
    Ok(if summary.new > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags are consistent (clap's own checks), the help says how the tool exits, and
    /// every documented example parses with these flags.
    #[test]
    fn help_is_true() {
        cli::assert_help_is_true::<Args>("bt-demangle", &[AFTER_HELP], 5);
    }

    #[test]
    fn formats_are_text_jsonl_and_csv() {
        let parse = |f: &str| Args::try_parse_from(["bt-demangle", "--format", f]);
        assert_eq!(parse("csv").unwrap().format, Format::Csv);
        assert!(parse("sarif").is_err());
        let args = Args::try_parse_from(["bt-demangle"]).unwrap();
        assert_eq!(args.format, Format::Text);
        assert!(args.project.project.is_empty());
    }
}
