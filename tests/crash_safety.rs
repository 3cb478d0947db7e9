//! Crashes and shutdowns in the middle of a large simulated sync, then a resumed run: the store must
//! hold exactly the events of one uninterrupted reference run — nothing lost, nothing twice. The
//! stopping points are exact, not timed: the debug build's test hooks SIGKILL the process after the
//! N-th row of an open store transaction, or hold a batch before its commit until SIGTERM comes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use siloscope::model::DAY;
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

type Row = (String, String, i64, Option<String>, String);

/// (id, item, at, actor, kind as JSON) of every stored event with time ≤ `upto`, sorted.
fn events(store: &Path, upto: i64) -> Vec<Row> {
    let s = SqliteStore::open(store).unwrap();
    let mut out = Vec::new();
    s.for_each_event(&mut |e| {
        if e.at <= upto {
            out.push((e.id.clone(), e.item.clone(), e.at, e.actor.clone(), serde_json::to_string(&e.kind).unwrap()));
        }
    })
    .unwrap();
    out.sort();
    out
}

/// The simulator's stored cursor: (history anchor, synced until), None before its first commit.
fn sim_cursor(store: &Path) -> Option<(i64, i64)> {
    let cursor = SqliteStore::open(store).unwrap().cursor("sim").unwrap()?;
    let v: serde_json::Value = serde_json::from_str(&cursor).unwrap();
    Some((v["anchor"].as_i64().unwrap(), v["until"].as_i64().unwrap()))
}

fn sync_ok(config: &Path) {
    let out = run(&["sync", "--once", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "sync failed: {}", text(&out.stderr));
}

/// `sync --once` that the test hook SIGKILLs after `rows` rows written inside store transactions.
fn sync_killed_after_rows(config: &Path, rows: u64) {
    let out = bin()
        .args(["sync", "--once", "--config", config.to_str().unwrap()])
        .env("SILOSCOPE_TEST_KILL_AFTER_ROWS", rows.to_string())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "the sync should have been SIGKILLed by the test hook (a debug build) after {rows} rows, got {}: {stderr}",
        out.status
    );
    assert!(stderr.contains(&format!("SIGKILL after row {rows}, inside an open store transaction")), "{stderr}");
}

/// The crashed store holds exactly the reference's events up to its cursor, and nothing after.
fn assert_exactly_committed_steps(crashed: &Path, reference: &[Row]) -> i64 {
    let (_, until) = sim_cursor(crashed).expect("a committed cursor");
    let want: Vec<&Row> = reference.iter().filter(|e| e.2 <= until).collect();
    let got = events(crashed, i64::MAX);
    assert_eq!(got.len(), want.len(), "events after a kill at cursor {until}: the open transaction must leave nothing");
    assert!(got.iter().zip(&want).all(|(g, w)| g == *w), "stored events differ from the reference up to the cursor");
    until
}

#[test]
fn kill_9_inside_open_transactions_then_resume_equals_one_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(30);
    let keys = format!("start = \"{start}\"\nitems_per_day = 250\nteams = 6\nseed = 7\n");
    let (crashed, reference) = (dir.path().join("crashed.db"), dir.path().join("reference.db"));
    let cfg_crashed = sim_config(dir.path(), "crashed", &crashed, &keys);
    let cfg_reference = sim_config(dir.path(), "reference", &reference, &keys);
    let cutoff = chrono::Utc::now().timestamp();
    sync_ok(&cfg_reference);
    let want = events(&reference, cutoff);
    assert!(want.len() > 50_000, "the simulated sync should be large, got {} events", want.len());

    // Killed on the very first row: the first transaction leaves nothing, not even a cursor.
    sync_killed_after_rows(&cfg_crashed, 1);
    assert_eq!(sim_cursor(&crashed), None);
    assert_eq!(events(&crashed, i64::MAX).len(), 0);
    // Killed mid-batch a few steps in, then again further on after resuming: each time exactly the
    // committed steps are there.
    sync_killed_after_rows(&cfg_crashed, 12_345);
    let first = assert_exactly_committed_steps(&crashed, &want);
    sync_killed_after_rows(&cfg_crashed, 30_000);
    let second = assert_exactly_committed_steps(&crashed, &want);
    assert!(second > first, "the second run made progress ({first} → {second})");
    assert!(second < cutoff, "the second kill came before the sync was complete");

    sync_ok(&cfg_crashed);
    let got = events(&crashed, cutoff);
    assert_eq!(got.len(), want.len(), "event counts differ after crashes and resume");
    assert!(got == want, "the stored events differ from an uninterrupted run");
}

#[test]
fn sigterm_with_a_batch_in_flight_commits_it_stops_cleanly_and_resume_equals_one_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(20);
    let keys = format!("start = \"{start}\"\nitems_per_day = 150\n");
    let (store, reference) = (dir.path().join("s.db"), dir.path().join("reference.db"));
    let cfg = sim_config(dir.path(), "c", &store, &keys);
    let cfg_reference = sim_config(dir.path(), "reference", &reference, &keys);
    let cutoff = chrono::Utc::now().timestamp();
    sync_ok(&cfg_reference);
    let want = events(&reference, cutoff);

    // The daemon reads its 5th step and holds it before the commit: SIGTERM comes with a batch in
    // flight, however fast the machine.
    let port = free_port();
    let mut child = Running(
        bin()
            .args(["serve", "--config", cfg.to_str().unwrap(), "--web.listen-address", &format!("127.0.0.1:{port}")])
            .env("SILOSCOPE_TEST_HOLD_BEFORE_COMMIT", "5")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let held = loop {
        match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.contains("test hook: holding a batch before its commit") => break line,
            Ok(line) => log.push(line),
            Err(e) => panic!("the daemon never held its 5th batch ({e}): {log:#?}"),
        }
    };
    assert!(held.contains("step=5"), "{held}");
    // Its first sync pass is not done: not ready, and it says why.
    let (status, body) = wait_for("/readyz to answer", Duration::from_secs(30), || http_get(port, "/readyz"));
    assert_eq!((status, body.trim()), (503, "not ready: the first sync of sim has not finished"));
    let before = sim_cursor(&store).expect("4 steps committed");
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(30));
    reader.join().unwrap();
    log.extend(lines.try_iter());
    assert!(status.success(), "serve should exit 0 on SIGTERM, got {status}: {log:#?}");
    let stopped =
        log.iter().find(|l| l.contains("sync interrupted by shutdown")).expect("the sync reports it was interrupted");
    assert!(stopped.contains("source=sim") && stopped.contains("steps=5"), "{stopped}");
    assert!(!log.iter().any(|l| l.contains("sync finished")), "the sync did not run to its end: {log:#?}");

    // The held batch was committed before the daemon stopped, and nothing after it.
    let (anchor, until) = sim_cursor(&store).unwrap();
    assert_eq!((until - anchor, before.1 - anchor), (5 * DAY, 4 * DAY), "one day a step; the 5th one committed");
    assert_exactly_committed_steps(&store, &want);

    // A resumed sync stores the rest, and the whole equals the uninterrupted run.
    let stored = events(&store, i64::MAX).len();
    sync_ok(&cfg);
    let got = events(&store, cutoff);
    assert!(got.len() > stored, "the resumed sync stored more ({stored} → {})", got.len());
    assert!(got == want, "after SIGTERM and resume the stored events differ from an uninterrupted run");
}

/// The value of the first sample line starting with `series ` in an exposition, if any.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn one_failing_source_never_stops_another() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    // The "broken" source's stored cursor is garbage: every sync of it fails.
    {
        let mut s = SqliteStore::open(&store).unwrap();
        let batch = siloscope::model::Batch {
            source: "broken".into(),
            cursor: Some("{not a cursor".into()),
            ..Default::default()
        };
        s.commit_batch(&batch).unwrap();
    }
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(10);
    let cfg = dir.path().join("two.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\npath = {:?}\n\n[[sources]]\nname = \"broken\"\nkind = \"simulator\"\ninterval = \"1s\"\n\n\
             [[sources]]\nname = \"healthy\"\nkind = \"simulator\"\ninterval = \"1s\"\nstart = \"{start}\"\nitems_per_day = 20\n",
            store.display().to_string()
        ),
    )
    .unwrap();
    let port = free_port();
    let mut child = Running(
        bin()
            .args(["serve", "--config", cfg.to_str().unwrap(), "--web.listen-address", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The broken source fails again and again while the healthy one keeps syncing and its data is
    // computed and served; and the daemon is ready, since a failed first pass is a finished one.
    let metrics =
        wait_for("the broken source to fail twice while the healthy one syncs", Duration::from_secs(90), || {
            let body = http_get(port, "/metrics")?.1;
            let ready = http_get(port, "/readyz")?.0 == 200;
            let failures = sample(&body, r#"siloscope_source_errors_total{source="broken",kind="malformed"}"#)?;
            let healthy_syncs = sample(&body, r#"siloscope_source_sync_duration_seconds_count{source="healthy"}"#)?;
            let computed = body.lines().any(|l| l.starts_with("siloscope_handoffs_total{source=\"healthy\""));
            (ready && failures >= 2.0 && healthy_syncs >= 2.0 && computed).then_some(body)
        });
    assert_eq!(sample(&metrics, r#"siloscope_source_up{source="healthy"}"#), Some(1.0));
    // Down because its syncs failed (it ran: its sync duration has observations), not because
    // nothing ever set it.
    assert_eq!(sample(&metrics, r#"siloscope_source_up{source="broken"}"#), Some(0.0));
    assert!(sample(&metrics, r#"siloscope_source_sync_duration_seconds_count{source="broken"}"#) >= Some(2.0));
    let ingested = sample(&metrics, r#"siloscope_events_ingested_total{source="healthy"}"#).unwrap();
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.lines().any(|l| l.contains("source=broken") && l.contains("sync failed")),
        "the broken source's failure is logged with its name: {stderr}"
    );
    // What the healthy source read is in the store (at least what /metrics had counted by then).
    let counts: std::collections::BTreeMap<String, u64> =
        SqliteStore::open(&store).unwrap().event_counts_by_source().unwrap().into_iter().collect();
    assert!(counts.get("healthy").is_some_and(|n| *n as f64 >= ingested && *n > 0), "{counts:?} vs {ingested}");
    assert_eq!(counts.get("broken"), None, "{counts:?}");
}
