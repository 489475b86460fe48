//! SVG charts for the report, drawn with plotters (SVG backend only: no system fonts, no JavaScript)
//! from the run folder's CSV evidence — the same files the tables show, so a chart can only show what
//! the run measured. Each chart is placed above the table it is drawn from.
//!
//! Log axes are drawn by plotting log10 of the values on a linear axis and labelling ticks with the
//! value (one code path for every axis kind); points ≤ 0 cannot be on a log axis and are left out.

use std::path::Path;

use plotters::prelude::*;

use super::csv::Csv;

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) in data units.
    pub points: Vec<(f64, f64)>,
}

/// What is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Plot {
    /// Lines with point markers.
    Lines(Vec<Series>),
    /// One bar per category.
    Bars(Vec<(String, f64)>),
}

/// A chart and where its data came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The CSV it is drawn from (the table it sits above).
    pub source: &'static str,
    /// Title.
    pub title: String,
    /// Axis descriptions.
    pub x_label: String,
    /// Axis descriptions.
    pub y_label: String,
    /// Log-scaled axes.
    pub log_x: bool,
    /// Log-scaled axes.
    pub log_y: bool,
    /// Join a line series' points (false: markers only — histograms and scatters, where a line
    /// between two sparse points would show values nobody measured).
    pub join: bool,
    /// The data.
    pub plot: Plot,
}

const SIZE: (u32, u32) = (1000, 360);
/// Width of the legend column of line charts.
const LEGEND_WIDTH: u32 = 210;

fn axis(v: f64, log: bool) -> Option<f64> {
    if log {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

/// A tick label: the data value (un-logged), short.
fn tick(v: f64, log: bool) -> String {
    let v = if log { 10f64.powf(v) } else { v };
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let a = v.abs();
    if a >= 1e6 {
        trim(format!("{:.2}", v / 1e6)) + "M"
    } else if a >= 1e3 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 0.1 {
        trim(format!("{v:.2}"))
    } else {
        format!("{v:.1e}")
    }
}

/// Padded range over values (a flat series still gets a visible axis).
fn range(vals: impl Iterator<Item = f64>, from_zero: bool) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return None;
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    Some((
        if from_zero && lo == 0.0 {
            0.0
        } else {
            lo - pad
        },
        hi + pad,
    ))
}

/// The chart as an SVG document, or why it cannot be drawn.
pub fn render_svg(c: &Chart) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let err = |e: DrawingAreaErrorKind<_>| e.to_string();
        match &c.plot {
            Plot::Lines(series) => {
                let pts: Vec<Vec<(f64, f64)>> = series
                    .iter()
                    .map(|s| {
                        s.points
                            .iter()
                            .filter_map(|&(x, y)| Some((axis(x, c.log_x)?, axis(y, c.log_y)?)))
                            .collect()
                    })
                    .collect();
                let (x0, x1) =
                    range(pts.iter().flatten().map(|p| p.0), false).ok_or("no points to draw")?;
                let (y0, y1) = range(pts.iter().flatten().map(|p| p.1), !c.log_y)
                    .ok_or("no points to draw")?;
                // The legend gets a column of its own on the right, so it never hides a point.
                let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
                let mut ch = ChartBuilder::on(&plot)
                    .caption(&c.title, ("sans-serif", 17))
                    .margin(12)
                    .x_label_area_size(40)
                    .y_label_area_size(64)
                    .build_cartesian_2d(x0..x1, y0..y1)
                    .map_err(err)?;
                let (lx, ly) = (c.log_x, c.log_y);
                ch.configure_mesh()
                    .x_desc(c.x_label.as_str())
                    .y_desc(c.y_label.as_str())
                    .x_label_formatter(&|v| tick(*v, lx))
                    .y_label_formatter(&|v| tick(*v, ly))
                    .light_line_style(TRANSPARENT)
                    .draw()
                    .map_err(err)?;
                for (i, (s, p)) in series.iter().zip(&pts).enumerate() {
                    let color = Palette99::pick(i).to_rgba();
                    let dot = if c.join { 2 } else { 4 };
                    let line: Vec<(f64, f64)> = if c.join { p.clone() } else { Vec::new() };
                    ch.draw_series(LineSeries::new(line, color.stroke_width(2)))
                        .map_err(err)?;
                    let y = 48 + 20 * i as i32;
                    legend
                        .draw(&PathElement::new(
                            vec![(4, y), (22, y)],
                            color.stroke_width(3),
                        ))
                        .map_err(err)?;
                    legend
                        .draw(&Text::new(
                            s.name.clone(),
                            (28, y - 7),
                            ("sans-serif", 12).into_font(),
                        ))
                        .map_err(err)?;
                    ch.draw_series(p.iter().map(|&q| Circle::new(q, dot, color.filled())))
                        .map_err(err)?;
                }
            }
            Plot::Bars(bars) => {
                // Horizontal bars: category names read left of their bar, however many there are.
                let vals: Vec<(String, f64)> = bars
                    .iter()
                    .filter_map(|(n, v)| Some((n.clone(), axis(*v, c.log_y)?)))
                    .collect();
                let (mut v0, v1) =
                    range(vals.iter().map(|b| b.1), !c.log_y).ok_or("no bars to draw")?;
                if c.log_y {
                    // Bars start at the decade below the smallest.
                    v0 = v0.floor();
                }
                let n = vals.len() as f64;
                let names: Vec<String> = vals.iter().map(|b| b.0.clone()).collect();
                let mut ch = ChartBuilder::on(&root)
                    .caption(&c.title, ("sans-serif", 17))
                    .margin(12)
                    .x_label_area_size(40)
                    .y_label_area_size(250)
                    .build_cartesian_2d(v0..v1, -0.5..n - 0.5)
                    .map_err(err)?;
                let lv = c.log_y;
                let label = |y: &f64| {
                    let i = y.round();
                    if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                        let s = &names[names.len() - 1 - i as usize];
                        let mut t: String = s.chars().take(40).collect();
                        if s.chars().count() > 40 {
                            t.push('…');
                        }
                        t
                    } else {
                        String::new()
                    }
                };
                ch.configure_mesh()
                    .disable_y_mesh()
                    .light_line_style(TRANSPARENT)
                    .y_labels(vals.len().max(1))
                    .y_label_formatter(&label)
                    .x_desc(c.y_label.as_str())
                    .x_label_formatter(&|v| tick(*v, lv))
                    .draw()
                    .map_err(err)?;
                // First category at the top.
                ch.draw_series(vals.iter().enumerate().map(|(i, b)| {
                    let y = n - 1.0 - i as f64;
                    Rectangle::new(
                        [(v0, y - 0.35), (b.1, y + 0.35)],
                        Palette99::pick(i).to_rgba().filled(),
                    )
                }))
                .map_err(err)?;
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
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
    }
}

/// Every chart the run folder's files allow, in page order (a missing or empty file: no chart).
pub fn charts_for(run: &Path) -> Vec<Chart> {
    let read = |f: &str| Csv::read(&run.join(f));
    let mut out = Vec::new();
    if let Some(c) = read("before-after.csv") {
        out.push(bar_chart(
            "before-after.csv",
            "Throughput: unbatched vs the tuned window",
            "items/s (log)",
            true,
            bars(&c, "case", "items_per_s", 1.0),
        ));
        out.push(bar_chart(
            "before-after.csv",
            "p99 end-to-end latency",
            "p99 ms (log)",
            true,
            bars(&c, "case", "p99_us", 1e-3),
        ));
    }
    if let Some(c) = read("sink-vs-fio.csv") {
        out.push(bar_chart(
            "sink-vs-fio.csv",
            "Our sink as a fraction of fio (same directory, same run)",
            "ours / fio",
            false,
            bars(&c, "measure", "fraction_of_fio", 1.0),
        ));
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
        out.push(lines(
            "load-latency.csv",
            "Latency percentiles on the bursty replay as load rises",
            "offered load / batched peak",
            "ms (log)",
            (false, true),
            s,
        ));
    }
    if let Some(c) = read("window-sweep.csv") {
        let mut s = grouped(&c, "linger_ms", "bursty_p99_us", 1e-3, Some("max_items"));
        for x in &mut s {
            x.name = format!("max_items {}", x.name);
        }
        out.push(lines(
            "window-sweep.csv",
            "Window sweep: bursty-replay p99 by linger and size bound",
            "linger ms",
            "p99 ms (log)",
            (false, true),
            s,
        ));
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
    // Histograms and the peers scatter: markers only.
    for c in &mut out {
        if matches!(
            c.source,
            "batch-size-hist.csv" | "peers-vs.csv" | "nagle-histograms.csv"
        ) {
            c.join = false;
        }
    }
    out.retain(|c| match &c.plot {
        Plot::Lines(s) => s.iter().any(|s| !s.points.is_empty()),
        Plot::Bars(b) => !b.is_empty(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_from_a_csv_is_an_svg_with_its_title_legend_and_paths() {
        let d = crate::testutil::tempdir();
        std::fs::write(
            d.path().join("poison-lag.csv"),
            "t_s,lag_split_and_retry,lag_abort_whole_batch\n0.0,0,0\n0.1,51,1904\n0.2,40,3900\n",
        )
        .unwrap();
        let charts = charts_for(d.path());
        assert_eq!(charts.len(), 1);
        let svg = render_svg(&charts[0]).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains("Poison records: consumer lag"));
        assert!(svg.contains("abort whole batch") && svg.contains("split and retry"));
        assert!(svg.matches("<polyline").count() >= 2, "one line per series");
    }

    #[test]
    fn log_axes_leave_out_what_cannot_be_on_them_and_bars_keep_their_names() {
        let c = Chart {
            source: "x.csv",
            title: "t".into(),
            x_label: String::new(),
            y_label: "y".into(),
            log_x: false,
            log_y: true,
            join: false,
            plot: Plot::Bars(vec![
                ("unbatched".into(), 6000.0),
                ("zero".into(), 0.0),
                ("batched".into(), 5e6),
            ]),
        };
        let svg = render_svg(&c).unwrap();
        assert!(svg.contains("unbatched") && svg.contains("batched"));
        assert!(!svg.contains(">zero<"), "a 0 has no place on a log axis");
        assert_eq!(tick(6.0f64.log10() + 3.0, true), "6k");
    }

    #[test]
    fn a_folder_without_evidence_has_no_charts() {
        let d = crate::testutil::tempdir();
        assert!(charts_for(d.path()).is_empty());
    }
}
