//! Counters the generator, the batcher and the sampler share while a run is live.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::item::Item;
use crate::prometheus::LiveCounters;
use crate::queue::BoundedQueue;

/// Counters shared between the generator, the batcher and the sampler. Each on its own cache line so
/// the generator's per-item increment does not bounce the batcher's line.
#[derive(Default)]
pub(crate) struct Live {
    pub(crate) offered: Padded,
    pub(super) committed: Padded,
    pub(crate) dead_lettered: Padded,
    pub(super) dropped: Padded,
    /// Refused by a full (drop-newer) dead-letter queue.
    pub(super) dropped_dlq_full: Padded,
    pub(super) popped: Padded,
    pub(super) lost: Padded,
    pub(super) timed_out: Padded,
    /// The sink's fdatasyncs so far (set after each commit), so a time series shows where a run
    /// paid its fixed cost.
    pub(super) fdatasyncs: Padded,
}

impl Live {
    /// The counters as the live endpoint and the progress line read them.
    pub(super) fn snapshot(&self, queue: &BoundedQueue<Item>) -> LiveCounters {
        // Outcomes first, `offered` last: an item is counted offered before it can have an outcome,
        // so a snapshot never shows more committed (or dropped, ...) than offered.
        let committed = self.committed.get();
        let dead_lettered = self.dead_lettered.get();
        let dropped = self.dropped.get();
        let dropped_dlq_full = self.dropped_dlq_full.get();
        let lost = self.lost.get();
        let timed_out = self.timed_out.get();
        let queue_depth = queue.len() as u64;
        LiveCounters {
            offered: self.offered.get(),
            committed,
            dead_lettered,
            dropped,
            dropped_dlq_full,
            lost,
            timed_out,
            queue_depth,
        }
    }
}

#[derive(Default)]
#[repr(align(64))]
pub(crate) struct Padded(AtomicU64);

impl Padded {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    pub(super) fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
}
