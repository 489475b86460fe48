//! The syscall-count gate (`make syscall-gate`): the durable path's calls per fixed workload, counted by
//! `strace` and compared with budgets committed in `ci/syscall-budgets.tsv`, failing on any increase.
//!
//! Why beside the instruction-count gate: Callgrind counts instructions in user space, and a syscall's
//! cost is the kernel's and the disk's — an extra `fdatasync` per batch costs almost no instructions
//! and a disk flush each. So each workload is fixed and deterministic (a closed-loop load, windows that
//! close by size only, seeded inputs), and its calls that touch its own directory are counted exactly:
//! `write`, `writev`, `pwrite64`, `fdatasync`, `fsync`, `openat`, `rename*`, `unlink*`. The sink's own
//! counters must agree with what strace saw on its segment files (the gate fails when they do not), so
//! the figures a run reports and the kernel's are the same figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::CheckError;
use crate::checks::strace::{call_of, fd_path, parse_strace};
use crate::config::{RunConfig, StopAfter, WindowConfig};
use crate::error::SysError;
use crate::ingest::{ingest, write_ndjson, IngestConfig, Mix, Schema};
use crate::redrive::{redrive, RedriveConfig};

/// The syscalls the gate counts (strace's `-e trace=` list).
pub const TRACED: &str =
    "write,writev,pwrite64,fdatasync,fsync,open,openat,rename,renameat,renameat2,unlink,unlinkat";

/// The fixed workloads, in the order the gate runs them.
pub const WORKLOADS: [&str; 4] = ["unbatched", "batched", "ingest", "redrive"];

/// Items of the unbatched run (one fdatasync each).
const UNBATCHED_ITEMS: u64 = 1_000;
/// Items of the batched run.
const BATCHED_ITEMS: u64 = 50_000;
/// Records of the ingest input (with the default mix of invalid ones).
const INGEST_RECORDS: u64 = 5_000;
/// Items per batch of the batched run and of ingest: windows close by size only (the linger is far
/// longer than any workload), so the batches are the same on every machine.
const BATCH_ITEMS: usize = 500;

/// What a workload reports of its own counters, to cross-check strace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadReport {
    /// The workload.
    pub workload: String,
    /// Records it handled (committed or dead-lettered): the unit of the per-1,000 figures.
    pub records: u64,
    /// `write` calls on segment files, by the sink's counter.
    pub segment_writes: u64,
    /// `fdatasync` calls on segment files, by the sink's counter and start-up recovery's.
    pub segment_fdatasyncs: u64,
}

fn window() -> WindowConfig {
    WindowConfig {
        max_items: BATCH_ITEMS,
        max_bytes: 1 << 20,
        linger: Duration::from_secs(60),
    }
}

fn closed_loop(dir: &Path, items: u64, window: WindowConfig) -> RunConfig {
    let mut cfg = RunConfig::new(dir.join("sink"));
    cfg.window = window;
    cfg.load.rate = None;
    cfg.load.stop = StopAfter::Items(items);
    cfg.min_free_bytes = 16 << 20;
    cfg
}

/// Write the ingest workload's seeded input into `dir` (before tracing: making the fixture is not the
/// workload, and its calls must not move the budget).
pub fn prepare(name: &str, dir: &Path) -> Result<(), CheckError> {
    let input = dir.join("input.ndjson");
    if name == "ingest" && !input.exists() {
        let mut raw = Vec::new();
        write_ndjson(&mut raw, 1, INGEST_RECORDS, &Mix::default(), 7)
            .map_err(|e| CheckError::io("generate NDJSON", e))?;
        std::fs::write(&input, raw).map_err(|e| SysError::new("write", &input, e))?;
    }
    Ok(())
}

fn ingest_config(dir: &Path) -> Result<IngestConfig, CheckError> {
    let input = dir.join("input.ndjson");
    if !input.exists() {
        return Err(CheckError::MissingInput {
            path: input,
            made_by: "syscall_gate::prepare",
        });
    }
    let mut cfg = IngestConfig::new(dir.join("sink"), vec![input]);
    cfg.schema = Schema::V1;
    cfg.max_record_bytes = Mix::default().record_cap;
    cfg.run.window = window();
    cfg.run.min_free_bytes = 16 << 20;
    Ok(cfg)
}

/// Run one workload in `dir` (fresh, or holding the ingest workload's results for `redrive`).
pub fn run_workload(name: &str, dir: &Path) -> Result<WorkloadReport, CheckError> {
    let mut rep = WorkloadReport {
        workload: name.to_string(),
        ..WorkloadReport::default()
    };
    match name {
        "unbatched" | "batched" => {
            let (items, w) = if name == "unbatched" {
                (UNBATCHED_ITEMS, WindowConfig::UNBATCHED)
            } else {
                (BATCHED_ITEMS, window())
            };
            let r = crate::pipeline::run(&closed_loop(dir, items, w))?;
            if r.committed != items {
                return Err(CheckError::invalid(
                    name,
                    format!("committed {} of {items}", r.committed),
                ));
            }
            (rep.records, rep.segment_writes, rep.segment_fdatasyncs) =
                (r.committed, r.write_syscalls, r.fdatasyncs);
        }
        "ingest" => {
            let r = ingest(&ingest_config(dir)?)?;
            rep.records = r.committed + r.dead_lettered;
            (rep.segment_writes, rep.segment_fdatasyncs) = (
                r.run.write_syscalls,
                r.run.fdatasyncs + r.recovery.fdatasyncs,
            );
        }
        "redrive" => {
            let cfg = RedriveConfig::new(ingest_config(dir)?.run);
            let r = redrive(&cfg)?;
            rep.records = r.entries;
            (rep.segment_writes, rep.segment_fdatasyncs) = (
                r.run.write_syscalls,
                r.run.fdatasyncs + r.recovery_fdatasyncs,
            );
        }
        other => {
            return Err(CheckError::UnknownWorkload {
                name: other.to_string(),
                known: format!("{WORKLOADS:?}"),
            })
        }
    }
    Ok(rep)
}

/// Calls by syscall name in an `strace -f -y -o LOG` log, counting only calls that name a path under
/// `dir` (an fd's `<path>`, or a quoted path argument): the workload's own files, not the loader's
/// opens or the report printed on stdout. `rename*`/`unlink*` variants count under one name each.
pub fn calls_under(log: &str, dir: &str) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in log.lines() {
        let Some((name, args)) = call_of(line) else {
            continue;
        };
        // The directory itself or a file below it — not a sibling that shares its prefix (`dir2`,
        // `dir.strace`). Calls on an fd are judged by their first argument's path (`3</dir/x>`), not
        // by what their data holds; calls on paths by their quoted path arguments.
        let fd_under = fd_path(args).is_some_and(|p| Path::new(p).starts_with(dir));
        let path_call = matches!(
            name,
            "open" | "openat" | "rename" | "renameat" | "renameat2" | "unlink" | "unlinkat"
        );
        let path_under = path_call
            && (args.contains(&format!("\"{dir}\"")) || args.contains(&format!("\"{dir}/")));
        let touches = fd_under || path_under;
        if !touches {
            continue;
        }
        let name = match name {
            "open" | "openat" => "openat",
            "rename" | "renameat" | "renameat2" => "rename",
            "unlink" | "unlinkat" => "unlink",
            n => n,
        };
        *calls.entry(name.to_string()).or_insert(0) += 1;
    }
    calls
}

/// One workload's measured calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    /// The workload's own report.
    pub report: WorkloadReport,
    /// Calls by syscall name under its directory.
    pub calls: BTreeMap<String, u64>,
}

/// Why the gate fails, one line each.
pub fn disagreements(m: &Measured, log: &str, dir: &str) -> Vec<String> {
    let seen = parse_strace(log, dir);
    let mut out = Vec::new();
    if seen.segment_writes != m.report.segment_writes {
        out.push(format!(
            "{}: the sink counted {} segment writes, strace saw {}",
            m.report.workload, m.report.segment_writes, seen.segment_writes
        ));
    }
    if seen.segment_fdatasyncs != m.report.segment_fdatasyncs {
        out.push(format!(
            "{}: the sink counted {} segment fdatasyncs, strace saw {}",
            m.report.workload, m.report.segment_fdatasyncs, seen.segment_fdatasyncs
        ));
    }
    out
}

/// Budgets: (workload, syscall) → calls for the workload's records.
pub type Budgets = BTreeMap<(String, String), u64>;

/// Read `ci/syscall-budgets.tsv`: `workload<TAB>syscall<TAB>calls<TAB>records` lines, `#` comments.
pub fn parse_budgets(text: &str) -> Result<(Budgets, BTreeMap<String, u64>), CheckError> {
    let (mut budgets, mut records) = (Budgets::new(), BTreeMap::new());
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [w, s, c, r] = cols[..] else {
            return Err(CheckError::invalid(
                format!("syscall budgets line {}", i + 1),
                format!("want 4 tab-separated columns: {line:?}"),
            ));
        };
        let num = |v: &str| {
            v.parse::<u64>().map_err(|e| {
                CheckError::invalid(
                    format!("syscall budgets line {}", i + 1),
                    format!("{v:?}: {e}"),
                )
            })
        };
        budgets.insert((w.to_string(), s.to_string()), num(c)?);
        records.insert(w.to_string(), num(r)?);
    }
    Ok((budgets, records))
}

/// The budgets file for `measured` (what `--bless` writes).
pub fn render_budgets(measured: &[Measured], provenance: &str) -> String {
    let mut out = String::from(
        "# workload<TAB>syscall<TAB>calls<TAB>records: committed budgets for make syscall-gate \
         (rewrite with make syscall-gate-bless)\n",
    );
    let _ = writeln!(out, "# {provenance}");
    for m in measured {
        for (s, c) in &m.calls {
            let _ = writeln!(out, "{}\t{s}\t{c}\t{}", m.report.workload, m.report.records);
        }
    }
    out
}

/// Per 1,000 records, for people.
pub fn per_1000(calls: u64, records: u64) -> f64 {
    calls as f64 * 1000.0 / records.max(1) as f64
}

/// What the comparison found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Why the gate fails, one line each; empty means it passes.
    pub failures: Vec<String>,
    /// Calls that fell below their budget: the gate passes, and says so, so the budget is tightened
    /// on purpose (`make syscall-gate-bless`).
    pub notes: Vec<String>,
}

/// Compare measured calls with the budgets. Fails on any increase, on a syscall or workload with no
/// budget, on a workload whose record count changed (its figures would not compare), and on a
/// budgeted syscall that no longer happens at all (a durable path that stopped syncing is more often
/// a bug than a saving: re-bless it on purpose). A count below its budget is a note.
pub fn compare(
    measured: &[Measured],
    budgets: &Budgets,
    budget_records: &BTreeMap<String, u64>,
) -> Verdict {
    let mut v = Verdict::default();
    for m in measured {
        let w = &m.report.workload;
        match budget_records.get(w) {
            None => v.failures.push(format!(
                "{w}: no committed budget (make syscall-gate-bless)"
            )),
            Some(&r) if r != m.report.records => v.failures.push(format!(
                "{w}: handled {} records, the budget is for {r}: the workload changed",
                m.report.records
            )),
            _ => {}
        }
        let per = |c: u64| per_1000(c, m.report.records);
        for (s, &c) in &m.calls {
            match budgets.get(&(w.clone(), s.clone())) {
                None => v
                    .failures
                    .push(format!("{w}: {s} made {c} calls and has no budget")),
                Some(&b) if c > b => v.failures.push(format!(
                    "{w}: {s} rose from {b} to {c} calls ({:.1} to {:.1} per 1,000 records)",
                    per(b),
                    per(c)
                )),
                Some(&b) if c < b => v.notes.push(format!(
                    "{w}: {s} fell from {b} to {c} calls ({:.1} to {:.1} per 1,000 records)",
                    per(b),
                    per(c)
                )),
                _ => {}
            }
        }
        for ((bw, s), &b) in budgets {
            if bw == w && !m.calls.contains_key(s) && b > 0 {
                v.failures.push(format!(
                    "{w}: {s} budgeted at {b} calls, none made: re-bless on purpose if that is right"
                ));
            }
        }
    }
    v
}

#[cfg(test)]
#[path = "syscall_gate/tests.rs"]
mod tests;
