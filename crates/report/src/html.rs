//! The report as one self-contained HTML page: inline CSS and SVG, no script, no external asset,
//! readable on a laptop and printable to PDF (A4, page breaks between sections, never inside a
//! card, chart or row). It only lays out a computed `Report`, through maud (which escapes every
//! value: titles, keys and team names are tracker text); it computes no figure itself.

use maud::{Markup, PreEscaped, html};

use super::svg::{self, Chart, PALETTE, Series};
use super::{
    Better, Bucket, Change, Headline, ItemRef, PeriodCoverage, Report, TeamFigures, TeamRow, Unit, Verdict, fmt_count,
    fmt_date, fmt_datetime, fmt_day, fmt_duration, fmt_opt_duration, fmt_opt_ratio, fmt_ratio, fmt_value, judge,
};

const CSS: &str = r#"
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--soft:#f3f4f6;--accent:#1d4ed8;--good:#047857;--good-bg:#ecfdf5;--bad:#b91c1c;--bad-bg:#fef2f2}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;background:#eef1f5;color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
main{max-width:1160px;margin:0 auto;background:#fff;padding:36px 44px 48px}
a{color:var(--accent);text-decoration:none}
a:hover{text-decoration:underline}
header{border-bottom:3px solid var(--ink);padding-bottom:14px;margin-bottom:22px}
.eyebrow{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted);margin:0 0 4px}
h1{font-size:28px;line-height:1.2;margin:0 0 6px}
h2{font-size:20px;margin:34px 0 4px;padding-top:6px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:20px 0 8px}
#summary h2{border-top:none;margin-top:6px;padding-top:0}
.meta{color:var(--muted);margin:0}
.intro{color:var(--muted);margin:0 0 14px;max-width:860px}
.lede{font-size:16px;line-height:1.55;margin:14px 0 18px;max-width:900px}
.lede b.good{color:var(--good)}.lede b.bad{color:var(--bad)}
.notice{background:#fffbeb;border:1px solid #f59e0b;border-radius:8px;padding:14px 18px;margin:16px 0;font-size:15px}
.tiles{display:grid;grid-template-columns:repeat(6,1fr);gap:10px}
@media (max-width:980px){.tiles{grid-template-columns:repeat(3,1fr)}}
.tile{border:1px solid var(--line);border-radius:8px;padding:10px 12px;break-inside:avoid}
.group{font-size:11.5px;letter-spacing:.06em;text-transform:uppercase;color:var(--muted);font-weight:600;margin:14px 0 6px}
.tile .k{font-size:12px;color:var(--muted)}
.tile .v{font-size:23px;font-weight:650;margin:2px 0;white-space:nowrap}
.tile .p{font-size:12px;color:var(--muted)}
.chip{display:inline-block;font-size:11.5px;font-weight:600;border-radius:10px;padding:0 7px;margin-left:4px;white-space:nowrap}
.chip.good{color:var(--good);background:var(--good-bg)}.chip.bad{color:var(--bad);background:var(--bad-bg)}
.chip.flat{color:var(--muted);background:var(--soft)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;break-inside:avoid}
.card h3{margin:0 0 6px;display:flex;justify-content:space-between;align-items:baseline}
.card h3 small{font-weight:400;color:var(--muted);font-size:12px}
.card ul{margin:0;padding:0;list-style:none}
.card li{padding:2px 0 2px 18px;position:relative;font-size:13px}
.card li:before{position:absolute;left:0;font-weight:700}
.card li.good:before{content:"▲";color:var(--good);font-size:10px;top:5px}
.card li.bad:before{content:"▼";color:var(--bad);font-size:10px;top:5px}
.card .none{color:var(--muted);font-size:13px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:18px 26px}
.charts.small{grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px 18px}
figure{margin:0;break-inside:avoid}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:12px;color:var(--muted);margin-top:2px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px;margin:4px 0 8px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;background:#fafafa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.n{white-space:nowrap}
tr{break-inside:avoid}
table.matrix{table-layout:fixed}
table.matrix th:first-child{width:118px}
table.matrix td{text-align:center;font-variant-numeric:tabular-nums;white-space:nowrap;border:1px solid #fff}
table.matrix th{text-align:center}
table.matrix th.row{text-align:right}
table.matrix td.self{background:var(--soft);color:#c0c4cc}
.item .key{color:var(--muted);font-size:12px;display:block}
.muted{color:var(--muted)}
.two{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:8px 26px}
.keep{break-inside:avoid}
dl.defs{display:grid;grid-template-columns:210px 1fr;gap:6px 18px;margin:8px 0}
dl.defs dt{font-weight:600}
dl.defs dd{margin:0;color:#374151}
footer{margin-top:30px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:10px}
@page{size:A4;margin:12mm 11mm}
@media print{
 body{background:#fff;font-size:12px}
 main{max-width:none;padding:0}
 h2{break-after:avoid;border-top:none}
 h3{break-after:avoid}
 .newpage{break-before:page}
 .charts{grid-template-columns:1fr 1fr}
 .charts.small{grid-template-columns:1fr 1fr 1fr}
 .two{grid-template-columns:1fr}
 .cards{grid-template-columns:1fr 1fr}
 .tiles{grid-template-columns:repeat(6,1fr);gap:6px}
 .tile{padding:7px 8px}
 .tile .v{font-size:17px}
 .tile .k,.tile .p{font-size:10px}
 .scroll{overflow:visible}
 table{font-size:11px}
 th,td{padding:3px 5px}
 a{color:var(--ink)}
}
"#;

/// Renders the whole page.
pub fn render(r: &Report) -> String {
    let page = html! {
        (PreEscaped("<!doctype html>\n"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                meta name="generator" content="siloscope";
                title { (r.title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    (header(r))
                    @if !r.has_data {
                        (no_data(r))
                    } @else {
                        (at_a_glance(r))
                        (what_changed(r))
                        (trends(r))
                        (between_teams(r))
                        (teams(r))
                        (agreements(r))
                        (worth_a_look(r))
                    }
                    (coverage(r))
                    (definitions(r))
                    (footer(r))
                }
            }
        }
    };
    let mut o = page.into_string();
    o.push('\n');
    o
}

fn no_data(r: &Report) -> Markup {
    let stored = match (r.coverage.data_from, r.coverage.data_to) {
        (Some(a), Some(b)) => format!(" (the stored data runs from {} to {})", fmt_date(a), fmt_date(b)),
        _ => " (the store is empty)".into(),
    };
    html! {
        div class="notice" {
            b { "No data in this period." }
            " siloscope's store holds no activity between " (fmt_date(r.period.start)) " and " (fmt_date(r.period.end - 1))
            (stored) ". Every figure below would be zero, so none is shown; check the period, or sync the sources first."
        }
    }
}

fn header(r: &Report) -> Markup {
    let scope = if r.teams_selected.is_empty() {
        match r.coverage.teams.len() {
            1 => "1 team".to_string(),
            n => format!("{n} teams"),
        }
    } else {
        format!("teams {}", r.teams_selected.join(", "))
    };
    let partial = |c: &PeriodCoverage| if c.partial { format!(", partial: {}", c.dates()) } else { String::new() };
    html! {
        header {
            p class="eyebrow" { "siloscope · cross-team alignment report" }
            h1 {
                (r.period.label) " "
                span class="muted" style="font-weight:400" { "· " (r.period.dates()) (partial(&r.period_coverage.current)) }
            }
            p class="meta" {
                "Compared with " (r.previous_period.label) " (" (r.previous_period.dates()) (partial(&r.period_coverage.previous))
                ") · " (scope) " · " (fmt_count(r.coverage.events_in_period)) " events on "
                (fmt_count(r.coverage.items_in_period)) " items · generated " (fmt_datetime(r.generated_at))
            }
        }
    }
}

/// A change chip: the arrow shows where the value went, the colour whether that is good.
fn chip(unit: Unit, better: Option<Better>, prev: Option<f64>, cur: Option<f64>, n_prev: u64, n_cur: u64) -> Markup {
    let (Some(p), Some(c)) = (prev, cur) else { return html! {} };
    let d = c - p;
    if d == 0.0 {
        return html! { span class="chip flat" { "=" } };
    }
    let arrow = if d > 0.0 { "▲" } else { "▼" };
    let amount = match unit {
        Unit::Count => fmt_count(d.abs() as u64),
        Unit::Seconds => fmt_duration(d.abs()),
        Unit::Ratio => fmt_ratio(d.abs()),
    };
    let class = match better.map(|b| judge(unit, b, prev, cur, n_prev, n_cur)) {
        Some(Verdict::Improved) => "good",
        Some(Verdict::Worsened) => "bad",
        _ => "flat",
    };
    html! { span class={ "chip " (class) } title={ "previous period: " (fmt_value(unit, p)) } { (arrow) " " (amount) } }
}

fn count_chip(better: Option<Better>, prev: u64, cur: u64) -> Markup {
    chip(Unit::Count, better, Some(prev as f64), Some(cur as f64), prev, cur)
}

fn lede(r: &Report) -> Markup {
    let h = &r.headlines.organisation;
    if !r.has_previous_data {
        return html! {
            "There is no data for the previous period (" (r.previous_period.dates())
            ") to compare with: the figures below stand on their own."
        };
    }
    if let (false, Some(reason)) = (r.comparison.comparable, &r.comparison.reason) {
        return html! {
            "Not compared with " (r.previous_period.label) ": " (reason)
            ". The figures below stand on their own; no change is called better or worse."
        };
    }
    let phrase = |c: &Change| {
        let (class, verb) = if c.improved { ("good", "improved") } else { ("bad", "worsened") };
        let (name, values) = c.text.split_once(": ").unwrap_or((&c.text, ""));
        html! { b class=(class) { (lower_first(name)) } " " (verb) " (" (values) ")" }
    };
    let mut parts: Vec<Markup> = Vec::new();
    parts.extend(h.improved.iter().take(2).map(phrase));
    parts.extend(h.worsened.iter().take(2).map(phrase));
    if parts.is_empty() {
        return html! {
            "Compared with " (r.previous_period.label)
            ", no organisation-wide figure moved notably. The team and pair sections below show where things shifted."
        };
    }
    let n = parts.len();
    html! {
        "Compared with " (r.previous_period.label) ": "
        @for (i, part) in parts.iter().enumerate() {
            @if i + 1 == n && n > 1 { " and " } @else if i > 0 { ", " }
            (part)
        }
        "."
    }
}

/// "Handoff latency p50" → "handoff latency p50", for use inside a sentence.
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn at_a_glance(r: &Report) -> Markup {
    let (c, p) = (&r.summary.current, &r.summary.previous);
    let has_prev = r.has_previous_data;
    let judged = r.comparison.comparable;
    let chip = |unit, better: Option<Better>, p, c, n_p, n_c| chip(unit, better.filter(|_| judged), p, c, n_p, n_c);
    let count_chip = |better: Option<Better>, p, c| count_chip(better.filter(|_| judged), p, c);
    let tile = |label: &str, value: Markup, prev: String, chip: Markup| {
        html! {
            div class="tile" {
                div class="k" { (label) }
                div class="v" { (value) }
                @if has_prev { div class="p" { "was " (prev) (chip) } }
            }
        }
    };
    let text = |s: String| html! { (s) };
    let secs = |v: Option<i64>| v.map(|x| x as f64);
    let duration_chip = |p: Option<i64>, c: Option<i64>, n_p: u64, n_c: u64| {
        chip(Unit::Seconds, Some(Better::Lower), secs(p), secs(c), n_p, n_c)
    };
    html! {
        section id="summary" {
            h2 { "At a glance" }
            p class="lede" { (lede(r)) }
            p class="group" { "Handoffs between teams" }
            div class="tiles" {
                (tile("Handoffs", text(fmt_count(c.handoffs)), fmt_count(p.handoffs), count_chip(None, p.handoffs, c.handoffs)))
                (tile(
                    "Latency p50",
                    text(fmt_opt_duration(c.latency_p50_seconds)),
                    fmt_opt_duration(p.latency_p50_seconds),
                    duration_chip(p.latency_p50_seconds, c.latency_p50_seconds, p.acknowledged, c.acknowledged),
                ))
                (tile(
                    "Latency p75",
                    text(fmt_opt_duration(c.latency_p75_seconds)),
                    fmt_opt_duration(p.latency_p75_seconds),
                    duration_chip(p.latency_p75_seconds, c.latency_p75_seconds, p.acknowledged, c.acknowledged),
                ))
                (tile(
                    "Stalled at the end",
                    text(fmt_count(c.stalled_at_end)),
                    fmt_count(p.stalled_at_end),
                    count_chip(Some(Better::Lower), p.stalled_at_end, c.stalled_at_end),
                ))
                (tile("Bounces", text(fmt_count(c.bounces)), fmt_count(p.bounces), count_chip(Some(Better::Lower), p.bounces, c.bounces)))
                (tile(
                    "First response p50",
                    text(fmt_opt_duration(c.first_response_p50_seconds)),
                    fmt_opt_duration(p.first_response_p50_seconds),
                    duration_chip(p.first_response_p50_seconds, c.first_response_p50_seconds, p.first_responses, c.first_responses),
                ))
            }
            p class="group" { "Decisions and working together" }
            div class="tiles" {
                (tile(
                    "Decisions rehashed",
                    html! {
                        (fmt_count(c.decisions_rehashed)) " "
                        small class="muted" style="font-size:12px;font-weight:400" { "of " (fmt_count(c.decisions_made)) " made" }
                    },
                    format!("{} of {}", fmt_count(p.decisions_rehashed), fmt_count(p.decisions_made)),
                    count_chip(Some(Better::Lower), p.decisions_rehashed, c.decisions_rehashed),
                ))
                (tile("Rework", text(fmt_count(c.rework)), fmt_count(p.rework), count_chip(Some(Better::Lower), p.rework, c.rework)))
                (tile(
                    "Cross-team reviews",
                    text(fmt_count(c.cross_team_reviews)),
                    fmt_count(p.cross_team_reviews),
                    count_chip(Some(Better::Higher), p.cross_team_reviews, c.cross_team_reviews),
                ))
                (tile(
                    "Joint wins",
                    text(fmt_count(c.joint_wins)),
                    fmt_count(p.joint_wins),
                    count_chip(Some(Better::Higher), p.joint_wins, c.joint_wins),
                ))
                (tile(
                    "Bridge people",
                    text(fmt_count(c.bridge_people)),
                    fmt_count(p.bridge_people),
                    count_chip(Some(Better::Higher), p.bridge_people, c.bridge_people),
                ))
                (tile(
                    "Silo index",
                    text(fmt_opt_ratio(c.silo_index)),
                    fmt_opt_ratio(p.silo_index),
                    chip(Unit::Ratio, Some(Better::Lower), p.silo_index, c.silo_index, p.interactions, c.interactions),
                ))
            }
        }
    }
}

fn change_list(r: &Report, h: &Headline, limit: usize) -> Markup {
    html! {
        @if !h.comparable {
            @if r.has_previous_data {
                p class="none" { "Not compared: the periods are only partly covered by the stored history." }
            } @else {
                p class="none" { "Nothing to compare with in the previous period." }
            }
        } @else if h.improved.is_empty() && h.worsened.is_empty() {
            p class="none" { "No notable change." }
        } @else {
            ul {
                @for c in h.improved.iter().take(limit) { li class="good" { (c.text) } }
                @for c in h.worsened.iter().take(limit) { li class="bad" { (c.text) } }
            }
        }
    }
}

fn what_changed(r: &Report) -> Markup {
    let against = match (r.comparison.comparable, &r.comparison.reason) {
        (false, Some(reason)) => html! { "Not compared with " (r.previous_period.label) ": " (reason) "." },
        _ => html! {
            "Against " (r.previous_period.label) " (" (r.previous_period.dates())
            "). ▲ green: better, ▼ red: worse. Only changes past the thresholds in the definitions are listed; \
             handoff figures are of handoffs the team received."
        },
    };
    // Pairs with notable changes, most changes first.
    let mut pairs: Vec<_> = r
        .headlines
        .pairs
        .iter()
        .filter(|p| !p.headline.improved.is_empty() || !p.headline.worsened.is_empty())
        .collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.headline.improved.len() + p.headline.worsened.len()));
    let quiet = r.headlines.pairs.len() - pairs.len();
    const SHOWN: usize = 14;
    let more = pairs.len().saturating_sub(SHOWN);
    let list = |cs: &[Change]| {
        html! {
            @for (i, c) in cs.iter().enumerate() {
                @if i > 0 { br; }
                (c.text)
            }
        }
    };
    html! {
        section id="headlines" {
            h2 { "What changed, team by team" }
            p class="intro" { (against) }
            div class="cards" {
                @for t in &r.headlines.teams {
                    @let members = r.teams.iter().find(|x| x.team == t.team).map_or(0, |x| x.current.members);
                    @let summary = match (t.headline.improved.len(), t.headline.worsened.len()) {
                        (0, 0) => String::new(),
                        (b, 0) => format!(" · {b} better"),
                        (0, w) => format!(" · {w} worse"),
                        (b, w) => format!(" · {b} better · {w} worse"),
                    };
                    div class="card" {
                        h3 { (t.team) " " small { (members) " members" (summary) } }
                        (change_list(r, &t.headline, 3))
                    }
                }
            }
            h3 { "Team pairs" }
            @if pairs.is_empty() {
                p class="muted" { "No notable change between any two teams (" (r.headlines.pairs.len()) " pairs compared)." }
            } @else {
                div class="scroll" {
                    table {
                        tr { th { "Pair" } th { "Better" } th { "Worse" } }
                        @for p in pairs.iter().take(SHOWN) {
                            tr class="keep" {
                                td { b { (p.team_a) } " ↔ " b { (p.team_b) } }
                                td style="color:var(--good)" { (list(&p.headline.improved)) }
                                td style="color:var(--bad)" { (list(&p.headline.worsened)) }
                            }
                        }
                    }
                }
                p class="muted" {
                    @if more > 0 { (more) " more pairs changed (all are in the JSON report). " }
                    (quiet) " other pairs had no notable change."
                }
            }
        }
    }
}

fn x_labels(r: &Report) -> Vec<String> {
    r.trend
        .points
        .iter()
        .map(|p| match r.trend.bucket {
            Bucket::Week => fmt_day(p.start),
            Bucket::Month => {
                chrono::DateTime::from_timestamp(p.start, 0).map(|d| d.format("%b %y").to_string()).unwrap_or_default()
            }
            Bucket::Year => {
                chrono::DateTime::from_timestamp(p.start, 0).map(|d| d.format("%Y").to_string()).unwrap_or_default()
            }
        })
        .collect()
}

/// Picks minutes, hours or days for a duration axis.
fn duration_unit(max_seconds: f64) -> (f64, &'static str) {
    if max_seconds < 2.0 * 3600.0 {
        (60.0, "min")
    } else if max_seconds < 72.0 * 3600.0 {
        (3600.0, "h")
    } else {
        (86_400.0, "d")
    }
}

fn trim_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{}", v.round() as i64) } else { format!("{v:.1}") }
}

fn trends(r: &Report) -> Markup {
    let bucket = match r.trend.bucket {
        Bucket::Week => "week",
        Bucket::Month => "month",
        Bucket::Year => "year",
    };
    let labels = x_labels(r);
    let pts = &r.trend.points;
    let partial: Vec<bool> = pts.iter().map(|p| !p.complete).collect();
    let any_partial = partial.iter().any(|p| *p);
    let count_fmt = |v: f64| trim_number(v);
    let (w, h) = (540.0, 230.0);
    let bar = |id: &str, title: &str, color: &str, values: Vec<f64>, caption: &str| {
        let c = Chart {
            id,
            title,
            x_labels: &labels,
            width: w,
            height: h,
            y_format: &count_fmt,
            y_max: None,
            partial: &partial,
        };
        html! { figure { (svg::bars(&c, color, &values)) figcaption { (caption) } } }
    };
    // Latency p50 / p75 in a unit that fits.
    let max = pts.iter().filter_map(|p| p.latency_p75_seconds).max().unwrap_or(0) as f64;
    let (scale, unit) = duration_unit(max);
    let fmt = move |v: f64| format!("{} {unit}", trim_number(v));
    let latency_title = format!("Handoff latency per {bucket}");
    let latency = Chart {
        id: "latency",
        title: &latency_title,
        x_labels: &labels,
        width: w,
        height: h,
        y_format: &fmt,
        y_max: None,
        partial: &partial,
    };
    let latency_series = [
        Series {
            name: "p50",
            color: PALETTE[0],
            values: pts.iter().map(|p| p.latency_p50_seconds.map(|s| s as f64 / scale)).collect(),
        },
        Series {
            name: "p75",
            color: PALETTE[1],
            values: pts.iter().map(|p| p.latency_p75_seconds.map(|s| s as f64 / scale)).collect(),
        },
    ];
    let bounces_title = format!("Bounces and rehashed decisions per {bucket}");
    let bounces = Chart {
        id: "bounces",
        title: &bounces_title,
        x_labels: &labels,
        width: w,
        height: h,
        y_format: &count_fmt,
        y_max: None,
        partial: &partial,
    };
    let bounces_series = [
        Series { name: "bounces", color: PALETTE[5], values: pts.iter().map(|p| Some(p.bounces as f64)).collect() },
        Series {
            name: "decisions rehashed",
            color: PALETTE[3],
            values: pts.iter().map(|p| Some(p.decisions_rehashed as f64)).collect(),
        },
    ];
    html! {
        section id="trends" class="newpage" {
            h2 { "Trends" }
            p class="intro" {
                "Per " (bucket) ", by event time"
                @if any_partial { "; lighter bars are " (bucket) "s cut short by the period's bounds or by the stored history" }
                "."
            }
            div class="charts" {
                (bar(
                    "handoffs",
                    &format!("Handoffs between teams per {bucket}"),
                    PALETTE[0],
                    pts.iter().map(|p| p.handoffs as f64).collect(),
                    "Custody moves and cross-team review requests, at the time of the handoff.",
                ))
                figure {
                    (svg::lines(&latency, &latency_series))
                    figcaption { "Time to acknowledgement of the handoffs acknowledged in each " (bucket) " (exact quantiles)." }
                }
                (bar(
                    "stalled",
                    &format!("Handoffs stalled at each {bucket}'s end"),
                    PALETTE[5],
                    pts.iter().map(|p| p.stalled_at_end as f64).collect(),
                    "Waiting on the receiving team for longer than the stall threshold.",
                ))
                figure {
                    (svg::lines(&bounces, &bounces_series))
                    figcaption { "Items sent back within the bounce window; made decisions reopened, superseded or argued again." }
                }
                (bar(
                    "reviews",
                    &format!("Cross-team reviews per {bucket}"),
                    PALETTE[2],
                    pts.iter().map(|p| p.cross_team_reviews as f64).collect(),
                    "Reviews given on another team's pull requests.",
                ))
                (bar(
                    "joint-wins",
                    &format!("Joint wins per {bucket}"),
                    PALETTE[7],
                    pts.iter().map(|p| p.joint_wins as f64).collect(),
                    "Items completed with contributors from at least two teams.",
                ))
            }
        }
    }
}

/// Silo index per team and bucket: small multiples on one scale.
fn silo_multiples(r: &Report) -> Markup {
    let bucket = match r.trend.bucket {
        Bucket::Week => "week",
        Bucket::Month => "month",
        Bucket::Year => "year",
    };
    let labels = x_labels(r);
    let pts = &r.trend.points;
    let partial: Vec<bool> = pts.iter().map(|p| !p.complete).collect();
    let ratio_fmt = |v: f64| format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_string();
    let multiple = |i: usize, team: &str| {
        let values: Vec<Option<f64>> = pts.iter().map(|p| p.silo_index.get(team).copied()).collect();
        let id = format!("silo-{team}");
        let c = Chart {
            id: &id,
            title: team,
            x_labels: &labels,
            width: 300.0,
            height: 150.0,
            y_format: &ratio_fmt,
            y_max: Some(1.0),
            partial: &partial,
        };
        let s = [Series { name: team, color: PALETTE[i % PALETTE.len()], values }];
        html! { figure { (svg::lines(&c, &s)) } }
    };
    html! {
        h3 { "Silo index per team and " (bucket) }
        p class="intro" {
            "Share of the team's interactions on its own items (1 = fully siloed). Gaps: no interaction that " (bucket) "."
        }
        div class="charts small" {
            @for (i, t) in r.teams.iter().enumerate() { (multiple(i, &t.team)) }
        }
    }
}

/// A heat-map cell background for `share` in [0, 1] of a base colour (r, g, b).
fn heat(rgb: (u8, u8, u8), share: f64) -> String {
    let a = 0.06 + 0.6 * share.clamp(0.0, 1.0);
    format!("background:rgba({},{},{},{a:.2})", rgb.0, rgb.1, rgb.2)
}

fn between_teams(r: &Report) -> Markup {
    let teams: Vec<&str> = r.teams.iter().map(|t| t.team.as_str()).collect();
    let find = |from: &str, to: &str| r.pairs.iter().find(|p| p.from == from && p.to == to);
    let header = |corner: &str| html! { tr { th class="row" { (corner) } @for t in &teams { th { (t) } } } };
    let self_cell = html! { td class="self" { "·" } };
    let volume_max = r.pairs.iter().map(|p| p.current.handoffs).max().unwrap_or(0).max(1) as f64;
    let volume = |from: &str, to: &str| match find(from, to) {
        Some(p) if p.current.handoffs > 0 || p.previous.handoffs > 0 => html! {
            td style=(heat((29, 78, 216), p.current.handoffs as f64 / volume_max))
                title={ (from) " → " (to) ": " (p.current.handoffs) " (previous " (p.previous.handoffs) "); " (p.current.bounces) " bounced back" } {
                @if p.current.handoffs > 0 { (linked(&p.handoffs_page, html! { (fmt_count(p.current.handoffs)) })) }
            }
        },
        _ if from == to => self_cell.clone(),
        _ => html! { td {} },
    };
    let latency_max = r.pairs.iter().filter_map(|p| p.current.latency_p50_seconds).max().unwrap_or(0).max(1) as f64;
    let latency = |from: &str, to: &str| match find(from, to).filter(|p| p.current.latency_p50_seconds.is_some()) {
        Some(p) => html! {
            td style=(heat((217, 119, 6), p.current.latency_p50_seconds.unwrap_or(0) as f64 / latency_max))
                title={ (from) " → " (to) ": " (p.current.acknowledged) " acknowledged; previous p50 "
                    (fmt_opt_duration(p.previous.latency_p50_seconds)) " / p75 " (fmt_opt_duration(p.previous.latency_p75_seconds)) } {
                (linked(&p.handoffs_page, html! {
                    (fmt_opt_duration(p.current.latency_p50_seconds)) br;
                    span class="muted" { (fmt_opt_duration(p.current.latency_p75_seconds)) }
                }))
            }
        },
        None if from == to => self_cell.clone(),
        None => html! { td {} },
    };
    let reciprocity = |a: &str, b: &str| {
        let row = r.reciprocity.iter().find(|x| (x.team_a == a && x.team_b == b) || (x.team_a == b && x.team_b == a));
        match row.and_then(|x| x.current.ratio.map(|ratio| (x, ratio))) {
            Some((x, ratio)) => html! {
                td style=(heat((4, 120, 87), ratio))
                    title={ (x.team_a) " reviewed " (x.team_b) " " (x.current.a_reviewed_b) "×, " (x.team_b) " reviewed "
                        (x.team_a) " " (x.current.b_reviewed_a) "×; previous " (fmt_opt_ratio(x.previous.ratio)) } {
                    (linked(&x.reviews_page, html! { (fmt_ratio(ratio)) }))
                }
            },
            None if a == b => self_cell.clone(),
            None => html! { td {} },
        }
    };
    let matrix = |corner: &str, cell: &dyn Fn(&str, &str) -> Markup| {
        html! {
            div class="scroll keep" {
                table class="matrix" {
                    (header(corner))
                    @for from in &teams {
                        tr { th class="row" { (from) } @for to in &teams { (cell(from, to)) } }
                    }
                }
            }
        }
    };
    html! {
        section id="pairs" class="newpage" {
            h2 { "Between teams" }
            p class="intro" {
                "Rows hand off to columns. Hover a cell for the previous period. \
                 Empty cells: no handoff between the two teams in the period."
            }
            h3 { "Handoff volume" }
            (matrix("from ↓ · to →", &volume))
            h3 { "Handoff latency p50 / p75" }
            (matrix("from ↓ · to →", &latency))
            h3 { "Review reciprocity" }
            p class="intro" { "1 = the two teams review each other's pull requests equally; 0 = only one side reviews." }
            (matrix("", &reciprocity))
        }
    }
}

fn teams(r: &Report) -> Markup {
    let judged = r.comparison.comparable;
    let chip = |unit, better: Option<Better>, p, c, n_p, n_c| chip(unit, better.filter(|_| judged), p, c, n_p, n_c);
    let count_chip = |better: Option<Better>, p, c| count_chip(better.filter(|_| judged), p, c);
    let secs = |v: Option<i64>| v.map(|x| x as f64);
    let dur = |c: &TeamFigures, p: &TeamFigures, get: fn(&TeamFigures) -> Option<i64>, n: fn(&TeamFigures) -> u64| {
        html! {
            (fmt_opt_duration(get(c)))
            (chip(Unit::Seconds, Some(Better::Lower), secs(get(p)), secs(get(c)), n(p), n(c)))
        }
    };
    let cnt = |c: u64, p: u64, better: Option<Better>| html! { (fmt_count(c)) (count_chip(better, p, c)) };
    html! {
        section id="teams" class="newpage" {
            h2 { "Teams" }
            p class="intro" {
                "This period's figures; the chip shows the change against " (r.previous_period.label) " ("
                @if judged {
                    "green better, red worse, grey within the thresholds"
                } @else if r.has_previous_data {
                    "not judged better or worse: the periods are only partly covered by the stored history"
                } @else {
                    "none: the previous period has no data"
                }
                ")."
            }
            h3 { "Handoffs received" }
            div class="scroll" {
                table {
                    tr {
                        th { "Team" } th class="n" { "Members" } th class="n" { "Received" } th class="n" { "Sent" }
                        th class="n" { "Acknowledged" } th class="n" { "Latency p50" } th class="n" { "p75" }
                        th class="n" { "Waiting at end" } th class="n" { "Stalled at end" } th class="n" { "Bounces" }
                    }
                    @for t in &r.teams {
                        @let (c, p) = (&t.current, &t.previous);
                        tr {
                            td { b { (t.team) } }
                            td class="n" { (c.members) }
                            td class="n" { (linked(&pages(t, |l| &l.handoffs_received), cnt(c.handoffs_received, p.handoffs_received, None))) }
                            td class="n" { (linked(&pages(t, |l| &l.handoffs_sent), cnt(c.handoffs_sent, p.handoffs_sent, None))) }
                            td class="n" { (fmt_count(c.acknowledged)) }
                            td class="n" { (dur(c, p, |f| f.latency_p50_seconds, |f| f.acknowledged)) }
                            td class="n" { (dur(c, p, |f| f.latency_p75_seconds, |f| f.acknowledged)) }
                            td class="n" { (fmt_count(c.waiting_at_end)) }
                            td class="n" { (cnt(c.stalled_at_end, p.stalled_at_end, Some(Better::Lower))) }
                            td class="n" { (cnt(c.bounces, p.bounces, Some(Better::Lower))) }
                        }
                    }
                }
            }
            h3 { "Decisions, reviews and bridges" }
            div class="scroll" {
                table {
                    tr {
                        th { "Team" } th class="n" { "Decisions made" } th class="n" { "Rehashed" } th class="n" { "Rework" }
                        th class="n" { "Cross-team reviews given" } th class="n" { "received" } th class="n" { "First response p50" }
                        th class="n" { "Joint wins" } th class="n" { "Bridge people" } th class="n" { "Silo index" }
                    }
                    @for t in &r.teams {
                        @let (c, p) = (&t.current, &t.previous);
                        tr {
                            td { b { (t.team) } }
                            td class="n" { (linked(&pages(t, |l| &l.decisions), html! { (fmt_count(c.decisions_made)) })) }
                            td class="n" { (cnt(c.decisions_rehashed, p.decisions_rehashed, Some(Better::Lower))) }
                            td class="n" { (cnt(c.rework, p.rework, Some(Better::Lower))) }
                            td class="n" { (linked(&pages(t, |l| &l.reviews), cnt(c.cross_team_reviews_given, p.cross_team_reviews_given, Some(Better::Higher)))) }
                            td class="n" { (fmt_count(c.cross_team_reviews_received)) }
                            td class="n" { (dur(c, p, |f| f.first_response_p50_seconds, |f| f.first_responses)) }
                            td class="n" { (cnt(c.joint_wins, p.joint_wins, Some(Better::Higher))) }
                            td class="n" { (cnt(c.bridge_people, p.bridge_people, Some(Better::Higher))) }
                            td class="n" {
                                (fmt_opt_ratio(c.silo_index))
                                (chip(Unit::Ratio, Some(Better::Lower), p.silo_index, c.silo_index, p.interactions, c.interactions))
                            }
                        }
                    }
                }
            }
            (silo_multiples(r))
        }
    }
}

/// `content` as a link to `page`'s list when the report links its pages, else as it is.
fn linked(page: &Option<String>, content: Markup) -> Markup {
    html! {
        @match page {
            Some(page) => a href=(page) { (content) },
            None => (content),
        }
    }
}

/// One of a team's list pages, when the report links its pages.
fn pages(t: &TeamRow, list: fn(&crate::TeamPages) -> &String) -> Option<String> {
    t.pages.as_ref().map(|l| list(l).clone())
}

fn item_cell(i: &ItemRef) -> Markup {
    let title: String = if i.title.chars().count() > 90 {
        i.title.chars().take(88).collect::<String>() + "…"
    } else {
        i.title.clone()
    };
    html! {
        td class="item" {
            @match crate::untrusted::link_url(&i.url) {
                Some(url) => a href=(url) { (title) },
                None => (title),
            }
            @match &i.page {
                Some(page) => a class="key" href=(page) { (i.key) },
                None => span class="key" { (i.key) },
            }
        }
    }
}

fn people_cell(p: &Option<Vec<String>>) -> Markup {
    html! { @if let Some(p) = p { td { (p.join(", ")) } } }
}

fn more(shown: usize, total: usize) -> Markup {
    html! {
        @if total > shown {
            p class="muted" { "… and " (fmt_count((total - shown) as u64)) " more (the JSON report lists them all)." }
        }
    }
}

/// The change of an attainment against the previous period, in percentage points, coloured as
/// the report judges a ratio.
fn attainment_chip(verdict: Verdict, prev: Option<f64>, cur: Option<f64>) -> Markup {
    let (Some(p), Some(c)) = (prev, cur) else { return html! {} };
    if p == c {
        return html! { span class="chip flat" { "=" } };
    }
    let class = match verdict {
        Verdict::Improved => "good",
        Verdict::Worsened => "bad",
        _ => "flat",
    };
    let arrow = if c > p { "▲" } else { "▼" };
    html! {
        span class={ "chip " (class) } title={ "previous period: " (crate::fmt_percent(p)) } {
            (arrow) " " (format!("{:.1} pts", (c - p).abs() * 100.0))
        }
    }
}

/// The working agreements: kept or broken in the period, budget used, the change against the
/// previous period, and the handoffs that broke each most. Nothing when none is configured.
fn agreements(r: &Report) -> Markup {
    use crate::{AgreementFigures, fmt_percent};
    if r.agreements.is_empty() {
        return html! {};
    }
    let named = r.people_named;
    let opt = |v: Option<f64>| v.map_or("–".to_string(), fmt_percent);
    let verdict = |f: &AgreementFigures| match f.kept {
        Some(true) => html! { span class="chip good" { "kept" } },
        Some(false) => html! { span class="chip bad" { "broken" } },
        None => html! { span class="muted" { "nothing decided" } },
    };
    html! {
        section id="agreements" class="newpage" {
            h2 { "Working agreements" }
            p class="intro" {
                "Each agreement's covered handoffs decided in the period: kept when acknowledged within the promise, "
                "broken when still waiting at its deadline (the budget burns while work waits). An agreement is kept "
                "in a period when its attainment reaches the objective; budget used is the breaches over the share "
                "the objective allows to break (100% = all of it)."
            }
            div class="scroll" {
                table {
                    tr {
                        th { "Agreement" } th { "Promise" } th class="n" { "Objective" } th class="n" { "Decided" }
                        th class="n" { "Broken" } th class="n" { "Attainment" } th { "In the period" }
                        th class="n" { "Budget used" } th class="n" { "Previous period" }
                    }
                    @for a in &r.agreements {
                        tr {
                            td { b { (a.name) } }
                            td { (a.promise()) }
                            td class="n" { (fmt_percent(a.objective)) }
                            @match (&a.current, &a.previous) {
                                (Some(c), Some(p)) => {
                                    td class="n" { (fmt_count(c.decided)) }
                                    td class="n" { (linked(&a.broken_page, html! { (fmt_count(c.broken)) })) }
                                    td class="n" {
                                        (opt(c.attainment))
                                        (attainment_chip(a.trend(), p.attainment, c.attainment))
                                    }
                                    td { (verdict(c)) }
                                    td class="n" { (opt(c.budget_used)) }
                                    td class="n" { (opt(p.attainment)) " " (verdict(p)) }
                                }
                                _ => {
                                    td colspan="6" class="muted" {
                                        "team " (a.to_team) " has fewer active people than the privacy floor: not shown"
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @for a in r.agreements.iter().filter(|a| !a.broke_it_most.is_empty()) {
                h3 { (a.name) ": the handoffs that broke it most" }
                div class="scroll" {
                    table {
                        tr {
                            th { "Item" } th { "From" } th { "Kind" } th { "Handed over" } th { "Due" }
                            th class="n" { "Past the promise" } @if named { th { "People" } }
                        }
                        @for b in &a.broke_it_most {
                            tr {
                                (item_cell(&b.item))
                                td { (b.from) }
                                td { (b.kind) }
                                td { (fmt_date(b.handed_over)) }
                                td { (fmt_date(b.deadline)) }
                                td class="n" {
                                    (fmt_duration(b.overdue_seconds as f64))
                                    @if b.still_waiting { " " span class="muted" { "still waiting" } }
                                }
                                (people_cell(&b.people))
                            }
                        }
                    }
                }
                @if let (Some(page), Some(c)) = (&a.broken_page, &a.current) {
                    p class="muted" { a href=(page) { "Every handoff that broke " (a.name) " in the period (" (fmt_count(c.broken)) ")" } }
                }
            }
        }
    }
}

fn worth_a_look(r: &Report) -> Markup {
    let named = r.people_named;
    let people_th = html! { @if named { th { "People" } } };
    let limit = super::LIST_LIMIT;
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for d in &r.rehashed_decisions {
        match reasons.iter_mut().find(|(k, _)| *k == d.reason) {
            Some((_, n)) => *n += 1,
            None => reasons.push((d.reason, 1)),
        }
    }
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let why: Vec<String> = reasons.iter().map(|(k, n)| format!("{n} {}", reason_text(k))).collect();
    html! {
        section id="lists" class="newpage" {
            h2 { "Worth a look" }
            p class="intro" {
                "Items, not people: "
                @if named {
                    "people are named because the report was made with --name-people."
                } @else {
                    "the lists name items and teams only."
                }
            }
            h3 { "Handoffs stalled at the period's end (" (fmt_count(r.stalled.len() as u64)) ")" }
            @if r.stalled.is_empty() {
                p class="muted" { "None: every handoff had been acknowledged or had moved on." }
            } @else {
                div class="scroll" {
                    table {
                        tr { th { "Item" } th { "Waiting on" } th { "Kind" } th { "Since" } th class="n" { "Waited" } (people_th) }
                        @for s in r.stalled.iter().take(limit) {
                            tr {
                                (item_cell(&s.item))
                                td { b { (s.to) } " " span class="muted" { "from " (s.from) } }
                                td { (s.kind) }
                                td { (fmt_date(s.since)) }
                                td class="n" { (fmt_duration(s.waited_seconds as f64)) }
                                (people_cell(&s.people))
                            }
                        }
                    }
                }
                (more(limit, r.stalled.len()))
            }
            h3 { "The worst bounces" }
            @if r.bounces.is_empty() {
                p class="muted" { "No item bounced between teams in the period." }
            } @else {
                div class="scroll" {
                    table {
                        tr {
                            th { "Item" } th { "Between" } th class="n" { "Bounces" } th class="n" { "Custody changes" }
                            th { "First bounce" } (people_th)
                        }
                        @for b in &r.bounces {
                            tr {
                                (item_cell(&b.item))
                                td { (b.teams.join(" ↔ ")) }
                                td class="n" { (b.bounces) }
                                td class="n" { (b.custody_changes.map_or("–".into(), |c| c.to_string())) }
                                td { (fmt_date(b.first_bounce)) }
                                (people_cell(&b.people))
                            }
                        }
                    }
                }
            }
            h3 { "Rehashed decisions (" (fmt_count(r.rehashed_decisions.len() as u64)) ")" }
            @if r.rehashed_decisions.is_empty() {
                p class="muted" { "No made decision was rehashed in the period." }
            } @else {
                p class="intro" { "Why: " (why.join("; ")) "." }
                div class="scroll" {
                    table {
                        tr { th { "Decision" } th { "Team" } th { "Made" } th { "Rehashed" } th { "Why" } (people_th) }
                        @for d in r.rehashed_decisions.iter().take(limit) {
                            tr {
                                (item_cell(&d.item))
                                td { (d.team) }
                                td { (fmt_date(d.made_at)) }
                                td { (fmt_date(d.rehashed_at)) }
                                td { (reason_text(d.reason)) }
                                (people_cell(&d.people))
                            }
                        }
                    }
                }
                (more(limit, r.rehashed_decisions.len()))
            }
            h3 { "Joint wins (" (fmt_count(r.joint_wins.len() as u64)) ")" }
            p class="intro" { "Work completed together: most teams first." }
            @if r.joint_wins.is_empty() {
                p class="muted" { "No item was completed by two or more teams in the period." }
            } @else {
                div class="scroll" {
                    table {
                        tr { th { "Item" } th { "Teams" } th { "Completed" } (people_th) }
                        @for w in r.joint_wins.iter().take(limit) {
                            tr {
                                (item_cell(&w.item))
                                td { (w.teams.join(", ")) }
                                td { (fmt_date(w.at)) }
                                (people_cell(&w.people))
                            }
                        }
                    }
                }
                (more(limit, r.joint_wins.len()))
            }
        }
    }
}

pub(crate) fn reason_text(reason: &str) -> &'static str {
    match reason {
        "reopened" => "reopened",
        "superseded" => "superseded by a later item",
        "status" => "status turned superseded / deprecated",
        "discussion" => "discussion resumed across teams",
        _ => "rehashed",
    }
}

fn coverage(r: &Report) -> Markup {
    let c = &r.coverage;
    let range = match (c.data_from, c.data_to) {
        (Some(a), Some(b)) => format!("{} to {}", fmt_date(a), fmt_date(b)),
        _ => "no data stored".into(),
    };
    html! {
        section id="coverage" class="keep" {
            h2 { "About the data" }
            div class="two" {
                div {
                    table {
                        tr { th { "Stored data" } td { (range) } }
                        tr {
                            th { "In this period" }
                            td { (fmt_count(c.events_in_period)) " events on " (fmt_count(c.items_in_period)) " items; "
                                (covered_text(&r.period_coverage.current)) }
                        }
                        tr {
                            th { "In the previous period" }
                            td { (fmt_count(c.events_in_previous_period)) " events; " (covered_text(&r.period_coverage.previous)) }
                        }
                        tr { th { "Teams" } td { (c.teams.join(", ")) } }
                        tr {
                            th { "Privacy floor" }
                            td {
                                (c.privacy_floor) " active people; "
                                @if c.folded_teams.is_empty() {
                                    "no team was folded"
                                } @else {
                                    "folded into \"other\": " (c.folded_teams.join(", "))
                                }
                            }
                        }
                        tr {
                            th { "Unknown identities" }
                            td {
                                @if c.unknown_identities == 0 {
                                    "none"
                                } @else {
                                    (fmt_count(c.unknown_identities)) " identities the team directory does not know acted "
                                    (fmt_count(c.unknown_identity_events))
                                    " times; their activity counts for no team (run `siloscope teams`)"
                                }
                            }
                        }
                        tr { th { "Directory coverage" } td { (directory_text(c)) } }
                        tr {
                            th { "People" }
                            td { @if r.people_named { "named in the lists (--name-people)" } @else { "not named" } }
                        }
                    }
                }
                div {
                    table {
                        tr {
                            th { "Source" } th { "History from" } th class="n" { "Items" } th class="n" { "Events" }
                            th class="n" { "In period" } th { "First event" } th { "Last event" }
                        }
                        @for s in &c.sources {
                            tr {
                                td { (s.name) }
                                td { (super::history_text(s)) }
                                td class="n" { (fmt_count(s.items)) }
                                td class="n" { (fmt_count(s.events)) }
                                td class="n" { (fmt_count(s.events_in_period)) }
                                td { (s.first_event.map(fmt_date).unwrap_or_default()) }
                                td { (s.last_event.map(fmt_date).unwrap_or_default()) }
                            }
                        }
                        @if c.sources.is_empty() {
                            tr { td colspan="7" class="muted" { "No source has stored data." } }
                        }
                    }
                    @for n in &c.notes { p class="muted" { "Note: " (n) } }
                }
            }
        }
    }
}

/// `fully covered by the stored history`, or what part of it is.
fn covered_text(c: &PeriodCoverage) -> String {
    if c.partial {
        format!("partial: {} by the stored history", c.dates())
    } else {
        "fully covered by the stored history".into()
    }
}

fn definitions(r: &Report) -> Markup {
    html! {
        section id="definitions" {
            h2 { "Definitions" }
            dl class="defs" { @for d in &r.definitions { dt { (d.name) } dd { (d.definition) } } }
        }
    }
}

fn footer(r: &Report) -> Markup {
    html! {
        footer {
            "Generated by siloscope from its own store, by event time, on " (fmt_datetime(r.generated_at))
            ". Figures are of teams, never of people; teams under the privacy floor are shown as \"other\". \
             Directory coverage of the period: " (directory_text(&r.coverage)) ". Report schema " (r.schema) "."
        }
    }
}

/// `gh: 97.8% of 46 events, 90.0% of 10 active identities resolve to a team`, with the warning
/// when a source is under `[signals] coverage_warning`.
pub(super) fn directory_text(c: &super::Coverage) -> String {
    use crate::coverage::{percent, summary};
    if c.directory.is_empty() {
        return "no activity by people in the period".into();
    }
    let parts: Vec<String> = c.directory.iter().map(summary).collect();
    let low: Vec<&str> =
        c.directory.iter().filter(|s| s.below(c.directory_warning)).map(|s| s.source.as_str()).collect();
    let warning = if low.is_empty() {
        String::new()
    } else {
        format!(
            "; under the {} warning: {} (activity of people missing from the directory counts for no team; run `siloscope teams suggest`)",
            percent(Some(c.directory_warning)),
            low.join(", ")
        )
    };
    format!("{} resolve to a team{warning}", parts.join("; "))
}
