//! `check ingest`: real files at disk speed in bounded memory. A generated NDJSON file (1 GB in the
//! full run; 0.1 % invalid records) is ingested by the `ingest-lab ingest` binary, as a user would run
//! it, and compared in the same run with the pipeline's batched saturation throughput at the same
//! record size: ingest must reach 70 % of it (parsing, validating and framing every record is the
//! extra work), with the process's peak RSS within a fixed bound whatever the input size, and every
//! record committed or dead-lettered.

use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};
use std::process::Command;

use serde_json::json;

use super::common::{
    clean_and_settle, measured_run, write_evidence, write_json_evidence, CheckOptions, CheckResult,
    Criterion, Spread,
};
use crate::config::WindowConfig;
use crate::ingest::{write_ndjson, LineKind, Mix};
use crate::sink::free_bytes;

/// Input size of the full run.
pub const FULL_INPUT_BYTES: u64 = 1 << 30;
/// Input size of `--quick`.
pub const QUICK_INPUT_BYTES: u64 = 64 << 20;
/// Ingest must reach this fraction of the batched saturation items/s.
pub const MIN_FRACTION: f64 = 0.70;
/// Peak RSS bound of the ingest process, whatever the input size.
pub const MAX_RSS_BYTES: u64 = 64 << 20;

/// Run the check.
pub fn ingest_check(opts: &CheckOptions) -> Result<CheckResult, String> {
    let exe = opts.binary("ingest")?;
    let base = opts.dir.join("ingest-check");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).map_err(|e| format!("mkdir {}: {e}", base.display()))?;
    let r = run(opts, &exe, &base);
    clean_and_settle(&base);
    r
}

fn run(
    opts: &CheckOptions,
    exe: &std::path::Path,
    base: &std::path::Path,
) -> Result<CheckResult, String> {
    // The input, plus ~2 live sink segments, plus margin: scale down (and say so) on a small disk.
    let want = if opts.quick {
        QUICK_INPUT_BYTES
    } else {
        FULL_INPUT_BYTES
    };
    let free = free_bytes(base).map_err(|e| format!("statvfs {}: {e}", base.display()))?;
    let size = want.min(free.saturating_sub(512 << 20) / 2);
    if size < (16 << 20) {
        return Err(format!(
            "check ingest: only {} MiB free under {}; needs at least 550 MiB",
            free >> 20,
            base.display()
        ));
    }
    let mix = Mix {
        rfc3339_ppm: 500,
        bad_ts_ppm: 300,
        malformed_ppm: 100,
        bad_utf8_ppm: 100,
        too_long_ppm: 0,
        crlf_ppm: 1000,
        blank_every: 0,
        record_cap: 1 << 20,
    };
    let input = base.join("input.ndjson");
    opts.progress(format!("ingest: generating {} MiB of NDJSON", size >> 20));
    let (mut records, mut invalid, mut written) = (0u64, 0u64, 0u64);
    {
        let f = std::fs::File::create(&input)
            .map_err(|e| format!("create {}: {e}", input.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut chunk = Vec::with_capacity(8 << 20);
        let mut seed = 1;
        while written < size {
            chunk.clear();
            let kinds = write_ndjson(&mut chunk, records + 1, 50_000, &mix, seed)
                .map_err(|e| e.to_string())?;
            seed += 1;
            records += kinds.len() as u64;
            invalid += kinds.iter().filter(|k| !LineKind::valid_v1(**k)).count() as u64;
            written += chunk.len() as u64;
            w.write_all(&chunk)
                .map_err(|e| format!("write {}: {e}", input.display()))?;
        }
        w.flush().map_err(|e| e.to_string())?;
    }
    let mean_record = (written / records).saturating_sub(1) as usize;
    let window = WindowConfig::default();

    let mut ingests = Vec::new();
    let mut sats = Vec::new();
    for rep in 0..opts.reps() {
        let sink = base.join("sink");
        let out = Command::new(exe)
            .args(["ingest", "--json", "--retain-segments", "2", "--dir"])
            .arg(&sink)
            .arg(&input)
            .output()
            .map_err(|e| format!("run {}: {e}", exe.display()))?;
        clean_and_settle(&sink);
        if !out.status.success() {
            return Err(format!(
                "ingest exited {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("ingest --json: {e}"))?;
        opts.progress(format!(
            "ingest: rep {rep}: {} records/s, {:.0} MB/s in, peak RSS {} MiB",
            v["records_per_s"].as_f64().unwrap_or(0.0).round(),
            v["input_mb_per_s"].as_f64().unwrap_or(0.0),
            v["peak_rss_bytes"].as_u64().unwrap_or(0) >> 20
        ));
        ingests.push(v);
        let mut cfg = opts.saturate("ingest-sat", window, 3.0);
        cfg.load.item_bytes = mean_record;
        let s = measured_run(&cfg).map_err(|e| e.to_string())?;
        opts.progress(format!(
            "ingest: rep {rep}: batched saturation at {mean_record} B items: {:.0} items/s",
            s.throughput_items_per_s
        ));
        sats.push(s);
    }
    let f = |k: &str| {
        Spread::of(
            &ingests
                .iter()
                .map(|v| v[k].as_f64().unwrap_or(0.0))
                .collect::<Vec<_>>(),
        )
    };
    let rate = f("records_per_s");
    let mb = f("input_mb_per_s");
    let rss = f("peak_rss_bytes");
    let sat = Spread::of(
        &sats
            .iter()
            .map(|s| s.throughput_items_per_s)
            .collect::<Vec<_>>(),
    );
    let fraction = rate.median / sat.median;
    let all_accounted = ingests.iter().all(|v| {
        v["records_in"].as_u64() == Some(records)
            && v["committed"].as_u64() == Some(records - invalid)
            && v["dead_lettered"].as_u64() == Some(invalid)
            && v["rejected_inputs"].as_u64() == Some(0)
    });
    let criteria = vec![
        Criterion::new(
            size >= want,
            format!(
                "input {} MiB ({records} records of ~{mean_record} B; asked for {} MiB)",
                written >> 20,
                want >> 20
            ),
        ),
        Criterion::new(
            fraction >= MIN_FRACTION,
            format!(
                "ingest {:.0} records/s ({:.0}–{:.0}; {:.0} MB/s in) = {:.0}% of batched saturation {:.0} items/s ({:.0}–{:.0}) at the same size (≥ {:.0}%)",
                rate.median, rate.min, rate.max, mb.median, fraction * 100.0, sat.median, sat.min, sat.max, MIN_FRACTION * 100.0
            ),
        ),
        Criterion::new(
            rss.max <= MAX_RSS_BYTES as f64,
            format!(
                "peak RSS of the ingest process {:.1} MiB (max of {}) ≤ {} MiB for a {} MiB input",
                rss.max / 1048576.0,
                rss.n,
                MAX_RSS_BYTES >> 20,
                written >> 20
            ),
        ),
        Criterion::new(
            all_accounted,
            format!(
                "every run: records_in {records} = committed {} + dead-lettered {invalid}, no input rejected",
                records - invalid
            ),
        ),
    ];
    let figures = json!({
        "input_bytes": written,
        "records": records,
        "invalid": invalid,
        "mean_record_bytes": mean_record,
        "ingest_records_per_s": rate,
        "ingest_input_mb_per_s": mb,
        "ingest_peak_rss_bytes": rss,
        "saturation_items_per_s": sat,
        "fraction_of_saturation": fraction,
        "runs": ingests,
    });
    let mut csv = String::from(
        "rep,input_mib,records,ingest_records_per_s,ingest_input_mb_per_s,ingest_peak_rss_mib,saturation_items_per_s,fraction\n",
    );
    for (i, (v, s)) in ingests.iter().zip(&sats).enumerate() {
        let r = v["records_per_s"].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            csv,
            "{i},{},{records},{r:.0},{:.1},{:.1},{:.0},{:.2}",
            written >> 20,
            v["input_mb_per_s"].as_f64().unwrap_or(0.0),
            v["peak_rss_bytes"].as_f64().unwrap_or(0.0) / 1048576.0,
            s.throughput_items_per_s,
            r / s.throughput_items_per_s
        );
    }
    let evidence = vec![
        write_evidence(&opts.out, "ingest.csv", &csv)?,
        write_json_evidence(&opts.out, "ingest.json", &figures)?,
    ];
    Ok(CheckResult::judge("ingest", criteria, figures, evidence))
}
