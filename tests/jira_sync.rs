//! The Jira source against the stand-in: simulated tickets read back event for event on Cloud
//! and Data Center, faults, malformed issues, long changelogs and comment lists, idle polls, the
//! retired Cloud search endpoint.

mod jira_common;

use std::collections::BTreeSet;
use std::time::Duration;

use jira_common::*;
use siloscope::model::{Event, EventKind, ItemKind, Ts};
use siloscope::sources::jira::Flavor;
use siloscope::standin::jira::{Fault, JiraScenario, login_of, project_key};
use siloscope::store::Store;

type Row = (String, Ts, Option<String>, String);

fn jira_key(sim_key: &str) -> String {
    let (scope, number) = sim_key.split_once(':').unwrap().1.rsplit_once('#').unwrap();
    format!("jira:{}#{number}", project_key(scope))
}

fn jira_identity(id: &str) -> String {
    format!("jira:{}", login_of(id))
}

/// What the source must read back for simulated ticket events: each event as it is, and for a
/// close without a status change (the simulator's "gave up") the transition Jira makes for it.
fn expected_rows(events: &[&Event]) -> Vec<Row> {
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| e.at);
    let mut status: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    let mut last_status_at: std::collections::HashMap<&str, Ts> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for e in sorted {
        match &e.kind {
            EventKind::StatusChanged { to, .. } => {
                status.insert(&e.item, to.clone());
                last_status_at.insert(&e.item, e.at);
            }
            EventKind::Closed { completed } if last_status_at.get(e.item.as_str()) != Some(&e.at) => {
                let to = if *completed { "Done" } else { "Won't Do" };
                let from = status.insert(&e.item, to.to_string());
                let mut synthetic = e.clone();
                synthetic.kind = EventKind::StatusChanged {
                    from,
                    to: to.into(),
                    category: Some(siloscope::model::StatusCategory::Done),
                };
                out.push(expected_row(&synthetic));
            }
            _ => {}
        }
        out.push(expected_row(e));
    }
    out
}

fn expected_row(e: &Event) -> Row {
    let mut kind = e.kind.clone();
    if let EventKind::Assigned { assignee } | EventKind::Unassigned { assignee } = &mut kind {
        *assignee = jira_identity(assignee);
    }
    (jira_key(&e.item), e.at, e.actor.as_deref().map(jira_identity), serde_json::to_string(&kind).unwrap())
}

fn row(e: &Event) -> Row {
    (e.item.clone(), e.at, e.actor.clone(), serde_json::to_string(&e.kind).unwrap())
}

async fn read_back(flavor: Flavor) {
    let (items, events, _) = simulated(30, 20.0, 7);
    let scenario = JiraScenario::from_model(&items, &events);
    let standin = start(scenario, flavor).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut src = source(config(&standin, flavor, write_token(tmp.path(), TOKEN)), clock());
    let mut store = open_store(tmp.path(), "a.db");
    sync(&mut src, &mut store, T0 + 40 * 86_400).await;
    let (got_items, got_events) = dump(&store);

    let tickets: Vec<_> = items.iter().filter(|i| i.kind == ItemKind::Ticket).collect();
    assert!(tickets.len() > 40, "a sizeable set of tickets: {}", tickets.len());
    let expect_items: BTreeSet<_> = tickets
        .iter()
        .map(|i| {
            (
                jira_key(&i.key),
                i.title.clone(),
                i.author.as_deref().map(jira_identity),
                i.created_at,
                i.state,
                i.issue_type.clone(),
            )
        })
        .collect();
    let got: BTreeSet<_> = got_items
        .iter()
        .map(|i| (i.key.clone(), i.title.clone(), i.author.clone(), i.created_at, i.state, i.issue_type.clone()))
        .collect();
    let differ: Vec<_> = got.symmetric_difference(&expect_items).collect();
    assert!(differ.is_empty(), "items differ: {differ:#?}");

    let keys: BTreeSet<&str> = tickets.iter().map(|i| i.key.as_str()).collect();
    let ticket_events: Vec<&Event> = events.iter().filter(|e| keys.contains(e.item.as_str())).collect();
    let mut expect: Vec<Row> = expected_rows(&ticket_events);
    let mut rows: Vec<Row> = got_events.iter().map(row).collect();
    expect.sort();
    rows.sort();
    let missing: Vec<_> = expect.iter().filter(|r| !rows.contains(r)).take(5).collect();
    let extra: Vec<_> = rows.iter().filter(|r| !expect.contains(r)).take(5).collect();
    assert!(rows == expect, "{} read, {} expected; missing {missing:#?}; extra {extra:#?}", rows.len(), expect.len());
    let kinds: BTreeSet<&str> = got_events.iter().map(|e| e.kind.name()).collect();
    for k in ["opened", "status_changed", "team_field_changed", "commented", "closed", "reopened"] {
        assert!(kinds.contains(k), "no {k} event read back: {kinds:?}");
    }
    assert!(got_events.iter().any(|e| matches!(&e.kind, EventKind::Commented { mentions } if !mentions.is_empty())));
    assert!(got_events.iter().any(|e| matches!(&e.kind, EventKind::Closed { completed: false })));
}

#[tokio::test]
async fn simulated_tickets_read_back_event_for_event_from_cloud() {
    read_back(Flavor::Cloud).await;
}

#[tokio::test]
async fn simulated_tickets_read_back_event_for_event_from_data_center() {
    read_back(Flavor::DataCenter).await;
}

#[tokio::test]
async fn every_fault_during_a_backfill_leaves_the_store_as_a_fault_free_run_would() {
    let (items, events, _) = simulated(20, 15.0, 11);
    let standin = start(JiraScenario::from_model(&items, &events), Flavor::Cloud).await;
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), TOKEN);
    let faults = [
        Fault::ChangingPage,
        Fault::ServerError,
        Fault::Delay(Duration::from_secs(3)),
        Fault::RetryAfter(5),
        Fault::TruncatedJson,
    ];
    for (i, f) in faults.iter().enumerate() {
        standin.inject_at(2 + i as u64, f.clone());
    }
    let faulty_clock = clock();
    let mut cfg = config(&standin, Flavor::Cloud, token.clone());
    cfg.page_size = 10;
    let mut faulty = source(cfg.clone(), faulty_clock.clone());
    let mut faulty_store = open_store(tmp.path(), "faulty.db");
    sync(&mut faulty, &mut faulty_store, T0 + 30 * 86_400).await;
    assert_eq!(standin.counters().faults_served, faults.len() as u64, "every fault was served");
    let waits: Vec<u64> = faulty_clock.sleeps().iter().map(Duration::as_secs).collect();
    assert!(waits.iter().any(|&w| w >= 5), "the 429 was waited out (retry-after 5 s): {waits:?}");

    // The fault-free run reads the scenario as it ended (one issue changed during the faulty run).
    let mut clean = source(cfg, clock());
    let mut clean_store = open_store(tmp.path(), "clean.db");
    sync(&mut clean, &mut clean_store, T0 + 30 * 86_400).await;
    let (a_items, a_events) = dump(&faulty_store);
    let (b_items, b_events) = dump(&clean_store);
    assert!(b_items.len() > 20 && b_events.len() > 200, "{} items, {} events", b_items.len(), b_events.len());
    assert_eq!(a_items, b_items);
    assert_eq!(a_events, b_events);
    assert!(b_events.iter().any(|e| e.id.contains("/c90")), "the comment added during the faulty run is in both");
}

#[tokio::test]
async fn a_malformed_issue_is_logged_with_its_url_counted_and_skipped() {
    let (items, events, _) = simulated(10, 10.0, 3);
    let mut scenario = JiraScenario::from_model(&items, &events);
    scenario.issues[3].malformed = true;
    let bad_key = scenario.issues[3].key();
    let total = scenario.issues.len();
    let standin = start(scenario, Flavor::DataCenter).await;
    let tmp = tempfile::tempdir().unwrap();
    let exporter = siloscope::exporter::Exporter::new();
    exporter.health.register_source("jira");
    let mut src = source(config(&standin, Flavor::DataCenter, write_token(tmp.path(), TOKEN)), clock());
    siloscope::sources::Source::attach_health(&mut src, exporter.health.clone());
    let mut store = open_store(tmp.path(), "m.db");
    let (logs, guard) = capture_logs();
    sync(&mut src, &mut store, T0 + 20 * 86_400).await;
    drop(guard);
    let (got, _) = dump(&store);
    assert_eq!(got.len(), total - 1, "all but the malformed issue are stored");
    let log = logs.text();
    let line = log.lines().find(|l| l.contains("malformed")).unwrap_or_else(|| panic!("no log line:\n{log}"));
    assert!(line.contains(&format!("{}/browse/{bad_key}", standin.url())) && line.contains("created"), "{line}");
    let metrics = exporter.render();
    assert!(
        metrics.lines().any(|l| l.starts_with("siloscope_source_errors_total")
            && l.contains("kind=\"malformed\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );
}

#[tokio::test]
async fn long_changelogs_and_comment_lists_are_read_in_full_and_an_idle_poll_is_one_request() {
    let (items, events, _) = simulated(20, 15.0, 5);
    let scenario = JiraScenario::from_model(&items, &events);
    let long = scenario.issues.iter().filter(|i| i.histories.len() > 3).count();
    let chatty = scenario.issues.iter().filter(|i| i.comments.len() > 1).count();
    assert!(long > 5 && chatty > 2, "{long} long changelogs, {chatty} long comment lists");
    let mut settings = standin_settings(Flavor::Cloud);
    settings.embedded_histories = 3;
    settings.embedded_comments = 1;
    let short = siloscope::standin::jira::JiraStandIn::start(scenario.clone(), settings).await.unwrap();
    let full = start(scenario, Flavor::Cloud).await;
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), TOKEN);
    let mut a = source(config(&short, Flavor::Cloud, token.clone()), clock());
    let mut a_store = open_store(tmp.path(), "short.db");
    sync(&mut a, &mut a_store, T0 + 30 * 86_400).await;
    let c = short.counters();
    assert_eq!((c.changelogs, c.comments), (long as u64, chatty as u64), "one follow-up per long list");
    let mut b = source(config(&full, Flavor::Cloud, token), clock());
    let mut b_store = open_store(tmp.path(), "full.db");
    sync(&mut b, &mut b_store, T0 + 30 * 86_400).await;
    let without_host = |(items, events): (Vec<siloscope::model::Item>, Vec<Event>)| {
        let items: Vec<_> = items.into_iter().map(|i| siloscope::model::Item { url: String::new(), ..i }).collect();
        (items, events)
    };
    assert_eq!(without_host(dump(&a_store)), without_host(dump(&b_store)));

    // Nothing changed: one search, nothing new.
    short.reset_counters();
    let cursor = a_store.cursor("jira").unwrap();
    let idle = siloscope::sources::Source::step(&mut a, cursor.as_deref(), T0 + 30 * 86_400).await.unwrap();
    assert!(idle.caught_up && idle.batch.items.is_empty() && idle.batch.events.is_empty());
    assert_eq!(short.counters().requests, 1);
}

#[tokio::test]
async fn the_cursor_is_written_in_the_users_time_zone_so_nothing_is_missed() {
    let (items, events, _) = simulated(10, 10.0, 9);
    let standin = start(JiraScenario::from_model(&items, &events), Flavor::Cloud).await;
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), TOKEN);
    let mut src = source(config(&standin, Flavor::Cloud, token.clone()), clock());
    let mut store = open_store(tmp.path(), "tz.db");
    sync(&mut src, &mut store, T0 + 20 * 86_400).await;
    // The same source believing the user is on UTC.
    let mut utc_cfg = config(&standin, Flavor::Cloud, token.clone());
    utc_cfg.utc_offset_minutes = 0;
    let mut utc = source(utc_cfg, clock());
    let mut utc_store = open_store(tmp.path(), "utc.db");
    sync(&mut utc, &mut utc_store, T0 + 20 * 86_400).await;
    // An issue updated a minute after the newest one: a poll must see it. The stand-in reads JQL
    // dates in the user's zone (UTC-5), as Jira does.
    let newest = standin.scenario().issues.iter().map(|i| i.updated).max().unwrap();
    standin.edit(|s| {
        let issue = &mut s.issues[0];
        issue.comments.push(siloscope::standin::jira::JiraComment {
            id: 777_777,
            at: newest + 60,
            author: issue.reporter.clone(),
            body: "ping @sim-org/payments".into(),
        });
        issue.updated = newest + 60;
    });
    sync(&mut src, &mut store, T0 + 20 * 86_400).await;
    sync(&mut utc, &mut utc_store, T0 + 20 * 86_400).await;
    let (_, missed) = dump(&utc_store);
    assert!(!missed.iter().any(|e| e.id.ends_with("/c777777")), "UTC wall time is 5 h ahead of the user's: skipped");
    let (_, got) = dump(&store);
    let ping = got.iter().find(|e| e.id.ends_with("/c777777")).expect("the new comment was read");
    assert_eq!(ping.kind, EventKind::Commented { mentions: vec!["sim-org/payments".into()] });
}

#[tokio::test]
async fn the_retired_cloud_search_answers_410() {
    let standin = start(JiraScenario::default(), Flavor::Cloud).await;
    let transport = siloscope::sources::http::OctocrabTransport::new(Duration::from_secs(2)).unwrap();
    let client = siloscope::sources::http::ApiClient::new(
        "jira",
        std::sync::Arc::new(transport),
        clock(),
        siloscope::sources::http::HttpSettings::default(),
    );
    let request = siloscope::sources::http::HttpRequest {
        method: siloscope::sources::http::Method::Get,
        url: format!("{}/rest/api/3/search?jql=order%20by%20updated", standin.url()),
        headers: vec![],
        body: None,
        authorization: Some(siloscope::sources::http::Secret::basic(EMAIL, TOKEN)),
    };
    let e = client.send(&request, siloscope::sources::http::Budget::Rest, false).await.unwrap_err();
    assert_eq!((e.kind, e.status), ("http", Some(410)));
}
