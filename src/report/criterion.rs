//! Summarise criterion's saved estimates (`target/criterion/**/new/{benchmark,estimates}.json`) into one
//! CSV for the run folder: bench id, mean time per iteration with its 95 % interval, and per-element
//! time and rate where the bench declared a throughput.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn find_new_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") && p.join("estimates.json").exists() {
                out.push(p);
            } else {
                find_new_dirs(&p, out);
            }
        }
    }
}

/// CSV of every bench under `criterion_dir` whose estimates were written after `since` (so benches
/// left over from earlier runs are not reported as this run's), sorted by id; `None` if there are none.
pub fn criterion_summary(
    criterion_dir: &Path,
    since: Option<std::time::SystemTime>,
) -> Option<String> {
    let mut dirs = Vec::new();
    find_new_dirs(criterion_dir, &mut dirs);
    if let Some(t) = since {
        dirs.retain(|d| {
            std::fs::metadata(d.join("estimates.json"))
                .and_then(|m| m.modified())
                .is_ok_and(|m| m >= t)
        });
    }
    let mut rows = Vec::new();
    for d in dirs {
        let read = |f: &str| -> Option<Value> {
            serde_json::from_str(&std::fs::read_to_string(d.join(f)).ok()?).ok()
        };
        let (Some(b), Some(e)) = (read("benchmark.json"), read("estimates.json")) else {
            continue;
        };
        let id = b["full_id"].as_str().unwrap_or("?").to_string();
        let mean = e["mean"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
        let lo = e["mean"]["confidence_interval"]["lower_bound"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let hi = e["mean"]["confidence_interval"]["upper_bound"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let elems = b["throughput"]["Elements"].as_f64();
        let (per, rate) = match elems {
            Some(n) if n > 0.0 => (
                format!("{:.1}", mean / n),
                format!("{:.0}", n / (mean / 1e9)),
            ),
            _ => (String::new(), String::new()),
        };
        rows.push(format!("{id},{mean:.1},{lo:.1},{hi:.1},{per},{rate}"));
    }
    if rows.is_empty() {
        return None;
    }
    rows.sort();
    let mut csv =
        String::from("bench,mean_ns_per_iter,ci95_low_ns,ci95_high_ns,ns_per_item,items_per_s\n");
    for r in rows {
        let _ = writeln!(csv, "{r}");
    }
    Some(csv)
}
