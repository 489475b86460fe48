//! Blocks: one batch on disk. [`BlockBuilder`] encodes records as they enter the window (so framing
//! overlaps the linger wait) and seals the header at flush; [`BlockReader`] walks a segment and stops
//! with an error naming the byte at the first bad or torn block.

use std::borrow::Cow;
use std::io::{Read, Write};

use crate::codec::frame::{push_length_prefixed, push_line, Framing, RecordIter};
use crate::codec::Codec;
use crate::error::FrameError;

/// Largest block payload the format allows (the length field is u32; we keep well below it).
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// Bytes of the block header.
pub const BLOCK_HEADER_BYTES: usize = 20;
/// The first bytes of every block (of every format: the format is a header byte, so a reader finds
/// the blocks of any format by their magic and can say which format it does not read).
pub const BLOCK_MAGIC: [u8; 4] = *b"ILB1";
/// The block format this build writes.
pub const BLOCK_FORMAT: u8 = 2;
/// Header byte 5 of a format-1 block (the byte was reserved and written as zero).
const FORMAT_1_BYTE: u8 = 0;
/// Header byte 6 of a format-2 block: how its records are delimited.
const LAYOUT_LINES: u8 = 0;
const LAYOUT_LENGTHS: u8 = 1;

/// The zstd level of compressed blocks (the fastest: a batcher compresses on the commit path).
pub const ZSTD_LEVEL: i32 = 1;

/// A decoded block is never larger than this (the window's largest batch plus framing).
pub const MAX_DECODED_BYTES: u64 = (MAX_BATCH_BYTES as u64) * 2;

fn write_header(buf: &mut [u8], codec: Codec, framing: Framing, records: u32) {
    let payload_len = (buf.len() - BLOCK_HEADER_BYTES) as u32;
    buf[0..4].copy_from_slice(&BLOCK_MAGIC);
    buf[4] = codec as u8;
    (buf[5], buf[6]) = match framing {
        Framing::Lines => (BLOCK_FORMAT, LAYOUT_LINES),
        Framing::Lengths => (BLOCK_FORMAT, LAYOUT_LENGTHS),
        Framing::Format1 => (FORMAT_1_BYTE, 0),
    };
    buf[7] = 0;
    buf[8..12].copy_from_slice(&records.to_le_bytes());
    buf[12..16].copy_from_slice(&payload_len.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[0..16]);
    h.update(&buf[BLOCK_HEADER_BYTES..]);
    let crc = h.finalize();
    buf[16..20].copy_from_slice(&crc.to_le_bytes());
}

/// Accumulates framed records behind a reserved header; reused across batches (no per-batch alloc once
/// it has grown to the window's size). A block starts in the lines layout and moves to length
/// prefixes, once, at the first record that holds a `\n`.
pub struct BlockBuilder {
    buf: Vec<u8>,
    records: u32,
    framing: Framing,
    packed: Vec<u8>,
    scratch: Vec<u8>,
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
            framing: Framing::Lines,
            packed: Vec::new(),
            scratch: Vec::new(),
            zstd: None,
        }
    }

    /// Frame `payload` into the block.
    #[inline]
    pub fn push(&mut self, payload: &[u8]) {
        // See the `icount-regression` feature in Cargo.toml: extra work the CI gate must catch.
        #[cfg(feature = "icount-regression")]
        std::hint::black_box(crc32fast::hash(payload));
        self.records += 1;
        if self.framing == Framing::Lines {
            if memchr::memchr(b'\n', payload).is_none() {
                push_line(&mut self.buf, payload);
                return;
            }
            self.reframe_with_lengths();
        }
        push_length_prefixed(&mut self.buf, payload);
    }

    /// Re-frame the records so far with length prefixes (a record holding `\n` arrived).
    #[cold]
    fn reframe_with_lengths(&mut self) {
        self.scratch.clear();
        self.scratch
            .extend_from_slice(&self.buf[..BLOCK_HEADER_BYTES]);
        let lines = &self.buf[BLOCK_HEADER_BYTES..];
        for line in lines.split_inclusive(|&b| b == b'\n') {
            push_length_prefixed(&mut self.scratch, &line[..line.len() - 1]);
        }
        std::mem::swap(&mut self.buf, &mut self.scratch);
        // Not kept: a builder that grew to a full window would otherwise hold a second one for good.
        self.scratch = Vec::new();
        self.framing = Framing::Lengths;
    }

    /// How the records so far are delimited.
    pub fn framing(&self) -> Framing {
        self.framing
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
        write_header(&mut self.buf, Codec::None, self.framing, self.records);
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
                    self.zstd = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
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
        write_header(&mut self.packed, codec, self.framing, self.records);
        Ok(&self.packed)
    }

    /// Empty the builder for the next batch (keeps its capacity).
    pub fn reset(&mut self) {
        self.buf.truncate(BLOCK_HEADER_BYTES);
        self.records = 0;
        self.framing = Framing::Lines;
    }
}

/// One checked block read back from a segment.
#[derive(Debug, Clone)]
pub struct BlockView<'a> {
    /// File offset of the block header.
    pub offset: u64,
    /// Codec of the payload.
    pub codec: Codec,
    /// How the records are delimited (from the header's format and layout bytes).
    pub framing: Framing,
    /// Record count from the header.
    pub records: u32,
    /// The payload as stored (framed records, or their compressed form).
    pub payload: &'a [u8],
    /// The framed records (the payload itself, or its decompression).
    pub frames: Cow<'a, [u8]>,
}

impl BlockView<'_> {
    /// The block's records (and an error at the end if there are not as many as the header says).
    /// Offsets in errors are file offsets for plain blocks and offsets into the decompressed frames for
    /// compressed ones.
    pub fn records(&self) -> RecordIter<'_> {
        RecordIter::new(
            &self.frames,
            self.framing,
            self.offset + BLOCK_HEADER_BYTES as u64,
            self.records,
        )
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
/// The output is capped at `MAX_DECODED_BYTES`, so a corrupt or hostile block cannot expand without
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

/// The largest block a sink can write: its header and a payload of at most `MAX_DECODED_BYTES`
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
        // The bytes are the ones written (the CRC, checked first, says so): from here on an error is a
        // whole block this build cannot read, never a torn write.
        let framing = match (rest[5], rest[6], rest[7]) {
            (FORMAT_1_BYTE, 0, 0) => Framing::Format1,
            (BLOCK_FORMAT, LAYOUT_LINES, 0) => Framing::Lines,
            (BLOCK_FORMAT, LAYOUT_LENGTHS, 0) => Framing::Lengths,
            (format, layout, _) => {
                return Err(FrameError::UnsupportedFormat {
                    offset,
                    format,
                    layout,
                })
            }
        };
        let codec = Codec::from_u8(rest[4]).ok_or(FrameError::UnknownCodec {
            offset,
            codec: rest[4],
        })?;
        Ok(BlockView {
            offset,
            codec,
            framing,
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
mod tests;
