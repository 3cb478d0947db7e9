//! The GitLab source (gitlab.com and self-managed, REST v4): issues and merge requests of groups
//! (with subgroups) or single projects, with notes and resource state and label events, read
//! incrementally through the shared HTTP policy. Knows GitLab, nothing of signals or the store.
//!
//! How a sync goes. Each configured scope (a group, or a project) has two lists, issues and merge
//! requests, read `order_by=updated_at&sort=asc&updated_after=<since>`. A step reads one page of
//! one list, and for each item its notes, state events and label events. The next page starts at
//! the last item's `updated_at` (keyset on the time: an item updated meanwhile moves behind the
//! reader and is read again, never skipped); items of that same second already read are skipped.
//! A list is done at a short page; the next pass starts `OVERLAP` earlier. An idle poll is one
//! request per list. Event ids are GitLab ids (note, label event), or for merges, closes and
//! reopens the item and the occurrence (`…!12/merged/1`, see `parse::state_changes`): re-reading
//! is harmless. An instance without resource state events (before 13.2) answers 404 there; after
//! three items in a row the endpoint is left alone for a day, and state changes come from system
//! notes and the items' own fields.

pub mod config;
pub mod parse;
pub mod profiles;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Batch, ItemKind, Ts};
use crate::sources::http::{
    ApiClient, Budget, Clock, HttpError, HttpRequest, HttpSettings, Method, NetworkTransport, Secret, Transport,
    encode_component, next_link, parse_time,
};
use crate::sources::{Source, SourceError, StepFuture, SyncStep};
use crate::teams::ScopePattern;

/// How far before the last pass's end the next pass starts (clock skew, slow replicas).
pub const OVERLAP: Ts = 10 * 60;
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// How often group memberships are read again.
const DIRECTORY_EVERY: Ts = 24 * 3600;
/// Pages of notes / events read per item at most (100 each).
const MAX_SUB_PAGES: u32 = 50;
/// Items in a row answering 404 for a resource-event endpoint before it counts as absent from
/// the instance (one 404 may be an item deleted between two requests).
const ABSENT_AFTER: u32 = 3;
/// How long an endpoint found absent is not asked again.
const ABSENT_FOR: Ts = 24 * 3600;

/// Settings of a `kind = "gitlab"` source (validated by `config.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct GitlabConfig {
    /// Instance URL: `https://gitlab.com` or a self-managed host; the API is `<url>/api/v4`.
    pub url: String,
    /// Token (scope `read_api`) from an environment variable or a file.
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    /// Group full paths; their subgroups are included.
    pub groups: Vec<String>,
    /// Project full paths.
    pub projects: Vec<String>,
    /// Patterns on project paths: when non-empty, only matching projects are read.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Read group and subgroup members into the directory (one team per group path).
    pub teams_from_groups: bool,
    pub requests_per_hour: Option<u32>,
    pub since: Option<Ts>,
    pub page_size: u32,
}

impl GitlabConfig {
    /// A gitlab.com source for `groups`, token from `GITLAB_TOKEN`.
    pub fn for_groups(groups: &[&str]) -> GitlabConfig {
        GitlabConfig {
            url: "https://gitlab.com".into(),
            token_env: Some("GITLAB_TOKEN".into()),
            token_file: None,
            groups: groups.iter().map(|s| s.to_string()).collect(),
            projects: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            teams_from_groups: false,
            requests_per_hour: None,
            since: None,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    fn api(&self) -> String {
        format!("{}/api/v4", self.url.trim_end_matches('/').trim_end_matches("/api/v4"))
    }
}

fn format_time(ts: Ts) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map_or_else(|| "1970-01-01T00:00:00Z".into(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ListCursor {
    /// `groups/acme%2Fpay/issues` or `projects/acme%2Fapi/merge_requests`.
    list: String,
    #[serde(default)]
    since: Option<Ts>,
    /// Offset page within a run of items that all share `since` (a full page of one second).
    #[serde(default)]
    page: u32,
    /// Items already read at `updated_at` within `OVERLAP` of `since`: skipped when re-listed.
    #[serde(default)]
    seen: BTreeMap<String, Ts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    v: u32,
    lists: Vec<ListCursor>,
    /// Lists still to read in the current pass.
    pending: Vec<String>,
    #[serde(default)]
    directory_at: Option<Ts>,
}

/// A configured GitLab source.
pub struct GitlabSource {
    name: String,
    cfg: GitlabConfig,
    client: Option<Arc<ApiClient>>,
    clock: Arc<dyn Clock>,
    health: Option<Arc<crate::sources::telemetry::SourceTelemetry>>,
    /// Names and e-mails the answers showed, for the next batch.
    profiles: crate::sources::profiles::ProfileLog,
    token: Option<Secret>,
    http: HttpSettings,
    /// Resource-event endpoints the instance lacks: 404s in a row, and until when not to ask.
    absent: HashMap<&'static str, (u32, Option<Ts>)>,
    /// Items whose contradictions were logged and counted (once per item and process).
    reported: HashSet<String>,
    /// Resource-event endpoints that answered at least once in this process.
    answered: HashSet<&'static str>,
}

impl std::fmt::Debug for GitlabSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitlabSource").field("name", &self.name).finish_non_exhaustive()
    }
}

fn malformed(message: String) -> SourceError {
    SourceError { kind: "malformed", message }
}

/// Reads a token from an environment variable or a file, naming where it looked on failure.
fn load_token(env: Option<&str>, file: Option<&std::path::Path>, source: &str) -> Result<Secret, String> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            _ => Err(format!(
                "source {source:?}: environment variable {var} is not set or empty; set it to a GitLab token with the read_api scope"
            )),
        };
    }
    if let Some(path) = file {
        return match std::fs::read_to_string(path) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            Ok(_) => Err(format!("source {source:?}: token file {} is empty", path.display())),
            Err(e) => Err(format!("source {source:?}: cannot read token file {}: {e}", path.display())),
        };
    }
    Err(format!("source {source:?}: no token_env or token_file configured"))
}

impl GitlabSource {
    /// A source on the real network on `clock`. The token is read at the first step.
    pub fn new(name: &str, cfg: GitlabConfig, clock: Arc<dyn Clock>) -> GitlabSource {
        let http = HttpSettings { requests_per_hour: cfg.requests_per_hour, ..HttpSettings::default() };
        GitlabSource {
            name: name.to_string(),
            cfg,
            client: None,
            clock,
            health: None,
            profiles: Default::default(),
            token: None,
            http,
            absent: HashMap::new(),
            reported: HashSet::new(),
            answered: HashSet::new(),
        }
    }

    /// A source with its own transport, clock and policy settings (tests, benchmarks).
    pub fn with_transport(
        name: &str,
        cfg: GitlabConfig,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        settings: HttpSettings,
    ) -> GitlabSource {
        let settings =
            HttpSettings { requests_per_hour: cfg.requests_per_hour.or(settings.requests_per_hour), ..settings };
        let client = Arc::new(ApiClient::new(name, transport, clock.clone(), settings.clone()));
        GitlabSource {
            name: name.to_string(),
            cfg,
            client: Some(client),
            clock,
            health: None,
            profiles: Default::default(),
            token: None,
            http: settings,
            absent: HashMap::new(),
            reported: HashSet::new(),
            answered: HashSet::new(),
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

    fn wanted(&self, project: &str) -> bool {
        let included =
            self.cfg.include.is_empty() || self.cfg.include.iter().any(|p| ScopePattern(p.clone()).matches(project));
        included && !self.cfg.exclude.iter().any(|p| ScopePattern(p.clone()).matches(project))
    }

    fn lists(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, paths) in [("groups", &self.cfg.groups), ("projects", &self.cfg.projects)] {
            for p in paths {
                for what in ["issues", "merge_requests"] {
                    out.push(format!("{kind}/{}/{what}", encode_component(p)));
                }
            }
        }
        out
    }

    async fn get(
        &self,
        client: &ApiClient,
        token: &Secret,
        url: &str,
    ) -> Result<(crate::sources::http::HttpResponse, Value), HttpError> {
        let request = HttpRequest {
            method: Method::Get,
            url: url.to_string(),
            headers: vec![("accept".into(), "application/json".into())],
            body: None,
            authorization: Some(token.clone()),
        };
        let answer = client.send_json(&request, Budget::Rest, false).await?;
        self.profiles.see(&profiles::Shapes, &answer.1);
        Ok(answer)
    }

    /// Items of `list` updated in `[from, before)`, from `x-total`. GitLab.com leaves the header
    /// out above 10,000 items: the span is then halved and each half counted, down to a minute
    /// (a part with no header at that width counts as 10,000, its least).
    async fn count_list(
        &self,
        client: &ApiClient,
        token: &Secret,
        list: &str,
        from: Option<Ts>,
        before: Ts,
    ) -> Result<u64, SourceError> {
        let mut spans = vec![(from, before)];
        let mut total = 0u64;
        while let Some((lo, hi)) = spans.pop() {
            let mut url = format!(
                "{}/{list}?scope=all&state=all&order_by=updated_at&sort=asc&per_page=1&updated_before={}",
                self.cfg.api(),
                format_time(hi)
            );
            if let Some(lo) = lo {
                url.push_str(&format!("&updated_after={}", format_time(lo)));
            }
            let (resp, page) = self.get(client, token, &url).await?;
            if let Some(n) = resp.header("x-total").and_then(|t| t.trim().parse::<u64>().ok()) {
                total += n;
                continue;
            }
            // Without a lower bound, the oldest item (the page's one, sorted ascending) is one.
            let oldest =
                page.as_array().and_then(|p| p.first()).and_then(|v| v["updated_at"].as_str()).and_then(parse_time);
            match lo.or(oldest) {
                Some(lo) if hi - lo > 60 => {
                    let mid = lo + (hi - lo) / 2;
                    spans.push((Some(lo), mid));
                    spans.push((Some(mid), hi));
                }
                _ => total += 10_000,
            }
        }
        Ok(total)
    }

    /// Every page of a sub-list (notes, events, members) of one item or group: `x-next-page`,
    /// or the `Link` header's `rel="next"` where GitLab sends only that (keyset pagination).
    async fn get_all(&self, client: &ApiClient, token: &Secret, url: &str) -> Result<Vec<Value>, HttpError> {
        Ok(self.get_whole(client, token, url).await?.0)
    }

    /// [`Self::get_all`], and whether the list was read to its end (false when it was longer than
    /// the pages read per item).
    async fn get_whole(&self, client: &ApiClient, token: &Secret, url: &str) -> Result<(Vec<Value>, bool), HttpError> {
        let mut out = Vec::new();
        let sep = if url.contains('?') { '&' } else { '?' };
        let mut next_url = format!("{url}{sep}per_page=100&page=1");
        for pages in 1.. {
            let (resp, v) = self.get(client, token, &next_url).await?;
            let list = v.as_array().ok_or_else(|| HttpError {
                kind: "malformed",
                status: None,
                message: format!("{next_url}: expected a JSON array"),
            })?;
            out.extend(list.iter().cloned());
            if list.is_empty() {
                break;
            }
            let next_page = resp.header("x-next-page").map(str::trim).filter(|p| !p.is_empty());
            let next = match (next_page, resp.header("link").and_then(|h| next_link(h, &next_url))) {
                (Some(p), _) if p.parse::<u32>().is_ok() => format!("{url}{sep}per_page=100&page={p}"),
                (_, Some(link)) => link,
                _ => break,
            };
            if pages >= MAX_SUB_PAGES {
                tracing::warn!(target: "siloscope::sources::gitlab", source = %self.name, url = %url, pages, "list longer than the pages read per item; the rest is left out");
                return Ok((out, false));
            }
            next_url = next;
        }
        Ok((out, true))
    }

    /// An item with its history; a malformed one is logged, counted and skipped, one that
    /// contradicts itself is kept, and logged and counted once.
    async fn read_item(
        &mut self,
        client: &ApiClient,
        token: &Secret,
        kind: ItemKind,
        v: &Value,
        batch: &mut Batch,
        now: Ts,
    ) -> Result<(), SourceError> {
        let (item, opened) = match parse::parse_item(&self.name, kind, v, None) {
            Ok(x) => x,
            Err(why) => {
                self.skip_malformed(v, &why);
                return Ok(());
            }
        };
        if !self.wanted(&item.scope) {
            return Ok(());
        }
        let (Some(project_id), Some(iid)) = (v["project_id"].as_u64(), v["iid"].as_u64()) else {
            self.skip_malformed(v, "no project_id or iid");
            return Ok(());
        };
        let what = if kind == ItemKind::MergeRequest { "merge_requests" } else { "issues" };
        let base = format!("{}/projects/{project_id}/{what}/{iid}", self.cfg.api());
        let (notes, notes_whole) =
            self.get_whole(client, token, &format!("{base}/notes?sort=asc&order_by=created_at")).await?;
        let (states, states_whole) = self.resource_events(client, token, &base, "resource_state_events", now).await?;
        let (labels, labels_whole) = self.resource_events(client, token, &base, "resource_label_events", now).await?;
        match parse::item_events(&item, opened, v, &notes, &states, &labels) {
            Ok(events) => {
                if let Some(why) = parse::inconsistency(&item, v, &events) {
                    self.report_inconsistent(&item, &why);
                }
                if notes_whole && states_whole && labels_whole {
                    batch.push_complete(&item.key, events);
                } else {
                    tracing::debug!(target: "siloscope::sources::gitlab", source = %self.name, url = %item.url, "the item's notes or events were not read whole: its stored history is only added to");
                    batch.events.extend(events);
                }
                batch.items.push(item);
            }
            Err(why) => self.skip_malformed(v, &why),
        }
        Ok(())
    }

    /// An item's resource events of one kind (`what`): `[]` where the instance has no such
    /// endpoint (state events before GitLab 13.2, label events before 11.2 answer 404 for an item
    /// whose notes were just read). After [`ABSENT_AFTER`] items in a row the endpoint is not
    /// asked for [`ABSENT_FOR`]. Also whether the list is the item's whole: a 404 (or not asking)
    /// is, where the endpoint never answered in this process (the instance lacks it); where it
    /// did answer before, the item's events of that kind are unknown, not none.
    async fn resource_events(
        &mut self,
        client: &ApiClient,
        token: &Secret,
        base: &str,
        what: &'static str,
        now: Ts,
    ) -> Result<(Vec<Value>, bool), SourceError> {
        let (misses, until) = self.absent.get(what).copied().unwrap_or((0, None));
        let lacking = !self.answered.contains(what);
        if until.is_some_and(|u| now < u) {
            return Ok((Vec::new(), lacking));
        }
        match self.get_whole(client, token, &format!("{base}/{what}")).await {
            Ok(list) => {
                self.absent.remove(what);
                self.answered.insert(what);
                Ok(list)
            }
            Err(e) if e.status == Some(404) => {
                let misses = misses + 1;
                let until = (misses >= ABSENT_AFTER).then_some(now + ABSENT_FOR);
                if until.is_some() {
                    tracing::warn!(target: "siloscope::sources::gitlab",
                        source = %self.name,
                        url = %self.cfg.url,
                        endpoint = what,
                        "this GitLab answers 404 for {what} (an instance before GitLab {}); merges, closes and reopens are read from system notes and the items' own fields; asking again in a day",
                        if what == "resource_state_events" { "13.2" } else { "11.2" }
                    );
                }
                self.absent.insert(what, (misses, until));
                Ok((Vec::new(), lacking))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn read_directory(
        &self,
        client: &ApiClient,
        token: &Secret,
    ) -> Result<crate::model::DirectorySnapshot, SourceError> {
        let api = self.cfg.api();
        let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
        for g in &self.cfg.groups {
            let mut paths = vec![g.clone()];
            let descendants =
                self.get_all(client, token, &format!("{api}/groups/{}/descendant_groups", encode_component(g))).await?;
            paths.extend(descendants.iter().filter_map(|d| d["full_path"].as_str().map(str::to_string)));
            for p in paths {
                let members =
                    self.get_all(client, token, &format!("{api}/groups/{}/members", encode_component(&p))).await?;
                groups.push((p, members));
            }
        }
        Ok(parse::directory(&groups))
    }

    async fn step_inner(&mut self, cursor: Option<&str>, now: Ts) -> Result<SyncStep, SourceError> {
        let mut cur: Cursor = match cursor {
            None => Cursor { v: 1, ..Cursor::default() },
            Some(text) => serde_json::from_str(text).map_err(|e| {
                malformed(format!(
                    "source {:?}: the stored cursor is not one this version wrote ({e}); delete the source's cursor to read GitLab again",
                    self.name
                ))
            })?,
        };
        let lists = self.lists();
        if lists.is_empty() {
            return Err(SourceError {
                kind: "http",
                message: format!("source {:?}: no groups or projects configured", self.name),
            });
        }
        cur.lists.retain(|l| lists.contains(&l.list));
        for l in &lists {
            if !cur.lists.iter().any(|c| &c.list == l) {
                cur.lists.push(ListCursor { list: l.clone(), since: self.cfg.since, ..ListCursor::default() });
            }
        }
        cur.pending.retain(|p| lists.contains(p));
        if cur.pending.is_empty() {
            cur.pending = lists.clone();
        }
        let client = self.client_or_init()?;
        if self.token.is_none() {
            let t = load_token(self.cfg.token_env.as_deref(), self.cfg.token_file.as_deref(), &self.name)
                .map_err(|m| SourceError { kind: "http", message: m })?;
            self.token = Some(t);
        }
        let token = self.token.clone().expect("set above");
        client.register_secret(&token);

        let mut batch = Batch { source: self.name.clone(), ..Batch::default() };
        let list_name = cur.pending[0].clone();
        let lc = cur.lists.iter().position(|l| l.list == list_name).expect("added above");
        let kind = if list_name.ends_with("/merge_requests") { ItemKind::MergeRequest } else { ItemKind::Issue };
        let page_size = self.cfg.page_size.clamp(1, 100);
        let mut url = format!(
            "{}/{list_name}?scope=all&state=all&order_by=updated_at&sort=asc&per_page={page_size}&page={}",
            self.cfg.api(),
            cur.lists[lc].page.max(1)
        );
        if let Some(since) = cur.lists[lc].since {
            url.push_str(&format!("&updated_after={}", format_time(since)));
        }
        let (_, page) = self.get(&client, &token, &url).await?;
        let Some(page) = page.as_array() else {
            return Err(malformed(format!("{url}: expected a JSON array of {}", kind.as_str())));
        };
        let mut last: Option<Ts> = None;
        for v in page {
            let updated = v["updated_at"].as_str().and_then(parse_time);
            let key = v["id"].as_u64().map(|id| id.to_string()).unwrap_or_default();
            if let Some(u) = updated {
                last = Some(last.map_or(u, |l: Ts| l.max(u)));
                if cur.lists[lc].seen.get(&key) == Some(&u) {
                    continue;
                }
            }
            self.read_item(&client, &token, kind, v, &mut batch, now).await?;
            if let Some(u) = updated {
                cur.lists[lc].seen.insert(key, u);
            }
        }
        let l = &mut cur.lists[lc];
        let full = page.len() as u32 >= page_size;
        match last {
            // A full page all in the second `since`: page on by offset (pages 0 and 1 are both the first).
            Some(last) if full && Some(last) == l.since => l.page = l.page.max(1) + 1,
            Some(last) if full => {
                l.since = Some(last);
                l.page = 0;
            }
            _ => {
                // Short page: this list is caught up; the next pass starts OVERLAP earlier.
                let end = last.map_or(l.since, |x| Some(l.since.map_or(x, |s| s.max(x))));
                l.since = end.map(|e| e - OVERLAP).or(l.since);
                l.page = 0;
                cur.pending.remove(0);
            }
        }
        if let Some(since) = l.since {
            l.seen.retain(|_, at| *at >= since - OVERLAP);
        }
        if cur.pending.is_empty()
            && cur.directory_at.is_none_or(|at| now - at >= DIRECTORY_EVERY)
            && self.cfg.teams_from_groups
        {
            batch.directory = Some(self.read_directory(&client, &token).await?);
            cur.directory_at = Some(now);
        }
        let caught_up = cur.pending.is_empty();
        batch.cursor =
            Some(serde_json::to_string(&cur).map_err(|e| malformed(format!("cannot write the cursor: {e}")))?);
        Ok(SyncStep { batch, caught_up })
    }

    fn report_inconsistent(&mut self, item: &crate::model::Item, why: &str) {
        if !self.reported.insert(item.key.clone()) {
            return;
        }
        tracing::warn!(target: "siloscope::sources::gitlab", source = %self.name, url = %item.url, problem = %why, "an item contradicts itself; its events are kept as GitLab dates them");
        if let Some(h) = &self.health {
            h.record_error(&self.name, "inconsistent");
        }
    }

    fn skip_malformed(&self, v: &Value, why: &str) {
        let url = v["web_url"].as_str().unwrap_or("(no web_url)");
        tracing::warn!(target: "siloscope::sources::gitlab", source = %self.name, url = %url, error = %why, "skipping a malformed item; the rest of the sync goes on");
        if let Some(h) = &self.health {
            h.record_error(&self.name, "malformed");
        }
    }
}

/// The history format GitLab items are read in (see [`Source::history_format`]). 2: merges,
/// closes and reopens once each under `<item>/<change>/<n>` (was `…/state/<id>` and
/// `…/note/<id>`), from state events, system notes or the item's fields; a withdrawn approval is a
/// review without a verdict.
pub const HISTORY_FORMAT: u32 = 2;

impl Source for GitlabSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn history_format(&self) -> Option<u32> {
        Some(HISTORY_FORMAT)
    }

    /// One `x-total` per list, of the items a first pass reads (updated since `since`).
    fn count_items<'a>(&'a mut self, now: Ts) -> crate::sources::CountFuture<'a> {
        Box::pin(async move {
            let result: Result<Option<crate::sources::ItemCounts>, SourceError> = async {
                let client = self.client_or_init()?;
                if self.token.is_none() {
                    let t = load_token(self.cfg.token_env.as_deref(), self.cfg.token_file.as_deref(), &self.name)
                        .map_err(|m| SourceError { kind: "http", message: m })?;
                    self.token = Some(t);
                }
                let token = self.token.clone().expect("set above");
                client.register_secret(&token);
                let mut parts = Vec::new();
                for list in self.lists() {
                    let n = self.count_list(&client, &token, &list, self.cfg.since, now + 1).await?;
                    parts.push((list, n));
                }
                Ok(Some(crate::sources::ItemCounts { parts, page_size: self.cfg.page_size.clamp(1, 100) }))
            }
            .await;
            crate::sources::http::scrub_message(result, self.client.as_deref())
        })
    }

    /// Lists are the parts, read one after another; the list in progress stands at its `since`.
    fn pass_position(&self, cursor: &str, now: Ts) -> Option<crate::sources::PassPosition> {
        let cur: Cursor = serde_json::from_str(cursor).ok()?;
        let parts = cur.lists.len().max(cur.pending.len()) as u32;
        let done = parts.saturating_sub(cur.pending.len() as u32);
        let reached = cur.pending.first().and_then(|p| cur.lists.iter().find(|l| &l.list == p)).and_then(|l| l.since);
        Some(crate::sources::PassPosition { parts, parts_done: done, from: self.cfg.since, reached, until: now })
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
    fn paths_are_one_url_segment_and_the_api_is_under_api_v4() {
        assert_eq!(encode_component("acme/pay.core"), "acme%2Fpay.core");
        let mut cfg = GitlabConfig::for_groups(&["acme"]);
        cfg.url = "https://git.example.com/".into();
        assert_eq!(cfg.api(), "https://git.example.com/api/v4");
    }
}
