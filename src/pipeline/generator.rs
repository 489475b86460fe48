//! The open-loop generator: offers items at their intended times, stamps each with it, and never
//! waits for the pipeline to catch up (no coordinated omission).

use std::time::Duration;

use super::{Ends, MAX_SLEEP, MIN_SLEEP, POOL_CHUNK};
use crate::clock::{Clock, Nanos};
use crate::config::{LoadConfig, StopAfter};
use crate::control::Control;
use crate::counters::Padded;
use crate::error::PushError;
use crate::item::Item;
use crate::load::Schedule;
use crate::payload::{make_poison, stamp_id, PayloadSource};
use crate::queue::PushOutcome;

/// What a producer reports when it stops. Its `offered`, `dropped` and `rejected_timeout` are also
/// counted on the shared [`super::Live`] atomics; this plain tally stays because the producer's loop
/// reads it (the stop bound, record ids) without touching a shared line, it is exact when the
/// producer returns, and it holds what the atomics do not: refusals after the queue closed and
/// items behind schedule. The run folds it into [`crate::metrics::Metrics`] once.
#[derive(Debug, Default)]
pub(crate) struct GenOutcome {
    pub(crate) offered: u64,
    pub(crate) dropped: u64,
    pub(crate) rejected_closed: u64,
    pub(crate) rejected_timeout: u64,
    pub(crate) behind_schedule: u64,
}

/// Let this thread's sleeps end within ~1 µs of their deadline instead of the default 50 µs slack.
pub(super) fn tighten_timer_slack() {
    // Best effort: a coarser slack only makes the generator's sleeps end later, which its
    // intended-time stamps already account for.
    let _ = nix::sys::prctl::set_timerslack(1);
}

/// The open-loop generator, on the calling thread: it needs the load and the run's stop requests, nothing
/// else of the run's config.
pub(super) fn generate(
    load: &LoadConfig,
    control: &Control,
    schedule: &mut Schedule,
    payloads: &mut PayloadSource,
    ends: Ends<'_>,
    start: Nanos,
) -> GenOutcome {
    let Ends {
        queue,
        pool,
        clock,
        live,
    } = ends;
    tighten_timer_slack();
    let (stop_at, max_items) = match load.stop {
        StopAfter::Duration(d) => (Some(start + d.as_nanos() as Nanos), u64::MAX),
        StopAfter::Items(n) => (None, n),
    };
    let mut out = GenOutcome {
        offered: 0,
        dropped: 0,
        rejected_closed: 0,
        rejected_timeout: 0,
        behind_schedule: 0,
    };
    let mut local: Vec<Vec<u8>> = Vec::with_capacity(POOL_CHUNK);
    let mut now = clock.now();
    while out.offered < max_items && !control.stop_requested() {
        let intended = match schedule.next_offset() {
            Some(off) => start + off,
            None => {
                now = clock.now();
                now.max(start)
            }
        };
        if let Some(stop) = stop_at {
            if intended >= stop {
                break;
            }
            // Wall-clock stop too: a generator blocked by a full queue must not run past the duration.
            if now >= stop {
                out.behind_schedule += 1 + count_remaining(schedule, start, stop);
                break;
            }
        }
        while intended > now {
            // Never spin (a spinning generator takes the core the kernel's journal thread needs, and
            // fdatasync latency collapses); a short sleep delays items a few tens of µs, and that
            // delay is counted in their latency because they keep their intended stamp.
            // Sleep at most MAX_SLEEP at a time, so a shutdown request is seen promptly at low rates.
            std::thread::sleep(
                Duration::from_nanos(intended - now)
                    .max(MIN_SLEEP)
                    .min(MAX_SLEEP),
            );
            if control.stop_requested() {
                return out;
            }
            now = clock.now();
        }
        let mut buf = local.pop().unwrap_or_else(|| {
            pool.take_into(&mut local, POOL_CHUNK);
            local
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(payloads.item_bytes()))
        });
        payloads.fill(&mut buf);
        if load.ids {
            stamp_id(&mut buf, out.offered);
            if load.poison.is_some_and(|p| p.is_poison(out.offered)) {
                make_poison(&mut buf);
            }
        }
        out.offered += 1;
        live.offered.add(1);
        match queue.push(Item {
            intended,
            payload: buf,
            source: None,
            dead: None,
        }) {
            Ok(PushOutcome::Accepted) | Ok(PushOutcome::Spilled) => {}
            Ok(PushOutcome::TimedOut(it)) => {
                refused(&mut local, (&mut out.rejected_timeout, &live.timed_out), it)
            }
            Ok(PushOutcome::Dropped(it)) => {
                refused(&mut local, (&mut out.dropped, &live.dropped), it)
            }
            Ok(PushOutcome::Evicted(gone)) => {
                for it in gone {
                    refused(&mut local, (&mut out.dropped, &live.dropped), it);
                }
            }
            Err(PushError::Closed(_)) => {
                // The batcher stopped (sink failure): count this and stop offering.
                live.refused_closed(&mut out.rejected_closed);
                break;
            }
            Err(PushError::Full(_)) => {
                unreachable!("push applies the policy and never returns Full")
            }
        }
        // A blocked push may have taken a long time; refresh the clock before deciding to sleep.
        if matches!(schedule, Schedule::Saturate) || out.offered.is_multiple_of(64) {
            now = clock.now();
        }
    }
    out
}

/// An item the queue refused or evicted: counted on the producer's tally and the live counter
/// (`counts`), its buffer kept for the next item.
fn refused(local: &mut Vec<Vec<u8>>, counts: (&mut u64, &Padded), it: Item) {
    *counts.0 += 1;
    counts.1.add(1);
    recycle_one(local, it.payload);
}

pub(super) fn recycle_one(local: &mut Vec<Vec<u8>>, mut buf: Vec<u8>) {
    if local.len() < POOL_CHUNK {
        buf.clear();
        local.push(buf);
    }
}

/// Items the schedule still intends before `stop` (for the behind-schedule count).
pub(super) fn count_remaining(schedule: &mut Schedule, start: Nanos, stop: Nanos) -> u64 {
    let mut n = 0;
    while let Some(off) = schedule.next_offset() {
        if start + off >= stop {
            break;
        }
        n += 1;
    }
    n
}
