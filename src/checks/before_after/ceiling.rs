//! The disk's own ceiling on claim (a), batched / unbatched items/s: whether this disk can show
//! [`MIN_SPEEDUP`]× at all.
//!
//! Unbatched, the pipeline commits one item per fdatasync, at about the disk's small-append sync
//! rate; batched, at most at the disk's bandwidth over the bytes of each item. The ratio can pass
//! the bar only where `bandwidth / item bytes ≥ MIN_SPEEDUP × unbatched rate`: a disk whose small
//! fdatasyncs are fast against its bandwidth cannot show 500× with 100-byte items, whatever the
//! code does (this machine's disk, in some hours: the figures are in issue 15's notes and in run
//! folders' `before-after.json`). So each saturation pair also measures the ceiling — fio
//! appending with fdatasync in the sink's file layout, right after the pair's two runs, at 1 MiB
//! and at the tuned window's full batch (the better of the two, or the batched run's own rate
//! where that is more: a ceiling is never under what the disk just did) — and the pairs' ceiling
//! ratios are decided like the claim. Where the whole interval lies under the bar, the premise is
//! not met and a failed claim at the disk's limit (its interval reaching 95 % of the ceiling's) is
//! not judged (it says "this disk cannot show it", with the figures, instead of "the claim is
//! false"); where it is undecided, such a failed claim is undecided too. A claim clearly under
//! the ceiling is the pipeline's own failure, and fails.
//!
//! What the code under test could move is kept out of the ceiling, so a regression cannot hide
//! behind it: the bytes per item are the claim's payload bytes, not what the sink wrote (framing
//! that grew would lower the ceiling with the claim); fio runs at the window's configured batch,
//! not at the writes the run made; and an unbatched run that did not fdatasync every item (which
//! would lift the denominator) leaves the ceiling unmeasured. Where fio is unavailable or a figure
//! is missing (a run that committed nothing), the claim is judged alone and says so.

use std::path::Path;

use super::MIN_SPEEDUP;
use crate::checks::common::{effective_max_items, CheckOptions, Criterion, Spread};
use crate::checks::physical::{run_fio, MIN_FRACTION_OF_FIO, SEGMENT_BYTES};
use crate::config::WindowConfig;
use crate::stats::{at_least, judge_samples, Decision, Outcome, LEVEL};
use crate::summary::RunReport;

/// One pair's ceiling: the disk's best append + fdatasync bandwidth and the figures it is set
/// against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PairCeiling {
    /// fio's append + fdatasync bandwidth, bytes/s: the better of 1 MiB appends and appends of the
    /// window's full batch (a disk is not always fastest at 1 MiB: in one hour the pipeline's ~400 KB
    /// commits ran at 1.5× fio's 1 MiB bandwidth).
    pub(super) bytes_per_s: f64,
    /// The items' payload bytes (the claim's "100-byte items").
    pub(super) item_bytes: f64,
    /// The pair's batched items/s: the disk did at least that.
    pub(super) batched_items_per_s: f64,
    /// The pair's unbatched items/s; NaN where that run did not fdatasync every item it committed
    /// (or committed none): a rate that is not the disk's sync rate sets no ceiling.
    pub(super) unbatched_items_per_s: f64,
}

impl PairCeiling {
    /// From the pair's two runs and fio's best bandwidth after them.
    pub(super) fn of(unbatched: &RunReport, batched: &RunReport, bytes_per_s: f64) -> PairCeiling {
        let synced_each = unbatched.committed > 0 && unbatched.fdatasyncs >= unbatched.committed;
        PairCeiling {
            bytes_per_s,
            item_bytes: batched.settings.item_bytes as f64,
            batched_items_per_s: batched.throughput_items_per_s,
            unbatched_items_per_s: if synced_each {
                unbatched.throughput_items_per_s
            } else {
                f64::NAN
            },
        }
    }

    /// Items/s the disk allows for these items: its best bandwidth over their bytes, or what the
    /// batched run did where that is more.
    pub(super) fn items_per_s(&self) -> f64 {
        (self.bytes_per_s / self.item_bytes).max(self.batched_items_per_s)
    }

    /// The largest batched / unbatched ratio this pair's disk allows (NaN where a figure is missing).
    pub(super) fn ratio(&self) -> f64 {
        let r = self.items_per_s() / self.unbatched_items_per_s;
        if r.is_finite() && r > 0.0 && self.item_bytes > 0.0 {
            r
        } else {
            f64::NAN
        }
    }
}

/// Bytes of the window's full batch of the check's items (framing included): the second write size
/// fio is run at, from the configuration and not from the run's own writes.
pub(super) fn full_batch_bytes(window: &WindowConfig, opts: &CheckOptions) -> u64 {
    let item_bytes = opts.run_config("ba-batched", *window).load.item_bytes;
    let framed = item_bytes + crate::codec::MAX_RECORD_FRAMING_BYTES;
    (effective_max_items(window, item_bytes) * framed)
        .min(window.max_bytes)
        .max(1) as u64
}

/// One pair's ceiling: fio right after its two runs, in `dir`, at 1 MiB and at `full_batch` bytes;
/// fio's error as text when it cannot run.
pub(super) fn measure(
    opts: &CheckOptions,
    dir: &Path,
    full_batch: u64,
    unbatched: &RunReport,
    batched: &RunReport,
) -> Result<PairCeiling, String> {
    let secs = opts.run_secs(1.0).as_secs_f64();
    let fio = |bs: u64| {
        run_fio(dir, bs, secs, 512 << 20, SEGMENT_BYTES, false)
            .map(|f| f.bytes_per_s)
            .map_err(|e| e.to_string())
    };
    let best = fio(1 << 20)?.max(fio(full_batch)?);
    Ok(PairCeiling::of(unbatched, batched, best))
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
        // A missing figure in any pair (a run that committed nothing, an unbatched run that did not
        // sync each item): no ceiling, and the claim is judged alone — a ratio of nothing must fail
        // it, not leave it undecided.
        if let Some(i) = ratios.iter().position(|r| r.is_nan()) {
            return Ceiling::unmeasured(format!(
                "pair {} has no ceiling: {pairs:?}",
                i + 1,
                pairs = pairs[i]
            ));
        }
        let d = judge_samples(ratios, LEVEL, |iv| at_least(iv, MIN_SPEEDUP));
        let mid = |f: fn(&PairCeiling) -> f64| {
            Spread::of(&pairs.iter().map(f).collect::<Vec<_>>()).median
        };
        let figures = format!(
            "fio's append + fdatasync bandwidth {:.1} MB/s (the better of 1 MiB appends and the \
             window's full batch) over {:.0} payload bytes per item = {:.0} items/s, or the \
             batched run's own items/s where more, against {:.0} unbatched items/s (medians of the \
             pairs; fio ran right after each pair, in the sink's file layout)",
            mid(|p| p.bytes_per_s) / 1e6,
            mid(|p| p.item_bytes),
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

    /// Whether a failed `claim` is left undecided: the ceiling did not hold the bar, and the claim's
    /// interval reaches [`MIN_FRACTION_OF_FIO`] of the ceiling's median (not its low end: an
    /// undecided ceiling's low end is a low order statistic, review of 45ea860) — the pipeline is at the
    /// disk's limit by the project's own bar for that (`check physical`), or cannot be told from
    /// there. A claim clearly under what this disk allows is the pipeline's own failure and is
    /// judged (review of 555af0d: a pipeline at 100× on a disk allowing 450× read as "this disk
    /// cannot show it").
    /// The premise criterion as the claim's verdict reads it: where a failed claim is not excused,
    /// the premise's "not judged" would contradict the FAIL beside it, so it says why it is judged.
    pub(super) fn criterion_for(&self, claim: &Decision) -> Criterion {
        let mut c = self.criterion.clone();
        if let Some(d) = self.decision.as_ref().filter(|_| !self.premise) {
            if claim.outcome != Outcome::Holds && !self.excuses(claim) {
                c.what.push_str(&format!(
                    "; the claim is judged all the same: its interval's high end {:.0}× is under {:.0} % of the ceiling's median {:.0}×, so the pipeline, not the disk, is short",
                    claim.interval.hi,
                    MIN_FRACTION_OF_FIO * 100.0,
                    d.interval.median
                ));
            }
        }
        c
    }

    pub(super) fn excuses(&self, claim: &Decision) -> bool {
        match &self.decision {
            Some(d) if !self.premise => {
                claim.interval.hi >= MIN_FRACTION_OF_FIO * d.interval.median
            }
            _ => false,
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
                item_bytes: 100.0,
                batched_items_per_s: 1_500_000.0,
                unbatched_items_per_s: unbatched,
            })
            .collect()
    }

    /// The claim's criterion as `before_after` builds it, for a pipeline at about the disk's
    /// ceiling: failed, then resting on the ceiling.
    fn failed_claim(c: &Ceiling) -> Criterion {
        let d = judge_samples(
            vec![440.0, 452.0, 461.0, 445.0, 470.0, 449.0],
            LEVEL,
            |iv| at_least(iv, MIN_SPEEDUP),
        );
        assert_eq!(d.outcome, Outcome::Fails);
        Criterion::decided(d.clone(), "saturation").resting_on(!c.excuses(&d))
    }

    /// The hour this was found: ~250 MB/s at 1 MiB, 100-byte items, 5,343 unbatched items/s —
    /// at most ~468×: a failed 500× claim is "this disk cannot show it", never a FAIL.
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

    /// A ceiling under the bar excuses only a claim that reaches it: a pipeline far under what the
    /// disk allows fails, whatever the bar.
    #[test]
    fn a_claim_clearly_under_a_ceiling_that_cannot_show_the_bar_still_fails() {
        let p = pairs(&[250.0, 246.0, 255.0, 240.0, 252.0, 249.0], 5_343.0);
        let c = Ceiling::of(Ok(&p));
        assert!(!c.premise);
        let far_under = judge_samples(vec![100.0, 98.0, 103.0, 97.0, 101.0, 99.0], LEVEL, |iv| {
            at_least(iv, MIN_SPEEDUP)
        });
        assert!(!c.excuses(&far_under));
        let premise = c.criterion_for(&far_under);
        assert!(
            premise.what.contains("judged all the same"),
            "{}",
            premise.what
        );
        let claim =
            Criterion::decided(far_under.clone(), "saturation").resting_on(!c.excuses(&far_under));
        assert!(!claim.held && !claim.inconclusive, "{}", claim.what);
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
        let p = pairs(&[200.0, 225.0, 210.0, 235.0, 205.0, 220.0], 4_400.0);
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

    /// A figure that is missing (a batched run that committed nothing has a ratio of 0 and must
    /// fail the claim; an unbatched run that did not sync each item): the ceiling is not measured
    /// and the claim is judged alone — before, a NaN held no premise and left a failed claim
    /// undecided (review of 646b0df).
    #[test]
    fn a_missing_figure_leaves_the_claim_judged_alone() {
        let mut p = pairs(&[250.0; 6], 3_000.0);
        p[2].unbatched_items_per_s = f64::NAN;
        let c = Ceiling::of(Ok(&p));
        assert!(c.premise && c.decision.is_none(), "{}", c.criterion.what);
        assert!(
            c.criterion.what.contains("pair 3 has no ceiling"),
            "{}",
            c.criterion.what
        );
        assert!(!failed_claim(&c).inconclusive);
        assert!(Ceiling::of(Ok(&[])).premise);
    }

    fn report(committed: u64, fdatasyncs: u64, items_per_s: f64, bytes_written: u64) -> RunReport {
        let mut r = RunReport {
            committed,
            fdatasyncs,
            throughput_items_per_s: items_per_s,
            bytes_written,
            ..Default::default()
        };
        r.settings.item_bytes = 100;
        r
    }

    /// The ceiling is built from what the code under test cannot move: payload bytes, not the bytes
    /// the sink wrote (framing that grew 10× leaves it where it was), and an unbatched run that
    /// stopped syncing each item sets none.
    #[test]
    fn a_regression_in_the_code_under_test_does_not_move_the_ceiling() {
        let u = report(10_000, 10_000, 5_000.0, 1_000_000);
        let lean = PairCeiling::of(&u, &report(1_000_000, 250, 1_000_000.0, 101_000_000), 250e6);
        let bloated = PairCeiling::of(
            &u,
            &report(1_000_000, 250, 1_000_000.0, 1_010_000_000),
            250e6,
        );
        assert_eq!(lean, bloated);
        assert!((lean.ratio() - 500.0).abs() < 1e-9, "{lean:?}");
        let unsynced = report(10_000, 100, 50_000.0, 1_000_000);
        let p = PairCeiling::of(&unsynced, &report(1_000_000, 250, 1e6, 0), 250e6);
        assert!(p.ratio().is_nan());
        let nothing = PairCeiling::of(&report(0, 0, 0.0, 0), &report(0, 0, 0.0, 0), 250e6);
        assert!(nothing.ratio().is_nan());
    }
}
