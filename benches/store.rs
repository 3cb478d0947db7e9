//! Store benchmark: the same simulated history (about 1M events, 50 teams, one day a batch as a
//! backfill commits it) ingested into SQLite and into PostgreSQL, then read back: events/s of the
//! first ingest, of re-committing every batch (a resumed backfill: nothing new), the raw event
//! stream (`for_each_event`) and the daemon's frame load (items and events into a `Frame`).
//!
//! Run: `cargo bench --bench store`. PostgreSQL is the server of `SILOSCOPE_BENCH_POSTGRES`, else
//! `SILOSCOPE_TEST_POSTGRES`, else postgres://postgres@127.0.0.1:5432/test; the bench works in a
//! schema of its own, dropped at the end. `SILOSCOPE_BENCH_EVENTS=200k` changes the size (a `k` or
//! `m` suffix is allowed), `SILOSCOPE_BENCH_BACKENDS=sqlite` (or `postgres`) runs one backend.

use std::time::{Duration, Instant};

use siloscope::model::{Batch, DAY, HistoryStart, Ts};
use siloscope::signals::Frame;
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::store::postgres::{PostgresConfig, PostgresStore};
use siloscope::store::{SqliteStore, Store};

/// 2023-11-15T00:00:00Z: a fixed start, so every run sees the same history.
const START: Ts = 1_700_006_400;
const HISTORY_DAYS: i64 = 90;
const CALIBRATION_ITEMS_PER_DAY: f64 = 100.0;
const RATE_MARGIN: f64 = 1.03;
const TEAMS: u32 = 50;

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, mult) = match s.strip_suffix('m') {
        Some(d) => (d, 1_000_000.0),
        None => match s.strip_suffix('k') {
            Some(d) => (d, 1_000.0),
            None => (s.as_str(), 1.0),
        },
    };
    digits.parse::<f64>().ok().map(|v| (v * mult) as usize)
}

fn simulator(items_per_day: f64) -> Simulator {
    Simulator::new(
        "sim",
        SimulatorConfig {
            teams: TEAMS,
            items_per_day,
            start: Some(START),
            history_days: HISTORY_DAYS as u32,
            ..SimulatorConfig::default()
        },
    )
}

/// The simulator's first `target` events of the history, one day a batch, generated before any
/// timing starts (so only the store is timed).
fn batches(target: usize) -> Vec<Batch> {
    let calibration: usize = {
        let mut sim = simulator(CALIBRATION_ITEMS_PER_DAY);
        (0..HISTORY_DAYS).map(|d| sim.generate(START, START + d * DAY, START + (d + 1) * DAY).1.len()).sum()
    };
    let items_per_day = CALIBRATION_ITEMS_PER_DAY * target as f64 / calibration.max(1) as f64 * RATE_MARGIN;
    let mut sim = simulator(items_per_day);
    let mut out = Vec::new();
    let mut generated = 0;
    for d in 0..HISTORY_DAYS {
        let (items, mut events) = sim.generate(START, START + d * DAY, START + (d + 1) * DAY);
        events.truncate(target - generated);
        generated += events.len();
        out.push(Batch {
            source: "sim".into(),
            items,
            events,
            directory: (d == 0).then(|| sim.directory(START)),
            cursor: Some(format!("{d}")),
            history_start: (d == 0).then_some(HistoryStart::From(START)),
            ..Batch::default()
        });
        if generated >= target {
            break;
        }
    }
    out
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:>9.0} events/s ({:>6.2} s)", n as f64 / d.as_secs_f64(), d.as_secs_f64())
}

/// Ingests, re-commits and reads back `batches` on `store`; prints one line per figure.
fn run(name: &str, store: &mut dyn Store, batches: &[Batch], total: usize) {
    let mut slowest = Duration::ZERO;
    let (new, ingest) = time(|| {
        let mut new = 0;
        for batch in batches {
            let (outcome, took) = time(|| store.commit_batch(batch).expect("committing a batch"));
            slowest = slowest.max(took);
            new += outcome.new_events.len();
        }
        new
    });
    assert_eq!(new, total, "every event is new on the first ingest");
    let largest = batches.iter().map(|b| b.events.len()).max().unwrap_or(0);
    println!(
        "{name:<10} ingest    {}; slowest batch {:.3} s ({largest} events in the largest)",
        rate(total, ingest),
        slowest.as_secs_f64()
    );

    let (again, recommit) = time(|| {
        batches.iter().map(|b| store.commit_batch(b).expect("re-committing a batch").new_events.len()).sum::<usize>()
    });
    assert_eq!(again, 0, "re-committing stores nothing twice");
    println!("{name:<10} re-commit {}", rate(total, recommit));

    let (read, stream) = time(|| {
        let mut n = 0usize;
        store.for_each_event(&mut |_| n += 1).expect("streaming events");
        n
    });
    assert_eq!(read, total);
    println!("{name:<10} stream    {}", rate(total, stream));

    let (frame, load) = time(|| {
        let mut frame = Frame::new();
        store
            .for_each_item(&mut |i| {
                frame.add_item(&i);
            })
            .expect("reading items");
        store.for_each_event(&mut |e| frame.add_event(&e)).expect("reading events");
        frame
    });
    assert_eq!(frame.events.len(), total);
    println!("{name:<10} frame     {}", rate(total, load));
}

fn postgres_url() -> String {
    ["SILOSCOPE_BENCH_POSTGRES", "SILOSCOPE_TEST_POSTGRES"]
        .iter()
        .find_map(|var| std::env::var(var).ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn main() {
    let target = std::env::var("SILOSCOPE_BENCH_EVENTS").ok().and_then(|s| parse_size(&s)).unwrap_or(1_000_000);
    let backends = std::env::var("SILOSCOPE_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let (batches, generate) = time(|| batches(target));
    let total: usize = batches.iter().map(|b| b.events.len()).sum();
    println!(
        "siloscope store benchmark: {total} simulated events, {TEAMS} teams, {} batches (one day each), \
         generated in {:.1} s (not timed below); {} cores",
        batches.len(),
        generate.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    if backends.contains("sqlite") {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut store = SqliteStore::open(&dir.path().join("bench.db")).expect("opening the SQLite store");
        run("sqlite", &mut store, &batches, total);
    }
    if backends.contains("postgres") {
        let server = postgres_url();
        let schema = format!("siloscope_bench_{}", std::process::id());
        let mut admin = postgres::Client::connect(&server, postgres::NoTls)
            .unwrap_or_else(|err| panic!("PostgreSQL at {server} cannot be reached: {err:?}"));
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3D{schema}");
        {
            let mut store =
                PostgresStore::open(&PostgresConfig { url, password: None }).expect("opening the PostgreSQL store");
            run("postgres", &mut store, &batches, total);
        }
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
    }
}
