//! Store benchmark, on SQLite and on PostgreSQL, in three parts per backend:
//! 1. Ingest: the same simulated history (about 1M events, 50 teams, one day a batch as a backfill
//!    commits it): events/s of the first ingest and of re-committing every batch (a resumed
//!    backfill: nothing new).
//! 2. Converging: on that store, what a commit costs when sources re-read items whole (complete
//!    histories the store converges on) against incremental events (inserted once). Figures, no
//!    targets: the common path (incremental, or a re-read whose history did not change) must stay
//!    close to a plain insert.
//! 3. Reading back: the raw event stream (`for_each_event`), the daemon's frame load (items and
//!    events into a `Frame`), and what the daemon does for rewritten items: read their events
//!    back (`for_each_event_of`). What replacing them costs the frame itself against appending new
//!    events does not depend on the backend; it is measured once, on the first backend's frame.
//!
//! Run: `cargo bench --bench store`. PostgreSQL is the server of `SILOSCOPE_BENCH_POSTGRES`, else
//! `SILOSCOPE_TEST_POSTGRES`, else postgres://postgres@127.0.0.1:5432/test; the bench works in a
//! schema of its own, analyzed after the ingest (as autovacuum would) and dropped at the end. `SILOSCOPE_BENCH_EVENTS=200k` changes the size (a `k` or
//! `m` suffix is allowed), `SILOSCOPE_BENCH_BACKENDS=sqlite` (or `postgres`) runs one backend.

use std::time::{Duration, Instant};

use siloscope::model::{Batch, DAY, Event, EventKind, HistoryStart, Item, ItemKind, ItemState, ReviewState, Ts};
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

/// Part 2: events per item, items per batch (a GitHub step reads 50 items whole), batches a row.
const PER_ITEM: usize = 20;
const ITEMS_PER_BATCH: usize = 50;
const BATCHES: usize = 40;
/// Times the rewritten items are read back (the median is printed).
const READ_BACK_ROUNDS: usize = 9;

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, mult) = match s.strip_suffix('m') {
        Some(d) => (d, 1_000_000.0),
        None => s.strip_suffix('k').map_or((s.as_str(), 1.0), |d| (d, 1_000.0)),
    };
    digits.parse::<f64>().ok().filter(|n| *n >= 1.0).map(|n| (n * mult) as usize)
}

// --- Part 1: the simulated history --------------------------------------------------------------

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
fn simulated_batches(target: usize) -> Vec<Batch> {
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

// --- Part 2: items read whole (GitHub-like) against incremental events -------------------------

fn key(item: usize) -> String {
    format!("github:acme/api#{item}")
}

fn item(n: usize) -> Item {
    Item {
        key: key(n),
        source: "gh".into(),
        kind: ItemKind::PullRequest,
        scope: "acme/api".into(),
        url: format!("https://github.com/acme/api/pull/{n}"),
        title: format!("change {n}"),
        author: Some("github:alice".into()),
        created_at: START,
        updated_at: START + n as Ts,
        state: ItemState::Open,
        issue_type: None,
    }
}

/// Item `n`'s history as read in `round`: from round 1 on, its first event is gone, its second has
/// a new state (an approval withdrawn), and one event is new.
fn history(n: usize, round: usize) -> Vec<Event> {
    let mut out = Vec::with_capacity(PER_ITEM + 1);
    for k in 0..PER_ITEM {
        if round > 0 && k == 0 {
            continue;
        }
        let kind = match k % 4 {
            0 => EventKind::Commented { mentions: vec!["acme/payments".into()] },
            1 if round > 0 => EventKind::Reviewed { state: ReviewState::Commented },
            1 => EventKind::Reviewed { state: ReviewState::Approved },
            2 => EventKind::Labeled { label: "bug".into() },
            _ => EventKind::Committed { co_authors: vec![] },
        };
        out.push(Event {
            id: format!("github:N_{n}_{k}"),
            item: key(n),
            at: START + (n * PER_ITEM + k) as Ts,
            actor: Some(format!("github:user{}", k % 7)),
            kind,
        });
    }
    if round > 0 {
        out.push(Event {
            id: format!("github:N_{n}_new{round}"),
            item: key(n),
            at: START + (n * PER_ITEM + PER_ITEM) as Ts,
            actor: Some("github:zoe".into()),
            kind: EventKind::Commented { mentions: vec![] },
        });
    }
    out
}

fn batch(first_item: usize, round: usize, complete: bool) -> Batch {
    let mut b = Batch { source: "gh".into(), cursor: Some(format!("{first_item}/{round}")), ..Batch::default() };
    for n in first_item..first_item + ITEMS_PER_BATCH {
        b.items.push(item(n));
        if complete {
            b.push_complete(&key(n), history(n, round));
        } else {
            b.events.extend(history(n, round));
        }
    }
    b
}

/// The first item of the `k`-th batch of part 2.
fn first(k: usize) -> usize {
    k * ITEMS_PER_BATCH
}

/// Median time of committing `batches`, per batch and per event of the batch; new events and
/// rewritten items summed over the batches.
fn time_commits(store: &mut dyn Store, batches: &[Batch]) -> (Duration, f64, usize, usize) {
    let mut times = Vec::with_capacity(batches.len());
    let (mut new, mut rewritten) = (0, 0);
    for b in batches {
        let started = Instant::now();
        let outcome = store.commit_batch(b).expect("commit");
        times.push(started.elapsed());
        new += outcome.new_events.len();
        rewritten += outcome.rewritten_items.len();
    }
    times.sort();
    let median = times[times.len() / 2];
    let events = batches[0].events.len().max(1);
    (median, median.as_secs_f64() * 1e6 / events as f64, new, rewritten)
}

// --- Running it ----------------------------------------------------------------------------------

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:>9.0} events/s ({:>6.2} s)", n as f64 / d.as_secs_f64(), d.as_secs_f64())
}

/// The three parts on `store`, one line per figure; the frame's own figures only if `frame_figures`.
/// `after_ingest` runs between parts 1 and 2 (PostgreSQL: what autovacuum would have done).
fn run(
    name: &str,
    store: &mut dyn Store,
    simulated: &[Batch],
    total: usize,
    after_ingest: &mut dyn FnMut(),
    frame_figures: bool,
) {
    println!("--- {name}");
    let mut slowest = Duration::ZERO;
    let (new, ingest) = time(|| {
        let mut new = 0;
        for batch in simulated {
            let (outcome, took) = time(|| store.commit_batch(batch).expect("committing a batch"));
            slowest = slowest.max(took);
            new += outcome.new_events.len();
        }
        new
    });
    assert_eq!(new, total, "every event is new on the first ingest");
    let largest = simulated.iter().map(|b| b.events.len()).max().unwrap_or(0);
    println!(
        "{name:<10} ingest    {}; slowest batch {:.3} s ({largest} events in the largest)",
        rate(total, ingest),
        slowest.as_secs_f64()
    );
    let (again, recommit) = time(|| {
        simulated.iter().map(|b| store.commit_batch(b).expect("re-committing a batch").new_events.len()).sum::<usize>()
    });
    assert_eq!(again, 0, "re-committing stores nothing twice");
    println!("{name:<10} re-commit {}", rate(total, recommit));

    after_ingest();
    // Part 2, on the store holding the simulated history. Warm the caches first.
    for k in 0..4 {
        store.commit_batch(&batch(first(10 * BATCHES + k), 0, false)).expect("warming up");
    }
    let rows = [
        ("incremental, new items", (0..BATCHES).map(|k| batch(first(k), 0, false)).collect::<Vec<_>>()),
        ("complete, new items", (BATCHES..2 * BATCHES).map(|k| batch(first(k), 0, true)).collect()),
        ("complete, re-read unchanged", (BATCHES..2 * BATCHES).map(|k| batch(first(k), 0, true)).collect()),
        ("complete, re-read rewritten", (BATCHES..2 * BATCHES).map(|k| batch(first(k), 1, true)).collect()),
        ("incremental, re-read (ignored)", (0..BATCHES).map(|k| batch(first(k), 0, false)).collect()),
    ];
    println!(
        "{name:<10} {:<34} {:>12} {:>14} {:>11} {:>10}",
        "commit of one batch", "median", "per event", "new events", "rewritten"
    );
    for (row, batches) in &rows {
        let (median, per_event, new, rewritten) = time_commits(store, batches);
        println!(
            "{name:<10} {row:<34} {:>9.2} ms {:>11.1} µs {:>11} {:>10}",
            median.as_secs_f64() * 1e3,
            per_event,
            new,
            rewritten
        );
    }

    // Part 3: reading back everything the store now holds.
    let stored = store.event_count().expect("counting events") as usize;
    let (read, stream) = time(|| {
        let mut n = 0usize;
        store.for_each_event(&mut |_| n += 1).expect("streaming events");
        n
    });
    assert_eq!(read, stored);
    println!("{name:<10} stream    {}", rate(stored, stream));
    let (mut frame, load) = time(|| {
        let mut frame = Frame::new();
        store
            .for_each_item(&mut |i| {
                frame.add_item(&i);
            })
            .expect("reading items");
        store.for_each_event(&mut |e| frame.add_event(&e)).expect("reading events");
        frame
    });
    assert_eq!(frame.events.len(), stored);
    println!("{name:<10} frame     {}", rate(stored, load));

    // The items part 2 rewrote (the first complete batch's), as the daemon reads them back.
    let mut rewritten: Vec<String> = (first(BATCHES)..first(BATCHES) + ITEMS_PER_BATCH).map(key).collect();
    rewritten.sort();
    let reader: &dyn Store = &*store;
    let read_rewritten = || {
        let mut by_item: Vec<(String, Vec<Event>)> = rewritten.iter().map(|k| (k.clone(), Vec::new())).collect();
        reader
            .for_each_event_of(&rewritten, &mut |e| {
                if let Ok(i) = rewritten.binary_search(&e.item) {
                    by_item[i].1.push(e);
                }
            })
            .expect("reading rewritten items");
        by_item
    };
    let mut times: Vec<Duration> = Vec::with_capacity(READ_BACK_ROUNDS);
    let mut read_back = Vec::new();
    for _ in 0..READ_BACK_ROUNDS {
        let (by_item, took) = time(read_rewritten);
        times.push(took);
        read_back = by_item;
    }
    times.sort();
    let took = times[times.len() / 2];
    let rows: usize = read_back.iter().map(|r| r.1.len()).sum();
    assert_eq!(rows, ITEMS_PER_BATCH * PER_ITEM, "each rewritten item holds its re-read history");
    println!(
        "{name:<10} {ITEMS_PER_BATCH} rewritten items read back ({rows} rows, for_each_event_of) {:>7.1} ms median",
        took.as_secs_f64() * 1e3
    );
    if !frame_figures {
        return;
    }

    // The frame, before a computation (`prepare` sorts): a batch's new events of new items, new
    // events of items it holds (today's common path too), and rewritten items replaced.
    frame.prepare();
    let timed = |frame: &mut Frame, f: &dyn Fn(&mut Frame)| {
        let started = Instant::now();
        f(frame);
        frame.prepare();
        started.elapsed().as_secs_f64() * 1e3
    };
    let new_items: Vec<Event> = (0..ITEMS_PER_BATCH).flat_map(|n| history(2_000_000 + n, 0)).collect();
    let append_new = timed(&mut frame, &|f| new_items.iter().for_each(|e| f.add_event(e)));
    let old_items: Vec<Event> = (first(BATCHES)..first(BATCHES) + ITEMS_PER_BATCH)
        .map(|n| Event { id: format!("late-{n}"), ..history(n, 3).pop().expect("a new event") })
        .collect();
    let append_old = timed(&mut frame, &|f| old_items.iter().for_each(|e| f.add_event(e)));
    let replace = timed(&mut frame, &|f| read_back.iter().for_each(|(k, events)| f.replace_item_events(k, events)));
    println!("frame of {} events (the same on every backend), then prepare():", frame.events.len());
    println!("  {} new events of {ITEMS_PER_BATCH} new items appended   {append_new:>7.1} ms", new_items.len());
    println!("  {} new events of {ITEMS_PER_BATCH} stored items appended   {append_old:>7.1} ms", old_items.len());
    println!("  {ITEMS_PER_BATCH} rewritten items replaced ({rows} rows)   {replace:>7.1} ms");
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
    let profile = if cfg!(debug_assertions) { "DEBUG (numbers meaningless)" } else { "release" };
    let (simulated, generate) = time(|| simulated_batches(target));
    let total: usize = simulated.iter().map(|b| b.events.len()).sum();
    println!(
        "siloscope store benchmark: {total} simulated events, {TEAMS} teams, {} batches (one day each), \
         generated in {:.1} s (not timed below); converging batches of {ITEMS_PER_BATCH} items × {PER_ITEM} \
         events; {profile} build; {} cores",
        simulated.len(),
        generate.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let mut frame_figures = true;
    if backends.contains("sqlite") {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut store = SqliteStore::open(&dir.path().join("bench.db")).expect("opening the SQLite store");
        run("sqlite", &mut store, &simulated, total, &mut || (), frame_figures);
        frame_figures = false;
    }
    if backends.contains("postgres") {
        let server = postgres_url();
        let schema = format!("siloscope_bench_{}", std::process::id());
        let mut admin = postgres::Client::connect(&server, postgres::NoTls)
            .unwrap_or_else(|err| panic!("PostgreSQL at {server} cannot be reached: {err:?}"));
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3D{schema}");
        let autovacuum: String = admin.query_one("SHOW autovacuum", &[]).map_or("unknown".into(), |row| row.get(0));
        println!("PostgreSQL {server} (autovacuum {autovacuum}; the bench analyzes the tables after the ingest)");
        {
            let mut store =
                PostgresStore::open(&PostgresConfig { url, password: None }).expect("opening the PostgreSQL store");
            // A fresh store has no statistics until autovacuum analyzes it (at once with its
            // defaults, never on a server that turns it off): without them the planner reads
            // every event to find a few items'.
            let mut analyze = || {
                admin.batch_execute(&format!("ANALYZE {schema}.events, {schema}.items")).expect("analyzing the tables")
            };
            run("postgres", &mut store, &simulated, total, &mut analyze, frame_figures);
        }
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
    }
}
