//! The AIMD window end to end: under a light load it decays its starting linger to the floor (a linger
//! only adds latency when every item could have its own fdatasync), and every item is still committed.
//! The controller's decisions themselves are unit-tested with a manual clock in `batch/aimd.rs`.

mod common;

use std::time::Duration;

use ingest_lab::{batch::AimdConfig, batch::AimdMove, batch::WindowConfig, config::WindowMode};

/// Light for any disk this runs on: growth needs more than `grow_above_arrivals_per_commit` (0.75)
/// arrivals per commit, so at 100 items/s a mean commit of 7.5 ms. At 400 items/s, a disk slowed by a
/// concurrent build made the load heavy enough to grow on, and the test failed for the disk, not the code.
const LIGHT_RATE: f64 = 100.0;
const LIGHT_ITEMS: u64 = 100;

#[test]
fn aimd_window_gives_linger_back_when_load_is_light() {
    let dir = common::tempdir();
    let start = Duration::from_millis(4);
    let mut cfg = common::small_run(
        dir.path(),
        LIGHT_ITEMS,
        LIGHT_RATE,
        WindowConfig {
            max_items: 4096,
            max_bytes: 1 << 20,
            linger: start,
        },
    );
    let aimd = AimdConfig::default();
    cfg.window_mode = WindowMode::Aimd(aimd);
    let r = ingest_lab::pipeline::run(&cfg).unwrap();
    assert_eq!(r.unaccounted(), 0);
    assert_eq!(r.committed, LIGHT_ITEMS);
    assert_eq!(r.settings.window_mode, "aimd");
    // 1 s of load at 10 ms intervals: about a hundred decisions.
    assert!(r.aimd_trace.len() >= 5, "{:?}", r.aimd_trace);
    assert!(
        r.aimd_trace.iter().all(
            |p| !matches!(p.mv, AimdMove::Increase | AimdMove::SlowStart) && p.linger_ms <= 4.0
        ),
        "a light load never grows the linger, additively or by slow start: {:?}",
        r.aimd_trace
    );
    let last = r.aimd_trace.last().unwrap();
    assert_eq!(
        last.linger_ms,
        aimd.min_linger.as_secs_f64() * 1e3,
        "decayed to the floor: {:?}",
        r.aimd_trace
    );
    assert_eq!(
        common::read_all_records(dir.path()).len() as u64,
        LIGHT_ITEMS
    );
}
