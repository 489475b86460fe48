//! The batcher makes a batch's dead letters durable *before* the block that commits their positions.
//! A crash (here: the block's fdatasync fails) between the two left the dead letter behind with no
//! committed position. Before the fix, a `dlq redrive` then committed that entry, and re-running
//! ingest — with `--schema v2`, or after the redrive — committed the line once more: the record was in
//! the log twice. Now a start-up cuts such unacknowledged dead letters (their lines are read again),
//! so every line ends up committed exactly once or dead-lettered exactly once.

mod common;

use std::path::Path;

use ingest_lab::{
    ingest::ingest, ingest::ingest_into, ingest::scan, ingest::IngestConfig, ingest::Schema,
    redrive::redrive, redrive::RedriveConfig, sink::Fault, sink::FaultOp, sink::FileSink,
};

const LINES: u64 = 10;
const RFC3339_LINE: u64 = 5;

fn input(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for i in 1..=LINES {
        if i == RFC3339_LINE {
            text.push_str(&format!(
                "{{\"ts\":\"2026-11-01T00:00:0{i}Z\",\"msg\":\"m{i}\"}}\n"
            ));
        } else {
            text.push_str(&format!("{{\"ts\":{i},\"msg\":\"m{i}\"}}\n"));
        }
    }
    let p = dir.join("in.ndjson");
    std::fs::write(&p, text).unwrap();
    p
}

fn committed(sink: &Path) -> Vec<String> {
    let mut v = Vec::new();
    scan(sink, false, &mut |r| {
        v.push(String::from_utf8(r.to_vec()).unwrap())
    })
    .unwrap();
    v.sort();
    v
}

fn crash_after_the_dead_letters_were_synced(cfg: &IngestConfig) {
    let mut sink = FileSink::open(&cfg.run.sink).unwrap();
    sink.inject_fault(Fault {
        op: FaultOp::Fdatasync,
        nth: 1,
        errno: libc::EIO,
    });
    ingest_into(cfg, sink).unwrap_err();
    let pending = cfg.run.dlq_dir().join("dead-letter.jsonl");
    let entries = std::fs::read_to_string(&pending).unwrap();
    assert_eq!(
        entries.lines().count(),
        1,
        "the dead letter was durable: {entries}"
    );
}

fn want_each_line_once(sink: &Path) {
    let mut want: Vec<String> = std::fs::read_to_string(sink.parent().unwrap().join("in.ndjson"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    want.sort();
    assert_eq!(committed(sink), want, "every line exactly once");
}

#[test]
fn a_schema_change_between_crash_and_resume_commits_the_line_once_and_keeps_no_dead_letter() {
    let dir = common::tempdir();
    let mut cfg = IngestConfig::new(dir.path().join("sink"), vec![input(dir.path())]);
    crash_after_the_dead_letters_were_synced(&cfg);
    cfg.schema = Schema::V2;
    let r = ingest(&cfg).unwrap();
    assert_eq!((r.committed, r.dead_lettered), (LINES, 0));
    want_each_line_once(&cfg.run.sink.dir);
    // Nothing is left for a re-drive to commit a second time.
    let rr = redrive(&RedriveConfig::new(cfg.run.clone())).unwrap();
    assert_eq!(rr.redriven, 0);
    want_each_line_once(&cfg.run.sink.dir);
}

#[test]
fn a_redrive_between_crash_and_resume_does_not_commit_an_unacknowledged_dead_letter() {
    let dir = common::tempdir();
    let cfg = IngestConfig::new(dir.path().join("sink"), vec![input(dir.path())]);
    crash_after_the_dead_letters_were_synced(&cfg);
    let rr = redrive(&RedriveConfig::new(cfg.run.clone())).unwrap();
    assert_eq!(
        rr.redriven, 0,
        "the entry was never acknowledged: its line is read again"
    );
    let r = ingest(&cfg).unwrap();
    assert_eq!((r.committed, r.dead_lettered), (LINES - 1, 1));
    let rr = redrive(&RedriveConfig::new(cfg.run.clone())).unwrap();
    assert_eq!(rr.redriven, 1);
    want_each_line_once(&cfg.run.sink.dir);
}

#[test]
fn a_new_redrive_generation_never_reuses_the_number_of_a_removed_drained_one() {
    // Before: generation numbers restarted at 1 once drained files were removed, and the new
    // generation's first entries were skipped as "resumed" under the old one's committed position.
    let dir = common::tempdir();
    let cfg = IngestConfig::new(dir.path().join("sink"), vec![input(dir.path())]);
    ingest(&cfg).unwrap();
    assert_eq!(
        redrive(&RedriveConfig::new(cfg.run.clone()))
            .unwrap()
            .redriven,
        1
    );
    for f in std::fs::read_dir(cfg.run.dlq_dir()).unwrap() {
        let p = f.unwrap().path();
        if p.to_string_lossy().ends_with(".drained.jsonl") {
            std::fs::remove_file(p).unwrap();
        }
    }
    // New dead letters from a second input.
    let second = dir.path().join("second.ndjson");
    std::fs::write(
        &second,
        "{\"ts\":\"2026-11-02T00:00:00Z\",\"msg\":\"late\"}\n",
    )
    .unwrap();
    let cfg2 = IngestConfig::new(dir.path().join("sink"), vec![second]);
    assert_eq!(ingest(&cfg2).unwrap().dead_lettered, 1);
    let rr = redrive(&RedriveConfig::new(cfg.run.clone())).unwrap();
    assert_eq!((rr.redriven, rr.resumed), (1, 0), "{rr:?}");
}
