//! The batch window: the pure decision of *when* to flush.

mod aimd;
pub mod lower_bound;
mod window;

pub use aimd::{
    aimd_step, AimdConfig, AimdDriver, AimdMove, AimdObservation, AimdPoint, AimdState,
};
pub(crate) use window::FlushReason;
pub use window::{BatchWindow, FlushedBatch, WindowConfig};
