//! The Jira source against the stand-in: simulated tickets read back event for event on Cloud
//! and Data Center, faults, malformed issues, long changelogs and comment lists, idle polls, the
//! retired Cloud search endpoint; real workflow shapes: resolutions set in another history than
//! the move to a done status, statuses deleted from the workflow, auxiliary endpoints failing,
//! the user's IANA time zone across daylight-saving changes, links removed.

mod jira_common;

use std::collections::BTreeSet;
use std::time::Duration;

use jira_common::*;
use siloscope::model::{Event, EventKind, ItemKind, ItemState, LinkRelation, StatusCategory, Ts};
use siloscope::sources::jira::{Flavor, JiraZone};
use siloscope::store::Store;
use siloscope_testkit::jira::{
    Auxiliary, ChangeItem, Fault, JiraIssue, JiraScenario, JiraStandIn, Status, login_of, project_key,
};

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
    let telemetry = std::sync::Arc::new(siloscope::sources::telemetry::SourceTelemetry::default());
    let mut exporter = siloscope::exporter::Exporter::new();
    exporter.register(|r| telemetry.register(r));
    telemetry.register_source("jira");
    let mut src = source(config(&standin, Flavor::DataCenter, write_token(tmp.path(), TOKEN)), clock());
    siloscope::sources::Source::attach_health(&mut src, telemetry.clone());
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
    let short = siloscope_testkit::jira::JiraStandIn::start(scenario.clone(), settings).await.unwrap();
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

/// Closes and reopens of a simulated history, as the source must read them.
fn close_rows(events: &[&Event]) -> BTreeSet<Row> {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Closed { .. } | EventKind::Reopened))
        .map(|e| expected_row(e))
        .collect()
}

/// Simulated tickets in the workflow of many real sites: resolved (resolution set) in "Resolved",
/// a status `/status` no longer lists, and moved to "Closed" by an admin a week later.
fn tidied_up(days: u32, seed: u64) -> (Vec<siloscope::model::Item>, Vec<Event>, JiraScenario) {
    let (items, events, _) = simulated(days, 20.0, seed);
    let mut scenario = JiraScenario::from_model(&items, &events);
    let end = T0 + Ts::from(days) * 86_400;
    scenario.resolve_then_close_later("Resolved", "Closed", "jira-admin", 7 * 86_400, end);
    (items, events, scenario)
}

async fn read_all(
    standin: &JiraStandIn,
    flavor: Flavor,
    page_size: u32,
    db: &str,
) -> (Vec<siloscope::model::Item>, Vec<Event>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(standin, flavor, write_token(tmp.path(), TOKEN));
    cfg.page_size = page_size;
    let mut src = source(cfg, clock());
    let mut store = open_store(tmp.path(), db);
    sync(&mut src, &mut store, T0 + 90 * 86_400).await;
    dump(&store)
}

#[tokio::test]
async fn a_close_is_the_resolution_not_the_admin_tidying_up_weeks_later() {
    let (items, events, scenario) = tidied_up(40, 21);
    let tidied = scenario.issues.iter().flat_map(|i| &i.histories).filter(|h| h.author == "jira-admin").count();
    assert!(tidied > 10, "{tidied} issues tidied up by the admin");
    let standin = start(scenario, Flavor::Cloud).await;
    let (got_items, got_events) = read_all(&standin, Flavor::Cloud, 50, "a.db").await;

    // Every close and reopen at its simulated time, by its simulated author: the resolution's.
    let tickets: BTreeSet<&str> = items.iter().filter(|i| i.kind == ItemKind::Ticket).map(|i| i.key.as_str()).collect();
    let ticket_events: Vec<&Event> = events.iter().filter(|e| tickets.contains(e.item.as_str())).collect();
    let expect = close_rows(&ticket_events);
    let got: BTreeSet<Row> = got_events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Closed { .. } | EventKind::Reopened))
        .map(row)
        .collect();
    assert!(expect.len() > 20, "{} closes and reopens", expect.len());
    let missing: Vec<_> = expect.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&expect).take(5).collect();
    assert!(got == expect, "missing {missing:#?}; extra {extra:#?}");
    // The admin's moves are status changes into a done status, nothing more.
    let admin = Some("jira:jira-admin".to_string());
    let moves: Vec<&Event> = got_events.iter().filter(|e| e.actor == admin).collect();
    assert_eq!(moves.len(), tidied);
    assert!(moves.iter().all(|e| e.kind
        == EventKind::StatusChanged {
            from: Some("Resolved".into()),
            to: "Closed".into(),
            category: Some(StatusCategory::Done)
        }));
    // Open or closed as simulated.
    let states: BTreeSet<(String, ItemState)> =
        items.iter().filter(|i| i.kind == ItemKind::Ticket).map(|i| (jira_key(&i.key), i.state)).collect();
    let got_states: BTreeSet<(String, ItemState)> = got_items.iter().map(|i| (i.key.clone(), i.state)).collect();
    assert_eq!(got_states, states);
}

#[tokio::test]
async fn the_same_data_reads_the_same_at_page_size_50_and_5() {
    // Issues sit in "Resolved" (deleted: only their own status says it is done) while others
    // passed through it: nothing an issue reads may depend on which others share its page.
    let (_, _, scenario) = tidied_up(40, 22);
    let in_resolved = scenario
        .issues
        .iter()
        .filter(|i| {
            i.histories
                .iter()
                .rev()
                .flat_map(|h| h.items.iter().rev())
                .find(|c| c.field_id == "status")
                .and_then(|c| c.to_string.as_deref())
                == Some("Resolved")
        })
        .count();
    assert!(in_resolved >= 3, "{in_resolved} issues still in the deleted status");
    for flavor in [Flavor::Cloud, Flavor::DataCenter] {
        let standin = start(scenario.clone(), flavor).await;
        let (items_50, events_50) = read_all(&standin, flavor, 50, "p50.db").await;
        let searches_50 = standin.counters().searches;
        standin.reset_counters();
        let (items_5, events_5) = read_all(&standin, flavor, 5, "p5.db").await;
        assert!(standin.counters().searches > 5 * searches_50, "page size 5 pages more");
        assert_eq!(items_50.len(), scenario.issues.len());
        assert_eq!(items_5, items_50, "{flavor:?}");
        let differ: Vec<_> = events_5.iter().zip(&events_50).filter(|(a, b)| a != b).take(3).collect();
        assert!(
            events_5 == events_50,
            "{flavor:?}: {} vs {} events, first differences {differ:#?}",
            events_5.len(),
            events_50.len()
        );
    }
}

#[tokio::test]
async fn a_failing_status_list_or_myself_is_a_warning_and_a_health_metric_not_a_failed_sync() {
    let (_, _, scenario) = tidied_up(30, 23);
    let reference = start(scenario.clone(), Flavor::DataCenter).await;
    let (ref_items, ref_events) = read_all(&reference, Flavor::DataCenter, 50, "ref.db").await;
    for (myself, status_list) in [
        (Auxiliary::Serve, Auxiliary::NotFound),
        (Auxiliary::NotFound, Auxiliary::Serve),
        (Auxiliary::WithoutTimeZone, Auxiliary::NotFound),
    ] {
        let mut settings = standin_settings(Flavor::DataCenter);
        (settings.myself, settings.status_list) = (myself, status_list);
        // Without /myself the source reads JQL dates as UTC: a user on UTC loses nothing.
        if myself != Auxiliary::Serve {
            settings.time_zone = chrono_tz::UTC;
        }
        let standin = JiraStandIn::start(scenario.clone(), settings).await.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let telemetry = std::sync::Arc::new(siloscope::sources::telemetry::SourceTelemetry::default());
        let mut exporter = siloscope::exporter::Exporter::new();
        exporter.register(|r| telemetry.register(r));
        telemetry.register_source("jira");
        let mut src = source(config(&standin, Flavor::DataCenter, write_token(tmp.path(), TOKEN)), clock());
        siloscope::sources::Source::attach_health(&mut src, telemetry.clone());
        let mut store = open_store(tmp.path(), "aux.db");
        let (logs, guard) = capture_logs();
        sync(&mut src, &mut store, T0 + 90 * 86_400).await; // every step succeeds
        drop(guard);
        let (items, events) = dump(&store);
        let without_host = |items: &[siloscope::model::Item]| -> Vec<siloscope::model::Item> {
            items.iter().map(|i| siloscope::model::Item { url: String::new(), ..i.clone() }).collect()
        };
        assert_eq!(without_host(&items), without_host(&ref_items), "{myself:?} {status_list:?}");
        // Closes and reopens come from resolutions: the same without any status list.
        let closes = |events: &[Event]| -> Vec<Event> {
            events
                .iter()
                .filter(|e| matches!(e.kind, EventKind::Closed { .. } | EventKind::Reopened))
                .cloned()
                .collect()
        };
        assert_eq!(closes(&events), closes(&ref_events));
        assert_eq!(events.len(), ref_events.len());
        let log = logs.text();
        let endpoint = if status_list == Auxiliary::NotFound { "endpoint=status" } else { "endpoint=myself" };
        assert!(log.lines().any(|l| l.contains("WARN") && l.contains(endpoint)), "{log}");
        let failed = (myself != Auxiliary::Serve) as u32 + (status_list != Auxiliary::Serve) as u32;
        let metrics = exporter.render();
        let line = metrics
            .lines()
            .find(|l| l.starts_with("siloscope_source_errors_total") && l.contains("kind=\"auxiliary\""))
            .unwrap_or_else(|| panic!("{metrics}"));
        assert!(line.ends_with(&format!(" {failed}")), "{line}");
        // Asked again when the next pass starts (it may answer by then), not at every step.
        let before = standin.counters();
        sync(&mut src, &mut store, T0 + 90 * 86_400).await;
        let after = standin.counters();
        assert_eq!(after.statuses - before.statuses, (status_list == Auxiliary::NotFound) as u64);
        assert_eq!(after.myself - before.myself, (myself == Auxiliary::NotFound) as u64);
    }
}

/// Issues updated every 7 minutes for 6 hours around both of New York's daylight-saving changes
/// of the winter 2023/24 (clocks set back at 06:00 UTC on 2023-11-05, forward at 07:00 UTC on
/// 2024-03-10), with a status change each.
fn across_dst() -> JiraScenario {
    let mut s = JiraScenario {
        statuses: vec![
            Status::new("1", "To Do", StatusCategory::ToDo),
            Status::new("3", "In Progress", StatusCategory::InProgress),
        ],
        ..JiraScenario::default()
    };
    let mut number = 0;
    for change in [1_699_164_000, 1_710_054_000] {
        for k in 0..52 {
            number += 1;
            let at = change - 3 * 3600 + k * 7 * 60 + 13;
            let mut issue = JiraIssue::new("TZ", number, at - 86_400, "amy", "To Do");
            let item = ChangeItem::status(&s.statuses, "To Do", "In Progress");
            issue.change(500 + number, at, "bo", vec![item]);
            s.issues.push(issue);
        }
    }
    s
}

#[tokio::test]
async fn jql_dates_follow_the_users_zone_across_daylight_saving_changes() {
    let scenario = across_dst();
    let total = scenario.issues.len();
    for flavor in [Flavor::Cloud, Flavor::DataCenter] {
        let standin = start(scenario.clone(), flavor).await;
        let tmp = tempfile::tempdir().unwrap();
        let token = write_token(tmp.path(), TOKEN);
        // The zone comes from /myself (America/New_York); pages of 5 move the cursor through
        // both changes and through the hour 01:00-02:00 that 2023-11-05 has twice.
        let mut cfg = config(&standin, flavor, token.clone());
        cfg.page_size = 5;
        let mut src = source(cfg.clone(), clock());
        let mut store = open_store(tmp.path(), "ny.db");
        let (logs, guard) = capture_logs();
        sync(&mut src, &mut store, T0 + 200 * 86_400).await;
        drop(guard);
        let log = logs.text();
        assert!(log.lines().any(|l| l.contains("time_zone=America/New_York") && l.contains("/myself")), "{log}");
        let (items, _) = dump(&store);
        assert_eq!(items.len(), total, "{flavor:?}: every issue of the paged backfill");
        // Each page starts where the last ended, as Jira reads the JQL in New York time: never
        // later (that skips), and within the minute JQL dates round to (not an hour early, as a
        // fixed UTC-5 would be in summer), except in the hour 2023-11-05 has twice, where the
        // wall time could be read as either and an earlier one is written.
        let c = standin.counters();
        assert!(c.jql.len() > 20, "{} searches", c.jql.len());
        let readings = |jql: &str| -> Option<Vec<Ts>> {
            let wall = jql.split("updated >= \"").nth(1)?.split('"').next()?;
            let wall = chrono::NaiveDateTime::parse_from_str(wall, "%Y-%m-%d %H:%M").ok()?;
            use chrono::TimeZone;
            Some(ZONE.from_local_datetime(&wall).single().map_or_else(
                || {
                    ZONE.from_local_datetime(&wall)
                        .earliest()
                        .into_iter()
                        .chain(ZONE.from_local_datetime(&wall).latest())
                        .map(|t| t.timestamp())
                        .collect()
                },
                |t| vec![t.timestamp()],
            ))
        };
        let mut checked = 0;
        for k in 1..c.jql.len() {
            let (Some(now), Some(newest)) = (readings(&c.jql[k]), c.newest_served[k - 1]) else { continue };
            if readings(&c.jql[k - 1]) == Some(now.clone()) {
                continue; // paging on within one minute
            }
            assert!(now.iter().all(|&r| r <= newest), "{flavor:?}: {} read as {now:?}, after {newest}", c.jql[k]);
            use chrono::TimeZone;
            let wall_of_newest = ZONE.timestamp_opt(newest, 0).unwrap().naive_local();
            let twice = ZONE.from_local_datetime(&wall_of_newest).single().is_none();
            let slack = if twice { 3600 + 60 } else { 60 };
            assert!(
                now.iter().all(|&r| r > newest - slack),
                "{flavor:?}: {} read as {now:?}, long before {newest}",
                c.jql[k]
            );
            checked += 1;
        }
        assert!(checked > 15, "{checked} page starts checked");

        // A fixed offset is right for half the year only: UTC-4 (summer time) in November skips.
        let mut fixed = cfg.clone();
        fixed.time_zone = Some(JiraZone::Offset(-240));
        let mut src_fixed = source(fixed, clock());
        let mut store_fixed = open_store(tmp.path(), "fixed.db");
        sync(&mut src_fixed, &mut store_fixed, T0 + 200 * 86_400).await;
        let (fixed_items, _) = dump(&store_fixed);
        assert!(fixed_items.len() < total, "{flavor:?}: the stand-in reads JQL in New York time, as Jira does");

        // A poll sees an issue updated a minute after the newest, in summer time.
        let newest = scenario.issues.iter().map(|i| i.updated).max().unwrap();
        standin.edit(|s| {
            let i = &mut s.issues[3];
            i.comments.push(siloscope_testkit::jira::JiraComment {
                id: 777_777,
                at: newest + 60,
                author: "cy".into(),
                body: "ping @sim-org/payments".into(),
            });
            i.updated = newest + 60;
        });
        sync(&mut src, &mut store, T0 + 200 * 86_400).await;
        let (_, events) = dump(&store);
        let ping = events.iter().find(|e| e.id.ends_with("/c777777")).expect("the new comment was read");
        assert_eq!(ping.kind, EventKind::Commented { mentions: vec!["sim-org/payments".into()] });
    }
}

#[tokio::test]
async fn a_link_removed_in_the_changelog_no_longer_counts() {
    let mut s =
        JiraScenario { statuses: vec![Status::new("1", "To Do", StatusCategory::ToDo)], ..JiraScenario::default() };
    let t = T0 + 86_400;
    let mut decision = JiraIssue::new("PAY", 1, t, "amy", "To Do");
    decision.issue_type = "Decision".into();
    let mut a = JiraIssue::new("PAY", 2, t, "bo", "To Do");
    // Made by mistake, removed an hour later.
    a.change(601, t + 600, "bo", vec![ChangeItem::link_added("supersedes", "PAY-1")]);
    a.change(602, t + 4200, "bo", vec![ChangeItem::link_removed("supersedes", "PAY-1")]);
    let mut b = JiraIssue::new("PAY", 3, t, "cy", "To Do");
    // Removed, then made again: the second one counts.
    b.change(611, t + 600, "cy", vec![ChangeItem::link_added("blocks", "PAY-1")]);
    b.change(612, t + 1200, "cy", vec![ChangeItem::link_removed("blocks", "PAY-1")]);
    b.change(613, t + 1800, "cy", vec![ChangeItem::link_added("blocks", "PAY-1")]);
    let mut c = JiraIssue::new("PAY", 4, t, "dee", "To Do");
    c.change(621, t + 600, "dee", vec![ChangeItem::link_added("duplicates", "PAY-1")]);
    let mut d = JiraIssue::new("PAY", 5, t, "eli", "To Do");
    // Marked superseded and unmarked in the same history as another field change.
    d.change(631, t + 600, "eli", vec![ChangeItem::link_added("is superseded by", "PAY-2")]);
    d.change(
        632,
        t + 900,
        "eli",
        vec![ChangeItem::link_removed("is superseded by", "PAY-2"), ChangeItem::status(&s.statuses, "To Do", "To Do")],
    );
    s.issues = vec![decision, a, b, c, d];
    for flavor in [Flavor::Cloud, Flavor::DataCenter] {
        let standin = start(s.clone(), flavor).await;
        let (_, events) = read_all(&standin, flavor, 50, "links.db").await;
        let links: Vec<(String, String, EventKind)> = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Linked { .. }))
            .map(|e| (e.id.clone(), e.item.clone(), e.kind.clone()))
            .collect();
        let linked = |relation, target: &str| EventKind::Linked { relation, target: target.into() };
        assert_eq!(
            links,
            vec![
                ("jira:PAY#3/h613/0".into(), "jira:PAY#3".into(), linked(LinkRelation::Blocks, "jira:PAY#1")),
                ("jira:PAY#4/h621/0".into(), "jira:PAY#4".into(), linked(LinkRelation::Duplicates, "jira:PAY#1")),
            ],
            "{flavor:?}"
        );
    }
}

#[tokio::test]
async fn the_cloud_source_searches_through_search_jql_never_the_retired_search() {
    let (items, events, _) = simulated(20, 15.0, 9);
    let standin = start(JiraScenario::from_model(&items, &events), Flavor::Cloud).await;
    let (got, _) = read_all(&standin, Flavor::Cloud, 10, "cloud.db").await;
    assert!(got.len() > 10, "{} issues read", got.len());
    let c = standin.counters();
    // The retired /rest/api/3/search answers 410 (as Jira Cloud does since 2025): a source
    // calling it would fail the sync above; it must not even try.
    assert_eq!(c.retired_searches, 0);
    assert!(c.searches >= 2 && c.jql.iter().all(|q| q.contains("ORDER BY updated ASC")), "{c:?}");
}
