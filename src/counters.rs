//! The counter table: every counter and gauge a run exposes, defined once — its Prometheus name,
//! kind, unit, help text and labels, where its value is read from (the finished [`RunReport`], and
//! while a run is live the [`LiveCounters`]), and the names it goes by elsewhere: its field in the
//! report's JSON, its field in a [`crate::summary::Sample`], its word on the progress line.
//!
//! One table because the same counters are shown four ways (the exposition, the JSON report, the
//! time series, the progress line) and were listed four times: a counter added to one list and not
//! another went unnoticed. Now the exposition's counter and gauge series are rendered from [`COUNTERS`]
//! alone, and so is the progress line's arithmetic; the JSON field names cannot be derived (the report
//! code, `ci/*.py` and existing run folders read them as they are), so the table names them and the
//! tests in `prometheus.rs` and `pipeline/sampler.rs` serialize a report and a sample and hold every
//! named field equal to what the exposition prints for it — and every counter-like field of the JSON to
//! be in the table or in the short list of those deliberately not exposed.
//!
//! The distributions (latency, fdatasync, batch age and size) are [`DISTRIBUTIONS`], rendered as
//! Prometheus summaries.

mod live;

pub use live::LiveCounters;
pub(crate) use live::{Live, Padded};

use crate::metrics::LatencySummary;
use crate::summary::RunReport;

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows during a run (`_total`).
    Counter,
    /// A level that moves both ways.
    Gauge,
}

impl Kind {
    /// As in `# TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// What a counter counts (the base unit of its name, before `_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Items (records).
    Items,
    /// Committed batches.
    Batches,
    /// System calls.
    Calls,
    /// Bytes.
    Bytes,
}

impl Unit {
    /// As a name's last word (a gauge ends with it; a counter puts it before `_total`).
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Items => "_items",
            Unit::Batches => "_batches",
            Unit::Calls => "_calls",
            Unit::Bytes => "_bytes",
        }
    }
}

/// A label of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// A fixed `key="value"`.
    Is(&'static str, &'static str),
    /// `policy="…"`: the run's overflow policy ([`crate::summary::RunSettings::overflow`]).
    Policy,
}

/// One series of a counter: its labels and where its value comes from.
#[derive(Debug, Clone, Copy)]
pub struct Series {
    /// Labels, in order (empty: the bare name).
    pub labels: &'static [Label],
    /// Its field in the report's JSON, a `.`-separated path (`None`: not in the report).
    pub json: Option<&'static str>,
    /// Its value in a finished run's report.
    pub read: fn(&RunReport) -> u64,
    /// Its value while the run is live, when the live counters hold it (fresher than the batcher's
    /// last published report); `None`: the published report's.
    pub live: Option<fn(&LiveCounters) -> u64>,
    /// The [`crate::summary::Sample`] field that shows it; a field named by several series is their sum.
    pub sample: Option<&'static str>,
    /// The progress line's word for it; a word named by several series shows their sum.
    pub progress: Option<&'static str>,
}

/// One counter or gauge: a metric family of one or more series.
#[derive(Debug, Clone, Copy)]
pub struct CounterDef {
    /// Exported name: `ingest_<what>_<unit>`, `_total` for counters.
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// What it counts.
    pub unit: Unit,
    /// `# HELP` text.
    pub help: &'static str,
    /// The report's JSON field holding the sum of the series (`dropped`, `rejected`), if any.
    pub json_total: Option<&'static str>,
    /// Its series.
    pub series: &'static [Series],
}

/// A series with no labels, no live reading, no sample field and no progress word.
const fn plain(json: &'static str, read: fn(&RunReport) -> u64) -> Series {
    Series {
        labels: &[],
        json: Some(json),
        read,
        live: None,
        sample: None,
        progress: None,
    }
}

/// Every counter and gauge, in exposition order.
pub const COUNTERS: &[CounterDef] = &[
    CounterDef {
        name: "ingest_items_offered_total",
        kind: Kind::Counter,
        unit: Unit::Items,
        help: "Items offered to the pipeline.",
        json_total: None,
        series: &[Series {
            live: Some(|c| c.offered),
            sample: Some("offered"),
            ..plain("offered", |r| r.offered)
        }],
    },
    CounterDef {
        name: "ingest_items_committed_total",
        kind: Kind::Counter,
        unit: Unit::Items,
        help: "Items durable in the sink (fdatasync returned).",
        json_total: None,
        series: &[Series {
            live: Some(|c| c.committed),
            sample: Some("committed"),
            progress: Some("committed"),
            ..plain("committed", |r| r.committed)
        }],
    },
    CounterDef {
        name: "ingest_items_dead_lettered_total",
        kind: Kind::Counter,
        unit: Unit::Items,
        help: "Items sent to the dead-letter queue.",
        json_total: None,
        series: &[Series {
            live: Some(|c| c.dead_lettered),
            sample: Some("dead_lettered"),
            progress: Some("dead-lettered"),
            ..plain("dead_lettered", |r| r.dead_lettered)
        }],
    },
    CounterDef {
        name: "ingest_items_dropped_total",
        kind: Kind::Counter,
        unit: Unit::Items,
        help: "Items discarded: by the overflow policy, or refused by a full dead-letter queue.",
        json_total: Some("dropped"),
        series: &[
            Series {
                labels: &[Label::Is("reason", "overflow"), Label::Policy],
                live: Some(|c| c.dropped),
                sample: Some("dropped"),
                progress: Some("lost"),
                ..plain("dropped_by_reason.overflow", |r| {
                    r.dropped_by_reason.overflow
                })
            },
            Series {
                labels: &[Label::Is("reason", "dlq_full")],
                live: Some(|c| c.dropped_dlq_full),
                sample: Some("dropped"),
                progress: Some("lost"),
                ..plain("dropped_by_reason.dlq_full", |r| {
                    r.dropped_by_reason.dlq_full
                })
            },
        ],
    },
    CounterDef {
        name: "ingest_items_rejected_total",
        kind: Kind::Counter,
        unit: Unit::Items,
        help: "Items refused or lost, by reason.",
        json_total: Some("rejected"),
        series: &[
            Series {
                labels: &[Label::Is("reason", "queue_closed")],
                live: Some(|c| c.rejected_queue_closed),
                sample: Some("rejected_queue_closed"),
                ..plain("rejected_by_reason.queue_closed", |r| {
                    r.rejected_by_reason.queue_closed
                })
            },
            Series {
                labels: &[Label::Is("reason", "sink_failed")],
                live: Some(|c| c.lost),
                sample: Some("lost"),
                progress: Some("lost"),
                ..plain("rejected_by_reason.sink_failed", |r| {
                    r.rejected_by_reason.sink_failed
                })
            },
            Series {
                labels: &[Label::Is("reason", "block_timeout")],
                live: Some(|c| c.timed_out),
                sample: Some("timed_out"),
                progress: Some("lost"),
                ..plain("rejected_by_reason.block_timeout", |r| {
                    r.rejected_by_reason.block_timeout
                })
            },
        ],
    },
    CounterDef {
        name: "ingest_batches_total",
        kind: Kind::Counter,
        unit: Unit::Batches,
        help: "Batches committed.",
        json_total: None,
        series: &[plain("batches", |r| r.batches)],
    },
    CounterDef {
        name: "ingest_flushes_total",
        kind: Kind::Counter,
        unit: Unit::Batches,
        help: "Batches flushed, by the bound that closed them.",
        json_total: None,
        series: &[
            Series {
                labels: &[Label::Is("reason", "items")],
                ..plain("flush_reasons.items", |r| r.flush_reasons.items)
            },
            Series {
                labels: &[Label::Is("reason", "bytes")],
                ..plain("flush_reasons.bytes", |r| r.flush_reasons.bytes)
            },
            Series {
                labels: &[Label::Is("reason", "deadline")],
                ..plain("flush_reasons.deadline", |r| r.flush_reasons.deadline)
            },
            Series {
                labels: &[Label::Is("reason", "shutdown")],
                ..plain("flush_reasons.shutdown", |r| r.flush_reasons.shutdown)
            },
            Series {
                labels: &[Label::Is("reason", "manual")],
                ..plain("flush_reasons.manual", |r| r.flush_reasons.manual)
            },
        ],
    },
    CounterDef {
        name: "ingest_write_syscalls_total",
        kind: Kind::Counter,
        unit: Unit::Calls,
        help: "write(2) calls on segments.",
        json_total: None,
        series: &[plain("write_syscalls", |r| r.write_syscalls)],
    },
    CounterDef {
        name: "ingest_fdatasyncs_total",
        kind: Kind::Counter,
        unit: Unit::Calls,
        help: "fdatasync(2) calls on segments.",
        json_total: None,
        series: &[Series {
            sample: Some("fdatasyncs"),
            ..plain("fdatasyncs", |r| r.fdatasyncs)
        }],
    },
    CounterDef {
        name: "ingest_dlq_fdatasyncs_total",
        kind: Kind::Counter,
        unit: Unit::Calls,
        help: "fdatasync(2) calls on the dead-letter queue's files.",
        json_total: None,
        series: &[plain("dlq_fdatasyncs", |r| r.dlq_fdatasyncs)],
    },
    CounterDef {
        name: "ingest_dlq_evicted_total",
        kind: Kind::Counter,
        unit: Unit::Items,
        help: "Dead letters a drop-older dead-letter queue evicted to stay within its byte bound.",
        json_total: None,
        series: &[plain("dlq_evicted", |r| r.dlq_evicted)],
    },
    CounterDef {
        name: "ingest_written_bytes_total",
        kind: Kind::Counter,
        unit: Unit::Bytes,
        help: "Bytes written to segments.",
        json_total: None,
        series: &[plain("bytes_written", |r| r.bytes_written)],
    },
    CounterDef {
        name: "ingest_queue_depth_items",
        kind: Kind::Gauge,
        unit: Unit::Items,
        help: "Items waiting in the queue.",
        json_total: None,
        // A finished run's queue is empty: what it held is committed or counted lost.
        series: &[Series {
            json: None,
            live: Some(|c| c.queue_depth),
            sample: Some("queue_depth"),
            progress: Some("queued"),
            ..plain("", |_| 0)
        }],
    },
    CounterDef {
        name: "ingest_queue_depth_max_items",
        kind: Kind::Gauge,
        unit: Unit::Items,
        help: "Largest queue depth the batcher saw.",
        json_total: None,
        series: &[plain("queue_depth_max", |r| r.queue_depth_max)],
    },
];

/// Counter-like fields of the report's JSON that are deliberately not exposed, and why: the
/// agreement test requires every other integer field of the report to be in [`COUNTERS`].
pub const NOT_EXPOSED: &[(&str, &str)] = &[
    (
        "behind_schedule",
        "load the generator never offered: a verdict on the run, not a pipeline counter",
    ),
    ("dir_fsyncs", "one per new segment: a file-layout detail"),
    (
        "retry_attempts",
        "a retry strategy's own bookkeeping, in the JSON for the retry checks",
    ),
];

/// The value of the series `s` in `r`, or while live in `live` when it holds it.
pub fn value(s: &Series, r: &RunReport, live: Option<&LiveCounters>) -> u64 {
    match (live, s.live) {
        (Some(c), Some(f)) => f(c),
        _ => (s.read)(r),
    }
}

/// The sum of the live series the progress line shows under `word`.
pub fn progress_sum(word: &str, c: &LiveCounters) -> u64 {
    COUNTERS
        .iter()
        .flat_map(|d| d.series)
        .filter(|s| s.progress == Some(word))
        .filter_map(|s| s.live)
        .map(|f| f(c))
        .sum()
}

/// One distribution, exposed as a Prometheus summary in seconds.
#[derive(Debug, Clone, Copy)]
pub struct DistributionDef {
    /// Exported name (`_seconds`).
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// Its field in the report's JSON (µs).
    pub json: &'static str,
    /// Its summary in a report.
    pub read: fn(&RunReport) -> &LatencySummary,
}

/// The time distributions, in exposition order (after [`COUNTERS`]; the batch-size summary follows
/// them, in items).
pub const DISTRIBUTIONS: &[DistributionDef] = &[
    DistributionDef {
        name: "ingest_latency_seconds",
        help: "End-to-end latency, intended send time to fdatasync return.",
        json: "latency_us",
        read: |r| &r.latency_us,
    },
    DistributionDef {
        name: "ingest_fdatasync_seconds",
        help: "Duration of each fdatasync.",
        json: "fdatasync_us",
        read: |r| &r.fdatasync_us,
    },
    DistributionDef {
        name: "ingest_batch_wait_seconds",
        help: "Age of each batch's first item at flush.",
        json: "batch_wait_us",
        read: |r| &r.batch_wait_us,
    },
    DistributionDef {
        name: "ingest_commit_seconds",
        help:
            "Each batch's commit, flush decision to fdatasync return: framing, write and fdatasync.",
        json: "commit_us",
        read: |r| &r.commit_us,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_counter_is_named_once_and_says_its_kind_in_its_name() {
        let mut names = BTreeSet::new();
        for d in COUNTERS {
            assert!(names.insert(d.name), "{} twice", d.name);
            assert!(d.name.starts_with("ingest_"), "{}", d.name);
            assert_eq!(
                d.kind == Kind::Counter,
                d.name.ends_with("_total"),
                "{}",
                d.name
            );
            if d.kind == Kind::Gauge {
                assert!(d.name.ends_with(d.unit.suffix()), "{}", d.name);
            }
            assert!(!d.series.is_empty() && d.help.ends_with('.'), "{}", d.name);
            assert_eq!(
                d.series.len() > 1,
                d.series.iter().all(|s| !s.labels.is_empty()),
                "{}: a family of several series tells them apart by labels",
                d.name
            );
        }
    }

    #[test]
    fn the_progress_line_counts_every_loss_the_live_counters_hold() {
        let c = LiveCounters {
            dropped: 1,
            dropped_dlq_full: 10,
            lost: 100,
            timed_out: 1000,
            ..LiveCounters::default()
        };
        assert_eq!(progress_sum("lost", &c), 1111);
    }
}

/// For the agreement tests: an exposition's samples, a series' key, a report with every counter set.
#[cfg(test)]
pub(crate) mod testing;
