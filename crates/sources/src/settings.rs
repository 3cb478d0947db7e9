//! What every source's settings share: the [`Settings`] trait a source's config struct implements
//! (building the source, where its history begins, what its first backfill costs), the
//! [`SourceSettings`] value a `[[sources]]` entry holds, and the checks of the keys every API
//! source takes (`token_env`, `requests_per_hour`, `page_size`). Owns no kind: each source's folder
//! implements the trait, and `registry.rs` lists the kinds.

use std::any::Any;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::Source;
use super::configkit::{Checker, DeTable, Value, secrets};
use super::cost::CostModel;
use super::http::Clock;
use crate::model::{HistoryStart, Ts};

/// A source kind's settings, as its `config.rs` checked them from a `[[sources]]` entry.
pub trait Settings: AnySettings + fmt::Debug + Send + Sync {
    /// Builds the source named `name` (the daemon, `sync`, `init` and `sync --estimate`) on
    /// `clock`, the one its API client waits, paces and reads rate-limit resets by: the caller's
    /// (the daemon's `State::clock`, which `main.rs` chooses; a test's `ManualClock`).
    fn build(&self, name: &str, clock: Arc<dyn Clock>) -> Box<dyn Source>;
    /// The configured `since` of an API source: where the history to cover begins.
    fn since(&self) -> Option<Ts> {
        None
    }
    /// Where the source's history begins if its first sync runs at `now`: with `since`, only items
    /// updated since then are read (activity from then on is complete); without it every item.
    /// Recorded with the source's first batch.
    fn history_start(&self, _name: &str, _now: Ts) -> HistoryStart {
        self.since().map_or(HistoryStart::Complete, HistoryStart::From)
    }
    /// What a first backfill costs per item and page (`sync --estimate`); None: it counts nothing.
    fn cost_model(&self) -> Option<CostModel> {
        None
    }
}

/// What lets a `dyn Settings` be cloned, compared and downcast; implemented for every
/// `Settings` type that is `Clone + PartialEq`.
pub trait AnySettings: Any {
    fn clone_settings(&self) -> Box<dyn Settings>;
    fn same_settings(&self, other: &dyn Settings) -> bool;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Settings + Clone + PartialEq> AnySettings for T {
    fn clone_settings(&self) -> Box<dyn Settings> {
        Box::new(self.clone())
    }
    fn same_settings(&self, other: &dyn Settings) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The kind-specific settings of a configured source: one of the registry's kinds.
pub struct SourceSettings(Box<dyn Settings>);

impl SourceSettings {
    pub fn new(settings: impl Settings) -> Self {
        SourceSettings(Box::new(settings))
    }

    /// The settings as the kind's own config struct (`GithubConfig`), if they are of that kind.
    pub fn get<T: Settings>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    pub fn get_mut<T: Settings>(&mut self) -> Option<&mut T> {
        self.0.as_any_mut().downcast_mut()
    }
}

impl std::ops::Deref for SourceSettings {
    type Target = dyn Settings;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl Clone for SourceSettings {
    fn clone(&self) -> Self {
        SourceSettings(self.0.clone_settings())
    }
}

impl PartialEq for SourceSettings {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_settings(other.0.as_ref())
    }
}

impl fmt::Debug for SourceSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a source's check reads besides its own entry.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    /// The config file's directory: relative credential files are resolved against it.
    pub config_dir: &'a Path,
    /// `[decisions] record_paths`, as written (GitHub reads the files under them).
    pub record_paths: &'a [String],
}

/// A kind's check of one `[[sources]]` entry (the entry's value for spans, and its table).
pub type Check = fn(&mut Checker<'_>, &Value<'_>, &DeTable<'_>, &CheckContext<'_>) -> Option<SourceSettings>;

// ---------------------------------------------------------------------------------------------
// Keys every API source takes.

/// `token_env`: the name of an environment variable holding a credential (never the value).
pub fn token_env(c: &mut Checker<'_>, entry: &DeTable<'_>, example: &str) -> Option<String> {
    let v = entry.get("token_env")?;
    let name = c.nonempty_string(v, "sources.token_env", &format!("token_env = \"{example}\""))?;
    if secrets::pasted_token(&name) {
        c.report(
            v.span(),
            "`sources.token_env` holds what looks like the token itself, not the name of an environment variable (the value is not shown)",
            format!(
                "revoke that token if the file was shared, put the token in a variable and name it: `token_env = \"{example}\"` (or `token_file = \"path\"`)"
            ),
        );
        return None;
    }
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some(name)
    } else {
        c.report(
            v.span(),
            format!("`sources.token_env` must name an environment variable, found \"{name}\""),
            format!("write it like `token_env = \"{example}\"`"),
        );
        None
    }
}

/// `requests_per_hour` (a ceiling of the user's own) and `page_size` (1..=max) of an API source;
/// false when either is invalid (the problem is reported).
pub fn request_limits(
    c: &mut Checker<'_>,
    entry: &DeTable<'_>,
    requests_per_hour: &mut Option<u32>,
    page_size: &mut u32,
    max_page: i128,
    example_page: u32,
) -> bool {
    let mut ok = true;
    if let Some(v) = entry.get("requests_per_hour") {
        match c.integer(v, "sources.requests_per_hour", 1, 1_000_000, "requests_per_hour = 2000") {
            Some(n) => *requests_per_hour = Some(n as u32),
            None => ok = false,
        }
    }
    if let Some(v) = entry.get("page_size") {
        match c.integer(v, "sources.page_size", 1, max_page, &format!("page_size = {example_page}")) {
            Some(n) => *page_size = n as u32,
            None => ok = false,
        }
    }
    ok
}
