//! A real pipeline run into a FileSink: every offered item is committed exactly once, the syscall
//! counters match the batches, and what is on disk reads back frame by frame with valid CRCs.

mod common;

use std::time::Duration;

use ingest_lab::{batch::WindowConfig, payload::PayloadKind, payload::PayloadSource};

#[test]
fn batched_run_commits_every_item_once_with_one_write_and_one_fdatasync_per_batch() {
    let dir = common::tempdir();
    let window = WindowConfig {
        max_items: 64,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(2),
    };
    let cfg = common::small_run(dir.path(), 5_000, 50_000.0, window);
    let r = ingest_lab::pipeline::run(&cfg).unwrap();
    assert_eq!(r.offered, 5_000);
    assert_eq!(r.committed, 5_000);
    assert_eq!(r.unaccounted(), 0);
    assert_eq!((r.dropped, r.rejected, r.dead_lettered), (0, 0, 0));
    assert_eq!(r.write_syscalls, r.batches, "one write per batch");
    assert_eq!(r.fdatasyncs, r.batches, "one fdatasync per batch");
    assert!(
        r.batches < 5_000,
        "items were batched: {} batches",
        r.batches
    );
    assert!(r.batch_size.max <= 64);
    let f = r.flush_reasons;
    assert_eq!(f.items + f.bytes + f.deadline + f.shutdown, r.batches);
    assert_eq!(
        r.latency_us.count, 5_000,
        "one latency sample per committed item"
    );

    // On disk: exactly the offered payloads, in order, each CRC-checked.
    let records = common::read_all_records(dir.path());
    let mut expected = PayloadSource::new(PayloadKind::Log, 100, cfg.load.payload_seed);
    assert_eq!(records.len(), 5_000);
    for rec in &records {
        let mut want = Vec::new();
        expected.fill(&mut want);
        assert_eq!(rec, &want);
    }
    let bytes_on_disk: u64 = ingest_lab::ingest::segments(dir.path())
        .unwrap()
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(bytes_on_disk, r.bytes_written);
}

#[test]
fn unbatched_window_makes_one_fdatasync_per_item() {
    let dir = common::tempdir();
    let cfg = common::small_run(dir.path(), 200, 100_000.0, WindowConfig::UNBATCHED);
    let r = ingest_lab::pipeline::run(&cfg).unwrap();
    assert_eq!(
        (r.committed, r.batches, r.write_syscalls, r.fdatasyncs),
        (200, 200, 200, 200)
    );
    assert_eq!(r.flush_reasons.items, 200);
    assert_eq!(common::read_all_records(dir.path()).len(), 200);
}

#[test]
fn compressed_batches_read_back_exactly_and_write_fewer_bytes() {
    for codec in [
        ingest_lab::codec::Codec::Zstd,
        ingest_lab::codec::Codec::Gzip,
    ] {
        let dir = common::tempdir();
        let window = WindowConfig {
            max_items: 512,
            max_bytes: 1 << 20,
            linger: Duration::from_millis(5),
        };
        let mut cfg = common::small_run(dir.path(), 3_000, 100_000.0, window);
        cfg.compress = codec;
        let r = ingest_lab::pipeline::run(&cfg).unwrap();
        assert_eq!(r.committed, 3_000);
        let records = common::read_all_records(dir.path());
        let mut expected = PayloadSource::new(PayloadKind::Log, 100, cfg.load.payload_seed);
        for rec in &records {
            let mut want = Vec::new();
            expected.fill(&mut want);
            assert_eq!(rec, &want, "{codec:?}");
        }
        assert_eq!(records.len(), 3_000);
        assert!(
            r.bytes_written * 2 < 3_000 * 101,
            "{codec:?}: {} bytes",
            r.bytes_written
        );
    }
}
