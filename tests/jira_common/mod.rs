//! Helpers of the Jira integration tests: the stand-in's settings and config and a source
//! pointed at it, on top of the plumbing all API-source tests share.
#![allow(dead_code)]

#[path = "../source_common/mod.rs"]
mod source_common;
pub use source_common::*;

use std::path::PathBuf;
use std::sync::Arc;

use siloscope::sources::http::ManualClock;
use siloscope::sources::jira::{Flavor, JiraAuth, JiraConfig, JiraSource};
use siloscope_testkit::jira::{Auxiliary, JiraScenario, JiraStandIn, StandInSettings};

pub const TOKEN: &str = "ATATT3xFfGF0standinJIRAtoken0123456789";
pub const EMAIL: &str = "reader@acme.io";
/// The Jira user's zone (`timeZone` of `/myself`): behind UTC (a cursor written as UTC wall time
/// would skip), with daylight saving.
pub const ZONE: chrono_tz::Tz = chrono_tz::America::New_York;

pub fn standin_settings(flavor: Flavor) -> StandInSettings {
    StandInSettings {
        flavor,
        email: if flavor == Flavor::Cloud { EMAIL.into() } else { String::new() },
        token: TOKEN.into(),
        time_zone: ZONE,
        myself: Auxiliary::Serve,
        status_list: Auxiliary::Serve,
        embedded_histories: 100,
        embedded_comments: 20,
    }
}

pub async fn start(scenario: JiraScenario, flavor: Flavor) -> JiraStandIn {
    JiraStandIn::start(scenario, standin_settings(flavor)).await.unwrap()
}

/// A config reading every project of the stand-in, token in `token_file`; the time zone comes
/// from `/myself`.
pub fn config(standin: &JiraStandIn, flavor: Flavor, token_file: PathBuf) -> JiraConfig {
    let mut cfg = JiraConfig::cloud(&standin.url(), EMAIL, &[]);
    cfg.flavor = flavor;
    cfg.auth = JiraAuth {
        email: (flavor == Flavor::Cloud).then(|| EMAIL.to_string()),
        token_env: None,
        token_file: Some(token_file),
    };
    cfg.team_field = Some("customfield_10400".into());
    cfg
}

pub fn source(cfg: JiraConfig, clock: Arc<ManualClock>) -> JiraSource {
    JiraSource::with_transport("jira", cfg, transport(), clock, settings())
}
