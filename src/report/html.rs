//! Renders a run folder into `index.html`: provenance first, then each check's verdict with its
//! criteria, then the evidence tables. Plain HTML, no JavaScript, no network; every number on the page
//! is read from a file the run wrote.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::charts::{render_svg, Chart};
use super::csv::Csv;
use super::figures::charts_for;
use crate::checks::Contention;

/// Text made safe inside HTML elements and attribute values.
pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JSON file, or why it could not be read.
pub(super) fn read_json(p: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("read {}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// A CSV file as an HTML table (first line = header; quoted fields keep their commas).
fn csv_table(text: &str) -> String {
    let Some(csv) = Csv::parse(text) else {
        return String::new();
    };
    let mut out = String::from("<table>\n<tr>");
    for h in &csv.header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for row in &csv.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// The charts drawn from `file`, inline (the page stays one self-contained file).
fn charts_of(charts: &[Chart], file: &str) -> String {
    let mut out = String::new();
    for c in charts.iter().filter(|c| c.source == file) {
        match render_svg(c) {
            Ok(svg) => {
                let _ = writeln!(out, "<figure class=\"chart\">{svg}</figure>");
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "<p class=\"fail\">chart “{}” could not be drawn: {}</p>",
                    esc(&c.title),
                    esc(&e)
                );
            }
        }
    }
    out
}

fn provenance_section(p: &Value) -> String {
    let g = |k: &str| {
        p.get(k).map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
    };
    let host = &p["host"];
    let crates = p["crates"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| Some(format!("{} {}", c[0].as_str()?, c[1].as_str()?)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let rows = [
        ("command", g("command").unwrap_or_default()),
        ("commit", g("commit").unwrap_or_default()),
        ("date", g("date").unwrap_or_default()),
        ("host", host["hostname"].as_str().unwrap_or("").to_string()),
        ("kernel", host["kernel"].as_str().unwrap_or("").to_string()),
        (
            "cpu",
            format!(
                "{} ({} cpus)",
                host["cpu"].as_str().unwrap_or(""),
                host["cpus"]
            ),
        ),
        (
            "filesystem",
            format!(
                "{} at {}",
                g("filesystem").unwrap_or_default(),
                g("sink_dir").unwrap_or_default()
            ),
        ),
        ("rustc", g("rustc").unwrap_or_default()),
        ("crates", crates),
    ];
    let mut s = String::from("<h2>Provenance</h2>\n<table class=\"prov\">\n");
    for (k, v) in rows {
        let _ = writeln!(s, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    s.push_str("</table>\n");
    s
}

/// How a verdict is shown: (CSS class, mark, word).
pub(super) type Shown = (&'static str, &'static str, &'static str);

/// A check's or a criterion's verdict as `checks.json` gives it — `held` is `"pass"` for a check,
/// `"held"` for a criterion — beside `"inconclusive"`: held, undecided, or failed. The one mapping
/// the summary, the check sections and the run comparison all show.
pub(super) fn verdict_of(v: &Value, held: &str) -> Shown {
    let flag = |k: &str| v[k].as_bool().unwrap_or(false);
    match (flag(held), flag("inconclusive")) {
        (true, _) => ("pass", "✔", "PASS"),
        (false, true) => ("undecided", "?", "INCONCLUSIVE"),
        (false, false) => ("fail", "✘", "FAIL"),
    }
}

fn check_section(c: &Value) -> String {
    let (class, _, word) = verdict_of(c, "pass");
    let name = c["check"].as_str().unwrap_or("?");
    let mut s = format!(
        "<h3 id=\"{}\">check {} — <span class=\"{class}\">{word}</span></h3>\n<ul>\n",
        super::summary::anchor(name),
        esc(name),
    );
    for cr in c["criteria"].as_array().into_iter().flatten() {
        let (class, mark, _) = verdict_of(cr, "held");
        let _ = writeln!(
            s,
            "<li class=\"{class}\">{mark} {}</li>",
            esc(cr["what"].as_str().unwrap_or(""))
        );
    }
    s.push_str("</ul>\n");
    let cpu: Contention = serde_json::from_value(c["cpu"].clone()).unwrap_or_default();
    if let Some(note) = cpu.note() {
        let _ = writeln!(s, "<p class=\"fail\">{}.</p>", esc(&note));
    } else if cpu.runs > 0 {
        let _ = writeln!(
            s,
            "<p class=\"src\">CPU: no competing process in its {} measured runs (others ≤ {} cores; max {:.2}).</p>",
            cpu.runs, cpu.threshold_cores, cpu.max_other_cores
        );
    }
    s
}

/// Known evidence files, in page order, with their headings.
const TABLES: [(&str, &str); 24] = [
    (
        "before-after.csv",
        "Before / after: unbatched vs the tuned window",
    ),
    (
        "load-latency.csv",
        "Bursty replay at rising load: where the SLO stops holding",
    ),
    ("window-sweep.csv", "Window sweep on the bursty replay"),
    (
        "batch-size-hist.csv",
        "Batch sizes of the tuned window at peak and at low load (power-of-two buckets)",
    ),
    (
        "window-contenders.csv",
        "The tuned window vs smart batching vs AIMD on the same replay",
    ),
    (
        "aimd-regret.csv",
        "AIMD vs the best static window of each regime (the oracle): medians, min/max, share of the oracle",
    ),
    (
        "fio.csv",
        "fio: append + fdatasync, same directory, same run",
    ),
    ("sink-vs-fio.csv", "Our sink vs fio at the same write size"),
    (
        "strace.csv",
        "Syscall counts: the sink's counters vs strace",
    ),
    ("sigstop.csv", "A 1 s SIGSTOP during a steady run"),
    ("overflow.csv", "Overflow: each policy under 4× overload, and the unbounded queue until it dies (every 100 ms)"),
    ("bomb.csv", "Decompression bombs: capped streaming decoder vs uncapped"),
    ("nagle.csv", "Nagle + delayed ACK on a request/response path (loopback)"),
    ("compression.csv", "Compression ratio and CPU per item by batch size (log-like records)"),
    ("compression-runs.csv", "Compressed blocks through the pipeline vs the disk's raw bandwidth"),
    ("poison-lag.csv", "Poison records: consumer lag, split-and-retry vs abort-whole-batch (every 100 ms)"),
    ("redrive.csv", "DLQ re-drive after the schema fix: counts by stage (ids reconciled in the check)"),
    ("ingest.csv", "Ingest of a generated NDJSON file vs batched saturation"),
    (
        "peers-vs.csv",
        "PostgreSQL group commit (pgbench, one INSERT per transaction) vs our pipeline at the same p99 (ours: the highest rate of our open-loop sweep meeting that p99, a lower bound)",
    ),
    (
        "peers-pg.csv",
        "PostgreSQL: clients × commit_delay (tps, latency from per-transaction logs, CPU per transaction)",
    ),
    (
        "peers-sqlite.csv",
        "SQLite WAL, synchronous=FULL, rows per transaction = our batch sizes, vs our pipeline",
    ),
    (
        "peers-ours.csv",
        "Our pipeline in the peers run: open-loop rates, default and smart window",
    ),
    ("icount.csv", "Instruction counts (Callgrind) vs the committed budgets"),
    ("alloc.csv", "Allocations on the steady-state path (NullSink), two run lengths"),
];

/// Write `RUN_DIR/index.html` from the files in `run_dir`; returns its path.
pub fn render_run(run_dir: &Path) -> Result<PathBuf, String> {
    let mut body = String::new();
    // The run folder's own name, also when it is reached through the `reports/latest` link.
    let real = std::fs::canonicalize(run_dir).unwrap_or_else(|_| run_dir.to_path_buf());
    let title = real.file_name().and_then(|s| s.to_str()).unwrap_or("run");
    let checks_json = read_json(&run_dir.join("checks.json")).ok();
    let checks = checks_json
        .as_ref()
        .and_then(|v| v["checks"].as_array())
        .map(Vec::as_slice);
    // First screen: every claim and its verdict; provenance after it.
    if let Some(checks) = checks {
        body.push_str(&super::summary::summary_section(checks));
    }
    match read_json(&run_dir.join("provenance.json")).ok() {
        Some(p) => body.push_str(&provenance_section(&p)),
        None => body.push_str("<p class=\"fail\">No provenance.json in this run folder: figures below have no stated origin.</p>\n"),
    }
    // The one-paragraph write-up, generated from this run's figures by ci/results.py.
    if let Ok(w) = std::fs::read_to_string(run_dir.join("writeup.txt")) {
        let _ = write!(
            body,
            "<h2>Write-up</h2>\n<p>{}</p>\n<p class=\"src\">from <code>writeup.txt</code> (ci/results.py)</p>\n",
            esc(w.trim())
        );
    }
    if let Some(checks) = checks {
        body.push_str("<h2>Checks</h2>\n");
        for c in checks {
            body.push_str(&check_section(c));
        }
    }
    let charts = charts_for(run_dir, checks.unwrap_or_default());
    for (file, heading) in TABLES {
        if let Ok(text) = std::fs::read_to_string(run_dir.join(file)) {
            let _ = write!(
                body,
                "<h2>{}</h2>\n<p class=\"src\">from <code>{file}</code></p>\n",
                esc(heading)
            );
            body.push_str(&charts_of(&charts, file));
            body.push_str(&csv_table(&text));
        }
    }
    if run_dir.join("criterion").is_dir() {
        body.push_str("<h2>Micro benchmarks</h2>\n<p><a href=\"criterion/report/index.html\">criterion report</a></p>\n");
    }
    if let Ok(text) = std::fs::read_to_string(run_dir.join("micro.csv")) {
        body.push_str("<h2>Micro benchmarks (criterion, mean per iteration)</h2>\n");
        body.push_str(&csv_table(&text));
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ingest-lab run {t}</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}}\n\
         table{{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}}\n\
         th,td{{border:1px solid #ccc;padding:0.25em 0.5em;text-align:right}}\nth{{background:#f3f3f3}}\n\
         .prov th,.prov td{{text-align:left}}\n.pass{{color:#176117}}\n.fail{{color:#a01515}}\n.undecided{{color:#8a5a00}}\n.src{{color:#666;font-size:0.8em}}\n.chart{{margin:0.5em 0}}\n.chart svg{{max-width:100%;height:auto}}\n\
         .summary th,.summary td.claim{{text-align:left}}\n\
         </style></head><body>\n<h1>ingest-lab run {t}</h1>\n{body}</body></html>\n",
        t = esc(title)
    );
    let out = run_dir.join("index.html");
    std::fs::write(&out, html).map_err(|e| format!("write {}: {e}", out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_tables_and_verdicts_from_the_folder_only() {
        let d = crate::testutil::folder_with(&[
            ("before-after.csv", "case,items_per_s\nunbatched,5000\n"),
            (
                "checks.json",
                r#"{"checks":[{"check":"window","pass":false,"criteria":[{"what":"p99 <b> SLO","held":false}]}]}"#,
            ),
        ]);
        let p = render_run(d.path()).unwrap();
        let html = std::fs::read_to_string(p).unwrap();
        assert!(html.contains("<td>5000</td>"));
        assert!(html.contains("FAIL") && html.contains("p99 &lt;b&gt; SLO"));
        assert!(
            html.contains("No provenance.json"),
            "missing provenance must be said"
        );
    }
}
