//! On-disk format: a segment is a sequence of *blocks*, one per batch; a block holds *records*.
//!
//! ```text
//! block  = magic "ILB1" | codec u8 | 0 0 0 | records u32 | payload_len u32 | crc32 u32 | payload
//!          (little-endian; crc32 covers the first 16 header bytes and the payload)
//! record = len u32 | crc32(payload) u32 | payload          (payload = concatenated records)
//! ```
//!
//! One block is written by one `write` and made durable by one `fdatasync`, so a crash leaves at most
//! one torn block at a segment's tail; the block CRC finds it. Each record also carries its own CRC, so a
//! record is checkable on its own (e.g. after it is copied into a dead-letter queue).

mod block;
mod capped;
mod frame;

pub use block::{
    claimed_payload_len, BlockBuilder, BlockReader, BlockView, Codec, BLOCK_HEADER_BYTES,
    BLOCK_MAGIC, MAX_BLOCK_BYTES,
};
pub use capped::{read_record, CappedDecoder, Compression, DecompressError, RATIO_GRACE_BYTES};
pub use frame::{encode_record, RecordIter, RECORD_HEADER_BYTES};
