//! The batch window: the pure decision of *when* to flush.

mod aimd;
pub mod lower_bound;
mod window;

pub use aimd::{
    aimd_step, AimdConfig, AimdDriver, AimdMove, AimdObservation, AimdPoint, AimdState,
};
pub use window::{BatchWindow, FlushReason, FlushedBatch, WindowConfig};
