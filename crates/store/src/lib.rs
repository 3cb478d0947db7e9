//! siloscope-store, the source of truth on disk (items, events unique by source id, per-source
//! directory snapshots, cursors and history formats) on SQLite or PostgreSQL, and `privacy`: what
//! siloscope does for a person's rights. A batch, the histories it replaces and its cursor commit in
//! one transaction, so a crash loses nothing and counts nothing twice. It stores and streams; it
//! never computes signals, reads no config format and runs no async runtime.

pub mod forget;
pub mod lock;
mod migrations;
pub mod postgres;
pub mod privacy;
pub mod sqlite;
#[doc(hidden)]
pub mod testhooks;
#[cfg(test)]
pub(crate) mod tests;

// The files came from one crate where this root was `crate::store`; the aliases keep their paths,
// and the log lines keep their targets (`siloscope::store::…`), which `--log.level` filters on.
use crate as store;
use siloscope_model as model;
use siloscope_model::teams;

pub use forget::{ForgetCounts, ForgetOutcome, ForgetPlan, Forgotten, PurgeOutcome, Tombstone};
pub use lock::StoreLock;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use std::fmt;
use std::time::Duration;

use crate::model::{Batch, DirectorySnapshot, Event, HistoryStart, Item, ItemKind, ItemState, Ts};

/// A backend that persists batches. Every backend (SQLite, PostgreSQL) must give the
/// same answers for the same batches, so the daemon and the engine never know which one runs.
pub trait Store: Send {
    /// One transaction: upsert items by key (later updated_at wins; never go back to an older row),
    /// store events, replace this source's directory snapshot if Some, set the cursor, and record
    /// the source's history start if given (keeping the earliest ever given). A batch whose
    /// `cursor` is None leaves the stored cursor as it is. Either all of it is stored or none of it.
    ///
    /// Events outside `batch.complete` are incremental: inserted, an id already stored is left as
    /// it is. For each complete history of item K (`batch.complete`), the store converges on what
    /// that read says: an event of the read whose id is stored with other content (time, actor,
    /// kind, data, item) is updated and owned by K from then on; a stored event K's reads own
    /// (its own events, and those an earlier read of K reported on other items) that this read
    /// does not report, and no other read in the batch reports, is deleted. K's own events that
    /// the read reports take the order it reports them in (a fresh sync's insertion order, which
    /// the engine breaks equal times by): where their stored order differs, they move to the end
    /// of the insertion order, in the read's order, and K counts as rewritten. Other items'
    /// events are untouched. Committing the same batch twice changes nothing the second time.
    fn commit_batch(&mut self, batch: &Batch) -> Result<CommitOutcome, StoreError>;
    /// Where `source` resumes from; None if it never committed a cursor.
    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError>;
    /// The history format `source`'s stored events were written in, as last recorded by
    /// [`Store::restart_history`]; None when never recorded (a source never synced, or synced
    /// before formats were recorded).
    fn history_format(&self, source: &str) -> Result<Option<u32>, StoreError>;
    /// One transaction: records that `source` writes history format `format` from now on, and sets
    /// its cursor to `cursor` (None deletes it, so its next pass reads everything). Stored events
    /// stay: the re-read replaces each item's history as it reads it.
    fn restart_history(&mut self, source: &str, format: u32, cursor: Option<&str>) -> Result<(), StoreError>;
    /// The stored events of `items`, each item's in insertion order (for replacing them in a frame).
    fn for_each_event_of(&self, items: &[String], f: &mut dyn FnMut(Event)) -> Result<(), StoreError>;
    /// All items, ordered by key.
    fn for_each_item(&self, f: &mut dyn FnMut(Item)) -> Result<(), StoreError>;
    /// All events in insertion order, streamed (a store can hold 10M events: never collect them
    /// all in the store layer). Rows this build cannot decode are skipped with a warning.
    fn for_each_event(&self, f: &mut dyn FnMut(Event)) -> Result<(), StoreError>;
    /// The latest directory snapshot of each source, ordered by source name.
    fn directory_snapshots(&self) -> Result<Vec<(String, DirectorySnapshot)>, StoreError>;
    /// Where each source's history begins, as recorded with its first batch, ordered by source
    /// name. Sources synced before the store recorded it are missing.
    fn history_starts(&self) -> Result<Vec<(String, HistoryStart)>, StoreError>;
    /// Item counts grouped by (source, kind, state), ordered by those three.
    fn item_counts(&self) -> Result<Vec<ItemCount>, StoreError>;
    fn event_count(&self) -> Result<u64, StoreError>;
    /// Event counts per source, ordered by source name.
    fn event_counts_by_source(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// The tombstones of forgotten identities, oldest first.
    fn tombstones(&self) -> Result<Vec<Tombstone>, StoreError>;
    /// One transaction: records a tombstone per identity of the plan (kept if already there), then
    /// replaces each identity by its placeholder as the actor of events (or deletes those events
    /// when `plan.drop_events`), in event data (assignee, reviewer, co-author: exact JSON string
    /// values) and as item author, and stores `plan.snapshots`. Running it again changes nothing.
    fn forget(&mut self, plan: &ForgetPlan) -> Result<ForgetOutcome, StoreError>;
    /// One transaction: deletes the events before `horizon` (strictly) and then the items last
    /// updated before it that have no event left. Nothing else.
    fn purge_before(&mut self, horizon: Ts) -> Result<PurgeOutcome, StoreError>;
    /// Rewrites the storage so deleted and overwritten rows are gone from its files too (SQLite:
    /// VACUUM, then the WAL truncated; PostgreSQL: VACUUM FULL of the tables that hold people).
    fn compact(&mut self) -> Result<(), StoreError>;

    /// A replica's lease on `unit` for `period`, by the database's clock (replicas' clocks may
    /// disagree): granted when the unit is free, its lease expired, or `holder` holds it already
    /// (then it is renewed and keeps its token); None while another holder's lease runs. Atomic:
    /// of replicas asking at once, one gets it. A unit passing to a new holder gets a higher
    /// token, so a commit begun under an older lease is refused ([`Store::commit_leased`]).
    /// SQLite has one writing process: always granted.
    fn acquire_lease(&mut self, unit: &str, holder: &str, period: Duration) -> Result<Option<Lease>, StoreError>;
    /// Extends `lease` to `period` from now if it is still its holder's and unexpired; false when
    /// it was lost (expired, maybe taken over): its holder must stop committing under it.
    fn renew_lease(&mut self, lease: &Lease, period: Duration) -> Result<bool, StoreError>;
    /// Gives `lease` up (it expires now, its token stays); nothing if it was lost already.
    fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError>;
    /// Every lease ever granted, by unit, with the milliseconds left by the database's clock
    /// (zero or less: expired). SQLite keeps none.
    fn leases(&self) -> Result<Vec<LeaseState>, StoreError>;
    /// [`Store::commit_batch`] under `lease` (None: no lease asked, as `commit_batch`): in the
    /// commit's own transaction the lease is checked to be its holder's with its token and
    /// unexpired, and held against takeover until the commit ends; otherwise nothing is stored and
    /// the answer is [`StoreError::LeaseLost`]. Also says the store's change number after the
    /// commit when it changed what a frame holds ([`Store::change_count`]).
    fn commit_leased(&mut self, batch: &Batch, lease: Option<&Lease>) -> Result<LeasedCommit, StoreError>;
    /// How many commits (and forgets and purges) changed items, events or directories: a leader
    /// whose frame holds changes up to N reloads when the store is past N. SQLite, written by one
    /// process that sees its own changes: always 0.
    fn change_count(&self) -> Result<u64, StoreError>;

    /// Every item (by key) and then every event (in insertion order), read in one consistent
    /// snapshot, and the change number ([`Store::change_count`]) that snapshot holds every change
    /// up to: a frame loaded so can catch up with [`Store::changes_since`] without counting a
    /// change twice.
    fn load_all(&self, items: &mut dyn FnMut(Item), events: &mut dyn FnMut(Event)) -> Result<u64, StoreError> {
        // One writing process (SQLite): nothing commits between these reads.
        let change = self.change_count()?;
        self.for_each_item(items)?;
        self.for_each_event(events)?;
        Ok(change)
    }

    /// What changed after change number `after` (a frame that holds every change up to it asks),
    /// read in one consistent snapshot and handed to `apply` in the order a frame takes it (see
    /// [`Change`]); the answer is the change number the frame then holds everything up to. None,
    /// with nothing handed over, when only a full load can say: a forget or a retention purge
    /// since, a log that no longer reaches back, or a backend that keeps no log (SQLite).
    fn changes_since(&self, after: u64, apply: &mut dyn FnMut(Change)) -> Result<Option<u64>, StoreError> {
        let _ = (after, apply);
        Ok(None)
    }

    /// [`Store::commit_leased`] after the redaction of [`Store::commit_redacted`].
    fn commit_redacted_leased(&mut self, batch: &mut Batch, lease: Option<&Lease>) -> Result<LeasedCommit, StoreError> {
        let tombstones = self.tombstones()?;
        if !tombstones.is_empty() {
            crate::privacy::Tombstones::new(&tombstones).redact_batch(batch);
        }
        self.commit_leased(batch, lease)
    }

    /// [`Store::commit_batch`] after replacing every tombstoned identity in `batch` by its
    /// placeholder (and dropping its events where the tombstone says so), so that neither the
    /// store nor the caller's frame, which reads `batch` afterwards, ever holds it again.
    fn commit_redacted(&mut self, batch: &mut Batch) -> Result<CommitOutcome, StoreError> {
        let tombstones = self.tombstones()?;
        if !tombstones.is_empty() {
            crate::privacy::Tombstones::new(&tombstones).redact_batch(batch);
        }
        self.commit_batch(batch)
    }
}

/// An event row as stored, for comparing with what a complete read reports.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub id: String,
    pub item: String,
    pub at: i64,
    pub actor: Option<String>,
    pub kind: String,
    pub data: String,
    pub origin: Option<String>,
    /// Insertion order (`events.seq`).
    pub seq: i64,
}

impl StoredEvent {
    /// Whether the row says what `event` says. Data is compared decoded, so a row an older build
    /// serialised differently (field order, defaults) is not rewritten for nothing.
    pub fn same_content(&self, event: &Event) -> bool {
        self.item == event.item
            && self.at == event.at
            && self.actor == event.actor
            && self.kind == event.kind.name()
            && serde_json::from_str::<crate::model::EventKind>(&self.data).is_ok_and(|k| k == event.kind)
    }
}

/// What one `commit_batch` changed, so callers count only what is new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Items inserted or changed. An item identical to the stored row, or older than it, is not counted.
    pub items_upserted: usize,
    /// Indices into `batch.events` that were new (not already stored, not repeated earlier in the batch).
    pub new_events: Vec<usize>,
    /// Items that had stored events removed or changed by a complete history, sorted, once each:
    /// a frame holding their events must replace them with the store's (`for_each_event_of`).
    /// Their new events are among `new_events` too.
    pub rewritten_items: Vec<String>,
    /// Stored events deleted because a complete history no longer reports them.
    pub events_removed: usize,
    /// Stored events updated because a complete history reports them with other content.
    pub events_changed: usize,
}

/// The unit of work replicas lease: one configured source (a `[[sources]]` entry's `name`).
pub fn source_unit(source: &str) -> String {
    format!("source:{source}")
}

/// The unit whose holder is the leader: the one replica that computes and exports the signals.
pub const LEADER_UNIT: &str = "leader";

/// A unit held by a replica, as granted by [`Store::acquire_lease`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub unit: String,
    /// The replica's id.
    pub holder: String,
    /// Grows each time the unit passes to a holder: a commit under an older token is refused.
    pub token: i64,
}

/// A row of the lease table, for operators and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    pub unit: String,
    pub holder: String,
    pub token: i64,
    /// Milliseconds until it expires by the database's clock; zero or less once expired.
    pub remaining_ms: i64,
}

/// What [`Store::commit_leased`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeasedCommit {
    pub outcome: CommitOutcome,
    /// The store's change number this commit took, when it changed items, events or a directory.
    pub change: Option<u64>,
}

/// One change [`Store::changes_since`] hands over, in the order a frame applies them as a local
/// commit does: every `Item` first (the stored rows of the items the changes wrote), then every
/// `Rewritten` item (all its stored events, in insertion order, replacing the frame's), then
/// every new `Event` in insertion order (none of them a rewritten item's).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Item(Item),
    Rewritten { item: String, events: Vec<Event> },
    Event(Event),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCount {
    pub source: String,
    pub kind: ItemKind,
    pub state: ItemState,
    pub count: u64,
}

/// Why a store operation failed. Every message names the store, says what failed and what to do.
#[derive(Debug)]
pub enum StoreError {
    /// The store could not be opened: wrong path or URL, not a store, no permission, locked.
    Open { store: String, problem: String, fix: String },
    /// The store was written by a newer siloscope whose schema this build does not know.
    NewerSchema { store: String, found: i64, supported: i64, fix: String },
    /// A read or write on an open store failed.
    Backend { store: String, action: String, fix: String, source: Box<dyn std::error::Error + Send + Sync> },
    /// A value could not be encoded for storage (a bug: model types always serialise).
    Encode { store: String, what: String, source: serde_json::Error },
    /// A commit under a lease this replica no longer holds (it expired, another replica may have
    /// it): nothing of the batch was stored.
    LeaseLost { store: String, unit: String },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open { store, problem, fix } => write!(f, "cannot open store {store}: {problem}; fix: {fix}"),
            StoreError::NewerSchema { store, found, supported, fix } => write!(
                f,
                "cannot open store {store}: it was written by a newer siloscope (schema version \
                 {found}, this build knows up to {supported}); fix: {fix}"
            ),
            StoreError::Backend { store, action, fix, source } => {
                write!(f, "store {store}: {action} failed: {source}; fix: {fix}")
            }
            StoreError::Encode { store, what, source } => {
                write!(f, "store {store}: cannot encode {what}: {source}; this is a bug in siloscope, please report it")
            }
            StoreError::LeaseLost { store, unit } => write!(
                f,
                "store {store}: the lease on {unit} is no longer this replica's (it expired: another replica may \
                 sync it now), so the step was not committed; fix: none needed, the replica holding it reads the \
                 step again (if this repeats, make [store] lease longer than the longest stall of a replica)"
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Backend { source, .. } => Some(source.as_ref()),
            StoreError::Encode { source, .. } => Some(source),
            StoreError::Open { .. } | StoreError::NewerSchema { .. } | StoreError::LeaseLost { .. } => None,
        }
    }
}
