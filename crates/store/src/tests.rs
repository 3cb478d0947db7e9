//! The store test suite, run against every backend: each test is a function generic over a
//! [`Backend`] (a fresh, empty store of one kind and a raw connection beside it), instantiated
//! once per backend by `store_tests!`. Backend-only behaviour (files, URLs) is tested beside each
//! backend; what a [`Store`] answers is tested here, so the backends cannot drift apart.
//!
//! The PostgreSQL half needs `SILOSCOPE_TEST_POSTGRES` (a URL; `tests/run` sets it and makes sure
//! the server is up). Each test gets a schema of its own, dropped after. With the variable set, a
//! server that cannot be reached fails the test; without it the PostgreSQL half says it skipped.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};

use super::migrations::{MIGRATIONS, SCHEMA_VERSION_TABLE, latest_version};
use super::{CommitOutcome, ItemCount, PostgresStore, SqliteStore, Store, StoreError};
use crate::model::{
    Batch, DirectorySnapshot, Event, EventKind, HistoryStart, Item, ItemKind, ItemState, LinkRelation, ReviewState,
    Reviewer, SnapshotMembership, SnapshotPerson, SnapshotTeam, StatusCategory,
};

/// A fresh, empty store of one backend, and a raw connection to it for what only SQL can do
/// (old schemas, faults, foreign tables).
pub(super) trait Backend: Sized {
    type S: Store;
    /// The module `store_tests!` puts this backend's tests in (child processes are named by it).
    const MODULE: &'static str;
    /// The end of the newer-schema fix: how to point the config at a new store.
    const NEW_STORE: &'static str;
    /// What the refusal of another program's tables says.
    const NOT_A_STORE: &'static str;
    /// Whether several processes share the store, so a lease is one holder's (PostgreSQL), or one
    /// process writes it and every lease is granted (SQLite).
    const SHARED: bool;
    /// Whether this backend can run here; `Err` says why not (the test then skips, saying so).
    fn available() -> Result<(), String>;
    /// Empty storage; nothing is created in it until a store is opened.
    fn new() -> Self;
    fn try_open(&self) -> Result<Self::S, StoreError>;
    fn open(&self) -> Self::S {
        self.try_open().unwrap_or_else(|err| panic!("opening the {} test store: {err}", Self::MODULE))
    }
    /// How the store names itself in messages.
    fn label(&self) -> String;
    /// Runs statements on a connection of its own.
    fn execute(&self, sql: &str);
    /// The first column of every row of `sql`.
    fn i64s(&self, sql: &str) -> Vec<i64>;
    fn versions(&self) -> Vec<i64> {
        self.i64s("SELECT version FROM schema_version ORDER BY version")
    }
    fn versions_table_exists(&self) -> bool;
    /// Makes every update of a stored cursor fail with "simulated crash" (or stop failing).
    fn refuse_cursor_updates(&self, refuse: bool);
    /// The environment a child process needs to open this very store.
    fn child_env(&self) -> Vec<(&'static str, String)>;
    /// In a child process started by [`run_child`]: the store its parent named; None otherwise.
    fn open_in_child() -> Option<Self::S>;

    /// Runs the ignored test `name` of this backend in a child process on this store, with the
    /// kill hook set to fire after `kill_after_rows` rows.
    fn run_child(&self, name: &str, kill_after_rows: usize) -> ExitStatus {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([&format!("tests::{}::{name}", Self::MODULE), "--exact", "--ignored", "--test-threads=1"])
            .env("SILOSCOPE_TEST_KILL_AFTER_ROWS", kill_after_rows.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (key, value) in self.child_env() {
            child.env(key, value);
        }
        child.status().unwrap()
    }
}

/// Instantiates every generic test once per backend: `tests::sqlite::NAME` and
/// `tests::postgres::NAME`.
macro_rules! store_tests {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] $(#[$attr])* fn $name() { super::run::<super::Sqlite>(super::$name::<super::Sqlite>) } )*
        }
        mod postgres {
            $( #[test] $(#[$attr])* fn $name() { super::run::<super::Postgres>(super::$name::<super::Postgres>) } )*
        }
    };
}

fn run<B: Backend>(test: fn()) {
    match B::available() {
        Ok(()) => test(),
        Err(why) => eprintln!("skipped on {}: {why}", B::MODULE),
    }
}

store_tests!(
    committed_batch_reads_back_unchanged,
    committing_the_same_batch_twice_changes_nothing,
    known_event_ids_are_ignored_and_order_is_first_insertion,
    cursor_moves_only_with_its_batch,
    item_upsert_keeps_the_newer_row,
    items_repeated_in_a_batch_are_upserted_in_turn,
    item_counts_group_by_source_kind_and_state,
    items_come_in_byte_order_of_their_keys,
    directory_snapshot_is_replaced_per_source,
    a_reopened_store_keeps_everything,
    schema_version_is_recorded_once_and_newer_stores_are_refused,
    history_start_comes_with_a_first_batch_and_only_ever_moves_earlier,
    a_store_of_schema_1_migrates_and_keeps_its_data_without_history_starts,
    another_programs_tables_are_refused_and_left_untouched,
    unreadable_event_rows_are_skipped_not_fatal,
    a_complete_history_replaces_what_the_item_had_and_touches_nothing_else,
    an_event_one_read_reports_on_another_item_belongs_to_that_read,
    an_item_that_takes_over_stored_ids_moves_them,
    two_reads_of_one_item_in_a_batch_remove_each_row_once,
    an_items_events_take_the_order_its_complete_read_reports,
    an_event_read_before_stored_ones_puts_the_item_in_the_reads_order,
    an_event_stored_earlier_in_the_batch_takes_its_place_in_the_read,
    events_of_items_come_item_by_item_in_the_order_asked,
    history_formats_are_recorded_with_the_cursor_they_restart_from,
    a_store_of_schema_2_migrates_and_its_events_own_themselves,
    large_batches_stream_back_whole_and_in_order,
    two_writers_on_one_store_commit_whole_batches_in_turn,
    the_store_works_from_inside_an_async_runtime,
    a_lease_is_one_holders_until_it_expires_or_is_released_then_passes_on_with_a_new_token,
    of_replicas_asking_at_once_one_gets_the_lease,
    a_commit_under_a_lost_lease_stores_nothing,
    the_change_number_counts_commits_that_changed_what_a_frame_holds,
    #[ignore]
    crash_child_commits_until_killed,
    a_killed_writer_loses_nothing_and_counts_nothing_twice,
    #[ignore]
    rewrite_child_commits_until_killed,
    a_writer_killed_while_it_replaces_a_history_leaves_the_last_committed_one_whole,
);

// --- SQLite: a file in a temporary directory ---------------------------------------------------

const SQLITE_CHILD_ENV: &str = "SILOSCOPE_STORE_TEST_SQLITE";

pub(super) struct Sqlite {
    _dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Sqlite {
    fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).unwrap()
    }
}

impl Backend for Sqlite {
    type S = SqliteStore;
    const MODULE: &'static str = "sqlite";
    const NEW_STORE: &'static str = "[store] path at a new file";
    const NOT_A_STORE: &'static str = "is a SQLite database but not a siloscope store";
    const SHARED: bool = false;

    fn available() -> Result<(), String> {
        Ok(())
    }

    fn new() -> Sqlite {
        let dir = tempfile::tempdir().unwrap();
        // A missing parent directory is created when the store opens.
        let path = dir.path().join("state").join("siloscope.db");
        Sqlite { _dir: Some(dir), path }
    }

    fn try_open(&self) -> Result<SqliteStore, StoreError> {
        SqliteStore::open(&self.path)
    }

    fn label(&self) -> String {
        self.path.display().to_string()
    }

    fn execute(&self, sql: &str) {
        std::fs::create_dir_all(self.path.parent().unwrap()).unwrap();
        self.raw().execute_batch(sql).unwrap();
    }

    fn i64s(&self, sql: &str) -> Vec<i64> {
        let raw = self.raw();
        let mut stmt = raw.prepare(sql).unwrap();
        stmt.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    fn versions_table_exists(&self) -> bool {
        self.i64s("SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_version'") == [1]
    }

    fn refuse_cursor_updates(&self, refuse: bool) {
        self.execute(if refuse {
            "CREATE TRIGGER refuse_cursor BEFORE UPDATE ON cursors
             BEGIN SELECT RAISE(ABORT, 'simulated crash'); END;"
        } else {
            "DROP TRIGGER refuse_cursor"
        });
    }

    fn child_env(&self) -> Vec<(&'static str, String)> {
        vec![(SQLITE_CHILD_ENV, self.path.display().to_string())]
    }

    fn open_in_child() -> Option<SqliteStore> {
        let path = std::env::var(SQLITE_CHILD_ENV).ok()?;
        Some(Sqlite { _dir: None, path: path.into() }.open())
    }
}

// --- PostgreSQL: a schema of its own in the test database --------------------------------------

/// The test server's URL, set by `tests/run`.
pub(crate) const POSTGRES_ENV: &str = "SILOSCOPE_TEST_POSTGRES";
const POSTGRES_CHILD_ENV: &str = "SILOSCOPE_STORE_TEST_PG_SCHEMA";

pub(super) struct Postgres {
    base: ::postgres::Config,
    url: String,
    schema: String,
    /// The raw connection, with the schema first in its search_path.
    raw: RefCell<::postgres::Client>,
    /// Whether this value created the schema (and so drops it); a child process borrows its parent's.
    owned: bool,
}

/// The test server's client config, or why there is none.
pub(crate) fn postgres_test_config() -> Result<(String, ::postgres::Config), String> {
    let url = std::env::var(POSTGRES_ENV)
        .map_err(|_| format!("{POSTGRES_ENV} is not set (tests/run sets it and starts PostgreSQL)"))?;
    let config = url.parse().unwrap_or_else(|err| panic!("{POSTGRES_ENV}={url} is not a PostgreSQL URL: {err}"));
    Ok((url, config))
}

impl Postgres {
    fn attach(url: String, base: ::postgres::Config, schema: String, owned: bool) -> Postgres {
        let mut config = base.clone();
        config.options(&format!("-csearch_path={schema}"));
        let raw = config.connect(::postgres::NoTls).unwrap_or_else(|err| {
            panic!("{POSTGRES_ENV}={url} is set but PostgreSQL cannot be reached there: {err:?}; start it (tests/run does) or unset {POSTGRES_ENV}")
        });
        Postgres { base, url, schema, raw: RefCell::new(raw), owned }
    }

    fn store_config(&self) -> ::postgres::Config {
        let mut config = self.base.clone();
        config.options(&format!("-csearch_path={}", self.schema));
        config
    }
}

impl Backend for Postgres {
    type S = PostgresStore;
    const MODULE: &'static str = "postgres";
    const NEW_STORE: &'static str = "[store] url at a new database";
    const NOT_A_STORE: &'static str = "holds tables but is not a siloscope store";
    const SHARED: bool = true;

    fn available() -> Result<(), String> {
        postgres_test_config().map(drop)
    }

    fn new() -> Postgres {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let (url, base) = postgres_test_config().expect("checked by `run`");
        let schema = format!("siloscope_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut admin = base.connect(::postgres::NoTls).unwrap_or_else(|err| {
            panic!("{POSTGRES_ENV}={url} is set but PostgreSQL cannot be reached there: {err:?}; start it (tests/run does) or unset {POSTGRES_ENV}")
        });
        // A schema of this name left by a killed run of a process with the same id goes first.
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
        Postgres::attach(url, base, schema, true)
    }

    fn try_open(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_with(self.store_config(), self.label())
    }

    fn label(&self) -> String {
        format!("{} (schema {})", self.url, self.schema)
    }

    fn execute(&self, sql: &str) {
        self.raw.borrow_mut().batch_execute(sql).unwrap();
    }

    fn i64s(&self, sql: &str) -> Vec<i64> {
        self.raw.borrow_mut().query(sql, &[]).unwrap().iter().map(|row| row.get(0)).collect()
    }

    fn versions_table_exists(&self) -> bool {
        self.i64s(&format!(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = '{}' AND tablename = 'schema_version'",
            self.schema
        )) == [1]
    }

    fn refuse_cursor_updates(&self, refuse: bool) {
        self.execute(if refuse {
            "CREATE FUNCTION refuse_cursor() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'simulated crash'; END $$;
             CREATE TRIGGER refuse_cursor BEFORE UPDATE ON cursors FOR EACH ROW EXECUTE FUNCTION refuse_cursor();"
        } else {
            "DROP TRIGGER refuse_cursor ON cursors; DROP FUNCTION refuse_cursor();"
        });
    }

    fn child_env(&self) -> Vec<(&'static str, String)> {
        vec![(POSTGRES_CHILD_ENV, self.schema.clone()), (POSTGRES_ENV, self.url.clone())]
    }

    fn open_in_child() -> Option<PostgresStore> {
        let schema = std::env::var(POSTGRES_CHILD_ENV).ok()?;
        let (url, base) = postgres_test_config().ok()?;
        Some(Postgres::attach(url, base, schema, false).open())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.owned {
            let dropped = self.raw.get_mut().batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
            if let Err(err) = dropped {
                eprintln!("could not drop test schema {}: {err:?}", self.schema);
            }
        }
    }
}

// --- the suite -----------------------------------------------------------------------------------

const SOURCE: &str = "github-acme";
const CRASH_BATCH_EVENTS: usize = 2_000;

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
        ..Default::default()
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
        profiles: Vec::new(),
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

fn committed_batch_reads_back_unchanged<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
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

fn committing_the_same_batch_twice_changes_nothing<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
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

fn known_event_ids_are_ignored_and_order_is_first_insertion<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
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

fn item_upsert_keeps_the_newer_row<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
    let key = "github:acme/api#1";
    let commit = |store: &mut B::S, item: Item| {
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

fn item_counts_group_by_source_kind_and_state<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
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

fn directory_snapshot_is_replaced_per_source<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
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

fn history_start_comes_with_a_first_batch_and_only_ever_moves_earlier<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
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

fn a_complete_history_replaces_what_the_item_had_and_touches_nothing_else<B: Backend>() {
    let (a, b) = ("github:acme/api#1", "github:acme/api#2");
    let backend = B::new();
    let mut store = backend.open();
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

fn an_event_one_read_reports_on_another_item_belongs_to_that_read<B: Backend>() {
    // The revert pull request `y` marks `x` reverted; `x`'s own read does not report it.
    let (x, y) = ("github:acme/api#1", "github:acme/api#2");
    let reverted = |at| on(x, "y#reverts", at, EventKind::Reverted { by: Some(y.into()) });
    let backend = B::new();
    let mut store = backend.open();
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

fn an_item_that_takes_over_stored_ids_moves_them<B: Backend>() {
    // A transferred issue keeps its node ids under a new key.
    let (old, new) = ("github:acme/api#1", "github:acme/web#9");
    let backend = B::new();
    let mut store = backend.open();
    store.commit_batch(&complete(vec![(old, vec![on(old, "n/opened", 1, EventKind::Opened)])])).unwrap();
    let outcome = store.commit_batch(&complete(vec![(new, vec![on(new, "n/opened", 1, EventKind::Opened)])])).unwrap();
    assert_eq!(outcome.rewritten_items, vec![old.to_string(), new.to_string()]);
    assert_eq!(outcome.events_changed, 1);
    assert!(ids_of(&store, old).is_empty());
    assert_eq!(ids_of(&store, new), ["n/opened"]);
    assert_eq!(store.event_count().unwrap(), 1);
}

fn history_formats_are_recorded_with_the_cursor_they_restart_from<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
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

fn cursor_moves_only_with_its_batch<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
    let mut batch = sample_batch();
    batch.cursor = Some("c1".into());
    store.commit_batch(&batch).unwrap();

    // A batch without a cursor leaves the stored one alone.
    let quiet = Batch { source: SOURCE.into(), ..Batch::default() };
    store.commit_batch(&quiet).unwrap();
    assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("c1"));

    // Make the very last write of a batch (the cursor) fail: everything before it rolls back.
    backend.refuse_cursor_updates(true);
    let doomed = Batch {
        source: SOURCE.into(),
        items: vec![item("github:acme/api#9", SOURCE, ItemKind::Issue, ItemState::Open, 1)],
        events: vec![event("new", 1, None, EventKind::Opened)],
        directory: Some(directory("platform")),
        cursor: Some("c2".into()),
        history_start: Some(HistoryStart::Complete),
        // A complete read of item 1 reporting only "new": its six stored events would go.
        complete: vec![crate::model::CompleteHistory { item: "github:acme/api#1".into(), events: 0..1 }],
        profiles: Vec::new(),
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
    backend.refuse_cursor_updates(false);
    let outcome = store.commit_batch(&doomed).unwrap();
    assert_eq!(outcome.new_events, vec![0]);
    assert_eq!(outcome.events_removed, 6);
    assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("c2"));
    assert_eq!(store.event_count().unwrap(), 1);
}

fn a_reopened_store_keeps_everything<B: Backend>() {
    let backend = B::new();
    let batch = sample_batch();
    {
        let mut store = backend.open();
        store.commit_batch(&batch).unwrap();
    }
    let mut store = backend.open();
    assert_eq!(items(&store), batch.items);
    assert_eq!(events(&store), batch.events);
    assert_eq!(store.cursor(SOURCE).unwrap(), batch.cursor);
    assert_eq!(store.directory_snapshots().unwrap(), vec![(SOURCE.to_string(), directory("payments"))]);
    assert_eq!(store.commit_batch(&batch).unwrap(), CommitOutcome::default());
}

fn schema_version_is_recorded_once_and_newer_stores_are_refused<B: Backend>() {
    let backend = B::new();
    drop(backend.open());
    drop(backend.open());
    assert_eq!(backend.versions(), (1..=latest_version()).collect::<Vec<_>>());

    let future = latest_version() + 1;
    backend.execute(&format!("INSERT INTO schema_version (version, description) VALUES ({future}, 'from the future')"));
    let err = backend.try_open().err().expect("a newer schema must be refused");
    assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == future));
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open store {}: it was written by a newer siloscope (schema version {future}, \
             this build knows up to {}); fix: upgrade siloscope, or point {}",
            backend.label(),
            latest_version(),
            B::NEW_STORE
        )
    );
}

fn a_store_of_schema_1_migrates_and_keeps_its_data_without_history_starts<B: Backend>() {
    let backend = B::new();
    backend.execute(SCHEMA_VERSION_TABLE);
    backend.execute(MIGRATIONS[0].sql);
    backend.execute("INSERT INTO schema_version (version, description) VALUES (1, 'v1')");
    backend.execute("INSERT INTO cursors (source, cursor) VALUES ('github-acme', 'old')");
    let store = backend.open();
    assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("old"));
    assert_eq!(store.history_starts().unwrap(), vec![], "unknown for a source synced before version 2");
    assert_eq!(backend.versions().last().copied(), Some(latest_version()));
}

fn another_programs_tables_are_refused_and_left_untouched<B: Backend>() {
    let backend = B::new();
    backend.execute("CREATE TABLE invoices (id BIGINT)");
    backend.execute("INSERT INTO invoices (id) VALUES (7)");
    let message = backend.try_open().err().expect("another program's database must be refused").to_string();
    assert!(message.contains(B::NOT_A_STORE), "{message}");
    assert!(!backend.versions_table_exists(), "nothing was created beside it");
    assert_eq!(backend.i64s("SELECT id FROM invoices"), [7]);
}

fn unreadable_event_rows_are_skipped_not_fatal<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
    store.commit_batch(&sample_batch()).unwrap();
    backend.execute(
        "INSERT INTO events (id, seq, source, item, at, actor, kind, data)
         VALUES ('future', 100, 'github-acme', 'github:acme/api#1', 1, NULL, 'teleported',
                 '{\"type\":\"teleported\"}')",
    );
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

fn a_store_of_schema_2_migrates_and_its_events_own_themselves<B: Backend>() {
    let backend = B::new();
    backend.execute(SCHEMA_VERSION_TABLE);
    for m in &MIGRATIONS[..2] {
        backend.execute(m.sql);
        backend.execute(&format!("INSERT INTO schema_version (version, description) VALUES ({}, 'old')", m.version));
    }
    backend.execute(
        "INSERT INTO events (id, seq, source, item, at, actor, kind, data)
         VALUES ('old/state/7', 1, 'github-acme', 'github:acme/api#1', 5, NULL, 'merged', '{\"type\":\"merged\"}')",
    );
    let mut store = backend.open();
    let a = "github:acme/api#1";
    let outcome = store.commit_batch(&complete(vec![(a, vec![on(a, "new/merged/1", 5, EventKind::Merged)])])).unwrap();
    assert_eq!((outcome.events_removed, outcome.new_events), (1, vec![0]));
    assert_eq!(ids_of(&store, a), ["new/merged/1"]);
}

fn crash_child_commits_until_killed<B: Backend>() {
    let Some(mut store) = B::open_in_child() else {
        return;
    };
    // Stops on its own if the kill hook does not fire (the test then fails on the exit status).
    for number in 0..20 {
        store.commit_batch(&crash_batch(number)).unwrap();
    }
}

fn a_killed_writer_loses_nothing_and_counts_nothing_twice<B: Backend>() {
    // The test hook SIGKILLs the child inside its 6th transaction (a batch is an item, its events
    // and the cursor): 1,000 rows into it, and after its very last row (the cursor), with only
    // the commit missing. Either way 5 batches are committed and nothing of the 6th.
    let rows_per_batch = 1 + CRASH_BATCH_EVENTS + 1;
    for kill_after in [5 * rows_per_batch + 1_000, 6 * rows_per_batch] {
        let backend = B::new();
        drop(backend.open());
        let status = backend.run_child("crash_child_commits_until_killed", kill_after);
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "killed by the hook: {status}");

        let mut store = backend.open();
        let last: usize = store.cursor(SOURCE).unwrap().unwrap().parse().unwrap();
        assert_eq!(last, 4, "the 6th batch (number 5) was open when the process died (row {kill_after})");
        assert_eq!(store.event_count().unwrap(), ((last + 1) * CRASH_BATCH_EVENTS) as u64, "row {kill_after}");
        assert_eq!(items(&store).len(), last + 1);
        // Resuming from the cursor: the batch it names is fully stored, the next one is all new.
        assert_eq!(store.commit_batch(&crash_batch(last)).unwrap(), CommitOutcome::default());
        let resumed = store.commit_batch(&crash_batch(last + 1)).unwrap();
        assert_eq!(resumed.new_events.len(), CRASH_BATCH_EVENTS);
    }
}

fn rewrite_child_commits_until_killed<B: Backend>() {
    let Some(mut store) = B::open_in_child() else {
        return;
    };
    for round in 0..10 {
        store.commit_batch(&rewrite_batch(round)).unwrap();
    }
}

fn a_writer_killed_while_it_replaces_a_history_leaves_the_last_committed_one_whole<B: Backend>() {
    let backend = B::new();
    drop(backend.open());
    // Rows: round 0 is the item, 1,000 inserts and the cursor; each later round the item, 500
    // updates, 500 inserts, 500 deletions and the cursor. Killed 250 rows into round 3's
    // deletions, with its updates and inserts written and not committed.
    let rows = 1_002 + 2 * 1_502 + 1 + 1_000 + 250;
    let status = backend.run_child("rewrite_child_commits_until_killed", rows);
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "killed by the hook: {status}");

    let mut store = backend.open();
    assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("2"), "round 3 was open when the process died");
    let stored = |store: &B::S| -> Vec<(String, i64)> {
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
fn items_repeated_in_a_batch_are_upserted_in_turn<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
    let key = "github:acme/api#1";
    let at = |updated_at: i64, title: &str| {
        let mut i = item(key, SOURCE, ItemKind::Issue, ItemState::Open, updated_at);
        i.title = title.into();
        i
    };
    // Each repeat meets the row its predecessor left: the older one in the middle changes nothing.
    let batch = Batch {
        source: SOURCE.into(),
        items: vec![at(100, "first"), at(300, "newest"), at(200, "older than the newest"), at(300, "newest")],
        ..Batch::default()
    };
    assert_eq!(store.commit_batch(&batch).unwrap().items_upserted, 2);
    assert_eq!(items(&store), vec![at(300, "newest")]);
}

fn items_come_in_byte_order_of_their_keys<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
    let keys = ["jira:ab-1", "github:acme/api#9", "jira:ÄB-1", "github:Acme/web#1", "jira:AB-1", "github:acme/api#10"];
    let batch = Batch {
        source: SOURCE.into(),
        items: keys.iter().map(|k| item(k, SOURCE, ItemKind::Issue, ItemState::Open, 1)).collect(),
        ..Batch::default()
    };
    store.commit_batch(&batch).unwrap();
    let mut want: Vec<&str> = keys.to_vec();
    want.sort();
    assert_eq!(items(&store).iter().map(|i| i.key.as_str()).collect::<Vec<_>>(), want);
}

fn two_reads_of_one_item_in_a_batch_remove_each_row_once<B: Backend>() {
    let a = "github:acme/api#1";
    let backend = B::new();
    let mut store = backend.open();
    let opened = || on(a, "a/opened", 1, EventKind::Opened);
    store.commit_batch(&complete(vec![(a, vec![opened(), on(a, "a/comment", 2, EventKind::Opened)])])).unwrap();
    // Two pages of one sync both read `a` whole; neither reports the comment any more.
    let outcome = store.commit_batch(&complete(vec![(a, vec![opened()]), (a, vec![opened()])])).unwrap();
    assert_eq!((outcome.events_removed, outcome.rewritten_items), (1, vec![a.to_string()]));
    assert_eq!(ids_of(&store, a), ["a/opened"]);
}

fn an_items_events_take_the_order_its_complete_read_reports<B: Backend>() {
    // Events at the same second keep the order the source reports them in (the engine breaks
    // ties by insertion order), as a fresh sync would store them.
    let a = "github:acme/api#1";
    let (assigned, labeled) = (
        on(a, "a/assigned", 5, EventKind::Assigned { assignee: "github:bob".into() }),
        on(a, "a/labeled", 5, EventKind::Labeled { label: "bug".into() }),
    );
    let backend = B::new();
    let mut store = backend.open();
    store.commit_batch(&complete(vec![(a, vec![labeled.clone(), assigned.clone()])])).unwrap();
    let outcome = store.commit_batch(&complete(vec![(a, vec![assigned.clone(), labeled.clone()])])).unwrap();
    assert_eq!((outcome.rewritten_items, outcome.events_changed), (vec![a.to_string()], 0));
    assert_eq!(ids_of(&store, a), ["a/assigned", "a/labeled"]);
    assert_eq!(events(&store).iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a/assigned", "a/labeled"]);
    assert_eq!(store.commit_batch(&complete(vec![(a, vec![assigned, labeled])])).unwrap(), CommitOutcome::default());
}

fn an_event_read_before_stored_ones_puts_the_item_in_the_reads_order<B: Backend>() {
    // A comment GitHub had not resolved at the first read shows up before the stored events of
    // the same second; an event the read reports on another item keeps its place.
    let (x, y) = ("github:acme/api#1", "github:acme/api#2");
    let comment = on(y, "y/comment", 5, EventKind::Commented { mentions: vec![] });
    let (closed, labeled) = (
        on(y, "y/closed", 5, EventKind::Closed { completed: true }),
        on(y, "y/labeled", 5, EventKind::Labeled { label: "bug".into() }),
    );
    let reverted = on(x, "y#reverts", 1, EventKind::Reverted { by: Some(y.into()) });
    let backend = B::new();
    let mut store = backend.open();
    store
        .commit_batch(&complete(vec![
            (x, vec![on(x, "x/opened", 1, EventKind::Opened)]),
            (y, vec![closed.clone(), labeled.clone(), reverted.clone()]),
        ]))
        .unwrap();
    // Reported first, stored last: y's own events are in its read's order, x's keeps its place.
    let outcome =
        store.commit_batch(&complete(vec![(y, vec![reverted.clone(), closed.clone(), labeled.clone()])])).unwrap();
    assert_eq!(outcome, CommitOutcome::default(), "another item's event takes no part in y's order");
    let read = complete(vec![(y, vec![reverted.clone(), comment.clone(), closed.clone(), labeled.clone()])]);
    let outcome = store.commit_batch(&read).unwrap();
    assert_eq!(outcome.new_events, vec![1]);
    assert_eq!((outcome.rewritten_items, outcome.events_changed, outcome.events_removed), (vec![y.to_string()], 0, 0));
    assert_eq!(ids_of(&store, y), ["y/comment", "y/closed", "y/labeled"]);
    assert_eq!(ids_of(&store, x), ["x/opened", "y#reverts"]);
    assert_eq!(
        events(&store).iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["x/opened", "y#reverts", "y/comment", "y/closed", "y/labeled"]
    );
    assert_eq!(store.commit_batch(&read).unwrap(), CommitOutcome::default());
}

fn an_event_stored_earlier_in_the_batch_takes_its_place_in_the_read<B: Backend>() {
    // An incremental event of `a` (inserted by this very batch, after every stored one) that a's
    // read then reports before a stored event: the read's order wins, as in any other case.
    let a = "github:acme/api#1";
    let opened = on(a, "a/opened", 5, EventKind::Opened);
    let labeled = on(a, "a/labeled", 5, EventKind::Labeled { label: "bug".into() });
    let backend = B::new();
    let mut store = backend.open();
    store.commit_batch(&complete(vec![(a, vec![labeled.clone()])])).unwrap();
    let mut batch = Batch { source: SOURCE.into(), events: vec![opened.clone()], ..Batch::default() };
    batch.push_complete(a, vec![opened.clone(), labeled.clone()]);
    let outcome = store.commit_batch(&batch).unwrap();
    assert_eq!(outcome.new_events, vec![0]);
    assert_eq!((outcome.rewritten_items, outcome.events_changed), (vec![a.to_string()], 0));
    assert_eq!(ids_of(&store, a), ["a/opened", "a/labeled"]);
    assert_eq!(store.commit_batch(&complete(vec![(a, vec![opened, labeled])])).unwrap(), CommitOutcome::default());
}

fn events_of_items_come_item_by_item_in_the_order_asked<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
    let (x, y, z) = ("github:acme/api#1", "github:acme/api#2", "github:acme/api#3");
    let events = vec![
        on(y, "y1", 5, EventKind::Opened),
        on(x, "x1", 9, EventKind::Opened),
        on(z, "z1", 1, EventKind::Opened),
        on(y, "y2", 1, EventKind::Merged),
        on(x, "x2", 2, EventKind::Merged),
    ];
    store.commit_batch(&Batch { source: SOURCE.into(), events, ..Batch::default() }).unwrap();
    let mut got = Vec::new();
    let asked = [y.to_string(), "github:acme/api#404".to_string(), x.to_string()];
    store.for_each_event_of(&asked, &mut |e| got.push(e.id)).unwrap();
    assert_eq!(got, ["y1", "y2", "x1", "x2"], "each item's events in insertion order, items as asked");
}

fn large_batches_stream_back_whole_and_in_order<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
    // More rows than one fetch of the PostgreSQL backend, in two batches.
    let batch = |from: usize, to: usize| Batch {
        source: SOURCE.into(),
        items: (from / 50..to / 50)
            .map(|n| item(&format!("github:acme/api#{n}"), SOURCE, ItemKind::Issue, ItemState::Open, 1))
            .collect(),
        events: (from..to)
            .map(|n| Event {
                id: format!("big/{n}"),
                item: format!("github:acme/api#{}", n / 50),
                at: 1_700_000_000 - n as i64,
                actor: (n % 3 != 0).then(|| format!("github:user{}", n % 7)),
                kind: match n % 3 {
                    0 => EventKind::Opened,
                    1 => EventKind::Commented { mentions: vec![format!("acme/team{}", n % 5)] },
                    _ => EventKind::ReviewRequested { reviewer: Reviewer::Team("acme/payments".into()) },
                },
            })
            .collect(),
        cursor: Some(to.to_string()),
        ..Batch::default()
    };
    let (first, second) = (batch(0, 15_000), batch(15_000, 25_000));
    assert_eq!(store.commit_batch(&first).unwrap().new_events.len(), 15_000);
    assert_eq!(store.commit_batch(&second).unwrap().new_events.len(), 10_000);
    let mut want = first.events.clone();
    want.extend(second.events.iter().cloned());
    assert_eq!(events(&store), want);
    assert_eq!(items(&store).len(), 500);
    assert_eq!(store.event_counts_by_source().unwrap(), vec![(SOURCE.to_string(), 25_000)]);
    assert_eq!(store.commit_batch(&second).unwrap(), CommitOutcome::default());
}

fn two_writers_on_one_store_commit_whole_batches_in_turn<B: Backend>() {
    const BATCHES: usize = 12;
    const OWN: usize = 300;
    const SHARED: usize = 100;
    let backend = B::new();
    drop(backend.open());
    // Both writers report the same 100 shared events in every batch, and 300 of their own.
    let batch = |writer: &str, number: usize| Batch {
        source: writer.into(),
        events: (0..SHARED)
            .map(|k| event(&format!("shared/{k}"), k as i64, None, EventKind::Opened))
            .chain((0..OWN).map(|k| event(&format!("{writer}/{number}/{k}"), k as i64, None, EventKind::Opened)))
            .collect(),
        cursor: Some(number.to_string()),
        ..Batch::default()
    };
    let new_counts: Vec<usize> = std::thread::scope(|scope| {
        let writers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|writer| {
                let mut store = backend.open();
                scope.spawn(move || {
                    (0..BATCHES).map(|n| store.commit_batch(&batch(writer, n)).unwrap().new_events.len()).sum::<usize>()
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let store = backend.open();
    let total = 2 * BATCHES * OWN + SHARED;
    assert_eq!(new_counts.iter().sum::<usize>(), total, "each event new to exactly one writer");
    assert_eq!(store.event_count().unwrap(), total as u64);
    // Insertion order is commit order: each batch's new events form one run.
    let mut runs: Vec<String> = Vec::new();
    for e in events(&store) {
        let batch = e.id.rsplit_once('/').map_or(e.id.clone(), |(prefix, _)| prefix.to_string());
        if runs.last() != Some(&batch) {
            runs.push(batch);
        }
    }
    let distinct: std::collections::HashSet<&String> = runs.iter().collect();
    assert_eq!(distinct.len(), runs.len(), "a batch's events interleaved with another's: {runs:?}");
    assert_eq!(store.cursor("a").unwrap().as_deref(), Some("11"));
    assert_eq!(store.cursor("b").unwrap().as_deref(), Some("11"));
}

fn the_store_works_from_inside_an_async_runtime<B: Backend>() {
    let backend = B::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    // As the daemon loads its frame: opened, read and dropped on a thread that drives a runtime.
    runtime.block_on(async {
        let mut store = backend.open();
        store.commit_batch(&sample_batch()).unwrap();
        assert_eq!(events(&store), sample_batch().events);
        drop(store);
    });
    assert_eq!(backend.open().event_count().unwrap(), 6);
}

fn a_lease_is_one_holders_until_it_expires_or_is_released_then_passes_on_with_a_new_token<B: Backend>() {
    use super::{Lease, source_unit};
    use std::time::{Duration, Instant};
    let backend = B::new();
    let (mut a, mut b) = (backend.open(), backend.open());
    let unit = source_unit("github-acme");
    let long = Duration::from_secs(60);
    let first = a.acquire_lease(&unit, "replica-a", long).unwrap().expect("a free unit is granted");
    assert_eq!((first.unit.as_str(), first.holder.as_str()), (unit.as_str(), "replica-a"));
    let by_b = b.acquire_lease(&unit, "replica-b", long).unwrap();
    if !B::SHARED {
        // One writing process: granted, never lost, nothing kept.
        assert!(by_b.is_some());
        assert!(a.renew_lease(&first, long).unwrap());
        a.release_lease(&first).unwrap();
        assert!(a.leases().unwrap().is_empty());
        return;
    }
    assert_eq!(by_b, None, "held by replica-a for a minute");
    // Its holder asking again renews it, with the same token.
    assert_eq!(a.acquire_lease(&unit, "replica-a", long).unwrap().as_ref(), Some(&first));
    assert!(a.renew_lease(&first, long).unwrap());
    let state = &b.leases().unwrap()[0];
    assert_eq!((state.holder.as_str(), state.token), ("replica-a", first.token));
    assert!(state.remaining_ms > 50_000 && state.remaining_ms <= 60_000, "{state:?}");
    // Released: the next holder gets it, with a higher token; the old lease cannot be renewed.
    a.release_lease(&first).unwrap();
    let second = b.acquire_lease(&unit, "replica-b", long).unwrap().expect("released");
    assert!(second.token > first.token, "{first:?} then {second:?}");
    assert!(!a.renew_lease(&first, long).unwrap());
    a.release_lease(&first).unwrap(); // a lost lease's release changes nothing
    assert_eq!(a.acquire_lease(&unit, "replica-a", long).unwrap(), None);
    // Expiry, by the database's clock: a lease of 300 ms is free once they are over.
    let short = b.acquire_lease("source:jira", "replica-b", Duration::from_millis(300)).unwrap().unwrap();
    let started = Instant::now();
    let taken = loop {
        if let Some(lease) = a.acquire_lease("source:jira", "replica-a", long).unwrap() {
            break lease;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "a 300 ms lease never expired");
        std::thread::yield_now();
    };
    assert!(taken.token > short.token);
    assert!(!b.renew_lease(&short, long).unwrap(), "expired and taken: lost");
    let held: Vec<(String, String)> = a.leases().unwrap().into_iter().map(|l| (l.unit, l.holder)).collect();
    assert_eq!(held, [("source:github-acme".into(), "replica-b".into()), ("source:jira".into(), "replica-a".into())]);
    let _: Lease = taken;
}

fn of_replicas_asking_at_once_one_gets_the_lease<B: Backend>() {
    let backend = B::new();
    drop(backend.open());
    for round in 0..5 {
        let unit = format!("source:round-{round}");
        let barrier = std::sync::Barrier::new(6);
        let granted: usize = std::thread::scope(|scope| {
            let askers: Vec<_> = (0..6)
                .map(|n| {
                    let mut store = backend.open();
                    let (unit, barrier) = (&unit, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        store.acquire_lease(unit, &format!("replica-{n}"), std::time::Duration::from_secs(60)).unwrap()
                    })
                })
                .collect();
            askers.into_iter().map(|a| a.join().unwrap()).filter(Option::is_some).count()
        });
        assert_eq!(granted, if B::SHARED { 1 } else { 6 }, "round {round}");
    }
}

fn a_commit_under_a_lost_lease_stores_nothing<B: Backend>() {
    use std::time::Duration;
    let backend = B::new();
    let (mut a, mut b) = (backend.open(), backend.open());
    let unit = super::source_unit(SOURCE);
    let mine = a.acquire_lease(&unit, "replica-a", Duration::from_secs(60)).unwrap().unwrap();
    let committed = a.commit_leased(&sample_batch(), Some(&mine)).unwrap();
    assert_eq!(committed.outcome.new_events.len(), 6);
    if !B::SHARED {
        return;
    }
    // Replica a stalls; its lease passes to b, which commits on from the cursor.
    a.release_lease(&mine).unwrap();
    let theirs = b.acquire_lease(&unit, "replica-b", Duration::from_secs(60)).unwrap().unwrap();
    let mut later = sample_batch();
    later.events = vec![event("e9", 900, None, EventKind::Opened)];
    later.cursor = Some("cursor-b".into());
    b.commit_leased(&later, Some(&theirs)).unwrap();
    // a wakes up and commits the step it read under its old lease: refused, nothing of it stored.
    let mut stale = sample_batch();
    stale.events = vec![event("e8", 800, None, EventKind::Opened)];
    stale.cursor = Some("cursor-a".into());
    let err = a.commit_leased(&stale, Some(&mine)).unwrap_err();
    assert!(matches!(&err, StoreError::LeaseLost { unit: u, .. } if *u == unit), "{err}");
    assert!(err.to_string().contains("is no longer this replica's"), "{err}");
    assert_eq!(a.cursor(SOURCE).unwrap().as_deref(), Some("cursor-b"));
    assert_eq!(a.event_count().unwrap(), 7);
    // Nor under a lease that merely expired with nobody taking it.
    let brief = a.acquire_lease("source:other", "replica-a", Duration::from_millis(1)).unwrap().unwrap();
    let started = std::time::Instant::now();
    while b.leases().unwrap().iter().any(|l| l.unit == "source:other" && l.remaining_ms > 0) {
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    assert!(matches!(a.commit_leased(&stale, Some(&brief)), Err(StoreError::LeaseLost { .. })));
    assert_eq!(a.event_count().unwrap(), 7);
}

fn the_change_number_counts_commits_that_changed_what_a_frame_holds<B: Backend>() {
    let backend = B::new();
    let mut store = backend.open();
    let before = store.change_count().unwrap();
    let first = store.commit_leased(&sample_batch(), None).unwrap();
    // The same items and events again change nothing (a directory snapshot always counts: it is
    // stored anew); a cursor alone changes nothing a frame holds.
    let again = store.commit_leased(&Batch { directory: None, ..sample_batch() }, None).unwrap();
    let cursor_only = Batch { source: SOURCE.into(), cursor: Some("c2".into()), ..Batch::default() };
    let moved = store.commit_leased(&cursor_only, None).unwrap();
    if !B::SHARED {
        assert_eq!(
            (before, first.change, again.change, moved.change, store.change_count().unwrap()),
            (0, None, None, None, 0)
        );
        return;
    }
    assert_eq!(first.change, Some(before + 1));
    assert_eq!((again.change, moved.change), (None, None));
    let mut other = backend.open();
    other.commit_batch(&complete(vec![("github:acme/api#1", vec![sample_batch().events[0].clone()])])).unwrap();
    assert_eq!(store.change_count().unwrap(), before + 2, "another writer's rewrite counts");
}

/// Forgetting people and retention, on every backend (`store::tests::privacy::{sqlite,postgres}`).
mod privacy {
    use super::*;
    use crate::model::IdentityProfile;
    use crate::privacy::{Tombstones, digest, forget};

    fn directory_of(store: &dyn Store) -> crate::teams::Directory {
        let mut b = crate::teams::DirectoryBuilder::new();
        for (_, snapshot) in store.directory_snapshots().unwrap() {
            b.snapshot(&snapshot);
        }
        b.build()
    }

    /// Alice everywhere a batch can hold her: actor, assignee, reviewer, co-author, author, the
    /// directory's person entry and profile.
    fn alice_batch() -> Batch {
        let mut batch = sample_batch();
        batch.events.push(event(
            "e7",
            160,
            Some("github:bob"),
            EventKind::Assigned { assignee: "github:alice".into() },
        ));
        batch.events.push(event(
            "e8",
            170,
            Some("github:bob"),
            EventKind::ReviewRequested { reviewer: Reviewer::Person("github:alice".into()) },
        ));
        batch.events.push(event(
            "e9",
            180,
            Some("github:bob"),
            EventKind::Committed { co_authors: vec!["github:alice".into(), "github:carol".into()] },
        ));
        let dir = batch.directory.as_mut().unwrap();
        dir.people[0].name = "Alice Liddell".into();
        dir.profiles = vec![
            IdentityProfile {
                identity: "github:alice".into(),
                display_name: Some("Alice Liddell".into()),
                emails: vec!["alice@acme.example".into()],
                username: None,
            },
            IdentityProfile { identity: "github:bob".into(), display_name: Some("Bob".into()), ..Default::default() },
        ];
        batch
    }

    fn everything(store: &dyn Store) -> String {
        format!("{:?}{:?}{:?}", items(store), events(store), store.directory_snapshots().unwrap())
    }

    pub(super) fn forget_replaces_an_identity_everywhere_and_again_changes_nothing<B: Backend>() {
        let backend = B::new();
        let mut store = backend.open();
        store.commit_batch(&alice_batch()).unwrap();
        let dir = directory_of(&store);
        let report = forget(&mut store, &dir, &["github:alice".to_string()], false, 1_000).unwrap();
        let (f, counts) = &report.identities[0];
        assert_eq!(f.placeholder, "forgotten:1");
        assert_eq!((counts.events_reattributed, counts.events_data_rewritten, counts.items_reattributed), (2, 3, 1));
        assert!(counts.tombstone_added);
        let held = everything(&store);
        assert!(!held.contains("alice") && !held.contains("Alice"), "{held}");
        assert!(held.contains("github:carol") && held.contains("github:bob"), "others stay: {held}");
        assert_eq!(backend.i64s("SELECT COUNT(*) FROM events WHERE actor = 'forgotten:1'"), [2]);
        assert_eq!(store.tombstones().unwrap()[0].digest, digest("github:alice"));
        // The placeholder is in Alice's team, from when she was.
        let after = directory_of(&store);
        let payments = after.team_by_name("payments").unwrap();
        assert_eq!(after.team_of("forgotten:1", 1_700_000_000), Some(payments));
        assert_eq!(after.team_of("forgotten:1", 1_500_000_000), None);
        let snapshot_events = events(&store);

        let again = forget(&mut store, &after, &["github:alice".to_string()], false, 2_000).unwrap();
        assert_eq!(again.identities[0].0.placeholder, "forgotten:1");
        assert!(!again.identities[0].1.changed_anything(), "{again:?}");
        assert_eq!(again.snapshots_rewritten, 0);
        assert_eq!(events(&store), snapshot_events);
        assert_eq!(store.tombstones().unwrap().len(), 1);
    }

    pub(super) fn a_later_commit_brings_no_forgotten_identity_back<B: Backend>() {
        let backend = B::new();
        let mut store = backend.open();
        store.commit_batch(&alice_batch()).unwrap();
        let dir = directory_of(&store);
        forget(&mut store, &dir, &["github:alice".to_string()], false, 1_000).unwrap();
        let mut later = alice_batch();
        later.events.push(event("e10", 190, Some("github:alice"), EventKind::Reopened));
        for item in &mut later.items {
            item.updated_at += 1;
        }
        let outcome = store.commit_redacted(&mut later).unwrap();
        assert_eq!(outcome.new_events, [9], "only e10 is new: the others read as they are stored");
        let held = everything(&store);
        assert!(!held.contains("alice") && !held.contains("Alice"), "{held}");
        assert!(format!("{later:?}").contains("forgotten:1") && !format!("{later:?}").contains("alice"));
    }

    pub(super) fn forgetting_with_events_deleted_keeps_them_out_of_later_syncs<B: Backend>() {
        let backend = B::new();
        let mut store = backend.open();
        store.commit_batch(&alice_batch()).unwrap();
        let dir = directory_of(&store);
        let report = forget(&mut store, &dir, &["github:alice".to_string()], true, 1_000).unwrap();
        assert_eq!(report.identities[0].1.events_deleted, 2);
        let ids: Vec<String> = events(&store).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["e2", "e3", "e4", "e6", "e7", "e8", "e9"]);
        // A complete re-read of the item that reports her events again: they stay out, and the
        // read's range shrinks with them.
        let mut reread = Batch { source: SOURCE.into(), ..Batch::default() };
        let mut history =
            vec![Event { actor: Some("github:alice".into()), ..event("e1", 100, None, EventKind::Opened) }];
        history.extend(events(&store));
        history.push(Event { actor: Some("github:alice".into()), ..event("e11", 200, None, EventKind::Reopened) });
        reread.push_complete("github:acme/api#1", history);
        reread.events.push(event("e12", 210, Some("github:bob"), EventKind::Reopened));
        store.commit_redacted(&mut reread).unwrap();
        assert_eq!(reread.complete[0].events, 0..7, "her two events left the read");
        let ids: Vec<String> = events(&store).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["e2", "e3", "e4", "e6", "e7", "e8", "e9", "e12"]);
        assert!(!everything(&store).contains("alice"));
    }

    pub(super) fn purge_deletes_exactly_the_events_before_the_horizon<B: Backend>() {
        let backend = B::new();
        let mut store = backend.open();
        let mut batch = sample_batch();
        // Item 3: only old events, last updated before the horizon; it goes with them.
        let old = item("github:acme/api#3", SOURCE, ItemKind::Issue, ItemState::Closed, 120);
        batch.items.push(old);
        batch.events.push(Event { item: "github:acme/api#3".into(), ..event("o1", 110, None, EventKind::Opened) });
        store.commit_batch(&batch).unwrap();
        let before = events(&store);
        let outcome = store.purge_before(130).unwrap();
        let kept: Vec<Event> = before.iter().filter(|e| e.at >= 130).cloned().collect();
        assert_eq!(events(&store), kept, "events at or after the horizon stay, unchanged and in order");
        assert_eq!(outcome.events_deleted, (before.len() - kept.len()) as u64);
        assert_eq!(outcome.items_deleted, 1);
        let keys: Vec<String> = items(&store).into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["github:acme/api#1", "github:acme/api#2"], "item 2 has no event but was updated later");
        assert_eq!(store.directory_snapshots().unwrap().len(), 1);
        assert_eq!(store.cursor(SOURCE).unwrap().as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(store.purge_before(130).unwrap(), crate::store::PurgeOutcome::default());
        store.compact().unwrap();
        assert_eq!(events(&store), kept);
    }

    pub(super) fn redaction_without_tombstones_changes_nothing<B: Backend>() {
        let mut batch = alice_batch();
        assert_eq!(Tombstones::new(&[]).redact_batch(&mut batch), 0);
        assert_eq!(batch, alice_batch());
    }

    store_tests!(
        forget_replaces_an_identity_everywhere_and_again_changes_nothing,
        a_later_commit_brings_no_forgotten_identity_back,
        forgetting_with_events_deleted_keeps_them_out_of_later_syncs,
        purge_deletes_exactly_the_events_before_the_horizon,
        redaction_without_tombstones_changes_nothing,
    );
}
