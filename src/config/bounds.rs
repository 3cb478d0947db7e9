//! The largest size and longest duration each setting may take, in one place, so the config
//! file, `check-config` and the CLI flags (`demo`, `backfill`) refuse the same values with the
//! same words. Owns the numbers and their messages only; it reads no file and starts nothing.

use crate::model::{DAY, Ts};
use crate::sources::simulator::SimulatorConfig;

/// Any configured duration (signal windows, stall times, bounce windows): ten years.
pub const MAX_DURATION: Ts = 3650 * DAY;
/// A source's sync interval: a week.
pub const MAX_INTERVAL: Ts = 7 * DAY;
/// Simulated organisation (config `kind = "simulator"` and `siloscope demo`).
pub const SIM_TEAMS: (u32, u32) = (1, 200);
pub const SIM_PEOPLE_PER_TEAM: (u32, u32) = (1, 100);
pub const SIM_REPOS_PER_TEAM: (u32, u32) = (1, 50);
pub const SIM_HISTORY_DAYS: (u32, u32) = (0, 3650);
pub const SIM_ITEMS_PER_DAY: f64 = 10_000.0;
/// Items in the whole simulated history (history_days × items_per_day): what the store and
/// the signal engine of one machine hold comfortably.
pub const SIM_TOTAL_ITEMS: f64 = 500_000.0;
/// `demo --speed`: simulated seconds per real second.
pub const MAX_SPEED: f64 = 1_000_000.0;
/// `backfill --step`: at least a minute, at most a year.
pub const BACKFILL_STEP: (Ts, Ts) = (60, 366 * DAY);

/// A duration as people write it back: `3650d`, `7d`, `90s`.
pub fn human(seconds: Ts) -> String {
    if seconds % DAY == 0 {
        format!("{}d", seconds / DAY)
    } else if seconds % 3600 == 0 {
        format!("{}h", seconds / 3600)
    } else if seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

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

/// `demo --speed`.
pub fn check_speed(speed: f64) -> Result<(), String> {
    if speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED {
        Ok(())
    } else {
        Err(format!(
            "--speed must be a number above 0 and at most {MAX_SPEED:.0} (simulated seconds per real second), got {speed}"
        ))
    }
}

/// `backfill --step`, in seconds.
pub fn check_step(step: Ts) -> Result<(), String> {
    let (min, max) = BACKFILL_STEP;
    if (min..=max).contains(&step) {
        Ok(())
    } else {
        Err(format!(
            "--step must be from {} to {} (found {}), e.g. --step 1h",
            human(min),
            human(max),
            human(step.max(0))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_simulator_is_within_bounds() {
        assert!(simulator_problems(&SimulatorConfig::default(), false).is_empty());
        let huge = SimulatorConfig { teams: u32::MAX, ..SimulatorConfig::default() };
        assert_eq!(
            simulator_problems(&huge, true)[0].1,
            "--teams must be a whole number from 1 to 200, found 4294967295"
        );
        let long = SimulatorConfig { history_days: 3650, items_per_day: 1000.0, ..SimulatorConfig::default() };
        assert!(simulator_problems(&long, false)[0].1.contains("more than the 500000"));
        assert!(check_speed(f64::INFINITY).is_err() && check_speed(60.0).is_ok());
        assert!(check_step(1).unwrap_err().contains("from 1m to 366d"));
    }
}
