//! The fault campaign: each hostile behaviour (endless lists, a page repeated, a 1 GiB body, a
//! 600 s rate limit, a hung server) through each source's stand-in ends bounded, with a clear
//! error, and the store then converges to what a fault-free run stores. And SIGTERM to the real
//! binary in each wait ends it (exit code 3 for `sync --once`, 0 for `serve`).

#[path = "hostile_common/mod.rs"]
mod hostile_common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hostile_common::*;
use siloscope::sources::{Source, SourceError};
use siloscope::store::SqliteStore;
use siloscope_testkit::hostile::Hostile;

/// A sync against a hostile server must end: today's code pages for ever, so a generous limit.
async fn bounded(source: &mut dyn Source, store: &mut SqliteStore, what: &str) -> Result<u32, SourceError> {
    match tokio::time::timeout(Duration::from_secs(240), sync_once(source, store)).await {
        Ok(r) => r,
        Err(_) => panic!("{what}: the sync did not end within 240 s"),
    }
}

async fn campaign(kind: Kind, behaviour: Hostile, expected: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(kind, tmp.path()).await;
    // The fault-free run, through the same proxy.
    let mut clean_store = open_store(tmp.path(), "clean.db");
    let mut clean = rig.source();
    bounded(clean.as_mut(), &mut clean_store, "fault-free").await.unwrap();
    let (clean_items, clean_events) = dump(&clean_store);
    assert!(clean_items.len() >= 3 && clean_events.len() >= 10, "{kind:?}: {} items", clean_items.len());

    rig.proxy.set(behaviour);
    let before = rig.proxy.requests();
    let mut store = open_store(tmp.path(), "hostile.db");
    let mut source = rig.source();
    let what = format!("{kind:?} under {behaviour:?}");
    let result = bounded(source.as_mut(), &mut store, &what).await;
    let requests = rig.proxy.requests() - before;
    match result {
        Err(e) => {
            assert!(expected.contains(&e.kind), "{what}: error kind {:?}, expected one of {expected:?}: {e}", e.kind);
            assert!(
                e.message.contains(&rig.proxy.url()) || e.message.contains("src"),
                "{what}: the error names the URL or the source: {e}"
            );
            assert!(!e.message.contains(GH_TOKEN) && !e.message.contains(GL_TOKEN) && !e.message.contains(JIRA_TOKEN));
            eprintln!("{what}: ended after {requests} requests: {e}");
        }
        Ok(steps) => {
            // GitLab's sub-lists end at their own page ceiling (a warning), not in an error.
            assert!(expected.contains(&"ok"), "{what}: caught up after {steps} steps, expected an error");
            eprintln!("{what}: caught up after {steps} steps and {requests} requests");
        }
    }
    assert!(requests < 20_000, "{what}: {requests} requests");

    // The server comes to its senses: the same store converges to the fault-free one.
    rig.proxy.set(Hostile::Honest);
    let mut source = rig.source();
    bounded(source.as_mut(), &mut store, &format!("{what}, then honest")).await.unwrap();
    let (items, events) = dump(&store);
    assert_eq!(items, clean_items, "{what}: items");
    assert_eq!(events.len(), clean_events.len(), "{what}: events");
    assert_eq!(events, clean_events, "{what}: events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_lists_end_at_a_ceiling() {
    for kind in KINDS {
        let expected: &[&str] = match kind {
            Kind::Gitlab => &["ceiling", "loop", "ok"],
            // The stand-in's own budget (5,000 GraphQL points an hour) may run out first.
            Kind::Github => &["ceiling", "loop", "rate_limit"],
            _ => &["ceiling", "loop"],
        };
        campaign(kind, Hostile::Endless, expected).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_page_or_cursor_is_a_loop() {
    for kind in KINDS {
        campaign(kind, Hostile::Repeat, &["loop", "ceiling"]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_body_is_cut_off_at_the_cap() {
    for kind in KINDS {
        campaign(kind, Hostile::HugeBody, &["ceiling"]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_rate_limit_and_a_hung_server_end_the_step() {
    for kind in KINDS {
        campaign(kind, Hostile::RateLimited, &["rate_limit"]).await;
        campaign(kind, Hostile::Hung, &["transport"]).await;
    }
}

// --- SIGTERM to the real binary during each wait -------------------------------------------

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Waits for the process to exit (a generous limit: the figure is measured in benches/hostile).
fn wait_exit(mut child: Child, what: &str) -> (std::process::ExitStatus, String) {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (status, err);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{what}: still running 60 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn sigterm_in_a_wait(kind: Kind, behaviour: Hostile, serve: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(kind, tmp.path()).await;
    rig.proxy.set(behaviour);
    let config = write_config(tmp.path(), &rig);
    let args: Vec<&str> = if serve {
        vec!["serve", "--web.listen-address", "127.0.0.1:0", "--config"]
    } else {
        vec!["sync", "--once", "--config"]
    };
    let child = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(&args)
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let what = format!("{kind:?} {} under {behaviour:?}", if serve { "serve" } else { "sync --once" });
    // In the wait: the hostile answer (or no answer) is on its way.
    if tokio::time::timeout(Duration::from_secs(30), rig.proxy.wait_for_requests(1)).await.is_err() {
        let mut child = child;
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!("{what}: no request reached the server:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    sigterm(&child);
    let (status, err) = tokio::task::spawn_blocking(move || wait_exit(child, &what.clone())).await.unwrap();
    let expected = if serve { 0 } else { 3 };
    assert_eq!(status.code(), Some(expected), "{kind:?} {behaviour:?}: {status:?}\n{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_sync_once_in_every_wait_with_exit_code_3() {
    for kind in KINDS {
        for behaviour in [Hostile::RateLimited, Hostile::Hung, Hostile::Endless] {
            sigterm_in_a_wait(kind, behaviour, false).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_serve_in_every_wait() {
    for kind in [Kind::Github, Kind::JiraCloud] {
        for behaviour in [Hostile::RateLimited, Hostile::Hung] {
            sigterm_in_a_wait(kind, behaviour, true).await;
        }
    }
}
