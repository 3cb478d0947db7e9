//! The six Grafana boards (dashboards/*.json), written from the metric catalogue: metric names and
//! the SIGNALS.md definitions in panel descriptions come from `siloscope_catalogue`, the panels
//! and their layout from the definitions below, their data links to siloscope's lists from
//! `drilldown`. Only builds text; `cargo xtask dashboards` writes the files and
//! tests/dashboards.rs checks the committed ones equal what this returns.
//!
//! Boards show teams and team pairs only: distributions and trends, never a ranking of people (no
//! metric has a person label), and every speed panel sits beside its guardrail.

use siloscope_catalogue::{self as catalogue, Family};

use crate::drilldown::{self, SILOSCOPE_URL_DEFAULT, SILOSCOPE_URL_VARIABLE, Shape};
use crate::json::Json;
use crate::{arr, obj};

/// The boards, in the order they are written: (file name under dashboards/, JSON text).
pub fn boards() -> Vec<(&'static str, String)> {
    vec![
        ("siloscope-retro.json", retro().pretty()),
        ("siloscope-handoffs.json", handoffs().pretty()),
        ("siloscope-reviews.json", reviews().pretty()),
        ("siloscope-decisions.json", decisions().pretty()),
        ("siloscope-agreements.json", agreements().pretty()),
        ("siloscope-health.json", health().pretty()),
    ]
}

const SCHEMA_VERSION: i64 = 39;
const PRIVACY: &str = " Teams with fewer active people than the privacy floor appear as `other`.";
const PERIOD: &str = " Over the dashboard's time range.";

fn datasource() -> Json {
    obj! { "type": "prometheus", "uid": "${datasource}" }
}

/// The SIGNALS.md definition a family's panels quote.
fn def(family: &Family) -> &'static str {
    family.definition.unwrap_or_else(|| panic!("{} has no definition in the catalogue", family.name))
}

// ---------------------------------------------------------------------------------------------
// Queries and panels.
// ---------------------------------------------------------------------------------------------

/// A query of a panel.
struct Target {
    expr: String,
    legend: String,
    instant: bool,
    format: Option<&'static str>,
    ref_id: &'static str,
}

fn q(expr: impl Into<String>) -> Target {
    Target { expr: expr.into(), legend: String::new(), instant: false, format: None, ref_id: "A" }
}

impl Target {
    fn legend(mut self, legend: &str) -> Self {
        self.legend = legend.to_string();
        self
    }
    fn instant(mut self) -> Self {
        self.instant = true;
        self
    }
    fn format(mut self, format: &'static str) -> Self {
        self.format = Some(format);
        self
    }
    fn id(mut self, ref_id: &'static str) -> Self {
        self.ref_id = ref_id;
        self
    }
    fn json(&self) -> Json {
        let legend = if self.legend.is_empty() { "__auto" } else { self.legend.as_str() };
        let mut t = obj! {
            "refId": self.ref_id,
            "datasource": datasource(),
            "expr": self.expr.as_str(),
            "legendFormat": legend,
            "range": !self.instant,
            "instant": self.instant,
        };
        if let Some(format) = self.format {
            t.set("format", format);
        }
        t
    }
}

/// Threshold steps: the first colour is the base (from −∞), then (value, colour) pairs.
type Thresholds = &'static [(Option<i64>, &'static str)];

const GREEN: Thresholds = &[(None, "green")];

#[derive(Default)]
struct Field {
    unit: &'static str,
    min: Option<i64>,
    max: Option<i64>,
    thresholds: Option<Thresholds>,
}

fn field_config(f: Field) -> Json {
    let mut defaults = obj! { "unit": f.unit, "color": obj! { "mode": "palette-classic" } };
    if let Some(min) = f.min {
        defaults.set("min", min);
    }
    if let Some(max) = f.max {
        defaults.set("max", max);
    }
    if let Some(steps) = f.thresholds {
        defaults.set("color", obj! { "mode": "thresholds" });
        let mut list = vec![obj! { "value": Json::Null, "color": steps[0].1 }];
        list.extend(steps[1..].iter().map(|(value, color)| obj! { "value": *value, "color": *color }));
        defaults.set("thresholds", obj! { "mode": "absolute", "steps": list });
    }
    obj! { "defaults": defaults, "overrides": arr![] }
}

/// A panel before layout: its JSON and its size on the 24-column grid.
struct Panel {
    json: Json,
    w: i64,
    h: i64,
}

fn panel(kind: &str, title: &str, description: &str, targets: &[Target], field: Json, options: Json) -> Json {
    panel_shaped(kind, title, description, targets, field, options, Shape::Series)
}

/// A panel whose queries' values link to their siloscope list page (xtask/src/drilldown.rs): each
/// distinct link once, on every value (Grafana's dashboard schema allows no per-query override).
fn panel_shaped(
    kind: &str,
    title: &str,
    description: &str,
    targets: &[Target],
    mut field: Json,
    options: Json,
    shape: Shape,
) -> Json {
    let mut links: Vec<Json> = Vec::new();
    for link in targets.iter().filter_map(|t| drilldown::link(&t.expr, shape)) {
        if !links.contains(&link) {
            links.push(link);
        }
    }
    if !links.is_empty() {
        field.get_mut("defaults").expect("fieldConfig.defaults").set("links", links);
    }
    obj! {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource(),
        "targets": targets.iter().map(Target::json).collect::<Vec<_>>(),
        "fieldConfig": field,
        "options": options,
    }
}

/// A panel's size and value display; each builder has its own default size.
struct Look {
    unit: &'static str,
    w: Option<i64>,
    h: Option<i64>,
    min: Option<i64>,
    max: Option<i64>,
    thresholds: Option<Thresholds>,
}

const LOOK: Look = Look { unit: "short", w: None, h: None, min: None, max: None, thresholds: None };

const fn unit(unit: &'static str) -> Look {
    Look { unit, ..LOOK }
}

impl Look {
    const fn w(mut self, w: i64) -> Self {
        self.w = Some(w);
        self
    }
    const fn h(mut self, h: i64) -> Self {
        self.h = Some(h);
        self
    }
    const fn min(mut self, min: i64) -> Self {
        self.min = Some(min);
        self
    }
    const fn max(mut self, max: i64) -> Self {
        self.max = Some(max);
        self
    }
    const fn thresholds(mut self, t: Thresholds) -> Self {
        self.thresholds = Some(t);
        self
    }
}

fn timeseries(title: &str, description: &str, targets: &[Target], look: Look) -> Panel {
    let field = field_config(Field { unit: look.unit, min: look.min, max: look.max, thresholds: None });
    let options = obj! {
        "legend": obj! { "displayMode": "table", "placement": "right", "calcs": arr!["lastNotNull"] },
        "tooltip": obj! { "mode": "multi", "sort": "none" },
    };
    Panel {
        json: panel("timeseries", title, description, targets, field, options),
        w: look.w.unwrap_or(12),
        h: look.h.unwrap_or(8),
    }
}

fn stat(title: &str, description: &str, targets: &[Target], look: Look) -> Panel {
    let field = field_config(Field {
        unit: look.unit,
        thresholds: Some(look.thresholds.unwrap_or(GREEN)),
        ..Default::default()
    });
    let options = obj! {
        "reduceOptions": obj! { "calcs": arr!["lastNotNull"], "fields": "", "values": false },
        "colorMode": "value",
        "graphMode": "area",
        "textMode": "auto",
        "justifyMode": "auto",
    };
    Panel {
        json: panel("stat", title, description, targets, field, options),
        w: look.w.unwrap_or(6),
        h: look.h.unwrap_or(4),
    }
}

fn bargauge(title: &str, description: &str, targets: &[Target], look: Look) -> Panel {
    let field = field_config(Field { unit: look.unit, min: Some(0), max: look.max, thresholds: None });
    let options = obj! {
        "reduceOptions": obj! { "calcs": arr!["lastNotNull"], "fields": "", "values": false },
        "orientation": "horizontal",
        "displayMode": "gradient",
        "showUnfilled": true,
    };
    Panel {
        json: panel("bargauge", title, description, targets, field, options),
        w: look.w.unwrap_or(12),
        h: look.h.unwrap_or(8),
    }
}

fn table(title: &str, description: &str, targets: &[Target], look: Look, transformations: Vec<Json>) -> Panel {
    table_shaped(title, description, targets, look, transformations, Shape::Rows)
}

fn table_shaped(
    title: &str,
    description: &str,
    targets: &[Target],
    look: Look,
    transformations: Vec<Json>,
    shape: Shape,
) -> Panel {
    let field = field_config(Field { unit: look.unit, ..Default::default() });
    let options = obj! { "showHeader": true, "cellHeight": "sm" };
    let mut json = panel_shaped("table", title, description, targets, field, options, shape);
    json.set("transformations", transformations);
    Panel { json, w: look.w.unwrap_or(12), h: look.h.unwrap_or(8) }
}

/// A team × team matrix from one instant query (rows and columns are team labels).
fn matrix(title: &str, description: &str, expr: String, row: &'static str, column: &'static str, look: Look) -> Panel {
    let look = Look { h: Some(look.h.unwrap_or(9)), ..look };
    let to_matrix = obj! {
        "id": "groupingToMatrix",
        "options": obj! { "rowField": row, "columnField": column, "valueField": "Value", "emptyValue": "null" },
    };
    let shape = Shape::Matrix { row, column };
    table_shaped(title, description, &[q(expr).instant().format("table")], look, vec![to_matrix], shape)
}

/// Latency distribution per day from a histogram (Prometheus buckets as the y axis).
fn heatmap(title: &str, description: &str, expr: String) -> Panel {
    let field = obj! {
        "defaults": obj! { "custom": obj! { "scaleDistribution": obj! { "type": "linear" } } },
        "overrides": arr![],
    };
    let options = obj! {
        "calculate": false,
        "yAxis": obj! { "axisPlacement": "left", "unit": "s" },
        "cellGap": 1,
        "color": obj! {
            "mode": "scheme", "scheme": "Blues", "steps": 64, "exponent": 0.5, "fill": "dark-blue", "scale": "exponential",
        },
        "rowsFrame": obj! { "layout": "auto" },
        "tooltip": obj! { "show": true, "yHistogram": true },
        "legend": obj! { "show": true },
        "exemplars": obj! { "color": "rgba(255,0,255,0.7)" },
    };
    let mut json = panel("heatmap", title, description, &[q(expr).legend("{{le}}").format("heatmap")], field, options);
    json.set("interval", "1d");
    json.set("maxDataPoints", 120);
    Panel { json, w: 12, h: 9 }
}

fn row(title: &str) -> Panel {
    Panel { json: obj! { "type": "row", "title": title, "collapsed": false, "panels": arr![] }, w: 24, h: 1 }
}

// ---------------------------------------------------------------------------------------------
// Variables and the board.
// ---------------------------------------------------------------------------------------------

/// A multi-value variable with *All*, from a `label_values` query.
fn variable(name: &str, label: &str, query: String) -> Json {
    obj! {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": datasource(),
        "query": query.as_str(),
        "definition": query.as_str(),
        "refresh": 2,
        "sort": 1,
        "multi": true,
        "includeAll": true,
        "hide": 0,
        "current": obj! { "selected": true, "text": arr!["All"], "value": arr!["$__all"] },
        "options": arr![],
        "regex": "",
        "allValue": ".*",
    }
}

fn datasource_variable() -> Json {
    obj! {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "current": obj! { "selected": false, "text": "default", "value": "default" },
        "hide": 0,
        "includeAll": false,
        "multi": false,
        "options": arr![],
        "refresh": 1,
        "regex": "",
    }
}

fn team_variable() -> Json {
    variable("team", "Team", format!("label_values({}, team)", catalogue::TEAM_MEMBERS.name))
}

fn window_variable() -> Json {
    let option = |value: &str, selected: bool| obj! { "selected": selected, "text": value, "value": value };
    obj! {
        "type": "custom",
        "name": "window",
        "label": "Window",
        "query": "7d,28d,90d",
        "current": obj! { "selected": true, "text": "28d", "value": "28d" },
        "options": arr![option("7d", false), option("28d", true), option("90d", false)],
        "hide": 0,
        "includeAll": false,
        "multi": false,
        "description": "Rolling window of the windowed gauges (reciprocity, bridge people, silo index).",
    }
}

/// siloscope's external URL, which the drill-down links start with: the operator sets it to what
/// siloscope's `--web.external-url` says (dashboards/README.md).
fn siloscope_url_variable() -> Json {
    obj! {
        "type": "textbox",
        "name": SILOSCOPE_URL_VARIABLE,
        "label": "siloscope URL",
        "query": SILOSCOPE_URL_DEFAULT,
        "current": obj! { "selected": false, "text": SILOSCOPE_URL_DEFAULT, "value": SILOSCOPE_URL_DEFAULT },
        "options": arr![obj! { "selected": true, "text": SILOSCOPE_URL_DEFAULT, "value": SILOSCOPE_URL_DEFAULT }],
        "hide": 0,
        "description": "siloscope's external URL (its --web.external-url), without a trailing slash: panels link to \
                        the lists behind their values there.",
    }
}

/// Places panels left to right, wrapping at 24 columns; rows take a line of their own.
fn layout(panels: Vec<Panel>) -> Vec<Json> {
    let (mut x, mut y, mut line_h) = (0, 0, 0);
    let mut out = Vec::with_capacity(panels.len());
    for (i, Panel { mut json, w, h }) in panels.into_iter().enumerate() {
        let is_row = json.get("type") == Some(&Json::from("row"));
        if is_row || x + w > 24 {
            y += line_h;
            x = 0;
            line_h = 0;
        }
        json.set("id", i as i64 + 1);
        json.set("gridPos", obj! { "h": h, "w": w, "x": x, "y": y });
        out.push(json);
        if is_row {
            y += 1;
        } else {
            x += w;
            line_h = line_h.max(h);
        }
    }
    out
}

struct Board {
    uid: &'static str,
    title: &'static str,
    description: &'static str,
    time_from: &'static str,
    refresh: &'static str,
}

fn dashboard(board: Board, panels: Vec<Panel>, variables: Vec<Json>) -> Json {
    let mut templating = vec![datasource_variable()];
    templating.extend(variables);
    if panels.iter().any(|p| p.json.pretty().contains(&format!("${{{SILOSCOPE_URL_VARIABLE}}}"))) {
        templating.push(siloscope_url_variable());
    }
    obj! {
        "uid": board.uid,
        "title": board.title,
        "description": board.description,
        "tags": arr!["siloscope"],
        "timezone": "browser",
        "editable": true,
        "graphTooltip": 1,
        "time": obj! { "from": board.time_from, "to": "now" },
        "timepicker": obj! { "refresh_intervals": arr!["1m", "5m", "15m", "1h", "1d"] },
        "fiscalYearStartMonth": 0,
        "liveNow": false,
        "refresh": board.refresh,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "weekStart": "monday",
        "links": arr![obj! {
            "title": "siloscope", "type": "dashboards", "icon": "external link", "tooltip": "Other siloscope boards",
            "tags": arr!["siloscope"], "asDropdown": true, "targetBlank": false, "includeVars": true, "keepTime": true,
        }],
        "annotations": obj! { "list": arr![obj! {
            "builtIn": 1, "datasource": obj! { "type": "grafana", "uid": "-- Grafana --" }, "enable": true, "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
        }] },
        "templating": obj! { "list": templating },
        "panels": layout(panels),
    }
}

// ---------------------------------------------------------------------------------------------
// The boards.
// ---------------------------------------------------------------------------------------------

const PAIR: &str = r#"from_team=~"$from_team", to_team=~"$to_team""#;
const STALLED_ORANGE: Thresholds = &[(None, "green"), (Some(1), "orange")];

fn retro() -> Json {
    use catalogue::*;
    let latency = HANDOFF_LATENCY.bucket();
    let stalled = HANDOFFS_STALLED.name;
    let (bounces, handoffs) = (HANDOFF_BOUNCES.total(), HANDOFFS.total());
    let (decisions, rehashed) = (DECISIONS.total(), DECISIONS_REHASHED.total());
    let quantile = |p: &str| {
        format!("histogram_quantile({p}, sum by (from_team, to_team, le) (increase({latency}{{{PAIR}}}[$__range])))")
    };
    let p = vec![
        row("Handoffs between teams"),
        table(
            "Handoff latency per team pair (period): p50 and p75",
            &format!(
                "The middle and the slow end of how long handoffs from one team waited for the receiving team to act, \
                 per pair, over the dashboard's time range. {} {}{PRIVACY}",
                def(&HANDOFFS),
                def(&HANDOFF_LATENCY)
            ),
            &[
                q(quantile("0.5")).instant().format("table").id("p50"),
                q(quantile("0.75")).instant().format("table").id("p75"),
            ],
            unit("s"),
            vec![
                obj! { "id": "merge", "options": obj! {} },
                obj! { "id": "organize", "options": obj! {
                    "excludeByName": obj! { "Time": true },
                    "renameByName": obj! { "Value #p50": "p50", "Value #p75": "p75" },
                } },
            ],
        ),
        stat(
            "Handoffs stalled now",
            &format!(
                "Handoffs waiting past the stall threshold right now, for the selected pairs. {}",
                def(&HANDOFFS_STALLED)
            ),
            &[q(format!("sum({stalled}{{{PAIR}}})"))],
            LOOK.w(6).h(8).thresholds(STALLED_ORANGE),
        ),
        bargauge(
            "Stalled now, by receiving team",
            &format!("Stalled handoffs per team they wait on. {}", def(&HANDOFFS_STALLED)),
            &[q(format!("sum by (to_team) ({stalled}{{{PAIR}}})")).legend("{{to_team}}").instant()],
            LOOK.w(6).h(8),
        ),
        timeseries(
            "Handoff latency trend: p75 over 7 days, per pair",
            &format!(
                "The slow end of handoff latency, each point over the 7 days before it (recording rule \
                 from_team_to_team:siloscope_handoff_latency_seconds:p75_7d). Read it beside the bounce rate: \
                 a handoff acknowledged fast and then sent back is not fast. {}",
                def(&HANDOFF_LATENCY)
            ),
            &[q(format!("from_team_to_team:siloscope_handoff_latency_seconds:p75_7d{{{PAIR}}}"))
                .legend("{{from_team}} → {{to_team}}")],
            unit("s"),
        ),
        timeseries(
            "Guardrail: bounce rate over 28 days, per pair",
            &format!(
                "Bounces per reassign or transfer handoff from from_team to to_team, over the 28 days before each point \
                 (recording rule from_team_to_team:siloscope_handoff_bounces:ratio_28d). {}",
                def(&HANDOFF_BOUNCES)
            ),
            &[q(format!("from_team_to_team:siloscope_handoff_bounces:ratio_28d{{{PAIR}}}"))
                .legend("{{from_team}} ⇄ {{to_team}}")],
            unit("percentunit").min(0),
        ),
        bargauge(
            "Bounces (period)",
            &format!(
                "Items that came back within the bounce window, per pair, over the dashboard's time range. {}",
                def(&HANDOFF_BOUNCES)
            ),
            &[q(format!("sum by (from_team, to_team) (increase({bounces}{{{PAIR}}}[$__range]))"))
                .legend("{{from_team}} ⇄ {{to_team}}")
                .instant()],
            LOOK.w(12),
        ),
        bargauge(
            "Handoffs (period), by kind",
            &format!(
                "How many handoffs the selected pairs made, by kind, over the dashboard's time range. {}",
                def(&HANDOFFS)
            ),
            &[q(format!("sum by (kind) (increase({handoffs}{{{PAIR}}}[$__range]))")).legend("{{kind}}").instant()],
            LOOK.w(12),
        ),
        row("Decisions"),
        bargauge(
            "Rehash rate (period), by team",
            &format!(
                "Decisions rehashed per decision made over the dashboard's time range. {} {}",
                def(&DECISIONS),
                def(&DECISIONS_REHASHED)
            ),
            &[q(rehash_rate(&rehashed, &decisions)).legend("{{team}}").instant()],
            unit("percentunit").max(1),
        ),
        timeseries(
            "Rehash rate trend: 28 days",
            &format!(
                "Each point: decisions rehashed / decisions made over the 28 days before it (recording rule \
                 team:siloscope_decisions_rehashed:ratio_28d). {}",
                def(&DECISIONS_REHASHED)
            ),
            &[q(r#"team:siloscope_decisions_rehashed:ratio_28d{team=~"$team"}"#).legend("{{team}}")],
            unit("percentunit").min(0),
        ),
        row("Reviews across teams"),
        timeseries(
            "Review pickup trend: p50 over 7 days, by reviewing team",
            &format!(
                "How long review requests waited for a first review, each point over the 7 days before it. Read it \
                 beside the share of reviews that asked for changes or commented: fast pickup with no substance is \
                 rubber-stamping. {}",
                def(&REVIEW_PICKUP)
            ),
            &[q(r#"reviewer_team:siloscope_review_pickup_seconds:p50_7d{reviewer_team=~"$team"}"#)
                .legend("{{reviewer_team}}")],
            unit("s"),
        ),
        timeseries(
            "Guardrail: reviews that asked for changes or commented (28 days)",
            &format!(
                "Share of the team's submitted reviews that requested changes or commented rather than approving, over \
                 the 28 days before each point (recording rule reviewer_team:siloscope_reviews:substantive_ratio_28d). {}",
                def(&REVIEWS)
            ),
            &[q(r#"reviewer_team:siloscope_reviews:substantive_ratio_28d{reviewer_team=~"$team"}"#)
                .legend("{{reviewer_team}}")],
            unit("percentunit").min(0).max(1),
        ),
        timeseries(
            "Cross-team review share (28 days)",
            &format!(
                "Share of the team's reviews given on other teams' pull requests, over the 28 days before each point \
                 (recording rule reviewer_team:siloscope_reviews:cross_team_ratio_28d). {}",
                def(&REVIEWS)
            ),
            &[q(r#"reviewer_team:siloscope_reviews:cross_team_ratio_28d{reviewer_team=~"$team"}"#)
                .legend("{{reviewer_team}}")],
            unit("percentunit").min(0).max(1),
        ),
        matrix(
            "Review reciprocity ($window)",
            &format!(
                "Rows team_a, columns team_b (team_a < team_b alphabetically). {}{PRIVACY}",
                def(&REVIEW_RECIPROCITY)
            ),
            format!(
                r#"max by (team_a, team_b) ({r}{{window=~"$window", team_a=~"$team"}} or {r}{{window=~"$window", team_b=~"$team"}})"#,
                r = REVIEW_RECIPROCITY.name
            ),
            "team_a",
            "team_b",
            unit("percentunit"),
        ),
        row("Working together"),
        timeseries(
            "First response trend: p50 over 7 days, by owning team",
            &format!(
                "How long an item opened by another team waited for the owning team's first event, each point over the 7 \
                 days before it. Read it beside bounces: a quick first response that hands the item back is not an \
                 answer. {}",
                def(&FIRST_RESPONSE)
            ),
            &[q(r#"owner_team:siloscope_first_response_seconds:p50_7d{owner_team=~"$team"}"#).legend("{{owner_team}}")],
            unit("s"),
        ),
        bargauge(
            "Guardrail: bounces sent back by the team (period)",
            &format!(
                "Items the team sent back to the team that handed them over, within the bounce window, over the \
                 dashboard's time range. {}",
                def(&HANDOFF_BOUNCES)
            ),
            &[q(format!(r#"sum by (to_team) (increase({bounces}{{to_team=~"$team"}}[$__range]))"#))
                .legend("{{to_team}}")
                .instant()],
            LOOK,
        ),
        bargauge(
            "Joint wins (period)",
            &format!(
                "Items completed with contributors from at least two teams, over the dashboard's time range. {}",
                def(&JOINT_WINS)
            ),
            &[q(format!(r#"sum by (team) (increase({}{{team=~"$team"}}[$__range]))"#, JOINT_WINS.total()))
                .legend("{{team}}")
                .instant()],
            LOOK.w(8),
        ),
        bargauge(
            "Bridge people ($window)",
            &format!("{}{PRIVACY}", def(&BRIDGE_PEOPLE)),
            &[q(format!(r#"{}{{team=~"$team", window=~"$window"}}"#, BRIDGE_PEOPLE.name)).legend("{{team}}").instant()],
            LOOK.w(8),
        ),
        bargauge(
            "Silo index ($window)",
            &format!("{}{PRIVACY}", def(&SILO_INDEX)),
            &[q(format!(r#"{}{{team=~"$team", window=~"$window"}}"#, SILO_INDEX.name)).legend("{{team}}").instant()],
            unit("percentunit").w(8).max(1),
        ),
        matrix(
            "Cross-team engagement (period): actor team × owner team",
            &format!("{}{PERIOD}", def(&ENGAGEMENTS)),
            format!(
                r#"sum by (actor_team, owner_team) (increase({}{{actor_team=~"$team"}}[$__range]))"#,
                ENGAGEMENTS.total()
            ),
            "actor_team",
            "owner_team",
            LOOK.w(24),
        ),
    ];
    let handoff_label =
        |name: &str, label: &str, of: &str| variable(name, label, format!("label_values({}, {of})", HANDOFFS.total()));
    dashboard(
        Board {
            uid: "siloscope-retro",
            title: "siloscope / Cross-team retro",
            description: "For a team retro over the chosen period: how handoffs, decisions and reviews crossed team \
                          boundaries. Teams and team pairs only, never people; every speed panel sits beside its guardrail.",
            time_from: "now-28d",
            refresh: "5m",
        },
        p,
        vec![
            team_variable(),
            handoff_label("from_team", "From team", "from_team"),
            handoff_label("to_team", "To team", "to_team"),
            window_variable(),
        ],
    )
}

/// Decisions rehashed / decisions made per team over the dashboard's time range.
fn rehash_rate(rehashed: &str, decisions: &str) -> String {
    format!(
        r#"sum by (team) (increase({rehashed}{{team=~"$team"}}[$__range])) / sum by (team) (increase({decisions}{{team=~"$team"}}[$__range]))"#
    )
}

fn handoffs() -> Json {
    use catalogue::*;
    let inbound = r#"to_team=~"$team""#;
    let outbound = r#"from_team=~"$team""#;
    let (waiting, stalled) = (HANDOFFS_WAITING.name, HANDOFFS_STALLED.name);
    let (latency, handoffs) = (HANDOFF_LATENCY.bucket(), HANDOFFS.total());
    let p = vec![
        stat(
            "Waiting on the team now",
            &format!("Inbound handoffs waiting for the team to act. {}", def(&HANDOFFS_WAITING)),
            &[q(format!("sum({waiting}{{{inbound}}})"))],
            LOOK,
        ),
        stat(
            "Stalled on the team now",
            &format!("Inbound handoffs waiting past the stall threshold. {}", def(&HANDOFFS_STALLED)),
            &[q(format!("sum({stalled}{{{inbound}}})"))],
            LOOK.thresholds(STALLED_ORANGE),
        ),
        stat(
            "Oldest inbound wait",
            &format!(
                "How long the oldest waiting inbound handoff has waited (0 when none waits). {}",
                def(&HANDOFF_OLDEST_WAIT)
            ),
            &[q(format!("max({}{{{inbound}}})", HANDOFF_OLDEST_WAIT.name))],
            unit("s"),
        ),
        stat(
            "Outbound, waiting on others now",
            &format!("Handoffs the team made that still wait for the receiving team. {}", def(&HANDOFFS_WAITING)),
            &[q(format!("sum({waiting}{{{outbound}}})"))],
            LOOK,
        ),
        timeseries(
            "Inbound waiting and stalled, by sending team",
            &format!(
                "Handoffs to the team, waiting and stalled over time, by the team that handed them over. {}",
                def(&HANDOFFS_WAITING)
            ),
            &[
                q(format!("sum by (from_team) ({waiting}{{{inbound}}})"))
                    .legend("waiting from {{from_team}}")
                    .id("waiting"),
                q(format!("sum by (from_team) ({stalled}{{{inbound}}})"))
                    .legend("stalled from {{from_team}}")
                    .id("stalled"),
            ],
            LOOK,
        ),
        timeseries(
            "Outbound waiting and stalled, by receiving team",
            &format!(
                "Handoffs from the team, waiting and stalled over time, by the team they wait on. {}",
                def(&HANDOFFS_WAITING)
            ),
            &[
                q(format!("sum by (to_team) ({waiting}{{{outbound}}})")).legend("waiting on {{to_team}}").id("waiting"),
                q(format!("sum by (to_team) ({stalled}{{{outbound}}})")).legend("stalled on {{to_team}}").id("stalled"),
            ],
            LOOK,
        ),
        heatmap(
            "Inbound latency distribution, per day",
            &format!(
                "How long inbound handoffs waited for the team to act, per day (buckets 5m … 30d). {}",
                def(&HANDOFF_LATENCY)
            ),
            format!("sum by (le) (increase({latency}{{{inbound}}}[1d]))"),
        ),
        heatmap(
            "Outbound latency distribution, per day",
            &format!("How long the team's handoffs waited for the receiving team, per day. {}", def(&HANDOFF_LATENCY)),
            format!("sum by (le) (increase({latency}{{{outbound}}}[1d]))"),
        ),
        timeseries(
            "Inbound latency trend: p50 and p75 over 7 days",
            &format!(
                "Each point over the 7 days before it (recording rules to_team:siloscope_handoff_latency_seconds:p50_7d \
                 and :p75_7d). Read it beside the bounce rate. {}",
                def(&HANDOFF_LATENCY)
            ),
            &[
                q(r#"to_team:siloscope_handoff_latency_seconds:p50_7d{to_team=~"$team"}"#)
                    .legend("p50 {{to_team}}")
                    .id("p50"),
                q(r#"to_team:siloscope_handoff_latency_seconds:p75_7d{to_team=~"$team"}"#)
                    .legend("p75 {{to_team}}")
                    .id("p75"),
            ],
            unit("s"),
        ),
        timeseries(
            "Guardrail: bounce rate of inbound handoffs (28 days)",
            &format!(
                "Bounces per reassign or transfer handoff to the team, over the 28 days before each point. {}",
                def(&HANDOFF_BOUNCES)
            ),
            &[q(r#"from_team_to_team:siloscope_handoff_bounces:ratio_28d{to_team=~"$team"}"#)
                .legend("{{from_team}} ⇄ {{to_team}}")],
            unit("percentunit").min(0),
        ),
        matrix(
            "Handoffs (period): from team × to team",
            &format!(
                "Handoffs per pair over the dashboard's time range, all teams (pick a team to read its row and column). {}",
                def(&HANDOFFS)
            ),
            format!("sum by (from_team, to_team) (increase({handoffs}[$__range]))"),
            "from_team",
            "to_team",
            LOOK.w(24),
        ),
        bargauge(
            "Inbound handoffs (period), by kind and sending team",
            &format!("{}{PERIOD}", def(&HANDOFFS)),
            &[q(format!("sum by (kind, from_team) (increase({handoffs}{{{inbound}}}[$__range]))"))
                .legend("{{kind}} from {{from_team}}")
                .instant()],
            LOOK,
        ),
        bargauge(
            "Outbound handoffs (period), by kind and receiving team",
            &format!("{}{PERIOD}", def(&HANDOFFS)),
            &[q(format!("sum by (kind, to_team) (increase({handoffs}{{{outbound}}}[$__range]))"))
                .legend("{{kind}} to {{to_team}}")
                .instant()],
            LOOK,
        ),
    ];
    dashboard(
        Board {
            uid: "siloscope-handoffs",
            title: "siloscope / Handoffs",
            description: "One team's inbound and outbound handoffs: what waits now, what stalled, how long handoffs take, \
                          and with whom.",
            time_from: "now-28d",
            refresh: "1m",
        },
        p,
        vec![team_variable()],
    )
}

fn reviews() -> Json {
    use catalogue::*;
    let (reviews, pickup) = (REVIEWS.total(), REVIEW_PICKUP.bucket());
    let p = vec![
        timeseries(
            "Review pickup trend: p50 and p75 over 7 days",
            &format!(
                "Each point over the 7 days before it. Read it beside the guardrail on the right. {}",
                def(&REVIEW_PICKUP)
            ),
            &[
                q(r#"reviewer_team:siloscope_review_pickup_seconds:p50_7d{reviewer_team=~"$team"}"#)
                    .legend("p50 {{reviewer_team}}")
                    .id("p50"),
                q(r#"reviewer_team:siloscope_review_pickup_seconds:p75_7d{reviewer_team=~"$team"}"#)
                    .legend("p75 {{reviewer_team}}")
                    .id("p75"),
            ],
            unit("s"),
        ),
        timeseries(
            "Guardrail: reviews that asked for changes or commented (28 days)",
            &format!(
                "Share of submitted reviews that requested changes or commented rather than approving. {}",
                def(&REVIEWS)
            ),
            &[q(r#"reviewer_team:siloscope_reviews:substantive_ratio_28d{reviewer_team=~"$team"}"#)
                .legend("{{reviewer_team}}")],
            unit("percentunit").min(0).max(1),
        ),
        heatmap(
            "Review pickup distribution, per day",
            &format!("Pickup of review requests to the team, per day (buckets 5m … 30d). {}", def(&REVIEW_PICKUP)),
            format!(r#"sum by (le) (increase({pickup}{{reviewer_team=~"$team"}}[1d]))"#),
        ),
        bargauge(
            "Review states given (period)",
            &format!(
                "Reviews the team submitted over the dashboard's time range, by state (approved, changes_requested, \
                 commented). {}",
                def(&REVIEWS)
            ),
            &[q(format!(r#"sum by (state) (increase({reviews}{{reviewer_team=~"$team"}}[$__range]))"#))
                .legend("{{state}}")
                .instant()],
            LOOK,
        ),
        timeseries(
            "Cross-team review share (28 days)",
            &format!("Share of the team's reviews given on other teams' pull requests. {}", def(&REVIEWS)),
            &[q(r#"reviewer_team:siloscope_reviews:cross_team_ratio_28d{reviewer_team=~"$team"}"#)
                .legend("{{reviewer_team}}")],
            unit("percentunit").min(0).max(1),
        ),
        matrix(
            "Reviews given (period): reviewer team × author team",
            &format!(
                "Reviews per pair over the dashboard's time range; the diagonal is same-team review. {}",
                def(&REVIEWS)
            ),
            format!("sum by (reviewer_team, author_team) (increase({reviews}[$__range]))"),
            "reviewer_team",
            "author_team",
            LOOK,
        ),
        matrix(
            "Review pickup p50 (period): author team × reviewer team",
            &format!("{}{PERIOD}", def(&REVIEW_PICKUP)),
            format!("histogram_quantile(0.5, sum by (author_team, reviewer_team, le) (increase({pickup}[$__range])))"),
            "author_team",
            "reviewer_team",
            unit("s"),
        ),
        matrix(
            "Review reciprocity ($window)",
            &format!("Rows team_a, columns team_b. {}{PRIVACY}", def(&REVIEW_RECIPROCITY)),
            format!(r#"{}{{window=~"$window"}}"#, REVIEW_RECIPROCITY.name),
            "team_a",
            "team_b",
            unit("percentunit"),
        ),
    ];
    dashboard(
        Board {
            uid: "siloscope-reviews",
            title: "siloscope / Reviews across teams",
            description: "Review pickup with its guardrail, cross-team review share, give and take between teams.",
            time_from: "now-28d",
            refresh: "5m",
        },
        p,
        vec![team_variable(), window_variable()],
    )
}

fn decisions() -> Json {
    use catalogue::*;
    let (decisions, rehashed) = (DECISIONS.total(), DECISIONS_REHASHED.total());
    let p = vec![
        bargauge(
            "Decisions made (period)",
            &format!("{}{PERIOD}", def(&DECISIONS)),
            &[q(format!(r#"sum by (team) (increase({decisions}{{team=~"$team"}}[$__range]))"#))
                .legend("{{team}}")
                .instant()],
            LOOK.w(8),
        ),
        bargauge(
            "Rehashed decisions by first reason (period)",
            &format!("{}{PERIOD}", def(&DECISIONS_REHASHED)),
            &[q(format!(r#"sum by (reason) (increase({rehashed}{{team=~"$team"}}[$__range]))"#))
                .legend("{{reason}}")
                .instant()],
            LOOK.w(8),
        ),
        bargauge(
            "Rehash rate (period)",
            &format!(
                "Decisions rehashed / decisions made over the dashboard's time range. {}",
                def(&DECISIONS_REHASHED)
            ),
            &[q(rehash_rate(&rehashed, &decisions)).legend("{{team}}").instant()],
            unit("percentunit").w(8).max(1),
        ),
        timeseries(
            "Rehash rate trend: 28 days",
            &format!(
                "Each point: decisions rehashed / decisions made over the 28 days before it. {}",
                def(&DECISIONS_REHASHED)
            ),
            &[q(r#"team:siloscope_decisions_rehashed:ratio_28d{team=~"$team"}"#).legend("{{team}}")],
            unit("percentunit").min(0),
        ),
        timeseries(
            "Decisions made (28 days)",
            &format!(
                "Decisions made over the 28 days before each point: a low rehash rate means little when few decisions \
                 are made. {}",
                def(&DECISIONS)
            ),
            &[q(r#"team:siloscope_decisions:increase28d{team=~"$team"}"#).legend("{{team}}")],
            LOOK,
        ),
        timeseries(
            "Rework trend: 28 days",
            &format!("Reopened and reverted items over the 28 days before each point. {}", def(&REWORK)),
            &[q(r#"team_kind:siloscope_rework:increase28d{team=~"$team"}"#).legend("{{kind}} {{team}}")],
            LOOK,
        ),
        bargauge(
            "Rework (period), by team and kind",
            &format!("{}{PERIOD}", def(&REWORK)),
            &[q(format!(r#"sum by (team, kind) (increase({}{{team=~"$team"}}[$__range]))"#, REWORK.total()))
                .legend("{{kind}} {{team}}")
                .instant()],
            LOOK,
        ),
        timeseries(
            "Joint wins (28 days)",
            &format!(
                "Items completed together with other teams, over the 28 days before each point. {}",
                def(&JOINT_WINS)
            ),
            &[q(r#"team:siloscope_joint_wins:increase28d{team=~"$team"}"#).legend("{{team}}")],
            LOOK.w(24),
        ),
    ];
    dashboard(
        Board {
            uid: "siloscope-decisions",
            title: "siloscope / Decisions and rework",
            description: "Decisions made and rehashed, rework, and the joint wins that balance them.",
            time_from: "now-90d",
            refresh: "15m",
        },
        p,
        vec![team_variable()],
    )
}

fn agreements() -> Json {
    use catalogue::*;
    let sel = r#"agreement=~"$agreement", to_team=~"$team""#;
    let by = "sum by (agreement, to_team)";
    let (handoffs, breaches) = (AGREEMENT_HANDOFFS.total(), AGREEMENT_BREACHES.total());
    let objective = format!("max by (agreement, to_team) ({}{{{sel}}})", AGREEMENT_OBJECTIVE.name);
    let breach_ratio =
        |w: &str| format!("{by} (increase({breaches}{{{sel}}}[{w}])) / {by} (increase({handoffs}{{{sel}}}[{w}]))");
    // A window with no decided handoff burns nothing (rather than 0/0): the denominator is at least 1.
    let burn = |w: &str| {
        format!(
            "({by} (increase({breaches}{{{sel}}}[{w}])) / clamp_min({by} (increase({handoffs}{{{sel}}}[{w}])), 1)) / (1 - \
             {objective})"
        )
    };
    let budget_left = format!("1 - ({}) / (1 - {objective})", breach_ratio("$window"));
    let over = " Over the board's window variable (default 28d, the default agreement window); the rules `siloscope \
                rules` writes use each agreement's own window.";
    let p = vec![
        bargauge(
            "Objective",
            &format!("The share of covered handoffs each agreement promises to keep. {}", def(&AGREEMENT_OBJECTIVE)),
            &[q(objective.clone()).legend("{{agreement}} → {{to_team}}").instant()],
            unit("percentunit").w(8).max(1),
        ),
        bargauge(
            "Attainment ($window)",
            &format!("1 − breaches / decided handoffs.{over} {}", def(&AGREEMENT_HANDOFFS)),
            &[q(format!("1 - ({})", breach_ratio("$window"))).legend("{{agreement}} → {{to_team}}").instant()],
            unit("percentunit").w(8).max(1),
        ),
        bargauge(
            "Error budget left ($window)",
            &format!(
                "1 − (breaches / decided handoffs) / (1 − objective): 100% when nothing broke, 0 when the budget is spent, \
                 negative past it.{over} {}",
                def(&AGREEMENT_BREACHES)
            ),
            &[q(budget_left).legend("{{agreement}} → {{to_team}}").instant()],
            unit("percentunit").w(8).max(1),
        ),
        timeseries(
            "Burn rate: 1 day and 7 days",
            &format!(
                "How fast the error budget burns: (breaches / decided handoffs over the last day or week) / (1 − \
                 objective); 1 spends the budget exactly over the window. The agreement alerts page at 7 (1 day) and \
                 3.5 (3 days), and open a ticket at 1 (7 days). {}",
                def(&AGREEMENT_BREACHES)
            ),
            &[
                q(burn("1d")).legend("1d {{agreement}} → {{to_team}}"),
                q(burn("7d")).legend("7d {{agreement}} → {{to_team}}").id("B"),
            ],
            LOOK.min(0),
        ),
        timeseries(
            "Breaches and decided handoffs per day",
            &format!(
                "Handoffs that broke the promise, and all that were decided, each day. {}",
                def(&AGREEMENT_BREACHES)
            ),
            &[
                q(format!("{by} (increase({breaches}{{{sel}}}[1d]))")).legend("broken {{agreement}} → {{to_team}}"),
                q(format!("{by} (increase({handoffs}{{{sel}}}[1d]))"))
                    .legend("decided {{agreement}} → {{to_team}}")
                    .id("B"),
            ],
            LOOK.min(0),
        ),
        bargauge(
            "Waiting past the promise now",
            &format!(
                "Covered handoffs still waiting past their deadline: each has broken the promise and keeps the budget \
                 burning until the team acts. {}",
                def(&AGREEMENT_WAITING_PAST_PROMISE)
            ),
            &[q(format!("{by} ({}{{{sel}}})", AGREEMENT_WAITING_PAST_PROMISE.name))
                .legend("{{agreement}} → {{to_team}}")
                .instant()],
            LOOK,
        ),
        bargauge(
            "Agreed window",
            &format!("The window each agreement's objective is measured over. {}", def(&AGREEMENT_WINDOW)),
            &[q(format!("max by (agreement, to_team) ({}{{{sel}}})", AGREEMENT_WINDOW.name))
                .legend("{{agreement}} → {{to_team}}")
                .instant()],
            unit("s"),
        ),
    ];
    dashboard(
        Board {
            uid: "siloscope-agreements",
            title: "siloscope / Working agreements",
            description: "Working agreements between teams kept like SLOs: objective, attainment, error budget left and \
                          burn rate per agreement, linked to the handoffs that broke them.",
            time_from: "now-28d",
            refresh: "15m",
        },
        p,
        vec![
            team_variable(),
            variable(
                "agreement",
                "Agreement",
                format!("label_values({}, agreement)", catalogue::AGREEMENT_OBJECTIVE.name),
            ),
            window_variable(),
        ],
    )
}

fn health() -> Json {
    use catalogue::*;
    let src = r#"source=~"$source""#;
    let sync = SOURCE_SYNC_DURATION.bucket();
    let sync_quantile =
        |p: &str| format!("histogram_quantile({p}, sum by (source, le) (rate({sync}{{{src}}}[$__rate_interval])))");
    let p = vec![
        stat(
            "Sources up",
            "1 when the source's last sync succeeded, 0 when it failed (SiloscopeSourceDown fires after 30 minutes at 0).",
            &[q(format!("{}{{{src}}}", SOURCE_UP.name)).legend("{{source}}")],
            LOOK.thresholds(&[(None, "red"), (Some(1), "green")]),
        ),
        stat(
            "Since last successful sync",
            "Time since each source last synced successfully; SiloscopeSyncStale fires past 2 hours. Signals keep stored \
             history meanwhile.",
            &[q(format!("time() - {}{{{src}}}", SOURCE_LAST_SUCCESS.name)).legend("{{source}}")],
            unit("s").thresholds(&[(None, "green"), (Some(3600), "orange"), (Some(7200), "red")]),
        ),
        stat(
            "Signals age",
            "Time since siloscope last computed its signals (recomputed on new events and every minute).",
            &[q(format!("time() - {}", LAST_COMPUTE_TIMESTAMP.name)).legend("{{instance}}")],
            unit("s").thresholds(&[(None, "green"), (Some(300), "orange"), (Some(900), "red")]),
        ),
        stat(
            "Leader",
            "1 on the replica that computes and exports the signal families (a single siloscope is its own leader); \
             with replicas on one PostgreSQL store, exactly one shows 1, and another takes over within [store] lease \
             when it dies.",
            &[q(LEADER.name).legend("{{instance}}")],
            LOOK.thresholds(&[(None, "blue"), (Some(1), "green")]),
        ),
        stat(
            "Events stored",
            "Activity events in siloscope's store (each stored once, whatever the number of syncs that saw it).",
            &[q(EVENTS_STORED.name).legend("{{instance}}")],
            LOOK,
        ),
        timeseries(
            "API requests, by status",
            "Requests per second each source made to its API, by HTTP status (`error` for transport failures).",
            &[q(format!("sum by (source, status) (rate({}{{{src}}}[$__rate_interval]))", SOURCE_REQUESTS.total()))
                .legend("{{source}} {{status}}")],
            unit("reqps"),
        ),
        timeseries(
            "Source errors, by kind",
            "Errors per kind (transport, http, rate_limit, malformed, store, ceiling, loop, …) in each interval.",
            &[q(format!("sum by (source, kind) (increase({}{{{src}}}[$__rate_interval]))", SOURCE_ERRORS.total()))
                .legend("{{source}} {{kind}}")],
            LOOK,
        ),
        timeseries(
            "Rate limit remaining",
            "Requests (or points) left in each source's current rate-limit window; SiloscopeRateLimitNearlyExhausted \
             fires below 10% of the most seen in a day.",
            &[q(format!("{}{{{src}}}", SOURCE_RATE_LIMIT_REMAINING.name)).legend("{{source}}")],
            LOOK.min(0),
        ),
        timeseries(
            "First backfill: progress",
            "How far each source's first sync since siloscope started has come through the history to cover: 1 once \
             caught up, and it stays 1 through the later incremental syncs.",
            &[q(format!("max by (source) ({}{{{src}}})", SOURCE_BACKFILL_PROGRESS.name)).legend("{{source}}")],
            unit("percentunit").min(0).max(1),
        ),
        timeseries(
            "First backfill: time left",
            "The time each source's first sync still needs, at its pace so far and within its rate limit (0 once caught up).",
            &[q(format!("max by (source) ({}{{{src}}})", SOURCE_BACKFILL_ETA.name)).legend("{{source}}")],
            unit("s").min(0),
        ),
        timeseries(
            "Sync duration: p50 and p90",
            "How long each source's syncs took, from the first step to caught up (a long backfill is many steps).",
            &[
                q(sync_quantile("0.5")).legend("p50 {{source}}").id("p50"),
                q(sync_quantile("0.9")).legend("p90 {{source}}").id("p90"),
            ],
            unit("s"),
        ),
        timeseries(
            "Ingest volume",
            "New events stored per second, per source: events seen again on a re-sync are not counted.",
            &[q(format!("sum by (source) (rate({}{{{src}}}[$__rate_interval]))", EVENTS_INGESTED.total()))
                .legend("{{source}}")],
            unit("ops"),
        ),
        timeseries(
            "Items in the store",
            "Work items in the store by source, kind (issue, pull_request, ticket…) and state (open, closed, merged).",
            &[q(format!("{}{{{src}}}", ITEMS.name)).legend("{{source}} {{kind}} {{state}}")],
            LOOK,
        ),
        timeseries(
            "Compute duration",
            "How long the last full computation of the signals took (frame → facts → exported values).",
            &[q(COMPUTE_DURATION.name).legend("{{instance}}")],
            unit("s"),
        ),
        timeseries(
            "HTTP connections",
            "Connections open on siloscope's listener (at most 512), and connections it closed per second, by reason: \
             evicted (the limit was reached and the quietest connection that never sent a whole request made room), \
             first_byte_timeout and head_timeout (silent or stalled 10 s), idle_timeout (a kept-alive connection idle \
             5 minutes). A steady eviction rate means a client holds connections open: /metrics keeps answering.",
            &[
                q(HTTP_CONNECTIONS.name).legend("{{instance}} open").id("open"),
                q(format!("sum by (instance, reason) (rate({}[$__rate_interval]))", HTTP_CONNECTIONS_DROPPED.total()))
                    .legend("{{instance}} closed: {{reason}}")
                    .id("dropped"),
            ],
            LOOK,
        ),
        timeseries(
            "Directory coverage",
            def(&DIRECTORY_EVENT_COVERAGE),
            &[
                q(format!(r#"max by (source) ({}{{{src}, window="$window"}})"#, DIRECTORY_EVENT_COVERAGE.name))
                    .legend("{{source}} events")
                    .id("events"),
                q(format!(r#"max by (source) ({}{{{src}, window="$window"}})"#, DIRECTORY_IDENTITY_COVERAGE.name))
                    .legend("{{source}} identities")
                    .id("identities"),
                q(format!("max({})", DIRECTORY_COVERAGE_WARNING.name)).legend("warning under").id("warning"),
            ],
            unit("percentunit").min(0).max(1),
        ),
        stat(
            "Active identities in no team",
            "Identities that acted in the window and that the team directory resolves to no team, per source (a count, \
             never who: `siloscope teams` lists them, `siloscope teams suggest` proposes their team).",
            &[q(format!(r#"max by (source) ({}{{{src}, window="$window"}})"#, DIRECTORY_UNRESOLVED_IDENTITIES.name))
                .legend("{{source}}")],
            LOOK.thresholds(&[(None, "green"), (Some(1), "orange")]),
        ),
        table(
            "Versions",
            &format!("siloscope version of each scraped instance ({}), to spot a mixed rollout.", BUILD_INFO.name),
            &[q(BUILD_INFO.name).instant().format("table")],
            LOOK,
            vec![obj! { "id": "organize", "options": obj! {
                "excludeByName": obj! { "Time": true, "Value": true, "__name__": true },
            } }],
        ),
    ];
    dashboard(
        Board {
            uid: "siloscope-health",
            title: "siloscope / Health",
            description: "siloscope itself: sources up, last success, requests and errors, rate-limit headroom, first \
                          backfill progress and time left, sync duration, ingest volume.",
            time_from: "now-24h",
            refresh: "1m",
        },
        p,
        vec![variable("source", "Source", format!("label_values({}, source)", SOURCE_UP.name)), window_variable()],
    )
}
