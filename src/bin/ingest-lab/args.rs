//! The command line: every subcommand's arguments (clap), and how they become a config.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ingest_lab::{batch::WindowConfig, config::RunConfig, retry::DlqLimit};

use crate::values::{
    CompressArg, DlqAction, DlqPolicyArg, OverflowArg, PayloadArg, SchemaArg, WindowKind,
};

#[derive(Args)]
pub(crate) struct IngestArgs {
    /// Sink directory (default under target/); a warning is printed on tmpfs.
    #[arg(long, default_value = "target/ingest-lab/ingest")]
    pub(crate) dir: PathBuf,
    /// Input files, in order; `-` reads stdin (not resumable).
    #[arg(required = true)]
    pub(crate) inputs: Vec<PathBuf>,
    /// Which records are valid.
    #[arg(long, value_enum, default_value = "v1")]
    pub(crate) schema: SchemaArg,
    /// Cap on each compressed input's decompressed bytes (plain inputs are streamed uncapped).
    #[arg(long, default_value_t = ingest_lab::ingest::DEFAULT_MAX_DECOMPRESSED_BYTES)]
    pub(crate) max_decompressed_bytes: u64,
    /// Cap on decompressed / compressed bytes of a compressed input (0 = none).
    #[arg(long, default_value_t = ingest_lab::ingest::DEFAULT_MAX_RATIO)]
    pub(crate) max_ratio: f64,
    /// Cap on one record's bytes (longer lines are dead-lettered, not held in memory).
    #[arg(long, default_value_t = ingest_lab::ingest::DEFAULT_MAX_RECORD_BYTES)]
    pub(crate) max_record_bytes: usize,
    /// Validate on a thread of its own (three threads: reader, validator, batcher). Off by default:
    /// on two cores the third thread costs the batcher CPU.
    #[arg(long)]
    pub(crate) validator_thread: bool,
    #[command(flatten)]
    pub(crate) pipeline: PipelineArgs,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The window, queue, compression, retention, metrics and dead-letter flags `run` and `ingest` share.
#[derive(Args)]
pub(crate) struct PipelineArgs {
    #[command(flatten)]
    pub(crate) window: WindowArgs,
    /// How the window's bounds are set during the run.
    #[arg(long = "window", value_enum, default_value = "static")]
    pub(crate) window_kind: WindowKind,
    /// Queue capacity, items.
    #[arg(long)]
    pub(crate) queue_capacity: Option<usize>,
    /// Queue capacity, bytes of queued records in memory (default 64 MiB): whichever of this and
    /// --queue-capacity is reached first.
    #[arg(long)]
    pub(crate) queue_max_bytes: Option<usize>,
    /// Compress each batch before the write.
    #[arg(long, value_enum, default_value = "none")]
    pub(crate) compress: CompressArg,
    /// Keep at most this many segments (oldest deleted), to cap disk use on long runs (not for data
    /// you keep).
    #[arg(long)]
    pub(crate) retain_segments: Option<usize>,
    #[command(flatten)]
    pub(crate) service: ServiceArgs,
}

impl PipelineArgs {
    /// Put every one of these settings into `cfg`.
    pub(crate) fn apply(&self, cfg: &mut RunConfig) -> Result<(), String> {
        cfg.window_mode = self.window_kind.into();
        cfg.compress = self.compress.into();
        if let Some(w) = self.window.window() {
            cfg.window = w;
        }
        if let Some(b) = self.queue_max_bytes {
            cfg.queue.capacity_bytes = b;
        }
        if let Some(c) = self.queue_capacity {
            cfg.queue.capacity_items = c;
        }
        cfg.sink.retain_segments = self.retain_segments;
        self.service.apply(cfg)
    }
}

/// Metrics and dead-letter flags that `run` and `ingest` share.
#[derive(Args)]
pub(crate) struct ServiceArgs {
    /// Serve live metrics (Prometheus text format) on this loopback address while working, e.g.
    /// 127.0.0.1:9187 (port 0 picks a free one; the address is printed).
    #[arg(long)]
    pub(crate) metrics_addr: Option<std::net::SocketAddr>,
    /// Write the final metrics (Prometheus text format) to this file at the end.
    #[arg(long)]
    pub(crate) metrics_file: Option<PathBuf>,
    /// Bound the dead-letter file to this many bytes (default: unbounded).
    #[arg(long)]
    pub(crate) dlq_max_bytes: Option<u64>,
    /// What a full dead-letter queue gives up.
    #[arg(long, value_enum, default_value = "drop-newer")]
    pub(crate) dlq_policy: DlqPolicyArg,
}

impl ServiceArgs {
    /// Put the metrics address and the DLQ bound into `cfg`.
    pub(crate) fn apply(&self, cfg: &mut RunConfig) -> Result<(), String> {
        cfg.observe.metrics_addr = self.metrics_addr;
        cfg.dlq_limit = self.dlq_max_bytes.map(|max_bytes| DlqLimit {
            max_bytes,
            policy: self.dlq_policy.into(),
        });
        Ok(())
    }

    /// Write the final metrics file, if one was asked for.
    pub(crate) fn write_metrics(&self, r: &ingest_lab::summary::RunReport) -> Result<(), String> {
        match &self.metrics_file {
            Some(p) => std::fs::write(p, ingest_lab::prometheus::render_report(r))
                .map_err(|e| format!("write {}: {e}", p.display())),
            None => Ok(()),
        }
    }
}

#[derive(Args)]
pub(crate) struct DlqArgs {
    /// What to do with the dead-letter queue.
    #[arg(value_enum)]
    pub(crate) action: DlqAction,
    /// Sink directory (its dead-letter queue is DIR/dlq).
    pub(crate) dir: PathBuf,
    /// Schema to re-drive with (the fix).
    #[arg(long, value_enum, default_value = "v2")]
    pub(crate) schema: SchemaArg,
    /// Entries that failed this many attempts are parked, not re-driven again.
    #[arg(long, default_value_t = 3)]
    pub(crate) max_attempts: u32,
    /// Re-driven records per second at most.
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct WindowArgs {
    /// Flush at this many items (1 = unbatched).
    #[arg(long)]
    pub(crate) max_items: Option<usize>,
    /// Flush before the batch passes this many bytes.
    #[arg(long)]
    pub(crate) max_bytes: Option<usize>,
    /// Flush when the batch's first item has waited this long (ms, fractions allowed).
    #[arg(long)]
    pub(crate) linger_ms: Option<f64>,
}

impl WindowArgs {
    pub(crate) fn window(&self) -> Option<WindowConfig> {
        if self.max_items.is_none() && self.max_bytes.is_none() && self.linger_ms.is_none() {
            return None;
        }
        let d = WindowConfig::default();
        Some(WindowConfig {
            max_items: self.max_items.unwrap_or(d.max_items),
            max_bytes: self.max_bytes.unwrap_or(d.max_bytes),
            linger: self
                .linger_ms
                .map_or(d.linger, |ms| Duration::from_secs_f64(ms.max(0.0) / 1e3)),
        })
    }
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Sink directory (default under target/); a warning is printed on tmpfs.
    #[arg(long, default_value = "target/ingest-lab/run")]
    pub(crate) dir: PathBuf,
    /// Offered items/s (open loop), or `max` for saturation (closed loop: throughput only).
    #[arg(long, default_value = "10000")]
    pub(crate) rate: String,
    /// Stop offering after this many seconds.
    #[arg(long, conflicts_with = "items")]
    pub(crate) duration: Option<f64>,
    /// Stop after offering this many items.
    #[arg(long)]
    pub(crate) items: Option<u64>,
    /// steady | bursty | replay:FILE
    #[arg(long, default_value = "steady")]
    pub(crate) load: String,
    /// Seed of the bursty process.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Payload bytes per item.
    #[arg(long, default_value_t = 100)]
    pub(crate) item_bytes: usize,
    #[command(flatten)]
    pub(crate) pipeline: PipelineArgs,
    /// p99 objective, ms.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) slo_ms: f64,
    /// What a full queue does with a new item.
    #[arg(long, value_enum, default_value = "block")]
    pub(crate) overflow: OverflowArg,
    /// With --overflow block: wait at most this long for room, then reject the item (counted as
    /// rejected{reason="block_timeout"}). Default: wait for ever.
    #[arg(long)]
    pub(crate) block_timeout_ms: Option<f64>,
    /// What each item's bytes look like.
    #[arg(long, value_enum, default_value = "log")]
    pub(crate) payload: PayloadArg,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// physical | window | aimd | before-after | strace | sigstop | poison | overflow | bomb | nagle |
    /// compression | redrive | ingest | all
    pub(crate) name: String,
    /// Short runs (for `make test`).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Base directory for sink directories.
    #[arg(long, default_value = "target/ingest-lab/sink")]
    pub(crate) dir: PathBuf,
    /// Evidence folder.
    #[arg(long, default_value = "target/ingest-lab/checks")]
    pub(crate) out: PathBuf,
    /// p99 objective, ms.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) slo_ms: f64,
    /// Bursty trace to replay (default: the committed standard trace).
    #[arg(long)]
    pub(crate) trace: Option<PathBuf>,
    /// Override the batched window (default: what `check window` chose into --out).
    #[command(flatten)]
    pub(crate) window: WindowArgs,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct TraceArgs {
    /// Mean arrivals/s.
    #[arg(long, default_value_t = 5000.0)]
    pub(crate) rate: f64,
    /// Length of the trace.
    #[arg(long, default_value_t = 10)]
    pub(crate) seconds: u64,
    /// PRNG seed.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Output file (default stdout).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct DirArgs {
    /// Sink directory.
    pub(crate) dir: PathBuf,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct SinkBenchArgs {
    /// Directory to append in (removed afterwards).
    #[arg(long, default_value = "target/ingest-lab/sink-bench")]
    pub(crate) dir: PathBuf,
    /// Bytes per write (whole 100-byte records, at least one).
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) write_bytes: usize,
    /// How long to append.
    #[arg(long, default_value_t = 3.0)]
    pub(crate) seconds: f64,
    /// Stop after writing this many MiB.
    #[arg(long, default_value_t = 2048)]
    pub(crate) max_mib: u64,
    /// Segment size, MiB.
    #[arg(long, default_value_t = 64)]
    pub(crate) segment_mib: u64,
    /// Keep at most this many segments while appending (default: keep all, like fio's one file).
    #[arg(long)]
    pub(crate) retain_segments: Option<usize>,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct ProvenanceArgs {
    /// The command line being recorded.
    #[arg(long)]
    pub(crate) command: String,
    /// The sink directory (its filesystem is recorded).
    #[arg(long, default_value = "target/ingest-lab/sink")]
    pub(crate) dir: PathBuf,
}

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Run folder (default: reports/latest).
    pub(crate) run_dir: Option<PathBuf>,
    /// Also summarise criterion's results from this folder into the run's micro.csv.
    #[arg(long)]
    pub(crate) criterion: Option<PathBuf>,
    /// Only criterion results written after this file's modification time (the run's start marker).
    #[arg(long)]
    pub(crate) criterion_since: Option<PathBuf>,
    /// Compare two run folders instead (before/after, e.g. two commits): writes an HTML page of
    /// both runs' verdicts and every figure both recorded, with the change from A to B.
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"])]
    pub(crate) compare: Option<Vec<PathBuf>>,
    /// Where --compare writes its page (default: reports/compare/<A>-vs-<B>.html).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// With --compare: one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}
