//! A sink that makes no syscalls: it measures the pipeline's own overhead (queue + window + framing).

use super::{Sink, SinkCounters};
use crate::error::SinkError;

/// Accepts every block instantly and counts it; nothing is written anywhere.
#[derive(Debug, Default)]
pub struct NullSink {
    counters: SinkCounters,
}

impl NullSink {
    /// A fresh null sink.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Sink for NullSink {
    fn commit(&mut self, block: &[u8], records: u32) -> Result<(), SinkError> {
        // Keep the optimiser from skipping the work that produced `block`.
        std::hint::black_box(block);
        self.counters.blocks += 1;
        self.counters.records += records as u64;
        Ok(())
    }

    fn counters(&self) -> SinkCounters {
        self.counters
    }
}
