//! Plain configuration structs with safe defaults and `validate()`. Every limit the pipeline enforces is a
//! named field here, with its unit in the name; the logic never hides a magic number.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConfigError;
pub use crate::load::LoadShape;
pub use crate::payload::PayloadKind;
use crate::payload::{PoisonSpec, ID_PREFIX_BYTES};
use crate::queue::OverflowPolicy;
use crate::retry::RetryStrategy;

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
        if self.max_items == 0 {
            return Err(ConfigError {
                field: "window.max_items",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_bytes == 0 {
            return Err(ConfigError {
                field: "window.max_bytes",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_bytes > MAX_BATCH_BYTES {
            return Err(ConfigError {
                field: "window.max_bytes",
                reason: format!(
                    "{} exceeds the block limit of {MAX_BATCH_BYTES} bytes",
                    self.max_bytes
                ),
            });
        }
        if self.linger > Duration::from_secs(60) {
            return Err(ConfigError {
                field: "window.linger",
                reason: "more than 60 s is a stall, not a batch window".into(),
            });
        }
        Ok(())
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

/// How the window's bounds are set during a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowMode {
    /// The configured bounds, fixed for the whole run.
    Static,
    /// "Smart batching" (LMAX-style group commit): no timer at all. When the sink becomes free the
    /// batcher takes everything queued, up to the size bounds, and commits it. Batches grow by
    /// themselves while a commit is in flight. In this pipeline that is exactly a linger of 0, because
    /// the batcher already pops everything queued: the mode exists to say so by name.
    Smart,
    /// The linger is moved each control interval by the AIMD controller (`batch/aimd.rs`); the size
    /// bounds stay fixed.
    Aimd(AimdConfig),
}

impl WindowMode {
    /// Name as on the command line and in reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            WindowMode::Static => "static",
            WindowMode::Smart => "smart",
            WindowMode::Aimd(_) => "aimd",
        }
    }
}

/// The AIMD controller's settings (see `batch/aimd.rs` for why each signal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AimdConfig {
    /// One control step per interval.
    pub interval: Duration,
    /// p99 and rates are judged over this many intervals (a sliding window).
    pub history_intervals: usize,
    /// Grow only while p99 < SLO × (1 − margin).
    pub margin: f64,
    /// Additive increase of the linger per step.
    pub increase: Duration,
    /// Multiplicative decrease factor on a breach or an idle sink.
    pub decrease_factor: f64,
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
    /// Grow by doubling the linger (TCP's slow start) until the first decrease, then additively.
    pub slow_start: bool,
}

impl Default for AimdConfig {
    /// 100 ms steps over a 1 s history; slow start doubles from 0.25 ms (0 → 5 ms in 0.6 s), then
    /// +0.25 ms per step; halve; linger in [0, 5 ms] (half the default 10 ms SLO: the other half is the
    /// fdatasync and the bursts' queueing).
    fn default() -> Self {
        AimdConfig {
            interval: Duration::from_millis(100),
            history_intervals: 10,
            margin: 0.3,
            increase: Duration::from_micros(250),
            decrease_factor: 0.5,
            min_linger: Duration::ZERO,
            max_linger: Duration::from_millis(5),
            grow_above_arrivals_per_commit: 2.0,
            idle_below_arrivals_per_commit: 0.5,
            min_items: 100,
            slow_start: true,
        }
    }
}

impl AimdConfig {
    /// Reject settings that cannot converge.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, reason: &str| {
            Err(ConfigError {
                field,
                reason: reason.into(),
            })
        };
        if self.interval.is_zero() {
            return bad("aimd.interval", "must be positive");
        }
        if self.history_intervals == 0 {
            return bad("aimd.history_intervals", "must be at least 1");
        }
        if !(0.0..1.0).contains(&self.margin) {
            return bad("aimd.margin", "must be in [0, 1)");
        }
        if !(self.decrease_factor > 0.0 && self.decrease_factor < 1.0) {
            return bad("aimd.decrease_factor", "must be in (0, 1)");
        }
        if self.increase.is_zero() {
            return bad("aimd.increase", "must be positive");
        }
        if self.min_linger > self.max_linger || self.max_linger > Duration::from_secs(60) {
            return bad("aimd.max_linger", "must be ≥ min_linger and ≤ 60 s");
        }
        if self.idle_below_arrivals_per_commit > self.grow_above_arrivals_per_commit {
            return bad(
                "aimd.idle_below_arrivals_per_commit",
                "must not exceed grow_above_arrivals_per_commit (no hysteresis band)",
            );
        }
        Ok(())
    }
}

/// Largest block payload the format allows (the length field is u32; we keep well below it).
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// The bounded queue between producers and the batcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Items the queue holds before the overflow policy applies.
    pub capacity_items: usize,
    /// Bytes the queued items may hold in memory (payload buffers' capacity and the items, see
    /// `Item::weight`) before the overflow policy applies, whichever of this and `capacity_items` comes
    /// first. **The queue's memory bound**: at most this, or one item if a single item is larger —
    /// with `ingest`'s 1 MiB record cap, 64 MiB + 1 MiB by default.
    pub capacity_bytes: usize,
    /// What happens to an item that arrives when the queue is full.
    pub policy: OverflowPolicy,
    /// `Spill`: where the spill file goes (default `<sink dir>/spill`).
    pub spill_dir: Option<PathBuf>,
    /// `Spill`: most bytes held on disk; past this the newest items are dropped (counted).
    pub spill_max_bytes: u64,
    /// `Block`: wait at most this long for room (Kafka's `max.block.ms`); past it the item is rejected
    /// and counted as `rejected{reason="block_timeout"}`. `None` waits for ever (nothing lost).
    pub block_timeout: Option<Duration>,
}

impl QueueConfig {
    /// Memory the queued items may hold at most, for `item_bytes` payloads: the payload, its `Item`, and
    /// the allocator's rounding (measured: a 100-byte `Vec` occupies 112 bytes with glibc malloc).
    pub fn byte_budget(&self, item_bytes: usize) -> u64 {
        let per_item =
            (item_bytes.div_ceil(16) * 16 + 16) + std::mem::size_of::<crate::item::Item>();
        self.capacity_items.saturating_mul(per_item) as u64
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity_items: 32_768,
            capacity_bytes: 64 << 20,
            policy: OverflowPolicy::Block,
            spill_dir: None,
            spill_max_bytes: 1 << 30,
            block_timeout: None,
        }
    }
}

impl QueueConfig {
    /// Reject queues that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.capacity_bytes == 0 {
            return Err(ConfigError {
                field: "queue.capacity_bytes",
                reason: "must be at least 1".into(),
            });
        }
        if self.capacity_items == 0 {
            return Err(ConfigError {
                field: "queue.capacity_items",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// Where and how the file sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Directory of segment files (created if missing).
    pub dir: PathBuf,
    /// Start a new segment once the current one would pass this size.
    pub segment_bytes: u64,
    /// Keep at most this many segments, deleting the oldest (None = keep all). Benches and checks set it
    /// so that a long run at disk bandwidth cannot fill the disk.
    pub retain_segments: Option<usize>,
    /// The filesystem segments and the dead-letter queue live on: the machine's, or the crash
    /// simulation's.
    pub storage: crate::storage::Storage,
}

impl SinkConfig {
    /// A sink in `dir` with the default segment size and no retention limit.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SinkConfig {
            dir: dir.into(),
            segment_bytes: 64 << 20,
            retain_segments: None,
            storage: crate::storage::Storage::os(),
        }
    }

    /// Reject sinks that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.segment_bytes < 4096 {
            return Err(ConfigError {
                field: "sink.segment_bytes",
                reason: "must be at least 4096".into(),
            });
        }
        if self.retain_segments == Some(0) {
            return Err(ConfigError {
                field: "sink.retain_segments",
                reason: "must keep at least the segment being written".into(),
            });
        }
        Ok(())
    }
}

/// When the generator stops offering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopAfter {
    /// Stop at this offset of the schedule (and at this much wall time, whichever comes first).
    Duration(Duration),
    /// Stop after offering this many items.
    Items(u64),
}

/// The open-loop load.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// Mean offered items/s; `None` = saturation (push as fast as the queue accepts; closed loop, so
    /// latency in that mode is measured from the push attempt and only throughput is meaningful).
    pub rate: Option<f64>,
    /// Arrival process.
    pub shape: LoadShape,
    /// When to stop offering.
    pub stop: StopAfter,
    /// Bytes of each item's payload.
    pub item_bytes: usize,
    /// Payload content.
    pub payload: PayloadKind,
    /// Seed for payload content.
    pub payload_seed: u64,
    /// Stamp each item with `id=<seq> ` (its sequence number) in its first 16 bytes.
    pub ids: bool,
    /// Make some items invalid (needs `ids`).
    pub poison: Option<PoisonSpec>,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            rate: Some(10_000.0),
            shape: LoadShape::Steady,
            stop: StopAfter::Duration(Duration::from_secs(5)),
            item_bytes: 100,
            payload: PayloadKind::Log,
            payload_seed: 1,
            ids: false,
            poison: None,
        }
    }
}

impl LoadConfig {
    /// Reject loads that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(ConfigError {
                    field: "load.rate",
                    reason: format!("{r} is not a positive rate (omit it for saturation)"),
                });
            }
        }
        if self.item_bytes == 0 || self.item_bytes > MAX_ITEM_BYTES {
            return Err(ConfigError {
                field: "load.item_bytes",
                reason: format!("{} is outside 1..={MAX_ITEM_BYTES}", self.item_bytes),
            });
        }
        if (self.ids || self.poison.is_some()) && self.item_bytes < ID_PREFIX_BYTES + 2 {
            return Err(ConfigError {
                field: "load.item_bytes",
                reason: format!(
                    "ids and poison need items of at least {} bytes",
                    ID_PREFIX_BYTES + 2
                ),
            });
        }
        if self.poison.is_some_and(|p| p.one_in == 0) {
            return Err(ConfigError {
                field: "load.poison",
                reason: "one_in must be at least 1".into(),
            });
        }
        if self.rate.is_none() && !matches!(self.shape, LoadShape::Steady) {
            return Err(ConfigError {
                field: "load.shape",
                reason: "saturation (no rate) has no arrival shape; use steady".into(),
            });
        }
        Ok(())
    }
}

/// Largest item the synthetic generator makes.
pub const MAX_ITEM_BYTES: usize = 1 << 20;

/// Everything one pipeline run needs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// Batch window (its bounds; with AIMD, the starting linger and the fixed size caps).
    pub window: WindowConfig,
    /// Static, smart, or AIMD.
    pub window_mode: WindowMode,
    /// Queue.
    pub queue: QueueConfig,
    /// Sink.
    pub sink: SinkConfig,
    /// Load.
    pub load: LoadConfig,
    /// Latency objective for the run's p99 (reported as `slo_met`).
    pub slo: Duration,
    /// Refuse to start with less free space than this in the sink directory.
    pub min_free_bytes: u64,
    /// What to do with a batch the sink rejects as invalid.
    pub retry: RetryStrategy,
    /// Where dead letters go (default: `<sink dir>/dlq`).
    pub dead_letter_dir: Option<PathBuf>,
    /// Bound on the dead-letter file (`None`: unbounded).
    pub dlq_limit: Option<crate::retry::DlqLimit>,
    /// Sample live counters, queue depth and RSS at this interval into the report's time series.
    pub sample_every: Option<Duration>,
    /// Compress each batch before the write.
    pub compress: crate::codec::Codec,
    /// Serve the live counters as a Prometheus exposition here while the run works (loopback).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Redraw a progress line on stderr while the run works (the CLI sets it for a terminal).
    pub progress: Option<crate::progress::Progress>,
}

impl RunConfig {
    /// A run with defaults writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RunConfig {
            window: WindowConfig::default(),
            window_mode: WindowMode::Static,
            queue: QueueConfig::default(),
            sink: SinkConfig::new(dir),
            load: LoadConfig::default(),
            slo: Duration::from_millis(10),
            min_free_bytes: 256 << 20,
            retry: RetryStrategy::FailStop,
            dead_letter_dir: None,
            dlq_limit: None,
            sample_every: None,
            compress: crate::codec::Codec::None,
            metrics_addr: None,
            progress: None,
        }
    }

    /// The dead-letter directory in force.
    pub fn dlq_dir(&self) -> PathBuf {
        self.dead_letter_dir
            .clone()
            .unwrap_or_else(|| self.sink.dir.join("dlq"))
    }

    /// Validate every part.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.window.validate()?;
        if let WindowMode::Aimd(a) = &self.window_mode {
            a.validate()?;
        }
        self.queue.validate()?;
        self.sink.validate()?;
        self.load.validate()?;
        if (self.sink.segment_bytes as usize) < self.window.max_bytes {
            return Err(ConfigError {
                field: "sink.segment_bytes",
                reason: "must hold at least one full batch (window.max_bytes)".into(),
            });
        }
        if let Some(a) = self.metrics_addr.filter(|a| !a.ip().is_loopback()) {
            return Err(ConfigError {
                field: "metrics_addr",
                reason: format!(
                    "{a} is not a loopback address: the metrics endpoint serves this machine only (use 127.0.0.1:PORT and a local scraper or proxy)"
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metrics_endpoint_on_a_non_loopback_address_is_refused() {
        // Before: it bound whatever address it was given.
        let mut c = RunConfig::new("x");
        c.metrics_addr = Some("0.0.0.0:9100".parse().unwrap());
        assert_eq!(c.validate().unwrap_err().field, "metrics_addr");
        c.metrics_addr = Some("127.0.0.1:9100".parse().unwrap());
        c.validate().unwrap();
    }

    #[test]
    fn defaults_validate() {
        RunConfig::new("x").validate().unwrap();
        WindowConfig::UNBATCHED.validate().unwrap();
    }

    #[test]
    fn zero_items_window_is_rejected_by_name() {
        let w = WindowConfig {
            max_items: 0,
            ..WindowConfig::default()
        };
        assert_eq!(w.validate().unwrap_err().field, "window.max_items");
    }

    #[test]
    fn nonpositive_rate_is_rejected() {
        let l = LoadConfig {
            rate: Some(0.0),
            ..LoadConfig::default()
        };
        assert_eq!(l.validate().unwrap_err().field, "load.rate");
    }
}
