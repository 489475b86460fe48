//! What to do when a downstream rejects a batch because of what is *in* it (a poison record), as
//! opposed to failing to store it (an I/O error, which is fail-stop): isolate the bad records by
//! split-and-retry and dead-letter them, or — the baseline that shows why not — retry the whole batch.

mod cut;
mod dead_letter;
mod dlq;
mod split;

pub use cut::cut_unacknowledged_dead_letters;
pub use dead_letter::DeadLetter;
pub use dlq::{DeadLetterQueue, DlqLimit, DlqPolicy, DlqPush, PENDING_FILE};
pub use split::{SplitPlan, SplitStep};

use std::time::Duration;

/// How the batcher reacts to a batch the sink rejected as invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryStrategy {
    /// A rejection stops the pipeline like any sink failure (nothing was expected to be invalid).
    FailStop,
    /// Bisect the batch: commit the halves that pass, keep splitting the halves that fail, and
    /// dead-letter each record that fails alone. A batch with k bad records of n costs O(k log n)
    /// attempts; every good record is committed once.
    SplitAndRetry,
    /// Retry the whole batch with exponential backoff, `retries` times; then dead-letter all of it (good
    /// records too). The common default of many clients, and the baseline whose lag spirals.
    AbortWholeBatch {
        /// Retries after the first attempt.
        retries: u32,
        /// Wait before the first retry; doubles each retry.
        backoff: Duration,
    },
}
