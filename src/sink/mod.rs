//! Where batches go. A [`Sink`] makes one sealed block durable per `commit` and counts the syscalls it
//! made to do so, at the call site, so the counts can be checked against `strace`.

mod bench;
mod brownout;
mod config;
mod file;
mod fs;
mod null;
mod tcp;
mod validating;

pub use bench::{bench_appends, SinkBench, BENCH_RECORD_BYTES};
pub use brownout::Brownout;
pub use config::SinkConfig;
pub(crate) use file::parse_segment_index;
pub use file::{segment_name, Fault, FaultOp, FileSink};
pub use fs::{free_bytes, FsInfo};
pub use null::NullSink;
pub use tcp::{AckServer, TcpSink, WriteMode};
pub use validating::{utf8_record, RecordCheck, ValidatingSink};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::SinkError;

/// Syscall-boundary counters of a sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SinkCounters {
    /// `write(2)` calls on segment files (including short and failed ones).
    pub write_syscalls: u64,
    /// `fdatasync(2)` calls on segment files.
    pub fdatasyncs: u64,
    /// Bytes the kernel accepted from `write`.
    pub bytes_written: u64,
    /// Blocks committed (durable).
    pub blocks: u64,
    /// Records committed (durable).
    pub records: u64,
    /// Segment files created.
    pub segments_opened: u64,
    /// `fsync(2)` calls on the directory (one per new segment, so its directory entry is durable).
    pub dir_fsyncs: u64,
    /// Old segments deleted by the retention limit.
    pub segments_removed: u64,
}

/// A destination that makes a batch durable.
pub trait Sink: Send {
    /// Make the sealed `block` (holding `records` records) durable. Returns only when it is, or with an
    /// error after which the sink is poisoned and nothing of this block is promised.
    fn commit(&mut self, block: &[u8], records: u32) -> Result<(), SinkError>;

    /// Counters so far.
    fn counters(&self) -> SinkCounters;

    /// Latency of each durability call (`fdatasync`), in nanoseconds, if the sink makes one.
    fn sync_latency_ns(&self) -> Option<&Histogram<u64>> {
        None
    }
}
