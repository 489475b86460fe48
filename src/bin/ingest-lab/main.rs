//! `ingest-lab`: a thin CLI over the library (DESIGN.md §3). Exit codes: 0 success/pass, 1 check failed or
//! input rejected, 2 usage or environment error, 3 `check --quick` with only timing criteria failed.
//! With `--json`, one JSON object on stdout; human text always goes to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ingest_lab::report::{render_run, Provenance};

#[derive(Parser)]
#[command(
    name = "ingest-lab",
    version,
    about = "Batching ingest pipeline: benchmarks, checks and reports"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// One pipeline run under synthetic open-loop load.
    Run(RunArgs),
    /// A failure demo or tuning claim as a pass/fail check (`all` runs every built check).
    Check(CheckArgs),
    /// Write a bursty arrival trace (the standard replay is `--rate 5000 --seconds 10 --seed 42`).
    Trace(TraceArgs),
    /// Check every segment's blocks (CRC, format, record framing); print counts
    Verify(DirArgs),
    /// Print committed records in order, one per line.
    Cat(DirArgs),
    /// The sink alone: append blocks of a fixed size with write + fdatasync (compare with fio).
    SinkBench(SinkBenchArgs),
    /// Write a run folder's provenance.json (used by `make bench`).
    Provenance(ProvenanceArgs),
    /// Render a run folder's index.html from its JSON and CSV files.
    Report(ReportArgs),
    /// Ingest newline-delimited JSON (plain, gzip or zstd) from files or `-` (stdin); resumes after a
    /// crash: re-run the same command.
    Ingest(IngestArgs),
    /// The dead-letter queue of a sink directory: `list`, or `redrive` it after a schema fix.
    Dlq(DlqArgs),
}

mod args;
mod compare;
mod ingest;
mod run;
mod store;
mod values;

use args::{
    CheckArgs, DirArgs, DlqArgs, IngestArgs, ProvenanceArgs, ReportArgs, RunArgs, SinkBenchArgs,
    TraceArgs,
};
use compare::cmd_compare;
use ingest::{cmd_dlq, cmd_ingest};
use run::{cmd_check, cmd_run, cmd_sink_bench};
use store::{cmd_cat, cmd_trace, cmd_verify};

pub(crate) fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("ingest-lab: {msg}");
    ExitCode::from(code)
}

pub(crate) fn print_json(v: &impl serde::Serialize) {
    let mut s = serde_json::to_string_pretty(v).expect("serializable");
    s.push('\n');
    // One write: one JSON object, not interleaved with anything.
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run(a) => cmd_run(a),
        Cmd::Check(a) => cmd_check(a),
        Cmd::Trace(a) => cmd_trace(a),
        Cmd::Verify(a) => cmd_verify(a),
        Cmd::Cat(a) => cmd_cat(a),
        Cmd::Ingest(a) => cmd_ingest(a),
        Cmd::Dlq(a) => cmd_dlq(a),
        Cmd::SinkBench(a) => cmd_sink_bench(a),
        Cmd::Provenance(a) => {
            print_json(&Provenance::collect(&a.command, &a.dir));
            ExitCode::SUCCESS
        }
        Cmd::Report(a) if a.compare.is_some() => cmd_compare(a),
        Cmd::Report(a) => {
            let dir = a.run_dir.unwrap_or_else(|| PathBuf::from("reports/latest"));
            if let Some(c) = &a.criterion {
                let since = a
                    .criterion_since
                    .as_ref()
                    .and_then(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok());
                match ingest_lab::report::criterion_summary(c, since) {
                    Some(csv) => {
                        if let Err(e) = std::fs::write(dir.join("micro.csv"), csv) {
                            return fail(
                                2,
                                format!("write {}: {e}", dir.join("micro.csv").display()),
                            );
                        }
                    }
                    None => eprintln!("no criterion results under {}", c.display()),
                }
            }
            match render_run(&dir) {
                Ok(p) => {
                    eprintln!("wrote {}", p.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(2, e),
            }
        }
    }
}
