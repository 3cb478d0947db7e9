//! Replicas benchmark: N simulated events (default 10M) written to PostgreSQL as replicas write
//! them, next to SQLite on the same data. The simulated organisation is split into six units (a
//! simulator source each, as tests/replicas.rs splits it), synced one day a step. Figures:
//! 1. Ingest: every unit's steps committed under its lease (`commit_leased`, the daemon's commit)
//!    by one replica holding all six, then on a fresh schema by three replicas (threads with a
//!    connection each) holding two units each and committing at once; SQLite has one writer.
//! 2. A new leader: a fresh process (this binary again) loads the frame from the store as the
//!    daemon does (`load_all`: items, then events, one snapshot), then recomputes (sort, analyze,
//!    aggregate at the end of the history); its peak resident memory (VmHWM) is the leader's. Both
//!    backends must yield the same `/metrics` text of the signals (checked).
//!
//! Run: `cargo bench --bench replicas` (10M events), `cargo bench --bench replicas -- 100k` or
//! `SILOSCOPE_BENCH_EVENTS=1m` (a `k` or `m` suffix). PostgreSQL is the server of
//! `SILOSCOPE_BENCH_POSTGRES`, else `SILOSCOPE_TEST_POSTGRES`, else
//! postgres://postgres@127.0.0.1:5432/test; each ingest gets a schema of its own, dropped at the
//! end. The generated steps are held in memory before any timing (about 2.5 GB at 10M). Linux
//! only (procfs).

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use siloscope::exporter::{Exporter, Snapshot};
use siloscope::model::{Batch, DAY, HistoryStart, Ts};
use siloscope::signals::{self, Frame, SignalsConfig};
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::store::postgres::{PostgresConfig, PostgresStore};
use siloscope::store::{Lease, SqliteStore, Store, source_unit};
use siloscope::teams::DirectoryBuilder;

/// 2023-11-15T00:00:00Z: a fixed start, so every run sees the same history.
const START: Ts = 1_700_006_400;
const HISTORY_DAYS: i64 = 90;
/// The end of the history: the steps' `now` and the recompute's.
const END: Ts = START + HISTORY_DAYS * DAY;
const UNITS: usize = 6;
const TEAMS_PER_UNIT: u32 = 8;
const REPLICAS: usize = 3;
const CALIBRATION_ITEMS_PER_DAY: f64 = 100.0;
const RATE_MARGIN: f64 = 1.03;
const DEFAULT_EVENTS: usize = 10_000_000;
/// Long enough that no lease needs renewing during the bench (the daemon renews every second on
/// a connection of its own, which costs the writers nothing).
const LEASE: Duration = Duration::from_secs(24 * 3600);
/// Set in the child process: the store the new leader loads (`sqlite:PATH` or `postgres:URL`).
const LEADER_ENV: &str = "SILOSCOPE_BENCH_LEADER";

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, mult) = match s.strip_suffix('m') {
        Some(d) => (d, 1_000_000.0),
        None => s.strip_suffix('k').map_or((s.as_str(), 1.0), |d| (d, 1_000.0)),
    };
    digits.parse::<f64>().ok().filter(|n| *n >= 1.0).map(|n| (n * mult) as usize)
}

/// The size from the command line (cargo's own `--bench` ignored), else the env var, else 10M.
fn target_events() -> usize {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let word = arg.or_else(|| std::env::var("SILOSCOPE_BENCH_EVENTS").ok());
    match word {
        None => DEFAULT_EVENTS,
        Some(w) => parse_size(&w).unwrap_or_else(|| {
            eprintln!("replicas bench: size {w:?} is not a count like 100k, 1m or 250000");
            std::process::exit(2)
        }),
    }
}

// --- The simulated organisation, split into units ----------------------------------------------

fn unit_name(u: usize) -> String {
    format!("sim-{u}")
}

fn simulator(u: usize, items_per_day: f64) -> Simulator {
    Simulator::new(
        &unit_name(u),
        SimulatorConfig {
            seed: 100 + u as u64,
            teams: TEAMS_PER_UNIT,
            items_per_day,
            start: Some(START),
            history_days: HISTORY_DAYS as u32,
            ..SimulatorConfig::default()
        },
    )
}

/// Unit `u`'s sync steps up to END (one day each, as the source yields them), the events
/// truncated at `target`: generated before any timing, so only the stores are timed.
fn unit_steps(u: usize, items_per_day: f64, target: usize) -> Vec<Batch> {
    let mut sim = simulator(u, items_per_day);
    let (mut cursor, mut out, mut generated) = (None::<String>, Vec::new(), 0);
    loop {
        let step = sim.sync_step(cursor.as_deref(), END).expect("a simulated step");
        let mut batch = step.batch;
        batch.events.truncate(target - generated);
        generated += batch.events.len();
        if out.is_empty() {
            batch.history_start = Some(HistoryStart::From(START));
        }
        cursor = batch.cursor.clone();
        out.push(batch);
        if step.caught_up || generated >= target {
            return out;
        }
    }
}

/// Every unit's steps (`units[u][day]`), about `target` events in all.
fn simulated(target: usize) -> Vec<Vec<Batch>> {
    let calibration: usize = unit_steps(0, CALIBRATION_ITEMS_PER_DAY, usize::MAX).iter().map(|b| b.events.len()).sum();
    let per_unit = target / UNITS;
    let items_per_day = CALIBRATION_ITEMS_PER_DAY * per_unit as f64 / calibration.max(1) as f64 * RATE_MARGIN;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..UNITS)
            .map(|u| s.spawn(move || unit_steps(u, items_per_day, per_unit + usize::from(u == 0) * (target % UNITS))))
            .collect();
        handles.into_iter().map(|h| h.join().expect("generating a unit")).collect()
    })
}

/// The steps of `units` in the order one replica syncing them all commits them: day by day,
/// each unit's step of the day in turn (the daemon syncs its sources side by side).
fn day_major<'a>(all: &'a [Vec<Batch>], units: &[usize]) -> Vec<&'a Batch> {
    let days = units.iter().map(|&u| all[u].len()).max().unwrap_or(0);
    (0..days).flat_map(|d| units.iter().filter_map(move |&u| all[u].get(d))).collect()
}

// --- Writers -----------------------------------------------------------------------------------

/// Commits `steps` as a replica does (under the unit's lease when `leases` has one), the events
/// new in all and the slowest commit.
fn commit_all(store: &mut dyn Store, steps: &[&Batch], leases: &[Lease]) -> (usize, Duration) {
    let (mut new, mut slowest) = (0, Duration::ZERO);
    for batch in steps {
        let unit = source_unit(&batch.source);
        let lease = leases.iter().find(|l| l.unit == unit);
        let started = Instant::now();
        let committed = store.commit_leased(batch, lease).expect("committing a step");
        slowest = slowest.max(started.elapsed());
        new += committed.outcome.new_events.len();
    }
    (new, slowest)
}

fn hold(store: &mut dyn Store, replica: &str, units: &[usize]) -> Vec<Lease> {
    units
        .iter()
        .map(|&u| {
            store
                .acquire_lease(&source_unit(&unit_name(u)), replica, LEASE)
                .expect("asking for a lease")
                .expect("a free unit's lease is granted")
        })
        .collect()
}

struct Ingest {
    seconds: f64,
    slowest: Duration,
}

impl Ingest {
    fn rate(&self, events: usize) -> f64 {
        events as f64 / self.seconds
    }
}

fn postgres_url() -> String {
    ["SILOSCOPE_BENCH_POSTGRES", "SILOSCOPE_TEST_POSTGRES"]
        .iter()
        .find_map(|var| std::env::var(var).ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own on the server, dropped when this goes.
struct Schema {
    name: String,
    url: String,
    admin: postgres::Client,
}

impl Schema {
    fn new(server: &str, tag: &str) -> Schema {
        let name = format!("siloscope_bench_replicas_{tag}_{}", std::process::id());
        let mut admin = postgres::Client::connect(server, postgres::NoTls)
            .unwrap_or_else(|err| panic!("PostgreSQL at {server} cannot be reached: {err:?}"));
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).unwrap();
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3D{name}");
        Schema { name, url, admin }
    }

    fn open(&self) -> PostgresStore {
        PostgresStore::open(&PostgresConfig { url: self.url.clone(), password: None }).expect("opening the store")
    }

    /// Tables, indexes and TOAST of the schema.
    fn bytes(&mut self) -> u64 {
        let row = self
            .admin
            .query_one(
                "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
                &[&self.name],
            )
            .expect("the schema's size");
        row.get::<_, i64>(0) as u64
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
    }
}

/// One replica holding every unit, committing them day by day.
fn ingest_one(store: &mut dyn Store, all: &[Vec<Batch>], total: usize) -> Ingest {
    let units: Vec<usize> = (0..UNITS).collect();
    let leases = hold(store, "replica-1", &units);
    let steps = day_major(all, &units);
    let started = Instant::now();
    let (new, slowest) = commit_all(store, &steps, &leases);
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(new, total, "every event is new on the first ingest");
    Ingest { seconds, slowest }
}

/// REPLICAS replicas, a connection each, holding UNITS / REPLICAS units each and committing at
/// once (timed from when all are ready to when the last is done). The per-replica seconds too.
fn ingest_replicas(schema: &Schema, all: &[Vec<Batch>], total: usize) -> (Ingest, Vec<f64>) {
    // The first open migrates the schema; the others find it done.
    let mut stores: Vec<PostgresStore> = (0..REPLICAS).map(|_| schema.open()).collect();
    let ready = Barrier::new(REPLICAS + 1);
    let (results, seconds) = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter_mut()
            .enumerate()
            .map(|(r, store)| {
                let ready = &ready;
                s.spawn(move || {
                    let units: Vec<usize> = (r..UNITS).step_by(REPLICAS).collect();
                    let leases = hold(store, &format!("replica-{}", r + 1), &units);
                    let steps = day_major(all, &units);
                    ready.wait();
                    let started = Instant::now();
                    let (new, slowest) = commit_all(store, &steps, &leases);
                    (new, slowest, started.elapsed().as_secs_f64())
                })
            })
            .collect();
        ready.wait();
        let started = Instant::now();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().expect("a replica")).collect();
        (results, started.elapsed().as_secs_f64())
    });
    let new: usize = results.iter().map(|r| r.0).sum();
    assert_eq!(new, total, "every event is new on the first ingest, and stored once");
    let slowest = results.iter().map(|r| r.1).max().unwrap_or_default();
    (Ingest { seconds, slowest }, results.iter().map(|r| r.2).collect())
}

// --- A new leader (the child process) ------------------------------------------------------------

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// What the new leader measured, as its one line of output says it.
#[derive(Debug)]
struct Leader {
    events: usize,
    load: f64,
    recompute: f64,
    rss_start_kib: u64,
    rss_loaded_kib: u64,
    peak_kib: u64,
    signals_digest: u64,
    series: usize,
}

/// The child: loads the store as a new leader does, computes once, prints its figures.
fn run_leader(spec: &str) {
    let store: Box<dyn Store> = match spec.split_once(':') {
        Some(("sqlite", path)) => Box::new(SqliteStore::open(std::path::Path::new(path)).expect("opening SQLite")),
        Some(("postgres", url)) => Box::new(
            PostgresStore::open(&PostgresConfig { url: url.into(), password: None }).expect("opening PostgreSQL"),
        ),
        _ => panic!("{LEADER_ENV}={spec:?} is not sqlite:PATH or postgres:URL"),
    };
    let rss_start_kib = status_kib("VmRSS:");
    // As the daemon's `load_frame`: items first, then events, into the one frame.
    let started = Instant::now();
    let frame = RefCell::new(Frame::new());
    store
        .load_all(
            &mut |i| {
                frame.borrow_mut().add_item(&i);
            },
            &mut |e| frame.borrow_mut().add_event(&e),
        )
        .expect("loading the store");
    let mut frame = frame.into_inner();
    let load = started.elapsed().as_secs_f64();
    let rss_loaded_kib = status_kib("VmRSS:");
    // As `rebuild_directory` (no directory in the config): every source's stored snapshot.
    let mut builder = DirectoryBuilder::new();
    for (_, snapshot) in store.directory_snapshots().expect("reading the directories") {
        builder.snapshot(&snapshot);
    }
    let dir = builder.build();
    let cfg = SignalsConfig::default();
    let started = Instant::now();
    frame.prepare();
    let (analysis, signals) = signals::compute(&frame, &dir, &cfg, END);
    let recompute = started.elapsed().as_secs_f64();
    let peak_kib = status_kib("VmHWM:");
    drop(analysis);
    let exporter = Exporter::new();
    exporter.publish(Snapshot { signals, events_stored: frame.events.len() as u64, ..Snapshot::default() });
    let text = exporter.render();
    // Sorted: label sets come out of hash maps in each process's own order.
    let mut signal_lines: Vec<&str> =
        text.lines().filter(|l| l.starts_with("siloscope_") && !l.contains("build_info")).collect();
    signal_lines.sort_unstable();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    signal_lines.hash(&mut hasher);
    println!(
        "leader {} {load} {recompute} {rss_start_kib} {rss_loaded_kib} {peak_kib} {} {}",
        frame.events.len(),
        hasher.finish(),
        signal_lines.len()
    );
}

/// Starts this binary as a new leader of `spec` and reads its figures.
fn new_leader(spec: &str) -> Leader {
    let out = Command::new(std::env::current_exe().expect("this binary"))
        .env(LEADER_ENV, spec)
        .output()
        .expect("starting the leader process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("leader ")).unwrap_or_else(|| {
        panic!("the leader process said nothing ({}): {}", out.status, String::from_utf8_lossy(&out.stderr))
    });
    let f: Vec<&str> = line.split_whitespace().collect();
    Leader {
        events: f[0].parse().unwrap(),
        load: f[1].parse().unwrap(),
        recompute: f[2].parse().unwrap(),
        rss_start_kib: f[3].parse().unwrap(),
        rss_loaded_kib: f[4].parse().unwrap(),
        peak_kib: f[5].parse().unwrap(),
        signals_digest: f[6].parse().unwrap(),
        series: f[7].parse().unwrap(),
    }
}

// --- Running it ----------------------------------------------------------------------------------

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn file_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn main() {
    if let Ok(spec) = std::env::var(LEADER_ENV) {
        run_leader(&spec);
        return;
    }
    let target = target_events();
    let profile = if cfg!(debug_assertions) { "DEBUG (numbers meaningless)" } else { "release" };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let all = simulated(target);
    let total: usize = all.iter().flatten().map(|b| b.events.len()).sum();
    let steps: usize = all.iter().map(Vec::len).sum();
    println!(
        "siloscope replicas benchmark: {total} simulated events in {UNITS} units ({TEAMS_PER_UNIT} teams each, \
         {steps} one-day steps, largest {} events), generated in {:.1} s (not timed); {profile} build; {cores} cores; \
         generator resident {:.0} MiB",
        all.iter().flatten().map(|b| b.events.len()).max().unwrap_or(0),
        started.elapsed().as_secs_f64(),
        mib(status_kib("VmRSS:"))
    );

    // SQLite: one writer.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("bench.db");
    let sqlite = {
        let mut store = SqliteStore::open(&path).expect("opening the SQLite store");
        ingest_one(&mut store, &all, total)
    };
    println!("sqlite     ingest, 1 writer    {:>9.0} events/s ({:.1} s)", sqlite.rate(total), sqlite.seconds);
    let sqlite_bytes = file_bytes(dir.path());
    let sqlite_leader = new_leader(&format!("sqlite:{}", path.display()));
    println!("sqlite     new leader          {sqlite_leader:?}");
    assert_eq!(sqlite_leader.events, total);

    // PostgreSQL: one replica, then three, each on a fresh schema.
    let server = postgres_url();
    let (pg_one, pg_one_bytes) = {
        let mut schema = Schema::new(&server, "one");
        let mut store = schema.open();
        let ingest = ingest_one(&mut store, &all, total);
        assert_eq!(store.event_count().unwrap() as usize, total);
        (ingest, schema.bytes())
    };
    println!("postgres   ingest, 1 replica   {:>9.0} events/s ({:.1} s)", pg_one.rate(total), pg_one.seconds);
    let mut schema = Schema::new(&server, "three");
    let (pg_three, per_replica) = ingest_replicas(&schema, &all, total);
    println!(
        "postgres   ingest, {REPLICAS} replicas  {:>9.0} events/s ({:.1} s; each replica's own: {})",
        pg_three.rate(total),
        pg_three.seconds,
        per_replica.iter().map(|s| format!("{s:.1} s")).collect::<Vec<_>>().join(", ")
    );
    drop(all);
    let pg_bytes = schema.bytes();
    let pg_leader = new_leader(&format!("postgres:{}", schema.url));
    println!("postgres   new leader          {pg_leader:?}");
    assert_eq!(pg_leader.events, total);
    assert_eq!(
        (pg_leader.signals_digest, pg_leader.series),
        (sqlite_leader.signals_digest, sqlite_leader.series),
        "both stores yield the same signals"
    );
    drop(schema);

    let per_event = |kib: u64| kib as f64 * 1024.0 / total as f64;
    let rate = |i: &Ingest| format!("{:.0} ev/s ({:.1} s)", i.rate(total), i.seconds);
    let size = |bytes: u64| format!("{:.0} MiB", bytes as f64 / 1048576.0);
    let leader = |l: &Leader| {
        [
            format!("{:.2} s ({:.0} ev/s)", l.load, total as f64 / l.load),
            format!("{:.2} s ({:.2} M ev/s)", l.recompute, total as f64 / l.recompute / 1e6),
            format!("{:.0} MiB ({:.0} B/event)", mib(l.peak_kib), per_event(l.peak_kib)),
            format!("{:.0} MiB (from {:.0} MiB)", mib(l.rss_loaded_kib), mib(l.rss_start_kib)),
        ]
    };
    let mut rows: Vec<(String, String, String)> = vec![
        ("ingest, 1 replica".into(), rate(&sqlite), rate(&pg_one)),
        (
            format!("ingest, {REPLICAS} replicas at once"),
            "- (one writing process)".into(),
            format!("{} = {:.2}x", rate(&pg_three), pg_three.rate(total) / pg_one.rate(total)),
        ),
        (
            "slowest commit (1 / 3 replicas)".into(),
            format!("{:.2} s", sqlite.slowest.as_secs_f64()),
            format!("{:.2} s / {:.2} s", pg_one.slowest.as_secs_f64(), pg_three.slowest.as_secs_f64()),
        ),
        (
            "store size (1 / 3 replicas)".into(),
            size(sqlite_bytes),
            format!("{} / {}", size(pg_one_bytes), size(pg_bytes)),
        ),
    ];
    let names = [
        "frame load (new leader)",
        "recompute (sort, analyze, aggregate)",
        "peak RSS of the new leader",
        "RSS after the load",
    ];
    for ((name, a), b) in names.iter().zip(leader(&sqlite_leader)).zip(leader(&pg_leader)) {
        rows.push((name.to_string(), a, b));
    }
    println!();
    println!(
        "{total} events, {UNITS} units, {cores} cores, {profile}; same signals on both stores ({} series)",
        pg_leader.series
    );
    println!("{:<38} {:<30} {:<30}", "", "SQLite", "PostgreSQL");
    for (name, a, b) in rows {
        println!("{name:<38} {a:<30} {b:<30}");
    }
}
