//! The record validator's fast path: one pass over a line that checks it is a JSON object (RFC 8259
//! grammar) and notes the types of the two top-level fields the schemas care about, `ts` and `msg`.
//!
//! Why not serde_json alone: ingest runs on two cores, and validation through serde was over half of
//! one (perf, `check ingest`); a scan that builds nothing and skips what it does not check costs a
//! fraction of that. serde_json stays the **reference**: the rare shapes where its answer depends on
//! more than syntax — escaped top-level keys, an escaped `ts` string, a `\u` surrogate in `msg`,
//! numbers outside the plain 18-digit integers (range and float parsing), nesting near its recursion
//! limit — come back [`Scan::Unsure`] and are decided by serde. A differential property test (below)
//! holds the two to the same verdict on generated and mutated records.
//!
//! The caller has already checked that the whole line is UTF-8, so the scan works on bytes: outside
//! strings JSON is ASCII, and inside them any byte ≥ 0x80 is part of a valid character.

use super::field::{rfc3339, Field};

/// What the scan found.
pub(super) enum Scan {
    /// A JSON object; `ts` and `msg` as a serde `Option<Field>` would see them (`null` = absent).
    Valid {
        ts: Option<Field>,
        msg: Option<Field>,
    },
    /// Not a JSON object (the reference parser explains why).
    Invalid,
    /// Syntactically fine so far, but the verdict needs the reference parser.
    Unsure,
}

/// Deeper than this, leave it to serde_json (whose recursion limit is 128).
const MAX_DEPTH: u32 = 100;
/// A plain integer of at most this many digits is a JSON integer serde reads as i64/u64.
const MAX_INT_DIGITS: usize = 18;

/// The bytes that end a run of plain string content: a quote, a backslash, a control character.
static STOPS_STRING: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The index of the first quote, backslash or control character at or after `i`, if any. Eight
/// bytes at a time (SWAR): a string's end costs one mispredicted branch instead of one per byte
/// looked at, the tail goes byte by byte.
fn plain_run_end(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Flags (in its byte's high bit) each byte that is zero; flags above the lowest true one may be
    // false (a borrow), so only the lowest flag is used.
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
        let m = zero(w ^ (ONES * b'"' as u64)) | zero(w ^ (ONES * b'\\' as u64)) | below_space;
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| STOPS_STRING[c as usize])
        .map(|k| i + k)
}

enum Stop {
    Invalid,
    Unsure,
}

type R<T> = Result<T, Stop>;

/// Scan one record (the bytes of a line, without its newline). `line` must be valid UTF-8.
pub(super) fn scan(line: &[u8]) -> Scan {
    let mut s = Scanner { b: line, i: 0 };
    match s.record() {
        Ok((ts, msg)) => Scan::Valid { ts, msg },
        Err(Stop::Invalid) => Scan::Invalid,
        Err(Stop::Unsure) => Scan::Unsure,
    }
}

/// How a top-level field's string or number is read.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Ts,
    Msg,
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

/// What a string held, for the one case that reads it (`ts`).
struct Str<'a> {
    raw: &'a [u8],
    escaped: bool,
}

/// What a number looked like.
struct Num {
    plain_short_int: bool,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> R<u8> {
        let c = self.peek().ok_or(Stop::Invalid)?;
        self.i += 1;
        Ok(c)
    }

    fn expect(&mut self, want: u8) -> R<()> {
        if self.next()? == want {
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// The top-level object; the cursor ends past trailing whitespace, at the end of the line.
    fn record(&mut self) -> R<(Option<Field>, Option<Field>)> {
        let (mut ts, mut msg): (Option<Option<Field>>, Option<Option<Field>>) = (None, None);
        self.ws();
        self.expect(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.expect(b'"')?;
                let key = self.string(true)?;
                if key.escaped {
                    // `"t\u0073"` is the field `ts` to serde: let it decide.
                    return Err(Stop::Unsure);
                }
                self.ws();
                self.expect(b':')?;
                self.ws();
                let slot = match key.raw {
                    b"ts" => Some((&mut ts, Role::Ts)),
                    b"msg" => Some((&mut msg, Role::Msg)),
                    _ => None,
                };
                match slot {
                    // serde rejects a repeated field (even after a `null`).
                    Some((seen, _)) if seen.is_some() => return Err(Stop::Invalid),
                    Some((seen, role)) => *seen = Some(self.field(role)?),
                    None => self.value(1)?,
                }
                self.ws();
                match self.next()? {
                    b',' => self.ws(),
                    b'}' => break,
                    _ => return Err(Stop::Invalid),
                }
            }
        }
        self.ws();
        if self.i != self.b.len() {
            return Err(Stop::Invalid);
        }
        Ok((ts.flatten(), msg.flatten()))
    }

    /// The value of `ts` or `msg`, typed as the schema check needs it.
    fn field(&mut self, role: Role) -> R<Option<Field>> {
        match self.peek().ok_or(Stop::Invalid)? {
            b'n' => {
                self.literal(b"null")?;
                Ok(None)
            }
            b'"' => {
                self.i += 1;
                let s = self.string(true)?;
                if role == Role::Msg {
                    return Ok(Some(Field::Str { rfc3339: false }));
                }
                if s.escaped {
                    return Err(Stop::Unsure);
                }
                // Quotes are ASCII, so the raw slice of a UTF-8 line is UTF-8.
                let text = std::str::from_utf8(s.raw).map_err(|_| Stop::Invalid)?;
                Ok(Some(Field::Str {
                    rfc3339: rfc3339(text),
                }))
            }
            b'-' | b'0'..=b'9' => {
                if !self.number()?.plain_short_int {
                    return Err(Stop::Unsure);
                }
                Ok(Some(match role {
                    Role::Ts => Field::Int,
                    Role::Msg => Field::Other,
                }))
            }
            _ => {
                self.value(1)?;
                Ok(Some(Field::Other))
            }
        }
    }

    /// Any JSON value at nesting `depth` (the top-level object is depth 0).
    fn value(&mut self, depth: u32) -> R<()> {
        match self.next()? {
            b'"' => self.string(false).map(drop),
            b'{' => self.members(b'}', depth, |s| {
                s.expect(b'"')?;
                // serde reads every key as a string, even of a map it ignores.
                s.string(true)?;
                s.ws();
                s.expect(b':')?;
                s.ws();
                s.value(depth + 1)
            }),
            b'[' => self.members(b']', depth, |s| s.value(depth + 1)),
            b't' => self.rest_of(b"rue"),
            b'f' => self.rest_of(b"alse"),
            b'n' => self.rest_of(b"ull"),
            b'-' | b'0'..=b'9' => {
                self.i -= 1;
                self.number().map(drop)
            }
            _ => Err(Stop::Invalid),
        }
    }

    /// The members of an object or array whose opening bracket was just read, up to `close`:
    /// `member` reads one, commas and whitespace between them are handled here.
    fn members(
        &mut self,
        close: u8,
        depth: u32,
        mut member: impl FnMut(&mut Self) -> R<()>,
    ) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(Stop::Unsure);
        }
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            member(self)?;
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                c if c == close => return Ok(()),
                _ => return Err(Stop::Invalid),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        self.i += 1;
        self.rest_of(&word[1..])
    }

    fn rest_of(&mut self, tail: &[u8]) -> R<()> {
        if self.b[self.i..].starts_with(tail) {
            self.i += tail.len();
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }

    /// A string body; the opening quote is consumed, the closing one is consumed here. `strict`: serde
    /// reads this string (a key, or `ts`/`msg`), so a `\u` surrogate escape needs its pairing rules:
    /// defer it. In a value it skips, serde takes any four hex digits.
    fn string(&mut self, strict: bool) -> R<Str<'a>> {
        let start = self.i;
        let mut escaped = false;
        loop {
            // The common bytes first: neither a quote, a backslash nor a control character.
            self.i = plain_run_end(self.b, self.i).ok_or(Stop::Invalid)?;
            match self.b[self.i] {
                b'"' => {
                    let raw = &self.b[start..self.i];
                    self.i += 1;
                    return Ok(Str { raw, escaped });
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.next()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.b.get(self.i..self.i + 4).ok_or(Stop::Invalid)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Stop::Invalid);
                            }
                            // D800–DFFF: a surrogate half.
                            let surrogate = matches!(hex[0], b'd' | b'D')
                                && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F');
                            if strict && surrogate {
                                return Err(Stop::Unsure);
                            }
                            self.i += 4;
                        }
                        _ => return Err(Stop::Invalid),
                    }
                }
                // A raw control character inside a string.
                _ => return Err(Stop::Invalid),
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> R<Num> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let int_start = self.i;
        // serde_json reads `-0` as the float -0.0, not as an integer: not plain.
        let mut plain = match self.next()? {
            b'0' => !negative,
            b'1'..=b'9' => {
                self.digits();
                true
            }
            _ => return Err(Stop::Invalid),
        };
        let int_digits = self.i - int_start;
        if self.peek() == Some(b'.') {
            self.i += 1;
            plain = false;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            plain = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        Ok(Num {
            plain_short_int: plain && int_digits <= MAX_INT_DIGITS,
        })
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> R<()> {
        let start = self.i;
        self.digits();
        if self.i == start {
            Err(Stop::Invalid)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
