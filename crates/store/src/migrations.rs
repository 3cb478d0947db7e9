//! Versioned schema migrations, written in SQL that SQLite and PostgreSQL both accept (TEXT and
//! BIGINT columns, plain indexes, no backend-only syntax), so every backend shares one history.
//! Owns only the statements; each backend runs them and records the version in `schema_version`.

/// One step of the schema. Versions start at 1 and grow by one; a released migration never changes.
pub(crate) struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Created before any migration runs; one row per applied migration, the highest is current.
pub(crate) const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version     BIGINT PRIMARY KEY,
    description TEXT NOT NULL
)";

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "items, events, directory snapshots, cursors",
        // `events.seq` is the insertion order, assigned by the store (max + 1 within the writing
        // transaction) rather than by a backend-specific auto-increment.
        sql: "
CREATE TABLE items (
    key        TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    url        TEXT NOT NULL,
    title      TEXT NOT NULL,
    author     TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    state      TEXT NOT NULL,
    issue_type TEXT
);
CREATE TABLE events (
    id     TEXT PRIMARY KEY,
    seq    BIGINT NOT NULL,
    source TEXT NOT NULL,
    item   TEXT NOT NULL,
    at     BIGINT NOT NULL,
    actor  TEXT,
    kind   TEXT NOT NULL,
    data   TEXT NOT NULL
);
CREATE UNIQUE INDEX events_by_seq ON events (seq);
CREATE TABLE directory_snapshots (
    source TEXT PRIMARY KEY,
    data   TEXT NOT NULL
);
CREATE TABLE cursors (
    source TEXT PRIMARY KEY,
    cursor TEXT NOT NULL
);
",
    },
    Migration {
        version: 2,
        description: "where each source's history begins",
        // One row per source, written with its first batch: `history_from` is the time from which
        // its activity is complete (its `since`, a simulator's start), NULL when it read all of
        // its history. Stores synced before this version have no row: reports fall back to the
        // source's first stored event.
        sql: "
CREATE TABLE source_history (
    source       TEXT PRIMARY KEY,
    history_from BIGINT
);
",
    },
    Migration {
        version: 3,
        description: "histories that converge: events by item and by origin, history formats",
        // `events.origin` is the item whose read reported the event when that is not the event's
        // own item (a revert pull request marking what it reverts); NULL means its own item. A
        // complete read of an item replaces the events it owns (`item = K AND origin IS NULL`, or
        // `origin = K`), found through these indexes. `source_formats` records the history format
        // each source's stored events were written in; a store without a row for a source that
        // has a cursor was written before formats were recorded (format 1).
        sql: "
ALTER TABLE events ADD COLUMN origin TEXT;
CREATE INDEX events_by_item ON events (item);
CREATE INDEX events_by_origin ON events (origin) WHERE origin IS NOT NULL;
CREATE TABLE source_formats (
    source         TEXT PRIMARY KEY,
    history_format BIGINT NOT NULL
);
",
    },
    Migration {
        version: 4,
        description: "tombstones of forgotten identities",
        // One row per identity removed by `siloscope forget`: the SHA-256 of the identity (never the
        // identity itself), the placeholder that stands for it (`forgotten:N`), whether its events
        // are dropped rather than re-attributed, and when it was forgotten. Every later commit
        // replaces an identity whose digest is here before anything is stored.
        sql: "
CREATE TABLE tombstones (
    digest       TEXT PRIMARY KEY,
    placeholder  TEXT NOT NULL UNIQUE,
    drop_events  BIGINT NOT NULL,
    forgotten_at BIGINT NOT NULL
);
",
    },
    Migration {
        version: 5,
        description: "leases of replicas, the store's change number",
        // Replicas on one PostgreSQL store lease units of work: a configured source
        // (`source:NAME`) or the leader's role (`leader`). `expires_at` is milliseconds since the
        // epoch by the database's clock (replicas' clocks may disagree); `token` grows each time
        // the unit passes to another holder, and a commit checks it. `store_changes.changes` counts
        // the commits that changed items, events or directories, so a leader sees that another
        // replica committed. SQLite, one writing process, holds these tables empty and unused.
        sql: "
CREATE TABLE leases (
    unit       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE store_changes (
    id      BIGINT PRIMARY KEY,
    changes BIGINT NOT NULL
);
INSERT INTO store_changes (id, changes) VALUES (1, 0);
",
    },
    Migration {
        version: 6,
        description: "what each change of the store changed, for a leader catching up",
        // One row per change number (`store_changes.changes`) a commit took on PostgreSQL:
        // `seq_before` is the highest `events.seq` before it (its new and re-ordered events are
        // above it: writers are serialised), `items` and `rewritten` JSON arrays of the item keys
        // it upserted and whose stored histories it rewrote. `full_reload` is 1 for a forget or a
        // retention purge, which change what no list says: a frame behind one loads everything.
        // The oldest rows are pruned; a frame behind them loads everything too.
        sql: "
CREATE TABLE store_change_log (
    change      BIGINT PRIMARY KEY,
    full_reload BIGINT NOT NULL,
    seq_before  BIGINT NOT NULL,
    items       TEXT NOT NULL,
    rewritten   TEXT NOT NULL
);
",
    },
];

/// The schema version this build writes; a store at a higher version is refused.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_and_grow_by_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1, "{}", migration.description);
        }
        assert_eq!(latest_version(), MIGRATIONS.len() as i64);
    }
}
