//! `run`, `check` and `sink-bench`: the pipeline's and the checks' commands.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ingest_lab::checks::CheckOptions;
use ingest_lab::{
    checks, config::RunConfig, config::StopAfter, load::LoadShape, summary::RunError,
};

use crate::args::{CheckArgs, RunArgs, SinkBenchArgs};

use crate::{fail, print_json};

pub(crate) fn run_config(a: &RunArgs) -> Result<RunConfig, String> {
    let mut cfg = RunConfig::new(&a.dir);
    a.pipeline.apply(&mut cfg)?;
    cfg.load.rate = match a.rate.as_str() {
        "max" => None,
        r => Some(
            r.parse()
                .map_err(|_| format!("--rate '{r}' is not a number or 'max'"))?,
        ),
    };
    cfg.load.shape = match a.load.as_str() {
        "steady" => LoadShape::Steady,
        "bursty" => LoadShape::Bursty { seed: a.seed },
        s => match s.strip_prefix("replay:") {
            Some(f) => LoadShape::Replay(PathBuf::from(f)),
            None => return Err(format!("--load '{s}' is not steady, bursty or replay:FILE")),
        },
    };
    cfg.load.stop = match (a.duration, a.items) {
        (_, Some(n)) => StopAfter::Items(n),
        (Some(s), None) => StopAfter::Duration(Duration::from_secs_f64(s)),
        (None, None) => StopAfter::Duration(Duration::from_secs(5)),
    };
    cfg.load.item_bytes = a.item_bytes;
    cfg.load.payload = a.payload.into();
    cfg.queue.policy = a.overflow.policy(a.block_timeout_ms)?;
    cfg.slo = Duration::from_secs_f64(a.slo_ms / 1e3);
    cfg.observe.progress = progress("run", a.json).map(|mut p| {
        if let StopAfter::Items(n) = cfg.load.stop {
            p.total = Some(n);
        }
        p
    });
    Ok(cfg)
}

/// A progress line for a person at a terminal (never with --json or under CI).
pub(crate) fn progress(label: &str, json: bool) -> Option<ingest_lab::progress::Progress> {
    ingest_lab::progress::wanted(json).then(|| ingest_lab::progress::Progress {
        label: label.into(),
        total: None,
    })
}

pub(crate) fn cmd_run(a: RunArgs) -> ExitCode {
    ingest_lab::signals::install_signal_handlers();
    let cfg = match run_config(&a) {
        Ok(c) => c,
        Err(e) => return fail(2, e),
    };
    match ingest_lab::pipeline::run(&cfg) {
        Ok(r) => {
            if let Err(e) = a.pipeline.service.write_metrics(&r) {
                return fail(2, e);
            }
            for w in &r.warnings {
                eprintln!("{w}");
            }
            if a.json {
                print_json(&r);
            } else {
                eprintln!(
                    "offered {} committed {} dropped {} rejected {} | {:.0} items/s | {} writes, {} fdatasyncs \
                     ({:.4}/item) | latency µs p50 {:.0} p99 {:.0} max {:.0} | mean batch {:.1} | fs {}",
                    r.offered,
                    r.committed,
                    r.dropped,
                    r.rejected,
                    r.throughput_items_per_s,
                    r.write_syscalls,
                    r.fdatasyncs,
                    r.fdatasyncs_per_item,
                    r.latency_us.p50,
                    r.latency_us.p99,
                    r.latency_us.max,
                    r.batch_size.mean,
                    r.fs_type
                );
            }
            ExitCode::SUCCESS
        }
        Err(e @ (RunError::Config(_) | RunError::Load(_))) => fail(1, e),
        Err(e) => fail(2, e),
    }
}

pub(crate) fn cmd_check(a: CheckArgs) -> ExitCode {
    let mut opts = CheckOptions::new();
    opts.dir = a.dir;
    opts.out = a.out;
    opts.quick = a.quick;
    opts.slo = Duration::from_secs_f64(a.slo_ms / 1e3);
    if let Some(t) = a.trace {
        opts.trace = t;
    }
    opts.window = a.window.window();
    opts.verbose = !a.json || std::io::stderr().is_terminal();
    opts.exe = std::env::current_exe().ok();
    let names: Vec<&str> = if a.name == "all" {
        checks::names()
    } else {
        vec![a.name.as_str()]
    };
    let mut results = Vec::new();
    for name in names {
        if opts.verbose {
            eprintln!("check {name}{}", if opts.quick { " (quick)" } else { "" });
        }
        match checks::run_check(name, &opts) {
            Ok(r) => {
                for c in &r.criteria {
                    eprintln!("  {} {}", c.verdict(), c.what);
                }
                eprintln!("check {name}: {} ({:.0} s)", r.verdict(), r.seconds);
                results.push(r);
            }
            // A CheckError's message already holds its causes' text (as `SysError`'s does): printing
            // its source() chain as well would say each cause twice.
            Err(e) => return fail(2, format!("check {name}: {e}")),
        }
    }
    let pass = results.iter().all(|r| r.pass);
    if a.json {
        if results.len() == 1 {
            print_json(&results[0]);
        } else {
            print_json(&serde_json::json!({ "check": "all", "pass": pass, "checks": results }));
        }
    }
    ExitCode::from(checks::exit_code(&results, opts.quick))
}

pub(crate) fn cmd_sink_bench(a: SinkBenchArgs) -> ExitCode {
    let mut cfg = ingest_lab::sink::SinkConfig::new(&a.dir);
    cfg.segment_bytes = a.segment_mib << 20;
    cfg.retain_segments = a.retain_segments;
    let r = ingest_lab::sink::bench_appends(
        &cfg,
        a.write_bytes,
        Duration::from_secs_f64(a.seconds),
        a.max_mib << 20,
    );
    let _ = std::fs::remove_dir_all(&a.dir);
    match r {
        Ok(r) => {
            eprintln!(
                "{} B/write: {:.0} syncs/s, {:.1} MB/s, {:.0} records/s, fdatasync p50 {:.0} µs p99 {:.0} µs",
                r.write_bytes,
                r.syncs_per_s,
                r.bytes_per_s / 1e6,
                r.records_per_s,
                r.fdatasync_us.p50,
                r.fdatasync_us.p99
            );
            if a.json {
                print_json(&r);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(2, e),
    }
}
