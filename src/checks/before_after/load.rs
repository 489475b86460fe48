//! The bursty load of `check before-after`'s claim (b), from this machine's figures: the load the
//! window was tuned at, raised to [`MIN_LOAD_OVER_UNBATCHED`]× the unbatched ceiling where that is
//! more, and the premise that so raised it is still a load the window was tuned for, whose bursts
//! fit under the batched peak.

use super::{MAX_LOAD_OVER_TUNED, MIN_LOAD_OVER_UNBATCHED};
use crate::checks::window::MAX_FRACTION_OF_PEAK;

/// The bursty load of claim (b), from the load the window was tuned at and the unbatched ceiling
/// (items/s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct BurstyLoad {
    /// The load run: the tuning load, or [`MIN_LOAD_OVER_UNBATCHED`]× the ceiling where that is more.
    pub(super) rate: f64,
    /// The load the window was tuned at (`window.json`'s `tuned_at_rate`; without one,
    /// [`super::LOAD_FRACTION_OF_PEAK`] of the batched peak, as `check window` tunes).
    pub(super) tuned: f64,
    /// `rate / tuned`.
    pub(super) over_tuned: f64,
    /// `rate ≥ MIN_LOAD_OVER_UNBATCHED × unbatched`, `over_tuned ≤ MAX_LOAD_OVER_TUNED` and
    /// `rate ≤ MAX_FRACTION_OF_PEAK × peak`, as `check window`'s own premise (a missing figure,
    /// NaN, holds no premise). The last one also keeps a window whose tuning premise failed (its
    /// load past that share of its peak) from being judged here at that load (review of 46fa6b9).
    pub(super) premise: bool,
}

impl BurstyLoad {
    /// From the tuning load, the unbatched ceiling and the batched peak the tuning load is a share
    /// of (items/s).
    pub(super) fn of(tuned: f64, unbatched: f64, peak: f64) -> BurstyLoad {
        let rate = tuned.max(unbatched * MIN_LOAD_OVER_UNBATCHED).ceil();
        let over_tuned = rate / tuned;
        BurstyLoad {
            rate,
            tuned,
            over_tuned,
            premise: rate >= unbatched * MIN_LOAD_OVER_UNBATCHED
                && over_tuned <= MAX_LOAD_OVER_TUNED
                && rate <= peak * MAX_FRACTION_OF_PEAK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `reports/runs/2026-12-03b-vm`: the window was tuned at 139,010 items/s, the unbatched
    /// ceiling 5,492: 20× it is 109,840, so the tuning load stands (before, 5 % of before-after's
    /// own peak was 19.99× and the claim was not judged).
    #[test]
    fn where_the_tuning_load_is_twenty_times_the_ceiling_it_is_the_load() {
        let l = BurstyLoad::of(139_010.0, 5_492.0, 2_780_194.0);
        assert_eq!(l.rate, 139_010.0);
        assert!(l.premise, "{l:?}");
    }

    /// `reports/runs/2026-12-03a-vm`: tuned at 88,900 items/s, unbatched 8,507: 20× is 170,140,
    /// 1.91× the tuning load — a load the tuned window was not tuned for, so the premise fails
    /// (a fast fdatasync against the CPU's batched peak), and says so.
    #[test]
    fn a_fast_fdatasync_raises_the_load_past_what_the_window_was_tuned_for() {
        let l = BurstyLoad::of(88_900.0, 8_507.0, 1_777_994.0);
        assert_eq!(l.rate, 170_140.0);
        assert!((l.over_tuned - 1.914).abs() < 1e-3, "{l:?}");
        assert!(!l.premise);
        // Within 1.5×: raised, and judged.
        let r = BurstyLoad::of(100_000.0, 7_000.0, 2_000_000.0);
        assert_eq!(r.rate, 140_000.0);
        assert!(r.premise);
    }

    #[test]
    fn a_missing_figure_holds_no_premise() {
        assert!(!BurstyLoad::of(f64::NAN, 5_000.0, 2_000_000.0).premise);
        assert!(!BurstyLoad::of(100_000.0, f64::NAN, 2_000_000.0).premise);
        assert!(!BurstyLoad::of(100_000.0, 4_000.0, f64::NAN).premise);
    }

    /// A window tuned where its own premise failed (20× a ceiling of 5,001 past 7.5 % of a 1 M peak):
    /// before-after does not judge its claim at that load either.
    #[test]
    fn a_load_whose_bursts_pass_the_peak_holds_no_premise() {
        let l = BurstyLoad::of(100_020.0, 5_001.0, 1_000_000.0);
        assert_eq!(l.rate, 100_020.0);
        assert!(!l.premise, "{l:?}");
        assert!(BurstyLoad::of(75_000.0, 3_750.0, 1_000_000.0).premise);
    }
}
