//! From facts to exported values at a given `now`: cumulative counters and histograms over all
//! facts with time ≤ now, gauges of what is waiting now, windowed ratios, and the privacy floor
//! folding small teams into `other`. Labels are team names, never people or items.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{ReviewState, Ts};
use crate::signals::frame::Frame;
use crate::signals::records::{Analysis, EngagementKind, RehashReason, ReworkKind};
use crate::signals::state::{HandoffState, decision_state, handoff_state};
use crate::signals::{HandoffKind, SignalsConfig};
use crate::teams::{Directory, OTHER_TEAM, PersonId, TeamId};

/// Latency buckets of every `_seconds` histogram (SIGNALS.md §9): 5m … 30d.
pub const LATENCY_BUCKETS: [f64; 11] =
    [300.0, 900.0, 3600.0, 14_400.0, 28_800.0, 86_400.0, 172_800.0, 345_600.0, 604_800.0, 1_209_600.0, 2_592_000.0];

/// A histogram with the latency buckets: per-bucket (non-cumulative) counts, +Inf last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub buckets: [u64; LATENCY_BUCKETS.len() + 1],
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
    }
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

/// Handoff figures of one (kind, from, to) before labels are resolved.
#[derive(Default)]
struct PairState {
    latency: Histogram,
    waiting: u64,
    stalled: u64,
}

/// FxHash: the aggregation hashes small integer tuples millions of times; SipHash's DoS
/// resistance buys nothing here (keys are team ids, not user input).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64)
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(i as u64)
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64)
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
}

pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

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
    /// (agreement, to_team) → the agreement's series at `now` (`agreements.rs`).
    pub agreements: BTreeMap<(String, String), AgreementSeries>,
    /// Agreements exporting no series: their receiving team is under the privacy floor.
    pub agreements_suppressed: Vec<String>,
}

/// One agreement's exported values: its counters and gauges at `now` with its configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AgreementSeries {
    pub values: crate::signals::agreements::AgreementValues,
    pub objective: f64,
    /// Seconds.
    pub window: Ts,
}

/// Team id → exported label, after the privacy floor.
pub struct TeamLabels {
    names: Vec<String>,
    pub folded: Vec<bool>,
}

impl TeamLabels {
    /// Folds teams with fewer active people than the floor in the privacy window before `now`.
    pub fn new(analysis: &Analysis, dir: &Directory, cfg: &SignalsConfig, now: Ts) -> TeamLabels {
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
        TeamLabels { names, folded }
    }
    /// Labels a caller folded itself (the report folds teams under the floor at either period's
    /// end): `folded[t]` teams are shown as `other`, the others by `names[t]`.
    pub fn from_names(names: Vec<String>, folded: Vec<bool>) -> TeamLabels {
        let names = names.into_iter().zip(&folded).map(|(n, f)| if *f { OTHER_TEAM.to_string() } else { n }).collect();
        TeamLabels { names, folded }
    }
    pub fn get(&self, t: TeamId) -> &str {
        &self.names[t as usize]
    }
    /// A number per exported label: the team id, or `u32::MAX` for `other`.
    pub fn key(&self, t: TeamId) -> u32 {
        if self.folded[t as usize] { u32::MAX } else { t as u32 }
    }
    pub fn by_key(&self, k: u32) -> &str {
        if k == u32::MAX { OTHER_TEAM } else { &self.names[k as usize] }
    }
    pub fn pair(&self, a: TeamId, b: TeamId) -> Pair {
        (self.names[a as usize].clone(), self.names[b as usize].clone())
    }
}

/// The stall threshold of a handoff to `to`: by receiving team, else by kind, else the default.
pub fn stall_threshold(cfg: &SignalsConfig, dir: &Directory, to: TeamId, kind: HandoffKind) -> Ts {
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
    let labels = TeamLabels::new(analysis, dir, cfg, now);
    let mut s = Signals { now, ..Signals::default() };
    s.folded_teams = dir.teams().iter().zip(&labels.folded).filter(|(_, f)| **f).map(|(t, _)| t.name.clone()).collect();

    // Handoffs: count on integer keys, resolve labels once per distinct key at the end.
    let mut totals: FastMap<(u32, HandoffKind, TeamId, TeamId), u64> = FastMap::default();
    let mut pairs: FastMap<(HandoffKind, TeamId, TeamId), PairState> = FastMap::default();
    let mut oldest: FastMap<TeamId, f64> = FastMap::default();
    for h in analysis.handoffs.iter().filter(|h| h.at <= now) {
        *totals.entry((frame.items[h.item as usize].source, h.kind, h.from, h.to)).or_default() += 1;
        let p = pairs.entry((h.kind, h.from, h.to)).or_default();
        if let Some(a) = h.acked_at.filter(|a| *a <= now) {
            p.latency.observe((a - h.at) as f64);
        }
        let o = oldest.entry(h.to).or_default();
        // The pages list the same states (signals::state), so their counts equal these gauges.
        let state = handoff_state(cfg, dir, h, now);
        if state.is_some_and(HandoffState::is_waiting) {
            p.waiting += 1;
            if state == Some(HandoffState::Stalled) {
                p.stalled += 1;
            }
            *o = o.max((now - h.at) as f64);
        }
    }
    for ((source, kind, from, to), n) in totals {
        let (f, t) = labels.pair(from, to);
        *s.handoffs_total.entry((frame.syms.resolve(source).to_string(), kind, f, t)).or_default() += n;
    }
    for ((kind, from, to), p) in pairs {
        let (f, t) = labels.pair(from, to);
        let key = (kind, f, t);
        s.handoff_latency.entry(key.clone()).or_default().merge(&p.latency);
        *s.handoffs_waiting.entry(key.clone()).or_default() += p.waiting;
        *s.handoffs_stalled.entry(key).or_default() += p.stalled;
    }
    for (to, secs) in oldest {
        let o = s.handoff_oldest_wait.entry(labels.get(to).to_string()).or_default();
        *o = o.max(secs);
    }
    let mut bounces: FastMap<(TeamId, TeamId), u64> = FastMap::default();
    for b in analysis.bounces.iter().filter(|b| b.at <= now) {
        *bounces.entry((b.from, b.to)).or_default() += 1;
    }
    for ((f, t), n) in bounces {
        *s.bounces_total.entry(labels.pair(f, t)).or_default() += n;
    }

    // Decisions and rework.
    for (d, state) in analysis.decisions.iter().filter_map(|d| Some((d, decision_state(d, now)?))) {
        let team = labels.get(d.team).to_string();
        *s.decisions_total.entry(team.clone()).or_default() += 1;
        if let Some((reason, _)) = state.rehashed {
            *s.decisions_rehashed_total.entry((team, reason)).or_default() += 1;
        }
    }
    for r in analysis.rework.iter().filter(|r| r.at <= now) {
        *s.rework_total.entry((labels.get(r.team).to_string(), r.kind)).or_default() += 1;
    }

    // Reviews.
    let mut reviews: FastMap<(TeamId, TeamId, ReviewState), u64> = FastMap::default();
    for r in analysis.reviews.iter().filter(|r| r.at <= now) {
        *reviews.entry((r.author_team, r.reviewer_team, r.state)).or_default() += 1;
    }
    for ((a, r, state), n) in reviews {
        let (a, r) = labels.pair(a, r);
        *s.reviews_total.entry((a, r, state)).or_default() += n;
    }
    let mut pickups: FastMap<(TeamId, TeamId), Histogram> = FastMap::default();
    for p in analysis.pickups.iter().filter(|p| p.picked_at <= now) {
        pickups.entry((p.author_team, p.reviewer_team)).or_default().observe(p.seconds as f64);
    }
    for ((a, r), h) in pickups {
        s.review_pickup.entry(labels.pair(a, r)).or_default().merge(&h);
    }
    for (window, len) in &cfg.windows {
        let mut given_ids: FastMap<(TeamId, TeamId), u64> = FastMap::default();
        for r in analysis.reviews.iter().filter(|r| r.at <= now && r.at > now - len) {
            *given_ids.entry((r.reviewer_team, r.author_team)).or_default() += 1;
        }
        let mut given: HashMap<Pair, u64> = HashMap::new();
        for ((reviewer, author), n) in given_ids {
            let (reviewer, author) = labels.pair(reviewer, author);
            if author != reviewer {
                *given.entry((reviewer, author)).or_default() += n;
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
    let mut engagements: FastMap<(TeamId, TeamId, EngagementKind), u64> = FastMap::default();
    for e in analysis.engagements.iter().filter(|e| e.at <= now) {
        *engagements.entry((e.actor_team, e.owner_team, e.kind)).or_default() += 1;
    }
    for ((a, o, kind), n) in engagements {
        let (a, o) = labels.pair(a, o);
        *s.engagements_total.entry((a, o, kind)).or_default() += n;
    }
    let mut first: FastMap<(TeamId, TeamId), Histogram> = FastMap::default();
    for f in analysis.first_responses.iter().filter(|f| f.responded_at <= now) {
        first.entry((f.requester, f.owner)).or_default().observe((f.responded_at - f.opened_at) as f64);
    }
    for ((r, o), h) in first {
        s.first_response.entry(labels.pair(r, o)).or_default().merge(&h);
    }
    // A joint win counts once for each exported team in it (two folded teams are one `other`).
    let mut wins: FastMap<u32, u64> = FastMap::default();
    let mut keys: Vec<u32> = Vec::new();
    for w in analysis.joint_wins.iter().filter(|w| w.at <= now) {
        keys.clear();
        keys.extend(w.teams.iter().map(|t| labels.key(*t)));
        keys.sort_unstable();
        keys.dedup();
        for k in &keys {
            *wins.entry(*k).or_default() += 1;
        }
    }
    for (k, n) in wins {
        s.joint_wins_total.insert(labels.by_key(k).to_string(), n);
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

    // Agreements.
    if !cfg.agreements.is_empty() {
        let facts = crate::signals::agreements::agreement_facts(analysis, dir, cfg);
        (s.agreements, s.agreements_suppressed) = agreement_series(analysis, &facts, dir, cfg, &labels, now);
    }
    s
}

/// The agreements' series at `now` from their facts (`agreements::agreement_facts`): the part of
/// [`aggregate`] the back-test (`siloscope agreements check`) evaluates at every hour.
pub fn agreement_series(
    analysis: &Analysis,
    facts: &[crate::signals::agreements::AgreementFact],
    dir: &Directory,
    cfg: &SignalsConfig,
    labels: &TeamLabels,
    now: Ts,
) -> (BTreeMap<(String, String), AgreementSeries>, Vec<String>) {
    let (values, suppressed) = crate::signals::agreements::agreement_values(analysis, facts, dir, cfg, labels, now);
    let series = values
        .into_iter()
        .map(|((name, to), values)| {
            let a = cfg.agreements.iter().find(|a| a.name == name).expect("values of configured agreements");
            ((name, to), AgreementSeries { values, objective: a.objective, window: a.window })
        })
        .collect();
    (series, suppressed)
}
