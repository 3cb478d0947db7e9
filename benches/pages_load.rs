//! The drill-down pages under load (issue 11): clients asking for the stalled-handoff list (all
//! of it, and one pair's, as an alert's link does) as fast as they get answers, while a writer
//! commits batches into the frame (as the daemon's commits do) and the recompute publishes a new
//! computation every 2 s. Prints the page latency (p50, p99, max) and the writer's wait for the
//! frame lock and its ingest rate with and without page traffic: a page reads the published
//! computation only, so the writer must not notice it.
//!
//! Run: `cargo bench --bench pages_load` (`--profile dev` for a quick look). The size:
//! `SILOSCOPE_BENCH_ITEMS_PER_DAY` (default 60, over 90 days and 8 teams; about 2,000 for 10M
//! events), the load phase's length `SILOSCOPE_BENCH_SECONDS` (default 20).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use siloscope::config::Config;
use siloscope::daemon::State;
use siloscope::model::{Event, EventKind};
use siloscope::pages::{ExternalUrl, HandoffFilter};
use siloscope::sources::Source;
use siloscope::sources::http::SystemClock;
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

const CLIENTS: usize = 8;
const BATCH: usize = 20;

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The writer: a batch of new comments into the frame every 10 ms for `seconds`; returns
/// (events ingested per second, sorted lock waits).
fn ingest(state: &State, keys: &[String], seconds: f64, tag: &str) -> (f64, Vec<Duration>) {
    let started = Instant::now();
    let mut waits = Vec::new();
    let mut n = 0u64;
    let mut at = siloscope::daemon::wall_now();
    while started.elapsed().as_secs_f64() < seconds {
        let batch: Vec<Event> = (0..BATCH)
            .map(|i| {
                n += 1;
                at += 1;
                Event {
                    id: format!("{tag}-{n}"),
                    item: keys[(n as usize * 7919 + i) % keys.len()].clone(),
                    at,
                    actor: Some("github:bench-writer".into()),
                    kind: EventKind::Commented { mentions: vec![] },
                }
            })
            .collect();
        let asked = Instant::now();
        let mut frame = state.frame.lock().unwrap();
        waits.push(asked.elapsed());
        for e in &batch {
            frame.add_event(e);
        }
        drop(frame);
        std::thread::sleep(Duration::from_millis(10));
    }
    waits.sort();
    (n as f64 / started.elapsed().as_secs_f64(), waits)
}

/// One page as the server answers it: filter, rows, HTML (the JSON costs less).
fn page(state: &State, base: &ExternalUrl, pairs: &[(String, String)]) -> usize {
    let c = state.pages.get().expect("a published computation");
    let filter = HandoffFilter::parse(pairs, &c.config).unwrap();
    let page = siloscope::pages::handoffs(&c, &filter, base);
    siloscope::pages::html::handoffs(&page, base).len()
}

fn main() {
    let items_per_day = env("SILOSCOPE_BENCH_ITEMS_PER_DAY", 60.0);
    let seconds = env("SILOSCOPE_BENCH_SECONDS", 20.0);
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("bench.db")).unwrap();
    let now = siloscope::daemon::wall_now();
    let cfg = SimulatorConfig {
        teams: 8,
        items_per_day,
        start: Some(now - 90 * 86_400),
        history_days: 90,
        ..Default::default()
    };
    let mut sim = Simulator::new("sim", cfg);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    loop {
        let cursor = store.cursor("sim").unwrap();
        let step = rt.block_on(sim.step(cursor.as_deref(), now)).unwrap();
        store.commit_batch(&step.batch).unwrap();
        if step.caught_up {
            break;
        }
    }
    let state = State::new(Config::parse("", Path::new("bench.toml")).unwrap(), Box::new(store), Arc::new(SystemClock))
        .unwrap();
    let (events, keys): (usize, Vec<String>) = {
        let f = state.frame.lock().unwrap();
        (f.events.len(), f.items.iter().map(|i| f.syms.resolve(i.key).to_string()).collect())
    };
    let t = Instant::now();
    state.recompute_now().unwrap();
    let recompute = t.elapsed();
    let c = state.pages.get().unwrap();
    let stalled = c.analysis.handoffs.len();
    // The pair with the most stalled handoffs: an alert's link.
    let base = ExternalUrl::parse("https://siloscope.acme.io").unwrap();
    let all: Vec<(String, String)> = vec![("state".into(), "stalled".into())];
    let first = siloscope::pages::handoffs(&c, &HandoffFilter::parse(&all, &c.config).unwrap(), &base);
    let pair: Vec<(String, String)> = match first.handoffs.first() {
        Some(h) => vec![
            ("to_team".into(), h.to_team.clone()),
            ("from_team".into(), h.from_team.clone()),
            ("state".into(), "stalled".into()),
            ("kind".into(), h.kind.into()),
        ],
        None => all.clone(),
    };
    drop(c);
    println!(
        "store: {events} events on {} items, {stalled} handoffs ({} stalled now); recompute with the pages' publication: {:.2} s",
        keys.len(),
        first.count,
        recompute.as_secs_f64()
    );

    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let mut idle_rate = 0.0;
    for clients in [0, CLIENTS] {
        let stop = Arc::new(AtomicBool::new(false));
        std::thread::scope(|s| {
            {
                let (stop, state) = (stop.clone(), state.clone());
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        state.recompute_now().unwrap();
                        std::thread::sleep(Duration::from_secs(2));
                    }
                });
            }
            for client in 0..clients {
                let (stop, state, latencies, base) = (stop.clone(), state.clone(), latencies.clone(), base.clone());
                let query = if client % 2 == 0 { all.clone() } else { pair.clone() };
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        assert!(page(&state, &base, &query) > 0);
                        latencies.lock().unwrap().push(t.elapsed());
                        std::thread::sleep(Duration::from_millis(10));
                    }
                });
            }
            let (rate, waits) =
                ingest(&state, &keys, if clients == 0 { seconds / 2.0 } else { seconds }, &format!("c{clients}"));
            stop.store(true, Ordering::Relaxed);
            if clients == 0 {
                idle_rate = rate;
            }
            println!(
                "writer + recompute, {clients} page clients: {rate:>7.0} events/s ({:.0}% of no clients), frame-lock wait p50 {:.2} ms, p99 {:.1} ms, max {:.1} ms",
                100.0 * rate / idle_rate,
                ms(pct(&waits, 0.5)),
                ms(pct(&waits, 0.99)),
                ms(waits.last().copied().unwrap_or_default()),
            );
        });
    }
    let mut l = latencies.lock().unwrap().clone();
    l.sort();
    println!(
        "{CLIENTS} page clients (all stalled handoffs / one pair's): {} answered, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        l.len(),
        ms(pct(&l, 0.5)),
        ms(pct(&l, 0.99)),
        ms(l.last().copied().unwrap_or_default())
    );
}
