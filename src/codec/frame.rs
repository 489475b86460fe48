//! Record framing inside a block's (decoded) payload. The block's CRC covers every byte of it, so a
//! record carries no checksum of its own; how records are delimited is the block's *layout*:
//!
//! - [`Framing::Lines`]: each record followed by `\n`. Chosen for a block none of whose records holds a
//!   `\n` — every block `ingest` writes, since its records are input lines. The delimiter costs one byte
//!   and, in a compressed block, next to nothing: it is as predictable as in the input file itself.
//! - [`Framing::Lengths`]: each record preceded by its length as a LEB128 varint (1 byte below 128
//!   bytes, at most 5). For records that may hold any byte.
//! - [`Framing::Format1`]: `len u32 LE | crc32 u32 LE | payload`, the layout of blocks written before
//!   block format 2. Read only, so old segments stay readable.

use crate::error::FrameError;

/// The most bytes framing adds to one record in any layout this build writes (a 5-byte varint).
pub const MAX_RECORD_FRAMING_BYTES: usize = 5;

/// Bytes a format-1 record added in front of its payload (length and CRC).
const FORMAT1_RECORD_HEADER_BYTES: usize = 8;

/// How the records of one block are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Each record followed by `\n` (no record holds one).
    Lines,
    /// Each record preceded by its LEB128 varint length.
    Lengths,
    /// Block format 1: `len u32 | crc32 u32 | payload` per record.
    Format1,
}

/// Append `payload` to `out` as one `\n`-terminated record (the caller has checked it holds no `\n`).
#[inline]
pub fn push_line(out: &mut Vec<u8>, payload: &[u8]) {
    out.reserve(payload.len() + 1);
    out.extend_from_slice(payload);
    out.push(b'\n');
}

/// Append `payload` to `out` as one length-prefixed record.
#[inline]
pub fn push_length_prefixed(out: &mut Vec<u8>, payload: &[u8]) {
    out.reserve(payload.len() + MAX_RECORD_FRAMING_BYTES);
    let mut v = payload.len() as u32;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out.extend_from_slice(payload);
}

/// One format-1 record, as blocks written before format 2 framed it. Only tests write these (to prove
/// old segments still read); this build never does.
#[cfg(test)]
pub fn push_format1(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Iterates the records of a block payload. `base` is the payload's offset in its file, so errors
/// name the byte where the bad record starts; `stated` is the header's record count, checked at the end.
pub struct RecordIter<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
    framing: Framing,
    stated: u32,
    seen: u32,
    done: bool,
}

impl<'a> RecordIter<'a> {
    /// The `stated` records framed by `framing` in `buf`, whose first byte is at file offset `base`.
    pub fn new(buf: &'a [u8], framing: Framing, base: u64, stated: u32) -> Self {
        RecordIter {
            buf,
            pos: 0,
            base,
            framing,
            stated,
            seen: 0,
            done: false,
        }
    }

    fn fail(&mut self, e: FrameError) -> Option<Result<&'a [u8], FrameError>> {
        self.done = true;
        Some(Err(e))
    }

    fn truncated(&mut self, offset: u64, needed: usize) -> Option<Result<&'a [u8], FrameError>> {
        let available = (self.buf.len() - self.pos) as u64;
        self.fail(FrameError::Truncated {
            offset,
            needed: needed as u64,
            available,
        })
    }
}

/// A LEB128 varint of at most 5 bytes that fits a u32: its value and length, or `None`.
fn varint(buf: &[u8]) -> Option<(usize, usize)> {
    let mut v: u64 = 0;
    for (i, &b) in buf.iter().take(MAX_RECORD_FRAMING_BYTES).enumerate() {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(v).ok().map(|v| (v as usize, i + 1));
        }
    }
    None
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<&'a [u8], FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let offset = self.base + self.pos as u64;
        if self.pos >= self.buf.len() {
            self.done = true;
            return (self.seen != self.stated).then_some(Err(FrameError::RecordCount {
                offset: self.base,
                stated: self.stated,
                found: self.seen,
            }));
        }
        let rest = &self.buf[self.pos..];
        let record = match self.framing {
            Framing::Lines => match rest.iter().position(|&b| b == b'\n') {
                Some(n) => {
                    self.pos += n + 1;
                    &rest[..n]
                }
                None => return self.truncated(offset, rest.len() + 1),
            },
            Framing::Lengths => {
                let Some((len, head)) = varint(rest) else {
                    let reason = "record length is not a varint of at most 5 bytes".to_string();
                    return self.fail(FrameError::BadPayload { offset, reason });
                };
                if rest.len() - head < len {
                    return self.truncated(offset, head + len);
                }
                self.pos += head + len;
                &rest[head..head + len]
            }
            Framing::Format1 => {
                if rest.len() < FORMAT1_RECORD_HEADER_BYTES {
                    return self.truncated(offset, FORMAT1_RECORD_HEADER_BYTES);
                }
                let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
                let stored = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
                if rest.len() - FORMAT1_RECORD_HEADER_BYTES < len {
                    return self.truncated(offset, FORMAT1_RECORD_HEADER_BYTES + len);
                }
                let payload = &rest[FORMAT1_RECORD_HEADER_BYTES..FORMAT1_RECORD_HEADER_BYTES + len];
                let computed = crc32fast::hash(payload);
                if computed != stored {
                    return self.fail(FrameError::BadCrc {
                        offset,
                        stored,
                        computed,
                    });
                }
                self.pos += FORMAT1_RECORD_HEADER_BYTES + len;
                payload
            }
        };
        self.seen += 1;
        Some(Ok(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(framing: Framing, payloads: &[&[u8]]) -> Vec<u8> {
        let mut buf = vec![];
        for p in payloads {
            match framing {
                Framing::Lines => push_line(&mut buf, p),
                Framing::Lengths => push_length_prefixed(&mut buf, p),
                Framing::Format1 => push_format1(&mut buf, p),
            }
        }
        buf
    }

    #[test]
    fn records_round_trip_in_order_in_every_layout() {
        let long = vec![7u8; 300];
        let payloads: Vec<&[u8]> = vec![b"", b"a", &long, b""];
        for framing in [Framing::Lines, Framing::Lengths, Framing::Format1] {
            let buf = frame(framing, &payloads);
            let back: Vec<&[u8]> = RecordIter::new(&buf, framing, 0, 4)
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(back, payloads, "{framing:?}");
        }
    }

    #[test]
    fn varint_lengths_at_every_byte_boundary_round_trip() {
        for len in [0usize, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let p = vec![b'x'; len];
            let buf = frame(Framing::Lengths, &[&p, b"next"]);
            let back: Vec<&[u8]> = RecordIter::new(&buf, Framing::Lengths, 0, 2)
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(back, vec![&p[..], b"next"], "len {len}");
        }
    }

    #[test]
    fn a_wrong_record_count_is_an_error_at_the_end() {
        let buf = frame(Framing::Lines, &[b"one", b"two"]);
        let r: Vec<_> = RecordIter::new(&buf, Framing::Lines, 100, 3).collect();
        assert_eq!(r.len(), 3);
        assert!(matches!(
            r[2],
            Err(FrameError::RecordCount {
                offset: 100,
                stated: 3,
                found: 2
            })
        ));
    }

    #[test]
    fn a_format1_flipped_payload_bit_is_a_crc_error_at_the_record_offset() {
        let mut buf = frame(Framing::Format1, &[b"first"]);
        let second_at = buf.len();
        push_format1(&mut buf, b"second");
        buf[second_at + FORMAT1_RECORD_HEADER_BYTES + 2] ^= 0x10;
        let results: Vec<_> = RecordIter::new(&buf, Framing::Format1, 1000, 2).collect();
        assert!(results[0].is_ok());
        match &results[1] {
            Err(FrameError::BadCrc { offset, .. }) => assert_eq!(*offset, 1000 + second_at as u64),
            other => panic!("expected BadCrc, got {other:?}"),
        }
    }

    #[test]
    fn a_short_record_is_truncated_not_a_panic_in_every_layout() {
        for framing in [Framing::Lines, Framing::Lengths, Framing::Format1] {
            let mut buf = frame(framing, &[b"hello world"]);
            buf.truncate(buf.len() - 3);
            let r: Vec<_> = RecordIter::new(&buf, framing, 0, 1).collect();
            assert!(
                matches!(r[0], Err(FrameError::Truncated { .. })),
                "{framing:?}"
            );
            assert_eq!(r.len(), 1);
        }
    }

    #[test]
    fn an_overlong_varint_is_an_error_not_a_panic() {
        let buf = [0xffu8, 0xff, 0xff, 0xff, 0xff, 0x01, b'x'];
        let r: Vec<_> = RecordIter::new(&buf, Framing::Lengths, 0, 1).collect();
        assert!(matches!(r[0], Err(FrameError::BadPayload { .. })));
        assert_eq!(r.len(), 1);
    }
}
