//! The daemon loop: per-source schedules with jitter; sync step → store commit → in-memory frame →
//! recompute → publish. One failing source never stops another, and shutdown waits for the commit
//! in flight. This is the only module that reads the wall clock and wires the parts together.
//! With a PostgreSQL store each `serve` is a replica (src/replica.rs): it syncs the sources it
//! holds leases on, commits only under them, and only the leader computes and publishes signals.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng as _, SeedableRng};
use tokio::sync::{Notify, watch};

use crate::config::{Config, SourceConfig};
use crate::connections::ConnectionMetrics;
use crate::exporter::{DirectoryCoverage, Exporter, Snapshot};
use crate::model::{HistoryStart, Ts};
use crate::mutex::{lock, read, write};
use crate::replica::{LeaderGauge, Replica};
use crate::signals::{Frame, compute};
use crate::sources::http::{BoxFuture, Clock, SystemClock};
use crate::sources::telemetry::SourceTelemetry;
use crate::sources::{Source, SourceError};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use crate::teams::Directory;

/// The kind of the error a step's commit gets when this replica no longer holds the source's
/// lease: not a failure of the source (no error is counted), the sync ends and the source is
/// another replica's.
const LEASE_LOST: &str = "lease";

/// How often a running daemon deletes what is past `[store] keep`.
const RETENTION_PERIOD: Duration = Duration::from_secs(3600);

/// Deletes what is past `[store] keep` before a run loads the store (`serve`, `sync --once`).
pub fn purge_at_start(config: &Config, store: &mut dyn Store, now: Ts) -> Result<(), String> {
    if let Some(keep) = config.store.keep {
        crate::privacy::purge_expired(store, keep, now).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The wall clock's now, in whole seconds.
pub fn wall_now() -> Ts {
    SystemClock.now_ts()
}

/// The demo's simulated time: it runs `speed` times faster than the wall clock from `sim_start`
/// (speed 0 stops it). Its waits are real ones.
#[derive(Debug, Clone, Copy)]
pub struct AcceleratedClock {
    pub wall_start: Ts,
    pub sim_start: Ts,
    pub speed: f64,
}

impl Clock for AcceleratedClock {
    fn now(&self) -> f64 {
        (self.sim_start + ((wall_now() - self.wall_start) as f64 * self.speed) as Ts) as f64
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Opens the configured store (the SQLite file, or the PostgreSQL database of `[store] url`) with
/// an error that names it and the fix, for the one process that writes it (serve, sync): a SQLite
/// store is locked for as long as it is open, and a second writer refused.
pub fn open_store(config: &Config) -> Result<Box<dyn Store>, String> {
    let store: Result<Box<dyn Store>, _> = match &config.store.postgres {
        Some(pg) => crate::store::PostgresStore::open(pg).map(|s| Box::new(s) as Box<dyn Store>),
        None => SqliteStore::open_exclusive(&config.store.path).map(|s| Box::new(s) as Box<dyn Store>),
    };
    store.map_err(|e| e.to_string())
}

/// As [`open_store`] for commands that only read (report, teams, backfill): they run alongside
/// the daemon, so they take no lock.
pub fn open_store_for_reading(config: &Config) -> Result<Box<dyn Store>, String> {
    let store: Result<Box<dyn Store>, _> = match &config.store.postgres {
        Some(pg) => crate::store::PostgresStore::open(pg).map(|s| Box::new(s) as Box<dyn Store>),
        None => SqliteStore::open(&config.store.path).map(|s| Box::new(s) as Box<dyn Store>),
    };
    store.map_err(|e| e.to_string())
}

/// Builds a configured source on `clock` (its kind's settings know how): the daemon's
/// `State::clock`, or the clock `main.rs` chose for a command that runs no daemon.
pub fn make_source(sc: &SourceConfig, clock: Arc<dyn Clock>) -> Box<dyn Source> {
    sc.settings.build(&sc.name, clock)
}

/// Whether the daemon is ready (`/readyz`): every source has finished its first sync pass (caught
/// up, or failed: a broken source must not keep the others' data from being served), and a
/// computation that includes everything those passes committed has been published.
#[derive(Debug)]
pub struct Readiness {
    inner: Mutex<ReadyState>,
}

#[derive(Debug)]
struct ReadyState {
    /// Sources whose first pass has not finished.
    first_pass: BTreeSet<String>,
    /// The data generation committed when the last first pass finished.
    needed: u64,
    /// The data generation of the last published computation.
    published: Option<u64>,
}

impl Readiness {
    pub fn new<'a>(sources: impl IntoIterator<Item = &'a str>) -> Readiness {
        let first_pass = sources.into_iter().map(String::from).collect();
        Readiness { inner: Mutex::new(ReadyState { first_pass, needed: 0, published: None }) }
    }

    /// `source` finished its first pass; everything it committed is in data generation `generation`.
    pub fn first_pass_done(&self, source: &str, generation: u64) {
        let mut s = lock(&self.inner);
        if s.first_pass.remove(source) {
            s.needed = s.needed.max(generation);
        }
    }

    /// A computation over data generation `generation` was published.
    pub fn published(&self, generation: u64) {
        let mut s = lock(&self.inner);
        s.published = Some(s.published.map_or(generation, |p| p.max(generation)));
    }

    /// Ok when ready, else why not (the body of the 503).
    pub fn check(&self) -> Result<(), String> {
        let s = lock(&self.inner);
        if !s.first_pass.is_empty() {
            let names: Vec<&str> = s.first_pass.iter().map(String::as_str).collect();
            return Err(format!("not ready: the first sync of {} has not finished", names.join(", ")));
        }
        match s.published {
            Some(p) if p >= s.needed => Ok(()),
            _ => Err("not ready: the first synced data is still being computed".into()),
        }
    }
}

/// Where `sc`'s history begins if its first sync runs at `now`: an API source with `since` reads
/// only items updated since then (activity from then on is complete), without it every item; the
/// simulator's organisation begins at its start. Recorded with the source's first batch.
pub fn history_start(sc: &SourceConfig, now: Ts) -> HistoryStart {
    sc.settings.history_start(&sc.name, now)
}

/// The configured `since` of an API source: where the history to cover begins.
pub fn source_since(sc: &SourceConfig) -> Option<Ts> {
    sc.settings.since()
}

/// What the progress tracker is fed after a step of `source`.
pub fn observation(health: &SourceTelemetry, source: &str, s: &SyncSummary) -> crate::progress::Observation {
    let tally = health.tally(source);
    crate::progress::Observation {
        position: s.position,
        items: s.items,
        new_events: s.new_events,
        requests_total: tally.requests,
        rate_limit: tally.rate_limit,
        caught_up: s.caught_up,
    }
}

/// Everything the loops share.
pub struct State {
    pub config: Config,
    pub store: Mutex<Box<dyn Store>>,
    pub frame: Mutex<Frame>,
    pub directory: RwLock<Arc<Directory>>,
    pub exporter: Arc<Exporter>,
    /// The sources' series of `/metrics`, which every source's API client records into.
    pub telemetry: Arc<SourceTelemetry>,
    /// How much of the activity the team directory resolves, set at each computation.
    pub directory_coverage: Arc<DirectoryCoverage>,
    /// The listener's open and dropped connections.
    pub connections: Arc<ConnectionMetrics>,
    pub clock: Arc<dyn Clock>,
    pub readiness: Arc<Readiness>,
    /// The facts and items of the last computation, for the drill-down pages (read without the
    /// frame lock: a page never blocks a commit or the recompute).
    pub pages: Arc<crate::pages::Published>,
    /// `siloscope_leader`.
    pub leader_gauge: LeaderGauge,
    /// Set when `serve` runs on a PostgreSQL store: this process is one of its replicas.
    pub replica: OnceLock<Replica>,
    /// The store's change number the frame holds every change up to ([`Store::change_count`]):
    /// a leader whose store is past it reads the changes since ([`Store::changes_since`]).
    frame_change: AtomicU64,
    /// Whether the frame holds the store (up to `frame_change`); false on a follower, which
    /// drops it: a new leader loads it whole.
    frame_held: std::sync::atomic::AtomicBool,
    /// How many times a leader caught up with the store by loading it whole / by reading only the
    /// changes since its frame (for tests and logs).
    catch_ups: [AtomicU64; 2],
    /// Data generation: grows by one with every commit, once the frame and the directory hold it.
    generation: AtomicU64,
    recompute: Notify,
    /// Held by a commit and by a retention purge for their whole run, so a purge's reload of the
    /// frame never interleaves with a commit's append (which would count events twice).
    purge_gate: Mutex<()>,
}

/// What the report reads of the running daemon (`/report`, src/report/mod.rs).
impl crate::report::RunningDaemon for State {
    fn now(&self) -> Ts {
        self.clock.now_ts()
    }
    fn computation(&self) -> Option<Arc<Snapshot>> {
        self.exporter.snapshot()
    }
    fn history_starts(&self) -> Result<Vec<(String, HistoryStart)>, String> {
        lock(&self.store).history_starts().map_err(|e| e.to_string())
    }
    fn directory(&self) -> Arc<Directory> {
        State::directory(self)
    }
    fn prepared_frame(&self) -> Frame {
        let mut frame = lock(&self.frame);
        frame.prepare();
        frame.clone()
    }
    fn signals_config(&self) -> &crate::signals::SignalsConfig {
        &self.config.signals
    }
}

/// What one sync of a source did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncSummary {
    pub steps: u64,
    pub items: u64,
    pub new_events: u64,
    /// Items whose stored history the source rewrote (events removed or changed), over all steps.
    pub rewritten_items: u64,
    pub interrupted: bool,
    /// Ended because the source is no longer this replica's: its lease was lost, or it is beyond
    /// this replica's share and was handed over between steps.
    pub handed_over: bool,
    /// Where the pass stands after the last step (read from the cursor it wrote), and whether
    /// that step caught the source up.
    pub position: Option<crate::sources::PassPosition>,
    pub caught_up: bool,
}

/// What one commit did.
struct Committed {
    items: u64,
    new_events: u64,
    rewritten_items: u64,
}

/// Every stored item and event, in memory, and the store's change number the frame holds every
/// change up to (read in the same snapshot).
fn load_frame(store: &dyn Store) -> Result<(Frame, u64), String> {
    // Items first, then events (both closures fill the one frame).
    let frame = std::cell::RefCell::new(Frame::new());
    let change = store
        .load_all(
            &mut |i| {
                frame.borrow_mut().add_item(&i);
            },
            &mut |e| frame.borrow_mut().add_event(&e),
        )
        .map_err(|e| e.to_string())?;
    Ok((frame.into_inner(), change))
}

impl State {
    /// Loads the store into memory and resolves the directory.
    pub fn new(config: Config, store: Box<dyn Store>, clock: Arc<dyn Clock>) -> Result<Arc<State>, String> {
        let (frame, frame_change) = load_frame(store.as_ref())?;
        let telemetry = Arc::new(SourceTelemetry::default());
        let directory_coverage = Arc::new(DirectoryCoverage::default());
        let connections = Arc::new(ConnectionMetrics::default());
        let leader_gauge = LeaderGauge::default();
        leader_gauge.set(true);
        // The order of the registrations is the order of the families in `/metrics`.
        let mut exporter = Exporter::new();
        exporter.register(|r| telemetry.register(r));
        exporter.register(|r| directory_coverage.register(r));
        exporter.register(|r| connections.register(r));
        exporter.register(|r| leader_gauge.register(r));
        for s in &config.sources {
            telemetry.register_source(&s.name);
        }
        let readiness = Arc::new(Readiness::new(config.sources.iter().map(|s| s.name.as_str())));
        let state = Arc::new(State {
            directory: RwLock::new(Arc::new(Directory::default())),
            readiness,
            leader_gauge,
            replica: OnceLock::new(),
            frame_change: AtomicU64::new(frame_change),
            frame_held: std::sync::atomic::AtomicBool::new(true),
            catch_ups: [AtomicU64::new(0), AtomicU64::new(0)],
            generation: AtomicU64::new(0),
            config,
            store: Mutex::new(store),
            frame: Mutex::new(frame),
            exporter: Arc::new(exporter),
            telemetry,
            directory_coverage,
            connections,
            clock,
            recompute: Notify::new(),
            pages: Arc::new(crate::pages::Published::default()),
            purge_gate: Mutex::new(()),
        });
        state.rebuild_directory()?;
        Ok(state)
    }

    /// Before `source`'s first sync of this run: when its stored history was written in another
    /// format than this build writes, its cursor is rewound so its next pass re-reads every item,
    /// and each item's complete history then replaces the old one (the stored data stays
    /// meanwhile: counters do not drop to zero and climb back). Items the re-read does not
    /// return (deleted at the source, or outside `since` / the filters now) keep their history as
    /// last read. Returns whether a re-read was started.
    pub fn prepare_source(&self, source: &dyn Source) -> Result<bool, String> {
        let Some(format) = source.history_format() else { return Ok(false) };
        let name = source.name();
        let mut store = lock(&self.store);
        let stored = store.history_format(name).map_err(|e| e.to_string())?;
        if stored == Some(format) {
            return Ok(false);
        }
        let cursor = store.cursor(name).map_err(|e| e.to_string())?;
        let rereads = cursor.is_some() || stored.is_some();
        if rereads {
            let was = stored.unwrap_or(crate::sources::UNRECORDED_HISTORY_FORMAT);
            tracing::warn!(source = %name, stored_format = was, format,
                "source {name}: stored history was written by format {was}, this build writes {format}: re-reading all items");
        }
        let rewound = cursor.as_deref().and_then(|c| source.rewind(c));
        store.restart_history(name, format, rewound.as_deref()).map_err(|e| e.to_string())?;
        Ok(rereads)
    }

    /// Config directory first, then every source's stored snapshot.
    pub fn rebuild_directory(&self) -> Result<(), String> {
        let snapshots = lock(&self.store).directory_snapshots().map_err(|e| e.to_string())?;
        let mut b = self.config.directory.builder();
        for (_, snap) in &snapshots {
            b.snapshot(snap);
        }
        *write(&self.directory) = Arc::new(b.build());
        Ok(())
    }

    pub fn directory(&self) -> Arc<Directory> {
        read(&self.directory).clone()
    }

    /// Computes all signals at the clock's now and publishes them (blocking; run off the runtime).
    pub fn recompute_now(&self) -> Result<(), String> {
        let started = Instant::now();
        // Read first: the frame and directory below hold at least everything of this generation.
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(replica) = self.replica.get() {
            if !replica.is_leader() {
                // A follower computes nothing and serves no signal families: its readiness is its
                // first syncs alone.
                self.readiness.published(generation);
                return Ok(());
            }
            self.catch_up_frame()?;
        }
        let now = self.clock.now_ts();
        let dir = self.directory();
        let (analysis, signals, items, events_stored) = {
            let mut frame = lock(&self.frame);
            frame.prepare();
            let coverage = crate::coverage::coverage_by_window(&frame, &dir, &self.config.signals.windows, now);
            self.directory_coverage.set_directory_coverage(&coverage, self.config.signals.coverage_warning);
            let (analysis, signals) = compute(&frame, &dir, &self.config.signals, now);
            let items = if self.config.server.name_people {
                crate::pages::ItemMeta::of_frame_naming_people(&frame, &dir, now)
            } else {
                crate::pages::ItemMeta::of_frame(&frame)
            };
            (analysis, signals, items, frame.events.len() as u64)
        };
        let config = self.config.signals.clone();
        self.pages.publish(crate::pages::Computation::new(now, Arc::new(analysis), items, dir, config));
        let items = lock(&self.store).item_counts().map_err(|e| e.to_string())?;
        self.exporter.publish(Snapshot {
            signals,
            items,
            events_stored,
            computed_at: wall_now(),
            compute_seconds: started.elapsed().as_secs_f64(),
        });
        if self.replica.get().is_some_and(|r| !r.is_leader()) {
            // The leadership was lost during the computation (the keeper withdrew before this
            // publish, or will after it): a follower shows no signal families.
            self.directory_coverage.withdraw();
            self.exporter.withdraw();
            self.pages.withdraw();
        }
        self.readiness.published(generation);
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), events = events_stored, "signals recomputed");
        Ok(())
    }

    /// Commits one step's batch and brings the in-memory frame along: new events are appended;
    /// an item whose stored history the batch rewrote (events removed or changed) has its rows
    /// replaced by its events as the store now holds them.
    async fn commit(self: &Arc<Self>, batch: crate::model::Batch) -> Result<Committed, SourceError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let _gate = lock(&state.purge_gate);
            let replica = state.replica.get();
            let lease = match replica {
                Some(r) => Some(r.lease_of(&batch.source).ok_or_else(|| SourceError {
                    kind: LEASE_LOST,
                    message: format!("the lease on source {} was lost before the commit", batch.source),
                })?),
                None => None,
            };
            // Tombstoned identities are replaced before the store or the frame sees the batch.
            let mut batch = batch;
            let store_error = |e: crate::store::StoreError| match e {
                crate::store::StoreError::LeaseLost { .. } => SourceError { kind: LEASE_LOST, message: e.to_string() },
                e => SourceError { kind: "store", message: e.to_string() },
            };
            let outcome = {
                let mut store = lock(&state.store);
                // Profiles join the source's stored snapshot (under the same lock as the commit).
                if batch.directory.is_some() || !batch.profiles.is_empty() {
                    let stored = store.directory_snapshots().map_err(store_error)?;
                    let mine = stored.iter().find(|(s, _)| *s == batch.source).map(|(_, d)| d);
                    crate::sources::profiles::fold_into_directory(&mut batch, mine);
                }
                let committed = store.commit_redacted_leased(&mut batch, lease.as_ref()).map_err(store_error)?;
                let outcome = committed.outcome;
                let mut rewritten: Vec<(String, Vec<crate::model::Event>)> =
                    outcome.rewritten_items.iter().map(|k| (k.clone(), Vec::new())).collect();
                if !rewritten.is_empty() {
                    store
                        .for_each_event_of(&outcome.rewritten_items, &mut |e| {
                            if let Ok(i) = outcome.rewritten_items.binary_search(&e.item) {
                                rewritten[i].1.push(e);
                            }
                        })
                        .map_err(store_error)?;
                }
                (outcome, rewritten, committed.change)
            };
            let (outcome, rewritten, change) = (outcome.0, outcome.1, outcome.2);
            // A follower keeps no frame up to date (it computes nothing; a new leader loads the
            // store). A leader whose frame is behind the store (another replica committed in
            // between) leaves this change to its catch-up, which reads every change since in order.
            let mut keeps_frame =
                replica.is_none_or(Replica::is_leader) && state.frame_held.load(Ordering::Acquire);
            if let Some(change) = change.filter(|_| keeps_frame) {
                // The frame holds this change too, if it held every one before it.
                keeps_frame = state
                    .frame_change
                    .compare_exchange(change - 1, change, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
            }
            if keeps_frame {
                let mut frame = lock(&state.frame);
                for item in &batch.items {
                    frame.add_item(item);
                }
                for (key, events) in &rewritten {
                    frame.replace_item_events(key, events);
                }
                let rewritten_item = |key: &str| outcome.rewritten_items.binary_search_by(|k| k.as_str().cmp(key)).is_ok();
                for &i in &outcome.new_events {
                    let event = &batch.events[i];
                    if rewritten.is_empty() || !rewritten_item(&event.item) {
                        frame.add_event(event);
                    }
                }
            }
            if batch.directory.is_some() {
                state.rebuild_directory().map_err(|message| SourceError { kind: "store", message })?;
            }
            state.generation.fetch_add(1, Ordering::AcqRel);
            if !outcome.rewritten_items.is_empty() {
                tracing::info!(source = %batch.source, items = outcome.rewritten_items.len(),
                    removed = outcome.events_removed, changed = outcome.events_changed,
                    "the source rewrote stored histories (removed links, withdrawn approvals, deleted comments, a new history format): the store and the signals follow");
            }
            Ok(Committed {
                items: batch.items.len() as u64,
                new_events: outcome.new_events.len() as u64,
                rewritten_items: outcome.rewritten_items.len() as u64,
            })
        })
        .await
        .map_err(|e| SourceError { kind: "store", message: format!("commit task failed: {e}") })?
    }

    /// Steps a source until it is caught up, or shutdown is requested: a step in flight (a
    /// request, a rate-limit wait, a backoff, a slow body) is then dropped, its batch never
    /// committed, and the sync resumes from the last commit. A commit in flight is finished.
    /// A step ending at a cursor seen before in this sync, or too many steps, end the sync
    /// (`sources::bounds`).
    pub async fn sync_source(
        self: &Arc<Self>,
        source: &mut dyn Source,
        shutdown: &watch::Receiver<bool>,
        on_step: &mut (dyn FnMut(&SyncSummary) + Send),
    ) -> Result<SyncSummary, SourceError> {
        let name = source.name().to_string();
        let mut summary = SyncSummary::default();
        let mut guard = crate::sources::bounds::SyncGuard::default();
        loop {
            if *shutdown.borrow() {
                summary.interrupted = true;
                return Ok(summary);
            }
            if let Some(replica) = self.replica.get()
                && (replica.lease_of(&name).is_none() || replica.should_yield(&name))
            {
                summary.handed_over = true;
                return Ok(summary);
            }
            let cursor = {
                let state = self.clone();
                let name = name.clone();
                tokio::task::spawn_blocking(move || lock(&state.store).cursor(&name))
                    .await
                    .map_err(|e| SourceError { kind: "store", message: e.to_string() })?
                    .map_err(|e| SourceError { kind: "store", message: e.to_string() })?
            };
            let now = self.clock.now_ts();
            let mut stop = shutdown.clone();
            let stepped = tokio::select! {
                biased;
                _ = async {
                    // A dropped sender never asks for shutdown.
                    if stop.wait_for(|&s| s).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } => None,
                step = source.step(cursor.as_deref(), now) => Some(step),
            };
            let Some(step) = stepped else {
                tracing::info!(source = %name, "shutdown: the step in flight is dropped, nothing of it is committed");
                summary.interrupted = true;
                return Ok(summary);
            };
            let mut step = step?;
            if !step.caught_up {
                guard.step(&name, step.batch.cursor.as_deref())?;
            }
            if cursor.is_none() {
                let start = self.config.sources.iter().find(|s| s.name == name).map(|sc| history_start(sc, now));
                step.batch.history_start = step.batch.history_start.or(start);
            }
            if crate::testhooks::hold_before_commit(summary.steps + 1) {
                tracing::warn!(source = %name, step = summary.steps + 1, "test hook: holding a batch before its commit until shutdown");
                let mut rx = shutdown.clone();
                while !*rx.borrow_and_update() {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            }
            let caught_up = step.caught_up;
            let written = step.batch.cursor.clone();
            let committed = match self.commit(step.batch).await {
                Err(e) if e.kind == LEASE_LOST => {
                    tracing::warn!(source = %name, error = %e, "the step is not committed: another replica syncs the source now");
                    summary.handed_over = true;
                    return Ok(summary);
                }
                other => other?,
            };
            summary.position = written.as_deref().and_then(|c| source.pass_position(c, now));
            summary.caught_up = caught_up;
            summary.steps += 1;
            summary.items += committed.items;
            summary.new_events += committed.new_events;
            summary.rewritten_items += committed.rewritten_items;
            self.telemetry.record_ingest(&name, committed.new_events);
            on_step(&summary);
            if committed.new_events > 0 || committed.rewritten_items > 0 {
                self.recompute.notify_one();
            }
            if caught_up {
                return Ok(summary);
            }
        }
    }

    /// The per-source schedule: sync, record health, sleep the interval with ±10% jitter.
    async fn run_source(
        self: Arc<Self>,
        mut source: Box<dyn Source>,
        interval: Ts,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let name = source.name().to_string();
        let mut jitter_rng = SplitMix64::seed_from_u64(
            name.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3)),
        );
        let mut first_pass = true;
        // With replicas: whether this one holds the source (and so exports its health series).
        let mut synced_here = false;
        let origin = self.config.sources.iter().find(|s| s.name == name).and_then(source_since);
        let clock_start = Instant::now();
        let mut tracker = crate::progress::Tracker::new(origin, 0.0, self.telemetry.tally(&name).requests);
        loop {
            if let Some(replica) = self.replica.get() {
                let state = self.clone();
                let wanted = name.clone();
                let held = tokio::task::spawn_blocking(move || {
                    state.replica.get().expect("set before the sources start").try_hold(&wanted)
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                match held {
                    Ok(Some(lease)) => {
                        if !synced_here {
                            tracing::info!(source = %name, token = lease.token, replica = %replica.id, "this replica syncs the source");
                            self.telemetry.register_source(&name);
                            synced_here = true;
                        }
                    }
                    Ok(None) | Err(_) => {
                        if let Err(e) = held {
                            tracing::warn!(source = %name, error = %e, "asking for the source's lease failed; retrying");
                        }
                        if synced_here {
                            // Its lease was lost while it waited for its next sync.
                            self.telemetry.forget_source(&name);
                            synced_here = false;
                        }
                        if first_pass {
                            // Another replica syncs it: this one's readiness does not wait for it.
                            first_pass = false;
                            self.readiness.first_pass_done(&name, self.generation.load(Ordering::Acquire));
                            self.recompute.notify_one();
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(replica.retry_period()) => continue,
                            _ = shutdown.changed() => return,
                        }
                    }
                }
            }
            let started = Instant::now();
            let health = self.telemetry.clone();
            let mut on_step = |s: &SyncSummary| {
                if first_pass {
                    let f = tracker.observe(clock_start.elapsed().as_secs_f64(), &observation(&health, &name, s));
                    health.set_backfill_progress(&name, f.ratio, f.eta_seconds);
                }
            };
            let result = self.sync_source(source.as_mut(), &shutdown, &mut on_step).await;
            let secs = started.elapsed().as_secs_f64();
            let mut stop = false;
            match &result {
                Ok(s) if s.interrupted => {
                    tracing::info!(source = %name, steps = s.steps, new_events = s.new_events, seconds = secs,
                        "sync interrupted by shutdown; it resumes from the last commit");
                    return;
                }
                Ok(s) if s.handed_over => {
                    tracing::info!(source = %name, steps = s.steps, new_events = s.new_events, seconds = secs,
                        "sync handed over to another replica; it resumes there from the last commit");
                    // A pass handed over ends this replica's first pass of it (readiness below).
                    self.telemetry.forget_source(&name);
                    synced_here = false;
                    let state = self.clone();
                    let name = name.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        if let Some(replica) = state.replica.get() {
                            replica.release(&name);
                        }
                    })
                    .await;
                }
                Ok(s) => {
                    tracing::info!(source = %name, steps = s.steps, new_events = s.new_events, seconds = secs, "sync finished");
                    self.telemetry.record_sync(&name, true, secs, 0, wall_now());
                    if let Some(replica) = self.replica.get()
                        && replica.should_yield(&name)
                    {
                        self.telemetry.forget_source(&name);
                        synced_here = false;
                        let state = self.clone();
                        let name = name.clone();
                        let _ =
                            tokio::task::spawn_blocking(move || state.replica.get().expect("set").release(&name)).await;
                    }
                }
                Err(e) if e.is_config() => {
                    // The same error at every retry: stop until the config is fixed.
                    tracing::error!(source = %name, error = %e, "sync failed on the configuration; this source is not synced again until the config is fixed and siloscope restarted");
                    self.telemetry.record_error(&name, e.kind);
                    self.telemetry.record_sync(&name, false, secs, 0, wall_now());
                    stop = true;
                }
                Err(e) => {
                    tracing::error!(source = %name, error = %e, "sync failed; will retry at the next interval");
                    self.telemetry.record_error(&name, e.kind);
                    self.telemetry.record_sync(&name, false, secs, 0, wall_now());
                }
            }
            if first_pass {
                first_pass = false;
                self.readiness.first_pass_done(&name, self.generation.load(Ordering::Acquire));
                self.recompute.notify_one();
            }
            if stop || *shutdown.borrow() {
                return;
            }
            let jitter = 0.9 + (jitter_rng.next_u64() % 2001) as f64 / 10_000.0; // 0.9 ..= 1.1
            let mut pause = Duration::from_secs_f64((interval.max(1) as f64) * jitter);
            if let Some(replica) = self.replica.get()
                && !synced_here
            {
                // Handed over (or lost): ask again soon, in case no other replica takes it.
                pause = pause.min(replica.retry_period());
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Deletes what is past `[store] keep` (nothing without it) and, when anything went, reloads
    /// the frame from the store, so that memory holds exactly what the store holds.
    pub fn purge_expired(&self) -> Result<crate::store::PurgeOutcome, String> {
        let Some(keep) = self.config.store.keep else { return Ok(crate::store::PurgeOutcome::default()) };
        let _gate = lock(&self.purge_gate);
        let frame = {
            let mut store = lock(&self.store);
            let outcome =
                crate::privacy::purge_expired(store.as_mut(), keep, self.clock.now_ts()).map_err(|e| e.to_string())?;
            if outcome.events_deleted + outcome.items_deleted == 0 {
                return Ok(outcome);
            }
            (load_frame(store.as_ref())?, outcome)
        };
        let ((loaded, change), outcome) = frame;
        *lock(&self.frame) = loaded;
        self.frame_change.store(change, Ordering::Release);
        self.frame_held.store(true, Ordering::Release);
        self.recompute.notify_one();
        Ok(outcome)
    }

    /// On the leader: when the store is past the change its frame holds (another replica
    /// committed), reads only the changes since and applies them as a local commit does (items
    /// upserted, rewritten items' events replaced, new events appended); loads the whole store
    /// when this replica just became leader (it held no frame) or the store cannot say what
    /// changed (a retention purge or a forget since, a log pruned past the frame).
    pub fn catch_up_frame(&self) -> Result<(), String> {
        let Some(replica) = self.replica.get() else { return Ok(()) };
        let held = self.frame_held.load(Ordering::Acquire);
        if held && replica.change_count()? <= self.frame_change.load(Ordering::Acquire) {
            return Ok(());
        }
        let started = Instant::now();
        let _gate = lock(&self.purge_gate);
        let after = self.frame_change.load(Ordering::Acquire);
        if self.frame_held.load(Ordering::Acquire) {
            let store = lock(&self.store);
            let mut frame = lock(&self.frame);
            let (mut items, mut rewritten, mut events) = (0u64, 0u64, 0u64);
            let caught_up = store
                .changes_since(after, &mut |change| match change {
                    crate::store::Change::Item(i) => {
                        items += 1;
                        frame.add_item(&i);
                    }
                    crate::store::Change::Rewritten { item, events } => {
                        rewritten += 1;
                        frame.replace_item_events(&item, &events);
                    }
                    crate::store::Change::Event(e) => {
                        events += 1;
                        frame.add_event(&e);
                    }
                })
                .map_err(|e| e.to_string())?;
            if let Some(change) = caught_up {
                drop((frame, store));
                self.frame_change.store(change, Ordering::Release);
                self.catch_ups[1].fetch_add(1, Ordering::Relaxed);
                self.rebuild_directory()?;
                tracing::debug!(
                    from = after,
                    to = change,
                    items,
                    rewritten_items = rewritten,
                    new_events = events,
                    seconds = started.elapsed().as_secs_f64(),
                    "leader: the other replicas' changes read into the frame"
                );
                return Ok(());
            }
        }
        let (frame, change) = load_frame(lock(&self.store).as_ref())?;
        let events = frame.events.len();
        *lock(&self.frame) = frame;
        self.frame_change.store(change, Ordering::Release);
        self.frame_held.store(true, Ordering::Release);
        self.catch_ups[0].fetch_add(1, Ordering::Relaxed);
        self.rebuild_directory()?;
        tracing::info!(
            change,
            events,
            seconds = started.elapsed().as_secs_f64(),
            "leader: frame loaded from the store"
        );
        Ok(())
    }

    /// How many times this leader's frame caught up with the store: (loaded whole, by the changes since).
    pub fn catch_ups(&self) -> (u64, u64) {
        (self.catch_ups[0].load(Ordering::Relaxed), self.catch_ups[1].load(Ordering::Relaxed))
    }

    /// The replica's keeper: every tick renews the leases, keeps or takes the leader's role, and on
    /// the leader wakes the recompute when another replica committed.
    async fn run_replica(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(replica) = self.replica.get() else { return };
        loop {
            let state = self.clone();
            let tick = tokio::task::spawn_blocking(move || {
                let replica = state.replica.get().expect("set");
                let tick = replica.tick();
                let behind = replica.is_leader()
                    && replica.change_count().is_ok_and(|c| c > state.frame_change.load(Ordering::Acquire));
                (tick, behind)
            })
            .await;
            if let Ok((tick, behind)) = tick {
                for unit in &tick.lost {
                    tracing::warn!(unit = %unit, "a lease was lost (not renewed in time); another replica takes it over");
                }
                if tick.became_leader {
                    tracing::info!(replica = %replica.id, "this replica is the leader: it computes and exports the signal families");
                    self.leader_gauge.set(true);
                    self.pages.set_elsewhere(None);
                    self.recompute.notify_one();
                }
                if !replica.is_leader() {
                    // Which replica leads may have changed: the pages' 503 says the current one.
                    self.pages.set_elsewhere(Some(replica.served_elsewhere()));
                }
                if tick.lost_leadership {
                    tracing::warn!(replica = %replica.id, "this replica lost the leader's role: it no longer exports the signal families");
                    self.leader_gauge.set(false);
                    self.directory_coverage.withdraw();
                    self.exporter.withdraw();
                    self.pages.withdraw();
                    // The frame goes (a commit may hold the gate: wait off the runtime).
                    let state = self.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        let _gate = lock(&state.purge_gate);
                        *lock(&state.frame) = Frame::new();
                        state.frame_held.store(false, Ordering::Release);
                    })
                    .await;
                }
                if behind {
                    self.recompute.notify_one();
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(replica.tick_period()) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Every hour, [`State::purge_expired`].
    async fn run_retention(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RETENTION_PERIOD) => {}
                _ = shutdown.changed() => return,
            }
            let state = self.clone();
            match tokio::task::spawn_blocking(move || state.purge_expired()).await {
                Ok(Err(e)) => tracing::error!(error = %e, "retention purge failed; will retry in an hour"),
                Err(e) => tracing::error!(error = %e, "retention purge task failed"),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Recomputes when new events arrive (at most once per `min_gap`) and every `period` anyway,
    /// since waiting and stalled gauges move with time alone.
    async fn run_recompute(self: Arc<Self>, min_gap: Duration, period: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            let state = self.clone();
            match tokio::task::spawn_blocking(move || state.recompute_now()).await {
                Ok(Err(e)) => tracing::error!(error = %e, "recompute failed"),
                Err(e) => tracing::error!(error = %e, "recompute task failed"),
                Ok(Ok(())) => {}
            }
            tokio::select! {
                _ = self.recompute.notified() => {}
                _ = tokio::time::sleep(period) => {}
                _ = shutdown.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(min_gap) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Options of a running daemon beyond the config file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub recompute_min_gap: Duration,
    pub recompute_period: Duration,
    /// Overrides every source's interval (the demo polls its simulated org every few seconds).
    pub source_interval: Option<Ts>,
    /// TLS and basic auth on the listener (`--web.config.file`); None serves plain HTTP.
    pub web: Option<Arc<crate::webconfig::WebConfig>>,
    /// `--web.external-url`: the routes' prefix and the origin of every link (None: derived from
    /// the listener's address).
    pub external_url: Option<crate::pages::ExternalUrl>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            recompute_min_gap: Duration::from_secs(2),
            recompute_period: Duration::from_secs(60),
            source_interval: None,
            web: None,
            external_url: None,
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. The SIGTERM handler is installed when this is called (call
/// it before starting work, so that a signal arriving early is not the default: a kill without
/// cleanup), not when the future is first polled.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
    }
}

/// Runs sources, recompute and the HTTP server until a shutdown signal; returns when the
/// commits in flight are done.
pub async fn run(state: Arc<State>, listener: tokio::net::TcpListener, opts: RunOptions) -> Result<(), String> {
    let signal = shutdown_signal();
    let (tx, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(pg) = &state.config.store.postgres {
        let pg = pg.clone();
        let keeper = tokio::task::spawn_blocking(move || crate::store::PostgresStore::open(&pg))
            .await
            .map_err(|e| format!("opening the lease connection failed: {e}"))?
            .map_err(|e| e.to_string())?;
        let period = Duration::from_secs(state.config.store.lease.max(1) as u64);
        let replica = Replica::new(Replica::new_id(), period, Box::new(keeper), state.config.sources.len());
        tracing::info!(replica = %replica.id, lease_seconds = period.as_secs(), "running as a replica of the PostgreSQL store");
        state.leader_gauge.set(false);
        let _ = state.replica.set(replica);
        // A replica exports the health of the sources it holds, from when it holds them.
        for sc in &state.config.sources {
            state.telemetry.forget_source(&sc.name);
        }
        // The first round before the sources start: the presence counts in every share from now.
        let first = state.clone();
        let tick = tokio::task::spawn_blocking(move || first.replica.get().expect("set").tick())
            .await
            .map_err(|e| format!("the replica's first round failed: {e}"))?;
        if tick.became_leader {
            tracing::info!("this replica is the leader: it computes and exports the signal families");
            state.leader_gauge.set(true);
        } else {
            state.pages.set_elsewhere(Some(state.replica.get().expect("set").served_elsewhere()));
            // A follower computes nothing: the frame loaded at start goes (a new leader loads anew).
            *lock(&state.frame) = Frame::new();
            state.frame_held.store(false, Ordering::Release);
        }
        tasks.push(tokio::spawn(state.clone().run_replica(rx.clone())));
    }
    for sc in &state.config.sources {
        let interval = opts.source_interval.unwrap_or(sc.interval);
        let mut source = make_source(sc, state.clock.clone());
        source.attach_health(state.telemetry.clone());
        let prepared = state.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let result = prepared.prepare_source(source.as_ref());
            (source, result)
        })
        .await
        .map_err(|e| format!("preparing a source failed: {e}"))?;
        source = checked.0;
        checked.1?;
        tasks.push(tokio::spawn(state.clone().run_source(source, interval, rx.clone())));
    }
    if state.config.store.keep.is_some() {
        tasks.push(tokio::spawn(state.clone().run_retention(rx.clone())));
    }
    tasks.push(tokio::spawn(state.clone().run_recompute(opts.recompute_min_gap, opts.recompute_period, rx.clone())));
    let mut server_rx = rx.clone();
    let tls = opts.web.as_ref().is_some_and(|w| w.tls.is_some());
    let base = match &opts.external_url {
        Some(url) => url.clone(),
        None => crate::pages::ExternalUrl::derived(
            listener.local_addr().map_err(|e| format!("the listener has no address: {e}"))?,
            tls,
        ),
    };
    let report =
        crate::report::daemon_producer(state.clone(), Some(base.join("", "")), state.config.server.name_people);
    // A follower holds no computation: its report would be empty, so it says where to ask.
    let report: crate::report::ReportProducer = match state.replica.get() {
        None => report,
        Some(_) => {
            let leading = state.clone();
            Arc::new(move |format| match leading.replica.get() {
                Some(replica) if !replica.is_leader() => {
                    let elsewhere = replica.served_elsewhere();
                    Err(crate::report::ReportError::Elsewhere {
                        message: elsewhere.message,
                        retry_after_seconds: elsewhere.retry_after_seconds,
                    })
                }
                _ => report(format),
            })
        }
    };
    let readiness = state.readiness.clone();
    let routes = crate::server::Routes {
        exporter: state.exporter.clone(),
        ready: Arc::new(move || readiness.check()),
        report: Some(report),
        pages: Some(state.pages.clone()),
        base: Arc::new(base),
    };
    let server = tokio::spawn(crate::server::serve_secured(
        listener,
        routes,
        state.connections.clone(),
        opts.web.clone(),
        async move {
            let _ = server_rx.changed().await;
        },
    ));
    signal.await;
    tracing::info!("shutting down: finishing the commits in flight");
    let _ = tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    if state.replica.get().is_some() {
        // The commits in flight are done: the others may take over at once.
        let releasing = state.clone();
        let _ = tokio::task::spawn_blocking(move || releasing.replica.get().expect("set").release_all()).await;
        tracing::info!("every lease of this replica is released: the others take its sources over now");
    }
    // The server began its graceful shutdown with the sources; a client still sending (or
    // reading) slowly gets this much longer, then is cut off, so the process exits well inside
    // the 30 s systemd and Kubernetes give.
    let mut server = server;
    match tokio::time::timeout(HTTP_SHUTDOWN_GRACE, &mut server).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("HTTP server failed: {e}")),
        Ok(Err(e)) => Err(format!("HTTP server task failed: {e}")),
        Err(_) => {
            tracing::warn!(
                grace_seconds = HTTP_SHUTDOWN_GRACE.as_secs(),
                "shutting down: HTTP connections still open after the grace period are closed"
            );
            server.abort();
            Ok(())
        }
    }
}

/// How long open HTTP connections may take to finish once the commits in flight are done.
const HTTP_SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A source whose every step fails with one error, counting its steps.
    struct Failing {
        kind: &'static str,
        steps: Arc<AtomicU32>,
    }

    impl Source for Failing {
        fn name(&self) -> &str {
            "failing"
        }
        fn step<'a>(&'a mut self, _: Option<&'a str>, _: Ts) -> crate::sources::StepFuture<'a> {
            self.steps.fetch_add(1, Ordering::SeqCst);
            let kind = self.kind;
            Box::pin(async move {
                Err(SourceError { kind, message: "organizations entry \"alice\" is a user account".into() })
            })
        }
    }

    #[tokio::test]
    async fn a_config_error_stops_the_source_instead_of_retrying_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        // Configured under the failing source's name, so readiness waits for its first pass.
        let config =
            Config::parse("[[sources]]\nname = \"failing\"\nkind = \"simulator\"\n", Path::new("siloscope.toml"))
                .unwrap();
        let state = State::new(config, Box::new(store), Arc::new(SystemClock)).unwrap();
        state.telemetry.register_source("failing");
        let (_tx, rx) = watch::channel(false);
        let steps = Arc::new(AtomicU32::new(0));
        let run = state.clone().run_source(Box::new(Failing { kind: "config", steps: steps.clone() }), 1, rx);
        // Any other error is retried every interval (1 s here) for ever: this would time out.
        tokio::time::timeout(Duration::from_secs(60), run).await.expect("a config error ends the source's schedule");
        assert_eq!(steps.load(Ordering::SeqCst), 1);
        // Its first pass is over (failed): readiness does not wait for it for ever.
        let why = state.readiness.check().expect_err("no computation was published yet");
        assert!(!why.contains("failing"), "{why}");
        let metrics = state.exporter.render();
        assert!(
            metrics.lines().any(|l| l.starts_with("siloscope_source_errors_total")
                && l.contains("source=\"failing\"")
                && l.contains("kind=\"config\"")
                && l.ends_with(" 1")),
            "{metrics}"
        );
    }

    #[test]
    fn ready_once_every_first_pass_is_done_and_a_computation_including_it_is_published() {
        let r = Readiness::new(["github", "jira"]);
        r.published(0); // the computation over what was already stored
        let why = r.check().unwrap_err();
        assert!(why.contains("github, jira"), "{why}");
        r.first_pass_done("jira", 3); // failed or caught up: either way done
        r.published(3);
        assert!(r.check().unwrap_err().contains("github"));
        r.first_pass_done("github", 7);
        // A computation started before github's last commit does not count.
        r.published(6);
        assert!(r.check().unwrap_err().contains("still being computed"));
        r.published(7);
        assert_eq!(r.check(), Ok(()));
        // A later pass of a source changes nothing.
        r.first_pass_done("github", 9);
        assert_eq!(r.check(), Ok(()));
        // Without sources: ready at the first computation.
        let none = Readiness::new([]);
        assert!(none.check().is_err());
        none.published(0);
        assert_eq!(none.check(), Ok(()));
    }
}
