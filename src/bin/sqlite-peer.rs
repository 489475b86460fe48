//! `sqlite-peer`: the embedded database a user would reach for instead of this pipeline, measured the
//! way `make bench-peers` compares it — SQLite (rusqlite, bundled library) in WAL mode with
//! `synchronous=FULL` (every commit fsyncs the WAL), 100-byte rows, a fixed number of rows per
//! transaction, for a fixed time. Prints one JSON object: rows/s, commit latency p50/p99, CPU per row.
//!
//! Built only with `--features peers` (the bundled SQLite is a C build `make test` does not need).

use std::time::{Duration, Instant};

use clap::Parser;
use rusqlite::{params, Connection};

#[derive(Parser)]
struct Args {
    /// Directory for the database (same filesystem as the pipeline's sink).
    #[arg(long)]
    dir: std::path::PathBuf,
    /// Rows per transaction (the batch size).
    #[arg(long, default_value_t = 1)]
    rows_per_txn: usize,
    /// How long to insert.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    std::fs::create_dir_all(&a.dir)?;
    let path = a.dir.join(format!("peer-{}.db", a.rows_per_txn));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut db = Connection::open(&path)?;
    let mode: String = db.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        return Err(format!("journal_mode is {mode}, not wal").into());
    }
    db.execute_batch("PRAGMA synchronous=FULL; CREATE TABLE items (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);")?;
    let payload = [b'x'; 100];
    let mut commits: Vec<u64> = Vec::new();
    let mut rows = 0u64;
    let cpu = ingest_lab::host::CpuMeter::start();
    let t0 = Instant::now();
    let end = Duration::from_secs_f64(a.seconds);
    while t0.elapsed() < end {
        let tx = db.transaction()?;
        {
            let mut st = tx.prepare_cached("INSERT INTO items (payload) VALUES (?1)")?;
            for _ in 0..a.rows_per_txn {
                st.execute(params![&payload[..]])?;
            }
        }
        let c = Instant::now();
        tx.commit()?;
        commits.push(c.elapsed().as_nanos() as u64);
        rows += a.rows_per_txn as u64;
    }
    let wall = t0.elapsed().as_secs_f64();
    let used = cpu.stop();
    let cpu = used.user_s + used.sys_s;
    drop(db);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    commits.sort_unstable();
    let q = |p: f64| commits[((commits.len() - 1) as f64 * p).round() as usize] as f64 / 1e6;
    println!(
        "{}",
        serde_json::json!({
            "rows_per_txn": a.rows_per_txn,
            "rows": rows,
            "transactions": commits.len(),
            "seconds": wall,
            "rows_per_s": (rows as f64 / wall).round(),
            "commit_p50_ms": q(0.50),
            "commit_p99_ms": q(0.99),
            "cpu_us_per_row": cpu / rows.max(1) as f64 * 1e6,
            "sqlite_version": rusqlite::version(),
        })
    );
    Ok(())
}
