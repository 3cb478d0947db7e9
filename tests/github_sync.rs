//! The GitHub source against the stand-in: complete timelines, faults, malformed items,
//! incremental polls, renames and transfers, nested paging, teams and decision records,
//! GitHub App tokens, REST pagination and ETags.

mod github_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use github_common::*;
use siloscope::model::{Event, EventKind, ItemKind, ItemState, Reviewer, Ts};
use siloscope::sources::Source;
use siloscope::sources::github::parse;
use siloscope::sources::github::{GithubAuth, auth::AppAuth};
use siloscope::sources::http::{ApiClient, Budget, HttpRequest, ManualClock, Method, NetworkTransport, Secret};
use siloscope::store::sqlite::SqliteStore;
use siloscope_testkit::github::{
    Actor, Fault, FileCommit, GithubStandIn, Node, NodeKind, Repo, ReviewComment, Scenario, ScenarioItem,
};

fn gh_identity(id: &str) -> String {
    match id.split_once(':') {
        Some(("email", _)) => id.to_string(),
        Some((_, login)) => format!("github:{}", login.to_ascii_lowercase()),
        None => id.to_string(),
    }
}

fn gh_key(key: &str) -> String {
    format!("github:{}", key.split_once(':').map_or(key, |(_, k)| k))
}

type Row = (String, Ts, Option<String>, String);

fn row(e: &Event) -> Row {
    (e.item.clone(), e.at, e.actor.clone(), serde_json::to_string(&e.kind).unwrap())
}

/// What the source must read back for a simulated event (issues and pull requests).
fn expected_rows(e: &Event) -> Vec<Row> {
    let mut kind = e.kind.clone();
    let mut extra = Vec::new();
    match &mut kind {
        EventKind::Assigned { assignee } | EventKind::Unassigned { assignee } => *assignee = gh_identity(assignee),
        EventKind::ReviewRequested { reviewer: Reviewer::Person(p) }
        | EventKind::ReviewRequestRemoved { reviewer: Reviewer::Person(p) } => *p = gh_identity(p),
        EventKind::Committed { co_authors } => co_authors.iter_mut().for_each(|c| *c = gh_identity(c)),
        EventKind::Linked { target, .. } => {
            *target = gh_key(target);
            // Written as a comment on GitHub: a comment and the link it makes.
            extra.push(EventKind::Commented { mentions: vec![] });
        }
        EventKind::Reverted { by: Some(by) } => *by = gh_key(by),
        _ => {}
    }
    let actor = e.actor.as_deref().map(gh_identity);
    std::iter::once(kind)
        .chain(extra)
        .map(|k| (gh_key(&e.item), e.at, actor.clone(), serde_json::to_string(&k).unwrap()))
        .collect()
}

#[tokio::test]
async fn a_simulated_org_reads_back_event_for_event() {
    let (items, events, dir) = simulated(30, 20.0, 7);
    let scenario = Scenario::from_model(&items, &events, Some(&dir));
    let standin = GithubStandIn::start(scenario, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    let mut store = open_store(tmp.path(), "a.db");
    sync(&mut src, &mut store, T0 + 40 * 86_400).await;
    let (got_items, got_events) = dump(&store);

    let wanted: Vec<_> = items.iter().filter(|i| matches!(i.kind, ItemKind::Issue | ItemKind::PullRequest)).collect();
    assert!(wanted.len() > 400, "a sizeable org: {}", wanted.len());
    type ItemRow = (String, ItemKind, String, String, Option<String>, Ts, ItemState);
    let expect_items: BTreeSet<ItemRow> = wanted
        .iter()
        .map(|i| {
            (
                gh_key(&i.key),
                i.kind,
                i.scope.clone(),
                i.title.clone(),
                i.author.as_deref().map(gh_identity),
                i.created_at,
                i.state,
            )
        })
        .collect();
    let got: BTreeSet<_> = got_items
        .iter()
        .map(|i| (i.key.clone(), i.kind, i.scope.clone(), i.title.clone(), i.author.clone(), i.created_at, i.state))
        .collect();
    assert_eq!(got, expect_items);

    let keys: BTreeSet<&str> = wanted.iter().map(|i| i.key.as_str()).collect();
    let mut expect: Vec<Row> =
        events.iter().filter(|e| keys.contains(e.item.as_str())).flat_map(expected_rows).collect();
    let mut rows: Vec<Row> = got_events.iter().map(row).collect();
    expect.sort();
    rows.sort();
    assert_eq!(rows.len(), expect.len());
    assert!(rows == expect, "first difference: {:?}", rows.iter().zip(&expect).find(|(a, b)| a != b));
    // Every kind the simulator makes came through, team review requests and reverts included.
    let kinds: BTreeSet<&str> = got_events.iter().map(|e| e.kind.name()).collect();
    for k in [
        "opened",
        "labeled",
        "assigned",
        "review_requested",
        "reviewed",
        "commented",
        "committed",
        "closed",
        "reopened",
        "merged",
        "reverted",
        "converted_to_draft",
        "ready_for_review",
    ] {
        assert!(kinds.contains(k), "no {k} event read back");
    }
    assert!(got_events.iter().any(
        |e| matches!(&e.kind, EventKind::ReviewRequested { reviewer: Reviewer::Team(t) } if t.starts_with("sim-org/"))
    ));
    assert!(got_events.iter().any(|e| matches!(&e.kind, EventKind::Commented { mentions } if !mentions.is_empty())));
    assert!(
        got_events.iter().any(|e| matches!(&e.kind, EventKind::Committed { co_authors } if !co_authors.is_empty()))
    );
    // Timeline events keep their GitHub node ids.
    let sim_ids: BTreeSet<String> =
        events.iter().filter(|e| keys.contains(e.item.as_str())).map(|e| format!("github:{}", e.id)).collect();
    let labeled = got_events.iter().filter(|e| e.kind.name() == "labeled").count();
    assert!(labeled > 0 && got_events.iter().filter(|e| e.kind.name() == "labeled").all(|e| sim_ids.contains(&e.id)));
}

#[tokio::test]
async fn every_fault_during_a_backfill_leaves_the_store_as_a_fault_free_run_would() {
    let (items, events, dir) = simulated(20, 15.0, 11);
    let standin = GithubStandIn::start(Scenario::from_model(&items, &events, Some(&dir)), &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), TOKEN);

    let faults = [
        Fault::ChangingPage,
        Fault::ServerError,
        Fault::Delay(Duration::from_secs(3)),
        Fault::SecondaryLimit,
        Fault::RetryAfter(5),
        Fault::TruncatedJson,
    ];
    for (i, f) in faults.iter().enumerate() {
        standin.inject_at(2 + i as u64, f.clone());
    }
    let faulty_clock = clock();
    let mut faulty = source(config(&standin, token.clone()), faulty_clock.clone());
    let mut faulty_store = open_store(tmp.path(), "faulty.db");
    sync(&mut faulty, &mut faulty_store, T0 + 30 * 86_400).await;
    assert_eq!(standin.counters().faults_served, faults.len() as u64, "every fault was served");
    let waits: Vec<u64> = faulty_clock.sleeps().iter().map(Duration::as_secs).collect();
    assert!(waits.iter().filter(|&&w| w >= 60).count() >= 2, "secondary limits waited ≥ 60 s: {waits:?}");

    // The fault-free run reads the scenario as it ended (one item changed during the faulty run).
    let mut clean = source(config(&standin, token), clock());
    let mut clean_store = open_store(tmp.path(), "clean.db");
    sync(&mut clean, &mut clean_store, T0 + 30 * 86_400).await;
    let (a_items, a_events) = dump(&faulty_store);
    let (b_items, b_events) = dump(&clean_store);
    assert!(b_items.len() > 200 && b_events.len() > 1500, "{} items, {} events", b_items.len(), b_events.len());
    assert_eq!(a_items, b_items);
    assert_eq!(a_events, b_events);
    assert!(b_events.iter().any(|e| e.id.contains("/changed-")), "the change made during the faulty run is in both");
}

#[tokio::test]
async fn a_malformed_item_is_logged_with_its_url_counted_and_skipped() {
    let (items, events, dir) = simulated(10, 10.0, 3);
    let mut scenario = Scenario::from_model(&items, &events, Some(&dir));
    scenario.items[5].malformed = true;
    let bad_url = format!(
        "https://github.com/{}/{}/{}",
        scenario.repos[scenario.items[5].repo].name,
        if scenario.items[5].pull { "pull" } else { "issues" },
        scenario.items[5].number
    );
    let total = scenario.items.len();
    let standin = GithubStandIn::start(scenario, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let telemetry = std::sync::Arc::new(siloscope::sources::telemetry::SourceTelemetry::default());
    let mut exporter = siloscope::exporter::Exporter::new();
    exporter.register(|r| telemetry.register(r));
    telemetry.register_source("gh");
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    src.attach_health(telemetry.clone());
    let mut store = open_store(tmp.path(), "m.db");
    let (logs, guard) = capture_logs();
    sync(&mut src, &mut store, T0 + 20 * 86_400).await;
    drop(guard);
    let (got, _) = dump(&store);
    assert_eq!(got.len(), total - 1, "all but the malformed item are stored");
    let log = logs.text();
    let line = log.lines().find(|l| l.contains("malformed")).unwrap_or_else(|| panic!("no log line:\n{log}"));
    assert!(line.contains(&bad_url) && line.contains("createdAt"), "{line}");
    // The stand-in's answer check caught the broken date it was told to serve (and only that).
    assert!(standin.counters().deliberate_violations >= 1);
    let metrics = exporter.render();
    assert!(
        metrics.lines().any(|l| l.starts_with("siloscope_source_errors_total")
            && l.contains("kind=\"malformed\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );
}

/// Appends a timeline node and moves `updatedAt`.
fn touch(s: &mut Scenario, i: usize, at: Ts, kind: NodeKind) {
    let item = &mut s.items[i];
    let n = item.timeline.len();
    item.timeline.push(Node { id: format!("{}/late-{n}", item.id), at, actor: Some(Actor::user("zoe")), kind });
    item.updated_at = at;
}

#[tokio::test]
async fn an_idle_poll_is_one_request_and_every_later_change_is_read() {
    let (items, events, dir) = simulated(15, 12.0, 5);
    let standin = GithubStandIn::start(Scenario::from_model(&items, &events, Some(&dir)), &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    let mut store = open_store(tmp.path(), "i.db");
    sync(&mut src, &mut store, T0 + 20 * 86_400).await;

    standin.reset_counters();
    let steps = sync(&mut src, &mut store, T0 + 20 * 86_400).await;
    let idle = standin.counters();
    assert_eq!((steps, idle.requests, idle.graphql_points), (1, 1, 1), "an idle poll is one request and one point");

    // Meanwhile on GitHub: a close, a reopen, a title edit, a transfer, a review, a rename.
    let s = standin.scenario();
    let latest = s.items.iter().map(|i| i.updated_at).max().unwrap();
    let open_issue = s
        .items
        .iter()
        .position(|i| !i.pull && i.timeline.iter().all(|n| !matches!(n.kind, NodeKind::Closed(_))))
        .unwrap();
    let closed_issue = s
        .items
        .iter()
        .position(|i| {
            !i.pull
                && i.timeline.iter().any(|n| matches!(n.kind, NodeKind::Closed(_)))
                && i.timeline.iter().all(|n| n.kind != NodeKind::Reopened)
        })
        .unwrap();
    let edited = s
        .items
        .iter()
        .position(|i| !i.pull && i.number != s.items[open_issue].number && i.number != s.items[closed_issue].number)
        .unwrap();
    let moved = (0..s.items.len())
        .rev()
        .find(|&i| !s.items[i].pull && ![open_issue, closed_issue, edited].contains(&i))
        .unwrap();
    let pr = s.items.iter().position(|i| i.pull).unwrap();
    let renamed_repo = s.items[pr].repo;
    let old_repo_name = s.repos[renamed_repo].name.clone();
    let target_repo = (0..s.repos.len()).find(|&r| r != s.items[moved].repo && r != renamed_repo).unwrap();
    let (from_name, to_name) = (s.repos[s.items[moved].repo].name.clone(), s.repos[target_repo].name.clone());
    standin.edit(|s| {
        touch(s, open_issue, latest + 100, NodeKind::Closed(Some("NOT_PLANNED".into())));
        touch(s, closed_issue, latest + 200, NodeKind::Reopened);
        s.items[edited].title = "A clearer title".into();
        s.items[edited].updated_at = latest + 300;
        let it = &mut s.items[moved];
        it.repo = target_repo;
        it.number += 50_000;
        touch(s, moved, latest + 400, NodeKind::Transferred(from_name.clone()));
        s.repos[renamed_repo].name = "sim-org/renamed".into();
        touch(s, pr, latest + 500, NodeKind::Review { state: "APPROVED".into(), comments: vec![] });
    });
    standin.reset_counters();
    sync(&mut src, &mut store, T0 + 20 * 86_400).await;
    assert!(standin.counters().requests <= 2, "one search page (and no more): {:?}", standin.counters());
    let (items, events) = dump(&store);
    let item = |key: &str| items.iter().find(|i| i.key == key).unwrap_or_else(|| panic!("no item {key}"));
    let key = |i: usize| {
        let s = standin.scenario();
        parse::item_key(&s.repos[s.items[i].repo].name, s.items[i].number)
    };
    let has = |k: &str, f: &dyn Fn(&EventKind) -> bool| events.iter().any(|e| e.item == k && f(&e.kind));
    assert_eq!(item(&key(open_issue)).state, ItemState::Closed);
    assert!(has(&key(open_issue), &|k| *k == EventKind::Closed { completed: false }));
    assert_eq!(item(&key(closed_issue)).state, ItemState::Open);
    assert!(has(&key(closed_issue), &|k| *k == EventKind::Reopened));
    assert_eq!(item(&key(edited)).title, "A clearer title");
    let moved_key = key(moved);
    assert!(moved_key.contains(&to_name));
    assert!(has(&moved_key, &|k| *k == EventKind::Moved { from_scope: from_name.clone(), to_scope: to_name.clone() }));
    // The renamed repository's items keep their keys; their scope is the new name.
    let pr_key = parse::item_key(&old_repo_name, standin.scenario().items[pr].number);
    assert_eq!(item(&pr_key).scope, "sim-org/renamed");
    assert!(has(&pr_key, &|k| matches!(k, EventKind::Reviewed { .. })));
    assert!(!items.iter().any(|i| i.key.starts_with("github:sim-org/renamed#")));
}

fn actor(login: &str) -> Option<Actor> {
    Some(Actor::user(login))
}

fn hand_item(id: &str, repo: usize, number: u64, pull: bool, at: Ts) -> ScenarioItem {
    ScenarioItem {
        id: id.into(),
        repo,
        number,
        pull,
        title: format!("item {number}"),
        body: String::new(),
        author: actor("amy"),
        created_at: at,
        updated_at: at,
        opened_as_draft: false,
        merged_by: None,
        timeline: Vec::new(),
        malformed: false,
    }
}

fn repo(name: &str, pushed: Ts) -> Repo {
    Repo { id: format!("R_{name}"), name: name.into(), pushed_at: pushed, archived: false, files: BTreeMap::new() }
}

#[tokio::test]
async fn nested_lists_are_read_to_the_end() {
    let mut s = Scenario { repos: vec![repo("acme/api", T0)], ..Scenario::default() };
    for n in 0..120 {
        s.items.push(hand_item(&format!("I_{n}"), 0, n + 1, false, T0 + n as Ts));
    }
    let mut pr = hand_item("PR_big", 0, 500, true, T0 + 1000);
    for k in 0..250 {
        let kind =
            if k % 2 == 0 { NodeKind::Labeled(format!("l{k}")) } else { NodeKind::Unlabeled(format!("l{}", k - 1)) };
        pr.timeline.push(Node { id: format!("L{k}"), at: T0 + 2000 + k, actor: actor("amy"), kind });
    }
    // 12 reviews (more than a page of 10), the first with 150 comments (more than a page of 100).
    for r in 0..12 {
        let count = if r == 0 {
            150
        } else if r == 11 {
            3
        } else {
            0
        };
        let comments = (0..count)
            .map(|c| ReviewComment {
                id: format!("RC{r}_{c}"),
                at: T0 + 3000 + c,
                author: actor("bo"),
                body: format!("nit {c}"),
            })
            .collect();
        pr.timeline.push(Node {
            id: format!("REV{r}"),
            at: T0 + 3100 + r,
            actor: actor("bo"),
            kind: NodeKind::Review { state: "COMMENTED".into(), comments },
        });
    }
    pr.updated_at = T0 + 3200;
    s.items.push(pr);
    let standin = GithubStandIn::start(s, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    let mut store = open_store(tmp.path(), "n.db");
    // Organisation `acme`.
    let mut cfg = config(&standin, write_token(tmp.path(), TOKEN));
    cfg.organizations = vec!["acme".into()];
    src = GithubSourceExt::replace(src, cfg);
    sync(&mut src, &mut store, T0 + 86_400).await;
    let (items, events) = dump(&store);
    assert_eq!(items.len(), 121);
    let of_pr: Vec<&Event> = events.iter().filter(|e| e.item == "github:acme/api#500").collect();
    assert_eq!(
        of_pr.iter().filter(|e| matches!(e.kind, EventKind::Labeled { .. } | EventKind::Unlabeled { .. })).count(),
        250
    );
    assert_eq!(of_pr.iter().filter(|e| matches!(e.kind, EventKind::Reviewed { .. })).count(), 12);
    assert_eq!(of_pr.iter().filter(|e| matches!(e.kind, EventKind::Commented { .. })).count(), 153);
    let ops = standin.counters().operations;
    // 121 items: 2 listing pages (100, 21) and 3 batches read by id (50, 50, 21), the second
    // batch riding with the second listing page: 4 sync requests. Then the 262 timeline items,
    // 12 reviews and 150 comments of the big pull request: one follow-up for the second pages of
    // all three, one for the timeline's third page.
    assert_eq!(ops.get("SyncPage"), Some(&4), "{ops:?}");
    assert_eq!(ops.get("More"), Some(&2), "{ops:?}");
}

/// `acme/api` with `n` issues created a minute apart from T0, updated when `updated(i)` says.
fn many_issues(n: usize, updated: impl Fn(usize) -> Ts) -> Scenario {
    let mut s = Scenario { repos: vec![repo("acme/api", T0)], ..Scenario::default() };
    for i in 0..n {
        let mut it = hand_item(&format!("I_{i}"), 0, i as u64 + 1, false, T0 + 60 * i as Ts);
        it.updated_at = updated(i);
        it.timeline.push(Node {
            id: format!("L_{i}"),
            at: it.updated_at,
            actor: actor("triage-bot"),
            kind: NodeKind::Labeled("triaged".into()),
        });
        s.items.push(it);
    }
    s
}

/// Syncs organisation `acme` of `scenario` once; returns the stand-in, the store and its dir.
async fn sync_acme(scenario: Scenario, now: Ts) -> (GithubStandIn, SqliteStore, tempfile::TempDir) {
    let standin = GithubStandIn::start(scenario, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&standin, write_token(tmp.path(), TOKEN));
    cfg.organizations = vec!["acme".into()];
    let mut src = source(cfg, clock());
    let mut store = open_store(tmp.path(), "s.db");
    sync(&mut src, &mut store, now).await;
    (standin, store, tmp)
}

#[tokio::test]
async fn a_backfill_beyond_githubs_1000_result_search_cap_reads_everything() {
    // GitHub lists at most 1000 results of one search; 1,250 items, updated a minute apart.
    let scenario = many_issues(1250, |i| T0 + 100_000 + 60 * i as Ts);
    let (standin, store, _tmp) = sync_acme(scenario, T0 + 30 * 86_400).await;
    let (items, events) = dump(&store);
    assert_eq!((items.len(), events.iter().filter(|e| e.kind.name() == "labeled").count()), (1250, 1250));
    // Each listing page starts a new query at the keyset: no query pages past its first 100.
    assert!(standin.counters().operations["SyncPage"] <= 1250 / 50 + 2, "{:?}", standin.counters().operations);
}

#[tokio::test]
async fn a_bulk_edit_of_more_than_1000_items_in_one_second_is_read_whole() {
    // A bot labels 1,150 issues within the same second (a bulk edit, a migration): the
    // `updatedAt` keyset cannot step over that second, and one query over it is capped at 1000.
    let bulk = T0 + 200_000;
    let scenario = many_issues(1300, |i| if i < 1150 { bulk } else { bulk + 60 * i as Ts });
    let (_standin, store, _tmp) = sync_acme(scenario, T0 + 30 * 86_400).await;
    let (items, events) = dump(&store);
    assert_eq!((items.len(), events.iter().filter(|e| e.kind.name() == "labeled").count()), (1300, 1300));
}

#[tokio::test]
async fn more_than_1000_items_updated_just_now_are_read_in_one_pass() {
    // 1,100 items updated in the last minutes, a second apart: too recent for the keyset (the
    // index may still list them at their old places), listed by creation instead.
    let now = T0 + 30 * 86_400;
    let scenario = many_issues(1150, |i| if i < 1100 { now - 1100 / 5 + i as Ts / 5 } else { T0 + 60 * i as Ts + 5 });
    let (_standin, store, _tmp) = sync_acme(scenario, now).await;
    let (items, _) = dump(&store);
    assert_eq!(items.len(), 1150);
}

#[tokio::test]
async fn an_item_edited_during_a_backfill_sits_at_its_old_place_in_search_and_nothing_is_skipped() {
    // History a month old; as the backfill starts someone comments on the oldest item. The search
    // index lags: search still finds and sorts the item by its old `updatedAt`, on the first
    // listing page, while the item answers with its new one (just now).
    let (items, events, dir) = simulated(20, 15.0, 13);
    let scenario = Scenario::from_model(&items, &events, Some(&dir));
    let latest = scenario.items.iter().map(|i| i.updated_at).max().unwrap();
    let now = latest + 30 * 86_400;
    let total = scenario.items.len();
    let standin = GithubStandIn::start(scenario, &[TOKEN]).await.unwrap();
    standin.set_index_lag(10_000);
    let oldest = {
        let s = standin.scenario();
        (0..s.items.len()).min_by_key(|&i| (s.items[i].updated_at, s.items[i].id.clone())).unwrap()
    };
    standin.edit(|s| touch(s, oldest, now - 30, NodeKind::Comment("Still happening on 2.3".into())));
    let tmp = tempfile::tempdir().unwrap();
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    let mut store = open_store(tmp.path(), "lag.db");
    sync(&mut src, &mut store, now).await;
    let (got, events) = dump(&store);
    assert_eq!(got.len(), total, "every item of the history is read");
    let key = {
        let s = standin.scenario();
        parse::item_key(&s.repos[s.items[oldest].repo].name, s.items[oldest].number)
    };
    assert!(events.iter().any(|e| e.item == key && e.at == now - 30), "the edited item is read as it is now");
}

#[tokio::test]
async fn a_change_the_search_index_shows_late_is_read_by_a_later_poll() {
    let (items, events, dir) = simulated(10, 10.0, 17);
    let standin = GithubStandIn::start(Scenario::from_model(&items, &events, Some(&dir)), &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    let mut store = open_store(tmp.path(), "late.db");
    let latest = standin.scenario().items.iter().map(|i| i.updated_at).max().unwrap();
    let t1 = latest + 3600;
    sync(&mut src, &mut store, t1).await;

    // After that poll: a comment on A that the index shows only after one more search, then a
    // comment on B and a new issue C that it shows at once.
    let (a, b) = (1, 2);
    standin.set_index_lag(1);
    standin.edit(|s| touch(s, a, t1 + 10, NodeKind::Comment("Any update?".into())));
    standin.set_index_lag(0);
    standin.edit(|s| {
        touch(s, b, t1 + 20, NodeKind::Comment("Fixed on main".into()));
        let mut c = hand_item("I_new", s.items[b].repo, 90_000, false, t1 + 25);
        c.timeline.push(Node {
            id: "L_new".into(),
            at: t1 + 25,
            actor: actor("amy"),
            kind: NodeKind::Labeled("bug".into()),
        });
        c.updated_at = t1 + 25;
        s.items.push(c);
    });
    let key = |i: usize| {
        let s = standin.scenario();
        parse::item_key(&s.repos[s.items[i].repo].name, s.items[i].number)
    };
    let commented =
        |store: &SqliteStore, i: usize, at: Ts| dump(store).1.iter().any(|e| e.item == key(i) && e.at == at);
    sync(&mut src, &mut store, t1 + 60).await;
    assert!(commented(&store, b, t1 + 20) && !commented(&store, a, t1 + 10), "B and C are read, A is not visible yet");
    assert!(dump(&store).0.iter().any(|i| i.key.ends_with("#90000")));
    // The next poll starts OVERLAP before the latest change it read, and finds A.
    sync(&mut src, &mut store, t1 + 360).await;
    assert!(commented(&store, a, t1 + 10), "A is read once search shows it");
}

/// Rebuilds a source with another config (same clock).
trait GithubSourceExt {
    fn replace(self, cfg: siloscope::sources::github::GithubConfig) -> Self;
}

impl GithubSourceExt for siloscope::sources::github::GithubSource {
    fn replace(self, cfg: siloscope::sources::github::GithubConfig) -> Self {
        source(cfg, clock())
    }
}

#[tokio::test]
async fn teams_codeowners_and_decision_records() {
    let (items, events, dir) = simulated(5, 6.0, 9);
    let mut s = Scenario::from_model(&items, &events, Some(&dir));
    let commit = |oid: &str, at: Ts, login: &str, status: &str| FileCommit {
        oid: oid.into(),
        at,
        author: actor(login),
        email: format!("{login}@acme.io"),
        text: format!("# Use Kafka for events\n\nStatus: {status}\n\nWe will…"),
    };
    let r0 = s.repos[0].name.clone();
    s.repos[0].files.insert(
        "docs/adr/0001-use-kafka.md".into(),
        vec![
            commit("c1", T0 + 100, "amy", "Proposed"),
            commit("c2", T0 + 200, "bo", "Accepted"),
            commit("c3", T0 + 300, "amy", "Accepted"),
            commit("c4", T0 + 400, "cy", "Superseded"),
        ],
    );
    s.repos[0].files.insert("docs/adr/README.txt".into(), vec![commit("c0", T0, "amy", "n/a")]);
    s.repos[0].files.insert(".github/CODEOWNERS".into(), vec![commit("c5", T0, "amy", "x")]);
    s.repos[0].files.get_mut(".github/CODEOWNERS").unwrap()[0].text =
        "* @sim-org/growth\n/docs/ @sim-org/payments\n".into();
    let standin = GithubStandIn::start(s.clone(), &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&standin, write_token(tmp.path(), TOKEN));
    cfg.teams_from_github = true;
    cfg.codeowners = true;
    cfg.record_paths = vec!["docs/adr/*.md".into()];
    let mut src = source(cfg, clock());
    let mut store = open_store(tmp.path(), "t.db");
    sync(&mut src, &mut store, T0 + 10 * 86_400).await;

    let snaps = siloscope::store::Store::directory_snapshots(&store).unwrap();
    let snap = &snaps.iter().find(|(s, _)| s == "gh").expect("a directory snapshot").1;
    let handles: BTreeSet<String> = snap.teams.iter().flat_map(|t| t.handles.clone()).collect();
    let expected_handles: BTreeSet<String> =
        s.teams.iter().map(|t| format!("{}/{}", t.org, t.slug)).chain(["sim-org/growth".to_string()]).collect();
    assert_eq!(handles, expected_handles);
    let members: usize = s.teams.iter().map(|t| t.members.len()).sum();
    assert_eq!(snap.people.iter().map(|p| p.memberships.len()).sum::<usize>(), members);
    assert!(snap.people.iter().all(|p| p.identities.len() == 1 && p.identities[0].starts_with("github:")));
    // CODEOWNERS' catch-all team owns repository 0; the others go to their one admin team.
    let owners: BTreeMap<&str, &str> = snap.scope_owners.iter().map(|(r, t)| (r.as_str(), t.as_str())).collect();
    assert_eq!(owners.get(r0.as_str()), Some(&"growth"));
    for t in &s.teams {
        for (repo, _) in &t.repos {
            if repo != &r0 {
                assert_eq!(owners.get(repo.as_str()), Some(&t.slug.as_str()), "{repo}");
            }
        }
    }

    let (items, events) = dump(&store);
    let key = format!("github:{r0}#docs/adr/0001-use-kafka.md");
    let record = items.iter().find(|i| i.key == key).expect("the decision record");
    assert_eq!(
        (record.kind, record.title.as_str(), record.author.as_deref()),
        (ItemKind::DecisionRecord, "Use Kafka for events", Some("github:amy"))
    );
    let statuses: Vec<(Ts, Option<String>, String)> = events
        .iter()
        .filter(|e| e.item == key)
        .filter_map(|e| match &e.kind {
            EventKind::StatusChanged { to, from, .. } => Some((e.at - T0, from.clone(), to.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (100, None, "Proposed".into()),
            (200, Some("Proposed".into()), "Accepted".into()),
            (400, Some("Accepted".into()), "Superseded".into())
        ]
    );
    assert!(!items.iter().any(|i| i.key.ends_with("README.txt")), "only files matching the record patterns");

    // Nothing pushed since: the next poll reads no files and no teams again.
    standin.reset_counters();
    sync(&mut src, &mut store, T0 + 10 * 86_400 + 3600).await;
    assert_eq!(standin.counters().requests, 1);
}

#[tokio::test]
async fn github_app_installation_tokens_are_renewed_before_they_expire() {
    let (items, events, dir) = simulated(3, 5.0, 2);
    let standin = GithubStandIn::start(Scenario::from_model(&items, &events, Some(&dir)), &[]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let key_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/sources/src/github/test_app_key.pem");
    let app = AppAuth::load(4242, &key_path, None, "gh").unwrap();
    // Tokens live 6 minutes: renewed once less than 5 are left.
    standin.set_app(4242, app.public_key_der(), 360);
    // The stand-in issues and checks tokens on the source's clock, a fixed time long past:
    // nothing depends on the wall clock or on how long the test takes.
    let clock = Arc::new(ManualClock::new((T0 + 86_400) as f64));
    standin.set_token_clock(clock.clone());
    let mut cfg = config(&standin, write_token(tmp.path(), "unused"));
    cfg.auth = GithubAuth::App { app_id: 4242, private_key_file: key_path, installation_id: None };
    let mut src = source(cfg, clock.clone());
    let mut store = open_store(tmp.path(), "app.db");
    sync(&mut src, &mut store, T0 + 86_400).await;
    assert_eq!(standin.counters().tokens_issued, 1);
    sync(&mut src, &mut store, T0 + 86_400).await;
    assert_eq!(standin.counters().tokens_issued, 1, "a fresh token is reused");
    clock.advance(10.0);
    sync(&mut src, &mut store, T0 + 86_400).await;
    assert_eq!(standin.counters().tokens_issued, 1, "5 min 50 s left: still reused");
    clock.advance(60.0);
    sync(&mut src, &mut store, T0 + 86_400).await;
    assert_eq!(standin.counters().tokens_issued, 2, "4 min 50 s left: renewed");
    assert!(!dump(&store).0.is_empty());
}

#[tokio::test]
async fn rest_endpoints_page_with_link_headers_and_answer_etags_with_304() {
    let (items, events, dir) = simulated(10, 12.0, 4);
    let s = Scenario::from_model(&items, &events, Some(&dir));
    let repo = s.repos[0].name.clone();
    let in_repo: Vec<&ScenarioItem> = s.items.iter().filter(|i| i.repo == 0).collect();
    let standin = GithubStandIn::start(s.clone(), &[TOKEN]).await.unwrap();
    let client = ApiClient::new(
        "rest",
        Arc::new(NetworkTransport::new(Duration::from_secs(2)).unwrap()),
        Arc::new(ManualClock::new(1e9)),
        settings(),
    );
    let get = |url: String| HttpRequest {
        method: Method::Get,
        url,
        headers: vec![],
        body: None,
        authorization: Some(Secret::new(TOKEN)),
    };
    // Follow `Link: rel="next"` to the end.
    let mut url =
        Some(format!("{}/repos/{repo}/issues?state=all&per_page=7&sort=updated&direction=asc", standin.url()));
    let mut pages = 0;
    let mut listed = Vec::new();
    while let Some(u) = url {
        let (resp, body) = client.send_json(&get(u), Budget::Rest, true).await.unwrap();
        pages += 1;
        listed.extend(body.as_array().unwrap().iter().map(|v| parse::rest_item(v, "rest").unwrap().0));
        url = resp.header("link").and_then(|l| {
            l.split(',')
                .find(|p| p.contains("rel=\"next\""))
                .map(|p| p.trim().trim_start_matches('<').split('>').next().unwrap().to_string())
        });
    }
    assert_eq!(pages, in_repo.len().div_ceil(7));
    let keys: BTreeSet<String> = listed.iter().map(|i| i.key.clone()).collect();
    let expected: BTreeSet<String> = in_repo.iter().map(|i| format!("github:{repo}#{}", i.number)).collect();
    assert_eq!(keys, expected);
    // The same list again (a later poll: a step of its own, where one step sending the same
    // request twice would be a loop): 304, served from the stored copy, no rate-limit point spent.
    client.begin_step();
    let first = format!("{}/repos/{repo}/issues?state=all&per_page=7&sort=updated&direction=asc", standin.url());
    let points = standin.counters().points;
    let (_, again) = client.send_json(&get(first), Budget::Rest, true).await.unwrap();
    assert_eq!(again.as_array().unwrap().len(), 7);
    assert_eq!((standin.counters().not_modified, standin.counters().points), (1, points));
    assert_eq!(client.stats().not_modified, 1);

    // Reviews, comments and commits over REST carry the GraphQL node ids.
    let pr = in_repo
        .iter()
        .find(|i| i.pull && i.timeline.iter().any(|n| matches!(n.kind, NodeKind::Review { .. })))
        .unwrap();
    let key = parse::item_key(&repo, pr.number);
    let (_, reviews) = client
        .send_json(&get(format!("{}/repos/{repo}/pulls/{}/reviews", standin.url(), pr.number)), Budget::Rest, true)
        .await
        .unwrap();
    let review_ids: Vec<String> = parse::rest_reviews(&reviews, &key).unwrap().into_iter().map(|e| e.id).collect();
    let expected_ids: Vec<String> = pr
        .timeline
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Review { .. }))
        .map(|n| format!("github:{}", n.id))
        .collect();
    assert_eq!(review_ids, expected_ids);
}
