//! A one-line progress display for long runs (`run`, `ingest`, `dlq redrive`): redrawn on stderr a few
//! times a second from the live counters, with a bar when the total is known.
//!
//! Only a person at a terminal wants it: the CLI turns it on when stderr is a terminal, `--json` is not
//! given and `CI` is not set (see [`wanted`]). It writes nothing to stdout, so `--json` output and
//! pipes stay clean, and it erases its line when the run ends, so the summary prints on a clean line.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::counters::{progress_sum, LiveCounters};

/// What the display says about the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Leading word (`run`, `ingest`, `redrive`).
    pub label: String,
    /// Items the run will offer, when known (a bar and a percentage are drawn against it).
    pub total: Option<u64>,
}

/// Redraw interval.
const EVERY: Duration = Duration::from_millis(250);
/// Bar width in characters.
const BAR: usize = 24;

/// Whether to show progress: stderr is a terminal, no `--json`, not under CI.
pub fn wanted(json: bool) -> bool {
    !json && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// One line of the display (no carriage return). `rate` is committed items/s since the start.
pub fn render_line(p: &Progress, c: &LiveCounters, elapsed: Duration, rate: f64) -> String {
    // Each word's figure is the sum of the counter table's live series shown under it: lost is
    // dropped by the overflow policy or a full DLQ, refused on a Block timeout, or lost to a sink
    // failure.
    let [committed, dead_lettered, lost, queued] =
        ["committed", "dead-lettered", "lost", "queued"].map(|w| progress_sum(w, c));
    let done = committed + dead_lettered + lost;
    let head = match p.total {
        Some(total) if total > 0 => {
            let f = (done as f64 / total as f64).clamp(0.0, 1.0);
            let filled = (f * BAR as f64).round() as usize;
            format!(
                "{} [{}{}] {:>3.0}% {done}/{total}",
                p.label,
                "#".repeat(filled),
                "-".repeat(BAR - filled),
                f * 100.0
            )
        }
        _ => format!("{} {done}", p.label),
    };
    format!(
        "{head}  committed {} ({}/s)  dead-lettered {}  lost {}  queued {}  {:.1} s",
        committed,
        si(rate),
        dead_lettered,
        lost,
        queued,
        elapsed.as_secs_f64()
    )
}

/// 1234567 → "1.23M".
fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Redraw `p` from `read()` until `stop`, then erase the line.
pub(crate) fn spawn(
    p: Progress,
    stop: Arc<AtomicBool>,
    read: impl Fn() -> LiveCounters + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("ingest-progress".into())
        .spawn(move || {
            let t0 = Instant::now();
            let mut err = std::io::stderr();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EVERY);
                let c = read();
                let el = t0.elapsed();
                let rate = c.committed as f64 / el.as_secs_f64().max(1e-9);
                // \r back to the line start, \x1b[K erase to its end.
                let _ = write!(err, "\r{}\x1b[K", render_line(&p, &c, el, rate));
                let _ = err.flush();
            }
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        })
        .expect("spawn progress thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_total_draws_a_bar_and_a_percentage() {
        let p = Progress {
            label: "redrive".into(),
            total: Some(200),
        };
        let c = LiveCounters {
            offered: 120,
            committed: 90,
            dead_lettered: 8,
            dropped: 1,
            dropped_dlq_full: 0,
            timed_out: 1,
            lost: 0,
            rejected_queue_closed: 0,
            queue_depth: 20,
        };
        let line = render_line(&p, &c, Duration::from_millis(1500), 60.0);
        assert!(
            line.starts_with("redrive [############------------]  50% 100/200"),
            "{line}"
        );
        assert!(line.contains("committed 90 (60/s)"), "{line}");
        assert!(
            line.contains("dead-lettered 8  lost 2  queued 20  1.5 s"),
            "{line}"
        );
    }

    #[test]
    fn without_a_total_it_counts() {
        let p = Progress {
            label: "ingest".into(),
            total: None,
        };
        let c = LiveCounters {
            committed: 2_500_000,
            ..LiveCounters::default()
        };
        let line = render_line(&p, &c, Duration::from_secs(1), 2_500_000.0);
        assert!(
            line.starts_with("ingest 2500000  committed 2500000 (2.50M/s)"),
            "{line}"
        );
    }
}
