//! The one list of source kinds (node_exporter's `registerCollector`): each entry is the `kind` a
//! `[[sources]]` entry names, a line saying what it reads, and its check, which turns the entry into
//! the kind's settings. All else that depends on the kind (building the source, where its history
//! begins, what a first backfill costs) is a method of those settings (`settings::Settings`), so
//! the config, the daemon, `init` and `sync --estimate` use this list and match on no kind.
//! Adding a source is its folder, one line here, its stand-in and its tests.

use super::settings::{Check, SourceSettings};
use super::{github, gitlab, jira, simulator};

/// One source kind.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// `kind = "github"`.
    pub name: &'static str,
    /// What a source of this kind reads.
    pub about: &'static str,
    pub check: Check,
}

/// Every source kind this build has, in the order error messages list them.
#[rustfmt::skip]
pub const KINDS: &[Kind] = &[
    Kind { name: "simulator", about: "a simulated organisation (demo, tests, benchmarks)", check: |c, v, e, x| simulator::config::check(c, v, e, x).map(SourceSettings::new) },
    Kind { name: "github", about: "GitHub or GitHub Enterprise: issues, pull requests, reviews, teams (GraphQL)", check: |c, v, e, x| github::config::check(c, v, e, x).map(SourceSettings::new) },
    Kind { name: "gitlab", about: "GitLab: issues, merge requests, notes, resource events, groups (REST v4)", check: |c, v, e, x| gitlab::config::check(c, v, e, x).map(SourceSettings::new) },
    Kind { name: "jira", about: "Jira Cloud or Data Center: issues with their changelogs and comments", check: |c, v, e, x| jira::config::check(c, v, e, x).map(SourceSettings::new) },
];

/// Kinds the product will have; named so users get "not yet" rather than "unknown".
pub const PLANNED: &[&str] = &[];

/// The kind named `name`, exactly as written (kinds are lower case).
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// The kinds' names, in registry order.
pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}
