//! The leak test of rss-rounds: is a series of per-round measurements still growing once
//! warm-up is over, by more than noise and by enough to matter?
//!
//! # The rules
//!
//! Every series is judged as a *level*: a level series (RSS, a peak) as it is, a delta
//! series (`References: 2` printed per round) as the running sum of its deltas. Both are
//! first made *net* of the baseline `b`, the per-round growth that the harness itself
//! causes: a level `v` at round `r` becomes `v - b·(r - r0)`, a delta `d` becomes `d - b`.
//! A clean workload under a harness whose rounds each add 2 references therefore becomes a
//! flat line, and a workload that leaks one reference per round a line rising by 1.
//!
//! 1. **Warm-up.** The first `--warmup` points (default 20 %) are not judged: caches,
//!    free lists and arenas fill there.
//! 2. **Bins.** The judged points are cut into at most [`MAX_BINS`] runs of consecutive
//!    points and each run is replaced by its median (its middle round as `x`). This bounds
//!    the cost (10 million points cost one pass plus O(`MAX_BINS`²)), and it damps the
//!    short-range noise that would make neighbouring points dependent.
//! 3. **One step, or a trend?** The best split into two flat segments (least squares over
//!    every split point) is compared with the least-squares line. When the two flats
//!    explain the bins much better (`SSE_step ≤ --step-ratio × SSE_line`, default 0.5), the
//!    series made one jump (a cache filled late, a spike of a delta series) and only the
//!    segment after the jump is judged, like a late warm-up; when that is too short, the
//!    one before it. A leak shows as growth on either side of a jump, not as the jump.
//! 4. **Mann–Kendall** (one-sided, upward) on the bins, with the variance corrected for
//!    ties and for autocorrelation by Hamed & Rao (1998): the ranks of the series less its
//!    Theil–Sen trend are autocorrelated when it has plateaus, a sawtooth or a random walk,
//!    and their significant lags inflate the variance of the statistic by
//!    `1 + 2/(n(n-1)(n-2)) Σ (n-k)(n-k-1)(n-k-2) ρ(k)` (never below 1 here: negative
//!    correlation is not allowed to make a trend look surer; only the initial run of
//!    significantly positive lags is summed, so that the negative lags of a sawtooth do not
//!    cancel its positive ones). A delta series must also pass a batch-means test: the
//!    Wilcoxon signed-rank test on the sums of its net deltas over 30 consecutive batches.
//!    When the deltas are independent noise, their running sum is a random walk, which
//!    Mann–Kendall takes for a trend far too often even when corrected; batch sums are
//!    independent whether the deltas are differences of a stationary level or independent
//!    noise. The larger p-value decides; `p < --alpha` (default 0.01) is a significant
//!    upward trend.
//! 5. **Theil–Sen** slope of the bins: the growth per round (and per 1000 rounds), with
//!    Sen's distribution-free confidence interval at `1 - 2·alpha` from the same corrected
//!    variance (Gilbert 1987, §16.5). Its lower end is the confidence statement: "with 99 %
//!    confidence it grows at least … per round".
//! 6. **Still growing at the end?** The last half of the judged bins must not be growing
//!    clearly slower: the upper end of their slope's interval must reach
//!    `--late-ratio` (default 0.5) of the whole slope. A warm-up that saturates slowly
//!    rises at first and flattens; a leak keeps its rate.
//! 7. **Enough to matter.** The fitted growth over the judged rounds must be at least
//!    `--min-growth` percent (default 1) of the series' median level for a level series,
//!    and at least `--min-total` units (default 1: one reference, one block) for a delta
//!    series.
//!
//! Leak when 4–7 all hold; no leak otherwise; insufficient when fewer than `--min-points`
//! (default 10) points are left to judge. The legacy half-point percentage (last value
//! against the value at the middle point, over the raw series, a leak above 2 %) is
//! computed alongside for comparison and decides nothing.
//!
//! This file holds the rules; the statistics they apply (Mann–Kendall, Theil–Sen, Wilcoxon,
//! least squares) are in `stats.rs`, which knows nothing of series or rounds.

pub use crate::rounds::stats::MannKendall;
use crate::rounds::stats::{best_split, fit, fit_slope, line_sse, mean, median, wilcoxon_upper_p};
use crate::Error;
use serde::{Deserialize, Serialize};

/// At most this many bins are judged; more points are grouped into medians first.
pub const MAX_BINS: usize = 1000;

/// Whether a series' values are levels or per-round changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A value that persists across rounds: RSS, a peak, an object count. What a series is
    /// when nothing says.
    #[default]
    Level,
    /// The change over one round: `References: 2`.
    Delta,
}

impl Kind {
    /// The name used in records and help.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Level => "level",
            Kind::Delta => "delta",
        }
    }
}

/// How much of the start of a series is warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Warmup {
    /// A fraction of the points (0.2 = the first 20 %).
    Fraction(f64),
    /// A number of points.
    Points(usize),
}

impl Warmup {
    /// Parses `20%`, `0.2` (a fraction) or `500` (points). An error names the flag and the
    /// text as the input.
    pub fn parse(text: &str) -> Result<Warmup, Error> {
        let t = text.trim();
        let bad = || {
            Error::at(
                &format!("--warmup {text:?}"),
                None,
                "expected a percentage (20%), a fraction below 1 (0.2) or a number of points (500)",
            )
        };
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..100.0).contains(&v) {
                return Err(bad());
            }
            return Ok(Warmup::Fraction(v / 100.0));
        }
        if let Ok(n) = t.parse::<usize>() {
            return Ok(Warmup::Points(n));
        }
        let v: f64 = t.parse().map_err(|_| bad())?;
        if (0.0..1.0).contains(&v) {
            Ok(Warmup::Fraction(v))
        } else {
            Err(bad())
        }
    }

    /// Points to skip out of `n`.
    pub fn points(self, n: usize) -> usize {
        match self {
            // Floor, so that 20 % of 4 points skips none rather than one.
            Warmup::Fraction(f) => ((n as f64) * f).floor() as usize,
            Warmup::Points(p) => p,
        }
        .min(n)
    }
}

/// The thresholds of the rules in the module docs; every one is a command-line flag.
#[derive(Debug, Clone)]
pub struct Config {
    /// Warm-up to discard (`--warmup`, default 20 %).
    pub warmup: Warmup,
    /// One-sided significance level of the trend test (`--alpha`, default 0.01).
    pub alpha: f64,
    /// Fewest judged points for a verdict (`--min-points`, default 10).
    pub min_points: usize,
    /// Level series: least growth over the judged rounds, percent of the median level
    /// (`--min-growth`, default 1).
    pub min_growth_pct: f64,
    /// Delta series: least net growth over the judged rounds, in the series' unit
    /// (`--min-total`, default 1).
    pub min_total: f64,
    /// A single step explains the series when its squared error is at most this fraction
    /// of the line's (`--step-ratio`, default 0.5; 0 turns the step rule off).
    pub step_ratio: f64,
    /// The last half must grow at least this fraction of the whole slope, as far as its
    /// confidence interval can tell (`--late-ratio`, default 0.5; 0 turns the rule off).
    pub late_ratio: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            warmup: Warmup::Fraction(0.2),
            alpha: 0.01,
            min_points: 10,
            min_growth_pct: 1.0,
            min_total: 1.0,
            step_ratio: 0.5,
            late_ratio: 0.5,
        }
    }
}

/// The verdict on one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It keeps growing: exit status 1.
    Leak,
    /// No growth that is both significant and large enough.
    NoLeak,
    /// Too few points to judge.
    Insufficient,
}

impl Verdict {
    /// The name used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::NoLeak => "no_leak",
            Verdict::Insufficient => "insufficient",
        }
    }
}

/// One series as stored: rounds and raw values, with its kind and baseline.
#[derive(Debug, Clone, Copy)]
pub struct SeriesRef<'a> {
    /// Round of each point.
    pub rounds: &'a [f64],
    /// Raw value of each point.
    pub values: &'a [f64],
    /// Level or delta.
    pub kind: Kind,
    /// Per-round growth to subtract (0 for none).
    pub baseline: f64,
}

impl SeriesRef<'_> {
    /// The net value of point `i` as written in the `net_value` column: a delta less the
    /// baseline, a level less the baseline times the rounds since the first point.
    pub fn net_value(&self, i: usize) -> f64 {
        net_value(
            self.kind,
            self.baseline,
            self.rounds.first().copied().unwrap_or(0.0),
            self.rounds[i],
            self.values[i],
        )
    }

    /// The net *level* of every point, in order: what is judged and plotted (for a delta
    /// series, the running sum of net deltas).
    pub fn net_levels(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let mut sum = 0.0;
        (0..self.values.len()).map(move |i| {
            let net = self.net_value(i);
            let y = match self.kind {
                Kind::Level => net,
                Kind::Delta => {
                    sum += net;
                    sum
                }
            };
            (self.rounds[i], y)
        })
    }
}

/// The net value of one point (see [`SeriesRef::net_value`]).
pub fn net_value(kind: Kind, baseline: f64, first_round: f64, round: f64, value: f64) -> f64 {
    match kind {
        Kind::Delta => value - baseline,
        Kind::Level => value - baseline * (round - first_round),
    }
}

/// A single jump found by rule 3.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Step {
    /// Round of the first point after the jump.
    pub round: f64,
    /// Mean level after less mean level before.
    pub height: f64,
}

/// Everything the test found for one series.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one sentence.
    pub reason: String,
    /// All points of the series.
    pub points: usize,
    /// Points discarded as warm-up (rule 1).
    pub warmup_points: usize,
    /// Points the verdict rests on (after warm-up and, with a step, one side of it).
    pub judged_points: usize,
    /// Bins they were grouped into.
    pub bins: usize,
    /// First round judged.
    pub first_round: Option<f64>,
    /// Last round judged.
    pub last_round: Option<f64>,
    /// Theil–Sen growth per round of the net level.
    pub growth_per_round: Option<f64>,
    /// Lower end of its `1 - 2·alpha` interval.
    pub ci_low: Option<f64>,
    /// Upper end.
    pub ci_high: Option<f64>,
    /// Intercept of the fitted line (net level at round 0), for plotting.
    pub intercept: Option<f64>,
    /// Fitted growth across the judged rounds.
    pub growth_total: Option<f64>,
    /// That growth in percent of the median raw level (level series).
    pub growth_pct: Option<f64>,
    /// Theil–Sen slope of the last half of the judged bins.
    pub late_growth_per_round: Option<f64>,
    /// Mann–Kendall over the judged bins.
    pub mann_kendall: Option<MannKendall>,
    /// Delta series: one-sided p-value of the Wilcoxon signed-rank test on the sums of net
    /// deltas over [`BATCHES`] consecutive batches.
    pub batch_p: Option<f64>,
    /// The p-value the verdict used: Mann–Kendall's, or for a delta series the larger of
    /// it and `batch_p`.
    pub p_value: Option<f64>,
    /// The jump rule 3 found, when it found one.
    pub step: Option<Step>,
    /// Legacy rule: percent change from the middle point to the last, raw values (level
    /// series only).
    pub legacy_half_pct: Option<f64>,
}

/// Judges one series by the rules in the module docs.
pub fn analyze(series: SeriesRef<'_>, cfg: &Config) -> Analysis {
    let n = series.values.len().min(series.rounds.len());
    let warm = cfg.warmup.points(n);
    let mut a = Analysis {
        verdict: Verdict::Insufficient,
        reason: String::new(),
        points: n,
        warmup_points: warm,
        judged_points: n - warm,
        bins: 0,
        first_round: None,
        last_round: None,
        growth_per_round: None,
        ci_low: None,
        ci_high: None,
        intercept: None,
        growth_total: None,
        growth_pct: None,
        late_growth_per_round: None,
        mann_kendall: None,
        batch_p: None,
        p_value: None,
        step: None,
        legacy_half_pct: match series.kind {
            Kind::Level => legacy_half_pct(&series.values[..n]),
            Kind::Delta => None,
        },
    };
    let min_points = cfg.min_points.max(3);
    if n - warm < min_points {
        a.reason = format!(
            "{} point(s) after {} of warm-up, fewer than --min-points {}",
            n - warm,
            warm,
            min_points
        );
        return a;
    }
    let bins = Bins::new(series, warm, n, MAX_BINS);

    // Rule 3: one jump, or a trend?
    let mut range = 0..bins.len();
    if cfg.step_ratio > 0.0 {
        if let Some((split, sse_step)) = best_split(&bins.y) {
            let sse_line = line_sse(&bins.x, &bins.y);
            if sse_line > 0.0 && sse_step <= cfg.step_ratio * sse_line {
                let before = bins.points_in(0..split);
                let after = bins.points_in(split..bins.len());
                a.step = Some(Step {
                    round: bins.x[split],
                    height: mean(&bins.y[split..]) - mean(&bins.y[..split]),
                });
                if after >= min_points {
                    range = split..bins.len();
                } else if before >= min_points {
                    range = 0..split;
                } else {
                    a.verdict = Verdict::NoLeak;
                    a.judged_points = 0;
                    a.reason = format!(
                        "one jump of {} at round {}, too few points on either side to see a trend",
                        fmt_num(a.step.map_or(0.0, |s| s.height)),
                        fmt_num(bins.x[split])
                    );
                    return a;
                }
            }
        }
    }
    let x = &bins.x[range.clone()];
    let y = &bins.y[range.clone()];
    a.judged_points = bins.points_in(range.clone());
    a.bins = x.len();
    a.first_round = x.first().copied();
    a.last_round = x.last().copied();

    let fit = fit(x, y, cfg.alpha);
    a.growth_per_round = Some(fit.slope);
    a.ci_low = Some(fit.ci_low);
    a.ci_high = Some(fit.ci_high);
    a.intercept = Some(fit.intercept);
    a.mann_kendall = Some(fit.mk);
    let span = x.last().copied().unwrap_or(0.0) - x.first().copied().unwrap_or(0.0);
    let total = fit.slope * span;
    a.growth_total = Some(total);
    let level = match series.kind {
        Kind::Level => {
            let (lo, hi) = bins.point_range(range.clone());
            median(&mut series.values[lo..hi].to_vec())
        }
        Kind::Delta => None,
    };
    a.growth_pct = level.filter(|l| *l != 0.0).map(|l| total / l.abs() * 100.0);

    let late_from = x.len() / 2;
    let late =
        (x.len() - late_from >= 4).then(|| fit_slope(&x[late_from..], &y[late_from..], cfg.alpha));
    a.late_growth_per_round = late.map(|(slope, _)| slope);

    let step_note = match a.step {
        Some(s) if range.start > 0 => format!(
            " after a jump of {} at round {}",
            fmt_num(s.height),
            fmt_num(s.round)
        ),
        Some(s) => format!(
            " before a jump of {} at round {}",
            fmt_num(s.height),
            fmt_num(s.round)
        ),
        None => String::new(),
    };
    let mut p = fit.mk.p;
    let mut tests = format!("Mann–Kendall {}", fmt_p(fit.mk.p));
    if series.kind == Kind::Delta {
        let (lo, hi) = bins.point_range(range.clone());
        let batch = batch_means_p(series, lo, hi);
        a.batch_p = Some(batch);
        p = p.max(batch);
        tests.push_str(&format!(", batch sums {}", fmt_p(batch)));
    }
    a.p_value = Some(p);
    a.verdict = Verdict::NoLeak;
    if p >= cfg.alpha || fit.slope <= 0.0 {
        a.reason = format!("no significant upward trend{step_note} ({tests})");
    } else if let Some((late_slope, late_high)) =
        late.filter(|&(_, high)| cfg.late_ratio > 0.0 && high < cfg.late_ratio * fit.slope)
    {
        a.reason = format!(
            "growth stopped: {} per round in the last half (at most {}) against {} overall{step_note}",
            fmt_num(late_slope),
            fmt_num(late_high),
            fmt_num(fit.slope)
        );
    } else if let (Kind::Level, Some(pct)) = (series.kind, a.growth_pct) {
        if pct < cfg.min_growth_pct {
            a.reason = format!(
                "grows {}% of its level over the judged rounds, under --min-growth {}%{step_note}",
                fmt_num(pct),
                fmt_num(cfg.min_growth_pct)
            );
        } else {
            a.verdict = Verdict::Leak;
        }
    } else if total < cfg.min_total {
        a.reason = format!(
            "grows {} in all over the judged rounds, under --min-total {}{step_note}",
            fmt_num(total),
            fmt_num(cfg.min_total)
        );
    } else {
        a.verdict = Verdict::Leak;
    }
    if a.verdict == Verdict::Leak {
        a.reason = format!(
            "still growing{step_note}: {} per round ({tests})",
            fmt_num(fit.slope)
        );
    }
    a
}

/// Batches of a delta series' judged points for the batch-sum test.
pub const BATCHES: usize = 30;

/// One-sided p-value that the net deltas of points `lo..hi` add up to growth: the
/// Wilcoxon signed-rank test on their sums over [`BATCHES`] consecutive batches (fewer for
/// short series, at least 2 points each).
///
/// Mann–Kendall on a running sum assumes the sum is a level with stationary noise, which
/// holds when the deltas are differences of one (a cycle freed a round later). When the
/// deltas are independent noise instead, the running sum is a random walk, and
/// Mann–Kendall calls its wanderings trends far too often even with the Hamed–Rao
/// correction. Batch sums are independent in both cases (batch means, as in simulation
/// output analysis), so a delta series must pass both tests.
fn batch_means_p(series: SeriesRef<'_>, lo: usize, hi: usize) -> f64 {
    let n = hi - lo;
    let b = BATCHES.min(n / 2).max(1);
    let sums: Vec<f64> = (0..b)
        .map(|k| {
            let (s, e) = (lo + k * n / b, lo + (k + 1) * n / b);
            (s..e).map(|i| series.net_value(i)).sum()
        })
        .collect();
    wilcoxon_upper_p(&sums)
}

/// The legacy check: percent change from the middle point to the last one.
pub fn legacy_half_pct(values: &[f64]) -> Option<f64> {
    let last = *values.last()?;
    let half = values[(values.len() - 1) / 2];
    (values.len() >= 2 && half != 0.0).then(|| (last - half) / half.abs() * 100.0)
}

/// Judged points grouped into bins of consecutive points, each its median.
struct Bins {
    x: Vec<f64>,
    y: Vec<f64>,
    /// Index into the series of each bin's first point, plus the end.
    starts: Vec<usize>,
}

impl Bins {
    fn new(series: SeriesRef<'_>, from: usize, to: usize, max_bins: usize) -> Bins {
        let len = to - from;
        let m = len.min(max_bins).max(1);
        let mut bins = Bins {
            x: Vec::with_capacity(m),
            y: Vec::with_capacity(m),
            starts: Vec::with_capacity(m + 1),
        };
        let mut scratch = Vec::with_capacity(len / m + 1);
        let mut levels = series.net_levels().skip(from);
        for k in 0..m {
            let start = from + k * len / m;
            let end = from + (k + 1) * len / m;
            scratch.clear();
            scratch.extend(levels.by_ref().take(end - start).map(|(_, y)| y));
            bins.starts.push(start);
            bins.x.push(series.rounds[start + (end - start - 1) / 2]);
            bins.y.push(median(&mut scratch).unwrap_or(0.0));
        }
        bins.starts.push(to);
        bins
    }

    fn len(&self) -> usize {
        self.x.len()
    }

    fn points_in(&self, r: std::ops::Range<usize>) -> usize {
        let (lo, hi) = self.point_range(r);
        hi - lo
    }

    fn point_range(&self, r: std::ops::Range<usize>) -> (usize, usize) {
        (self.starts[r.start], self.starts[r.end])
    }
}

/// A number for a person: 3 significant digits (all the digits of an integer part longer
/// than that), no trailing zeros: `5.2`, `0.0312`, `41.9`, `5194`. Records keep full
/// precision; only words use this.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..9).contains(&mag) {
        return format!("{v:.2e}");
    }
    let decimals = (2 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A change for a person: [`fmt_num`] with its sign, `+` for growth (`+5.2`, `-0.0312`).
pub fn fmt_signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", fmt_num(v))
    } else {
        fmt_num(v)
    }
}

/// A p-value for a person, with its relation: `p=0.043`, `p=2.1e-05`, `p<1e-12`.
pub fn fmt_p(p: f64) -> String {
    if p < 1e-12 {
        "p<1e-12".to_string()
    } else if p < 0.001 {
        format!("p={p:.1e}")
    } else {
        format!("p={p:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series<'a>(
        rounds: &'a [f64],
        values: &'a [f64],
        kind: Kind,
        baseline: f64,
    ) -> SeriesRef<'a> {
        SeriesRef {
            rounds,
            values,
            kind,
            baseline,
        }
    }

    fn rounds(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    #[test]
    fn warmup_specs() {
        assert_eq!(Warmup::parse("20%").unwrap(), Warmup::Fraction(0.2));
        assert_eq!(Warmup::parse("0.25").unwrap(), Warmup::Fraction(0.25));
        assert_eq!(Warmup::parse("0").unwrap(), Warmup::Points(0));
        assert_eq!(Warmup::parse("500").unwrap(), Warmup::Points(500));
        assert_eq!(
            Warmup::parse("1.5").unwrap_err().to_string(),
            "--warmup \"1.5\": expected a percentage (20%), a fraction below 1 (0.2) or a \
             number of points (500)"
        );
        assert!(Warmup::parse("abc").is_err());
        assert!(Warmup::parse("150%").is_err());
        assert_eq!(Warmup::Fraction(0.2).points(4), 0);
        assert_eq!(Warmup::Points(50).points(10), 10);
    }

    #[test]
    fn a_constant_delta_is_noise_once_the_baseline_says_so() {
        let r = rounds(500);
        let twos = vec![2.0; 500];
        let cfg = Config::default();
        let raw = analyze(series(&r, &twos, Kind::Delta, 0.0), &cfg);
        assert_eq!(raw.verdict, Verdict::Leak, "{}", raw.reason);
        assert_eq!(raw.growth_per_round, Some(2.0));
        let net = analyze(series(&r, &twos, Kind::Delta, 2.0), &cfg);
        assert_eq!(net.verdict, Verdict::NoLeak, "{}", net.reason);
        assert_eq!(net.growth_per_round, Some(0.0));
        let threes = vec![3.0; 500];
        let leak = analyze(series(&r, &threes, Kind::Delta, 2.0), &cfg);
        assert_eq!(leak.verdict, Verdict::Leak, "{}", leak.reason);
        assert_eq!(leak.growth_per_round, Some(1.0));
        assert_eq!(leak.ci_low, Some(1.0));
    }

    #[test]
    fn too_few_points_are_insufficient() {
        let r = rounds(8);
        let v: Vec<f64> = r.iter().map(|x| x * 10.0).collect();
        let a = analyze(series(&r, &v, Kind::Level, 0.0), &Config::default());
        assert_eq!(a.verdict, Verdict::Insufficient);
        let empty = analyze(series(&[], &[], Kind::Level, 0.0), &Config::default());
        assert_eq!(empty.verdict, Verdict::Insufficient);
    }

    #[test]
    fn many_points_are_binned() {
        let n = 200_000;
        let r = rounds(n);
        let v: Vec<f64> = r.iter().map(|x| 100.0 + x * 0.001).collect();
        let a = analyze(series(&r, &v, Kind::Level, 0.0), &Config::default());
        assert_eq!(a.bins, MAX_BINS);
        assert_eq!(a.judged_points, n - n / 5);
        assert_eq!(a.verdict, Verdict::Leak, "{}", a.reason);
        let slope = a.growth_per_round.unwrap();
        assert!((slope - 0.001).abs() < 1e-9, "{slope}");
    }

    #[test]
    fn absurd_values_do_not_panic() {
        let r = rounds(50);
        let huge = vec![1e308; 50];
        for kind in [Kind::Delta, Kind::Level] {
            let a = analyze(series(&r, &huge, kind, 0.0), &Config::default());
            assert_ne!(a.verdict, Verdict::Insufficient);
        }
        let same_round = vec![7.0; 50];
        let v: Vec<f64> = (0..50).map(|i| i as f64).collect();
        let a = analyze(
            series(&same_round, &v, Kind::Level, 0.0),
            &Config::default(),
        );
        assert_eq!(a.verdict, Verdict::NoLeak, "{}", a.reason);
    }

    #[test]
    fn legacy_half_point() {
        assert_eq!(legacy_half_pct(&[100.0, 100.0, 102.0]), Some(2.0));
        assert_eq!(legacy_half_pct(&[1.0]), None);
        assert_eq!(legacy_half_pct(&[]), None);
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(0.001234567), "0.00123");
        assert_eq!(fmt_num(41.9453125), "41.9");
        assert_eq!(fmt_num(-2.5), "-2.5");
        assert_eq!(fmt_num(1234567.0), "1234567");
        assert_eq!(fmt_num(9.996), "10");
        assert_eq!(fmt_num(0.00001234), "1.23e-5");
        // What the harness's block counts give (issue 14): no float's every digit.
        assert_eq!(fmt_signed(5.197860962566845), "+5.2");
        assert_eq!(fmt_signed(0.031234), "+0.0312");
        assert_eq!(fmt_signed(-0.5), "-0.5");
        assert_eq!(fmt_signed(0.0), "0");
        assert_eq!(fmt_p(0.5), "p=0.500");
        assert_eq!(fmt_p(0.0), "p<1e-12");
    }
}
