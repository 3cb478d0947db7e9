//! Store benchmark: what a commit costs when sources re-read items whole (complete histories the
//! store converges on) against incremental events (inserted once), on a SQLite file already
//! holding about 1M events; and what replacing rewritten items costs the daemon's frame against
//! appending new events. Prints figures, no targets: the common path (incremental, or a re-read
//! whose history did not change) must stay close to a plain insert.
//!
//! Run: `cargo bench --bench store`. `SILOSCOPE_BENCH_EVENTS=200k` changes the stored size.

use std::time::{Duration, Instant};

use siloscope::model::{Batch, Event, EventKind, Item, ItemKind, ItemState, ReviewState, Ts};
use siloscope::signals::Frame;
use siloscope::store::Store;
use siloscope::store::sqlite::SqliteStore;

const START: Ts = 1_700_006_400;
/// Events per item, items per batch (a GitHub step reads 50 items whole).
const PER_ITEM: usize = 20;
const ITEMS_PER_BATCH: usize = 50;
const BATCHES: usize = 40;

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, mult) = match s.strip_suffix('m') {
        Some(d) => (d, 1_000_000.0),
        None => s.strip_suffix('k').map_or((s.as_str(), 1.0), |d| (d, 1_000.0)),
    };
    digits.parse::<f64>().ok().filter(|n| *n >= 1.0).map(|n| (n * mult) as usize)
}

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

/// Median time of committing `batches`, per batch and per event of the batch.
fn time_commits(store: &mut SqliteStore, batches: &[Batch]) -> (Duration, f64, usize, usize) {
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

fn main() {
    let stored = std::env::var("SILOSCOPE_BENCH_EVENTS").ok().and_then(|s| parse_size(&s)).unwrap_or(1_000_000);
    let profile = if cfg!(debug_assertions) { "DEBUG (numbers meaningless)" } else { "release" };
    println!(
        "siloscope store benchmark: SQLite file with ~{stored} events; batches of {ITEMS_PER_BATCH} items × {PER_ITEM} events; {profile} build"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = SqliteStore::open(&dir.path().join("bench.db")).expect("opening the store");

    // The store's existing history: incremental batches of other items.
    let base_items = stored / PER_ITEM;
    let started = Instant::now();
    for first in (0..base_items).step_by(1000) {
        let mut b = Batch { source: "gh".into(), ..Batch::default() };
        for n in first..(first + 1000).min(base_items) {
            b.events.extend(history(1_000_000 + n, 0));
        }
        store.commit_batch(&b).expect("filling the store");
    }
    println!("filled {} events in {:.1} s", store.event_count().unwrap_or(0), started.elapsed().as_secs_f64());

    let first = |k: usize| k * ITEMS_PER_BATCH;
    // Warm the page cache and the statement cache.
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
        "{:<34} {:>12} {:>14} {:>11} {:>10}",
        "commit of one batch", "median", "per event", "new events", "rewritten"
    );
    for (name, batches) in &rows {
        let (median, per_event, new, rewritten) = time_commits(&mut store, batches);
        println!(
            "{name:<34} {:>9.2} ms {:>11.1} µs {:>11} {:>10}",
            median.as_secs_f64() * 1e3,
            per_event,
            new,
            rewritten
        );
    }

    // The frame, before a computation (`prepare` sorts): a batch's new events of new items, new
    // events of items it holds (today's common path too), and rewritten items replaced.
    let mut frame = Frame::new();
    store.for_each_event(&mut |e| frame.add_event(&e)).expect("loading the frame");
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
    let replaced: Vec<(String, Vec<Event>)> =
        (first(BATCHES)..first(BATCHES) + ITEMS_PER_BATCH).map(|n| (key(n), history(n, 2))).collect();
    let replace = timed(&mut frame, &|f| replaced.iter().for_each(|(k, events)| f.replace_item_events(k, events)));
    println!("frame of {} events, then prepare():", frame.events.len());
    println!("  {} new events of {ITEMS_PER_BATCH} new items appended   {append_new:>7.1} ms", new_items.len());
    println!("  {} new events of {ITEMS_PER_BATCH} stored items appended   {append_old:>7.1} ms", old_items.len());
    println!(
        "  {ITEMS_PER_BATCH} rewritten items replaced ({} rows)   {replace:>7.1} ms",
        replaced.iter().map(|r| r.1.len()).sum::<usize>()
    );
}
