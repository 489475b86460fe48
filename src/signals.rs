//! Graceful shutdown and manual flush, by signal or by API call.
//!
//! - SIGINT / SIGTERM (or [`request_shutdown`]): producers stop taking input; everything already
//!   accepted is flushed and fdatasync'ed, the summary is printed, and the process exits 0. Nothing
//!   accepted is lost; for `ingest`, the committed positions let a re-run continue where it stopped.
//! - SIGUSR1 (or [`request_flush`]): the open batch is committed now, whatever its size or age; counted
//!   as `flush_reasons.manual`.
//!
//! The handlers only store to atomics (async-signal-safe); the pipeline polls them. A second SIGINT or
//! SIGTERM while shutting down restores the default action, so an impatient operator can still kill.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

static SHUTDOWN: AtomicBool = AtomicBool::new(false);
static FLUSHES_REQUESTED: AtomicU64 = AtomicU64::new(0);

/// How often a waiting batcher looks for a manual flush request: the bound on its reaction time.
pub const FLUSH_POLL: Duration = Duration::from_millis(10);

/// Ask producers to stop taking input (what SIGINT/SIGTERM do).
pub fn request_shutdown() {
    SHUTDOWN.store(true, Ordering::SeqCst);
}

/// True once a shutdown was requested.
pub fn shutdown_requested() -> bool {
    SHUTDOWN.load(Ordering::Relaxed)
}

/// Ask the batcher to commit its open batch now (what SIGUSR1 does).
pub fn request_flush() {
    FLUSHES_REQUESTED.fetch_add(1, Ordering::SeqCst);
}

/// Flush requests so far (the batcher compares with what it has served).
pub fn flush_requests() -> u64 {
    FLUSHES_REQUESTED.load(Ordering::Relaxed)
}

extern "C" fn on_stop(sig: libc::c_int) {
    if SHUTDOWN.swap(true, Ordering::SeqCst) {
        // Second time: back to the default action, and re-raise.
        // SAFETY: signal() and raise() are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

extern "C" fn on_flush(_: libc::c_int) {
    FLUSHES_REQUESTED.fetch_add(1, Ordering::SeqCst);
}

/// Install the SIGINT/SIGTERM/SIGUSR1 handlers (the CLI does, for `run` and `ingest`).
pub fn install_signal_handlers() {
    // SAFETY: the handlers only touch atomics; sigaction with a zeroed mask and SA_RESTART is the plain
    // way to install them.
    unsafe {
        for (sig, h) in [
            (libc::SIGINT, on_stop as extern "C" fn(libc::c_int)),
            (libc::SIGTERM, on_stop),
            (libc::SIGUSR1, on_flush),
        ] {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = h as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}
