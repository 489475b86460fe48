//! The sampler: a time series of the live counters, and the end-of-run snapshot. Which counter each
//! [`Sample`] field shows is in the counter table (`crate::counters::COUNTERS`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Live;
use crate::clock::{Clock, MonotonicClock, Nanos};
use crate::host::current_rss_bytes;
use crate::item::Item;
use crate::queue::{BoundedQueue, BufferPool};
use crate::summary::Sample;

/// Sample live counters every `every` from `t0` (the load schedule's start: a sample's `t_s` is the
/// schedule's offset) until told to stop (one last sample then).
pub(super) fn sample(
    every: Duration,
    clock: &MonotonicClock,
    t0: Nanos,
    queue: &BoundedQueue<Item>,
    live: &Live,
    stop: &AtomicBool,
) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut next = t0;
    loop {
        let done = stop.load(Ordering::Relaxed);
        // The counters are read one after another; a sampler descheduled in between would see them at
        // different instants. Re-read (a few times at most) when the reads took longer than 50 µs.
        let mut snap = snapshot(clock, t0, queue, live);
        for _ in 0..3 {
            if snap.1 <= 50_000 {
                break;
            }
            snap = snapshot(clock, t0, queue, live);
        }
        out.push(snap.0);
        if done {
            return out;
        }
        next += every.as_nanos() as Nanos;
        let now = clock.now();
        if next > now {
            std::thread::sleep(Duration::from_nanos(next - now));
        }
    }
}

/// What the generator pushes into and counts with.
/// What a producer pushes into and counts with.
pub(crate) struct Ends<'a> {
    pub(crate) queue: &'a BoundedQueue<Item>,
    pub(crate) pool: &'a BufferPool,
    pub(crate) clock: &'a MonotonicClock,
    pub(crate) live: &'a Live,
}

/// One sample and how long reading it took (ns).
pub(super) fn snapshot(
    clock: &MonotonicClock,
    t0: Nanos,
    queue: &BoundedQueue<Item>,
    live: &Live,
) -> (Sample, u64) {
    let a = clock.now();
    // The outcomes first, then where the queue's items are (one read under its lock), then
    // `offered` last: an item is offered before it is queued, popped before it has an outcome, so in
    // this order no item is seen in two places. The batcher's share is the pops without an outcome,
    // from the same outcome reads the sum uses: a second read of `committed` there let a batch
    // committed between the two reads count in neither.
    let (committed, dead_lettered, lost) = (
        live.committed.get(),
        live.dead_lettered.get(),
        live.lost.get(),
    );
    let (dropped, dropped_dlq_full, timed_out, rejected_queue_closed) = (
        live.dropped.get(),
        live.dropped_dlq_full.get(),
        live.timed_out.get(),
        live.rejected_queue_closed.get(),
    );
    let q = queue.now();
    let offered = live.offered.get();
    let s = Sample {
        t_s: a.saturating_sub(t0) as f64 / 1e9,
        offered,
        committed,
        dead_lettered,
        dropped: dropped + dropped_dlq_full,
        queue_depth: q.len,
        spilled: q.spilled,
        // A record a full DLQ refused was popped and has its outcome (dropped), like a committed one.
        in_batcher: q
            .popped_total
            .saturating_sub(committed + dead_lettered + lost + dropped_dlq_full),
        timed_out,
        lost,
        rejected_queue_closed,
        fdatasyncs: live.fdatasyncs.get(),
        producer_blocked_s: queue.producer_blocked().as_secs_f64(),
        rss_bytes: current_rss_bytes(),
    };
    (s, clock.now().saturating_sub(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::testing::{at, distinct_report, key, parse};
    use crate::counters::COUNTERS;
    use crate::queue::{OverflowPolicy, PopStatus};
    use std::collections::BTreeMap;

    fn push(queue: &BoundedQueue<Item>, n: usize) {
        for _ in 0..n {
            let item = Item {
                intended: 0,
                payload: Vec::new(),
                source: None,
                dead: None,
            };
            queue.try_push(item).unwrap();
        }
    }

    fn pop(queue: &BoundedQueue<Item>, n: usize) {
        let mut out = Vec::new();
        let now = Some(std::time::Instant::now());
        assert_eq!(queue.pop_batch(&mut out, n, n, now), PopStatus::Items(n));
    }

    fn residual(queue: &BoundedQueue<Item>, live: &Live) -> i64 {
        snapshot(&MonotonicClock::new(), 0, queue, live)
            .0
            .residual()
    }

    #[test]
    fn a_sample_taken_while_the_batcher_holds_a_fresh_pop_finds_every_item() {
        // Before, the batcher counted its pops itself after `pop_batch` returned: a sample between
        // the two saw the popped items neither queued nor in the batcher (`check overflow` saw
        // residuals of 3 and 4 against its bound of 2). The queue counts its pops under its lock.
        let (live, queue) = (
            Live::default(),
            BoundedQueue::<Item>::new(64, OverflowPolicy::BLOCK),
        );
        live.offered.add(10);
        push(&queue, 10);
        pop(&queue, 6);
        let s = snapshot(&MonotonicClock::new(), 0, &queue, &live).0;
        assert_eq!((s.queue_depth, s.in_batcher, s.residual()), (4, 6, 0));
        live.committed.add(5);
        assert_eq!(residual(&queue, &live), 0);
        // A record a full DLQ refused has its outcome: counted dropped, not also in the batcher.
        live.dropped_dlq_full.add(1);
        assert_eq!(residual(&queue, &live), 0);
    }

    #[test]
    fn a_sample_shows_each_counter_as_the_live_exposition_does() {
        let (live, queue) = (
            crate::counters::testing::distinct_live(),
            BoundedQueue::<Item>::new(64, OverflowPolicy::BLOCK),
        );
        live.fdatasyncs.add(7);
        live.offered.add(100);
        // 40 popped (the batcher holds those without an outcome), 3 left queued.
        push(&queue, 43);
        pop(&queue, 40);
        // The batcher publishes the sink's fdatasyncs with its report and sets the live atomic from
        // the same counter after each commit.
        let mut published = distinct_report();
        published.fdatasyncs = live.fdatasyncs.get();
        let sample = snapshot(&MonotonicClock::new(), 0, &queue, &live).0;
        let json = serde_json::to_value(sample).unwrap();
        let expo = parse(&crate::prometheus::render_live(
            Some(&published),
            &published.settings,
            &live.snapshot(&queue),
        ));
        let mut by_field: BTreeMap<&str, f64> = BTreeMap::new();
        for d in COUNTERS {
            for s in d.series {
                if let Some(f) = s.sample {
                    *by_field.entry(f).or_default() +=
                        expo[&key(d, s, &published.settings.overflow)];
                }
            }
        }
        assert_eq!(by_field.len(), 9, "{by_field:?}");
        for (field, v) in by_field {
            assert!(v > 0.0, "{field}: the test leaves it zero");
            assert_eq!(at(&json, field).as_f64(), Some(v), "the sample's `{field}`");
        }
    }
}
