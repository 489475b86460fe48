//! The file sink's settings.

use std::path::PathBuf;

use crate::error::ConfigError;
use crate::storage::Storage;

/// Where and how the file sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Directory of segment files (created if missing).
    pub dir: PathBuf,
    /// Start a new segment once the current one would pass this size.
    pub segment_bytes: u64,
    /// Keep at most this many segments, deleting the oldest (None = keep all). Benches and checks set it
    /// so that a long run at disk bandwidth cannot fill the disk.
    pub retain_segments: Option<usize>,
    /// The filesystem segments and the dead-letter queue live on: the machine's, or the crash
    /// simulation's.
    pub storage: Storage,
    /// An injected disk brownout (checks only): fdatasyncs stretched for a while.
    pub brownout: Option<super::Brownout>,
}

impl SinkConfig {
    /// A sink in `dir` with the default segment size and no retention limit.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SinkConfig {
            dir: dir.into(),
            segment_bytes: 64 << 20,
            retain_segments: None,
            storage: Storage::os(),
            brownout: None,
        }
    }

    /// Reject sinks that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.segment_bytes < 4096 {
            return Err(ConfigError {
                field: "sink.segment_bytes",
                reason: "must be at least 4096".into(),
            });
        }
        if self.retain_segments == Some(0) {
            return Err(ConfigError {
                field: "sink.retain_segments",
                reason: "must keep at least the segment being written".into(),
            });
        }
        Ok(())
    }
}
