//! The rows of before-after's CSV tables, each cell rounded as the table always showed it. The
//! report charts `before-after.csv` and `load-latency.csv` by column name, and `ci/results.py` copies
//! them whole into the results, so the names and the order of the fields are the tables' headers.

use serde::Serialize;

use crate::batch::lower_bound::Simulated;
use crate::checks::common::{rounded, Whole};
use crate::summary::RunReport;

/// One run standing for its case, as a row of `before-after.csv`.
#[derive(Debug, Serialize)]
pub(super) struct CaseRow {
    case: String,
    items_per_s: Whole,
    write_syscalls_per_item: f64,
    fdatasyncs_per_item: f64,
    p50_us: Whole,
    p99_us: Whole,
    max_us: Whole,
    slo_met: bool,
    mean_batch: f64,
    cpu_process_cores: f64,
    cpu_other_cores: f64,
    behind_schedule: u64,
}

impl CaseRow {
    /// `r` as the row of `case`.
    pub(super) fn of(case: impl Into<String>, r: &RunReport) -> CaseRow {
        CaseRow {
            case: case.into(),
            items_per_s: Whole(r.throughput_items_per_s),
            write_syscalls_per_item: rounded(r.write_syscalls_per_item, 6),
            fdatasyncs_per_item: rounded(r.fdatasyncs_per_item, 6),
            p50_us: Whole(r.latency_us.p50),
            p99_us: Whole(r.latency_us.p99),
            max_us: Whole(r.latency_us.max),
            slo_met: r.slo_met,
            mean_batch: rounded(r.batch_size.mean, 1),
            cpu_process_cores: rounded(r.cpu.process_cores, 2),
            cpu_other_cores: rounded(r.cpu.other_cores, 2),
            behind_schedule: r.behind_schedule,
        }
    }
}

/// One step of the load ladder, as a row of `load-latency.csv`.
#[derive(Debug, Serialize)]
pub(super) struct LadderRow {
    fraction_of_peak: f64,
    /// The offered rate, items/s.
    rate: Whole,
    items_per_s: Whole,
    p50_us: Whole,
    p90_us: Whole,
    p99_us: Whole,
    max_us: Whole,
    mean_batch: f64,
    fdatasync_p99_us: Whole,
    slo_met: bool,
    cpu_process_cores: f64,
    cpu_other_cores: f64,
    behind_schedule: u64,
}

impl LadderRow {
    /// The run `r` at `fraction` of the batched peak, offered `rate` items/s.
    pub(super) fn of(fraction: f64, rate: f64, r: &RunReport) -> LadderRow {
        LadderRow {
            fraction_of_peak: fraction,
            rate: Whole(rate),
            items_per_s: Whole(r.throughput_items_per_s),
            p50_us: Whole(r.latency_us.p50),
            p90_us: Whole(r.latency_us.p90),
            p99_us: Whole(r.latency_us.p99),
            max_us: Whole(r.latency_us.max),
            mean_batch: rounded(r.batch_size.mean, 1),
            fdatasync_p99_us: Whole(r.fdatasync_us.p99),
            slo_met: r.slo_met,
            cpu_process_cores: rounded(r.cpu.process_cores, 2),
            cpu_other_cores: rounded(r.cpu.other_cores, 2),
            behind_schedule: r.behind_schedule,
        }
    }
}

/// One simulated window of the lower bound's grid, as a row of `lower-bound.csv`.
#[derive(Debug, Serialize)]
pub(super) struct BoundRow {
    max_items: usize,
    linger_us: u64,
    p99_us: Whole,
    batches: u64,
}

impl BoundRow {
    pub(super) fn of(s: &Simulated) -> BoundRow {
        BoundRow {
            max_items: s.policy.max_items,
            linger_us: s.policy.linger_ns / 1_000,
            p99_us: Whole(s.p99_ns as f64 / 1e3),
            batches: s.batches,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::common::write_csv_rows;
    use crate::report::Csv;

    #[test]
    fn the_report_finds_the_columns_it_charts_in_before_after_and_load_latency() {
        let mut r = RunReport {
            throughput_items_per_s: 5604.6,
            write_syscalls_per_item: 1.0 / 3.0,
            slo_met: true,
            behind_schedule: 12,
            ..RunReport::default()
        };
        r.latency_us.p50 = 400.2;
        r.latency_us.p90 = 900.0;
        r.latency_us.p99 = 12_345.6;
        r.latency_us.max = 20_000.0;
        let d = crate::testutil::tempdir();
        let case = "batched bursty @2000/s (worst p99 run)";
        write_csv_rows(d.path(), "before-after.csv", &[CaseRow::of(case, &r)]).unwrap();
        write_csv_rows(
            d.path(),
            "load-latency.csv",
            &[LadderRow::of(0.1, 560.0, &r)],
        )
        .unwrap();
        let c = Csv::read(&d.path().join("before-after.csv")).unwrap();
        assert_eq!(
            c.header.join(","),
            "case,items_per_s,write_syscalls_per_item,fdatasyncs_per_item,p50_us,p99_us,max_us,\
             slo_met,mean_batch,cpu_process_cores,cpu_other_cores,behind_schedule"
        );
        // Every cell as written: whole numbers where a person reads them, ratios to six places.
        assert_eq!(
            c.rows[0],
            [
                case, "5605", "0.333333", "0.0", "400", "12346", "20000", "true", "0.0", "0.0",
                "0.0", "12"
            ]
        );
        assert_eq!(c.num(&c.rows[0], "p99_us"), Some(12_346.0));
        let l = Csv::read(&d.path().join("load-latency.csv")).unwrap();
        assert_eq!(
            l.header.join(","),
            "fraction_of_peak,rate,items_per_s,p50_us,p90_us,p99_us,max_us,mean_batch,\
             fdatasync_p99_us,slo_met,cpu_process_cores,cpu_other_cores,behind_schedule"
        );
        let row = &l.rows[0];
        assert_eq!(l.num(row, "fraction_of_peak"), Some(0.1));
        assert_eq!(l.text(row, "rate"), Some("560"));
        for (col, v) in [
            ("p50_us", 400.0),
            ("p90_us", 900.0),
            ("p99_us", 12_346.0),
            ("max_us", 20_000.0),
        ] {
            assert_eq!(l.num(row, col), Some(v), "{col}");
        }
    }
}
