//! End to end with a real Prometheus (Debian's package; tests/run installs it): it scrapes
//! `siloscope serve` over TLS with basic auth, evaluates the shipped rules, and every dashboard
//! query returns data; the stalled-handoff alert is pending for exactly the team pairs the
//! scenario stalls. A second run loads `siloscope backfill` output into Prometheus and checks
//! range queries over the past against the store, and that the past meets the live scrape. A third
//! loads the backfill with the rules `siloscope rules` writes, and an agreement's burn-rate page fires.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get};
use serde_json::Value;
use siloscope::model::{
    Batch, DAY, Event, EventKind, HOUR, HistoryStart, Item, ItemKind, ItemState, MINUTE, ReviewState, Reviewer, Ts,
};
use siloscope::store::Store;

// ---------------------------------------------------------------------------------------------
// The scenario: four teams of three, ten work items over twenty days, written to a store.
// ---------------------------------------------------------------------------------------------

const TEAMS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
/// Markup in a tracker title.
const HOSTILE: &str = "<script>alert('stalled')</script>";

/// (kind, from_team, to_team) of the handoffs the scenario leaves stalled at `now`.
fn stalled_pairs() -> BTreeSet<(String, String, String)> {
    [("reassign", "alpha", "beta"), ("review", "gamma", "delta")]
        .iter()
        .map(|(k, f, t)| (k.to_string(), f.to_string(), t.to_string()))
        .collect()
}

struct Scenario {
    items: Vec<Item>,
    events: Vec<Event>,
}

impl Scenario {
    fn item(&mut self, number: u32, kind: ItemKind, team_repo: &str, author: &str, at: Ts, state: ItemState) -> String {
        let key = format!("gh:acme/{team_repo}#{number}");
        self.items.push(Item {
            key: key.clone(),
            source: "gh".into(),
            kind,
            scope: format!("acme/{team_repo}"),
            url: format!("https://github.example/acme/{team_repo}/issues/{number}"),
            // Tracker text is untrusted: item 1's title must show as text on its page.
            title: if number == 1 { format!("item {number} {HOSTILE}") } else { format!("item {number}") },
            author: Some(format!("github:{author}")),
            created_at: at,
            updated_at: at,
            state,
            issue_type: None,
        });
        self.ev(&key, at, author, EventKind::Opened);
        key
    }

    fn ev(&mut self, item: &str, at: Ts, actor: &str, kind: EventKind) {
        let n = self.events.len();
        self.events.push(Event {
            id: format!("gh:e{n}"),
            item: item.into(),
            at,
            actor: Some(format!("github:{actor}")),
            kind,
        });
    }

    fn label(&mut self, item: &str, at: Ts, actor: &str, label: &str) {
        self.ev(item, at, actor, EventKind::Labeled { label: label.into() });
    }

    fn relabel(&mut self, item: &str, at: Ts, actor: &str, from: &str, to: &str) {
        self.ev(item, at, actor, EventKind::Unlabeled { label: format!("team:{from}") });
        self.label(item, at, actor, &format!("team:{to}"));
    }

    fn comment(&mut self, item: &str, at: Ts, actor: &str) {
        self.ev(item, at, actor, EventKind::Commented { mentions: vec![] });
    }

    fn review(&mut self, item: &str, at: Ts, actor: &str, state: ReviewState) {
        self.ev(item, at, actor, EventKind::Reviewed { state });
    }

    fn close(&mut self, item: &str, at: Ts, actor: &str) {
        self.ev(item, at, actor, EventKind::Closed { completed: true });
    }
}

/// People are `<team>-1` … `<team>-3` (GitHub logins). Times are relative to `t` (now).
fn scenario(t: Ts) -> Scenario {
    use ItemKind::{Issue, PullRequest};
    use ItemState::{Closed, Merged, Open};
    let mut s = Scenario { items: vec![], events: vec![] };

    // 0. A month ago every team works on its own item: all teams are above the privacy floor
    //    (2 active people) through the whole history, so their names show from the start.
    for (n, team) in TEAMS.iter().enumerate() {
        let item = s.item(20 + n as u32, Issue, team, &format!("{team}-1"), t - 30 * DAY, Open);
        s.label(&item, t - 30 * DAY, &format!("{team}-1"), &format!("team:{team}"));
        s.comment(&item, t - 30 * DAY + HOUR, &format!("{team}-2"));
        s.comment(&item, t - 30 * DAY + 2 * HOUR, &format!("{team}-3"));
    }

    // 1. alpha hands an issue to beta 4 days ago; nobody in beta acts (delta comments): stalled.
    let i1 = s.item(1, Issue, "alpha", "alpha-1", t - 5 * DAY, Open);
    s.label(&i1, t - 5 * DAY, "alpha-1", "team:alpha");
    s.relabel(&i1, t - 4 * DAY, "alpha-2", "alpha", "beta");
    s.comment(&i1, t - 3 * DAY, "delta-1");

    // 2. gamma asks delta-1 for a review 3 days ago; no answer: a stalled review handoff.
    let pr2 = s.item(2, PullRequest, "gamma", "gamma-1", t - 3 * DAY, Open);
    s.ev(
        &pr2,
        t - 3 * DAY + HOUR,
        "gamma-1",
        EventKind::ReviewRequested { reviewer: Reviewer::Person("github:delta-1".into()) },
    );

    // 3. beta hands an issue to gamma an hour ago: waiting, not stalled.
    let i3 = s.item(3, Issue, "beta", "beta-1", t - 2 * HOUR, Open);
    s.label(&i3, t - 2 * HOUR, "beta-1", "team:beta");
    s.relabel(&i3, t - HOUR, "beta-2", "beta", "gamma");

    // 4. alpha → gamma 10 days ago, acknowledged after 2 hours; delta comments; done.
    let i4 = s.item(4, Issue, "alpha", "alpha-1", t - 10 * DAY, Closed);
    s.label(&i4, t - 10 * DAY, "alpha-1", "team:alpha");
    s.relabel(&i4, t - 10 * DAY + HOUR, "alpha-1", "alpha", "gamma");
    s.comment(&i4, t - 10 * DAY + 3 * HOUR, "gamma-2");
    s.comment(&i4, t - 9 * DAY, "delta-1");
    s.close(&i4, t - 9 * DAY + 2 * HOUR, "gamma-2");

    // 5. delta → alpha 6 days ago (acked in 30 minutes), alpha sends it back a day later: a
    //    bounce; delta acknowledges within the hour and closes it.
    let i5 = s.item(5, Issue, "delta", "delta-1", t - 6 * DAY, Closed);
    s.label(&i5, t - 6 * DAY, "delta-1", "team:delta");
    s.relabel(&i5, t - 6 * DAY + HOUR, "delta-2", "delta", "alpha");
    s.comment(&i5, t - 6 * DAY + 90 * MINUTE, "alpha-3");
    s.relabel(&i5, t - 5 * DAY, "alpha-3", "alpha", "delta");
    s.comment(&i5, t - 5 * DAY + HOUR, "delta-2");
    s.close(&i5, t - 4 * DAY, "delta-2");

    // 6. beta's pull request reviewed by alpha (3h pickup) and beta, merged: a joint win.
    let pr6 = s.item(6, PullRequest, "beta", "beta-1", t - 6 * DAY, Merged);
    s.ev(
        &pr6,
        t - 6 * DAY,
        "beta-1",
        EventKind::ReviewRequested { reviewer: Reviewer::Person("github:alpha-1".into()) },
    );
    s.review(&pr6, t - 6 * DAY + 3 * HOUR, "alpha-1", ReviewState::Approved);
    s.review(&pr6, t - 6 * DAY + 4 * HOUR, "beta-2", ReviewState::Commented);
    s.ev(&pr6, t - 5 * DAY, "beta-1", EventKind::Merged);

    // 7. alpha's pull request: beta asks for changes (1h pickup), approves, merged, reverted.
    let pr7 = s.item(7, PullRequest, "alpha", "alpha-2", t - 7 * DAY, Merged);
    s.ev(
        &pr7,
        t - 7 * DAY,
        "alpha-2",
        EventKind::ReviewRequested { reviewer: Reviewer::Person("github:beta-3".into()) },
    );
    s.review(&pr7, t - 7 * DAY + HOUR, "beta-3", ReviewState::ChangesRequested);
    s.ev(&pr7, t - 7 * DAY + 2 * HOUR, "alpha-2", EventKind::Committed { co_authors: vec![] });
    s.review(&pr7, t - 6 * DAY, "beta-3", ReviewState::Approved);
    s.ev(&pr7, t - 6 * DAY + HOUR, "alpha-2", EventKind::Merged);
    s.ev(&pr7, t - 2 * DAY, "alpha-2", EventKind::Reverted { by: None });

    // 8. gamma's decision, made 19 days ago and reopened 10 days ago: rehashed.
    let d8 = s.item(8, Issue, "gamma", "gamma-1", t - 20 * DAY, Closed);
    s.label(&d8, t - 20 * DAY, "gamma-1", "team:gamma");
    s.label(&d8, t - 20 * DAY, "gamma-1", "decision");
    s.close(&d8, t - 19 * DAY, "gamma-1");
    s.ev(&d8, t - 10 * DAY, "gamma-2", EventKind::Reopened);
    s.close(&d8, t - 9 * DAY, "gamma-2");

    // 9. delta's decision, made 14 days ago, never revisited.
    let d9 = s.item(9, Issue, "delta", "delta-1", t - 15 * DAY, Closed);
    s.label(&d9, t - 15 * DAY, "delta-1", "team:delta");
    s.label(&d9, t - 15 * DAY, "delta-1", "decision");
    s.close(&d9, t - 14 * DAY, "delta-1");

    // 10. delta asks alpha (an issue in alpha's hands from creation): first response after 5h.
    let i10 = s.item(10, Issue, "alpha", "delta-3", t - 5 * DAY, Open);
    s.label(&i10, t - 5 * DAY, "delta-3", "team:alpha");
    s.comment(&i10, t - 5 * DAY + 5 * HOUR, "alpha-1");
    s.comment(&i10, t - 5 * DAY + 6 * HOUR, "delta-2");
    s
}

/// When the scenario's history starts.
const HISTORY: Ts = 30 * DAY;

/// Writes the scenario's store and a config next to it; returns the config path.
fn write_scenario(dir: &Path, now: Ts) -> PathBuf {
    let store_path = dir.join("siloscope.db");
    let mut store = siloscope::store::SqliteStore::open(&store_path).expect("opening the scenario store");
    let s = scenario(now);
    store
        .commit_batch(&Batch {
            source: "gh".into(),
            items: s.items,
            events: s.events,
            history_start: Some(HistoryStart::From(now - HISTORY)),
            ..Batch::default()
        })
        .expect("committing the scenario");
    let mut cfg = format!("[store]\npath = {:?}\n\n[signals]\nprivacy_floor = 2\n\n", store_path.display().to_string());
    for team in TEAMS {
        cfg.push_str(&format!("[[teams]]\nname = \"{team}\"\n\n"));
        for n in 1..=3 {
            cfg.push_str(&format!("[[people]]\nname = \"{team} {n}\"\ngithub = \"{team}-{n}\"\nteam = \"{team}\"\n\n"));
        }
    }
    // Two working agreements, so the agreements board and rules have series: handoffs to beta
    // within a day (item 1 waits past it: broken), to gamma within 4 hours (item 4 kept it; item
    // 3 waits, an hour in: not decided yet).
    cfg.push_str(
        "[[agreements]]\nname = \"beta-inbound\"\nto_team = \"beta\"\nwithin = \"1d\"\nobjective = \"90%\"\n\n\
         [[agreements]]\nname = \"gamma-inbound\"\nto_team = \"gamma\"\nwithin = \"4h\"\nobjective = \"75%\"\n\n",
    );
    // A small simulated source so the health board has a source to show (its one-person team is
    // folded into `other` and hands nothing off).
    cfg.push_str(
        "[[sources]]\nname = \"sim\"\nkind = \"simulator\"\ninterval = \"5s\"\nseed = 7\nteams = 1\npeople_per_team = 1\n\
         repos_per_team = 1\nitems_per_day = 4\nhistory_days = 2\n",
    );
    let path = dir.join("siloscope.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------
// Processes: siloscope serve and Prometheus, ended (by their own handle) when the test ends.
// ---------------------------------------------------------------------------------------------

struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).unwrap();
        let child =
            cmd.stdout(Stdio::from(file.try_clone().unwrap())).stderr(Stdio::from(file)).spawn().unwrap_or_else(|e| {
                panic!("cannot start {name}: {e}; install Debian's prometheus package (tests/run does)")
            });
        Proc { name, child, log }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- {} log (last lines) ---\n{}", self.name, lines[lines.len().saturating_sub(25)..].join("\n"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PASSWORD: &str = "e2e-secret";

/// Starts `siloscope serve` with TLS and basic auth (web config with a bcrypt hash), under
/// `external_url`'s prefix when given.
fn start_siloscope(dir: &Path, config: &Path, port: u16, external_url: Option<&str>) -> Proc {
    std::fs::write(dir.join("tls.crt"), TEST_CERT).unwrap();
    std::fs::write(dir.join("tls.key"), TEST_KEY).unwrap();
    let hash = bcrypt::hash(PASSWORD, 6).unwrap();
    let web = dir.join("web-config.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  prometheus: '{hash}'\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siloscope"));
    cmd.args(["serve", "--config", config.to_str().unwrap(), "--web.listen-address", &format!("127.0.0.1:{port}")]);
    cmd.args(["--web.config.file", web.to_str().unwrap(), "--log.level", "warn"]);
    if let Some(url) = external_url {
        cmd.args(["--web.external-url", url]);
    }
    Proc::spawn("siloscope", cmd, dir.join("siloscope.log"))
}

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dashboards/rules")
}

/// Starts Prometheus scraping siloscope every second (with and without credentials) and
/// evaluating the shipped rules every second. With `siloscope_url` (siloscope's external URL)
/// it scrapes under its prefix and labels the target with it, as prometheus.example.yml does.
fn start_prometheus(dir: &Path, data: &Path, siloscope_port: u16, port: u16, siloscope_url: Option<&str>) -> Proc {
    let ca = dir.join("tls.crt");
    let target = format!("127.0.0.1:{siloscope_port}");
    let (metrics_path, target_labels) = match siloscope_url {
        Some(url) => (
            format!(
                "{}/metrics",
                url.split_once("://").unwrap().1.split_once('/').map_or("", |(_, p)| p).trim_end_matches('/')
            ),
            format!("\n        labels:\n          siloscope_url: {url:?}"),
        ),
        None => ("metrics".to_string(), String::new()),
    };
    let metrics_path = format!("/{}", metrics_path.trim_start_matches('/'));
    let config = format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {recording:?}
  - {alerts:?}
scrape_configs:
  - job_name: siloscope
    scheme: https
    tls_config:
      ca_file: {ca:?}
    basic_auth:
      username: prometheus
      password: {PASSWORD}
    metrics_path: {metrics_path}
    static_configs:
      - targets: ["{target}"]{target_labels}
  - job_name: siloscope-without-credentials
    scheme: https
    tls_config:
      ca_file: {ca:?}
    metrics_path: {metrics_path}
    static_configs:
      - targets: ["{target}"]
"#,
        recording = rules_dir().join("recording.yaml").display().to_string(),
        alerts = rules_dir().join("alerts.yaml").display().to_string(),
        ca = ca.display().to_string(),
    );
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", path.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=3650d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn");
    let p = Proc::spawn("prometheus", cmd, dir.join("prometheus.log"));
    let started = Instant::now();
    while http_get(port, "/-/ready").map(|(s, _)| s) != Some(200) {
        assert!(started.elapsed() < Duration::from_secs(60), "Prometheus did not become ready\n{}", p.log_tail());
        std::thread::sleep(Duration::from_millis(200));
    }
    p
}

// ---------------------------------------------------------------------------------------------
// The Prometheus HTTP API.
// ---------------------------------------------------------------------------------------------

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn api(port: u16, path: &str) -> Value {
    let (status, body) = http_get(port, path).unwrap_or_else(|| panic!("no answer from Prometheus for {path}"));
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"));
    assert_eq!(status, 200, "{path}: {body}");
    v["data"].clone()
}

/// Instant query at `time` (default now): the result vector.
fn query(port: u16, expr: &str, time: Option<Ts>) -> Vec<Value> {
    let at = time.map(|t| format!("&time={t}")).unwrap_or_default();
    api(port, &format!("/api/v1/query?query={}{at}", encode(expr)))["result"].as_array().unwrap().clone()
}

fn query_range(port: u16, expr: &str, start: Ts, end: Ts, step: Ts) -> Vec<Value> {
    api(port, &format!("/api/v1/query_range?query={}&start={start}&end={end}&step={step}", encode(expr)))["result"]
        .as_array()
        .unwrap()
        .clone()
}

fn value_of(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

fn label<'a>(sample: &'a Value, name: &str) -> &'a str {
    sample["metric"][name].as_str().unwrap_or("")
}

fn label_of<'a>(alert: &'a Value, name: &str) -> &'a str {
    alert["labels"][name].as_str().unwrap_or("")
}

/// GET over TLS (trusting the test certificate), with the password when `auth`: (status, body).
fn https_get(port: u16, path: &str, auth: bool, accept: Option<&str>) -> (u16, String) {
    use base64::Engine as _;
    use rustls::pki_types::pem::PemObject;
    use std::io::{Read, Write};
    let pinned = rustls::pki_types::CertificateDer::pem_slice_iter(TEST_CERT.as_bytes()).next().unwrap().unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(Pinned(pinned.into_owned(), provider)))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("prometheus:{PASSWORD}"));
        head.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    if let Some(a) = accept {
        head.push_str(&format!("Accept: {a}\r\n"));
    }
    tls.write_all(format!("{head}\r\n").as_bytes()).unwrap();
    let mut buf = Vec::new();
    // The server may close without a TLS close_notify after the body: what was read counts.
    let _ = tls.read_to_end(&mut buf);
    let raw = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer for {path}: {raw}"));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    (status, body)
}

/// Trusts exactly the test certificate (self-signed with CA:TRUE, which webpki refuses as a
/// server's own certificate; Prometheus' Go TLS accepts it through `ca_file`).
#[derive(Debug)]
struct Pinned(rustls::pki_types::CertificateDer<'static>, std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the test certificate".into()))
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.1.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.1.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `check` every half second until it returns Ok, or fails with its last error.
fn eventually<T>(what: &str, timeout: Duration, logs: &[&Proc], mut check: impl FnMut() -> Result<T, String>) -> T {
    let started = Instant::now();
    loop {
        match check() {
            Ok(v) => return v,
            Err(e) if started.elapsed() > timeout => {
                let logs: Vec<String> = logs.iter().map(|p| p.log_tail()).collect();
                panic!("{what}: still failing after {timeout:?}: {e}\n{}", logs.join("\n"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dashboard queries (as Grafana would run them, variables set to all teams).
// ---------------------------------------------------------------------------------------------

fn dashboard_queries() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut out = Vec::new();
    for name in [
        "siloscope-retro",
        "siloscope-handoffs",
        "siloscope-reviews",
        "siloscope-decisions",
        "siloscope-agreements",
        "siloscope-health",
    ] {
        let board: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap();
        for p in board["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().into_iter().flatten() {
                let title = format!("{name} / {} / {}", p["title"].as_str().unwrap(), t["refId"].as_str().unwrap());
                out.push((title, t["expr"].as_str().unwrap().to_string()));
            }
        }
    }
    assert!(out.len() >= 60, "only {} panel queries", out.len());
    out
}

fn substitute(expr: &str, range: &str) -> String {
    let mut e = expr.to_string();
    for (var, value) in [
        ("$__rate_interval", "1m"),
        ("$__interval", "1m"),
        ("$__range", range),
        ("$window", "28d"),
        ("$from_team", ".*"),
        ("$to_team", ".*"),
        ("$team", ".*"),
        ("$source", ".*"),
        ("$agreement", ".*"),
    ] {
        e = e.replace(var, value);
    }
    e
}

/// Runs every panel query; Err lists those with no data (or, if `finite`, no finite value).
fn panels_without_data(port: u16, range: &str, finite: bool) -> Result<usize, String> {
    let mut missing = Vec::new();
    let queries = dashboard_queries();
    for (title, expr) in &queries {
        let result = query(port, &substitute(expr, range), None);
        let ok = if finite { result.iter().any(|s| value_of(s).is_finite()) } else { !result.is_empty() };
        if !ok {
            missing.push(format!("{title}: {}", substitute(expr, range)));
        }
    }
    if missing.is_empty() {
        Ok(queries.len())
    } else {
        Err(format!("{} panel queries without data:\n  {}", missing.len(), missing.join("\n  ")))
    }
}

// ---------------------------------------------------------------------------------------------
// Run 1: live scrape, rules, alerts, every panel.
// ---------------------------------------------------------------------------------------------

#[test]
fn prometheus_scrapes_siloscope_with_auth_evaluates_the_rules_and_every_panel_has_data() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let config = write_scenario(dir.path(), now);
    let (siloscope_port, prometheus_port) = (free_port(), free_port());
    // Behind a (pretend) reverse proxy path: every route and link under /siloscope.
    let external = format!("https://127.0.0.1:{siloscope_port}/siloscope");
    let siloscope = start_siloscope(dir.path(), &config, siloscope_port, Some(&external));
    let prometheus =
        start_prometheus(dir.path(), &dir.path().join("data"), siloscope_port, prometheus_port, Some(&external));
    let logs = [&siloscope, &prometheus];

    // Scraped over TLS with the password; refused without it.
    eventually("the scrape jobs report up", Duration::from_secs(120), &logs, || {
        let up: BTreeMap<String, f64> =
            query(prometheus_port, "up", None).iter().map(|s| (label(s, "job").to_string(), value_of(s))).collect();
        match (up.get("siloscope"), up.get("siloscope-without-credentials")) {
            (Some(1.0), Some(0.0)) => Ok(()),
            other => Err(format!("up = {other:?}")),
        }
    });
    // What the refused job met: 401 from siloscope, not a TLS or connection error.
    let targets = api(prometheus_port, "/api/v1/targets");
    let refused = targets["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["labels"]["job"] == "siloscope-without-credentials")
        .unwrap();
    assert!(refused["lastError"].as_str().unwrap().contains("401"), "{refused}");

    // The quiet pair really waits: the alert's silence about it means something.
    eventually("signals are scraped", Duration::from_secs(60), &logs, || {
        let waiting = query(prometheus_port, r#"siloscope_handoffs_waiting{from_team="beta",to_team="gamma"}"#, None);
        if waiting.len() == 1 && value_of(&waiting[0]) == 1.0 { Ok(()) } else { Err(format!("{waiting:?}")) }
    });

    // SiloscopeHandoffStalled is pending (for: 15m) for exactly the stalled pairs, for their team.
    let read_alerts = || -> BTreeSet<(String, String, String)> {
        api(prometheus_port, "/api/v1/alerts")["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == "SiloscopeHandoffStalled")
            .map(|a| {
                assert!(["pending", "firing"].contains(&a["state"].as_str().unwrap()), "{a}");
                assert_eq!(
                    a["labels"]["team"], a["labels"]["to_team"],
                    "the alert goes to the team the handoff waits on: {a}"
                );
                assert_eq!(a["labels"]["severity"], "warning");
                assert!(a["annotations"]["summary"].as_str().unwrap().contains("past the stall threshold"));
                let l = |n: &str| a["labels"][n].as_str().unwrap().to_string();
                (l("kind"), l("from_team"), l("to_team"))
            })
            .collect()
    };
    eventually("SiloscopeHandoffStalled is pending for the stalled pairs", Duration::from_secs(60), &logs, || {
        let alerts = read_alerts();
        if alerts == stalled_pairs() {
            Ok(())
        } else {
            Err(format!("alerts for {alerts:?}, want {:?}", stalled_pairs()))
        }
    });
    // Still exactly those three evaluations later (the rule group's own evaluation clock).
    let last_evaluation = || -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
        let groups = api(prometheus_port, "/api/v1/rules")["groups"].clone();
        let group = groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["rules"].as_array().unwrap().iter().any(|r| r["name"] == "SiloscopeHandoffStalled"))
            .cloned()
            .ok_or("no rule group with SiloscopeHandoffStalled")?;
        chrono::DateTime::parse_from_rfc3339(group["lastEvaluation"].as_str().unwrap_or("")).map_err(|e| e.to_string())
    };
    let matched_at = eventually("the alert rules have been evaluated", Duration::from_secs(30), &logs, last_evaluation);
    eventually("three more evaluations of the alert rules", Duration::from_secs(60), &logs, || {
        let t = last_evaluation()?;
        if t >= matched_at + chrono::Duration::seconds(3) { Ok(()) } else { Err(format!("last evaluation {t}")) }
    });
    assert_eq!(read_alerts(), stalled_pairs());
    // Each alert's `list` annotation, followed (over TLS, with the password): the page lists
    // exactly the stalled handoffs of that pair and kind, as many as the alert's value.
    let stalled_items: BTreeMap<(&str, &str, &str), Vec<&str>> = [
        (("reassign", "alpha", "beta"), vec!["gh:acme/alpha#1"]),
        (("review", "gamma", "delta"), vec!["gh:acme/gamma#2"]),
    ]
    .into_iter()
    .collect();
    let alerts = api(prometheus_port, "/api/v1/alerts")["alerts"].as_array().unwrap().clone();
    let mut followed = 0;
    for a in alerts.iter().filter(|a| a["labels"]["alertname"] == "SiloscopeHandoffStalled") {
        let link = a["annotations"]["list"].as_str().unwrap();
        let (kind, from, to) = (label_of(a, "kind"), label_of(a, "from_team"), label_of(a, "to_team"));
        assert_eq!(
            link,
            format!("{external}/handoffs?to_team={to}&from_team={from}&state=stalled&kind={kind}"),
            "the alert links to its exact list: {a}"
        );
        let path = &link[link.find("/siloscope/").unwrap()..];
        assert_eq!(https_get(siloscope_port, path, false, None).0, 401, "the pages are behind basic auth");
        let (status, body) = https_get(siloscope_port, path, true, Some("application/json"));
        assert_eq!(status, 200, "{link}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        let value: f64 = a["value"].as_str().unwrap().parse().unwrap();
        assert_eq!(page["count"].as_f64(), Some(value), "the list counts what the alert counts: {page:#}");
        let rows = page["handoffs"].as_array().unwrap();
        let keys: Vec<&str> = rows.iter().map(|r| r["item"]["key"].as_str().unwrap()).collect();
        assert_eq!(keys, stalled_items[&(kind, from, to)], "{page:#}");
        for r in rows {
            assert_eq!((r["state"].as_str(), r["kind"].as_str()), (Some("stalled"), Some(kind)), "{r}");
            assert_eq!((r["from_team"].as_str(), r["to_team"].as_str()), (Some(from), Some(to)), "{r}");
        }
        // The HTML page of the same link: the tracker's markup is text, the links absolute.
        let (status, html) = https_get(siloscope_port, path, true, Some("text/html"));
        assert_eq!(status, 200);
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains(&format!("href=\"{external}/handoffs?")), "{html}");
        if keys.contains(&"gh:acme/alpha#1") {
            assert!(html.contains("item 1 &lt;script&gt;alert('stalled')&lt;/script&gt;"), "{html}");
            assert_eq!(rows[0]["item"]["title"], format!("item 1 {HOSTILE}"), "the title round-trips in JSON");
        }
        followed += 1;
    }
    assert_eq!(followed, stalled_pairs().len());

    let pending = api(prometheus_port, "/api/v1/alerts")["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "pending")
        .count();
    assert!(pending >= 2, "the stalled alerts wait out their `for` as pending");

    // Every dashboard query returns data once the rules have been evaluated.
    let checked = eventually("every dashboard panel query returns data", Duration::from_secs(90), &logs, || {
        panels_without_data(prometheus_port, "1d", false)
    });
    assert!(checked >= 60);
}

// ---------------------------------------------------------------------------------------------
// Run 2: backfill → promtool blocks → Prometheus; the past against the store.
// ---------------------------------------------------------------------------------------------

/// `name{labels sorted}` of a Prometheus result, without the scrape target's labels.
fn series_key(metric: &Value) -> String {
    let m = metric.as_object().unwrap();
    let labels: BTreeMap<&str, &str> = m
        .iter()
        .filter(|(k, _)| !["__name__", "job", "instance"].contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    let body: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}{{{}}}", m["__name__"].as_str().unwrap(), body.join(","))
}

fn is_cumulative(key: &str) -> bool {
    let name = key.split('{').next().unwrap();
    ["_total", "_bucket", "_count", "_sum"].iter().any(|s| name.ends_with(s))
}

fn key_of(name: &str, labels: &str) -> String {
    // `labels` is rendered `a="x",b="y"`: sort the pairs.
    let mut pairs: Vec<&str> = if labels.is_empty() { vec![] } else { labels.split("\",").collect() };
    let mut owned: Vec<String> =
        pairs.drain(..).map(|p| if p.ends_with('"') { p.to_string() } else { format!("{p}\"") }).collect();
    owned.sort();
    format!("{name}{{{}}}", owned.join(","))
}

/// Every §9 sample the live exporter would serve at `t`: the engine's signals at `t`, encoded by
/// the exporter the daemon scrapes from (prometheus-client), not by the backfill under test, and
/// keyed by this test like [`series_key`].
fn expected_at(
    analysis: &siloscope::signals::Analysis,
    frame: &siloscope::signals::Frame,
    dir: &siloscope::teams::Directory,
    cfg: &siloscope::signals::SignalsConfig,
    t: Ts,
) -> BTreeMap<String, f64> {
    let exporter = siloscope::exporter::Exporter::new();
    let signals = siloscope::signals::aggregate(analysis, frame, dir, cfg, t);
    exporter.publish(siloscope::exporter::Snapshot { signals, ..Default::default() });
    let mut out = BTreeMap::new();
    for line in exporter.render().lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.strip_suffix('}').unwrap()),
            None => (series, ""),
        };
        // The signal families of SIGNALS.md §9 (the daemon's health families excluded).
        let signal = siloscope_catalogue::SIGNAL_FAMILIES.iter().any(|f| f.names_sample(name));
        if signal {
            out.insert(key_of(name, labels), value.parse().unwrap());
        }
    }
    assert!(out.keys().any(|k| k.starts_with("siloscope_team_members{")), "the exporter's series at {t}");
    out
}

#[test]
fn backfilled_history_loads_into_prometheus_matches_the_store_and_meets_the_live_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let config = write_scenario(dir.path(), now);
    let (siloscope_port, prometheus_port) = (free_port(), free_port());
    let instance = format!("127.0.0.1:{siloscope_port}");

    // siloscope backfill → OpenMetrics with the scrape target's labels.
    let om = dir.path().join("backfill.om");
    let out = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["backfill", "--config", config.to_str().unwrap(), "--out", om.to_str().unwrap(), "--step", "1h"])
        .args(["--label", "job=siloscope", "--label", &format!("instance={instance}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "backfill failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&om).unwrap();
    assert!(text.ends_with("# EOF\n"));
    let backfill_now: Ts = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<Ts>().unwrap())
        .max()
        .unwrap();
    assert!(backfill_now >= now && backfill_now < now + 600, "the last point is the backfill's now");

    // promtool turns it into blocks in Prometheus' data directory.
    let data = dir.path().join("data");
    let (ok, log) = {
        let o = Command::new("promtool")
            .args([
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--max-block-duration=744h",
                om.to_str().unwrap(),
                data.to_str().unwrap(),
            ])
            .output()
            .expect("running promtool (install Debian's prometheus package; tests/run does)");
        (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    };
    assert!(ok, "promtool rejects the backfill:\n{log}");

    // What the engine says over the same store at every step of the backfill, computed now,
    // before siloscope serve starts (its simulated source then adds a team and events).
    let steps = siloscope::backfill::step_times(now - HISTORY, HOUR, backfill_now);
    let expected: Vec<(Ts, BTreeMap<String, f64>)> = {
        let cfg = siloscope::config::Config::load(&config).unwrap();
        let store = siloscope::daemon::open_store(&cfg).unwrap();
        let state =
            siloscope::daemon::State::new(cfg, store, std::sync::Arc::new(siloscope::sources::http::SystemClock))
                .unwrap();
        let directory = state.directory();
        let mut frame = state.frame.lock().unwrap();
        frame.prepare();
        let analysis = siloscope::signals::analyze(&frame, &directory, &state.config.signals, backfill_now);
        steps.iter().map(|&t| (t, expected_at(&analysis, &frame, &directory, &state.config.signals, t))).collect()
    };

    let siloscope = start_siloscope(dir.path(), &config, siloscope_port, None);
    let prometheus = start_prometheus(dir.path(), &data, siloscope_port, prometheus_port, None);
    let logs = [&siloscope, &prometheus];

    // Hand-worked history: alpha handed item 1 to beta at now-4d; it stalls 2 days later.
    let hour = |t: Ts| t.div_euclid(HOUR) * HOUR;
    let (start, end) = (hour(now - 5 * DAY) + HOUR, hour(now - HOUR));
    let pair = r#"{kind="reassign",from_team="alpha",to_team="beta"}"#;
    let stalled = query_range(prometheus_port, &format!("siloscope_handoffs_stalled{pair}"), start, end, HOUR);
    assert_eq!(stalled.len(), 1, "one series, with the scrape target's labels: {stalled:?}");
    assert_eq!(label(&stalled[0], "job"), "siloscope");
    let mut seen = [0; 2];
    for point in stalled[0]["values"].as_array().unwrap() {
        let t = point[0].as_f64().unwrap() as Ts;
        let v: f64 = point[1].as_str().unwrap().parse().unwrap();
        assert!(t >= now - 4 * DAY, "the pair exists only from its first handoff (point at {t})");
        assert_eq!(v, if t - (now - 4 * DAY) > 2 * DAY { 1.0 } else { 0.0 }, "stalled at now{:+}s", t - now);
        seen[v as usize] += 1;
    }
    // Hourly from its handoff at now-4d to now-1h: about two days waiting, then two days stalled.
    assert!(seen[0] >= 40 && seen[1] >= 40, "hourly points (not stalled, stalled): {seen:?}");
    // gamma's decision was reopened at now-10d; the counter is 0 the step before it first shows,
    // so increase() counts that first rehash.
    let rehashed = query_range(
        prometheus_port,
        r#"siloscope_decisions_rehashed_total{team="gamma"}"#,
        hour(now - 15 * DAY),
        end,
        HOUR,
    );
    let points = rehashed[0]["values"].as_array().unwrap();
    assert_eq!(points[0][1], "0");
    assert!(points[0][0].as_f64().unwrap() as Ts >= now - 10 * DAY - HOUR);
    assert!(points.len() > 10 * 24 - 3, "hourly points from the rehash at now-10d: {}", points.len());
    for point in &points[1..] {
        assert!(point[0].as_f64().unwrap() as Ts >= now - 10 * DAY);
        assert_eq!(point[1], "1");
    }
    let increase =
        query(prometheus_port, r#"increase(siloscope_decisions_rehashed_total{team="gamma"}[28d])"#, Some(end));
    assert!((value_of(&increase[0]) - 1.0).abs() < 0.1, "increase() sees the first rehash: {increase:?}");
    let reciprocity = query_range(
        prometheus_port,
        r#"siloscope_review_reciprocity_ratio{team_a="alpha",team_b="beta",window="28d"}"#,
        hour(now - 8 * DAY),
        end,
        HOUR,
    );
    let mut seen = [0; 2];
    for point in reciprocity[0]["values"].as_array().unwrap() {
        let t = point[0].as_f64().unwrap() as Ts;
        // beta-3 reviewed alpha's pull request at now-7d+1h and now-6d; alpha-1 reviewed beta's at
        // now-6d+3h: 0 (only beta gives) until then, then 1 given against 2.
        assert!(
            t >= now - 7 * DAY + HOUR,
            "no reciprocity before the first cross-team review (point at now{:+}s)",
            t - now
        );
        let want = if t >= now - 6 * DAY + 3 * HOUR { 0.5 } else { 0.0 };
        assert_eq!(point[1].as_str().unwrap().parse::<f64>().unwrap(), want, "reciprocity at now{:+}s", t - now);
        seen[(want * 2.0) as usize] += 1;
    }
    // 0 for the 21 or 22 hours between the two first reviews, then 0.5 for about six days.
    assert!(seen[0] >= 20 && seen[1] >= 5 * 24, "hourly points (0, 0.5): {seen:?}");

    // Every §9 series at every step of the past (hourly from the first event, then the backfill's
    // now), against the engine over the same store.
    let (first, last) = (steps[0], steps[steps.len() - 2]);
    let samples: Vec<String> = siloscope_catalogue::SIGNAL_FAMILIES.iter().flat_map(|f| f.sample_names()).collect();
    let selector = format!(r#"{{__name__=~"({})"}}"#, samples.join("|"));
    let mut got: BTreeMap<Ts, BTreeMap<String, f64>> = BTreeMap::new();
    for s in query_range(prometheus_port, &selector, first, last, HOUR) {
        for point in s["values"].as_array().unwrap() {
            let t = point[0].as_f64().unwrap() as Ts;
            got.entry(t).or_default().insert(series_key(&s["metric"]), point[1].as_str().unwrap().parse().unwrap());
        }
    }
    // The last point, at the backfill's now (an instant query there looks back, not forward).
    for s in query(prometheus_port, &selector, Some(backfill_now)) {
        got.entry(backfill_now).or_default().insert(series_key(&s["metric"]), value_of(&s));
    }
    let mut compared = 0;
    for (t, want) in &expected {
        let t = *t;
        let have = got.remove(&t).unwrap_or_default();
        let want_keys: BTreeSet<&String> = want.keys().collect();
        // Beyond the engine's series, only the zero points before a counter or histogram first shows.
        let have_keys: BTreeSet<&String> = have
            .iter()
            .filter(|(k, v)| !(**v == 0.0 && !want.contains_key(*k) && is_cumulative(k)))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(have_keys, want_keys, "series at now{:+}s differ", t - now);
        for (k, v) in want {
            assert!(
                (have[k] - v).abs() <= 1e-9 * v.abs().max(1.0),
                "{k} at now{:+}s: Prometheus {} vs store {v}",
                t - now,
                have[k]
            );
            compared += 1;
        }
    }
    assert!(compared > 10_000, "only {compared} points compared");

    // The past meets the live scrape: the backfill's last point and the first scraped samples are
    // one series with one value (no event happened in between). An instant query looks back 5
    // minutes and could answer with the backfilled point itself, so read the raw samples (a range
    // selector) and wait for one stamped after the backfill's end: that one was scraped.
    let handoffs = format!("siloscope_handoffs_total{pair}");
    let (series, samples) =
        eventually("a scraped sample after the backfill's end", Duration::from_secs(120), &logs, || {
            let raw = query(prometheus_port, &format!("{handoffs}[1h]"), None);
            let [one] = raw.as_slice() else { return Err(format!("not one series: {raw:?}")) };
            let samples: Vec<(f64, f64)> = one["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().parse().unwrap()))
                .collect();
            if samples.iter().any(|(t, _)| *t > backfill_now as f64) {
                Ok((one["metric"].clone(), samples))
            } else {
                Err(format!("no sample after {backfill_now} yet: {samples:?}"))
            }
        });
    let at_backfill = query(prometheus_port, &handoffs, Some(backfill_now));
    assert_eq!(at_backfill.len(), 1);
    assert_eq!(at_backfill[0]["metric"], series, "backfilled and scraped series are the same series");
    let backfilled: Vec<f64> = samples.iter().filter(|(t, _)| *t == backfill_now as f64).map(|s| s.1).collect();
    let scraped: Vec<f64> = samples.iter().filter(|(t, _)| *t > backfill_now as f64).map(|s| s.1).collect();
    assert_eq!(backfilled, vec![value_of(&at_backfill[0])], "the backfill's last point is among the raw samples");
    assert!(scraped.iter().all(|v| *v == backfilled[0]), "scraped {scraped:?} vs backfilled {backfilled:?}");
    assert_eq!(backfilled[0], 1.0);
    // On a 15 s grid from the backfill's now - 2 h, past the first scraped sample (a grid point
    // there reads a scraped value, the ones before read backfilled points).
    let first_scraped = samples.iter().map(|s| s.0).find(|t| *t > backfill_now as f64).unwrap().ceil() as Ts;
    let across = query_range(
        prometheus_port,
        &format!("siloscope_handoffs_stalled{pair}"),
        backfill_now - 2 * HOUR,
        chrono::Utc::now().timestamp().max(first_scraped + 15),
        15,
    );
    assert_eq!(across.len(), 1, "one series across the junction: {across:?}");
    let values = across[0]["values"].as_array().unwrap();
    let side = |after: bool| values.iter().filter(|p| (p[0].as_f64().unwrap() > backfill_now as f64) == after).count();
    assert!(side(false) > 0 && side(true) > 0, "points on both sides of the junction: {across:?}");
    assert!(values.iter().all(|p| p[1] == "1"), "no jump at the junction: {across:?}");

    // With the past loaded, every panel query has a real (finite) value over a 28-day range.
    eventually("every dashboard panel query has a finite value", Duration::from_secs(90), &logs, || {
        panels_without_data(prometheus_port, "28d", true)
    });
}

/// The self-signed test certificate (127.0.0.1 and localhost, valid until 2126) and its key.
const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBpTCCAUugAwIBAgIUMVSGp5BsexOWrs4qpXiXwpzs0jMwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOc2lsb3Njb3BlIHRlc3QwIBcNMjYxMTIyMDMzODM1WhgPMjEy
NjEwMjkwMzM4MzVaMBkxFzAVBgNVBAMMDnNpbG9zY29wZSB0ZXN0MFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEp+MqQy8hWYefLo7FDKd8A7uNwt46GArnPyIOab1a
ho4n3JVncvTEDn0h0LAm879XvMXNCNGa41qrDIH0bztWBaNvMG0wHQYDVR0OBBYE
FLbIWa5lA+QZt6Q5ZbZClYZ3Xm/JMB8GA1UdIwQYMBaAFLbIWa5lA+QZt6Q5ZbZC
lYZ3Xm/JMA8GA1UdEwEB/wQFMAMBAf8wGgYDVR0RBBMwEYIJbG9jYWxob3N0hwR/
AAABMAoGCCqGSM49BAMCA0gAMEUCIQCMCf5X12brjzrPQgWmeP/iIxdJwrw8Zc8m
tifozr6yCQIgfpSkmM9N9ahkEQ4q/W6ba42U+a4LTgplr5bdhqzEBLM=
-----END CERTIFICATE-----
";
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHG+oPK8xrWH69XVU
oshWOGLABX7ulw48xlbrett2jGyhRANCAASn4ypDLyFZh58ujsUMp3wDu43C3joY
Cuc/Ig5pvVqGjifclWdy9MQOfSHQsCbzv1e8xc0I0ZrjWqsMgfRvO1YF
-----END PRIVATE KEY-----
";

#[test]
fn backfill_refuses_bad_arguments_with_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, format!("[store]\npath = {:?}\n", dir.path().join("s.db").display().to_string())).unwrap();
    let out = dir.path().join("out.om");
    for (args, needle) in [
        (vec!["--step", "0s"], "--step"),
        (vec!["--step", "an hour"], "--step"),
        (vec!["--since", "2999-01-01"], "future"),
        (vec!["--since", "yesterday"], "--since"),
        (vec!["--label", "team=payments"], "already a label"),
        (vec!["--label", "job"], "NAME=VALUE"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_siloscope"))
            .args(["backfill", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
    }
    // An empty store backfills to an exposition with no series.
    let o = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["backfill", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "# EOF\n");
}

// ---------------------------------------------------------------------------------------------
// Run 3: the rules `siloscope rules` writes fire in Prometheus on the backfilled history.
// ---------------------------------------------------------------------------------------------

#[test]
fn generated_agreement_rules_fire_in_prometheus_on_the_backfilled_history() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let config = write_scenario(dir.path(), now);
    // Alpha handed item 1 to beta at now-4d and no one in beta acted: under a promise of 95 hours
    // it breaks at now-1h, the only handoff to beta decided in any alert window. Burn rate over
    // 2h, 1d, 3d and 7d: (1 / 1) / (1 − 0.9) = 10, above every factor: the 1d/2h page fires.
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[[agreements]]").unwrap();
    let end = text.find("[[sources]]").unwrap();
    let text = format!(
        "{}[[agreements]]\nname = \"beta-inbound\"\nto_team = \"beta\"\nwithin = \"95h\"\nobjective = \"90%\"\n\n{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(&config, text).unwrap();

    let rules = dir.path().join("agreements.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["rules", "--config", config.to_str().unwrap(), "--out", rules.to_str().unwrap()])
        .args(["--web.external-url", "https://siloscope.e2e:9731"])
        .output()
        .unwrap();
    assert!(out.status.success(), "siloscope rules: {}", String::from_utf8_lossy(&out.stderr));

    let om = dir.path().join("backfill.om");
    let out = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["backfill", "--config", config.to_str().unwrap(), "--out", om.to_str().unwrap(), "--step", "10m"])
        .args(["--label", "job=siloscope", "--label", "instance=siloscope.e2e:9731"])
        .output()
        .unwrap();
    assert!(out.status.success(), "backfill failed: {}", String::from_utf8_lossy(&out.stderr));
    let data = dir.path().join("data");
    let o = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h"])
        .args([om.to_str().unwrap(), data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    // Prometheus with the generated rules only, scraping nothing: the rules read the history.
    let port = free_port();
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!("global:\n  evaluation_interval: 1s\nrule_files:\n  - {:?}\n", rules.display().to_string()),
    )
    .unwrap();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", prom_config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=3650d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn");
    let prometheus = Proc::spawn("prometheus", cmd, dir.path().join("prometheus.log"));
    let started = Instant::now();
    while http_get(port, "/-/ready").map(|(s, _)| s) != Some(200) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Prometheus did not become ready\n{}",
            prometheus.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let firing = eventually("the 1d/2h burn-rate page for beta fires", Duration::from_secs(60), &[&prometheus], || {
        let alerts = api(port, "/api/v1/alerts")["alerts"].as_array().unwrap().clone();
        let firing: Vec<Value> = alerts.into_iter().filter(|a| a["state"] == "firing").collect();
        if firing.iter().any(|a| label_of(a, "alertname") == "SiloscopeAgreementBudgetBurn1d2h") {
            Ok(firing)
        } else {
            Err(format!("firing: {firing:?}"))
        }
    });
    let page = firing.iter().find(|a| label_of(a, "alertname") == "SiloscopeAgreementBudgetBurn1d2h").unwrap();
    assert_eq!(label_of(page, "team"), "beta");
    assert_eq!(label_of(page, "severity"), "critical");
    assert_eq!(label_of(page, "agreement"), "beta-inbound");
    assert_eq!(
        page["annotations"]["list"], "https://siloscope.e2e:9731/handoffs?agreement=beta-inbound&state=broken",
        "{page}"
    );
    let burn = query(port, "agreement_to_team:siloscope_agreement_burn_rate:ratio_2h", None);
    assert_eq!(burn.len(), 1, "{burn:?}");
    assert!(value_of(&burn[0]) > 7.0, "{burn:?}");
}
