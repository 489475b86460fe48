//! Latency is measured from each item's intended send time: a sink that stalls makes every item queued
//! behind the stall late, not just the one in flight (no coordinated omission).

mod common;

use std::time::Duration;

use ingest_lab::{
    batch::WindowConfig, error::SinkError, sink::NullSink, sink::Sink, sink::SinkCounters,
};

/// A sink that takes 200 ms once, on its 5th commit, and is instant otherwise.
struct StallOnce {
    inner: NullSink,
    n: u32,
}

impl Sink for StallOnce {
    fn commit(&mut self, block: &[u8], records: u32) -> Result<(), SinkError> {
        self.n += 1;
        if self.n == 5 {
            std::thread::sleep(Duration::from_millis(200));
        }
        self.inner.commit(block, records)
    }
    fn counters(&self) -> SinkCounters {
        self.inner.counters()
    }
}

#[test]
fn one_stalled_commit_shows_in_the_tail_of_every_item_scheduled_during_it() {
    let dir = common::tempdir();
    // 2000 items/s for 1 s, unbatched: the 200 ms stall covers ~400 scheduled items (20 %).
    let cfg = common::small_run(dir.path(), 2_000, 2_000.0, WindowConfig::UNBATCHED);
    let r = ingest_lab::pipeline::run_with_sink(
        &cfg,
        StallOnce {
            inner: NullSink::new(),
            n: 0,
        },
    )
    .unwrap();
    assert_eq!(r.committed, 2_000);
    assert!(r.latency_us.max >= 190_000.0, "max {}", r.latency_us.max);
    // A closed-loop measurement would report one slow item; open loop puts the stall in p90 and p99.
    assert!(r.latency_us.p90 >= 50_000.0, "p90 {}", r.latency_us.p90);
    assert!(r.latency_us.p99 >= 150_000.0, "p99 {}", r.latency_us.p99);
    assert!(r.latency_us.p50 < 50_000.0, "p50 {}", r.latency_us.p50);
}
