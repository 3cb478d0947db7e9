//! The simulated organisation: a seeded, deterministic source of realistic cross-team activity.
//! It backs `siloscope demo` and the benchmarks. It must stay a source like any other (batches and
//! a cursor), and produce the same events however its time range is split into steps.

use serde::{Deserialize, Serialize};

/// Size and dynamics of the simulated organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulatorConfig {
    pub seed: u64,
    pub teams: u32,
    pub people_per_team: u32,
    pub repos_per_team: u32,
    /// New work items (issues, pull requests, tickets) per simulated day.
    pub items_per_day: f64,
    /// Days of history generated before the first sync's `now`, when no `start` is set.
    pub history_days: u32,
    /// Fixed start of the simulated history (epoch seconds); None = `now - history_days` at the first sync.
    pub start: Option<crate::model::Ts>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig { seed: 42, teams: 8, people_per_team: 7, repos_per_team: 2, items_per_day: 120.0, history_days: 90, start: None }
    }
}
