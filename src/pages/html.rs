//! The pages as HTML, through maud: every interpolated value is escaped by the template engine
//! (titles, keys and team names are tracker text), and links only ever come from `ExternalUrl`
//! or an item URL that `untrusted::link_url` accepted. Renders only; filters nothing.

use maud::{DOCTYPE, Markup, html};

use crate::pages::{
    DecisionFilter, DecisionsPage, ExternalUrl, HandoffFilter, HandoffsPage, ItemPage, ItemRef, ReviewFilter,
    ReviewsPage,
};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
table{border-collapse:collapse}th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.stalled{color:#b00020;font-weight:600}\
p.note{color:#555}.people{color:#555;font-size:.9em}";

/// `3 d 4 h`, `5 h 10 min`, `42 s`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn page(title: &str, base: &ExternalUrl, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " — siloscope" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                p { a href=(base.join("/", "")) { "siloscope" } }
                (body)
            }
        }
    }
    .into_string()
}

fn team_link(base: &ExternalUrl, key: &str, team: &str) -> Markup {
    let filter = match key {
        "from_team" => HandoffFilter { from_team: Some(team.into()), ..HandoffFilter::default() },
        _ => HandoffFilter { to_team: Some(team.into()), ..HandoffFilter::default() },
    };
    html! { a href=(base.join("/handoffs", &filter.query())) { (team) } }
}

/// The item's people under its title, when the operator turned naming people on (else nothing).
fn people(item: &ItemRef) -> Markup {
    html! { @if let Some(names) = &item.people { br; span.people { (names.join(", ")) } } }
}

/// `/handoffs` as HTML.
pub fn handoffs(p: &HandoffsPage, base: &ExternalUrl) -> String {
    let json = base.join("/handoffs.json", &p.filters.query());
    let filters: Vec<(&str, String)> = [
        ("team", &p.filters.team),
        ("from_team", &p.filters.from_team),
        ("to_team", &p.filters.to_team),
        ("kind", &p.filters.kind),
        ("state", &p.filters.state),
        ("source", &p.filters.source),
        ("window", &p.filters.window),
        ("team_a", &p.filters.team_a),
        ("team_b", &p.filters.team_b),
        ("agreement", &p.filters.agreement),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v.to_string())))
    .chain(range_filters(p.filters.from, p.filters.to))
    .collect();
    let body = html! {
        h1 { "Handoffs" }
        p {
            strong id="count" { (p.count) } " handoffs"
            @for (k, v) in &filters { " · " (k) " = " code { (v) } }
            " · at " time datetime=(p.now) { (p.now) }
        }
        @if p.truncated {
            p.note { "Showing the " (p.handoffs.len()) " oldest; add filters or a larger limit to see more." }
        }
        p.note { "Teams with fewer active people than the privacy floor are shown as other, as in the metrics. "
            a href=(json) { "JSON" } }
        table {
            thead { tr {
                th { "Item" } th { "Title" } th { "Kind" } th { "From" } th { "To" } th { "State" }
                th { "Handed over" } th { "Waited / latency" }
            } }
            tbody {
                @for h in &p.handoffs {
                    tr.handoff {
                        td { @if let Some(link) = &h.item.link { a href=(link) { (h.item.key) } } @else { (h.item.key) } }
                        td.title { a href=(h.item.page) { (h.item.title) } (people(&h.item)) }
                        td { (h.kind) }
                        td { (team_link(base, "from_team", &h.from_team)) }
                        td { (team_link(base, "to_team", &h.to_team)) }
                        td class=(h.state) {
                            (h.state)
                            @if let Some(a) = &h.agreement {
                                " · " span class=(a.outcome) { (a.outcome) } " (due " time datetime=(a.deadline) { (a.deadline) } ")"
                            }
                        }
                        td { time datetime=(h.handed_over_at) { (h.handed_over_at) } }
                        td.n title=(format!("{} s; stalls after {}", h.seconds, duration(h.stall_after_seconds))) {
                            (duration(h.seconds)) @if h.working_hours { " (working hours)" }
                        }
                    }
                }
            }
        }
    };
    page("Handoffs", base, body)
}

/// A page's error (a bad filter, nothing computed yet) as HTML.
pub fn error(base: &ExternalUrl, message: &str) -> String {
    page("Error", base, html! { h1 { "Cannot show this list" } p { (message) } })
}

/// `/decisions` as HTML: the decision log.
pub fn decisions(p: &DecisionsPage, base: &ExternalUrl) -> String {
    let json = base.join("/decisions.json", &p.filters.query());
    let filters: Vec<(&str, String)> = [
        ("team", &p.filters.team),
        ("state", &p.filters.state),
        ("reason", &p.filters.reason),
        ("source", &p.filters.source),
        ("window", &p.filters.window),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v.to_string())))
    .chain(range_filters(p.filters.from, p.filters.to))
    .collect();
    let body = html! {
        h1 { "Decisions" }
        p {
            strong id="count" { (p.count) } " decisions"
            @for (k, v) in &filters { " · " (k) " = " code { (v) } }
            " · at " time datetime=(p.now) { (p.now) }
        }
        @if p.truncated {
            p.note { "Showing the " (p.decisions.len()) " newest; add filters or a larger limit to see more." }
        }
        p.note { "Rehashed: reopened, superseded, its record's status changed, or re-argued within the rehash window (the first reason). "
            a href=(json) { "JSON" } }
        table {
            thead { tr { th { "Item" } th { "Title" } th { "Team" } th { "Made" } th { "State" } th { "Rehashed" } } }
            tbody {
                @for d in &p.decisions {
                    tr.decision {
                        td { @if let Some(link) = &d.item.link { a href=(link) { (d.item.key) } } @else { (d.item.key) } }
                        td.title { a href=(d.item.page) { (d.item.title) } (people(&d.item)) }
                        td { a href=(base.join("/decisions", &DecisionFilter { team: Some(d.team.clone()), ..DecisionFilter::default() }.query())) { (d.team) } }
                        td { time datetime=(d.made_at) { (d.made_at) } }
                        td class=(d.state) { (d.state) }
                        td { @if let (Some(r), Some(at)) = (d.rehashed_reason, &d.rehashed_at) { (r) " at " time datetime=(at) { (at) } } }
                    }
                }
            }
        }
    };
    page("Decisions", base, body)
}

/// `/items/{key}` as HTML: the item's custody story, oldest step first.
pub fn item(p: &ItemPage, base: &ExternalUrl) -> String {
    let json = format!("{}.json", p.url);
    let body = html! {
        h1 { "Item " @if let Some(link) = &p.item.link { a href=(link) { (p.item.key) } } @else { (p.item.key) } }
        p.title { (p.item.title) }
        @if let Some(names) = &p.item.people { p.people { "People: " (names.join(", ")) } }
        p.note { "Its custody story from the facts at " time datetime=(p.now) { (p.now) } ": which team held it when, each handoff, its acknowledgement by the receiving team, bounces, reviews and decisions. "
            @if p.item.people.is_none() { "Teams only. " } a href=(json) { "JSON" } }
        table {
            thead { tr { th { "When" } th { "What" } th { "Team" } th { "Other team" } th { "Detail" } } }
            tbody {
                @for s in &p.steps {
                    tr.step {
                        td { time datetime=(s.at) { (s.at) } }
                        td { (s.what) }
                        td { (s.team) }
                        td { @if let Some(o) = &s.other_team { (o) } }
                        td { @if let Some(d) = s.detail { (d) } }
                    }
                }
            }
        }
    };
    page("Item", base, body)
}

/// The time range filters as their list shows them (RFC 3339; the parameters are milliseconds).
fn range_filters(from: Option<i64>, to: Option<i64>) -> Vec<(&'static str, String)> {
    [("from", from), ("to", to)]
        .into_iter()
        .filter_map(|(k, ms)| ms.map(|ms| (k, crate::pages::rfc3339(ms.div_euclid(1000)))))
        .collect()
}

/// `/reviews` as HTML: reviews given between teams, with the pickup of cross-team requests.
pub fn reviews(p: &ReviewsPage, base: &ExternalUrl) -> String {
    let json = base.join("/reviews.json", &p.filters.query());
    let filters: Vec<(&str, String)> = [
        ("team", &p.filters.team),
        ("author_team", &p.filters.author_team),
        ("reviewer_team", &p.filters.reviewer_team),
        ("state", &p.filters.state),
        ("source", &p.filters.source),
        ("window", &p.filters.window),
        ("team_a", &p.filters.team_a),
        ("team_b", &p.filters.team_b),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v.to_string())))
    .chain(range_filters(p.filters.from, p.filters.to))
    .collect();
    let pair = |author: &str, reviewer: &str| {
        let f = ReviewFilter {
            author_team: Some(author.into()),
            reviewer_team: Some(reviewer.into()),
            ..ReviewFilter::default()
        };
        base.join("/reviews", &f.query())
    };
    let body = html! {
        h1 { "Reviews" }
        p {
            strong id="count" { (p.count) } " reviews"
            @for (k, v) in &filters { " · " (k) " = " code { (v) } }
            " · at " time datetime=(p.now) { (p.now) }
        }
        @if p.truncated {
            p.note { "Showing the " (p.reviews.len()) " newest; add filters or a larger limit to see more." }
        }
        p.note { "Pickup: from a cross-team review request to its first review, draft time excluded. " a href=(json) { "JSON" } }
        table {
            thead { tr { th { "Item" } th { "Title" } th { "Author's team" } th { "Reviewer's team" } th { "State" } th { "Reviewed" } th { "Pickup" } } }
            tbody {
                @for r in &p.reviews {
                    tr.review {
                        td { @if let Some(link) = &r.item.link { a href=(link) { (r.item.key) } } @else { (r.item.key) } }
                        td.title { a href=(r.item.page) { (r.item.title) } (people(&r.item)) }
                        td { (r.author_team) }
                        td { a href=(pair(&r.author_team, &r.reviewer_team)) { (r.reviewer_team) } }
                        td { (r.state) }
                        td { time datetime=(r.reviewed_at) { (r.reviewed_at) } }
                        td.n { @if let Some(s) = r.pickup_seconds { (duration(s)) } }
                    }
                }
            }
        }
    };
    page("Reviews", base, body)
}
