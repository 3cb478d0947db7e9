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
    /// A `[[people]]` key naming a person's login on this kind's service (`github = "alice"`),
    /// with its example; the identity's namespace is the kind's name. None: no logins of its own.
    pub person_key: Option<&'static str>,
    pub check: Check,
}

/// Every source kind this build has, in the order error messages list them.
#[rustfmt::skip]
pub const KINDS: &[Kind] = &[
    Kind { name: "simulator", about: "a simulated organisation (demo, tests, benchmarks)", person_key: None, check: |c, v, e, x| simulator::config::check(c, v, e, x).map(SourceSettings::new) },
    Kind { name: "github", about: "GitHub or GitHub Enterprise: issues, pull requests, reviews, teams (GraphQL)", person_key: Some("github = \"alice\""), check: |c, v, e, x| github::config::check(c, v, e, x).map(SourceSettings::new) },
    Kind { name: "gitlab", about: "GitLab: issues, merge requests, notes, resource events, groups (REST v4)", person_key: Some("gitlab = \"alice\""), check: |c, v, e, x| gitlab::config::check(c, v, e, x).map(SourceSettings::new) },
    Kind { name: "jira", about: "Jira Cloud or Data Center: issues with their changelogs and comments", person_key: Some("jira = \"557058:f5…\""), check: |c, v, e, x| jira::config::check(c, v, e, x).map(SourceSettings::new) },
];

/// Kinds the product will have; named so users get "not yet" rather than "unknown".
pub const PLANNED: &[&str] = &[];

/// The kind named `name`, exactly as written (kinds are lower case).
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// The kinds with `[[people]]` keys, with each key's example, in registry order.
pub fn person_keys() -> impl Iterator<Item = (&'static str, &'static str)> {
    KINDS.iter().filter_map(|k| Some((k.name, k.person_key?)))
}

/// The kinds' names, in registry order.
pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}
