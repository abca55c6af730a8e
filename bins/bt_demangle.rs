//! bt-demangle: gdb backtraces in; readable, classified, fingerprinted crash reports out.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use dbgpipe_core::backtrace::filter::{Filter, Format, Options};
use dbgpipe_core::cli::{self, Outcome};
use dbgpipe_core::output::Sink;
use dbgpipe_core::project::{Project, Root};
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
INPUT:
  gdb's output: `bt`, `bt full`, `thread apply all bt`, `py-bt`, with the signal report and the
  stop location, from a live run (`gdb -batch -ex run -ex bt`) or a core file, whole or as an
  excerpt pasted from a bug report (pager prompts, wrapped lines and cut first and last lines
  are fine). Function names may be demangled or not (`set print demangle off`). Several inputs
  are several gdb sessions: each gets its own crash record.

OUTPUT (text, the default):
  gdb's text with each frame rewritten: its function demangled and simplified
  (std::basic_string<char, …> -> std::string, default template arguments dropped, templates
  deeper than --depth folded to <…>), argument values shown as (…), project frames marked
  `<- project`, runs of interpreter frames folded to `… 14 interpreter frames …`. Other lines
  pass through with any mangled name (_Z…, _ZN…E, _R…) demangled, so a list of symbols, one
  per line, comes out demangled like c++filt's. Then per input a crash line with the signal,
  the thread and the signature, and one summary line (none when no frame was read, so that
  a list of symbols comes out as c++filt prints it).

OUTPUT (jsonl, schema 1):
  {\"type\":\"frame\",\"thread\":1,\"index\":0,\"addr\":\"0x00007ffff77ad6b1\",\"function\":\"dbgpipe_store\",
   \"function_raw\":\"dbgpipe_store\",\"args\":\"p=0x0, v=42\",\"file\":\"/x/dbgpipe_example.c\",\"line\":271,
   \"library\":null,\"inlined\":false,\"class\":\"project\",\"truncated\":false}
  per frame, class one of project, python, system, unknown;
  {\"type\":\"py_frame\",\"thread\":…,\"index\":0,\"function\":\"call\",\"file\":\"run.py\",\"line\":101,…}
  per py-bt frame; per input
  {\"type\":\"crash\",\"input\":…,\"signal\":\"SIGSEGV\",\"description\":\"Segmentation fault\",
   \"thread\":1,\"thread_name\":…,\"signature\":\"3c1f…\",\"signature_functions\":[…],\"frames\":21,
   \"top_frame\":{…},\"project_frame\":{\"index\":0,\"function\":…,\"file\":…,\"line\":…,\"library\":…}}
  and last {\"type\":\"summary\",\"tool\":\"bt-demangle\",\"schema\":1,\"frames\":N,\"threads\":T,
   \"unparsed_lines\":U,\"long_lines\":L,…}. csv writes one row per frame
  (thread,index,class,function,file,line,library,addr,inlined) and the crash and summary
  lines to stderr.

SIGNATURE:
  16 hex digits hashing function names only (no addresses, arguments, lines or template
  arguments) of the crashing thread: up to 3 system frames above its first project frame,
  then up to 3 project frames. The same crash in two runs gets the same signature.

LIMITS (memory stays bounded whatever the input; the summary counts each cut):
  lines over 1 MiB are cut (long_lines); a frame joins at most 32 wrapped lines; every frame
  is written out, but the crash record keeps at most 500 frames per thread and 4096 threads
  per input (dropped_frames). An input's last line without a newline was cut: its frame is
  flagged truncated.

EXAMPLES:
  gdb -batch -ex run -ex 'thread apply all bt' --args python3.11-dbg -m pytest 2>&1 | bt-demangle
  bt-demangle --format jsonl --project=_ddwaf < crash.txt | jq .
  bt-demangle --format jsonl crash.txt | jq -r 'select(.type==\"crash\") | .signature'
  nm -D --defined-only libfoo.so | cut -c20- | bt-demangle --no-simplify

EXIT STATUS:
  0  the input was read (whatever it held: bt-demangle is a filter)
  2  bad usage, or an input that cannot be read
  A closed stdout (| head) ends quietly with status 0.";

/// Makes gdb backtraces readable: demangled, simplified, classified, with a crash signature.
#[derive(Parser, Debug)]
#[command(name = "bt-demangle", version, after_help = AFTER_HELP, max_term_width = 100)]
struct Args {
    /// gdb output files; none or `-` reads standard input.
    #[arg(value_name = "FILE")]
    inputs: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,

    /// Frames whose library or source path contains PATTERN (a glob when it has * or ?) are
    /// the project's. Repeatable. Alone, and by default: frames under --root.
    #[arg(long, value_name = "PATTERN", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    project: Vec<String>,

    /// Project root for --project without a pattern [default: .]
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

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

    /// Flush output after every line.
    #[arg(long)]
    line_buffered: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Text,
    Jsonl,
    Csv,
}

fn main() -> ExitCode {
    cli::main("bt-demangle", || run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<Outcome> {
    let root = match &args.root {
        Some(r) => r.clone(),
        None => std::env::current_dir().context("current directory")?,
    };
    let patterns: Vec<String> = args
        .project
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect();
    // Unlike vg-filter, which keeps everything without --project, classifying needs a notion
    // of "project" always: the root is the default.
    let project = if patterns.is_empty() {
        Project::Under(Root::new(&root))
    } else {
        Project::Patterns(patterns)
    };
    let opts = Options {
        project,
        format: match args.format {
            FormatArg::Text => Format::Text,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Csv => Format::Csv,
        },
        simplify: !args.no_simplify,
        depth: args.depth,
        keep_args: args.keep_args,
        all: args.all,
    };
    let inputs = cli::open_inputs(&args.inputs)?;
    let stdout = io::stdout();
    let mut sink = Sink::new(stdout.lock(), args.line_buffered);
    let mut filter = Filter::new(opts);
    for input in inputs {
        filter.read(&input.name, input.reader, &mut sink)?;
    }
    filter.finish(&mut sink, &mut io::stderr())?;
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The flags are consistent (clap's own checks), the help says how the tool exits, and
    /// every documented example parses with these flags.
    #[test]
    fn help_is_consistent_and_every_example_parses() {
        Args::command().debug_assert();
        assert!(AFTER_HELP.contains("EXIT STATUS:"));
        let examples: Vec<Vec<String>> = [AFTER_HELP]
            .iter()
            .flat_map(|help| dbgpipe_core::cli::help_examples("bt-demangle", help))
            .collect();
        assert!(examples.len() >= 3, "{examples:?}");
        for words in examples {
            if let Err(e) = Args::try_parse_from(&words) {
                panic!("{words:?} does not parse: {e}");
            }
        }
    }
}
