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
        name: "suppressions",
        usage: "suppressions [-- CMD...]",
        about: "baseline run of the bare interpreter | vg-filter --gen-suppressions",
        run: xtask::suppressions::run,
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
