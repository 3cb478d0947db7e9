//! What the store does to forget a person and to expire old events: the plan a caller hands in,
//! what each step changed, and the statements both backends run (SQLite's `?N` parameters;
//! PostgreSQL's are the same with `$N`). It must not decide whom to forget or build placeholders:
//! that is `crate::privacy`; it must not keep any identity in clear (tombstones hold digests).

use crate::model::Ts;

/// One identity to forget, with the placeholder that stands for it from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgotten {
    pub identity: String,
    /// SHA-256 of the identity, lower-case hex (`crate::privacy::digest`).
    pub digest: String,
    /// `forgotten:N`.
    pub placeholder: String,
}

/// Everything one `forget` changes, committed in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForgetPlan {
    pub identities: Vec<Forgotten>,
    /// Delete the events these identities acted in, rather than re-attribute them.
    pub drop_events: bool,
    /// Directory snapshots to replace, as (source, JSON): the stored ones with the identities
    /// rewritten, and the placeholders' own snapshot (`crate::privacy::FORGOTTEN_SOURCE`).
    pub snapshots: Vec<(String, String)>,
    pub at: Ts,
}

/// What forgetting one identity changed in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForgetCounts {
    /// Events whose actor became the placeholder.
    pub events_reattributed: u64,
    /// Events deleted (with `drop_events`).
    pub events_deleted: u64,
    /// Events whose data named the identity (assignee, review request, co-author).
    pub events_data_rewritten: u64,
    /// Items whose author became the placeholder.
    pub items_reattributed: u64,
    /// Whether the tombstone was new.
    pub tombstone_added: bool,
}

impl ForgetCounts {
    pub fn changed_anything(&self) -> bool {
        self.events_reattributed + self.events_deleted + self.events_data_rewritten + self.items_reattributed > 0
            || self.tombstone_added
    }
}

/// What one `forget` changed: per identity of the plan (same order), and snapshots rewritten.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForgetOutcome {
    pub per_identity: Vec<ForgetCounts>,
    pub snapshots_rewritten: u64,
}

/// A tombstone as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub digest: String,
    pub placeholder: String,
    pub drop_events: bool,
    pub forgotten_at: Ts,
}

/// What one retention purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeOutcome {
    pub events_deleted: u64,
    pub items_deleted: u64,
}

pub(crate) const TOMBSTONES: &str =
    "SELECT digest, placeholder, drop_events, forgotten_at FROM tombstones ORDER BY forgotten_at, placeholder";

/// ?1 digest, ?2 placeholder, ?3 drop events (0/1), ?4 when. Forgetting again with events
/// dropped upgrades a re-attributing tombstone; never the other way.
pub(crate) const UPSERT_TOMBSTONE: &str = "
INSERT INTO tombstones (digest, placeholder, drop_events, forgotten_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (digest) DO UPDATE SET drop_events = ?3 WHERE ?3 > tombstones.drop_events";

pub(crate) const TOMBSTONE_EXISTS: &str = "SELECT COUNT(*) FROM tombstones WHERE digest = ?1";

/// ?1 identity, ?2 placeholder.
pub(crate) const REATTRIBUTE_EVENTS: &str = "UPDATE events SET actor = ?2 WHERE actor = ?1";
pub(crate) const DELETE_EVENTS_OF: &str = "DELETE FROM events WHERE actor = ?1";
/// ?1 the identity as a JSON string (quoted), ?2 the placeholder as one: exact string values only.
pub(crate) const REWRITE_EVENT_DATA: &str =
    "UPDATE events SET data = REPLACE(data, ?1, ?2) WHERE REPLACE(data, ?1, ?2) <> data";
pub(crate) const REATTRIBUTE_ITEMS: &str = "UPDATE items SET author = ?2 WHERE author = ?1";

/// ?1 the horizon: events strictly before it go, then items last updated before it with no event left.
pub(crate) const PURGE_EVENTS: &str = "DELETE FROM events WHERE at < ?1";
pub(crate) const PURGE_ITEMS: &str = "
DELETE FROM items WHERE updated_at < ?1
AND NOT EXISTS (SELECT 1 FROM events WHERE events.item = items.key)";

/// The statement with PostgreSQL's parameter marks.
pub(crate) fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The identity and its placeholder as JSON strings, as they appear inside `events.data`.
pub(crate) fn quoted_pair(f: &Forgotten) -> (String, String) {
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    (quote(&f.identity), quote(&f.placeholder))
}
