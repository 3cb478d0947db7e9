//! Turns the last computed `Signals` into the Prometheus exposition (SIGNALS.md §9), with the build
//! info, the directory coverage and the live families other parts register (the sources' telemetry,
//! the listener's connections: the exporter knows neither). A scrape only encodes the published
//! snapshot: it never computes, never touches the store, and series that vanished from the snapshot
//! vanish from the output.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
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

use prometheus_client::encoding::EncodeLabelSet as EncodeLabelSetDerive;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSetDerive)]
struct SourceWindowLabels {
    source: String,
    window: String,
}

/// Directory coverage per source and window (src/coverage.rs), set after each computation: how
/// much of the activity the team directory resolves.
#[derive(Debug, Default)]
pub struct DirectoryCoverage {
    coverage_events: Family<SourceWindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    coverage_identities: Family<SourceWindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    unresolved_identities: Family<SourceWindowLabels, Gauge>,
    coverage_warning: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl DirectoryCoverage {
    /// Adds the directory coverage families to `registry`, in the order `/metrics` lists them.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "siloscope_directory_event_coverage_ratio",
            "Share of the source's events in the window (bots and actor-less events excluded) whose actor the team directory resolves to a team at the event's time",
            self.coverage_events.clone(),
        );
        registry.register(
            "siloscope_directory_identity_coverage_ratio",
            "Share of the source's active identities in the window (bots excluded) that the team directory resolves to a team at their latest event",
            self.coverage_identities.clone(),
        );
        registry.register(
            "siloscope_directory_unresolved_identities",
            "Active identities of the source in the window that the team directory resolves to no team (run `siloscope teams suggest`)",
            self.unresolved_identities.clone(),
        );
        registry.register(
            "siloscope_directory_coverage_warning_ratio",
            "The configured event coverage under which siloscope warns ([signals] coverage_warning)",
            self.coverage_warning.clone(),
        );
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

/// The registry of the live families, plus the published snapshot encoded once at publish time:
/// a scrape encodes only the few live series and copies the cached text.
#[derive(Debug)]
pub struct Exporter {
    /// The build info, then every registered part's families in the order they were registered.
    registry: Registry,
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
    /// An exporter showing the build info and, once published, the snapshot's families.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let build_info: Family<Vec<(String, String)>, Gauge> = Family::default();
        let _ = build_info.get_or_create(&vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())]).set(1);
        registry.register("siloscope_build_info", "siloscope version; always 1", build_info);
        Exporter {
            registry,
            snapshot: Arc::new(RwLock::new(None)),
            snapshot_text: RwLock::new(Arc::new(String::new())),
            ready: AtomicBool::new(false),
        }
    }

    /// Adds a part's live families (each part names its own, beside the code that fills them:
    /// the sources' telemetry, the directory coverage, the listener's connections), listed after
    /// the build info and the parts registered before, ahead of the snapshot's families.
    pub fn register(&mut self, part: impl FnOnce(&mut Registry)) {
        part(&mut self.registry);
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

    /// The OpenMetrics text of everything, ending in `# EOF`: the registered parts' series encoded
    /// now, the snapshot's text as published.
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
    is_metric::<Family<SourceWindowLabels, Gauge>>();
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
        // A registered part's families are encoded live, ahead of the snapshot's.
        let requests: Family<Vec<(String, String)>, prometheus_client::metrics::counter::Counter> = Family::default();
        let mut e = Exporter::new();
        e.register(|r| r.register("siloscope_source_requests", "API requests", requests.clone()));
        assert!(!e.ready());
        requests.get_or_create(&vec![("source".into(), "gh".into()), ("status".into(), "200".into())]).inc();
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
            r#"siloscope_build_info{version=""#,
            "# TYPE siloscope_handoffs counter",
            "# UNIT siloscope_handoff_latency_seconds seconds",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        let at = |name: &str| text.find(name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(
            at("siloscope_build_info") < at("siloscope_source_requests")
                && at("siloscope_source_requests") < at("siloscope_handoffs")
        );
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
