//! Every flag of every task, declared once (as ripgrep's `flags/defs.rs` does): the top-level
//! parser with one subcommand per task. The recipes' subcommands and the options they share
//! are the library's ([`dbgpipe_core::recipe::flags`], re-exported here), flattened in, so
//! that `cargo xtask memcheck` and `dbgpipe memcheck` parse the same flags.
//!
//! The help texts are the tasks' specification: what each does, what it leaves, and its exit
//! status. A test parses every EXAMPLES line of every task (and the README's commands).

use clap::{Args, CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

use crate::bench::Section;
pub use dbgpipe_core::recipe::flags::*;

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
        dbgpipe_core::could_not_run!()
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
        dbgpipe_core::where_it_runs!(),
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

    /// The recipes (dbgpipe RECIPE), run from this checkout: without a command, on the
    /// bundled example, their files in target/dbgpipe/RECIPE/.
    #[command(flatten)]
    Recipe(Recipe),

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
        dbgpipe_core::could_not_run!()
    ))]
    Fuzz(Fuzz),

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
        dbgpipe_core::could_not_run!()
    ))]
    Bench(Bench),

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
        dbgpipe_core::could_not_run!()
    ))]
    Example(Example),
}

impl Task {
    /// The task's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Task::Demo(_) => "demo",
            Task::Recipe(recipe) => recipe.name(),
            Task::Fuzz(_) => "fuzz",
            Task::Bench(_) => "bench",
            Task::Example(_) => "example",
        }
    }
}

impl Flags {
    /// This process's command line; a usage error exits with status 2 and `--help` with 0,
    /// as clap does.
    pub fn from_env() -> Flags {
        Flags::from_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// `args` (with the program's name first), parsed, with the recipes' rule for `--`
    /// ([`Recipe::check_command`]).
    pub fn from_args<I, T>(args: I) -> Result<Flags, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let flags = Flags::try_parse_from(&args)?;
        if let Task::Recipe(recipe) = &flags.task {
            recipe.check_command(&args, &mut Flags::command())?;
        }
        Ok(flags)
    }
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

/// `cargo xtask example`.
#[derive(Args, Debug, Clone, Default)]
pub struct Example {
    /// The interpreter to build for.
    #[command(flatten)]
    pub python: Python,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
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

    /// The `cargo xtask …` and `dbgpipe …` lines under EXAMPLES: in `help`, without leading
    /// `VAR=value`s.
    fn examples(help: &str) -> Vec<String> {
        help.lines()
            .skip_while(|l| !l.starts_with("EXAMPLES:"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let start = words
                    .iter()
                    .position(|w| *w == "cargo" || *w == "dbgpipe")
                    .unwrap_or(0);
                words[start..].join(" ")
            })
            .collect()
    }

    /// The trailing command of a recipe.
    fn command_of(task: &Task) -> Option<&Command> {
        match task {
            Task::Recipe(recipe) => recipe.command(),
            _ => None,
        }
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
                mine.iter().all(|l| {
                    // A recipe's examples are dbgpipe's, and `cargo xtask` parses the same.
                    l.starts_with(&format!("cargo xtask {name}"))
                        || l.starts_with(&format!("dbgpipe {name}"))
                }),
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
            let line = line.replacen("dbgpipe ", "cargo xtask ", 1);
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
        let Task::Recipe(Recipe::Memcheck(f)) =
            task("cargo xtask memcheck -- python3.11-dbg -m pytest tests/")
        else {
            panic!()
        };
        assert_eq!(f.command.argv, ["python3.11-dbg", "-m", "pytest", "tests/"]);
        assert_eq!(f.place, PlaceOpts::default());

        let Task::Recipe(Recipe::Refs(f)) =
            task("PYTHONPATH=build cargo xtask refs mymod.tests:roundtrip")
        else {
            panic!()
        };
        assert_eq!(f.targets, ["mymod.tests:roundtrip"]);
        assert_eq!((f.rounds, f.calls), (1000, 1));

        let Task::Recipe(Recipe::Rss(f)) =
            task("cargo xtask rss -- python3.11 scripts/leak_test.py --iterations 1000")
        else {
            panic!()
        };
        // After `--`, everything is the command's, flags included.
        assert_eq!(
            f.command.argv,
            ["python3.11", "scripts/leak_test.py", "--iterations", "1000"]
        );

        let Task::Recipe(Recipe::Segv(f)) =
            task("cargo xtask segv --root . -- python3.11-dbg -m pytest tests/test_crash.py")
        else {
            panic!()
        };
        assert_eq!(f.dirs.root, Some(PathBuf::from(".")));
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

        let Task::Recipe(Recipe::Image(f)) =
            task("cargo xtask image --base dbgpipe/debootstrap:bookworm")
        else {
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
            Task::Recipe(Recipe::Memcheck(f)) => f.python.path,
            Task::Recipe(Recipe::Refs(f)) => f.python.path,
            Task::Recipe(Recipe::Rss(f)) => f.python.path,
            Task::Recipe(Recipe::Segv(f)) => f.python.path,
            Task::Example(f) => f.python.path,
            Task::Recipe(Recipe::Suppressions(f)) => f.pythons.paths.into_iter().next(),
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
        let Task::Recipe(Recipe::Suppressions(f)) =
            task("cargo xtask suppressions --python a --python=b")
        else {
            panic!()
        };
        assert_eq!(f.pythons.paths, [PathBuf::from("a"), PathBuf::from("b")]);
        let Task::Recipe(Recipe::Memcheck(f)) =
            task("cargo xtask memcheck --suppressions a --suppressions=b")
        else {
            panic!()
        };
        assert_eq!(f.suppressions.files.len(), 2);

        for name in ["demo", "memcheck", "refs", "rss", "memray", "segv"] {
            let place = |line: &str| match task(line) {
                Task::Demo(f) => f.place,
                Task::Recipe(Recipe::Memcheck(f)) => f.place,
                Task::Recipe(Recipe::Refs(f)) => f.place,
                Task::Recipe(Recipe::Rss(f)) => f.place,
                Task::Recipe(Recipe::Memray(f)) => f.place,
                Task::Recipe(Recipe::Segv(f)) => f.place,
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
                Task::Recipe(Recipe::Memcheck(f)) => f.dirs.root,
                Task::Recipe(Recipe::Memray(f)) => f.dirs.root,
                Task::Recipe(Recipe::Segv(f)) => f.dirs.root,
                Task::Recipe(Recipe::Suppressions(f)) => f.dirs.root,
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
                command_of(&task(&line)).unwrap().argv == ["python3", "--", "--host"],
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
