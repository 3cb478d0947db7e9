//! The metric catalogue: every family siloscope exposes on `/metrics`, one entry each with its name,
//! type, unit, HELP text, label names and the definition the boards quote. Pure data: it knows
//! nothing of prometheus-client, `Signals`, the store or HTTP, and computes nothing.
//!
//! The exporter, the history backfill, the tests' family lists and the dashboards generator
//! (`cargo xtask dashboards`) all read these entries. Adding a signal family is one entry here,
//! listed in [`SIGNAL_FAMILIES`], plus the `Signals` field it reads.

/// The OpenMetrics type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

impl MetricType {
    /// As in the `# TYPE` line.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// The OpenMetrics unit of a family (its `# UNIT` line, and the last part of its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Seconds,
}

impl Unit {
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
        }
    }
}

/// What produces a family's values, and so where it comes from on a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Computed from the events by the engine (`Signals`): SIGNALS.md §9; the backfill writes its history.
    Signal,
    /// Counted from the store at each computation (items, events, the computation itself).
    Store,
    /// The process's own health: sources' syncs and requests, directory coverage, the listener.
    Process,
}

/// One metric family as `/metrics` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// The family's name as in `# TYPE`: the unit suffix included, a counter's `_total` left out
    /// (`siloscope_handoff_latency_seconds`, `siloscope_handoffs`).
    pub name: &'static str,
    pub metric_type: MetricType,
    pub unit: Option<Unit>,
    /// The `# HELP` text, exactly as exposed (final full stop included).
    pub help: &'static str,
    /// Label names in the order each series shows them (a histogram's `le` not included).
    pub labels: &'static [&'static str],
    pub origin: Origin,
    /// The SIGNALS.md definition the boards quote in their panel descriptions, when the family has one.
    pub definition: Option<&'static str>,
}

impl Family {
    /// The name without its unit suffix (`siloscope_handoff_latency`), as prometheus-client takes
    /// it beside the unit.
    pub fn stem(&self) -> &'static str {
        match self.unit {
            Some(unit) => self
                .name
                .strip_suffix(unit.as_str())
                .and_then(|s| s.strip_suffix('_'))
                .expect("a family with a unit ends in it"),
            None => self.name,
        }
    }

    /// The HELP text as prometheus-client's registry takes it (it adds the full stop itself).
    pub fn help_without_full_stop(&self) -> &'static str {
        self.help.strip_suffix('.').unwrap_or(self.help)
    }

    /// A counter's sample name (`siloscope_handoffs_total`).
    pub fn total(&self) -> String {
        debug_assert_eq!(self.metric_type, MetricType::Counter, "{} is no counter", self.name);
        format!("{}_total", self.name)
    }

    /// A histogram's bucket series name (`siloscope_handoff_latency_seconds_bucket`).
    pub fn bucket(&self) -> String {
        debug_assert_eq!(self.metric_type, MetricType::Histogram, "{} is no histogram", self.name);
        format!("{}_bucket", self.name)
    }

    /// The names sample lines of this family start with: `_total` for a counter, `_bucket`,
    /// `_count` and `_sum` for a histogram, the name itself for a gauge.
    pub fn sample_names(&self) -> Vec<String> {
        match self.metric_type {
            MetricType::Counter => vec![self.total()],
            MetricType::Gauge => vec![self.name.to_string()],
            MetricType::Histogram => {
                ["_bucket", "_count", "_sum"].iter().map(|s| format!("{}{s}", self.name)).collect()
            }
        }
    }

    /// Whether `sample` (a metric name as a query or a sample line names it) is one of this family's.
    pub fn names_sample(&self, sample: &str) -> bool {
        self.sample_names().iter().any(|n| n == sample)
    }
}

/// The definitions of SIGNALS.md, as the boards quote them.
pub mod definitions {
    pub const HANDOFF: &str = "A handoff happens when custody of an item moves from team A to team B (reassign: label, status, \
         component or assignee; transfer: moved to another team's repo or project), or when a review of A's pull request \
         is requested from a person or team in B (review).";
    pub const LATENCY: &str = "Handoff latency = acknowledgement time − handoff time; acknowledged at the first later event on \
         the item by a non-bot member of the receiving team (comment, review, status change, assignment to a member, label, \
         commit, close).";
    pub const WAITING: &str = "Waiting: not acknowledged yet, the item still open and still with the receiving team. Stalled: \
         waiting longer than the stall threshold (default 2 days; per team and per kind in the config; optionally in the \
         receiving team's working hours).";
    pub const BOUNCE: &str = "A bounce (ping-pong): custody returns from B to A within the bounce window (default 7 days) of A → \
         B on the same item. from_team is A, to_team is B (the team that sent it back).";
    pub const DECISION: &str = "A decision is an item matched by the decision selector (labels decision/adr/rfc, a Decision \
         issue type, or a decision-record file); it is made when closed as completed (done, merged, accepted).";
    pub const REHASH: &str = "Rehashed: after it was made, within the rehash window (default 90 days), the decision was \
         reopened, superseded by a later item, its record turned Superseded/Deprecated, or discussion resumed (at least 3 \
         comments from at least 2 teams). Rehash rate = decisions rehashed / decisions made, per team.";
    pub const REWORK: &str = "Rework, for all items: reopened after close (the team holding it), and merged changes later \
         reverted (the author's team).";
    pub const REVIEW: &str = "A submitted review by reviewer R on a pull request authored by P is cross-team when team(R) ≠ \
         team(P) at review time. Reviews by bots and by the author are not reviews.";
    pub const PICKUP: &str = "Review pickup = first review by the requested reviewer (or any member of the requested team) − \
         review request time, not counting time the pull request spent as a draft.";
    pub const RECIPROCITY: &str = "Reciprocity of a team pair {A, B} in a window = min(g(A→B), g(B→A)) / max(g(A→B), g(B→A)), \
         where g(X→Y) is the number of reviews members of X gave on pull requests of Y. 1 = balanced give and take, 0 = one \
         side only gives; not shown when neither reviewed the other.";
    pub const ENGAGEMENT: &str = "Cross-team engagement: comments, reviews and mentions by members of team X on items held by \
         team Y (X ≠ Y); a mention of a team handle counts for the mentioned team.";
    pub const FIRST_RESPONSE: &str = "First response to a request from another team: on an item opened by a member of X and \
         held by Y, the time to the first event by a member of Y.";
    pub const JOINT_WIN: &str = "Joint win: an item completed (merged, or closed as done) whose contributors (author, assignees, \
         approving reviewers, committers) come from at least 2 teams; each team involved counts it once.";
    pub const BRIDGE: &str = "Bridge person: a person who, in the window, interacted (reviewed, commented on, co-authored) with \
         items of at least 2 teams other than their own. Only the count per team is exported, never who.";
    pub const SILO: &str = "Silo index of a team in a window: share of its members' interactions that stay inside the team (1 \
         = fully siloed).";
    pub const AGREEMENT: &str = "A working agreement (config [[agreements]]) promises that handoffs to a team (from some teams, \
         of some kinds) are acknowledged within a time, for an objective share of them over a window. A covered handoff \
         keeps it when acknowledged by its deadline (counted then) and breaks it when still waiting at the deadline \
         (counted at the deadline, so the budget burns while work waits); one that stops waiting unacknowledged before its \
         deadline (closed, moved on) is not counted. Attainment = 1 − breaches / handoffs over the window; error budget \
         left = 1 − (breaches / handoffs) / (1 − objective); burn rate over w = (Δbreaches(w) / Δhandoffs(w)) / (1 − \
         objective). An agreement whose receiving team is under the privacy floor exports no series.";
    pub const COVERAGE: &str = "Directory coverage: the share of each source's events in the window (bots and actor-less events \
         excluded) whose actor the team directory resolves to a team at the event's time, and the share of its active \
         identities resolved at their latest event. Activity of someone missing from the directory counts for no team: their \
         handoffs and acknowledgements go missing. SiloscopeDirectoryCoverageLow fires under the configured warning \
         ([signals] coverage_warning, default 95%); `siloscope teams suggest` proposes the missing entries.";
}

use MetricType::{Counter, Gauge, Histogram};
use Origin::{Process, Signal, Store};

const SECONDS: Option<Unit> = Some(Unit::Seconds);

const fn family(
    name: &'static str,
    metric_type: MetricType,
    unit: Option<Unit>,
    origin: Origin,
    labels: &'static [&'static str],
    help: &'static str,
    definition: Option<&'static str>,
) -> Family {
    Family { name, metric_type, unit, help, labels, origin, definition }
}

const HANDOFF_PAIR: &[&str] = &["kind", "from_team", "to_team"];

// ---------------------------------------------------------------------------------------------
// SIGNALS.md §9: the signal families, computed from the events.
// ---------------------------------------------------------------------------------------------

pub const HANDOFFS: Family = family(
    "siloscope_handoffs",
    Counter,
    None,
    Signal,
    &["source", "kind", "from_team", "to_team"],
    "Handoffs between teams: custody moved from from_team to to_team, or a cross-team review was requested.",
    Some(definitions::HANDOFF),
);
pub const HANDOFF_LATENCY: Family = family(
    "siloscope_handoff_latency_seconds",
    Histogram,
    SECONDS,
    Signal,
    HANDOFF_PAIR,
    "Time from a handoff until the first event on the item by a member of the receiving team (acknowledgement).",
    Some(definitions::LATENCY),
);
pub const HANDOFFS_WAITING: Family = family(
    "siloscope_handoffs_waiting",
    Gauge,
    None,
    Signal,
    HANDOFF_PAIR,
    "Handoffs not acknowledged yet, with the item still open and still with the receiving team.",
    Some(definitions::WAITING),
);
pub const HANDOFFS_STALLED: Family = family(
    "siloscope_handoffs_stalled",
    Gauge,
    None,
    Signal,
    HANDOFF_PAIR,
    "Waiting handoffs that have waited longer than their stall threshold.",
    Some(definitions::WAITING),
);
pub const HANDOFF_OLDEST_WAIT: Family = family(
    "siloscope_handoff_oldest_wait_seconds",
    Gauge,
    SECONDS,
    Signal,
    &["to_team"],
    "How long the oldest waiting handoff to the team has waited (0 when none waits).",
    Some(definitions::WAITING),
);
pub const HANDOFF_BOUNCES: Family = family(
    "siloscope_handoff_bounces",
    Counter,
    None,
    Signal,
    &["from_team", "to_team"],
    "Custody returned to from_team from to_team within the bounce window of from_team handing it to to_team.",
    Some(definitions::BOUNCE),
);
pub const DECISIONS: Family = family(
    "siloscope_decisions",
    Counter,
    None,
    Signal,
    &["team"],
    "Decisions made (closed as completed, merged, or accepted), by the team holding them.",
    Some(definitions::DECISION),
);
pub const DECISIONS_REHASHED: Family = family(
    "siloscope_decisions_rehashed",
    Counter,
    None,
    Signal,
    &["team", "reason"],
    "Decisions rehashed within the rehash window after they were made, by first reason.",
    Some(definitions::REHASH),
);
pub const REWORK: Family = family(
    "siloscope_rework",
    Counter,
    None,
    Signal,
    &["team", "kind"],
    "Rework: items reopened after close, merged changes later reverted.",
    Some(definitions::REWORK),
);
pub const REVIEWS: Family = family(
    "siloscope_reviews",
    Counter,
    None,
    Signal,
    &["author_team", "reviewer_team", "state"],
    "Submitted reviews by the author's team and the reviewer's team at review time.",
    Some(definitions::REVIEW),
);
pub const REVIEW_PICKUP: Family = family(
    "siloscope_review_pickup_seconds",
    Histogram,
    SECONDS,
    Signal,
    &["author_team", "reviewer_team"],
    "Time from a review request to the first review by the requested person or team, draft time excluded.",
    Some(definitions::PICKUP),
);
pub const REVIEW_RECIPROCITY: Family = family(
    "siloscope_review_reciprocity_ratio",
    Gauge,
    None,
    Signal,
    &["team_a", "team_b", "window"],
    "min/max of reviews given each way between two teams in the window (1 = balanced).",
    Some(definitions::RECIPROCITY),
);
pub const ENGAGEMENTS: Family = family(
    "siloscope_engagements",
    Counter,
    None,
    Signal,
    &["actor_team", "owner_team", "kind"],
    "Comments, reviews and team mentions by members of actor_team on items held by owner_team.",
    Some(definitions::ENGAGEMENT),
);
pub const FIRST_RESPONSE: Family = family(
    "siloscope_first_response_seconds",
    Histogram,
    SECONDS,
    Signal,
    &["requester_team", "owner_team"],
    "Time from an item opened by requester_team and held by owner_team to the first event by owner_team.",
    Some(definitions::FIRST_RESPONSE),
);
pub const JOINT_WINS: Family = family(
    "siloscope_joint_wins",
    Counter,
    None,
    Signal,
    &["team"],
    "Items completed with contributors from at least two teams, counted for each team involved.",
    Some(definitions::JOINT_WIN),
);
pub const BRIDGE_PEOPLE: Family = family(
    "siloscope_bridge_people",
    Gauge,
    None,
    Signal,
    &["team", "window"],
    "People of the team who interacted with items of at least two other teams in the window.",
    Some(definitions::BRIDGE),
);
pub const SILO_INDEX: Family = family(
    "siloscope_silo_index",
    Gauge,
    None,
    Signal,
    &["team", "window"],
    "Share of the team's interactions that stay on its own items in the window (1 = fully siloed).",
    Some(definitions::SILO),
);
pub const TEAM_MEMBERS: Family = family(
    "siloscope_team_members",
    Gauge,
    None,
    Signal,
    &["team"],
    "Current members of the team (bots excluded).",
    None,
);

const AGREEMENT_LABELS: &[&str] = &["agreement", "to_team"];

pub const AGREEMENT_HANDOFFS: Family = family(
    "siloscope_agreement_handoffs",
    Counter,
    None,
    Signal,
    AGREEMENT_LABELS,
    "Handoffs covered by the working agreement whose outcome is decided (kept or broken), counted when decided.",
    Some(definitions::AGREEMENT),
);
pub const AGREEMENT_BREACHES: Family = family(
    "siloscope_agreement_breaches",
    Counter,
    None,
    Signal,
    AGREEMENT_LABELS,
    "Handoffs covered by the working agreement that broke its promise, counted at the deadline.",
    Some(definitions::AGREEMENT),
);
pub const AGREEMENT_OBJECTIVE: Family = family(
    "siloscope_agreement_objective_ratio",
    Gauge,
    None,
    Signal,
    AGREEMENT_LABELS,
    "The working agreement's objective: the share of covered handoffs that must keep the promise (0-1).",
    Some(definitions::AGREEMENT),
);
pub const AGREEMENT_WINDOW: Family = family(
    "siloscope_agreement_window_seconds",
    Gauge,
    SECONDS,
    Signal,
    AGREEMENT_LABELS,
    "The working agreement's SLO window.",
    Some(definitions::AGREEMENT),
);
pub const AGREEMENT_WAITING_PAST_PROMISE: Family = family(
    "siloscope_agreement_waiting_past_promise",
    Gauge,
    None,
    Signal,
    AGREEMENT_LABELS,
    "Handoffs covered by the working agreement waiting now past their deadline.",
    Some(definitions::AGREEMENT),
);

/// The working agreements' families (issue 12), the last five of [`SIGNAL_FAMILIES`].
pub const AGREEMENT_FAMILIES: [&Family; 5] = [
    &AGREEMENT_HANDOFFS,
    &AGREEMENT_BREACHES,
    &AGREEMENT_OBJECTIVE,
    &AGREEMENT_WINDOW,
    &AGREEMENT_WAITING_PAST_PROMISE,
];

/// The signal families in exposition order: what the exporter encodes from `Signals` and the
/// backfill writes the history of.
pub const SIGNAL_FAMILIES: [&Family; 23] = [
    &HANDOFFS,
    &HANDOFF_LATENCY,
    &HANDOFFS_WAITING,
    &HANDOFFS_STALLED,
    &HANDOFF_OLDEST_WAIT,
    &HANDOFF_BOUNCES,
    &DECISIONS,
    &DECISIONS_REHASHED,
    &REWORK,
    &REVIEWS,
    &REVIEW_PICKUP,
    &REVIEW_RECIPROCITY,
    &ENGAGEMENTS,
    &FIRST_RESPONSE,
    &JOINT_WINS,
    &BRIDGE_PEOPLE,
    &SILO_INDEX,
    &TEAM_MEMBERS,
    &AGREEMENT_HANDOFFS,
    &AGREEMENT_BREACHES,
    &AGREEMENT_OBJECTIVE,
    &AGREEMENT_WINDOW,
    &AGREEMENT_WAITING_PAST_PROMISE,
];

// ---------------------------------------------------------------------------------------------
// The store and the computation, published with the signals.
// ---------------------------------------------------------------------------------------------

pub const ITEMS: Family = family(
    "siloscope_items",
    Gauge,
    None,
    Store,
    &["source", "kind", "state"],
    "Work items in the store by source, kind and state.",
    None,
);
pub const EVENTS_STORED: Family =
    family("siloscope_events_stored", Gauge, None, Store, &[], "Activity events in the store.", None);
pub const LAST_COMPUTE_TIMESTAMP: Family = family(
    "siloscope_last_compute_timestamp_seconds",
    Gauge,
    SECONDS,
    Store,
    &[],
    "When the signals were last computed (Unix time).",
    None,
);
pub const COMPUTE_DURATION: Family = family(
    "siloscope_compute_duration_seconds",
    Gauge,
    SECONDS,
    Store,
    &[],
    "How long the last computation of the signals took.",
    None,
);

/// The store's families in exposition order, after the signal families.
pub const STORE_FAMILIES: [&Family; 4] = [&ITEMS, &EVENTS_STORED, &LAST_COMPUTE_TIMESTAMP, &COMPUTE_DURATION];

// ---------------------------------------------------------------------------------------------
// The process's own health, updated as sources sync and connections come and go.
// ---------------------------------------------------------------------------------------------

pub const BUILD_INFO: Family =
    family("siloscope_build_info", Gauge, None, Process, &["version"], "siloscope version; always 1.", None);
pub const SOURCE_UP: Family =
    family("siloscope_source_up", Gauge, None, Process, &["source"], "1 when the source's last sync succeeded.", None);
pub const SOURCE_LAST_SUCCESS: Family = family(
    "siloscope_source_last_success_timestamp_seconds",
    Gauge,
    SECONDS,
    Process,
    &["source"],
    "When the source last synced successfully (Unix time).",
    None,
);
pub const SOURCE_REQUESTS: Family = family(
    "siloscope_source_requests",
    Counter,
    None,
    Process,
    &["source", "status"],
    "API requests made by the source, by HTTP status.",
    None,
);
pub const SOURCE_RATE_LIMIT_REMAINING: Family = family(
    "siloscope_source_rate_limit_remaining",
    Gauge,
    None,
    Process,
    &["source"],
    "Requests (or points) left in the source's current rate-limit window.",
    None,
);
pub const SOURCE_SYNC_DURATION: Family = family(
    "siloscope_source_sync_duration_seconds",
    Histogram,
    SECONDS,
    Process,
    &["source"],
    "Duration of the source's syncs.",
    None,
);
pub const SOURCE_ERRORS: Family = family(
    "siloscope_source_errors",
    Counter,
    None,
    Process,
    &["source", "kind"],
    "Source errors by kind (transport, http, rate_limit, malformed, store, ceiling, loop, …).",
    None,
);
pub const EVENTS_INGESTED: Family = family(
    "siloscope_events_ingested",
    Counter,
    None,
    Process,
    &["source"],
    "New events stored by this process, per source.",
    None,
);
pub const SOURCE_BACKFILL_PROGRESS: Family = family(
    "siloscope_source_backfill_progress_ratio",
    Gauge,
    None,
    Process,
    &["source"],
    "How far this process's first sync of the source has come through the history to cover (1 once caught up).",
    None,
);
pub const SOURCE_BACKFILL_ETA: Family = family(
    "siloscope_source_backfill_eta_seconds",
    Gauge,
    SECONDS,
    Process,
    &["source"],
    "Time the first sync of the source still needs, at its pace and its rate limit (0 once caught up).",
    None,
);
pub const DIRECTORY_EVENT_COVERAGE: Family = family(
    "siloscope_directory_event_coverage_ratio",
    Gauge,
    None,
    Process,
    &["source", "window"],
    "Share of the source's events in the window (bots and actor-less events excluded) whose actor the team directory \
     resolves to a team at the event's time.",
    Some(definitions::COVERAGE),
);
pub const DIRECTORY_IDENTITY_COVERAGE: Family = family(
    "siloscope_directory_identity_coverage_ratio",
    Gauge,
    None,
    Process,
    &["source", "window"],
    "Share of the source's active identities in the window (bots excluded) that the team directory resolves to a team \
     at their latest event.",
    Some(definitions::COVERAGE),
);
pub const DIRECTORY_UNRESOLVED_IDENTITIES: Family = family(
    "siloscope_directory_unresolved_identities",
    Gauge,
    None,
    Process,
    &["source", "window"],
    "Active identities of the source in the window that the team directory resolves to no team (run `siloscope teams \
     suggest`).",
    None,
);
pub const DIRECTORY_COVERAGE_WARNING: Family = family(
    "siloscope_directory_coverage_warning_ratio",
    Gauge,
    None,
    Process,
    &[],
    "The configured event coverage under which siloscope warns ([signals] coverage_warning).",
    None,
);
pub const HTTP_CONNECTIONS: Family =
    family("siloscope_http_connections", Gauge, None, Process, &[], "Open connections to siloscope's listener.", None);
pub const HTTP_CONNECTIONS_DROPPED: Family = family(
    "siloscope_http_connections_dropped",
    Counter,
    None,
    Process,
    &["reason"],
    "Connections siloscope closed: evicted at the connection limit for a new one, silent after connecting, or idle.",
    None,
);
pub const LEADER: Family = family(
    "siloscope_leader",
    Gauge,
    None,
    Process,
    &[],
    "1 on the replica that computes and exports the signal families (a single siloscope is its own leader), 0 on the \
     other replicas of its store.",
    None,
);

/// The process's health families.
pub const PROCESS_FAMILIES: [&Family; 17] = [
    &BUILD_INFO,
    &SOURCE_UP,
    &SOURCE_LAST_SUCCESS,
    &SOURCE_REQUESTS,
    &SOURCE_RATE_LIMIT_REMAINING,
    &SOURCE_SYNC_DURATION,
    &SOURCE_ERRORS,
    &EVENTS_INGESTED,
    &SOURCE_BACKFILL_PROGRESS,
    &SOURCE_BACKFILL_ETA,
    &DIRECTORY_EVENT_COVERAGE,
    &DIRECTORY_IDENTITY_COVERAGE,
    &DIRECTORY_UNRESOLVED_IDENTITIES,
    &DIRECTORY_COVERAGE_WARNING,
    &HTTP_CONNECTIONS,
    &HTTP_CONNECTIONS_DROPPED,
    &LEADER,
];

/// Every family siloscope exposes: the process's health, then the signals, then the store's.
pub fn all() -> impl Iterator<Item = &'static Family> {
    PROCESS_FAMILIES.into_iter().chain(SIGNAL_FAMILIES).chain(STORE_FAMILIES)
}

/// The family whose name is `name` (as in `# TYPE`).
pub fn by_name(name: &str) -> Option<&'static Family> {
    all().find(|f| f.name == name)
}

/// Every label name a signal series can carry, `le` included: an extra label given to the
/// backfill must not be one of them.
pub fn signal_label_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for label in SIGNAL_FAMILIES.iter().flat_map(|f| f.labels.iter().copied()).chain(["le"]) {
        if !names.contains(&label) {
            names.push(label);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for f in all() {
            assert!(seen.insert(f.name), "{} is listed twice", f.name);
            assert!(f.name.starts_with("siloscope_"), "{}", f.name);
            assert!(f.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{}", f.name);
            assert!(!f.name.ends_with("_total"), "{}: a counter's name leaves _total to the exposition", f.name);
            if let Some(unit) = f.unit {
                assert!(f.name.ends_with(&format!("_{}", unit.as_str())), "{} lacks its unit suffix", f.name);
            }
            assert!(f.help.ends_with('.'), "{}: HELP ends in a full stop", f.name);
            assert!(!f.labels.contains(&"le"), "{}", f.name);
        }
    }

    /// No person and no item is ever a label.
    #[test]
    fn no_label_names_a_person_or_an_item() {
        for f in all() {
            for label in f.labels {
                for bad in ["person", "user", "login", "author", "reviewer", "assignee", "item", "issue", "url", "id"] {
                    assert!(label.ends_with("_team") || !label.contains(bad), "{}: label {label}", f.name);
                }
            }
        }
    }

    #[test]
    fn stems_and_sample_names() {
        assert_eq!(HANDOFF_LATENCY.stem(), "siloscope_handoff_latency");
        assert_eq!(HANDOFFS.stem(), "siloscope_handoffs");
        assert_eq!(HANDOFFS.total(), "siloscope_handoffs_total");
        assert!(REVIEW_PICKUP.names_sample("siloscope_review_pickup_seconds_count"));
        assert!(!REVIEW_PICKUP.names_sample("siloscope_review_pickup_seconds"));
        assert_eq!(BUILD_INFO.help_without_full_stop(), "siloscope version; always 1");
        assert_eq!(signal_label_names().len(), 17);
    }
}
