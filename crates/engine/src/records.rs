//! Facts the engine derives from history, each with its own timestamps: handoffs, bounces,
//! decisions, reviews, engagements… They do not depend on `now`, so one analysis serves the live
//! export, the report's periods and the backfill's steps (values at any t come from the same facts).

use std::collections::HashMap;

use crate::model::{ReviewState, Ts};
use crate::signals::HandoffKind;
use crate::teams::{PersonId, TeamId};

#[derive(Debug, Clone, PartialEq)]
pub struct HandoffRec {
    pub item: u32,
    pub kind: HandoffKind,
    pub from: TeamId,
    pub to: TeamId,
    pub at: Ts,
    /// First later event by a member of `to` (or the handoff itself when `to` pulled the item).
    pub acked_at: Option<Ts>,
    /// When the handoff stopped waiting without an acknowledgement: custody moved on, the
    /// review request was withdrawn, or the item was closed.
    pub ended_at: Option<Ts>,
    /// When custody came back to `from` within the bounce window (the `BounceRec` of this handoff).
    pub bounced_at: Option<Ts>,
}

impl HandoffRec {
    /// Waiting at `t`: handed off, not acknowledged, still with the receiving team.
    pub fn waiting_at(&self, t: Ts) -> bool {
        self.at <= t && self.acked_at.is_none_or(|a| a > t) && self.ended_at.is_none_or(|e| e > t)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BounceRec {
    pub item: u32,
    /// The team that handed the item off first (A of A → B → A).
    pub from: TeamId,
    /// The team that sent it back (B).
    pub to: TeamId,
    pub at: Ts,
}

/// Custody changes of an item before it was first closed (for the report's tossing figures).
#[derive(Debug, Clone, PartialEq)]
pub struct TossingRec {
    pub item: u32,
    pub changes: u32,
    pub closed_at: Option<Ts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RehashReason {
    Reopened,
    Superseded,
    Status,
    Discussion,
}

impl RehashReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RehashReason::Reopened => "reopened",
            RehashReason::Superseded => "superseded",
            RehashReason::Status => "status",
            RehashReason::Discussion => "discussion",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRec {
    pub item: u32,
    pub team: TeamId,
    pub made_at: Ts,
    /// The first rehash within the rehash window, if any.
    pub rehashed: Option<(RehashReason, Ts)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReworkKind {
    Reopened,
    Reverted,
}

impl ReworkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReworkKind::Reopened => "reopened",
            ReworkKind::Reverted => "reverted",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReworkRec {
    pub item: u32,
    pub team: TeamId,
    pub kind: ReworkKind,
    pub at: Ts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRec {
    pub item: u32,
    pub author_team: TeamId,
    pub reviewer_team: TeamId,
    pub state: ReviewState,
    pub at: Ts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PickupRec {
    pub item: u32,
    pub author_team: TeamId,
    pub reviewer_team: TeamId,
    pub requested_at: Ts,
    pub picked_at: Ts,
    /// Time to the first review, less the time the pull request spent as a draft.
    pub seconds: Ts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngagementKind {
    Comment,
    Review,
    Mention,
}

impl EngagementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngagementKind::Comment => "comment",
            EngagementKind::Review => "review",
            EngagementKind::Mention => "mention",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngagementRec {
    pub actor_team: TeamId,
    pub owner_team: TeamId,
    pub kind: EngagementKind,
    pub at: Ts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FirstResponseRec {
    pub item: u32,
    pub requester: TeamId,
    pub owner: TeamId,
    pub opened_at: Ts,
    pub responded_at: Ts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JointWinRec {
    pub item: u32,
    pub teams: Vec<TeamId>,
    pub at: Ts,
}

/// A person acting on an item (review, comment, commit on someone else's item, co-authorship):
/// the raw material of bridge people and the silo index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InteractionRec {
    pub person: PersonId,
    pub team: TeamId,
    pub owner: TeamId,
    pub at: Ts,
}

/// Everything derived from history up to `upto`.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub upto: Ts,
    pub handoffs: Vec<HandoffRec>,
    pub bounces: Vec<BounceRec>,
    pub tossing: Vec<TossingRec>,
    pub decisions: Vec<DecisionRec>,
    pub rework: Vec<ReworkRec>,
    pub reviews: Vec<ReviewRec>,
    pub pickups: Vec<PickupRec>,
    pub engagements: Vec<EngagementRec>,
    pub first_responses: Vec<FirstResponseRec>,
    pub joint_wins: Vec<JointWinRec>,
    pub interactions: Vec<InteractionRec>,
    /// When a person acted for a team: the first and last event time of each day they acted
    /// (sorted). Enough to count "active people" exactly for any window of a day or more.
    pub activity: HashMap<(PersonId, TeamId), Vec<(Ts, Ts)>>,
    /// Non-bot identities seen in the data that the directory does not know, with event counts.
    pub unknown_identities: HashMap<u32, u64>,
}

impl Analysis {
    /// People active for each team in `(from, to]` (exact for windows of at least a day).
    pub fn active_people(&self, from: Ts, to: Ts) -> HashMap<TeamId, u32> {
        let mut out: HashMap<TeamId, u32> = HashMap::new();
        for ((_, team), days) in &self.activity {
            // Days whose last activity is after `from`; the first of them must start by `to`.
            let i = days.partition_point(|(_, last)| *last <= from);
            let active = days[i..]
                .iter()
                .take(2)
                .any(|(first, last)| (*first > from && *first <= to) || (*last > from && *last <= to));
            if active {
                *out.entry(*team).or_default() += 1;
            }
        }
        out
    }
}

/// Records that `person` acted for `team` at `at` in a per-day (first, last) list.
pub fn note_activity(days: &mut Vec<(Ts, Ts)>, at: Ts) {
    let day = at.div_euclid(crate::model::DAY);
    match days.last_mut() {
        Some((first, last)) if first.div_euclid(crate::model::DAY) == day => {
            *first = (*first).min(at);
            *last = (*last).max(at);
        }
        _ => days.push((at, at)),
    }
}

/// Sorts a per-day list and merges entries of the same day (items are walked one by one).
pub fn normalize_activity(days: &mut Vec<(Ts, Ts)>) {
    days.sort_unstable();
    let mut merged: Vec<(Ts, Ts)> = Vec::with_capacity(days.len());
    for &(f, l) in days.iter() {
        match merged.last_mut() {
            Some((mf, ml)) if mf.div_euclid(crate::model::DAY) == f.div_euclid(crate::model::DAY) => {
                *ml = (*ml).max(l);
            }
            _ => merged.push((f, l)),
        }
    }
    merged.shrink_to_fit();
    *days = merged;
}
