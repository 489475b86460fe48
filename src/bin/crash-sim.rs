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

use ingest_lab::crashsim::{replay, run_seed, Violation};

struct Args {
    seeds: (u64, u64),
    min_points: Option<u64>,
    points: u64,
    threads: u64,
    work: PathBuf,
    replay: Option<(u64, u64)>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seeds: (0, 100),
        min_points: None,
        points: 64,
        threads: 2,
        work: PathBuf::from("target/crash-sim"),
        replay: None,
    };
    let mut seed = None;
    let mut op = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--seeds" => {
                let v = val()?;
                let (a0, b0) = v.split_once("..").ok_or(format!("--seeds A..B, not {v}"))?;
                a.seeds = (
                    a0.parse().map_err(|e| format!("--seeds {v}: {e}"))?,
                    if b0.is_empty() {
                        u64::MAX
                    } else {
                        b0.parse().map_err(|e| format!("--seeds {v}: {e}"))?
                    },
                );
            }
            "--points" => a.points = num(val()?)?.max(1),
            "--min-points" => a.min_points = Some(num(val()?)?),
            "--threads" => a.threads = num(val()?)?.max(1),
            "--work" => a.work = PathBuf::from(val()?),
            "--seed" => seed = Some(num(val()?)?),
            "--op" => op = Some(num(val()?)?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    match (seed, op) {
        (Some(s), Some(o)) => a.replay = Some((s, o)),
        (None, None) => {}
        _ => return Err("--seed and --op go together".into()),
    }
    if a.seeds.1 == u64::MAX && a.min_points.is_none() {
        return Err("an open --seeds A.. needs --min-points".into());
    }
    if a.seeds.1 <= a.seeds.0 {
        return Err(format!("--seeds {}..{} is empty", a.seeds.0, a.seeds.1));
    }
    Ok(a)
}

/// Send fd 2 to `DIR/stderr.log`; keep the terminal's stderr for our own messages.
fn quiet_stderr(work: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(work)?;
    let log = std::fs::File::create(work.join("stderr.log"))?;
    nix::unistd::dup2_stderr(&log).map_err(std::io::Error::from)?;
    Ok(())
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("crash-sim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some((seed, op)) = a.replay {
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
