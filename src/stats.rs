//! Decisions from repeated measurements: a timing claim holds, fails, or cannot be decided yet.
//!
//! A figure from one run of a disk-bound pipeline is one draw from a wide distribution (fdatasync
//! latency moves with the hour and with whatever else uses the disk), so a verdict from one draw — or
//! from a median of three — can flip between two runs of the same code. Here every timing comparison is
//! a decision with stated confidence:
//!
//! - The compared figure is the **median** of repeated runs, with a distribution-free confidence
//!   interval from order statistics ([`median_interval`]): no assumption about the shape of the
//!   distribution, which for latency tails is anything but normal. With `n` runs the widest interval,
//!   `[min, max]`, covers the median with probability `1 - 2·0.5ⁿ`; fewer than 5 runs cannot give 90 %.
//! - Against a limit the decision has three outcomes ([`Outcome`]): the whole interval on the right
//!   side holds, the whole interval on the wrong side fails, an interval that straddles the limit is
//!   inconclusive.
//! - Runs are added until the decision is made or the check's budget of runs or time is spent
//!   ([`decide`]); what is still inconclusive then is reported as such, never as a pass or a fail.
//!
//! Looking again after every run inflates the error rate of a fixed-`n` test (optional stopping). The
//! level stated with each interval is per look (95 %); over the looks a decision takes (runs 6 to 10)
//! a union bound gives about 11.5 % in the worst case. The seeded simulation in `stats/tests.rs` —
//! a true median exactly on the limit, looks after every run up to 15 — decides it either way in
//! under 10 % of trials; that simulation, not a proof, is what the verdicts' confidence rests on.

use serde::{Deserialize, Serialize};

/// The confidence level of every timing decision.
pub const LEVEL: f64 = 0.95;

/// What a decision found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The interval lies on the claim's side of the limit.
    Holds,
    /// The interval lies on the other side.
    Fails,
    /// The interval straddles the limit: more runs, or a quieter machine, could tell.
    Inconclusive,
}

impl Outcome {
    /// `holds`, `fails` or `inconclusive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::Fails => "fails",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// A median and its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The sample median.
    pub median: f64,
    /// Lower end (`-inf` when `n` is too small for the level).
    pub lo: f64,
    /// Upper end (`+inf` when `n` is too small for the level).
    pub hi: f64,
    /// Runs.
    pub n: usize,
    /// The coverage the interval achieves (at least the level asked, or 0 when it cannot).
    pub level: f64,
}

impl Interval {
    /// "median M, L % interval LO–HI, N runs", for verdicts and the report alike.
    pub fn describe(&self) -> String {
        format!(
            "median {}, {:.0} % interval {}–{}, {} runs",
            figure(self.median),
            self.level * 100.0,
            figure(self.lo),
            figure(self.hi),
            self.n
        )
    }

    /// Whether the two intervals share no value: the medians differ beyond both intervals' noise.
    pub fn disjoint(&self, other: &Interval) -> bool {
        self.hi < other.lo || other.hi < self.lo
    }
}

/// A figure or an interval's end for people, with the digits its size needs (a ratio like 0.953 keeps
/// three, a latency in µs none); `?` when unbounded (too few runs for the level).
pub fn figure(v: f64) -> String {
    if !v.is_finite() {
        "?".to_string()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// `P(B ≤ k)` for `B ~ Binomial(n, 1/2)`, summed in log space: `0.5ⁿ` alone underflows to 0 past
/// n = 1074, which would make every interval "cover" and every decision decided.
fn binomial_half_cdf(n: usize, k: usize) -> f64 {
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_term = ln_half_n; // ln(C(n, 0) / 2^n)
    let mut sum = ln_term.exp();
    for i in 1..=k.min(n) {
        ln_term += ((n - i + 1) as f64 / i as f64).ln();
        sum += ln_term.exp();
    }
    sum.min(1.0)
}

/// The figures of `samples` that exist (NaN is a run without the figure), ascending.
pub fn sorted_figures(samples: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|v| !v.is_nan()).collect();
    s.sort_by(f64::total_cmp);
    s
}

/// The median of ascending, non-empty `s`.
pub fn median_of_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The median of `samples` with a distribution-free interval covering the population median with
/// probability at least `level`: `[x₍ₖ₎, x₍ₙ₊₁₋ₖ₎]` for the largest `k` that achieves it (NaNs ignored).
pub fn median_interval(samples: &[f64], level: f64) -> Interval {
    let s = sorted_figures(samples);
    let n = s.len();
    if n == 0 {
        return Interval {
            median: f64::NAN,
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            n,
            level: 0.0,
        };
    }
    let median = median_of_sorted(&s);
    // Coverage of [x(k), x(n+1-k)] is 1 - 2 P(B <= k - 1).
    let mut best = None;
    for k in 1..=n.div_ceil(2) {
        let coverage = 1.0 - 2.0 * binomial_half_cdf(n, k - 1);
        // The cdf is summed in log space and may land an ulp off an exact level such as
        // `min_max_level(n)`; and an interval that covers nothing (one run) is no interval.
        if coverage > 0.0 && coverage >= level - 1e-12 {
            best = Some((k, coverage));
        } else {
            break;
        }
    }
    match best {
        Some((k, coverage)) => Interval {
            median,
            lo: s[k - 1],
            hi: s[n - k],
            n,
            level: coverage,
        },
        None => Interval {
            median,
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            n,
            level: 0.0,
        },
    }
}

/// The claim "the figure is at most `limit`".
pub fn at_most(iv: &Interval, limit: f64) -> Outcome {
    if iv.hi <= limit {
        Outcome::Holds
    } else if iv.lo > limit {
        Outcome::Fails
    } else {
        Outcome::Inconclusive
    }
}

/// The claim "the figure is at least `limit`".
pub fn at_least(iv: &Interval, limit: f64) -> Outcome {
    if iv.lo >= limit {
        Outcome::Holds
    } else if iv.hi < limit {
        Outcome::Fails
    } else {
        Outcome::Inconclusive
    }
}

/// How many runs a decision may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Runs before the first look (the fewest that can give the level: 6 for 95 %).
    pub min_runs: usize,
    /// Runs at most.
    pub max_runs: usize,
    /// Seconds at most, measured by the caller's clock; checked before each further run.
    pub max_secs: f64,
}

impl Budget {
    /// Whether to stop after `runs` runs: never before `min_runs`, then once the decision is made or
    /// the runs or the time (`elapsed`, asked only while undecided) are spent.
    pub fn stop(&self, runs: usize, decided: bool, elapsed: impl FnOnce() -> f64) -> bool {
        runs >= self.min_runs.max(1)
            && (decided || runs >= self.max_runs || elapsed() >= self.max_secs)
    }
}

/// The fewest runs whose `[min, max]` reaches `level`.
pub fn min_runs_for(level: f64) -> usize {
    (1..64).find(|&n| min_max_level(n) >= level).unwrap_or(64)
}

/// The coverage of `[min, max]` of `n` runs as an interval on their median: `1 − 2 × 0.5ⁿ` (75 % for
/// 3 runs, 0 for one) — the level a decision on that few runs can state.
pub fn min_max_level(n: usize) -> f64 {
    (1.0 - 2.0 * 0.5f64.powi(n.min(64) as i32)).max(0.0)
}

/// A decision and the runs it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What was found.
    pub outcome: Outcome,
    /// The median and its interval.
    pub interval: Interval,
    /// Every run's figure, in order.
    pub samples: Vec<f64>,
}

/// The decision `judge` makes on `samples` as they are (no more runs).
pub fn judge_samples(
    samples: Vec<f64>,
    level: f64,
    judge: impl Fn(&Interval) -> Outcome,
) -> Decision {
    let interval = median_interval(&samples, level);
    Decision {
        outcome: judge(&interval),
        interval,
        samples,
    }
}

/// Measure (`measure(i)` gives run `i`'s figure) until `judge` decides or `budget` is spent; `elapsed`
/// is the caller's clock in seconds. An error from a run ends the decision with that error.
pub fn decide<E>(
    budget: Budget,
    level: f64,
    elapsed: impl FnMut() -> f64,
    measure: impl FnMut(usize) -> Result<f64, E>,
    judge: impl Fn(&Interval) -> Outcome,
) -> Result<Decision, E> {
    decide_more(Vec::new(), budget, level, elapsed, measure, judge)
}

/// [`decide`], starting from runs already made (a second claim on the same runs that the first
/// claim's decision left undecided): runs are added only while `judge` is undecided.
pub fn decide_more<E>(
    mut samples: Vec<f64>,
    budget: Budget,
    level: f64,
    mut elapsed: impl FnMut() -> f64,
    mut measure: impl FnMut(usize) -> Result<f64, E>,
    judge: impl Fn(&Interval) -> Outcome,
) -> Result<Decision, E> {
    loop {
        if samples.len() >= budget.min_runs.max(1) {
            let interval = median_interval(&samples, level);
            let outcome = judge(&interval);
            if budget.stop(
                samples.len(),
                outcome != Outcome::Inconclusive,
                &mut elapsed,
            ) {
                return Ok(Decision {
                    outcome,
                    interval,
                    samples,
                });
            }
        }
        samples.push(measure(samples.len())?);
    }
}

#[cfg(test)]
#[path = "stats/tests.rs"]
mod tests;
