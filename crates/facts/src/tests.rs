//! Hand-built facts → tables: every table has its documented schema, rows carry the facts' values,
//! teams under the floor are `other`, people appear only when asked, tracker text is neutralised.

use polars::prelude::{AnyValue, DataFrame, DataType, TimeUnit};

use siloscope_engine::aggregate::TeamLabels;
use siloscope_engine::records::*;
use siloscope_engine::{Analysis, Frame, HandoffKind, SignalsConfig};
use siloscope_model::teams::{Directory, DirectoryBuilder, Membership};
use siloscope_model::{DAY, HOUR, Item, ItemKind, ItemState, ReviewState, Ts};

use crate::{FactKind, Facts, TimeRange};

const T0: Ts = 1_767_225_600; // 2026-01-01T00:00:00Z

struct Fixture {
    frame: Frame,
    dir: Directory,
    cfg: SignalsConfig,
    analysis: Analysis,
}

/// Teams pay, web and tiny; people ann (pay), bob (web), cyd (tiny). Items 0 (`acme/api#1`) and
/// 1 (a key with a right-to-left override).
fn fixture() -> Fixture {
    let mut b = DirectoryBuilder::new();
    for (team, person) in [("pay", "ann"), ("web", "bob"), ("tiny", "cyd")] {
        let id = b.team(team, &[], None);
        b.person(person, &[format!("github:{person}")], vec![Membership { team: id, from: None, until: None }], false);
    }
    let dir = b.build();
    let mut frame = Frame::new();
    for key in ["acme/api#1", "acme/web#2\u{202E}evil"] {
        frame.add_item(&Item {
            key: key.into(),
            source: "gh".into(),
            kind: ItemKind::PullRequest,
            scope: "acme/api".into(),
            url: String::new(),
            title: key.into(),
            author: Some("github:ann".into()),
            created_at: T0,
            updated_at: T0,
            state: ItemState::Open,
            issue_type: None,
        });
    }
    frame.prepare();
    let (pay, web, tiny) = (0, 1, 2);
    let analysis = Analysis {
        upto: T0 + 30 * DAY,
        handoffs: vec![
            // Acknowledged after 3 hours.
            HandoffRec {
                item: 0,
                kind: HandoffKind::Review,
                from: pay,
                to: web,
                at: T0 + HOUR,
                acked_at: Some(T0 + 4 * HOUR),
                ended_at: None,
                bounced_at: None,
            },
            // Still waiting, past the 2-day default: stalled.
            HandoffRec {
                item: 1,
                kind: HandoffKind::Reassign,
                from: web,
                to: tiny,
                at: T0 + DAY,
                acked_at: None,
                ended_at: None,
                bounced_at: None,
            },
        ],
        bounces: vec![BounceRec { item: 0, from: pay, to: web, at: T0 + 2 * DAY }],
        decisions: vec![
            DecisionRec {
                item: 0,
                team: pay,
                made_at: T0 + DAY,
                rehashed: Some((RehashReason::Reopened, T0 + 5 * DAY)),
            },
            DecisionRec { item: 1, team: web, made_at: T0 + 2 * DAY, rehashed: None },
        ],
        rework: vec![ReworkRec { item: 0, team: pay, kind: ReworkKind::Reverted, at: T0 + 3 * DAY }],
        reviews: vec![ReviewRec {
            item: 0,
            author_team: pay,
            reviewer_team: web,
            state: ReviewState::Approved,
            at: T0 + 4 * HOUR,
        }],
        pickups: vec![PickupRec {
            item: 0,
            author_team: pay,
            reviewer_team: web,
            requested_at: T0 + HOUR,
            picked_at: T0 + 4 * HOUR,
            seconds: 3 * 3600,
        }],
        engagements: vec![EngagementRec {
            actor_team: web,
            owner_team: pay,
            kind: EngagementKind::Comment,
            at: T0 + 2 * HOUR,
        }],
        first_responses: vec![FirstResponseRec {
            item: 1,
            requester: pay,
            owner: web,
            opened_at: T0,
            responded_at: T0 + 90,
        }],
        joint_wins: vec![JointWinRec { item: 0, teams: vec![pay, web, tiny], at: T0 + 6 * DAY }],
        interactions: vec![InteractionRec { person: 1, team: web, owner: pay, at: T0 + 2 * HOUR }],
        ..Analysis::default()
    };
    Fixture { frame, dir, cfg: SignalsConfig::default(), analysis }
}

/// pay and web exported, tiny under the floor.
fn labels() -> TeamLabels {
    TeamLabels::from_names(vec!["pay".into(), "web".into(), "tiny".into()], vec![false, false, true])
}

fn table(fx: &Fixture, labels: &TeamLabels, kind: FactKind, range: TimeRange, name_people: bool) -> DataFrame {
    let facts = Facts {
        analysis: &fx.analysis,
        frame: &fx.frame,
        dir: &fx.dir,
        cfg: &fx.cfg,
        labels,
        as_of: T0 + 10 * DAY,
        name_people,
    };
    facts.table(kind, range).unwrap()
}

fn cell(df: &DataFrame, column: &str, row: usize) -> String {
    match df.column(column).unwrap().get(row).unwrap() {
        AnyValue::Null => "null".into(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Datetime(ms, TimeUnit::Milliseconds, None) => format!("t{}", ms / 1000 - T0),
        v => v.to_string(),
    }
}

#[test]
fn every_table_has_its_documented_schema() {
    let fx = fixture();
    for name_people in [false, true] {
        for kind in FactKind::ALL {
            let df = table(&fx, &labels(), kind, TimeRange::ALL, name_people);
            let got: Vec<(String, DataType)> = df.schema().iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
            let want: Vec<(String, DataType)> =
                kind.columns(name_people).iter().map(|c| (c.name.to_string(), c.ty.dtype())).collect();
            assert_eq!(got, want, "{kind:?} name_people={name_people}");
            assert!(df.height() > 0, "{kind:?}: the fixture has rows of every kind");
            for c in kind.columns(name_people).iter().filter(|c| !c.nullable) {
                assert_eq!(df.column(c.name).unwrap().null_count(), 0, "{kind:?}.{} is documented never null", c.name);
            }
        }
    }
}

#[test]
fn handoff_rows_carry_the_facts_and_their_state() {
    let fx = fixture();
    let df = table(&fx, &labels(), FactKind::Handoffs, TimeRange::ALL, false);
    assert_eq!(df.height(), 2);
    let row = |r: usize| -> Vec<String> {
        kind_columns(FactKind::Handoffs).iter().map(|c| cell(&df, c, r)).collect::<Vec<_>>()
    };
    assert_eq!(
        row(0),
        [
            "acme/api#1",
            "gh",
            "review",
            "pay",
            "web",
            "t3600",
            "t14400",
            "null",
            "null",
            "acknowledged",
            "10800",
            "10800",
            "false",
            "172800"
        ]
    );
    // tiny is under the floor: `other`; the key's override is shown by code point.
    assert_eq!(
        row(1),
        [
            "acme/web#2[U+202E]evil",
            "gh",
            "reassign",
            "web",
            "other",
            "t86400",
            "null",
            "null",
            "null",
            "stalled",
            "null",
            &(9 * DAY).to_string(),
            "false",
            "172800"
        ]
    );
}

fn kind_columns(kind: FactKind) -> Vec<&'static str> {
    kind.columns(false).iter().map(|c| c.name).collect()
}

#[test]
fn decisions_rehash_only_by_the_export_end_and_ranges_select_on_the_kind_time() {
    let fx = fixture();
    let df = table(&fx, &labels(), FactKind::Decisions, TimeRange::ALL, false);
    assert_eq!(cell(&df, "state", 0), "rehashed");
    assert_eq!(cell(&df, "rehash_reason", 0), "reopened");
    assert_eq!(cell(&df, "rehashed_at", 0), format!("t{}", 5 * DAY));
    assert_eq!(cell(&df, "state", 1), "made");
    assert_eq!(cell(&df, "rehash_reason", 1), "null");
    // [T0 + 2d, T0 + 3d): only the second decision (made at T0 + 2d).
    let range = TimeRange { from: Some(T0 + 2 * DAY), to: Some(T0 + 3 * DAY) };
    let df = table(&fx, &labels(), FactKind::Decisions, range, false);
    assert_eq!(df.height(), 1);
    assert_eq!(cell(&df, "item", 0), "acme/web#2[U+202E]evil");
    // The end of the range is excluded.
    let range = TimeRange { from: None, to: Some(T0 + DAY) };
    assert_eq!(table(&fx, &labels(), FactKind::Decisions, range, false).height(), 0);
    // As of T0 + 3d the rehash at T0 + 5d has not happened.
    let facts = Facts {
        analysis: &fx.analysis,
        frame: &fx.frame,
        dir: &fx.dir,
        cfg: &fx.cfg,
        labels: &labels(),
        as_of: T0 + 3 * DAY,
        name_people: false,
    };
    let df = facts.table(FactKind::Decisions, TimeRange::ALL).unwrap();
    assert_eq!(cell(&df, "state", 0), "made");
    assert_eq!(cell(&df, "rehashed_at", 0), "null");
}

#[test]
fn teams_under_the_floor_are_other_everywhere() {
    let fx = fixture();
    for kind in FactKind::ALL {
        let df = table(&fx, &labels(), kind, TimeRange::ALL, true);
        for c in df.columns() {
            if let Ok(s) = c.str() {
                assert!(
                    s.iter().all(|v| v != Some("tiny") && v != Some("cyd") || c.name() == "person"),
                    "{kind:?}.{}",
                    c.name()
                );
            }
        }
    }
    // A joint win of pay, web and tiny: three rows, tiny's as `other`; with web folded too,
    // web and tiny are one `other` row and the win has 2 exported teams.
    let df = table(&fx, &labels(), FactKind::JointWins, TimeRange::ALL, false);
    let teams: Vec<String> = (0..df.height()).map(|r| cell(&df, "team", r)).collect();
    assert_eq!(teams, ["pay", "web", "other"]);
    let two = TeamLabels::from_names(vec!["pay".into(), "web".into(), "tiny".into()], vec![false, true, true]);
    let df = table(&fx, &two, FactKind::JointWins, TimeRange::ALL, false);
    let rows: Vec<(String, String)> = (0..df.height()).map(|r| (cell(&df, "team", r), cell(&df, "teams", r))).collect();
    assert_eq!(rows, [("pay".to_string(), "2".to_string()), ("other".into(), "2".into())]);
    // The exported labels of an analysis with no activity fold every team (nobody is active).
    let floor = TeamLabels::new(&fx.analysis, &fx.dir, &fx.cfg, T0 + 10 * DAY);
    let df = table(&fx, &floor, FactKind::Reviews, TimeRange::ALL, false);
    assert_eq!((cell(&df, "author_team", 0), cell(&df, "reviewer_team", 0)), ("other".into(), "other".into()));
}

#[test]
fn people_are_named_only_when_asked() {
    let fx = fixture();
    for kind in FactKind::ALL {
        let df = table(&fx, &labels(), kind, TimeRange::ALL, false);
        assert!(df.column("person").is_err(), "{kind:?}");
        for c in df.columns() {
            if let Ok(s) = c.str() {
                assert!(s.iter().all(|v| !matches!(v, Some("ann" | "bob" | "cyd"))), "{kind:?}.{}", c.name());
            }
        }
    }
    let df = table(&fx, &labels(), FactKind::Interactions, TimeRange::ALL, true);
    assert_eq!(cell(&df, "person", 0), "bob");
}

const BEGIN: &str =
    "<!-- generated from crates/facts/src/schema.rs: SILOSCOPE_BLESS=1 cargo test -p siloscope-facts -->\n";
const END: &str = "<!-- end of the generated part -->\n";

#[test]
fn docs_list_every_column() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/facts.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else { panic!("docs/facts.md lost its markers") };
    let generated = crate::schema::render_markdown();
    if std::env::var_os("SILOSCOPE_BLESS").is_some() {
        let blessed = format!("{}{BEGIN}{generated}{}", &doc[..b], &doc[e..]);
        std::fs::write(path, blessed).unwrap();
        return;
    }
    assert_eq!(
        &doc[b + BEGIN.len()..e],
        generated,
        "docs/facts.md is out of date: SILOSCOPE_BLESS=1 cargo test -p siloscope-facts"
    );
}
