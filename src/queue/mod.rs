//! The bounded queue between producers and the batcher, and what happens when it is full.

mod bounded;
mod pool;

pub use bounded::{BoundedQueue, PopStatus, PushOutcome};
pub use pool::BufferPool;

use std::fmt;
use std::str::FromStr;

/// What a full queue does with the next item. Each variant says what is lost and what waits
/// (the model is Vector's `WhenFull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverflowPolicy {
    /// The producer waits until there is room. **Lost:** nothing. **Waits:** the producer, for as long as
    /// the sink is behind; with an open-loop source that wait is latency (and upstream buffering).
    Block,
    /// The arriving item is refused and handed back to the producer, who counts it as dropped.
    /// **Lost:** the newest items. **Waits:** nothing; queued items keep their place and latency.
    DropNewest,
    /// The oldest queued item is evicted to make room, and handed back to be counted as dropped.
    /// **Lost:** the oldest items (those closest to violating the SLO anyway). **Waits:** nothing; what
    /// is committed is the freshest data.
    DropOldest,
}

impl OverflowPolicy {
    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OverflowPolicy::Block => "block",
            OverflowPolicy::DropNewest => "drop-newest",
            OverflowPolicy::DropOldest => "drop-oldest",
        }
    }
}

impl fmt::Display for OverflowPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OverflowPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "block" => Ok(OverflowPolicy::Block),
            "drop-newest" => Ok(OverflowPolicy::DropNewest),
            "drop-oldest" => Ok(OverflowPolicy::DropOldest),
            "spill" => {
                Err("overflow policy 'spill' is not built yet (see the hardening issue)".into())
            }
            other => Err(format!(
                "unknown overflow policy '{other}' (block, drop-newest, drop-oldest)"
            )),
        }
    }
}
