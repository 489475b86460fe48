//! What every check shares: options, the result record, run sizing, repetition and evidence files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use super::contention::{note_cpu, Contention};
#[cfg(test)]
use super::contention::{CONTENDED_OTHERS_WRITE_BYTES_PER_S, CONTENDED_OTHER_CORES};
pub use super::error::CheckError;
pub use super::verdict::{exit_code, CheckResult, Criterion, CriterionKind};

use crate::config::{LoadShape, RunConfig, StopAfter, WindowConfig};
use crate::error::SysError;
use crate::load::standard_trace_path;
use crate::summary::RunError;
use crate::summary::RunReport;

/// Options common to all checks.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Base directory for sink directories (one per run, removed afterwards).
    pub dir: PathBuf,
    /// Where evidence files go.
    pub out: PathBuf,
    /// Small and fast (for `make test`): fewer, shorter runs.
    pub quick: bool,
    /// The p99 latency objective.
    pub slo: Duration,
    /// Bursty trace to replay.
    pub trace: PathBuf,
    /// Window to use as "batched" (None: the one `check window` chose into `out`, else the default).
    pub window: Option<WindowConfig>,
    /// Print progress lines on stderr.
    pub verbose: bool,
    /// The `ingest-lab` binary, for checks that run it as a child (strace, sigstop).
    pub exe: Option<PathBuf>,
}

impl CheckOptions {
    /// Defaults: sinks under `target/ingest-lab/sink`, evidence under `target/ingest-lab/checks`.
    pub fn new() -> Self {
        CheckOptions {
            dir: PathBuf::from("target/ingest-lab/sink"),
            out: PathBuf::from("target/ingest-lab/checks"),
            quick: false,
            slo: Duration::from_millis(10),
            trace: standard_trace_path(),
            window: None,
            verbose: false,
            exe: None,
        }
    }

    /// Seconds for one measured run.
    pub fn run_secs(&self, full: f64) -> Duration {
        Duration::from_secs_f64(if self.quick {
            (full / 4.0).max(0.5)
        } else {
            full
        })
    }

    /// How many runs a statistical decision may take: one on `--quick` (which cannot decide: its
    /// timing verdicts are a smoke test), else from the fewest that can reach the level to 10, within
    /// `max_secs`.
    pub fn decision_budget(&self, max_secs: f64) -> crate::stats::Budget {
        let min = crate::stats::min_runs_for(crate::stats::LEVEL);
        crate::stats::Budget {
            min_runs: if self.quick { 1 } else { min },
            max_runs: if self.quick { 1 } else { 10 },
            max_secs,
        }
    }

    /// Repetitions of a measured comparison.
    pub fn reps(&self) -> usize {
        if self.quick {
            1
        } else {
            3
        }
    }

    /// A run config writing into a fresh sink directory named `tag`, with disk use capped by retention.
    pub fn run_config(&self, tag: &str, window: WindowConfig) -> RunConfig {
        let mut cfg = RunConfig::new(self.dir.join(tag));
        cfg.window = window;
        cfg.slo = self.slo;
        // Cap disk use: at most 2 segments of 32 MiB live, whatever the run length.
        cfg.sink.segment_bytes = 32 << 20;
        cfg.sink.retain_segments = Some(2);
        cfg.min_free_bytes = 128 << 20;
        cfg
    }

    /// Saturation for `secs`.
    pub fn saturate(&self, tag: &str, window: WindowConfig, secs: f64) -> RunConfig {
        let mut cfg = self.run_config(tag, window);
        cfg.load.rate = None;
        cfg.load.shape = LoadShape::Steady;
        cfg.load.stop = StopAfter::Duration(self.run_secs(secs));
        cfg
    }

    /// The standard bursty replay at `rate` for `secs`.
    pub fn bursty(&self, tag: &str, window: WindowConfig, rate: f64, secs: f64) -> RunConfig {
        let mut cfg = self.run_config(tag, window);
        cfg.load.rate = Some(rate);
        cfg.load.shape = LoadShape::Replay(self.trace.clone());
        cfg.load.stop = StopAfter::Duration(self.run_secs(secs));
        cfg
    }

    /// The `ingest-lab` binary, for checks that run it as a child; an error naming `check` otherwise.
    pub fn binary(&self, check: &str) -> Result<PathBuf, CheckError> {
        self.exe.clone().ok_or_else(|| CheckError::NoExe {
            check: check.to_string(),
        })
    }

    /// The `ingest-lab-child` binary beside `ingest-lab` (cargo builds both), for the checks that
    /// measure a child process; an error naming `check` when it is not there.
    pub fn child_binary(&self, check: &str) -> Result<PathBuf, CheckError> {
        let exe = self.binary(check)?;
        let child = exe.with_file_name("ingest-lab-child");
        if child.is_file() {
            Ok(child)
        } else {
            Err(CheckError::MissingBinary {
                check: check.to_string(),
                path: child,
            })
        }
    }

    pub(crate) fn progress(&self, msg: impl AsRef<str>) {
        if self.verbose {
            eprintln!("  {}", msg.as_ref());
        }
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// The project's bar: bursty-replay p99 within this factor of the lowest any window could reach on
/// that trace and disk (simulated: [`crate::batch::lower_bound`]). `check before-after` holds the
/// tuned window to it; `check window` spends no more than it when it chooses that window.
pub const MAX_OVER_LOWER_BOUND: f64 = 1.25;

/// Remove a run's files and let the filesystem settle before the next measurement: on a filesystem
/// mounted with `discard` (this machine's root is), freeing blocks costs at the next journal commit, so
/// without a `sync` here the *next* run's fdatasyncs would pay for this run's deletions.
pub fn clean_and_settle(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    nix::unistd::sync();
    std::thread::sleep(Duration::from_millis(200));
}

/// Run one pipeline run and remove its sink directory afterwards, whatever happened.
pub fn measured_run(cfg: &RunConfig) -> Result<RunReport, RunError> {
    let r = crate::pipeline::run(cfg);
    clean_and_settle(&cfg.sink.dir);
    let r = r?;
    note_cpu(&r.cpu);
    assert_eq!(
        r.unaccounted(),
        0,
        "counters do not reconcile (offered = committed + dead_lettered + dropped + rejected): {r:?}"
    );
    Ok(r)
}

/// Median, min and max of a sample.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Number of values.
    pub n: usize,
}

impl Spread {
    /// Spread of the figures of `v` that exist (NaN is a run without the figure, left out: `n` says
    /// how many are in); all NaN when none is.
    pub fn of(v: &[f64]) -> Spread {
        let s = crate::stats::sorted_figures(v);
        match (s.first(), s.last()) {
            (Some(&min), Some(&max)) => Spread {
                median: crate::stats::median_of_sorted(&s),
                min,
                max,
                n: s.len(),
            },
            _ => Spread {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
                n: 0,
            },
        }
    }
}

/// Write `text` to `out/name`, creating `out`; returns the path as a string for the evidence list.
pub fn write_evidence(out: &Path, name: &str, text: &str) -> Result<String, CheckError> {
    std::fs::create_dir_all(out).map_err(|e| SysError::new("mkdir", out, e))?;
    let p = out.join(name);
    std::fs::write(&p, text).map_err(|e| SysError::new("write", &p, e))?;
    Ok(p.display().to_string())
}

/// `x` rounded to `digits` decimals, for evidence tables a person reads (a CSV row of f64s otherwise
/// prints every digit the float holds).
pub fn rounded(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

/// Write `rows` as `out/name`, a CSV with a header from the rows' field names (the `csv` crate: fields
/// with commas, quotes or newlines are quoted); returns the path for the evidence list. No rows, no
/// header (serde names the columns from a row): an empty file, which the report reads as no table.
pub fn write_csv_rows<R: Serialize>(
    out: &Path,
    name: &str,
    rows: &[R],
) -> Result<String, CheckError> {
    std::fs::create_dir_all(out).map_err(|e| SysError::new("mkdir", out, e))?;
    let p = out.join(name);
    let csv_error = |source| CheckError::Csv {
        path: p.clone(),
        source,
    };
    let mut w = csv::Writer::from_path(&p).map_err(csv_error)?;
    for r in rows {
        w.serialize(r).map_err(csv_error)?;
    }
    w.flush().map_err(|e| SysError::new("write", &p, e))?;
    Ok(p.display().to_string())
}

/// What a dying child said last: the allocator's "memory allocation of N bytes failed" if it is there
/// (a panic or abort prints more lines after it), else the last line of its stderr.
pub fn last_words(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.contains("memory allocation"))
        .or(stderr.lines().last())
        .unwrap_or("")
        .to_string()
}

/// Write `value` pretty-printed as `out/name` (the JSON twin of [`write_evidence`]).
pub fn write_json_evidence(
    out: &Path,
    name: &str,
    value: &impl Serialize,
) -> Result<String, CheckError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CheckError::json(name, e))?;
    write_evidence(out, name, &text)
}

/// The last step of a check that keeps its figures as a file: they are written as `out/<check>.json`
/// after the tables in `evidence`, then the verdict comes from `criteria`. (Checks whose figures live
/// only in `checks.json` call [`CheckResult::judge`] directly.)
pub fn judge_recorded(
    out: &Path,
    check: &str,
    criteria: Vec<Criterion>,
    figures: serde_json::Value,
    mut evidence: Vec<String>,
) -> Result<CheckResult, CheckError> {
    evidence.push(write_json_evidence(
        out,
        &format!("{check}.json"),
        &figures,
    )?);
    Ok(CheckResult::judge(check, criteria, figures, evidence))
}

/// Items per batch the window allows at most for items of `item_bytes` (the count or the bytes bound).
pub fn effective_max_items(w: &WindowConfig, item_bytes: usize) -> usize {
    let framed = item_bytes + crate::codec::MAX_RECORD_FRAMING_BYTES;
    w.max_items.min((w.max_bytes / framed).max(1))
}

/// A figure rounded to a whole number for an evidence table: written as an integer (`12`, as
/// `{:.0}` wrote it, not the `12.0` a float prints), or as the float itself when it is not finite
/// (`NaN`: the run had no such figure), which the report reads as no number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Whole(pub f64);

impl Serialize for Whole {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_i64(self.0.round() as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

#[cfg(test)]
#[path = "common/tests.rs"]
mod tests;
