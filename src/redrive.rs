//! `dlq redrive`: after a schema fix, replay the dead-letter queue into the main stream — exactly once,
//! resumable, and unable to loop.
//!
//! 1. The pending file `dead-letter.jsonl` is renamed to a new generation `redrive-NNNNNN.jsonl` (one
//!    atomic rename + directory fsync); new dead letters start a fresh pending file.
//! 2. Each entry of the generation is validated under the new schema: valid ones go through the same
//!    queue, window and sink as any record, their position in the generation committed with them
//!    (`ingest/checkpoint.rs`), so a crash mid-re-drive resumes after the last committed entry. Entries
//!    still invalid go back to the pending file with `attempts + 1` and their earlier reason appended to
//!    `history`; entries that reached `max_attempts` are put back untouched ("parked") and not tried again.
//! 3. When the generation is done and the pending file synced, it is renamed `redrive-NNNNNN.drained.jsonl`
//!    (kept for audit). A second re-drive finds nothing new to commit: only entries that failed again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock::Clock;
use crate::codec::control::Position;
use crate::config::RunConfig;
use crate::error::SysError;
use crate::ingest::{start_up, Schema};
use crate::item::{Item, SourcePos};
use crate::pipeline::{run_with_producer, Ends, GenOutcome, Sources};
use crate::queue::PushOutcome;
use crate::retry::cut_unacknowledged_dead_letters;
use crate::retry::{DeadLetter, DeadLetterQueue};
use crate::sink::FileSink;
use crate::storage::Storage;
use crate::summary::RunError;
use crate::summary::RunReport;

/// What to re-drive and how.
#[derive(Debug, Clone)]
pub struct RedriveConfig {
    /// The main stream's pipeline settings (sink dir, window, DLQ dir).
    pub run: RunConfig,
    /// The schema to validate with (the fix).
    pub schema: Schema,
    /// Entries that have failed this many attempts are parked, not re-driven again.
    pub max_attempts: u32,
    /// Re-driven records per second at most (a re-drive must not starve live traffic); `None` = as fast
    /// as the sink takes them.
    pub rate: Option<f64>,
}

impl RedriveConfig {
    /// Defaults: schema v2, 3 attempts, no rate limit.
    pub fn new(run: RunConfig) -> Self {
        RedriveConfig {
            run,
            schema: Schema::V2,
            max_attempts: 3,
            rate: None,
        }
    }
}

/// What a re-drive did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedriveReport {
    /// Generations processed (normally 1; more if an earlier re-drive crashed).
    pub generations: Vec<String>,
    /// Entries read from them (past any resume point).
    pub entries: u64,
    /// Entries skipped because a crashed re-drive had already committed them.
    pub resumed: u64,
    /// Committed to the main stream.
    pub redriven: u64,
    /// Still invalid: back in the pending DLQ with attempts + 1.
    pub still_invalid: u64,
    /// At the attempt limit, or kept only as a prefix: back in the pending DLQ untouched.
    pub parked: u64,
    /// Entries now pending in the DLQ.
    pub pending_after: u64,
    /// Stopped early by SIGINT/SIGTERM (the generation stays in progress and resumes next time).
    pub interrupted: bool,
    /// `fdatasync` calls start-up recovery made on the main stream's segments (see
    /// [`crate::ingest::Recovery::fdatasyncs`]).
    pub recovery_fdatasyncs: u64,
    /// The pipeline run that committed them.
    pub run: RunReport,
}

/// The DLQ's state for `dlq list`.
#[derive(Debug, Clone, Serialize)]
pub struct DlqStatus {
    /// The DLQ directory.
    pub dir: String,
    /// Pending entries (`dead-letter.jsonl`).
    pub pending: Vec<DeadLetter>,
    /// Generations being re-driven (a crashed re-drive leaves one).
    pub in_progress: Vec<String>,
    /// Drained generations and their entry counts.
    pub drained: Vec<(String, u64)>,
}

use crate::retry::PENDING_FILE as PENDING;

fn generation_name(n: u64, drained: bool) -> String {
    if drained {
        format!("redrive-{n:06}.drained.jsonl")
    } else {
        format!("redrive-{n:06}.jsonl")
    }
}

/// `(number, drained)` of a generation file name.
fn parse_generation(name: &str) -> Option<(u64, bool)> {
    let rest = name.strip_prefix("redrive-")?;
    let (num, drained) = match rest.strip_suffix(".drained.jsonl") {
        Some(n) => (n, true),
        None => (rest.strip_suffix(".jsonl")?, false),
    };
    Some((num.parse().ok()?, drained))
}

fn generations(storage: &Storage, dir: &Path) -> Result<Vec<(u64, bool, PathBuf)>, SysError> {
    let mut v: Vec<(u64, bool, PathBuf)> = storage
        .list_or_empty(dir)
        .map_err(|e| SysError::new("readdir", dir, e))?
        .into_iter()
        .filter_map(|p| {
            let (n, d) = parse_generation(p.file_name()?.to_str()?)?;
            Some((n, d, p))
        })
        .collect();
    v.sort();
    Ok(v)
}

fn read_entries(storage: &Storage, path: &Path) -> Result<Vec<DeadLetter>, RunError> {
    match storage.len(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        _ => DeadLetterQueue::read_all_in(storage, path).map_err(RunError::Recovery),
    }
}

/// The DLQ's state.
pub fn dlq_status(dlq_dir: &Path) -> Result<DlqStatus, RunError> {
    let storage = Storage::os();
    let mut s = DlqStatus {
        dir: dlq_dir.display().to_string(),
        pending: read_entries(&storage, &dlq_dir.join(PENDING))?,
        in_progress: Vec::new(),
        drained: Vec::new(),
    };
    for (n, drained, path) in generations(&storage, dlq_dir).map_err(RunError::Setup)? {
        if drained {
            s.drained.push((
                generation_name(n, true),
                read_entries(&storage, &path)?.len() as u64,
            ));
        } else {
            s.in_progress.push(generation_name(n, false));
        }
    }
    Ok(s)
}

/// Re-drive the DLQ of `cfg.run` into its main stream.
pub fn redrive(cfg: &RedriveConfig) -> Result<RedriveReport, RunError> {
    let dlq_dir = cfg.run.dlq_dir();
    // Both directories are this process's until it ends, before anything in them is read.
    let _locks = (
        cfg.run
            .sink
            .storage
            .lock(&cfg.run.sink.dir)
            .map_err(RunError::Setup)?,
        cfg.run
            .sink
            .storage
            .lock(&dlq_dir)
            .map_err(RunError::Setup)?,
    );
    let storage = &cfg.run.sink.storage;
    let recovery = start_up(storage, &cfg.run.sink.dir, "redrive").map_err(RunError::Recovery)?;
    // Before pending entries become a generation: the unacknowledged ones of a crashed ingest go.
    cut_unacknowledged_dead_letters(storage, &dlq_dir, recovery.dlq_seq, "redrive")
        .map_err(RunError::Setup)?;
    let mut gens = generations(storage, &dlq_dir).map_err(RunError::Setup)?;
    let pending = dlq_dir.join(PENDING);
    if !gens.iter().any(|g| !g.1) && !read_entries(storage, &pending)?.is_empty() {
        // Past every number ever used: a drained generation's file may have been removed, but its
        // committed position remains, and a new generation under its number would skip that many
        // entries as already re-driven (lost).
        let committed_max = recovery
            .positions
            .keys()
            .filter_map(|k| parse_generation(k.strip_prefix("dlq:")?))
            .map(|(n, _)| n)
            .max();
        let n = gens
            .last()
            .map(|g| g.0)
            .max(committed_max)
            .map_or(1, |m| m + 1);
        let to = dlq_dir.join(generation_name(n, false));
        storage
            .rename_durable(&pending, &to)
            .map_err(RunError::Setup)?;
        gens.push((n, false, to));
    }
    let todo: Vec<(u64, PathBuf)> = gens
        .into_iter()
        .filter(|g| !g.1)
        .map(|g| (g.0, g.2))
        .collect();
    let keys: Vec<String> = todo
        .iter()
        .map(|(n, _)| format!("dlq:{}", generation_name(*n, false)))
        .collect();
    let entries: Vec<Vec<DeadLetter>> = todo
        .iter()
        .map(|(_, p)| read_entries(storage, p))
        .collect::<Result<_, _>>()?;

    let sink = FileSink::open(&cfg.run.sink).map_err(RunError::Setup)?;
    // Entries that fail again are put back with the sequence number they had (not renumbered: they
    // were acknowledged long ago, so no start-up cuts them); a re-run of an interrupted redrive reads
    // its generation again and de-duplicates them by source and sequence number.
    let mut back = DeadLetterQueue::open_dedup_in(storage, &dlq_dir).map_err(RunError::Setup)?;
    let mut rep = RedriveReport {
        generations: keys.clone(),
        ..RedriveReport::default()
    };
    let mut dlq_err = None;
    let sources = Sources {
        keys: keys.clone(),
        dlq: None,
        carried: Vec::new(),
    };
    let mut run_cfg = cfg.run.clone();
    if let Some(p) = run_cfg.observe.progress.as_mut() {
        p.total = Some(entries.iter().map(|l| l.len() as u64).sum());
    }
    let run = run_with_producer(&run_cfg, sink, sources, |ends, _| {
        let mut out = GenOutcome::default();
        let started = Instant::now();
        'gens: for (g, list) in entries.iter().enumerate() {
            let skip = recovery.positions.get(&keys[g]).map_or(0, |p| p.line);
            for (i, e) in list.iter().enumerate() {
                let line = i as u64 + 1;
                if cfg.run.control.stop_requested() {
                    break 'gens;
                }
                if line <= skip {
                    rep.resumed += 1;
                    continue;
                }
                rep.entries += 1;
                let bytes = e.bytes();
                let verdict = match &bytes {
                    None => Err(None),
                    Some(_) if e.attempts >= cfg.max_attempts => Err(None),
                    Some(b) => cfg.schema.validate(b).map_err(|x| Some(x.to_string())),
                };
                match (verdict, bytes) {
                    (Ok(()), Some(b)) => {
                        if let Err(x) = back.sync() {
                            dlq_err = Some(x);
                            break 'gens;
                        }
                        pace(cfg.rate, started, out.offered);
                        if !push(&ends, b, g, line, &mut out) {
                            break 'gens;
                        }
                    }
                    (Err(Some(reason)), _) => {
                        let mut again = e.clone();
                        again.history.push(e.reason.clone());
                        again.reason = format!("redrive schema {}: {reason}", cfg.schema.as_str());
                        again.attempts += 1;
                        back.push(&again);
                        rep.still_invalid += 1;
                    }
                    _ => {
                        back.push(e);
                        rep.parked += 1;
                    }
                }
            }
        }
        if let Err(x) = back.sync() {
            dlq_err.get_or_insert(x);
        }
        out
    })?;
    if let Some(e) = dlq_err {
        return Err(RunError::Setup(e));
    }
    rep.redriven = run.committed;
    rep.recovery_fdatasyncs = recovery.fdatasyncs;
    rep.run = run;
    // Stopped early by a signal: the generations stay in progress and the next re-drive resumes them.
    // Otherwise everything of them is now committed or back in the pending file: mark them drained.
    rep.interrupted = cfg.run.control.stop_requested();
    if !rep.interrupted {
        for (n, path) in &todo {
            storage
                .rename_durable(path, &dlq_dir.join(generation_name(*n, true)))
                .map_err(RunError::Setup)?;
        }
    }
    rep.pending_after = read_entries(storage, &pending)?.len() as u64;
    Ok(rep)
}

/// Sleep until the `sent`-th record is due at `rate` per second.
fn pace(rate: Option<f64>, started: Instant, sent: u64) {
    if let Some(r) = rate.filter(|r| *r > 0.0) {
        let due = started + Duration::from_secs_f64(sent as f64 / r);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

fn push(ends: &Ends<'_>, payload: Vec<u8>, input: usize, line: u64, out: &mut GenOutcome) -> bool {
    out.offered += 1;
    ends.live.offered.add(1);
    let item = Item {
        intended: ends.clock.now(),
        payload,
        source: Some(SourcePos {
            input: input as u32,
            pos: Position::at(line, 0),
        }),
        dead: None,
    };
    match ends.queue.push(item) {
        Ok(PushOutcome::Accepted) => true,
        Ok(_) => unreachable!("re-drive runs with the block policy"),
        Err(_) => {
            ends.live.refused_closed(&mut out.rejected_closed);
            false
        }
    }
}
