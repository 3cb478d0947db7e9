//! The daemon on a PostgreSQL store, as an operator runs it: `sync --once` of a simulated
//! organisation into `[store] url` stores exactly what the same sync stores in SQLite (events in
//! the same order, items, cursor, history start), a `kill -9` inside an open transaction loses
//! nothing once resumed, and `serve` loads its frame from the database. Each test uses a schema of
//! its own in the server `SILOSCOPE_TEST_POSTGRES` names (tests/run sets it); without the variable
//! the tests say they skipped, with it an unreachable server fails them.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use siloscope::model::{Event, Item};
use siloscope::store::postgres::{PostgresConfig, PostgresStore};
use siloscope::store::{SqliteStore, Store};

const POSTGRES_ENV: &str = "SILOSCOPE_TEST_POSTGRES";

/// A schema of its own on the test server, dropped when the test ends.
struct Schema {
    name: String,
    /// The store URL: the server's, with the schema first in its search_path.
    url: String,
    admin: postgres::Client,
}

impl Schema {
    fn new(tag: &str) -> Option<Schema> {
        let Ok(server) = std::env::var(POSTGRES_ENV) else {
            eprintln!("skipped: {POSTGRES_ENV} is not set (tests/run sets it and starts PostgreSQL)");
            return None;
        };
        let name = format!("siloscope_it_{tag}_{}", std::process::id());
        let mut admin = postgres::Client::connect(&server, postgres::NoTls).unwrap_or_else(|err| {
            panic!("{POSTGRES_ENV}={server} is set but PostgreSQL cannot be reached there: {err:?}; start it (tests/run does)")
        });
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).unwrap();
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3D{name}");
        Some(Schema { name, url, admin })
    }

    fn store(&self) -> PostgresStore {
        PostgresStore::open(&PostgresConfig { url: self.url.clone(), password: None }).unwrap()
    }

    fn config(&self, dir: &Path, keys: &str) -> std::path::PathBuf {
        let path = dir.join(format!("{}.toml", self.name));
        let body = format!(
            "[store]\nurl = {:?}\nlease = \"3s\"\n\n[[sources]]\nname = \"sim\"\nkind = \"simulator\"\n{keys}\n",
            self.url
        );
        std::fs::write(&path, body).unwrap();
        path
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
    }
}

fn all_events(store: &dyn Store) -> Vec<Event> {
    let mut out = Vec::new();
    store.for_each_event(&mut |e| out.push(e)).unwrap();
    out
}

fn all_items(store: &dyn Store) -> Vec<Item> {
    let mut out = Vec::new();
    store.for_each_item(&mut |i| out.push(i)).unwrap();
    out
}

fn sync_ok(config: &Path) {
    let out = run(&["sync", "--once", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "sync failed: {}", text(&out.stderr));
}

/// A simulated organisation whose history ends before now, so two syncs read the same events.
fn sim_keys() -> String {
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(20);
    format!("start = \"{start}\"\nitems_per_day = 120\nteams = 5\nseed = 11\n")
}

#[test]
fn a_sync_into_postgres_stores_what_the_same_sync_stores_in_sqlite() {
    let Some(schema) = Schema::new("sync") else { return };
    let dir = tempfile::tempdir().unwrap();
    let keys = sim_keys();
    let sqlite_path = dir.path().join("reference.db");
    sync_ok(&sim_config(dir.path(), "reference", &sqlite_path, &keys));
    sync_ok(&schema.config(dir.path(), &keys));

    let (pg, sqlite) = (schema.store(), SqliteStore::open(&sqlite_path).unwrap());
    let cutoff = chrono::Utc::now().timestamp() - 3_600;
    let settled = |events: Vec<Event>| -> Vec<Event> { events.into_iter().filter(|e| e.at <= cutoff).collect() };
    let want = settled(all_events(&sqlite));
    assert!(want.len() > 10_000, "the simulated sync should be large, got {} events", want.len());
    assert_eq!(settled(all_events(&pg)), want, "the same events in the same order");
    let settled_items = |items: Vec<Item>| -> Vec<String> {
        items.into_iter().filter(|i| i.created_at <= cutoff).map(|i| i.key).collect()
    };
    assert_eq!(settled_items(all_items(&pg)), settled_items(all_items(&sqlite)));
    assert_eq!(pg.history_starts().unwrap(), sqlite.history_starts().unwrap());
    assert_eq!(pg.directory_snapshots().unwrap(), sqlite.directory_snapshots().unwrap());
    assert!(pg.cursor("sim").unwrap().is_some());
}

#[test]
fn kill_9_inside_a_postgres_transaction_then_resume_loses_nothing_and_counts_nothing_twice() {
    let Some(schema) = Schema::new("crash") else { return };
    let dir = tempfile::tempdir().unwrap();
    let keys = sim_keys();
    let sqlite_path = dir.path().join("reference.db");
    sync_ok(&sim_config(dir.path(), "reference", &sqlite_path, &keys));
    let config = schema.config(dir.path(), &keys);

    let out = bin()
        .args(["sync", "--once", "--config", config.to_str().unwrap()])
        .env("SILOSCOPE_TEST_KILL_AFTER_ROWS", "9000")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&out.status), Some(9), "{}: {stderr}", out.status);
    assert!(stderr.contains("SIGKILL after row 9000, inside an open store transaction"), "{stderr}");
    {
        // Exactly the committed steps: every stored event is the reference's, in its order.
        let (pg, sqlite) = (schema.store(), SqliteStore::open(&sqlite_path).unwrap());
        let stored = all_events(&pg);
        assert!(!stored.is_empty(), "some steps committed before the kill");
        let want = all_events(&sqlite);
        assert!(stored.len() < want.len(), "the kill came before the sync was complete");
        assert_eq!(stored, want[..stored.len()], "the open transaction left nothing behind");
    }
    sync_ok(&config);
    let (pg, sqlite) = (schema.store(), SqliteStore::open(&sqlite_path).unwrap());
    let cutoff = chrono::Utc::now().timestamp() - 3_600;
    let settled = |events: Vec<Event>| -> Vec<Event> { events.into_iter().filter(|e| e.at <= cutoff).collect() };
    assert_eq!(settled(all_events(&pg)), settled(all_events(&sqlite)), "resumed = one uninterrupted run");
}

#[test]
fn serve_loads_its_frame_from_postgres_and_exports_it() {
    let Some(schema) = Schema::new("serve") else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = schema.config(dir.path(), &sim_keys());
    sync_ok(&config);
    let stored = schema.store().event_count().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _daemon = spawn(&["serve", "--config", config.to_str().unwrap(), "--web.listen-address", &listen]);
    // Ready: its first pass is done and a computation over the frame it loaded is published.
    wait_for("the daemon to be ready", Duration::from_secs(120), || {
        http_get(port, "/readyz").and_then(|(status, _)| (status == 200).then_some(()))
    });
    let (_, metrics) = http_get(port, "/metrics").expect("metrics");
    let exported: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("siloscope_events_stored"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum();
    assert!(exported >= stored, "the frame holds the store's {stored} events, the daemon exports {exported}");
}
