//! ptrace-fix's printers: its short text for a person ([`Text`]), and [`printer`], which
//! picks the one for `--format` (JSON lines through [`JsonLines`]).
//!
//! The text, for the records in the order ptrace-fix writes them:
//! ```text
//! apply: changed: kernel.yama.ptrace_scope 1 -> 0 until reboot; undo: …
//! gdb said: Could not trace the inferior process. (<stdin>:1)
//!   cause: …
//!   fix:   …
//! ptrace-fix: gdb can run programs and attach to running processes here
//!   Yama ptrace_scope  absent
//!   CAP_SYS_PTRACE     yes
//!   seccomp            0 (none)
//!   container          no
//!   gdb run here       ok: [Inferior 1 (process 20248) exited normally]
//! fix: …
//! ```
//! The summary has no text: everything it counts is shown above it.

use crate::output::{Format, JsonLines, Printer, Sink};
use crate::ptrace::records::{Change, Diagnosis, ProbeResult, Record, Report};
use crate::Error;
use std::io::{self, Write};

/// The printer for `format` (text or JSON lines), writing to `sink`.
pub fn printer<'a, W: Write + 'a>(
    format: Format,
    sink: Sink<W>,
) -> Result<Box<dyn Printer<Record> + 'a>, Error> {
    match format {
        Format::Text => Ok(Box::new(Text { sink })),
        Format::Jsonl => Ok(Box::new(JsonLines::new(sink))),
        other => Err(Error::at(
            "--format",
            None,
            format!("ptrace-fix has no {other:?} output: text or jsonl"),
        )),
    }
}

/// The text printer; see the module documentation.
pub struct Text<W: Write> {
    sink: Sink<W>,
}

impl<W: Write> Text<W> {
    /// A printer writing to `sink`.
    pub fn new(sink: Sink<W>) -> Self {
        Text { sink }
    }
}

impl<W: Write> Printer<Record> for Text<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        let text = match record {
            Record::Change(c) => change(c),
            Record::Diagnosis(d) => diagnosis(d),
            Record::Ptrace(r) => report(r),
            Record::Summary(_) => return Ok(()),
        };
        self.sink.text(&text)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

fn change(c: &Change) -> String {
    format!(
        "{}: {}: {}\n",
        c.action.name(),
        if c.changed { "changed" } else { "unchanged" },
        c.message
    )
}

fn diagnosis(d: &Diagnosis) -> String {
    let times = if d.count > 1 {
        format!(", {} times", d.count)
    } else {
        String::new()
    };
    format!(
        "gdb said: {} ({}:{}{times})\n  cause: {}\n  fix:   {}\n",
        d.text, d.input, d.line, d.cause, d.fix
    )
}

fn report(report: &Report) -> String {
    let mut s = format!("ptrace-fix: {}\n", report.verdict);
    let yes = |b: bool| if b { "yes" } else { "no" };
    s.push_str(&format!(
        "  Yama ptrace_scope  {}\n",
        report
            .yama_ptrace_scope
            .map(|v| v.to_string())
            .unwrap_or_else(|| "absent".into())
    ));
    s.push_str(&format!(
        "  CAP_SYS_PTRACE     {}\n",
        yes(report.cap_sys_ptrace)
    ));
    s.push_str(&format!(
        "  seccomp            {}\n",
        match report.seccomp {
            Some(0) => "0 (none)",
            Some(1) => "1 (strict)",
            Some(_) => "2 (filter)",
            None => "unknown",
        }
    ));
    s.push_str(&format!(
        "  container          {}\n",
        report.container.as_deref().unwrap_or("no")
    ));
    if let (Some(p), Some(m)) = (report.probe, &report.probe_message) {
        let p = match p {
            ProbeResult::Ok => "ok",
            ProbeResult::Blocked => "blocked",
        };
        s.push_str(&format!("  gdb run here       {p}: {m}\n"));
    }
    for f in &report.fixes {
        s.push_str(&format!("fix: {f}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptrace::gdb::Symptom;
    use crate::ptrace::records::{Action, Summary};

    fn text(records: &[Record]) -> String {
        let mut out = Vec::new();
        {
            let mut p = printer(Format::Text, Sink::new(&mut out, false)).unwrap();
            for r in records {
                p.record(r).unwrap();
            }
            p.finish().unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_text_of_each_record() {
        let records = [
            Record::Change(Change {
                action: Action::Apply,
                path: "/p".into(),
                changed: true,
                from: Some("1".into()),
                to: Some("0".into()),
                message: "1 -> 0".into(),
            }),
            Record::Diagnosis(Diagnosis {
                symptom: Symptom::PtraceEperm,
                input: "<stdin>".into(),
                line: 3,
                count: 2,
                text: "ptrace: Operation not permitted.".into(),
                blocking: true,
                cause: "C".into(),
                fix: "F".into(),
            }),
            Record::Ptrace(Report {
                can_run: true,
                can_attach: true,
                aslr_disable: false,
                verdict: "gdb can run programs".into(),
                yama_ptrace_scope: None,
                cap_sys_ptrace: false,
                seccomp: Some(2),
                no_new_privs: Some(true),
                euid: Some(0),
                in_container: true,
                container: Some("docker".into()),
                container_evidence: Some("x".into()),
                kernel: None,
                probe: Some(ProbeResult::Ok),
                probe_message: Some("[Inferior 1 (process 13) exited normally]".into()),
                reasons: vec!["r".into()],
                fixes: vec!["harmless".into()],
            }),
            Record::Summary(Summary {
                tool: "ptrace-fix".into(),
                schema: 2,
                can_run: true,
                inputs: 1,
                lines: 1,
                long_lines: 0,
                symptom_lines: 1,
                gdb_lines: 0,
                record_lines: 0,
                passed_lines: 0,
                other_lines: 0,
                diagnoses: 1,
                blocking: 1,
                changes: 1,
            }),
        ];
        assert_eq!(
            text(&records),
            "apply: changed: 1 -> 0\n\
             gdb said: ptrace: Operation not permitted. (<stdin>:3, 2 times)\n  cause: C\n  fix:   F\n\
             ptrace-fix: gdb can run programs\n  Yama ptrace_scope  absent\n  CAP_SYS_PTRACE     no\n  \
             seccomp            2 (filter)\n  container          docker\n  \
             gdb run here       ok: [Inferior 1 (process 13) exited normally]\nfix: harmless\n"
        );
        assert!(printer(Format::Csv, Sink::new(Vec::new(), false)).is_err());
    }
}
