//! The Jira source (Cloud and Data Center / Server): issues with their changelogs and comments,
//! read incrementally through JQL search pages on the shared HTTP policy. Knows Jira, nothing of
//! signals or the store.
//!
//! How a sync goes. Each step is one JQL search, `(<filter>) AND updated >= "<wall time>" ORDER BY
//! updated ASC, key ASC` (Cloud: `/rest/api/3/search/jql`; Data Center: `/rest/api/2/search`),
//! with the changelog embedded (`expand=changelog`), plus follow-ups for issues whose changelog or
//! comments did not fit. Paging is by key set: the next page starts at the newest `updated` read,
//! so an issue updated meanwhile moves behind the reader and is read again, never skipped; only a
//! page wholly inside one minute (JQL dates have minute precision) pages on by `nextPageToken` /
//! `startAt`. JQL dates are wall time in the Jira *user's* time zone (`timeZone` of `/myself`, an
//! IANA zone, daylight saving included, unless the config names one), so the UTC cursor is
//! converted to it. A pass ends on the last page; the next starts `OVERLAP` earlier, and issues
//! already read at the same `updated` are skipped without follow-ups. An idle poll is one
//! request. Event ids are Jira history / comment ids: re-reading is harmless. `/myself` and
//! `/status` are auxiliary: when they fail the sync goes on (a warning, `kind="auxiliary"`).

pub mod config;
pub mod parse;
pub mod profiles;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{LocalResult, TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Batch, StatusCategory, Ts};
use crate::sources::http::{
    ApiClient, Budget, Clock, HttpRequest, HttpSettings, Method, NetworkTransport, Secret, Transport, encode_component,
};
use crate::sources::{Source, SourceError, StepFuture, SyncStep};

pub use self::parse::{Flavor, LinkNames};

/// How far before the newest `updated` read the next pass starts: JQL dates have minute
/// precision and Jira's index lags a little.
pub const OVERLAP: Ts = 5 * 60;
/// Issues per search page.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Changelog histories and comments per follow-up page.
const FOLLOW_UP_PAGE: u32 = 100;

/// Credentials: Cloud uses e-mail + API token (HTTP Basic), Data Center a personal access token
/// (Bearer). The token is read from an environment variable or a file at the first step.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraAuth {
    /// Cloud only: the Atlassian account e-mail the API token belongs to.
    pub email: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// Settings of a `kind = "jira"` source.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraConfig {
    /// `https://acme.atlassian.net` or `https://jira.acme.io` (with any context path).
    pub base_url: String,
    pub flavor: Flavor,
    pub auth: JiraAuth,
    /// Project keys; empty means every project the credential sees (or `jql` alone).
    pub projects: Vec<String>,
    /// An extra JQL filter, ANDed with the projects.
    pub jql: Option<String>,
    /// The team field: custom field id (`customfield_10400`) or name (`Team`).
    pub team_field: Option<String>,
    pub links: LinkNames,
    /// The Jira user's time zone, which JQL dates are in: None reads it from `/myself`.
    pub time_zone: Option<JiraZone>,
    pub requests_per_hour: Option<u32>,
    /// Only issues updated at or after this time are read (None = all history).
    pub since: Option<Ts>,
    pub page_size: u32,
}

impl JiraConfig {
    /// A Cloud source for `projects`, e-mail and token from `JIRA_EMAIL` / `JIRA_TOKEN`.
    pub fn cloud(base_url: &str, email: &str, projects: &[&str]) -> JiraConfig {
        JiraConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            flavor: Flavor::Cloud,
            auth: JiraAuth { email: Some(email.to_string()), token_env: Some("JIRA_TOKEN".into()), token_file: None },
            projects: projects.iter().map(|s| s.to_string()).collect(),
            jql: None,
            team_field: None,
            links: LinkNames::default(),
            time_zone: None,
            requests_per_hour: None,
            since: None,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// A time zone JQL dates are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JiraZone {
    /// An IANA zone (`America/New_York`): the offset at each instant, daylight saving included.
    Named(chrono_tz::Tz),
    /// A fixed offset from UTC in minutes (`utc_offset = "-05:00"`): no daylight saving.
    Offset(i32),
}

impl JiraZone {
    pub const UTC: JiraZone = JiraZone::Offset(0);

    /// The JQL date (`yyyy-MM-dd HH:mm`) Jira reads as no later than `ts`: the wall time of `ts` in
    /// this zone, rounded down to the minute (JQL dates are minutes). In the hour a clock is set
    /// back a wall time names two instants and Jira may take either, so an earlier wall time is
    /// written there.
    pub fn jql_time(&self, ts: Ts) -> String {
        match self {
            JiraZone::Named(tz) => wall_time(tz, ts),
            JiraZone::Offset(minutes) => match chrono::FixedOffset::east_opt(minutes * 60) {
                Some(offset) => wall_time(&offset, ts),
                None => wall_time(&chrono::Utc, ts),
            },
        }
    }

    /// How logs name it: `Europe/Berlin`, `UTC+01:00`.
    pub fn name(&self) -> String {
        match self {
            JiraZone::Named(tz) => tz.name().to_string(),
            JiraZone::Offset(m) => {
                let sign = if *m < 0 { '-' } else { '+' };
                format!("UTC{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60)
            }
        }
    }
}

fn wall_time<Z: TimeZone>(zone: &Z, ts: Ts) -> String {
    let format = |w: chrono::NaiveDateTime| w.format("%Y-%m-%d %H:%M").to_string();
    let mut at = ts;
    for _ in 0..8 {
        let Some(utc) = chrono::DateTime::from_timestamp(at, 0) else { break };
        let local = zone.from_utc_datetime(&utc.naive_utc()).naive_local().and_utc().timestamp();
        let Some(wall) = chrono::DateTime::from_timestamp(local - local.rem_euclid(60), 0).map(|w| w.naive_utc())
        else {
            break;
        };
        // The latest instant Jira may read the wall time as.
        let latest = match zone.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t.timestamp()),
            LocalResult::Ambiguous(a, b) => Some(a.timestamp().max(b.timestamp())),
            LocalResult::None => None, // rounding fell into a gap (odd historical offsets)
        };
        match latest {
            Some(l) if l <= ts => return format(wall),
            Some(l) => at -= l - ts,
            None => at -= 60,
        }
    }
    // Out of chrono's range: a day early in UTC is safe for any zone.
    chrono::DateTime::from_timestamp(ts - 86_400, 0)
        .map_or_else(|| "1970-01-01 00:00".into(), |t| format(t.naive_utc()))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    v: u32,
    /// Issues updated before this time are all read (None: from the beginning).
    #[serde(default)]
    since: Option<Ts>,
    /// Whether a pass is in flight, and the lower bound of its next page (keyset paging: the
    /// newest `updated` read so far, so an issue updated meanwhile moves behind the reader).
    #[serde(default)]
    in_pass: bool,
    #[serde(default)]
    from: Option<Ts>,
    /// Paging within one minute of `from` when a whole page shared it (JQL dates are minutes).
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    start_at: u32,
    /// Issues read, with the `updated` read, near `since`/`from`: a re-listing skips them.
    #[serde(default)]
    seen: BTreeMap<String, Ts>,
}

/// A configured Jira source.
pub struct JiraSource {
    name: String,
    cfg: JiraConfig,
    client: Option<Arc<ApiClient>>,
    clock: Arc<dyn Clock>,
    health: Option<Arc<crate::sources::telemetry::SourceTelemetry>>,
    /// Names and e-mails the answers showed, for the next batch.
    profiles: crate::sources::profiles::ProfileLog,
    authorization: Option<Secret>,
    http: HttpSettings,
    statuses: Option<HashMap<String, StatusCategory>>,
    /// The zone JQL dates are written in, once known (config, or `/myself`).
    zone: Option<JiraZone>,
    /// `/myself` / `/status` failed: ask again when the next pass starts.
    retry_zone: bool,
    retry_statuses: bool,
    completed: Vec<String>,
    /// The issues (key, updated) of the last search page: a continuation answering the same is a loop.
    last_search: Option<Vec<(String, String)>>,
}

impl std::fmt::Debug for JiraSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraSource").field("name", &self.name).finish_non_exhaustive()
    }
}

fn malformed(message: String) -> SourceError {
    SourceError { kind: "malformed", message }
}

/// Reads the token from its variable or file.
fn load_token(env: Option<&str>, file: Option<&std::path::Path>, source: &str) -> Result<Secret, String> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            _ => Err(format!("source {source:?}: the environment variable {var} holding the Jira token is not set")),
        };
    }
    if let Some(path) = file {
        return match std::fs::read_to_string(path) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            Ok(_) => Err(format!("source {source:?}: the Jira token file {} is empty", path.display())),
            Err(e) => Err(format!("source {source:?}: cannot read the Jira token file {}: {e}", path.display())),
        };
    }
    Err(format!("source {source:?}: set token_env or token_file for the Jira token"))
}

impl JiraSource {
    /// A source on the real network (the network transport) on `clock`.
    pub fn new(name: &str, cfg: JiraConfig, clock: Arc<dyn Clock>) -> JiraSource {
        let http = HttpSettings { requests_per_hour: cfg.requests_per_hour, ..HttpSettings::default() };
        JiraSource {
            name: name.to_string(),
            cfg,
            client: None,
            clock,
            health: None,
            profiles: Default::default(),
            authorization: None,
            http,
            statuses: None,
            zone: None,
            retry_zone: false,
            retry_statuses: false,
            completed: parse::default_completed_resolutions(),
            last_search: None,
        }
    }

    /// A source with its own transport, clock and policy settings (tests, benchmarks).
    pub fn with_transport(
        name: &str,
        cfg: JiraConfig,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        settings: HttpSettings,
    ) -> JiraSource {
        let settings =
            HttpSettings { requests_per_hour: cfg.requests_per_hour.or(settings.requests_per_hour), ..settings };
        let client = Arc::new(ApiClient::new(name, transport, clock.clone(), settings.clone()));
        let mut s = JiraSource::new(name, cfg, clock);
        s.client = Some(client);
        s.http = settings;
        s
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

    fn authorization(&mut self, client: &ApiClient) -> Result<Secret, SourceError> {
        if let Some(a) = &self.authorization {
            return Ok(a.clone());
        }
        let a = &self.cfg.auth;
        let token = load_token(a.token_env.as_deref(), a.token_file.as_deref(), &self.name)
            .map_err(|m| SourceError { kind: "http", message: m })?;
        client.register_secret(&token);
        let auth = match (self.cfg.flavor, &a.email) {
            (Flavor::Cloud, Some(email)) => Secret::basic(email, token.expose()),
            (Flavor::Cloud, None) => {
                return Err(SourceError {
                    kind: "http",
                    message: format!("source {:?}: Jira Cloud needs the account e-mail with the API token", self.name),
                });
            }
            (Flavor::DataCenter, _) => token,
        };
        client.register_secret(&auth);
        self.authorization = Some(auth.clone());
        Ok(auth)
    }

    fn api(&self) -> String {
        format!("{}/rest/api/{}", self.cfg.base_url.trim_end_matches('/'), self.cfg.flavor.api_version())
    }

    async fn get(&self, client: &ApiClient, auth: &Secret, url: String) -> Result<Value, SourceError> {
        let request = HttpRequest {
            method: Method::Get,
            url,
            headers: vec![("accept".into(), "application/json".into())],
            body: None,
            authorization: Some(auth.clone()),
        };
        let answer = client.send_json(&request, Budget::Rest, false).await?.1;
        self.profiles.see(&profiles::Shapes(self.cfg.flavor), &answer);
        Ok(answer)
    }

    /// The JQL of a pass starting at `from`.
    fn jql(&self, from: Option<Ts>) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.cfg.projects.is_empty() {
            let keys: Vec<String> = self.cfg.projects.iter().map(|p| format!("\"{p}\"")).collect();
            parts.push(format!("project in ({})", keys.join(", ")));
        }
        if let Some(q) = self.cfg.jql.as_deref().filter(|q| !q.trim().is_empty()) {
            parts.push(format!("({q})"));
        }
        if let Some(from) = from {
            let zone = self.zone.or(self.cfg.time_zone).unwrap_or(JiraZone::UTC);
            parts.push(format!("updated >= \"{}\"", zone.jql_time(from)));
        }
        format!("{} ORDER BY updated ASC, key ASC", parts.join(" AND "))
    }

    fn skip_malformed(&self, url: &str, why: &str) {
        tracing::warn!(target: "siloscope::sources::jira", source = %self.name, url = %url, error = %why, "skipping a malformed Jira issue; the rest of the sync goes on");
        if let Some(h) = &self.health {
            h.record_error(&self.name, "malformed");
        }
    }

    /// An auxiliary endpoint failed: a warning and `kind="auxiliary"`, and the sync goes on.
    fn auxiliary_failed(&mut self, endpoint: &str, error: &str, consequence: &str) {
        tracing::warn!(target: "siloscope::sources::jira", source = %self.name, endpoint = %endpoint, error = %error, "{consequence}");
        if let Some(h) = &self.health {
            h.record_error(&self.name, "auxiliary");
        }
    }

    /// The zone JQL dates are in: the configured one, else the token user's `timeZone` from
    /// `/myself` (UTC, with a warning, when Jira does not say). Logged once it is known.
    async fn learn_zone(&mut self, client: &ApiClient, auth: &Secret) {
        if let Some(zone) = self.cfg.time_zone {
            tracing::info!(target: "siloscope::sources::jira", source = %self.name, time_zone = %zone.name(), "JQL dates are read in the configured time zone");
            self.zone = Some(zone);
            return;
        }
        let url = format!("{}/myself", self.api());
        let zone = match self.get(client, auth, url).await {
            Err(e) => {
                let error = client.scrub(&e.message);
                self.retry_zone = true;
                let consequence = "cannot read the token user's time zone from /myself; JQL dates are read as UTC until it answers: set `time_zone` in the source's config if this lasts";
                self.auxiliary_failed("myself", &error, consequence);
                JiraZone::UTC
            }
            Ok(me) => match me["timeZone"].as_str().filter(|z| !z.is_empty()) {
                None => {
                    let consequence = "/myself names no time zone (an older Jira, or a restricted token); JQL dates are read as UTC: set `time_zone` in the source's config to the token user's zone";
                    self.auxiliary_failed("myself", "no timeZone", consequence);
                    JiraZone::UTC
                }
                Some(name) => match name.parse::<chrono_tz::Tz>() {
                    Ok(tz) => {
                        tracing::info!(target: "siloscope::sources::jira", source = %self.name, time_zone = %name, "JQL dates are read in the token user's time zone (from /myself)");
                        JiraZone::Named(tz)
                    }
                    Err(_) => {
                        let consequence = "/myself names a time zone this build does not know; JQL dates are read as UTC: set `time_zone` in the source's config";
                        self.auxiliary_failed("myself", &format!("unknown timeZone {name:?}"), consequence);
                        JiraZone::UTC
                    }
                },
            },
        };
        if zone == JiraZone::UTC && self.zone.is_some_and(|z| z != JiraZone::UTC) {
            return; // keep the zone an earlier answer gave
        }
        self.zone = Some(zone);
    }

    /// Status categories from `/status` (an empty list, with a warning, when it fails: issues
    /// carry their own status's category).
    async fn learn_statuses(&mut self, client: &ApiClient, auth: &Secret) {
        let mut map = HashMap::new();
        match self.get(client, auth, format!("{}/status", self.api())).await {
            Ok(list) => match list.as_array() {
                Some(list) => parse::learn_statuses(&mut map, list),
                None => {
                    self.retry_statuses = true;
                    let consequence = "the /status answer is not a list; statuses other than an issue's own have no category until it answers";
                    self.auxiliary_failed("status", "not a list", consequence);
                }
            },
            Err(e) => {
                let error = client.scrub(&e.message);
                self.retry_statuses = true;
                let consequence = "cannot read the status list from /status; statuses other than an issue's own have no category until it answers";
                self.auxiliary_failed("status", &error, consequence);
            }
        }
        if !map.is_empty() || self.statuses.is_none() {
            self.statuses = Some(map);
        }
    }

    /// Reads the whole changelog of an issue whose embedded page was short, and whether it is
    /// whole (false when a page came back empty before `total` was reached).
    async fn full_changelog(
        &self,
        client: &ApiClient,
        auth: &Secret,
        key: &str,
    ) -> Result<(Vec<Value>, bool), SourceError> {
        let mut out = Vec::new();
        let mut start = 0u32;
        let mut guard = crate::sources::bounds::PagedRead::new(format!("the changelog of {key}"));
        loop {
            let url = format!(
                "{}/issue/{}/changelog?startAt={start}&maxResults={FOLLOW_UP_PAGE}",
                self.api(),
                encode_component(key)
            );
            let page = self.get(client, auth, url.clone()).await?;
            let values = page["values"].as_array().or(page["histories"].as_array()).cloned().unwrap_or_default();
            let n = values.len() as u32;
            guard.page(&url, values.len())?;
            out.extend(values);
            if page["isLast"].as_bool() == Some(true) {
                return Ok((out, true));
            }
            match page["total"].as_u64() {
                Some(total) if u64::from(start + n) >= total => return Ok((out, true)),
                Some(_) if n > 0 => start += n,
                _ => return Ok((out, false)), // no total, or an empty page short of it
            }
        }
    }

    /// All comments of an issue, and whether the list is whole (see `full_changelog`).
    async fn all_comments(
        &self,
        client: &ApiClient,
        auth: &Secret,
        key: &str,
    ) -> Result<(Vec<Value>, bool), SourceError> {
        let mut out = Vec::new();
        let mut start = 0u32;
        let mut guard = crate::sources::bounds::PagedRead::new(format!("the comment list of {key}"));
        loop {
            let url = format!(
                "{}/issue/{}/comment?startAt={start}&maxResults={FOLLOW_UP_PAGE}&orderBy=created",
                self.api(),
                encode_component(key)
            );
            let page = self.get(client, auth, url.clone()).await?;
            let values = page["comments"].as_array().cloned().unwrap_or_default();
            let n = values.len() as u32;
            guard.page(&url, values.len())?;
            out.extend(values);
            match page["total"].as_u64() {
                Some(total) if u64::from(start + n) >= total => return Ok((out, true)),
                Some(_) if n > 0 => start += n,
                _ => return Ok((out, false)), // no total, or an empty page short of it
            }
        }
    }

    async fn step_inner(&mut self, cursor: Option<&str>, _now: Ts) -> Result<SyncStep, SourceError> {
        let mut cur: Cursor = match cursor {
            None => Cursor { v: 1, since: self.cfg.since, ..Cursor::default() },
            Some(text) => serde_json::from_str(text).map_err(|e| {
                malformed(format!(
                    "source {:?}: the stored cursor is not one this version wrote ({e}); delete the source's cursor to read Jira again",
                    self.name
                ))
            })?,
        };
        let client = self.client_or_init()?;
        let auth = self.authorization(&client)?;
        // Auxiliary answers: once, and again at the start of a pass after one failed.
        let pass_starts = !cur.in_pass;
        if self.zone.is_none() || (pass_starts && std::mem::take(&mut self.retry_zone)) {
            self.learn_zone(&client, &auth).await;
        }
        if self.statuses.is_none() || (pass_starts && std::mem::take(&mut self.retry_statuses)) {
            self.learn_statuses(&client, &auth).await;
        }
        if !cur.in_pass {
            cur.in_pass = true;
            cur.from = cur.since.map(|s| (s - OVERLAP).max(self.cfg.since.unwrap_or(Ts::MIN)));
            cur.next_page_token = None;
            cur.start_at = 0;
        }
        let page_size = self.cfg.page_size.clamp(1, 100);
        let jql = encode_component(&self.jql(cur.from));
        let fields = "summary,status,issuetype,project,created,updated,reporter,creator,assignee,components,labels,\
                      resolution,resolutiondate,issuelinks,comment";
        let mut fields = fields.to_string();
        if let Some(t) = &self.cfg.team_field {
            fields.push(',');
            fields.push_str(t);
        }
        let url = match self.cfg.flavor {
            Flavor::Cloud => {
                let mut u = format!(
                    "{}/search/jql?jql={jql}&maxResults={page_size}&expand=changelog&fields={}",
                    self.api(),
                    encode_component(&fields)
                );
                if let Some(t) = &cur.next_page_token {
                    u.push_str(&format!("&nextPageToken={}", encode_component(t)));
                }
                u
            }
            Flavor::DataCenter => format!(
                "{}/search?jql={jql}&startAt={}&maxResults={page_size}&expand=changelog&fields={}",
                self.api(),
                cur.start_at,
                encode_component(&fields)
            ),
        };
        let continuation = cur.next_page_token.is_some() || cur.start_at > 0;
        let page = self.get(&client, &auth, url.clone()).await?;
        let Some(issues) = page["issues"].as_array() else {
            return Err(malformed(format!("source {:?}: the search answer has no issues list", self.name)));
        };
        // A continuation page (next token, next offset) listing what the page before listed: the
        // server repeats itself, and paging on would never end.
        let listed: Vec<(String, String)> = issues
            .iter()
            .map(|i| {
                (i["key"].as_str().unwrap_or("").to_string(), i["fields"]["updated"].as_str().unwrap_or("").to_string())
            })
            .collect();
        if continuation && !listed.is_empty() && self.last_search.as_ref() == Some(&listed) {
            self.last_search = None;
            return Err(crate::sources::bounds::looping(format!(
                "{url}: the next search page lists the same issues as the page before; the step ends and the sync \
                 resumes at the next interval"
            )));
        }
        self.last_search = Some(listed);
        let statuses = self.statuses.clone().unwrap_or_default();
        let web = self.cfg.base_url.trim_end_matches('/').to_string();
        let ctx = parse::IssueContext {
            source: &self.name,
            flavor: self.cfg.flavor,
            web_base: &web,
            team_field: self.cfg.team_field.as_deref(),
            links: &self.cfg.links,
            status_categories: &statuses,
            completed_resolutions: &self.completed,
        };
        let mut batch = Batch { source: self.name.clone(), ..Batch::default() };
        let mut page_max: Option<Ts> = None;
        for issue in issues {
            let key = issue["key"].as_str().unwrap_or("").to_string();
            let updated = issue["fields"]["updated"].as_str().and_then(parse::parse_jira_time);
            if let Some(u) = updated {
                page_max = Some(page_max.map_or(u, |m| m.max(u)));
                if cur.seen.get(&key).is_some_and(|&read| read >= u) {
                    continue; // already read at this version (the overlap lists it again)
                }
            }
            let mut issue = issue.clone();
            // The issue's whole history is read when the changelog and the comments are both
            // there with their totals and read to them (a list cut short is not whole).
            let log = &issue["changelog"];
            let embedded = log["histories"].as_array().map(Vec::len);
            let mut whole = embedded.is_some() && log["total"].as_u64().is_some();
            if !key.is_empty() && log["total"].as_u64().is_some_and(|t| t > embedded.unwrap_or(0) as u64) {
                let (all, read_whole) = self.full_changelog(&client, &auth, &key).await?;
                whole &= read_whole;
                issue["changelog"]["histories"] = Value::Array(all);
            }
            let comment = &issue["fields"]["comment"];
            let shown = comment["comments"].as_array().map(Vec::len);
            whole &= shown.is_some() && comment["total"].as_u64().is_some();
            let comments =
                if !key.is_empty() && comment["total"].as_u64().is_some_and(|t| t > shown.unwrap_or(0) as u64) {
                    let (all, read_whole) = self.all_comments(&client, &auth, &key).await?;
                    whole &= read_whole;
                    Some(all)
                } else {
                    None
                };
            match parse::issue(&issue, comments.as_deref(), &ctx) {
                Ok((item, events)) => {
                    if whole {
                        batch.push_complete(&item.key, events);
                    } else {
                        tracing::debug!(target: "siloscope::sources::jira", source = %self.name, issue = %key, "the issue's changelog or comments were not read whole: its stored history is only added to");
                        batch.events.extend(events);
                    }
                    batch.items.push(item);
                }
                Err(m) => self.skip_malformed(&m.url, &m.why),
            }
            if let Some(u) = updated {
                cur.seen.insert(key, u);
            }
        }
        let more = match self.cfg.flavor {
            Flavor::Cloud => {
                page["nextPageToken"].as_str().is_some_and(|t| !t.is_empty()) && page["isLast"].as_bool() != Some(true)
            }
            Flavor::DataCenter => {
                let total = page["total"].as_u64().unwrap_or(0);
                !issues.is_empty() && u64::from(cur.start_at) + (issues.len() as u64) < total
            }
        };
        let minute = |t: Ts| t.div_euclid(60);
        if more {
            match (page_max, cur.from) {
                (Some(m), Some(f)) if minute(m) <= minute(f) => {
                    // The whole page is in the minute the query starts at: page on within it.
                    cur.next_page_token = page["nextPageToken"].as_str().map(str::to_string);
                    cur.start_at += issues.len() as u32;
                }
                (Some(m), _) => {
                    cur.from = Some(m);
                    cur.next_page_token = None;
                    cur.start_at = 0;
                }
                (None, _) => {
                    cur.next_page_token = page["nextPageToken"].as_str().map(str::to_string);
                    cur.start_at += issues.len() as u32;
                }
            }
        } else {
            if let Some(m) = page_max {
                cur.since = Some(cur.since.map_or(m, |s| s.max(m)));
            }
            cur.in_pass = false;
            cur.from = None;
            cur.next_page_token = None;
            cur.start_at = 0;
        }
        let horizon = cur.from.or(cur.since).map(|t| t - OVERLAP - 60);
        if let Some(h) = horizon {
            cur.seen.retain(|_, u| *u >= h);
        }
        let last = !more;
        batch.cursor =
            Some(serde_json::to_string(&cur).map_err(|e| malformed(format!("cannot write the cursor: {e}")))?);
        Ok(SyncStep { batch, caught_up: last })
    }
}

/// The history format Jira issues are read in (see [`Source::history_format`]). 2: the close is
/// the resolution (at its time, by its author), status categories come from the issue itself,
/// removed links are undone.
pub const HISTORY_FORMAT: u32 = 2;

impl Source for JiraSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn history_format(&self) -> Option<u32> {
        Some(HISTORY_FORMAT)
    }

    /// The search's total: Cloud's approximate count, Data Center's `maxResults=0` search.
    fn count_items<'a>(&'a mut self, _now: Ts) -> crate::sources::CountFuture<'a> {
        Box::pin(async move {
            let result: Result<Option<crate::sources::ItemCounts>, SourceError> = async {
                let client = self.client_or_init()?;
                let auth = self.authorization(&client)?;
                if self.cfg.since.is_some() && self.zone.is_none() {
                    self.learn_zone(&client, &auth).await;
                }
                let jql = self.jql(self.cfg.since);
                let bounded = jql.split(" ORDER BY ").next().unwrap_or(&jql).to_string();
                let (url, n) = match self.cfg.flavor {
                    Flavor::Cloud => {
                        let url = format!("{}/search/approximate-count", self.api());
                        let request = HttpRequest {
                            method: Method::Post,
                            url: url.clone(),
                            headers: vec![
                                ("accept".into(), "application/json".into()),
                                ("content-type".into(), "application/json".into()),
                            ],
                            body: Some(serde_json::to_vec(&serde_json::json!({ "jql": bounded })).unwrap_or_default()),
                            authorization: Some(auth.clone()),
                        };
                        let v = client.send_json(&request, Budget::Rest, false).await?.1;
                        (url, v["count"].as_u64())
                    }
                    Flavor::DataCenter => {
                        let url =
                            format!("{}/search?jql={}&maxResults=0&fields=key", self.api(), encode_component(&jql));
                        let v = self.get(&client, &auth, url.clone()).await?;
                        (url, v["total"].as_u64())
                    }
                };
                let n = n.ok_or_else(|| malformed(format!("{url}: the answer has no count")))?;
                let label =
                    if self.cfg.projects.is_empty() { "search".to_string() } else { self.cfg.projects.join(",") };
                Ok(Some(crate::sources::ItemCounts {
                    parts: vec![(label, n)],
                    page_size: self.cfg.page_size.clamp(1, 100),
                }))
            }
            .await;
            crate::sources::http::scrub_message(result, self.client.as_deref())
        })
    }

    /// One search is the one part; the pass stands at the `updated` its keyset paging has reached.
    fn pass_position(&self, cursor: &str, now: Ts) -> Option<crate::sources::PassPosition> {
        let cur: Cursor = serde_json::from_str(cursor).ok()?;
        Some(crate::sources::PassPosition {
            parts: 1,
            parts_done: u32::from(!cur.in_pass),
            from: self.cfg.since,
            reached: if cur.in_pass { cur.from } else { cur.since },
            until: now,
        })
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

    fn zone(name: &str) -> JiraZone {
        JiraZone::Named(name.parse().unwrap())
    }

    #[test]
    fn jql_dates_are_wall_time_in_the_users_zone() {
        // 2024-03-10 23:30:45 UTC.
        let t = 1_710_113_445;
        assert_eq!(JiraZone::UTC.jql_time(t), "2024-03-10 23:30");
        assert_eq!(JiraZone::Offset(60).jql_time(t), "2024-03-11 00:30");
        assert_eq!(JiraZone::Offset(-5 * 60).jql_time(t), "2024-03-10 18:30");
        // New York moved to daylight saving (UTC-4) at 07:00 UTC that day.
        assert_eq!(zone("America/New_York").jql_time(t), "2024-03-10 19:30");
        assert_eq!(zone("America/New_York").jql_time(1_710_053_999), "2024-03-10 01:59"); // 06:59:59Z, EST
        assert_eq!(zone("America/New_York").jql_time(1_710_054_000), "2024-03-10 03:00"); // 07:00Z, EDT
        assert_eq!(zone("Asia/Kolkata").jql_time(t), "2024-03-11 05:00");
        assert_eq!(JiraZone::Offset(-5 * 60).name(), "UTC-05:00");
        assert_eq!(zone("Europe/Berlin").name(), "Europe/Berlin");
    }

    #[test]
    fn in_the_hour_a_clock_is_set_back_the_wall_time_is_never_read_as_later() {
        let ny = zone("America/New_York");
        // 2023-11-05: 01:00-02:00 happens twice, at UTC-4 (05:00-06:00Z) and at UTC-5 (06:00-07:00Z).
        let first_0140 = 1_699_160_400 + 40 * 60; // 2023-11-05 05:40Z = 01:40 EDT
        let second_0140 = first_0140 + 3600; // 06:40Z = 01:40 EST
        // "01:40" could be read as 06:40Z, after 05:40Z: an earlier wall time is written.
        assert_eq!(ny.jql_time(first_0140), "2023-11-05 00:40");
        assert_eq!(ny.jql_time(second_0140), "2023-11-05 01:40");
        // Whatever the reading, never after the cursor.
        for t in (1_699_150_000..1_699_180_000).step_by(97) {
            let wall = chrono::NaiveDateTime::parse_from_str(&ny.jql_time(t), "%Y-%m-%d %H:%M").unwrap();
            let JiraZone::Named(tz) = ny else { unreachable!() };
            let readings: Vec<Ts> = match tz.from_local_datetime(&wall) {
                LocalResult::Single(a) => vec![a.timestamp()],
                LocalResult::Ambiguous(a, b) => vec![a.timestamp(), b.timestamp()],
                LocalResult::None => panic!("{wall} does not exist"),
            };
            assert!(readings.iter().all(|&r| r <= t && r > t - 2 * 3600), "{t}: {wall} reads as {readings:?}");
        }
    }

    #[test]
    fn the_search_jql_ands_projects_filter_and_cursor() {
        let mut cfg = JiraConfig::cloud("https://acme.atlassian.net/", "a@acme.io", &["PAY", "OPS"]);
        cfg.jql = Some("issuetype != Sub-task".into());
        cfg.time_zone = Some(JiraZone::Offset(120));
        let s = JiraSource::new("jira", cfg, Arc::new(crate::sources::http::ManualClock::new(0.0)));
        assert_eq!(
            s.jql(Some(1_710_113_445)),
            "project in (\"PAY\", \"OPS\") AND (issuetype != Sub-task) AND updated >= \"2024-03-11 01:30\" ORDER BY updated ASC, key ASC"
        );
        assert_eq!(s.api(), "https://acme.atlassian.net/rest/api/3");
        assert_eq!(encode_component("a b\"="), "a%20b%22%3D");
    }
}
