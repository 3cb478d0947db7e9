//! Engine benchmark: how fast a full recompute of the signals is, how much memory it needs on top
//! of the event frame, and how long a `/metrics` render of the result takes, for 100k, 1M and 10M
//! simulated events (50 teams, ~90 days of history). Targets are printed beside the figures.
//!
//! Run: `cargo bench --bench engine` (all sizes), `cargo bench --bench engine -- 100k 1m`, or
//! `SILOSCOPE_BENCH_SIZES=100k,1m cargo bench --bench engine`. Sizes take a `k` or `m` suffix.
//! The engine is single-threaded, so every figure is one core's; the machine context is printed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use siloscope::exporter::{Exporter, Snapshot};
use siloscope::model::{DAY, Ts};
use siloscope::signals::{self, Analysis, Frame, Signals, SignalsConfig};
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::teams::{Directory, DirectoryBuilder, PersonId, TeamId};

// ---------------------------------------------------------------------------------------------
// Heap accounting: a counting allocator over the system one, tracking live and peak bytes.
// ---------------------------------------------------------------------------------------------

struct CountingAlloc;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE_BYTES.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Count the new block before releasing the old one: a moving realloc holds both.
            grew(new_size);
            shrank(layout.size());
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn live_bytes() -> usize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// Starts a new peak measurement from the current live bytes.
fn reset_peak() -> usize {
    let live = live_bytes();
    PEAK_BYTES.store(live, Ordering::Relaxed);
    live
}

fn peak_bytes() -> usize {
    PEAK_BYTES.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Setup: the simulated organisation and the event frame.
// ---------------------------------------------------------------------------------------------

/// 2023-11-15T00:00:00Z: a fixed start, so every run sees the same history.
const START: Ts = 1_700_006_400;
const TEAMS: u32 = 50;
const HISTORY_DAYS: u32 = 90;
/// Items per day of the calibration run, which measures events per item-per-day over the history.
const CALIBRATION_ITEMS_PER_DAY: f64 = 100.0;
/// Generate a little more than needed so the target is reached within the history.
const RATE_MARGIN: f64 = 1.03;

const TARGET_EVENTS_PER_SEC: f64 = 1_000_000.0;
const TARGET_BYTES_PER_EVENT: f64 = 300.0;
const TARGET_RENDER_MS: f64 = 10.0;
const RENDERS: usize = 50;

fn simulator(items_per_day: f64) -> Simulator {
    Simulator::new(
        "sim",
        SimulatorConfig {
            teams: TEAMS,
            items_per_day,
            start: Some(START),
            history_days: HISTORY_DAYS,
            ..SimulatorConfig::default()
        },
    )
}

/// Events the simulator yields over the whole history at the calibration rate.
fn calibrate() -> usize {
    let mut sim = simulator(CALIBRATION_ITEMS_PER_DAY);
    (0..HISTORY_DAYS as Ts).map(|d| sim.generate(START, START + d * DAY, START + (d + 1) * DAY).1.len()).sum()
}

/// The item rate that reaches `target` events over the history, given the calibration count.
fn items_per_day_for(target: usize, calibration_events: usize) -> f64 {
    CALIBRATION_ITEMS_PER_DAY * target as f64 / calibration_events.max(1) as f64 * RATE_MARGIN
}

fn directory(items_per_day: f64) -> Directory {
    let mut builder = DirectoryBuilder::new();
    builder.snapshot(&simulator(items_per_day).directory(START));
    builder.build()
}

/// The frame as the daemon holds it, and when its history ends.
struct Built {
    frame: Frame,
    now: Ts,
    days: u32,
}

/// Feeds one-day chunks into a frame until `target` events are in (the last chunk truncated),
/// dropping each chunk after use so only the frame stays resident, as in the daemon.
fn build_frame(target: usize, items_per_day: f64) -> Built {
    let mut sim = simulator(items_per_day);
    let mut frame = Frame::new();
    let mut added = 0usize;
    let mut day: Ts = 0;
    while added < target {
        let (from, to) = (START + day * DAY, START + (day + 1) * DAY);
        let (items, events) = sim.generate(START, from, to);
        for item in &items {
            frame.add_item(item);
        }
        for event in events.iter().take(target - added) {
            frame.add_event(event);
        }
        added += events.len().min(target - added);
        day += 1;
        // A history that stops growing (items_per_day of 0) would loop forever.
        assert!(day < 100 * HISTORY_DAYS as Ts, "the simulator stopped producing events at {added}");
    }
    Built { frame, now: START + day * DAY, days: day as u32 }
}

// ---------------------------------------------------------------------------------------------
// Measurements.
// ---------------------------------------------------------------------------------------------

/// Everything printed for one size.
struct Measured {
    events: usize,
    items: usize,
    days: u32,
    items_per_day: f64,
    build: Duration,
    prepare: Duration,
    frame_bytes: usize,
    frame_own_bytes: usize,
    recompute: Duration,
    recompute_cpu: Option<Duration>,
    /// Event rows held and allocated (the vector grows by doubling).
    event_rows: (usize, usize),
    runs: usize,
    compute_extra_bytes: usize,
    analyze: Duration,
    aggregate: Duration,
    analysis: Vec<(&'static str, usize, usize)>,
    render: Duration,
    series: usize,
    render_bytes: usize,
    families: Vec<(String, usize)>,
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// On-CPU time of this thread so far (Linux `schedstat`), to tell engine cost from contention on
/// a shared machine; None where unavailable.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// The fastest of `runs` full recomputes (wall and on-CPU time of that run), its signals, and
/// the largest heap growth seen during any run.
struct Recompute {
    signals: Signals,
    wall: Duration,
    cpu: Option<Duration>,
    extra_bytes: usize,
}

fn recompute(frame: &Frame, dir: &Directory, cfg: &SignalsConfig, now: Ts, runs: usize) -> Recompute {
    let mut best: Option<Recompute> = None;
    let mut extra_bytes = 0;
    for _ in 0..runs {
        let before = reset_peak();
        let cpu_before = thread_cpu_time();
        let ((_, signals), wall) = time(|| signals::compute(frame, dir, cfg, now));
        let cpu = cpu_before.zip(thread_cpu_time()).map(|(a, b)| b - a);
        extra_bytes = extra_bytes.max(peak_bytes() - before);
        if best.as_ref().is_none_or(|b| wall < b.wall) {
            best = Some(Recompute { signals, wall, cpu, extra_bytes: 0 });
        }
    }
    let best = best.expect("at least one run");
    Recompute { extra_bytes, ..best }
}

/// Heap bytes of the analysis' record vectors (capacity × record size), largest first.
fn analysis_footprint(a: &Analysis) -> Vec<(&'static str, usize, usize)> {
    fn vec<T>(name: &'static str, v: &Vec<T>) -> (&'static str, usize, usize) {
        (name, v.len(), v.capacity() * size_of::<T>())
    }
    let joint_teams: usize = a.joint_wins.iter().map(|w| w.teams.capacity() * size_of::<TeamId>()).sum();
    let activity_days: usize = a.activity.values().map(|d| d.capacity() * size_of::<(Ts, Ts)>()).sum();
    // hashbrown stores one control byte per bucket besides the entry.
    let activity_table = a.activity.capacity() * (size_of::<((PersonId, TeamId), Vec<(Ts, Ts)>)>() + 1);
    let mut rows = vec![
        vec("handoffs", &a.handoffs),
        vec("bounces", &a.bounces),
        vec("tossing", &a.tossing),
        vec("decisions", &a.decisions),
        vec("rework", &a.rework),
        vec("reviews", &a.reviews),
        vec("pickups", &a.pickups),
        vec("engagements", &a.engagements),
        vec("first_responses", &a.first_responses),
        {
            let (name, len, bytes) = vec("joint_wins (+ team lists)", &a.joint_wins);
            (name, len, bytes + joint_teams)
        },
        vec("interactions", &a.interactions),
        ("activity (person,team)->days", a.activity.len(), activity_table + activity_days),
    ];
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));
    rows
}

/// Median time of rendering `/metrics` with the signals published, the series lines and bytes,
/// and the series lines per family.
fn render(signals: Signals, events: usize) -> (Duration, usize, usize, Vec<(String, usize)>) {
    let telemetry = siloscope::sources::telemetry::SourceTelemetry::default();
    let mut exporter = Exporter::new();
    let directory_coverage = siloscope::exporter::DirectoryCoverage::default();
    let connections = siloscope::connections::ConnectionMetrics::default();
    // As the daemon registers them (src/daemon.rs `State::new`): the same families, in order.
    exporter.register(|r| telemetry.register(r));
    exporter.register(|r| directory_coverage.register(r));
    exporter.register(|r| connections.register(r));
    telemetry.register_source("sim");
    exporter.publish(Snapshot { signals, events_stored: events as u64, ..Snapshot::default() });
    let mut times = Vec::with_capacity(RENDERS);
    let mut text = String::new();
    for _ in 0..RENDERS {
        let (out, took) = time(|| exporter.render());
        times.push(took);
        text = out;
    }
    times.sort();
    let series = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count();
    (times[RENDERS / 2], series, text.len(), series_by_family(&text))
}

/// Series lines per metric family (histogram buckets, sums and counts count for their family),
/// most first: where the bytes of a scrape go.
fn series_by_family(text: &str) -> Vec<(String, usize)> {
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap_or(line);
        let family = ["_bucket", "_sum", "_count", "_total", "_created"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        *counts.entry(family).or_default() += 1;
    }
    let mut rows: Vec<(String, usize)> = counts.into_iter().map(|(f, n)| (f.to_string(), n)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

fn measure(target: usize, calibration_events: usize) -> Measured {
    let items_per_day = items_per_day_for(target, calibration_events);
    let dir = directory(items_per_day);
    let cfg = SignalsConfig::default();

    // The simulator is created and dropped inside build_frame: what stays live is the frame.
    let before_frame = live_bytes();
    let (Built { mut frame, now, days }, build) = time(|| build_frame(target, items_per_day));
    let ((), prepare) = time(|| frame.prepare());
    let frame_bytes = live_bytes() - before_frame;

    let runs = if target >= 5_000_000 { 1 } else { 3 };
    let Recompute { signals, wall, cpu, extra_bytes } = recompute(&frame, &dir, &cfg, now, runs);

    // Phase split from one more run, and what the facts weigh.
    let (analysis, analyze) = time(|| signals::analyze(&frame, &dir, &cfg, now));
    let (_, aggregate) = time(|| signals::aggregate(&analysis, &frame, &dir, &cfg, now));
    let footprint = analysis_footprint(&analysis);
    drop(analysis);

    let (render_time, series, render_bytes, families) = render(signals, frame.events.len());
    Measured {
        events: frame.events.len(),
        items: frame.items.len(),
        days,
        items_per_day,
        build,
        prepare,
        frame_bytes,
        frame_own_bytes: frame.heap_bytes(),
        recompute: wall,
        recompute_cpu: cpu,
        event_rows: (frame.events.len(), frame.events.capacity()),
        runs,
        compute_extra_bytes: extra_bytes,
        analyze,
        aggregate,
        analysis: footprint,
        render: render_time,
        series,
        render_bytes,
        families,
    }
}

// ---------------------------------------------------------------------------------------------
// Output.
// ---------------------------------------------------------------------------------------------

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn print_result(m: &Measured) {
    let events_per_sec = m.events as f64 / m.recompute.as_secs_f64();
    let per_event = (m.frame_bytes + m.compute_extra_bytes) as f64 / m.events as f64;
    let render_ms = ms(m.render);
    println!("\n== {} events ({} items, {} days at {:.0} items/day) ==", m.events, m.items, m.days, m.items_per_day);
    println!("  {:<44} {:>14}   target", "measure", "value");
    let row = |name: &str, value: String, target: String| println!("  {name:<44} {value:>14}   {target}");
    row("frame build (simulate + add, not the engine)", format!("{:.0} ms", ms(m.build)), String::new());
    row("frame prepare (sort + index)", format!("{:.1} ms", ms(m.prepare)), String::new());
    row(&format!("full recompute (best of {})", m.runs), format!("{:.1} ms", ms(m.recompute)), String::new());
    row(
        "  of which analyze / aggregate (1 run)",
        format!("{:.0} / {:.0} ms", ms(m.analyze), ms(m.aggregate)),
        String::new(),
    );
    if let Some(cpu) = m.recompute_cpu {
        row(
            "  of which on-CPU (rest: waiting for a core)",
            format!("{:.1} ms", ms(cpu)),
            format!("{:.2} M ev/CPU-s", m.events as f64 / cpu.as_secs_f64() / 1e6),
        );
    }
    row(
        "recompute throughput (1 thread)",
        format!("{:.2} M ev/s", events_per_sec / 1e6),
        format!(">= {:.0} M ev/s  {}", TARGET_EVENTS_PER_SEC / 1e6, verdict(events_per_sec >= TARGET_EVENTS_PER_SEC)),
    );
    row(
        "frame resident (allocator)",
        format!("{:.1} MiB", mib(m.frame_bytes)),
        format!("{:.0} B/event", m.frame_bytes as f64 / m.events as f64),
    );
    row("  of which Frame::heap_bytes (vectors)", format!("{:.1} MiB", mib(m.frame_own_bytes)), String::new());
    let (rows, capacity) = m.event_rows;
    row(
        "  of which event rows (capacity)",
        format!("{:.1} MiB", mib(capacity * size_of::<signals::frame::EventRow>())),
        format!("{:.0}% used", 100.0 * rows as f64 / capacity.max(1) as f64),
    );
    row(
        "peak extra heap during recompute",
        format!("{:.1} MiB", mib(m.compute_extra_bytes)),
        format!("{:.0} B/event", m.compute_extra_bytes as f64 / m.events as f64),
    );
    row(
        "resident per stored event (frame + peak)",
        format!("{per_event:.0} B"),
        format!("<= {TARGET_BYTES_PER_EVENT:.0} B  {}", verdict(per_event <= TARGET_BYTES_PER_EVENT)),
    );
    row(
        &format!("/metrics render (median of {RENDERS})"),
        format!("{render_ms:.2} ms"),
        format!("< {TARGET_RENDER_MS:.0} ms  {}", verdict(render_ms < TARGET_RENDER_MS)),
    );
    row("/metrics output", format!("{} series", m.series), format!("{:.0} KiB", m.render_bytes as f64 / 1024.0));
    println!("  /metrics series by family (largest 5):");
    for (family, n) in m.families.iter().take(5) {
        println!("    {family:<44} {n:>8}");
    }
    println!("  facts held by the analysis (records, heap):");
    for (name, len, bytes) in &m.analysis {
        println!(
            "    {name:<30} {len:>10} rec  {:>8.1} MiB  {:>5.1} B/event",
            mib(*bytes),
            *bytes as f64 / m.events as f64
        );
    }
}

fn machine_context() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    format!("machine: {cores} cores available ({cpu}); engine is single-threaded; {} build", profile())
}

fn profile() -> &'static str {
    if cfg!(debug_assertions) { "DEBUG (numbers meaningless)" } else { "release" }
}

// ---------------------------------------------------------------------------------------------
// Sizes.
// ---------------------------------------------------------------------------------------------

const DEFAULT_SIZES: [usize; 3] = [100_000, 1_000_000, 10_000_000];

/// `100k`, `1m`, `10M`, `250000` → event counts.
fn parse_size(s: &str) -> Result<usize, String> {
    let lower = s.trim().to_ascii_lowercase();
    let (digits, factor) = match lower.strip_suffix('k') {
        Some(d) => (d, 1_000),
        None => lower.strip_suffix('m').map_or((lower.as_str(), 1), |d| (d, 1_000_000)),
    };
    match digits.parse::<f64>() {
        Ok(n) if n >= 1.0 && n.is_finite() => Ok((n * factor as f64) as usize),
        _ => Err(format!("size {s:?} is not a count like 100k, 1m or 250000")),
    }
}

/// Sizes from the command line (cargo's own `--bench` flag ignored), else the env var, else all.
fn sizes() -> Result<Vec<usize>, String> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let words: Vec<String> = if !args.is_empty() {
        args
    } else if let Ok(env) = std::env::var("SILOSCOPE_BENCH_SIZES") {
        env.split([',', ' ']).filter(|w| !w.is_empty()).map(str::to_string).collect()
    } else {
        return Ok(DEFAULT_SIZES.to_vec());
    };
    words.iter().map(|w| parse_size(w)).collect()
}

fn main() {
    let sizes = match sizes() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("engine bench: {e}");
            std::process::exit(2);
        }
    };
    println!("siloscope engine benchmark: {TEAMS} simulated teams, ~{HISTORY_DAYS} days, SignalsConfig::default()");
    println!("{}", machine_context());
    let calibration_events = calibrate();
    for target in sizes {
        print_result(&measure(target, calibration_events));
    }
}
