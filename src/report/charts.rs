//! SVG charts for the report, drawn with plotters (SVG backend only: no system fonts, no JavaScript)
//! from the run folder's CSV evidence — the same files the tables show, so a chart can only show what
//! the run measured. Each chart is placed above the table it is drawn from.
//!
//! Log axes are drawn by plotting log10 of the values on a linear axis and labelling ticks with the
//! value (one code path for every axis kind); points ≤ 0 cannot be on a log axis and are left out.

use plotters::prelude::*;

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
    /// Histograms: each point is a bin (its upper bound, its count), drawn as a bar from the bin
    /// below's upper bound (half its own for the first); several series overlap, translucent.
    Histogram(Vec<Series>),
}

/// A reference value drawn across the chart as a dashed line with its name: an SLO, fio's limit, a
/// simulated lower bound — what a figure is to be read against.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Label.
    pub name: String,
    /// Value on the value axis (y of line charts and histograms, the bars' length of bar charts).
    pub value: f64,
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
    /// Reference lines.
    pub refs: Vec<Reference>,
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
            Plot::Lines(series) | Plot::Histogram(series) => {
                let histogram = matches!(c.plot, Plot::Histogram(_));
                let refs: Vec<(String, f64)> = c
                    .refs
                    .iter()
                    .filter_map(|r| Some((r.name.clone(), axis(r.value, c.log_y)?)))
                    .collect();
                let pts: Vec<Vec<(f64, f64)>> = series
                    .iter()
                    .map(|s| {
                        s.points
                            .iter()
                            .filter_map(|&(x, y)| Some((axis(x, c.log_x)?, axis(y, c.log_y)?)))
                            .collect()
                    })
                    .collect();
                // A histogram's first bar starts half a bin (on its axis) below its upper bound.
                let lower = |p: &[(f64, f64)], k: usize| -> f64 {
                    if k > 0 {
                        p[k - 1].0
                    } else if c.log_x {
                        p[0].0 - 2f64.log10()
                    } else {
                        p[0].0 / 2.0
                    }
                };
                let xs = pts.iter().flat_map(|p| {
                    let firsts = if histogram && !p.is_empty() {
                        Some(lower(p, 0))
                    } else {
                        None
                    };
                    p.iter().map(|q| q.0).chain(firsts)
                });
                let (x0, x1) = range(xs, false).ok_or("no points to draw")?;
                let ys = pts
                    .iter()
                    .flatten()
                    .map(|p| p.1)
                    .chain(refs.iter().map(|r| r.1));
                let (mut y0, y1) = range(ys, !c.log_y || histogram).ok_or("no points to draw")?;
                if histogram && c.log_y {
                    // Log bars grow from the decade below the smallest count.
                    y0 = y0.floor().min(0.0);
                }
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
                    if histogram {
                        ch.draw_series((0..p.len()).map(|k| {
                            Rectangle::new(
                                [(lower(p, k), y0), (p[k].0, p[k].1)],
                                color.mix(0.45).filled(),
                            )
                        }))
                        .map_err(err)?;
                    }
                    let dot = if c.join {
                        2
                    } else if histogram {
                        0
                    } else {
                        4
                    };
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
                for (name, v) in &refs {
                    ch.draw_series(DashedLineSeries::new(
                        vec![(x0, *v), (x1, *v)],
                        6,
                        4,
                        BLACK.stroke_width(1),
                    ))
                    .map_err(err)?;
                    ch.draw_series(std::iter::once(Text::new(
                        name.clone(),
                        (x0, *v),
                        ("sans-serif", 12).into_font(),
                    )))
                    .map_err(err)?;
                }
            }
            Plot::Bars(bars) => {
                // Horizontal bars: category names read left of their bar, however many there are.
                let vals: Vec<(String, f64)> = bars
                    .iter()
                    .filter_map(|(n, v)| Some((n.clone(), axis(*v, c.log_y)?)))
                    .collect();
                let refs: Vec<(String, f64)> = c
                    .refs
                    .iter()
                    .filter_map(|r| Some((r.name.clone(), axis(r.value, c.log_y)?)))
                    .collect();
                let (mut v0, v1) = range(
                    vals.iter().map(|b| b.1).chain(refs.iter().map(|r| r.1)),
                    !c.log_y,
                )
                .ok_or("no bars to draw")?;
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
                for (name, v) in &refs {
                    ch.draw_series(DashedLineSeries::new(
                        vec![(*v, -0.5), (*v, n - 0.5)],
                        6,
                        4,
                        BLACK.stroke_width(1),
                    ))
                    .map_err(err)?;
                    ch.draw_series(std::iter::once(Text::new(
                        name.clone(),
                        (*v, n - 0.5),
                        ("sans-serif", 12).into_font(),
                    )))
                    .map_err(err)?;
                }
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            refs: vec![Reference {
                name: "SLO".into(),
                value: 1e4,
            }],
        };
        let svg = render_svg(&c).unwrap();
        assert!(svg.contains("\nSLO\n"), "the reference line is labelled");
        assert!(svg.contains("unbatched") && svg.contains("batched"));
        assert!(!svg.contains(">zero<"), "a 0 has no place on a log axis");
        assert_eq!(tick(6.0f64.log10() + 3.0, true), "6k");
    }

    /// A histogram is drawn as bars (rectangles), not as points, and its reference line is there.
    #[test]
    fn a_histogram_is_bars_from_bin_to_bin_with_its_reference_line() {
        let c = Chart {
            source: "h.csv",
            title: "h".into(),
            x_label: "items (≤)".into(),
            y_label: "batches".into(),
            log_x: true,
            log_y: true,
            join: false,
            plot: Plot::Histogram(vec![Series {
                name: "peak".into(),
                points: vec![(1.0, 3.0), (2.0, 10.0), (4.0, 100.0), (8.0, 40.0)],
            }]),
            refs: vec![Reference {
                name: "limit".into(),
                value: 50.0,
            }],
        };
        let svg = render_svg(&c).unwrap();
        assert!(
            svg.matches("<rect").count() > 4,
            "four bins and the background: {svg}"
        );
        assert!(svg.contains("\nlimit\n"), "the reference line is labelled");
    }
}
