//! GitHub's part of the config: the keys a `kind = "github"` entry accepts, their checks (each
//! problem with its line and a fix), and what the registry needs of GitHub's settings: building
//! the source, its `since`, its cost model. Checks only; it opens no connection.

use std::path::PathBuf;
use std::sync::Arc;

use super::{GithubAuth, GithubConfig, GithubSource, default_graphql_url};
use crate::model::Ts;
use crate::sources::Source;
use crate::sources::configkit::{Checker, DeTable, Value};
use crate::sources::cost::CostModel;
use crate::sources::http::Clock;
use crate::sources::settings::{CheckContext, Settings, request_limits, token_env};

/// The keys a `kind = "github"` entry accepts.
pub const KEYS: &[&str] = &[
    "name",
    "kind",
    "interval",
    "api_url",
    "graphql_url",
    "token_env",
    "token_file",
    "app_id",
    "private_key_file",
    "installation_id",
    "organizations",
    "repositories",
    "include",
    "exclude",
    "requests_per_hour",
    "teams_from_github",
    "codeowners",
    "since",
    "page_size",
];

/// GitHub: one GraphQL request reads a page of items (`page_size`, default 50) with the next
/// listing page; items with timelines longer than a page need follow-ups; 5,000 points an hour.
pub const COST: CostModel = CostModel {
    per_part: 1.0,
    per_page: 1.0,
    per_item: 0.0,
    points_per_request: 1.0,
    points_per_item: 0.12,
    limit: 5000.0,
    window_seconds: 3600.0,
    fixed: 0.0,
};

impl Settings for GithubConfig {
    fn build(&self, name: &str, clock: Arc<dyn Clock>) -> Box<dyn Source> {
        Box::new(GithubSource::new(name, self.clone(), clock))
    }
    fn since(&self) -> Option<Ts> {
        self.since
    }
    fn cost_model(&self) -> Option<CostModel> {
        Some(COST)
    }
}

/// Checks a `kind = "github"` entry into its settings, reporting every problem.
pub fn check(
    c: &mut Checker<'_>,
    entry_value: &Value<'_>,
    entry: &DeTable<'_>,
    context: &CheckContext<'_>,
) -> Option<GithubConfig> {
    c.known_keys(entry, "sources", KEYS);
    let mut g = GithubConfig::for_organizations(&[]);
    let mut ok = true;
    let url = |c: &mut Checker<'_>, key: &str, example: &str| -> Option<Option<String>> {
        let Some(v) = entry.get(key) else { return Some(None) };
        let s = c.nonempty_string(v, &format!("sources.{key}"), example)?;
        if !c.url_without_credentials(v, &format!("sources.{key}"), &s, "token_env = \"GITHUB_TOKEN\"") {
            return None;
        }
        if s.starts_with("https://") || s.starts_with("http://") {
            Some(Some(s.trim_end_matches('/').to_string()))
        } else {
            c.report(
                v.span(),
                format!("`sources.{key}` must be an http(s) URL, found \"{s}\""),
                format!("write it like `{example}`"),
            );
            None
        }
    };
    match url(c, "api_url", "api_url = \"https://ghe.example.com/api/v3\"") {
        Some(Some(u)) => g.api_url = u,
        Some(None) => {}
        None => ok = false,
    }
    match url(c, "graphql_url", "graphql_url = \"https://ghe.example.com/api/graphql\"") {
        Some(Some(u)) => g.graphql_url = u,
        Some(None) => g.graphql_url = default_graphql_url(&g.api_url),
        None => ok = false,
    }
    // Credentials: a token (variable or file) or a GitHub App, never inline.
    let token_env = token_env(c, entry, "GITHUB_TOKEN");
    let token_file = entry
        .get("token_file")
        .and_then(|v| c.nonempty_string(v, "sources.token_file", "token_file = \"/run/secrets/github-token\""));
    let app_id = entry
        .get("app_id")
        .and_then(|v| c.integer(v, "sources.app_id", 1, i128::from(u64::MAX), "app_id = 123456"))
        .map(|n| n as u64);
    let key_file = entry
        .get("private_key_file")
        .and_then(|v| c.nonempty_string(v, "sources.private_key_file", "private_key_file = \"github-app.pem\""));
    let installation_id = entry
        .get("installation_id")
        .and_then(|v| c.integer(v, "sources.installation_id", 1, i128::from(u64::MAX), "installation_id = 7654321"))
        .map(|n| n as u64);
    let token_keys = ["token_env", "token_file"].iter().filter(|k| entry.get(**k).is_some()).count();
    let app_keys =
        ["app_id", "private_key_file", "installation_id"].iter().filter(|k| entry.get(**k).is_some()).count();
    if token_keys > 1 || (token_keys > 0 && app_keys > 0) {
        c.report(
            entry_value.span(),
            "this GitHub source names more than one credential (token_env, token_file, app_id)",
            "keep one: `token_env = \"GITHUB_TOKEN\"`, `token_file = \"path\"`, or `app_id` with `private_key_file`",
        );
        ok = false;
    } else if let Some(env) = token_env {
        g.auth = GithubAuth::Token { env: Some(env), file: None };
    } else if let Some(file) = token_file {
        g.auth = GithubAuth::Token { env: None, file: Some(PathBuf::from(file)) };
    } else if app_keys > 0 {
        match (app_id, key_file) {
            (Some(app_id), Some(key)) => {
                g.auth = GithubAuth::App { app_id, private_key_file: PathBuf::from(key), installation_id };
            }
            (None, _) if entry.get("app_id").is_none() => {
                c.missing(entry_value, "sources.app_id", "app_id = 123456");
                ok = false;
            }
            (_, None) if entry.get("private_key_file").is_none() => {
                c.missing(entry_value, "sources.private_key_file", "private_key_file = \"github-app.pem\"");
                ok = false;
            }
            _ => ok = false,
        }
    } else if token_keys == 0 {
        c.report(
            entry_value.span(),
            "this GitHub source has no credential",
            "add `token_env = \"GITHUB_TOKEN\"` (a read-only token in that variable), `token_file = \"path\"`, or `app_id` with `private_key_file`",
        );
        ok = false;
    } else {
        ok = false;
    }
    // What to read.
    if let Some(v) = entry.get("organizations") {
        match c.strings(v, "sources.organizations", "organizations = [\"acme\"]") {
            Some(list) => {
                for (o, span) in list {
                    if o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                        g.organizations.push(o);
                    } else {
                        c.report(
                            span,
                            format!("\"{o}\" is not a GitHub organization login"),
                            "write the login as in github.com/<login>, like \"acme\"",
                        );
                        ok = false;
                    }
                }
            }
            None => ok = false,
        }
    }
    if let Some(v) = entry.get("repositories") {
        match c.strings(v, "sources.repositories", "repositories = [\"acme/api\"]") {
            Some(list) => {
                for (r, span) in list {
                    let valid = r.split('/').count() == 2
                        && r.split('/').all(|p| {
                            !p.is_empty()
                                && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                        });
                    if valid {
                        g.repositories.push(r);
                    } else {
                        c.report(
                            span,
                            format!("\"{r}\" is not an owner/name repository"),
                            "write it like \"acme/api\"",
                        );
                        ok = false;
                    }
                }
            }
            None => ok = false,
        }
    }
    if entry.get("organizations").is_none() && entry.get("repositories").is_none() {
        c.report(
            entry_value.span(),
            "this GitHub source reads nothing",
            "add `organizations = [\"acme\"]` and/or `repositories = [\"acme/api\"]`",
        );
        ok = false;
    }
    for (key, slot) in [("include", &mut g.include), ("exclude", &mut g.exclude)] {
        if let Some(v) = entry.get(key) {
            match c.strings(v, &format!("sources.{key}"), &format!("{key} = [\"acme/payments-*\"]")) {
                Some(list) => *slot = list.into_iter().map(|(p, _)| p).collect(),
                None => ok = false,
            }
        }
    }
    ok &= request_limits(c, entry, &mut g.requests_per_hour, &mut g.page_size, 100, 50);
    for (key, slot) in [("teams_from_github", &mut g.teams_from_github), ("codeowners", &mut g.codeowners)] {
        if let Some(v) = entry.get(key) {
            match c.boolean(v, &format!("sources.{key}"), &format!("{key} = true")) {
                Some(b) => *slot = b,
                None => ok = false,
            }
        }
    }
    if let Some(v) = entry.get("since") {
        match c.date(v, "sources.since", "since = \"2024-01-01\"") {
            Some(ts) => g.since = Some(ts),
            None => ok = false,
        }
    }
    // The files of `[decisions] record_paths`; relative credential files are the config's.
    g.record_paths = context.record_paths.to_vec();
    match &mut g.auth {
        GithubAuth::Token { file: Some(f), .. } | GithubAuth::App { private_key_file: f, .. } if f.is_relative() => {
            *f = context.config_dir.join(&*f);
        }
        _ => {}
    }
    ok.then_some(g)
}
