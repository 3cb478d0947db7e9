//! Reviews across teams (SIGNALS.md §5): every submitted review by team pair and state, and review
//! pickup from the timeline's requests (never from current state), less time spent as a draft.
//! Reciprocity is a windowed ratio and lives in the aggregation, which has `now`.

use crate::model::{ReviewState, Ts};
use crate::signals::frame::{Ev, EventRow, STATE_APPROVED, STATE_CHANGES_REQUESTED, Sym};
use crate::signals::records::{Analysis, PickupRec, ReviewRec};
use crate::signals::walk::{Resolver, Step};
use crate::teams::TeamId;

/// The team a review request addresses: the requested team, or the requested person's team then.
pub fn reviewer_team(ev: &EventRow, res: &mut Resolver) -> Option<TeamId> {
    if ev.b == 1 { res.handle_team(ev.a) } else { res.team(ev.a, ev.at) }
}

pub fn review_state(code: u32) -> ReviewState {
    match code {
        STATE_APPROVED => ReviewState::Approved,
        STATE_CHANGES_REQUESTED => ReviewState::ChangesRequested,
        _ => ReviewState::Commented,
    }
}

struct PendingPickup {
    /// Requested identity or handle, and whether it is a team.
    reviewer: Sym,
    team_request: bool,
    reviewer_team: Option<TeamId>,
    requested_at: Ts,
    draft_at_request: Ts,
}

#[derive(Default)]
pub struct ReviewWalk {
    pending: Vec<PendingPickup>,
    draft_since: Option<Ts>,
    draft_total: Ts,
}

impl ReviewWalk {
    /// Seconds spent as a draft from the item's start up to `t`.
    fn draft_time(&self, t: Ts) -> Ts {
        self.draft_total + self.draft_since.map_or(0, |s| (t - s).max(0))
    }

    pub fn on_event(&mut self, step: &Step, res: &mut Resolver, out: &mut Analysis) {
        let ev = step.ev;
        match ev.kind {
            Ev::ConvertedToDraft => {
                self.draft_since.get_or_insert(ev.at);
            }
            Ev::ReadyForReview => {
                if let Some(s) = self.draft_since.take() {
                    self.draft_total += ev.at - s;
                }
            }
            Ev::ReviewRequested => {
                let team_request = ev.b == 1;
                if !self.pending.iter().any(|p| p.reviewer == ev.a && p.team_request == team_request) {
                    self.pending.push(PendingPickup {
                        reviewer: ev.a,
                        team_request,
                        reviewer_team: reviewer_team(ev, res),
                        requested_at: ev.at,
                        draft_at_request: self.draft_time(ev.at),
                    });
                }
            }
            Ev::ReviewRequestRemoved => {
                self.pending.retain(|p| !(p.reviewer == ev.a && p.team_request == (ev.b == 1)));
            }
            Ev::Reviewed if !step.actor.bot && ev.actor != step.info.author => {
                if let (Some(author_team), Some(reviewer)) = (step.author_team, step.actor.team) {
                    out.reviews.push(ReviewRec {
                        item: step.item,
                        author_team,
                        reviewer_team: reviewer,
                        state: review_state(ev.a),
                        at: ev.at,
                    });
                }
                let person = step.actor.person;
                let draft_now = self.draft_time(ev.at);
                let mut i = 0;
                while i < self.pending.len() {
                    let p = &self.pending[i];
                    let answered = if p.team_request {
                        step.actor.team.is_some() && p.reviewer_team == step.actor.team
                    } else {
                        p.reviewer == ev.actor || (person.is_some() && res.person(p.reviewer).person() == person)
                    };
                    if !answered {
                        i += 1;
                        continue;
                    }
                    let p = self.pending.swap_remove(i);
                    if let (Some(author_team), Some(reviewer_team)) = (step.author_team, p.reviewer_team) {
                        let waited = ev.at - p.requested_at - (draft_now - p.draft_at_request);
                        out.pickups.push(PickupRec {
                            item: step.item,
                            author_team,
                            reviewer_team,
                            requested_at: p.requested_at,
                            picked_at: ev.at,
                            seconds: waited.max(0),
                        });
                    }
                }
            }
            Ev::Closed | Ev::Merged => self.pending.clear(),
            _ => {}
        }
    }
}
