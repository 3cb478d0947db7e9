//! Helpers of the GitHub integration tests: the stand-in's config and a source pointed at it, on
//! top of the plumbing all API-source tests share.
#![allow(dead_code)]

#[path = "../source_common/mod.rs"]
mod source_common;
pub use source_common::*;

use std::path::PathBuf;
use std::sync::Arc;

use siloscope::sources::github::{GithubAuth, GithubConfig, GithubSource};
use siloscope::sources::http::ManualClock;
use siloscope_testkit::github::GithubStandIn;

pub const TOKEN: &str = "ghp_standinTOKEN0123456789abcdef";

/// A config reading org `sim-org` from the stand-in with the token in `token_file`.
pub fn config(standin: &GithubStandIn, token_file: PathBuf) -> GithubConfig {
    let mut cfg = GithubConfig::for_organizations(&["sim-org"]);
    cfg.api_url = standin.url();
    cfg.graphql_url = standin.graphql_url();
    cfg.auth = GithubAuth::Token { env: None, file: Some(token_file) };
    cfg
}

pub fn source(cfg: GithubConfig, clock: Arc<ManualClock>) -> GithubSource {
    GithubSource::with_transport("gh", cfg, transport(), clock, settings())
}
