//! The largest size and longest duration each setting may take, in one place, so the config
//! file, `check-config` and the CLI flags (`demo`, `backfill`) refuse the same values with the
//! same words. Owns the numbers and their messages only; it reads no file and starts nothing.

use crate::model::{DAY, Ts};
pub use crate::sources::configkit::{MAX_DURATION, human};
/// The simulated organisation's bounds live with the simulator (config `kind = "simulator"` and
/// `siloscope demo` share them).
pub use crate::sources::simulator::config::{
    SIM_HISTORY_DAYS, SIM_ITEMS_PER_DAY, SIM_PEOPLE_PER_TEAM, SIM_REPOS_PER_TEAM, SIM_TEAMS, SIM_TOTAL_ITEMS,
    simulator_problems,
};

/// A source's sync interval: a week.
pub const MAX_INTERVAL: Ts = 7 * DAY;
/// `[store] lease`: how long a replica holds a source without renewing (renewed every third of
/// it), from 3 seconds to 10 minutes; 30 seconds unless set.
pub const LEASE: (Ts, Ts) = (3, 600);
pub const LEASE_DEFAULT: Ts = 30;
/// `demo --speed`: simulated seconds per real second.
pub const MAX_SPEED: f64 = 1_000_000.0;
/// `backfill --step`: at least a minute, at most a year.
pub const BACKFILL_STEP: (Ts, Ts) = (60, 366 * DAY);

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
    use crate::sources::simulator::SimulatorConfig;

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
