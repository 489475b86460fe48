//! The live counters: atomics the generator, the batcher and the sampler share while a run works
//! ([`Live`]), and a plain snapshot of them for the live endpoint and the progress line
//! ([`LiveCounters`]). Both are generated from one list, so a counter the endpoint shows is one the
//! pipeline counts; they stay two types because one is written concurrently (an atomic on a cache
//! line of its own per counter) and the other is a value to read, copy and compare.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::item::Item;
use crate::queue::BoundedQueue;

/// Declares [`Live`]'s shared counters and [`LiveCounters`]' snapshot of them from one list of the
/// outcomes, plus `offered`. The snapshot reads the outcomes first, then the queue's depth, then
/// `offered`: an item is counted offered before it is queued, and leaves the queue before it has an
/// outcome, so this order never shows more committed + dropped + ... + queued than offered.
macro_rules! live_counters {
    ($( $(#[doc = $doc:literal])* $name:ident ),* $(,)?) => {
        /// Counters shared between the generator, the batcher and the sampler. Each on its own cache
        /// line so the generator's per-item increment does not bounce the batcher's line.
        #[derive(Default)]
        pub(crate) struct Live {
            $( $(#[doc = $doc])* pub(crate) $name: Padded, )*
            /// Items offered.
            pub(crate) offered: Padded,
            /// The sink's fdatasyncs so far (set after each commit), so a time series shows where a
            /// run paid its fixed cost.
            pub(crate) fdatasyncs: Padded,
        }

        /// What the live endpoint and the progress line read while a run works: a snapshot of
        /// `Live`'s shared counters (see [`crate::counters::COUNTERS`] for what each is exposed as).
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct LiveCounters {
            $( $(#[doc = $doc])* pub $name: u64, )*
            /// Items in the queue now.
            pub queue_depth: u64,
            /// Items offered.
            pub offered: u64,
        }

        impl Live {
            /// The counters as the live endpoint and the progress line read them.
            pub(crate) fn snapshot(&self, queue: &BoundedQueue<Item>) -> LiveCounters {
                // Field initialisers run in the order written: the outcomes, the depth, `offered`.
                LiveCounters {
                    $( $name: self.$name.get(), )*
                    queue_depth: queue.len() as u64,
                    offered: self.offered.get(),
                }
            }
        }
    };
}

live_counters! {
    /// Items committed.
    committed,
    /// Items dead-lettered.
    dead_lettered,
    /// Items dropped by the overflow policy.
    dropped,
    /// Items a full (drop-newer) dead-letter queue refused.
    dropped_dlq_full,
    /// Items accepted but lost to a sink failure.
    lost,
    /// Items refused because `Block` timed out.
    timed_out,
    /// Offers refused because the queue had closed (the batcher stopped on a sink failure).
    rejected_queue_closed,
}

impl Live {
    /// Count an offer the closed queue refused, on the producer's own tally and on the live counter
    /// at once: every producer (generator, validator, re-drive) stops on it, and one that counted
    /// only its tally left the last live sample of a failed run short.
    pub(crate) fn refused_closed(&self, tally: &mut u64) {
        *tally += 1;
        self.rejected_queue_closed.add(1);
    }
}

/// A counter on a cache line of its own.
#[derive(Default)]
#[repr(align(64))]
pub(crate) struct Padded(AtomicU64);

impl Padded {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    pub(crate) fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::OverflowPolicy;

    #[test]
    fn a_snapshot_reads_every_shared_counter_into_its_namesake() {
        let live = crate::counters::testing::distinct_live();
        live.offered.add(7);
        let queue = BoundedQueue::<Item>::new(8, OverflowPolicy::BLOCK);
        let c = live.snapshot(&queue);
        let got = [
            c.committed,
            c.dead_lettered,
            c.dropped,
            c.dropped_dlq_full,
            c.lost,
            c.timed_out,
            c.offered,
            c.queue_depth,
        ];
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7, 0]);
    }
}
