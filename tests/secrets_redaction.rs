//! Issue 17 item 4: no secret leaves the process. Credentials in a configured URL are refused
//! without echoing them; a token pasted into `token_env` is refused without echoing it; web-config
//! type errors never quote a value; whatever a server echoes back (the base64 of the Basic pair,
//! the percent-encoded header, a lower-cased token) is scrubbed from errors, logs and item links.

mod common;
#[path = "source_common/mod.rs"]
mod source_common;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use siloscope::sources::http::{
    ApiClient, BoxFuture, Budget, HttpRequest, HttpResponse, HttpSettings, ManualClock, Method, Secret, Transport,
};

const PASSWORD: &str = "Hunt3r2xPassw0rdZq";
const TOKEN: &str = "ATATT3xCANARYtok3n+/Aq9";
const EMAIL: &str = "bot@acme.io";

fn check_config(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("siloscope.toml");
    std::fs::write(&path, text).unwrap();
    let out = run(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "check-config must refuse:\n{text}\n{}", text_of(&out.stdout));
    (path.display().to_string(), text_of(&out.stderr))
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn credentials_in_a_source_url_are_refused_naming_file_line_and_fix_without_the_password() {
    for (kind, key, extra, fix) in [
        ("github", "api_url", "organizations = [\"acme\"]\ntoken_env = \"GITHUB_TOKEN\"\n", "token_env"),
        ("gitlab", "url", "groups = [\"acme\"]\ntoken_env = \"GITLAB_TOKEN\"\n", "token_env"),
        ("jira", "url", "projects = [\"PAY\"]\n", "token_env"),
    ] {
        let text = format!(
            "[[sources]]\nname = \"s\"\nkind = \"{kind}\"\n{key} = \"http://admin:{PASSWORD}@tracker.example.com/x\"\n{extra}"
        );
        let (file, err) = check_config(&text);
        assert!(err.contains(&format!("{file}:4:")), "{kind}: names the file and line:\n{err}");
        assert!(err.contains("credentials") && err.contains(fix), "{kind}: says what to do:\n{err}");
        assert!(!err.contains(PASSWORD) && !err.contains("admin:"), "{kind}: echoes the password:\n{err}");
    }
}

#[test]
fn a_token_pasted_into_token_env_or_password_env_is_refused_without_echoing_it() {
    let pasted = "ghp_CANARYtoken7f3a9c1e5b2d";
    let (file, err) = check_config(&format!(
        "[[sources]]\nname = \"gh\"\nkind = \"github\"\norganizations = [\"acme\"]\ntoken_env = \"{pasted}\"\n"
    ));
    assert!(err.contains(&format!("{file}:5:")) && err.contains("token_env"), "{err}");
    assert!(!err.contains(pasted) && !err.contains("CANARY"), "echoes the token:\n{err}");
    let (_, err) = check_config(&format!("[store]\nurl = \"postgres://db/s\"\npassword_env = \"{PASSWORD}\"\n"));
    assert!(err.contains("password_env") && !err.contains(PASSWORD), "{err}");
    // A value that looks like a token quoted back in any other message is not shown either.
    let (_, err) = check_config(&format!(
        "[[sources]]\nname = \"j\"\nkind = \"jira\"\nurl = \"https://acme.atlassian.net\"\nprojects = [\"P\"]\nemail = \"{TOKEN}\"\ntoken_env = \"JIRA_TOKEN\"\n"
    ));
    assert!(err.contains("sources.email") && !err.contains("CANARY"), "{err}");
}

#[test]
fn web_config_type_errors_never_echo_values() {
    let hash = "$2y$10$QmKQ2OHnZcF5yYz5sDR1Ru3nXyRgTB4FL1b2U.pdq1wC7S3BCvnKe";
    let key =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----";
    let cases = [
        format!("basic_auth_users: '{hash}'\n"),
        format!("basic_auth_users:\n  prometheus: ['{hash}']\n"),
        format!("tls_server_config:\n  cert_file: c.pem\n  key_file: [\"{}\"]\n", key.replace('\n', "\\n")),
        format!("tls_server_config: \"{}\"\n", key.replace('\n', "\\n")),
        format!("{hash}\n"),
    ];
    for text in &cases {
        let Err(err) = siloscope::webconfig::parse(text, std::path::Path::new("web.yml")) else { panic!("accepted") };
        assert!(err.starts_with("web config web.yml"), "{err}");
        for secret in [&hash[7..], "MIIEvQIBADAN", "BEGIN PRIVATE"] {
            assert!(!err.contains(secret), "the error echoes a value:\n{err}");
        }
    }
    // A whole large file is never copied into the message.
    let big = format!("'{}'\n", "x".repeat(20 << 20));
    let err = siloscope::webconfig::parse(&big, std::path::Path::new("web.yml")).err().unwrap();
    assert!(err.len() < 1000, "a {} byte error for a 20 MB file", err.len());
}

/// Percent-encoding as a server's URL or form encoder writes it (unreserved characters stay).
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A hostile server: echoes the credential back in every encoding it can think of.
struct Echo {
    step: Mutex<u32>,
}

impl Transport for Echo {
    fn send<'a>(&'a self, request: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>> {
        Box::pin(async move {
            let header = request.authorization.as_ref().map(Secret::header_value).unwrap_or_default();
            let b64 = header.trim_start_matches("Basic ").to_string();
            let pct = percent(&header);
            let n = {
                let mut s = self.step.lock().unwrap();
                *s += 1;
                *s
            };
            let base = request.url.split('?').next().unwrap().to_string();
            let r = |status: u16, headers: Vec<(&str, String)>, body: String| HttpResponse {
                status,
                headers: headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                body: body.into_bytes(),
            };
            Ok(match n {
                // A same-origin redirect carrying the credential in its query (debug-logged).
                1 => r(
                    302,
                    vec![("location", format!("{base}?auth={}", URL_SAFE_NO_PAD.encode(format!("{EMAIL}:{TOKEN}"))))],
                    String::new(),
                ),
                // A rate limit whose reason header echoes the lower-cased token.
                2 => r(
                    429,
                    vec![
                        ("retry-after", "1".into()),
                        ("ratelimit-reason", format!("burst for {}", TOKEN.to_lowercase())),
                    ],
                    String::new(),
                ),
                // A server error quoting the percent-encoded header.
                3 => r(503, vec![], format!("{{\"message\": \"upstream got Authorization={pct}\"}}")),
                4 => r(500, vec![], format!("{{\"message\": \"bad auth {}\"}}", header.replace(' ', "+"))),
                // A refusal quoting the base64 of the pair, JSON-escaped.
                _ => r(403, vec![], format!("{{\"message\": \"denied: {}\"}}", b64.replace('/', "\\\\/"))),
            })
        })
    }
}

#[tokio::test]
async fn every_encoding_a_server_echoes_is_scrubbed_from_errors_and_logs() {
    let client = ApiClient::new(
        "jira-acme",
        Arc::new(Echo { step: Mutex::new(0) }),
        Arc::new(ManualClock::new(1.7e9)),
        HttpSettings { max_attempts: 3, ..HttpSettings::default() },
    );
    let token = Secret::new(TOKEN);
    let auth = Secret::basic(EMAIL, TOKEN);
    client.register_secret(&token);
    client.register_secret(&auth);
    let (logs, guard) = source_common::capture_logs();
    let request = HttpRequest {
        method: Method::Get,
        url: "https://acme.example.com/rest/api/3/search".into(),
        headers: vec![],
        body: None,
        authorization: Some(auth.clone()),
    };
    let e = client.send(&request, Budget::Rest, false).await.unwrap_err();
    drop(guard);
    let shown = format!("{e}\n{}\n{}", client.scrub(&e.message), logs.text());
    assert!(shown.contains("following a redirect") && shown.contains("rate limited"), "{shown}");
    let pair = format!("{EMAIL}:{TOKEN}");
    let header = auth.header_value();
    let pct = percent(&header);
    let leaks = [
        TOKEN.to_string(),
        TOKEN.to_lowercase(),
        STANDARD.encode(&pair),
        URL_SAFE_NO_PAD.encode(&pair),
        STANDARD.encode(&pair).replace('/', "\\/"),
        pct.clone(),
        header.replace(' ', "+"),
    ];
    // What leaves the client: the error after the step's scrub, and every log line.
    let out = format!("{}\n{}", client.scrub(&e.message), logs.text());
    for leak in &leaks {
        let l = leak.to_lowercase();
        assert!(!out.to_lowercase().contains(&l), "leaked {leak}:\n{out}");
    }
}

#[test]
fn item_links_a_server_sends_are_scrubbed_before_they_are_stored() {
    let dir = std::env::var("SILOSCOPE_REALDATA")
        .unwrap_or_else(|_| format!("{}/../shared/realdata", env!("CARGO_MANIFEST_DIR")));
    let list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/perceval/github/github_issue_1")).unwrap())
            .unwrap();
    let (mut item, _) = siloscope::sources::github::parse::rest_item(&list[0], "gh").unwrap();
    let token = "ghp_CANARYtoken7f3a9c1e5b2d";
    item.url = format!("https://github.com/a/b/issues/1?access_token={}", token.to_uppercase());
    let client = ApiClient::new(
        "gh",
        Arc::new(Echo { step: Mutex::new(0) }),
        Arc::new(ManualClock::new(1.7e9)),
        HttpSettings::default(),
    );
    client.register_secret(&Secret::new(token));
    let mut step = siloscope::sources::SyncStep::default();
    step.batch.items.push(item);
    let step = siloscope::sources::http::scrub_error(Ok(step), Some(&client)).unwrap();
    assert_eq!(step.batch.items[0].url, "https://github.com/a/b/issues/1?access_token=[redacted]");
}
