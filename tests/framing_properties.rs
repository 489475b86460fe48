//! Property tests (proptest) for the on-disk framing, and a bounded fuzz of every decoder that reads
//! untrusted bytes: blocks, records, compressed streams, NDJSON validation. Run in `make test`; raise
//! `PROPTEST_CASES` for a longer fuzz.

use std::io::Read;

use ingest_lab::{
    codec::read_record, codec::BlockBuilder, codec::BlockReader, codec::CappedDecoder,
    codec::Codec, ingest::Schema,
};
use proptest::prelude::*;

/// Blocks of log-like lines (no `\n`: the lines layout), of any bytes (mostly length prefixes), and of
/// both mixed (a block that moves from lines to length prefixes part-way).
fn records() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let line = || {
        prop::collection::vec(
            any::<u8>().prop_map(|b| if b == b'\n' { b' ' } else { b }),
            0..300,
        )
    };
    let bytes = || prop::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        prop::collection::vec(line(), 0..40),
        prop::collection::vec(bytes(), 0..40),
        prop::collection::vec(prop_oneof![line(), bytes()], 0..40),
    ]
}

fn codec() -> impl Strategy<Value = Codec> {
    prop_oneof![Just(Codec::None), Just(Codec::Zstd), Just(Codec::Gzip)]
}

fn seal(recs: &[Vec<u8>], codec: Codec) -> Vec<u8> {
    let mut b = BlockBuilder::with_capacity(1024);
    for r in recs {
        b.push(r);
    }
    b.seal_with(codec).unwrap().to_vec()
}

proptest! {
    #[test]
    fn any_records_round_trip_through_a_block(recs in records(), codec in codec()) {
        let block = seal(&recs, codec);
        let mut blocks = BlockReader::new(&block);
        let view = blocks.next().unwrap().unwrap();
        let back: Vec<Vec<u8>> = view.records().map(|r| r.unwrap().to_vec()).collect();
        prop_assert_eq!(back, recs);
        prop_assert!(blocks.next().is_none());
    }

    #[test]
    fn any_bit_flip_is_detected(recs in records(), codec in codec(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut block = seal(&recs, codec);
        let i = at.index(block.len());
        block[i] ^= 1 << bit;
        let first = BlockReader::new(&block).next();
        prop_assert!(matches!(first, Some(Err(_))), "flip at byte {} bit {} not detected", i, bit);
    }

    #[test]
    fn any_truncation_is_detected(recs in records(), codec in codec(), at in any::<prop::sample::Index>()) {
        let block = seal(&recs, codec);
        let cut = at.index(block.len());
        let mut r = BlockReader::new(&block[..cut]);
        match r.next() {
            None => prop_assert_eq!(cut, 0),
            Some(x) => prop_assert!(x.is_err(), "cut at {} of {} not detected", cut, block.len()),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_block_reader(tail in prop::collection::vec(any::<u8>(), 0..4096), magic in any::<bool>()) {
        // Half the inputs begin with the block magic, so the reader gets past it to the header,
        // length and CRC checks. It stops at the first bad block; every record of a good one is
        // walked.
        let bytes = if magic { [&ingest_lab::codec::BLOCK_MAGIC[..], &tail].concat() } else { tail };
        for v in BlockReader::new(&bytes).map_while(Result::ok) {
            for r in v.records() {
                let _ = r;
            }
        }
    }

    #[test]
    fn capped_decoder_never_panics_nor_passes_its_cap(
        data in prop::collection::vec(any::<u8>(), 0..20_000),
        codec in 0u8..3,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cap in 1u64..30_000,
    ) {
        // Valid streams, then damaged ones.
        let mut input = match codec {
            0 => data.clone(),
            1 => zstd::encode_all(&data[..], 1).unwrap(),
            _ => {
                use std::io::Write;
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&data).unwrap();
                e.finish().unwrap()
            }
        };
        for (at, v) in flips {
            if !input.is_empty() {
                let i = at.index(input.len());
                input[i] ^= v;
            }
        }
        let mut out = Vec::new();
        if let Ok(mut d) = CappedDecoder::new(&input[..], "fuzz", cap, 2) {
            let _ = d.read_to_end(&mut out);
        }
        prop_assert!(out.len() as u64 <= cap + 1, "{} bytes out of a {} cap", out.len(), cap);
    }

    #[test]
    fn lines_come_back_whole_or_reported_too_long(text in prop::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..3000), cap in 1usize..200) {
        let mut r = std::io::BufReader::with_capacity(16, &text[..]);
        let mut buf = Vec::new();
        let mut rebuilt: Vec<Vec<u8>> = Vec::new();
        loop {
            match read_record(&mut r, cap, &mut buf).unwrap() {
                Ok(false) => break,
                Ok(true) => {
                    // A trailing `\r` (a CRLF ending's) is the caller's to strip, outside the cap.
                    let content = buf.strip_suffix(b"\r").unwrap_or(&buf);
                    prop_assert!(content.len() <= cap);
                    rebuilt.push(buf.clone());
                }
                Err(n) => {
                    prop_assert!(n as usize > cap);
                    rebuilt.push(vec![b'?'; n as usize]);
                }
            }
        }
        let want: Vec<Vec<u8>> = {
            let mut v: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(|l| l.to_vec()).collect();
            if text.last() == Some(&b'\n') || text.is_empty() {
                v.pop();
            }
            v.into_iter()
                .map(|l| {
                    let content = l.strip_suffix(b"\r").unwrap_or(&l).len();
                    if content > cap { vec![b'?'; l.len()] } else { l }
                })
                .collect()
        };
        prop_assert_eq!(rebuilt, want);
    }

    #[test]
    fn validation_never_panics(line in prop::collection::vec(any::<u8>(), 0..400), json in "\\{(\"(ts|msg|x)\":(-?[0-9]{1,20}|\"[^\"]{0,30}\"|null|\\[\\]|\\{\\}|1\\.5),?){0,4}\\}") {
        let _ = Schema::V1.validate(&line);
        let _ = Schema::V2.validate(&line);
        let _ = Schema::V2.validate(json.as_bytes());
    }
}

/// Record lengths over the whole range a record may have: the edges of the record cap, lengths whose
/// frame header reads as a compression magic (35,615 = `1f 8b`, gzip's), and any length up to the cap.
fn big_records() -> impl Strategy<Value = Vec<Vec<u8>>> {
    const CAP: usize = ingest_lab::ingest::DEFAULT_MAX_RECORD_BYTES;
    let len = prop_oneof![
        Just(0usize),
        Just(1),
        Just(0x8b1f),
        Just(0x1_8b1f),
        Just(CAP - 1),
        Just(CAP),
        Just(CAP + 1),
        0..=CAP,
    ];
    prop::collection::vec(
        (len, any::<u64>()).prop_map(|(n, seed)| {
            // Compressible but not constant, like a log line repeated with variations.
            let mut x = seed | 1;
            (0..n)
                .map(|i| {
                    if i % 64 == 0 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                    }
                    b"abcdefghij klmnop"[(x as usize + i) % 17]
                })
                .collect()
        }),
        1..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn records_of_any_length_up_to_the_cap_round_trip_in_every_codec(recs in big_records(), codec in codec()) {
        let block = seal(&recs, codec);
        let view = BlockReader::new(&block).next().unwrap().unwrap();
        let back: Vec<Vec<u8>> = view.records().map(|r| r.unwrap().to_vec()).collect();
        prop_assert_eq!(back, recs);
    }
}

/// Several blocks back to back, as a segment holds them.
fn segment(blocks: &[Vec<Vec<u8>>], codec: Codec) -> (Vec<u8>, Vec<usize>) {
    let mut seg = Vec::new();
    let mut starts = Vec::new();
    for recs in blocks {
        starts.push(seg.len());
        seg.extend(seal(recs, codec));
    }
    (seg, starts)
}

proptest! {
    #[test]
    fn a_flip_in_block_k_leaves_every_block_before_k_readable(
        blocks in prop::collection::vec(records(), 1..6),
        codec in codec(),
        k in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (mut seg, starts) = segment(&blocks, codec);
        let k = k.index(blocks.len());
        let end = starts.get(k + 1).copied().unwrap_or(seg.len());
        let i = starts[k] + at.index(end - starts[k]);
        seg[i] ^= 1 << bit;
        let read: Vec<_> = BlockReader::new(&seg).collect();
        for (j, b) in read.iter().enumerate().take(k) {
            let b = b.as_ref().unwrap();
            let back: Vec<Vec<u8>> = b.records().map(|r| r.unwrap().to_vec()).collect();
            prop_assert_eq!(&back, &blocks[j]);
        }
        prop_assert!(read.len() == k + 1 && read[k].is_err(), "block {} of {} not the first failure", k, blocks.len());
    }

    #[test]
    fn a_valid_block_mutated_anywhere_never_reads_as_other_records(
        recs in records(),
        codec in codec(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        // Several byte replacements (not single bit flips): a block that still passes its CRC must be
        // the original.
        let block = seal(&recs, codec);
        let mut m = block.clone();
        for (at, v) in edits {
            let i = at.index(m.len());
            m[i] = v;
        }
        if let Some(Ok(v)) = BlockReader::new(&m).next() {
            let back: Result<Vec<Vec<u8>>, _> = v.records().map(|r| r.map(|r| r.to_vec())).collect();
            if let Ok(back) = back {
                prop_assert!(m == block || back == recs, "a mutated block read back as other records");
            }
        }
    }

    #[test]
    fn compressible_input_past_the_ratio_grace_is_stopped_by_the_ratio_cap(
        extra in 0usize..(1 << 20),
        level in 1i32..4,
    ) {
        // Past the 1 MiB grace, a stream that expands more than the ratio allows is refused.
        let n = ingest_lab::codec::RATIO_GRACE_BYTES as usize + extra + (64 << 10);
        let data = vec![b'a'; n];
        let z = zstd::encode_all(&data[..], level).unwrap();
        let mut d = CappedDecoder::new(&z[..], "ratio", u64::MAX / 4, 2)
            .unwrap()
            .with_max_ratio(Some(50.0));
        let mut out = Vec::new();
        let e = d.read_to_end(&mut out).unwrap_err();
        let msg = e.to_string();
        prop_assert!(msg.contains("ratio"), "{}", msg);
        prop_assert!((out.len() as u64) < n as u64);
    }
}
