//! Tests of `codec/block.rs`.

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

/// A block as builds before format 2 wrote it: header bytes 5..8 zero, a CRC per record.
fn format1_block(records: &[&[u8]], codec: Codec) -> Vec<u8> {
    let mut frames = Vec::new();
    for r in records {
        crate::codec::frame::push_format1(&mut frames, r);
    }
    let payload = match codec {
        Codec::None => frames,
        Codec::Zstd => zstd::bulk::compress(&frames, 1).unwrap(),
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&frames).unwrap();
            e.finish().unwrap()
        }
    };
    let mut buf = vec![0u8; BLOCK_HEADER_BYTES];
    buf.extend_from_slice(&payload);
    write_header(&mut buf, codec, Framing::Format1, records.len() as u32);
    buf
}

#[test]
fn format1_blocks_still_read_with_every_codec() {
    for codec in [Codec::None, Codec::Zstd, Codec::Gzip] {
        let block = format1_block(&[b"old", b"", b"with\nnewline"], codec);
        assert_eq!(block[5], 0, "format 1 wrote a zero there");
        let view = BlockReader::new(&block).next().unwrap().unwrap();
        assert_eq!(view.framing, Framing::Format1);
        let got: Vec<&[u8]> = view.records().map(|r| r.unwrap()).collect();
        assert_eq!(got, vec![&b"old"[..], b"", b"with\nnewline"], "{codec:?}");
    }
}

#[test]
fn lines_layout_until_a_record_holds_a_newline_then_lengths_for_the_whole_block() {
    let mut b = BlockBuilder::with_capacity(64);
    b.push(b"one");
    b.push(b"");
    assert_eq!(b.framing(), Framing::Lines);
    assert_eq!(&b.seal()[BLOCK_HEADER_BYTES..], b"one\n\n");
    b.push(b"two\nlines");
    b.push(b"three");
    assert_eq!(b.framing(), Framing::Lengths);
    let sealed = b.seal().to_vec();
    let view = BlockReader::new(&sealed).next().unwrap().unwrap();
    let got: Vec<&[u8]> = view.records().map(|r| r.unwrap()).collect();
    assert_eq!(got, vec![&b"one"[..], b"", b"two\nlines", b"three"]);
    b.reset();
    b.push(b"again");
    assert_eq!(
        b.framing(),
        Framing::Lines,
        "reset starts the next block in lines"
    );
}

#[test]
fn a_whole_block_of_an_unknown_format_is_reported_as_such_not_as_a_bad_crc() {
    for (byte, value) in [(5, 3u8), (6, 2), (7, 1), (4, 9)] {
        let mut block = sealed_block(&[b"from the future"]);
        block[byte] = value;
        crate::testutil::recompute_block_crc(&mut block);
        let err = BlockReader::new(&block).next().unwrap().unwrap_err();
        assert!(err.is_whole_block(), "byte {byte}: {err}");
        assert!(
            matches!(
                err,
                FrameError::UnsupportedFormat { .. } | FrameError::UnknownCodec { .. }
            ),
            "byte {byte}: {err}"
        );
    }
}

#[test]
fn a_flipped_codec_byte_is_a_crc_error_not_an_unknown_codec() {
    // The CRC is checked before the header is interpreted, so a torn or flipped header is never
    // mistaken for a whole block of another kind.
    let mut block = sealed_block(&[b"data"]);
    block[4] = 9;
    assert!(matches!(
        BlockReader::new(&block).next().unwrap(),
        Err(FrameError::BadCrc { offset: 0, .. })
    ));
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
