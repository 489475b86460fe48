//! How slow the brownout regime makes the disk, from this disk.
//!
//! The regime asks whether AIMD brings the linger down when fdatasyncs slow, so that p99 stays in the
//! SLO where a long fixed linger breaches it. That question has an answer only while the slowed disk
//! leaves the SLO reachable at all: an item can wait for the commit in flight and then for its own, so
//! two stretched fdatasyncs at this disk's p99 must fit in the SLO — the premise `check before-after`
//! states for its bursty claim, here at the stretched speed. A fixed 5× does not on every disk: where
//! the fdatasync p99 is a fifth of the SLO, 5× puts one stretched fdatasync's p99 at the SLO, and every
//! window breaches there, AIMD with them. So the factor is the largest whole one up to [`MAX_FACTOR`] that fits, and a
//! disk where not even [`MIN_FACTOR`] fits does not meet the regime's premise: the check is then
//! inconclusive (the premise criterion says so, with the figures), and a failure of the regime's own
//! criteria is not judged — never a FAIL that says nothing about AIMD. The p99 comes from one run.

/// The strongest brownout asked for.
pub(super) const MAX_FACTOR: u32 = 5;
/// A brownout below this is not one.
pub(super) const MIN_FACTOR: u32 = 2;

/// The brownout this disk can test, and whether the premise holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stretch {
    /// fdatasyncs take this many times as long in the middle third.
    pub factor: u32,
    /// `2 × factor × fdatasync p99 ≤ SLO` at `factor` ≥ [`MIN_FACTOR`].
    pub premise: bool,
}

/// The factor for a disk whose fdatasync p99 at the regime's load is `sync_p99_us` (measured with the
/// grid's longest linger: its batches are the largest, so are its fdatasyncs).
pub(super) fn stretch(sync_p99_us: f64, slo_us: f64) -> Stretch {
    let fits = |f: u32| 2.0 * f as f64 * sync_p99_us <= slo_us;
    match (MIN_FACTOR..=MAX_FACTOR).rev().find(|&f| fits(f)) {
        Some(factor) => Stretch {
            factor,
            premise: true,
        },
        // A figure that is missing (NaN) fits nothing: the premise is not met.
        None => Stretch {
            factor: MIN_FACTOR,
            premise: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_disk_gets_the_full_brownout() {
        assert_eq!(
            stretch(600.0, 10_000.0),
            Stretch {
                factor: 5,
                premise: true
            }
        );
    }

    #[test]
    fn a_slower_disk_gets_the_largest_factor_whose_two_stretched_fdatasyncs_fit_the_slo() {
        // 2 × 3 × 1,600 = 9,600 ≤ 10,000 < 2 × 4 × 1,600.
        assert_eq!(stretch(1_600.0, 10_000.0).factor, 3);
        // At the edge: 2 × 2 × 2,500 = 10,000.
        assert_eq!(
            stretch(2_500.0, 10_000.0),
            Stretch {
                factor: 2,
                premise: true
            }
        );
    }

    #[test]
    fn a_disk_where_not_even_a_doubling_fits_does_not_meet_the_premise() {
        assert!(!stretch(2_546.0, 10_000.0).premise);
        assert!(!stretch(f64::NAN, 10_000.0).premise);
    }
}
