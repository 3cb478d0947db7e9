//! Report benchmark: how long `siloscope report` takes for a store of about 1M simulated events
//! over a quarter (50 teams, 90 days), from opening the SQLite store to the rendered HTML, Markdown
//! and JSON, split into its stages; the total (store → HTML) times opening the store, loading it,
//! analysing, building and rendering HTML, as `siloscope report --format html` does. The target
//! (5 s for 1M events) is printed beside the total.
//!
//! Run: `cargo bench --bench report`. `SILOSCOPE_BENCH_EVENTS=200k` and `SILOSCOPE_BENCH_TEAMS=8`
//! change the size (a `k` or `m` suffix is allowed). The work is single-threaded.

use std::time::{Duration, Instant};

use siloscope::config::Config;
use siloscope::model::{Batch, DAY, HistoryStart, Ts};
use siloscope::report::{self, Format, Period, ReportOptions};
use siloscope::signals::{Frame, analyze};
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

/// 2023-11-15T00:00:00Z: a fixed start, so every run sees the same history.
const START: Ts = 1_700_006_400;
const HISTORY_DAYS: i64 = 90;
const CALIBRATION_ITEMS_PER_DAY: f64 = 100.0;
const RATE_MARGIN: f64 = 1.03;
const TARGET_SECONDS: f64 = 5.0;
const RUNS: usize = 3;

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

fn main() {
    let target = std::env::var("SILOSCOPE_BENCH_EVENTS").ok().and_then(|s| parse_size(&s)).unwrap_or(1_000_000);
    let teams = std::env::var("SILOSCOPE_BENCH_TEAMS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("report-bench.db");
    let config =
        Config::parse(&format!("[store]\npath = {:?}\n", path.display().to_string()), &dir.path().join("bench.toml"))
            .expect("the bench config");

    println!("siloscope report benchmark: {target} events, {teams} teams, {HISTORY_DAYS} days of history");
    println!(
        "machine: {} cores available; single-threaded work",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let (stored, fill) = time(|| {
        let mut store = SqliteStore::open(&path).expect("opening the bench store");
        fill_store(&mut store, teams, target)
    });
    println!(
        "setup: {stored} events written to SQLite in {:.1} s (not part of the report's time)\n",
        fill.as_secs_f64()
    );

    // The quarter the events span, compared with the quarter before (empty), and the second half
    // of it compared with the first (both full), which exercises every comparison.
    let quarter = Period::span(START, START + HISTORY_DAYS * DAY);
    let half = HISTORY_DAYS / 2 * DAY;
    let second_half = Period::span(START + half, START + 2 * half);

    let mut best_total = Duration::MAX;
    for run in 1..=RUNS {
        // Timed as `siloscope report` runs: open the store, read the directory, the sources'
        // history starts and every event.
        let ((directory, history, frame), load) = time(|| {
            let store = SqliteStore::open(&path).expect("opening the bench store");
            let d = report::load_directory(&store, &config).expect("loading the directory");
            let h = store.history_starts().expect("reading the history starts");
            let f: Frame = report::load_frame(&store, &mut |_| {}).expect("loading the frame");
            (d, h, f)
        });
        let opts = ReportOptions {
            history: history.clone(),
            ..ReportOptions::new(quarter.clone(), START + HISTORY_DAYS * DAY)
        };
        let (analysis, analyze_time) = time(|| analyze(&frame, &directory, &config.signals, opts.period.last_second()));
        let (built, build_time) =
            time(|| report::build(&analysis, &frame, &directory, &config.signals, &opts).expect("the report"));
        let (html, html_time) = time(|| report::render(&built, Format::Html));
        let (md, md_time) = time(|| report::render(&built, Format::Markdown));
        let (json, json_time) = time(|| report::render(&built, Format::Json));
        let total = load + analyze_time + build_time + html_time;
        best_total = best_total.min(total);
        println!("run {run}: quarter {} ({} events in the period)", quarter.label, built.coverage.events_in_period);
        println!("  open + load → frame  {}  ({} events, {} items)", secs(load), frame.events.len(), frame.items.len());
        println!("  analyze (once)       {}", secs(analyze_time));
        println!(
            "  build report         {}  ({} trend buckets, {} pairs)",
            secs(build_time),
            built.trend.points.len(),
            built.pairs.len()
        );
        println!("  render HTML          {}  ({} KiB)", secs(html_time), html.len() / 1024);
        println!("  render Markdown      {}  ({} KiB)", secs(md_time), md.len() / 1024);
        println!("  render JSON          {}  ({} KiB)", secs(json_time), json.len() / 1024);
        println!("  total (store → HTML) {}", secs(total));
        if run == 1 {
            let opts = ReportOptions {
                history: history.clone(),
                ..ReportOptions::new(second_half.clone(), START + HISTORY_DAYS * DAY)
            };
            let (built, compare) = time(|| {
                let a = analyze(&frame, &directory, &config.signals, opts.period.last_second());
                let r = report::build(&a, &frame, &directory, &config.signals, &opts).expect("the report");
                let _ = report::render(&r, Format::Html);
                r
            });
            println!(
                "  with a full previous period ({} vs {}: {} and {} events): analyze + build + HTML {}",
                second_half.label,
                built.previous_period.label,
                built.coverage.events_in_period,
                built.coverage.events_in_previous_period,
                secs(compare)
            );
        }
    }
    let verdict = if best_total.as_secs_f64() < TARGET_SECONDS { "meets" } else { "MISSES" };
    println!(
        "\nbest total for {stored} events, store → HTML: {:.2} s ({verdict} the {TARGET_SECONDS} s target)",
        best_total.as_secs_f64()
    );
}
