//! `check window`: tune the batch window from data. Sweep max-items × linger on the standard bursty
//! replay at a fixed fraction of the measured batched peak, keep the windows whose p99 meets the SLO and
//! whose size bound is actually reached at peak, and choose the one with the most throughput headroom
//! (highest saturation capacity). Then show it is tuned, not guessed:
//! at peak its batches are full; at low load its timer bounds latency.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::common::{
    effective_max_items, measured_run, write_evidence, write_json_evidence, CheckOptions,
    CheckResult, Criterion,
};
use crate::config::{LoadShape, StopAfter, WindowConfig};
use crate::summary::RunReport;

/// The window a sweep chose, as written to `window.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowChoice {
    /// Items bound.
    pub max_items: usize,
    /// Bytes bound.
    pub max_bytes: usize,
    /// Linger, ms.
    pub linger_ms: f64,
    /// Mean rate of the bursty replay it was tuned on.
    pub tuned_at_rate: f64,
    /// The batched peak that rate is half of.
    pub peak_items_per_s: f64,
}

impl WindowChoice {
    /// As a window config.
    pub fn window(&self) -> WindowConfig {
        WindowConfig {
            max_items: self.max_items,
            max_bytes: self.max_bytes,
            linger: Duration::from_secs_f64(self.linger_ms / 1e3),
        }
    }

    /// Read `window.json` from a check output folder, if a window check wrote one.
    pub fn load(out: &std::path::Path) -> Option<WindowChoice> {
        let text = std::fs::read_to_string(out.join("window.json")).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The sweep keeps only windows whose bursty p99 is within this fraction of the SLO: one sweep run per
/// window is one sample of a noisy machine, and a window chosen at 99 % of the SLO fails it on the next
/// run about half the time (seen here: 9.1 ms chosen, 11.1 ms in the before/after repeat).
pub const SLO_HEADROOM: f64 = 0.8;

/// Max bytes for every window of the sweep: 1 MiB writes are where the disk reaches its bandwidth.
const SWEEP_MAX_BYTES: usize = 1 << 20;
/// Margin allowed over linger + fdatasync p99 at low load (scheduling, wake-up, generator).
const LOW_LOAD_MARGIN: Duration = Duration::from_millis(1);
/// Low-load rate: far below any batch filling, so every flush should be the timer's.
const LOW_LOAD_RATE: f64 = 200.0;
/// The fraction of batched peak the bursty replay is offered at. The standard trace bursts at 10× its
/// mean, so at 10 % of peak its bursts arrive at the full batched capacity; above that the bursts alone
/// exceed what the disk can take and the backlog they leave sets p99 (see `load-latency.csv`).
pub const LOAD_FRACTION_OF_PEAK: f64 = 0.10;

fn grid(quick: bool) -> (Vec<usize>, Vec<f64>) {
    if quick {
        (vec![256, 4096], vec![1.0, 2.0])
    } else {
        (vec![256, 1024, 4096, 16384], vec![0.5, 1.0, 2.0, 5.0])
    }
}

/// Measure the batched peak: saturation with the largest window of the sweep.
pub fn measure_peak(opts: &CheckOptions) -> Result<RunReport, String> {
    let (items, lingers) = grid(opts.quick);
    let w = WindowConfig {
        max_items: *items.last().unwrap(),
        max_bytes: SWEEP_MAX_BYTES,
        linger: Duration::from_secs_f64(lingers.last().unwrap() / 1e3),
    };
    measured_run(&opts.saturate("peak", w, 3.0)).map_err(|e| e.to_string())
}

struct Row {
    window: WindowConfig,
    bursty: RunReport,
    sat: RunReport,
}

/// Run the sweep; returns the check result and the chosen window.
pub fn window(opts: &CheckOptions) -> Result<(CheckResult, WindowChoice), String> {
    let slo_us = opts.slo.as_secs_f64() * 1e6;
    opts.progress("window: measuring batched peak (saturation, largest window)");
    let peak = measure_peak(opts)?;
    let rate = (peak.throughput_items_per_s * LOAD_FRACTION_OF_PEAK).round();
    opts.progress(format!(
        "window: peak {:.0} items/s; sweeping on the bursty replay at {rate:.0} items/s",
        peak.throughput_items_per_s
    ));
    let (items, lingers) = grid(opts.quick);
    let mut rows = Vec::new();
    for &max_items in &items {
        for &linger_ms in &lingers {
            let w = WindowConfig {
                max_items,
                max_bytes: SWEEP_MAX_BYTES,
                linger: Duration::from_secs_f64(linger_ms / 1e3),
            };
            let bursty =
                measured_run(&opts.bursty("sweep", w, rate, 4.0)).map_err(|e| e.to_string())?;
            let sat =
                measured_run(&opts.saturate("sweep-sat", w, 2.0)).map_err(|e| e.to_string())?;
            opts.progress(format!(
                "window: max_items={max_items:>5} linger={linger_ms}ms  p99 {:>8.0} µs  capacity {:>9.0} items/s",
                bursty.latency_us.p99, sat.throughput_items_per_s
            ));
            rows.push(Row {
                window: w,
                bursty,
                sat,
            });
        }
    }

    let mut csv = String::from(
        "max_items,max_bytes,linger_ms,bursty_rate,bursty_p50_us,bursty_p99_us,bursty_max_us,bursty_items_per_s,\
         bursty_fdatasyncs_per_item,bursty_mean_batch,capacity_items_per_s,headroom,slo_met,peak_mean_batch,peak_size_flush_share,\
         cpu_process_cores,cpu_other_cores\n",
    );
    for r in &rows {
        let _ = writeln!(
            csv,
            "{},{},{},{rate},{:.0},{:.0},{:.0},{:.0},{:.6},{:.1},{:.0},{:.2},{},{:.0},{:.2},{:.2},{:.2}",
            r.window.max_items,
            r.window.max_bytes,
            r.window.linger.as_secs_f64() * 1e3,
            r.bursty.latency_us.p50,
            r.bursty.latency_us.p99,
            r.bursty.latency_us.max,
            r.bursty.throughput_items_per_s,
            r.bursty.fdatasyncs_per_item,
            r.bursty.batch_size.mean,
            r.sat.throughput_items_per_s,
            r.sat.throughput_items_per_s / rate,
            r.bursty.latency_us.p99 <= slo_us,
            r.sat.batch_size.mean,
            (r.sat.flush_reasons.items + r.sat.flush_reasons.bytes) as f64 / r.sat.batches.max(1) as f64,
            r.bursty.cpu.process_cores,
            r.bursty.cpu.other_cores,
        );
    }

    // Choose: among the windows that meet the SLO with headroom (p99 ≤ 80 % of it) on the bursty replay
    // *and* fill at peak (their size bound is what ends most batches at saturation — a bound never
    // reached is a guess, not a tuning), the one with the most capacity. If none qualifies, the lowest
    // p99 (and the check fails if that misses the SLO).
    let fills = |r: &Row| {
        let eff = effective_max_items(&r.window, r.sat.settings.item_bytes) as f64;
        (r.sat.flush_reasons.items + r.sat.flush_reasons.bytes) * 2 > r.sat.batches
            && r.sat.batch_size.mean >= 0.8 * eff
    };
    let qualifying: Vec<&Row> = rows
        .iter()
        .filter(|r| r.bursty.latency_us.p99 <= SLO_HEADROOM * slo_us && fills(r))
        .collect();
    let chosen = if qualifying.is_empty() {
        rows.iter()
            .min_by(|a, b| a.bursty.latency_us.p99.total_cmp(&b.bursty.latency_us.p99))
            .unwrap()
    } else {
        qualifying
            .into_iter()
            .max_by(|a, b| {
                a.sat
                    .throughput_items_per_s
                    .total_cmp(&b.sat.throughput_items_per_s)
            })
            .unwrap()
    };
    let w = chosen.window;
    let choice = WindowChoice {
        max_items: w.max_items,
        max_bytes: w.max_bytes,
        linger_ms: w.linger.as_secs_f64() * 1e3,
        tuned_at_rate: rate,
        peak_items_per_s: peak.throughput_items_per_s,
    };

    opts.progress(format!(
        "window: chose max_items={} linger={}ms; checking it at low load ({LOW_LOAD_RATE} items/s)",
        w.max_items, choice.linger_ms
    ));
    let mut low_cfg = opts.run_config("low", w);
    low_cfg.load.rate = Some(LOW_LOAD_RATE);
    low_cfg.load.shape = LoadShape::Steady;
    low_cfg.load.stop = StopAfter::Duration(opts.run_secs(4.0));
    let low = measured_run(&low_cfg).map_err(|e| e.to_string())?;

    let eff_max = effective_max_items(&w, chosen.sat.settings.item_bytes);
    let sat = &chosen.sat;
    let size_flushes = sat.flush_reasons.items + sat.flush_reasons.bytes;
    let low_bound_us = (w.linger + LOW_LOAD_MARGIN).as_secs_f64() * 1e6 + low.fdatasync_us.p99;
    let criteria = vec![
        Criterion::new(
            chosen.bursty.latency_us.p99 <= slo_us,
            format!(
                "bursty replay at {rate:.0} items/s ({}% of peak {:.0}): p99 {:.0} µs ≤ SLO {slo_us:.0} µs",
                (LOAD_FRACTION_OF_PEAK * 100.0) as u32,
                peak.throughput_items_per_s,
                chosen.bursty.latency_us.p99
            ),
        ),
        Criterion::new(
            size_flushes * 2 > sat.batches,
            format!(
                "at peak most flushes are by size: {} of {} (items {}, bytes {}, deadline {})",
                size_flushes, sat.batches, sat.flush_reasons.items, sat.flush_reasons.bytes, sat.flush_reasons.deadline
            ),
        ),
        Criterion::new(
            sat.batch_size.mean >= 0.8 * eff_max as f64,
            format!(
                "at peak mean batch {:.0} items ≥ 80% of the window's max {eff_max}",
                sat.batch_size.mean
            ),
        ),
        Criterion::new(
            low.flush_reasons.deadline * 2 > low.batches,
            format!(
                "at {LOW_LOAD_RATE} items/s most flushes are by deadline: {} of {}",
                low.flush_reasons.deadline, low.batches
            ),
        ),
        Criterion::new(
            low.latency_us.p99 <= low_bound_us,
            format!(
                "at {LOW_LOAD_RATE} items/s p99 {:.0} µs ≤ linger {:.1} ms + fdatasync p99 {:.0} µs + margin {} ms = {low_bound_us:.0} µs",
                low.latency_us.p99,
                choice.linger_ms,
                low.fdatasync_us.p99,
                LOW_LOAD_MARGIN.as_millis()
            ),
        ),
    ];

    let mut evidence = vec![write_evidence(&opts.out, "window-sweep.csv", &csv)?];
    evidence.push(write_json_evidence(&opts.out, "window.json", &choice)?);
    let figures = json!({
        "peak": peak,
        "bursty_rate_items_per_s": rate,
        "chosen": choice,
        "chosen_bursty": chosen.bursty,
        "chosen_saturation": chosen.sat,
        "low_load": low,
        "low_load_bound_us": low_bound_us,
        "effective_max_items": eff_max,
        "sweep_size": rows.len(),
    });
    evidence.push(write_json_evidence(
        &opts.out,
        "window-runs.json",
        &figures,
    )?);
    Ok((
        CheckResult::judge("window", criteria, figures, evidence),
        choice,
    ))
}
