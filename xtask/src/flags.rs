//! Every flag of every task, declared once (as ripgrep's `flags/defs.rs` does): the top-level
//! parser with one subcommand per task, and the options several tasks share as `clap::Args`
//! structs flattened into each task that takes them, so that `--python=PATH`, `--root DIR`
//! or `-- CMD…` mean and parse the same everywhere.
//!
//! The help texts are the tasks' specification: what each does, what it leaves, and its exit
//! status. A test parses every EXAMPLES line of every task (and the README's commands).

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;

use crate::bench::Section;

/// The execution-place rule, the same for every recipe (see [`crate::place`]).
macro_rules! where_it_runs {
    () => {
        "WHERE IT RUNS:
  --host        on this machine; what it lacks is an error naming the package
  --image TAG   inside that image (run-in-image, the checkout mounted at its own path)
  (neither)     here when this machine has what the recipe needs, else inside the debug
                image when a container engine answers ($DBGPIPE_IMAGE, else the default
                recipe's tag, else the newest local dbgpipe/python-dbg:3.11-*, else
                `dbg-image build` makes it); when neither can, one line says what is missing."
    };
}

/// The last line of every task's EXIT STATUS.
macro_rules! could_not_run {
    () => {
        "  2  bad usage, or the task could not run (one line on stderr says why)"
    };
}

/// `cargo xtask TASK`: dbgpipe's recipes and project tasks.
#[derive(Parser, Debug)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "dbgpipe's recipes (the tools chained on your program or the bundled example) and \
             project tasks",
    long_about = "dbgpipe's recipes (the tools chained on your program or the bundled example) \
                  and project tasks. Each recipe runs on the bundled example when given no \
                  command, ends with a short summary, and leaves the tools' JSON lines in \
                  target/dbgpipe/<task>/. `cargo xtask TASK --help` says what a task does, \
                  what it leaves and how it exits.",
    after_help = concat!(
        "EXAMPLES:
  cargo xtask demo
  cargo xtask memcheck -- python3.11-dbg -m pytest tests/
  cargo xtask segv --help

EXIT STATUS:
  0  clean: nothing found
  1  findings (records kept, a leak, a crash)
",
        could_not_run!()
    ),
    subcommand_value_name = "TASK",
    subcommand_help_heading = "Tasks",
    max_term_width = 100,
    arg_required_else_help = true
)]
pub struct Flags {
    /// The task.
    #[command(subcommand)]
    pub task: Task,
}

/// One subcommand per task, in the order `cargo xtask --help` lists them.
#[derive(Subcommand, Debug)]
pub enum Task {
    /// Run every recipe on the bundled example and check that each finds what it plants
    ///
    /// Runs every recipe on the bundled example and checks that each finds exactly what the
    /// example plants and nothing in its clean function: memcheck (the eight planted records),
    /// refs (refleak leaks references), rss (leak_definite grows), memray (leak_definite leaks
    /// native memory and the flamegraph names it), segv (crash_null dies in dbgpipe_store,
    /// with the same signature in two runs; the C++ example's crash_map in dbgpipe::insert),
    /// suppressions (the shipped baseline hid every interpreter record; one generated afresh
    /// from clean's logs, into target/, hides the defects run's interpreter records and keeps
    /// the planted ones). A step that cannot run is reported in its row; the others still run.
    #[command(after_help = concat!(
        "OUTPUTS:
  stdout                 each recipe's summary, then a table: step, where, time, ok, found
  target/dbgpipe/<task>/ each recipe's files (see its --help)

",
        where_it_runs!(),
        "

EXAMPLES:
  cargo xtask demo
  cargo xtask demo --image TAG

EXIT STATUS:
  0  every step found exactly what the example plants
  1  a step found something else
  2  bad usage, or a step could not run"
    ))]
    Demo(Demo),

    /// valgrind (PYTHONMALLOC=malloc, one log per process) | vg-filter --project
    ///
    /// Runs CMD (default: the bundled example's planted defects, run.py all-defects, on the
    /// debug interpreter or --python) under Valgrind Memcheck with PYTHONMALLOC=malloc,
    /// --leak-check=full, --trace-children=yes and one log per process, then keeps the records
    /// that touch the project (vg-filter --project: a frame under --root) and names each at its
    /// source line. Suppression files go to vg-filter, which counts what each one hides; the
    /// bundled example's run applies the shipped baseline for its interpreter
    /// (suppressions/<python>.supp) unless --suppressions is given. valgrind prints a progress
    /// line every 10 s.
    #[command(after_help = concat!(
        "OUTPUTS:
  target/dbgpipe/memcheck/vg.<pid>.log   valgrind's log, one per process
  target/dbgpipe/memcheck/records.jsonl  vg-filter's JSON lines: the kept records, the summary
  stdout                                 one line per kept record, then the counts

",
        where_it_runs!(),
        "

EXAMPLES:
  cargo xtask memcheck
  cargo xtask memcheck -- python3.11-dbg -m pytest tests/
  cargo xtask memcheck --suppressions my.supp --root src -- python3.11-dbg t.py

EXIT STATUS:
  0  no record kept (Leak_StillReachable alone does not count, as for vg-filter)
  1  records kept
",
        could_not_run!()
    ))]
    Memcheck(Memcheck),

    /// Reference-count leaks: rss-rounds run on the debug interpreter, per MODULE:FN
    ///
    /// Judges each MODULE:FN on its own (one process each) with `rss-rounds run` on the debug
    /// interpreter (default python3.11-dbg, which has sys.gettotalrefcount): the harness
    /// measures its own noise, calls the function in rounds, and a trend test decides per
    /// series (refs, blocks, fds, rss_kib) whether it leaks. Default: the bundled example's
    /// refleak and clean, with PYTHONPATH set to its build directory; otherwise make MODULE
    /// importable yourself (PYTHONPATH, which is passed on into the image).
    #[command(after_help = concat!(
        "OUTPUTS:
  target/dbgpipe/refs/<MODULE.FN>.jsonl  rss-rounds' rounds, verdicts and summary
  stdout                                 a line per workload: LEAK and the growing series

",
        where_it_runs!(),
        "

EXAMPLES:
  cargo xtask refs
  PYTHONPATH=build cargo xtask refs mymod.tests:roundtrip
  cargo xtask refs --rounds 200 --calls 10 --python=/usr/bin/python3.11-dbg mymod:f mymod:g

EXIT STATUS:
  0  nothing leaks
  1  a function leaks
",
        could_not_run!()
    ))]
    Refs(Refs),

    /// RSS in rounds: rss-rounds watch --plot
    ///
    /// Runs CMD under `rss-rounds watch`: the RSS of its process tree is sampled at each line
    /// that ends a round (`Round N ...`, as leak-test scripts print), or every 100 ms without
    /// such lines, and each series is judged with a trend test and plotted. Default: the
    /// bundled example's rounds.py with leak_definite and with clean (100 rounds of 2000 calls
    /// each) on the debug interpreter (or --python), each judged on its own.
    #[command(after_help = concat!(
        "OUTPUTS:
  target/dbgpipe/rss/<name>.jsonl  rss-rounds' rounds, verdicts and summary (name: the
                                   function, or `command`)
  target/dbgpipe/rss/<name>.svg    the plot
  stdout                           a line per run: LEAK and the growth, or no leak

",
        where_it_runs!(),
        "

EXAMPLES:
  cargo xtask rss
  cargo xtask rss -- python3.11 scripts/leak_test.py --iterations 1000

EXIT STATUS:
  0  nothing leaks
  1  a run leaks
",
        could_not_run!()
    ))]
    Rss(Rss),

    /// Native leaks: memray run --native, the --leaks flamegraph, the leaking functions
    ///
    /// Runs the script under `memray run --native --trace-python-allocators`, writes the
    /// `memray flamegraph --leaks` HTML, and names the functions that leaked native memory:
    /// each leaked allocation goes to the native function that asked for it (the allocator's
    /// caller, past operator new, std:: allocators and strdup), which is the project's when its
    /// source lies under --root. Default: the bundled example's run.py with leak_definite and
    /// with clean (100 calls each). CMD is `[python] SCRIPT ARGS...` or `-m MODULE ARGS...`.
    ///
    /// memray's wheels load only into the release interpreter /usr/bin/python3.11 (not
    /// python3.11-dbg): memray runs from a venv of it, target/dbgpipe/venv, made with
    /// `python3.11 -m venv` and `pip install memray==1.20.0` on first use (pip gets --cert
    /// /etc/ssl/certs/ca-certificates.crt unless PIP_CERT is set, for TLS-intercepting
    /// proxies); the script runs with that interpreter, so a leading `python...` in CMD is
    /// dropped and your packages must be importable from it (PYTHONPATH).
    #[command(after_help = concat!(
        "OUTPUTS:
  target/dbgpipe/memray/<name>.bin          memray's capture (name: the function, or `command`)
  target/dbgpipe/memray/<name>.html         the --leaks flamegraph
  target/dbgpipe/memray/<name>.leaks.jsonl  leak sites, largest first, then a summary
  stdout                                    per run the project's leaking functions

",
        where_it_runs!(),
        "

EXAMPLES:
  cargo xtask memray
  cargo xtask memray -- python3.11 t.py
  cargo xtask memray --root . -- -m pytest tests/

EXIT STATUS:
  0  no project function leaks
  1  one does
",
        could_not_run!()
    ))]
    Memray(Memray),

    /// Crashes: gdb -batch -ex run -ex bt | bt-demangle; ptrace-fix when gdb is refused
    ///
    /// Runs CMD under `gdb -batch -ex run -ex bt`, keeps gdb's output, and pipes it through
    /// `bt-demangle --root`: JSON lines (frames, the crash with its signal and signature) and
    /// the readable report (names demangled and simplified, interpreter frames folded, the
    /// frames under --root marked as the project's). When gdb's output shows ptrace refused,
    /// `ptrace-fix` explains why and how to allow it. Default: the bundled example's
    /// crash_null (SIGSEGV in dbgpipe_store) and the C++ example's crash_map (inside
    /// std::unordered_map), on the debug interpreter (or --python); crash_map is left out,
    /// with a line saying why, without a C++ compiler. Inside the image gdb runs with
    /// run-in-image --ptrace.
    #[command(after_help = concat!(
        "OUTPUTS:
  target/dbgpipe/segv/<name>.gdb.txt       gdb's output (name: the function, or `command`)
  target/dbgpipe/segv/<name>.jsonl         bt-demangle's records
  target/dbgpipe/segv/<name>.txt           bt-demangle's text report
  target/dbgpipe/segv/<name>.ptrace.jsonl  ptrace-fix's reading of gdb's output
  stdout                                   the reports, then a line per run

",
        where_it_runs!(),
        "

EXAMPLES:
  cargo xtask segv
  cargo xtask segv --root . -- python3.11-dbg -m pytest tests/test_crash.py

EXIT STATUS:
  0  no crash
  1  a crash
  2  bad usage, or the task could not run, gdb refused included (ptrace-fix says why)"
    ))]
    Segv(Segv),

    /// Build and run the parsers' cargo-fuzz targets, two at a time
    ///
    /// Builds the cargo-fuzz targets in fuzz/ (`cargo +nightly fuzz build`; needs nightly and
    /// cargo-fuzz), seeds them afresh from tests/fixtures and tests/data (large logs cut at
    /// line ends into 64 KiB pieces) and fuzz/seeds/TARGET/, then runs them --jobs at a time
    /// for --seconds each. Each target checks invariants of its parser, not only that it does
    /// not panic.
    #[command(after_help = concat!(
        "OUTPUTS:
  stdout                          per target: seconds, executions, per second, corpus size,
                                  peak RSS and the crashes written
  fuzz/corpus/TARGET/             what libFuzzer found, kept from run to run (not committed)
  fuzz/artifacts/TARGET/          crashes, timeouts, OOMs
  target/dbgpipe/fuzz/TARGET.log  libFuzzer's output

EXAMPLES:
  cargo xtask fuzz --seconds 60 gdb rounds
  cargo xtask fuzz --seconds=600 --jobs 1

EXIT STATUS:
  0  no crash
  1  a target crashed (each crash becomes a unit test with its input)
",
        could_not_run!()
    ))]
    Fuzz(Fuzz),

    /// Regenerate the baseline suppression files suppressions/<interpreter>.supp
    ///
    /// Runs each interpreter (default: python3.11-dbg and /usr/bin/python3.11, where
    /// installed) on the example's clean entry point, or on CMD, under Memcheck on this
    /// machine, and writes the records that are not the project's (under --root) as
    /// suppressions/<interpreter>.supp (vg-filter --gen-suppressions, each entry cut to the
    /// frames that identify the interpreter's own caller), which `cargo xtask memcheck` then
    /// applies for that interpreter.
    #[command(after_help = concat!(
        "OUTPUTS:
  suppressions/<interpreter>.supp          the baseline
  target/dbgpipe/suppressions-<interpreter>/  memcheck's logs and records of the run
  stdout                                   a line per file: its path, entries and size

EXAMPLES:
  cargo xtask suppressions
  cargo xtask suppressions --python /usr/bin/python3.11-dbg --python=/usr/bin/python3.11

EXIT STATUS:
  0  written
",
        could_not_run!()
    ))]
    Suppressions(Suppressions),

    /// Time the tools against grep, c++filt and ValgrindCI; write BENCHMARKS.md
    ///
    /// Times the release builds of vg-filter, bt-demangle and rss-rounds against the tools
    /// people use instead, on the same generated inputs (cached under
    /// target/dbgpipe/bench/inputs/), prints a table of medians and ratios and writes
    /// BENCHMARKS.md at the root (the full run takes about a quarter of an hour on 2 cores,
    /// most of it ValgrindCI; the inputs take about 3 GB of disk). Needs grep, binutils (nm,
    /// c++filt), GNU time (peak RSS), python3 with venv, and valgrind for profiles. Speed is
    /// reported, never asserted.
    #[command(after_help = concat!(
        "OUTPUTS:
  stdout                                    the table
  BENCHMARKS.md                             the report (--quick:
                                            target/dbgpipe/bench/quick/BENCHMARKS.md)
  stderr                                    the cross-checks that disagree

EXAMPLES:
  cargo xtask bench
  cargo xtask bench --quick
  cargo xtask bench --only vg,bt --runs 3 --no-valgrindci

EXIT STATUS:
  0  the bench ran and every cross-check agrees (the same input gave the same answer in
     every mode, format and peer)
  1  a cross-check disagrees (listed on stderr and in the report)
",
        could_not_run!()
    ))]
    Bench(Bench),

    /// The debug-interpreter image: dbg-image build, or regenerate docker/Dockerfile.*
    ///
    /// Builds the debug-interpreter image with `dbg-image build ARGS` (e.g. --python 3.11,
    /// --base dbgpipe/debootstrap:bookworm, --force; see `dbg-image build --help`), printing
    /// its JSON record. --regenerate rewrites docker/Dockerfile.debian and
    /// docker/Dockerfile.source from the template (`dbg-image dockerfile --from debian`,
    /// `--from source`) instead; a test checks they still match it.
    #[command(after_help = concat!(
        "OUTPUTS:
  stdout  dbg-image build's record (the engine's progress goes to stderr)

EXAMPLES:
  cargo xtask image
  cargo xtask image --base dbgpipe/debootstrap:bookworm
  cargo xtask image --regenerate

EXIT STATUS (dbg-image's):
  0  the image is there and passed its check (--regenerate: the files were written)
  1  the image failed its check (the record's problems say why)
",
        could_not_run!()
    ))]
    Image(Image),

    /// Build the bundled example extensions for an interpreter and print their paths
    ///
    /// Builds examples/dbgpipe_example (C) and examples/dbgpipe_cpp (C++, with -g) against
    /// the headers of the interpreter PATH (default: python3.11-dbg) into
    /// target/dbgpipe/example/<interpreter>/, rebuilding only when a source is newer, and
    /// prints the modules' paths. The example's run.py looks there by default, or in
    /// $DBGPIPE_EXAMPLE_DIR.
    #[command(after_help = concat!(
        "OUTPUTS:
  target/dbgpipe/example/<interpreter>/  the built modules (their paths on stdout)

EXAMPLES:
  cargo xtask example
  cargo xtask example --python=/usr/bin/python3.11

EXIT STATUS:
  0  built
",
        could_not_run!()
    ))]
    Example(Example),
}

impl Task {
    /// The task's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Task::Demo(_) => "demo",
            Task::Memcheck(_) => "memcheck",
            Task::Refs(_) => "refs",
            Task::Rss(_) => "rss",
            Task::Memray(_) => "memray",
            Task::Segv(_) => "segv",
            Task::Fuzz(_) => "fuzz",
            Task::Suppressions(_) => "suppressions",
            Task::Bench(_) => "bench",
            Task::Image(_) => "image",
            Task::Example(_) => "example",
        }
    }

    /// The trailing command of the tasks that take one.
    pub fn command(&self) -> Option<&Command> {
        match self {
            Task::Memcheck(f) => Some(&f.command),
            Task::Rss(f) => Some(&f.command),
            Task::Memray(f) => Some(&f.command),
            Task::Segv(f) => Some(&f.command),
            Task::Suppressions(f) => Some(&f.command),
            Task::Demo(_)
            | Task::Refs(_)
            | Task::Fuzz(_)
            | Task::Bench(_)
            | Task::Image(_)
            | Task::Example(_) => None,
        }
    }
}

impl Flags {
    /// This process's command line; a usage error exits with status 2 and `--help` with 0,
    /// as clap does.
    pub fn from_env() -> Flags {
        Flags::from_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// `args` (with the program's name first), parsed.
    ///
    /// One rule clap cannot say: a `--` must be followed by a command. A bare one is a
    /// mistake (an empty `$CMD`, say), not a request for the bundled example.
    pub fn from_args<I, T>(args: I) -> Result<Flags, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let flags = Flags::try_parse_from(&args)?;
        let bare = args.last().is_some_and(|a| a == "--");
        if bare && flags.task.command().is_some_and(|c| c.argv.is_empty()) {
            let mut command = Flags::command();
            command.build();
            let task = command
                .find_subcommand_mut(flags.task.name())
                .expect("every task is a subcommand");
            return Err(task.error(
                ErrorKind::InvalidValue,
                "`--` needs a command after it (without `--`, the task runs the bundled example)",
            ));
        }
        Ok(flags)
    }
}

// ---------------------------------------------------------------------------------------
// Shared options: each defined once, flattened into the tasks that take it.

/// `--host` | `--image TAG`: where a recipe runs (see [`crate::place`]).
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceOpts {
    /// Run on this machine; what it lacks is an error naming its Debian package
    #[arg(long, conflicts_with = "image")]
    pub host: bool,

    /// Run inside this image, through run-in-image (the checkout mounted at its own path)
    #[arg(long, value_name = "TAG")]
    pub image: Option<String>,
}

/// `--python PATH`: the interpreter.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Python {
    /// The Python interpreter [default: python3.11-dbg, found here, or the image's]
    #[arg(long = "python", id = "python", value_name = "PATH")]
    pub path: Option<PathBuf>,
}

/// `--python PATH`, repeatable.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Pythons {
    /// An interpreter to make a baseline for (repeatable) [default: python3.11-dbg and
    /// /usr/bin/python3.11, where installed]
    #[arg(long = "python", id = "python", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// `--root DIR`: which code is the project's.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Root {
    /// The project's root: frames whose source or object lies under it are the project's
    /// [default: the current directory for CMD, the dbgpipe checkout for the bundled example]
    #[arg(long = "root", id = "root", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `--suppressions FILE`, repeatable.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct SuppressionFiles {
    /// A Valgrind suppression file, applied by vg-filter (repeatable) [default: the shipped
    /// baseline of the example's interpreter, for the bundled example]
    #[arg(long = "suppressions", id = "suppressions", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `-- CMD…`: the user's program and its arguments, everything after `--`.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// The program to run and its arguments, after `--` [default: the bundled example]
    #[arg(id = "command", value_name = "CMD", last = true, num_args = 1..)]
    pub argv: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// The tasks' own flags.

/// `cargo xtask demo`.
#[derive(Args, Debug, Clone, Default)]
pub struct Demo {
    /// Where the recipes run.
    #[command(flatten)]
    pub place: PlaceOpts,
}

/// `cargo xtask memcheck`.
#[derive(Args, Debug, Clone, Default)]
pub struct Memcheck {
    /// Where valgrind runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The interpreter of the bundled example.
    #[command(flatten)]
    pub python: Python,
    /// The project, for vg-filter --project.
    #[command(flatten)]
    pub root: Root,
    /// Suppression files.
    #[command(flatten)]
    pub suppressions: SuppressionFiles,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `cargo xtask refs`.
#[derive(Args, Debug, Clone)]
pub struct Refs {
    /// Where rss-rounds runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The interpreter of the harness.
    #[command(flatten)]
    pub python: Python,
    /// Measured rounds (rss-rounds' --rounds)
    #[arg(long, value_name = "N", default_value_t = crate::refs::DEFAULT_ROUNDS, value_parser = positive::<u32>)]
    pub rounds: u32,
    /// Calls of the function per round (rss-rounds' --calls)
    #[arg(long, value_name = "N", default_value_t = crate::refs::DEFAULT_CALLS, value_parser = positive::<u32>)]
    pub calls: u32,
    /// A function to judge, as MODULE:FN (e.g. mymod.tests:roundtrip) [default: the bundled
    /// example's refleak and clean]
    #[arg(value_name = "MODULE:FN", value_parser = module_fn)]
    pub targets: Vec<String>,
}

/// `cargo xtask rss`.
#[derive(Args, Debug, Clone, Default)]
pub struct Rss {
    /// Where rss-rounds watch runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The interpreter of the bundled example.
    #[command(flatten)]
    pub python: Python,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `cargo xtask memray`.
#[derive(Args, Debug, Clone, Default)]
pub struct Memray {
    /// Where memray runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The project, for the leak sites.
    #[command(flatten)]
    pub root: Root,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `cargo xtask segv`.
#[derive(Args, Debug, Clone)]
pub struct Segv {
    /// Where gdb runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The interpreter of the bundled examples.
    #[command(flatten)]
    pub python: Python,
    /// The project, for bt-demangle --root.
    #[command(flatten)]
    pub root: Root,
    /// Another debugger binary, which prints what gdb prints
    #[arg(long, value_name = "PATH", default_value = "gdb")]
    pub gdb: PathBuf,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `cargo xtask fuzz`.
#[derive(Args, Debug, Clone)]
pub struct Fuzz {
    /// Seconds each target runs
    #[arg(long, value_name = "N", default_value_t = crate::fuzz::DEFAULT_SECONDS, value_parser = positive::<u64>)]
    pub seconds: u64,
    /// Targets run at the same time
    #[arg(long, value_name = "N", default_value_t = crate::fuzz::DEFAULT_JOBS, value_parser = positive::<usize>)]
    pub jobs: usize,
    /// The targets to run [default: all]
    #[arg(
        value_name = "TARGET",
        value_parser = clap::builder::PossibleValuesParser::new(crate::fuzz::TARGETS)
    )]
    pub targets: Vec<String>,
}

/// `cargo xtask suppressions`.
#[derive(Args, Debug, Clone, Default)]
pub struct Suppressions {
    /// The interpreters.
    #[command(flatten)]
    pub pythons: Pythons,
    /// The project, whose records are never suppressed.
    #[command(flatten)]
    pub root: Root,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `cargo xtask bench`.
#[derive(Args, Debug, Clone, Default)]
pub struct Bench {
    /// Tiny inputs, one run per command, no PyPI; writes
    /// target/dbgpipe/bench/quick/BENCHMARKS.md (proves the bench works, times nothing)
    #[arg(long)]
    pub quick: bool,
    /// Timed runs per command [default: 5, --quick 1; ValgrindCI at most 3]
    #[arg(long, value_name = "N", value_parser = positive::<usize>)]
    pub runs: Option<usize>,
    /// Only these jobs, comma separated [default: all]
    #[arg(long, value_name = "LIST", value_enum, value_delimiter = ',')]
    pub only: Vec<Section>,
    /// Write the report there instead
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Leave ValgrindCI out (it is installed from PyPI into target/dbgpipe/venv-bench)
    #[arg(long)]
    pub no_valgrindci: bool,
    /// Profile with callgrind even where the targets are met
    #[arg(long)]
    pub profile: bool,
    /// Time the tool binaries in DIR instead of building them in release mode
    #[arg(long, value_name = "DIR")]
    pub bins: Option<PathBuf>,
}

/// `cargo xtask image`.
#[derive(Args, Debug, Clone, Default)]
pub struct Image {
    /// Rewrite docker/Dockerfile.debian and docker/Dockerfile.source from the template
    #[arg(long, conflicts_with = "build_args")]
    pub regenerate: bool,
    /// Arguments for `dbg-image build` (--python X.Y, --base IMAGE, --force, …)
    #[arg(
        id = "build_args",
        value_name = "BUILD-ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub build_args: Vec<String>,
}

/// `cargo xtask example`.
#[derive(Args, Debug, Clone, Default)]
pub struct Example {
    /// The interpreter to build for.
    #[command(flatten)]
    pub python: Python,
}

/// A number above zero.
fn positive<T>(s: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + Default,
    T::Err: Display,
{
    match s.parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        Ok(_) => Err("a number above 0".into()),
        Err(e) => Err(format!("{e}")),
    }
}

/// A workload, `MODULE:FN`.
fn module_fn(s: &str) -> Result<String, String> {
    match s.split_once(':') {
        Some((module, function)) if !module.is_empty() && !function.is_empty() => Ok(s.to_string()),
        _ => Err("a workload is MODULE:FN (e.g. mymod.tests:roundtrip)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `cargo xtask ARGS`, parsed.
    fn parse(line: &str) -> Result<Flags, clap::Error> {
        let words = line.split_whitespace().skip_while(|w| *w != "xtask");
        Flags::from_args(words)
    }

    fn task(line: &str) -> Task {
        match parse(line) {
            Ok(flags) => flags.task,
            Err(e) => panic!("`{line}` does not parse: {e}"),
        }
    }

    /// The usage errors are clap's, with its exit status 2.
    fn refused(line: &str) -> String {
        match parse(line) {
            Ok(flags) => panic!("`{line}` parses: {flags:?}"),
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "`{line}`: {e}");
                e.to_string()
            }
        }
    }

    /// The `cargo xtask …` lines under EXAMPLES: in `help`, without leading `VAR=value`s.
    fn examples(help: &str) -> Vec<String> {
        help.lines()
            .skip_while(|l| !l.starts_with("EXAMPLES:"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let start = words.iter().position(|w| *w == "cargo").unwrap_or(0);
                words[start..].join(" ")
            })
            .collect()
    }

    #[test]
    fn the_flags_are_consistent_and_every_task_documents_itself() {
        Flags::command().debug_assert();
        let command = Flags::command();
        let top = command.get_after_help().unwrap().to_string();
        let mut lines = examples(&top);
        for sub in command.get_subcommands() {
            let name = sub.get_name();
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            for section in ["OUTPUTS:", "EXAMPLES:", "EXIT STATUS"] {
                assert!(help.contains(section), "{name}'s help has no {section}");
            }
            assert!(sub.get_long_about().is_some(), "{name} says what it does");
            let arg = |id: &str| sub.get_arguments().any(|a| a.get_id() == id);
            // Every recipe that may run in the image says how the place is chosen.
            assert_eq!(arg("host"), help.contains("WHERE IT RUNS:"), "{name}");
            // Every task that runs the user's code and tells the project's frames apart
            // takes --root.
            if arg("command") {
                assert!(
                    arg("root") || ["rss"].contains(&name),
                    "{name} has no --root"
                );
            }
            let mine = examples(&help);
            assert!(!mine.is_empty(), "{name} has no examples");
            assert!(
                mine.iter()
                    .all(|l| l.starts_with(&format!("cargo xtask {name}"))),
                "{mine:?}"
            );
            lines.extend(mine);
        }
        // The help names the memray release the venv gets, which is a constant elsewhere.
        let memray = command.find_subcommand("memray").unwrap();
        let pinned = format!("memray=={}", crate::memray::MEMRAY_VERSION);
        assert!(
            memray
                .get_long_about()
                .unwrap()
                .to_string()
                .contains(&pinned),
            "memray's help does not say {pinned}"
        );
        for line in lines {
            match parse(&line) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::DisplayHelp => {}
                Err(e) => panic!("`{line}` does not parse: {e}"),
            }
        }
    }

    /// The README's commands, and what each means.
    #[test]
    fn the_readme_commands_parse_as_meant() {
        let Task::Memcheck(f) = task("cargo xtask memcheck -- python3.11-dbg -m pytest tests/")
        else {
            panic!()
        };
        assert_eq!(f.command.argv, ["python3.11-dbg", "-m", "pytest", "tests/"]);
        assert_eq!(f.place, PlaceOpts::default());

        let Task::Refs(f) = task("PYTHONPATH=build cargo xtask refs mymod.tests:roundtrip") else {
            panic!()
        };
        assert_eq!(f.targets, ["mymod.tests:roundtrip"]);
        assert_eq!((f.rounds, f.calls), (1000, 1));

        let Task::Rss(f) =
            task("cargo xtask rss -- python3.11 scripts/leak_test.py --iterations 1000")
        else {
            panic!()
        };
        // After `--`, everything is the command's, flags included.
        assert_eq!(
            f.command.argv,
            ["python3.11", "scripts/leak_test.py", "--iterations", "1000"]
        );

        let Task::Segv(f) =
            task("cargo xtask segv --root . -- python3.11-dbg -m pytest tests/test_crash.py")
        else {
            panic!()
        };
        assert_eq!(f.root.dir, Some(PathBuf::from(".")));
        assert_eq!(f.gdb, PathBuf::from("gdb"));
        assert_eq!(f.command.argv.len(), 4);

        let Task::Bench(f) = task("cargo xtask bench --quick") else {
            panic!()
        };
        assert!(f.quick && f.only.is_empty() && f.runs.is_none());

        let Task::Fuzz(f) = task("cargo xtask fuzz --seconds 60 gdb rounds") else {
            panic!()
        };
        let opts = crate::fuzz::Options::from(f);
        assert_eq!((opts.seconds, opts.jobs), (60, 2));
        assert_eq!(opts.targets, ["gdb", "rounds"]);
        let Task::Fuzz(f) = task("cargo xtask fuzz --jobs=1") else {
            panic!()
        };
        assert_eq!(
            crate::fuzz::Options::from(f).targets.len(),
            crate::fuzz::TARGETS.len()
        );

        let Task::Image(f) = task("cargo xtask image --base dbgpipe/debootstrap:bookworm") else {
            panic!()
        };
        assert_eq!(f.build_args, ["--base", "dbgpipe/debootstrap:bookworm"]);
        assert!(!f.regenerate);

        let Task::Demo(f) = task("cargo xtask demo --image TAG") else {
            panic!()
        };
        assert_eq!(f.place.image.as_deref(), Some("TAG"));
        assert!(!f.place.host);

        let Task::Example(f) = task("cargo xtask example --python=/usr/bin/python3.11") else {
            panic!()
        };
        assert_eq!(f.python.path, Some(PathBuf::from("/usr/bin/python3.11")));
    }

    /// The shared options parse the same way in every task that takes them.
    #[test]
    fn shared_options_mean_the_same_everywhere() {
        let python = |t: Task| match t {
            Task::Memcheck(f) => f.python.path,
            Task::Refs(f) => f.python.path,
            Task::Rss(f) => f.python.path,
            Task::Segv(f) => f.python.path,
            Task::Example(f) => f.python.path,
            Task::Suppressions(f) => f.pythons.paths.into_iter().next(),
            other => panic!("{other:?} takes no --python"),
        };
        for name in ["memcheck", "refs", "rss", "segv", "example", "suppressions"] {
            for line in [
                format!("cargo xtask {name} --python=/p/python3"),
                format!("cargo xtask {name} --python /p/python3"),
            ] {
                assert_eq!(
                    python(task(&line)),
                    Some(PathBuf::from("/p/python3")),
                    "{line}"
                );
            }
        }
        let Task::Suppressions(f) = task("cargo xtask suppressions --python a --python=b") else {
            panic!()
        };
        assert_eq!(f.pythons.paths, [PathBuf::from("a"), PathBuf::from("b")]);
        let Task::Memcheck(f) = task("cargo xtask memcheck --suppressions a --suppressions=b")
        else {
            panic!()
        };
        assert_eq!(f.suppressions.files.len(), 2);

        for name in ["demo", "memcheck", "refs", "rss", "memray", "segv"] {
            let place = |line: &str| match task(line) {
                Task::Demo(f) => f.place,
                Task::Memcheck(f) => f.place,
                Task::Refs(f) => f.place,
                Task::Rss(f) => f.place,
                Task::Memray(f) => f.place,
                Task::Segv(f) => f.place,
                other => panic!("{other:?}"),
            };
            assert!(place(&format!("cargo xtask {name} --host")).host);
            for line in [
                format!("cargo xtask {name} --image t:1"),
                format!("cargo xtask {name} --image=t:1"),
            ] {
                assert_eq!(place(&line).image.as_deref(), Some("t:1"), "{line}");
            }
            let both = refused(&format!("cargo xtask {name} --host --image t"));
            assert!(both.contains("cannot be used with"), "{both}");
            refused(&format!("cargo xtask {name} --image"));
        }

        for name in ["memcheck", "memray", "segv", "suppressions"] {
            let root = |line: &str| match task(line) {
                Task::Memcheck(f) => f.root.dir,
                Task::Memray(f) => f.root.dir,
                Task::Segv(f) => f.root.dir,
                Task::Suppressions(f) => f.root.dir,
                other => panic!("{other:?}"),
            };
            assert_eq!(
                root(&format!("cargo xtask {name} --root=src -- prog")),
                Some(PathBuf::from("src"))
            );
        }

        // One rule for the command: after `--`, never bare, never without `--`.
        for name in ["memcheck", "rss", "memray", "segv", "suppressions"] {
            let error = refused(&format!("cargo xtask {name} --"));
            assert!(error.contains("`--` needs a command after it"), "{error}");
            assert!(
                error.contains(&format!("Usage: cargo xtask {name}")),
                "{error}"
            );
            refused(&format!("cargo xtask {name} python3 t.py"));
            let line = format!("cargo xtask {name} -- python3 -- --host");
            assert!(
                task(&line).command().unwrap().argv == ["python3", "--", "--host"],
                "{line}"
            );
        }
    }

    #[test]
    fn usage_errors_are_clap_s() {
        for line in [
            "cargo xtask",
            "cargo xtask nope",
            "cargo xtask refs notatarget",
            "cargo xtask refs :f",
            "cargo xtask refs --rounds 0",
            "cargo xtask refs --calls x",
            "cargo xtask fuzz nope",
            "cargo xtask fuzz --seconds x",
            "cargo xtask fuzz --seconds",
            "cargo xtask fuzz --jobs 0",
            "cargo xtask bench --only vg,nope",
            "cargo xtask bench --runs 0",
            "cargo xtask image --regenerate --force",
            "cargo xtask demo --python p",
            "cargo xtask example -- x",
        ] {
            refused(line);
        }
        let Task::Bench(f) = task("cargo xtask bench --only vg,bt-demangle --only=rss") else {
            panic!()
        };
        assert_eq!(f.only, [Section::Vg, Section::Bt, Section::Rss]);
        let help = parse("cargo xtask memcheck --help").unwrap_err();
        assert_eq!((help.kind(), help.exit_code()), (ErrorKind::DisplayHelp, 0));
    }
}
