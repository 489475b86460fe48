//! The crash-and-fault simulation: seeded ingest workloads run through the real ingest path (reader,
//! queue, batcher, sink, dead-letter queue, start-up recovery) — and in half of them a final
//! `dlq redrive --schema v2` — on [`crate::storage::sim`], crashed or failed at every durable
//! operation they make, restarted, and checked.
//!
//! For each seed: a fault-free pass counts the workload's durable operations (`K`); then for each
//! operation `n` of `1..=K` (every one, or an even spread of `max_points` of them) the workload runs
//! again from scratch with a fault at `n` — mostly a crash, sometimes EIO, ENOSPC or a short write —
//! and, one time in four, a second crash during the restart's recovery. After a crash, what survives
//! is drawn from the seed: unsynced data dropped, a random prefix of it kept, or random sectors of it
//! kept with zeros elsewhere. Then:
//! - right after the crash, everything the crashed run had acknowledged (its report's committed and
//!   dead-lettered counts, as the sink and DLQ returned) must still be there; and the next run's
//!   start-up must keep all of it (a wrong cut would be hidden later by re-reading the inputs);
//! - after every completed run, the store holds exactly what its start-up found plus what it
//!   committed;
//! - every restart must succeed (a refusal is a violation: a crash never corrupts);
//! - every run's counters must reconcile (`records_in = committed + dead_lettered + dropped`), the
//!   failed runs' too;
//!
//! Workloads also vary what the input bytes look like (blank lines, CRLF endings, lines at and past
//! the record cap) and how ingest runs (a validator thread of its own, or not).
//! - once every run has completed, every line the inputs ever held must be in the store exactly once —
//!   committed if valid, dead-lettered if not, never both — in order per input, and nothing else;
//! - in the quarter of workloads whose DLQ is bounded in bytes (drop-newer or drop-older, a limit of a
//!   few entries), the DLQ file stays within its bound after every ingest run and every crash (under
//!   drop-older: the limit, or one batch's entries alone), a missing line is always an invalid one (a
//!   valid record is never given up), acknowledged dead letters survive unless the run that evicted
//!   them counted them, and without faults the lines given up are exactly as many as the runs
//!   reported refused or evicted. (A re-drive puts entries back unbounded: not checked against it.)
//!
//! A violation names the seed, the operation and the fault, which reproduce it exactly.

mod error;
mod oracle;
mod workload;

pub use error::SimError;

pub use workload::{Change, Workload, RECORD_CAP};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::ingest::{ingest_into, IngestConfig, IngestReport};
use crate::retry::DlqLimit;
use crate::rng::SplitMix64;
use crate::sink::FileSink;
use crate::storage::sim::{CrashMode, FaultKind, SimFault, SimStorage, SimVfs};
use crate::storage::Storage;
use crate::summary::RunError;
use workload::Inputs;

/// A broken promise, with what reproduces it.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The workload's seed.
    pub seed: u64,
    /// The operation the fault struck (0: the fault-free pass).
    pub at_op: u64,
    /// The fault.
    pub fault: String,
    /// What was wrong: the [`SimError`]'s message, causes included (a violation is a record to print
    /// and compare, so it keeps text, not the error).
    pub what: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {} fault {} at operation {}: {} (reproduce: crash-sim --seed {} --op {})",
            self.seed, self.fault, self.at_op, self.what, self.seed, self.at_op
        )
    }
}

/// What a seed's simulation did.
#[derive(Debug, Clone, Default)]
pub struct SeedOutcome {
    /// Crash and fault points run.
    pub points: u64,
    /// Durable operations of the fault-free pass.
    pub ops: u64,
    /// Violations found (the first per point).
    pub violations: Vec<Violation>,
}

const SINK: &str = "/sim/sink";

fn config(w: &Workload, storage: &Storage, inputs: &[PathBuf]) -> IngestConfig {
    let mut cfg = IngestConfig::new(SINK, inputs.to_vec());
    cfg.run.sink.storage = storage.clone();
    cfg.run.sink.segment_bytes = 16 << 10; // rotate often
    cfg.run.window.max_items = w.max_items;
    cfg.run.window.max_bytes = 16 << 10;
    cfg.run.window.linger = Duration::from_secs(60); // batches cut by size and at the end only
    cfg.run.queue.capacity_items = 64;
    cfg.run.compress = w.codec;
    cfg.run.dlq_limit = w.dlq_limit;
    cfg.validator_thread = w.validator_thread;
    cfg.max_record_bytes = RECORD_CAP;
    cfg.run.min_free_bytes = 0;
    cfg
}

/// One ingest run; its report, or the error and what it had acknowledged before it: records
/// committed, dead letters made durable, and acknowledged dead letters a drop-older DLQ evicted.
fn run_once(cfg: &IngestConfig) -> Result<IngestReport, (RunError, u64, u64, u64)> {
    let sink = FileSink::open(&cfg.run.sink).map_err(|e| (RunError::Setup(e), 0, 0, 0))?;
    ingest_into(cfg, sink).map_err(|e| {
        let (c, d, x) = match &e {
            RunError::Sink { partial, .. } => (
                partial.committed,
                partial.dead_lettered,
                partial.dlq_evicted,
            ),
            _ => (0, 0, 0),
        };
        (e, c, d, x)
    })
}

/// After a run that completed: its start-up kept everything acknowledged before it (nothing
/// acknowledged was cut — a re-read would have put it back unseen by the final check), and the store
/// holds exactly what that start-up found plus what the run committed and dead-lettered. (An
/// unacknowledged block may survive a crash whole — all its sectors reached the disk — and is then
/// committed: the run resumes past it.) Returns the store's counts, all acknowledged now.
fn store_after_run(
    storage: &Storage,
    dlq: &Path,
    acked: (u64, u64),
    r: &IngestReport,
    run: usize,
    limit: Option<DlqLimit>,
    max_items: usize,
) -> Result<(u64, u64), SimError> {
    oracle::check_dlq_bound(storage, dlq, limit, max_items).map_err(|e| e.in_run(run, false))?;
    let have = oracle::committed(storage, Path::new(SINK))?.len() as u64;
    let dead = oracle::dead_letters(storage, dlq)?.len() as u64;
    if r.recovery.records < acked.0 {
        return Err(SimError::broken(format!(
            "run {run}: its start-up found {} committed records of {} acknowledged",
            r.recovery.records, acked.0
        )));
    }
    if have != r.recovery.records + r.committed {
        return Err(SimError::broken(format!(
            "run {run}: the store holds {have} records; start-up found {} and the run committed {}",
            r.recovery.records, r.committed
        )));
    }
    // A drop-older DLQ evicts acknowledged dead letters by policy: counted, not kept.
    if dead + r.run.dlq_evicted < acked.1 + r.dead_lettered {
        return Err(SimError::broken(format!(
            "run {run}: the DLQ holds {dead} entries and the run evicted {}; {} were acknowledged before and {} in the run",
            r.run.dlq_evicted, acked.1, r.dead_lettered
        )));
    }
    Ok((have, dead))
}

/// The fault for point `n` of a seed, and what a crash keeps.
fn fault_for(rng: &mut SplitMix64, n: u64) -> (SimFault, CrashMode) {
    let kind = match rng.below(10) {
        0 => FaultKind::Eio,
        1 => FaultKind::Enospc,
        2 => FaultKind::ShortWrite,
        _ => FaultKind::Crash,
    };
    let mode = [
        CrashMode::DropUnsynced,
        CrashMode::KeepPrefix,
        CrashMode::TornSectors,
    ][rng.below(3) as usize];
    (SimFault { at_op: n, kind }, mode)
}

/// Run the workload of `w` on a fresh simulated disk with `fault` (none: the fault-free pass).
/// `Ok(ops)` when every promise held.
fn simulate(
    w: &Workload,
    work: &Path,
    fault: Option<(SimFault, CrashMode)>,
    rng: &mut SplitMix64,
) -> Result<u64, SimError> {
    let fs = SimStorage::new();
    let storage = Storage::new(Arc::new(SimVfs(Arc::clone(&fs))));
    let mut inputs = Inputs::create(w, work).map_err(SimError::Inputs)?;
    fs.set_fault(fault.map(|f| f.0));
    let mut acked = (0u64, 0u64); // committed, dead-lettered: acknowledged by completed runs
                                  // Dead letters a bounded DLQ gave up (refused or evicted): exact without faults, where every
                                  // run completes and reports them.
    let mut policy_losses = 0u64;
    let mut second_crash = fault.is_some() && rng.below(4) == 0;
    for run in 0..w.runs() {
        if run > 0 {
            inputs
                .apply(&w.changes[run - 1])
                .map_err(SimError::Inputs)?;
        }
        // A run that fails is restarted (after the crash it suffered, if it was one) until it
        // completes: at most twice here, as at most two faults are planted.
        for attempt in 0.. {
            let cfg = config(w, &storage, &inputs.given);
            match run_once(&cfg) {
                Ok(r) => {
                    if r.unaccounted() != 0 {
                        return Err(SimError::broken(format!(
                            "run {run}: counters do not reconcile: {r:?}"
                        )));
                    }
                    acked = store_after_run(
                        &storage,
                        &cfg.run.dlq_dir(),
                        acked,
                        &r,
                        run,
                        w.dlq_limit,
                        w.max_items,
                    )?;
                    policy_losses += r.dropped_dlq_full + r.run.dlq_evicted;
                    break;
                }
                Err((e, c, d, evicted)) => {
                    if let RunError::Sink { partial, .. } = &e {
                        if partial.unaccounted() != 0 {
                            return Err(SimError::broken(format!(
                                "run {run}: a failed run's counters do not reconcile: {partial:?}"
                            )));
                        }
                    }
                    if attempt >= 2 || (fault.is_none() && !fs.is_dead()) {
                        return Err(SimError::Run {
                            what: format!("run {run}"),
                            attempt,
                            source: e,
                        });
                    }
                    let crashed = fs.is_dead();
                    if crashed {
                        fs.crash(fault.map_or(CrashMode::DropUnsynced, |f| f.1), rng);
                    }
                    // Everything acknowledged before the failure is still there.
                    // (Before recovery: a torn tail may still be there; intact entries are counted.)
                    let have = oracle::committed(&storage, Path::new(SINK))?.len() as u64;
                    let dead = oracle::intact_dead_letters(&storage, &cfg.run.dlq_dir())?;
                    oracle::check_dlq_bound(&storage, &cfg.run.dlq_dir(), w.dlq_limit, w.max_items)
                        .map_err(|e| e.in_run(run, true))?;
                    acked.0 += c;
                    acked.1 = (acked.1 + d).saturating_sub(evicted);
                    if have < acked.0 || dead < acked.1 {
                        return Err(SimError::broken(format!(
                            "run {run}: after the {} {} records and {} dead letters remain of {} and {} acknowledged",
                            if crashed { "crash" } else { "failure" },
                            have,
                            dead,
                            acked.0,
                            acked.1
                        )));
                    }
                    if second_crash {
                        // Crash again inside the restart's recovery or first commits.
                        second_crash = false;
                        let at = 1 + rng.below(8);
                        fs.set_fault(Some(SimFault {
                            at_op: at,
                            kind: FaultKind::Crash,
                        }));
                    }
                }
            }
        }
    }
    let cfg = config(w, &storage, &inputs.given);
    if w.redrive {
        let mode = fault.map_or(CrashMode::DropUnsynced, |f| f.1);
        policy_losses += redrive_step(&fs, &storage, &cfg, acked.0, &mut second_crash, mode, rng)?;
    }
    oracle::check_final(
        &storage,
        Path::new(SINK),
        &cfg.run.dlq_dir(),
        &inputs,
        w.redrive,
        w.dlq_limit
            .map(|_| fault.is_none().then_some(policy_losses)),
    )?;
    Ok(fs.ops())
}

/// `dlq redrive --schema v2`, restarted after each failure until it completes: what the crashed
/// re-drive acknowledged must survive each crash, and its counters must reconcile. Returns the dead
/// letters a bounded DLQ gave up in the completed re-drive.
fn redrive_step(
    fs: &SimStorage,
    storage: &Storage,
    cfg: &IngestConfig,
    mut acked: u64,
    second_crash: &mut bool,
    mode: CrashMode,
    rng: &mut SplitMix64,
) -> Result<u64, SimError> {
    let rcfg = crate::redrive::RedriveConfig::new(cfg.run.clone());
    for attempt in 0.. {
        match crate::redrive::redrive(&rcfg) {
            Ok(rep) => {
                if rep.run.unaccounted() != 0 {
                    return Err(SimError::broken(format!(
                        "redrive: counters do not reconcile: {rep:?}"
                    )));
                }
                return Ok(rep.run.dropped_by_reason.dlq_full + rep.run.dlq_evicted);
            }
            Err(e) => {
                if attempt >= 2 {
                    return Err(SimError::Run {
                        what: "redrive".into(),
                        attempt,
                        source: e,
                    });
                }
                if let RunError::Sink { partial, .. } = &e {
                    if partial.unaccounted() != 0 {
                        return Err(SimError::broken(format!(
                            "redrive: a failed run's counters do not reconcile: {partial:?}"
                        )));
                    }
                    acked += partial.committed;
                }
                if fs.is_dead() {
                    fs.crash(mode, rng);
                }
                let have = oracle::committed(storage, Path::new(SINK))?.len() as u64;
                if have < acked {
                    return Err(SimError::broken(format!(
                        "redrive: after the failure {have} records remain of {acked} acknowledged"
                    )));
                }
                if std::mem::take(second_crash) {
                    fs.set_fault(Some(SimFault {
                        at_op: 1 + rng.below(8),
                        kind: FaultKind::Crash,
                    }));
                }
            }
        }
    }
    unreachable!("the loop returns")
}

/// The operations a seed's faults strike: all `ops` of them, or an even spread of `max_points`.
fn points_of(ops: u64, max_points: u64) -> Vec<u64> {
    if ops <= max_points {
        (1..=ops).collect()
    } else {
        (0..max_points).map(|i| 1 + i * ops / max_points).collect()
    }
}

/// Simulate seed `seed`: the fault-free pass, then faults at `max_points` operations spread over the
/// workload (all of them when it has fewer). `work` is a scratch directory for the input files.
pub fn run_seed(seed: u64, max_points: u64, work: &Path) -> SeedOutcome {
    let w = Workload::new(seed);
    let mut rng = SplitMix64::new(seed);
    let mut out = SeedOutcome::default();
    let violation = |at_op: u64, fault: String, what: String| Violation {
        seed,
        at_op,
        fault,
        what,
    };
    let ops = match simulate(&w, work, None, &mut rng) {
        Ok(ops) => ops,
        Err(what) => {
            out.violations
                .push(violation(0, "none".into(), what.to_string()));
            return out;
        }
    };
    out.ops = ops;
    let points = points_of(ops, max_points);
    for n in points {
        let (fault, mode) = fault_for(&mut rng, n);
        out.points += 1;
        if let Err(what) = simulate(&w, work, Some((fault, mode)), &mut rng) {
            out.violations.push(violation(
                n,
                format!("{:?}/{:?}", fault.kind, mode),
                what.to_string(),
            ));
        }
    }
    out
}

/// Replay one point exactly as [`run_seed`] ran it (the same draws from the seed's generator).
pub fn replay(seed: u64, at_op: u64, max_points: u64, work: &Path) -> Result<(), SimError> {
    let w = Workload::new(seed);
    let mut rng = SplitMix64::new(seed);
    let ops = simulate(&w, work, None, &mut rng)?;
    let points = points_of(ops, max_points);
    for n in points {
        let (fault, mode) = fault_for(&mut rng, n);
        let r = simulate(&w, work, Some((fault, mode)), &mut rng);
        if n == at_op {
            return r.map(drop);
        }
    }
    Err(SimError::NotAPoint { seed, at_op })
}
