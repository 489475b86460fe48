use super::*;

use std::error::Error as _;
use std::os::unix::process::ExitStatusExt;

use crate::checks::common::{write_csv_rows, write_evidence};
use crate::summary::RunReport;

/// `e`'s message, then each cause's, outermost first.
fn chain(e: &dyn std::error::Error) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut cur = e;
    while let Some(next) = cur.source() {
        out.push(next.to_string());
        cur = next;
    }
    out
}

/// The innermost cause of `e`.
fn root<'a>(e: &'a (dyn std::error::Error + 'static)) -> &'a (dyn std::error::Error + 'static) {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur
}

#[test]
fn an_evidence_write_that_fails_names_the_file_and_keeps_the_os_error_as_its_source() {
    // Before, write_evidence returned a String: the OS error was text, and a caller could not ask
    // for its kind or walk to it.
    let tmp = crate::testutil::tempdir();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("evidence");
    let e = write_evidence(&out, "x.csv", "a,b\n").unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("mkdir "), "{msg}");
    assert!(msg.contains(&out.display().to_string()), "{msg}");
    let os = e
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .expect("the io::Error is the source");
    assert_eq!(os.raw_os_error(), Some(libc::ENOTDIR));
    // The message already holds the cause's text: printing it alone says everything.
    assert!(msg.ends_with(&os.to_string()), "{msg}");
}

#[test]
fn a_csv_write_that_fails_names_the_file_and_keeps_the_csv_error_as_its_source() {
    let tmp = crate::testutil::tempdir();
    std::fs::create_dir(tmp.path().join("rows.csv")).unwrap();
    let e = write_csv_rows(tmp.path(), "rows.csv", &[(1, 2)]).unwrap_err();
    assert!(matches!(e, CheckError::Csv { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("rows.csv"), "{msg}");
    let csv = e
        .source()
        .and_then(|s| s.downcast_ref::<csv::Error>())
        .expect("the csv::Error is the source");
    let csv::ErrorKind::Io(os) = csv.kind() else {
        panic!("{csv:?}")
    };
    assert_eq!(os.raw_os_error(), Some(libc::EISDIR));
}

#[test]
fn a_child_that_fails_is_named_with_how_it_exited_and_its_last_words() {
    let mut stderr = String::new();
    for i in 0..3 * STDERR_TAIL_LINES {
        stderr.push_str(&format!("progress line {i}\n"));
    }
    stderr.push_str("memory allocation of 1048576 bytes failed\n\n");
    let status = std::process::ExitStatus::from_raw(134 << 8);
    let e = CheckError::child("ingest-lab-child overflow", status, stderr.as_bytes());
    let msg = e.to_string();
    assert!(
        msg.starts_with("ingest-lab-child overflow failed (exit status: 134): "),
        "{msg}"
    );
    assert!(
        msg.ends_with("memory allocation of 1048576 bytes failed"),
        "{msg}"
    );
    let CheckError::Child { stderr_tail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(stderr_tail.lines().count(), STDERR_TAIL_LINES);
    assert!(!stderr_tail.contains("progress line 0\n"), "{stderr_tail}");
}

#[test]
fn a_failed_run_reads_as_the_run_error_and_its_chain_reaches_the_os_error() {
    let os = io::Error::from_raw_os_error(libc::EIO);
    let run = RunError::Sink {
        error: SinkError::Io(SysError::new("fdatasync", "/d/seg-0", os)),
        partial: Box::<RunReport>::default(),
    };
    let text = run.to_string();
    let e = CheckError::from(run);
    assert_eq!(e.to_string(), text, "no words added to the run's own");
    let c = chain(&e);
    assert!(c.len() >= 3, "{c:?}");
    let last = root(&e)
        .downcast_ref::<io::Error>()
        .expect("the OS error last");
    assert_eq!(last.raw_os_error(), Some(libc::EIO));
}

#[test]
fn an_unknown_check_names_the_ones_there_are() {
    let e = crate::checks::run_check("nope", &crate::checks::CheckOptions::new()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("unknown check 'nope' (built: physical, "),
        "{msg}"
    );
    assert!(e.source().is_none());
}
