//! The Jira token (and the Basic credential made from it) never appears in trace logs, errors or
//! metrics, through faults and a rejected token, on Cloud and Data Center.

mod jira_common;

use std::time::Duration;

use base64::Engine;
use jira_common::*;
use siloscope::sources::Source;
use siloscope::sources::jira::Flavor;
use siloscope_testkit::jira::{Fault, JiraScenario};

const WRONG: &str = "ATATT3xWRONGtokenWRONGtoken";

fn assert_clean(what: &str, text: &str) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"));
    let wrong_basic = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{WRONG}"));
    for secret in [TOKEN, WRONG, basic.as_str(), wrong_basic.as_str()] {
        assert!(!text.contains(secret), "{what} contains the secret {secret}:\n{text}");
    }
}

#[tokio::test]
async fn no_token_in_trace_logs_errors_or_metrics() {
    let (items, events, _) = simulated(8, 10.0, 21);
    let telemetry = std::sync::Arc::new(siloscope::sources::telemetry::SourceTelemetry::default());
    let mut exporter = siloscope::exporter::Exporter::new();
    exporter.register(|r| telemetry.register(r));
    let (logs, guard) = capture_logs();
    let mut errors = String::new();
    for flavor in [Flavor::Cloud, Flavor::DataCenter] {
        let standin = start(JiraScenario::from_model(&items, &events), flavor).await;
        for (n, f) in [
            (2, Fault::ServerError),
            (3, Fault::TruncatedJson),
            (4, Fault::RetryAfter(3)),
            (5, Fault::Delay(Duration::from_secs(3))),
        ] {
            standin.inject_at(n, f);
        }
        let tmp = tempfile::tempdir().unwrap();
        let mut src = source(config(&standin, flavor, write_token(tmp.path(), TOKEN)), clock());
        src.attach_health(telemetry.clone());
        let mut store = open_store(tmp.path(), "s.db");
        sync(&mut src, &mut store, T0 + 10 * 86_400).await;
        assert!(!dump(&store).0.is_empty());

        let mut wrong = source(config(&standin, flavor, write_token(tmp.path(), WRONG)), clock());
        wrong.attach_health(telemetry.clone());
        let e = wrong.step(None, T0).await.unwrap_err();
        assert!(e.message.contains("HTTP 401") && e.message.contains("credential"), "{e}");
        errors.push_str(&format!("{e}\n{e:?}\n"));
    }
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
