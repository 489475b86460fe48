//! A run's stop and flush requests come from the control in its config, not from process-wide flags:
//! a run given a control of its own stops when that control is asked (and flushes everything it
//! accepted), and the process's control — what the signal handlers write — is left alone.

mod common;

use std::time::{Duration, Instant};

use ingest_lab::{batch::WindowConfig, config::StopAfter, control::Control};

#[test]
fn a_run_stops_when_its_own_control_is_asked_and_commits_all_it_accepted() {
    let dir = common::tempdir();
    // A window that only a flush request or the stop closes: items wait in it until then.
    let window = WindowConfig {
        max_items: 1 << 20,
        max_bytes: 16 << 20,
        linger: Duration::from_secs(60),
    };
    let mut cfg = common::small_run(dir.path(), 1, 2000.0, window);
    cfg.load.stop = StopAfter::Duration(Duration::from_secs(60));
    let control = Control::own();
    cfg.control = control.clone();
    let t0 = Instant::now();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        control.request_flush();
        std::thread::sleep(Duration::from_millis(200));
        control.request_stop();
    });
    let r = ingest_lab::pipeline::run(&cfg).unwrap();
    stopper.join().unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "stopped: {:?}",
        t0.elapsed()
    );
    assert!(r.offered > 100, "{r:?}");
    assert_eq!(r.committed, r.offered, "everything accepted is committed");
    assert_eq!(r.unaccounted(), 0);
    assert!(
        r.flush_reasons.manual >= 1,
        "the flush came through the run's control: {:?}",
        r.flush_reasons
    );
    assert!(
        !Control::process().stop_requested(),
        "the process's control is untouched"
    );
}
