//! The bounded queue between producers and the batcher, and what happens when it is full.

mod bounded;
mod pool;
mod spill;

pub use bounded::{BoundedQueue, PopStatus, PushOutcome, QueueNow};
pub use pool::BufferPool;
pub use spill::SpillFile;

/// Where a `Spill` queue puts what does not fit in memory.
pub trait SpillStore<T>: Send {
    /// Items waiting on disk.
    fn len(&self) -> u64;
    /// True when nothing waits on disk.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Append an item, or hand it back with why not (full, I/O error).
    fn append(&mut self, item: T) -> Result<(), (T, std::io::Error)>;
    /// Move up to `max` of the oldest items into `out`.
    fn take(&mut self, out: &mut Vec<T>, max: usize) -> std::io::Result<usize>;
    /// Where the next `take` reads from (an opaque position for [`SpillStore::ack`]).
    fn read_pos(&self) -> u64 {
        0
    }
    /// Everything taken up to `pos` (a [`SpillStore::read_pos`]) is committed downstream: a restart
    /// may resume from there. Until then, taken items are read again after a crash.
    fn ack(&mut self, _pos: u64) -> std::io::Result<()> {
        Ok(())
    }
}

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// What a full queue does with the next item, with the settings that policy alone has. Each variant
/// says what is lost and what waits (the model is Vector's `WhenFull`; its settings ride inside the
/// variant, as in Vector's `BufferType`, so a spill budget cannot be set on a queue that never spills).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OverflowPolicy {
    /// The producer waits until there is room. **Lost:** nothing. **Waits:** the producer, for as long as
    /// the sink is behind; with an open-loop source that wait is latency (and upstream buffering).
    Block {
        /// Wait at most this long for room (Kafka's `max.block.ms`); past it the item is handed back
        /// and counted as `rejected{reason="block_timeout"}`. `None` waits for ever (nothing lost).
        timeout: Option<Duration>,
    },
    /// The arriving item is refused and handed back to the producer, who counts it as dropped.
    /// **Lost:** the newest items. **Waits:** nothing; queued items keep their place and latency.
    DropNewest,
    /// The oldest queued item is evicted to make room, and handed back to be counted as dropped.
    /// **Lost:** the oldest items (those closest to violating the SLO anyway). **Waits:** nothing; what
    /// is committed is the freshest data.
    DropOldest,
    /// Items that do not fit are appended to a disk-backed FIFO and drained in order when the consumer
    /// catches up; while anything is spilled every new item is spilled too, so order holds.
    /// **Lost:** nothing until the spill reaches its byte limit (then the newest, counted as dropped);
    /// spilled items survive a process restart. **Waits:** the items (their latency grows with the
    /// backlog, as with `Block`), not the producer; the cost is disk space and write bandwidth.
    Spill {
        /// Where the spill file goes (`None`: `<sink dir>/spill`).
        dir: Option<PathBuf>,
        /// Most bytes held on disk; past this the newest items are dropped (counted).
        max_bytes: u64,
    },
}

/// A spill's disk budget unless one is given.
pub const DEFAULT_SPILL_MAX_BYTES: u64 = 1 << 30;

impl OverflowPolicy {
    /// `Block`, waiting for ever: nothing is lost.
    pub const BLOCK: OverflowPolicy = OverflowPolicy::Block { timeout: None };

    /// `Spill` beside the sink, with the default budget.
    pub const SPILL: OverflowPolicy = OverflowPolicy::Spill {
        dir: None,
        max_bytes: DEFAULT_SPILL_MAX_BYTES,
    };

    /// Every policy with its default settings, in the order checks report them.
    pub const ALL: [OverflowPolicy; 4] = [
        OverflowPolicy::BLOCK,
        OverflowPolicy::DropNewest,
        OverflowPolicy::DropOldest,
        OverflowPolicy::SPILL,
    ];

    /// The CLI spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            OverflowPolicy::Block { .. } => "block",
            OverflowPolicy::DropNewest => "drop-newest",
            OverflowPolicy::DropOldest => "drop-oldest",
            OverflowPolicy::Spill { .. } => "spill",
        }
    }

    /// True for `Spill`, whatever its settings.
    pub fn spills(&self) -> bool {
        matches!(self, OverflowPolicy::Spill { .. })
    }
}

impl fmt::Display for OverflowPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
