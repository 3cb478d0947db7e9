//! `/handoffs` over a large simulated history (issue 11): the daemon's state over N simulated
//! events (default 10M; 50 teams, ~90 days, as benches/engine.rs), the list answered through the
//! real router over TCP (HTML and JSON, one typical filtered query and the unfiltered one):
//! median, p90, max. Then commits (the daemon's own `sync_source` → store → frame path, a batch of
//! new comments every 10 ms) and the recompute (back to back, 1 s apart) run with no page clients
//! and with clients asking for the page as fast as they get answers: their rates and latencies,
//! and the longest a commit waited. Prints the process's peak resident memory (VmHWM).
//!
//! Run: `cargo bench --bench pages` (10M events), `cargo bench --bench pages -- --events 200000`
//! for a quick look; `--seconds S` sets each load phase's length (default 20), `--clients C` the
//! page clients of the loaded phase (default 8).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use siloscope::config::Config;
use siloscope::daemon::State;
use siloscope::model::{DAY, Event, EventKind, Item, Ts};
use siloscope::pages::{ExternalUrl, HandoffFilter};
use siloscope::sources::http::ManualClock;
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::sources::{Source, StepFuture, SyncStep};
use siloscope::store::sqlite::SqliteStore;
use siloscope::teams::DirectoryBuilder;

/// 2023-11-15T00:00:00Z: a fixed start, so every run sees the same history.
const START: Ts = 1_700_006_400;
const TEAMS: u32 = 50;
const HISTORY_DAYS: u32 = 90;
const CALIBRATION_ITEMS_PER_DAY: f64 = 100.0;
const RATE_MARGIN: f64 = 1.03;
/// New comments per commit, one commit every 10 ms (as benches/report_load.rs's writer).
const BATCH: usize = 20;
/// Items the commits comment on (the most recent ones of the history).
const WRITER_ITEMS: usize = 2_000;
const TARGET_MEDIAN_MS: f64 = 100.0;

struct Args {
    events: usize,
    seconds: f64,
    clients: usize,
    requests: usize,
}

/// `100k`, `1m`, `10M`, `250000` → a count.
fn parse_count(s: &str) -> Result<usize, String> {
    let lower = s.trim().to_ascii_lowercase();
    let (digits, factor) = match lower.strip_suffix('k') {
        Some(d) => (d, 1_000.0),
        None => lower.strip_suffix('m').map_or((lower.as_str(), 1.0), |d| (d, 1_000_000.0)),
    };
    match digits.parse::<f64>() {
        Ok(n) if n >= 1.0 && n.is_finite() => Ok((n * factor) as usize),
        _ => Err(format!("{s:?} is not a count like 200000, 200k or 10m")),
    }
}

fn args() -> Result<Args, String> {
    let mut a = Args { events: 10_000_000, seconds: 20.0, clients: 8, requests: 40 };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--events" => a.events = parse_count(&value("--events")?)?,
            "--seconds" => a.seconds = value("--seconds")?.parse().map_err(|_| "--seconds: a number".to_string())?,
            "--clients" => a.clients = parse_count(&value("--clients")?)?,
            "--requests" => a.requests = parse_count(&value("--requests")?)?,
            // cargo bench passes --bench; the harness-less binary ignores what it does not know.
            _ => {}
        }
    }
    Ok(a)
}

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

fn calibrate() -> usize {
    let mut sim = simulator(CALIBRATION_ITEMS_PER_DAY);
    (0..HISTORY_DAYS as Ts).map(|d| sim.generate(START, START + d * DAY, START + (d + 1) * DAY).1.len()).sum()
}

/// Fills the daemon's frame with `target` simulated events in one-day chunks (each dropped after
/// use, as benches/engine.rs); returns the end of the history and the last `WRITER_ITEMS` items.
fn fill(state: &State, target: usize, items_per_day: f64) -> (Ts, Vec<Item>) {
    let mut sim = simulator(items_per_day);
    let mut frame = state.frame.lock().unwrap();
    let (mut added, mut day) = (0usize, 0 as Ts);
    let mut recent: std::collections::VecDeque<Item> = std::collections::VecDeque::new();
    while added < target {
        let (items, events) = sim.generate(START, START + day * DAY, START + (day + 1) * DAY);
        for item in items {
            frame.add_item(&item);
            recent.push_back(item);
            if recent.len() > WRITER_ITEMS {
                recent.pop_front();
            }
        }
        for event in events.iter().take(target - added) {
            frame.add_event(event);
        }
        added += events.len().min(target - added);
        day += 1;
        assert!(day < 100 * HISTORY_DAYS as Ts, "the simulator stopped producing events at {added}");
    }
    (START + day * DAY, recent.into())
}

/// A source whose every step is one batch of new comments on recent items (caught up at once),
/// so each `sync_source` call is one commit through the daemon's path.
struct Writer {
    items: Vec<Item>,
    n: u64,
    at: Ts,
    tag: String,
}

impl Source for Writer {
    fn name(&self) -> &str {
        "sim"
    }
    fn step<'a>(&'a mut self, _cursor: Option<&'a str>, _now: Ts) -> StepFuture<'a> {
        let mut batch = siloscope::model::Batch { source: "sim".into(), ..Default::default() };
        for i in 0..BATCH {
            self.n += 1;
            self.at += 1;
            let item = &self.items[(self.n as usize * 7919 + i) % self.items.len()];
            batch.items.push(item.clone());
            batch.events.push(Event {
                id: format!("bench-{}-{}", self.tag, self.n),
                item: item.key.clone(),
                at: self.at,
                actor: item.author.clone(),
                kind: EventKind::Commented { mentions: vec![] },
            });
        }
        batch.cursor = Some(format!("bench-{}-{}", self.tag, self.n));
        Box::pin(async move { Ok(SyncStep { batch, caught_up: true }) })
    }
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

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
}

/// GET `path` on a fresh connection; returns (status, body bytes).
fn get(port: u16, path: &str, accept: &str) -> (u16, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, buf.len() - head_end)
}

/// One page request as the benchmark asks it.
#[derive(Clone)]
struct Query {
    name: String,
    path: String,
    accept: &'static str,
}

fn queries(team: &str) -> Vec<Query> {
    let filtered =
        HandoffFilter { to_team: Some(team.to_string()), state: Some("stalled".into()), ..HandoffFilter::default() }
            .query();
    let html = "text/html,application/xhtml+xml";
    vec![
        Query { name: format!("HTML ?{filtered}"), path: format!("/handoffs?{filtered}"), accept: html },
        Query { name: format!("JSON ?{filtered}"), path: format!("/handoffs.json?{filtered}"), accept: "*/*" },
        Query { name: "HTML unfiltered".into(), path: "/handoffs".into(), accept: html },
        Query { name: "JSON unfiltered".into(), path: "/handoffs.json".into(), accept: "*/*" },
    ]
}

/// What one load phase measured.
struct Phase {
    commits: Vec<Duration>,
    commit_events_per_sec: f64,
    recomputes: Vec<Duration>,
    pages: Vec<Duration>,
}

/// `seconds` of commits and recomputes, with `clients` page clients cycling through `queries`.
fn phase(
    state: &Arc<State>,
    port: u16,
    queries: &[Query],
    writer_items: &[Item],
    clients: usize,
    seconds: f64,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let pages = Arc::new(Mutex::new(Vec::new()));
    let recomputes = Arc::new(Mutex::new(Vec::new()));
    let (commits, rate) = std::thread::scope(|s| {
        {
            let (stop, state, recomputes) = (stop.clone(), state.clone(), recomputes.clone());
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    state.recompute_now().unwrap();
                    recomputes.lock().unwrap().push(t.elapsed());
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
        for c in 0..clients {
            let (stop, pages) = (stop.clone(), pages.clone());
            s.spawn(move || {
                let mut k = c;
                while !stop.load(Ordering::Relaxed) {
                    let q = &queries[k % queries.len()];
                    k += 1;
                    let t = Instant::now();
                    let (status, _) = get(port, &q.path, q.accept);
                    assert_eq!(status, 200, "{}", q.path);
                    pages.lock().unwrap().push(t.elapsed());
                }
            });
        }
        // The writer: real commits on a runtime of its own, as a source's task.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let mut writer =
            Writer { items: writer_items.to_vec(), n: 0, at: state.clock.now_ts() - 3600, tag: format!("c{clients}") };
        let started = Instant::now();
        let mut commits = Vec::new();
        let mut events = 0u64;
        while started.elapsed().as_secs_f64() < seconds {
            let t = Instant::now();
            let summary = rt.block_on(state.sync_source(&mut writer, &rx, &mut |_| {})).unwrap();
            commits.push(t.elapsed());
            events += summary.new_events;
            std::thread::sleep(Duration::from_millis(10));
        }
        let rate = events as f64 / started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        (commits, rate)
    });
    let mut commits = commits;
    commits.sort();
    let mut recomputes = recomputes.lock().unwrap().clone();
    recomputes.sort();
    let mut pages = pages.lock().unwrap().clone();
    pages.sort();
    Phase { commits, commit_events_per_sec: rate, recomputes, pages }
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pages bench: {e}");
            std::process::exit(2);
        }
    };
    let profile = if cfg!(debug_assertions) { "DEBUG build (numbers meaningless)" } else { "release build" };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "siloscope /handoffs benchmark: {} events target, {TEAMS} teams, ~{HISTORY_DAYS} days; {cores} cores; {profile}",
        args.events
    );

    let calibration = calibrate();
    let items_per_day = CALIBRATION_ITEMS_PER_DAY * args.events as f64 / calibration.max(1) as f64 * RATE_MARGIN;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let store = SqliteStore::open(&db).unwrap();
    let config =
        Config::parse(&format!("[store]\npath = {:?}\n", db.display().to_string()), Path::new("bench.toml")).unwrap();
    let clock = Arc::new(ManualClock::new(0.0));
    let state = State::new(config, Box::new(store), clock.clone()).unwrap();
    {
        let mut b = DirectoryBuilder::new();
        b.snapshot(&simulator(items_per_day).directory(START));
        *state.directory.write().unwrap() = Arc::new(b.build());
    }
    let t = Instant::now();
    let (now, writer_items) = fill(&state, args.events, items_per_day);
    let build = t.elapsed();
    clock.advance(now as f64);
    let (events, items) = {
        let f = state.frame.lock().unwrap();
        (f.events.len(), f.items.len())
    };
    let t = Instant::now();
    state.recompute_now().unwrap();
    let first_recompute = t.elapsed();
    let published = state.pages.get().expect("published");
    let handoffs = published.analysis.handoffs.len();
    // The team receiving the most stalled handoffs: the list an alert would link to.
    let stalled = siloscope::pages::handoffs(
        &published,
        &HandoffFilter {
            state: Some("stalled".into()),
            limit: Some(siloscope::pages::MAX_LIMIT),
            ..Default::default()
        },
        &ExternalUrl::parse("http://localhost:9731").unwrap(),
    );
    let mut by_team: std::collections::BTreeMap<&str, usize> = Default::default();
    for h in &stalled.handoffs {
        *by_team.entry(h.to_team.as_str()).or_default() += 1;
    }
    let team = by_team.iter().max_by_key(|(_, n)| **n).map_or("team-0".to_string(), |(t, _)| t.to_string());
    drop(stalled);
    drop(published);
    println!(
        "state: {events} events on {items} items ({:.1} s to simulate and add), {handoffs} handoffs; first recompute {:.2} s; resident {:.0} MiB",
        build.as_secs_f64(),
        first_recompute.as_secs_f64(),
        status_kib("VmRSS:") as f64 / 1024.0
    );

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let routes = siloscope::server::Routes {
        exporter: state.exporter.clone(),
        ready: Arc::new(|| Ok(())),
        report: None,
        pages: Some(state.pages.clone()),
        base: Arc::new(ExternalUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap()),
    };
    rt.spawn(siloscope::server::serve(listener, routes, state.connections.clone(), std::future::pending()));

    let queries = queries(&team);
    println!(
        "\n/handoffs through the router over TCP, one client, {} requests each (target: median < {TARGET_MEDIAN_MS:.0} ms)",
        args.requests
    );
    println!("  {:<52} {:>9} {:>9} {:>9} {:>10}", "query", "median", "p90", "max", "body");
    for q in &queries {
        let _ = get(port, &q.path, q.accept); // warm
        let mut times = Vec::with_capacity(args.requests);
        let mut bytes = 0;
        for _ in 0..args.requests {
            let t = Instant::now();
            let (status, b) = get(port, &q.path, q.accept);
            times.push(t.elapsed());
            assert_eq!(status, 200, "{}", q.path);
            bytes = b;
        }
        times.sort();
        let median = ms(pct(&times, 0.5));
        println!(
            "  {:<52} {:>6.1} ms {:>6.1} ms {:>6.1} ms {:>7} KiB  {}",
            q.name,
            median,
            ms(pct(&times, 0.9)),
            ms(*times.last().unwrap()),
            bytes / 1024,
            if median < TARGET_MEDIAN_MS { "ok" } else { "MISSED" }
        );
    }

    println!(
        "\ncommits ({BATCH} new comments each, every 10 ms, through sync_source) and the recompute (back to back, 1 s apart), {:.0} s a phase",
        args.seconds
    );
    let idle = phase(&state, port, &queries, &writer_items, 0, args.seconds);
    let loaded = phase(&state, port, &queries, &writer_items, args.clients, args.seconds);
    println!(
        "  {:<26} {:>11} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "page clients", "commit ev/s", "commit p50", "p99", "max wait", "recomputes", "recompute p50/max"
    );
    for (clients, p) in [(0, &idle), (args.clients, &loaded)] {
        println!(
            "  {:<26} {:>11.0} {:>7.1} ms {:>6.1} ms {:>6.0} ms {:>11} {:>7.2} / {:.2} s",
            clients,
            p.commit_events_per_sec,
            ms(pct(&p.commits, 0.5)),
            ms(pct(&p.commits, 0.99)),
            ms(p.commits.last().copied().unwrap_or_default()),
            p.recomputes.len(),
            pct(&p.recomputes, 0.5).as_secs_f64(),
            p.recomputes.last().copied().unwrap_or_default().as_secs_f64()
        );
    }
    let l = &loaded.pages;
    println!(
        "  {} page clients meanwhile (the four queries in turn): {} answers, p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        args.clients,
        l.len(),
        ms(pct(l, 0.5)),
        ms(pct(l, 0.9)),
        ms(l.last().copied().unwrap_or_default())
    );
    println!(
        "  commit rate with page clients: {:.0}% of without",
        100.0 * loaded.commit_events_per_sec / idle.commit_events_per_sec.max(1e-9)
    );
    println!("\npeak resident memory (VmHWM): {:.0} MiB", status_kib("VmHWM:") as f64 / 1024.0);
}
