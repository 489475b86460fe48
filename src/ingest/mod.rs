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
mod scan;
mod schema;
mod testdata;

pub use checkpoint::{recover, scan, scan_in, segments, segments_in, start_up, Recovery, TornTail};
pub use field::rfc3339;
pub use input::{input_key, plan_inputs, InputChange, InputPlan};
pub use schema::{Invalid, Schema};
pub use testdata::{record_id, write_ndjson, LineKind, Mix};

use std::io::BufReader;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::clock::{Clock, Nanos};
use crate::codec::control::Position;
use crate::codec::{read_record, CappedDecoder, DecompressError};
use crate::config::RunConfig;
use crate::error::SysError;
use crate::item::{DeadNote, Item, SourcePos};
use crate::pipeline::{run_with_producer, Ends, GenOutcome, Sources};
use crate::queue::{OverflowPolicy, PushOutcome};
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
    /// the reader's thread (two threads). Off by default: with the scan validator (~80 ns a record)
    /// the reader keeps up alone, and on two cores a third busy thread takes CPU from the batcher,
    /// which is the bottleneck (measured on a 4 M-record file: 3.4–3.5 M records/s with the thread,
    /// 4.0–4.5 M without). It pays when validation is much dearer than reading.
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

/// DESIGN.md §3's `ingest` JSON, plus what recovery found.
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
    if cfg.run.queue.policy != OverflowPolicy::Block || cfg.run.queue.block_timeout.is_some() {
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
        interrupted: crate::signals::shutdown_requested(),
        recovery,
        run,
    })
}

#[derive(Default)]
struct Tally {
    blank: u64,
    resumed: u64,
    bytes_in: u64,
    rejected: Vec<RejectedInput>,
    rejected_by_reason: std::collections::BTreeMap<&'static str, u64>,
    changed: Vec<InputChange>,
}

/// Lines handed from the reader to the validator at once.
const CHUNK_LINES: usize = 1024;

/// A run of consecutive lines of one input, read but not yet validated.
struct Chunk {
    input: u32,
    /// The lines' bytes, back to back.
    data: Vec<u8>,
    lines: Vec<LineMeta>,
}

struct LineMeta {
    /// End of this line in `data` (it starts where the previous one ended).
    end: usize,
    pos: Position,
    /// Set when the line broke the record cap (its bytes were not kept).
    too_long: Option<u64>,
}

impl Chunk {
    /// An empty chunk (its input is set with its first line).
    fn new() -> Self {
        Chunk {
            input: 0,
            data: Vec::with_capacity(CHUNK_LINES * 128),
            lines: Vec::with_capacity(CHUNK_LINES),
        }
    }

    fn clear(&mut self) {
        self.data.clear();
        self.lines.clear();
    }
}

/// The producer: this thread decompresses and splits lines into chunks; a [`Validator`] checks each
/// record against the schema and pushes it to the queue (marked dead when invalid) — on this same
/// thread, or on a second one when `cfg.validator_thread` is set (see [`IngestConfig`]).
fn read_inputs(
    cfg: &IngestConfig,
    plans: &[InputPlan],
    t: &mut Tally,
    ends: Ends<'_>,
) -> GenOutcome {
    let stop = AtomicBool::new(false);
    if !cfg.validator_thread {
        let mut h = Handoff::Inline(Validator::new(cfg, ends, &stop));
        split_lines(cfg, plans, t, &mut h, &stop);
        return match h {
            Handoff::Inline(v) => v.out,
            Handoff::Thread { .. } => unreachable!("built inline above"),
        };
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(4);
        let (back_tx, back) = std::sync::mpsc::sync_channel::<Chunk>(8);
        let stop = &stop;
        let validator = std::thread::Builder::new()
            .name("ingest-validate".into())
            .spawn_scoped(scope, move || {
                let mut v = Validator::new(cfg, ends, stop);
                for mut chunk in rx {
                    if !v.take(&chunk) {
                        break;
                    }
                    chunk.clear();
                    // The reader reuses it (or, if it has enough, it is freed here).
                    let _ = back_tx.try_send(chunk);
                }
                v.out
            })
            .expect("spawn validator thread");
        let mut h = Handoff::Thread {
            chunk: Chunk::new(),
            tx,
            back,
        };
        split_lines(cfg, plans, t, &mut h, stop);
        drop(h);
        validator.join().expect("validator thread panicked")
    })
}

/// Where the reader's lines go.
enum Handoff<'a> {
    /// Validated and pushed on the reader's thread, straight from the read buffer.
    Inline(Validator<'a>),
    /// Gathered into `chunk` for the validator thread; emptied chunks come back on `back` for reuse.
    Thread {
        chunk: Chunk,
        tx: std::sync::mpsc::SyncSender<Chunk>,
        back: std::sync::mpsc::Receiver<Chunk>,
    },
}

impl Handoff<'_> {
    /// One line of input `input`: validated and pushed now (inline), or added to the chunk and the
    /// chunk handed over when full. `true` means stop reading.
    fn line(
        &mut self,
        input: u32,
        bytes: &[u8],
        pos: Position,
        too_long: Option<u64>,
        stop: &AtomicBool,
    ) -> bool {
        match self {
            Handoff::Inline(v) => {
                let meta = LineMeta {
                    end: bytes.len(),
                    pos,
                    too_long,
                };
                !v.one(input, bytes, &meta)
            }
            Handoff::Thread { chunk, .. } => {
                // A chunk holds lines of one input: `flush` empties it at the end of each.
                chunk.input = input;
                chunk.data.extend_from_slice(bytes);
                chunk.lines.push(LineMeta {
                    end: chunk.data.len(),
                    pos,
                    too_long,
                });
                chunk.lines.len() == CHUNK_LINES && self.flush(stop)
            }
        }
    }

    /// Hand over the lines gathered so far (none inline); `true` means stop reading (the batcher or
    /// the validator has stopped).
    fn flush(&mut self, stop: &AtomicBool) -> bool {
        match self {
            Handoff::Inline(_) => false,
            Handoff::Thread { chunk, tx, back } => {
                if chunk.lines.is_empty() {
                    return false;
                }
                let next = back.try_recv().unwrap_or_else(|_| Chunk::new());
                let full = std::mem::replace(chunk, next);
                stop.load(Ordering::Relaxed) || tx.send(full).is_err()
            }
        }
    }
}

/// Stage 1: every input in order, line by line to the handoff.
fn split_lines(
    cfg: &IngestConfig,
    plans: &[InputPlan],
    t: &mut Tally,
    handoff: &mut Handoff<'_>,
    stop: &AtomicBool,
) {
    let mut line_buf = Vec::new();
    'inputs: for (i, plan) in plans.iter().enumerate() {
        if !plan.read {
            continue;
        }
        let name = plan.path.display().to_string();
        let skip_to = plan.skip_to.line;
        let reject = |t: &mut Tally, line: u64, (reason, error): (&'static str, String)| {
            eprintln!("ingest: {name}: rejected after line {line}: {error}");
            *t.rejected_by_reason.entry(reason).or_default() += 1;
            t.rejected.push(RejectedInput {
                input: name.clone(),
                after_line: line,
                reason,
                error,
            });
        };
        let raw = match input::open_input(plan) {
            Ok(r) => r,
            Err(e) => {
                reject(t, 0, ("unreadable", format!("cannot open: {e}")));
                continue;
            }
        };
        let mut r = match CappedDecoder::new(raw, &name, cfg.max_decompressed_bytes, MAX_LAYERS) {
            Ok(d) => BufReader::with_capacity(
                64 << 10,
                d.uncapped_if_plain().with_max_ratio(cfg.max_ratio),
            ),
            Err(e) => {
                if crate::signals::shutdown_requested() {
                    break 'inputs;
                }
                reject(t, 0, io_reason(&e));
                continue;
            }
        };
        let (mut line, mut offset) = (0u64, 0u64);
        loop {
            let got = match read_record(&mut r, cfg.max_record_bytes, &mut line_buf) {
                Ok(g) => g,
                Err(e) => {
                    // What was read before the failure is still handed on (and committed).
                    if handoff.flush(stop) || crate::signals::shutdown_requested() {
                        break 'inputs;
                    }
                    reject(t, line, io_reason(&e));
                    continue 'inputs;
                }
            };
            let (len, too_long) = match got {
                Ok(false) => break,
                Ok(true) => {
                    if line_buf.last() == Some(&b'\r') {
                        line_buf.pop();
                        offset += 1;
                    }
                    (line_buf.len() as u64, None)
                }
                Err(skipped) => (skipped, Some(skipped)),
            };
            if plan.resumable && crate::signals::shutdown_requested() {
                // Stop taking input; what was read is still handed on and committed, and a re-run
                // reads this file on from its committed position. (A stream cannot be read again:
                // its lines already read, this one and those buffered, are handed on until its
                // reader reports the shutdown at the next read that would wait.)
                handoff.flush(stop);
                break 'inputs;
            }
            line += 1;
            // Past the line and its newline — except an unterminated last line, which ends where
            // the input does (the decoder has handed out every byte by then).
            offset = (offset + len + 1).min(r.get_ref().seen());
            t.bytes_in += len + 1;
            if line <= skip_to {
                t.resumed += 1;
                continue;
            }
            if too_long.is_none() && line_buf.iter().all(u8::is_ascii_whitespace) {
                t.blank += 1;
                continue;
            }
            let pos = plan.position(line, offset);
            if handoff.line(i as u32, &line_buf, pos, too_long, stop) {
                break 'inputs;
            }
        }
        if line < skip_to {
            let c = InputChange {
                input: name.clone(),
                change: "truncated",
                detail: format!(
                    "ends at line {line}, before its committed line {skip_to}: nothing of it read again"
                ),
            };
            eprintln!("ingest: {}: {}: {}", c.input, c.change, c.detail);
            t.changed.push(c);
        }
        if handoff.flush(stop) {
            break;
        }
    }
}

/// Stage 2: validate each record and push it (marked dead when invalid) to the queue.
struct Validator<'a> {
    cfg: &'a IngestConfig,
    ends: Ends<'a>,
    stop: &'a AtomicBool,
    out: GenOutcome,
    /// Recycled payload buffers taken from the pool in bulk.
    bufs: Vec<Vec<u8>>,
    now: Nanos,
}

impl<'a> Validator<'a> {
    fn new(cfg: &'a IngestConfig, ends: Ends<'a>, stop: &'a AtomicBool) -> Self {
        let now = ends.clock.now();
        Validator {
            cfg,
            ends,
            stop,
            out: GenOutcome::default(),
            bufs: Vec::new(),
            now,
        }
    }

    /// Validate and push one chunk's records; `false` once the batcher has stopped.
    fn take(&mut self, chunk: &Chunk) -> bool {
        let mut start = 0;
        for meta in &chunk.lines {
            let bytes = &chunk.data[start..meta.end];
            start = meta.end;
            if !self.one(chunk.input, bytes, meta) {
                return false;
            }
        }
        true
    }

    /// Validate and push one record; `false` once the batcher has stopped.
    fn one(&mut self, input: u32, bytes: &[u8], meta: &LineMeta) -> bool {
        let (cfg, ends) = (self.cfg, &self.ends);
        let invalid = match meta.too_long {
            Some(n) => Some(format!(
                "record of {n} bytes exceeds --max-record-bytes {}",
                cfg.max_record_bytes
            )),
            None => cfg
                .schema
                .validate(bytes)
                .err()
                .map(|e| format!("schema {}: {e}", cfg.schema.as_str())),
        };
        // An invalid record travels to the batcher too, marked dead: it writes the DLQ entry and
        // makes it durable before the block whose position covers it. An over-long line was not
        // kept (no bytes): its entry says so and is never re-driven; any other record is kept
        // whole so that a re-drive can commit it exactly.
        let dead = invalid.map(|reason| {
            Box::new(DeadNote {
                reason,
                truncated: meta.too_long.is_some(),
            })
        });
        if self.bufs.is_empty() {
            ends.pool.take_into(&mut self.bufs, 256);
        }
        // Latency is stamped when the record is handed to the queue. Reading the clock costs
        // ~20 ns, a sixth of the per-record budget, so it is read every STAMP_EVERY records: a
        // stamp is then up to that many records early, which can only over-state latency.
        if self.out.offered.is_multiple_of(STAMP_EVERY) {
            self.now = ends.clock.now();
        }
        let mut buf = self.bufs.pop().unwrap_or_default();
        buf.extend_from_slice(bytes);
        self.out.offered += 1;
        ends.live.offered.add(1);
        let item = Item {
            intended: self.now,
            payload: buf,
            source: Some(SourcePos {
                input,
                pos: meta.pos,
            }),
            dead,
        };
        match ends.queue.push(item) {
            Ok(PushOutcome::Accepted) => {}
            Ok(_) => unreachable!("block never drops, evicts or spills"),
            Err(_) => {
                // The batcher stopped (sink failure): this record is not committed; stop reading.
                self.out.rejected_closed += 1;
                self.stop.store(true, Ordering::Relaxed);
                return false;
            }
        }
        true
    }
}

/// The decompression error's own message when there is one, else the I/O error's.
/// The rejection reason (a counter label) and message.
fn io_reason(e: &std::io::Error) -> (&'static str, String) {
    match DecompressError::from_io(e) {
        Some(d) => (
            match d {
                DecompressError::CapExceeded { .. } => "decompressed_cap",
                DecompressError::RatioExceeded { .. } => "ratio_cap",
                DecompressError::TooManyLayers { .. } => "too_many_layers",
                DecompressError::Corrupt { layers, .. } if layers.is_empty() => "unreadable",
                DecompressError::Corrupt { .. } => "corrupt",
            },
            d.to_string(),
        ),
        None => ("unreadable", e.to_string()),
    }
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
