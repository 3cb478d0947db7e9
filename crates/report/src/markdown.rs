//! The report as Markdown for wikis and retro documents: the same sections as the HTML page, with
//! tables instead of charts (trends as a table with a sparkline column). It only lays out a
//! computed `Report`; it computes no figure and emits no HTML.

use std::fmt::Write;

use super::{
    Bucket, Headline, ItemRef, PeriodCoverage, Report, fmt_count, fmt_date, fmt_datetime, fmt_day, fmt_duration,
    fmt_opt_duration, fmt_opt_ratio,
};

/// Escapes what would break a table cell or start markup.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '*' | '_' | '`' | '[' | ']' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn item(i: &ItemRef) -> String {
    let title: String = if i.title.chars().count() > 80 {
        i.title.chars().take(78).collect::<String>() + "…"
    } else {
        i.title.clone()
    };
    let key = format!("`{}`", i.key.replace('`', "'"));
    let key = linked(key, &i.page);
    if let Some(url) = crate::untrusted::link_url(&i.url) {
        format!("[{}]({}) {key}", cell(&title), url.replace('(', "%28").replace(')', "%29"))
    } else {
        format!("{} {key}", cell(&title))
    }
}

/// `text` as a Markdown link to `page` when the report links its pages, else as it is.
fn linked(text: impl std::fmt::Display, page: &Option<String>) -> String {
    match page {
        Some(page) => format!("[{text}]({})", page.replace('(', "%28").replace(')', "%29")),
        None => text.to_string(),
    }
}

/// ▁▂▃▄▅▆▇█ of the values (blank for gaps).
fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().flatten().copied().fold(0.0, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if max <= 0.0 => BARS[0],
            Some(v) => BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize],
        })
        .collect()
}

fn changes(r: &Report, h: &Headline) -> String {
    if !h.comparable {
        return if r.has_previous_data { "not compared (partly covered periods)" } else { "nothing to compare with" }
            .into();
    }
    if h.improved.is_empty() && h.worsened.is_empty() {
        return "no notable change".into();
    }
    let mut parts: Vec<String> = h.improved.iter().map(|c| format!("▲ {}", cell(&c.text))).collect();
    parts.extend(h.worsened.iter().map(|c| format!("▼ {}", cell(&c.text))));
    parts.join("<br>")
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", cell(&r.title));
    let partial = |c: &PeriodCoverage| if c.partial { format!(", partial: {}", c.dates()) } else { String::new() };
    let _ = writeln!(
        o,
        "**{}** ({}{}), compared with **{}** ({}{}). {} events on {} items. Generated {} by siloscope.\n",
        cell(&r.period.label),
        r.period.dates(),
        partial(&r.period_coverage.current),
        cell(&r.previous_period.label),
        r.previous_period.dates(),
        partial(&r.period_coverage.previous),
        fmt_count(r.coverage.events_in_period),
        fmt_count(r.coverage.items_in_period),
        fmt_datetime(r.generated_at)
    );
    if !r.has_data {
        let _ = writeln!(
            o,
            "> **No data in this period.** siloscope's store holds no activity between {} and {}. Check the period, or sync the sources first.\n",
            fmt_date(r.period.start),
            fmt_date(r.period.end - 1)
        );
        coverage(r, &mut o);
        definitions(r, &mut o);
        return o;
    }

    let (c, p) = (&r.summary.current, &r.summary.previous);
    o.push_str("## At a glance\n\n");
    if !r.has_previous_data {
        o.push_str("_No data in the previous period: nothing is compared._\n\n");
    } else if let (false, Some(reason)) = (r.comparison.comparable, &r.comparison.reason) {
        let _ = writeln!(
            o,
            "_Not compared with {}: {}. No change is called better or worse._\n",
            cell(&r.previous_period.label),
            cell(reason)
        );
    } else {
        for ch in r.headlines.organisation.improved.iter() {
            let _ = writeln!(o, "- ▲ {}", cell(&ch.text));
        }
        for ch in r.headlines.organisation.worsened.iter() {
            let _ = writeln!(o, "- ▼ {}", cell(&ch.text));
        }
        if r.headlines.organisation.improved.is_empty() && r.headlines.organisation.worsened.is_empty() {
            o.push_str("- No organisation-wide figure moved notably.\n");
        }
        o.push('\n');
    }
    let head = |label: &str, c: &PeriodCoverage| {
        if c.partial { format!("{} (partial)", cell(label)) } else { cell(label) }
    };
    let _ = writeln!(
        o,
        "| Figure | {} | {} |\n| --- | ---: | ---: |",
        head(&r.period.label, &r.period_coverage.current),
        head(&r.previous_period.label, &r.period_coverage.previous)
    );
    let rows: [(&str, String, String); 14] = [
        ("Handoffs between teams", fmt_count(c.handoffs), fmt_count(p.handoffs)),
        ("Acknowledged", fmt_count(c.acknowledged), fmt_count(p.acknowledged)),
        ("Handoff latency p50", fmt_opt_duration(c.latency_p50_seconds), fmt_opt_duration(p.latency_p50_seconds)),
        ("Handoff latency p75", fmt_opt_duration(c.latency_p75_seconds), fmt_opt_duration(p.latency_p75_seconds)),
        ("Waiting at the end", fmt_count(c.waiting_at_end), fmt_count(p.waiting_at_end)),
        ("Stalled at the end", fmt_count(c.stalled_at_end), fmt_count(p.stalled_at_end)),
        ("Bounces", fmt_count(c.bounces), fmt_count(p.bounces)),
        (
            "Decisions made / rehashed",
            format!("{} / {}", c.decisions_made, c.decisions_rehashed),
            format!("{} / {}", p.decisions_made, p.decisions_rehashed),
        ),
        ("Rework", fmt_count(c.rework), fmt_count(p.rework)),
        ("Cross-team reviews", fmt_count(c.cross_team_reviews), fmt_count(p.cross_team_reviews)),
        (
            "First response p50",
            fmt_opt_duration(c.first_response_p50_seconds),
            fmt_opt_duration(p.first_response_p50_seconds),
        ),
        ("Joint wins", fmt_count(c.joint_wins), fmt_count(p.joint_wins)),
        ("Bridge people", fmt_count(c.bridge_people), fmt_count(p.bridge_people)),
        ("Silo index", fmt_opt_ratio(c.silo_index), fmt_opt_ratio(p.silo_index)),
    ];
    for (name, cur, prev) in rows {
        let _ = writeln!(o, "| {name} | {cur} | {prev} |");
    }

    o.push_str("\n## What changed, team by team\n\n| Team | Changes |\n| --- | --- |\n");
    for t in &r.headlines.teams {
        let _ = writeln!(o, "| **{}** | {} |", cell(&t.team), changes(r, &t.headline));
    }
    let changed: Vec<_> = r
        .headlines
        .pairs
        .iter()
        .filter(|p| !p.headline.improved.is_empty() || !p.headline.worsened.is_empty())
        .collect();
    if !changed.is_empty() {
        o.push_str("\n| Team pair | Changes |\n| --- | --- |\n");
        for p in &changed {
            let _ = writeln!(o, "| {} ↔ {} | {} |", cell(&p.team_a), cell(&p.team_b), changes(r, &p.headline));
        }
    }
    let _ = writeln!(o, "\n{} of {} team pairs changed notably.\n", changed.len(), r.headlines.pairs.len());

    let bucket = match r.trend.bucket {
        Bucket::Week => "Week",
        Bucket::Month => "Month",
        Bucket::Year => "Year",
    };
    let _ = writeln!(
        o,
        "## Trends\n\n| {bucket} | Handoffs | Latency p50 | p75 | Stalled at end | Bounces | Rehashed | Cross-team reviews | Joint wins |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for pt in &r.trend.points {
        let label = if pt.complete { fmt_day(pt.start) } else { format!("{} (partial)", fmt_day(pt.start)) };
        let _ = writeln!(
            o,
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} |",
            pt.handoffs,
            fmt_opt_duration(pt.latency_p50_seconds),
            fmt_opt_duration(pt.latency_p75_seconds),
            pt.stalled_at_end,
            pt.bounces,
            pt.decisions_rehashed,
            pt.cross_team_reviews,
            pt.joint_wins
        );
    }
    let pts = &r.trend.points;
    let _ = writeln!(
        o,
        "\nHandoffs `{}` · latency p50 `{}` · joint wins `{}`\n",
        sparkline(&pts.iter().map(|p| Some(p.handoffs as f64)).collect::<Vec<_>>()),
        sparkline(&pts.iter().map(|p| p.latency_p50_seconds.map(|s| s as f64)).collect::<Vec<_>>()),
        sparkline(&pts.iter().map(|p| Some(p.joint_wins as f64)).collect::<Vec<_>>())
    );

    o.push_str("## Between teams\n\n| From → to | Handoffs | Acknowledged | Latency p50 | p75 | Stalled at end | Bounces |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for p in r
        .pairs
        .iter()
        .filter(|p| p.current.handoffs + p.current.stalled_at_end + p.current.bounces + p.current.acknowledged > 0)
    {
        let _ = writeln!(
            o,
            "| {} → {} | {} | {} | {} | {} | {} | {} |",
            cell(&p.from),
            cell(&p.to),
            linked(p.current.handoffs, &p.handoffs_page),
            p.current.acknowledged,
            fmt_opt_duration(p.current.latency_p50_seconds),
            fmt_opt_duration(p.current.latency_p75_seconds),
            p.current.stalled_at_end,
            p.current.bounces
        );
    }
    o.push_str("\n| Review reciprocity | A reviewed B | B reviewed A | Ratio | Previous |\n| --- | ---: | ---: | ---: | ---: |\n");
    for x in &r.reciprocity {
        let _ = writeln!(
            o,
            "| {} ↔ {} | {} | {} | {} | {} |",
            cell(&x.team_a),
            cell(&x.team_b),
            x.current.a_reviewed_b,
            x.current.b_reviewed_a,
            linked(fmt_opt_ratio(x.current.ratio), &x.reviews_page),
            fmt_opt_ratio(x.previous.ratio)
        );
    }

    o.push_str("\n## Teams\n\n| Team | Members | Received | Sent | Latency p50 | p75 | Stalled at end | Bounces | Decisions made | Rehashed | Cross-team reviews given | Joint wins | Bridge people | Silo index |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for t in &r.teams {
        let c = &t.current;
        let page = |list: fn(&crate::TeamPages) -> &String| t.pages.as_ref().map(|l| list(l).clone());
        let _ = writeln!(
            o,
            "| **{}** | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&t.team),
            c.members,
            linked(c.handoffs_received, &page(|l| &l.handoffs_received)),
            linked(c.handoffs_sent, &page(|l| &l.handoffs_sent)),
            fmt_opt_duration(c.latency_p50_seconds),
            fmt_opt_duration(c.latency_p75_seconds),
            c.stalled_at_end,
            c.bounces,
            linked(c.decisions_made, &page(|l| &l.decisions)),
            c.decisions_rehashed,
            linked(c.cross_team_reviews_given, &page(|l| &l.reviews)),
            c.joint_wins,
            c.bridge_people,
            fmt_opt_ratio(c.silo_index)
        );
    }

    let people_h = if r.people_named { " People |" } else { "" };
    let people_s = if r.people_named { " --- |" } else { "" };
    let people = |p: &Option<Vec<String>>| p.as_ref().map_or(String::new(), |p| format!(" {} |", cell(&p.join(", "))));
    let limit = super::LIST_LIMIT;
    let more = |total: usize, o: &mut String| {
        if total > limit {
            let _ = writeln!(o, "\n… and {} more (the JSON report lists them all).", total - limit);
        }
    };
    agreements(r, &mut o);
    let _ = writeln!(o, "\n## Worth a look\n\n### Handoffs stalled at the period's end ({})\n", r.stalled.len());
    if r.stalled.is_empty() {
        o.push_str("None.\n");
    } else {
        let _ = writeln!(
            o,
            "| Item | Waiting on | From | Kind | Since | Waited |{people_h}\n| --- | --- | --- | --- | --- | ---: |{people_s}"
        );
        for s in r.stalled.iter().take(limit) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |{}",
                item(&s.item),
                cell(&s.to),
                cell(&s.from),
                s.kind,
                fmt_date(s.since),
                fmt_duration(s.waited_seconds as f64),
                people(&s.people)
            );
        }
        more(r.stalled.len(), &mut o);
    }
    o.push_str("\n### The worst bounces\n\n");
    if r.bounces.is_empty() {
        o.push_str("None.\n");
    } else {
        let _ = writeln!(
            o,
            "| Item | Between | Bounces | Custody changes | First bounce |{people_h}\n| --- | --- | ---: | ---: | --- |{people_s}"
        );
        for b in &r.bounces {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |{}",
                item(&b.item),
                cell(&b.teams.join(" ↔ ")),
                b.bounces,
                b.custody_changes.map_or("–".into(), |c| c.to_string()),
                fmt_date(b.first_bounce),
                people(&b.people)
            );
        }
    }
    let _ = writeln!(o, "\n### Rehashed decisions ({})\n", r.rehashed_decisions.len());
    if r.rehashed_decisions.is_empty() {
        o.push_str("None.\n");
    } else {
        let _ = writeln!(
            o,
            "| Decision | Team | Made | Rehashed | Why |{people_h}\n| --- | --- | --- | --- | --- |{people_s}"
        );
        for d in r.rehashed_decisions.iter().take(limit) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |{}",
                item(&d.item),
                cell(&d.team),
                fmt_date(d.made_at),
                fmt_date(d.rehashed_at),
                super::html::reason_text(d.reason),
                people(&d.people)
            );
        }
        more(r.rehashed_decisions.len(), &mut o);
    }
    let _ = writeln!(o, "\n### Joint wins ({})\n", r.joint_wins.len());
    if r.joint_wins.is_empty() {
        o.push_str("None.\n");
    } else {
        let _ = writeln!(o, "| Item | Teams | Completed |{people_h}\n| --- | --- | --- |{people_s}");
        for w in r.joint_wins.iter().take(limit) {
            let _ = writeln!(
                o,
                "| {} | {} | {} |{}",
                item(&w.item),
                cell(&w.teams.join(", ")),
                fmt_date(w.at),
                people(&w.people)
            );
        }
        more(r.joint_wins.len(), &mut o);
    }
    o.push('\n');
    coverage(r, &mut o);
    definitions(r, &mut o);
    o
}

/// The working agreements (nothing when none is configured): kept or broken, budget used, the
/// previous period, and the handoffs that broke each most.
fn agreements(r: &Report, o: &mut String) {
    use super::{AgreementFigures, Verdict, fmt_percent};
    if r.agreements.is_empty() {
        return;
    }
    let opt = |v: Option<f64>| v.map_or("–".to_string(), fmt_percent);
    let verdict = |f: &AgreementFigures| match f.kept {
        Some(true) => "kept",
        Some(false) => "**broken**",
        None => "nothing decided",
    };
    o.push_str(
        "\n## Working agreements\n\nEach agreement's covered handoffs decided in the period: kept when acknowledged within the promise, broken when still waiting at its deadline (the budget burns while work waits). An agreement is kept in a period when its attainment reaches the objective; budget used is the breaches over the share the objective allows to break (100% = all of it).\n\n",
    );
    o.push_str("| Agreement | Promise | Objective | Decided | Broken | Attainment | In the period | Budget used | Previous period |\n| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n");
    for a in &r.agreements {
        let head = format!("| {} | {} | {} |", cell(&a.name), cell(&a.promise()), fmt_percent(a.objective));
        match (&a.current, &a.previous) {
            (Some(c), Some(p)) => {
                let change = match (a.trend(), p.attainment, c.attainment) {
                    (_, Some(x), Some(y)) if x == y => String::new(),
                    (v, Some(x), Some(y)) => {
                        let word = match v {
                            Verdict::Improved => ", better",
                            Verdict::Worsened => ", worse",
                            _ => "",
                        };
                        format!(" ({} {:.1} pts{word})", if y > x { "▲" } else { "▼" }, (y - x).abs() * 100.0)
                    }
                    _ => String::new(),
                };
                let _ = writeln!(
                    o,
                    "{head} {} | {} | {}{change} | {} | {} | {} {} |",
                    fmt_count(c.decided),
                    linked(fmt_count(c.broken), &a.broken_page),
                    opt(c.attainment),
                    verdict(c),
                    opt(c.budget_used),
                    opt(p.attainment),
                    verdict(p)
                );
            }
            _ => {
                let _ = writeln!(
                    o,
                    "{head} team {} has fewer active people than the privacy floor: not shown | | | | | |",
                    cell(&a.to_team)
                );
            }
        }
    }
    let people_h = if r.people_named { " People |" } else { "" };
    let people_s = if r.people_named { " --- |" } else { "" };
    for a in r.agreements.iter().filter(|a| !a.broke_it_most.is_empty()) {
        let _ = writeln!(o, "\n### {}: the handoffs that broke it most\n", cell(&a.name));
        let _ = writeln!(
            o,
            "| Item | From | Kind | Handed over | Due | Past the promise |{people_h}\n| --- | --- | --- | --- | --- | ---: |{people_s}"
        );
        for b in &a.broke_it_most {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {}{} |{}",
                item(&b.item),
                cell(&b.from),
                b.kind,
                fmt_date(b.handed_over),
                fmt_date(b.deadline),
                fmt_duration(b.overdue_seconds as f64),
                if b.still_waiting { ", still waiting" } else { "" },
                b.people.as_ref().map_or(String::new(), |p| format!(" {} |", cell(&p.join(", "))))
            );
        }
        if let (Some(page), Some(c)) = (&a.broken_page, &a.current) {
            let _ = writeln!(
                o,
                "\n{}",
                linked(
                    format!("Every handoff that broke {} in the period ({})", cell(&a.name), fmt_count(c.broken)),
                    &Some(page.clone())
                )
            );
        }
    }
}

fn coverage(r: &Report, o: &mut String) {
    let c = &r.coverage;
    o.push_str("## About the data\n\n");
    match (c.data_from, c.data_to) {
        (Some(a), Some(b)) => {
            let _ = writeln!(o, "- Stored data: {} to {}", fmt_date(a), fmt_date(b));
        }
        _ => o.push_str("- Stored data: none\n"),
    }
    let covered = |c: &PeriodCoverage| {
        if c.partial { format!("partial, {} by the stored history", c.dates()) } else { "fully covered".into() }
    };
    let _ = writeln!(
        o,
        "- In this period: {} events on {} items ({}); previous period: {} events ({})",
        fmt_count(c.events_in_period),
        fmt_count(c.items_in_period),
        covered(&r.period_coverage.current),
        fmt_count(c.events_in_previous_period),
        covered(&r.period_coverage.previous)
    );
    let _ = writeln!(o, "- Teams: {}", cell(&c.teams.join(", ")));
    let _ = writeln!(
        o,
        "- Privacy floor: {} active people; {}",
        c.privacy_floor,
        if c.folded_teams.is_empty() {
            "no team was folded".to_string()
        } else {
            format!("folded into \"other\": {}", cell(&c.folded_teams.join(", ")))
        }
    );
    let _ = writeln!(o, "- Unknown identities: {} ({} events)", c.unknown_identities, c.unknown_identity_events);
    let _ = writeln!(o, "- Directory coverage: {}", cell(&super::html::directory_text(c)));
    let _ =
        writeln!(o, "- People: {}", if r.people_named { "named in the lists (--name-people)" } else { "not named" });
    for n in &c.notes {
        let _ = writeln!(o, "- Note: {}", cell(n));
    }
    if !c.sources.is_empty() {
        o.push_str("\n| Source | History from | Items | Events | In period | First event | Last event |\n| --- | --- | ---: | ---: | ---: | --- | --- |\n");
        for s in &c.sources {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&s.name),
                cell(&super::history_text(s)),
                s.items,
                s.events,
                s.events_in_period,
                s.first_event.map(fmt_date).unwrap_or_default(),
                s.last_event.map(fmt_date).unwrap_or_default()
            );
        }
    }
    o.push('\n');
}

fn definitions(r: &Report, o: &mut String) {
    o.push_str("## Definitions\n\n");
    for d in &r.definitions {
        let _ = writeln!(o, "- **{}**: {}", d.name, d.definition);
    }
    let _ = writeln!(o, "\n_Report schema {}._", r.schema);
}
