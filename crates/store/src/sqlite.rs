//! The embedded SQLite backend of [`Store`]: one file in WAL mode, one immediate transaction per
//! batch, prepared statements cached across batches. Owns opening, migrating and diagnosing the
//! file; it must not interpret events beyond (de)serialising them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::forget::{self as sql, ForgetCounts, ForgetOutcome, ForgetPlan, PurgeOutcome, Tombstone};
use super::migrations::{MIGRATIONS, SCHEMA_VERSION_TABLE, latest_version};
use super::{CommitOutcome, ItemCount, Lease, LeaseState, LeasedCommit, Store, StoreError, StoredEvent};
use crate::model::{Batch, DirectorySnapshot, Event, EventKind, HistoryStart, Item, ItemKind, ItemState, Ts};

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

fn stored_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
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

/// A [`Store`] in one SQLite file (or in memory, for tests and demos).
pub struct SqliteStore {
    conn: Connection,
    /// How messages name this store: the file path, or `:memory:`.
    label: String,
    /// The writer's lock (`open_exclusive`), held as long as the store is open.
    _lock: Option<super::StoreLock>,
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

    /// As [`SqliteStore::open`], for the one process that writes the store (serve, sync, demo):
    /// first takes `<path>.lock` (see [`super::StoreLock`]) and holds it while the store is
    /// open, so a second writer is refused with a message naming the first, before it opens the
    /// file. Readers use [`SqliteStore::open`] alongside.
    pub fn open_exclusive(path: &Path) -> Result<SqliteStore, StoreError> {
        if path.is_dir() {
            return Self::open(path); // the directory error, before a lock file is made next to it
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            let _ = std::fs::create_dir_all(parent); // a failure is reported by `open` below
        }
        let lock = super::StoreLock::acquire(path)?;
        let mut store = Self::open(path)?;
        store._lock = Some(lock);
        Ok(store)
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
            // The first statement that reads the file: a file that is not a database fails here,
            // and another program's database is refused before anything (WAL) changes it.
            refuse_foreign(&conn, &label)?;
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(fail)?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(target: "siloscope::store::sqlite", store = %label, journal_mode = %mode,
                    "store could not switch to WAL mode; readers may wait for writers");
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(fail)?;
        conn.pragma_update(None, "cache_size", -CACHE_SIZE_KIB).map_err(fail)?;
        migrate(&mut conn, &label)?;
        Ok(SqliteStore { conn, label, _lock: None })
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
            let rows = select.query_map([&history.item], stored_event)?;
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
                    Some(stored_by_id.query_row([&event.id], stored_event)?)
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
            // Two reads of one item in a batch both list its rows: each row counts once.
            let deleted = delete.execute([&id])?;
            crate::testhooks::row_written();
            if deleted > 0 {
                outcome.events_removed += deleted;
                rewritten.insert(row.item);
            }
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

/// Refuses a SQLite database that is not a siloscope store (tables, no `schema_version`), by
/// reading only. `migrate` checks again inside its transaction.
fn refuse_foreign(conn: &Connection, label: &str) -> Result<(), StoreError> {
    let fail = |err: rusqlite::Error| open_failure(label, &err);
    let (versioned, objects): (bool, i64) = conn
        .query_row(
            "SELECT COALESCE(SUM(type = 'table' AND name = 'schema_version'), 0) > 0, \
                    COUNT(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(fail)?;
    if !versioned && objects > 0 {
        return Err(foreign(label));
    }
    Ok(())
}

fn foreign(label: &str) -> StoreError {
    StoreError::Open {
        store: label.to_string(),
        problem: "the file is a SQLite database but not a siloscope store (it has tables but no \
                  schema_version); it was left untouched"
            .into(),
        fix: "point [store] path at a siloscope store or a new file".into(),
    }
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
            return Err(foreign(label));
        }
        tx.execute_batch(SCHEMA_VERSION_TABLE).map_err(fail)?;
    }
    let current: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |row| row.get(0)).map_err(fail)?;
    let supported = latest_version();
    if current > supported {
        return Err(StoreError::NewerSchema {
            store: label.to_string(),
            found: current,
            supported,
            fix: "upgrade siloscope, or point [store] path at a new file".into(),
        });
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
        tracing::info!(target: "siloscope::store::sqlite", store = %label, version = migration.version,
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

    // One writing process (the store lock refuses a second): every lease is granted and never
    // lost, and that process sees its own changes, so there is nothing to count.
    fn acquire_lease(&mut self, unit: &str, holder: &str, _: Duration) -> Result<Option<Lease>, StoreError> {
        Ok(Some(Lease { unit: unit.into(), holder: holder.into(), token: 1 }))
    }

    fn renew_lease(&mut self, _: &Lease, _: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }

    fn release_lease(&mut self, _: &Lease) -> Result<(), StoreError> {
        Ok(())
    }

    fn leases(&self) -> Result<Vec<LeaseState>, StoreError> {
        Ok(Vec::new())
    }

    fn commit_leased(&mut self, batch: &Batch, _: Option<&Lease>) -> Result<LeasedCommit, StoreError> {
        Ok(LeasedCommit { outcome: self.write_batch(batch)?, change: None })
    }

    fn change_count(&self) -> Result<u64, StoreError> {
        Ok(0)
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
                        Err(err) => {
                            tracing::warn!(target: "siloscope::store::sqlite", store = %self.label, event_id = %id, error = %err,
                            "skipping stored event whose data this build cannot read")
                        }
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
                    tracing::warn!(target: "siloscope::store::sqlite", store = %self.label, item = %key, %kind, %state,
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
                        tracing::warn!(target: "siloscope::store::sqlite", store = %self.label, event_id = %id, error = %err,
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
            tracing::warn!(target: "siloscope::store::sqlite", store = %self.label, skipped,
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
                Err(err) => {
                    tracing::warn!(target: "siloscope::store::sqlite", store = %self.label, %source, error = %err,
                    "skipping stored directory snapshot this build cannot read")
                }
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

    fn tombstones(&self) -> Result<Vec<Tombstone>, StoreError> {
        let read = || -> rusqlite::Result<Vec<Tombstone>> {
            let mut stmt = self.conn.prepare_cached(sql::TOMBSTONES)?;
            let rows = stmt.query_map([], |row| {
                Ok(Tombstone {
                    digest: row.get(0)?,
                    placeholder: row.get(1)?,
                    drop_events: row.get::<_, i64>(2)? != 0,
                    forgotten_at: row.get(3)?,
                })
            })?;
            rows.collect()
        };
        read().map_err(|err| self.backend_error("reading the tombstones of forgotten identities", err))
    }

    fn forget(&mut self, plan: &ForgetPlan) -> Result<ForgetOutcome, StoreError> {
        let action = "forgetting identities";
        // Deleted and overwritten content is zeroed in the file, not only unlinked.
        self.conn.pragma_update(None, "secure_delete", "ON").map_err(|err| self.backend_error(action, err))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| backend(&self.label, action.into(), err))?;
        let run = |tx: &rusqlite::Transaction<'_>| -> rusqlite::Result<ForgetOutcome> {
            let mut outcome = ForgetOutcome::default();
            for f in &plan.identities {
                let existed: i64 = tx.query_row(sql::TOMBSTONE_EXISTS, [&f.digest], |row| row.get(0))?;
                tx.execute(
                    sql::UPSERT_TOMBSTONE,
                    params![f.digest, f.placeholder, i64::from(plan.drop_events), plan.at],
                )?;
                let mut counts = ForgetCounts { tombstone_added: existed == 0, ..ForgetCounts::default() };
                if plan.drop_events {
                    counts.events_deleted = tx.execute(sql::DELETE_EVENTS_OF, [&f.identity])? as u64;
                } else {
                    counts.events_reattributed =
                        tx.execute(sql::REATTRIBUTE_EVENTS, params![f.identity, f.placeholder])? as u64;
                }
                let (quoted, placeholder) = sql::quoted_pair(f);
                counts.events_data_rewritten =
                    tx.execute(sql::REWRITE_EVENT_DATA, params![quoted, placeholder])? as u64;
                counts.items_reattributed =
                    tx.execute(sql::REATTRIBUTE_ITEMS, params![f.identity, f.placeholder])? as u64;
                outcome.per_identity.push(counts);
            }
            for (source, json) in &plan.snapshots {
                tx.prepare_cached(UPSERT_DIRECTORY)?.execute(params![source, json])?;
                outcome.snapshots_rewritten += 1;
            }
            Ok(outcome)
        };
        let outcome = run(&tx).map_err(|err| backend(&self.label, action.into(), err))?;
        tx.commit().map_err(|err| backend(&self.label, action.into(), err))?;
        Ok(outcome)
    }

    fn purge_before(&mut self, horizon: Ts) -> Result<PurgeOutcome, StoreError> {
        let action = "deleting events past the retention horizon";
        self.conn.pragma_update(None, "secure_delete", "ON").map_err(|err| self.backend_error(action, err))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| backend(&self.label, action.into(), err))?;
        let run = |tx: &rusqlite::Transaction<'_>| -> rusqlite::Result<PurgeOutcome> {
            let events_deleted = tx.execute(sql::PURGE_EVENTS, [horizon])? as u64;
            let items_deleted = tx.execute(sql::PURGE_ITEMS, [horizon])? as u64;
            Ok(PurgeOutcome { events_deleted, items_deleted })
        };
        let outcome = run(&tx).map_err(|err| backend(&self.label, action.into(), err))?;
        tx.commit().map_err(|err| backend(&self.label, action.into(), err))?;
        Ok(outcome)
    }

    fn compact(&mut self) -> Result<(), StoreError> {
        // VACUUM rebuilds the file from the live rows; the checkpoint then copies it back from the
        // WAL and truncates the WAL, so no older page survives in either file.
        self.conn
            .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|err| self.backend_error("compacting the store (VACUUM)", err))
    }
}

#[cfg(test)]
mod tests {
    //! What only a file-backed store does; what every [`Store`] answers is in `store::tests`, run
    //! against this backend and PostgreSQL.
    use super::*;
    use crate::model::Reviewer;

    const SOURCE: &str = "github-acme";

    fn open_error(path: &Path) -> String {
        match SqliteStore::open(path) {
            Ok(_) => panic!("opening {} should fail", path.display()),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn a_file_store_runs_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("wal.db")).unwrap();
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
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
