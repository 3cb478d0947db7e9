//! Goldens of what a user sees, so a refactor that means to change nothing can prove it: the demo's
//! `/metrics` text (fixed seed, fixed clock), the report of a fixed store and period in every
//! format, every `--help`, the output and exit code of representative failures, and checksums of
//! the dashboards, rules and example configs. `tests/goldens/README.md` says what each pins and
//! how; `SILOSCOPE_BLESS=1 cargo test --test user_surface` rewrites them when a change is meant.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use siloscope::config::{Config, SourceConfig, SourceSettings};
use siloscope::daemon::{self, AcceleratedClock, State, SyncSummary};
use siloscope::sources::simulator::SimulatorConfig;
use siloscope::store::sqlite::SqliteStore;

// ---------------------------------------------------------------------------------------------
// Golden files.
// ---------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn goldens() -> PathBuf {
    root().join("tests/goldens")
}

fn blessing() -> bool {
    std::env::var_os("SILOSCOPE_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Compares `actual` with the golden file `name` (under tests/goldens/), or writes it when
/// blessing. Returns what differs, with the first differing line and some context.
fn check_golden(name: &str, actual: &str) -> Result<(), String> {
    let path = goldens().join(name);
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return Ok(());
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => return Err(format!("{name}: cannot read the golden ({e}); SILOSCOPE_BLESS=1 writes it")),
    };
    if expected == actual {
        return Ok(());
    }
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.split('\n').collect(), actual.split('\n').collect());
    let first = e.iter().zip(&a).position(|(x, y)| x != y).unwrap_or(e.len().min(a.len()));
    let context = |lines: &[&str]| {
        let from = first.saturating_sub(3);
        lines.iter().enumerate().skip(from).take(7).map(|(i, l)| format!("  {:>6} {l}\n", i + 1)).collect::<String>()
    };
    Err(format!(
        "{name}: differs from the golden at line {} ({} lines expected, {} actual)\n--- expected\n{}--- actual\n{}",
        first + 1,
        e.len(),
        a.len(),
        context(&e),
        context(&a),
    ))
}

fn assert_all(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} golden(s) differ. If the change is meant, rewrite them with \
         `SILOSCOPE_BLESS=1 cargo test --test user_surface` and review the diff.\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The demo: a simulated organisation at a fixed seed and a fixed clock, synced to the end.
// ---------------------------------------------------------------------------------------------

/// The demo's `now` (`siloscope demo --now 2026-03-15T09:30:00Z`): its 90 days of history end here.
const DEMO_NOW: &str = "2026-03-15T09:30:00Z";

/// The simulated clock of `siloscope demo --now NOW`, stopped: at speed 0 it stays at `now`.
fn fixed_clock(now: i64) -> Arc<AcceleratedClock> {
    Arc::new(AcceleratedClock { wall_start: daemon::wall_now(), sim_start: now, speed: 0.0 })
}

/// The demo's state after its first sync pass and the computation that follows it, as
/// `siloscope demo` builds it (src/main.rs `demo`) and runs it (src/daemon.rs `run_source`).
struct Demo {
    state: Arc<State>,
    now: i64,
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let now = siloscope::config::parse_date(DEMO_NOW).unwrap();
        // The demo's flags at their defaults: --seed 42 --teams 8 --items-per-day 120.
        let sim = SimulatorConfig { seed: 42, teams: 8, items_per_day: 120.0, ..SimulatorConfig::default() };
        let mut cfg = Config::parse("", Path::new("<demo>")).unwrap();
        cfg.sources.push(SourceConfig { name: "demo".into(), interval: 2, settings: SourceSettings::new(sim) });
        let store = Box::new(SqliteStore::open_in_memory().unwrap());
        let state = State::new(cfg, store, fixed_clock(now)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let sc = state.config.sources[0].clone();
        let mut source = daemon::make_source(&sc, state.clock.clone());
        source.attach_health(state.telemetry.clone());
        state.prepare_source(source.as_ref()).unwrap();
        let (_shutdown, rx) = tokio::sync::watch::channel(false);
        let health = state.telemetry.clone();
        let name = sc.name.clone();
        // The first pass's progress gauges, fed a step count for a clock: once caught up they
        // read 1 and 0 whatever the pace.
        let mut tracker = siloscope::progress::Tracker::new(daemon::source_since(&sc), 0.0, 0);
        let mut steps = 0.0;
        let mut on_step = |s: &SyncSummary| {
            steps += 1.0;
            let f = tracker.observe(steps, &daemon::observation(&health, &name, s));
            health.set_backfill_progress(&name, f.ratio, f.eta_seconds);
        };
        let started = std::time::Instant::now();
        let summary = rt.block_on(state.sync_source(source.as_mut(), &rx, &mut on_step)).unwrap();
        assert!(summary.caught_up && !summary.interrupted, "{summary:?}");
        let seconds = started.elapsed().as_secs_f64();
        state.telemetry.record_sync(&sc.name, true, seconds, 0, daemon::wall_now());
        state.recompute_now().unwrap();
        Demo { state, now }
    })
}

/// Series whose value a live demo takes from the wall clock or from how long something took:
/// their value is replaced by `<normalised>`; their names, labels, HELP, TYPE and UNIT lines and
/// every other line of the text stay byte for byte. (The simulated API's rate-limit headroom is
/// not among them: its budget hour is that of the demo's clock, stopped here.)
const WALL_CLOCK_SERIES: &[&str] = &[
    "siloscope_source_last_success_timestamp_seconds",
    "siloscope_source_sync_duration_seconds_bucket",
    "siloscope_source_sync_duration_seconds_sum",
    "siloscope_last_compute_timestamp_seconds",
    "siloscope_compute_duration_seconds",
];

/// The families of the health registry (src/sources/telemetry.rs, src/exporter.rs, src/connections.rs):
/// prometheus_client keeps a family's series in a HashMap, so their order differs from one
/// process to the next. Their sample lines are put in the order of their label sets (a stable
/// sort on the labels without `le`, so a histogram's lines keep their order). The signal
/// families are encoded from ordered maps: their order is pinned as it is.
const HASH_ORDERED_FAMILIES: &[&str] = &[
    "siloscope_build_info",
    "siloscope_source_up",
    "siloscope_source_last_success_timestamp_seconds",
    "siloscope_source_requests",
    "siloscope_source_rate_limit_remaining",
    "siloscope_source_sync_duration_seconds",
    "siloscope_source_errors",
    "siloscope_events_ingested",
    "siloscope_source_backfill_progress_ratio",
    "siloscope_source_backfill_eta_seconds",
    "siloscope_directory_event_coverage_ratio",
    "siloscope_directory_identity_coverage_ratio",
    "siloscope_directory_unresolved_identities",
    "siloscope_directory_coverage_warning_ratio",
    "siloscope_http_connections",
    "siloscope_http_connections_dropped",
];

/// The label set of a sample line without its `le` label: the key of [`HASH_ORDERED_FAMILIES`]'s order.
fn series_key(line: &str) -> String {
    let labels = line.split_once('{').and_then(|(_, rest)| rest.split_once('}')).map_or("", |(l, _)| l);
    labels.split(',').filter(|l| !l.starts_with("le=")).collect::<Vec<_>>().join(",")
}

/// The /metrics text with the two normalisations above; `siloscope_build_info`'s `version`
/// label (the crate's version) is also replaced, by `<version>`.
fn normalise_metrics(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut family = String::new();
    let mut samples: Vec<String> = Vec::new();
    let flush = |samples: &mut Vec<String>, family: &str, out: &mut String| {
        if HASH_ORDERED_FAMILIES.contains(&family) {
            samples.sort_by_cached_key(|l| series_key(l));
        }
        for l in samples.drain(..) {
            out.push_str(&l);
        }
    };
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        if body.starts_with('#') {
            flush(&mut samples, &family, &mut out);
            if let Some(name) = body.strip_prefix("# HELP ").and_then(|r| r.split(' ').next()) {
                family = name.to_string();
            }
            out.push_str(line);
            continue;
        }
        let name = body.split(['{', ' ']).next().unwrap_or("");
        if WALL_CLOCK_SERIES.contains(&name) {
            let (series, _value) = body.rsplit_once(' ').expect("a sample line has a value");
            samples.push(format!("{series} <normalised>\n"));
        } else if name == "siloscope_build_info" {
            let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
            assert!(body.contains(&version), "{body}");
            samples.push(line.replace(&version, "version=\"<version>\""));
        } else {
            samples.push(line.to_string());
        }
    }
    flush(&mut samples, &family, &mut out);
    out
}

#[test]
fn the_demo_metrics_are_the_golden_byte_for_byte() {
    let demo = demo();
    let text = demo.state.exporter.render();
    assert!(text.ends_with("# EOF\n"));
    // A renamed series would slip out of the normalisation: the lists must name what is there.
    for name in WALL_CLOCK_SERIES {
        assert!(text.contains(&format!("\n{name}")), "{name} is not in /metrics: update WALL_CLOCK_SERIES");
    }
    for name in HASH_ORDERED_FAMILIES {
        assert!(text.contains(&format!("# HELP {name} ")), "{name} is not in /metrics: update HASH_ORDERED_FAMILIES");
    }
    assert_all(check_golden("metrics/demo.txt", &normalise_metrics(&text)).err().into_iter().collect());
}

#[test]
fn the_normalisation_only_touches_wall_clock_values_and_hash_ordered_families() {
    let text = "# HELP siloscope_compute_duration_seconds How long.\n\
                # TYPE siloscope_compute_duration_seconds gauge\n\
                siloscope_compute_duration_seconds 0.0123\n\
                siloscope_source_sync_duration_seconds_bucket{le=\"0.1\",source=\"demo\"} 1\n\
                siloscope_source_sync_duration_seconds_count{source=\"demo\"} 1\n\
                siloscope_source_last_success_timestamp_seconds{source=\"demo\"} 1.7e9\n\
                siloscope_source_sync_duration_seconds_sum{source=\"demo\"} 0.5\n\
                siloscope_source_rate_limit_remaining{source=\"demo\"} 4909\n\
                siloscope_last_compute_timestamp_seconds 1.7e9\n\
                siloscope_events_stored 12\n\
                # HELP siloscope_source_errors Errors.\n\
                siloscope_source_errors_total{source=\"demo\",kind=\"loop\"} 0\n\
                siloscope_source_errors_total{source=\"demo\",kind=\"http\"} 0\n\
                # HELP siloscope_handoffs Handoffs.\n\
                siloscope_handoffs_total{source=\"demo\",kind=\"review\"} 2\n\
                siloscope_handoffs_total{source=\"demo\",kind=\"custody\"} 1\n";
    let build = format!("siloscope_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION"));
    let out = normalise_metrics(&format!("{build}{text}"));
    assert_eq!(
        out,
        "siloscope_build_info{version=\"<version>\"} 1\n\
         # HELP siloscope_compute_duration_seconds How long.\n\
         # TYPE siloscope_compute_duration_seconds gauge\n\
         siloscope_compute_duration_seconds <normalised>\n\
         siloscope_source_sync_duration_seconds_bucket{le=\"0.1\",source=\"demo\"} <normalised>\n\
         siloscope_source_sync_duration_seconds_count{source=\"demo\"} 1\n\
         siloscope_source_last_success_timestamp_seconds{source=\"demo\"} <normalised>\n\
         siloscope_source_sync_duration_seconds_sum{source=\"demo\"} <normalised>\n\
         siloscope_source_rate_limit_remaining{source=\"demo\"} 4909\n\
         siloscope_last_compute_timestamp_seconds <normalised>\n\
         siloscope_events_stored 12\n\
         # HELP siloscope_source_errors Errors.\n\
         siloscope_source_errors_total{source=\"demo\",kind=\"http\"} 0\n\
         siloscope_source_errors_total{source=\"demo\",kind=\"loop\"} 0\n\
         # HELP siloscope_handoffs Handoffs.\n\
         siloscope_handoffs_total{source=\"demo\",kind=\"review\"} 2\n\
         siloscope_handoffs_total{source=\"demo\",kind=\"custody\"} 1\n"
    );
}

// ---------------------------------------------------------------------------------------------
// The report of the demo's store, in every format.
// ---------------------------------------------------------------------------------------------

/// The report as `siloscope report` computes it (src/main.rs `report`), made at the demo's now.
fn demo_report(period: siloscope::report::Period) -> siloscope::report::Report {
    use siloscope::report::{self, ReportOptions};
    let demo = demo();
    let store = demo.state.store.lock().unwrap();
    let dir = report::load_directory(&**store, &demo.state.config).unwrap();
    let frame = report::load_frame(&**store, &mut |_| {}).unwrap();
    let history = store.history_starts().unwrap();
    let opts = ReportOptions { history, ..ReportOptions::new(period, demo.now) };
    report::generate(&frame, &dir, &demo.state.config.signals, &opts).unwrap()
}

#[test]
fn the_reports_of_the_demo_are_the_goldens_byte_for_byte() {
    use siloscope::report::{Format, Period, render};
    let mut failures = Vec::new();
    // A month the history covers, compared with the month before (`--period 2026-02`); and the
    // quarter to date (what the demo's /report serves and `report` without a period writes),
    // whose previous quarter the history covers only in part.
    let periods =
        [("2026-02", Period::parse("2026-02").unwrap()), ("quarter-to-date", Period::quarter_to_date(demo().now))];
    for (name, period) in periods {
        let r = demo_report(period);
        assert!(r.has_data, "{name}");
        for (format, ext) in [(Format::Json, "json"), (Format::Markdown, "md"), (Format::Html, "html")] {
            failures.extend(check_golden(&format!("report/{name}.{ext}"), &render(&r, format)).err());
        }
    }
    assert_all(failures);
}

// ---------------------------------------------------------------------------------------------
// The command line: every help text, and representative failures with their exit codes.
// ---------------------------------------------------------------------------------------------

/// Runs the binary in `cwd` and writes down what a user sees: the command, the exit code,
/// stdout and stderr, with `tmp` (a temporary directory) shown as `$TMP` and the crate's version
/// as `<version>`.
fn transcript(args: &[&str], cwd: &Path, tmp: &Path) -> String {
    let out = common::bin().args(args).current_dir(cwd).env_remove("RUST_LOG").output().expect("running siloscope");
    let tmp = tmp.display().to_string();
    let clean =
        |bytes: &[u8]| common::text(bytes).replace(&tmp, "$TMP").replace(env!("CARGO_PKG_VERSION"), "<version>");
    let shown: Vec<String> = args.iter().map(|a| a.replace(&tmp, "$TMP")).collect();
    format!(
        "$ siloscope {}\nexit status: {}\n--- stdout\n{}--- stderr\n{}",
        shown.join(" "),
        out.status.code().map_or("signal".to_string(), |c| c.to_string()),
        clean(&out.stdout),
        clean(&out.stderr),
    )
}

/// The subcommands a help text lists under `Commands:`, `help` left out.
fn listed_subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

#[test]
fn every_help_text_and_representative_failure_is_the_golden() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut produced = BTreeSet::new();
    let mut failures = Vec::new();
    let mut check = |name: String, args: &[&str], cwd: &Path| {
        let file = format!("cli/{name}.txt");
        failures.extend(check_golden(&file, &transcript(args, cwd, t)).err());
        produced.insert(file);
    };

    // Every help text, short (-h) and long (--help), at every level of subcommands.
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = pending.pop() {
        let name = if path.is_empty() { "siloscope".to_string() } else { path.join("-") };
        for flag in ["-h", "--help"] {
            let args: Vec<&str> = path.iter().map(String::as_str).chain([flag]).collect();
            check(format!("help/{name}{flag}"), &args, t);
        }
        let args: Vec<&str> = path.iter().map(String::as_str).chain(["--help"]).collect();
        let help = common::text(&common::bin().args(&args).output().unwrap().stdout);
        for sub in listed_subcommands(&help) {
            pending.push(path.iter().cloned().chain([sub]).collect());
        }
    }
    check("version".into(), &["--version"], t);

    // Representative failures and their exit codes (src/main.rs: 2 usage and config, 1 runtime).
    let bad = t.join("bad.toml");
    std::fs::write(
        &bad,
        r#"[server]
listen_adress = "0.0.0.0:9731"

[signals]
stall_after = "two days"
windows = ["7d", 28]

[[teams]]
name = "payments"
calendar = { utc_offset = "+25:00", days = "mon-fri" }

[[people]]
name = "Alice"
github = "alice"
memberships = [ { team = "paymnets" } ]

[[sources]]
name = "acme"
kind = "jora"
token = "s3cr3t-value"
"#,
    )
    .unwrap();
    let garbage_store = t.join("garbage.db");
    std::fs::write(&garbage_store, vec![0x42u8; 8192]).unwrap();
    let garbage_config = common::sim_config(t, "garbage", &garbage_store, "");
    let (bad, garbage_config) = (bad.to_str().unwrap(), garbage_config.to_str().unwrap());
    let missing = t.join("missing.toml");
    let missing = missing.to_str().unwrap();
    let example = "config/siloscope.example.toml";
    let cases: &[(&str, &[&str])] = &[
        ("check-config-valid-example", &["check-config", "--config", example]),
        ("check-config-many-mistakes", &["check-config", "--config", bad]),
        ("check-config-missing-file", &["check-config", "--config", missing]),
        ("serve-bad-config", &["serve", "--config", bad]),
        ("usage-missing-flag", &["serve"]),
        ("usage-unknown-command", &["no-such-command"]),
        ("usage-unknown-flag", &["check-config", "--config", example, "--no-such-flag"]),
        ("usage-bad-format", &["report", "--config", example, "--format", "pdf"]),
        ("usage-conflicting-flags", &["report", "--config", example, "--period", "2026-Q1", "--from", "2026-01-01"]),
        ("sync-without-once", &["sync", "--config", missing]),
        ("sync-bad-progress-interval", &["sync", "--once", "--config", missing, "--progress-interval", "soon"]),
        ("teams-without-config", &["teams"]),
        ("report-bad-period", &["report", "--config", missing, "--period", "2026-Q5"]),
        ("report-empty-period", &["report", "--config", missing, "--from", "2026-03-31", "--to", "2026-03-01"]),
        ("backfill-zero-step", &["backfill", "--config", missing, "--out", missing, "--step", "0s"]),
        ("backfill-bad-label", &["backfill", "--config", missing, "--out", missing, "--label", "job"]),
        ("demo-bad-speed", &["demo", "--speed", "0"]),
        ("demo-bad-now", &["demo", "--now", "soon"]),
        ("init-bad-jira-flavor", &["init", "--out", missing, "--jira-url", "https://x.test", "--jira-flavor", "x"]),
        ("sync-unreadable-store", &["sync", "--once", "--config", garbage_config]),
    ];
    for (name, args) in cases {
        check(format!("exit/{name}"), args, &root());
    }

    // A golden no case writes any more (a subcommand removed, a case renamed) is stale: an
    // error, or deleted when blessing.
    for dir in ["cli/help", "cli/exit"] {
        for entry in std::fs::read_dir(goldens().join(dir)).unwrap() {
            let entry = entry.unwrap();
            let file = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if produced.contains(&file) {
                continue;
            }
            if blessing() {
                std::fs::remove_file(entry.path()).unwrap();
            } else {
                failures.push(format!("{file}: no case writes this golden any more; delete it"));
            }
        }
    }
    assert_all(failures);
}

// ---------------------------------------------------------------------------------------------
// Dashboards, rules and example configs: checksums of the committed files.
// ---------------------------------------------------------------------------------------------

/// The committed files a user deploys as they are, relative to the repository root, sorted.
fn deployed_files() -> Vec<String> {
    let mut files = Vec::new();
    let mut walk = vec![root().join("dashboards")];
    while let Some(dir) = walk.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root()).unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                // The rules' unit tests are tests, not something deployed.
                if rel != "dashboards/tests" {
                    walk.push(path);
                }
            } else if rel.ends_with(".json") || rel.ends_with(".yaml") || rel.ends_with(".yml") {
                files.push(rel);
            }
        }
    }
    files.push("config/siloscope.example.toml".into());
    files.sort();
    files
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn dashboards_rules_and_example_configs_match_their_checksums() {
    // `sha256sum -c tests/goldens/deployed.sha256` (from the repository root) checks the same.
    let listing: String = deployed_files()
        .iter()
        .map(|rel| format!("{}  {rel}\n", sha256_hex(&std::fs::read(root().join(rel)).unwrap())))
        .collect();
    assert!(
        listing.contains("  dashboards/rules/alerts.yaml\n")
            && listing.contains("  dashboards/siloscope-health.json\n")
    );
    assert_all(check_golden("deployed.sha256", &listing).err().into_iter().collect());
}
