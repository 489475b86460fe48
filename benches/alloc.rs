//! Allocation profile (divan's `AllocProfiler`) of the steady-state path: the pipeline into a sink that
//! makes no syscalls, at two run lengths. divan prints allocations and bytes per run; the difference
//! between the lengths is the per-item cost (zero: buffers come from the pool, blocks are reused). The
//! same measurement is a pass/fail test in `tests/steady_state_allocates_nothing_per_item.rs`.

use divan::AllocProfiler;
use ingest_lab::{config::RunConfig, config::StopAfter, sink::NullSink};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

/// `pipeline/null_sink/items=N`: allocations per whole run of N items.
#[divan::bench(args = [100_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn null_sink_run(items: u64) -> u64 {
    let mut cfg = RunConfig::new("target/unused-null-sink");
    cfg.load.rate = None;
    cfg.load.stop = StopAfter::Items(items);
    ingest_lab::pipeline::run_with_sink(&cfg, NullSink::new())
        .expect("run")
        .committed
}
