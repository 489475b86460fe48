//! Item content for synthetic load. Payloads are generated once up front (a ring of seeded lines) and
//! copied into recycled buffers per item, so generating load costs a `memcpy`, not formatting: the
//! generator must not be what limits a 3 M items/s run.

use crate::rng::SplitMix64;

/// What each item's bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// Seeded log-like lines (timestamps, levels, hosts, paths): compressible like real logs.
    Log,
    /// Seeded random bytes: incompressible.
    Random,
}

/// Bytes of the `id=NNNNNNNNNNNN ` prefix stamped on items when ids are on.
pub const ID_PREFIX_BYTES: usize = 16;

/// Seeded poison injection: which item ids are made invalid (not valid UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoisonSpec {
    /// Seed of the choice.
    pub seed: u64,
    /// On average one poison item in this many.
    pub one_in: u64,
}

impl PoisonSpec {
    /// Whether item `id` is poison: a pure function of (seed, id), so a check can list exactly which
    /// ids were injected without the generator telling it.
    pub fn is_poison(&self, id: u64) -> bool {
        SplitMix64::new(self.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .next_u64()
            .is_multiple_of(self.one_in)
    }
}

/// Overwrite the first [`ID_PREFIX_BYTES`] of `buf` with `id=<12 digits> `.
pub fn stamp_id(buf: &mut [u8], id: u64) {
    buf[..3].copy_from_slice(b"id=");
    let mut v = id;
    for i in (3..15).rev() {
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf[15] = b' ';
}

/// The id stamped by [`stamp_id`], if the payload has one.
pub fn parse_id(payload: &[u8]) -> Option<u64> {
    let p = payload.get(..ID_PREFIX_BYTES)?;
    if &p[..3] != b"id=" || p[15] != b' ' {
        return None;
    }
    std::str::from_utf8(&p[3..15]).ok()?.parse().ok()
}

/// Make a stamped payload invalid UTF-8 right after its id, keeping the id readable.
pub fn make_poison(buf: &mut [u8]) {
    buf[ID_PREFIX_BYTES] = 0xFF;
    buf[ID_PREFIX_BYTES + 1] = 0xFE;
}

/// Lines in the ring: enough variety that compression sees realistic repetition, not one line.
const RING_ITEMS: usize = 4096;

/// A ring of pre-generated payloads of exactly `item_bytes` each.
#[derive(Debug, Clone)]
pub struct PayloadSource {
    data: Vec<u8>,
    item_bytes: usize,
    next: usize,
}

const LEVELS: [&str; 5] = ["INFO", "INFO", "INFO", "WARN", "ERROR"];
const METHODS: [&str; 4] = ["GET", "GET", "POST", "PUT"];
const PATHS: [&str; 8] = [
    "/api/v1/items",
    "/api/v1/items/{id}",
    "/api/v1/users/{id}",
    "/api/v1/orders",
    "/healthz",
    "/api/v1/search",
    "/static/app.js",
    "/api/v1/cart/{id}",
];
const MESSAGES: [&str; 6] = [
    "request completed",
    "cache miss, fetched from origin",
    "slow upstream response",
    "retrying after timeout",
    "user session refreshed",
    "rate limit close to threshold",
];

/// One seeded log-like line: ISO timestamp, level, host, method, path, status, duration, message.
pub fn log_line(rng: &mut SplitMix64, i: u64) -> String {
    let ms = 1_764_088_000_000u64 + i * 7 + rng.below(5);
    let (secs, milli) = (ms / 1000, ms % 1000);
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let path = PATHS[rng.below(PATHS.len() as u64) as usize]
        .replace("{id}", &rng.below(100_000).to_string());
    let status = [200, 200, 200, 201, 304, 404, 500][rng.below(7) as usize];
    format!(
        "2026-11-25T{h:02}:{m:02}:{s:02}.{milli:03}Z {} host-{:02} {} {} status={} dur_ms={} msg=\"{}\" trace={:016x}",
        LEVELS[rng.below(5) as usize],
        rng.below(16),
        METHODS[rng.below(4) as usize],
        path,
        status,
        rng.below(250),
        MESSAGES[rng.below(MESSAGES.len() as u64) as usize],
        rng.next_u64()
    )
}

impl PayloadSource {
    /// A source of `item_bytes`-byte payloads of the given kind, seeded.
    pub fn new(kind: PayloadKind, item_bytes: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut data = Vec::with_capacity(RING_ITEMS * item_bytes);
        for i in 0..RING_ITEMS {
            let start = data.len();
            match kind {
                PayloadKind::Random => {
                    while data.len() < start + item_bytes {
                        data.extend_from_slice(&rng.next_u64().to_le_bytes());
                    }
                }
                PayloadKind::Log => {
                    // Join lines until the item is full, then cut: an item is a slice of a log stream.
                    while data.len() < start + item_bytes {
                        data.extend_from_slice(log_line(&mut rng, i as u64).as_bytes());
                        data.push(b'\n');
                    }
                }
            }
            data.truncate(start + item_bytes);
        }
        PayloadSource {
            data,
            item_bytes,
            next: 0,
        }
    }

    /// Append the next payload to `buf`.
    #[inline]
    pub fn fill(&mut self, buf: &mut Vec<u8>) {
        let start = self.next * self.item_bytes;
        buf.extend_from_slice(&self.data[start..start + self.item_bytes]);
        self.next = (self.next + 1) % RING_ITEMS;
    }

    /// Bytes per payload.
    pub fn item_bytes(&self) -> usize {
        self.item_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_poison_keeps_the_id_readable() {
        let mut b = vec![b'a'; 40];
        stamp_id(&mut b, 123_456);
        assert_eq!(&b[..16], b"id=000000123456 ");
        assert_eq!(parse_id(&b), Some(123_456));
        make_poison(&mut b);
        assert!(std::str::from_utf8(&b).is_err());
        assert_eq!(parse_id(&b), Some(123_456));
        let spec = PoisonSpec {
            seed: 7,
            one_in: 100,
        };
        let n = (0..100_000).filter(|&i| spec.is_poison(i)).count();
        assert!((800..1200).contains(&n), "{n}");
    }

    #[test]
    fn payloads_have_the_asked_size_and_log_lines_look_like_logs() {
        let mut p = PayloadSource::new(PayloadKind::Log, 100, 1);
        let mut b = Vec::new();
        p.fill(&mut b);
        assert_eq!(b.len(), 100);
        let s = String::from_utf8(b).unwrap();
        assert!(s.starts_with("2026-11-25T") && s.contains("host-"), "{s}");
        let mut r = PayloadSource::new(PayloadKind::Random, 37, 1);
        let mut b = Vec::new();
        r.fill(&mut b);
        assert_eq!(b.len(), 37);
    }
}
