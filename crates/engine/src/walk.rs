//! The single pass over each item's history that every signal family hangs on: it resolves who
//! acted (person, team at that time, bot or not), then lets each family record its facts: custody
//! first, which says which team held the item before and after each event ([`Held`]), then
//! reviews, decisions and engagement, the last two reading that custody.

use crate::model::{SETTLING, Ts};
use crate::signals::SignalsConfig;
use crate::signals::custody::CustodyWalk;
use crate::signals::decisions::DecisionWalk;
use crate::signals::engagement::EngagementWalk;
use crate::signals::frame::{EventRow, Frame, ItemInfo, NO_SYM, Sym};
use crate::signals::records::{Analysis, normalize_activity, note_activity};
use crate::signals::reviews::ReviewWalk;
use crate::teams::{Directory, PersonId, TeamId};

const UNRESOLVED: u32 = u32::MAX;
const NONE: u32 = u32::MAX - 1;
const BOT: u32 = u32::MAX - 2;

/// Caches sym → person / team lookups for one analysis (identities, labels, scopes recur a lot).
pub struct Resolver<'a> {
    pub frame: &'a Frame,
    pub dir: &'a Directory,
    person: Vec<u32>,
    label_team: Vec<u32>,
    scope_team: Vec<u32>,
    handle_team: Vec<u32>,
}

impl<'a> Resolver<'a> {
    pub fn new(frame: &'a Frame, dir: &'a Directory) -> Self {
        let n = frame.syms.len();
        Resolver {
            frame,
            dir,
            person: vec![UNRESOLVED; n],
            label_team: vec![UNRESOLVED; n],
            scope_team: vec![UNRESOLVED; n],
            handle_team: vec![UNRESOLVED; n],
        }
    }

    fn cached(slot: &mut u32, f: impl FnOnce() -> Option<u32>) -> Option<u32> {
        if *slot == UNRESOLVED {
            *slot = f().unwrap_or(NONE);
        }
        (*slot != NONE).then_some(*slot)
    }

    /// Who is behind an identity: a known person, a bot, or someone the directory lacks.
    pub fn person(&mut self, identity: Sym) -> Who {
        if identity == NO_SYM {
            return Who::Unknown;
        }
        let slot = &mut self.person[identity as usize];
        if *slot == UNRESOLVED {
            let s = self.frame.syms.resolve(identity);
            *slot = if self.dir.is_bot(s) { BOT } else { self.dir.person_of(s).unwrap_or(NONE) };
        }
        match *slot {
            BOT => Who::Bot,
            NONE => Who::Unknown,
            p => Who::Person(p),
        }
    }

    /// The team of an identity at `at`; None for bots and unknown identities.
    pub fn team(&mut self, identity: Sym, at: Ts) -> Option<TeamId> {
        match self.person(identity) {
            Who::Person(p) => self.dir.team_of_person(p, at),
            _ => None,
        }
    }

    pub fn label_team(&mut self, label: Sym) -> Option<TeamId> {
        let (frame, dir) = (self.frame, self.dir);
        Self::cached(&mut self.label_team[label as usize], || dir.label_team(frame.syms.resolve(label)).map(u32::from))
            .map(|t| t as TeamId)
    }

    pub fn scope_team(&mut self, scope: Sym) -> Option<TeamId> {
        if scope == NO_SYM {
            return None;
        }
        let (frame, dir) = (self.frame, self.dir);
        Self::cached(&mut self.scope_team[scope as usize], || dir.scope_owner(frame.syms.resolve(scope)).map(u32::from))
            .map(|t| t as TeamId)
    }

    /// A team by handle or name (review requests to teams, mentions, team fields).
    pub fn handle_team(&mut self, handle: Sym) -> Option<TeamId> {
        if handle == NO_SYM {
            return None;
        }
        let (frame, dir) = (self.frame, self.dir);
        Self::cached(&mut self.handle_team[handle as usize], || {
            dir.team_by_handle(frame.syms.resolve(handle)).map(u32::from)
        })
        .map(|t| t as TeamId)
    }
}

/// An identity resolved against the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Person(PersonId),
    Bot,
    /// No identity, or one the directory does not know.
    Unknown,
}

impl Who {
    pub fn person(self) -> Option<PersonId> {
        if let Who::Person(p) = self { Some(p) } else { None }
    }
}

/// Who did the event being walked, resolved at its time.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub person: Option<PersonId>,
    pub team: Option<TeamId>,
    pub bot: bool,
}

/// What every family sees of the event being walked.
pub struct Step<'e> {
    pub item: u32,
    pub info: &'e ItemInfo,
    pub ev: &'e EventRow,
    pub actor: Actor,
    /// The author's team at the event's time (pull requests are held by it).
    pub author_team: Option<TeamId>,
    /// The item was open before this event.
    pub was_open: bool,
    /// The event is part of the item's setting up: within [`SETTLING`] of its creation, by its
    /// author, a bot or no actor (templates, automations), before anyone else acted. What it sets
    /// is the item's initial state (initial labels, assignees…), never a handoff.
    pub settling: bool,
}

/// Custody at the event being walked: the team holding the item just before and just after it.
/// Custody computes it (`CustodyWalk::on_event` returns it), and the families that ask who holds
/// the item (decisions, engagement) take it as an argument: so custody runs first at every event,
/// an order the types keep rather than a convention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub before: Option<TeamId>,
    pub after: Option<TeamId>,
}

/// Derives all facts from the events with time ≤ `upto`.
pub fn analyze(frame: &Frame, dir: &Directory, cfg: &SignalsConfig, upto: Ts) -> Analysis {
    assert!(frame.is_prepared(), "Frame::prepare must run before analyze");
    let mut res = Resolver::new(frame, dir);
    let mut out = Analysis { upto, ..Analysis::default() };
    let mut decisions = DecisionWalk::new(cfg, frame);
    for item in 0..frame.items.len() as u32 {
        let all = frame.item_events(item);
        let evs = &all[..all.partition_point(|e| e.at <= upto)];
        if evs.is_empty() {
            continue;
        }
        walk_item(item, evs, &mut res, cfg, &mut decisions, &mut out);
    }
    decisions.finish(&mut res, &mut out);
    for days in out.activity.values_mut() {
        normalize_activity(days);
    }
    out
}

fn walk_item(
    item: u32,
    evs: &[EventRow],
    res: &mut Resolver,
    cfg: &SignalsConfig,
    decisions: &mut DecisionWalk,
    out: &mut Analysis,
) {
    let frame = res.frame;
    let info = &frame.items[item as usize];
    let created = evs[0].at.min(if info.created_at == Ts::MIN { Ts::MAX } else { info.created_at });
    let mut custody = CustodyWalk::new(info, cfg);
    let mut reviews = ReviewWalk::default();
    let mut engagement = EngagementWalk::default();
    decisions.start_item();
    let mut open = true;
    let author = res.person(info.author);
    let mut settling = true;
    for ev in evs {
        let who = res.person(ev.actor);
        // The setting-up phase ends with the window, or at the first event by another human
        // (an unknown identity counts as one: only configured or `[bot]` accounts are bots).
        settling = settling
            && ev.at - created <= SETTLING
            && (ev.kind == crate::signals::frame::Ev::Opened
                || ev.actor == NO_SYM
                || ev.actor == info.author
                || who == Who::Bot
                || (who != Who::Unknown && who == author));
        if who == Who::Unknown && ev.actor != NO_SYM {
            *out.unknown_identities.entry(ev.actor).or_default() += 1;
        }
        let person = who.person();
        let actor = Actor { person, team: person.and_then(|p| res.dir.team_of_person(p, ev.at)), bot: who == Who::Bot };
        if let (Some(p), Some(t)) = (actor.person, actor.team) {
            note_activity(out.activity.entry((p, t)).or_default(), ev.at);
        }
        let author_team = res.team(info.author, ev.at);
        let step = Step { item, info, ev, actor, author_team, was_open: open, settling };
        // Custody first: the others read who held the item at this event from what it returns.
        let held = custody.on_event(&step, res, out);
        reviews.on_event(&step, res, out);
        decisions.on_event(&step, held, res, out);
        engagement.on_event(&step, held, res, out);
        use crate::signals::frame::Ev;
        match ev.kind {
            Ev::Closed | Ev::Merged => open = false,
            Ev::Reopened => open = true,
            _ => {}
        }
    }
    custody.finish(item, out);
}
