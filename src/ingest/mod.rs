//! `ingest`: newline-delimited JSON from files (plain, gzip or zstd, detected by magic bytes) or stdin,
//! validated, through the same bounded queue, window and file sink as synthetic runs — and resumable
//! after a crash with every record committed exactly once or dead-lettered.
//!
//! The reader runs on the calling thread (decompress, split lines, validate); the batcher commits on
//! its own thread. Invalid records travel the same queue marked dead; the batcher writes them to the
//! dead-letter queue (reason, `file:line`) and makes it durable before the block whose positions cover
//! them — at most one DLQ fdatasync per batch — so a committed position never covers a dead letter
//! that could be lost. Every consumed line ends up in exactly one place:
//! `records_in = committed + dead_lettered` (blank lines are skipped and counted apart; an input that
//! breaks a cap or cannot be read is rejected with an error naming it, and what it yielded before the
//! failure is still committed).
//!
//! Memory is bounded whatever the input size: the decoder streams (64 KiB buffers), a line is held only
//! up to `max_record_bytes`, and the queue holds at most `queue.capacity_items` records.

mod checkpoint;
mod field;
mod input;
mod json;
mod reader;
mod schema;
mod testdata;
mod validator;

pub use checkpoint::{recover, scan, scan_in, segments, segments_in, start_up, Recovery, TornTail};
pub use field::rfc3339;
pub use input::{input_key, plan_inputs, InputChange, InputPlan};
use reader::{read_inputs, Tally};
pub use schema::{Invalid, Schema};
pub use testdata::{record_id, write_ndjson, LineKind, Mix};

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::config::RunConfig;
use crate::error::SysError;
use crate::pipeline::{run_with_producer, Sources};
use crate::queue::OverflowPolicy;
use crate::retry::DeadLetterQueue;
use crate::sink::{FileSink, FsInfo};
use crate::summary::RunError;
use crate::summary::RunReport;

/// Default cap on one input's decompressed bytes.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 256 << 20;
/// Default ratio cap (decompressed / compressed). Real logs compress 5–30× (gzip) and the lab's
/// log-like batches ~4×; a megabyte of zeros compresses ~1000×: 200 leaves real data far inside.
pub const DEFAULT_MAX_RATIO: f64 = 200.0;
/// Default cap on one record's bytes.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;
/// Records stamped with one clock reading.
const STAMP_EVERY: u64 = 32;
/// Nested compression layers accepted (gzip inside zstd, ...).
const MAX_LAYERS: u32 = 2;

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Pipeline settings: window, queue (policy must be Block), sink, compression.
    pub run: RunConfig,
    /// Inputs in order; `-` is stdin (not resumable: it cannot be re-read).
    pub inputs: Vec<PathBuf>,
    /// Validation schema.
    pub schema: Schema,
    /// Cap on each compressed input's decompressed bytes (plain inputs are streamed uncapped).
    pub max_decompressed_bytes: u64,
    /// Cap on one record's bytes (a longer line is dead-lettered without being held in memory).
    pub max_record_bytes: usize,
    /// Cap on decompressed / compressed bytes of a compressed input (`None`: no ratio cap).
    pub max_ratio: Option<f64>,
    /// Validate on a thread of its own (reader → validator → batcher: three threads) instead of on
    /// the reader's thread (two threads). Off by default: with the scan validator the reader keeps up
    /// alone, and on two cores a third busy thread takes CPU from the batcher, which is the
    /// bottleneck. It pays when validation is much dearer than reading.
    pub validator_thread: bool,
}

impl IngestConfig {
    /// Defaults, sink in `dir`.
    pub fn new(dir: impl Into<PathBuf>, inputs: Vec<PathBuf>) -> Self {
        let mut run = RunConfig::new(dir);
        run.min_free_bytes = 64 << 20;
        IngestConfig {
            run,
            inputs,
            schema: Schema::V1,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_ratio: Some(DEFAULT_MAX_RATIO),
            validator_thread: false,
        }
    }
}

/// An input that was refused or failed part-way.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedInput {
    /// The input.
    pub input: String,
    /// Line it stopped after (records before it were handled).
    pub after_line: u64,
    /// Counter label: `unreadable`, `corrupt`, `decompressed_cap`, `ratio_cap`, `too_many_layers`.
    pub reason: &'static str,
    /// Why.
    pub error: String,
}

/// DESIGN.md §3's `ingest` JSON, plus what recovery found. Its `committed`, `dead_lettered`,
/// `dropped_dlq_full`, `batches`, `fdatasyncs`, `dlq_fdatasyncs` and `bytes_written` are copies of
/// the same counters in `run`, kept at the top level because that is the documented shape the
/// `ingest` JSON's readers rely on; they are filled from `run` in one place and nowhere else.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Records read this run (non-blank lines past the resume point).
    pub records_in: u64,
    /// Of them, committed.
    pub committed: u64,
    /// Of them, dead-lettered (schema or record-size).
    pub dead_lettered: u64,
    /// Invalid records a full (drop-newer) dead-letter queue refused: counted, not kept.
    pub dropped_dlq_full: u64,
    /// Inputs refused or cut short (missing, unreadable, corrupt, over a cap).
    pub rejected_inputs: u64,
    /// Rejected inputs by reason (the labels of [`RejectedInput::reason`]).
    pub rejected_by_reason: std::collections::BTreeMap<&'static str, u64>,
    /// Details of each.
    pub rejected: Vec<RejectedInput>,
    /// Inputs found replaced, renamed or truncated since their position was committed, or given
    /// twice (see [`InputPlan`]): each said on stderr too.
    pub changed_inputs: Vec<InputChange>,
    /// Blank lines skipped (not records).
    pub blank_lines: u64,
    /// Lines skipped because an earlier run already committed or dead-lettered them.
    pub resumed_lines: u64,
    /// Batches committed.
    pub batches: u64,
    /// fdatasyncs on segments.
    pub fdatasyncs: u64,
    /// fdatasyncs on the dead-letter queue (one per batch that held dead letters).
    pub dlq_fdatasyncs: u64,
    /// Bytes written to segments.
    pub bytes_written: u64,
    /// Wall time, s.
    pub elapsed_s: f64,
    /// Decompressed input bytes read per second.
    pub input_mb_per_s: f64,
    /// Committed records per second.
    pub records_per_s: f64,
    /// Peak RSS of this process, bytes.
    pub peak_rss_bytes: u64,
    /// Stopped early by SIGINT/SIGTERM: what was read is committed; re-run to continue.
    pub interrupted: bool,
    /// The start-up scan (torn tail cut, positions found).
    pub recovery: Recovery,
    /// The pipeline run underneath.
    pub run: RunReport,
}

impl IngestReport {
    /// `records_in - committed - dead_lettered - dropped_dlq_full`: must be 0.
    pub fn unaccounted(&self) -> i64 {
        self.records_in as i64
            - self.committed as i64
            - self.dead_lettered as i64
            - self.dropped_dlq_full as i64
    }
}

/// Ingest `cfg.inputs` into a [`FileSink`] in `cfg.run.sink.dir`. Errors are set-up or sink failures;
/// bad inputs are reported in the result.
pub fn ingest(cfg: &IngestConfig) -> Result<IngestReport, RunError> {
    ingest_with_sink(cfg, None)
}

/// [`ingest`] into a sink the caller opened on `cfg.run.sink.dir` (tests inject faults into it).
pub fn ingest_into(cfg: &IngestConfig, sink: FileSink) -> Result<IngestReport, RunError> {
    ingest_with_sink(cfg, Some(sink))
}

fn ingest_with_sink(cfg: &IngestConfig, sink: Option<FileSink>) -> Result<IngestReport, RunError> {
    if cfg.run.queue.policy != OverflowPolicy::BLOCK {
        return Err(RunError::Config(crate::error::ConfigError {
            field: "queue.policy",
            reason: "ingest reads as fast as the sink takes; only block loses nothing".into(),
        }));
    }
    if cfg.max_record_bytes == 0 || cfg.max_record_bytes > crate::codec::MAX_BATCH_BYTES {
        // A longer record would go alone into a block that start-up could not decode again (a
        // block's frames are capped at twice the batch limit), making acknowledged data unreadable.
        return Err(RunError::Config(crate::error::ConfigError {
            field: "max_record_bytes",
            reason: format!(
                "{} is not in 1..={} (the largest block a record may fill)",
                cfg.max_record_bytes,
                crate::codec::MAX_BATCH_BYTES
            ),
        }));
    }
    if cfg.run.sink.retain_segments.is_some() {
        return Err(RunError::Config(crate::error::ConfigError {
            field: "sink.retain_segments",
            reason: "ingest keeps every segment: the input positions that make a re-run resume live in them, and a reaped segment's positions would make a re-run ingest its inputs again".into(),
        }));
    }
    let dir = cfg.run.sink.dir.clone();
    let storage = &cfg.run.sink.storage;
    storage
        .create_dir_durable(&dir)
        .map_err(|e| RunError::Setup(SysError::new("mkdir", &dir, e)))?;
    // Both directories are this process's until it ends, before the start-up scan reads them.
    let _locks = (
        storage.lock(&dir).map_err(RunError::Setup)?,
        storage.lock(&cfg.run.dlq_dir()).map_err(RunError::Setup)?,
    );
    let recovery = checkpoint::start_up(storage, &dir, "ingest").map_err(RunError::Recovery)?;
    let fs = if storage.simulated() {
        FsInfo {
            magic: 0,
            name: "simulated".into(),
        }
    } else {
        FsInfo::of(&dir).map_err(|e| RunError::Setup(SysError::new("statfs", &dir, e)))?
    };
    let sink = match sink {
        Some(s) => s,
        None => FileSink::open(&cfg.run.sink).map_err(RunError::Setup)?,
    };
    // Dead letters of a batch whose block never became durable are cut (by sequence number): their
    // lines are read again, so no run needs to remember which entries it has seen (memory stays
    // bounded).
    crate::retry::cut_unacknowledged_dead_letters(
        storage,
        &cfg.run.dlq_dir(),
        recovery.dlq_seq,
        "ingest",
    )
    .map_err(RunError::Setup)?;
    let dlq = DeadLetterQueue::open_in(storage, &cfg.run.dlq_dir())
        .map_err(RunError::Setup)?
        .with_limit(cfg.run.dlq_limit)
        .track_seq(recovery.dlq_seq);
    let plans = plan_inputs(
        &cfg.inputs,
        &recovery.positions,
        cfg.max_decompressed_bytes,
        MAX_LAYERS,
    );
    let keys: Vec<String> = plans.iter().map(|p| p.key.clone()).collect();
    let mut tally = Tally::default();
    for c in plans.iter().filter_map(|p| p.change.as_ref()) {
        eprintln!("ingest: {}: {}: {}", c.input, c.change, c.detail);
        tally.changed.push(c.clone());
    }
    let started = Instant::now();
    let sources = Sources {
        keys: keys.clone(),
        dlq: Some(dlq),
        // A renamed input resumes from its old name's position: commit it under the new name now,
        // or a run that reads nothing new of it leaves it known only by a name another file takes.
        carried: plans
            .iter()
            .map(|p| {
                p.change
                    .as_ref()
                    .filter(|c| c.change == "renamed")
                    .map(|_| p.skip_to)
            })
            .collect(),
    };
    let run = run_with_producer(&cfg.run, sink, sources, |ends, _start| {
        read_inputs(cfg, &plans, &mut tally, ends)
    });
    let elapsed_s = started.elapsed().as_secs_f64();
    let mut run = run?;
    run.fs_type = fs.name.clone();
    if let Some(w) = fs.warning(&dir) {
        run.warnings.insert(0, w);
    }
    Ok(IngestReport {
        // Every record the reader handed on was offered to the queue (a stop on sink failure returns
        // the error above instead).
        records_in: run.offered,
        committed: run.committed,
        dead_lettered: run.dead_lettered,
        dropped_dlq_full: run.dropped_by_reason.dlq_full,
        rejected_inputs: tally.rejected.len() as u64,
        rejected: tally.rejected,
        rejected_by_reason: tally.rejected_by_reason,
        changed_inputs: tally.changed,
        blank_lines: tally.blank,
        resumed_lines: tally.resumed,
        batches: run.batches,
        fdatasyncs: run.fdatasyncs,
        dlq_fdatasyncs: run.dlq_fdatasyncs,
        bytes_written: run.bytes_written,
        elapsed_s,
        input_mb_per_s: tally.bytes_in as f64 / 1e6 / elapsed_s.max(1e-9),
        records_per_s: run.committed as f64 / elapsed_s.max(1e-9),
        peak_rss_bytes: crate::host::peak_rss_of_image(),
        interrupted: cfg.run.control.stop_requested(),
        recovery,
        run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_cap_past_the_block_limit_is_refused_before_anything_is_written() {
        // Review finding: --max-record-bytes was never bounded, so one record larger than the
        // decoder's cap was written and acknowledged, and every later start refused the store.
        let dir = crate::testutil::tempdir();
        let input = dir.path().join("in.ndjson");
        std::fs::write(&input, "{\"ts\":1,\"msg\":\"x\"}\n").unwrap();
        for cap in [0, crate::codec::MAX_BATCH_BYTES + 1] {
            let mut cfg = IngestConfig::new(dir.path().join("sink"), vec![input.clone()]);
            cfg.max_record_bytes = cap;
            let e = ingest(&cfg).unwrap_err().to_string();
            assert!(e.contains("max_record_bytes"), "{e}");
            assert!(!dir.path().join("sink").exists(), "nothing written");
        }
        let mut cfg = IngestConfig::new(dir.path().join("sink"), vec![input]);
        cfg.max_record_bytes = crate::codec::MAX_BATCH_BYTES;
        assert_eq!(ingest(&cfg).unwrap().committed, 1);
    }
}
