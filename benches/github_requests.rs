//! What the GitHub source spends against the stand-in, in requests and in GraphQL rate-limit
//! points: a full backfill of 1000 issues and pull requests with ~20 timeline events each, and an
//! idle poll; next to what a REST collector reading the same items spends. Points are GitHub's
//! documented formula applied by the stand-in to each document received (the products of nested
//! `first`/`last`, summed, / 100, rounded, at least 1), and what the source read back from
//! `rateLimit { cost }`. Run: `cargo bench --bench github_requests`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use siloscope::model::Ts;
use siloscope::sources::Source;
use siloscope::sources::github::{GithubAuth, GithubConfig, GithubSource};
use siloscope::sources::http::{
    ApiClient, Budget, HttpRequest, HttpSettings, ManualClock, Method, NetworkTransport, Secret,
};
use siloscope_testkit::github::{
    Actor, GithubStandIn, Node, NodeKind, Repo, RequestedReviewer, ReviewComment, Scenario, ScenarioItem,
};

const TOKEN: &str = "ghp_benchmark";
const T0: Ts = 1_700_006_400;
const ITEMS: usize = 1000;
const REPOS: usize = 10;

/// A deterministic organisation: 1000 items (40% pull requests) over 10 repositories, 20
/// timeline events each (pull requests: requests, reviews with comments, commits, merge).
fn scenario() -> Scenario {
    let mut s = Scenario::default();
    for r in 0..REPOS {
        s.repos.push(Repo {
            id: format!("R_{r}"),
            name: format!("bench/repo-{r}"),
            pushed_at: T0,
            archived: false,
            files: BTreeMap::new(),
        });
    }
    let people = ["amy", "bo", "cy", "dee", "eli", "fay", "gus", "hal"];
    let who = |k: usize| Some(Actor::user(people[k % people.len()]));
    for i in 0..ITEMS {
        let pull = i % 5 < 2;
        let created = T0 + (i as Ts) * 600;
        let mut timeline = Vec::new();
        let mut at = created;
        for k in 0..20 {
            at += 300;
            let kind = match (pull, k) {
                (_, 0) => NodeKind::Labeled(format!("team:{}", people[i % 4])),
                (_, 1) => NodeKind::Assigned(Actor::user(people[(i + 1) % 8])),
                (true, 2) => NodeKind::ReviewRequested(RequestedReviewer::Team("bench/reviewers".into())),
                (true, 3) => NodeKind::ReviewRequested(RequestedReviewer::User(Actor::user(people[(i + 2) % 8]))),
                (true, k) if k % 5 == 4 => NodeKind::Commit {
                    oid: format!("{i:020}{k:020}"),
                    author: who(i),
                    email: format!("{}@bench.io", people[i % 8]),
                    message: format!("Change {k}\n\nCo-authored-by: X <{}@bench.io>", people[(i + 3) % 8]),
                },
                (true, k) if k % 5 == 0 => NodeKind::Review {
                    state: if k == 15 { "APPROVED" } else { "CHANGES_REQUESTED" }.into(),
                    comments: (0..2)
                        .map(|c| ReviewComment {
                            id: format!("RC_{i}_{k}_{c}"),
                            at,
                            author: who(i + 2),
                            body: "nit".into(),
                        })
                        .collect(),
                },
                (true, 19) => NodeKind::Merged,
                (false, 19) => NodeKind::Closed(Some("COMPLETED".into())),
                _ => NodeKind::Comment(format!("comment {k} cc @bench/reviewers")),
            };
            timeline.push(Node { id: format!("N_{i}_{k}"), at, actor: who(i + k), kind });
        }
        s.items.push(ScenarioItem {
            id: format!("I_{i}"),
            repo: i % REPOS,
            number: (i / REPOS + 1) as u64,
            pull,
            title: format!("Item {i}"),
            body: String::new(),
            author: who(i),
            created_at: created,
            updated_at: at,
            opened_as_draft: false,
            merged_by: if pull { who(i) } else { None },
            timeline,
            malformed: false,
        });
    }
    s
}

fn config(standin: &GithubStandIn, token_file: std::path::PathBuf) -> GithubConfig {
    let mut cfg = GithubConfig::for_organizations(&["bench"]);
    cfg.api_url = standin.url();
    cfg.graphql_url = standin.graphql_url();
    cfg.auth = GithubAuth::Token { env: None, file: Some(token_file) };
    cfg
}

/// Steps until caught up; returns (steps, items, events).
async fn sync(src: &mut GithubSource, cursor: &mut Option<String>) -> (u32, usize, usize) {
    let (mut steps, mut items, mut events) = (0, 0, 0);
    loop {
        let step = src.step(cursor.as_deref(), T0 + 400 * 86_400).await.expect("sync step");
        steps += 1;
        items += step.batch.items.len();
        events += step.batch.events.len();
        *cursor = step.batch.cursor.clone();
        if step.caught_up {
            return (steps, items, events);
        }
    }
}

/// What a REST collector spends on the same items: issue pages, then per item the timeline,
/// and per pull request its reviews, review comments and commits (all pages followed).
async fn rest_collector(standin: &GithubStandIn) -> u64 {
    let client = ApiClient::new(
        "rest",
        Arc::new(NetworkTransport::new(Duration::from_secs(5)).unwrap()),
        Arc::new(ManualClock::new(1e9)),
        HttpSettings::default(),
    );
    let get = |url: String| HttpRequest {
        method: Method::Get,
        url,
        headers: vec![],
        body: None,
        authorization: Some(Secret::new(TOKEN)),
    };
    let before = standin.counters().requests;
    let follow = |first: String| {
        let client = &client;
        let get = &get;
        async move {
            let mut url = Some(first);
            let mut all = Vec::new();
            while let Some(u) = url {
                let (resp, body) = client.send_json(&get(u), Budget::Rest, false).await.unwrap();
                all.extend(body.as_array().cloned().unwrap_or_default());
                url = resp.header("link").and_then(|l| {
                    l.split(',')
                        .find(|p| p.contains("rel=\"next\""))
                        .map(|p| p.trim().trim_start_matches('<').split('>').next().unwrap().to_string())
                });
            }
            all
        }
    };
    let base = standin.url();
    for r in 0..REPOS {
        let repo = format!("bench/repo-{r}");
        let issues = follow(format!("{base}/repos/{repo}/issues?state=all&per_page=100")).await;
        for issue in issues {
            let n = issue["number"].as_u64().unwrap();
            follow(format!("{base}/repos/{repo}/issues/{n}/timeline?per_page=100")).await;
            if issue.get("pull_request").is_some() {
                for sub in ["reviews", "comments", "commits"] {
                    follow(format!("{base}/repos/{repo}/pulls/{n}/{sub}?per_page=100")).await;
                }
            }
        }
    }
    standin.counters().requests - before
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let scenario = scenario();
        let standin = GithubStandIn::start(scenario, &[TOKEN]).await.unwrap();
        let tmp = std::env::temp_dir().join(format!("siloscope-bench-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let token_file = tmp.join("token");
        std::fs::write(&token_file, TOKEN).unwrap();
        let clock = Arc::new(ManualClock::new(chrono::Utc::now().timestamp() as f64));
        let transport = Arc::new(NetworkTransport::new(Duration::from_secs(5)).unwrap());
        let mut src = GithubSource::with_transport("bench", config(&standin, token_file.clone()), transport, clock, HttpSettings::default());
        let mut cursor = None;

        let started = Instant::now();
        let (steps, items, events) = sync(&mut src, &mut cursor).await;
        let backfill = standin.counters();
        let read_back = src.client().map_or(0, |c| c.stats().graphql_points);
        let per_1000 = backfill.requests as f64 * 1000.0 / ITEMS as f64;
        let points_per_1000 = backfill.graphql_points as f64 * 1000.0 / ITEMS as f64;
        println!("github backfill: {ITEMS} items ({items} read, {events} events) in {steps} steps, {:.2?}", started.elapsed());
        println!("github backfill requests: {} ({per_1000:.1} per 1000 items; target <= 30)", backfill.requests);
        println!(
            "github backfill GraphQL points by GitHub's formula: {} ({points_per_1000:.0} per 1000 items; target <= 400; \
             {} connection requests / 100); the source read back {read_back} from rateLimit.cost",
            backfill.graphql_points, backfill.graphql_connection_requests
        );
        println!("github backfill operations: {:?}", backfill.operations);

        standin.reset_counters();
        let before_idle = src.client().map_or(0, |c| c.stats().graphql_points);
        let (steps, items, _) = sync(&mut src, &mut cursor).await;
        let idle = standin.counters();
        let idle_read_back = src.client().map_or(0, |c| c.stats().graphql_points) - before_idle;
        println!("github idle poll: {} requests for 1 organisation in {steps} steps, {items} items re-read (target: 1)", idle.requests);
        println!(
            "github idle poll GraphQL points by GitHub's formula: {} (target <= 2; {} connection requests); read back {idle_read_back}",
            idle.graphql_points, idle.graphql_connection_requests
        );

        standin.reset_counters();
        let rest = rest_collector(&standin).await;
        println!("REST collector (issues, timeline, reviews, review comments, commits): {rest} requests ({:.1} per 1000 items)", rest as f64 * 1000.0 / ITEMS as f64);
        assert!(per_1000 <= 30.0, "backfill over budget: {per_1000:.1} requests per 1000 items");
        assert_eq!(idle.requests, 1, "idle poll over budget");
        assert!(points_per_1000 <= 400.0, "backfill over its points budget: {points_per_1000:.0} per 1000 items");
        assert!(idle.graphql_points <= 2, "idle poll over its points budget: {}", idle.graphql_points);
        assert_eq!((backfill.graphql_points, idle.graphql_points), (read_back, idle_read_back), "the source's accounting agrees");
        let _ = std::fs::remove_dir_all(&tmp);
    });
}
