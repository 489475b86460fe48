//! `syscall-gate`: the syscall-count gate (see `ingest_lab::checks::syscall_gate`).
//!
//! ```text
//! syscall-gate [--budgets FILE] [--work DIR]    run every workload under strace, compare with FILE
//! syscall-gate --bless [--budgets FILE]         run them and write the counts as the new budgets
//! syscall-gate --workload NAME --dir DIR        run one workload (what the gate runs under strace)
//! ```
//! Prints one line per workload and syscall (calls, per 1,000 records, budget), then each finding.
//! Exit 0 when the counts are within budget and the sink's counters agree with strace, 1 when not,
//! 2 on a usage or setup error (strace missing, a workload failed).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;
use ingest_lab::checks::syscall_gate::{
    calls_under, compare, disagreements, parse_budgets, per_1000, prepare, render_budgets,
    run_workload, Measured, WorkloadReport, TRACED, WORKLOADS,
};
use ingest_lab::checks::CheckError;
use ingest_lab::error::SysError;

/// The syscall-count gate.
#[derive(Parser)]
#[command(name = "syscall-gate")]
struct Cli {
    /// The committed budgets.
    #[arg(long, default_value = "ci/syscall-budgets.tsv")]
    budgets: PathBuf,
    /// Working directory.
    #[arg(long, default_value = "target/syscall-gate")]
    work: PathBuf,
    /// Write the counts as the new budgets instead of comparing.
    #[arg(long)]
    bless: bool,
    /// Run this one workload (what the gate runs under strace), with --dir.
    #[arg(long, requires = "dir")]
    workload: Option<String>,
    /// The directory of the one workload, with --workload.
    #[arg(long, requires = "workload")]
    dir: Option<PathBuf>,
}

/// Run `workload` in `dir` under strace; its report and the strace log.
fn traced(workload: &str, dir: &Path, log: &Path) -> Result<(WorkloadReport, String), CheckError> {
    let exe = std::env::current_exe().map_err(|e| CheckError::io("own path", e))?;
    let out = CheckError::output_of(
        Command::new("strace")
            .args(["-f", "-y", "-qq", "-e"])
            .arg(format!("trace={TRACED}"))
            .arg("-o")
            .arg(log)
            .arg(&exe)
            .args(["--workload", workload, "--dir"])
            .arg(dir),
        "strace",
        "apt-get install strace",
        format!("workload {workload} under strace"),
    )?;
    let report = serde_json::from_slice(&out.stdout)
        .map_err(|e| CheckError::json(format!("workload {workload}'s report"), e))?;
    let text = std::fs::read_to_string(log).map_err(|e| SysError::new("read", log, e))?;
    Ok((report, text))
}

fn gate(a: &Cli) -> Result<bool, CheckError> {
    let _ = std::fs::remove_dir_all(&a.work);
    std::fs::create_dir_all(&a.work).map_err(|e| SysError::new("mkdir", &a.work, e))?;
    let work = a
        .work
        .canonicalize()
        .map_err(|e| SysError::new("canonicalize", &a.work, e))?;
    let (mut measured, mut failures) = (Vec::new(), Vec::new());
    for w in WORKLOADS {
        // Re-drive works on what ingest left: the same directory.
        let dir = work.join(if w == "redrive" { "ingest" } else { w });
        std::fs::create_dir_all(&dir).map_err(|e| SysError::new("mkdir", &dir, e))?;
        prepare(w, &dir)?;
        let (report, log) = traced(w, &dir, &work.join(format!("{w}.strace")))?;
        let dir_text = dir.display().to_string();
        let m = Measured {
            calls: calls_under(&log, &dir_text),
            report,
        };
        failures.extend(disagreements(&m, &log, &dir_text));
        measured.push(m);
    }
    if a.bless {
        let provenance = format!(
            "{}, {}",
            ingest_lab::host::HostInfo::current().kernel,
            String::from_utf8_lossy(
                &Command::new("strace")
                    .arg("-V")
                    .output()
                    .map(|o| o.stdout)
                    .unwrap_or_default()
            )
            .lines()
            .next()
            .unwrap_or("strace")
        );
        let text = render_budgets(&measured, &provenance);
        std::fs::write(&a.budgets, text).map_err(|e| SysError::new("write", &a.budgets, e))?;
        println!("syscall gate: budgets written to {}", a.budgets.display());
    }
    let text = std::fs::read_to_string(&a.budgets).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CheckError::MissingInput {
            path: a.budgets.clone(),
            made_by: "make syscall-gate-bless",
        },
        _ => SysError::new("read", &a.budgets, e).into(),
    })?;
    let (budgets, records) = parse_budgets(&text)?;
    for m in &measured {
        for (s, &c) in &m.calls {
            let b = budgets
                .get(&(m.report.workload.clone(), s.clone()))
                .map_or("none".to_string(), |b| b.to_string());
            println!(
                "{:<10} {:<10} {c:>7} calls  {:>8.1} per 1,000 records  budget {b}",
                m.report.workload,
                s,
                per_1000(c, m.report.records)
            );
        }
    }
    let v = compare(&measured, &budgets, &records);
    for n in &v.notes {
        println!("note: {n} (make syscall-gate-bless tightens the budget)");
    }
    failures.extend(v.failures);
    for f in &failures {
        println!("FAIL: {f}");
    }
    println!(
        "syscall gate: {}",
        if failures.is_empty() { "PASS" } else { "FAIL" }
    );
    Ok(failures.is_empty())
}

fn main() -> ExitCode {
    let a = Cli::parse();
    if let (Some(name), Some(dir)) = (&a.workload, &a.dir) {
        return match run_workload(name, dir) {
            Ok(r) => {
                println!(
                    "{}",
                    serde_json::to_string(&r).expect("a report serializes")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("syscall-gate: workload {name}: {e}");
                ExitCode::from(2)
            }
        };
    }
    match gate(&a) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("syscall-gate: {e}");
            ExitCode::from(2)
        }
    }
}
