//! Plain configuration structs with safe defaults and `validate()`. Every limit the pipeline enforces is a
//! named field here, with its unit in the name; the logic never hides a magic number.

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use crate::batch::{AimdConfig, WindowConfig};
use crate::error::ConfigError;
pub(crate) use crate::load::LoadShape;
pub(crate) use crate::payload::PayloadKind;
use crate::payload::{PoisonSpec, ID_PREFIX_BYTES};
use crate::queue::OverflowPolicy;
use crate::retry::RetryStrategy;
pub(crate) use crate::sink::SinkConfig;

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
    /// What happens to an item that arrives when the queue is full, with that policy's own settings
    /// (`Block`'s timeout, `Spill`'s directory and disk budget).
    pub policy: OverflowPolicy,
}

impl QueueConfig {
    /// Memory the queued items may hold at most, for `item_bytes` payloads: the payload, its `Item`, and
    /// the allocator's rounding (a `Vec`'s block is rounded up to 16 bytes, plus 16 of malloc's own).
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
            policy: OverflowPolicy::BLOCK,
        }
    }
}

impl QueueConfig {
    /// Reject queues that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::unless(
            self.capacity_bytes > 0,
            "queue.capacity_bytes",
            "must be at least 1",
        )?;
        ConfigError::unless(
            self.capacity_items > 0,
            "queue.capacity_items",
            "must be at least 1",
        )
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
    /// Compress each batch before the write.
    pub compress: crate::codec::Codec,
    /// How the run is watched while it works; nothing in it changes what the run does.
    pub observe: ObserveConfig,
    /// Stop and flush requests for the run (default: the process's, which the signal handlers
    /// write).
    pub control: crate::control::Control,
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
            compress: crate::codec::Codec::None,
            observe: ObserveConfig::default(),
            control: crate::control::Control::process(),
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
        self.observe.validate()
    }
}

/// What watches a run while it works — the time series, the live metrics endpoint, the progress line —
/// apart from what the pipeline and the load need, so a component is handed only its own part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObserveConfig {
    /// Sample live counters, queue depth and RSS at this interval into the report's time series.
    pub sample_every: Option<Duration>,
    /// Serve the live counters as a Prometheus exposition here while the run works (loopback).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Redraw a progress line on stderr while the run works (the CLI sets it for a terminal).
    pub progress: Option<crate::progress::Progress>,
}

impl ObserveConfig {
    /// The metrics endpoint serves this machine only.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(a) = self.metrics_addr.filter(|a| !a.ip().is_loopback()) {
            return Err(ConfigError {
                field: "observe.metrics_addr",
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
        c.observe.metrics_addr = Some("0.0.0.0:9100".parse().unwrap());
        assert_eq!(c.validate().unwrap_err().field, "observe.metrics_addr");
        c.observe.metrics_addr = Some("127.0.0.1:9100".parse().unwrap());
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
