//! Reading the run folder's CSV evidence back (the `csv` crate: RFC 4180, so a field may hold commas,
//! doubled quotes and newlines inside double quotes), first record the header.

/// A parsed CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Csv {
    /// Column names.
    pub header: Vec<String>,
    /// Data rows (as many fields as they have; short rows are not padded).
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// Parse `text`; `None` when it has no header or does not parse as CSV.
    pub fn parse(text: &str) -> Option<Csv> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut records = r.records().filter_map(|rec| {
            let rec = rec.ok()?;
            // Blank lines carry no fields worth a row.
            (!(rec.len() == 1 && rec[0].trim().is_empty()))
                .then(|| rec.iter().map(str::to_string).collect::<Vec<_>>())
        });
        let header = records.next()?;
        Some(Csv {
            header,
            rows: records.collect(),
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
    fn a_quoted_field_may_hold_a_newline() {
        // Before, the reader split on lines first: an error message with a newline in it (a
        // criterion's `what`, a child's stderr) cut its row in two.
        let c = Csv::parse("input,error\nzeros.zst,\"line one\nline two\"\nnext,ok\n").unwrap();
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.text(&c.rows[0], "error"), Some("line one\nline two"));
        assert_eq!(c.text(&c.rows[1], "input"), Some("next"));
    }

    #[test]
    fn numbers_are_read_by_column_name_and_nan_is_no_number() {
        let c = Csv::parse("bs,p99\n128,NaN\n4096,12.5\n").unwrap();
        assert_eq!(c.num(&c.rows[0], "p99"), None);
        assert_eq!(c.num(&c.rows[1], "p99"), Some(12.5));
        assert_eq!(c.num(&c.rows[1], "nope"), None);
    }
}
