//! run-in-image: run a command in the debug-interpreter image as if it ran here: the current
//! directory at the same path, the invoking user, env files expanded inside, stdin, stdout and
//! stderr passed through, and the command's exit status as its own.

use anyhow::Context as _;
use clap::Parser;
use dbgpipe_core::cli::{self, Outcome};
use dbgpipe_core::image::engine::{Engine, Kind};
use dbgpipe_core::image::envfile;
use dbgpipe_core::image::recipe;
use dbgpipe_core::image::run::{self, Request, Surroundings};
use dbgpipe_core::ptrace::status;
use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const AFTER_HELP: &str = "\
WHAT IT RUNS:
  docker run --rm --init [-i] [-t] --user UID:GID [--env HOME=/tmp]
    --mount type=bind,source=$PWD,target=$PWD [--mount …] --workdir $PWD
    [--cap-add=SYS_PTRACE --security-opt seccomp=unconfined] [--env K=V…] IMAGE CMD ARGS…
  The current directory is mounted at the same path so that paths in reports are the host's.
  The command runs as your uid:gid, so files it writes into the mount are yours (HOME is /tmp
  then; rootless podman gets --userns=keep-id instead). -i is given unless stdin is a terminal
  without -t, so pipes work and a background job does not read the keyboard; -t only when
  stdin, stdout and stderr are all terminals, so a pipe never gets a terminal's \\r\\n.
  Arguments are passed as an array: nothing is ever pasted into a shell string.

ENV FILES:
  --env-file reads `export K=V` shell files (also K=V, several per line, # comments, quotes,
  $VAR, ${VAR}, ${VAR:-word}, ${VAR-word}, ~). References are expanded inside the container
  with the container's values ($PATH:$PWD/bin means the image's PATH), by a fixed sh program
  that gets the file's parsed pieces as arguments and never evaluates them. Command
  substitution and any other shell syntax is refused with the line. --env K=V is literal and
  wins over the files; --env K passes the host's value.

LIMITS:
  an env file over 1 MiB or not UTF-8 is refused; with --host, a value that would expand past
  128 KiB (Linux's limit for one variable; X=$X$X doubles) is an error naming its line.
  Names starting with _dbgpipe_ are the expander's own: an env file may not use them.

EXAMPLES:
  run-in-image -- python3.11-dbg -X dev tests/run.py refleak --rounds 100
  run-in-image --env-file scripts/.env -- python3.11-dbg -m pytest tests/
  run-in-image --ptrace -- gdb -batch -ex run -ex bt --args python3.11-dbg t.py | bt-demangle
  cat t.py | run-in-image -- python3.11-dbg -
  run-in-image --dry-run --ptrace -- valgrind python3.11-dbg t.py
  run-in-image --host --env-file scripts/.env -- python3.11-dbg t.py

EXIT STATUS:
  The command's own status (128+N when a signal N ended it, e.g. 139 for SIGSEGV); 125 the
  engine failed (or the env expander inside); 126/127 the command could not be run or found
  (with podman 1, and catatonit, its --init, says `failed to exec pid1`).
  2  run-in-image's own errors: bad usage, an unreadable or malformed env file, no engine, no
     image. 0 for --dry-run.";

/// Runs a command in the debug-interpreter image as if it ran here.
#[derive(Parser, Debug)]
#[command(name = "run-in-image", version, after_help = AFTER_HELP, max_term_width = 100)]
struct Args {
    /// The image. [default: $DBGPIPE_IMAGE, else the tag `dbg-image build` gives the default
    /// recipe on this host]
    #[arg(long, value_name = "TAG")]
    image: Option<String>,

    /// Container engine: docker or podman (or a path). [default: the first on PATH]
    #[arg(long, value_name = "ENGINE")]
    engine: Option<String>,

    /// Also bind-mount HOST (relative to here) at CONTAINER; `:ro` for read-only. Repeatable.
    #[arg(long, value_name = "HOST:CONTAINER[:ro]")]
    mount: Vec<String>,

    /// Working directory inside (relative: to the current directory). [default: the current
    /// directory]
    #[arg(long, short = 'w', value_name = "DIR")]
    workdir: Option<PathBuf>,

    /// Set the variables of an `export K=V` shell file, expanded inside. Repeatable.
    #[arg(long, value_name = "FILE")]
    env_file: Vec<PathBuf>,

    /// Set K to V (literal), or pass the host's K. Repeatable; wins over --env-file.
    #[arg(long, short = 'e', value_name = "K=V")]
    env: Vec<String>,

    /// Let debuggers trace: --cap-add=SYS_PTRACE --security-opt seccomp=unconfined.
    #[arg(long)]
    ptrace: bool,

    /// Run as this user (the engine's --user) instead of the invoking uid:gid.
    #[arg(long, value_name = "USER[:GROUP]")]
    user: Option<String>,

    /// Do not mount the current directory (nor make it the working directory).
    #[arg(long)]
    no_cwd: bool,

    /// Print the command line as a JSON array and run nothing.
    #[arg(long)]
    dry_run: bool,

    /// Run the command on the host, with the same environment handling.
    #[arg(long)]
    host: bool,

    /// The command and its arguments (after `--`). Options after the command's name are the
    /// command's; a mistyped option before it is an error, not a command.
    #[arg(value_name = "CMD", trailing_var_arg = true, required = true)]
    command: Vec<OsString>,
}

fn main() -> std::process::ExitCode {
    cli::main("run-in-image", || run(Args::parse()))
}

fn host_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn print_argv(argv: &[OsString]) -> anyhow::Result<Outcome> {
    let strings: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, &strings)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(Outcome::Clean)
}

fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut assignments = Vec::new();
    for file in &args.env_file {
        assignments.extend(envfile::read(file)?);
    }
    let cwd = std::env::current_dir().context("the current directory")?;
    let status = status::read(Path::new("/proc/self/status"))?;
    let (uid, gid) = match (status.euid(), status.egid()) {
        (Some(u), Some(g)) => (u, g),
        _ => anyhow::bail!("/proc/self/status names no effective uid and gid"),
    };
    let sur = Surroundings {
        cwd,
        uid,
        gid,
        stdin_tty: io::stdin().is_terminal(),
        stdout_tty: io::stdout().is_terminal(),
        stderr_tty: io::stderr().is_terminal(),
    };
    let req = Request {
        mounts: args.mount,
        workdir: args.workdir,
        assignments,
        env: args.env,
        ptrace: args.ptrace,
        user: args.user,
        no_cwd: args.no_cwd,
        command: args.command,
    };

    if args.host {
        let plan = run::host_plan(&req, &sur, &host_env)?;
        if args.dry_run {
            return print_argv(&plan.display_argv());
        }
        let mut cmd = Command::new(&plan.command[0]);
        cmd.args(&plan.command[1..])
            .envs(plan.env.iter().map(|(n, v)| (n, v)));
        if let Some(dir) = &plan.cwd {
            cmd.current_dir(dir);
        }
        let error = cmd.exec();
        // As a shell does: 127 for a command not found, 126 for one that cannot be run.
        let code = match error.kind() {
            io::ErrorKind::NotFound => 127,
            io::ErrorKind::PermissionDenied => 126,
            _ => 2,
        };
        let _ = writeln!(
            io::stderr(),
            "run-in-image: cannot run {}: {error}",
            plan.command[0].to_string_lossy()
        );
        std::process::exit(code);
    }

    let engine = match Engine::find(args.engine.as_deref()) {
        Ok(engine) => engine,
        // A dry run shows the command line even where no engine is installed.
        Err(_) if args.dry_run => {
            let name = args.engine.clone().unwrap_or_else(|| "docker".into());
            Engine {
                kind: if name.contains("podman") {
                    Kind::Podman
                } else {
                    Kind::Docker
                },
                program: PathBuf::from(name),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let (image, default) = match args
        .image
        .or_else(|| host_env("DBGPIPE_IMAGE").filter(|s| !s.is_empty()))
    {
        Some(image) => (image, false),
        None => (recipe::default_tag()?, true),
    };
    let mut argv = run::container_argv(&engine, &image, &req, &sur, &host_env)?;
    if args.dry_run {
        // The engine as it is found on PATH (`docker`), not where this machine keeps it:
        // the line is for pasting elsewhere. A path given with --engine stays a path.
        if !args.engine.as_deref().is_some_and(|e| e.contains('/')) {
            argv[0] = engine.name().into();
        }
        return print_argv(&argv);
    }
    if default && engine.image_id(&image)?.is_none() {
        anyhow::bail!(
            "no image {image} here: build it with `dbg-image build` (or `dbg-image base --debootstrap bookworm` and `dbg-image build --base dbgpipe/debootstrap:bookworm`), or pass --image"
        );
    }
    let error = Command::new(&argv[0]).args(&argv[1..]).exec();
    Err(error).with_context(|| format!("cannot run {}", engine.program.display()))
}

#[cfg(test)]
mod tests {
    /// The flags are consistent, and every documented example parses with them.
    #[test]
    fn help_is_true() {
        dbgpipe_core::cli::assert_help_is_true::<super::Args>(
            "run-in-image",
            &[super::AFTER_HELP],
            5,
        );
    }
}
