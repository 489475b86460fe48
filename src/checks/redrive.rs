//! `check redrive`: a schema fix, then the dead-letter queue replayed into the main stream with zero
//! loss — proven over record ids, not counts.
//!
//! Two seeded NDJSON inputs (one plain, one gzip) with unique ids and a known mix: valid v1 records,
//! RFC 3339 timestamps (invalid under v1, valid under v2), and records no schema accepts (a bad `ts`,
//! cut-off JSON, invalid UTF-8, over-long lines), plus blank lines and CRLF endings.
//! 1. `ingest --schema v1`: every record is committed or dead-lettered, by id exactly as labelled.
//! 2. `dlq redrive --schema v2`: the RFC 3339 records join the main stream; every input id is now
//!    committed exactly once or still in the DLQ, and the DLQ holds exactly the records v2 rejects,
//!    with their attempt count and history; the re-driven generation is marked drained.
//! 3. `dlq redrive` again: nothing new is committed, the DLQ's ids do not change.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;

use serde::Serialize;
use serde_json::json;

use super::common::{
    clean_and_settle, judge_recorded, write_csv_rows, CheckOptions, CheckResult, Criterion,
};
use super::error::CheckError;
use crate::config::RunConfig;
use crate::error::SysError;
use crate::ingest::{ingest, record_id, scan, write_ndjson, IngestConfig, LineKind, Mix, Schema};
use crate::redrive::{dlq_status, redrive, RedriveConfig};
use crate::retry::DeadLetter;

/// One stage's counts, as a row of `redrive.csv`.
#[derive(Debug, Serialize)]
struct StageRow {
    stage: &'static str,
    committed_records: usize,
    committed_unique_ids: usize,
    dlq_entries: usize,
    redriven: u64,
    still_invalid: u64,
    parked: u64,
}

/// Run the check.
pub fn redrive_check(opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    let per_input: u64 = if opts.quick { 10_000 } else { 100_000 };
    let base = opts.dir.join("redrive");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).map_err(|e| SysError::new("mkdir", &base, e))?;
    let result = run(opts, &base, per_input);
    clean_and_settle(&base);
    result
}

fn run(
    opts: &CheckOptions,
    base: &std::path::Path,
    per_input: u64,
) -> Result<CheckResult, CheckError> {
    let mix = Mix::default();
    // Input 1 plain, input 2 gzip; ids continue across them.
    let mut kind_of: HashMap<u64, LineKind> = HashMap::new();
    let mut inputs = Vec::new();
    for (i, gz) in [(0u64, false), (1, true)] {
        let first = 1 + i * per_input;
        let mut raw = Vec::new();
        let kinds = write_ndjson(&mut raw, first, per_input, &mix, 100 + i)
            .map_err(|e| CheckError::io("generate NDJSON", e))?;
        for (k, kind) in kinds.into_iter().enumerate() {
            kind_of.insert(first + k as u64, kind);
        }
        let path = base.join(if gz {
            "input-2.ndjson.gz"
        } else {
            "input-1.ndjson"
        });
        let bytes = if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let io = |e| CheckError::io("gzip", e);
            e.write_all(&raw).map_err(io)?;
            e.finish().map_err(io)?
        } else {
            raw
        };
        std::fs::write(&path, bytes).map_err(|e| SysError::new("write", &path, e))?;
        inputs.push(path);
    }
    let ids_where = |f: &dyn Fn(LineKind) -> bool| -> BTreeSet<u64> {
        kind_of
            .iter()
            .filter(|(_, k)| f(**k))
            .map(|(id, _)| *id)
            .collect()
    };
    let all: BTreeSet<u64> = kind_of.keys().copied().collect();
    let v1_ok = ids_where(&|k| k.valid_v1());
    let v2_ok = ids_where(&|k| k.valid_v2());
    let v2_bad: BTreeSet<u64> = all.difference(&v2_ok).copied().collect();

    let sink = base.join("sink");
    let mut cfg = IngestConfig::new(&sink, inputs.clone());
    cfg.schema = Schema::V1;
    cfg.max_record_bytes = mix.record_cap;
    cfg.run.min_free_bytes = 32 << 20;
    opts.progress(format!(
        "redrive: ingesting {} records (schema v1)",
        2 * per_input
    ));
    let ing = ingest(&cfg)?;

    let committed_ids = || -> Result<Vec<u64>, CheckError> {
        let mut ids = Vec::new();
        let mut bad = 0u64;
        scan(&sink, false, &mut |r| match record_id(r) {
            Some(id) => ids.push(id),
            None => bad += 1,
        })
        .map_err(|reason| CheckError::Scan {
            dir: sink.clone(),
            reason,
        })?;
        if bad > 0 {
            return Err(CheckError::invalid(
                "committed records",
                format!("{bad} without an id"),
            ));
        }
        Ok(ids)
    };
    let dlq_ids = |run: &RunConfig| -> Result<(Vec<u64>, Vec<DeadLetter>, usize), CheckError> {
        let s = dlq_status(&run.dlq_dir())?;
        let mut ids = Vec::new();
        for d in &s.pending {
            // The id is in the payload; an over-long record kept no payload, so use its source line.
            let id = record_id(d.payload.as_bytes()).or_else(|| source_id(&d.source, per_input));
            ids.push(id.ok_or_else(|| {
                CheckError::invalid(format!("dead letter {}", d.source), "without an id")
            })?);
        }
        Ok((ids, s.pending, s.drained.len()))
    };
    let set = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
    let dups = |v: &[u64]| v.len() - set(v).len();

    let c1 = committed_ids()?;
    let (d1, _, _) = dlq_ids(&cfg.run)?;

    opts.progress("redrive: dlq redrive --schema v2");
    let mut rcfg = RedriveConfig::new(cfg.run.clone());
    rcfg.schema = Schema::V2;
    let r1 = redrive(&rcfg)?;
    let c2 = committed_ids()?;
    let (d2, a2, drained2) = dlq_ids(&cfg.run)?;

    opts.progress("redrive: dlq redrive again");
    let r2 = redrive(&rcfg)?;
    let c3 = committed_ids()?;
    let (d3, a3, _) = dlq_ids(&cfg.run)?;

    let retried_ok = a2
        .iter()
        .filter(|d| {
            (d.truncated && d.attempts == 1)
                || (d.attempts == 2 && d.history.len() == 1 && d.history[0].contains("schema v1"))
        })
        .count();
    let union2: BTreeSet<u64> = set(&c2).union(&set(&d2)).copied().collect();
    let count = |k: LineKind| kind_of.values().filter(|x| **x == k).count();
    let criteria = vec![
        Criterion::exact(
            ing.records_in == all.len() as u64 && ing.unaccounted() == 0,
            format!(
                "ingest v1: {} records in = {} committed + {} dead-lettered (of {} generated; {} blank lines skipped)",
                ing.records_in,
                ing.committed,
                ing.dead_lettered,
                all.len(),
                ing.blank_lines
            ),
        ),
        Criterion::exact(
            set(&c1) == v1_ok && dups(&c1) == 0 && set(&d1) == all.difference(&v1_ok).copied().collect() && dups(&d1) == 0,
            format!(
                "after ingest, by id: committed = the {} v1-valid ids exactly once ({} duplicates); DLQ = the {} others ({} duplicates)",
                v1_ok.len(),
                dups(&c1),
                all.len() - v1_ok.len(),
                dups(&d1)
            ),
        ),
        Criterion::exact(
            set(&c2) == v2_ok && dups(&c2) == 0,
            format!(
                "after redrive v2: committed = the {} v2-valid ids exactly once ({} records, {} duplicates; {} re-driven)",
                v2_ok.len(),
                c2.len(),
                dups(&c2),
                r1.redriven
            ),
        ),
        Criterion::exact(
            set(&d2) == v2_bad && dups(&d2) == 0 && union2 == all,
            format!(
                "after redrive v2: DLQ = exactly the {} ids v2 rejects (bad ts {}, malformed {}, bad UTF-8 {}, over-long {}); committed ∪ DLQ = all {} ids, no id in both",
                v2_bad.len(),
                count(LineKind::BadTs),
                count(LineKind::Malformed),
                count(LineKind::BadUtf8),
                count(LineKind::TooLong),
                all.len()
            ),
        ),
        Criterion::exact(
            retried_ok == a2.len(),
            format!(
                "each entry left after redrive carries its story: {retried_ok} of {} either tried again (attempts 2, the v1 reason in history) or parked as prefix-only (attempts 1)",
                a2.len()
            ),
        ),
        Criterion::exact(
            drained2 == 1,
            format!("the re-driven generation is marked drained ({drained2} drained generation files)"),
        ),
        Criterion::exact(
            r2.redriven == 0 && c3 == c2 && set(&d3) == set(&d2) && dups(&d3) == 0,
            format!(
                "second redrive adds nothing: {} re-driven, committed {} → {}, DLQ ids unchanged ({} entries)",
                r2.redriven,
                c2.len(),
                c3.len(),
                d3.len()
            ),
        ),
        Criterion::exact(
            a3.iter().all(|d| d.attempts <= rcfg.max_attempts),
            format!(
                "attempts are counted and bounded: max {} after two re-drives (limit {})",
                a3.iter().map(|d| d.attempts).max().unwrap_or(0),
                rcfg.max_attempts
            ),
        ),
    ];
    let stages = [
        ("ingest v1", &c1, &d1, 0, 0, 0),
        (
            "redrive v2",
            &c2,
            &d2,
            r1.redriven,
            r1.still_invalid,
            r1.parked,
        ),
        (
            "redrive v2 again",
            &c3,
            &d3,
            r2.redriven,
            r2.still_invalid,
            r2.parked,
        ),
    ];
    let rows: Vec<StageRow> = stages
        .into_iter()
        .map(|(stage, c, d, redriven, still_invalid, parked)| StageRow {
            stage,
            committed_records: c.len(),
            committed_unique_ids: set(c).len(),
            dlq_entries: d.len(),
            redriven,
            still_invalid,
            parked,
        })
        .collect();
    let figures = json!({
        "records": all.len(),
        "v1_valid": v1_ok.len(),
        "v2_valid": v2_ok.len(),
        "v2_invalid": v2_bad.len(),
        "ingest": {
            "records_in": ing.records_in, "committed": ing.committed, "dead_lettered": ing.dead_lettered,
            "blank_lines": ing.blank_lines, "batches": ing.batches, "fdatasyncs": ing.fdatasyncs,
            "records_per_s": ing.records_per_s, "input_mb_per_s": ing.input_mb_per_s,
        },
        "redrive_1": {"entries": r1.entries, "redriven": r1.redriven, "still_invalid": r1.still_invalid,
                      "parked": r1.parked, "pending_after": r1.pending_after},
        "redrive_2": {"entries": r2.entries, "redriven": r2.redriven, "still_invalid": r2.still_invalid,
                      "parked": r2.parked, "pending_after": r2.pending_after},
    });
    let evidence = vec![write_csv_rows(&opts.out, "redrive.csv", &rows)?];
    judge_recorded(&opts.out, "redrive", criteria, figures, evidence)
}

/// The id of the record at `input-N.ndjson[.gz]:LINE`, for entries that kept no payload. Lines count
/// blank lines too: the generator writes one after every `blank_every` records.
fn source_id(source: &str, per_input: u64) -> Option<u64> {
    let (file, line) = source.rsplit_once(':')?;
    let line: u64 = line.parse().ok()?;
    let input = if file.contains("input-2") { 1 } else { 0 };
    let every = Mix::default().blank_every;
    let blanks_before = if every == 0 {
        0
    } else {
        (line - 1) / (every + 1)
    };
    Some(1 + input * per_input + line - 1 - blanks_before)
}
