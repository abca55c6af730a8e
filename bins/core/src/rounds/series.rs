//! One series as the filter keeps it: its points (16 bytes each, the only thing that grows
//! with the input), its kind, unit and baseline, and its verdict record once judged.

use crate::rounds::records::{self, Round};
use crate::rounds::trend::{self, Analysis, Config, Kind, SeriesRef};
use crate::rounds::words;

/// A per-round baseline, as given on the command line (files already read).
#[derive(Debug, Clone, PartialEq)]
pub enum Baseline {
    /// For every delta series.
    AllDeltas(f64),
    /// For one series (a level series too).
    Series {
        /// Series name.
        series: String,
        /// Per-round growth to subtract.
        per_round: f64,
        /// Where it came from, for the records (`--baseline`, a file name).
        source: String,
    },
}

/// One series as read.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name.
    pub name: String,
    /// Level or delta.
    pub kind: Kind,
    /// Its unit (may be empty).
    pub unit: String,
    /// Round of each point.
    pub rounds: Vec<f64>,
    /// Raw value of each point.
    pub values: Vec<f64>,
    /// Per-round growth subtracted.
    pub baseline: f64,
    /// Where the baseline came from (`None`: no baseline).
    pub baseline_source: Option<String>,
    /// Number given to the next point without a round.
    next_round: u64,
}

impl Series {
    /// An empty series with the command line's baseline for it, if any (the first that
    /// names it, else `AllDeltas` for a delta series).
    pub fn new(name: &str, kind: Kind, unit: &str, baselines: &[Baseline]) -> Series {
        let mut series = Series {
            name: name.to_string(),
            kind,
            unit: unit.to_string(),
            rounds: Vec::new(),
            values: Vec::new(),
            baseline: 0.0,
            baseline_source: None,
            next_round: 0,
        };
        for b in baselines {
            match b {
                Baseline::Series {
                    series: n,
                    per_round,
                    source,
                } if n == name => {
                    series.baseline = *per_round;
                    series.baseline_source = Some(source.clone());
                }
                Baseline::AllDeltas(v)
                    if kind == Kind::Delta && series.baseline_source.is_none() =>
                {
                    series.baseline = *v;
                    series.baseline_source = Some("--baseline".to_string());
                }
                _ => {}
            }
        }
        series
    }

    /// The view the trend test takes.
    pub fn as_ref(&self) -> SeriesRef<'_> {
        SeriesRef {
            rounds: &self.rounds,
            values: &self.values,
            kind: self.kind,
            baseline: self.baseline,
        }
    }

    /// Adds a point (a round of `None` takes the series' next number) and fills `row` with
    /// its record: one reused record, so that a value costs no allocation.
    pub fn push(&mut self, round: Option<u64>, value: f64, row: &mut Round) {
        let round = round.unwrap_or(self.next_round);
        self.next_round = round.saturating_add(1);
        self.rounds.push(round as f64);
        self.values.push(value);
        row.series.clear();
        row.series.push_str(&self.name);
        row.unit.clear();
        row.unit.push_str(&self.unit);
        row.kind = self.kind;
        row.round = round;
        row.value = value;
        row.net_value = trend::net_value(
            self.kind,
            self.baseline,
            self.rounds[0],
            round as f64,
            value,
        );
    }

    /// Its baseline record, when it has a baseline.
    pub fn baseline_record(&self) -> Option<records::Baseline> {
        self.baseline_source
            .as_ref()
            .map(|source| records::Baseline {
                series: self.name.clone(),
                kind: self.kind,
                unit: self.unit.clone(),
                per_round: self.baseline,
                source: source.clone(),
            })
    }

    /// Its verdict record, from its analysis by `cfg`.
    pub fn verdict(&self, a: &Analysis, cfg: &Config) -> records::Verdict {
        let mk = a.mann_kendall;
        records::Verdict {
            series: self.name.clone(),
            kind: self.kind,
            unit: self.unit.clone(),
            verdict: a.verdict,
            reason: a.reason.clone(),
            statement: words::statement(&self.unit, a, cfg.alpha),
            baseline: self.baseline,
            baseline_source: self.baseline_source.clone(),
            points: a.points,
            warmup_points: a.warmup_points,
            judged_points: a.judged_points,
            bins: a.bins,
            first_round: a.first_round,
            last_round: a.last_round,
            growth_per_round: a.growth_per_round,
            growth_per_1000: a.growth_per_round.map(|g| g * 1000.0),
            ci_low: a.ci_low,
            ci_high: a.ci_high,
            ci_level: 1.0 - 2.0 * cfg.alpha,
            growth_total: a.growth_total,
            growth_pct: a.growth_pct,
            late_growth_per_round: a.late_growth_per_round,
            mk_s: mk.map(|m| m.s),
            kendall_tau: mk.map(|m| m.tau),
            mk_z: mk.map(|m| m.z),
            mk_p: mk.map(|m| m.p),
            batch_p: a.batch_p,
            p_value: a.p_value,
            autocorrelation_factor: mk.map(|m| m.autocorrelation_factor),
            step_round: a.step.map(|st| st.round),
            step_height: a.step.map(|st| st.height),
            legacy_half_pct: a.legacy_half_pct,
            legacy_leak: a.legacy_half_pct.map(|p| p > 2.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_lines_baseline_applies_at_creation() {
        let named = Baseline::Series {
            series: "rss".into(),
            per_round: 0.5,
            source: "clean.log".into(),
        };
        let all = [Baseline::AllDeltas(2.0), named];
        let refs = Series::new("refs", Kind::Delta, "refs", &all);
        assert_eq!(
            (refs.baseline, refs.baseline_source.as_deref()),
            (2.0, Some("--baseline"))
        );
        let rss = Series::new("rss", Kind::Level, "MiB", &all);
        assert_eq!(
            (rss.baseline, rss.baseline_source.as_deref()),
            (0.5, Some("clean.log"))
        );
        let other = Series::new("other", Kind::Level, "", &all);
        assert!(other.baseline_record().is_none());
    }

    #[test]
    fn points_number_themselves_and_fill_the_row() {
        let mut s = Series::new(
            "refs",
            Kind::Level,
            "refs",
            &[Baseline::Series {
                series: "refs".into(),
                per_round: 1.0,
                source: "x".into(),
            }],
        );
        let mut row = Round::default();
        s.push(Some(10), 5.0, &mut row);
        s.push(None, 7.0, &mut row);
        assert_eq!((row.round, row.value, row.net_value), (11, 7.0, 6.0));
        assert_eq!(row.series, "refs");
        assert_eq!(s.rounds, [10.0, 11.0]);
    }
}
