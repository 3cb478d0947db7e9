//! siloscope-facts, the facts of an analysis as tables: one polars `DataFrame` per fact kind, each
//! with one documented schema (`schema`, rendered into docs/facts.md), for the report's figures and
//! the analyst export (`write`: Parquet, CSV, NDJSON). It derives no fact (the engine does), reads
//! no store and no clock (`as_of` is a parameter), shows teams only as their exported labels (the
//! privacy floor folded them), names a person only with `name_people`, and neutralises tracker text.

pub mod schema;
mod tables;
#[cfg(test)]
mod tests;
pub mod write;

use siloscope_engine::aggregate::TeamLabels;
use siloscope_engine::{Analysis, Frame, SignalsConfig};
use siloscope_model::Ts;
use siloscope_model::teams::Directory;

pub use polars;
pub use polars::prelude::{DataFrame, PolarsError, PolarsResult};
pub use schema::{Column, ColumnType, FactKind};

/// The half-open time range `[from, to)` (Unix seconds) a table keeps, on each kind's own time
/// (`FactKind::time_column`); an open end keeps everything on that side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<Ts>,
    pub to: Option<Ts>,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange { from: None, to: None };
    pub fn contains(&self, t: Ts) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

/// What the tables are made of: one analysis, the frame its item numbers point into, and how its
/// teams are shown at `as_of` (the exported labels: `TeamLabels::new(analysis, dir, cfg, as_of)`,
/// or a caller's own folding such as the report's, through `TeamLabels::from_names`).
pub struct Facts<'a> {
    pub analysis: &'a Analysis,
    pub frame: &'a Frame,
    pub dir: &'a Directory,
    pub cfg: &'a SignalsConfig,
    pub labels: &'a TeamLabels,
    /// The time states are taken at (a handoff waiting or acknowledged, a decision rehashed) and
    /// the end of what is shown: facts after it are left out, times after it read as not yet.
    pub as_of: Ts,
    /// Adds the `person` column (directory names) where a fact has a person; off by default.
    pub name_people: bool,
}

impl<'a> Facts<'a> {
    /// The table of one fact kind over `range`, columns as `kind.columns(name_people)` documents.
    pub fn table(&self, kind: FactKind, range: TimeRange) -> PolarsResult<DataFrame> {
        tables::build(self, kind, range)
    }
}
