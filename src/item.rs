//! One item in flight through the pipeline, as the queue holds it and the batcher frames it.

use crate::clock::Nanos;
use crate::codec::control::Position;

/// One item in flight: its payload and when the schedule intended it to be sent.
#[derive(Debug)]
pub struct Item {
    /// Intended send time on the run's clock (what latency is measured from).
    pub intended: Nanos,
    /// The record bytes.
    pub payload: Vec<u8>,
    /// For ingested records: which input and where in it (committed with the block, see
    /// `codec/control.rs`). `None` for synthetic load.
    pub source: Option<SourcePos>,
    /// For an ingested record that failed validation: why. The batcher writes it to the dead-letter
    /// queue instead of the block, and makes the DLQ durable before the next block (whose positions
    /// cover it) — one DLQ fdatasync per batch at most, not one per bad record.
    pub dead: Option<Box<DeadNote>>,
}

impl Item {
    /// What this item holds in memory, for the queue's byte bound: its payload buffer's capacity (a
    /// recycled buffer keeps the capacity of the largest record it held), the item itself, and a dead
    /// letter's reason.
    pub fn weight(&self) -> usize {
        self.payload.capacity()
            + std::mem::size_of::<Item>()
            + self.dead.as_ref().map_or(0, |d| d.reason.capacity())
    }
}

/// Why an ingested record goes to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadNote {
    /// The reason, for the entry.
    pub reason: String,
    /// Only a prefix of the record is in the payload (it broke the record cap).
    pub truncated: bool,
}

/// An ingested record's place in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePos {
    /// Index into the run's input keys.
    pub input: u32,
    /// Position just past the record.
    pub pos: Position,
}
