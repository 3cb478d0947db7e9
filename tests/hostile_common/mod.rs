//! The rig of the fault campaign (tests/hostile_servers.rs, benches/hostile.rs): a stand-in of
//! each API behind a hostile proxy, a source pointed at the proxy, a sync stepped as the daemon
//! steps it.
#![allow(dead_code)]

#[path = "../source_common/mod.rs"]
mod source_common;
pub use source_common::*;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use siloscope::sources::bounds::SyncGuard;
use siloscope::sources::github::{GithubAuth, GithubConfig, GithubSource};
use siloscope::sources::gitlab::{GitlabConfig, GitlabSource};
use siloscope::sources::http::{HttpSettings, ManualClock};
use siloscope::sources::jira::{Flavor, JiraAuth, JiraConfig, JiraSource};
use siloscope::sources::{Source, SourceError};
use siloscope::store::{SqliteStore, Store};
use siloscope_testkit::hostile::{Hostile, HostileProxy};
use siloscope_testkit::jira::{Auxiliary, JiraScenario, JiraStandIn, StandInSettings};
use siloscope_testkit::{github, gitlab};

pub const GH_TOKEN: &str = "ghp_standinTOKEN0123456789abcdef";
pub const GL_TOKEN: &str = "glpat-standinTOKEN0123456789";
pub const JIRA_TOKEN: &str = "ATATT3xFfGF0standinJIRAtoken0123456789";
pub const EMAIL: &str = "reader@acme.io";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Github,
    Gitlab,
    JiraCloud,
    JiraDc,
}

pub const KINDS: [Kind; 4] = [Kind::Github, Kind::Gitlab, Kind::JiraCloud, Kind::JiraDc];

/// A stand-in of one API, kept alive while its proxy forwards to it.
#[allow(dead_code)]
pub enum Upstream {
    Github(github::GithubStandIn),
    Gitlab(gitlab::GitlabStandIn),
    Jira(JiraStandIn),
}

pub struct Rig {
    pub kind: Kind,
    _upstream: Upstream,
    pub proxy: HostileProxy,
    pub token_file: std::path::PathBuf,
    pub graphql: String,
    /// Jira: the scenario's project keys (a config must name what it reads).
    pub projects: Vec<String>,
}

pub fn jira_settings(flavor: Flavor) -> StandInSettings {
    StandInSettings {
        flavor,
        email: if flavor == Flavor::Cloud { EMAIL.into() } else { String::new() },
        token: JIRA_TOKEN.into(),
        time_zone: chrono_tz::Europe::Berlin,
        myself: Auxiliary::Serve,
        status_list: Auxiliary::Serve,
        // Few embedded, so that changelogs and comments take follow-up reads.
        embedded_histories: 2,
        embedded_comments: 1,
    }
}

pub async fn rig(kind: Kind, dir: &Path) -> Rig {
    let (items, events, directory) = simulated(6, 6.0, 17);
    let mut projects: Vec<String> = Vec::new();
    let (upstream, url, graphql, token) = match kind {
        Kind::Github => {
            let s = github::GithubStandIn::start(
                github::Scenario::from_model(&items, &events, Some(&directory)),
                &[GH_TOKEN],
            )
            .await
            .unwrap();
            let (u, g) = (s.url(), s.graphql_url());
            (Upstream::Github(s), u, g, GH_TOKEN)
        }
        Kind::Gitlab => {
            let s = gitlab::GitlabStandIn::start(
                gitlab::Scenario::from_model("sim-org", &items, &events, Some(&directory)),
                &[GL_TOKEN],
            )
            .await
            .unwrap();
            let u = s.url();
            (Upstream::Gitlab(s), u, String::new(), GL_TOKEN)
        }
        Kind::JiraCloud | Kind::JiraDc => {
            let flavor = if kind == Kind::JiraCloud { Flavor::Cloud } else { Flavor::DataCenter };
            let s = JiraStandIn::start(JiraScenario::from_model(&items, &events), jira_settings(flavor)).await.unwrap();
            let u = s.url();
            projects = s.scenario().issues.iter().map(|i| i.project.clone()).collect();
            projects.sort();
            projects.dedup();
            (Upstream::Jira(s), u, String::new(), JIRA_TOKEN)
        }
    };
    let proxy = HostileProxy::start(&url, Hostile::Honest).await.unwrap();
    let graphql = if graphql.is_empty() { String::new() } else { proxy.rebase(&graphql) };
    Rig { kind, _upstream: upstream, proxy, token_file: write_token(dir, token), graphql, projects }
}

/// Quick to fail: a short timeout, two attempts; sleeps go to the manual clock.
pub fn hostile_settings() -> HttpSettings {
    HttpSettings { timeout: Duration::from_secs(4), max_attempts: 2, ..HttpSettings::default() }
}

impl Rig {
    pub fn source(&self) -> Box<dyn Source> {
        let clock: Arc<ManualClock> = clock();
        match self.kind {
            Kind::Github => {
                let mut cfg = GithubConfig::for_organizations(&["sim-org"]);
                cfg.api_url = self.proxy.url();
                cfg.graphql_url = self.graphql.clone();
                cfg.auth = GithubAuth::Token { env: None, file: Some(self.token_file.clone()) };
                Box::new(GithubSource::with_transport("src", cfg, transport(), clock, hostile_settings()))
            }
            Kind::Gitlab => {
                let mut cfg = GitlabConfig::for_groups(&["sim-org"]);
                cfg.url = self.proxy.url();
                cfg.token_env = None;
                cfg.token_file = Some(self.token_file.clone());
                Box::new(GitlabSource::with_transport("src", cfg, transport(), clock, hostile_settings()))
            }
            Kind::JiraCloud | Kind::JiraDc => {
                let flavor = if self.kind == Kind::JiraCloud { Flavor::Cloud } else { Flavor::DataCenter };
                let mut cfg = JiraConfig::cloud(&self.proxy.url(), EMAIL, &[]);
                cfg.flavor = flavor;
                cfg.auth = JiraAuth {
                    email: (flavor == Flavor::Cloud).then(|| EMAIL.to_string()),
                    token_env: None,
                    token_file: Some(self.token_file.clone()),
                };
                cfg.team_field = Some("customfield_10400".into());
                cfg.page_size = 10;
                Box::new(JiraSource::with_transport("src", cfg, transport(), clock, hostile_settings()))
            }
        }
    }
}

/// Steps until caught up as the daemon does (a cursor seen twice or too many steps end the sync);
/// the first error ends it.
pub async fn sync_once(source: &mut dyn Source, store: &mut SqliteStore) -> Result<u32, SourceError> {
    let mut guard = SyncGuard::default();
    let mut steps = 0;
    loop {
        let cursor = store.cursor("src").unwrap();
        let step = source.step(cursor.as_deref(), T0 + 40 * DAY).await?;
        if !step.caught_up {
            guard.step("src", step.batch.cursor.as_deref())?;
        }
        store.commit_batch(&step.batch).unwrap();
        steps += 1;
        if step.caught_up {
            return Ok(steps);
        }
    }
}

pub const DAY: i64 = 86_400;

/// The config file of a `sync --once` or `serve` of the real binary against the rig's proxy.
pub fn write_config(dir: &Path, rig: &Rig) -> std::path::PathBuf {
    let store = dir.join("bin.db");
    let token_file = rig.token_file.display().to_string();
    let source = match rig.kind {
        Kind::Github => format!(
            "kind = \"github\"\ntoken_file = {token_file:?}\norganizations = [\"sim-org\"]\napi_url = \"{}\"\ngraphql_url = \"{}\"\n",
            rig.proxy.url(),
            rig.graphql
        ),
        Kind::Gitlab => {
            format!(
                "kind = \"gitlab\"\ntoken_file = {token_file:?}\ngroups = [\"sim-org\"]\nurl = \"{}\"\n",
                rig.proxy.url()
            )
        }
        Kind::JiraCloud | Kind::JiraDc => format!(
            "kind = \"jira\"\n{}token_file = {token_file:?}\nurl = \"{}\"\nprojects = {:?}\n",
            if rig.kind == Kind::JiraCloud {
                format!("flavor = \"cloud\"\nemail = \"{EMAIL}\"\n")
            } else {
                "flavor = \"data_center\"\n".to_string()
            },
            rig.proxy.url(),
            rig.projects
        ),
    };
    let text = format!("[store]\npath = {:?}\n\n[[sources]]\nname = \"src\"\n{source}", store.display().to_string());
    let path = dir.join("siloscope.toml");
    std::fs::write(&path, text).unwrap();
    path
}
