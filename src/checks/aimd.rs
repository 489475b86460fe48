//! `check aimd`: does a window that adapts beat every window a user could fix in advance?
//!
//! Two regimes on the same build, every contender in both, repeated:
//! - **low**: the bursty process at a few hundred items/s. Each item could have its own fdatasync, so a
//!   linger only adds latency: the figure that matters is p99.
//! - **high**: the standard bursty replay at the fraction of batched peak `check window` tunes at, where
//!   bursts arrive at the sink's capacity: the figures that matter are throughput and fdatasyncs per item
//!   (what the disk's fixed cost is paid per item), under the SLO.
//!
//! Contenders: smart batching (no timer, LMAX-style group commit), static windows over a linger sweep
//! (same size caps), and AIMD (`batch/aimd.rs`) starting at linger 0 with the same caps.
//!
//! "Best static": a user must pick one window for both regimes. Among the fixed contenders (smart
//! included) whose median p99 meets the SLO in both regimes, the one with the smallest *regret*: low-load
//! p99 relative to the best fixed low-load p99, plus high-load fdatasyncs/item relative to the best fixed
//! high-load fdatasyncs/item. The most latency-first and the most cost-first picks are reported beside it.
//! AIMD passes when it meets the SLO in both regimes, is at least as good as the best static on low-load
//! p99 and on high-load fdatasyncs/item and throughput (within `NOISE` — medians of a noisy shared
//! machine), and clearly better (≥ `CLEAR_WIN`×) on at least one.
//!
//! Why the high-load comparison is close (the figures are in the closing notes of issue 5 and in run
//! folders): there the bursts arrive at the sink's capacity, so p99 is mostly burst queueing and disk
//! jitter (the ranges of p99 at different lingers overlap from run to run) and the p99 gate says little
//! about the linger; and a
//! controller that moves pays a sawtooth penalty against a static window at its mean — fdatasyncs/item
//! are set by its low phases, p99 by its high ones. So AIMD's clear win is across regimes (low-load p99),
//! while at high load it ties the best static within the disk's noise, and the verdict on that regime
//! can go either way from one run to the next.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::common::{
    measured_run, write_evidence, write_json_evidence, CheckOptions, CheckResult, Criterion, Spread,
};
use super::window::{measure_peak, WindowChoice, LOAD_FRACTION_OF_PEAK};
use crate::config::{AimdConfig, LoadShape, StopAfter, WindowConfig, WindowMode};
use crate::summary::RunReport;

/// Offered items/s in the low regime ("a few hundred").
pub const LOW_RATE: f64 = 300.0;
/// Size caps shared by every contender: the largest window of the sweep.
const MAX_ITEMS: usize = 16384;
const MAX_BYTES: usize = 1 << 20;
/// "At least as good" tolerates this relative difference between medians (run-to-run spread of p99 on
/// this machine is ±20–30 %; a verdict finer than this would be a coin toss).
pub const NOISE: f64 = 0.10;
/// "Clearly better": by at least this factor.
pub const CLEAR_WIN: f64 = 1.5;

/// One contender.
#[derive(Debug, Clone, Copy)]
struct Contender {
    name: &'static str,
    mode: WindowMode,
    linger_ms: f64,
}

impl Contender {
    fn label(&self) -> String {
        match self.mode {
            WindowMode::Static => format!("static linger={}ms", self.linger_ms),
            _ => self.name.to_string(),
        }
    }

    fn window(&self) -> WindowConfig {
        WindowConfig {
            max_items: MAX_ITEMS,
            max_bytes: MAX_BYTES,
            linger: Duration::from_secs_f64(self.linger_ms / 1e3),
        }
    }

    fn is_fixed(&self) -> bool {
        !matches!(self.mode, WindowMode::Aimd(_))
    }
}

fn contenders(quick: bool) -> Vec<Contender> {
    let lingers: &[f64] = if quick {
        &[1.0, 2.0]
    } else {
        &[0.5, 1.0, 2.0, 5.0]
    };
    let mut v = vec![Contender {
        name: "smart",
        mode: WindowMode::Smart,
        linger_ms: 0.0,
    }];
    v.extend(lingers.iter().map(|&l| Contender {
        name: "static",
        mode: WindowMode::Static,
        linger_ms: l,
    }));
    v.push(Contender {
        name: "aimd",
        mode: WindowMode::Aimd(AimdConfig::default()),
        linger_ms: 0.0,
    });
    v
}

/// Medians over repetitions of one contender in one regime.
#[derive(Debug, Clone, Serialize)]
struct Outcome {
    p99_us: Spread,
    fdatasyncs_per_item: Spread,
    items_per_s: Spread,
    mean_batch: Spread,
    cpu_other_cores_max: f64,
}

impl Outcome {
    fn of(runs: &[RunReport]) -> Outcome {
        let s = |f: fn(&RunReport) -> f64| Spread::of(&runs.iter().map(f).collect::<Vec<_>>());
        Outcome {
            p99_us: s(|r| r.latency_us.p99),
            fdatasyncs_per_item: s(|r| r.fdatasyncs_per_item),
            items_per_s: s(|r| r.throughput_items_per_s),
            mean_batch: s(|r| r.batch_size.mean),
            cpu_other_cores_max: runs.iter().map(|r| r.cpu.other_cores).fold(0.0, f64::max),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    contender: String,
    low: Outcome,
    high: Outcome,
    meets_slo_both: bool,
    regret: Option<f64>,
}

/// Run the check.
pub fn aimd(opts: &CheckOptions) -> Result<CheckResult, String> {
    let slo_us = opts.slo.as_secs_f64() * 1e6;
    let peak = match WindowChoice::load(&opts.out) {
        Some(c) => c.peak_items_per_s,
        None => {
            opts.progress("aimd: measuring batched peak (no window.json in the output folder)");
            measure_peak(opts)?.throughput_items_per_s
        }
    };
    let high_rate = (peak * LOAD_FRACTION_OF_PEAK).round();
    let secs = 5.0;
    let all = contenders(opts.quick);
    let mut runs: Vec<(Vec<RunReport>, Vec<RunReport>)> = vec![(vec![], vec![]); all.len()];
    let mut csv = String::from(
        "contender,regime,rep,rate,p50_us,p99_us,max_us,items_per_s,fdatasyncs_per_item,mean_batch,\
         final_linger_ms,cpu_process_cores,cpu_other_cores\n",
    );
    // Interleave contenders within each repetition, so slow drift of the disk hits all of them alike.
    for rep in 0..opts.reps() {
        for (i, c) in all.iter().enumerate() {
            for (regime, rate) in [("low", LOW_RATE), ("high", high_rate)] {
                let mut cfg = if regime == "low" {
                    let mut cfg = opts.run_config("aimd", c.window());
                    cfg.load.rate = Some(LOW_RATE);
                    cfg.load.shape = LoadShape::Bursty {
                        seed: 7 + rep as u64,
                    };
                    cfg.load.stop = StopAfter::Duration(opts.run_secs(secs));
                    cfg
                } else {
                    opts.bursty("aimd", c.window(), high_rate, secs)
                };
                cfg.window_mode = c.mode;
                let r = measured_run(&cfg).map_err(|e| e.to_string())?;
                opts.progress(format!(
                    "aimd: rep {rep} {:<20} {regime:<4} p99 {:>7.0} µs  fdatasyncs/item {:.5}  {:>8.0} items/s",
                    c.label(),
                    r.latency_us.p99,
                    r.fdatasyncs_per_item,
                    r.throughput_items_per_s
                ));
                let _ = writeln!(
                    csv,
                    "{},{regime},{rep},{rate},{:.0},{:.0},{:.0},{:.0},{:.6},{:.1},{},{:.2},{:.2}",
                    c.label(),
                    r.latency_us.p50,
                    r.latency_us.p99,
                    r.latency_us.max,
                    r.throughput_items_per_s,
                    r.fdatasyncs_per_item,
                    r.batch_size.mean,
                    r.aimd_trace
                        .last()
                        .map_or(String::new(), |p| format!("{:.3}", p.linger_ms)),
                    r.cpu.process_cores,
                    r.cpu.other_cores,
                );
                if regime == "low" {
                    runs[i].0.push(r);
                } else {
                    runs[i].1.push(r);
                }
            }
        }
    }

    let mut rows: Vec<Row> = all
        .iter()
        .zip(&runs)
        .map(|(c, (low, high))| {
            let (low, high) = (Outcome::of(low), Outcome::of(high));
            Row {
                contender: c.label(),
                meets_slo_both: low.p99_us.median <= slo_us && high.p99_us.median <= slo_us,
                low,
                high,
                regret: None,
            }
        })
        .collect();
    let fixed = |i: &usize| all[*i].is_fixed() && rows[*i].meets_slo_both;
    let eligible: Vec<usize> = (0..rows.len()).filter(fixed).collect();
    let best_low = eligible
        .iter()
        .map(|&i| rows[i].low.p99_us.median)
        .fold(f64::INFINITY, f64::min);
    let best_high = eligible
        .iter()
        .map(|&i| rows[i].high.fdatasyncs_per_item.median)
        .fold(f64::INFINITY, f64::min);
    for &i in &eligible {
        rows[i].regret = Some(
            rows[i].low.p99_us.median / best_low
                + rows[i].high.fdatasyncs_per_item.median / best_high,
        );
    }
    let by = |f: &dyn Fn(&Row) -> f64| {
        eligible
            .iter()
            .copied()
            .min_by(|&a, &b| f(&rows[a]).total_cmp(&f(&rows[b])))
    };
    let best = by(&|r| r.regret.unwrap_or(f64::INFINITY));
    let latency_first = by(&|r| r.low.p99_us.median);
    let cost_first = by(&|r| r.high.fdatasyncs_per_item.median);
    let ai = all.len() - 1;
    let a = &rows[ai];

    // The AIMD trace of the first high-load run, and of the first low-load run.
    let mut trace_csv =
        String::from("regime,t_s,linger_ms,p99_us,items_per_s,arrivals_per_commit,move\n");
    for (regime, r) in [("low", &runs[ai].0[0]), ("high", &runs[ai].1[0])] {
        for p in &r.aimd_trace {
            let _ = writeln!(
                trace_csv,
                "{regime},{:.3},{:.3},{:.0},{:.0},{:.2},{}",
                p.t_s,
                p.linger_ms,
                p.p99_us,
                p.items_per_s,
                p.arrivals_per_commit,
                p.mv.as_str()
            );
        }
    }
    let mut table = String::from(
        "contender,low_p99_us,low_p99_min,low_p99_max,high_p99_us,high_p99_min,high_p99_max,\
         high_fdatasyncs_per_item,high_items_per_s,high_mean_batch,meets_slo_both,regret\n",
    );
    for r in &rows {
        let _ = writeln!(
            table,
            "{},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.6},{:.0},{:.1},{},{}",
            r.contender,
            r.low.p99_us.median,
            r.low.p99_us.min,
            r.low.p99_us.max,
            r.high.p99_us.median,
            r.high.p99_us.min,
            r.high.p99_us.max,
            r.high.fdatasyncs_per_item.median,
            r.high.items_per_s.median,
            r.high.mean_batch.median,
            r.meets_slo_both,
            r.regret.map_or(String::new(), |x| format!("{x:.2}"))
        );
    }

    let mut criteria = vec![
        Criterion::timing(
            a.low.p99_us.median <= slo_us,
            format!(
                "AIMD at {LOW_RATE} items/s: p99 {:.0} µs (median of {}) ≤ SLO {slo_us:.0} µs",
                a.low.p99_us.median, a.low.p99_us.n
            ),
        ),
        Criterion::timing(
            a.high.p99_us.median <= slo_us,
            format!(
                "AIMD on the bursty replay at {high_rate:.0} items/s ({}% of peak {peak:.0}): p99 {:.0} µs ≤ SLO {slo_us:.0} µs",
                (LOAD_FRACTION_OF_PEAK * 100.0) as u32,
                a.high.p99_us.median
            ),
        ),
    ];
    match best {
        None => criteria.push(Criterion::timing(
            false,
            "no fixed window met the SLO in both regimes: nothing to compare against",
        )),
        Some(b) => {
            let s = &rows[b];
            let low_ratio = s.low.p99_us.median / a.low.p99_us.median;
            let high_ratio = s.high.fdatasyncs_per_item.median / a.high.fdatasyncs_per_item.median;
            criteria.push(Criterion::timing(
                low_ratio >= 1.0 - NOISE,
                format!(
                    "low load p99: AIMD {:.0} µs vs best static ({}) {:.0} µs — {low_ratio:.2}× (at least as good: ≥ {:.2})",
                    a.low.p99_us.median, s.contender, s.low.p99_us.median, 1.0 - NOISE
                ),
            ));
            criteria.push(Criterion::timing(
                high_ratio >= 1.0 - NOISE,
                format!(
                    "high load fdatasyncs/item: AIMD {:.6} vs best static {:.6} — {high_ratio:.2}× fewer (≥ {:.2})",
                    a.high.fdatasyncs_per_item.median, s.high.fdatasyncs_per_item.median, 1.0 - NOISE
                ),
            ));
            criteria.push(Criterion::timing(
                a.high.items_per_s.median >= (1.0 - NOISE) * s.high.items_per_s.median,
                format!(
                    "high load throughput: AIMD {:.0} vs best static {:.0} items/s",
                    a.high.items_per_s.median, s.high.items_per_s.median
                ),
            ));
            criteria.push(Criterion::timing(
                low_ratio >= CLEAR_WIN || high_ratio >= CLEAR_WIN,
                format!(
                    "AIMD clearly better (≥ {CLEAR_WIN}×) on at least one: low p99 {low_ratio:.2}×, high fdatasyncs/item {high_ratio:.2}×"
                ),
            ));
        }
    }

    let name = |i: Option<usize>| i.map(|i| rows[i].contender.clone());
    let mut evidence = vec![
        write_evidence(&opts.out, "aimd-runs.csv", &csv)?,
        write_evidence(&opts.out, "aimd-compare.csv", &table)?,
        write_evidence(&opts.out, "aimd-trace.csv", &trace_csv)?,
    ];
    let figures = json!({
        "slo_us": slo_us,
        "low_rate": LOW_RATE,
        "high_rate": high_rate,
        "peak_items_per_s": peak,
        "best_static": name(best),
        "latency_first_static": name(latency_first),
        "cost_first_static": name(cost_first),
        "aimd_config": format!("{:?}", AimdConfig::default()),
        "rows": rows,
    });
    evidence.push(write_json_evidence(&opts.out, "aimd.json", &figures)?);
    Ok(CheckResult::judge("aimd", criteria, figures, evidence))
}
