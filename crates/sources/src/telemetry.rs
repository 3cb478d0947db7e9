//! The sources' own telemetry (SIGNALS.md §9, last paragraph): source up, last success, requests
//! by status, rate-limit headroom, sync durations, errors by kind, events ingested and backfill
//! progress, per source, plus the tally the progress figures read. It registers its families into
//! the registry the daemon hands it (names, HELP texts and units from the metric catalogue); it
//! knows nothing of the exporter, the signals or the listener.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use siloscope_catalogue as catalogue;

use crate::model::Ts;
use crate::mutex::lock;
use crate::sources::ERROR_KINDS;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceStatusLabels {
    source: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceKindLabels {
    source: String,
    kind: String,
}

fn sync_buckets() -> impl Iterator<Item = f64> {
    [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0].into_iter()
}

/// The per-source series, updated as sources sync and their API clients send requests.
#[derive(Debug)]
pub struct SourceTelemetry {
    source_up: Family<SourceLabels, Gauge>,
    last_success: Family<SourceLabels, Gauge<f64, AtomicU64>>,
    requests: Family<SourceStatusLabels, Counter>,
    rate_limit_remaining: Family<SourceLabels, Gauge>,
    sync_duration: Family<SourceLabels, Histogram, fn() -> Histogram>,
    errors: Family<SourceKindLabels, Counter>,
    events_ingested: Family<SourceLabels, Counter>,
    /// How far the first backfill of this process has come, and its ETA (src/progress.rs).
    backfill_ratio: Family<SourceLabels, Gauge<f64, AtomicU64>>,
    backfill_eta: Family<SourceLabels, Gauge<f64, AtomicU64>>,
    /// Requests and rate-limit state per source, readable for the progress figures.
    tally: Mutex<HashMap<String, SourceTally>>,
}

/// What a source's API client has done, as the progress figures read it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SourceTally {
    pub requests: u64,
    pub rate_limit: Option<crate::progress::RateLimit>,
}

impl Default for SourceTelemetry {
    fn default() -> Self {
        SourceTelemetry {
            source_up: Family::default(),
            last_success: Family::default(),
            requests: Family::default(),
            rate_limit_remaining: Family::default(),
            sync_duration: Family::new_with_constructor(|| Histogram::new(sync_buckets())),
            errors: Family::default(),
            events_ingested: Family::default(),
            backfill_ratio: Family::default(),
            backfill_eta: Family::default(),
            tally: Default::default(),
        }
    }
}

impl SourceTelemetry {
    /// Adds the sources' families to `registry`, in the order `/metrics` lists them.
    pub fn register(&self, registry: &mut Registry) {
        // Names, HELP texts and units are the metric catalogue's (crates/catalogue).
        registry.register(
            catalogue::SOURCE_UP.name,
            catalogue::SOURCE_UP.help_without_full_stop(),
            self.source_up.clone(),
        );
        registry.register_with_unit(
            catalogue::SOURCE_LAST_SUCCESS.stem(),
            catalogue::SOURCE_LAST_SUCCESS.help_without_full_stop(),
            Unit::Seconds,
            self.last_success.clone(),
        );
        registry.register(
            catalogue::SOURCE_REQUESTS.name,
            catalogue::SOURCE_REQUESTS.help_without_full_stop(),
            self.requests.clone(),
        );
        registry.register(
            catalogue::SOURCE_RATE_LIMIT_REMAINING.name,
            catalogue::SOURCE_RATE_LIMIT_REMAINING.help_without_full_stop(),
            self.rate_limit_remaining.clone(),
        );
        registry.register_with_unit(
            catalogue::SOURCE_SYNC_DURATION.stem(),
            catalogue::SOURCE_SYNC_DURATION.help_without_full_stop(),
            Unit::Seconds,
            self.sync_duration.clone(),
        );
        registry.register(
            catalogue::SOURCE_ERRORS.name,
            catalogue::SOURCE_ERRORS.help_without_full_stop(),
            self.errors.clone(),
        );
        registry.register(
            catalogue::EVENTS_INGESTED.name,
            catalogue::EVENTS_INGESTED.help_without_full_stop(),
            self.events_ingested.clone(),
        );
        registry.register(
            catalogue::SOURCE_BACKFILL_PROGRESS.name,
            catalogue::SOURCE_BACKFILL_PROGRESS.help_without_full_stop(),
            self.backfill_ratio.clone(),
        );
        registry.register_with_unit(
            catalogue::SOURCE_BACKFILL_ETA.stem(),
            catalogue::SOURCE_BACKFILL_ETA.help_without_full_stop(),
            Unit::Seconds,
            self.backfill_eta.clone(),
        );
    }

    fn tally_mut(&self, source: &str, f: impl FnOnce(&mut SourceTally)) {
        let mut t = lock(&self.tally);
        f(t.entry(source.to_string()).or_default());
    }

    /// Requests sent and the last rate-limit state of `source`, over the process's life.
    pub fn tally(&self, source: &str) -> SourceTally {
        lock(&self.tally).get(source).copied().unwrap_or_default()
    }

    /// When the source's current rate-limit window resets (Unix seconds), with the headroom.
    pub fn set_rate_limit_reset(&self, source: &str, reset_at: f64) {
        self.tally_mut(source, |t| {
            t.rate_limit.get_or_insert_with(Default::default).reset_at = Some(reset_at);
        });
    }

    /// How far the source's first backfill has come (0..=1, 1 once caught up) and its ETA.
    pub fn set_backfill_progress(&self, source: &str, ratio: f64, eta_seconds: Option<f64>) {
        self.backfill_ratio.get_or_create(&src(source)).set(ratio);
        if let Some(eta) = eta_seconds {
            self.backfill_eta.get_or_create(&src(source)).set(eta);
        }
    }

    /// Declares a configured source so its series exist (down) before its first sync.
    pub fn register_source(&self, source: &str) {
        let _ = self.source_up.get_or_create(&src(source));
        let _ = self.events_ingested.get_or_create(&src(source));
        let _ = self.backfill_ratio.get_or_create(&src(source));
        for kind in ERROR_KINDS {
            let _ = self.errors.get_or_create(&SourceKindLabels { source: source.into(), kind: kind.into() });
        }
    }

    /// Takes a source's gauges and sync histogram down (a replica that no longer syncs it: the
    /// replica holding it exports them, so a follower's stale `up` or last success never alerts).
    /// Its counters stay: they only ever count what this process did.
    pub fn forget_source(&self, source: &str) {
        let labels = src(source);
        self.source_up.remove(&labels);
        self.last_success.remove(&labels);
        self.rate_limit_remaining.remove(&labels);
        self.sync_duration.remove(&labels);
        self.backfill_ratio.remove(&labels);
        self.backfill_eta.remove(&labels);
    }

    /// A sync finished: up or down, how long it took, how many new events it stored.
    pub fn record_sync(&self, source: &str, ok: bool, seconds: f64, new_events: u64, wall_now: Ts) {
        self.source_up.get_or_create(&src(source)).set(ok as i64);
        if ok {
            self.last_success.get_or_create(&src(source)).set(wall_now as f64);
        }
        self.sync_duration.get_or_create(&src(source)).observe(seconds);
        self.events_ingested.get_or_create(&src(source)).inc_by(new_events);
    }

    /// Adds new events to the ingest counter without closing a sync (long backfills).
    pub fn record_ingest(&self, source: &str, new_events: u64) {
        self.events_ingested.get_or_create(&src(source)).inc_by(new_events);
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
        self.rate_limit_remaining.get_or_create(&src(source)).set(remaining);
        self.tally_mut(source, |t| t.rate_limit.get_or_insert_with(Default::default).remaining = remaining);
    }
}

fn src(source: &str) -> SourceLabels {
    SourceLabels { source: source.to_string() }
}
