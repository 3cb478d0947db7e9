//! Progress of a first sync against the three stand-ins and the simulator: the position read from
//! each cursor moves through the history, the bar reaches 100 % exactly at the step that catches
//! the source up (never before), and `sync --once` off a terminal logs the same figures.

mod jira_common;

use siloscope::model::{DAY, Ts};
use siloscope::progress::{Figures, Observation, Tracker};
use siloscope::sources::Source;
use siloscope::sources::gitlab::{GitlabConfig, GitlabSource};
use siloscope::sources::jira::Flavor;
use siloscope::store::Store;
use siloscope_testkit::github::GithubStandIn;
use siloscope_testkit::gitlab::GitlabStandIn;
use siloscope_testkit::jira::JiraScenario;

use jira_common::{T0, clock, open_store, settings, simulated, transport, write_token};
use siloscope::sources::github::{GithubAuth, GithubConfig, GithubSource};

const GITHUB_TOKEN: &str = "ghp_standinTOKEN0123456789abcdef";

/// Syncs `source` until caught up, feeding a tracker one second per step; the figures per step.
async fn track(source: &mut dyn Source, store: &mut siloscope::store::sqlite::SqliteStore, now: Ts) -> Vec<Figures> {
    let name = source.name().to_string();
    let mut tracker = Tracker::new(None, 0.0, 0);
    let mut out = Vec::new();
    loop {
        let cursor = store.cursor(&name).unwrap();
        let step = source.step(cursor.as_deref(), now).await.unwrap();
        store.commit_batch(&step.batch).unwrap();
        let position = step.batch.cursor.as_deref().and_then(|c| source.pass_position(c, now));
        let o = Observation { position, caught_up: step.caught_up, ..Observation::default() };
        out.push(tracker.observe(out.len() as f64 + 1.0, &o).clone());
        assert!(out.len() < 2000, "no end to the sync");
        if step.caught_up {
            return out;
        }
    }
}

fn assert_full_bar_exactly_when_caught_up(name: &str, figures: &[Figures]) {
    assert!(figures.len() >= 4, "{name}: a multi-step sync, got {} steps", figures.len());
    let (last, before) = figures.split_last().unwrap();
    assert_eq!((last.ratio, last.percent(), last.caught_up), (1.0, 100.0, true), "{name}");
    for (i, f) in before.iter().enumerate() {
        assert!(f.ratio < 1.0 && f.percent() < 100.0 && !f.caught_up, "{name}: step {i} shows {f:?}");
    }
    // The position moves through the history, not from 0 straight to 100 %.
    let shares: Vec<f64> = before.iter().map(|f| f.ratio).collect();
    assert!(shares.iter().any(|&r| (0.2..0.8).contains(&r)), "{name}: the bar never stood in the middle: {shares:?}");
    assert!(shares.windows(2).all(|w| w[0] <= w[1]), "{name}: {shares:?}");
    // A bar's ETA shrinks to 0 at the end.
    assert_eq!(last.eta_seconds, Some(0.0), "{name}");
}

#[tokio::test]
async fn github_bar_reaches_100_percent_exactly_when_caught_up() {
    let (items, events, dir) = simulated(30, 20.0, 7);
    let scenario = siloscope_testkit::github::Scenario::from_model(&items, &events, Some(&dir));
    let standin = GithubStandIn::start(scenario, &[GITHUB_TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = GithubConfig::for_organizations(&["sim-org"]);
    cfg.api_url = standin.url();
    cfg.graphql_url = standin.graphql_url();
    cfg.auth = GithubAuth::Token { env: None, file: Some(write_token(tmp.path(), GITHUB_TOKEN)) };
    cfg.page_size = 25;
    let mut src = GithubSource::with_transport("gh", cfg, transport(), clock(), settings());
    let mut store = open_store(tmp.path(), "a.db");
    let figures = track(&mut src, &mut store, T0 + 40 * DAY).await;
    assert_full_bar_exactly_when_caught_up("github", &figures);
}

#[tokio::test]
async fn gitlab_bar_reaches_100_percent_exactly_when_caught_up() {
    let (items, events, dir) = simulated(30, 20.0, 7);
    let scenario = siloscope_testkit::gitlab::Scenario::from_model("sim-org", &items, &events, Some(&dir));
    let token = "glpat-standinTOKEN0123456789";
    let standin = GitlabStandIn::start(scenario, &[token]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = GitlabConfig::for_groups(&["sim-org"]);
    cfg.url = standin.url();
    cfg.token_env = None;
    cfg.token_file = Some(write_token(tmp.path(), token));
    cfg.page_size = 25;
    let mut src = GitlabSource::with_transport("gl", cfg, transport(), clock(), settings());
    let mut store = open_store(tmp.path(), "a.db");
    let figures = track(&mut src, &mut store, T0 + 40 * DAY).await;
    assert_full_bar_exactly_when_caught_up("gitlab", &figures);
}

#[tokio::test]
async fn jira_bar_reaches_100_percent_exactly_when_caught_up() {
    let (items, events, _) = simulated(30, 20.0, 7);
    for flavor in [Flavor::Cloud, Flavor::DataCenter] {
        let standin = jira_common::start(JiraScenario::from_model(&items, &events), flavor).await;
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = jira_common::config(&standin, flavor, write_token(tmp.path(), jira_common::TOKEN));
        cfg.page_size = 5;
        let mut src = jira_common::source(cfg, clock());
        let mut store = open_store(tmp.path(), "a.db");
        let figures = track(&mut src, &mut store, T0 + 40 * DAY).await;
        assert_full_bar_exactly_when_caught_up(&format!("jira {flavor:?}"), &figures);
    }
}

#[tokio::test]
async fn simulator_bar_reaches_100_percent_exactly_when_caught_up() {
    let cfg = siloscope::sources::simulator::SimulatorConfig {
        teams: 2,
        people_per_team: 3,
        history_days: 20,
        start: Some(T0),
        ..Default::default()
    };
    let mut sim = siloscope::sources::simulator::Simulator::new("sim", cfg);
    let tmp = tempfile::tempdir().unwrap();
    let mut store = open_store(tmp.path(), "a.db");
    let figures = track(&mut sim, &mut store, T0 + 20 * DAY).await;
    assert_full_bar_exactly_when_caught_up("simulator", &figures);
}

/// `key=value` fields of a progress log line.
fn fields(line: &str) -> std::collections::BTreeMap<String, String> {
    line.split_whitespace().filter_map(|w| w.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn sync_once_off_a_terminal_logs_progress_lines_with_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let cfg = dir.path().join("c.toml");
    let body = format!(
        "[store]\npath = {:?}\n\n[[sources]]\nname = \"sim\"\nkind = \"simulator\"\nteams = 2\npeople_per_team = 3\nhistory_days = 12\n",
        store.display().to_string()
    );
    std::fs::write(&cfg, body).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["sync", "--once", "--progress-interval", "0s", "--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("progress=")).collect();
    assert!(lines.len() >= 5, "one progress line per step:\n{err}");
    let mut last_percent = -1.0;
    for line in &lines {
        let f = fields(line);
        for key in
            ["progress", "reached", "until", "items_per_s", "events_per_s", "requests", "rate_limit_remaining", "eta"]
        {
            assert!(f.contains_key(key), "{key} missing in {line}");
        }
        assert!(line.contains("sim"), "the source is named: {line}");
        let percent: f64 = f["progress"].trim_end_matches('%').parse().unwrap();
        assert!(percent >= last_percent, "{line}");
        last_percent = percent;
        let requests: u64 = f["requests"].parse().unwrap();
        assert!(requests >= 1, "the simulator counts a request per step: {line}");
        let remaining: i64 = f["rate_limit_remaining"].parse().unwrap();
        assert!(remaining > 0, "{line}");
    }
    let (last, before) = lines.split_last().unwrap();
    assert!(last.contains("progress=100.0%") && last.contains("eta=0s"), "{last}");
    assert!(before.iter().all(|l| !l.contains("progress=100.0%")), "100 % only when caught up:\n{err}");
    assert!(before.iter().any(|l| l.contains("eta=") && !l.contains("eta=-")), "an ETA while syncing:\n{err}");
    let caught_up = String::from_utf8_lossy(&out.stdout);
    assert!(caught_up.contains("sim: caught up"), "{caught_up}");
}
