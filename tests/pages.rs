//! The drill-down pages served by the daemon's router: under `--web.external-url`'s prefix, behind
//! the web config's basic auth, the list's count equal to its metric, tracker text shown as text
//! in HTML and kept as it is in JSON, and the JSON valid against docs/schemas/handoffs.v1.json.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use siloscope::config::Config;
use siloscope::model::{Batch, DAY, Event, EventKind, HOUR, Item, ItemKind, ItemState, Ts};
use siloscope::pages::ExternalUrl;
use siloscope::sources::http::Clock;
use siloscope::store::Store;

const HOSTILE_TITLE: &str = "Fix <script>alert('x')</script> & \"quotes\"";
const PASSWORD: &str = "pages-secret";

/// A clock stopped at one instant.
struct Stopped(Ts);
impl Clock for Stopped {
    fn now(&self) -> f64 {
        self.0 as f64
    }
    fn sleep(&self, d: Duration) -> siloscope::sources::http::BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

fn item(key: &str, repo: &str, title: &str, at: Ts) -> Item {
    Item {
        key: key.into(),
        source: "gh".into(),
        kind: ItemKind::Issue,
        scope: format!("acme/{repo}"),
        url: format!("https://github.example/acme/{repo}/issues/{}", key.rsplit('#').next().unwrap()),
        title: title.into(),
        author: Some("github:alpha-1".into()),
        created_at: at,
        updated_at: at,
        state: ItemState::Open,
        issue_type: None,
    }
}

fn ev(events: &mut Vec<Event>, item: &str, at: Ts, actor: &str, kind: EventKind) {
    let id = format!("gh:e{}", events.len());
    events.push(Event { id, item: item.into(), at, actor: Some(format!("github:{actor}")), kind });
}

/// alpha hands three issues to beta: two 4 days ago (stalled, one with a hostile title), one an
/// hour ago (waiting). Every team has three active people.
fn state(dir: &Path, now: Ts) -> Arc<siloscope::daemon::State> {
    state_with(dir, now, 2, "")
}

/// [`state`] with another privacy floor and more config (a `[server]` table, say).
fn state_with(dir: &Path, now: Ts, floor: u32, more: &str) -> Arc<siloscope::daemon::State> {
    let store_path = dir.join("s.db");
    let mut store = siloscope::store::SqliteStore::open(&store_path).unwrap();
    let (mut items, mut events) = (Vec::new(), Vec::new());
    for team in ["alpha", "beta"] {
        let key = format!("gh:acme/{team}#100");
        items.push(item(&key, team, "own work", now - 20 * DAY));
        for n in 1..=3 {
            ev(
                &mut events,
                &key,
                now - 20 * DAY + n * HOUR,
                &format!("{team}-{n}"),
                EventKind::Commented { mentions: vec![] },
            );
        }
    }
    for (n, title, at) in [(1, HOSTILE_TITLE, now - 4 * DAY), (2, "plain", now - 4 * DAY), (3, "fresh", now - HOUR)] {
        let key = format!("gh:acme/alpha#{n}");
        items.push(item(&key, "alpha", title, at - HOUR));
        ev(&mut events, &key, at - HOUR, "alpha-1", EventKind::Opened);
        ev(&mut events, &key, at - HOUR, "alpha-1", EventKind::Labeled { label: "team:alpha".into() });
        ev(&mut events, &key, at, "alpha-2", EventKind::Unlabeled { label: "team:alpha".into() });
        ev(&mut events, &key, at, "alpha-2", EventKind::Labeled { label: "team:beta".into() });
    }
    // alpha hands #4 to beta 3 days ago; beta acknowledges 2 hours later and sends it back a
    // day later (a bounce; the way back waits on alpha).
    let key = "gh:acme/alpha#4".to_string();
    items.push(item(&key, "alpha", "bounced <script>alert(4)</script> one", now - 4 * DAY));
    ev(&mut events, &key, now - 4 * DAY, "alpha-1", EventKind::Opened);
    ev(&mut events, &key, now - 4 * DAY, "alpha-1", EventKind::Labeled { label: "team:alpha".into() });
    ev(&mut events, &key, now - 3 * DAY, "alpha-2", EventKind::Unlabeled { label: "team:alpha".into() });
    ev(&mut events, &key, now - 3 * DAY, "alpha-2", EventKind::Labeled { label: "team:beta".into() });
    ev(&mut events, &key, now - 3 * DAY + 2 * HOUR, "beta-1", EventKind::Commented { mentions: vec![] });
    ev(&mut events, &key, now - 2 * DAY, "beta-2", EventKind::Unlabeled { label: "team:beta".into() });
    ev(&mut events, &key, now - 2 * DAY, "beta-2", EventKind::Labeled { label: "team:alpha".into() });
    // beta's pull request: alpha-1 asked for a review 6 days ago, approves 3 hours later.
    let key = "gh:acme/beta#20".to_string();
    items.push(Item {
        kind: ItemKind::PullRequest,
        author: Some("github:beta-1".into()),
        ..item(&key, "beta", "Faster <i>builds</i> <script>alert(20)</script>", now - 6 * DAY)
    });
    ev(&mut events, &key, now - 6 * DAY, "beta-1", EventKind::Opened);
    ev(
        &mut events,
        &key,
        now - 6 * DAY,
        "beta-1",
        EventKind::ReviewRequested { reviewer: siloscope::model::Reviewer::Person("github:alpha-1".into()) },
    );
    ev(
        &mut events,
        &key,
        now - 6 * DAY + 3 * HOUR,
        "alpha-1",
        EventKind::Reviewed { state: siloscope::model::ReviewState::Approved },
    );
    // alpha's decisions: one made 9 days ago and reopened 5 days ago (rehashed), one standing.
    for (n, title, made, reopened) in [
        (10, "Adopt <b>gRPC</b> <script>alert(10)</script>", now - 9 * DAY, Some(now - 5 * DAY)),
        (11, "Keep REST", now - 7 * DAY, None),
    ] {
        let key = format!("gh:acme/alpha#{n}");
        items.push(item(&key, "alpha", title, made - DAY));
        ev(&mut events, &key, made - DAY, "alpha-1", EventKind::Opened);
        ev(&mut events, &key, made - DAY, "alpha-1", EventKind::Labeled { label: "team:alpha".into() });
        ev(&mut events, &key, made - DAY, "alpha-1", EventKind::Labeled { label: "decision".into() });
        ev(&mut events, &key, made, "alpha-2", EventKind::Closed { completed: true });
        if let Some(at) = reopened {
            ev(&mut events, &key, at, "alpha-3", EventKind::Reopened);
        }
    }
    store.commit_batch(&Batch { source: "gh".into(), items, events, ..Batch::default() }).unwrap();
    let mut cfg =
        format!("[store]\npath = {:?}\n\n[signals]\nprivacy_floor = {floor}\n\n", store_path.display().to_string());
    for team in ["alpha", "beta"] {
        cfg.push_str(&format!("[[teams]]\nname = \"{team}\"\n\n"));
        for n in 1..=3 {
            cfg.push_str(&format!("[[people]]\nname = \"{team} {n}\"\ngithub = \"{team}-{n}\"\nteam = \"{team}\"\n\n"));
        }
    }
    // beta promises alpha to acknowledge within a day: #1 and #2 (4 days ago, never) broke it 3
    // days ago, #4 (3 days ago, acknowledged 2 hours later) kept it, #3 (an hour ago) is undecided.
    cfg.push_str(
        "[[agreements]]\nname = \"beta-from-alpha\"\nto_team = \"beta\"\nfrom_teams = [\"alpha\"]\nwithin = \"1d\"\nobjective = \"90%\"\n\n",
    );
    cfg.push_str(more);
    let config = Config::parse(&cfg, Path::new("siloscope.toml")).unwrap();
    let state = siloscope::daemon::State::new(config, Box::new(store), Arc::new(Stopped(now))).unwrap();
    state.recompute_now().unwrap();
    state
}

/// GET with optional basic auth and Accept; returns (status, content type, body).
fn get(port: u16, path: &str, auth: bool, accept: Option<&str>) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("viewer:{PASSWORD}"));
        head.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    if let Some(a) = accept {
        head.push_str(&format!("Accept: {a}\r\n"));
    }
    write!(s, "{head}\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let raw = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_string))
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

/// Checks `value` against the JSON Schema subset docs/schemas uses (type with null unions,
/// required, properties, additionalProperties: false, items, enum, minimum); errors name the path.
fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{path}: {value} is not of type {types:?}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        errors.push(format!("{path}: {value} is not one of {e:?}"));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64())
        && n < min
    {
        errors.push(format!("{path}: {n} < {min}"));
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if !obj.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{path}: missing {}", r.as_str().unwrap()));
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, v, &format!("{path}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: unexpected property {k}"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(items, v, &format!("{path}[{i}]"), errors);
        }
    }
}

fn schema() -> Value {
    schema_of("handoffs")
}

fn schema_of(page: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/schemas/{page}.v1.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let s = schema();
    let mut errors = Vec::new();
    let bad = serde_json::json!({"schema": "siloscope.handoffs.v2", "now": 3, "url": "u", "filters": {"colour": "x"},
        "count": -1, "truncated": false, "handoffs": [{"item": {}}]});
    validate(&s, &bad, "$", &mut errors);
    for expected in
        ["$.schema", "$.now", "$.filters: unexpected property colour", "$.count", "$.handoffs[0]: missing kind"]
    {
        assert!(errors.iter().any(|e| e.starts_with(expected)), "{expected} in {errors:#?}");
    }
}

/// The value of the one series of `family` with exactly these labels in the daemon's /metrics.
fn metric(text: &str, family: &str, labels: &str) -> f64 {
    let prefix = format!("{family}{{{labels}}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("{prefix} in\n{text}")).parse().unwrap()
}

/// Serves `state`'s routes under https://proxy.example/siloscope/ with basic auth (plain HTTP: the
/// TLS of the web config is the e2e test's); the runtime serves until dropped.
fn serve(state: &Arc<siloscope::daemon::State>) -> (tokio::runtime::Runtime, u16) {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let web =
        siloscope::webconfig::parse(&format!("basic_auth_users:\n  viewer: '{hash}'\n"), Path::new("w.yml")).unwrap();
    let base = ExternalUrl::parse("https://proxy.example/siloscope/").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let routes = siloscope::server::Routes {
        exporter: state.exporter.clone(),
        ready: Arc::new(|| Ok(())),
        report: None,
        pages: Some(state.pages.clone()),
        base: Arc::new(base),
    };
    rt.spawn(siloscope::server::serve_secured(
        listener,
        routes,
        state.connections.clone(),
        Some(Arc::new(web)),
        std::future::pending(),
    ));
    (rt, port)
}

/// Headless Chromium (tests/run installs it) dumps the DOM of `page`; returns (DOM, console lines).
fn chromium_dom(page: &Path) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium is not installed: run the suite with tests/run, which installs it");
    // Read both pipes to their ends on threads (the DOM can exceed a pipe's buffer).
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let dom = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let status = child.wait().unwrap();
    let (dom, log) = (dom.join().unwrap(), log.join().unwrap());
    assert!(status.success(), "chromium failed: {log}");
    let console = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("console.error"))
        .map(str::to_string)
        .collect();
    (dom, console)
}

#[test]
fn chromium_renders_every_page_without_a_console_error_and_the_hostile_title_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), 1_767_225_600 + 40 * DAY);
    let (_rt, port) = serve(&state);
    let (status, _, html) = get(port, "/siloscope/handoffs?to_team=beta", true, Some("text/html"));
    assert_eq!(status, 200);
    // The check sees console errors at all: a page that makes one is caught.
    let bad = dir.path().join("bad.html");
    std::fs::write(&bad, "<!doctype html><p>x</p><script>console.error('boom')</script>").unwrap();
    assert!(!chromium_dom(&bad).1.is_empty(), "the console check must catch a page's error");
    let page = dir.path().join("handoffs.html");
    std::fs::write(&page, &html).unwrap();
    let (dom, console) = chromium_dom(&page);
    assert_eq!(console, Vec::<String>::new());
    // Rendered: three rows, the title a text node (serialised escaped), no script element.
    assert_eq!(dom.matches("<tr class=\"handoff\">").count(), 4, "{dom}");
    assert!(!dom.contains("<script"), "{dom}");
    assert!(dom.contains("Fix &lt;script&gt;alert('x')&lt;/script&gt;"), "{dom}");
    // Every other page kind (an agreement's list, reviews, the decision log, an item's story):
    // rendered without a console error, no script element, the tracker's markup as text.
    for (path, _) in EVERY_PAGE.iter().filter(|(p, _)| *p != "/siloscope/handoffs") {
        let (status, _, html) = get(port, path, true, Some("text/html"));
        assert_eq!(status, 200, "{path}");
        let page = dir.path().join("page.html");
        std::fs::write(&page, &html).unwrap();
        let (dom, console) = chromium_dom(&page);
        assert_eq!(console, Vec::<String>::new(), "{path}");
        assert!(dom.contains("<table"), "{path}: {dom}");
        assert!(!dom.contains("<script"), "{path}: {dom}");
        assert!(dom.contains("&lt;script&gt;"), "{path}: the title is a text node: {dom}");
    }
}

#[test]
fn pages_are_served_under_the_prefix_with_basic_auth_count_what_the_metric_counts_and_escape_tracker_text() {
    let dir = tempfile::tempdir().unwrap();
    let now = 1_767_225_600 + 40 * DAY;
    let state = state(dir.path(), now);
    let (_rt, port) = serve(&state);

    let list = "/siloscope/handoffs?to_team=beta&from_team=alpha&state=stalled&kind=reassign";
    // Basic auth covers the pages; the routes live under the external URL's path only.
    assert_eq!(get(port, list, false, None).0, 401);
    assert_eq!(get(port, "/handoffs?state=stalled", true, None).0, 404);
    let (status, _, metrics) = get(port, "/siloscope/metrics", true, None);
    assert_eq!(status, 200);
    let stalled = metric(&metrics, "siloscope_handoffs_stalled", r#"kind="reassign",from_team="alpha",to_team="beta""#);
    let waiting = metric(&metrics, "siloscope_handoffs_waiting", r#"kind="reassign",from_team="alpha",to_team="beta""#);
    assert_eq!((stalled, waiting), (2.0, 3.0));

    // JSON by suffix or by Accept; its count is the metric's value; valid against the schema.
    let (status, content_type, body) = get(port, &list.replace("/handoffs?", "/handoffs.json?"), true, None);
    assert_eq!((status, content_type.as_str()), (200, "application/json"), "{body}");
    let by_accept = get(port, list, true, Some("application/json"));
    assert_eq!(by_accept.2, body);
    let page: Value = serde_json::from_str(&body).unwrap();
    let mut errors = Vec::new();
    validate(&schema(), &page, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{page:#}");
    assert_eq!(page["count"].as_f64(), Some(stalled));
    assert_eq!(page["handoffs"].as_array().unwrap().len(), 2);
    assert_eq!(
        page["url"],
        "https://proxy.example/siloscope/handoffs?from_team=alpha&to_team=beta&kind=reassign&state=stalled"
    );
    let titles: Vec<&str> =
        page["handoffs"].as_array().unwrap().iter().map(|h| h["item"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec![HOSTILE_TITLE, "plain"], "tracker text round-trips in JSON");
    let row = &page["handoffs"][0];
    assert_eq!(row["item"]["key"], "gh:acme/alpha#1");
    assert_eq!(row["item"]["link"], "https://github.example/acme/alpha/issues/1");
    assert_eq!((row["state"].as_str(), row["seconds"].as_i64()), (Some("stalled"), Some(4 * DAY)));
    let (_, _, waiting_page) = get(port, "/siloscope/handoffs.json?to_team=beta&state=waiting", true, None);
    assert_eq!(serde_json::from_str::<Value>(&waiting_page).unwrap()["count"].as_f64(), Some(waiting));

    // HTML: the title is text, not markup; links are absolute under the external URL.
    let (status, content_type, html) = get(port, list, true, Some("text/html,application/xhtml+xml,*/*"));
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("Fix &lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;quotes&quot;"), "{html}");
    assert!(html.contains(r#"<strong id="count">2</strong>"#), "{html}");
    assert!(html.contains(r#"href="https://proxy.example/siloscope/handoffs?to_team=beta""#), "{html}");
    assert!(html.contains(r#"href="https://github.example/acme/alpha/issues/1""#), "{html}");

    // A filter the metrics do not have is refused, naming those they have.
    let (status, _, why) = get(port, "/siloscope/handoffs.json?person=alpha-1", true, None);
    assert_eq!(status, 400);
    assert!(why.contains("unknown filter") && why.contains("to_team"), "{why}");
}

#[test]
fn an_agreements_list_counts_what_its_counters_count_over_the_decision_range() {
    let dir = tempfile::tempdir().unwrap();
    let now = 1_767_225_600 + 40 * DAY;
    let state = state(dir.path(), now);
    let (_rt, port) = serve(&state);
    let (_, _, metrics) = get(port, "/siloscope/metrics", true, None);
    let labels = r#"agreement="beta-from-alpha",to_team="beta""#;
    let handoffs = metric(&metrics, "siloscope_agreement_handoffs_total", labels);
    let breaches = metric(&metrics, "siloscope_agreement_breaches_total", labels);
    let past = metric(&metrics, "siloscope_agreement_waiting_past_promise", labels);
    assert_eq!((handoffs, breaches, past), (3.0, 2.0, 2.0));

    let list = |query: &str| -> Value {
        let (status, _, body) = get(port, &format!("/siloscope/handoffs.json?{query}"), true, None);
        assert_eq!(status, 200, "{query}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        let mut errors = Vec::new();
        validate(&schema(), &page, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}\n{page:#}");
        page
    };
    let broken = list("agreement=beta-from-alpha&state=broken");
    assert_eq!(broken["count"].as_f64(), Some(breaches));
    let keys: Vec<&str> =
        broken["handoffs"].as_array().unwrap().iter().map(|h| h["item"]["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["gh:acme/alpha#1", "gh:acme/alpha#2"]);
    let row = &broken["handoffs"][0]["agreement"];
    // Handed over 4 days ago, due a day later: broken then (still waiting now, stalled).
    let due = siloscope::pages::rfc3339(now - 3 * DAY);
    assert_eq!(
        (row["outcome"].as_str(), row["deadline"].as_str(), row["decided_at"].as_str()),
        (Some("broken"), Some(due.as_str()), Some(due.as_str()))
    );
    assert_eq!(broken["handoffs"][0]["state"], "stalled");
    assert_eq!(list("agreement=beta-from-alpha")["count"].as_f64(), Some(handoffs));
    assert_eq!(list("agreement=beta-from-alpha&state=kept")["count"].as_f64(), Some(handoffs - breaches));
    // The range is on the decision: from an hour after the breaches, only #4's acknowledgement.
    let from = (now - 3 * DAY + HOUR) * 1000;
    let later = list(&format!("agreement=beta-from-alpha&from={from}"));
    assert_eq!(later["count"], 1);
    assert_eq!(later["handoffs"][0]["item"]["key"], "gh:acme/alpha#4");
    assert_eq!(list(&format!("agreement=beta-from-alpha&state=broken&from={from}"))["count"], 0);
    assert_eq!(list(&format!("agreement=beta-from-alpha&state=broken&to={from}"))["count"].as_f64(), Some(breaches));
    // The other filters compose; the HTML shows the outcome.
    assert_eq!(list("agreement=beta-from-alpha&state=broken&from_team=beta")["count"], 0);
    let (_, _, html) = get(port, "/siloscope/handoffs?agreement=beta-from-alpha&state=broken", true, Some("text/html"));
    assert!(
        html.contains(r#"<strong id="count">2</strong>"#) && html.contains(r#"<span class="broken">broken</span>"#),
        "{html}"
    );

    // A board's selection: All (`.*`) and `{…}` list what the one agreement lists.
    assert_eq!(list("agreement=.*&state=broken")["count"].as_f64(), Some(breaches));
    assert_eq!(list("agreement=%7Bbeta-from-alpha%7D")["count"].as_f64(), Some(handoffs));
    for (query, why) in [
        ("agreement=nope", "unknown agreement \\\"nope\\\": use one of beta-from-alpha"),
        ("agreement=%7Bbeta-from-alpha,nope%7D", "unknown agreement \\\"nope\\\""),
        ("state=broken", "add agreement=NAME"),
        ("agreement=beta-from-alpha&state=stalled", "with agreement, state is kept or broken"),
    ] {
        let (status, _, body) = get(port, &format!("/siloscope/handoffs.json?{query}"), true, None);
        assert_eq!(status, 400, "{query}");
        assert!(body.contains(why), "{query}: {body}");
    }
}

#[test]
fn the_decision_log_counts_what_the_decision_metrics_count() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), 1_767_225_600 + 40 * DAY);
    let (_rt, port) = serve(&state);
    let (_, _, metrics) = get(port, "/siloscope/metrics", true, None);
    let made = metric(&metrics, "siloscope_decisions_total", r#"team="alpha""#);
    let reopened = metric(&metrics, "siloscope_decisions_rehashed_total", r#"team="alpha",reason="reopened""#);
    assert_eq!((made, reopened), (2.0, 1.0));
    assert_eq!(get(port, "/siloscope/decisions?team=alpha", false, None).0, 401);
    let json = |path: &str| -> Value {
        let (status, _, body) = get(port, path, true, None);
        assert_eq!(status, 200, "{path}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        let mut errors = Vec::new();
        validate(&schema_of("decisions"), &page, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}\n{page:#}");
        page
    };
    let all = json("/siloscope/decisions.json?team=alpha");
    assert_eq!(all["count"].as_f64(), Some(made));
    let rows: Vec<(&str, &str, Option<&str>)> = all["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["item"]["title"].as_str().unwrap(), d["state"].as_str().unwrap(), d["rehashed_reason"].as_str()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("Keep REST", "standing", None),
            ("Adopt <b>gRPC</b> <script>alert(10)</script>", "rehashed", Some("reopened"))
        ]
    );
    let rehashed = json("/siloscope/decisions.json?team=alpha&state=rehashed&reason=reopened");
    assert_eq!(rehashed["count"].as_f64(), Some(reopened));
    assert_eq!(json("/siloscope/decisions.json?team=alpha&state=standing")["count"], 1);
    // HTML, rendered by Chromium: the title is text, no console error.
    let (status, _, html) = get(port, "/siloscope/decisions?team=alpha", true, Some("text/html"));
    assert_eq!(status, 200);
    assert!(
        html.contains("Adopt &lt;b&gt;gRPC&lt;/b&gt; &lt;script&gt;alert(10)&lt;/script&gt;")
            && !html.contains("<b>gRPC"),
        "{html}"
    );
    let page = dir.path().join("decisions.html");
    std::fs::write(&page, &html).unwrap();
    let (dom, console) = chromium_dom(&page);
    assert_eq!(console, Vec::<String>::new());
    assert_eq!(dom.matches("<tr class=\"decision\">").count(), 2, "{dom}");
    assert!(!dom.contains("<b>"), "{dom}");
}

#[test]
fn an_items_story_walks_its_custody_from_the_facts() {
    let dir = tempfile::tempdir().unwrap();
    let now = 1_767_225_600 + 40 * DAY;
    let state = state(dir.path(), now);
    let (_rt, port) = serve(&state);
    let path = "/siloscope/items/gh%3Aacme%2Falpha%234";
    assert_eq!(get(port, path, false, None).0, 401);
    let (status, _, body) = get(port, &format!("{path}.json"), true, None);
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    let mut errors = Vec::new();
    validate(&schema_of("item"), &page, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{page:#}");
    assert_eq!(page["url"], "https://proxy.example/siloscope/items/gh%3Aacme%2Falpha%234");
    let steps: Vec<(&str, &str, &str)> = page["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["what"].as_str().unwrap(), s["team"].as_str().unwrap(), s["other_team"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("handoff", "beta", "alpha"),
            ("acknowledged", "beta", "alpha"),
            ("handoff", "alpha", "beta"),
            ("bounced", "alpha", "beta"),
        ],
        "{page:#}"
    );
    // The list rows link to the story; an unknown key is a 404.
    let (_, _, list) = get(port, "/siloscope/handoffs.json?from_team=alpha&state=bounced", true, None);
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["handoffs"][0]["item"]["page"], format!("https://proxy.example{path}"));
    assert_eq!(get(port, "/siloscope/items/nope", true, None).0, 404);
    // HTML in Chromium: no console error, one row per step.
    let (status, _, html) = get(port, path, true, Some("text/html"));
    assert_eq!(status, 200);
    let file = dir.path().join("item.html");
    std::fs::write(&file, &html).unwrap();
    let (dom, console) = chromium_dom(&file);
    assert_eq!(console, Vec::<String>::new());
    assert_eq!(dom.matches("<tr class=\"step\">").count(), 4, "{dom}");
}

#[test]
fn the_review_list_counts_what_the_review_metric_counts_with_pickup() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), 1_767_225_600 + 40 * DAY);
    let (_rt, port) = serve(&state);
    let (_, _, metrics) = get(port, "/siloscope/metrics", true, None);
    let approved =
        metric(&metrics, "siloscope_reviews_total", r#"author_team="beta",reviewer_team="alpha",state="approved""#);
    assert_eq!(approved, 1.0);
    assert_eq!(get(port, "/siloscope/reviews", false, None).0, 401);
    let (status, _, body) =
        get(port, "/siloscope/reviews.json?author_team=beta&reviewer_team=alpha&state=approved", true, None);
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    let mut errors = Vec::new();
    validate(&schema_of("reviews"), &page, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{page:#}");
    assert_eq!(page["count"].as_f64(), Some(approved));
    let r = &page["reviews"][0];
    assert_eq!(
        (r["item"]["title"].as_str(), r["pickup_seconds"].as_i64()),
        (Some("Faster <i>builds</i> <script>alert(20)</script>"), Some(3 * HOUR))
    );
    let (status, _, html) = get(port, "/siloscope/reviews?team=alpha", true, Some("text/html"));
    assert_eq!(status, 200);
    assert!(
        html.contains("Faster &lt;i&gt;builds&lt;/i&gt; &lt;script&gt;alert(20)&lt;/script&gt;")
            && !html.contains("<i>"),
        "{html}"
    );
    let file = dir.path().join("reviews.html");
    std::fs::write(&file, &html).unwrap();
    let (dom, console) = chromium_dom(&file);
    assert_eq!(console, Vec::<String>::new());
    assert_eq!(dom.matches("<tr class=\"review\">").count(), 1, "{dom}");
}

/// Every link URL the board generator writes (xtask's boards, as `cargo xtask dashboards` writes
/// them): the `url` of each data link that starts with `${siloscope_url}`.
fn board_link_templates() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    match v.as_str() {
                        Some(url) if k == "url" && url.starts_with("${siloscope_url}") => out.push(url.to_string()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (name, text) in xtask::dashboards::boards() {
        let board: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        walk(&board, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// A link template with Grafana's variables filled as Grafana would: `${siloscope_url}` the
/// external URL, `${__from}`/`${__to}` the range in ms, each `${…:percentencode}` percent-encoded:
/// the labels kind, state and reason a value of theirs, every other (a team) `team`.
fn fill(template: &str, base: &str, range: (i64, i64), team: &str) -> String {
    let mut url = template.replace("${siloscope_url}", base);
    url = url.replace("${__from}", &range.0.to_string()).replace("${__to}", &range.1.to_string());
    while let Some(start) = url.find("${") {
        let end = start + url[start..].find('}').expect("a closed variable");
        let name = url[start + 2..end].strip_suffix(":percentencode").unwrap_or_else(|| panic!("{template}"));
        let value = match name.rsplit('.').next().unwrap() {
            "kind" => "reassign",
            "reason" => "reopened",
            "state" if template.contains("/reviews?") => "approved",
            "state" => panic!("a handoff state from a series in {template}"),
            // The agreements board's: the config's one agreement (to beta) in place of the team.
            "agreement" => match team {
                ".*" => ".*",
                "beta" => "beta-from-alpha",
                _ => "{beta-from-alpha}",
            },
            _ => team,
        };
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        url.replace_range(start..=end, &encoded);
    }
    url
}

#[test]
fn every_board_link_answers_with_a_list_for_a_team_all_teams_and_a_selection() {
    let templates = board_link_templates();
    assert!(templates.len() >= 20, "the boards' links: {templates:#?}");
    let dir = tempfile::tempdir().unwrap();
    let now = 1_767_225_600 + 40 * DAY;
    let state = state(dir.path(), now);
    let (_rt, port) = serve(&state);
    let range = ((now - 28 * DAY) * 1000, now * 1000);
    let mut failures = Vec::new();
    for template in &templates {
        for team in ["beta", ".*", "{alpha,beta}"] {
            let url = fill(template, "/siloscope", range, team);
            for accept in [Some("application/json"), Some("text/html")] {
                let (status, _, body) = get(port, &url, true, accept);
                if status != 200 {
                    failures
                        .push(format!("{status} {url} ({accept:?}): {}", body.chars().take(200).collect::<String>()));
                } else if accept == Some("application/json") {
                    let page = url.trim_start_matches("/siloscope/").split('?').next().unwrap();
                    let mut errors = Vec::new();
                    validate(&schema_of(page), &serde_json::from_str(&body).unwrap(), "$", &mut errors);
                    failures.extend(errors.into_iter().map(|e| format!("{url}: {e}")));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} links fail:\n{}", failures.len(), templates.len() * 6, failures.join("\n"));
}

#[test]
fn the_links_filters_select_what_they_say_range_pairs_all_and_selections() {
    let dir = tempfile::tempdir().unwrap();
    let now = 1_767_225_600 + 40 * DAY;
    let state = state(dir.path(), now);
    let (_rt, port) = serve(&state);
    let count = |path: &str| -> i64 {
        let (status, _, body) = get(port, &format!("/siloscope{path}"), true, Some("application/json"));
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str::<Value>(&body).unwrap()["count"].as_i64().unwrap()
    };
    let ms = |t: Ts| t * 1000;
    // alpha → beta: two stalled (4 days ago), one bounced (3 days ago), one waiting (an hour ago);
    // beta → alpha: the review request (6 days ago, acknowledged), the bounce's way back (waiting).
    assert_eq!(count("/handoffs?from_team=alpha&to_team=beta"), 4);
    assert_eq!(count("/handoffs?from_team=.*&to_team=beta"), 4);
    assert_eq!(count("/handoffs?to_team=%7Balpha%2Cbeta%7D"), 6);
    assert_eq!(count("/handoffs?to_team={beta,gamma}"), 4);
    assert_eq!(count("/handoffs?to_team=gamma"), 0);
    // A pair, either way: alpha and beta both ways; one side given: that side either way.
    assert_eq!(count("/handoffs?team_a=beta&team_b=alpha"), 6);
    assert_eq!(count("/handoffs?team_a=alpha&team_b=.*"), 6);
    assert_eq!(count("/handoffs?team_a=beta&team_b=beta"), 0);
    assert_eq!(count("/handoffs?team_a=alpha&team_b=alpha"), 0);
    // [from, to) on the handover.
    let (from, to) = (ms(now - 2 * HOUR), ms(now));
    assert_eq!(count(&format!("/handoffs?state=acknowledged&from={from}&to={to}")), 0);
    assert_eq!(count(&format!("/handoffs?state=acknowledged&from={}&to={to}", ms(now - 6 * DAY))), 1);
    assert_eq!(count(&format!("/handoffs?state=bounced&from={}&to={to}", ms(now - 3 * DAY))), 1);
    assert_eq!(count(&format!("/handoffs?state=bounced&from={}&to={to}", ms(now - 3 * DAY) + 1)), 0);
    // The stalled two, the bounced one; not the fresh one, handed over at `to` (exclusive).
    assert_eq!(count(&format!("/handoffs?from_team=alpha&from={}&to={}", ms(now - 3 * DAY), ms(now - HOUR))), 3);
    // What still waits is listed whatever `from` says (the waiting gauge counts it now).
    assert_eq!(count(&format!("/handoffs?state=stalled&from={from}&to={to}")), 2);
    assert_eq!(count(&format!("/handoffs?state=stalled&from={}&to={}", ms(now - 6 * DAY), ms(now - 5 * DAY))), 0);
    // Reviews: the review given 6 days ago, in a pair either way; decisions made or rehashed in range.
    assert_eq!(count("/reviews?team_a=alpha&team_b=beta"), 1);
    assert_eq!(count("/reviews?team_a=alpha&team_b=alpha"), 0);
    assert_eq!(count("/reviews?team_a=beta&team_b=%7Balpha%7D&author_team=.*&reviewer_team=.*"), 1);
    assert_eq!(count(&format!("/reviews?from={}&to={}", ms(now - 6 * DAY), ms(now - 6 * DAY + 3 * HOUR))), 0);
    assert_eq!(count(&format!("/reviews?from={}&to={}", ms(now - 6 * DAY), ms(now))), 1);
    assert_eq!(count(&format!("/decisions?team=.*&from={}&to={}", ms(now - 6 * DAY), ms(now))), 1);
    assert_eq!(count(&format!("/decisions?team=%7Balpha%7D&from={}&to={}", ms(now - 10 * DAY), ms(now))), 2);
    assert_eq!(count(&format!("/decisions?team=alpha&from={}&to={}", ms(now - 8 * DAY), ms(now - 6 * DAY))), 1);
    assert_eq!(count(&format!("/decisions?state=rehashed&from={}&to={}", ms(now - 6 * DAY), ms(now))), 1);
    // An empty value (a series without the label) does not filter.
    assert_eq!(count("/handoffs?kind=&to_team=beta"), 4);
    // Unknown parameters and bad values stay a 400 naming what is accepted.
    for (path, expected) in [
        ("/handoffs?colour=red", "team_a"),
        ("/reviews?colour=red", "team_b"),
        ("/decisions?colour=red", "from"),
        ("/handoffs?from=yesterday", "milliseconds"),
        ("/handoffs?from=20&to=10", "after"),
    ] {
        let (status, _, why) = get(port, &format!("/siloscope{path}"), true, Some("application/json"));
        assert_eq!(status, 400, "{path}: {why}");
        assert!(why.contains(expected), "{path}: {why}");
    }
}

/// Every `href="…"` of an HTML document, unescaped (`&amp;` → `&`).
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"").skip(1).filter_map(|s| s.split_once('"')).map(|(h, _)| h.replace("&amp;", "&")).collect()
}

/// The JSON of the list page behind `url` (absolute under https://proxy.example), with its status.
fn follow(port: u16, url: &str) -> (u16, Value) {
    let path = url.strip_prefix("https://proxy.example").unwrap_or_else(|| panic!("{url} is not under the base"));
    let (status, _, body) = get(port, path, true, Some("application/json"));
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn the_reports_figures_and_rows_link_to_their_pages_under_the_external_url() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), 1_767_225_600 + 40 * DAY);
    let (_rt, port) = serve(&state);
    let base = "https://proxy.example/siloscope";
    let producer = siloscope::report::daemon_producer(state.clone(), Some(base.into()), false);
    let html = producer(siloscope::report::Format::Html).unwrap();
    let report: Value = serde_json::from_str(&producer(siloscope::report::Format::Json).unwrap()).unwrap();
    let markdown = producer(siloscope::report::Format::Markdown).unwrap();

    // Every link of the HTML report is to its own sections, to an item on its tracker, or under
    // the external URL; and there are page links.
    let links = hrefs(&html);
    let pages: Vec<&String> = links.iter().filter(|h| h.starts_with(&format!("{base}/"))).collect();
    for h in &links {
        assert!(
            h.starts_with('#') || h.starts_with("https://github.example/") || h.starts_with(&format!("{base}/")),
            "{h}"
        );
    }
    assert!(pages.iter().any(|h| h.contains("/items/")), "{links:#?}");
    assert!(pages.iter().any(|h| h.contains("/handoffs?from_team=")), "{links:#?}");
    assert!(pages.iter().any(|h| h.contains("/reviews?team_a=")), "{links:#?}");
    assert!(markdown.contains(&format!("]({base}/handoffs?from_team=alpha&to_team=beta&from=")), "{markdown}");

    // Each pair's handoff figure is the length of its list; each reciprocity figure that of its.
    let pairs = report["pairs"].as_array().unwrap();
    assert!(!pairs.is_empty());
    for p in pairs {
        let url = p["handoffs_page"].as_str().unwrap();
        assert!(links.iter().any(|h| h == url), "{url} is linked in the HTML");
        let (status, list) = follow(port, url);
        assert_eq!(status, 200, "{url}");
        assert_eq!(list["count"], p["current"]["handoffs"], "{url}: {list:#}");
        assert_eq!(list["handoffs"].as_array().unwrap().len() as u64, list["count"].as_u64().unwrap());
    }
    let reciprocity = report["reciprocity"].as_array().unwrap();
    assert!(!reciprocity.is_empty());
    for x in reciprocity {
        let url = x["reviews_page"].as_str().unwrap();
        let (status, list) = follow(port, url);
        assert_eq!(status, 200, "{url}");
        let given = x["current"]["a_reviewed_b"].as_u64().unwrap() + x["current"]["b_reviewed_a"].as_u64().unwrap();
        assert_eq!(list["count"].as_u64(), Some(given), "{url}: {list:#}");
    }
    // Each team's lists answer; its decisions made are the decisions its list shows.
    for t in report["teams"].as_array().unwrap() {
        for (name, url) in t["pages"].as_object().unwrap() {
            let (status, _) = follow(port, url.as_str().unwrap());
            assert_eq!(status, 200, "{name}: {url}");
        }
        let (_, decisions) = follow(port, t["pages"]["decisions"].as_str().unwrap());
        assert_eq!(decisions["count"], t["current"]["decisions_made"], "{decisions:#}");
    }
    // Each listed item's page is its story.
    let items: Vec<&Value> = ["stalled", "bounces", "rehashed_decisions"]
        .iter()
        .flat_map(|list| report[*list].as_array().unwrap().iter().map(|row| &row["item"]))
        .collect();
    assert!(!items.is_empty());
    for item in items {
        let (status, story) = follow(port, item["page"].as_str().unwrap());
        assert_eq!((status, &story["item"]["key"]), (200, &item["key"]), "{item}");
    }
}

/// Every page of the fixture, as JSON and HTML, with the schema its JSON follows.
const EVERY_PAGE: [(&str, &str); 5] = [
    ("/siloscope/handoffs", "handoffs"),
    ("/siloscope/handoffs?agreement=beta-from-alpha&state=broken", "handoffs"),
    ("/siloscope/reviews", "reviews"),
    ("/siloscope/decisions", "decisions"),
    ("/siloscope/items/gh%3Aacme%2Fbeta%2320", "item"),
];

/// The fixture's people's names ("alpha 1" … "beta 3").
fn names() -> Vec<String> {
    ["alpha", "beta"].iter().flat_map(|t| (1..=3).map(move |n| format!("{t} {n}"))).collect()
}

/// Every page's JSON (schema-valid) and HTML of a served `state`.
fn every_page(port: u16) -> Vec<(String, Value, String)> {
    EVERY_PAGE
        .iter()
        .map(|(path, schema)| {
            let json_path = match path.split_once('?') {
                Some((p, q)) => format!("{p}.json?{q}"),
                None => format!("{path}.json"),
            };
            let (status, _, body) = get(port, &json_path, true, None);
            assert_eq!(status, 200, "{json_path}: {body}");
            let page: Value = serde_json::from_str(&body).unwrap();
            let mut errors = Vec::new();
            validate(&schema_of(schema), &page, "$", &mut errors);
            assert!(errors.is_empty(), "{json_path}: {errors:#?}\n{page:#}");
            let (status, _, html) = get(port, path, true, Some("text/html"));
            assert_eq!(status, 200, "{path}");
            (path.to_string(), page, html)
        })
        .collect()
}

#[test]
fn pages_and_the_report_name_people_only_when_the_config_says_so_and_the_floor_still_folds() {
    let now = 1_767_225_600 + 40 * DAY;
    // By default: no page and not the daemon's report names anyone.
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), now);
    assert!(!state.config.server.name_people);
    let (_rt, port) = serve(&state);
    for (path, page, html) in every_page(port) {
        let json = page.to_string();
        assert!(!json.contains("\"people\""), "{path}: {json}");
        for name in names() {
            assert!(!json.contains(&name) && !html.contains(&name), "{path} names {name}");
        }
    }
    let producer = siloscope::report::daemon_producer(state.clone(), None, state.config.server.name_people);
    let report = producer(siloscope::report::Format::Json).unwrap();
    assert!(report.contains("\"people_named\": false"), "{report}");
    assert!(names().iter().all(|n| !report.contains(n.as_str())), "{report}");
    drop(_rt);

    // `[server] name_people = true`: every page names each item's people (author first, then
    // whoever acted on it, as the report does), in JSON and HTML; so does the daemon's report.
    let dir = tempfile::tempdir().unwrap();
    let state = state_with(dir.path(), now, 2, "[server]\nname_people = true\n");
    assert!(state.config.server.name_people);
    let (_rt, port) = serve(&state);
    let pages = every_page(port);
    for (path, page, _) in &pages {
        assert!(page.to_string().contains("\"people\""), "{path}: {page:#}");
    }
    let (_, stalled, html) = &pages[0];
    let row = stalled["handoffs"].as_array().unwrap().iter().find(|h| h["item"]["key"] == "gh:acme/alpha#1").unwrap();
    assert_eq!(row["item"]["people"], serde_json::json!(["alpha 1", "alpha 2"]), "{row:#}");
    assert!(html.contains("<span class=\"people\">alpha 1, alpha 2</span>"), "{html}");
    let (_, story, html) = &pages[4];
    assert_eq!(story["item"]["people"], serde_json::json!(["beta 1", "alpha 1"]), "{story:#}");
    assert!(html.contains("People: beta 1, alpha 1"), "{html}");
    assert!(!html.contains("Teams only."), "{html}");
    let producer = siloscope::report::daemon_producer(state.clone(), None, state.config.server.name_people);
    let report = producer(siloscope::report::Format::Json).unwrap();
    assert!(report.contains("\"people_named\": true"), "{report}");
    drop(_rt);

    // Naming people lifts no privacy floor: with a floor above every team's three people, the
    // teams are `other` on every page, people named or not.
    let dir = tempfile::tempdir().unwrap();
    let state = state_with(dir.path(), now, 4, "[server]\nname_people = true\n");
    let (_rt, port) = serve(&state);
    let (_, _, metrics) = get(port, "/siloscope/metrics", true, None);
    assert!(!metrics.contains("team=\"alpha\"") && !metrics.contains("team=\"beta\""), "{metrics}");
    for (path, page, html) in every_page(port) {
        let json = page.to_string();
        // (An agreement whose receiving team is under the floor lists nothing.)
        assert!(json.contains("\"people\"") || page["count"] == 0, "{path}: {json}");
        for team in ["alpha", "beta"] {
            for field in ["team", "from_team", "to_team", "author_team", "reviewer_team", "other_team"] {
                let bad = format!("\"{field}\":\"{team}\"");
                assert!(!json.contains(&bad), "{path} shows {bad}: {json}");
            }
            // HTML: a team cell or team link shows `other`, never the folded team's name.
            assert!(
                !html.contains(&format!(">{team}</a>")) && !html.contains(&format!("<td>{team}</td>")),
                "{path}: {html}"
            );
        }
    }
}

#[test]
fn a_script_in_a_title_is_text_on_every_page_and_in_the_daemons_report() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), 1_767_225_600 + 40 * DAY);
    let (_rt, port) = serve(&state);
    // Every page kind, each listing an item whose title carries a <script> element.
    let pages = [
        ("/siloscope/handoffs?to_team=beta&state=stalled", "alert('x')"),
        ("/siloscope/handoffs?from_team=alpha&state=bounced", "alert(4)"),
        ("/siloscope/reviews", "alert(20)"),
        ("/siloscope/decisions", "alert(10)"),
        ("/siloscope/items/gh%3Aacme%2Falpha%231", "alert('x')"),
        ("/siloscope/items/gh%3Aacme%2Falpha%234", "alert(4)"),
        ("/siloscope/items/gh%3Aacme%2Fbeta%2320", "alert(20)"),
        ("/siloscope/items/gh%3Aacme%2Falpha%2310", "alert(10)"),
    ];
    for (path, script) in pages {
        let (status, _, html) = get(port, path, true, Some("text/html"));
        assert_eq!(status, 200, "{path}");
        assert!(!html.to_ascii_lowercase().contains("<script"), "{path} carries a script element:\n{html}");
        assert!(html.contains(&format!("&lt;script&gt;{script}&lt;/script&gt;")), "{path} shows it as text:\n{html}");
        let (_, _, json) = get(port, path, true, Some("application/json"));
        assert!(
            json.contains(&format!("<script>{script}</script>")),
            "{path}: the JSON carries the text as it is: {json}"
        );
    }
    // The daemon's /report lists the stalled one: text there too.
    let producer = siloscope::report::daemon_producer(state.clone(), None, false);
    let html = producer(siloscope::report::Format::Html).unwrap();
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt;"), "{html}");
}
