//! Which charts a run folder gets: each from the CSV a check wrote, in page order (a missing or empty
//! file: no chart).

use std::path::Path;

use serde_json::Value;

use super::charts::{Chart, Plot, Reference, Series};
use super::csv::Csv;

/// A figure of a check's `figures` in `checks.json`'s array, by path (`a.b.c`).
fn figure(checks: &[Value], check: &str, path: &str) -> Option<f64> {
    let c = checks.iter().find(|c| c["check"] == check)?;
    let mut v = &c["figures"];
    for k in path.split('.') {
        v = v.get(k)?;
    }
    v.as_f64().filter(|x| x.is_finite())
}

fn reference(name: &str, value: Option<f64>) -> Option<Reference> {
    Some(Reference {
        name: name.to_string(),
        value: value?,
    })
}

/// Series from a CSV: one per distinct value of `group` (or one named `y` when `group` is `None`).
fn grouped(csv: &Csv, x: &str, y: &str, scale: f64, group: Option<&str>) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for row in &csv.rows {
        let (Some(xv), Some(yv)) = (csv.num(row, x), csv.num(row, y)) else {
            continue;
        };
        let name = group
            .and_then(|g| csv.text(row, g))
            .unwrap_or(y)
            .to_string();
        match out.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push((xv, yv * scale)),
            None => out.push(Series {
                name,
                points: vec![(xv, yv * scale)],
            }),
        }
    }
    out
}

/// Several y columns of one CSV as series over `x`.
fn columns(csv: &Csv, x: &str, ys: &[(&str, &str)], scale: f64) -> Vec<Series> {
    ys.iter()
        .map(|(col, name)| Series {
            name: (*name).into(),
            points: csv
                .rows
                .iter()
                .filter_map(|r| Some((csv.num(r, x)?, csv.num(r, col)? * scale)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

fn bars(csv: &Csv, name: &str, value: &str, scale: f64) -> Vec<(String, f64)> {
    csv.rows
        .iter()
        .filter_map(|r| Some((csv.text(r, name)?.to_string(), csv.num(r, value)? * scale)))
        .collect()
}

fn lines(
    source: &'static str,
    title: &str,
    x: &str,
    y: &str,
    log: (bool, bool),
    s: Vec<Series>,
) -> Chart {
    Chart {
        source,
        title: title.into(),
        x_label: x.into(),
        y_label: y.into(),
        log_x: log.0,
        log_y: log.1,
        join: true,
        plot: Plot::Lines(s),
        refs: Vec::new(),
    }
}

impl Chart {
    /// The chart with `refs` drawn on it as reference lines (a missing value draws none).
    fn with_refs(mut self, refs: impl IntoIterator<Item = Reference>) -> Self {
        self.refs.extend(refs);
        self
    }
}

fn bar_chart(
    source: &'static str,
    title: &str,
    y: &str,
    log_y: bool,
    b: Vec<(String, f64)>,
) -> Chart {
    Chart {
        source,
        title: title.into(),
        x_label: String::new(),
        y_label: y.into(),
        log_x: false,
        log_y,
        join: false,
        plot: Plot::Bars(b),
        refs: Vec::new(),
    }
}

/// Every chart the run folder's files allow, in page order (a missing or empty file: no chart);
/// `checks` is the run's `checks.json` array (as the page read it), for reference values.
pub fn charts_for(run: &Path, checks: &[Value]) -> Vec<Chart> {
    let read = |f: &str| Csv::read(&run.join(f));
    let mut out = Vec::new();
    // Reference values from the same run's checks: the SLO, the simulated lower bound.
    let slo_ms = ["before-after", "aimd", "window"]
        .iter()
        .find_map(|c| figure(checks, c, "slo_us"))
        .map(|us| us / 1e3);
    let slo = || reference("SLO", slo_ms);
    // The bars are the worst-p99 run's: its own disk's bound (older runs: the one bound they had).
    let bound_ms = figure(checks, "before-after", "worst_run_lowest_simulated_p99_us")
        .or_else(|| figure(checks, "before-after", "lowest_simulated_p99_us"))
        .map(|us| us / 1e3);
    if let Some(c) = read("before-after.csv") {
        out.push(bar_chart(
            "before-after.csv",
            "Throughput: unbatched vs the tuned window",
            "items/s (log)",
            true,
            bars(&c, "case", "items_per_s", 1.0),
        ));
        out.push(
            bar_chart(
                "before-after.csv",
                "p99 end-to-end latency",
                "p99 ms (log)",
                true,
                bars(&c, "case", "p99_us", 1e-3),
            )
            .with_refs(slo())
            .with_refs(reference(
                "lowest any window could reach on that run's disk (simulated)",
                bound_ms,
            )),
        );
    }
    if let Some(c) = read("sink-vs-fio.csv") {
        out.push(
            bar_chart(
                "sink-vs-fio.csv",
                "Our sink as a fraction of fio (same directory, same run)",
                "ours / fio",
                false,
                bars(&c, "measure", "fraction_of_fio", 1.0),
            )
            .with_refs(reference("fio", Some(1.0)))
            .with_refs(reference("the bar: 95 % of fio", Some(0.95))),
        );
    }
    if let Some(c) = read("load-latency.csv") {
        let s = columns(
            &c,
            "fraction_of_peak",
            &[
                ("p50_us", "p50"),
                ("p90_us", "p90"),
                ("p99_us", "p99"),
                ("max_us", "max"),
            ],
            1e-3,
        );
        out.push(
            lines(
                "load-latency.csv",
                "Latency percentiles on the bursty replay as load rises",
                "offered load / batched peak",
                "ms (log)",
                (false, true),
                s,
            )
            .with_refs(slo()),
        );
    }
    if let Some(c) = read("window-sweep.csv") {
        let mut s = grouped(&c, "linger_ms", "bursty_p99_us", 1e-3, Some("max_items"));
        for x in &mut s {
            x.name = format!("max_items {}", x.name);
        }
        out.push(
            lines(
                "window-sweep.csv",
                "Window sweep: bursty-replay p99 by linger and size bound",
                "linger ms",
                "p99 ms (log)",
                (false, true),
                s,
            )
            .with_refs(slo()),
        );
    }
    if let Some(c) = read("batch-size-hist.csv") {
        let s = grouped(&c, "batch_items_upper", "batches", 1.0, Some("load"));
        out.push(lines(
            "batch-size-hist.csv",
            "Batch sizes of the tuned window at peak and at low load",
            "items per batch (≤, log)",
            "batches (log)",
            (true, true),
            s,
        ));
    }
    if let Some(c) = read("aimd-trace.csv") {
        let s = grouped(&c, "t_s", "linger_ms", 1.0, Some("regime"));
        out.push(lines(
            "aimd-trace.csv",
            "AIMD: the linger the controller chose, over time",
            "s",
            "linger ms",
            (false, false),
            s,
        ));
    }
    if let Some(c) = read("overflow.csv") {
        out.push(lines(
            "overflow.csv",
            "Overflow under 4× overload: queue depth by policy",
            "s",
            "items queued",
            (false, false),
            grouped(&c, "t_s", "queue_depth", 1.0, Some("policy")),
        ));
        out.push(lines(
            "overflow.csv",
            "Overflow: items dropped by policy",
            "s",
            "items dropped",
            (false, false),
            grouped(&c, "t_s", "dropped", 1.0, Some("policy")),
        ));
        out.push(lines(
            "overflow.csv",
            "Overflow: resident memory (the unbounded queue until it is killed)",
            "s",
            "RSS MB",
            (false, false),
            grouped(&c, "t_s", "rss_mb", 1.0, Some("policy")),
        ));
    }
    if let Some(c) = read("poison-lag.csv") {
        let s = columns(
            &c,
            "t_s",
            &[
                ("lag_split_and_retry", "split and retry"),
                ("lag_abort_whole_batch", "abort whole batch"),
            ],
            1.0,
        );
        out.push(lines(
            "poison-lag.csv",
            "Poison records: consumer lag",
            "s",
            "items behind",
            (false, false),
            s,
        ));
    }
    if let Some(c) = read("bomb.csv") {
        out.push(bar_chart(
            "bomb.csv",
            "Decompression bombs: peak RSS of the capped decoder",
            "peak RSS MB",
            false,
            bars(&c, "input", "peak_rss_mb", 1.0),
        ));
    }
    if let Some(c) = read("compression.csv") {
        out.push(lines(
            "compression.csv",
            "Compression ratio by batch size (log-like records)",
            "items per batch (log)",
            "plain / written",
            (true, false),
            grouped(&c, "batch", "ratio", 1.0, Some("codec")),
        ));
    }
    if let Some(c) = read("nagle-histograms.csv") {
        out.push(lines(
            "nagle-histograms.csv",
            "Request/response latency: Nagle + delayed ACK vs TCP_NODELAY",
            "latency µs (≤, log)",
            "requests (log)",
            (true, true),
            grouped(&c, "latency_us_upper", "count", 1.0, Some("case")),
        ));
    }
    if let (Some(pg), Some(ours)) = (read("peers-pg.csv"), read("peers-ours.csv")) {
        let mut s: Vec<Series> = grouped(&pg, "p99_ms", "tps", 1.0, Some("commit_delay_us"))
            .into_iter()
            .map(|mut x| {
                x.name = format!("PostgreSQL, commit_delay {} µs", x.name);
                x.points.sort_by(|a, b| a.0.total_cmp(&b.0));
                x
            })
            .collect();
        for mut x in grouped(&ours, "p99_ms", "items_per_s", 1.0, Some("window")) {
            x.name = format!("ingest-lab, {} window", x.name);
            x.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            s.push(x);
        }
        out.push(lines(
            "peers-vs.csv",
            "Items/s against p99: PostgreSQL group commit vs our pipeline (each run)",
            "p99 ms (log)",
            "items/s (log)",
            (true, true),
            s,
        ));
    }
    if let Some(c) = read("peers-sqlite.csv") {
        let s = columns(
            &c,
            "rows_per_txn",
            &[
                ("sqlite_rows_per_s", "SQLite WAL, synchronous=FULL"),
                ("ours_items_per_s", "ingest-lab"),
            ],
            1.0,
        );
        out.push(lines(
            "peers-sqlite.csv",
            "SQLite vs our pipeline at the same batch size",
            "rows (items) per transaction (log)",
            "per s (log)",
            (true, true),
            s,
        ));
    }
    // Histograms as bars; the peers scatter as markers only.
    for c in &mut out {
        if matches!(c.source, "batch-size-hist.csv" | "nagle-histograms.csv") {
            if let Plot::Lines(s) = &mut c.plot {
                let mut s = std::mem::take(s);
                for x in &mut s {
                    x.points.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
                c.plot = Plot::Histogram(s);
                c.join = false;
            }
        }
        if c.source == "peers-vs.csv" {
            c.join = false;
        }
    }
    out.retain(|c| match &c.plot {
        Plot::Lines(s) | Plot::Histogram(s) => s.iter().any(|s| !s.points.is_empty()),
        Plot::Bars(b) => !b.is_empty(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::render_svg;

    #[test]
    fn a_line_chart_from_a_csv_is_an_svg_with_its_title_legend_and_paths() {
        let d = crate::testutil::folder_with(&[(
            "poison-lag.csv",
            "t_s,lag_split_and_retry,lag_abort_whole_batch\n0.0,0,0\n0.1,51,1904\n0.2,40,3900\n",
        )]);
        let charts = charts_for(d.path(), &[]);
        assert_eq!(charts.len(), 1);
        let svg = render_svg(&charts[0]).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains("Poison records: consumer lag"));
        assert!(svg.contains("abort whole batch") && svg.contains("split and retry"));
        assert!(svg.matches("<polyline").count() >= 2, "one line per series");
    }

    #[test]
    fn a_folder_without_evidence_has_no_charts() {
        let d = crate::testutil::tempdir();
        assert!(charts_for(d.path(), &[]).is_empty());
    }
}
