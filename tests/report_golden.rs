//! Golden tests of the report: a hand-built organisation and history, and every figure of the
//! JSON checked against values worked out by hand (the arithmetic is in the comments), including
//! the previous period, the headlines, the privacy floor, team selection, named people and an
//! empty period. Then the `report` command's exit codes and the daemon's `/report` routes.

#![recursion_limit = "256"] // the hand-worked JSON document is one large json! literal

mod common;

use serde_json::{Value, json};
use siloscope::model::{
    DAY, Event, EventKind, HOUR, HistoryStart, Item, ItemKind, ItemState, ReviewState, Reviewer, Ts,
};
use siloscope::report::{self, Format, Period, ReportOptions};
use siloscope::signals::{Frame, SignalsConfig};
use siloscope::teams::{Directory, DirectoryBuilder, Membership, ScopePattern};

/// 2026-01-05T00:00:00Z, a Monday: the current period is [P, P + 14 d), two whole weeks.
const P: Ts = 1_767_571_200;
/// The previous period of the same length: [Q, P), from 2025-12-22 (a Monday).
const Q: Ts = P - 14 * DAY;

fn c(hours: i64) -> Ts {
    P + hours * HOUR
}
fn p(hours: i64) -> Ts {
    Q + hours * HOUR
}

/// Teams a, b, c with two people each; d with one person (under the privacy floor of 2 at both
/// ends: folded); e with two people of whom only e1 is active in the previous period (1 active
/// person at the previous period's end: folded for the whole report). Repos acme/<t>-repo → t.
fn directory() -> Directory {
    let mut b = DirectoryBuilder::new();
    let people: [(&str, &str, &str); 9] = [
        ("a", "a1", "Ann Alder"),
        ("a", "a2", "Abe Ash"),
        ("b", "b1", "Bea Birch"),
        ("b", "b2", "Bo Beech"),
        ("c", "c1", "Cy Cedar"),
        ("c", "c2", "Cal Cherry"),
        ("d", "d1", "Dee Dogwood"),
        ("e", "e1", "Eve Elm"),
        ("e", "e2", "Eli Elder"),
    ];
    for t in ["a", "b", "c", "d", "e"] {
        let id = b.team(t, &[format!("acme/{t}")], None);
        b.ownership_mut().scopes.push((ScopePattern(format!("acme/{t}-repo")), id));
    }
    for (team, login, name) in people {
        let id = b.team_id(team).unwrap();
        b.person(name, &[format!("github:{login}")], vec![Membership { team: id, from: None, until: None }], false);
    }
    b.build()
}

const NAMES: [&str; 9] =
    ["Ann Alder", "Abe Ash", "Bea Birch", "Bo Beech", "Cy Cedar", "Cal Cherry", "Dee Dogwood", "Eve Elm", "Eli Elder"];

struct History {
    items: Vec<Item>,
    events: Vec<Event>,
}

impl History {
    fn item(&mut self, key: &str, kind: ItemKind, title: &str, author: &str, at: Ts) -> &mut Self {
        let scope = key.split_once('#').unwrap().0.trim_start_matches("gh:").to_string();
        self.items.push(Item {
            key: key.into(),
            source: "gh".into(),
            kind,
            scope,
            url: format!("https://example.test/{}", key.trim_start_matches("gh:")),
            title: title.into(),
            author: Some(format!("github:{author}")),
            created_at: at,
            updated_at: at,
            state: ItemState::Open,
            issue_type: None,
        });
        self.ev(key, at, author, EventKind::Opened)
    }
    fn ev(&mut self, key: &str, at: Ts, actor: &str, kind: EventKind) -> &mut Self {
        let id = format!("{key}/{}", self.events.len());
        self.events.push(Event { id, item: key.into(), at, actor: Some(format!("github:{actor}")), kind });
        self
    }
    fn frame(&self) -> Frame {
        let mut f = Frame::new();
        for i in &self.items {
            f.add_item(i);
        }
        for e in &self.events {
            f.add_event(e);
        }
        f.prepare();
        f
    }
}

fn label(l: &str) -> EventKind {
    EventKind::Labeled { label: l.into() }
}
fn comment() -> EventKind {
    EventKind::Commented { mentions: vec![] }
}
fn request(who: &str) -> EventKind {
    EventKind::ReviewRequested { reviewer: Reviewer::Person(format!("github:{who}")) }
}
fn review(state: ReviewState) -> EventKind {
    EventKind::Reviewed { state }
}
fn close(completed: bool) -> EventKind {
    EventKind::Closed { completed }
}
fn commit() -> EventKind {
    EventKind::Committed { co_authors: vec![] }
}

/// The history, event by event. 30 events in the previous period, 47 in the current one.
fn history() -> History {
    use ItemKind::{Issue, PullRequest};
    let mut h = History { items: Vec::new(), events: Vec::new() };
    // ---- Previous period -------------------------------------------------------------------
    // I1: a → b at p1 (a1 relabels), acknowledged by b1 at p3 (2 h).
    h.item("gh:acme/a-repo#1", Issue, "Flaky login test", "a1", p(0))
        .ev("gh:acme/a-repo#1", p(1), "a1", label("team:b"))
        .ev("gh:acme/a-repo#1", p(3), "b1", comment())
        .ev("gh:acme/a-repo#1", p(5), "b1", close(true));
    // I2: a → c at p11; a bot comment does not acknowledge; c1 does at p15 (4 h). d1 comments.
    h.item("gh:acme/a-repo#2", Issue, "Quota errors", "a2", p(10))
        .ev("gh:acme/a-repo#2", p(11), "a2", label("team:c"))
        .ev("gh:acme/a-repo#2", p(12), "ci[bot]", comment())
        .ev("gh:acme/a-repo#2", p(15), "c1", comment())
        .ev("gh:acme/a-repo#2", p(100), "d1", comment());
    // I3: b → a at p21 (ack 1 h), then a sends it back at p30 (a bounce {from b, to a}),
    // acknowledged by b1 at p31 (1 h). e1 comments.
    h.item("gh:acme/b-repo#3", Issue, "Cache invalidation", "b2", p(20))
        .ev("gh:acme/b-repo#3", p(21), "b2", label("team:a"))
        .ev("gh:acme/b-repo#3", p(22), "a1", comment())
        .ev("gh:acme/b-repo#3", p(30), "a1", EventKind::Unlabeled { label: "team:a".into() })
        .ev("gh:acme/b-repo#3", p(31), "b1", comment())
        .ev("gh:acme/b-repo#3", p(35), "e1", comment())
        .ev("gh:acme/b-repo#3", p(40), "b2", close(true));
    // R1: a's pull request, review requested from c2 (a → c review handoff, ack 2 h), approved,
    // merged: a joint win of a and c.
    h.item("gh:acme/a-repo#4", PullRequest, "Retry budget", "a1", p(50))
        .ev("gh:acme/a-repo#4", p(51), "a1", request("c2"))
        .ev("gh:acme/a-repo#4", p(53), "c2", review(ReviewState::Approved))
        .ev("gh:acme/a-repo#4", p(54), "a1", EventKind::Merged);
    // R2: b's pull request reviewed by a2 (a cross-team review a → b), closed unmerged.
    h.item("gh:acme/b-repo#5", PullRequest, "Drop legacy flag", "b1", p(60))
        .ev("gh:acme/b-repo#5", p(62), "a2", review(ReviewState::Commented))
        .ev("gh:acme/b-repo#5", p(63), "b1", close(false));
    // D1: c's decision, made at p80; reopened by a1 in the current period (c5): rehashed and rework.
    h.item("gh:acme/c-repo#6", Issue, "ADR: one queue", "c1", p(70))
        .ev("gh:acme/c-repo#6", p(70), "c1", label("decision"))
        .ev("gh:acme/c-repo#6", p(80), "c1", close(true))
        .ev("gh:acme/c-repo#6", c(5), "a1", EventKind::Reopened);
    // I5: a2 asks b (opened in b's repo); b2 responds first after 6 h.
    h.item("gh:acme/b-repo#7", Issue, "Export is slow", "a2", p(90)).ev("gh:acme/b-repo#7", p(96), "b2", comment());
    // I10: a → b at p301, still waiting at the previous period's end (35 h, not stalled);
    // acknowledged by b2 at c2, 37 h after the handoff.
    h.item("gh:acme/a-repo#17", Issue, "Rotate keys", "a1", p(300))
        .ev("gh:acme/a-repo#17", p(301), "a1", label("team:b"))
        .ev("gh:acme/a-repo#17", c(2), "b2", comment());
    // ---- Current period --------------------------------------------------------------------
    // I6: a → b at c1, never acknowledged (a bot and an unknown identity comment): stalled.
    h.item("gh:acme/a-repo#8", Issue, "Broken invoice PDF", "a1", c(0))
        .ev("gh:acme/a-repo#8", c(1), "a1", label("team:b"))
        .ev("gh:acme/a-repo#8", c(2), "ci[bot]", comment())
        .ev("gh:acme/a-repo#8", c(3), "stranger", comment());
    // I7: a → c at c11 (ack c14, 3 h); c sends it back at c20 (bounce {a, c}), then pulls it again
    // at c21 (bounce {c, a}; a pulled handoff, acknowledged at once). 3 custody changes.
    h.item("gh:acme/a-repo#9", Issue, "Timeouts in search", "a2", c(10))
        .ev("gh:acme/a-repo#9", c(11), "a2", label("team:c"))
        .ev("gh:acme/a-repo#9", c(12), "e2", comment())
        .ev("gh:acme/a-repo#9", c(14), "c1", comment())
        .ev("gh:acme/a-repo#9", c(20), "c1", EventKind::Unlabeled { label: "team:c".into() })
        .ev("gh:acme/a-repo#9", c(21), "c1", label("team:c"))
        .ev("gh:acme/a-repo#9", c(25), "a2", comment())
        .ev("gh:acme/a-repo#9", c(30), "c2", close(true));
    // I8: a1 asks b; e1 comments; b1 responds first after 4 h.
    h.item("gh:acme/b-repo#10", Issue, "Webhook retries", "a1", c(40))
        .ev("gh:acme/b-repo#10", c(41), "e1", comment())
        .ev("gh:acme/b-repo#10", c(44), "b1", comment())
        .ev("gh:acme/b-repo#10", c(45), "b1", close(true));
    // R3: review a → b (ack 1 h), b2 approves and commits: joint win {a, b}.
    h.item("gh:acme/a-repo#11", PullRequest, "Faster checkout", "a1", c(50))
        .ev("gh:acme/a-repo#11", c(51), "a1", request("b2"))
        .ev("gh:acme/a-repo#11", c(52), "b2", review(ReviewState::Approved))
        .ev("gh:acme/a-repo#11", c(53), "b2", commit())
        .ev("gh:acme/a-repo#11", c(54), "a1", EventKind::Merged);
    // R4: a2 approves b's pull request unasked: joint win {a, b}.
    h.item("gh:acme/b-repo#12", PullRequest, "Schema v2", "b1", c(60))
        .ev("gh:acme/b-repo#12", c(61), "a2", review(ReviewState::Approved))
        .ev("gh:acme/b-repo#12", c(62), "b1", EventKind::Merged);
    // R5: review c → a (ack 4 h by a change request), a1 commits: joint win {a, c}.
    h.item("gh:acme/c-repo#13", PullRequest, "Queue metrics", "c1", c(170))
        .ev("gh:acme/c-repo#13", c(171), "c1", request("a1"))
        .ev("gh:acme/c-repo#13", c(172), "e1", comment())
        .ev("gh:acme/c-repo#13", c(175), "a1", review(ReviewState::ChangesRequested))
        .ev("gh:acme/c-repo#13", c(176), "a1", commit())
        .ev("gh:acme/c-repo#13", c(180), "c1", EventKind::Merged);
    // R6: review a → c requested at c191, never answered by c (d1 approves instead): stalled.
    h.item("gh:acme/a-repo#14", PullRequest, "Audit log", "a2", c(190))
        .ev("gh:acme/a-repo#14", c(191), "a2", request("c2"))
        .ev("gh:acme/a-repo#14", c(192), "d1", review(ReviewState::Approved));
    // I9: b's issue closed and reopened four times: rework 4 for b.
    h.item("gh:acme/b-repo#15", Issue, "Nightly import", "b1", c(200));
    for (i, hour) in (201..=208).enumerate() {
        let (who, kind) = if i % 2 == 0 { ("b1", close(true)) } else { ("b2", EventKind::Reopened) };
        h.ev("gh:acme/b-repo#15", c(hour), who, kind);
    }
    // D2: a's decision made at c215 (label `adr` at creation).
    h.item("gh:acme/a-repo#16", Issue, "RFC: feature flags", "a1", c(210))
        .ev("gh:acme/a-repo#16", c(210), "a1", label("adr"))
        .ev("gh:acme/a-repo#16", c(215), "a2", close(true));
    h
}

fn cfg() -> SignalsConfig {
    SignalsConfig { privacy_floor: 2, ..SignalsConfig::default() }
}

/// The gh source's history begins with the previous period (its `since`, as the store recorded it).
fn options() -> ReportOptions {
    let period = Period::between("2026-01-05", "2026-01-18").unwrap();
    ReportOptions { history: vec![("gh".into(), HistoryStart::From(Q))], ..ReportOptions::new(period, c(400)) }
}

fn report_json(opts: &ReportOptions) -> Value {
    let h = history();
    let r = report::generate(&h.frame(), &directory(), &cfg(), opts).expect("the report");
    serde_json::to_value(&r).unwrap()
}

fn item(key: &str, title: &str) -> Value {
    json!({"key": format!("gh:{key}"), "title": title, "url": format!("https://example.test/{key}")})
}

fn iso(t: Ts) -> String {
    chrono::DateTime::from_timestamp(t, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Compares two JSON documents, naming the first path that differs.
fn assert_json_eq(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let (ak, ek): (Vec<_>, Vec<_>) = (a.keys().collect(), e.keys().collect());
            assert_eq!(ak, ek, "keys differ at {path}");
            for k in ek {
                assert_json_eq(&a[k], &e[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "lengths differ at {path}: {actual:#}");
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                assert_json_eq(x, y, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(actual, expected, "values differ at {path}"),
    }
}

#[test]
fn every_figure_of_the_json_matches_the_hand_worked_values() {
    let mut actual = report_json(&options());
    let definitions = actual.as_object_mut().unwrap().remove("definitions").unwrap();
    // Silo indexes (share of interactions on the team's own items), as fractions:
    // current: org 3 of 13 inside (b2, b1 on b's items; c1 on c's); previous: 5 of 9.
    let expected = json!({
        "schema": "siloscope.report.v1",
        "title": "Cross-team alignment report · 2026-01-05 – 2026-01-18",
        "period": {"label": "2026-01-05 – 2026-01-18", "start": "2026-01-05T00:00:00Z", "end": "2026-01-19T00:00:00Z"},
        "previous_period": {"label": "2025-12-22 – 2026-01-04", "start": "2025-12-22T00:00:00Z", "end": "2026-01-05T00:00:00Z"},
        "generated_at": iso(c(400)),
        "teams_selected": [],
        "people_named": false,
        "has_data": true,
        "has_previous_data": true,
        // The history begins at Q (recorded) and the report is made at c(400), after the period.
        "period_coverage": {
            "current": {"partial": false, "from": iso(P), "to": iso(P + 14 * DAY), "limited_by": null},
            "previous": {"partial": false, "from": iso(Q), "to": iso(P), "limited_by": null}
        },
        "comparison": {"comparable": true, "reason": null},
        "summary": {
            "current": {
                // I6 a→b, I7 a→c, I7 c→a, I7 a→c, R3 a→b, R5 c→a, R6 a→c.
                "handoffs": 7,
                // Acknowledged in the period: I10 37 h (133200 s), I7 3 h, I7 0 (pulled), R3 1 h, R5 4 h.
                "acknowledged": 5,
                // Sorted [0, 3600, 10800, 14400, 133200]: p50 = rank ⌈5/2⌉ = 3rd, p75 = rank ⌈15/4⌉ = 4th.
                "latency_p50_seconds": 10800,
                "latency_p75_seconds": 14400,
                // I6 (since c1) and R6 (since c191) wait at the end, both longer than 2 days.
                "waiting_at_end": 2,
                "stalled_at_end": 2,
                // I7: {a, c} at c20 and {c, a} at c21.
                "bounces": 2,
                "decisions_made": 1,     // D2
                "decisions_rehashed": 1, // D1, reopened at c5
                "rehash_rate": 1.0,      // 1 / 1
                "rework": 5,             // D1 reopened (c) + I9 reopened 4× (b)
                "cross_team_reviews": 4, // R3 b→a, R4 a→b, R5 a→c, R6 d→a
                "first_responses": 1,    // I8: b after 4 h
                "first_response_p50_seconds": 14400,
                "joint_wins": 3,         // R3 {a,b}, R4 {a,b}, R5 {a,c}
                "bridge_people": 2,      // a2 (b's and c's items), e1 (b's and c's items)
                "interactions": 13,
                "silo_index": 3.0 / 13.0
            },
            "previous": {
                // I1 a→b, I2 a→c, I3 b→a, I3 a→b, R1 a→c, I10 a→b.
                "handoffs": 6,
                // I1 2 h, I2 4 h, I3 1 h, I3 1 h, R1 2 h; I10 was not acknowledged yet.
                "acknowledged": 5,
                // Sorted [3600, 3600, 7200, 7200, 14400]: 3rd and 4th.
                "latency_p50_seconds": 7200,
                "latency_p75_seconds": 7200,
                // I10 waits at the previous end for 35 h − 1 s, under the 2-day threshold.
                "waiting_at_end": 1,
                "stalled_at_end": 0,
                "bounces": 1,            // I3 {b, a}
                "decisions_made": 1,     // D1
                "decisions_rehashed": 0,
                "rehash_rate": 0.0,
                "rework": 0,
                "cross_team_reviews": 2, // R1 c→a, R2 a→b
                "first_responses": 1,    // I5: b after 6 h
                "first_response_p50_seconds": 21600,
                "joint_wins": 1,         // R1 {a, c}
                "bridge_people": 0,
                "interactions": 9,
                "silo_index": 5.0 / 9.0
            }
        },
        "headlines": {
            // Rework 0 → 5: |5| ≥ 2·√5 = 4.47 and ≥ 20% of 0: worse (score 5/1).
            // p75 7200 → 14400 s with n = 5: |7200| ≥ max(20%, 2/√5 = 89%) × 7200 = 6440: worse (score 1).
            // Not listed: p50 7200 → 10800 (3600 < 6440); stalled 0 → 2 (2 < 2·√2); joint wins 1 → 3
            // (2 < 2·√4); silo 0.556 → 0.231 (0.325 < max(0.1, 1/√9) = 0.333); first response (n = 1).
            "organisation": {
                "comparable": true,
                "improved": [],
                "worsened": [
                    {"figure": "rework", "text": "Rework (reopens, reverts): 0 → 5", "previous": 0.0, "current": 5.0, "improved": false},
                    {"figure": "latency_p75_seconds", "text": "Handoff latency p75: 2.0 h → 4.0 h", "previous": 7200.0, "current": 14400.0, "improved": false}
                ]
            },
            "teams": [
                // a: joint wins 1 → 3 (2 < 4), bridge 0 → 1, latency and silo with too few observations.
                {"team": "a", "comparable": true, "improved": [], "worsened": []},
                // b: rework 0 → 4: 4 ≥ 2·√4 = 4.
                {"team": "b", "comparable": true, "improved": [], "worsened": [
                    {"figure": "rework", "text": "Rework: 0 → 4", "previous": 0.0, "current": 4.0, "improved": false}
                ]},
                {"team": "c", "comparable": true, "improved": [], "worsened": []},
                {"team": "other", "comparable": true, "improved": [], "worsened": []}
            ],
            // Every pair has fewer than 5 observations for its durations and ratios, and counts of 0–2.
            "pairs": [
                {"team_a": "a", "team_b": "b", "comparable": true, "improved": [], "worsened": []},
                {"team_a": "a", "team_b": "c", "comparable": true, "improved": [], "worsened": []},
                {"team_a": "a", "team_b": "other", "comparable": true, "improved": [], "worsened": []}
            ]
        },
        "teams": [
            {"team": "a",
             "current": {
                "members": 2,
                "handoffs_received": 2, "handoffs_sent": 5,   // received I7 c→a, R5; sent I6, I7 ×2, R3, R6
                "acknowledged": 1, "latency_p50_seconds": 14400, "latency_p75_seconds": 14400, // R5
                "waiting_at_end": 0, "stalled_at_end": 0,
                "bounces": 2,
                "decisions_made": 1, "decisions_rehashed": 0, "rehash_rate": 0.0,
                "rework": 0,
                "cross_team_reviews_given": 2, "cross_team_reviews_received": 2, // gave R4, R5; got R3, R6
                "first_responses": 0, "first_response_p50_seconds": null,
                "joint_wins": 3, "bridge_people": 1,
                "interactions": 4, "silo_index": 0.0 // a2 on I7 and R4, a1 on R5 twice: all outside
             },
             "previous": {
                "members": 2,
                "handoffs_received": 1, "handoffs_sent": 5,   // received I3 b→a; sent I1, I2, I3, R1, I10
                "acknowledged": 1, "latency_p50_seconds": 3600, "latency_p75_seconds": 3600,
                "waiting_at_end": 0, "stalled_at_end": 0,
                "bounces": 1,
                "decisions_made": 0, "decisions_rehashed": 0, "rehash_rate": null,
                "rework": 0,
                "cross_team_reviews_given": 1, "cross_team_reviews_received": 1, // R2; R1
                "first_responses": 0, "first_response_p50_seconds": null,
                "joint_wins": 1, "bridge_people": 0,
                "interactions": 2, "silo_index": 0.5 // a1 on I3 (held by a), a2 on R2
             }},
            {"team": "b",
             "current": {
                "members": 2,
                "handoffs_received": 2, "handoffs_sent": 0,   // I6, R3
                // I10 (133200 s) and R3 (3600 s): p50 = 1st of 2, p75 = rank ⌈1.5⌉ = 2nd.
                "acknowledged": 2, "latency_p50_seconds": 3600, "latency_p75_seconds": 133200,
                "waiting_at_end": 1, "stalled_at_end": 1,     // I6
                "bounces": 0,
                "decisions_made": 0, "decisions_rehashed": 0, "rehash_rate": null,
                "rework": 4,
                "cross_team_reviews_given": 1, "cross_team_reviews_received": 1, // R3; R4
                "first_responses": 1, "first_response_p50_seconds": 14400,
                "joint_wins": 2, "bridge_people": 0,
                "interactions": 4, "silo_index": 0.5 // b2 on I10, b1 on I8 inside; b2 on R3 twice outside
             },
             "previous": {
                "members": 2,
                "handoffs_received": 3, "handoffs_sent": 1,   // I1, I3 a→b, I10; I3 b→a
                "acknowledged": 2, "latency_p50_seconds": 3600, "latency_p75_seconds": 7200, // I3 1 h, I1 2 h
                "waiting_at_end": 1, "stalled_at_end": 0,     // I10
                "bounces": 1,
                "decisions_made": 0, "decisions_rehashed": 0, "rehash_rate": null,
                "rework": 0,
                "cross_team_reviews_given": 0, "cross_team_reviews_received": 1, // R2
                "first_responses": 1, "first_response_p50_seconds": 21600,
                "joint_wins": 0, "bridge_people": 0,
                "interactions": 3, "silo_index": 1.0 // b1 on I1, b1 on I3, b2 on I5
             }},
            {"team": "c",
             "current": {
                "members": 2,
                "handoffs_received": 3, "handoffs_sent": 2,   // I7 ×2, R6; I7 c→a, R5
                "acknowledged": 2, "latency_p50_seconds": 0, "latency_p75_seconds": 10800, // [0, 10800]
                "waiting_at_end": 1, "stalled_at_end": 1,     // R6
                "bounces": 2,
                "decisions_made": 0, "decisions_rehashed": 1, "rehash_rate": null,
                "rework": 1,
                "cross_team_reviews_given": 0, "cross_team_reviews_received": 1, // R5
                "first_responses": 0, "first_response_p50_seconds": null,
                "joint_wins": 1, "bridge_people": 0,
                "interactions": 1, "silo_index": 1.0 // c1 on I7
             },
             "previous": {
                "members": 2,
                "handoffs_received": 2, "handoffs_sent": 0,   // I2, R1
                "acknowledged": 2, "latency_p50_seconds": 7200, "latency_p75_seconds": 14400, // [7200, 14400]
                "waiting_at_end": 0, "stalled_at_end": 0,
                "bounces": 0,
                "decisions_made": 1, "decisions_rehashed": 0, "rehash_rate": 0.0,
                "rework": 0,
                "cross_team_reviews_given": 1, "cross_team_reviews_received": 0, // R1
                "first_responses": 0, "first_response_p50_seconds": null,
                "joint_wins": 1, "bridge_people": 0,
                "interactions": 2, "silo_index": 0.5 // c1 on I2 inside, c2 on R1 outside
             }},
            {"team": "other", // d (1 person) and e (1 active person at the previous end)
             "current": {
                "members": 3,
                "handoffs_received": 0, "handoffs_sent": 0,
                "acknowledged": 0, "latency_p50_seconds": null, "latency_p75_seconds": null,
                "waiting_at_end": 0, "stalled_at_end": 0,
                "bounces": 0,
                "decisions_made": 0, "decisions_rehashed": 0, "rehash_rate": null,
                "rework": 0,
                "cross_team_reviews_given": 1, "cross_team_reviews_received": 0, // d1 on R6
                "first_responses": 0, "first_response_p50_seconds": null,
                "joint_wins": 0, "bridge_people": 1, // e1
                "interactions": 4, "silo_index": 0.0 // e2 on I7, e1 on I8 and R5, d1 on R6
             },
             "previous": {
                "members": 3,
                "handoffs_received": 0, "handoffs_sent": 0,
                "acknowledged": 0, "latency_p50_seconds": null, "latency_p75_seconds": null,
                "waiting_at_end": 0, "stalled_at_end": 0,
                "bounces": 0,
                "decisions_made": 0, "decisions_rehashed": 0, "rehash_rate": null,
                "rework": 0,
                "cross_team_reviews_given": 0, "cross_team_reviews_received": 0,
                "first_responses": 0, "first_response_p50_seconds": null,
                "joint_wins": 0, "bridge_people": 0,
                "interactions": 2, "silo_index": 0.0 // e1 on I3, d1 on I2
             }}
        ],
        "pairs": [
            {"from": "a", "to": "b",
             // I6, R3; acknowledged I10 (made in the previous period) and R3: [3600, 133200].
             "current": {"handoffs": 2, "acknowledged": 2, "latency_p50_seconds": 3600, "latency_p75_seconds": 133200, "stalled_at_end": 1, "bounces": 0},
             // I1, I3, I10; acknowledged I1 (7200) and I3 (3600).
             "previous": {"handoffs": 3, "acknowledged": 2, "latency_p50_seconds": 3600, "latency_p75_seconds": 7200, "stalled_at_end": 0, "bounces": 0}},
            {"from": "a", "to": "c",
             // I7 ×2, R6; acknowledged [0, 10800]; R6 stalled; I7 sent back by c.
             "current": {"handoffs": 3, "acknowledged": 2, "latency_p50_seconds": 0, "latency_p75_seconds": 10800, "stalled_at_end": 1, "bounces": 1},
             "previous": {"handoffs": 2, "acknowledged": 2, "latency_p50_seconds": 7200, "latency_p75_seconds": 14400, "stalled_at_end": 0, "bounces": 0}},
            {"from": "b", "to": "a",
             "current": {"handoffs": 0, "acknowledged": 0, "latency_p50_seconds": null, "latency_p75_seconds": null, "stalled_at_end": 0, "bounces": 0},
             // I3 b→a (1 h), sent back by a.
             "previous": {"handoffs": 1, "acknowledged": 1, "latency_p50_seconds": 3600, "latency_p75_seconds": 3600, "stalled_at_end": 0, "bounces": 1}},
            {"from": "c", "to": "a",
             // I7 c→a (ended by c pulling it back), R5 (4 h); I7 sent back by a (pulled by c).
             "current": {"handoffs": 2, "acknowledged": 1, "latency_p50_seconds": 14400, "latency_p75_seconds": 14400, "stalled_at_end": 0, "bounces": 1},
             "previous": {"handoffs": 0, "acknowledged": 0, "latency_p50_seconds": null, "latency_p75_seconds": null, "stalled_at_end": 0, "bounces": 0}}
        ],
        "reciprocity": [
            // Current: a reviewed b once (R4), b reviewed a once (R3): 1/1. Previous: R2 only: 0/1.
            {"team_a": "a", "team_b": "b", "current": {"a_reviewed_b": 1, "b_reviewed_a": 1, "ratio": 1.0}, "previous": {"a_reviewed_b": 1, "b_reviewed_a": 0, "ratio": 0.0}},
            // Current: R5 (a on c's); previous: R1 (c on a's).
            {"team_a": "a", "team_b": "c", "current": {"a_reviewed_b": 1, "b_reviewed_a": 0, "ratio": 0.0}, "previous": {"a_reviewed_b": 0, "b_reviewed_a": 1, "ratio": 0.0}},
            // Current: R6 (d1, folded, on a's); previous: none, so no ratio.
            {"team_a": "a", "team_b": "other", "current": {"a_reviewed_b": 0, "b_reviewed_a": 1, "ratio": 0.0}, "previous": {"a_reviewed_b": 0, "b_reviewed_a": 0, "ratio": null}}
        ],
        "trend": {
            "bucket": "week",
            "points": [
                {"start": "2026-01-05T00:00:00Z", "end": "2026-01-12T00:00:00Z", "complete": true,
                 "handoffs": 5, // I6, I7 ×3, R3
                 "acknowledged": 4, "latency_p50_seconds": 3600, "latency_p75_seconds": 10800, // [0, 3600, 10800, 133200]
                 "stalled_at_end": 1, // I6, waiting 7 d − 1 h − 1 s
                 "bounces": 2, "decisions_rehashed": 1, "cross_team_reviews": 2, "joint_wins": 2, // R3, R4
                 "silo_index": {"a": 0.0, "b": 0.5, "c": 1.0, "other": 0.0}},
                {"start": "2026-01-12T00:00:00Z", "end": "2026-01-19T00:00:00Z", "complete": true,
                 "handoffs": 2, // R5, R6
                 "acknowledged": 1, "latency_p50_seconds": 14400, "latency_p75_seconds": 14400,
                 "stalled_at_end": 2, "bounces": 0, "decisions_rehashed": 0, "cross_team_reviews": 2, "joint_wins": 1,
                 "silo_index": {"a": 0.0, "other": 0.0}}
            ]
        },
        "stalled": [
            // Waited at the last second P + 14 d − 1: 1209599 − 3600 and 1209599 − 191 × 3600.
            {"item": item("acme/a-repo#8", "Broken invoice PDF"), "kind": "reassign", "from": "a", "to": "b", "since": iso(c(1)), "waited_seconds": 1_205_999},
            {"item": item("acme/a-repo#14", "Audit log"), "kind": "review", "from": "a", "to": "c", "since": iso(c(191)), "waited_seconds": 521_999}
        ],
        "bounces": [
            {"item": item("acme/a-repo#9", "Timeouts in search"), "bounces": 2, "teams": ["a", "c"], "first_bounce": iso(c(20)), "custody_changes": 3}
        ],
        "rehashed_decisions": [
            {"item": item("acme/c-repo#6", "ADR: one queue"), "team": "c", "made_at": iso(p(80)), "rehashed_at": iso(c(5)), "reason": "reopened"}
        ],
        "joint_wins": [
            {"item": item("acme/a-repo#11", "Faster checkout"), "teams": ["a", "b"], "at": iso(c(54))},
            {"item": item("acme/b-repo#12", "Schema v2"), "teams": ["a", "b"], "at": iso(c(62))},
            {"item": item("acme/c-repo#13", "Queue metrics"), "teams": ["a", "c"], "at": iso(c(180))}
        ],
        "coverage": {
            // 17 items, 77 events: 30 before P, 47 in the period (45 on the period's 9 new items,
            // D1's reopen, I10's acknowledgement) on 11 items.
            "sources": [{"name": "gh", "history_from": iso(Q), "history_recorded": true, "items": 17, "events": 77, "events_in_period": 47, "first_event": iso(p(0)), "last_event": iso(c(215))}],
            "data_from": iso(p(0)),
            "data_to": iso(c(215)),
            "items_stored": 17,
            "events_stored": 77,
            "items_in_period": 11,
            "events_in_period": 47,
            "events_in_previous_period": 30,
            "teams": ["a", "b", "c", "other"],
            "privacy_floor": 2,
            "folded_teams": ["d", "e"],
            "unknown_identities": 1,      // github:stranger
            "unknown_identity_events": 1,
            // The period's 47 events less ci[bot]'s comment at c2: 46, all by people of teams
            // but stranger's comment at c3: 45. Ten people acted (a1 a2 b1 b2 c1 c2 d1 e1 e2 and
            // stranger), nine of them in a team. 45/46 = 97.8%, above the 95% warning.
            "directory": [{"source": "gh", "events": 46, "events_resolved": 45, "identities": 10, "identities_resolved": 9}],
            "directory_warning": 0.95,
            "notes": []
        }
    });
    assert_json_eq(&actual, &expected, "report");

    // Every figure has a definition.
    let defined: Vec<&str> = definitions.as_array().unwrap().iter().map(|d| d["figure"].as_str().unwrap()).collect();
    for figure in [
        "handoffs",
        "acknowledged",
        "latency_p50_seconds",
        "stalled_at_end",
        "waiting_at_end",
        "bounces",
        "custody_changes",
        "decisions_made",
        "decisions_rehashed",
        "rehash_rate",
        "rework",
        "cross_team_reviews",
        "review_reciprocity",
        "first_response_p50_seconds",
        "joint_wins",
        "bridge_people",
        "silo_index",
        "members",
        "privacy_floor",
        "comparison",
    ] {
        assert!(defined.contains(&figure), "no definition of {figure}");
    }
}

#[test]
fn no_person_is_named_unless_asked_and_then_only_in_the_lists() {
    let h = history();
    let (frame, dir) = (h.frame(), directory());
    let plain = report::generate(&frame, &dir, &cfg(), &options()).unwrap();
    for format in [Format::Html, Format::Markdown, Format::Json] {
        let text = report::render(&plain, format);
        for name in NAMES {
            assert!(!text.contains(name), "{name} appears in the {format:?} report without --name-people");
        }
    }
    let named = report::generate(&frame, &dir, &cfg(), &ReportOptions { name_people: true, ..options() }).unwrap();
    let v = serde_json::to_value(&named).unwrap();
    assert_eq!(v["people_named"], json!(true));
    // The author first, then whoever acted on the item by the period's end (bots and unknown
    // identities never): I6 was only touched by a1, a bot and an unknown identity.
    assert_eq!(v["stalled"][0]["people"], json!(["Ann Alder"]));
    assert_eq!(v["stalled"][1]["people"], json!(["Abe Ash", "Dee Dogwood"]));
    assert_eq!(v["bounces"][0]["people"], json!(["Abe Ash", "Eli Elder", "Cy Cedar", "Cal Cherry"]));
    assert_eq!(v["rehashed_decisions"][0]["people"], json!(["Cy Cedar", "Ann Alder"]));
    assert_eq!(v["joint_wins"][0]["people"], json!(["Ann Alder", "Bo Beech"]));
    // Names appear in the lists only: no aggregate figure changes.
    let mut a = v.clone();
    let mut b = serde_json::to_value(&plain).unwrap();
    for list in ["stalled", "bounces", "rehashed_decisions", "joint_wins"] {
        a[list] = Value::Null;
        b[list] = Value::Null;
    }
    a["people_named"] = Value::Null;
    b["people_named"] = Value::Null;
    assert_eq!(a, b);
    let html = report::render(&named, Format::Html);
    assert!(html.contains("<th>People</th>") && html.contains("Bo Beech"));
}

#[test]
fn selecting_teams_keeps_what_involves_them_and_unknown_teams_are_named() {
    let h = history();
    let (frame, dir) = (h.frame(), directory());
    let opts = ReportOptions { teams: vec!["B".into()], ..options() };
    let v = serde_json::to_value(report::generate(&frame, &dir, &cfg(), &opts).unwrap()).unwrap();
    assert_eq!(v["teams_selected"], json!(["b"]));
    assert_eq!(v["teams"].as_array().unwrap().iter().map(|t| t["team"].clone()).collect::<Vec<_>>(), vec![json!("b")]);
    let s = &v["summary"]["current"];
    // Handoffs with b on a side: I6 a→b, R3 a→b; acknowledged I10 and R3; I6 stalled.
    assert_eq!(
        (s["handoffs"].clone(), s["acknowledged"].clone(), s["stalled_at_end"].clone()),
        (json!(2), json!(2), json!(1))
    );
    // b's reviews either way: R3 (b on a's), R4 (a on b's); joint wins with b: R3, R4; b's rework 4.
    assert_eq!(
        (s["cross_team_reviews"].clone(), s["joint_wins"].clone(), s["rework"].clone()),
        (json!(2), json!(2), json!(4))
    );
    // b's own interactions only: 2 of 4 inside; its bridge people: none.
    assert_eq!(
        (s["interactions"].clone(), s["silo_index"].clone(), s["bridge_people"].clone()),
        (json!(4), json!(0.5), json!(0))
    );
    assert_eq!(v["pairs"].as_array().unwrap().len(), 2, "a → b and b → a");
    assert_eq!(v["stalled"].as_array().unwrap().len(), 1);
    assert_eq!(v["bounces"], json!([]), "I7 bounced between a and c only");
    assert_eq!(v["joint_wins"].as_array().unwrap().len(), 2);

    // A folded team is reported within "other", and the report says so.
    let opts = ReportOptions { teams: vec!["d".into()], ..options() };
    let v = serde_json::to_value(report::generate(&frame, &dir, &cfg(), &opts).unwrap()).unwrap();
    assert_eq!(v["teams_selected"], json!(["other"]));
    assert!(
        v["coverage"]["notes"][0].as_str().unwrap().contains("team d has fewer active people than the privacy floor")
    );

    let opts = ReportOptions { teams: vec!["b".into(), "payments".into()], ..options() };
    let err = report::generate(&frame, &dir, &cfg(), &opts).unwrap_err();
    assert_eq!(err, "unknown team \"payments\" in --teams; known teams: a, b, c, d, e");
}

/// Every headline list of a JSON report, flattened: (where, improved + worsened texts).
fn judged_changes(v: &Value) -> Vec<String> {
    let h = &v["headlines"];
    let mut all: Vec<&Value> = vec![&h["organisation"]];
    all.extend(h["teams"].as_array().unwrap());
    all.extend(h["pairs"].as_array().unwrap());
    all.iter()
        .flat_map(|x| x["improved"].as_array().unwrap().iter().chain(x["worsened"].as_array().unwrap()))
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_period_the_store_does_not_fully_cover_is_partial_and_nothing_is_called_better_or_worse() {
    let h = history();
    let (frame, dir) = (h.frame(), directory());
    // The full report judges changes (the lede names rework worsening, b's card too).
    let full = serde_json::to_value(report::generate(&frame, &dir, &cfg(), &options()).unwrap()).unwrap();
    assert!(judged_changes(&full).len() >= 3, "{:?}", judged_changes(&full));

    // The gh source synced with `since` three days into the previous period.
    let since = Q + 3 * DAY; // 2025-12-25
    let opts = ReportOptions { history: vec![("gh".into(), HistoryStart::From(since))], ..options() };
    let r = report::generate(&frame, &dir, &cfg(), &opts).unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_json_eq(
        &v["period_coverage"],
        &json!({
            "current": {"partial": false, "from": iso(P), "to": iso(P + 14 * DAY), "limited_by": null},
            "previous": {"partial": true, "from": iso(since), "to": iso(P), "limited_by": "gh"}
        }),
        "period_coverage",
    );
    let reason = "the previous period (2025-12-22 – 2026-01-04, 22 Dec – 4 Jan 2026) is only partly covered by the \
                  stored history (covered 25 Dec – 4 Jan 2026; the stored history of gh begins on 25 Dec 2025)";
    assert_eq!(v["comparison"], json!({"comparable": false, "reason": reason}));
    assert_eq!(v["headlines"]["organisation"]["comparable"], json!(false));
    assert_eq!(judged_changes(&v), Vec::<String>::new(), "no change is called better or worse");
    assert_eq!(
        (v["headlines"]["teams"].as_array().unwrap().len(), v["headlines"]["pairs"].as_array().unwrap().len()),
        (4, full["headlines"]["pairs"].as_array().unwrap().len()),
        "every team and pair is there, unjudged"
    );
    // The figures themselves are the same facts; only their judgement is withheld.
    assert_eq!(v["summary"], full["summary"]);
    assert_eq!(v["coverage"]["sources"][0]["history_from"], json!(iso(since)));

    let html = report::render(&r, Format::Html);
    assert!(html.contains(&format!("Not compared with 2025-12-22 – 2026-01-04: {reason}")), "the lede");
    assert!(html.contains("(22 Dec – 4 Jan 2026, partial: covered 25 Dec – 4 Jan 2026)"), "the header");
    assert!(!html.contains("chip good") && !html.contains("chip bad") && html.contains("chip flat"), "grey chips only");
    assert!(!html.contains("<li class=\"good\">") && !html.contains("<li class=\"bad\">"), "no judged card line");
    assert!(html.contains("Not compared: the periods are only partly covered by the stored history."));
    let full_html = report::render(&report::generate(&frame, &dir, &cfg(), &options()).unwrap(), Format::Html);
    assert!(full_html.contains("chip bad") && !full_html.contains("partial: covered"), "the full report judges");
    let md = report::render(&r, Format::Markdown);
    assert!(md.contains(&format!("_Not compared with 2025-12-22 – 2026-01-04: {reason}.")), "{md}");
    assert!(md.contains("| Figure | 2026-01-05 – 2026-01-18 | 2025-12-22 – 2026-01-04 (partial) |"), "{md}");
    assert!(!md.contains("- ▲") && !md.contains("- ▼") && !md.contains("| ▲") && !md.contains("| ▼"), "{md}");
    assert!(md.contains("| gh | 2025-12-25 | 17 |"), "the source's history start: {md}");

    // A period still running when the report is made is partial too: made at c(200) (Tuesday
    // 2026-01-13 08:00), the second week is cut short by the report's time.
    let opts = ReportOptions { generated_at: c(200), ..options() };
    let v = serde_json::to_value(report::generate(&frame, &dir, &cfg(), &opts).unwrap()).unwrap();
    assert_eq!(
        v["period_coverage"]["current"],
        json!({"partial": true, "from": iso(P), "to": iso(c(200) + 1), "limited_by": null})
    );
    assert_eq!(v["comparison"]["comparable"], json!(false));
    assert!(
        v["comparison"]["reason"]
            .as_str()
            .unwrap()
            .ends_with("(covered 5 Jan – 13 Jan 2026; the report was made on 2026-01-13 08:00 UTC)"),
        "{}",
        v["comparison"]["reason"]
    );
    let complete: Vec<bool> =
        v["trend"]["points"].as_array().unwrap().iter().map(|p| p["complete"] == json!(true)).collect();
    assert_eq!(complete, vec![true, false], "the week the report's time cuts is partial");
    assert_eq!(judged_changes(&v), Vec::<String>::new());

    // Without a record (a store synced before siloscope recorded it), the first stored event is
    // where the source's history begins, and the report says so.
    let opts = ReportOptions { history: vec![], ..options() };
    let r = report::generate(&frame, &dir, &cfg(), &opts).unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        (v["coverage"]["sources"][0]["history_from"].clone(), v["coverage"]["sources"][0]["history_recorded"].clone()),
        (json!(iso(p(0))), json!(false))
    );
    assert!(report::render(&r, Format::Markdown).contains("| gh | 2025-12-22 (first stored event) | 17 |"));
}

#[test]
fn a_period_without_data_is_an_honest_empty_report() {
    let h = history();
    let (frame, dir) = (h.frame(), directory());
    let opts = ReportOptions::new(Period::parse("2024-Q2").unwrap(), c(400));
    let r = report::generate(&frame, &dir, &cfg(), &opts).unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!((v["has_data"].clone(), v["has_previous_data"].clone()), (json!(false), json!(false)));
    assert_eq!(v["summary"]["current"]["handoffs"], json!(0));
    assert_eq!(v["summary"]["current"]["latency_p50_seconds"], Value::Null);
    // 2024-04-01 is a Monday and the quarter has 91 days: 13 whole weeks.
    assert_eq!(v["trend"]["points"].as_array().unwrap().len(), 13);
    assert_eq!(v["coverage"]["data_from"], json!(iso(p(0))), "coverage still says what the store holds");
    assert_eq!(v["headlines"]["organisation"]["comparable"], json!(false));
    let html = report::render(&r, Format::Html);
    assert!(html.contains("No data in this period") && html.contains("2025-12-22 to 2026-01-13"), "{html}");
    assert!(!html.contains("<svg"), "no empty charts");
    let md = report::render(&r, Format::Markdown);
    assert!(md.contains("**No data in this period.**"));
}

#[test]
fn html_and_markdown_carry_the_sections_and_link_every_listed_item() {
    let h = history();
    let r = report::generate(&h.frame(), &directory(), &cfg(), &options()).unwrap();
    let html = report::render(&r, Format::Html);
    for section in [
        "At a glance",
        "What changed, team by team",
        "Trends",
        "Between teams",
        "Teams",
        "Worth a look",
        "About the data",
        "Definitions",
    ] {
        assert!(html.contains(&format!(">{section}</h2>")), "section {section}");
    }
    for key in ["a-repo#8", "a-repo#14", "a-repo#9", "c-repo#6", "a-repo#11", "b-repo#12", "c-repo#13"] {
        assert!(html.contains(&format!("href=\"https://example.test/acme/{key}\"")), "link to {key}");
    }
    // Self-contained: no script, no external resource.
    for forbidden in ["<script", "src=\"http", "<link", "@import", "url("] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    assert!(html.contains("<b class=\"bad\">rework (reopens, reverts)</b> worsened (0 → 5)"), "the lede");
    assert!(html.contains("<li class=\"bad\">Rework: 0 → 4</li>"), "b's card");
    let md = report::render(&r, Format::Markdown);
    for section in [
        "## At a glance",
        "## Trends",
        "## Between teams",
        "## Teams",
        "## Worth a look",
        "## About the data",
        "## Definitions",
    ] {
        assert!(md.contains(section), "{section}");
    }
    assert!(md.contains("[Broken invoice PDF](https://example.test/acme/a-repo#8)"));
    assert!(md.contains("| a → b | 2 | 2 | 1.0 h | 37 h | 1 | 0 |"), "{md}");
    // Directory coverage in the data section and the footer; a warning when under the threshold.
    let coverage = "gh: 97.8% of 46 events, 90.0% of 10 active identities resolve to a team";
    assert!(md.contains(&format!("- Directory coverage: {coverage}\n")), "{md}");
    assert!(html.contains(&format!("<th>Directory coverage</th><td>{coverage}</td>")), "{html}");
    assert!(html.contains(&format!("Directory coverage of the period: {coverage}.")), "footer");
    assert!(!html.contains("warning: gh"));
    let strict = SignalsConfig { coverage_warning: 0.99, ..cfg() };
    let r = report::generate(&h.frame(), &directory(), &strict, &options()).unwrap();
    let md = report::render(&r, Format::Markdown);
    assert!(md.contains(&format!("- Directory coverage: {coverage}; under the 99.0% warning: gh (activity of people missing from the directory counts for no team; run \\`siloscope teams suggest\\`)")), "{md}");
}

// ---------------------------------------------------------------------------------------------
// Working agreements: the report's section, worked out by hand on the same history.
// ---------------------------------------------------------------------------------------------

/// Three agreements over the history above (engine agreements.rs: a covered handoff is kept at
/// its acknowledgement by the deadline, broken at the deadline when still waiting then):
/// - `b-from-a`, handoffs a → b acknowledged within 4 h, objective 75 % (error budget 1/4).
///   Previous period: I1 (p1, ack p3) kept; I3's way back to b (p30, ack p31) kept; I10 (p301,
///   due p305, acknowledged only at c2) broken at p305: 3 decided, 1 broken, attainment 2/3 <
///   75 %: broken, budget used (1/3) / (1/4) = 4/3. Current: I6 (c1, due c5, never acknowledged)
///   broken at c5; R3 (review c51, approved c52) kept: 2 decided, 1 broken, 50 %: broken, budget
///   used 2. It broke most by I6, still waiting at the last second: c336 − 1 − c5 = 331 h − 1 s.
/// - `c-reviews`, reviews to c within 1 d, 50 %. Previous: R1 (p51, approved p53) kept: 100 %,
///   kept, budget used 0. Current: R6 (c191; d1 approves, c never answers) broken at c215: 0 %,
///   broken, budget used 1 / (1/2) = 2; waited c336 − 1 − c215 = 121 h − 1 s past the promise.
/// - `d-any`, to d (one person: under the privacy floor): says so, shows nothing.
fn agreements_cfg() -> SignalsConfig {
    use siloscope::signals::HandoffKind;
    use siloscope::signals::agreements::Agreement;
    let agreement =
        |name: &str, to: &str, from: &[&str], kinds: Vec<HandoffKind>, within: Ts, objective: f64| Agreement {
            name: name.into(),
            to_team: to.into(),
            from_teams: from.iter().map(|t| t.to_string()).collect(),
            kinds,
            within,
            working_hours: false,
            objective,
            window: 28 * DAY,
        };
    SignalsConfig {
        agreements: vec![
            agreement("b-from-a", "b", &["a"], vec![], 4 * HOUR, 0.75),
            agreement("c-reviews", "c", &[], vec![HandoffKind::Review], DAY, 0.5),
            agreement("d-any", "d", &[], vec![], DAY, 0.9),
        ],
        ..cfg()
    }
}

#[test]
fn each_agreement_is_kept_or_broken_in_the_period_with_the_handoffs_that_broke_it_most() {
    let h = history();
    let opts = ReportOptions { pages: Some("https://siloscope.example".into()), ..options() };
    let r = report::generate(&h.frame(), &directory(), &agreements_cfg(), &opts).unwrap();
    let v = serde_json::to_value(&r).unwrap();
    let broken_page = |name: &str| {
        format!(
            "https://siloscope.example/handoffs?agreement={name}&state=broken&from={}&to={}",
            P * 1000,
            (P + 14 * DAY) * 1000
        )
    };
    let expected = json!([
        {
            "name": "b-from-a", "to_team": "b", "from_teams": ["a"], "kinds": [], "within_seconds": 14_400,
            "working_hours": false, "objective": 0.75, "suppressed": false,
            "current": {"decided": 2, "broken": 1, "attainment": 0.5, "kept": false, "budget_used": 2.0},
            "previous": {"decided": 3, "broken": 1, "attainment": 1.0 - 1.0 / 3.0, "kept": false, "budget_used": (1.0 / 3.0) / 0.25},
            "broke_it_most": [{
                "item": {"key": "gh:acme/a-repo#8", "title": "Broken invoice PDF", "url": "https://example.test/acme/a-repo#8",
                         "page": "https://siloscope.example/items/gh%3Aacme%2Fa-repo%238"},
                "kind": "reassign", "from": "a", "handed_over": iso(c(1)), "deadline": iso(c(5)),
                "overdue_seconds": 331 * 3600 - 1, "still_waiting": true
            }],
            "broken_page": broken_page("b-from-a")
        },
        {
            "name": "c-reviews", "to_team": "c", "from_teams": [], "kinds": ["review"], "within_seconds": 86_400,
            "working_hours": false, "objective": 0.5, "suppressed": false,
            "current": {"decided": 1, "broken": 1, "attainment": 0.0, "kept": false, "budget_used": 2.0},
            "previous": {"decided": 1, "broken": 0, "attainment": 1.0, "kept": true, "budget_used": 0.0},
            "broke_it_most": [{
                "item": {"key": "gh:acme/a-repo#14", "title": "Audit log", "url": "https://example.test/acme/a-repo#14",
                         "page": "https://siloscope.example/items/gh%3Aacme%2Fa-repo%2314"},
                "kind": "review", "from": "a", "handed_over": iso(c(191)), "deadline": iso(c(215)),
                "overdue_seconds": 121 * 3600 - 1, "still_waiting": true
            }],
            "broken_page": broken_page("c-reviews")
        },
        {
            "name": "d-any", "to_team": "d", "from_teams": [], "kinds": [], "within_seconds": 86_400,
            "working_hours": false, "objective": 0.9, "suppressed": true,
            "current": null, "previous": null, "broke_it_most": []
        }
    ]);
    assert_json_eq(&v["agreements"], &expected, "agreements");
    // Nothing else of the report changes with agreements configured.
    let mut without = serde_json::to_value(report::generate(&h.frame(), &directory(), &cfg(), &opts).unwrap()).unwrap();
    assert!(without.get("agreements").is_none(), "no agreement configured: no field");
    without["agreements"] = v["agreements"].clone();
    assert_eq!(v, without);

    // HTML: the section, its verdicts, the change against the previous period, the linked lists.
    let html = report::render(&r, Format::Html);
    assert!(html.contains(">Working agreements</h2>"), "{html}");
    assert!(html.contains("<td><b>b-from-a</b></td><td>handoffs from a to b acknowledged within 4.0 h</td><td class=\"n\">75%</td><td class=\"n\">2</td>"), "{html}");
    assert!(html.contains(&format!("<a href=\"{}\">1</a>", broken_page("b-from-a").replace('&', "&amp;"))), "{html}");
    // 2/3 → 1/2 over 3 and 2 handoffs: too few to judge, so a neutral chip.
    assert!(html.contains("50%<span class=\"chip flat\" title=\"previous period: 66.7%\">▼ 16.7 pts</span>"), "{html}");
    assert!(
        html.contains("<td>c-reviews</td>") || html.contains("<h3>c-reviews: the handoffs that broke it most</h3>"),
        "{html}"
    );
    assert!(html.contains("team d has fewer active people than the privacy floor: not shown"), "{html}");
    assert!(!html.contains("Dee Dogwood"));
    // Markdown: the same rows.
    let md = report::render(&r, Format::Markdown);
    assert!(md.contains("## Working agreements"), "{md}");
    assert!(
        md.contains(&format!(
            "| b-from-a | handoffs from a to b acknowledged within 4.0 h | 75% | 2 | [1]({}) | 50% (▼ 16.7 pts) | **broken** | 200% | 66.7% **broken** |",
            broken_page("b-from-a")
        )),
        "{md}"
    );
    assert!(md.contains("| c-reviews | review handoffs to c acknowledged within 24 h | 50% | 1 |"), "{md}");
    assert!(md.contains("### b-from-a: the handoffs that broke it most"), "{md}");
    assert!(md.contains("| [Broken invoice PDF](https://example.test/acme/a-repo#8)"), "{md}");
    assert!(md.contains("| reassign | 2026-01-05 | 2026-01-05 | 14 d, still waiting |"), "{md}");
    assert!(md.contains("[Every handoff that broke b-from-a in the period (1)](https://siloscope.example/handoffs?agreement=b-from-a&state=broken&"), "{md}");
    // Names only when asked, and then in the lists.
    let named = report::generate(
        &h.frame(),
        &directory(),
        &agreements_cfg(),
        &ReportOptions { name_people: true, ..opts.clone() },
    )
    .unwrap();
    let named = serde_json::to_value(&named).unwrap();
    assert_eq!(named["agreements"][0]["broke_it_most"][0]["people"], json!(["Ann Alder"]));
    assert!(!serde_json::to_string(&v).unwrap().contains("Ann Alder"));
}

// ---------------------------------------------------------------------------------------------
// The command line and the daemon.
// ---------------------------------------------------------------------------------------------

fn output(args: &[&str]) -> (i32, String, String) {
    let out = common::run(args);
    let (stdout, stderr) = (common::text(&out.stdout), common::text(&out.stderr));
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

#[test]
fn the_report_command_writes_every_format_and_fails_clearly_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("r.db");
    let config = common::sim_config(dir.path(), "r", &store, "teams = 3\nitems_per_day = 40\nhistory_days = 20");
    let config = config.to_str().unwrap();
    let (code, _, err) = output(&["sync", "--once", "--config", config]);
    assert_eq!(code, 0, "{err}");
    let today = chrono::Utc::now().date_naive();
    let (from, to) = ((today - chrono::Days::new(14)).to_string(), today.to_string());

    let json_out = dir.path().join("r.json");
    let (code, stdout, err) = output(&[
        "report",
        "--config",
        config,
        "--from",
        &from,
        "--to",
        &to,
        "--format",
        "json",
        "--out",
        json_out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("r.json: report for"), "{stdout}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(v["has_data"], json!(true));
    assert_eq!(v["teams"].as_array().unwrap().len(), 3);
    assert!(v["summary"]["current"]["handoffs"].as_u64().unwrap() > 0);

    let (code, md, _) =
        output(&["report", "--config", config, "--from", &from, "--to", &to, "--format", "md", "--teams", "payments"]);
    assert_eq!(code, 0);
    assert!(md.starts_with("# Cross-team alignment report") && md.contains("payments"), "{md}");
    let (code, html, _) = output(&["report", "--config", config, "--from", &from, "--to", &to]);
    assert_eq!(code, 0);
    assert!(html.starts_with("<!doctype html>") && html.contains("<svg"));

    // A period without data: an honest empty report, exit 0.
    let (code, html, err) = output(&["report", "--config", config, "--period", "2020-Q1"]);
    assert_eq!(code, 0, "{err}");
    assert!(html.contains("No data in this period") && err.contains("no data in 2020-Q1"), "{err}");

    // Usage errors: exit 2, one clear line.
    let cases: [(&[&str], &str); 5] = [
        (&["--period", "2026-Q5"], "malformed period \"2026-Q5\": expected a quarter like 2026-Q3"),
        (&["--from", "2026-02-30", "--to", "2026-03-31"], "malformed --from: \"2026-02-30\" is neither a date"),
        (
            &["--from", "2026-03-31", "--to", "2026-03-01"],
            "empty period: --to 2026-03-01 is not after --from 2026-03-31",
        ),
        (&["--teams", "payments,nope"], "unknown team \"nope\" in --teams; known teams: mobile, payments, platform"),
        (&["--from", "2026-03-01"], "--to <DATE>"),
    ];
    for (args, message) in cases {
        let mut all = vec!["report", "--config", config];
        all.extend_from_slice(args);
        let (code, _, err) = output(&all);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}

#[test]
fn the_daemon_serves_the_quarter_to_date_report() {
    // A fixed simulated now, 80 days into 2026-Q2: the demo backfills 90 days, from 22 Mar 2026, so
    // the quarter to date (1 Apr – 20 Jun) is covered and the 80 days before it are only partly
    // covered: the report must say so and judge no change. Nothing here depends on today's date.
    let port = common::free_port();
    let mut child = common::spawn(&[
        "demo",
        "--web.listen-address",
        &format!("127.0.0.1:{port}"),
        "--items-per-day",
        "40",
        "--now",
        "2026-06-20T12:00:00Z",
    ]);
    let ready = std::time::Duration::from_secs(180);
    common::wait_for("the demo to be ready", ready, || (common::http_get(port, "/readyz")?.0 == 200).then_some(()));
    let v: Value = common::wait_for("the demo's /report.json", ready, || {
        let (status, body) = common::http_get(port, "/report.json")?;
        (status == 200).then(|| serde_json::from_str(&body).expect("the report is JSON"))
    });
    assert_eq!(v["schema"], json!("siloscope.report.v1"));
    assert_eq!(v["period"]["label"], json!("2026-Q2 to date"), "{}", v["period"]);
    assert_eq!(v["period"]["start"], json!("2026-04-01T00:00:00Z"));
    assert_eq!(v["has_data"], json!(true));
    assert_eq!(v["has_previous_data"], json!(true));
    assert_eq!(v["coverage"]["sources"][0]["name"], json!("demo"));
    assert_eq!(v["coverage"]["sources"][0]["history_from"], json!("2026-03-22T00:00:00Z"));
    assert_eq!(v["coverage"]["sources"][0]["history_recorded"], json!(true));
    assert_eq!(v["period_coverage"]["current"]["partial"], json!(false));
    let previous = &v["period_coverage"]["previous"];
    assert_eq!(
        (previous["partial"].clone(), previous["from"].clone(), previous["limited_by"].clone()),
        (json!(true), json!("2026-03-22T00:00:00Z"), json!("demo"))
    );
    assert_eq!(v["comparison"]["comparable"], json!(false));
    assert_eq!(judged_changes(&v), Vec::<String>::new(), "nothing is called better or worse");
    assert_eq!(v["headlines"]["teams"].as_array().unwrap().len(), 8, "the demo's 8 teams, each unjudged");
    let (status, head, body) = common::http_get_with_head(port, "/report").unwrap();
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: text/html"), "{head}");
    assert!(body.contains("<h1>") && body.contains("data-chart=\"handoffs\"") && body.contains("At a glance"));
    assert!(body.contains("is only partly covered by the stored history"), "the HTML says why it compares nothing");
    common::sigterm(&child);
    assert!(common::wait_exit(&mut child, std::time::Duration::from_secs(30)).success());
}
