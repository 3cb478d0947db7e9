//! A mixed organisation: Jira for planning, GitHub for code, the same people under different
//! identities. A Jira ticket moves to another team's status, then that team's pull request is
//! reviewed by a third team: each handoff is attributed to the right teams, whichever tool.

use std::path::Path;

use siloscope::config::Config;
use siloscope::model::{Event, EventKind, HOUR, Item, ItemKind, ItemState, ReviewState, Reviewer, Ts};
use siloscope::signals::{Frame, HandoffKind, compute};

const T0: Ts = 1_780_000_000;

const CONFIG: &str = r#"
[signals]
privacy_floor = 2

[ownership]
statuses = { "In Development" = "platform" }
repositories = [ { pattern = "acme/platform-*", team = "platform" } ]

[[teams]]
name = "payments"
[[teams]]
name = "platform"
handles = ["acme/platform"]
[[teams]]
name = "security"
handles = ["acme/security"]

[[people]]
name = "Paula"
jira = "5b10a2844c20165700ede21g"
github = "paula-p"
team = "payments"
[[people]]
name = "Pedro"
jira = "5b10ac8d82e05b22cc7d4ef5"
team = "payments"
[[people]]
name = "Lin"
jira = "557058:lin"
github = "lin-codes"
team = "platform"
[[people]]
name = "Lars"
github = "lars"
team = "platform"
[[people]]
name = "Sofia"
github = "sofia-sec"
jira = "557058:sofia"
team = "security"
[[people]]
name = "Sam"
github = "sam"
team = "security"
"#;

fn item(key: &str, kind: ItemKind, scope: &str, author: &str, at: Ts) -> Item {
    Item {
        key: key.into(),
        source: key.split(':').next().unwrap().into(),
        kind,
        scope: scope.into(),
        url: format!("https://example.test/{key}"),
        title: key.into(),
        author: Some(author.into()),
        created_at: at,
        updated_at: at,
        state: ItemState::Open,
        issue_type: None,
    }
}

fn ev(n: &mut u32, item: &str, at: Ts, actor: &str, kind: EventKind) -> Event {
    *n += 1;
    Event { id: format!("{item}/{n}"), item: item.into(), at, actor: Some(actor.into()), kind }
}

#[test]
fn handoffs_cross_tools_and_identities() {
    let config = Config::parse(CONFIG, Path::new("mixed.toml")).expect("valid config");
    let dir = config.directory.builder().build();
    let (ticket, pr) = ("jira:PAY#7", "github:acme/platform-api#42");
    let (paula_jira, lin_jira, sofia_jira) = ("jira:5b10a2844c20165700ede21g", "jira:557058:lin", "jira:557058:sofia");
    let (lin_gh, lars_gh, sofia_gh, sam_gh) = ("github:lin-codes", "github:lars", "github:sofia-sec", "github:sam");
    let mut n = 0;
    let h = |x: i64| T0 + x * HOUR;
    let items = vec![
        item(ticket, ItemKind::Ticket, "PAY", paula_jira, h(0)),
        item(pr, ItemKind::PullRequest, "acme/platform-api", lin_gh, h(10)),
    ];
    let events = vec![
        // Jira: Paula (payments) opens the ticket and moves it to platform's status.
        ev(&mut n, ticket, h(0), paula_jira, EventKind::Opened),
        ev(&mut n, ticket, h(0), paula_jira, EventKind::TeamFieldChanged { to: Some("payments".into()) }),
        ev(&mut n, ticket, h(1), paula_jira, EventKind::TeamFieldChanged { to: None }),
        ev(
            &mut n,
            ticket,
            h(1),
            paula_jira,
            EventKind::StatusChanged { from: Some("To Do".into()), to: "In Development".into(), category: None },
        ),
        // Lin (platform) acknowledges in Jira 3 hours later, under their Jira account id.
        ev(&mut n, ticket, h(4), lin_jira, EventKind::Commented { mentions: vec![] }),
        // GitHub: Lin's pull request asks security (the team) for a review.
        ev(&mut n, pr, h(10), lin_gh, EventKind::Opened),
        ev(&mut n, pr, h(11), lin_gh, EventKind::ReviewRequested { reviewer: Reviewer::Team("acme/security".into()) }),
        ev(&mut n, pr, h(12), lars_gh, EventKind::Reviewed { state: ReviewState::Approved }),
        // Sofia (security) reviews 5 hours after the request, under her GitHub login.
        ev(&mut n, pr, h(16), sofia_gh, EventKind::Reviewed { state: ReviewState::ChangesRequested }),
        ev(&mut n, pr, h(17), sam_gh, EventKind::Reviewed { state: ReviewState::Approved }),
        ev(&mut n, pr, h(18), lin_gh, EventKind::Merged),
        // Sofia also comments on the Jira ticket, as her Jira identity: same person, same team.
        ev(&mut n, ticket, h(20), sofia_jira, EventKind::Commented { mentions: vec![] }),
    ];
    let mut frame = Frame::new();
    for i in &items {
        frame.add_item(i);
    }
    for e in &events {
        frame.add_event(e);
    }
    frame.prepare();
    let (analysis, signals) = compute(&frame, &dir, &config.signals, h(30));

    let handoffs: Vec<_> = analysis
        .handoffs
        .iter()
        .map(|x| (x.kind, dir.team_name(x.from), dir.team_name(x.to), x.acked_at.map(|a| (a - x.at) / HOUR)))
        .collect();
    assert_eq!(
        handoffs,
        vec![
            // Jira status → platform, acknowledged by Lin's Jira comment after 3h.
            (HandoffKind::Reassign, "payments", "platform", Some(3)),
            // GitHub review request platform → security, acknowledged by Sofia's review after 5h
            // (Lars, the author's teammate, does not acknowledge for security).
            (HandoffKind::Review, "platform", "security", Some(5)),
        ]
    );
    // Reviews across teams, attributed by the GitHub identities' teams.
    let reviews: Vec<_> = analysis
        .reviews
        .iter()
        .map(|r| (dir.team_name(r.author_team), dir.team_name(r.reviewer_team), r.state))
        .collect();
    assert_eq!(
        reviews,
        vec![
            ("platform", "platform", ReviewState::Approved),
            ("platform", "security", ReviewState::ChangesRequested),
            ("platform", "security", ReviewState::Approved),
        ]
    );
    // The pull request is a joint win of platform and security (approving reviewer Sam).
    assert_eq!(analysis.joint_wins.len(), 1);
    // Sofia is one person across GitHub and Jira: one active security member from her, plus Sam.
    let active = analysis.active_people(h(0), h(30));
    assert_eq!(active.get(&dir.team_by_name("security").unwrap()), Some(&2));
    assert_eq!(active.get(&dir.team_by_name("platform").unwrap()), Some(&2));
    // Exported per source: the Jira handoff under the jira source, the review under github.
    assert_eq!(signals.handoffs_total.len(), 2);
    let sources: Vec<&str> = signals.handoffs_total.keys().map(|(s, ..)| s.as_str()).collect();
    assert_eq!(sources, vec!["github", "jira"]);
    assert!(analysis.unknown_identities.is_empty(), "every identity resolves through the directory");
}
