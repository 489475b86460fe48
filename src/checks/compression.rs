//! `check compression`: compression only pays on filled batches. Each batch of framed log-like records
//! (seeded: timestamps, levels, hosts, paths, statuses, messages) is compressed as one unit, so the codec
//! can use repetition *across* records; a batch of one record has little to work with and the codec's
//! own framing can make it larger. Measured two ways: the ratio curve over batch sizes (both codecs, with
//! CPU time per item), and real pipeline runs writing compressed blocks through the file sink.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::common::{
    clean_and_settle, measured_run, rounded, write_csv_rows, CheckOptions, CheckResult, Criterion,
    Whole,
};
use super::error::CheckError;
use super::real_logs::{blocks_vs_whole_file, real_logs, MIN_SHARE_OF_WHOLE_FILE};
use crate::codec::{BlockBuilder, Codec, BLOCK_HEADER_BYTES};
use crate::config::{LoadShape, PayloadKind, SinkConfig, StopAfter, WindowConfig};
use crate::payload::PayloadSource;
use crate::sink::bench_appends;
use crate::summary::RunReport;

/// Batch sizes of the curve.
pub const BATCH_SIZES: [usize; 5] = [1, 8, 64, 512, 4096];

/// Bytes the uncompressed format would have written for `r`'s items: log payloads hold no `\n`, so
/// the lines layout frames each with one byte.
fn plain_bytes(r: &RunReport) -> f64 {
    (r.committed * (r.settings.item_bytes + 1) as u64 + r.batches * BLOCK_HEADER_BYTES as u64)
        as f64
}

/// One codec at one batch size, as a row of `compression.csv`.
#[derive(Debug, Serialize)]
struct CurveRow {
    codec: &'static str,
    batch: usize,
    plain_bytes_per_item: f64,
    written_bytes_per_item: f64,
    ratio: f64,
    cpu_ns_per_item: Whole,
}

/// One pipeline run, or the disk's raw bandwidth, as a row of `compression-runs.csv`.
#[derive(Debug, Serialize)]
struct RunRow {
    case: &'static str,
    // The disk's row has only bandwidths: its other cells are empty.
    items_per_s: Option<Whole>,
    logical_mb_per_s: f64,
    written_mb_per_s: f64,
    ratio: Option<f64>,
    mean_batch: Option<f64>,
    p99_us: Option<Whole>,
    cpu_process_cores: Option<f64>,
}

/// Run the check.
pub fn compression(opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    let min_time = if opts.quick {
        Duration::from_millis(50)
    } else {
        Duration::from_millis(300)
    };
    let mut src = PayloadSource::new(PayloadKind::Log, 100, 7);
    let mut rows = Vec::new();
    let mut curve = Vec::new();
    for codec in [Codec::Zstd, Codec::Gzip] {
        for n in BATCH_SIZES {
            let mut b = BlockBuilder::with_capacity(n * 120);
            for _ in 0..n {
                let mut p = Vec::new();
                src.fill(&mut p);
                b.push(&p);
            }
            let plain = b.seal().len();
            let (mut reps, t0) = (0u64, Instant::now());
            let mut packed = 0;
            while t0.elapsed() < min_time || reps == 0 {
                packed = b
                    .seal_with(codec)
                    .map_err(|e| CheckError::io(format!("seal a block with {codec:?}"), e))?
                    .len();
                reps += 1;
            }
            let ns_per_item = t0.elapsed().as_nanos() as f64 / (reps as f64 * n as f64);
            let ratio = plain as f64 / packed as f64;
            rows.push(CurveRow {
                codec: codec.as_str(),
                batch: n,
                plain_bytes_per_item: rounded(plain as f64 / n as f64, 1),
                written_bytes_per_item: rounded(packed as f64 / n as f64, 1),
                ratio: rounded(ratio, 2),
                cpu_ns_per_item: Whole(ns_per_item),
            });
            curve.push(json!({"codec": codec.as_str(), "batch": n, "ratio": ratio, "cpu_ns_per_item": ns_per_item,
                              "written_bytes_per_item": packed as f64 / n as f64}));
        }
    }
    let ratio_at = |codec: &str, n: usize| {
        curve
            .iter()
            .find(|c| c["codec"] == codec && c["batch"] == n)
            .and_then(|c| c["ratio"].as_f64())
            .unwrap_or(0.0)
    };

    // Real runs through the pipeline and the file sink.
    // 500 items/s: 2 ms between items, several fdatasyncs' worth, so batches really are ~1 item even on a
    // busy machine (at 2000/s under CPU contention the mean batch grew to 1.5).
    opts.progress("compression: pipeline, zstd, linger 0 at 500 items/s (batches of ~1)");
    let mut lone = opts.run_config(
        "compress-lone",
        WindowConfig {
            max_items: 4096,
            max_bytes: 1 << 20,
            linger: Duration::ZERO,
        },
    );
    lone.load.rate = Some(500.0);
    lone.load.shape = LoadShape::Steady;
    lone.load.stop = StopAfter::Duration(opts.run_secs(2.0));
    lone.compress = Codec::Zstd;
    let lone = measured_run(&lone)?;
    opts.progress("compression: pipeline, zstd, filled batches at saturation");
    let w = WindowConfig {
        max_items: 4096,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(2),
    };
    let mut full_cfg = opts.saturate("compress-full", w, 3.0);
    full_cfg.compress = Codec::Zstd;
    let full = measured_run(&full_cfg)?;
    let raw = opts.saturate("compress-raw", w, 3.0);
    let raw = measured_run(&raw)?;
    opts.progress("compression: the disk's raw write+fdatasync bandwidth at 1 MiB");
    let sc = SinkConfig::new(opts.dir.join("compress-disk"));
    let disk = bench_appends(&sc, 1 << 20, opts.run_secs(3.0), 1 << 30)?;
    clean_and_settle(&sc.dir);

    let (lone_ratio, full_ratio) = (
        plain_bytes(&lone) / lone.bytes_written as f64,
        plain_bytes(&full) / full.bytes_written as f64,
    );
    let logical = |r: &RunReport| r.committed as f64 * r.settings.item_bytes as f64 / r.elapsed_s;
    let real = blocks_vs_whole_file(&real_logs(), &WindowConfig::default())
        .map_err(|e| CheckError::io("compress the real logs", e))?;
    let criteria = vec![
        Criterion::exact(
            ratio_at("zstd", 1) <= 1.1 && ratio_at("gzip", 1) <= 1.1,
            format!(
                "one record per block gains nothing (seeded records, no pipeline): ratio zstd {:.2}, gzip {:.2}",
                ratio_at("zstd", 1),
                ratio_at("gzip", 1)
            ),
        ),
        Criterion::timing(
            lone_ratio <= 1.1,
            format!(
                "nor in the pipeline at linger 0 (mean batch {:.1}, which depends on speed): {lone_ratio:.2}",
                lone.batch_size.mean
            ),
        ),
        Criterion::exact(
            ratio_at("zstd", 4096) >= 2.0 && ratio_at("gzip", 4096) >= 2.0,
            format!(
                "filled blocks compress ≥ 2× (seeded records, no pipeline): 4096 records zstd {:.1}×, gzip {:.1}×",
                ratio_at("zstd", 4096),
                ratio_at("gzip", 4096)
            ),
        ),
        Criterion::timing(
            full_ratio >= 2.0,
            format!(
                "and in the pipeline at saturation (mean batch {:.0}, which depends on speed): {full_ratio:.1}×",
                full.batch_size.mean
            ),
        ),
        Criterion::exact(
            real.share >= MIN_SHARE_OF_WHOLE_FILE,
            format!(
                "on real logs ({} records, {} bytes), filled zstd blocks reach ≥ {:.0} % of whole-file zstd at level {}: {} blocks {:.2}× against {:.2}×, {:.1} %",
                real.records, real.input_bytes, MIN_SHARE_OF_WHOLE_FILE * 100.0, real.zstd_level,
                real.blocks, real.blocks_ratio, real.whole_file_ratio, real.share * 100.0
            ),
        ),
    ];
    let bar = logical(&full) >= 2.0 * disk.bytes_per_s;
    let mut runs: Vec<RunRow> = [
        ("zstd linger 0 @500/s", &lone),
        ("zstd saturation", &full),
        ("none saturation", &raw),
    ]
    .into_iter()
    .map(|(case, r)| RunRow {
        case,
        items_per_s: Some(Whole(r.throughput_items_per_s)),
        logical_mb_per_s: rounded(logical(r) / 1e6, 1),
        written_mb_per_s: rounded(r.bytes_written as f64 / r.elapsed_s / 1e6, 1),
        ratio: Some(rounded(plain_bytes(r) / r.bytes_written.max(1) as f64, 2)),
        mean_batch: Some(rounded(r.batch_size.mean, 1)),
        p99_us: Some(Whole(r.latency_us.p99)),
        cpu_process_cores: Some(rounded(r.cpu.process_cores, 2)),
    })
    .collect();
    runs.push(RunRow {
        case: "disk raw write+fdatasync 1 MiB",
        items_per_s: None,
        logical_mb_per_s: rounded(disk.bytes_per_s / 1e6, 1),
        written_mb_per_s: rounded(disk.bytes_per_s / 1e6, 1),
        ratio: None,
        mean_batch: None,
        p99_us: None,
        cpu_process_cores: None,
    });
    let figures = json!({
        "curve": curve,
        "pipeline": { "linger0": lone, "saturation_zstd": full, "saturation_none": raw },
        "disk_bytes_per_s": disk.bytes_per_s,
        "real_logs": real,
        "bars": { "logical_ge_2x_disk": bar, "logical_bytes_per_s": logical(&full), "disk_bytes_per_s": disk.bytes_per_s },
    });
    let evidence = vec![
        write_csv_rows(&opts.out, "compression.csv", &rows)?,
        write_csv_rows(&opts.out, "compression-runs.csv", &runs)?,
    ];
    Ok(CheckResult::judge(
        "compression",
        criteria,
        figures,
        evidence,
    ))
}
