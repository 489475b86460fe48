//! Tests of `sink/file.rs`.

use super::*;
use crate::codec::{BlockBuilder, BlockReader};

fn block(n: usize) -> (Vec<u8>, u32) {
    let mut b = BlockBuilder::with_capacity(1024);
    for i in 0..n {
        b.push(format!("record-{i}").as_bytes());
    }
    (b.seal().to_vec(), n as u32)
}

#[test]
fn one_commit_is_one_write_and_one_fdatasync() {
    let dir = crate::testutil::tempdir();
    let mut s = FileSink::open(&SinkConfig::new(dir.path())).unwrap();
    let (b, n) = block(10);
    s.commit(&b, n).unwrap();
    s.commit(&b, n).unwrap();
    let c = s.counters();
    assert_eq!(
        (c.write_syscalls, c.fdatasyncs, c.blocks, c.records),
        (2, 2, 2, 20)
    );
    assert_eq!(c.bytes_written, 2 * b.len() as u64);
    let bytes = std::fs::read(s.current_segment()).unwrap();
    assert_eq!(BlockReader::new(&bytes).count(), 2);
    assert_eq!(s.sync_latency_ns().unwrap().len(), 2);
}

#[test]
fn segments_rotate_at_the_size_limit_and_retention_deletes_the_oldest() {
    let dir = crate::testutil::tempdir();
    let mut cfg = SinkConfig::new(dir.path());
    cfg.segment_bytes = 4096;
    cfg.retain_segments = Some(2);
    let mut s = FileSink::open(&cfg).unwrap();
    let (b, n) = block(150); // ~1.6 KB
    for _ in 0..10 {
        s.commit(&b, n).unwrap();
    }
    let mut c = s.counters();
    let reaper_removed = {
        s.reaper.as_mut().unwrap().finish();
        s.reaper.as_ref().unwrap().removed.load(Ordering::Relaxed)
    };
    c.segments_removed = reaper_removed;
    // 2 blocks fit per 4 KiB segment: 10 blocks -> 5 segments, 3 removed.
    assert_eq!(c.segments_opened, 5);
    assert_eq!(c.segments_removed, 3);
    assert_eq!(crate::ingest::segments(dir.path()).unwrap().len(), 2);
}

#[test]
fn retention_never_reaps_segments_that_were_there_before_the_sink_opened() {
    let dir = crate::testutil::tempdir();
    let old = dir.path().join(segment_name(0));
    std::fs::write(&old, crate::testutil::sealed_block(&[b"someone else's"])).unwrap();
    let mut cfg = SinkConfig::new(dir.path());
    cfg.segment_bytes = 4096;
    cfg.retain_segments = Some(1);
    let mut s = FileSink::open(&cfg).unwrap();
    let (b, n) = block(100);
    for _ in 0..6 {
        s.commit(&b, n).unwrap();
    }
    s.reaper.as_mut().unwrap().finish();
    assert!(old.exists(), "a pre-existing segment was reaped");
}

#[test]
fn a_crash_mid_reap_leaves_no_half_truncated_segment() {
    // Before: the reaper truncated the segment under its own name, so a crash between two steps
    // left `seg-N.log` ending mid-block with newer segments after it, and start-up refused forever.
    let dir = crate::testutil::tempdir();
    let seg = dir.path().join(segment_name(0));
    std::fs::write(&seg, crate::testutil::sealed_block(&[b"old"])).unwrap();
    // What a crash after the rename and one truncation step leaves behind.
    let mut doomed = seg.clone().into_os_string();
    doomed.push(REAPING_SUFFIX);
    std::fs::rename(&seg, &doomed).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&doomed)
        .unwrap()
        .set_len(7)
        .unwrap();
    std::fs::write(
        dir.path().join(segment_name(1)),
        crate::testutil::sealed_block(&[b"new"]),
    )
    .unwrap();
    let r =
        crate::ingest::recover(dir.path(), false).expect("the half-reaped file is not a segment");
    assert_eq!(r.records, 1);
    let mut cfg = SinkConfig::new(dir.path());
    cfg.retain_segments = Some(2);
    let _s = FileSink::open(&cfg).unwrap();
    assert!(
        !std::path::Path::new(&doomed).exists(),
        "open finishes the interrupted reap"
    );
}

#[test]
fn reopening_continues_in_a_new_segment_and_keeps_the_old() {
    let dir = crate::testutil::tempdir();
    let cfg = SinkConfig::new(dir.path());
    let (b, n) = block(3);
    FileSink::open(&cfg).unwrap().commit(&b, n).unwrap();
    let s2 = FileSink::open(&cfg).unwrap();
    assert!(s2.current_segment().ends_with(segment_name(1)));
    assert!(dir.path().join(segment_name(0)).exists());
}

#[test]
fn failed_fdatasync_poisons_the_sink_and_names_path_and_operation() {
    let dir = crate::testutil::tempdir();
    let mut s = FileSink::open(&SinkConfig::new(dir.path())).unwrap();
    let (b, n) = block(2);
    s.inject_fault(Fault {
        op: FaultOp::Fdatasync,
        nth: 2,
        errno: libc::EIO,
    });
    s.commit(&b, n).unwrap();
    let err = s.commit(&b, n).unwrap_err().to_string();
    assert!(
        err.contains("fdatasync") && err.contains("seg-0000000000.log"),
        "{err}"
    );
    assert!(s.is_poisoned());
    // Every later call fails too, even though the injected fault was one-shot: no retry of a failed
    // fsync can be trusted.
    let later = s.commit(&b, n).unwrap_err();
    assert!(
        matches!(
            later,
            SinkError::Poisoned {
                op: "fdatasync",
                ..
            }
        ),
        "{later}"
    );
    assert_eq!(s.counters().blocks, 1, "only the first block was durable");
}

#[test]
fn failed_write_poisons_too() {
    let dir = crate::testutil::tempdir();
    let mut s = FileSink::open(&SinkConfig::new(dir.path())).unwrap();
    s.inject_fault(Fault {
        op: FaultOp::Write,
        nth: 1,
        errno: libc::ENOSPC,
    });
    let (b, n) = block(1);
    let err = s.commit(&b, n).unwrap_err().to_string();
    assert!(err.contains("write") && err.contains("No space"), "{err}");
    assert!(s.commit(&b, n).is_err());
    assert_eq!(s.counters().fdatasyncs, 0);
}
