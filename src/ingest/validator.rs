//! Stage 2: validate each line against the schema and push it to the queue, marked dead when it is
//! invalid.

use super::reader::{Chunk, LineMeta};
use super::{IngestConfig, STAMP_EVERY};
use crate::clock::{Clock, Nanos};
use crate::item::{DeadNote, Item, SourcePos};
use crate::pipeline::{Ends, GenOutcome};
use crate::queue::PushOutcome;
use std::sync::atomic::{AtomicBool, Ordering};

/// Stage 2: validate each record and push it (marked dead when invalid) to the queue.
pub(super) struct Validator<'a> {
    pub(super) cfg: &'a IngestConfig,
    pub(super) ends: Ends<'a>,
    pub(super) stop: &'a AtomicBool,
    pub(super) out: GenOutcome,
    /// Recycled payload buffers taken from the pool in bulk.
    pub(super) bufs: Vec<Vec<u8>>,
    pub(super) now: Nanos,
}

impl<'a> Validator<'a> {
    pub(super) fn new(cfg: &'a IngestConfig, ends: Ends<'a>, stop: &'a AtomicBool) -> Self {
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
    pub(super) fn take(&mut self, chunk: &Chunk) -> bool {
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
    pub(super) fn one(&mut self, input: u32, bytes: &[u8], meta: &LineMeta) -> bool {
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
                ends.live.refused_closed(&mut self.out.rejected_closed);
                self.stop.store(true, Ordering::Relaxed);
                return false;
            }
        }
        true
    }
}
