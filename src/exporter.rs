//! Turns the last computed `Signals` into the Prometheus exposition (SIGNALS.md §9) and keeps the
//! daemon's own health metrics. A scrape only encodes the published snapshot: it never computes,
//! never touches the store, and series that vanished from the snapshot vanish from the output.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram as PromHistogram;
use prometheus_client::registry::{Registry, Unit};

use crate::model::Ts;
use crate::signals::{Histogram, Signals};
use crate::store::ItemCount;

/// What a scrape shows: the signals at the last computation and the store's item counts.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub signals: Signals,
    pub items: Vec<ItemCount>,
    pub events_stored: u64,
    /// Wall-clock time of the computation (the `now` of the signals may be simulated).
    pub computed_at: Ts,
    pub compute_seconds: f64,
}

type Labels = Vec<(&'static str, String)>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSetDerive)]
struct SourceLabels {
    source: String,
}

use prometheus_client::encoding::EncodeLabelSet as EncodeLabelSetDerive;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSetDerive)]
struct SourceStatusLabels {
    source: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSetDerive)]
struct SourceKindLabels {
    source: String,
    kind: String,
}

fn sync_buckets() -> impl Iterator<Item = f64> {
    [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0].into_iter()
}

/// The daemon's own health metrics, updated as sources sync (SIGNALS.md §9, last paragraph).
#[derive(Debug)]
pub struct Health {
    source_up: Family<SourceLabels, Gauge>,
    last_success: Family<SourceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    requests: Family<SourceStatusLabels, Counter>,
    rate_limit_remaining: Family<SourceLabels, Gauge>,
    sync_duration: Family<SourceLabels, PromHistogram, fn() -> PromHistogram>,
    errors: Family<SourceKindLabels, Counter>,
    events_ingested: Family<SourceLabels, Counter>,
    /// Directory coverage per source and window (src/coverage.rs), set after each computation.
    coverage_events: Family<SourceWindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    coverage_identities: Family<SourceWindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    unresolved_identities: Family<SourceWindowLabels, Gauge>,
    coverage_warning: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// How far the first backfill of this process has come, and its ETA (src/progress.rs).
    backfill_ratio: Family<SourceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    backfill_eta: Family<SourceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Requests and rate-limit state per source, readable for the progress figures.
    tally: std::sync::Mutex<std::collections::HashMap<String, SourceTally>>,
}

/// What a source's API client has done, as the progress figures read it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SourceTally {
    pub requests: u64,
    pub rate_limit: Option<crate::progress::RateLimit>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSetDerive)]
struct SourceWindowLabels {
    source: String,
    window: String,
}

impl Health {
    fn new() -> Self {
        Health {
            source_up: Family::default(),
            last_success: Family::default(),
            requests: Family::default(),
            rate_limit_remaining: Family::default(),
            sync_duration: Family::new_with_constructor(|| PromHistogram::new(sync_buckets())),
            errors: Family::default(),
            events_ingested: Family::default(),
            coverage_events: Family::default(),
            coverage_identities: Family::default(),
            unresolved_identities: Family::default(),
            coverage_warning: Gauge::default(),
            backfill_ratio: Family::default(),
            backfill_eta: Family::default(),
            tally: Default::default(),
        }
    }

    fn tally_mut(&self, source: &str, f: impl FnOnce(&mut SourceTally)) {
        let mut t = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        f(t.entry(source.to_string()).or_default());
    }

    /// Requests sent and the last rate-limit state of `source`, over the process's life.
    pub fn tally(&self, source: &str) -> SourceTally {
        self.tally.lock().unwrap_or_else(|e| e.into_inner()).get(source).copied().unwrap_or_default()
    }

    /// When the source's current rate-limit window resets (Unix seconds), with the headroom.
    pub fn set_rate_limit_reset(&self, source: &str, reset_at: f64) {
        self.tally_mut(source, |t| {
            t.rate_limit.get_or_insert_with(Default::default).reset_at = Some(reset_at);
        });
    }

    /// How far the source's first backfill has come (0..=1, 1 once caught up) and its ETA.
    pub fn set_backfill_progress(&self, source: &str, ratio: f64, eta_seconds: Option<f64>) {
        self.backfill_ratio.get_or_create(&Self::src(source)).set(ratio);
        if let Some(eta) = eta_seconds {
            self.backfill_eta.get_or_create(&Self::src(source)).set(eta);
        }
    }

    /// Publishes the directory coverage of the last computation, `(window, per source)`; series of
    /// sources or windows no longer present vanish. `warning` is `[signals] coverage_warning`.
    pub fn set_directory_coverage(&self, by_window: &[(String, Vec<crate::coverage::SourceCoverage>)], warning: f64) {
        self.coverage_events.clear();
        self.coverage_identities.clear();
        self.unresolved_identities.clear();
        self.coverage_warning.set(warning);
        for (window, sources) in by_window {
            for c in sources {
                let labels = SourceWindowLabels { source: c.source.clone(), window: window.clone() };
                if let Some(share) = c.event_share() {
                    self.coverage_events.get_or_create(&labels).set(share);
                }
                if let Some(share) = c.identity_share() {
                    self.coverage_identities.get_or_create(&labels).set(share);
                }
                self.unresolved_identities.get_or_create(&labels).set(c.unresolved_identities() as i64);
            }
        }
    }

    fn src(source: &str) -> SourceLabels {
        SourceLabels { source: source.to_string() }
    }

    /// Declares a configured source so its series exist (down) before its first sync.
    pub fn register_source(&self, source: &str) {
        let _ = self.source_up.get_or_create(&Self::src(source));
        let _ = self.events_ingested.get_or_create(&Self::src(source));
        let _ = self.backfill_ratio.get_or_create(&Self::src(source));
        for kind in crate::sources::ERROR_KINDS {
            let _ = self.errors.get_or_create(&SourceKindLabels { source: source.into(), kind: kind.into() });
        }
    }

    /// A sync finished: up or down, how long it took, how many new events it stored.
    pub fn record_sync(&self, source: &str, ok: bool, seconds: f64, new_events: u64, wall_now: Ts) {
        self.source_up.get_or_create(&Self::src(source)).set(ok as i64);
        if ok {
            self.last_success.get_or_create(&Self::src(source)).set(wall_now as f64);
        }
        self.sync_duration.get_or_create(&Self::src(source)).observe(seconds);
        self.events_ingested.get_or_create(&Self::src(source)).inc_by(new_events);
    }

    /// Adds new events to the ingest counter without closing a sync (long backfills).
    pub fn record_ingest(&self, source: &str, new_events: u64) {
        self.events_ingested.get_or_create(&Self::src(source)).inc_by(new_events);
    }

    /// One API request and its HTTP status (or `error` for transport failures).
    pub fn record_request(&self, source: &str, status: &str) {
        self.requests.get_or_create(&SourceStatusLabels { source: source.into(), status: status.into() }).inc();
        self.tally_mut(source, |t| t.requests += 1);
    }

    pub fn record_error(&self, source: &str, kind: &str) {
        self.errors.get_or_create(&SourceKindLabels { source: source.into(), kind: kind.into() }).inc();
    }

    pub fn set_rate_limit_remaining(&self, source: &str, remaining: i64) {
        self.rate_limit_remaining.get_or_create(&Self::src(source)).set(remaining);
        self.tally_mut(source, |t| t.rate_limit.get_or_insert_with(Default::default).remaining = remaining);
    }
}

/// Encodes the published snapshot on each scrape.
#[derive(Debug)]
struct SnapshotCollector {
    snapshot: Arc<RwLock<Option<Arc<Snapshot>>>>,
}

fn family<'a, T>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    rows: impl IntoIterator<Item = (Labels, T)>,
    mut write: impl FnMut(prometheus_client::encoding::MetricEncoder, &T) -> Result<(), std::fmt::Error>,
) -> Result<(), std::fmt::Error>
where
    T: 'a,
{
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_none() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, unit, kind)?;
    for (labels, value) in rows {
        let fam = m.encode_family(&labels)?;
        write(fam, &value)?;
    }
    Ok(())
}

fn counter(mut m: prometheus_client::encoding::MetricEncoder, v: &u64) -> Result<(), std::fmt::Error> {
    m.encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(v, None)
}

fn gauge_f(mut m: prometheus_client::encoding::MetricEncoder, v: &f64) -> Result<(), std::fmt::Error> {
    m.encode_gauge(v)
}

fn gauge_i(mut m: prometheus_client::encoding::MetricEncoder, v: &u64) -> Result<(), std::fmt::Error> {
    m.encode_gauge(&(*v as i64))
}

fn histogram(mut m: prometheus_client::encoding::MetricEncoder, h: &&Histogram) -> Result<(), std::fmt::Error> {
    // The encoder accumulates per-bucket counts itself: pass them non-cumulative, +Inf last.
    let mut buckets: Vec<(f64, u64)> =
        crate::signals::LATENCY_BUCKETS.iter().copied().zip(h.buckets.iter().copied()).collect();
    buckets.push((f64::INFINITY, h.buckets[crate::signals::LATENCY_BUCKETS.len()]));
    m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(h.sum, h.count, &buckets, None)
}

fn l<const N: usize>(pairs: [(&'static str, &str); N]) -> Labels {
    pairs.into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(snap) = self.snapshot.read().unwrap_or_else(|e| e.into_inner()).clone() else { return Ok(()) };
        let s = &snap.signals;
        let secs = Some(&Unit::Seconds);
        use MetricType::{Counter as C, Gauge as G, Histogram as H};
        family(
            &mut enc,
            "siloscope_handoffs",
            "Handoffs between teams: custody moved from from_team to to_team, or a cross-team review was requested.",
            None,
            C,
            s.handoffs_total.iter().map(|((src, k, f, t), v)| {
                (l([("source", src), ("kind", k.as_str()), ("from_team", f), ("to_team", t)]), *v)
            }),
            counter,
        )?;
        family(
            &mut enc,
            "siloscope_handoff_latency",
            "Time from a handoff until the first event on the item by a member of the receiving team (acknowledgement).",
            secs,
            H,
            s.handoff_latency
                .iter()
                .map(|((k, f, t), h)| (l([("kind", k.as_str()), ("from_team", f), ("to_team", t)]), h)),
            histogram,
        )?;
        family(
            &mut enc,
            "siloscope_handoffs_waiting",
            "Handoffs not acknowledged yet, with the item still open and still with the receiving team.",
            None,
            G,
            s.handoffs_waiting
                .iter()
                .map(|((k, f, t), v)| (l([("kind", k.as_str()), ("from_team", f), ("to_team", t)]), *v)),
            gauge_i,
        )?;
        family(
            &mut enc,
            "siloscope_handoffs_stalled",
            "Waiting handoffs that have waited longer than their stall threshold.",
            None,
            G,
            s.handoffs_stalled
                .iter()
                .map(|((k, f, t), v)| (l([("kind", k.as_str()), ("from_team", f), ("to_team", t)]), *v)),
            gauge_i,
        )?;
        family(
            &mut enc,
            "siloscope_handoff_oldest_wait",
            "How long the oldest waiting handoff to the team has waited (0 when none waits).",
            secs,
            G,
            s.handoff_oldest_wait.iter().map(|(t, v)| (l([("to_team", t)]), *v)),
            gauge_f,
        )?;
        family(
            &mut enc,
            "siloscope_handoff_bounces",
            "Custody returned to from_team from to_team within the bounce window of from_team handing it to to_team.",
            None,
            C,
            s.bounces_total.iter().map(|((f, t), v)| (l([("from_team", f), ("to_team", t)]), *v)),
            counter,
        )?;
        family(
            &mut enc,
            "siloscope_decisions",
            "Decisions made (closed as completed, merged, or accepted), by the team holding them.",
            None,
            C,
            s.decisions_total.iter().map(|(t, v)| (l([("team", t)]), *v)),
            counter,
        )?;
        family(
            &mut enc,
            "siloscope_decisions_rehashed",
            "Decisions rehashed within the rehash window after they were made, by first reason.",
            None,
            C,
            s.decisions_rehashed_total.iter().map(|((t, r), v)| (l([("team", t), ("reason", r.as_str())]), *v)),
            counter,
        )?;
        family(
            &mut enc,
            "siloscope_rework",
            "Rework: items reopened after close, merged changes later reverted.",
            None,
            C,
            s.rework_total.iter().map(|((t, k), v)| (l([("team", t), ("kind", k.as_str())]), *v)),
            counter,
        )?;
        family(
            &mut enc,
            "siloscope_reviews",
            "Submitted reviews by the author's team and the reviewer's team at review time.",
            None,
            C,
            s.reviews_total
                .iter()
                .map(|((a, r, st), v)| (l([("author_team", a), ("reviewer_team", r), ("state", st.as_str())]), *v)),
            counter,
        )?;
        family(
            &mut enc,
            "siloscope_review_pickup",
            "Time from a review request to the first review by the requested person or team, draft time excluded.",
            secs,
            H,
            s.review_pickup.iter().map(|((a, r), h)| (l([("author_team", a), ("reviewer_team", r)]), h)),
            histogram,
        )?;
        family(
            &mut enc,
            "siloscope_review_reciprocity_ratio",
            "min/max of reviews given each way between two teams in the window (1 = balanced).",
            None,
            G,
            s.review_reciprocity.iter().map(|((a, b, w), v)| (l([("team_a", a), ("team_b", b), ("window", w)]), *v)),
            gauge_f,
        )?;
        family(
            &mut enc,
            "siloscope_engagements",
            "Comments, reviews and team mentions by members of actor_team on items held by owner_team.",
            None,
            C,
            s.engagements_total
                .iter()
                .map(|((a, o, k), v)| (l([("actor_team", a), ("owner_team", o), ("kind", k.as_str())]), *v)),
            counter,
        )?;
        family(
            &mut enc,
            "siloscope_first_response",
            "Time from an item opened by requester_team and held by owner_team to the first event by owner_team.",
            secs,
            H,
            s.first_response.iter().map(|((r, o), h)| (l([("requester_team", r), ("owner_team", o)]), h)),
            histogram,
        )?;
        family(
            &mut enc,
            "siloscope_joint_wins",
            "Items completed with contributors from at least two teams, counted for each team involved.",
            None,
            C,
            s.joint_wins_total.iter().map(|(t, v)| (l([("team", t)]), *v)),
            counter,
        )?;
        family(
            &mut enc,
            "siloscope_bridge_people",
            "People of the team who interacted with items of at least two other teams in the window.",
            None,
            G,
            s.bridge_people.iter().map(|((t, w), v)| (l([("team", t), ("window", w)]), *v)),
            gauge_i,
        )?;
        family(
            &mut enc,
            "siloscope_silo_index",
            "Share of the team's interactions that stay on its own items in the window (1 = fully siloed).",
            None,
            G,
            s.silo_index.iter().map(|((t, w), v)| (l([("team", t), ("window", w)]), *v)),
            gauge_f,
        )?;
        family(
            &mut enc,
            "siloscope_team_members",
            "Current members of the team (bots excluded).",
            None,
            G,
            s.team_members.iter().map(|(t, v)| (l([("team", t)]), *v)),
            gauge_i,
        )?;
        family(
            &mut enc,
            "siloscope_items",
            "Work items in the store by source, kind and state.",
            None,
            G,
            snap.items
                .iter()
                .map(|c| (l([("source", &c.source), ("kind", c.kind.as_str()), ("state", c.state.as_str())]), c.count)),
            gauge_i,
        )?;
        family(
            &mut enc,
            "siloscope_events_stored",
            "Activity events in the store.",
            None,
            G,
            [(Vec::new(), snap.events_stored)],
            gauge_i,
        )?;
        family(
            &mut enc,
            "siloscope_last_compute_timestamp",
            "When the signals were last computed (Unix time).",
            secs,
            G,
            [(Vec::new(), snap.computed_at as f64)],
            gauge_f,
        )?;
        family(
            &mut enc,
            "siloscope_compute_duration",
            "How long the last computation of the signals took.",
            secs,
            G,
            [(Vec::new(), snap.compute_seconds)],
            gauge_f,
        )?;
        Ok(())
    }
}

/// The health registry, plus the published snapshot encoded once at publish time: a scrape
/// encodes only the few health series and copies the cached text.
#[derive(Debug)]
pub struct Exporter {
    registry: Registry,
    pub health: Arc<Health>,
    /// The listener's connections (`siloscope_http_connections*`).
    pub connections: Arc<crate::connections::ConnectionMetrics>,
    snapshot: Arc<RwLock<Option<Arc<Snapshot>>>>,
    /// OpenMetrics text of the snapshot families (no `# EOF`), encoded by `publish`.
    snapshot_text: RwLock<Arc<String>>,
    ready: AtomicBool,
}

impl Default for Exporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Exporter {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let health = Health::new();
        let build_info: Family<Vec<(String, String)>, Gauge> = Family::default();
        let _ = build_info.get_or_create(&vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())]).set(1);
        registry.register("siloscope_build_info", "siloscope version; always 1", build_info);
        registry.register("siloscope_source_up", "1 when the source's last sync succeeded", health.source_up.clone());
        registry.register_with_unit(
            "siloscope_source_last_success_timestamp",
            "When the source last synced successfully (Unix time)",
            Unit::Seconds,
            health.last_success.clone(),
        );
        registry.register(
            "siloscope_source_requests",
            "API requests made by the source, by HTTP status",
            health.requests.clone(),
        );
        registry.register(
            "siloscope_source_rate_limit_remaining",
            "Requests (or points) left in the source's current rate-limit window",
            health.rate_limit_remaining.clone(),
        );
        registry.register_with_unit(
            "siloscope_source_sync_duration",
            "Duration of the source's syncs",
            Unit::Seconds,
            health.sync_duration.clone(),
        );
        registry.register(
            "siloscope_source_errors",
            "Source errors by kind (transport, http, rate_limit, malformed, store, ceiling, loop, …)",
            health.errors.clone(),
        );
        registry.register(
            "siloscope_events_ingested",
            "New events stored by this process, per source",
            health.events_ingested.clone(),
        );
        registry.register(
            "siloscope_source_backfill_progress_ratio",
            "How far this process's first sync of the source has come through the history to cover (1 once caught up)",
            health.backfill_ratio.clone(),
        );
        registry.register_with_unit(
            "siloscope_source_backfill_eta",
            "Time the first sync of the source still needs, at its pace and its rate limit (0 once caught up)",
            Unit::Seconds,
            health.backfill_eta.clone(),
        );
        registry.register(
            "siloscope_directory_event_coverage_ratio",
            "Share of the source's events in the window (bots and actor-less events excluded) whose actor the team directory resolves to a team at the event's time",
            health.coverage_events.clone(),
        );
        registry.register(
            "siloscope_directory_identity_coverage_ratio",
            "Share of the source's active identities in the window (bots excluded) that the team directory resolves to a team at their latest event",
            health.coverage_identities.clone(),
        );
        registry.register(
            "siloscope_directory_unresolved_identities",
            "Active identities of the source in the window that the team directory resolves to no team (run `siloscope teams suggest`)",
            health.unresolved_identities.clone(),
        );
        registry.register(
            "siloscope_directory_coverage_warning_ratio",
            "The configured event coverage under which siloscope warns ([signals] coverage_warning)",
            health.coverage_warning.clone(),
        );
        let connections = Arc::new(crate::connections::ConnectionMetrics::default());
        connections.register(&mut registry);
        Exporter {
            registry,
            health: Arc::new(health),
            connections,
            snapshot: Arc::new(RwLock::new(None)),
            snapshot_text: RwLock::new(Arc::new(String::new())),
            ready: AtomicBool::new(false),
        }
    }

    /// Publishes a new computation, encoding it once; the next scrape shows it.
    pub fn publish(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        let mut encoder_registry = Registry::default();
        encoder_registry.register_collector(Box::new(SnapshotCollector {
            snapshot: Arc::new(RwLock::new(Some(snapshot.clone()))),
        }));
        let mut text = String::with_capacity(self.snapshot_text.read().unwrap_or_else(|e| e.into_inner()).len() + 4096);
        prometheus_client::encoding::text::encode_registry(&mut text, &encoder_registry)
            .expect("writing to a String cannot fail");
        *self.snapshot_text.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(text);
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        self.ready.store(true, Ordering::Release);
    }

    /// Ready once the first computation is published.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The OpenMetrics text of everything, ending in `# EOF`: the health series encoded now, the
    /// snapshot's text as published.
    pub fn render(&self) -> String {
        let cached = self.snapshot_text.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out = String::with_capacity(cached.len() + 16 * 1024);
        prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out.push_str(&cached);
        prometheus_client::encoding::text::encode_eof(&mut out).expect("writing to a String cannot fail");
        out
    }
}

/// The content type of [`Exporter::render`].
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[allow(dead_code)]
fn _assert_traits() {
    fn is_metric<T: EncodeMetric>() {}
    is_metric::<Family<SourceLabels, Gauge>>();
    fn is_labels<T: EncodeLabelSet>() {}
    is_labels::<Labels>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::HandoffKind;

    fn snapshot() -> Snapshot {
        let mut s = Signals::default();
        s.handoffs_total.insert(("gh".into(), HandoffKind::Review, "a".into(), "b".into()), 3);
        let mut h = Histogram::default();
        h.observe(100.0);
        h.observe(7200.0);
        s.handoff_latency.insert((HandoffKind::Review, "a".into(), "b".into()), h);
        s.handoffs_stalled.insert((HandoffKind::Review, "a".into(), "b".into()), 1);
        s.review_reciprocity.insert(("a".into(), "b".into(), "7d".into()), 0.25);
        Snapshot { signals: s, events_stored: 9, ..Snapshot::default() }
    }

    #[test]
    fn renders_openmetrics_with_contract_names() {
        let e = Exporter::new();
        assert!(!e.ready());
        e.health.register_source("gh");
        e.health.record_request("gh", "200");
        e.publish(snapshot());
        assert!(e.ready());
        let text = e.render();
        for line in [
            r#"siloscope_handoffs_total{source="gh",kind="review",from_team="a",to_team="b"} 3"#,
            r#"siloscope_handoff_latency_seconds_bucket{le="300.0",kind="review",from_team="a",to_team="b"} 1"#,
            r#"siloscope_handoff_latency_seconds_bucket{le="14400.0",kind="review",from_team="a",to_team="b"} 2"#,
            r#"siloscope_handoff_latency_seconds_bucket{le="+Inf",kind="review",from_team="a",to_team="b"} 2"#,
            r#"siloscope_handoff_latency_seconds_sum{kind="review",from_team="a",to_team="b"} 7300.0"#,
            r#"siloscope_handoffs_stalled{kind="review",from_team="a",to_team="b"} 1"#,
            r#"siloscope_review_reciprocity_ratio{team_a="a",team_b="b",window="7d"} 0.25"#,
            r#"siloscope_source_requests_total{source="gh",status="200"} 1"#,
            r#"siloscope_source_up{source="gh"} 0"#,
            r#"siloscope_build_info{version=""#,
            "# TYPE siloscope_handoffs counter",
            "# UNIT siloscope_handoff_latency_seconds seconds",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        // Families with no series are left out entirely.
        assert!(!text.contains("siloscope_joint_wins"));
    }

    #[test]
    fn vanished_series_disappear_on_next_publish() {
        let e = Exporter::new();
        e.publish(snapshot());
        assert!(e.render().contains("siloscope_handoffs_total"));
        e.publish(Snapshot::default());
        assert!(!e.render().contains("siloscope_handoffs_total"));
    }
}
