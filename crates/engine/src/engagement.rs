//! Engagement across boundaries (SIGNALS.md §6): comments, reviews and team mentions on other
//! teams' items, first response to another team's request, joint wins, and the interactions that
//! bridge people and the silo index are computed from (windowed, in the aggregation).

use crate::model::Ts;
use crate::signals::frame::{Ev, STATE_APPROVED};
use crate::signals::records::{Analysis, EngagementKind, EngagementRec, FirstResponseRec, InteractionRec, JointWinRec};
use crate::signals::walk::{Held, Resolver, Step, Who};
use crate::teams::TeamId;

#[derive(Default)]
pub struct EngagementWalk {
    requester: Option<TeamId>,
    opened_at: Ts,
    /// (requester, owner) once the item is set up and they differ; None when answered.
    awaiting_response: Option<(TeamId, TeamId)>,
    settled: bool,
    /// The team holding the item as its setting up leaves it.
    initial_owner: Option<TeamId>,
    contributors: Vec<TeamId>,
    won: bool,
}

impl EngagementWalk {
    fn contributor(&mut self, team: Option<TeamId>) {
        if let Some(t) = team
            && !self.contributors.contains(&t)
        {
            self.contributors.push(t);
        }
    }

    pub fn on_event(&mut self, step: &Step, held: Held, res: &mut Resolver, out: &mut Analysis) {
        let (ev, at) = (step.ev, step.ev.at);
        let actor = step.actor;

        // First response: the opener's team asks, the team holding the item once it is set up
        // (templates and automations done) answers.
        if step.settling {
            if ev.kind == Ev::Opened {
                self.requester = step.author_team.or(actor.team);
                self.opened_at = at;
            }
            self.initial_owner = held.after;
        } else if !self.settled {
            self.settled = true;
            if let (Some(r), Some(o)) = (self.requester, self.initial_owner)
                && r != o
            {
                self.awaiting_response = Some((r, o));
            }
        }
        if let Some((requester, owner)) = self.awaiting_response
            && !actor.bot
            && actor.team == Some(owner)
        {
            out.first_responses.push(FirstResponseRec {
                item: step.item,
                requester,
                owner,
                opened_at: self.opened_at,
                responded_at: at,
            });
            self.awaiting_response = None;
        }

        // Contributors for joint wins.
        match ev.kind {
            Ev::Opened => self.contributor(step.author_team.or(actor.team)),
            Ev::Assigned => {
                let t = res.team(ev.a, at);
                self.contributor(t);
            }
            Ev::Reviewed if ev.a == STATE_APPROVED && !actor.bot => self.contributor(actor.team),
            Ev::Committed if !actor.bot => {
                self.contributor(actor.team);
                for &co in res.frame.extras(ev.a, ev.b) {
                    let t = res.team(co, at);
                    self.contributor(t);
                }
            }
            _ => {}
        }
        let completes = ev.kind == Ev::Merged || (ev.kind == Ev::Closed && ev.a == 1);
        if completes && !self.won {
            self.won = true;
            if self.contributors.len() >= 2 {
                let mut teams = self.contributors.clone();
                teams.sort_unstable();
                out.joint_wins.push(JointWinRec { item: step.item, teams, at });
            }
        }

        // Engagement and interactions.
        if actor.bot {
            return;
        }
        let owner = held.after;
        let interaction = |out: &mut Analysis, person, team| {
            if let (Some(person), Some(team), Some(owner)) = (person, team, owner) {
                out.interactions.push(InteractionRec { person, team, owner, at });
            }
        };
        match ev.kind {
            Ev::Commented => {
                if let (Some(x), Some(y)) = (actor.team, owner)
                    && x != y
                {
                    out.engagements.push(EngagementRec {
                        actor_team: x,
                        owner_team: y,
                        kind: EngagementKind::Comment,
                        at,
                    });
                }
                if let Some(x) = actor.team {
                    for &h in res.frame.extras(ev.a, ev.b) {
                        if let Some(t) = res.handle_team(h)
                            && t != x
                        {
                            out.engagements.push(EngagementRec {
                                actor_team: x,
                                owner_team: t,
                                kind: EngagementKind::Mention,
                                at,
                            });
                        }
                    }
                }
                interaction(out, actor.person, actor.team);
            }
            Ev::Reviewed if ev.actor != step.info.author => {
                if let (Some(x), Some(y)) = (actor.team, owner)
                    && x != y
                {
                    out.engagements.push(EngagementRec {
                        actor_team: x,
                        owner_team: y,
                        kind: EngagementKind::Review,
                        at,
                    });
                }
                interaction(out, actor.person, actor.team);
            }
            Ev::Committed => {
                if ev.actor != step.info.author {
                    interaction(out, actor.person, actor.team);
                }
                for &co in res.frame.extras(ev.a, ev.b) {
                    if let Who::Person(p) = res.person(co) {
                        let t = res.dir.team_of_person(p, at);
                        interaction(out, Some(p), t);
                    }
                }
            }
            _ => {}
        }
    }
}
