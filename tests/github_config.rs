//! `kind = "github"` sources: parsed into `GithubConfig`, every mistake reported with its line;
//! and the mistakes only GitHub can reveal, reported at the first sync with the same care.

mod github_common;

use std::path::{Path, PathBuf};

use siloscope::config::Config;
use siloscope::sources::github::{GithubAuth, GithubConfig};

fn github(text: &str) -> GithubConfig {
    let c = Config::parse(text, Path::new("/etc/siloscope/siloscope.toml")).unwrap_or_else(|e| panic!("{e}"));
    let settings = &c.sources[0].settings;
    settings.get::<GithubConfig>().unwrap_or_else(|| panic!("not a GitHub source: {settings:?}")).clone()
}

fn problems(text: &str) -> Vec<(usize, String, String)> {
    let e = Config::parse(text, Path::new("s.toml")).expect_err("invalid");
    e.problems.iter().map(|p| (p.line, p.message.clone(), p.hint.clone())).collect()
}

#[test]
fn a_github_source_resolves_with_defaults_and_enterprise_urls() {
    let g = github(
        "[decisions]\nrecord_paths = [\"adr/*.md\"]\n[[sources]]\nname = \"gh\"\nkind = \"github\"\ntoken_env = \"GH_TOKEN\"\n\
         organizations = [\"acme\"]\nrepositories = [\"partner/sdk\"]\nexclude = [\"acme/old-*\"]\nrequests_per_hour = 1200\n\
         teams_from_github = true\ncodeowners = true\nsince = \"2024-01-01\"\n",
    );
    assert_eq!(
        (g.api_url.as_str(), g.graphql_url.as_str()),
        ("https://api.github.com", "https://api.github.com/graphql")
    );
    assert_eq!(g.auth, GithubAuth::Token { env: Some("GH_TOKEN".into()), file: None });
    assert_eq!(
        (g.organizations, g.repositories, g.exclude),
        (vec!["acme".to_string()], vec!["partner/sdk".to_string()], vec!["acme/old-*".to_string()])
    );
    assert_eq!(
        (g.requests_per_hour, g.teams_from_github, g.codeowners, g.since),
        (Some(1200), true, true, Some(1_704_067_200))
    );
    assert_eq!(g.record_paths, vec!["adr/*.md".to_string()]);

    let ghes = github(
        "[[sources]]\nname = \"ghe\"\nkind = \"github\"\napi_url = \"https://ghe.acme.io/api/v3/\"\napp_id = 12\n\
         private_key_file = \"keys/app.pem\"\ninstallation_id = 34\nrepositories = [\"a/b\"]\n",
    );
    assert_eq!(
        (ghes.api_url.as_str(), ghes.graphql_url.as_str()),
        ("https://ghe.acme.io/api/v3", "https://ghe.acme.io/api/graphql")
    );
    assert_eq!(
        ghes.auth,
        GithubAuth::App {
            app_id: 12,
            private_key_file: PathBuf::from("/etc/siloscope/keys/app.pem"),
            installation_id: Some(34)
        }
    );
}

#[test]
fn github_mistakes_are_reported_with_their_lines_and_fixes() {
    let p = problems(
        "[[sources]]\nname = \"a\"\nkind = \"github\"\norganizations = [\"acme\"]\n\
         [[sources]]\nname = \"b\"\nkind = \"github\"\ntoken_env = \"T\"\ntoken_file = \"t\"\nrepositories = [\"no-slash\"]\n\
         [[sources]]\nname = \"c\"\nkind = \"github\"\ntoken = \"ghp_inline_secret\"\napi_url = \"ftp://x\"\nrequests_per_hour = 0\norganisations = [\"x\"]\n",
    );
    let lines: Vec<usize> = p.iter().map(|(l, _, _)| *l).collect();
    assert_eq!(lines, vec![1, 5, 10, 11, 11, 14, 15, 16, 17], "{p:#?}");
    assert!(p[0].1.contains("no credential") && p[0].2.contains("token_env = \"GITHUB_TOKEN\""));
    assert!(p[1].1.contains("more than one credential"));
    assert!(p[2].1.contains("\"no-slash\" is not an owner/name"));
    // An inline token is no credential, and `organisations` (misspelt) reads nothing.
    assert!(p[3].1.contains("no credential") && p[4].1.contains("reads nothing"), "{p:#?}");
    assert!(
        p[5].1.contains("secret inline")
            && !p.iter().any(|x| x.1.contains("ghp_inline_secret") || x.2.contains("ghp_inline_secret"))
    );
    assert!(p[6].1.contains("must be an http(s) URL"));
    assert!(p[7].1.contains("requests_per_hour"));
    assert!(p[8].1.contains("unknown key") && p[8].2.contains("organizations"));
}

#[tokio::test]
async fn an_organizations_entry_that_is_a_user_account_is_a_config_error_naming_the_fix() {
    use github_common::*;
    use siloscope::sources::Source;
    use siloscope_testkit::github::{GithubStandIn, Node, NodeKind, Repo, Scenario, ScenarioItem};

    // `alice` is a user with a repository of her own; `check-config` cannot know that, GitHub can.
    let mut s = Scenario { users: vec!["alice".into()], ..Scenario::default() };
    s.repos.push(Repo {
        id: "R_tool".into(),
        name: "alice/tool".into(),
        pushed_at: T0,
        archived: false,
        files: Default::default(),
    });
    s.items.push(ScenarioItem {
        id: "I_1".into(),
        repo: 0,
        number: 1,
        pull: false,
        title: "Crash on start".into(),
        body: String::new(),
        author: None,
        created_at: T0,
        updated_at: T0 + 60,
        opened_as_draft: false,
        merged_by: None,
        timeline: vec![Node { id: "L1".into(), at: T0 + 60, actor: None, kind: NodeKind::Labeled("bug".into()) }],
        malformed: false,
    });
    let standin = GithubStandIn::start(s, &[TOKEN]).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&standin, write_token(tmp.path(), TOKEN));
    cfg.organizations = vec!["alice".into()];
    let mut src = source(cfg.clone(), clock());
    let e = src.step(None, T0 + 86_400).await.expect_err("a user is no organisation");
    assert_eq!(e.kind, "config");
    assert!(e.is_config());
    for part in ["\"gh\"", "organizations entry \"alice\"", "user account", "repositories = [\"alice/<name>\"]"] {
        assert!(e.message.contains(part), "{part:?} missing from: {}", e.message);
    }
    // `sync --once` says so and exits 2, as for any other config error.
    let file = tmp.path().join("siloscope.toml");
    std::fs::write(
        &file,
        format!(
            "[store]\npath = {:?}\n\n[[sources]]\nname = \"gh\"\nkind = \"github\"\ntoken_file = {:?}\n\
             organizations = [\"alice\"]\napi_url = {:?}\ngraphql_url = {:?}\n",
            tmp.path().join("cli.db").display().to_string(),
            tmp.path().join("token").display().to_string(),
            standin.url(),
            standin.graphql_url(),
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_siloscope"))
            .args(["sync", "--once", "--config", file.to_str().unwrap()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("user account") && stderr.contains("sources failed: gh"), "{stderr}");
    // Listed under `repositories`, the same repository reads.
    cfg.organizations.clear();
    cfg.repositories = vec!["alice/tool".into()];
    let mut src = source(cfg, clock());
    let mut store = open_store(tmp.path(), "u.db");
    sync(&mut src, &mut store, T0 + 86_400).await;
    assert_eq!(dump(&store).0.len(), 1);
    // A login that is neither stays a retried "not found".
    let mut cfg = config(&standin, write_token(tmp.path(), TOKEN));
    cfg.organizations = vec!["nobody".into()];
    let e = source(cfg, clock()).step(None, T0 + 86_400).await.expect_err("not found");
    assert!(e.kind == "http" && e.message.contains("not found"), "{e}");
}
