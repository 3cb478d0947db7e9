//! Jira's part of the config: the keys a `kind = "jira"` entry accepts (Cloud or Data Center),
//! their checks (each problem with its line and a fix), and what the registry needs of Jira's
//! settings: building the source, its `since`, its cost model. Checks only; it opens no connection.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Flavor as JiraFlavor, JiraAuth, JiraConfig, JiraSource, JiraZone, LinkNames};
use crate::model::{MINUTE, Ts};
use crate::sources::Source;
use crate::sources::configkit::{Checker, DeTable, Value, closest, parse_utc_offset};
use crate::sources::cost::CostModel;
use crate::sources::http::Clock;
use crate::sources::settings::{CheckContext, Settings, request_limits, token_env};

/// The keys a `kind = "jira"` entry accepts.
pub const KEYS: &[&str] = &[
    "name",
    "kind",
    "interval",
    "url",
    "flavor",
    "email",
    "token_env",
    "token_file",
    "projects",
    "jql",
    "team_field",
    "supersedes_links",
    "superseded_by_links",
    "duplicates_links",
    "blocks_links",
    "time_zone",
    "utc_offset",
    "requests_per_hour",
    "since",
    "page_size",
];

/// Jira: a search page with changelogs and comments embedded, follow-ups for longer ones, plus
/// `/myself` and `/status`; Cloud's burst limit is of the order of 100 requests a second … a
/// minute per user: taken as 350 a minute, what the stand-in and Cloud's headers report.
pub const COST: CostModel = CostModel {
    per_part: 0.0,
    per_page: 1.0,
    per_item: 0.0,
    points_per_request: 1.0,
    points_per_item: 0.0,
    limit: 350.0,
    window_seconds: 60.0,
    fixed: 2.0,
};

impl Settings for JiraConfig {
    fn build(&self, name: &str, clock: Arc<dyn Clock>) -> Box<dyn Source> {
        Box::new(JiraSource::new(name, self.clone(), clock))
    }
    fn since(&self) -> Option<Ts> {
        self.since
    }
    fn cost_model(&self) -> Option<CostModel> {
        Some(COST)
    }
}

/// Checks a `kind = "jira"` entry into its settings, reporting every problem.
pub fn check(
    c: &mut Checker<'_>,
    entry_value: &Value<'_>,
    entry: &DeTable<'_>,
    context: &CheckContext<'_>,
) -> Option<JiraConfig> {
    c.known_keys(entry, "sources", KEYS);
    let mut j = JiraConfig::cloud("", "", &[]);
    j.auth = JiraAuth { email: None, token_env: None, token_file: None };
    let mut ok = true;
    match entry.get("url") {
        Some(v) => match c.nonempty_string(v, "sources.url", "url = \"https://acme.atlassian.net\"") {
            Some(s)
                if !c.url_without_credentials(
                    v,
                    "sources.url",
                    &s,
                    "email = \"me@acme.io\"` with `token_env = \"JIRA_TOKEN\"",
                ) =>
            {
                ok = false;
            }
            Some(s) if s.starts_with("https://") || s.starts_with("http://") => {
                j.base_url = s.trim_end_matches('/').to_string();
            }
            Some(s) => {
                c.report(
                    v.span(),
                    format!("`sources.url` must be an http(s) URL, found \"{s}\""),
                    "write the site URL like `url = \"https://acme.atlassian.net\"` (the API is under /rest/api)",
                );
                ok = false;
            }
            None => ok = false,
        },
        None => {
            c.missing(entry_value, "sources.url", "url = \"https://acme.atlassian.net\"");
            ok = false;
        }
    }
    // Cloud or Data Center: said, or guessed from an *.atlassian.net host.
    j.flavor = if j.base_url.contains(".atlassian.net") { JiraFlavor::Cloud } else { JiraFlavor::DataCenter };
    if let Some(v) = entry.get("flavor") {
        match c.nonempty_string(v, "sources.flavor", "flavor = \"cloud\"").as_deref() {
            Some("cloud") => j.flavor = JiraFlavor::Cloud,
            Some("data_center") | Some("server") => j.flavor = JiraFlavor::DataCenter,
            Some(other) => {
                c.report(
                    v.span(),
                    format!("`sources.flavor` must be \"cloud\" or \"data_center\", found \"{other}\""),
                    "use `flavor = \"cloud\"` for *.atlassian.net, `flavor = \"data_center\"` for Jira Data Center or Server",
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    // Credentials: Cloud takes the account e-mail and an API token (HTTP Basic); Data Center
    // a personal access token (Bearer). The token comes from a variable or a file, never inline.
    let email = entry.get("email").and_then(|v| c.nonempty_string(v, "sources.email", "email = \"me@acme.io\""));
    match (j.flavor, email, entry.get("email")) {
        (JiraFlavor::Cloud, Some(e), _) if e.contains('@') => j.auth.email = Some(e),
        (JiraFlavor::Cloud, Some(e), Some(v)) => {
            c.report(
                v.span(),
                format!("`sources.email` must be an e-mail address, found \"{e}\""),
                "write the Atlassian account e-mail the API token belongs to",
            );
            ok = false;
        }
        (JiraFlavor::Cloud, _, None) => {
            c.report(
                entry_value.span(),
                "this Jira Cloud source has no `email`",
                "add `email = \"me@acme.io\"`: Jira Cloud takes the account e-mail with the API token",
            );
            ok = false;
        }
        (JiraFlavor::DataCenter, _, Some(v)) => {
            c.report(
                v.span(),
                "`sources.email` is only used by Jira Cloud",
                "remove it: Jira Data Center authenticates with a personal access token alone",
            );
            ok = false;
        }
        _ => {}
    }
    let token_env = token_env(c, entry, "JIRA_TOKEN");
    let token_file = entry
        .get("token_file")
        .and_then(|v| c.nonempty_string(v, "sources.token_file", "token_file = \"/run/secrets/jira-token\""));
    match (entry.get("token_env").is_some(), entry.get("token_file").is_some()) {
        (true, true) => {
            c.report(
                entry_value.span(),
                "this Jira source names more than one credential (token_env, token_file)",
                "keep one: `token_env = \"JIRA_TOKEN\"` or `token_file = \"path\"`",
            );
            ok = false;
        }
        (false, false) => {
            c.report(
                entry_value.span(),
                "this Jira source has no credential",
                "add `token_env = \"JIRA_TOKEN\"` (Cloud: an API token; Data Center: a personal access token) or `token_file = \"path\"`",
            );
            ok = false;
        }
        _ => match (token_env, token_file) {
            (Some(env), _) => j.auth.token_env = Some(env),
            (_, Some(file)) => j.auth.token_file = Some(PathBuf::from(file)),
            _ => ok = false,
        },
    }
    // What to read: project keys and/or a JQL filter.
    if let Some(v) = entry.get("projects") {
        match c.strings(v, "sources.projects", "projects = [\"PAY\", \"OPS\"]") {
            Some(list) => {
                for (p, span) in list {
                    let valid = p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if valid {
                        j.projects.push(p);
                    } else {
                        c.report(
                            span,
                            format!("\"{p}\" is not a Jira project key"),
                            "write the key as in issue keys (PAY for PAY-12), like `projects = [\"PAY\"]`",
                        );
                        ok = false;
                    }
                }
            }
            None => ok = false,
        }
    }
    if let Some(v) = entry.get("jql") {
        match c.nonempty_string(v, "sources.jql", "jql = \"issuetype != Sub-task\"") {
            Some(q) if q.to_ascii_lowercase().contains("order by") => {
                c.report(
                    v.span(),
                    "`sources.jql` has an ORDER BY",
                    "leave ordering out: the source orders by update time itself to read incrementally",
                );
                ok = false;
            }
            Some(q) => j.jql = Some(q),
            None => ok = false,
        }
    }
    if entry.get("projects").is_none() && entry.get("jql").is_none() {
        c.report(
            entry_value.span(),
            "this Jira source reads nothing",
            "add `projects = [\"PAY\"]` and/or a filter like `jql = \"project = PAY\"`",
        );
        ok = false;
    }
    if let Some(v) = entry.get("team_field") {
        match c.nonempty_string(v, "sources.team_field", "team_field = \"customfield_10400\"") {
            Some(f) => j.team_field = Some(f),
            None => ok = false,
        }
    }
    let mut links = LinkNames::default();
    for (key, slot, example) in [
        ("supersedes_links", &mut links.supersedes, "supersedes_links = [\"supersedes\"]"),
        ("superseded_by_links", &mut links.superseded_by, "superseded_by_links = [\"is superseded by\"]"),
        ("duplicates_links", &mut links.duplicates, "duplicates_links = [\"duplicates\"]"),
        ("blocks_links", &mut links.blocks, "blocks_links = [\"blocks\"]"),
    ] {
        if let Some(v) = entry.get(key) {
            match c.strings(v, &format!("sources.{key}"), example) {
                Some(list) => *slot = list.into_iter().map(|(p, _)| p.to_lowercase()).collect(),
                None => ok = false,
            }
        }
    }
    j.links = links;
    // The Jira user's time zone (JQL dates are in it): read from /myself unless given here.
    if let Some(v) = entry.get("time_zone")
        && let Some(text) = c.nonempty_string(v, "sources.time_zone", "time_zone = \"Europe/Berlin\"")
    {
        match text.trim().parse::<chrono_tz::Tz>() {
            Ok(tz) => j.time_zone = Some(JiraZone::Named(tz)),
            Err(_) => {
                let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
                let hint = match closest(text.trim(), &names) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "write the IANA name of the token user's zone, like `time_zone = \"Europe/Berlin\"`, or leave it out to read it from Jira (/myself)".into(),
                };
                c.report(v.span(), format!("`sources.time_zone` is not a time zone: \"{text}\""), hint);
                ok = false;
            }
        }
    }
    if let Some(v) = entry.get("utc_offset")
        && let Some(text) = c.string(v, "sources.utc_offset", "utc_offset = \"+01:00\"")
    {
        if entry.get("time_zone").is_some() {
            c.report(
                v.span(),
                "this Jira source sets both `time_zone` and `utc_offset`",
                "keep `time_zone` (it follows daylight saving); `utc_offset` is a fixed offset",
            );
            ok = false;
        }
        match parse_utc_offset(&text) {
            Ok(offset) => {
                if j.time_zone.is_none() {
                    j.time_zone = Some(JiraZone::Offset((offset / MINUTE) as i32));
                }
            }
            Err(why) => {
                c.report(
                    v.span(),
                    format!("`sources.utc_offset` is not a UTC offset: {why}"),
                    "write the time zone of the Jira user the token belongs to, like `time_zone = \"Europe/Berlin\"` or `utc_offset = \"+01:00\"` (JQL dates are in that zone)",
                );
                ok = false;
            }
        }
    }
    ok &= request_limits(c, entry, &mut j.requests_per_hour, &mut j.page_size, 100, 50);
    if let Some(v) = entry.get("since") {
        match c.date(v, "sources.since", "since = \"2024-01-01\"") {
            Some(ts) => j.since = Some(ts),
            None => ok = false,
        }
    }
    if let Some(f) = &mut j.auth.token_file
        && f.is_relative()
    {
        *f = context.config_dir.join(&*f);
    }
    ok.then_some(j)
}
