//! Export benchmark: `siloscope export --facts handoffs` of a SQLite store of about 10M simulated
//! events (50 teams, 90 days): open + load, analyse, build the handoffs table, write Parquet, CSV and
//! NDJSON, with the peak resident memory (VmHWM) of the export alone (reset after the store is
//! filled, through /proc/self/clear_refs).
//!
//! Run: `cargo bench --bench export`. `SILOSCOPE_BENCH_EVENTS=1m` and `SILOSCOPE_BENCH_TEAMS=8`
//! change the size (a `k` or `m` suffix is allowed).

use std::time::{Duration, Instant};

use siloscope::config::Config;
use siloscope::export::{ExportOptions, FactKind, Format, TimeRange};
use siloscope::model::{Batch, DAY, HistoryStart, Ts};
use siloscope::report;
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

/// 2023-11-15T00:00:00Z: a fixed start, so every run sees the same history.
const START: Ts = 1_700_006_400;
const HISTORY_DAYS: i64 = 90;
const CALIBRATION_ITEMS_PER_DAY: f64 = 100.0;
const RATE_MARGIN: f64 = 1.03;

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

fn simulator(teams: u32, items_per_day: f64) -> Simulator {
    Simulator::new(
        "sim",
        SimulatorConfig {
            teams,
            items_per_day,
            start: Some(START),
            history_days: HISTORY_DAYS as u32,
            ..SimulatorConfig::default()
        },
    )
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn secs(d: Duration) -> String {
    format!("{:>7.3} s", d.as_secs_f64())
}

/// Writes `target` events (the simulator's first events of the history) into a SQLite store,
/// one day a batch, as `sync` would. Returns the number of events stored.
fn fill_store(store: &mut SqliteStore, teams: u32, target: usize) -> usize {
    let calibration: usize = {
        let mut sim = simulator(teams, CALIBRATION_ITEMS_PER_DAY);
        (0..HISTORY_DAYS).map(|d| sim.generate(START, START + d * DAY, START + (d + 1) * DAY).1.len()).sum()
    };
    let items_per_day = CALIBRATION_ITEMS_PER_DAY * target as f64 / calibration.max(1) as f64 * RATE_MARGIN;
    let mut sim = simulator(teams, items_per_day);
    let mut stored = 0;
    for d in 0..HISTORY_DAYS {
        let (items, mut events) = sim.generate(START, START + d * DAY, START + (d + 1) * DAY);
        events.truncate(target - stored);
        stored += events.len();
        let batch = Batch {
            source: "sim".into(),
            items,
            events,
            directory: (d == 0).then(|| sim.directory(START)),
            cursor: Some(format!("{d}")),
            history_start: (d == 0).then_some(HistoryStart::From(START)),
            ..Batch::default()
        };
        store.commit_batch(&batch).expect("committing a batch");
        if stored >= target {
            break;
        }
    }
    stored
}

/// Peak resident memory since the last reset, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let target = std::env::var("SILOSCOPE_BENCH_EVENTS").ok().and_then(|s| parse_size(&s)).unwrap_or(10_000_000);
    let teams = std::env::var("SILOSCOPE_BENCH_TEAMS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("export-bench.db");
    let config =
        Config::parse(&format!("[store]\npath = {:?}\n", path.display().to_string()), &dir.path().join("bench.toml"))
            .expect("the bench config");
    println!("siloscope export benchmark: {target} events, {teams} teams, {HISTORY_DAYS} days of history");
    let (stored, fill) = time(|| {
        let mut store = SqliteStore::open(&path).expect("opening the bench store");
        fill_store(&mut store, teams, target)
    });
    println!("setup: {stored} events written to SQLite in {:.1} s (not timed)\n", fill.as_secs_f64());

    reset_peak_rss();
    let base = peak_rss_mib();
    let ((directory, frame), load) = time(|| {
        let store = SqliteStore::open(&path).expect("opening the bench store");
        let d = report::load_directory(&store, &config).expect("loading the directory");
        let f = report::load_frame(&store, &mut |_| {}).expect("loading the frame");
        (d, f)
    });
    let as_of = START + HISTORY_DAYS * DAY;
    let opts = ExportOptions { kind: FactKind::Handoffs, range: TimeRange::ALL, as_of, name_people: false };
    let (df, table) = time(|| siloscope::export::table(&frame, &directory, &config.signals, &opts).expect("the table"));
    println!("  open + load → frame    {}  ({} events)", secs(load), frame.events.len());
    println!("  analyse + handoffs table {}  ({} rows, {} columns)", secs(table), df.height(), df.width());
    let mut total_parquet = load + table;
    for format in Format::ALL {
        let out = dir.path().join(format!("handoffs.{}", format.as_str()));
        let mut df = df.clone();
        let (rows, write) =
            time(|| siloscope::export::write_new(&mut df, format, &out, &mut |_| {}).expect("writing the export"));
        let size = std::fs::metadata(&out).map_or(0, |m| m.len());
        println!(
            "  write {:<8}         {}  ({rows} rows, {:.1} MiB)",
            format.as_str(),
            secs(write),
            size as f64 / 1048576.0
        );
        if format == Format::Parquet {
            total_parquet += write;
        }
    }
    println!(
        "\ntotal (store → Parquet) {:.2} s; peak RSS of the export {:.0} MiB (process before it: {:.0} MiB)",
        total_parquet.as_secs_f64(),
        peak_rss_mib(),
        base
    );
    let _: Duration = total_parquet;
}
