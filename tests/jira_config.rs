//! `kind = "jira"` sources: parsed into `JiraConfig`, every mistake reported with its line.

use std::path::{Path, PathBuf};

use siloscope::config::Config;
use siloscope::model::LinkRelation;
use siloscope::sources::jira::{Flavor, JiraAuth, JiraConfig, JiraZone};

fn jira(text: &str) -> JiraConfig {
    let c = Config::parse(text, Path::new("/etc/siloscope/siloscope.toml")).unwrap_or_else(|e| panic!("{e}"));
    let settings = &c.sources[0].settings;
    settings.get::<JiraConfig>().unwrap_or_else(|| panic!("not a Jira source: {settings:?}")).clone()
}

fn problems(text: &str) -> Vec<(usize, String, String)> {
    let e = Config::parse(text, Path::new("s.toml")).expect_err("invalid");
    e.problems.iter().map(|p| (p.line, p.message.clone(), p.hint.clone())).collect()
}

#[test]
fn cloud_and_data_center_sources_resolve() {
    let cloud = jira(
        "[[sources]]\nname = \"jira\"\nkind = \"jira\"\nurl = \"https://acme.atlassian.net/\"\nemail = \"me@acme.io\"\n\
         token_env = \"JIRA_TOKEN\"\nprojects = [\"PAY\", \"OPS\"]\njql = \"issuetype != Sub-task\"\n\
         team_field = \"Team\"\nsuperseded_by_links = [\"Is Replaced By\"]\nutc_offset = \"-05:00\"\n\
         requests_per_hour = 3000\nsince = \"2024-01-01\"\n",
    );
    assert_eq!((cloud.base_url.as_str(), cloud.flavor), ("https://acme.atlassian.net", Flavor::Cloud));
    assert_eq!(
        cloud.auth,
        JiraAuth { email: Some("me@acme.io".into()), token_env: Some("JIRA_TOKEN".into()), token_file: None }
    );
    assert_eq!(cloud.projects, vec!["PAY".to_string(), "OPS".to_string()]);
    assert_eq!(cloud.jql.as_deref(), Some("issuetype != Sub-task"));
    assert_eq!(cloud.team_field.as_deref(), Some("Team"));
    assert_eq!(cloud.links.relation("is replaced by"), Some(LinkRelation::SupersededBy));
    assert_eq!(cloud.links.relation("is superseded by"), None, "the configured names replace the default");
    assert_eq!(
        (cloud.time_zone, cloud.requests_per_hour, cloud.since),
        (Some(JiraZone::Offset(-300)), Some(3000), Some(1_704_067_200))
    );

    let dc = jira(
        "[[sources]]\nname = \"jira-dc\"\nkind = \"jira\"\nurl = \"https://jira.acme.io\"\ntoken_file = \"secrets/jira\"\n\
         projects = [\"PAY\"]\n",
    );
    assert_eq!(dc.flavor, Flavor::DataCenter, "a host outside atlassian.net is Data Center");
    assert_eq!(dc.auth.token_file, Some(PathBuf::from("/etc/siloscope/secrets/jira")));
    assert_eq!(dc.time_zone, None, "read from /myself");
}

#[test]
fn time_zone_names_an_iana_zone_and_overrides_myself() {
    let base = "[[sources]]\nname = \"jira\"\nkind = \"jira\"\nurl = \"https://jira.acme.io\"\ntoken_env = \"T\"\nprojects = [\"PAY\"]\n";
    let j = jira(&format!("{base}time_zone = \"Europe/Berlin\"\n"));
    assert_eq!(j.time_zone, Some(JiraZone::Named(chrono_tz::Europe::Berlin)));
    let p = problems(&format!("{base}time_zone = \"Europe/Berln\"\n"));
    assert_eq!(
        p,
        vec![(
            7,
            "`sources.time_zone` is not a time zone: \"Europe/Berln\"".into(),
            "did you mean `Europe/Berlin`?".into()
        )]
    );
    let p = problems(&format!("{base}time_zone = \"Central European\"\n"));
    assert_eq!(p.len(), 1);
    assert!(p[0].2.contains("time_zone = \"Europe/Berlin\"") && p[0].2.contains("/myself"), "{p:?}");
    let p = problems(&format!("{base}time_zone = \"Europe/Berlin\"\nutc_offset = \"+01:00\"\n"));
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].0, p[0].1.as_str()), (8, "this Jira source sets both `time_zone` and `utc_offset`"));
}

#[test]
fn every_jira_mistake_is_reported_on_its_line() {
    let p = problems(
        "[[sources]]\nname = \"j\"\nkind = \"jira\"\nurl = \"acme.atlassian.net\"\nflavor = \"cloudy\"\n\
         projects = [\"pay-1\"]\njql = \"project = PAY ORDER BY created\"\nutc_offset = \"CET\"\n\
         [[sources]]\nname = \"k\"\nkind = \"jira\"\nurl = \"https://acme.atlassian.net\"\ntoken_env = \"T\"\n",
    );
    let lines: Vec<(usize, &str)> = p.iter().map(|(l, m, _)| (*l, m.as_str())).collect();
    assert!(lines.contains(&(4, "`sources.url` must be an http(s) URL, found \"acme.atlassian.net\"")), "{p:#?}");
    assert!(lines.contains(&(5, "`sources.flavor` must be \"cloud\" or \"data_center\", found \"cloudy\"")), "{p:#?}");
    assert!(lines.contains(&(6, "\"pay-1\" is not a Jira project key")), "{p:#?}");
    assert!(lines.contains(&(7, "`sources.jql` has an ORDER BY")), "{p:#?}");
    assert!(lines.iter().any(|(l, m)| *l == 8 && m.starts_with("`sources.utc_offset` is not a UTC offset")), "{p:#?}");
    assert!(lines.iter().any(|(_, m)| *m == "this Jira source has no credential"), "{p:#?}");
    // The second source: Cloud without the account e-mail, and nothing to read.
    assert!(lines.iter().any(|(l, m)| *l == 9 && *m == "this Jira Cloud source has no `email`"), "{p:#?}");
    assert!(lines.iter().any(|(l, m)| *l == 9 && *m == "this Jira source reads nothing"), "{p:#?}");
}

#[test]
fn the_example_configs_jira_block_uncommented_is_valid() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/siloscope.example.toml")).unwrap();
    let start = text.find("# A Jira source").expect("a Jira block in the example");
    let block: String = text[start..]
        .lines()
        .skip_while(|l| *l != "# [[sources]]")
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or("")))
        .collect();
    let j = jira(&block);
    assert_eq!((j.base_url.as_str(), j.flavor, j.time_zone), ("https://acme.atlassian.net", Flavor::Cloud, None));
    let j = jira(&block.replace("# time_zone", "time_zone"));
    assert_eq!(j.time_zone, Some(JiraZone::Named(chrono_tz::Europe::Berlin)));
}
