//! When AIMD ran the oracle's own policy. Smart batching is, in this pipeline, a linger of zero (the
//! batcher takes everything queued when the sink is free); AIMD that never moves its linger off zero
//! flushes exactly as smart batching does, batch for batch. At a light load that is the right answer,
//! and there the two contenders' p99s differ by the disk's tail alone: a median of a few runs of each
//! then lands either side of any bar on the share (the notes on issue 15 give the spread), a verdict
//! of noise and not of the controller. So where the oracle is smart batching and every AIMD run's
//! trace holds the linger at zero, the regime's share criterion is judged on that identity — which is
//! read from the trace, and fails as soon as one interval of one run moves the linger — and the
//! measured share is still reported beside it.

use crate::summary::RunReport;

/// True when every run has a window trace and every point of it holds a linger of zero.
pub(super) fn ran_smart_policy(runs: &[RunReport]) -> bool {
    !runs.is_empty()
        && runs
            .iter()
            .all(|r| !r.aimd_trace.is_empty() && r.aimd_trace.iter().all(|p| p.linger_ms == 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{AimdMove, AimdPoint};

    fn run(lingers: &[f64]) -> RunReport {
        RunReport {
            aimd_trace: lingers
                .iter()
                .enumerate()
                .map(|(i, &l)| AimdPoint {
                    t_s: i as f64 * 0.01,
                    linger_ms: l,
                    p99_us: 500.0,
                    items_per_s: 280.0,
                    arrivals_per_commit: 0.1,
                    history_arrivals_per_commit: 0.1,
                    recent_arrivals_per_commit: 0.1,
                    items: 140,
                    recent_commit_us: 150.0,
                    slowest_commit_us: 400.0,
                    mv: AimdMove::Hold,
                })
                .collect(),
            ..RunReport::default()
        }
    }

    #[test]
    fn aimd_that_held_a_zero_linger_in_every_run_ran_smart_batching() {
        assert!(ran_smart_policy(&[run(&[0.0; 5]), run(&[0.0; 7])]));
    }

    #[test]
    fn one_interval_off_zero_in_one_run_is_not_the_smart_policy() {
        // The identity must be able to fail: then the share is judged as in any other regime.
        assert!(!ran_smart_policy(&[run(&[0.0; 5]), run(&[0.0, 0.2, 0.0])]));
    }

    #[test]
    fn no_runs_or_no_trace_proves_nothing() {
        assert!(!ran_smart_policy(&[]));
        assert!(!ran_smart_policy(&[run(&[])]));
    }
}
