//! API requests the Jira source spends against the stand-in: a full backfill of 1000 issues
//! (20 histories and 5 comments each; one in ten with a changelog longer than the 100 Jira
//! embeds, one in fifty with more comments than the 20 it embeds), and an idle poll, on Cloud and
//! Data Center; the user's time zone is read from `/myself`. Run: `cargo bench --bench jira_requests`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use siloscope::model::{StatusCategory, Ts};
use siloscope::sources::Source;
use siloscope::sources::http::{HttpSettings, ManualClock, NetworkTransport};
use siloscope::sources::jira::{Flavor, JiraAuth, JiraConfig, JiraSource};
use siloscope_testkit::jira::{
    Auxiliary, ChangeItem, History, JiraComment, JiraIssue, JiraScenario, JiraStandIn, StandInSettings, Status,
};

const TOKEN: &str = "jira-benchmark-token";
const EMAIL: &str = "bench@acme.io";
const T0: Ts = 1_700_006_400;
const ISSUES: usize = 1000;

fn scenario() -> JiraScenario {
    let mut s = JiraScenario::default();
    let statuses = [("1", "To Do", StatusCategory::ToDo), ("2", "In Progress", StatusCategory::InProgress)];
    for (id, name, category) in statuses {
        s.statuses.push(Status::new(id, name, category));
    }
    let people = ["amy", "bo", "cy", "dee", "eli", "fay", "gus", "hal"];
    let mut next = 100_000u64;
    for i in 0..ISSUES {
        let created = T0 + (i as Ts) * 600;
        let histories_n = if i % 10 == 0 { 150 } else { 20 };
        let comments_n = if i % 50 == 0 { 30 } else { 5 };
        let mut at = created;
        let mut histories = Vec::new();
        for k in 0..histories_n {
            at += 60;
            next += 1;
            let (from, to) = if k % 2 == 0 { ("To Do", "In Progress") } else { ("In Progress", "To Do") };
            let status = |n: &str| if n == "To Do" { "1" } else { "2" };
            histories.push(History {
                id: next,
                at,
                author: people[(i + k) % 8].into(),
                items: vec![ChangeItem {
                    field: "status".into(),
                    field_id: "status".into(),
                    from: Some(status(from).into()),
                    from_string: Some(from.into()),
                    to: Some(status(to).into()),
                    to_string: Some(to.into()),
                }],
            });
        }
        let comments = (0..comments_n)
            .map(|k| {
                next += 1;
                at += 60;
                JiraComment { id: next, at, author: people[(i + k + 1) % 8].into(), body: "cc @bench/reviewers".into() }
            })
            .collect();
        s.issues.push(JiraIssue {
            id: 10_000 + i as u64,
            project: format!("P{}", i % 5),
            number: (i / 5 + 1) as u64,
            issue_type: "Task".into(),
            summary: format!("Issue {i}"),
            reporter: people[i % 8].into(),
            created,
            updated: at,
            initial_status: "To Do".into(),
            initial_team: Some("payments".into()),
            initial_assignee: None,
            histories,
            comments,
            malformed: false,
        });
    }
    s
}

async fn sync(src: &mut JiraSource, cursor: &mut Option<String>) -> (u32, usize, usize) {
    let (mut steps, mut items, mut events) = (0, 0, 0);
    loop {
        let step = src.step(cursor.as_deref(), T0 + 400 * 86_400).await.expect("sync step");
        steps += 1;
        items += step.batch.items.len();
        events += step.batch.events.len();
        *cursor = step.batch.cursor.clone();
        if step.caught_up {
            return (steps, items, events);
        }
    }
}

async fn run(flavor: Flavor) {
    let settings = StandInSettings {
        flavor,
        email: EMAIL.into(),
        token: TOKEN.into(),
        time_zone: chrono_tz::Europe::Berlin,
        myself: Auxiliary::Serve,
        status_list: Auxiliary::Serve,
        embedded_histories: 100,
        embedded_comments: 20,
    };
    let standin = JiraStandIn::start(scenario(), settings).await.expect("stand-in");
    let tmp = tempfile::tempdir().expect("tempdir");
    let token_file = tmp.path().join("token");
    std::fs::write(&token_file, TOKEN).expect("token file");
    let mut cfg = JiraConfig::cloud(&standin.url(), EMAIL, &[]);
    cfg.flavor = flavor;
    cfg.auth = JiraAuth { email: Some(EMAIL.into()), token_env: None, token_file: Some(token_file) };
    cfg.team_field = Some("customfield_10400".into());
    let transport = Arc::new(NetworkTransport::new(Duration::from_secs(5)).expect("transport"));
    let clock = Arc::new(ManualClock::new(1e9));
    let mut src = JiraSource::with_transport("bench", cfg, transport, clock, HttpSettings::default());
    let mut cursor = None;
    let started = Instant::now();
    let (steps, items, events) = sync(&mut src, &mut cursor).await;
    let took = started.elapsed();
    let c = standin.counters();
    assert_eq!(items, ISSUES);
    println!(
        "{flavor:?} backfill: {items} issues, {events} events in {steps} steps, {:.1?}: {} requests \
         ({} searches, {} changelogs, {} comment lists, {} status lists, {} /myself) = {:.0} requests per 1000 issues",
        took,
        c.requests,
        c.searches,
        c.changelogs,
        c.comments,
        c.statuses,
        c.myself,
        c.requests as f64 * 1000.0 / items as f64
    );
    standin.reset_counters();
    let (_, items, events) = sync(&mut src, &mut cursor).await;
    println!(
        "{flavor:?} idle poll: {} requests, {items} issues and {events} events re-read",
        standin.counters().requests
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    run(Flavor::Cloud).await;
    run(Flavor::DataCenter).await;
}
