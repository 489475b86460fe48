//! `check sigstop`: the latency measurement has no coordinated omission. A steady open-loop run is
//! frozen with `SIGSTOP` for 1 s and resumed; every item scheduled during the freeze keeps its intended
//! send time, so the stall must show up in max (≈ 1 s) and in p99 (the stalled items are ~20 % of a 5 s
//! run). A closed-loop measurement would show one slow item and a clean p99.

use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;
use serde_json::{json, Value};

use super::common::{write_csv_rows, CheckOptions, CheckResult, Criterion};
use super::error::CheckError;
use crate::error::SysError;

/// How long the process is stopped.
pub const STOP: Duration = Duration::from_secs(1);

/// The run, as the one row of `sigstop.csv`.
#[derive(Debug, Serialize)]
struct StopRow {
    rate: u64,
    duration_s: f64,
    stop_ms: u64,
    // Empty when the run's JSON did not hold the count.
    offered: Option<u64>,
    committed: Option<u64>,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    max_us: f64,
}

/// Run the check.
pub fn sigstop(opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    let exe = opts.binary("sigstop")?;
    let dir = opts.dir.join("sigstop");
    let rate: u64 = 5000;
    let secs = 5.0;
    let child = Command::new(&exe)
        .args([
            "run",
            "--json",
            "--load",
            "steady",
            "--duration",
            &secs.to_string(),
        ])
        .args([
            "--rate",
            &rate.to_string(),
            "--max-items",
            "256",
            "--linger-ms",
            "1",
            "--dir",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SysError::new("spawn", &exe, e))?;
    let pid = Pid::from_raw(child.id() as i32);
    opts.progress("sigstop: steady run, SIGSTOP at 2 s for 1 s");
    std::thread::sleep(Duration::from_secs(2));
    kill(pid, Signal::SIGSTOP).map_err(|e| CheckError::io("SIGSTOP", e.into()))?;
    std::thread::sleep(STOP);
    kill(pid, Signal::SIGCONT).map_err(|e| CheckError::io("SIGCONT", e.into()))?;
    let out = child
        .wait_with_output()
        .map_err(|e| SysError::new("wait", &exe, e))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(CheckError::child("run", out.status, &out.stderr));
    }
    let r: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| CheckError::json("run JSON", e))?;
    let (p99, max) = (
        r["latency_us"]["p99"].as_f64().unwrap_or(0.0),
        r["latency_us"]["max"].as_f64().unwrap_or(0.0),
    );
    let stop_us = STOP.as_secs_f64() * 1e6;
    let criteria = vec![
        Criterion::timing(
            max >= 0.95 * stop_us,
            format!(
                "max latency {:.0} ms ≥ 95% of the {} ms stop",
                max / 1e3,
                STOP.as_millis()
            ),
        ),
        Criterion::timing(
            p99 >= 0.8 * stop_us,
            format!(
                "p99 {:.0} ms ≥ 80% of the stop: the ~{} items scheduled during it all count",
                p99 / 1e3,
                rate
            ),
        ),
        Criterion::exact(
            r["offered"] == r["committed"],
            format!(
                "every offered item committed: {} of {}",
                r["committed"], r["offered"]
            ),
        ),
    ];
    let row = StopRow {
        rate,
        duration_s: secs,
        stop_ms: STOP.as_millis() as u64,
        offered: r["offered"].as_u64(),
        committed: r["committed"].as_u64(),
        p50_us: r["latency_us"]["p50"].as_f64().unwrap_or(f64::NAN),
        p90_us: r["latency_us"]["p90"].as_f64().unwrap_or(f64::NAN),
        p99_us: p99,
        max_us: max,
    };
    let evidence = vec![write_csv_rows(&opts.out, "sigstop.csv", &[row])?];
    Ok(CheckResult::judge(
        "sigstop",
        criteria,
        json!({ "run": r }),
        evidence,
    ))
}
