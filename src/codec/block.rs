//! Blocks: one batch on disk. [`BlockBuilder`] encodes records as they enter the window (so framing
//! overlaps the linger wait) and seals the header at flush; [`BlockReader`] walks a segment and stops
//! with an error naming the byte at the first bad or torn block.

use std::borrow::Cow;
use std::io::{Read, Write};

use crate::codec::frame::{encode_record, RecordIter};
use crate::error::FrameError;

/// Bytes of the block header.
pub const BLOCK_HEADER_BYTES: usize = 20;
/// The first bytes of every block.
pub const BLOCK_MAGIC: [u8; 4] = *b"ILB1";

/// How a block's payload is encoded. A compressed block compresses the whole batch of framed records at
/// once: compression finds repetition *across* records, which is why it only pays on filled batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Records stored as they are.
    None = 0,
    /// zstd, level 1.
    Zstd = 1,
    /// gzip (deflate), fastest level.
    Gzip = 2,
}

impl Codec {
    fn from_u8(v: u8) -> Option<Codec> {
        match v {
            0 => Some(Codec::None),
            1 => Some(Codec::Zstd),
            2 => Some(Codec::Gzip),
            _ => None,
        }
    }

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Zstd => "zstd",
            Codec::Gzip => "gzip",
        }
    }

    /// Parse the CLI spelling.
    pub fn parse(s: &str) -> Option<Codec> {
        [Codec::None, Codec::Zstd, Codec::Gzip]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A decoded block is never larger than this (the window's largest batch plus framing).
pub const MAX_DECODED_BYTES: u64 = (crate::config::MAX_BATCH_BYTES as u64) * 2;

fn write_header(buf: &mut [u8], codec: Codec, records: u32) {
    let payload_len = (buf.len() - BLOCK_HEADER_BYTES) as u32;
    buf[0..4].copy_from_slice(&BLOCK_MAGIC);
    buf[4] = codec as u8;
    buf[5..8].fill(0);
    buf[8..12].copy_from_slice(&records.to_le_bytes());
    buf[12..16].copy_from_slice(&payload_len.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[0..16]);
    h.update(&buf[BLOCK_HEADER_BYTES..]);
    let crc = h.finalize();
    buf[16..20].copy_from_slice(&crc.to_le_bytes());
}

/// Accumulates framed records behind a reserved header; reused across batches (no per-batch alloc once
/// it has grown to the window's size).
pub struct BlockBuilder {
    buf: Vec<u8>,
    records: u32,
    packed: Vec<u8>,
    zstd: Option<zstd::bulk::Compressor<'static>>,
}

impl std::fmt::Debug for BlockBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockBuilder")
            .field("bytes", &self.buf.len())
            .field("records", &self.records)
            .finish()
    }
}

impl BlockBuilder {
    /// A builder with room for `capacity` payload bytes before it must grow.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(BLOCK_HEADER_BYTES + capacity);
        buf.resize(BLOCK_HEADER_BYTES, 0);
        BlockBuilder {
            buf,
            records: 0,
            packed: Vec::new(),
            zstd: None,
        }
    }

    /// Frame `payload` into the block.
    #[inline]
    pub fn push(&mut self, payload: &[u8]) {
        encode_record(&mut self.buf, payload);
        self.records += 1;
    }

    /// Records so far.
    pub fn records(&self) -> u32 {
        self.records
    }

    /// True when no record has been pushed since the last reset.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Write the header and return the whole block, ready for one `write`.
    pub fn seal(&mut self) -> &[u8] {
        write_header(&mut self.buf, Codec::None, self.records);
        &self.buf
    }

    /// Seal with the payload compressed by `codec` (the framed records stay in the builder, so a
    /// rejected batch can still be split record by record).
    pub fn seal_with(&mut self, codec: Codec) -> std::io::Result<&[u8]> {
        if codec == Codec::None {
            return Ok(self.seal());
        }
        self.packed.clear();
        self.packed.resize(BLOCK_HEADER_BYTES, 0);
        let frames = &self.buf[BLOCK_HEADER_BYTES..];
        match codec {
            Codec::None => unreachable!(),
            Codec::Zstd => {
                if self.zstd.is_none() {
                    self.zstd = Some(zstd::bulk::Compressor::new(1)?);
                }
                let z = self.zstd.as_mut().expect("set above");
                let packed = z.compress(frames)?;
                self.packed.extend_from_slice(&packed);
            }
            Codec::Gzip => {
                let mut e = flate2::write::GzEncoder::new(
                    std::mem::take(&mut self.packed),
                    flate2::Compression::fast(),
                );
                e.write_all(frames)?;
                self.packed = e.finish()?;
            }
        }
        write_header(&mut self.packed, codec, self.records);
        Ok(&self.packed)
    }

    /// Empty the builder for the next batch (keeps its capacity).
    pub fn reset(&mut self) {
        self.buf.truncate(BLOCK_HEADER_BYTES);
        self.records = 0;
    }
}

/// One checked block read back from a segment.
#[derive(Debug, Clone)]
pub struct BlockView<'a> {
    /// File offset of the block header.
    pub offset: u64,
    /// Codec of the payload.
    pub codec: Codec,
    /// Record count from the header.
    pub records: u32,
    /// The payload as stored (framed records, or their compressed form).
    pub payload: &'a [u8],
    /// The framed records (the payload itself, or its decompression).
    pub frames: Cow<'a, [u8]>,
}

impl BlockView<'_> {
    /// The block's records, each CRC-checked. Offsets in errors are file offsets for plain blocks and
    /// offsets into the decompressed frames for compressed ones.
    pub fn records(&self) -> RecordIter<'_> {
        RecordIter::new(&self.frames, self.offset + BLOCK_HEADER_BYTES as u64)
    }

    /// Total bytes of the block on disk.
    pub fn len(&self) -> usize {
        BLOCK_HEADER_BYTES + self.payload.len()
    }

    /// True for a block with no payload bytes.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }
}

/// Decode a block's payload by the codec its header names — never by sniffing what the payload holds:
/// framed records can begin with any bytes (a first record of 35,615 bytes starts `1f 8b`, gzip's
/// magic), and our own format must not be read with the input side's nested-compression rule.
/// The output is capped at [`MAX_DECODED_BYTES`], so a corrupt or hostile block cannot expand without
/// bound.
fn decode_frames(codec: Codec, payload: &[u8], offset: u64) -> Result<Cow<'_, [u8]>, FrameError> {
    let bad = |reason: String| FrameError::BadPayload { offset, reason };
    let decoder: Box<dyn Read + '_> = match codec {
        Codec::None => return Ok(Cow::Borrowed(payload)),
        Codec::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(payload)
                .map_err(|e| bad(format!("zstd: {e}")))?,
        ),
        Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(payload)),
    };
    let mut out = Vec::new();
    decoder
        .take(MAX_DECODED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("{}: {e}", codec.as_str())))?;
    if out.len() as u64 > MAX_DECODED_BYTES {
        return Err(bad(format!(
            "{} payload decodes to more than {MAX_DECODED_BYTES} bytes",
            codec.as_str()
        )));
    }
    Ok(Cow::Owned(out))
}

/// The largest block a sink can write: its header and a payload of at most [`MAX_DECODED_BYTES`]
/// (a compressed payload of incompressible records is a little larger than the records; the slack
/// covers zstd's and gzip's worst-case growth). A torn tail, being one write, is never longer.
pub const MAX_BLOCK_BYTES: u64 = BLOCK_HEADER_BYTES as u64 + MAX_DECODED_BYTES + (1 << 20);

/// The payload length a block header at the start of `header` claims, if it is a block header.
pub fn claimed_payload_len(header: &[u8]) -> Option<u64> {
    (header.len() >= BLOCK_HEADER_BYTES && header[0..4] == BLOCK_MAGIC)
        .then(|| u32::from_le_bytes(header[12..16].try_into().expect("4 bytes")) as u64)
}

/// Walks the blocks of a segment's bytes. After the first error it yields nothing more: what follows a
/// torn or corrupt block is not trusted.
pub struct BlockReader<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> BlockReader<'a> {
    /// Blocks in `buf` (a whole segment file's bytes).
    pub fn new(buf: &'a [u8]) -> Self {
        BlockReader {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Byte offset just past the last good block returned so far (where a torn tail would be cut).
    pub fn good_prefix(&self) -> u64 {
        self.pos as u64
    }

    fn read_one(&self) -> Result<BlockView<'a>, FrameError> {
        let offset = self.pos as u64;
        let rest = &self.buf[self.pos..];
        if rest.len() < BLOCK_HEADER_BYTES {
            return Err(FrameError::Truncated {
                offset,
                needed: BLOCK_HEADER_BYTES as u64,
                available: rest.len() as u64,
            });
        }
        if rest[0..4] != BLOCK_MAGIC {
            return Err(FrameError::BadMagic { offset });
        }
        let codec = Codec::from_u8(rest[4]).ok_or(FrameError::UnknownCodec {
            offset,
            codec: rest[4],
        })?;
        let records = u32::from_le_bytes(rest[8..12].try_into().unwrap());
        let payload_len = u32::from_le_bytes(rest[12..16].try_into().unwrap()) as usize;
        let stored = u32::from_le_bytes(rest[16..20].try_into().unwrap());
        if rest.len() < BLOCK_HEADER_BYTES + payload_len {
            return Err(FrameError::Truncated {
                offset,
                needed: (BLOCK_HEADER_BYTES + payload_len) as u64,
                available: rest.len() as u64,
            });
        }
        let payload = &rest[BLOCK_HEADER_BYTES..BLOCK_HEADER_BYTES + payload_len];
        let mut h = crc32fast::Hasher::new();
        h.update(&rest[0..16]);
        h.update(payload);
        let computed = h.finalize();
        if computed != stored {
            return Err(FrameError::BadCrc {
                offset,
                stored,
                computed,
            });
        }
        Ok(BlockView {
            offset,
            codec,
            records,
            payload,
            frames: decode_frames(codec, payload, offset)?,
        })
    }
}

impl<'a> Iterator for BlockReader<'a> {
    type Item = Result<BlockView<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match self.read_one() {
            Ok(b) => {
                self.pos += b.len();
                Some(Ok(b))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::sealed_block;

    #[test]
    fn blocks_and_records_round_trip() {
        let mut seg = sealed_block(&[b"a", b"bb"]);
        seg.extend(sealed_block(&[b"ccc"]));
        let blocks: Vec<_> = BlockReader::new(&seg).map(|b| b.unwrap()).collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].records, 2);
        let recs: Vec<&[u8]> = blocks[1].records().map(|r| r.unwrap()).collect();
        assert_eq!(recs, vec![b"ccc".as_slice()]);
    }

    #[test]
    fn builder_reuse_after_reset_gives_identical_blocks() {
        let mut b = BlockBuilder::with_capacity(8);
        b.push(b"x");
        let first = b.seal().to_vec();
        b.reset();
        assert!(b.is_empty());
        b.push(b"x");
        assert_eq!(b.seal(), first.as_slice());
    }

    #[test]
    fn compressed_blocks_round_trip_and_shrink_a_full_batch_of_log_lines() {
        let mut src = crate::payload::PayloadSource::new(crate::config::PayloadKind::Log, 100, 1);
        for codec in [Codec::Zstd, Codec::Gzip] {
            let mut b = BlockBuilder::with_capacity(1 << 20);
            let mut want = Vec::new();
            for _ in 0..1000 {
                let mut p = Vec::new();
                src.fill(&mut p);
                b.push(&p);
                want.push(p);
            }
            let plain_len = b.seal().len();
            let packed = b.seal_with(codec).unwrap().to_vec();
            assert!(
                packed.len() * 2 < plain_len,
                "{codec:?}: {} vs {plain_len}",
                packed.len()
            );
            let view = BlockReader::new(&packed).next().unwrap().unwrap();
            assert_eq!(view.codec, codec);
            let got: Vec<Vec<u8>> = view.records().map(|r| r.unwrap().to_vec()).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn compressed_block_whose_first_record_looks_like_gzip_magic_reads_back() {
        // A record of 35,615 bytes frames as `1f 8b 00 00 ...`: gzip's magic. The block used to be
        // decoded by sniffing, found "gzip inside zstd", and was called a torn tail.
        for len in [0x8b1f, 0x1_8b1f] {
            let big: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            for codec in [Codec::Zstd, Codec::Gzip] {
                let mut b = BlockBuilder::with_capacity(1 << 20);
                b.push(&big);
                b.push(b"second");
                let packed = b.seal_with(codec).unwrap().to_vec();
                let view = BlockReader::new(&packed).next().unwrap().unwrap();
                let got: Vec<&[u8]> = view.records().map(|r| r.unwrap()).collect();
                assert_eq!(got, vec![&big[..], b"second"], "{codec:?} len {len}");
            }
        }
    }

    #[test]
    fn torn_tail_is_detected_and_good_prefix_stops_before_it() {
        let mut seg = sealed_block(&[b"one"]);
        let good = seg.len();
        let second = sealed_block(&[b"two", b"three"]);
        seg.extend_from_slice(&second[..second.len() - 4]);
        let mut r = BlockReader::new(&seg);
        assert!(r.next().unwrap().is_ok());
        assert!(matches!(
            r.next().unwrap(),
            Err(FrameError::Truncated { offset, .. }) if offset == good as u64
        ));
        assert!(r.next().is_none());
        assert_eq!(r.good_prefix(), good as u64);
    }

    #[test]
    fn a_corrupt_header_byte_fails_the_block_crc() {
        let mut seg = sealed_block(&[b"data"]);
        seg[9] ^= 1; // record count
        assert!(matches!(
            BlockReader::new(&seg).next().unwrap(),
            Err(FrameError::BadCrc { offset: 0, .. })
        ));
    }
}
