//! The GitLab source against the stand-in: a simulated organisation reads back event for event;
//! every fault during a backfill leaves the store as a fault-free run would; a malformed item is
//! logged with its URL, counted and skipped; an idle poll costs one request per list and later
//! changes are read; group memberships become teams; the token never appears in any output.

#[path = "source_common/mod.rs"]
mod source_common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use siloscope::model::{DAY, Event, EventKind, Item, ItemKind, ItemState, ReviewState, Reviewer, Ts};
use siloscope::sources::Source;
use siloscope::sources::gitlab::{GitlabConfig, GitlabSource};
use siloscope::sources::http::ManualClock;
use siloscope::store::Store;
use siloscope_testkit::gitlab::{
    Fault, GitlabStandIn, Record, RecordKind, Scenario, ScenarioItem, StateEvents, group_handle,
};
use source_common::*;

const TOKEN: &str = "glpat-standinTOKEN0123456789";
const GROUP: &str = "sim-org";

fn config(standin: &GitlabStandIn, token_file: PathBuf) -> GitlabConfig {
    let mut cfg = GitlabConfig::for_groups(&[GROUP]);
    cfg.url = standin.url();
    cfg.token_env = None;
    cfg.token_file = Some(token_file);
    cfg
}

fn source(cfg: GitlabConfig, clock: Arc<ManualClock>) -> GitlabSource {
    GitlabSource::with_transport("gl", cfg, transport(), clock, settings())
}

fn gl_identity(id: &str) -> String {
    format!("gitlab:{}", id.split_once(':').map_or(id, |(_, l)| l).to_ascii_lowercase())
}

/// The GitLab key of a simulated item key `sim:sim-org/api#12`.
fn gl_key(key: &str, kind: ItemKind) -> String {
    let rest = key.split_once(':').unwrap().1;
    let (scope, n) = rest.rsplit_once('#').unwrap();
    let sep = if kind == ItemKind::Issue { '#' } else { '!' };
    format!("gitlab:{}{sep}{n}", group_handle(GROUP, scope))
}

type Row = (String, Ts, Option<String>, String);

/// What the source must read back for a simulated event (None: GitLab has no record of it).
fn expected_row(e: &Event, kind: ItemKind) -> Option<Row> {
    let mr = kind != ItemKind::Issue;
    let k = match &e.kind {
        EventKind::Opened => EventKind::Opened,
        EventKind::Assigned { assignee } => EventKind::Assigned { assignee: gl_identity(assignee) },
        EventKind::Unassigned { assignee } => EventKind::Unassigned { assignee: gl_identity(assignee) },
        EventKind::Labeled { label } => EventKind::Labeled { label: label.clone() },
        EventKind::Unlabeled { label } => EventKind::Unlabeled { label: label.clone() },
        EventKind::ReviewRequested { reviewer: Reviewer::Person(p) } if mr => {
            EventKind::ReviewRequested { reviewer: Reviewer::Person(gl_identity(p)) }
        }
        EventKind::ReviewRequestRemoved { reviewer: Reviewer::Person(p) } if mr => {
            EventKind::ReviewRequestRemoved { reviewer: Reviewer::Person(gl_identity(p)) }
        }
        EventKind::Reviewed { state: ReviewState::Approved } if mr => {
            EventKind::Reviewed { state: ReviewState::Approved }
        }
        EventKind::Commented { mentions } => EventKind::Commented {
            mentions: mentions.iter().map(|m| group_handle(GROUP, m).to_ascii_lowercase()).collect(),
        },
        // GitLab issues have no "not planned"; an MR closed unmerged is not completed.
        EventKind::Closed { .. } => EventKind::Closed { completed: !mr },
        EventKind::Reopened => EventKind::Reopened,
        EventKind::Merged if mr => EventKind::Merged,
        EventKind::ConvertedToDraft if mr => EventKind::ConvertedToDraft,
        EventKind::ReadyForReview if mr => EventKind::ReadyForReview,
        _ => return None,
    };
    Some((gl_key(&e.item, kind), e.at, e.actor.as_deref().map(gl_identity), serde_json::to_string(&k).unwrap()))
}

fn row(e: &Event) -> Row {
    (e.item.clone(), e.at, e.actor.clone(), serde_json::to_string(&e.kind).unwrap())
}

#[tokio::test]
async fn a_simulated_org_reads_back_event_for_event() {
    let (items, events, dir) = simulated(30, 20.0, 7);
    let standin =
        GitlabStandIn::start(Scenario::from_model(GROUP, &items, &events, Some(&dir)), &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    let mut store = open_store(tmp.path(), "a.db");
    sync(&mut src, &mut store, T0 + 40 * DAY).await;
    let (got_items, got_events) = dump(&store);

    let wanted: Vec<&Item> =
        items.iter().filter(|i| matches!(i.kind, ItemKind::Issue | ItemKind::PullRequest)).collect();
    assert!(wanted.len() > 400, "a sizeable org: {}", wanted.len());
    type ItemRow = (String, ItemKind, String, String, Option<String>, Ts, ItemState);
    let expect_items: BTreeSet<ItemRow> = wanted
        .iter()
        .map(|i| {
            let kind = if i.kind == ItemKind::Issue { ItemKind::Issue } else { ItemKind::MergeRequest };
            let key = gl_key(&i.key, i.kind);
            let scope = key.trim_start_matches("gitlab:").split(['#', '!']).next().unwrap().to_string();
            (key, kind, scope, i.title.clone(), i.author.as_deref().map(gl_identity), i.created_at, i.state)
        })
        .collect();
    let got: BTreeSet<ItemRow> = got_items
        .iter()
        .map(|i| (i.key.clone(), i.kind, i.scope.clone(), i.title.clone(), i.author.clone(), i.created_at, i.state))
        .collect();
    assert_eq!(got, expect_items);

    let kinds: std::collections::HashMap<&str, ItemKind> = wanted.iter().map(|i| (i.key.as_str(), i.kind)).collect();
    let mut expect: Vec<Row> =
        events.iter().filter_map(|e| kinds.get(e.item.as_str()).and_then(|k| expected_row(e, *k))).collect();
    let mut got: Vec<Row> = got_events.iter().map(row).collect();
    expect.sort();
    got.sort();
    assert!(expect.len() > 3000, "{} events", expect.len());
    assert_eq!(got.len(), expect.len());
    assert_eq!(got, expect);
    assert!(
        got_events.iter().any(|e| e.id.ends_with("/draft")),
        "merge requests opened as drafts (no note on GitLab) are drafts from their creation"
    );
    for kind in ["merged", "review_requested", "reviewed", "labeled", "assigned", "closed", "converted_to_draft"] {
        assert!(got_events.iter().any(|e| e.kind.name() == kind), "no {kind} event read");
    }
}

#[tokio::test]
async fn every_fault_during_a_backfill_leaves_the_store_as_a_fault_free_run_would() {
    let (items, events, dir) = simulated(20, 15.0, 11);
    let standin =
        GitlabStandIn::start(Scenario::from_model(GROUP, &items, &events, Some(&dir)), &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), TOKEN);
    let faults = [
        Fault::ChangingPage,
        Fault::ServerError,
        Fault::Delay(Duration::from_secs(3)),
        Fault::RetryAfter(5),
        Fault::TruncatedJson,
        Fault::RetryAfter(120),
    ];
    for (i, f) in faults.iter().enumerate() {
        standin.inject_at(2 + i as u64, f.clone());
    }
    let faulty_clock = clock();
    let mut faulty = source(config(&standin, token.clone()), faulty_clock.clone());
    let mut faulty_store = open_store(tmp.path(), "faulty.db");
    sync(&mut faulty, &mut faulty_store, T0 + 30 * DAY).await;
    assert_eq!(standin.counters().faults_served, faults.len() as u64, "every fault was served");
    let waits: Vec<u64> = faulty_clock.sleeps().iter().map(Duration::as_secs).collect();
    assert!(waits.contains(&60) && waits.contains(&120), "429s waited at least a minute, or Retry-After: {waits:?}");

    // The fault-free run reads the scenario as it ended (one item changed during the faulty run).
    let mut clean = source(config(&standin, token), clock());
    let mut clean_store = open_store(tmp.path(), "clean.db");
    sync(&mut clean, &mut clean_store, T0 + 30 * DAY).await;
    let (a_items, a_events) = dump(&faulty_store);
    let (b_items, b_events) = dump(&clean_store);
    assert!(b_items.len() > 200 && b_events.len() > 1500, "{} items, {} events", b_items.len(), b_events.len());
    assert_eq!(a_items, b_items);
    assert_eq!(a_events, b_events);
    let changed = b_events.iter().filter(|e| e.kind == EventKind::Commented { mentions: vec![] }).count();
    assert!(changed > 0);
    let latest_note = standin.scenario().items.iter().flat_map(|i| i.records.iter().map(|r| r.at)).max().unwrap();
    assert!(b_events.iter().any(|e| e.at == latest_note), "the change made during the faulty run is in both");
}

#[tokio::test]
async fn a_malformed_item_is_logged_with_its_url_counted_and_skipped() {
    let (items, events, dir) = simulated(10, 10.0, 3);
    let mut scenario = Scenario::from_model(GROUP, &items, &events, Some(&dir));
    scenario.items[5].malformed = true;
    let it = &scenario.items[5];
    let bad_url = format!(
        "https://gitlab.example.com/{}/-/{}/{}",
        scenario.projects[it.project].path,
        if it.merge_request { "merge_requests" } else { "issues" },
        it.iid
    );
    let total = scenario.items.len();
    let standin = GitlabStandIn::start(scenario, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let telemetry = std::sync::Arc::new(siloscope::sources::telemetry::SourceTelemetry::default());
    let mut exporter = siloscope::exporter::Exporter::new();
    exporter.register(|r| telemetry.register(r));
    telemetry.register_source("gl");
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    src.attach_health(telemetry.clone());
    let mut store = open_store(tmp.path(), "m.db");
    let (logs, guard) = capture_logs();
    sync(&mut src, &mut store, T0 + 20 * DAY).await;
    drop(guard);
    let (got, _) = dump(&store);
    assert_eq!(got.len(), total - 1, "all but the malformed item are stored");
    let log = logs.text();
    let line = log.lines().find(|l| l.contains("malformed")).unwrap_or_else(|| panic!("no log line:\n{log}"));
    assert!(line.contains(&bad_url) && line.contains("created_at"), "{line}");
    let metrics = exporter.render();
    assert!(
        metrics.lines().any(|l| l.starts_with("siloscope_source_errors_total")
            && l.contains("kind=\"malformed\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );
}

fn push(s: &mut Scenario, i: usize, at: Ts, kind: RecordKind) {
    let id = s.next_record_id();
    let item = &mut s.items[i];
    item.records.push(Record { id, at, actor: Some("Zoe".into()), kind });
    item.updated_at = at;
}

#[tokio::test]
async fn an_idle_poll_is_one_request_per_list_and_every_later_change_is_read() {
    let (items, events, dir) = simulated(15, 12.0, 5);
    let standin =
        GitlabStandIn::start(Scenario::from_model(GROUP, &items, &events, Some(&dir)), &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    let mut store = open_store(tmp.path(), "i.db");
    sync(&mut src, &mut store, T0 + 20 * DAY).await;

    standin.reset_counters();
    let steps = sync(&mut src, &mut store, T0 + 20 * DAY).await;
    assert_eq!((steps, standin.counters().requests), (2, 2), "an idle poll: issues and merge requests of the group");

    // Meanwhile on GitLab: an issue closed, an MR with a review request, an approval, a new
    // label, a system note for a reviewer removal, and a comment mentioning a subgroup.
    let s = standin.scenario();
    let latest = s.items.iter().map(|i| i.updated_at).max().unwrap();
    let issue = s.items.iter().position(|i| !i.merge_request && i.state_is_open()).unwrap();
    let mr = s.items.iter().position(|i| i.merge_request).unwrap();
    standin.edit(|s| {
        push(s, issue, latest + 100, RecordKind::State("closed".into()));
        push(s, issue, latest + 150, RecordKind::Label { name: "team::core".into(), add: true });
        let note = |body: &str, system| RecordKind::Note { body: body.into(), system };
        push(s, mr, latest + 200, note("requested review from @Ann and @bob", true));
        push(s, mr, latest + 250, note("removed review request for @bob", true));
        push(s, mr, latest + 300, note("approved this merge request", true));
        push(s, mr, latest + 350, note("Please look, @sim-org/Core", false));
    });
    standin.reset_counters();
    sync(&mut src, &mut store, T0 + 20 * DAY).await;
    let c = standin.counters();
    // Two list pages, and notes, state and label events of the two changed items.
    assert_eq!(c.requests, 2 + 2 * 3, "{c:?}");
    let (items, events) = dump(&store);
    let s = standin.scenario();
    let key = |i: usize| {
        let it = &s.items[i];
        let sep = if it.merge_request { '!' } else { '#' };
        format!("gitlab:{}{sep}{}", s.projects[it.project].path, it.iid)
    };
    let item = |k: &str| items.iter().find(|i| i.key == k).unwrap_or_else(|| panic!("no item {k}"));
    let got = |k: &str| {
        let mut v: Vec<(Ts, Option<String>, EventKind)> = events
            .iter()
            .filter(|e| e.item == k && e.at > latest)
            .map(|e| (e.at, e.actor.clone(), e.kind.clone()))
            .collect();
        v.sort_by_key(|a| (a.0, serde_json::to_string(&a.2).unwrap()));
        v
    };
    let zoe = Some("gitlab:zoe".to_string());
    assert_eq!(item(&key(issue)).state, ItemState::Closed);
    assert_eq!(
        got(&key(issue)),
        vec![
            (latest + 100, zoe.clone(), EventKind::Closed { completed: true }),
            (latest + 150, zoe.clone(), EventKind::Labeled { label: "team::core".into() }),
        ]
    );
    let person = |p: &str| Reviewer::Person(format!("gitlab:{p}"));
    assert_eq!(
        got(&key(mr)),
        vec![
            (latest + 200, zoe.clone(), EventKind::ReviewRequested { reviewer: person("ann") }),
            (latest + 200, zoe.clone(), EventKind::ReviewRequested { reviewer: person("bob") }),
            (latest + 250, zoe.clone(), EventKind::ReviewRequestRemoved { reviewer: person("bob") }),
            (latest + 300, zoe.clone(), EventKind::Reviewed { state: ReviewState::Approved }),
            (latest + 350, zoe.clone(), EventKind::Commented { mentions: vec!["sim-org/core".into()] }),
        ]
    );
}

trait OpenState {
    fn state_is_open(&self) -> bool;
}

impl OpenState for siloscope_testkit::gitlab::ScenarioItem {
    fn state_is_open(&self) -> bool {
        !self.records.iter().any(|r| matches!(&r.kind, RecordKind::State(s) if s == "closed"))
    }
}

#[tokio::test]
async fn group_and_subgroup_memberships_become_teams() {
    let (items, events, dir) = simulated(5, 5.0, 9);
    let scenario = Scenario::from_model(GROUP, &items, &events, Some(&dir));
    let groups = scenario.groups.clone();
    let standin = GitlabStandIn::start(scenario, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&standin, write_token(tmp.path(), TOKEN));
    cfg.teams_from_groups = true;
    let mut src = source(cfg, clock());
    let mut snapshot = None;
    let mut cursor: Option<String> = None;
    loop {
        let step = src.step(cursor.as_deref(), T0 + 6 * DAY).await.unwrap();
        cursor = step.batch.cursor.clone();
        snapshot = step.batch.directory.or(snapshot);
        if step.caught_up {
            break;
        }
    }
    let snap = snapshot.expect("a directory snapshot at the end of the pass");
    let teams: Vec<String> = snap.teams.iter().map(|t| t.name.clone()).collect();
    let want: Vec<String> = groups.iter().map(|g| g.full_path.to_ascii_lowercase()).collect();
    assert_eq!(teams, want);
    assert!(groups.len() >= 5, "the group and one subgroup per team");
    for g in &groups[1..] {
        assert!(!g.members.is_empty());
        for m in &g.members {
            let id = format!("gitlab:{}", m.to_ascii_lowercase());
            let p = snap.people.iter().find(|p| p.identities == vec![id.clone()]).unwrap_or_else(|| panic!("{id}"));
            assert!(p.memberships.iter().any(|x| x.team == g.full_path.to_ascii_lowercase()));
        }
    }
}

const CANARY: &str = "glpat-CANARYtoken7f3a9c1e5b2d";
const WRONG: &str = "glpat-WRONGcanary0d9e8f7a6b5c";

#[tokio::test]
async fn the_token_never_appears_in_logs_errors_or_metrics() {
    let (items, events, dir) = simulated(6, 10.0, 21);
    let standin =
        GitlabStandIn::start(Scenario::from_model(GROUP, &items, &events, Some(&dir)), &[CANARY]).await.unwrap();
    for (n, f) in [
        (2, Fault::ServerError),
        (3, Fault::TruncatedJson),
        (4, Fault::RetryAfter(3)),
        (5, Fault::Delay(Duration::from_secs(3))),
    ] {
        standin.inject_at(n, f);
    }
    let tmp = tempfile::tempdir().unwrap();
    let telemetry = std::sync::Arc::new(siloscope::sources::telemetry::SourceTelemetry::default());
    let mut exporter = siloscope::exporter::Exporter::new();
    exporter.register(|r| telemetry.register(r));
    let (logs, guard) = capture_logs();
    let mut src = source(config(&standin, write_token(tmp.path(), CANARY)), clock());
    src.attach_health(telemetry.clone());
    let mut store = open_store(tmp.path(), "s.db");
    sync(&mut src, &mut store, T0 + 10 * DAY).await;
    assert!(!dump(&store).0.is_empty());

    // A rejected token: the error names the problem, not the token.
    let wrong_dir = tempfile::tempdir().unwrap();
    let mut wrong = source(config(&standin, write_token(wrong_dir.path(), WRONG)), clock());
    wrong.attach_health(telemetry.clone());
    let e = wrong.step(None, T0).await.unwrap_err();
    assert!(e.message.contains("401"), "{e}");
    // From the environment, the same.
    let mut cfg = config(&standin, PathBuf::new());
    cfg.token_file = None;
    cfg.token_env = Some("SILOSCOPE_TEST_GITLAB_TOKEN_UNSET".into());
    let missing = source(cfg, clock()).step(None, T0).await.unwrap_err();
    assert!(missing.message.contains("SILOSCOPE_TEST_GITLAB_TOKEN_UNSET"), "{missing}");
    drop(guard);

    let outputs = [
        ("logs", logs.text()),
        ("error", format!("{e} {e:?}")),
        ("missing", format!("{missing} {missing:?}")),
        ("metrics", exporter.render()),
        ("source", format!("{src:?} {:?}", src.client())),
        ("store", format!("{:?}", dump(&store))),
        ("cursor", store.cursor("gl").unwrap().unwrap_or_default()),
    ];
    assert!(outputs[0].1.contains("retrying"), "the faults were logged");
    for (what, text) in outputs {
        for secret in [CANARY, WRONG] {
            assert!(!text.contains(secret), "{what} contains the secret {secret}:\n{text}");
        }
    }
}

#[tokio::test]
async fn a_run_of_items_updated_in_one_second_longer_than_a_page_is_read_whole_and_filters_apply() {
    let mut s = Scenario::default();
    s.groups.push(siloscope_testkit::gitlab::Group { id: 1, full_path: "g".into(), members: vec![] });
    for (n, path) in ["g/keep", "g/sub/keep", "g/archive/old", "other/lib"].iter().enumerate() {
        s.projects.push(siloscope_testkit::gitlab::Project { id: 10 + n as u64, path: path.to_string() });
    }
    // 250 issues of g/keep all updated in the same second; 4 in each other project.
    let same = T0 + 5 * DAY;
    for i in 0..262u64 {
        let project = if i < 250 { 0 } else { 1 + ((i - 250) % 3) as usize };
        s.items.push(siloscope_testkit::gitlab::ScenarioItem {
            id: 1 + i,
            project,
            iid: 1 + i,
            merge_request: false,
            title: format!("Issue {i}"),
            author: Some("amy".into()),
            created_at: T0 + i as Ts,
            updated_at: if i < 250 { same } else { T0 + i as Ts },
            records: vec![],
            opened_as_draft: false,
            malformed: false,
        });
    }
    // One item with 230 comments: three pages of notes.
    s.items[250].records = (0..230)
        .map(|n| Record {
            id: 1 + n,
            at: T0 + 300 + n as Ts,
            actor: Some("bo".into()),
            kind: RecordKind::Note { body: format!("note {n}"), system: false },
        })
        .collect();
    s.items[250].updated_at = T0 + 600;
    let standin = GitlabStandIn::start(s, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&standin, write_token(tmp.path(), TOKEN));
    cfg.groups = vec!["g".into()];
    cfg.projects = vec!["other/lib".into()];
    cfg.exclude = vec!["g/archive/*".into()];
    let mut src = source(cfg, clock());
    let mut store = open_store(tmp.path(), "p.db");
    sync(&mut src, &mut store, T0 + 10 * DAY).await;
    let (items, events) = dump(&store);
    let count = |prefix: &str| items.iter().filter(|i| i.key.starts_with(prefix)).count();
    assert_eq!(count("gitlab:g/keep#"), 250, "the whole same-second run");
    assert_eq!(count("gitlab:g/sub/keep#"), 4, "subgroup projects are in the group's lists");
    assert_eq!(count("gitlab:g/archive/"), 0, "excluded");
    assert_eq!(count("gitlab:other/lib#"), 4, "a single project");
    assert_eq!(items.len(), 258);
    assert_eq!(events.len(), 258 + 230, "one Opened each, and every note of the long item");
    assert_eq!(standin.counters().endpoints.get("notes"), Some(&(258 + 2)), "three pages for the long item");
}

/// The state changes of a scenario: (item index, record).
fn state_records(s: &Scenario) -> Vec<(usize, Record)> {
    let mut out = Vec::new();
    for (i, it) in s.items.iter().enumerate() {
        out.extend(it.records.iter().filter(|r| matches!(r.kind, RecordKind::State(_))).map(|r| (i, r.clone())));
    }
    out
}

#[tokio::test]
async fn a_gitlab_before_state_events_reads_the_same_merges_and_closes_from_notes_and_fields() {
    let (items, events, dir) = simulated(20, 12.0, 13);
    let mut scenario = Scenario::from_model(GROUP, &items, &events, Some(&dir));
    // One merge request imported with its state: GitLab keeps that merge only in its fields.
    let merged = RecordKind::State("merged".into());
    let imported = scenario.items.iter().position(|i| i.records.iter().any(|r| r.kind == merged)).unwrap();
    let record = scenario.items[imported].records.iter_mut().find(|r| r.kind == merged).unwrap();
    record.kind = RecordKind::FieldsOnly("merged".into());
    let (merged_at, merger) = (record.at, record.actor.clone().map(|a| format!("gitlab:{}", a.to_ascii_lowercase())));
    let upgrade = T0 + 10 * DAY;
    let changes = state_records(&scenario);
    assert!(changes.iter().filter(|(_, r)| r.at < upgrade).count() > 30, "state changes before the upgrade");
    assert!(changes.iter().filter(|(_, r)| r.at >= upgrade).count() > 30, "and after it");
    let n_items = scenario.items.len() as u64;
    let it = &scenario.items[imported];
    let imported_key = format!("gitlab:{}!{}", scenario.projects[it.project].path, it.iid);

    let standin = GitlabStandIn::start(scenario, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), TOKEN);
    let eras = [StateEvents::Recorded, StateEvents::Since(upgrade), StateEvents::NotFound, StateEvents::Empty];
    let mut runs = Vec::new();
    for (n, era) in eras.into_iter().enumerate() {
        standin.edit(|s| s.state_events = era);
        standin.reset_counters();
        let mut src = source(config(&standin, token.clone()), clock());
        let mut store = open_store(tmp.path(), &format!("era{n}.db"));
        let (logs, guard) = capture_logs();
        sync(&mut src, &mut store, T0 + 30 * DAY).await;
        drop(guard);
        let told = logs.text().lines().filter(|l| l.contains("answers 404 for resource_state_events")).count();
        assert_eq!(told, usize::from(era == StateEvents::NotFound), "{era:?}: said once, and only there");
        runs.push((era, dump(&store), standin.counters()));
    }
    let (_, (items, events), current) = &runs[0];
    assert_eq!(items.len() as u64, n_items);
    let count = |name: &str| events.iter().filter(|e| e.kind.name() == name).count();
    assert!(count("merged") > 50 && count("closed") > 50 && count("reopened") > 0, "{}", count("reopened"));
    for (era, (era_items, era_events), _) in &runs[1..] {
        assert_eq!(era_items, items, "{era:?}");
        assert_eq!(era_events.len(), events.len(), "{era:?}");
        assert_eq!(era_events, events, "{era:?}: the same merges, closes and reopens under the same ids");
    }
    // The imported merge request merged once, when and by whom its fields say (merged_at is a
    // fraction of a second before the record; whole seconds cut it to the second before).
    let merges: Vec<&Event> = events.iter().filter(|e| e.item == imported_key && e.kind == EventKind::Merged).collect();
    assert_eq!(merges.len(), 1, "{merges:?}");
    assert!((merges[0].at - merged_at).abs() <= 1 && merges[0].actor == merger, "{:?}", merges[0]);
    assert!(merges[0].id.ends_with("/merged/1"));
    // Before 13.2 the endpoint is asked for three items, then left alone.
    let old = &runs[2].2;
    assert_eq!(old.endpoints.get("resource_state_events"), Some(&3), "{old:?}");
    assert_eq!(current.requests - old.requests, n_items - 3);
}

fn hand_item(id: u64, iid: u64, merge_request: bool, created_at: Ts, records: Vec<Record>) -> ScenarioItem {
    let updated_at = records.iter().map(|r| r.at).max().unwrap_or(created_at);
    ScenarioItem {
        id,
        project: 0,
        iid,
        merge_request,
        title: format!("Item {iid}"),
        author: Some("amy".into()),
        created_at,
        updated_at,
        records,
        opened_as_draft: false,
        malformed: false,
    }
}

fn rec(id: u64, at: Ts, who: &str, kind: RecordKind) -> Record {
    Record { id, at, actor: Some(who.into()), kind }
}

fn system(body: &str) -> RecordKind {
    RecordKind::Note { body: body.into(), system: true }
}

#[tokio::test]
async fn merges_closes_and_approvals_are_read_once_each_whatever_records_them() {
    let t = T0 + DAY;
    let state = |s: &str| RecordKind::State(s.into());
    let mut s = Scenario::default();
    s.groups.push(siloscope_testkit::gitlab::Group { id: 1, full_path: "g".into(), members: vec![] });
    s.projects.push(siloscope_testkit::gitlab::Project { id: 10, path: "g/p".into() });
    s.items = vec![
        // !1: merged, but its state event is not written yet when first read.
        hand_item(1, 1, true, t, vec![rec(1, t + 600, "mia", RecordKind::FieldsOnly("merged".into()))]),
        // !2: a state event, a system note and the fields all say it merged.
        hand_item(
            2,
            2,
            true,
            t,
            vec![rec(2, t + 600, "mia", state("merged")), rec(3, t + 600, "mia", system("merged"))],
        ),
        // !3: a bot closes it a second before the merge.
        hand_item(
            3,
            3,
            true,
            t,
            vec![rec(4, t + 599, "bot", state("closed")), rec(5, t + 600, "mia", state("merged"))],
        ),
        // !4: approvals given, withdrawn, reset by a push, given again.
        hand_item(
            4,
            4,
            true,
            t,
            vec![
                rec(6, t + 100, "ann", system("approved this merge request")),
                rec(7, t + 110, "bob", system("approved this merge request")),
                rec(8, t + 200, "ann", system("unapproved this merge request")),
                rec(9, t + 300, "dev", system("reset approvals from @bob by pushing to the branch")),
                rec(10, t + 400, "bob", system("approved this merge request")),
            ],
        ),
    ];
    let standin = GitlabStandIn::start(s, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&standin, write_token(tmp.path(), TOKEN));
    cfg.groups = vec!["g".into()];
    let mut src = source(cfg, clock());
    let mut store = open_store(tmp.path(), "once.db");
    sync(&mut src, &mut store, t + DAY).await;
    let (_, first) = dump(&store);
    let first_merge = first.iter().find(|e| e.item == "gitlab:g/p!1" && e.kind == EventKind::Merged).cloned();
    assert!(first_merge.is_some(), "the merge is read from the fields: {first:?}");

    // Meanwhile the state event of !1 is written, and someone comments.
    standin.edit(|s| {
        s.items[0].records[0].kind = state("merged");
        s.items[0].records.push(rec(11, t + 700, "amy", RecordKind::Note { body: "thanks".into(), system: false }));
        s.items[0].updated_at = t + 700;
    });
    sync(&mut src, &mut store, t + DAY).await;
    let (_, events) = dump(&store);
    let of = |item: &str| -> Vec<(String, Ts, Option<String>, EventKind)> {
        events
            .iter()
            .filter(|e| e.item == item && e.kind != EventKind::Opened)
            .map(|e| (e.id.rsplit_once(['!']).unwrap().1.to_string(), e.at, e.actor.clone(), e.kind.clone()))
            .collect()
    };
    let who = |s: &str| Some(format!("gitlab:{s}"));
    let m1 = of("gitlab:g/p!1");
    assert_eq!(m1.len(), 2, "{m1:?}");
    assert_eq!((m1[0].0.as_str(), m1[0].3.clone(), m1[0].2.clone()), ("1/merged/1", EventKind::Merged, who("mia")));
    assert!((m1[0].1 - (t + 600)).abs() <= 1, "{m1:?}");
    assert_eq!(m1[1].3, EventKind::Commented { mentions: vec![] });
    assert_eq!(of("gitlab:g/p!2"), vec![("2/merged/1".into(), t + 600, who("mia"), EventKind::Merged)]);
    assert_eq!(of("gitlab:g/p!3"), vec![("3/merged/1".into(), t + 600, who("mia"), EventKind::Merged)]);
    let review = |n: u64, at: Ts, w: &str, state| (format!("4/note/{n}"), at, who(w), EventKind::Reviewed { state });
    assert_eq!(
        of("gitlab:g/p!4"),
        vec![
            review(10, t + 400, "bob", ReviewState::Approved),
            review(6, t + 100, "ann", ReviewState::Commented),
            review(7, t + 110, "bob", ReviewState::Commented),
        ]
    );
}

#[tokio::test]
async fn events_dated_before_their_item_are_kept_logged_once_with_its_url_and_counted() {
    let (items, events, dir) = simulated(10, 10.0, 17);
    let mut scenario = Scenario::from_model(GROUP, &items, &events, Some(&dir));
    let latest = scenario.items.iter().map(|i| i.updated_at).max().unwrap();
    // Two open issues with comments are moved to another project: GitLab copies their history
    // into new issues, with the original dates.
    let picks: Vec<usize> = scenario
        .items
        .iter()
        .enumerate()
        .filter(|(_, i)| {
            !i.merge_request
                && !i.records.iter().any(|r| matches!(r.kind, RecordKind::State(_)))
                && i.records.iter().filter(|r| matches!(r.kind, RecordKind::Note { system: false, .. })).count() >= 2
        })
        .map(|(n, _)| n)
        .take(2)
        .collect();
    assert_eq!(picks.len(), 2);
    let mut moves = Vec::new();
    for &i in &picks {
        let to = (scenario.items[i].project + 1) % scenario.projects.len();
        let copy = scenario.move_issue(i, to, latest + 100, "zoe");
        let key = |n: usize| {
            format!("gitlab:{}#{}", scenario.projects[scenario.items[n].project].path, scenario.items[n].iid)
        };
        let c = &scenario.items[copy];
        let url = format!("https://gitlab.example.com/{}/-/issues/{}", scenario.projects[c.project].path, c.iid);
        moves.push((key(i), key(copy), url));
    }
    let standin = GitlabStandIn::start(scenario, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let telemetry = std::sync::Arc::new(siloscope::sources::telemetry::SourceTelemetry::default());
    let mut exporter = siloscope::exporter::Exporter::new();
    exporter.register(|r| telemetry.register(r));
    telemetry.register_source("gl");
    let mut src = source(config(&standin, write_token(tmp.path(), TOKEN)), clock());
    src.attach_health(telemetry.clone());
    let mut store = open_store(tmp.path(), "early.db");
    let (logs, guard) = capture_logs();
    sync(&mut src, &mut store, T0 + 20 * DAY).await;

    let (items, events) = dump(&store);
    let history = |key: &str, before: Ts| {
        let mut v: Vec<(Ts, Option<String>, String)> = events
            .iter()
            .filter(|e| e.item == key && e.at < before && e.kind != EventKind::Opened)
            .map(|e| (e.at, e.actor.clone(), serde_json::to_string(&e.kind).unwrap()))
            .collect();
        v.sort();
        v
    };
    for (original, copy, _) in &moves {
        let created = items.iter().find(|i| &i.key == copy).unwrap().created_at;
        assert_eq!(created, latest + 100);
        let early = history(copy, created);
        assert!(early.len() >= 2, "{copy}: {early:?}");
        assert_eq!(early, history(original, created), "{copy} keeps the copied history, as GitLab dates it");
        let closed = events.iter().any(|e| &e.item == original && e.kind == EventKind::Closed { completed: true });
        assert!(closed, "the original is closed by the move");
    }
    let inconsistent = |metrics: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with("siloscope_source_errors_total") && l.contains("kind=\"inconsistent\""))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    assert_eq!(inconsistent(&exporter.render()).as_deref(), Some("2"), "{}", exporter.render());

    // Both copies change and are read again: no new report.
    standin.edit(|s| {
        let n = s.items.len();
        for i in [n - 2, n - 1] {
            let id = s.next_record_id();
            let it = &mut s.items[i];
            it.records.push(Record {
                id,
                at: latest + 200,
                actor: Some("amy".into()),
                kind: system("assigned to @amy"),
            });
            it.updated_at = latest + 200;
        }
    });
    sync(&mut src, &mut store, T0 + 20 * DAY).await;
    drop(guard);
    assert_eq!(dump(&store).1.iter().filter(|e| e.at == latest + 200).count(), 2, "the changes were read");
    let log = logs.text();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("contradicts itself")).collect();
    assert_eq!(lines.len(), 2, "once per item:\n{log}");
    for (_, _, url) in &moves {
        assert_eq!(lines.iter().filter(|l| l.contains(url.as_str())).count(), 1, "{url}:\n{log}");
    }
    assert!(lines.iter().all(|l| l.contains("before the item's creation")), "{lines:?}");
    assert_eq!(inconsistent(&exporter.render()).as_deref(), Some("2"));
}
