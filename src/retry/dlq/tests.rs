//! Tests of `retry/dlq.rs`.

use super::*;

/// A queue in `dir` bounded to 2,000 bytes under `policy`.
fn bounded(dir: &std::path::Path, policy: DlqPolicy) -> DeadLetterQueue {
    DeadLetterQueue::open(dir)
        .unwrap()
        .with_limit(Some(DlqLimit {
            max_bytes: 2000,
            policy,
        }))
}

/// Append `parts` to the file at `path` behind the queue's back (what a crash can leave there).
fn append_raw(path: &std::path::Path, parts: &[&[u8]]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for p in parts {
        f.write_all(p).unwrap();
    }
}
use crate::retry::cut::cut_unacknowledged;

/// A dead-letter queue in `dir` holding `entry(i)` durably (pushed and synced), then closed.
fn synced_with(dir: &std::path::Path, i: u64) {
    let mut q = DeadLetterQueue::open(dir).unwrap().track_seq(0);
    q.push(&entry(i));
    q.sync().unwrap();
}

fn entry(i: u64) -> DeadLetter {
    DeadLetter {
        id: i,
        reason: "bad".into(),
        source: format!("f:{i}"),
        attempts: 1,
        ..DeadLetter::default()
    }
    .with_payload(
        format!("record {i:04} xxxxxxxxxxxxxxxxxxxxxxxx").as_bytes(),
        usize::MAX,
    )
}

#[test]
fn a_failed_dlq_write_poisons_it_and_nothing_more_is_written() {
    // Before: the DLQ kept the bytes that failed and wrote them again at the next sync, after
    // later entries had been added: duplicated or glued entries.
    use crate::storage::sim::{FaultKind, SimFault, SimStorage, SimVfs};
    let fs = SimStorage::new();
    let st = Storage::new(std::sync::Arc::new(SimVfs(fs.clone())));
    let dir = Path::new("/dlq");
    let mut q = DeadLetterQueue::open_in(&st, dir).unwrap();
    q.push(&entry(1));
    q.sync().unwrap();
    for kind in [FaultKind::Eio, FaultKind::Enospc] {
        q.poisoned = None;
        fs.set_fault(Some(SimFault { at_op: 1, kind }));
        q.push(&entry(2));
        let first = q.sync().unwrap_err().to_string();
        q.push(&entry(3));
        let again = q.sync().unwrap_err().to_string();
        assert!(
            again.contains("fail-stop") && again.contains(&first),
            "{again}"
        );
    }
    // An fdatasync that fails after its write: poisoned too.
    q.poisoned = None;
    q.buf.clear();
    fs.set_fault(Some(SimFault {
        at_op: 2,
        kind: FaultKind::Eio,
    }));
    q.push(&entry(4));
    assert!(q.sync().unwrap_err().to_string().contains("fdatasync"));
    assert!(q.sync().is_err());
    let all = st.read_all(&dir.join(PENDING_FILE)).unwrap();
    let ids: Vec<u64> = String::from_utf8(all)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<DeadLetter>(l).unwrap().id)
        .collect();
    // 1 was synced; the failed writes left nothing; 4's write went through but its sync failed.
    assert_eq!(ids, vec![1, 4]);
}

#[test]
fn unacknowledged_dead_letters_at_the_tail_are_cut() {
    let dir = crate::testutil::tempdir();
    let mut q = DeadLetterQueue::open(dir.path()).unwrap().track_seq(0);
    for i in [1, 2, 7, 8] {
        q.push(&entry(i));
    }
    assert_eq!(q.last_seq(), 4);
    q.sync().unwrap();
    drop(q);
    // A torn, zero-filled tail after them, as a crash can leave.
    let path = dir.path().join(PENDING_FILE);
    append_raw(&path, &[&[0u8; 100], b"urce\":\"x\"}\n"]);
    // The committed block acknowledged entries up to sequence 2.
    assert_eq!(
        cut_unacknowledged(&Storage::os(), dir.path(), 2).unwrap(),
        3
    );
    let left = DeadLetterQueue::read_all(&path).unwrap();
    assert_eq!(left.iter().map(|d| d.id).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(
        cut_unacknowledged(&Storage::os(), dir.path(), 2).unwrap(),
        0
    );
}

#[test]
fn a_full_drop_newer_dlq_refuses_and_stays_within_its_bound() {
    let d = crate::testutil::tempdir();
    let mut q = bounded(d.path(), DlqPolicy::DropNewer);
    let results: Vec<DlqPush> = (0..100).map(|i| q.push(&entry(i))).collect();
    q.sync().unwrap();
    let written = results.iter().filter(|r| **r == DlqPush::Written).count();
    assert!(written > 5 && written < 100, "{written}");
    assert!(results[written..].iter().all(|r| *r == DlqPush::Refused));
    let back = DeadLetterQueue::read_all(q.path()).unwrap();
    assert_eq!(back.len(), written);
    assert_eq!(back[0].id, 0, "the oldest are kept");
    assert!(std::fs::metadata(q.path()).unwrap().len() <= 2000);
}

#[test]
fn a_full_drop_older_dlq_evicts_the_oldest_and_counts_them() {
    let d = crate::testutil::tempdir();
    let mut q = bounded(d.path(), DlqPolicy::DropOlder);
    for i in 0..100 {
        assert_eq!(q.push(&entry(i)), DlqPush::Written);
        q.sync().unwrap();
    }
    let back = DeadLetterQueue::read_all(q.path()).unwrap();
    assert_eq!(back.last().unwrap().id, 99, "the newest are kept");
    assert_eq!(
        back.len() as u64 + q.evicted(),
        100,
        "every entry kept or counted"
    );
    assert!(std::fs::metadata(q.path()).unwrap().len() <= 2000);
    // Still appendable after compaction.
    q.push(&entry(100));
    q.sync().unwrap();
    assert_eq!(
        DeadLetterQueue::read_all(q.path())
            .unwrap()
            .last()
            .unwrap()
            .id,
        100
    );
}

#[test]
fn a_drop_older_compaction_never_evicts_the_batch_being_synced() {
    // Review finding: one dead letter larger than 3/4 of the limit evicted itself in the
    // compaction of its own sync, and was still counted dead-lettered.
    let d = crate::testutil::tempdir();
    let mut q = bounded(d.path(), DlqPolicy::DropOlder);
    for i in 0..5 {
        q.push(&entry(i));
        q.sync().unwrap();
    }
    let big = entry(99).with_payload(&[b'x'; 1800], usize::MAX);
    assert_eq!(q.push(&big), DlqPush::Written);
    q.sync().unwrap();
    let back = DeadLetterQueue::read_all(q.path()).unwrap();
    assert_eq!(
        back.last().unwrap().id,
        99,
        "the entry being synced is kept"
    );
    assert_eq!(back.len() as u64 + q.evicted(), 6);
}

#[test]
fn two_dead_letters_from_one_path_and_line_are_both_kept_by_a_deduplicating_queue() {
    // Review finding: a file replaced at the same path dead-letters a different record at the
    // same `path:line`; de-duplicating by source alone dropped the second.
    let d = crate::testutil::tempdir();
    synced_with(d.path(), 17);
    let mut q = DeadLetterQueue::open_dedup(d.path()).unwrap().track_seq(1);
    let mut again = entry(17);
    assert_eq!(
        q.push(&again),
        DlqPush::Written,
        "a new record at the same source"
    );
    again.seq = 1;
    assert_eq!(q.push(&again), DlqPush::Duplicate, "the same entry again");
}

#[test]
fn a_torn_line_before_intact_ones_starts_the_cut() {
    // Crash simulation seed 2068: sectors of an unsynced append kept whole after one zeroed.
    let d = crate::testutil::tempdir();
    synced_with(d.path(), 1);
    let path = d.path().join(PENDING_FILE);
    let mut intact = serde_json::to_vec(&entry(2)).unwrap();
    intact.push(b'\n');
    append_raw(&path, &[&[0u8; 40], b"\n", &intact]);
    assert_eq!(cut_unacknowledged(&Storage::os(), d.path(), 5).unwrap(), 2);
    let left = DeadLetterQueue::read_all(&path).unwrap();
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), vec![1]);
}
