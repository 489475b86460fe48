//! The part of a run a regime's objective counts: a step or a ramp is scored on fdatasyncs per item
//! from where its load needs batching, so the low part (where a linger only adds latency, and the
//! low steady regime scores that same load on p99) is not charged as fdatasyncs.

use std::time::Duration;

use super::Objective;
use crate::summary::RunReport;

/// fdatasyncs per item committed from `from` to the end of the run, from its time series (the first
/// sample at or after `from`, and the last, taken once everything was committed); the whole run's
/// figure when `from` is zero. NaN when the series does not cover `from` or nothing was committed
/// after it.
pub(super) fn fdatasyncs_per_item_from(r: &RunReport, from: Duration) -> f64 {
    if from.is_zero() {
        return r.fdatasyncs_per_item;
    }
    let at = r.samples.iter().find(|s| s.t_s >= from.as_secs_f64());
    match (at, r.samples.last()) {
        (Some(a), Some(z)) if z.committed > a.committed => {
            z.fdatasyncs.saturating_sub(a.fdatasyncs) as f64 / (z.committed - a.committed) as f64
        }
        _ => f64::NAN,
    }
}

/// A run's figure on a regime's objective (lower is better): its p99, µs, or its fdatasyncs per
/// item from `from` on.
pub(super) fn objective_of(r: &RunReport, o: Objective, from: Duration) -> f64 {
    match o {
        Objective::P99 => r.latency_us.p99,
        Objective::FdatasyncsPerItem => fdatasyncs_per_item_from(r, from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Sample;

    fn at(t_s: f64, committed: u64, fdatasyncs: u64) -> Sample {
        Sample {
            t_s,
            committed,
            fdatasyncs,
            ..Sample::default()
        }
    }

    #[test]
    fn a_step_is_scored_on_the_fdatasyncs_after_it_not_on_its_low_half() {
        // Before, the whole run counted: 300 items with their own fdatasync each in the low half
        // weighed as much as the high half's 10,000 items in 20 batches.
        let r = RunReport {
            fdatasyncs_per_item: 320.0 / 10_300.0,
            samples: vec![at(0.0, 0, 0), at(1.0, 300, 300), at(2.0, 10_300, 320)],
            ..RunReport::default()
        };
        assert_eq!(
            fdatasyncs_per_item_from(&r, Duration::ZERO),
            r.fdatasyncs_per_item
        );
        assert_eq!(
            fdatasyncs_per_item_from(&r, Duration::from_secs(1)),
            20.0 / 10_000.0
        );
        // A series that does not reach the start, or nothing committed after it: no figure.
        assert!(fdatasyncs_per_item_from(&r, Duration::from_secs(3)).is_nan());
        let empty = RunReport {
            samples: vec![],
            ..r
        };
        assert!(fdatasyncs_per_item_from(&empty, Duration::from_secs(1)).is_nan());
    }
}
