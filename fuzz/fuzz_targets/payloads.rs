#![no_main]
//! Every source's payload parsers on one JSON value (seed the corpus with ../shared/realdata).
use std::collections::HashMap;

use serde_json::Value;
use siloscope::model::ItemKind;
use siloscope::sources::{github, gitlab, jira};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return };
    let list = v.as_array().cloned().unwrap_or_default();
    let _ = github::parse::rest_item(&v, "gh");
    let _ = github::parse::rest_comments(&v, "github:a/b#1");
    let _ = github::parse::graphql_item(&v, &github::parse::ItemContext { source: "gh", key_scope: "a/b" });
    let t = github::parse::TimelineContext { key: "github:a/b#1", scope: "a/b", kind: ItemKind::PullRequest, merged_at: None };
    let _ = github::parse::timeline_events(&list, &t);
    for kind in [ItemKind::Issue, ItemKind::MergeRequest] {
        let _ = gitlab::parse::parse_item("gl", kind, &v, None);
        let _ = gitlab::parse::note_events("gitlab:g/p!1", kind, "g/p", &list);
    }
    let (links, done, statuses) = (jira::parse::LinkNames::default(), jira::parse::default_completed_resolutions(), HashMap::new());
    let ctx = jira::parse::IssueContext {
        source: "jira",
        flavor: jira::parse::Flavor::Cloud,
        web_base: "https://jira.test",
        team_field: Some("customfield_10400"),
        links: &links,
        status_categories: &statuses,
        completed_resolutions: &done,
    };
    let _ = jira::parse::issue(&v, None, &ctx);
});
