//! Stage 1: read the inputs line by line (decompressed, each line capped) and hand the lines on in
//! chunks, with their positions.

use super::validator::Validator;
use super::{input, IngestConfig, InputChange, InputPlan, RejectedInput, MAX_LAYERS};
use crate::codec::control::Position;
use crate::codec::{read_record, CappedDecoder, DecompressError};
use crate::pipeline::{Ends, GenOutcome};
use std::io::BufReader;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub(super) struct Tally {
    pub(super) blank: u64,
    pub(super) resumed: u64,
    pub(super) bytes_in: u64,
    pub(super) rejected: Vec<RejectedInput>,
    pub(super) rejected_by_reason: std::collections::BTreeMap<&'static str, u64>,
    pub(super) changed: Vec<InputChange>,
}

/// Lines handed from the reader to the validator at once.
pub(super) const CHUNK_LINES: usize = 1024;

/// A run of consecutive lines of one input, read but not yet validated.
pub(super) struct Chunk {
    pub(super) input: u32,
    /// The lines' bytes, back to back.
    pub(super) data: Vec<u8>,
    pub(super) lines: Vec<LineMeta>,
}

pub(super) struct LineMeta {
    /// End of this line in `data` (it starts where the previous one ended).
    pub(super) end: usize,
    pub(super) pos: Position,
    /// Set when the line broke the record cap (its bytes were not kept).
    pub(super) too_long: Option<u64>,
}

impl Chunk {
    /// An empty chunk (its input is set with its first line).
    pub(super) fn new() -> Self {
        Chunk {
            input: 0,
            data: Vec::with_capacity(CHUNK_LINES * 128),
            lines: Vec::with_capacity(CHUNK_LINES),
        }
    }

    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.lines.clear();
    }
}

/// The producer: this thread decompresses and splits lines into chunks; a [`Validator`] checks each
/// record against the schema and pushes it to the queue (marked dead when invalid) — on this same
/// thread, or on a second one when `cfg.validator_thread` is set (see [`IngestConfig`]).
pub(super) fn read_inputs(
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
pub(super) enum Handoff<'a> {
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
    pub(super) fn line(
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
    pub(super) fn flush(&mut self, stop: &AtomicBool) -> bool {
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
pub(super) fn split_lines(
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
        let raw = match input::open_input(plan, &cfg.run.control) {
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
                if cfg.run.control.stop_requested() {
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
                    if handoff.flush(stop) || cfg.run.control.stop_requested() {
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
            if plan.resumable && cfg.run.control.stop_requested() {
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

/// The decompression error's own message when there is one, else the I/O error's.
/// The rejection reason (a counter label) and message.
pub(super) fn io_reason(e: &std::io::Error) -> (&'static str, String) {
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
