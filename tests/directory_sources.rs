//! `teams suggest` on data synced from the GitHub and Jira Data Center stand-ins (not the
//! simulator's snapshot): a person whose Jira account name differs from their GitHub login is
//! tied to them by the e-mail both show (the git author's address on their commits, Jira's
//! `emailAddress`), which only the profiles the sources record while syncing can tell.

#[path = "source_common/mod.rs"]
mod source_common;

use source_common::*;

use siloscope::model::{EventKind, ItemKind};
use siloscope::sources::jira::Flavor;
use siloscope_testkit::github::{GithubStandIn, NodeKind, Scenario as GhScenario};
use siloscope_testkit::jira::{Auxiliary, JiraScenario, JiraStandIn, StandInSettings};

const GH_TOKEN: &str = "ghp_splitSTANDINtoken0123456789abcdef";
const JIRA_TOKEN: &str = "NjE2splitSTANDINjiraPAT0123456789";

fn siloscope(args: Vec<String>) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_siloscope")).args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_split_across_github_and_jira_is_found_by_their_e_mail() {
    let (items, mut events, dir) = simulated(10, 6.0, 11);
    // Someone who commits on GitHub and acts on Jira tickets.
    let ticket = |key: &str| items.iter().any(|i| i.key == key && i.kind == ItemKind::Ticket);
    let committers: std::collections::BTreeSet<String> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Committed { .. }))
        .filter_map(|e| e.actor.clone())
        .collect();
    let person = events
        .iter()
        .filter(|e| ticket(&e.item))
        .filter_map(|e| e.actor.clone())
        .find(|a| committers.contains(a))
        .expect("a committer acting on tickets");
    let login = person.trim_start_matches("sim:").to_string();
    // On Jira they are `<login>.jira` (shown with the address <login>.jira@example.com).
    let jira_name = format!("{login}.jira");
    let address = format!("{jira_name}@example.com");
    let mut renamed = 0;
    for e in events.iter_mut().filter(|e| items.iter().any(|i| i.key == e.item && i.kind == ItemKind::Ticket)) {
        if e.actor.as_deref() == Some(person.as_str()) {
            e.actor = Some(format!("sim:{jira_name}"));
            renamed += 1;
        }
        if let EventKind::Assigned { assignee } = &mut e.kind
            && *assignee == person
        {
            *assignee = format!("sim:{jira_name}");
        }
    }
    assert!(renamed > 0);
    let mut jira_items = items.clone();
    for i in jira_items.iter_mut().filter(|i| i.kind == ItemKind::Ticket) {
        if i.author.as_deref() == Some(person.as_str()) {
            i.author = Some(format!("sim:{jira_name}"));
        }
    }
    // On GitHub their commits carry that address as the git author e-mail.
    let mut gh = GhScenario::from_model(&items, &events, Some(&dir));
    let mut commits = 0;
    for node in gh.items.iter_mut().flat_map(|i| i.timeline.iter_mut()) {
        if let NodeKind::Commit { author: Some(a), email, .. } = &mut node.kind
            && a.login == login
        {
            *email = address.clone();
            commits += 1;
        }
    }
    assert!(commits > 0);
    let github = GithubStandIn::start(gh, &[GH_TOKEN]).await.unwrap();
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
    let jira = JiraStandIn::start(JiraScenario::from_model(&jira_items, &events), jira_settings).await.unwrap();

    // The config `init` writes for the two (GitHub teams and members), synced.
    let tmp = tempfile::tempdir().unwrap();
    let gh_token = tmp.path().join("gh-token");
    let jira_token = tmp.path().join("jira-token");
    std::fs::write(&gh_token, GH_TOKEN).unwrap();
    std::fs::write(&jira_token, JIRA_TOKEN).unwrap();
    let config = tmp.path().join("siloscope.toml");
    let s = |p: &std::path::Path| p.display().to_string();
    let init: Vec<String> = [
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
        "--jira-url",
        &jira.url(),
        "--jira-flavor",
        "data_center",
        "--jira-token-file",
        &s(&jira_token),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let out = tokio::task::spawn_blocking(move || siloscope(init)).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&format!("github = \"{login}\"")), "{text}");
    let sync = vec!["sync".into(), "--once".into(), "--config".into(), s(&config)];
    let out = tokio::task::spawn_blocking(move || siloscope(sync)).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let suggest = vec!["teams".into(), "suggest".into(), "--config".into(), s(&config)];
    let out = tokio::task::spawn_blocking(move || siloscope(suggest)).await.unwrap();
    let snippet = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{snippet}\n{}", String::from_utf8_lossy(&out.stderr));
    println!("{snippet}");
    // Tied to their GitHub person by the address, and added to the entry init wrote.
    let evidence = format!("#   jira:{jira_name} ~ github:{login}: same e-mail {address}");
    let reversed = format!("#   github:{login} ~ jira:{jira_name}: same e-mail {address}");
    assert!(snippet.contains(&evidence) || snippet.contains(&reversed), "{snippet}");
    let add = format!("#   identities = [\"jira:{jira_name}\"]");
    assert!(snippet.contains(&add), "{snippet}");
    assert!(!snippet.contains(&format!("identities = [\"jira:{jira_name}\"]\nteam")), "not a new person:\n{snippet}");
}
