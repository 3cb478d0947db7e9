//! The command line as a newcomer meets it: the demo serving every metric family, and bad inputs
//! each giving a clear error and a non-zero exit code, never a panic or a backtrace.

mod common;

use std::time::Duration;

use common::*;

fn assert_clean_failure(out: &std::process::Output, code: i32, needles: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr:\n{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!err.contains(bad), "stderr shows a panic:\n{err}");
    }
}

#[test]
fn invalid_config_names_file_line_and_fix_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[signals]\nstall_after = \"two days\"\nprivacy_flor = 5\n").unwrap();
    let out = run(&["check-config", "--config", path.to_str().unwrap()]);
    let p = path.display().to_string();
    assert_clean_failure(&out, 2, &[&format!("{p}:2:"), &format!("{p}:3:"), "privacy_floor", "fix:"]);
    // Each problem is one line.
    assert_eq!(text(&out.stderr).lines().count(), 2, "{}", text(&out.stderr));
}

#[test]
fn unknown_team_in_an_ownership_rule_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[[teams]]\nname = \"payments\"\n\n[ownership]\nstatuses = { \"In QA\" = \"qa\" }\n")
        .unwrap();
    let out = run(&["serve", "--config", path.to_str().unwrap()]);
    assert_clean_failure(&out, 2, &[&format!("{}:5:", path.display()), "qa"]);
}

#[test]
fn missing_config_file_is_one_clear_line() {
    let out = run(&["check-config", "--config", "/nonexistent/siloscope.toml"]);
    assert_clean_failure(&out, 2, &["/nonexistent/siloscope.toml"]);
    assert_eq!(text(&out.stderr).lines().count(), 1);
}

#[test]
fn unreadable_store_file_is_a_clear_runtime_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("garbage.db");
    std::fs::write(&store, vec![0x42u8; 8192]).unwrap();
    let cfg = sim_config(dir.path(), "c", &store, "");
    let out = run(&["sync", "--once", "--config", cfg.to_str().unwrap()]);
    assert_clean_failure(&out, 1, &[&store.display().to_string(), "not a SQLite database", "fix:"]);
    assert_eq!(text(&out.stderr).lines().count(), 1, "{}", text(&out.stderr));
}

#[test]
fn port_in_use_is_a_clear_runtime_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = sim_config(dir.path(), "c", &dir.path().join("s.db"), "");
    let out = run(&["serve", "--config", cfg.to_str().unwrap(), "--web.listen-address", &format!("127.0.0.1:{port}")]);
    assert_clean_failure(&out, 1, &["already in use", "--web.listen-address"]);
}

#[test]
fn usage_errors_exit_2_and_version_prints() {
    assert_eq!(run(&["serve"]).status.code(), Some(2));
    assert_eq!(run(&["no-such-command"]).status.code(), Some(2));
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn check_config_accepts_the_example_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/siloscope.example.toml");
    let out = run(&["check-config", "--config", example]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("valid"));
}

#[test]
fn check_config_says_when_the_pages_name_people() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    for (server, named) in
        [("", false), ("[server]\nname_people = false\n", false), ("[server]\nname_people = true\n", true)]
    {
        std::fs::write(&path, server).unwrap();
        let out = run(&["check-config", "--config", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert_eq!(stdout.contains("people: the pages and /report name the people"), named, "{server:?}: {stdout}");
    }
    std::fs::write(&path, "[server]\nname_people = 1\n").unwrap();
    let out = run(&["check-config", "--config", path.to_str().unwrap()]);
    assert_clean_failure(&out, 2, &[&format!("{}:2:15:", path.display()), "server.name_people", "true or false"]);
}

/// The label names of a sample line, in order (`a{x="1",y="\"2\""} 3` → x, y).
fn label_names(line: &str) -> Vec<&str> {
    let Some((_, mut rest)) = line.split_once('{') else { return Vec::new() };
    let mut names = Vec::new();
    while let Some((name, after)) = rest.split_once("=\"") {
        names.push(name.trim_start_matches(','));
        let mut escaped = false;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            })
            .map(|(i, _)| i)
            .expect("a closing quote");
        rest = &after[end + 1..];
        if rest.starts_with('}') {
            break;
        }
    }
    names
}

#[test]
fn label_names_of_a_sample_line() {
    assert_eq!(label_names(r#"a{x="1",y="\"2\",z=\\"} 3"#), ["x", "y"]);
    assert_eq!(label_names(r#"a{x="",yy="b,c=\"d"} 3"#), ["x", "yy"]);
    assert!(label_names("a 3").is_empty());
}

fn value(line: &str) -> f64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn demo_serves_every_metric_family_with_real_values_and_stops_on_sigterm() {
    let port = free_port();
    let mut child = spawn(&["demo", "--web.listen-address", &format!("127.0.0.1:{port}"), "--items-per-day", "80"]);
    let metrics = wait_for("the demo to be ready with a synced source", Duration::from_secs(120), || {
        let (status, _) = http_get(port, "/readyz")?;
        let (_, body) = http_get(port, "/metrics")?;
        (status == 200 && body.contains("siloscope_source_last_success_timestamp_seconds{")).then_some(body)
    });
    let lines: Vec<&str> = metrics.lines().collect();
    // Every family of the metric catalogue is served with real series, as the catalogue describes
    // it, and nothing is served that the catalogue does not list.
    for family in siloscope_catalogue::all() {
        let samples = family.sample_names();
        assert!(
            lines.iter().any(|l| samples
                .iter()
                .any(|s| l.strip_prefix(s.as_str()).is_some_and(|rest| rest.starts_with(['{', ' '])))),
            "{} missing from the demo's /metrics",
            family.name
        );
        let mut descriptor = vec![
            format!("# TYPE {} {}", family.name, family.metric_type.as_str()),
            format!("# HELP {} {}", family.name, family.help),
        ];
        descriptor.extend(family.unit.map(|u| format!("# UNIT {} {}", family.name, u.as_str())));
        for line in descriptor {
            assert!(lines.contains(&line.as_str()), "the demo's /metrics lacks {line:?} (crates/catalogue says so)");
        }
    }
    // Every series carries its family's catalogue labels, in the catalogue's order.
    for line in lines.iter().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = siloscope_catalogue::all()
            .find(|f| f.names_sample(name))
            .unwrap_or_else(|| panic!("{name} is served but not in the metric catalogue"));
        let labels: Vec<&str> = label_names(line).into_iter().filter(|l| *l != "le").collect();
        assert_eq!(labels, family.labels, "labels of {line}");
    }
    for served in lines.iter().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = served.split(' ').next().unwrap();
        assert!(siloscope_catalogue::by_name(name).is_some(), "{name} is served but not in the metric catalogue");
    }
    // The first backfill is over: its bar is full and nothing is left to wait for.
    assert!(lines.contains(&"siloscope_source_backfill_progress_ratio{source=\"demo\"} 1.0"), "{metrics}");
    assert!(lines.contains(&"siloscope_source_backfill_eta_seconds{source=\"demo\"} 0.0"), "{metrics}");
    let pairs = lines.iter().filter(|l| l.starts_with("siloscope_handoffs_total{")).count();
    assert!(pairs >= 10, "only {pairs} handoff series");
    let stalled: f64 = lines.iter().filter(|l| l.starts_with("siloscope_handoffs_stalled{")).map(|l| value(l)).sum();
    assert!(stalled > 0.0, "no stalled handoffs in the demo");
    // No person and no item in any label.
    for l in lines.iter().filter(|l| !l.starts_with('#')) {
        assert!(!l.contains("sim:") && !l.contains('#') && !l.contains("sim.example"), "a person or item leaked: {l}");
    }
    assert_eq!(http_get(port, "/healthz").map(|r| r.0), Some(200));
    let (_, head, _) = http_get_with_head(port, "/metrics").unwrap();
    assert!(
        head.to_ascii_lowercase().contains("content-type: application/openmetrics-text; version=1.0.0"),
        "/metrics must be served as OpenMetrics: {head}"
    );
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert!(status.success(), "demo should exit 0 on SIGTERM, got {status}");
    let out = text(
        &child
            .stdout
            .take()
            .map(|mut s| {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut s, &mut v).unwrap();
                v
            })
            .unwrap(),
    );
    assert!(out.contains(&format!("http://127.0.0.1:{port}/metrics")), "the demo should print its URL: {out}");
}

#[test]
fn teams_prints_the_directory_and_warns_about_overlaps_and_small_teams() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    let store = dir.path().join("s.db");
    std::fs::write(
        &path,
        format!(
            r#"[store]
path = {store:?}

[[teams]]
name = "payments"
handles = ["acme/payments"]

[[teams]]
name = "platform"

[[people]]
name = "Alice"
github = "alice"
memberships = [ {{ team = "payments", until = "2026-06-01" }}, {{ team = "platform", from = "2026-05-01" }} ]

[[people]]
name = "Bob"
github = "bob"
team = "platform"
"#,
            store = store.display().to_string()
        ),
    )
    .unwrap();
    let out = run(&["teams", "--config", path.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("payments [acme/payments]"), "{stdout}");
    assert!(stdout.contains("platform") && stdout.contains("Bob"), "{stdout}");
    assert!(stdout.contains("Alice is in two teams at once (payments and platform)"), "{stdout}");
    assert!(stdout.contains("team payments has fewer active people than the privacy floor"), "{stdout}");
}

/// `agreements check` on a stored simulated history (the demo's two agreements, and one to a
/// team with nobody in it, under the privacy floor): every hour of its JSON equals the exported
/// counters of that hour (`agreement_values` at t, and at t − w for each window's increase, as
/// Prometheus' `increase()` over the backfilled series), its summary and alert episodes follow
/// from those hours, the text form says the same, and neither names a person.
#[test]
fn agreements_check_back_tests_the_stored_history_as_the_exported_series() {
    use siloscope::signals::agreements::{ALERT_POLICY, agreement_facts, agreement_values, budget_left, burn_rate};
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("s.db");
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(30);
    let keys = format!(
        "start = \"{start}\"\nitems_per_day = 60\nteams = 3\nseed = 11\n\n\
         [[teams]]\nname = \"payments\"\n\n[[teams]]\nname = \"platform\"\n\n[[teams]]\nname = \"tiny\"\n\n\
         [[agreements]]\nname = \"payments-reviews\"\nto_team = \"payments\"\nkinds = [\"review\"]\nwithin = \"1d\"\nobjective = \"90%\"\n\n\
         [[agreements]]\nname = \"platform-handoffs\"\nto_team = \"platform\"\nkinds = [\"reassign\", \"transfer\"]\nwithin = \"2d\"\nobjective = \"80%\"\nwindow = \"7d\"\n\n\
         [[agreements]]\nname = \"tiny-reviews\"\nto_team = \"tiny\"\nwithin = \"1d\"\nobjective = 0.9\n"
    );
    let cfg_path = sim_config(dir.path(), "c", &store_path, &keys);
    let cfg_arg = cfg_path.to_str().unwrap();
    let out = run(&["sync", "--once", "--config", cfg_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = run(&["agreements", "check", "--config", cfg_arg, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json_text = text(&out.stdout);
    let got: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(got["schema"], "siloscope.agreements-check.v1");
    let ts = |v: &serde_json::Value| siloscope::config::parse_date(v.as_str().unwrap()).unwrap();
    let to = ts(&got["to"]);

    // The same computation in this process, through the exported series' own function.
    let cfg = siloscope::config::Config::load(&cfg_path).unwrap();
    let store = siloscope::daemon::open_store_for_reading(&cfg).unwrap();
    let directory = siloscope::report::load_directory(&*store, &cfg).unwrap();
    let frame = siloscope::report::load_frame(&*store, &mut |_| {}).unwrap();
    let analysis = siloscope::signals::analyze(&frame, &directory, &cfg.signals, to);
    let labels = siloscope::signals::aggregate::TeamLabels::new(&analysis, &directory, &cfg.signals, to);
    let facts = agreement_facts(&analysis, &directory, &cfg.signals);
    let exported = |name: &str, team: &str, t: i64| {
        let (values, suppressed) = agreement_values(&analysis, &facts, &directory, &cfg.signals, &labels, t);
        assert_eq!(suppressed, vec!["tiny-reviews".to_string()]);
        let v = values[&(name.to_string(), team.to_string())];
        (v.handoffs, v.breaches)
    };
    let num = |v: &serde_json::Value| v.as_f64();
    // serde_json's default float parsing may miss the printed value's last bit.
    let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(1.0),
        (a, b) => a.is_none() && b.is_none(),
    };

    let agreements = got["agreements"].as_array().unwrap();
    assert_eq!(agreements.len(), 3);
    let mut hours_checked = 0;
    for (a, ag) in agreements.iter().zip(&cfg.signals.agreements) {
        assert_eq!(a["name"], ag.name.as_str());
        if ag.name == "tiny-reviews" {
            // Under the privacy floor: says so, shows nothing.
            assert_eq!(a["suppressed"], true);
            assert!(a["reason"].as_str().unwrap().contains("privacy floor"), "{a}");
            assert!(a.get("hours").is_none() && a.get("summary").is_none() && a.get("episodes").is_none());
            continue;
        }
        assert_eq!(a["suppressed"], false);
        let hours = a["hours"].as_array().unwrap();
        assert!(hours.len() >= 29 * 24, "{} hours", hours.len());
        let (mut with, mut met, mut transitions) = (0u64, 0u64, std::collections::BTreeMap::<String, usize>::new());
        let mut before: Vec<String> = Vec::new();
        for h in hours {
            let at = ts(&h["at"]);
            let (n, b) = exported(&ag.name, &ag.to_team, at);
            assert_eq!((h["handoffs"].as_u64(), h["breaches"].as_u64()), (Some(n), Some(b)), "{} at {at}", ag.name);
            let increase = |w: i64| {
                let (n0, b0) = exported(&ag.name, &ag.to_team, at - w);
                (n - n0, b - b0)
            };
            let (wn, wb) = increase(ag.window);
            assert_eq!((h["window_handoffs"].as_u64(), h["window_breaches"].as_u64()), (Some(wn), Some(wb)));
            assert!(same(num(&h["budget_left"]), budget_left(wb, wn, ag.objective)), "{} at {at}", ag.name);
            let attainment = (wn > 0).then(|| 1.0 - wb as f64 / wn as f64);
            assert!(same(num(&h["attainment"]), attainment), "{} at {at}", ag.name);
            if let Some(att) = attainment {
                with += 1;
                met += u64::from(att >= ag.objective - 1e-9);
            }
            let mut firing = Vec::new();
            for r in ALERT_POLICY {
                let ((ln, lb), (sn, sb)) = (increase(r.long), increase(r.short));
                let (long, short) = (burn_rate(lb, ln, ag.objective), burn_rate(sb, sn, ag.objective));
                let key = |w: i64| if w % 86_400 == 0 { format!("{}d", w / 86_400) } else { format!("{}h", w / 3600) };
                assert!(same(num(&h["burn_rate"][key(r.long)]), long), "{} at {at}", ag.name);
                assert!(same(num(&h["burn_rate"][key(r.short)]), short), "{} at {at}", ag.name);
                if long.is_some_and(|l| l > r.factor) && short.is_some_and(|s| s > r.factor) {
                    firing.push(r.severity.to_string());
                }
            }
            firing.dedup();
            assert_eq!(h["firing"], serde_json::json!(firing), "{} at {at}", ag.name);
            for s in &firing {
                if !before.contains(s) {
                    *transitions.entry(s.clone()).or_default() += 1;
                }
            }
            before = firing;
            hours_checked += 1;
        }
        let summary = &a["summary"];
        assert_eq!((summary["hours_with_data"].as_u64(), summary["hours_met"].as_u64()), (Some(with), Some(met)));
        for (severity, n) in &transitions {
            assert_eq!(summary["alerts"][severity]["episodes"].as_u64(), Some(*n as u64), "{}", ag.name);
            let listed = a["episodes"].as_array().unwrap().iter().filter(|e| e["severity"] == severity.as_str());
            assert_eq!(listed.count(), *n);
        }
    }
    assert!(hours_checked > 0);
    // The history makes the demo's agreements burn: some alert fires (the check shows something).
    assert!(agreements[0]["episodes"].as_array().is_some_and(|e| !e.is_empty()), "{}", agreements[0]["summary"]);

    // The text form: a table per agreement, the refusal under the floor, the same summary.
    let (from, to) = (got["from"].as_str().unwrap(), got["to"].as_str().unwrap());
    let out = run(&["agreements", "check", "--config", cfg_arg, "--from", from, "--to", to]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let s = &agreements[0]["summary"];
    assert!(
        table.contains(&format!(
            "objective met in {} of {} hours",
            s["hours_met"].as_u64().unwrap(),
            s["hours_with_data"].as_u64().unwrap()
        )),
        "{table}"
    );
    assert!(
        table
            .contains("payments-reviews: review handoffs to payments acknowledged within 1d, for 90% of them over 28d")
    );
    assert!(table.contains("team tiny has fewer active people than the privacy floor"), "{table}");
    assert!(table.contains("burn 2h") && table.contains("alert hours") && table.contains("fires from"), "{table}");
    // No person: no identity nor display name of the simulated directory appears.
    for (_, snap) in store.directory_snapshots().unwrap() {
        for p in &snap.people {
            for name in p.identities.iter().chain(std::iter::once(&p.name)).filter(|n| n.len() > 3) {
                assert!(!table.contains(name.as_str()) && !json_text.contains(name.as_str()), "{name} is named");
            }
        }
    }

    // Usage errors exit 2 before reading the store.
    let out = run(&["agreements", "check", "--config", cfg_arg, "--from", "2026-13-01"]);
    assert_clean_failure(&out, 2, &["invalid --from"]);
}
