//! The AIMD window controller: it moves the batch window's **linger** once per control interval, from
//! the p99 of recently committed items against the SLO, the way TCP moves its congestion window.
//!
//! Why linger, and why these signals:
//! - The linger is what a window spends latency on. Growing it buys fewer fdatasyncs per item (bigger
//!   batches); shrinking it buys latency. The size bounds (`max_items`, `max_bytes`) stay fixed at their
//!   configured caps: they are write-size limits, and they only bind at saturation, where shrinking them
//!   would cut capacity exactly when it is needed.
//! - **Additive increase** while the sliding p99 is below `SLO × (1 − margin)` *and* batching pays: more
//!   than `grow_above_arrivals_per_commit` items arrive during one commit (write + fdatasync), so the
//!   fixed cost is being shared and a longer linger shares it further.
//! - **Multiplicative decrease** (× `decrease_factor`) on a breach (p99 > SLO), and also when the sink is
//!   nearly idle (fewer than `idle_below_arrivals_per_commit` arrivals per commit): there each item could
//!   have had its own fdatasync, so a linger only adds latency. This second rule is what lets one
//!   controller serve a few hundred items/s and a bursty near-saturation load with the same settings.
//! - Hold in between (hysteresis), so the linger does not flap.
//!
//! The signal "arrivals per commit" is the offered rate times the mean commit duration. It does not depend
//! on the linger itself, so the controller cannot talk itself into growing (as a sink-busy fraction would:
//! a longer linger makes the sink look idle).
//!
//! [`aimd_step`] is the pure decision; [`AimdDriver`] keeps the sliding histogram and the interval clock,
//! told the time by its caller (the batcher, or a test's manual clock).

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::clock::Nanos;
use crate::config::AimdConfig;
use crate::metrics::MAX_LATENCY_NS;

/// What the controller saw over its sliding history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AimdObservation {
    /// p99 end-to-end latency of the items committed in the history.
    pub p99: Duration,
    /// Items committed in the history.
    pub items: u64,
    /// Items arriving during one commit: committed rate × mean commit duration.
    pub arrivals_per_commit: f64,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AimdMove {
    /// p99 had headroom and batching paid: linger += increase.
    Increase,
    /// p99 breached the SLO: linger × decrease_factor.
    DecreaseBreach,
    /// The sink was nearly idle: linger × decrease_factor (a linger only added latency).
    DecreaseIdle,
    /// Nothing to do (inside the hysteresis band, or too few items to judge growth).
    Hold,
}

impl AimdMove {
    /// Name as in the trace CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            AimdMove::Increase => "increase",
            AimdMove::DecreaseBreach => "decrease_breach",
            AimdMove::DecreaseIdle => "decrease_idle",
            AimdMove::Hold => "hold",
        }
    }
}

/// The pure AIMD step: the next linger from the current one and an observation.
pub fn aimd_step(
    cfg: &AimdConfig,
    slo: Duration,
    linger: Duration,
    obs: &AimdObservation,
) -> (Duration, AimdMove) {
    let decrease = |l: Duration| {
        let next = l.mul_f64(cfg.decrease_factor);
        // Below a quarter step the linger is noise: snap to the floor (so it can actually reach 0).
        if next < cfg.increase / 4 {
            cfg.min_linger
        } else {
            next.max(cfg.min_linger)
        }
    };
    if obs.items > 0 && obs.p99 > slo {
        return (decrease(linger), AimdMove::DecreaseBreach);
    }
    if obs.arrivals_per_commit < cfg.idle_below_arrivals_per_commit {
        return if linger > cfg.min_linger {
            (decrease(linger), AimdMove::DecreaseIdle)
        } else {
            (linger, AimdMove::Hold)
        };
    }
    let headroom = obs.p99 < slo.mul_f64(1.0 - cfg.margin);
    if headroom
        && obs.items >= cfg.min_items
        && obs.arrivals_per_commit >= cfg.grow_above_arrivals_per_commit
        && linger < cfg.max_linger
    {
        return (
            (linger + cfg.increase).min(cfg.max_linger),
            AimdMove::Increase,
        );
    }
    (linger, AimdMove::Hold)
}

/// One control decision, for the window trace in the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AimdPoint {
    /// Seconds since the driver started.
    pub t_s: f64,
    /// Linger after the step, ms.
    pub linger_ms: f64,
    /// Sliding p99 the step saw, µs.
    pub p99_us: f64,
    /// Committed items/s over the history.
    pub items_per_s: f64,
    /// Arrivals per commit the step saw.
    pub arrivals_per_commit: f64,
    /// What the step did.
    #[serde(rename = "move")]
    pub mv: AimdMove,
}

/// Most trace points kept (one per interval: 100 ms × 20 000 = 33 min).
const MAX_TRACE_POINTS: usize = 20_000;

/// Runs [`aimd_step`] once per interval over a sliding window of per-interval histograms.
#[derive(Debug)]
pub struct AimdDriver {
    cfg: AimdConfig,
    slo: Duration,
    linger: Duration,
    started: Nanos,
    next_tick: Nanos,
    history: VecDeque<Interval>,
    current: Interval,
    merged: Histogram<u64>,
    trace: Vec<AimdPoint>,
}

#[derive(Debug)]
struct Interval {
    latency: Histogram<u64>,
    commits: u64,
    commit_ns: u64,
    span_ns: u64,
}

impl Interval {
    fn new() -> Self {
        Interval {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 2).expect("valid bounds"),
            commits: 0,
            commit_ns: 0,
            span_ns: 0,
        }
    }

    fn reset(&mut self) {
        self.latency.reset();
        self.commits = 0;
        self.commit_ns = 0;
        self.span_ns = 0;
    }
}

impl AimdDriver {
    /// A driver starting at `linger` at time `now` (validate the config first).
    pub fn new(cfg: AimdConfig, slo: Duration, linger: Duration, now: Nanos) -> Self {
        let slots = cfg.history_intervals.max(1);
        AimdDriver {
            cfg,
            slo,
            linger: linger.clamp(cfg.min_linger, cfg.max_linger),
            started: now,
            next_tick: now + cfg.interval.as_nanos() as Nanos,
            history: (0..slots).map(|_| Interval::new()).collect(),
            current: Interval::new(),
            merged: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 2).expect("valid bounds"),
            trace: Vec::new(),
        }
    }

    /// The linger in force.
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// One committed item's end-to-end latency.
    pub fn record_latency(&mut self, ns: u64) {
        let _ = self.current.latency.record(ns.clamp(1, MAX_LATENCY_NS));
    }

    /// One commit (write + fdatasync) took `ns`.
    pub fn record_commit(&mut self, ns: u64) {
        self.current.commits += 1;
        self.current.commit_ns += ns;
    }

    /// At `now`: if an interval has ended, step and return the new linger.
    pub fn tick(&mut self, now: Nanos) -> Option<Duration> {
        if now < self.next_tick {
            return None;
        }
        let interval = self.cfg.interval.as_nanos() as Nanos;
        // A quiet batcher may call late: the interval just ended covers everything since the last tick.
        self.current.span_ns = interval + (now - self.next_tick);
        self.next_tick = now + interval;
        // Rotate: the oldest slot is recycled as the new current interval, the ended one joins the history.
        let mut oldest = self
            .history
            .pop_front()
            .expect("history has at least one slot");
        oldest.reset();
        let ended = std::mem::replace(&mut self.current, oldest);
        self.history.push_back(ended);

        let obs = self.observe();
        let (next, mv) = aimd_step(&self.cfg, self.slo, self.linger, &obs);
        self.linger = next;
        if matches!(mv, AimdMove::DecreaseBreach | AimdMove::DecreaseIdle) {
            // What the history saw was caused by the old linger: judge the new one on fresh data, or a
            // single breach would halve the linger once per interval until it left the history (TCP
            // likewise cuts its window once per round trip, not once per lost packet).
            for i in self.history.iter_mut() {
                i.reset();
            }
        }
        if self.trace.len() < MAX_TRACE_POINTS {
            let span_s = self.history.iter().map(|i| i.span_ns).sum::<u64>() as f64 / 1e9;
            self.trace.push(AimdPoint {
                t_s: now.saturating_sub(self.started) as f64 / 1e9,
                linger_ms: next.as_secs_f64() * 1e3,
                p99_us: obs.p99.as_secs_f64() * 1e6,
                items_per_s: if span_s > 0.0 {
                    obs.items as f64 / span_s
                } else {
                    0.0
                },
                arrivals_per_commit: obs.arrivals_per_commit,
                mv,
            });
        }
        Some(next)
    }

    fn observe(&mut self) -> AimdObservation {
        self.merged.reset();
        let (mut commits, mut commit_ns, mut span_ns) = (0u64, 0u64, 0u64);
        for i in &self.history {
            let _ = self.merged.add(&i.latency);
            commits += i.commits;
            commit_ns += i.commit_ns;
            span_ns += i.span_ns;
        }
        let items = self.merged.len();
        let arrivals_per_commit = if commits == 0 || span_ns == 0 {
            0.0
        } else {
            let rate = items as f64 / (span_ns as f64 / 1e9);
            rate * (commit_ns as f64 / commits as f64 / 1e9)
        };
        AimdObservation {
            p99: Duration::from_nanos(if items == 0 {
                0
            } else {
                self.merged.value_at_quantile(0.99)
            }),
            items,
            arrivals_per_commit,
        }
    }

    /// Every decision so far.
    pub fn trace(&self) -> &[AimdPoint] {
        &self.trace
    }

    /// Take the trace (at the end of a run).
    pub fn into_trace(self) -> Vec<AimdPoint> {
        self.trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn cfg() -> AimdConfig {
        AimdConfig::default()
    }

    const SLO: Duration = Duration::from_millis(10);

    fn obs(p99_ms: f64, items: u64, arrivals: f64) -> AimdObservation {
        AimdObservation {
            p99: Duration::from_secs_f64(p99_ms / 1e3),
            items,
            arrivals_per_commit: arrivals,
        }
    }

    #[test]
    fn grows_additively_while_p99_has_headroom_and_batching_pays() {
        let c = cfg();
        let (l, mv) = aimd_step(&c, SLO, Duration::from_millis(1), &obs(2.0, 10_000, 50.0));
        assert_eq!(mv, AimdMove::Increase);
        assert_eq!(l, Duration::from_millis(1) + c.increase);
    }

    #[test]
    fn halves_on_a_breach_even_when_batching_pays() {
        let c = cfg();
        let (l, mv) = aimd_step(&c, SLO, Duration::from_millis(4), &obs(12.0, 10_000, 50.0));
        assert_eq!(mv, AimdMove::DecreaseBreach);
        assert_eq!(l, Duration::from_millis(2));
    }

    #[test]
    fn decays_when_the_sink_is_nearly_idle_because_linger_only_adds_latency() {
        let c = cfg();
        let (l, mv) = aimd_step(&c, SLO, Duration::from_millis(4), &obs(4.3, 300, 0.05));
        assert_eq!(mv, AimdMove::DecreaseIdle);
        assert_eq!(l, Duration::from_millis(2));
        // Repeated decay reaches the floor exactly, then holds there.
        let mut l = l;
        for _ in 0..10 {
            l = aimd_step(&c, SLO, l, &obs(1.0, 300, 0.05)).0;
        }
        assert_eq!(l, c.min_linger);
        assert_eq!(
            aimd_step(&c, SLO, l, &obs(1.0, 300, 0.05)),
            (c.min_linger, AimdMove::Hold)
        );
    }

    #[test]
    fn holds_inside_the_band_and_never_passes_the_cap() {
        let c = cfg();
        // p99 between SLO × (1 − margin) and the SLO: hold.
        let near = SLO.mul_f64(1.0 - c.margin / 2.0).as_secs_f64() * 1e3;
        let l = Duration::from_millis(3);
        assert_eq!(
            aimd_step(&c, SLO, l, &obs(near, 10_000, 50.0)),
            (l, AimdMove::Hold)
        );
        // Arrivals per commit between the idle and grow thresholds: hold.
        let mid = (c.idle_below_arrivals_per_commit + c.grow_above_arrivals_per_commit) / 2.0;
        assert_eq!(
            aimd_step(&c, SLO, l, &obs(1.0, 10_000, mid)),
            (l, AimdMove::Hold)
        );
        // Too few items to trust a p99: no growth.
        assert_eq!(
            aimd_step(&c, SLO, l, &obs(1.0, c.min_items - 1, 50.0)),
            (l, AimdMove::Hold)
        );
        // At the cap: hold.
        assert_eq!(
            aimd_step(&c, SLO, c.max_linger, &obs(1.0, 10_000, 50.0)),
            (c.max_linger, AimdMove::Hold)
        );
    }

    /// Feed the driver a synthetic sink: each commit of `batch` items takes `commit`, the items' latency
    /// is the linger plus the commit time.
    fn drive(d: &mut AimdDriver, clock: &ManualClock, rate: f64, commit: Duration, secs: f64) {
        let end = clock.now() + (secs * 1e9) as Nanos;
        while clock.now() < end {
            let linger = d.linger();
            let cycle = linger + commit;
            let batch = ((rate * cycle.as_secs_f64()).round() as u64).max(1);
            for _ in 0..batch {
                d.record_latency(cycle.as_nanos() as u64);
            }
            d.record_commit(commit.as_nanos() as u64);
            // At low rates the sink idles between items: time advances by the inter-arrival gap.
            let gap = Duration::from_secs_f64(batch as f64 / rate).max(cycle);
            clock.advance(gap);
            d.tick(clock.now());
        }
    }

    #[test]
    fn driver_grows_under_load_then_decays_when_load_falls() {
        let c = cfg();
        let clock = ManualClock::new(0);
        let mut d = AimdDriver::new(c, SLO, Duration::ZERO, clock.now());
        // 500 k items/s, 300 µs commits: 150 arrivals per commit, latency well under the SLO.
        drive(&mut d, &clock, 500_000.0, Duration::from_micros(300), 3.0);
        let high = d.linger();
        assert!(
            high >= Duration::from_millis(3),
            "linger grew under load: {high:?}"
        );
        assert!(high <= c.max_linger);
        // 300 items/s: 0.09 arrivals per commit, the linger decays to the floor.
        drive(&mut d, &clock, 300.0, Duration::from_micros(300), 3.0);
        assert_eq!(d.linger(), c.min_linger);
        let moves: Vec<AimdMove> = d.trace().iter().map(|p| p.mv).collect();
        assert!(moves.contains(&AimdMove::Increase) && moves.contains(&AimdMove::DecreaseIdle));
    }

    #[test]
    fn driver_backs_off_when_commits_slow_past_the_slo() {
        let c = cfg();
        let clock = ManualClock::new(0);
        let mut d = AimdDriver::new(c, SLO, Duration::from_millis(6), clock.now());
        // Commits take 9 ms: linger + commit > SLO, so the linger must come down.
        drive(&mut d, &clock, 200_000.0, Duration::from_millis(9), 4.0);
        assert!(
            d.trace().iter().any(|p| p.mv == AimdMove::DecreaseBreach),
            "a breach was seen"
        );
        assert!(d.linger() < Duration::from_millis(2), "{:?}", d.linger());
    }

    #[test]
    fn ticks_once_per_interval_whatever_the_call_rate() {
        let c = cfg();
        let clock = ManualClock::new(0);
        let mut d = AimdDriver::new(c, SLO, Duration::ZERO, clock.now());
        assert_eq!(d.tick(clock.now()), None);
        clock.advance(c.interval / 2);
        assert_eq!(d.tick(clock.now()), None);
        clock.advance(c.interval / 2);
        assert!(d.tick(clock.now()).is_some());
        // A late call covers the whole gap as one interval.
        clock.advance(c.interval * 5);
        assert!(d.tick(clock.now()).is_some());
        assert_eq!(d.tick(clock.now()), None);
        assert_eq!(d.trace().len(), 2);
    }
}
