//! The store converges on what the sources say now: histories rewritten at the source (a link
//! removed, an approval withdrawn, a comment deleted) and histories an older build wrote in
//! another format are replaced item by item, through the stand-ins in the APIs' shapes, in the
//! store and in a running daemon's signals.

mod common;
#[path = "source_common/mod.rs"]
mod source_common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng as _, SeedableRng};
use siloscope::model::{DAY, Event, EventKind, Item, ReviewState, StatusCategory, Ts};
use siloscope::sources::Source;
use siloscope::sources::github::{GithubAuth, GithubConfig, GithubSource};
use siloscope::sources::gitlab::{GitlabConfig, GitlabSource};
use siloscope::sources::http::ManualClock;
use siloscope::sources::jira::{Flavor, JiraAuth, JiraConfig, JiraSource};
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;
use siloscope_testkit::github::{self as gh, GithubStandIn};
use siloscope_testkit::gitlab::{self as gl, GitlabStandIn, Record, RecordKind};
use siloscope_testkit::jira::{self as jr, ChangeItem, JiraIssue, JiraScenario, JiraStandIn, Status};
use source_common::*;

const GH_TOKEN: &str = "ghp_standinTOKEN0123456789abcdef";
const GL_TOKEN: &str = "glpat-standinTOKEN0123456789";
const JIRA_TOKEN: &str = "jira-dc-standin-PAT-0123456789";

// ---------------------------------------------------------------------------------------------
// Sources pointed at the stand-ins.

fn jira_settings() -> jr::StandInSettings {
    jr::StandInSettings {
        flavor: Flavor::DataCenter,
        email: String::new(),
        token: JIRA_TOKEN.into(),
        time_zone: chrono_tz::America::New_York,
        myself: jr::Auxiliary::Serve,
        status_list: jr::Auxiliary::Serve,
        embedded_histories: 100,
        embedded_comments: 20,
    }
}

fn jira_source(standin: &JiraStandIn, token: &Path) -> JiraSource {
    let mut cfg = JiraConfig::cloud(&standin.url(), "", &[]);
    cfg.flavor = Flavor::DataCenter;
    cfg.auth = JiraAuth { email: None, token_env: None, token_file: Some(token.to_path_buf()) };
    JiraSource::with_transport("jira", cfg, transport(), clock(), settings())
}

fn gitlab_source(standin: &GitlabStandIn, token: &Path, group: &str) -> GitlabSource {
    let mut cfg = GitlabConfig::for_groups(&[group]);
    cfg.url = standin.url();
    cfg.token_env = None;
    cfg.token_file = Some(token.to_path_buf());
    GitlabSource::with_transport("gitlab", cfg, transport(), clock(), settings())
}

fn github_source(standin: &GithubStandIn, token: &Path) -> GithubSource {
    let mut cfg = GithubConfig::for_organizations(&["sim-org"]);
    cfg.api_url = standin.url();
    cfg.graphql_url = standin.graphql_url();
    cfg.auth = GithubAuth::Token { env: None, file: Some(token.to_path_buf()) };
    GithubSource::with_transport("gh", cfg, transport(), clock() as Arc<ManualClock>, settings())
}

fn statuses() -> Vec<Status> {
    vec![Status::new("1", "To Do", StatusCategory::ToDo), Status::new("3", "Done", StatusCategory::Done)]
}

fn gl_record(id: u64, at: Ts, who: &str, kind: RecordKind) -> Record {
    Record { id, at, actor: Some(who.into()), kind }
}

fn gl_system(body: &str) -> RecordKind {
    RecordKind::Note { body: body.into(), system: true }
}

fn gl_item(id: u64, iid: u64, merge_request: bool, author: &str, at: Ts, records: Vec<Record>) -> gl::ScenarioItem {
    let updated_at = records.iter().map(|r| r.at).max().unwrap_or(at);
    gl::ScenarioItem {
        id,
        project: 0,
        iid,
        merge_request,
        title: format!("item {iid}"),
        author: Some(author.into()),
        created_at: at,
        updated_at,
        records,
        opened_as_draft: false,
        malformed: false,
    }
}

/// A stored event as the comparisons see it.
type Row = (String, String, Ts, Option<String>, EventKind);

fn rows(events: &[Event]) -> Vec<Row> {
    let mut out: Vec<Row> =
        events.iter().map(|e| (e.id.clone(), e.item.clone(), e.at, e.actor.clone(), e.kind.clone())).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Items, events, and each item's events in insertion order (the engine's tie-break for events at
/// the same second).
fn stored(store: &SqliteStore) -> (Vec<Item>, Vec<Row>, std::collections::BTreeMap<String, Vec<String>>) {
    let (items, events) = dump(store);
    let mut order: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    store.for_each_event(&mut |e| order.entry(e.item).or_default().push(e.id)).unwrap();
    (items, rows(&events), order)
}

/// A fresh full sync of what `source` reads, into an empty store.
async fn fresh(
    dir: &Path,
    name: &str,
    mut source: impl Source,
    now: Ts,
) -> (Vec<Item>, Vec<Row>, std::collections::BTreeMap<String, Vec<String>>) {
    let mut store = open_store(dir, name);
    sync(&mut source, &mut store, now).await;
    stored(&store)
}

// ---------------------------------------------------------------------------------------------
// A running daemon follows rewritten histories.

fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn metrics(port: u16) -> Option<String> {
    common::http_get(port, "/metrics").filter(|(s, _)| *s == 200).map(|(_, b)| b)
}

/// Waits, off the runtime the stand-ins serve on, until /metrics satisfies `ok`; on a timeout
/// fails with the last metrics and the daemon's log.
async fn wait_metrics(daemon: &mut common::Running, port: u16, what: &str, ok: fn(&str) -> bool) -> String {
    let waited = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut last = None;
        while started.elapsed() < Duration::from_secs(120) {
            last = metrics(port);
            if last.as_deref().is_some_and(ok) {
                return Ok(last.unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(last)
    })
    .await
    .unwrap();
    waited.unwrap_or_else(|last| {
        let _ = daemon.kill();
        let out = daemon.0.wait_with_output_ref();
        panic!("timed out waiting for {what}; last /metrics:\n{}\ndaemon log:\n{out}", last.unwrap_or_default())
    })
}

trait WaitOutput {
    fn wait_with_output_ref(&mut self) -> String;
}

impl WaitOutput for std::process::Child {
    /// The child's stderr once it has exited.
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let _ = self.wait();
        let mut log = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut log);
        }
        log
    }
}

const REHASHED: &str = r#"siloscope_decisions_rehashed_total{team="payments",reason="superseded"}"#;
const APPROVED: &str = r#"siloscope_reviews_total{author_team="payments",reviewer_team="platform",state="approved"}"#;
const COMMENTED: &str = r#"siloscope_reviews_total{author_team="payments",reviewer_team="platform",state="commented"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_link_and_a_withdrawn_approval_leave_the_store_and_a_running_daemons_signals() {
    // Recent (the daemon runs on the wall clock): teams count as active in the privacy window.
    let t = chrono::Utc::now().timestamp() / 60 * 60 - 2 * DAY;
    // Jira: PAY-1 is a decision, made (resolved Done) by payments; PAY-2 supersedes it.
    let s = statuses();
    let mut decision = JiraIssue::new("PAY", 1, t, "amy", "To Do");
    decision.issue_type = "Decision".into();
    decision.change(
        501,
        t + 100,
        "amy",
        vec![ChangeItem::status(&s, "To Do", "Done"), ChangeItem::resolution(None, Some("Done"))],
    );
    let mut successor = JiraIssue::new("PAY", 2, t, "bo", "To Do");
    successor.change(601, t + 600, "bo", vec![ChangeItem::link_added("supersedes", "PAY-1")]);
    // Pat, payments' second person, is active too (teams below the privacy floor are folded).
    let other = JiraIssue::new("PAY", 3, t + 50, "pat", "To Do");
    let jira = JiraStandIn::start(
        JiraScenario { statuses: s, issues: vec![decision, successor, other], ..JiraScenario::default() },
        jira_settings(),
    )
    .await
    .unwrap();
    // GitLab: platform's ann approves payments' merge request.
    let mut scenario = gl::Scenario::default();
    scenario.groups.push(gl::Group { id: 1, full_path: "g".into(), members: vec![] });
    scenario.projects.push(gl::Project { id: 10, path: "g/p".into() });
    scenario.items.push(gl_item(
        1,
        1,
        true,
        "amy",
        t,
        vec![gl_record(1, t + 100, "ann", gl_system("approved this merge request"))],
    ));
    let gitlab = GitlabStandIn::start(scenario, &[GL_TOKEN]).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let jira_token = dir.path().join("jira-token");
    std::fs::write(&jira_token, format!("{JIRA_TOKEN}\n")).unwrap();
    let gitlab_token = dir.path().join("gitlab-token");
    std::fs::write(&gitlab_token, format!("{GL_TOKEN}\n")).unwrap();
    let store = dir.path().join("s.db");
    let config = dir.path().join("siloscope.toml");
    std::fs::write(
        &config,
        format!(
            r#"[store]
path = {store:?}

[signals]
privacy_floor = 2

[decisions]
issue_types = ["Decision"]

[[teams]]
name = "payments"

[[teams]]
name = "platform"

[[people]]
name = "Amy"
jira = "amy"
gitlab = "amy"
team = "payments"

[[people]]
name = "Pat"
jira = "pat"
team = "payments"

[[people]]
name = "Bo"
jira = "bo"
team = "platform"

[[people]]
name = "Ann"
gitlab = "ann"
team = "platform"

[[sources]]
name = "jira"
kind = "jira"
interval = "1s"
url = {jira_url:?}
flavor = "data_center"
token_file = {jira_token:?}
projects = ["PAY"]

[[sources]]
name = "gitlab"
kind = "gitlab"
interval = "1s"
url = {gitlab_url:?}
token_file = {gitlab_token:?}
groups = ["g"]
"#,
            store = store.display().to_string(),
            jira_url = jira.url(),
            jira_token = jira_token.display().to_string(),
            gitlab_url = gitlab.url(),
            gitlab_token = gitlab_token.display().to_string(),
        ),
    )
    .unwrap();
    let checked = common::run(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", common::text(&checked.stderr));
    let port = common::free_port();
    let address = format!("127.0.0.1:{port}");
    let mut daemon = common::spawn(&["serve", "--config", config.to_str().unwrap(), "--web.listen-address", &address]);

    let before = wait_metrics(&mut daemon, port, "the rehash and the approval", |m| {
        sample(m, REHASHED) == Some(1.0) && sample(m, APPROVED) == Some(1.0)
    })
    .await;
    assert_eq!(sample(&before, COMMENTED), None, "{before}");

    // Meanwhile: the link is removed (Jira writes the removal into PAY-2's changelog), and ann
    // withdraws her approval (GitLab writes a system note). Both move the items' update times.
    jira.edit(|s| {
        s.issues[1].change(602, t + 4200, "bo", vec![ChangeItem::link_removed("supersedes", "PAY-1")]);
    });
    gitlab.edit(|s| {
        let item = &mut s.items[0];
        item.records.push(gl_record(2, t + 200, "ann", gl_system("unapproved this merge request")));
        item.updated_at = t + 200;
    });
    let after = wait_metrics(&mut daemon, port, "no rehash and no approval", |m| {
        sample(m, REHASHED).unwrap_or(0.0) == 0.0 && sample(m, APPROVED).unwrap_or(0.0) == 0.0
    })
    .await;
    // The decision still counts; ann's review is a review without a verdict now.
    assert_eq!(sample(&after, r#"siloscope_decisions_total{team="payments"}"#), Some(1.0), "{after}");
    assert_eq!(sample(&after, COMMENTED), Some(1.0), "{after}");

    common::sigterm(&daemon);
    let status = common::wait_exit(&mut daemon, Duration::from_secs(60));
    assert!(status.success(), "{status}");
    let store = SqliteStore::open(&store).unwrap();
    let (_, events) = dump(&store);
    assert!(!events.iter().any(|e| matches!(e.kind, EventKind::Linked { .. })), "{events:#?}");
    let reviews: Vec<&EventKind> =
        events.iter().filter(|e| matches!(e.kind, EventKind::Reviewed { .. })).map(|e| &e.kind).collect();
    assert_eq!(reviews, [&EventKind::Reviewed { state: ReviewState::Commented }]);
}

// ---------------------------------------------------------------------------------------------
// A comment deleted at the source.

#[tokio::test]
async fn a_github_comment_deleted_at_the_source_goes_when_the_items_next_change_is_read() {
    let (items, events, dir) = simulated(15, 8.0, 21);
    let standin =
        GithubStandIn::start(gh::Scenario::from_model(&items, &events, Some(&dir)), &[GH_TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), GH_TOKEN);
    let mut src = github_source(&standin, &token);
    let mut store = open_store(tmp.path(), "gh.db");
    let now = T0 + 40 * DAY;
    sync(&mut src, &mut store, now).await;

    // An issue with a comment, and another comment elsewhere that stays.
    let s = standin.scenario();
    let with_comments: Vec<(usize, usize)> = s
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| {
            it.timeline.iter().position(|n| matches!(n.kind, gh::NodeKind::Comment(_))).map(|k| (i, k))
        })
        .collect();
    assert!(with_comments.len() >= 2, "the simulated org has comments");
    let (i, k) = with_comments[0];
    let deleted = format!("github:{}", s.items[i].timeline[k].id);
    let kept = format!("github:{}", s.items[with_comments[1].0].timeline[with_comments[1].1].id);
    let ids = |store: &SqliteStore| dump(store).1.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert!(ids(&store).contains(&deleted) && ids(&store).contains(&kept));

    // Deleted on GitHub: the item's `updatedAt` does not move, so nothing reads it again yet.
    standin.edit(|s| {
        s.items[i].timeline.remove(k);
    });
    sync(&mut src, &mut store, now).await;
    assert!(ids(&store).contains(&deleted), "not read again: the store cannot know yet");
    // Its next change: the item is read whole again, and the comment is gone.
    let latest = s.items.iter().map(|it| it.updated_at).max().unwrap();
    standin.edit(|s| {
        let it = &mut s.items[i];
        it.timeline.push(gh::Node {
            id: format!("{}/late", it.id),
            at: latest + 60,
            actor: Some(gh::Actor::user("zoe")),
            kind: gh::NodeKind::Labeled("triaged".into()),
        });
        it.updated_at = latest + 60;
    });
    sync(&mut src, &mut store, now).await;
    let after = ids(&store);
    assert!(!after.contains(&deleted), "the deleted comment is gone");
    assert!(after.contains(&kept), "another item's comment stays");
    assert!(after.iter().any(|id| id.ends_with("/late")), "the new change is read");
    assert_eq!(stored(&store), fresh(tmp.path(), "fresh.db", github_source(&standin, &token), now).await);
}

// ---------------------------------------------------------------------------------------------
// A store an older build wrote, in another history format.

/// A store of what the daemon holds, read back through the `Store` trait.
fn dump_dyn(store: &dyn Store) -> (Vec<Item>, Vec<Row>) {
    let mut items = Vec::new();
    store.for_each_item(&mut |i| items.push(i)).unwrap();
    items.sort_by(|a, b| a.key.cmp(&b.key));
    let mut events = Vec::new();
    store.for_each_event(&mut |e| events.push(e)).unwrap();
    (items, rows(&events))
}

/// Writes what an older build would have stored: the fresh store's items and cursor, its events as
/// `old` rewrites them (other ids, other times, events the old parser made up), no history format.
fn old_build_store(dir: &Path, name: &str, fresh: &SqliteStore, source: &str, old: impl FnMut(Event) -> Vec<Event>) {
    let (items, events) = dump(fresh);
    let batch = siloscope::model::Batch {
        source: source.into(),
        items,
        events: events.into_iter().flat_map(old).collect(),
        cursor: fresh.cursor(source).unwrap(),
        ..Default::default()
    };
    let mut store = open_store(dir, name);
    store.commit_batch(&batch).unwrap();
    assert_eq!(store.history_format(source).unwrap(), None);
}

/// The simulated organisation's people under the logins the stand-ins serve them as, on every
/// source, so the signals attribute teams.
fn directory_everywhere(dir: &siloscope::model::DirectorySnapshot) -> siloscope::model::DirectorySnapshot {
    let mut dir = dir.clone();
    for p in &mut dir.people {
        let logins: Vec<String> =
            p.identities.iter().filter_map(|i| i.split_once(':').map(|x| x.1.to_string())).collect();
        for login in logins {
            for namespace in ["github", "gitlab", "jira"] {
                p.identities.push(siloscope::model::identity(namespace, &login));
            }
        }
    }
    dir
}

/// Opens `path` in a daemon state, prepares and syncs `source` the daemon's way (commit, frame),
/// and checks the result against `reference` (a fresh sync of the same data): the same store,
/// every event once in the frame, the same signals (with `dir`'s teams, at the end of the data).
async fn reread_equals(
    path: &Path,
    mut source: impl Source,
    reference: &Path,
    dir: &siloscope::model::DirectorySnapshot,
) {
    use siloscope::daemon::State;
    use siloscope::sources::http::SystemClock;
    for p in [path, reference] {
        let directory = Some(directory_everywhere(dir));
        let batch = siloscope::model::Batch { source: "people".into(), directory, ..Default::default() };
        SqliteStore::open(p).unwrap().commit_batch(&batch).unwrap();
    }
    let config =
        siloscope::config::Config::parse("[signals]\nprivacy_floor = 2\n", Path::new("siloscope.toml")).unwrap();
    let state = State::new(config.clone(), Box::new(SqliteStore::open(path).unwrap()), Arc::new(SystemClock)).unwrap();
    let (logs, guard) = capture_logs();
    assert!(state.prepare_source(&source).unwrap(), "an old format is re-read");
    drop(guard);
    let name = source.name().to_string();
    let text = logs.text();
    let said = format!(
        "source {name}: stored history was written by format 1, this build writes {}: re-reading all items",
        source.history_format().unwrap()
    );
    assert_eq!(text.matches(&said).count(), 1, "{text}");
    assert!(!state.prepare_source(&source).unwrap(), "once re-read, the format is recorded");
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let summary = state.sync_source(&mut source, &rx, &mut |_| {}).await.unwrap();
    assert!(summary.rewritten_items > 0, "{summary:?}");

    let want = dump_dyn(&SqliteStore::open(reference).unwrap());
    let got = dump_dyn(state.store.lock().unwrap().as_ref());
    assert_eq!(got.0, want.0);
    assert_eq!(got.1, want.1);
    // The daemon's frame holds each event once, as a daemon started on the fresh store would.
    let now = want.1.iter().map(|e| e.2).max().unwrap() + DAY;
    let converged = {
        let mut frame = state.frame.lock().unwrap();
        frame.prepare();
        assert_eq!(frame.events.len(), want.1.len());
        siloscope::signals::compute(&frame, &state.directory(), &config.signals, now).1
    };
    let fresh =
        State::new(config.clone(), Box::new(SqliteStore::open(reference).unwrap()), Arc::new(SystemClock)).unwrap();
    let expected = {
        let mut frame = fresh.frame.lock().unwrap();
        frame.prepare();
        siloscope::signals::compute(&frame, &fresh.directory(), &config.signals, now).1
    };
    assert_eq!(converged, expected);
    let teams: Vec<&String> = (expected.decisions_total.keys())
        .chain(expected.reviews_total.keys().map(|k| &k.0))
        .chain(expected.rework_total.keys().map(|k| &k.0))
        .collect();
    assert!(teams.iter().any(|t| *t != "other"), "teams are attributed: {expected:?}");
}

#[tokio::test]
async fn a_gitlab_store_in_the_old_id_scheme_converges_after_the_format_bump() {
    let (items, events, dir) = simulated(20, 8.0, 31);
    let mut scenario = gl::Scenario::from_model("sim-org", &items, &events, Some(&dir));
    // Some approvals were withdrawn later.
    let mut withdrawn = 0;
    let mut next = scenario.next_record_id();
    for it in scenario.items.iter_mut().filter(|it| it.merge_request) {
        let Some(r) = it.records.iter().find(|r| r.kind == gl_system("approved this merge request")).cloned() else {
            continue;
        };
        it.records.push(gl_record(
            next,
            r.at + 600,
            r.actor.as_deref().unwrap(),
            gl_system("unapproved this merge request"),
        ));
        next += 1;
        it.updated_at = it.updated_at.max(r.at + 600);
        withdrawn += 1;
    }
    assert!(withdrawn >= 2, "{withdrawn}");
    let standin = GitlabStandIn::start(scenario, &[GL_TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), GL_TOKEN);
    let now = T0 + 40 * DAY;
    let mut reference = open_store(tmp.path(), "fresh.db");
    sync(&mut gitlab_source(&standin, &token, "sim-org"), &mut reference, now).await;
    // The previous build: merges, closes and reopens under their state event's id, withdrawn
    // approvals still approvals.
    let mut k = 0;
    old_build_store(tmp.path(), "old.db", &reference, "gitlab", |mut e| {
        let change = ["/merged/", "/closed/", "/reopened/"].iter().any(|c| e.id.contains(c));
        if change {
            k += 1;
            e.id = format!("{}/state/{k}", e.item);
        }
        if e.kind == (EventKind::Reviewed { state: ReviewState::Commented }) {
            e.kind = EventKind::Reviewed { state: ReviewState::Approved };
        }
        vec![e]
    });
    assert!(k >= 5, "{k} state changes");
    drop(reference);
    reread_equals(
        &tmp.path().join("old.db"),
        gitlab_source(&standin, &token, "sim-org"),
        &tmp.path().join("fresh.db"),
        &dir,
    )
    .await;
}

#[tokio::test]
async fn a_jira_store_with_the_old_late_closes_converges_after_the_format_bump() {
    let (items, events, dir) = simulated(20, 8.0, 32);
    let mut scenario = JiraScenario::from_model(&items, &events);
    // Resolved in "Resolved", moved to "Closed" by an admin weeks later.
    scenario.resolve_then_close_later("Resolved", "Closed", "admin", 20 * DAY, T0 + 60 * DAY);
    let standin = JiraStandIn::start(scenario, jira_settings()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), JIRA_TOKEN);
    let now = T0 + 80 * DAY;
    let mut reference = open_store(tmp.path(), "fresh.db");
    sync(&mut jira_source(&standin, &token), &mut reference, now).await;
    // The previous build: the close at the admin's move, under that history's id.
    let mut k = 0;
    old_build_store(tmp.path(), "old.db", &reference, "jira", |mut e| {
        if matches!(e.kind, EventKind::Closed { .. }) {
            k += 1;
            e.id = format!("{}/h{}/0", e.item, 900_000 + k);
            e.at += 20 * DAY;
            e.actor = Some("jira:admin".into());
        }
        vec![e]
    });
    assert!(k >= 5, "{k} closes");
    drop(reference);
    reread_equals(&tmp.path().join("old.db"), jira_source(&standin, &token), &tmp.path().join("fresh.db"), &dir).await;
}

#[tokio::test]
async fn a_github_store_with_committed_dates_and_unpaired_closes_converges_after_the_format_bump() {
    let (items, events, dir) = simulated(20, 8.0, 33);
    let standin =
        GithubStandIn::start(gh::Scenario::from_model(&items, &events, Some(&dir)), &[GH_TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), GH_TOKEN);
    let now = T0 + 40 * DAY;
    let mut reference = open_store(tmp.path(), "fresh.db");
    sync(&mut github_source(&standin, &token), &mut reference, now).await;
    // The previous build: commits at their committed date (a rebase moves it by days), and the
    // close GitHub records with a merge as a close of its own.
    let (mut moved, mut closes) = (0, 0);
    old_build_store(tmp.path(), "old.db", &reference, "gh", |mut e| match e.kind {
        EventKind::Committed { .. } if e.id.len() % 3 == 0 => {
            moved += 1;
            e.at += 277_833;
            vec![e]
        }
        EventKind::Merged => {
            closes += 1;
            let close =
                Event { id: format!("{}/close", e.id), kind: EventKind::Closed { completed: false }, ..e.clone() };
            vec![e, close]
        }
        _ => vec![e],
    });
    assert!(moved > 0 && closes > 0, "{moved} commits moved, {closes} closes");
    drop(reference);
    reread_equals(&tmp.path().join("old.db"), github_source(&standin, &token), &tmp.path().join("fresh.db"), &dir)
        .await;
}

// ---------------------------------------------------------------------------------------------
// Rewrites interleaved with syncs: the incremental store is a fresh sync's, after every sync.

/// The simulator's deterministic generator (SplitMix64), so a failing round can be replayed.
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(SplitMix64::seed_from_u64(seed))
    }
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }
    /// One of the indexes `ok` holds for, if any.
    fn pick(&mut self, n: usize, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let all: Vec<usize> = (0..n).filter(|&i| ok(i)).collect();
        (!all.is_empty()).then(|| all[self.below(all.len())])
    }
}

const ROUNDS: usize = 5;
const REWRITES_PER_ROUND: usize = 3;

#[tokio::test]
async fn github_rewrites_interleaved_with_syncs_leave_the_store_a_fresh_sync_would_write() {
    let (items, events, dir) = simulated(12, 8.0, 41);
    let standin =
        GithubStandIn::start(gh::Scenario::from_model(&items, &events, Some(&dir)), &[GH_TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), GH_TOKEN);
    let mut src = github_source(&standin, &token);
    let mut store = open_store(tmp.path(), "incremental.db");
    let latest = standin.scenario().items.iter().map(|i| i.updated_at).max().unwrap();
    let now = latest + 10 * DAY;
    sync(&mut src, &mut store, now).await;
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut done = [0usize; 4];
    for round in 0..ROUNDS {
        standin.edit(|s| {
            for j in 0..REWRITES_PER_ROUND {
                let at = latest + (round * REWRITES_PER_ROUND + j + 1) as Ts * 60;
                let comment = |n: &gh::Node| matches!(n.kind, gh::NodeKind::Comment(_));
                let review =
                    |n: &gh::Node| matches!(&n.kind, gh::NodeKind::Review { state, .. } if state != "DISMISSED");
                let what = rng.below(4);
                let picked = match what {
                    0 | 2 => rng.pick(s.items.len(), |i| s.items[i].timeline.iter().any(comment)),
                    1 => rng.pick(s.items.len(), |i| s.items[i].timeline.iter().any(review)),
                    _ => Some(rng.below(s.items.len())),
                };
                let Some(i) = picked else { continue };
                let it = &mut s.items[i];
                let nodes: Vec<usize> = (0..it.timeline.len())
                    .filter(|&k| match what {
                        0 | 2 => comment(&it.timeline[k]),
                        1 => review(&it.timeline[k]),
                        _ => true,
                    })
                    .collect();
                match what {
                    // A comment deleted.
                    0 => {
                        it.timeline.remove(nodes[rng.below(nodes.len())]);
                    }
                    // A review dismissed.
                    1 => {
                        if let gh::NodeKind::Review { state, .. } = &mut it.timeline[nodes[rng.below(nodes.len())]].kind
                        {
                            *state = "DISMISSED".into();
                        }
                    }
                    // A comment edited to mention a team.
                    2 => {
                        if let gh::NodeKind::Comment(body) = &mut it.timeline[nodes[rng.below(nodes.len())]].kind {
                            body.push_str(" cc @sim-org/platform");
                        }
                    }
                    // A new comment.
                    _ => it.timeline.push(gh::Node {
                        id: format!("{}/new-{round}-{j}", it.id),
                        at,
                        actor: Some(gh::Actor::user("zoe")),
                        kind: gh::NodeKind::Comment("New here".into()),
                    }),
                }
                it.updated_at = it.updated_at.max(at);
                done[what] += 1;
            }
        });
        sync(&mut src, &mut store, now).await;
        let want = fresh(tmp.path(), &format!("fresh-{round}.db"), github_source(&standin, &token), now).await;
        assert_eq!(stored(&store), want, "round {round}");
    }
    assert!(done.iter().all(|&n| n > 0), "every kind of rewrite happened: {done:?}");
}

#[tokio::test]
async fn gitlab_rewrites_interleaved_with_syncs_leave_the_store_a_fresh_sync_would_write() {
    let (items, events, dir) = simulated(12, 8.0, 42);
    let scenario = gl::Scenario::from_model("sim-org", &items, &events, Some(&dir));
    let standin = GitlabStandIn::start(scenario, &[GL_TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), GL_TOKEN);
    let mut src = gitlab_source(&standin, &token, "sim-org");
    let mut store = open_store(tmp.path(), "incremental.db");
    let latest = standin.scenario().items.iter().map(|i| i.updated_at).max().unwrap();
    let now = latest + 10 * DAY;
    sync(&mut src, &mut store, now).await;
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let mut done = [0usize; 4];
    let approval = gl_system("approved this merge request");
    for round in 0..ROUNDS {
        standin.edit(|s| {
            for j in 0..REWRITES_PER_ROUND {
                let at = latest + (round * REWRITES_PER_ROUND + j + 1) as Ts * 60;
                let user_note = |r: &Record| matches!(r.kind, RecordKind::Note { system: false, .. });
                let approved = |r: &Record| r.kind == approval;
                let what = rng.below(4);
                let picked = match what {
                    0 => rng.pick(s.items.len(), |i| s.items[i].records.iter().any(approved)),
                    1 | 2 => rng.pick(s.items.len(), |i| s.items[i].records.iter().any(user_note)),
                    _ => Some(rng.below(s.items.len())),
                };
                let Some(i) = picked else { continue };
                let id = s.next_record_id();
                let it = &mut s.items[i];
                let of = |f: &dyn Fn(&Record) -> bool| {
                    (0..it.records.len()).filter(|&k| f(&it.records[k])).collect::<Vec<_>>()
                };
                match what {
                    // An approval withdrawn by its approver.
                    0 => {
                        let ks = of(&approved);
                        let who = it.records[ks[rng.below(ks.len())]].actor.clone().unwrap_or_default();
                        it.records.push(gl_record(id, at, &who, gl_system("unapproved this merge request")));
                    }
                    // A comment deleted.
                    1 => {
                        let ks = of(&user_note);
                        it.records.remove(ks[rng.below(ks.len())]);
                    }
                    // A comment edited to mention a team.
                    2 => {
                        let ks = of(&user_note);
                        if let RecordKind::Note { body, .. } = &mut it.records[ks[rng.below(ks.len())]].kind {
                            body.push_str(" @sim-org/platform");
                        }
                    }
                    // A new comment.
                    _ => it.records.push(gl_record(
                        id,
                        at,
                        "zoe",
                        RecordKind::Note { body: "New here".into(), system: false },
                    )),
                }
                it.updated_at = it.updated_at.max(at);
                done[what] += 1;
            }
        });
        sync(&mut src, &mut store, now).await;
        let want =
            fresh(tmp.path(), &format!("fresh-{round}.db"), gitlab_source(&standin, &token, "sim-org"), now).await;
        assert_eq!(stored(&store), want, "round {round}");
    }
    assert!(done.iter().all(|&n| n > 0), "every kind of rewrite happened: {done:?}");
}

#[tokio::test]
async fn jira_rewrites_interleaved_with_syncs_leave_the_store_a_fresh_sync_would_write() {
    let (items, events, _) = simulated(12, 8.0, 43);
    let standin = JiraStandIn::start(JiraScenario::from_model(&items, &events), jira_settings()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), JIRA_TOKEN);
    let mut src = jira_source(&standin, &token);
    let mut store = open_store(tmp.path(), "incremental.db");
    let latest = standin.scenario().issues.iter().map(|i| i.updated).max().unwrap();
    let now = latest + 10 * DAY;
    sync(&mut src, &mut store, now).await;
    let mut rng = Rng::new(0xd1b5_4a32_d192_ed03);
    let mut done = [0usize; 4];
    // Links made by the rewrites: (issue, target key), for removing one later.
    let mut links: Vec<(usize, String)> = Vec::new();
    let mut history = 700_000_000u64;
    for round in 0..ROUNDS {
        standin.edit(|s| {
            for j in 0..REWRITES_PER_ROUND {
                let at = latest + (round * REWRITES_PER_ROUND + j + 1) as Ts * 120;
                history += 1;
                let n = s.issues.len();
                // A link first, so that removing one has something to remove.
                let what = if links.is_empty() { 0 } else { rng.below(4) };
                match what {
                    // A supersedes link made.
                    0 => {
                        let (i, target) = (rng.below(n), rng.below(n));
                        let key = s.issues[target].key();
                        s.issues[i].change(history, at, "zoe", vec![ChangeItem::link_added("supersedes", &key)]);
                        links.push((i, key));
                    }
                    // A link removed.
                    1 => {
                        let (i, key) = links.remove(rng.below(links.len()));
                        s.issues[i].change(history, at, "zoe", vec![ChangeItem::link_removed("supersedes", &key)]);
                    }
                    // A comment deleted, or edited to mention a team.
                    _ => {
                        let Some(i) = rng.pick(n, |i| !s.issues[i].comments.is_empty()) else { continue };
                        let issue = &mut s.issues[i];
                        let k = rng.below(issue.comments.len());
                        if what == 2 {
                            issue.comments.remove(k);
                        } else {
                            issue.comments[k].body.push_str(" @sim-org/platform");
                        }
                        issue.updated = issue.updated.max(at);
                    }
                }
                done[what] += 1;
            }
        });
        sync(&mut src, &mut store, now).await;
        let want = fresh(tmp.path(), &format!("fresh-{round}.db"), jira_source(&standin, &token), now).await;
        assert_eq!(stored(&store), want, "round {round}");
    }
    assert!(done.iter().all(|&n| n > 0), "every kind of rewrite happened: {done:?}");
}

// ---------------------------------------------------------------------------------------------
// A read cut short is no complete history: what it did not see stays stored.

#[tokio::test]
async fn a_github_answer_with_a_partial_error_does_not_rewrite_the_item() {
    let t = T0 + DAY;
    let mut s = gh::Scenario::default();
    s.repos.push(gh::Repo {
        id: "R_api".into(),
        name: "sim-org/api".into(),
        pushed_at: t,
        archived: false,
        files: Default::default(),
    });
    let node = |id: &str, at, who: &str, kind| gh::Node { id: id.into(), at, actor: Some(gh::Actor::user(who)), kind };
    s.items.push(gh::ScenarioItem {
        id: "I_1".into(),
        repo: 0,
        number: 1,
        pull: false,
        title: "Crash on start".into(),
        body: String::new(),
        author: Some(gh::Actor::user("amy")),
        created_at: t,
        updated_at: t + 600,
        opened_as_draft: false,
        merged_by: None,
        timeline: vec![
            node("C_1", t + 300, "bob", gh::NodeKind::Comment("Seen it too".into())),
            node("C_2", t + 600, "cy", gh::NodeKind::Comment("Me too".into())),
        ],
        malformed: false,
    });
    let standin = GithubStandIn::start(s, &[GH_TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), GH_TOKEN);
    let mut src = github_source(&standin, &token);
    let mut store = open_store(tmp.path(), "gh.db");
    sync(&mut src, &mut store, t + DAY).await;
    let actor_of = |store: &SqliteStore, id: &str| dump(store).1.into_iter().find(|e| e.id == id).map(|e| e.actor);
    assert_eq!(actor_of(&store, "github:C_1"), Some(Some("github:bob".into())));

    // C_2 is deleted; the next read of the item comes with a partial error: C_1's actor is null.
    standin.edit(|s| {
        let it = &mut s.items[0];
        it.timeline.pop();
        it.timeline.push(node("L_1", t + 900, "cy", gh::NodeKind::Labeled("bug".into())));
        it.updated_at = t + 900;
    });
    // A pass lists first (with the repositories), then reads what it listed by id.
    standin.inject_at(standin.counters().requests + 2, gh::Fault::PartialError);
    sync(&mut src, &mut store, t + DAY).await;
    assert_eq!(standin.counters().faults_served, 1);
    assert_eq!(actor_of(&store, "github:C_1"), Some(Some("github:bob".into())), "a null from an error is no rewrite");
    assert!(actor_of(&store, "github:C_2").is_some(), "not known to be gone from a read that was cut short");
    assert!(actor_of(&store, "github:L_1").is_some(), "what the read did say is stored");
    // The next whole read converges.
    standin.edit(|s| s.items[0].updated_at = t + 1200);
    sync(&mut src, &mut store, t + DAY).await;
    assert!(actor_of(&store, "github:C_2").is_none());
    assert_eq!(stored(&store), fresh(tmp.path(), "fresh.db", github_source(&standin, &token), t + DAY).await);
}

#[tokio::test]
async fn a_jira_follow_up_page_short_of_its_total_does_not_rewrite_the_issue() {
    let t = T0 + DAY;
    let mut issue = JiraIssue::new("PAY", 1, t, "amy", "To Do");
    // More comments than the search embeds (20): the rest are read from /comment.
    for n in 0..25u64 {
        issue.comments.push(jr::JiraComment {
            id: 5_000 + n,
            at: t + 60 * (n as Ts + 1),
            author: "bo".into(),
            body: format!("note {n}"),
        });
    }
    issue.updated = t + 60 * 25;
    let scenario = JiraScenario { statuses: statuses(), issues: vec![issue], ..JiraScenario::default() };
    let standin = JiraStandIn::start(scenario, jira_settings()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), JIRA_TOKEN);
    let mut src = jira_source(&standin, &token);
    let mut store = open_store(tmp.path(), "jira.db");
    sync(&mut src, &mut store, t + DAY).await;
    let comments =
        |store: &SqliteStore| dump(store).1.iter().filter(|e| matches!(e.kind, EventKind::Commented { .. })).count();
    assert_eq!(comments(&store), 25);

    // A new comment; the follow-up that reads the comments comes back empty.
    standin.edit(|s| {
        let i = &mut s.issues[0];
        i.comments.push(jr::JiraComment { id: 6_000, at: t + 3_600, author: "cy".into(), body: "ping".into() });
        i.updated = t + 3_600;
    });
    // The next request is the search, the one after it the comment follow-up.
    standin.inject_at(standin.counters().requests + 2, jr::Fault::EmptyFollowUp);
    sync(&mut src, &mut store, t + DAY).await;
    assert_eq!(standin.counters().faults_served, 1);
    assert_eq!(comments(&store), 25, "an empty page short of its total says nothing about what was deleted");
    // The next whole read converges.
    standin.edit(|s| s.issues[0].updated = t + 7_200);
    sync(&mut src, &mut store, t + DAY).await;
    assert_eq!(comments(&store), 26);
    assert_eq!(stored(&store), fresh(tmp.path(), "fresh.db", jira_source(&standin, &token), t + DAY).await);
}

#[tokio::test]
async fn gitlab_notes_longer_than_the_pages_read_per_item_do_not_rewrite_the_item() {
    let t = T0 + DAY;
    let mut scenario = gl::Scenario::default();
    scenario.groups.push(gl::Group { id: 1, full_path: "g".into(), members: vec![] });
    scenario.projects.push(gl::Project { id: 10, path: "g/p".into() });
    // 50 pages of 100 notes are read per item; this one has a page more.
    let notes = (0..5_050u64)
        .map(|n| gl_record(n + 1, t + n as Ts, "bo", RecordKind::Note { body: format!("note {n}"), system: false }))
        .collect();
    scenario.items.push(gl_item(1, 1, false, "amy", t, notes));
    let standin = GitlabStandIn::start(scenario, &[GL_TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), GL_TOKEN);
    let mut src = gitlab_source(&standin, &token, "g");
    let mut store = open_store(tmp.path(), "gl.db");
    sync(&mut src, &mut store, t + 10 * DAY).await;
    let count = |store: &SqliteStore| dump(store).1.len();
    assert_eq!(count(&store), 1 + 5_000, "opened, and the notes of the pages read");
    // The first note is deleted: the re-read is cut short again, so it cannot tell what the
    // notes it did not read are, and nothing is removed.
    standin.edit(|s| {
        let it = &mut s.items[0];
        it.records.remove(0);
        it.updated_at = t + 6_000;
    });
    sync(&mut src, &mut store, t + 10 * DAY).await;
    assert_eq!(count(&store), 1 + 5_001, "a page more read, none removed");
}
