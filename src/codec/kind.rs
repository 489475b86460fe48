//! One name for one concept: how bytes are compressed. The same three encodings describe a block's
//! payload (what the sink writes, a byte in the block header) and an input stream or layer (what ingest
//! detects by magic bytes and decodes under a cap), so one enum serves both.

/// How a block's payload is encoded. A compressed block compresses the whole batch of framed records at
/// once: compression finds repetition *across* records, which is why it only pays on filled batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Records stored as they are.
    None = 0,
    /// zstd (blocks at [`ZSTD_LEVEL`](super::ZSTD_LEVEL)).
    Zstd = 1,
    /// gzip (deflate), fastest level.
    Gzip = 2,
}

impl Codec {
    pub(crate) fn from_u8(v: u8) -> Option<Codec> {
        match v {
            0 => Some(Codec::None),
            1 => Some(Codec::Zstd),
            2 => Some(Codec::Gzip),
            _ => None,
        }
    }

    /// How a stream is compressed, from its first bytes (an input's, or a layer's output): gzip
    /// (RFC 1952) by its magic `1f 8b`, zstd by `28 b5 2f fd`, anything else `None`.
    pub fn detect(prefix: &[u8]) -> Codec {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Codec::Gzip
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Codec::Zstd
        } else {
            Codec::None
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
}
