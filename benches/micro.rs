//! Micro benchmarks (criterion). Ids read `component/operation/parameter`.
//!
//! - `sink/write_fdatasync/batch=N`: one block of N 100-byte records, one write + one fdatasync; with
//!   throughput in elements, criterion reports items/s, so the fixed per-sync cost shows as time per item
//!   falling ~1/N until bandwidth bounds it. Writes into `target/ingest-lab/bench-sink` (a real disk,
//!   warned if tmpfs), capped by segment retention, removed afterwards.
//! - `queue/push_pop/items=1024`, `window/push_due/items=1024`, `codec/frame_encode/bytes=100`: the
//!   in-process pieces of the per-item cost.
//! - `pipeline/null_sink/items=1000000`: the whole in-process path (generator, queue, window, framing,
//!   pool) into a sink that makes no syscalls: the pipeline's own overhead per item.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ingest_lab::{
    batch::BatchWindow, batch::WindowConfig, codec::BlockBuilder, config::RunConfig,
    config::StopAfter, queue::BoundedQueue, queue::OverflowPolicy, queue::PopStatus,
    sink::free_bytes, sink::FileSink, sink::FsInfo, sink::NullSink, sink::Sink, sink::SinkConfig,
};

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ingest-lab/bench-sink")
}

fn sink(c: &mut Criterion) {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).expect("create bench sink dir");
    let free = free_bytes(&dir).unwrap_or(0);
    if free < (256 << 20) {
        eprintln!(
            "SKIPPING sink benches: only {} MiB free in {} (need 256 MiB)",
            free >> 20,
            dir.display()
        );
        return;
    }
    if let Ok(fs) = FsInfo::of(&dir) {
        if let Some(w) = fs.warning(&dir) {
            eprintln!("{w}");
        }
    }
    let mut cfg = SinkConfig::new(&dir);
    cfg.segment_bytes = 32 << 20;
    cfg.retain_segments = Some(2);
    let mut s = FileSink::open(&cfg).expect("open bench sink");
    let payload = [b'x'; 100];
    let mut g = c.benchmark_group("sink");
    g.sample_size(20);
    for n in [1usize, 8, 64, 512, 4096] {
        let mut b = BlockBuilder::with_capacity(n * 108);
        for _ in 0..n {
            b.push(&payload);
        }
        let block = b.seal().to_vec();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("write_fdatasync", format!("batch={n}")),
            &block,
            |bch, block| bch.iter(|| s.commit(block, n as u32).expect("commit")),
        );
    }
    g.finish();
    s.finish_retention();
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

fn in_process(c: &mut Criterion) {
    const N: usize = 1024;
    let mut g = c.benchmark_group("queue");
    g.throughput(Throughput::Elements(N as u64));
    let q = BoundedQueue::new(N, OverflowPolicy::BLOCK);
    let mut out = Vec::with_capacity(N);
    g.bench_function(BenchmarkId::new("push_pop", format!("items={N}")), |b| {
        b.iter(|| {
            for i in 0..N as u64 {
                q.push(i).unwrap();
            }
            out.clear();
            assert_eq!(q.pop_batch(&mut out, N, 1, None), PopStatus::Items(N));
        })
    });
    g.finish();

    let mut g = c.benchmark_group("window");
    g.throughput(Throughput::Elements(N as u64));
    let mut w = BatchWindow::new(WindowConfig::default());
    g.bench_function(BenchmarkId::new("push_due", format!("items={N}")), |b| {
        b.iter(|| {
            let mut flushes = 0;
            for i in 0..N as u64 {
                if w.must_flush_before(108).is_some() {
                    w.flush(ingest_lab::flush::FlushReason::Bytes, i);
                }
                if let Some(r) = w.push(108, i) {
                    w.flush(r, i);
                    flushes += 1;
                }
                if let Some(r) = w.due(i) {
                    w.flush(r, i);
                    flushes += 1;
                }
            }
            std::hint::black_box(flushes)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));
    let payload = [b'x'; 100];
    let mut blk = BlockBuilder::with_capacity(1 << 20);
    g.bench_function(BenchmarkId::new("frame_encode", "bytes=100"), |b| {
        b.iter(|| {
            if blk.records() >= 8192 {
                blk.reset();
            }
            blk.push(std::hint::black_box(&payload));
        })
    });
    g.finish();
}

/// Record validation on generated log records: the fast scan against serde_json, the reference it is
/// tested against (same verdicts; `src/ingest/json.rs`).
fn validate(c: &mut Criterion) {
    const N: u64 = 10_000;
    let mut text = Vec::new();
    ingest_lab::ingest::write_ndjson(&mut text, 1, N, &ingest_lab::ingest::Mix::clean(1 << 20), 7)
        .expect("generate");
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(lines.len() as u64));
    let schema = ingest_lab::ingest::Schema::V1;
    g.bench_function(BenchmarkId::new("validate", "scan"), |b| {
        b.iter(|| lines.iter().filter(|l| schema.validate(l).is_ok()).count())
    });
    g.bench_function(BenchmarkId::new("validate", "serde_json"), |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| schema.validate_by_serde(l).is_ok())
                .count()
        })
    });
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    const ITEMS: u64 = 1_000_000;
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10).throughput(Throughput::Elements(ITEMS));
    let mut cfg = RunConfig::new(bench_dir());
    cfg.load.rate = None;
    cfg.load.stop = StopAfter::Items(ITEMS);
    g.bench_function(
        BenchmarkId::new("null_sink", format!("items={ITEMS}")),
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t0 = Instant::now();
                    let r =
                        ingest_lab::pipeline::run_with_sink(&cfg, NullSink::new()).expect("run");
                    total += t0.elapsed();
                    assert_eq!(r.committed, ITEMS);
                }
                total
            })
        },
    );
    g.finish();
    // Silence the unused-trait warning when only NullSink is used here.
    let _ = <NullSink as Sink>::counters;
}

/// Short windows: `make bench` runs these for the report's per-operation figures (it does not judge
/// their speed), inside its 15-minute budget; `cargo bench` with criterion's own flags measures longer.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
}

criterion_group! {
    name = benches;
    config = config();
    targets = in_process, validate, pipeline, sink
}
criterion_main!(benches);
