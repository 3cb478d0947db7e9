//! The monitoring mixin under `dashboards/`, checked with the real tools: every board validates
//! against Grafana's dashboard schema, every panel, variable and rule expression parses
//! (`promtool check rules`), every metric they name is one siloscope exports or a recording rule
//! defines, every team or pair panel links to siloscope's list behind it (docs/pages-links.md),
//! the rule tests cover every alert firing and staying quiet, and the example web, Prometheus and
//! Alertmanager configs pass `promtool` / `amtool`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

const BOARDS: [&str; 6] = [
    "siloscope-retro.json",
    "siloscope-handoffs.json",
    "siloscope-reviews.json",
    "siloscope-decisions.json",
    "siloscope-agreements.json",
    "siloscope-health.json",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mixin() -> PathBuf {
    root().join("dashboards")
}

fn realdata() -> PathBuf {
    std::env::var_os("SILOSCOPE_REALDATA").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/realdata"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn read_yaml(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

fn boards() -> Vec<(String, Value)> {
    BOARDS.iter().map(|b| (b.to_string(), read_json(&mixin().join(b)))).collect()
}

/// Runs a Prometheus tool; a missing tool is a failure with the fix (tests/run installs it).
fn tool(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {program}: {e}; install Debian's prometheus and prometheus-alertmanager packages (tests/run does)")
    });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

// ---------------------------------------------------------------------------------------------
// A JSON Schema (draft-07) validator for the keywords Grafana's dashboard schema uses.
// ---------------------------------------------------------------------------------------------

struct Schema<'a> {
    root: &'a Value,
}

impl Schema<'_> {
    fn resolve<'b>(&'b self, reference: &str) -> &'b Value {
        let pointer =
            reference.strip_prefix('#').unwrap_or_else(|| panic!("only local $refs are supported: {reference}"));
        self.root.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}"))
    }

    fn errors(&self, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, at, &mut errors);
        errors
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(s) = schema.as_object() else {
            if schema == &Value::Bool(false) {
                errors.push(format!("{at}: not allowed"));
            }
            return;
        };
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            self.check(self.resolve(r), value, at, errors);
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !types.iter().any(|t| type_matches(t, value)) {
                errors.push(format!("{at}: expected {types:?}, found {value}"));
                return;
            }
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        if let Some(c) = s.get("const")
            && c != value
        {
            errors.push(format!("{at}: expected {c}, found {value}"));
        }
        if let Some(n) = value.as_f64() {
            let bound = |k: &str| s.get(k).and_then(Value::as_f64);
            if bound("minimum").is_some_and(|m| n < m)
                || bound("maximum").is_some_and(|m| n > m)
                || bound("exclusiveMinimum").is_some_and(|m| n <= m)
                || bound("exclusiveMaximum").is_some_and(|m| n >= m)
            {
                errors.push(format!("{at}: {n} is out of range"));
            }
        }
        if let (Some(min), Some(text)) = (s.get("minLength").and_then(Value::as_u64), value.as_str())
            && (text.chars().count() as u64) < min
        {
            errors.push(format!("{at}: shorter than {min}"));
        }
        if let Some(object) = value.as_object() {
            let properties = s.get("properties").and_then(Value::as_object);
            for required in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
            {
                if !object.contains_key(required) {
                    errors.push(format!("{at}: missing required {required:?}"));
                }
            }
            for (key, v) in object {
                let here = format!("{at}.{key}");
                match properties.and_then(|p| p.get(key)) {
                    Some(p) => self.check(p, v, &here, errors),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => errors.push(format!("{here}: unknown property")),
                        Some(extra @ Value::Object(_)) => self.check(extra, v, &here, errors),
                        _ => {}
                    },
                }
            }
        }
        if let (Some(items), Some(array)) = (s.get("items"), value.as_array()) {
            for (i, v) in array.iter().enumerate() {
                self.check(items, v, &format!("{at}[{i}]"), errors);
            }
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, value, at, errors);
            }
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(|sub| self.errors(sub, value, at).is_empty())
        {
            errors.push(format!("{at}: matches none of anyOf"));
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            let results: Vec<Vec<String>> = one.iter().map(|sub| self.errors(sub, value, at)).collect();
            let matching = results.iter().filter(|e| e.is_empty()).count();
            if matching != 1 {
                let closest = results.iter().min_by_key(|e| e.len()).cloned().unwrap_or_default();
                errors.push(format!("{at}: matches {matching} of oneOf (want 1); nearest problems: {closest:?}"));
            }
        }
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        other => panic!("unknown JSON schema type {other}"),
    }
}

fn grafana_schema() -> Value {
    read_json(&realdata().join("schemas/grafana-dashboard.jsonschema.json"))
}

/// The committed boards are what `cargo xtask dashboards` writes from the metric catalogue
/// (xtask/src/dashboards.rs): edit the generator or the catalogue, never the JSON.
#[test]
fn committed_boards_equal_what_the_generator_writes() {
    let generated = xtask::dashboards::boards();
    assert_eq!(
        generated.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        BOARDS,
        "the generator writes other boards"
    );
    let mut stale = Vec::new();
    for (name, expected) in &generated {
        let committed = std::fs::read_to_string(mixin().join(name)).unwrap_or_default();
        if &committed == expected {
            continue;
        }
        let (was, is): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), expected.lines().collect());
        let line = (0..was.len().max(is.len())).find(|&i| was.get(i) != is.get(i)).unwrap_or(was.len());
        let at = |lines: &[&str]| lines.get(line).copied().unwrap_or("(end of file)").to_string();
        stale.push(format!(
            "dashboards/{name}, line {}:\n  committed: {}\n  generated: {}",
            line + 1,
            at(&was),
            at(&is)
        ));
    }
    assert!(
        stale.is_empty(),
        "the committed boards differ from what the generator writes:\n{}\nrun `cargo xtask dashboards` to write them",
        stale.join("\n")
    );
}

#[test]
fn every_dashboard_validates_against_grafanas_schema() {
    let schema = grafana_schema();
    let validator = Schema { root: &schema };
    for (name, board) in boards() {
        let errors = validator.errors(&schema, &board, &name);
        assert!(errors.is_empty(), "{name} does not validate:\n{}", errors.join("\n"));
        assert!(board["schemaVersion"].as_u64().unwrap() >= 39, "{name}: schemaVersion below 39");
    }
}

#[test]
fn the_schema_check_rejects_what_grafana_would() {
    let schema = grafana_schema();
    let validator = Schema { root: &schema };
    let (_, board) = boards().remove(0);
    type Breakage = Box<dyn Fn(&mut Value)>;
    let broken: Vec<(&str, Breakage)> = vec![
        ("unknown top-level key", Box::new(|b: &mut Value| b["bogus"] = json!(1))),
        ("panel wider than the grid", Box::new(|b: &mut Value| b["panels"][1]["gridPos"]["w"] = json!(30))),
        ("datasource uid not a string", Box::new(|b: &mut Value| b["panels"][1]["datasource"]["uid"] = json!(5))),
        (
            "missing templating",
            Box::new(|b: &mut Value| {
                b.as_object_mut().unwrap().remove("templating");
            }),
        ),
        ("variable of unknown type", Box::new(|b: &mut Value| b["templating"]["list"][1]["type"] = json!("dropdown"))),
    ];
    for (what, break_it) in broken {
        let mut b = board.clone();
        break_it(&mut b);
        assert!(!validator.errors(&schema, &b, "board").is_empty(), "the validator accepted a board with {what}");
    }
}

// ---------------------------------------------------------------------------------------------
// Expressions: extraction, variables, metric names.
// ---------------------------------------------------------------------------------------------

/// (where, expression) of every panel target and every query variable of a board.
fn board_expressions(name: &str, board: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut panels: Vec<&Value> = board["panels"].as_array().unwrap().iter().collect();
    let nested: Vec<&Value> = panels.iter().flat_map(|p| p["panels"].as_array().into_iter().flatten()).collect();
    panels.extend(nested);
    for p in panels {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_else(|| panic!("{name}: a target of {:?} has no expr", p["title"]));
            out.push((
                format!("{name} / {} / {}", p["title"].as_str().unwrap_or(""), t["refId"].as_str().unwrap_or("")),
                expr.to_string(),
            ));
        }
    }
    for v in board["templating"]["list"].as_array().unwrap() {
        if v["type"] == "query" {
            out.push((format!("{name} / variable {}", v["name"]), label_values_expr(v["query"].as_str().unwrap())));
        }
    }
    out
}

/// `label_values(metric, label)` (Grafana's variable query) as the PromQL it runs.
fn label_values_expr(query: &str) -> String {
    let inner =
        query.strip_prefix("label_values(").and_then(|q| q.strip_suffix(')')).expect("label_values(metric, label)");
    let (metric, label) = inner.split_once(',').expect("label_values(metric, label)");
    format!("group by ({}) ({})", label.trim(), metric.trim())
}

/// Grafana's variables replaced by values a Prometheus accepts: team variables match all teams.
fn substitute(expr: &str, range: &str) -> String {
    let mut e = expr.to_string();
    for (var, value) in [
        ("$__rate_interval", "1m"),
        ("$__interval", "1m"),
        ("$__range", range),
        ("${window}", "28d"),
        ("$window", "28d"),
        ("${from_team}", ".*"),
        ("$from_team", ".*"),
        ("${to_team}", ".*"),
        ("$to_team", ".*"),
        ("${team}", ".*"),
        ("$team", ".*"),
        ("${source}", ".*"),
        ("$source", ".*"),
        ("${agreement}", ".*"),
        ("$agreement", ".*"),
    ] {
        e = e.replace(var, value);
    }
    assert!(!e.contains('$') || e.contains("\"$1\""), "unknown variable left in {e}");
    e
}

const AGGREGATORS: [&str; 12] =
    ["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"];
const KEYWORDS: [&str; 13] = [
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
];
const LABEL_LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];

/// Metric names an expression selects: identifiers outside strings, label matchers, ranges and
/// grouping label lists that are neither functions, aggregators nor keywords.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let c: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_to = |i: &mut usize, close: char| {
        let mut quote: Option<char> = None;
        while *i < c.len() {
            let ch = c[*i];
            match quote {
                Some(_) if ch == '\\' => *i += 1,
                Some(q) if ch == q => quote = None,
                Some(_) => {}
                None if ch == '"' || ch == '\'' || ch == '`' => quote = Some(ch),
                None if ch == close => break,
                None => {}
            }
            *i += 1;
        }
        *i += 1;
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '"' || ch == '\'' || ch == '`' {
            i += 1;
            while i < c.len() && c[i] != ch {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if ch == '{' {
            skip_to(&mut i, '}');
        } else if ch == '[' {
            skip_to(&mut i, ']');
        } else if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch.is_ascii_digit() || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit)) {
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.' || c[i] == '_') {
                i += 1;
            }
        } else if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == ':') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let mut j = i;
            while j < c.len() && c[j].is_whitespace() {
                j += 1;
            }
            let call = c.get(j) == Some(&'(');
            if LABEL_LISTS.contains(&word.as_str()) {
                if call {
                    i = j;
                    skip_to(&mut i, ')');
                }
            } else if call
                || AGGREGATORS.contains(&word.as_str())
                || KEYWORDS.contains(&word.to_ascii_lowercase().as_str())
            {
                // A function, an aggregator or a keyword.
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_name_extraction_finds_selectors_only() {
    let names = metric_names(
        r#"1 - (a:b:c{x="y{z}"} or on (reviewer_team) 0 * sum by (le) (increase(siloscope_x_bucket{le="+Inf"}[$__range] offset 1h))) / label_replace(group by (author_team) (siloscope_y), "t", "$1", "s", "(.+)") > bool 0.5e3"#,
    );
    assert_eq!(names, ["a:b:c", "siloscope_x_bucket", "siloscope_y"].iter().map(|s| s.to_string()).collect());
}

/// Every sample name siloscope exposes, from the exporter itself with every family populated.
fn exported_names() -> BTreeSet<String> {
    use siloscope::exporter::{Exporter, Snapshot};
    use siloscope::model::{ItemKind, ItemState, ReviewState};
    use siloscope::signals::records::{EngagementKind, RehashReason, ReworkKind};
    use siloscope::signals::{HandoffKind, Histogram, Signals};
    let p = |a: &str, b: &str| (a.to_string(), b.to_string());
    let mut s = Signals::default();
    let mut h = Histogram::default();
    h.observe(60.0);
    s.handoffs_total.insert(("gh".into(), HandoffKind::Reassign, "a".into(), "b".into()), 1);
    s.handoff_latency.insert((HandoffKind::Reassign, "a".into(), "b".into()), h.clone());
    s.handoffs_waiting.insert((HandoffKind::Reassign, "a".into(), "b".into()), 1);
    s.handoffs_stalled.insert((HandoffKind::Reassign, "a".into(), "b".into()), 1);
    s.handoff_oldest_wait.insert("b".into(), 1.0);
    s.bounces_total.insert(p("a", "b"), 1);
    s.decisions_total.insert("a".into(), 1);
    s.decisions_rehashed_total.insert(("a".into(), RehashReason::Reopened), 1);
    s.rework_total.insert(("a".into(), ReworkKind::Reopened), 1);
    s.reviews_total.insert(("a".into(), "b".into(), ReviewState::Approved), 1);
    s.review_pickup.insert(p("a", "b"), h.clone());
    s.review_reciprocity.insert(("a".into(), "b".into(), "7d".into()), 1.0);
    s.engagements_total.insert(("a".into(), "b".into(), EngagementKind::Comment), 1);
    s.first_response.insert(p("a", "b"), h);
    s.joint_wins_total.insert("a".into(), 1);
    s.bridge_people.insert(p("a", "7d"), 1);
    s.silo_index.insert(p("a", "7d"), 0.5);
    s.agreements.insert(p("a-reviews", "a"), siloscope::signals::aggregate::AgreementSeries::default());
    s.team_members.insert("a".into(), 5);
    let telemetry = siloscope::sources::telemetry::SourceTelemetry::default();
    let directory_coverage = siloscope::exporter::DirectoryCoverage::default();
    let connections = siloscope::connections::ConnectionMetrics::default();
    // As the daemon registers them (src/daemon.rs `State::new`).
    let mut e = Exporter::new();
    e.register(|r| telemetry.register(r));
    e.register(|r| directory_coverage.register(r));
    e.register(|r| connections.register(r));
    let leader = siloscope::replica::LeaderGauge::default();
    e.register(|r| leader.register(r));
    telemetry.register_source("gh");
    telemetry.record_request("gh", "200");
    telemetry.record_error("gh", "http");
    telemetry.record_sync("gh", true, 1.0, 3, 1_700_000_000);
    telemetry.set_rate_limit_remaining("gh", 10);
    telemetry.set_backfill_progress("gh", 0.5, Some(60.0));
    let coverage = siloscope::coverage::SourceCoverage {
        source: "gh".into(),
        events: 10,
        events_resolved: 9,
        identities: 4,
        identities_resolved: 3,
    };
    directory_coverage.set_directory_coverage(&[("28d".into(), vec![coverage])], 0.95);
    let items = vec![siloscope::store::ItemCount {
        source: "gh".into(),
        kind: ItemKind::Issue,
        state: ItemState::Open,
        count: 1,
    }];
    e.publish(Snapshot { signals: s, items, events_stored: 1, computed_at: 1, compute_seconds: 0.1 });
    e.render()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

fn recording_rule_names() -> BTreeSet<String> {
    rules(&mixin().join("rules/recording.yaml"))
        .iter()
        .chain(&rules(&mixin().join("rules/agreements.example.yaml")))
        .filter_map(|r| r["record"].as_str().map(str::to_string))
        .collect()
}

fn rules(path: &Path) -> Vec<Value> {
    let doc = read_yaml(path);
    doc["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap().clone()).collect()
}

/// Series Prometheus makes itself that the rules may use.
const PROMETHEUS_OWN: [&str; 1] = ["up"];

#[test]
fn every_metric_named_is_exported_or_recorded_and_every_family_is_shown() {
    let exported = exported_names();
    // The exporter really exposes the §9 table and the health metrics under these names.
    for name in [
        "siloscope_handoffs_total",
        "siloscope_handoff_latency_seconds_bucket",
        "siloscope_source_up",
        "siloscope_items",
    ] {
        assert!(exported.contains(name), "exporter does not expose {name}: {exported:?}");
    }
    let recorded = recording_rule_names();
    let known: BTreeSet<String> =
        exported.iter().chain(&recorded).cloned().chain(PROMETHEUS_OWN.iter().map(|s| s.to_string())).collect();
    let mut used = BTreeSet::new();
    let mut exprs: Vec<(String, String)> = boards().iter().flat_map(|(n, b)| board_expressions(n, b)).collect();
    for file in ["recording.yaml", "alerts.yaml", "agreements.example.yaml"] {
        for r in rules(&mixin().join("rules").join(file)) {
            let name = r["record"].as_str().or(r["alert"].as_str()).unwrap().to_string();
            exprs.push((format!("{file} / {name}"), r["expr"].as_str().unwrap().to_string()));
        }
    }
    for (at, expr) in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{at}: no metric found in {expr}");
        for n in names {
            assert!(known.contains(&n), "{at}: {n} is neither exported by siloscope nor recorded by a rule");
            used.insert(n);
        }
    }
    // Every family of the metric catalogue is on a board or in a rule.
    for family in siloscope_catalogue::all() {
        assert!(used.iter().any(|u| family.names_sample(u)), "no board or rule shows {}", family.name);
    }
}

#[test]
fn every_panel_and_variable_expression_parses_with_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let mut rules = Vec::new();
    let mut count = 0;
    for (name, board) in boards() {
        for (i, (at, expr)) in board_expressions(&name, &board).into_iter().enumerate() {
            let slug = name.trim_end_matches(".json").replace('-', "_");
            rules.push(json!({"record": format!("dashboard_query:{slug}:q{i}"), "expr": substitute(&expr, "1d"), "labels": {"at": at}}));
            count += 1;
        }
    }
    assert!(count >= 60, "only {count} expressions found");
    let file = dir.path().join("panel-queries.yaml");
    // JSON is YAML: promtool reads it as a rules file.
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&json!({"groups": [{"name": "dashboard-queries", "rules": rules}]})).unwrap(),
    )
    .unwrap();
    let (ok, out) = tool("promtool", &["check", "rules", file.to_str().unwrap()]);
    assert!(ok, "promtool rejects a dashboard query:\n{out}");
    assert!(out.contains(&format!("SUCCESS: {count} rules found")), "{out}");
}

#[test]
fn boards_use_the_datasource_variable_and_team_variables() {
    let mut uids = BTreeSet::new();
    for (name, board) in boards() {
        assert!(uids.insert(board["uid"].as_str().unwrap().to_string()), "{name}: duplicate uid");
        let vars: BTreeMap<&str, &Value> =
            board["templating"]["list"].as_array().unwrap().iter().map(|v| (v["name"].as_str().unwrap(), v)).collect();
        assert_eq!(vars["datasource"]["type"], "datasource", "{name}");
        assert_eq!(vars["datasource"]["query"], "prometheus", "{name}");
        if name != "siloscope-health.json" {
            assert!(vars.contains_key("team"), "{name} has no team variable");
        }
        let mut ids = BTreeSet::new();
        for p in board["panels"].as_array().unwrap() {
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{name}: duplicate panel id");
            if p["type"] == "row" {
                continue;
            }
            assert_eq!(
                p["datasource"],
                json!({"type": "prometheus", "uid": "${datasource}"}),
                "{name} / {}",
                p["title"]
            );
            assert!(
                p["description"].as_str().is_some_and(|d| d.len() > 40),
                "{name} / {}: a panel needs its definition",
                p["title"]
            );
            for t in p["targets"].as_array().unwrap() {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{name} / {}", p["title"]);
            }
        }
    }
    let retro = read_json(&mixin().join("siloscope-retro.json"));
    let names: Vec<&str> =
        retro["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    for v in ["team", "from_team", "to_team"] {
        assert!(names.contains(&v), "the retro board lacks the {v} variable");
    }
}

#[test]
fn every_speed_trend_sits_beside_its_guardrail() {
    let mut checked = 0;
    for (name, board) in boards().into_iter().filter(|(n, _)| n != "siloscope-health.json") {
        let panels = board["panels"].as_array().unwrap();
        for p in panels {
            let speed = p["type"] == "timeseries" && p["fieldConfig"]["defaults"]["unit"] == "s";
            if !speed {
                continue;
            }
            let y = &p["gridPos"]["y"];
            let beside = panels
                .iter()
                .filter(|q| &q["gridPos"]["y"] == y && q["id"] != p["id"])
                .any(|q| q["title"].as_str().is_some_and(|t| t.starts_with("Guardrail")));
            assert!(beside, "{name} / {}: a speed panel without a guardrail beside it", p["title"]);
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} speed panels found");
}

// ---------------------------------------------------------------------------------------------
// Drill-down links: every team or pair panel links to siloscope's list behind it.
// ---------------------------------------------------------------------------------------------

/// The labels that name a team, alone or as one side of a pair.
const TEAM_LABELS: [&str; 10] = [
    "team",
    "from_team",
    "to_team",
    "author_team",
    "reviewer_team",
    "actor_team",
    "owner_team",
    "requester_team",
    "team_a",
    "team_b",
];

/// The expression without its string literals (label values, `"$team"`).
fn without_strings(expr: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in expr.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
            None => out.push(c),
        }
    }
    out
}

/// The team labels an expression groups by or selects: a label name in a `by (…)` list or a
/// matcher, or in a recording rule's level (`from_team_to_team:…`).
fn team_labels(expr: &str) -> BTreeSet<&'static str> {
    let text = without_strings(expr);
    let mut found = BTreeSet::new();
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
        match token.split_once(':') {
            Some((level, _)) => {
                // A level is label names joined by `_`: take the longest team label at each point.
                let mut rest = level;
                while !rest.is_empty() {
                    let label = TEAM_LABELS
                        .iter()
                        .filter(|l| rest == **l || rest.starts_with(&format!("{l}_")))
                        .max_by_key(|l| l.len());
                    let taken = match label {
                        Some(l) => {
                            found.insert(*l);
                            l.len()
                        }
                        None => rest.find('_').unwrap_or(rest.len()),
                    };
                    rest = rest[taken..].trim_start_matches('_');
                }
            }
            None => {
                if let Some(l) = TEAM_LABELS.iter().find(|l| **l == token) {
                    found.insert(*l);
                }
            }
        }
    }
    found
}

/// Every problem with a board's drill-down links: a panel with a team or pair dimension must link
/// to a siloscope list through `${siloscope_url}`, with the board's time range, and interpolate
/// (URL-encoded) each of its team labels: from the series, the table row, the matrix cell, or the
/// board variable its queries filter the label by.
fn missing_drill_downs(name: &str, board: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let variables: Vec<&Value> = board["templating"]["list"].as_array().unwrap().iter().collect();
    let mut linked = 0;
    for p in board["panels"].as_array().unwrap() {
        let exprs: Vec<&str> =
            p["targets"].as_array().into_iter().flatten().filter_map(|t| t["expr"].as_str()).collect();
        let labels: BTreeSet<&str> = exprs.iter().flat_map(|e| team_labels(e)).collect();
        if labels.is_empty() {
            continue;
        }
        let at = format!("{name} / {}", p["title"].as_str().unwrap_or(""));
        let urls: Vec<&str> = p["fieldConfig"]["defaults"]["links"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["url"].as_str())
            .collect();
        if urls.is_empty() {
            problems.push(format!("{at}: groups by or selects {labels:?} but has no data link"));
            continue;
        }
        linked += 1;
        for url in &urls {
            let Some(rest) = url.strip_prefix("${siloscope_url}/") else {
                problems.push(format!("{at}: {url} does not start with ${{siloscope_url}}/"));
                continue;
            };
            let (page, query) = rest.split_once('?').unwrap_or((rest, ""));
            if !["handoffs", "reviews", "decisions"].contains(&page) {
                problems.push(format!("{at}: {url} links to no list page"));
            }
            let params: Vec<(&str, &str)> = query.split('&').filter_map(|kv| kv.split_once('=')).collect();
            if !params.contains(&("from", "${__from}")) || !params.contains(&("to", "${__to}")) {
                problems.push(format!("{at}: {url} lacks the board's time range (from=${{__from}}&to=${{__to}})"));
            }
            for (key, value) in &params {
                if value.starts_with("${") && !["from", "to"].contains(key) && !value.ends_with(":percentencode}") {
                    problems.push(format!("{at}: {url}: {key} is not URL-encoded (:percentencode)"));
                }
            }
        }
        let matrix = p["transformations"].as_array().into_iter().flatten().find(|t| t["id"] == "groupingToMatrix");
        for label in &labels {
            let mut ways = vec![format!("${{__field.labels.{label}:"), format!("${{__data.fields.{label}:")];
            if let Some(m) = matrix {
                if m["options"]["rowField"] == *label {
                    ways.push("${__data.fields[0]:".to_string());
                }
                if m["options"]["columnField"] == *label {
                    ways.push("${__field.name:".to_string());
                }
            }
            for e in &exprs {
                let needle = format!("{label}=~\"$");
                if let Some(i) = e.find(&needle) {
                    let var: String = e[i + needle.len()..]
                        .trim_start_matches('{')
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    ways.push(format!("${{{var}:"));
                }
            }
            if !urls.iter().any(|u| ways.iter().any(|w| u.contains(w.as_str()))) {
                problems.push(format!("{at}: no link interpolates {label} (any of {ways:?})"));
            }
        }
    }
    if linked > 0 {
        match variables.iter().find(|v| v["name"] == "siloscope_url") {
            Some(v) if v["type"] == "textbox" && v["query"].as_str().is_some_and(|d| d.starts_with("http")) => {}
            _ => {
                problems.push(format!("{name}: links use ${{siloscope_url}} but it is no textbox variable with a URL"))
            }
        }
    }
    problems
}

#[test]
fn every_team_or_pair_panel_links_to_its_siloscope_list_with_the_time_range() {
    let mut panels = 0;
    for (name, board) in boards() {
        let problems = missing_drill_downs(&name, &board);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
        panels += board["panels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["fieldConfig"]["defaults"]["links"].as_array().is_some_and(|l| !l.is_empty()))
            .count();
    }
    assert!(panels >= 45, "only {panels} panels with a drill-down link");
}

#[test]
fn the_drill_down_check_fails_on_a_panel_without_its_link() {
    assert_eq!(
        team_labels(r#"from_team_to_team:siloscope_handoff_latency_seconds:p75_7d{to_team=~"$team"}"#),
        BTreeSet::from(["from_team", "to_team"])
    );
    assert_eq!(team_labels(r#"team_kind:siloscope_rework:increase28d{team=~"$team"}"#), BTreeSet::from(["team"]));
    assert_eq!(team_labels("time() - siloscope_source_last_success_timestamp_seconds"), BTreeSet::new());
    let (name, board) = boards().remove(0);
    let panels = board["panels"].as_array().unwrap();
    let linked: Vec<usize> = (0..panels.len())
        .filter(|&i| panels[i]["fieldConfig"]["defaults"]["links"].as_array().is_some_and(|l| !l.is_empty()))
        .collect();
    assert!(!linked.is_empty(), "{name} has no linked panel");
    type Breakage = Box<dyn Fn(&mut Value, usize)>;
    let broken: Vec<(&str, Breakage)> = vec![
        ("no link", Box::new(|b, i| b["panels"][i]["fieldConfig"]["defaults"]["links"] = json!([]))),
        (
            "no time range",
            Box::new(|b, i| {
                let url = b["panels"][i]["fieldConfig"]["defaults"]["links"][0]["url"].as_str().unwrap().to_string();
                b["panels"][i]["fieldConfig"]["defaults"]["links"][0]["url"] = json!(url.replace("&to=${__to}", ""));
            }),
        ),
        (
            "a fixed URL",
            Box::new(|b, i| {
                let url = b["panels"][i]["fieldConfig"]["defaults"]["links"][0]["url"].as_str().unwrap().to_string();
                b["panels"][i]["fieldConfig"]["defaults"]["links"][0]["url"] =
                    json!(url.replace("${siloscope_url}", "http://siloscope:9731"));
            }),
        ),
        (
            "no team interpolated",
            Box::new(|b, i| {
                let url = b["panels"][i]["fieldConfig"]["defaults"]["links"][0]["url"].as_str().unwrap().to_string();
                let (path, query) = url.split_once('?').unwrap();
                let kept: Vec<&str> = query.split('&').filter(|kv| !kv.contains("team")).collect();
                b["panels"][i]["fieldConfig"]["defaults"]["links"][0]["url"] =
                    json!(format!("{path}?{}", kept.join("&")));
            }),
        ),
    ];
    for (what, break_it) in broken {
        for &i in &linked {
            let mut b = board.clone();
            break_it(&mut b, i);
            assert!(
                !missing_drill_downs(&name, &b).is_empty(),
                "the check accepted {name} / {} with {what}",
                panels[i]["title"]
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rules, rule tests and example configs, with the real tools.
// ---------------------------------------------------------------------------------------------

/// The contract of every rules file: recording rules named level:metric:operations with a
/// siloscope metric, alerts named Siloscope… with a severity of the shared vocabulary, the team
/// that receives them, a summary, a description and a board link.
fn check_naming_and_labelling(recording: &[Value], alerts: &[Value]) {
    for r in recording {
        let name = r["record"].as_str().unwrap();
        let parts: Vec<&str> = name.split(':').collect();
        assert!(
            parts.len() == 3 && parts[1].starts_with("siloscope_") && !parts[0].is_empty() && !parts[2].is_empty(),
            "recording rule {name} is not named level:metric:operations"
        );
    }
    for r in alerts {
        let name = r["alert"].as_str().unwrap();
        assert!(name.starts_with("Siloscope"), "{name}");
        assert!(
            ["critical", "warning", "info"].contains(&r["labels"]["severity"].as_str().unwrap_or("")),
            "{name}: severity"
        );
        assert!(r["labels"]["team"].as_str().is_some_and(|t| !t.is_empty()), "{name}: the receiving team label");
        for a in ["summary", "description", "dashboard"] {
            assert!(r["annotations"][a].as_str().is_some_and(|t| !t.is_empty()), "{name}: annotation {a}");
        }
        assert!(r["annotations"]["dashboard"].as_str().unwrap().starts_with("/d/siloscope-"), "{name}: dashboard link");
    }
}

#[test]
fn rules_pass_promtool_lint_and_follow_the_naming_and_labelling_contract() {
    let recording = mixin().join("rules/recording.yaml");
    let alerts = mixin().join("rules/alerts.yaml");
    let (ok, out) = tool(
        "promtool",
        &["check", "rules", "--lint=all", "--lint-fatal", recording.to_str().unwrap(), alerts.to_str().unwrap()],
    );
    assert!(ok, "promtool check rules --lint:\n{out}");
    check_naming_and_labelling(&rules(&recording), &rules(&alerts));
    // The stalled-handoff alert goes to the team the handoff waits on.
    let stalled =
        rules(&alerts).into_iter().find(|r| r["alert"] == "SiloscopeHandoffStalled").expect("SiloscopeHandoffStalled");
    assert_eq!(stalled["labels"]["team"], "{{ $labels.to_team }}");
    assert!(stalled["expr"].as_str().unwrap().contains("siloscope_handoffs_stalled"));
    // Its `list` annotation is the exact list of the stalled handoffs of the pair and kind, at the
    // siloscope the scrape target's `siloscope_url` label names (kept by the expression's `by`).
    assert!(stalled["expr"].as_str().unwrap().contains("siloscope_url"), "{}", stalled["expr"]);
    assert_eq!(
        stalled["annotations"]["list"],
        "{{ $labels.siloscope_url }}/handoffs?to_team={{ $labels.to_team | urlquery }}\
         &from_team={{ $labels.from_team | urlquery }}&state=stalled&kind={{ $labels.kind | urlquery }}"
    );
}

/// Two agreements unlike the example's: one from any team of every kind over 7 days (a window that
/// is also an alert window), one at 99.5 %.
fn fixed_agreements() -> Vec<siloscope::signals::agreements::Agreement> {
    use siloscope::model::{DAY, HOUR};
    use siloscope::signals::HandoffKind;
    use siloscope::signals::agreements::Agreement;
    vec![
        Agreement {
            name: "search-any".into(),
            to_team: "search".into(),
            from_teams: vec![],
            kinds: vec![],
            within: 4 * HOUR,
            working_hours: false,
            objective: 0.75,
            window: 7 * DAY,
        },
        Agreement {
            name: "ident_transfers".into(),
            to_team: "identity".into(),
            from_teams: vec!["web".into()],
            kinds: vec![HandoffKind::Transfer, HandoffKind::Reassign],
            within: 90 * 60,
            working_hours: true,
            objective: 0.995,
            window: 30 * DAY,
        },
    ]
}

#[test]
fn generated_agreement_rules_pass_promtool_lint_and_the_contract() {
    use siloscope::signals::agreements::ALERT_POLICY;
    let dir = tempfile::tempdir().unwrap();
    for (external, link) in [
        (None, "/handoffs?agreement={}&state=broken".to_string()),
        (Some("https://acme.io/siloscope/"), "https://acme.io/siloscope/handoffs?agreement={}&state=broken".into()),
    ] {
        let url = external.map(|u| siloscope::pages::ExternalUrl::parse(u).unwrap());
        let text = siloscope::rules::generate(&fixed_agreements(), url.as_ref());
        let file = dir.path().join("agreements.yaml");
        std::fs::write(&file, &text).unwrap();
        let (ok, out) = tool("promtool", &["check", "rules", "--lint=all", "--lint-fatal", file.to_str().unwrap()]);
        assert!(ok, "promtool check rules --lint:\n{out}\n{text}");
        let doc = read_yaml(&file);
        let groups = doc["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "one group per agreement");
        for (g, a) in groups.iter().zip(fixed_agreements()) {
            let rules = g["rules"].as_array().unwrap();
            let (records, alerts): (Vec<Value>, Vec<Value>) =
                rules.iter().cloned().partition(|r| r["record"].is_string());
            check_naming_and_labelling(&records, &alerts);
            assert_eq!(alerts.len(), ALERT_POLICY.len(), "one alert per policy row");
            for r in rules {
                let expr = r["expr"].as_str().unwrap();
                assert!(expr.contains(&format!("{{agreement=\"{}\"}}", a.name)), "{expr}");
            }
            for r in &records {
                let expr = r["expr"].as_str().unwrap();
                // Replica-safe: every counter is summed by agreement and team before dividing.
                if expr.contains("increase(") {
                    assert_eq!(
                        expr.matches("increase(").count(),
                        expr.matches("sum by (agreement, to_team) (increase(").count(),
                        "{expr}"
                    );
                }
            }
            for (r, row) in alerts.iter().zip(ALERT_POLICY) {
                assert_eq!(r["alert"], siloscope::rules::alert_name(row));
                assert_eq!(r["labels"]["team"], "{{ $labels.to_team }}");
                assert_eq!(r["labels"]["severity"], if row.severity == "page" { "critical" } else { "warning" });
                assert_eq!(r["annotations"]["list"], link.replace("{}", &a.name));
                let expr = r["expr"].as_str().unwrap();
                for w in [row.long, row.short] {
                    let record = siloscope::rules::burn_rate_record(&siloscope::rules::duration(w));
                    assert!(expr.contains(&format!("{record}{{agreement=\"{}\"}} > {}", a.name, row.factor)), "{expr}");
                }
            }
        }
        // The burn rates divide by the budget as written: 1 − 0.995 is 0.005.
        assert!(text.contains("/ 0.005\n") && text.contains("/ 0.25\n"), "{text}");
    }
}

#[test]
fn the_agreements_example_rules_are_what_siloscope_rules_writes_for_the_example_config() {
    // Regenerate: siloscope rules --config config/siloscope.example.toml
    //   --web.external-url https://siloscope.internal:9731 --out dashboards/rules/agreements.example.yaml
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rules.yaml");
    let run = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["rules", "--config"])
        .arg(root().join("config/siloscope.example.toml"))
        .args(["--web.external-url", "https://siloscope.internal:9731", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let written = std::fs::read_to_string(&out).unwrap();
    let committed = std::fs::read_to_string(mixin().join("rules/agreements.example.yaml")).unwrap();
    assert!(
        written == committed,
        "dashboards/rules/agreements.example.yaml differs from what siloscope rules writes:\n{written}"
    );
    // The same on standard output.
    let stdout = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["rules", "--config"])
        .arg(root().join("config/siloscope.example.toml"))
        .args(["--web.external-url", "https://siloscope.internal:9731"])
        .output()
        .unwrap();
    assert!(stdout.status.success());
    assert_eq!(String::from_utf8(stdout.stdout).unwrap(), committed);
    let (ok, out) = tool(
        "promtool",
        &[
            "check",
            "rules",
            "--lint=all",
            "--lint-fatal",
            mixin().join("rules/agreements.example.yaml").to_str().unwrap(),
        ],
    );
    assert!(ok, "promtool check rules --lint:\n{out}");
}

#[test]
fn siloscope_rules_refuses_a_config_without_agreements_and_a_bad_url_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("siloscope.toml");
    std::fs::write(&config, format!("[store]\npath = {:?}\n", dir.path().join("s.db").display().to_string())).unwrap();
    let out = dir.path().join("rules.yaml");
    let example = root().join("config/siloscope.example.toml");
    for (config, extra, says) in [
        (&config, vec![], "has no [[agreements]]"),
        (&example, vec!["--web.external-url", "ftp://siloscope"], "invalid --web.external-url"),
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_siloscope"))
            .args(["rules", "--config"])
            .arg(config)
            .args(extra)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!out.exists(), "nothing is written");
    }
}

#[test]
fn rule_tests_pass_and_cover_every_alert_firing_and_quiet() {
    let tests_dir = mixin().join("tests");
    let files: Vec<PathBuf> = std::fs::read_dir(&tests_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    assert!(files.len() >= 2, "rule test files: {files:?}");
    let mut args = vec!["test", "rules"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let (ok, out) = tool("promtool", &args);
    assert!(ok, "promtool test rules:\n{out}");
    assert_eq!(out.matches("SUCCESS").count(), files.len(), "{out}");
    let mut fires = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for f in &files {
        for t in read_yaml(f)["tests"].as_array().unwrap() {
            for case in t["alert_rule_test"].as_array().into_iter().flatten() {
                let alert = case["alertname"].as_str().unwrap().to_string();
                if case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()) {
                    fires.insert(alert);
                } else {
                    quiet.insert(alert);
                }
            }
        }
    }
    let agreements = rules(&mixin().join("rules/agreements.example.yaml"));
    for r in
        rules(&mixin().join("rules/alerts.yaml")).iter().chain(agreements.iter().filter(|r| r["alert"].is_string()))
    {
        let name = r["alert"].as_str().unwrap();
        assert!(fires.contains(name), "no rule test shows {name} firing");
        assert!(quiet.contains(name), "no rule test shows {name} staying quiet");
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost (valid until 2126) and its key, for tests only.
pub const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
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
pub const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHG+oPK8xrWH69XVU
oshWOGLABX7ulw48xlbrett2jGyhRANCAASn4ypDLyFZh58ujsUMp3wDu43C3joY
Cuc/Ig5pvVqGjifclWdy9MQOfSHQsCbzv1e8xc0I0ZrjWqsMgfRvO1YF
-----END PRIVATE KEY-----
";

#[test]
fn the_example_web_config_passes_promtool_and_siloscope_alike() {
    // The example names siloscope.crt / siloscope.key next to itself: put a test pair there.
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web-config.yml");
    std::fs::copy(mixin().join("web-config.example.yml"), &web).unwrap();
    std::fs::write(dir.path().join("siloscope.crt"), TEST_CERT).unwrap();
    std::fs::write(dir.path().join("siloscope.key"), TEST_KEY).unwrap();
    let (ok, out) = tool("promtool", &["check", "web-config", web.to_str().unwrap()]);
    assert!(ok && out.contains("SUCCESS"), "promtool check web-config:\n{out}");
    let cfg = siloscope::webconfig::load(&web).expect("siloscope accepts the example web config");
    assert!(cfg.tls.is_some());
    let auth = cfg.basic_auth.expect("basic auth is on");
    use base64::Engine as _;
    let header =
        |p: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("prometheus:{p}")));
    assert!(auth.check(Some(&header("change-me"))), "the example's hash is of \"change-me\"");
    assert!(!auth.check(Some(&header("change-you"))));
    // Without its key file, both refuse it.
    std::fs::remove_file(dir.path().join("siloscope.key")).unwrap();
    assert!(!tool("promtool", &["check", "web-config", web.to_str().unwrap()]).0);
    let err = siloscope::webconfig::load(&web).unwrap_err();
    assert!(err.contains("siloscope.key"), "{err}");
}

#[test]
fn the_example_prometheus_and_alertmanager_configs_pass_and_route_by_team() {
    let (ok, out) = tool("promtool", &["check", "config", mixin().join("prometheus.example.yml").to_str().unwrap()]);
    assert!(ok, "promtool check config:\n{out}");
    assert!(out.contains("SUCCESS: 3 rule files found"), "{out}");
    let am = mixin().join("alertmanager.example.yml");
    let (ok, out) = tool("amtool", &["check-config", am.to_str().unwrap()]);
    assert!(ok, "amtool check-config:\n{out}");
    let config = format!("--config.file={}", am.display());
    for (labels, receiver) in [
        (vec!["alertname=SiloscopeHandoffStalled", "team=payments"], "team-payments"),
        (vec!["alertname=SiloscopeHandoffStalled", "team=platform"], "team-platform"),
        // The generated agreement alerts route by the same label.
        (vec!["alertname=SiloscopeAgreementBudgetBurn1d2h", "severity=critical", "team=payments"], "team-payments"),
        (vec!["alertname=SiloscopeSourceDown", "team=siloscope-operators"], "siloscope-operators"),
        (vec!["alertname=SiloscopeHandoffStalled", "team=newteam"], "siloscope-fallback"),
    ] {
        let mut args = vec!["config", "routes", "test", config.as_str()];
        args.extend(labels.iter().copied());
        let (ok, out) = tool("amtool", &args);
        assert!(ok && out.lines().any(|l| l.trim() == receiver), "{labels:?} should go to {receiver}:\n{out}");
    }
}

#[test]
fn grafana_provisioning_files_point_at_the_boards() {
    let dashboards = read_yaml(&mixin().join("provisioning/dashboards/siloscope.yaml"));
    assert_eq!(dashboards["apiVersion"], 1);
    assert_eq!(dashboards["providers"][0]["type"], "file");
    assert!(dashboards["providers"][0]["options"]["path"].as_str().is_some());
    let datasources = read_yaml(&mixin().join("provisioning/datasources/siloscope.yaml"));
    assert_eq!(datasources["datasources"][0]["type"], "prometheus");
}
