//! Dead letters are bounded and durable within the same window bounds as records. Before, they were
//! buffered in the DLQ until a block of *valid* records was committed: a file of nothing but records
//! that fail the schema (RFC 3339 `ts` under v1 — the case the DLQ exists for) was held whole in
//! memory (207 MB of input → 608 MB peak RSS), made durable by one fdatasync at the very end, and a
//! `kill -9` halfway lost all its progress.

mod common;

use std::io::Write;

fn all_invalid(path: &std::path::Path, lines: u64) -> u64 {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut bytes = 0;
    for i in 0..lines {
        let l = format!(
            "{{\"ts\":\"2026-11-{:02}T10:{:02}:{:02}.{:03}Z\",\"msg\":\"GET /api/v1/items/{i} 200 {}ms\",\"pad\":\"{}\"}}\n",
            1 + i % 28,
            i / 60 % 60,
            i % 60,
            i % 1000,
            i * 7 % 997,
            "x".repeat((i % 200) as usize)
        );
        bytes += l.len() as u64;
        w.write_all(l.as_bytes()).unwrap();
    }
    w.flush().unwrap();
    bytes
}

/// Ingest `lines` invalid lines into a fresh sink; the JSON report and the input's bytes.
fn ingest_all_invalid(dir: &std::path::Path, lines: u64) -> (serde_json::Value, u64) {
    let input = dir.join(format!("rfc3339-{lines}.ndjson"));
    let bytes = all_invalid(&input, lines);
    let sink = dir.join(format!("sink-{lines}"));
    let mut args: Vec<std::ffi::OsString> = [
        "ingest",
        "--json",
        "--max-items",
        "2048",
        "--queue-capacity",
        "4096",
        "--dir",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push(sink.clone().into());
    args.push(input.clone().into());
    let r = common::ingest_lab_json(args);
    assert_eq!(r["records_in"], lines);
    assert_eq!(r["dead_lettered"], lines);
    assert_eq!(r["committed"], 0);
    // Durable as the window fills, not once at the end: one DLQ sync per window of 2048.
    let syncs = r["dlq_fdatasyncs"].as_u64().unwrap();
    assert!(
        syncs >= lines / 2048,
        "{syncs} DLQ fdatasyncs for {lines} dead letters"
    );
    // And their positions committed with them: a block per window.
    let rec = ingest_lab::ingest::recover(&sink, false).unwrap();
    assert!(
        rec.control_records >= lines / 2048,
        "{} position records",
        rec.control_records
    );
    assert_eq!(
        rec.positions[&ingest_lab::ingest::input_key(&input)].line,
        lines
    );
    (r, bytes)
}

#[test]
fn a_file_of_only_schema_failures_is_dead_lettered_batch_by_batch_in_bounded_memory() {
    let dir = common::tempdir();
    let (small, small_bytes) = ingest_all_invalid(dir.path(), 40_000);
    let (large, large_bytes) = ingest_all_invalid(dir.path(), 160_000);
    // Memory does not grow with the input: every dead letter (escaped into JSON) was held before.
    let rss = |r: &serde_json::Value| r["peak_rss_bytes"].as_u64().unwrap();
    assert!(
        rss(&large) < rss(&small) + (8 << 20),
        "peak RSS {} bytes for {large_bytes} bytes of input vs {} bytes for {small_bytes}",
        rss(&large),
        rss(&small)
    );
}
