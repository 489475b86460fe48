//! `check poison`: poison records in a steady stream. The sink validates every record and rejects a
//! whole batch if any is invalid (like a bulk API). Split-and-retry isolates each bad record in
//! O(log n) attempts, dead-letters it with its reason, id and attempt count, and commits the rest: lag
//! stays flat. The abort-whole-batch baseline retries the batch with backoff, then dead-letters all of it:
//! its lag spirals and good records land in the DLQ.
//!
//! Exactness is checked over ids, not counts: the DLQ of split-and-retry holds exactly the injected ids,
//! and the segments hold every other offered id exactly once, in order.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::common::{
    clean_and_settle, judge_recorded, rounded, write_csv_rows, CheckOptions, CheckResult, Criterion,
};
use super::error::CheckError;
use crate::codec::BlockReader;
use crate::config::{LoadShape, StopAfter, WindowConfig};
use crate::error::SysError;
use crate::payload::{parse_id, PoisonSpec};
use crate::retry::{DeadLetterQueue, RetryStrategy};
use crate::sink::{utf8_record, FileSink, ValidatingSink};
use crate::summary::{RunReport, Sample};

/// One sample time of both strategies' runs, as a row of `poison-lag.csv`.
#[derive(Debug, Serialize)]
struct LagRow {
    t_s: f64,
    // A run that has no sample at this time (it ended sooner) leaves its cells empty.
    lag_split_and_retry: Option<u64>,
    lag_abort_whole_batch: Option<u64>,
    dlq_split: Option<u64>,
    dlq_abort: Option<u64>,
}

/// Offered items/s.
const RATE: f64 = 20_000.0;
/// One poison record in this many, seeded.
const POISON: PoisonSpec = PoisonSpec {
    seed: 7,
    one_in: 500,
};
/// The baseline's retries and first backoff.
const ABORT: RetryStrategy = RetryStrategy::AbortWholeBatch {
    retries: 3,
    backoff: Duration::from_millis(20),
};

struct Outcome {
    report: RunReport,
    dlq_ids: Vec<u64>,
    committed_ids: Vec<u64>,
    dlq_sample: Vec<crate::retry::DeadLetter>,
}

fn run_strategy(
    opts: &CheckOptions,
    tag: &str,
    retry: RetryStrategy,
    secs: f64,
) -> Result<Outcome, CheckError> {
    let mut cfg = opts.run_config(
        tag,
        WindowConfig {
            max_items: 256,
            max_bytes: 1 << 20,
            linger: Duration::from_millis(2),
        },
    );
    cfg.sink.retain_segments = None; // every committed id is read back
    cfg.load.rate = Some(RATE);
    cfg.load.shape = LoadShape::Steady;
    cfg.load.stop = StopAfter::Duration(Duration::from_secs_f64(secs));
    cfg.load.ids = true;
    cfg.load.poison = Some(POISON);
    // Room for the whole run: the producer never blocks, so lag is measured against the schedule.
    cfg.queue.capacity_items = (RATE * secs * 1.2) as usize;
    cfg.queue.capacity_bytes = usize::MAX;
    cfg.retry = retry;
    cfg.observe.sample_every = Some(Duration::from_millis(100));
    let _ = std::fs::remove_dir_all(&cfg.sink.dir);
    let sink = FileSink::open(&cfg.sink)?;
    let report = crate::pipeline::run_with_sink(&cfg, ValidatingSink::new(sink, utf8_record))?;
    if report.unaccounted() != 0 {
        return Err(CheckError::invalid(
            "counters do not reconcile",
            format!("{report:?}"),
        ));
    }
    let dlq =
        DeadLetterQueue::read_all(&cfg.dlq_dir().join("dead-letter.jsonl")).unwrap_or_default();
    let mut committed_ids = Vec::new();
    let mut segs: Vec<_> = std::fs::read_dir(&cfg.sink.dir)
        .map_err(|e| SysError::new("read_dir", &cfg.sink.dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segs.sort();
    for s in segs {
        let bytes = std::fs::read(&s).map_err(|e| SysError::new("read", &s, e))?;
        for b in BlockReader::new(&bytes) {
            let frame = |source| CheckError::Frame {
                path: s.clone(),
                source,
            };
            let b = b.map_err(frame)?;
            for r in b.records() {
                let r = r.map_err(frame)?;
                committed_ids.push(parse_id(r).ok_or_else(|| {
                    CheckError::invalid(s.display().to_string(), "committed record without an id")
                })?);
            }
        }
    }
    clean_and_settle(&cfg.sink.dir);
    Ok(Outcome {
        report,
        dlq_ids: dlq.iter().map(|d| d.id).collect(),
        dlq_sample: dlq.into_iter().take(3).collect(),
        committed_ids,
    })
}

/// Least-squares slope of lag over time, items/s.
fn lag_slope(s: &[Sample]) -> f64 {
    let n = s.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (
        s.iter().map(|x| x.t_s).sum::<f64>() / n,
        s.iter().map(|x| x.lag() as f64).sum::<f64>() / n,
    );
    let cov: f64 = s.iter().map(|x| (x.t_s - mx) * (x.lag() as f64 - my)).sum();
    let var: f64 = s.iter().map(|x| (x.t_s - mx).powi(2)).sum();
    if var == 0.0 {
        0.0
    } else {
        cov / var
    }
}

/// Samples taken while the generator was still offering (the drain at the end is not lag growth).
fn offering(s: &[Sample], offered: u64) -> Vec<Sample> {
    s.iter().copied().filter(|x| x.offered < offered).collect()
}

/// Run the check.
pub fn poison(opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    let secs = opts.run_secs(6.0).as_secs_f64().max(2.0);
    opts.progress("poison: split-and-retry");
    let split = run_strategy(opts, "poison-split", RetryStrategy::SplitAndRetry, secs)?;
    opts.progress("poison: abort-whole-batch baseline");
    let abort = run_strategy(opts, "poison-abort", ABORT, secs)?;

    let offered = split.report.offered;
    let injected: Vec<u64> = (0..offered).filter(|&i| POISON.is_poison(i)).collect();
    let mut split_dlq = split.dlq_ids.clone();
    split_dlq.sort_unstable();
    let expected_committed: Vec<u64> = (0..offered).filter(|&i| !POISON.is_poison(i)).collect();
    let abort_injected = (0..abort.report.offered)
        .filter(|&i| POISON.is_poison(i))
        .count() as u64;
    let collateral = abort
        .dlq_ids
        .iter()
        .filter(|&&i| !POISON.is_poison(i))
        .count();

    let s_samples = offering(&split.report.samples, offered);
    let a_samples = offering(&abort.report.samples, abort.report.offered);
    let max_lag = |v: &[Sample]| v.iter().map(Sample::lag).max().unwrap_or(0);
    let (s_slope, a_slope) = (lag_slope(&s_samples), lag_slope(&a_samples));
    let (s_max, a_max) = (max_lag(&s_samples), max_lag(&a_samples));
    let half = |v: &[Sample], second: bool| {
        let mid = v.len() / 2;
        let part = if second { &v[mid..] } else { &v[..mid] };
        part.iter().map(Sample::lag).max().unwrap_or(0)
    };
    // "Flat": the lag never exceeds what ~50 ms of offered load is, and its trend is under 1 % of the rate.
    let flat_bound = (RATE * 0.05) as u64;

    let criteria = vec![
        Criterion::exact(
            split_dlq == injected,
            format!(
                "split-and-retry: the DLQ holds exactly the {} injected ids ({} entries)",
                injected.len(),
                split_dlq.len()
            ),
        ),
        Criterion::exact(
            split.committed_ids == expected_committed,
            format!(
                "split-and-retry: every other id committed exactly once, in order ({} of {} expected)",
                split.committed_ids.len(),
                expected_committed.len()
            ),
        ),
        Criterion::timing(
            s_max <= flat_bound && s_slope.abs() < RATE * 0.01,
            format!(
                "split-and-retry lag flat: max {s_max} items (bound {flat_bound} = 50 ms of load), trend {s_slope:.0} items/s"
            ),
        ),
        Criterion::timing(
            a_slope > RATE * 0.05 && half(&a_samples, true) > 2 * half(&a_samples, false).max(1),
            format!(
                "abort-whole-batch lag grows: trend {a_slope:.0} items/s, max {} in the first half → {} in the second (max {a_max})",
                half(&a_samples, false),
                half(&a_samples, true)
            ),
        ),
        Criterion::exact(
            collateral > 0,
            format!(
                "abort-whole-batch dead-letters good records with the bad: {} entries for {abort_injected} injected ({collateral} good)",
                abort.dlq_ids.len()
            ),
        ),
    ];

    let n = split.report.samples.len().max(abort.report.samples.len());
    let lags: Vec<LagRow> = (0..n)
        .map(|i| {
            let s = split.report.samples.get(i);
            let a = abort.report.samples.get(i);
            LagRow {
                t_s: rounded(s.or(a).map_or(0.0, |x| x.t_s), 1),
                lag_split_and_retry: s.map(Sample::lag),
                lag_abort_whole_batch: a.map(Sample::lag),
                dlq_split: s.map(|x| x.dead_lettered),
                dlq_abort: a.map(|x| x.dead_lettered),
            }
        })
        .collect();
    let strip = |r: &RunReport| {
        let mut r = r.clone();
        r.samples.clear();
        r
    };
    let figures = json!({
        "rate": RATE, "poison_one_in": POISON.one_in, "poison_seed": POISON.seed, "seconds": secs,
        "injected": injected.len(),
        "split": { "run": strip(&split.report), "dlq_entries": split.dlq_ids.len(), "lag_max": s_max,
                   "lag_slope_items_per_s": s_slope, "retry_attempts": split.report.retry_attempts,
                   "dlq_sample": split.dlq_sample },
        "abort": { "run": strip(&abort.report), "dlq_entries": abort.dlq_ids.len(), "collateral": collateral,
                   "lag_max": a_max, "lag_slope_items_per_s": a_slope, "retry_attempts": abort.report.retry_attempts },
    });
    let evidence = vec![write_csv_rows(&opts.out, "poison-lag.csv", &lags)?];
    judge_recorded(&opts.out, "poison", criteria, figures, evidence)
}
