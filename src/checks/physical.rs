//! `check physical`: how close the sink gets to what the disk can do, measured against `fio` in the same
//! directory, the same run and the same file layout (64 MiB files written one after another, as the
//! sink rotates its segments), at every write size the pipeline issues: 128 B (one 100-byte item per
//! write, the unbatched case), the window sweep's batch sizes, and 1 MiB (a full batch). fio and the
//! sink alternate at each size, repeated, so drift hits both alike; each repetition gives one sink/fio
//! ratio per size, and each ratio is a statistical decision ([`crate::stats`]).
//!
//! The bar, at every write size: the sink's bandwidth ≥ 95 % of fio's; and the whole unbatched
//! pipeline's items/s ≥ 95 % of fio's 128 B append+fdatasync rate (no hidden overhead between an item
//! and its fdatasync).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::common::{
    clean_and_settle, judge_recorded, measured_run, note_cpu, rounded, write_csv_rows,
    CheckOptions, CheckResult, Criterion, Spread, Whole,
};
use super::error::CheckError;
use crate::config::{SinkConfig, WindowConfig};
use crate::error::SysError;
use crate::sink::{bench_appends, free_bytes};
use crate::stats::{at_least, judge_samples, Decision, Outcome, LEVEL};

/// Write sizes between 128 B and 1 MiB that the window sweep issues (its batches of 256, 1024 and 4096
/// items of 100 bytes, each framed with one byte, behind a 20-byte header), reported as fractions of
/// fio (the bar is judged at 128 B and 1 MiB).
pub const MID_SIZES: [u64; 3] = [25_876, 103_444, 413_716];

/// The sink's segment size in this check, and the size of each of fio's files: the same layout.
pub const SEGMENT_BYTES: u64 = 64 << 20;

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

/// One fio run, as a row of `fio.csv`.
#[derive(Debug, Serialize)]
struct FioRow {
    bs: u64,
    run: usize,
    latency_stats: bool,
    syncs_per_s: Whole,
    mb_per_s: f64,
    sync_p50_us: Whole,
    sync_p99_us: Whole,
}

/// One measure, fio's spread beside ours and the decision on their ratio, as a row of
/// `sink-vs-fio.csv`.
#[derive(Debug, Serialize)]
struct FractionRow {
    measure: String,
    fio_median: Whole,
    fio_min: Whole,
    fio_max: Whole,
    ours_median: Whole,
    ours_min: Whole,
    ours_max: Whole,
    fraction_of_fio: f64,
    // An interval end too few runs could not bound (infinite) is an empty cell.
    fraction_lo: Option<f64>,
    fraction_hi: Option<f64>,
    runs: usize,
    decision: &'static str,
}

impl FractionRow {
    fn of(measure: &str, f: Spread, o: Spread, d: &Decision) -> FractionRow {
        let end = |v: f64| v.is_finite().then(|| rounded(v, 3));
        FractionRow {
            measure: measure.to_string(),
            fio_median: Whole(f.median),
            fio_min: Whole(f.min),
            fio_max: Whole(f.max),
            ours_median: Whole(o.median),
            ours_min: Whole(o.min),
            ours_max: Whole(o.max),
            fraction_of_fio: rounded(d.interval.median, 3),
            fraction_lo: end(d.interval.lo),
            fraction_hi: end(d.interval.hi),
            runs: d.interval.n,
            decision: d.outcome.as_str(),
        }
    }
}

/// Run fio appending `bs`-byte writes with fdatasync after each, in `dir`, for `secs` or `max_bytes`,
/// in the sink's file layout: files of `segment_bytes` written one after the other (fio's
/// `--nrfiles`, `--filesize`, `--file_service_type=sequential`), as the sink rotates segments. One
/// growing file is not the same disk work: its appends slow as it grows, so a single-file fio would be
/// a limit the sink beats (the figures are in issue 15's notes and in run folders).
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
    segment_bytes: u64,
    latency: bool,
) -> Result<FioResult, CheckError> {
    let dir = dir.join("fio");
    std::fs::create_dir_all(&dir).map_err(|e| SysError::new("mkdir", &dir, e))?;
    let files = max_bytes.div_ceil(segment_bytes).max(1);
    let mut fio = Command::new("fio");
    fio.arg("--name=append")
        .arg(format!("--directory={}", dir.display()))
        // fallocate=none: by default fio preallocates the file, which turns its writes into overwrites
        // inside i_size (seen with strace here); the sink appends, so fio must append too. Files are
        // created when first written (create_on_open), as the sink creates its segments.
        .args([
            "--rw=write",
            "--ioengine=sync",
            "--fdatasync=1",
            "--fallocate=none",
            "--unlink=1",
            "--create_on_open=1",
            "--file_service_type=sequential",
        ])
        .arg(format!("--nrfiles={files}"))
        .arg(format!("--filesize={segment_bytes}"))
        .arg(format!("--bs={bs}"))
        .arg(format!("--size={}", files * segment_bytes))
        .arg(format!("--runtime={}ms", (secs * 1e3).round() as u64))
        .args(if latency {
            &[][..]
        } else {
            &["--gtod_reduce=1"][..]
        })
        .arg("--output-format=json");
    let out = CheckError::output_of(
        &mut fio,
        "fio",
        "`apt-get install fio`; `make bench` does this",
        "fio",
    )?;
    clean_and_settle(&dir);
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| CheckError::json("fio JSON", e))?;
    let job = &v["jobs"][0];
    let pct = |p: &str| {
        job["sync"]["lat_ns"]["percentile"][p]
            .as_f64()
            .unwrap_or(f64::NAN)
            / 1e3
    };
    let positive = |v: &Value, what: &str| {
        v.as_f64()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or_else(|| {
                CheckError::invalid(
                    format!("fio at {bs} B"),
                    format!("reported no {what} ({v}): cannot compare with it"),
                )
            })
    };
    Ok(FioResult {
        bs,
        syncs_per_s: positive(&job["write"]["iops"], "write iops")?,
        bytes_per_s: positive(&job["write"]["bw_bytes"], "write bandwidth")?,
        sync_p50_us: pct("50.000000"),
        sync_p99_us: pct("99.000000"),
        version: v["fio version"].as_str().unwrap_or("").to_string(),
        latency_stats: latency,
    })
}

/// Run the comparison.
pub fn physical(opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    let dir = opts.dir.join("physical");
    std::fs::create_dir_all(&dir).map_err(|e| SysError::new("mkdir", &dir, e))?;
    let free = free_bytes(&dir).map_err(|e| SysError::new("statvfs", &dir, e))?;
    // Each 1 MiB run writes at most this much, then its file is removed.
    let cap: u64 = (1u64 << 30).min(free / 4);
    if cap < (64 << 20) {
        return Err(CheckError::NoSpace {
            dir,
            free,
            needed: 256 << 20,
            needs: "the fio comparison",
        });
    }
    let secs = opts.run_secs(1.0).as_secs_f64().max(0.5);
    let mut sc = SinkConfig::new(dir.join("sink"));
    sc.segment_bytes = SEGMENT_BYTES;
    // Every write size: fio then the sink, alternating, then the unbatched pipeline; repeated until
    // every ratio is decided (or the budget is spent). Each repetition gives one sink/fio ratio per size.
    let sizes: Vec<u64> = std::iter::once(128)
        .chain(MID_SIZES)
        .chain(std::iter::once(1 << 20))
        .collect();
    let mut fio_runs: Vec<Vec<FioResult>> = vec![Vec::new(); sizes.len()];
    let mut sink_runs: Vec<Vec<crate::sink::SinkBench>> = vec![Vec::new(); sizes.len()];
    let mut pipe_un = Vec::new();
    // Within `make bench`'s 15 minutes: the fewest repetitions a decision needs, and one more only
    // when they came fast.
    let budget = opts.decision_budget(100.0);
    let started = std::time::Instant::now();
    let ratios = |fio: &[FioResult], sink: &[crate::sink::SinkBench]| -> Vec<f64> {
        fio.iter()
            .zip(sink)
            .map(|(f, s)| s.bytes_per_s / f.bytes_per_s)
            .collect()
    };
    let decisions = loop {
        let rep = pipe_un.len();
        opts.progress(format!("physical: repetition {}", rep + 1));
        for (k, &bs) in sizes.iter().enumerate() {
            // Both sides' runs are checked for competition, like every pipeline run: a competing
            // process during fio's run would lower the limit and flatter the sink.
            let cpu = crate::host::CpuMeter::start();
            fio_runs[k].push(run_fio(&dir, bs, secs, cap, SEGMENT_BYTES, false)?);
            note_cpu(&cpu.stop());
            let cpu = crate::host::CpuMeter::start();
            let s = bench_appends(&sc, bs as usize, Duration::from_secs_f64(secs), cap)?;
            note_cpu(&cpu.stop());
            clean_and_settle(&sc.dir);
            sink_runs[k].push(s);
        }
        let un = measured_run(&opts.saturate("physical-unbatched", WindowConfig::UNBATCHED, 1.5))?;
        pipe_un.push(un);
        let mut d: Vec<Decision> = (0..sizes.len())
            .map(|k| {
                judge_samples(ratios(&fio_runs[k], &sink_runs[k]), LEVEL, |iv| {
                    at_least(iv, MIN_FRACTION_OF_FIO)
                })
            })
            .collect();
        let pipe: Vec<f64> = pipe_un
            .iter()
            .zip(&fio_runs[0])
            .map(|(p, f)| p.throughput_items_per_s / f.syncs_per_s)
            .collect();
        d.push(judge_samples(pipe, LEVEL, |iv| {
            at_least(iv, MIN_FRACTION_OF_FIO)
        }));
        let decided = d.iter().all(|x| x.outcome != Outcome::Inconclusive);
        if budget.stop(pipe_un.len(), decided, || started.elapsed().as_secs_f64()) {
            break d;
        }
    };
    opts.progress("physical: fio with latency statistics (fdatasync percentiles)");
    let fio_lat = [
        run_fio(&dir, 128, secs, cap, SEGMENT_BYTES, true)?,
        run_fio(&dir, 1 << 20, secs, cap, SEGMENT_BYTES, true)?,
    ];
    let _ = std::fs::remove_dir_all(&dir);
    let sp = |v: Vec<f64>| Spread::of(&v);
    let f128 = sp(fio_runs[0].iter().map(|r| r.syncs_per_s).collect());
    let p128 = sp(pipe_un.iter().map(|r| r.throughput_items_per_s).collect());
    let last = sizes.len() - 1;
    let f1m = sp(fio_runs[last].iter().map(|r| r.bytes_per_s).collect());
    let s1m = sp(sink_runs[last].iter().map(|r| r.bytes_per_s).collect());

    let fio_rows: Vec<FioRow> = fio_runs
        .iter()
        .flatten()
        .chain(fio_lat.iter())
        .enumerate()
        .map(|(i, r)| FioRow {
            bs: r.bs,
            run: i + 1,
            latency_stats: r.latency_stats,
            syncs_per_s: Whole(r.syncs_per_s),
            mb_per_s: rounded(r.bytes_per_s / 1e6, 1),
            sync_p50_us: Whole(r.sync_p50_us),
            sync_p99_us: Whole(r.sync_p99_us),
        })
        .collect();
    let mut cmp = Vec::new();
    let mut line = |name: &str, f: Spread, o: Spread, d: &Decision| {
        cmp.push(FractionRow::of(name, f, o, d));
    };
    let mut criteria = Vec::new();
    for (k, &bs) in sizes.iter().enumerate() {
        let fb = sp(fio_runs[k].iter().map(|r| r.bytes_per_s).collect());
        let sb = sp(sink_runs[k].iter().map(|r| r.bytes_per_s).collect());
        line(
            &format!("sink {bs} B writes: bytes/s"),
            fb,
            sb,
            &decisions[k],
        );
        criteria.push(Criterion::decided(
            decisions[k].clone(),
            format!(
                "{bs} B appends + fdatasync, {} MiB files: sink / fio bandwidth ≥ {MIN_FRACTION_OF_FIO} \
                 (sink median {:.1} MB/s, fio {:.1} MB/s)",
                SEGMENT_BYTES >> 20,
                sb.median / 1e6,
                fb.median / 1e6
            ),
        ));
    }
    line(
        "unbatched pipeline: items/s vs fio 128 B syncs/s",
        f128,
        p128,
        &decisions[sizes.len()],
    );
    criteria.push(Criterion::decided(
        decisions[sizes.len()].clone(),
        format!(
            "the unbatched pipeline's items/s / fio's 128 B append+fdatasync rate ≥ {MIN_FRACTION_OF_FIO} \
             (pipeline median {:.0} items/s, fio {:.0}/s)",
            p128.median, f128.median
        ),
    ));
    let figures = json!({
        "fio_version": fio_runs[0].first().map(|r| r.version.clone()),
        "segment_bytes": SEGMENT_BYTES,
        "write_sizes": sizes,
        "fio_128_syncs_per_s": f128, "pipeline_unbatched_items_per_s": p128,
        "fio_1m_bytes_per_s": f1m, "sink_1m_bytes_per_s": s1m,
        "decisions": decisions,
        "runs": { "fio": fio_runs, "fio_latency": fio_lat, "sink": sink_runs, "pipeline_unbatched": pipe_un },
    });
    let evidence = vec![
        write_csv_rows(&opts.out, "fio.csv", &fio_rows)?,
        write_csv_rows(&opts.out, "sink-vs-fio.csv", &cmp)?,
    ];
    judge_recorded(&opts.out, "physical", criteria, figures, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Interval;

    #[test]
    fn a_ratio_without_an_interval_leaves_its_ends_empty_and_the_report_reads_the_ratio() {
        let spread = |m: f64| Spread {
            median: m,
            min: m - 1.0,
            max: m + 1.0,
            n: 2,
        };
        let d = Decision {
            outcome: Outcome::Inconclusive,
            interval: Interval {
                median: 0.96449,
                lo: f64::NEG_INFINITY,
                hi: f64::INFINITY,
                n: 2,
                level: 0.0,
            },
            samples: vec![0.95, 0.98],
        };
        let name = "sink 128 B writes: bytes/s";
        let rows = [FractionRow::of(name, spread(5605.4), spread(5400.0), &d)];
        let dir = crate::testutil::tempdir();
        write_csv_rows(dir.path(), "sink-vs-fio.csv", &rows).unwrap();
        let c = crate::report::Csv::read(&dir.path().join("sink-vs-fio.csv")).unwrap();
        assert_eq!(
            c.header.join(","),
            "measure,fio_median,fio_min,fio_max,ours_median,ours_min,ours_max,fraction_of_fio,\
             fraction_lo,fraction_hi,runs,decision"
        );
        // Every cell as written: the interval's infinite ends empty, not "inf".
        assert_eq!(
            c.rows[0],
            [
                name,
                "5605",
                "5604",
                "5606",
                "5400",
                "5399",
                "5401",
                "0.964",
                "",
                "",
                "2",
                "inconclusive"
            ]
        );
        assert_eq!(c.num(&c.rows[0], "fraction_of_fio"), Some(0.964));
    }
}
