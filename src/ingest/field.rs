//! What validation needs to know of one JSON field: its type, and for a string whether it is an
//! RFC 3339 timestamp. Shared by the one-pass scan (`json.rs`) and its serde_json reference
//! (`schema.rs`), so neither imports the other's internals.

use std::fmt;

use serde::de::IgnoredAny;
use serde::Deserialize;

/// The type of a checked field, as much as validation needs (no allocation: a string is only asked
/// whether it is RFC 3339).
pub(super) enum Field {
    Int,
    Str { rfc3339: bool },
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E>(self, _: i64) -> Result<Field, E> {
                Ok(Field::Int)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Field, E> {
                Ok(Field::Int)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_str<E>(self, s: &str) -> Result<Field, E> {
                Ok(Field::Str {
                    rfc3339: rfc3339(s),
                })
            }
            fn visit_bool<E>(self, _: bool) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_unit<E>(self) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Field, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Field, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, with field ranges checked (the `T`
/// and `Z` may be lower case, as the RFC allows; a leap second `:60` is accepted).
pub fn rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = b.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0u32, |n, c| n * 10 + (c - b'0') as u32))
    };
    let ok = (|| {
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
            return None;
        }
        if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
            return None;
        }
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if !(1..=12).contains(&mo) || d == 0 || d > days[mo as usize - 1] {
            return None;
        }
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return None;
            }
        }
        match b.get(i) {
            Some(b'Z' | b'z') => (i + 1 == b.len()).then_some(()),
            Some(b'+' | b'-') => {
                let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                (b.get(i + 3) == Some(&b':') && oh <= 23 && om <= 59 && i + 6 == b.len())
                    .then_some(())
            }
            _ => None,
        }
    })();
    ok.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_checks_shape_and_ranges() {
        for ok in [
            "2026-11-25T19:02:00Z",
            "2026-11-25t19:02:00.5z",
            "2024-02-29T00:00:00+00:00",
            "1999-12-31T23:59:60-08:00",
        ] {
            assert!(rfc3339(ok), "{ok}");
        }
        for bad in [
            "2026-11-25",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T19:02:00",
            "2026-11-25T19:02:00.Z",
            "2026-11-25T19:02:00+0530",
            "2026-11-25T19:02:00Zjunk",
        ] {
            assert!(!rfc3339(bad), "{bad}");
        }
    }
}
