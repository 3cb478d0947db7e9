//! The simulator's part of the config: the keys a `kind = "simulator"` entry accepts, the bounds
//! of a simulated organisation (the same words for the config file and `siloscope demo`'s flags),
//! their checks, and what the registry needs: building the simulator and where its history begins.

use std::sync::Arc;

use super::{Simulator, SimulatorConfig};
use crate::model::{HistoryStart, Ts};
use crate::sources::Source;
use crate::sources::configkit::{Checker, DeTable, Value};
use crate::sources::http::Clock;
use crate::sources::settings::{CheckContext, Settings};

/// The keys a `kind = "simulator"` entry accepts.
pub const KEYS: &[&str] = &[
    "name",
    "kind",
    "interval",
    "seed",
    "teams",
    "people_per_team",
    "repos_per_team",
    "items_per_day",
    "history_days",
    "start",
    "left_out_people",
    "split_people",
];

/// Simulated organisation (config `kind = "simulator"` and `siloscope demo`).
pub const SIM_TEAMS: (u32, u32) = (1, 200);
pub const SIM_PEOPLE_PER_TEAM: (u32, u32) = (1, 100);
pub const SIM_REPOS_PER_TEAM: (u32, u32) = (1, 50);
pub const SIM_HISTORY_DAYS: (u32, u32) = (0, 3650);
pub const SIM_ITEMS_PER_DAY: f64 = 10_000.0;
/// Items in the whole simulated history (history_days × items_per_day): what the store and
/// the signal engine of one machine hold comfortably.
pub const SIM_TOTAL_ITEMS: f64 = 500_000.0;
/// Problems of a simulated organisation as a whole (each count is checked on its own by the
/// caller): `(setting, message)`. `flag` words the setting as a CLI flag instead of a key.
pub fn simulator_problems(sim: &SimulatorConfig, flag: bool) -> Vec<(&'static str, String)> {
    let name =
        |key: &'static str| if flag { format!("--{}", key.replace('_', "-")) } else { format!("`sources.{key}`") };
    let mut out = Vec::new();
    let counts = [
        ("teams", sim.teams, SIM_TEAMS),
        ("people_per_team", sim.people_per_team, SIM_PEOPLE_PER_TEAM),
        ("repos_per_team", sim.repos_per_team, SIM_REPOS_PER_TEAM),
        ("history_days", sim.history_days, SIM_HISTORY_DAYS),
    ];
    for (key, n, (min, max)) in counts {
        if !(min..=max).contains(&n) {
            out.push((key, format!("{} must be a whole number from {min} to {max}, found {n}", name(key))));
        }
    }
    if !(sim.items_per_day.is_finite() && (0.0..=SIM_ITEMS_PER_DAY).contains(&sim.items_per_day)) {
        out.push((
            "items_per_day",
            format!(
                "{} must be a number from 0 to {SIM_ITEMS_PER_DAY}, found {}",
                name("items_per_day"),
                sim.items_per_day
            ),
        ));
    }
    let people = u64::from(sim.teams) * u64::from(sim.people_per_team);
    for (key, n) in [("left_out_people", sim.left_out_people), ("split_people", sim.split_people)] {
        if u64::from(n) > people {
            out.push((key, format!("{} is {n}, more than the {people} simulated people", name(key))));
        }
    }
    let total = f64::from(sim.history_days) * sim.items_per_day;
    if out.is_empty() && total > SIM_TOTAL_ITEMS {
        out.push((
            "items_per_day",
            format!(
                "{} × {} makes {total:.0} simulated items, more than the {SIM_TOTAL_ITEMS:.0} the simulated history may hold",
                name("history_days"),
                name("items_per_day")
            ),
        ));
    }
    out
}

impl Settings for SimulatorConfig {
    /// The simulator reads no clock: its time is each step's `now` (the caller's clock).
    fn build(&self, name: &str, _clock: Arc<dyn Clock>) -> Box<dyn Source> {
        Box::new(Simulator::new(name, self.clone()))
    }
    /// The simulated organisation begins at its start (anchored at `now` when none is set).
    fn history_start(&self, name: &str, now: Ts) -> HistoryStart {
        HistoryStart::From(Simulator::new(name, self.clone()).anchor_for(now))
    }
}

/// Checks a `kind = "simulator"` entry into its settings, reporting every problem.
pub fn check(
    c: &mut Checker<'_>,
    _entry_value: &Value<'_>,
    entry: &DeTable<'_>,
    _context: &CheckContext<'_>,
) -> Option<SimulatorConfig> {
    c.known_keys(entry, "sources", KEYS);
    let mut sim = SimulatorConfig::default();
    let mut ok = true;
    if let Some(v) = entry.get("seed") {
        match c.integer(v, "sources.seed", 0, i128::from(u64::MAX), "seed = 42") {
            Some(n) => sim.seed = n as u64,
            None => ok = false,
        }
    }
    let people = (0, 1_000);
    let counts: [(&str, (u32, u32), &mut u32); 6] = [
        ("teams", SIM_TEAMS, &mut sim.teams),
        ("people_per_team", SIM_PEOPLE_PER_TEAM, &mut sim.people_per_team),
        ("repos_per_team", SIM_REPOS_PER_TEAM, &mut sim.repos_per_team),
        ("history_days", SIM_HISTORY_DAYS, &mut sim.history_days),
        ("left_out_people", people, &mut sim.left_out_people),
        ("split_people", people, &mut sim.split_people),
    ];
    for (key, (min, max), slot) in counts {
        if let Some(v) = entry.get(key) {
            let example = format!("{key} = {}", (*slot).clamp(min, max));
            match c.integer(v, &format!("sources.{key}"), i128::from(min), i128::from(max), &example) {
                Some(n) => *slot = n as u32,
                None => ok = false,
            }
        }
    }
    if let Some(v) = entry.get("items_per_day") {
        match c.non_negative_number(v, "sources.items_per_day", "items_per_day = 120.0") {
            Some(n) if n > SIM_ITEMS_PER_DAY => {
                c.report(
                    v.span(),
                    format!("`sources.items_per_day` is {n}, above {}", SIM_ITEMS_PER_DAY),
                    format!("use a number from 0 to {}, like `items_per_day = 120.0`", SIM_ITEMS_PER_DAY),
                );
                ok = false;
            }
            Some(n) => sim.items_per_day = n,
            None => ok = false,
        }
    }
    if ok {
        for (key, problem) in simulator_problems(&sim, false) {
            let span = entry.get(key).map_or(0..0, |v| v.span());
            c.report(span, problem, "make the simulated organisation smaller (fewer days or items per day)");
            ok = false;
        }
    }
    if let Some(v) = entry.get("start") {
        match c.date(v, "sources.start", "start = \"2025-01-01\"") {
            Some(ts) => sim.start = Some(ts),
            None => ok = false,
        }
    }
    ok.then_some(sim)
}
