//! AIMD's SLO in one regime, decided sequentially: on the interleaved repetitions first, and while
//! they leave it undecided, on further runs of AIMD alone, until it is decided or the budget is spent
//! (issue 15: "repetitions added until the decision is made or the check's time budget is spent").
//!
//! The level stays the one the interleaved repetitions give (75 % for three: their min–max), so a
//! regime decided at once and one decided after more runs are judged alike; more runs narrow the
//! interval to inner order statistics (nine runs: the third lowest to the third highest, 82 %), so
//! one slow run among many no longer leaves the claim undecided, and two of three runs past the SLO
//! still cannot pass it. The added runs judge the SLO only: the shares and the table compare the
//! interleaved runs, where drift hit every contender alike. Stopping once decided makes the stated
//! level a little optimistic (optional stopping); the cap on added runs bounds how much.

use super::super::common::{measured_run, CheckOptions};
use super::super::error::CheckError;
use super::matrix::{Contender, Regime};
use crate::stats::{at_most, decide_more, min_max_level, Budget, Decision};
use crate::summary::RunReport;

/// Runs of AIMD alone that a regime's undecided SLO may add.
pub(super) const ADDED_RUNS: usize = 6;
/// Seconds they may take, per regime.
pub(super) const ADDED_SECS: f64 = 30.0;

/// The decision on `interleaved` (AIMD's runs of regime `r`), with runs added into `added`.
pub(super) fn decide(
    opts: &CheckOptions,
    r: &Regime,
    aimd: &Contender,
    interleaved: &[RunReport],
    slo_us: f64,
    added: &mut Vec<RunReport>,
    config: impl Fn(&CheckOptions, &Regime, &Contender) -> crate::config::RunConfig,
) -> Result<Decision, CheckError> {
    let n = interleaved.len();
    let budget = Budget {
        min_runs: n,
        max_runs: if opts.quick { n } else { n + ADDED_RUNS },
        max_secs: ADDED_SECS,
    };
    let started = std::time::Instant::now();
    decide_more(
        interleaved.iter().map(|x| x.latency_us.p99).collect(),
        budget,
        min_max_level(n),
        || started.elapsed().as_secs_f64(),
        |i| -> Result<f64, CheckError> {
            let run = measured_run(&config(opts, r, aimd))?;
            opts.progress(format!(
                "aimd: {} undecided on its SLO: added AIMD run {} p99 {:>7.0} µs",
                r.name,
                i + 1 - n,
                run.latency_us.p99
            ));
            let p99 = run.latency_us.p99;
            added.push(run);
            Ok(p99)
        },
        |iv| at_most(iv, slo_us),
    )
}

/// How many runs `d` rests on beyond the `interleaved` ones, in words (empty when none).
pub(super) fn added_note(d: &Decision, interleaved: usize) -> String {
    match d.samples.len().saturating_sub(interleaved) {
        0 => String::new(),
        k => format!(" [{interleaved} interleaved runs and {k} of AIMD alone added to decide it]"),
    }
}
