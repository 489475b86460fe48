//! Retry execution: what the batcher does when the sink rejects a block for its content (the plan
//! is `retry::SplitPlan`, pure).

use super::Batcher;
use crate::clock::Clock;
use crate::codec::BlockReader;
use crate::error::{SinkError, SysError};
use crate::payload::parse_id;
use crate::retry::{DeadLetter, DlqPush, RetryStrategy, SplitPlan, SplitStep};
use crate::sink::Sink;

impl<S: Sink, C: Clock> Batcher<S, C> {
    /// The sink rejected the sealed batch for its content: apply the retry strategy.
    pub(super) fn recover(&mut self, first_reason: &str) -> Result<(), SinkError> {
        let sealed = self.block.seal().to_vec();
        let view = BlockReader::new(&sealed)
            .next()
            .and_then(Result::ok)
            .expect("a block we built ourselves parses");
        let records: Vec<&[u8]> = view
            .records()
            .map(|r| r.expect("a block we built ourselves parses"))
            .collect();
        let mut dead = Vec::new();
        match self.retry {
            RetryStrategy::FailStop => unreachable!("fail-stop does not recover"),
            RetryStrategy::SplitAndRetry => {
                let mut plan = SplitPlan::after_rejected_batch(records.len());
                while let Some(r) = plan.next_range() {
                    self.retry_block.reset();
                    for rec in &records[r.clone()] {
                        self.retry_block.push(rec);
                    }
                    self.metrics.retry_attempts += 1;
                    let sub = self
                        .retry_block
                        .seal_with(self.codec)
                        .map_err(|e| SinkError::Io(SysError::new("compress", "retry batch", e)))?;
                    match self.sink.commit(sub, r.len() as u32) {
                        Ok(()) => {
                            plan.accepted();
                            self.committed(r);
                        }
                        Err(SinkError::Rejected { reason }) => {
                            if let SplitStep::Isolated { index, attempts } = plan.rejected() {
                                dead.push((index, attempts, reason));
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            RetryStrategy::AbortWholeBatch { retries, backoff } => {
                let mut reason = first_reason.to_string();
                let sealed = self
                    .block
                    .seal_with(self.codec)
                    .map_err(|e| SinkError::Io(SysError::new("compress", "retry batch", e)))?
                    .to_vec();
                for k in 0..retries {
                    std::thread::sleep(backoff * 2u32.saturating_pow(k));
                    self.metrics.retry_attempts += 1;
                    match self.sink.commit(&sealed, records.len() as u32) {
                        Ok(()) => {
                            self.committed(0..records.len());
                            return Ok(());
                        }
                        Err(SinkError::Rejected { reason: r }) => reason = r,
                        Err(e) => return Err(e),
                    }
                }
                let why = format!("batch rejected {} times, aborted: {reason}", retries + 1);
                dead.extend((0..records.len()).map(|i| (i, retries + 1, why.clone())));
            }
        }
        self.dead_letter(&records, &dead)
    }

    /// Write `(index, attempts, reason)` entries of the current batch to the DLQ, durably.
    pub(super) fn dead_letter(
        &mut self,
        records: &[&[u8]],
        dead: &[(usize, u32, String)],
    ) -> Result<(), SinkError> {
        if dead.is_empty() {
            return Ok(());
        }
        let dlq = self
            .dlq
            .as_mut()
            .expect("a retry strategy has a dead-letter queue");
        let mut refused = 0u64;
        for (index, attempts, reason) in dead {
            let rec = records[*index];
            let id = parse_id(rec);
            let pushed = dlq.push(
                &DeadLetter {
                    id: id.unwrap_or(u64::MAX),
                    reason: reason.clone(),
                    source: match id {
                        Some(id) => format!("generator seq {id}"),
                        None => format!("batch {} record {index}", self.metrics.batches),
                    },
                    attempts: *attempts,
                    ..DeadLetter::default()
                }
                .with_payload(rec, usize::MAX),
            );
            if pushed == DlqPush::Refused {
                refused += 1;
            }
        }
        dlq.sync().map_err(SinkError::Io)?;
        let n = dead.len() as u64;
        // Refused by a full DLQ: dropped (by reason dlq_full), still accounted for in this batch.
        self.metrics.dead_lettered += n - refused;
        self.metrics.dropped_dlq_full += refused;
        self.metrics.dead_in_batch += n;
        self.live.dead_lettered.add(n - refused);
        self.live.dropped_dlq_full.add(refused);
        Ok(())
    }
}
