//! The GitHub source (github.com and GitHub Enterprise Server): issues and pull requests with
//! their complete timelines, decision records, teams and CODEOWNERS, read incrementally through
//! GraphQL at few requests and few rate-limit points. Knows GitHub, nothing of signals or the store.
//!
//! How a sync goes. Each configured scope (an organisation, or a group of named repositories) is
//! one search: `org:acme sort:updated-asc updated:>=<since>`. Its pages list what changed, ids
//! and times only (100 a page, one point whatever they hold); listed items not yet read at that
//! version are then read whole by id, `page_size` at a time, with their timelines and review
//! comments (follow-ups for longer lists). A step is one request (a listing page, a batch of
//! items, or both in one document). An idle poll is one request and one point per scope.
//!
//! Paging. Each listing page starts at the latest `updatedAt` the previous one listed (keyset
//! paging: an item updated meanwhile moves behind the reader and is listed again, never
//! skipped; no query pages deep enough to meet the 1000-result cap of a search). GitHub's search
//! index lags: for a while after an edit an item is still listed at its old place but answers
//! with its new `updatedAt`, so only items updated more than `SETTLE` ago move the keyset. A
//! run the keyset cannot step over (a full page updated in one second, or only just updated)
//! is listed in creation order instead, which no edit moves. A pass ends when the listing is
//! done and every listed item is read; the next pass starts `OVERLAP` before where this one
//! ended, which also catches items the index did not show yet. Any change to an item (close,
//! reopen, edit, comment, transfer into the scope) moves its `updatedAt`, so no change is missed.
//! Event ids are GitHub node ids: re-reading is harmless.

pub mod auth;
pub mod config;
pub mod graphql;
pub mod parse;
pub mod profiles;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{
    Batch, DirectorySnapshot, Event, EventKind, Item, ItemKind, ItemState, SnapshotMembership, SnapshotPerson,
    SnapshotTeam, Ts, identity,
};
use crate::sources::http::{ApiClient, Clock, HttpSettings, NetworkTransport, Secret, Transport, parse_time};
use crate::sources::{Source, SourceError, StepFuture, SyncStep};
use crate::teams::ScopePattern;

use self::auth::AppAuth;
use self::graphql::{More, RepoListing};
use self::parse::ItemContext;

/// How far before the last pass's end the next pass starts: covers GitHub's search index lag.
pub const OVERLAP: Ts = 10 * 60;
/// How long after an edit GitHub's search index may still list an item at its old place: items
/// updated more recently do not move the listing's keyset.
pub const SETTLE: Ts = 5 * 60;
/// Items read whole per request (config `page_size`).
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Timeline items read per item, reviews per pull request and comments per review; longer lists
/// get follow-ups. Comments nest in `reviews`, never in the timeline, which would multiply
/// their cost by the timeline's page.
pub const TIMELINE_PAGE: u32 = 100;
pub const REVIEWS_PAGE: u32 = 10;
pub const REVIEW_COMMENTS_PAGE: u32 = 100;
/// Continuations batched in one follow-up request.
const MORE_BATCH: usize = 25;
/// Repositories per file-listing request.
const FILES_BATCH: usize = 10;
/// Decision-record histories per request.
const HISTORY_BATCH: usize = 10;
/// How often teams are read again.
const DIRECTORY_EVERY: Ts = 24 * 3600;
/// Longest search query GitHub accepts.
const MAX_QUERY_LEN: usize = 240;
/// Longest sort and time qualifiers a listing adds to a scope's qualifier.
const LONGEST_QUALIFIERS: usize = 100;

/// How the source authenticates.
#[derive(Debug, Clone, PartialEq)]
pub enum GithubAuth {
    /// A token (classic or fine-grained, read-only) from an environment variable or a file.
    Token { env: Option<String>, file: Option<PathBuf> },
    /// A GitHub App installation.
    App { app_id: u64, private_key_file: PathBuf, installation_id: Option<u64> },
}

/// Settings of a `kind = "github"` source (validated by `config.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct GithubConfig {
    /// REST base URL: `https://api.github.com`, or `https://ghe.example.com/api/v3`.
    pub api_url: String,
    /// GraphQL endpoint: `https://api.github.com/graphql`, or `https://ghe.example.com/api/graphql`.
    pub graphql_url: String,
    pub auth: GithubAuth,
    pub organizations: Vec<String>,
    /// `owner/name` of single repositories.
    pub repositories: Vec<String>,
    /// Patterns on `owner/name`: when non-empty, only matching repositories are read.
    pub include: Vec<String>,
    /// Patterns on `owner/name` never read.
    pub exclude: Vec<String>,
    pub requests_per_hour: Option<u32>,
    /// Read org teams, members and repository permissions into the directory.
    pub teams_from_github: bool,
    /// Read CODEOWNERS (the catch-all rule's team owns the repository).
    pub codeowners: bool,
    /// Decision-record files (`[decisions] record_paths`), e.g. `docs/adr/*.md`.
    pub record_paths: Vec<String>,
    /// Only items updated at or after this time are read (None = all history).
    pub since: Option<Ts>,
    pub page_size: u32,
}

impl GithubConfig {
    /// A github.com source for `organizations`, token from `GITHUB_TOKEN`.
    pub fn for_organizations(organizations: &[&str]) -> GithubConfig {
        GithubConfig {
            api_url: "https://api.github.com".into(),
            graphql_url: "https://api.github.com/graphql".into(),
            auth: GithubAuth::Token { env: Some("GITHUB_TOKEN".into()), file: None },
            organizations: organizations.iter().map(|s| s.to_string()).collect(),
            repositories: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            requests_per_hour: None,
            teams_from_github: false,
            codeowners: false,
            record_paths: Vec::new(),
            since: None,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// The GraphQL endpoint that goes with a REST base URL.
pub fn default_graphql_url(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{base}/graphql"),
    }
}

/// The web host of a REST base URL (`https://github.com` for `https://api.github.com`).
fn web_base(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    if let Some(host) = base.strip_suffix("/api/v3") {
        return host.to_string();
    }
    base.replacen("://api.", "://", 1)
}

/// One search the source pages through.
#[derive(Debug, Clone, PartialEq)]
enum Scope {
    Organization(String),
    Repositories(Vec<String>),
}

impl Scope {
    fn label(&self) -> String {
        match self {
            Scope::Organization(o) => format!("org:{o}"),
            Scope::Repositories(r) => format!("repos:{}", r.join(",")),
        }
    }
    fn qualifier(&self) -> String {
        match self {
            Scope::Organization(o) => format!("org:{o}"),
            Scope::Repositories(r) => r.iter().map(|x| format!("repo:{x}")).collect::<Vec<_>>().join(" "),
        }
    }
}

/// Named repositories grouped so each group's search query stays short.
fn scopes_of(cfg: &GithubConfig) -> Vec<Scope> {
    let mut out: Vec<Scope> = cfg.organizations.iter().map(|o| Scope::Organization(o.clone())).collect();
    let mut group: Vec<String> = Vec::new();
    let mut len = 0;
    for r in &cfg.repositories {
        let add = r.len() + 6;
        if !group.is_empty() && (len + add > MAX_QUERY_LEN - LONGEST_QUALIFIERS || group.len() >= 5) {
            out.push(Scope::Repositories(std::mem::take(&mut group)));
            len = 0;
        }
        group.push(r.clone());
        len += add;
    }
    if !group.is_empty() {
        out.push(Scope::Repositories(group));
    }
    out
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ScopeCursor {
    label: String,
    /// Every change before this time is read, up to index lag: a pass lists the items updated
    /// at or after `since - OVERLAP` (None: from the beginning).
    #[serde(default)]
    since: Option<Ts>,
    /// The pass in progress.
    #[serde(default)]
    pass: Option<Pass>,
    /// Items already read, with the `updatedAt` read, near the listing's position or within
    /// `OVERLAP` of `since`: a listing showing them again at that version does not read them.
    #[serde(default)]
    seen: BTreeMap<String, Ts>,
}

/// One pass over a scope: its listing and the items listed but not read yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Pass {
    /// Items updated at or after this are listed (None: all).
    #[serde(default)]
    from: Option<Ts>,
    /// The keyset: the listing goes on at items updated at or after this (None: `from`).
    #[serde(default)]
    at: Option<Ts>,
    /// A run being listed in creation order.
    #[serde(default)]
    run: Option<Run>,
    /// The listing is done.
    #[serde(default)]
    listed: bool,
    /// The repositories (renames, pushes) were read, with the pass's first request.
    #[serde(default)]
    repos_read: bool,
    /// Listed and not read yet, with the `updatedAt` listed, in listing order.
    #[serde(default)]
    queue: Vec<(String, Ts)>,
    /// The latest `updatedAt` listed.
    #[serde(default)]
    latest: Option<Ts>,
}

/// Items listed in creation order (`sort:created-asc`), which no edit moves: those updated in
/// the second `from` (`to` = `from`), or everything updated since `from` (`to` None: the page
/// held only just-updated items, whose place in the index may be stale).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Run {
    #[serde(default)]
    from: Option<Ts>,
    #[serde(default)]
    to: Option<Ts>,
    /// The keyset: created at or after this.
    #[serde(default)]
    created: Option<Ts>,
    /// Offset cursor among items created in the same second, and how many it passed.
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    offset: usize,
}

/// An item as a listing page shows it.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    id: String,
    created: Option<Ts>,
    updated: Option<Ts>,
    repo: String,
}

/// The search query of a pass's next listing page.
fn listing_query(scope: &Scope, pass: &Pass) -> String {
    let mut q = scope.qualifier();
    match &pass.run {
        None => {
            q.push_str(" sort:updated-asc");
            if let Some(t) = pass.at.or(pass.from) {
                q.push_str(&format!(" updated:>={}", format_time(t)));
            }
        }
        Some(run) => {
            q.push_str(" sort:created-asc");
            match (run.from, run.to) {
                (Some(f), Some(t)) => q.push_str(&format!(" updated:{}..{}", format_time(f), format_time(t))),
                (Some(f), None) => q.push_str(&format!(" updated:>={}", format_time(f))),
                (None, _) => {}
            }
            if let Some(c) = run.created {
                q.push_str(&format!(" created:>={}", format_time(c)));
            }
        }
    }
    q
}

/// Moves a pass's listing on past one page (`more`: the search has more after it). Returns how
/// many items a capped search could not list, if any.
fn advance_listing(
    pass: &mut Pass,
    page: &[Listed],
    more: bool,
    end_cursor: Option<String>,
    total: usize,
    now: Ts,
) -> usize {
    pass.latest = page.iter().filter_map(|l| l.updated).chain(pass.latest).max();
    let more = more && !page.is_empty();
    match &mut pass.run {
        None if !more => pass.listed = true,
        None => {
            let at = pass.at.or(pass.from);
            // Items updated just now may sit at their old place in the index: only settled
            // ones tell where the listing stands.
            let settled = page.iter().filter_map(|l| l.updated).filter(|&u| u <= now - SETTLE).max();
            match settled {
                Some(r) if at.is_none_or(|a| r > a) => pass.at = Some(r),
                // A full page updated in the second `at`: list that second by creation.
                Some(_) => pass.run = Some(Run { from: at, to: at, ..Run::default() }),
                // Only just-updated items: list everything since `at` by creation.
                None => pass.run = Some(Run { from: at, ..Run::default() }),
            }
        }
        Some(run) if !more => {
            let lost = total.saturating_sub(run.offset + page.len());
            match run.to {
                Some(t) => {
                    pass.at = Some(t + 1);
                    pass.run = None;
                }
                None => pass.listed = true,
            }
            return lost;
        }
        Some(run) => match page.iter().filter_map(|l| l.created).max() {
            Some(c) if run.created.is_none_or(|x| c > x) => {
                run.created = Some(c);
                run.after = None;
                run.offset = 0;
            }
            // A full page created in one second: page on by offset (capped at 1000 by GitHub).
            _ => {
                run.after = end_cursor;
                run.offset += page.len();
            }
        },
    }
    0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct RepoCursor {
    /// The name used in item keys: the name when first seen (a rename keeps keys stable).
    key_scope: String,
    /// The current `owner/name`.
    name: String,
    /// `pushedAt` whose files (CODEOWNERS, decision records) were read.
    #[serde(default)]
    files_read_at_push: Option<Ts>,
    /// Last seen `pushedAt`.
    #[serde(default)]
    pushed: Option<Ts>,
    /// Decision-record path → blob id read.
    #[serde(default)]
    records: BTreeMap<String, String>,
    /// Team handle of CODEOWNERS' catch-all rule.
    #[serde(default)]
    code_owner: Option<String>,
}

/// Cursor version: 2 lists changes by id before reading them (version 1 cursors resume with a
/// new pass from their `since`).
const CURSOR_VERSION: u32 = 2;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    v: u32,
    scopes: Vec<ScopeCursor>,
    /// Scope labels still to read in the current pass.
    pending: Vec<String>,
    /// By repository node id.
    repos: BTreeMap<String, RepoCursor>,
    /// When teams were last read.
    #[serde(default)]
    directory_at: Option<Ts>,
}

enum Credentials {
    Token(Secret),
    App(Box<AppAuth>),
}

/// A configured GitHub source.
pub struct GithubSource {
    name: String,
    cfg: GithubConfig,
    client: Option<Arc<ApiClient>>,
    clock: Arc<dyn Clock>,
    health: Option<Arc<crate::sources::telemetry::SourceTelemetry>>,
    /// Names and e-mails the answers showed, for the next batch.
    profiles: crate::sources::profiles::ProfileLog,
    credentials: Option<Credentials>,
    http: HttpSettings,
}

impl std::fmt::Debug for GithubSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubSource").field("name", &self.name).finish_non_exhaustive()
    }
}

fn malformed(message: String) -> SourceError {
    SourceError { kind: "malformed", message }
}

fn format_time(ts: Ts) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map_or_else(|| "1970-01-01T00:00:00Z".into(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

impl GithubSource {
    /// A source on the real network (the network transport) on `clock`. Credentials are read at
    /// the first step, so a missing variable is reported as a sync error with its name.
    pub fn new(name: &str, cfg: GithubConfig, clock: Arc<dyn Clock>) -> GithubSource {
        let http = HttpSettings { requests_per_hour: cfg.requests_per_hour, ..HttpSettings::default() };
        GithubSource {
            name: name.to_string(),
            cfg,
            client: None,
            clock,
            health: None,
            profiles: Default::default(),
            credentials: None,
            http,
        }
    }

    /// A source with its own transport, clock and policy settings (tests, benchmarks).
    pub fn with_transport(
        name: &str,
        cfg: GithubConfig,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        settings: HttpSettings,
    ) -> GithubSource {
        let settings =
            HttpSettings { requests_per_hour: cfg.requests_per_hour.or(settings.requests_per_hour), ..settings };
        let client = Arc::new(ApiClient::new(name, transport, clock.clone(), settings.clone()));
        GithubSource {
            name: name.to_string(),
            cfg,
            client: Some(client),
            clock,
            health: None,
            profiles: Default::default(),
            credentials: None,
            http: settings,
        }
    }

    /// The HTTP client (for its request statistics), once created.
    pub fn client(&self) -> Option<&Arc<ApiClient>> {
        self.client.as_ref()
    }

    fn client_or_init(&mut self) -> Result<Arc<ApiClient>, SourceError> {
        if self.client.is_none() {
            let transport = NetworkTransport::new(Duration::from_secs(10))
                .map_err(|m| SourceError { kind: "transport", message: format!("source {:?}: {m}", self.name) })?;
            let client = ApiClient::new(&self.name, Arc::new(transport), self.clock.clone(), self.http.clone());
            self.client = Some(Arc::new(client));
        }
        let client = self.client.clone().expect("set above");
        if let Some(h) = &self.health {
            client.set_health(h.clone());
        }
        // Called once per step: the step's ceilings start afresh (`sources::bounds`).
        client.begin_step();
        Ok(client)
    }

    async fn authorization(&mut self, client: &ApiClient) -> Result<Secret, SourceError> {
        if self.credentials.is_none() {
            let creds = match &self.cfg.auth {
                GithubAuth::Token { env, file } => Credentials::Token(
                    auth::load_token(env.as_deref(), file.as_deref(), &self.name)
                        .map_err(|m| SourceError { kind: "http", message: m })?,
                ),
                GithubAuth::App { app_id, private_key_file, installation_id } => Credentials::App(Box::new(
                    AppAuth::load(*app_id, private_key_file, *installation_id, &self.name)
                        .map_err(|m| SourceError { kind: "http", message: m })?,
                )),
            };
            self.credentials = Some(creds);
        }
        match self.credentials.as_ref().expect("set above") {
            Credentials::Token(t) => {
                client.register_secret(t);
                Ok(t.clone())
            }
            Credentials::App(app) => {
                let lookup =
                    self.cfg.organizations.first().or(self.cfg.repositories.first()).cloned().unwrap_or_default();
                Ok(app.token(client, &self.cfg.api_url, &lookup).await?)
            }
        }
    }

    fn wanted(&self, repo: &str) -> bool {
        let included =
            self.cfg.include.is_empty() || self.cfg.include.iter().any(|p| ScopePattern(p.clone()).matches(repo));
        included && !self.cfg.exclude.iter().any(|p| ScopePattern(p.clone()).matches(repo))
    }

    async fn graphql(
        &self,
        client: &ApiClient,
        auth: &Secret,
        document: &str,
        variables: Value,
    ) -> Result<Value, SourceError> {
        Ok(self.graphql_with_errors(client, auth, document, variables).await?.0)
    }

    /// [`Self::graphql`], with the paths of the partial errors GitHub reported (their parts of the
    /// answer are null or cut short).
    async fn graphql_with_errors(
        &self,
        client: &ApiClient,
        auth: &Secret,
        document: &str,
        variables: Value,
    ) -> Result<(Value, Vec<Vec<String>>), SourceError> {
        let r = client.graphql(&self.cfg.graphql_url, Some(auth.clone()), document, variables).await?;
        self.profiles.see(&profiles::Shapes, &r.data);
        for e in &r.errors {
            tracing::warn!(target: "siloscope::sources::github", source = %self.name, path = %e.path.join("."), error = %e.message, "GitHub reported a partial error");
        }
        Ok((r.data, r.errors.into_iter().map(|e| e.path).collect()))
    }

    /// Reads follow-up pages until no nested list of `items` has more (timelines, reviews, review
    /// comments), then puts each review's comments into its timeline node, where the parser
    /// reads them. Marks in `cut` the items GitHub reported a partial error in a continuation of
    /// (a part of the page it could not resolve, null).
    async fn complete_items(
        &self,
        client: &ApiClient,
        auth: &Secret,
        items: &mut [Value],
        cut: &mut [bool],
    ) -> Result<(), SourceError> {
        let has_more = |v: &Value| v["pageInfo"]["hasNextPage"].as_bool() == Some(true);
        loop {
            // (item index, review index, request)
            let mut wanted: Vec<(usize, Option<usize>, More)> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Some(id) = item["id"].as_str() else { continue };
                for (field, make) in [("timelineItems", 0), ("reviews", 1)] {
                    let list = &item[field];
                    if has_more(list)
                        && let Some(after) = list["pageInfo"]["endCursor"].as_str()
                    {
                        let (id, after) = (id.to_string(), after.to_string());
                        wanted.push((
                            i,
                            None,
                            if make == 0 { More::Timeline { id, after } } else { More::Reviews { id, after } },
                        ));
                    }
                }
                for (j, review) in
                    item["reviews"]["nodes"].as_array().map(Vec::as_slice).unwrap_or(&[]).iter().enumerate()
                {
                    let c = &review["comments"];
                    if has_more(c)
                        && let (Some(id), Some(after)) = (review["id"].as_str(), c["pageInfo"]["endCursor"].as_str())
                    {
                        wanted.push((i, Some(j), More::ReviewComments { id: id.into(), after: after.into() }));
                    }
                }
            }
            if wanted.is_empty() {
                break;
            }
            for chunk in wanted.chunks(MORE_BATCH) {
                let requests: Vec<More> = chunk.iter().map(|(_, _, m)| m.clone()).collect();
                let mut vars =
                    json!({ "timeline": TIMELINE_PAGE, "reviews": REVIEWS_PAGE, "comments": REVIEW_COMMENTS_PAGE });
                for (k, m) in requests.iter().enumerate() {
                    let (More::Timeline { id, after }
                    | More::Reviews { id, after }
                    | More::ReviewComments { id, after }
                    | More::TeamMembers { id, after }
                    | More::TeamRepositories { id, after }) = m;
                    vars[format!("id{k}")] = json!(id);
                    vars[format!("after{k}")] = json!(after);
                }
                let (data, errors) = self.graphql_with_errors(client, auth, &graphql::more(&requests), vars).await?;
                for (k, (i, review, m)) in chunk.iter().enumerate() {
                    let alias = format!("m{k}");
                    if errors.iter().any(|p| p.first() == Some(&alias)) {
                        cut[*i] = true;
                    }
                    let got = &data[alias];
                    let (page, target) = match (m, review) {
                        (More::Timeline { .. }, _) => (&got["timelineItems"], &mut items[*i]["timelineItems"]),
                        (More::Reviews { .. }, _) => (&got["reviews"], &mut items[*i]["reviews"]),
                        (More::ReviewComments { .. }, Some(j)) => {
                            (&got["comments"], &mut items[*i]["reviews"]["nodes"][*j]["comments"])
                        }
                        _ => continue,
                    };
                    let Some(new_nodes) = page["nodes"].as_array() else {
                        // The step fails and is read again (marking the item cut short and going
                        // on would leave its tail unread until its next change).
                        return Err(malformed(format!(
                            "a continuation of {} came back without nodes",
                            items[*i]["url"]
                        )));
                    };
                    if let Some(nodes) = target["nodes"].as_array_mut() {
                        nodes.extend(new_nodes.iter().cloned());
                    }
                    target["pageInfo"] = page["pageInfo"].clone();
                }
            }
        }
        for item in items.iter_mut() {
            let comments: HashMap<String, Value> = item["reviews"]["nodes"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .filter_map(|r| Some((r["id"].as_str()?.to_string(), r["comments"].clone())))
                .collect();
            if comments.is_empty() {
                continue;
            }
            for node in item["timelineItems"]["nodes"].as_array_mut().map(Vec::as_mut_slice).unwrap_or(&mut []) {
                if node["__typename"] == "PullRequestReview"
                    && let Some(c) = node["id"].as_str().and_then(|id| comments.get(id))
                {
                    node["comments"] = c.clone();
                }
            }
        }
        Ok(())
    }

    /// Records what the repository part of a page says: names (renames), pushes.
    fn note_repositories(&self, cur: &mut Cursor, repos: &[Value]) {
        for r in repos {
            let (Some(id), Some(name)) = (r["id"].as_str(), r["nameWithOwner"].as_str()) else { continue };
            let entry = cur.repos.entry(id.to_string()).or_insert_with(|| RepoCursor {
                key_scope: name.into(),
                name: name.into(),
                ..RepoCursor::default()
            });
            if entry.name != name {
                tracing::info!(target: "siloscope::sources::github", source = %self.name, from = %entry.name, to = %name, "repository renamed; its items keep their keys");
                entry.name = name.to_string();
            }
            entry.pushed = r["pushedAt"].as_str().and_then(parse_time);
        }
    }

    /// Repositories whose files must be read: pushed since they were last read, and wanted.
    fn repos_needing_files(&self, cur: &Cursor) -> Vec<String> {
        if !self.cfg.codeowners && self.cfg.record_paths.is_empty() {
            return Vec::new();
        }
        cur.repos
            .iter()
            .filter(|(_, r)| r.pushed.is_some() && r.pushed != r.files_read_at_push && self.wanted(&r.name))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Directories holding decision records, from the configured patterns.
    fn record_dirs(&self) -> Vec<String> {
        let mut dirs: Vec<String> = Vec::new();
        for p in &self.cfg.record_paths {
            let fixed = p.split('*').next().unwrap_or("");
            let dir = fixed.rsplit_once('/').map_or("", |(d, _)| d).trim_matches('/').to_string();
            if !dir.is_empty() && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }

    /// Reads CODEOWNERS and decision records of pushed repositories into `batch` (each record's
    /// whole history). Returns whether code owners changed.
    async fn read_files(
        &self,
        client: &ApiClient,
        auth: &Secret,
        cur: &mut Cursor,
        repo_ids: &[String],
        batch: &mut Batch,
    ) -> Result<bool, SourceError> {
        let dirs = self.record_dirs();
        let mut owners_changed = false;
        for chunk in repo_ids.chunks(FILES_BATCH) {
            let mut vars = json!({});
            for (i, id) in chunk.iter().enumerate() {
                let (owner, name) = cur.repos[id].name.split_once('/').unwrap_or(("", ""));
                vars[format!("owner{i}")] = json!(owner);
                vars[format!("name{i}")] = json!(name);
            }
            let data =
                self.graphql(client, auth, &graphql::repo_files(chunk.len(), self.cfg.codeowners, &dirs), vars).await?;
            for (i, id) in chunk.iter().enumerate() {
                let r = &data[format!("r{i}")];
                let repo = cur.repos.get_mut(id).expect("chunk ids come from the map");
                repo.files_read_at_push = repo.pushed;
                if r.is_null() {
                    continue; // deleted or no longer visible
                }
                if self.cfg.codeowners {
                    let text = (0..graphql::CODEOWNERS_PATHS.len()).find_map(|k| r[format!("co{k}")]["text"].as_str());
                    let owner = text.and_then(codeowners_catch_all);
                    if owner != repo.code_owner {
                        repo.code_owner = owner;
                        owners_changed = true;
                    }
                }
                let mut changed: Vec<String> = Vec::new();
                for k in 0..dirs.len() {
                    for e in r[format!("d{k}")]["entries"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                        let (Some(path), Some(oid)) = (e["path"].as_str(), e["oid"].as_str()) else { continue };
                        if e["type"] != "blob"
                            || !self.cfg.record_paths.iter().any(|p| ScopePattern(p.clone()).matches(path))
                        {
                            continue;
                        }
                        if repo.records.get(path).map(String::as_str) != Some(oid) {
                            repo.records.insert(path.to_string(), oid.to_string());
                            changed.push(path.to_string());
                        }
                    }
                }
                let (key_scope, name) = (repo.key_scope.clone(), repo.name.clone());
                for files in changed.chunks(HISTORY_BATCH) {
                    self.read_record_histories(client, auth, &key_scope, &name, files, batch).await?;
                }
            }
        }
        Ok(owners_changed)
    }

    async fn read_record_histories(
        &self,
        client: &ApiClient,
        auth: &Secret,
        key_scope: &str,
        repo: &str,
        files: &[String],
        batch: &mut Batch,
    ) -> Result<(), SourceError> {
        let (owner, name) = repo.split_once('/').unwrap_or(("", ""));
        let mut commits: Vec<Vec<Value>> = vec![Vec::new(); files.len()];
        let mut after: Vec<Option<String>> = vec![None; files.len()];
        let mut whole = vec![true; files.len()];
        let mut open: Vec<usize> = (0..files.len()).collect();
        while !open.is_empty() {
            let mut vars = json!({ "owner": owner, "name": name });
            for (k, &f) in open.iter().enumerate() {
                vars[format!("path{k}")] = json!(files[f]);
                vars[format!("after{k}")] = json!(after[f]);
            }
            let data = self.graphql(client, auth, &graphql::file_history(open.len()), vars).await?;
            let target = &data["repository"]["defaultBranchRef"]["target"];
            let mut still = Vec::new();
            for (k, &f) in open.iter().enumerate() {
                let h = &target[format!("h{k}")];
                commits[f].extend(h["nodes"].as_array().cloned().unwrap_or_default());
                if h["pageInfo"]["hasNextPage"].as_bool() == Some(true) {
                    match h["pageInfo"]["endCursor"].as_str() {
                        Some(c) => {
                            after[f] = Some(c.to_string());
                            still.push(f);
                        }
                        None => whole[f] = false, // more, but no way to ask for it
                    }
                }
            }
            open = still;
        }
        let web = web_base(&self.cfg.api_url);
        for (f, path) in files.iter().enumerate() {
            match record_from_history(&self.name, key_scope, repo, path, &web, &commits[f]) {
                Ok(Some((item, evs))) => {
                    if whole[f] {
                        batch.push_complete(&item.key, evs);
                    } else {
                        batch.events.extend(evs);
                    }
                    batch.items.push(item);
                }
                Ok(None) => {}
                Err(why) => {
                    tracing::warn!(target: "siloscope::sources::github", source = %self.name, url = %format!("{web}/{repo}/blob/HEAD/{path}"), error = %why, "skipping a malformed decision record");
                    if let Some(h) = &self.health {
                        h.record_error(&self.name, "malformed");
                    }
                }
            }
        }
        Ok(())
    }

    /// Teams of every configured organisation, with members and repository permissions.
    async fn read_teams(&self, client: &ApiClient, auth: &Secret) -> Result<Vec<(String, Value)>, SourceError> {
        let mut teams = Vec::new();
        for org in &self.cfg.organizations {
            let mut after: Option<String> = None;
            loop {
                let data = self.graphql(client, auth, &graphql::teams(), json!({ "org": org, "after": after })).await?;
                let conn = &data["organization"]["teams"];
                let mut nodes = conn["nodes"].as_array().cloned().unwrap_or_default();
                self.complete_teams(client, auth, &mut nodes).await?;
                teams.extend(nodes.into_iter().map(|n| (org.clone(), n)));
                if conn["pageInfo"]["hasNextPage"].as_bool() != Some(true) {
                    break;
                }
                after = conn["pageInfo"]["endCursor"].as_str().map(str::to_string);
            }
        }
        Ok(teams)
    }

    async fn complete_teams(&self, client: &ApiClient, auth: &Secret, teams: &mut [Value]) -> Result<(), SourceError> {
        loop {
            let mut wanted: Vec<(usize, More)> = Vec::new();
            for (i, t) in teams.iter().enumerate() {
                let Some(id) = t["id"].as_str() else { continue };
                for (field, make) in [("members", 0), ("repositories", 1)] {
                    let p = &t[field]["pageInfo"];
                    if p["hasNextPage"].as_bool() == Some(true)
                        && let Some(after) = p["endCursor"].as_str()
                    {
                        let m = if make == 0 {
                            More::TeamMembers { id: id.into(), after: after.into() }
                        } else {
                            More::TeamRepositories { id: id.into(), after: after.into() }
                        };
                        wanted.push((i, m));
                    }
                }
            }
            if wanted.is_empty() {
                return Ok(());
            }
            for chunk in wanted.chunks(MORE_BATCH) {
                let requests: Vec<More> = chunk.iter().map(|(_, m)| m.clone()).collect();
                let mut vars = json!({});
                for (k, m) in requests.iter().enumerate() {
                    let (More::Timeline { id, after }
                    | More::Reviews { id, after }
                    | More::ReviewComments { id, after }
                    | More::TeamMembers { id, after }
                    | More::TeamRepositories { id, after }) = m;
                    vars[format!("id{k}")] = json!(id);
                    vars[format!("after{k}")] = json!(after);
                }
                let data = self.graphql(client, auth, &graphql::more(&requests), vars).await?;
                for (k, (i, m)) in chunk.iter().enumerate() {
                    let (field, list) = match m {
                        More::TeamMembers { .. } => ("members", "nodes"),
                        _ => ("repositories", "edges"),
                    };
                    let page = &data[format!("m{k}")][field];
                    let new = page[list].as_array().cloned().unwrap_or_default();
                    let conn = &mut teams[*i][field];
                    if let Some(arr) = conn[list].as_array_mut() {
                        arr.extend(new);
                    }
                    conn["pageInfo"] = page["pageInfo"].clone();
                }
            }
        }
    }

    fn snapshot(&self, teams: &[(String, Value)], cur: &Cursor) -> DirectorySnapshot {
        let mut snap = DirectorySnapshot::default();
        let mut people: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut permission_owners: HashMap<String, Vec<(u8, String)>> = HashMap::new();
        for (org, t) in teams {
            let Some(slug) = t["slug"].as_str() else { continue };
            let handle = format!("{org}/{slug}").to_ascii_lowercase();
            snap.teams.push(SnapshotTeam { name: slug.to_string(), handles: vec![handle] });
            for m in t["members"]["nodes"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(login) = m["login"].as_str() {
                    people.entry(login.to_ascii_lowercase()).or_default().push(slug.to_string());
                }
            }
            for e in t["repositories"]["edges"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                let rank = match e["permission"].as_str() {
                    Some("ADMIN") => 2,
                    Some("MAINTAIN") => 1,
                    _ => continue,
                };
                if let Some(repo) = e["node"]["nameWithOwner"].as_str() {
                    permission_owners.entry(repo.to_string()).or_default().push((rank, slug.to_string()));
                }
            }
        }
        for (login, teams) in people {
            snap.people.push(SnapshotPerson {
                name: login.clone(),
                identities: vec![identity("github", &login)],
                memberships: teams
                    .into_iter()
                    .map(|team| SnapshotMembership { team, from: None, until: None })
                    .collect(),
                bot: false,
            });
        }
        // CODEOWNERS first; else the one team with the highest admin/maintain permission.
        let mut owned: HashSet<String> = HashSet::new();
        for r in cur.repos.values() {
            if let Some(handle) = &r.code_owner
                && self.wanted(&r.name)
            {
                let team = handle.rsplit('/').next().unwrap_or(handle).to_string();
                if !snap.teams.iter().any(|t| t.handles.contains(handle)) {
                    snap.teams.push(SnapshotTeam { name: team.clone(), handles: vec![handle.clone()] });
                }
                snap.scope_owners.push((r.name.clone(), team));
                owned.insert(r.name.clone());
            }
        }
        let mut by_permission: Vec<(String, String)> = permission_owners
            .into_iter()
            .filter(|(repo, _)| !owned.contains(repo) && self.wanted(repo))
            .filter_map(|(repo, mut list)| {
                list.sort();
                let best = list.last()?.0;
                let top: Vec<&(u8, String)> = list.iter().filter(|(r, _)| *r == best).collect();
                (top.len() == 1).then(|| (repo, top[0].1.clone()))
            })
            .collect();
        by_permission.sort();
        snap.scope_owners.extend(by_permission);
        snap
    }

    async fn step_inner(&mut self, cursor: Option<&str>, now: Ts) -> Result<SyncStep, SourceError> {
        let mut cur: Cursor = match cursor {
            None => Cursor { v: CURSOR_VERSION, ..Cursor::default() },
            Some(text) => serde_json::from_str(text).map_err(|e| {
                malformed(format!(
                    "source {:?}: the stored cursor is not one this version wrote ({e}); delete the source's cursor to read GitHub again",
                    self.name
                ))
            })?,
        };
        if cur.v < CURSOR_VERSION {
            // A version 1 pass resumes as a new pass from where it stood.
            cur.pending.clear();
            cur.v = CURSOR_VERSION;
        }
        let scopes = scopes_of(&self.cfg);
        if scopes.is_empty() {
            return Err(SourceError {
                kind: "http",
                message: format!("source {:?}: no organizations or repositories configured", self.name),
            });
        }
        // The configuration may have changed since the cursor was written.
        let labels: Vec<String> = scopes.iter().map(Scope::label).collect();
        cur.scopes.retain(|s| labels.contains(&s.label));
        for l in &labels {
            if !cur.scopes.iter().any(|s| &s.label == l) {
                cur.scopes.push(ScopeCursor { label: l.clone(), since: self.cfg.since, ..ScopeCursor::default() });
            }
        }
        cur.pending.retain(|p| labels.contains(p));
        if cur.pending.is_empty() {
            cur.pending = labels.clone();
        }
        let client = self.client_or_init()?;
        let auth = self.authorization(&client).await?;

        let label = cur.pending[0].clone();
        let scope = scopes.iter().find(|s| s.label() == label).expect("pending holds known labels").clone();
        let sc = cur.scopes.iter_mut().find(|s| s.label == label).expect("every label has a cursor");
        let floor = self.cfg.since.unwrap_or(Ts::MIN);
        let mut pass = sc
            .pass
            .take()
            .unwrap_or_else(|| Pass { from: sc.since.map(|s| (s - OVERLAP).max(floor)), ..Pass::default() });

        // One request: the next items of the queue, the next listing page while the queue runs
        // low, and the repositories with a pass's first request.
        let page_size = self.cfg.page_size.clamp(1, 100) as usize;
        let ids: Vec<String> = pass.queue.iter().take(page_size).map(|(id, _)| id.clone()).collect();
        let list = !pass.listed && pass.queue.len() - ids.len() < page_size;
        let first = !pass.repos_read;
        let listing = match (&scope, first) {
            (_, false) => RepoListing::None,
            (Scope::Organization(_), true) => RepoListing::Organization,
            (Scope::Repositories(r), true) => RepoListing::Repositories(r.len()),
        };
        let mut vars = json!({});
        if list {
            vars["q"] = json!(listing_query(&scope, &pass));
            vars["after"] = json!(pass.run.as_ref().and_then(|r| r.after.clone()));
        }
        if !ids.is_empty() {
            vars["ids"] = json!(ids);
            vars["timeline"] = json!(TIMELINE_PAGE);
            vars["reviews"] = json!(REVIEWS_PAGE);
            vars["comments"] = json!(REVIEW_COMMENTS_PAGE);
        }
        match (&scope, &listing) {
            (Scope::Organization(o), RepoListing::Organization) => vars["org"] = json!(o),
            (Scope::Repositories(r), RepoListing::Repositories(_)) => {
                for (i, full) in r.iter().enumerate() {
                    let (owner, name) = full.split_once('/').unwrap_or((full, ""));
                    vars[format!("owner{i}")] = json!(owner);
                    vars[format!("name{i}")] = json!(name);
                }
            }
            _ => {}
        }
        let (data, errors) = self
            .graphql_with_errors(&client, &auth, &graphql::sync_page(&listing, list, !ids.is_empty()), vars)
            .await?;

        // Repositories: renames, pushes (for files), more pages when many were pushed.
        if first {
            let repos = self.read_repositories(&client, &auth, &cur, &scope, &data).await?;
            self.note_repositories(&mut cur, &repos);
            pass.repos_read = true;
        }

        // Items read whole.
        let mut batch = Batch { source: self.name.clone(), ..Batch::default() };
        let mut read_now: Vec<(String, Ts)> = Vec::new();
        if !ids.is_empty() {
            let Some(nodes) = data["nodes"].as_array() else {
                return Err(malformed(format!(
                    "source {:?}: the items asked by id came back without nodes",
                    self.name
                )));
            };
            let mut values: Vec<Value> = Vec::new();
            // Items a partial error touched: what came back of them may be cut short.
            let mut cut: Vec<bool> = Vec::new();
            for (k, (id, listed)) in pass.queue.iter().take(ids.len()).enumerate() {
                let v = nodes.get(k).cloned().unwrap_or(Value::Null);
                if v.is_null() {
                    // Deleted or no longer visible since it was listed.
                    tracing::debug!(target: "siloscope::sources::github", source = %self.name, id = %id, "a listed item is gone");
                    continue;
                }
                let updated = v["updatedAt"].as_str().and_then(parse_time).unwrap_or(*listed);
                read_now.push((id.clone(), updated.max(*listed)));
                let index = k.to_string();
                cut.push(
                    errors.iter().any(|p| p.first().map(String::as_str) == Some("nodes") && p.get(1) == Some(&index)),
                );
                values.push(v);
            }
            pass.queue.drain(..ids.len());
            self.complete_items(&client, &auth, &mut values, &mut cut).await?;
            for (v, cut) in values.iter().zip(&cut) {
                let repo_id = v["repository"]["id"].as_str().unwrap_or("").to_string();
                let repo_name = v["repository"]["nameWithOwner"].as_str().unwrap_or("").to_string();
                let key_scope = cur
                    .repos
                    .entry(repo_id)
                    .or_insert_with(|| RepoCursor {
                        key_scope: repo_name.clone(),
                        name: repo_name.clone(),
                        ..RepoCursor::default()
                    })
                    .key_scope
                    .clone();
                match parse::graphql_item(v, &ItemContext { source: &self.name, key_scope: &key_scope }) {
                    Ok((item, events)) => {
                        if !cut && history_is_whole(v) {
                            batch.push_complete(&item.key, events);
                        } else {
                            tracing::debug!(target: "siloscope::sources::github", source = %self.name, url = %item.url, "the item's timeline or reviews were not read whole: its stored history is only added to");
                            batch.events.extend(events);
                        }
                        batch.items.push(item);
                    }
                    Err(m) => self.skip_malformed(v, &m.why),
                }
            }
        }
        let sc = cur.scopes.iter_mut().find(|s| s.label == label).expect("exists");
        sc.seen.extend(read_now);

        // The listing page: queue what is not read at that version, move the keyset on.
        if list {
            let search = &data["search"];
            let Some(nodes) = search["nodes"].as_array() else {
                return Err(malformed(format!("source {:?}: the search answer has no nodes", self.name)));
            };
            let mut page = Vec::new();
            for n in nodes {
                let Some(id) = n["id"].as_str() else {
                    self.skip_malformed(n, "a listed item without id");
                    continue;
                };
                page.push(Listed {
                    id: id.to_string(),
                    created: n["createdAt"].as_str().and_then(parse_time),
                    updated: n["updatedAt"].as_str().and_then(parse_time),
                    repo: n["repository"]["nameWithOwner"].as_str().unwrap_or("").to_string(),
                });
            }
            for l in &page {
                let u = l.updated.unwrap_or(Ts::MIN);
                if !self.wanted(&l.repo) || sc.seen.get(&l.id).is_some_and(|&read| read >= u) {
                    continue;
                }
                match pass.queue.iter_mut().find(|(id, _)| id == &l.id) {
                    Some(q) => q.1 = q.1.max(u),
                    None => pass.queue.push((l.id.clone(), u)),
                }
            }
            let more = search["pageInfo"]["hasNextPage"].as_bool() == Some(true);
            let end_cursor = search["pageInfo"]["endCursor"].as_str().map(str::to_string);
            let total = search["issueCount"].as_u64().unwrap_or(0) as usize;
            let lost = advance_listing(&mut pass, &page, more, end_cursor, total, now);
            if lost > 0 {
                tracing::warn!(target: "siloscope::sources::github", source = %self.name, scope = %label, items = lost,
                    "GitHub search lists at most 1000 results, and more items than that share a creation and an update second: they are not read this pass");
            }
        }

        // The pass ends once everything listed is read.
        let mut ended = false;
        if pass.listed && pass.queue.is_empty() {
            sc.since = match &pass.run {
                // Ended on just-updated items: the next pass lists them again.
                Some(run) if run.to.is_none() => run.from.or(sc.since),
                _ => pass.latest.max(sc.since),
            };
            if let Some(s) = sc.since {
                sc.seen.retain(|_, u| *u >= s - OVERLAP);
            }
            cur.pending.retain(|p| p != &label);
            ended = true;
        } else {
            // Read items far behind the listing are not listed again in this pass.
            if let Some(at) = pass.run.as_ref().map_or(pass.at.or(pass.from), |r| r.from) {
                sc.seen.retain(|_, u| *u >= at - OVERLAP);
            }
            sc.pass = Some(pass);
        }

        // Files of pushed repositories and the directory, once every scope's pass is over.
        if ended && cur.pending.is_empty() {
            let mut owners_changed = false;
            let ids = self.repos_needing_files(&cur);
            if !ids.is_empty() {
                owners_changed = self.read_files(&client, &auth, &mut cur, &ids, &mut batch).await?;
            }
            let teams_due = self.cfg.teams_from_github && cur.directory_at.is_none_or(|t| now - t >= DIRECTORY_EVERY);
            let first_directory = cur.directory_at.is_none() && self.cfg.codeowners;
            if teams_due || owners_changed || first_directory {
                let teams =
                    if self.cfg.teams_from_github { self.read_teams(&client, &auth).await? } else { Vec::new() };
                batch.directory = Some(self.snapshot(&teams, &cur));
                cur.directory_at = Some(now);
            }
        }
        let caught_up = cur.pending.is_empty();
        batch.cursor =
            Some(serde_json::to_string(&cur).map_err(|e| malformed(format!("cannot write the cursor: {e}")))?);
        Ok(SyncStep { batch, caught_up })
    }

    /// The repositories a pass's first request read: an organisation's (more pages while they
    /// were pushed since last read), or the named ones.
    async fn read_repositories(
        &self,
        client: &ApiClient,
        auth: &Secret,
        cur: &Cursor,
        scope: &Scope,
        data: &Value,
    ) -> Result<Vec<Value>, SourceError> {
        let mut repos: Vec<Value> = Vec::new();
        match scope {
            Scope::Organization(org) => {
                let Some(conn) = data["organization"].as_object() else {
                    return Err(self.organization_missing(client, auth, org).await);
                };
                let first_page = conn.get("repositories").cloned().unwrap_or(Value::Null);
                repos.extend(first_page["nodes"].as_array().cloned().unwrap_or_default());
                let mut page_info = first_page["pageInfo"].clone();
                // Ordered by push: read on while repositories were pushed since we last looked.
                while page_info["hasNextPage"].as_bool() == Some(true)
                    && repos.last().is_some_and(|r| self.pushed_since_known(cur, r))
                {
                    let after = page_info["endCursor"].as_str().map(str::to_string);
                    let data = self
                        .graphql(client, auth, &graphql::org_repositories(), json!({ "org": org, "after": after }))
                        .await?;
                    let conn = &data["organization"]["repositories"];
                    repos.extend(conn["nodes"].as_array().cloned().unwrap_or_default());
                    page_info = conn["pageInfo"].clone();
                }
            }
            Scope::Repositories(r) => {
                for (i, name) in r.iter().enumerate() {
                    let v = &data[format!("r{i}")];
                    if v.is_null() {
                        tracing::warn!(target: "siloscope::sources::github", source = %self.name, repository = %name, "repository not found or not visible to the credential");
                    } else {
                        repos.push(v.clone());
                    }
                }
            }
        }
        Ok(repos)
    }

    /// Why `organization(login:)` was null: a user account (a config error: its repositories
    /// go under `repositories`), or not found / not visible to the credential.
    async fn organization_missing(&self, client: &ApiClient, auth: &Secret, org: &str) -> SourceError {
        let owner = self.graphql(client, auth, &graphql::owner(), json!({ "org": org })).await;
        match owner.as_ref().map(|d| d["repositoryOwner"]["__typename"].as_str()) {
            Ok(Some("User")) => SourceError {
                kind: "config",
                message: format!(
                    "source {:?}: organizations entry {org:?} is a user account, not an organization; \
                     list its repositories under `repositories` instead (like repositories = [\"{org}/<name>\"]) \
                     and remove it from `organizations`",
                    self.name
                ),
            },
            Err(e) => e.clone(),
            _ => SourceError {
                kind: "http",
                message: format!(
                    "source {:?}: organization {org:?} was not found, or is not visible to the credential",
                    self.name
                ),
            },
        }
    }

    fn pushed_since_known(&self, cur: &Cursor, repo: &Value) -> bool {
        let pushed = repo["pushedAt"].as_str().and_then(parse_time);
        match repo["id"].as_str().and_then(|id| cur.repos.get(id)) {
            Some(known) => pushed != known.files_read_at_push,
            None => true,
        }
    }

    fn skip_malformed(&self, v: &Value, why: &str) {
        let url = v["url"].as_str().unwrap_or("(no url)");
        tracing::warn!(target: "siloscope::sources::github", source = %self.name, url = %url, error = %why, "skipping a malformed item; the rest of the sync goes on");
        if let Some(h) = &self.health {
            h.record_error(&self.name, "malformed");
        }
    }
}

/// Whether an item read by id holds its whole history: its timeline, and a pull request's reviews
/// and their comments, all there and read to their ends.
fn history_is_whole(v: &Value) -> bool {
    let ended = |list: &Value| list["nodes"].is_array() && list["pageInfo"]["hasNextPage"].as_bool() != Some(true);
    if !ended(&v["timelineItems"]) {
        return false;
    }
    match v.get("reviews") {
        None => true,
        Some(reviews) => {
            ended(reviews)
                && reviews["nodes"].as_array().is_some_and(|rs| {
                    rs.iter()
                        .all(|r| r.get("comments").is_none_or(|c| c["pageInfo"]["hasNextPage"].as_bool() != Some(true)))
                })
        }
    }
}

/// The history format GitHub items are read in (see [`Source::history_format`]). 2: commits at
/// their authored date, a close within the settling time of a merge is part of the merge.
pub const HISTORY_FORMAT: u32 = 2;

/// The team (`org/slug`, lower-cased) owning everything in a CODEOWNERS file: the last rule for
/// `*` (or `/*`, `**`, `/**`) whose first owner is a team.
pub fn codeowners_catch_all(text: &str) -> Option<String> {
    let mut owner = None;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut parts = line.split_whitespace();
        let Some(pattern) = parts.next() else { continue };
        if !matches!(pattern, "*" | "/*" | "**" | "/**") {
            continue;
        }
        owner = parts
            .find(|o| o.starts_with('@') && o.contains('/'))
            .map(|o| o.trim_start_matches('@').to_ascii_lowercase());
    }
    owner
}

/// A decision record from its file history (GraphQL `history` nodes, newest first): the item,
/// `Opened` at the first commit and `StatusChanged` whenever the `Status:` changes.
pub fn record_from_history(
    source: &str,
    key_scope: &str,
    repo: &str,
    path: &str,
    web: &str,
    history: &[Value],
) -> Result<Option<(Item, Vec<Event>)>, String> {
    if history.is_empty() {
        return Ok(None);
    }
    let key = format!("github:{key_scope}#{path}");
    let mut events = Vec::new();
    let mut status: Option<String> = None;
    let mut title = path.rsplit('/').next().unwrap_or(path).to_string();
    let mut first: Option<(Ts, Option<String>)> = None;
    let mut last_at = 0;
    for c in history.iter().rev() {
        let oid = c["oid"].as_str().ok_or("a commit without oid")?;
        let at = c["committedDate"].as_str().and_then(parse_time).ok_or("a commit without a valid committedDate")?;
        let who = parse::git_actor(&c["author"]);
        let text = c["file"]["object"]["text"].as_str();
        if first.is_none() {
            first = Some((at, who.clone()));
            events.push(Event {
                id: format!("github:{oid}:{path}#opened"),
                item: key.clone(),
                at,
                actor: who.clone(),
                kind: EventKind::Opened,
            });
        }
        if let Some(text) = text {
            if let Some(h) = text.lines().find_map(|l| l.strip_prefix("# ")) {
                title = h.trim().to_string();
            }
            let now = parse::record_status(text);
            if let Some(to) = &now
                && now != status
            {
                events.push(Event {
                    id: format!("github:{oid}:{path}"),
                    item: key.clone(),
                    at,
                    actor: who.clone(),
                    kind: EventKind::StatusChanged { from: status.clone(), to: to.clone(), category: None },
                });
                status = now;
            }
        }
        last_at = at;
    }
    let (created_at, author) = first.expect("history is not empty");
    let item = Item {
        key,
        source: source.to_string(),
        kind: ItemKind::DecisionRecord,
        scope: repo.to_string(),
        url: format!("{web}/{repo}/blob/HEAD/{path}"),
        title,
        author,
        created_at,
        updated_at: last_at,
        state: ItemState::Open,
        issue_type: None,
    };
    Ok(Some((item, events)))
}

impl Source for GithubSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn history_format(&self) -> Option<u32> {
        Some(HISTORY_FORMAT)
    }

    /// A pass over every scope from the configured `since`, files and teams read again; what
    /// keeps keys stable stays (the name each repository's items are keyed under, after renames).
    fn rewind(&self, stored: &str) -> Option<String> {
        let old: Cursor = serde_json::from_str(stored).ok()?;
        let repos = old
            .repos
            .into_iter()
            .map(|(id, r)| (id, RepoCursor { key_scope: r.key_scope, name: r.name, ..RepoCursor::default() }))
            .collect();
        serde_json::to_string(&Cursor { v: CURSOR_VERSION, repos, ..Cursor::default() }).ok()
    }

    /// One search count per scope, for what a first pass lists: updated since `since`.
    fn count_items<'a>(&'a mut self, _now: Ts) -> crate::sources::CountFuture<'a> {
        Box::pin(async move {
            let result: Result<Option<crate::sources::ItemCounts>, SourceError> = async {
                let client = self.client_or_init()?;
                let auth = self.authorization(&client).await?;
                let mut parts = Vec::new();
                for scope in scopes_of(&self.cfg) {
                    let pass = Pass { from: self.cfg.since, ..Pass::default() };
                    let q = listing_query(&scope, &pass);
                    let data = self.graphql(&client, &auth, &graphql::count(), json!({ "q": q })).await?;
                    let n = data["search"]["issueCount"]
                        .as_u64()
                        .ok_or_else(|| malformed(format!("the count of {q:?} has no issueCount")))?;
                    parts.push((scope.label(), n));
                }
                Ok(Some(crate::sources::ItemCounts { parts, page_size: self.cfg.page_size.clamp(1, 100) }))
            }
            .await;
            crate::sources::http::scrub_message(result, self.client.as_deref())
        })
    }

    /// Scopes are the parts; the scope in progress stands at its oldest listed item not read
    /// yet, or where its listing has come.
    fn pass_position(&self, cursor: &str, now: Ts) -> Option<crate::sources::PassPosition> {
        let cur: Cursor = serde_json::from_str(cursor).ok()?;
        let parts = cur.scopes.len().max(cur.pending.len()) as u32;
        let done = parts.saturating_sub(cur.pending.len() as u32);
        let current = cur.pending.first().and_then(|l| cur.scopes.iter().find(|s| &s.label == l));
        let (from, reached) = match current.and_then(|s| s.pass.as_ref().map(|p| (s, p))) {
            Some((s, p)) => {
                let listed = if p.listed { p.latest } else { p.run.as_ref().and_then(|r| r.from).or(p.at) };
                let reading = p.queue.iter().map(|(_, u)| *u).min();
                (p.from.or(s.since), reading.or(listed).or(p.from))
            }
            None => (current.and_then(|s| s.since), None),
        };
        Some(crate::sources::PassPosition { parts, parts_done: done, from, reached, until: now })
    }

    fn step<'a>(&'a mut self, cursor: Option<&'a str>, now: Ts) -> StepFuture<'a> {
        Box::pin(async move {
            let mut result = self.step_inner(cursor, now).await;
            if let Ok(step) = &mut result {
                step.batch.profiles = self.profiles.take();
            }
            crate::sources::http::scrub_error(result, self.client.as_deref())
        })
    }

    fn attach_health(&mut self, health: Arc<crate::sources::telemetry::SourceTelemetry>) {
        crate::sources::http::attach_health(self.client.as_deref(), &health);
        self.health = Some(health);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_github_com_and_enterprise_server() {
        assert_eq!(default_graphql_url("https://api.github.com"), "https://api.github.com/graphql");
        assert_eq!(default_graphql_url("https://ghe.acme.io/api/v3/"), "https://ghe.acme.io/api/graphql");
        assert_eq!(web_base("https://api.github.com"), "https://github.com");
        assert_eq!(web_base("https://ghe.acme.io/api/v3"), "https://ghe.acme.io");
    }

    #[test]
    fn codeowners_catch_all_team() {
        let text = "# owners\n*       @acme/platform @bob\n/docs/ @acme/docs\n*.rs @acme/rust\n* @alice @Acme/Payments # last wins\n";
        assert_eq!(codeowners_catch_all(text), Some("acme/payments".into()));
        assert_eq!(codeowners_catch_all("/src/ @acme/x\n"), None);
    }

    #[test]
    fn named_repositories_are_grouped_into_short_queries() {
        let mut cfg = GithubConfig::for_organizations(&["acme"]);
        cfg.repositories = (0..7).map(|i| format!("other/repo-{i}")).collect();
        let scopes = scopes_of(&cfg);
        assert_eq!(scopes.len(), 3);
        assert_eq!(scopes[0].qualifier(), "org:acme");
        assert_eq!(
            scopes[1].qualifier(),
            "repo:other/repo-0 repo:other/repo-1 repo:other/repo-2 repo:other/repo-3 repo:other/repo-4"
        );
        assert!(scopes.iter().all(|s| s.qualifier().len() < MAX_QUERY_LEN));
    }

    fn listed(id: &str, created: Ts, updated: Ts) -> Listed {
        Listed { id: id.into(), created: Some(created), updated: Some(updated), repo: "acme/api".into() }
    }

    #[test]
    fn the_listing_keyset_moves_on_settled_items_only_and_lists_stuck_runs_by_creation() {
        let now = 1_000_000;
        let scope = Scope::Organization("acme".into());
        // Settled items move the keyset to the latest of them; a just-updated one (listed at its
        // old place by a lagging index) does not.
        let mut pass = Pass { from: Some(1000), ..Pass::default() };
        let page = vec![listed("a", 10, 2000), listed("b", 20, now - 30), listed("c", 30, 3000)];
        assert_eq!(advance_listing(&mut pass, &page, true, None, 500, now), 0);
        assert_eq!((pass.at, pass.latest, pass.listed), (Some(3000), Some(now - 30), false));
        assert_eq!(listing_query(&scope, &pass), "org:acme sort:updated-asc updated:>=1970-01-01T00:50:00Z");
        // A full page all updated in the second the keyset stands at: that second by creation.
        let page = vec![listed("c", 30, 3000), listed("d", 40, 3000)];
        advance_listing(&mut pass, &page, true, None, 500, now);
        let run = pass.run.clone().expect("a run");
        assert_eq!((run.from, run.to, run.created), (Some(3000), Some(3000), None));
        assert_eq!(
            listing_query(&scope, &pass),
            "org:acme sort:created-asc updated:1970-01-01T00:50:00Z..1970-01-01T00:50:00Z"
        );
        // Creation order keysets on `createdAt`; a full page created in one second pages by offset.
        advance_listing(&mut pass, &page, true, Some("c1".into()), 500, now);
        assert_eq!(pass.run.as_ref().map(|r| (r.created, r.after.clone())), Some((Some(40), None)));
        let same = vec![listed("e", 40, 3000), listed("f", 40, 3000)];
        advance_listing(&mut pass, &same, true, Some("c2".into()), 500, now);
        assert_eq!(
            pass.run.as_ref().map(|r| (r.created, r.after.clone(), r.offset)),
            Some((Some(40), Some("c2".into()), 2))
        );
        assert!(listing_query(&scope, &pass).ends_with(" created:>=1970-01-01T00:00:40Z"));
        // The run's end continues the keyset after its second; a cap that cut it short is told.
        assert_eq!(advance_listing(&mut pass, &same, false, None, 1005, now), 1001);
        assert_eq!((pass.at, pass.run.is_none(), pass.listed), (Some(3001), true, false));
        // A full page of just-updated items: everything since the keyset, by creation, to the end.
        let recent = vec![listed("g", 50, now - 10), listed("h", 60, now - 20)];
        advance_listing(&mut pass, &recent, true, None, 500, now);
        assert_eq!(pass.run.as_ref().map(|r| (r.from, r.to)), Some((Some(3001), None)));
        advance_listing(&mut pass, &recent, false, None, 2, now);
        assert!(pass.listed);
        // A short page ends the listing.
        let mut short = Pass::default();
        advance_listing(&mut short, &page, false, None, 2, now);
        assert!(short.listed && short.run.is_none());
    }

    #[test]
    fn a_version_1_cursor_still_loads() {
        // As the previous version wrote it, in the middle of a pass.
        let v1 = r#"{"v":1,"scopes":[{"label":"org:acme","since":1700000000,"after":"Y3Vyc29yOjUw","started":true,
                     "seen":{"I_1":1700000000}}],"pending":["org:acme"],"repos":{},"directory_at":null}"#;
        let cur: Cursor = serde_json::from_str(v1).unwrap();
        assert_eq!((cur.v, cur.scopes[0].since, cur.scopes[0].pass.is_none()), (1, Some(1_700_000_000), true));
        assert_eq!(cur.scopes[0].seen.get("I_1"), Some(&1_700_000_000));
    }

    #[test]
    fn listing_queries_stay_within_githubs_length_limit() {
        let mut cfg = GithubConfig::for_organizations(&["an-organization-with-a-long-login"]);
        cfg.repositories = (0..12).map(|i| format!("a-long-owner-name/a-long-repository-name-{i}")).collect();
        let long = Pass {
            run: Some(Run {
                from: Some(1_700_000_000),
                to: Some(1_700_000_000),
                created: Some(1_600_000_000),
                ..Run::default()
            }),
            ..Pass::default()
        };
        for scope in scopes_of(&cfg) {
            let q = listing_query(&scope, &long);
            assert!(q.len() <= MAX_QUERY_LEN, "{} chars: {q}", q.len());
        }
    }

    #[test]
    fn a_record_history_yields_status_changes() {
        let h = serde_json::json!([
            {"oid": "c3", "committedDate": "2024-03-01T00:00:00Z", "author": {"email": "x@acme.io", "user": {"login": "Carol"}},
             "file": {"object": {"text": "# Use Kafka\n\nStatus: Superseded\n"}}},
            {"oid": "c2", "committedDate": "2024-02-01T00:00:00Z", "author": {"email": "b@acme.io", "user": null},
             "file": {"object": {"text": "# Use Kafka\n\nStatus: Accepted\n\nMore text"}}},
            {"oid": "c1", "committedDate": "2024-01-01T00:00:00Z", "author": {"email": "a@acme.io", "user": {"login": "alice"}},
             "file": {"object": {"text": "# Use Kafka\n\nStatus: Proposed\n"}}}
        ]);
        let (item, events) = record_from_history(
            "gh",
            "acme/api",
            "acme/api",
            "docs/adr/0001-kafka.md",
            "https://github.com",
            h.as_array().unwrap(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(item.key, "github:acme/api#docs/adr/0001-kafka.md");
        assert_eq!(
            (item.title.as_str(), item.kind, item.author.as_deref()),
            ("Use Kafka", ItemKind::DecisionRecord, Some("github:alice"))
        );
        let got: Vec<(String, Option<String>, EventKind)> =
            events.iter().map(|e| (e.id.clone(), e.actor.clone(), e.kind.clone())).collect();
        let sc = |from: Option<&str>, to: &str| EventKind::StatusChanged {
            from: from.map(str::to_string),
            to: to.into(),
            category: None,
        };
        assert_eq!(
            got,
            vec![
                ("github:c1:docs/adr/0001-kafka.md#opened".into(), Some("github:alice".into()), EventKind::Opened),
                ("github:c1:docs/adr/0001-kafka.md".into(), Some("github:alice".into()), sc(None, "Proposed")),
                (
                    "github:c2:docs/adr/0001-kafka.md".into(),
                    Some("email:b@acme.io".into()),
                    sc(Some("Proposed"), "Accepted")
                ),
                (
                    "github:c3:docs/adr/0001-kafka.md".into(),
                    Some("github:carol".into()),
                    sc(Some("Accepted"), "Superseded")
                ),
            ]
        );
    }
}
