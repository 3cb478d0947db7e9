//! What tombstones cost a commit: every identity of a batch (actors, assignees, reviewers,
//! co-authors, authors, the directory) is hashed (SHA-256, once per distinct identity and batch)
//! and looked up before the batch is stored. Figures, no targets:
//! 1. `redact_batch` alone, ns per event, with 0, 10 and 1 000 tombstones (0 is the common path:
//!    nothing is hashed at all).
//! 2. A SQLite commit of the same day-sized batches with `commit_batch` against `commit_redacted`
//!    (which also reads the tombstone table each commit), 100 tombstones.
//!
//! Run: `cargo bench --bench redaction`.

use std::time::Instant;

use siloscope::model::{Batch, DAY, Ts};
use siloscope::privacy::{Tombstones, digest};
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::store::{ForgetPlan, Forgotten, SqliteStore, Store, Tombstone};

const START: Ts = 1_700_006_400;
const DAYS: i64 = 30;

fn batches() -> Vec<Batch> {
    let mut sim = Simulator::new(
        "sim",
        SimulatorConfig {
            teams: 20,
            items_per_day: 400.0,
            start: Some(START),
            history_days: DAYS as u32,
            ..SimulatorConfig::default()
        },
    );
    (0..DAYS)
        .map(|d| {
            let (items, events) = sim.generate(START, START + d * DAY, START + (d + 1) * DAY);
            Batch {
                source: "sim".into(),
                items,
                events,
                directory: (d == 0).then(|| sim.directory(START)),
                cursor: Some(format!("day-{d}")),
                ..Batch::default()
            }
        })
        .collect()
}

/// `n` tombstones of identities that do not occur (the lookup's worst case: every identity is
/// hashed and missed) plus, past 0, one that does.
fn tombstones(n: usize) -> Vec<Tombstone> {
    (0..n)
        .map(|i| {
            let identity = if i == 0 { "sim:ines".to_string() } else { format!("github:nobody-{i}") };
            Tombstone {
                digest: digest(&identity),
                placeholder: format!("forgotten:{i}"),
                drop_events: false,
                forgotten_at: 0,
            }
        })
        .collect()
}

fn main() {
    let batches = batches();
    let events: usize = batches.iter().map(|b| b.events.len()).sum();
    println!("redaction: {} batches, {events} events", batches.len());
    for n in [0, 10, 1_000] {
        let t = Tombstones::new(&tombstones(n));
        let mut best = f64::MAX;
        for _ in 0..5 {
            let mut copy = batches.clone();
            let started = Instant::now();
            let mut replaced = 0;
            for b in &mut copy {
                replaced += t.redact_batch(b);
            }
            best = best.min(started.elapsed().as_secs_f64());
            std::hint::black_box(replaced);
        }
        println!(
            "  redact_batch, {n:>5} tombstones: {:.0} ns/event ({:.1} ms for all)",
            best * 1e9 / events as f64,
            best * 1e3
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let mut timings = Vec::new();
    for redacted in [false, true] {
        let mut store = SqliteStore::open(&dir.path().join(format!("r{redacted}.db"))).unwrap();
        if redacted {
            let identities = (0..100)
                .map(|i| {
                    let identity = format!("github:nobody-{i}");
                    Forgotten { digest: digest(&identity), placeholder: format!("forgotten:{}", i + 1), identity }
                })
                .collect();
            store.forget(&ForgetPlan { identities, ..ForgetPlan::default() }).unwrap();
        }
        let mut copy = batches.clone();
        let started = Instant::now();
        for b in &mut copy {
            if redacted {
                store.commit_redacted(b).unwrap();
            } else {
                store.commit_batch(b).unwrap();
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        timings.push(seconds);
        println!(
            "  SQLite commit, {}: {:.0} events/s ({:.2} s)",
            if redacted { "commit_redacted, 100 tombstones" } else { "commit_batch, no tombstones" },
            events as f64 / seconds,
            seconds
        );
    }
    // On a shared machine this difference is mostly noise (the runs use separate files); the
    // redaction's own cost is the ns/event above against the commit's µs/event.
    println!(
        "  commit_redacted against commit_batch: {:+.1}% (noise included); redaction alone is {:.1} µs/event of commit",
        (timings[1] / timings[0] - 1.0) * 100.0,
        timings[0] * 1e6 / events as f64
    );
}
