//! rss-rounds' verdicts and summary in words, for a person: the confidence statement a
//! verdict record carries, the text report's block per series, and the one-line notes that
//! CSV output writes on standard error.
//!
//! Everything here is made from the records alone (plus, for the statement, the analysis
//! being turned into one), so that a report read back from JSON lines words its verdicts as
//! the run that judged them did.

use crate::rounds::filter::{MAX_POINTS, MAX_SERIES};
use crate::rounds::records::{Site, SiteFrame, Summary, Verdict};
use crate::rounds::trend::{self, fmt_num, fmt_p, fmt_signed as signed, Analysis};

fn per_round_unit(unit: &str) -> String {
    if unit.is_empty() {
        "per round".to_string()
    } else {
        format!("{unit}/round")
    }
}

/// The confidence statement: what the interval says, in words.
pub fn statement(unit: &str, a: &Analysis, alpha: f64) -> String {
    let conf = fmt_num((1.0 - alpha) * 100.0);
    let unit = per_round_unit(unit);
    match (a.verdict, a.ci_low, a.ci_high, a.p_value) {
        (trend::Verdict::Insufficient, ..) => "too few points to say anything".to_string(),
        (trend::Verdict::Leak, Some(low), _, _) if low > 0.0 => {
            format!("with {conf}% confidence it grows by at least {} {unit}", fmt_num(low))
        }
        // A level that moves in a few steps makes most pairwise slopes exactly 0, so Sen's
        // interval can reach 0 although the rank test is sure of the rise.
        (trend::Verdict::Leak, _, _, Some(p)) => format!(
            "with {conf}% confidence it grows ({}), by about {} {unit}; it moves in steps, so the slope's interval reaches 0",
            fmt_p(p),
            fmt_num(a.growth_per_round.unwrap_or(0.0))
        ),
        (trend::Verdict::NoLeak, Some(_), Some(high), Some(p)) if p >= alpha => format!(
            "no upward trend at {conf}% confidence ({}); with {conf}% confidence it grows by at most {} {unit}",
            fmt_p(p),
            fmt_num(high.max(0.0))
        ),
        (trend::Verdict::NoLeak, Some(low), Some(high), _) => format!(
            "with {}% confidence it grows by {} to {} {unit}, which the rules do not call a leak",
            fmt_num((1.0 - 2.0 * alpha) * 100.0),
            fmt_num(low),
            fmt_num(high)
        ),
        _ => "no trend to speak of".to_string(),
    }
}

fn baseline_text(v: &Verdict) -> String {
    match &v.baseline_source {
        Some(src) => format!(
            "; baseline {} {} from {src}",
            fmt_num(v.baseline),
            per_round_unit(&v.unit)
        ),
        None => String::new(),
    }
}

fn growth_text(v: &Verdict) -> String {
    let unit = if v.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", v.unit)
    };
    match (v.growth_per_round, v.ci_low, v.ci_high) {
        (Some(g), Some(lo), Some(hi)) => format!(
            "{}{unit}/round ({} per 1000 rounds; {}% interval {} to {})",
            signed(g),
            signed(g * 1000.0),
            fmt_num(v.ci_level * 100.0),
            fmt_num(lo),
            fmt_num(hi)
        ),
        _ => "no estimate".to_string(),
    }
}

/// One line per series: the note CSV output writes on standard error.
pub fn verdict_line(v: &Verdict) -> String {
    format!(
        "{} ({}): {}: {}; {}{}",
        v.series,
        v.kind.as_str(),
        v.verdict.as_str().replace('_', " "),
        v.reason,
        growth_text(v),
        baseline_text(v)
    )
}

/// The verdict of one series for a person: a head line and indented details.
pub fn text(v: &Verdict) -> String {
    let head = match v.verdict {
        trend::Verdict::Leak => "LEAK",
        trend::Verdict::NoLeak => "no leak",
        trend::Verdict::Insufficient => "insufficient",
    };
    let unit = if v.unit.is_empty() {
        String::new()
    } else {
        format!(", {}", v.unit)
    };
    let mut t = format!(
        "{} ({}{unit}): {head}\n  {}\n",
        v.series,
        v.kind.as_str(),
        v.reason
    );
    if v.verdict != trend::Verdict::Insufficient {
        t.push_str(&format!("  growth {}\n", growth_text(v)));
        let mut detail = format!(
            "  judged {} of {} points ({} warm-up",
            v.judged_points, v.points, v.warmup_points
        );
        if let (Some(lo), Some(hi)) = (v.first_round, v.last_round) {
            detail.push_str(&format!(", rounds {} to {}", fmt_num(lo), fmt_num(hi)));
        }
        detail.push(')');
        detail.push_str(&baseline_text(v));
        if let Some(pct) = v.legacy_half_pct {
            detail.push_str(&format!(
                "; legacy half-point {}{}%{}",
                if pct > 0.0 { "+" } else { "" },
                fmt_num(pct),
                if pct > 2.0 {
                    " (legacy: leak)"
                } else {
                    " (legacy: no leak)"
                }
            ));
        }
        t.push_str(&detail);
        t.push('\n');
    }
    t.push_str(&format!("  {}\n", v.statement));
    t
}

/// A frame as a person reads it: `leak_definite (dbgpipe_example.c:50) [project]`.
fn frame_text(f: &SiteFrame) -> String {
    let fr = &f.frame;
    let mut t = fr.identity().to_string();
    match (fr.file_name(), fr.line, &fr.object) {
        (Some(file), Some(line), _) => t.push_str(&format!(" ({file}:{line})")),
        (Some(file), None, _) => t.push_str(&format!(" ({file})")),
        (None, _, Some(object)) => t.push_str(&format!(
            " (in {})",
            object.rsplit('/').next().unwrap_or(object)
        )),
        _ => {}
    }
    t.push_str(&format!(" [{}]", f.class.as_str()));
    t
}

/// A growing allocation site as one line: the note CSV output writes on standard error.
pub fn site_line(site: &Site) -> String {
    let named = site
        .frames
        .get(site.site_frame)
        .map_or_else(|| site.series.clone(), frame_text);
    format!(
        "growing allocation site {named}: {} B/round, {} B at the last detailed snapshot \
         ({} stack{}; series {})",
        signed(site.growth_per_round),
        site.bytes,
        site.stacks,
        if site.stacks == 1 { "" } else { "s" },
        site.series
    )
}

/// Frames of a site's stack shown in text, from its site frame on.
const SITE_FRAMES_SHOWN: usize = 6;

/// A growing allocation site for a person: the line, then its stack from the allocation
/// outwards, cut after a few frames past the site frame.
pub fn site_text(site: &Site) -> String {
    let mut t = format!(
        "{}
",
        site_line(site)
    );
    let end = (site.site_frame + SITE_FRAMES_SHOWN).min(site.frames.len());
    for (i, f) in site.frames[..end].iter().enumerate() {
        let mark = if i == site.site_frame {
            "  <- site"
        } else {
            ""
        };
        t.push_str(&format!(
            "  {} {}{mark}\n",
            if i == 0 { "at" } else { "by" },
            frame_text(f)
        ));
    }
    if end < site.frames.len() {
        t.push_str(&format!("  … {} more frames\n", site.frames.len() - end));
    }
    t
}

/// The summary as one line.
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{}: {} of {} series leaking",
        s.verdict.as_str().replace('_', " "),
        s.leaks,
        s.series
    );
    if s.insufficient > 0 {
        line.push_str(&format!(", {} with too few points", s.insufficient));
    }
    line.push_str(&format!("; {} values", s.values));
    if s.lines > 0 {
        line.push_str(&format!(
            " from {} lines ({} unmatched",
            s.lines, s.unmatched
        ));
        if s.long_lines > 0 {
            line.push_str(&format!(", {} cut at 1 MiB", s.long_lines));
        }
        if s.own_lines > 0 {
            line.push_str(&format!(", {} from its own report", s.own_lines));
        }
        if s.massif_lines > 0 {
            line.push_str(&format!(
                ", {} of Massif's: {} snapshots, {} growing sites",
                s.massif_lines, s.snapshots, s.sites
            ));
        }
        if s.foreign_records > 0 {
            line.push_str(&format!(
                ", {} records of other tools passed over",
                s.foreign_records
            ));
        }
        line.push(')');
    }
    if s.dropped_values > 0 {
        line.push_str(&format!(
            "; {} values dropped over the caps ({MAX_SERIES} series, {MAX_POINTS} points)",
            s.dropped_values
        ));
    }
    if let Some(c) = &s.command {
        match (c.exit_code, c.signal) {
            (Some(code), _) => line.push_str(&format!("; command exited with {code}")),
            (None, Some(sig)) => line.push_str(&format!("; command killed by signal {sig}")),
            _ => {}
        }
    }
    if let Some(p) = &s.plot {
        line.push_str(&format!("; plot in {p}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rounds::trend::Kind;

    fn leak() -> Verdict {
        Verdict {
            series: "refs".into(),
            kind: Kind::Delta,
            unit: "refs".into(),
            verdict: trend::Verdict::Leak,
            reason: "still growing".into(),
            statement: "with 99% confidence it grows by at least 1 refs/round".into(),
            baseline: 2.0,
            baseline_source: Some("--baseline".into()),
            points: 100,
            warmup_points: 20,
            judged_points: 80,
            bins: 80,
            first_round: Some(20.0),
            last_round: Some(99.0),
            growth_per_round: Some(1.0),
            growth_per_1000: Some(1000.0),
            ci_low: Some(1.0),
            ci_high: Some(1.0),
            ci_level: 0.98,
            growth_total: Some(79.0),
            growth_pct: None,
            late_growth_per_round: Some(1.0),
            mk_s: None,
            kendall_tau: None,
            mk_z: None,
            mk_p: None,
            batch_p: None,
            p_value: Some(1e-13),
            autocorrelation_factor: None,
            step_round: None,
            step_height: None,
            legacy_half_pct: None,
            legacy_leak: None,
        }
    }

    #[test]
    fn a_verdict_in_words() {
        assert_eq!(
            text(&leak()),
            "refs (delta, refs): LEAK\n  still growing\n  growth +1 refs/round (+1000 per \
             1000 rounds; 98% interval 1 to 1)\n  judged 80 of 100 points (20 warm-up, rounds \
             20 to 99); baseline 2 refs/round from --baseline\n  with 99% confidence it grows \
             by at least 1 refs/round\n"
        );
        assert_eq!(
            verdict_line(&leak()),
            "refs (delta): leak: still growing; +1 refs/round (+1000 per 1000 rounds; 98% \
             interval 1 to 1); baseline 2 refs/round from --baseline"
        );
    }

    #[test]
    fn the_summary_counts_what_was_passed_over() {
        let s = Summary {
            lines: 13,
            values: 7,
            unmatched: 1,
            own_lines: 3,
            foreign_records: 2,
            dropped_values: 3,
            ..Summary::default()
        };
        assert_eq!(
            summary_line(&s),
            "insufficient: 0 of 0 series leaking; 7 values from 13 lines (1 unmatched, 3 from \
             its own report, 2 records of other tools passed over); 3 values dropped over the \
             caps (1000 series, 8000000 points)"
        );
    }
}
