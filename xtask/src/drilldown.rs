//! The boards' drill-down links: which siloscope list page each metric family's panels link to, and
//! which of its labels become which query parameter (docs/pages-links.md is the URL contract).
//! Only builds link text from a panel's queries; it serves nothing and knows no page's content.

use siloscope_catalogue::{self as catalogue, Family};

use crate::json::Json;
use crate::{arr, obj};

/// The board variable holding siloscope's external URL (its `--web.external-url`).
pub const SILOSCOPE_URL_VARIABLE: &str = "siloscope_url";
/// Its default: siloscope's default listen address, as seen from the browser on the same host.
pub const SILOSCOPE_URL_DEFAULT: &str = "http://localhost:9731";

/// A family's list page: the path under siloscope's external URL, the query parameters every link to
/// it carries, and (metric label, query parameter) for the dimensions a panel's series or board
/// variables give.
pub struct DrillDown {
    pub family: Family,
    pub page: &'static str,
    pub fixed: &'static [(&'static str, &'static str)],
    pub labels: &'static [(&'static str, &'static str)],
}

const HANDOFF_PAIR: &[(&str, &str)] = &[("from_team", "from_team"), ("to_team", "to_team"), ("kind", "kind")];
const REVIEW_PAIR: &[(&str, &str)] = &[("author_team", "author_team"), ("reviewer_team", "reviewer_team")];
const TEAM: &[(&str, &str)] = &[("team", "team")];
const AGREEMENT: &[(&str, &str)] = &[("agreement", "agreement"), ("to_team", "to_team")];

/// The mapping, one line per family a board shows with a team or pair dimension. Families not
/// listed (siloscope's own health) get no link.
pub const DRILL_DOWNS: &[DrillDown] = &[
    DrillDown { family: catalogue::HANDOFFS, page: "handoffs", fixed: &[], labels: HANDOFF_PAIR },
    DrillDown {
        family: catalogue::HANDOFF_LATENCY,
        page: "handoffs",
        fixed: &[("state", "acknowledged")],
        labels: HANDOFF_PAIR,
    },
    DrillDown {
        family: catalogue::HANDOFFS_WAITING,
        page: "handoffs",
        fixed: &[("state", "waiting")],
        labels: HANDOFF_PAIR,
    },
    DrillDown {
        family: catalogue::HANDOFFS_STALLED,
        page: "handoffs",
        fixed: &[("state", "stalled")],
        labels: HANDOFF_PAIR,
    },
    DrillDown {
        family: catalogue::HANDOFF_OLDEST_WAIT,
        page: "handoffs",
        fixed: &[("state", "waiting")],
        labels: HANDOFF_PAIR,
    },
    DrillDown {
        family: catalogue::HANDOFF_BOUNCES,
        page: "handoffs",
        fixed: &[("state", "bounced")],
        labels: HANDOFF_PAIR,
    },
    // A first response answers a request from another team: the requester handed the item over.
    DrillDown {
        family: catalogue::FIRST_RESPONSE,
        page: "handoffs",
        fixed: &[],
        labels: &[("requester_team", "from_team"), ("owner_team", "to_team")],
    },
    DrillDown {
        family: catalogue::REVIEWS,
        page: "reviews",
        fixed: &[],
        labels: &[("author_team", "author_team"), ("reviewer_team", "reviewer_team"), ("state", "state")],
    },
    DrillDown { family: catalogue::REVIEW_PICKUP, page: "reviews", fixed: &[], labels: REVIEW_PAIR },
    // Reciprocity is symmetric: the reviews between the pair, either way.
    DrillDown {
        family: catalogue::REVIEW_RECIPROCITY,
        page: "reviews",
        fixed: &[],
        labels: &[("team_a", "team_a"), ("team_b", "team_b")],
    },
    DrillDown { family: catalogue::DECISIONS, page: "decisions", fixed: &[], labels: TEAM },
    DrillDown {
        family: catalogue::DECISIONS_REHASHED,
        page: "decisions",
        fixed: &[("state", "rehashed")],
        labels: &[("team", "team"), ("reason", "reason")],
    },
    // Reopened and reverted items: the decision log is where a reopening is a rehash.
    DrillDown { family: catalogue::REWORK, page: "decisions", fixed: &[], labels: TEAM },
    // No list of engagements, joint wins or interactions: the handoffs between (or of) the teams
    // are the closest list of the work behind them.
    DrillDown {
        family: catalogue::ENGAGEMENTS,
        page: "handoffs",
        fixed: &[],
        labels: &[("actor_team", "team_a"), ("owner_team", "team_b")],
    },
    DrillDown { family: catalogue::JOINT_WINS, page: "handoffs", fixed: &[], labels: TEAM },
    DrillDown { family: catalogue::BRIDGE_PEOPLE, page: "handoffs", fixed: &[], labels: TEAM },
    DrillDown { family: catalogue::SILO_INDEX, page: "handoffs", fixed: &[], labels: TEAM },
    // A working agreement's families: the handoffs it covers and decided, or those that broke it
    // (a handoff still waiting past its deadline is already broken).
    DrillDown { family: catalogue::AGREEMENT_HANDOFFS, page: "handoffs", fixed: &[], labels: AGREEMENT },
    DrillDown {
        family: catalogue::AGREEMENT_BREACHES,
        page: "handoffs",
        fixed: &[("state", "broken")],
        labels: AGREEMENT,
    },
    DrillDown {
        family: catalogue::AGREEMENT_WAITING_PAST_PROMISE,
        page: "handoffs",
        fixed: &[("state", "broken")],
        labels: AGREEMENT,
    },
    DrillDown { family: catalogue::AGREEMENT_OBJECTIVE, page: "handoffs", fixed: &[], labels: AGREEMENT },
    DrillDown { family: catalogue::AGREEMENT_WINDOW, page: "handoffs", fixed: &[], labels: AGREEMENT },
];

/// How a panel's values carry their labels, which decides how a link reads them.
#[derive(Clone, Copy)]
pub enum Shape {
    /// One series per label set: `${__field.labels.<label>}`.
    Series,
    /// A table of instant results, one column per label: `${__data.fields.<label>}`.
    Rows,
    /// A matrix from Grafana's groupingToMatrix: the row's label in the first column, the
    /// column's label in the column's name.
    Matrix { row: &'static str, column: &'static str },
}

/// The family a query reads: the catalogue family whose name it contains (the longest, so that
/// `siloscope_handoffs_stalled` is not taken for `siloscope_handoffs`), recording rules included.
fn drill_down_of(expr: &str) -> Option<&'static DrillDown> {
    DRILL_DOWNS.iter().filter(|d| expr.contains(d.family.name)).max_by_key(|d| d.family.name.len())
}

/// Whether the query's result series keep `label`: named in its outermost `by (…)`, in a recording
/// rule's level (`from_team_to_team:…`), or a plain selector of the family, which keeps them all.
fn keeps(expr: &str, label: &str) -> bool {
    if let Some(start) = expr.find("by (") {
        let list = &expr[start + 4..];
        let list = &list[..list.find(')').unwrap_or(list.len())];
        return list.split(',').any(|l| l.trim() == label);
    }
    let head = expr.split(['{', '(']).next().unwrap_or("");
    if head.trim().is_empty() || ["sum", "max", "min", "avg", "count", "time"].contains(&head.trim()) {
        return false;
    }
    match head.split_once(':') {
        Some((level, _)) => {
            level == label
                || level.starts_with(&format!("{label}_"))
                || level.ends_with(&format!("_{label}"))
                || level.contains(&format!("_{label}_"))
        }
        None => true,
    }
}

/// The board variable a query filters `label` by (`to_team=~"$team"` → `team`).
fn filter_variable(expr: &str, label: &str) -> Option<String> {
    let needle = format!("{label}=~\"$");
    let start = expr.find(&needle)? + needle.len();
    let rest = &expr[start..];
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

/// The link of one query to its list page, or None when it reads no family with a page or names
/// none of its dimensions.
pub fn link(expr: &str, shape: Shape) -> Option<Json> {
    let drill = drill_down_of(expr)?;
    let mut params: Vec<String> = drill.fixed.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut dimensions = 0;
    for (label, param) in drill.labels {
        let value = match shape {
            Shape::Matrix { row, .. } if row == *label => Some("${__data.fields[0]:percentencode}".to_string()),
            Shape::Matrix { column, .. } if column == *label => Some("${__field.name:percentencode}".to_string()),
            Shape::Rows if keeps(expr, label) => Some(format!("${{__data.fields.{label}:percentencode}}")),
            Shape::Series if keeps(expr, label) => Some(format!("${{__field.labels.{label}:percentencode}}")),
            _ => None,
        };
        let value = value.or_else(|| filter_variable(expr, label).map(|var| format!("${{{var}:percentencode}}")));
        if let Some(value) = value {
            params.push(format!("{param}={value}"));
            dimensions += 1;
        }
    }
    if dimensions == 0 {
        return None;
    }
    params.push("from=${__from}".to_string());
    params.push("to=${__to}".to_string());
    let url = format!("${{{SILOSCOPE_URL_VARIABLE}}}/{}?{}", drill.page, params.join("&"));
    // Grafana reads title, url and targetBlank; its dashboard schema types field links as dashboard
    // links, so they carry a dashboard link's other (here unused) fields too. The time range is in
    // the URL, so keepTime and includeVars stay off.
    Some(obj! {
        "title": format!("siloscope: the {} behind this", described(drill)),
        "url": url,
        "targetBlank": true,
        "type": "link",
        "icon": "external link",
        "tooltip": format!("The {} behind this value, listed by siloscope", described(drill)),
        "tags": arr![],
        "asDropdown": false,
        "includeVars": false,
        "keepTime": false,
    })
}

/// The list a link opens, as its title says it: `stalled handoffs`, `reviews`.
fn described(drill: &DrillDown) -> String {
    match drill.fixed.iter().find(|(k, _)| *k == "state") {
        Some((_, state)) => format!("{state} {}", drill.page),
        None => drill.page.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(expr: &str, shape: Shape) -> String {
        match link(expr, shape).and_then(|l| l.get("url").cloned()) {
            Some(Json::Str(url)) => url,
            other => panic!("no link for {expr}: {other:?}"),
        }
    }

    #[test]
    fn the_longest_family_name_decides_the_page() {
        let stalled = url(r#"sum by (to_team) (siloscope_handoffs_stalled{from_team=~"$from_team"})"#, Shape::Series);
        assert_eq!(
            stalled,
            "${siloscope_url}/handoffs?state=stalled&from_team=${from_team:percentencode}\
             &to_team=${__field.labels.to_team:percentencode}&from=${__from}&to=${__to}"
        );
        let rehash = url(r#"team:siloscope_decisions_rehashed:ratio_28d{team=~"$team"}"#, Shape::Series);
        assert!(
            rehash.starts_with("${siloscope_url}/decisions?state=rehashed&team=${__field.labels.team:"),
            "{rehash}"
        );
    }

    #[test]
    fn labels_come_from_the_series_the_row_the_cell_or_the_variable() {
        let level = "from_team_to_team:siloscope_handoff_latency_seconds:p75_7d";
        assert!(keeps(level, "from_team") && keeps(level, "to_team") && !keeps(level, "kind"));
        assert!(!keeps(r#"sum(siloscope_handoffs_waiting{to_team=~"$team"})"#, "to_team"));
        assert!(keeps(r#"siloscope_silo_index{team=~"$team"}"#, "team"));
        let rows = url("sum by (from_team, to_team) (increase(siloscope_handoffs_total[$__range]))", Shape::Rows);
        assert!(rows.contains("from_team=${__data.fields.from_team:percentencode}"), "{rows}");
        let cell = url(
            "sum by (reviewer_team, author_team) (increase(siloscope_reviews_total[$__range]))",
            Shape::Matrix { row: "reviewer_team", column: "author_team" },
        );
        assert!(
            cell.contains("author_team=${__field.name:percentencode}&reviewer_team=${__data.fields[0]:percentencode}"),
            "{cell}"
        );
    }

    #[test]
    fn a_query_of_no_listed_family_or_dimension_links_nowhere() {
        assert!(link(r#"siloscope_source_up{source=~"$source"}"#, Shape::Series).is_none());
        assert!(link("sum(increase(siloscope_handoffs_total[$__range]))", Shape::Series).is_none());
    }
}
