//! A Jira stand-in: an axum server answering Cloud (`/rest/api/3/search/jql` with
//! `nextPageToken`; the retired `/rest/api/3/search` answers 410) or Data Center (`/rest/api/2/search`
//! with `startAt`) searches, `/myself`, statuses, changelogs and comments, in Jira's shapes, from a
//! [`JiraScenario`]: statuses deleted from the workflow (embedded in issues, missing from
//! `/status`), resolutions with `resolutiondate`, links added and removed. It reads the JQL the
//! Jira source writes (projects, `updated >=` as wall time in the user's IANA zone, an ambiguous
//! wall time as the later instant), counts requests and injects faults on demand. Loopback only.

use std::collections::{BTreeMap, HashMap};
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

use crate::model::{Event, EventKind, Item, ItemKind, StatusCategory, Ts};
use crate::mutex::lock;
use crate::sources::jira::Flavor;

/// A workflow status.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub id: String,
    pub name: String,
    pub category: StatusCategory,
    /// Deleted from the workflow: issues still embed it, `/status` no longer lists it.
    pub deleted: bool,
}

impl Status {
    pub fn new(id: &str, name: &str, category: StatusCategory) -> Status {
        Status { id: id.into(), name: name.into(), category, deleted: false }
    }
}

/// One changed field of a history, as Jira's changelog writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeItem {
    pub field: String,
    pub field_id: String,
    pub from: Option<String>,
    pub from_string: Option<String>,
    pub to: Option<String>,
    pub to_string: Option<String>,
}

impl ChangeItem {
    /// A status transition, with the status ids of `statuses`.
    pub fn status(statuses: &[Status], from: &str, to: &str) -> ChangeItem {
        let id = |n: &str| statuses.iter().find(|s| s.name == n).map(|s| s.id.clone());
        ChangeItem {
            field: "status".into(),
            field_id: "status".into(),
            from: id(from),
            from_string: Some(from.into()),
            to: id(to),
            to_string: Some(to.into()),
        }
    }
    /// The resolution set (`to`) or cleared (`to` None), as Jira writes it.
    pub fn resolution(from: Option<&str>, to: Option<&str>) -> ChangeItem {
        let id = |n: Option<&str>| n.map(|n| format!("{}", 10_000 + n.len()));
        ChangeItem {
            field: "resolution".into(),
            field_id: "resolution".into(),
            from: id(from),
            from_string: from.map(str::to_string),
            to: id(to),
            to_string: to.map(str::to_string),
        }
    }
    /// A link made (`This issue <phrase> <target>` in `toString`, the key in `to`).
    pub fn link_added(phrase: &str, target: &str) -> ChangeItem {
        ChangeItem {
            field: "Link".into(),
            field_id: String::new(),
            from: None,
            from_string: None,
            to: Some(target.into()),
            to_string: Some(format!("This issue {phrase} {target}")),
        }
    }
    /// A link removed: the same text in `fromString`, the key in `from`, `to` null.
    pub fn link_removed(phrase: &str, target: &str) -> ChangeItem {
        ChangeItem {
            field: "Link".into(),
            field_id: String::new(),
            from: Some(target.into()),
            from_string: Some(format!("This issue {phrase} {target}")),
            to: None,
            to_string: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub id: u64,
    pub at: Ts,
    /// Account id (Cloud) / user name (Data Center).
    pub author: String,
    pub items: Vec<ChangeItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JiraComment {
    pub id: u64,
    pub at: Ts,
    pub author: String,
    pub body: String,
}

/// An issue: what it was created with, and its changelog and comments.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraIssue {
    pub id: u64,
    pub project: String,
    pub number: u64,
    pub issue_type: String,
    pub summary: String,
    pub reporter: String,
    pub created: Ts,
    pub updated: Ts,
    pub initial_status: String,
    pub initial_team: Option<String>,
    pub initial_assignee: Option<String>,
    pub histories: Vec<History>,
    pub comments: Vec<JiraComment>,
    /// Served without `fields.created`, to test that one bad issue is skipped.
    pub malformed: bool,
}

impl JiraIssue {
    /// An issue created at `created` in `status`, with no history yet.
    pub fn new(project: &str, number: u64, created: Ts, reporter: &str, status: &str) -> JiraIssue {
        JiraIssue {
            id: 10_000 + number,
            project: project.into(),
            number,
            issue_type: "Task".into(),
            summary: format!("{project}-{number}"),
            reporter: reporter.into(),
            created,
            updated: created,
            initial_status: status.into(),
            initial_team: None,
            initial_assignee: None,
            histories: Vec::new(),
            comments: Vec::new(),
            malformed: false,
        }
    }
    /// Adds a history (and moves `updated`).
    pub fn change(&mut self, id: u64, at: Ts, author: &str, items: Vec<ChangeItem>) -> &mut JiraIssue {
        self.histories.push(History { id, at, author: author.into(), items });
        self.histories.sort_by_key(|h| (h.at, h.id));
        self.updated = self.updated.max(at);
        self
    }
    pub fn key(&self) -> String {
        format!("{}-{}", self.project, self.number)
    }
    /// When the current resolution was set (`resolutiondate`), if it is set.
    fn resolution_date(&self) -> Option<Ts> {
        let last =
            self.histories.iter().rev().find_map(|h| {
                h.items.iter().rfind(|i| i.field_id == "resolution").map(|i| (h.at, i.to_string.is_some()))
            });
        match last {
            Some((at, true)) => Some(at),
            _ => None,
        }
    }
    /// Links made and not removed since: (phrase, target key).
    fn links(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let phrase = |text: &Option<String>, key: &Option<String>| {
            let (t, k) = (text.as_deref()?, key.as_deref()?);
            Some((t.strip_prefix("This issue ")?.strip_suffix(k)?.trim().to_string(), k.to_string()))
        };
        for i in self.histories.iter().flat_map(|h| &h.items).filter(|i| i.field == "Link") {
            if let Some(gone) = phrase(&i.from_string, &i.from) {
                out.retain(|l| *l != gone);
            }
            if let Some(made) = phrase(&i.to_string, &i.to) {
                out.push(made);
            }
        }
        out
    }
    /// A field's value after the whole changelog.
    fn current(&self, field_id: &str, initial: Option<String>) -> Option<String> {
        let mut v = initial;
        for i in self.histories.iter().flat_map(|h| &h.items).filter(|i| i.field_id == field_id) {
            v = if field_id == "assignee" { i.to.clone() } else { i.to_string.clone() };
        }
        v
    }
    fn labels(&self) -> Vec<String> {
        let last = self.histories.iter().flat_map(|h| &h.items).rfind(|i| i.field_id == "labels");
        last.and_then(|i| i.to_string.clone())
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// What the stand-in serves.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraScenario {
    pub statuses: Vec<Status>,
    pub issues: Vec<JiraIssue>,
    pub team_field_id: String,
    pub team_field_name: String,
}

impl Default for JiraScenario {
    fn default() -> Self {
        JiraScenario {
            statuses: Vec::new(),
            issues: Vec::new(),
            team_field_id: "customfield_10400".into(),
            team_field_name: "Team".into(),
        }
    }
}

/// The Jira project key of a simulated scope: `sim-org/payments-api` → `PAYMENTSAPI`.
pub fn project_key(scope: &str) -> String {
    let name = scope.rsplit('/').next().unwrap_or(scope);
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// The login part of an identity (`sim:alice` → `alice`).
pub fn login_of(identity: &str) -> String {
    identity.split_once(':').map_or(identity, |(_, l)| l).to_string()
}

impl JiraScenario {
    /// Tickets of a model history (the simulator's) as Jira issues. What an issue was created
    /// with (first status, first team) is not in the changelog, as in Jira; every later status,
    /// team, assignee and label change is a history, a close sets the resolution, and comments
    /// carry their team mentions as `@org/team` text.
    pub fn from_model(items: &[Item], events: &[Event]) -> JiraScenario {
        let mut s = JiraScenario::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        for item in items.iter().filter(|i| i.kind == ItemKind::Ticket) {
            let number = item.key.rsplit('#').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            index.insert(item.key.clone(), s.issues.len());
            s.issues.push(JiraIssue {
                id: 10_000 + s.issues.len() as u64,
                project: project_key(&item.scope),
                number,
                issue_type: item.issue_type.clone().unwrap_or_else(|| "Task".into()),
                summary: item.title.clone(),
                reporter: item.author.as_deref().map(login_of).unwrap_or_default(),
                created: item.created_at,
                updated: item.created_at,
                initial_status: String::new(),
                initial_team: None,
                initial_assignee: None,
                histories: Vec::new(),
                comments: Vec::new(),
                malformed: false,
            });
        }
        let mut status_ids: BTreeMap<String, (String, StatusCategory)> = BTreeMap::new();
        let mut sorted: Vec<&Event> = events.iter().filter(|e| index.contains_key(&e.item)).collect();
        sorted.sort_by_key(|e| e.at);
        let mut next_id = 20_000u64;
        // Per issue: status, team, assignee, labels so far, and whether the status / team were set.
        // Per issue so far: status, team, assignee, labels.
        type Fields = (Option<String>, Option<String>, Option<String>, Vec<String>);
        let mut state: HashMap<usize, Fields> = HashMap::new();
        for e in sorted {
            let i = index[&e.item];
            let actor = e.actor.as_deref().map(login_of).unwrap_or_default();
            let st = state.entry(i).or_default();
            let issue = &mut s.issues[i];
            issue.updated = issue.updated.max(e.at);
            let mut change = |items: Vec<ChangeItem>, issue: &mut JiraIssue| {
                next_id += 1;
                issue.histories.push(History { id: next_id, at: e.at, author: actor.clone(), items });
            };
            let item = |field: &str, id: &str, from: Option<String>, fs: Option<String>, to: Option<String>, ts| {
                ChangeItem { field: field.into(), field_id: id.into(), from, from_string: fs, to, to_string: ts }
            };
            match &e.kind {
                EventKind::StatusChanged { from: None, to, category } if st.0.is_none() => {
                    let n = status_ids.len();
                    status_ids
                        .entry(to.clone())
                        .or_insert_with(|| ((n + 1).to_string(), category.unwrap_or(StatusCategory::ToDo)));
                    issue.initial_status = to.clone();
                    st.0 = Some(to.clone());
                }
                EventKind::StatusChanged { to, category, .. } => {
                    let n = status_ids.len();
                    let to_id = status_ids
                        .entry(to.clone())
                        .or_insert_with(|| ((n + 1).to_string(), category.unwrap_or(StatusCategory::ToDo)))
                        .0
                        .clone();
                    let from = st.0.clone();
                    let from_id = from.as_ref().and_then(|f| status_ids.get(f)).map(|x| x.0.clone());
                    change(vec![item("status", "status", from_id, from, Some(to_id), Some(to.clone()))], issue);
                    // A close in the same second sets the resolution in this history (below).
                    st.0 = Some(to.clone());
                }
                EventKind::Closed { completed } => {
                    let name = if *completed { "Done" } else { "Won't Do" };
                    let resolution = item("resolution", "resolution", None, None, Some("1".into()), Some(name.into()));
                    match issue.histories.last_mut() {
                        Some(h) if h.at == e.at && h.items.iter().any(|i| i.field_id == "status") => {
                            h.items.push(resolution)
                        }
                        _ => {
                            // Jira closes by a transition: into the done status of that name.
                            let n = status_ids.len();
                            let to_id = status_ids
                                .entry(name.to_string())
                                .or_insert_with(|| ((n + 1).to_string(), StatusCategory::Done))
                                .0
                                .clone();
                            let from = st.0.clone();
                            let from_id = from.as_ref().and_then(|f| status_ids.get(f)).map(|x| x.0.clone());
                            let status = item("status", "status", from_id, from, Some(to_id), Some(name.to_string()));
                            change(vec![status, resolution], issue);
                            st.0 = Some(name.to_string());
                        }
                    }
                }
                EventKind::Reopened => {
                    if let Some(h) = issue.histories.last_mut()
                        && h.at == e.at
                    {
                        h.items.push(item(
                            "resolution",
                            "resolution",
                            Some("1".into()),
                            Some("Done".into()),
                            None,
                            None,
                        ));
                    }
                }
                EventKind::TeamFieldChanged { to }
                    if st.1.is_none() && issue.histories.is_empty() && e.at == issue.created =>
                {
                    issue.initial_team = to.clone();
                    st.1 = to.clone();
                }
                EventKind::TeamFieldChanged { to } => {
                    let (id, name) = (s.team_field_id.clone(), s.team_field_name.clone());
                    let from = st.1.clone();
                    change(vec![item(&name, &id, None, from, None, to.clone())], issue);
                    st.1 = to.clone();
                }
                EventKind::Assigned { assignee } => {
                    let to = login_of(assignee);
                    let from = st.2.clone();
                    change(
                        vec![item("assignee", "assignee", from.clone(), from, Some(to.clone()), Some(to.clone()))],
                        issue,
                    );
                    st.2 = Some(to);
                }
                EventKind::Unassigned { assignee } => {
                    let gone = login_of(assignee);
                    if st.2.as_deref() == Some(gone.as_str()) {
                        change(vec![item("assignee", "assignee", Some(gone.clone()), Some(gone), None, None)], issue);
                        st.2 = None;
                    }
                }
                EventKind::Labeled { label } | EventKind::Unlabeled { label } => {
                    let before = st.3.join(" ");
                    if matches!(e.kind, EventKind::Labeled { .. }) {
                        if !st.3.contains(label) {
                            st.3.push(label.clone());
                        }
                    } else {
                        st.3.retain(|l| l != label);
                    }
                    st.3.sort();
                    let after = st.3.join(" ");
                    let some = |s: String| (!s.is_empty()).then_some(s);
                    change(vec![item("labels", "labels", None, some(before), None, some(after))], issue);
                }
                EventKind::Commented { mentions } => {
                    next_id += 1;
                    let mut body = "Any news on this?".to_string();
                    for m in mentions {
                        body.push_str(&format!(" cc @{m}"));
                    }
                    issue.comments.push(JiraComment { id: next_id, at: e.at, author: actor.clone(), body });
                }
                _ => {}
            }
        }
        s.statuses = status_ids
            .into_iter()
            .map(|(name, (id, category))| Status { id, name, category, deleted: false })
            .collect();
        s.statuses.sort_by(|a, b| a.id.cmp(&b.id));
        s
    }
}

impl JiraScenario {
    /// The real workflow of many Jira sites: an issue is resolved (resolution set) in a status
    /// `resolved` that `/status` no longer lists (deleted from the workflow; issues still in it
    /// embed it, category done), and `after` seconds later `admin` tidies it up into the done
    /// status `closed`, unless it moved on before or that is after `until` (it is still in
    /// `resolved` then). Every close that set a resolution with a move into a done status becomes
    /// a move into `resolved`.
    pub fn resolve_then_close_later(&mut self, resolved: &str, closed: &str, admin: &str, after: Ts, until: Ts) {
        let next_id =
            |s: &JiraScenario| s.statuses.iter().filter_map(|x| x.id.parse::<u64>().ok()).max().unwrap_or(0) + 1;
        if !self.statuses.iter().any(|x| x.name == resolved) {
            let id = next_id(self).to_string();
            self.statuses.push(Status { id, name: resolved.into(), category: StatusCategory::Done, deleted: true });
        }
        if !self.statuses.iter().any(|x| x.name == closed) {
            let id = next_id(self).to_string();
            self.statuses.push(Status::new(&id, closed, StatusCategory::Done));
        }
        let statuses = self.statuses.clone();
        let done = |name: &Option<String>| {
            statuses.iter().any(|x| Some(&x.name) == name.as_ref() && x.category == StatusCategory::Done)
        };
        let mut history_id = 800_000_000u64;
        for issue in &mut self.issues {
            let mut k = 0;
            while k < issue.histories.len() {
                let h = &issue.histories[k];
                let sets_resolution = h.items.iter().any(|i| i.field_id == "resolution" && i.to_string.is_some());
                let Some(pos) = h.items.iter().position(|i| i.field_id == "status" && done(&i.to_string)) else {
                    k += 1;
                    continue;
                };
                if !sets_resolution {
                    k += 1;
                    continue;
                }
                let at = h.at;
                let item = ChangeItem::status(&statuses, h.items[pos].from_string.as_deref().unwrap_or(""), resolved);
                let item = ChangeItem {
                    from: h.items[pos].from.clone(),
                    from_string: h.items[pos].from_string.clone(),
                    ..item
                };
                issue.histories[k].items[pos] = item;
                // The next status change starts from `resolved`, or the admin closes it first.
                let next = issue.histories[k + 1..]
                    .iter()
                    .position(|h| h.items.iter().any(|i| i.field_id == "status"))
                    .map(|p| p + k + 1);
                let tidy_at = at + after;
                let moved_on = next.is_some_and(|n| issue.histories[n].at <= tidy_at);
                let from = if moved_on || tidy_at > until {
                    resolved
                } else {
                    history_id += 1;
                    let tidy = History {
                        id: history_id,
                        at: tidy_at,
                        author: admin.into(),
                        items: vec![ChangeItem::status(&statuses, resolved, closed)],
                    };
                    issue.histories.push(tidy);
                    issue.updated = issue.updated.max(tidy_at);
                    closed
                };
                if let Some(n) = next {
                    for i in issue.histories[n].items.iter_mut().filter(|i| i.field_id == "status") {
                        let moved = ChangeItem::status(&statuses, from, i.to_string.as_deref().unwrap_or(""));
                        i.from = moved.from;
                        i.from_string = moved.from_string;
                    }
                }
                issue.histories.sort_by_key(|h| (h.at, h.id));
                k += 1;
            }
        }
    }
}

/// A fault served instead of (or around) the next answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// HTTP 500.
    ServerError,
    /// The answer comes after this long (longer than the client's timeout).
    Delay(Duration),
    /// HTTP 429 with `Retry-After: <seconds>` and Jira's `RateLimit-Reason`.
    RetryAfter(u64),
    /// HTTP 200 with the body cut in half.
    TruncatedJson,
    /// Answers normally, then an issue already listed gets a new comment (moves later).
    ChangingPage,
    /// A changelog or comment follow-up page comes back empty, short of its `total` (the issue
    /// edited between two pages); other answers are left as they are.
    EmptyFollowUp,
}

/// What the stand-in served.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    pub requests: u64,
    pub searches: u64,
    /// Requests to the retired Cloud search (`/rest/api/3/search`, answered 410).
    pub retired_searches: u64,
    pub changelogs: u64,
    pub comments: u64,
    pub statuses: u64,
    pub myself: u64,
    pub faults_served: u64,
    /// Cloud `POST /search/approximate-count` and Data Center `maxResults=0` searches answered.
    pub counts: u64,
    /// The JQL of every search, in order, and the newest `updated` of the page it was answered.
    pub jql: Vec<String>,
    pub newest_served: Vec<Option<Ts>>,
}

/// How the stand-in answers an auxiliary endpoint (`/myself`, `/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auxiliary {
    /// As Jira does.
    Serve,
    /// HTTP 404 (an older Data Center, a restricted token).
    NotFound,
    /// `/myself` without `timeZone` (older Data Center versions).
    WithoutTimeZone,
}

/// How the stand-in behaves.
#[derive(Debug, Clone)]
pub struct StandInSettings {
    pub flavor: Flavor,
    /// Cloud: (e-mail, API token); Data Center: ("", PAT).
    pub email: String,
    pub token: String,
    /// The Jira user's time zone (`timeZone` of `/myself`): JQL dates are read as wall time in it.
    pub time_zone: chrono_tz::Tz,
    pub myself: Auxiliary,
    pub status_list: Auxiliary,
    /// Histories embedded per issue with `expand=changelog` (Cloud: 100).
    pub embedded_histories: usize,
    /// Comments embedded in `fields.comment`.
    pub embedded_comments: usize,
}

struct Inner {
    scenario: Mutex<JiraScenario>,
    settings: StandInSettings,
    faults: super::FaultPlan<Fault>,

    counters: Mutex<Counters>,
    addr: SocketAddr,
}

/// A running stand-in. Dropping it stops the server.
pub struct JiraStandIn {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JiraStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JiraStandIn {
    pub async fn start(scenario: JiraScenario, settings: StandInSettings) -> std::io::Result<JiraStandIn> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            scenario: Mutex::new(scenario),
            settings,
            faults: super::FaultPlan::default(),
            counters: Mutex::new(Counters::default()),
            addr,
        });
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(JiraStandIn { inner, task })
    }

    /// `http://127.0.0.1:<port>` (the Jira base URL).
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }
    pub fn inject(&self, fault: Fault) {
        self.inner.faults.push(fault);
    }
    /// Serves `fault` on the `n`-th request (1-based).
    pub fn inject_at(&self, n: u64, fault: Fault) {
        self.inner.faults.at(n, fault);
    }
    pub fn counters(&self) -> Counters {
        lock(&self.inner.counters).clone()
    }
    pub fn reset_counters(&self) {
        *lock(&self.inner.counters) = Counters::default();
    }
    pub fn edit(&self, f: impl FnOnce(&mut JiraScenario)) {
        f(&mut lock(&self.inner.scenario));
    }
    pub fn scenario(&self) -> JiraScenario {
        lock(&self.inner.scenario).clone()
    }
}

fn json_response(status: u16, body: &Value, extra: &[(&str, String)]) -> Response {
    let mut r = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json;charset=UTF-8"));
    for (k, v) in extra {
        if let (Ok(name), Ok(value)) = (axum::http::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            r.headers_mut().insert(name, value);
        }
    }
    r
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
            Fault::ServerError => {
                return json_response(500, &json!({"errorMessages": ["Internal server error"], "errors": {}}), &[]);
            }
            Fault::RetryAfter(s) => {
                return json_response(
                    429,
                    &json!({"errorMessages": ["Rate limit exceeded."]}),
                    &[
                        ("retry-after", s.to_string()),
                        ("x-ratelimit-limit", "100".into()),
                        ("x-ratelimit-remaining", "0".into()),
                        ("ratelimit-reason", "jira-burst-based".into()),
                    ],
                );
            }
            Fault::Delay(d) => tokio::time::sleep(*d).await,
            Fault::TruncatedJson | Fault::ChangingPage | Fault::EmptyFollowUp => {}
        }
    }
    if request.method() == axum::http::Method::POST {
        let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap_or_default();
        return post(&inner, &uri, &headers, &body);
    }
    let mut response = route(&inner, &uri, &headers);
    if fault == Some(Fault::TruncatedJson) {
        super::truncate_body(&mut response).await;
    }
    if fault == Some(Fault::EmptyFollowUp) {
        empty_follow_up(&mut response).await;
    }
    if fault == Some(Fault::ChangingPage) {
        let mut s = lock(&inner.scenario);
        let latest = s.issues.iter().map(|i| i.updated).max().unwrap_or(0);
        let mut order: Vec<usize> = (0..s.issues.len()).collect();
        order.sort_by_key(|&i| (s.issues[i].updated, s.issues[i].project.clone(), s.issues[i].number));
        if let Some(&pick) = order.get(order.len() / 4) {
            let issue = &mut s.issues[pick];
            let at = latest + 60;
            let id = 900_000_000 + issue.id * 100 + issue.comments.len() as u64;
            issue.comments.push(JiraComment { id, at, author: issue.reporter.clone(), body: "Any news?".into() });
            issue.updated = at;
        }
    }
    response
}

/// [`Fault::EmptyFollowUp`]: a follow-up page (`values` of a changelog, `comments` of a comment
/// list, each with its `total`) without its entries.
async fn empty_follow_up(response: &mut Response) {
    let bytes = axum::body::to_bytes(std::mem::take(response.body_mut()), 64 << 20).await.unwrap_or_default();
    let mut page: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if page["total"].is_u64() {
        if page["values"].is_array() {
            page["values"] = json!([]);
            page["isLast"] = json!(false);
        } else if page["comments"].is_array() {
            page["comments"] = json!([]);
        }
    }
    let body = serde_json::to_vec(&page).unwrap_or_else(|_| bytes.to_vec());
    response.headers_mut().remove("content-length");
    *response.body_mut() = Body::from(body);
}

/// Cloud's `POST /rest/api/3/search/approximate-count` (`{"jql"}` → `{"count"}`; bounded JQL,
/// an `ORDER BY` ignored), the one POST the stand-in serves.
fn post(inner: &Inner, uri: &axum::http::Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let settings = &inner.settings;
    if !authorized(settings, headers) {
        return json_response(401, &json!({"errorMessages": ["You are not authenticated."]}), &[]);
    }
    if settings.flavor != Flavor::Cloud || uri.path().trim_end_matches('/') != "/rest/api/3/search/approximate-count" {
        return json_response(404, &json!({"errorMessages": ["Not found"]}), &[]);
    }
    let Some(jql) = serde_json::from_slice::<Value>(body).ok().and_then(|v| v["jql"].as_str().map(str::to_string))
    else {
        return json_response(400, &json!({"errorMessages": ["The request body must hold a jql string."]}), &[]);
    };
    lock(&inner.counters).counts += 1;
    let scenario = lock(&inner.scenario).clone();
    let n = scenario.issues.iter().filter(|i| matches_jql(&jql, i, settings.time_zone)).count();
    let limit = [("x-ratelimit-limit", "350".to_string()), ("x-ratelimit-remaining", "349".to_string())];
    json_response(200, &json!({ "count": n }), &limit)
}

fn authorized(settings: &StandInSettings, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else { return false };
    match settings.flavor {
        Flavor::Cloud => value
            .strip_prefix("Basic ")
            .and_then(|b| STANDARD.decode(b).ok())
            .is_some_and(|raw| raw == format!("{}:{}", settings.email, settings.token).into_bytes()),
        Flavor::DataCenter => value.strip_prefix("Bearer ") == Some(settings.token.as_str()),
    }
}

fn category_key(c: StatusCategory) -> &'static str {
    match c {
        StatusCategory::ToDo => "new",
        StatusCategory::InProgress => "indeterminate",
        StatusCategory::Done => "done",
    }
}

fn route(inner: &Inner, uri: &axum::http::Uri, headers: &HeaderMap) -> Response {
    let settings = &inner.settings;
    let path = uri.path().trim_end_matches('/');
    let query: HashMap<String, String> =
        uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    if !authorized(settings, headers) {
        return json_response(401, &json!({"errorMessages": ["You are not authenticated."]}), &[]);
    }
    let version = match settings.flavor {
        Flavor::Cloud => "3",
        Flavor::DataCenter => "2",
    };
    let Some(rest) = path.strip_prefix("/rest/api/").and_then(|r| r.strip_prefix(version)) else {
        return json_response(404, &json!({"errorMessages": ["Not found"]}), &[]);
    };
    let limit_headers = [("x-ratelimit-limit", "350".to_string()), ("x-ratelimit-remaining", "349".to_string())];
    let scenario = lock(&inner.scenario).clone();
    let num = |k: &str, d: usize| query.get(k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(d);
    match (settings.flavor, rest) {
        (Flavor::Cloud, "/search") => {
            lock(&inner.counters).retired_searches += 1;
            json_response(
                410,
                &json!({"errorMessages": ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"], "errors": {}}),
                &[],
            )
        }
        (Flavor::Cloud, "/search/jql") | (Flavor::DataCenter, "/search") => {
            let jql = query.get("jql").cloned().unwrap_or_default();
            {
                let mut c = lock(&inner.counters);
                c.searches += 1;
                c.jql.push(jql.clone());
            }
            let mut hits: Vec<&JiraIssue> =
                scenario.issues.iter().filter(|i| matches_jql(&jql, i, settings.time_zone)).collect();
            hits.sort_by_key(|i| (i.updated, i.project.clone(), i.number));
            // Data Center answers `maxResults=0` with the total and no issues (a count).
            let max = match num("maxResults", 50) {
                0 if settings.flavor == Flavor::DataCenter => {
                    lock(&inner.counters).counts += 1;
                    0
                }
                m => m.clamp(1, 100),
            };
            let start = match settings.flavor {
                Flavor::Cloud => {
                    query.get("nextPageToken").and_then(|t| t.strip_prefix("tok-")?.parse().ok()).unwrap_or(0)
                }
                Flavor::DataCenter => num("startAt", 0),
            };
            let served: Vec<&&JiraIssue> = hits.iter().skip(start).take(max).collect();
            lock(&inner.counters).newest_served.push(served.iter().map(|i| i.updated).max());
            let page: Vec<Value> = served.iter().map(|i| issue_json(&scenario, settings, i)).collect();
            let end = start + page.len();
            let body = match settings.flavor {
                Flavor::Cloud => {
                    let mut b = json!({"issues": page, "isLast": end >= hits.len()});
                    if end < hits.len() {
                        b["nextPageToken"] = json!(format!("tok-{end}"));
                    }
                    b
                }
                Flavor::DataCenter => {
                    json!({"expand": "schema,names", "startAt": start, "maxResults": max, "total": hits.len(), "issues": page})
                }
            };
            json_response(200, &body, &limit_headers)
        }
        (_, "/status") => {
            lock(&inner.counters).statuses += 1;
            if settings.status_list == Auxiliary::NotFound {
                return json_response(404, &json!({"errorMessages": ["Not found"]}), &[]);
            }
            let list: Vec<Value> = scenario.statuses.iter().filter(|s| !s.deleted).map(status_json).collect();
            json_response(200, &Value::Array(list), &limit_headers)
        }
        (_, "/myself") => {
            lock(&inner.counters).myself += 1;
            let me = match settings.flavor {
                Flavor::Cloud => "557058:standin-reader",
                Flavor::DataCenter => "standin-reader",
            };
            let mut body = user(settings, me);
            body["timeZone"] = json!(settings.time_zone.name());
            match settings.myself {
                Auxiliary::Serve => {}
                Auxiliary::WithoutTimeZone => {
                    body.as_object_mut().map(|o| o.remove("timeZone"));
                }
                Auxiliary::NotFound => return json_response(404, &json!({"errorMessages": ["Not found"]}), &[]),
            }
            json_response(200, &body, &limit_headers)
        }
        (_, other) => {
            let Some(rest) = other.strip_prefix("/issue/") else {
                return json_response(404, &json!({"errorMessages": ["Not found"]}), &[]);
            };
            let (key, what) = rest.split_once('/').unwrap_or((rest, ""));
            let Some(issue) = scenario.issues.iter().find(|i| i.key() == key) else {
                return json_response(
                    404,
                    &json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."]}),
                    &[],
                );
            };
            let (start, max) = (num("startAt", 0), num("maxResults", 50).clamp(1, 100));
            match what {
                "changelog" => {
                    lock(&inner.counters).changelogs += 1;
                    let values: Vec<Value> =
                        issue.histories.iter().skip(start).take(max).map(|h| history_json(settings, h)).collect();
                    let n = values.len();
                    json_response(
                        200,
                        &json!({"startAt": start, "maxResults": max, "total": issue.histories.len(),
                                "isLast": start + n >= issue.histories.len(), "values": values}),
                        &limit_headers,
                    )
                }
                "comment" => {
                    lock(&inner.counters).comments += 1;
                    let values: Vec<Value> =
                        issue.comments.iter().skip(start).take(max).map(|c| comment_json(settings, c)).collect();
                    json_response(
                        200,
                        &json!({"startAt": start, "maxResults": max, "total": issue.comments.len(), "comments": values}),
                        &limit_headers,
                    )
                }
                _ => json_response(404, &json!({"errorMessages": ["Not found"]}), &[]),
            }
        }
    }
}

/// The JQL the Jira source writes: `project in ("A", "B")`, `updated >= "yyyy-MM-dd HH:mm"` as
/// wall time in `zone`. A wall time the clock passes twice (the hour it is set back) is read as
/// the later instant, the reading that skips most; one it skips, as the instant after the gap.
fn matches_jql(jql: &str, issue: &JiraIssue, zone: chrono_tz::Tz) -> bool {
    if let Some(rest) = jql.split("project in (").nth(1) {
        let list = rest.split(')').next().unwrap_or("");
        if !list.split(',').any(|p| p.trim().trim_matches('"') == issue.project) {
            return false;
        }
    }
    if let Some(rest) = jql.split("updated >= \"").nth(1) {
        let text = rest.split('"').next().unwrap_or("");
        let Ok(wall) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M") else { return false };
        use chrono::TimeZone;
        let from = match zone.from_local_datetime(&wall) {
            chrono::LocalResult::Single(t) => t.timestamp(),
            chrono::LocalResult::Ambiguous(a, b) => a.timestamp().max(b.timestamp()),
            chrono::LocalResult::None => {
                zone.from_local_datetime(&(wall + chrono::Duration::hours(1))).earliest().map_or(0, |t| t.timestamp())
            }
        };
        if issue.updated < from {
            return false;
        }
    }
    true
}

fn time(ts: Ts) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())
}

fn user(settings: &StandInSettings, login: &str) -> Value {
    match settings.flavor {
        Flavor::Cloud => json!({"accountId": login, "accountType": "atlassian", "active": true, "displayName": login,
                                "timeZone": "Europe/Berlin"}),
        Flavor::DataCenter => json!({"name": login, "key": format!("JIRAUSER{}", login.len()), "displayName": login,
                                     "emailAddress": format!("{login}@example.com"), "active": true}),
    }
}

fn status_json(s: &Status) -> Value {
    json!({"id": s.id, "name": s.name, "statusCategory": {"key": category_key(s.category)}})
}

fn history_json(settings: &StandInSettings, h: &History) -> Value {
    let item = |i: &ChangeItem| {
        let mut v = json!({"field": i.field, "fieldtype": if i.field_id.starts_with("customfield") { "custom" } else { "jira" },
               "fieldId": i.field_id, "from": i.from, "fromString": i.from_string, "to": i.to, "toString": i.to_string});
        if i.field_id.is_empty() {
            v.as_object_mut().map(|o| o.remove("fieldId")); // links have none
        }
        v
    };
    json!({"id": h.id.to_string(), "author": user(settings, &h.author), "created": time(h.at),
           "items": h.items.iter().map(item).collect::<Vec<_>>()})
}

/// Link types as Jira names them: (name, outward phrase, inward phrase).
const LINK_TYPES: [(&str, &str, &str); 4] = [
    ("Supersede", "supersedes", "is superseded by"),
    ("Duplicate", "duplicates", "is duplicated by"),
    ("Blocks", "blocks", "is blocked by"),
    ("Cloners", "clones", "is cloned by"),
];

fn issuelinks_json(i: &JiraIssue) -> Vec<Value> {
    let mut out = Vec::new();
    for (n, (phrase, target)) in i.links().into_iter().enumerate() {
        let Some((name, outward, inward)) = LINK_TYPES.iter().find(|(_, o, i)| *o == phrase || *i == phrase) else {
            continue;
        };
        let mut l = json!({"id": format!("{}", 30_000 + i.id * 10 + n as u64),
                           "type": {"id": "10001", "name": name, "inward": inward, "outward": outward}});
        let side = if *outward == phrase { "outwardIssue" } else { "inwardIssue" };
        l[side] = json!({"key": target, "fields": {"summary": target}});
        out.push(l);
    }
    out
}

fn comment_json(settings: &StandInSettings, c: &JiraComment) -> Value {
    let body = match settings.flavor {
        Flavor::Cloud => {
            json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": c.body}]}]})
        }
        Flavor::DataCenter => json!(c.body),
    };
    json!({"id": c.id.to_string(), "author": user(settings, &c.author), "updateAuthor": user(settings, &c.author),
           "body": body, "created": time(c.at), "updated": time(c.at)})
}

fn issue_json(s: &JiraScenario, settings: &StandInSettings, i: &JiraIssue) -> Value {
    let status_name = i.current("status", Some(i.initial_status.clone())).unwrap_or_default();
    let status = s.statuses.iter().find(|x| x.name == status_name);
    let resolution = i.current("resolution", None);
    let team = i.current(&s.team_field_id, i.initial_team.clone());
    let assignee = i.current("assignee", i.initial_assignee.clone());
    let histories: Vec<Value> =
        i.histories.iter().take(settings.embedded_histories).map(|h| history_json(settings, h)).collect();
    let comments: Vec<Value> =
        i.comments.iter().take(settings.embedded_comments).map(|c| comment_json(settings, c)).collect();
    let mut fields = json!({
        "summary": i.summary,
        "issuetype": {"id": "10001", "name": i.issue_type, "subtask": false},
        "project": {"id": "10000", "key": i.project, "name": i.project},
        "created": time(i.created),
        "updated": time(i.updated),
        "reporter": user(settings, &i.reporter),
        "creator": user(settings, &i.reporter),
        "assignee": assignee.map(|a| user(settings, &a)),
        "status": status.map(status_json),
        "resolution": resolution.map(|r| json!({"id": format!("{}", 10_000 + r.len()), "name": r})),
        "resolutiondate": i.resolution_date().map(time),
        "components": [],
        "labels": i.labels(),
        "issuelinks": issuelinks_json(i),
        "comment": {"comments": comments, "maxResults": settings.embedded_comments, "total": i.comments.len(), "startAt": 0},
    });
    fields[&s.team_field_id] = team.map_or(Value::Null, |t| json!({"id": "1", "value": t}));
    if i.malformed {
        fields["created"] = Value::Null;
    }
    json!({"id": i.id.to_string(), "key": i.key(), "self": format!("/rest/api/{}/issue/{}", settings.flavor.api_version(), i.id),
           "fields": fields,
           "changelog": {"startAt": 0, "maxResults": settings.embedded_histories, "total": i.histories.len(), "histories": histories}})
}
