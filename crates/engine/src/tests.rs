//! Table-driven tests of every signal: hand-built event sequences, values worked out by hand.

use std::collections::HashMap;

use crate::model::{DAY, Event, EventKind, HOUR, Item, ItemKind, ItemState, LinkRelation, ReviewState, Reviewer, Ts};
use crate::signals::records::{EngagementKind, RehashReason, ReworkKind};
use crate::signals::{Analysis, Frame, HandoffKind, Signals, SignalsConfig, analyze, compute};
use crate::teams::{Calendar, Directory, DirectoryBuilder, Membership, ScopePattern, TeamId};

const T0: Ts = 1_767_225_600; // 2026-01-01T00:00:00Z, a Thursday

fn h(n: i64) -> Ts {
    T0 + n * HOUR
}

/// Teams a, b, c with three people each (a1..a3 …), a bot, and `mover` who is in `a` until
/// T0+100h and in `b` after. Repos: acme/a-repo → a, acme/b-repo → b, acme/c-repo → c.
fn org() -> DirectoryBuilder {
    let mut b = DirectoryBuilder::new();
    for t in ["a", "b", "c"] {
        let id = b.team(t, &[format!("acme/{t}")], None);
        for n in 1..=3 {
            b.person(
                &format!("{t}{n}"),
                &[format!("github:{t}{n}")],
                vec![Membership { team: id, from: None, until: None }],
                false,
            );
        }
        b.ownership_mut().scopes.push((ScopePattern(format!("acme/{t}-repo")), id));
    }
    let (a, bb) = (b.team_id("a").unwrap(), b.team_id("b").unwrap());
    b.person(
        "mover",
        &["github:mover".into()],
        vec![
            Membership { team: a, from: None, until: Some(h(100)) },
            Membership { team: bb, from: Some(h(100)), until: None },
        ],
        false,
    );
    b.bot("github:helper".into());
    let q = b.team_id("c").unwrap();
    b.ownership_mut().statuses.insert("in qa".into(), q);
    b.ownership_mut().components.insert("billing".into(), bb);
    b
}

fn cfg() -> SignalsConfig {
    SignalsConfig { privacy_floor: 2, ..SignalsConfig::default() }
}

struct Scenario {
    dir: Directory,
    cfg: SignalsConfig,
    items: Vec<Item>,
    events: Vec<Event>,
}

impl Scenario {
    fn new() -> Self {
        Scenario { dir: org().build(), cfg: cfg(), items: Vec::new(), events: Vec::new() }
    }
    fn item(&mut self, key: &str, kind: ItemKind, scope: &str, author: &str, at: Ts) -> &mut Self {
        self.items.push(Item {
            key: key.into(),
            source: "gh".into(),
            kind,
            scope: scope.into(),
            url: format!("https://example.test/{key}"),
            title: key.into(),
            author: Some(format!("github:{author}")),
            created_at: at,
            updated_at: at,
            state: ItemState::Open,
            issue_type: None,
        });
        self.ev(key, at, author, EventKind::Opened)
    }
    fn issue(&mut self, key: &str, scope: &str, author: &str, at: Ts) -> &mut Self {
        self.item(key, ItemKind::Issue, scope, author, at)
    }
    fn pr(&mut self, key: &str, scope: &str, author: &str, at: Ts) -> &mut Self {
        self.item(key, ItemKind::PullRequest, scope, author, at)
    }
    fn ev(&mut self, key: &str, at: Ts, actor: &str, kind: EventKind) -> &mut Self {
        let id = format!("{key}/{}", self.events.len());
        let actor = (!actor.is_empty()).then(|| format!("github:{actor}"));
        self.events.push(Event { id, item: key.into(), at, actor, kind });
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
    fn analysis(&self, upto: Ts) -> Analysis {
        analyze(&self.frame(), &self.dir, &self.cfg, upto)
    }
    fn signals(&self, now: Ts) -> Signals {
        compute(&self.frame(), &self.dir, &self.cfg, now).1
    }
    fn t(&self, name: &str) -> TeamId {
        self.dir.team_by_name(name).unwrap()
    }
}

fn label(l: &str) -> EventKind {
    EventKind::Labeled { label: l.into() }
}
fn unlabel(l: &str) -> EventKind {
    EventKind::Unlabeled { label: l.into() }
}
fn comment() -> EventKind {
    EventKind::Commented { mentions: vec![] }
}
fn assign(who: &str) -> EventKind {
    EventKind::Assigned { assignee: format!("github:{who}") }
}
fn review(state: ReviewState) -> EventKind {
    EventKind::Reviewed { state }
}
fn request(who: &str) -> EventKind {
    EventKind::ReviewRequested { reviewer: Reviewer::Person(format!("github:{who}")) }
}
fn close(completed: bool) -> EventKind {
    EventKind::Closed { completed }
}

/// (kind, from, to, latency) of every handoff, in order.
fn handoffs(s: &Scenario, upto: Ts) -> Vec<(HandoffKind, String, String, Option<Ts>)> {
    s.analysis(upto)
        .handoffs
        .iter()
        .map(|h| (h.kind, s.dir.team_name(h.from).into(), s.dir.team_name(h.to).into(), h.acked_at.map(|a| a - h.at)))
        .collect()
}

fn ho(kind: HandoffKind, from: &str, to: &str, latency_h: Option<i64>) -> (HandoffKind, String, String, Option<Ts>) {
    (kind, from.into(), to.into(), latency_h.map(|l| l * HOUR))
}

use HandoffKind::{Reassign, Review, Transfer};

#[test]
fn handoff_by_team_label_acknowledged_by_receiving_team() {
    let mut s = Scenario::new();
    s.issue("i1", "acme/a-repo", "a1", h(0))
        .ev("i1", h(1), "a1", label("team:b")) // a → b
        .ev("i1", h(2), "a2", comment()) // the handing team does not acknowledge
        .ev("i1", h(3), "helper", comment()) // nor does a bot
        .ev("i1", h(5), "b2", comment()); // b acknowledges after 4h
    assert_eq!(handoffs(&s, h(10)), vec![ho(Reassign, "a", "b", Some(4))]);
}

#[test]
fn handoff_by_status_component_team_field_and_assignee() {
    let mut s = Scenario::new();
    // Status → team (In QA → c), then component → team (billing → b) once the status is no longer mapped.
    s.issue("s1", "acme/a-repo", "a1", h(0))
        .ev("s1", h(1), "a1", EventKind::StatusChanged { from: None, to: "In QA".into(), category: None })
        .ev("s1", h(2), "c1", comment())
        .ev("s1", h(3), "c1", EventKind::ComponentChanged { from: None, to: Some("Billing".into()) })
        .ev("s1", h(3), "c1", EventKind::StatusChanged { from: None, to: "Open".into(), category: None });
    // Team field → team (c), then assignee (no other input): assignee b1 holds it for b … but the
    // team field comes first in the rule order, so assigning b1 changes nothing.
    s.issue("f1", "acme/a-repo", "a1", h(0))
        .ev("f1", h(1), "a1", EventKind::TeamFieldChanged { to: Some("c".into()) })
        .ev("f1", h(2), "a1", assign("b1"))
        .ev("f1", h(4), "a1", EventKind::TeamFieldChanged { to: None })
        .ev("f1", h(6), "b1", comment());
    let got = handoffs(&s, h(10));
    assert_eq!(
        got,
        vec![
            ho(Reassign, "a", "c", Some(1)),
            // The component rule takes over when the status leaves the map: c → b, never acknowledged.
            ho(Reassign, "c", "b", None),
            ho(Reassign, "a", "c", None),
            // Clearing the team field leaves the assignee rule: c → b, acknowledged by b1 2h later.
            ho(Reassign, "c", "b", Some(2)),
        ]
    );
}

#[test]
fn transfer_to_another_teams_repository() {
    let mut s = Scenario::new();
    s.issue("t1", "acme/a-repo", "a1", h(0))
        .ev("t1", h(2), "a1", EventKind::Moved { from_scope: "acme/a-repo".into(), to_scope: "acme/c-repo".into() })
        .ev("t1", h(30), "c3", close(true));
    assert_eq!(handoffs(&s, h(40)), vec![ho(Transfer, "a", "c", Some(28))]);
}

#[test]
fn initial_labels_at_creation_are_not_handoffs_and_pulling_work_acknowledges_at_once() {
    let mut s = Scenario::new();
    s.issue("p1", "acme/a-repo", "a1", h(0))
        .ev("p1", h(0), "a1", label("team:b")) // opened straight into b's queue
        .ev("p1", h(1), "c1", label("team:c")); // c pulls it: handoff b → c, acknowledged at once
    assert_eq!(handoffs(&s, h(5)), vec![ho(Reassign, "b", "c", Some(0))]);
}

/// Issue templates and automations set an item up a second or two after it is opened (real
/// GitHub timelines: `assigned` 1 s after `opened` by the author, `labeled` 2 s after by
/// `github-actions[bot]`; Jira automation rules act without a person). What the author, a bot or no
/// actor sets within `SETTLING` (60 s) of creation, before anyone else acted, is the item's initial
/// state; a different human acting within the window, or anyone after it, hands it off.
#[test]
fn what_the_author_bots_and_automations_set_while_settling_is_the_initial_state() {
    use crate::model::SETTLING;
    type Case = (&'static str, &'static [(Ts, &'static str, &'static str)], &'static [(&'static str, &'static str)]);
    // Each item is opened by a1 in a's repository at h(0); (seconds after, actor, label or
    // `@assignee` or `comment`) → the reassign handoffs (from, to) it makes.
    let cases: &[Case] = &[
        ("template assignee, 1 s, by the author", &[(1, "a1", "@b1")], &[]),
        ("labeler bot, 2 s", &[(2, "helper", "team:b")], &[]),
        ("automation without an actor, 30 s", &[(30, "", "team:b")], &[]),
        ("the author at the window's last second", &[(SETTLING, "a1", "team:b")], &[]),
        ("template, then the bot reroutes, both settling", &[(1, "a1", "@c1"), (3, "helper", "team:b")], &[]),
        ("a bot 1 s past the window", &[(SETTLING + 1, "helper", "team:b")], &[("a", "b")]),
        ("another human within the window", &[(5, "c1", "team:b")], &[("a", "b")]),
        ("an identity the directory lacks counts as a human", &[(3, "stranger", "team:b")], &[("a", "b")]),
        ("settling ends once another human acted", &[(5, "c1", "comment"), (10, "helper", "team:b")], &[("a", "b")]),
        ("the author after the window", &[(2 * SETTLING, "a1", "@b1")], &[("a", "b")]),
    ];
    for (name, events, want) in cases {
        let mut s = Scenario::new();
        s.issue("i", "acme/a-repo", "a1", h(0));
        for &(after, actor, what) in *events {
            let kind = match what {
                "comment" => comment(),
                w if w.starts_with('@') => assign(&w[1..]),
                w => label(w),
            };
            s.ev("i", h(0) + after, actor, kind);
        }
        let got: Vec<(String, String)> =
            handoffs(&s, h(100)).into_iter().map(|(k, f, t, _)| (format!("{k:?}"), format!("{f}→{t}"))).collect();
        let want: Vec<(String, String)> =
            want.iter().map(|(f, t)| ("Reassign".to_string(), format!("{f}→{t}"))).collect();
        assert_eq!(got, want, "{name}");
    }

    // Settled into b's queue by the template: a first response from b is due (a asks b), and no
    // handoff waits on b, so nothing stalls. Hand-worked: opened h(0), b2 answers at h(3) → 3 h.
    let mut s = Scenario::new();
    s.issue("t", "acme/a-repo", "a1", h(0))
        .ev("t", h(0) + 1, "a1", assign("b1"))
        .ev("t", h(0) + 2, "helper", label("team:b"))
        .ev("t", h(3), "b2", comment());
    s.issue("o", "acme/a-repo", "a2", h(0)).ev("o", h(1), "a3", comment()); // a stays above the floor
    let a = s.analysis(h(0) + 3 * DAY);
    assert!(a.handoffs.is_empty(), "{:?}", a.handoffs);
    let f: Vec<_> = a
        .first_responses
        .iter()
        .map(|f| (s.dir.team_name(f.requester), s.dir.team_name(f.owner), f.responded_at - f.opened_at))
        .collect();
    assert_eq!(f, vec![("a", "b", 3 * HOUR)]);
    let sig = s.signals(h(0) + 3 * DAY);
    assert_eq!(sig.handoffs_stalled.values().sum::<u64>(), 0);
}

#[test]
fn assignment_of_a_receiving_member_acknowledges() {
    let mut s = Scenario::new();
    s.issue("x", "acme/a-repo", "a1", h(0)).ev("x", h(1), "a1", label("team:b")).ev("x", h(4), "a2", assign("b3")); // the label still rules custody; assigning b3 acknowledges
    assert_eq!(handoffs(&s, h(5)), vec![ho(Reassign, "a", "b", Some(3))]);
}

#[test]
fn waiting_vs_stalled_and_oldest_wait() {
    let mut s = Scenario::new();
    // Two handoffs to b: one waits 1 day, one 3 days (stalled past the default 2 days).
    s.issue("w1", "acme/a-repo", "a1", h(0)).ev("w1", h(1), "a1", label("team:b"));
    s.issue("w2", "acme/a-repo", "a2", h(0)).ev("w2", h(49), "a2", label("team:b"));
    // A third one was closed by a without b acting: no longer waiting.
    s.issue("w3", "acme/a-repo", "a1", h(0)).ev("w3", h(1), "a1", label("team:b")).ev("w3", h(2), "a1", close(false));
    // b people must be active for b not to be folded: b1 and b2 comment elsewhere.
    s.issue("o", "acme/b-repo", "b1", h(0)).ev("o", h(2), "b2", comment());
    let now = h(73);
    let sig = s.signals(now);
    let key = (Reassign, "a".to_string(), "b".to_string());
    assert_eq!(sig.handoffs_waiting[&key], 2);
    assert_eq!(sig.handoffs_stalled[&key], 1);
    assert_eq!(sig.handoff_oldest_wait["b"], (72 * HOUR) as f64);
    assert_eq!(sig.handoffs_total[&("gh".to_string(), Reassign, "a".to_string(), "b".to_string())], 3);
    // Per-team stall threshold: 3 days for b → nothing stalled.
    s.cfg.stall_after_by_team.insert("b".into(), 3 * DAY);
    assert_eq!(s.signals(now).handoffs_stalled[&key], 0);
    // Per-kind threshold applies when no team threshold does.
    s.cfg.stall_after_by_team.clear();
    s.cfg.stall_after_by_kind.insert(Reassign, 12 * HOUR);
    assert_eq!(s.signals(now).handoffs_stalled[&key], 2);
}

#[test]
fn stall_counted_in_working_hours_of_the_receiving_team() {
    let mut b = org();
    let cal = Calendar {
        utc_offset: 0,
        workdays: [true, true, true, true, true, false, false],
        start: 9 * HOUR,
        end: 17 * HOUR,
    };
    b.team("b", &[], Some(cal));
    let mut s = Scenario { dir: b.build(), ..Scenario::new() };
    s.cfg.stall_in_working_hours = true;
    s.cfg.stall_after = 16 * HOUR; // two working days
    // Handed off Thursday 2026-01-01 09:00; by Monday 09:00 b has had Thu + Fri = 16 working hours: not stalled.
    s.issue("w", "acme/a-repo", "a1", h(0)).ev("w", h(9), "a2", label("team:b"));
    s.issue("o", "acme/b-repo", "b1", h(0)).ev("o", h(2), "b2", comment());
    let key = (Reassign, "a".to_string(), "b".to_string());
    assert_eq!(s.signals(h(9) + 4 * DAY).handoffs_stalled[&key], 0);
    assert_eq!(s.signals(h(9) + 4 * DAY + HOUR).handoffs_stalled[&key], 1);
}

#[test]
fn bounce_within_window_and_tossing_length() {
    let mut s = Scenario::new();
    s.issue("b1", "acme/a-repo", "a1", h(0))
        .ev("b1", h(1), "a1", label("team:b"))
        .ev("b1", h(2), "b1", unlabel("team:b")) // back to a (repo owner) after 1h: a bounce of a → b
        .ev("b1", h(3), "a1", label("team:c"))
        .ev("b1", h(3) + 8 * DAY, "c1", unlabel("team:c")) // back to a after 8 days: outside the window
        .ev("b1", h(3) + 9 * DAY, "a1", close(true))
        .ev("b1", h(3) + 10 * DAY, "a1", label("team:b")); // after close: not counted in tossing
    let a = s.analysis(h(0) + 30 * DAY);
    assert_eq!(a.bounces.len(), 1);
    assert_eq!((s.dir.team_name(a.bounces[0].from), s.dir.team_name(a.bounces[0].to)), ("a", "b"));
    assert_eq!(a.tossing.iter().find(|t| t.item == 0).unwrap().changes, 4);
}

#[test]
fn membership_change_mid_item_is_not_a_handoff_and_attribution_uses_event_time() {
    let mut s = Scenario::new();
    // mover (in a until h100, then b) holds the item by assignment.
    s.issue("m", "acme/c-repo", "c1", h(0))
        .ev("m", h(1), "c1", assign("mover")) // c → a (mover's team then)
        .ev("m", h(2), "mover", comment()) // acknowledged by a after 1h
        .ev("m", h(150), "c1", label("bug")) // custody input, mover now in b: silent, no handoff
        .ev("m", h(151), "mover", comment());
    let a = s.analysis(h(200));
    let got: Vec<_> = a.handoffs.iter().map(|h| (s.dir.team_name(h.from), s.dir.team_name(h.to))).collect();
    assert_eq!(got, vec![("c", "a")]);
    // The later comment is attributed to b (membership at event time), on an item now held by b.
    let last = a.interactions.last().unwrap();
    assert_eq!((last.team, last.owner), (s.t("b"), s.t("b")));
    assert_eq!(a.interactions[0].team, s.t("a"));
}

#[test]
fn rehash_reasons() {
    let mut s = Scenario::new();
    let decision = |s: &mut Scenario, key: &str| {
        s.issue(key, "acme/a-repo", "a1", h(0)).ev(key, h(0), "a1", label("decision")).ev(
            key,
            h(10),
            "a1",
            close(true),
        );
    };
    decision(&mut s, "d-reopen");
    s.ev("d-reopen", h(20), "b1", EventKind::Reopened);
    decision(&mut s, "d-link");
    s.issue("d-new", "acme/a-repo", "a2", h(30)).ev(
        "d-new",
        h(30),
        "a2",
        EventKind::Linked { relation: LinkRelation::Supersedes, target: "d-link".into() },
    );
    decision(&mut s, "d-status");
    s.ev("d-status", h(40), "a1", EventKind::StatusChanged { from: None, to: "Deprecated".into(), category: None });
    decision(&mut s, "d-talk");
    s.ev("d-talk", h(11), "a2", comment()).ev("d-talk", h(12), "a3", comment()).ev("d-talk", h(13), "b1", comment());
    decision(&mut s, "d-quiet"); // two teams but only 2 comments: not rehashed
    s.ev("d-quiet", h(11), "a2", comment()).ev("d-quiet", h(12), "b1", comment());
    decision(&mut s, "d-late"); // reopened after the 90-day window: evolution, not a rehash
    s.ev("d-late", h(10) + 91 * DAY, "a1", EventKind::Reopened);
    s.issue("not-decision", "acme/a-repo", "a1", h(0)).ev("not-decision", h(1), "a1", close(true));
    let a = s.analysis(h(10) + 100 * DAY);
    let by_item: HashMap<String, Option<(RehashReason, Ts)>> =
        a.decisions.iter().map(|d| (s.items[d.item as usize].key.clone(), d.rehashed)).collect();
    assert_eq!(by_item.len(), 6);
    assert_eq!(by_item["d-reopen"], Some((RehashReason::Reopened, h(20))));
    assert_eq!(by_item["d-link"], Some((RehashReason::Superseded, h(30))));
    assert_eq!(by_item["d-status"], Some((RehashReason::Status, h(40))));
    assert_eq!(by_item["d-talk"], Some((RehashReason::Discussion, h(13))));
    assert_eq!(by_item["d-quiet"], None);
    assert_eq!(by_item["d-late"], None);
    // Rework: both reopens count, for team a (the holder).
    let reopens: Vec<_> = a.rework.iter().filter(|r| r.kind == ReworkKind::Reopened).collect();
    assert_eq!(reopens.len(), 2);
    assert!(reopens.iter().all(|r| r.team == s.t("a")));
}

#[test]
fn decision_by_issue_type_and_record_status() {
    let mut s = Scenario::new();
    s.issue("j1", "acme/a-repo", "a1", h(0));
    s.items[0].issue_type = Some("Decision".into());
    s.ev("j1", h(5), "a1", close(true));
    s.item("adr", ItemKind::DecisionRecord, "acme/b-repo", "b1", h(0))
        .ev("adr", h(1), "b1", EventKind::StatusChanged { from: None, to: "Proposed".into(), category: None })
        .ev("adr", h(9), "b1", EventKind::StatusChanged { from: None, to: "Accepted".into(), category: None })
        .ev(
            "adr",
            h(9) + 10 * DAY,
            "b2",
            EventKind::StatusChanged { from: None, to: "Superseded".into(), category: None },
        );
    let a = s.analysis(h(0) + 30 * DAY);
    let got: Vec<_> =
        a.decisions.iter().map(|d| (s.dir.team_name(d.team), d.made_at, d.rehashed.map(|r| r.0))).collect();
    assert_eq!(got, vec![("a", h(5), None), ("b", h(9), Some(RehashReason::Status))]);
}

#[test]
fn reverted_pull_request_is_rework_of_the_authors_team() {
    let mut s = Scenario::new();
    s.pr("pr", "acme/b-repo", "b1", h(0)).ev("pr", h(5), "b2", EventKind::Merged).ev(
        "pr",
        h(50),
        "c1",
        EventKind::Reverted { by: Some("revert-pr".into()) },
    );
    s.pr("open-pr", "acme/b-repo", "b1", h(0)).ev("open-pr", h(50), "c1", EventKind::Reverted { by: None }); // never merged
    let a = s.analysis(h(60));
    assert_eq!(a.rework.len(), 1);
    assert_eq!((a.rework[0].team, a.rework[0].kind, a.rework[0].at), (s.t("b"), ReworkKind::Reverted, h(50)));
}

#[test]
fn cross_team_reviews_pickup_excludes_draft_time() {
    let mut s = Scenario::new();
    s.pr("r", "acme/a-repo", "a1", h(0))
        .ev("r", h(0), "a1", EventKind::ConvertedToDraft)
        .ev("r", h(1), "a1", request("b1")) // requested while a draft
        .ev("r", h(1), "a1", request("a2"))
        .ev("r", h(5), "a1", EventKind::ReadyForReview) // 4h of draft after the request
        .ev("r", h(7), "b1", review(ReviewState::ChangesRequested)) // pickup 6h - 4h = 2h
        .ev("r", h(8), "a2", review(ReviewState::Approved)) // same-team pickup 7h - 4h = 3h
        .ev("r", h(9), "b1", review(ReviewState::Approved))
        .ev("r", h(9), "a1", review(ReviewState::Commented)); // the author's own comment-review: not a review
    let a = s.analysis(h(20));
    let reviews: Vec<_> =
        a.reviews.iter().map(|r| (s.dir.team_name(r.author_team), s.dir.team_name(r.reviewer_team), r.state)).collect();
    assert_eq!(
        reviews,
        vec![
            ("a", "b", ReviewState::ChangesRequested),
            ("a", "a", ReviewState::Approved),
            ("a", "b", ReviewState::Approved)
        ]
    );
    let pickups: Vec<_> = a.pickups.iter().map(|p| (s.dir.team_name(p.reviewer_team), p.seconds)).collect();
    assert_eq!(pickups, vec![("b", 2 * HOUR), ("a", 3 * HOUR)]);
    // The cross-team request is a review handoff a → b, acknowledged by b1's review after 6h.
    assert_eq!(handoffs(&s, h(20)), vec![ho(Review, "a", "b", Some(6))]);
}

#[test]
fn team_review_request_is_a_handoff_to_that_team_picked_up_by_any_member() {
    let mut s = Scenario::new();
    s.pr("r", "acme/a-repo", "a1", h(0))
        .ev("r", h(1), "a1", EventKind::ReviewRequested { reviewer: Reviewer::Team("acme/c".into()) })
        .ev("r", h(2), "helper", review(ReviewState::Approved)) // a bot does not pick up
        .ev("r", h(4), "c3", review(ReviewState::Approved));
    s.pr("r2", "acme/a-repo", "a1", h(0))
        .ev("r2", h(1), "a1", EventKind::ReviewRequested { reviewer: Reviewer::Team("acme/b".into()) })
        .ev("r2", h(2), "a1", EventKind::ReviewRequestRemoved { reviewer: Reviewer::Team("acme/b".into()) });
    let a = s.analysis(h(10));
    assert_eq!(a.pickups.len(), 1);
    assert_eq!((a.pickups[0].reviewer_team, a.pickups[0].seconds), (s.t("c"), 3 * HOUR));
    assert_eq!(handoffs(&s, h(10)), vec![ho(Review, "a", "c", Some(3)), ho(Review, "a", "b", None)]);
    // The withdrawn request is not waiting.
    assert!(!a.handoffs[1].waiting_at(h(10)) && a.handoffs[1].waiting_at(h(1)));
}

#[test]
fn reciprocity_per_window() {
    let mut s = Scenario::new();
    // b reviews a's PRs 4 times in the last 7 days, a reviews b's once; c reviews a's once, 20 days ago.
    for i in 0..4 {
        s.pr(&format!("a{i}"), "acme/a-repo", "a1", h(0)).ev(
            &format!("a{i}"),
            h(500),
            "b2",
            review(ReviewState::Approved),
        );
    }
    s.pr("b-pr", "acme/b-repo", "b1", h(0)).ev("b-pr", h(500), "a3", review(ReviewState::Commented));
    s.pr("a9", "acme/a-repo", "a2", h(0)).ev("a9", h(510) - 20 * DAY, "c1", review(ReviewState::Approved));
    s.ev("a9", h(510) - 20 * DAY, "c2", comment());
    let sig = s.signals(h(510));
    let r =
        |a: &str, b: &str, w: &str| sig.review_reciprocity.get(&(a.to_string(), b.to_string(), w.to_string())).copied();
    assert_eq!(r("a", "b", "7d"), Some(0.25));
    assert_eq!(r("a", "c", "7d"), None); // nothing in either direction: undefined
    assert_eq!(r("a", "c", "28d"), Some(0.0)); // c gives, a never gives back
    assert_eq!(sig.reviews_total[&("a".into(), "b".into(), ReviewState::Approved)], 4);
}

#[test]
fn engagement_first_response_and_mentions() {
    let mut s = Scenario::new();
    // a1 opens an issue in b's repo (a request to b); c comments, a bot comments, b answers after 5h.
    s.issue("q", "acme/b-repo", "a1", h(0))
        .ev("q", h(1), "helper", comment())
        .ev("q", h(2), "c1", EventKind::Commented { mentions: vec!["acme/a".into(), "acme/c".into()] })
        .ev("q", h(5), "b2", comment())
        .ev("q", h(6), "b2", comment());
    let a = s.analysis(h(10));
    let eng: Vec<_> =
        a.engagements.iter().map(|e| (s.dir.team_name(e.actor_team), s.dir.team_name(e.owner_team), e.kind)).collect();
    // c comments on b's item and mentions a (its own team c is not an engagement).
    assert_eq!(eng, vec![("c", "b", EngagementKind::Comment), ("c", "a", EngagementKind::Mention)]);
    assert_eq!(a.first_responses.len(), 1);
    let f = &a.first_responses[0];
    assert_eq!(
        (s.dir.team_name(f.requester), s.dir.team_name(f.owner), f.responded_at - f.opened_at),
        ("a", "b", 5 * HOUR)
    );
}

#[test]
fn joint_win_needs_contributors_from_two_teams() {
    let mut s = Scenario::new();
    s.pr("jw", "acme/a-repo", "a1", h(0))
        .ev("jw", h(1), "a1", EventKind::Committed { co_authors: vec!["github:c2".into()] })
        .ev("jw", h(2), "b1", review(ReviewState::Commented)) // not approving: not a contributor
        .ev("jw", h(3), "a1", EventKind::Merged);
    s.pr("solo", "acme/a-repo", "a1", h(0))
        .ev("solo", h(2), "b1", review(ReviewState::ChangesRequested))
        .ev("solo", h(3), "a2", review(ReviewState::Approved))
        .ev("solo", h(4), "a1", EventKind::Merged);
    s.issue("lost", "acme/a-repo", "a1", h(0)).ev("lost", h(1), "a1", assign("b1")).ev(
        "lost",
        h(2),
        "b1",
        close(false),
    );
    let a = s.analysis(h(10));
    assert_eq!(a.joint_wins.len(), 1);
    assert_eq!(a.joint_wins[0].teams, vec![s.t("a"), s.t("c")]);
}

#[test]
fn bridge_people_and_silo_index() {
    let mut s = Scenario::new();
    // b1 comments on items of a and c within 7 days: a bridge person of b. b2 only on b's items.
    s.issue("ia", "acme/a-repo", "a1", h(0)).ev("ia", h(100), "b1", comment()).ev("ia", h(101), "a2", comment());
    s.issue("ic", "acme/c-repo", "c1", h(0)).ev("ic", h(100), "b1", comment()).ev("ic", h(101), "c2", comment());
    s.issue("ib", "acme/b-repo", "b2", h(0)).ev("ib", h(100), "b2", comment()).ev("ib", h(101), "b2", comment());
    let sig = s.signals(h(110));
    let w = |t: &str| (t.to_string(), "7d".to_string());
    assert_eq!(sig.bridge_people[&w("b")], 1);
    assert_eq!(sig.bridge_people[&w("a")], 0);
    // b: 4 interactions, 2 on its own items → 0.5; a and c: all inside → 1.
    assert_eq!(sig.silo_index[&w("b")], 0.5);
    assert_eq!(sig.silo_index[&w("a")], 1.0);
    assert_eq!(sig.silo_index[&w("c")], 1.0);
}

#[test]
fn privacy_floor_folds_small_teams_into_other() {
    let mut s = Scenario::new();
    s.cfg.privacy_floor = 3;
    // a has 3 active people, b 3, c only 1 in the last 90 days.
    s.issue("i", "acme/a-repo", "a1", h(0))
        .ev("i", h(1), "a2", comment())
        .ev("i", h(2), "a3", label("team:c")) // a → c
        .ev("i", h(3), "c1", comment())
        .ev("i", h(4), "c1", label("team:b"))
        .ev("i", h(5), "b1", comment())
        .ev("i", h(6), "b2", comment())
        .ev("i", h(7), "b3", comment());
    let sig = s.signals(h(10));
    let pairs: Vec<_> = sig.handoffs_total.keys().map(|(_, _, f, t)| (f.as_str(), t.as_str())).collect();
    assert_eq!(pairs, vec![("a", "other"), ("other", "b")]);
    assert_eq!(sig.folded_teams, vec!["c".to_string()]);
    assert!(sig.team_members.contains_key("other") && !sig.team_members.contains_key("c"));
    // Never below 2, whatever the config says.
    s.cfg.privacy_floor = 0;
    assert_eq!(s.signals(h(10)).folded_teams, vec!["c".to_string()]);
}

#[test]
fn no_exported_label_is_a_person_or_item() {
    let mut s = Scenario::new();
    s.issue("secret-item", "acme/a-repo", "a1", h(0)).ev("secret-item", h(1), "a2", label("team:b")).ev(
        "secret-item",
        h(2),
        "b1",
        comment(),
    );
    s.ev("secret-item", h(3), "b2", comment());
    let sig = s.signals(h(5));
    let text = format!("{sig:?}");
    for forbidden in ["secret-item", "a1", "a2", "b1", "b2", "github:"] {
        assert!(!text.contains(forbidden), "{forbidden} leaked into signals");
    }
}

#[test]
fn values_at_an_earlier_now_equal_a_run_that_stopped_there() {
    // The facts do not depend on now: aggregating at t over the full history equals computing at t.
    let mut s = Scenario::new();
    s.issue("x", "acme/a-repo", "a1", h(0))
        .ev("x", h(1), "a1", label("team:b"))
        .ev("x", h(30), "b1", comment())
        .ev("x", h(31), "b1", label("team:c"))
        .ev("x", h(90), "c2", close(true));
    s.issue("y", "acme/b-repo", "b2", h(0)).ev("y", h(2), "a2", comment()).ev("y", h(3), "c1", comment());
    let frame = s.frame();
    let full = analyze(&frame, &s.dir, &s.cfg, h(100));
    for t in [h(1), h(29), h(30), h(60), h(100)] {
        let at_t = crate::signals::aggregate(&full, &frame, &s.dir, &s.cfg, t);
        assert_eq!(at_t, s.signals(t), "at {t}");
    }
}

/// Handoffs per exported (kind, from, to).
type PairCounts = HashMap<(HandoffKind, String, String), u64>;

/// The pages' list of handoffs at `now`, counted per exported (kind, from, to): (waiting, stalled).
fn listed_counts(s: &Scenario, now: Ts) -> (PairCounts, PairCounts) {
    let frame = s.frame();
    let a = analyze(&frame, &s.dir, &s.cfg, now);
    let labels = crate::signals::aggregate::TeamLabels::new(&a, &s.dir, &s.cfg, now);
    let (mut waiting, mut stalled) = (HashMap::new(), HashMap::new());
    for l in crate::signals::state::handoffs_at(&a, &s.dir, &s.cfg, &labels, now) {
        let key = (l.fact.kind, l.from.to_string(), l.to.to_string());
        if l.state.is_waiting() {
            *waiting.entry(key.clone()).or_default() += 1;
        }
        if l.state == crate::signals::state::HandoffState::Stalled {
            *stalled.entry(key).or_default() += 1;
        }
    }
    (waiting, stalled)
}

#[test]
fn listed_handoff_states_count_what_the_gauges_count() {
    use crate::signals::state::HandoffState as S;
    let mut s = Scenario::new();
    s.cfg.privacy_floor = 3;
    s.issue("w1", "acme/a-repo", "a1", h(0)).ev("w1", h(1), "a1", label("team:b")); // stalls
    s.issue("w2", "acme/a-repo", "a2", h(0)).ev("w2", h(49), "a2", label("team:b")); // waits
    s.issue("w3", "acme/a-repo", "a1", h(0)).ev("w3", h(1), "a1", label("team:b")).ev("w3", h(2), "a1", close(false));
    s.issue("k", "acme/a-repo", "a3", h(0)).ev("k", h(3), "a3", label("team:b")).ev("k", h(7), "b1", comment());
    s.issue("b", "acme/a-repo", "a1", h(0)).ev("b", h(1), "a1", label("team:b")).ev("b", h(2), "b1", unlabel("team:b"));
    // c has one active person: folded into `other` (the list folds it too).
    s.issue("c", "acme/a-repo", "a1", h(0)).ev("c", h(5), "a1", label("team:c"));
    s.issue("o", "acme/b-repo", "b1", h(0)).ev("o", h(2), "b2", comment()).ev("o", h(3), "b3", comment());
    s.issue("oc", "acme/c-repo", "c1", h(0));
    let now = h(73);
    let sig = s.signals(now);
    let (waiting, stalled) = listed_counts(&s, now);
    let nonzero = |m: &std::collections::BTreeMap<(HandoffKind, String, String), u64>| {
        m.iter().filter(|(_, n)| **n > 0).map(|(k, n)| (k.clone(), *n)).collect::<HashMap<_, _>>()
    };
    assert_eq!(waiting, nonzero(&sig.handoffs_waiting));
    assert_eq!(stalled, nonzero(&sig.handoffs_stalled));
    assert_eq!(stalled[&(Reassign, "a".into(), "b".into())], 1, "w1 {stalled:?}");
    assert_eq!(stalled[&(Reassign, "b".into(), "a".into())], 1, "b's way back {stalled:?}");
    assert!(waiting.contains_key(&(Reassign, "a".into(), "other".into())), "{waiting:?}");
    // Each item's state and seconds.
    let frame = s.frame();
    let a = analyze(&frame, &s.dir, &s.cfg, now);
    let labels = crate::signals::aggregate::TeamLabels::new(&a, &s.dir, &s.cfg, now);
    let by_item: HashMap<(&str, &str), (S, Ts)> = crate::signals::state::handoffs_at(&a, &s.dir, &s.cfg, &labels, now)
        .map(|l| ((frame.syms.resolve(frame.items[l.fact.item as usize].key), l.from), (l.state, l.seconds)))
        .collect();
    assert_eq!(by_item[&("w1", "a")], (S::Stalled, 72 * HOUR));
    assert_eq!(by_item[&("w2", "a")], (S::Waiting, 24 * HOUR));
    assert_eq!(by_item[&("w3", "a")], (S::Ended, HOUR));
    assert_eq!(by_item[&("k", "a")], (S::Acknowledged, 4 * HOUR));
    // b acknowledged a → b and sent it back: that handoff bounced; the way back waits on a.
    assert_eq!(by_item[&("b", "a")], (S::Bounced, HOUR));
    assert_eq!(by_item[&("b", "b")], (S::Stalled, 71 * HOUR));
    // Before a handoff was made it is not listed; at earlier times the states are those of then.
    let (w_early, _) = listed_counts(&s, h(2));
    assert_eq!(w_early, nonzero(&s.signals(h(2)).handoffs_waiting));
}

// ---------------------------------------------------------------------------------------------
// Working agreements (agreements.rs), worked out by hand.

mod agreements {
    use super::*;
    use crate::signals::agreements::{Agreement, Outcome, agreement_facts, budget_left, burn_rate, working_deadline};

    /// "Handoffs from a to b are acknowledged within 4 hours, for 75 % of them over a day."
    fn promise() -> Agreement {
        Agreement {
            name: "b-from-a".into(),
            to_team: "b".into(),
            from_teams: vec!["a".into()],
            kinds: vec![],
            within: 4 * HOUR,
            working_hours: false,
            objective: 0.75,
            window: DAY,
        }
    }

    /// Six handoffs to b (h = hours after T0):
    /// - i1  a → b at h1, deadline h5, b1 comments at h3          → kept at h3
    /// - i2  a → b at h2, deadline h6, b2 comments only at h9     → broken at h6 (not at h9)
    /// - i3  a → b at h4, deadline h8, a1 closes it at h6         → not counted (stopped waiting)
    /// - i4  a → b at h5, deadline h9, nobody in b acts           → broken at h9, still waiting after
    /// - i5  c → b at h1                                           → not covered (c is no sending team)
    /// - i6  a's pull request, review asked of b1 at h2, deadline h6, b1 reviews at h6 → kept at h6
    /// b1 and b2 talk on b's own item at h0, which keeps b above the privacy floor of 2 throughout.
    fn scenario() -> Scenario {
        let mut s = Scenario::new();
        s.cfg.agreements = vec![promise()];
        s.issue("own", "acme/b-repo", "b1", h(0)).ev("own", h(0), "b2", comment());
        s.issue("i1", "acme/a-repo", "a1", h(0)).ev("i1", h(1), "a1", label("team:b")).ev("i1", h(3), "b1", comment());
        s.issue("i2", "acme/a-repo", "a1", h(0)).ev("i2", h(2), "a1", label("team:b")).ev("i2", h(9), "b2", comment());
        s.issue("i3", "acme/a-repo", "a1", h(0)).ev("i3", h(4), "a1", label("team:b")).ev(
            "i3",
            h(6),
            "a1",
            close(false),
        );
        s.issue("i4", "acme/a-repo", "a2", h(0)).ev("i4", h(5), "a2", label("team:b"));
        s.issue("i5", "acme/c-repo", "c1", h(0)).ev("i5", h(1), "c1", label("team:b"));
        s.pr("i6", "acme/a-repo", "a3", h(0)).ev("i6", h(2), "a3", request("b1")).ev(
            "i6",
            h(6),
            "b1",
            review(ReviewState::Approved),
        );
        s
    }

    /// (handoffs, breaches, waiting past promise) of the agreement at `now`.
    fn values(s: &Scenario, now: Ts) -> (u64, u64, u64) {
        let sig = s.signals(now);
        let v = sig.agreements[&("b-from-a".to_string(), "b".to_string())].values;
        (v.handoffs, v.breaches, v.waiting_past_promise)
    }

    #[test]
    fn each_covered_handoff_is_kept_at_its_ack_or_broken_at_its_deadline() {
        let s = scenario();
        let a = s.analysis(h(24));
        let facts = agreement_facts(&a, &s.dir, &s.cfg);
        let frame = s.frame();
        let item = |f: &crate::signals::agreements::AgreementFact| {
            frame.syms.resolve(frame.items[a.handoffs[f.handoff].item as usize].key).to_string()
        };
        let got: Vec<(String, Outcome, Ts)> =
            facts.iter().map(|f| (item(f), f.outcome, (f.decided_at - T0) / HOUR)).collect();
        assert_eq!(
            got,
            vec![
                ("i1".into(), Outcome::Kept, 3),
                ("i2".into(), Outcome::Broken, 6),
                ("i6".into(), Outcome::Kept, 6),
                ("i4".into(), Outcome::Broken, 9),
            ]
        );
    }

    #[test]
    fn counters_count_at_decision_time_and_the_budget_burns_while_work_waits() {
        let s = scenario();
        // Nothing decided before i1's acknowledgement; the series exist from the start (zeros).
        assert_eq!(values(&s, h(2)), (0, 0, 0));
        assert_eq!(values(&s, h(3)), (1, 0, 0));
        assert_eq!(values(&s, h(5)), (1, 0, 0));
        // h6: i2 broke its promise (b acknowledges it only at h9), i6 kept it to the second.
        assert_eq!(values(&s, h(6)), (3, 1, 1));
        assert_eq!(values(&s, h(8)), (3, 1, 1));
        // h9: i2 acknowledged at last (no longer waiting, still a breach); i4 breaks and waits.
        assert_eq!(values(&s, h(9)), (4, 2, 1));
        assert_eq!(values(&s, h(10)), (4, 2, 1));

        // At h10 over the 1-day window: 4 decided, 2 broken → attainment 1 − 2/4 = 50 %.
        // Error budget 1 − 0.75 = 25 % of handoffs: error ratio 0.5 / 0.25 = burn rate 2 (budget
        // spent twice over), budget left 1 − 2 = −1.
        let (n, b, _) = values(&s, h(10));
        assert_eq!(burn_rate(b, n, 0.75), Some(2.0));
        assert_eq!(budget_left(b, n, 0.75), Some(-1.0));
        // Over the last 2 hours (h8 → h10): 1 more decided, 1 more broken → ratio 1, burn rate 4.
        let (n8, b8, _) = values(&s, h(8));
        assert_eq!(burn_rate(b - b8, n - n8, 0.75), Some(4.0));
        // Over h3 → h5 nothing was decided: no ratio, no burn (PromQL's 0/0 fires nothing).
        assert_eq!(burn_rate(0, 0, 0.75), None);

        let sig = s.signals(h(10));
        let series = &sig.agreements[&("b-from-a".to_string(), "b".to_string())];
        assert_eq!((series.objective, series.window), (0.75, DAY));
        assert!(sig.agreements_suppressed.is_empty());
    }

    /// The facts carry their decision time: the values at t from the whole history equal those
    /// computed from the events up to t only (ARCHITECTURE's invariant), at every hour.
    #[test]
    fn values_at_t_equal_those_from_the_events_up_to_t() {
        let s = scenario();
        let all = s.analysis(h(30));
        let frame = s.frame();
        for t in (0..30).map(h) {
            let mut past = scenario();
            past.events.retain(|e| e.at <= t);
            let from_past = past.signals(t).agreements;
            let from_all = crate::signals::aggregate(&all, &frame, &s.dir, &s.cfg, t).agreements;
            assert_eq!(from_past, from_all, "at h{}", (t - T0) / HOUR);
        }
    }

    #[test]
    fn an_agreement_of_a_team_under_the_privacy_floor_exports_nothing() {
        let mut s = scenario();
        // Three people per team, a floor of four: b (and the agreement naming it) is folded.
        s.cfg.privacy_floor = 4;
        let sig = s.signals(h(10));
        assert!(sig.agreements.is_empty(), "{:?}", sig.agreements);
        assert_eq!(sig.agreements_suppressed, vec!["b-from-a".to_string()]);
    }

    #[test]
    fn kinds_and_sending_teams_narrow_what_is_covered() {
        let mut s = scenario();
        s.cfg.agreements[0].kinds = vec![Review];
        assert_eq!(values(&s, h(10)), (1, 0, 0)); // i6 only
        s.cfg.agreements[0].kinds = vec![];
        s.cfg.agreements[0].from_teams = vec![];
        // Any sending team: i5 (c → b at h1, never acknowledged) breaks at h5 too.
        assert_eq!(values(&s, h(10)), (5, 3, 2));
    }

    /// b works Monday to Friday, 09:00–17:00 UTC; T0 is a Thursday.
    #[test]
    fn in_working_hours_the_deadline_skips_nights_and_weekends() {
        let cal = Calendar {
            utc_offset: 0,
            workdays: [true, true, true, true, true, false, false],
            start: 9 * HOUR,
            end: 17 * HOUR,
        };
        // Thursday 16:00 + 4 working hours: 1 h on Thursday, 3 h on Friday → Friday 12:00.
        assert_eq!(working_deadline(&cal, h(16), 4 * HOUR), h(24 + 12));
        // Friday 15:00 + 4 h: 2 h on Friday, 2 h on Monday → Monday 11:00 (4 days after T0).
        assert_eq!(working_deadline(&cal, h(24 + 15), 4 * HOUR), h(4 * 24 + 11));
        // Thursday 03:00 (before hours) + 8 h: the whole of Thursday → Thursday 17:00 exactly.
        assert_eq!(working_deadline(&cal, h(3), 8 * HOUR), h(17));
        // Saturday noon + 1 h → Monday 10:00; 2 weeks of working time from Thursday 09:00 → two
        // weeks later, Wednesday 17:00 (80 h: Thu, Fri, then 8 more working days).
        assert_eq!(working_deadline(&cal, h(2 * 24 + 12), HOUR), h(4 * 24 + 10));
        assert_eq!(working_deadline(&cal, h(9), 80 * HOUR), h(13 * 24 + 17));
        for (from, within) in [(h(16), 4 * HOUR), (h(24 + 15), 4 * HOUR), (h(9), 80 * HOUR), (h(2 * 24 + 12), HOUR)] {
            let d = working_deadline(&cal, from, within);
            assert_eq!(cal.working_seconds(from, d), within);
            assert!(cal.working_seconds(from, d - 1) < within, "the earliest such time");
        }
        // With a calendar on b and `working_hours`, i4 (handed over Thursday 05:00, before
        // hours) is due at 13:00 instead of 09:00.
        let mut s = scenario();
        let mut b = org();
        b.team("b", &[], Some(cal));
        s.dir = b.build();
        s.cfg.agreements[0].working_hours = true;
        let a = s.analysis(h(30));
        let i4 = agreement_facts(&a, &s.dir, &s.cfg).into_iter().find(|f| a.handoffs[f.handoff].at == h(5)).unwrap();
        assert_eq!((i4.outcome, i4.deadline), (Outcome::Broken, h(13)));
    }

    // -----------------------------------------------------------------------------------------
    // The back-test (`agreements::backtest`), worked out by hand on the same six handoffs.

    /// `a` ≈ `b` (burn rates such as 16/3 are not exact in floating point).
    fn approx(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    /// The scenario's facts: kept h3 (i1), broken h6 (i2), kept h6 (i6), broken h9 (i4). With an
    /// objective of 93.75 % the error budget is 1/16 of the handoffs (exact in floating point),
    /// so a burn rate is 16 × the error ratio. The policy's rows fire when the ratio over both
    /// windows exceeds factor/16: row 0 (1d & 2h, ×7, page) above 7/16 = 0.4375, row 1 (3d & 6h,
    /// ×3.5, page) above 0.21875, row 2 (7d & 1d, ×1, ticket) above 0.0625.
    ///
    /// hour | counters | over the 1d window    | 2h     | 6h     | 3d = 7d | rows firing
    /// h0-2 | 0, 0     | nothing: no attainment| —      | —      | —       | —
    /// h3-5 | 1, 0     | 1 kept: 100 %, met    | 0 or — | 0      | 0       | —
    /// h6   | 3, 1     | 1/3 broken: 66.7 %    | 1/2 (h4,h6]: 8 | 1/3: 16/3 | 16/3 | 1 (3d, 6h > 3.5), 2
    /// h9   | 4, 2     | 2/4: attainment 50 %, burn 8, budget left 1 − 8 = −7 | 1/1: 16 | 2/3 (h3,h9]: 32/3 | 8 | 0, 1, 2
    /// h10  | 4, 2     | 50 %                  | 1/1 (h8,h10]: 16 | 32/3 | 8 | 0, 1, 2
    /// h11  | 4, 2     | 50 %                  | — (h9,h11] | 32/3 | 8 | 1, 2 (row 0 has no 2h ratio)
    /// h12  | 4, 2     | 50 %                  | —      | 1/1 (h6,h12]: 16 | 8 | 1, 2
    /// h15  | 4, 2     | 50 %                  | —      | — (h9,h15] | 8 | 2
    /// h27  | 4, 2     | 2/3 (h3,h27]: 33.3 %, burn 32/3, budget −29/3 | — | — | 8 | 2
    /// h30  | 4, 2     | 1/1 (h6,h30]: 0 %, burn 16, budget −15 | — | — | 8 | 2
    /// h33  | 4, 2     | nothing in (h9,h33]   | —      | —      | 8       | — (1d empty)
    /// So the page alert fires from h6 to h15 (rows 0 and 1), the ticket from h6 to h33; over
    /// h0..=h36 30 hours have an attainment (h3..=h32) and 3 of them met 93.75 % (h3..=h5).
    #[test]
    fn the_back_test_at_each_hour_is_worked_out_by_hand() {
        let mut s = scenario();
        s.cfg.agreements[0].objective = 0.9375;
        let a = s.analysis(h(40));
        let facts = agreement_facts(&a, &s.dir, &s.cfg);
        let bt = crate::signals::agreements::backtest(&facts, &s.cfg, 0, h(0), h(36));
        assert_eq!(bt.hours.len(), 37);
        let at = |n: i64| &bt.hours[n as usize];
        assert_eq!((at(2).handoffs, at(2).breaches, at(2).attainment), (0, 0, None));
        assert_eq!((at(3).handoffs, at(3).window_handoffs, at(3).attainment), (1, 1, Some(1.0)));
        assert_eq!(at(3).budget_left, Some(1.0));
        assert!(approx(at(6).attainment, 2.0 / 3.0));
        // h6: the 2h window (h4, h6] holds i2's breach and i6's ack: ratio 1/2, burn 8.
        assert!(approx(at(6).burn[0][0], 16.0 / 3.0) && approx(at(6).burn[0][1], 8.0));
        assert_eq!(at(6).firing, vec![false, true, true]);
        assert_eq!((at(9).handoffs, at(9).breaches, at(9).attainment), (4, 2, Some(0.5)));
        assert_eq!((at(9).budget_left, at(9).burn[0]), (Some(-7.0), [Some(8.0), Some(16.0)]));
        assert!(approx(at(9).burn[1][1], 32.0 / 3.0));
        assert_eq!(at(9).firing, vec![true, true, true]);
        assert_eq!(at(10).firing, vec![true, true, true]);
        assert_eq!((at(11).burn[0][1], at(11).firing.clone()), (None, vec![false, true, true]));
        assert_eq!((at(12).burn[1][1], at(12).firing.clone()), (Some(16.0), vec![false, true, true]));
        assert_eq!(at(15).firing, vec![false, false, true]);
        assert!(approx(at(27).attainment, 1.0 / 3.0) && approx(at(27).budget_left, -29.0 / 3.0));
        assert_eq!((at(27).window_handoffs, at(27).window_breaches), (3, 2));
        assert_eq!((at(30).attainment, at(30).budget_left), (Some(0.0), Some(-15.0)));
        assert_eq!((at(33).attainment, at(33).burn[2]), (None, [Some(8.0), None]));
        assert_eq!(at(33).firing, vec![false, false, false]);

        let ep: Vec<(&str, i64, Option<i64>, Vec<usize>)> = bt
            .episodes
            .iter()
            .map(|e| (e.severity, (e.start - T0) / HOUR, e.end.map(|t| (t - T0) / HOUR), e.rows.clone()))
            .collect();
        assert_eq!(ep, vec![("page", 6, Some(15), vec![0, 1]), ("ticket", 6, Some(33), vec![2])]);
        assert_eq!((bt.episodes_of("page"), bt.episodes_of("ticket")), (1, 1));
        assert_eq!((bt.hours_with_data(), bt.hours_met(0.9375)), (30, 3));
        assert_eq!(bt.lowest_budget(), Some((h(30), -15.0)));
        // Stopped at h20, the ticket still fires at the last hour: an open episode.
        let short = crate::signals::agreements::backtest(&facts, &s.cfg, 0, h(0) + 1, h(20));
        assert_eq!(short.hours[0].at, h(1), "whole hours of the range only");
        assert_eq!(short.episodes.last().map(|e| (e.severity, e.end)), Some(("ticket", None)));
    }

    /// The back-test's every hour equals the exported series at that hour: the counters are
    /// `agreement_values` at `at`, and each increase over a window w is `agreement_values` at
    /// `at` minus at `at − w` (what Prometheus' `increase()` over the backfilled counters gives),
    /// run through the same `burn_rate` / `budget_left`.
    #[test]
    fn the_back_test_equals_the_exported_counters_at_every_hour() {
        use crate::signals::agreements::{ALERT_POLICY, agreement_values, backtest};
        let mut s = scenario();
        // A second agreement (any sending team, 2-hour promise) so the facts of one agreement
        // are picked out of several.
        let mut any = promise();
        any.name = "b-any".into();
        any.from_teams = vec![];
        any.within = 2 * HOUR;
        any.objective = 0.9;
        any.window = 6 * HOUR;
        s.cfg.agreements.push(any);
        let a = s.analysis(h(24 * 9));
        let frame = s.frame();
        let labels = crate::signals::aggregate::TeamLabels::new(&a, &s.dir, &s.cfg, h(24 * 9));
        let facts = agreement_facts(&a, &s.dir, &s.cfg);
        let exported = |name: &str, t: Ts| {
            let (values, _) = agreement_values(&a, &facts, &s.dir, &s.cfg, &labels, t);
            let v = values[&(name.to_string(), "b".to_string())];
            (v.handoffs, v.breaches)
        };
        let increase = |name: &str, t: Ts, w: Ts| {
            let ((n1, b1), (n0, b0)) = (exported(name, t), exported(name, t - w));
            (n1 - n0, b1 - b0)
        };
        let mut checked = 0;
        for (i, ag) in s.cfg.agreements.iter().enumerate() {
            let bt = backtest(&facts, &s.cfg, i, h(-10), h(24 * 9));
            assert_eq!(bt.hours.len(), 24 * 9 + 11);
            for hv in &bt.hours {
                assert_eq!((hv.handoffs, hv.breaches), exported(&ag.name, hv.at));
                let (n, b) = increase(&ag.name, hv.at, ag.window);
                assert_eq!((hv.window_handoffs, hv.window_breaches), (n, b));
                assert_eq!(hv.budget_left, budget_left(b, n, ag.objective));
                for (k, r) in ALERT_POLICY.iter().enumerate() {
                    let (ln, lb) = increase(&ag.name, hv.at, r.long);
                    let (sn, sb) = increase(&ag.name, hv.at, r.short);
                    let burn = [burn_rate(lb, ln, ag.objective), burn_rate(sb, sn, ag.objective)];
                    assert_eq!(hv.burn[k], burn, "{} at h{}", ag.name, (hv.at - T0) / HOUR);
                    assert_eq!(hv.firing[k], burn.iter().all(|b| b.is_some_and(|b| b > r.factor)));
                }
                checked += 1;
            }
            // And the whole aggregate (what the exporter encodes) agrees on the counters.
            let end = bt.hours.last().unwrap();
            let sig = crate::signals::aggregate(&a, &frame, &s.dir, &s.cfg, end.at);
            let v = sig.agreements[&(ag.name.clone(), "b".to_string())].values;
            assert_eq!((v.handoffs, v.breaches), (end.handoffs, end.breaches));
            assert!(end.handoffs > 0);
        }
        assert_eq!(checked, 2 * (24 * 9 + 11));
    }
}
