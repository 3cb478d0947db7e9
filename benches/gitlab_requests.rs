//! API requests the GitLab source spends against the stand-in: a full backfill of 1000 issues
//! and merge requests with 20 history records each (notes, system notes, state and label
//! events), an idle poll, and the same backfill from a GitLab before 13.2 (no resource state
//! events: state changes are system notes). Run: `cargo bench --bench gitlab_requests`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use siloscope::model::Ts;
use siloscope::sources::Source;
use siloscope::sources::gitlab::{GitlabConfig, GitlabSource};
use siloscope::sources::http::{HttpSettings, ManualClock, NetworkTransport};
use siloscope_testkit::gitlab::{
    GitlabStandIn, Group, Project, Record, RecordKind, Scenario, ScenarioItem, StateEvents,
};

const TOKEN: &str = "glpat-benchmark";
const T0: Ts = 1_700_006_400;
const ITEMS: usize = 1000;
const PROJECTS: usize = 10;

/// A deterministic group: 1000 items (40% merge requests) over 10 projects in subgroups, 20
/// history records each.
fn scenario() -> Scenario {
    let mut s = Scenario::default();
    s.groups.push(Group { id: 1, full_path: "bench".into(), members: vec![] });
    for p in 0..PROJECTS {
        s.projects.push(Project { id: 100 + p as u64, path: format!("bench/team-{}/repo-{p}", p % 4) });
    }
    let people = ["amy", "bo", "cy", "dee", "eli", "fay", "gus", "hal"];
    let mut next = 1u64;
    for i in 0..ITEMS {
        let mr = i % 5 < 2;
        let created = T0 + (i as Ts) * 600;
        let mut records = Vec::new();
        let mut at = created;
        for k in 0..20 {
            at += 300;
            let note = |body: String, system| RecordKind::Note { body, system };
            let kind = match (mr, k) {
                (_, 0) => RecordKind::Label { name: format!("team::{}", people[i % 4]), add: true },
                (_, 1) => note(format!("assigned to @{}", people[(i + 1) % 8]), true),
                (true, 2) => note(format!("requested review from @{}", people[(i + 2) % 8]), true),
                (true, 15) => note("approved this merge request".into(), true),
                (true, 19) => RecordKind::State("merged".into()),
                (false, 19) => RecordKind::State("closed".into()),
                _ => note(format!("comment {k} cc @bench/team-{}", i % 4), false),
            };
            records.push(Record { id: next, at, actor: Some(people[(i + k) % 8].into()), kind });
            next += 1;
        }
        s.items.push(ScenarioItem {
            id: 10_000 + i as u64,
            project: i % PROJECTS,
            iid: (i / PROJECTS + 1) as u64,
            merge_request: mr,
            title: format!("Item {i}"),
            author: Some(people[i % 8].into()),
            created_at: created,
            updated_at: at,
            records,
            opened_as_draft: false,
            malformed: false,
        });
    }
    s
}

/// Steps until caught up; returns (steps, items, events).
async fn sync(src: &mut GitlabSource, cursor: &mut Option<String>) -> (u32, usize, usize) {
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

fn source(standin: &GitlabStandIn, token_file: &std::path::Path) -> GitlabSource {
    let mut cfg = GitlabConfig::for_groups(&["bench"]);
    cfg.url = standin.url();
    cfg.token_env = None;
    cfg.token_file = Some(token_file.to_path_buf());
    let clock = Arc::new(ManualClock::new(chrono::Utc::now().timestamp() as f64));
    let transport = Arc::new(NetworkTransport::new(Duration::from_secs(5)).unwrap());
    GitlabSource::with_transport("bench", cfg, transport, clock, HttpSettings::default())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let standin = GitlabStandIn::start(scenario(), &[TOKEN]).await.unwrap();
        let tmp = std::env::temp_dir().join(format!("siloscope-gitlab-bench-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let token_file = tmp.join("token");
        std::fs::write(&token_file, TOKEN).unwrap();
        let mut src = source(&standin, &token_file);
        let mut cursor = None;

        let started = Instant::now();
        let (steps, items, events) = sync(&mut src, &mut cursor).await;
        let items_read = items;
        let backfill = standin.counters();
        let per_1000 = backfill.requests as f64 * 1000.0 / ITEMS as f64;
        println!(
            "gitlab backfill: {ITEMS} items ({items} read, {events} events) in {steps} steps, {:.2?}",
            started.elapsed()
        );
        println!(
            "gitlab backfill requests: {} ({per_1000:.1} per 1000 items; 3 per item + 1 per list page)",
            backfill.requests
        );
        println!("gitlab backfill endpoints: {:?}", backfill.endpoints);

        standin.reset_counters();
        let (steps, items, _) = sync(&mut src, &mut cursor).await;
        let idle = standin.counters();
        println!(
            "gitlab idle poll: {} requests for 1 group in {steps} steps, {items} items re-read (target: 2)",
            idle.requests
        );
        assert_eq!(items, 0, "an idle poll re-reads no item");
        assert!(per_1000 <= 3100.0, "backfill over budget: {per_1000:.1} requests per 1000 items");
        assert_eq!(idle.requests, 2, "idle poll over budget");

        // The same group on a GitLab before 13.2: `/resource_state_events` answers 404, state
        // changes are system notes; the endpoint is left alone after three items.
        standin.edit(|s| s.state_events = StateEvents::NotFound);
        standin.reset_counters();
        let mut old = source(&standin, &token_file);
        let mut old_cursor = None;
        let (_, old_items, old_events) = sync(&mut old, &mut old_cursor).await;
        let before = standin.counters();
        let old_per_1000 = before.requests as f64 * 1000.0 / ITEMS as f64;
        println!(
            "gitlab backfill before 13.2: {} requests ({old_per_1000:.1} per 1000 items; 2 per item + 1 per list page + 3 probes), {old_items} items, {old_events} events (same as above: {})",
            before.requests,
            old_events == events
        );
        assert_eq!((old_items, old_events), (items_read, events), "the same history from notes");
        assert!(old_per_1000 <= 2100.0, "backfill before 13.2 over budget: {old_per_1000:.1} per 1000 items");
        let _ = std::fs::remove_dir_all(&tmp);
    });
}
