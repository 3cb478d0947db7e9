//! siloscope-exporter: turns the last computed `Signals` into the Prometheus exposition (SIGNALS.md §9), with the build
//! info, the directory coverage and the live families other parts register (the sources' telemetry,
//! the listener's connections: the exporter knows neither). A scrape only encodes the published
//! snapshot: it never computes, never touches the store, and series that vanished from the snapshot
//! vanish from the output.

// The file came from one crate where the modules below were `crate::…`; the aliases keep its paths.
use siloscope_engine as signals;
use siloscope_engine::coverage;
use siloscope_model as model;
use siloscope_store as store;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::model::Ts;
use crate::model::mutex::{read, write};
use crate::signals::{Histogram, Signals};
use crate::store::ItemCount;
use siloscope_catalogue as catalogue;

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
            catalogue::DIRECTORY_EVENT_COVERAGE.name,
            catalogue::DIRECTORY_EVENT_COVERAGE.help_without_full_stop(),
            self.coverage_events.clone(),
        );
        registry.register(
            catalogue::DIRECTORY_IDENTITY_COVERAGE.name,
            catalogue::DIRECTORY_IDENTITY_COVERAGE.help_without_full_stop(),
            self.coverage_identities.clone(),
        );
        registry.register(
            catalogue::DIRECTORY_UNRESOLVED_IDENTITIES.name,
            catalogue::DIRECTORY_UNRESOLVED_IDENTITIES.help_without_full_stop(),
            self.unresolved_identities.clone(),
        );
        registry.register(
            catalogue::DIRECTORY_COVERAGE_WARNING.name,
            catalogue::DIRECTORY_COVERAGE_WARNING.help_without_full_stop(),
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

    /// Takes the per-source coverage series down (a replica that no longer leads: the leader
    /// exports them, so a former leader's frozen ratios never mask the current ones under `max by
    /// (source)`). The warning ratio is the config's and stays.
    pub fn withdraw(&self) {
        self.coverage_events.clear();
        self.coverage_identities.clear();
        self.unresolved_identities.clear();
    }
}

/// One value of a series as `Signals` (or the snapshot) holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeriesValue<'a> {
    /// A counter's value or an integer gauge (`5`).
    Count(u64),
    /// A real-valued gauge (`0.25`, `5.0`).
    Real(f64),
    Histogram(&'a Histogram),
}

/// Reads one signal family's series off `Signals`: calls `f(label values, value)` per series, the
/// values in the order of the family's catalogue labels.
pub type ReadSeries = for<'a> fn(&'a Signals, &mut dyn FnMut(&[&'a str], SeriesValue<'a>));

/// Every signal family of the catalogue with the `Signals` field it reads, in exposition order:
/// the live exporter and the history backfill both encode from this table. Adding a family is an
/// entry in `siloscope_catalogue` (and its `SIGNAL_FAMILIES`), its `Signals` field and a line here.
pub const SIGNAL_SERIES: [(&catalogue::Family, ReadSeries); 23] = {
    use SeriesValue::{Count, Histogram as Hist, Real};
    use catalogue as c;
    [
        (&c::HANDOFFS, |s, f| {
            for ((src, kind, from, to), v) in &s.handoffs_total {
                f(&[src, kind.as_str(), from, to], Count(*v));
            }
        }),
        (&c::HANDOFF_LATENCY, |s, f| {
            for ((kind, from, to), h) in &s.handoff_latency {
                f(&[kind.as_str(), from, to], Hist(h));
            }
        }),
        (&c::HANDOFFS_WAITING, |s, f| {
            for ((kind, from, to), v) in &s.handoffs_waiting {
                f(&[kind.as_str(), from, to], Count(*v));
            }
        }),
        (&c::HANDOFFS_STALLED, |s, f| {
            for ((kind, from, to), v) in &s.handoffs_stalled {
                f(&[kind.as_str(), from, to], Count(*v));
            }
        }),
        (&c::HANDOFF_OLDEST_WAIT, |s, f| {
            for (to, v) in &s.handoff_oldest_wait {
                f(&[to], Real(*v));
            }
        }),
        (&c::HANDOFF_BOUNCES, |s, f| {
            for ((from, to), v) in &s.bounces_total {
                f(&[from, to], Count(*v));
            }
        }),
        (&c::DECISIONS, |s, f| {
            for (team, v) in &s.decisions_total {
                f(&[team], Count(*v));
            }
        }),
        (&c::DECISIONS_REHASHED, |s, f| {
            for ((team, reason), v) in &s.decisions_rehashed_total {
                f(&[team, reason.as_str()], Count(*v));
            }
        }),
        (&c::REWORK, |s, f| {
            for ((team, kind), v) in &s.rework_total {
                f(&[team, kind.as_str()], Count(*v));
            }
        }),
        (&c::REVIEWS, |s, f| {
            for ((author, reviewer, state), v) in &s.reviews_total {
                f(&[author, reviewer, state.as_str()], Count(*v));
            }
        }),
        (&c::REVIEW_PICKUP, |s, f| {
            for ((author, reviewer), h) in &s.review_pickup {
                f(&[author, reviewer], Hist(h));
            }
        }),
        (&c::REVIEW_RECIPROCITY, |s, f| {
            for ((a, b, window), v) in &s.review_reciprocity {
                f(&[a, b, window], Real(*v));
            }
        }),
        (&c::ENGAGEMENTS, |s, f| {
            for ((actor, owner, kind), v) in &s.engagements_total {
                f(&[actor, owner, kind.as_str()], Count(*v));
            }
        }),
        (&c::FIRST_RESPONSE, |s, f| {
            for ((requester, owner), h) in &s.first_response {
                f(&[requester, owner], Hist(h));
            }
        }),
        (&c::JOINT_WINS, |s, f| {
            for (team, v) in &s.joint_wins_total {
                f(&[team], Count(*v));
            }
        }),
        (&c::BRIDGE_PEOPLE, |s, f| {
            for ((team, window), v) in &s.bridge_people {
                f(&[team, window], Count(*v));
            }
        }),
        (&c::SILO_INDEX, |s, f| {
            for ((team, window), v) in &s.silo_index {
                f(&[team, window], Real(*v));
            }
        }),
        (&c::TEAM_MEMBERS, |s, f| {
            for (team, v) in &s.team_members {
                f(&[team], Count(*v));
            }
        }),
        (&c::AGREEMENT_HANDOFFS, |s, f| {
            for ((name, to), a) in &s.agreements {
                f(&[name, to], Count(a.values.handoffs));
            }
        }),
        (&c::AGREEMENT_BREACHES, |s, f| {
            for ((name, to), a) in &s.agreements {
                f(&[name, to], Count(a.values.breaches));
            }
        }),
        (&c::AGREEMENT_OBJECTIVE, |s, f| {
            for ((name, to), a) in &s.agreements {
                f(&[name, to], Real(a.objective));
            }
        }),
        (&c::AGREEMENT_WINDOW, |s, f| {
            for ((name, to), a) in &s.agreements {
                f(&[name, to], Real(a.window as f64));
            }
        }),
        (&c::AGREEMENT_WAITING_PAST_PROMISE, |s, f| {
            for ((name, to), a) in &s.agreements {
                f(&[name, to], Count(a.values.waiting_past_promise));
            }
        }),
    ]
};

/// Encodes the published snapshot on each scrape.
#[derive(Debug)]
struct SnapshotCollector {
    snapshot: Arc<RwLock<Option<Arc<Snapshot>>>>,
}

/// The family's label names paired with one series' values.
fn labels_of(family: &catalogue::Family, values: &[&str]) -> Labels {
    debug_assert_eq!(family.labels.len(), values.len(), "{}: label values", family.name);
    family.labels.iter().zip(values).map(|(k, v)| (*k, v.to_string())).collect()
}

/// Writes one family (nothing when it has no series) as the catalogue describes it.
fn encode_family(
    enc: &mut DescriptorEncoder,
    family: &catalogue::Family,
    rows: Vec<(Labels, SeriesValue<'_>)>,
) -> Result<(), std::fmt::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let unit = family.unit.map(|u| match u {
        catalogue::Unit::Seconds => Unit::Seconds,
    });
    let metric_type = match family.metric_type {
        catalogue::MetricType::Counter => MetricType::Counter,
        catalogue::MetricType::Gauge => MetricType::Gauge,
        catalogue::MetricType::Histogram => MetricType::Histogram,
    };
    let mut m = enc.encode_descriptor(family.stem(), family.help, unit.as_ref(), metric_type)?;
    for (labels, value) in rows {
        let mut series = m.encode_family(&labels)?;
        use catalogue::MetricType as T;
        match (family.metric_type, value) {
            (T::Counter, SeriesValue::Count(v)) => {
                series.encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&v, None)?
            }
            (T::Gauge, SeriesValue::Count(v)) => series.encode_gauge(&(v as i64))?,
            (T::Gauge, SeriesValue::Real(v)) => series.encode_gauge(&v)?,
            (T::Histogram, SeriesValue::Histogram(h)) => histogram(series, h)?,
            (t, v) => debug_assert!(false, "{}: a {t:?} family cannot show {v:?}", family.name),
        }
    }
    Ok(())
}

fn histogram(mut m: prometheus_client::encoding::MetricEncoder, h: &Histogram) -> Result<(), std::fmt::Error> {
    // The encoder accumulates per-bucket counts itself: pass them non-cumulative, +Inf last.
    let mut buckets: Vec<(f64, u64)> =
        crate::signals::LATENCY_BUCKETS.iter().copied().zip(h.buckets.iter().copied()).collect();
    buckets.push((f64::INFINITY, h.buckets[crate::signals::LATENCY_BUCKETS.len()]));
    m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(h.sum, h.count, &buckets, None)
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(snap) = read(&self.snapshot).clone() else { return Ok(()) };
        for (family, read) in SIGNAL_SERIES {
            let mut rows = Vec::new();
            read(&snap.signals, &mut |values, value| rows.push((labels_of(family, values), value)));
            encode_family(&mut enc, family, rows)?;
        }
        use catalogue as c;
        let items = snap
            .items
            .iter()
            .map(|i| {
                (labels_of(&c::ITEMS, &[&i.source, i.kind.as_str(), i.state.as_str()]), SeriesValue::Count(i.count))
            })
            .collect();
        encode_family(&mut enc, &c::ITEMS, items)?;
        encode_family(&mut enc, &c::EVENTS_STORED, vec![(Vec::new(), SeriesValue::Count(snap.events_stored))])?;
        let computed_at = SeriesValue::Real(snap.computed_at as f64);
        encode_family(&mut enc, &c::LAST_COMPUTE_TIMESTAMP, vec![(Vec::new(), computed_at)])?;
        encode_family(&mut enc, &c::COMPUTE_DURATION, vec![(Vec::new(), SeriesValue::Real(snap.compute_seconds))])?;
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
        registry.register(catalogue::BUILD_INFO.name, catalogue::BUILD_INFO.help_without_full_stop(), build_info);
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
        let mut text = String::with_capacity(read(&self.snapshot_text).len() + 4096);
        prometheus_client::encoding::text::encode_registry(&mut text, &encoder_registry)
            .expect("writing to a String cannot fail");
        *write(&self.snapshot_text) = Arc::new(text);
        *write(&self.snapshot) = Some(snapshot);
        self.ready.store(true, Ordering::Release);
    }

    /// Takes the published computation down (a replica that is no longer the leader): the next
    /// scrape shows the registered parts only.
    pub fn withdraw(&self) {
        *write(&self.snapshot_text) = Arc::new(String::new());
        *write(&self.snapshot) = None;
    }

    /// Ready once the first computation is published.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        read(&self.snapshot).clone()
    }

    /// The OpenMetrics text of everything, ending in `# EOF`: the registered parts' series encoded
    /// now, the snapshot's text as published.
    pub fn render(&self) -> String {
        let cached = read(&self.snapshot_text).clone();
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

    /// Signals with one series in every field.
    fn every_field() -> Signals {
        use crate::model::ReviewState;
        use crate::signals::records::{EngagementKind, RehashReason, ReworkKind};
        let t = |x: &str| x.to_string();
        let mut h = Histogram::default();
        h.observe(60.0);
        let mut s = Signals::default();
        s.handoffs_total.insert((t("gh"), HandoffKind::Review, t("a"), t("b")), 1);
        s.handoff_latency.insert((HandoffKind::Review, t("a"), t("b")), h.clone());
        s.handoffs_waiting.insert((HandoffKind::Review, t("a"), t("b")), 1);
        s.handoffs_stalled.insert((HandoffKind::Review, t("a"), t("b")), 1);
        s.handoff_oldest_wait.insert(t("b"), 1.5);
        s.bounces_total.insert((t("a"), t("b")), 1);
        s.decisions_total.insert(t("a"), 1);
        s.decisions_rehashed_total.insert((t("a"), RehashReason::Reopened), 1);
        s.rework_total.insert((t("a"), ReworkKind::Reverted), 1);
        s.reviews_total.insert((t("a"), t("b"), ReviewState::Approved), 1);
        s.review_pickup.insert((t("a"), t("b")), h.clone());
        s.review_reciprocity.insert((t("a"), t("b"), t("7d")), 0.5);
        s.engagements_total.insert((t("a"), t("b"), EngagementKind::Comment), 1);
        s.first_response.insert((t("a"), t("b")), h);
        s.joint_wins_total.insert(t("a"), 1);
        s.bridge_people.insert((t("a"), t("7d")), 1);
        s.silo_index.insert((t("a"), t("7d")), 0.5);
        s.team_members.insert(t("a"), 5);
        let values = crate::signals::agreements::AgreementValues { handoffs: 4, breaches: 1, waiting_past_promise: 1 };
        let series = crate::signals::aggregate::AgreementSeries { values, objective: 0.9, window: 28 * 86_400 };
        s.agreements.insert((t("a-reviews"), t("a")), series);
        s
    }

    #[test]
    fn the_series_table_reads_the_catalogues_signal_families_in_order() {
        let table: Vec<&str> = SIGNAL_SERIES.iter().map(|(f, _)| f.name).collect();
        let listed: Vec<&str> = catalogue::SIGNAL_FAMILIES.iter().map(|f| f.name).collect();
        assert_eq!(table, listed);
        let s = every_field();
        for (family, read) in SIGNAL_SERIES {
            let mut series = 0;
            read(&s, &mut |values, value| {
                series += 1;
                assert_eq!(values.len(), family.labels.len(), "{}: one value per catalogue label", family.name);
                let fits = matches!(
                    (family.metric_type, value),
                    (catalogue::MetricType::Counter, SeriesValue::Count(_))
                        | (catalogue::MetricType::Gauge, SeriesValue::Count(_) | SeriesValue::Real(_))
                        | (catalogue::MetricType::Histogram, SeriesValue::Histogram(_))
                );
                assert!(fits, "{}: a {:?} family read {value:?}", family.name, family.metric_type);
            });
            assert_eq!(series, 1, "{} reads a field of its own", family.name);
        }
    }

    #[test]
    fn every_snapshot_family_renders_as_the_catalogue_describes_it() {
        let e = Exporter::new();
        let items = vec![ItemCount {
            source: "gh".into(),
            kind: crate::model::ItemKind::Issue,
            state: crate::model::ItemState::Open,
            count: 2,
        }];
        e.publish(Snapshot { signals: every_field(), items, events_stored: 9, computed_at: 1, compute_seconds: 0.5 });
        let text = e.render();
        let lines: Vec<&str> = text.lines().collect();
        let mut at = 0;
        for family in catalogue::SIGNAL_FAMILIES.into_iter().chain(catalogue::STORE_FAMILIES) {
            let type_line = format!("# TYPE {} {}", family.name, family.metric_type.as_str());
            let found = lines.iter().position(|l| *l == type_line).unwrap_or_else(|| panic!("no {type_line:?}"));
            assert!(found > at, "{} out of the catalogue's order", family.name);
            at = found;
            assert!(lines.contains(&format!("# HELP {} {}", family.name, family.help).as_str()));
            if let Some(unit) = family.unit {
                assert!(lines.contains(&format!("# UNIT {} {}", family.name, unit.as_str()).as_str()));
            }
            let sample = &family.sample_names()[0];
            let series = lines.iter().find(|l| l.starts_with(&format!("{sample}{{"))).map(|l| l.to_string());
            if !family.labels.is_empty() {
                let series = series.unwrap_or_else(|| panic!("no series of {}", family.name));
                let names: Vec<&str> = series
                    .split_once('{')
                    .unwrap()
                    .1
                    .split(',')
                    .filter_map(|pair| pair.split_once('=').map(|(k, _)| k))
                    .filter(|k| *k != "le")
                    .collect();
                assert_eq!(names, family.labels, "{}: labels in the catalogue's order", family.name);
            }
        }
    }

    #[test]
    fn vanished_series_disappear_on_next_publish() {
        let e = Exporter::new();
        e.publish(snapshot());
        assert!(e.render().contains("siloscope_handoffs_total"));
        e.publish(Snapshot::default());
        assert!(!e.render().contains("siloscope_handoffs_total"));
    }

    #[test]
    fn withdrawn_directory_coverage_exports_no_source_series_and_keeps_the_warning() {
        let coverage = DirectoryCoverage::default();
        let mut e = Exporter::new();
        e.register(|r| coverage.register(r));
        let source = crate::coverage::SourceCoverage {
            source: "gh".into(),
            events: 4,
            events_resolved: 3,
            identities: 2,
            identities_resolved: 1,
        };
        coverage.set_directory_coverage(&[("28d".into(), vec![source])], 0.9);
        let per_source = [
            "siloscope_directory_event_coverage_ratio{",
            "siloscope_directory_identity_coverage_ratio{",
            "siloscope_directory_unresolved_identities{",
        ];
        let text = e.render();
        assert!(per_source.iter().all(|s| text.contains(s)), "{text}");
        // A replica that stops leading: the leader's coverage is the only one exported.
        coverage.withdraw();
        let text = e.render();
        assert!(per_source.iter().all(|s| !text.contains(s)), "{text}");
        assert!(text.contains("siloscope_directory_coverage_warning_ratio 0.9"), "{text}");
    }
}
