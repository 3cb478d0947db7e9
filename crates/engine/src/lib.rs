//! siloscope-engine, the signals engine: a pure function of (events, team directory, config, now) →
//! `Signals`, and the directory's `coverage` of the activity. No I/O and no clock reads here: `now`
//! is a parameter, so every signal has table-driven tests. It depends on the model crate only (no
//! runtime, SQL, HTTP or config format: `cargo tree -p siloscope-engine -e normal`).

use std::collections::HashMap;

// The files came from one crate where this root was `crate::signals`; the aliases keep their paths.
use crate as signals;
use siloscope_model as model;
use siloscope_model::teams;

use crate::model::{DAY, Ts};
use crate::teams::ScopePattern;

/// Kinds of handoff (SIGNALS.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HandoffKind {
    Reassign,
    Review,
    Transfer,
}

impl HandoffKind {
    pub const ALL: [HandoffKind; 3] = [HandoffKind::Reassign, HandoffKind::Review, HandoffKind::Transfer];
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffKind::Reassign => "reassign",
            HandoffKind::Review => "review",
            HandoffKind::Transfer => "transfer",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Which items are decisions and what makes them made or rehashed (SIGNALS.md §4).
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionSelector {
    /// Lower-cased label names marking a decision.
    pub labels: Vec<String>,
    /// Lower-cased tracker issue types marking a decision.
    pub issue_types: Vec<String>,
    /// Decision-record files in repositories (read by code-host sources).
    pub record_paths: Vec<ScopePattern>,
    /// Lower-cased statuses that make a decision (record `Status: Accepted`, Jira `Accepted`).
    pub accepted_statuses: Vec<String>,
    /// Lower-cased statuses that rehash a made decision.
    pub superseded_statuses: Vec<String>,
}

impl Default for DecisionSelector {
    fn default() -> Self {
        DecisionSelector {
            labels: vec!["decision".into(), "adr".into(), "rfc".into()],
            issue_types: vec!["decision".into()],
            record_paths: vec![ScopePattern("docs/adr/*.md".into()), ScopePattern("docs/decisions/*.md".into())],
            accepted_statuses: vec!["accepted".into()],
            superseded_statuses: vec!["superseded".into(), "deprecated".into()],
        }
    }
}

/// Thresholds and windows of the signals. Team names are lower-cased.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalsConfig {
    /// A waiting handoff is stalled after this long (default 2 days).
    pub stall_after: Ts,
    pub stall_after_by_team: HashMap<String, Ts>,
    pub stall_after_by_kind: HashMap<HandoffKind, Ts>,
    /// Count stall time in the receiving team's working hours (teams with a calendar).
    pub stall_in_working_hours: bool,
    /// Custody returning B → A within this long of A → B is a bounce (default 7 days).
    pub bounce_window: Ts,
    /// Rehash reasons count within this long after the decision was made (default 90 days).
    pub rehash_window: Ts,
    /// "Discussion resumes": at least this many comments (default 3) …
    pub rehash_comments: u32,
    /// … from at least this many teams (default 2).
    pub rehash_comment_teams: u32,
    /// Teams with fewer active people in the privacy window are folded into `other`.
    pub privacy_floor: u32,
    /// Rolling windows of the windowed gauges, by label (`7d`, `28d`, `90d`).
    pub windows: Vec<(String, Ts)>,
    pub decisions: DecisionSelector,
    /// `siloscope teams`, the report and the health board warn when a source's share of events
    /// attributed to a team is under this (0–1, default 0.95; src/coverage.rs).
    pub coverage_warning: f64,
    /// `[[agreements]]`: working agreements between teams, as SLOs (`agreements.rs`).
    pub agreements: Vec<crate::agreements::Agreement>,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        SignalsConfig {
            stall_after: 2 * DAY,
            stall_after_by_team: HashMap::new(),
            stall_after_by_kind: HashMap::new(),
            stall_in_working_hours: false,
            bounce_window: 7 * DAY,
            rehash_window: 90 * DAY,
            rehash_comments: 3,
            rehash_comment_teams: 2,
            privacy_floor: 5,
            windows: vec![("7d".into(), 7 * DAY), ("28d".into(), 28 * DAY), ("90d".into(), 90 * DAY)],
            decisions: DecisionSelector::default(),
            coverage_warning: crate::coverage::DEFAULT_COVERAGE_WARNING,
            agreements: Vec::new(),
        }
    }
}

impl SignalsConfig {
    /// The window over which "active people" are counted for the privacy floor: the longest.
    pub fn privacy_window(&self) -> Ts {
        self.windows.iter().map(|(_, w)| *w).max().unwrap_or(90 * DAY)
    }
}

pub mod aggregate;
pub mod agreements;
pub mod coverage;
pub mod custody;
pub mod decisions;
pub mod engagement;
pub mod frame;
pub mod records;
pub mod reviews;
pub mod state;
#[cfg(test)]
mod tests;
pub mod walk;

pub use aggregate::{Histogram, LATENCY_BUCKETS, Signals, aggregate};
pub use frame::Frame;
pub use records::Analysis;
pub use walk::analyze;

/// The whole engine: facts from the events up to `now`, then the exported values at `now`.
pub fn compute(frame: &Frame, dir: &crate::teams::Directory, cfg: &SignalsConfig, now: Ts) -> (Analysis, Signals) {
    let analysis = analyze(frame, dir, cfg, now);
    let signals = aggregate(&analysis, frame, dir, cfg, now);
    (analysis, signals)
}
