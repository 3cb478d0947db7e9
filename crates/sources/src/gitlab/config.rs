//! GitLab's part of the config: the keys a `kind = "gitlab"` entry accepts, their checks (each
//! problem with its line and a fix), and what the registry needs of GitLab's settings: building
//! the source, its `since`, its cost model. Checks only; it opens no connection.

use std::path::PathBuf;
use std::sync::Arc;

use super::{GitlabConfig, GitlabSource};
use crate::model::Ts;
use crate::sources::Source;
use crate::sources::configkit::{Checker, DeTable, Value};
use crate::sources::cost::CostModel;
use crate::sources::http::Clock;
use crate::sources::settings::{CheckContext, Settings, request_limits, token_env};

/// The keys a `kind = "gitlab"` entry accepts.
pub const KEYS: &[&str] = &[
    "name",
    "kind",
    "interval",
    "url",
    "token_env",
    "token_file",
    "groups",
    "projects",
    "include",
    "exclude",
    "requests_per_hour",
    "teams_from_groups",
    "since",
    "page_size",
];

/// GitLab: a page of items, then per item its notes, state events and label events (one page
/// each for most items); gitlab.com allows 2,000 requests a minute.
pub const COST: CostModel = CostModel {
    per_part: 1.0,
    per_page: 1.0,
    per_item: 3.0,
    points_per_request: 1.0,
    points_per_item: 0.0,
    limit: 2000.0,
    window_seconds: 60.0,
    fixed: 0.0,
};

impl Settings for GitlabConfig {
    fn build(&self, name: &str, clock: Arc<dyn Clock>) -> Box<dyn Source> {
        Box::new(GitlabSource::new(name, self.clone(), clock))
    }
    fn since(&self) -> Option<Ts> {
        self.since
    }
    fn cost_model(&self) -> Option<CostModel> {
        Some(COST)
    }
}

/// Checks a `kind = "gitlab"` entry into its settings, reporting every problem.
pub fn check(
    c: &mut Checker<'_>,
    entry_value: &Value<'_>,
    entry: &DeTable<'_>,
    context: &CheckContext<'_>,
) -> Option<GitlabConfig> {
    c.known_keys(entry, "sources", KEYS);
    let mut g = GitlabConfig::for_groups(&[]);
    let mut ok = true;
    if let Some(v) = entry.get("url") {
        match c.nonempty_string(v, "sources.url", "url = \"https://gitlab.example.com\"") {
            Some(s) if !c.url_without_credentials(v, "sources.url", &s, "token_env = \"GITLAB_TOKEN\"") => {
                ok = false;
            }
            Some(s) if s.starts_with("https://") || s.starts_with("http://") => {
                g.url = s.trim_end_matches('/').to_string();
            }
            Some(s) => {
                c.report(
                    v.span(),
                    format!("`sources.url` must be an http(s) URL, found \"{s}\""),
                    "write the instance URL like `url = \"https://gitlab.example.com\"` (the API is under /api/v4)",
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    // Credentials: a token (scope read_api) from a variable or a file, never inline.
    let token_env = token_env(c, entry, "GITLAB_TOKEN");
    let token_file = entry
        .get("token_file")
        .and_then(|v| c.nonempty_string(v, "sources.token_file", "token_file = \"/run/secrets/gitlab-token\""));
    g.token_env = None;
    match (entry.get("token_env").is_some(), entry.get("token_file").is_some()) {
        (true, true) => {
            c.report(
                entry_value.span(),
                "this GitLab source names more than one credential (token_env, token_file)",
                "keep one: `token_env = \"GITLAB_TOKEN\"` or `token_file = \"path\"`",
            );
            ok = false;
        }
        (false, false) => {
            c.report(
                entry_value.span(),
                "this GitLab source has no credential",
                "add `token_env = \"GITLAB_TOKEN\"` (a token with the read_api scope in that variable) or `token_file = \"path\"`",
            );
            ok = false;
        }
        _ => match (token_env, token_file) {
            (Some(env), _) => g.token_env = Some(env),
            (_, Some(file)) => g.token_file = Some(PathBuf::from(file)),
            _ => ok = false,
        },
    }
    // What to read: groups (with their subgroups) and/or projects, as full paths.
    let valid_path = |p: &str| {
        p.split('/')
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    };
    for (key, min_parts, example) in
        [("groups", 1, "groups = [\"acme\", \"acme/payments\"]"), ("projects", 2, "projects = [\"acme/api\"]")]
    {
        let Some(v) = entry.get(key) else { continue };
        match c.strings(v, &format!("sources.{key}"), example) {
            Some(list) => {
                for (p, span) in list {
                    if valid_path(&p) && p.split('/').count() >= min_parts {
                        if key == "groups" { g.groups.push(p) } else { g.projects.push(p) }
                    } else {
                        c.report(
                            span,
                            format!("\"{p}\" is not a GitLab {} path", &key[..key.len() - 1]),
                            format!("write the full path as in the URL, like `{example}`"),
                        );
                        ok = false;
                    }
                }
            }
            None => ok = false,
        }
    }
    if entry.get("groups").is_none() && entry.get("projects").is_none() {
        c.report(
            entry_value.span(),
            "this GitLab source reads nothing",
            "add `groups = [\"acme\"]` (subgroups included) and/or `projects = [\"acme/api\"]`",
        );
        ok = false;
    }
    for (key, slot) in [("include", &mut g.include), ("exclude", &mut g.exclude)] {
        if let Some(v) = entry.get(key) {
            match c.strings(v, &format!("sources.{key}"), &format!("{key} = [\"acme/payments/*\"]")) {
                Some(list) => *slot = list.into_iter().map(|(p, _)| p).collect(),
                None => ok = false,
            }
        }
    }
    ok &= request_limits(c, entry, &mut g.requests_per_hour, &mut g.page_size, 100, 100);
    if let Some(v) = entry.get("teams_from_groups") {
        match c.boolean(v, "sources.teams_from_groups", "teams_from_groups = true") {
            Some(b) => g.teams_from_groups = b,
            None => ok = false,
        }
    }
    if let Some(v) = entry.get("since") {
        match c.date(v, "sources.since", "since = \"2024-01-01\"") {
            Some(ts) => g.since = Some(ts),
            None => ok = false,
        }
    }
    if let Some(f) = &mut g.token_file
        && f.is_relative()
    {
        *f = context.config_dir.join(&*f);
    }
    ok.then_some(g)
}
