//! Deterministic instruction counts (gungraun, formerly iai-callgrind) for the hot-path pieces, run
//! under Callgrind: the same binary and input give the same count whatever else the machine does, so
//! `ci/icount.sh` can gate CI on them against budgets committed in `ci/icount-budgets.tsv`.
//!
//! Each bench does a fixed amount of work (stated in its id) so a count divided by that is a cost per
//! item: `window/push_due/items=1024`, `frame/encode_crc/records=1024`, `queue/push_pop/items=1024`,
//! `split/plan/batch=4096`, `capped/gzip/kib=64`, `aimd/step/steps=1000`, `schema/validate/records=1024`.

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Duration;

use gungraun::{library_benchmark, library_benchmark_group, main};
use ingest_lab::{
    batch::aimd_step, batch::AimdConfig, batch::AimdObservation, batch::AimdState,
    batch::BatchWindow, batch::WindowConfig, codec::BlockBuilder, codec::CappedDecoder,
    ingest::Schema, queue::BoundedQueue, queue::OverflowPolicy, queue::PopStatus, retry::SplitPlan,
    retry::SplitStep,
};

fn records(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(r#"{{"id":{i},"ts":1764097320000,"level":"info","msg":"GET /api/v1/items 200 {i}ms"}}"#)
                .into_bytes()
        })
        .collect()
}

#[library_benchmark]
fn window_push_due() -> u64 {
    let mut w = BatchWindow::new(WindowConfig {
        max_items: 4096,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(1),
    });
    let mut flushes = 0;
    for i in 0..1024u64 {
        if w.must_flush_before(108).is_some() || w.push(108, i * 1000).is_some() {
            w.flush(ingest_lab::flush::FlushReason::Items, i * 1000);
            flushes += 1;
        }
        if w.due(black_box(i * 1000)).is_some() {
            flushes += 1;
        }
    }
    flushes
}

#[library_benchmark]
#[bench::records(setup = records, args = (1024))]
fn block_push(recs: Vec<Vec<u8>>) -> usize {
    let mut b = BlockBuilder::with_capacity(128 * 1024);
    for r in &recs {
        b.push(black_box(r));
    }
    b.seal().len()
}

#[library_benchmark]
fn queue_push_pop() -> usize {
    let q = BoundedQueue::new(2048, OverflowPolicy::BLOCK);
    let mut out = Vec::with_capacity(1024);
    for i in 0..1024u64 {
        let _ = q.try_push(black_box(i));
    }
    let status = q.pop_batch(&mut out, 1024, 1, None);
    assert!(matches!(status, PopStatus::Items(1024)));
    out.len()
}

#[library_benchmark]
fn split_plan_one_poison() -> u32 {
    let poison = 2999;
    let mut plan = SplitPlan::after_rejected_batch(4096);
    while let Some(r) = plan.next_range() {
        if r.contains(&poison) {
            if let SplitStep::Isolated { .. } = plan.rejected() {}
        } else {
            plan.accepted();
        }
    }
    plan.attempts()
}

fn gzip_64k() -> Vec<u8> {
    let data: Vec<u8> = records(700).concat().into_iter().take(64 << 10).collect();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&data).unwrap();
    e.finish().unwrap()
}

#[library_benchmark]
#[bench::kib64(setup = gzip_64k)]
fn capped_gzip(input: Vec<u8>) -> usize {
    let mut d = CappedDecoder::new(&input[..], "bench", 1 << 20, 2).unwrap();
    let mut out = Vec::with_capacity(70 << 10);
    d.read_to_end(&mut out).unwrap();
    out.len()
}

#[library_benchmark]
fn aimd_steps() -> Duration {
    let cfg = AimdConfig::default();
    let slo = Duration::from_millis(10);
    let mut state = AimdState::new(&cfg, Duration::ZERO);
    for i in 0..1000u64 {
        let obs = AimdObservation {
            p99: Duration::from_micros(2000 + (i * 37) % 9000),
            items: 10_000,
            arrivals_per_commit: (i % 7) as f64,
            recent_arrivals_per_commit: ((i + 3) % 7) as f64,
            recent_commit: Duration::from_micros(500),
            // Now and then a stall (past 9.5 ms with the recent mean): the breach-behind-a-stall path.
            slowest_commit: Duration::from_micros(500 + (i % 13) * 800),
            fresh_intervals: (i % 60) as usize,
        };
        state = aimd_step(&cfg, slo, state, black_box(&obs)).0;
    }
    state.linger
}

#[library_benchmark]
#[bench::records(setup = records, args = (1024))]
fn schema_validate(recs: Vec<Vec<u8>>) -> usize {
    recs.iter()
        .filter(|r| Schema::V1.validate(black_box(r)).is_ok())
        .count()
}

library_benchmark_group!(
    name = hot_path;
    benchmarks = window_push_due, block_push, queue_push_pop, split_plan_one_poison,
        capped_gzip, aimd_steps, schema_validate
);

main!(library_benchmark_groups = hot_path);
