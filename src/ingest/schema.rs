//! Record schemas (DESIGN.md §3). v1: a JSON object with an integer `ts` (Unix ms) and a string `msg`.
//! v2 — the fix for producers that send RFC 3339 timestamps — also accepts `ts` as an RFC 3339 string.
//! Other fields are allowed and kept: the pipeline stores the record's bytes as they came.
//!
//! Validation is one pass over the bytes by a purpose-built scan (`json.rs`) that builds nothing;
//! serde_json, parsing into a typed shape whose unchecked fields are skipped, is the reference that
//! decides the rare shapes the scan defers and words every rejection.

use std::fmt;

use serde::Deserialize;

use super::field::Field;
use super::json::{scan, Scan};

/// Which records are valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// `ts` integer Unix ms, `msg` string.
    V1,
    /// v1, or `ts` an RFC 3339 string.
    V2,
}

impl Schema {
    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Schema::V1 => "v1",
            Schema::V2 => "v2",
        }
    }

    /// `Ok` if `line` is a valid record under this schema, else why not (for the dead-letter entry).
    ///
    /// A record is valid UTF-8 as a whole (also inside fields the schema does not check), a JSON
    /// object, and has the fields the schema asks for. The fast scan ([`super::scan`]) decides almost
    /// every record; serde_json decides the rest and explains every rejection.
    pub fn validate(self, line: &[u8]) -> Result<(), Invalid> {
        utf8(line)?;
        let (ts, msg) = match scan(line) {
            Scan::Valid { ts, msg } => (ts, msg),
            Scan::Invalid | Scan::Unsure => shape_by_serde(line)?,
        };
        self.judge(ts, msg)
    }

    /// The reference verdict: the same rules decided by serde_json alone (the slow path, and the
    /// oracle the fast scan is tested against).
    pub fn validate_by_serde(self, line: &[u8]) -> Result<(), Invalid> {
        utf8(line)?;
        let (ts, msg) = shape_by_serde(line)?;
        self.judge(ts, msg)
    }

    /// The schema's rule on the two fields' types.
    fn judge(self, ts: Option<Field>, msg: Option<Field>) -> Result<(), Invalid> {
        match msg {
            Some(Field::Str { .. }) => {}
            Some(_) => return Err(Invalid::Field("msg", "is not a string")),
            None => return Err(Invalid::Field("msg", "is missing")),
        }
        match (ts, self) {
            (Some(Field::Int), _) => Ok(()),
            (Some(Field::Str { rfc3339 }), Schema::V1) => Err(if rfc3339 {
                Invalid::Field(
                    "ts",
                    "is an RFC 3339 string; schema v1 wants integer Unix ms (v2 accepts it)",
                )
            } else {
                Invalid::Field("ts", "is a string, not integer Unix ms")
            }),
            (Some(Field::Str { rfc3339 }), Schema::V2) => {
                if rfc3339 {
                    Ok(())
                } else {
                    Err(Invalid::Field(
                        "ts",
                        "is a string that is not RFC 3339 (nor integer Unix ms)",
                    ))
                }
            }
            (Some(Field::Other), _) => Err(Invalid::Field("ts", "is not an integer")),
            (None, _) => Err(Invalid::Field("ts", "is missing")),
        }
    }
}

/// A record is UTF-8 as a whole, also inside fields the schema does not check.
fn utf8(line: &[u8]) -> Result<(), Invalid> {
    std::str::from_utf8(line)
        .map(drop)
        .map_err(|e| Invalid::Utf8 {
            at: e.valid_up_to(),
        })
}

/// The two fields' types as serde_json reads them, or its error. `line` is UTF-8.
fn shape_by_serde(line: &[u8]) -> Result<(Option<Field>, Option<Field>), Invalid> {
    // serde would also accept a JSON array for a struct (fields by position): insist on an object.
    if !line.trim_ascii_start().starts_with(b"{") {
        return Err(Invalid::Json {
            msg: "the record does not start with `{`".into(),
        });
    }
    let rec: Shape =
        serde_json::from_slice(line).map_err(|e| Invalid::Json { msg: e.to_string() })?;
    Ok((rec.ts, rec.msg))
}

/// Why a record is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Not UTF-8; `at` is the byte offset of the first bad byte.
    Utf8 {
        /// Byte offset in the record.
        at: usize,
    },
    /// Not a JSON object (serde_json's message carries line and column).
    Json {
        /// The parser's message.
        msg: String,
    },
    /// A field is missing or has the wrong type.
    Field(&'static str, &'static str),
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Utf8 { at } => write!(f, "invalid UTF-8 at byte {at}"),
            Invalid::Json { msg } => write!(f, "not a JSON object: {msg}"),
            Invalid::Field(name, what) => write!(f, "field `{name}` {what}"),
        }
    }
}

#[derive(Deserialize)]
struct Shape {
    #[serde(default)]
    ts: Option<Field>,
    #[serde(default)]
    msg: Option<Field>,
    // Any other field is skipped by serde without being built.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_accepts_integer_ts_and_string_msg_with_extra_fields() {
        let ok = br#"{"ts":1700000000000,"msg":"hello","host":"a","n":[1,{"x":2}]}"#;
        assert_eq!(Schema::V1.validate(ok), Ok(()));
        assert_eq!(Schema::V2.validate(ok), Ok(()));
    }

    #[test]
    fn v1_rejects_an_rfc3339_ts_that_v2_accepts() {
        let line = br#"{"ts":"2026-11-25T19:02:00.123Z","msg":"hi"}"#;
        let e = Schema::V1.validate(line).unwrap_err();
        assert!(e.to_string().contains("RFC 3339"), "{e}");
        assert_eq!(Schema::V2.validate(line), Ok(()));
        let offset = br#"{"ts":"2026-11-25T19:02:00+05:30","msg":"hi"}"#;
        assert_eq!(Schema::V2.validate(offset), Ok(()));
    }

    #[test]
    fn both_reject_what_neither_schema_allows_and_say_what() {
        let cases: [(&[u8], &str); 8] = [
            (br#"{"ts":"yesterday","msg":"x"}"#, "not RFC 3339"),
            (br#"{"ts":1.5,"msg":"x"}"#, "not an integer"),
            (br#"{"msg":"x"}"#, "`ts` is missing"),
            (br#"{"ts":1}"#, "`msg` is missing"),
            (br#"{"ts":1,"msg":7}"#, "`msg` is not a string"),
            (br#"[1,2]"#, "not a JSON object"),
            (b"{\"ts\":1,\"msg\":\"x\"", "not a JSON object"),
            (b"{\"ts\":1,\"msg\":\"\xff\"}", "invalid UTF-8 at byte 15"),
        ];
        for (line, want) in cases {
            let e = Schema::V2.validate(line).unwrap_err().to_string();
            assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(line));
        }
    }
}
