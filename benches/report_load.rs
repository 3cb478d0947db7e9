//! `/report` under load (issue 17, item 7): 40 clients asking for the daemon's report as fast as
//! they get answers, while a writer commits batches into the frame (as the daemon's commits do)
//! and the recompute publishes a new computation every 2 s. Prints the report latency (p50, p99,
//! max; 503s counted; each client asks again 10 ms after its answer), the writer's wait for the frame lock and its ingest rate against the same
//! writer with no report traffic, and the process's peak resident memory above its idle level.
//!
//! Run: `cargo bench --bench report_load` (`--profile dev` for a quick look). The size:
//! `SILOSCOPE_BENCH_ITEMS_PER_DAY` (default 60, over 90 days and 8 teams), the load phase's length
//! `SILOSCOPE_BENCH_SECONDS` (default 20).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use siloscope::config::Config;
use siloscope::daemon::State;
use siloscope::model::{Event, EventKind};
use siloscope::report::{Format, daemon_producer};
use siloscope::sources::Source;
use siloscope::sources::http::SystemClock;
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

const CLIENTS: usize = 40;
const BATCH: usize = 20;

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The writer: a batch of new comments into the frame every 10 ms for `seconds`; returns
/// (events ingested per second, lock waits).
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
    state.recompute_now().unwrap();
    let producer = daemon_producer(state.clone(), None, false);
    let one = Instant::now();
    let _ = producer(Format::Html);
    println!("store: {events} events on {} items; one report build: {:.2} s", keys.len(), one.elapsed().as_secs_f64());

    let idle_rss = rss_kib();
    let peak = Arc::new(AtomicU64::new(idle_rss));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let busy = Arc::new(AtomicU64::new(0));
    let mut idle_rate = 0.0;
    for clients in [0, CLIENTS] {
        let stop = Arc::new(AtomicBool::new(false));
        std::thread::scope(|s| {
            {
                let (stop, peak) = (stop.clone(), peak.clone());
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        peak.fetch_max(rss_kib(), Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                });
            }
            {
                let (stop, state) = (stop.clone(), state.clone());
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        state.recompute_now().unwrap();
                        std::thread::sleep(Duration::from_secs(2));
                    }
                });
            }
            for _ in 0..clients {
                let (stop, producer, latencies, busy) =
                    (stop.clone(), producer.clone(), latencies.clone(), busy.clone());
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        match producer(Format::Html) {
                            Ok(body) => {
                                assert!(!body.is_empty());
                                latencies.lock().unwrap().push(t.elapsed());
                                // A client's next request comes 10 ms after its answer.
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            Err(_) => {
                                busy.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
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
                "writer + recompute, {clients:>2} report clients: {:>7.0} events/s ({:.0}% of no clients), frame-lock wait p99 {:>7.1} ms, max {:>7.1} ms",
                rate,
                100.0 * rate / idle_rate,
                pct(&waits, 0.99).as_secs_f64() * 1e3,
                waits.last().copied().unwrap_or_default().as_secs_f64() * 1e3
            );
        });
        if clients == 0 {
            println!(
                "resident memory without report clients: peak {:.0} MiB",
                peak.load(Ordering::Relaxed) as f64 / 1024.0
            );
            peak.store(rss_kib(), Ordering::Relaxed);
        }
    }
    let mut l = latencies.lock().unwrap().clone();
    l.sort();
    println!(
        "{CLIENTS} report clients: {} answered, {} refused (busy), p50 {:.3} s, p99 {:.3} s, max {:.3} s",
        l.len(),
        busy.load(Ordering::Relaxed),
        pct(&l, 0.5).as_secs_f64(),
        pct(&l, 0.99).as_secs_f64(),
        l.last().copied().unwrap_or_default().as_secs_f64()
    );
    println!(
        "resident memory: before the load {:.0} MiB, peak with {CLIENTS} clients {:.0} MiB (+{:.0} MiB)",
        idle_rss as f64 / 1024.0,
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
        (peak.load(Ordering::Relaxed).saturating_sub(idle_rss)) as f64 / 1024.0
    );
}
