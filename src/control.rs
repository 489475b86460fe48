//! Stop and flush requests for a run, as a handle in its config: code deep inside a run (the
//! generator, the batcher, ingest's reader) asks its own run's control, not process-wide flags.
//! [`Control::process`] is the control the SIGINT/SIGTERM/SIGUSR1 handlers write (`signals`), and the
//! default; a test or a program embedding the pipeline gives a run [`Control::own`] and stops or flushes
//! it by calling it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a waiting batcher looks for a manual flush request: the bound on its reaction time.
pub const FLUSH_POLL: Duration = Duration::from_millis(10);

/// The flags behind a [`Control`].
#[derive(Debug, Default)]
pub struct ControlState {
    stop: AtomicBool,
    flushes: AtomicU64,
}

impl ControlState {
    const fn new() -> Self {
        ControlState {
            stop: AtomicBool::new(false),
            flushes: AtomicU64::new(0),
        }
    }

    /// Ask to stop; true when that had been asked before (the signal handler's second SIGTERM).
    pub(crate) fn swap_stop(&self) -> bool {
        self.stop.swap(true, Ordering::SeqCst)
    }

    pub(crate) fn add_flush(&self) {
        self.flushes.fetch_add(1, Ordering::SeqCst);
    }
}

/// The process's control: what the signal handlers write.
pub(crate) static PROCESS: ControlState = ControlState::new();

/// A run's stop and flush requests: the process's (signals), or a run's own.
#[derive(Clone, Default)]
pub struct Control(Option<Arc<ControlState>>);

impl Control {
    /// The process's control: SIGINT/SIGTERM stop it, SIGUSR1 flushes.
    pub fn process() -> Control {
        Control(None)
    }

    /// A control of its own, which only calls on it move.
    pub fn own() -> Control {
        Control(Some(Arc::new(ControlState::new())))
    }

    fn state(&self) -> &ControlState {
        self.0.as_deref().unwrap_or(&PROCESS)
    }

    /// Ask producers to stop taking input; everything accepted is still flushed.
    pub fn request_stop(&self) {
        self.state().swap_stop();
    }

    /// True once a stop was asked for.
    pub fn stop_requested(&self) -> bool {
        self.state().stop.load(Ordering::Relaxed)
    }

    /// Ask the batcher to commit its open batch now.
    pub fn request_flush(&self) {
        self.state().add_flush();
    }

    /// Flush requests so far (the batcher compares with what it has served).
    pub fn flushes(&self) -> u64 {
        self.state().flushes.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Control(own)"
        } else {
            "Control(process)"
        })
    }
}

impl PartialEq for Control {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_own_control_moves_only_when_called_and_never_the_process_one() {
        let c = Control::own();
        let p = Control::process();
        assert!(!c.stop_requested());
        c.request_flush();
        c.request_stop();
        assert!(c.stop_requested() && c.flushes() == 1);
        assert!(!p.stop_requested(), "the process's control is untouched");
        assert_eq!(c.clone(), c);
        assert_ne!(c, Control::own());
    }
}
