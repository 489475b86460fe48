//! The driver around [`aimd_step`]: the sliding window of per-interval latency histograms, the
//! interval clock (told the time by its caller: the batcher, or a test's manual clock), and the window
//! trace for the report. The decision itself stays pure, in `aimd.rs`.

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{
    aimd_step, breach_behind_a_stall, AimdConfig, AimdMove, AimdObservation, AimdState,
    RECENT_COMMIT_INTERVALS,
};
use crate::clock::Nanos;
use crate::metrics::MAX_LATENCY_NS;

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
    /// Arrivals per commit the step judged on: the larger of the history's and the last interval's.
    pub arrivals_per_commit: f64,
    /// The two it was the larger of: the history's ...
    pub history_arrivals_per_commit: f64,
    /// ... and the last interval's.
    pub recent_arrivals_per_commit: f64,
    /// Items the p99 was read from.
    pub items: u64,
    /// Mean commit of the last few intervals, µs.
    pub recent_commit_us: f64,
    /// Slowest commit of the history, µs.
    pub slowest_commit_us: f64,
    /// What the step did.
    #[serde(rename = "move")]
    pub mv: AimdMove,
}

/// Most trace points kept (one per interval: 10 ms × 100,000 = 16.7 min; 88 bytes each).
const MAX_TRACE_POINTS: usize = 100_000;

/// Runs [`aimd_step`] once per interval over a sliding window of per-interval histograms.
#[derive(Debug)]
pub struct AimdDriver {
    cfg: AimdConfig,
    /// The objective the steps are given: `SLO × aim`.
    slo: Duration,
    state: AimdState,
    started: Nanos,
    next_tick: Nanos,
    history: VecDeque<Interval>,
    current: Interval,
    merged: Histogram<u64>,
    /// Intervals ended since the linger last changed (or a decrease cleared the history).
    fresh: usize,
    /// Intervals ended since a decrease, or a breach behind a stall, last cleared the history.
    since_cleared: usize,
    trace: Vec<AimdPoint>,
}

#[derive(Debug)]
struct Interval {
    latency: Histogram<u64>,
    /// Its latencies are an older linger's (the first interval after a decrease): counted in the
    /// rates, left out of the p99.
    stale: bool,
    commits: u64,
    commit_ns: u64,
    /// The slowest commit's duration.
    commit_max_ns: u64,
    span_ns: u64,
}

impl Interval {
    fn new() -> Self {
        Interval {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 2).expect("valid bounds"),
            stale: false,
            commits: 0,
            commit_ns: 0,
            commit_max_ns: 0,
            span_ns: 0,
        }
    }

    fn reset(&mut self) {
        self.latency.reset();
        self.stale = false;
        self.commits = 0;
        self.commit_ns = 0;
        self.commit_max_ns = 0;
        self.span_ns = 0;
    }
}

impl AimdDriver {
    /// A driver starting at `linger` at time `now` (validate the config first), holding p99 under
    /// `slo × cfg.aim`: that is the objective its steps are given.
    pub fn new(cfg: AimdConfig, slo: Duration, linger: Duration, now: Nanos) -> Self {
        let slots = cfg.history_intervals.max(1);
        AimdDriver {
            cfg,
            slo: slo.mul_f64(cfg.aim),
            state: AimdState::new(&cfg, linger),
            started: now,
            next_tick: now + cfg.interval.as_nanos() as Nanos,
            history: (0..slots).map(|_| Interval::new()).collect(),
            current: Interval::new(),
            merged: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 2).expect("valid bounds"),
            fresh: 0,
            since_cleared: slots,
            trace: Vec::new(),
        }
    }

    /// The linger in force.
    pub fn linger(&self) -> Duration {
        self.state.linger
    }

    /// One committed item's end-to-end latency.
    pub fn record_latency(&mut self, ns: u64) {
        let _ = self.current.latency.record(ns.clamp(1, MAX_LATENCY_NS));
    }

    /// One commit (write + fdatasync) took `ns`.
    pub fn record_commit(&mut self, ns: u64) {
        self.current.commits += 1;
        self.current.commit_ns += ns;
        self.current.commit_max_ns = self.current.commit_max_ns.max(ns);
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
        self.fresh = (self.fresh + 1).min(self.history.len());
        self.since_cleared = (self.since_cleared + 1).min(self.history.len());
        if self.since_cleared == 1 {
            // The first interval after a decrease committed the batches formed before it, under the
            // old linger: its latencies are the old linger's, and judging them halved the linger a
            // second and a third time for one breach in `check aimd`'s traces (`reports/experiments/
            // 2026-12-02-aimd-controller`, `reports/runs/2026-12-02-vm`). They are left out of the
            // p99; its items and commit times still count in the rates (dropping them read as an
            // idle sink and decayed the linger to the floor).
            if let Some(first) = self.history.back_mut() {
                first.stale = true;
            }
        }

        let obs = self.observe();
        let (state, mv) = aimd_step(&self.cfg, self.slo, self.state, &obs);
        if state.linger != self.state.linger {
            self.fresh = 0;
        }
        self.state = state;
        let next = state.linger;
        let decreased = matches!(mv, AimdMove::DecreaseBreach | AimdMove::DecreaseIdle);
        if decreased || breach_behind_a_stall(self.slo, &obs) {
            // What the history saw was caused by the old linger: judge the new one on fresh data, or a
            // single breach would halve the linger once per interval until it left the history (TCP
            // likewise cuts its window once per round trip, not once per lost packet). A foreseen cut
            // keeps the history: it is sized from the commit times, not from the history's p99, so it
            // cannot repeat on stale data, and clearing would blind the breach check for the
            // intervals it takes to refill — at every cut, where commits jitter at the bound. A
            // breach behind a stalled commit clears it too, whatever the step did: what it saw was
            // the stall's.
            for i in self.history.iter_mut() {
                i.reset();
            }
            // A stall's clear leaves the linger as it was, and its count of intervals at that
            // linger: reset there, a ceiling could never lift on a disk that stalls every few
            // tenths of a second (review of 1c6a38d).
            if decreased {
                self.fresh = 0;
            }
            self.since_cleared = 0;
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
                arrivals_per_commit: obs.arrivals(),
                history_arrivals_per_commit: obs.arrivals_per_commit,
                recent_arrivals_per_commit: obs.recent_arrivals_per_commit,
                items: obs.items,
                recent_commit_us: obs.recent_commit.as_secs_f64() * 1e6,
                slowest_commit_us: obs.slowest_commit.as_secs_f64() * 1e6,
                mv,
            });
        }
        Some(next)
    }

    fn observe(&mut self) -> AimdObservation {
        self.merged.reset();
        let (mut commits, mut commit_ns, mut span_ns, mut all_items) = (0u64, 0u64, 0u64, 0u64);
        let mut slowest_ns = 0u64;
        for i in &self.history {
            if !i.stale {
                let _ = self.merged.add(&i.latency);
            }
            // Stale intervals too: the items queued behind a stall there are committed in the next.
            slowest_ns = slowest_ns.max(i.commit_max_ns);
            all_items += i.latency.len();
            commits += i.commits;
            commit_ns += i.commit_ns;
            span_ns += i.span_ns;
        }
        let items = self.merged.len();
        let arrivals_per_commit = if commits == 0 || span_ns == 0 {
            0.0
        } else {
            let rate = all_items as f64 / (span_ns as f64 / 1e9);
            rate * (commit_ns as f64 / commits as f64 / 1e9)
        };
        // The disk as it is now: the mean commit over the last few intervals (one interval may hold
        // a single commit, and one slow fdatasync is not yet a slower disk).
        let (recent_commits, recent_commit_ns) = self
            .history
            .iter()
            .rev()
            .take(RECENT_COMMIT_INTERVALS)
            .fold((0u64, 0u64), |(n, ns), i| (n + i.commits, ns + i.commit_ns));
        // No commit in those intervals (a batcher that waited on an empty queue): the history's mean,
        // so that no commit is never read as an instant disk.
        let recent_commit = Duration::from_nanos(
            recent_commit_ns
                .checked_div(recent_commits)
                .or_else(|| commit_ns.checked_div(commits))
                .unwrap_or(0),
        );
        // The load as it is now: the last interval's committed rate.
        let recent_arrivals_per_commit = self.history.back().map_or(0.0, |i| {
            if i.span_ns == 0 {
                0.0
            } else {
                i.latency.len() as f64 / (i.span_ns as f64 / 1e9) * recent_commit.as_secs_f64()
            }
        });
        AimdObservation {
            p99: Duration::from_nanos(if items == 0 {
                0
            } else {
                self.merged.value_at_quantile(0.99)
            }),
            items,
            arrivals_per_commit,
            recent_arrivals_per_commit,
            recent_commit,
            slowest_commit: Duration::from_nanos(slowest_ns),
            fresh_intervals: self.fresh,
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
mod tests;
