//! `/report` under load (issue 17, item 7): the daemon builds a report once per published
//! computation and period and serves it from the cache until the next computation, instead of
//! computing it under the frame lock on every request.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use siloscope::config::Config;
use siloscope::daemon::{AcceleratedClock, State};
use siloscope::report::{Format, daemon_producer};
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

fn generated_at(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).expect("the report's JSON");
    v["generated_at"].to_string()
}

#[test]
fn one_build_per_computation_shared_by_concurrent_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    // A small simulated organisation committed to the store.
    let start = chrono::Utc::now().timestamp() - 20 * 86_400;
    let sim = siloscope::sources::simulator::SimulatorConfig {
        teams: 4,
        items_per_day: 30.0,
        start: Some(start),
        history_days: 20,
        ..Default::default()
    };
    let mut source = siloscope::sources::simulator::Simulator::new("sim", sim);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    loop {
        let cursor = store.cursor("sim").unwrap();
        let step =
            rt.block_on(siloscope::sources::Source::step(&mut source, cursor.as_deref(), start + 20 * 86_400)).unwrap();
        store.commit_batch(&step.batch).unwrap();
        if step.caught_up {
            break;
        }
    }
    let config = Config::parse("", Path::new("siloscope.toml")).unwrap();
    // Simulated time runs 1000× faster: every wall second is a new `now` for the report.
    let now = chrono::Utc::now().timestamp();
    let clock = Arc::new(AcceleratedClock { wall_start: now, sim_start: now, speed: 1000.0 });
    let state = State::new(config, Box::new(store), clock).unwrap();
    state.recompute_now().unwrap();
    let producer = daemon_producer(state.clone(), None, false);

    let first = producer(Format::Json).expect("the report");
    // Wait until the clock has moved on: a report computed per request would now differ.
    let t0 = state.clock.now_ts();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while state.clock.now_ts() == t0 {
        assert!(std::time::Instant::now() < deadline, "the clock did not move");
        std::thread::sleep(Duration::from_millis(20));
    }
    let bodies: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..40).map(|_| s.spawn(|| producer(Format::Json))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for body in &bodies {
        let body = body.as_ref().expect("no request of one computation is refused: they share one build");
        assert_eq!(generated_at(body), generated_at(&first), "a second build within one computation");
    }
    // Other formats render the same cached report.
    let html = producer(Format::Html).unwrap();
    assert!(html.contains("<html") || html.contains("<!doctype"), "{}", &html[..200.min(html.len())]);

    // A new computation: the next request builds a new report.
    state.recompute_now().unwrap();
    let next = producer(Format::Json).unwrap();
    assert_ne!(generated_at(&next), generated_at(&first), "the cache outlived its computation");
    let again = producer(Format::Json).unwrap();
    assert!(Arc::ptr_eq(&next, &again));
}
