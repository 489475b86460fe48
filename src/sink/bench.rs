//! The sink alone, at a fixed write size: append blocks of about `write_bytes` with one `write` and one
//! `fdatasync` each, for a while, and report syncs/s, bytes/s and fdatasync latency. This is the
//! like-for-like comparison with `fio --rw=write --fdatasync=1 --bs=N` in the same directory.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{FileSink, Sink};
use crate::codec::{BlockBuilder, BLOCK_HEADER_BYTES, RECORD_HEADER_BYTES};
use crate::config::SinkConfig;
use crate::error::SinkError;
use crate::metrics::LatencySummary;

/// Result of [`bench_appends`].
#[derive(Debug, Clone, Serialize)]
pub struct SinkBench {
    /// Bytes per write (block size on disk).
    pub write_bytes: usize,
    /// 100-byte records per write.
    pub records_per_write: u32,
    /// Writes (= fdatasyncs) made.
    pub writes: u64,
    /// Wall time, s.
    pub elapsed_s: f64,
    /// fdatasyncs per second.
    pub syncs_per_s: f64,
    /// Bytes written per second.
    pub bytes_per_s: f64,
    /// Records made durable per second.
    pub records_per_s: f64,
    /// fdatasync latency, µs.
    pub fdatasync_us: LatencySummary,
}

/// Payload bytes of each record.
pub const BENCH_RECORD_BYTES: usize = 100;

/// Append blocks of about `write_bytes` (whole 100-byte records, at least one) for `duration`, or until
/// `max_total_bytes` have been written.
pub fn bench_appends(
    cfg: &SinkConfig,
    write_bytes: usize,
    duration: Duration,
    max_total_bytes: u64,
) -> Result<SinkBench, SinkError> {
    let mut sink = FileSink::open(cfg).map_err(SinkError::Io)?;
    let per = RECORD_HEADER_BYTES + BENCH_RECORD_BYTES;
    let n = (write_bytes.saturating_sub(BLOCK_HEADER_BYTES) / per).max(1);
    let mut b = BlockBuilder::with_capacity(n * per);
    let payload = [b'x'; BENCH_RECORD_BYTES];
    for _ in 0..n {
        b.push(&payload);
    }
    let block = b.seal().to_vec();
    let t0 = Instant::now();
    let mut written = 0u64;
    while t0.elapsed() < duration && written < max_total_bytes {
        sink.commit(&block, n as u32)?;
        written += block.len() as u64;
    }
    let elapsed_s = t0.elapsed().as_secs_f64();
    let c = sink.counters();
    sink.finish_retention();
    Ok(SinkBench {
        write_bytes: block.len(),
        records_per_write: n as u32,
        writes: c.fdatasyncs,
        elapsed_s,
        syncs_per_s: c.fdatasyncs as f64 / elapsed_s,
        bytes_per_s: c.bytes_written as f64 / elapsed_s,
        records_per_s: c.records as f64 / elapsed_s,
        fdatasync_us: sink
            .sync_latency_ns()
            .map(LatencySummary::from_ns)
            .unwrap_or_default(),
    })
}
