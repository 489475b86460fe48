//! `trace`, `verify` and `cat`: arrival traces, and reading a sink directory back.

use std::io::Write;
use std::process::ExitCode;

use ingest_lab::{load::BurstyParams, load::Trace};

use crate::args::{DirArgs, TraceArgs};

use crate::{fail, print_json};

pub(crate) fn cmd_trace(a: TraceArgs) -> ExitCode {
    let mut buf = Vec::new();
    if let Err(e) =
        Trace::write_bursty(&mut buf, a.rate, a.seconds, a.seed, BurstyParams::default())
    {
        return fail(2, e);
    }
    let r = match &a.out {
        Some(p) => std::fs::write(p, &buf),
        None => std::io::stdout().lock().write_all(&buf),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(2, e),
    }
}

pub(crate) fn cmd_verify(a: DirArgs) -> ExitCode {
    let mut records = 0u64;
    let r = match ingest_lab::ingest::scan(&a.dir, false, &mut |_| records += 1) {
        Ok(r) => r,
        Err(e) => return fail(1, e),
    };
    if let Some(t) = &r.torn_tail {
        eprintln!(
            "torn tail: {} bytes after byte {} of {} ({}): never acknowledged; ingest and dlq redrive cut it on start",
            t.torn_bytes,
            t.good_bytes,
            t.segment.display(),
            t.error
        );
    }
    eprintln!(
        "{} segments, {} blocks, {records} records, {} position records, torn tail: {}",
        r.segments,
        r.blocks,
        r.control_records,
        if r.torn_tail.is_some() { "yes" } else { "no" }
    );
    if a.json {
        print_json(&r);
    }
    ExitCode::SUCCESS
}

pub(crate) fn cmd_cat(a: DirArgs) -> ExitCode {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let r = ingest_lab::ingest::scan(&a.dir, false, &mut |rec| {
        let _ = out.write_all(rec);
        let _ = out.write_all(b"\n");
    });
    let _ = out.flush();
    match r {
        Ok(r) => {
            if let Some(t) = r.torn_tail {
                eprintln!(
                    "note: {} ends in a torn tail of {} bytes (not committed, not printed)",
                    t.segment.display(),
                    t.torn_bytes
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, e),
    }
}
