//! Fuzz targets (issue 17, "Also build"): the config loader, the web config, each source's
//! payload parsers (GitHub REST and GraphQL, GitLab, Jira) and the report's period parser, fed
//! mutants of real payloads from $SILOSCOPE_REALDATA. A few seconds per target here (CI);
//! `fuzz/run-long` runs them for hours. Findings go to target/fuzz-findings/<target>/; an input
//! fixed for good is kept in tests/fuzz_regressions/<target>/ and replayed on every run.

mod fuzz_engine;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fuzz_engine::{Rng, assert_clean, mutate_bytes, mutate_json, run};
use serde_json::Value;
use siloscope::model::{ItemKind, StatusCategory};

fn realdata_dir() -> PathBuf {
    std::env::var_os("SILOSCOPE_REALDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata"))
}

/// Every JSON file under `realdata/<sub>`, parsed (a missing directory is an error: the seeds
/// are the point).
fn json_files(sub: &str) -> Vec<Value> {
    let dir = realdata_dir().join(sub);
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("realdata {} missing (set SILOSCOPE_REALDATA): {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if let Ok(text) = std::fs::read_to_string(&p)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
        {
            out.push(v);
        }
    }
    out
}

/// Objects and arrays within `v` (itself included) for which `keep` holds, up to `depth` levels
/// down; Perceval's and GrimoireLab's wrappers (`data`, `issues`, lists) are looked through.
fn collect(v: &Value, depth: usize, keep: &dyn Fn(&Value) -> bool, out: &mut Vec<Value>) {
    if out.len() >= 400 {
        return;
    }
    if keep(v) {
        out.push(v.clone());
    }
    if depth == 0 {
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect(x, depth - 1, keep, out)),
        Value::Object(o) => o.values().for_each(|x| collect(x, depth - 1, keep, out)),
        _ => {}
    }
}

fn seeds(files: &[Value], keep: &dyn Fn(&Value) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    for f in files {
        collect(f, 6, keep, &mut out);
    }
    assert!(!out.is_empty(), "no seeds in the recorded payloads");
    out
}

fn regressions(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions").join(target);
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.filter_map(|e| e.ok()).filter_map(|e| std::fs::read(e.path()).ok()).collect()
}

fn json_regressions(target: &str) -> Vec<Value> {
    regressions(target).iter().filter_map(|b| serde_json::from_slice(b).ok()).collect()
}

fn text_regressions(target: &str) -> Vec<String> {
    regressions(target).iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()
}

fn fuzz_json(target: &str, seeds: Vec<Value>, check: impl Fn(&Value) -> Result<(), String>) {
    let donors = seeds.clone();
    let report = run(
        target,
        &seeds,
        json_regressions(target),
        |v| serde_json::to_vec_pretty(v).unwrap_or_default(),
        |v, rng: &mut Rng| {
            let mut m = v.clone();
            mutate_json(&mut m, rng, &donors);
            // A body of more than a few MB is another issue's bound (item 1); keep inputs small.
            if serde_json::to_vec(&m).map_or(0, |b| b.len()) > 4 << 20 { v.clone() } else { m }
        },
        check,
    );
    assert_clean(&report);
}

fn fuzz_text(target: &str, seeds: Vec<String>, dictionary: &[&str], check: impl Fn(&String) -> Result<(), String>) {
    let report = run(
        target,
        &seeds,
        text_regressions(target),
        |s| s.as_bytes().to_vec(),
        |s, rng: &mut Rng| {
            let mut b = s.as_bytes().to_vec();
            mutate_bytes(&mut b, rng, dictionary);
            String::from_utf8_lossy(&b).into_owned()
        },
        check,
    );
    assert_clean(&report);
}

/// A canary token planted in seeds: no error message may ever show it.
const CANARY: &str = "ghp_FUZZcanary0token9x8y7z6w";

fn no_canary(text: &str) -> Result<(), String> {
    if text.contains(CANARY) || text.contains("Hunt3rFuzz2pw9") {
        Err(format!("a secret is echoed: {}", text.chars().take(400).collect::<String>()))
    } else {
        Ok(())
    }
}

#[test]
fn fuzz_config_loader() {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/siloscope.example.toml"))
        .expect("the example config");
    let seeds = vec![
        example,
        String::new(),
        "[[sources]]\nname = \"demo\"\nkind = \"simulator\"\nteams = 3\nhistory_days = 30\nitems_per_day = 20.0\n"
            .into(),
        format!(
            "[[sources]]\nname = \"gh\"\nkind = \"github\"\norganizations = [\"acme\"]\ntoken_env = \"{CANARY}\"\n\
             [[sources]]\nname = \"gl\"\nkind = \"gitlab\"\nurl = \"https://me:Hunt3rFuzz2pw9@gitlab.example.com\"\ngroups = [\"g\"]\ntoken_env = \"GITLAB_TOKEN\"\n"
        ),
        format!(
            "[store]\nurl = \"postgres://u:Hunt3rFuzz2pw9@db/s\"\n[[teams]]\nname = \"{CANARY}\"\n[signals]\nwindows = [\"7d\", \"90d\"]\nstall_after = \"2d\"\n"
        ),
    ];
    let dictionary = [
        "[[sources]]\n",
        "[[teams]]\n",
        "[[people]]\n",
        "[signals]\n",
        "[store]\n",
        "[ownership]\n",
        "[decisions]\n",
        "kind = \"jira\"\n",
        "kind = \"github\"\n",
        "kind = \"gitlab\"\n",
        "kind = \"simulator\"\n",
        "name = \"x\"\n",
        "teams = 4294967295\n",
        "interval = \"99999999999999d\"\n",
        "windows = [\"1s\"]\n",
        "url = \"http://a:b@c\"\n",
        "token_env = \"",
        "password_env = \"",
        "\"",
        "=",
        "[",
        "]",
        "{",
        "}",
        ",",
        "\n",
        "'''",
        "\"\"\"",
        "1e400",
        "-9223372036854775808",
        "2026-13-45",
        "utc_offset = \"+99:99\"\n",
        "calendar = { days = \"Mon-Sun\" }\n",
    ];
    fuzz_text("config", seeds, &dictionary, |text| {
        match siloscope::config::Config::parse(text, Path::new("fuzz.toml")) {
            Ok(_) => Ok(()),
            Err(e) => no_canary(&e.to_string()),
        }
    });
}

#[test]
fn fuzz_web_config() {
    let hash = "$2y$10$QmKQ2OHnZcF5yYz5sDR1Ru3nXyRgTB4FL1b2U.pdq1wC7S3BCvnKe";
    let seeds = vec![
        String::new(),
        format!("basic_auth_users:\n  prometheus: '{hash}'\n"),
        "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  min_version: TLS12\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n".into(),
        "http_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n".into(),
    ];
    let dictionary = [
        "basic_auth_users:",
        "tls_server_config:",
        "http_server_config:",
        "\n  ",
        ": ",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "'",
        "&a ",
        "*a",
        "!!binary ",
        "---\n",
        "~",
        hash,
    ];
    fuzz_text("web_config", seeds, &dictionary, |text| {
        match siloscope::webconfig::parse(text, Path::new("/nonexistent/siloscope-fuzz/web.yml")) {
            Ok(_) => Ok(()),
            Err(e) if e.contains("QmKQ2OHnZcF5yYz5sDR1Ru3nXyRgTB4FL1b2U") => Err(format!("echoes the hash: {e}")),
            Err(e) if e.len() > 2000 => Err(format!("a {} byte error", e.len())),
            Err(_) => Ok(()),
        }
    });
}

#[test]
fn fuzz_github_rest() {
    use siloscope::sources::github::parse;
    let mut files = json_files("perceval/github");
    files.extend(json_files("grimoirelab-elk").into_iter().filter(|v| v.to_string().contains("\"GitHub\"")));
    let seeds = seeds(&files, &|v| {
        v.get("number").is_some()
            || v.as_array().is_some_and(|a| a.iter().any(|x| x.get("user").is_some() || x.get("commit").is_some()))
    });
    fuzz_json("github_rest", seeds, |v| {
        let _ = parse::rest_item(v, "gh");
        let _ = parse::rest_comments(v, "github:a/b#1");
        let _ = parse::rest_reviews(v, "github:a/b#1");
        let _ = parse::rest_commits(v, "github:a/b#1");
        if let Some(body) = v.get("body").and_then(Value::as_str) {
            let _ = parse::text_links(body, "a/b");
            let _ = parse::co_authors(body);
            let _ = siloscope::sources::text::team_mentions(body);
            let _ = parse::reverted_target(body, "a/b");
        }
        Ok(())
    });
}

#[test]
fn fuzz_github_graphql() {
    use siloscope::sources::github::parse::{self, ItemContext, TimelineContext};
    let mut files = json_files("perceval/github");
    files.extend(json_files("grimoirelab-elk").into_iter().filter(|v| v.to_string().contains("GitHubQL")));
    let seeds = seeds(&files, &|v| {
        v.get("timelineItems").is_some()
            || v.get("__typename").is_some()
            || v.as_array()
                .is_some_and(|a| a.iter().any(|x| x.get("__typename").is_some() || x.get("createdAt").is_some()))
    });
    fuzz_json("github_graphql", seeds, |v| {
        let ctx = ItemContext { source: "gh", key_scope: "a/b" };
        let _ = parse::graphql_item(v, &ctx);
        let nodes: Vec<Value> = match v {
            Value::Array(a) => a.clone(),
            other => other.pointer("/timelineItems/nodes").and_then(Value::as_array).cloned().unwrap_or_default(),
        };
        for kind in [ItemKind::Issue, ItemKind::PullRequest] {
            let t = TimelineContext { key: "github:a/b#1", scope: "a/b", kind, merged_at: Some(1_600_000_000) };
            let _ = parse::timeline_events(&nodes, &t);
        }
        Ok(())
    });
}

#[test]
fn fuzz_gitlab() {
    use siloscope::sources::gitlab::parse;
    let mut files = json_files("perceval/gitlab");
    files.extend(json_files("grimoirelab-elk").into_iter().filter(|v| v.to_string().contains("\"GitLab\"")));
    let seeds = seeds(&files, &|v| {
        v.get("iid").is_some()
            || v.as_array()
                .is_some_and(|a| a.iter().any(|x| x.get("body").is_some() || x.get("noteable_type").is_some()))
    });
    fuzz_json("gitlab", seeds, |v| {
        let list: Vec<Value> = v.as_array().cloned().unwrap_or_default();
        for kind in [ItemKind::Issue, ItemKind::MergeRequest] {
            if let Ok((item, opened)) = parse::parse_item("gl", kind, v, None) {
                let notes = v.get("notes").and_then(Value::as_array).cloned().unwrap_or_default();
                let _ = parse::inconsistency(&item, v, std::slice::from_ref(&opened));
                let _ = parse::item_events(&item, opened, v, &notes, &notes, &notes);
            }
            let _ = parse::note_events("gitlab:g/p!1", kind, "g/p", &list);
            let _ = parse::state_events("gitlab:g/p!1", kind, &list);
        }
        let _ = parse::label_events("gitlab:g/p!1", &list);
        let _ = parse::directory(&[("g".to_string(), list)]);
        Ok(())
    });
}

#[test]
fn fuzz_jira() {
    use siloscope::sources::jira::parse::{self, Flavor, IssueContext, LinkNames};
    let mut files = json_files("perceval/jira");
    files.extend(json_files("grimoirelab-elk").into_iter().filter(|v| v.to_string().contains("\"Jira\"")));
    let seeds = seeds(&files, &|v| v.get("fields").is_some() && v.get("key").is_some());
    let mut statuses = HashMap::new();
    statuses.insert("10015".to_string(), StatusCategory::Done);
    let links = LinkNames::default();
    let done = parse::default_completed_resolutions();
    fuzz_json("jira", seeds, |v| {
        for flavor in [Flavor::Cloud, Flavor::DataCenter] {
            let ctx = IssueContext {
                source: "jira",
                flavor,
                web_base: "https://jira.test",
                team_field: Some("customfield_10400"),
                links: &links,
                status_categories: &statuses,
                completed_resolutions: &done,
            };
            let comments = v.get("comments_data").and_then(Value::as_array).map(Vec::as_slice);
            let _ = parse::issue(v, comments, &ctx);
            if let Some(body) = v.pointer("/fields/description") {
                let _ = parse::comment_text(body);
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_report_period() {
    let seeds = ["2026-Q3", "2026-07", "2026", "2025-Q1", "1970", "9999-12"].map(String::from).to_vec();
    let dictionary = ["-Q", "Q", "-", "0", "9", "99999999999", "+", "-0", " "];
    fuzz_text("report_period", seeds, &dictionary, |text| {
        if let Ok(p) = siloscope::report::Period::parse(text)
            && p.end <= p.start
        {
            return Err(format!("period {text:?} ends before it starts"));
        }
        Ok(())
    });
}
