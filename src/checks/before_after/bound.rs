//! One bursty run and the lowest p99 any window of the grid reaches on its trace, served by the run's
//! own sink commits by size class (simulated once per run: [`crate::batch::lower_bound`]).

use crate::batch::lower_bound::{lowest_p99, simulate, Policy, ServiceTimes, Simulated};
use crate::clock::Nanos;
use crate::summary::RunReport;

/// A bursty run with its bound.
pub(super) struct Judged {
    pub(super) run: RunReport,
    pub(super) seed: u64,
    pub(super) bound: Option<(Simulated, Vec<Simulated>)>,
}

/// Mean bytes an item takes in the sink in `run` (framing and block headers included).
fn bytes_per_item(run: &RunReport) -> f64 {
    if run.committed == 0 {
        0.0
    } else {
        run.bytes_written as f64 / run.committed as f64
    }
}

impl Judged {
    pub(super) fn new(run: RunReport, arrivals: &[Nanos], grid: &[Policy], seed: u64) -> Judged {
        let bound = ServiceTimes::by_size(&run.sink_commit_classes, seed)
            .and_then(|s| lowest_p99(arrivals, &s, bytes_per_item(&run), grid));
        Judged { run, seed, bound }
    }

    /// The bound's p99, µs (`None` when the run measured no commits).
    pub(super) fn bound_us(&self) -> Option<f64> {
        self.bound.as_ref().map(|(b, _)| b.p99_ns as f64 / 1e3)
    }

    /// The run's p99 over its own bound; NaN without a bound.
    pub(super) fn ratio(&self) -> f64 {
        self.bound_us()
            .map_or(f64::NAN, |b| self.run.latency_us.p99 / b)
    }

    /// `policy` simulated on this run's trace with its seed (see [`simulate_us`]).
    pub(super) fn simulate_us(
        &self,
        arrivals: &[Nanos],
        policy: Policy,
        by_size: bool,
    ) -> Option<f64> {
        simulate_us(&self.run, self.seed, arrivals, policy, by_size)
    }
}

/// `policy` simulated on `arrivals` against `run`'s disk, µs: served as the bound is (`by_size`),
/// or from the run's fdatasyncs of every size alike, as the bound was before it knew sizes.
pub(super) fn simulate_us(
    run: &RunReport,
    seed: u64,
    arrivals: &[Nanos],
    policy: Policy,
    by_size: bool,
) -> Option<f64> {
    let service = if by_size {
        ServiceTimes::by_size(&run.sink_commit_classes, seed)
    } else {
        ServiceTimes::new(&run.fdatasync_quantiles_us, seed)
    };
    service.map(|mut s| simulate(arrivals, policy, &mut s, bytes_per_item(run)).p99_ns as f64 / 1e3)
}

/// The simulation's policy for a real window: its item bound as its bytes bound caps it for
/// `item_bytes` items, and its linger.
pub(super) fn policy_of(w: &crate::config::WindowConfig, item_bytes: usize) -> Policy {
    Policy {
        max_items: super::super::common::effective_max_items(w, item_bytes),
        linger_ns: w.linger.as_nanos() as Nanos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::lower_bound::policy_grid;
    use crate::metrics::SizeClass;

    fn run_on_disk(commit_us: f64, p99_us: f64) -> RunReport {
        let mut r = RunReport {
            sink_commit_classes: vec![SizeClass {
                min_bytes: 1,
                commits: 1,
                quantiles_us: vec![commit_us, commit_us],
            }],
            committed: 1_000,
            bytes_written: 100_000,
            ..RunReport::default()
        };
        r.latency_us.p99 = p99_us;
        r
    }

    #[test]
    fn a_run_on_a_slow_disk_hour_is_judged_against_its_own_bound_not_another_runs() {
        // Before, every run's p99 was held against the bound simulated from the median run's
        // fdatasyncs: the same pipeline on a disk twice as slow that hour read as twice as far
        // from the bound. Items 1 ms apart, one per batch: the bound is one commit.
        let arrivals: Vec<Nanos> = (0..1_000).map(|i| i * crate::clock::ms(1)).collect();
        let grid = policy_grid();
        let fast = Judged::new(run_on_disk(200.0, 300.0), &arrivals, &grid, 1).ratio();
        let slow = Judged::new(run_on_disk(400.0, 600.0), &arrivals, &grid, 2).ratio();
        assert!(
            (fast - 1.5).abs() < 0.05 && (slow - 1.5).abs() < 0.05,
            "{fast} {slow}"
        );
        // A run that measured no commit has no bound: NaN, which the interval leaves out.
        assert!(Judged::new(run_on_disk(f64::NAN, 1.0), &arrivals, &grid, 3)
            .ratio()
            .is_nan());
    }

    #[test]
    fn a_run_whose_large_commits_are_slow_is_bounded_by_its_large_commits() {
        // Every 10 ms a burst of 4,000 items; small blocks commit in 100 µs, 400 KB ones in 2 ms.
        // Before, the bound drew from the run's mix of fdatasyncs, nearly all small: the burst's
        // large batches were served at 100 µs and the bound sat far below anything this disk allows.
        let arrivals: Vec<Nanos> = (0..50)
            .flat_map(|b| std::iter::repeat_n(b * crate::clock::ms(10), 4_000))
            .collect();
        let mut r = run_on_disk(100.0, 3_000.0);
        r.sink_commit_classes.push(SizeClass {
            min_bytes: 1 << 18,
            commits: 1,
            quantiles_us: vec![2_000.0, 2_000.0],
        });
        r.fdatasync_quantiles_us = vec![100.0, 100.0];
        let j = Judged::new(r, &arrivals, &policy_grid(), 1);
        let bound = j.bound_us().unwrap();
        // A 4,000-item burst costs one slow large commit or at least two small ones in a row (two
        // 2,048-item blocks are under 256 KiB); from the mix it was one small one, 100 µs.
        assert!(bound >= 195.0, "{bound}");
        let tuned = Policy {
            max_items: 4096,
            linger_ns: 0,
        };
        let sized = j.simulate_us(&arrivals, tuned, true).unwrap();
        let mixed = j.simulate_us(&arrivals, tuned, false).unwrap();
        assert!(
            (sized - 2_000.0).abs() < 50.0 && mixed < 150.0,
            "{sized} {mixed}"
        );
    }
}
