//! `kill -9` of `siloscope sync` in the middle of a large simulated sync, then a second run: the
//! store must hold exactly the events of one uninterrupted run — nothing lost, nothing twice.

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::*;
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

/// (id, item, at, actor, kind as JSON) of every stored event with time ≤ `upto`, sorted.
fn events(store: &std::path::Path, upto: i64) -> Vec<(String, String, i64, Option<String>, String)> {
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

/// Starts a sync and SIGKILLs it once its progress log reports `kill_at_step` steps.
fn sync_killed_at(config: &std::path::Path, kill_at_step: u64) {
    let mut child = spawn(&["sync", "--once", "--log.level", "siloscope=debug", "--config", config.to_str().unwrap()]);
    let stderr = child.stderr.take().unwrap();
    let mut seen = 0;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(steps) =
            line.split("steps=").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse::<u64>().ok())
        {
            seen = steps;
            if steps >= kill_at_step {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the sync finished before it could be killed (saw {seen} steps)");
}

#[test]
fn kill_9_mid_sync_then_resume_equals_one_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(30);
    let keys = format!("start = \"{start}\"\nitems_per_day = 250\nteams = 6\nseed = 7\n");
    let (crashed, reference) = (dir.path().join("crashed.db"), dir.path().join("reference.db"));
    let cfg_crashed = sim_config(dir.path(), "crashed", &crashed, &keys);
    let cfg_reference = sim_config(dir.path(), "reference", &reference, &keys);
    let cutoff = chrono::Utc::now().timestamp();

    // Two crashes at different points, then a run to the end.
    sync_killed_at(&cfg_crashed, 5);
    let after_first = events(&crashed, i64::MAX).len();
    assert!(after_first > 0, "the first run stored nothing before it was killed");
    sync_killed_at(&cfg_crashed, 8);
    let out = run(&["sync", "--once", "--config", cfg_crashed.to_str().unwrap()]);
    assert!(out.status.success(), "resume failed: {}", text(&out.stderr));

    let out = run(&["sync", "--once", "--config", cfg_reference.to_str().unwrap()]);
    assert!(out.status.success(), "reference run failed: {}", text(&out.stderr));

    let got = events(&crashed, cutoff);
    let want = events(&reference, cutoff);
    assert!(want.len() > 50_000, "the simulated sync should be large, got {} events", want.len());
    assert!(after_first < want.len(), "the first kill came after the sync was complete");
    assert_eq!(got.len(), want.len(), "event counts differ after crash and resume");
    assert!(got == want, "the stored events differ from an uninterrupted run");
}

#[test]
fn sigterm_during_a_sync_exits_cleanly_and_keeps_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(30);
    let store = dir.path().join("s.db");
    let cfg = sim_config(dir.path(), "c", &store, &format!("start = \"{start}\"\nitems_per_day = 250\n"));
    let port = free_port();
    let mut child =
        spawn(&["serve", "--config", cfg.to_str().unwrap(), "--web.listen-address", &format!("127.0.0.1:{port}")]);
    wait_for("the first committed events", Duration::from_secs(60), || {
        (http_get(port, "/metrics")?
            .1
            .lines()
            .any(|l| l.starts_with("siloscope_events_ingested_total{source=\"sim\"}") && !l.ends_with(" 0")))
        .then_some(())
    });
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert!(status.success(), "serve should exit 0 on SIGTERM, got {status}");
    // The store opens, and a resumed sync completes without duplicates.
    let before = events(&store, i64::MAX).len();
    assert!(before > 0);
    let out = run(&["sync", "--once", "--config", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all = events(&store, i64::MAX);
    let mut ids: Vec<&String> = all.iter().map(|e| &e.0).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len());
    assert!(all.len() >= before);
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
    let mut child =
        spawn(&["serve", "--config", cfg.to_str().unwrap(), "--web.listen-address", &format!("127.0.0.1:{port}")]);
    let metrics = wait_for("both sources to have synced at least once", Duration::from_secs(60), || {
        let body = http_get(port, "/metrics")?.1;
        (body.contains("siloscope_source_up{source=\"healthy\"} 1")
            && body.contains("siloscope_source_errors_total{source=\"broken\",kind=\"malformed\"} ")
            && !body.contains("siloscope_source_errors_total{source=\"broken\",kind=\"malformed\"} 0"))
        .then_some(body)
    });
    assert!(metrics.contains("siloscope_source_up{source=\"broken\"} 0"), "{metrics}");
    assert!(!metrics.contains("siloscope_events_ingested_total{source=\"healthy\"} 0\n"));
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    let stderr = text(
        &child
            .stderr
            .take()
            .map(|mut s| {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut s, &mut v).unwrap();
                v
            })
            .unwrap(),
    );
    assert!(stderr.contains("source=broken") && stderr.contains("sync failed"), "{stderr}");
}
