//! The batcher loop itself, driven by a manual clock: flushes happen at the times and for the reasons
//! the window says, and latencies are exactly the clock's differences (no real time involved but the
//! waits, which a manual clock ends at once).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::clock::{ms, ManualClock};
use crate::sink::SinkCounters;

/// A sink that remembers, for each commit, how many records and when (on the manual clock); each
/// commit takes `takes` of the manual clock's time (a write and an fdatasync).
struct Recording {
    clock: Arc<ManualClock>,
    commits: Arc<Mutex<Vec<(u32, Nanos)>>>,
    takes: Duration,
}

impl Sink for Recording {
    fn commit(&mut self, _block: &[u8], records: u32) -> Result<(), SinkError> {
        self.clock.advance(self.takes);
        self.commits
            .lock()
            .unwrap()
            .push((records, self.clock.now()));
        Ok(())
    }
    fn counters(&self) -> SinkCounters {
        SinkCounters::default()
    }
}

fn item(intended: Nanos) -> Item {
    Item {
        intended,
        payload: b"{\"ts\":1,\"msg\":\"m\"}".to_vec(),
        source: None,
        dead: None,
    }
}

/// A batcher on a manual clock at 10 ms, its `Recording` sink's commits, and a queue holding an item
/// for each of `intended`: what each test drives.
struct Rig {
    clock: Arc<ManualClock>,
    commits: Arc<Mutex<Vec<(u32, Nanos)>>>,
    queue: Arc<BoundedQueue<Item>>,
    pool: Arc<BufferPool>,
    batcher: Batcher<Recording, Arc<ManualClock>>,
}

fn rig(window: WindowConfig, takes: Duration, intended: &[Nanos]) -> Rig {
    let clock = Arc::new(ManualClock::new(ms(10)));
    let commits = Arc::new(Mutex::new(Vec::new()));
    let sink = Recording {
        clock: Arc::clone(&clock),
        commits: Arc::clone(&commits),
        takes,
    };
    let queue = Arc::new(BoundedQueue::<Item>::new(
        64,
        crate::queue::OverflowPolicy::BLOCK,
    ));
    for &t in intended {
        queue.try_push(item(t)).unwrap();
    }
    let batcher = Batcher::new(window, Arc::clone(&clock), sink, Arc::new(Live::default()));
    Rig {
        clock,
        commits,
        queue,
        pool: Arc::new(BufferPool::new(64)),
        batcher,
    }
}

#[test]
fn with_a_manual_clock_the_batcher_flushes_at_the_linger_and_measures_latency_exactly() {
    let window = WindowConfig {
        max_items: 100,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(2),
    };
    let Rig {
        clock,
        commits,
        queue,
        pool,
        batcher: b,
    } = rig(window, Duration::ZERO, &[ms(9), ms(10), ms(10)]);
    let handle = {
        let (queue, pool) = (Arc::clone(&queue), Arc::clone(&pool));
        std::thread::spawn(move || b.run(&queue, &pool))
    };
    // Three items, far below the size bound: nothing may be committed before the linger has passed
    // on the manual clock, however long the batcher spins in real time.
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        commits.lock().unwrap().is_empty(),
        "flushed before its linger"
    );
    clock.set(ms(12)); // the first item entered the window at 10 ms: due at 12 ms
    let t0 = std::time::Instant::now();
    while commits.lock().unwrap().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(10), "never flushed");
        std::thread::yield_now();
    }
    queue.close();
    let (m, _, _, _, err, _) = handle.join().unwrap();
    assert!(err.is_none());
    assert_eq!(*commits.lock().unwrap(), vec![(3, ms(12))]);
    assert_eq!(
        m.flush_reasons.get(FlushReason::Deadline),
        1,
        "{:?}",
        m.flush_reasons
    );
    assert_eq!(m.committed, 3);
    // Latency from each intended time to the commit, on the manual clock: 3, 2 and 2 ms exactly.
    assert_eq!(m.latency_ns.len(), 3);
    assert_eq!(m.latency_ns.max(), m.latency_ns.highest_equivalent(ms(3)));
    assert_eq!(m.latency_ns.min(), m.latency_ns.lowest_equivalent(ms(2)));
}

#[test]
fn a_batch_s_commit_is_timed_from_its_flush_decision_to_the_sink_s_return() {
    // The commit figure is what a commit costs past the disk's fixed cost (framing, write,
    // fdatasync): it must be the whole commit, on the batcher's own clock.
    let window = WindowConfig {
        max_items: 2,
        max_bytes: 1 << 20,
        linger: Duration::from_secs(60),
    };
    let r = rig(window, Duration::from_millis(4), &[ms(10); 4]);
    r.queue.close();
    let (m, _, _, _, err, _) = r.batcher.run(&r.queue, &r.pool);
    let commits = r.commits;
    assert!(err.is_none());
    assert_eq!(commits.lock().unwrap().len(), 2, "two full batches of 2");
    assert_eq!(m.commit_ns.len(), 2);
    assert_eq!(m.commit_ns.min(), m.commit_ns.lowest_equivalent(ms(4)));
    assert_eq!(m.commit_ns.max(), m.commit_ns.highest_equivalent(ms(4)));
    // The sink's own part of each commit, by the block's size: both blocks in one class, 4 ms each.
    let classes = &m.sink_commit_classes;
    assert_eq!(classes.len(), 1, "{classes:?}");
    assert_eq!(classes[0].commits, 2);
    assert!(classes[0]
        .quantiles_us
        .iter()
        .all(|&q| (q - 4_000.0).abs() < 50.0));
}
