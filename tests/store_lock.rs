//! One writer per SQLite store (issue 17, item 5): a second `serve` (or `sync --once`) on a store
//! a running daemon holds is refused with a message naming the holder, while the read-only
//! commands run alongside; a foreign SQLite file is refused and left byte for byte untouched.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn a_second_daemon_on_the_same_store_is_refused_and_readers_run_alongside() {
    let dir = tempfile::tempdir().unwrap();
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(10);
    let keys = format!("start = \"{start}\"\nitems_per_day = 40\nteams = 4\n");
    let store = dir.path().join("s.db");
    let cfg = sim_config(dir.path(), "c", &store, &keys);
    let cfg = cfg.to_str().unwrap();
    let port = free_port();
    let first = spawn(&["serve", "--config", cfg, "--web.listen-address", &format!("127.0.0.1:{port}")]);
    // The first has finished its backfill (the case of the issue: both then write at once).
    wait_for("the first daemon to be ready", Duration::from_secs(120), || {
        http_get(port, "/readyz").filter(|(status, _)| *status == 200)
    });

    let other = free_port();
    let mut second = spawn(&["serve", "--config", cfg, "--web.listen-address", &format!("127.0.0.1:{other}")]);
    let status = wait_exit(&mut second, Duration::from_secs(30));
    let mut err = String::new();
    std::io::Read::read_to_string(second.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    let pid = format!("pid {}", first.id());
    assert!(err.contains("in use by another siloscope") && err.contains(&pid) && err.contains("started at"), "{err}");
    assert!(err.contains("s.db.lock") && err.contains("fix:"), "{err}");
    assert!(http_get(other, "/healthz").is_none(), "the second daemon must not serve");

    let once = run(&["sync", "--once", "--config", cfg]);
    assert_eq!(once.status.code(), Some(1));
    assert!(text(&once.stderr).contains(&pid), "{}", text(&once.stderr));

    // Readers do not take the lock.
    let report = run(&["report", "--config", cfg, "--format", "json"]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let teams = run(&["teams", "--config", cfg]);
    assert!(teams.status.success(), "{}", text(&teams.stderr));

    // Once the first is gone, the store is free (the kernel drops the lock even after kill -9).
    drop(first);
    let once = run(&["sync", "--once", "--config", cfg]);
    assert!(once.status.success(), "{}", text(&once.stderr));
}

#[test]
fn a_foreign_sqlite_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other-app.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);",
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let cfg = sim_config(dir.path(), "c", &path, "");
    for args in [vec!["sync", "--once"], vec!["report", "--format", "json"], vec!["teams"]] {
        let mut argv = args.clone();
        argv.extend(["--config", cfg.to_str().unwrap()]);
        let out = run(&argv);
        assert!(std::fs::read(&path).unwrap() == before, "{args:?} changed the foreign file's bytes");
        assert!(!dir.path().join("other-app.db-wal").exists(), "{args:?} switched it to WAL");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("not a siloscope store") && err.contains("left untouched") && err.contains("fix:"),
            "{err}"
        );
    }
}
