//! `RunReport`: the JSON record of one pipeline run (DESIGN.md §3 keys), built from the metrics and
//! the sink's syscall counters.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{ConfigError, LoadError, SinkError, SysError};
use crate::host::CpuUse;
use crate::metrics::{BatchSizeSummary, LatencySummary, Metrics};
use crate::sink::SinkCounters;

/// Flush counts by reason (defined with the window that counts them).
pub(crate) use crate::flush::FlushReasons;

/// Rejections by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Rejections {
    /// Pushed after the queue closed.
    pub queue_closed: u64,
    /// Accepted but lost to a sink failure (never reported committed).
    pub sink_failed: u64,
    /// Refused because the queue stayed full past the `Block` timeout.
    pub block_timeout: u64,
}

/// Drops by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Drops {
    /// By the overflow policy (`settings.overflow`).
    pub overflow: u64,
    /// Refused by a full dead-letter queue (policy drop-newer).
    pub dlq_full: u64,
}

/// What the run was asked to do (echoed so a JSON record stands on its own).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunSettings {
    /// `steady`, `bursty`, `replay:FILE` or `saturate`.
    pub load: String,
    /// Offered mean items/s (None = saturation).
    pub rate: Option<f64>,
    /// Payload bytes per item.
    pub item_bytes: usize,
    /// Window bound: items.
    pub max_items: usize,
    /// Window bound: bytes.
    pub max_bytes: usize,
    /// Window bound: linger, ms (with AIMD: the starting linger).
    pub linger_ms: f64,
    /// `static`, `smart` or `aimd`.
    pub window_mode: String,
    /// Queue capacity, items.
    pub queue_capacity: usize,
    /// Overflow policy.
    pub overflow: String,
    /// SLO for p99, ms.
    pub slo_ms: f64,
    /// Batch compression.
    pub compress: String,
    /// Sink directory.
    pub dir: String,
}

/// One sample of a run's live state (every `sample_every`). The counters it shows, and under which
/// field, are named in the counter table (`crate::counters::COUNTERS`, `Series::sample`); a test holds
/// each equal to what the live exposition prints at the same instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t_s: f64,
    /// Items offered so far.
    pub offered: u64,
    /// Items committed so far.
    pub committed: u64,
    /// Items dead-lettered so far.
    pub dead_lettered: u64,
    /// Items dropped by the overflow policy so far.
    pub dropped: u64,
    /// Items in the queue's memory now.
    pub queue_depth: u64,
    /// Items in the queue's spill file now.
    pub spilled: u64,
    /// Items the batcher has taken but not yet committed, dead-lettered or lost (its window).
    pub in_batcher: u64,
    /// Items refused so far because `Block` timed out.
    pub timed_out: u64,
    /// Items accepted but lost to a sink failure so far (fail-stop: the batcher's window and the
    /// queue's memory when the sink failed).
    pub lost: u64,
    /// Offers refused so far because the queue had closed after a sink failure.
    pub rejected_queue_closed: u64,
    /// The sink's fdatasyncs so far (as of its last commit).
    pub fdatasyncs: u64,
    /// Total time the producer has been blocked on a full queue.
    pub producer_blocked_s: f64,
    /// Resident set size now.
    pub rss_bytes: u64,
}

impl Sample {
    /// `offered - (committed + dead_lettered + dropped + timed out + lost + refused + queued + spilled +
    /// in the batcher)`: zero up to the one item in the producer's hand and the instants between
    /// reading each counter.
    pub fn residual(&self) -> i64 {
        self.offered as i64
            - (self.committed
                + self.dead_lettered
                + self.dropped
                + self.timed_out
                + self.lost
                + self.rejected_queue_closed
                + self.queue_depth
                + self.spilled
                + self.in_batcher) as i64
    }

    /// Consumer lag: offered but neither committed, dead-lettered nor dropped.
    pub fn lag(&self) -> u64 {
        self.offered
            .saturating_sub(self.committed + self.dead_lettered + self.dropped)
    }
}

/// The record of one run. Its field names are the JSON's and do not change (the report code,
/// `ci/*.py` and run folders read them); the counter table names the field of each counter it
/// exposes, and a test holds the two equal.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunReport {
    /// Items the generator offered.
    pub offered: u64,
    /// Items durable.
    pub committed: u64,
    /// Items discarded by the overflow policy.
    pub dropped: u64,
    /// Drops by reason.
    pub dropped_by_reason: Drops,
    /// Items dead-lettered.
    pub dead_lettered: u64,
    /// Items rejected (all reasons).
    pub rejected: u64,
    /// Rejections by reason.
    pub rejected_by_reason: Rejections,
    /// Items the schedule wanted sent by the end but the generator never got to (it was blocked):
    /// not offered, so not in the counts above, but the load the pipeline failed to take.
    pub behind_schedule: u64,
    /// Batches committed.
    pub batches: u64,
    /// `write(2)` calls on segments.
    pub write_syscalls: u64,
    /// `fdatasync(2)` calls on segments.
    pub fdatasyncs: u64,
    /// Bytes written to segments.
    pub bytes_written: u64,
    /// Directory fsyncs (one per new segment).
    pub dir_fsyncs: u64,
    /// `fdatasync(2)` calls on the dead-letter queue's files (not in `fdatasyncs`, which counts
    /// segments only).
    pub dlq_fdatasyncs: u64,
    /// Dead letters a drop-older DLQ evicted to stay within its bound (each counted dead-lettered
    /// when written; gone since).
    pub dlq_evicted: u64,
    /// Wall time from the first intended send to the last commit, s.
    pub elapsed_s: f64,
    /// committed / elapsed_s.
    pub throughput_items_per_s: f64,
    /// write_syscalls / committed.
    pub write_syscalls_per_item: f64,
    /// fdatasyncs / committed.
    pub fdatasyncs_per_item: f64,
    /// End-to-end latency from intended send time to fdatasync return, µs.
    pub latency_us: LatencySummary,
    /// Each fdatasync's own duration, µs.
    pub fdatasync_us: LatencySummary,
    /// The same as 1,001 quantiles (0, 0.1 %, ..., 100 %), µs: what a simulation of the run's trace
    /// samples service times from. Not in the run's JSON (a check that simulates writes the
    /// distributions it drew from into its own evidence).
    #[serde(skip)]
    pub fdatasync_quantiles_us: Vec<f64>,
    /// Age of each batch's first item at flush, µs.
    pub batch_wait_us: LatencySummary,
    /// Each committed batch from its flush decision to its fdatasync's return (framing, write,
    /// fdatasync), µs.
    pub commit_us: LatencySummary,
    /// Each block's time in the sink (write and fdatasync) by block size, as 1,001 quantiles per
    /// size class (not in the run's JSON, as `fdatasync_quantiles_us`).
    #[serde(skip)]
    pub sink_commit_classes: Vec<crate::metrics::SizeClass>,
    /// Items per batch.
    pub batch_size: BatchSizeSummary,
    /// Batches by size, in power-of-two buckets: `(largest size in the bucket, batches)` with the
    /// buckets ending at 1, 3, 7, …, 2^k − 1; empty buckets left out.
    pub batch_size_hist: Vec<(u64, u64)>,
    /// Largest queue depth the batcher saw.
    pub queue_depth_max: u64,
    /// Flushes by reason.
    pub flush_reasons: FlushReasons,
    /// p99 ≤ SLO.
    pub slo_met: bool,
    /// Filesystem type of the sink directory.
    pub fs_type: String,
    /// CPU use during the run.
    pub cpu: CpuUse,
    /// What was asked.
    pub settings: RunSettings,
    /// Warnings (tmpfs, generator behind schedule, ...).
    pub warnings: Vec<String>,
    /// Total time the producer spent blocked on a full queue.
    pub producer_blocked_s: f64,
    /// Commit attempts made by the retry strategy after rejections.
    pub retry_attempts: u64,
    /// Live samples, if the run sampled.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Sample>,
    /// The AIMD controller's decisions, one per control interval (empty for static windows).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aimd_trace: Vec<crate::batch::AimdPoint>,
}

impl RunReport {
    /// Build the record from a run's metrics and its sink's counters.
    pub fn new(m: &Metrics, sink: SinkCounters, sync: LatencySummary, elapsed_s: f64) -> Self {
        let per = |x: u64| {
            if m.committed == 0 {
                0.0
            } else {
                x as f64 / m.committed as f64
            }
        };
        RunReport {
            offered: m.offered,
            committed: m.committed,
            dropped: m.dropped + m.dropped_dlq_full,
            dropped_by_reason: Drops {
                overflow: m.dropped,
                dlq_full: m.dropped_dlq_full,
            },
            dead_lettered: m.dead_lettered,
            rejected: m.rejected(),
            rejected_by_reason: Rejections {
                queue_closed: m.rejected_queue_closed,
                block_timeout: m.rejected_block_timeout,
                sink_failed: m.rejected_sink_failed,
            },
            batches: m.batches,
            write_syscalls: sink.write_syscalls,
            fdatasyncs: sink.fdatasyncs,
            bytes_written: sink.bytes_written,
            dir_fsyncs: sink.dir_fsyncs,
            dlq_fdatasyncs: m.dlq_fdatasyncs,
            dlq_evicted: m.dlq_evicted,
            elapsed_s,
            throughput_items_per_s: if elapsed_s > 0.0 {
                m.committed as f64 / elapsed_s
            } else {
                0.0
            },
            write_syscalls_per_item: per(sink.write_syscalls),
            fdatasyncs_per_item: per(sink.fdatasyncs),
            latency_us: LatencySummary::from_ns(&m.latency_ns),
            fdatasync_us: sync,
            fdatasync_quantiles_us: m.fdatasync_quantiles_us.clone(),
            batch_wait_us: LatencySummary::from_ns(&m.batch_wait_ns),
            commit_us: LatencySummary::from_ns(&m.commit_ns),
            sink_commit_classes: m.sink_commit_classes.clone(),
            batch_size: BatchSizeSummary {
                // Exact, not the histogram's bucket-rounded mean.
                mean: if m.batches == 0 {
                    0.0
                } else {
                    m.committed as f64 / m.batches as f64
                },
                ..BatchSizeSummary::from_hist(&m.batch_items)
            },
            batch_size_hist: pow2_buckets(&m.batch_items),
            queue_depth_max: if m.queue_depth.is_empty() {
                0
            } else {
                m.queue_depth.max()
            },
            flush_reasons: m.flush_reasons,
            retry_attempts: m.retry_attempts,
            ..Default::default()
        }
    }

    /// `offered - (committed + dead_lettered + dropped + rejected)`: must be 0.
    pub fn unaccounted(&self) -> i64 {
        self.offered as i64
            - (self.committed + self.dead_lettered + self.dropped + self.rejected) as i64
    }
}

/// `(upper bound, count)` per power-of-two bucket of `h` (ending at 1, 3, 7, …), non-empty buckets only.
fn pow2_buckets(h: &hdrhistogram::Histogram<u64>) -> Vec<(u64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_log(1, 2.0)
        .filter(|v| v.count_since_last_iteration() > 0)
        .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
        .collect()
}

#[cfg(test)]
mod bucket_tests {
    #[test]
    fn batch_sizes_fall_in_power_of_two_buckets() {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1 << 32, 3).unwrap();
        for v in [1, 3, 3, 4, 4096, 4099] {
            h.record(v).unwrap();
        }
        let b = super::pow2_buckets(&h);
        assert_eq!(b.iter().map(|x| x.1).sum::<u64>(), 6);
        // Buckets end at 2^k - 1: 1, 3, 7, …, 8191.
        assert_eq!(b, vec![(1, 1), (3, 2), (7, 1), (8191, 2)]);
    }
}

/// Why a pipeline run did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration was rejected before anything started.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The load schedule could not be built.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Setting up the environment failed (sink directory, free space).
    #[error(transparent)]
    Setup(SysError),
    /// The sink failed mid-run; the run stopped (fail-stop). `partial` holds the counts: what was
    /// durable is `committed`, what was accepted but lost is `rejected_by_reason.sink_failed`, and they
    /// still reconcile with `offered`.
    #[error("{error} (stopped: {} committed, {} accepted but not durable, {} refused after the failure)", partial.committed, partial.rejected_by_reason.sink_failed, partial.rejected_by_reason.queue_closed)]
    Sink {
        /// The failure.
        #[source]
        error: SinkError,
        /// The run's counters up to the failure.
        partial: Box<RunReport>,
    },
    /// The start-up scan of existing segments found corruption it must not repair (ingest).
    #[error("recovery: {0}")]
    Recovery(String),
    /// Not enough free space in the sink directory to run safely.
    #[error(
        "not enough free space in {}: {} MiB free, the run needs {} MiB (lower --duration/--rate or pick another --dir)",
        dir.display(), free >> 20, needed >> 20
    )]
    NoSpace {
        /// The directory.
        dir: PathBuf,
        /// Bytes free.
        free: u64,
        /// Bytes the run needs.
        needed: u64,
    },
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn a_failed_run_keeps_the_os_error_at_the_end_of_its_source_chain() {
        // Before, SinkError and RunError had no source(): a caller walking the chain (anyhow's
        // `{:#}`, a log's "caused by") lost the OS error behind "sink failed".
        let os = std::io::Error::from_raw_os_error(libc::EIO);
        let e = RunError::Sink {
            error: SinkError::Io(SysError::new("fdatasync", "/d/seg-0", os)),
            partial: Box::default(),
        };
        let mut chain = vec![e.to_string()];
        let mut cur: &dyn std::error::Error = &e;
        while let Some(next) = cur.source() {
            chain.push(next.to_string());
            cur = next;
        }
        assert_eq!(chain.len(), 4, "{chain:?}");
        assert!(
            chain[0].starts_with("sink failed: fdatasync /d/seg-0"),
            "{chain:?}"
        );
        let last = cur
            .downcast_ref::<std::io::Error>()
            .expect("the OS error last");
        assert_eq!(last.raw_os_error(), Some(libc::EIO));
    }
}
