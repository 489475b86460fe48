//! Reading the run folder's CSV evidence back: RFC 4180 quoting (a field may hold commas and doubled
//! quotes inside double quotes), first line the header.

/// A parsed CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Csv {
    /// Column names.
    pub header: Vec<String>,
    /// Data rows (as many fields as they have; short rows are not padded).
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// Parse `text`; `None` when it has no header line.
    pub fn parse(text: &str) -> Option<Csv> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty()).map(fields);
        let header = lines.next()?;
        Some(Csv {
            header,
            rows: lines.collect(),
        })
    }

    /// Read and parse a file.
    pub fn read(path: &std::path::Path) -> Option<Csv> {
        Csv::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// The index of column `name`.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Field `name` of `row` as a number (`None` if missing, empty, or not a finite number).
    pub fn num(&self, row: &[String], name: &str) -> Option<f64> {
        let v: f64 = row.get(self.col(name)?)?.trim().parse().ok()?;
        v.is_finite().then_some(v)
    }

    /// Field `name` of `row` as text.
    pub fn text<'a>(&self, row: &'a [String], name: &str) -> Option<&'a str> {
        row.get(self.col(name)?).map(String::as_str)
    }
}

/// Split one line into fields, honouring double quotes.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_their_commas_and_quotes() {
        let c = Csv::parse("input,what,error\nzeros.zst,\"zeros, zstd\",\"said \"\"no\"\"\"\n")
            .unwrap();
        assert_eq!(c.header, ["input", "what", "error"]);
        assert_eq!(c.rows[0], ["zeros.zst", "zeros, zstd", "said \"no\""]);
        assert_eq!(c.text(&c.rows[0], "what"), Some("zeros, zstd"));
    }

    #[test]
    fn numbers_are_read_by_column_name_and_nan_is_no_number() {
        let c = Csv::parse("bs,p99\n128,NaN\n4096,12.5\n").unwrap();
        assert_eq!(c.num(&c.rows[0], "p99"), None);
        assert_eq!(c.num(&c.rows[1], "p99"), Some(12.5));
        assert_eq!(c.num(&c.rows[1], "nope"), None);
    }
}
