//! Identity profiles read off the recorded real payloads ($SILOSCOPE_REALDATA): which names and
//! e-mails GitHub, GitLab and Jira really show (Jira Cloud hides e-mails, GitHub's REST user may
//! show one, a git author always has one), keyed by the identities the parsers give the events.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};
use siloscope::model::IdentityProfile;
use siloscope::sources::jira::parse::{Flavor, IssueContext, LinkNames};
use siloscope::sources::profiles::extract;
use siloscope::sources::{github, gitlab, jira};

fn realdata(path: &str) -> Value {
    let dir = std::env::var("SILOSCOPE_REALDATA")
        .unwrap_or_else(|_| format!("{}/../shared/realdata", env!("CARGO_MANIFEST_DIR")));
    let text = std::fs::read_to_string(format!("{dir}/{path}"))
        .unwrap_or_else(|e| panic!("realdata {path} missing in {dir}: {e}; set SILOSCOPE_REALDATA"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// (display name, e-mails, username).
type Facts = (Option<String>, Vec<String>, Option<String>);

/// identity → its facts, merged over every profile of the answer.
fn by_identity(profiles: &[IdentityProfile]) -> BTreeMap<String, Facts> {
    let mut merged = Vec::new();
    siloscope::sources::profiles::merge(&mut merged, profiles);
    merged.into_iter().map(|p| (p.identity, (p.display_name, p.emails, p.username))).collect()
}

#[test]
fn github_commit_authors_and_a_rest_user_give_names_and_e_mails() {
    // REST pull-request commits: the git author's name and e-mail, the account in `author`.
    let commits = realdata("perceval/github/github_request_pull_request_1_commits");
    let got = by_identity(&extract(&github::profiles::Shapes, &commits));
    assert_eq!(
        got,
        BTreeMap::from([(
            "github:jgbarah".to_string(),
            (Some("Jesus M. Gonzalez-Barahona".to_string()), vec!["jgb@gsyc.es".to_string()], None)
        )])
    );
    // The same commit as GraphQL's PullRequestCommit gives it (what the source asks), linked and
    // not linked to an account.
    let c = &commits[0]["commit"];
    let graphql = |user: Value| {
        json!({"data": {"node": {"commits": {"nodes": [{"commit": {"oid": commits[0]["sha"],
            "author": {"name": c["author"]["name"], "email": c["author"]["email"], "user": user}}}]}}}})
    };
    let linked =
        by_identity(&extract(&github::profiles::Shapes, &graphql(json!({"__typename": "User", "login": "jgbarah"}))));
    assert_eq!(linked, got);
    let unlinked = by_identity(&extract(&github::profiles::Shapes, &graphql(Value::Null)));
    assert_eq!(unlinked.keys().collect::<Vec<_>>(), vec!["email:jgb@gsyc.es"]);
    // REST users/<login>: name and public e-mail.
    let user = by_identity(&extract(&github::profiles::Shapes, &realdata("perceval/github/github_login")));
    assert_eq!(
        user["github:zhquan_example"],
        (Some("zhquan_example".to_string()), vec!["zhquan_example@zhquan_example.com".to_string()], None)
    );
    // Issue and comment `user` objects carry no profile fields: nothing from them.
    assert!(extract(&github::profiles::Shapes, &realdata("perceval/github/github_issue_comments_1")).is_empty());
}

#[test]
fn gitlab_user_objects_give_display_names_without_e_mails() {
    let mr = realdata("perceval/gitlab/merge_1");
    let got = by_identity(&extract(&gitlab::profiles::Shapes, &mr));
    assert_eq!(got["gitlab:redfish64"], (Some("Timothy Engler".to_string()), vec![], None));
    assert_eq!(
        got.get(&siloscope::sources::gitlab::parse::user(&mr["author"]).unwrap()).map(|p| p.0.clone()),
        Some(Some("Timothy Engler".to_string())),
        "keyed like the parser's actors"
    );
    // Notes: their authors, and no e-mail anywhere (GitLab shows `public_email` only on /users).
    let notes = by_identity(&extract(&gitlab::profiles::Shapes, &realdata("perceval/gitlab/notes_1")));
    assert!(!notes.is_empty());
    assert!(notes.values().all(|(n, e, _)| n.is_some() && e.is_empty()), "{notes:?}");
    // Commits: the git author's e-mail identity with its name.
    let commits = by_identity(&extract(&gitlab::profiles::Shapes, &realdata("perceval/gitlab/commits_1")));
    let (name, emails, _) = &commits["email:aelmahmoudy@sabily.org"];
    assert!(name.as_deref().is_some_and(|n| n.contains("Ahmed El-Mahmoudy")), "{name:?}");
    assert_eq!(emails, &vec!["aelmahmoudy@sabily.org".to_string()]);
}

/// Every actor of the parsed events has a profile under the same identity: display names, no
/// e-mail (these Cloud and Data Center answers hide or lack `emailAddress`).
fn jira_profiles_cover_the_actors(data: &Value, comments: Option<&[Value]>, flavor: Flavor) -> usize {
    let statuses = HashMap::new();
    let links = LinkNames::default();
    let done = siloscope::sources::jira::parse::default_completed_resolutions();
    let ctx = IssueContext {
        source: "jira",
        flavor,
        web_base: "https://jira.test",
        team_field: None,
        links: &links,
        status_categories: &statuses,
        completed_resolutions: &done,
    };
    let (_, events) = siloscope::sources::jira::parse::issue(data, comments, &ctx).unwrap();
    let mut profiles = extract(&jira::profiles::Shapes(flavor), data);
    if let Some(c) = comments {
        profiles.extend(extract(&jira::profiles::Shapes(flavor), &Value::Array(c.to_vec())));
    }
    let got = by_identity(&profiles);
    let actors: BTreeSet<&String> = events.iter().filter_map(|e| e.actor.as_ref()).collect();
    assert!(!actors.is_empty());
    for a in &actors {
        let (name, emails, username) = got.get(*a).unwrap_or_else(|| panic!("no profile for {a}: {got:?}"));
        assert!(name.is_some(), "{a}");
        assert!(emails.is_empty(), "{a}: {emails:?}");
        match flavor {
            Flavor::Cloud => assert_eq!(username, &None, "a Cloud `name` is no username"),
            Flavor::DataCenter => {
                assert_eq!(username.as_deref(), Some(a.trim_start_matches("jira:").to_lowercase().as_str()))
            }
        }
    }
    actors.len()
}

#[test]
fn jira_cloud_and_data_center_users_give_display_names_and_no_hidden_e_mail() {
    let items = realdata("grimoirelab-elk/jira.json");
    let contrib = &items[4]["data"];
    assert_eq!(contrib["key"], "CONTRIB-11");
    let comments = contrib["comments_data"].as_array().unwrap();
    assert!(jira_profiles_cover_the_actors(contrib, Some(comments), Flavor::Cloud) >= 2);
    let got = by_identity(&extract(&jira::profiles::Shapes(Flavor::Cloud), contrib));
    assert!(got.values().all(|(_, e, _)| e.is_empty()), "Cloud shows no e-mail here");

    // Data Center (jira.fiware.org, API v2): users named by `name`, which is also their username.
    let page = realdata("perceval/jira/jira_issues_page_1.json");
    for issue in page["issues"].as_array().unwrap() {
        jira_profiles_cover_the_actors(issue, None, Flavor::DataCenter);
    }
}
