//! A failed write or fdatasync during ingest stops it with an error naming the operation and the file;
//! nothing is reported committed that is not durable (the on-disk count equals the report's), and
//! re-running the same command afterwards completes with every record exactly once. Injected EIO and
//! ENOSPC, and a real ENOSPC on a 2 MiB tmpfs when this machine lets us mount one.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use ingest_lab::{
    ingest::ingest, ingest::ingest_into, ingest::record_id, ingest::scan, ingest::write_ndjson,
    ingest::IngestConfig, ingest::Mix, sink::Fault, sink::FaultOp, sink::FileSink,
    summary::RunError,
};

const N: u64 = 50_000;

fn input(dir: &Path) -> std::path::PathBuf {
    let mix = Mix::clean(4096);
    let mut v = Vec::new();
    write_ndjson(&mut v, 1, N, &mix, 1).unwrap();
    let p = dir.join("in.ndjson");
    std::fs::write(&p, v).unwrap();
    p
}

fn committed_ids(sink: &Path) -> Vec<u64> {
    let mut ids = Vec::new();
    scan(sink, false, &mut |r| ids.push(record_id(r).unwrap())).unwrap();
    ids
}

fn config(sink: &Path, input: &Path) -> IngestConfig {
    let mut cfg = IngestConfig::new(sink, vec![input.to_path_buf()]);
    cfg.run.window.max_items = 1000;
    cfg
}

/// Fail as told, check the failure, then finish with a clean re-run.
fn fail_then_resume(op: FaultOp, nth: u64, errno: i32, words: &[&str]) {
    let dir = common::tempdir();
    let input = input(dir.path());
    let sink_dir = dir.path().join("sink");
    let cfg = config(&sink_dir, &input);
    let mut sink = FileSink::open(&cfg.run.sink).unwrap();
    sink.inject_fault(Fault { op, nth, errno });
    let err = ingest_into(&cfg, sink).unwrap_err();
    let RunError::Sink { error, partial } = &err else {
        panic!("expected a sink failure, got {err}");
    };
    let msg = error.to_string();
    for w in words {
        assert!(msg.contains(w), "{msg} lacks {w}");
    }
    assert!(msg.contains("seg-"), "names the segment: {msg}");
    assert_eq!(partial.unaccounted(), 0, "{partial:?}");
    assert!(partial.rejected_by_reason.sink_failed > 0);
    // Nothing reported committed that is not on disk, and nothing on disk that was not reported.
    assert_eq!(committed_ids(&sink_dir).len() as u64, partial.committed);

    let r = ingest(&cfg).unwrap();
    assert_eq!(r.unaccounted(), 0);
    let ids = committed_ids(&sink_dir);
    assert_eq!(ids, (1..=N).collect::<Vec<_>>(), "exactly once, in order");
}

#[test]
fn injected_eio_on_fdatasync_stops_ingest_and_a_rerun_completes() {
    fail_then_resume(
        FaultOp::Fdatasync,
        3,
        libc::EIO,
        &["fdatasync", "Input/output error"],
    );
}

#[test]
fn injected_enospc_on_write_stops_ingest_and_a_rerun_completes() {
    fail_then_resume(FaultOp::Write, 5, libc::ENOSPC, &["write", "No space left"]);
}

#[test]
fn real_enospc_on_a_full_filesystem_stops_ingest_cleanly() {
    let dir = common::tempdir();
    let input = input(dir.path());
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        common::cannot_run_here("cannot mount a 2 MiB tmpfs (needs root)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mnt);
    let sink_dir = mnt.join("sink");
    let mut cfg = config(&sink_dir, &input);
    cfg.run.sink.segment_bytes = 1 << 20;
    let err = ingest(&cfg).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("No space left"), "{msg}");
    let RunError::Sink { partial, .. } = &err else {
        panic!("expected a sink failure, got {err}");
    };
    assert_eq!(partial.unaccounted(), 0);
    let ids = committed_ids(&sink_dir);
    assert_eq!(ids.len() as u64, partial.committed, "on disk = reported");
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());
    assert!(
        partial.committed > 1000 && partial.committed < N,
        "{}",
        partial.committed
    );
}
