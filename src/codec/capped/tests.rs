//! Tests of `codec/capped.rs`.

use super::*;
use std::io::Write;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn drain(d: &mut CappedDecoder) -> io::Result<u64> {
    io::copy(d, &mut io::sink())
}

#[test]
fn legitimate_input_under_the_cap_passes_untouched() {
    let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
    for enc in [
        gzip(&data),
        zstd::encode_all(&data[..], 3).unwrap(),
        data.clone(),
    ] {
        let mut d = CappedDecoder::new(&enc[..], "ok", 1 << 20, 2).unwrap();
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }
}

#[test]
fn output_past_the_cap_fails_naming_cap_input_and_bytes_seen() {
    let zeros = vec![0u8; 1 << 20];
    let bomb = zstd::encode_all(&zeros[..], 1).unwrap();
    let mut d = CappedDecoder::new(&bomb[..], "bomb.zst", 1000, 2).unwrap();
    let e = drain(&mut d).unwrap_err();
    let de = DecompressError::from_io(&e).expect("a cap error");
    assert!(
        matches!(
            de,
            DecompressError::CapExceeded {
                cap: 1000,
                seen: 1001,
                ..
            }
        ),
        "{de}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("bomb.zst") && msg.contains("1000 bytes") && msg.contains("1001"),
        "{msg}"
    );
}

#[test]
fn nested_gzip_is_decoded_and_capped_and_too_deep_nesting_is_refused() {
    let zeros = vec![0u8; 1 << 20];
    let nested = gzip(&gzip(&zeros));
    let mut d = CappedDecoder::new(&nested[..], "nested.gz", 4096, 2).unwrap();
    assert_eq!(d.layers(), &[Codec::Gzip, Codec::Gzip]);
    assert!(drain(&mut d).is_err());
    let triple = gzip(&nested);
    let e = CappedDecoder::new(&triple[..], "t.gz", 4096, 2)
        .err()
        .unwrap();
    assert!(e.to_string().contains("nested"), "{e}");
}

#[test]
fn truncated_input_is_a_clear_error_naming_input_and_cap() {
    let data = vec![7u8; 100_000];
    let z = zstd::encode_all(&data[..], 3).unwrap();
    let e = CappedDecoder::new(&z[..z.len() / 2], "cut.zst", 1 << 20, 2)
        .and_then(|mut d| drain(&mut d))
        .unwrap_err();
    assert!(
        matches!(
            DecompressError::from_io(&e),
            Some(DecompressError::Corrupt { .. })
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("cut.zst") && msg.contains("cap 1048576 bytes"),
        "{msg}"
    );
}

#[test]
fn concatenated_frames_share_one_cap() {
    let part = zstd::encode_all(&vec![0u8; 3000][..], 1).unwrap();
    let many: Vec<u8> = part.iter().copied().cycle().take(part.len() * 4).collect();
    let mut ok = CappedDecoder::new(&many[..], "m", 12_000, 2).unwrap();
    assert_eq!(drain(&mut ok).unwrap(), 12_000);
    let mut capped = CappedDecoder::new(&many[..], "m", 10_000, 2).unwrap();
    assert!(drain(&mut capped).is_err());
}

#[test]
fn an_oversized_record_is_skipped_without_holding_it_and_the_next_one_is_read() {
    let mut input = b"short\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend(b"\nnext\nlast");
    let mut r = BufReader::with_capacity(4096, &input[..]);
    let mut buf = Vec::new();
    assert_eq!(read_record(&mut r, 1000, &mut buf).unwrap(), Ok(true));
    assert_eq!(buf, b"short");
    assert_eq!(read_record(&mut r, 1000, &mut buf).unwrap(), Err(100_000));
    assert!(
        buf.capacity() < 8192,
        "the long line was never held: {}",
        buf.capacity()
    );
    assert_eq!(read_record(&mut r, 1000, &mut buf).unwrap(), Ok(true));
    assert_eq!(buf, b"next");
    assert_eq!(read_record(&mut r, 1000, &mut buf).unwrap(), Ok(true));
    assert_eq!(buf, b"last");
    assert_eq!(read_record(&mut r, 1000, &mut buf).unwrap(), Ok(false));
}

#[test]
fn a_crlf_record_of_exactly_the_cap_is_a_record_not_an_over_long_line() {
    // Found by the crash simulation once its inputs had CRLF endings: the `\r` was counted toward
    // the cap, so a record of exactly --max-record-bytes was dead-lettered as too long, its bytes
    // not kept.
    let cap = 10;
    let mut input = Vec::new();
    for len in [cap, cap + 1] {
        input.extend(std::iter::repeat_n(b'x', len));
        input.extend(b"\r\n");
    }
    input.extend(std::iter::repeat_n(b'y', cap));
    input.push(b'\r'); // unterminated, at the cap
    for chunk in [1, 3, 4096] {
        let mut r = BufReader::with_capacity(chunk, &input[..]);
        let mut buf = Vec::new();
        assert_eq!(read_record(&mut r, cap, &mut buf).unwrap(), Ok(true));
        assert_eq!(buf.len(), cap + 1, "the record and its \\r");
        assert_eq!(
            read_record(&mut r, cap, &mut buf).unwrap(),
            Err(cap as u64 + 2)
        );
        assert_eq!(read_record(&mut r, cap, &mut buf).unwrap(), Ok(true));
        assert_eq!(&buf[..cap], &[b'y'; 10][..]);
        assert_eq!(read_record(&mut r, cap, &mut buf).unwrap(), Ok(false));
        // A line of cap + 1 bytes whose last is not `\r` is over the cap.
        let mut r = BufReader::with_capacity(chunk, &b"0123456789A\n"[..]);
        assert_eq!(read_record(&mut r, cap, &mut buf).unwrap(), Err(11));
    }
}
