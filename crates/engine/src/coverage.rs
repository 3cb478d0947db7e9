//! Directory coverage: how much of the activity in a window the team directory attributes to a
//! team, per source (share of events, share of active identities). A pure function of the frame,
//! the directory and a time range; it names no person on any surface (only counts leave it).

use std::collections::HashMap;

use crate::model::{DAY, Ts};
use crate::signals::Frame;
use crate::signals::frame::{NO_SYM, Sym};
use crate::teams::Directory;

/// The default of `[signals] coverage_warning`: below 95% of a source's events attributed to a
/// team, one event in twenty counts for no team, and the handoffs and acknowledgements of the
/// people behind them go missing. Bots are not counted, so a complete directory reaches 100%.
pub const DEFAULT_COVERAGE_WARNING: f64 = 0.95;

/// Coverage of one source in one time range. Events without an actor (deleted users, system
/// actions) and events by bots are not counted: they never belong to a team.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceCoverage {
    pub source: String,
    /// Events by non-bot actors in the range, and those whose actor the directory resolved to a
    /// team at the event's time.
    pub events: u64,
    pub events_resolved: u64,
    /// Distinct non-bot actors with an event in the range, and those the directory resolved to a
    /// team at their latest event in the range.
    pub identities: u64,
    pub identities_resolved: u64,
}

impl SourceCoverage {
    /// Share of events attributed to a team; None when the range holds no such event.
    pub fn event_share(&self) -> Option<f64> {
        (self.events > 0).then(|| self.events_resolved as f64 / self.events as f64)
    }
    pub fn identity_share(&self) -> Option<f64> {
        (self.identities > 0).then(|| self.identities_resolved as f64 / self.identities as f64)
    }
    /// Whether the event share is under `threshold` (the warning). Identities are shown but do
    /// not warn: one-off outside contributors are rightly in no team.
    pub fn below(&self, threshold: f64) -> bool {
        self.event_share().is_some_and(|s| s < threshold)
    }
    pub fn unresolved_identities(&self) -> u64 {
        self.identities - self.identities_resolved
    }
}

/// Per source while counting: events, events resolved, and per actor (latest event, resolved then).
type SourceTally = (u64, u64, HashMap<Sym, (Ts, bool)>);

/// Coverage per source (ordered by source name) of the events with `in_range(at)`.
pub fn coverage_where(frame: &Frame, dir: &Directory, in_range: impl Fn(Ts) -> bool) -> Vec<SourceCoverage> {
    // Per actor symbol: None = bot, Some(person) or Some(None) for an unknown identity.
    let mut who: HashMap<Sym, Option<Option<u32>>> = HashMap::new();
    let mut by_source: HashMap<Sym, SourceTally> = HashMap::new();
    for e in &frame.events {
        if e.actor == NO_SYM || !in_range(e.at) {
            continue;
        }
        let Some(info) = frame.items.get(e.item as usize) else { continue };
        if info.source == NO_SYM {
            continue;
        }
        let person = *who.entry(e.actor).or_insert_with(|| {
            let identity = frame.syms.resolve(e.actor);
            (!dir.is_bot(identity)).then(|| dir.person_of(identity))
        });
        let Some(person) = person else { continue };
        let resolved = person.is_some_and(|p| dir.team_of_person(p, e.at).is_some());
        let (events, events_resolved, actors) = by_source.entry(info.source).or_default();
        *events += 1;
        *events_resolved += resolved as u64;
        let latest = actors.entry(e.actor).or_insert((e.at, resolved));
        if e.at > latest.0 {
            *latest = (e.at, resolved);
        } else if e.at == latest.0 {
            latest.1 |= resolved;
        }
    }
    let mut out: Vec<SourceCoverage> = by_source
        .into_iter()
        .map(|(source, (events, events_resolved, actors))| SourceCoverage {
            source: frame.syms.resolve(source).to_string(),
            events,
            events_resolved,
            identities: actors.len() as u64,
            identities_resolved: actors.values().filter(|(_, r)| *r).count() as u64,
        })
        .collect();
    out.sort_by(|a, b| a.source.cmp(&b.source));
    out
}

/// Coverage of the rolling window `(now - window, now]`.
pub fn coverage_in_window(frame: &Frame, dir: &Directory, window: Ts, now: Ts) -> Vec<SourceCoverage> {
    coverage_where(frame, dir, |at| at > now - window && at <= now)
}

/// Coverage in each configured window, by window label: `(label, per source)`.
pub fn coverage_by_window(
    frame: &Frame,
    dir: &Directory,
    windows: &[(String, Ts)],
    now: Ts,
) -> Vec<(String, Vec<SourceCoverage>)> {
    windows.iter().map(|(label, w)| (label.clone(), coverage_in_window(frame, dir, *w, now))).collect()
}

/// `93.1%` (one decimal, never rounded up to 100% while anything is missing), or `-`.
pub fn percent(share: Option<f64>) -> String {
    match share {
        None => "-".into(),
        Some(s) => {
            let tenths = (s * 1000.0).floor() / 10.0;
            format!("{tenths:.1}%")
        }
    }
}

/// One line per source for the report: `gh: 97.8% of 46 events, 90.0% of 10 identities`.
pub fn summary(c: &SourceCoverage) -> String {
    format!(
        "{}: {} of {} events, {} of {} active identities",
        c.source,
        percent(c.event_share()),
        c.events,
        percent(c.identity_share()),
        c.identities
    )
}

/// The longest window, the one `siloscope teams` warns on (short windows are small samples).
pub fn warning_window(windows: &[(String, Ts)]) -> (String, Ts) {
    windows.iter().max_by_key(|(_, w)| *w).cloned().unwrap_or_else(|| ("90d".into(), 90 * DAY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, EventKind, HOUR, Item, ItemKind, ItemState};
    use crate::teams::{DirectoryBuilder, Membership};

    const T0: Ts = 1_700_000_000;

    fn item(source: &str, key: &str) -> Item {
        Item {
            key: key.into(),
            source: source.into(),
            kind: ItemKind::Issue,
            scope: "acme/api".into(),
            url: format!("https://example.test/{key}"),
            title: "t".into(),
            author: None,
            created_at: T0,
            updated_at: T0,
            state: ItemState::Open,
            issue_type: None,
        }
    }

    fn ev(n: u32, item: &str, at: Ts, actor: Option<&str>) -> Event {
        Event { id: format!("e{n}"), item: item.into(), at, actor: actor.map(Into::into), kind: EventKind::Opened }
    }

    /// Hand-counted: two sources, a bot, an actor-less event, an unknown identity, a person whose
    /// membership ends inside the window, and events just outside the window.
    #[test]
    fn coverage_counts_events_and_identities_by_hand() {
        let mut b = DirectoryBuilder::new();
        let pay = b.team("payments", &[], None);
        b.person(
            "Alice",
            &["github:alice".into(), "jira:A1".into()],
            vec![Membership { team: pay, from: None, until: None }],
            false,
        );
        // Bob leaves payments at T0 + 10h and is in no team afterwards.
        b.person(
            "Bob",
            &["github:bob".into()],
            vec![Membership { team: pay, from: None, until: Some(T0 + 10 * HOUR) }],
            false,
        );
        b.person("Carol", &["github:carol".into()], Vec::new(), false); // known, in no team
        b.bot("github:ci".into());
        let dir = b.build();
        let mut frame = Frame::new();
        frame.add_item(&item("gh", "gh:1"));
        frame.add_item(&item("jira", "jira:1"));
        let now = T0 + 24 * HOUR;
        let events = [
            ev(1, "gh:1", T0 + HOUR, Some("github:alice")),               // resolved
            ev(2, "gh:1", T0 + 2 * HOUR, Some("github:alice")),           // resolved
            ev(3, "gh:1", T0 + 3 * HOUR, Some("github:bob")),             // resolved (still in payments)
            ev(4, "gh:1", T0 + 11 * HOUR, Some("github:bob")),            // not: left payments; his latest
            ev(5, "gh:1", T0 + 4 * HOUR, Some("github:carol")),           // not: in no team
            ev(6, "gh:1", T0 + 5 * HOUR, Some("github:ci")),              // bot: not counted
            ev(7, "gh:1", T0 + 6 * HOUR, Some("github:dependabot[bot]")), // bot by name
            ev(8, "gh:1", T0 + 7 * HOUR, None),                           // no actor: not counted
            ev(9, "gh:1", T0 + 8 * HOUR, Some("github:zed")),             // unknown
            ev(10, "gh:1", T0 - HOUR, Some("github:zed")),                // before the window
            ev(11, "gh:1", now + HOUR, Some("github:zed")),               // after now
            ev(12, "jira:1", T0 + 9 * HOUR, Some("jira:A1")),             // resolved (Alice)
            ev(13, "jira:1", T0 + 9 * HOUR, Some("jira:Z9")),             // unknown
            ev(14, "jira:1", now, Some("jira:Z9")),                       // unknown, at now (inside)
        ];
        for e in &events {
            frame.add_event(e);
        }
        let got = coverage_in_window(&frame, &dir, 24 * HOUR - 1, now);
        // Window (T0 + 1s, now]: events 1–9 and 12–14 are in; 10 and 11 are out.
        assert_eq!(
            got,
            vec![
                SourceCoverage {
                    source: "gh".into(),
                    events: 6,
                    events_resolved: 3,
                    identities: 4,
                    identities_resolved: 1
                },
                SourceCoverage {
                    source: "jira".into(),
                    events: 3,
                    events_resolved: 1,
                    identities: 2,
                    identities_resolved: 1
                },
            ]
        );
        assert_eq!(percent(got[0].event_share()), "50.0%");
        assert_eq!(percent(got[1].event_share()), "33.3%");
        assert_eq!(percent(got[0].identity_share()), "25.0%");
        assert!(got[0].below(0.9) && !got[0].below(0.5));
        // A window with nothing in it has no share (not 0%, not 100%).
        assert!(coverage_in_window(&frame, &dir, HOUR, T0 - 2 * HOUR).is_empty());
        assert_eq!(percent(None), "-");
        // 99.96% is not shown as 100%.
        assert_eq!(percent(Some(0.9996)), "99.9%");
    }
}
