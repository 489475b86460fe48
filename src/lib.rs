//! # ingest-lab: what batching buys, measured
//!
//! A small, syscall-level batching ingest pipeline and the instruments to prove what batching does.
//!
//! ```text
//!  open-loop load ──push──▶ BoundedQueue ──pop_batch──▶ BatchWindow ─flush─▶ FileSink
//!  (each item stamped        (capacity +               (max items,         one write(2) +
//!   with its *intended*       OverflowPolicy)           max bytes,          one fdatasync(2)
//!   send time)                                          linger)             per batch, counted)
//! ```
//!
//! **Why batch.** Making data durable costs a fixed price per `fdatasync` (a device cache flush and a
//! journal commit: ~0.2 ms on a good SSD, milliseconds on a busy one) plus a small price per byte. One
//! item per fdatasync caps a writer at a few thousand items/s whatever the item size; a batch of N items
//! pays the fixed price once, so items/s grows ~N× until bandwidth bounds it.
//!
//! **What it costs.** An item waits for its batch to fill or its linger to expire, then for the
//! fdatasync. The window bounds that wait: a batch is flushed at `max_items`, at `max_bytes`, or when its
//! first item has waited `linger` — whichever comes first — so at peak load batches are full and at low
//! load the timer bounds latency.
//!
//! **How it is measured.** Latency runs from each item's *intended* send time on an open-loop schedule to
//! the return of the fdatasync that made it durable; a stall anywhere (the disk, the batcher, the
//! generator, a `SIGSTOP`) shows up in p99 and max. Syscalls are counted by the sink where it makes them.
//!
//! Layout: [`BatchWindow`] is pure (told sizes and times, it answers when to flush); [`BoundedQueue`]
//! hands back what it refuses; every durable byte goes through [`storage`] (segments, the DLQ, the
//! spill); `pipeline` runs the generator and batcher threads; `ingest` and `redrive` are producers
//! that feed it; `checks` turn claims into verdicts with evidence — a timing claim is a decision
//! ([`stats`]: the median of repeated runs and its interval, holds / fails / inconclusive), never one
//! run's figure against a threshold. Layers, from the bottom —
//! core, storage, observation, config, pipeline, producers, checks, report — are enforced by
//! `tests/imports_follow_the_layers.rs`.

// Raw syscalls live in one module (`signals`: async-signal handlers); everything else uses std or nix.
#![deny(unsafe_code)]

mod batch;
pub mod checks;
mod clock;
mod codec;
mod config;
mod control;
pub mod counters;
pub mod crashsim;
mod error;
mod flush;
mod host;
mod ingest;
mod item;
mod load;
mod metrics;
mod payload;
mod pipeline;
mod progress;
mod prometheus;
mod queue;
mod redrive;
pub mod report;
mod retry;
pub mod rng;
#[allow(unsafe_code)]
mod signals;
mod sink;
pub mod stats;
pub mod storage;
mod summary;
#[cfg(test)]
mod testutil;

pub use batch::{
    aimd_step, AimdDriver, AimdMove, AimdObservation, AimdPoint, AimdState, BatchWindow,
    FlushReason, FlushedBatch,
};
pub use clock::{ms, Clock, ManualClock, MonotonicClock, Nanos};
pub use codec::control::{decode_control, is_control, Position};
pub use codec::{
    read_record, BlockBuilder, BlockReader, BlockView, CappedDecoder, Codec, Compression,
    DecompressError, Framing, RecordIter, BLOCK_FORMAT, BLOCK_HEADER_BYTES, BLOCK_MAGIC,
    MAX_RECORD_FRAMING_BYTES, RATIO_GRACE_BYTES,
};
pub use config::{
    AimdConfig, LoadConfig, LoadShape, ObserveConfig, PayloadKind, QueueConfig, RunConfig,
    SinkConfig, StopAfter, WindowConfig, WindowMode, MAX_BATCH_BYTES, MAX_ITEM_BYTES,
};
pub use control::{Control, FLUSH_POLL};
pub use error::{ConfigError, FrameError, LoadError, PushError, SinkError, SysError};
pub use host::{current_rss_bytes, peak_rss_bytes, peak_rss_of_image, CpuMeter, CpuUse, HostInfo};
pub use ingest::{
    ingest, ingest_into, input_key, record_id, recover, rfc3339, scan, scan_in, segments,
    segments_in, write_ndjson, IngestConfig, IngestReport, InputChange, Invalid, LineKind, Mix,
    Recovery, RejectedInput, Schema, TornTail, DEFAULT_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_RATIO,
    DEFAULT_MAX_RECORD_BYTES,
};
pub use item::{DeadNote, Item, SourcePos};
pub use load::{standard_trace_path, Bursty, BurstyParams, Replay, Schedule, Trace};
pub use metrics::{BatchSizeSummary, LatencySummary, Metrics, RejectReason};
pub use payload::{
    log_line, make_poison, parse_id, stamp_id, PayloadSource, PoisonSpec, FRESH_FROM_BYTES,
    ID_PREFIX_BYTES,
};
pub use pipeline::{run, run_with_sink};
pub use progress::{render_line, wanted as progress_wanted, Progress};
pub use prometheus::{render_live, render_report, LiveCounters};
pub use queue::{
    BoundedQueue, BufferPool, OverflowPolicy, PopStatus, PushOutcome, SpillFile, SpillStore,
};
pub use redrive::{dlq_status, redrive, DlqStatus, RedriveConfig, RedriveReport};
pub use retry::{
    DeadLetter, DeadLetterQueue, DlqLimit, DlqPolicy, DlqPush, RetryStrategy, SplitPlan, SplitStep,
};
pub use rng::SplitMix64;
pub use signals::install_signal_handlers;
pub use sink::{
    bench_appends, free_bytes, segment_name, utf8_record, Fault, FaultOp, FileSink, FsInfo,
    NullSink, Sink, SinkBench, SinkCounters, ValidatingSink, Validator, BENCH_RECORD_BYTES,
};
pub use storage::{DirLock, LOCK_FILE};
pub use summary::{FlushReasons, Rejections, RunError, RunReport, RunSettings, Sample};
