use super::*;

#[test]
fn a_rejection_must_be_in_our_words_not_the_libraries() {
    // Before, "names the cap" accepted zstd's own "Destination buffer is too small" once our
    // message happened to mention the cap anywhere.
    let ours = format!("x/zeros.zst: decompressed output passed the cap of {CAP} bytes (zstd)");
    assert!(names_the_rejection(&ours, "zeros.zst", "passed the cap of"));
    let other_input = ours.replace("zeros.zst", "other.zst");
    assert!(!names_the_rejection(
        &other_input,
        "zeros.zst",
        "passed the cap of"
    ));
    let no_cap = "x/zeros.zst: decompressed output passed the cap of 5 bytes";
    assert!(!names_the_rejection(
        no_cap,
        "zeros.zst",
        "passed the cap of"
    ));
    let lib = format!("x/zeros.zst (cap {CAP} bytes): Destination buffer is too small");
    assert!(!names_the_rejection(&lib, "zeros.zst", "passed the cap of"));
    let lie =
        format!("x/lying-size.zst: invalid zstd data after 0 bytes of output (cap {CAP} bytes)");
    assert!(names_the_rejection(
        &lie,
        "lying-size.zst",
        "invalid zstd data"
    ));
}

#[test]
fn a_bomb_row_keeps_its_error_and_contrast_whole_and_the_report_finds_its_columns() {
    // Before, the hand-written row turned the error's quotes into apostrophes and the
    // contrast's commas into semicolons so that they would not break the row.
    let row = BombRow {
        input: "zeros.zst",
        what: "1 GiB of zeros, zstd",
        compressed_bytes: 32_768,
        result: "rejected".into(),
        seen_bytes: None,
        peak_rss_mb: rounded(9.04, 1),
        error: "x/zeros.zst: \"cap\", said\nthe decoder".into(),
        uncapped: uncapped_cell(&Some((false, Some(9), "memory, gone".into()))),
    };
    let d = crate::testutil::tempdir();
    write_csv_rows(d.path(), "bomb.csv", &[row]).unwrap();
    let c = crate::report::Csv::read(&d.path().join("bomb.csv")).unwrap();
    assert_eq!(
        c.header,
        [
            "input",
            "what",
            "compressed_bytes",
            "result",
            "seen_bytes",
            "peak_rss_mb",
            "error",
            "uncapped"
        ]
    );
    let r = &c.rows[0];
    assert_eq!(c.text(r, "input"), Some("zeros.zst"));
    assert_eq!(c.num(r, "peak_rss_mb"), Some(9.0));
    assert_eq!(c.num(r, "compressed_bytes"), Some(32_768.0));
    assert_eq!(c.text(r, "seen_bytes"), Some(""));
    assert_eq!(c.text(r, "what"), Some("1 GiB of zeros, zstd"));
    assert_eq!(
        c.text(r, "error"),
        Some("x/zeros.zst: \"cap\", said\nthe decoder")
    );
    assert_eq!(
        c.text(r, "uncapped"),
        Some("died (signal Some(9): memory, gone)")
    );
}

#[test]
fn a_lying_zstd_header_is_rejected_with_a_named_error() {
    let mut f = zstd_of_zeros(1 << 20, Some(1 << 20)).unwrap();
    lie_zstd_content_size(&mut f, 4096).unwrap();
    let e = crate::codec::CappedDecoder::new(&f[..], "lie.zst", 100_000, 2)
        .and_then(|mut d| std::io::copy(&mut d, &mut std::io::sink()))
        .unwrap_err();
    assert!(crate::codec::DecompressError::from_io(&e).is_some(), "{e}");
    assert!(e.to_string().contains("lie.zst"), "{e}");
}
