//! siloscope-sources: one module per external API (and the simulator), each turning "what changed
//! since my cursor" into normalized batches, the HTTP policy they share and `progress`, what a sync
//! has done so far, and `registry`, the one list of source kinds. Sources know nothing about
//! signals, the store or the exporter: the daemon hands them `now` and the clock it chose, and
//! commits what they return; their own series (`telemetry`) register into whatever registry they
//! are given.

pub mod bounds;
pub mod configkit;
pub mod cost;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod jira;
pub mod profiles;
pub mod progress;
pub mod redact;
pub mod registry;
pub mod settings;
pub mod simulator;
pub mod telemetry;
pub mod text;

use std::future::Future;
use std::pin::Pin;

// The files came from one crate where this root was `crate::sources`; the aliases keep their paths,
// and the log lines keep their targets (`siloscope::sources::…`), which `--log.level` filters on.
use crate as sources;
use siloscope_model as model;
use siloscope_model::{mutex, teams};

use crate::model::{Batch, Ts};

/// Why a sync step failed. `kind` becomes the `kind` label of `siloscope_source_errors_total`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceError {
    pub kind: &'static str,
    pub message: String,
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

impl std::error::Error for SourceError {}

impl SourceError {
    /// A configuration the API says cannot work: the same error at every retry.
    pub fn is_config(&self) -> bool {
        self.kind == "config"
    }
}

/// One step of a sync: a batch to commit (with its cursor) and whether the source is caught up.
/// A long backfill is many steps, so a crash loses at most the step in flight.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStep {
    pub batch: Batch,
    pub caught_up: bool,
}

pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<SyncStep, SourceError>> + Send + 'a>>;

/// A configured source instance.
pub trait Source: Send {
    /// The configured source name (`github-acme`), used as the `source` label.
    fn name(&self) -> &str;
    /// Reads the next step after `cursor` (None = never synced), up to `now`.
    fn step<'a>(&'a mut self, cursor: Option<&'a str>, now: Ts) -> StepFuture<'a>;
    /// Hands the source the telemetry its API client records requests, rate-limit
    /// headroom and errors into (the daemon calls this once, before the first step).
    fn attach_health(&mut self, _health: std::sync::Arc<crate::sources::telemetry::SourceTelemetry>) {}
    /// The version of the history format this build's source writes: which events a read of an
    /// item yields, under which ids, at which times. A source that reads items' whole histories
    /// (batches with `complete` items) bumps it whenever a parser change makes stored histories
    /// read differently; the daemon then re-reads every item, and each item's complete history
    /// replaces what an older build stored. None: not versioned (incremental sources).
    fn history_format(&self) -> Option<u32> {
        None
    }
    /// The cursor a re-read of every item starts from, given the stored one: a pass from the
    /// beginning that keeps what identifies items (a renamed repository's key scope). None: no
    /// cursor at all (the source's first sync).
    fn rewind(&self, _stored: &str) -> Option<String> {
        None
    }
    /// Where the pass in progress stands, read from the cursor a step just wrote, for the progress
    /// shown during a sync (src/progress.rs). None: the cursor does not say.
    fn pass_position(&self, _cursor: &str, _now: Ts) -> Option<PassPosition> {
        None
    }
    /// How many items a first sync up to `now` reads, from the API's cheap counts (GitHub search
    /// `issueCount`, Jira search totals, GitLab `X-Total`), one count per part; reads no item
    /// and stores nothing (`sync --estimate`, src/estimate.rs). None: the source cannot count.
    fn count_items<'a>(&'a mut self, _now: Ts) -> CountFuture<'a> {
        Box::pin(async { Ok(None) })
    }
}

/// What a source's count found: items per part (list, scope, search), in pass order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemCounts {
    pub parts: Vec<(String, u64)>,
    /// The page size the source reads items with (items per request).
    pub page_size: u32,
}

impl ItemCounts {
    pub fn items(&self) -> u64 {
        self.parts.iter().map(|(_, n)| n).sum()
    }
}

pub type CountFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<ItemCounts>, SourceError>> + Send + 'a>>;

/// Where a pass stands: a pass reads `parts` lists (scopes, projects, one search) one after
/// another, each in order of update time from `from` up to `until` (the sync's now).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PassPosition {
    pub parts: u32,
    pub parts_done: u32,
    /// Where the part in progress began (None: its beginning, unknown until the first page).
    pub from: Option<Ts>,
    /// The update time the part in progress has been read up to (None: nothing read yet).
    pub reached: Option<Ts>,
    pub until: Ts,
}

/// The history format written before formats were recorded in the store: a source with a cursor
/// and no recorded format was synced by such a build.
pub const UNRECORDED_HISTORY_FORMAT: u32 = 1;

/// Error kinds a source reports (`siloscope_source_errors_total{kind}`), pre-created at 0.
/// `inconsistent`: a payload kept but contradicting itself (an event dated before its item was
/// created); `auxiliary`: an auxiliary endpoint (Jira `/status`, `/myself`) failed and the sync
/// went on without it. Neither makes the source down. `config`: the API shows the configuration
/// cannot be read as written (a GitHub `organizations` entry that is a user account); retrying
/// cannot help, so the daemon stops syncing that source until the config is fixed. `ceiling`: a
/// server made a step read more than `sources::bounds` allows (an endless list, a huge body);
/// `loop`: it sent a page, a request's cursor or a step's cursor a second time. Both end the
/// step; the sync resumes at the next interval.
pub const ERROR_KINDS: [&str; 10] =
    ["transport", "http", "rate_limit", "malformed", "store", "inconsistent", "auxiliary", "config", "ceiling", "loop"];
