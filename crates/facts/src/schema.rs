//! The schema of each fact kind: its columns in order, their types, units and meaning, the one
//! definition the tables are built to (a test checks each table against it) and docs/facts.md is
//! rendered from (a test checks the file). It owns names and words only, no data.

use polars::prelude::{DataType, TimeUnit};

/// The kinds of fact a table can hold (`siloscope export --facts KIND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactKind {
    Handoffs,
    Bounces,
    Reviews,
    Pickups,
    Decisions,
    Rework,
    Engagements,
    FirstResponses,
    JointWins,
    Interactions,
}

/// A column's type as readers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text (tracker text with control and bidirectional characters shown as `[U+XXXX]`).
    Text,
    /// An instant in UTC: polars `Datetime(ms)` without a time zone, Parquet `TIMESTAMP(MILLIS)`,
    /// RFC 3339 (`2026-07-01T09:30:00Z`) in CSV and NDJSON.
    Time,
    /// A duration in whole seconds (Int64).
    Seconds,
    /// A count (Int64).
    Count,
    /// true or false (Boolean).
    Flag,
}

impl ColumnType {
    pub fn dtype(self) -> DataType {
        match self {
            ColumnType::Text => DataType::String,
            ColumnType::Time => DataType::Datetime(TimeUnit::Milliseconds, None),
            ColumnType::Seconds | ColumnType::Count => DataType::Int64,
            ColumnType::Flag => DataType::Boolean,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Time => "time (UTC)",
            ColumnType::Seconds => "seconds",
            ColumnType::Count => "count",
            ColumnType::Flag => "boolean",
        }
    }
}

/// One documented column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// Empty (null) in some rows; the meaning says when.
    pub nullable: bool,
    pub meaning: &'static str,
}

const fn col(name: &'static str, ty: ColumnType, meaning: &'static str) -> Column {
    Column { name, ty, nullable: false, meaning }
}

const fn opt(name: &'static str, ty: ColumnType, meaning: &'static str) -> Column {
    Column { name, ty, nullable: true, meaning }
}

use ColumnType::{Count, Flag, Seconds, Text, Time};

const ITEM: Column = col(
    "item",
    Text,
    "The item's key in its tracker (`acme/api#12`, `PAY-7`, `group/project!3`), as the pages and the report show it.",
);
const SOURCE: Column = col("source", Text, "The configured source (`[[sources]] name`) the item was read from.");

impl FactKind {
    pub const ALL: [FactKind; 10] = [
        FactKind::Handoffs,
        FactKind::Bounces,
        FactKind::Reviews,
        FactKind::Pickups,
        FactKind::Decisions,
        FactKind::Rework,
        FactKind::Engagements,
        FactKind::FirstResponses,
        FactKind::JointWins,
        FactKind::Interactions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Handoffs => "handoffs",
            FactKind::Bounces => "bounces",
            FactKind::Reviews => "reviews",
            FactKind::Pickups => "pickups",
            FactKind::Decisions => "decisions",
            FactKind::Rework => "rework",
            FactKind::Engagements => "engagements",
            FactKind::FirstResponses => "first_responses",
            FactKind::JointWins => "joint_wins",
            FactKind::Interactions => "interactions",
        }
    }

    pub fn parse(s: &str) -> Option<FactKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s || k.as_str().replace('_', "-") == s)
    }

    /// What one row is.
    pub fn row(self) -> &'static str {
        match self {
            FactKind::Handoffs => {
                "A handoff (SIGNALS.md §3): custody of an item passed from one team to another by a reassignment, a review request or a transfer, with its state at the export's end."
            }
            FactKind::Bounces => {
                "A bounce: custody came back to the team that handed the item off (A → B → A) within the bounce window."
            }
            FactKind::Reviews => {
                "A review given by a member of one team on a pull or merge request authored by another team."
            }
            FactKind::Pickups => {
                "A cross-team review request and its pickup: the first review the requested team gave, and the time to it."
            }
            FactKind::Decisions => {
                "A decision made (SIGNALS.md §4), and its first rehash within the rehash window, if any."
            }
            FactKind::Rework => "An item reopened or reverted after it was closed or merged.",
            FactKind::Engagements => {
                "A comment, review or team mention by a member of one team on an item another team owns (no item: engagement is counted per team pair)."
            }
            FactKind::FirstResponses => "The first response by the owning team to a request another team opened.",
            FactKind::JointWins => {
                "One team's part in a joint win: an item closed with contributions from two or more teams (one row per team in it)."
            }
            FactKind::Interactions => {
                "A person acting on an item of another team or their own (review, comment, commit, co-authorship): what bridge people and the silo index count."
            }
        }
    }

    /// The column a time range selects rows on.
    pub fn time_column(self) -> &'static str {
        match self {
            FactKind::Handoffs => "handed_at",
            FactKind::Bounces => "bounced_at",
            FactKind::Reviews => "submitted_at",
            FactKind::Pickups => "picked_at",
            FactKind::Decisions => "made_at",
            FactKind::Rework => "reworked_at",
            FactKind::Engagements => "engaged_at",
            FactKind::FirstResponses => "responded_at",
            FactKind::JointWins => "won_at",
            FactKind::Interactions => "interacted_at",
        }
    }

    /// The columns of this kind's table, in order; `person` columns only with `name_people`.
    pub fn columns(self, name_people: bool) -> Vec<Column> {
        let mut out = match self {
            FactKind::Handoffs => vec![
                ITEM,
                SOURCE,
                col("kind", Text, "`reassign`, `review` or `transfer`."),
                col("from_team", Text, "The team custody passed from (`other` when under the privacy floor)."),
                col("to_team", Text, "The team custody passed to (`other` when under the privacy floor)."),
                col("handed_at", Time, "When custody passed."),
                opt(
                    "acknowledged_at",
                    Time,
                    "The first later event by a member of `to_team` (the handoff itself when `to_team` pulled the item); null when not acknowledged by the export's end.",
                ),
                opt(
                    "ended_at",
                    Time,
                    "When it stopped waiting without an acknowledgement (custody moved on, the review request was withdrawn, the item was closed); null otherwise.",
                ),
                opt(
                    "bounced_at",
                    Time,
                    "When custody came back to `from_team` within the bounce window; null otherwise.",
                ),
                col(
                    "state",
                    Text,
                    "At the export's end: `waiting`, `stalled` (waiting past `stall_after_seconds`), `acknowledged`, `bounced` or `ended`, as the pages and `siloscope_handoffs_waiting` count it.",
                ),
                opt(
                    "latency_seconds",
                    Seconds,
                    "`acknowledged_at` − `handed_at` in wall-clock seconds (what `siloscope_handoff_ack_latency_seconds` observes); null when not acknowledged.",
                ),
                col(
                    "state_seconds",
                    Seconds,
                    "Waiting or stalled: how long it has waited at the export's end; acknowledged: the latency; bounced or ended: how long it waited before it stopped.",
                ),
                col(
                    "working_hours",
                    Flag,
                    "Whether `state_seconds` counts the receiving team's working hours only (waiting, `stall_in_working_hours` on and the team has a calendar).",
                ),
                col(
                    "stall_after_seconds",
                    Seconds,
                    "The stall threshold that applies (by receiving team, else by kind, else the default).",
                ),
            ],
            FactKind::Bounces => vec![
                ITEM,
                SOURCE,
                col("from_team", Text, "The team that handed the item off first (A of A → B → A)."),
                col("to_team", Text, "The team that sent it back (B)."),
                col("bounced_at", Time, "When custody came back to `from_team`."),
            ],
            FactKind::Reviews => vec![
                ITEM,
                SOURCE,
                col("author_team", Text, "The team of the request's author when the review was given."),
                col("reviewer_team", Text, "The team of the reviewer when the review was given."),
                col("review_state", Text, "`approved`, `changes_requested` or `commented`."),
                col("submitted_at", Time, "When the review was submitted."),
            ],
            FactKind::Pickups => vec![
                ITEM,
                SOURCE,
                col("author_team", Text, "The team of the request's author."),
                col("reviewer_team", Text, "The team whose review was requested."),
                col("requested_at", Time, "When the review was requested from that team."),
                col("picked_at", Time, "The team's first review after the request."),
                col(
                    "pickup_seconds",
                    Seconds,
                    "`picked_at` − `requested_at` less the time the request spent as a draft (what `siloscope_review_pickup_seconds` observes).",
                ),
            ],
            FactKind::Decisions => vec![
                ITEM,
                SOURCE,
                col("team", Text, "The team that held the item when the decision was made."),
                col("made_at", Time, "When the decision was made (accepted, or closed as decided)."),
                opt(
                    "rehash_reason",
                    Text,
                    "`reopened`, `superseded`, `status` or `discussion`: the first rehash within the rehash window, by the export's end; null when none.",
                ),
                opt("rehashed_at", Time, "When that rehash happened; null when none."),
                col("state", Text, "At the export's end: `made` or `rehashed`."),
            ],
            FactKind::Rework => vec![
                ITEM,
                SOURCE,
                col("team", Text, "The team that held the item then (a reverted change: its author's team)."),
                col("kind", Text, "`reopened` or `reverted`."),
                col("reworked_at", Time, "When it was reopened or reverted."),
            ],
            FactKind::Engagements => vec![
                col("actor_team", Text, "The team of the person who engaged."),
                col("owner_team", Text, "The team that owns the item engaged with (a mention: the team mentioned)."),
                col("kind", Text, "`comment`, `review` or `mention`."),
                col("engaged_at", Time, "When."),
            ],
            FactKind::FirstResponses => vec![
                ITEM,
                SOURCE,
                col("requester_team", Text, "The team that opened the request."),
                col("owner_team", Text, "The team that owns it and responded."),
                col("opened_at", Time, "When the request was opened."),
                col("responded_at", Time, "The owning team's first response."),
                col("response_seconds", Seconds, "`responded_at` − `opened_at`, wall-clock seconds."),
            ],
            FactKind::JointWins => vec![
                ITEM,
                SOURCE,
                col("team", Text, "One team in the win (teams folded into `other` are one `other` row)."),
                col("won_at", Time, "When the item was closed or merged."),
                col("teams", Count, "How many teams (as exported) the win has."),
            ],
            FactKind::Interactions => vec![
                col("team", Text, "The team the person acted for at the time."),
                col("owner_team", Text, "The team that owns the item."),
                col("interacted_at", Time, "When."),
            ],
        };
        if name_people && self == FactKind::Interactions {
            out.insert(
                0,
                col(
                    "person",
                    Text,
                    "The person's directory name. Only with `--name-people`; without it, no column names a person.",
                ),
            );
        }
        out
    }
}

/// docs/facts.md's generated part: every kind's table of columns.
pub fn render_markdown() -> String {
    use std::fmt::Write;
    let mut o = String::new();
    for kind in FactKind::ALL {
        let _ =
            writeln!(o, "### `{}`\n\n{}\nRows are selected by `{}`.\n", kind.as_str(), kind.row(), kind.time_column());
        let _ = writeln!(o, "| column | type | null | meaning |\n| --- | --- | --- | --- |");
        for c in kind.columns(true) {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} |",
                c.name,
                c.ty.as_str(),
                if c.nullable { "yes" } else { "no" },
                c.meaning
            );
        }
        o.push('\n');
    }
    o
}
