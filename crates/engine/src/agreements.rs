//! Working agreements between teams as SLOs (issue 12): which handoffs an agreement covers, whether
//! each kept or broke its promise and *when that was decided*, the burn-rate alert policy (pure
//! data) and the exported agreement series at a given `now`. Pure like the rest of the engine: no
//! I/O, no clock; it must not name a person or an item in anything it exports.
//!
//! A handoff (SIGNALS.md §3) is *covered* by an agreement when its receiving team is the
//! agreement's `to_team`, its sending team is one of `from_teams` (any when empty) and its kind one
//! of `kinds` (any when empty). Its *deadline* is the handover time plus `within` (counted in the
//! receiving team's working hours when `working_hours`). Its outcome:
//! - acknowledged at or before the deadline → **kept**, decided at the acknowledgement;
//! - still waiting at the deadline (not acknowledged, open, still with the receiving team) →
//!   **broken**, decided *at the deadline*: the budget burns while work waits, not when the late
//!   acknowledgement finally comes;
//! - stopped waiting without an acknowledgement before the deadline (closed, custody moved on, the
//!   review request withdrawn) → **not counted**: the receiving team had no chance to keep or break
//!   the promise, and counting it either way would reward or punish work that went elsewhere.
//!
//! Each fact carries its decision time, so the values at `t` count the facts decided by `t`, and a
//! handoff still waiting at the end of the analysis is a breach at its deadline if nothing happens
//! before (after the deadline it is one whatever happens next).

use std::collections::BTreeMap;

use crate::model::{DAY, HOUR, Ts};
use crate::signals::HandoffKind;
use crate::signals::SignalsConfig;
use crate::signals::aggregate::TeamLabels;
use crate::signals::records::{Analysis, HandoffRec};
use crate::teams::{Calendar, Directory, TeamId};

/// One `[[agreements]]` entry of the config, validated (crates/config checks every field).
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// `[a-z0-9][a-z0-9_-]*`, unique: the `agreement` label.
    pub name: String,
    /// The receiving team, as its `[[teams]]` entry writes it.
    pub to_team: String,
    /// Sending teams as their `[[teams]]` entries write them; empty = any sending team.
    pub from_teams: Vec<String>,
    /// Handoff kinds covered; empty = every kind.
    pub kinds: Vec<HandoffKind>,
    /// The promise: acknowledged within this long (seconds).
    pub within: Ts,
    /// Count `within` in the receiving team's working hours (its calendar; the config requires one).
    pub working_hours: bool,
    /// The share of covered handoffs that must keep the promise, in (0, 1).
    pub objective: f64,
    /// The SLO window (seconds; default 28 days).
    pub window: Ts,
}

/// The default SLO window of an agreement.
pub const DEFAULT_WINDOW: Ts = 28 * DAY;

/// One multi-window burn-rate alert: it fires when the burn rate over both `long` and `short`
/// exceeds `factor` (SRE workbook, ch. 5), where the burn rate over w is
/// `(Δbreaches(w) / Δhandoffs(w)) / (1 − objective)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRateAlert {
    pub long: Ts,
    pub short: Ts,
    pub factor: f64,
    /// `page` or `ticket`; the generated alert's `severity` label is `critical` or `warning`
    /// (the vocabulary of dashboards/rules/alerts.yaml, `rules::severity`).
    pub severity: &'static str,
}

/// The alert policy of every agreement, shared by `siloscope rules` (the generated Prometheus
/// rules) and `siloscope agreements check` (the back-test). Handoffs are few per hour and waits
/// are measured in hours and days, so the windows are hours and days rather than SRE's 1h/5m
/// (docs/agreements.md says why these values).
pub const ALERT_POLICY: &[BurnRateAlert] = &[
    BurnRateAlert { long: DAY, short: 2 * HOUR, factor: 7.0, severity: "page" },
    BurnRateAlert { long: 3 * DAY, short: 6 * HOUR, factor: 3.5, severity: "page" },
    BurnRateAlert { long: 7 * DAY, short: DAY, factor: 1.0, severity: "ticket" },
];

/// How a covered handoff met its agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Kept,
    Broken,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Kept => "kept",
            Outcome::Broken => "broken",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Kept, Outcome::Broken].into_iter().find(|o| o.as_str() == s)
    }
}

/// A covered handoff whose outcome is (or, still waiting, will be at its deadline) decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgreementFact {
    /// Index into `SignalsConfig::agreements`.
    pub agreement: usize,
    /// Index into `Analysis::handoffs`.
    pub handoff: usize,
    pub deadline: Ts,
    pub outcome: Outcome,
    /// When the outcome was decided: the acknowledgement (kept) or the deadline (broken).
    pub decided_at: Ts,
}

/// The handoff's deadline under `a`: handed over + `within`, in the receiving team's working time
/// when `working_hours` and the team has a calendar.
pub fn deadline(a: &Agreement, dir: &Directory, h: &HandoffRec) -> Ts {
    match (a.working_hours, dir.team(h.to).calendar) {
        (true, Some(cal)) => working_deadline(&cal, h.at, a.within),
        _ => h.at + a.within,
    }
}

/// The earliest time `d` with `cal.working_seconds(from, d) == within` (`within` > 0). A calendar
/// without working time never reaches it: `Ts::MAX`.
pub fn working_deadline(cal: &Calendar, from: Ts, within: Ts) -> Ts {
    let per_day = cal.end - cal.start;
    let workdays = cal.workdays.iter().filter(|w| **w).count() as Ts;
    if per_day <= 0 || workdays == 0 {
        return Ts::MAX;
    }
    let local = from + cal.utc_offset;
    let mut day = local.div_euclid(DAY);
    let mut remaining = within;
    let workday = |day: Ts| cal.workdays[(day + 3).rem_euclid(7) as usize]; // 1970-01-01 was a Thursday
    // The first (partial) day.
    if workday(day) {
        let (ds, de) = (day * DAY + cal.start, day * DAY + cal.end);
        let s = ds.max(local);
        if s < de {
            if remaining <= de - s {
                return s + remaining - cal.utc_offset;
            }
            remaining -= de - s;
        }
    }
    day += 1;
    // Whole weeks at once while more than a week of working time is left.
    let week = workdays * per_day;
    if remaining > week {
        let weeks = (remaining - 1) / week;
        remaining -= weeks * week;
        day += weeks * 7;
    }
    loop {
        if workday(day) {
            if remaining <= per_day {
                return day * DAY + cal.start + remaining - cal.utc_offset;
            }
            remaining -= per_day;
        }
        day += 1;
    }
}

/// Whether `a` covers `h`; `to` and `from` are `a`'s teams resolved in the directory.
fn covers(a: &Agreement, to: TeamId, from: &[TeamId], h: &HandoffRec) -> bool {
    h.to == to
        && (a.from_teams.is_empty() || from.contains(&h.from))
        && (a.kinds.is_empty() || a.kinds.contains(&h.kind))
}

/// The outcome of a covered handoff with its decision time, or None when it is not counted (it
/// stopped waiting unacknowledged before its deadline).
pub fn outcome(h: &HandoffRec, deadline: Ts) -> Option<(Outcome, Ts)> {
    let stopped = h.ended_at.unwrap_or(Ts::MAX);
    if let Some(acked) = h.acked_at
        && acked <= deadline
        && acked <= stopped
    {
        return Some((Outcome::Kept, acked));
    }
    // Still waiting at the deadline (the same definition as the waiting gauges) → broken there.
    h.waiting_at(deadline).then_some((Outcome::Broken, deadline))
}

/// Every agreement's facts over the analysis, sorted by (agreement, decision time). An agreement
/// whose receiving team the directory lacks covers nothing.
pub fn agreement_facts(analysis: &Analysis, dir: &Directory, cfg: &SignalsConfig) -> Vec<AgreementFact> {
    (0..cfg.agreements.len()).flat_map(|i| agreement_facts_of(analysis, dir, cfg, i)).collect()
}

/// The facts of agreement `i` (an index into `cfg.agreements`), sorted by decision time.
pub fn agreement_facts_of(analysis: &Analysis, dir: &Directory, cfg: &SignalsConfig, i: usize) -> Vec<AgreementFact> {
    let mut facts = Vec::new();
    let a = &cfg.agreements[i];
    let Some(to) = dir.team_by_name(&a.to_team) else { return facts };
    let from: Vec<TeamId> = a.from_teams.iter().filter_map(|t| dir.team_by_name(t)).collect();
    for (j, h) in analysis.handoffs.iter().enumerate() {
        if !covers(a, to, &from, h) {
            continue;
        }
        let deadline = deadline(a, dir, h);
        if let Some((outcome, decided_at)) = outcome(h, deadline) {
            facts.push(AgreementFact { agreement: i, handoff: j, deadline, outcome, decided_at });
        }
    }
    facts.sort_by_key(|f| (f.decided_at, f.handoff));
    facts
}

/// Whether agreement `i` exports no series at this computation: its receiving team is under the
/// privacy floor (or no source or config defines it). The pages list nothing for it either.
pub fn suppressed(dir: &Directory, cfg: &SignalsConfig, labels: &TeamLabels, i: usize) -> bool {
    dir.team_by_name(&cfg.agreements[i].to_team).is_none_or(|t| labels.folded[t as usize])
}

/// The covered handoffs of agreement `agreement` waiting at `now` past their deadline.
pub fn waiting_past_promise<'a>(
    analysis: &'a Analysis,
    facts: &'a [AgreementFact],
    agreement: usize,
    now: Ts,
) -> impl Iterator<Item = &'a AgreementFact> + 'a {
    facts.iter().filter(move |f| {
        f.agreement == agreement
            && f.outcome == Outcome::Broken
            && f.decided_at <= now
            && analysis.handoffs[f.handoff].waiting_at(now)
    })
}

/// Exported values of one agreement at `now` (labels `agreement`, `to_team`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AgreementValues {
    /// Covered handoffs decided by `now` (kept + broken).
    pub handoffs: u64,
    /// Covered handoffs broken by `now`.
    pub breaches: u64,
    /// Covered handoffs waiting at `now` past their deadline.
    pub waiting_past_promise: u64,
}

/// The agreement series at `now`, keyed by (agreement, to_team label), and the names of the
/// agreements exported no series because their receiving team is under the privacy floor (its
/// label would be `other`, and the agreement's name would still single the team out).
pub fn agreement_values(
    analysis: &Analysis,
    facts: &[AgreementFact],
    dir: &Directory,
    cfg: &SignalsConfig,
    labels: &TeamLabels,
    now: Ts,
) -> (BTreeMap<(String, String), AgreementValues>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut suppressed = Vec::new();
    for (i, a) in cfg.agreements.iter().enumerate() {
        // A receiving team no source or config defines has no people: under the floor too.
        let Some(to) = dir.team_by_name(&a.to_team).filter(|t| !labels.folded[*t as usize]) else {
            suppressed.push(a.name.clone());
            continue;
        };
        let mut v = AgreementValues::default();
        let lo = facts.partition_point(|f| f.agreement < i);
        let hi = facts.partition_point(|f| f.agreement <= i);
        for f in facts[lo..hi].iter().take_while(|f| f.decided_at <= now) {
            v.handoffs += 1;
            if f.outcome == Outcome::Broken {
                v.breaches += 1;
                if analysis.handoffs[f.handoff].waiting_at(now) {
                    v.waiting_past_promise += 1;
                }
            }
        }
        out.insert((a.name.clone(), labels.get(to).to_string()), v);
    }
    (out, suppressed)
}

/// Burn rate over a window from the counters' increases: the error ratio over the error budget
/// `1 − objective`. None when no covered handoff was decided in the window (no ratio: PromQL's
/// 0/0, which fires nothing).
pub fn burn_rate(breaches: u64, handoffs: u64, objective: f64) -> Option<f64> {
    (handoffs > 0).then(|| (breaches as f64 / handoffs as f64) / (1.0 - objective))
}

/// The error budget left over the SLO window: `1 − (breaches / handoffs) / (1 − objective)`
/// (1 = untouched, 0 = spent, negative = overspent). None without decided handoffs.
pub fn budget_left(breaches: u64, handoffs: u64, objective: f64) -> Option<f64> {
    burn_rate(breaches, handoffs, objective).map(|b| 1.0 - b)
}

// ---------------------------------------------------------------------------------------------
// The back-test (`siloscope agreements check`): the series above evaluated at every hour.

/// One hour of an agreement's back-test: what its exported counters read at `at` and what the
/// generated rules compute from their increases (`increase(x[w])` at `at` is the counter at `at`
/// minus the counter at `at − w`: the facts decided in `(at − w, at]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HourValues {
    pub at: Ts,
    /// `siloscope_agreement_handoffs_total` and `…_breaches_total` at `at`.
    pub handoffs: u64,
    pub breaches: u64,
    /// Their increases over the agreement's window.
    pub window_handoffs: u64,
    pub window_breaches: u64,
    /// `1 − Δbreaches / Δhandoffs` over the window; None when nothing was decided in it.
    pub attainment: Option<f64>,
    /// [`budget_left`] over the window.
    pub budget_left: Option<f64>,
    /// [`burn_rate`] over each [`ALERT_POLICY`] row's `[long, short]` window, in its order.
    pub burn: Vec<[Option<f64>; 2]>,
    /// Each [`ALERT_POLICY`] row's condition: the burn over both windows exceeds its factor.
    pub firing: Vec<bool>,
}

/// A span of hours during which the team would have been paged (or ticketed): any of the
/// [`ALERT_POLICY`] rows of that severity firing. `siloscope rules` writes one alert per row
/// (`SiloscopeAgreementBudgetBurn<long><short>`); `rows` says which of them fired.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertEpisode {
    pub severity: &'static str,
    /// The first hour it fires.
    pub start: Ts,
    /// The first hour it no longer fires; None when it still fires at the last hour tested.
    pub end: Option<Ts>,
    /// The [`ALERT_POLICY`] rows that fired during it.
    pub rows: Vec<usize>,
}

/// An agreement's back-test over a range of hours.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Backtest {
    /// Every whole hour of the range, in order.
    pub hours: Vec<HourValues>,
    /// Alert episodes by start, then severity in [`ALERT_POLICY`]'s order.
    pub episodes: Vec<AlertEpisode>,
}

/// Attainment within this of the objective counts as meeting it (a share computed in floating
/// point, 0.9 of ten handoffs, must not miss 0.9 by a rounding).
const MET_TOLERANCE: f64 = 1e-9;

/// Whether an attainment meets an objective.
pub fn meets(attainment: f64, objective: f64) -> bool {
    attainment >= objective - MET_TOLERANCE
}

impl Backtest {
    /// Hours whose window holds a decided handoff (the others have no attainment).
    pub fn hours_with_data(&self) -> usize {
        self.hours.iter().filter(|h| h.attainment.is_some()).count()
    }
    /// Hours whose attainment met `objective`.
    pub fn hours_met(&self, objective: f64) -> usize {
        self.hours.iter().filter(|h| h.attainment.is_some_and(|a| meets(a, objective))).count()
    }
    /// The lowest error budget left over the window, and the first hour it was that low.
    pub fn lowest_budget(&self) -> Option<(Ts, f64)> {
        self.hours.iter().filter_map(|h| h.budget_left.map(|b| (h.at, b))).fold(None, |low, (at, b)| match low {
            Some((_, l)) if l <= b => low,
            _ => Some((at, b)),
        })
    }
    /// How many episodes an alert of `severity` would have had.
    pub fn episodes_of(&self, severity: &str) -> usize {
        self.episodes.iter().filter(|e| e.severity == severity).count()
    }
}

/// The severities of [`ALERT_POLICY`], each once, in its order.
pub fn severities() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in ALERT_POLICY {
        if !out.contains(&r.severity) {
            out.push(r.severity);
        }
    }
    out
}

/// The back-test of agreement `i` over the whole hours of `[from, to]`: at each, its counters,
/// attainment and budget over its window, burn rates over the [`ALERT_POLICY`] windows, the alert
/// conditions, and the episodes they make. `facts` are [`agreement_facts`]' (every agreement's,
/// sorted by agreement then decision time), so each hour counts what [`agreement_values`] counts
/// at that hour: the same facts, the same aggregation. The caller checks the privacy floor
/// ([`suppressed`]) first: this tests whatever it is given.
pub fn backtest(facts: &[AgreementFact], cfg: &SignalsConfig, i: usize, from: Ts, to: Ts) -> Backtest {
    let a = &cfg.agreements[i];
    let lo = facts.partition_point(|f| f.agreement < i);
    let hi = facts.partition_point(|f| f.agreement <= i);
    let mine = &facts[lo..hi];
    // Decision times (sorted) and the breaches among the first k facts: the counters at t are
    // (k, broken[k]) with k the facts decided by t.
    let decided: Vec<Ts> = mine.iter().map(|f| f.decided_at).collect();
    let mut broken = Vec::with_capacity(mine.len() + 1);
    broken.push(0u64);
    for f in mine {
        broken.push(broken.last().copied().unwrap_or(0) + u64::from(f.outcome == Outcome::Broken));
    }
    let counters = |t: Ts| {
        let k = decided.partition_point(|d| *d <= t);
        (k as u64, broken[k])
    };
    let increase = |t: Ts, w: Ts| {
        let ((n1, b1), (n0, b0)) = (counters(t), counters(t.saturating_sub(w)));
        (n1 - n0, b1 - b0)
    };
    let mut hours = Vec::new();
    let mut t = from.div_euclid(HOUR) * HOUR;
    if t < from {
        t += HOUR;
    }
    while t <= to {
        let (handoffs, breaches) = counters(t);
        let (wn, wb) = increase(t, a.window);
        let burn: Vec<[Option<f64>; 2]> = ALERT_POLICY
            .iter()
            .map(|r| {
                let ((ln, lb), (sn, sb)) = (increase(t, r.long), increase(t, r.short));
                [burn_rate(lb, ln, a.objective), burn_rate(sb, sn, a.objective)]
            })
            .collect();
        let firing = ALERT_POLICY
            .iter()
            .zip(&burn)
            .map(|(r, [l, s])| l.is_some_and(|l| l > r.factor) && s.is_some_and(|s| s > r.factor))
            .collect();
        hours.push(HourValues {
            at: t,
            handoffs,
            breaches,
            window_handoffs: wn,
            window_breaches: wb,
            attainment: (wn > 0).then(|| 1.0 - wb as f64 / wn as f64),
            budget_left: budget_left(wb, wn, a.objective),
            burn,
            firing,
        });
        t += HOUR;
    }
    let episodes = episodes(&hours);
    Backtest { hours, episodes }
}

/// The firing spans of each severity over consecutive hours.
fn episodes(hours: &[HourValues]) -> Vec<AlertEpisode> {
    let mut out = Vec::new();
    for severity in severities() {
        let mut open: Option<AlertEpisode> = None;
        for h in hours {
            let rows: Vec<usize> =
                (0..ALERT_POLICY.len()).filter(|k| ALERT_POLICY[*k].severity == severity && h.firing[*k]).collect();
            match (&mut open, rows.is_empty()) {
                (None, false) => open = Some(AlertEpisode { severity, start: h.at, end: None, rows }),
                (Some(e), false) => {
                    for r in rows {
                        if !e.rows.contains(&r) {
                            e.rows.push(r);
                        }
                    }
                }
                (Some(_), true) => {
                    let mut e = open.take().expect("open episode");
                    e.end = Some(h.at);
                    e.rows.sort_unstable();
                    out.push(e);
                }
                (None, true) => {}
            }
        }
        if let Some(mut e) = open {
            e.rows.sort_unstable();
            out.push(e);
        }
    }
    let order = severities();
    out.sort_by_key(|e| (e.start, order.iter().position(|s| *s == e.severity)));
    out
}
