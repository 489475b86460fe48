//! `ingest` and `dlq`: the producers' commands.

use std::process::ExitCode;

use ingest_lab::config::RunConfig;

use crate::args::{DlqArgs, IngestArgs};
use crate::run::progress;
use crate::values::DlqAction;

use crate::{fail, print_json};

pub(crate) fn cmd_ingest(a: IngestArgs) -> ExitCode {
    ingest_lab::signals::install_signal_handlers();
    let mut cfg = ingest_lab::ingest::IngestConfig::new(&a.dir, a.inputs.clone());
    if let Err(e) = a.pipeline.apply(&mut cfg.run) {
        return fail(2, e);
    }
    cfg.schema = a.schema.into();
    cfg.max_decompressed_bytes = a.max_decompressed_bytes;
    cfg.max_record_bytes = a.max_record_bytes;
    cfg.max_ratio = (a.max_ratio > 0.0).then_some(a.max_ratio);
    cfg.validator_thread = a.validator_thread;
    cfg.run.observe.progress = progress("ingest", a.json);
    match ingest_lab::ingest::ingest(&cfg) {
        Ok(r) => {
            if let Err(e) = a.pipeline.service.write_metrics(&r.run) {
                return fail(2, e);
            }
            eprintln!(
                "ingest: {} records in: {} committed, {} dead-lettered; {} inputs rejected; {} blank lines; \
                 {} lines resumed past; {} batches, {} fdatasyncs, {:.1} MB/s in, {:.0} records/s, {:.2} s",
                r.records_in,
                r.committed,
                r.dead_lettered,
                r.rejected_inputs,
                r.blank_lines,
                r.resumed_lines,
                r.batches,
                r.fdatasyncs,
                r.input_mb_per_s,
                r.records_per_s,
                r.elapsed_s
            );
            for w in &r.run.warnings {
                eprintln!("warning: {w}");
            }
            if a.json {
                print_json(&r);
            }
            if r.rejected_inputs > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(2, e),
    }
}

pub(crate) fn cmd_dlq(a: DlqArgs) -> ExitCode {
    ingest_lab::signals::install_signal_handlers();
    let run = RunConfig::new(&a.dir);
    match a.action {
        DlqAction::List => match ingest_lab::redrive::dlq_status(&run.dlq_dir()) {
            Ok(s) => {
                for d in &s.pending {
                    eprintln!(
                        "{}  attempts {}  {}{}",
                        d.source,
                        d.attempts,
                        d.reason,
                        if d.truncated { "  (prefix only)" } else { "" }
                    );
                }
                eprintln!(
                    "{} pending, {} re-drive in progress, {} drained generations",
                    s.pending.len(),
                    s.in_progress.len(),
                    s.drained.len()
                );
                if a.json {
                    print_json(&s);
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(2, e),
        },
        DlqAction::Redrive => {
            let mut run = run;
            run.observe.progress = progress("redrive", a.json);
            let mut cfg = ingest_lab::redrive::RedriveConfig::new(run);
            cfg.schema = a.schema.into();
            cfg.max_attempts = a.max_attempts;
            cfg.rate = a.rate;
            match ingest_lab::redrive::redrive(&cfg) {
                Ok(r) => {
                    eprintln!(
                        "redrive: {} entries: {} committed, {} still invalid, {} parked; {} pending now",
                        r.entries, r.redriven, r.still_invalid, r.parked, r.pending_after
                    );
                    if a.json {
                        print_json(&r);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(2, e),
            }
        }
    }
}
