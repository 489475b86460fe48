//! A bounded MPSC queue: a mutex-protected ring with two condvars. The consumer takes items in bulk
//! (`pop_batch`), so it locks once per batch, not once per item; producers lock once per item.
//! Condvars are signalled only when someone is waiting, so the uncontended push is one lock and a
//! `VecDeque::push_back`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{OverflowPolicy, SpillStore};
use crate::error::PushError;

/// What a push did.
#[derive(Debug, PartialEq, Eq)]
pub enum PushOutcome<T> {
    /// The item is in the queue.
    Accepted,
    /// `DropNewest` on a full queue: this is the item you pushed, not queued. Count it as dropped.
    Dropped(T),
    /// `DropOldest` on a full queue: your item is queued, and these, the oldest, were evicted to make
    /// room for it (one, unless the byte bound needed more). Count each as dropped.
    Evicted(Vec<T>),
    /// `Spill`: the item is queued on disk.
    Spilled,
    /// `Block` with a timeout (Kafka's `max.block.ms`): no room came within it; this is your item, not
    /// queued. Count it as rejected (`block_timeout`).
    TimedOut(T),
}

/// What `pop_batch` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopStatus {
    /// This many items were moved into the output (at least one).
    Items(usize),
    /// The deadline passed with the queue empty.
    TimedOut,
    /// The queue is closed and empty: nothing will ever arrive.
    Closed,
}

/// Where the queue's items are at one instant: a sample that read the depth and the pop count
/// apart could see an item the consumer was popping in neither (gone from the queue, its pop not
/// yet counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueNow {
    /// Items queued in memory.
    pub len: u64,
    /// Items waiting in the spill.
    pub spilled: u64,
    /// Items ever popped.
    pub popped_total: u64,
}

struct State<T> {
    items: VecDeque<T>,
    /// What the queued items weigh (see [`BoundedQueue::with_byte_capacity`]).
    bytes: usize,
    closed: bool,
    consumer_waiting: bool,
    /// While the consumer waits: the queue length that is worth waking it for.
    wake_at_len: usize,
    producers_waiting: usize,
    spill: Option<Box<dyn SpillStore<T>>>,
    spilled_total: u64,
    /// Items ever popped.
    popped_total: u64,
    /// For each spill read not yet acknowledged: the pop count it ends at, and the spill's position
    /// after it.
    spill_marks: VecDeque<(u64, u64)>,
    /// The first spill read error: the queue is closed and the batcher stops with it.
    spill_error: Option<String>,
}

impl<T> State<T> {
    fn spilled_now(&self) -> usize {
        self.spill.as_ref().map_or(0, |s| s.len() as usize)
    }
    fn available(&self) -> usize {
        self.items.len() + self.spilled_now()
    }
}

/// A bounded multi-producer, single-consumer queue with an [`OverflowPolicy`].
pub struct BoundedQueue<T> {
    state: Mutex<State<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
    capacity_bytes: usize,
    weigh: fn(&T) -> usize,
    policy: OverflowPolicy,
    blocked_ns: AtomicU64,
    /// `Block`'s timeout, copied out of the policy for the push path.
    block_timeout: Option<Duration>,
}

fn weightless<T>(_: &T) -> usize {
    0
}

impl<T> BoundedQueue<T> {
    /// A queue holding at most `capacity` items (`capacity >= 1`).
    pub fn new(capacity: usize, policy: OverflowPolicy) -> Self {
        assert!(capacity >= 1, "queue capacity must be at least 1");
        assert!(
            !policy.spills(),
            "a Spill queue needs its store: use BoundedQueue::with_spill"
        );
        Self::build(capacity, policy, None)
    }

    /// A `Spill` queue: at most `capacity` items in memory, the rest in `store` (opened from the
    /// policy's settings by the caller, who owns the storage).
    pub fn with_spill(
        capacity: usize,
        policy: OverflowPolicy,
        store: Box<dyn SpillStore<T>>,
    ) -> Self {
        assert!(capacity >= 1, "queue capacity must be at least 1");
        assert!(policy.spills(), "with_spill needs a Spill policy");
        Self::build(capacity, policy, Some(store))
    }

    fn build(
        capacity: usize,
        policy: OverflowPolicy,
        spill: Option<Box<dyn SpillStore<T>>>,
    ) -> Self {
        let block_timeout = match &policy {
            OverflowPolicy::Block { timeout } => *timeout,
            _ => None,
        };
        BoundedQueue {
            state: Mutex::new(State {
                // An "unbounded" queue (capacity usize::MAX, the OOM contrast) must not reserve it.
                items: VecDeque::with_capacity(capacity.min(1 << 16)),
                bytes: 0,
                closed: false,
                consumer_waiting: false,
                wake_at_len: 1,
                producers_waiting: 0,
                spill,
                spilled_total: 0,
                popped_total: 0,
                spill_marks: VecDeque::new(),
                spill_error: None,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity,
            capacity_bytes: usize::MAX,
            weigh: weightless::<T>,
            policy,
            blocked_ns: AtomicU64::new(0),
            block_timeout,
        }
    }

    /// Also bound the queue in bytes: an item is admitted while the items queued in memory weigh at
    /// most `capacity_bytes` with it (`weigh` says what one weighs), or when the queue is empty — so
    /// the memory the queue holds is at most `capacity_bytes`, or one item when a single item is
    /// larger. Past it the overflow policy applies, as past the item capacity.
    pub fn with_byte_capacity(mut self, capacity_bytes: usize, weigh: fn(&T) -> usize) -> Self {
        self.capacity_bytes = capacity_bytes;
        self.weigh = weigh;
        self
    }

    /// True when a byte bound is set (without one, nothing is weighed: the hot path stays as it was).
    #[inline]
    fn weighs(&self) -> bool {
        self.capacity_bytes != usize::MAX
    }

    /// What `item` weighs (0 without a byte bound).
    #[inline]
    fn weight(&self, item: &T) -> usize {
        if self.weighs() {
            (self.weigh)(item)
        } else {
            0
        }
    }

    /// True when an item weighing `w` fits now.
    #[inline]
    fn room(&self, s: &State<T>, w: usize) -> bool {
        if !self.weighs() {
            return s.items.len() < self.capacity;
        }
        s.items.is_empty()
            || (s.items.len() < self.capacity && s.bytes.saturating_add(w) <= self.capacity_bytes)
    }

    #[inline]
    fn enqueue(&self, s: &mut State<T>, item: T) {
        if self.weighs() {
            s.bytes += (self.weigh)(&item);
        }
        s.items.push_back(item);
    }

    /// What the items queued in memory weigh now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Total time producers have spent blocked in `push` on a full queue (`Block` policy).
    pub fn producer_blocked(&self) -> Duration {
        Duration::from_nanos(self.blocked_ns.load(Ordering::Relaxed))
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves plain data behind; keep going rather than cascade.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The policy this queue applies when full.
    pub fn policy(&self) -> &OverflowPolicy {
        &self.policy
    }

    /// Maximum number of queued items.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items queued in memory now.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Items queued in memory now, waiting in the spill now, and ever popped — read under one lock,
    /// so an item the consumer is popping is in exactly one of them (see [`QueueNow`]).
    pub fn now(&self) -> QueueNow {
        let s = self.lock();
        QueueNow {
            len: s.items.len() as u64,
            spilled: s.spilled_now() as u64,
            popped_total: s.popped_total,
        }
    }

    /// Items waiting in the spill now (0 unless `Spill`).
    pub fn spilled_now(&self) -> usize {
        self.lock().spilled_now()
    }

    /// Items ever spilled.
    pub fn spilled_total(&self) -> u64 {
        self.lock().spilled_total
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queue `item` if there is room now; otherwise hand it back as `Full` (whatever the policy) or
    /// `Closed`.
    pub fn try_push(&self, item: T) -> Result<(), PushError<T>> {
        let mut s = self.lock();
        if s.closed {
            return Err(PushError::Closed(item));
        }
        if !self.room(&s, self.weight(&item)) {
            return Err(PushError::Full(item));
        }
        self.enqueue(&mut s, item);
        self.wake_consumer(&s);
        Ok(())
    }

    /// Queue `item`, applying the overflow policy when full: `Block` waits for room, `DropNewest` hands
    /// the item back, `DropOldest` evicts and hands back the oldest. `Closed` if the queue is (or, while
    /// blocked, becomes) closed.
    pub fn push(&self, item: T) -> Result<PushOutcome<T>, PushError<T>> {
        let mut s = self.lock();
        let give_up = self.block_timeout.map(|t| Instant::now() + t);
        let w = self.weight(&item);
        loop {
            if s.closed {
                return Err(PushError::Closed(item));
            }
            let spilling = s.spilled_now() > 0;
            if self.room(&s, w) && !spilling {
                self.enqueue(&mut s, item);
                self.wake_consumer(&s);
                return Ok(PushOutcome::Accepted);
            }
            match self.policy {
                OverflowPolicy::Spill { .. } => {
                    let store = s.spill.as_mut().expect("a Spill queue has a store");
                    return match store.append(item) {
                        Ok(()) => {
                            s.spilled_total += 1;
                            self.wake_consumer(&s);
                            Ok(PushOutcome::Spilled)
                        }
                        // The spill is full or failing: the newest item is refused, counted as dropped.
                        Err((item, _)) => Ok(PushOutcome::Dropped(item)),
                    };
                }
                OverflowPolicy::Block { .. } => {
                    let t0 = Instant::now();
                    if give_up.is_some_and(|g| t0 >= g) {
                        return Ok(PushOutcome::TimedOut(item));
                    }
                    s.producers_waiting += 1;
                    s = match give_up {
                        None => self.not_full.wait(s).unwrap_or_else(|p| p.into_inner()),
                        Some(g) => {
                            self.not_full
                                .wait_timeout(s, g - t0)
                                .unwrap_or_else(|p| p.into_inner())
                                .0
                        }
                    };
                    self.blocked_ns
                        .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    s.producers_waiting -= 1;
                }
                OverflowPolicy::DropNewest => return Ok(PushOutcome::Dropped(item)),
                OverflowPolicy::DropOldest => {
                    let mut evicted = Vec::with_capacity(1);
                    while !self.room(&s, w) {
                        let oldest = s.items.pop_front().expect("a full queue has a front");
                        s.bytes -= self.weight(&oldest);
                        evicted.push(oldest);
                    }
                    self.enqueue(&mut s, item);
                    self.wake_consumer(&s);
                    return Ok(PushOutcome::Evicted(evicted));
                }
            }
        }
    }

    fn wake_consumer(&self, s: &State<T>) {
        if s.consumer_waiting && s.available() >= s.wake_at_len {
            self.not_empty.notify_one();
        }
    }

    /// Move up to `max` items into `out` once at least `want` are queued, or once `wait_until` passes
    /// with at least one queued (forever if `None`). A `wait_until` in the past never blocks.
    ///
    /// `want` is how a lingering batcher avoids a wake-up per item: with a batch open it asks for the
    /// items that would fill it, and otherwise sleeps to its deadline. Producers signal only when the
    /// queue reaches `want`.
    pub fn pop_batch(
        &self,
        out: &mut Vec<T>,
        max: usize,
        want: usize,
        wait_until: Option<Instant>,
    ) -> PopStatus {
        let want = want.clamp(1, self.capacity);
        let mut s = self.lock();
        loop {
            let len = s.available();
            let expired = wait_until.is_some_and(|t| Instant::now() >= t);
            if len >= want || (len > 0 && (s.closed || expired)) {
                // Memory first (older), then the spill (newer), so FIFO order holds.
                let n = if s.items.is_empty() {
                    let store = s.spill.as_mut().expect("available items are in the spill");
                    match store.take(out, max) {
                        Ok(n) => {
                            let pos = store.read_pos();
                            let end = s.popped_total + n as u64;
                            s.spill_marks.push_back((end, pos));
                            n
                        }
                        Err(e) => {
                            // Fail-stop, without a panic under the lock: the batcher sees the
                            // closed queue and the error.
                            s.spill_error = Some(e.to_string());
                            s.closed = true;
                            self.not_full.notify_all();
                            return PopStatus::Closed;
                        }
                    }
                } else {
                    let n = max.min(s.items.len());
                    let start = out.len();
                    out.extend(s.items.drain(..n));
                    if self.weighs() {
                        let gone: usize = out[start..].iter().map(self.weigh).sum();
                        s.bytes -= gone;
                    }
                    n
                };
                // Wake blocked producers only once the queue has drained to half: one wake-up per
                // refill instead of one per popped item (with an unbatched sink that was a futex wake and
                // a context switch per fdatasync).
                s.popped_total += n as u64;
                if s.producers_waiting > 0
                    && s.items.len() <= self.capacity / 2
                    && s.bytes <= self.capacity_bytes / 2
                {
                    self.not_full.notify_all();
                }
                return PopStatus::Items(n);
            }
            if s.closed {
                return PopStatus::Closed;
            }
            if expired {
                return PopStatus::TimedOut;
            }
            s.consumer_waiting = true;
            s.wake_at_len = want;
            s = match wait_until {
                None => self.not_empty.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(t) => {
                    let left = t.saturating_duration_since(Instant::now());
                    self.not_empty
                        .wait_timeout(s, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            s.consumer_waiting = false;
            s.wake_at_len = 1;
        }
    }

    /// The first `done` items ever popped are committed downstream: acknowledge the spill reads they
    /// came from, so a restart resumes after them (before this, a crash reads them again: spilled
    /// items are delivered at least once, never lost to a crash between take and commit).
    pub fn ack_spill(&self, done: u64) -> std::io::Result<()> {
        let mut s = self.lock();
        let mut pos = None;
        while s.spill_marks.front().is_some_and(|m| m.0 <= done) {
            pos = s.spill_marks.pop_front().map(|m| m.1);
        }
        match (pos, s.spill.as_mut()) {
            (Some(p), Some(store)) => store.ack(p),
            _ => Ok(()),
        }
    }

    /// Items ever popped.
    pub fn popped_total(&self) -> u64 {
        self.lock().popped_total
    }

    /// Why the spill could not be read, if it could not (the queue is then closed).
    pub fn spill_error(&self) -> Option<String> {
        self.lock().spill_error.clone()
    }

    /// Stop accepting items. Queued items can still be popped; blocked producers get `Closed`.
    pub fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }
}

#[cfg(test)]
mod tests;
