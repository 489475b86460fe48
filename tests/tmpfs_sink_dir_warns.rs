//! fdatasync on tmpfs is free and proves nothing: a run there says so, loudly, in its report.

mod common;

use ingest_lab::batch::WindowConfig;

#[test]
fn a_run_on_tmpfs_carries_the_warning_and_names_the_fs() {
    let shm = std::path::Path::new("/dev/shm");
    let on_tmpfs = ingest_lab::sink::FsInfo::of(shm).is_ok_and(|f| f.is_memory_backed());
    if !on_tmpfs {
        common::cannot_run_here("no tmpfs at /dev/shm");
        return;
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let cfg = common::small_run(dir.path(), 50, 10_000.0, WindowConfig::default());
    let r = ingest_lab::pipeline::run(&cfg).unwrap();
    assert_eq!(r.fs_type, "tmpfs");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("WARNING") && w.contains("tmpfs")),
        "{:?}",
        r.warnings
    );

    let disk = common::tempdir();
    let r = ingest_lab::pipeline::run(&common::small_run(
        disk.path(),
        50,
        10_000.0,
        WindowConfig::default(),
    ))
    .unwrap();
    assert!(
        r.warnings.iter().all(|w| !w.contains("tmpfs")),
        "{:?}",
        r.warnings
    );
}
