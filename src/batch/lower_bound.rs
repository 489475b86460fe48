//! The lowest p99 a window policy could reach on an arrival trace and a disk, simulated: the latency
//! counterpart of "sink vs fio". A discrete-event simulation of one batcher and one sink replays the
//! trace's arrivals; a batch opens when its first item is admitted (the sink is free and an item is
//! there), closes at the window's item bound or its linger, whichever comes first (at once when the
//! bound is already queued), and is durable a service time later, drawn from the fdatasync durations
//! measured on the same disk in the same run. The best p99 over a dense grid of windows (and smart
//! batching: a zero linger) is what no window policy of this shape could beat on that trace and disk;
//! the real pipeline's p99 against it is its overhead plus its choice of window.
//!
//! What the simulation leaves out, so that the bound is a bound and not a model: CPU time (framing,
//! the queue, the generator), the write before each fdatasync, and any dependence of the fdatasync's
//! duration on the batch's size (durations are drawn from the run's own, which mixes its sizes).

use hdrhistogram::Histogram;

use crate::clock::Nanos;
use crate::rng::SplitMix64;

/// One window policy: flush at `max_items`, or `linger` after the batch's first item was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The item bound.
    pub max_items: usize,
    /// The linger; 0 is smart batching (flush whatever is queued when the sink is free).
    pub linger_ns: Nanos,
}

/// What one policy reached on the trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Simulated {
    /// The policy.
    pub policy: Policy,
    /// p99 of arrival-to-durable latency, ns.
    pub p99_ns: Nanos,
    /// Batches committed.
    pub batches: u64,
}

/// The policies the bound is the best of: item bounds 1, 2, 4, ..., 8192 and lingers from 0 to 5 ms.
pub fn policy_grid() -> Vec<Policy> {
    const LINGERS_US: [u64; 9] = [0, 25, 50, 100, 250, 500, 1_000, 2_000, 5_000];
    (0..14)
        .flat_map(|k| {
            LINGERS_US.iter().map(move |&l| Policy {
                max_items: 1 << k,
                linger_ns: l * 1_000,
            })
        })
        .collect()
}

/// Service times drawn from an empirical distribution given as evenly spaced quantiles (µs),
/// interpolated linearly between them.
pub struct ServiceTimes {
    quantiles_us: Vec<f64>,
    rng: SplitMix64,
}

impl ServiceTimes {
    /// Draws from `quantiles_us` (at least two points, ascending), seeded.
    pub fn new(quantiles_us: &[f64], seed: u64) -> Option<ServiceTimes> {
        (quantiles_us.len() >= 2 && quantiles_us.iter().all(|q| q.is_finite())).then(|| {
            ServiceTimes {
                quantiles_us: quantiles_us.to_vec(),
                rng: SplitMix64::new(seed),
            }
        })
    }

    /// One service time, ns.
    pub fn draw(&mut self) -> Nanos {
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let x = u * (self.quantiles_us.len() - 1) as f64;
        let k = (x as usize).min(self.quantiles_us.len() - 2);
        let (a, b) = (self.quantiles_us[k], self.quantiles_us[k + 1]);
        ((a + (b - a) * (x - k as f64)) * 1_000.0).max(0.0) as Nanos
    }
}

/// Simulate `policy` on `arrivals` (ns, ascending).
pub fn simulate(arrivals: &[Nanos], policy: Policy, service: &mut ServiceTimes) -> Simulated {
    let max_items = policy.max_items.max(1);
    let mut lat = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 2).expect("bounds");
    let (mut i, mut free_at, mut batches) = (0usize, 0 as Nanos, 0u64);
    while i < arrivals.len() {
        let open = free_at.max(arrivals[i]);
        let fill = i + max_items - 1;
        let close = if fill < arrivals.len() && arrivals[fill] <= open {
            open
        } else {
            let deadline = open.saturating_add(policy.linger_ns);
            arrivals.get(fill).map_or(deadline, |&t| t.min(deadline))
        };
        // Everything that has arrived by the close, up to the bound (at least the first item).
        let mut take = 1;
        while take < max_items && i + take < arrivals.len() && arrivals[i + take] <= close {
            take += 1;
        }
        let done = close + service.draw();
        for &a in &arrivals[i..i + take] {
            lat.saturating_record((done - a).max(1));
        }
        free_at = done;
        i += take;
        batches += 1;
    }
    Simulated {
        policy,
        p99_ns: if lat.is_empty() {
            0
        } else {
            lat.value_at_quantile(0.99)
        },
        batches,
    }
}

/// Every policy of `grid` on `arrivals` with service times from `quantiles_us` (each policy with
/// the same seeded draws), and the one with the lowest p99. `None` without a usable distribution or
/// without arrivals.
pub fn lowest_p99(
    arrivals: &[Nanos],
    quantiles_us: &[f64],
    seed: u64,
    grid: &[Policy],
) -> Option<(Simulated, Vec<Simulated>)> {
    ServiceTimes::new(quantiles_us, seed)?;
    if arrivals.is_empty() || grid.is_empty() {
        return None;
    }
    let all: Vec<Simulated> = grid
        .iter()
        .map(|&p| {
            let mut s = ServiceTimes::new(quantiles_us, seed).expect("checked above");
            simulate(arrivals, p, &mut s)
        })
        .collect();
    let best = *all.iter().min_by_key(|s| s.p99_ns)?;
    Some((best, all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ms;

    fn constant(us: f64) -> ServiceTimes {
        ServiceTimes::new(&[us, us], 1).unwrap()
    }

    #[test]
    fn one_item_per_batch_on_a_steady_trace_costs_one_service_time() {
        // Arrivals 10 ms apart, service 1 ms: every item alone, durable 1 ms after it arrived.
        let arrivals: Vec<Nanos> = (0..100).map(|i| i * ms(10)).collect();
        let one = Policy {
            max_items: 1,
            linger_ns: 0,
        };
        let r = simulate(&arrivals, one, &mut constant(1_000.0));
        assert_eq!(r.batches, 100);
        assert!((r.p99_ns as f64 - 1e6).abs() < 1e4, "{r:?}");
    }

    #[test]
    fn a_burst_behind_a_slow_sink_is_batched_and_a_linger_adds_its_wait() {
        // 1,000 items at once, service 2 ms: unbatched, the last waits 1,000 services; batched
        // by 1,000, one service.
        let arrivals = vec![0; 1000];
        let un = simulate(
            &arrivals,
            Policy {
                max_items: 1,
                linger_ns: 0,
            },
            &mut constant(2_000.0),
        );
        let ba = simulate(
            &arrivals,
            Policy {
                max_items: 1000,
                linger_ns: 0,
            },
            &mut constant(2_000.0),
        );
        assert_eq!((un.batches, ba.batches), (1000, 1));
        assert!(un.p99_ns > 1_900 * ms(1), "{un:?}");
        assert!((ba.p99_ns as f64 - 2e6).abs() < 2e4, "{ba:?}");
        // A single item with a 5 ms linger waits it out before its service.
        let lone = simulate(
            &[0],
            Policy {
                max_items: 10,
                linger_ns: ms(5),
            },
            &mut constant(2_000.0),
        );
        assert!((lone.p99_ns as f64 - 7e6).abs() < 7e4, "{lone:?}");
    }

    #[test]
    fn the_lowest_p99_is_the_minimum_over_the_grid_and_no_policy_beats_it() {
        let mut r = SplitMix64::new(9);
        let mut t = 0;
        let arrivals: Vec<Nanos> = (0..20_000)
            .map(|_| {
                t += r.below(200_000);
                t
            })
            .collect();
        let q: Vec<f64> = (0..=100).map(|i| 200.0 + 20.0 * i as f64).collect();
        let (best, all) = lowest_p99(&arrivals, &q, 7, &policy_grid()).unwrap();
        assert_eq!(all.len(), policy_grid().len());
        assert!(all.iter().all(|s| s.p99_ns >= best.p99_ns));
        // The same seed gives the same answer.
        let (again, _) = lowest_p99(&arrivals, &q, 7, &policy_grid()).unwrap();
        assert_eq!(again, best);
        assert!(lowest_p99(&arrivals, &[], 7, &policy_grid()).is_none());
    }
}
