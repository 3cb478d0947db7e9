//! The state of each handoff (waiting, stalled, acknowledged, bounced, ended) and each decision
//! (made, rehashed) at a given `now`: the one definition the exported values count (`aggregate`)
//! and the drill-down pages list, so a page's count equals the metric by construction. Pure: `now` is a parameter, no I/O; the teams
//! listed are the exported labels (the privacy floor folded them as in the metrics).

use crate::model::Ts;
use crate::signals::SignalsConfig;
use crate::signals::aggregate::{TeamLabels, is_stalled, stall_threshold, waited};
use crate::signals::records::{Analysis, DecisionRec, HandoffRec, RehashReason};
use crate::teams::Directory;

/// Where a handoff stands at `now`. `Waiting` and `Stalled` are what `siloscope_handoffs_waiting`
/// counts; `Stalled` alone is `siloscope_handoffs_stalled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HandoffState {
    /// Not acknowledged, still with the receiving team, within its stall threshold.
    Waiting,
    /// Waiting past the receiving team's (or the kind's) stall threshold.
    Stalled,
    /// A member of the receiving team acted on it (or the team pulled the work).
    Acknowledged,
    /// Custody came back to the handing team within the bounce window (A → B → A).
    Bounced,
    /// Stopped waiting without an acknowledgement: custody moved on, the review request was
    /// withdrawn, or the item was closed.
    Ended,
}

impl HandoffState {
    pub const ALL: [HandoffState; 5] = [
        HandoffState::Waiting,
        HandoffState::Stalled,
        HandoffState::Acknowledged,
        HandoffState::Bounced,
        HandoffState::Ended,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffState::Waiting => "waiting",
            HandoffState::Stalled => "stalled",
            HandoffState::Acknowledged => "acknowledged",
            HandoffState::Bounced => "bounced",
            HandoffState::Ended => "ended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Counted by `siloscope_handoffs_waiting` (stalled handoffs wait too).
    pub fn is_waiting(self) -> bool {
        matches!(self, HandoffState::Waiting | HandoffState::Stalled)
    }
}

/// The state of `h` at `now`, or None when it was handed over after `now`.
pub fn handoff_state(cfg: &SignalsConfig, dir: &Directory, h: &HandoffRec, now: Ts) -> Option<HandoffState> {
    if h.at > now {
        return None;
    }
    Some(if h.waiting_at(now) {
        if is_stalled(cfg, dir, h.to, h.kind, h.at, now) { HandoffState::Stalled } else { HandoffState::Waiting }
    } else if h.bounced_at.is_some_and(|b| b <= now) {
        HandoffState::Bounced
    } else if h.acked_at.is_some_and(|a| a <= now) {
        HandoffState::Acknowledged
    } else {
        HandoffState::Ended
    })
}

/// One handoff as the pages list it at `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffAt<'a> {
    pub fact: &'a HandoffRec,
    /// The handing and receiving teams' exported labels (`other` under the privacy floor).
    pub from: &'a str,
    pub to: &'a str,
    pub state: HandoffState,
    /// Waiting or stalled: how long it has waited so far (in the receiving team's working hours
    /// when `stall_in_working_hours` applies to it). Acknowledged: the latency to the
    /// acknowledgement. Bounced or ended: how long it waited before it stopped (wall time).
    pub seconds: Ts,
    /// Whether `seconds` counts working hours only (waiting, with the receiving team's calendar).
    pub working_hours: bool,
    /// The stall threshold that applies to it (by receiving team, else by kind, else the default).
    pub stall_after: Ts,
}

/// Every handoff handed over by `now`, with its state at `now`, teams as exported labels.
pub fn handoffs_at<'a>(
    analysis: &'a Analysis,
    dir: &'a Directory,
    cfg: &'a SignalsConfig,
    labels: &'a TeamLabels,
    now: Ts,
) -> impl Iterator<Item = HandoffAt<'a>> + 'a {
    analysis.handoffs.iter().filter_map(move |h| handoff_at(h, dir, cfg, labels, now))
}

/// One handoff with its state at `now`, or None when it was handed over after `now` (what
/// `handoffs_at` yields for it, for a caller that has narrowed the facts first).
pub fn handoff_at<'a>(
    h: &'a HandoffRec,
    dir: &Directory,
    cfg: &SignalsConfig,
    labels: &'a TeamLabels,
    now: Ts,
) -> Option<HandoffAt<'a>> {
    let state = handoff_state(cfg, dir, h, now)?;
    let working_hours = state.is_waiting() && cfg.stall_in_working_hours && dir.team(h.to).calendar.is_some();
    let seconds = match state {
        HandoffState::Waiting | HandoffState::Stalled => waited(cfg, dir, h.to, h.at, now),
        HandoffState::Acknowledged => h.acked_at.unwrap_or(now) - h.at,
        HandoffState::Bounced | HandoffState::Ended => {
            [h.acked_at, h.ended_at, h.bounced_at].into_iter().flatten().min().unwrap_or(now) - h.at
        }
    };
    Some(HandoffAt {
        fact: h,
        from: labels.get(h.from),
        to: labels.get(h.to),
        state,
        seconds,
        working_hours,
        stall_after: stall_threshold(cfg, dir, h.to, h.kind),
    })
}

/// Where a decision stands at `now`: made (counted by `siloscope_decisions_total`), and rehashed
/// for a reason by then (also counted by `siloscope_decisions_rehashed_total`), or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionState {
    pub rehashed: Option<(RehashReason, Ts)>,
}

/// The state of `d` at `now`, or None when it was made after `now`.
pub fn decision_state(d: &DecisionRec, now: Ts) -> Option<DecisionState> {
    (d.made_at <= now).then(|| DecisionState { rehashed: d.rehashed.filter(|(_, at)| *at <= now) })
}
