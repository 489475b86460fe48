//! Tests of `queue/bounded.rs`.

use super::*;
use std::sync::Arc;

#[test]
fn block_with_a_timeout_hands_the_item_back_after_waiting_that_long() {
    let q = BoundedQueue::new(
        1,
        OverflowPolicy::Block {
            timeout: Some(Duration::from_millis(30)),
        },
    );
    assert_eq!(q.push(1), Ok(PushOutcome::Accepted));
    let t0 = Instant::now();
    assert_eq!(q.push(2), Ok(PushOutcome::TimedOut(2)));
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(30), "{waited:?}");
    assert!(q.producer_blocked() >= Duration::from_millis(29));
    // Room within the timeout: accepted.
    let q = Arc::new(q);
    let q2 = Arc::clone(&q);
    let popper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        let mut out = Vec::new();
        q2.pop_batch(&mut out, 1, 1, None);
        out
    });
    assert_eq!(q.push(3), Ok(PushOutcome::Accepted));
    assert_eq!(popper.join().unwrap(), vec![1]);
}

#[test]
fn try_push_on_full_queue_hands_the_item_back() {
    let q = BoundedQueue::new(2, OverflowPolicy::BLOCK);
    q.try_push(1).unwrap();
    q.try_push(2).unwrap();
    assert_eq!(q.try_push(3), Err(PushError::Full(3)));
    q.close();
    assert_eq!(q.try_push(4), Err(PushError::Closed(4)));
}

#[test]
fn drop_newest_refuses_the_arriving_item_and_keeps_order() {
    let q = BoundedQueue::new(2, OverflowPolicy::DropNewest);
    assert_eq!(q.push(1), Ok(PushOutcome::Accepted));
    assert_eq!(q.push(2), Ok(PushOutcome::Accepted));
    assert_eq!(q.push(3), Ok(PushOutcome::Dropped(3)));
    let mut out = vec![];
    assert_eq!(q.pop_batch(&mut out, 10, 1, None), PopStatus::Items(2));
    assert_eq!(out, vec![1, 2]);
}

#[test]
fn drop_oldest_evicts_the_front_and_queues_the_new_item() {
    let q = BoundedQueue::new(2, OverflowPolicy::DropOldest);
    q.push(1).unwrap();
    q.push(2).unwrap();
    assert_eq!(q.push(3), Ok(PushOutcome::Evicted(vec![1])));
    let mut out = vec![];
    q.pop_batch(&mut out, 10, 1, None);
    assert_eq!(out, vec![2, 3]);
}

/// An in-memory spill store for tests.
struct VecSpill(VecDeque<u32>, usize);
impl SpillStore<u32> for VecSpill {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn append(&mut self, item: u32) -> Result<(), (u32, std::io::Error)> {
        if self.0.len() >= self.1 {
            return Err((item, std::io::ErrorKind::StorageFull.into()));
        }
        self.0.push_back(item);
        Ok(())
    }
    fn take(&mut self, out: &mut Vec<u32>, max: usize) -> std::io::Result<usize> {
        let n = max.min(self.0.len());
        out.extend(self.0.drain(..n));
        Ok(n)
    }
}

#[test]
fn spill_keeps_fifo_order_across_memory_and_disk_and_drops_only_when_the_spill_is_full() {
    let q = BoundedQueue::with_spill(
        2,
        OverflowPolicy::SPILL,
        Box::new(VecSpill(VecDeque::new(), 3)),
    );
    assert_eq!(q.push(1), Ok(PushOutcome::Accepted));
    assert_eq!(q.push(2), Ok(PushOutcome::Accepted));
    assert_eq!(q.push(3), Ok(PushOutcome::Spilled));
    let mut out = vec![];
    q.pop_batch(&mut out, 1, 1, None); // memory has room again...
    assert_eq!(
        q.push(4),
        Ok(PushOutcome::Spilled),
        "...but while spilling, new items spill"
    );
    assert_eq!(q.push(5), Ok(PushOutcome::Spilled));
    assert_eq!(q.push(6), Ok(PushOutcome::Dropped(6)), "spill holds 3");
    while q.pop_batch(&mut out, 10, 1, Some(Instant::now())) != PopStatus::TimedOut {}
    assert_eq!(out, vec![1, 2, 3, 4, 5]);
    assert_eq!((q.spilled_now(), q.spilled_total()), (0, 3));
    assert_eq!(
        q.push(7),
        Ok(PushOutcome::Accepted),
        "spill drained: memory again"
    );
}

#[test]
fn pop_batch_takes_at_most_max_and_times_out_when_empty() {
    let q = BoundedQueue::new(8, OverflowPolicy::BLOCK);
    for i in 0..5 {
        q.push(i).unwrap();
    }
    let mut out = vec![];
    assert_eq!(q.pop_batch(&mut out, 3, 1, None), PopStatus::Items(3));
    assert_eq!(q.len(), 2);
    out.clear();
    q.pop_batch(&mut out, 3, 1, None);
    assert_eq!(out, vec![3, 4]);
    let past = Instant::now();
    assert_eq!(q.pop_batch(&mut out, 3, 1, Some(past)), PopStatus::TimedOut);
}

#[test]
fn pop_waits_for_want_items_but_returns_fewer_at_the_deadline() {
    let q = Arc::new(BoundedQueue::new(16, OverflowPolicy::BLOCK));
    q.push(1).unwrap();
    let mut out = vec![];
    // 1 queued, 4 wanted, deadline 30 ms away: returns the 1 at the deadline, not before.
    let t0 = Instant::now();
    let st = q.pop_batch(&mut out, 8, 4, Some(t0 + Duration::from_millis(30)));
    assert_eq!(st, PopStatus::Items(1));
    assert!(t0.elapsed() >= Duration::from_millis(30));
    // Reaching `want` wakes the consumer before its deadline.
    let q2 = Arc::clone(&q);
    let producer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        for i in 0..4 {
            q2.push(i).unwrap();
        }
    });
    out.clear();
    let t0 = Instant::now();
    let st = q.pop_batch(&mut out, 8, 4, Some(t0 + Duration::from_secs(10)));
    producer.join().unwrap();
    assert_eq!(st, PopStatus::Items(4));
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn blocked_producer_resumes_when_consumer_pops_and_fails_when_closed() {
    let q = Arc::new(BoundedQueue::new(1, OverflowPolicy::BLOCK));
    q.push(0u32).unwrap();
    let q2 = Arc::clone(&q);
    let producer = std::thread::spawn(move || q2.push(1));
    // The producer cannot finish until we pop; give it time to block, then pop.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(q.len(), 1);
    let mut out = vec![];
    q.pop_batch(&mut out, 1, 1, None);
    assert_eq!(producer.join().unwrap(), Ok(PushOutcome::Accepted));
    assert_eq!(q.len(), 1);

    let q3 = Arc::clone(&q);
    let blocked = std::thread::spawn(move || q3.push(2));
    std::thread::sleep(Duration::from_millis(20));
    q.close();
    assert_eq!(blocked.join().unwrap(), Err(PushError::Closed(2)));
    // Closed but not empty: the queued item still comes out, then Closed.
    out.clear();
    assert_eq!(q.pop_batch(&mut out, 8, 1, None), PopStatus::Items(1));
    assert_eq!(q.pop_batch(&mut out, 8, 1, None), PopStatus::Closed);
}

#[test]
fn a_queue_bounded_in_bytes_holds_at_most_its_bytes_of_one_mib_records() {
    // Before: bounded only in items — 32,768 queued records of up to 1 MiB each.
    const MIB: usize = 1 << 20;
    let q = BoundedQueue::new(32_768, OverflowPolicy::DropNewest)
        .with_byte_capacity(8 * MIB, |v: &Vec<u8>| v.capacity());
    let mut accepted = 0;
    for _ in 0..100 {
        match q.push(vec![7u8; MIB]) {
            Ok(PushOutcome::Accepted) => accepted += 1,
            Ok(PushOutcome::Dropped(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(accepted, 8);
    assert!(q.bytes() <= 8 * MIB);
    let mut out = Vec::new();
    assert_eq!(q.pop_batch(&mut out, 3, 1, None), PopStatus::Items(3));
    assert_eq!(q.bytes(), 5 * MIB);
    // One item larger than the whole bound still passes an empty queue (no deadlock).
    let q = BoundedQueue::new(4, OverflowPolicy::DropNewest)
        .with_byte_capacity(MIB, |v: &Vec<u8>| v.capacity());
    assert_eq!(q.push(vec![0u8; 3 * MIB]), Ok(PushOutcome::Accepted));
    assert!(matches!(q.push(vec![0u8; 10]), Ok(PushOutcome::Dropped(_))));
}

#[test]
fn drop_oldest_evicts_as_many_as_the_byte_bound_needs() {
    let q = BoundedQueue::new(100, OverflowPolicy::DropOldest)
        .with_byte_capacity(100, |v: &Vec<u8>| v.len());
    for _ in 0..10 {
        assert_eq!(q.push(vec![1u8; 10]), Ok(PushOutcome::Accepted));
    }
    match q.push(vec![2u8; 35]) {
        Ok(PushOutcome::Evicted(v)) => assert_eq!(v.len(), 4),
        other => panic!("{other:?}"),
    }
    assert_eq!(q.bytes(), 95);
}

#[test]
fn an_unreadable_spill_closes_the_queue_with_its_error_instead_of_panicking() {
    // Before: pop_batch panicked while holding the queue's lock.
    struct Broken(u64);
    impl SpillStore<u32> for Broken {
        fn len(&self) -> u64 {
            self.0
        }
        fn append(&mut self, _: u32) -> Result<(), (u32, std::io::Error)> {
            self.0 += 1;
            Ok(())
        }
        fn take(&mut self, _: &mut Vec<u32>, _: usize) -> std::io::Result<usize> {
            Err(std::io::Error::other("bad sector"))
        }
    }
    let q = BoundedQueue::with_spill(1, OverflowPolicy::SPILL, Box::new(Broken(0)));
    assert_eq!(q.push(1), Ok(PushOutcome::Accepted));
    assert_eq!(q.push(2), Ok(PushOutcome::Spilled));
    let mut out = Vec::new();
    assert_eq!(q.pop_batch(&mut out, 10, 1, None), PopStatus::Items(1));
    assert_eq!(q.pop_batch(&mut out, 10, 1, None), PopStatus::Closed);
    assert!(q.spill_error().unwrap().contains("bad sector"));
    assert!(matches!(q.push(3), Err(PushError::Closed(3))));
}
