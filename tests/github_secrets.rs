//! Tokens, JWTs and private keys appear in no log line (trace level), error message, metric or
//! panic: syncs with distinctive credentials against the faulty stand-in, all output grepped.

mod github_common;

use std::process::Command;
use std::time::Duration;

use github_common::*;
use siloscope::sources::Source;
use siloscope::sources::github::{GithubAuth, auth::AppAuth};
use siloscope_testkit::github::{Fault, GithubStandIn, Scenario};

const CANARY: &str = "ghp_CANARYtoken7f3a9c1e5b2d";
const WRONG: &str = "ghp_WRONGcanary0d9e8f7a6b5c";
/// Base64 of `{"alg":"RS256"`: the start of every JWT the source signs.
const JWT_HEADER: &str = "eyJhbGciOiJSUzI1NiIs";

fn key_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/sources/src/github/test_app_key.pem")
}

/// Lines of the private key's body: none may be printed anywhere.
fn key_lines() -> Vec<String> {
    std::fs::read_to_string(key_path())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_string)
        .collect()
}

fn assert_clean(what: &str, text: &str) {
    for secret in [CANARY, WRONG, JWT_HEADER, "ghs_standin"] {
        assert!(!text.contains(secret), "{what} contains the secret {secret}:\n{text}");
    }
    for line in key_lines() {
        assert!(!text.contains(&line), "{what} contains private key material");
    }
}

#[tokio::test]
async fn no_secret_in_trace_logs_errors_or_metrics() {
    let (items, events, dir) = simulated(6, 10.0, 21);
    let standin = GithubStandIn::start(Scenario::from_model(&items, &events, Some(&dir)), &[CANARY]).await.unwrap();
    let key = AppAuth::load(77, &key_path(), None, "app").unwrap();
    standin.set_app(77, key.public_key_der(), 3600);
    for (n, f) in [
        (2, Fault::ServerError),
        (3, Fault::TruncatedJson),
        (4, Fault::SecondaryLimit),
        (5, Fault::RetryAfter(3)),
        (6, Fault::Delay(Duration::from_secs(3))),
    ] {
        standin.inject_at(n, f);
    }
    let tmp = tempfile::tempdir().unwrap();
    let telemetry = std::sync::Arc::new(siloscope::sources::telemetry::SourceTelemetry::default());
    let mut exporter = siloscope::exporter::Exporter::new();
    exporter.register(|r| telemetry.register(r));
    let (logs, guard) = capture_logs();
    let mut errors = String::new();

    // A token source through faults.
    let mut src = source(config(&standin, write_token(tmp.path(), CANARY)), clock());
    src.attach_health(telemetry.clone());
    let mut store = open_store(tmp.path(), "s.db");
    sync(&mut src, &mut store, T0 + 10 * 86_400).await;
    assert!(!dump(&store).0.is_empty());

    // A GitHub App source; the stand-in issues its tokens on the source's clock.
    let app_clock = clock();
    standin.set_token_clock(app_clock.clone());
    let mut cfg = config(&standin, write_token(tmp.path(), "unused"));
    cfg.auth = GithubAuth::App { app_id: 77, private_key_file: key_path(), installation_id: Some(9) };
    let mut app = source(cfg, app_clock.clone());
    app.attach_health(telemetry.clone());
    let mut app_store = open_store(tmp.path(), "app.db");
    sync(&mut app, &mut app_store, T0 + 10 * 86_400).await;

    // A rejected token, and a rejected app: errors name the problem, not the secret.
    let mut wrong = source(config(&standin, write_token(tmp.path(), WRONG)), clock());
    wrong.attach_health(telemetry.clone());
    let e = wrong.step(None, T0).await.unwrap_err();
    assert!(e.message.contains("HTTP 401") && e.message.contains("Bad credentials"), "{e}");
    errors.push_str(&format!("{e}\n{e:?}\n"));
    let other = AppAuth::load(78, &key_path(), None, "app").unwrap();
    let mut cfg = config(&standin, write_token(tmp.path(), "unused"));
    cfg.auth = GithubAuth::App { app_id: 78, private_key_file: key_path(), installation_id: Some(9) };
    let mut bad_app = source(cfg, app_clock);
    let e = bad_app.step(None, T0).await.unwrap_err();
    errors.push_str(&format!("{e}\n{e:?}\n{other:?}\n"));
    drop(guard);

    let log = logs.text();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "logs were captured at trace level");
    assert!(log.contains("retrying") && log.contains("rate limited"), "the faults were logged:\n{log}");
    assert_clean("the logs", &log);
    assert_clean("the errors", &errors);
    let metrics = exporter.render();
    assert!(metrics.contains("siloscope_source_requests_total"));
    assert_clean("/metrics", &metrics);
}

#[test]
fn no_secret_in_the_output_of_a_trace_level_sync_run() {
    // The stand-in runs on its own runtime while the real binary syncs against it.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (items, events, dir) = simulated(4, 10.0, 23);
    let standin =
        runtime.block_on(GithubStandIn::start(Scenario::from_model(&items, &events, Some(&dir)), &[CANARY])).unwrap();
    standin.inject_at(2, Fault::ServerError);
    standin.inject_at(3, Fault::TruncatedJson);
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("siloscope.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = {:?}\n\n[[sources]]\nname = \"gh\"\nkind = \"github\"\ntoken_env = \"SILOSCOPE_TEST_CANARY\"\n\
             organizations = [\"sim-org\"]\napi_url = \"{}\"\ngraphql_url = \"{}\"\n",
            tmp.path().join("s.db").display().to_string(),
            standin.url(),
            standin.graphql_url()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["--log.level", "trace", "sync", "--once", "--config"])
        .arg(&config)
        .env("SILOSCOPE_TEST_CANARY", CANARY)
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "sync failed:\n{text}");
    assert!(text.contains("gh: caught up"), "{text}");
    assert!(
        text.contains("TRACE") && text.contains("retrying"),
        "trace logs with the faults:\n{}",
        &text[..text.len().min(3000)]
    );
    assert_clean("the sync's output", &text);

    // A wrong token: the run fails and says why, without the token.
    let out = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["--log.level", "trace", "sync", "--once", "--config"])
        .arg(&config)
        .env("SILOSCOPE_TEST_CANARY", WRONG)
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("401"), "{text}");
    assert_clean("the failed sync's output", &text);
    drop(standin);
    runtime.shutdown_timeout(Duration::from_secs(1));
}
