//! vg-filter: Valgrind Memcheck logs (text or XML) in, the records that touch your code out.

use anyhow::Context;
use clap::Parser;
use dbgpipe_core::cli::{self, NoProject, Outcome, ProjectArgs};
use dbgpipe_core::memcheck::filter::{FailOn, Filter, Options};
use dbgpipe_core::memcheck::{print, suppressions};
use dbgpipe_core::output::{Format, Sink};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
INPUT:
  Memcheck text logs (`==PID==` prefixed, as written to stderr or --log-file, or without the
  prefix) and --xml=yes output (protocols 4, 5, 6), told apart by their first bytes. Logs of
  several processes interleaved in one stream (--trace-children=yes) are assembled per PID.
  Valgrind prints source base names only; run it with --fullpath-after= (empty) so that
  `--project` without a pattern can tell your files from the interpreter's by their path.
  vg-filter's own JSON lines are read back: their records are filtered again (this run's
  --project and --suppressions) and merged, so shard outputs merge into one report and
  --format converts an output without rerunning Valgrind. A shared object or other binary
  input is refused; an input with nothing of Valgrind's in it gets a note on stderr.
  Logs pasted into bug reports read like the original: indented, quoted (> ), fenced,
  hard-wrapped, with damaged ==PID== prefixes or none, cut short.

OUTPUT (jsonl, the default; schema 2, see SCHEMA.md):
  {\"type\":\"error\",\"kind\":\"Leak_DefinitelyLost\",\"count\":2,\"pids\":[41],\"what\":\"64 bytes in 1
   blocks are definitely lost in loss record 3 of 9\",\"bytes\":128,…,\"project_frame\":{\"aux\":null,
   \"index\":1,\"addr\":…,\"function\":\"leak_definite\",\"file\":\"…/dbgpipe_example.c\",\"line\":30,
   \"object\":…},\"stack\":[{\"addr\":…,\"function\":…,\"file\":…,\"line\":…,\"object\":…}],
   \"aux\":[{\"what\":…,\"stack\":[…]}],\"inputs\":[…]}
  one per distinct record (same kind and function frames: merged, bytes summed), then a
  {\"type\":\"fatal_signal\",\"signal\":\"SIGSEGV\",…,\"stack\":[…]} per process killed by a signal and a
  {\"type\":\"valgrind_panic\",…} per failure of Valgrind itself, then
  {\"type\":\"summary\",\"tool\":\"vg-filter\",\"schema\":2,\"records\":N,\"kept\":K,\"suppressed\":S,
   \"not_project\":P,…} where N = K + S + P, and unparsed_lines, truncated_records, long_lines
  and dropped_frames count what was passed over. csv writes one row per record and the
  summary line to stderr; text is a short report; sarif writes SARIF 2.1.0 located at each
  record's project frame.

MODULE INIT:
  An extension's module init allocates what the module uses for as long as it is loaded
  (exception types, tables, its state), and CPython never unloads extensions: Memcheck
  reports those blocks at exit. A Leak_PossiblyLost, Leak_IndirectlyLost or
  Leak_StillReachable record whose allocation stack passes through module init (a frame
  PyInit_<name>, or, for multi-phase init, the frame that CPython's PyModule_ExecDef calls:
  the Py_mod_exec slot) is kept and shown, marked \"module_init\":true (text: \"(module init)\"),
  counted in the summary's module_init, and does not fail the run; --fail-on ModuleInit
  makes it fail again. A block definitely lost in init is a leak and fails as any other.

FINGERPRINTS AND BASELINE:
  Every error record carries a \"fingerprint\": 16 hex digits that identify the defect across
  runs, machines, checkout paths and merges (FNV-1a 64 over the kind and, for the frames from
  the top of the main stack through its first project frame and the project frames right
  below it, at most 2, each function name (else object file name); the whole stack when no
  frame is the project's; no addresses, lines, files, PIDs or directories).
  SARIF carries it in partialFingerprints (dbgpipe/v1). --baseline FILE compares with an
  earlier run's JSON lines (what a project checks in instead of a generated suppression
  file): each kept record gets \"baseline\":\"new\" or \"known\" (known ones never fail),
  new ones come first, and each baseline record this run does not keep is written as
  {\"type\":\"fixed\",\"fingerprint\":…,\"kind\":…,…} before the summary (new, known, fixed).

HINTS (one line on stderr per log, counted in the summary's hints; exit status unchanged):
  With --project, vg-filter says when the log hides project frames from it:
  LOG: frames name source files without directories, so --project=PATTERN sees only file
    names; rerun valgrind with --fullpath-after= (or use --project --root DIR)
      every frame that names a file names it without a directory (Valgrind run without
      --fullpath-after=) and no frame matched. With --project alone, said only when the
      root holds no source file to look the names up in.
  LOG: N records were cut at L frames with no project frame in them; rerun valgrind with
    --num-callers=M
      records of no project frame whose stack is exactly L code addresses deep (inlined
      frames share one), L being --num-callers as the XML's <args> or a -v text log states
      it (12 when they list the options without it), else the depth of the deepest stacks
      when at least two reach it. Counted in the summary's cut_at_depth.

EXAMPLES:
  valgrind --leak-check=full --fullpath-after= python3.11-dbg t.py 2>&1 | vg-filter --project
  vg-filter --format sarif shard-1.jsonl shard-2.jsonl > memcheck.sarif
  vg-filter --project=native-core.so --suppressions suppressions/python3.11-dbg.supp vg.*.log
  vg-filter --format text --project=mymod vg.xml
  vg-filter --project --fail-on ModuleInit vg.log
  vg-filter --project --baseline memcheck-baseline.jsonl vg.*.log
  valgrind --leak-check=full python3.11-dbg -c pass 2>&1 | vg-filter --gen-suppressions > base.supp

LIMITS (memory stays bounded whatever the input; the summary counts each cut):
  lines over 1 MiB are cut (long_lines); stacks over 500 frames (dropped_frames); records
  with over 100 auxiliary descriptions (dropped_aux, their frames in dropped_frames); at most
  10000 processes' records are assembled at once (past it, finished processes are let go,
  and if all have a record open, those are closed as cut: truncated_records). Suppression
  files over 64 MiB are refused.

EXIT STATUS:
  0  no record kept (or none of the --fail-on kinds, or with --baseline none new)
  1  records kept: findings (Leak_StillReachable and module-init allocations do not count
     unless --fail-on names them, nor with --baseline the known ones), or a fatal signal
     or Valgrind failure reported
  2  bad usage, an unreadable input or a malformed suppression file or XML log
  A closed stdout (| head) ends quietly with status 0.";

/// Keeps the Valgrind Memcheck records that touch your code.
#[derive(Parser, Debug)]
#[command(name = "vg-filter", version, after_help = AFTER_HELP, max_term_width = 100)]
struct Args {
    /// Logs (text or XML) or vg-filter's own JSON lines; none or `-` reads standard input.
    #[arg(value_name = "LOG")]
    inputs: Vec<PathBuf>,

    #[command(flatten)]
    project: ProjectArgs,

    /// Valgrind suppression file to apply. Repeatable.
    #[arg(long = "suppressions", value_name = "FILE")]
    suppressions: Vec<PathBuf>,

    /// Also list the suppressed records (type "suppressed").
    #[arg(long)]
    show_suppressed: bool,

    /// Write a suppression file covering the records that are not the project's instead of
    /// the report (to FILE, or stdout when no FILE is given).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "-")]
    gen_suppressions: Option<String>,

    /// Name prefix of generated suppressions.
    #[arg(long, value_name = "NAME", default_value = "vg-filter")]
    supp_name: String,

    /// Output format.
    #[arg(long, value_parser = Format::parser(&[Format::Jsonl, Format::Csv, Format::Text, Format::Sarif]), default_value = "jsonl")]
    format: Format,

    /// Kinds whose kept records give exit status 1, comma separated: Valgrind's kind names
    /// (InvalidRead, Leak_DefinitelyLost, …), Unknown, FatalSignal, ValgrindPanic or `all`;
    /// ModuleInit makes module-init allocations of those kinds (of the default ones when it
    /// is alone) fail too [default: all but Leak_StillReachable, module init excluded]
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    fail_on: Option<Vec<String>>,

    /// Compare with a baseline of known findings: an earlier run's JSON lines (or a log read
    /// the same way). Kept records are marked `new` or `known`, only new ones fail, and the
    /// baseline's records this run does not keep are written as `fixed` lines.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,

    /// Do not merge identical records.
    #[arg(long)]
    no_merge: bool,

    /// Flush output after every line.
    #[arg(long)]
    line_buffered: bool,

    /// Threads that read a log, text or XML: it is cut into pieces between records, read N
    /// at a time, and the output is the same as with 1 [default: the number of cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

/// A printer that writes nothing: the baseline's own records are read, not shown.
struct Discard;

impl dbgpipe_core::output::Printer<dbgpipe_core::memcheck::records::Record> for Discard {
    fn record(&mut self, _: &dbgpipe_core::memcheck::records::Record) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn main() -> ExitCode {
    cli::main("vg-filter", || run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<Outcome> {
    cli::check_project_spacing(&std::env::args_os().collect::<Vec<_>>())?;
    let fail_on = match &args.fail_on {
        Some(kinds) => FailOn::parse(kinds)?,
        None => FailOn::Default,
    };
    let root = args.project.root()?;
    let mut supps = Vec::new();
    for path in &args.suppressions {
        let name = path.display().to_string();
        let text = dbgpipe_core::input::read_file_capped(path, suppressions::MAX_FILE)?;
        supps.extend(suppressions::parse(&name, &String::from_utf8_lossy(&text))?);
    }
    let jobs = match args.jobs {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let root_text = std::fs::canonicalize(&root)
        .unwrap_or(root)
        .to_string_lossy()
        .into_owned();
    // The baseline is read as this run is: same project, suppressions and merging, so that
    // the same records get the same fingerprints.
    let baseline = match &args.baseline {
        Some(path) => {
            let mut earlier = Filter::new(Options {
                project: args.project.project(NoProject::Everything)?,
                suppressions: supps.clone(),
                show_suppressed: false,
                fail_on: fail_on.clone(),
                merge: !args.no_merge,
                gen_suppressions: false,
            });
            earlier.set_jobs(jobs);
            let input = cli::open_input(path)?;
            earlier.read(&input.name, input.reader, &mut Discard)?;
            Some(earlier.into_baseline())
        }
        None => None,
    };
    let mut filter = Filter::new(Options {
        project: args.project.project(NoProject::Everything)?,
        suppressions: supps,
        show_suppressed: args.show_suppressed,
        fail_on,
        merge: !args.no_merge,
        gen_suppressions: args.gen_suppressions.is_some(),
    });
    filter.set_jobs(jobs);
    if let Some(baseline) = baseline {
        filter.set_baseline(baseline);
    }
    let stdout = io::stdout();
    let mut out = print::printer(
        args.format,
        Sink::new(stdout.lock(), args.line_buffered),
        Box::new(io::stderr()),
        args.line_buffered,
        Some(root_text),
    );
    let inputs = cli::open_inputs(&args.inputs)?;
    filter.read_all(inputs, out.as_mut(), &mut |note| {
        eprintln!("vg-filter: {note}")
    })?;
    if let Some(dest) = &args.gen_suppressions {
        let text = filter.generated_suppressions(&args.supp_name);
        if dest == "-" {
            drop(out);
            let mut stdout = stdout.lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
            return Ok(Outcome::Clean);
        }
        std::fs::write(dest, text).with_context(|| format!("writing {dest}"))?;
    }
    let summary = filter.finish(out.as_mut())?;
    Ok(if summary.failing > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

#[cfg(test)]
mod tests {
    /// The flags are consistent, and every documented example parses with them.
    #[test]
    fn help_is_true() {
        dbgpipe_core::cli::assert_help_is_true::<super::Args>("vg-filter", &[super::AFTER_HELP], 4);
    }
}
