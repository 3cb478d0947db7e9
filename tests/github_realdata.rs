//! The recorded real GitHub payloads in ../shared/realdata/perceval/github (or
//! $SILOSCOPE_REALDATA/perceval/github) parse into exactly these items and events.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use siloscope::model::{Event, EventKind, ItemKind, ItemState, ReviewState, Ts};
use siloscope::sources::github::parse::{self, TimelineContext};
use siloscope::sources::http::{ApiClient, BoxFuture, HttpRequest, HttpResponse, HttpSettings, ManualClock, Transport};

fn realdata(file: &str) -> Value {
    let dir = std::env::var_os("SILOSCOPE_REALDATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata"));
    let path = dir.join("perceval/github").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}; set SILOSCOPE_REALDATA", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
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
    let commits = parse::rest_commits(&realdata("github_request_pull_request_1_commits"), item).unwrap();
    assert_eq!(
        rows(&commits),
        vec![(
            format!("github:MDY6Q29tbWl0NDg4NTgyMjU6NTNiOTcwZWUwNGJiYzQzNTg0MmMxNGEyY2JmZGQ2MjNmYWY3NGE2NQ==@{item}"),
            ts("2016-01-03T23:26:58Z"),
            Some("github:jgbarah".into()),
            EventKind::Committed { co_authors: vec![] }
        )]
    );
}

#[test]
fn the_real_403_abuse_body_and_rate_limit_documents_are_what_the_policy_reads() {
    assert!(realdata("abuse_rate_limit")["message"].as_str().unwrap().contains("abuse detection"));
    let rl = realdata("rate_limit");
    assert_eq!(rl["resources"]["graphql"]["remaining"], 5000);
}
