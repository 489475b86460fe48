//! Zero allocations per item in steady state: the whole in-process path (generator, queue, window,
//! framing, buffer pool, batcher) into a sink that makes no syscalls, counted by a global allocator.
//! Two runs of different lengths with everything else equal: their difference in allocations, divided
//! by their difference in items, is what each item costs beyond the fixed set-up (threads, histograms,
//! pools filling up). It must be zero, up to a rounding allowance of one allocation per 10 000 items
//! (pool and vector growth that amortizes to nothing).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use ingest_lab::{NullSink, RunConfig, StopAfter, WindowConfig};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(l.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(n as u64, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocations_for(items: u64) -> (u64, u64) {
    let mut cfg = RunConfig::new("target/unused-null-sink");
    cfg.window = WindowConfig::default();
    cfg.load.rate = None;
    cfg.load.stop = StopAfter::Items(items);
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let r = ingest_lab::run_with_sink(&cfg, NullSink::new()).unwrap();
    assert_eq!(r.committed, items);
    (
        ALLOCS.load(Ordering::Relaxed) - a0,
        BYTES.load(Ordering::Relaxed) - b0,
    )
}

#[test]
fn steady_state_allocates_nothing_per_item() {
    let _warm = allocations_for(50_000);
    let (short_a, short_b) = allocations_for(200_000);
    let (long_a, long_b) = allocations_for(2_000_000);
    let per_item = (long_a as f64 - short_a as f64) / 1_800_000.0;
    let bytes_per_item = (long_b as f64 - short_b as f64) / 1_800_000.0;
    eprintln!(
        "allocations: {short_a} for 200k items, {long_a} for 2M: {per_item:.6} per item, {bytes_per_item:.3} bytes per item"
    );
    assert!(
        per_item <= 1e-4,
        "{per_item:.6} allocations per item in steady state ({short_a} for 200k items, {long_a} for 2M)"
    );
}
