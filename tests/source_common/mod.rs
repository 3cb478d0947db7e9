//! Plumbing shared by the API-source integration tests (GitHub, GitLab, Jira): a simulated
//! organisation to serve from a stand-in, the policy settings and clock the sources run on,
//! syncing into a real store, reading the store back, and log capture for secret checks.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use siloscope::model::{DAY, DirectorySnapshot, Event, Item, Ts};
use siloscope::sources::Source;
use siloscope::sources::http::{HttpSettings, ManualClock, NetworkTransport};
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

/// 2023-11-15T00:00:00Z.
pub const T0: Ts = 1_700_006_400;

/// A simulated organisation's history of `days` days (4 teams of 5), and its directory.
pub fn simulated(days: u32, items_per_day: f64, seed: u64) -> (Vec<Item>, Vec<Event>, DirectorySnapshot) {
    let cfg = SimulatorConfig {
        seed,
        teams: 4,
        people_per_team: 5,
        repos_per_team: 2,
        items_per_day,
        history_days: days,
        start: Some(T0),
        ..SimulatorConfig::default()
    };
    let mut sim = Simulator::new("sim", cfg);
    let anchor = sim.anchor_for(T0);
    let (items, events) = sim.generate(anchor, anchor - 1, anchor + Ts::from(days) * DAY);
    let dir = sim.directory(anchor);
    (items, events, dir)
}

/// Writes a token file (as a user would, with a trailing newline).
pub fn write_token(dir: &Path, token: &str) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

/// Fast-failing policy settings: a short timeout; sleeps go to the manual clock.
pub fn settings() -> HttpSettings {
    HttpSettings { timeout: Duration::from_millis(1500), ..HttpSettings::default() }
}

/// The real HTTP transport, pointed at a loopback stand-in.
pub fn transport() -> Arc<NetworkTransport> {
    Arc::new(NetworkTransport::new(Duration::from_secs(2)).unwrap())
}

/// A clock whose sleeps are recorded, not slept.
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(chrono::Utc::now().timestamp() as f64))
}

/// Steps a source until caught up, committing each batch under its cursor; returns the steps.
pub async fn sync(source: &mut dyn Source, store: &mut SqliteStore, now: Ts) -> u32 {
    let name = source.name().to_string();
    let mut steps = 0;
    loop {
        let cursor = store.cursor(&name).unwrap();
        let step = source.step(cursor.as_deref(), now).await.unwrap_or_else(|e| panic!("step {steps} failed: {e}"));
        store.commit_batch(&step.batch).unwrap();
        steps += 1;
        assert!(steps < 2000, "no end to the sync");
        if step.caught_up {
            return steps;
        }
    }
}

/// Items (by key) and events (by id) of a store.
pub fn dump(store: &SqliteStore) -> (Vec<Item>, Vec<Event>) {
    let mut items = Vec::new();
    store.for_each_item(&mut |i| items.push(i)).unwrap();
    let mut events = Vec::new();
    store.for_each_event(&mut |e| events.push(e)).unwrap();
    items.sort_by(|a, b| a.key.cmp(&b.key));
    events.sort_by(|a, b| a.id.cmp(&b.id));
    (items, events)
}

pub fn open_store(dir: &Path, name: &str) -> SqliteStore {
    SqliteStore::open(&dir.join(name)).unwrap()
}

/// Everything written to it is kept, for grepping logs.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A trace-level subscriber writing into `Captured`, for the current thread.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}
