//! `sync --estimate` against the three stand-ins: the counts come from the APIs' cheap count
//! endpoints (one per part: GitHub search `issueCount`, GitLab `x-total`, Jira Cloud's approximate
//! count and Data Center's `maxResults=0` total), nothing is stored, and the requests estimated
//! are within 10 % of those the backfill then makes.

mod jira_common;

use siloscope::config::{SourceConfig, SourceSettings};
use siloscope::estimate::{Estimate, estimate};
use siloscope::model::{DAY, Ts};
use siloscope::sources::github::{GithubAuth, GithubConfig, GithubSource};
use siloscope::sources::gitlab::{GitlabConfig, GitlabSource};
use siloscope::sources::jira::Flavor;
use siloscope::store::Store;
use siloscope_testkit::github::GithubStandIn;
use siloscope_testkit::gitlab::GitlabStandIn;
use siloscope_testkit::jira::JiraScenario;

use jira_common::{T0, clock, open_store, settings, simulated, sync, transport, write_token};

const GITHUB_TOKEN: &str = "ghp_standinTOKEN0123456789abcdef";
const GITLAB_TOKEN: &str = "glpat-standinTOKEN0123456789";
const NOW: Ts = T0 + 70 * DAY;

fn within_10_percent(what: &str, e: &Estimate, made: u64) {
    let err = (e.requests as f64 - made as f64).abs() / made as f64;
    println!(
        "{what}: {} items, estimated {} requests, the backfill made {made} ({:.1} %)",
        e.items,
        e.requests,
        err * 100.0
    );
    assert!(err <= 0.10, "{what}: estimated {} requests, the backfill made {made}: {e:?}", e.requests);
}

fn source_config(name: &str, settings: SourceSettings) -> SourceConfig {
    SourceConfig { name: name.into(), interval: 300, settings }
}

#[tokio::test]
async fn github_estimate_is_within_10_percent_of_the_backfill() {
    for (days, per_day, seed, page_size) in [(60, 20.0, 3, 50), (30, 8.0, 11, 20)] {
        let (items, events, dir) = simulated(days, per_day, seed);
        let scenario = siloscope_testkit::github::Scenario::from_model(&items, &events, Some(&dir));
        let standin = GithubStandIn::start(scenario, &[GITHUB_TOKEN]).await.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = GithubConfig::for_organizations(&["sim-org"]);
        cfg.api_url = standin.url();
        cfg.graphql_url = standin.graphql_url();
        cfg.auth = GithubAuth::Token { env: None, file: Some(write_token(tmp.path(), GITHUB_TOKEN)) };
        cfg.page_size = page_size;
        let sc = source_config("gh", SourceSettings::new(cfg.clone()));
        // The stand-in's first GraphQL answer loads its schema (seconds in a debug build, past the
        // tests' short timeout): a first estimate warms it, the second is the one counted.
        let mut counter = GithubSource::with_transport("gh", cfg.clone(), transport(), clock(), settings());
        estimate(&sc, &mut counter, NOW).await.unwrap();
        standin.reset_counters();
        let mut counter = GithubSource::with_transport("gh", cfg.clone(), transport(), clock(), settings());
        let e = estimate(&sc, &mut counter, NOW).await.unwrap().expect("GitHub counts");
        let c = standin.counters();
        // One count per scope, nothing else.
        assert_eq!((c.requests, c.operations.get("Count").copied()), (1, Some(1)), "{c:?}");
        assert_eq!(e.count_requests, 1);
        let listed = items.iter().filter(|i| i.kind != siloscope::model::ItemKind::Ticket).count() as u64;
        assert_eq!(e.items, listed, "issueCount counts every issue and pull request");
        standin.reset_counters();
        let mut src = GithubSource::with_transport("gh", cfg, transport(), clock(), settings());
        let mut store = open_store(tmp.path(), "a.db");
        sync(&mut src, &mut store, NOW).await;
        let made = standin.counters();
        within_10_percent(&format!("github {days}d×{per_day} page {page_size}"), &e, made.requests);
        // Points at GitHub's formula (rounded per request, which a per-item cost does not follow
        // exactly): within 20 %.
        let err = (e.points as f64 - made.points as f64).abs() / made.points as f64;
        println!("github points: estimated {}, charged {}", e.points, made.points);
        assert!(err <= 0.20, "estimated {} points, the backfill was charged {}", e.points, made.points);
    }
}

#[tokio::test]
async fn gitlab_estimate_is_within_10_percent_of_the_backfill_and_halves_spans_without_x_total() {
    for (days, per_day, seed, total_limit) in [(60, 20.0, 3, 10_000), (30, 8.0, 11, 40)] {
        let (items, events, dir) = simulated(days, per_day, seed);
        let scenario = siloscope_testkit::gitlab::Scenario::from_model("sim-org", &items, &events, Some(&dir));
        let standin = GitlabStandIn::start(scenario, &[GITLAB_TOKEN]).await.unwrap();
        // gitlab.com leaves `x-total` out above 10,000 items; made small, the count halves spans.
        standin.set_total_limit(total_limit);
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = GitlabConfig::for_groups(&["sim-org"]);
        cfg.url = standin.url();
        cfg.token_env = None;
        cfg.token_file = Some(write_token(tmp.path(), GITLAB_TOKEN));
        let sc = source_config("gl", SourceSettings::new(cfg.clone()));
        let mut counter = GitlabSource::with_transport("gl", cfg.clone(), transport(), clock(), settings());
        let e = estimate(&sc, &mut counter, NOW).await.unwrap().expect("GitLab counts");
        let lists = e.counts.parts.len() as u64;
        if total_limit >= 10_000 {
            assert_eq!(standin.counters().requests, lists, "one count per list");
        } else {
            assert!(standin.counters().requests > lists, "spans halved: {:?}", standin.counters());
        }
        let listed = items.iter().filter(|i| i.kind != siloscope::model::ItemKind::Ticket).count() as u64;
        assert_eq!(e.items, listed, "x-total counts every issue and merge request: {e:?}");
        standin.reset_counters();
        let mut src = GitlabSource::with_transport("gl", cfg, transport(), clock(), settings());
        let mut store = open_store(tmp.path(), "a.db");
        sync(&mut src, &mut store, NOW).await;
        within_10_percent(&format!("gitlab {days}d×{per_day}"), &e, standin.counters().requests);
    }
}

#[tokio::test]
async fn jira_estimate_is_within_10_percent_of_the_backfill_on_cloud_and_data_center() {
    for flavor in [Flavor::Cloud, Flavor::DataCenter] {
        for (days, per_day, seed) in [(60, 20.0, 3), (30, 8.0, 11)] {
            let (items, events, _) = simulated(days, per_day, seed);
            let standin = jira_common::start(JiraScenario::from_model(&items, &events), flavor).await;
            let tmp = tempfile::tempdir().unwrap();
            let mut cfg = jira_common::config(&standin, flavor, write_token(tmp.path(), jira_common::TOKEN));
            cfg.page_size = 10;
            let sc = source_config("jira", SourceSettings::new(cfg.clone()));
            let mut counter = jira_common::source(cfg.clone(), clock());
            let e = estimate(&sc, &mut counter, NOW).await.unwrap().expect("Jira counts");
            let c = standin.counters();
            assert_eq!((c.requests, c.counts), (1, 1), "one count: {c:?}");
            let tickets = items.iter().filter(|i| i.kind == siloscope::model::ItemKind::Ticket).count() as u64;
            assert_eq!(e.items, tickets, "{flavor:?}: {e:?}");
            standin.reset_counters();
            let mut src = jira_common::source(cfg, clock());
            let mut store = open_store(tmp.path(), "a.db");
            sync(&mut src, &mut store, NOW).await;
            within_10_percent(&format!("jira {flavor:?} {days}d×{per_day}"), &e, standin.counters().requests);
            // Nothing was stored by the estimate: the store holds only what the backfill wrote.
            assert!(store.cursor("jira").unwrap().is_some());
        }
    }
}

#[test]
fn sync_estimate_stores_nothing_and_prints_a_line_per_source() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (items, events, _) = simulated(20, 10.0, 5);
    let standin = rt.block_on(jira_common::start(JiraScenario::from_model(&items, &events), Flavor::DataCenter));
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), jira_common::TOKEN);
    let mut projects: Vec<String> = items
        .iter()
        .filter(|i| i.kind == siloscope::model::ItemKind::Ticket)
        .map(|i| format!("{:?}", siloscope_testkit::jira::project_key(&i.scope)))
        .collect();
    projects.sort();
    projects.dedup();
    let store = tmp.path().join("s.db");
    let cfg = tmp.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\npath = {:?}\n\n[[sources]]\nname = \"jira-dc\"\nkind = \"jira\"\nflavor = \"data_center\"\nurl = {:?}\ntoken_file = {:?}\nprojects = [{}]\n",
            store.display().to_string(),
            standin.url(),
            token.display().to_string(),
            projects.join(", ")
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["sync", "--estimate", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let tickets = items.iter().filter(|i| i.kind == siloscope::model::ItemKind::Ticket).count();
    assert!(stdout.contains(&format!("jira-dc: {tickets} items")), "{stdout}");
    assert!(stdout.contains("requests") && stdout.contains("rate-limit points"), "{stdout}");
    assert!(!store.exists(), "the estimate opened the store");
    assert!(!stdout.contains(jira_common::TOKEN) && !stderr.contains(jira_common::TOKEN));
}
