//! Why a batch was flushed, and the flushes counted by reason: shared by the window that decides a
//! flush (`batch`) and the run's metrics that keep the counts (`metrics`), so neither imports the other.

use serde::Serialize;

/// Why a batch was flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlushReason {
    /// `max_items` reached.
    Items,
    /// `max_bytes` reached (or the next item would pass it).
    Bytes,
    /// The first item's linger expired.
    Deadline,
    /// The input ended (or SIGINT/SIGTERM stopped intake); what was accepted is flushed.
    Shutdown,
    /// Asked for: [`crate::control::Control::request_flush`] or SIGUSR1.
    Manual,
}

impl FlushReason {
    /// All reasons, in counter order.
    pub const ALL: [FlushReason; 5] = [
        FlushReason::Items,
        FlushReason::Bytes,
        FlushReason::Deadline,
        FlushReason::Shutdown,
        FlushReason::Manual,
    ];

    /// Lower-case name, as in metrics and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FlushReason::Items => "items",
            FlushReason::Bytes => "bytes",
            FlushReason::Deadline => "deadline",
            FlushReason::Shutdown => "shutdown",
            FlushReason::Manual => "manual",
        }
    }
}

/// Flushes counted by reason: one named field per [`FlushReason`], read and counted through the
/// reason itself ([`FlushReasons::get`], [`FlushReasons::count`]) so no code counts by position. It
/// serializes as the report's `flush_reasons` object, its keys the reasons' [`FlushReason::as_str`]
/// names (a test holds them equal).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FlushReasons {
    /// By `max_items`.
    pub items: u64,
    /// By `max_bytes`.
    pub bytes: u64,
    /// By linger deadline.
    pub deadline: u64,
    /// At shutdown.
    pub shutdown: u64,
    /// Asked for (API call or SIGUSR1).
    pub manual: u64,
}

impl FlushReasons {
    /// Flushes for `reason`.
    pub fn get(&self, reason: FlushReason) -> u64 {
        match reason {
            FlushReason::Items => self.items,
            FlushReason::Bytes => self.bytes,
            FlushReason::Deadline => self.deadline,
            FlushReason::Shutdown => self.shutdown,
            FlushReason::Manual => self.manual,
        }
    }

    /// Count one flush for `reason`.
    pub fn count(&mut self, reason: FlushReason) {
        *match reason {
            FlushReason::Items => &mut self.items,
            FlushReason::Bytes => &mut self.bytes,
            FlushReason::Deadline => &mut self.deadline,
            FlushReason::Shutdown => &mut self.shutdown,
            FlushReason::Manual => &mut self.manual,
        } += 1;
    }

    /// Flushes for every reason.
    pub fn total(&self) -> u64 {
        FlushReason::ALL.iter().map(|&r| self.get(r)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn each_flush_is_counted_under_its_own_reason_and_named_as_in_the_json() {
        let mut f = FlushReasons::default();
        for (n, r) in FlushReason::ALL.into_iter().enumerate() {
            for _ in 0..=n {
                f.count(r);
            }
        }
        let json = serde_json::to_value(f).unwrap();
        let keys: BTreeSet<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let names: BTreeSet<&str> = FlushReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(keys, names, "the JSON keys are the reasons' names");
        for (n, r) in FlushReason::ALL.into_iter().enumerate() {
            assert_eq!(f.get(r), n as u64 + 1, "{r:?}");
            assert_eq!(json[r.as_str()], n as u64 + 1, "{r:?}");
        }
        assert_eq!(f.total(), 15);
    }
}
