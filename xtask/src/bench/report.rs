//! The bench's results: rows of medians and ratios, the targets, and their rendering as a
//! terminal table and as BENCHMARKS.md.

use std::fmt::Write as _;

/// Who a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A dbgpipe tool.
    Ours,
    /// The tool people use instead.
    Peer,
    /// A scan that parses nothing: the least time the job can take.
    Floor,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Ours => "dbgpipe",
            Role::Peer => "peer",
            Role::Floor => "floor",
        }
    }
}

/// What a row holds.
#[derive(Debug, Clone)]
pub enum Figure {
    /// Timed runs.
    Timed {
        /// Median wall-clock seconds.
        median: f64,
        /// Fastest run.
        min: f64,
        /// Slowest run.
        max: f64,
        /// Timed runs.
        runs: usize,
        /// Largest peak RSS over the runs, KiB.
        max_rss_kib: Option<u64>,
    },
    /// A figure computed from other rows (the harness's time per round).
    Derived(String),
    /// Not measured, and why.
    Skipped(String),
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The group it belongs to (one input, one job).
    pub group: String,
    /// Short name: the tool and what is special about this run.
    pub name: String,
    /// Ours, a peer, or the floor.
    pub role: Role,
    /// The command, as typed (paths shortened).
    pub command: String,
    /// The figure.
    pub figure: Figure,
    /// Input units per second, e.g. `412 MB/s`.
    pub throughput: Option<String>,
    /// This row's median over a reference row's: (ratio, name of the reference).
    pub ratio: Option<(f64, String)>,
}

impl Row {
    /// The median, for timed rows.
    pub fn median(&self) -> Option<f64> {
        match self.figure {
            Figure::Timed { median, .. } => Some(median),
            _ => None,
        }
    }

    /// The peak RSS in KiB, for timed rows where it was measured.
    pub fn max_rss_kib(&self) -> Option<u64> {
        match self.figure {
            Figure::Timed { max_rss_kib, .. } => max_rss_kib,
            _ => None,
        }
    }
}

/// One of the targets, as measured in this run.
#[derive(Debug, Clone)]
pub struct Target {
    /// What is aimed at, e.g. `vg-filter within 3× of the grep floor`.
    pub goal: String,
    /// What was measured.
    pub measured: String,
    /// Met, missed, or not measured (`None`).
    pub met: Option<bool>,
}

/// A cross-check: two tools, modes or formats given the same input must give the same
/// answer. One that disagrees fails the bench, whatever the times.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was compared, with the numbers.
    pub text: String,
    /// Whether the answers are the same.
    pub agrees: bool,
}

impl Check {
    /// A check of `text` that holds when `agrees`.
    pub fn new(text: String, agrees: bool) -> Check {
        Check { text, agrees }
    }
}

/// The top of a callgrind profile, made where a target is missed.
#[derive(Debug, Clone)]
pub struct Profile {
    /// What was profiled and why.
    pub title: String,
    /// The command.
    pub command: String,
    /// Instructions executed, and per unit of input.
    pub summary: String,
    /// (percent of all instructions, function), by self cost.
    pub top: Vec<(String, String)>,
    /// dbgpipe's own functions by inclusive cost (what they and their callees execute).
    pub inclusive: Vec<(String, String)>,
    /// What the hot spots found mean.
    pub notes: Vec<String>,
}

/// Everything one bench run produced.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Quick mode (small inputs, one run).
    pub quick: bool,
    /// When, UTC.
    pub date: String,
    /// (what, value): cores, CPU, memory, kernel, OS.
    pub machine: Vec<(String, String)>,
    /// (tool, version line).
    pub tools: Vec<(String, String)>,
    /// (input, how it was made and what it holds).
    pub inputs: Vec<(String, String)>,
    /// The table.
    pub rows: Vec<Row>,
    /// The targets.
    pub targets: Vec<Target>,
    /// Cross-checks that the tools read the same thing (record counts, identical output).
    pub checks: Vec<Check>,
    /// What limits each figure.
    pub limits: Vec<String>,
    /// Profiles of missed targets.
    pub profiles: Vec<Profile>,
    /// Sections or rows left out, and why.
    pub skipped: Vec<String>,
    /// How the run was made: runs per command, warm-up, timer.
    pub method: Vec<String>,
}

/// `1.234 s`, `12.3 ms`.
pub fn seconds(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.1} s")
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.01 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

/// `3.2 MiB`, from KiB.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `12.3×`.
pub fn times(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The cells of one row: name, role, median, range, peak RSS, throughput, ratio.
fn cells(row: &Row) -> [String; 7] {
    let (median, range, rss) = match &row.figure {
        Figure::Timed {
            median,
            min,
            max,
            runs,
            max_rss_kib,
        } => (
            seconds(*median),
            format!("{}–{} ({runs})", seconds(*min), seconds(*max)),
            max_rss_kib.map(mib).unwrap_or_else(|| "n/a".into()),
        ),
        Figure::Derived(v) => (v.clone(), String::new(), String::new()),
        Figure::Skipped(why) => (format!("skipped: {why}"), String::new(), String::new()),
    };
    [
        row.name.clone(),
        row.role.label().to_string(),
        median,
        range,
        rss,
        row.throughput.clone().unwrap_or_default(),
        row.ratio
            .as_ref()
            .map(|(r, of)| format!("{} {of}", times(*r)))
            .unwrap_or_default(),
    ]
}

const HEADERS: [&str; 7] = [
    "tool",
    "",
    "median",
    "min–max (runs)",
    "peak RSS",
    "throughput",
    "time ÷ reference",
];

fn groups(rows: &[Row]) -> Vec<(&str, Vec<&Row>)> {
    let mut out: Vec<(&str, Vec<&Row>)> = Vec::new();
    for row in rows {
        match out.iter_mut().find(|(g, _)| *g == row.group) {
            Some((_, v)) => v.push(row),
            None => out.push((&row.group, vec![row])),
        }
    }
    out
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "not measured",
    }
}

impl Report {
    /// The table for a terminal: aligned columns, one block per group, then the targets.
    pub fn table(&self) -> String {
        let mut out = String::new();
        // Skipped and derived rows are a sentence, not columns: they do not set the widths.
        let all: Vec<[String; 7]> = self
            .rows
            .iter()
            .filter(|r| matches!(r.figure, Figure::Timed { .. }))
            .map(cells)
            .collect();
        let mut width = HEADERS.map(|h| h.chars().count());
        for c in &all {
            for (w, cell) in width.iter_mut().zip(c) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |c: &[String; 7]| {
            let mut s = String::new();
            for (i, (cell, w)) in c.iter().zip(width).enumerate() {
                let pad = w.saturating_sub(cell.chars().count());
                // Names left, figures right: figures line up on their units.
                if i < 2 {
                    s.push_str(cell);
                    s.push_str(&" ".repeat(pad));
                } else {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                }
                s.push_str("  ");
            }
            s.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(&HEADERS.map(String::from)));
        for (group, rows) in groups(&self.rows) {
            let _ = writeln!(out, "== {group}");
            for row in rows {
                let c = cells(row);
                match &row.figure {
                    Figure::Timed { .. } => {
                        let _ = writeln!(out, "{}", line(&c));
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "{:<w0$}  {:<w1$}  {}",
                            c[0],
                            c[1],
                            c[2],
                            w0 = width[0],
                            w1 = width[1]
                        );
                    }
                }
            }
        }
        let _ = writeln!(out, "\ntargets:");
        for t in &self.targets {
            let _ = writeln!(out, "  [{}] {}: {}", verdict(t.met), t.goal, t.measured);
        }
        for s in &self.skipped {
            let _ = writeln!(out, "skipped: {s}");
        }
        out
    }

    /// BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "<!-- Generated by `cargo xtask bench{}` on {}. Do not edit: rerun the command. -->\n",
            if self.quick { " --quick" } else { "" },
            self.date
        );
        let _ = writeln!(
            md,
            "This file is generated by `cargo xtask bench{}` (xtask/src/bench.rs) on {}; every \
             figure below was measured by that run, on the machine described here. Rerun the \
             command to refresh it; do not edit it by hand.{}\n",
            if self.quick { " --quick" } else { "" },
            self.date,
            if self.quick {
                " **Quick mode**: tiny inputs and one run per command, only to prove that the \
                 bench works; these figures say nothing about speed."
            } else {
                ""
            }
        );
        let _ = writeln!(md, "## Targets\n");
        let _ = writeln!(md, "| target | measured | verdict |\n|---|---|---|");
        for t in &self.targets {
            let _ = writeln!(md, "| {} | {} | {} |", t.goal, t.measured, verdict(t.met));
        }
        let _ = writeln!(md, "\n## Results\n");
        let _ = writeln!(
            md,
            "Wall-clock medians of whole-process runs; \"time ÷ reference\" is this row's median \
             over the named row's, from the same run (below 1: faster than the reference).\n"
        );
        for (group, rows) in groups(&self.rows) {
            let _ = writeln!(md, "### {group}\n");
            let _ = writeln!(md, "| {} |", HEADERS.join(" | "));
            let _ = writeln!(md, "|{}", "---|".repeat(HEADERS.len()));
            for row in &rows {
                let c = cells(row);
                let _ = writeln!(md, "| {} |", c.map(|x| x.replace('|', "\\|")).join(" | "));
            }
            let _ = writeln!(md, "\nCommands:\n");
            for row in &rows {
                if !row.command.is_empty() {
                    let _ = writeln!(md, "- {}: `{}`", row.name, row.command);
                }
            }
            let _ = writeln!(md);
        }
        if !self.checks.is_empty() {
            let _ = writeln!(md, "## Same input, same answer\n");
            for c in &self.checks {
                let mark = if c.agrees { "" } else { "**DISAGREES:** " };
                let _ = writeln!(md, "- {mark}{}", c.text);
            }
            let _ = writeln!(md);
        }
        if !self.profiles.is_empty() {
            let _ = writeln!(md, "## Profiles\n");
            let _ = writeln!(
                md,
                "Made where a target is missed, where the like-for-like XML comparison falls \
                 under its 20×, or with `--profile`. `valgrind --tool=callgrind` counts \
                 instructions, so these figures do not depend on what else the machine was \
                 doing.\n"
            );
            for p in &self.profiles {
                let _ = writeln!(md, "### {}\n", p.title);
                let _ = writeln!(md, "`{}`: {}\n", p.command, p.summary);
                let _ = writeln!(md, "| self cost | function |\n|---:|---|");
                for (pct, f) in &p.top {
                    let _ = writeln!(md, "| {pct} | `{}` |", f.replace('|', "\\|"));
                }
                if !p.inclusive.is_empty() {
                    let _ = writeln!(
                        md,
                        "\n| inclusive cost | dbgpipe function (with what it calls) |\n|---:|---|"
                    );
                    for (pct, f) in &p.inclusive {
                        let _ = writeln!(md, "| {pct} | `{}` |", f.replace('|', "\\|"));
                    }
                }
                if !p.notes.is_empty() {
                    let _ = writeln!(md, "\nWhat remains:\n");
                    for n in &p.notes {
                        let _ = writeln!(md, "- {n}");
                    }
                }
                let _ = writeln!(md);
            }
        }
        let _ = writeln!(md, "## Inputs\n");
        for (name, what) in &self.inputs {
            let _ = writeln!(md, "- **{name}**: {what}");
        }
        let _ = writeln!(md, "\n## Method\n");
        for m in &self.method {
            let _ = writeln!(md, "- {m}");
        }
        let _ = writeln!(md, "\n## What limits each figure\n");
        for l in &self.limits {
            let _ = writeln!(md, "- {l}");
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(md, "\n## Left out\n");
            for s in &self.skipped {
                let _ = writeln!(md, "- {s}");
            }
        }
        let _ = writeln!(md, "\n## Machine\n");
        let _ = writeln!(md, "| | |\n|---|---|");
        for (k, v) in &self.machine {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        let _ = writeln!(md, "\n## Tool versions\n");
        let _ = writeln!(md, "| tool | version |\n|---|---|");
        for (k, v) in &self.tools {
            let _ = writeln!(md, "| {k} | {} |", v.replace('|', "\\|"));
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(seconds(12.345), "12.3 s");
        assert_eq!(seconds(1.2345), "1.23 s");
        assert_eq!(seconds(0.0123), "12.3 ms");
        assert_eq!(seconds(0.00123), "1.23 ms");
        assert_eq!(times(123.4), "123×");
        assert_eq!(times(12.34), "12.3×");
        assert_eq!(times(1.234), "1.23×");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(mib(2048), "2.0 MiB");
    }
}
