//! Tests of `ingest/json.rs`.

use crate::ingest::Schema;
use proptest::prelude::*;

/// Tokens chosen to hit every rule the scan applies or defers: number shapes serde reads
/// differently, escapes (valid, invalid, surrogates), raw control characters, non-ASCII text.
const LEAVES: &[&str] = &[
    "0",
    "-0",
    "12",
    "01",
    "-",
    "1.5",
    "1.",
    ".5",
    "1e3",
    "1E+2",
    "1e",
    "-12",
    "1234567890123456789",
    "99999999999999999999",
    "-9223372036854775808",
    "1e999",
    "true",
    "false",
    "null",
    "nul",
    "tru",
    r#""x""#,
    r#""""#,
    r#""2026-11-25T19:02:00Z""#,
    r#""2026-11-25T19:02:00\u005a""#,
    r#""yesterday""#,
    r#""\ud800""#,
    r#""\ud83d\ude00""#,
    r#""a\qb""#,
    r#""\u12""#,
    "\"tab\there\"",
    r#""é ü 日本""#,
    r#""\u00e9\n\"""#,
    r#""\/\b\f\r\t\\""#,
];
const KEYS: &[&str] = &[
    r#""ts""#,
    r#""msg""#,
    r#""host""#,
    r#""n""#,
    r#""t\u0073""#,
    r#""""#,
    r#""m\"sg""#,
    r#""\ud800""#,
];
const TS: &[&str] = &[
    "1700000000000",
    "0",
    "-5",
    "null",
    r#""2026-11-25T19:02:00.5Z""#,
    r#""2026-11-25T19:02:00+05:30""#,
    r#""2026-02-30T00:00:00Z""#,
    "1.5",
    "12345678901234567890",
];
const MSG: &[&str] = &[
    r#""hello""#,
    r#""\u00e9\"quoted\"""#,
    r#""\ud83d\ude00""#,
    "null",
    "7",
    r#""""#,
];
const WS: &[&str] = &["", "", "", " ", "\t", "\r\n ", "  "];

fn value() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(LEAVES).prop_map(str::to_string);
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(|m| {
                let parts: Vec<String> = m.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("{{{}}}", parts.join(","))
            }),
        ]
    })
}

fn record() -> impl Strategy<Value = Vec<u8>> {
    let member = (
        prop::sample::select(WS),
        prop::sample::select(KEYS),
        prop::sample::select(WS),
        prop::sample::select(WS),
        value(),
    )
        .prop_map(|(w0, k, w1, w2, v)| format!("{w0}{k}{w1}:{w2}{v}"));
    // Half the records carry a plausible `ts` and `msg` among the random members, so that valid
    // records (and near misses of them) are common, not a lucky draw.
    let ts = prop::sample::select(TS).prop_map(|v| format!(r#""ts":{v}"#));
    let msg = prop::sample::select(MSG).prop_map(|v| format!(r#""msg":{v}"#));
    let fields = (
        any::<bool>(),
        ts,
        msg,
        any::<prop::sample::Index>(),
        any::<bool>(),
    );
    (
        prop::sample::select(WS),
        prop::collection::vec(member, 0..4),
        fields,
        prop::sample::select(WS),
    )
        .prop_map(|(lead, mut members, (add, ts, msg, at, ts_first), trail)| {
            if add {
                let i = at.index(members.len() + 1);
                let pair = if ts_first { [ts, msg] } else { [msg, ts] };
                members.splice(i..i, pair);
            }
            format!("{lead}{{{}}}{trail}", members.join(",")).into_bytes()
        })
}

/// A record, then perhaps one edit: a byte removed, inserted (from bytes that matter to JSON, a
/// control character, a stray UTF-8 continuation byte), or the tail cut off.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    const INSERT: &[u8] = b"\"\\{}[],:\x01\xff 0e-";
    (
        record(),
        0..4u8,
        any::<prop::sample::Index>(),
        prop::sample::select(INSERT),
    )
        .prop_map(|(mut r, how, at, byte)| {
            let i = at.index(r.len() + 1);
            match how {
                1 if i < r.len() => {
                    r.remove(i);
                }
                2 => r.insert(i, byte),
                3 => r.truncate(i),
                _ => {}
            }
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// The fast scan and serde_json give the same verdict, with the same reason, on every record.
    #[test]
    fn the_scan_agrees_with_serde_json(line in mutated()) {
        for schema in [Schema::V1, Schema::V2] {
            prop_assert_eq!(
                schema.validate(&line),
                schema.validate_by_serde(&line),
                "{:?} on {:?}", schema, String::from_utf8_lossy(&line)
            );
        }
    }
}

proptest! {
    /// The eight-bytes-at-a-time search finds what a byte-by-byte search finds.
    #[test]
    fn the_word_search_finds_the_first_stop_byte(
        bytes in prop::collection::vec(prop::sample::select(b"ab \x00\x1f\x20\"\\\x7f\x80\xff".to_vec()), 0..40),
        from in 0..8usize,
    ) {
        let from = from.min(bytes.len());
        let naive = bytes[from..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|k| from + k);
        prop_assert_eq!(super::plain_run_end(&bytes, from), naive);
    }
}

#[test]
fn nesting_past_the_scan_limit_is_left_to_serde() {
    for depth in [99, 101, 126, 127, 128, 200] {
        let line = format!(
            r#"{{"ts":1,"msg":"x","deep":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let line = line.as_bytes();
        assert_eq!(
            Schema::V1.validate(line),
            Schema::V1.validate_by_serde(line),
            "depth {depth}"
        );
    }
}

#[test]
fn a_ts_of_minus_zero_is_not_an_integer_as_serde_json_says() {
    // Before: the scan accepted `-0` as an integer where serde_json (the reference) reads -0.0.
    for ts in ["-0", "-0.0", "-0e0", "0", "-1"] {
        let line = format!(r#"{{"ts":{ts},"msg":"m"}}"#);
        assert_eq!(
            Schema::V1.validate(line.as_bytes()),
            Schema::V1.validate_by_serde(line.as_bytes()),
            "ts {ts}"
        );
    }
    assert!(Schema::V1.validate(br#"{"ts":-0,"msg":"m"}"#).is_err());
}
