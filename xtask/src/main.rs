//! `cargo xtask TASK [ARGS...]`: dispatches to one module of the `xtask` library per task.

use std::io::{self, Write};
use std::process::ExitCode;

use xtask::UsageError;

/// One task: its name, a line of usage, what it does, and its entry point.
struct Task {
    name: &'static str,
    usage: &'static str,
    about: &'static str,
    run: fn(&[String]) -> anyhow::Result<ExitCode>,
}

/// Every task. A new task is a new module in the library and one entry here.
const TASKS: &[Task] = &[
    Task {
        name: "demo",
        usage: "demo",
        about: "run every recipe on the bundled example and check what each finds",
        run: xtask::demo::run,
    },
    Task {
        name: "memcheck",
        usage: "memcheck [-- CMD...]",
        about: "valgrind (PYTHONMALLOC=malloc, suppressions) | vg-filter --project",
        run: xtask::memcheck::run,
    },
    Task {
        name: "refs",
        usage: "refs [MODULE:FN]...",
        about: "rss-rounds run on the debug interpreter (reference-count leaks)",
        run: xtask::refs::run,
    },
    Task {
        name: "rss",
        usage: "rss [-- CMD...]",
        about: "rss-rounds watch, with --plot (RSS growing in rounds)",
        run: xtask::rss::run,
    },
    Task {
        name: "memray",
        usage: "memray [-- CMD...]",
        about: "memray run --native, then the --leaks flamegraph HTML",
        run: xtask::memray::run,
    },
    Task {
        name: "segv",
        usage: "segv [-- CMD...]",
        about: "gdb -batch run/bt | bt-demangle; ptrace-fix when gdb is refused",
        run: xtask::segv::run,
    },
    Task {
        name: "fuzz",
        usage: "fuzz [--seconds N] [TARGET...]",
        about: "build and run the parsers' cargo-fuzz targets, two at a time",
        run: xtask::fuzz::run,
    },
    Task {
        name: "suppressions",
        usage: "suppressions [-- CMD...]",
        about: "baseline run of the bare interpreter | vg-filter --gen-suppressions",
        run: xtask::suppressions::run,
    },
    Task {
        name: "bench",
        usage: "bench [--quick] [--only vg,bt,rss]",
        about: "time the tools against grep, c++filt and ValgrindCI; write BENCHMARKS.md",
        run: xtask::bench::run,
    },
    Task {
        name: "image",
        usage: "image [--regenerate] [ARGS...]",
        about: "dbg-image build ARGS; --regenerate rewrites docker/Dockerfile.* from the template",
        run: xtask::image::run,
    },
    Task {
        name: "example",
        usage: "example [--python PATH]",
        about:
            "build examples/dbgpipe_example for PATH (default: python3.11-dbg) and print the .so",
        run: |args| xtask::example::run(args).map(|()| ExitCode::SUCCESS),
    },
];

fn usage() -> String {
    let mut text = String::from("usage: cargo xtask TASK [ARGS...]\n\ntasks:\n");
    for task in TASKS {
        text.push_str(&format!("  {:<28}{}\n", task.usage, task.about));
    }
    text
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    if matches!(name.as_str(), "-h" | "--help" | "help") {
        // A closed stdout is not worth reporting for help text.
        let _ = io::stdout().write_all(usage().as_bytes());
        return ExitCode::SUCCESS;
    }
    let Some(task) = TASKS.iter().find(|task| task.name == name) else {
        eprint!("xtask: unknown task `{name}`\n\n{}", usage());
        return ExitCode::from(2);
    };
    match (task.run)(&args[1..]) {
        Ok(code) => code,
        Err(error) if error.is::<UsageError>() => {
            eprintln!("xtask {name}: {error}\nusage: cargo xtask {}", task.usage);
            ExitCode::from(2)
        }
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            // Exit 2: 1 means findings, as for the tools.
            eprintln!("xtask {name}: {error:#}");
            ExitCode::from(2)
        }
    }
}
