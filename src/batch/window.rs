//! `BatchWindow` decides when a batch is flushed. It is pure: it owns no thread and no clock, it is told
//! each item's size and the current time, and it answers. The pipeline drives it; tests drive it with a
//! manual clock and assert exact decisions.
//!
//! The bounds, whichever comes first:
//! - **items**: the batch holds `max_items`;
//! - **bytes**: the next item would push the batch past `max_bytes` (flush *before* adding it, so a write
//!   never exceeds `max_bytes` unless a single item is larger), or the batch is exactly full;
//! - **deadline**: the batch's *first* item entered the window `linger` ago. This is a hard age bound on
//!   the batch, not an idle timer that restarts with every item (an idle timer never fires under steady
//!   load and lets a batch age without limit).

use std::time::Duration;

use crate::clock::Nanos;
use crate::codec::MAX_BATCH_BYTES;
use crate::error::ConfigError;
pub(crate) use crate::flush::{FlushReason, FlushReasons};

/// The size+time batch window: flush when any bound is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    /// Flush when the batch holds this many items (1 = unbatched).
    pub max_items: usize,
    /// Flush before the batch's framed bytes would exceed this (a single larger item still goes alone).
    pub max_bytes: usize,
    /// Flush when the batch's first item has waited this long in the window (0 = flush whatever is queued
    /// as soon as the sink is free).
    pub linger: Duration,
}

impl WindowConfig {
    /// One item per write + fdatasync: the "before" of every before/after comparison.
    pub const UNBATCHED: WindowConfig = WindowConfig {
        max_items: 1,
        max_bytes: 1 << 20,
        linger: Duration::ZERO,
    };

    /// Reject windows that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::unless(self.max_items > 0, "window.max_items", "must be at least 1")?;
        ConfigError::unless(self.max_bytes > 0, "window.max_bytes", "must be at least 1")?;
        ConfigError::unless(
            self.max_bytes <= MAX_BATCH_BYTES,
            "window.max_bytes",
            format!(
                "{} exceeds the block limit of {MAX_BATCH_BYTES} bytes",
                self.max_bytes
            ),
        )?;
        ConfigError::unless(
            self.linger <= Duration::from_secs(60),
            "window.linger",
            "more than 60 s is a stall, not a batch window",
        )
    }
}

impl Default for WindowConfig {
    /// The window `ingest-lab check window` chose on the reference machine for the 10 ms p99 SLO
    /// (see the README's results and `reports/`): large enough to fill ~1 MiB writes at peak, with a
    /// linger that keeps low-load latency at about one fdatasync.
    fn default() -> Self {
        WindowConfig {
            max_items: 4096,
            max_bytes: 1 << 20,
            linger: Duration::from_millis(1),
        }
    }
}

/// What a flush hands to the caller about the batch it closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushedBatch {
    /// Why it was flushed.
    pub reason: FlushReason,
    /// Items in it.
    pub items: usize,
    /// Bytes in it (as reported to `push`).
    pub bytes: usize,
    /// How long its first item waited in the window.
    pub age: Nanos,
}

/// The size+time window state machine.
#[derive(Debug, Clone)]
pub struct BatchWindow {
    cfg: WindowConfig,
    items: usize,
    bytes: usize,
    opened_at: Option<Nanos>,
    flushes: FlushReasons,
}

impl BatchWindow {
    /// An empty window with these bounds (validate the config first).
    pub fn new(cfg: WindowConfig) -> Self {
        BatchWindow {
            cfg,
            items: 0,
            bytes: 0,
            opened_at: None,
            flushes: FlushReasons::default(),
        }
    }

    /// The bounds in force.
    pub fn config(&self) -> WindowConfig {
        self.cfg
    }

    /// Change the bounds (the AIMD controller does); takes effect for the next decision.
    pub fn set_config(&mut self, cfg: WindowConfig) {
        self.cfg = cfg;
    }

    /// Items in the open batch.
    pub fn items(&self) -> usize {
        self.items
    }

    /// Bytes in the open batch.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// True when no batch is open.
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// How many more items fit before the items bound.
    pub fn room(&self) -> usize {
        self.cfg.max_items.saturating_sub(self.items)
    }

    /// Before adding an item of `item_bytes`: `Some(Bytes)` if the open batch must be flushed first
    /// because the item would push it past `max_bytes`.
    pub fn must_flush_before(&self, item_bytes: usize) -> Option<FlushReason> {
        (self.items > 0 && self.bytes + item_bytes > self.cfg.max_bytes)
            .then_some(FlushReason::Bytes)
    }

    /// Add an item of `item_bytes` arriving at `now`. Returns the reason to flush now, if a size bound
    /// is reached.
    pub fn push(&mut self, item_bytes: usize, now: Nanos) -> Option<FlushReason> {
        if self.items == 0 {
            self.opened_at = Some(now);
        }
        self.items += 1;
        self.bytes += item_bytes;
        if self.items >= self.cfg.max_items {
            Some(FlushReason::Items)
        } else if self.bytes >= self.cfg.max_bytes {
            Some(FlushReason::Bytes)
        } else {
            None
        }
    }

    /// When the open batch's linger expires (`None` when empty).
    pub fn deadline(&self) -> Option<Nanos> {
        self.opened_at
            .map(|t| t.saturating_add(self.cfg.linger.as_nanos() as Nanos))
    }

    /// `Some(Deadline)` if a batch is open and its linger has expired at `now`.
    pub fn due(&self, now: Nanos) -> Option<FlushReason> {
        match self.deadline() {
            Some(d) if now >= d => Some(FlushReason::Deadline),
            _ => None,
        }
    }

    /// Close the open batch for `reason` at `now`, count the reason, and start empty.
    pub fn flush(&mut self, reason: FlushReason, now: Nanos) -> FlushedBatch {
        let age = self.opened_at.map_or(0, |t| now.saturating_sub(t));
        let out = FlushedBatch {
            reason,
            items: self.items,
            bytes: self.bytes,
            age,
        };
        self.flushes.count(reason);
        self.items = 0;
        self.bytes = 0;
        self.opened_at = None;
        out
    }

    /// Flushes so far, per reason.
    pub fn flush_counts(&self) -> FlushReasons {
        self.flushes
    }

    /// The linger in force.
    pub fn linger(&self) -> Duration {
        self.cfg.linger
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ms, Clock, ManualClock};

    fn window(max_items: usize, max_bytes: usize, linger_ms: u64) -> BatchWindow {
        BatchWindow::new(WindowConfig {
            max_items,
            max_bytes,
            linger: Duration::from_millis(linger_ms),
        })
    }

    #[test]
    fn flushes_on_items_when_the_count_bound_is_reached() {
        let clock = ManualClock::new(0);
        let mut w = window(3, 1 << 20, 10);
        assert_eq!(w.push(10, clock.now()), None);
        assert_eq!(w.push(10, clock.now()), None);
        assert_eq!(w.push(10, clock.now()), Some(FlushReason::Items));
        let b = w.flush(FlushReason::Items, clock.now());
        assert_eq!((b.items, b.bytes), (3, 30));
        assert!(w.is_empty());
        assert_eq!(
            w.flush_counts(),
            FlushReasons {
                items: 1,
                ..FlushReasons::default()
            }
        );
    }

    #[test]
    fn flushes_before_an_item_that_would_pass_max_bytes() {
        let mut w = window(100, 250, 10);
        assert_eq!(w.must_flush_before(100), None);
        w.push(100, 0);
        w.push(100, 0);
        assert_eq!(w.must_flush_before(100), Some(FlushReason::Bytes));
        // An item that fits exactly closes the batch on bytes.
        assert_eq!(w.must_flush_before(50), None);
        assert_eq!(w.push(50, 0), Some(FlushReason::Bytes));
    }

    #[test]
    fn an_oversized_item_goes_alone() {
        let mut w = window(100, 250, 10);
        assert_eq!(w.must_flush_before(1000), None, "empty window takes it");
        assert_eq!(w.push(1000, 0), Some(FlushReason::Bytes));
    }

    #[test]
    fn deadline_is_measured_from_the_first_item_not_the_last() {
        let clock = ManualClock::new(ms(100));
        let mut w = window(1000, 1 << 20, 5);
        assert_eq!(w.deadline(), None);
        w.push(10, clock.now());
        assert_eq!(w.deadline(), Some(ms(105)));
        // Items keep arriving; the deadline does not move (hard age bound).
        for _ in 0..4 {
            clock.advance(Duration::from_millis(1));
            w.push(10, clock.now());
            assert_eq!(w.deadline(), Some(ms(105)));
        }
        assert_eq!(w.due(clock.now()), None);
        clock.advance(Duration::from_millis(1));
        assert_eq!(w.due(clock.now()), Some(FlushReason::Deadline));
        let b = w.flush(FlushReason::Deadline, clock.now());
        assert_eq!((b.items, b.age), (5, ms(5)));
        assert_eq!(w.deadline(), None);
        assert_eq!(w.due(clock.now()), None, "an empty window is never due");
    }

    #[test]
    fn zero_linger_is_due_immediately() {
        let mut w = window(1000, 1 << 20, 0);
        w.push(10, 42);
        assert_eq!(w.due(42), Some(FlushReason::Deadline));
    }

    #[test]
    fn unbatched_window_flushes_every_item() {
        let mut w = BatchWindow::new(WindowConfig::UNBATCHED);
        for i in 0..5 {
            assert_eq!(w.push(100, i), Some(FlushReason::Items));
            w.flush(FlushReason::Items, i);
        }
        assert_eq!(w.flush_counts().get(FlushReason::Items), 5);
    }
}
