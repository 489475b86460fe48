//! The queue is bounded in bytes, not only in items, and the bound holds with the largest records the
//! record cap allows. Before: 32,768 queued items of up to 1 MiB each, and recycled buffers kept the
//! capacity of the largest record they had held.

mod common;

use std::io::Write;

#[test]
fn ingest_of_one_mib_records_stays_within_the_queue_byte_bound() {
    let dir = common::tempdir();
    let input = dir.path().join("big.ndjson");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    let cap = ingest_lab::ingest::DEFAULT_MAX_RECORD_BYTES;
    let records = 96;
    for i in 0..records {
        let head = format!("{{\"ts\":{i},\"msg\":\"");
        let pad = cap - head.len() - 2; // exactly at the cap
        w.write_all(head.as_bytes()).unwrap();
        w.write_all(&vec![b'a' + (i % 26) as u8; pad]).unwrap();
        w.write_all(b"\"}\n").unwrap();
    }
    drop(w);
    let input_bytes = std::fs::metadata(&input).unwrap().len();
    let sink = dir.path().join("sink");
    let r = common::ingest_lab_json([
        std::ffi::OsStr::new("ingest"),
        "--json".as_ref(),
        "--queue-max-bytes".as_ref(),
        "8388608".as_ref(),
        "--dir".as_ref(),
        sink.as_os_str(),
        input.as_os_str(),
    ]);
    assert_eq!(r["committed"], records);
    // The reader outruns the sink (one fdatasync per ~1 MiB batch), so without a byte bound the
    // queue holds most of the input. With an 8 MiB bound: the queue, one window's block, the
    // reader's buffers and the process image.
    let rss = r["peak_rss_bytes"].as_u64().unwrap();
    assert!(
        rss < (40 << 20) && rss < input_bytes / 2,
        "peak RSS {rss} bytes for {input_bytes} bytes of 1 MiB records"
    );
    assert!(
        r["run"]["queue_depth_max"].as_u64().unwrap() <= 9,
        "{}",
        r["run"]["queue_depth_max"]
    );
}
