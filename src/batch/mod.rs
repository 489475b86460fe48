//! The batch window: the pure decision of *when* to flush.

mod window;

pub use window::{BatchWindow, FlushReason, FlushedBatch};
