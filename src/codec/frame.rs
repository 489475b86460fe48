//! Record framing: `len u32 LE | crc32 u32 LE | payload`.

use crate::error::FrameError;

/// Bytes a record adds in front of its payload.
pub const RECORD_HEADER_BYTES: usize = 8;

/// Append one framed record to `out`.
#[inline]
pub fn encode_record(out: &mut Vec<u8>, payload: &[u8]) {
    let crc = crc32fast::hash(payload);
    // See the `icount-regression` feature in Cargo.toml: extra work the CI gate must catch.
    #[cfg(feature = "icount-regression")]
    let crc = std::hint::black_box(crc32fast::hash(payload)) ^ crc ^ crc32fast::hash(payload);
    out.reserve(RECORD_HEADER_BYTES + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Iterates the records of a block payload, checking each CRC. `base` is the payload's offset in its
/// file, so errors name the byte where the bad record starts.
pub struct RecordIter<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> RecordIter<'a> {
    /// Records in `buf`, whose first byte is at file offset `base`.
    pub fn new(buf: &'a [u8], base: u64) -> Self {
        RecordIter { buf, pos: 0, base }
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<&'a [u8], FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.base + self.pos as u64;
        let rest = &self.buf[self.pos..];
        if rest.len() < RECORD_HEADER_BYTES {
            self.pos = self.buf.len();
            return Some(Err(FrameError::Truncated {
                offset,
                needed: RECORD_HEADER_BYTES as u64,
                available: rest.len() as u64,
            }));
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().unwrap()) as usize;
        let stored = u32::from_le_bytes(rest[4..8].try_into().unwrap());
        let body = &rest[RECORD_HEADER_BYTES..];
        if body.len() < len {
            self.pos = self.buf.len();
            return Some(Err(FrameError::Truncated {
                offset,
                needed: (RECORD_HEADER_BYTES + len) as u64,
                available: rest.len() as u64,
            }));
        }
        let payload = &body[..len];
        let computed = crc32fast::hash(payload);
        self.pos += RECORD_HEADER_BYTES + len;
        if computed != stored {
            return Some(Err(FrameError::BadCrc {
                offset,
                stored,
                computed,
            }));
        }
        Some(Ok(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_in_order() {
        let mut buf = vec![];
        let payloads: Vec<Vec<u8>> = vec![b"".to_vec(), b"a".to_vec(), vec![7u8; 300]];
        for p in &payloads {
            encode_record(&mut buf, p);
        }
        let back: Vec<&[u8]> = RecordIter::new(&buf, 0).map(|r| r.unwrap()).collect();
        assert_eq!(
            back,
            payloads.iter().map(|p| p.as_slice()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_flipped_payload_bit_is_a_crc_error_at_the_record_offset() {
        let mut buf = vec![];
        encode_record(&mut buf, b"first");
        let second_at = buf.len();
        encode_record(&mut buf, b"second");
        buf[second_at + RECORD_HEADER_BYTES + 2] ^= 0x10;
        let results: Vec<_> = RecordIter::new(&buf, 1000).collect();
        assert!(results[0].is_ok());
        match &results[1] {
            Err(FrameError::BadCrc { offset, .. }) => assert_eq!(*offset, 1000 + second_at as u64),
            other => panic!("expected BadCrc, got {other:?}"),
        }
    }

    #[test]
    fn a_short_record_is_truncated_not_a_panic() {
        let mut buf = vec![];
        encode_record(&mut buf, b"hello world");
        buf.truncate(buf.len() - 3);
        let r: Vec<_> = RecordIter::new(&buf, 0).collect();
        assert!(matches!(r[0], Err(FrameError::Truncated { .. })));
        assert_eq!(r.len(), 1);
    }
}
