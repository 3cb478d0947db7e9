//! The PostgreSQL backend of [`Store`]: one connection, one transaction per batch, writers
//! serialised by a transaction-scoped advisory lock so `events.seq` grows in commit order (what a
//! leader polling for new events needs). Owns connecting, migrating and diagnosing the database;
//! it must not interpret events beyond (de)serialising them, and never holds a password in a label.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls, Row, Transaction};

use super::forget::{self as sql, ForgetCounts, ForgetOutcome, ForgetPlan, PurgeOutcome, Tombstone};
use super::migrations::{MIGRATIONS, SCHEMA_VERSION_TABLE, latest_version};
use super::{Change, CommitOutcome, ItemCount, Lease, LeaseState, LeasedCommit, Store, StoreError, StoredEvent};
use crate::model::{Batch, DirectorySnapshot, Event, EventKind, HistoryStart, Item, ItemKind, ItemState, Ts};

/// `[store] url = "postgres://…"` with the password by reference.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresConfig {
    /// The connection URL, never holding a password (the config refuses one).
    pub url: String,
    pub password: Option<PasswordRef>,
}

/// Where the database password is read from when the store is opened.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordRef {
    /// `password_env`: an environment variable's name.
    Env(String),
    /// `password_file`: a file whose content (one trailing newline stripped) is the password.
    File(PathBuf),
}

/// Why a `[store] url` is not usable, as the config checker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    /// Not a `postgres://` or `postgresql://` URL.
    NotPostgres,
    /// The URL carries a password (`user:secret@host` or `?password=`).
    InlinePassword,
    /// It asks for TLS (`sslmode=require`), which this build does not speak to PostgreSQL.
    TlsRequired,
    /// The client library refuses it; the text says what it found.
    Invalid(String),
}

/// Checks a `[store] url` without connecting.
pub fn check_url(url: &str) -> Result<(), UrlProblem> {
    let Some(rest) = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")) else {
        return Err(UrlProblem::NotPostgres);
    };
    // Looked for before the library parses it, so no message of the parser can echo it.
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let userinfo_has_password = authority.rsplit_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':'));
    let query_has_password = rest
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair.split('=').next() == Some("password")));
    if userinfo_has_password || query_has_password {
        return Err(UrlProblem::InlinePassword);
    }
    let config: postgres::Config = url.parse().map_err(|err: postgres::Error| UrlProblem::Invalid(describe(&err)))?;
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err(UrlProblem::TlsRequired);
    }
    Ok(())
}

/// How long connecting may take before the open (or a reconnect) fails, unless the URL says.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Advisory lock classes (the first key of `pg_advisory_xact_lock(int, int)`; the second is the
/// schema's name hashed, so stores in different schemas of one database do not wait on each
/// other). Part of the store's format: every process writing one store must use the same.
const WRITER_LOCK: i32 = 0x5115_0001;
const MIGRATION_LOCK: i32 = 0x5115_0002;

/// Rows fetched per round trip when streaming events or items.
const FETCH_ROWS: i32 = 10_000;

const LOCK: &str = "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))";

/// The SQLite backend's upsert, over arrays: one statement per batch instead of one per item.
const UPSERT_ITEMS: &str = "
INSERT INTO items (key, source, kind, scope, url, title, author, created_at, updated_at, state, issue_type)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::bigint[], $9::bigint[], $10::text[], $11::text[])
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

/// New events only: the writer lock is held and the ids were looked up, so a conflict here is a
/// bug (or a writer that skips the lock) and fails the batch rather than counting wrong.
const INSERT_EVENTS: &str = "
INSERT INTO events (id, seq, source, item, at, actor, kind, data, origin)
SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                     $7::text[], $8::text[], $9::text[])";

/// Incremental events: an id already stored is left as it is; the ids inserted come back.
const INSERT_NEW_EVENTS: &str = "
INSERT INTO events (id, seq, source, item, at, actor, kind, data, origin)
SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                     $7::text[], $8::text[], $9::text[])
ON CONFLICT (id) DO NOTHING
RETURNING id";

const UPDATE_EVENTS: &str = "
UPDATE events AS e SET source = u.source, item = u.item, at = u.at, actor = u.actor, kind = u.kind,
                       data = u.data, origin = u.origin
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])
     AS u(id, source, item, at, actor, kind, data, origin)
WHERE e.id = u.id";

/// An item's events take the order its complete read reports them in (new `seq`s, all above
/// every stored one, so the unique index never sees two rows with one number).
const RESEQUENCE_EVENTS: &str = "
UPDATE events AS e SET seq = u.seq FROM UNNEST($1::text[], $2::bigint[]) AS u(id, seq) WHERE e.id = u.id";

const DELETE_EVENTS: &str = "DELETE FROM events WHERE id = ANY($1::text[])";

const STORED_EVENTS: &str =
    "SELECT id, item, at, actor, kind, data, origin, seq FROM events WHERE id = ANY($1::text[])";

/// The stored events complete reads of items $1 own: their own (origin NULL) and those an earlier
/// read of them reported on other items.
const OWNED_EVENTS: &str = "
SELECT id, item, at, actor, kind, data, origin, seq FROM events WHERE item = ANY($1::text[]) AND origin IS NULL
UNION ALL
SELECT id, item, at, actor, kind, data, origin, seq FROM events WHERE origin = ANY($1::text[])";

/// Each item's events in insertion order, items in the order asked (repeats included).
const EVENTS_OF_ITEMS: &str = "
SELECT e.id, e.item, e.at, e.actor, e.data
FROM UNNEST($1::text[]) WITH ORDINALITY AS q(item, n) JOIN events e ON e.item = q.item
ORDER BY q.n, e.seq";

const UPSERT_DIRECTORY: &str = "
INSERT INTO directory_snapshots (source, data) VALUES ($1, $2)
ON CONFLICT (source) DO UPDATE SET data = excluded.data";

const UPSERT_CURSOR: &str = "
INSERT INTO cursors (source, cursor) VALUES ($1, $2)
ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor";

const UPSERT_FORMAT: &str = "
INSERT INTO source_formats (source, history_format) VALUES ($1, $2)
ON CONFLICT (source) DO UPDATE SET history_format = excluded.history_format";

/// Keeps the earliest history start ever given (NULL, all history, is the earliest).
const UPSERT_HISTORY: &str = "
INSERT INTO source_history (source, history_from) VALUES ($1, $2)
ON CONFLICT (source) DO UPDATE SET history_from = CASE
    WHEN source_history.history_from IS NULL OR excluded.history_from IS NULL THEN NULL
    WHEN excluded.history_from < source_history.history_from THEN excluded.history_from
    ELSE source_history.history_from END";

/// The database's clock, in milliseconds since the epoch: the one clock every replica's leases
/// are measured by. `clock_timestamp()`, not `now()`, so a lease asked for late in a transaction
/// (after waiting on a row lock) is measured from when it is granted.
const DB_NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// Grants `$1` to `$2` for `$3` ms when free, expired, or `$2`'s already (then its token stays);
/// a concurrent takeover waits for the row lock a commit under the lease holds (`lease_held_sql`).
fn acquire_lease_sql() -> String {
    format!(
        "INSERT INTO leases AS l (unit, holder, token, expires_at) VALUES ($1, $2, 1, {now} + $3)
         ON CONFLICT (unit) DO UPDATE SET
             token = CASE WHEN l.holder = excluded.holder AND l.expires_at > {now} THEN l.token ELSE l.token + 1 END,
             holder = excluded.holder,
             expires_at = {now} + $3
         WHERE l.holder = excluded.holder OR l.expires_at <= {now}
         RETURNING token",
        now = DB_NOW_MS
    )
}

fn renew_lease_sql() -> String {
    format!(
        "UPDATE leases SET expires_at = {now} + $4
         WHERE unit = $1 AND holder = $2 AND token = $3 AND expires_at > {now}",
        now = DB_NOW_MS
    )
}

/// In a commit's transaction: the lease is still its holder's, and stays so until the commit
/// ends (the share lock makes a takeover wait).
fn lease_held_sql() -> String {
    format!(
        "SELECT 1 FROM leases WHERE unit = $1 AND holder = $2 AND token = $3 AND expires_at > {now} FOR SHARE",
        now = DB_NOW_MS
    )
}

const BUMP_CHANGES: &str = "UPDATE store_changes SET changes = changes + 1 WHERE id = 1 RETURNING changes";

/// What change `$1` changed (see migration 6): `$2` full reload, `$3` the highest `seq` before
/// it, `$4` and `$5` the JSON arrays of the item keys it wrote and rewrote.
const LOG_CHANGE: &str =
    "INSERT INTO store_change_log (change, full_reload, seq_before, items, rewritten) VALUES ($1, $2, $3, $4, $5)";

/// How many changes the log keeps: a leader further behind loads everything (every
/// [`LOG_PRUNE_EVERY`]th change deletes the older rows).
const LOG_KEEP: i64 = 100_000;
const LOG_PRUNE_EVERY: i64 = 1_000;

/// Records change `change` in the log (the caller bumped `store_changes` in this transaction).
fn log_change(
    tx: &mut Transaction<'_>,
    change: i64,
    full_reload: bool,
    seq_before: i64,
    items: &[&str],
    rewritten: &[String],
) -> Result<(), postgres::Error> {
    let items = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
    let rewritten = serde_json::to_string(rewritten).unwrap_or_else(|_| "[]".into());
    tx.execute(LOG_CHANGE, &[&change, &i64::from(full_reload), &seq_before, &items, &rewritten])?;
    if change % LOG_PRUNE_EVERY == 0 {
        tx.execute("DELETE FROM store_change_log WHERE change <= $1", &[&(change - LOG_KEEP)])?;
    }
    Ok(())
}

/// Bumps the change number and logs a change no list describes (a forget, a purge).
fn bump_for_full_reload(tx: &mut Transaction<'_>) -> Result<(), postgres::Error> {
    let change: i64 = tx.query_one(BUMP_CHANGES, &[])?.get(0);
    log_change(tx, change, true, 0, &[], &[])
}

const MAX_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM events";

/// A [`Store`] in a PostgreSQL database (the first schema of the connection's `search_path`).
///
/// The `postgres` client drives a runtime of its own, which tokio forbids on a thread that drives
/// another runtime; so every call runs on a short-lived thread of its own, and the daemon may call
/// the store from anywhere (as it does SQLite's). A connection that broke is opened again at the
/// next call.
pub struct PostgresStore {
    conn: RefCell<Option<Client>>,
    config: postgres::Config,
    /// How messages name this store: the URL (which holds no password).
    label: String,
}

impl PostgresStore {
    /// Connects with `config` (reading its password), migrates the schema to this build's, and
    /// refuses a schema written by a newer siloscope or holding another program's tables.
    pub fn open(config: &PostgresConfig) -> Result<PostgresStore, StoreError> {
        let label = config.url.clone();
        let mut pg: postgres::Config = config.url.parse().map_err(|err: postgres::Error| StoreError::Open {
            store: label.clone(),
            problem: format!("the URL is not valid: {}", describe(&err)),
            fix: "write it like url = \"postgres://siloscope@db.example.com:5432/siloscope\"".into(),
        })?;
        if let Some(password) = &config.password {
            pg.password(read_password(password, &label)?);
        }
        Self::open_with(pg, label)
    }

    /// Opens with a client config built elsewhere (tests: a schema per test through `options`).
    pub fn open_with(mut config: postgres::Config, label: String) -> Result<PostgresStore, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("siloscope");
        }
        let store = PostgresStore { conn: RefCell::new(None), config, label };
        store.with_client(|client| migrate(client, &store.label)).map_err(|failure| match failure {
            Failure::Store(err) => err,
            Failure::Pg(err) => open_failure(&store.label, &err),
        })?;
        Ok(store)
    }

    /// Runs `work` on the connection, on a thread of its own (see the type's doc), connecting first
    /// when there is no open connection.
    fn with_client<R: Send>(&self, work: impl FnOnce(&mut Client) -> Result<R, Failure> + Send) -> Result<R, Failure> {
        let mut guard = self.conn.borrow_mut();
        let slot: &mut Option<Client> = &mut guard;
        let config = &self.config;
        std::thread::scope(|scope| {
            let worker = scope.spawn(move || {
                let done = work(connected(slot, config)?);
                forget_if_broken(slot, done)
            });
            worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Like [`Self::with_client`], for a read whose rows `consume` takes on the calling thread
    /// while the worker fetches and decodes the next ones.
    fn stream<T: Send>(
        &self,
        action: &str,
        produce: impl FnOnce(&mut Client, &mut dyn FnMut(Vec<T>) -> bool) -> Result<(), Failure> + Send,
        consume: &mut dyn FnMut(T),
    ) -> Result<(), StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<T>>(2);
        let mut guard = self.conn.borrow_mut();
        let slot: &mut Option<Client> = &mut guard;
        let config = &self.config;
        let result = std::thread::scope(|scope| {
            let worker = scope.spawn(move || {
                // `send` fails only when the receiver is gone, i.e. the caller panicked.
                let produced = produce(connected(slot, config)?, &mut |chunk| tx.send(chunk).is_ok());
                forget_if_broken(slot, produced)
            });
            for chunk in rx {
                for value in chunk {
                    consume(value);
                }
            }
            worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        result.map_err(|failure| self.failed(action, failure))
    }

    fn run<R: Send>(
        &self,
        action: &str,
        work: impl FnOnce(&mut Client) -> Result<R, Failure> + Send,
    ) -> Result<R, StoreError> {
        self.with_client(work).map_err(|failure| self.failed(action, failure))
    }

    fn failed(&self, action: &str, failure: Failure) -> StoreError {
        match failure {
            Failure::Store(err) => err,
            Failure::Pg(err) => backend(&self.label, action.to_string(), &err),
        }
    }

    fn encode_error(&self, what: String, err: serde_json::Error) -> StoreError {
        StoreError::Encode { store: self.label.clone(), what, source: err }
    }
}

/// The open connection in `slot`, connecting first when there is none or it broke.
fn connected<'a>(slot: &'a mut Option<Client>, config: &postgres::Config) -> Result<&'a mut Client, Failure> {
    if slot.as_ref().is_none_or(Client::is_closed) {
        *slot = None;
        *slot = Some(config.connect(NoTls)?);
    }
    Ok(slot.as_mut().expect("connected above"))
}

/// Drops the connection after a failure that was not the server's answer to a statement (reset,
/// timeout, protocol): whether or not the client noticed it is closed, the next call starts afresh.
fn forget_if_broken<R>(slot: &mut Option<Client>, result: Result<R, Failure>) -> Result<R, Failure> {
    if let Err(Failure::Pg(err)) = &result
        && err.code().is_none()
    {
        *slot = None;
    }
    result
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Closing the client blocks on its runtime, which tokio forbids on a runtime's thread.
        if let Some(client) = self.conn.get_mut().take() {
            let _ = std::thread::Builder::new().name("siloscope-pg-close".into()).spawn(move || drop(client));
        }
    }
}

/// A failure inside a call: the database's (diagnosed by the caller, who knows the action) or
/// one already phrased for the operator.
enum Failure {
    Pg(postgres::Error),
    Store(StoreError),
}

impl From<postgres::Error> for Failure {
    fn from(err: postgres::Error) -> Failure {
        Failure::Pg(err)
    }
}

fn read_password(password: &PasswordRef, label: &str) -> Result<String, StoreError> {
    let open_error =
        |problem: String, fix: &str| StoreError::Open { store: label.to_string(), problem, fix: fix.into() };
    match password {
        PasswordRef::Env(var) => match std::env::var(var) {
            Ok(value) if !value.is_empty() => Ok(value),
            _ => Err(open_error(
                format!("environment variable {var} (store.password_env) is not set or empty"),
                "set it to the database user's password in the environment siloscope runs in",
            )),
        },
        PasswordRef::File(path) => match std::fs::read_to_string(path) {
            Ok(text) => {
                let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
                if value.is_empty() {
                    Err(open_error(
                        format!("password file {} (store.password_file) is empty", path.display()),
                        "write the database user's password into it",
                    ))
                } else {
                    Ok(value.to_string())
                }
            }
            Err(err) => Err(open_error(
                format!("cannot read password file {} (store.password_file): {err}", path.display()),
                "make it readable by the user running siloscope, or correct store.password_file",
            )),
        },
    }
}

/// The client's error with what it wraps: the server's message (and detail and hint) for a
/// database error, the cause for a connection error. Never holds the password: the client never
/// puts it in an error.
fn describe(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// What a PostgreSQL failure means for an operator, and what to do about it. `open` says whether
/// the store was being opened (a server not reached is then a wrong URL or a server down) or was
/// in use (the connection broke: the next call opens a new one).
fn diagnose(err: &postgres::Error, open: bool) -> (String, &'static str) {
    let described = describe(err);
    let Some(code) = err.code() else {
        if open {
            return (
                format!("cannot reach the server ({described})"),
                "check that PostgreSQL is running and that [store] url names its host and port",
            );
        }
        // Closed, reset, timed out, or a reconnect that failed: the connection, not the query.
        return (
            format!("the connection to the server failed ({described})"),
            "check that PostgreSQL is running and reachable at [store] url; siloscope reconnects at the next sync",
        );
    };
    let fix = if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
        "check the user in [store] url and the password that password_env or password_file gives, and \
         that pg_hba.conf lets this host in"
    } else if *code == SqlState::INVALID_CATALOG_NAME {
        "create the database (e.g. `createdb -O siloscope siloscope`) or correct its name in [store] url"
    } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
        "grant the user of [store] url CREATE and USAGE on the schema (PostgreSQL 15 no longer lets every \
         user create in `public`), or give siloscope a schema of its own with `?options=-csearch_path%3Dsiloscope`"
    } else if *code == SqlState::TOO_MANY_CONNECTIONS {
        "raise max_connections or close idle connections, then retry"
    } else if *code == SqlState::DISK_FULL || *code == SqlState::OUT_OF_MEMORY {
        "free disk space or memory on the database server, then retry"
    } else if code.code().starts_with("57") || code.code().starts_with("08") {
        "the server is shutting down, restarting or dropped the connection: siloscope reconnects at the next sync"
    } else {
        "check the database server's log; if it persists, report this message"
    };
    (described, fix)
}

fn open_failure(label: &str, err: &postgres::Error) -> StoreError {
    let (problem, fix) = diagnose(err, true);
    StoreError::Open { store: label.to_string(), problem, fix: fix.into() }
}

fn backend(label: &str, action: String, err: &postgres::Error) -> StoreError {
    let (problem, fix) = diagnose(err, false);
    StoreError::Backend { store: label.to_string(), action, fix: fix.into(), source: problem.into() }
}

/// Brings the schema to this build's version in one transaction, under a lock, so two processes
/// opening a new database at once cannot both migrate it and a failed migration leaves the old
/// schema intact (PostgreSQL's DDL is transactional).
fn migrate(client: &mut Client, label: &str) -> Result<(), Failure> {
    let open = |problem: String, fix: &str| {
        Failure::Store(StoreError::Open { store: label.to_string(), problem, fix: fix.into() })
    };
    let mut tx = client.transaction()?;
    let schema: Option<String> = tx.query_one("SELECT current_schema()", &[])?.get(0);
    let Some(schema) = schema else {
        return Err(open(
            "no schema of the connection's search_path exists".into(),
            "create the schema (CREATE SCHEMA …), or correct search_path in [store] url's options",
        ));
    };
    tx.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&MIGRATION_LOCK, &schema])?;
    let tables = |tx: &mut Transaction<'_>, filter: &str| -> Result<i64, postgres::Error> {
        let sql = format!(
            "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') {filter}"
        );
        Ok(tx.query_one(&sql, &[&schema])?.get(0))
    };
    if tables(&mut tx, "AND c.relname = 'schema_version'")? == 0 {
        if tables(&mut tx, "")? > 0 {
            return Err(open(
                format!("schema {schema} holds tables but is not a siloscope store (it has no schema_version)"),
                "point [store] url at a database of its own, or give siloscope a schema of its own with \
                 `?options=-csearch_path%3Dsiloscope` (after CREATE SCHEMA siloscope)",
            ));
        }
        tx.batch_execute(SCHEMA_VERSION_TABLE)?;
    }
    let current: i64 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?.get(0);
    let supported = latest_version();
    if current > supported {
        return Err(Failure::Store(StoreError::NewerSchema {
            store: label.to_string(),
            found: current,
            supported,
            fix: "upgrade siloscope, or point [store] url at a new database".into(),
        }));
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let applied = tx.batch_execute(migration.sql).and_then(|()| {
            tx.execute(
                "INSERT INTO schema_version (version, description) VALUES ($1, $2)",
                &[&migration.version, &migration.description],
            )
        });
        if let Err(err) = applied {
            let (problem, fix) = diagnose(&err, true);
            return Err(open(
                format!("schema migration {} ({}) failed: {problem}", migration.version, migration.description),
                fix,
            ));
        }
        tracing::info!(target: "siloscope::store::postgres", store = %label, version = migration.version,
            description = migration.description, "applied store schema migration");
    }
    tx.commit()?;
    Ok(())
}

fn stored_event(row: &Row) -> StoredEvent {
    StoredEvent {
        id: row.get(0),
        item: row.get(1),
        at: row.get(2),
        actor: row.get(3),
        kind: row.get(4),
        data: row.get(5),
        origin: row.get(6),
        seq: row.get(7),
    }
}

/// The columns of event rows to write, as arrays for one UNNEST statement.
#[derive(Default)]
struct EventColumns<'a> {
    ids: Vec<&'a str>,
    seqs: Vec<i64>,
    items: Vec<&'a str>,
    ats: Vec<i64>,
    actors: Vec<Option<&'a str>>,
    kinds: Vec<&'a str>,
    data: Vec<&'a str>,
    origins: Vec<Option<&'a str>>,
}

impl<'a> EventColumns<'a> {
    fn push(&mut self, event: &'a Event, data: &'a str, origin: Option<&'a str>) {
        self.ids.push(&event.id);
        self.items.push(&event.item);
        self.ats.push(event.at);
        self.actors.push(event.actor.as_deref());
        self.kinds.push(event.kind.name());
        self.data.push(data);
        self.origins.push(origin);
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// One transaction: the batch as [`Store::commit_batch`] says, with the SQLite backend's answers.
/// None when `lease` is given and no longer held: then nothing was written.
fn write_batch(
    client: &mut Client,
    batch: &Batch,
    event_data: &[String],
    directory_json: Option<&str>,
    lease: Option<&Lease>,
) -> Result<Option<LeasedCommit>, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute(LOCK, &[&WRITER_LOCK])?;
    if let Some(lease) = lease
        && tx.query_opt(&lease_held_sql(), &[&lease.unit, &lease.holder, &lease.token])?.is_none()
    {
        return Ok(None);
    }
    let seq_before: i64 = tx.query_one(MAX_SEQ, &[])?.get(0);
    let mut outcome =
        CommitOutcome { items_upserted: upsert_items(&mut tx, &batch.items)?, ..CommitOutcome::default() };
    if !batch.events.is_empty() {
        converge_events(&mut tx, batch, event_data, &mut outcome)?;
    }
    if let Some(json) = directory_json {
        tx.execute(UPSERT_DIRECTORY, &[&batch.source, &json])?;
        crate::testhooks::row_written();
    }
    if let Some(start) = batch.history_start {
        let from = match start {
            HistoryStart::Complete => None,
            HistoryStart::From(t) => Some(t),
        };
        tx.execute(UPSERT_HISTORY, &[&batch.source, &from])?;
        crate::testhooks::row_written();
    }
    if let Some(cursor) = &batch.cursor {
        tx.execute(UPSERT_CURSOR, &[&batch.source, cursor])?;
        crate::testhooks::row_written();
    }
    let changed = outcome.items_upserted > 0
        || !outcome.new_events.is_empty()
        || !outcome.rewritten_items.is_empty()
        || outcome.events_removed + outcome.events_changed > 0
        || directory_json.is_some();
    let change = if changed {
        let change: i64 = tx.query_one(BUMP_CHANGES, &[])?.get(0);
        let mut keys: Vec<&str> = batch.items.iter().map(|i| i.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        log_change(&mut tx, change, false, seq_before, &keys, &outcome.rewritten_items)?;
        Some(count(change))
    } else {
        None
    };
    tx.commit()?;
    Ok(Some(LeasedCommit { outcome, change }))
}

/// Upserts items as the SQLite backend does one by one: a key repeated in the batch goes in a
/// later statement (one statement cannot touch a row twice), so each repeat meets the row its
/// predecessor left, and the count is the rows inserted or changed.
fn upsert_items(tx: &mut Transaction<'_>, items: &[Item]) -> Result<usize, postgres::Error> {
    let mut rounds: Vec<Vec<&Item>> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for item in items {
        let round = seen.entry(&item.key).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(item);
        *round += 1;
    }
    let mut upserted = 0;
    for round in rounds {
        let col = |f: fn(&Item) -> &str| round.iter().map(|i| f(i)).collect::<Vec<&str>>();
        let keys = col(|i| &i.key);
        let sources = col(|i| &i.source);
        let kinds = col(|i| i.kind.as_str());
        let scopes = col(|i| &i.scope);
        let urls = col(|i| &i.url);
        let titles = col(|i| &i.title);
        let states = col(|i| i.state.as_str());
        let authors: Vec<Option<&str>> = round.iter().map(|i| i.author.as_deref()).collect();
        let issue_types: Vec<Option<&str>> = round.iter().map(|i| i.issue_type.as_deref()).collect();
        let created: Vec<i64> = round.iter().map(|i| i.created_at).collect();
        let updated: Vec<i64> = round.iter().map(|i| i.updated_at).collect();
        let rows = tx.execute(
            UPSERT_ITEMS,
            &[&keys, &sources, &kinds, &scopes, &urls, &titles, &authors, &created, &updated, &states, &issue_types],
        )?;
        for _ in &round {
            crate::testhooks::row_written();
        }
        upserted += rows as usize;
    }
    Ok(upserted)
}

/// Stores a batch's events with the answers of the SQLite backend's event-by-event walk: the walk
/// is the same, over what the events' ids and the complete reads' items hold when the batch starts
/// (read in two statements, under the writer lock), and its writes go out as one insert, one
/// update, one resequence and one delete over arrays.
fn converge_events(
    tx: &mut Transaction<'_>,
    batch: &Batch,
    event_data: &[String],
    outcome: &mut CommitOutcome,
) -> Result<(), postgres::Error> {
    let mut next_seq: i64 = tx.query_one("SELECT COALESCE(MAX(seq), 0) + 1 FROM events", &[])?.get(0);
    if batch.complete.is_empty() {
        return insert_incremental(tx, batch, event_data, next_seq, outcome);
    }

    // What the batch's ids hold now; grows with what the walk inserts.
    let distinct: Vec<&str> = {
        let mut seen = HashSet::new();
        batch.events.iter().map(|e| e.id.as_str()).filter(|id| seen.insert(*id)).collect()
    };
    let mut stored: HashMap<String, StoredEvent> =
        tx.query(STORED_EVENTS, &[&distinct])?.iter().map(|row| (row.get(0), stored_event(row))).collect();

    // Which complete read reports each event (a later range wins where two overlap).
    let mut claim: Vec<Option<usize>> = vec![None; batch.events.len()];
    for (h, history) in batch.complete.iter().enumerate() {
        let end = history.events.end.min(batch.events.len());
        for slot in &mut claim[history.events.start.min(end)..end] {
            *slot = Some(h);
        }
    }
    // What each complete read's item owns now, by id.
    let mut owned: Vec<HashMap<String, StoredEvent>> = vec![HashMap::new(); batch.complete.len()];
    if !batch.complete.is_empty() {
        let readers: Vec<&str> = batch.complete.iter().map(|c| c.item.as_str()).collect();
        let mut reads_of: HashMap<&str, Vec<usize>> = HashMap::new();
        for (h, reader) in readers.iter().enumerate() {
            reads_of.entry(reader).or_default().push(h);
        }
        for row in tx.query(OWNED_EVENTS, &[&readers])? {
            let event = stored_event(&row);
            let owner = event.origin.as_deref().unwrap_or(&event.item);
            for &h in reads_of.get(owner).map(Vec::as_slice).unwrap_or_default() {
                owned[h].insert(event.id.clone(), event.clone());
            }
        }
    }

    let mut inserts = EventColumns::default();
    let mut updates = EventColumns::default();
    // Rows the SQLite walk would have written one by one (its insert attempts, updates and
    // deletions), for the crash-test hook.
    let mut attempts = 0usize;
    let mut rewritten: BTreeSet<String> = BTreeSet::new();
    let mut claimed: HashSet<&str> = HashSet::new();
    // Per complete read, the insertion order (`seq`) of its item's events, in the order it reports them.
    let mut order: Vec<Vec<(i64, &str)>> = vec![Vec::new(); batch.complete.len()];
    for (index, (event, data)) in batch.events.iter().zip(event_data).enumerate() {
        let row_of = |origin: Option<&str>, seq: i64| StoredEvent {
            id: event.id.clone(),
            item: event.item.clone(),
            at: event.at,
            actor: event.actor.clone(),
            kind: event.kind.name().to_string(),
            data: data.clone(),
            origin: origin.map(str::to_string),
            seq,
        };
        let Some(h) = claim[index] else {
            attempts += 1;
            if !stored.contains_key(&event.id) {
                inserts.push(event, data, None);
                inserts.seqs.push(next_seq);
                stored.insert(event.id.clone(), row_of(None, next_seq));
                next_seq += 1;
                outcome.new_events.push(index);
            }
            continue;
        };
        if !claimed.insert(event.id.as_str()) {
            continue; // reported twice in this batch: the first report stands
        }
        let reader = batch.complete[h].item.as_str();
        let origin = (event.item != reader).then_some(reader);
        let before = match owned[h].remove(&event.id) {
            Some(row) => row,
            None => {
                attempts += 1;
                match stored.get(&event.id) {
                    // Stored, but owned by another item's read (or under another item).
                    Some(row) => row.clone(),
                    None => {
                        inserts.push(event, data, origin);
                        inserts.seqs.push(next_seq);
                        stored.insert(event.id.clone(), row_of(origin, next_seq));
                        if event.item == reader {
                            order[h].push((next_seq, event.id.as_str()));
                        }
                        next_seq += 1;
                        outcome.new_events.push(index);
                        continue;
                    }
                }
            }
        };
        if event.item == reader {
            order[h].push((before.seq, event.id.as_str()));
        }
        let same = before.same_content(event);
        if same && before.origin.as_deref() == origin {
            continue;
        }
        updates.push(event, data, origin);
        // An update leaves the row's insertion order as it is.
        stored.insert(event.id.clone(), row_of(origin, before.seq));
        if !same {
            outcome.events_changed += 1;
            rewritten.insert(event.item.clone());
            rewritten.insert(before.item);
        }
    }
    // Equal times keep the order a read reports (the engine breaks ties by insertion order): where
    // an item's stored order is not its read's (an older build wrote it, an event was reported
    // before ones stored earlier), its events are stored again in the read's order, as a fresh
    // sync would store them.
    let mut resequence: (Vec<&str>, Vec<i64>) = (Vec::new(), Vec::new());
    for (h, seqs) in order.iter().enumerate() {
        if seqs.windows(2).all(|w| w[0].0 < w[1].0) {
            continue;
        }
        for (_, id) in seqs {
            resequence.0.push(id);
            resequence.1.push(next_seq);
            next_seq += 1;
        }
        rewritten.insert(batch.complete[h].item.clone());
    }
    // What a complete read owned and no longer reports, unless another read of this batch does.
    let in_batch: HashSet<&str> = batch.events.iter().map(|e| e.id.as_str()).collect();
    let mut deletes: BTreeSet<String> = BTreeSet::new();
    for map in owned {
        for (id, row) in map {
            if !in_batch.contains(id.as_str()) && deletes.insert(id) {
                rewritten.insert(row.item);
            }
        }
    }

    if inserts.len() > 0 {
        let source = vec![batch.source.as_str(); inserts.len()];
        let c = &inserts;
        tx.execute(
            INSERT_EVENTS,
            &[&c.ids, &c.seqs, &source, &c.items, &c.ats, &c.actors, &c.kinds, &c.data, &c.origins],
        )?;
    }
    for _ in 0..attempts {
        crate::testhooks::row_written();
    }
    if updates.len() > 0 {
        let source = vec![batch.source.as_str(); updates.len()];
        let c = &updates;
        tx.execute(UPDATE_EVENTS, &[&c.ids, &source, &c.items, &c.ats, &c.actors, &c.kinds, &c.data, &c.origins])?;
        for _ in 0..updates.len() {
            crate::testhooks::row_written();
        }
    }
    if !resequence.0.is_empty() {
        tx.execute(RESEQUENCE_EVENTS, &[&resequence.0, &resequence.1])?;
        for _ in 0..resequence.0.len() {
            crate::testhooks::row_written();
        }
    }
    if !deletes.is_empty() {
        let ids: Vec<&str> = deletes.iter().map(String::as_str).collect();
        outcome.events_removed = tx.execute(DELETE_EVENTS, &[&ids])? as usize;
        for _ in 0..ids.len() {
            crate::testhooks::row_written();
        }
    }
    outcome.rewritten_items = rewritten.into_iter().collect();
    Ok(())
}

/// The common path, no complete history: every event is inserted unless its id is stored (or
/// came earlier in the batch), in one statement that reports which ids it inserted. Each first
/// occurrence gets the next `seq` in batch order; one whose id was stored leaves its number
/// unused (insertion order only needs `seq` to grow).
fn insert_incremental(
    tx: &mut Transaction<'_>,
    batch: &Batch,
    event_data: &[String],
    first_seq: i64,
    outcome: &mut CommitOutcome,
) -> Result<(), postgres::Error> {
    let mut rows = EventColumns::default();
    let mut first_index: HashMap<&str, usize> = HashMap::new();
    for (index, (event, data)) in batch.events.iter().zip(event_data).enumerate() {
        if let std::collections::hash_map::Entry::Vacant(slot) = first_index.entry(&event.id) {
            slot.insert(index);
            rows.push(event, data, None);
            rows.seqs.push(first_seq + rows.seqs.len() as i64);
        }
    }
    let source = vec![batch.source.as_str(); rows.len()];
    let c = &rows;
    let inserted = tx.query(
        INSERT_NEW_EVENTS,
        &[&c.ids, &c.seqs, &source, &c.items, &c.ats, &c.actors, &c.kinds, &c.data, &c.origins],
    )?;
    let mut new_events: Vec<usize> = inserted.iter().map(|row| first_index[row.get::<_, &str>(0)]).collect();
    new_events.sort_unstable();
    outcome.new_events = new_events;
    for _ in &batch.events {
        crate::testhooks::row_written();
    }
    Ok(())
}

/// Decodes an event row of (id, item, at, actor, data); None (with a warning) for data this
/// build cannot read.
fn event_of(row: &Row, label: &str) -> Option<Event> {
    let id: String = row.get(0);
    match serde_json::from_str::<EventKind>(row.get(4)) {
        Ok(kind) => Some(Event { id, item: row.get(1), at: row.get(2), actor: row.get(3), kind }),
        Err(err) => {
            tracing::warn!(target: "siloscope::store::postgres", store = %label, event_id = %id, error = %err,
                "skipping stored event whose data this build cannot read");
            None
        }
    }
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Streams the rows of `sql` through a portal, `FETCH_ROWS` at a time, in one read-only
/// transaction (one consistent snapshot, like SQLite's single statement), mapping each with `map`.
fn fetch<T>(
    client: &mut Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    map: &mut dyn FnMut(&Row) -> Option<T>,
    send: &mut dyn FnMut(Vec<T>) -> bool,
) -> Result<(), Failure> {
    let mut tx = snapshot(client)?;
    fetch_in(&mut tx, sql, params, map, send)?;
    tx.commit()?;
    Ok(())
}

/// A read-only transaction on one consistent snapshot.
fn snapshot(client: &mut Client) -> Result<Transaction<'_>, postgres::Error> {
    client.build_transaction().read_only(true).isolation_level(postgres::IsolationLevel::RepeatableRead).start()
}

/// [`fetch`] inside the transaction `tx`; false when the receiver is gone.
fn fetch_in<T>(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    map: &mut dyn FnMut(&Row) -> Option<T>,
    send: &mut dyn FnMut(Vec<T>) -> bool,
) -> Result<bool, postgres::Error> {
    let portal = tx.bind(sql, params)?;
    loop {
        let rows = tx.query_portal(&portal, FETCH_ROWS)?;
        let done = rows.len() < FETCH_ROWS as usize;
        let chunk: Vec<T> = rows.iter().filter_map(&mut *map).collect();
        if !chunk.is_empty() && !send(chunk) {
            return Ok(false);
        }
        if done {
            return Ok(true);
        }
    }
}

/// Items as [`Store::for_each_item`] reads them (byte order of keys whatever the collation).
const ITEMS: &str = "SELECT key, source, kind, scope, url, title, author, created_at, updated_at, state, issue_type \
                     FROM items ORDER BY key COLLATE \"C\"";
const ITEMS_OF_KEYS: &str = "SELECT key, source, kind, scope, url, title, author, created_at, updated_at, state, \
                             issue_type FROM items WHERE key = ANY($1::text[]) ORDER BY key COLLATE \"C\"";
const EVENTS: &str = "SELECT id, item, at, actor, data FROM events ORDER BY seq";
/// The events stored after `$1` in insertion order, except items `$2`'s.
const EVENTS_AFTER: &str =
    "SELECT id, item, at, actor, data FROM events WHERE seq > $1 AND NOT (item = ANY($2::text[])) ORDER BY seq";

/// Decodes an item row of [`ITEMS`]; None (with a warning) for a kind or state this build does not know.
fn item_of(row: &Row, label: &str) -> Option<Item> {
    let key: String = row.get(0);
    let kind: &str = row.get(2);
    let state: &str = row.get(9);
    let (Some(kind), Some(state)) = (ItemKind::parse(kind), ItemState::parse(state)) else {
        tracing::warn!(target: "siloscope::store::postgres", store = %label, item = %key, %kind, %state,
            "skipping stored item with a kind or state this build does not know");
        return None;
    };
    Some(Item {
        key,
        source: row.get(1),
        kind,
        scope: row.get(3),
        url: row.get(4),
        title: row.get(5),
        author: row.get(6),
        created_at: row.get(7),
        updated_at: row.get(8),
        state,
        issue_type: row.get(10),
    })
}

/// The log of the changes after `after` up to the snapshot's latest, merged: (latest, the highest
/// `seq` at `after`, item keys written, item keys rewritten); None when a full load is needed.
#[allow(clippy::type_complexity)]
fn logged_changes(
    tx: &mut Transaction<'_>,
    after: u64,
) -> Result<Option<(u64, i64, Vec<String>, Vec<String>)>, postgres::Error> {
    let latest = count(tx.query_one("SELECT changes FROM store_changes WHERE id = 1", &[])?.get(0));
    if latest < after {
        return Ok(None); // a store rebuilt under the frame: nothing to build on
    }
    let after_i = i64::try_from(after).unwrap_or(i64::MAX);
    let rows = tx.query(
        "SELECT change, full_reload, seq_before, items, rewritten FROM store_change_log \
         WHERE change > $1 ORDER BY change",
        &[&after_i],
    )?;
    if latest == after {
        return Ok(Some((latest, 0, Vec::new(), Vec::new())));
    }
    // Every change since must be logged (none pruned, none before the log existed), none a full reload.
    let first = rows.first().map(|r| r.get::<_, i64>(0));
    if rows.len() as u64 != latest - after || first != Some(after_i + 1) || rows.iter().any(|r| r.get::<_, i64>(1) != 0)
    {
        return Ok(None);
    }
    let seq_from: i64 = rows[0].get(2);
    let (mut items, mut rewritten) = (BTreeSet::new(), BTreeSet::new());
    for row in &rows {
        let (Ok(i), Ok(r)) =
            (serde_json::from_str::<Vec<String>>(row.get(3)), serde_json::from_str::<Vec<String>>(row.get(4)))
        else {
            return Ok(None);
        };
        items.extend(i);
        rewritten.extend(r);
    }
    Ok(Some((latest, seq_from, items.into_iter().collect(), rewritten.into_iter().collect())))
}

impl Store for PostgresStore {
    fn commit_batch(&mut self, batch: &Batch) -> Result<CommitOutcome, StoreError> {
        Ok(self.commit_leased(batch, None)?.outcome)
    }

    fn acquire_lease(&mut self, unit: &str, holder: &str, period: Duration) -> Result<Option<Lease>, StoreError> {
        let ms = period.as_millis() as i64;
        self.run(&format!("acquiring the lease on {unit}"), |client| {
            let row = client.query_opt(&acquire_lease_sql(), &[&unit, &holder, &ms])?;
            Ok(row.map(|row| Lease { unit: unit.into(), holder: holder.into(), token: row.get(0) }))
        })
    }

    fn renew_lease(&mut self, lease: &Lease, period: Duration) -> Result<bool, StoreError> {
        let ms = period.as_millis() as i64;
        self.run(&format!("renewing the lease on {}", lease.unit), |client| {
            Ok(client.execute(&renew_lease_sql(), &[&lease.unit, &lease.holder, &lease.token, &ms])? == 1)
        })
    }

    fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        self.run(&format!("releasing the lease on {}", lease.unit), |client| {
            client.execute(
                "UPDATE leases SET expires_at = 0 WHERE unit = $1 AND holder = $2 AND token = $3",
                &[&lease.unit, &lease.holder, &lease.token],
            )?;
            Ok(())
        })
    }

    fn leases(&self) -> Result<Vec<LeaseState>, StoreError> {
        self.run("reading the leases", |client| {
            let sql = format!("SELECT unit, holder, token, expires_at - {DB_NOW_MS} FROM leases ORDER BY unit");
            Ok(client
                .query(&sql, &[])?
                .iter()
                .map(|row| LeaseState {
                    unit: row.get(0),
                    holder: row.get(1),
                    token: row.get(2),
                    remaining_ms: row.get(3),
                })
                .collect())
        })
    }

    fn change_count(&self) -> Result<u64, StoreError> {
        self.run("reading the store's change number", |client| {
            Ok(count(client.query_one("SELECT changes FROM store_changes WHERE id = 1", &[])?.get(0)))
        })
    }

    fn commit_leased(&mut self, batch: &Batch, lease: Option<&Lease>) -> Result<LeasedCommit, StoreError> {
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
        let action = format!("committing a batch of source {}", batch.source);
        // On error the transaction is dropped, which rolls it back: nothing of the batch stays.
        let written =
            self.run(&action, |client| Ok(write_batch(client, batch, &event_data, directory_json.as_deref(), lease)?))?;
        written.ok_or_else(|| StoreError::LeaseLost {
            store: self.label.clone(),
            unit: lease.map_or_else(String::new, |l| l.unit.clone()),
        })
    }

    fn load_all(&self, items: &mut dyn FnMut(Item), events: &mut dyn FnMut(Event)) -> Result<u64, StoreError> {
        enum Loaded {
            Item(Item),
            Event(Event),
        }
        let label = self.label.as_str();
        let mut change = 0u64;
        let held = &mut change;
        self.stream(
            "loading the store",
            |client, send| {
                let mut tx = snapshot(client)?;
                *held = count(tx.query_one("SELECT changes FROM store_changes WHERE id = 1", &[])?.get(0));
                let mut item = |row: &Row| item_of(row, label).map(Loaded::Item);
                if fetch_in(&mut tx, ITEMS, &[], &mut item, send)? {
                    let mut event = |row: &Row| event_of(row, label).map(Loaded::Event);
                    fetch_in(&mut tx, EVENTS, &[], &mut event, send)?;
                }
                tx.commit()?;
                Ok(())
            },
            &mut |loaded| match loaded {
                Loaded::Item(i) => items(i),
                Loaded::Event(e) => events(e),
            },
        )?;
        Ok(change)
    }

    fn changes_since(&self, after: u64, apply: &mut dyn FnMut(Change)) -> Result<Option<u64>, StoreError> {
        let label = self.label.as_str();
        let mut answer: Option<u64> = None;
        let held = &mut answer;
        self.stream(
            "reading the store's changes",
            |client, send| {
                let mut tx = snapshot(client)?;
                let Some((latest, seq_from, items, rewritten)) = logged_changes(&mut tx, after)? else {
                    return Ok(());
                };
                *held = Some(latest);
                if latest == after {
                    return Ok(());
                }
                let mut item = |row: &Row| item_of(row, label).map(Change::Item);
                if !fetch_in(&mut tx, ITEMS_OF_KEYS, &[&items], &mut item, send)? {
                    return Ok(());
                }
                if !rewritten.is_empty() {
                    let mut stored: Vec<Vec<Event>> = vec![Vec::new(); rewritten.len()];
                    for row in tx.query(EVENTS_OF_ITEMS, &[&rewritten])? {
                        if let Some(e) = event_of(&row, label)
                            && let Ok(i) = rewritten.binary_search(&e.item)
                        {
                            stored[i].push(e);
                        }
                    }
                    let chunk = rewritten
                        .iter()
                        .zip(stored)
                        .map(|(item, events)| Change::Rewritten { item: item.clone(), events })
                        .collect();
                    if !send(chunk) {
                        return Ok(());
                    }
                }
                let mut event = |row: &Row| event_of(row, label).map(Change::Event);
                fetch_in(&mut tx, EVENTS_AFTER, &[&seq_from, &rewritten], &mut event, send)?;
                tx.commit()?;
                Ok(())
            },
            apply,
        )?;
        Ok(answer)
    }

    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.run(&format!("reading the cursor of source {source}"), |client| {
            Ok(client.query_opt("SELECT cursor FROM cursors WHERE source = $1", &[&source])?.map(|row| row.get(0)))
        })
    }

    fn history_format(&self, source: &str) -> Result<Option<u32>, StoreError> {
        self.run(&format!("reading the history format of source {source}"), |client| {
            let row = client.query_opt("SELECT history_format FROM source_formats WHERE source = $1", &[&source])?;
            Ok(row.map(|row| u32::try_from(row.get::<_, i64>(0)).unwrap_or(u32::MAX)))
        })
    }

    fn restart_history(&mut self, source: &str, format: u32, cursor: Option<&str>) -> Result<(), StoreError> {
        self.run(&format!("recording the history format of source {source}"), |client| {
            let mut tx = client.transaction()?;
            tx.execute(LOCK, &[&WRITER_LOCK])?;
            tx.execute(UPSERT_FORMAT, &[&source, &i64::from(format)])?;
            match cursor {
                Some(c) => tx.execute(UPSERT_CURSOR, &[&source, &c])?,
                None => tx.execute("DELETE FROM cursors WHERE source = $1", &[&source])?,
            };
            tx.commit()?;
            Ok(())
        })
    }

    fn for_each_event_of(&self, items: &[String], f: &mut dyn FnMut(Event)) -> Result<(), StoreError> {
        let label = self.label.as_str();
        self.stream(
            "reading the events of rewritten items",
            |client, send| fetch(client, EVENTS_OF_ITEMS, &[&items], &mut |row| event_of(row, label), send),
            f,
        )
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item)) -> Result<(), StoreError> {
        let label = self.label.as_str();
        self.stream("reading items", |client, send| fetch(client, ITEMS, &[], &mut |row| item_of(row, label), send), f)
    }

    fn for_each_event(&self, f: &mut dyn FnMut(Event)) -> Result<(), StoreError> {
        let label = self.label.as_str();
        let mut skipped: u64 = 0;
        let result = self.stream(
            "reading events",
            |client, send| {
                let mut map = |row: &Row| {
                    let event = event_of(row, label);
                    skipped += u64::from(event.is_none());
                    event
                };
                fetch(client, EVENTS, &[], &mut map, send)
            },
            f,
        );
        if skipped > 0 {
            tracing::warn!(target: "siloscope::store::postgres", store = %self.label, skipped,
                "skipped stored events this build cannot read (written by a newer siloscope?)");
        }
        result
    }

    fn directory_snapshots(&self) -> Result<Vec<(String, DirectorySnapshot)>, StoreError> {
        let rows: Vec<(String, String)> = self.run("reading directory snapshots", |client| {
            Ok(client
                .query("SELECT source, data FROM directory_snapshots", &[])?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect())
        })?;
        let mut snapshots = Vec::with_capacity(rows.len());
        for (source, data) in rows {
            match serde_json::from_str::<DirectorySnapshot>(&data) {
                Ok(snapshot) => snapshots.push((source, snapshot)),
                Err(err) => {
                    tracing::warn!(target: "siloscope::store::postgres", store = %self.label, %source, error = %err,
                    "skipping stored directory snapshot this build cannot read")
                }
            }
        }
        snapshots.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(snapshots)
    }

    fn history_starts(&self) -> Result<Vec<(String, HistoryStart)>, StoreError> {
        let mut rows: Vec<(String, Option<i64>)> = self.run("reading where sources' histories begin", |client| {
            Ok(client
                .query("SELECT source, history_from FROM source_history", &[])?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect())
        })?;
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows
            .into_iter()
            .map(|(source, from)| (source, from.map_or(HistoryStart::Complete, HistoryStart::From)))
            .collect())
    }

    fn item_counts(&self) -> Result<Vec<ItemCount>, StoreError> {
        let rows: Vec<(String, String, String, i64)> = self.run("counting items", |client| {
            Ok(client
                .query("SELECT source, kind, state, COUNT(*) FROM items GROUP BY source, kind, state", &[])?
                .iter()
                .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
                .collect())
        })?;
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
        self.run("counting events", |client| Ok(count(client.query_one("SELECT COUNT(*) FROM events", &[])?.get(0))))
    }

    fn event_counts_by_source(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut counts: Vec<(String, u64)> = self.run("counting events per source", |client| {
            Ok(client
                .query("SELECT source, COUNT(*) FROM events GROUP BY source", &[])?
                .iter()
                .map(|row| (row.get(0), count(row.get(1))))
                .collect())
        })?;
        counts.sort();
        Ok(counts)
    }

    fn tombstones(&self) -> Result<Vec<Tombstone>, StoreError> {
        self.run("reading the tombstones of forgotten identities", |client| {
            Ok(client
                .query(sql::TOMBSTONES, &[])?
                .iter()
                .map(|row| Tombstone {
                    digest: row.get(0),
                    placeholder: row.get(1),
                    drop_events: row.get::<_, i64>(2) != 0,
                    forgotten_at: row.get(3),
                })
                .collect())
        })
    }

    fn forget(&mut self, plan: &ForgetPlan) -> Result<ForgetOutcome, StoreError> {
        self.run("forgetting identities", |client| {
            let mut tx = client.transaction()?;
            tx.execute(LOCK, &[&WRITER_LOCK])?;
            let mut outcome = ForgetOutcome::default();
            let drop = i64::from(plan.drop_events);
            for f in &plan.identities {
                let existed: i64 = tx.query_one(&sql::pg(sql::TOMBSTONE_EXISTS), &[&f.digest])?.get(0);
                tx.execute(&sql::pg(sql::UPSERT_TOMBSTONE), &[&f.digest, &f.placeholder, &drop, &plan.at])?;
                let mut counts = ForgetCounts { tombstone_added: existed == 0, ..ForgetCounts::default() };
                if plan.drop_events {
                    counts.events_deleted = tx.execute(&sql::pg(sql::DELETE_EVENTS_OF), &[&f.identity])?;
                } else {
                    counts.events_reattributed =
                        tx.execute(&sql::pg(sql::REATTRIBUTE_EVENTS), &[&f.identity, &f.placeholder])?;
                }
                let (quoted, placeholder) = sql::quoted_pair(f);
                counts.events_data_rewritten =
                    tx.execute(&sql::pg(sql::REWRITE_EVENT_DATA), &[&quoted, &placeholder])?;
                counts.items_reattributed =
                    tx.execute(&sql::pg(sql::REATTRIBUTE_ITEMS), &[&f.identity, &f.placeholder])?;
                outcome.per_identity.push(counts);
            }
            for (source, json) in &plan.snapshots {
                tx.execute(UPSERT_DIRECTORY, &[source, json])?;
                outcome.snapshots_rewritten += 1;
            }
            bump_for_full_reload(&mut tx)?;
            tx.commit()?;
            Ok(outcome)
        })
    }

    fn purge_before(&mut self, horizon: Ts) -> Result<PurgeOutcome, StoreError> {
        self.run("deleting events past the retention horizon", |client| {
            let mut tx = client.transaction()?;
            tx.execute(LOCK, &[&WRITER_LOCK])?;
            let events_deleted = tx.execute(&sql::pg(sql::PURGE_EVENTS), &[&horizon])?;
            let items_deleted = tx.execute(&sql::pg(sql::PURGE_ITEMS), &[&horizon])?;
            if events_deleted + items_deleted > 0 {
                bump_for_full_reload(&mut tx)?;
            }
            tx.commit()?;
            Ok(PurgeOutcome { events_deleted, items_deleted })
        })
    }

    fn compact(&mut self) -> Result<(), StoreError> {
        // VACUUM FULL writes each table anew from its live rows and drops the old files (it cannot
        // run inside a transaction). Old rows may survive in PostgreSQL's WAL and in backups.
        self.run("compacting the store (VACUUM FULL)", |client| {
            // One statement per call: several in one query string would form a transaction block.
            for table in ["events", "items", "directory_snapshots"] {
                client.batch_execute(&format!("VACUUM FULL {table}"))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    //! What only the PostgreSQL backend does (URLs, passwords, connections, collations); what every
    //! [`Store`] answers is in `store::tests`, run against this backend and SQLite.
    use super::*;
    use crate::store::tests::postgres_test_config;

    #[test]
    fn urls_with_passwords_tls_or_other_schemes_are_refused() {
        assert_eq!(check_url("postgres://siloscope@db.example.com:5432/siloscope"), Ok(()));
        assert_eq!(check_url("postgresql://db/s?options=-csearch_path%3Dsiloscope&sslmode=disable"), Ok(()));
        assert_eq!(check_url("postgres://user:secret@db/s"), Err(UrlProblem::InlinePassword));
        assert_eq!(check_url("postgres://user:@db/s"), Err(UrlProblem::InlinePassword));
        assert_eq!(check_url("postgres://db/s?application_name=a&password=secret"), Err(UrlProblem::InlinePassword));
        // An `@` in the path or query is not a user.
        assert_eq!(check_url("postgres://db/s?application_name=a:b@c"), Ok(()));
        assert_eq!(check_url("mysql://db/s"), Err(UrlProblem::NotPostgres));
        assert_eq!(check_url("host=db dbname=s"), Err(UrlProblem::NotPostgres));
        assert_eq!(check_url("postgres://db/s?sslmode=require"), Err(UrlProblem::TlsRequired));
        assert!(matches!(check_url("postgres://db/s?sslmode=maybe"), Err(UrlProblem::Invalid(_))));
    }

    #[test]
    fn a_password_is_read_from_its_variable_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret with spaces \r\n").unwrap();
        assert_eq!(read_password(&PasswordRef::File(file.clone()), "pg").unwrap(), "s3cret with spaces ");
        std::fs::write(&file, "\n").unwrap();
        let err = read_password(&PasswordRef::File(file.clone()), "pg").unwrap_err().to_string();
        assert!(err.contains("is empty") && err.contains("store.password_file"), "{err}");
        let missing = dir.path().join("missing");
        let err = read_password(&PasswordRef::File(missing), "pg").unwrap_err().to_string();
        assert!(err.contains("cannot read password file"), "{err}");
        let var = "SILOSCOPE_TEST_UNSET_PASSWORD_VARIABLE";
        let err = read_password(&PasswordRef::Env(var.into()), "pg").unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot open store pg: environment variable {var} (store.password_env) is not set or empty; fix: \
                 set it to the database user's password in the environment siloscope runs in"
            )
        );
    }

    #[test]
    fn a_server_that_is_not_there_is_named_with_a_fix() {
        // Port 1 on the loopback: nothing listens, the connection is refused at once.
        let config = PostgresConfig { url: "postgres://siloscope@127.0.0.1:1/siloscope".into(), password: None };
        let err = PostgresStore::open(&config).err().expect("nothing listens there").to_string();
        assert!(
            err.starts_with("cannot open store postgres://siloscope@127.0.0.1:1/siloscope: cannot reach the server"),
            "{err}"
        );
        assert!(
            err.contains("fix: check that PostgreSQL is running and that [store] url names its host and port"),
            "{err}"
        );
    }

    /// The test server's config, or None (saying why) when `SILOSCOPE_TEST_POSTGRES` is unset.
    fn server() -> Option<(String, postgres::Config)> {
        match postgres_test_config() {
            Ok(found) => Some(found),
            Err(why) => {
                eprintln!("skipped: {why}");
                None
            }
        }
    }

    /// Runs `sql` (dropping what a test made) when the test ends, a failed assertion included.
    struct Cleanup(Client, String);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            if let Err(err) = self.0.batch_execute(&self.1) {
                eprintln!("cleanup `{}` failed: {err:?}", self.1);
            }
        }
    }

    fn admin(url: &str, config: &postgres::Config) -> Client {
        config.connect(NoTls).unwrap_or_else(|err| {
            panic!("SILOSCOPE_TEST_POSTGRES={url} is set but PostgreSQL cannot be reached there: {err:?}")
        })
    }

    #[test]
    fn a_search_path_without_a_schema_is_refused_with_a_fix() {
        let Some((url, mut config)) = server() else { return };
        config.options("-csearch_path=siloscope_test_no_such_schema");
        let err = PostgresStore::open_with(config, url).err().expect("no schema to create in").to_string();
        assert!(err.contains("no schema of the connection's search_path exists"), "{err}");
    }

    #[test]
    fn a_broken_connection_fails_the_call_in_flight_and_the_next_call_reconnects() {
        let Some((url, config)) = server() else { return };
        let schema = format!("siloscope_test_reconnect_{}", std::process::id());
        let mut admin = admin(&url, &config);
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
        let _cleanup = Cleanup(self::admin(&url, &config), format!("DROP SCHEMA {schema} CASCADE"));
        let mut store_config = config.clone();
        store_config.options(&format!("-csearch_path={schema}")).application_name(&schema);
        let store = PostgresStore::open_with(store_config, url.clone()).unwrap();
        assert_eq!(store.cursor("s").unwrap(), None);

        // The server ends the store's session (an administrator, a failover, a restart).
        let ended: Vec<bool> = admin
            .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&schema])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(ended, [true]);
        let err = store.cursor("s").expect_err("the session is gone").to_string();
        assert!(err.contains("reading the cursor of source s failed"), "{err}");
        assert!(err.contains("siloscope reconnects at the next sync"), "{err}");
        assert_eq!(store.cursor("s").unwrap(), None, "the next call connects again");
    }

    #[test]
    fn items_come_in_byte_order_whatever_the_database_collation() {
        let Some((url, config)) = server() else { return };
        // A database whose default collation is linguistic (ICU en-US: `a` < `B`, `Ä` beside `A`).
        let database = format!("siloscope_test_icu_{}", std::process::id());
        let mut admin = admin(&url, &config);
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).unwrap();
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {database} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            ))
            .unwrap();
        let _cleanup = Cleanup(admin, format!("DROP DATABASE {database} WITH (FORCE)"));
        let mut store_config = config.clone();
        store_config.dbname(&database);
        let mut store = PostgresStore::open_with(store_config, url.clone()).unwrap();
        let keys = ["jira:b-1", "jira:B-1", "jira:a-1", "jira:Ä-1", "jira:A-1"];
        let item = |key: &str| Item {
            key: key.into(),
            source: "jira".into(),
            kind: ItemKind::Ticket,
            scope: "PAY".into(),
            url: format!("https://example.test/{key}"),
            title: key.into(),
            author: None,
            created_at: 1,
            updated_at: 1,
            state: ItemState::Open,
            issue_type: None,
        };
        store
            .commit_batch(&Batch {
                source: "jira".into(),
                items: keys.iter().map(|k| item(k)).collect(),
                ..Batch::default()
            })
            .unwrap();
        let mut got = Vec::new();
        store.for_each_item(&mut |i| got.push(i.key)).unwrap();
        assert_eq!(got, ["jira:A-1", "jira:B-1", "jira:a-1", "jira:b-1", "jira:Ä-1"]);
    }
}
