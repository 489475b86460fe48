//! The signal handlers, writing the process's [`crate::control::Control`]:
//!
//! - SIGINT / SIGTERM: producers stop taking input; everything already accepted is flushed and
//!   fdatasync'ed, the summary is printed, and the process exits 0. Nothing accepted is lost; for
//!   `ingest`, the committed positions let a re-run continue where it stopped.
//! - SIGUSR1: the open batch is committed now, whatever its size or age; counted as
//!   `flush_reasons.manual`.
//!
//! The handlers only store to atomics (async-signal-safe); a run polls its control. A second SIGINT or
//! SIGTERM while shutting down restores the default action, so an impatient operator can still kill.
//! The one module of the crate that may use `unsafe` (installing handlers needs `sigaction`).

use crate::control::PROCESS;

extern "C" fn on_stop(sig: libc::c_int) {
    if PROCESS.swap_stop() {
        // Second time: back to the default action, and re-raise.
        // SAFETY: signal() and raise() are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

extern "C" fn on_flush(_: libc::c_int) {
    PROCESS.add_flush();
}

/// Install the SIGINT/SIGTERM/SIGUSR1 handlers (the CLI does, for `run`, `ingest` and `dlq`).
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
