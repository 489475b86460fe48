//! `check physical`: how close the sink gets to what the disk can do, measured against `fio` in the same
//! directory and the same run, at the same write sizes: 128 B (one 100-byte item per write, the unbatched
//! case) and 1 MiB (a full batch), and the window sweep's batch sizes in between (reported). fio and our runs alternate, repeated, so drift hits both alike.
//!
//! Passes when, by medians: the sink's 1 MiB bandwidth ≥ 95 % of fio's; the sink's 128 B fdatasyncs/s
//! ≥ 95 % of fio's; and the whole unbatched pipeline's items/s ≥ 95 % of fio's 128 B syncs/s (no hidden
//! overhead between an item and its fdatasync).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::common::{
    clean_and_settle, measured_run, write_evidence, write_json_evidence, CheckOptions, CheckResult,
    Criterion, Spread,
};
use crate::config::{SinkConfig, WindowConfig};
use crate::sink::{bench_appends, free_bytes};

/// Write sizes between 128 B and 1 MiB that the window sweep issues (its batches of 256, 1024 and 4096
/// items of 100 bytes, each framed with one byte, behind a 20-byte header), reported as fractions of
/// fio (the bar is judged at 128 B and 1 MiB).
pub const MID_SIZES: [u64; 3] = [25_876, 103_444, 413_716];

/// Minimum fraction of fio the sink must reach (the project's bar: 95 % of fio's bandwidth at the same
/// write size, and the unbatched pipeline 95 % of fio's 128 B append+fdatasync rate).
pub const MIN_FRACTION_OF_FIO: f64 = 0.95;

/// One fio job's summary.
#[derive(Debug, Clone, Serialize)]
pub struct FioResult {
    /// Block size, bytes.
    pub bs: u64,
    /// Writes (each followed by fdatasync) per second.
    pub syncs_per_s: f64,
    /// Bytes per second.
    pub bytes_per_s: f64,
    /// fdatasync latency p50, µs.
    pub sync_p50_us: f64,
    /// fdatasync latency p99, µs.
    pub sync_p99_us: f64,
    /// fio's version string.
    pub version: String,
    /// Whether fio kept per-I/O latency (percentiles valid) or ran with `--gtod_reduce=1`.
    pub latency_stats: bool,
}

/// Run fio appending `bs`-byte writes with fdatasync after each, in `dir`, for `secs` or `max_bytes`.
///
/// With `latency` false fio runs with `--gtod_reduce=1`: fio's own per-I/O time keeping costs it a
/// large share of its 1 MiB bandwidth (`strace -T` showed its write and fdatasync calls taking as long
/// as ours). The physical limit is fio at its fastest,
/// so throughput comes from that mode; fdatasync percentiles come from a separate run with `latency` on.
pub fn run_fio(
    dir: &Path,
    bs: u64,
    secs: f64,
    max_bytes: u64,
    latency: bool,
) -> Result<FioResult, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let out = Command::new("fio")
        .arg("--name=append")
        .arg(format!("--directory={}", dir.display()))
        .arg("--filename=fio-append.dat")
        // fallocate=none: by default fio preallocates the file, which turns its writes into overwrites
        // inside i_size (seen with strace here); the sink appends, so fio must append too.
        .args([
            "--rw=write",
            "--ioengine=sync",
            "--fdatasync=1",
            "--fallocate=none",
            "--unlink=1",
        ])
        .arg(format!("--bs={bs}"))
        .arg(format!("--size={max_bytes}"))
        .arg(format!("--runtime={}", secs.ceil() as u64))
        .args(if latency {
            &[][..]
        } else {
            &["--gtod_reduce=1"][..]
        })
        .arg("--output-format=json")
        .output()
        .map_err(|e| {
            format!(
                "cannot run fio ({e}): install it (`apt-get install fio`; `make bench` does this)"
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "fio failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    clean_and_settle(&dir.join("fio-append.dat"));
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("fio JSON: {e}"))?;
    let job = &v["jobs"][0];
    let pct = |p: &str| {
        job["sync"]["lat_ns"]["percentile"][p]
            .as_f64()
            .unwrap_or(f64::NAN)
            / 1e3
    };
    Ok(FioResult {
        bs,
        syncs_per_s: job["write"]["iops"].as_f64().unwrap_or(0.0),
        bytes_per_s: job["write"]["bw_bytes"].as_f64().unwrap_or(0.0),
        sync_p50_us: pct("50.000000"),
        sync_p99_us: pct("99.000000"),
        version: v["fio version"].as_str().unwrap_or("").to_string(),
        latency_stats: latency,
    })
}

/// Run the comparison.
pub fn physical(opts: &CheckOptions) -> Result<CheckResult, String> {
    let dir = opts.dir.join("physical");
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let free = free_bytes(&dir).map_err(|e| format!("statvfs {}: {e}", dir.display()))?;
    // Each 1 MiB run writes at most this much, then its file is removed.
    let cap: u64 = (1u64 << 30).min(free / 4);
    if cap < (64 << 20) {
        return Err(format!(
            "only {} MiB free in {}: need at least 256 MiB for the fio comparison",
            free >> 20,
            dir.display()
        ));
    }
    let secs = opts.run_secs(3.0).as_secs_f64().max(2.0);
    let (mut fio128, mut fio1m, mut sink128, mut sink1m, mut pipe_un) =
        (vec![], vec![], vec![], vec![], vec![]);
    #[allow(clippy::type_complexity)]
    let mut mid: Vec<(Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>)> =
        vec![(vec![], vec![], vec![], vec![]); MID_SIZES.len()];
    for i in 0..opts.reps() {
        opts.progress(format!("physical: repetition {}/{}", i + 1, opts.reps()));
        fio128.push(run_fio(&dir, 128, secs, cap, false)?);
        let mut sc = SinkConfig::new(dir.join("sink"));
        sc.segment_bytes = 64 << 20;
        let s = bench_appends(&sc, 128, Duration::from_secs_f64(secs), cap)
            .map_err(|e| e.to_string())?;
        clean_and_settle(&sc.dir);
        sink128.push(s);
        let un = measured_run(&opts.saturate("physical-unbatched", WindowConfig::UNBATCHED, 3.0))
            .map_err(|e| e.to_string())?;
        pipe_un.push(un);
        fio1m.push(run_fio(&dir, 1 << 20, secs, cap, false)?);
        let s = bench_appends(&sc, 1 << 20, Duration::from_secs_f64(secs), cap)
            .map_err(|e| e.to_string())?;
        clean_and_settle(&sc.dir);
        sink1m.push(s);
        // The window sweep's write sizes in between (256, 1024, 4096 items of 101 B framed).
        for (k, &bs) in MID_SIZES.iter().enumerate() {
            let f = run_fio(&dir, bs, secs * 2.0 / 3.0, cap, false)?;
            let s = bench_appends(
                &sc,
                bs as usize,
                Duration::from_secs_f64(secs * 2.0 / 3.0),
                cap,
            )
            .map_err(|e| e.to_string())?;
            clean_and_settle(&sc.dir);
            mid[k].0.push(f.bytes_per_s);
            mid[k].1.push(s.bytes_per_s);
            mid[k].2.push(f.syncs_per_s);
            mid[k].3.push(s.syncs_per_s);
        }
    }
    opts.progress("physical: fio with latency statistics (fdatasync percentiles)");
    let fio_lat = [
        run_fio(&dir, 128, secs, cap, true)?,
        run_fio(&dir, 1 << 20, secs, cap, true)?,
    ];
    let _ = std::fs::remove_dir_all(&dir);
    let sp = |v: Vec<f64>| Spread::of(&v);
    let f128 = sp(fio128.iter().map(|r| r.syncs_per_s).collect());
    let s128 = sp(sink128.iter().map(|r| r.syncs_per_s).collect());
    let p128 = sp(pipe_un.iter().map(|r| r.throughput_items_per_s).collect());
    let f1m = sp(fio1m.iter().map(|r| r.bytes_per_s).collect());
    let s1m = sp(sink1m.iter().map(|r| r.bytes_per_s).collect());

    let mut fio_csv =
        String::from("bs,run,latency_stats,syncs_per_s,mb_per_s,sync_p50_us,sync_p99_us\n");
    for (i, r) in fio128
        .iter()
        .chain(fio1m.iter())
        .chain(fio_lat.iter())
        .enumerate()
    {
        let _ = writeln!(
            fio_csv,
            "{},{},{},{:.0},{:.1},{:.0},{:.0}",
            r.bs,
            i + 1,
            r.latency_stats,
            r.syncs_per_s,
            r.bytes_per_s / 1e6,
            r.sync_p50_us,
            r.sync_p99_us
        );
    }
    let mut cmp = String::from(
        "measure,fio_median,fio_min,fio_max,ours_median,ours_min,ours_max,fraction_of_fio\n",
    );
    let mut line = |name: &str, f: Spread, o: Spread| {
        let _ = writeln!(
            cmp,
            "{name},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.3}",
            f.median,
            f.min,
            f.max,
            o.median,
            o.min,
            o.max,
            o.median / f.median
        );
    };
    line("sink 128 B writes: fdatasyncs/s", f128, s128);
    line(
        "unbatched pipeline: items/s vs fio 128 B syncs/s",
        f128,
        p128,
    );
    line("sink 1 MiB writes: bytes/s", f1m, s1m);
    for (k, bs) in MID_SIZES.iter().enumerate() {
        let (fb, sb, fs, ss) = &mid[k];
        line(
            &format!("sink {bs} B writes: bytes/s"),
            Spread::of(fb),
            Spread::of(sb),
        );
        line(
            &format!("sink {bs} B writes: fdatasyncs/s"),
            Spread::of(fs),
            Spread::of(ss),
        );
    }

    let criteria = vec![
        Criterion::timing(
            s1m.median >= MIN_FRACTION_OF_FIO * f1m.median,
            format!(
                "1 MiB writes: sink {:.0} MB/s (min {:.0}, max {:.0}) ≥ 95% of fio {:.0} MB/s (min {:.0}, max {:.0}): {:.0}%",
                s1m.median / 1e6, s1m.min / 1e6, s1m.max / 1e6, f1m.median / 1e6, f1m.min / 1e6, f1m.max / 1e6,
                100.0 * s1m.median / f1m.median
            ),
        ),
        Criterion::timing(
            s128.median >= MIN_FRACTION_OF_FIO * f128.median,
            format!(
                "128 B writes: sink {:.0} fdatasyncs/s ≥ 95% of fio {:.0}: {:.0}%",
                s128.median, f128.median, 100.0 * s128.median / f128.median
            ),
        ),
        Criterion::timing(
            p128.median >= MIN_FRACTION_OF_FIO * f128.median,
            format!(
                "unbatched pipeline {:.0} items/s (min {:.0}, max {:.0}) ≥ 95% of fio's 128 B rate {:.0}/s: {:.0}%",
                p128.median, p128.min, p128.max, f128.median, 100.0 * p128.median / f128.median
            ),
        ),
    ];
    let figures = json!({
        "fio_version": fio128.first().map(|r| r.version.clone()),
        "fio_128_syncs_per_s": f128, "sink_128_syncs_per_s": s128, "pipeline_unbatched_items_per_s": p128,
        "fio_1m_bytes_per_s": f1m, "sink_1m_bytes_per_s": s1m,
        "runs": { "fio_128": fio128, "fio_1m": fio1m, "fio_latency": fio_lat, "sink_128": sink128, "sink_1m": sink1m },
    });
    let evidence = vec![
        write_evidence(&opts.out, "fio.csv", &fio_csv)?,
        write_evidence(&opts.out, "sink-vs-fio.csv", &cmp)?,
        write_json_evidence(&opts.out, "physical.json", &figures)?,
    ];
    Ok(CheckResult::judge("physical", criteria, figures, evidence))
}
