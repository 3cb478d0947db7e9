//! From facts to exported values at a given `now`: cumulative counters and histograms over all
//! facts with time ≤ now, gauges of what is waiting now, windowed ratios, and the privacy floor
//! folding small teams into `other`. Labels are team names, never people or items.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{ReviewState, Ts};
use crate::signals::frame::Frame;
use crate::signals::records::{Analysis, EngagementKind, RehashReason, ReworkKind};
use crate::signals::{HandoffKind, SignalsConfig};
use crate::teams::{Directory, OTHER_TEAM, PersonId, TeamId};

/// Latency buckets of every `_seconds` histogram (SIGNALS.md §9): 5m … 30d.
pub const LATENCY_BUCKETS: [f64; 11] = [
    300.0, 900.0, 3600.0, 14_400.0, 28_800.0, 86_400.0, 172_800.0, 345_600.0, 604_800.0, 1_209_600.0, 2_592_000.0,
];

/// A histogram with the latency buckets: per-bucket (non-cumulative) counts, +Inf last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub buckets: [u64; LATENCY_BUCKETS.len() + 1],
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        let i = LATENCY_BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i] += 1;
        self.count += 1;
        self.sum += seconds;
    }
    /// Cumulative counts per upper bound, as exported (`le`), without +Inf.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut acc = 0;
        LATENCY_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(b, n)| {
                acc += n;
                (*b, acc)
            })
            .collect()
    }
}

pub type Pair = (String, String);

/// Every exported signal at one `now` (SIGNALS.md §9), labels already folded by the privacy floor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    pub now: Ts,
    /// (source, kind, from, to)
    pub handoffs_total: BTreeMap<(String, HandoffKind, String, String), u64>,
    pub handoff_latency: BTreeMap<(HandoffKind, String, String), Histogram>,
    pub handoffs_waiting: BTreeMap<(HandoffKind, String, String), u64>,
    pub handoffs_stalled: BTreeMap<(HandoffKind, String, String), u64>,
    /// to_team → seconds the oldest waiting handoff has waited (0 when none waits).
    pub handoff_oldest_wait: BTreeMap<String, f64>,
    pub bounces_total: BTreeMap<Pair, u64>,
    pub decisions_total: BTreeMap<String, u64>,
    pub decisions_rehashed_total: BTreeMap<(String, RehashReason), u64>,
    pub rework_total: BTreeMap<(String, ReworkKind), u64>,
    /// (author_team, reviewer_team, state)
    pub reviews_total: BTreeMap<(String, String, ReviewState), u64>,
    pub review_pickup: BTreeMap<Pair, Histogram>,
    /// (team_a, team_b, window) with team_a < team_b
    pub review_reciprocity: BTreeMap<(String, String, String), f64>,
    /// (actor_team, owner_team, kind)
    pub engagements_total: BTreeMap<(String, String, EngagementKind), u64>,
    pub first_response: BTreeMap<Pair, Histogram>,
    pub joint_wins_total: BTreeMap<String, u64>,
    pub bridge_people: BTreeMap<(String, String), u64>,
    pub silo_index: BTreeMap<(String, String), f64>,
    pub team_members: BTreeMap<String, u64>,
    /// Teams folded into `other` under the privacy floor (names, for the report and `teams`).
    pub folded_teams: Vec<String>,
}

/// Team id → exported label, after the privacy floor.
pub struct Labels {
    names: Vec<String>,
    pub folded: Vec<bool>,
}

impl Labels {
    /// Folds teams with fewer active people than the floor in the privacy window before `now`.
    pub fn new(analysis: &Analysis, dir: &Directory, cfg: &SignalsConfig, now: Ts) -> Labels {
        let active = analysis.active_people(now - cfg.privacy_window(), now);
        let floor = cfg.privacy_floor.max(2);
        let folded: Vec<bool> =
            (0..dir.teams().len()).map(|t| active.get(&(t as TeamId)).copied().unwrap_or(0) < floor).collect();
        let names = dir
            .teams()
            .iter()
            .zip(&folded)
            .map(|(t, f)| if *f { OTHER_TEAM.to_string() } else { t.name.clone() })
            .collect();
        Labels { names, folded }
    }
    pub fn get(&self, t: TeamId) -> &str {
        &self.names[t as usize]
    }
    pub fn pair(&self, a: TeamId, b: TeamId) -> Pair {
        (self.names[a as usize].clone(), self.names[b as usize].clone())
    }
}

fn stall_threshold(cfg: &SignalsConfig, dir: &Directory, to: TeamId, kind: HandoffKind) -> Ts {
    let name = dir.team_name(to).to_ascii_lowercase();
    cfg.stall_after_by_team
        .get(&name)
        .or_else(|| cfg.stall_after_by_kind.get(&kind))
        .copied()
        .unwrap_or(cfg.stall_after)
}

/// How long a handoff has waited at `now`: wall time, or the receiving team's working time.
pub fn waited(cfg: &SignalsConfig, dir: &Directory, to: TeamId, since: Ts, now: Ts) -> Ts {
    match (cfg.stall_in_working_hours, dir.team(to).calendar) {
        (true, Some(cal)) => cal.working_seconds(since, now),
        _ => now - since,
    }
}

/// Whether a waiting handoff counts as stalled at `now`.
pub fn is_stalled(cfg: &SignalsConfig, dir: &Directory, to: TeamId, kind: HandoffKind, since: Ts, now: Ts) -> bool {
    waited(cfg, dir, to, since, now) > stall_threshold(cfg, dir, to, kind)
}

/// Aggregates the facts into the exported signals at `now` (facts after `now` are ignored).
pub fn aggregate(analysis: &Analysis, frame: &Frame, dir: &Directory, cfg: &SignalsConfig, now: Ts) -> Signals {
    let labels = Labels::new(analysis, dir, cfg, now);
    let mut s = Signals { now, ..Signals::default() };
    s.folded_teams = dir.teams().iter().zip(&labels.folded).filter(|(_, f)| **f).map(|(t, _)| t.name.clone()).collect();

    // Handoffs.
    let mut source_cache: HashMap<u32, String> = HashMap::new();
    for h in analysis.handoffs.iter().filter(|h| h.at <= now) {
        let (from, to) = labels.pair(h.from, h.to);
        let source = source_cache
            .entry(h.item)
            .or_insert_with(|| frame.syms.resolve(frame.items[h.item as usize].source).to_string())
            .clone();
        *s.handoffs_total.entry((source, h.kind, from.clone(), to.clone())).or_default() += 1;
        let key = (h.kind, from, to.clone());
        let latency = s.handoff_latency.entry(key.clone()).or_default();
        if let Some(a) = h.acked_at.filter(|a| *a <= now) {
            latency.observe((a - h.at) as f64);
        }
        let waiting = s.handoffs_waiting.entry(key.clone()).or_default();
        let stalled = s.handoffs_stalled.entry(key).or_default();
        let oldest = s.handoff_oldest_wait.entry(to).or_default();
        if h.waiting_at(now) {
            *waiting += 1;
            if is_stalled(cfg, dir, h.to, h.kind, h.at, now) {
                *stalled += 1;
            }
            *oldest = oldest.max((now - h.at) as f64);
        }
    }
    for b in analysis.bounces.iter().filter(|b| b.at <= now) {
        *s.bounces_total.entry(labels.pair(b.from, b.to)).or_default() += 1;
    }

    // Decisions and rework.
    for d in analysis.decisions.iter().filter(|d| d.made_at <= now) {
        let team = labels.get(d.team).to_string();
        *s.decisions_total.entry(team.clone()).or_default() += 1;
        if let Some((reason, at)) = d.rehashed
            && at <= now
        {
            *s.decisions_rehashed_total.entry((team, reason)).or_default() += 1;
        }
    }
    for r in analysis.rework.iter().filter(|r| r.at <= now) {
        *s.rework_total.entry((labels.get(r.team).to_string(), r.kind)).or_default() += 1;
    }

    // Reviews.
    for r in analysis.reviews.iter().filter(|r| r.at <= now) {
        let (a, b) = labels.pair(r.author_team, r.reviewer_team);
        *s.reviews_total.entry((a, b, r.state)).or_default() += 1;
    }
    for p in analysis.pickups.iter().filter(|p| p.picked_at <= now) {
        s.review_pickup.entry(labels.pair(p.author_team, p.reviewer_team)).or_default().observe(p.seconds as f64);
    }
    for (window, len) in &cfg.windows {
        let mut given: HashMap<Pair, u64> = HashMap::new();
        for r in analysis.reviews.iter().filter(|r| r.at <= now && r.at > now - len) {
            let (author, reviewer) = labels.pair(r.author_team, r.reviewer_team);
            if author != reviewer {
                *given.entry((reviewer, author)).or_default() += 1;
            }
        }
        let pairs: HashSet<Pair> =
            given.keys().map(|(x, y)| if x < y { (x.clone(), y.clone()) } else { (y.clone(), x.clone()) }).collect();
        for (a, b) in pairs {
            let g_ab = given.get(&(a.clone(), b.clone())).copied().unwrap_or(0);
            let g_ba = given.get(&(b.clone(), a.clone())).copied().unwrap_or(0);
            let ratio = g_ab.min(g_ba) as f64 / g_ab.max(g_ba) as f64;
            s.review_reciprocity.insert((a, b, window.clone()), ratio);
        }
    }

    // Engagement.
    for e in analysis.engagements.iter().filter(|e| e.at <= now) {
        let (a, o) = labels.pair(e.actor_team, e.owner_team);
        *s.engagements_total.entry((a, o, e.kind)).or_default() += 1;
    }
    for f in analysis.first_responses.iter().filter(|f| f.responded_at <= now) {
        s.first_response.entry(labels.pair(f.requester, f.owner)).or_default().observe((f.responded_at - f.opened_at) as f64);
    }
    for w in analysis.joint_wins.iter().filter(|w| w.at <= now) {
        let teams: HashSet<&str> = w.teams.iter().map(|t| labels.get(*t)).collect();
        for t in teams {
            *s.joint_wins_total.entry(t.to_string()).or_default() += 1;
        }
    }
    for (window, len) in &cfg.windows {
        // Silo index: share of each team's interactions on its own items.
        let mut inside: HashMap<TeamId, (u64, u64)> = HashMap::new();
        // Bridge people: other teams each person worked with, and the team they acted for last.
        let mut reach: HashMap<PersonId, (TeamId, Ts, Vec<TeamId>)> = HashMap::new();
        for i in analysis.interactions.iter().filter(|i| i.at <= now && i.at > now - len) {
            let e = inside.entry(i.team).or_default();
            e.1 += 1;
            if i.owner == i.team {
                e.0 += 1;
            }
            let r = reach.entry(i.person).or_insert((i.team, i.at, Vec::new()));
            if i.at >= r.1 {
                (r.0, r.1) = (i.team, i.at);
            }
            if i.owner != i.team && !r.2.contains(&i.owner) {
                r.2.push(i.owner);
            }
        }
        let mut folded_inside: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (t, (a, b)) in inside {
            let e = folded_inside.entry(labels.get(t).to_string()).or_default();
            e.0 += a;
            e.1 += b;
        }
        for (team, (a, b)) in folded_inside {
            s.silo_index.insert((team, window.clone()), a as f64 / b as f64);
        }
        for t in dir.teams().iter().enumerate().map(|(i, _)| labels.get(i as TeamId)) {
            s.bridge_people.entry((t.to_string(), window.clone())).or_default();
        }
        for (_, (team, _, others)) in reach {
            // Other teams than the person's own team (as of their latest interaction).
            if others.iter().filter(|o| **o != team).count() >= 2 {
                *s.bridge_people.entry((labels.get(team).to_string(), window.clone())).or_default() += 1;
            }
        }
    }
    for t in 0..dir.teams().len() as TeamId {
        let n = dir.members_at(t, now).count() as u64;
        *s.team_members.entry(labels.get(t).to_string()).or_default() += n;
    }
    s
}
