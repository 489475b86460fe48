//! `ingest-lab`: a thin CLI over the library (DESIGN.md §3). Exit codes: 0 success/pass, 1 check failed or
//! input rejected, 2 usage or environment error. With `--json`, one JSON object on stdout; human text
//! always goes to stderr.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ingest_lab::checks::{self, CheckOptions};
use ingest_lab::report::{render_run, Provenance};
use ingest_lab::{
    AimdConfig, BurstyParams, Codec, LoadShape, OverflowPolicy, PayloadKind, RunConfig, RunError,
    StopAfter, Trace, WindowConfig, WindowMode,
};

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
    /// (internal, for `check overflow`) the same load against an unbounded queue, under an
    /// address-space limit, printing "seconds rss_bytes" every 100 ms until it dies.
    #[command(hide = true)]
    OverflowChild(OverflowChildArgs),
    /// (internal, for `check bomb`) decode one input, capped (streaming) or uncapped (all into memory),
    /// and print {"result", "seen", "peak_rss_bytes", "error", "crc32"} as JSON.
    #[command(hide = true)]
    BombChild(BombChildArgs),
    /// Render a run folder's index.html from its JSON and CSV files.
    Report(ReportArgs),
    /// Ingest newline-delimited JSON (plain, gzip or zstd) from files or `-` (stdin); resumes after a
    /// crash: re-run the same command.
    Ingest(IngestArgs),
    /// The dead-letter queue of a sink directory: `list`, or `redrive` it after a schema fix.
    Dlq(DlqArgs),
}

#[derive(Args)]
struct IngestArgs {
    /// Sink directory (default under target/); a warning is printed on tmpfs.
    #[arg(long, default_value = "target/ingest-lab/ingest")]
    dir: PathBuf,
    /// Input files, in order; `-` reads stdin (not resumable).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// v1 (integer `ts`) | v2 (also RFC 3339 `ts`).
    #[arg(long, default_value = "v1")]
    schema: String,
    /// Cap on each compressed input's decompressed bytes (plain inputs are streamed uncapped).
    #[arg(long, default_value_t = ingest_lab::DEFAULT_MAX_DECOMPRESSED_BYTES)]
    max_decompressed_bytes: u64,
    /// Cap on decompressed / compressed bytes of a compressed input (0 = none).
    #[arg(long, default_value_t = ingest_lab::DEFAULT_MAX_RATIO)]
    max_ratio: f64,
    /// Cap on one record's bytes (longer lines are dead-lettered, not held in memory).
    #[arg(long, default_value_t = ingest_lab::DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,
    /// Validate on a thread of its own (three threads: reader, validator, batcher). Off by default:
    /// on two cores the third thread costs the batcher CPU (measured: 3.5 M vs 4.0–4.4 M records/s).
    #[arg(long)]
    validator_thread: bool,
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// The window, queue, compression, retention, metrics and dead-letter flags `run` and `ingest` share.
#[derive(Args)]
struct PipelineArgs {
    #[command(flatten)]
    window: WindowArgs,
    /// static | smart (no timer: take everything queued when the sink is free) | aimd (the linger
    /// follows p99 vs --slo-ms; --linger-ms is where it starts).
    #[arg(long = "window", default_value = "static")]
    window_kind: String,
    /// Queue capacity, items.
    #[arg(long)]
    queue_capacity: Option<usize>,
    /// Queue capacity, bytes of queued records in memory (default 64 MiB): whichever of this and
    /// --queue-capacity is reached first.
    #[arg(long)]
    queue_max_bytes: Option<usize>,
    /// none | zstd | gzip: compress each batch before the write.
    #[arg(long, default_value = "none")]
    compress: String,
    /// Keep at most this many segments (oldest deleted), to cap disk use on long runs (not for data
    /// you keep).
    #[arg(long)]
    retain_segments: Option<usize>,
    #[command(flatten)]
    service: ServiceArgs,
}

impl PipelineArgs {
    /// Put every one of these settings into `cfg`.
    fn apply(&self, cfg: &mut RunConfig) -> Result<(), String> {
        cfg.window_mode = match self.window_kind.as_str() {
            "static" => WindowMode::Static,
            "smart" => WindowMode::Smart,
            "aimd" => WindowMode::Aimd(AimdConfig::default()),
            k => return Err(format!("--window '{k}': expected static, smart or aimd")),
        };
        cfg.compress = Codec::parse(&self.compress).ok_or_else(|| {
            format!(
                "--compress '{}': expected none, zstd or gzip",
                self.compress
            )
        })?;
        if let Some(w) = self.window.window() {
            cfg.window = w;
        }
        if let Some(b) = self.queue_max_bytes {
            cfg.queue.capacity_bytes = b;
        }
        if let Some(c) = self.queue_capacity {
            cfg.queue.capacity_items = c;
        }
        cfg.sink.retain_segments = self.retain_segments;
        self.service.apply(cfg)
    }
}

/// Metrics and dead-letter flags that `run` and `ingest` share.
#[derive(Args)]
struct ServiceArgs {
    /// Serve live metrics (Prometheus text format) on this loopback address while working, e.g.
    /// 127.0.0.1:9187 (port 0 picks a free one; the address is printed).
    #[arg(long)]
    metrics_addr: Option<std::net::SocketAddr>,
    /// Write the final metrics (Prometheus text format) to this file at the end.
    #[arg(long)]
    metrics_file: Option<PathBuf>,
    /// Bound the dead-letter file to this many bytes (default: unbounded).
    #[arg(long)]
    dlq_max_bytes: Option<u64>,
    /// drop-newer | drop-older: what a full dead-letter queue gives up.
    #[arg(long, default_value = "drop-newer")]
    dlq_policy: String,
}

impl ServiceArgs {
    /// Put the metrics address and the DLQ bound into `cfg`.
    fn apply(&self, cfg: &mut RunConfig) -> Result<(), String> {
        cfg.metrics_addr = self.metrics_addr;
        cfg.dlq_limit = dlq_limit(self.dlq_max_bytes, &self.dlq_policy)?;
        Ok(())
    }

    /// Write the final metrics file, if one was asked for.
    fn write_metrics(&self, r: &ingest_lab::RunReport) -> Result<(), String> {
        match &self.metrics_file {
            Some(p) => std::fs::write(p, ingest_lab::render_report(r))
                .map_err(|e| format!("write {}: {e}", p.display())),
            None => Ok(()),
        }
    }
}

#[derive(Args)]
struct DlqArgs {
    /// list | redrive
    action: String,
    /// Sink directory (its dead-letter queue is DIR/dlq).
    dir: PathBuf,
    /// Schema to re-drive with (the fix).
    #[arg(long, default_value = "v2")]
    schema: String,
    /// Entries that failed this many attempts are parked, not re-driven again.
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    /// Re-driven records per second at most.
    #[arg(long)]
    rate: Option<f64>,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct WindowArgs {
    /// Flush at this many items (1 = unbatched).
    #[arg(long)]
    max_items: Option<usize>,
    /// Flush before the batch passes this many bytes.
    #[arg(long)]
    max_bytes: Option<usize>,
    /// Flush when the batch's first item has waited this long (ms, fractions allowed).
    #[arg(long)]
    linger_ms: Option<f64>,
}

impl WindowArgs {
    fn window(&self) -> Option<WindowConfig> {
        if self.max_items.is_none() && self.max_bytes.is_none() && self.linger_ms.is_none() {
            return None;
        }
        let d = WindowConfig::default();
        Some(WindowConfig {
            max_items: self.max_items.unwrap_or(d.max_items),
            max_bytes: self.max_bytes.unwrap_or(d.max_bytes),
            linger: self
                .linger_ms
                .map_or(d.linger, |ms| Duration::from_secs_f64(ms.max(0.0) / 1e3)),
        })
    }
}

#[derive(Args)]
struct RunArgs {
    /// Sink directory (default under target/); a warning is printed on tmpfs.
    #[arg(long, default_value = "target/ingest-lab/run")]
    dir: PathBuf,
    /// Offered items/s (open loop), or `max` for saturation (closed loop: throughput only).
    #[arg(long, default_value = "10000")]
    rate: String,
    /// Stop offering after this many seconds.
    #[arg(long, conflicts_with = "items")]
    duration: Option<f64>,
    /// Stop after offering this many items.
    #[arg(long)]
    items: Option<u64>,
    /// steady | bursty | replay:FILE
    #[arg(long, default_value = "steady")]
    load: String,
    /// Seed of the bursty process.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Payload bytes per item.
    #[arg(long, default_value_t = 100)]
    item_bytes: usize,
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// p99 objective, ms.
    #[arg(long, default_value_t = 10.0)]
    slo_ms: f64,
    /// block | drop-newest | drop-oldest
    #[arg(long, default_value = "block")]
    overflow: String,
    /// With --overflow block: wait at most this long for room, then reject the item (counted as
    /// rejected{reason="block_timeout"}). Default: wait for ever.
    #[arg(long)]
    block_timeout_ms: Option<f64>,
    /// log | random
    #[arg(long, default_value = "log")]
    payload: String,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CheckArgs {
    /// physical | window | aimd | before-after | strace | sigstop | poison | overflow | bomb | nagle |
    /// compression | redrive | ingest | all
    name: String,
    /// Short runs (for `make test`).
    #[arg(long)]
    quick: bool,
    /// Base directory for sink directories.
    #[arg(long, default_value = "target/ingest-lab/sink")]
    dir: PathBuf,
    /// Evidence folder.
    #[arg(long, default_value = "target/ingest-lab/checks")]
    out: PathBuf,
    /// p99 objective, ms.
    #[arg(long, default_value_t = 10.0)]
    slo_ms: f64,
    /// Bursty trace to replay (default: the committed standard trace).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Override the batched window (default: what `check window` chose into --out).
    #[command(flatten)]
    window: WindowArgs,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct TraceArgs {
    /// Mean arrivals/s.
    #[arg(long, default_value_t = 5000.0)]
    rate: f64,
    /// Length of the trace.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// PRNG seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output file (default stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct DirArgs {
    /// Sink directory.
    dir: PathBuf,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SinkBenchArgs {
    /// Directory to append in (removed afterwards).
    #[arg(long, default_value = "target/ingest-lab/sink-bench")]
    dir: PathBuf,
    /// Bytes per write (whole 100-byte records, at least one).
    #[arg(long, default_value_t = 1 << 20)]
    write_bytes: usize,
    /// How long to append.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Stop after writing this many MiB.
    #[arg(long, default_value_t = 2048)]
    max_mib: u64,
    /// Segment size, MiB.
    #[arg(long, default_value_t = 64)]
    segment_mib: u64,
    /// Keep at most this many segments while appending (default: keep all, like fio's one file).
    #[arg(long)]
    retain_segments: Option<usize>,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct OverflowChildArgs {
    #[arg(long, default_value_t = 2_000_000.0)]
    rate: f64,
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    #[arg(long)]
    rlimit_as_bytes: u64,
    #[arg(long)]
    dir: PathBuf,
}

#[derive(Args)]
struct BombChildArgs {
    #[arg(long)]
    input: PathBuf,
    #[arg(long, default_value_t = 256 << 20)]
    cap: u64,
    #[arg(long)]
    uncapped: bool,
    #[arg(long)]
    rlimit_as_bytes: Option<u64>,
}

#[derive(Args)]
struct ProvenanceArgs {
    /// The command line being recorded.
    #[arg(long)]
    command: String,
    /// The sink directory (its filesystem is recorded).
    #[arg(long, default_value = "target/ingest-lab/sink")]
    dir: PathBuf,
}

#[derive(Args)]
struct ReportArgs {
    /// Run folder (default: reports/latest).
    run_dir: Option<PathBuf>,
    /// Also summarise criterion's results from this folder into the run's micro.csv.
    #[arg(long)]
    criterion: Option<PathBuf>,
    /// Only criterion results written after this file's modification time (the run's start marker).
    #[arg(long)]
    criterion_since: Option<PathBuf>,
    /// Compare two run folders instead (before/after, e.g. two commits): writes an HTML page of
    /// both runs' verdicts and every figure both recorded, with the change from A to B.
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"])]
    compare: Option<Vec<PathBuf>>,
    /// Where --compare writes its page (default: reports/compare/<A>-vs-<B>.html).
    #[arg(long)]
    out: Option<PathBuf>,
    /// With --compare: one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

fn cmd_compare(a: ReportArgs) -> ExitCode {
    let runs = a.compare.unwrap_or_default();
    let (ra, rb) = (&runs[0], &runs[1]);
    let c = match ingest_lab::report::compare(ra, rb) {
        Ok(c) => c,
        Err(e) => return fail(2, e),
    };
    let name = |p: &PathBuf| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into())
    };
    let out = a.out.unwrap_or_else(|| {
        PathBuf::from("reports/compare").join(format!("{}-vs-{}.html", name(ra), name(rb)))
    });
    if let Some(d) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(d) {
            return fail(2, format!("mkdir {}: {e}", d.display()));
        }
    }
    if let Err(e) = std::fs::write(&out, ingest_lab::report::render_comparison(&c)) {
        return fail(2, format!("write {}: {e}", out.display()));
    }
    let mut notable: Vec<_> = c
        .figures
        .iter()
        .filter(|f| {
            f.change
                .is_some_and(|x| x.abs() > ingest_lab::report::NOTABLE)
        })
        .collect();
    notable.sort_by(|x, y| {
        y.change
            .unwrap_or(0.0)
            .abs()
            .total_cmp(&x.change.unwrap_or(0.0).abs())
    });
    for (n, va, vb) in &c.verdicts {
        if va != vb {
            eprintln!("verdict changed: {n}: {va:?} -> {vb:?}");
        }
    }
    for f in notable.iter().take(15) {
        eprintln!(
            "{:+7.1} %  {}  ({} -> {})",
            f.change.unwrap_or(0.0) * 100.0,
            f.figure,
            f.a,
            f.b
        );
    }
    eprintln!(
        "{} figures compared, {} changed by more than {:.0} %; wrote {}",
        c.figures.len(),
        notable.len(),
        ingest_lab::report::NOTABLE * 100.0,
        out.display()
    );
    if a.json {
        print_json(&c);
    }
    ExitCode::SUCCESS
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("ingest-lab: {msg}");
    ExitCode::from(code)
}

fn print_json(v: &impl serde::Serialize) {
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
        Cmd::OverflowChild(a) => cmd_overflow_child(a),
        Cmd::BombChild(a) => cmd_bomb_child(a),
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

fn dlq_limit(max: Option<u64>, policy: &str) -> Result<Option<ingest_lab::DlqLimit>, String> {
    let policy = match policy {
        "drop-newer" => ingest_lab::DlqPolicy::DropNewer,
        "drop-older" => ingest_lab::DlqPolicy::DropOlder,
        p => {
            return Err(format!(
                "--dlq-policy '{p}': expected drop-newer or drop-older"
            ))
        }
    };
    Ok(max.map(|max_bytes| ingest_lab::DlqLimit { max_bytes, policy }))
}

fn schema(s: &str) -> Result<ingest_lab::Schema, String> {
    ingest_lab::Schema::parse(s).ok_or_else(|| format!("--schema '{s}': expected v1 or v2"))
}

fn cmd_ingest(a: IngestArgs) -> ExitCode {
    ingest_lab::install_signal_handlers();
    let mut cfg = ingest_lab::IngestConfig::new(&a.dir, a.inputs.clone());
    if let Err(e) = a.pipeline.apply(&mut cfg.run) {
        return fail(2, e);
    }
    cfg.schema = match schema(&a.schema) {
        Ok(s) => s,
        Err(e) => return fail(2, e),
    };
    cfg.max_decompressed_bytes = a.max_decompressed_bytes;
    cfg.max_record_bytes = a.max_record_bytes;
    cfg.max_ratio = (a.max_ratio > 0.0).then_some(a.max_ratio);
    cfg.validator_thread = a.validator_thread;
    cfg.run.progress = progress("ingest", a.json);
    match ingest_lab::ingest(&cfg) {
        Ok(r) => {
            if let Err(e) = a.pipeline.service.write_metrics(&r.run) {
                return fail(2, e);
            }
            eprintln!(
                "ingest: {} records in: {} committed, {} dead-lettered; {} inputs rejected; {} blank lines; \
                 {} lines resumed past; {} batches, {} fdatasyncs, {:.1} MB/s in, {:.0} records/s, {:.2} s",
                r.records_in,
                r.committed,
                r.dead_lettered,
                r.rejected_inputs,
                r.blank_lines,
                r.resumed_lines,
                r.batches,
                r.fdatasyncs,
                r.input_mb_per_s,
                r.records_per_s,
                r.elapsed_s
            );
            for w in &r.run.warnings {
                eprintln!("warning: {w}");
            }
            if a.json {
                print_json(&r);
            }
            if r.rejected_inputs > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(2, e),
    }
}

fn cmd_dlq(a: DlqArgs) -> ExitCode {
    ingest_lab::install_signal_handlers();
    let run = RunConfig::new(&a.dir);
    match a.action.as_str() {
        "list" => match ingest_lab::dlq_status(&run.dlq_dir()) {
            Ok(s) => {
                for d in &s.pending {
                    eprintln!(
                        "{}  attempts {}  {}{}",
                        d.source,
                        d.attempts,
                        d.reason,
                        if d.truncated { "  (prefix only)" } else { "" }
                    );
                }
                eprintln!(
                    "{} pending, {} re-drive in progress, {} drained generations",
                    s.pending.len(),
                    s.in_progress.len(),
                    s.drained.len()
                );
                if a.json {
                    print_json(&s);
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(2, e),
        },
        "redrive" => {
            let mut run = run;
            run.progress = progress("redrive", a.json);
            let mut cfg = ingest_lab::RedriveConfig::new(run);
            cfg.schema = match schema(&a.schema) {
                Ok(s) => s,
                Err(e) => return fail(2, e),
            };
            cfg.max_attempts = a.max_attempts;
            cfg.rate = a.rate;
            match ingest_lab::redrive(&cfg) {
                Ok(r) => {
                    eprintln!(
                        "redrive: {} entries: {} committed, {} still invalid, {} parked; {} pending now",
                        r.entries, r.redriven, r.still_invalid, r.parked, r.pending_after
                    );
                    if a.json {
                        print_json(&r);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(2, e),
            }
        }
        x => fail(2, format!("dlq '{x}': expected list or redrive")),
    }
}

fn run_config(a: &RunArgs) -> Result<RunConfig, String> {
    let mut cfg = RunConfig::new(&a.dir);
    a.pipeline.apply(&mut cfg)?;
    cfg.queue.block_timeout = a
        .block_timeout_ms
        .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1e3));
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
    cfg.load.payload = match a.payload.as_str() {
        "log" => PayloadKind::Log,
        "random" => PayloadKind::Random,
        p => return Err(format!("--payload '{p}' is not log or random")),
    };
    cfg.queue.policy = a.overflow.parse::<OverflowPolicy>()?;
    cfg.slo = Duration::from_secs_f64(a.slo_ms / 1e3);
    cfg.progress = progress("run", a.json).map(|mut p| {
        if let StopAfter::Items(n) = cfg.load.stop {
            p.total = Some(n);
        }
        p
    });
    Ok(cfg)
}

/// A progress line for a person at a terminal (never with --json or under CI).
fn progress(label: &str, json: bool) -> Option<ingest_lab::Progress> {
    ingest_lab::progress_wanted(json).then(|| ingest_lab::Progress {
        label: label.into(),
        total: None,
    })
}

fn cmd_run(a: RunArgs) -> ExitCode {
    ingest_lab::install_signal_handlers();
    let cfg = match run_config(&a) {
        Ok(c) => c,
        Err(e) => return fail(2, e),
    };
    match ingest_lab::run(&cfg) {
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

fn cmd_check(a: CheckArgs) -> ExitCode {
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
                    eprintln!("  {} {}", if c.held { "PASS" } else { "FAIL" }, c.what);
                }
                eprintln!("check {name}: {}", if r.pass { "PASS" } else { "FAIL" });
                results.push(r);
            }
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
    if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn cmd_sink_bench(a: SinkBenchArgs) -> ExitCode {
    let mut cfg = ingest_lab::SinkConfig::new(&a.dir);
    cfg.segment_bytes = a.segment_mib << 20;
    cfg.retain_segments = a.retain_segments;
    let r = ingest_lab::bench_appends(
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

fn cmd_overflow_child(a: OverflowChildArgs) -> ExitCode {
    use nix::sys::resource::{setrlimit, Resource};
    if let Err(e) = setrlimit(Resource::RLIMIT_AS, a.rlimit_as_bytes, a.rlimit_as_bytes) {
        return fail(2, format!("setrlimit(RLIMIT_AS): {e}"));
    }
    let t0 = std::time::Instant::now();
    std::thread::spawn(move || loop {
        let line = format!(
            "{:.3} {}\n",
            t0.elapsed().as_secs_f64(),
            ingest_lab::current_rss_bytes()
        );
        let mut out = std::io::stdout().lock();
        if out
            .write_all(line.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            return;
        }
        drop(out);
        std::thread::sleep(Duration::from_millis(100));
    });
    let mut cfg = RunConfig::new(&a.dir);
    cfg.window = WindowConfig::UNBATCHED;
    cfg.queue.capacity_items = usize::MAX; // unbounded: the point of the contrast
    cfg.queue.capacity_bytes = usize::MAX;
    cfg.load.rate = Some(a.rate);
    cfg.load.stop = StopAfter::Duration(Duration::from_secs_f64(a.seconds));
    cfg.sink.retain_segments = Some(2);
    cfg.min_free_bytes = 64 << 20;
    match ingest_lab::run(&cfg) {
        Ok(r) => {
            eprintln!(
                "survived: committed {} of {} offered",
                r.committed, r.offered
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(2, e),
    }
}

fn cmd_bomb_child(a: BombChildArgs) -> ExitCode {
    use std::io::Read;
    if let Some(limit) = a.rlimit_as_bytes {
        if let Err(e) =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, limit, limit)
        {
            return fail(2, format!("setrlimit(RLIMIT_AS): {e}"));
        }
    }
    let name = a.input.display().to_string();
    let file = match std::fs::File::open(&a.input) {
        Ok(f) => f,
        Err(e) => return fail(2, format!("open {name}: {e}")),
    };
    let (result, seen, error, crc) = if a.uncapped {
        // The naive way: decode everything into memory, trusting the input.
        let mut d = match ingest_lab::CappedDecoder::new(file, &name, u64::MAX - 1, 4) {
            Ok(d) => d,
            Err(e) => return fail(1, e),
        };
        let mut all = Vec::new();
        match d.read_to_end(&mut all) {
            Ok(n) => ("ok", n as u64, String::new(), crc32fast::hash(&all)),
            Err(e) => ("failed", d.seen(), e.to_string(), 0),
        }
    } else {
        match ingest_lab::CappedDecoder::new(file, &name, a.cap, 2) {
            Err(e) => ("rejected", 0, e.to_string(), 0),
            Ok(mut d) => {
                let mut h = crc32fast::Hasher::new();
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    match d.read(&mut buf) {
                        Ok(0) => break ("ok", d.seen(), String::new(), h.finalize()),
                        Ok(n) => h.update(&buf[..n]),
                        // Cap exceeded or invalid data: both are a clear, named rejection.
                        Err(e) if ingest_lab::DecompressError::from_io(&e).is_some() => {
                            break ("rejected", d.seen(), e.to_string(), 0)
                        }
                        Err(e) => break ("failed", d.seen(), format!("{name}: {e}"), 0),
                    }
                }
            }
        }
    };
    print_json(&serde_json::json!({
        "result": result, "seen": seen, "error": error, "crc32": crc,
        "peak_rss_bytes": ingest_lab::peak_rss_of_image(),
    }));
    if result == "ok" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn cmd_trace(a: TraceArgs) -> ExitCode {
    let mut buf = Vec::new();
    if let Err(e) =
        Trace::write_bursty(&mut buf, a.rate, a.seconds, a.seed, BurstyParams::default())
    {
        return fail(2, e);
    }
    let r = match &a.out {
        Some(p) => std::fs::write(p, &buf),
        None => std::io::stdout().lock().write_all(&buf),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(2, e),
    }
}

fn cmd_verify(a: DirArgs) -> ExitCode {
    let mut records = 0u64;
    let r = match ingest_lab::scan(&a.dir, false, &mut |_| records += 1) {
        Ok(r) => r,
        Err(e) => return fail(1, e),
    };
    if let Some(t) = &r.torn_tail {
        eprintln!(
            "torn tail: {} bytes after byte {} of {} ({}): never acknowledged; ingest and dlq redrive cut it on start",
            t.torn_bytes,
            t.good_bytes,
            t.segment.display(),
            t.error
        );
    }
    eprintln!(
        "{} segments, {} blocks, {records} records, {} position records, torn tail: {}",
        r.segments,
        r.blocks,
        r.control_records,
        if r.torn_tail.is_some() { "yes" } else { "no" }
    );
    if a.json {
        print_json(&r);
    }
    ExitCode::SUCCESS
}

fn cmd_cat(a: DirArgs) -> ExitCode {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let r = ingest_lab::scan(&a.dir, false, &mut |rec| {
        let _ = out.write_all(rec);
        let _ = out.write_all(b"\n");
    });
    let _ = out.flush();
    match r {
        Ok(r) => {
            if let Some(t) = r.torn_tail {
                eprintln!(
                    "note: {} ends in a torn tail of {} bytes (not committed, not printed)",
                    t.segment.display(),
                    t.torn_bytes
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, e),
    }
}
