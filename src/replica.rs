//! Replicas: several `serve` processes on one PostgreSQL store. Owns this process's replica id,
//! the leases it holds (a source each, the leader's role, its presence), their renewal on a
//! connection of its own, and the fair share of sources among the live replicas. It decides who
//! syncs and who leads; it never syncs, commits or computes itself (the daemon does, asking here).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::mutex::lock;
use crate::store::{LEADER_UNIT, Lease, Store, source_unit};

/// The unit a replica's presence is leased on: live replicas are the unexpired ones.
fn presence_unit(id: &str) -> String {
    format!("replica:{id}")
}

/// `siloscope_leader`: 1 on the replica that computes and exports the signal families (a single
/// process is its own leader), 0 on the others.
#[derive(Debug, Default, Clone)]
pub struct LeaderGauge(Gauge);

impl LeaderGauge {
    pub fn register(&self, registry: &mut Registry) {
        let family = &siloscope_catalogue::LEADER;
        registry.register(family.name, family.help_without_full_stop(), self.0.clone());
    }

    pub fn set(&self, leader: bool) {
        self.0.set(i64::from(leader));
    }
}

/// A lease this replica holds, and when it was last renewed (by this process's monotonic clock:
/// once the lease period has passed without a successful renewal it is given up here too).
struct Held {
    lease: Lease,
    renewed: Instant,
}

/// This process as one of the replicas of a store.
pub struct Replica {
    pub id: String,
    pub period: Duration,
    /// A connection of its own: renewals never wait behind a commit or a frame load.
    keeper: Mutex<Box<dyn Store>>,
    /// Units held now (sources, the leader's role), by unit.
    held: Mutex<BTreeMap<String, Held>>,
    leader: AtomicBool,
    /// Replicas alive at the last look (at least this one).
    live: AtomicUsize,
    /// How many sources are configured, to split among the live replicas.
    sources: usize,
    /// The replica holding the leader's unexpired lease at the last look, if any.
    leader_holder: Mutex<Option<String>>,
}

/// What changed at a tick of the keeper, for the daemon to act on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tick {
    pub became_leader: bool,
    pub lost_leadership: bool,
    /// Source units whose lease was lost (expired or taken over).
    pub lost: Vec<String>,
}

impl Replica {
    /// A replica id: host, process and a random part, so a restarted process is a new holder.
    pub fn new_id() -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "host".into());
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let random = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
        format!("{host}:{}:{:08x}", std::process::id(), random as u32)
    }

    pub fn new(id: String, period: Duration, keeper: Box<dyn Store>, sources: usize) -> Replica {
        Replica {
            id,
            period,
            keeper: Mutex::new(keeper),
            held: Mutex::new(BTreeMap::new()),
            leader: AtomicBool::new(false),
            live: AtomicUsize::new(1),
            sources,
            leader_holder: Mutex::new(None),
        }
    }

    /// How often the keeper renews (a third of the period at most) and looks for new events.
    pub fn tick_period(&self) -> Duration {
        (self.period / 3).min(Duration::from_secs(1))
    }

    /// How long a source not held waits before asking for its lease again.
    pub fn retry_period(&self) -> Duration {
        self.period / 3
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// The lease this replica holds on `source` now, if any.
    pub fn lease_of(&self, source: &str) -> Option<Lease> {
        lock(&self.held).get(&source_unit(source)).map(|h| h.lease.clone())
    }

    /// The sources this replica may hold: its share of the configured ones among the live replicas.
    fn share(&self) -> usize {
        self.sources.div_ceil(self.live.load(Ordering::Acquire).max(1))
    }

    fn held_sources(held: &BTreeMap<String, Held>) -> impl Iterator<Item = &String> {
        held.keys().filter(|u| u.starts_with("source:"))
    }

    /// Whether `source` is beyond this replica's share (the held sources past the first `share` in
    /// name order), so it should hand it over between steps.
    pub fn should_yield(&self, source: &str) -> bool {
        let unit = source_unit(source);
        let held = lock(&self.held);
        Self::held_sources(&held).position(|u| *u == unit).is_some_and(|i| i >= self.share())
    }

    /// Asks for `source`'s lease when this replica holds less than its share (blocking: run off
    /// the runtime). None: another replica holds it, or this one has enough.
    pub fn try_hold(&self, source: &str) -> Result<Option<Lease>, String> {
        let unit = source_unit(source);
        if let Some(h) = lock(&self.held).get(&unit) {
            return Ok(Some(h.lease.clone()));
        }
        if Self::held_sources(&lock(&self.held)).count() >= self.share() {
            return Ok(None);
        }
        let granted = lock(&self.keeper).acquire_lease(&unit, &self.id, self.period).map_err(|e| e.to_string())?;
        if let Some(lease) = &granted {
            lock(&self.held).insert(unit, Held { lease: lease.clone(), renewed: Instant::now() });
        }
        Ok(granted)
    }

    /// Gives `source` up (blocking), so another replica can take it at once.
    pub fn release(&self, source: &str) {
        let Some(held) = lock(&self.held).remove(&source_unit(source)) else { return };
        tracing::info!(source = %source, token = held.lease.token, "released the source's lease");
        if let Err(e) = lock(&self.keeper).release_lease(&held.lease) {
            tracing::warn!(error = %e, unit = %held.lease.unit, "releasing a lease failed; it expires by itself");
        }
    }

    /// Gives every lease up (a clean shutdown: the others take over at once, not after the period).
    pub fn release_all(&self) {
        let held: Vec<Held> = std::mem::take(&mut *lock(&self.held)).into_values().collect();
        let mut keeper = lock(&self.keeper);
        for h in held {
            let _ = keeper.release_lease(&h.lease);
        }
        if let Ok(Some(presence)) = keeper.acquire_lease(&presence_unit(&self.id), &self.id, self.period) {
            let _ = keeper.release_lease(&presence);
        }
        self.leader.store(false, Ordering::Release);
    }

    /// What a follower answers `/report` and the pages with (a 503): which replica leads, if
    /// known, and when to ask again (the leader's role may come here within the lease period).
    pub fn served_elsewhere(&self) -> crate::pages::ServedElsewhere {
        let leader = lock(&self.leader_holder).clone().filter(|l| *l != self.id);
        let message = match leader {
            Some(leader) => format!(
                "this replica ({}) is a follower and computes nothing: replica {leader} leads and serves this; \
                 ask the replica whose siloscope_leader is 1",
                self.id
            ),
            None => format!(
                "this replica ({}) is a follower and computes nothing, and no replica leads right now: one takes \
                 the leader's role within the lease period ({} s); ask the replica whose siloscope_leader is 1",
                self.id,
                self.period.as_secs()
            ),
        };
        crate::pages::ServedElsewhere { message, retry_after_seconds: self.period.as_secs().max(1) }
    }

    /// The store's change number, on the keeper's connection.
    pub fn change_count(&self) -> Result<u64, String> {
        lock(&self.keeper).change_count().map_err(|e| e.to_string())
    }

    /// Who holds `source`'s lease now, and for how many more milliseconds, when it is not this
    /// replica (blocking).
    pub fn holder_of(&self, source: &str) -> Result<Option<(String, i64)>, String> {
        let unit = source_unit(source);
        let all = lock(&self.keeper).leases().map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .find(|l| l.unit == unit && l.remaining_ms > 0 && l.holder != self.id)
            .map(|l| (l.holder, l.remaining_ms)))
    }

    /// One round of the keeper (blocking): renews this replica's presence and every lease it holds,
    /// counts the live replicas, keeps or takes the leader's role.
    pub fn tick(&self) -> Tick {
        let mut keeper = lock(&self.keeper);
        if let Err(e) = keeper.acquire_lease(&presence_unit(&self.id), &self.id, self.period) {
            tracing::warn!(error = %e, "renewing this replica's presence failed; retrying");
        }
        match keeper.leases() {
            Ok(all) => {
                let live = all.iter().filter(|l| l.unit.starts_with("replica:") && l.remaining_ms > 0).count();
                self.live.store(live.max(1), Ordering::Release);
                *lock(&self.leader_holder) =
                    all.iter().find(|l| l.unit == LEADER_UNIT && l.remaining_ms > 0).map(|l| l.holder.clone());
            }
            Err(e) => tracing::warn!(error = %e, "reading the leases failed; retrying"),
        }
        let mut out = Tick { lost: self.renew_on(keeper.as_mut()), ..Tick::default() };
        self.lead_on(keeper.as_mut(), &mut out);
        out
    }

    /// Renews every lease this replica holds (blocking), and no presence nor the leader's role: a
    /// writer command such as `sync --once` holds the sources it syncs and nothing else. The
    /// answer is the units lost (not renewed in time).
    pub fn renew(&self) -> Vec<String> {
        let mut keeper = lock(&self.keeper);
        self.renew_on(keeper.as_mut())
    }

    fn renew_on(&self, keeper: &mut dyn Store) -> Vec<String> {
        let mut lost = Vec::new();
        let held: Vec<Lease> = lock(&self.held).values().map(|h| h.lease.clone()).collect();
        for lease in held {
            match keeper.renew_lease(&lease, self.period) {
                Ok(true) => {
                    if let Some(h) = lock(&self.held).get_mut(&lease.unit) {
                        h.renewed = Instant::now();
                    }
                }
                Ok(false) => {
                    lock(&self.held).remove(&lease.unit);
                    lost.push(lease.unit);
                }
                Err(e) => {
                    // The database is unreachable: past the period the lease is someone else's.
                    let mut held = lock(&self.held);
                    if held.get(&lease.unit).is_some_and(|h| h.renewed.elapsed() >= self.period) {
                        held.remove(&lease.unit);
                        lost.push(lease.unit.clone());
                    }
                    tracing::warn!(error = %e, unit = %lease.unit, "renewing a lease failed; retrying");
                }
            }
        }
        lost
    }

    /// Keeps or takes the leader's role after a renewal round that lost `out.lost`.
    fn lead_on(&self, keeper: &mut dyn Store, out: &mut Tick) {
        if out.lost.iter().any(|u| u == LEADER_UNIT) {
            out.lost.retain(|u| u != LEADER_UNIT);
            self.leader.store(false, Ordering::Release);
            out.lost_leadership = true;
        } else if !self.is_leader() {
            match keeper.acquire_lease(LEADER_UNIT, &self.id, self.period) {
                Ok(Some(lease)) => {
                    lock(&self.held).insert(LEADER_UNIT.into(), Held { lease, renewed: Instant::now() });
                    self.leader.store(true, Ordering::Release);
                    out.became_leader = true;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "asking for the leader's role failed; retrying"),
            }
        }
    }
}
