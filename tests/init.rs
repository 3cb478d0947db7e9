//! `siloscope init` against the GitHub, GitLab and Jira stand-ins serving one simulated
//! organisation: the config it writes names the discovered teams, members, Jira projects and
//! team-field values, passes `check-config`, and syncs every source.

#[path = "source_common/mod.rs"]
mod source_common;

use source_common::*;

use siloscope::sources::jira::Flavor;
use siloscope_testkit::github::{GithubStandIn, Scenario as GhScenario};
use siloscope_testkit::gitlab::{GitlabStandIn, Scenario as GlScenario};
use siloscope_testkit::jira::{Auxiliary, JiraScenario, JiraStandIn, StandInSettings};

const GH_TOKEN: &str = "ghp_initSTANDINtoken0123456789abcdef";
const GL_TOKEN: &str = "glpat-initSTANDINtoken0123";
const JIRA_TOKEN: &str = "NjE2initSTANDINjiraPAT0123456789";

fn siloscope(args: Vec<String>) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_siloscope")).args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_discovers_the_three_stand_ins_and_writes_a_config_that_syncs() {
    let (items, events, dir) = simulated(10, 6.0, 5);
    let github = GithubStandIn::start(GhScenario::from_model(&items, &events, Some(&dir)), &[GH_TOKEN]).await.unwrap();
    let gitlab = GitlabStandIn::start(GlScenario::from_model("sim-org", &items, &events, Some(&dir)), &[GL_TOKEN])
        .await
        .unwrap();
    let jira_settings = StandInSettings {
        flavor: Flavor::DataCenter,
        email: String::new(),
        token: JIRA_TOKEN.into(),
        time_zone: chrono_tz::Europe::Berlin,
        myself: Auxiliary::Serve,
        status_list: Auxiliary::Serve,
        embedded_histories: 100,
        embedded_comments: 20,
    };
    let jira = JiraStandIn::start(JiraScenario::from_model(&items, &events), jira_settings).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let gh_token = tmp.path().join("gh-token");
    let gl_token = tmp.path().join("gl-token");
    let jira_token = tmp.path().join("jira-token");
    for (path, token) in [(&gh_token, GH_TOKEN), (&gl_token, GL_TOKEN), (&jira_token, JIRA_TOKEN)] {
        std::fs::write(path, token).unwrap();
    }
    let config = tmp.path().join("siloscope.toml");
    let s = |p: &std::path::Path| p.display().to_string();
    let args: Vec<String> = [
        "init",
        "--out",
        &s(&config),
        "--store",
        &s(&tmp.path().join("store.db")),
        "--github-org",
        "sim-org",
        "--github-api-url",
        &github.url(),
        "--github-graphql-url",
        &github.graphql_url(),
        "--github-token-file",
        &s(&gh_token),
        "--gitlab-group",
        "sim-org",
        "--gitlab-url",
        &gitlab.url(),
        "--gitlab-token-file",
        &s(&gl_token),
        "--jira-url",
        &jira.url(),
        "--jira-flavor",
        "data_center",
        "--jira-token-file",
        &s(&jira_token),
        "--jira-team-field",
        "customfield_10400",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let init_args = args.clone();
    let out = tokio::task::spawn_blocking(move || siloscope(init_args)).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("discovery failed"), "{stderr}");
    let text = std::fs::read_to_string(&config).unwrap();
    println!("{text}");
    for secret in [GH_TOKEN, GL_TOKEN, JIRA_TOKEN] {
        assert!(!text.contains(secret) && !stdout.contains(secret) && !stderr.contains(secret));
    }
    // Every team of the organisation, with its GitHub and GitLab handles, and every member.
    for t in &dir.teams {
        assert!(text.contains(&format!("[[teams]]\nname = \"{}\"", t.name)), "team {}:\n{text}", t.name);
        for h in &t.handles {
            assert!(text.contains(&format!("\"{h}\"")), "handle {h}");
        }
    }
    for p in dir.people.iter().filter(|p| !p.bot) {
        let login = p.identities[0].trim_start_matches("sim:");
        assert!(text.contains(&format!("github = \"{login}\"")), "{login} on GitHub:\n{text}");
        assert!(text.contains(&format!("gitlab = \"{login}\"")), "{login} on GitLab:\n{text}");
    }
    // Jira: the projects read and the team field's values, each resolving to a team.
    assert!(text.contains("projects = ["), "{text}");
    assert!(text.contains("team_field = \"customfield_10400\""), "{text}");
    assert!(text.contains("→ team "), "team-field values listed:\n{text}");
    assert!(!text.contains("names no team above"), "{text}");

    // check-config passes, and the config syncs every source.
    let check = siloscope(vec!["check-config".into(), "--config".into(), s(&config)]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let sync_args = vec!["sync".into(), "--once".into(), "--config".into(), s(&config)];
    let sync = tokio::task::spawn_blocking(move || siloscope(sync_args)).await.unwrap();
    let sync_out = String::from_utf8_lossy(&sync.stdout).to_string();
    assert!(sync.status.success(), "{sync_out}\n{}", String::from_utf8_lossy(&sync.stderr));
    for source in ["github", "gitlab", "jira"] {
        assert!(sync_out.contains(&format!("{source}: caught up")), "{sync_out}");
    }
    // Written once: a second init refuses to overwrite it.
    let again = tokio::task::spawn_blocking(move || siloscope(args)).await.unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
}

/// Jira discovery reads every page (not only the first): a team whose value of the team field
/// is only on later issues is listed, and every issue read is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_discovery_takes_the_team_field_values_of_every_issue_read() {
    use siloscope_testkit::jira::JiraIssue;
    let mut scenario = JiraScenario::default();
    let n = siloscope::sources::jira::DEFAULT_PAGE_SIZE as u64 * 2 + 7;
    for i in 0..n {
        let mut issue = JiraIssue::new("PAY", i + 1, T0 + i as i64 * 3600, "alice", "To Do");
        // The first pages' issues are the early team's; the last ones the late team's.
        issue.initial_team = Some(if i + 5 < n { "Early Team" } else { "Late Team" }.into());
        scenario.issues.push(issue);
    }
    let settings = StandInSettings {
        flavor: Flavor::DataCenter,
        email: String::new(),
        token: JIRA_TOKEN.into(),
        time_zone: chrono_tz::Europe::Berlin,
        myself: Auxiliary::Serve,
        status_list: Auxiliary::Serve,
        embedded_histories: 100,
        embedded_comments: 20,
    };
    let jira = JiraStandIn::start(scenario, settings).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let token = tmp.path().join("jira-token");
    std::fs::write(&token, JIRA_TOKEN).unwrap();
    let opts = siloscope::init::InitOptions {
        store: None,
        github: None,
        gitlab: None,
        jira: Some(siloscope::init::JiraInit {
            url: jira.url(),
            flavor: Some(Flavor::DataCenter),
            email: None,
            token: siloscope::init::TokenRef::File(token),
            projects: Vec::new(),
            team_field: Some("customfield_10400".into()),
        }),
    };
    let now = T0 + n as i64 * 3600 + 86_400;
    let d = siloscope::init::discover(&opts, now, std::sync::Arc::new(siloscope::sources::http::SystemClock)).await;
    assert!(d.failures.is_empty(), "{:?}", d.failures);
    assert_eq!(d.jira_issues_read, n);
    assert_eq!(
        d.jira_team_values.into_iter().collect::<Vec<_>>(),
        vec![("Early Team".to_string(), n - 5), ("Late Team".to_string(), 5)]
    );
}
