//! A GitHub stand-in: an axum server answering the GraphQL documents the GitHub source sends and
//! the plain REST endpoints other collectors use (issues with `since`, pulls, reviews, comments,
//! commits, timeline; `Link` pagination, ETags), in GitHub's shapes, from a [`Scenario`].
//! Every GraphQL request is validated and charged as GitHub does, and every answer is checked
//! against GitHub's schema for the document that asked (`schema`); a mismatch fails loudly.
//! It counts requests and rate-limit points and injects faults on demand. Loopback only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::model::{DirectorySnapshot, Event, EventKind, Item, ItemKind, LinkRelation, ReviewState, Reviewer, Ts};
use crate::mutex::lock;
use crate::sources::http::{Clock, SystemClock};

pub mod schema;

// ---------------------------------------------------------------------------------------------
// The scenario.

/// A GitHub user or bot. `login` of a bot is without the `[bot]` suffix, as GraphQL gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub login: String,
    pub bot: bool,
}

impl Actor {
    pub fn user(login: &str) -> Actor {
        Actor { login: login.to_string(), bot: false }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RequestedReviewer {
    User(Actor),
    /// `org/slug`.
    Team(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewComment {
    pub id: String,
    pub at: Ts,
    pub author: Option<Actor>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Assigned(Actor),
    Unassigned(Actor),
    Labeled(String),
    Unlabeled(String),
    Comment(String),
    /// `stateReason`: COMPLETED, NOT_PLANNED, DUPLICATE, or None.
    Closed(Option<String>),
    Reopened,
    Merged,
    /// From repository `owner/name`.
    Transferred(String),
    /// Referenced from the item with this index in `Scenario::items`.
    CrossReferenced(usize),
    /// (canonical, duplicate) item indexes.
    MarkedAsDuplicate(usize, usize),
    ReviewRequested(RequestedReviewer),
    ReviewRequestRemoved(RequestedReviewer),
    ReadyForReview,
    ConvertToDraft,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    Review {
        state: String,
        comments: Vec<ReviewComment>,
    },
    /// A commit of a pull request: author login (if linked) and e-mail, message.
    Commit {
        oid: String,
        author: Option<Actor>,
        email: String,
        message: String,
    },
}

/// One timeline item.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub at: Ts,
    pub actor: Option<Actor>,
    pub kind: NodeKind,
}

/// An issue or pull request.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioItem {
    pub id: String,
    /// Index in `Scenario::repos`.
    pub repo: usize,
    pub number: u64,
    pub pull: bool,
    pub title: String,
    pub body: String,
    pub author: Option<Actor>,
    pub created_at: Ts,
    pub updated_at: Ts,
    /// Opened as a draft (GitHub records no event for that).
    pub opened_as_draft: bool,
    pub merged_by: Option<Actor>,
    pub timeline: Vec<Node>,
    /// Served with a broken `createdAt`, to test that one bad item is skipped.
    pub malformed: bool,
}

impl ScenarioItem {
    fn merged_at(&self) -> Option<Ts> {
        self.timeline.iter().rev().find(|n| n.kind == NodeKind::Merged).map(|n| n.at)
    }
    /// `OPEN`, `CLOSED` or `MERGED` from the timeline.
    fn state(&self) -> &'static str {
        let mut state = "OPEN";
        for n in &self.timeline {
            match n.kind {
                NodeKind::Closed(_) if state != "MERGED" => state = "CLOSED",
                NodeKind::Reopened => state = "OPEN",
                NodeKind::Merged => state = "MERGED",
                _ => {}
            }
        }
        state
    }
    fn closed_at(&self) -> Option<Ts> {
        if self.state() == "OPEN" {
            return None;
        }
        self.timeline.iter().rev().find(|n| matches!(n.kind, NodeKind::Closed(_) | NodeKind::Merged)).map(|n| n.at)
    }
    fn state_reason(&self) -> Option<String> {
        if self.state() != "CLOSED" {
            return None;
        }
        self.timeline.iter().rev().find_map(|n| match &n.kind {
            NodeKind::Closed(r) => Some(r.clone()),
            _ => None,
        })?
    }
    fn is_draft(&self) -> bool {
        let mut draft = self.opened_as_draft;
        for n in &self.timeline {
            match n.kind {
                NodeKind::ReadyForReview => draft = false,
                NodeKind::ConvertToDraft => draft = true,
                _ => {}
            }
        }
        draft
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileCommit {
    pub oid: String,
    pub at: Ts,
    pub author: Option<Actor>,
    pub email: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Repo {
    pub id: String,
    /// `owner/name`.
    pub name: String,
    pub pushed_at: Ts,
    pub archived: bool,
    /// Files with their history (oldest first), at any path (CODEOWNERS, decision records).
    pub files: BTreeMap<String, Vec<FileCommit>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: String,
    pub org: String,
    pub slug: String,
    pub members: Vec<String>,
    /// (`owner/name`, permission: ADMIN, MAINTAIN, WRITE, TRIAGE, READ).
    pub repos: Vec<(String, String)>,
}

/// Everything the stand-in serves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    pub repos: Vec<Repo>,
    pub items: Vec<ScenarioItem>,
    pub teams: Vec<Team>,
    /// Logins of user accounts (not organisations) owning repositories.
    pub users: Vec<String>,
}

fn login_of(identity: &str) -> Option<Actor> {
    let login = identity.split_once(':').map_or(identity, |(_, l)| l);
    if login.is_empty() {
        return None;
    }
    match login.strip_suffix("[bot]") {
        Some(bot) => Some(Actor { login: bot.to_string(), bot: true }),
        None => Some(Actor::user(login)),
    }
}

/// `owner/repo#12` of a model key `source:owner/repo#12`.
fn split_key(key: &str) -> Option<(String, u64)> {
    let rest = key.split_once(':')?.1;
    let (scope, n) = rest.rsplit_once('#')?;
    Some((scope.to_string(), n.parse().ok()?))
}

/// The e-mail a commit trailer uses for an identity.
fn email_of(identity: &str) -> String {
    match identity.split_once(':') {
        Some(("email", addr)) => addr.to_string(),
        Some((_, login)) => format!("{login}@users.noreply.github.com"),
        None => identity.to_string(),
    }
}

impl Scenario {
    /// The GitHub shape of model items and events (the simulated organisation's issues and pull
    /// requests; other kinds are left out), with teams from a directory snapshot. Event ids
    /// become node ids, so the source reads them back as `github:<model id>`.
    pub fn from_model(items: &[Item], events: &[Event], directory: Option<&DirectorySnapshot>) -> Scenario {
        let mut s = Scenario::default();
        let mut repo_index: HashMap<String, usize> = HashMap::new();
        let mut item_index: HashMap<String, usize> = HashMap::new();
        for item in items.iter().filter(|i| matches!(i.kind, ItemKind::Issue | ItemKind::PullRequest)) {
            let Some((scope, number)) = split_key(&item.key) else { continue };
            let repo = *repo_index.entry(scope.clone()).or_insert_with(|| {
                s.repos.push(Repo {
                    id: format!("R_{scope}"),
                    name: scope.clone(),
                    pushed_at: 0,
                    archived: false,
                    files: BTreeMap::new(),
                });
                s.repos.len() - 1
            });
            item_index.insert(item.key.clone(), s.items.len());
            s.items.push(ScenarioItem {
                id: format!("N_{}", item.key),
                repo,
                number,
                pull: item.kind == ItemKind::PullRequest,
                title: item.title.clone(),
                body: String::new(),
                author: item.author.as_deref().and_then(login_of),
                created_at: item.created_at,
                updated_at: item.created_at,
                opened_as_draft: false,
                merged_by: None,
                timeline: Vec::new(),
                malformed: false,
            });
        }
        let mut sorted: Vec<&Event> = events.iter().collect();
        sorted.sort_by_key(|e| e.at);
        for e in sorted {
            let Some(&i) = item_index.get(&e.item) else { continue };
            let actor = e.actor.as_deref().and_then(login_of);
            let (scope, _) = split_key(&e.item).unwrap_or_default();
            let node = |kind| Node { id: e.id.clone(), at: e.at, actor: actor.clone(), kind };
            let it = &mut s.items[i];
            it.updated_at = it.updated_at.max(e.at);
            let pushed = match &e.kind {
                EventKind::Opened => None,
                EventKind::Assigned { assignee } => login_of(assignee).map(|a| node(NodeKind::Assigned(a))),
                EventKind::Unassigned { assignee } => login_of(assignee).map(|a| node(NodeKind::Unassigned(a))),
                EventKind::Labeled { label } => Some(node(NodeKind::Labeled(label.clone()))),
                EventKind::Unlabeled { label } => Some(node(NodeKind::Unlabeled(label.clone()))),
                EventKind::ReviewRequested { reviewer } | EventKind::ReviewRequestRemoved { reviewer } => {
                    let r = match reviewer {
                        Reviewer::Person(p) => login_of(p).map(RequestedReviewer::User),
                        Reviewer::Team(t) => Some(RequestedReviewer::Team(t.clone())),
                    };
                    r.map(|r| {
                        node(if matches!(e.kind, EventKind::ReviewRequested { .. }) {
                            NodeKind::ReviewRequested(r)
                        } else {
                            NodeKind::ReviewRequestRemoved(r)
                        })
                    })
                }
                EventKind::Reviewed { state } => Some(node(NodeKind::Review {
                    state: match state {
                        ReviewState::Approved => "APPROVED",
                        ReviewState::ChangesRequested => "CHANGES_REQUESTED",
                        ReviewState::Commented => "COMMENTED",
                    }
                    .into(),
                    comments: Vec::new(),
                })),
                EventKind::Commented { mentions } => {
                    let mut body = "Thanks, looking into it.".to_string();
                    for m in mentions {
                        body.push_str(&format!(" cc @{m}"));
                    }
                    Some(node(NodeKind::Comment(body)))
                }
                EventKind::Committed { co_authors } => {
                    let mut message = "Update the implementation".to_string();
                    if !co_authors.is_empty() {
                        message.push('\n');
                        for c in co_authors {
                            message.push_str(&format!(
                                "\nCo-authored-by: {} <{}>",
                                c.rsplit(':').next().unwrap_or(c),
                                email_of(c)
                            ));
                        }
                    }
                    let email = e.actor.as_deref().map(email_of).unwrap_or_default();
                    Some(node(NodeKind::Commit {
                        oid: format!("{:040x}", hash(&e.id)),
                        author: actor.clone(),
                        email,
                        message,
                    }))
                }
                EventKind::Closed { completed } => {
                    let reason = if it.pull {
                        None
                    } else if *completed {
                        Some("COMPLETED".into())
                    } else {
                        Some("NOT_PLANNED".into())
                    };
                    Some(node(NodeKind::Closed(reason)))
                }
                EventKind::Reopened => Some(node(NodeKind::Reopened)),
                EventKind::Merged => {
                    it.merged_by = actor.clone();
                    // GitHub closes a pull request as it merges it: listed before the merge in the
                    // same second, or after it in the next (a merge that straddles a second).
                    it.timeline.push(Node {
                        id: format!("{}/close", e.id),
                        at: e.at + (hash(&e.id) % 2) as Ts,
                        actor: actor.clone(),
                        kind: NodeKind::Closed(None),
                    });
                    Some(node(NodeKind::Merged))
                }
                EventKind::Moved { from_scope, .. } => Some(node(NodeKind::Transferred(from_scope.clone()))),
                EventKind::Linked { relation, target } => {
                    let phrase = match relation {
                        LinkRelation::Supersedes => "Supersedes",
                        LinkRelation::SupersededBy => "Superseded by",
                        LinkRelation::Duplicates => "Duplicate of",
                        LinkRelation::Blocks => "Blocks",
                    };
                    split_key(target).map(|(t, n)| {
                        let reference = if t == scope { format!("#{n}") } else { format!("{t}#{n}") };
                        node(NodeKind::Comment(format!("{phrase} {reference}")))
                    })
                }
                EventKind::ConvertedToDraft
                    if e.at == it.created_at && !it.timeline.iter().any(|n| n.kind == NodeKind::ReadyForReview) =>
                {
                    it.opened_as_draft = true;
                    None
                }
                EventKind::ConvertedToDraft => Some(node(NodeKind::ConvertToDraft)),
                EventKind::ReadyForReview => Some(node(NodeKind::ReadyForReview)),
                EventKind::Reverted { by } => {
                    // The revert pull request says what it reverts; GitHub cross-references it here.
                    if let Some(&r) = by.as_ref().and_then(|b| item_index.get(b)) {
                        let (target_scope, number) = split_key(&e.item).unwrap_or_default();
                        s.items[r].body = format!("Reverts {target_scope}#{number}");
                        let created = s.items[r].created_at;
                        let it = &mut s.items[i];
                        it.timeline.push(Node {
                            id: format!("{}/xref", e.id),
                            at: created,
                            actor: actor.clone(),
                            kind: NodeKind::CrossReferenced(r),
                        });
                    }
                    None
                }
                EventKind::StatusChanged { .. }
                | EventKind::ComponentChanged { .. }
                | EventKind::TeamFieldChanged { .. } => None,
            };
            if let Some(n) = pushed {
                s.items[i].timeline.push(n);
            }
        }
        for it in &mut s.items {
            it.timeline.sort_by_key(|n| n.at);
            let last = it.timeline.iter().map(|n| n.at).max().unwrap_or(it.created_at);
            it.updated_at = it.updated_at.max(last);
            let repo = &mut s.repos[it.repo];
            let pushed = it
                .timeline
                .iter()
                .filter(|n| matches!(n.kind, NodeKind::Commit { .. } | NodeKind::Merged))
                .map(|n| n.at)
                .max();
            repo.pushed_at = repo.pushed_at.max(pushed.unwrap_or(0)).max(it.created_at);
        }
        if let Some(dir) = directory {
            for t in &dir.teams {
                let Some(handle) = t.handles.first() else { continue };
                let Some((org, slug)) = handle.split_once('/') else { continue };
                let members = dir
                    .people
                    .iter()
                    .filter(|p| p.memberships.iter().any(|m| m.team == t.name && m.until.is_none()))
                    .filter_map(|p| p.identities.first().and_then(|i| login_of(i)).map(|a| a.login))
                    .collect();
                let repos = dir
                    .scope_owners
                    .iter()
                    .filter(|(_, team)| team == &t.name)
                    .map(|(r, _)| (r.clone(), "ADMIN".to_string()))
                    .collect();
                s.teams.push(Team {
                    id: format!("T_{handle}"),
                    org: org.to_string(),
                    slug: slug.to_string(),
                    members,
                    repos,
                });
            }
        }
        s
    }

    fn item_by_node(&self, id: &str) -> Option<usize> {
        self.items.iter().position(|i| i.id == id)
    }
}

/// When a pull request's commit (authored at `authored`, the node's time) was committed: a
/// third were rebased, moved by the 3 d 5 h 10 min 33 s of the real recorded commit 53b970e of
/// chaoss/grimoirelab-perceval#1.
fn committed_at(oid: &str, authored: Ts) -> Ts {
    if hash(oid) % 3 == 0 { authored + 277_833 } else { authored }
}

fn hash(text: &str) -> u128 {
    // FNV-1a, 128-bit: stable fake commit ids.
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in text.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B);
    }
    h
}

// ---------------------------------------------------------------------------------------------
// Faults and counters.

/// A fault served instead of (or around) the next answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// HTTP 500.
    ServerError,
    /// The answer comes after this long (longer than the client's timeout).
    Delay(Duration),
    /// HTTP 403 with GitHub's secondary-rate-limit message and no `retry-after`.
    SecondaryLimit,
    /// HTTP 429 with `retry-after: <seconds>`.
    RetryAfter(u64),
    /// HTTP 200 with the body cut in half.
    TruncatedJson,
    /// Answers normally, then an item already listed changes (a new comment): the page the
    /// reader saw is no longer what a second read would give.
    ChangingPage,
    /// HTTP 200 with part of the answer GitHub could not resolve ("Something went wrong while
    /// executing your query"): the actor (or author) of the first timeline node of the first item
    /// read by id is null, with an `errors` entry naming its path. Other answers are left as they are.
    PartialError,
}

/// What the stand-in served.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Every request, faulted ones included.
    pub requests: u64,
    pub graphql: u64,
    pub rest: u64,
    /// REST answers `304 Not Modified`.
    pub not_modified: u64,
    /// GraphQL requests by operation name.
    pub operations: BTreeMap<String, u64>,
    /// Rate-limit points spent (GraphQL cost and REST requests).
    pub points: i64,
    /// GraphQL points by GitHub's documented formula (`schema::Contract::cost`).
    pub graphql_points: i64,
    /// Requests the formula counts behind those points (the sum over connections).
    pub graphql_connection_requests: u64,
    /// Values served deliberately broken (a malformed item) that the answer check caught.
    pub deliberate_violations: u64,
    pub faults_served: u64,
    /// Installation tokens issued.
    pub tokens_issued: u64,
}

/// Credentials the stand-in accepts.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub tokens: HashSet<String>,
    /// A GitHub App's public key (PKCS#1 DER) and id: JWTs signed by it get installation tokens.
    pub app: Option<(u64, Vec<u8>)>,
    /// Lifetime of issued installation tokens.
    pub token_lifetime: Ts,
}

struct Inner {
    scenario: Mutex<Scenario>,
    /// What GitHub's search sees, which lags behind the scenario when asked to.
    index: Mutex<SearchIndex>,
    credentials: Mutex<Credentials>,
    faults: super::FaultPlan<Fault>,
    counters: Mutex<Counters>,
    /// (window start, points) of the simulated primary limit, by resource (`core`, `graphql`).
    limit_window: Mutex<HashMap<String, (i64, i64)>>,
    /// Answers that broke GitHub's contract (the stand-in's own bugs): reported loudly.
    violations: Mutex<Vec<String>>,
    issued: Mutex<HashMap<String, i64>>,
    /// The time credentials are checked and issued at (`set_token_clock`).
    token_clock: Mutex<Arc<dyn Clock>>,
    addr: SocketAddr,
}

/// A running stand-in. Dropping it stops the server.
pub struct GithubStandIn {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GithubStandIn {
    fn drop(&mut self) {
        self.task.abort();
        let violations = lock(&self.inner.violations).clone();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!("the GitHub stand-in served answers GitHub would not give:\n{}", violations.join("\n"));
        }
    }
}

const LIMIT_PER_HOUR: i64 = 5000;

impl GithubStandIn {
    /// Serves `scenario` on a free loopback port; `tokens` are the accepted tokens.
    pub async fn start(scenario: Scenario, tokens: &[&str]) -> std::io::Result<GithubStandIn> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let index = SearchIndex::of(&scenario);
        let inner = Arc::new(Inner {
            index: Mutex::new(index),
            scenario: Mutex::new(scenario),
            credentials: Mutex::new(Credentials {
                tokens: tokens.iter().map(|t| t.to_string()).collect(),
                app: None,
                token_lifetime: 3600,
            }),
            faults: super::FaultPlan::default(),
            counters: Mutex::new(Counters::default()),
            limit_window: Mutex::new(HashMap::new()),
            violations: Mutex::new(Vec::new()),
            issued: Mutex::new(HashMap::new()),
            token_clock: Mutex::new(Arc::new(SystemClock)),
            addr,
        });
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(GithubStandIn { inner, task })
    }

    /// `http://127.0.0.1:<port>` (REST base URL).
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url())
    }

    /// Accepts JWTs of this GitHub App (public key as PKCS#1 DER).
    pub fn set_app(&self, app_id: u64, public_key_der: Vec<u8>, token_lifetime: Ts) {
        let mut c = lock(&self.inner.credentials);
        c.app = Some((app_id, public_key_der));
        c.token_lifetime = token_lifetime;
    }

    /// Checks JWTs and installation tokens, and issues tokens, at this clock's time (the wall
    /// clock unless set): a test gives the source the same clock, so expiry never depends on how
    /// long the test took.
    pub fn set_token_clock(&self, clock: Arc<dyn Clock>) {
        *lock(&self.inner.token_clock) = clock;
    }

    /// Serves `fault` on the next request(s), in order.
    pub fn inject(&self, fault: Fault) {
        self.inner.faults.push(fault);
    }

    /// Serves `fault` on the `n`-th request (1-based, counting every request).
    pub fn inject_at(&self, n: u64, fault: Fault) {
        self.inner.faults.at(n, fault);
    }

    pub fn counters(&self) -> Counters {
        lock(&self.inner.counters).clone()
    }

    pub fn reset_counters(&self) {
        *lock(&self.inner.counters) = Counters::default();
    }

    /// Changes the scenario (a test's "meanwhile on GitHub").
    pub fn edit(&self, f: impl FnOnce(&mut Scenario)) {
        f(&mut lock(&self.inner.scenario));
        reindex(&self.inner);
    }

    /// GitHub's search index lag: from now on, an edit shows in search only once this many more
    /// searches have run (0: at once). Until then search finds and sorts the item as it was
    /// indexed (a new item not at all), while the item itself answers with its current fields.
    pub fn set_index_lag(&self, searches: u64) {
        lock(&self.inner.index).lag = searches;
    }

    /// Searches answered so far.
    pub fn searches(&self) -> u64 {
        lock(&self.inner.index).searches
    }

    pub fn scenario(&self) -> Scenario {
        lock(&self.inner.scenario).clone()
    }
}

fn respond(status: u16, headers: &[(&str, String)], body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (axum::http::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            r.headers_mut().insert(name, value);
        }
    }
    r
}

fn json_response(status: u16, body: &Value, extra: &[(&str, String)]) -> Response {
    let mut headers = vec![("content-type", "application/json; charset=utf-8".to_string())];
    headers.extend(extra.iter().cloned());
    respond(status, &headers, serde_json::to_vec(body).unwrap_or_default())
}

fn wall_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn token_now(inner: &Inner) -> i64 {
    lock(&inner.token_clock).now() as i64
}

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 16 << 20).await.unwrap_or_default();
    let n = {
        let mut c = lock(&inner.counters);
        c.requests += 1;
        c.requests
    };
    let fault = inner.faults.take(n);
    if let Some(f) = &fault {
        lock(&inner.counters).faults_served += 1;
        match f {
            Fault::ServerError => return json_response(500, &json!({"message": "Server Error"}), &[]),
            Fault::SecondaryLimit => {
                return json_response(
                    403,
                    &json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}),
                    &[],
                );
            }
            Fault::RetryAfter(s) => {
                return json_response(429, &json!({"message": "Too many requests"}), &[("retry-after", s.to_string())]);
            }
            Fault::Delay(d) => tokio::time::sleep(*d).await,
            Fault::TruncatedJson | Fault::ChangingPage | Fault::PartialError => {}
        }
    }
    let mut response = route(&inner, &method, &uri, &headers, &body);
    if fault == Some(Fault::TruncatedJson) {
        super::truncate_body(&mut response).await;
    }
    if fault == Some(Fault::PartialError) {
        null_first_timeline_actor(&mut response).await;
    }
    if fault == Some(Fault::ChangingPage) {
        change_a_listed_item(&inner);
    }
    response
}

/// [`Fault::PartialError`]: the first item's first timeline node loses its actor or author (a
/// nullable field, which GitHub nulls when it cannot resolve it), and GitHub's error says where.
async fn null_first_timeline_actor(response: &mut Response) {
    let bytes = axum::body::to_bytes(std::mem::take(response.body_mut()), 64 << 20).await.unwrap_or_default();
    let mut answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    // Events name theirs `actor`, comments `author`.
    let field = ["actor", "author"]
        .into_iter()
        .find(|f| answer.pointer(&format!("/data/nodes/0/timelineItems/nodes/0/{f}")).is_some_and(|v| !v.is_null()));
    if let Some(field) = field
        && let Some(actor) = answer.pointer_mut(&format!("/data/nodes/0/timelineItems/nodes/0/{field}"))
    {
        *actor = Value::Null;
        let error = json!({
            "message": "Something went wrong while executing your query. This may be the result of a timeout, or it could be a GitHub bug.",
            "path": ["nodes", 0, "timelineItems", "nodes", 0, field],
        });
        match answer["errors"].as_array_mut() {
            Some(list) => list.push(error),
            None => answer["errors"] = json!([error]),
        }
    }
    let body = serde_json::to_vec(&answer).unwrap_or_else(|_| bytes.to_vec());
    response.headers_mut().remove("content-length");
    *response.body_mut() = Body::from(body);
}

/// The item most recently updated among the first half gets a new comment after everything.
fn change_a_listed_item(inner: &Inner) {
    let mut s = lock(&inner.scenario);
    let Some(latest) = s.items.iter().map(|i| i.updated_at).max() else { return };
    let mut order: Vec<usize> = (0..s.items.len()).collect();
    order.sort_by_key(|&i| (s.items[i].updated_at, s.items[i].id.clone()));
    let Some(&pick) = order.get(order.len() / 4) else { return };
    let item = &mut s.items[pick];
    let at = latest + 60;
    item.timeline.push(Node {
        id: format!("{}/changed-{at}", item.id),
        at,
        actor: item.author.clone(),
        kind: NodeKind::Comment("Any news?".into()),
    });
    item.updated_at = at;
    drop(s);
    reindex(inner);
}

/// How many results one search query lists at most, as on GitHub; `issueCount` still counts all.
pub const SEARCH_CAP: usize = 1000;

/// Where GitHub's search finds and sorts an item.
#[derive(Debug, Clone, PartialEq)]
struct IndexEntry {
    updated_at: Ts,
    created_at: Ts,
    /// `owner/name`, lower case.
    repo: String,
}

/// GitHub's search index: entries by item id, and edits not yet visible.
#[derive(Debug, Default)]
struct SearchIndex {
    entries: HashMap<String, IndexEntry>,
    /// (visible from this search on, item id, entry or None when removed).
    pending: Vec<(u64, String, Option<IndexEntry>)>,
    searches: u64,
    lag: u64,
}

fn entry_of(s: &Scenario, it: &ScenarioItem) -> IndexEntry {
    IndexEntry {
        updated_at: it.updated_at,
        created_at: it.created_at,
        repo: s.repos[it.repo].name.to_ascii_lowercase(),
    }
}

impl SearchIndex {
    fn of(s: &Scenario) -> SearchIndex {
        SearchIndex {
            entries: s.items.iter().map(|it| (it.id.clone(), entry_of(s, it))).collect(),
            ..SearchIndex::default()
        }
    }

    /// The entry as the index will hold it once pending edits are in.
    fn latest(&self, id: &str) -> Option<&IndexEntry> {
        match self.pending.iter().rev().find(|(_, i, _)| i == id) {
            Some((_, _, e)) => e.as_ref(),
            None => self.entries.get(id),
        }
    }

    /// Makes the edits due by the next search visible, and counts it.
    fn next_search(&mut self) {
        self.searches += 1;
        let now = self.searches;
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().partition(|(at, _, _)| *at <= now);
        self.pending = later;
        for (_, id, e) in due {
            match e {
                Some(e) => self.entries.insert(id, e),
                None => self.entries.remove(&id),
            };
        }
    }
}

/// Queues what changed in the scenario for the index (at once without lag).
fn reindex(inner: &Inner) {
    let s = lock(&inner.scenario);
    let mut index = lock(&inner.index);
    let visible_from = index.searches + index.lag + 1;
    let mut changes: Vec<(String, Option<IndexEntry>)> = Vec::new();
    for it in &s.items {
        let e = entry_of(&s, it);
        if index.latest(&it.id) != Some(&e) {
            changes.push((it.id.clone(), Some(e)));
        }
    }
    let live: HashSet<&str> = s.items.iter().map(|i| i.id.as_str()).collect();
    let mut gone: Vec<String> = index.entries.keys().filter(|id| !live.contains(id.as_str())).cloned().collect();
    gone.sort();
    changes.extend(gone.into_iter().map(|id| (id, None)));
    for (id, e) in changes {
        if index.lag == 0 {
            match e {
                Some(e) => index.entries.insert(id, e),
                None => index.entries.remove(&id),
            };
        } else {
            index.pending.push((visible_from, id, e));
        }
    }
}

/// Checks the `Authorization` header: a configured token or an issued installation token.
fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("token ")))
    else {
        return false;
    };
    if lock(&inner.credentials).tokens.contains(token) {
        return true;
    }
    lock(&inner.issued).get(token).is_some_and(|&exp| exp > token_now(inner))
}

fn limit_headers(inner: &Inner, resource: &str, points: i64) -> Vec<(&'static str, String)> {
    let now = wall_now();
    let mut windows = lock(&inner.limit_window);
    let w = windows.entry(resource.to_string()).or_insert((now, 0));
    if now - w.0 >= 3600 {
        *w = (now, 0);
    }
    w.1 += points;
    lock(&inner.counters).points += points;
    vec![
        ("x-ratelimit-limit", LIMIT_PER_HOUR.to_string()),
        ("x-ratelimit-remaining", (LIMIT_PER_HOUR - w.1).max(0).to_string()),
        ("x-ratelimit-reset", (w.0 + 3600).to_string()),
        ("x-ratelimit-used", w.1.to_string()),
        ("x-ratelimit-resource", resource.to_string()),
    ]
}

fn route(
    inner: &Inner,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let path = uri.path().trim_end_matches('/');
    let query: HashMap<String, String> =
        uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    // App endpoints authenticate with the app's JWT.
    if path.starts_with("/app/installations/") || path.ends_with("/installation") {
        return app_endpoint(inner, method, path, headers);
    }
    if !authorized(inner, headers) {
        return json_response(
            401,
            &json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
            &[],
        );
    }
    if method == axum::http::Method::POST && (path == "/graphql" || path == "/api/graphql") {
        lock(&inner.counters).graphql += 1;
        return graphql(inner, body);
    }
    if method == axum::http::Method::GET {
        lock(&inner.counters).rest += 1;
        return rest(inner, path, &query, headers, uri);
    }
    json_response(404, &json!({"message": "Not Found"}), &[])
}

fn app_endpoint(inner: &Inner, method: &axum::http::Method, path: &str, headers: &HeaderMap) -> Response {
    let jwt = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let creds = lock(&inner.credentials).clone();
    let valid = match (jwt, &creds.app) {
        (Some(jwt), Some((app_id, key))) => verify_jwt(jwt, key).is_some_and(|claims| {
            let now = token_now(inner);
            claims["iss"].as_str() == Some(&app_id.to_string())
                && claims["exp"].as_i64().is_some_and(|e| e > now)
                && claims["iat"].as_i64().is_some_and(|i| i <= now + 60)
        }),
        _ => false,
    };
    if !valid {
        return json_response(401, &json!({"message": "A JSON web token could not be decoded"}), &[]);
    }
    if method == axum::http::Method::GET && path.ends_with("/installation") {
        return json_response(200, &json!({"id": 1, "app_id": creds.app.as_ref().map(|a| a.0)}), &[]);
    }
    if method == axum::http::Method::POST && path.ends_with("/access_tokens") {
        let mut c = lock(&inner.counters);
        c.tokens_issued += 1;
        let token = format!("ghs_standin{:04}", c.tokens_issued);
        drop(c);
        let expires = token_now(inner) + creds.token_lifetime;
        lock(&inner.issued).insert(token.clone(), expires);
        return json_response(
            201,
            &json!({"token": token, "expires_at": fmt_time(expires), "permissions": {"issues": "read", "pull_requests": "read", "contents": "read", "members": "read"}}),
            &[],
        );
    }
    json_response(404, &json!({"message": "Not Found"}), &[])
}

fn fmt_time(ts: Ts) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn cursor(offset: usize) -> String {
    STANDARD.encode(format!("cursor:{offset}"))
}

fn offset_of(after: Option<&str>) -> usize {
    after
        .and_then(|a| STANDARD.decode(a).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("cursor:").and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn page<T: Clone>(all: &[T], first: usize, after: Option<&str>) -> (Vec<T>, Value) {
    let start = offset_of(after).min(all.len());
    let end = (start + first).min(all.len());
    let info = json!({ "hasNextPage": end < all.len(), "endCursor": if end > start { Value::String(cursor(end)) } else { Value::Null } });
    (all[start..end].to_vec(), info)
}

// ---------------------------------------------------------------------------------------------
// GraphQL.

fn actor_json(a: &Option<Actor>) -> Value {
    match a {
        None => Value::Null,
        Some(a) => json!({ "__typename": if a.bot { "Bot" } else { "User" }, "login": a.login }),
    }
}

/// An actor where documents select `ActorFields` (GitHub's `name` is null when the user set none).
fn actor_fields_json(a: &Option<Actor>) -> Value {
    let mut v = actor_json(a);
    if a.as_ref().is_some_and(|a| !a.bot) {
        v["name"] = Value::Null;
    }
    v
}

fn subject_json(s: &Scenario, i: usize) -> Value {
    let it = &s.items[i];
    let repo = json!({ "nameWithOwner": s.repos[it.repo].name });
    if it.pull {
        json!({ "__typename": "PullRequest", "id": it.id, "number": it.number, "title": it.title, "body": it.body,
                "merged": it.merged_at().is_some(), "mergedAt": it.merged_at().map(fmt_time), "mergedBy": actor_fields_json(&it.merged_by), "repository": repo })
    } else {
        json!({ "__typename": "Issue", "id": it.id, "number": it.number, "repository": repo })
    }
}

fn reviewer_json(r: &RequestedReviewer) -> Value {
    match r {
        RequestedReviewer::User(a) => actor_json(&Some(a.clone())),
        RequestedReviewer::Team(slug) => json!({ "__typename": "Team", "combinedSlug": slug }),
    }
}

fn review_comments_json(comments: &[ReviewComment], first: usize, after: Option<&str>) -> Value {
    let (list, info) = page(comments, first, after);
    json!({ "pageInfo": info, "nodes": list.iter().map(|c| json!({"id": c.id, "createdAt": fmt_time(c.at), "body": c.body, "author": actor_fields_json(&c.author)})).collect::<Vec<_>>() })
}

fn node_json(s: &Scenario, n: &Node) -> Value {
    let base = |t: &str| json!({ "__typename": t, "id": n.id, "createdAt": fmt_time(n.at), "actor": actor_fields_json(&n.actor) });
    let with = |mut v: Value, k: &str, x: Value| {
        v[k] = x;
        v
    };
    match &n.kind {
        NodeKind::Assigned(a) => with(base("AssignedEvent"), "assignee", actor_json(&Some(a.clone()))),
        NodeKind::Unassigned(a) => with(base("UnassignedEvent"), "assignee", actor_json(&Some(a.clone()))),
        NodeKind::Labeled(l) => with(base("LabeledEvent"), "label", json!({"name": l})),
        NodeKind::Unlabeled(l) => with(base("UnlabeledEvent"), "label", json!({"name": l})),
        NodeKind::Comment(body) => {
            json!({"__typename": "IssueComment", "id": n.id, "createdAt": fmt_time(n.at), "body": body, "author": actor_fields_json(&n.actor)})
        }
        NodeKind::Closed(r) => with(base("ClosedEvent"), "stateReason", json!(r)),
        NodeKind::Reopened => base("ReopenedEvent"),
        NodeKind::Merged => base("MergedEvent"),
        NodeKind::ReadyForReview => base("ReadyForReviewEvent"),
        NodeKind::ConvertToDraft => base("ConvertToDraftEvent"),
        NodeKind::Transferred(from) => with(base("TransferredEvent"), "fromRepository", json!({"nameWithOwner": from})),
        NodeKind::CrossReferenced(i) => with(base("CrossReferencedEvent"), "source", subject_json(s, *i)),
        NodeKind::MarkedAsDuplicate(c, d) => {
            // The document asks only the number and repository of either side.
            let short = |i: usize| {
                let it = &s.items[i];
                json!({ "__typename": if it.pull { "PullRequest" } else { "Issue" }, "number": it.number,
                        "repository": { "nameWithOwner": s.repos[it.repo].name } })
            };
            let v = with(base("MarkedAsDuplicateEvent"), "canonical", short(*c));
            with(v, "duplicate", short(*d))
        }
        NodeKind::ReviewRequested(r) => with(base("ReviewRequestedEvent"), "requestedReviewer", reviewer_json(r)),
        NodeKind::ReviewRequestRemoved(r) => {
            with(base("ReviewRequestRemovedEvent"), "requestedReviewer", reviewer_json(r))
        }
        NodeKind::Review { state, .. } => json!({
            "__typename": "PullRequestReview", "id": n.id, "state": state, "createdAt": fmt_time(n.at),
            "submittedAt": if state == "PENDING" { Value::Null } else { Value::String(fmt_time(n.at)) },
            "author": actor_fields_json(&n.actor)
        }),
        NodeKind::Commit { oid, author, email, message } => json!({
            "__typename": "PullRequestCommit", "id": n.id,
            "commit": {"oid": oid, "committedDate": fmt_time(committed_at(oid, n.at)), "authoredDate": fmt_time(n.at), "message": message,
                       "author": {"name": author.as_ref().map_or("", |a| a.login.as_str()), "email": email,
                                  "user": author.as_ref().map_or(Value::Null, |a| json!({"login": a.login}))}}
        }),
    }
}

fn timeline_json(s: &Scenario, it: &ScenarioItem, first: usize, after: Option<&str>) -> Value {
    let (list, info) = page(&it.timeline, first, after);
    json!({ "pageInfo": info, "nodes": list.iter().map(|n| node_json(s, n)).collect::<Vec<_>>() })
}

/// A pull request's `reviews`, each with the first page of its comments.
fn reviews_json(it: &ScenarioItem, first: usize, after: Option<&str>, comments_first: usize) -> Value {
    let reviews: Vec<&Node> = it.timeline.iter().filter(|n| matches!(n.kind, NodeKind::Review { .. })).collect();
    let (list, info) = page(&reviews, first, after);
    let nodes: Vec<Value> = list
        .iter()
        .map(|n| {
            let comments = match &n.kind {
                NodeKind::Review { comments, .. } => review_comments_json(comments, comments_first, None),
                _ => Value::Null,
            };
            json!({ "id": n.id, "comments": comments })
        })
        .collect();
    json!({ "pageInfo": info, "nodes": nodes })
}

/// How deep an item is asked: timeline items, reviews and comments per review.
#[derive(Debug, Clone, Copy)]
struct Depth {
    timeline: usize,
    reviews: usize,
    comments: usize,
}

fn item_json(s: &Scenario, i: usize, depth: Depth) -> Value {
    let it = &s.items[i];
    let repo = &s.repos[it.repo];
    let kind = if it.pull { "pull" } else { "issues" };
    let mut v = json!({
        "__typename": if it.pull { "PullRequest" } else { "Issue" },
        "id": it.id, "number": it.number, "title": it.title,
        "url": format!("https://github.com/{}/{kind}/{}", repo.name, it.number),
        "createdAt": if it.malformed { "not-a-date".to_string() } else { fmt_time(it.created_at) },
        "updatedAt": fmt_time(it.updated_at), "closedAt": it.closed_at().map(fmt_time), "state": it.state(), "body": it.body,
        "author": actor_fields_json(&it.author), "repository": {"id": repo.id, "nameWithOwner": repo.name},
        "timelineItems": timeline_json(s, it, depth.timeline, None),
    });
    if it.pull {
        if let Some(o) = v.as_object_mut() {
            // The source's document aliases a pull request's state (`prState: state`).
            let state = o.remove("state").unwrap_or(Value::Null);
            o.insert("prState".into(), state);
        }
        v["isDraft"] = json!(it.is_draft());
        v["merged"] = json!(it.merged_at().is_some());
        v["mergedAt"] = json!(it.merged_at().map(fmt_time));
        v["mergedBy"] = actor_fields_json(&it.merged_by);
        v["reviews"] = reviews_json(it, depth.reviews, None, depth.comments);
    } else {
        v["stateReason"] = json!(it.state_reason());
    }
    v
}

fn repo_json(r: &Repo) -> Value {
    json!({ "id": r.id, "nameWithOwner": r.name, "pushedAt": fmt_time(r.pushed_at), "isArchived": r.archived })
}

/// A time qualifier: `>=T`, `>T`, `<=T`, `<T` or `A..B` (inclusive), as an inclusive range.
fn time_range(text: &str) -> Option<(Ts, Ts)> {
    let t = |x: &str| crate::sources::http::parse_time(x);
    if let Some(x) = text.strip_prefix(">=") {
        return Some((t(x)?, Ts::MAX));
    }
    if let Some(x) = text.strip_prefix('>') {
        return Some((t(x)? + 1, Ts::MAX));
    }
    if let Some(x) = text.strip_prefix("<=") {
        return Some((Ts::MIN, t(x)?));
    }
    if let Some(x) = text.strip_prefix('<') {
        return Some((Ts::MIN, t(x)? - 1));
    }
    let (a, b) = text.split_once("..")?;
    Some((t(a)?, t(b)?))
}

/// A search query over the index: `org:`, `repo:`, `updated:`, `created:` and
/// `sort:updated-asc`/`sort:created-asc`. Returns the matching items in order (all of them: the
/// caller pages and caps), or the error GitHub gives for what it cannot parse.
fn search(s: &Scenario, index: &SearchIndex, q: &str) -> Result<Vec<usize>, String> {
    let mut orgs = Vec::new();
    let mut repos = Vec::new();
    let mut updated = (Ts::MIN, Ts::MAX);
    let mut created = (Ts::MIN, Ts::MAX);
    let mut by_created = false;
    for token in q.split_whitespace() {
        let bad = || format!("stand-in: cannot read the search qualifier {token:?}");
        if let Some(o) = token.strip_prefix("org:") {
            orgs.push(o.to_ascii_lowercase());
        } else if let Some(r) = token.strip_prefix("repo:") {
            repos.push(r.to_ascii_lowercase());
        } else if let Some(t) = token.strip_prefix("updated:") {
            updated = time_range(t).ok_or_else(bad)?;
        } else if let Some(t) = token.strip_prefix("created:") {
            created = time_range(t).ok_or_else(bad)?;
        } else if token == "sort:created-asc" {
            by_created = true;
        } else if token != "sort:updated-asc" {
            return Err(bad());
        }
    }
    let by_id: HashMap<&str, usize> = s.items.iter().enumerate().map(|(i, it)| (it.id.as_str(), i)).collect();
    let mut hits: Vec<(Ts, Ts, &str, usize)> = index
        .entries
        .iter()
        .filter(|(_, e)| {
            let owner = e.repo.split('/').next().unwrap_or("");
            (orgs.iter().any(|o| o == owner) || repos.contains(&e.repo))
                && (updated.0..=updated.1).contains(&e.updated_at)
                && (created.0..=created.1).contains(&e.created_at)
        })
        .filter_map(|(id, e)| {
            let i = *by_id.get(id.as_str())?;
            let (k1, k2) = if by_created { (e.created_at, e.updated_at) } else { (e.updated_at, e.created_at) };
            Some((k1, k2, id.as_str(), i))
        })
        .collect();
    hits.sort();
    Ok(hits.into_iter().map(|(_, _, _, i)| i).collect())
}

/// An issue or pull request as the listing asks it: ids and times.
fn listed_json(s: &Scenario, i: usize) -> Value {
    let it = &s.items[i];
    json!({ "__typename": if it.pull { "PullRequest" } else { "Issue" }, "id": it.id,
            "createdAt": fmt_time(it.created_at), "updatedAt": fmt_time(it.updated_at),
            "repository": { "nameWithOwner": s.repos[it.repo].name } })
}

/// `alias: object(expression: "…")` pairs written in a document.
fn object_aliases(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, _) in doc.match_indices(": object(expression: ") {
        let alias: String = doc[..i]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let rest = &doc[i + ": object(expression: ".len()..];
        if let Ok(expr) =
            serde_json::Deserializer::from_str(rest).into_iter::<String>().next().unwrap_or(Ok(String::new()))
            && !out.iter().any(|(a, _): &(String, String)| a == &alias)
        {
            out.push((alias, expr));
        }
    }
    out
}

/// Aliases `prefixN` used in a document (`r0`, `r1`…).
fn indexed(doc: &str, prefix: &str, suffix: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for i in 0.. {
        if doc.contains(&format!(" {prefix}{i}{suffix}")) {
            out.push(i);
        } else {
            break;
        }
    }
    out
}

fn graphql(inner: &Inner, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return json_response(400, &json!({"message": "Problems parsing JSON"}), &[]);
    };
    let doc = request["query"].as_str().unwrap_or("");
    let vars = &request["variables"];
    // GitHub validates the document and variables before running anything, and charges by its
    // formula; an invalid request is answered with errors and no data.
    let contract = schema::contract();
    let checked = match contract.request(doc, vars) {
        Ok(r) => r,
        Err(messages) => {
            let errors: Vec<Value> = messages.iter().map(|m| json!({ "message": m })).collect();
            return json_response(200, &json!({ "errors": errors }), &limit_headers(inner, "graphql", 0));
        }
    };
    let charged = contract.cost(&checked).unwrap_or_default();
    let cost = charged.points;
    let op = checked.operation();
    {
        let mut c = lock(&inner.counters);
        *c.operations.entry(op.clone()).or_default() += 1;
        c.graphql_points += cost;
        c.graphql_connection_requests += charged.requests;
    }
    let s = lock(&inner.scenario).clone();
    let int = |k: &str, d: usize| vars[k].as_u64().map_or(d, |n| n as usize);
    let timeline_first = int("timeline", 100);
    let comments_first = int("comments", 10);
    let mut data = serde_json::Map::new();
    let mut errors: Vec<Value> = Vec::new();
    match op.as_str() {
        // `sync --estimate`: a search's issueCount, charged like any search (one point).
        "Count" => {
            for field in checked.root_fields().into_iter().filter(|f| f.name == "search") {
                let q = field.args["query"].as_str().unwrap_or("");
                let hits = {
                    let mut index = lock(&inner.index);
                    index.next_search();
                    search(&s, &index, q)
                };
                match hits {
                    Ok(h) => {
                        data.insert(field.key.clone(), json!({ "issueCount": h.len() }));
                    }
                    Err(m) => {
                        return json_response(
                            200,
                            &json!({ "errors": [{ "message": m }] }),
                            &limit_headers(inner, "graphql", cost),
                        );
                    }
                }
            }
        }
        "SyncPage" => {
            for field in checked.root_fields() {
                match field.name.as_str() {
                    "search" => {
                        let q = field.args["query"].as_str().unwrap_or("");
                        let hits = {
                            let mut index = lock(&inner.index);
                            index.next_search();
                            search(&s, &index, q)
                        };
                        let hits = match hits {
                            Ok(h) => h,
                            Err(m) => {
                                return json_response(
                                    200,
                                    &json!({ "errors": [{ "message": m }] }),
                                    &limit_headers(inner, "graphql", cost),
                                );
                            }
                        };
                        let first = field.args["first"].as_u64().unwrap_or(10) as usize;
                        let capped = &hits[..hits.len().min(SEARCH_CAP)];
                        let (list, info) = page(capped, first, field.args["after"].as_str());
                        data.insert(
                            field.key.clone(),
                            json!({ "issueCount": hits.len(), "pageInfo": info, "nodes": list.iter().map(|&i| listed_json(&s, i)).collect::<Vec<_>>() }),
                        );
                    }
                    "nodes" => {
                        let depth = Depth {
                            timeline: int("timeline", 100),
                            reviews: int("reviews", 10),
                            comments: comments_first,
                        };
                        let mut nodes = Vec::new();
                        for (k, id) in field.args["ids"].as_array().map(Vec::as_slice).unwrap_or(&[]).iter().enumerate()
                        {
                            let id = id.as_str().unwrap_or("");
                            match s.item_by_node(id) {
                                Some(i) => nodes.push(item_json(&s, i, depth)),
                                None => {
                                    errors.push(json!({"type": "NOT_FOUND", "path": [field.key.clone(), k], "message": format!("Could not resolve to a node with the global id of '{id}'")}));
                                    nodes.push(Value::Null);
                                }
                            }
                        }
                        data.insert(field.key.clone(), Value::Array(nodes));
                    }
                    "organization" => {
                        let org = field.args["login"].as_str().unwrap_or("").to_ascii_lowercase();
                        let repos = org_repos(&s, &org, None);
                        if repos.is_none() {
                            errors.push(json!({"type": "NOT_FOUND", "path": [field.key.clone()], "message": format!("Could not resolve to an Organization with the login of '{org}'.")}));
                        }
                        data.insert(field.key.clone(), repos.map_or(Value::Null, |r| json!({ "repositories": r })));
                    }
                    "repository" => {
                        let name = format!(
                            "{}/{}",
                            field.args["owner"].as_str().unwrap_or(""),
                            field.args["name"].as_str().unwrap_or("")
                        );
                        let r =
                            s.repos.iter().find(|r| r.name.eq_ignore_ascii_case(&name)).map_or(Value::Null, repo_json);
                        data.insert(field.key.clone(), r);
                    }
                    _ => {}
                }
            }
        }
        "Owner" => {
            let login = vars["org"].as_str().unwrap_or("").to_ascii_lowercase();
            let v = if s.users.iter().any(|u| u.eq_ignore_ascii_case(&login)) {
                json!({ "__typename": "User", "login": login })
            } else if org_repos(&s, &login, None).is_some() {
                json!({ "__typename": "Organization", "login": login })
            } else {
                errors.push(json!({"type": "NOT_FOUND", "path": ["repositoryOwner"], "message": format!("Could not resolve to a RepositoryOwner with the login of '{login}'.")}));
                Value::Null
            };
            data.insert("repositoryOwner".into(), v);
        }
        "OrgRepositories" => {
            let org = vars["org"].as_str().unwrap_or("").to_ascii_lowercase();
            data.insert(
                "organization".into(),
                org_repos(&s, &org, vars["after"].as_str()).map_or(Value::Null, |r| json!({ "repositories": r })),
            );
        }
        "More" => {
            for i in indexed(doc, "m", ": node(") {
                let id = vars[format!("id{i}")].as_str().unwrap_or("");
                let after = vars[format!("after{i}")].as_str();
                let v = if let Some(it) = s.item_by_node(id) {
                    let item = &s.items[it];
                    if doc.contains(&format!("m{i}: node(id: $id{i}) {{ __typename ... on PullRequest {{ reviews(")) {
                        json!({ "__typename": "PullRequest", "reviews": reviews_json(item, int("reviews", 10), after, comments_first) })
                    } else {
                        json!({ "__typename": if item.pull { "PullRequest" } else { "Issue" }, "timelineItems": timeline_json(&s, item, timeline_first, after) })
                    }
                } else if let Some(review) = s.items.iter().flat_map(|it| &it.timeline).find(|n| n.id == id) {
                    match &review.kind {
                        NodeKind::Review { comments, .. } => {
                            json!({ "__typename": "PullRequestReview", "comments": review_comments_json(comments, 100, after) })
                        }
                        _ => Value::Null,
                    }
                } else if let Some(team) = s.teams.iter().find(|t| t.id == id) {
                    if doc.contains(&format!("m{i}: node(id: $id{i}) {{ __typename ... on Team {{ members(")) {
                        json!({ "__typename": "Team", "members": members_json(team, after) })
                    } else {
                        json!({ "__typename": "Team", "repositories": team_repos_json(team, after) })
                    }
                } else {
                    errors.push(json!({"type": "NOT_FOUND", "path": [format!("m{i}")], "message": format!("Could not resolve to a node with the global id of '{id}'")}));
                    Value::Null
                };
                data.insert(format!("m{i}"), v);
            }
        }
        "Teams" => {
            let org = vars["org"].as_str().unwrap_or("").to_ascii_lowercase();
            let teams: Vec<&Team> = s.teams.iter().filter(|t| t.org.eq_ignore_ascii_case(&org)).collect();
            let (list, info) = page(&teams, 50, vars["after"].as_str());
            let nodes: Vec<Value> = list
                .iter()
                .map(|t| {
                    json!({ "id": t.id, "slug": t.slug, "name": t.slug, "combinedSlug": format!("{}/{}", t.org, t.slug),
                                 "members": members_json(t, None), "repositories": team_repos_json(t, None) })
                })
                .collect();
            data.insert("organization".into(), json!({ "teams": { "pageInfo": info, "nodes": nodes } }));
        }
        "RepoFiles" => {
            let objects = object_aliases(doc);
            for i in indexed(doc, "r", ": repository(") {
                let name = format!(
                    "{}/{}",
                    vars[format!("owner{i}")].as_str().unwrap_or(""),
                    vars[format!("name{i}")].as_str().unwrap_or("")
                );
                let Some(repo) = s.repos.iter().find(|r| r.name.eq_ignore_ascii_case(&name)) else {
                    data.insert(format!("r{i}"), Value::Null);
                    continue;
                };
                let mut v = json!({ "id": repo.id, "nameWithOwner": repo.name });
                for (alias, expr) in &objects {
                    let path = expr.strip_prefix("HEAD:").unwrap_or(expr);
                    v[alias] = tree_or_blob(repo, path);
                }
                data.insert(format!("r{i}"), v);
            }
        }
        "FileHistory" => {
            let name = format!("{}/{}", vars["owner"].as_str().unwrap_or(""), vars["name"].as_str().unwrap_or(""));
            match s.repos.iter().find(|r| r.name.eq_ignore_ascii_case(&name)) {
                None => {
                    data.insert("repository".into(), Value::Null);
                }
                Some(repo) => {
                    let mut target = json!({});
                    for i in indexed(doc, "h", ": history(") {
                        let path = vars[format!("path{i}")].as_str().unwrap_or("");
                        let mut commits: Vec<FileCommit> = repo.files.get(path).cloned().unwrap_or_default();
                        commits.reverse();
                        let (list, info) = page(&commits, 50, vars[format!("after{i}")].as_str());
                        let nodes: Vec<Value> = list
                            .iter()
                            .map(|c| json!({ "oid": c.oid, "committedDate": fmt_time(c.at),
                                             "author": {"name": c.author.as_ref().map_or("", |a| a.login.as_str()), "email": c.email,
                                                        "user": c.author.as_ref().map_or(Value::Null, |a| json!({"login": a.login}))},
                                             "file": {"object": {"text": c.text}}}))
                            .collect();
                        target[format!("h{i}")] = json!({ "pageInfo": info, "nodes": nodes });
                    }
                    data.insert("repository".into(), json!({ "defaultBranchRef": { "target": target } }));
                }
            }
        }
        other => {
            return json_response(
                200,
                &json!({"errors": [{"message": format!("stand-in: unknown operation {other:?}")}]}),
                &[],
            );
        }
    }
    let headers = limit_headers(inner, "graphql", cost);
    let remaining = headers
        .iter()
        .find(|(k, _)| *k == "x-ratelimit-remaining")
        .map(|(_, v)| v.parse::<i64>().unwrap_or(0))
        .unwrap_or(0);
    let reset = headers
        .iter()
        .find(|(k, _)| *k == "x-ratelimit-reset")
        .map(|(_, v)| v.parse::<i64>().unwrap_or(0))
        .unwrap_or(0);
    if doc.contains("rateLimit") {
        data.insert("rateLimit".into(), json!({ "cost": cost, "remaining": remaining, "resetAt": fmt_time(reset) }));
    }
    let data = Value::Object(data);
    // The answer must be what GitHub would give to this document: fail loudly if not.
    let malformed: HashSet<&str> = s.items.iter().filter(|i| i.malformed).map(|i| i.id.as_str()).collect();
    let (deliberate, wrong): (Vec<schema::Violation>, Vec<schema::Violation>) =
        contract.check(&checked, &data).into_iter().partition(|v| {
            v.path.ends_with(".createdAt") && v.object_id.as_deref().is_some_and(|id| malformed.contains(id))
        });
    lock(&inner.counters).deliberate_violations += deliberate.len() as u64;
    if !wrong.is_empty() {
        let report = format!("{op}: {}", schema::summary(&wrong));
        eprintln!("GitHub stand-in: an answer breaks GitHub's schema for its document:\n{report}");
        lock(&inner.violations).push(report.clone());
        return json_response(
            200,
            &json!({ "errors": [{ "type": "STANDIN_CONTRACT", "message": format!("stand-in answer breaks GitHub's schema: {report}") }] }),
            &headers,
        );
    }
    let mut answer = json!({ "data": data });
    if !errors.is_empty() {
        answer["errors"] = json!(errors);
    }
    json_response(200, &answer, &headers)
}

fn org_repos(s: &Scenario, org: &str, after: Option<&str>) -> Option<Value> {
    if s.users.iter().any(|u| u.eq_ignore_ascii_case(org)) {
        return None; // a user account is no organisation
    }
    let mut repos: Vec<&Repo> =
        s.repos.iter().filter(|r| r.name.to_ascii_lowercase().starts_with(&format!("{org}/"))).collect();
    if repos.is_empty() && !s.teams.iter().any(|t| t.org.eq_ignore_ascii_case(org)) {
        return None;
    }
    repos.sort_by(|a, b| b.pushed_at.cmp(&a.pushed_at).then(a.name.cmp(&b.name)));
    let (list, info) = page(&repos, 100, after);
    Some(
        json!({ "totalCount": repos.len(), "pageInfo": info, "nodes": list.iter().map(|r| repo_json(r)).collect::<Vec<_>>() }),
    )
}

fn members_json(t: &Team, after: Option<&str>) -> Value {
    let (list, info) = page(&t.members, 100, after);
    json!({ "pageInfo": info, "nodes": list.iter().map(|l| json!({"login": l, "name": null})).collect::<Vec<_>>() })
}

fn team_repos_json(t: &Team, after: Option<&str>) -> Value {
    let (list, info) = page(&t.repos, 100, after);
    json!({ "pageInfo": info, "edges": list.iter().map(|(r, p)| json!({"permission": p, "node": {"nameWithOwner": r}})).collect::<Vec<_>>() })
}

/// `object(expression: "HEAD:<path>")`: a blob's text or a tree's entries, as of the last commit.
fn tree_or_blob(repo: &Repo, path: &str) -> Value {
    if let Some(history) = repo.files.get(path) {
        return history.last().map_or(Value::Null, |c| json!({ "text": c.text }));
    }
    let prefix = format!("{}/", path.trim_end_matches('/'));
    let entries: Vec<Value> = repo
        .files
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix) && !p[prefix.len()..].contains('/'))
        .map(|(p, h)| {
            let oid = format!("{:040x}", hash(&format!("{p}@{}", h.last().map_or("", |c| c.oid.as_str()))));
            json!({ "name": &p[prefix.len()..], "path": p, "type": "blob", "oid": oid })
        })
        .collect();
    if entries.is_empty() { Value::Null } else { json!({ "entries": entries }) }
}

// ---------------------------------------------------------------------------------------------
// REST, for collectors that read it (and to compare request counts).

fn user_rest(a: &Option<Actor>) -> Value {
    match a {
        None => Value::Null,
        Some(a) => {
            let login = if a.bot { format!("{}[bot]", a.login) } else { a.login.clone() };
            json!({ "login": login, "id": hash(&login) as u32, "node_id": format!("U_{login}"), "type": if a.bot { "Bot" } else { "User" }, "site_admin": false,
                    "url": format!("https://api.github.com/users/{login}"), "html_url": format!("https://github.com/{login}") })
        }
    }
}

fn rest_issue(s: &Scenario, it: &ScenarioItem, base: &str) -> Value {
    let repo = &s.repos[it.repo].name;
    let labels: Vec<Value> =
        current_labels(it).iter().map(|l| json!({"name": l, "color": "ededed", "default": false})).collect();
    let assignees: Vec<Value> = current_assignees(it).iter().map(|a| user_rest(&Some(a.clone()))).collect();
    let state = if it.state() == "OPEN" { "open" } else { "closed" };
    let kind = if it.pull { "pull" } else { "issues" };
    let mut v = json!({
        "url": format!("{base}/repos/{repo}/issues/{}", it.number), "repository_url": format!("{base}/repos/{repo}"),
        "html_url": format!("https://github.com/{repo}/{kind}/{}", it.number), "id": hash(&it.id) as u32, "node_id": it.id,
        "number": it.number, "title": it.title, "user": user_rest(&it.author), "labels": labels, "state": state,
        "locked": false, "assignee": assignees.first().cloned().unwrap_or(Value::Null), "assignees": assignees, "milestone": null,
        "comments": it.timeline.iter().filter(|n| matches!(n.kind, NodeKind::Comment(_))).count(),
        "created_at": fmt_time(it.created_at), "updated_at": fmt_time(it.updated_at), "closed_at": it.closed_at().map(fmt_time),
        "author_association": "MEMBER", "body": it.body, "state_reason": it.state_reason().map(|r| r.to_ascii_lowercase()),
    });
    if it.pull {
        v["pull_request"] = json!({ "url": format!("{base}/repos/{repo}/pulls/{}", it.number), "html_url": format!("https://github.com/{repo}/pull/{}", it.number),
                                     "merged_at": it.merged_at().map(fmt_time) });
    }
    v
}

fn rest_pull(s: &Scenario, it: &ScenarioItem, base: &str) -> Value {
    let mut v = rest_issue(s, it, base);
    let repo = &s.repos[it.repo].name;
    v["url"] = json!(format!("{base}/repos/{repo}/pulls/{}", it.number));
    if let Some(o) = v.as_object_mut() {
        o.remove("pull_request");
        o.remove("state_reason");
    }
    v["draft"] = json!(it.is_draft());
    v["merged"] = json!(it.merged_at().is_some());
    v["merged_at"] = json!(it.merged_at().map(fmt_time));
    v["merged_by"] = user_rest(&it.merged_by);
    let (users, teams) = pending_requests(it);
    v["requested_reviewers"] = json!(users.iter().map(|a| user_rest(&Some(a.clone()))).collect::<Vec<_>>());
    v["requested_teams"] =
        json!(teams.iter().map(|t| json!({"slug": t.rsplit('/').next().unwrap_or(t), "name": t})).collect::<Vec<_>>());
    v
}

fn current_labels(it: &ScenarioItem) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for n in &it.timeline {
        match &n.kind {
            NodeKind::Labeled(l) if !labels.contains(l) => labels.push(l.clone()),
            NodeKind::Unlabeled(l) => labels.retain(|x| x != l),
            _ => {}
        }
    }
    labels
}

fn current_assignees(it: &ScenarioItem) -> Vec<Actor> {
    let mut out: Vec<Actor> = Vec::new();
    for n in &it.timeline {
        match &n.kind {
            NodeKind::Assigned(a) if !out.contains(a) => out.push(a.clone()),
            NodeKind::Unassigned(a) => out.retain(|x| x != a),
            _ => {}
        }
    }
    out
}

/// Review requests still pending: GitHub drops a reviewer from the list once they review.
fn pending_requests(it: &ScenarioItem) -> (Vec<Actor>, Vec<String>) {
    let mut users: Vec<Actor> = Vec::new();
    let mut teams: Vec<String> = Vec::new();
    for n in &it.timeline {
        match &n.kind {
            NodeKind::ReviewRequested(RequestedReviewer::User(a)) if !users.contains(a) => users.push(a.clone()),
            NodeKind::ReviewRequested(RequestedReviewer::Team(t)) if !teams.contains(t) => teams.push(t.clone()),
            NodeKind::ReviewRequestRemoved(RequestedReviewer::User(a)) => users.retain(|x| x != a),
            NodeKind::ReviewRequestRemoved(RequestedReviewer::Team(t)) => teams.retain(|x| x != t),
            NodeKind::Review { state, .. } if state != "PENDING" => users.retain(|x| Some(x) != n.actor.as_ref()),
            _ => {}
        }
    }
    (users, teams)
}

fn rest_timeline_event(s: &Scenario, n: &Node) -> Option<Value> {
    let mut v = json!({ "id": hash(&n.id) as u32, "node_id": n.id, "actor": user_rest(&n.actor), "created_at": fmt_time(n.at) });
    let event = match &n.kind {
        NodeKind::Assigned(a) => {
            v["assignee"] = user_rest(&Some(a.clone()));
            "assigned"
        }
        NodeKind::Unassigned(a) => {
            v["assignee"] = user_rest(&Some(a.clone()));
            "unassigned"
        }
        NodeKind::Labeled(l) => {
            v["label"] = json!({"name": l, "color": "ededed"});
            "labeled"
        }
        NodeKind::Unlabeled(l) => {
            v["label"] = json!({"name": l, "color": "ededed"});
            "unlabeled"
        }
        NodeKind::Comment(body) => {
            return Some(
                json!({ "event": "commented", "id": hash(&n.id) as u32, "node_id": n.id, "user": user_rest(&n.actor), "actor": user_rest(&n.actor),
                                "body": body, "created_at": fmt_time(n.at), "updated_at": fmt_time(n.at) }),
            );
        }
        NodeKind::Closed(r) => {
            v["state_reason"] = json!(r.as_ref().map(|r| r.to_ascii_lowercase()));
            "closed"
        }
        NodeKind::Reopened => "reopened",
        NodeKind::Merged => "merged",
        NodeKind::ReadyForReview => "ready_for_review",
        NodeKind::ConvertToDraft => "convert_to_draft",
        NodeKind::Transferred(_) => "transferred",
        NodeKind::MarkedAsDuplicate(..) => "marked_as_duplicate",
        NodeKind::CrossReferenced(i) => {
            let src = &s.items[*i];
            v["source"] = json!({ "type": "issue", "issue": { "number": src.number, "node_id": src.id, "body": src.body,
                                                              "repository": {"full_name": s.repos[src.repo].name} } });
            "cross-referenced"
        }
        NodeKind::ReviewRequested(r) | NodeKind::ReviewRequestRemoved(r) => {
            match r {
                RequestedReviewer::User(a) => v["requested_reviewer"] = user_rest(&Some(a.clone())),
                RequestedReviewer::Team(t) => {
                    v["requested_team"] = json!({"slug": t.rsplit('/').next().unwrap_or(t), "name": t})
                }
            }
            if matches!(n.kind, NodeKind::ReviewRequested(_)) { "review_requested" } else { "review_request_removed" }
        }
        NodeKind::Review { state, .. } => {
            return Some(
                json!({ "event": "reviewed", "id": hash(&n.id) as u32, "node_id": n.id, "user": user_rest(&n.actor),
                                "state": state.to_ascii_lowercase(), "submitted_at": fmt_time(n.at), "body": "" }),
            );
        }
        NodeKind::Commit { oid, author, email, message } => {
            return Some(json!({ "event": "committed", "sha": oid, "node_id": format!("C_{oid}"), "message": message,
                                "author": {"name": author.as_ref().map_or("", |a| a.login.as_str()), "email": email, "date": fmt_time(n.at)},
                                "committer": {"name": author.as_ref().map_or("", |a| a.login.as_str()), "email": email, "date": fmt_time(committed_at(oid, n.at))} }));
        }
    };
    v["event"] = json!(event);
    Some(v)
}

fn rest(
    inner: &Inner,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Response {
    let s = lock(&inner.scenario).clone();
    let base = format!("http://{}", inner.addr);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let per_page = query.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(30).clamp(1, 100);
    let page_no = query.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let list: Vec<Value> = match parts.as_slice() {
        ["rate_limit"] => {
            let h = limit_headers(inner, "core", 0);
            let get = |k: &str| h.iter().find(|(n, _)| *n == k).map_or(0, |(_, v)| v.parse::<i64>().unwrap_or(0));
            let core = json!({"limit": LIMIT_PER_HOUR, "remaining": get("x-ratelimit-remaining"), "reset": get("x-ratelimit-reset")});
            return json_response(200, &json!({"resources": {"core": core, "graphql": core}, "rate": core}), &[]);
        }
        ["repos", owner, repo, rest @ ..] => {
            let name = format!("{owner}/{repo}");
            let Some(ri) = s.repos.iter().position(|r| r.name.eq_ignore_ascii_case(&name)) else {
                return json_response(404, &json!({"message": "Not Found"}), &limit_headers(inner, "core", 1));
            };
            let in_repo = |pull_only: bool| -> Vec<&ScenarioItem> {
                let mut v: Vec<&ScenarioItem> =
                    s.items.iter().filter(|i| i.repo == ri && (!pull_only || i.pull)).collect();
                let state = query.get("state").map_or("open", String::as_str);
                v.retain(|i| state == "all" || (state == "open") == (i.state() == "OPEN"));
                if let Some(since) = query.get("since").and_then(|t| crate::sources::http::parse_time(t)) {
                    v.retain(|i| i.updated_at >= since);
                }
                let by_updated = query.get("sort").map(String::as_str) == Some("updated");
                v.sort_by_key(|i| if by_updated { i.updated_at } else { i.created_at });
                if query.get("direction").is_none_or(|d| d == "desc") {
                    v.reverse();
                }
                v
            };
            let item = |n: &str| s.items.iter().find(|i| i.repo == ri && i.number.to_string() == n);
            match rest {
                ["issues"] => in_repo(false).iter().map(|i| rest_issue(&s, i, &base)).collect(),
                ["pulls"] => in_repo(true).iter().map(|i| rest_pull(&s, i, &base)).collect(),
                ["pulls", n] | ["issues", n] => {
                    let Some(it) = item(n) else {
                        return json_response(404, &json!({"message": "Not Found"}), &limit_headers(inner, "core", 1));
                    };
                    let v = if rest[0] == "pulls" && it.pull {
                        rest_pull(&s, it, &base)
                    } else {
                        rest_issue(&s, it, &base)
                    };
                    return conditional(inner, headers, v, None);
                }
                [kind, n, sub] => {
                    let Some(it) = item(n) else {
                        return json_response(404, &json!({"message": "Not Found"}), &limit_headers(inner, "core", 1));
                    };
                    match (*kind, *sub) {
                        ("issues", "comments") => it
                            .timeline
                            .iter()
                            .filter_map(|node| match &node.kind {
                                NodeKind::Comment(body) => Some(json!({ "id": hash(&node.id) as u32, "node_id": node.id, "user": user_rest(&node.actor), "body": body,
                                    "created_at": fmt_time(node.at), "updated_at": fmt_time(node.at), "author_association": "MEMBER",
                                    "html_url": format!("https://github.com/{name}/issues/{}#issuecomment-{}", it.number, hash(&node.id) as u32) })),
                                _ => None,
                            })
                            .collect(),
                        ("pulls", "reviews") => it
                            .timeline
                            .iter()
                            .filter_map(|node| match &node.kind {
                                NodeKind::Review { state, .. } => Some(json!({ "id": hash(&node.id) as u32, "node_id": node.id, "user": user_rest(&node.actor),
                                    "body": "", "state": state, "submitted_at": if state == "PENDING" { Value::Null } else { json!(fmt_time(node.at)) },
                                    "html_url": format!("https://github.com/{name}/pull/{}#pullrequestreview-{}", it.number, hash(&node.id) as u32) })),
                                _ => None,
                            })
                            .collect(),
                        ("pulls", "comments") => it
                            .timeline
                            .iter()
                            .flat_map(|node| match &node.kind {
                                NodeKind::Review { comments, .. } => comments
                                    .iter()
                                    .map(|c| json!({ "id": hash(&c.id) as u32, "node_id": c.id, "pull_request_review_id": hash(&node.id) as u32,
                                                     "user": user_rest(&c.author), "body": c.body, "created_at": fmt_time(c.at), "updated_at": fmt_time(c.at),
                                                     "diff_hunk": "@@ -1 +1 @@", "path": "README.md" }))
                                    .collect::<Vec<_>>(),
                                _ => Vec::new(),
                            })
                            .collect(),
                        ("pulls", "commits") => it
                            .timeline
                            .iter()
                            .filter_map(|node| match &node.kind {
                                NodeKind::Commit { oid, author, email, message } => Some(json!({ "sha": oid, "node_id": node.id,
                                    "commit": {"message": message, "author": {"name": author.as_ref().map_or("", |a| a.login.as_str()), "email": email, "date": fmt_time(node.at)},
                                               "committer": {"name": author.as_ref().map_or("", |a| a.login.as_str()), "email": email, "date": fmt_time(committed_at(oid, node.at))}},
                                    "author": user_rest(author), "committer": user_rest(author) })),
                                _ => None,
                            })
                            .collect(),
                        ("issues", "timeline") => it.timeline.iter().filter_map(|node| rest_timeline_event(&s, node)).collect(),
                        _ => return json_response(404, &json!({"message": "Not Found"}), &limit_headers(inner, "core", 1)),
                    }
                }
                _ => return json_response(404, &json!({"message": "Not Found"}), &limit_headers(inner, "core", 1)),
            }
        }
        _ => return json_response(404, &json!({"message": "Not Found"}), &limit_headers(inner, "core", 1)),
    };
    // Pagination with GitHub's Link header.
    let total_pages = list.len().div_ceil(per_page).max(1);
    let start = ((page_no - 1) * per_page).min(list.len());
    let end = (start + per_page).min(list.len());
    let link_to = |p: usize| {
        let mut q: Vec<String> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("page="))
            .map(str::to_string)
            .collect();
        q.push(format!("page={p}"));
        format!("<{base}{}?{}>", uri.path(), q.join("&"))
    };
    let mut links = Vec::new();
    if page_no < total_pages {
        links.push(format!("{}; rel=\"next\"", link_to(page_no + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(total_pages)));
    }
    if page_no > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
        links.push(format!("{}; rel=\"prev\"", link_to(page_no - 1)));
    }
    let link = (!links.is_empty()).then(|| links.join(", "));
    conditional(inner, headers, Value::Array(list[start..end].to_vec()), link)
}

/// Answers with an `ETag`; a matching `If-None-Match` gets `304` and spends no rate limit.
fn conditional(inner: &Inner, headers: &HeaderMap, body: Value, link: Option<String>) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let etag = format!("W/\"{:032x}\"", hash(&String::from_utf8_lossy(&bytes)));
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        lock(&inner.counters).not_modified += 1;
        let mut h = limit_headers(inner, "core", 0);
        h.push(("etag", etag));
        return respond(304, &h, Vec::new());
    }
    let mut h = limit_headers(inner, "core", 1);
    h.push(("etag", etag));
    h.push(("content-type", "application/json; charset=utf-8".into()));
    if let Some(l) = link {
        h.push(("link", l));
    }
    respond(200, &h, bytes)
}

/// Verifies an app JWT against the app's public key (PKCS#1 DER) and returns its claims: the
/// stand-in accepts only correctly signed tokens. The daemon never verifies one (it only signs).
pub fn verify_jwt(jwt: &str, public_key_der: &[u8]) -> Option<Value> {
    let (signing_input, signature) = jwt.rsplit_once('.')?;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).ok()?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public_key_der)
        .verify(signing_input.as_bytes(), &signature)
        .ok()?;
    let claims = signing_input.split('.').nth(1)?;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::github::auth::AppAuth;

    /// The throw-away 2048-bit RSA key (PKCS#1) the source's own tests use.
    const TEST_KEY: &str = include_str!("../../sources/src/github/test_app_key.pem");

    #[test]
    fn a_jwt_is_signed_rs256_with_the_expected_claims() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pem");
        std::fs::write(&path, TEST_KEY).unwrap();
        let app = AppAuth::load(42, &path, None, "gh").unwrap();
        let jwt = app.jwt(1_700_000_000).unwrap();
        let claims = verify_jwt(jwt.expose(), &app.public_key_der()).expect("valid signature");
        assert_eq!(claims, serde_json::json!({"iat": 1_699_999_940, "exp": 1_700_000_540, "iss": "42"}));
        // Tampering breaks it.
        let forged = jwt.expose().replacen('.', ".e", 1);
        assert!(verify_jwt(&forged, &app.public_key_der()).is_none());
        assert!(!format!("{app:?}").contains("BEGIN"));
    }

    #[test]
    fn a_pkcs8_key_is_the_same_key_as_its_pkcs1_form() {
        let dir = tempfile::tempdir().unwrap();
        let (pkcs1, pkcs8) = (dir.path().join("pkcs1.pem"), dir.path().join("pkcs8.pem"));
        std::fs::write(&pkcs1, TEST_KEY).unwrap();
        // Text around the block (as some tools write) is skipped.
        std::fs::write(
            &pkcs8,
            format!("Bag Attributes\n{}", include_str!("../../sources/src/github/test_app_key_pkcs8.pem")),
        )
        .unwrap();
        let (a, b) = (AppAuth::load(1, &pkcs1, None, "gh").unwrap(), AppAuth::load(1, &pkcs8, None, "gh").unwrap());
        assert_eq!(a.public_key_der(), b.public_key_der());
        assert!(verify_jwt(b.jwt(1_700_000_000).unwrap().expose(), &a.public_key_der()).is_some());
    }
}
