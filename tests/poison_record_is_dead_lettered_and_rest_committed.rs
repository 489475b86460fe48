//! Split-and-retry on a validating sink: each poison record ends in the dead-letter queue with its
//! reason, id and attempt count; every other record is committed exactly once, in order.

mod common;

use std::time::Duration;

use ingest_lab::{
    batch::WindowConfig, payload::parse_id, payload::PoisonSpec, retry::DeadLetterQueue,
    retry::RetryStrategy, sink::utf8_record, sink::FileSink, sink::SinkConfig,
    sink::ValidatingSink, summary::RunError,
};

fn window() -> WindowConfig {
    WindowConfig {
        max_items: 64,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(1),
    }
}

#[test]
fn poison_records_are_dead_lettered_and_the_rest_committed_once_in_order() {
    let dir = common::tempdir();
    let spec = PoisonSpec {
        seed: 3,
        one_in: 50,
    };
    let mut cfg = common::small_run(dir.path(), 3_000, 30_000.0, window());
    cfg.load.ids = true;
    cfg.load.poison = Some(spec);
    cfg.retry = RetryStrategy::SplitAndRetry;
    let sink = FileSink::open(&SinkConfig::new(dir.path())).unwrap();
    let r =
        ingest_lab::pipeline::run_with_sink(&cfg, ValidatingSink::new(sink, utf8_record)).unwrap();

    let injected: Vec<u64> = (0..3_000).filter(|&i| spec.is_poison(i)).collect();
    assert!(!injected.is_empty());
    assert_eq!(r.dead_lettered, injected.len() as u64);
    assert_eq!(r.committed + r.dead_lettered, 3_000);
    assert_eq!(r.unaccounted(), 0);

    let dlq = DeadLetterQueue::read_all(&cfg.dlq_dir().join("dead-letter.jsonl")).unwrap();
    let mut ids: Vec<u64> = dlq.iter().map(|d| d.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, injected);
    for d in &dlq {
        assert!(d.reason.contains("UTF-8"), "{d:?}");
        assert_eq!(d.source, format!("generator seq {}", d.id));
        assert!((2..=8).contains(&d.attempts), "O(log 64) attempts: {d:?}");
    }
    let committed: Vec<u64> = common::read_all_records(dir.path())
        .iter()
        .map(|p| parse_id(p).unwrap())
        .collect();
    let expected: Vec<u64> = (0..3_000).filter(|&i| !spec.is_poison(i)).collect();
    assert_eq!(committed, expected);
}

#[test]
fn without_a_retry_strategy_a_rejected_batch_stops_the_run_and_counts_reconcile() {
    let dir = common::tempdir();
    let mut cfg = common::small_run(dir.path(), 2_000, 30_000.0, window());
    cfg.load.ids = true;
    cfg.load.poison = Some(PoisonSpec {
        seed: 3,
        one_in: 50,
    });
    let sink = FileSink::open(&SinkConfig::new(dir.path())).unwrap();
    let err = ingest_lab::pipeline::run_with_sink(&cfg, ValidatingSink::new(sink, utf8_record))
        .unwrap_err();
    let RunError::Sink { error, partial } = err else {
        panic!("expected a sink rejection");
    };
    assert!(error.to_string().contains("rejected"), "{error}");
    assert_eq!(partial.unaccounted(), 0, "{partial:?}");
    assert!(partial.rejected_by_reason.sink_failed >= 1);
}
