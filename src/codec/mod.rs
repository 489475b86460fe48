//! On-disk format: a segment is a sequence of *blocks*, one per batch; a block holds *records*.
//!
//! ```text
//! block  = magic "ILB1" | codec u8 | format u8 | layout u8 | 0 | records u32 | payload_len u32
//!          | crc32 u32 | payload                (little-endian; crc32 covers header bytes 0..16 and the
//!                                                payload as stored, i.e. after compression)
//! format = 2 (this build writes it); 0 = format 1, written before it (the byte was reserved zero)
//! layout = 0: each record followed by '\n'   1: each record preceded by its LEB128 varint length
//! format 1 records = len u32 | crc32(payload) u32 | payload
//! ```
//!
//! One block is written by one `write` and made durable by one `fdatasync`, so a crash leaves at most
//! one torn block at a segment's tail; the block CRC finds it. The CRC is checked before anything is
//! decoded, and it is the only one: as in Kafka's record batch v2, a record carries no checksum of its
//! own. Format 1 had one per record, and 4 random bytes per record are what a compressed block of log
//! lines could not compress (see `check compression`); the lines layout frames a log line exactly as the
//! file it came from does. A block whose CRC holds but whose format this build does not know is
//! reported as such, never taken for a torn tail.

mod block;
mod capped;
pub mod control;
mod frame;
mod kind;

pub use block::{
    claimed_payload_len, BlockBuilder, BlockReader, BlockView, BLOCK_FORMAT, BLOCK_HEADER_BYTES,
    BLOCK_MAGIC, MAX_BATCH_BYTES, MAX_BLOCK_BYTES, ZSTD_LEVEL,
};
pub use capped::{read_record, CappedDecoder, DecompressError, RATIO_GRACE_BYTES};
pub use frame::{Framing, RecordIter, MAX_RECORD_FRAMING_BYTES};
pub use kind::Codec;
