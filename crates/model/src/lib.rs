//! siloscope-model, the vocabulary every crate shares. Its root owns the plain data types (sources,
//! identities, work items, activity events, batches) and their (de)serialisation, `teams` the team
//! directory, `untrusted` the checks on tracker text, `mutex` the one poison-tolerant `lock`.
//! No I/O, no clock, no signals, no config format.
//! Times are UTC epoch seconds (`Ts`) so the engine never touches a clock or a time zone.

pub mod mutex;
pub mod teams;
pub mod untrusted;

// The files came from one crate where this root was `crate::model`; the alias keeps their paths.
use crate as model;

use serde::{Deserialize, Serialize};

/// A point in time: seconds since the Unix epoch, UTC.
pub type Ts = i64;

pub const MINUTE: Ts = 60;
pub const HOUR: Ts = 3600;
pub const DAY: Ts = 86_400;

/// How long after an item's creation its author, a bot or an automation may still be setting it
/// up (issue templates assign and label a second or two after "opened"; GitHub Actions labelers
/// take tens of seconds). What they set within this window is the item's initial state, not a
/// handoff; parsers pair events this close (a close right after a merge is part of the merge).
pub const SETTLING: Ts = 60;

/// An identity as a source sees a person: `namespace:login`, e.g. `github:alice`,
/// `jira:557058:f5…`, `email:alice@acme.io`. The team directory maps identities to people.
pub type Identity = String;

/// The key of a work item: `source:scope#number`, e.g. `github:acme/api#42`.
pub type ItemKey = String;

/// Builds an identity string from a namespace and a login, lower-casing logins of
/// case-insensitive namespaces (GitHub, GitLab and e-mail logins are case-insensitive).
pub fn identity(namespace: &str, login: &str) -> Identity {
    match namespace {
        "jira" => format!("{namespace}:{login}"),
        _ => format!("{namespace}:{}", login.to_ascii_lowercase()),
    }
}

/// True for identities that are automation by their name alone (`dependabot[bot]`, `…-bot`
/// logins with the GitHub App suffix). Configured bots are added by the team directory.
pub fn looks_like_bot(identity: &str) -> bool {
    identity.ends_with("[bot]")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Issue,
    PullRequest,
    MergeRequest,
    Ticket,
    /// A decision-record file in a repository (`docs/adr/0007-…md`).
    DecisionRecord,
}

impl ItemKind {
    pub const ALL: [ItemKind; 5] =
        [ItemKind::Issue, ItemKind::PullRequest, ItemKind::MergeRequest, ItemKind::Ticket, ItemKind::DecisionRecord];
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Issue => "issue",
            ItemKind::PullRequest => "pull_request",
            ItemKind::MergeRequest => "merge_request",
            ItemKind::Ticket => "ticket",
            ItemKind::DecisionRecord => "decision_record",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Pull and merge requests are held by their author's team (SIGNALS.md §2).
    pub fn is_change_request(self) -> bool {
        matches!(self, ItemKind::PullRequest | ItemKind::MergeRequest)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Open,
    Closed,
    Merged,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Open => "open",
            ItemState::Closed => "closed",
            ItemState::Merged => "merged",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(ItemState::Open),
            "closed" => Some(ItemState::Closed),
            "merged" => Some(ItemState::Merged),
            _ => None,
        }
    }
}

/// A work item as last seen at its source. Its history lives in [`Event`]s; this row holds what
/// the signals need that no event carries (kind, scope, author, issue type) and what people need
/// to find it (URL, title).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub key: ItemKey,
    /// Name of the configured source that read it (`github-acme`).
    pub source: String,
    pub kind: ItemKind,
    /// Repository or project path (`acme/api`, `PAY`), used by ownership rules.
    pub scope: String,
    pub url: String,
    pub title: String,
    pub author: Option<Identity>,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub state: ItemState,
    /// Tracker issue type (`Decision`, `Bug`…), where the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Approved => "approved",
            ReviewState::ChangesRequested => "changes_requested",
            ReviewState::Commented => "commented",
        }
    }
}

/// Whom a review was requested from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reviewer {
    Person(Identity),
    /// A team handle as the source names it (`acme/payments` on GitHub, a group path on GitLab).
    Team(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRelation {
    /// This item supersedes the target.
    Supersedes,
    /// This item is superseded by the target.
    SupersededBy,
    /// This item duplicates the target.
    Duplicates,
    Blocks,
}

/// Status categories of workflow trackers (Jira's `new` / `indeterminate` / `done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCategory {
    ToDo,
    InProgress,
    Done,
}

/// What happened to a work item (SIGNALS.md §1). Data lives in the variant; who and when live
/// in [`Event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Assigned {
        assignee: Identity,
    },
    Unassigned {
        assignee: Identity,
    },
    Labeled {
        label: String,
    },
    Unlabeled {
        label: String,
    },
    StatusChanged {
        #[serde(default)]
        from: Option<String>,
        to: String,
        #[serde(default)]
        category: Option<StatusCategory>,
    },
    /// One component removed (`from`) and/or added (`to`), as Jira's changelog reports them.
    ComponentChanged {
        #[serde(default)]
        from: Option<String>,
        #[serde(default)]
        to: Option<String>,
    },
    /// A tracker's own team field (Jira custom field) set or cleared.
    TeamFieldChanged {
        #[serde(default)]
        to: Option<String>,
    },
    /// Item transferred to another repository / project.
    Moved {
        from_scope: String,
        to_scope: String,
    },
    ReviewRequested {
        reviewer: Reviewer,
    },
    ReviewRequestRemoved {
        reviewer: Reviewer,
    },
    Reviewed {
        state: ReviewState,
    },
    Commented {
        /// Team handles mentioned in the comment (`acme/payments` for `@acme/payments`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<String>,
    },
    Committed {
        /// `Co-authored-by` identities besides the actor.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        co_authors: Vec<Identity>,
    },
    Closed {
        /// Closed as done (resolution Done, "completed") rather than won't do / duplicate.
        completed: bool,
    },
    Reopened,
    Merged,
    /// This (merged) change was reverted, by the item `by` where known.
    Reverted {
        #[serde(default)]
        by: Option<ItemKey>,
    },
    Linked {
        relation: LinkRelation,
        target: ItemKey,
    },
    ConvertedToDraft,
    ReadyForReview,
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Assigned { .. } => "assigned",
            EventKind::Unassigned { .. } => "unassigned",
            EventKind::Labeled { .. } => "labeled",
            EventKind::Unlabeled { .. } => "unlabeled",
            EventKind::StatusChanged { .. } => "status_changed",
            EventKind::ComponentChanged { .. } => "component_changed",
            EventKind::TeamFieldChanged { .. } => "team_field_changed",
            EventKind::Moved { .. } => "moved",
            EventKind::ReviewRequested { .. } => "review_requested",
            EventKind::ReviewRequestRemoved { .. } => "review_request_removed",
            EventKind::Reviewed { .. } => "reviewed",
            EventKind::Commented { .. } => "commented",
            EventKind::Committed { .. } => "committed",
            EventKind::Closed { .. } => "closed",
            EventKind::Reopened => "reopened",
            EventKind::Merged => "merged",
            EventKind::Reverted { .. } => "reverted",
            EventKind::Linked { .. } => "linked",
            EventKind::ConvertedToDraft => "converted_to_draft",
            EventKind::ReadyForReview => "ready_for_review",
        }
    }
}

/// One timestamped thing that happened to a work item. `id` is stable at the source, so
/// ingesting the same event twice changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub item: ItemKey,
    pub at: Ts,
    /// `None` for deleted users (GitHub's `ghost`) and system actions without an actor.
    pub actor: Option<Identity>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// People, teams and memberships a source knows about (GitHub org teams, GitLab groups, the
/// simulator's organisation). Merged with the config's explicit directory, config first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectorySnapshot {
    pub teams: Vec<SnapshotTeam>,
    pub people: Vec<SnapshotPerson>,
    /// Repository / project → team, as the source's permissions or CODEOWNERS say.
    #[serde(default)]
    pub scope_owners: Vec<(String, String)>,
    /// What the source says about identities it saw (display names, e-mails, usernames), for
    /// `siloscope teams suggest` to match one person's identities across sources. Never used to
    /// resolve teams and never exported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<IdentityProfile>,
}

/// A source's account details of one identity, as its API shows them (Jira's `displayName`,
/// `emailAddress` and Data Center `name`; a code host's profile name and public e-mail).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProfile {
    pub identity: Identity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    /// A login-like username (Jira Data Center's `name`), which often equals the code-host login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotTeam {
    pub name: String,
    /// Handles the source uses for the team (review requests, mentions): `acme/payments`.
    #[serde(default)]
    pub handles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotPerson {
    pub name: String,
    pub identities: Vec<Identity>,
    pub memberships: Vec<SnapshotMembership>,
    #[serde(default)]
    pub bot: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotMembership {
    pub team: String,
    pub from: Option<Ts>,
    pub until: Option<Ts>,
}

/// Where a source's stored history begins: what its first sync read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryStart {
    /// Every item the source holds, however old (an API source without `since`).
    Complete,
    /// Activity is complete only from this time on (an API source's `since`, a simulator's start).
    From(Ts),
}

impl HistoryStart {
    /// The earlier of two starts (`Complete` is the earliest).
    pub fn earliest(self, other: HistoryStart) -> HistoryStart {
        match (self, other) {
            (HistoryStart::From(a), HistoryStart::From(b)) => HistoryStart::From(a.min(b)),
            _ => HistoryStart::Complete,
        }
    }
}

/// One item whose whole history, as the source tells it now, a batch holds: every event the
/// source's read of that item produced is in `batch.events[events]`. The store then replaces what
/// it holds of that read (events the read no longer reports go, changed ones are updated). Only a
/// read that reached the end of every list of the item (timeline, changelog, comments, notes) is
/// one; an incremental source (the simulator) marks nothing complete.
#[derive(Debug, Clone, PartialEq)]
pub struct CompleteHistory {
    pub item: ItemKey,
    /// The events of this read, contiguous in `batch.events`. Most are the item's own; a read may
    /// also report events of another item (a revert pull request marks the item it reverts).
    pub events: std::ops::Range<usize>,
}

/// What one sync of one source produced: items and events changed since `cursor_before`, and the
/// cursor to resume from. The store commits a batch and its cursor in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub source: String,
    pub items: Vec<Item>,
    pub events: Vec<Event>,
    pub directory: Option<DirectorySnapshot>,
    pub cursor: Option<String>,
    /// Where the source's history begins, on the first batch of a sync from no cursor (the daemon
    /// sets it); the store keeps the earliest it was given.
    pub history_start: Option<HistoryStart>,
    /// Items whose whole history this batch holds (see [`CompleteHistory`]); events outside these
    /// ranges are incremental: stored once, never replaced.
    pub complete: Vec<CompleteHistory>,
    /// Profiles of identities this step's answers showed (names, e-mails), new since the source's
    /// last batch. The daemon folds them into the source's stored directory snapshot
    /// (`sources::profiles::fold_into_directory`); they never resolve teams.
    pub profiles: Vec<IdentityProfile>,
}

impl Batch {
    /// Adds `events`, the whole history of `item` as one read of the source tells it now.
    pub fn push_complete(&mut self, item: &str, events: Vec<Event>) {
        let start = self.events.len();
        self.events.extend(events);
        self.complete.push(CompleteHistory { item: item.to_string(), events: start..self.events.len() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_round_trips_through_json_with_flat_kind() {
        let ev = Event {
            id: "github:acme/api#1/evt/9".into(),
            item: "github:acme/api#1".into(),
            at: 1_700_000_000,
            actor: Some("github:alice".into()),
            kind: EventKind::ReviewRequested { reviewer: Reviewer::Team("acme/payments".into()) },
        };
        let json = serde_json::to_string(&ev).unwrap();
        assert!(json.contains(r#""type":"review_requested""#), "{json}");
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ev);
    }

    #[test]
    fn identities_fold_case_except_jira_account_ids() {
        assert_eq!(identity("github", "Alice"), "github:alice");
        assert_eq!(identity("jira", "5b10aC"), "jira:5b10aC");
        assert!(looks_like_bot("github:dependabot[bot]"));
        assert!(!looks_like_bot("github:bob"));
    }
}
