//! A GitLab stand-in: an axum server answering the REST v4 endpoints the GitLab source calls
//! (group and project issue / merge request lists, notes, resource state and label events,
//! descendant groups, members) in GitLab's shapes (compared with ../shared/realdata/perceval/gitlab),
//! with `x-next-page` / `Link` pagination and `RateLimit-*` headers, from a [`Scenario`].
//! It plays a current GitLab or one before resource state events ([`StateEvents`]: state changes
//! as system notes, the endpoint 404), and moves issues as GitLab does (copied history dated
//! before the copy's creation). It counts requests and injects faults on demand. Loopback only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::model::{DirectorySnapshot, Event, EventKind, Item, ItemKind, ReviewState, Reviewer, Ts};
use crate::mutex::lock;

// ---------------------------------------------------------------------------------------------
// The scenario.

/// What one history record of an item is on GitLab.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordKind {
    /// A note: a user comment, or a system note (`assigned to @bob`).
    Note { body: String, system: bool },
    /// A state change, `closed`, `reopened`, `merged`: a resource state event or a system note
    /// (`closed`, as recorded on gitlab.com before 13.2), as [`Scenario::state_events`] says.
    State(String),
    /// A state change GitLab kept only in the item's own fields (`merged_at`, `closed_at`): an
    /// imported item, or one whose state event and note are not written yet.
    FieldsOnly(String),
    /// A resource label event.
    Label { name: String, add: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Unique per endpoint kind (notes, state events, label events) across the instance.
    pub id: u64,
    pub at: Ts,
    /// Username.
    pub actor: Option<String>,
    pub kind: RecordKind,
}

/// An issue or merge request.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioItem {
    /// Global id.
    pub id: u64,
    /// Index in `Scenario::projects`.
    pub project: usize,
    pub iid: u64,
    pub merge_request: bool,
    pub title: String,
    pub author: Option<String>,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub records: Vec<Record>,
    /// Opened as a draft (GitLab writes no note for that; the MR's `draft` says it).
    pub opened_as_draft: bool,
    /// Served with a broken `created_at`, to test that one bad item is skipped.
    pub malformed: bool,
}

/// The state change a record is, wherever GitLab keeps it.
fn state_change(r: &Record) -> Option<&str> {
    match &r.kind {
        RecordKind::State(s) | RecordKind::FieldsOnly(s) => Some(s),
        _ => None,
    }
}

impl ScenarioItem {
    fn state(&self) -> &'static str {
        let mut state = "opened";
        for r in &self.records {
            if let Some(s) = state_change(r) {
                state = match s {
                    "closed" if state != "merged" => "closed",
                    "reopened" => "opened",
                    "merged" => "merged",
                    _ => state,
                };
            }
        }
        state
    }
    /// The last change to `state`: when, and by whom.
    fn last_change(&self, state: &str) -> Option<&Record> {
        self.records.iter().rev().find(|r| state_change(r) == Some(state))
    }
    fn labels(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.records {
            if let RecordKind::Label { name, add } = &r.kind {
                out.retain(|l| l != name);
                if *add {
                    out.push(name.clone());
                }
            }
        }
        out
    }
    fn draft(&self) -> bool {
        let mut draft = self.opened_as_draft;
        for r in &self.records {
            if let RecordKind::Note { body, system: true } = &r.kind {
                if body.contains("as **draft**") {
                    draft = true;
                } else if body.contains("as **ready**") {
                    draft = false;
                }
            }
        }
        draft
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: u64,
    /// Full path `group/sub/project`.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: u64,
    pub full_path: String,
    /// Usernames of direct members.
    pub members: Vec<String>,
}

/// Where the instance records merges, closes and reopens (resource state events exist since
/// GitLab 13.2; system notes before, as in the recorded gitlab.com data).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum StateEvents {
    /// 13.2 and later throughout: every state change is a resource state event, none a note.
    #[default]
    Recorded,
    /// Upgraded to 13.2 at this time: changes before it are system notes, later ones state events.
    Since(Ts),
    /// Before 13.2: `/resource_state_events` answers 404; every change is a system note.
    NotFound,
    /// The endpoint answers `[]` (an instance that records none); every change is a system note.
    Empty,
}

impl StateEvents {
    /// A state change at `at` is a state event (else a system note).
    fn records_event(self, at: Ts) -> bool {
        match self {
            StateEvents::Recorded => true,
            StateEvents::Since(t) => at >= t,
            StateEvents::NotFound | StateEvents::Empty => false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    pub projects: Vec<Project>,
    pub groups: Vec<Group>,
    pub items: Vec<ScenarioItem>,
    pub state_events: StateEvents,
}

fn username(identity: &str) -> Option<String> {
    let login = identity.split_once(':').map_or(identity, |(_, l)| l);
    (!login.is_empty()).then(|| login.to_string())
}

/// The subgroup path standing for a team or a team handle: `group/<team>` (a handle that already
/// has a slash is kept).
pub fn group_handle(group: &str, team: &str) -> String {
    if team.contains('/') { team.to_string() } else { format!("{group}/{team}") }
}

/// `scope` and number of a model key `source:scope#12`.
fn split_key(key: &str) -> Option<(String, u64)> {
    let rest = key.split_once(':')?.1;
    let (scope, n) = rest.rsplit_once(['#', '!'])?;
    Some((scope.to_string(), n.parse().ok()?))
}

impl Scenario {
    /// The GitLab shape of model items and events: issues stay issues, pull requests become
    /// merge requests, projects are put under the group `group` (`group/<scope>` unless the scope is
    /// already in it), teams of the directory become subgroups ([`group_handle`]). Events GitLab has no record for (commits,
    /// links, status, components, team reviews, reviews other than approvals) are left out.
    pub fn from_model(
        group: &str,
        items: &[Item],
        events: &[Event],
        directory: Option<&DirectorySnapshot>,
    ) -> Scenario {
        let mut s = Scenario::default();
        s.groups.push(Group { id: 1, full_path: group.to_string(), members: Vec::new() });
        let mut project_index: HashMap<String, usize> = HashMap::new();
        let mut item_index: HashMap<String, usize> = HashMap::new();
        for item in
            items.iter().filter(|i| matches!(i.kind, ItemKind::Issue | ItemKind::PullRequest | ItemKind::MergeRequest))
        {
            let Some((scope, number)) = split_key(&item.key) else { continue };
            let project = *project_index.entry(scope.clone()).or_insert_with(|| {
                let path =
                    if scope.starts_with(&format!("{group}/")) { scope.clone() } else { format!("{group}/{scope}") };
                s.projects.push(Project { id: 1000 + s.projects.len() as u64, path });
                s.projects.len() - 1
            });
            item_index.insert(item.key.clone(), s.items.len());
            s.items.push(ScenarioItem {
                id: 100_000 + s.items.len() as u64,
                project,
                iid: number,
                merge_request: item.kind != ItemKind::Issue,
                title: item.title.clone(),
                author: item.author.as_deref().and_then(username),
                created_at: item.created_at,
                updated_at: item.created_at,
                records: Vec::new(),
                opened_as_draft: false,
                malformed: false,
            });
        }
        let mut sorted: Vec<&Event> = events.iter().collect();
        sorted.sort_by_key(|e| e.at);
        let mut next_id = 1u64;
        for e in sorted {
            let Some(&i) = item_index.get(&e.item) else { continue };
            let it = &mut s.items[i];
            let mr = it.merge_request;
            let note = |body: String, system: bool| Some(RecordKind::Note { body, system });
            let kind = match &e.kind {
                EventKind::Assigned { assignee } => {
                    username(assignee).and_then(|a| note(format!("assigned to @{a}"), true))
                }
                EventKind::Unassigned { assignee } => {
                    username(assignee).and_then(|a| note(format!("unassigned @{a}"), true))
                }
                EventKind::Labeled { label } => Some(RecordKind::Label { name: label.clone(), add: true }),
                EventKind::Unlabeled { label } => Some(RecordKind::Label { name: label.clone(), add: false }),
                EventKind::ReviewRequested { reviewer: Reviewer::Person(p) } if mr => {
                    username(p).and_then(|a| note(format!("requested review from @{a}"), true))
                }
                EventKind::ReviewRequestRemoved { reviewer: Reviewer::Person(p) } if mr => {
                    username(p).and_then(|a| note(format!("removed review request for @{a}"), true))
                }
                EventKind::Reviewed { state: ReviewState::Approved } if mr => {
                    note("approved this merge request".into(), true)
                }
                EventKind::Commented { mentions } => {
                    let tags: String = mentions.iter().map(|m| format!(" @{}", group_handle(group, m))).collect();
                    note(format!("Looks good to me.{tags}"), false)
                }
                EventKind::Closed { .. } => Some(RecordKind::State("closed".into())),
                EventKind::Reopened => Some(RecordKind::State("reopened".into())),
                EventKind::Merged if mr => Some(RecordKind::State("merged".into())),
                EventKind::ConvertedToDraft if mr && e.at == it.created_at && it.records.is_empty() => {
                    it.opened_as_draft = true;
                    None
                }
                EventKind::ConvertedToDraft if mr => note("marked this merge request as **draft**".into(), true),
                EventKind::ReadyForReview if mr => note("marked this merge request as **ready**".into(), true),
                _ => None,
            };
            if let Some(kind) = kind {
                it.records.push(Record { id: next_id, at: e.at, actor: e.actor.as_deref().and_then(username), kind });
                next_id += 1;
                it.updated_at = it.updated_at.max(e.at);
            }
        }
        if let Some(dir) = directory {
            for (n, team) in dir.teams.iter().enumerate() {
                let members = dir
                    .people
                    .iter()
                    .filter(|p| p.memberships.iter().any(|m| m.team == team.name && m.until.is_none()))
                    .filter_map(|p| p.identities.first().and_then(|i| username(i)))
                    .collect();
                s.groups.push(Group { id: 2 + n as u64, full_path: group_handle(group, &team.name), members });
            }
        }
        s
    }

    /// The next free record id.
    pub fn next_record_id(&self) -> u64 {
        self.items.iter().flat_map(|i| i.records.iter().map(|r| r.id)).max().unwrap_or(0) + 1
    }

    /// Moves issue `i` to project `to` at `at`, by `actor`, as GitLab does: the issue gets a
    /// `moved to <path>#<iid>` note and is closed; a new issue is created at `at` in `to`, with
    /// copies of the old one's notes and events (new ids, their original dates: before its own
    /// creation) and a `moved from` note. Returns the new issue's index.
    pub fn move_issue(&mut self, i: usize, to: usize, at: Ts, actor: &str) -> usize {
        let iid =
            self.items.iter().filter(|x| x.project == to && !x.merge_request).map(|x| x.iid).max().unwrap_or(0) + 1;
        let id = self.items.iter().map(|x| x.id).max().unwrap_or(0) + 1;
        let mut next = self.next_record_id();
        let mut take = || {
            next += 1;
            next - 1
        };
        let old = &self.items[i];
        let (from_path, to_path) = (self.projects[old.project].path.clone(), self.projects[to].path.clone());
        let mut records: Vec<Record> = old.records.iter().map(|r| Record { id: take(), ..r.clone() }).collect();
        records.push(Record {
            id: take(),
            at,
            actor: Some(actor.into()),
            kind: RecordKind::Note { body: format!("moved from {from_path}#{}", old.iid), system: true },
        });
        let copy = ScenarioItem {
            id,
            project: to,
            iid,
            merge_request: false,
            title: old.title.clone(),
            author: old.author.clone(),
            created_at: at,
            updated_at: at,
            records,
            opened_as_draft: false,
            malformed: false,
        };
        let moved = Record {
            id: take(),
            at,
            actor: Some(actor.into()),
            kind: RecordKind::Note { body: format!("moved to {to_path}#{iid}"), system: true },
        };
        let close = Record { id: take(), at, actor: Some(actor.into()), kind: RecordKind::State("closed".into()) };
        let old = &mut self.items[i];
        old.records.extend([moved, close]);
        old.updated_at = old.updated_at.max(at);
        self.items.push(copy);
        self.items.len() - 1
    }
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
    /// HTTP 429 with `Retry-After: <seconds>` (GitLab's Rack::Attack throttle).
    RetryAfter(u64),
    /// HTTP 200 with the body cut in half.
    TruncatedJson,
    /// Answers normally, then an item already listed changes (a new comment): the page the
    /// reader saw is no longer what a second read would give.
    ChangingPage,
}

/// What the stand-in served.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Every request, faulted ones included.
    pub requests: u64,
    /// Requests by endpoint kind (`issues`, `merge_requests`, `notes`, `resource_state_events`…).
    pub endpoints: BTreeMap<String, u64>,
    pub faults_served: u64,
}

struct Inner {
    scenario: Mutex<Scenario>,
    tokens: HashSet<String>,
    faults: super::FaultPlan<Fault>,

    counters: Mutex<Counters>,
    limit_window: Mutex<(i64, i64)>,
    /// Lists longer than this have no `x-total` / `x-total-pages` (gitlab.com: 10,000).
    total_limit: Mutex<usize>,
    addr: SocketAddr,
}

/// A running stand-in. Dropping it stops the server.
pub struct GitlabStandIn {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GitlabStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// gitlab.com leaves out `x-total` (and `x-total-pages`) on lists longer than this.
const TOTAL_LIMIT: usize = 10_000;

/// gitlab.com's authenticated API limit per minute.
const LIMIT_PER_MINUTE: i64 = 2000;

impl GitlabStandIn {
    /// Serves `scenario` on a free loopback port; `tokens` are the accepted tokens.
    pub async fn start(scenario: Scenario, tokens: &[&str]) -> std::io::Result<GitlabStandIn> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            scenario: Mutex::new(scenario),
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            faults: super::FaultPlan::default(),
            counters: Mutex::new(Counters::default()),
            limit_window: Mutex::new((0, 0)),
            total_limit: Mutex::new(TOTAL_LIMIT),
            addr,
        });
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(GitlabStandIn { inner, task })
    }

    /// `http://127.0.0.1:<port>` (the instance URL; the API is under `/api/v4`).
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
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

    /// Lists longer than `n` are served without `x-total` (gitlab.com's 10,000, made small).
    pub fn set_total_limit(&self, n: usize) {
        *lock(&self.inner.total_limit) = n;
    }

    pub fn reset_counters(&self) {
        *lock(&self.inner.counters) = Counters::default();
    }

    /// Changes the scenario (a test's "meanwhile on GitLab").
    pub fn edit(&self, f: impl FnOnce(&mut Scenario)) {
        f(&mut lock(&self.inner.scenario));
    }

    pub fn scenario(&self) -> Scenario {
        lock(&self.inner.scenario).clone()
    }
}

fn respond(status: u16, headers: &[(String, String)], body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (axum::http::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            r.headers_mut().insert(name, value);
        }
    }
    r
}

fn json_response(status: u16, body: &Value, extra: &[(String, String)]) -> Response {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend(extra.iter().cloned());
    respond(status, &headers, serde_json::to_vec(body).unwrap_or_default())
}

fn wall_now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let n = {
        let mut c = lock(&inner.counters);
        c.requests += 1;
        c.requests
    };
    let fault = inner.faults.take(n);
    if let Some(f) = &fault {
        lock(&inner.counters).faults_served += 1;
        match f {
            Fault::ServerError => return json_response(500, &json!({"message": "500 Internal Server Error"}), &[]),
            Fault::RetryAfter(s) => {
                // Rack::Attack's throttle answer: plain text with the limit headers.
                let mut h = limit_headers(&inner);
                h.push(("retry-after".into(), s.to_string()));
                h.push(("content-type".into(), "text/plain".into()));
                return respond(429, &h, b"Retry later\n".to_vec());
            }
            Fault::Delay(d) => tokio::time::sleep(*d).await,
            Fault::TruncatedJson | Fault::ChangingPage => {}
        }
    }
    let mut response = route(&inner, &uri, &headers);
    if fault == Some(Fault::TruncatedJson) {
        super::truncate_body(&mut response).await;
    }
    if fault == Some(Fault::ChangingPage) {
        change_a_listed_item(&inner);
    }
    response
}

/// The item at a quarter of the update order gets a new comment after everything.
fn change_a_listed_item(inner: &Inner) {
    let mut s = lock(&inner.scenario);
    let Some(latest) = s.items.iter().map(|i| i.updated_at).max() else { return };
    let mut order: Vec<usize> = (0..s.items.len()).collect();
    order.sort_by_key(|&i| (s.items[i].updated_at, s.items[i].id));
    let Some(&pick) = order.get(order.len() / 4) else { return };
    let id = s.next_record_id();
    let item = &mut s.items[pick];
    let at = latest + 60;
    item.records.push(Record {
        id,
        at,
        actor: item.author.clone(),
        kind: RecordKind::Note { body: "Any news?".into(), system: false },
    });
    item.updated_at = at;
}

/// `Authorization: Bearer <token>` or `PRIVATE-TOKEN: <token>`.
fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let private = headers.get("private-token").and_then(|v| v.to_str().ok());
    bearer.or(private).is_some_and(|t| inner.tokens.contains(t))
}

fn limit_headers(inner: &Inner) -> Vec<(String, String)> {
    let now = wall_now();
    let mut w = lock(&inner.limit_window);
    if now - w.0 >= 60 {
        *w = (now - now % 60, 0);
    }
    w.1 += 1;
    let reset = w.0 + 60;
    vec![
        ("ratelimit-limit".into(), LIMIT_PER_MINUTE.to_string()),
        ("ratelimit-observed".into(), w.1.to_string()),
        ("ratelimit-remaining".into(), (LIMIT_PER_MINUTE - w.1).max(0).to_string()),
        ("ratelimit-reset".into(), reset.to_string()),
        (
            "ratelimit-resettime".into(),
            chrono::DateTime::from_timestamp(reset, 0).map(|t| t.to_rfc2822()).unwrap_or_default(),
        ),
    ]
}

fn not_found() -> Response {
    json_response(404, &json!({"message": "404 Not found"}), &[])
}

fn route(inner: &Inner, uri: &axum::http::Uri, headers: &HeaderMap) -> Response {
    if !authorized(inner, headers) {
        return json_response(401, &json!({"message": "401 Unauthorized"}), &[]);
    }
    let query: HashMap<String, String> =
        uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let Some(path) = uri.path().strip_prefix("/api/v4/") else { return not_found() };
    // Segments stay encoded: a path id is one segment (`acme%2Fpay`).
    let seg: Vec<String> = path
        .trim_end_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    let endpoint = match seg.as_slice() {
        [_, _, what] => what.to_string(),
        [_, _, _, _, what] => what.to_string(),
        _ => "other".into(),
    };
    *lock(&inner.counters).endpoints.entry(endpoint).or_default() += 1;
    let s = lock(&inner.scenario);
    let base = format!("http://{}", inner.addr);
    let all: Vec<Value> = match seg.as_slice() {
        ["groups" | "projects", id, what @ ("issues" | "merge_requests")] => {
            let mr = *what == "merge_requests";
            let in_scope = |p: &Project| {
                if seg[0] == "groups" {
                    p.path.starts_with(&format!("{id}/")) || p.id.to_string() == *id
                } else {
                    p.path == *id || p.id.to_string() == *id
                }
            };
            if seg[0] == "groups" && !s.groups.iter().any(|g| g.full_path == *id) {
                return not_found();
            }
            if seg[0] == "projects" && !s.projects.iter().any(&in_scope) {
                return not_found();
            }
            let after = query.get("updated_after").and_then(|t| crate::sources::http::parse_time(t));
            let before = query.get("updated_before").and_then(|t| crate::sources::http::parse_time(t));
            let mut list: Vec<&ScenarioItem> = s
                .items
                .iter()
                .filter(|i| i.merge_request == mr && s.projects.get(i.project).is_some_and(&in_scope))
                .filter(|i| after.is_none_or(|a| i.updated_at >= a))
                .filter(|i| before.is_none_or(|b| i.updated_at < b))
                .collect();
            list.sort_by_key(|i| (i.updated_at, i.id));
            list.iter().map(|i| item_json(&s, i, &base)).collect()
        }
        ["projects", pid, what @ ("issues" | "merge_requests"), iid, sub] => {
            let mr = *what == "merge_requests";
            let Some(item) = s.items.iter().find(|i| {
                i.merge_request == mr
                    && s.projects.get(i.project).is_some_and(|p| p.id.to_string() == *pid)
                    && i.iid.to_string() == *iid
            }) else {
                return not_found();
            };
            match *sub {
                "notes" => item.records.iter().filter_map(|r| note_json(&s, item, r)).collect(),
                "resource_state_events" if s.state_events == StateEvents::NotFound => {
                    // Grape's answer for a route the instance does not have.
                    return json_response(404, &json!({"error": "404 Not Found"}), &[]);
                }
                "resource_state_events" => item
                    .records
                    .iter()
                    .filter(|r| s.state_events.records_event(r.at))
                    .filter_map(|r| state_json(item, r))
                    .collect(),
                "resource_label_events" => item.records.iter().filter_map(|r| label_json(item, r)).collect(),
                _ => return not_found(),
            }
        }
        ["groups", id, "descendant_groups"] => {
            if !s.groups.iter().any(|g| g.full_path == *id) {
                return not_found();
            }
            s.groups.iter().filter(|g| g.full_path.starts_with(&format!("{id}/"))).map(group_json).collect()
        }
        ["groups", id, "members"] => match s.groups.iter().find(|g| g.full_path == *id) {
            Some(g) => g.members.iter().map(|m| member_json(m)).collect(),
            None => return not_found(),
        },
        _ => return not_found(),
    };
    drop(s);
    paged(inner, uri, &query, all)
}

/// One page of a list with GitLab's pagination headers (`x-next-page`, `x-total`, `Link`).
fn paged(inner: &Inner, uri: &axum::http::Uri, query: &HashMap<String, String>, all: Vec<Value>) -> Response {
    let per_page = query.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(20).clamp(1, 100);
    let page = query.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let total_pages = all.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = all.iter().skip((page - 1) * per_page).take(per_page).cloned().collect();
    let next = if page < total_pages { (page + 1).to_string() } else { String::new() };
    let link_to = |p: usize| {
        let q: Vec<String> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("page="))
            .map(str::to_string)
            .chain(std::iter::once(format!("page={p}")))
            .collect();
        format!("<http://{}{}?{}>", inner.addr, uri.path(), q.join("&"))
    };
    let mut links = Vec::new();
    if page < total_pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
    }
    links.push(format!("{}; rel=\"first\"", link_to(1)));
    links.push(format!("{}; rel=\"last\"", link_to(total_pages)));
    let mut headers = limit_headers(inner);
    headers.extend([
        ("x-page".to_string(), page.to_string()),
        ("x-per-page".to_string(), per_page.to_string()),
        ("x-next-page".to_string(), next),
        ("x-prev-page".to_string(), if page > 1 { (page - 1).to_string() } else { String::new() }),
        ("link".to_string(), links.join(", ")),
    ]);
    if all.len() <= *lock(&inner.total_limit) {
        headers.push(("x-total".to_string(), all.len().to_string()));
        headers.push(("x-total-pages".to_string(), total_pages.to_string()));
    }
    json_response(200, &Value::Array(items), &headers)
}

fn fmt_time(ts: Ts) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string())
}

/// 100 ms before `ts` (recorded gitlab.com data: `merged_at` 16:24:07.606, its note 16:24:07.647):
/// in whole seconds, the second before.
fn fmt_time_before(ts: Ts) -> String {
    chrono::DateTime::from_timestamp(ts - 1, 900_000_000)
        .map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%S.%3fZ").to_string())
}

fn user_json(name: &Option<String>) -> Value {
    match name {
        None => Value::Null,
        Some(n) => json!({
            "id": 10_000 + (n.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) % 1_000_000),
            "username": n,
            "name": n,
            "state": "active",
            "locked": false,
            "avatar_url": format!("https://secure.gravatar.com/avatar/{n}?s=80&d=identicon"),
            "web_url": format!("https://gitlab.example.com/{n}")
        }),
    }
}

fn item_json(s: &Scenario, it: &ScenarioItem, base: &str) -> Value {
    let project = &s.projects[it.project];
    let (what, sep) = if it.merge_request { ("merge_requests", '!') } else { ("issues", '#') };
    let state = it.state();
    // The item's fields are set a moment before the note or event of the change is written.
    let last = |change: &str| it.last_change(change).filter(|_| state == change);
    let closed = last("closed");
    let merged = last("merged");
    let mut assignees: Vec<String> = Vec::new();
    let mut reviewers: Vec<String> = Vec::new();
    for r in &it.records {
        if let RecordKind::Note { body, system: true } = &r.kind {
            let who = body.rsplit('@').next().unwrap_or("").to_string();
            if body.starts_with("assigned to @") {
                assignees.push(who);
            } else if body.starts_with("unassigned @") {
                assignees.retain(|a| *a != who);
            } else if body.starts_with("requested review from @") {
                reviewers.push(who);
            } else if body.starts_with("removed review request for @") {
                reviewers.retain(|a| *a != who);
            }
        }
    }
    let users = |l: &[String]| Value::Array(l.iter().map(|u| user_json(&Some(u.clone()))).collect());
    let created = if it.malformed { "not a time".to_string() } else { fmt_time(it.created_at) };
    let web_url = format!("https://gitlab.example.com/{}/-/{what}/{}", project.path, it.iid);
    let user_notes = it.records.iter().filter(|r| matches!(r.kind, RecordKind::Note { system: false, .. })).count();
    let mut v = json!({
        "id": it.id,
        "iid": it.iid,
        "project_id": project.id,
        "title": it.title,
        "description": "",
        "state": state,
        "created_at": created,
        "updated_at": fmt_time(it.updated_at),
        "closed_at": closed.map(|r| fmt_time_before(r.at)),
        "closed_by": closed.map_or(Value::Null, |r| user_json(&r.actor)),
        "labels": it.labels(),
        "milestone": Value::Null,
        "author": user_json(&it.author),
        "assignees": users(&assignees),
        "assignee": assignees.first().map_or(Value::Null, |a| user_json(&Some(a.clone()))),
        "user_notes_count": user_notes,
        "upvotes": 0,
        "downvotes": 0,
        "discussion_locked": Value::Null,
        "web_url": web_url,
        "references": {
            "short": format!("{sep}{}", it.iid),
            "relative": format!("{sep}{}", it.iid),
            "full": format!("{}{sep}{}", project.path, it.iid)
        },
        "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": null, "human_total_time_spent": null},
        "task_completion_status": {"count": 0, "completed_count": 0}
    });
    let extra = if it.merge_request {
        let merged_by = merged.map_or(Value::Null, |r| user_json(&r.actor));
        json!({
            "merged_at": merged.map(|r| fmt_time_before(r.at)),
            "merged_by": merged_by,
            "merge_user": merged_by,
            "target_branch": "main",
            "source_branch": format!("change-{}", it.iid),
            "source_project_id": project.id,
            "target_project_id": project.id,
            "reviewers": users(&reviewers),
            "draft": it.draft(),
            "work_in_progress": it.draft(),
            "merge_when_pipeline_succeeds": false,
            "merge_status": "can_be_merged",
            "detailed_merge_status": "mergeable",
            "sha": format!("{:040x}", it.id),
            "merge_commit_sha": Value::Null,
            "squash_commit_sha": Value::Null,
            "should_remove_source_branch": Value::Null,
            "force_remove_source_branch": false,
            "reference": format!("!{}", it.iid),
            "squash": false,
            "has_conflicts": false,
            "blocking_discussions_resolved": true
        })
    } else {
        json!({
            "type": "ISSUE",
            "issue_type": "issue",
            "confidential": false,
            "due_date": Value::Null,
            "merge_requests_count": 0,
            "has_tasks": false,
            "moved_to_id": Value::Null,
            "severity": "UNKNOWN",
            "_links": {
                "self": format!("{base}/api/v4/projects/{}/issues/{}", project.id, it.iid),
                "notes": format!("{base}/api/v4/projects/{}/issues/{}/notes", project.id, it.iid),
                "project": format!("{base}/api/v4/projects/{}", project.id)
            }
        })
    };
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    v
}

fn note_json(s: &Scenario, it: &ScenarioItem, r: &Record) -> Option<Value> {
    let (body, system) = match &r.kind {
        RecordKind::Note { body, system } => (body.as_str(), *system),
        RecordKind::State(state) if !s.state_events.records_event(r.at) => (state.as_str(), true),
        _ => return None,
    };
    Some(json!({
        "id": r.id,
        "type": Value::Null,
        "body": body,
        "attachment": Value::Null,
        "author": user_json(&r.actor),
        "created_at": fmt_time(r.at),
        "updated_at": fmt_time(r.at),
        "system": system,
        "noteable_id": it.id,
        "noteable_type": if it.merge_request { "MergeRequest" } else { "Issue" },
        "project_id": s.projects[it.project].id,
        "noteable_iid": it.iid,
        "resolvable": false,
        "confidential": false,
        "internal": false,
        "commands_changes": {}
    }))
}

fn state_json(it: &ScenarioItem, r: &Record) -> Option<Value> {
    let RecordKind::State(state) = &r.kind else { return None };
    Some(json!({
        "id": r.id,
        "user": user_json(&r.actor),
        "created_at": fmt_time(r.at),
        "resource_type": if it.merge_request { "MergeRequest" } else { "Issue" },
        "resource_id": it.id,
        "state": state
    }))
}

fn label_json(it: &ScenarioItem, r: &Record) -> Option<Value> {
    let RecordKind::Label { name, add } = &r.kind else { return None };
    Some(json!({
        "id": r.id,
        "user": user_json(&r.actor),
        "created_at": fmt_time(r.at),
        "resource_type": if it.merge_request { "MergeRequest" } else { "Issue" },
        "resource_id": it.id,
        "label": {"id": 70_000 + (name.len() as u64), "name": name, "color": "#34495E", "description": Value::Null},
        "action": if *add { "add" } else { "remove" }
    }))
}

fn group_json(g: &Group) -> Value {
    let name = g.full_path.rsplit('/').next().unwrap_or(&g.full_path);
    json!({
        "id": g.id,
        "name": name,
        "path": name,
        "full_name": g.full_path.replace('/', " / "),
        "full_path": g.full_path,
        "parent_id": if g.full_path.contains('/') { json!(1) } else { Value::Null },
        "visibility": "private",
        "web_url": format!("https://gitlab.example.com/groups/{}", g.full_path)
    })
}

fn member_json(username: &str) -> Value {
    let mut v = user_json(&Some(username.to_string()));
    if let Some(o) = v.as_object_mut() {
        o.insert("access_level".into(), json!(30));
        o.insert("created_at".into(), json!("2023-01-01T00:00:00.000Z"));
        o.insert("expires_at".into(), Value::Null);
        o.insert("membership_state".into(), json!("active"));
    }
    v
}
