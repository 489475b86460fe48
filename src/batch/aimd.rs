//! The AIMD window controller: it moves the batch window's **linger** once per control interval, from
//! the p99 of recently committed items against the SLO, the way TCP moves its congestion window.
//!
//! The objective it holds p99 under is `SLO × aim` (0.8 by default), not the SLO: what follows
//! calls that objective "the SLO". A controller that holds p99 anywhere up to the SLO itself has a
//! run's p99 on the SLO, which repeated runs cannot tell from a breach.
//!
//! Why linger, and why these signals:
//! - The linger is what a window spends latency on. Growing it buys fewer fdatasyncs per item (bigger
//!   batches); shrinking it buys latency. The size bounds (`max_items`, `max_bytes`) stay fixed at their
//!   configured caps: they are write-size limits, and they only bind at saturation, where shrinking them
//!   would cut capacity exactly when it is needed.
//! - **Additive increase** while the sliding p99 is under the setpoint, `SLO × (1 − margin)`, or the
//!   p99 plus one step stays under `SLO × (1 − margin / 2)` (the breach prediction's bound, below),
//!   *and* batching pays: more than `grow_above_arrivals_per_commit` items arrive during one commit
//!   (write + fdatasync), so the fixed cost is being shared and a longer linger shares it further.
//!   In the band between the two, a step also waits until the last three intervals were all at the
//!   linger in force (the prediction reads their commits). Slow start's jump (below) and lifting the
//!   ceiling need the p99 under the setpoint. From a step under the bound to the SLO the controller
//!   holds.
//! - **Multiplicative decrease** (× `decrease_factor`) on a breach (p99 > SLO), and also when the sink is
//!   nearly idle (fewer than `idle_below_arrivals_per_commit` arrivals per commit): there each item could
//!   have had its own fdatasync, so a linger only adds latency. This second rule is what lets one
//!   controller serve a few hundred items/s and a bursty near-saturation load with the same settings.
//! - **A breach foreseen** is acted on before it is seen: once `linger + 2 × commit` (the wait, then
//!   the commit in flight, then the item's own) passes `SLO × (1 − margin / 2)`, the linger comes
//!   down to one step under the room that bound leaves, and growth never steps into it (half the
//!   margin below the SLO: the mean commit is the prediction's input, and the p99 item meets the
//!   slow commits). The commit duration of the last few intervals shows a slower disk at once; the
//!   sliding p99 shows it only after the history fills with it (a 5× brownout breached the SLO that
//!   way). A foreseen breach knows its size, so it is not halved and sets no ceiling.
//! - **A ceiling**, after TCP's ssthresh: a breach remembers the linger that breached (×
//!   `ceiling_factor`). Growth up to it is additive per interval; past it only once a whole history
//!   at the linger in force had headroom (every decrease clears the history, as TCP cuts its window
//!   once per round trip), and then the ceiling is lifted. Without it the controller grew back into
//!   the linger that breached within a few intervals — a sawtooth that paid the SLO at every tooth,
//!   since the cleared history shows headroom until the next big burst. An idle sink at the
//!   floor clears it too, as it re-arms slow start.
//! - **A breach the disk explains is not the linger's**: when the slowest commit of the history
//!   and then a recent mean one pass the SLO together, an item behind that commit breached at a
//!   linger of zero too, and the breach is left to the foreseen rule (sized from the commit mean)
//!   instead of halving the linger and setting a ceiling — which, at every stall of a disk that
//!   stalls, ratcheted the linger to zero. The driver clears the history on it, as on a decrease.
//! - **One breach, one decrease**: a decrease (or a breach behind a stall) clears the history, and the driver drops the latencies
//!   of the first interval after it, whose batches were formed under the old linger (judging them
//!   halved the linger two and three times for one breach).
//! - Hold otherwise (hysteresis), so the linger does not flap: from a step under the bound to the
//!   SLO, in the band until three intervals at the linger, and where growth would come within two
//!   steps of the prediction's bound.
//! - **Slow start**, after TCP's (RFC 5681 §3.1) but not its doubling alone: from the floor after an
//!   idle period (and at the start), the first growth step goes at once to the largest linger the breach prediction leaves room for under the
//!   setpoint (`linger + 2 × commit ≤ SLO × (1 − margin)`, capped at `max_linger`), and at least
//!   doubles (where the jump would pass the prediction's bound, a single step is taken instead);
//!   it lasts until the first decrease — TCP's loss; holds and single steps do not end it, since
//!   at high load one burst lifts p99 into the band at any linger. From then on growth is
//!   additive. Every
//!   interval spent at a short linger once the load needs batching costs back-to-back fdatasyncs (at a
//!   linger of zero the sink syncs as fast as the disk allows whenever an item is waiting), and the
//!   prediction already bounds what a longer linger costs in latency. At that load the bursts alone
//!   hold p99 near the SLO, so the p99 gate often cannot tell a longer linger from a burst (see `check
//!   aimd`). An idle sink at the floor re-arms slow start, as TCP restarts it after an idle period
//!   (§4.1); a breach, seen or foreseen, that cuts to the floor does not (the disk is slow now:
//!   re-armed there, slow start jumped at once back into the brownout that had just cut the linger),
//!   and a breach whose cut lands on the floor, with no linger left to blame, keeps the ceiling.
//! - **A load that has just risen counts at once**: growth and idle decay read the larger of the
//!   history's arrivals per commit and the last interval's, so a step or a ramp starts the linger
//!   within one interval instead of after the history fills.
//!
//! The signal "arrivals per commit" is the offered rate times the mean commit duration. It does not depend
//! on the linger itself, so the controller cannot talk itself into growing (as a sink-busy fraction would:
//! a longer linger makes the sink look idle).
//!
//! [`aimd_step`] is the pure decision; [`AimdDriver`] keeps the sliding histogram and the interval clock,
//! told the time by its caller (the batcher, or a test's manual clock).

use std::time::Duration;

use serde::Serialize;

use crate::error::ConfigError;

/// The AIMD controller's settings (see the module docs for why each signal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AimdConfig {
    /// One control step per interval.
    pub interval: Duration,
    /// p99 and rates are judged over this many intervals (a sliding window).
    pub history_intervals: usize,
    /// Slow start jumps, and a ceiling lifts, only while p99 < SLO × (1 − margin); one additive step
    /// is taken there, or while p99 + the step ≤ SLO × (1 − margin / 2), the breach prediction's
    /// bound, once the last three intervals were at the linger in force.
    pub margin: f64,
    /// Additive increase of the linger per step.
    pub increase: Duration,
    /// Multiplicative decrease factor on a breach or an idle sink.
    pub decrease_factor: f64,
    /// After a breach, the ceiling is the breached linger × this (see [`AimdState::ceiling`]).
    pub ceiling_factor: f64,
    /// Linger floor.
    pub min_linger: Duration,
    /// Linger cap.
    pub max_linger: Duration,
    /// Grow only when more than this many items arrive during one commit (batching pays).
    pub grow_above_arrivals_per_commit: f64,
    /// Decay when fewer than this many items arrive during one commit (the sink is nearly idle).
    pub idle_below_arrivals_per_commit: f64,
    /// Grow only on a p99 of at least this many items.
    pub min_items: u64,
    /// The p99 the controller holds, as a share of the SLO: the step's breach, setpoint and bound
    /// are all taken from `SLO × aim`. At 1 the controller holds p99 anywhere up to the SLO itself,
    /// so a run's p99 — the bursts it cannot foresee included — sits on the SLO, and a decision
    /// on repeated runs cannot tell it from a breach (`check aimd` in `reports/runs/2026-12-04a-vm`:
    /// 10× bursts at 9.1–11.2 ms, median 10.1, against a 10 ms SLO).
    pub aim: f64,
    /// Slow start until the first decrease (growth at once to the room the breach prediction leaves,
    /// at least a doubling, where p99 is under the setpoint; single steps in the band), then additive
    /// growth; an idle sink at the floor re-arms it.
    pub slow_start: bool,
}

/// The intervals the recent commit duration is averaged over.
pub const RECENT_COMMIT_INTERVALS: usize = 3;

impl Default for AimdConfig {
    /// 10 ms steps over a 0.5 s history; slow start goes at once to the room the breach prediction
    /// leaves, then +0.2 ms per step (20 ms per second, as 0.5 ms per 25 ms before); halve; linger in
    /// [0, 5 ms] (half the default 10 ms SLO, and under the 8 ms objective the default aim makes of
    /// it: the rest is the fdatasync and the bursts' queueing). Growth starts at three quarters of an item per commit: from one on, at a linger of
    /// zero, the sink syncs back to back, and a controller that waits to see one pays for the interval
    /// it took to see it; below half an item the linger decays (the band between holds). The steps are
    /// short because every interval spent at a linger of zero once the load needs batching costs the
    /// disk's full sync rate, many times a working linger's: a regime whose scored part is T long loses
    /// about interval / commit extra fdatasyncs against T / (linger + commit) for a window that knew
    /// the load in advance, so reacting within 10 % of that takes an interval under about a hundredth
    /// of T at a 5 ms linger and sub-millisecond commits (`check aimd`'s step and ramp). The history
    /// stays half a second so one slow fdatasync does not read as a trend.
    fn default() -> Self {
        AimdConfig {
            interval: Duration::from_millis(10),
            history_intervals: 50,
            margin: 0.3,
            increase: Duration::from_micros(200),
            decrease_factor: 0.5,
            ceiling_factor: 0.8,
            min_linger: Duration::ZERO,
            max_linger: Duration::from_millis(5),
            grow_above_arrivals_per_commit: 0.75,
            idle_below_arrivals_per_commit: 0.5,
            min_items: 100,
            slow_start: true,
            aim: 0.8,
        }
    }
}

impl AimdConfig {
    /// Reject settings that cannot converge.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError as E;
        E::unless(
            !self.interval.is_zero(),
            "aimd.interval",
            "must be positive",
        )?;
        E::unless(
            self.history_intervals > 0,
            "aimd.history_intervals",
            "must be at least 1",
        )?;
        E::unless(
            (0.0..1.0).contains(&self.margin),
            "aimd.margin",
            "must be in [0, 1)",
        )?;
        E::unless(
            self.decrease_factor > 0.0 && self.decrease_factor < 1.0,
            "aimd.decrease_factor",
            "must be in (0, 1)",
        )?;
        E::unless(
            self.ceiling_factor >= self.decrease_factor && self.ceiling_factor < 1.0,
            "aimd.ceiling_factor",
            "must be in [decrease_factor, 1) (a breach's cut lands at or under its ceiling)",
        )?;
        E::unless(
            self.aim > 0.0 && self.aim <= 1.0,
            "aimd.aim",
            "must be in (0, 1] (a share of the SLO)",
        )?;
        E::unless(
            !self.increase.is_zero(),
            "aimd.increase",
            "must be positive",
        )?;
        E::unless(
            self.min_linger <= self.max_linger && self.max_linger <= Duration::from_secs(60),
            "aimd.max_linger",
            "must be ≥ min_linger and ≤ 60 s",
        )?;
        E::unless(
            self.idle_below_arrivals_per_commit <= self.grow_above_arrivals_per_commit,
            "aimd.idle_below_arrivals_per_commit",
            "must not exceed grow_above_arrivals_per_commit (no hysteresis band)",
        )?;
        Ok(())
    }
}

/// What the controller saw over its sliding history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AimdObservation {
    /// p99 end-to-end latency of the items committed in the history.
    pub p99: Duration,
    /// Items the p99 is read from: committed in the history, less the first interval after a decrease.
    pub items: u64,
    /// Items arriving during one commit: committed rate × mean commit duration, over the history.
    pub arrivals_per_commit: f64,
    /// The last interval's committed rate × the recent commit duration: a load that has just risen
    /// shows here a history before it shows in the sliding figure.
    pub recent_arrivals_per_commit: f64,
    /// Mean commit (write + fdatasync) duration over the last `RECENT_COMMIT_INTERVALS` intervals:
    /// the disk as it is now, before the sliding p99 has caught up with it.
    pub recent_commit: Duration,
    /// The slowest commit of the history (stale intervals included: the items queued behind a
    /// commit there are in the next one): a disk that stalled.
    pub slowest_commit: Duration,
    /// Intervals since the linger last changed (at most `history_intervals`): only a history
    /// filled at the linger in force says what that linger does.
    pub fresh_intervals: usize,
}

impl AimdObservation {
    /// Arrivals per commit as the step judges them: the larger of the history's and the last
    /// interval's, so a load that has just risen counts at once.
    pub fn arrivals(&self) -> f64 {
        self.arrivals_per_commit
            .max(self.recent_arrivals_per_commit)
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AimdMove {
    /// Slow start: p99 had headroom and batching paid: linger to the room the breach prediction
    /// leaves under the setpoint (at least doubled, at least one increase).
    SlowStart,
    /// Batching paid and p99 had headroom (under the setpoint, or in the band with a step's room
    /// under the prediction's bound): linger += increase.
    Increase,
    /// p99 breached the SLO: linger × decrease_factor.
    DecreaseBreach,
    /// A breach foreseen (linger + 2 × commit past the bound): linger to a step under the room left.
    DecreaseForeseen,
    /// The sink was nearly idle: linger × decrease_factor (a linger only added latency).
    DecreaseIdle,
    /// Nothing to do (inside the hysteresis band, or too few items to judge growth).
    Hold,
}

impl AimdMove {
    /// Name as in the trace CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            AimdMove::SlowStart => "slow_start",
            AimdMove::Increase => "increase",
            AimdMove::DecreaseBreach => "decrease_breach",
            AimdMove::DecreaseForeseen => "decrease_foreseen",
            AimdMove::DecreaseIdle => "decrease_idle",
            AimdMove::Hold => "hold",
        }
    }
}

/// Where the controller is: the linger in force, whether it is still in slow start, and the ceiling
/// past which growth probes slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AimdState {
    /// The linger in force.
    pub linger: Duration,
    /// Growth is slow start's (true) or one increase (false).
    pub slow_start: bool,
    /// Growth up to here is additive per interval; past it only after a whole history at the linger
    /// in force had headroom, which lifts it to `max_linger`. A breach sets it to the breached linger
    /// × `ceiling_factor` (a breach cut to the floor keeps it); an idle sink at the floor resets it
    /// to `max_linger` (TCP's ssthresh, and its reset after idle).
    pub ceiling: Duration,
}

impl AimdState {
    /// A controller at `linger` (clamped to the config's range), in slow start as configured, with
    /// no ceiling below `max_linger`.
    pub fn new(cfg: &AimdConfig, linger: Duration) -> Self {
        AimdState {
            linger: linger.clamp(cfg.min_linger, cfg.max_linger),
            slow_start: cfg.slow_start,
            ceiling: cfg.max_linger,
        }
    }
}

/// A breach the disk explains: p99 past the SLO where the slowest commit of the history and then a
/// recent mean one pass the SLO together (`slo` is the objective the step is given: the driver's
/// `SLO × aim`) — an item behind that commit, waiting for it and then for
/// its own, breached at a linger of zero too. (Half the SLO for the slow commit alone exempted
/// breaches the linger made: a 5.5 ms commit at a 5 ms linger, review of 1c6a38d.)
pub fn breach_behind_a_stall(slo: Duration, obs: &AimdObservation) -> bool {
    obs.items > 0 && obs.p99 > slo && obs.slowest_commit + obs.recent_commit > slo
}

/// The pure AIMD step: the next state from the current one and an observation.
pub fn aimd_step(
    cfg: &AimdConfig,
    slo: Duration,
    state: AimdState,
    obs: &AimdObservation,
) -> (AimdState, AimdMove) {
    let linger = state.linger;
    // `idle`: the decrease is the idle decay. Only that one re-arms slow start and lifts the ceiling
    // at the floor, as TCP restarts slow start after an idle period: a breach or a foreseen one that
    // reaches the floor says the disk is slow now, and re-arming there jumped the linger straight
    // back into the brownout that had just cut it (`check aimd`, at 5×).
    let decrease_to = |next: Duration, ceiling: Duration, idle: bool| {
        // Below a quarter step the linger is noise: snap to the floor (so it can actually reach 0).
        let next = if next < cfg.increase / 4 {
            cfg.min_linger
        } else {
            next.max(cfg.min_linger)
        };
        // Idle at the floor, the next growth probes quickly again (slow start re-armed, no ceiling).
        let rearm = idle && next == cfg.min_linger;
        AimdState {
            linger: next,
            slow_start: cfg.slow_start && rearm,
            ceiling: if rearm { cfg.max_linger } else { ceiling },
        }
    };
    let decrease_by = |l: Duration, factor: f64, ceiling: Duration, idle: bool| {
        decrease_to(l.mul_f64(factor), ceiling, idle)
    };
    // A breach coming: an item can wait the linger, then the commit in flight, then its own, so once
    // `linger + 2 × commit` passes the prediction's bound the p99 will follow — the sliding history
    // only shows it a while later (a disk brownout breached the SLO that way in `check aimd`). The
    // bound sits half the margin below the SLO: the prediction uses the mean commit, and the p99
    // item meets the slow ones.
    let bound = slo.mul_f64(1.0 - cfg.margin / 2.0);
    // A breach the disk explains: the slowest commit and a recent mean one pass the SLO together, so
    // an item behind it, waiting for it and then for its own commit, breached at a linger of zero
    // too. Halving the linger for it, and remembering that as the ceiling, ratcheted the linger
    // down to zero on a disk that stalls now and then (`check aimd`'s high steady in `reports/runs/
    // 2026-12-03b-vm`: 13 breaches took it from 5 ms to 0, at 3.6× the fdatasyncs per item of the
    // 5 ms window, which met the SLO there). Such a breach is left to the foreseen rule below,
    // sized from the commit mean: a disk that stays slow brings the linger down there, a stall that
    // passes does not. The driver clears the history on it, as on a breach: growth then judges the
    // items after the stall, not the stall's for a whole history (one run's 10× bursts held a
    // linger of zero for half a second that way).
    let disk_stalled = breach_behind_a_stall(slo, obs);
    // A breach seen halves the linger and remembers the linger that breached (× ceiling_factor) as
    // the ceiling. A cut that lands on the floor keeps the ceiling where it was: at the floor there
    // is no linger to blame, and a ceiling of a fraction of a step would hold growth at it for a
    // whole history, syncing back to back (and shrink further at every breach there).
    if obs.items > 0 && obs.p99 > slo && !disk_stalled {
        let cut = decrease_by(
            linger,
            cfg.decrease_factor,
            linger.mul_f64(cfg.ceiling_factor),
            false,
        );
        let cut = if cut.linger == cfg.min_linger {
            AimdState {
                ceiling: state.ceiling,
                ..cut
            }
        } else {
            cut
        };
        return (cut, AimdMove::DecreaseBreach);
    }
    // Foreseen, the breach has a size: the prediction says how long a linger the commits in flight
    // leave room for, so the linger comes down to one step under that room — not halved, and with no
    // new ceiling, since nothing breached (halving there and capping growth at 80 % of the linger
    // that foresaw it kept `check aimd`'s step regime well under the linger its load allowed for
    // most of its scored part, while the commits of the step's first big batches settled). At the
    // floor there is nothing to take back on a prediction alone.
    if linger > cfg.min_linger && linger + obs.recent_commit * 2 > bound {
        let room = bound.saturating_sub(obs.recent_commit * 2);
        return (
            decrease_to(room.saturating_sub(cfg.increase), state.ceiling, false),
            AimdMove::DecreaseForeseen,
        );
    }
    // Whether batching pays: a load that has just risen counts at once (the ramp and the step pay
    // every interval at a linger of zero in back-to-back fdatasyncs); an idle sink needs both quiet.
    let arrivals = obs.arrivals();
    if arrivals < cfg.idle_below_arrivals_per_commit {
        return if linger > cfg.min_linger {
            (
                decrease_by(linger, cfg.decrease_factor, state.ceiling, true),
                AimdMove::DecreaseIdle,
            )
        } else {
            // Idle at the floor, however the linger got there (a brownout's cut included): the next
            // load is a new one, and it gets slow start and no ceiling.
            (
                AimdState {
                    slow_start: cfg.slow_start,
                    ceiling: cfg.max_linger,
                    ..state
                },
                AimdMove::Hold,
            )
        };
    }
    let setpoint = slo.mul_f64(1.0 - cfg.margin);
    // Two gates on growth. Slow start's jump needs the p99 under the setpoint. One additive step
    // needs only that the p99 plus that step stays under the prediction's bound: in the band between
    // the two, the controller used to hold, at whatever linger a breach had left, while the history
    // p99 there was set by the disk and the bursts and not by the linger (`check aimd` in `reports/
    // runs/2026-12-03e-vm`: in 10× bursts AIMD held at 0.83 ms with p99 7.6–8.2 ms for 0.7 s of a
    // 2.5 s run, and held in that band for up to 92 % of a run at lingers under 4 ms, while the static
    // windows' p99 rose by 2.5 ms from a 1 ms linger to 5 ms, at a quarter of the fdatasyncs).
    let may_jump = obs.p99 < setpoint;
    // Under the setpoint a step is always a candidate (a step smaller than half the margin, with an
    // SLO under 1.3 ms at the default step, would otherwise stop growth there). In the band, only
    // once the recent commits are all the linger in force's: the breach prediction reads them, and a
    // step per interval there grew into the prediction's bound and was cut back, over and over, on a
    // disk whose commits jitter (`commits_jittering_at_the_bound_settle_the_linger_instead_of_
    // flapping_it`).
    let may_step = may_jump
        || (obs.p99 + cfg.increase <= bound && obs.fresh_intervals >= RECENT_COMMIT_INTERVALS);
    if may_step
        && obs.items >= cfg.min_items
        && arrivals >= cfg.grow_above_arrivals_per_commit
        && linger < cfg.max_linger
    {
        // Slow start's jump where it may, then one step: a jump the check below turns down need not
        // rule out a step it allows (it held at a better p99 than the band's, review of 46fa6b9).
        let jump = (state.slow_start && may_jump).then(|| {
            // At least a doubling, and at once as far as the breach prediction leaves room under
            // the setpoint: linger + 2 × commit ≤ SLO × (1 − margin).
            let room = setpoint.saturating_sub(obs.recent_commit * 2);
            (
                room.max((linger * 2).max(cfg.increase)),
                AimdMove::SlowStart,
            )
        });
        for (next, mv) in jump
            .into_iter()
            .chain([(linger + cfg.increase, AimdMove::Increase)])
        {
            let next = next.min(cfg.max_linger);
            // Past the ceiling (where the last breach was) only once a whole history at the linger
            // in force had its p99 under the setpoint, and then the ceiling is lifted: growing back
            // at once into the linger that breached was a sawtooth that paid the SLO at every tooth
            // (`check aimd`'s 10× bursts). The band's p99 does not lift it: there a ceiling lifted
            // every 0.6 s (review of 46fa6b9).
            let (next, ceiling) = if next <= state.ceiling {
                (next, state.ceiling)
            } else if linger < state.ceiling {
                (state.ceiling, state.ceiling)
            } else if obs.fresh_intervals >= cfg.history_intervals && may_jump {
                // A whole history at the ceiling with headroom: the breach is forgotten.
                (next, cfg.max_linger)
            } else {
                // At the ceiling without a history under the setpoint at it: not this candidate.
                continue;
            };
            // Never grow into the breach the rule above would take back at the next step, nor up
            // to its edge: growth stops two steps short of the prediction's bound, so a linger
            // reached by growth is cut only once the commit mean rises by a step, and after a cut
            // (to a step under the room) growth resumes only once it falls by a step (hysteresis;
            // a rise of half a step cuts a linger the cut left there again: downwards only). One
            // step short was half a step of the commit mean either way: 3-interval means of
            // commits jittering ±0.2 ms around 2 ms moved by that much, and the linger was cut and
            // regrown twice a second (`commits_jittering_at_the_bound_settle_the_linger_instead_
            // of_flapping_it`, once growth in the band took another path to the bound).
            let short = cfg.increase * 2;
            if next + obs.recent_commit * 2 + short <= bound {
                return (
                    AimdState {
                        linger: next,
                        ceiling,
                        ..state
                    },
                    mv,
                );
            }
        }
    }
    // Slow start survives a hold and a step: only a decrease ends it (TCP's loss), so after one burst
    // that lifts p99 into the band for a few intervals the next interval under the setpoint jumps again.
    (state, AimdMove::Hold)
}

mod driver;
pub use driver::{AimdDriver, AimdPoint};

#[cfg(test)]
mod tests;
