//! `siloscope init`: a starting, commented config from a few flags, with what the APIs can tell
//! (GitHub teams and members, GitLab groups and members, Jira projects and team-field values)
//! discovered through the sources' own clients (one sync step each, nothing stored). It writes
//! references to secrets only, never a token, and never overwrites an existing file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{SourceConfig, SourceSettings};
use crate::model::{DirectorySnapshot, EventKind, Ts};
use crate::sources::github::{GithubAuth, GithubConfig};
use crate::sources::gitlab::GitlabConfig;
use crate::sources::http::Clock;
use crate::sources::jira::{Flavor, JiraAuth, JiraConfig};

/// Where a token is: an environment variable or a file (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    Env(String),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct GithubInit {
    pub organizations: Vec<String>,
    /// GitHub Enterprise Server (or a stand-in): REST and GraphQL URLs.
    pub api_url: Option<String>,
    pub graphql_url: Option<String>,
    pub token: TokenRef,
}

#[derive(Debug, Clone)]
pub struct GitlabInit {
    pub groups: Vec<String>,
    pub url: Option<String>,
    pub token: TokenRef,
}

#[derive(Debug, Clone)]
pub struct JiraInit {
    pub url: String,
    pub flavor: Option<Flavor>,
    /// Cloud: the account e-mail of the API token.
    pub email: Option<String>,
    pub token: TokenRef,
    /// Project keys; empty: every project the issues discovery reads name.
    pub projects: Vec<String>,
    pub team_field: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub store: Option<PathBuf>,
    pub github: Option<GithubInit>,
    pub gitlab: Option<GitlabInit>,
    pub jira: Option<JiraInit>,
}

/// What the first sync step of each source showed.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub github: Option<DirectorySnapshot>,
    pub gitlab: Option<DirectorySnapshot>,
    pub jira_projects: BTreeSet<String>,
    /// Team-field values on the issues read, with how many issues carried each.
    pub jira_team_values: BTreeMap<String, u64>,
    pub jira_issues_read: u64,
    /// Sources that could not be read, with the error (already redacted by the source).
    pub failures: Vec<(String, String)>,
}

fn github_config(g: &GithubInit) -> GithubConfig {
    let mut c = GithubConfig::for_organizations(&g.organizations.iter().map(String::as_str).collect::<Vec<_>>());
    if let Some(u) = &g.api_url {
        c.api_url = u.trim_end_matches('/').to_string();
    }
    if let Some(u) = &g.graphql_url {
        c.graphql_url = u.trim_end_matches('/').to_string();
    }
    c.auth = match &g.token {
        TokenRef::Env(v) => GithubAuth::Token { env: Some(v.clone()), file: None },
        TokenRef::File(f) => GithubAuth::Token { env: None, file: Some(f.clone()) },
    };
    c.teams_from_github = true;
    c
}

fn gitlab_config(g: &GitlabInit) -> GitlabConfig {
    let mut c = GitlabConfig::for_groups(&g.groups.iter().map(String::as_str).collect::<Vec<_>>());
    if let Some(u) = &g.url {
        c.url = u.trim_end_matches('/').to_string();
    }
    (c.token_env, c.token_file) = match &g.token {
        TokenRef::Env(v) => (Some(v.clone()), None),
        TokenRef::File(f) => (None, Some(f.clone())),
    };
    c.teams_from_groups = true;
    c
}

fn jira_flavor(j: &JiraInit) -> Flavor {
    j.flavor.unwrap_or(if j.url.contains(".atlassian.net") { Flavor::Cloud } else { Flavor::DataCenter })
}

fn jira_config(j: &JiraInit) -> JiraConfig {
    let mut c = JiraConfig::cloud(&j.url, "", &j.projects.iter().map(String::as_str).collect::<Vec<_>>());
    c.flavor = jira_flavor(j);
    let (token_env, token_file) = match &j.token {
        TokenRef::Env(v) => (Some(v.clone()), None),
        TokenRef::File(f) => (None, Some(f.clone())),
    };
    c.auth = JiraAuth { email: j.email.clone().filter(|_| c.flavor == Flavor::Cloud), token_env, token_file };
    c.team_field = j.team_field.clone();
    c
}

/// One sync step of each configured source at `now` (nothing is stored), its client on `clock`:
/// the directory GitHub and GitLab report, and the projects and team-field values of the Jira
/// issues read.
pub async fn discover(opts: &InitOptions, now: Ts, clock: Arc<dyn Clock>) -> Discovery {
    let mut d = Discovery::default();
    let step = |name: &str, settings: SourceSettings| {
        let sc = SourceConfig { name: name.to_string(), interval: 300, settings };
        crate::daemon::make_source(&sc, clock.clone())
    };
    if let Some(g) = &opts.github {
        let mut source = step("github", SourceSettings::new(github_config(g)));
        match directory_of(source.as_mut(), now).await {
            Ok(snap) => d.github = Some(snap),
            Err(e) => d.failures.push(("github".into(), e)),
        }
    }
    if let Some(g) = &opts.gitlab {
        let mut source = step("gitlab", SourceSettings::new(gitlab_config(g)));
        match directory_of(source.as_mut(), now).await {
            Ok(snap) => d.gitlab = Some(snap),
            Err(e) => d.failures.push(("gitlab".into(), e)),
        }
    }
    if let Some(j) = &opts.jira {
        let mut source = step("jira", SourceSettings::new(jira_config(j)));
        // Every issue discovery reads (up to `DISCOVERY_STEPS` pages), not only the first page:
        // a team that works on older issues still shows its team-field value.
        let mut cursor: Option<String> = None;
        let mut per_value: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut read: BTreeSet<String> = BTreeSet::new();
        let mut failed = None;
        for _ in 0..DISCOVERY_STEPS {
            match source.step(cursor.as_deref(), now).await {
                Ok(s) => {
                    read.extend(s.batch.items.iter().map(|i| i.key.clone()));
                    d.jira_projects.extend(s.batch.items.iter().map(|i| i.scope.clone()));
                    for e in &s.batch.events {
                        if let EventKind::TeamFieldChanged { to: Some(v) } = &e.kind {
                            per_value.entry(v.clone()).or_default().insert(e.item.clone());
                        }
                    }
                    if s.caught_up {
                        break;
                    }
                    cursor = s.batch.cursor.or(cursor);
                }
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        d.jira_issues_read = read.len() as u64;
        d.jira_team_values = per_value.into_iter().map(|(v, items)| (v, items.len() as u64)).collect();
        match failed {
            // Nothing read: the source is unreachable or misconfigured; a later page failing
            // leaves what the earlier ones showed.
            Some(e) if read.is_empty() => d.failures.push(("jira".into(), e)),
            Some(e) => {
                tracing::warn!(error = %e, "Jira discovery stopped early: the team-field values are those of the issues read")
            }
            None => {}
        }
    }
    d
}

/// Steps a source from no cursor until a batch carries its directory (code hosts read teams once
/// their repositories are listed), at most `DISCOVERY_STEPS` steps; the items read are dropped.
async fn directory_of(source: &mut dyn crate::sources::Source, now: Ts) -> Result<DirectorySnapshot, String> {
    let mut cursor: Option<String> = None;
    for _ in 0..DISCOVERY_STEPS {
        let s = source.step(cursor.as_deref(), now).await.map_err(|e| e.to_string())?;
        if let Some(dir) = s.batch.directory {
            return Ok(dir);
        }
        if s.caught_up {
            break;
        }
        cursor = s.batch.cursor.or(cursor);
    }
    Ok(DirectorySnapshot::default())
}

/// How many sync steps discovery takes at most per code host before giving up on its teams.
const DISCOVERY_STEPS: usize = 50;

fn issues(n: u64) -> &'static str {
    if n == 1 { "issue" } else { "issues" }
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().map(|s| q(&s)).collect::<Vec<_>>().join(", "))
}

/// Text from an API inside a `#` comment: no control character can end the comment.
fn c(s: &str) -> String {
    s.chars().map(|ch| if ch.is_control() { ' ' } else { ch }).collect()
}

fn token_lines(t: &TokenRef) -> String {
    match t {
        TokenRef::Env(v) => format!("token_env = {}", q(v)),
        TokenRef::File(f) => format!("token_file = {}", q(&f.display().to_string())),
    }
}

/// A discovered team: its config name and handles, and where it came from.
struct TeamOut {
    name: String,
    handles: BTreeSet<String>,
    from: BTreeSet<&'static str>,
}

/// The config text: commented, with the discovered teams and people, and the sources.
pub fn render(opts: &InitOptions, d: &Discovery, generated_at: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# siloscope config written by `siloscope init` on {generated_at}.\n\
         # Review it: the teams and people below are what the sources reported; rename, merge and date\n\
         # memberships as your organisation is. Check it with `siloscope check-config --config FILE`,\n\
         # then `siloscope sync --once --config FILE` and `siloscope teams --config FILE` (coverage).\n\
         # Every key is explained in config/siloscope.example.toml."
    );
    for (source, error) in &d.failures {
        let _ = writeln!(o, "#\n# Could not read {source} to discover its teams: {}", c(error));
    }
    let store = opts.store.clone().unwrap_or_else(|| PathBuf::from("siloscope.db"));
    let _ = writeln!(
        o,
        "\n[store]\n# The SQLite file of the store, relative to this file\npath = {}",
        q(&store.display().to_string())
    );
    o.push_str(
        "\n[signals]\n# A waiting handoff is stalled after this long (default \"2d\")\n# stall_after = \"2d\"\n\
         # Teams with fewer active people are shown as \"other\" (default 5, min 2)\n# privacy_floor = 5\n\
         # Warn when less than this share of a source's events resolve to a team (default 0.95)\n# coverage_warning = 0.95\n",
    );

    // Teams: GitHub teams and GitLab groups, merged by name (the last path segment).
    let mut teams: BTreeMap<String, TeamOut> = BTreeMap::new();
    let roots: BTreeSet<String> =
        opts.gitlab.iter().flat_map(|g| g.groups.iter().map(|r| r.to_ascii_lowercase())).collect();
    let mut skipped_roots = Vec::new();
    for (snap, from) in [(&d.github, "GitHub team"), (&d.gitlab, "GitLab group")] {
        let Some(snap) = snap else { continue };
        for t in &snap.teams {
            if from == "GitLab group" && roots.contains(&t.name.to_ascii_lowercase()) {
                skipped_roots.push(t.name.clone());
                continue;
            }
            let name = t.name.rsplit('/').next().unwrap_or(&t.name).to_string();
            let name = if name.eq_ignore_ascii_case(crate::teams::OTHER_TEAM) { format!("{name}-team") } else { name };
            let e = teams.entry(name.to_ascii_lowercase()).or_insert_with(|| TeamOut {
                name,
                handles: BTreeSet::new(),
                from: BTreeSet::new(),
            });
            e.handles.extend(t.handles.iter().cloned());
            e.from.insert(from);
        }
    }
    let team_of_handle = |h: &str| -> Option<String> {
        teams.values().find(|t| t.handles.iter().any(|x| x.eq_ignore_ascii_case(h))).map(|t| t.name.clone())
    };
    let snapshot_team = |snap: &DirectorySnapshot, team: &str| -> Option<String> {
        let t = snap.teams.iter().find(|t| t.name == team)?;
        t.handles.iter().find_map(|h| team_of_handle(h))
    };
    if teams.is_empty() {
        o.push_str("\n# No team was discovered. Define teams like this:\n# [[teams]]\n# name = \"payments\"\n# handles = [\"acme/payments\"]\n");
    } else {
        o.push_str("\n# Teams, as the sources report them. `handles` are how sources name the team (review\n# requests to a team, @-mentions, GitLab groups); add a calendar for working-hours stalls.\n");
    }
    for root in &skipped_roots {
        let _ = writeln!(o, "# (GitLab group {} is the root you named: not written as a team of everyone)", c(root));
    }
    for t in teams.values() {
        let _ = writeln!(
            o,
            "\n# From: {}\n[[teams]]\nname = {}\nhandles = {}",
            t.from.iter().copied().collect::<Vec<_>>().join(", "),
            q(&t.name),
            list(t.handles.iter().cloned())
        );
    }

    // Jira team-field values: which resolve to a team, which need one.
    if let Some(j) = &opts.jira {
        let field = j.team_field.as_deref().unwrap_or("");
        if !field.is_empty() {
            let _ = writeln!(o, "\n# Jira team field {}: values on the {} issues read", c(field), d.jira_issues_read);
            if d.jira_team_values.is_empty() {
                o.push_str("#   (none seen)\n");
            }
            for (value, n) in &d.jira_team_values {
                match teams.get(&value.to_ascii_lowercase()).map(|t| t.name.clone()).or_else(|| team_of_handle(value)) {
                    Some(team) => {
                        let _ = writeln!(o, "#   {} ({n} {}) → team {}", c(value), issues(*n), c(&team));
                    }
                    None => {
                        let _ = writeln!(
                            o,
                            "#   {} ({n} {}) names no team above: define it, or add it to a team's handles:\n# [[teams]]\n# name = {}",
                            c(value),
                            issues(*n),
                            c(&q(value))
                        );
                    }
                }
            }
        }
    }

    // People, one entry per member reported, with their team(s).
    let mut wrote_header = false;
    for (snap, key) in [(&d.github, "github"), (&d.gitlab, "gitlab")] {
        let Some(snap) = snap else { continue };
        for p in snap.people.iter().filter(|p| !p.bot) {
            let Some(login) = p.identities.iter().find_map(|i| i.strip_prefix(&format!("{key}:"))) else { continue };
            let member_of: BTreeSet<String> =
                p.memberships.iter().filter_map(|m| snapshot_team(snap, &m.team)).collect();
            if !wrote_header {
                o.push_str(
                    "\n# People as the sources report them. Add each person's other identities (jira = the\n\
                     # Jira accountId, emails = commit e-mails) so their activity in every tool counts for\n\
                     # their team; `siloscope teams suggest` proposes them from the synced data.\n",
                );
                wrote_header = true;
            }
            let _ = writeln!(o, "\n[[people]]\nname = {}\n{key} = {}", q(&p.name), q(login));
            match member_of.len() {
                0 => {}
                1 => {
                    let _ = writeln!(o, "team = {}", q(member_of.iter().next().unwrap_or(&String::new())));
                }
                _ => {
                    let _ = writeln!(
                        o,
                        "# In {} teams at once: attribution uses the first; keep one, or date them.\nmemberships = [{}]",
                        member_of.len(),
                        member_of.iter().map(|t| format!("{{ team = {} }}", q(t))).collect::<Vec<_>>().join(", ")
                    );
                }
            }
        }
    }

    // Sources.
    if let Some(g) = &opts.github {
        let _ = writeln!(
            o,
            "\n# GitHub: a read-only token (fine-grained: Issues, Pull requests, Contents, Metadata read;\n\
             # organization Members read for teams_from_github).\n[[sources]]\nname = \"github\"\nkind = \"github\"\n{}\norganizations = {}",
            token_lines(&g.token),
            list(g.organizations.iter().cloned())
        );
        if let Some(u) = &g.api_url {
            let _ = writeln!(o, "api_url = {}", q(u.trim_end_matches('/')));
        }
        if let Some(u) = &g.graphql_url {
            let _ = writeln!(o, "graphql_url = {}", q(u.trim_end_matches('/')));
        }
        o.push_str("# Org teams, members and repository permissions into the directory\nteams_from_github = true\n");
    }
    if let Some(g) = &opts.gitlab {
        let _ = writeln!(
            o,
            "\n# GitLab: a token with only the read_api scope.\n[[sources]]\nname = \"gitlab\"\nkind = \"gitlab\"\n{}\ngroups = {}",
            token_lines(&g.token),
            list(g.groups.iter().cloned())
        );
        if let Some(u) = &g.url {
            let _ = writeln!(o, "url = {}", q(u.trim_end_matches('/')));
        }
        o.push_str("# Each group becomes a team of its direct members\nteams_from_groups = true\n");
    }
    if let Some(j) = &opts.jira {
        let flavor = jira_flavor(j);
        let projects: Vec<String> =
            if j.projects.is_empty() { d.jira_projects.iter().cloned().collect() } else { j.projects.clone() };
        let _ = writeln!(
            o,
            "\n# Jira {}: {}.\n[[sources]]\nname = \"jira\"\nkind = \"jira\"\nurl = {}\nflavor = {}",
            if flavor == Flavor::Cloud { "Cloud" } else { "Data Center" },
            if flavor == Flavor::Cloud {
                "the account e-mail and an API token of a read-only user"
            } else {
                "a personal access token of a read-only user"
            },
            q(j.url.trim_end_matches('/')),
            q(if flavor == Flavor::Cloud { "cloud" } else { "data_center" })
        );
        if flavor == Flavor::Cloud {
            let _ = writeln!(o, "email = {}", q(j.email.as_deref().unwrap_or("siloscope@example.com")));
        }
        let _ = writeln!(o, "{}", token_lines(&j.token));
        if projects.is_empty() {
            o.push_str("# No project was named or seen: list the project keys to read.\n# projects = [\"PAY\"]\njql = \"project is not EMPTY\"\n");
        } else {
            if j.projects.is_empty() {
                o.push_str("# Projects seen on the first issues read; add or remove keys.\n");
            }
            let _ = writeln!(o, "projects = {}", list(projects));
        }
        if let Some(f) = &j.team_field {
            let _ = writeln!(o, "team_field = {}", q(f));
        }
    }
    if opts.github.is_none() && opts.gitlab.is_none() && opts.jira.is_none() {
        o.push_str(
            "\n# No source was named. A simulated organisation to try siloscope with:\n[[sources]]\nname = \"demo\"\nkind = \"simulator\"\n",
        );
    }
    o
}
