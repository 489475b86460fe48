//! `crash-sim`: the crash-and-fault simulation of the ingest path (see `ingest_lab::crashsim`).
//!
//! ```text
//! crash-sim [--seeds A..B] [--points N] [--threads T] [--work DIR]    run seeds A..B (end exclusive)
//! crash-sim --min-points N [--seeds A..] ...                           run seeds from A until N points
//! crash-sim --seed S --op N [--points N] [--work DIR]                  replay one point, verbosely
//! ```
//! Prints one line, `crash simulation: N crash points, seeds A..B, V violations`, then each violation
//! with the seed and operation that reproduce it. Exit 0 when there are none, 1 when there are, 2 on
//! a usage error. What ingest says on stderr during the simulation (torn tails cut, changed inputs)
//! goes to `DIR/stderr.log`, not the terminal.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use ingest_lab::crashsim::{replay, run_seed, Violation};

/// The crash-and-fault simulation of the ingest path.
#[derive(Parser)]
#[command(name = "crash-sim")]
struct Cli {
    /// Seeds to run, `A..B` (end exclusive), or `A..` with --min-points.
    #[arg(long, default_value = "0..100", value_parser = seed_range)]
    seeds: (u64, u64),
    /// Run seeds from A until this many crash points have been reached.
    #[arg(long)]
    min_points: Option<u64>,
    /// Crash points drawn per seed.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    points: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    threads: u64,
    /// Working directory.
    #[arg(long, default_value = "target/crash-sim")]
    work: PathBuf,
    /// Replay one point, verbosely: its seed (with --op).
    #[arg(long, requires = "op")]
    seed: Option<u64>,
    /// Replay one point, verbosely: its operation (with --seed).
    #[arg(long, requires = "seed")]
    op: Option<u64>,
}

/// `A..B` or the open `A..` (its end `u64::MAX`).
fn seed_range(v: &str) -> Result<(u64, u64), String> {
    let (a, b) = v.split_once("..").ok_or(format!("A..B, not {v}"))?;
    let num = |x: &str| x.parse::<u64>().map_err(|e| format!("{v}: {e}"));
    let end = if b.is_empty() { u64::MAX } else { num(b)? };
    Ok((num(a)?, end))
}

/// The parsed command line, its rules across flags checked (clap's usage error, exit 2, otherwise).
fn parse() -> Cli {
    let a = Cli::parse();
    let usage = |msg: String| {
        Cli::command()
            .error(ErrorKind::ArgumentConflict, msg)
            .exit()
    };
    if a.seeds.1 == u64::MAX && a.min_points.is_none() {
        usage("an open --seeds A.. needs --min-points".into());
    }
    if a.seeds.1 <= a.seeds.0 {
        usage(format!("--seeds {}..{} is empty", a.seeds.0, a.seeds.1));
    }
    a
}

/// Send fd 2 to `DIR/stderr.log`; keep the terminal's stderr for our own messages.
fn quiet_stderr(work: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(work)?;
    let log = std::fs::File::create(work.join("stderr.log"))?;
    nix::unistd::dup2_stderr(&log).map_err(std::io::Error::from)?;
    Ok(())
}

fn main() -> ExitCode {
    let a = parse();
    if let (Some(seed), Some(op)) = (a.seed, a.op) {
        return match replay(seed, op, a.points, &a.work.join("replay")) {
            Ok(()) => {
                println!("seed {seed} operation {op}: every promise held");
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("seed {seed} operation {op}: {e}");
                ExitCode::from(1)
            }
        };
    }
    if let Err(e) = quiet_stderr(&a.work) {
        eprintln!("crash-sim: {}: {e}", a.work.display());
        return ExitCode::from(2);
    }
    let next = AtomicU64::new(a.seeds.0);
    let points = AtomicU64::new(0);
    let last_seed = AtomicU64::new(a.seeds.0);
    let found: Mutex<Vec<Violation>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..a.threads {
            let (next, points, found, a, last_seed) = (&next, &points, &found, &a, &last_seed);
            s.spawn(move || {
                let work = a.work.join(format!("worker-{t}"));
                loop {
                    if a.min_points
                        .is_some_and(|m| points.load(Ordering::Relaxed) >= m)
                    {
                        break;
                    }
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= a.seeds.1 {
                        break;
                    }
                    last_seed.fetch_max(seed + 1, Ordering::Relaxed);
                    let out = run_seed(seed, a.points, &work);
                    points.fetch_add(out.points, Ordering::Relaxed);
                    found.lock().unwrap().extend(out.violations);
                }
            });
        }
    });
    let found = found.into_inner().unwrap();
    println!(
        "crash simulation: {} crash points, seeds {}..{}, {} violations",
        points.load(Ordering::Relaxed),
        a.seeds.0,
        last_seed.load(Ordering::Relaxed),
        found.len()
    );
    for v in found.iter().take(20) {
        println!("  {v}");
    }
    if found.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
