//! Custody and handoffs (SIGNALS.md §2–§3): which team holds an item after each event, handoffs
//! when custody moves or a cross-team review is requested, their acknowledgement, bounces and
//! tossing length. Membership changes alone never make a handoff: only events move custody.

use crate::model::Ts;
use crate::signals::frame::{Ev, ItemInfo, NO_SYM, Sym};
use crate::signals::records::{Analysis, BounceRec, HandoffRec, TossingRec};
use crate::signals::reviews::reviewer_team;
use crate::signals::walk::{Held, Resolver, Step};
use crate::signals::{HandoffKind, SignalsConfig};
use crate::teams::{OwnershipRule, TeamId};

pub struct CustodyWalk {
    change_request: bool,
    bounce_window: Ts,
    labels: Vec<Sym>,
    status: Sym,
    components: Vec<Sym>,
    team_field: Sym,
    assignees: Vec<Sym>,
    scope: Sym,
    held: Option<TeamId>,
    /// The custody handoff still waiting for its receiving team.
    pending: Option<usize>,
    /// Review handoffs still waiting, by reviewer (identity or handle sym, team flag).
    pending_reviews: Vec<((Sym, u32), usize)>,
    /// This item's custody handoffs (indices into `Analysis::handoffs`) and whether each bounced.
    custody_handoffs: Vec<(usize, bool)>,
    changes_before_close: u32,
    closed_at: Option<Ts>,
}

impl CustodyWalk {
    pub fn new(info: &ItemInfo, cfg: &SignalsConfig) -> Self {
        CustodyWalk {
            change_request: info.kind.is_change_request(),
            bounce_window: cfg.bounce_window,
            labels: Vec::new(),
            status: NO_SYM,
            components: Vec::new(),
            team_field: NO_SYM,
            assignees: Vec::new(),
            scope: info.scope,
            held: None,
            pending: None,
            pending_reviews: Vec::new(),
            custody_handoffs: Vec::new(),
            changes_before_close: 0,
            closed_at: None,
        }
    }

    /// The owner by the configured rules, with memberships at `at`.
    fn resolve(&self, res: &mut Resolver, at: Ts) -> Option<TeamId> {
        for rule in &res.dir.ownership.order {
            let team = match rule {
                OwnershipRule::Label => self.labels.iter().rev().find_map(|l| res.label_team(*l)),
                OwnershipRule::Status => {
                    (self.status != NO_SYM).then(|| res.dir.status_team(res.frame.syms.resolve(self.status))).flatten()
                }
                OwnershipRule::Component => {
                    self.components.iter().find_map(|c| res.dir.component_team(res.frame.syms.resolve(*c)))
                }
                OwnershipRule::TeamField => res.handle_team(self.team_field),
                OwnershipRule::Assignee => self.assignees.iter().find_map(|a| res.team(*a, at)),
                OwnershipRule::Scope => res.scope_team(self.scope),
            };
            if team.is_some() {
                return team;
            }
        }
        None
    }

    fn apply(&mut self, kind: Ev, a: u32, b: u32) -> bool {
        match kind {
            Ev::Labeled if !self.labels.contains(&a) => self.labels.push(a),
            Ev::Unlabeled => self.labels.retain(|l| *l != a),
            Ev::Assigned if !self.assignees.contains(&a) => self.assignees.push(a),
            Ev::Unassigned => self.assignees.retain(|x| *x != a),
            Ev::StatusChanged => self.status = a,
            Ev::ComponentChanged => {
                if a != NO_SYM {
                    self.components.retain(|c| *c != a);
                }
                if b != NO_SYM && !self.components.contains(&b) {
                    self.components.push(b);
                }
            }
            Ev::TeamFieldChanged => self.team_field = a,
            Ev::Moved => self.scope = b,
            Ev::Labeled | Ev::Assigned => {}
            _ => return false,
        }
        true
    }

    /// Whether this event acknowledges a handoff to `to`: any event by a (non-bot) member of
    /// `to`, or the assignment of a member of `to`.
    fn acknowledges(step: &Step, res: &mut Resolver, to: TeamId) -> bool {
        !step.actor.bot
            && (step.actor.team == Some(to)
                || (step.ev.kind == Ev::Assigned && res.team(step.ev.a, step.ev.at) == Some(to)))
    }

    /// Records the event's acknowledgements, custody moves and review handoffs, and returns who
    /// held the item just before and just after it (what the later families of the walk read).
    pub fn on_event(&mut self, step: &Step, res: &mut Resolver, out: &mut Analysis) -> Held {
        let (ev, at) = (step.ev, step.ev.at);
        let mut held = Held::default();
        // 1. Acknowledgements, before the event's own effects.
        if let Some(i) = self.pending
            && Self::acknowledges(step, res, out.handoffs[i].to)
        {
            out.handoffs[i].acked_at = Some(at);
            self.pending = None;
        }
        self.pending_reviews.retain(|(_, i)| {
            let acked = Self::acknowledges(step, res, out.handoffs[*i].to);
            if acked {
                out.handoffs[*i].acked_at = Some(at);
            }
            !acked
        });

        // 2. Custody.
        if self.change_request {
            self.apply(ev.kind, ev.a, ev.b);
            held.before = self.held.or(step.author_team);
            if step.author_team.is_some() {
                self.held = step.author_team;
            }
            held.after = self.held;
        } else if matches!(
            ev.kind,
            Ev::Labeled
                | Ev::Unlabeled
                | Ev::Assigned
                | Ev::Unassigned
                | Ev::StatusChanged
                | Ev::ComponentChanged
                | Ev::TeamFieldChanged
                | Ev::Moved
        ) {
            if let Some(before) = self.resolve(res, at) {
                self.held = Some(before); // a membership change moved it silently: not a handoff
            }
            held.before = self.held;
            self.apply(ev.kind, ev.a, ev.b);
            if let Some(to) = self.resolve(res, at)
                && Some(to) != self.held
            {
                if let Some(from) = self.held
                    && !step.settling
                {
                    let kind = if ev.kind == Ev::Moved { HandoffKind::Transfer } else { HandoffKind::Reassign };
                    self.custody_handoff(step, out, from, to, kind);
                }
                self.held = Some(to);
            }
            held.after = self.held;
        } else {
            if self.held.is_none() {
                self.held = self.resolve(res, at);
            }
            held.before = self.held;
            held.after = self.held;
        }

        // 3. Review requests to another team are handoffs too.
        match ev.kind {
            Ev::ReviewRequested => {
                let key = (ev.a, ev.b);
                if let (Some(from), Some(to)) = (step.author_team, reviewer_team(ev, res))
                    && from != to
                    && !self.pending_reviews.iter().any(|(k, _)| *k == key)
                {
                    let i = self.push_handoff(step, out, from, to, HandoffKind::Review);
                    if out.handoffs[i].acked_at.is_none() {
                        self.pending_reviews.push((key, i));
                    }
                }
            }
            Ev::ReviewRequestRemoved => {
                let key = (ev.a, ev.b);
                self.pending_reviews.retain(|(k, i)| {
                    if *k == key {
                        out.handoffs[*i].ended_at = Some(at);
                    }
                    *k != key
                });
            }
            Ev::Closed | Ev::Merged => {
                if let Some(i) = self.pending.take() {
                    out.handoffs[i].ended_at = Some(at);
                }
                for (_, i) in self.pending_reviews.drain(..) {
                    out.handoffs[i].ended_at = Some(at);
                }
                self.closed_at.get_or_insert(at);
            }
            _ => {}
        }
        held
    }

    /// Records a handoff; acknowledged at once when the receiving team made it (pulled the work).
    fn push_handoff(&mut self, step: &Step, out: &mut Analysis, from: TeamId, to: TeamId, kind: HandoffKind) -> usize {
        let pulled = !step.actor.bot && step.actor.team == Some(to);
        out.handoffs.push(HandoffRec {
            item: step.item,
            kind,
            from,
            to,
            at: step.ev.at,
            acked_at: pulled.then_some(step.ev.at),
            ended_at: None,
            bounced_at: None,
        });
        out.handoffs.len() - 1
    }

    fn custody_handoff(&mut self, step: &Step, out: &mut Analysis, from: TeamId, to: TeamId, kind: HandoffKind) {
        let at = step.ev.at;
        if let Some(prev) = self.pending.take() {
            out.handoffs[prev].ended_at = Some(at);
        }
        // A → B, then B → A within the window: a bounce of the earlier handoff (each bounces once).
        if let Some((prev, bounced)) = self.custody_handoffs.iter_mut().rev().find(|(i, _)| {
            let h = &out.handoffs[*i];
            h.from == to && h.to == from
        }) && !*bounced
            && at - out.handoffs[*prev].at <= self.bounce_window
        {
            *bounced = true;
            out.handoffs[*prev].bounced_at = Some(at);
            out.bounces.push(BounceRec { item: step.item, from: to, to: from, at });
        }
        let i = self.push_handoff(step, out, from, to, kind);
        if out.handoffs[i].acked_at.is_none() {
            self.pending = Some(i);
        }
        self.custody_handoffs.push((i, false));
        if self.closed_at.is_none() {
            self.changes_before_close += 1;
        }
    }

    pub fn finish(self, item: u32, out: &mut Analysis) {
        if !self.change_request {
            out.tossing.push(TossingRec { item, changes: self.changes_before_close, closed_at: self.closed_at });
        }
    }
}
