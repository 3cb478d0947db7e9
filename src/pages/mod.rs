//! Drill-down pages: from a signal to the work behind it. Each page lists the facts of the last
//! published computation (the same facts and the same `now` the metrics were aggregated from, so
//! a list's count equals its metric), filtered by the metrics' dimensions, as JSON data here and
//! HTML in `html.rs`. It reads only the published `Computation` (never the frame, the store or a
//! lock a commit or the recompute holds) and names no person unless the operator turned
//! `[server] name_people` on (`ItemMeta::people`); tracker text is untrusted.

pub mod external_url;
pub mod html;

use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::model::Ts;
use crate::signals::aggregate::TeamLabels;
use crate::signals::agreements::{AgreementFact, Outcome, agreement_facts_of, suppressed};
use crate::signals::state::{HandoffState, handoff_at};
use crate::signals::{Analysis, Frame, HandoffKind, SignalsConfig};
use crate::teams::Directory;
pub use external_url::ExternalUrl;

/// The JSON document of `/handoffs` (docs/pages.md, docs/schemas/handoffs.v1.json).
pub const HANDOFFS_SCHEMA: &str = "siloscope.handoffs.v1";
/// Rows a list shows unless `limit` asks for another number (the count is always the whole).
pub const DEFAULT_LIMIT: usize = 500;
/// The most rows one answer carries.
pub const MAX_LIMIT: usize = 10_000;

/// What the pages need of an item: tracker text, made safe to show (untrusted::neutralize) and a
/// link only when it is an http(s) URL (untrusted::link_url).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemMeta {
    pub key: Box<str>,
    pub source: Box<str>,
    pub title: Box<str>,
    pub link: Option<Box<str>>,
    /// The people of the item (its author, then whoever acted on it by the computation's `now`,
    /// bots left out, at most [`PEOPLE_PER_ITEM`]), only when the operator turned naming people
    /// on (`[server] name_people`); None: the pages name no one.
    pub people: Option<Vec<Box<str>>>,
}

/// The most people a page names for one item (as the report's `--name-people`).
pub const PEOPLE_PER_ITEM: usize = 6;

impl ItemMeta {
    /// Every item of the frame, by frame index (the facts' `item`).
    pub fn of_frame(frame: &Frame) -> Vec<ItemMeta> {
        use crate::untrusted::{link_url, neutralize};
        frame
            .items
            .iter()
            .map(|i| ItemMeta {
                key: neutralize(frame.syms.resolve(i.key)).into(),
                source: neutralize(frame.syms.resolve(i.source)).into(),
                title: neutralize(&i.title).into(),
                link: link_url(&i.url).map(Into::into),
                people: None,
            })
            .collect()
    }

    /// As [`ItemMeta::of_frame`], naming each item's people as of `now` (the frame prepared):
    /// for a daemon whose operator turned `[server] name_people` on.
    pub fn of_frame_naming_people(frame: &Frame, dir: &Directory, now: Ts) -> Vec<ItemMeta> {
        use crate::signals::frame::NO_SYM;
        // Each identity resolved once: None for a bot or an identity no person has.
        let mut names: std::collections::HashMap<u32, Option<Box<str>>> = std::collections::HashMap::new();
        let mut name_of = |sym: u32| -> Option<Box<str>> {
            if sym == NO_SYM {
                return None;
            }
            names
                .entry(sym)
                .or_insert_with(|| {
                    let identity = frame.syms.resolve(sym);
                    let person = dir.person_of(identity).filter(|_| !dir.is_bot(identity))?;
                    Some(crate::untrusted::neutralize(&dir.person(person).name).into())
                })
                .clone()
        };
        let mut metas = ItemMeta::of_frame(frame);
        for (index, (meta, info)) in metas.iter_mut().zip(&frame.items).enumerate() {
            let mut people: Vec<Box<str>> = Vec::new();
            let actors = frame.item_events(index as u32).iter().take_while(|e| e.at <= now).map(|e| e.actor);
            for sym in std::iter::once(info.author).chain(actors) {
                if people.len() >= PEOPLE_PER_ITEM {
                    break;
                }
                if let Some(name) = name_of(sym).filter(|n| !people.contains(n)) {
                    people.push(name);
                }
            }
            meta.people = Some(people);
        }
        metas
    }
}

/// One published computation as the pages read it: the facts, the items they name, and how their
/// teams are exported at `now` (the privacy floor of that computation).
pub struct Computation {
    pub now: Ts,
    pub analysis: Arc<Analysis>,
    pub items: Vec<ItemMeta>,
    pub directory: Arc<Directory>,
    pub config: SignalsConfig,
    pub labels: TeamLabels,
}

impl Computation {
    pub fn new(
        now: Ts,
        analysis: Arc<Analysis>,
        items: Vec<ItemMeta>,
        directory: Arc<Directory>,
        config: SignalsConfig,
    ) -> Computation {
        let labels = TeamLabels::new(&analysis, &directory, &config, now);
        Computation { now, analysis, items, directory, config, labels }
    }
}

/// The last published computation; the daemon swaps it in after each recompute, a page clones
/// the `Arc` (a read lock held for that clone only).
#[derive(Default)]
pub struct Published {
    computation: RwLock<Option<Arc<Computation>>>,
    /// Why no computation is served here, when another process serves it (a follower replica).
    elsewhere: RwLock<Option<ServedElsewhere>>,
}

/// A replica that computes nothing answers pages and `/report` with a 503 saying this and when
/// to ask again (`Retry-After`): the leader's role may come here within the lease period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedElsewhere {
    pub message: String,
    pub retry_after_seconds: u64,
}

impl Published {
    pub fn publish(&self, c: Computation) {
        *self.computation.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(c));
    }
    pub fn get(&self) -> Option<Arc<Computation>> {
        self.computation.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Takes the computation down (a replica that is no longer the leader serves no pages).
    pub fn withdraw(&self) {
        *self.computation.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
    /// Says where the computation is served instead (None: here, or nowhere yet).
    pub fn set_elsewhere(&self, elsewhere: Option<ServedElsewhere>) {
        *self.elsewhere.write().unwrap_or_else(|e| e.into_inner()) = elsewhere;
    }
    pub fn elsewhere(&self) -> Option<ServedElsewhere> {
        self.elsewhere.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The filters of the handoff list: the dimensions of `siloscope_handoffs_*` (kind, from_team,
/// to_team, source), `team` for either side, `state`, and `window` (handed over within it); with
/// `agreement`, the handoffs that agreement covers and decided (`state` kept or broken, the range
/// on when they were decided), what `siloscope_agreement_*_total` count.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HandoffFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_a: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_b: Option<String>,
    /// A working agreement's name: its covered handoffs decided by `now`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    /// Handed over at or after (Unix ms); what still waits is listed whatever it says. With
    /// `agreement`: decided at or after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Handed over before (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    #[serde(skip)]
    pub limit: Option<usize>,
}

/// The keys the handoff list accepts, in the order its links write them.
pub const HANDOFF_FILTERS: [&str; 13] = [
    "team",
    "from_team",
    "to_team",
    "kind",
    "state",
    "source",
    "window",
    "team_a",
    "team_b",
    "agreement",
    "from",
    "to",
    "limit",
];

impl HandoffFilter {
    /// From a query string's pairs; an unknown key or value is an error naming the accepted ones.
    pub fn parse(pairs: &[(String, String)], cfg: &SignalsConfig) -> Result<HandoffFilter, String> {
        let mut f = HandoffFilter::default();
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            let slot = match k.as_str() {
                "team" => &mut f.team,
                "from_team" => &mut f.from_team,
                "to_team" => &mut f.to_team,
                "team_a" => &mut f.team_a,
                "team_b" => &mut f.team_b,
                "kind" => {
                    if HandoffKind::parse(v).is_none() {
                        return Err(format!("unknown kind {v:?}: use reassign, review or transfer"));
                    }
                    &mut f.kind
                }
                "state" => {
                    if HandoffState::parse(v).is_none() && Outcome::parse(v).is_none() {
                        return Err(format!(
                            "unknown state {v:?}: use waiting (stalled included, as the metric), stalled, acknowledged, bounced or ended; with agreement, kept or broken"
                        ));
                    }
                    &mut f.state
                }
                "agreement" => {
                    // A board's selection as the team parameters take it: `.*` every agreement,
                    // `{a,b}` those named; each name one of the config's.
                    let names: Vec<&str> = match v.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        _ if v == ".*" => vec![],
                        Some(list) => list.split(',').collect(),
                        None => vec![v.as_str()],
                    };
                    if let Some(unknown) = names.iter().find(|n| !cfg.agreements.iter().any(|a| a.name == **n)) {
                        let known: Vec<&str> = cfg.agreements.iter().map(|a| a.name.as_str()).collect();
                        return Err(if known.is_empty() {
                            format!("unknown agreement {unknown:?}: the config has no [[agreements]]")
                        } else {
                            format!("unknown agreement {unknown:?}: use one of {}", known.join(", "))
                        });
                    }
                    &mut f.agreement
                }
                "source" => &mut f.source,
                "from" => {
                    f.from = Some(parse_millis(k, v)?);
                    continue;
                }
                "to" => {
                    f.to = Some(parse_millis(k, v)?);
                    continue;
                }
                "window" => {
                    check_window(cfg, v)?;
                    &mut f.window
                }
                "limit" => {
                    f.limit = Some(parse_limit(v)?);
                    continue;
                }
                other => {
                    return Err(format!("unknown filter {other:?}: use {}", HANDOFF_FILTERS.join(", ")));
                }
            };
            *slot = Some(v.clone());
        }
        check_range(f.from, f.to)?;
        match (f.state.as_deref(), f.agreement.is_some()) {
            (Some(s), false) if Outcome::parse(s).is_some() => {
                return Err(format!("state {s:?} is an agreement's outcome: add agreement=NAME"));
            }
            (Some(s), true) if Outcome::parse(s).is_none() => {
                return Err(format!("with agreement, state is kept or broken, not {s:?}"));
            }
            _ => {}
        }
        Ok(f)
    }

    /// The filters as an encoded query string (for links to this list).
    pub fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let values = [
            &self.team,
            &self.from_team,
            &self.to_team,
            &self.kind,
            &self.state,
            &self.source,
            &self.window,
            &self.team_a,
            &self.team_b,
            &self.agreement,
        ];
        for (k, v) in HANDOFF_FILTERS.iter().zip(values) {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        append_range(&mut q, self.from, self.to);
        q.finish()
    }
}

/// An item as a list row shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemRef {
    pub key: String,
    pub title: String,
    /// The item in its tracker, when its URL is an http(s) one (else null: never linked).
    pub link: Option<String>,
    pub source: String,
    /// The item's story on siloscope (`/items/{key}`), absolute.
    pub page: String,
    /// Its people (author first), only when the operator turned `[server] name_people` on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<String>>,
}

/// One row of `/handoffs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoffRow {
    pub item: ItemRef,
    pub kind: &'static str,
    pub from_team: String,
    pub to_team: String,
    pub state: &'static str,
    pub handed_over_at: String,
    pub acknowledged_at: Option<String>,
    /// When it stopped waiting without an acknowledgement (or bounced), if it did by `now`.
    pub ended_at: Option<String>,
    /// Waiting or stalled: waited so far; acknowledged: the latency; bounced or ended: how long
    /// it waited before it stopped.
    pub seconds: i64,
    /// `seconds` counts the receiving team's working hours only.
    pub working_hours: bool,
    pub stall_after_seconds: i64,
    /// With the `agreement` filter: how the handoff met that agreement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<AgreementOutcome>,
}

/// How a listed handoff met the agreement of the `agreement` filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementOutcome {
    /// kept or broken.
    pub outcome: &'static str,
    /// Handed over + the promise (in the receiving team's working hours where the agreement says so).
    pub deadline: String,
    /// When the outcome was decided: the acknowledgement (kept) or the deadline (broken).
    pub decided_at: String,
}

/// The `/handoffs` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoffsPage {
    pub schema: &'static str,
    /// The instant of the computation the metrics were published from (the list's `now`).
    pub now: String,
    /// This list's absolute URL.
    pub url: String,
    pub filters: HandoffFilter,
    /// Every handoff matching the filters (what the matching metric series sum to).
    pub count: u64,
    /// Rows shown: at most `limit`, oldest handover first.
    pub truncated: bool,
    pub handoffs: Vec<HandoffRow>,
}

/// RFC 3339 in UTC, whole seconds.
pub fn rfc3339(t: Ts) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

/// Whether `team` is in a team parameter's selection (docs/pages-links.md): absent or `.*` (a
/// board's All) selects every team, `{a,b}` (a multi-value selection) any of them, else the name.
pub fn team_selected(selection: Option<&str>, team: &str) -> bool {
    let Some(selection) = selection else { return true };
    if selection == ".*" {
        return true;
    }
    match selection.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some(list) => list.split(',').any(|t| t == team),
        None => selection == team,
    }
}

/// Whether the two teams of a fact are the pair `team_a`, `team_b` in either direction.
fn pair_selected(team_a: Option<&str>, team_b: Option<&str>, one: &str, other: &str) -> bool {
    (team_selected(team_a, one) && team_selected(team_b, other))
        || (team_selected(team_a, other) && team_selected(team_b, one))
}

/// A time range parameter (`from`, `to`): Unix time in milliseconds, as Grafana's `${__from}`.
/// A `window` filter names one of the configured signal windows.
fn check_window(cfg: &SignalsConfig, v: &str) -> Result<(), String> {
    if cfg.windows.iter().any(|(w, _)| w == v) {
        return Ok(());
    }
    let names: Vec<&str> = cfg.windows.iter().map(|(w, _)| w.as_str()).collect();
    Err(format!("unknown window {v:?}: use one of {}", names.join(", ")))
}

/// A `limit` filter: a number of rows, at most `MAX_LIMIT`.
fn parse_limit(v: &str) -> Result<usize, String> {
    let n: usize = v.parse().map_err(|_| format!("limit {v:?} is not a number"))?;
    Ok(n.min(MAX_LIMIT))
}

fn parse_millis(key: &str, value: &str) -> Result<i64, String> {
    value.parse().map_err(|_| format!("{key} {value:?} is not a time in Unix milliseconds (as Grafana's ${{__{key}}})"))
}

/// Refuses a range that ends before it starts.
fn check_range(from: Option<i64>, to: Option<i64>) -> Result<(), String> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(format!("from ({f}) is after to ({t})")),
        _ => Ok(()),
    }
}

/// Whether the instant `at` (seconds) is in `[from, to)` (milliseconds; an absent end is open).
fn in_range(at: Ts, from: Option<i64>, to: Option<i64>) -> bool {
    let at = at.saturating_mul(1000);
    from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t)
}

/// Appends `from` and `to` to a list's query string.
fn append_range(q: &mut url::form_urlencoded::Serializer<'_, String>, from: Option<i64>, to: Option<i64>) {
    for (k, v) in [("from", from), ("to", to)] {
        if let Some(v) = v {
            q.append_pair(k, &v.to_string());
        }
    }
}

/// The handoff list of `c` under `filter`.
pub fn handoffs(c: &Computation, filter: &HandoffFilter, base: &ExternalUrl) -> HandoffsPage {
    let state = filter.state.as_deref().and_then(HandoffState::parse);
    let kind = filter.kind.as_deref().and_then(HandoffKind::parse);
    let since =
        filter.window.as_deref().and_then(|w| c.config.windows.iter().find(|(n, _)| n == w)).map(|(_, l)| c.now - l);
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    // With `agreement`: its facts decided by `now`, by handoff (none under the privacy floor,
    // which exports no series of it either).
    // A selection of several agreements lists a handoff covered by more than one once, with the
    // outcome under the first of them in config order.
    let agreement: Option<std::collections::HashMap<u32, AgreementFact>> =
        filter.agreement.as_deref().map(|selection| {
            let outcome = filter.state.as_deref().and_then(Outcome::parse);
            let mut facts = std::collections::HashMap::new();
            for (i, a) in c.config.agreements.iter().enumerate().rev() {
                if !team_selected(Some(selection), &a.name) || suppressed(&c.directory, &c.config, &c.labels, i) {
                    continue;
                }
                facts.extend(
                    agreement_facts_of(&c.analysis, &c.directory, &c.config, i)
                        .into_iter()
                        .filter(|f| {
                            f.decided_at <= c.now
                                && in_range(f.decided_at, filter.from, filter.to)
                                && outcome.is_none_or(|o| f.outcome == o)
                        })
                        .map(|f| (f.handoff as u32, f)),
                );
            }
            facts
        });
    // The filters on the facts themselves first (no state, no allocation), so a team's list
    // computes the state of that team's handoffs only, and a list without a state filter the
    // state of the rows it shows only; oldest handover first, ties in fact order.
    let facts = &c.analysis.handoffs;
    let mut narrowed: Vec<u32> = (0..facts.len() as u32)
        .filter(|&i| {
            let h = &facts[i as usize];
            let (from, to) = (c.labels.get(h.from), c.labels.get(h.to));
            h.at <= c.now
                && kind.is_none_or(|k| h.kind == k)
                && team_selected(filter.from_team.as_deref(), from)
                && team_selected(filter.to_team.as_deref(), to)
                && (team_selected(filter.team.as_deref(), from) || team_selected(filter.team.as_deref(), to))
                && pair_selected(filter.team_a.as_deref(), filter.team_b.as_deref(), from, to)
                && agreement.as_ref().is_none_or(|a| a.contains_key(&i))
                && (agreement.is_some() || in_range(h.at, None, filter.to))
                && filter
                    .source
                    .as_deref()
                    .is_none_or(|s| c.items.get(h.item as usize).is_some_and(|i| *i.source == *s))
                && since.is_none_or(|s| h.at > s)
        })
        .collect();
    let at = |i: u32| handoff_at(&facts[i as usize], &c.directory, &c.config, &c.labels, c.now);
    // Handed over before `from`: listed only while it still waits (the state of those only).
    if filter.from.is_some() && agreement.is_none() {
        narrowed.retain(|&i| {
            in_range(facts[i as usize].at, filter.from, None) || at(i).is_some_and(|h| h.state.is_waiting())
        });
    }
    if let Some(state) = state.filter(|_| agreement.is_none()) {
        narrowed.retain(|&i| {
            at(i).is_some_and(|h| match state {
                HandoffState::Waiting => h.state.is_waiting(),
                s => h.state == s,
            })
        });
    }
    let count = narrowed.len() as u64;
    let oldest = |&i: &u32| (facts[i as usize].at, facts[i as usize].item, i);
    let truncated = narrowed.len() > limit;
    if truncated {
        narrowed.select_nth_unstable_by_key(limit, oldest);
        narrowed.truncate(limit);
    }
    narrowed.sort_unstable_by_key(oldest);
    let matching: Vec<_> = narrowed.into_iter().filter_map(|i| Some((i, at(i)?))).collect();
    let rows = matching
        .into_iter()
        .map(|(i, h)| {
            let stopped = [h.fact.ended_at, h.fact.bounced_at].into_iter().flatten().filter(|t| *t <= c.now).min();
            HandoffRow {
                item: item_ref(c, h.fact.item, base),
                kind: h.fact.kind.as_str(),
                from_team: h.from.to_string(),
                to_team: h.to.to_string(),
                state: h.state.as_str(),
                handed_over_at: rfc3339(h.fact.at),
                acknowledged_at: h.fact.acked_at.filter(|a| *a <= c.now).map(rfc3339),
                ended_at: if h.state.is_waiting() { None } else { stopped.map(rfc3339) },
                seconds: h.seconds,
                working_hours: h.working_hours,
                stall_after_seconds: h.stall_after,
                agreement: agreement.as_ref().and_then(|a| a.get(&i)).map(|f| AgreementOutcome {
                    outcome: f.outcome.as_str(),
                    deadline: rfc3339(f.deadline),
                    decided_at: rfc3339(f.decided_at),
                }),
            }
        })
        .collect();
    HandoffsPage {
        schema: HANDOFFS_SCHEMA,
        now: rfc3339(c.now),
        url: base.join("/handoffs", &filter.query()),
        filters: filter.clone(),
        count,
        truncated,
        handoffs: rows,
    }
}

/// The JSON document of `/decisions` (docs/pages.md, docs/schemas/decisions.v1.json).
pub const DECISIONS_SCHEMA: &str = "siloscope.decisions.v1";

/// The keys the decision log accepts, in the order its links write them.
pub const DECISION_FILTERS: [&str; 8] = ["team", "state", "reason", "source", "window", "from", "to", "limit"];

/// The filters of the decision log: the dimensions of `siloscope_decisions_total` (team) and
/// `siloscope_decisions_rehashed_total` (team, reason), `state` (made: every decision, as the
/// first metric; rehashed: as the second; standing: made and not rehashed), `source`, and
/// `window` (made within it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DecisionFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Made or rehashed at or after (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Made or rehashed before (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    #[serde(skip)]
    pub limit: Option<usize>,
}

const REHASH_REASONS: [crate::signals::records::RehashReason; 4] = {
    use crate::signals::records::RehashReason::*;
    [Reopened, Superseded, Status, Discussion]
};

impl DecisionFilter {
    pub fn parse(pairs: &[(String, String)], cfg: &SignalsConfig) -> Result<DecisionFilter, String> {
        let mut f = DecisionFilter::default();
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            let slot = match k.as_str() {
                "team" => &mut f.team,
                "state" => {
                    if !["made", "rehashed", "standing"].contains(&v.as_str()) {
                        return Err(format!("unknown state {v:?}: use made, rehashed or standing"));
                    }
                    &mut f.state
                }
                "reason" => {
                    if !REHASH_REASONS.iter().any(|r| r.as_str() == v) {
                        return Err(format!("unknown reason {v:?}: use reopened, superseded, status or discussion"));
                    }
                    &mut f.reason
                }
                "source" => &mut f.source,
                "from" => {
                    f.from = Some(parse_millis(k, v)?);
                    continue;
                }
                "to" => {
                    f.to = Some(parse_millis(k, v)?);
                    continue;
                }
                "window" => {
                    check_window(cfg, v)?;
                    &mut f.window
                }
                "limit" => {
                    f.limit = Some(parse_limit(v)?);
                    continue;
                }
                other => return Err(format!("unknown filter {other:?}: use {}", DECISION_FILTERS.join(", "))),
            };
            *slot = Some(v.clone());
        }
        check_range(f.from, f.to)?;
        Ok(f)
    }

    pub fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in DECISION_FILTERS.iter().zip([&self.team, &self.state, &self.reason, &self.source, &self.window]) {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        append_range(&mut q, self.from, self.to);
        q.finish()
    }
}

/// One row of `/decisions`: a decision, when it was made, by which team, and if rehashed when and
/// why (within the rehash window, the first reason).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRow {
    pub item: ItemRef,
    pub team: String,
    pub made_at: String,
    /// `standing` or `rehashed`.
    pub state: &'static str,
    pub rehashed_reason: Option<&'static str>,
    pub rehashed_at: Option<String>,
}

/// The `/decisions` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionsPage {
    pub schema: &'static str,
    pub now: String,
    pub url: String,
    pub filters: DecisionFilter,
    pub count: u64,
    pub truncated: bool,
    pub decisions: Vec<DecisionRow>,
}

/// The path of an item's story page: `/items/` and the key as one percent-encoded path segment.
pub fn item_path(key: &str) -> String {
    format!("/items/{}", crate::sources::http::encode_component(key))
}

fn item_ref(c: &Computation, item: u32, base: &ExternalUrl) -> ItemRef {
    let i = c.items.get(item as usize);
    ItemRef {
        page: base.join(&item_path(i.map(|i| &*i.key).unwrap_or_default()), ""),
        key: i.map(|i| i.key.to_string()).unwrap_or_default(),
        title: i.map(|i| i.title.to_string()).unwrap_or_default(),
        link: i.and_then(|i| i.link.as_deref().map(String::from)),
        source: i.map(|i| i.source.to_string()).unwrap_or_default(),
        people: i.and_then(|i| i.people.as_ref()).map(|p| p.iter().map(|n| n.to_string()).collect()),
    }
}

/// The decision log of `c` under `filter`, newest decision first.
pub fn decisions(c: &Computation, filter: &DecisionFilter, base: &ExternalUrl) -> DecisionsPage {
    use crate::signals::state::decision_state;
    let since =
        filter.window.as_deref().and_then(|w| c.config.windows.iter().find(|(n, _)| n == w)).map(|(_, l)| c.now - l);
    let mut matching: Vec<_> = c
        .analysis
        .decisions
        .iter()
        .filter_map(|d| Some((d, decision_state(d, c.now)?)))
        .filter(|(_, s)| match filter.state.as_deref() {
            Some("rehashed") => s.rehashed.is_some(),
            Some("standing") => s.rehashed.is_none(),
            _ => true,
        })
        .filter(|(_, s)| {
            filter.reason.as_deref().is_none_or(|r| s.rehashed.is_some_and(|(reason, _)| reason.as_str() == r))
        })
        .filter(|(d, _)| team_selected(filter.team.as_deref(), c.labels.get(d.team)))
        .filter(|(d, s)| {
            in_range(d.made_at, filter.from, filter.to)
                || s.rehashed.is_some_and(|(_, at)| in_range(at, filter.from, filter.to))
        })
        .filter(|(d, _)| {
            filter.source.as_deref().is_none_or(|s| c.items.get(d.item as usize).is_some_and(|i| *i.source == *s))
        })
        .filter(|(d, _)| since.is_none_or(|s| d.made_at > s))
        .collect();
    let count = matching.len() as u64;
    matching.sort_by_key(|(d, _)| (std::cmp::Reverse(d.made_at), d.item));
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    let truncated = matching.len() > limit;
    matching.truncate(limit);
    let rows = matching
        .into_iter()
        .map(|(d, s)| DecisionRow {
            item: item_ref(c, d.item, base),
            team: c.labels.get(d.team).to_string(),
            made_at: rfc3339(d.made_at),
            state: if s.rehashed.is_some() { "rehashed" } else { "standing" },
            rehashed_reason: s.rehashed.map(|(r, _)| r.as_str()),
            rehashed_at: s.rehashed.map(|(_, at)| rfc3339(at)),
        })
        .collect();
    DecisionsPage {
        schema: DECISIONS_SCHEMA,
        now: rfc3339(c.now),
        url: base.join("/decisions", &filter.query()),
        filters: filter.clone(),
        count,
        truncated,
        decisions: rows,
    }
}

/// The JSON document of `/items/{key}` (docs/pages.md, docs/schemas/item.v1.json).
pub const ITEM_SCHEMA: &str = "siloscope.item.v1";

/// One step of an item's custody story.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryStep {
    pub at: String,
    /// handoff, acknowledged, ended, bounced, review, decision_made, decision_rehashed.
    pub what: &'static str,
    /// The team acting or receiving (exported label): the handoff's receiver, the acknowledging
    /// team, the reviewing team, the deciding team.
    pub team: String,
    /// The other team of the step: the handoff's sender, the reviewed (author's) team.
    pub other_team: Option<String>,
    /// The handoff's kind, the review's state, the rehash reason.
    pub detail: Option<&'static str>,
}

/// The `/items/{key}` document: the item's custody timeline from the facts, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemPage {
    pub schema: &'static str,
    pub now: String,
    pub url: String,
    pub item: ItemRef,
    pub steps: Vec<StoryStep>,
}

/// The story of the item with `key` at `c.now`, or None when no item has that key.
pub fn item_story(c: &Computation, key: &str, base: &ExternalUrl) -> Option<ItemPage> {
    let index = c.items.iter().position(|i| &*i.key == key)? as u32;
    let team = |t| c.labels.get(t).to_string();
    let mut steps: Vec<(Ts, u8, StoryStep)> = Vec::new();
    let mut push = |at: Ts, order: u8, step: StoryStep| {
        if at <= c.now {
            steps.push((at, order, step));
        }
    };
    let step = |at: Ts, what, team: String, other_team: Option<String>, detail| StoryStep {
        at: rfc3339(at),
        what,
        team,
        other_team,
        detail,
    };
    for h in c.analysis.handoffs.iter().filter(|h| h.item == index) {
        let kind = Some(h.kind.as_str());
        push(h.at, 0, step(h.at, "handoff", team(h.to), Some(team(h.from)), kind));
        if let Some(a) = h.acked_at {
            push(a, 1, step(a, "acknowledged", team(h.to), Some(team(h.from)), kind));
        }
        if let Some(b) = h.bounced_at {
            push(b, 2, step(b, "bounced", team(h.from), Some(team(h.to)), kind));
        } else if let Some(e) = h.ended_at {
            push(e, 2, step(e, "ended", team(h.to), Some(team(h.from)), kind));
        }
    }
    for r in c.analysis.reviews.iter().filter(|r| r.item == index) {
        let state = Some(match r.state {
            crate::model::ReviewState::Approved => "approved",
            crate::model::ReviewState::ChangesRequested => "changes_requested",
            crate::model::ReviewState::Commented => "commented",
        });
        push(r.at, 3, step(r.at, "review", team(r.reviewer_team), Some(team(r.author_team)), state));
    }
    for d in c.analysis.decisions.iter().filter(|d| d.item == index) {
        push(d.made_at, 4, step(d.made_at, "decision_made", team(d.team), None, None));
        if let Some((reason, at)) = d.rehashed {
            push(at, 5, step(at, "decision_rehashed", team(d.team), None, Some(reason.as_str())));
        }
    }
    steps.sort_by_key(|(at, order, _)| (*at, *order));
    Some(ItemPage {
        schema: ITEM_SCHEMA,
        now: rfc3339(c.now),
        url: base.join(&item_path(key), ""),
        item: item_ref(c, index, base),
        steps: steps.into_iter().map(|(_, _, s)| s).collect(),
    })
}

/// The JSON document of `/reviews` (docs/pages.md, docs/schemas/reviews.v1.json).
pub const REVIEWS_SCHEMA: &str = "siloscope.reviews.v1";

/// The keys the review list accepts, in the order its links write them.
pub const REVIEW_FILTERS: [&str; 11] =
    ["team", "author_team", "reviewer_team", "state", "source", "window", "team_a", "team_b", "from", "to", "limit"];

/// The filters of the review list: the dimensions of `siloscope_reviews_total` (author_team,
/// reviewer_team, state), `team` for either side, `source`, `window` (given within it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReviewFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer_team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_a: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_b: Option<String>,
    /// Submitted at or after (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Submitted before (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    #[serde(skip)]
    pub limit: Option<usize>,
}

impl ReviewFilter {
    pub fn parse(pairs: &[(String, String)], cfg: &SignalsConfig) -> Result<ReviewFilter, String> {
        let mut f = ReviewFilter::default();
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            let slot = match k.as_str() {
                "team" => &mut f.team,
                "author_team" => &mut f.author_team,
                "reviewer_team" => &mut f.reviewer_team,
                "team_a" => &mut f.team_a,
                "team_b" => &mut f.team_b,
                "state" => {
                    if !["approved", "changes_requested", "commented"].contains(&v.as_str()) {
                        return Err(format!("unknown state {v:?}: use approved, changes_requested or commented"));
                    }
                    &mut f.state
                }
                "source" => &mut f.source,
                "from" => {
                    f.from = Some(parse_millis(k, v)?);
                    continue;
                }
                "to" => {
                    f.to = Some(parse_millis(k, v)?);
                    continue;
                }
                "window" => {
                    check_window(cfg, v)?;
                    &mut f.window
                }
                "limit" => {
                    f.limit = Some(parse_limit(v)?);
                    continue;
                }
                other => return Err(format!("unknown filter {other:?}: use {}", REVIEW_FILTERS.join(", "))),
            };
            *slot = Some(v.clone());
        }
        check_range(f.from, f.to)?;
        Ok(f)
    }

    pub fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let values = [
            &self.team,
            &self.author_team,
            &self.reviewer_team,
            &self.state,
            &self.source,
            &self.window,
            &self.team_a,
            &self.team_b,
        ];
        for (k, v) in REVIEW_FILTERS.iter().zip(values) {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        append_range(&mut q, self.from, self.to);
        q.finish()
    }
}

/// One row of `/reviews`: a submitted review between teams, with the pickup when it was the
/// first review of a cross-team request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewRow {
    pub item: ItemRef,
    pub author_team: String,
    pub reviewer_team: String,
    pub state: &'static str,
    pub reviewed_at: String,
    /// When this review picked up a cross-team request: when it was requested and the pickup
    /// time (draft time excluded), as `siloscope_review_pickup_seconds` observes it.
    pub requested_at: Option<String>,
    pub pickup_seconds: Option<i64>,
}

/// The `/reviews` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewsPage {
    pub schema: &'static str,
    pub now: String,
    pub url: String,
    pub filters: ReviewFilter,
    /// Every matching review (what the matching `siloscope_reviews_total` series sum to).
    pub count: u64,
    pub truncated: bool,
    pub reviews: Vec<ReviewRow>,
}

/// The reviews of `c` under `filter`, newest first.
pub fn reviews(c: &Computation, filter: &ReviewFilter, base: &ExternalUrl) -> ReviewsPage {
    let since =
        filter.window.as_deref().and_then(|w| c.config.windows.iter().find(|(n, _)| n == w)).map(|(_, l)| c.now - l);
    let team = |t| c.labels.get(t);
    let mut matching: Vec<_> = c
        .analysis
        .reviews
        .iter()
        .filter(|r| r.at <= c.now)
        .filter(|r| filter.state.as_deref().is_none_or(|s| r.state.as_str() == s))
        .filter(|r| team_selected(filter.author_team.as_deref(), team(r.author_team)))
        .filter(|r| team_selected(filter.reviewer_team.as_deref(), team(r.reviewer_team)))
        .filter(|r| {
            team_selected(filter.team.as_deref(), team(r.author_team))
                || team_selected(filter.team.as_deref(), team(r.reviewer_team))
        })
        .filter(|r| {
            pair_selected(
                filter.team_a.as_deref(),
                filter.team_b.as_deref(),
                team(r.author_team),
                team(r.reviewer_team),
            )
        })
        .filter(|r| in_range(r.at, filter.from, filter.to))
        .filter(|r| {
            filter.source.as_deref().is_none_or(|s| c.items.get(r.item as usize).is_some_and(|i| *i.source == *s))
        })
        .filter(|r| since.is_none_or(|s| r.at > s))
        .collect();
    let count = matching.len() as u64;
    matching.sort_by_key(|r| (std::cmp::Reverse(r.at), r.item));
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    let truncated = matching.len() > limit;
    matching.truncate(limit);
    let rows = matching
        .into_iter()
        .map(|r| {
            let pickup = c.analysis.pickups.iter().find(|p| {
                p.item == r.item && p.reviewer_team == r.reviewer_team && p.picked_at == r.at && p.picked_at <= c.now
            });
            ReviewRow {
                item: item_ref(c, r.item, base),
                author_team: team(r.author_team).to_string(),
                reviewer_team: team(r.reviewer_team).to_string(),
                state: r.state.as_str(),
                reviewed_at: rfc3339(r.at),
                requested_at: pickup.map(|p| rfc3339(p.requested_at)),
                pickup_seconds: pickup.map(|p| p.seconds),
            }
        })
        .collect();
    ReviewsPage {
        schema: REVIEWS_SCHEMA,
        now: rfc3339(c.now),
        url: base.join("/reviews", &filter.query()),
        filters: filter.clone(),
        count,
        truncated,
        reviews: rows,
    }
}
