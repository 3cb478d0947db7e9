//! Decisions and rework (SIGNALS.md §4): which items are decisions, when they were made, whether
//! and why they were rehashed within the rehash window, and rework (reopens, reverts) for all
//! items. Supersede links point across items, so they are resolved after the walk.

use std::collections::HashMap;

use crate::model::{ItemKind, Ts};
use crate::signals::SignalsConfig;
use crate::signals::frame::{Ev, Frame, NO_SYM, REL_SUPERSEDED_BY, REL_SUPERSEDES, Sym};
use crate::signals::records::{Analysis, DecisionRec, RehashReason, ReworkKind, ReworkRec};
use crate::signals::walk::{Held, Resolver, Step};
use crate::teams::TeamId;

pub struct DecisionWalk<'c> {
    cfg: &'c SignalsConfig,
    /// Per sym: 0 unknown, 1 a decision label, 2 not one.
    label_kind: Vec<u8>,
    /// Supersede links seen on any item: (superseded item key, when).
    links: Vec<(Sym, Ts)>,
    rec_by_item: HashMap<u32, usize>,
    // Per item:
    decision_labels: Vec<Sym>,
    made: Option<usize>,
    merged: bool,
    comments: u32,
    comment_teams: Vec<TeamId>,
}

impl<'c> DecisionWalk<'c> {
    pub fn new(cfg: &'c SignalsConfig, frame: &Frame) -> Self {
        DecisionWalk {
            cfg,
            label_kind: vec![0; frame.syms.len()],
            links: Vec::new(),
            rec_by_item: HashMap::new(),
            decision_labels: Vec::new(),
            made: None,
            merged: false,
            comments: 0,
            comment_teams: Vec::new(),
        }
    }

    pub fn start_item(&mut self) {
        self.decision_labels.clear();
        self.made = None;
        self.merged = false;
        self.comments = 0;
        self.comment_teams.clear();
    }

    fn is_decision_label(&mut self, label: Sym, res: &Resolver) -> bool {
        let slot = &mut self.label_kind[label as usize];
        if *slot == 0 {
            let name = res.frame.syms.resolve(label).to_ascii_lowercase();
            *slot = if self.cfg.decisions.labels.contains(&name) { 1 } else { 2 };
        }
        *slot == 1
    }

    fn status_in(res: &Resolver, status: Sym, list: &[String]) -> bool {
        let s = res.frame.syms.resolve(status);
        list.iter().any(|x| x == s)
    }

    pub fn on_event(&mut self, step: &Step, held: Held, res: &mut Resolver, out: &mut Analysis) {
        let (ev, at) = (step.ev, step.ev.at);
        let team_now = held.after.or(step.author_team);
        match ev.kind {
            Ev::Labeled if self.is_decision_label(ev.a, res) && !self.decision_labels.contains(&ev.a) => {
                self.decision_labels.push(ev.a)
            }
            Ev::Unlabeled => self.decision_labels.retain(|l| *l != ev.a),
            Ev::Linked if ev.a == REL_SUPERSEDES => self.links.push((ev.b, at)),
            // Rework, for every item.
            Ev::Reopened if !step.was_open => {
                if let Some(team) = team_now {
                    out.rework.push(ReworkRec { item: step.item, team, kind: ReworkKind::Reopened, at });
                }
            }
            Ev::Reverted if self.merged || !step.info.kind.is_change_request() => {
                if let Some(team) = step.author_team.or(held.after) {
                    out.rework.push(ReworkRec { item: step.item, team, kind: ReworkKind::Reverted, at });
                }
            }
            _ => {}
        }
        if ev.kind == Ev::Merged {
            self.merged = true;
        }

        match self.made {
            None => {
                let is_decision = step.info.kind == ItemKind::DecisionRecord
                    || (step.info.issue_type != NO_SYM
                        && self
                            .cfg
                            .decisions
                            .issue_types
                            .iter()
                            .any(|t| t == res.frame.syms.resolve(step.info.issue_type)))
                    || !self.decision_labels.is_empty();
                let makes = match ev.kind {
                    Ev::Closed => ev.a == 1,
                    Ev::Merged => true,
                    Ev::StatusChanged => Self::status_in(res, ev.a, &self.cfg.decisions.accepted_statuses),
                    _ => false,
                };
                if is_decision
                    && makes
                    && let Some(team) = team_now
                {
                    out.decisions.push(DecisionRec { item: step.item, team, made_at: at, rehashed: None });
                    self.made = Some(out.decisions.len() - 1);
                    self.rec_by_item.insert(step.item, out.decisions.len() - 1);
                }
            }
            Some(d) => {
                if out.decisions[d].rehashed.is_some() || at - out.decisions[d].made_at > self.cfg.rehash_window {
                    return;
                }
                let reason = match ev.kind {
                    Ev::Reopened => Some(RehashReason::Reopened),
                    Ev::StatusChanged if Self::status_in(res, ev.a, &self.cfg.decisions.superseded_statuses) => {
                        Some(RehashReason::Status)
                    }
                    Ev::Linked if ev.a == REL_SUPERSEDED_BY => Some(RehashReason::Superseded),
                    Ev::Commented if !step.actor.bot => {
                        self.comments += 1;
                        if let Some(t) = step.actor.team
                            && !self.comment_teams.contains(&t)
                        {
                            self.comment_teams.push(t);
                        }
                        (self.comments >= self.cfg.rehash_comments
                            && self.comment_teams.len() as u32 >= self.cfg.rehash_comment_teams)
                            .then_some(RehashReason::Discussion)
                    }
                    _ => None,
                };
                if let Some(r) = reason {
                    out.decisions[d].rehashed = Some((r, at));
                }
            }
        }
    }

    /// Applies supersede links made on other items to the decisions they point at.
    pub fn finish(&mut self, res: &mut Resolver, out: &mut Analysis) {
        for &(target, at) in &self.links {
            let Some(d) = res.frame.item_by_sym(target).and_then(|i| self.rec_by_item.get(&i)) else { continue };
            let rec = &mut out.decisions[*d];
            let in_window = at >= rec.made_at && at - rec.made_at <= self.cfg.rehash_window;
            if in_window && rec.rehashed.is_none_or(|(_, t)| at < t) {
                rec.rehashed = Some((RehashReason::Superseded, at));
            }
        }
    }
}
