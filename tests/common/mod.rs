//! Shared helpers for integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ingest_lab::{batch::WindowConfig, codec::BlockReader, config::RunConfig, config::StopAfter};

/// A test whose set-up this machine refuses: under CI (`CI` set) that is a failure, since CI must run
/// every test it reports as passed; elsewhere it is said on stderr and the test returns.
pub fn cannot_run_here(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "this test cannot run here, and under CI it must: {why}"
    );
    eprintln!("NOT RUN: {why}");
}

/// Run `ingest-lab` with `args`: it must exit 0; its `--json` report.
pub fn ingest_lab_json<I, S>(args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ingest-lab"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Poll `done` every 5 ms until it holds; fail after 60 s naming `what`.
pub fn wait_until(what: &str, done: impl Fn() -> bool) {
    let t0 = std::time::Instant::now();
    while !done() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "waited 60 s for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A temp dir on a real disk (under target/), not tmpfs /tmp.
pub fn tempdir() -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

/// A small, fast run: `items` items at `rate`/s into `dir` with the given window.
pub fn small_run(dir: &Path, items: u64, rate: f64, window: WindowConfig) -> RunConfig {
    let mut cfg = RunConfig::new(dir);
    cfg.window = window;
    cfg.load.rate = Some(rate);
    cfg.load.stop = StopAfter::Items(items);
    cfg.min_free_bytes = 0;
    cfg
}

/// Every record in every segment of `dir`, in order, CRC-checked (panics on a bad frame).
pub fn read_all_records(dir: &Path) -> Vec<Vec<u8>> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segs.sort();
    let mut out = Vec::new();
    for s in segs {
        let bytes = std::fs::read(&s).unwrap();
        for b in BlockReader::new(&bytes) {
            let b = b.unwrap_or_else(|e| panic!("{}: {e}", s.display()));
            let recs: Vec<_> = b.records().map(|r| r.unwrap().to_vec()).collect();
            assert_eq!(recs.len() as u32, b.records, "block header count");
            out.extend(recs);
        }
    }
    out
}
