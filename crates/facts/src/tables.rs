//! Builds each fact kind's table from the analysis, column by column in the order `schema`
//! documents. States come from the engine's `state` module (the definition the metrics and pages
//! use); teams are the labels given; item keys and names are neutralised tracker text.

use std::borrow::Cow;

use polars::prelude::{Column as PlColumn, DataFrame, IntoColumn, NamedFrom, PolarsResult, Series, TimeUnit};

use siloscope_engine::records::{Analysis, HandoffRec};
use siloscope_engine::state::{decision_state, handoff_at};
use siloscope_model::Ts;
use siloscope_model::teams::TeamId;
use siloscope_model::untrusted::neutralize;

use crate::schema::FactKind;
use crate::{Facts, TimeRange};

pub(crate) fn build(f: &Facts<'_>, kind: FactKind, range: TimeRange) -> PolarsResult<DataFrame> {
    let a: &Analysis = f.analysis;
    // A fact is kept when its own time is in the range and not after `as_of`.
    let keep = |t: Ts| range.contains(t) && t <= f.as_of;
    // Times after `as_of` have not happened yet at the export's end.
    let seen = |t: Option<Ts>| t.filter(|t| *t <= f.as_of);
    let mut t = Table::default();
    match kind {
        FactKind::Handoffs => {
            let rows: Vec<&HandoffRec> = a.handoffs.iter().filter(|h| keep(h.at)).collect();
            let at: Vec<_> = rows.iter().filter_map(|h| handoff_at(h, f.dir, f.cfg, f.labels, f.as_of)).collect();
            t.item(f, at.iter().map(|h| h.fact.item));
            t.text("kind", at.iter().map(|h| h.fact.kind.as_str()));
            t.text("from_team", at.iter().map(|h| h.from));
            t.text("to_team", at.iter().map(|h| h.to));
            t.time("handed_at", at.iter().map(|h| Some(h.fact.at)));
            t.time("acknowledged_at", at.iter().map(|h| seen(h.fact.acked_at)));
            t.time("ended_at", at.iter().map(|h| seen(h.fact.ended_at)));
            t.time("bounced_at", at.iter().map(|h| seen(h.fact.bounced_at)));
            t.text("state", at.iter().map(|h| h.state.as_str()));
            t.int("latency_seconds", at.iter().map(|h| seen(h.fact.acked_at).map(|ack| ack - h.fact.at)));
            t.int("state_seconds", at.iter().map(|h| Some(h.seconds)));
            t.flag("working_hours", at.iter().map(|h| h.working_hours));
            t.int("stall_after_seconds", at.iter().map(|h| Some(h.stall_after)));
        }
        FactKind::Bounces => {
            let rows: Vec<_> = a.bounces.iter().filter(|b| keep(b.at)).collect();
            t.item(f, rows.iter().map(|b| b.item));
            t.team(f, "from_team", rows.iter().map(|b| b.from));
            t.team(f, "to_team", rows.iter().map(|b| b.to));
            t.time("bounced_at", rows.iter().map(|b| Some(b.at)));
        }
        FactKind::Reviews => {
            let rows: Vec<_> = a.reviews.iter().filter(|r| keep(r.at)).collect();
            t.item(f, rows.iter().map(|r| r.item));
            t.team(f, "author_team", rows.iter().map(|r| r.author_team));
            t.team(f, "reviewer_team", rows.iter().map(|r| r.reviewer_team));
            t.text("review_state", rows.iter().map(|r| r.state.as_str()));
            t.time("submitted_at", rows.iter().map(|r| Some(r.at)));
        }
        FactKind::Pickups => {
            let rows: Vec<_> = a.pickups.iter().filter(|p| keep(p.picked_at)).collect();
            t.item(f, rows.iter().map(|p| p.item));
            t.team(f, "author_team", rows.iter().map(|p| p.author_team));
            t.team(f, "reviewer_team", rows.iter().map(|p| p.reviewer_team));
            t.time("requested_at", rows.iter().map(|p| Some(p.requested_at)));
            t.time("picked_at", rows.iter().map(|p| Some(p.picked_at)));
            t.int("pickup_seconds", rows.iter().map(|p| Some(p.seconds)));
        }
        FactKind::Decisions => {
            let rows: Vec<_> = a
                .decisions
                .iter()
                .filter(|d| keep(d.made_at))
                .filter_map(|d| Some((d, decision_state(d, f.as_of)?)))
                .collect();
            t.item(f, rows.iter().map(|(d, _)| d.item));
            t.team(f, "team", rows.iter().map(|(d, _)| d.team));
            t.time("made_at", rows.iter().map(|(d, _)| Some(d.made_at)));
            t.opt_text("rehash_reason", rows.iter().map(|(_, s)| s.rehashed.map(|(r, _)| r.as_str())));
            t.time("rehashed_at", rows.iter().map(|(_, s)| s.rehashed.map(|(_, at)| at)));
            t.text("state", rows.iter().map(|(_, s)| if s.rehashed.is_some() { "rehashed" } else { "made" }));
        }
        FactKind::Rework => {
            let rows: Vec<_> = a.rework.iter().filter(|r| keep(r.at)).collect();
            t.item(f, rows.iter().map(|r| r.item));
            t.team(f, "team", rows.iter().map(|r| r.team));
            t.text("kind", rows.iter().map(|r| r.kind.as_str()));
            t.time("reworked_at", rows.iter().map(|r| Some(r.at)));
        }
        FactKind::Engagements => {
            let rows: Vec<_> = a.engagements.iter().filter(|e| keep(e.at)).collect();
            t.team(f, "actor_team", rows.iter().map(|e| e.actor_team));
            t.team(f, "owner_team", rows.iter().map(|e| e.owner_team));
            t.text("kind", rows.iter().map(|e| e.kind.as_str()));
            t.time("engaged_at", rows.iter().map(|e| Some(e.at)));
        }
        FactKind::FirstResponses => {
            let rows: Vec<_> = a.first_responses.iter().filter(|r| keep(r.responded_at)).collect();
            t.item(f, rows.iter().map(|r| r.item));
            t.team(f, "requester_team", rows.iter().map(|r| r.requester));
            t.team(f, "owner_team", rows.iter().map(|r| r.owner));
            t.time("opened_at", rows.iter().map(|r| Some(r.opened_at)));
            t.time("responded_at", rows.iter().map(|r| Some(r.responded_at)));
            t.int("response_seconds", rows.iter().map(|r| Some(r.responded_at - r.opened_at)));
        }
        FactKind::JointWins => {
            // One row per exported team of each win: teams folded together are one `other`, as
            // `siloscope_joint_wins_total` counts them.
            let mut rows: Vec<(u32, &str, Ts, i64)> = Vec::new();
            let mut keys: Vec<u32> = Vec::new();
            for w in a.joint_wins.iter().filter(|w| keep(w.at)) {
                keys.clear();
                keys.extend(w.teams.iter().map(|t| f.labels.key(*t)));
                keys.sort_unstable();
                keys.dedup();
                rows.extend(keys.iter().map(|k| (w.item, f.labels.by_key(*k), w.at, keys.len() as i64)));
            }
            t.item(f, rows.iter().map(|r| r.0));
            t.text("team", rows.iter().map(|r| r.1));
            t.time("won_at", rows.iter().map(|r| Some(r.2)));
            t.int("teams", rows.iter().map(|r| Some(r.3)));
        }
        FactKind::Interactions => {
            let rows: Vec<_> = a.interactions.iter().filter(|i| keep(i.at)).collect();
            if f.name_people {
                t.text("person", rows.iter().map(|i| f.dir.person(i.person).name.as_str()));
            }
            t.team(f, "team", rows.iter().map(|i| i.team));
            t.team(f, "owner_team", rows.iter().map(|i| i.owner));
            t.time("interacted_at", rows.iter().map(|i| Some(i.at)));
        }
    }
    DataFrame::new_infer_height(t.columns)
}

/// Columns in the making.
#[derive(Default)]
struct Table {
    columns: Vec<PlColumn>,
}

impl Table {
    /// The `item` and `source` columns of the rows' items (frame indices).
    fn item(&mut self, f: &Facts<'_>, items: impl Iterator<Item = u32> + Clone) {
        let info = |i: u32| &f.frame.items[i as usize];
        self.text("item", items.clone().map(|i| f.frame.syms.resolve(info(i).key)));
        self.text("source", items.map(|i| f.frame.syms.resolve(info(i).source)));
    }
    fn team(&mut self, f: &Facts<'_>, name: &str, teams: impl Iterator<Item = TeamId>) {
        self.text(name, teams.map(|t| f.labels.get(t)));
    }
    /// Every text is shown safely: tracker and directory text alike (`untrusted::neutralize`).
    fn text<S: AsRef<str>>(&mut self, name: &str, values: impl Iterator<Item = S>) {
        let values: Vec<S> = values.collect();
        let safe: Vec<Cow<'_, str>> = values.iter().map(|v| neutralize(v.as_ref())).collect();
        let safe: Vec<&str> = safe.iter().map(|v| v.as_ref()).collect();
        self.columns.push(Series::new(name.into(), safe).into_column());
    }
    fn opt_text<'s>(&mut self, name: &str, values: impl Iterator<Item = Option<&'s str>>) {
        let values: Vec<Option<&str>> = values.collect();
        self.columns.push(Series::new(name.into(), values).into_column());
    }
    fn time(&mut self, name: &str, values: impl Iterator<Item = Option<Ts>>) {
        let millis: Vec<Option<i64>> = values.map(|t| t.map(|s| s * 1000)).collect();
        let series = Series::new(name.into(), millis).into_datetime(TimeUnit::Milliseconds, None);
        self.columns.push(series.into_column());
    }
    fn int(&mut self, name: &str, values: impl Iterator<Item = Option<i64>>) {
        let values: Vec<Option<i64>> = values.collect();
        self.columns.push(Series::new(name.into(), values).into_column());
    }
    fn flag(&mut self, name: &str, values: impl Iterator<Item = bool>) {
        let values: Vec<bool> = values.collect();
        self.columns.push(Series::new(name.into(), values).into_column());
    }
}
