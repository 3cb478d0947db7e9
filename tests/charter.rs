//! The data charter (docs/data-charter.md) is true of the code: its list of stored fields is the
//! store's schema on SQLite and PostgreSQL; after `siloscope forget` no surface (store files,
//! /metrics, pages, the report with `--name-people`, the backfill export, logs) holds the person,
//! team figures stay as they were, and a later sync does not bring them back; retention deletes
//! exactly what is past `[store] keep`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use siloscope::model::DAY;
use siloscope::store::{SqliteStore, Store};

const POSTGRES_ENV: &str = "SILOSCOPE_TEST_POSTGRES";

/// `table.column` of every row of the charter's stored-fields table.
fn charter_fields() -> BTreeSet<String> {
    let charter = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/data-charter.md")).unwrap();
    let begin = charter.find("<!-- stored-fields: begin").expect("the charter marks its stored-fields table");
    let end = charter.find("<!-- stored-fields: end").expect("the charter ends its stored-fields table");
    charter[begin..end]
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split('`').next().map(str::to_string))
        .collect()
}

fn sqlite_columns(path: &Path) -> BTreeSet<String> {
    drop(SqliteStore::open(path).unwrap());
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .unwrap();
    stmt.query_map([], |row| Ok(format!("{}.{}", row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn the_charter_lists_every_stored_field() {
    let listed = charter_fields();
    assert!(listed.len() > 20, "{listed:?}");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_columns(&dir.path().join("s.db"));
    assert_eq!(listed, sqlite, "docs/data-charter.md §2 and the SQLite schema differ");

    let Ok(server) = std::env::var(POSTGRES_ENV) else {
        eprintln!("PostgreSQL half skipped: {POSTGRES_ENV} is not set (tests/run sets it)");
        return;
    };
    let schema = format!("siloscope_charter_{}", std::process::id());
    let mut admin = postgres::Client::connect(&server, postgres::NoTls)
        .unwrap_or_else(|err| panic!("{POSTGRES_ENV}={server} is set but cannot be reached: {err}"));
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options=-csearch_path%3D{schema}");
    let opened =
        siloscope::store::PostgresStore::open(&siloscope::store::postgres::PostgresConfig { url, password: None });
    let columns: BTreeSet<String> = admin
        .query("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1", &[&schema])
        .unwrap()
        .iter()
        .map(|row| format!("{}.{}", row.get::<_, String>(0), row.get::<_, String>(1)))
        .collect();
    let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    opened.unwrap();
    assert_eq!(listed, columns, "docs/data-charter.md §2 and the PostgreSQL schema differ");
}

fn ok(args: &[&str]) -> (String, String) {
    let out = run(args);
    assert!(out.status.success(), "siloscope {args:?} failed: {}{}", text(&out.stdout), text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

/// Everything a file of the store holds (the database, its WAL and shared memory).
fn store_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("s.db") {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The report's JSON without the time it was generated at.
fn figures(json: &str) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.retain(|k, _| !k.starts_with("generated"));
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(list) => list.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    strip(&mut v);
    v
}

#[test]
fn after_forget_no_surface_holds_the_identity() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("s.db");
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(40);
    let keys = format!("start = \"{start}\"\nitems_per_day = 60\nteams = 3\nseed = 11\n");
    let cfg = sim_config(dir.path(), "c", &store_path, &keys);
    let cfg = cfg.to_str().unwrap();
    ok(&["sync", "--once", "--config", cfg]);

    // The most active person with two identities (a login and an e-mail), and their name.
    let (name, identities) = {
        let store = SqliteStore::open(&store_path).unwrap();
        let mut acted = std::collections::HashMap::<String, usize>::new();
        store.for_each_event(&mut |e| *acted.entry(e.actor.unwrap_or_default()).or_default() += 1).unwrap();
        let snapshots = store.directory_snapshots().unwrap();
        let person = snapshots
            .iter()
            .flat_map(|(_, s)| s.people.iter())
            .filter(|p| !p.bot && p.identities.len() == 2)
            .max_by_key(|p| acted.get(&p.identities[0]).copied().unwrap_or(0))
            .expect("the simulated organisation has people with a login and an e-mail")
            .clone();
        assert!(acted.get(&person.identities[0]).copied().unwrap_or(0) > 10, "{person:?}");
        (person.name, person.identities)
    };
    let needles: Vec<&str> = identities.iter().map(String::as_str).chain([name.as_str()]).collect();
    assert!(needles.iter().all(|n| contains(&store_bytes(dir.path()), n)), "the store held them before");
    let access_before = ok(&["access", "--config", cfg, &identities[0]]).0;
    let held: serde_json::Value = serde_json::from_str(&access_before).unwrap();
    assert!(!held["events_as_actor"].as_array().unwrap().is_empty(), "{access_before}");
    assert_eq!(held["person"]["name"], serde_json::Value::String(name.clone()));

    let (from, to) = (
        (chrono::Utc::now().date_naive() - chrono::Days::new(30)).to_string(),
        (chrono::Utc::now().date_naive() - chrono::Days::new(2)).to_string(),
    );
    let report_json = |extra: &[&str]| {
        let mut args = vec!["report", "--config", cfg, "--from", &from, "--to", &to, "--format", "json"];
        args.extend_from_slice(extra);
        ok(&args).0
    };
    let before = figures(&report_json(&[]));
    let named_before = report_json(&["--name-people"]);
    assert!(named_before.contains(&name), "the named report names them before: the check below can fail");

    // Forget both identities: printed per identity, then idempotent.
    let mut args = vec!["forget", "--config", cfg];
    args.extend(identities.iter().map(String::as_str));
    let (printed, _) = ok(&args);
    assert!(printed.contains(&format!("{} -> forgotten:1:", identities[0])), "{printed}");
    assert!(printed.contains(&format!("{} -> forgotten:2:", identities[1])), "{printed}");
    assert!(printed.contains("events re-attributed") && printed.contains("store compacted"), "{printed}");
    let (again, _) = ok(&args);
    assert_eq!(again.matches("already forgotten, nothing left to change").count(), 2, "{again}");

    // Team figures are what they were.
    assert_eq!(figures(&report_json(&[])), before, "team-level figures changed");

    // A later sync that reads everything again (its cursor gone, as after a rewind: the source
    // sends its directory and every event anew), logged at debug, does not bring them back.
    rusqlite::Connection::open(&store_path).unwrap().execute("DELETE FROM cursors", []).unwrap();
    let (_, sync_log) = ok(&["--log.level", "debug", "sync", "--once", "--config", cfg]);

    let mut surfaces: Vec<(String, String)> = vec![("sync log".into(), sync_log)];
    surfaces.push(("report --name-people (json)".into(), report_json(&["--name-people"])));
    for format in ["html", "markdown"] {
        let out = ok(&["report", "--config", cfg, "--from", &from, "--to", &to, "--format", format, "--name-people"]);
        surfaces.push((format!("report --name-people ({format})"), out.0 + &out.1));
    }
    let export = dir.path().join("backfill.om");
    let out = ok(&["backfill", "--config", cfg, "--out", export.to_str().unwrap(), "--step", "1d"]);
    surfaces.push(("backfill".into(), std::fs::read_to_string(&export).unwrap() + &out.0 + &out.1));
    let access_after = ok(&["access", "--config", cfg, &identities[0]]).0;
    let held: serde_json::Value = serde_json::from_str(&access_after).unwrap();
    assert!(held["events_as_actor"].as_array().unwrap().is_empty(), "{access_after}");
    assert_eq!(held["forgotten_as"], "forgotten:1");

    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut serve = spawn(&["--log.level", "debug", "serve", "--config", cfg, "--web.listen-address", &address]);
    wait_for("the daemon to be ready", Duration::from_secs(120), || {
        http_get(port, "/readyz").filter(|(status, _)| *status == 200)
    });
    for path in ["/metrics", "/report", "/report.json", "/"] {
        let (status, body) = http_get(port, path).unwrap();
        assert_eq!(status, 200, "{path}");
        surfaces.push((path.into(), body));
    }
    sigterm(&serve);
    wait_exit(&mut serve, Duration::from_secs(30));
    let mut log = String::new();
    std::io::Read::read_to_string(serve.stderr.as_mut().unwrap(), &mut log).unwrap();
    surfaces.push(("serve log".into(), log));

    for (surface, body) in &surfaces {
        for needle in &needles {
            assert!(!body.to_lowercase().contains(&needle.to_lowercase()), "{surface} holds {needle}");
        }
    }
    let named_after = &surfaces[1].1;
    assert!(named_after.contains("forgotten:1"), "the named report shows the placeholder");
    let bytes = store_bytes(dir.path());
    for needle in &needles {
        assert!(!contains(&bytes, needle), "the store's files hold {needle}");
    }
}

#[test]
fn retention_deletes_exactly_the_events_past_the_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("s.db");
    let short = sim_config(dir.path(), "short", &store_path, "");
    std::fs::write(&short, std::fs::read_to_string(&short).unwrap().replace("[store]\n", "[store]\nkeep = \"30d\"\n"))
        .unwrap();
    let out = run(&["check-config", "--config", short.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("shorter than the 91 days")
            || text(&out.stderr).contains("shorter than the 91 days")
    );

    let start = chrono::Utc::now().date_naive() - chrono::Days::new(130);
    let keys = format!("start = \"{start}\"\nitems_per_day = 12\nteams = 3\nseed = 5\n");
    let cfg = sim_config(dir.path(), "c", &store_path, &keys);
    let cfg = cfg.to_str().unwrap();
    ok(&["sync", "--once", "--config", cfg]);
    let events = || {
        let mut all = Vec::new();
        SqliteStore::open(&store_path).unwrap().for_each_event(&mut |e| all.push(e)).unwrap();
        all
    };
    let before = events();
    let keep = 100 * DAY;
    assert!(before.iter().any(|e| e.at < chrono::Utc::now().timestamp() - keep - DAY), "some events are old");
    std::fs::write(cfg, std::fs::read_to_string(cfg).unwrap().replace("[store]\n", "[store]\nkeep = \"100d\"\n"))
        .unwrap();
    let t0 = chrono::Utc::now().timestamp();
    ok(&["sync", "--once", "--config", cfg]);
    let t1 = chrono::Utc::now().timestamp();
    let after = events();
    let (gone_by, kept_from) = (t0 - keep, t1 - keep);
    assert!(after.iter().all(|e| e.at >= gone_by), "an event past the horizon stayed");
    let old: Vec<_> = before.iter().filter(|e| e.at >= kept_from).collect();
    let after_ids: BTreeSet<&str> = after.iter().map(|e| e.id.as_str()).collect();
    assert!(old.iter().all(|e| after_ids.contains(e.id.as_str())), "an event within the horizon went");
    // Nothing else changed: what stayed is what was stored (new events of the second sync aside).
    let before_ids: BTreeSet<&str> = before.iter().map(|e| e.id.as_str()).collect();
    for e in after.iter().filter(|e| before_ids.contains(e.id.as_str())) {
        assert_eq!(Some(e), before.iter().find(|b| b.id == e.id));
    }
    assert!(after.len() < before.len());
}
