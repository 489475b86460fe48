//! The disk's own ceiling on claim (a), batched / unbatched items/s: whether this disk can show
//! [`MIN_SPEEDUP`]× at all.
//!
//! Both sides of the ratio are the disk's. Unbatched, the pipeline commits one item per fdatasync,
//! at the disk's small-append sync rate; batched, at most the disk's bandwidth at its best write
//! size over the bytes each item takes on disk (payload, record framing, block headers). The ratio
//! can pass the bar only where `bandwidth / bytes per item ≥ MIN_SPEEDUP × sync rate`: a disk whose
//! small fdatasyncs are fast against its bandwidth cannot show 500× with 100-byte items, whatever
//! the code does (this machine's disk, in some hours: the figures are in issue 15's notes and in run
//! folders' `before-after.json`). So each saturation pair also measures the
//! ceiling — fio appending with fdatasync, in the sink's file layout, right after the pair's two
//! runs, at 1 MiB and at the batched run's own write size (the better of the two, or the batched
//! run's own rate where that is more: a ceiling is never under what the disk just did) — and the
//! pairs' ceiling ratios are decided like the claim. Where the whole
//! interval lies under the bar, the premise is not met and a failed claim is not judged (it says
//! "this disk cannot show it", with the figures, instead of "the claim is false"); where it is
//! undecided, a failed claim is undecided too; where fio is unavailable, the claim is judged alone
//! and says so.

use super::MIN_SPEEDUP;
use crate::checks::common::Criterion;
use crate::stats::{at_least, judge_samples, Decision, Outcome, LEVEL};

/// One pair's ceiling: the disk's best append + fdatasync bandwidth and the batched run's bytes per
/// item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PairCeiling {
    /// fio's append + fdatasync bandwidth, bytes/s: the better of 1 MiB appends and appends of the
    /// batched run's own mean write size (a disk is not always fastest at 1 MiB: in one hour the
    /// pipeline's ~400 KB commits ran at 1.5× fio's 1 MiB bandwidth).
    pub(super) bytes_per_s: f64,
    /// Bytes the batched run wrote to segments per item it committed.
    pub(super) bytes_per_item: f64,
    /// The pair's batched items/s: the disk did at least that.
    pub(super) batched_items_per_s: f64,
    /// The pair's unbatched items/s.
    pub(super) unbatched_items_per_s: f64,
}

impl PairCeiling {
    /// Items/s the disk allows for these items: its best bandwidth over their bytes, or what the
    /// batched run did where that is more.
    pub(super) fn items_per_s(&self) -> f64 {
        (self.bytes_per_s / self.bytes_per_item).max(self.batched_items_per_s)
    }

    /// The largest batched / unbatched ratio this pair's disk allows (NaN where a figure is missing:
    /// it then holds no premise).
    pub(super) fn ratio(&self) -> f64 {
        let r = self.items_per_s() / self.unbatched_items_per_s;
        if r.is_finite() && r > 0.0 && self.bytes_per_item.is_finite() {
            r
        } else {
            f64::NAN
        }
    }
}

/// The ceiling's decision and its premise criterion. `pairs` is `None` where fio could not run
/// (`why`): then the claim rests on nothing and is judged alone.
pub(super) struct Ceiling {
    /// The pairs' ceiling ratios decided against [`MIN_SPEEDUP`] (`None` without fio).
    pub(super) decision: Option<Decision>,
    /// Whether a failed claim may be judged: the ceiling holds the bar, or was not measured.
    pub(super) premise: bool,
    /// The criterion that says so, with the figures.
    pub(super) criterion: Criterion,
}

impl Ceiling {
    /// From each pair's ceiling (all of the same length as the claim's pairs), or why fio gave none.
    pub(super) fn of(pairs: Result<&[PairCeiling], String>) -> Ceiling {
        let pairs = match pairs {
            Ok(p) if !p.is_empty() => p,
            Ok(_) => return Ceiling::unmeasured("no saturation pair was run".into()),
            Err(why) => return Ceiling::unmeasured(why),
        };
        let ratios: Vec<f64> = pairs.iter().map(PairCeiling::ratio).collect();
        // A missing figure in any pair decides nothing.
        let missing = ratios.iter().any(|r| r.is_nan());
        let d = judge_samples(ratios, LEVEL, |iv| {
            if missing {
                Outcome::Inconclusive
            } else {
                at_least(iv, MIN_SPEEDUP)
            }
        });
        let mid = |f: fn(&PairCeiling) -> f64| {
            let mut v: Vec<f64> = pairs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let figures = format!(
            "fio's append + fdatasync bandwidth {:.1} MB/s (the better of 1 MiB appends and the \
             batched run's write size) over {:.1} bytes per item on disk = {:.0} items/s, or the \
             batched run's own items/s where more, against {:.0} unbatched items/s (medians of the \
             pairs; fio ran right after each pair, in the sink's file layout)",
            mid(|p| p.bytes_per_s) / 1e6,
            mid(|p| p.bytes_per_item),
            mid(PairCeiling::items_per_s),
            mid(|p| p.unbatched_items_per_s),
        );
        let premise = d.outcome == Outcome::Holds;
        let what = format!(
            "this disk can show {MIN_SPEEDUP}×: its bandwidth allows batched / unbatched up to {} ({figures})",
            describe(&d)
        );
        let criterion = match d.outcome {
            Outcome::Holds => Criterion::premise(true, what),
            Outcome::Fails => Criterion::premise(
                false,
                format!("{what}: 500× is past what this disk can do with these items"),
            ),
            Outcome::Inconclusive => Criterion::premise(
                false,
                format!("{what}: undecided whether this disk can do it, so a failed claim is undecided too"),
            ),
        };
        Ceiling {
            decision: Some(d),
            premise,
            criterion,
        }
    }

    fn unmeasured(why: String) -> Ceiling {
        Ceiling {
            decision: None,
            premise: true,
            criterion: Criterion::timing(
                true,
                format!(
                    "note: the disk's ceiling on the ratio was not measured ({why}), so the claim is judged alone"
                ),
            ),
        }
    }
}

/// "median N×, 97 % interval lo–hi×, n runs".
fn describe(d: &Decision) -> String {
    format!(
        "median {:.0}×, {:.0} % interval {:.0}–{:.0}×, {} pairs",
        d.interval.median,
        d.interval.level * 100.0,
        d.interval.lo,
        d.interval.hi,
        d.interval.n
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{judge_samples, Outcome};

    fn pairs(bw_mb: &[f64], unbatched: f64) -> Vec<PairCeiling> {
        bw_mb
            .iter()
            .map(|&b| PairCeiling {
                bytes_per_s: b * 1e6,
                bytes_per_item: 101.0,
                batched_items_per_s: 1_500_000.0,
                unbatched_items_per_s: unbatched,
            })
            .collect()
    }

    /// The claim's criterion as `before_after` builds it: failed, then resting on the ceiling.
    fn failed_claim(c: &Ceiling) -> Criterion {
        let d = judge_samples(
            vec![392.0, 380.0, 401.0, 377.0, 410.0, 388.0],
            LEVEL,
            |iv| at_least(iv, MIN_SPEEDUP),
        );
        assert_eq!(d.outcome, Outcome::Fails);
        Criterion::decided(d, "saturation").resting_on(c.premise)
    }

    /// The hour this was found: ~250 MB/s at 1 MiB, 101 B per item, 5,343 unbatched items/s —
    /// at most ~463×: a failed 500× claim is "this disk cannot show it", never a FAIL.
    #[test]
    fn a_disk_whose_bandwidth_cannot_show_the_bar_leaves_a_failed_claim_unjudged() {
        let p = pairs(&[250.0, 246.0, 255.0, 240.0, 252.0, 249.0], 5_343.0);
        let c = Ceiling::of(Ok(&p));
        assert!(!c.premise && !c.criterion.held && c.criterion.inconclusive);
        assert!(
            c.criterion.what.contains("past what this disk can do"),
            "{}",
            c.criterion.what
        );
        assert!(
            c.criterion.what.contains("unbatched items/s"),
            "{}",
            c.criterion.what
        );
        let claim = failed_claim(&c);
        assert!(!claim.held && claim.inconclusive);
    }

    /// `reports/runs/2026-12-03g-vm`'s disk: 237.6 MB/s at 1 MiB against 3,922 unbatched items/s
    /// allowed ~600×: the premise holds and a failed claim is a FAIL.
    #[test]
    fn a_disk_that_can_show_the_bar_leaves_a_failed_claim_failed() {
        let p = pairs(&[237.6, 240.0, 236.0, 239.0, 238.0, 241.0], 3_922.0);
        let c = Ceiling::of(Ok(&p));
        assert!(c.premise && c.criterion.held, "{}", c.criterion.what);
        let claim = failed_claim(&c);
        assert!(!claim.held && !claim.inconclusive);
    }

    /// A batched run faster than fio's best: the disk did that much, so it is the ceiling.
    #[test]
    fn a_batched_run_past_fio_is_its_own_ceiling() {
        let mut p = pairs(&[250.0; 6], 5_343.0);
        for q in &mut p {
            q.batched_items_per_s = 4_000_000.0;
        }
        let c = Ceiling::of(Ok(&p));
        assert!(c.premise, "{}", c.criterion.what);
        assert!((p[0].ratio() - 4_000_000.0 / 5_343.0).abs() < 1e-9);
    }

    #[test]
    fn a_ceiling_that_straddles_the_bar_leaves_a_failed_claim_undecided() {
        let p = pairs(&[200.0, 260.0, 230.0, 300.0, 210.0, 280.0], 4_400.0);
        let c = Ceiling::of(Ok(&p));
        assert_eq!(
            c.decision.as_ref().map(|d| d.outcome),
            Some(Outcome::Inconclusive)
        );
        assert!(!c.premise && c.criterion.inconclusive);
        assert!(failed_claim(&c).inconclusive);
    }

    /// Without fio the claim is judged alone (a FAIL stays one), and the note says why.
    #[test]
    fn without_fio_the_claim_is_judged_alone() {
        let c = Ceiling::of(Err("fio: not found".into()));
        assert!(c.premise && c.criterion.held && c.decision.is_none());
        assert!(
            c.criterion.what.contains("fio: not found"),
            "{}",
            c.criterion.what
        );
        assert!(!failed_claim(&c).inconclusive);
    }

    /// A figure that is missing (a run that committed nothing: 0 bytes per item) holds no premise.
    #[test]
    fn a_missing_figure_holds_no_premise() {
        let mut p = pairs(&[250.0; 6], 3_000.0);
        for q in &mut p {
            q.bytes_per_item = f64::NAN;
        }
        let c = Ceiling::of(Ok(&p));
        assert!(
            !c.premise && c.criterion.inconclusive,
            "{}",
            c.criterion.what
        );
        assert!(Ceiling::of(Ok(&[])).premise);
    }
}
