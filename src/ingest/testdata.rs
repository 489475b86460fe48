//! Seeded NDJSON test inputs with a known mix of good and bad records, each carrying a unique `id`, so
//! checks and tests can reconcile what ended where by id — not by counts alone.

use std::io::{self, Write};

use crate::rng::SplitMix64;

/// What a generated line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// Valid under v1 (integer `ts`).
    Valid,
    /// Valid under v1, written with a CRLF line ending.
    ValidCrlf,
    /// `ts` as an RFC 3339 string: dead-lettered under v1, valid under v2 (the schema fix).
    Rfc3339,
    /// `ts` a string that is no timestamp: invalid under both.
    BadTs,
    /// Not JSON (cut off mid-string).
    Malformed,
    /// Invalid UTF-8 inside `msg`.
    BadUtf8,
    /// Longer than the record cap the mix was made for.
    TooLong,
}

impl LineKind {
    /// Valid under `v2`?
    pub fn valid_v2(self) -> bool {
        matches!(
            self,
            LineKind::Valid | LineKind::ValidCrlf | LineKind::Rfc3339
        )
    }

    /// Valid under `v1`?
    pub fn valid_v1(self) -> bool {
        matches!(self, LineKind::Valid | LineKind::ValidCrlf)
    }
}

/// Per-million shares of each bad kind (the rest is valid).
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// RFC 3339 `ts`.
    pub rfc3339_ppm: u64,
    /// Bad `ts`.
    pub bad_ts_ppm: u64,
    /// Cut-off JSON.
    pub malformed_ppm: u64,
    /// Invalid UTF-8.
    pub bad_utf8_ppm: u64,
    /// Over-long lines.
    pub too_long_ppm: u64,
    /// CRLF endings among valid lines.
    pub crlf_ppm: u64,
    /// A blank line after every this many lines (0 = none).
    pub blank_every: u64,
    /// The record cap over-long lines must pass.
    pub record_cap: usize,
}

impl Default for Mix {
    /// 5 % RFC 3339, 0.5 % bad ts, 0.1 % each malformed / bad UTF-8 / over-long, 1 % CRLF.
    fn default() -> Self {
        Mix {
            rfc3339_ppm: 50_000,
            bad_ts_ppm: 5_000,
            malformed_ppm: 1_000,
            bad_utf8_ppm: 1_000,
            too_long_ppm: 1_000,
            crlf_ppm: 10_000,
            blank_every: 10_000,
            record_cap: 4096,
        }
    }
}

impl Mix {
    /// Only valid records, LF endings, no blank lines (for tests about something other than bad input).
    pub fn clean(record_cap: usize) -> Self {
        Mix {
            rfc3339_ppm: 0,
            bad_ts_ppm: 0,
            malformed_ppm: 0,
            bad_utf8_ppm: 0,
            too_long_ppm: 0,
            crlf_ppm: 0,
            blank_every: 0,
            record_cap,
        }
    }
}

const LEVELS: [&str; 4] = ["info", "info", "warn", "error"];
const PATHS: [&str; 5] = [
    "/api/v1/items",
    "/api/v1/users",
    "/healthz",
    "/api/v1/orders",
    "/static/app.js",
];

/// Write `n` records with ids `first_id..first_id + n` to `w`; returns each record's kind, in order
/// (blank lines are not records and not in the list).
pub fn write_ndjson(
    w: &mut impl Write,
    first_id: u64,
    n: u64,
    mix: &Mix,
    seed: u64,
) -> io::Result<Vec<LineKind>> {
    let mut rng = SplitMix64::new(seed);
    let mut kinds = Vec::with_capacity(n as usize);
    let mut line = Vec::with_capacity(256);
    for k in 0..n {
        let id = first_id + k;
        let roll = rng.below(1_000_000);
        let mut edge = 0;
        let mut pick = |ppm: u64| {
            edge += ppm;
            roll < edge
        };
        let kind = if pick(mix.rfc3339_ppm) {
            LineKind::Rfc3339
        } else if pick(mix.bad_ts_ppm) {
            LineKind::BadTs
        } else if pick(mix.malformed_ppm) {
            LineKind::Malformed
        } else if pick(mix.bad_utf8_ppm) {
            LineKind::BadUtf8
        } else if pick(mix.too_long_ppm) {
            LineKind::TooLong
        } else if pick(mix.crlf_ppm) {
            LineKind::ValidCrlf
        } else {
            LineKind::Valid
        };
        let ts = 1_764_097_320_000u64 + id * 7;
        let (level, path) = (LEVELS[rng.below(4) as usize], PATHS[rng.below(5) as usize]);
        let status = [200, 200, 200, 404, 500][rng.below(5) as usize];
        let ms = rng.below(900) + 1;
        line.clear();
        match kind {
            LineKind::Valid | LineKind::ValidCrlf | LineKind::TooLong => write!(
                line,
                r#"{{"id":{id},"ts":{ts},"level":"{level}","msg":"GET {path} {status} {ms}ms"}}"#
            )?,
            LineKind::Rfc3339 => {
                let s = ts / 1000;
                let (d, h, m, sec) = (
                    25 + (s / 86_400) % 3,
                    (s / 3600) % 24,
                    (s / 60) % 60,
                    s % 60,
                );
                write!(
                    line,
                    r#"{{"id":{id},"ts":"2026-11-{d:02}T{h:02}:{m:02}:{sec:02}.{:03}Z","level":"{level}","msg":"GET {path} {status} {ms}ms"}}"#,
                    ts % 1000
                )?
            }
            LineKind::BadTs => write!(
                line,
                r#"{{"id":{id},"ts":"yesterday","level":"{level}","msg":"GET {path} {status}"}}"#
            )?,
            LineKind::Malformed => write!(line, r#"{{"id":{id},"ts":{ts},"msg":"GET {path} "#)?,
            LineKind::BadUtf8 => {
                write!(line, r#"{{"id":{id},"ts":{ts},"msg":"bad "#)?;
                line.extend_from_slice(b"\xff\xfe");
                line.extend_from_slice(br#""}"#);
            }
        }
        if kind == LineKind::TooLong {
            // Pad inside the JSON so the line is still an object, just too big.
            line.pop();
            write!(line, r#","pad":"{}"}}"#, "x".repeat(mix.record_cap + 1))?;
        }
        line.extend_from_slice(if kind == LineKind::ValidCrlf {
            b"\r\n"
        } else {
            b"\n"
        });
        w.write_all(&line)?;
        if mix.blank_every > 0 && (k + 1) % mix.blank_every == 0 {
            w.write_all(b"\n")?;
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

/// The `id` of a generated record (from its JSON, or its text when the JSON is broken).
pub fn record_id(record: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(record);
    let rest = text.strip_prefix(r#"{"id":"#)?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Schema;

    #[test]
    fn each_kind_validates_as_labelled() {
        let mix = Mix {
            record_cap: 64,
            blank_every: 0,
            ..Mix::default()
        };
        let mut out = Vec::new();
        let kinds = write_ndjson(&mut out, 1, 20_000, &mix, 3).unwrap();
        let lines: Vec<&[u8]> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), kinds.len());
        let mut seen = std::collections::HashSet::new();
        for (i, (l, k)) in lines.iter().zip(&kinds).enumerate() {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            seen.insert(*k);
            assert_eq!(record_id(l), Some(i as u64 + 1));
            if *k == LineKind::TooLong {
                assert!(l.len() > 64);
                continue;
            }
            assert_eq!(Schema::V1.validate(l).is_ok(), k.valid_v1(), "{k:?}");
            assert_eq!(Schema::V2.validate(l).is_ok(), k.valid_v2(), "{k:?}");
        }
        assert_eq!(seen.len(), 7, "every kind appears: {seen:?}");
    }
}
