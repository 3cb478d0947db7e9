//! The recorded real GitHub payloads in ../shared/realdata (or $SILOSCOPE_REALDATA): Perceval's
//! REST and GraphQL pages and GrimoireLab's collected items parse into exactly these items and
//! events, and the HTTP policy reads GitHub's real rate-limit answers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use siloscope::model::{Event, EventKind, ItemKind, ItemState, ReviewState, SETTLING, Ts};
use siloscope::sources::github::parse::{self, TimelineContext};
use siloscope::sources::http::{
    ApiClient, BoxFuture, Budget, HttpRequest, HttpResponse, HttpSettings, ManualClock, Method, Transport,
};

fn realdata_file(path: &str) -> Value {
    let dir = std::env::var_os("SILOSCOPE_REALDATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata"));
    let path = dir.join(path);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}; set SILOSCOPE_REALDATA", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn realdata(file: &str) -> Value {
    realdata_file(&format!("perceval/github/{file}"))
}

/// The `data` of GrimoireLab's collected item (`grimoirelab-elk/<file>`) whose `html_url` is `url`.
fn collected(file: &str, category: &str, url: &str) -> Value {
    let items = realdata_file(&format!("grimoirelab-elk/{file}"));
    let found = items.as_array().unwrap().iter().find(|i| i["category"] == category && i["data"]["html_url"] == url);
    found.unwrap_or_else(|| panic!("no {category} {url} in {file}"))["data"].clone()
}

fn ts(text: &str) -> Ts {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp()
}

/// (id, at, actor, kind) of events, for exact comparison.
fn rows(events: &[Event]) -> Vec<(String, Ts, Option<String>, EventKind)> {
    events.iter().map(|e| (e.id.clone(), e.at, e.actor.clone(), e.kind.clone())).collect()
}

fn timeline(file: &str, kind: &str) -> Vec<Value> {
    realdata(file)["data"]["repository"][kind]["timelineItems"]["nodes"].as_array().unwrap().clone()
}

const ISSUE: &str = "github:valeriocos/test-issues-update#1";
const PULL: &str = "github:zhquan/test-merged-event#387";

#[test]
fn graphql_timeline_pages_of_an_issue() {
    let ctx =
        TimelineContext { key: ISSUE, scope: "valeriocos/test-issues-update", kind: ItemKind::Issue, merged_at: None };
    let page1 = parse::timeline_events(&timeline("github_events_page_1", "issue"), &ctx).unwrap();
    assert_eq!(
        rows(&page1),
        vec![
            (
                "github:MDEyOkxhYmVsZWRFdmVudDMyMDkzOTI3NzU=".into(),
                ts("2020-04-07T11:21:12Z"),
                Some("github:valeriocos".into()),
                EventKind::Labeled { label: "bug".into() }
            ),
            (
                "github:MDEyOkxhYmVsZWRFdmVudDMyMDkzOTMxMzI=".into(),
                ts("2020-04-07T11:21:19Z"),
                Some("github:valeriocos".into()),
                EventKind::Labeled { label: "duplicate".into() }
            ),
        ]
    );
    assert!(page1.iter().all(|e| e.item == ISSUE));
    // A project-column move and a plain cross-reference from another issue are no model events.
    assert_eq!(parse::timeline_events(&timeline("github_events_page_2", "issue"), &ctx).unwrap(), vec![]);
}

#[test]
fn graphql_timeline_pages_of_a_pull_request() {
    let merged_at = ts("2020-10-07T18:08:10Z");
    let ctx = TimelineContext {
        key: PULL,
        scope: "zhquan/test-merged-event",
        kind: ItemKind::PullRequest,
        merged_at: Some(merged_at),
    };
    let merged = parse::timeline_events(&timeline("github_events_page_3", "pullRequest"), &ctx).unwrap();
    assert_eq!(
        rows(&merged),
        vec![(
            "github:MDExOk1lcmdlZEV2ZW50Mzg1MTg2NjA3MQ==".into(),
            merged_at,
            Some("github:zhquan".into()),
            EventKind::Merged
        )]
    );
    // Perceval's review nodes carry no node id: their URL is the stable id.
    let reviews = parse::timeline_events(&timeline("github_events_pull_request_review", "pullRequest"), &ctx).unwrap();
    let url = "https://github.com/zhquan/test-merged-event/pull/387#pullrequestreview-";
    assert_eq!(
        rows(&reviews),
        vec![
            (
                format!("github:{url}496553963"),
                ts("2020-09-25T16:02:47Z"),
                Some("github:zhquan".into()),
                EventKind::Reviewed { state: ReviewState::ChangesRequested }
            ),
            (
                format!("github:{url}497441001"),
                ts("2020-09-28T12:00:22Z"),
                Some("github:zhquan".into()),
                EventKind::Reviewed { state: ReviewState::Commented }
            ),
            (
                format!("github:{url}504138961"),
                ts("2020-10-07T18:06:51Z"),
                Some("github:zhquan".into()),
                EventKind::Reviewed { state: ReviewState::Approved }
            ),
        ]
    );
}

/// Answers every request with one recorded body.
struct Recorded(Vec<u8>, Mutex<u32>);

impl Transport for Recorded {
    fn send<'a>(&'a self, _: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>> {
        *self.1.lock().unwrap() += 1;
        let body = self.0.clone();
        Box::pin(async move { Ok(HttpResponse { status: 200, headers: vec![], body }) })
    }
}

#[tokio::test]
async fn a_graphql_error_answer_fails_with_githubs_message_and_no_retry() {
    let path_body = serde_json::to_vec(&realdata("github_events_error")).unwrap();
    let transport = Arc::new(Recorded(path_body, Mutex::new(0)));
    let client = ApiClient::new("gh", transport.clone(), Arc::new(ManualClock::new(1e9)), HttpSettings::default());
    let e = client.graphql("https://api.github.com/graphql", None, "query { x }", Value::Null).await.unwrap_err();
    assert_eq!(e.kind, "http");
    assert_eq!(e.message, "GraphQL query failed: Parse error on \"=\" (EQUALS) at [7, 80]");
    assert_eq!(*transport.1.lock().unwrap(), 1);
}

#[test]
fn rest_issue_lists() {
    let list = realdata("github_request");
    let (item, events) = parse::rest_item(&list[0], "gh").unwrap();
    assert_eq!(item.key, "github:zhquan_example/repo#1");
    assert_eq!(
        (item.kind, item.scope.as_str(), item.url.as_str(), item.title.as_str()),
        (ItemKind::PullRequest, "zhquan_example/repo", "https://github.com/zhquan_example/repo/pull/1", "Title 1")
    );
    assert_eq!((item.author.as_deref(), item.state), (Some("github:zhquan_example"), ItemState::Closed));
    assert_eq!((item.created_at, item.updated_at), (ts("2016-02-01T07:10:24Z"), ts("2016-02-01T12:13:21Z")));
    assert_eq!(
        rows(&events),
        vec![(
            "github:pull/1#opened".into(),
            ts("2016-02-01T07:10:24Z"),
            Some("github:zhquan_example".into()),
            EventKind::Opened
        )]
    );

    let (issue, _) = parse::rest_item(&realdata("github_issue_2")[0], "gh").unwrap();
    assert_eq!(
        (issue.key.as_str(), issue.kind, issue.state),
        ("github:zhquan_example/repo#2", ItemKind::Issue, ItemState::Closed)
    );
    let (open_pr, _) = parse::rest_item(&realdata("github_issue_1")[0], "gh").unwrap();
    assert_eq!(
        (open_pr.kind, open_pr.state, open_pr.title.as_str()),
        (ItemKind::PullRequest, ItemState::Open, "title 1")
    );
    assert_eq!(realdata("github_empty_request"), Value::Array(vec![]));
}

#[test]
fn a_single_rest_pull_request() {
    // Merged (by zhquan_example) although the anonymised record lost merged_at: no Merged event
    // is invented without its time.
    let (pr, events) = parse::rest_item(&realdata("github_request_pull_request_1"), "gh").unwrap();
    assert_eq!(
        (pr.key.as_str(), pr.kind, pr.state),
        ("github:zhquan_example/repo#1", ItemKind::PullRequest, ItemState::Merged)
    );
    assert_eq!(pr.title, "Config files for a documentation, using Sphinx.");
    assert_eq!(
        rows(&events),
        vec![(
            "github:pull/1#opened".into(),
            ts("2016-01-03T23:46:04Z"),
            Some("github:zhquan_example".into()),
            EventKind::Opened
        )]
    );
}

#[test]
fn rest_reviews_comments_and_commits() {
    let item = "github:zhquan_example/repo#1";
    let reviews = parse::rest_reviews(&realdata("github_request_pull_request_1_reviews"), item).unwrap();
    let approved = EventKind::Reviewed { state: ReviewState::Approved };
    // The anonymised record repeats one node id and has a deleted reviewer (`"user": {}`).
    assert_eq!(
        rows(&reviews),
        vec![
            (
                "github:MDE3OlB1bGxSZXF1ZXN0UmV2aWV3MjA1NzI5MTgy".into(),
                ts("2019-02-20T12:26:10Z"),
                Some("github:zhquan_example".into()),
                approved.clone()
            ),
            ("github:MDE3OlB1bGxSZXF1ZXN0UmV2aWV3MjA1NzI5MTgy".into(), ts("2019-02-20T12:26:10Z"), None, approved),
        ]
    );
    let review_comments = parse::rest_comments(&realdata("github_request_pull_request_1_comments"), item).unwrap();
    let commented = EventKind::Commented { mentions: vec![] };
    assert_eq!(
        rows(&review_comments),
        vec![
            (
                "github:reviewcomment/1".into(),
                ts("2015-12-04T19:07:22Z"),
                Some("github:zhquan_example".into()),
                commented.clone()
            ),
            (
                "github:reviewcomment/2".into(),
                ts("2015-12-04T19:09:29Z"),
                Some("github:zhquan_example".into()),
                commented.clone()
            ),
        ]
    );
    // Deleted authors come as `"user": {}` or `null`: no actor.
    let second = parse::rest_comments(&realdata("github_request_pull_request_2_comments"), item).unwrap();
    assert_eq!(second.iter().map(|e| e.actor.is_some()).collect::<Vec<_>>(), vec![true, true, false, false]);
    let issue_comments =
        parse::rest_comments(&realdata("github_issue_comments_1"), "github:zhquan_example/repo#1").unwrap();
    assert_eq!(
        rows(&issue_comments),
        vec![(
            "github:issuecomment/1".into(),
            ts("2016-11-26T11:34:39Z"),
            Some("github:zhquan_example".into()),
            commented
        )]
    );
    // Authored 2015-12-31T18:16:25Z, committed again 2016-01-03T23:26:58Z: the authored date.
    let commits = parse::rest_commits(&realdata("github_request_pull_request_1_commits"), item).unwrap();
    assert_eq!(
        rows(&commits),
        vec![(
            format!("github:MDY6Q29tbWl0NDg4NTgyMjU6NTNiOTcwZWUwNGJiYzQzNTg0MmMxNGEyY2JmZGQ2MjNmYWY3NGE2NQ==@{item}"),
            ts("2015-12-31T18:16:25Z"),
            Some("github:jgbarah".into()),
            EventKind::Committed { co_authors: vec![] }
        )]
    );
}

/// The one real pull-request commit of the recordings (perceval#1's 53b970e), authored on
/// 2015-12-31 and committed again three days later, as GitHub's GraphQL `PullRequestCommit`
/// gives it: `user` is null when no account claims the author's e-mail.
fn real_commit_as_graphql(user: Value) -> Value {
    let rest = &realdata("github_request_pull_request_1_commits")[0];
    let commit = &rest["commit"];
    json!({
        "__typename": "PullRequestCommit",
        "id": rest["node_id"],
        "commit": {
            "oid": rest["sha"], "message": commit["message"],
            "authoredDate": commit["author"]["date"], "committedDate": commit["committer"]["date"],
            "author": {"name": commit["author"]["name"], "email": commit["author"]["email"], "user": user}
        }
    })
}

#[test]
fn a_commit_is_dated_when_it_was_authored_and_an_unlinked_author_is_their_e_mail() {
    let rest = realdata("github_request_pull_request_1_commits");
    assert_ne!(rest[0]["commit"]["author"]["date"], rest[0]["commit"]["committer"]["date"], "a rebased commit");
    let key = "github:chaoss/grimoirelab-perceval#1";
    let ctx =
        TimelineContext { key, scope: "chaoss/grimoirelab-perceval", kind: ItemKind::PullRequest, merged_at: None };
    let graphql = |user: Value| parse::timeline_events(&[real_commit_as_graphql(user)], &ctx).unwrap();
    let node_id = "github:MDY6Q29tbWl0NDg4NTgyMjU6NTNiOTcwZWUwNGJiYzQzNTg0MmMxNGEyY2JmZGQ2MjNmYWY3NGE2NQ==";
    let committed = EventKind::Committed { co_authors: vec![] };
    let authored = ts("2015-12-31T18:16:25Z");
    assert_eq!(
        rows(&graphql(json!({"login": "jgbarah"}))),
        vec![(node_id.to_string(), authored, Some("github:jgbarah".to_string()), committed.clone())]
    );
    let email = Some("email:jgb@gsyc.es".to_string());
    assert_eq!(rows(&graphql(Value::Null)), vec![(node_id.to_string(), authored, email.clone(), committed.clone())]);
    // REST gives `"author": null` for the same case.
    let mut unlinked = rest.clone();
    unlinked[0]["author"] = Value::Null;
    let rest_rows = rows(&parse::rest_commits(&unlinked, key).unwrap());
    assert_eq!(rest_rows, vec![(format!("{node_id}@{key}"), authored, email.clone(), committed)]);

    // The directory's e-mails (any case) resolve that identity to its person and team.
    let config =
        "[[teams]]\nname = \"docs\"\n\n[[people]]\nname = \"Jesus\"\nemails = [\"JGB@gsyc.es\"]\nteam = \"docs\"\n";
    let config = siloscope::config::Config::parse(config, std::path::Path::new("siloscope.toml")).unwrap();
    let dir = config.directory.builder().build();
    let docs = dir.team_by_name("docs").unwrap();
    assert_eq!(dir.team_of(email.as_deref().unwrap(), authored), Some(docs));
}

/// The real `MergedEvent` and `ClosedEvent` of valeriocos/test-issues-update#3, merged and closed
/// in the same second (2020-04-12T07:51:05Z), as GrimoireLab collected them.
fn real_merge_and_close() -> (Value, Value) {
    let events = realdata_file("grimoirelab-elk/githubql.json");
    let pick = |t: &str| {
        let e = events.as_array().unwrap().iter().find(|e| {
            e["data"]["eventType"] == t
                && e["data"]["issue"]["html_url"] == "https://github.com/valeriocos/test-issues-update/pull/3"
        });
        let mut node = e.unwrap_or_else(|| panic!("no {t} of pull 3"))["data"].clone();
        node.as_object_mut().unwrap().remove("issue");
        node
    };
    (pick("MergedEvent"), pick("ClosedEvent"))
}

fn shifted(node: &Value, seconds: Ts) -> Value {
    let mut n = node.clone();
    let at = chrono::DateTime::from_timestamp(ts(n["createdAt"].as_str().unwrap()) + seconds, 0).unwrap();
    n["createdAt"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    n
}

#[test]
fn the_close_that_comes_with_a_merge_is_part_of_it_in_either_order_and_a_second_apart() {
    let (merge, close) = real_merge_and_close();
    let merged_at = ts("2020-04-12T07:51:05Z");
    assert_eq!(
        (ts(merge["createdAt"].as_str().unwrap()), &merge["pullRequest"]["mergedAt"]),
        (merged_at, &json!("2020-04-12T07:51:05Z"))
    );
    let key = "github:valeriocos/test-issues-update#3";
    let ctx = TimelineContext {
        key,
        scope: "valeriocos/test-issues-update",
        kind: ItemKind::PullRequest,
        merged_at: Some(merged_at),
    };
    let read = |nodes: &[Value]| rows(&parse::timeline_events(nodes, &ctx).unwrap());
    let merged = vec![(
        "github:MDExOk1lcmdlZEV2ZW50MzIyNDg1NzkwNg==".to_string(),
        merged_at,
        Some("github:valeriocos".to_string()),
        EventKind::Merged,
    )];
    assert_eq!(read(&[merge.clone(), close.clone()]), merged, "as recorded");
    assert_eq!(read(&[close.clone(), merge.clone()]), merged, "the close listed first");
    assert_eq!(read(&[merge.clone(), shifted(&close, 1)]), merged, "closed the next second");
    assert_eq!(read(&[shifted(&close, -1), merge.clone()]), merged, "the close a second before");
    assert_eq!(read(&[merge.clone(), shifted(&close, SETTLING)]), merged, "at the edge of the window");
    // A follow-up page holding only the close: the item's mergedAt pairs it.
    assert_eq!(read(&[shifted(&close, 1)]), vec![], "a page without the MergedEvent");

    // A close of its own stays one: reopened before the merge, or further than SETTLING away.
    let mut reopen = shifted(&close, -20);
    reopen["eventType"] = json!("ReopenedEvent");
    reopen["id"] = json!("REOPENED");
    let mut own_close = shifted(&close, -40);
    own_close["id"] = json!("OWN_CLOSE");
    let closed_own = |at: Ts| {
        (
            "github:OWN_CLOSE".to_string(),
            at,
            Some("github:valeriocos".to_string()),
            EventKind::Closed { completed: false },
        )
    };
    let got = read(&[own_close.clone(), reopen.clone(), merge.clone(), close.clone()]);
    assert_eq!(
        got.iter().map(|r| r.3.clone()).collect::<Vec<_>>(),
        vec![EventKind::Closed { completed: false }, EventKind::Reopened, EventKind::Merged]
    );
    assert_eq!(got[0], closed_own(merged_at - 40));
    assert_eq!(read(&[own_close.clone(), reopen.clone()]).len(), 2, "by time, on a page without the merge");
    let far = shifted(&own_close, 40 - SETTLING - 1);
    assert_eq!(read(&[far, merge.clone()])[0], closed_own(merged_at - SETTLING - 1));

    // On an issue the same ClosedEvent is a close: issue #1 was closed by this merge.
    let issue = TimelineContext {
        key: "github:valeriocos/test-issues-update#1",
        kind: ItemKind::Issue,
        merged_at: None,
        ..ctx
    };
    assert_eq!(
        parse::timeline_events(&[close], &issue).unwrap().iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        vec![EventKind::Closed { completed: true }]
    );
}

#[test]
fn rest_pull_requests_and_issues_close_by_the_same_rules() {
    let kinds = |v: &Value| {
        let (_, events) = parse::rest_item(v, "gh").unwrap();
        events.iter().map(|e| (e.at, e.actor.clone(), e.kind.clone())).collect::<Vec<_>>()
    };
    let merged_at = ts("2019-02-22T16:21:03Z");
    let fdc3 = collected("github.json", "pull_request", "https://github.com/finos/FDC3/pull/7");
    assert_eq!(fdc3["closed_at"], fdc3["merged_at"], "merged and closed in one second");
    let merged_only = vec![
        (ts("2019-02-21T11:52:46Z"), Some("github:maoo".to_string()), EventKind::Opened),
        (merged_at, Some("github:rikoe".to_string()), EventKind::Merged),
    ];
    assert_eq!(kinds(&fdc3), merged_only);
    let mut next_second = fdc3.clone();
    next_second["closed_at"] = json!("2019-02-22T16:21:04Z");
    assert_eq!(kinds(&next_second), merged_only, "closed the second after the merge");
    let elk = collected("github2.json", "pull_request", "https://github.com/chaoss/grimoirelab-elk/pull/1000");
    assert_eq!(kinds(&elk).iter().map(|r| r.2.clone()).collect::<Vec<_>>(), vec![EventKind::Opened, EventKind::Merged]);

    // Closed without a merge: a close, not completed.
    let unmerged = collected("github.json", "pull_request", "https://github.com/chaoss/grimoirelab-perceval/pull/4");
    assert_eq!(unmerged["merged"], false);
    assert_eq!(
        kinds(&unmerged),
        vec![
            (ts("2016-01-04T16:07:16Z"), Some("github:acs".to_string()), EventKind::Opened),
            (ts("2016-01-04T16:18:24Z"), None, EventKind::Closed { completed: false }),
        ]
    );
    // A closed issue without a state reason (recorded before GitHub had them) was completed.
    let (_, events) = parse::rest_item(&realdata("github_issue_2")[0], "gh").unwrap();
    assert_eq!(
        rows(&events)[1],
        ("github:issue/2#closed".to_string(), ts("2016-03-15T15:09:29Z"), None, EventKind::Closed { completed: true })
    );
}

/// Answers from a script, in order.
struct Script(Mutex<VecDeque<HttpResponse>>);

impl Transport for Script {
    fn send<'a>(&'a self, _: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>> {
        let next = self.0.lock().unwrap().pop_front().ok_or_else(|| "script exhausted".to_string());
        Box::pin(async move { next })
    }
}

/// GitHub's answer to `GET /rate_limit`: the recorded document, and in `x-ratelimit-*` headers
/// the numbers of the budget the request counted against (`core`), as on every REST answer.
fn rate_limit_answer(file: &str) -> HttpResponse {
    let doc = realdata(file);
    let core = &doc["resources"]["core"];
    let (limit, remaining) = (core["limit"].as_i64().unwrap(), core["remaining"].as_i64().unwrap());
    let headers = [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-used", (limit - remaining).to_string()),
        ("x-ratelimit-reset", core["reset"].to_string()),
        ("x-ratelimit-resource", "core".to_string()),
    ];
    HttpResponse {
        status: 200,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        body: serde_json::to_vec(&doc).unwrap(),
    }
}

fn gauge(metrics: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name}{{source=\"gh\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn the_real_403_abuse_body_and_rate_limit_documents_are_what_the_policy_reads() {
    // Recorded a minute before the search budget's reset (1511192122).
    let clock = Arc::new(ManualClock::new(1_511_192_062.0));
    let abuse =
        HttpResponse { status: 403, headers: vec![], body: serde_json::to_vec(&realdata("abuse_rate_limit")).unwrap() };
    let script = [
        abuse,
        rate_limit_answer("rate_limit"),
        rate_limit_answer("rate_limit_aaa"),
        rate_limit_answer("rate_limit_bbb"),
    ];
    let transport = Arc::new(Script(Mutex::new(script.into())));
    let client = ApiClient::new("gh", transport, clock.clone(), HttpSettings::default());
    let telemetry = std::sync::Arc::new(siloscope::sources::telemetry::SourceTelemetry::default());
    let mut exporter = siloscope::exporter::Exporter::new();
    exporter.register(|r| telemetry.register(r));
    telemetry.register_source("gh");
    client.set_health(telemetry.clone());
    let get = HttpRequest {
        method: Method::Get,
        url: "https://api.github.com/rate_limit".into(),
        headers: vec![],
        body: None,
        authorization: None,
    };
    let remaining = || gauge(&exporter.render(), "siloscope_source_rate_limit_remaining");

    // The abuse-detection 403 is a secondary limit: a minute's wait, then the document.
    let (_, doc) = client.send_json(&get, Budget::Rest, false).await.unwrap();
    assert_eq!(doc["resources"]["graphql"]["remaining"], 5000);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(60)]);
    let errors = exporter.render();
    assert!(
        errors.lines().any(|l| l.starts_with("siloscope_source_errors_total{")
            && l.contains("kind=\"rate_limit\"")
            && l.ends_with(" 1")),
        "{errors}"
    );
    assert_eq!(remaining(), Some(4990.0));
    // 10 left of the core budget: published, and still no reason to wait. (Each read is a
    // step of its own: one step sending the same request twice would be a loop.)
    client.begin_step();
    client.send_json(&get, Budget::Rest, false).await.unwrap();
    assert_eq!(remaining(), Some(10.0));
    client.begin_step();
    client.send_json(&get, Budget::Rest, false).await.unwrap();
    assert_eq!(remaining(), Some(4990.0));
    assert_eq!(clock.sleeps().len(), 1, "{:?}", clock.sleeps());
    assert_eq!(client.stats().requests, 4);
}
