//! The rank-based statistics behind the leak test ([`super::trend`] says how they are used):
//! Mann–Kendall with the tie and Hamed–Rao autocorrelation corrections, Theil–Sen's slope
//! with Sen's interval, the Wilcoxon signed-rank test, least-squares errors of a line and of
//! two flat segments, and the normal distribution's tail. None of them knows what a series
//! or a round is: they take numbers.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

/// Mann–Kendall statistics of the judged bins.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct MannKendall {
    /// S: concordant minus discordant pairs.
    pub s: f64,
    /// Kendall's tau-a, S over the number of pairs.
    pub tau: f64,
    /// Variance of S with ties and autocorrelation accounted for.
    pub var_s: f64,
    /// The Hamed–Rao variance inflation factor (≥ 1).
    pub autocorrelation_factor: f64,
    /// The normal score of S (continuity corrected).
    pub z: f64,
    /// One-sided p-value of an upward trend.
    pub p: f64,
}

/// One-sided (greater than 0) p-value of the Wilcoxon signed-rank test, normal
/// approximation with zeros dropped, tie correction and continuity correction; 1 with no
/// non-zero value.
pub(super) fn wilcoxon_upper_p(values: &[f64]) -> f64 {
    // Sums of floating-point deltas that should cancel may miss 0 by rounding.
    let scale = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let eps = scale * 1e-9;
    let nonzero: Vec<f64> = values.iter().copied().filter(|v| v.abs() > eps).collect();
    let n = nonzero.len();
    if n == 0 {
        return 1.0;
    }
    let abs: Vec<f64> = nonzero.iter().map(|v| v.abs()).collect();
    let r = ranks(&abs);
    let w_plus: f64 = nonzero
        .iter()
        .zip(&r)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    let nf = n as f64;
    let ties: f64 = tie_groups(&abs)
        .into_iter()
        .map(|t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum();
    let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - ties / 48.0;
    if var <= 0.0 {
        return 1.0;
    }
    let z = (w_plus - nf * (nf + 1.0) / 4.0 - 0.5) / var.sqrt();
    upper_tail(z)
}

/// Median, reordering the slice; `None` when empty.
pub(super) fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let len = v.len();
    let mid = len / 2;
    let (lower, upper, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if len % 2 == 1 {
        return Some(upper);
    }
    let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((below + upper) / 2.0)
}

pub(super) fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The split into two flat segments (each at least 2 bins) with the least squared error:
/// `(index of the first bin after the split, error)`. O(m) with prefix sums.
pub(super) fn best_split(y: &[f64]) -> Option<(usize, f64)> {
    let m = y.len();
    if m < 4 {
        return None;
    }
    // Centre first: the prefix sums of squares then do not lose the differences.
    let c = mean(y);
    let mut s = vec![0.0; m + 1];
    let mut q = vec![0.0; m + 1];
    for (i, v) in y.iter().enumerate() {
        s[i + 1] = s[i] + (v - c);
        q[i + 1] = q[i] + (v - c) * (v - c);
    }
    let sse = |lo: usize, hi: usize| {
        let n = (hi - lo) as f64;
        let sum = s[hi] - s[lo];
        (q[hi] - q[lo] - sum * sum / n).max(0.0)
    };
    (2..=m - 2)
        .map(|k| (k, sse(0, k) + sse(k, m)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Squared error of the least-squares line.
pub(super) fn line_sse(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxx += (a - mx) * (a - mx);
        sxy += (a - mx) * (b - my);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 {
        return syy;
    }
    (syy - sxy * sxy / sxx).max(0.0)
}

/// A Theil–Sen fit with its Mann–Kendall test.
pub(super) struct Fit {
    pub(super) slope: f64,
    pub(super) intercept: f64,
    pub(super) ci_low: f64,
    pub(super) ci_high: f64,
    pub(super) mk: MannKendall,
}

pub(super) fn fit(x: &[f64], y: &[f64], alpha: f64) -> Fit {
    let mut slopes = pair_slopes(x, y);
    let slope = median(&mut slopes).unwrap_or(0.0);
    let mk = mann_kendall(x, y, slope);
    let (ci_low, ci_high) = sen_interval(&mut slopes, mk.var_s, alpha).unwrap_or((slope, slope));
    let mut rest: Vec<f64> = x.iter().zip(y).map(|(a, b)| b - slope * a).collect();
    let intercept = median(&mut rest).unwrap_or(0.0);
    Fit {
        slope,
        intercept,
        ci_low,
        ci_high,
        mk,
    }
}

/// Theil–Sen slope and the upper end of its interval.
pub(super) fn fit_slope(x: &[f64], y: &[f64], alpha: f64) -> (f64, f64) {
    let f = fit(x, y, alpha);
    (f.slope, f.ci_high)
}

/// Slopes of every pair of points with distinct rounds.
pub(super) fn pair_slopes(x: &[f64], y: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len() * x.len().saturating_sub(1) / 2);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let dx = x[j] - x[i];
            if dx != 0.0 {
                out.push((y[j] - y[i]) / dx);
            }
        }
    }
    out
}

/// Sen's interval at `1 - 2·alpha` (Gilbert 1987): the order statistics of the pairwise
/// slopes `(N - C)/2` and `(N + C)/2 + 1`, `C = z(1-alpha)·sqrt(Var S)`.
pub(super) fn sen_interval(slopes: &mut [f64], var_s: f64, alpha: f64) -> Option<(f64, f64)> {
    let n = slopes.len();
    if n == 0 {
        return None;
    }
    let c = z_quantile(1.0 - alpha) * var_s.max(0.0).sqrt();
    let lo = ((n as f64 - c) / 2.0).floor();
    let hi = ((n as f64 + c) / 2.0).ceil();
    let lo = (lo.max(1.0) as usize).min(n) - 1;
    let hi = (hi.max(1.0) as usize).min(n) - 1;
    let low = *slopes.select_nth_unstable_by(lo, f64::total_cmp).1;
    let high = *slopes.select_nth_unstable_by(hi, f64::total_cmp).1;
    Some((low, high))
}

/// Mann–Kendall with the tie correction and the Hamed–Rao autocorrelation correction;
/// `slope` (Theil–Sen) detrends the series for the latter.
pub(super) fn mann_kendall(x: &[f64], y: &[f64], slope: f64) -> MannKendall {
    let n = y.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            s += sign(y[j] - y[i]);
        }
    }
    let nf = n as f64;
    let ties: f64 = tie_groups(y)
        .into_iter()
        .map(|t| {
            let t = t as f64;
            t * (t - 1.0) * (2.0 * t + 5.0)
        })
        .sum();
    let var0 = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let factor = hamed_rao(x, y, slope).max(1.0);
    let var_s = var0 * factor;
    let z = if var_s > 0.0 {
        (s - sign(s)) / var_s.sqrt()
    } else {
        0.0
    };
    let pairs = nf * (nf - 1.0) / 2.0;
    MannKendall {
        s,
        tau: if pairs > 0.0 { s / pairs } else { 0.0 },
        var_s,
        autocorrelation_factor: factor,
        z,
        p: upper_tail(z),
    }
}

pub(super) fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Sizes of the groups of equal values (only groups of 2 or more).
pub(super) fn tie_groups(y: &[f64]) -> Vec<usize> {
    let mut sorted = y.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut groups = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        if j - i > 1 {
            groups.push(j - i);
        }
        i = j;
    }
    groups
}

/// Average ranks (1-based), ties sharing their mean rank.
pub(super) fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_unstable_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && v[order[j]] == v[order[i]] {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0;
        for &k in &order[i..j] {
            out[k] = rank;
        }
        i = j;
    }
    out
}

/// Hamed & Rao (1998) `n/n*`: the variance inflation from the autocorrelations of the
/// ranks of the detrended series, summed over the lags from 1 up to the first that is not
/// significantly (5 %) positive.
pub(super) fn hamed_rao(x: &[f64], y: &[f64], slope: f64) -> f64 {
    let n = y.len();
    if n < 4 {
        return 1.0;
    }
    let detrended: Vec<f64> = x.iter().zip(y).map(|(a, b)| b - slope * a).collect();
    let r = ranks(&detrended);
    let m = mean(&r);
    let dev: Vec<f64> = r.iter().map(|v| v - m).collect();
    let denom: f64 = dev.iter().map(|d| d * d).sum();
    if denom == 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let bound = 1.96 / nf.sqrt();
    let mut sum = 0.0;
    for k in 1..n - 2 {
        let rho: f64 = dev[..n - k]
            .iter()
            .zip(&dev[k..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / denom;
        // Only the initial run of significantly positive lags counts (as Geyer's initial
        // positive sequence truncates an autocorrelation sum): a cache's sawtooth has
        // negative lags later in its period that would otherwise cancel the positive ones
        // and pass its in-period rises off as independent evidence of a trend.
        if rho <= bound {
            break;
        }
        let kf = k as f64;
        sum += (nf - kf) * (nf - kf - 1.0) * (nf - kf - 2.0) * rho;
    }
    1.0 + 2.0 / (nf * (nf - 1.0) * (nf - 2.0)) * sum
}

/// `P(Z > z)` for a standard normal Z.
pub(super) fn upper_tail(z: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile.
pub(super) fn z_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p.clamp(1e-12, 1.0 - 1e-12))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounds(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    #[test]
    fn theil_sen_matches_the_brute_force_median() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 3.0, 2.0, 5.0, 4.0];
        // Pairwise slopes: 2, .5, 1.333, .75, -1, 1, .5, 3, 1, -1 → sorted median of 10 = (.75+1)/2
        let f = fit(&x, &y, 0.05);
        assert!((f.slope - 0.875).abs() < 1e-12, "{}", f.slope);
        assert!(f.ci_low <= f.slope && f.slope <= f.ci_high);
    }

    #[test]
    fn mann_kendall_matches_a_hand_computed_case() {
        // S for 1,3,2,5,4: pairs up 8, down 2 → S=6; Var = 5·4·15/18 = 16.667.
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 3.0, 2.0, 5.0, 4.0];
        let mk = mann_kendall(&x, &y, 0.0);
        assert_eq!(mk.s, 6.0);
        assert!(mk.var_s >= 16.666 && mk.var_s < 16.7 || mk.autocorrelation_factor > 1.0);
        assert!((mk.tau - 0.6).abs() < 1e-12);
    }

    #[test]
    fn ties_reduce_the_variance() {
        let x = rounds(6);
        let y = [1.0, 1.0, 1.0, 2.0, 2.0, 3.0];
        let mk = mann_kendall(&x, &y, 0.0);
        // n=6: 6·5·17 = 510; ties 3·2·11 + 2·1·9 = 84 → (510-84)/18
        let expected = (510.0 - 84.0) / 18.0;
        assert!((mk.var_s / mk.autocorrelation_factor - expected).abs() < 1e-9);
    }

    #[test]
    fn wilcoxon_signed_rank() {
        // All 10 positive: W+ = 55, mean 27.5, var 96.25 → z = 2.75 → p ≈ 0.003.
        let p = wilcoxon_upper_p(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10.]);
        assert!((p - 0.00298).abs() < 2e-4, "{p}");
        assert_eq!(wilcoxon_upper_p(&[0.0; 5]), 1.0);
        assert!(wilcoxon_upper_p(&[-1.0; 8]) > 0.99);
        // One large batch among zeros is no evidence.
        assert!(wilcoxon_upper_p(&[0., 0., 0., 500., 0., 0.]) > 0.3);
    }

    #[test]
    fn ranks_share_ties() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 30.0]), vec![1.5, 3.0, 1.5, 4.0]);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
