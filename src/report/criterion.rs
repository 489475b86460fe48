//! Summarise criterion's saved estimates (`target/criterion/**/new/{benchmark,estimates}.json`) into one
//! CSV for the run folder: bench id, mean time per iteration with its 95 % interval, and per-element
//! time and rate where the bench declared a throughput.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// One bench, as a row of `micro.csv`. The id is written whole: a criterion id may hold a comma
/// (a parameter's text), which the csv crate quotes.
#[derive(Debug, Serialize)]
struct MicroRow {
    bench: String,
    mean_ns_per_iter: f64,
    ci95_low_ns: f64,
    ci95_high_ns: f64,
    // Empty for a bench that declared no throughput.
    ns_per_item: Option<f64>,
    items_per_s: Option<u64>,
}

/// `x` to one decimal, as the table shows it.
fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

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
            Some(n) if n > 0.0 => {
                let rate = n / (mean / 1e9);
                (
                    Some(tenths(mean / n)),
                    rate.is_finite().then(|| rate.round() as u64),
                )
            }
            _ => (None, None),
        };
        rows.push(MicroRow {
            bench: id,
            mean_ns_per_iter: tenths(mean),
            ci95_low_ns: tenths(lo),
            ci95_high_ns: tenths(hi),
            ns_per_item: per,
            items_per_s: rate,
        });
    }
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| a.bench.cmp(&b.bench));
    // Into memory: nothing here can fail but a row that does not serialise, which these cannot.
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for r in &rows {
        w.serialize(r).expect("a micro.csv row serialises");
    }
    let bytes = w.into_inner().expect("an in-memory CSV flushes");
    Some(String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(root: &Path, dir: &str, id: &str, mean: f64, elements: Option<f64>) {
        let d = root.join(dir).join("new");
        std::fs::create_dir_all(&d).unwrap();
        let throughput = elements.map_or(Value::Null, |n| serde_json::json!({ "Elements": n }));
        let b = serde_json::json!({ "full_id": id, "throughput": throughput });
        let e = serde_json::json!({ "mean": { "point_estimate": mean,
            "confidence_interval": { "lower_bound": mean - 1.0, "upper_bound": mean + 1.0 } } });
        std::fs::write(d.join("benchmark.json"), b.to_string()).unwrap();
        std::fs::write(d.join("estimates.json"), e.to_string()).unwrap();
    }

    #[test]
    fn a_bench_id_with_a_comma_keeps_its_row_and_a_bench_without_throughput_leaves_cells_empty() {
        let root = crate::testutil::tempdir();
        bench(
            root.path(),
            "b",
            "codec/encode/zstd, level 3",
            2_000.04,
            Some(100.0),
        );
        bench(root.path(), "a", "batch/push", 12.0, None);
        let text = criterion_summary(root.path(), None).unwrap();
        let c = super::super::Csv::parse(&text).unwrap();
        assert_eq!(
            c.header,
            [
                "bench",
                "mean_ns_per_iter",
                "ci95_low_ns",
                "ci95_high_ns",
                "ns_per_item",
                "items_per_s"
            ]
        );
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.text(&c.rows[0], "bench"), Some("batch/push"));
        assert_eq!(c.text(&c.rows[0], "ns_per_item"), Some(""));
        assert_eq!(c.text(&c.rows[0], "items_per_s"), Some(""));
        let z = &c.rows[1];
        assert_eq!(c.text(z, "bench"), Some("codec/encode/zstd, level 3"));
        assert_eq!(c.num(z, "mean_ns_per_iter"), Some(2_000.0));
        assert_eq!(c.num(z, "ci95_high_ns"), Some(2_001.0));
        assert_eq!(c.num(z, "ns_per_item"), Some(20.0));
        // From the unrounded mean: 100 items in 2000.04 ns.
        assert_eq!(c.text(z, "items_per_s"), Some("49999000"));
    }
}
