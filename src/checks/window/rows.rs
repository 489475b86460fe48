//! The rows of the window check's CSV tables, each cell rounded as the table always showed it. The
//! report charts `window-sweep.csv` and `batch-size-hist.csv` by column name, and `ci/results.py`
//! copies `window-contenders.csv` whole into the results, so the names and the order of the fields
//! are the tables' headers.

use serde::Serialize;

use super::Row;
use crate::checks::common::{rounded, Whole};

/// One window of the sweep, as a row of `window-sweep.csv`.
#[derive(Debug, Serialize)]
pub(super) struct SweepRow {
    mode: &'static str,
    max_items: usize,
    max_bytes: usize,
    /// A static window's linger in ms; `none` (smart batching) or `adaptive` (AIMD) otherwise.
    linger_ms: String,
    bursty_rate: Whole,
    bursty_p50_us: Whole,
    bursty_p99_us: Whole,
    bursty_max_us: Whole,
    bursty_items_per_s: Whole,
    bursty_fdatasyncs_per_item: f64,
    bursty_mean_batch: f64,
    capacity_items_per_s: Whole,
    /// Capacity over the bursty replay's rate.
    headroom: f64,
    slo_met: bool,
    peak_mean_batch: Whole,
    /// The share of the saturation run's flushes that its size bounds (items or bytes) ended.
    peak_size_flush_share: f64,
    cpu_process_cores: f64,
    cpu_other_cores: f64,
}

impl SweepRow {
    /// `r` measured on the bursty replay at `rate` items/s against the SLO `slo_us`.
    pub(super) fn of(r: &Row, rate: f64, slo_us: f64) -> SweepRow {
        let sat = &r.sat;
        let size_flushes = (sat.flush_reasons.items + sat.flush_reasons.bytes) as f64;
        SweepRow {
            mode: r.mode.as_str(),
            max_items: r.window.max_items,
            max_bytes: r.window.max_bytes,
            linger_ms: r.linger_label(),
            bursty_rate: Whole(rate),
            bursty_p50_us: Whole(r.bursty.latency_us.p50),
            bursty_p99_us: Whole(r.bursty.latency_us.p99),
            bursty_max_us: Whole(r.bursty.latency_us.max),
            bursty_items_per_s: Whole(r.bursty.throughput_items_per_s),
            bursty_fdatasyncs_per_item: rounded(r.bursty.fdatasyncs_per_item, 6),
            bursty_mean_batch: rounded(r.bursty.batch_size.mean, 1),
            capacity_items_per_s: Whole(sat.throughput_items_per_s),
            headroom: rounded(sat.throughput_items_per_s / rate, 2),
            slo_met: r.bursty.latency_us.p99 <= slo_us,
            peak_mean_batch: Whole(sat.batch_size.mean),
            peak_size_flush_share: rounded(size_flushes / sat.batches.max(1) as f64, 2),
            cpu_process_cores: rounded(r.bursty.cpu.process_cores, 2),
            cpu_other_cores: rounded(r.bursty.cpu.other_cores, 2),
        }
    }
}

/// One contender of the comparison, as a row of `window-contenders.csv`.
#[derive(Debug, Serialize)]
pub(super) struct ContenderRow {
    contender: &'static str,
    max_items: usize,
    linger_ms: String,
    bursty_p99_us: Whole,
    bursty_fdatasyncs_per_item: f64,
    capacity_items_per_s: Whole,
    slo_met: bool,
}

impl ContenderRow {
    /// `r` as the contender `name`, against the SLO `slo_us`.
    pub(super) fn of(name: &'static str, r: &Row, slo_us: f64) -> ContenderRow {
        ContenderRow {
            contender: name,
            max_items: r.window.max_items,
            linger_ms: r.linger_label(),
            bursty_p99_us: Whole(r.bursty.latency_us.p99),
            bursty_fdatasyncs_per_item: rounded(r.bursty.fdatasyncs_per_item, 6),
            capacity_items_per_s: Whole(r.sat.throughput_items_per_s),
            slo_met: r.bursty.latency_us.p99 <= slo_us,
        }
    }
}

/// One bucket of a run's batch sizes, as a row of `batch-size-hist.csv`.
#[derive(Debug, Serialize)]
pub(super) struct HistRow {
    pub(super) load: &'static str,
    /// The bucket's upper bound, items per batch.
    pub(super) batch_items_upper: u64,
    pub(super) batches: u64,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::checks::common::write_csv_rows;
    use crate::config::{WindowConfig, WindowMode};
    use crate::report::Csv;
    use crate::summary::RunReport;

    #[test]
    fn the_report_finds_the_columns_it_charts_in_the_sweep_and_the_histogram() {
        let mut bursty = RunReport {
            throughput_items_per_s: 2_802.4,
            fdatasyncs_per_item: 0.0123456789,
            ..RunReport::default()
        };
        bursty.latency_us.p99 = 7_400.6;
        let row = Row {
            mode: WindowMode::Static,
            window: WindowConfig {
                max_items: 4096,
                max_bytes: 1 << 20,
                linger: Duration::from_micros(1_500),
            },
            bursty,
            sat: RunReport::default(),
        };
        let d = crate::testutil::tempdir();
        write_csv_rows(d.path(), "s.csv", &[SweepRow::of(&row, 2_802.0, 10_000.0)]).unwrap();
        let hist = [HistRow {
            load: "low load",
            batch_items_upper: 8,
            batches: 300,
        }];
        write_csv_rows(d.path(), "h.csv", &hist).unwrap();
        let c = Csv::read(&d.path().join("s.csv")).unwrap();
        assert_eq!(
            c.header.join(","),
            "mode,max_items,max_bytes,linger_ms,bursty_rate,bursty_p50_us,bursty_p99_us,bursty_max_us,\
             bursty_items_per_s,bursty_fdatasyncs_per_item,bursty_mean_batch,capacity_items_per_s,\
             headroom,slo_met,peak_mean_batch,peak_size_flush_share,cpu_process_cores,cpu_other_cores"
        );
        let r = &c.rows[0];
        assert_eq!(c.num(r, "linger_ms"), Some(1.5));
        assert_eq!(c.text(r, "max_items"), Some("4096"));
        assert_eq!(c.text(r, "bursty_p99_us"), Some("7401"));
        assert_eq!(c.text(r, "bursty_rate"), Some("2802"));
        assert_eq!(c.num(r, "bursty_fdatasyncs_per_item"), Some(0.012346));
        assert_eq!(c.text(r, "slo_met"), Some("true"));
        let h = Csv::read(&d.path().join("h.csv")).unwrap();
        assert_eq!(h.header, ["load", "batch_items_upper", "batches"]);
        assert_eq!(h.num(&h.rows[0], "batch_items_upper"), Some(8.0));
        assert_eq!(h.text(&h.rows[0], "load"), Some("low load"));
    }
}
