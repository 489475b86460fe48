//! Tests of `storage/sim.rs`.

use super::*;
use crate::storage::Storage;

fn sim() -> (Arc<SimStorage>, Storage) {
    let fs = SimStorage::new();
    let st = Storage::new(Arc::new(SimVfs(Arc::clone(&fs))));
    st.create_dir_all(Path::new("/d")).unwrap();
    (fs, st)
}

/// A crash that keeps only what was made durable.
fn crash(fs: &SimStorage) {
    fs.crash(CrashMode::DropUnsynced, &mut SplitMix64::new(1));
}

/// Whether directory `path` is still there after a crash.
fn listed_after_a_crash(fs: &SimStorage, st: &Storage, path: &str) -> bool {
    crash(fs);
    st.list(Path::new(path)).is_ok()
}

#[test]
fn a_new_directory_is_gone_after_a_crash_until_its_parent_is_fsynced() {
    let (fs, st) = sim();
    st.create_dir_all(Path::new("/d/new")).unwrap();
    let mut f = st.open(Path::new("/d/new/a"), OpenMode::CreateNew).unwrap();
    f.write(b"x").unwrap();
    f.sync_data().unwrap();
    st.sync_dir(Path::new("/d/new")).unwrap();
    assert!(
        !listed_after_a_crash(&fs, &st, "/d/new"),
        "its own name was never durable"
    );
    assert!(st.create_dir_durable(Path::new("/d/new")).unwrap());
    assert!(listed_after_a_crash(&fs, &st, "/d/new"));
}

#[test]
fn every_new_level_of_a_nested_directory_is_made_durable() {
    let (fs, st) = sim();
    assert!(st.create_dir_durable(Path::new("/d/a/b/sink")).unwrap());
    assert!(listed_after_a_crash(&fs, &st, "/d/a/b/sink"));
}

#[test]
fn a_directory_whose_parent_fsync_failed_is_made_durable_by_the_next_open() {
    // Crash simulation seed 1260: the first open created the directory and its parent's fsync
    // failed (EIO); the next open found it there and did not fsync the parent again.
    let (fs, st) = sim();
    fs.set_fault(Some(SimFault {
        at_op: 1,
        kind: FaultKind::Eio,
    }));
    assert!(st.create_dir_durable(Path::new("/d/sink")).is_err());
    assert!(
        !st.create_dir_durable(Path::new("/d/sink")).unwrap(),
        "already there"
    );
    assert!(
        listed_after_a_crash(&fs, &st, "/d/sink"),
        "durable after the second open"
    );
}

#[test]
fn a_crash_keeps_synced_data_and_durable_names_only() {
    let (fs, st) = sim();
    let mut f = st.open(Path::new("/d/a"), OpenMode::CreateNew).unwrap();
    f.write(b"synced").unwrap();
    f.sync_data().unwrap();
    f.write(b" lost").unwrap();
    let mut g = st.open(Path::new("/d/b"), OpenMode::CreateNew).unwrap();
    g.write(b"no dir fsync").unwrap();
    g.sync_data().unwrap();
    crash(&fs);
    // Neither name was made durable by a directory fsync: both files are gone.
    assert!(st.len(Path::new("/d/a")).is_err());
    let mut f = st.open(Path::new("/d/a"), OpenMode::CreateNew).unwrap();
    f.write(b"x").unwrap();
    f.sync_data().unwrap();
    st.sync_dir(Path::new("/d")).unwrap();
    f.write(b"yz").unwrap();
    crash(&fs);
    assert_eq!(st.read_all(Path::new("/d/a")).unwrap(), b"x");
}

#[test]
fn a_crash_fault_kills_every_later_call_and_torn_sectors_keep_the_size() {
    let (fs, st) = sim();
    let mut f = st.open(Path::new("/d/a"), OpenMode::CreateNew).unwrap();
    st.sync_dir(Path::new("/d")).unwrap();
    f.write(&[7u8; 2000]).unwrap();
    fs.set_fault(Some(SimFault {
        at_op: 1,
        kind: FaultKind::Crash,
    }));
    assert!(f.sync_data().is_err());
    assert!(f.write(b"more").is_err() && st.len(Path::new("/d/a")).is_err());
    fs.crash(CrashMode::TornSectors, &mut SplitMix64::new(3));
    let a = st.read_all(Path::new("/d/a")).unwrap();
    assert_eq!(a.len(), 2000);
    assert!(a.iter().all(|&b| b == 0 || b == 7));
}

#[test]
fn a_short_write_and_eio_are_reported_not_hidden() {
    let (fs, st) = sim();
    let mut f = st.open(Path::new("/d/a"), OpenMode::CreateNew).unwrap();
    fs.set_fault(Some(SimFault {
        at_op: 1,
        kind: FaultKind::ShortWrite,
    }));
    assert_eq!(f.write(b"abcd").unwrap(), 2);
    fs.set_fault(Some(SimFault {
        at_op: 1,
        kind: FaultKind::Eio,
    }));
    assert_eq!(f.sync_data().unwrap_err().raw_os_error(), Some(libc::EIO));
    assert!(!fs.is_dead());
}
