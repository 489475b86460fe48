//! `ingest-lab-child`: the processes the checks start and measure (the unbounded queue that must die
//! under an address-space limit, one decoder fed a bomb). Not for users, so not in `ingest-lab`.
//! Exit codes as `ingest-lab`'s; the result is one JSON object (bomb) or a line per sample (overflow)
//! on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ingest_lab::{batch::WindowConfig, config::RunConfig, config::StopAfter};

#[derive(Parser)]
#[command(
    name = "ingest-lab-child",
    about = "Child processes of ingest-lab's checks (not for users)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// (for `check overflow`) the same load against an unbounded queue, under an address-space limit,
    /// printing "seconds rss_bytes" every 100 ms until it dies.
    Overflow(OverflowArgs),
    /// (for `check bomb`) decode one input, capped (streaming) or uncapped (all into memory), and
    /// print {"result", "seen", "peak_rss_bytes", "error", "crc32"} as JSON.
    Bomb(BombArgs),
}

#[derive(Args)]
struct OverflowArgs {
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
struct BombArgs {
    #[arg(long)]
    input: PathBuf,
    #[arg(long, default_value_t = 256 << 20)]
    cap: u64,
    #[arg(long)]
    uncapped: bool,
    #[arg(long)]
    rlimit_as_bytes: Option<u64>,
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("ingest-lab-child: {msg}");
    ExitCode::from(code)
}

fn print_json(v: &impl serde::Serialize) {
    let s = serde_json::to_string(v).expect("serializable") + "\n";
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

fn main() -> ExitCode {
    match Cli::parse().cmd {
        Cmd::Overflow(a) => cmd_overflow_child(a),
        Cmd::Bomb(a) => cmd_bomb_child(a),
    }
}

fn cmd_overflow_child(a: OverflowArgs) -> ExitCode {
    use nix::sys::resource::{setrlimit, Resource};
    if let Err(e) = setrlimit(Resource::RLIMIT_AS, a.rlimit_as_bytes, a.rlimit_as_bytes) {
        return fail(2, format!("setrlimit(RLIMIT_AS): {e}"));
    }
    let t0 = std::time::Instant::now();
    std::thread::spawn(move || loop {
        let line = format!(
            "{:.3} {}\n",
            t0.elapsed().as_secs_f64(),
            ingest_lab::host::current_rss_bytes()
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
    match ingest_lab::pipeline::run(&cfg) {
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

fn cmd_bomb_child(a: BombArgs) -> ExitCode {
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
        let mut d = match ingest_lab::codec::CappedDecoder::new(file, &name, u64::MAX - 1, 4) {
            Ok(d) => d,
            Err(e) => return fail(1, e),
        };
        let mut all = Vec::new();
        match d.read_to_end(&mut all) {
            Ok(n) => ("ok", n as u64, String::new(), crc32fast::hash(&all)),
            Err(e) => ("failed", d.seen(), e.to_string(), 0),
        }
    } else {
        match ingest_lab::codec::CappedDecoder::new(file, &name, a.cap, 2) {
            Err(e) => ("rejected", 0, e.to_string(), 0),
            Ok(mut d) => {
                let mut h = crc32fast::Hasher::new();
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    match d.read(&mut buf) {
                        Ok(0) => break ("ok", d.seen(), String::new(), h.finalize()),
                        Ok(n) => h.update(&buf[..n]),
                        // Cap exceeded or invalid data: both are a clear, named rejection.
                        Err(e) if ingest_lab::codec::DecompressError::from_io(&e).is_some() => {
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
        "peak_rss_bytes": ingest_lab::host::peak_rss_of_image(),
    }));
    if result == "ok" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
