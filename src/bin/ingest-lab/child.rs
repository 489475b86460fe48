//! Hidden child modes the checks start (`overflow-child`, `bomb-child`): not for users.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use ingest_lab::{RunConfig, StopAfter, WindowConfig};

use crate::args::{BombChildArgs, OverflowChildArgs};

use crate::{fail, print_json};

pub(crate) fn cmd_overflow_child(a: OverflowChildArgs) -> ExitCode {
    use nix::sys::resource::{setrlimit, Resource};
    if let Err(e) = setrlimit(Resource::RLIMIT_AS, a.rlimit_as_bytes, a.rlimit_as_bytes) {
        return fail(2, format!("setrlimit(RLIMIT_AS): {e}"));
    }
    let t0 = std::time::Instant::now();
    std::thread::spawn(move || loop {
        let line = format!(
            "{:.3} {}\n",
            t0.elapsed().as_secs_f64(),
            ingest_lab::current_rss_bytes()
        );
        let mut out = std::io::stdout().lock();
        if out
            .write_all(line.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            return;
        }
        drop(out);
        std::thread::sleep(Duration::from_millis(100));
    });
    let mut cfg = RunConfig::new(&a.dir);
    cfg.window = WindowConfig::UNBATCHED;
    cfg.queue.capacity_items = usize::MAX; // unbounded: the point of the contrast
    cfg.queue.capacity_bytes = usize::MAX;
    cfg.load.rate = Some(a.rate);
    cfg.load.stop = StopAfter::Duration(Duration::from_secs_f64(a.seconds));
    cfg.sink.retain_segments = Some(2);
    cfg.min_free_bytes = 64 << 20;
    match ingest_lab::run(&cfg) {
        Ok(r) => {
            eprintln!(
                "survived: committed {} of {} offered",
                r.committed, r.offered
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(2, e),
    }
}

pub(crate) fn cmd_bomb_child(a: BombChildArgs) -> ExitCode {
    use std::io::Read;
    if let Some(limit) = a.rlimit_as_bytes {
        if let Err(e) =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, limit, limit)
        {
            return fail(2, format!("setrlimit(RLIMIT_AS): {e}"));
        }
    }
    let name = a.input.display().to_string();
    let file = match std::fs::File::open(&a.input) {
        Ok(f) => f,
        Err(e) => return fail(2, format!("open {name}: {e}")),
    };
    let (result, seen, error, crc) = if a.uncapped {
        // The naive way: decode everything into memory, trusting the input.
        let mut d = match ingest_lab::CappedDecoder::new(file, &name, u64::MAX - 1, 4) {
            Ok(d) => d,
            Err(e) => return fail(1, e),
        };
        let mut all = Vec::new();
        match d.read_to_end(&mut all) {
            Ok(n) => ("ok", n as u64, String::new(), crc32fast::hash(&all)),
            Err(e) => ("failed", d.seen(), e.to_string(), 0),
        }
    } else {
        match ingest_lab::CappedDecoder::new(file, &name, a.cap, 2) {
            Err(e) => ("rejected", 0, e.to_string(), 0),
            Ok(mut d) => {
                let mut h = crc32fast::Hasher::new();
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    match d.read(&mut buf) {
                        Ok(0) => break ("ok", d.seen(), String::new(), h.finalize()),
                        Ok(n) => h.update(&buf[..n]),
                        // Cap exceeded or invalid data: both are a clear, named rejection.
                        Err(e) if ingest_lab::DecompressError::from_io(&e).is_some() => {
                            break ("rejected", d.seen(), e.to_string(), 0)
                        }
                        Err(e) => break ("failed", d.seen(), format!("{name}: {e}"), 0),
                    }
                }
            }
        }
    };
    print_json(&serde_json::json!({
        "result": result, "seen": seen, "error": error, "crc32": crc,
        "peak_rss_bytes": ingest_lab::peak_rss_of_image(),
    }));
    if result == "ok" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
