//! Replicas on the real PostgreSQL server: `siloscope serve` processes on one store split six
//! simulated sources by lease. The leader is `kill -9`ed with syncs in flight, then a follower;
//! the survivors take their sources over, a new leader exports, and in the end the store holds
//! exactly what one uninterrupted daemon stores, no source was held by two replicas at once (their
//! logs of when each held what, against the kill times), and the sum over the replicas of every
//! signal series equals that single daemon's `/metrics`. The clocks are stopped at one instant
//! (a debug-build hook) so every process simulates the same history; the test waits on
//! conditions, never on time. Each test uses a schema of its own; without
//! `SILOSCOPE_TEST_POSTGRES` it says it skipped.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use siloscope::store::Store;
use siloscope::store::postgres::{PostgresConfig, PostgresStore};

const POSTGRES_ENV: &str = "SILOSCOPE_TEST_POSTGRES";
const SOURCES: usize = 6;
const LEASE_SECONDS: u64 = 3;
/// Generous: the machine is shared, and a takeover waits a lease period, a retry and a frame load.
const DEADLINE: Duration = Duration::from_secs(180);

struct Schema {
    name: String,
    url: String,
    admin: postgres::Client,
}

impl Schema {
    fn new(tag: &str) -> Option<Schema> {
        let Ok(server) = std::env::var(POSTGRES_ENV) else {
            eprintln!("skipped: {POSTGRES_ENV} is not set (tests/run sets it and starts PostgreSQL)");
            return None;
        };
        let name = format!("siloscope_replicas_{tag}_{}", std::process::id());
        let mut admin = postgres::Client::connect(&server, postgres::NoTls).unwrap_or_else(|err| {
            panic!("{POSTGRES_ENV}={server} is set but PostgreSQL cannot be reached there: {err:?}")
        });
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).unwrap();
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3D{name}");
        Some(Schema { name, url, admin })
    }

    fn store(&self) -> PostgresStore {
        PostgresStore::open(&PostgresConfig { url: self.url.clone(), password: None }).unwrap()
    }

    /// Six simulated organisations, each its own source (the unit replicas lease).
    fn config(&self, dir: &std::path::Path, start: &str) -> std::path::PathBuf {
        let mut body = format!("[store]\nurl = {:?}\nlease = \"{LEASE_SECONDS}s\"\n", self.url);
        for n in 0..SOURCES {
            body.push_str(&format!(
                "\n[[sources]]\nname = \"sim-{n}\"\nkind = \"simulator\"\ninterval = \"10m\"\nseed = {}\n\
                 start = \"{start}\"\nitems_per_day = 30\nteams = 4\n",
                100 + n
            ));
        }
        let path = dir.join(format!("{}.toml", self.name));
        std::fs::write(&path, body).unwrap();
        path
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
    }
}

/// A running `serve`, its port, and its JSON log lines as they come.
struct Replica {
    name: &'static str,
    child: Running,
    port: u16,
    log: Arc<Mutex<Vec<serde_json::Value>>>,
}

fn start(name: &'static str, config: &std::path::Path, now: i64, hold_step: Option<u64>) -> Replica {
    let port = free_port();
    let mut cmd = bin();
    cmd.args([
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--web.listen-address",
        &format!("127.0.0.1:{port}"),
        "--log.format",
        "json",
    ])
    .env("SILOSCOPE_TEST_STOPPED_CLOCK", now.to_string())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(step) = hold_step {
        cmd.env("SILOSCOPE_TEST_HOLD_BEFORE_COMMIT", step.to_string());
    }
    let mut child = Running(cmd.spawn().unwrap());
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let value = serde_json::from_str(&line).unwrap_or_else(|_| serde_json::json!({ "raw": line }));
            sink.lock().unwrap().push(value);
        }
    });
    Replica { name, child, port, log }
}

impl Replica {
    fn metrics(&self) -> Option<String> {
        http_get(self.port, "/metrics").filter(|(s, _)| *s == 200).map(|(_, body)| body)
    }

    fn leader(&self) -> Option<bool> {
        sample(&self.metrics()?, "siloscope_leader").map(|v| v == 1.0)
    }

    fn messages(&self, needle: &str) -> Vec<serde_json::Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["fields"]["message"].as_str().is_some_and(|m| m.contains(needle)))
            .cloned()
            .collect()
    }

    fn held_batches(&self) -> usize {
        self.messages("test hook: holding a batch before its commit").len()
    }

    fn dump(&self) -> String {
        let log = self.log.lock().unwrap();
        let tail: Vec<String> = log.iter().rev().take(40).map(|l| l.to_string()).collect();
        format!("--- {} (last lines, newest first)\n{}", self.name, tail.join("\n"))
    }

    fn kill_9(&mut self) -> f64 {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        now_seconds()
    }
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

fn log_time(line: &serde_json::Value) -> f64 {
    let stamp = line["timestamp"].as_str().expect("a timestamp");
    chrono::DateTime::parse_from_rfc3339(stamp).unwrap().timestamp_micros() as f64 / 1e6
}

/// The value of the sample line `series value`, if any.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Every sample of the signal families (the catalogue's), by series, summed over `expositions`.
fn signal_sums(expositions: &[String]) -> BTreeMap<String, f64> {
    let families: Vec<&str> = siloscope_catalogue::SIGNAL_FAMILIES.iter().map(|f| f.name).collect();
    let mut sums = BTreeMap::new();
    for text in expositions {
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let name = series.split('{').next().unwrap();
            if families.iter().any(|f| name == *f || name.strip_prefix(f).is_some_and(|rest| rest.starts_with('_'))) {
                *sums.entry(series.to_string()).or_insert(0.0) += value.parse::<f64>().unwrap();
            }
        }
    }
    sums
}

type Row = (String, String, i64, Option<String>, String);

fn stored_events(store: &dyn Store) -> Vec<Row> {
    let mut out = Vec::new();
    store
        .for_each_event(&mut |e| {
            out.push((e.id.clone(), e.item.clone(), e.at, e.actor.clone(), serde_json::to_string(&e.kind).unwrap()))
        })
        .unwrap();
    out.sort();
    out
}

fn stored_items(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    store.for_each_item(&mut |i| out.push(format!("{i:?}"))).unwrap();
    out
}

#[test]
fn replicas_split_the_sources_survive_kill_9_of_leader_and_follower_and_sum_to_one_daemon() {
    let (Some(reference), Some(shared)) = (Schema::new("reference"), Schema::new("shared")) else { return };
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let start_date = (chrono::Utc::now().date_naive() - chrono::Days::new(20)).to_string();

    // One uninterrupted daemon: what the replicas must end up with.
    let single = start("single", &reference.config(dir.path(), &start_date), now, None);
    wait_for("the single daemon to be ready", DEADLINE, || {
        http_get(single.port, "/readyz").and_then(|(status, _)| (status == 200).then_some(()))
    });
    let want_events = stored_events(&reference.store());
    let want_items = stored_items(&reference.store());
    assert!(want_events.len() > 5_000, "a large simulated history, got {} events", want_events.len());
    let single_metrics = single.metrics().unwrap();
    assert_eq!(sample(&single_metrics, "siloscope_leader"), Some(1.0), "a single daemon is its own leader");
    let want_signals = signal_sums(&[single_metrics]);
    assert!(want_signals.len() > 100, "the single daemon exports signal series: {}", want_signals.len());
    drop(single);

    let config = shared.config(dir.path(), &start_date);
    // A is alone: it leads, takes every source and holds each at its 5th step (4 committed).
    let mut a = start("a", &config, now, Some(5));
    wait_for("A to lead", DEADLINE, || a.leader().filter(|l| *l));
    wait_for("A to hold all six sources mid-sync", DEADLINE, || (a.held_batches() == SOURCES).then_some(()));
    // B and C join; they hold their sources at their 9th step.
    let b = start("b", &config, now, Some(9));
    let c = start("c", &config, now, Some(9));
    for r in [&b, &c] {
        wait_for("a joining replica to serve /metrics", DEADLINE, || r.leader().filter(|l| !*l));
        let m = r.metrics().unwrap();
        assert!(signal_sums(std::slice::from_ref(&m)).is_empty(), "a follower exports no signal family:\n{m}");
    }
    let leader_lines = a.messages("this replica syncs the source").len();
    assert_eq!(leader_lines, SOURCES, "A took every source: {}", a.dump());

    // kill -9 the leader, syncs in flight.
    let a_killed = a.kill_9();
    let promoted = Instant::now();
    let leading = wait_for("one of B and C to lead", DEADLINE, || {
        let leaders: Vec<bool> = [&b, &c].iter().map(|r| r.leader().unwrap_or(false)).collect();
        match leaders[..] {
            [true, false] => Some(0),
            [false, true] => Some(1),
            _ => None,
        }
    });
    let (new_leader, mut follower) = if leading == 0 { (b, c) } else { (c, b) };
    wait_for("the new leader's signal families", DEADLINE, || {
        (!signal_sums(&[new_leader.metrics()?]).is_empty()).then_some(())
    });
    let takeover = promoted.elapsed();
    eprintln!(
        "new leader {} exports {:.1} s after the kill (lease {LEASE_SECONDS} s)",
        new_leader.name,
        takeover.as_secs_f64()
    );
    // Both took A's sources over and hold them mid-sync.
    wait_for("B and C to hold all six sources mid-sync", DEADLINE, || {
        (new_leader.held_batches() + follower.held_batches() == SOURCES).then_some(())
    });
    assert!(follower.held_batches() > 0, "the follower syncs sources too:\n{}\n{}", follower.dump(), new_leader.dump());

    // kill -9 the follower, syncs in flight; D takes its sources and finishes them.
    let follower_killed = follower.kill_9();
    let d = start("d", &config, now, None);
    wait_for("D to take over a source of the follower", DEADLINE, || {
        (!d.messages("this replica syncs the source").is_empty()).then_some(())
    });
    // The leader stops cleanly (its held batches commit): D takes the rest and leads.
    let mut leader_child = new_leader;
    sigterm(&leader_child.child);
    let status = wait_exit(&mut leader_child.child, DEADLINE);
    let leader_stopped = now_seconds();
    assert!(status.success(), "{}", leader_child.dump());
    let e = start("e", &config, now, None);
    // The stopped leader gave its role up: D or E (started just after) takes it.
    let leading = wait_for("one of D and E to lead", DEADLINE, || match (d.leader()?, e.leader()?) {
        (true, false) => Some(0),
        (false, true) => Some(1),
        _ => None,
    });
    let (last_leader, last_follower) = if leading == 0 { (&d, &e) } else { (&e, &d) };
    wait_for("every source synced to its end", DEADLINE, || {
        let mut finished: Vec<String> = [&d, &e]
            .iter()
            .flat_map(|r| r.messages("sync finished"))
            .filter_map(|l| Some(l["fields"]["source"].as_str()?.to_string()))
            .collect();
        finished.sort();
        finished.dedup();
        (finished.len() == SOURCES).then_some(())
    });
    let store = shared.store();
    assert_eq!(stored_events(&store), want_events, "the replicas' store holds exactly one uninterrupted run's events");
    assert_eq!(stored_items(&store), want_items);

    // A follower is ready once its first syncs are done (or its sources are the leader's), and
    // exports its health only.
    wait_for("the follower to be ready", DEADLINE, || {
        http_get(last_follower.port, "/readyz").and_then(|(s, _)| (s == 200).then_some(()))
    });
    assert_eq!(last_follower.leader(), Some(false));
    assert!(signal_sums(&[last_follower.metrics().unwrap()]).is_empty(), "a follower exports no signal family");
    // A follower's /report and pages: a 503 naming the leader, with when to ask again.
    for path in ["/report", "/report.json", "/handoffs", "/reviews.json", "/decisions"] {
        let (status, head, body) = http_get_with_head(last_follower.port, path).unwrap();
        assert!(
            status == 503 && body.contains("this replica") && body.contains("is a follower"),
            "{path}: {status}: {body}"
        );
        let leader_id = last_leader
            .messages("running as a replica")
            .first()
            .and_then(|l| l["fields"]["replica"].as_str().map(String::from));
        let leader_id = leader_id.expect("the leader logs its replica id");
        assert!(body.contains(&format!("replica {leader_id} leads")), "{path}: names the leader {leader_id}: {body}");
        let retry = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("retry-after:").map(|v| v.trim().to_string()));
        assert_eq!(retry.as_deref(), Some(LEASE_SECONDS.to_string().as_str()), "{path}: Retry-After: {head}");
    }
    assert_eq!(http_get(last_leader.port, "/report").map(|(s, _)| s), Some(200));
    // The sum over the replicas of every signal series is the single daemon's.
    // (Waiting for the leader's computation over the last commits: the condition is the check.)
    let waiting = Instant::now();
    let last = loop {
        let scraped: Vec<String> = [&d, &e].iter().filter_map(|r| r.metrics()).collect();
        let sums = signal_sums(&scraped);
        if sums == want_signals || waiting.elapsed() > DEADLINE {
            break sums;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let differing: Vec<_> = want_signals.iter().filter(|(k, v)| last.get(*k) != Some(v)).take(10).collect();
    assert!(last == want_signals, "sum over replicas differs from the single daemon, e.g. {differing:?}");

    // No source was held by two replicas at once: each replica's holding of a source runs from
    // its "syncs the source" line to its hand-over, its kill or its stop.
    let mut spans: BTreeMap<String, Vec<(f64, f64, &str)>> = BTreeMap::new();
    let released = leader_child.messages("every lease of this replica is released");
    let leader_end = released.first().map_or(leader_stopped, log_time);
    let ends = [(&a, a_killed), (&follower, follower_killed), (&leader_child, leader_end)];
    for (replica, end) in ends.iter().map(|(r, t)| (*r, *t)).chain([(&d, f64::MAX), (&e, f64::MAX)]) {
        let handed: Vec<(String, f64)> = replica
            .messages("released the source's lease")
            .iter()
            .map(|l| (l["fields"]["source"].as_str().unwrap_or_default().to_string(), log_time(l)))
            .collect();
        for line in replica.messages("this replica syncs the source") {
            let source = line["fields"]["source"].as_str().unwrap().to_string();
            let from = log_time(&line);
            let until = handed.iter().filter(|(s, t)| *s == source && *t >= from).map(|(_, t)| *t).fold(end, f64::min);
            spans.entry(source).or_default().push((from, until, replica.name));
        }
    }
    assert_eq!(spans.len(), SOURCES);
    for (source, mut held) in spans {
        held.sort_by(|x, y| x.0.total_cmp(&y.0));
        for pair in held.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{source} held by {} and {} at once: {held:?}", pair[0].2, pair[1].2);
        }
    }
}

fn signal(child: &Running, name: &str) {
    let ok = std::process::Command::new("kill").args([name, &child.id().to_string()]).status().unwrap().success();
    assert!(ok, "kill {name} failed");
}

fn cursors(store: &dyn Store) -> Vec<Option<String>> {
    (0..SOURCES).map(|n| store.cursor(&format!("sim-{n}")).unwrap()).collect()
}

#[test]
fn a_leader_paused_past_its_lease_commits_nothing_when_it_wakes_and_steps_down() {
    let (Some(reference), Some(shared)) = (Schema::new("ref_pause"), Schema::new("pause")) else { return };
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let start_date = (chrono::Utc::now().date_naive() - chrono::Days::new(20)).to_string();
    let single = start("single", &reference.config(dir.path(), &start_date), now, None);
    wait_for("the single daemon to be ready", DEADLINE, || {
        http_get(single.port, "/readyz").and_then(|(status, _)| (status == 200).then_some(()))
    });
    drop(single);
    let want_events = stored_events(&reference.store());
    let want_cursors = cursors(&reference.store());

    let config = shared.config(dir.path(), &start_date);
    // A leads and holds every source with a step read and not committed (its 5th).
    let mut a = start("a", &config, now, Some(5));
    wait_for("A to lead", DEADLINE, || a.leader().filter(|l| *l));
    wait_for("A to hold all six sources mid-sync", DEADLINE, || (a.held_batches() == SOURCES).then_some(()));
    let b = start("b", &config, now, None);
    wait_for("B to serve as a follower", DEADLINE, || b.leader().filter(|l| !*l));
    // The leader's directory coverage, computed from its frame (the four committed steps).
    const COVERAGE: &str = "siloscope_directory_unresolved_identities{";
    wait_for("A to export its directory coverage", DEADLINE, || a.metrics()?.contains(COVERAGE).then_some(()));
    // A stalls (a long GC pause, a frozen VM) past its lease: B takes everything over.
    signal(&a.child, "-STOP");
    wait_for("B to lead", DEADLINE, || b.leader().filter(|l| *l));
    wait_for("B to sync every source to its end", DEADLINE, || {
        (b.messages("sync finished").len() == SOURCES).then_some(())
    });
    assert_eq!(cursors(&shared.store()), want_cursors);
    // A wakes up: its leases are gone, so it steps down and its held steps are refused.
    signal(&a.child, "-CONT");
    wait_for("A to step down", DEADLINE, || {
        let m = a.metrics()?;
        (sample(&m, "siloscope_leader") == Some(0.0) && signal_sums(&[m]).is_empty()).then_some(())
    });
    // Nor its frozen coverage, which `max by (source)` on the boards and alerts would mix with B's.
    wait_for("A to withdraw its directory coverage", DEADLINE, || (!a.metrics()?.contains(COVERAGE)).then_some(()));
    sigterm(&a.child);
    assert!(wait_exit(&mut a.child, DEADLINE).success(), "{}", a.dump());
    let refused = a.messages("the step is not committed").len();
    assert_eq!(refused, SOURCES, "every held step refused:\n{}", a.dump());
    // Had one of them committed, its source's cursor would be back at its 5th day.
    let store = shared.store();
    assert_eq!(cursors(&store), want_cursors, "a paused replica committed a stale step");
    assert_eq!(stored_events(&store), want_events);
    assert_eq!(b.leader(), Some(true));
}

#[test]
fn sync_once_refuses_the_sources_a_replica_holds_and_syncs_under_their_leases_once_they_are_free() {
    let Some(shared) = Schema::new("sync_once") else { return };
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let start_date = (chrono::Utc::now().date_naive() - chrono::Days::new(20)).to_string();
    let config = shared.config(dir.path(), &start_date);
    // A replica holds every source mid-sync (its 5th step read, not committed).
    let mut a = start("a", &config, now, Some(5));
    wait_for("A to hold all six sources mid-sync", DEADLINE, || (a.held_batches() == SOURCES).then_some(()));
    let before = cursors(&shared.store());
    let events_before = shared.store().event_count().unwrap();
    let refused = run(&["sync", "--once", "--config", config.to_str().unwrap()]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    let a_id = a.messages("running as a replica")[0]["fields"]["replica"].as_str().unwrap().to_string();
    for n in 0..SOURCES {
        assert!(
            stderr.contains(&format!("sim-{n}: not synced: replica {a_id} holds its lease")),
            "sim-{n} refused, naming the replica holding it:\n{stderr}"
        );
    }
    assert_eq!(cursors(&shared.store()), before, "a refused sync commits nothing");
    assert_eq!(shared.store().event_count().unwrap(), events_before);
    // The replica stops (its held steps commit, its leases are released): sync --once takes them.
    sigterm(&a.child);
    assert!(wait_exit(&mut a.child, DEADLINE).success(), "{}", a.dump());
    let synced = run(&["sync", "--once", "--config", config.to_str().unwrap()]);
    assert!(synced.status.success(), "{}\n{}", text(&synced.stdout), text(&synced.stderr));
    let leases = shared.store().leases().unwrap();
    for n in 0..SOURCES {
        let lease = leases.iter().find(|l| l.unit == format!("source:sim-{n}")).expect("a lease row per source");
        assert!(lease.holder.starts_with("sync-once:"), "sim-{n} was synced under sync --once's lease: {lease:?}");
        assert!(lease.remaining_ms <= 0, "released once its sync ended: {lease:?}");
        assert!(text(&synced.stdout).contains(&format!("sim-{n}: caught up")));
    }
}

/// A frame as comparable content: per item (by key) its row and its events in the engine's order.
fn frame_content(frame: &mut siloscope::signals::Frame) -> Vec<String> {
    frame.prepare();
    let mut rows: Vec<String> = (0..frame.items.len())
        .map(|i| {
            let info = &frame.items[i];
            let r = |s| frame.syms.resolve(s).to_string();
            let events: Vec<String> = frame
                .item_events(i as u32)
                .iter()
                .map(|e| format!("{} {:?} {}", e.at, e.kind, frame.syms.resolve(e.actor)))
                .collect();
            format!(
                "{} {} {:?} {} {} {} {} | {}",
                r(info.key),
                r(info.source),
                info.kind,
                r(info.scope),
                info.created_at,
                info.title,
                r(info.author),
                events.join("; ")
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_leader_reads_only_the_changes_others_committed_and_its_frame_equals_a_fresh_load() {
    use siloscope::daemon::State;
    use siloscope::model::{Batch, Event, EventKind, Item, ItemKind, ItemState};
    let Some(schema) = Schema::new("catch_up") else { return };
    let now = chrono::Utc::now().timestamp();
    let start_date = (chrono::Utc::now().date_naive() - chrono::Days::new(4)).to_string();
    let text = format!(
        "[store]\nurl = {:?}\nlease = \"30s\"\n\n[[sources]]\nname = \"sim-0\"\nkind = \"simulator\"\n\
         interval = \"10m\"\nseed = 7\nstart = \"{start_date}\"\nitems_per_day = 6\nteams = 3\n",
        schema.url
    );
    let config = siloscope::config::Config::parse(&text, std::path::Path::new("replicas.toml")).unwrap();
    let clock: Arc<dyn siloscope::sources::http::Clock> =
        Arc::new(siloscope::daemon::AcceleratedClock { wall_start: now, sim_start: now, speed: 0.0 });
    let leader = State::new(config.clone(), Box::new(schema.store()), clock.clone()).unwrap();
    let replica =
        siloscope::replica::Replica::new("leader".into(), Duration::from_secs(30), Box::new(schema.store()), 1);
    assert!(replica.tick().became_leader);
    let _ = leader.replica.set(replica);
    let fresh = |leader: &State| {
        let loaded = State::new(config.clone(), Box::new(schema.store()), clock.clone()).unwrap();
        let fresh = frame_content(&mut loaded.frame.lock().unwrap());
        let mine = frame_content(&mut leader.frame.lock().unwrap());
        let compute = |s: &State| {
            let mut frame = s.frame.lock().unwrap();
            frame.prepare();
            siloscope::signals::compute(&frame, &s.directory(), &s.config.signals, now).1
        };
        (mine, fresh, compute(leader) == compute(&loaded))
    };

    // Another replica commits (an ordinary store client): items, incremental events.
    let item = |key: &str, title: &str, updated: i64| Item {
        key: key.into(),
        source: "other".into(),
        kind: ItemKind::Issue,
        scope: "acme/api".into(),
        url: format!("https://example.com/{key}"),
        title: title.into(),
        author: Some("github:ana".into()),
        created_at: now - 86_400,
        updated_at: updated,
        state: ItemState::Open,
        issue_type: None,
    };
    let event = |id: &str, item: &str, at: i64, label: &str| Event {
        id: id.into(),
        item: item.into(),
        at,
        actor: Some("github:bo".into()),
        kind: EventKind::Labeled { label: label.into() },
    };
    let batch = |items: Vec<Item>, events: Vec<Event>| Batch {
        source: "other".into(),
        items,
        events,
        directory: None,
        cursor: Some("c".into()),
        history_start: None,
        complete: Vec::new(),
        profiles: Vec::new(),
    };
    let mut other = schema.store();
    other
        .commit_batch(&batch(
            vec![item("o#1", "one", now - 3600), item("o#2", "two", now - 3600)],
            vec![
                event("e1", "o#1", now - 3000, "bug"),
                event("e2", "o#1", now - 2900, "p1"),
                event("e3", "o#2", now - 2800, "ui"),
            ],
        ))
        .unwrap();
    leader.catch_up_frame().unwrap();
    let (mine, fresh_load, same_signals) = fresh(&leader);
    assert_eq!(mine, fresh_load, "after one commit of another replica");
    assert!(same_signals);
    assert_eq!(leader.catch_ups(), (0, 1), "read the change, did not load the store");

    // Another replica rewrites o#1's history (e1 changed, e2 gone, e4 new) and adds to o#2 ...
    let mut rewrite = batch(vec![item("o#1", "one, renamed", now - 60)], vec![event("e5", "o#2", now - 2000, "ux")]);
    rewrite.push_complete("o#1", vec![event("e1", "o#1", now - 3100, "bug"), event("e4", "o#1", now - 100, "p2")]);
    assert_eq!(other.commit_batch(&rewrite).unwrap().rewritten_items, vec!["o#1".to_string()]);
    // ... the leader syncs its own source meanwhile (its commits go past a frame that is behind) ...
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let mut source = siloscope::daemon::make_source(&config.sources[0], leader.clock.clone());
        assert!(leader.replica.get().unwrap().try_hold("sim-0").unwrap().is_some());
        let summary = leader.sync_source(source.as_mut(), &rx, &mut |_| {}).await.unwrap();
        assert!(summary.new_events > 100 && summary.caught_up, "{summary:?}");
    });
    // ... and another commit lands after them.
    other
        .commit_batch(&batch(vec![item("o#3", "three", now - 30)], vec![event("e6", "o#3", now - 20, "bug")]))
        .unwrap();
    leader.recompute_now().unwrap();
    let (mine, fresh_load, same_signals) = fresh(&leader);
    assert_eq!(mine.len(), fresh_load.len());
    for (m, f) in mine.iter().zip(&fresh_load) {
        assert_eq!(m, f, "the leader's frame item by item against a fresh load");
    }
    assert!(same_signals, "the leader computes what a fresh load computes");
    assert_eq!(leader.catch_ups(), (0, 2), "read the changes, did not load the store");

    // A retention purge says no list of what it deleted: the leader loads the store whole.
    other.purge_before(now - 2500).unwrap();
    leader.catch_up_frame().unwrap();
    let (mine, fresh_load, same_signals) = fresh(&leader);
    assert_eq!(mine, fresh_load, "after a purge");
    assert!(same_signals);
    assert_eq!(leader.catch_ups(), (1, 2));
}
