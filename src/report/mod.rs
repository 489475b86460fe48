//! Run folders and the HTML report. A run folder (`reports/runs/<date>-<host>/`) holds the provenance of
//! the run, each check's JSON and CSV evidence, and `index.html` rendered from them — never a figure the
//! run did not produce.

mod criterion;
mod html;
mod provenance;

pub use criterion::criterion_summary;
pub use html::render_run;
pub use provenance::{crate_versions, Provenance};
