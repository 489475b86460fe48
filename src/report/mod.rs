//! Run folders and the HTML report. A run folder (`reports/runs/<date>-<host>/`) holds the provenance of
//! the run, each check's JSON and CSV evidence, and `index.html` rendered from them — never a figure the
//! run did not produce.

mod charts;
mod compare;
mod criterion;
mod csv;
mod figures;
mod html;
mod provenance;
mod summary;

pub use charts::{render_svg, Chart, Plot, Reference, Series};
pub use compare::{
    changed, compare, render_html as render_comparison, Comparison, FigureDelta, MIN_FACTOR,
};
pub use criterion::criterion_summary;
pub use csv::Csv;
pub use figures::charts_for;
pub use html::render_run;
pub use provenance::{crate_versions, Provenance};
