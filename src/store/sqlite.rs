//! The embedded SQLite backend of [`Store`]: one file in WAL mode, one immediate transaction per
//! batch, prepared statements cached across batches. Owns opening, migrating and diagnosing the
//! file; it must not interpret events beyond (de)serialising them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::migrations::{MIGRATIONS, SCHEMA_VERSION_TABLE, latest_version};
use super::{CommitOutcome, ItemCount, Store, StoreError};
use crate::model::{Batch, DirectorySnapshot, Event, EventKind, HistoryStart, Item, ItemKind, ItemState};

/// How long a writer waits for another connection's lock before giving up with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache per connection (negative = KiB). A larger cache keeps the event-id index in memory
/// while millions of events are inserted.
const CACHE_SIZE_KIB: i64 = 64 * 1024;

const UPSERT_ITEM: &str = "
INSERT INTO items (key, source, kind, scope, url, title, author, created_at, updated_at, state, issue_type)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
ON CONFLICT (key) DO UPDATE SET
    source = excluded.source, kind = excluded.kind, scope = excluded.scope, url = excluded.url,
    title = excluded.title, author = excluded.author, created_at = excluded.created_at,
    updated_at = excluded.updated_at, state = excluded.state, issue_type = excluded.issue_type
WHERE excluded.updated_at > items.updated_at
   OR (excluded.updated_at = items.updated_at AND (
           excluded.source <> items.source OR excluded.kind <> items.kind
        OR excluded.scope <> items.scope OR excluded.url <> items.url
        OR excluded.title <> items.title OR excluded.created_at <> items.created_at
        OR excluded.state <> items.state
        OR excluded.author IS DISTINCT FROM items.author
        OR excluded.issue_type IS DISTINCT FROM items.issue_type))";

const INSERT_EVENT: &str = "
INSERT INTO events (id, seq, source, item, at, actor, kind, data, origin)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (id) DO NOTHING";

/// The stored events a complete read of item ?1 owns: its own (origin NULL) and those an earlier
/// read of it reported on other items.
const OWNED_EVENTS: &str = "
SELECT id, item, at, actor, kind, data, origin, seq FROM events WHERE item = ?1 AND origin IS NULL
UNION ALL
SELECT id, item, at, actor, kind, data, origin, seq FROM events WHERE origin = ?1";

const STORED_EVENT: &str = "SELECT id, item, at, actor, kind, data, origin, seq FROM events WHERE id = ?1";

/// An item's events take the order its complete read reports them in.
const RESEQUENCE_EVENT: &str = "UPDATE events SET seq = ?2 WHERE id = ?1";

/// A stored event takes the content a complete read reports (its insertion order stays).
const UPDATE_EVENT: &str = "
UPDATE events SET source = ?2, item = ?3, at = ?4, actor = ?5, kind = ?6, data = ?7, origin = ?8
WHERE id = ?1";

const DELETE_EVENT: &str = "DELETE FROM events WHERE id = ?1";

const EVENTS_OF_ITEM: &str = "SELECT id, item, at, actor, data FROM events WHERE item = ?1 ORDER BY seq";

const UPSERT_FORMAT: &str = "
INSERT INTO source_formats (source, history_format) VALUES (?1, ?2)
ON CONFLICT (source) DO UPDATE SET history_format = excluded.history_format";

const UPSERT_DIRECTORY: &str = "
INSERT INTO directory_snapshots (source, data) VALUES (?1, ?2)
ON CONFLICT (source) DO UPDATE SET data = excluded.data";

const UPSERT_CURSOR: &str = "
INSERT INTO cursors (source, cursor) VALUES (?1, ?2)
ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor";

/// Keeps the earliest history start ever given (NULL, all history, is the earliest): the store
/// still holds what an earlier first sync read, even when the source was later restarted.
const UPSERT_HISTORY: &str = "
INSERT INTO source_history (source, history_from) VALUES (?1, ?2)
ON CONFLICT (source) DO UPDATE SET history_from = CASE
    WHEN source_history.history_from IS NULL OR excluded.history_from IS NULL THEN NULL
    WHEN excluded.history_from < source_history.history_from THEN excluded.history_from
    ELSE source_history.history_from END";

/// An event row as stored, for comparing with what a complete read reports.
struct StoredEvent {
    id: String,
    item: String,
    at: i64,
    actor: Option<String>,
    kind: String,
    data: String,
    origin: Option<String>,
    seq: i64,
}

impl StoredEvent {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
        Ok(StoredEvent {
            id: row.get(0)?,
            item: row.get(1)?,
            at: row.get(2)?,
            actor: row.get(3)?,
            kind: row.get(4)?,
            data: row.get(5)?,
            origin: row.get(6)?,
            seq: row.get(7)?,
        })
    }

    /// Whether the row says what `event` says. Data is compared decoded, so a row an older build
    /// serialised differently (field order, defaults) is not rewritten for nothing.
    fn same_content(&self, event: &Event) -> bool {
        self.item == event.item
            && self.at == event.at
            && self.actor == event.actor
            && self.kind == event.kind.name()
            && serde_json::from_str::<EventKind>(&self.data).is_ok_and(|k| k == event.kind)
    }
}

/// A [`Store`] in one SQLite file (or in memory, for tests and demos).
pub struct SqliteStore {
    conn: Connection,
    /// How messages name this store: the file path, or `:memory:`.
    label: String,
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file (and missing parent directories) if needed,
    /// and migrates it to this build's schema. A store written by a newer schema is refused.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let label = path.display().to_string();
        if path.is_dir() {
            return Err(StoreError::Open {
                fix: format!("point [store] path at a file, e.g. {}", path.join("siloscope.db").display()),
                store: label,
                problem: "it is a directory, not a file".into(),
            });
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
            && let Err(err) = std::fs::create_dir_all(parent)
        {
            return Err(StoreError::Open {
                store: label,
                problem: format!("cannot create its directory {}: {err}", parent.display()),
                fix: "create the directory, writable by the user running siloscope, or point \
                      [store] path elsewhere"
                    .into(),
            });
        }
        let conn = Connection::open(path).map_err(|err| open_failure(&label, &err))?;
        Self::prepare(conn, label, true)
    }

    /// A store that lives only as long as this value: for tests, demos and dry runs.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let label = ":memory:".to_string();
        let conn = Connection::open_in_memory().map_err(|err| open_failure(&label, &err))?;
        Self::prepare(conn, label, false)
    }

    fn prepare(mut conn: Connection, label: String, file_backed: bool) -> Result<SqliteStore, StoreError> {
        let fail = |err: rusqlite::Error| open_failure(&label, &err);
        // SQLite silently falls back to read-only when it may not write the file; say so now
        // rather than at the first commit.
        if conn.is_readonly("main").map_err(fail)? {
            return Err(StoreError::Open {
                store: label.clone(),
                problem: "the file is read-only".into(),
                fix: READ_ONLY_FIX.into(),
            });
        }
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        if file_backed {
            // The first statement that reads the file: a file that is not a database fails here.
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(fail)?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(store = %label, journal_mode = %mode,
                    "store could not switch to WAL mode; readers may wait for writers");
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(fail)?;
        conn.pragma_update(None, "cache_size", -CACHE_SIZE_KIB).map_err(fail)?;
        migrate(&mut conn, &label)?;
        Ok(SqliteStore { conn, label })
    }

    fn backend_error(&self, action: impl Into<String>, err: rusqlite::Error) -> StoreError {
        backend(&self.label, action.into(), err)
    }

    fn encode_error(&self, what: String, err: serde_json::Error) -> StoreError {
        StoreError::Encode { store: self.label.clone(), what, source: err }
    }

    fn write_batch(&mut self, batch: &Batch) -> Result<CommitOutcome, StoreError> {
        let action = || format!("committing a batch of source {}", batch.source);
        let directory_json = match &batch.directory {
            Some(snapshot) => Some(
                serde_json::to_string(snapshot)
                    .map_err(|err| self.encode_error(format!("the directory of source {}", batch.source), err))?,
            ),
            None => None,
        };
        let mut event_data = Vec::with_capacity(batch.events.len());
        for event in &batch.events {
            let data = serde_json::to_string(&event.kind)
                .map_err(|err| self.encode_error(format!("event {}", event.id), err))?;
            event_data.push(data);
        }

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| backend(&self.label, action(), err))?;
        let run = |tx: &rusqlite::Transaction<'_>| -> rusqlite::Result<CommitOutcome> {
            let mut outcome = CommitOutcome::default();
            let mut upsert_item = tx.prepare_cached(UPSERT_ITEM)?;
            for item in &batch.items {
                outcome.items_upserted += upsert_item.execute(params![
                    item.key,
                    item.source,
                    item.kind.as_str(),
                    item.scope,
                    item.url,
                    item.title,
                    item.author,
                    item.created_at,
                    item.updated_at,
                    item.state.as_str(),
                    item.issue_type,
                ])?;
                crate::testhooks::row_written();
            }
            if !batch.events.is_empty() {
                converge_events(tx, batch, &event_data, &mut outcome)?;
            }
            if let Some(json) = &directory_json {
                tx.prepare_cached(UPSERT_DIRECTORY)?.execute(params![batch.source, json])?;
                crate::testhooks::row_written();
            }
            if let Some(start) = batch.history_start {
                let from = match start {
                    HistoryStart::Complete => None,
                    HistoryStart::From(t) => Some(t),
                };
                tx.prepare_cached(UPSERT_HISTORY)?.execute(params![batch.source, from])?;
                crate::testhooks::row_written();
            }
            if let Some(cursor) = &batch.cursor {
                tx.prepare_cached(UPSERT_CURSOR)?.execute(params![batch.source, cursor])?;
                crate::testhooks::row_written();
            }
            Ok(outcome)
        };
        // On error the transaction is dropped, which rolls it back: nothing of the batch stays.
        let outcome = run(&tx).map_err(|err| backend(&self.label, action(), err))?;
        tx.commit().map_err(|err| backend(&self.label, action(), err))?;
        Ok(outcome)
    }
}

/// Stores a batch's events: incremental ones inserted (an id already stored is left as it is),
/// and each complete history converged on (see [`Store::commit_batch`]). Events are written in
/// batch order, so insertion order (`seq`) stays the order the source reported.
fn converge_events(
    tx: &rusqlite::Transaction<'_>,
    batch: &Batch,
    event_data: &[String],
    outcome: &mut CommitOutcome,
) -> rusqlite::Result<()> {
    let mut next_seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM events", [], |row| row.get(0))?;
    let mut insert_event = tx.prepare_cached(INSERT_EVENT)?;
    // The common path: no complete history, every event incremental.
    if batch.complete.is_empty() {
        for (index, (event, data)) in batch.events.iter().zip(event_data).enumerate() {
            let none: Option<&str> = None;
            let inserted = insert_event.execute(params![
                event.id,
                next_seq,
                batch.source,
                event.item,
                event.at,
                event.actor,
                event.kind.name(),
                data,
                none,
            ])?;
            if inserted == 1 {
                outcome.new_events.push(index);
                next_seq += 1;
            }
            crate::testhooks::row_written();
        }
        return Ok(());
    }

    // Which complete read reports each event (a later range wins where two overlap).
    let mut claim: Vec<Option<usize>> = vec![None; batch.events.len()];
    for (h, history) in batch.complete.iter().enumerate() {
        let end = history.events.end.min(batch.events.len());
        for slot in &mut claim[history.events.start.min(end)..end] {
            *slot = Some(h);
        }
    }
    // What each complete read's item owns now, by id.
    let mut owned: Vec<HashMap<String, StoredEvent>> = Vec::with_capacity(batch.complete.len());
    {
        let mut select = tx.prepare_cached(OWNED_EVENTS)?;
        for history in &batch.complete {
            let rows = select.query_map([&history.item], StoredEvent::from_row)?;
            let mut map = HashMap::new();
            for row in rows {
                let row = row?;
                map.insert(row.id.clone(), row);
            }
            owned.push(map);
        }
    }
    let mut stored_by_id = tx.prepare_cached(STORED_EVENT)?;
    let mut update = tx.prepare_cached(UPDATE_EVENT)?;
    let mut rewritten: BTreeSet<String> = BTreeSet::new();
    let mut claimed: HashSet<&str> = HashSet::new();
    // Per complete read, the insertion order (`seq`) of its item's events, in the order it reports them.
    let mut order: Vec<Vec<(i64, &str)>> = vec![Vec::new(); batch.complete.len()];
    for (index, (event, data)) in batch.events.iter().zip(event_data).enumerate() {
        let Some(h) = claim[index] else {
            let none: Option<&str> = None;
            let inserted = insert_event.execute(params![
                event.id,
                next_seq,
                batch.source,
                event.item,
                event.at,
                event.actor,
                event.kind.name(),
                data,
                none,
            ])?;
            if inserted == 1 {
                outcome.new_events.push(index);
                next_seq += 1;
            }
            crate::testhooks::row_written();
            continue;
        };
        if !claimed.insert(event.id.as_str()) {
            continue; // reported twice in this batch: the first report stands
        }
        let reader = batch.complete[h].item.as_str();
        let origin = (event.item != reader).then_some(reader);
        let stored = match owned[h].remove(&event.id) {
            Some(row) => Some(row),
            None => {
                let inserted = insert_event.execute(params![
                    event.id,
                    next_seq,
                    batch.source,
                    event.item,
                    event.at,
                    event.actor,
                    event.kind.name(),
                    data,
                    origin,
                ])?;
                crate::testhooks::row_written();
                if inserted == 1 {
                    outcome.new_events.push(index);
                    if event.item == reader {
                        order[h].push((next_seq, event.id.as_str()));
                    }
                    next_seq += 1;
                    None
                } else {
                    // Stored, but owned by another item's read (or under another item).
                    Some(stored_by_id.query_row([&event.id], StoredEvent::from_row)?)
                }
            }
        };
        let Some(stored) = stored else { continue };
        if event.item == reader {
            order[h].push((stored.seq, event.id.as_str()));
        }
        let same = stored.same_content(event);
        if same && stored.origin.as_deref() == origin {
            continue;
        }
        update.execute(params![
            event.id,
            batch.source,
            event.item,
            event.at,
            event.actor,
            event.kind.name(),
            data,
            origin
        ])?;
        crate::testhooks::row_written();
        if !same {
            outcome.events_changed += 1;
            rewritten.insert(event.item.clone());
            rewritten.insert(stored.item);
        }
    }
    // Equal times keep the order a read reports (the engine breaks ties by insertion order): where
    // an item's stored order is not its read's (an older build wrote it, an event was reported
    // before ones stored earlier), its events are stored again in the read's order, as a fresh
    // sync would store them.
    let mut resequence = tx.prepare_cached(RESEQUENCE_EVENT)?;
    for (h, seqs) in order.iter().enumerate() {
        if seqs.windows(2).all(|w| w[0].0 < w[1].0) {
            continue;
        }
        for (_, id) in seqs {
            resequence.execute(params![id, next_seq])?;
            crate::testhooks::row_written();
            next_seq += 1;
        }
        rewritten.insert(batch.complete[h].item.clone());
    }
    // What a complete read owned and no longer reports, unless another read of this batch does.
    let mut delete = tx.prepare_cached(DELETE_EVENT)?;
    let in_batch: HashSet<&str> = batch.events.iter().map(|e| e.id.as_str()).collect();
    for map in owned {
        for (id, row) in map {
            if in_batch.contains(id.as_str()) {
                continue;
            }
            delete.execute([&id])?;
            crate::testhooks::row_written();
            outcome.events_removed += 1;
            rewritten.insert(row.item);
        }
    }
    outcome.rewritten_items = rewritten.into_iter().collect();
    Ok(())
}

const READ_ONLY_FIX: &str = "make the file and its directory writable by the user running \
                             siloscope, or point [store] path elsewhere";

/// What a SQLite failure means for an operator, and what to do about it.
fn diagnose(err: &rusqlite::Error) -> (String, &'static str) {
    match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => (
            "file is not a SQLite database (was it written by another program?)".into(),
            "point [store] path at a siloscope store or a new file",
        ),
        Some(ErrorCode::ReadOnly) => ("the file or its directory is read-only".into(), READ_ONLY_FIX),
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => (
            format!("cannot create or open the file ({err})"),
            "make sure its directory exists and is writable by the user running siloscope",
        ),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => (
            "another process holds a lock on the store".into(),
            "stop the other process using this file (one siloscope per SQLite store), then retry",
        ),
        Some(ErrorCode::DatabaseCorrupt) => (
            "the file is corrupt".into(),
            "restore it from a backup, or point [store] path at a new file and let siloscope re-sync",
        ),
        Some(ErrorCode::DiskFull) => ("the disk is full".into(), "free disk space, then retry"),
        Some(ErrorCode::SystemIoFailure) => {
            (format!("disk I/O error ({err})"), "check the disk and file system, then retry")
        }
        _ => (err.to_string(), "check the file and its directory, then retry; if it persists, report this message"),
    }
}

fn open_failure(label: &str, err: &rusqlite::Error) -> StoreError {
    let (problem, fix) = diagnose(err);
    StoreError::Open { store: label.to_string(), problem, fix: fix.into() }
}

fn backend(label: &str, action: String, err: rusqlite::Error) -> StoreError {
    let (_, fix) = diagnose(&err);
    StoreError::Backend { store: label.to_string(), action, fix: fix.into(), source: Box::new(err) }
}

/// Brings the schema to this build's version in one transaction, so two processes opening a new
/// file at once cannot both migrate it, and a crash mid-migration leaves the old schema intact.
fn migrate(conn: &mut Connection, label: &str) -> Result<(), StoreError> {
    let fail = |err: rusqlite::Error| open_failure(label, &err);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
    let has_version_table: bool = tx
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .map_err(fail)?;
    if !has_version_table {
        let foreign_objects: i64 = tx
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", [], |row| {
                row.get(0)
            })
            .map_err(fail)?;
        if foreign_objects > 0 {
            return Err(StoreError::Open {
                store: label.to_string(),
                problem: "the file is a SQLite database but not a siloscope store (it has tables \
                          but no schema_version)"
                    .into(),
                fix: "point [store] path at a siloscope store or a new file".into(),
            });
        }
        tx.execute_batch(SCHEMA_VERSION_TABLE).map_err(fail)?;
    }
    let current: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |row| row.get(0)).map_err(fail)?;
    let supported = latest_version();
    if current > supported {
        return Err(StoreError::NewerSchema { store: label.to_string(), found: current, supported });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let applied = tx.execute_batch(migration.sql).and_then(|()| {
            tx.execute(
                "INSERT INTO schema_version (version, description) VALUES (?1, ?2)",
                params![migration.version, migration.description],
            )
        });
        applied.map_err(|err| StoreError::Open {
            store: label.to_string(),
            problem: format!("schema migration {} ({}) failed: {err}", migration.version, migration.description),
            fix: diagnose(&err).1.into(),
        })?;
        tracing::info!(store = %label, version = migration.version,
            description = migration.description, "applied store schema migration");
    }
    tx.commit().map_err(fail)
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Store for SqliteStore {
    fn commit_batch(&mut self, batch: &Batch) -> Result<CommitOutcome, StoreError> {
        self.write_batch(batch)
    }

    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT cursor FROM cursors WHERE source = ?1")
            .and_then(|mut stmt| stmt.query_row([source], |row| row.get(0)).optional())
            .map_err(|err| self.backend_error(format!("reading the cursor of source {source}"), err))
    }

    fn history_format(&self, source: &str) -> Result<Option<u32>, StoreError> {
        self.conn
            .prepare_cached("SELECT history_format FROM source_formats WHERE source = ?1")
            .and_then(|mut stmt| stmt.query_row([source], |row| row.get::<_, i64>(0)).optional())
            .map(|v| v.map(|v| u32::try_from(v).unwrap_or(u32::MAX)))
            .map_err(|err| self.backend_error(format!("reading the history format of source {source}"), err))
    }

    fn restart_history(&mut self, source: &str, format: u32, cursor: Option<&str>) -> Result<(), StoreError> {
        let action = || format!("recording the history format of source {source}");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| backend(&self.label, action(), err))?;
        let run = |tx: &rusqlite::Transaction<'_>| -> rusqlite::Result<()> {
            tx.prepare_cached(UPSERT_FORMAT)?.execute(params![source, i64::from(format)])?;
            match cursor {
                Some(c) => tx.prepare_cached(UPSERT_CURSOR)?.execute(params![source, c])?,
                None => tx.prepare_cached("DELETE FROM cursors WHERE source = ?1")?.execute([source])?,
            };
            Ok(())
        };
        run(&tx).map_err(|err| backend(&self.label, action(), err))?;
        tx.commit().map_err(|err| backend(&self.label, action(), err))
    }

    fn for_each_event_of(&self, items: &[String], f: &mut dyn FnMut(Event)) -> Result<(), StoreError> {
        let mut read = || -> rusqlite::Result<()> {
            let mut stmt = self.conn.prepare_cached(EVENTS_OF_ITEM)?;
            for item in items {
                let mut rows = stmt.query([item])?;
                while let Some(row) = rows.next()? {
                    let id: String = row.get(0)?;
                    let data = row.get_ref(4)?.as_str()?;
                    match serde_json::from_str::<EventKind>(data) {
                        Ok(kind) => f(Event { id, item: row.get(1)?, at: row.get(2)?, actor: row.get(3)?, kind }),
                        Err(err) => tracing::warn!(store = %self.label, event_id = %id, error = %err,
                            "skipping stored event whose data this build cannot read"),
                    }
                }
            }
            Ok(())
        };
        read().map_err(|err| self.backend_error("reading the events of rewritten items", err))
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item)) -> Result<(), StoreError> {
        let mut read = || -> rusqlite::Result<()> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT key, source, kind, scope, url, title, author, created_at, updated_at, \
                 state, issue_type FROM items ORDER BY key",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let key: String = row.get(0)?;
                let kind: String = row.get(2)?;
                let state: String = row.get(9)?;
                let (Some(kind), Some(state)) = (ItemKind::parse(&kind), ItemState::parse(&state)) else {
                    tracing::warn!(store = %self.label, item = %key, %kind, %state,
                        "skipping stored item with a kind or state this build does not know");
                    continue;
                };
                f(Item {
                    key,
                    source: row.get(1)?,
                    kind,
                    scope: row.get(3)?,
                    url: row.get(4)?,
                    title: row.get(5)?,
                    author: row.get(6)?,
                    created_at: row.get(7)?,
                    updated_at: row.get(8)?,
                    state,
                    issue_type: row.get(10)?,
                });
            }
            Ok(())
        };
        read().map_err(|err| self.backend_error("reading items", err))
    }

    fn for_each_event(&self, f: &mut dyn FnMut(Event)) -> Result<(), StoreError> {
        let mut skipped: u64 = 0;
        let mut read = |skipped: &mut u64| -> rusqlite::Result<()> {
            let mut stmt = self.conn.prepare_cached("SELECT id, item, at, actor, data FROM events ORDER BY seq")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let data = row.get_ref(4)?.as_str()?;
                let kind: EventKind = match serde_json::from_str(data) {
                    Ok(kind) => kind,
                    Err(err) => {
                        tracing::warn!(store = %self.label, event_id = %id, error = %err,
                            "skipping stored event whose data this build cannot read");
                        *skipped += 1;
                        continue;
                    }
                };
                f(Event { id, item: row.get(1)?, at: row.get(2)?, actor: row.get(3)?, kind });
            }
            Ok(())
        };
        let result = read(&mut skipped).map_err(|err| self.backend_error("reading events", err));
        if skipped > 0 {
            tracing::warn!(store = %self.label, skipped,
                "skipped stored events this build cannot read (written by a newer siloscope?)");
        }
        result
    }

    fn directory_snapshots(&self) -> Result<Vec<(String, DirectorySnapshot)>, StoreError> {
        let read = || -> rusqlite::Result<Vec<(String, String)>> {
            let mut stmt = self.conn.prepare_cached("SELECT source, data FROM directory_snapshots")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        };
        let rows = read().map_err(|err| self.backend_error("reading directory snapshots", err))?;
        let mut snapshots = Vec::with_capacity(rows.len());
        for (source, data) in rows {
            match serde_json::from_str::<DirectorySnapshot>(&data) {
                Ok(snapshot) => snapshots.push((source, snapshot)),
                Err(err) => tracing::warn!(store = %self.label, %source, error = %err,
                    "skipping stored directory snapshot this build cannot read"),
            }
        }
        snapshots.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(snapshots)
    }

    fn history_starts(&self) -> Result<Vec<(String, HistoryStart)>, StoreError> {
        let read = || -> rusqlite::Result<Vec<(String, Option<i64>)>> {
            let mut stmt =
                self.conn.prepare_cached("SELECT source, history_from FROM source_history ORDER BY source")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        };
        let rows = read().map_err(|err| self.backend_error("reading where sources' histories begin", err))?;
        Ok(rows
            .into_iter()
            .map(|(source, from)| (source, from.map_or(HistoryStart::Complete, HistoryStart::From)))
            .collect())
    }

    fn item_counts(&self) -> Result<Vec<ItemCount>, StoreError> {
        let read = || -> rusqlite::Result<Vec<(String, String, String, i64)>> {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT source, kind, state, COUNT(*) FROM items GROUP BY source, kind, state")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))?;
            rows.collect()
        };
        let rows = read().map_err(|err| self.backend_error("counting items", err))?;
        let mut counts: Vec<ItemCount> = rows
            .into_iter()
            .filter_map(|(source, kind, state, n)| {
                Some(ItemCount {
                    kind: ItemKind::parse(&kind)?,
                    state: ItemState::parse(&state)?,
                    source,
                    count: count(n),
                })
            })
            .collect();
        counts.sort_by(|a, b| (&a.source, a.kind, a.state).cmp(&(&b.source, b.kind, b.state)));
        Ok(counts)
    }

    fn event_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM events", [], |row| row.get::<_, i64>(0))
            .map(count)
            .map_err(|err| self.backend_error("counting events", err))
    }

    fn event_counts_by_source(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let read = || -> rusqlite::Result<Vec<(String, i64)>> {
            let mut stmt = self.conn.prepare_cached("SELECT source, COUNT(*) FROM events GROUP BY source")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        };
        let rows = read().map_err(|err| self.backend_error("counting events per source", err))?;
        let mut counts: Vec<(String, u64)> = rows.into_iter().map(|(source, n)| (source, count(n))).collect();
        counts.sort();
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        LinkRelation, ReviewState, Reviewer, SnapshotMembership, SnapshotPerson, SnapshotTeam, StatusCategory,
    };

    const SOURCE: &str = "github-acme";

    fn item(key: &str, source: &str, kind: ItemKind, state: ItemState, updated_at: i64) -> Item {
        Item {
            key: key.into(),
            source: source.into(),
            kind,
            scope: "acme/api".into(),
            url: format!("https://example.test/{key}"),
            title: format!("title of {key}"),
            author: Some("github:alice".into()),
            created_at: 1_700_000_000,
            updated_at,
            state,
            issue_type: None,
        }
    }

    fn event(id: &str, at: i64, actor: Option<&str>, kind: EventKind) -> Event {
        Event { id: id.into(), item: "github:acme/api#1".into(), at, actor: actor.map(Into::into), kind }
    }

    fn directory(team: &str) -> DirectorySnapshot {
        DirectorySnapshot {
            teams: vec![SnapshotTeam { name: team.into(), handles: vec![format!("acme/{team}")] }],
            people: vec![SnapshotPerson {
                name: "Alice".into(),
                identities: vec!["github:alice".into()],
                memberships: vec![SnapshotMembership { team: team.into(), from: Some(1_600_000_000), until: None }],
                bot: false,
            }],
            scope_owners: vec![("acme/api".into(), team.into())],
        }
    }

    /// Covers every column shape: None actors/authors, an issue type, nested enum data.
    fn sample_batch() -> Batch {
        let mut pull = item("github:acme/api#2", SOURCE, ItemKind::PullRequest, ItemState::Merged, 1_700_000_500);
        pull.author = None;
        pull.issue_type = Some("Bug".into());
        Batch {
            source: SOURCE.into(),
            items: vec![item("github:acme/api#1", SOURCE, ItemKind::Issue, ItemState::Open, 1_700_000_100), pull],
            events: vec![
                event("e1", 100, Some("github:alice"), EventKind::Opened),
                event(
                    "e2",
                    110,
                    Some("github:bob"),
                    EventKind::ReviewRequested { reviewer: Reviewer::Team("acme/payments".into()) },
                ),
                event(
                    "e3",
                    120,
                    None,
                    EventKind::StatusChanged {
                        from: None,
                        to: "In Progress".into(),
                        category: Some(StatusCategory::InProgress),
                    },
                ),
                event("e4", 130, Some("github:carol"), EventKind::Commented { mentions: vec!["acme/payments".into()] }),
                event(
                    "e5",
                    140,
                    Some("github:alice"),
                    EventKind::Linked { relation: LinkRelation::Supersedes, target: "github:acme/api#7".into() },
                ),
                event("e6", 150, None, EventKind::Closed { completed: true }),
            ],
            directory: Some(directory("payments")),
            cursor: Some("2024-01-01T00:00:00Z".into()),
            history_start: Some(HistoryStart::From(100)),
            complete: Vec::new(),
        }
    }

    fn items(store: &dyn Store) -> Vec<Item> {
        let mut out = Vec::new();
        store.for_each_item(&mut |item| out.push(item)).unwrap();
        out
    }

    fn events(store: &dyn Store) -> Vec<Event> {
        let mut out = Vec::new();
        store.for_each_event(&mut |event| out.push(event)).unwrap();
        out
    }

    fn open_error(path: &Path) -> String {
        match SqliteStore::open(path) {
            Ok(_) => panic!("opening {} should fail", path.display()),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn committed_batch_reads_back_unchanged() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let batch = sample_batch();
        let outcome = store.commit_batch(&batch).unwrap();
        assert_eq!(
            outcome,
            CommitOutcome { items_upserted: 2, new_events: vec![0, 1, 2, 3, 4, 5], ..CommitOutcome::default() }
        );
        assert_eq!(items(&store), batch.items); // already in key order
        assert_eq!(events(&store), batch.events);
        assert_eq!(store.directory_snapshots().unwrap(), vec![(SOURCE.to_string(), directory("payments"))]);
        assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(store.cursor("jira-acme").unwrap(), None);
        assert_eq!(store.history_starts().unwrap(), vec![(SOURCE.to_string(), HistoryStart::From(100))]);
        assert_eq!(store.event_count().unwrap(), 6);
    }

    #[test]
    fn committing_the_same_batch_twice_changes_nothing() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let batch = sample_batch();
        store.commit_batch(&batch).unwrap();
        let (items_before, events_before) = (items(&store), events(&store));
        let counts_before = store.item_counts().unwrap();

        let second = store.commit_batch(&batch).unwrap();
        assert_eq!(second, CommitOutcome::default());
        assert_eq!(items(&store), items_before);
        assert_eq!(events(&store), events_before);
        assert_eq!(store.item_counts().unwrap(), counts_before);
        assert_eq!(store.event_count().unwrap(), 6);
        assert_eq!(store.event_counts_by_source().unwrap(), vec![(SOURCE.to_string(), 6)]);
    }

    #[test]
    fn known_event_ids_are_ignored_and_order_is_first_insertion() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let first = Batch {
            source: SOURCE.into(),
            events: vec![event("a", 10, None, EventKind::Opened), event("b", 20, None, EventKind::Merged)],
            ..Batch::default()
        };
        store.commit_batch(&first).unwrap();
        // "b" comes again with other data: the stored one stays; "c" repeats within the batch.
        let second = Batch {
            source: SOURCE.into(),
            events: vec![
                event("b", 99, Some("github:eve"), EventKind::Reopened),
                event("c", 5, None, EventKind::ReadyForReview),
                event("c", 6, None, EventKind::ConvertedToDraft),
            ],
            ..Batch::default()
        };
        let outcome = store.commit_batch(&second).unwrap();
        assert_eq!(outcome.new_events, vec![1]);
        let ids: Vec<(String, i64)> = events(&store).into_iter().map(|e| (e.id, e.at)).collect();
        assert_eq!(ids, vec![("a".into(), 10), ("b".into(), 20), ("c".into(), 5)]);
    }

    #[test]
    fn cursor_moves_only_with_its_batch() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let mut batch = sample_batch();
        batch.cursor = Some("c1".into());
        store.commit_batch(&batch).unwrap();

        // A batch without a cursor leaves the stored one alone.
        let quiet = Batch { source: SOURCE.into(), ..Batch::default() };
        store.commit_batch(&quiet).unwrap();
        assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("c1"));

        // Make the very last write of a batch (the cursor) fail: everything before it rolls back.
        store
            .conn
            .execute_batch(
                "CREATE TRIGGER refuse_cursor BEFORE UPDATE ON cursors
                 BEGIN SELECT RAISE(ABORT, 'simulated crash'); END;",
            )
            .unwrap();
        let doomed = Batch {
            source: SOURCE.into(),
            items: vec![item("github:acme/api#9", SOURCE, ItemKind::Issue, ItemState::Open, 1)],
            events: vec![event("new", 1, None, EventKind::Opened)],
            directory: Some(directory("platform")),
            cursor: Some("c2".into()),
            history_start: Some(HistoryStart::Complete),
            // A complete read of item 1 reporting only "new": its six stored events would go.
            complete: vec![crate::model::CompleteHistory { item: "github:acme/api#1".into(), events: 0..1 }],
        };
        let err = store.commit_batch(&doomed).unwrap_err();
        assert!(err.to_string().contains("committing a batch of source github-acme failed"), "{err}");
        assert!(err.to_string().contains("simulated crash"), "{err}");
        assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("c1"));
        assert_eq!(store.event_count().unwrap(), 6);
        assert_eq!(items(&store).len(), 2);
        assert_eq!(store.directory_snapshots().unwrap()[0].1, directory("payments"));
        assert_eq!(store.history_starts().unwrap(), vec![(SOURCE.to_string(), HistoryStart::From(100))]);

        // Once the fault is gone the same batch goes through whole.
        store.conn.execute_batch("DROP TRIGGER refuse_cursor").unwrap();
        let outcome = store.commit_batch(&doomed).unwrap();
        assert_eq!(outcome.new_events, vec![0]);
        assert_eq!(outcome.events_removed, 6);
        assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("c2"));
        assert_eq!(store.event_count().unwrap(), 1);
    }

    #[test]
    fn item_upsert_keeps_the_newer_row() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let key = "github:acme/api#1";
        let commit = |store: &mut SqliteStore, item: Item| {
            store
                .commit_batch(&Batch { source: SOURCE.into(), items: vec![item], ..Batch::default() })
                .unwrap()
                .items_upserted
        };
        let mut newer = item(key, SOURCE, ItemKind::Issue, ItemState::Closed, 200);
        newer.title = "newer".into();
        let mut older = item(key, SOURCE, ItemKind::Issue, ItemState::Open, 100);
        older.title = "older".into();

        assert_eq!(commit(&mut store, newer.clone()), 1);
        assert_eq!(commit(&mut store, older), 0);
        assert_eq!(items(&store), vec![newer.clone()]);

        // Same updated_at: identical data counts nothing, changed data (a same-second edit) wins.
        assert_eq!(commit(&mut store, newer.clone()), 0);
        let mut same_second = newer.clone();
        same_second.issue_type = Some("Decision".into());
        assert_eq!(commit(&mut store, same_second.clone()), 1);
        assert_eq!(items(&store), vec![same_second]);

        let mut newest = newer;
        newest.updated_at = 300;
        newest.state = ItemState::Open;
        newest.author = None;
        assert_eq!(commit(&mut store, newest.clone()), 1);
        assert_eq!(items(&store), vec![newest]);
    }

    #[test]
    fn item_counts_group_by_source_kind_and_state() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let gh = |n: u32, kind, state| item(&format!("github:acme/api#{n}"), "github", kind, state, 1);
        let jira = |n: u32, state| item(&format!("jira:PAY-{n}"), "jira", ItemKind::Ticket, state, 1);
        let batch = Batch {
            source: "github".into(),
            items: vec![
                gh(1, ItemKind::Issue, ItemState::Open),
                gh(2, ItemKind::Issue, ItemState::Open),
                gh(3, ItemKind::Issue, ItemState::Closed),
                gh(4, ItemKind::PullRequest, ItemState::Merged),
                jira(1, ItemState::Open),
                jira(2, ItemState::Closed),
                jira(3, ItemState::Closed),
            ],
            events: vec![event("x", 1, None, EventKind::Opened)],
            ..Batch::default()
        };
        store.commit_batch(&batch).unwrap();
        store
            .commit_batch(&Batch {
                source: "jira".into(),
                events: vec![event("y", 1, None, EventKind::Opened), event("z", 2, None, EventKind::Reopened)],
                ..Batch::default()
            })
            .unwrap();
        let count = |source: &str, kind, state, count| ItemCount { source: source.into(), kind, state, count };
        assert_eq!(
            store.item_counts().unwrap(),
            vec![
                count("github", ItemKind::Issue, ItemState::Open, 2),
                count("github", ItemKind::Issue, ItemState::Closed, 1),
                count("github", ItemKind::PullRequest, ItemState::Merged, 1),
                count("jira", ItemKind::Ticket, ItemState::Open, 1),
                count("jira", ItemKind::Ticket, ItemState::Closed, 2),
            ]
        );
        assert_eq!(store.event_counts_by_source().unwrap(), vec![("github".to_string(), 1), ("jira".to_string(), 2)]);
    }

    #[test]
    fn directory_snapshot_is_replaced_per_source() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let with_directory = |source: &str, snapshot: Option<DirectorySnapshot>| Batch {
            source: source.into(),
            directory: snapshot,
            ..Batch::default()
        };
        store.commit_batch(&with_directory("gitlab", Some(directory("infra")))).unwrap();
        store.commit_batch(&with_directory("github", Some(directory("payments")))).unwrap();
        store.commit_batch(&with_directory("github", Some(directory("platform")))).unwrap();
        store.commit_batch(&with_directory("github", None)).unwrap();
        assert_eq!(
            store.directory_snapshots().unwrap(),
            vec![("github".to_string(), directory("platform")), ("gitlab".to_string(), directory("infra")),]
        );
    }

    #[test]
    fn reopened_file_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        // Missing parent directories are created.
        let path = dir.path().join("state").join("siloscope.db");
        let batch = sample_batch();
        {
            let mut store = SqliteStore::open(&path).unwrap();
            store.commit_batch(&batch).unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(items(&store), batch.items);
        assert_eq!(events(&store), batch.events);
        assert_eq!(store.cursor(SOURCE).unwrap(), batch.cursor);
        assert_eq!(store.directory_snapshots().unwrap(), vec![(SOURCE.to_string(), directory("payments"))]);
        assert_eq!(store.commit_batch(&batch).unwrap(), CommitOutcome::default());
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn schema_version_is_recorded_once_and_newer_stores_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        drop(SqliteStore::open(&path).unwrap());
        drop(SqliteStore::open(&path).unwrap());
        let raw = Connection::open(&path).unwrap();
        let versions: Vec<i64> = raw
            .prepare("SELECT version FROM schema_version ORDER BY version")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(versions, (1..=latest_version()).collect::<Vec<_>>());

        let future = latest_version() + 1;
        raw.execute("INSERT INTO schema_version (version, description) VALUES (?1, 'from the future')", [future])
            .unwrap();
        drop(raw);
        let err = SqliteStore::open(&path).err().expect("a newer schema must be refused");
        assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == future));
        assert_eq!(
            err.to_string(),
            format!(
                "cannot open store {}: it was written by a newer siloscope (schema version {future}, \
                 this build knows up to {}); fix: upgrade siloscope, or point [store] path at a new file",
                path.display(),
                latest_version()
            )
        );
    }

    #[test]
    fn history_start_comes_with_a_first_batch_and_only_ever_moves_earlier() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        assert_eq!(store.history_starts().unwrap(), vec![]);
        let first = |source: &str, start| Batch {
            source: source.into(),
            history_start: Some(start),
            cursor: Some("c".into()),
            ..Batch::default()
        };
        store.commit_batch(&first(SOURCE, HistoryStart::From(2_000))).unwrap();
        store.commit_batch(&Batch { source: SOURCE.into(), ..Batch::default() }).unwrap();
        // Restarted from a later start: what the first sync read is still stored.
        store.commit_batch(&first(SOURCE, HistoryStart::From(3_000))).unwrap();
        assert_eq!(store.history_starts().unwrap(), vec![(SOURCE.to_string(), HistoryStart::From(2_000))]);
        store.commit_batch(&first(SOURCE, HistoryStart::From(1_000))).unwrap();
        store.commit_batch(&first("jira-acme", HistoryStart::Complete)).unwrap();
        assert_eq!(
            store.history_starts().unwrap(),
            vec![(SOURCE.to_string(), HistoryStart::From(1_000)), ("jira-acme".to_string(), HistoryStart::Complete)]
        );
        // All history is the earliest start there is.
        store.commit_batch(&first(SOURCE, HistoryStart::Complete)).unwrap();
        store.commit_batch(&first(SOURCE, HistoryStart::From(5))).unwrap();
        assert_eq!(store.history_starts().unwrap()[0], (SOURCE.to_string(), HistoryStart::Complete));
    }

    #[test]
    fn a_store_of_schema_1_migrates_and_keeps_its_data_without_history_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let raw = Connection::open(&path).unwrap();
            raw.execute_batch(SCHEMA_VERSION_TABLE).unwrap();
            raw.execute_batch(MIGRATIONS[0].sql).unwrap();
            raw.execute("INSERT INTO schema_version (version, description) VALUES (1, 'v1')", []).unwrap();
            raw.execute("INSERT INTO cursors (source, cursor) VALUES ('github-acme', 'old')", []).unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("old"));
        assert_eq!(store.history_starts().unwrap(), vec![], "unknown for a source synced before version 2");
        let version: i64 = store.conn.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, latest_version());
    }

    #[test]
    fn a_directory_path_is_refused_with_a_fix() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            open_error(dir.path()),
            format!(
                "cannot open store {0}: it is a directory, not a file; fix: point [store] path at \
                 a file, e.g. {0}/siloscope.db",
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_garbage_file_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.db");
        let garbage = "these are my notes, not a database\n".repeat(200);
        std::fs::write(&path, &garbage).unwrap();
        assert_eq!(
            open_error(&path),
            format!(
                "cannot open store {}: file is not a SQLite database (was it written by another \
                 program?); fix: point [store] path at a siloscope store or a new file",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), garbage);
    }

    #[test]
    fn another_programs_sqlite_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE invoices (id INTEGER)").unwrap();
        let message = open_error(&path);
        assert!(message.contains("is a SQLite database but not a siloscope store"), "{message}");
    }

    #[test]
    fn unreadable_event_rows_are_skipped_not_fatal() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.commit_batch(&sample_batch()).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO events (id, seq, source, item, at, actor, kind, data)
                 VALUES ('future', 100, 'github-acme', 'github:acme/api#1', 1, NULL, 'teleported',
                         '{\"type\":\"teleported\"}')",
                [],
            )
            .unwrap();
        store
            .commit_batch(&Batch {
                source: SOURCE.into(),
                events: vec![event("after", 200, None, EventKind::Merged)],
                ..Batch::default()
            })
            .unwrap();
        let ids: Vec<String> = events(&store).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["e1", "e2", "e3", "e4", "e5", "e6", "after"]);
        assert_eq!(store.event_count().unwrap(), 8);
    }

    fn on(item: &str, id: &str, at: i64, kind: EventKind) -> Event {
        Event { id: id.into(), item: item.into(), at, actor: Some("github:alice".into()), kind }
    }

    /// A batch holding the whole history of each (item, events).
    fn complete(histories: Vec<(&str, Vec<Event>)>) -> Batch {
        let mut batch = Batch { source: SOURCE.into(), ..Batch::default() };
        for (item, events) in histories {
            batch.push_complete(item, events);
        }
        batch
    }

    fn ids_of(store: &dyn Store, item: &str) -> Vec<String> {
        let mut out = Vec::new();
        store.for_each_event_of(&[item.to_string()], &mut |e| out.push(e.id)).unwrap();
        out
    }

    #[test]
    fn a_complete_history_replaces_what_the_item_had_and_touches_nothing_else() {
        let (a, b) = ("github:acme/api#1", "github:acme/api#2");
        let mut store = SqliteStore::open_in_memory().unwrap();
        let link = EventKind::Linked { relation: LinkRelation::Supersedes, target: b.into() };
        let first = complete(vec![
            (
                a,
                vec![
                    on(a, "a/opened", 10, EventKind::Opened),
                    on(a, "a/link", 20, link.clone()),
                    on(a, "a/review", 30, EventKind::Reviewed { state: ReviewState::Approved }),
                ],
            ),
            (b, vec![on(b, "b/opened", 10, EventKind::Opened), on(b, "b/comment", 40, EventKind::Opened)]),
        ]);
        assert_eq!(store.commit_batch(&first).unwrap().new_events, vec![0, 1, 2, 3, 4]);
        // An incremental event of `a` (a simulator-like source) is not part of any read of it.
        let incremental = Batch {
            source: SOURCE.into(),
            events: vec![on(a, "a/incremental", 35, EventKind::Opened)],
            ..Batch::default()
        };
        store.commit_batch(&incremental).unwrap();

        // `a` read again: the link was removed, the approval withdrawn, a comment added.
        let reread = complete(vec![(
            a,
            vec![
                on(a, "a/opened", 10, EventKind::Opened),
                on(a, "a/review", 30, EventKind::Reviewed { state: ReviewState::Commented }),
                on(a, "a/comment", 50, EventKind::Commented { mentions: vec![] }),
            ],
        )]);
        let outcome = store.commit_batch(&reread).unwrap();
        assert_eq!(outcome.new_events, vec![2]);
        assert_eq!(outcome.rewritten_items, vec![a.to_string()]);
        assert_eq!((outcome.events_removed, outcome.events_changed), (2, 1));
        assert_eq!(ids_of(&store, a), ["a/opened", "a/review", "a/comment"]);
        let review = events(&store).into_iter().find(|e| e.id == "a/review").unwrap();
        assert_eq!(review.kind, EventKind::Reviewed { state: ReviewState::Commented });
        assert_eq!(ids_of(&store, b), ["b/opened", "b/comment"], "another item is untouched");
        // Idempotent: the same read again changes nothing.
        assert_eq!(store.commit_batch(&reread).unwrap(), CommitOutcome::default());
        assert_eq!(store.commit_batch(&first.clone()).unwrap().rewritten_items, vec![a.to_string()]);
        assert_eq!(store.commit_batch(&first).unwrap(), CommitOutcome::default());
        assert_eq!(store.event_count().unwrap(), 5);
    }

    #[test]
    fn an_items_events_take_the_order_its_complete_read_reports() {
        // Events at the same second keep the order the source reports them in (the engine breaks
        // ties by insertion order), as a fresh sync would store them.
        let a = "github:acme/api#1";
        let (assigned, labeled) = (
            on(a, "a/assigned", 5, EventKind::Assigned { assignee: "github:bob".into() }),
            on(a, "a/labeled", 5, EventKind::Labeled { label: "bug".into() }),
        );
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.commit_batch(&complete(vec![(a, vec![labeled.clone(), assigned.clone()])])).unwrap();
        let outcome = store.commit_batch(&complete(vec![(a, vec![assigned.clone(), labeled.clone()])])).unwrap();
        assert_eq!((outcome.rewritten_items, outcome.events_changed), (vec![a.to_string()], 0));
        assert_eq!(ids_of(&store, a), ["a/assigned", "a/labeled"]);
        assert_eq!(
            store.commit_batch(&complete(vec![(a, vec![assigned, labeled])])).unwrap(),
            CommitOutcome::default()
        );
    }

    #[test]
    fn an_event_one_read_reports_on_another_item_belongs_to_that_read() {
        // The revert pull request `y` marks `x` reverted; `x`'s own read does not report it.
        let (x, y) = ("github:acme/api#1", "github:acme/api#2");
        let reverted = |at| on(x, "y#reverts", at, EventKind::Reverted { by: Some(y.into()) });
        let mut store = SqliteStore::open_in_memory().unwrap();
        store
            .commit_batch(&complete(vec![
                (x, vec![on(x, "x/opened", 1, EventKind::Opened)]),
                (y, vec![on(y, "y/opened", 2, EventKind::Opened), reverted(9)]),
            ]))
            .unwrap();
        // `x` read again without it: it stays (y's read reported it).
        let outcome = store.commit_batch(&complete(vec![(x, vec![on(x, "x/opened", 1, EventKind::Opened)])])).unwrap();
        assert_eq!(outcome, CommitOutcome::default());
        assert_eq!(ids_of(&store, x), ["x/opened", "y#reverts"]);
        // `x`'s timeline reports it too (a cross-reference): nothing changes, nothing is counted.
        let both = complete(vec![(x, vec![on(x, "x/opened", 1, EventKind::Opened), reverted(9)])]);
        assert_eq!(store.commit_batch(&both).unwrap(), CommitOutcome::default());
        // `y` read again, no longer reverting: `x` loses it... unless `x`'s read, last to report
        // it, still does: it now owns it.
        let outcome = store.commit_batch(&complete(vec![(y, vec![on(y, "y/opened", 2, EventKind::Opened)])])).unwrap();
        assert_eq!(outcome, CommitOutcome::default());
        assert_eq!(ids_of(&store, x), ["x/opened", "y#reverts"]);
        let outcome = store.commit_batch(&complete(vec![(x, vec![on(x, "x/opened", 1, EventKind::Opened)])])).unwrap();
        assert_eq!((outcome.rewritten_items, outcome.events_removed), (vec![x.to_string()], 1));
        assert_eq!(ids_of(&store, x), ["x/opened"]);
        // Reported by y again, then y dropping it in a batch that also reads x with it: kept.
        store.commit_batch(&complete(vec![(y, vec![on(y, "y/opened", 2, EventKind::Opened), reverted(9)])])).unwrap();
        let outcome = store
            .commit_batch(&complete(vec![
                (y, vec![on(y, "y/opened", 2, EventKind::Opened)]),
                (x, vec![on(x, "x/opened", 1, EventKind::Opened), reverted(9)]),
            ]))
            .unwrap();
        assert_eq!(outcome, CommitOutcome::default());
        assert_eq!(ids_of(&store, x), ["x/opened", "y#reverts"]);
    }

    #[test]
    fn an_item_that_takes_over_stored_ids_moves_them() {
        // A transferred issue keeps its node ids under a new key.
        let (old, new) = ("github:acme/api#1", "github:acme/web#9");
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.commit_batch(&complete(vec![(old, vec![on(old, "n/opened", 1, EventKind::Opened)])])).unwrap();
        let outcome =
            store.commit_batch(&complete(vec![(new, vec![on(new, "n/opened", 1, EventKind::Opened)])])).unwrap();
        assert_eq!(outcome.rewritten_items, vec![old.to_string(), new.to_string()]);
        assert_eq!(outcome.events_changed, 1);
        assert!(ids_of(&store, old).is_empty());
        assert_eq!(ids_of(&store, new), ["n/opened"]);
        assert_eq!(store.event_count().unwrap(), 1);
    }

    #[test]
    fn history_formats_are_recorded_with_the_cursor_they_restart_from() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        assert_eq!(store.history_format(SOURCE).unwrap(), None);
        store.commit_batch(&sample_batch()).unwrap();
        store.restart_history(SOURCE, 2, None).unwrap();
        assert_eq!(store.history_format(SOURCE).unwrap(), Some(2));
        assert_eq!(store.cursor(SOURCE).unwrap(), None);
        assert_eq!(store.event_count().unwrap(), 6, "the data stays for the re-read to replace");
        store.restart_history(SOURCE, 3, Some("rewound")).unwrap();
        assert_eq!(
            (store.history_format(SOURCE).unwrap(), store.cursor(SOURCE).unwrap()),
            (Some(3), Some("rewound".into()))
        );
        assert_eq!(store.history_format("other").unwrap(), None);
    }

    #[test]
    fn a_store_of_schema_2_migrates_and_its_events_own_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let raw = Connection::open(&path).unwrap();
            raw.execute_batch(SCHEMA_VERSION_TABLE).unwrap();
            for m in &MIGRATIONS[..2] {
                raw.execute_batch(m.sql).unwrap();
                raw.execute("INSERT INTO schema_version (version, description) VALUES (?1, 'old')", [m.version])
                    .unwrap();
            }
            raw.execute(
                "INSERT INTO events (id, seq, source, item, at, actor, kind, data)
                 VALUES ('old/state/7', 1, 'github-acme', 'github:acme/api#1', 5, NULL, 'merged', '{\"type\":\"merged\"}')",
                [],
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        let a = "github:acme/api#1";
        let outcome =
            store.commit_batch(&complete(vec![(a, vec![on(a, "new/merged/1", 5, EventKind::Merged)])])).unwrap();
        assert_eq!((outcome.events_removed, outcome.new_events), (1, vec![0]));
        assert_eq!(ids_of(&store, a), ["new/merged/1"]);
    }

    const CRASH_STORE_ENV: &str = "SILOSCOPE_STORE_CRASH_CHILD";
    const CRASH_BATCH_EVENTS: usize = 2_000;

    fn crash_batch(number: usize) -> Batch {
        Batch {
            source: SOURCE.into(),
            items: vec![item(&format!("github:acme/api#{number}"), SOURCE, ItemKind::Issue, ItemState::Open, 1)],
            events: (0..CRASH_BATCH_EVENTS)
                .map(|i| event(&format!("crash/{number}/{i}"), i as i64, None, EventKind::Opened))
                .collect(),
            cursor: Some(number.to_string()),
            ..Batch::default()
        }
    }

    /// Not a test on its own: the child process of `a_killed_writer_loses_nothing_and_counts_nothing_twice`,
    /// committing batches until it is killed. Without the environment variable it does nothing.
    #[test]
    #[ignore]
    fn crash_child_commits_until_killed() {
        let Ok(path) = std::env::var(CRASH_STORE_ENV) else {
            return;
        };
        let mut store = SqliteStore::open(Path::new(&path)).unwrap();
        // Stops on its own if the kill hook does not fire (the test then fails on the exit status).
        for number in 0..20 {
            store.commit_batch(&crash_batch(number)).unwrap();
        }
    }

    #[test]
    fn a_killed_writer_loses_nothing_and_counts_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crash.db");
        drop(SqliteStore::open(&path).unwrap());
        // The test hook SIGKILLs the child after 1,000 rows of its 6th transaction (a batch is an
        // item, its events and the cursor): 5 batches committed, the 6th half written.
        let rows_per_batch = 1 + CRASH_BATCH_EVENTS + 1;
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "store::sqlite::tests::crash_child_commits_until_killed",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env(CRASH_STORE_ENV, &path)
            .env("SILOSCOPE_TEST_KILL_AFTER_ROWS", (5 * rows_per_batch + 1_000).to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "killed by the hook: {status}");

        let mut store = SqliteStore::open(&path).unwrap();
        let last: usize = store.cursor(SOURCE).unwrap().unwrap().parse().unwrap();
        assert_eq!(last, 4, "the 6th batch (number 5) was open when the process died");
        assert_eq!(store.event_count().unwrap(), ((last + 1) * CRASH_BATCH_EVENTS) as u64);
        assert_eq!(items(&store).len(), last + 1);
        // Resuming from the cursor: the batch it names is fully stored, the next one is all new.
        assert_eq!(store.commit_batch(&crash_batch(last)).unwrap(), CommitOutcome::default());
        let resumed = store.commit_batch(&crash_batch(last + 1)).unwrap();
        assert_eq!(resumed.new_events.len(), CRASH_BATCH_EVENTS);
    }

    const REWRITE_ENV: &str = "SILOSCOPE_STORE_REWRITE_CHILD";

    /// The whole history of one item as read the `round`-th time: events 500·round .. 500·round +
    /// 1000, each dated by its number and the round. Each read after the first keeps 500 events
    /// (with a new time), adds 500 and drops 500.
    fn rewrite_batch(round: usize) -> Batch {
        let a = "github:acme/api#1";
        let events = (500 * round..500 * round + 1000)
            .map(|k| on(a, &format!("r/{k}"), (k + round) as i64, EventKind::Opened))
            .collect();
        let mut batch = complete(vec![(a, events)]);
        batch.items = vec![item(a, SOURCE, ItemKind::Issue, ItemState::Open, 1)];
        batch.cursor = Some(round.to_string());
        batch
    }

    /// Not a test on its own: the child process of `a_writer_killed_while_it_replaces_a_history_…`.
    #[test]
    #[ignore]
    fn rewrite_child_commits_until_killed() {
        let Ok(path) = std::env::var(REWRITE_ENV) else {
            return;
        };
        let mut store = SqliteStore::open(Path::new(&path)).unwrap();
        for round in 0..10 {
            store.commit_batch(&rewrite_batch(round)).unwrap();
        }
    }

    #[test]
    fn a_writer_killed_while_it_replaces_a_history_leaves_the_last_committed_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rewrite.db");
        drop(SqliteStore::open(&path).unwrap());
        // Rows: round 0 is the item, 1,000 inserts and the cursor; each later round the item, 500
        // updates, 500 inserts, 500 deletions and the cursor. Killed 250 rows into round 3's
        // deletions, with its updates and inserts written and not committed.
        let rows = 1_002 + 2 * 1_502 + 1 + 1_000 + 250;
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "store::sqlite::tests::rewrite_child_commits_until_killed",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env(REWRITE_ENV, &path)
            .env("SILOSCOPE_TEST_KILL_AFTER_ROWS", rows.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "killed by the hook: {status}");

        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("2"), "round 3 was open when the process died");
        let stored = |store: &SqliteStore| -> Vec<(String, i64)> {
            let mut out: Vec<(String, i64)> = events(store).into_iter().map(|e| (e.id, e.at)).collect();
            out.sort();
            out
        };
        let want = |round: usize| -> Vec<(String, i64)> {
            let mut out: Vec<(String, i64)> = rewrite_batch(round).events.into_iter().map(|e| (e.id, e.at)).collect();
            out.sort();
            out
        };
        assert_eq!(stored(&store), want(2), "exactly round 2's history: none of round 3's rewrite");
        // Resuming from the cursor: its round changes nothing, the next replaces it whole.
        assert_eq!(store.commit_batch(&rewrite_batch(2)).unwrap(), CommitOutcome::default());
        let outcome = store.commit_batch(&rewrite_batch(3)).unwrap();
        assert_eq!((outcome.new_events.len(), outcome.events_changed, outcome.events_removed), (500, 500, 500));
        assert_eq!(stored(&store), want(3));
    }

    /// Throughput figure for the report: `cargo test --release --lib store::sqlite -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn measure_insert_and_read_throughput() {
        const BATCHES: usize = 100;
        const PER_BATCH: usize = 10_000;
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("bench.db")).unwrap();
        let batches: Vec<Batch> = (0..BATCHES)
            .map(|b| Batch {
                source: SOURCE.into(),
                events: (0..PER_BATCH)
                    .map(|i| {
                        let n = b * PER_BATCH + i;
                        Event {
                            id: format!("github:acme/api#{}/evt/{n}", n / 20),
                            item: format!("github:acme/api#{}", n / 20),
                            at: 1_700_000_000 + n as i64,
                            actor: Some(format!("github:user{}", n % 500)),
                            kind: match n % 4 {
                                0 => EventKind::Opened,
                                1 => EventKind::Commented { mentions: vec!["acme/payments".into()] },
                                2 => EventKind::ReviewRequested { reviewer: Reviewer::Team("acme/payments".into()) },
                                _ => EventKind::Closed { completed: true },
                            },
                        }
                    })
                    .collect(),
                cursor: Some(format!("cursor-{b}")),
                ..Batch::default()
            })
            .collect();
        let started = std::time::Instant::now();
        let mut batch_times = Vec::with_capacity(BATCHES);
        for batch in &batches {
            let batch_started = std::time::Instant::now();
            assert_eq!(store.commit_batch(batch).unwrap().new_events.len(), PER_BATCH);
            batch_times.push(batch_started.elapsed());
        }
        let insert = started.elapsed();
        println!("first batch {:?}, last batch {:?}", batch_times[0], batch_times[BATCHES - 1]);
        let started = std::time::Instant::now();
        let mut read = 0usize;
        store.for_each_event(&mut |_| read += 1).unwrap();
        let scan = started.elapsed();
        let total = BATCHES * PER_BATCH;
        assert_eq!(read, total);
        println!(
            "insert: {total} events in {insert:?} = {:.0} events/s; read: {:.0} events/s",
            total as f64 / insert.as_secs_f64(),
            total as f64 / scan.as_secs_f64()
        );
    }
}
