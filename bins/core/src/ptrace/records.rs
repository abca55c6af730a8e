//! The records ptrace-fix prints, in this order: a `change` for each thing `--apply`,
//! `--persist` or `--revert` did (or found it need not do), a `diagnosis` for each ptrace
//! error in the gdb output given, one `ptrace` record for this machine, and the `summary`.
//!
//! Wire format: one JSON object per line, `type` first, keys in the order of the fields
//! below, absent values `null` (schema [`crate::output::SCHEMA`], documented in `SCHEMA.md`):
//! `{"type":"diagnosis","symptom":"trace_denied","input":"<stdin>","line":1,"count":1,…}`.
//! ptrace-fix reads its own `diagnosis` records back ([`crate::ptrace::filter`]).

use crate::ptrace::gdb::Symptom;
use serde::{Deserialize, Serialize};

/// Every record ptrace-fix prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A change `--apply`, `--persist` or `--revert` made or found unneeded.
    Change(Change),
    /// A ptrace error in gdb's output, its cause and fix.
    Diagnosis(Diagnosis),
    /// This machine: can gdb trace here, why, and what to do.
    Ptrace(Report),
    /// The last line.
    Summary(Summary),
}

/// Which flag made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `--apply`: ptrace_scope lowered until reboot.
    Apply,
    /// `--persist`: the sysctl.d file.
    Persist,
    /// `--revert`: both undone.
    Revert,
}

impl Action {
    /// Its name, as in records and flags.
    pub fn name(self) -> &'static str {
        match self {
            Action::Apply => "apply",
            Action::Persist => "persist",
            Action::Revert => "revert",
        }
    }
}

/// One thing `--apply`, `--persist` or `--revert` did, or found it need not do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The flag.
    pub action: Action,
    /// The file.
    pub path: String,
    /// Whether it changed.
    pub changed: bool,
    /// The value before (ptrace_scope, or the file's content's setting).
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
    /// What happened, and how to undo it.
    pub message: String,
}

/// One symptom found in the input, explained with this machine's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The symptom.
    pub symptom: Symptom,
    /// The input it was first found in.
    pub input: String,
    /// Its first line there.
    pub line: u64,
    /// How many lines showed it.
    pub count: u64,
    /// The first line, trimmed.
    pub text: String,
    /// Whether it stops the debugger.
    pub blocking: bool,
    /// Why, given what this machine says.
    pub cause: String,
    /// What to do.
    pub fix: String,
}

/// What running gdb here showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeResult {
    /// A program ran to its end under gdb.
    Ok,
    /// It did not.
    Blocked,
}

/// This machine: the `ptrace` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// gdb can run a program under it: the exit status.
    pub can_run: bool,
    /// gdb can attach to a running process of the same user.
    pub can_attach: bool,
    /// gdb can disable address-space randomisation.
    pub aslr_disable: bool,
    /// One sentence.
    pub verdict: String,
    /// Yama's ptrace_scope, null when absent.
    pub yama_ptrace_scope: Option<u8>,
    /// CAP_SYS_PTRACE in the effective set.
    pub cap_sys_ptrace: bool,
    /// Seccomp mode.
    pub seccomp: Option<u8>,
    /// no_new_privs.
    pub no_new_privs: Option<bool>,
    /// Effective uid.
    pub euid: Option<u32>,
    /// Whether this runs in a container.
    pub in_container: bool,
    /// Its kind, null outside.
    pub container: Option<String>,
    /// What says so.
    pub container_evidence: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// `ok` or `blocked` when gdb was run here, null when not (fake trees, `--no-probe`, no
    /// gdb).
    pub probe: Option<ProbeResult>,
    /// gdb's line about it.
    pub probe_message: Option<String>,
    /// The facts in words.
    pub reasons: Vec<String>,
    /// What to do.
    pub fixes: Vec<String>,
}

/// The last record. The input's lines add up:
/// `lines = symptom_lines + gdb_lines + record_lines + passed_lines + other_lines`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// `ptrace-fix`.
    pub tool: String,
    /// [`crate::output::SCHEMA`].
    pub schema: u32,
    /// The `ptrace` record's `can_run`.
    pub can_run: bool,
    /// Inputs read (gdb output, or ptrace-fix's records).
    pub inputs: u64,
    /// Lines read, over all inputs.
    pub lines: u64,
    /// Lines longer than [`crate::input::MAX_LINE`], cut there (and counted in `lines`).
    pub long_lines: u64,
    /// Lines in which gdb says ptrace was refused.
    pub symptom_lines: u64,
    /// Other lines gdb prints (frames, signal reports, its chatter).
    pub gdb_lines: u64,
    /// ptrace-fix's own records read back (diagnoses merged into this run's; the earlier
    /// run's `change`, `ptrace` and `summary` records are replaced by this run's).
    pub record_lines: u64,
    /// JSON lines of other types or tools, passed on unchanged.
    pub passed_lines: u64,
    /// The rest: the program's own output, blank lines, text that is no gdb output.
    pub other_lines: u64,
    /// `diagnosis` records: one per symptom found.
    pub diagnoses: u64,
    /// Those whose symptom stops the debugger.
    pub blocking: u64,
    /// `change` records that changed something.
    pub changes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as ptrace-fix writes them, read and written back unchanged.
    #[test]
    fn records_read_back_to_the_same_line() {
        for line in [
            r#"{"type":"change","action":"apply","path":"/proc/sys/kernel/yama/ptrace_scope","changed":true,"from":"1","to":"0","message":"m"}"#,
            r#"{"type":"diagnosis","symptom":"trace_denied","input":"<stdin>","line":3,"count":1,"text":"Could not trace the inferior process.","blocking":true,"cause":"c","fix":"f"}"#,
            r#"{"type":"ptrace","can_run":true,"can_attach":false,"aslr_disable":true,"verdict":"v","yama_ptrace_scope":1,"cap_sys_ptrace":false,"seccomp":0,"no_new_privs":false,"euid":1000,"in_container":false,"container":null,"container_evidence":null,"kernel":"6.1.0","probe":"ok","probe_message":"[Inferior 1 (process 5) exited normally]","reasons":["r"],"fixes":[]}"#,
            r#"{"type":"summary","tool":"ptrace-fix","schema":2,"can_run":true,"inputs":1,"lines":4,"long_lines":0,"symptom_lines":1,"gdb_lines":2,"record_lines":0,"passed_lines":0,"other_lines":1,"diagnoses":1,"blocking":1,"changes":0}"#,
        ] {
            let record: Record = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&record).unwrap(), line);
        }
    }
}
