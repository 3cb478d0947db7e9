//! `kind = "gitlab"` sources: parsed into `GitlabConfig`, every mistake reported with its line.

use std::path::{Path, PathBuf};

use siloscope::config::Config;
use siloscope::sources::gitlab::GitlabConfig;

fn gitlab(text: &str) -> GitlabConfig {
    let c = Config::parse(text, Path::new("/etc/siloscope/siloscope.toml")).unwrap_or_else(|e| panic!("{e}"));
    let settings = &c.sources[0].settings;
    settings.get::<GitlabConfig>().unwrap_or_else(|| panic!("not a GitLab source: {settings:?}")).clone()
}

fn problems(text: &str) -> Vec<(usize, String, String)> {
    let e = Config::parse(text, Path::new("s.toml")).expect_err("invalid");
    e.problems.iter().map(|p| (p.line, p.message.clone(), p.hint.clone())).collect()
}

#[test]
fn a_gitlab_source_resolves_for_gitlab_com_and_self_managed() {
    let g = gitlab(
        "[[sources]]\nname = \"gl\"\nkind = \"gitlab\"\ntoken_env = \"GL_TOKEN\"\ngroups = [\"acme\", \"acme/payments\"]\n\
         projects = [\"partner/sdk\"]\nexclude = [\"acme/old-*\"]\nrequests_per_hour = 1200\nteams_from_groups = true\n\
         since = \"2024-01-01\"\n",
    );
    assert_eq!(g.url, "https://gitlab.com");
    assert_eq!((g.token_env.as_deref(), g.token_file.clone()), (Some("GL_TOKEN"), None));
    assert_eq!(g.groups, vec!["acme".to_string(), "acme/payments".to_string()]);
    assert_eq!(g.projects, vec!["partner/sdk".to_string()]);
    assert_eq!(g.exclude, vec!["acme/old-*".to_string()]);
    assert_eq!(
        (g.requests_per_hour, g.teams_from_groups, g.since, g.page_size),
        (Some(1200), true, Some(1_704_067_200), 100)
    );

    let own = gitlab(
        "[[sources]]\nname = \"git\"\nkind = \"gitlab\"\nurl = \"https://git.acme.io/\"\ntoken_file = \"secrets/gl\"\n\
         projects = [\"a/b/c\"]\npage_size = 50\n",
    );
    assert_eq!(own.url, "https://git.acme.io");
    assert_eq!((own.token_env, own.token_file), (None, Some(PathBuf::from("/etc/siloscope/secrets/gl"))));
    assert_eq!((own.projects, own.page_size), (vec!["a/b/c".to_string()], 50));
}

#[test]
fn gitlab_mistakes_are_reported_with_their_lines_and_fixes() {
    let p = problems(
        "[[sources]]\nname = \"a\"\nkind = \"gitlab\"\ngroups = [\"acme\"]\n\
         [[sources]]\nname = \"b\"\nkind = \"gitlab\"\ntoken_env = \"T\"\ntoken_file = \"t\"\nprojects = [\"no-slash\"]\n\
         [[sources]]\nname = \"c\"\nkind = \"gitlab\"\ntoken = \"glpat-inline_secret\"\nurl = \"ftp://x\"\nrequests_per_hour = 0\ngroup = [\"x\"]\n",
    );
    let lines: Vec<usize> = p.iter().map(|(l, _, _)| *l).collect();
    assert_eq!(lines, vec![1, 5, 10, 11, 11, 14, 15, 16, 17], "{p:#?}");
    assert!(p[0].1.contains("no credential") && p[0].2.contains("read_api"), "{p:#?}");
    assert!(p[1].1.contains("more than one credential"));
    assert!(p[2].1.contains("\"no-slash\" is not a GitLab project path"));
    assert!(p[3].1.contains("no credential") && p[4].1.contains("reads nothing"), "{p:#?}");
    assert!(
        p[5].1.contains("secret inline")
            && !p.iter().any(|x| x.1.contains("glpat-inline_secret") || x.2.contains("glpat-inline_secret"))
    );
    assert!(p[6].1.contains("must be an http(s) URL"));
    assert!(p[7].1.contains("requests_per_hour"));
    assert!(p[8].1.contains("unknown key") && p[8].2.contains("groups"));
}
