//! Every flag of every recipe, declared once (as ripgrep's `flags/defs.rs` does): `dbgpipe`'s
//! parser with one subcommand per recipe ([`Recipe`], which `cargo xtask` flattens into its
//! own tasks), and the options several recipes share as `clap::Args` structs flattened into
//! each recipe that takes them, so that `--python=PATH`, `--root DIR` or `-- CMD…` mean and
//! parse the same everywhere.
//!
//! The help texts are the recipes' specification: what each does, what it leaves, and its
//! exit status. A test parses every EXAMPLES line of every recipe (and the README's commands).

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;

/// The execution-place rule, the same for every recipe (see [`super::place`]).
#[doc(hidden)]
#[macro_export]
macro_rules! where_it_runs {
    () => {
        "WHERE IT RUNS:
  --host        on this machine; what it lacks is an error naming the package
  --image TAG   inside that image (run-in-image, the project mounted at its own path)
  (neither)     here when this machine has what the recipe needs, else inside the debug
                image when a container engine answers ($DBGPIPE_IMAGE, else the default
                recipe's tag, else the newest local dbgpipe/python-dbg:3.11-*, else
                `dbg-image build` makes it); when neither can, one line says what is missing."
    };
}

/// The last line of every recipe's EXIT STATUS.
#[doc(hidden)]
#[macro_export]
macro_rules! could_not_run {
    () => {
        "  2  bad usage, or the recipe could not run (one line on stderr says why)"
    };
}

/// `dbgpipe RECIPE`: the recipes, run from your own project.
#[derive(Parser, Debug)]
#[command(
    name = "dbgpipe",
    version,
    about = "dbgpipe's recipes: the tools chained on your program, run from your project",
    long_about = "dbgpipe's recipes: valgrind, gdb, memray and the refcount/RSS harness run on \
                  your program, their output read by vg-filter, bt-demangle and rss-rounds. Run \
                  from your extension's checkout (the root: the current directory, or --root): \
                  frames of files under it are the project's, and each recipe leaves its files \
                  in ROOT/.dbgpipe/RECIPE/ (or --out DIR). `dbgpipe RECIPE --help` says what a \
                  recipe does, what it leaves and how it exits.",
    after_help = concat!(
        "EXAMPLES:
  dbgpipe memcheck -- python3.11-dbg -m pytest tests/
  dbgpipe refs mypkg.tests:roundtrip
  dbgpipe segv -- python3.11-dbg crash.py

EXIT STATUS:
  0  clean: nothing found
  1  findings (records kept, a leak, a crash)
",
        crate::could_not_run!()
    ),
    subcommand_value_name = "RECIPE",
    subcommand_help_heading = "Recipes",
    max_term_width = 100,
    arg_required_else_help = true
)]
pub struct Runner {
    /// The recipe.
    #[command(subcommand)]
    pub recipe: Recipe,
}

impl Runner {
    /// This process's command line; a usage error exits with status 2 and `--help` with 0,
    /// as clap does.
    pub fn from_env() -> Runner {
        Runner::from_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// `args` (with the program's name first), parsed, with [`Recipe::check_command`].
    pub fn from_args<I, T>(args: I) -> Result<Runner, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let runner = Runner::try_parse_from(&args)?;
        runner.recipe.check_command(&args, &mut Runner::command())?;
        Ok(runner)
    }
}

/// One subcommand per recipe, in the order `dbgpipe --help` lists them.
#[derive(Subcommand, Debug)]
pub enum Recipe {
    /// valgrind (PYTHONMALLOC=malloc, one log per process) | vg-filter --project
    ///
    /// Runs CMD under Valgrind Memcheck with PYTHONMALLOC=malloc, --leak-check=full,
    /// --num-callers=500, --fullpath-after= (full source paths), --trace-children=yes and one
    /// log per process, then keeps the records that touch the project (vg-filter --project: a
    /// frame under --root, or matching a --project PATTERN) and names each at its source line.
    /// Suppressions go to vg-filter, which counts what each one hides. Without --suppressions
    /// the baseline of the interpreter the logs' Command: lines name applies: shipped for
    /// Debian's python3.11-dbg and python3.11, made on first use for any other one (a bare run
    /// of it under valgrind, kept in ~/.cache/dbgpipe/suppressions/). Leaks allocated by the
    /// extension's module init (PyInit_*, Py_mod_exec) that stay possibly lost or reachable
    /// are reported as module_init and do not fail the run (--fail-on ModuleInit changes
    /// that; a block definitely lost in init still fails). Notes
    /// say which baseline applied and when the interpreter is not a debug build. valgrind
    /// prints a progress line every 10 s. In a dbgpipe checkout, `cargo xtask memcheck`
    /// without CMD runs the bundled example's planted defects.
    #[command(after_help = concat!(
        "OUTPUTS:
  .dbgpipe/memcheck/vg.<pid>.log   valgrind's log, one per process
  .dbgpipe/memcheck/records.jsonl  vg-filter's JSON lines: the kept records, the summary
  stdout                           one line per kept record, the counts, the notes
  (.dbgpipe/ is ROOT/.dbgpipe, or --out; `cargo xtask` writes into target/dbgpipe/)

",
        crate::where_it_runs!(),
        "

EXAMPLES:
  dbgpipe memcheck -- python3.11-dbg -m pytest tests/
  dbgpipe memcheck --root ~/src/mypkg -- python3.11-dbg t.py
  dbgpipe memcheck --project=_mypkg --suppressions my.supp -- python3.11-dbg t.py
  dbgpipe memcheck --fail-on all -- python3.11-dbg t.py
  dbgpipe memcheck --baseline memcheck-baseline.jsonl -- python3.11-dbg -m pytest tests/
  dbgpipe memcheck --shard 2/3 --out shard-2 -- python3.11-dbg -m pytest -n 2 tests/

EXIT STATUS:
  0  no failing record kept (Leak_StillReachable and module-init leaks alone do not count,
     as for vg-filter; --fail-on changes which kinds count; with --baseline, known records
     do not count)
  1  records kept
",
        crate::could_not_run!()
    ))]
    Memcheck(Memcheck),

    /// Reference-count leaks: rss-rounds run on the debug interpreter, per MODULE:FN
    ///
    /// Judges each MODULE:FN on its own (one process each) with `rss-rounds run` on the debug
    /// interpreter (default python3.11-dbg, which has sys.gettotalrefcount): the harness
    /// measures its own noise, calls the function in rounds, and a trend test decides per
    /// series (refs, blocks, fds, rss_kib) whether it leaks. The root (--root, default the
    /// current directory: an in-place build) goes first on PYTHONPATH, which is passed on into
    /// the image. On an interpreter without sys.gettotalrefcount (a release build) a note says
    /// that references are not counted. In a dbgpipe checkout, `cargo xtask refs` without
    /// MODULE:FN judges the bundled example's refleak and clean.
    #[command(after_help = concat!(
        "OUTPUTS:
  .dbgpipe/refs/<MODULE.FN>.jsonl  rss-rounds' rounds, verdicts and summary
  stdout                           a line per workload: LEAK and the growing series

",
        crate::where_it_runs!(),
        "

EXAMPLES:
  dbgpipe refs mymod.tests:roundtrip
  PYTHONPATH=build dbgpipe refs --root ~/src/mymod mymod.tests:roundtrip
  dbgpipe refs --rounds 200 --calls 10 --python=/usr/bin/python3.11-dbg mymod:f mymod:g

EXIT STATUS:
  0  nothing leaks
  1  a function leaks
",
        crate::could_not_run!()
    ))]
    Refs(Refs),

    /// RSS in rounds: rss-rounds watch --plot
    ///
    /// Runs CMD under `rss-rounds watch`: the RSS of its process tree is sampled at each line
    /// that ends a round (`Round N ...`, as leak-test scripts print), or every 100 ms without
    /// such lines, and each series is judged with a trend test and plotted. In a dbgpipe
    /// checkout, `cargo xtask rss` without CMD runs the bundled example's rounds.py with
    /// leak_definite and with clean (100 rounds of 2000 calls each) on the debug interpreter
    /// (or --python), each judged on its own.
    #[command(after_help = concat!(
        "OUTPUTS:
  .dbgpipe/rss/<name>.jsonl  rss-rounds' rounds, verdicts and summary (name: the
                             function, or `command`)
  .dbgpipe/rss/<name>.svg    the plot
  stdout                     a line per run: LEAK and the growth, or no leak

",
        crate::where_it_runs!(),
        "

EXAMPLES:
  dbgpipe rss -- python3.11 scripts/leak_test.py --iterations 1000
  dbgpipe rss --out /tmp/rss -- python3.11-dbg t.py

EXIT STATUS:
  0  nothing leaks
  1  a run leaks
",
        crate::could_not_run!()
    ))]
    Rss(Rss),

    /// The heap over time: valgrind --tool=massif | rss-rounds, the growing allocation sites
    ///
    /// Runs under Valgrind's Massif (PYTHONMALLOC=malloc, --time-unit=i, --threshold, full
    /// source paths) and judges the Massif file with rss-rounds: the heap series (heap_b,
    /// heap_extra_b) and every allocation stack of the detailed snapshots; the stacks that grow
    /// are named by their site frame (the project's first, under --root) and judged as series
    /// site:FUNCTION:FILE:LINE. Massif counts the program's own heap bytes, without the
    /// allocator's caching and RSS's pages, so it finds leaks of tens of bytes a round that
    /// the rss recipe cannot see. Each MODULE:FN (default: the debug interpreter, the root
    /// first on PYTHONPATH) runs in rss-rounds' harness for --rounds rounds of --calls calls,
    /// with a detailed snapshot at the end of each round (a Valgrind client request, x86-64
    /// only), so a round is a round. A command after `--` runs as it is, every snapshot
    /// detailed, one Massif file per process: its rounds are Massif's snapshots, evenly
    /// spaced in time, and start-up counts as growth, so give it a long-running workload. A
    /// site smaller than --threshold percent of the heap is not in Massif's trees: a leak of
    /// B bytes a round shows after about threshold/100 x heap / B rounds. In a dbgpipe
    /// checkout, `cargo xtask massif` without either judges the bundled example's
    /// leak_definite (64 bytes a round) and clean.
    #[command(after_help = concat!(
        "OUTPUTS:
  .dbgpipe/massif/<name>.massif.out        the Massif file judged (MODULE:FN: one detailed
                                           snapshot per round; ms_print reads it)
  .dbgpipe/massif/<name>.whole.massif.out  MODULE:FN: Massif's own file of the whole run
  .dbgpipe/massif/<name>.jsonl             rss-rounds' rounds, sites, verdicts and summary
  .dbgpipe/massif/<name>.svg               the plot
  stdout                                   a line per run: LEAK and the growing sites
  (name: MODULE.FN, or massif.out.<pid> for a command)

",
        crate::where_it_runs!(),
        "

EXAMPLES:
  dbgpipe massif mymod.tests:roundtrip
  dbgpipe massif --rounds 500 --threshold 0.05 mymod.tests:roundtrip
  dbgpipe massif -- python3.11-dbg scripts/leak_test.py --iterations 1000

EXIT STATUS:
  0  nothing grows
  1  a run leaks (a growing site, or a growing heap)
",
        crate::could_not_run!()
    ))]
    Massif(Massif),

    /// Native leaks: memray run --native, the --leaks flamegraph, the leaking functions
    ///
    /// Runs the script under `memray run --native --trace-python-allocators`, writes the
    /// `memray flamegraph --leaks` HTML, and names the functions that leaked native memory:
    /// each leaked allocation goes to the native function that asked for it (the allocator's
    /// caller, past operator new, std:: allocators and strdup), which is the project's when its
    /// source lies under --root. CMD is `[python] SCRIPT ARGS...` or `-m MODULE ARGS...`. In
    /// a dbgpipe checkout, `cargo xtask memray` without CMD runs the bundled example's run.py
    /// with leak_definite and with clean (100 calls each).
    ///
    /// memray's wheels load only into the release interpreter /usr/bin/python3.11 (not
    /// python3.11-dbg): memray runs from a venv of it, ~/.cache/dbgpipe/venv-memray
    /// (target/dbgpipe/venv for `cargo xtask`), made with
    /// `python3.11 -m venv` and `pip install memray==1.20.0` on first use (pip gets --cert
    /// /etc/ssl/certs/ca-certificates.crt unless PIP_CERT is set, for TLS-intercepting
    /// proxies); the script runs with that interpreter, so a leading `python...` in CMD is
    /// dropped and your packages must be importable from it (PYTHONPATH).
    #[command(after_help = concat!(
        "OUTPUTS:
  .dbgpipe/memray/<name>.bin          memray's capture (name: the function, or `command`)
  .dbgpipe/memray/<name>.html         the --leaks flamegraph
  .dbgpipe/memray/<name>.leaks.jsonl  leak sites, largest first, then a summary
  stdout                              per run the project's leaking functions

",
        crate::where_it_runs!(),
        "

EXAMPLES:
  dbgpipe memray -- python3.11 t.py
  dbgpipe memray --root . -- -m pytest tests/

EXIT STATUS:
  0  no project function leaks
  1  one does
",
        crate::could_not_run!()
    ))]
    Memray(Memray),

    /// Crashes: gdb -batch -ex run -ex bt | bt-demangle; ptrace-fix when gdb is refused
    ///
    /// Runs CMD under `gdb -batch -ex 'set filename-display absolute' -ex run -ex bt`
    /// (absolute file names, so that a build's relative paths resolve against the root),
    /// keeps gdb's output, and pipes it through `bt-demangle --root`: JSON lines (frames, the
    /// crash with its signal and signature) and the readable report (names demangled and
    /// simplified, interpreter frames folded, the frames under --root marked as the
    /// project's). When gdb's output shows ptrace refused, `ptrace-fix` explains why and how
    /// to allow it. Inside the image gdb runs with run-in-image --ptrace. In a dbgpipe
    /// checkout, `cargo xtask segv` without CMD runs the bundled example's crash_null
    /// (SIGSEGV in dbgpipe_store) and the C++ example's crash_map (inside
    /// std::unordered_map; left out, with a line saying why, without a C++ compiler).
    #[command(after_help = concat!(
        "OUTPUTS:
  .dbgpipe/segv/<name>.gdb.txt       gdb's output (name: the function, or `command`)
  .dbgpipe/segv/<name>.jsonl         bt-demangle's records
  .dbgpipe/segv/<name>.txt           bt-demangle's text report
  .dbgpipe/segv/<name>.ptrace.jsonl  ptrace-fix's reading of gdb's output
  stdout                             the reports, then a line per run

",
        crate::where_it_runs!(),
        "

EXAMPLES:
  dbgpipe segv -- python3.11-dbg crash.py
  dbgpipe segv --root ~/src/mypkg -- python3.11-dbg -m pytest tests/test_crash.py
  dbgpipe segv --baseline known-crashes.jsonl -- python3.11-dbg crash.py

EXIT STATUS:
  0  no crash (with --baseline: no new crash)
  1  a crash (with --baseline: a new one)
  2  bad usage, or the recipe could not run, gdb refused included (ptrace-fix says why)"
    ))]
    Segv(Segv),

    /// Make the baseline suppression file of an interpreter, which memcheck then applies
    ///
    /// Runs each interpreter (default: python3.11-dbg and /usr/bin/python3.11, where
    /// installed) bare (startup, stdlib imports, a thread, an exception, shutdown), or CMD,
    /// under Memcheck on this machine, and writes the records that are not the project's
    /// (under --root) as a suppression file (vg-filter --gen-suppressions, each entry cut to
    /// the frames that identify the interpreter's own caller) into the cache where `dbgpipe
    /// memcheck` looks for that interpreter's baseline: ~/.cache/dbgpipe/suppressions/
    /// ($XDG_CACHE_HOME/dbgpipe/suppressions/). memcheck makes it by itself on first use;
    /// this remakes it (after an upgrade of the interpreter or valgrind, or from your own
    /// workload). In a dbgpipe checkout, `cargo xtask suppressions` remakes the shipped
    /// files suppressions/<interpreter>.supp from the bundled example's clean run.
    #[command(after_help = concat!(
        "OUTPUTS:
  ~/.cache/dbgpipe/suppressions/<interpreter>-<hash>.supp  the baseline (`cargo xtask`:
                                                          suppressions/<interpreter>.supp)
  .dbgpipe/suppressions-<interpreter>/     memcheck's logs and records of the run
  stdout                                   a line per file: its path, entries and size

EXAMPLES:
  dbgpipe suppressions --python ~/.pyenv/versions/3.12.7/bin/python3.12
  dbgpipe suppressions --python /usr/bin/python3.11-dbg --python=/usr/bin/python3.11
  dbgpipe suppressions --python python3.11-dbg -- python3.11-dbg -c 'import numpy'

EXIT STATUS:
  0  written
",
        crate::could_not_run!()
    ))]
    Suppressions(Suppressions),

    /// The debug-interpreter image: dbg-image build
    ///
    /// Builds the debug-interpreter image with `dbg-image build ARGS` (e.g. --python 3.11,
    /// --base dbgpipe/debootstrap:bookworm, --force; see `dbg-image build --help`), printing
    /// its JSON record. In a dbgpipe checkout, `cargo xtask image --regenerate` rewrites
    /// docker/Dockerfile.debian, docker/Dockerfile.source and docker/Dockerfile.source-debian
    /// from the template (`dbg-image dockerfile --from debian`, `--from source --source
    /// python.org`, `--from source --source debian`) instead; a test checks they still match.
    #[command(after_help = concat!(
        "OUTPUTS:
  stdout  dbg-image build's record (the engine's progress goes to stderr)

EXAMPLES:
  dbgpipe image
  dbgpipe image --base dbgpipe/debootstrap:bookworm
  dbgpipe image --python 3.11 --force

EXIT STATUS (dbg-image's):
  0  the image is there and passed its check (--regenerate: the files were written)
  1  the image failed its check (the record's problems say why)
",
        crate::could_not_run!()
    ))]
    Image(Image),
}

impl Recipe {
    /// The recipe's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Recipe::Memcheck(_) => "memcheck",
            Recipe::Refs(_) => "refs",
            Recipe::Rss(_) => "rss",
            Recipe::Massif(_) => "massif",
            Recipe::Memray(_) => "memray",
            Recipe::Segv(_) => "segv",
            Recipe::Suppressions(_) => "suppressions",
            Recipe::Image(_) => "image",
        }
    }

    /// The trailing command of the recipes that take one.
    pub fn command(&self) -> Option<&Command> {
        match self {
            Recipe::Memcheck(f) => Some(&f.command),
            Recipe::Rss(f) => Some(&f.command),
            Recipe::Massif(f) => Some(&f.command),
            Recipe::Memray(f) => Some(&f.command),
            Recipe::Segv(f) => Some(&f.command),
            Recipe::Suppressions(f) => Some(&f.command),
            Recipe::Refs(_) | Recipe::Image(_) => None,
        }
    }

    /// `--root` and `--out`, for the recipes that take them.
    pub fn dirs(&self) -> Option<&Dirs> {
        match self {
            Recipe::Memcheck(f) => Some(&f.dirs),
            Recipe::Refs(f) => Some(&f.dirs),
            Recipe::Rss(f) => Some(&f.dirs),
            Recipe::Massif(f) => Some(&f.dirs),
            Recipe::Memray(f) => Some(&f.dirs),
            Recipe::Segv(f) => Some(&f.dirs),
            Recipe::Suppressions(f) => Some(&f.dirs),
            Recipe::Image(_) => None,
        }
    }

    /// One rule clap cannot say: a `--` must be followed by a command. A bare one is a
    /// mistake (an empty `$CMD`, say), not a request for the default. `command` is the
    /// parser the recipe is a subcommand of (dbgpipe's, or cargo xtask's), for the usage line.
    pub fn check_command(
        &self,
        args: &[OsString],
        command: &mut clap::Command,
    ) -> Result<(), clap::Error> {
        let bare = args.last().is_some_and(|a| a == "--");
        if bare && self.command().is_some_and(|c| c.argv.is_empty()) {
            command.build();
            let sub = command
                .find_subcommand_mut(self.name())
                .expect("every recipe is a subcommand");
            return Err(sub.error(
                ErrorKind::InvalidValue,
                "`--` needs a command after it (the program to run, and its arguments)",
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Shared options: each defined once, flattened into the recipes that take it.

/// `--host` | `--image TAG`: where a recipe runs (see [`super::place`]).
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceOpts {
    /// Run on this machine; what it lacks is an error naming its Debian package
    #[arg(long, conflicts_with = "image")]
    pub host: bool,

    /// Run inside this image, through run-in-image (the project mounted at its own path)
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

/// `--root DIR` and `--out DIR`: the project, and where the recipe's files go.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Dirs {
    /// The project's root: frames whose source or object lies under it are the project's,
    /// and the files go into ROOT/.dbgpipe/ [default: the current directory]
    #[arg(long = "root", id = "root", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Write the recipe's files into DIR/RECIPE/ [default: ROOT/.dbgpipe]
    #[arg(long = "out", id = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `--project=PATTERN`, repeatable: more of the project's code.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns {
    /// Frames whose object or source path contains PATTERN (or matches it, with * or ?) are
    /// the project's too, besides those under the root (repeatable; e.g. the package's
    /// shared objects: --project=_mypkg)
    #[arg(long = "project", id = "project", value_name = "PATTERN")]
    pub patterns: Vec<String>,
}

/// `--suppressions FILE`, repeatable.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct SuppressionFiles {
    /// A Valgrind suppression file, applied by vg-filter (repeatable) [default: the baseline
    /// of the interpreter the logs name: shipped, or made on first use]
    #[arg(long = "suppressions", id = "suppressions", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `-- CMD…`: the user's program and its arguments, everything after `--`.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// The program to run and its arguments, after `--` (`cargo xtask` in a dbgpipe
    /// checkout: the bundled example when none is given)
    #[arg(id = "command", value_name = "CMD", last = true, num_args = 1..)]
    pub argv: Vec<String>,
}

/// `dbgpipe memcheck`.
#[derive(Args, Debug, Clone, Default)]
pub struct Memcheck {
    /// Where valgrind runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The interpreter of the bundled example.
    #[command(flatten)]
    pub python: Python,
    /// The project, for vg-filter --project, and the outputs.
    #[command(flatten)]
    pub dirs: Dirs,
    /// More of the project's code.
    #[command(flatten)]
    pub project: Patterns,
    /// Suppression files.
    #[command(flatten)]
    pub suppressions: SuppressionFiles,
    /// The kinds that fail the run, passed to vg-filter (e.g. `all`, or
    /// `Leak_DefinitelyLost,InvalidRead`; see vg-filter --help) [default: vg-filter's]
    #[arg(long = "fail-on", value_name = "KINDS")]
    pub fail_on: Option<String>,
    /// Valgrind's --num-callers: frames kept per stack (Valgrind's maximum by default, so that
    /// the project's frame and a module's init are not cut off; lower it to trade depth for
    /// speed on deep test suites)
    #[arg(long = "num-callers", value_name = "N", default_value_t = super::memcheck::DEFAULT_NUM_CALLERS, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub num_callers: u32,
    /// Known findings, passed to vg-filter --baseline: an earlier run's records.jsonl (only
    /// new records fail; gone ones are listed as fixed)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Run only shard I of N of a pytest command's tests (1-based): the tests are collected
    /// here (pytest --collect-only) and each goes to the shard its id's hash picks, the same
    /// on every machine; the shards' records.jsonl merge with vg-filter
    #[arg(long, value_name = "I/N", value_parser = super::shard::parse)]
    pub shard: Option<super::shard::Shard>,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `dbgpipe refs`.
#[derive(Args, Debug, Clone)]
pub struct Refs {
    /// Where rss-rounds runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The project (first on PYTHONPATH), and the outputs.
    #[command(flatten)]
    pub dirs: Dirs,
    /// The interpreter of the harness.
    #[command(flatten)]
    pub python: Python,
    /// Measured rounds (rss-rounds' --rounds)
    #[arg(long, value_name = "N", default_value_t = super::refs::DEFAULT_ROUNDS, value_parser = positive::<u32>)]
    pub rounds: u32,
    /// Calls of the function per round (rss-rounds' --calls)
    #[arg(long, value_name = "N", default_value_t = super::refs::DEFAULT_CALLS, value_parser = positive::<u32>)]
    pub calls: u32,
    /// A function to judge, as MODULE:FN (e.g. mymod.tests:roundtrip) (`cargo xtask` in a
    /// dbgpipe checkout: the bundled example's refleak and clean when none is given)
    #[arg(value_name = "MODULE:FN", value_parser = module_fn)]
    pub targets: Vec<String>,
}

/// `dbgpipe rss`.
#[derive(Args, Debug, Clone, Default)]
pub struct Rss {
    /// Where rss-rounds watch runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The project, and the outputs.
    #[command(flatten)]
    pub dirs: Dirs,
    /// The interpreter of the bundled example.
    #[command(flatten)]
    pub python: Python,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `dbgpipe massif`.
#[derive(Args, Debug, Clone)]
pub struct Massif {
    /// Where valgrind runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The project (first on PYTHONPATH, its frames the project's), and the outputs.
    #[command(flatten)]
    pub dirs: Dirs,
    /// The interpreter of the harness.
    #[command(flatten)]
    pub python: Python,
    /// More of the project's code.
    #[command(flatten)]
    pub project: Patterns,
    /// Measured rounds of each MODULE:FN
    #[arg(long, value_name = "N", default_value_t = super::massif::DEFAULT_ROUNDS, value_parser = positive::<u32>)]
    pub rounds: u32,
    /// Calls of the function per round
    #[arg(long, value_name = "N", default_value_t = super::massif::DEFAULT_CALLS, value_parser = positive::<u32>)]
    pub calls: u32,
    /// Massif's --threshold: callers below this percent of the heap are not named
    #[arg(long, value_name = "PCT", default_value_t = super::massif::DEFAULT_THRESHOLD, value_parser = threshold)]
    pub threshold: f64,
    /// A function to run in rounds, as MODULE:FN (not with a command)
    #[arg(value_name = "MODULE:FN", value_parser = module_fn)]
    pub targets: Vec<String>,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// Massif's `--threshold`: a percentage from 0 to 100.
fn threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        Ok(_) => Err("a percentage from 0 to 100".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// `dbgpipe memray`.
#[derive(Args, Debug, Clone, Default)]
pub struct Memray {
    /// Where memray runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The project, for the leak sites, and the outputs.
    #[command(flatten)]
    pub dirs: Dirs,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `dbgpipe segv`.
#[derive(Args, Debug, Clone)]
pub struct Segv {
    /// Where gdb runs.
    #[command(flatten)]
    pub place: PlaceOpts,
    /// The interpreter of the bundled examples.
    #[command(flatten)]
    pub python: Python,
    /// The project, for bt-demangle --root, and the outputs.
    #[command(flatten)]
    pub dirs: Dirs,
    /// More of the project's code.
    #[command(flatten)]
    pub project: Patterns,
    /// Another debugger binary, which prints what gdb prints
    #[arg(long, value_name = "PATH", default_value = "gdb")]
    pub gdb: PathBuf,
    /// Known crashes, passed to bt-demangle --baseline: an earlier run's NAME.jsonl (a
    /// known crash does not fail the run; exit status 1 only for a new one)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `dbgpipe suppressions`.
#[derive(Args, Debug, Clone, Default)]
pub struct Suppressions {
    /// The interpreters.
    #[command(flatten)]
    pub pythons: Pythons,
    /// The project, whose records are never suppressed, and the run's files.
    #[command(flatten)]
    pub dirs: Dirs,
    /// The program.
    #[command(flatten)]
    pub command: Command,
}

/// `dbgpipe image`.
#[derive(Args, Debug, Clone, Default)]
pub struct Image {
    /// Rewrite docker/Dockerfile.debian, .source and .source-debian from the template
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

/// A number above zero (a clap value parser).
pub fn positive<T>(s: &str) -> Result<T, String>
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
