//! The batcher: drains the queue into the window and the block, and commits each block to the sink.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Live;
use crate::batch::{AimdDriver, AimdPoint, BatchWindow, FlushReason};
use crate::clock::{Clock, MonotonicClock, Nanos};
use crate::codec::control::{encode_control, Position};
use crate::codec::{BlockBuilder, Codec, MAX_RECORD_FRAMING_BYTES};
use crate::config::WindowConfig;
use crate::control::{Control, FLUSH_POLL};
use crate::error::{SinkError, SysError};
use crate::item::{DeadNote, Item};
use crate::metrics::{LatencySummary, Metrics};
use crate::queue::{BoundedQueue, BufferPool, PopStatus};
use crate::retry::{DeadLetter, DeadLetterQueue, DlqPush, RetryStrategy};
use crate::sink::Sink;
use crate::summary::RunReport;

/// How often the batcher hands its figures to the live metrics endpoint (a scrape every few seconds
/// is the norm; building the report costs a few histogram summaries).
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// Acknowledge the spill reads of the first `done` items popped (see [`BoundedQueue::ack_spill`]).
pub(super) fn ack_spill(queue: &BoundedQueue<Item>, done: u64) -> Result<(), SinkError> {
    queue
        .ack_spill(done)
        .map_err(|e| SinkError::Io(SysError::new("save spill position", "spill", e)))
}

/// The batcher: owns the window, the block being built, and the sink.
pub(super) struct Batcher<S: Sink, C: Clock = MonotonicClock> {
    pub(super) window: BatchWindow,
    pub(super) block: BlockBuilder,
    pub(super) clock: C,
    pub(super) sink: S,
    pub(super) intended: Vec<Nanos>,
    pub(super) spent: Vec<Vec<u8>>,
    pub(super) metrics: Metrics,
    pub(super) last_framed: usize,
    pub(super) live: Arc<Live>,
    pub(super) retry: RetryStrategy,
    pub(super) dlq: Option<DeadLetterQueue>,
    pub(super) retry_block: BlockBuilder,
    pub(super) codec: Codec,
    pub(super) aimd: Option<AimdDriver>,
    /// Input keys (ingest) and, per input, the position of its last record in the open block.
    pub(super) inputs: Vec<String>,
    pub(super) touched: Vec<Option<Position>>,
    pub(super) control: Vec<u8>,
    /// Dead letters buffered in the DLQ, not yet durable.
    pub(super) dead_pending: u64,
    /// Where the live metrics endpoint reads the batcher's figures (`None`: no endpoint).
    pub(super) publish: Option<Arc<Mutex<Option<RunReport>>>>,
    /// Where manual flush requests come from.
    pub(super) requests: Control,
    pub(super) started: Nanos,
    pub(super) published_at: Nanos,
}

pub(super) type BatcherOutcome = (
    Metrics,
    crate::sink::SinkCounters,
    LatencySummary,
    Nanos,
    Option<SinkError>,
    Vec<AimdPoint>,
);

impl<S: Sink, C: Clock> Batcher<S, C> {
    pub(super) fn new(cfg: WindowConfig, clock: C, sink: S, live: Arc<Live>) -> Self {
        let started = clock.now();
        Batcher {
            window: BatchWindow::new(cfg),
            block: BlockBuilder::with_capacity(cfg.max_bytes + 64 * 1024),
            clock,
            sink,
            intended: Vec::with_capacity(cfg.max_items),
            spent: Vec::with_capacity(cfg.max_items),
            metrics: Metrics::new(),
            last_framed: 1,
            live,
            retry: RetryStrategy::FailStop,
            dlq: None,
            retry_block: BlockBuilder::with_capacity(0),
            codec: Codec::None,
            aimd: None,
            inputs: Vec::new(),
            touched: Vec::new(),
            control: Vec::new(),
            dead_pending: 0,
            publish: None,
            requests: Control::process(),
            started,
            published_at: 0,
        }
    }

    /// Hand the live endpoint this batcher's figures, at most every [`PUBLISH_EVERY`]: a report
    /// built as the end-of-run one is, so a scrape sees every series the final exposition has.
    fn publish(&mut self, now: Nanos) {
        let Some(slot) = &self.publish else { return };
        if now.saturating_sub(self.published_at) < PUBLISH_EVERY.as_nanos() as Nanos {
            return;
        }
        self.published_at = now;
        let sync = self
            .sink
            .sync_latency_ns()
            .map(LatencySummary::from_ns)
            .unwrap_or_default();
        // Built from the batcher's own metrics in place (no copy of its histograms), with the
        // figures the end of a run fills in from the window and the DLQ put in here.
        let elapsed_s = now.saturating_sub(self.started) as f64 / 1e9;
        let mut r = RunReport::new(&self.metrics, self.sink.counters(), sync, elapsed_s);
        r.flush_reasons = self.window.flush_counts();
        r.dlq_fdatasyncs = self.dlq.as_ref().map_or(0, DeadLetterQueue::syncs);
        r.dlq_evicted = self.dlq.as_ref().map_or(0, DeadLetterQueue::evicted);
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    }

    pub(super) fn run(mut self, queue: &BoundedQueue<Item>, pool: &BufferPool) -> BatcherOutcome {
        let mut staging: Vec<Item> = Vec::with_capacity(self.window.config().max_items);
        let mut flushes_served = self.requests.flushes();
        let spilling = queue.policy().spills();
        let err = loop {
            let mut wait: Option<Instant> =
                self.window.deadline().map(|d| self.clock.instant_at(d));
            if self.window.linger() > FLUSH_POLL {
                // A long linger: wake up now and then to see whether a manual flush was asked for.
                wait = wait.map(|w| w.min(Instant::now() + FLUSH_POLL));
            }
            let status =
                queue.pop_batch(&mut staging, self.window.room().max(1), self.want(), wait);
            let now = self.clock.now();
            self.steer(now);
            if let PopStatus::Items(n) = status {
                Metrics::record(&mut self.metrics.queue_depth, (n + queue.len()) as u64);
            }
            if let Err(e) = self.admit(&mut staging, now, pool) {
                break Some(e);
            }
            if let Some(r) = self.window.due(self.clock.now()) {
                if let Err(e) = self.commit(r, pool) {
                    break Some(e);
                }
            }
            let asked = self.requests.flushes();
            if asked != flushes_served {
                flushes_served = asked;
                if !self.window.is_empty() {
                    if let Err(e) = self.commit(FlushReason::Manual, pool) {
                        break Some(e);
                    }
                }
            }
            if spilling {
                // Everything popped but the open window is committed: a restart may skip it.
                let done = queue.popped_total() - self.window.items() as u64;
                if let Err(e) = ack_spill(queue, done) {
                    break Some(e);
                }
            }
            if status == PopStatus::Closed {
                if let Some(e) = queue.spill_error() {
                    break Some(SinkError::Io(SysError::new(
                        "read spill",
                        "spill",
                        std::io::Error::other(e),
                    )));
                }
                if !self.window.is_empty() {
                    if let Err(e) = self.commit(FlushReason::Shutdown, pool) {
                        break Some(e);
                    }
                }
                if let Err(e) = self.commit_positions_only() {
                    break Some(e);
                }
                if spilling {
                    // The shutdown commits above made everything popped durable: acknowledge it
                    // all, or the next start reads the last spilled batch again (review finding).
                    if let Err(e) = ack_spill(queue, queue.popped_total()) {
                        break Some(e);
                    }
                }
                break None;
            }
        };
        if err.is_some() {
            // Fail-stop: refuse new items, and count everything accepted but not durable as lost to the
            // sink failure (never as committed).
            queue.close();
            let mut lost = self.window.items() as u64 + staging.len() as u64;
            let mut rest = Vec::new();
            while let PopStatus::Items(n) =
                queue.pop_batch(&mut rest, usize::MAX, 1, Some(Instant::now()))
            {
                lost += n as u64;
                rest.clear();
            }
            // The live count too, so the last sample shows them lost, not still in the batcher.
            // Spilled items that could not be read (a spill read failure) are lost to it as well, in
            // the report; a sample still finds them where they are, in the spill file.
            self.live.lost.add(lost);
            lost += queue.spilled_now() as u64;
            // Dead letters not settled by a commit are in the window's count: lost to the failure
            // too, not dead-lettered.
            self.dead_pending = 0;
            self.metrics.rejected_sink_failed += lost;
        }
        self.metrics.flush_reasons = self.window.flush_counts();
        self.metrics.dlq_fdatasyncs = self.dlq.as_ref().map_or(0, DeadLetterQueue::syncs);
        self.metrics.dlq_evicted = self.dlq.as_ref().map_or(0, DeadLetterQueue::evicted);
        // The run ends here: summarising its fdatasyncs is not part of it.
        let end = self.clock.now();
        let sync = self
            .metrics
            .summarise_distributions(self.sink.sync_latency_ns());
        let trace = self.aimd.map(AimdDriver::into_trace).unwrap_or_default();
        (self.metrics, self.sink.counters(), sync, end, err, trace)
    }

    /// With AIMD: at each control interval, move the linger (it applies to the open batch at once,
    /// since the deadline is computed from the first item's arrival and the linger in force).
    pub(super) fn steer(&mut self, now: Nanos) {
        if let Some(linger) = self.aimd.as_mut().and_then(|a| a.tick(now)) {
            self.window.set_config(WindowConfig {
                linger,
                ..self.window.config()
            });
        }
    }

    /// Items the open batch can still take, by count and by bytes at the last item's size (at least 1).
    /// The batcher pops no more than this: an item popped but left over after a flush would open the
    /// next batch *before* the flush's fdatasync, and its linger would expire while it waited.
    pub(super) fn fits(&self) -> usize {
        let cfg = self.window.config();
        let by_bytes = cfg.max_bytes.saturating_sub(self.window.bytes()) / self.last_framed.max(1);
        self.window.room().min(by_bytes).max(1)
    }

    /// Items worth waking up for: with a batch open, what would fill it; with none open, the first item
    /// (it starts the linger clock).
    pub(super) fn want(&self) -> usize {
        if self.window.is_empty() {
            1
        } else {
            self.fits()
        }
    }

    /// Move staged items into the window and block, committing whenever a size bound is hit.
    pub(super) fn admit(
        &mut self,
        staging: &mut Vec<Item>,
        now: Nanos,
        pool: &BufferPool,
    ) -> Result<(), SinkError> {
        let mut items = staging.drain(..);
        while let Some(mut item) = items.next() {
            // An upper bound (the layout decides: 1 byte, or a varint of up to 5), so the block never
            // passes the window's bytes.
            let framed = item.payload.len() + MAX_RECORD_FRAMING_BYTES;
            self.last_framed = framed;
            if let Some(r) = self.window.must_flush_before(framed) {
                if let Err(e) = self.commit(r, pool) {
                    // Put the unadmitted items back in `staging` so they are counted as lost.
                    let rest: Vec<Item> = std::iter::once(item).chain(items).collect();
                    staging.extend(rest);
                    return Err(e);
                }
            }
            if let Some(note) = item.dead.take() {
                // A dead letter takes its place in the window like a record: it is made durable
                // (and its position committed) within the same size and linger bounds, so a file of
                // nothing but invalid records is bounded in memory and resumable mid-way.
                if !self.dead_letter_note(item, *note, pool) {
                    continue;
                }
            } else {
                self.block.push(&item.payload);
                if let Some(s) = item.source {
                    self.touched[s.input as usize] = Some(s.pos);
                }
                self.intended.push(item.intended);
                self.spent.push(item.payload);
            }
            if let Some(r) = self.window.push(framed, now) {
                if let Err(e) = self.commit(r, pool) {
                    let rest: Vec<Item> = items.collect();
                    staging.extend(rest);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// An ingested record that failed validation: into the DLQ's buffer, its position noted. `true`
    /// when it is buffered for the DLQ (it then counts in the window until the next commit makes it
    /// durable); `false` when a full DLQ refused it (dropped and counted now; its buffer is recycled
    /// at once).
    pub(super) fn dead_letter_note(
        &mut self,
        item: Item,
        note: DeadNote,
        pool: &BufferPool,
    ) -> bool {
        let (source, line) = match item.source {
            Some(s) => {
                self.touched[s.input as usize] = Some(s.pos);
                (
                    format!("{}:{}", self.inputs[s.input as usize], s.pos.line),
                    s.pos.line,
                )
            }
            None => ("unknown".to_string(), 0),
        };
        let dlq = self
            .dlq
            .as_mut()
            .expect("a producer of dead letters runs with a dead-letter queue");
        let entry = DeadLetter {
            id: line,
            reason: note.reason,
            source,
            attempts: 1,
            truncated: note.truncated,
            ..DeadLetter::default()
        };
        // A re-run after a crash may meet a record whose entry is already durable: counted, not
        // written twice (the DLQ de-duplicates by source).
        let kept = match dlq.push(&entry.with_payload(&item.payload, usize::MAX)) {
            DlqPush::Written | DlqPush::Duplicate => {
                self.dead_pending += 1;
                true
            }
            DlqPush::Refused => {
                self.metrics.dropped_dlq_full += 1;
                self.live.dropped_dlq_full.add(1);
                false
            }
        };
        if kept {
            self.spent.push(item.payload);
        } else {
            pool.give_back(&mut vec![item.payload]);
        }
        kept
    }

    /// Make buffered dead letters durable, before the block that commits their positions. They are
    /// counted as dead-lettered only once that block is durable too ([`Batcher::dead_letters_settled`]):
    /// a start-up cuts DLQ entries whose block never made it, and reads their lines again.
    pub(super) fn sync_dead_letters(&mut self) -> Result<(), SinkError> {
        if self.dead_pending == 0 {
            return Ok(());
        }
        match self.dlq.as_mut() {
            Some(dlq) => dlq.sync().map_err(SinkError::Io),
            None => Ok(()),
        }
    }

    /// The block covering the pending dead letters' positions was committed (`ok`) or failed: count
    /// them as dead-lettered, or as lost to the failure.
    pub(super) fn dead_letters_settled(&mut self, ok: bool) {
        let n = std::mem::take(&mut self.dead_pending);
        if ok {
            self.metrics.dead_lettered += n;
            self.live.dead_lettered.add(n);
        } else {
            self.metrics.rejected_sink_failed += n;
            self.live.lost.add(n);
        }
    }

    /// At shutdown with no open batch: commit the positions of trailing dead letters in a block of its
    /// own, so a re-run does not read them again.
    pub(super) fn commit_positions_only(&mut self) -> Result<(), SinkError> {
        self.sync_dead_letters()?;
        if self.touched.iter().all(Option::is_none) {
            self.dead_letters_settled(true);
            return Ok(());
        }
        self.block.reset();
        self.push_positions();
        let r = self.sink.commit(self.block.seal(), 0);
        self.block.reset();
        self.dead_letters_settled(r.is_ok());
        r
    }

    pub(super) fn commit(
        &mut self,
        reason: FlushReason,
        pool: &BufferPool,
    ) -> Result<(), SinkError> {
        // Dead letters whose positions this block covers must be durable first.
        self.sync_dead_letters()?;
        let records = self.block.records();
        self.push_positions();
        let flushed_at = self.clock.now();
        let flushed = self.window.flush(reason, flushed_at);
        let sealed = self.block.seal_with(self.codec).map_err(|e| {
            SinkError::Io(SysError::new(
                "compress",
                format!("batch {}", self.metrics.batches),
                e,
            ))
        });
        let (started, mut bytes) = (self.clock.now(), 0);
        let outcome = sealed.and_then(|b| {
            bytes = b.len();
            self.sink.commit(b, records)
        });
        let done = self.clock.now();
        if let Some(a) = self.aimd.as_mut() {
            a.record_commit(done.saturating_sub(started));
        }
        let result = match outcome {
            Ok(()) => {
                // The fdatasync first, then the items it made durable: a sample never sees items
                // committed without their fdatasync.
                self.live.fdatasyncs.set(self.sink.counters().fdatasyncs);
                self.committed(0..records as usize);
                Ok(())
            }
            Err(SinkError::Rejected { reason }) if self.retry != RetryStrategy::FailStop => {
                self.recover(&reason)
            }
            Err(e) => Err(e),
        };
        self.block.reset();
        pool.give_back(&mut self.spent);
        self.intended.clear();
        if result.is_err() {
            // Nothing of this batch's records is reported committed past what `committed` and
            // `dead_letter` counted.
            let accounted = self.metrics.committed_in_batch + self.metrics.dead_in_batch;
            self.metrics.rejected_sink_failed += records as u64 - accounted;
            self.live.lost.add(records as u64 - accounted);
        }
        self.dead_letters_settled(result.is_ok());
        self.metrics.committed_in_batch = 0;
        self.metrics.dead_in_batch = 0;
        if result.is_ok() {
            self.metrics.batches += 1;
            Metrics::record(&mut self.metrics.batch_items, flushed.items as u64);
            Metrics::record(&mut self.metrics.batch_wait_ns, flushed.age);
            Metrics::record(&mut self.metrics.commit_ns, done.saturating_sub(flushed_at));
            self.metrics
                .sink_commit_by_size
                .record(bytes, done.saturating_sub(started));
            // After the batch is wholly counted, so a scrape sees its batches with its items.
            self.publish(self.clock.now());
        }
        result
    }

    /// Ingest: end the block with a control record of the inputs' positions, so they are committed
    /// with the records (one write, one fdatasync, one CRC).
    pub(super) fn push_positions(&mut self) {
        if self.touched.iter().all(Option::is_none) {
            return;
        }
        let ps: Vec<(&str, Position)> = self
            .inputs
            .iter()
            .zip(&self.touched)
            .filter_map(|(k, p)| p.map(|p| (k.as_str(), p)))
            .collect();
        let dlq_seq = self.dlq.as_ref().map_or(0, DeadLetterQueue::last_seq);
        encode_control(&ps, dlq_seq, &mut self.control);
        self.block.push(&self.control);
        self.touched.iter_mut().for_each(|p| *p = None);
    }

    /// Records `range` of the current batch as durable now.
    pub(super) fn committed(&mut self, range: std::ops::Range<usize>) {
        let done = self.clock.now();
        for &t in &self.intended[range.clone()] {
            Metrics::record(&mut self.metrics.latency_ns, done.saturating_sub(t));
            if let Some(a) = self.aimd.as_mut() {
                a.record_latency(done.saturating_sub(t));
            }
        }
        let n = range.len() as u64;
        self.metrics.committed += n;
        self.metrics.committed_in_batch += n;
        self.live.committed.add(n);
    }
}

#[cfg(test)]
mod tests;
