//! Why a simulated workload is a violation: a promise the store or a run broke, or a step of the
//! simulation that failed where nothing may fail (reading the simulated store, a run that must
//! complete). Each names what and where, with its cause as `source()`; as in `crate::error`, the
//! message embeds the cause's text, so a [`super::Violation`] holds all of it in one line.

use std::io;

use crate::error::SysError;
use crate::summary::RunError;

/// What went wrong in one simulated workload.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A promise broken: what the oracle found (the store's contents, counters, order), in words.
    #[error("{0}")]
    Broken(String),
    /// A read of the simulated store failed.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// A dead-letter line that does not parse.
    #[error("dead letter {line:?}: {source}")]
    DeadLetter {
        /// The line.
        line: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The start-up scan refused the store (its error is text: see `ingest::scan_in`).
    #[error("{0}")]
    Scan(String),
    /// The workload's input files could not be written or changed.
    #[error("inputs: {0}")]
    Inputs(#[source] io::Error),
    /// A run or re-drive failed where it must complete.
    #[error("{what} attempt {attempt} failed: {source}")]
    Run {
        /// `"run N"` or `"redrive"`.
        what: String,
        /// Its attempt, from 0.
        attempt: usize,
        /// The run's error.
        #[source]
        source: RunError,
    },
    /// What went wrong, in (or right after the failure of) ingest run `run`.
    #[error("run {run}: {}{source}", if *after_failure { "after the failure: " } else { "" })]
    InRun {
        /// The run, from 0.
        run: usize,
        /// Found right after the run failed, before its restart.
        after_failure: bool,
        /// What went wrong.
        #[source]
        source: Box<SimError>,
    },
    /// A replay asked for an operation the seed does not strike.
    #[error("operation {at_op} is not one of seed {seed}'s points")]
    NotAPoint {
        /// The seed.
        seed: u64,
        /// The operation asked for.
        at_op: u64,
    },
}

impl SimError {
    /// A broken promise, described.
    pub fn broken(what: impl Into<String>) -> Self {
        SimError::Broken(what.into())
    }

    /// This error, as found in run `run` (right after its failure, if `after_failure`).
    pub fn in_run(self, run: usize, after_failure: bool) -> Self {
        SimError::InRun {
            run,
            after_failure,
            source: Box::new(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_store_read_that_fails_after_a_run_names_the_run_and_keeps_the_os_error() {
        let os = io::Error::from_raw_os_error(libc::EIO);
        let e =
            SimError::from(SysError::new("read", "/sim/dlq/dead-letter.jsonl", os)).in_run(3, true);
        assert_eq!(
            e.to_string(),
            format!(
                "run 3: after the failure: read /sim/dlq/dead-letter.jsonl: {}",
                io::Error::from_raw_os_error(libc::EIO)
            )
        );
        let inner = e.source().expect("the read's error");
        let os = inner
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .expect("the OS error under it");
        assert_eq!(os.raw_os_error(), Some(libc::EIO));
    }
}
