//! A failed fdatasync mid-run stops the pipeline: nothing after it is committed, the error names the
//! path and the operation, and every offered item is accounted for as committed or rejected.

mod common;

use std::time::Duration;

use ingest_lab::{
    batch::WindowConfig, sink::Fault, sink::FaultOp, sink::FileSink, sink::SinkConfig,
    summary::RunError,
};

#[test]
fn injected_eio_on_the_third_fdatasync_stops_the_run_and_loses_nothing_silently() {
    let dir = common::tempdir();
    let window = WindowConfig {
        max_items: 10,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(1),
    };
    let cfg = common::small_run(dir.path(), 10_000, 20_000.0, window);
    let mut sink = FileSink::open(&SinkConfig::new(dir.path())).unwrap();
    sink.inject_fault(Fault {
        op: FaultOp::Fdatasync,
        nth: 3,
        errno: libc::EIO,
    });
    let err = ingest_lab::pipeline::run_with_sink(&cfg, sink).unwrap_err();
    let RunError::Sink { error, partial } = &err else {
        panic!("expected a sink failure, got {err}");
    };
    let msg = error.to_string();
    assert!(
        msg.contains("fdatasync") && msg.contains("seg-0000000000.log"),
        "{msg}"
    );
    assert_eq!(
        partial.batches, 2,
        "two batches were durable before the failure"
    );
    assert_eq!(partial.unaccounted(), 0, "{partial:?}");
    assert!(partial.rejected_by_reason.sink_failed >= 1);
    assert!(
        (2..=20).contains(&partial.committed),
        "{}",
        partial.committed
    );
    // Fail-stop at the syscall boundary: three writes and two fdatasyncs (the third was replaced by
    // the injected failure, so it never reached the kernel); nothing was written after it.
    assert_eq!(
        (partial.write_syscalls, partial.fdatasyncs),
        (3, 2),
        "{partial:?}"
    );
    // Durable means on disk, exactly: the two committed blocks are there with the records the
    // report calls committed, and the failed block's bytes were cut (it was never acknowledged).
    let seg = std::fs::read(dir.path().join("seg-0000000000.log")).unwrap();
    let blocks: Vec<u32> = ingest_lab::codec::BlockReader::new(&seg)
        .map(|b| b.unwrap().records)
        .collect();
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(
        blocks.iter().map(|&n| n as u64).sum::<u64>(),
        partial.committed
    );
    let on_disk = common::read_all_records(dir.path()).len() as u64;
    assert_eq!(on_disk, partial.committed);
    assert!(err.to_string().contains("accepted but not durable"));
}

#[test]
fn a_sample_taken_after_a_sink_failure_finds_every_item_lost_refused_or_committed() {
    // Before, the live samples had no place for what a sink failure lost: the fail-stop drain
    // counted the batcher's window and the queue's memory as lost in the report only, and an offer
    // refused by the closed queue was in `offered` and nowhere else, so the last sample of a failed
    // run did not add up (residual = lost + 1).
    let dir = common::tempdir();
    let window = WindowConfig {
        max_items: 10,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(1),
    };
    let mut cfg = common::small_run(dir.path(), 10_000, 20_000.0, window);
    cfg.observe.sample_every = Some(Duration::from_millis(5));
    let mut sink = FileSink::open(&SinkConfig::new(dir.path())).unwrap();
    sink.inject_fault(Fault {
        op: FaultOp::Fdatasync,
        nth: 3,
        errno: libc::EIO,
    });
    let err = ingest_lab::pipeline::run_with_sink(&cfg, sink).unwrap_err();
    let RunError::Sink { partial, .. } = &err else {
        panic!("expected a sink failure, got {err}");
    };
    let last = partial.samples.last().expect("the run sampled");
    assert_eq!(last.residual(), 0, "{last:?}");
    assert_eq!(
        (
            last.offered,
            last.committed,
            last.lost,
            last.rejected_queue_closed
        ),
        (
            partial.offered,
            partial.committed,
            partial.rejected_by_reason.sink_failed,
            partial.rejected_by_reason.queue_closed
        ),
        "{last:?}"
    );
    assert!(last.lost >= 1, "the failed batch was lost: {last:?}");
}
