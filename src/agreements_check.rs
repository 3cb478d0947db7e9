//! `siloscope agreements check`: before an agreement is saved, its back-test over the stored
//! history: every whole hour of the range evaluated by the engine (`agreements::backtest`, the
//! same facts and aggregation as the exported series), rendered as a text table or JSON. Owns the
//! range, the rendering and the privacy-floor refusal; counts nothing itself, names no person or item.

use serde_json::{Value, json};

use crate::model::{DAY, HOUR, Ts};
use crate::signals::aggregate::TeamLabels;
use crate::signals::agreements::{
    ALERT_POLICY, Agreement, Backtest, HourValues, agreement_facts, backtest, suppressed,
};
use crate::signals::{Frame, SignalsConfig, analyze};
use crate::teams::Directory;

/// The JSON form's schema id.
pub const SCHEMA: &str = "siloscope.agreements-check.v1";

/// One agreement's back-test, or None when its receiving team is under the privacy floor.
pub struct AgreementCheck {
    pub agreement: Agreement,
    pub backtest: Option<Backtest>,
}

/// The back-test of every agreement of a config over `[from, to]`.
pub struct Check {
    pub from: Ts,
    pub to: Ts,
    pub privacy_floor: u32,
    pub agreements: Vec<AgreementCheck>,
}

/// `--from` and `--to` as times: a bare date as `--to` includes that day (as `report --to`), an
/// RFC 3339 time is the end itself.
pub fn bounds(from: Option<&str>, to: Option<&str>) -> Result<(Option<Ts>, Option<Ts>), String> {
    let from =
        from.map(|f| crate::config::parse_date(f).map_err(|e| format!("invalid --from {f:?}: {e}"))).transpose()?;
    let to = to
        .map(|t| {
            let end = crate::config::parse_date(t).map_err(|e| format!("invalid --to {t:?}: {e}"))?;
            Ok::<_, String>(if chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").is_ok() {
                end + DAY
            } else {
                end
            })
        })
        .transpose()?;
    Ok((from, to))
}

/// The range to test: `from` (default: the first stored event) to `to` (default and at the
/// latest: `now`; a later hour would count promises as broken that may yet be kept).
pub fn range(from: Option<Ts>, to: Option<Ts>, first_event: Option<Ts>, now: Ts) -> Result<(Ts, Ts), String> {
    let start = match from {
        Some(f) => f,
        None => first_event.ok_or("the store holds no events: sync first (siloscope sync --once --config FILE)")?,
    };
    let end = to.unwrap_or(now).min(now);
    if end.div_euclid(HOUR) * HOUR < start {
        return Err(format!(
            "empty range: no whole hour from {} to {}; give a --to after --from",
            crate::pages::rfc3339(start),
            crate::pages::rfc3339(end)
        ));
    }
    if end - start > 10 * 366 * DAY {
        return Err("range too long: more than 10 years; check --from and --to".into());
    }
    Ok((start, end))
}

/// Back-tests every agreement of `cfg` over `[from, to]`. The privacy floor is that of `to`
/// (the labels the exporter would use then): an agreement whose receiving team is under it is
/// tested not at all.
pub fn check(frame: &Frame, dir: &Directory, cfg: &SignalsConfig, from: Ts, to: Ts) -> Check {
    let analysis = analyze(frame, dir, cfg, to);
    let labels = TeamLabels::new(&analysis, dir, cfg, to);
    let facts = agreement_facts(&analysis, dir, cfg);
    let agreements = cfg
        .agreements
        .iter()
        .enumerate()
        .map(|(i, a)| AgreementCheck {
            agreement: a.clone(),
            backtest: (!suppressed(dir, cfg, &labels, i)).then(|| backtest(&facts, cfg, i, from, to)),
        })
        .collect();
    Check { from, to, privacy_floor: cfg.privacy_floor.max(2), agreements }
}

/// A duration as the config writes it: `28d`, `6h`, `90m`, `45s`.
pub fn duration(s: Ts) -> String {
    if s != 0 && s % DAY == 0 {
        format!("{}d", s / DAY)
    } else if s != 0 && s % HOUR == 0 {
        format!("{}h", s / HOUR)
    } else if s != 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// The distinct windows of the alert policy, shortest first, and for each where its burn rate is
/// in [`HourValues::burn`] (row, 0 = long / 1 = short).
fn windows() -> Vec<(Ts, (usize, usize))> {
    let mut out: Vec<(Ts, (usize, usize))> = Vec::new();
    for (k, r) in ALERT_POLICY.iter().enumerate() {
        for (j, w) in [r.long, r.short].into_iter().enumerate() {
            if !out.iter().any(|(x, _)| *x == w) {
                out.push((w, (k, j)));
            }
        }
    }
    out.sort_by_key(|(w, _)| *w);
    out
}

fn burn_at(h: &HourValues, at: (usize, usize)) -> Option<f64> {
    h.burn[at.0][at.1]
}

/// The severities firing at an hour, in the policy's order.
fn firing(h: &HourValues) -> Vec<&'static str> {
    crate::signals::agreements::severities()
        .into_iter()
        .filter(|s| ALERT_POLICY.iter().zip(&h.firing).any(|(r, f)| *f && r.severity == *s))
        .collect()
}

fn row_label(k: usize) -> String {
    let r = &ALERT_POLICY[k];
    format!("{}/{}", duration(r.long), duration(r.short))
}

fn minute(t: Ts) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

fn percent(r: f64) -> String {
    let p = r * 100.0;
    if (p - p.round()).abs() < 1e-9 { format!("{p:.0}%") } else { format!("{p:.1}%") }
}

/// What an agreement promises, in a sentence.
fn promise(a: &Agreement) -> String {
    let kinds = if a.kinds.is_empty() {
        "handoffs".to_string()
    } else {
        format!("{} handoffs", a.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("/"))
    };
    let from = if a.from_teams.is_empty() { String::new() } else { format!(" from {}", a.from_teams.join(", ")) };
    let hours = if a.working_hours { " working hours" } else { "" };
    format!(
        "{kinds}{from} to {} acknowledged within {}{hours}, for {} of them over {}",
        a.to_team,
        duration(a.within),
        percent(a.objective),
        duration(a.window)
    )
}

/// The alert policy in a sentence.
fn policy() -> String {
    crate::signals::agreements::severities()
        .into_iter()
        .map(|s| {
            let rows: Vec<String> = ALERT_POLICY
                .iter()
                .filter(|r| r.severity == s)
                .map(|r| format!("over {} and over {} exceeds {}", duration(r.long), duration(r.short), r.factor))
                .collect();
            format!("{s} when the burn rate {}", rows.join(", or "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The text form: per agreement its summary, its alert episodes and one row per day (the day's
/// last hour for the window's figures, the day's highest burn rate per window, the hours each
/// severity fired). The JSON form has every hour.
pub fn text(c: &Check) -> String {
    let mut out = String::new();
    let hours = c.agreements.iter().find_map(|a| a.backtest.as_ref()).map(|b| b.hours.len());
    out += &format!(
        "Back-test of {} agreement{} over the stored history, {} – {}{}.\n",
        c.agreements.len(),
        if c.agreements.len() == 1 { "" } else { "s" },
        minute(c.from),
        minute(c.to),
        hours.map(|n| format!(" ({n} hours)")).unwrap_or_default()
    );
    out += &format!("Alerts: {}.\n", policy());
    let wins = windows();
    for ac in &c.agreements {
        let a = &ac.agreement;
        out += &format!("\n{}: {}\n", a.name, promise(a));
        let Some(bt) = &ac.backtest else {
            out += &format!(
                "  team {} has fewer active people than the privacy floor ({}): the agreement exports no series, and its back-test shows nothing\n",
                a.to_team, c.privacy_floor
            );
            continue;
        };
        let (with, met) = (bt.hours_with_data(), bt.hours_met(a.objective));
        if with == 0 {
            out += &format!(
                "  no covered handoff was decided in any {} window of the range: nothing to test\n",
                duration(a.window)
            );
            continue;
        }
        out += &format!(
            "  objective met in {met} of {with} hours with handoffs decided in the window ({}); {} hours had none\n",
            percent(met as f64 / with as f64),
            bt.hours.len() - with
        );
        if let Some((at, low)) = bt.lowest_budget() {
            out += &format!("  lowest error budget left: {} at {}", percent(low), minute(at));
        }
        if let Some(last) = bt.hours.last() {
            match (last.attainment, last.budget_left) {
                (Some(att), Some(left)) => {
                    out += &format!("; at the end: attainment {}, budget left {}\n", percent(att), percent(left))
                }
                _ => out += "; at the end: nothing decided in the window\n",
            }
        }
        let counts: Vec<String> = crate::signals::agreements::severities()
            .into_iter()
            .map(|s| {
                let n = bt.episodes_of(s);
                let h = bt.hours.iter().filter(|h| firing(h).contains(&s)).count();
                format!("{s} {n} time{} ({h} hours)", if n == 1 { "" } else { "s" })
            })
            .collect();
        out += &format!("  alerts that would have fired: {}\n", counts.join(", "));
        if !bt.episodes.is_empty() {
            out += &format!("\n  {:<8} {:<21} {:<21} {:>6}  windows\n", "alert", "fires from", "until", "hours");
            for e in &bt.episodes {
                let end = e.end.map(minute).unwrap_or_else(|| "still firing".into());
                let hours = (e.end.unwrap_or(c.to.div_euclid(HOUR) * HOUR + HOUR) - e.start) / HOUR;
                let rows: Vec<String> = e.rows.iter().map(|k| row_label(*k)).collect();
                out += &format!(
                    "  {:<8} {:<21} {:<21} {:>6}  {}\n",
                    e.severity,
                    minute(e.start),
                    end,
                    hours,
                    rows.join(", ")
                );
            }
        }
        out += &format!(
            "\n  Per day: the {} window at the day's last hour, the day's highest burn rate over each alert window, the hours each alert fired.\n",
            duration(a.window)
        );
        let mut head =
            format!("  {:<10} {:>8} {:>7} {:>11} {:>12}", "day", "decided", "broken", "attainment", "budget left");
        for (w, _) in &wins {
            head += &format!(" {:>8}", format!("burn {}", duration(*w)));
        }
        out += &head;
        out += "  alert hours\n";
        for day in bt.hours.chunk_by(|x, y| x.at.div_euclid(DAY) == y.at.div_euclid(DAY)) {
            let last = day.last().expect("chunks are not empty");
            let date = chrono::DateTime::from_timestamp(last.at, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let opt = |v: Option<f64>| v.map(percent).unwrap_or_else(|| "–".into());
            let mut line = format!(
                "  {date:<10} {:>8} {:>7} {:>11} {:>12}",
                last.window_handoffs,
                last.window_breaches,
                opt(last.attainment),
                opt(last.budget_left)
            );
            for (_, at) in &wins {
                let high = day.iter().filter_map(|h| burn_at(h, *at)).reduce(f64::max);
                line += &format!(" {:>8}", high.map(|b| format!("{b:.1}")).unwrap_or_else(|| "–".into()));
            }
            let fired: Vec<String> = crate::signals::agreements::severities()
                .into_iter()
                .filter_map(|s| {
                    let n = day.iter().filter(|h| firing(h).contains(&s)).count();
                    (n > 0).then(|| format!("{s} {n}"))
                })
                .collect();
            line += &format!("  {}", fired.join(", "));
            out += line.trim_end();
            out += "\n";
        }
    }
    out
}

/// The JSON form (schema [`SCHEMA`]): the range, the policy, and per agreement its definition,
/// summary, alert episodes and every hour.
pub fn json(c: &Check) -> Value {
    let wins = windows();
    let t = crate::pages::rfc3339;
    let agreements: Vec<Value> = c
        .agreements
        .iter()
        .map(|ac| {
            let a = &ac.agreement;
            let mut v = json!({
                "name": a.name,
                "to_team": a.to_team,
                "from_teams": a.from_teams,
                "kinds": a.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "within_seconds": a.within,
                "working_hours": a.working_hours,
                "objective": a.objective,
                "window_seconds": a.window,
                "suppressed": ac.backtest.is_none(),
            });
            let Some(bt) = &ac.backtest else {
                v["reason"] = json!(format!(
                    "team {} has fewer active people than the privacy floor ({})",
                    a.to_team, c.privacy_floor
                ));
                return v;
            };
            let (with, met) = (bt.hours_with_data(), bt.hours_met(a.objective));
            let alerts: serde_json::Map<String, Value> = crate::signals::agreements::severities()
                .into_iter()
                .map(|s| {
                    let hours = bt.hours.iter().filter(|h| firing(h).contains(&s)).count();
                    (s.to_string(), json!({"episodes": bt.episodes_of(s), "hours": hours}))
                })
                .collect();
            v["summary"] = json!({
                "hours": bt.hours.len(),
                "hours_with_data": with,
                "hours_met": met,
                "share_met": (with > 0).then(|| met as f64 / with as f64),
                "lowest_budget_left": bt.lowest_budget().map(|(at, b)| json!({"at": t(at), "value": b})),
                "alerts": alerts,
            });
            v["episodes"] = bt
                .episodes
                .iter()
                .map(|e| {
                    json!({
                        "severity": e.severity,
                        "start": t(e.start),
                        "end": e.end.map(t),
                        "windows": e.rows.iter().map(|k| {
                            let r = &ALERT_POLICY[*k];
                            json!({"long": duration(r.long), "short": duration(r.short), "factor": r.factor})
                        }).collect::<Vec<_>>(),
                    })
                })
                .collect();
            v["hours"] = bt
                .hours
                .iter()
                .map(|h| {
                    let burn: serde_json::Map<String, Value> =
                        wins.iter().map(|(w, at)| (duration(*w), json!(burn_at(h, *at)))).collect();
                    json!({
                        "at": t(h.at),
                        "handoffs": h.handoffs,
                        "breaches": h.breaches,
                        "window_handoffs": h.window_handoffs,
                        "window_breaches": h.window_breaches,
                        "attainment": h.attainment,
                        "budget_left": h.budget_left,
                        "burn_rate": burn,
                        "firing": firing(h),
                    })
                })
                .collect();
            v
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "from": t(c.from),
        "to": t(c.to),
        "privacy_floor": c.privacy_floor,
        "alert_policy": ALERT_POLICY.iter().map(|r| json!({
            "severity": r.severity, "long": duration(r.long), "short": duration(r.short), "factor": r.factor,
        })).collect::<Vec<_>>(),
        "agreements": agreements,
    })
}
