//! siloscope-report, the alignment report: the figures of a period and of the period before it, derived from one
//! `Analysis` by filtering its facts on their own timestamps (exact quantiles, never histogram
//! buckets), plus headlines, trends, drill-down lists, coverage and definitions. Owns the data
//! model (its serde form is the JSON format); it renders nothing and never names a person unless
//! asked to. Its only I/O is reading a `Store` through the trait, for the CLI and the daemon.

pub mod html;
pub mod markdown;
pub mod svg;

// The files came from one crate where the modules below were `crate::…`; the aliases keep their paths.
use siloscope_config as config;
use siloscope_engine as signals;
use siloscope_engine::coverage;
use siloscope_exporter as exporter;
use siloscope_model as model;
use siloscope_model::{teams, untrusted};
use siloscope_store as store;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate};
use serde::{Serialize, Serializer};

use crate::config::Config;
use crate::model::mutex::lock;
use crate::model::{DAY, HistoryStart, Ts};
use crate::signals::aggregate::{TeamLabels, is_stalled, waited};
use crate::signals::frame::NO_SYM;
use crate::signals::{Analysis, Frame, SignalsConfig, analyze};
use crate::store::Store;
use crate::teams::{Directory, OTHER_TEAM, PersonId, TeamId};

/// Identifies the JSON document's shape for other tools.
pub const SCHEMA: &str = "siloscope.report.v1";
/// HTML and Markdown show at most this many rows of a drill-down list (the JSON has them all).
pub const LIST_LIMIT: usize = 15;
/// The worst bounces: at most this many items, in every format.
pub const WORST_BOUNCES: usize = 15;
/// The handoffs that broke an agreement most: at most this many per agreement, in every format.
pub const WORST_BREACHES: usize = 10;
/// Longer `--from`/`--to` spans are refused as typos (they would only make a slow, useless report).
const MAX_SPAN_YEARS: i64 = 50;
/// People named per listed item with `--name-people`.
const PEOPLE_PER_ITEM: usize = 6;
/// The coverage row of events whose item row is missing: not a source, so it bounds no period.
const UNKNOWN_SOURCE: &str = "(unknown)";

// ---------------------------------------------------------------------------------------------
// Periods.
// ---------------------------------------------------------------------------------------------

/// How a period was given, which decides what "the previous period" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeriodKind {
    Year(i32),
    Quarter(i32, u32),
    Month(i32, u32),
    /// Any other span: the previous period is the span of the same length just before.
    Span,
}

/// A half-open time range `[start, end)` with a name for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    pub label: String,
    #[serde(serialize_with = "ser_time")]
    pub start: Ts,
    /// Exclusive: the first second after the period.
    #[serde(serialize_with = "ser_time")]
    pub end: Ts,
    #[serde(skip)]
    kind: PeriodKind,
}

fn midnight(y: i32, m: u32, d: u32) -> Option<Ts> {
    NaiveDate::from_ymd_opt(y, m, d).map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp())
}

impl Period {
    /// A calendar period: `2026-Q3`, `2026-07` or `2026`.
    pub fn parse(spec: &str) -> Result<Period, String> {
        let text = spec.trim();
        let bad = || {
            format!(
                "malformed period {spec:?}: expected a quarter like 2026-Q3, a month like 2026-07 or a year like 2026 \
                 (or use --from DATE --to DATE)"
            )
        };
        let year = |s: &str| -> Result<i32, String> {
            if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let kind = match text.split_once('-') {
            None => PeriodKind::Year(year(text)?),
            Some((y, rest)) => {
                let y = year(y)?;
                if let Some(q) = rest.strip_prefix('Q').or_else(|| rest.strip_prefix('q')) {
                    match q {
                        "1" | "2" | "3" | "4" => PeriodKind::Quarter(y, q.parse().map_err(|_| bad())?),
                        _ => return Err(bad()),
                    }
                } else if rest.len() == 2 && rest.bytes().all(|b| b.is_ascii_digit()) {
                    let m: u32 = rest.parse().map_err(|_| bad())?;
                    if !(1..=12).contains(&m) {
                        return Err(bad());
                    }
                    PeriodKind::Month(y, m)
                } else {
                    return Err(bad());
                }
            }
        };
        Period::of_kind(kind).ok_or_else(bad)
    }

    fn of_kind(kind: PeriodKind) -> Option<Period> {
        let (label, start, end) = match kind {
            PeriodKind::Year(y) => (format!("{y}"), midnight(y, 1, 1)?, midnight(y + 1, 1, 1)?),
            PeriodKind::Quarter(y, q) => {
                let m = 3 * (q - 1) + 1;
                let end = if q == 4 { midnight(y + 1, 1, 1)? } else { midnight(y, m + 3, 1)? };
                (format!("{y}-Q{q}"), midnight(y, m, 1)?, end)
            }
            PeriodKind::Month(y, m) => {
                let end = if m == 12 { midnight(y + 1, 1, 1)? } else { midnight(y, m + 1, 1)? };
                (format!("{y}-{m:02}"), midnight(y, m, 1)?, end)
            }
            PeriodKind::Span => return None,
        };
        Some(Period { label, start, end, kind })
    }

    /// `--from DATE --to DATE`: dates are whole days (`--to` included); RFC 3339 times are exact
    /// instants (`--to` excluded).
    pub fn between(from: &str, to: &str) -> Result<Period, String> {
        let start = crate::config::parse_date(from).map_err(|e| format!("malformed --from: {e}"))?;
        let to_text = to.trim();
        let end = crate::config::parse_date(to_text).map_err(|e| format!("malformed --to: {e}"))?;
        let whole_day = NaiveDate::parse_from_str(to_text, "%Y-%m-%d").is_ok();
        let end = if whole_day { end + DAY } else { end };
        if end <= start {
            return Err(format!("empty period: --to {to_text} is not after --from {}", from.trim()));
        }
        if end - start > MAX_SPAN_YEARS * 366 * DAY {
            return Err(format!(
                "period too long: --from {} --to {to_text} spans more than {MAX_SPAN_YEARS} years; check the dates",
                from.trim()
            ));
        }
        Ok(Period::span(start, end))
    }

    /// Any `[start, end)`, labelled with its dates.
    pub fn span(start: Ts, end: Ts) -> Period {
        let label = format!("{} – {}", fmt_date(start), fmt_date(end - 1));
        Period { label, start, end, kind: PeriodKind::Span }
    }

    /// The current quarter up to `now` included (what the daemon serves at `/report`).
    pub fn quarter_to_date(now: Ts) -> Period {
        let quarter = DateTime::from_timestamp(now, 0)
            .map(|d| PeriodKind::Quarter(d.year(), (d.month() - 1) / 3 + 1))
            .and_then(Period::of_kind);
        match quarter {
            Some(q) => {
                Period { label: format!("{} to date", q.label), start: q.start, end: now + 1, kind: PeriodKind::Span }
            }
            None => Period::span(now - 90 * DAY, now + 1),
        }
    }

    /// The period before: the previous quarter / month / year for calendar periods, else the
    /// span of the same length just before.
    pub fn previous(&self) -> Period {
        let prev_kind = match self.kind {
            PeriodKind::Year(y) => Some(PeriodKind::Year(y - 1)),
            PeriodKind::Quarter(y, 1) => Some(PeriodKind::Quarter(y - 1, 4)),
            PeriodKind::Quarter(y, q) => Some(PeriodKind::Quarter(y, q - 1)),
            PeriodKind::Month(y, 1) => Some(PeriodKind::Month(y - 1, 12)),
            PeriodKind::Month(y, m) => Some(PeriodKind::Month(y, m - 1)),
            PeriodKind::Span => None,
        };
        prev_kind
            .and_then(Period::of_kind)
            .unwrap_or_else(|| Period::span(self.start - (self.end - self.start), self.start))
    }

    /// The last second inside the period ("at the period's end").
    pub fn last_second(&self) -> Ts {
        self.end - 1
    }

    pub fn days(&self) -> f64 {
        (self.end - self.start) as f64 / DAY as f64
    }

    /// `1 Jul – 30 Sep 2026`.
    pub fn dates(&self) -> String {
        format!("{} – {}", fmt_day(self.start), fmt_day_year(self.last_second()))
    }

    fn contains(&self, t: Ts) -> bool {
        t >= self.start && t < self.end
    }
}

// ---------------------------------------------------------------------------------------------
// The data model (serialised as the JSON format).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Json,
}

/// What to report on.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    pub period: Period,
    pub previous: Period,
    /// Team names to restrict the report to (any case); empty = every team.
    pub teams: Vec<String>,
    /// Name the people involved in each listed item (off by default, SIGNALS.md §7).
    pub name_people: bool,
    /// When the report is made: the clock's now (the demo's simulated clock). Nothing after it
    /// can be stored yet, so a period running past it is only partly covered.
    pub generated_at: Ts,
    /// Where each source's history begins, as the store recorded it (`Store::history_starts`).
    /// A source with stored events but no record is taken to begin at its first stored event.
    pub history: Vec<(String, HistoryStart)>,
    /// siloscope's external URL (`--web.external-url`, without the final `/`): when known, each
    /// list row links to its item's page and each team or pair figure to its list (docs/pages.md).
    pub pages: Option<String>,
}

impl ReportOptions {
    pub fn new(period: Period, generated_at: Ts) -> ReportOptions {
        let previous = period.previous();
        ReportOptions {
            period,
            previous,
            teams: Vec::new(),
            name_people: false,
            generated_at,
            history: Vec::new(),
            pages: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub title: String,
    pub period: Period,
    pub previous_period: Period,
    #[serde(serialize_with = "ser_time")]
    pub generated_at: Ts,
    /// Team labels the report is restricted to (empty: all teams).
    pub teams_selected: Vec<String>,
    pub people_named: bool,
    /// Any event in the period.
    pub has_data: bool,
    /// Any event in the previous period (otherwise nothing is compared).
    pub has_previous_data: bool,
    /// How much of each period the stored history covers.
    pub period_coverage: Compared<PeriodCoverage>,
    /// Whether changes against the previous period are judged better or worse, and if not why.
    pub comparison: Comparison,
    pub summary: Compared<Figures>,
    pub headlines: Headlines,
    pub teams: Vec<TeamRow>,
    /// Ordered pairs (from → to) with any handoff or bounce in either period.
    pub pairs: Vec<PairRow>,
    /// Unordered pairs (team_a < team_b) with any cross-team review in either period.
    pub reciprocity: Vec<ReciprocityRow>,
    pub trend: Trend,
    pub stalled: Vec<StalledItem>,
    pub bounces: Vec<BouncedItem>,
    pub rehashed_decisions: Vec<RehashedDecision>,
    pub joint_wins: Vec<JointWin>,
    /// The working agreements (`[[agreements]]`) in both periods; absent when none is configured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agreements: Vec<AgreementRow>,
    pub coverage: Coverage,
    pub definitions: Vec<Definition>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compared<T> {
    pub current: T,
    pub previous: T,
}

/// The part of a period the stored history covers: from the latest start of any source's history
/// (its `since`, a simulator's start) to the report's time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodCoverage {
    /// Not all of the period is covered: figures of the uncovered part are missing, not zero.
    pub partial: bool,
    /// The covered part `[from, to)`; both None when no part of the period is covered.
    #[serde(serialize_with = "ser_opt_time")]
    pub from: Option<Ts>,
    #[serde(serialize_with = "ser_opt_time")]
    pub to: Option<Ts>,
    /// The source whose history begins after the period starts (the latest such), if any.
    pub limited_by: Option<String>,
}

impl PeriodCoverage {
    /// `covered 15 May – 30 Jun 2026`, or `not covered`.
    pub fn dates(&self) -> String {
        match (self.from, self.to) {
            (Some(a), Some(b)) => format!("covered {} – {}", fmt_day(a), fmt_day_year(b - 1)),
            _ => "not covered".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// True when the previous period has data and both periods are fully covered.
    pub comparable: bool,
    /// Why not, in a sentence for people.
    pub reason: Option<String>,
}

/// The organisation's figures for one period (restricted to the selected teams, if any).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub handoffs: u64,
    pub acknowledged: u64,
    pub latency_p50_seconds: Option<i64>,
    pub latency_p75_seconds: Option<i64>,
    pub waiting_at_end: u64,
    pub stalled_at_end: u64,
    pub bounces: u64,
    pub decisions_made: u64,
    pub decisions_rehashed: u64,
    pub rehash_rate: Option<f64>,
    pub rework: u64,
    pub cross_team_reviews: u64,
    pub first_responses: u64,
    pub first_response_p50_seconds: Option<i64>,
    pub joint_wins: u64,
    pub bridge_people: u64,
    pub interactions: u64,
    pub silo_index: Option<f64>,
}

/// One team's figures for one period. Handoff figures are of handoffs the team received.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TeamFigures {
    pub members: u64,
    pub handoffs_received: u64,
    pub handoffs_sent: u64,
    pub acknowledged: u64,
    pub latency_p50_seconds: Option<i64>,
    pub latency_p75_seconds: Option<i64>,
    pub waiting_at_end: u64,
    pub stalled_at_end: u64,
    pub bounces: u64,
    pub decisions_made: u64,
    pub decisions_rehashed: u64,
    pub rehash_rate: Option<f64>,
    pub rework: u64,
    pub cross_team_reviews_given: u64,
    pub cross_team_reviews_received: u64,
    pub first_responses: u64,
    pub first_response_p50_seconds: Option<i64>,
    pub joint_wins: u64,
    pub bridge_people: u64,
    pub interactions: u64,
    pub silo_index: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamRow {
    pub team: String,
    pub current: TeamFigures,
    pub previous: TeamFigures,
    /// The lists behind the team's figures in the period (only with an external URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<TeamPages>,
}

/// The drill-down lists of one team's figures over the report's period (`from`/`to` in Unix ms).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamPages {
    /// `/handoffs?to_team=T`: the handoffs the team received.
    pub handoffs_received: String,
    /// `/handoffs?from_team=T`: the handoffs the team sent.
    pub handoffs_sent: String,
    /// `/decisions?team=T`: the decisions the team made or rehashed.
    pub decisions: String,
    /// `/reviews?team=T`: the cross-team reviews the team gave or received.
    pub reviews: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PairFigures {
    pub handoffs: u64,
    pub acknowledged: u64,
    pub latency_p50_seconds: Option<i64>,
    pub latency_p75_seconds: Option<i64>,
    pub stalled_at_end: u64,
    /// Items `from` handed to `to` that `to` sent back within the bounce window.
    pub bounces: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairRow {
    pub from: String,
    pub to: String,
    pub current: PairFigures,
    pub previous: PairFigures,
    /// `/handoffs?from_team=F&to_team=T` over the period (only with an external URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoffs_page: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reciprocity {
    /// Reviews members of team_a gave on pull requests of team_b.
    pub a_reviewed_b: u64,
    pub b_reviewed_a: u64,
    /// min / max of the two (1 = balanced); None when both are 0.
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReciprocityRow {
    pub team_a: String,
    pub team_b: String,
    pub current: Reciprocity,
    pub previous: Reciprocity,
    /// `/reviews?team_a=A&team_b=B` over the period, both directions (only with an external URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviews_page: Option<String>,
}

/// A notable change of one figure against the previous period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub figure: &'static str,
    pub text: String,
    pub previous: f64,
    pub current: f64,
    pub improved: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Headline {
    /// True when the previous period has data to compare with.
    pub comparable: bool,
    pub improved: Vec<Change>,
    pub worsened: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamHeadline {
    pub team: String,
    #[serde(flatten)]
    pub headline: Headline,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairHeadline {
    pub team_a: String,
    pub team_b: String,
    #[serde(flatten)]
    pub headline: Headline,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Headlines {
    pub organisation: Headline,
    pub teams: Vec<TeamHeadline>,
    /// Every unordered pair with activity in either period.
    pub pairs: Vec<PairHeadline>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Week,
    Month,
    Year,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    pub bucket: Bucket,
    pub points: Vec<TrendPoint>,
}

/// The figures of one bucket (a week clipped to the period, or a month / year for long periods).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    #[serde(serialize_with = "ser_time")]
    pub start: Ts,
    #[serde(serialize_with = "ser_time")]
    pub end: Ts,
    /// False for a bucket cut short by the period's bounds or by the stored history's.
    pub complete: bool,
    pub handoffs: u64,
    pub acknowledged: u64,
    pub latency_p50_seconds: Option<i64>,
    pub latency_p75_seconds: Option<i64>,
    pub stalled_at_end: u64,
    pub bounces: u64,
    pub decisions_rehashed: u64,
    pub cross_team_reviews: u64,
    pub joint_wins: u64,
    /// Per team with interactions in the bucket.
    pub silo_index: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemRef {
    pub key: String,
    pub title: String,
    pub url: String,
    /// The item's story on siloscope, `/items/{key}` (only with an external URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StalledItem {
    pub item: ItemRef,
    pub kind: &'static str,
    pub from: String,
    pub to: String,
    #[serde(serialize_with = "ser_time")]
    pub since: Ts,
    /// Waited at the period's end (working time when stall time counts working hours).
    pub waited_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BouncedItem {
    pub item: ItemRef,
    /// Bounces of this item in the period.
    pub bounces: u64,
    /// Teams involved in those bounces.
    pub teams: Vec<String>,
    #[serde(serialize_with = "ser_time")]
    pub first_bounce: Ts,
    /// Custody changes before the item was first closed (its tossing length).
    pub custody_changes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RehashedDecision {
    pub item: ItemRef,
    pub team: String,
    #[serde(serialize_with = "ser_time")]
    pub made_at: Ts,
    #[serde(serialize_with = "ser_time")]
    pub rehashed_at: Ts,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JointWin {
    pub item: ItemRef,
    pub teams: Vec<String>,
    #[serde(serialize_with = "ser_time")]
    pub at: Ts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<String>>,
}

/// A working agreement over the period and the one before (engine `agreements.rs`: a covered
/// handoff is kept at its acknowledgement within the promise, broken at its deadline when still
/// waiting then).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementRow {
    pub name: String,
    pub to_team: String,
    /// Empty: any sending team.
    pub from_teams: Vec<String>,
    /// Empty: every kind.
    pub kinds: Vec<&'static str>,
    pub within_seconds: i64,
    pub working_hours: bool,
    pub objective: f64,
    /// The receiving team is under the privacy floor (at either period's end): no figure, no list.
    pub suppressed: bool,
    pub current: Option<AgreementFigures>,
    pub previous: Option<AgreementFigures>,
    /// The period's breaches that waited longest past the promise, at most [`WORST_BREACHES`].
    pub broke_it_most: Vec<AgreementBreach>,
    /// The list of every handoff that broke it in the period, `/handoffs?agreement=…&state=broken`
    /// (only with an external URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_page: Option<String>,
}

/// An agreement's handoffs decided in one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgreementFigures {
    /// Covered handoffs kept or broken in the period (by when that was decided).
    pub decided: u64,
    pub broken: u64,
    /// `1 − broken / decided`; None when nothing was decided.
    pub attainment: Option<f64>,
    /// Whether the attainment met the objective; None when nothing was decided.
    pub kept: Option<bool>,
    /// The share of the period's error budget (the `1 − objective` of its decided handoffs that
    /// may break) the breaches used: the burn rate over the period, 1 = all of it.
    pub budget_used: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementBreach {
    pub item: ItemRef,
    pub kind: &'static str,
    pub from: String,
    #[serde(serialize_with = "ser_time")]
    pub handed_over: Ts,
    #[serde(serialize_with = "ser_time")]
    pub deadline: Ts,
    /// How long it waited past the promise: to its acknowledgement or the end of its wait, or to
    /// the period's last second when it was still waiting then.
    pub overdue_seconds: i64,
    pub still_waiting: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceCoverage {
    pub name: String,
    /// Where its history begins: activity from then on is complete. None: it read all of its
    /// history (no `since`).
    #[serde(serialize_with = "ser_opt_time")]
    pub history_from: Option<Ts>,
    /// False when the store has no record of where it began (synced before siloscope recorded
    /// it): `history_from` is then its first stored event.
    pub history_recorded: bool,
    pub items: u64,
    pub events: u64,
    pub events_in_period: u64,
    #[serde(serialize_with = "ser_opt_time")]
    pub first_event: Option<Ts>,
    #[serde(serialize_with = "ser_opt_time")]
    pub last_event: Option<Ts>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub sources: Vec<SourceCoverage>,
    #[serde(serialize_with = "ser_opt_time")]
    pub data_from: Option<Ts>,
    #[serde(serialize_with = "ser_opt_time")]
    pub data_to: Option<Ts>,
    pub items_stored: u64,
    pub events_stored: u64,
    pub items_in_period: u64,
    pub events_in_period: u64,
    pub events_in_previous_period: u64,
    /// Team labels as shown (folded teams appear as `other`).
    pub teams: Vec<String>,
    pub privacy_floor: u32,
    /// Teams under the privacy floor, shown as `other`.
    pub folded_teams: Vec<String>,
    /// Identities acting in the data that the team directory does not know, and their events.
    pub unknown_identities: u64,
    pub unknown_identity_events: u64,
    /// Per source, the period's events and active identities the directory resolves to a team
    /// (src/coverage.rs), and the share under which the report warns (`[signals] coverage_warning`).
    pub directory: Vec<crate::coverage::SourceCoverage>,
    pub directory_warning: f64,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Definition {
    pub figure: &'static str,
    pub name: &'static str,
    pub definition: &'static str,
}

/// One percent-encoded URL component: every byte but RFC 3986's unreserved ones encoded.
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The absolute URL of a list page filtered by `params` over `period` (`from`/`to` in Unix ms,
/// `[from, to)`, as the pages and the boards' links take them: docs/pages.md).
fn page_url(base: &str, path: &str, params: &[(&str, &str)], period: &Period) -> String {
    let mut query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode_component(v))).collect();
    query.push(format!("from={}", period.start * 1000));
    query.push(format!("to={}", period.end * 1000));
    format!("{base}{path}?{}", query.join("&"))
}

fn iso(t: Ts) -> String {
    DateTime::from_timestamp(t, 0).map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_else(|| t.to_string())
}

fn ser_time<S: Serializer>(t: &Ts, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso(*t))
}

fn ser_opt_time<S: Serializer>(t: &Option<Ts>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&iso(*t)),
        None => s.serialize_none(),
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting shared by the renderers.
// ---------------------------------------------------------------------------------------------

/// `2026-07-01`.
pub fn fmt_date(t: Ts) -> String {
    DateTime::from_timestamp(t, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| t.to_string())
}

/// `1 Jul`.
pub fn fmt_day(t: Ts) -> String {
    DateTime::from_timestamp(t, 0).map(|d| d.format("%-d %b").to_string()).unwrap_or_else(|| t.to_string())
}

/// `1 Jul 2026`.
pub fn fmt_day_year(t: Ts) -> String {
    DateTime::from_timestamp(t, 0).map(|d| d.format("%-d %b %Y").to_string()).unwrap_or_else(|| t.to_string())
}

/// `2026-07-01 08:00 UTC`.
pub fn fmt_datetime(t: Ts) -> String {
    DateTime::from_timestamp(t, 0).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| t.to_string())
}

/// A duration for people: `40 s`, `25 min`, `6.2 h`, `3.5 d`.
pub fn fmt_duration(seconds: f64) -> String {
    fmt_duration_as(seconds, seconds)
}

/// `seconds` in the unit `fmt_duration` would pick for `scale` (so the two sides of a change
/// read in one unit: `2.4 d → 1.8 d`, not `2.4 d → 44 h`).
pub fn fmt_duration_as(seconds: f64, scale: f64) -> String {
    let sign = if seconds < 0.0 { "−" } else { "" };
    let (s, scale) = (seconds.abs(), scale.abs());
    let one = |v: f64| if v < 9.95 { format!("{v:.1}") } else { format!("{v:.0}") };
    if scale < 60.0 {
        format!("{sign}{s:.0} s")
    } else if scale < 3600.0 {
        format!("{sign}{:.0} min", s / 60.0)
    } else if scale < 2.0 * 86_400.0 {
        format!("{sign}{} h", one(s / 3600.0))
    } else {
        format!("{sign}{} d", one(s / 86_400.0))
    }
}

pub fn fmt_ratio(r: f64) -> String {
    format!("{r:.2}")
}

/// `12,345`.
/// A share as a percentage: `100%`, `93.8%`, `−25%` (budget overspent).
pub fn fmt_percent(r: f64) -> String {
    let p = r * 100.0;
    let sign = if p < 0.0 { "−" } else { "" };
    let p = p.abs();
    if (p - p.round()).abs() < 0.05 { format!("{sign}{:.0}%", p.round()) } else { format!("{sign}{p:.1}%") }
}

impl AgreementRow {
    /// What the agreement promises: `review handoffs from a to b acknowledged within 4.0 h`.
    pub fn promise(&self) -> String {
        let kinds =
            if self.kinds.is_empty() { "handoffs".to_string() } else { format!("{} handoffs", self.kinds.join("/")) };
        let from =
            if self.from_teams.is_empty() { String::new() } else { format!(" from {}", self.from_teams.join(", ")) };
        let hours = if self.working_hours { " working time" } else { "" };
        format!(
            "{kinds}{from} to {} acknowledged within {}{hours}",
            self.to_team,
            fmt_duration(self.within_seconds as f64)
        )
    }
    /// How the attainment moved against the previous period (as the report judges a ratio).
    pub fn trend(&self) -> Verdict {
        match (&self.current, &self.previous) {
            (Some(c), Some(p)) => judge(Unit::Ratio, Better::Higher, p.attainment, c.attainment, p.decided, c.decided),
            _ => Verdict::NotComparable,
        }
    }
}

pub fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn fmt_opt_duration(s: Option<i64>) -> String {
    s.map_or_else(|| "–".into(), |s| fmt_duration(s as f64))
}

pub fn fmt_opt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "–".into(), fmt_ratio)
}

/// Where a source's history begins, for the coverage tables: `all history`, `2026-05-01`, or
/// `2026-05-01 (first stored event)` when the store has no record of it.
pub fn history_text(s: &SourceCoverage) -> String {
    match (s.history_from, s.history_recorded) {
        (None, _) => "all history".into(),
        (Some(t), true) => fmt_date(t),
        (Some(t), false) => format!("{} (first stored event)", fmt_date(t)),
    }
}

// ---------------------------------------------------------------------------------------------
// Computation.
// ---------------------------------------------------------------------------------------------

/// Exact nearest-rank quantile (`q = num/den`) of sorted values: the smallest value with at
/// least q of the values at or below it.
pub fn quantile(sorted: &[i64], num: usize, den: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (num * sorted.len()).div_ceil(den).max(1);
    Some(sorted[rank - 1])
}

fn p50_p75(values: &mut [i64]) -> (Option<i64>, Option<i64>) {
    values.sort_unstable();
    (quantile(values, 1, 2), quantile(values, 3, 4))
}

/// Team id → label for the whole report (both periods use the same names).
struct Names {
    names: Vec<String>,
    folded: Vec<bool>,
    /// Team id → index into `labels` (teams folded together share one).
    index: Vec<usize>,
    /// The distinct labels.
    labels: Vec<String>,
}

impl Names {
    /// Folds as the exported metrics do at the period's end (`TeamLabels`), and also teams that were
    /// active but under the floor at the previous period's end, so no figure of either period
    /// singles out a small team.
    fn new(analysis: &Analysis, dir: &Directory, cfg: &SignalsConfig, opts: &ReportOptions) -> Names {
        let now = TeamLabels::new(analysis, dir, cfg, opts.period.last_second());
        let prev_end = opts.previous.last_second();
        let before = TeamLabels::new(analysis, dir, cfg, prev_end);
        let active_before = analysis.active_people(prev_end - cfg.privacy_window(), prev_end);
        let folded: Vec<bool> = (0..dir.teams().len())
            .map(|t| now.folded[t] || (before.folded[t] && active_before.get(&(t as TeamId)).copied().unwrap_or(0) > 0))
            .collect();
        let names = dir
            .teams()
            .iter()
            .zip(&folded)
            .map(|(t, f)| if *f { OTHER_TEAM.to_string() } else { t.name.clone() })
            .collect::<Vec<String>>();
        let mut labels: Vec<String> = Vec::new();
        let index = names
            .iter()
            .map(|n| match labels.iter().position(|l| l == n) {
                Some(i) => i,
                None => {
                    labels.push(n.clone());
                    labels.len() - 1
                }
            })
            .collect();
        Names { names, folded, index, labels }
    }
    fn get(&self, t: TeamId) -> &str {
        &self.names[t as usize]
    }
}

/// Validates `--teams` names against the directory: the team ids, or an error naming the unknown
/// team and listing the known ones.
pub fn select_teams(dir: &Directory, names: &[String]) -> Result<Vec<TeamId>, String> {
    let mut out = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        match dir.team_by_name(name).or_else(|| dir.team_by_handle(name)) {
            Some(t) => out.push(t),
            None => {
                let mut known: Vec<&str> = dir.teams().iter().map(|t| t.name.as_str()).collect();
                known.sort_unstable();
                let known =
                    if known.is_empty() { "none (the directory is empty)".to_string() } else { known.join(", ") };
                return Err(format!("unknown team {name:?} in --teams; known teams: {known}"));
            }
        }
    }
    Ok(out)
}

/// Sorts team labels alphabetically with `other` last.
fn team_order(a: &str, b: &str) -> std::cmp::Ordering {
    (a == OTHER_TEAM, a).cmp(&(b == OTHER_TEAM, b))
}

/// Everything one period's figures need; `figures` is called for each period and each bucket.
struct Ctx<'a> {
    analysis: &'a Analysis,
    frame: &'a Frame,
    dir: &'a Directory,
    cfg: &'a SignalsConfig,
    names: Names,
    /// Selected labels; empty = all.
    selected: BTreeSet<String>,
    /// Per label index: kept by the selection.
    kept: Vec<bool>,
    /// siloscope's external URL, when the report links to its pages.
    pages: Option<&'a str>,
}

/// The figures of one time range, by organisation, team and pair.
#[derive(Default)]
struct PeriodFigures {
    org: Figures,
    teams: BTreeMap<String, TeamFigures>,
    pairs: BTreeMap<(String, String), PairFigures>,
    /// (reviewer label, author label) → cross-team reviews given.
    given: BTreeMap<(String, String), u64>,
}

impl<'a> Ctx<'a> {
    fn keep(&self, label: &str) -> bool {
        self.selected.is_empty() || self.selected.contains(label)
    }
    fn keep2(&self, a: &str, b: &str) -> bool {
        self.keep(a) || self.keep(b)
    }
    fn label(&self, t: TeamId) -> &str {
        self.names.get(t)
    }
    fn item_ref(&self, item: u32) -> ItemRef {
        let info = &self.frame.items[item as usize];
        // Tracker text: hostile characters shown by code point; a URL that may not become a link
        // (javascript:, data:, …) is left out, so no format and no consumer of the JSON links it.
        let key = crate::untrusted::neutralize(self.frame.syms.resolve(info.key)).into_owned();
        let title =
            if info.title.is_empty() { key.clone() } else { crate::untrusted::neutralize(&info.title).into_owned() };
        let url = crate::untrusted::link_url(&info.url).unwrap_or_default().to_string();
        let raw_key = self.frame.syms.resolve(info.key);
        let page = self.pages.map(|base| format!("{base}/items/{}", encode_component(raw_key)));
        ItemRef { key, title, url, page }
    }

    /// The people who worked on an item up to `upto` (its author first), by directory name.
    fn people(&self, item: u32, upto: Ts) -> Vec<String> {
        let info = &self.frame.items[item as usize];
        let mut out: Vec<String> = Vec::new();
        let add = |sym: u32, out: &mut Vec<String>| {
            if sym == NO_SYM || out.len() >= PEOPLE_PER_ITEM {
                return;
            }
            let identity = self.frame.syms.resolve(sym);
            if self.dir.is_bot(identity) {
                return;
            }
            if let Some(p) = self.dir.person_of(identity) {
                let name = &self.dir.person(p as PersonId).name;
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
        };
        add(info.author, &mut out);
        for ev in self.frame.item_events(item).iter().take_while(|e| e.at <= upto) {
            add(ev.actor, &mut out);
        }
        out
    }

    /// The figures of `[start, end)`. Accumulates by label index (no string per fact: this runs
    /// for both periods and every trend bucket), then names the results.
    fn figures(&self, start: Ts, end: Ts) -> PeriodFigures {
        let has = |t: Ts| t >= start && t < end;
        let last = end - 1;
        let a = self.analysis;
        let ix = &self.names.index;
        let kept = &self.kept;
        let n = self.names.labels.len();
        let mut org = Figures::default();
        let mut teams: Vec<TeamFigures> = vec![TeamFigures::default(); n];
        let mut pairs: HashMap<(usize, usize), PairFigures> = HashMap::new();
        let mut given: HashMap<(usize, usize), u64> = HashMap::new();
        for t in 0..self.dir.teams().len() {
            teams[ix[t]].members += self.dir.members_at(t as TeamId, last).count() as u64;
        }
        let mut org_latency = Vec::new();
        let mut team_latency: Vec<Vec<i64>> = vec![Vec::new(); n];
        let mut pair_latency: HashMap<(usize, usize), Vec<i64>> = HashMap::new();

        for h in &a.handoffs {
            let acked_in = h.acked_at.filter(|x| has(*x));
            let in_period = has(h.at);
            let waiting = h.waiting_at(last);
            if !(in_period || acked_in.is_some() || waiting) {
                continue;
            }
            let (from, to) = (ix[h.from as usize], ix[h.to as usize]);
            if !(kept[from] || kept[to]) {
                continue;
            }
            let stalled = waiting && is_stalled(self.cfg, self.dir, h.to, h.kind, h.at, last);
            let pair = pairs.entry((from, to)).or_default();
            pair.handoffs += in_period as u64;
            org.handoffs += in_period as u64;
            if let Some(ack) = acked_in {
                org.acknowledged += 1;
                pair.acknowledged += 1;
                org_latency.push(ack - h.at);
                pair_latency.entry((from, to)).or_default().push(ack - h.at);
                team_latency[to].push(ack - h.at);
            }
            org.waiting_at_end += waiting as u64;
            org.stalled_at_end += stalled as u64;
            pair.stalled_at_end += stalled as u64;
            let t = &mut teams[to];
            t.handoffs_received += in_period as u64;
            t.acknowledged += acked_in.is_some() as u64;
            t.waiting_at_end += waiting as u64;
            t.stalled_at_end += stalled as u64;
            teams[from].handoffs_sent += in_period as u64;
        }
        (org.latency_p50_seconds, org.latency_p75_seconds) = p50_p75(&mut org_latency);
        for (t, v) in team_latency.iter_mut().enumerate() {
            (teams[t].latency_p50_seconds, teams[t].latency_p75_seconds) = p50_p75(v);
        }
        for (pair, mut v) in pair_latency {
            let p = pairs.entry(pair).or_default();
            (p.latency_p50_seconds, p.latency_p75_seconds) = p50_p75(&mut v);
        }

        for b in a.bounces.iter().filter(|b| has(b.at)) {
            let (from, to) = (ix[b.from as usize], ix[b.to as usize]);
            if !(kept[from] || kept[to]) {
                continue;
            }
            org.bounces += 1;
            pairs.entry((from, to)).or_default().bounces += 1;
            teams[from].bounces += 1;
            if to != from {
                teams[to].bounces += 1;
            }
        }

        for d in &a.decisions {
            let team = ix[d.team as usize];
            if !kept[team] {
                continue;
            }
            let made = has(d.made_at) as u64;
            let rehashed = d.rehashed.is_some_and(|(_, at)| has(at)) as u64;
            org.decisions_made += made;
            org.decisions_rehashed += rehashed;
            teams[team].decisions_made += made;
            teams[team].decisions_rehashed += rehashed;
        }
        let rate = |rehashed: u64, made: u64| (made > 0).then(|| rehashed as f64 / made as f64);
        org.rehash_rate = rate(org.decisions_rehashed, org.decisions_made);
        for r in a.rework.iter().filter(|r| has(r.at)) {
            let team = ix[r.team as usize];
            if kept[team] {
                org.rework += 1;
                teams[team].rework += 1;
            }
        }

        for r in a.reviews.iter().filter(|r| has(r.at) && r.author_team != r.reviewer_team) {
            let (author, reviewer) = (ix[r.author_team as usize], ix[r.reviewer_team as usize]);
            if !(kept[author] || kept[reviewer]) {
                continue;
            }
            org.cross_team_reviews += 1;
            teams[reviewer].cross_team_reviews_given += 1;
            teams[author].cross_team_reviews_received += 1;
            if author != reviewer {
                *given.entry((reviewer, author)).or_default() += 1;
            }
        }

        let mut org_response = Vec::new();
        let mut team_response: Vec<Vec<i64>> = vec![Vec::new(); n];
        for f in a.first_responses.iter().filter(|f| has(f.responded_at)) {
            let (requester, owner) = (ix[f.requester as usize], ix[f.owner as usize]);
            if !(kept[requester] || kept[owner]) {
                continue;
            }
            org_response.push(f.responded_at - f.opened_at);
            team_response[owner].push(f.responded_at - f.opened_at);
        }
        org.first_responses = org_response.len() as u64;
        org.first_response_p50_seconds = p50_p75(&mut org_response).0;
        for (t, v) in team_response.iter_mut().enumerate() {
            teams[t].first_responses = v.len() as u64;
            teams[t].first_response_p50_seconds = p50_p75(v).0;
        }

        let mut win_labels: Vec<usize> = Vec::new();
        for w in a.joint_wins.iter().filter(|w| has(w.at)) {
            win_labels.clear();
            win_labels.extend(w.teams.iter().map(|t| ix[*t as usize]));
            win_labels.sort_unstable();
            win_labels.dedup();
            if !win_labels.iter().any(|l| kept[*l]) {
                continue;
            }
            org.joint_wins += 1;
            for l in &win_labels {
                teams[*l].joint_wins += 1;
            }
        }

        // Silo index and bridge people, as the exported gauges compute them over a window: on
        // team ids (two folded teams are still two teams), attributed to labels.
        let mut inside: Vec<(u64, u64)> = vec![(0, 0); self.dir.teams().len()];
        let mut reach: HashMap<PersonId, (TeamId, Ts, Vec<TeamId>)> = HashMap::new();
        for i in a.interactions.iter().filter(|i| has(i.at)) {
            let e = &mut inside[i.team as usize];
            e.1 += 1;
            e.0 += (i.owner == i.team) as u64;
            let r = reach.entry(i.person).or_insert((i.team, i.at, Vec::new()));
            if i.at >= r.1 {
                (r.0, r.1) = (i.team, i.at);
            }
            if i.owner != i.team && !r.2.contains(&i.owner) {
                r.2.push(i.owner);
            }
        }
        let mut label_inside: Vec<(u64, u64)> = vec![(0, 0); n];
        for (t, (ins, all)) in inside.into_iter().enumerate() {
            let l = ix[t];
            label_inside[l].0 += ins;
            label_inside[l].1 += all;
        }
        let (mut org_inside, mut org_all) = (0, 0);
        for (l, (ins, all)) in label_inside.into_iter().enumerate() {
            if kept[l] {
                org_inside += ins;
                org_all += all;
                teams[l].interactions = all;
                teams[l].silo_index = (all > 0).then(|| ins as f64 / all as f64);
            }
        }
        org.interactions = org_all;
        org.silo_index = (org_all > 0).then(|| org_inside as f64 / org_all as f64);
        for (_, (team, _, others)) in reach {
            if others.iter().filter(|o| **o != team).count() >= 2 && kept[ix[team as usize]] {
                org.bridge_people += 1;
                teams[ix[team as usize]].bridge_people += 1;
            }
        }
        for t in teams.iter_mut() {
            t.rehash_rate = rate(t.decisions_rehashed, t.decisions_made);
        }

        let labels = &self.names.labels;
        let named = |(x, y): (usize, usize)| (labels[x].clone(), labels[y].clone());
        PeriodFigures {
            org,
            teams: teams
                .into_iter()
                .enumerate()
                .filter(|(l, _)| kept[*l])
                .map(|(l, f)| (labels[l].clone(), f))
                .collect(),
            pairs: pairs.into_iter().map(|(k, v)| (named(k), v)).collect(),
            given: given.into_iter().map(|(k, v)| (named(k), v)).collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Headlines: which changes are worth a sentence.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Ratio,
}

/// How a figure moved against the previous period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Improved,
    Worsened,
    /// Moved less than the thresholds below.
    Steady,
    /// Too few observations in one of the periods to compare.
    NotComparable,
}

/// Whether a change stands out from the noise of counting. Counts: by at least 20% and by at
/// least twice the standard deviation of the difference of two Poisson counts, 2·√(prev + cur).
/// Durations (medians): at least 5 observations in each period, by at least 5 minutes and by at
/// least 20% or 2/√n of the previous value, whichever is larger (n = the smaller sample).
/// Ratios: at least 5 observations in each period, by at least 0.10 or 1/√n, whichever is larger.
pub fn judge(unit: Unit, better: Better, prev: Option<f64>, cur: Option<f64>, n_prev: u64, n_cur: u64) -> Verdict {
    let (Some(p), Some(c)) = (prev, cur) else { return Verdict::NotComparable };
    let d = (c - p).abs();
    let n = n_prev.min(n_cur) as f64;
    let notable = match unit {
        Unit::Count => d > 0.0 && d >= 0.2 * p && d >= 2.0 * (p + c).sqrt() - 1e-9,
        Unit::Seconds | Unit::Ratio if n < 5.0 => return Verdict::NotComparable,
        Unit::Seconds => d >= 300.0 && d >= p * 0.2f64.max(2.0 / n.sqrt()) - 1e-9,
        Unit::Ratio => d >= 0.1f64.max(1.0 / n.sqrt()) - 1e-9,
    };
    match (notable, (c < p) == (better == Better::Lower)) {
        (false, _) => Verdict::Steady,
        (true, true) => Verdict::Improved,
        (true, false) => Verdict::Worsened,
    }
}

pub fn fmt_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Count => fmt_count(v.max(0.0) as u64),
        Unit::Seconds => fmt_duration(v),
        Unit::Ratio => fmt_ratio(v),
    }
}

/// Magnitude of a change, to put the largest first.
fn score(unit: Unit, prev: f64, cur: f64) -> f64 {
    match unit {
        Unit::Ratio => (cur - prev).abs() * 2.5,
        _ => (cur - prev).abs() / prev.max(1.0),
    }
}

struct Candidate {
    figure: &'static str,
    name: String,
    unit: Unit,
    better: Better,
    prev: Option<f64>,
    cur: Option<f64>,
    n_prev: u64,
    n_cur: u64,
}

fn headline(comparable: bool, candidates: Vec<Candidate>) -> Headline {
    let mut h = Headline { comparable, ..Headline::default() };
    if !comparable {
        return h;
    }
    let mut scored: Vec<(f64, Change)> = Vec::new();
    for c in candidates {
        let verdict = judge(c.unit, c.better, c.prev, c.cur, c.n_prev, c.n_cur);
        if let (Verdict::Improved | Verdict::Worsened, Some(p), Some(v)) = (verdict, c.prev, c.cur) {
            let (from, to) = match c.unit {
                Unit::Seconds => (fmt_duration_as(p, p.max(v)), fmt_duration_as(v, p.max(v))),
                _ => (fmt_value(c.unit, p), fmt_value(c.unit, v)),
            };
            let text = format!("{}: {from} → {to}", c.name);
            let change =
                Change { figure: c.figure, text, previous: p, current: v, improved: verdict == Verdict::Improved };
            scored.push((score(c.unit, p, v), change));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.figure.cmp(b.1.figure)));
    for (_, c) in scored {
        if c.improved { h.improved.push(c) } else { h.worsened.push(c) }
    }
    h
}

fn count(figure: &'static str, name: &str, better: Better, prev: u64, cur: u64) -> Candidate {
    Candidate {
        figure,
        name: name.into(),
        unit: Unit::Count,
        better,
        prev: Some(prev as f64),
        cur: Some(cur as f64),
        n_prev: prev,
        n_cur: cur,
    }
}

fn seconds(figure: &'static str, name: &str, prev: (Option<i64>, u64), cur: (Option<i64>, u64)) -> Candidate {
    Candidate {
        figure,
        name: name.into(),
        unit: Unit::Seconds,
        better: Better::Lower,
        prev: prev.0.map(|v| v as f64),
        cur: cur.0.map(|v| v as f64),
        n_prev: prev.1,
        n_cur: cur.1,
    }
}

fn ratio(
    figure: &'static str,
    name: &str,
    better: Better,
    prev: (Option<f64>, u64),
    cur: (Option<f64>, u64),
) -> Candidate {
    Candidate {
        figure,
        name: name.into(),
        unit: Unit::Ratio,
        better,
        prev: prev.0,
        cur: cur.0,
        n_prev: prev.1,
        n_cur: cur.1,
    }
}

fn org_candidates(p: &Figures, c: &Figures) -> Vec<Candidate> {
    vec![
        seconds(
            "latency_p50_seconds",
            "Handoff latency p50",
            (p.latency_p50_seconds, p.acknowledged),
            (c.latency_p50_seconds, c.acknowledged),
        ),
        seconds(
            "latency_p75_seconds",
            "Handoff latency p75",
            (p.latency_p75_seconds, p.acknowledged),
            (c.latency_p75_seconds, c.acknowledged),
        ),
        count("stalled_at_end", "Handoffs stalled at the end", Better::Lower, p.stalled_at_end, c.stalled_at_end),
        count("bounces", "Bounces", Better::Lower, p.bounces, c.bounces),
        count("decisions_rehashed", "Decisions rehashed", Better::Lower, p.decisions_rehashed, c.decisions_rehashed),
        count("rework", "Rework (reopens, reverts)", Better::Lower, p.rework, c.rework),
        count("cross_team_reviews", "Cross-team reviews", Better::Higher, p.cross_team_reviews, c.cross_team_reviews),
        seconds(
            "first_response_p50_seconds",
            "First response p50",
            (p.first_response_p50_seconds, p.first_responses),
            (c.first_response_p50_seconds, c.first_responses),
        ),
        count("joint_wins", "Joint wins", Better::Higher, p.joint_wins, c.joint_wins),
        count("bridge_people", "Bridge people", Better::Higher, p.bridge_people, c.bridge_people),
        ratio(
            "silo_index",
            "Silo index",
            Better::Lower,
            (p.silo_index, p.interactions),
            (c.silo_index, c.interactions),
        ),
    ]
}

fn team_candidates(p: &TeamFigures, c: &TeamFigures) -> Vec<Candidate> {
    vec![
        seconds(
            "latency_p50_seconds",
            "Handoff latency p50 (received)",
            (p.latency_p50_seconds, p.acknowledged),
            (c.latency_p50_seconds, c.acknowledged),
        ),
        count("stalled_at_end", "Handoffs stalled at the end", Better::Lower, p.stalled_at_end, c.stalled_at_end),
        count("bounces", "Bounces", Better::Lower, p.bounces, c.bounces),
        count("decisions_rehashed", "Decisions rehashed", Better::Lower, p.decisions_rehashed, c.decisions_rehashed),
        count("rework", "Rework", Better::Lower, p.rework, c.rework),
        seconds(
            "first_response_p50_seconds",
            "First response p50",
            (p.first_response_p50_seconds, p.first_responses),
            (c.first_response_p50_seconds, c.first_responses),
        ),
        count(
            "cross_team_reviews_given",
            "Cross-team reviews given",
            Better::Higher,
            p.cross_team_reviews_given,
            c.cross_team_reviews_given,
        ),
        count("joint_wins", "Joint wins", Better::Higher, p.joint_wins, c.joint_wins),
        count("bridge_people", "Bridge people", Better::Higher, p.bridge_people, c.bridge_people),
        ratio(
            "silo_index",
            "Silo index",
            Better::Lower,
            (p.silo_index, p.interactions),
            (c.silo_index, c.interactions),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Building the report.
// ---------------------------------------------------------------------------------------------

/// Analyses the frame once up to the period's end and builds the report. The frame must be
/// prepared (`Frame::prepare`).
pub fn generate(frame: &Frame, dir: &Directory, cfg: &SignalsConfig, opts: &ReportOptions) -> Result<Report, String> {
    if !frame.is_prepared() {
        return Err("internal error: the event frame was not prepared before the report".into());
    }
    select_teams(dir, &opts.teams)?;
    let analysis = analyze(frame, dir, cfg, opts.period.last_second());
    build(&analysis, frame, dir, cfg, opts)
}

/// Builds the report from an analysis that covers the period (`analysis.upto` ≥ its last second).
pub fn build(
    analysis: &Analysis,
    frame: &Frame,
    dir: &Directory,
    cfg: &SignalsConfig,
    opts: &ReportOptions,
) -> Result<Report, String> {
    let selected_ids = select_teams(dir, &opts.teams)?;
    let names = Names::new(analysis, dir, cfg, opts);
    let selected: BTreeSet<String> = selected_ids.iter().map(|t| names.get(*t).to_string()).collect();
    let mut notes = Vec::new();
    for t in &selected_ids {
        if names.folded[*t as usize] {
            notes.push(format!(
                "team {} has fewer active people than the privacy floor ({}): it is reported within \"other\"",
                dir.team_name(*t),
                cfg.privacy_floor.max(2)
            ));
        }
    }
    let kept = names.labels.iter().map(|l| selected.is_empty() || selected.contains(l)).collect();
    let ctx = Ctx { analysis, frame, dir, cfg, names, selected, kept, pages: opts.pages.as_deref() };
    let (period, previous) = (&opts.period, &opts.previous);
    let cur = ctx.figures(period.start, period.end);
    let prev = ctx.figures(previous.start, previous.end);
    let coverage = coverage(&ctx, opts, notes);
    let has_data = coverage.events_in_period > 0;
    let has_previous_data = coverage.events_in_previous_period > 0;
    let until = opts.generated_at.saturating_add(1);
    let period_coverage = Compared {
        current: period_coverage(period, &coverage.sources, until),
        previous: period_coverage(previous, &coverage.sources, until),
    };
    let comparison = comparison(opts, &period_coverage, &coverage.sources, has_previous_data);

    // Teams.
    let mut labels: Vec<String> = cur.teams.keys().chain(prev.teams.keys()).cloned().collect();
    labels.sort_by(|a, b| team_order(a, b));
    labels.dedup();
    let teams: Vec<TeamRow> = labels
        .iter()
        .map(|t| TeamRow {
            team: t.clone(),
            current: cur.teams.get(t).cloned().unwrap_or_default(),
            previous: prev.teams.get(t).cloned().unwrap_or_default(),
            pages: opts.pages.as_deref().map(|base| {
                let list = |path: &str, param: &str| page_url(base, path, &[(param, t)], period);
                TeamPages {
                    handoffs_received: list("/handoffs", "to_team"),
                    handoffs_sent: list("/handoffs", "from_team"),
                    decisions: list("/decisions", "team"),
                    reviews: list("/reviews", "team"),
                }
            }),
        })
        .collect();

    // Pairs.
    let mut pair_keys: Vec<(String, String)> = cur.pairs.keys().chain(prev.pairs.keys()).cloned().collect();
    pair_keys.sort_by(|a, b| team_order(&a.0, &b.0).then_with(|| team_order(&a.1, &b.1)));
    pair_keys.dedup();
    let nonzero = |p: &PairFigures| p.handoffs + p.acknowledged + p.stalled_at_end + p.bounces > 0;
    let pairs: Vec<PairRow> = pair_keys
        .into_iter()
        .map(|(from, to)| PairRow {
            current: cur.pairs.get(&(from.clone(), to.clone())).cloned().unwrap_or_default(),
            previous: prev.pairs.get(&(from.clone(), to.clone())).cloned().unwrap_or_default(),
            handoffs_page: opts
                .pages
                .as_deref()
                .map(|base| page_url(base, "/handoffs", &[("from_team", &from), ("to_team", &to)], period)),
            from,
            to,
        })
        .filter(|p| nonzero(&p.current) || nonzero(&p.previous))
        .collect();

    // Reciprocity.
    let reciprocity_of = |given: &BTreeMap<(String, String), u64>, a: &str, b: &str| {
        let ab = given.get(&(a.to_string(), b.to_string())).copied().unwrap_or(0);
        let ba = given.get(&(b.to_string(), a.to_string())).copied().unwrap_or(0);
        Reciprocity {
            a_reviewed_b: ab,
            b_reviewed_a: ba,
            ratio: (ab.max(ba) > 0).then(|| ab.min(ba) as f64 / ab.max(ba) as f64),
        }
    };
    let mut unordered: Vec<(String, String)> = cur
        .given
        .keys()
        .chain(prev.given.keys())
        .map(|(x, y)| if team_order(x, y).is_lt() { (x.clone(), y.clone()) } else { (y.clone(), x.clone()) })
        .collect();
    unordered.sort_by(|a, b| team_order(&a.0, &b.0).then_with(|| team_order(&a.1, &b.1)));
    unordered.dedup();
    let reciprocity: Vec<ReciprocityRow> = unordered
        .into_iter()
        .map(|(a, b)| ReciprocityRow {
            current: reciprocity_of(&cur.given, &a, &b),
            previous: reciprocity_of(&prev.given, &a, &b),
            reviews_page: opts
                .pages
                .as_deref()
                .map(|base| page_url(base, "/reviews", &[("team_a", &a), ("team_b", &b)], period)),
            team_a: a,
            team_b: b,
        })
        .collect();

    let headlines = headlines(&cur.org, &prev.org, &teams, &pairs, &reciprocity, comparison.comparable);
    let trend = trend(&ctx, period, &period_coverage.current);
    let upto = period.last_second();
    let people = |item: u32| opts.name_people.then(|| ctx.people(item, upto));

    // Stalled at the period's end.
    let mut stalled: Vec<StalledItem> = analysis
        .handoffs
        .iter()
        .filter(|h| h.waiting_at(upto) && is_stalled(cfg, dir, h.to, h.kind, h.at, upto))
        .filter(|h| ctx.keep2(ctx.label(h.from), ctx.label(h.to)))
        .map(|h| StalledItem {
            item: ctx.item_ref(h.item),
            kind: h.kind.as_str(),
            from: ctx.label(h.from).into(),
            to: ctx.label(h.to).into(),
            since: h.at,
            waited_seconds: waited(cfg, dir, h.to, h.at, upto),
            people: people(h.item),
        })
        .collect();
    stalled.sort_by(|a, b| b.waited_seconds.cmp(&a.waited_seconds).then_with(|| a.item.key.cmp(&b.item.key)));

    // The worst bounces: items with the most bounces in the period, then the longest tossing.
    let tossing: HashMap<u32, u32> = analysis.tossing.iter().map(|t| (t.item, t.changes)).collect();
    let mut by_item: BTreeMap<u32, (u64, BTreeSet<String>, Ts)> = BTreeMap::new();
    for b in analysis.bounces.iter().filter(|b| period.contains(b.at)) {
        let (from, to) = (ctx.label(b.from), ctx.label(b.to));
        if !ctx.keep2(from, to) {
            continue;
        }
        let e = by_item.entry(b.item).or_insert((0, BTreeSet::new(), b.at));
        e.0 += 1;
        e.1.insert(from.into());
        e.1.insert(to.into());
        e.2 = e.2.min(b.at);
    }
    let mut bounces: Vec<BouncedItem> = by_item
        .into_iter()
        .map(|(item, (n, teams, first))| BouncedItem {
            item: ctx.item_ref(item),
            bounces: n,
            teams: teams.into_iter().collect(),
            first_bounce: first,
            custody_changes: tossing.get(&item).copied(),
            people: people(item),
        })
        .collect();
    bounces.sort_by(|a, b| {
        b.bounces
            .cmp(&a.bounces)
            .then_with(|| b.custody_changes.cmp(&a.custody_changes))
            .then_with(|| a.first_bounce.cmp(&b.first_bounce))
            .then_with(|| a.item.key.cmp(&b.item.key))
    });
    bounces.truncate(WORST_BOUNCES);

    let mut rehashed_decisions: Vec<RehashedDecision> = analysis
        .decisions
        .iter()
        .filter_map(|d| d.rehashed.filter(|(_, at)| period.contains(*at)).map(|r| (d, r)))
        .filter(|(d, _)| ctx.keep(ctx.label(d.team)))
        .map(|(d, (reason, at))| RehashedDecision {
            item: ctx.item_ref(d.item),
            team: ctx.label(d.team).into(),
            made_at: d.made_at,
            rehashed_at: at,
            reason: reason.as_str(),
            people: people(d.item),
        })
        .collect();
    rehashed_decisions.sort_by(|a, b| a.rehashed_at.cmp(&b.rehashed_at).then_with(|| a.item.key.cmp(&b.item.key)));

    let mut joint_wins: Vec<JointWin> = analysis
        .joint_wins
        .iter()
        .filter(|w| period.contains(w.at))
        .filter_map(|w| {
            let labels: BTreeSet<&str> = w.teams.iter().map(|t| ctx.label(*t)).collect();
            let mut teams: Vec<String> = labels.into_iter().map(String::from).collect();
            teams.sort_by(|a, b| team_order(a, b));
            teams.iter().any(|t| ctx.keep(t)).then(|| JointWin {
                item: ctx.item_ref(w.item),
                teams,
                at: w.at,
                people: people(w.item),
            })
        })
        .collect();
    joint_wins.sort_by(|a, b| {
        b.teams.len().cmp(&a.teams.len()).then_with(|| a.at.cmp(&b.at)).then_with(|| a.item.key.cmp(&b.item.key))
    });

    let agreements = agreements(&ctx, opts);

    let title = if opts.teams.is_empty() {
        format!("Cross-team alignment report · {}", period.label)
    } else {
        format!(
            "Cross-team alignment report · {} · {}",
            period.label,
            ctx.selected.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    };
    Ok(Report {
        schema: SCHEMA,
        title,
        period: period.clone(),
        previous_period: previous.clone(),
        generated_at: opts.generated_at,
        teams_selected: ctx.selected.iter().cloned().collect(),
        people_named: opts.name_people,
        has_data,
        has_previous_data,
        period_coverage,
        comparison,
        summary: Compared { current: cur.org, previous: prev.org },
        headlines,
        teams,
        pairs,
        reciprocity,
        trend,
        stalled,
        bounces,
        rehashed_decisions,
        joint_wins,
        agreements,
        coverage,
        definitions: DEFINITIONS.to_vec(),
    })
}

/// Each configured agreement whose receiving team the selection keeps, over both periods, from
/// the engine's facts (`agreements::agreement_facts`: the ones the exported counters count).
fn agreements(ctx: &Ctx, opts: &ReportOptions) -> Vec<AgreementRow> {
    use crate::signals::agreements::{Outcome, agreement_facts, burn_rate, meets};
    let cfg = ctx.cfg;
    if cfg.agreements.is_empty() {
        return Vec::new();
    }
    let facts = agreement_facts(ctx.analysis, ctx.dir, cfg);
    let upto = opts.period.last_second();
    cfg.agreements
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let to = ctx.dir.team_by_name(&a.to_team);
            if !ctx.keep(to.map_or(OTHER_TEAM, |t| ctx.label(t))) {
                return None;
            }
            let suppressed = to.is_none_or(|t| ctx.names.folded[t as usize]);
            let mine: Vec<_> = facts.iter().filter(|f| f.agreement == i).collect();
            let figures = |p: &Period| {
                let decided = mine.iter().filter(|f| p.contains(f.decided_at));
                let (n, b) =
                    decided.fold((0u64, 0u64), |(n, b), f| (n + 1, b + u64::from(f.outcome == Outcome::Broken)));
                let attainment = (n > 0).then(|| 1.0 - b as f64 / n as f64);
                AgreementFigures {
                    decided: n,
                    broken: b,
                    attainment,
                    kept: attainment.map(|x| meets(x, a.objective)),
                    budget_used: burn_rate(b, n, a.objective),
                }
            };
            let mut broke_it_most: Vec<AgreementBreach> = if suppressed {
                Vec::new()
            } else {
                mine.iter()
                    .filter(|f| f.outcome == Outcome::Broken && opts.period.contains(f.decided_at))
                    .map(|f| {
                        let h = &ctx.analysis.handoffs[f.handoff];
                        let still_waiting = h.waiting_at(upto);
                        let stopped = [h.acked_at, h.ended_at].into_iter().flatten().min().unwrap_or(upto).min(upto);
                        AgreementBreach {
                            item: ctx.item_ref(h.item),
                            kind: h.kind.as_str(),
                            from: ctx.label(h.from).into(),
                            handed_over: h.at,
                            deadline: f.deadline,
                            overdue_seconds: (if still_waiting { upto } else { stopped } - f.deadline).max(0),
                            still_waiting,
                            people: opts.name_people.then(|| ctx.people(h.item, upto)),
                        }
                    })
                    .collect()
            };
            broke_it_most.sort_by(|x, y| {
                y.overdue_seconds
                    .cmp(&x.overdue_seconds)
                    .then_with(|| x.handed_over.cmp(&y.handed_over))
                    .then_with(|| x.item.key.cmp(&y.item.key))
            });
            broke_it_most.truncate(WORST_BREACHES);
            Some(AgreementRow {
                name: a.name.clone(),
                to_team: a.to_team.clone(),
                from_teams: a.from_teams.clone(),
                kinds: a.kinds.iter().map(|k| k.as_str()).collect(),
                within_seconds: a.within,
                working_hours: a.working_hours,
                objective: a.objective,
                suppressed,
                current: (!suppressed).then(|| figures(&opts.period)),
                previous: (!suppressed).then(|| figures(&opts.previous)),
                broke_it_most,
                broken_page: ctx.pages.filter(|_| !suppressed).map(|base| {
                    page_url(base, "/handoffs", &[("agreement", &a.name), ("state", "broken")], &opts.period)
                }),
            })
        })
        .collect()
}

/// The part of `p` the stored history covers: from the latest start of a source's history to
/// `until` (exclusive). With no source known, nothing is covered.
fn period_coverage(p: &Period, sources: &[SourceCoverage], until: Ts) -> PeriodCoverage {
    let sources: Vec<&SourceCoverage> = sources.iter().filter(|s| s.name != UNKNOWN_SOURCE).collect();
    let latest = sources.iter().filter_map(|s| s.history_from.map(|t| (t, s.name.as_str()))).max();
    let limited_by = latest.filter(|(t, _)| *t > p.start).map(|(_, name)| name.to_string());
    let (from, to) = (latest.map_or(p.start, |(t, _)| t.max(p.start)), p.end.min(until));
    if sources.is_empty() || from >= to {
        return PeriodCoverage { partial: true, from: None, to: None, limited_by };
    }
    PeriodCoverage { partial: from > p.start || to < p.end, from: Some(from), to: Some(to), limited_by }
}

/// Changes are judged only against a previous period with data, both periods fully covered.
fn comparison(
    opts: &ReportOptions,
    covered: &Compared<PeriodCoverage>,
    sources: &[SourceCoverage],
    has_previous_data: bool,
) -> Comparison {
    let partly = |which: &str, p: &Period, c: &PeriodCoverage| {
        let mut why = vec![c.dates()];
        if let Some(name) = &c.limited_by
            && let Some(t) = sources.iter().find(|s| &s.name == name).and_then(|s| s.history_from)
        {
            why.push(format!("the stored history of {name} begins on {}", fmt_day_year(t)));
        }
        if opts.generated_at < p.last_second() {
            why.push(format!("the report was made on {}", fmt_datetime(opts.generated_at)));
        }
        format!(
            "{which} ({}, {}) is only partly covered by the stored history ({})",
            p.label,
            p.dates(),
            why.join("; ")
        )
    };
    let mut reasons = Vec::new();
    if !has_previous_data {
        reasons.push(format!("there is no data for the previous period ({}) to compare with", opts.previous.dates()));
    } else if covered.previous.partial {
        reasons.push(partly("the previous period", &opts.previous, &covered.previous));
    }
    if covered.current.partial {
        reasons.push(partly("this period", &opts.period, &covered.current));
    }
    Comparison { comparable: reasons.is_empty(), reason: (!reasons.is_empty()).then(|| reasons.join(", and ")) }
}

fn headlines(
    cur: &Figures,
    prev: &Figures,
    teams: &[TeamRow],
    pairs: &[PairRow],
    reciprocity: &[ReciprocityRow],
    comparable: bool,
) -> Headlines {
    let organisation = headline(comparable, org_candidates(prev, cur));
    let team_heads = teams
        .iter()
        .map(|t| TeamHeadline {
            team: t.team.clone(),
            headline: headline(comparable, team_candidates(&t.previous, &t.current)),
        })
        .collect();
    // Pairs: both directions of handoffs and bounces, and review reciprocity.
    let mut unordered: BTreeSet<(String, String)> = BTreeSet::new();
    for p in pairs.iter().filter(|p| p.from != p.to) {
        let key = if team_order(&p.from, &p.to).is_lt() {
            (p.from.clone(), p.to.clone())
        } else {
            (p.to.clone(), p.from.clone())
        };
        unordered.insert(key);
    }
    for r in reciprocity {
        unordered.insert((r.team_a.clone(), r.team_b.clone()));
    }
    let mut unordered: Vec<(String, String)> = unordered.into_iter().collect();
    unordered.sort_by(|a, b| team_order(&a.0, &b.0).then_with(|| team_order(&a.1, &b.1)));
    let find = |from: &str, to: &str| pairs.iter().find(|p| p.from == from && p.to == to);
    let mut pair_heads = Vec::new();
    for (a, b) in unordered {
        let mut candidates = Vec::new();
        for (from, to) in [(&a, &b), (&b, &a)] {
            let Some(p) = find(from, to) else { continue };
            let name = |what: &str| format!("{what} {from} → {to}");
            let mut latency = seconds(
                "latency_p50_seconds",
                &name("Handoff latency p50"),
                (p.previous.latency_p50_seconds, p.previous.acknowledged),
                (p.current.latency_p50_seconds, p.current.acknowledged),
            );
            latency.name = name("Handoff latency p50");
            candidates.push(latency);
            candidates.push(Candidate {
                name: name("Bounces"),
                ..count("bounces", "", Better::Lower, p.previous.bounces, p.current.bounces)
            });
            candidates.push(Candidate {
                name: name("Handoffs stalled at the end"),
                ..count("stalled_at_end", "", Better::Lower, p.previous.stalled_at_end, p.current.stalled_at_end)
            });
        }
        if let Some(r) = reciprocity.iter().find(|r| r.team_a == a && r.team_b == b) {
            let n = |x: &Reciprocity| x.a_reviewed_b + x.b_reviewed_a;
            candidates.push(ratio(
                "review_reciprocity",
                "Review reciprocity",
                Better::Higher,
                (r.previous.ratio, n(&r.previous)),
                (r.current.ratio, n(&r.current)),
            ));
        }
        pair_heads.push(PairHeadline { team_a: a, team_b: b, headline: headline(comparable, candidates) });
    }
    Headlines { organisation, teams: team_heads, pairs: pair_heads }
}

/// Weeks (Monday to Sunday, clipped to the period) for periods up to 190 days, calendar months up
/// to 5 years, years beyond.
fn buckets(period: &Period) -> (Bucket, Vec<(Ts, Ts, bool)>) {
    let days = period.days();
    let bucket = if days <= 190.0 {
        Bucket::Week
    } else if days <= 5.0 * 366.0 {
        Bucket::Month
    } else {
        Bucket::Year
    };
    let next = |t: Ts| -> Ts {
        match bucket {
            Bucket::Week => {
                let day = t.div_euclid(DAY);
                let monday = day - (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday
                (monday + 7) * DAY
            }
            Bucket::Month | Bucket::Year => {
                let Some(d) = DateTime::from_timestamp(t, 0) else { return period.end };
                let (y, m) = if bucket == Bucket::Year || d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                midnight(y, m, 1).unwrap_or(period.end)
            }
        }
    };
    let mut out = Vec::new();
    let mut start = period.start;
    while start < period.end {
        let natural_end = next(start).max(start + 1);
        let end = natural_end.min(period.end);
        // Complete when it spans its whole calendar unit.
        let complete = end == natural_end && is_unit_start(bucket, start);
        out.push((start, end, complete));
        start = end;
    }
    (bucket, out)
}

fn is_unit_start(bucket: Bucket, t: Ts) -> bool {
    let Some(d) = DateTime::from_timestamp(t, 0) else { return false };
    let midnight = t.rem_euclid(DAY) == 0;
    match bucket {
        Bucket::Week => midnight && (t.div_euclid(DAY) + 3).rem_euclid(7) == 0,
        Bucket::Month => midnight && d.day() == 1,
        Bucket::Year => midnight && d.day() == 1 && d.month() == 1,
    }
}

fn trend(ctx: &Ctx, period: &Period, covered: &PeriodCoverage) -> Trend {
    let (bucket, ranges) = buckets(period);
    let points = ranges
        .into_iter()
        .map(|(start, end, complete)| {
            let f = ctx.figures(start, end);
            let covered = covered.from.is_some_and(|f| f <= start) && covered.to.is_some_and(|t| t >= end);
            TrendPoint {
                start,
                end,
                complete: complete && covered,
                handoffs: f.org.handoffs,
                acknowledged: f.org.acknowledged,
                latency_p50_seconds: f.org.latency_p50_seconds,
                latency_p75_seconds: f.org.latency_p75_seconds,
                stalled_at_end: f.org.stalled_at_end,
                bounces: f.org.bounces,
                decisions_rehashed: f.org.decisions_rehashed,
                cross_team_reviews: f.org.cross_team_reviews,
                joint_wins: f.org.joint_wins,
                silo_index: f.teams.into_iter().filter_map(|(t, v)| v.silo_index.map(|s| (t, s))).collect(),
            }
        })
        .collect();
    Trend { bucket, points }
}

fn coverage(ctx: &Ctx, opts: &ReportOptions, notes: Vec<String>) -> Coverage {
    let frame = ctx.frame;
    let (period, previous) = (&opts.period, &opts.previous);
    struct Src {
        items: u64,
        events: u64,
        in_period: u64,
        first: Ts,
        last: Ts,
    }
    let mut by_source: HashMap<u32, Src> = HashMap::new();
    let mut item_in_period = vec![false; frame.items.len()];
    let (mut in_period, mut in_previous) = (0u64, 0u64);
    let (mut first, mut last) = (Ts::MAX, Ts::MIN);
    for e in &frame.events {
        let src = frame.items[e.item as usize].source;
        let s =
            by_source.entry(src).or_insert(Src { items: 0, events: 0, in_period: 0, first: Ts::MAX, last: Ts::MIN });
        s.events += 1;
        s.first = s.first.min(e.at);
        s.last = s.last.max(e.at);
        first = first.min(e.at);
        last = last.max(e.at);
        if period.contains(e.at) {
            s.in_period += 1;
            in_period += 1;
            item_in_period[e.item as usize] = true;
        } else if previous.contains(e.at) {
            in_previous += 1;
        }
    }
    let mut items_stored = 0;
    for info in &frame.items {
        if let Some(s) = by_source.get_mut(&info.source) {
            s.items += 1;
            items_stored += 1;
        }
    }
    let recorded = |name: &str| opts.history.iter().find(|(n, _)| n == name).map(|(_, h)| *h);
    let mut sources: Vec<SourceCoverage> = by_source
        .into_iter()
        .map(|(sym, s)| {
            let name = if sym == NO_SYM { UNKNOWN_SOURCE.into() } else { frame.syms.resolve(sym).to_string() };
            let history = recorded(&name);
            SourceCoverage {
                history_from: match history {
                    Some(HistoryStart::Complete) => None,
                    Some(HistoryStart::From(t)) => Some(t),
                    None => Some(s.first),
                },
                history_recorded: history.is_some(),
                name,
                items: s.items,
                events: s.events,
                events_in_period: s.in_period,
                first_event: Some(s.first),
                last_event: Some(s.last),
            }
        })
        .collect();
    // Sources that recorded where they begin but stored nothing yet still bound the coverage.
    for (name, history) in &opts.history {
        if !sources.iter().any(|s| &s.name == name) {
            sources.push(SourceCoverage {
                name: name.clone(),
                history_from: match history {
                    HistoryStart::Complete => None,
                    HistoryStart::From(t) => Some(*t),
                },
                history_recorded: true,
                items: 0,
                events: 0,
                events_in_period: 0,
                first_event: None,
                last_event: None,
            });
        }
    }
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    let mut teams: Vec<String> = ctx.names.names.clone();
    teams.sort_by(|a, b| team_order(a, b));
    teams.dedup();
    let mut folded_teams: Vec<String> =
        ctx.dir.teams().iter().zip(&ctx.names.folded).filter(|(_, f)| **f).map(|(t, _)| t.name.clone()).collect();
    folded_teams.sort();
    Coverage {
        sources,
        data_from: (first != Ts::MAX).then_some(first),
        data_to: (last != Ts::MIN).then_some(last),
        items_stored,
        events_stored: frame.events.len() as u64,
        items_in_period: item_in_period.iter().filter(|x| **x).count() as u64,
        events_in_period: in_period,
        events_in_previous_period: in_previous,
        teams,
        privacy_floor: ctx.cfg.privacy_floor.max(2),
        folded_teams,
        unknown_identities: ctx.analysis.unknown_identities.len() as u64,
        unknown_identity_events: ctx.analysis.unknown_identities.values().sum(),
        directory: crate::coverage::coverage_where(frame, ctx.dir, |at| period.contains(at)),
        directory_warning: ctx.cfg.coverage_warning,
        notes,
    }
}

// ---------------------------------------------------------------------------------------------
// Definitions (SIGNALS.md and docs/signals.md wording).
// ---------------------------------------------------------------------------------------------

pub const DEFINITIONS: &[Definition] = &[
    Definition {
        figure: "handoffs",
        name: "Handoffs",
        definition: "Custody of an item moved from team A to team B (by label, status, component, team field, assignee or \
                     repository transfer), or a review of A's pull request was requested from a person or team in B. \
                     Counted at the handoff's time. Membership changes are never handoffs.",
    },
    Definition {
        figure: "acknowledged",
        name: "Acknowledged",
        definition: "Handoffs acknowledged in the period: the first later event on the item by a member of the receiving \
                     team (comment, review, status change, label, commit, close), or the assignment of one of its members. \
                     Bots and the handing team never acknowledge.",
    },
    Definition {
        figure: "latency_p50_seconds",
        name: "Handoff latency p50 / p75",
        definition: "Acknowledgement time − handoff time, over the handoffs acknowledged in the period. p50 and p75 are \
                     exact nearest-rank quantiles of the individual handoffs: half (three quarters) were acknowledged at \
                     least this fast. Per team: handoffs the team received.",
    },
    Definition {
        figure: "stalled_at_end",
        name: "Stalled at the end",
        definition: "Handoffs waiting at the last second of the period (not acknowledged, the item still open and still \
                     with the receiving team) for longer than the stall threshold (default 2 days; per team and per kind \
                     in the config; optionally counted in the receiving team's working hours).",
    },
    Definition {
        figure: "waiting_at_end",
        name: "Waiting at the end",
        definition: "Handoffs not acknowledged yet at the last second of the period, the item still open and still with \
                     the receiving team, stalled or not.",
    },
    Definition {
        figure: "bounces",
        name: "Bounces",
        definition: "Custody returned from B to A within the bounce window (default 7 days) of A → B on the same item \
                     (ping-pong), counted when it returned. A pair A → B counts the items A handed to B that B sent back.",
    },
    Definition {
        figure: "custody_changes",
        name: "Custody changes (tossing)",
        definition: "Custody changes of an item before it was first closed.",
    },
    Definition {
        figure: "decisions_made",
        name: "Decisions made",
        definition: "Items matched by the decision selector (labels decision/adr/rfc, Decision issue types, decision-record \
                     files) closed as completed, merged or accepted in the period; the team is the one holding it then.",
    },
    Definition {
        figure: "decisions_rehashed",
        name: "Decisions rehashed",
        definition: "Made decisions rehashed in the period, within the rehash window (default 90 days) after they were \
                     made: reopened, superseded by a later item, status turned Superseded/Deprecated, or discussion \
                     resumed (at least 3 comments from at least 2 teams). Only the first reason counts.",
    },
    Definition {
        figure: "rehash_rate",
        name: "Rehash rate",
        definition: "Decisions rehashed in the period ÷ decisions made in the period.",
    },
    Definition {
        figure: "rework",
        name: "Rework",
        definition: "Items reopened after close (team holding it) and merged changes later reverted (author's team).",
    },
    Definition {
        figure: "cross_team_reviews",
        name: "Cross-team reviews",
        definition: "Submitted reviews whose reviewer's team differs from the pull request author's team at review time. \
                     Per team: given by its members, received on its pull requests. Bots' and authors' own reviews are \
                     not reviews.",
    },
    Definition {
        figure: "review_reciprocity",
        name: "Review reciprocity",
        definition: "For a team pair {A, B}: min(g(A→B), g(B→A)) ÷ max(g(A→B), g(B→A)), where g(X→Y) is the number of \
                     reviews members of X gave on pull requests of Y in the period. 1 = balanced give and take, 0 = one \
                     side only gives; undefined when both are 0.",
    },
    Definition {
        figure: "first_response_p50_seconds",
        name: "First response p50",
        definition: "On an item opened by a member of team X and held by team Y, the time to the first event by a member \
                     of Y; the median over responses given in the period. Per team: as the responding team.",
    },
    Definition {
        figure: "joint_wins",
        name: "Joint wins",
        definition: "Items completed in the period (merged, or closed as done) whose contributors (author, assignees, \
                     approving reviewers, committers, co-authors) came from at least 2 teams. Each team of a win counts \
                     it once.",
    },
    Definition {
        figure: "bridge_people",
        name: "Bridge people",
        definition: "People who, in the period, interacted (reviewed, commented on, committed to, co-authored) with items \
                     of at least 2 teams other than their own; counted for the team they acted for last. Never named.",
    },
    Definition {
        figure: "silo_index",
        name: "Silo index",
        definition: "Share of a team's members' interactions (comments, reviews, commits on others' items, co-authorships) \
                     in the period that stay on the team's own items. 1 = fully siloed; none without interactions.",
    },
    Definition {
        figure: "members",
        name: "Members",
        definition: "Members of the team at the end of the period, bots excluded.",
    },
    Definition {
        figure: "privacy_floor",
        name: "Privacy floor",
        definition: "Teams with fewer active people than the floor (default 5, never below 2) in the privacy window \
                     before the period's end (or, when they were active then, before the previous period's end) are \
                     reported as \"other\"; pairs take the folded names. People are named only in the drill-down lists, \
                     and only when the report is made with --name-people.",
    },
    Definition {
        figure: "comparison",
        name: "Comparison",
        definition: "Against the previous period: the previous quarter, month or year for calendar periods, otherwise \
                     the span of the same length just before. A change is listed only when it stands out from the noise: \
                     a count by at least 20% and by 2·√(previous + current); a median duration by at least 5 minutes \
                     and by 20% or 2/√n, whichever is larger; a ratio by 0.10 or 1/√n, whichever is larger (n: the \
                     smaller number of observations, at least 5 in each period). Changes are judged only when the \
                     previous period has data and both periods are fully covered by the stored history.",
    },
    Definition {
        figure: "period_coverage",
        name: "Covered",
        definition: "The part of a period the stored history covers: from the latest start of any source's history \
                     (its `since`, or a simulator's start; for a store synced before siloscope recorded it, the \
                     source's first stored event) to the time the report was made. A period not fully covered is \
                     partial: its figures lack the uncovered part, and changes against it are not called better or \
                     worse.",
    },
    Definition {
        figure: "trend",
        name: "Trends",
        definition: "Weekly figures (Monday to Sunday, cut at the period's bounds; a cut week, or one the stored \
                     history does not fully cover, is marked partial) for \
                     periods up to about six months, monthly or yearly beyond. All figures are by event time.",
    },
];

// ---------------------------------------------------------------------------------------------
// Loading (CLI and daemon) and rendering entry points.
// ---------------------------------------------------------------------------------------------

/// The team directory as the daemon resolves it: the config's entries, then each source's
/// stored snapshot.
pub fn load_directory(store: &dyn Store, config: &Config) -> Result<Directory, String> {
    let snapshots = store.directory_snapshots().map_err(|e| e.to_string())?;
    let mut b = config.directory.builder();
    for (_, snap) in &snapshots {
        b.snapshot(snap);
    }
    Ok(b.build())
}

/// Loads every stored item and event into a prepared frame; `progress` is told the number of
/// events loaded so far every 10,000 events.
pub fn load_frame(store: &dyn Store, progress: &mut dyn FnMut(u64)) -> Result<Frame, String> {
    let mut frame = Frame::new();
    store
        .for_each_item(&mut |i| {
            frame.add_item(&i);
        })
        .map_err(|e| e.to_string())?;
    let mut n = 0u64;
    store
        .for_each_event(&mut |e| {
            frame.add_event(&e);
            n += 1;
            if n.is_multiple_of(10_000) {
                progress(n);
            }
        })
        .map_err(|e| e.to_string())?;
    progress(n);
    frame.prepare();
    Ok(frame)
}

/// Renders a report in a format.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Html => html::render(report),
        Format::Markdown => markdown::render(report),
        Format::Json => {
            serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")) + "\n"
        }
    }
}

/// Why the daemon's `/report` has no body.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportError {
    /// [`MAX_CONCURRENT_BUILDS`] reports are being built: answer 503, retry after that many seconds.
    Busy {
        retry_after_seconds: u64,
    },
    /// This process computes nothing (a follower replica): answer 503 with the message (which
    /// replica leads, if known), retry after that many seconds.
    Elsewhere {
        message: String,
        retry_after_seconds: u64,
    },
    Failed(String),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::Busy { retry_after_seconds } => {
                write!(f, "{MAX_CONCURRENT_BUILDS} reports are being built; retry in {retry_after_seconds} s")
            }
            ReportError::Elsewhere { message, .. } => write!(f, "{message}"),
            ReportError::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// Produces the daemon's `/report` (quarter to date at the clock's now) in a format.
pub type ReportProducer = Arc<dyn Fn(Format) -> Result<Arc<String>, ReportError> + Send + Sync>;

/// At most this many `/report` builds at once (each holds a copy of the frame); more get a 503.
pub const MAX_CONCURRENT_BUILDS: usize = 4;

/// The report of one published computation and period, rendered per format on demand.
struct Cached {
    computation: Arc<crate::exporter::Snapshot>,
    period: String,
    report: Arc<Report>,
    rendered: [Option<Arc<String>>; 3],
}

#[derive(Default)]
struct ReportCache {
    slot: std::sync::Mutex<Option<Cached>>,
    /// Builds in flight, by (computation, period): a request for one being built waits for it.
    building: std::sync::Mutex<Vec<(usize, String)>>,
    built: std::sync::Condvar,
}

fn format_index(f: Format) -> usize {
    match f {
        Format::Html => 0,
        Format::Markdown => 1,
        Format::Json => 2,
    }
}

/// What the daemon's `/report` reads of the running daemon (src/daemon.rs implements it for its
/// `State`); the report knows nothing else of the daemon.
pub trait RunningDaemon: Send + Sync {
    /// The daemon clock's now (the demo's is simulated).
    fn now(&self) -> Ts;
    /// The last published computation: a report is built once per computation and period.
    fn computation(&self) -> Option<Arc<crate::exporter::Snapshot>>;
    /// Where each source's history begins, as the store recorded it (`Store::history_starts`).
    fn history_starts(&self) -> Result<Vec<(String, HistoryStart)>, String>;
    /// The team directory as the daemon resolves it now.
    fn directory(&self) -> Arc<Directory>;
    /// A copy of the frame, prepared, taken under its lock (a memory copy: commits wait for that,
    /// never for the analysis).
    fn prepared_frame(&self) -> Frame;
    fn signals_config(&self) -> &SignalsConfig;
}

/// The daemon's report producer (blocking: call it off the async runtime). A report is built once
/// per published computation and period, and served from the cache until the next computation;
/// concurrent requests for a report being built wait for that build. A build copies the frame
/// out under its lock and analyses the copy outside it, so commits and the recompute never wait
/// for a report; at most [`MAX_CONCURRENT_BUILDS`] run at once.
/// `pages`: siloscope's external URL (without the final `/`), from which the report links its pages;
/// `name_people`: the daemon's `[server] name_people` (as `report --name-people`).
pub fn daemon_producer(daemon: Arc<dyn RunningDaemon>, pages: Option<String>, name_people: bool) -> ReportProducer {
    let cache = Arc::new(ReportCache::default());
    Arc::new(move |format| {
        let now = daemon.now();
        let period = Period::quarter_to_date(now);
        let computation = daemon.computation();
        let key = computation.as_ref().map(|c| (Arc::as_ptr(c) as usize, period.label.clone()));
        let fresh = |c: &Cached| {
            computation.as_ref().is_some_and(|k| Arc::ptr_eq(k, &c.computation)) && c.period == period.label
        };
        let rendered = |c: &mut Cached| -> Arc<String> {
            let i = format_index(format);
            c.rendered[i].get_or_insert_with(|| Arc::new(render(&c.report, format))).clone()
        };
        if let Some(c) = lock(&cache.slot).as_mut().filter(|c| fresh(c)) {
            return Ok(rendered(c));
        }
        // Join a build of the same report in flight, or start one if there is room.
        {
            let mut building = lock(&cache.building);
            if let Some(k) = &key {
                while building.contains(k) {
                    building = cache.built.wait(building).unwrap_or_else(|e| e.into_inner());
                    if let Some(c) = lock(&cache.slot).as_mut().filter(|c| fresh(c)) {
                        return Ok(rendered(c));
                    }
                }
            }
            if building.len() >= MAX_CONCURRENT_BUILDS {
                return Err(ReportError::Busy { retry_after_seconds: 5 });
            }
            building.push(key.clone().unwrap_or_default());
        }
        let result = build_daemon_report(daemon.as_ref(), period.clone(), now, pages.clone(), name_people);
        let mut building = lock(&cache.building);
        if let Some(i) = building.iter().position(|k| *k == key.clone().unwrap_or_default()) {
            building.swap_remove(i);
        }
        let report = match result {
            Ok(r) => Arc::new(r),
            Err(e) => {
                cache.built.notify_all();
                return Err(ReportError::Failed(e));
            }
        };
        let body = Arc::new(render(&report, format));
        if let Some(computation) = computation {
            let mut c = Cached { computation, period: period.label, report, rendered: [None, None, None] };
            c.rendered[format_index(format)] = Some(body.clone());
            *lock(&cache.slot) = Some(c);
        }
        drop(building);
        cache.built.notify_all();
        Ok(body)
    })
}

/// One build: the store's history starts, a copy of the prepared frame taken under its lock
/// (a memory copy: commits wait for that, never for the analysis), then the report from the copy.
fn build_daemon_report(
    daemon: &dyn RunningDaemon,
    period: Period,
    now: Ts,
    pages: Option<String>,
    name_people: bool,
) -> Result<Report, String> {
    let history = daemon.history_starts()?;
    let opts = ReportOptions { history, pages, name_people, ..ReportOptions::new(period, now) };
    let dir = daemon.directory();
    let frame = daemon.prepared_frame();
    generate(&frame, &dir, daemon.signals_config(), &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_have_previous_periods() {
        let q3 = Period::parse("2026-Q3").unwrap();
        assert_eq!((q3.start, q3.end), (midnight(2026, 7, 1).unwrap(), midnight(2026, 10, 1).unwrap()));
        assert_eq!(q3.previous().label, "2026-Q2");
        assert_eq!(Period::parse("2026-Q1").unwrap().previous().label, "2025-Q4");
        assert_eq!(Period::parse("2026-01").unwrap().previous().label, "2025-12");
        assert_eq!(Period::parse("2026").unwrap().previous().label, "2025");
        for bad in ["2026-Q5", "26-Q1", "2026-13", "2026-1", "Q3", "", "2026-Q", "２０２６"] {
            let e = Period::parse(bad).unwrap_err();
            assert!(e.contains("malformed period") && e.contains("2026-Q3"), "{bad}: {e}");
        }
        let span = Period::between("2026-07-01", "2026-07-14").unwrap();
        assert_eq!(span.end - span.start, 14 * DAY);
        let prev = span.previous();
        assert_eq!((prev.start, prev.end), (span.start - 14 * DAY, span.start));
        assert!(Period::between("2026-07-14", "2026-07-01").unwrap_err().contains("not after"));
        assert!(Period::between("2026-02-30", "2026-07-01").unwrap_err().contains("--from"));
        assert!(Period::between("2026-07-01", "soon").unwrap_err().contains("--to"));
        assert!(Period::between("0001-01-01", "2026-07-01").unwrap_err().contains("period too long"));
        let qtd = Period::quarter_to_date(midnight(2026, 8, 15).unwrap() + 3600);
        assert_eq!(qtd.start, midnight(2026, 7, 1).unwrap());
        assert_eq!(qtd.end, midnight(2026, 8, 15).unwrap() + 3601);
        assert_eq!(qtd.previous().end, qtd.start);
    }

    #[test]
    fn nearest_rank_quantiles() {
        assert_eq!(quantile(&[], 1, 2), None);
        assert_eq!(quantile(&[7], 3, 4), Some(7));
        assert_eq!(quantile(&[1, 2, 3, 4], 1, 2), Some(2));
        assert_eq!(quantile(&[1, 2, 3, 4], 3, 4), Some(3));
        assert_eq!(quantile(&[1, 2, 3], 1, 2), Some(2));
        assert_eq!(quantile(&[1, 2, 3, 4, 5], 3, 4), Some(4));
    }

    #[test]
    fn weekly_buckets_are_monday_weeks_clipped_to_the_period() {
        // 2026-07-01 is a Wednesday: first bucket Wed–Sun (partial), then whole weeks.
        let p = Period::parse("2026-07").unwrap();
        let (bucket, b) = buckets(&p);
        assert_eq!(bucket, Bucket::Week);
        assert_eq!(b[0], (p.start, p.start + 5 * DAY, false));
        assert_eq!(b[1], (p.start + 5 * DAY, p.start + 12 * DAY, true));
        assert_eq!(b.last().unwrap().1, p.end);
        assert!(!b.last().unwrap().2, "31 Jul is a Friday: the last week is partial");
        assert_eq!(b.len(), 5);
        let (bucket, b) = buckets(&Period::parse("2026").unwrap());
        assert_eq!(bucket, Bucket::Month);
        assert_eq!(b.len(), 12);
        assert!(b.iter().all(|x| x.2));
    }

    #[test]
    fn durations_and_counts_read_well() {
        assert_eq!(fmt_duration(42.0), "42 s");
        assert_eq!(fmt_duration(25.0 * 60.0), "25 min");
        assert_eq!(fmt_duration(6.2 * 3600.0), "6.2 h");
        assert_eq!(fmt_duration(30.0 * 3600.0), "30 h");
        assert_eq!(fmt_duration(3.5 * 86400.0), "3.5 d");
        assert_eq!(fmt_duration(-7200.0), "−2.0 h");
        assert_eq!(fmt_duration_as(44.0 * 3600.0, 2.4 * 86400.0), "1.8 d");
        assert_eq!(fmt_duration_as(52.0 * 60.0, 59.0 * 60.0), "52 min");
        assert_eq!(fmt_duration_as(52.0 * 60.0, 4000.0), "0.9 h");
        assert_eq!(fmt_count(1234567), "1,234,567");
        assert_eq!(fmt_count(12), "12");
    }

    #[test]
    fn judging_changes() {
        use Better::*;
        // Counts: 20 → 8 moves by 12 ≥ 2·√28 = 10.6 and ≥ 20% of 20.
        assert_eq!(judge(Unit::Count, Lower, Some(20.0), Some(8.0), 20, 8), Verdict::Improved);
        // 3 → 5 moves by 2 < 2·√8 = 5.7: noise.
        assert_eq!(judge(Unit::Count, Lower, Some(3.0), Some(5.0), 3, 5), Verdict::Steady);
        // 0 → 4: 4 ≥ 2·√4 = 4.
        assert_eq!(judge(Unit::Count, Higher, Some(0.0), Some(4.0), 0, 4), Verdict::Improved);
        // An unchanged count never is (0 → 0 passes both bars trivially).
        assert_eq!(judge(Unit::Count, Lower, Some(0.0), Some(0.0), 0, 0), Verdict::Steady);
        // 1000 → 1070: 70 < 2·√2070 = 91.
        assert_eq!(judge(Unit::Count, Higher, Some(1000.0), Some(1070.0), 1000, 1070), Verdict::Steady);
        // Durations with 25 observations: the bar is max(20%, 2/5 = 40%) of 1 h = 24 min.
        assert_eq!(judge(Unit::Seconds, Lower, Some(3600.0), Some(7200.0), 25, 30), Verdict::Worsened);
        assert_eq!(judge(Unit::Seconds, Lower, Some(3600.0), Some(2400.0), 25, 30), Verdict::Steady);
        assert_eq!(judge(Unit::Seconds, Lower, Some(3600.0), Some(1800.0), 25, 30), Verdict::Improved);
        assert_eq!(judge(Unit::Seconds, Lower, Some(3600.0), Some(7200.0), 4, 30), Verdict::NotComparable);
        // Ratios with 400 observations: the bar is 0.10.
        assert_eq!(judge(Unit::Ratio, Lower, Some(0.5), Some(0.4), 400, 400), Verdict::Improved);
        assert_eq!(judge(Unit::Ratio, Lower, Some(0.5), Some(0.45), 400, 400), Verdict::Steady);
        // With 16 observations it is 1/4.
        assert_eq!(judge(Unit::Ratio, Higher, Some(0.5), Some(0.7), 16, 16), Verdict::Steady);
        assert_eq!(judge(Unit::Ratio, Lower, None, Some(0.7), 16, 16), Verdict::NotComparable);
    }
}
