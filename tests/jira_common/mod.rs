//! Helpers of the Jira integration tests: simulated tickets served by the Jira stand-in, a
//! source pointed at it, syncing into a real store, and log capture.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use siloscope::model::{DAY, Event, Item, Ts};
use siloscope::sources::Source;
use siloscope::sources::http::{HttpSettings, ManualClock, OctocrabTransport};
use siloscope::sources::jira::{Flavor, JiraAuth, JiraConfig, JiraSource};
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::standin::jira::{JiraScenario, JiraStandIn, StandInSettings};
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

/// 2023-11-15T00:00:00Z.
pub const T0: Ts = 1_700_006_400;
pub const TOKEN: &str = "ATATT3xFfGF0standinJIRAtoken0123456789";
pub const EMAIL: &str = "reader@acme.io";
/// The Jira user's zone: UTC-5 (behind UTC, so a cursor written as UTC wall time would skip).
pub const OFFSET: i32 = -300;

/// A simulated organisation's history of `days` days.
pub fn simulated(days: u32, items_per_day: f64, seed: u64) -> (Vec<Item>, Vec<Event>) {
    let cfg = SimulatorConfig {
        seed,
        teams: 4,
        people_per_team: 5,
        repos_per_team: 2,
        items_per_day,
        history_days: days,
        start: Some(T0),
    };
    let mut sim = Simulator::new("sim", cfg);
    let anchor = sim.anchor_for(T0);
    sim.generate(anchor, anchor - 1, anchor + Ts::from(days) * DAY)
}

pub fn standin_settings(flavor: Flavor) -> StandInSettings {
    StandInSettings {
        flavor,
        email: if flavor == Flavor::Cloud { EMAIL.into() } else { String::new() },
        token: TOKEN.into(),
        utc_offset_minutes: OFFSET,
        embedded_histories: 100,
        embedded_comments: 20,
    }
}

pub async fn start(scenario: JiraScenario, flavor: Flavor) -> JiraStandIn {
    JiraStandIn::start(scenario, standin_settings(flavor)).await.unwrap()
}

pub fn write_token(dir: &Path, token: &str) -> PathBuf {
    let path = dir.join("jira-token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

/// A config reading every project of the stand-in, token in `token_file`.
pub fn config(standin: &JiraStandIn, flavor: Flavor, token_file: PathBuf) -> JiraConfig {
    let mut cfg = JiraConfig::cloud(&standin.url(), EMAIL, &[]);
    cfg.flavor = flavor;
    cfg.auth = JiraAuth {
        email: (flavor == Flavor::Cloud).then(|| EMAIL.to_string()),
        token_env: None,
        token_file: Some(token_file),
    };
    cfg.team_field = Some("customfield_10400".into());
    cfg.utc_offset_minutes = OFFSET;
    cfg
}

pub fn settings() -> HttpSettings {
    HttpSettings { timeout: Duration::from_millis(1500), ..HttpSettings::default() }
}

pub fn source(cfg: JiraConfig, clock: Arc<ManualClock>) -> JiraSource {
    let transport = Arc::new(OctocrabTransport::new(Duration::from_secs(2)).unwrap());
    JiraSource::with_transport("jira", cfg, transport, clock, settings())
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(chrono::Utc::now().timestamp() as f64))
}

/// Steps until caught up, committing each batch; returns the number of steps.
pub async fn sync(source: &mut JiraSource, store: &mut SqliteStore, now: Ts) -> u32 {
    let mut steps = 0;
    loop {
        let cursor = store.cursor("jira").unwrap();
        let step = source.step(cursor.as_deref(), now).await.unwrap_or_else(|e| panic!("step {steps} failed: {e}"));
        store.commit_batch(&step.batch).unwrap();
        steps += 1;
        assert!(steps < 2000, "no end to the sync");
        if step.caught_up {
            return steps;
        }
    }
}

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
