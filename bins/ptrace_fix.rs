//! ptrace-fix: whether a debugger can trace here, why not, and the fix; reading gdb's output,
//! the cause of its ptrace errors.

use clap::Parser;
use dbgpipe_core::cli::{self, Outcome};
use dbgpipe_core::output::{Format, Sink};
use dbgpipe_core::ptrace::filter::Filter;
use dbgpipe_core::ptrace::{diagnosis, facts, fixes, print, Paths};
use std::io::{self, Write};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
WHAT IT CHECKS:
  Yama's /proc/sys/kernel/yama/ptrace_scope (0 classic; 1 only descendants, so `gdb --args`
  works and `gdb -p` does not; 2 only with CAP_SYS_PTRACE; 3 nobody until reboot; or absent),
  CAP_SYS_PTRACE in the effective set, the seccomp mode (a container's filter refuses gdb's
  disabling of address-space randomisation), and whether this is a container (/proc/1/environ,
  /proc/self/mountinfo, /proc/1/cgroup). On the real /proc it also runs `gdb -batch -ex run
  --args true` when gdb is installed, which decides the verdict.

  Given gdb's output (files, or - for stdin) it names the cause and fix of `ptrace: Operation
  not permitted`, `Could not attach to process`, `Could not trace the inferior process` and
  `Error disabling address space randomization`, from this machine's facts. It also reads its
  own JSON lines back: their diagnoses are explained again with this machine's facts, lines of
  other tools are passed on. An input with no line of gdb's gets a one-line hint on stderr;
  an executable or binary input is an error.

CHANGES (root only; nothing changes without these flags):
  --apply    kernel.yama.ptrace_scope 1 or 2 -> 0 until reboot; the old value is kept in
             /run/dbgpipe/ptrace_scope.before for --revert
  --persist  writes /etc/sysctl.d/90-dbgpipe-ptrace.conf (ptrace_scope = 0 from the next boot)
  --revert   puts back what --apply replaced and removes --persist's file
  Inside a container these are the host's settings: use `run-in-image --ptrace` there.

OUTPUT (jsonl, the default; schema 2):
  {\"type\":\"change\",\"action\":\"apply\",\"path\":…,\"changed\":true,\"from\":\"1\",\"to\":\"0\",\"message\":…}
  {\"type\":\"diagnosis\",\"symptom\":\"trace_denied\",\"input\":\"<stdin>\",\"line\":3,\"count\":1,\"text\":…,
   \"blocking\":true,\"cause\":…,\"fix\":…}
  {\"type\":\"ptrace\",\"can_run\":true,\"can_attach\":false,\"aslr_disable\":true,\"verdict\":…,
   \"yama_ptrace_scope\":1,\"cap_sys_ptrace\":false,\"seccomp\":0,\"no_new_privs\":false,\"euid\":1000,
   \"in_container\":false,\"container\":null,\"container_evidence\":null,\"kernel\":…,\"probe\":\"ok\",
   \"probe_message\":…,\"reasons\":[…],\"fixes\":[…]}
  {\"type\":\"summary\",\"tool\":\"ptrace-fix\",\"schema\":2,\"can_run\":true,\"inputs\":1,\"lines\":3,
   \"long_lines\":0,\"symptom_lines\":2,\"gdb_lines\":1,\"record_lines\":0,\"passed_lines\":0,
   \"other_lines\":0,\"diagnoses\":2,\"blocking\":2,\"changes\":0}

EXAMPLES:
  ptrace-fix --format text
  gdb -batch -ex run --args python3.11-dbg t.py 2>&1 | ptrace-fix -
  sudo ptrace-fix --apply --persist
  sudo ptrace-fix --revert
  run-in-image -- target/debug/ptrace-fix --format text

LIMITS:
  gdb output lines over 1 MiB are cut; the /proc files read whole (status, ptrace_scope,
  osrelease) are refused over 1 MiB, which no real one reaches.

EXIT STATUS:
  0  gdb can run a program under it here, and the input shows no blocking ptrace error
  1  it cannot, or the input shows a blocking ptrace error
  2  bad usage, an unreadable input or /proc file, a change that failed (not root, read-only)";

/// Whether a debugger can trace here, why not, and the fix.
#[derive(Parser, Debug)]
#[command(name = "ptrace-fix", version, after_help = AFTER_HELP, max_term_width = 100)]
struct Args {
    /// gdb output to explain (`-`: standard input). None: only report on this machine.
    #[arg(value_name = "GDB_OUTPUT")]
    inputs: Vec<PathBuf>,

    /// Lower kernel.yama.ptrace_scope (1 or 2) to 0 until reboot. Root only.
    #[arg(long)]
    apply: bool,

    /// Write the sysctl.d file that sets ptrace_scope 0 at boot. Root only.
    #[arg(long)]
    persist: bool,

    /// Undo --apply and --persist.
    #[arg(long, conflicts_with_all = ["apply", "persist"])]
    revert: bool,

    /// Output format.
    #[arg(long, value_parser = Format::parser(&[Format::Jsonl, Format::Text]), default_value = "jsonl")]
    format: Format,

    /// Do not run gdb to check the verdict.
    #[arg(long)]
    no_probe: bool,

    /// Read /proc from DIR (a fake tree, for tests); gdb is then not run.
    #[arg(long, value_name = "DIR", default_value = "/proc")]
    proc_root: PathBuf,

    /// The sysctl.d directory --persist writes to.
    #[arg(long, value_name = "DIR", default_value = "/etc/sysctl.d")]
    sysctl_dir: PathBuf,

    /// The run-time directory where --apply keeps the value it replaced.
    #[arg(long, value_name = "DIR", default_value = "/run")]
    run_dir: PathBuf,
}

fn main() -> std::process::ExitCode {
    cli::main("ptrace-fix", || run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<Outcome> {
    let paths = Paths {
        proc_root: args.proc_root,
        sysctl_dir: args.sysctl_dir,
        run_dir: args.run_dir,
    };
    let mut facts = facts::gather(&paths)?;
    let mut out = print::printer(args.format, Sink::new(io::stdout().lock(), false))?;

    // Read the inputs before changing anything, so that a bad input changes nothing.
    let mut filter = Filter::new();
    if !args.inputs.is_empty() {
        for mut input in cli::open_inputs(&args.inputs)? {
            let counts = filter.read(&input.name, &mut input.reader, out.as_mut())?;
            if let Some(hint) = counts.hint(&input.name) {
                let _ = writeln!(io::stderr(), "ptrace-fix: {hint}");
            }
        }
    }

    let mut changes = Vec::new();
    if args.revert {
        changes.extend(fixes::revert(&paths, &facts)?);
    }
    if args.apply {
        changes.push(fixes::apply(&paths, &facts)?);
    }
    if args.persist {
        changes.push(fixes::persist(&paths, &facts)?);
    }
    if changes.iter().any(|c| c.changed) {
        facts = facts::gather(&paths)?;
    }
    let probe = if paths.is_real() && !args.no_probe {
        diagnosis::probe()
    } else {
        None
    };
    let summary = filter.finish(&facts, probe.as_ref(), &changes, out.as_mut())?;
    Ok(if summary.can_run && summary.blocking == 0 {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

#[cfg(test)]
mod tests {
    /// The flags are consistent, and every documented example parses with them.
    #[test]
    fn help_is_true() {
        dbgpipe_core::cli::assert_help_is_true::<super::Args>(
            "ptrace-fix",
            &[super::AFTER_HELP],
            4,
        );
    }
}
