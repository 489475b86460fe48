//! A sink that validates every record before committing a batch, and rejects the *whole* batch if any
//! record is invalid — the behaviour of a downstream bulk API (one bad document fails the request). It
//! says why, but not which record: finding that is the client's job (split-and-retry).

use super::{Sink, SinkCounters};
use crate::codec::BlockReader;
use crate::error::SinkError;

/// Checks one record; `Err` says why it is invalid.
pub type RecordCheck = fn(&[u8]) -> Result<(), String>;

/// The schema used by the poison check: a record must be valid UTF-8.
pub fn utf8_record(payload: &[u8]) -> Result<(), String> {
    std::str::from_utf8(payload).map(|_| ()).map_err(|e| {
        format!(
            "record is not valid UTF-8 (bad byte at offset {})",
            e.valid_up_to()
        )
    })
}

/// Wraps a sink with whole-batch validation.
pub struct ValidatingSink<S: Sink> {
    inner: S,
    validate: RecordCheck,
    rejected_batches: u64,
}

impl<S: Sink> ValidatingSink<S> {
    /// Validate each record with `validate` before passing a batch to `inner`.
    pub fn new(inner: S, validate: RecordCheck) -> Self {
        ValidatingSink {
            inner,
            validate,
            rejected_batches: 0,
        }
    }

    /// Batches refused so far.
    pub fn rejected_batches(&self) -> u64 {
        self.rejected_batches
    }
}

impl<S: Sink> Sink for ValidatingSink<S> {
    fn commit(&mut self, block: &[u8], records: u32) -> Result<(), SinkError> {
        let malformed = |e: crate::error::FrameError| SinkError::Rejected {
            reason: format!("malformed block: {e}"),
        };
        for view in BlockReader::new(block) {
            let view = view.map_err(malformed)?;
            for r in view.records() {
                if let Err(why) = (self.validate)(r.map_err(malformed)?) {
                    self.rejected_batches += 1;
                    return Err(SinkError::Rejected { reason: why });
                }
            }
        }
        self.inner.commit(block, records)
    }

    fn counters(&self) -> SinkCounters {
        self.inner.counters()
    }

    fn sync_latency_ns(&self) -> Option<&hdrhistogram::Histogram<u64>> {
        self.inner.sync_latency_ns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::BlockBuilder;
    use crate::sink::NullSink;

    #[test]
    fn one_invalid_record_rejects_the_whole_batch_and_nothing_reaches_the_inner_sink() {
        let mut s = ValidatingSink::new(NullSink::new(), utf8_record);
        let mut b = BlockBuilder::with_capacity(64);
        b.push(b"good");
        b.push(&[b'o', b'k', 0xFF]);
        let e = s.commit(b.seal(), 2).unwrap_err();
        assert!(
            matches!(&e, SinkError::Rejected { reason } if reason.contains("UTF-8")),
            "{e}"
        );
        assert_eq!(s.counters().records, 0);
        b.reset();
        b.push(b"good");
        s.commit(b.seal(), 1).unwrap();
        assert_eq!((s.counters().records, s.rejected_batches()), (1, 1));
    }
}
