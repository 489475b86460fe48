//! Zero allocations per item in steady state: the whole in-process path (generator, queue, window,
//! framing, buffer pool, batcher) into a sink that makes no syscalls, counted by a global allocator.
//!
//! The run is open-loop at a steady 1 M items/s for 3 s; allocations are read at 1.0 s and at 2.5 s,
//! after set-up and after the buffer pool has grown to what the queue depth needs (buffers are created
//! on demand until then, and a burst can still add some: bounded by the queue capacity, never per item).
//! Between the two readings ~1.5 M items pass; at most one allocation per 10 000 items is allowed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ingest_lab::{NullSink, RunConfig, StopAfter, WindowConfig};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

// A claim about the optimized build: a debug build is ~10× slower, its queue runs deeper and the pool is
// still growing at 1 s. `make test` runs this test in release (ci/test.sh), as does `make bench`.
#[test]
#[cfg_attr(debug_assertions, ignore = "run in release: ci/test.sh does")]
fn steady_state_allocates_nothing_per_item() {
    const RATE: f64 = 1_000_000.0;
    let mut cfg = RunConfig::new("target/unused-null-sink");
    cfg.window = WindowConfig::default();
    cfg.load.rate = Some(RATE);
    cfg.load.stop = StopAfter::Duration(Duration::from_secs(3));
    let run = std::thread::spawn(move || ingest_lab::run_with_sink(&cfg, NullSink::new()).unwrap());
    std::thread::sleep(Duration::from_millis(1000));
    let a1 = ALLOCS.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1500));
    let a2 = ALLOCS.load(Ordering::Relaxed);
    let r = run.join().unwrap();
    assert_eq!(r.unaccounted(), 0);
    assert!(
        r.throughput_items_per_s > 0.9 * RATE,
        "the run did not keep up ({:.0} items/s): not a steady state",
        r.throughput_items_per_s
    );
    let items = RATE * 1.5;
    let per_item = (a2 - a1) as f64 / items;
    eprintln!(
        "allocations: {a1} at 1.0 s, {a2} at 2.5 s: {} in steady state over {items:.0} items = {per_item:.6} per item",
        a2 - a1
    );
    assert!(
        per_item <= 1e-4,
        "{per_item:.6} allocations per item in steady state ({} over {items:.0} items)",
        a2 - a1
    );
}
