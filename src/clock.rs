//! Time as the pipeline sees it: nanoseconds on a monotonic timeline.
//!
//! Everything that decides *when* (the batch window, latency stamps, the load schedule) reads a [`Clock`]
//! instead of calling `Instant::now()` itself, so tests drive time by hand with [`ManualClock`] and assert
//! on exact outcomes instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Nanoseconds since the clock's origin.
pub type Nanos = u64;

/// A monotonic source of [`Nanos`].
pub trait Clock: Send + Sync {
    /// Nanoseconds since this clock's origin; never goes backwards.
    fn now(&self) -> Nanos;

    /// The real [`Instant`] to wait until for time `t` on this clock (condvar and sleep deadlines).
    /// A clock that does not follow real time answers "now": waits end at once, and the caller looks
    /// at [`Clock::now`] again. Required, so that a new real clock cannot forget it (and spin).
    fn instant_at(&self, t: Nanos) -> Instant;
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> Nanos {
        (**self).now()
    }

    fn instant_at(&self, t: Nanos) -> Instant {
        (**self).instant_at(t)
    }
}

/// The real clock: `CLOCK_MONOTONIC` through [`Instant`], origin at construction.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Nanos {
        self.origin.elapsed().as_nanos() as Nanos
    }

    fn instant_at(&self, t: Nanos) -> Instant {
        self.origin + Duration::from_nanos(t)
    }
}

/// A clock that moves only when told to: the test double for every time-dependent decision.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A manual clock reading `start`.
    pub fn new(start: Nanos) -> Self {
        ManualClock {
            now: AtomicU64::new(start),
        }
    }

    /// Move the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.now.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }

    /// Set the clock to `t`; panics if that would move it backwards (a monotonic clock never does).
    pub fn set(&self, t: Nanos) {
        let prev = self.now.swap(t, Ordering::SeqCst);
        assert!(t >= prev, "ManualClock moved backwards: {prev} -> {t}");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Nanos {
        self.now.load(Ordering::SeqCst)
    }

    /// Now: a manual clock moves only when told, so no wait should outlast a real instant.
    fn instant_at(&self, _t: Nanos) -> Instant {
        Instant::now()
    }
}

/// Whole milliseconds to [`Nanos`].
pub const fn ms(v: u64) -> Nanos {
    v * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(5);
        assert_eq!(c.now(), 5);
        c.advance(Duration::from_micros(2));
        assert_eq!(c.now(), 2_005);
        c.set(10_000);
        assert_eq!(c.now(), 10_000);
    }

    #[test]
    #[should_panic(expected = "backwards")]
    fn manual_clock_refuses_to_go_back() {
        let c = ManualClock::new(100);
        c.set(99);
    }

    #[test]
    fn monotonic_clock_does_not_go_back() {
        let c = MonotonicClock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
    }
}
