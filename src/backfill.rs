//! History backfill: the SIGNALS.md §9 series at every step of the past, as OpenMetrics text with
//! timestamps for `promtool tsdb create-blocks-from openmetrics`. Values come from the same
//! `aggregate` the daemon publishes, so the last point (at `now`) meets the live scrape without a
//! jump. It reads the store once and never writes to it; health metrics are not history.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::mpsc;
use std::time::Instant;

use siloscope_catalogue::{Family, MetricType};

use crate::exporter::{SIGNAL_SERIES, SeriesValue};
use crate::model::Ts;
use crate::mutex::lock;
use crate::signals::{Analysis, Frame, Histogram, LATENCY_BUCKETS, Signals, SignalsConfig, aggregate};
use crate::teams::Directory;

/// Every family of the §9 table, in the exporter's order, as the catalogue describes it: the
/// backfill writes the names, types, units and HELP texts the live exporter shows.
pub const FAMILIES: [&Family; 23] = siloscope_catalogue::SIGNAL_FAMILIES;

/// The value of one series at one step.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    Scalar(f64),
    Histogram(Histogram),
}

/// Calls `f(family index in FAMILIES, rendered label set, value)` for every §9 series in `s`,
/// read off `Signals` as the live exporter reads it.
pub fn visit_series(s: &Signals, f: &mut dyn FnMut(usize, String, SampleValue)) {
    for (index, (family, read)) in SIGNAL_SERIES.iter().enumerate() {
        read(s, &mut |values, value| {
            let value = match value {
                SeriesValue::Count(v) => SampleValue::Scalar(v as f64),
                SeriesValue::Real(v) => SampleValue::Scalar(v),
                SeriesValue::Histogram(h) => SampleValue::Histogram(h.clone()),
            };
            f(index, labels(family.labels.iter().copied().zip(values.iter().copied())), value);
        });
    }
}

/// `a="x",b="y"` with OpenMetrics escaping (backslash, double quote, line feed).
fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::with_capacity(64);
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

/// The step times of a backfill: multiples of `step` from `start` (rounded up), then `now`
/// itself, so the last point is the value a live scrape shows at `now`.
pub fn step_times(start: Ts, step: Ts, now: Ts) -> Vec<Ts> {
    let step = step.max(1);
    let mut t = start.div_euclid(step) * step;
    if t < start {
        t += step;
    }
    let mut out = Vec::new();
    while t < now {
        out.push(t);
        t += step;
    }
    out.push(now);
    out
}

/// Every series' points over the steps, grouped by family: what the file is written from
/// (OpenMetrics wants each series' points together, in time order).
#[derive(Debug, Default)]
pub struct History {
    pub times: Vec<Ts>,
    /// Per family: label set → (step index, value), steps increasing.
    pub families: Vec<BTreeMap<String, Vec<(u32, SampleValue)>>>,
}

impl History {
    fn new(times: Vec<Ts>) -> Self {
        History { times, families: FAMILIES.iter().map(|_| BTreeMap::new()).collect() }
    }

    fn add(&mut self, step: u32, s: &Signals) {
        let families = &mut self.families;
        visit_series(s, &mut |family, labels, value| {
            families[family].entry(labels).or_default().push((step, value));
        });
    }

    /// Number of distinct series (a histogram counts once).
    pub fn series(&self) -> usize {
        self.families.iter().map(|f| f.len()).sum()
    }

    /// A counter or histogram is 0 before its first event: a zero point one step before the
    /// series first shows lets `increase()` and `rate()` count the series' first events (Prometheus
    /// cannot count the value a series starts with). Gauges get none.
    fn zero_before(&self, kind: MetricType, points: &[(u32, SampleValue)]) -> Option<(Ts, SampleValue)> {
        let (first, value) = points.first()?;
        let zero = match (kind, value) {
            (MetricType::Gauge, _) => return None,
            (_, SampleValue::Scalar(_)) => SampleValue::Scalar(0.0),
            (_, SampleValue::Histogram(_)) => SampleValue::Histogram(Histogram::default()),
        };
        let first = *first as usize;
        let at = match first {
            0 => self.times[0] - self.times.get(1).map_or(3600, |t1| t1 - self.times[0]).max(1),
            i => self.times[i - 1],
        };
        Some((at, zero))
    }

    /// Writes the OpenMetrics text, `# EOF` last, with `extra_labels` (rendered `a="x",b="y"`,
    /// possibly empty) before each series' own labels. Returns (sample lines, bytes).
    pub fn write_openmetrics(&self, out: &mut dyn Write, extra_labels: &str) -> io::Result<(u64, u64)> {
        let mut samples = 0u64;
        let mut bytes = 0u64;
        let mut buf = String::with_capacity(1 << 20);
        let mut flush = |buf: &mut String, out: &mut dyn Write| -> io::Result<()> {
            out.write_all(buf.as_bytes())?;
            bytes += buf.len() as u64;
            buf.clear();
            Ok(())
        };
        for (spec, series) in FAMILIES.iter().zip(&self.families) {
            if series.is_empty() {
                continue;
            }
            let _ = writeln!(buf, "# TYPE {} {}", spec.name, spec.metric_type.as_str());
            if let Some(unit) = spec.unit {
                let _ = writeln!(buf, "# UNIT {} {}", spec.name, unit.as_str());
            }
            let _ = writeln!(buf, "# HELP {} {}", spec.name, spec.help);
            for (own, points) in series {
                let labels = if extra_labels.is_empty() { own.clone() } else { format!("{extra_labels},{own}") };
                let zero = self.zero_before(spec.metric_type, points);
                for (ts, value) in zero
                    .iter()
                    .map(|(t, v)| (*t, v))
                    .chain(points.iter().map(|(step, v)| (self.times[*step as usize], v)))
                {
                    match value {
                        SampleValue::Scalar(v) => {
                            let suffix = if spec.metric_type == MetricType::Counter { "_total" } else { "" };
                            let _ = writeln!(buf, "{}{suffix}{{{labels}}} {} {ts}", spec.name, number(*v));
                            samples += 1;
                        }
                        SampleValue::Histogram(h) => {
                            for (le, cumulative) in h.cumulative() {
                                let _ =
                                    writeln!(buf, "{}_bucket{{{labels},le=\"{le:?}\"}} {cumulative} {ts}", spec.name);
                            }
                            let _ = writeln!(buf, "{}_bucket{{{labels},le=\"+Inf\"}} {} {ts}", spec.name, h.count);
                            let _ = writeln!(buf, "{}_count{{{labels}}} {} {ts}", spec.name, h.count);
                            let _ = writeln!(buf, "{}_sum{{{labels}}} {} {ts}", spec.name, number(h.sum));
                            samples += LATENCY_BUCKETS.len() as u64 + 3;
                        }
                    }
                }
                if buf.len() > 1 << 20 {
                    flush(&mut buf, out)?;
                }
            }
        }
        buf.push_str("# EOF\n");
        flush(&mut buf, out)?;
        Ok((samples, bytes))
    }
}

/// Floats as the live exporter renders them (`0.25`, `7300.0`); integers stay integers.
fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 { format!("{}", v as i64) } else { format!("{v:?}") }
}

/// Computes the history at every time in `times` (in parallel on the available cores).
/// `analysis` must come from `analyze(frame, dir, cfg, now)` with `now` ≥ the last time.
pub fn compute_history(
    analysis: &Analysis,
    frame: &Frame,
    dir: &Directory,
    cfg: &SignalsConfig,
    times: Vec<Ts>,
    progress: &mut dyn FnMut(usize, usize),
) -> History {
    let mut history = History::new(times);
    let times = history.times.clone();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, Signals)>(threads * 2);
        for worker in 0..threads {
            let tx = tx.clone();
            let times = &times;
            scope.spawn(move || {
                for (i, t) in times.iter().enumerate().skip(worker).step_by(threads) {
                    if tx.send((i, aggregate(analysis, frame, dir, cfg, *t))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Steps arrive out of order across workers: keep each series' points in step order by
        // holding early arrivals until their predecessors are in.
        let mut pending: BTreeMap<usize, Signals> = BTreeMap::new();
        let mut next = 0;
        for (i, s) in rx {
            pending.insert(i, s);
            while let Some(s) = pending.remove(&next) {
                history.add(next as u32, &s);
                next += 1;
                progress(next, times.len());
            }
        }
    });
    history
}

/// What a backfill wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillSummary {
    pub from: Ts,
    pub to: Ts,
    pub steps: usize,
    pub series: usize,
    pub samples: u64,
    pub bytes: u64,
    pub compute_seconds: f64,
    pub write_seconds: f64,
}

/// What to backfill.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillOptions {
    /// First time (default: the first stored event).
    pub since: Option<Ts>,
    /// Seconds between two points.
    pub step: Ts,
    /// The last point; the live scrape continues from here.
    pub now: Ts,
    /// Labels added to every series: the `job` and `instance` of the scrape target, so that the
    /// backfilled series are the very series Prometheus scrapes (otherwise they stay apart).
    pub labels: Vec<(String, String)>,
}

/// Checks `name=value` labels and renders them for [`History::write_openmetrics`].
pub fn render_extra_labels(extra: &[(String, String)]) -> Result<String, String> {
    for (name, _) in extra {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with("__");
        if !valid {
            return Err(format!(
                "invalid label name {name:?}: use letters, digits and _ (not starting with a digit or __)"
            ));
        }
        // Labels every §9 series already has: an extra label must not clash with them.
        if siloscope_catalogue::signal_label_names().contains(&name.as_str()) {
            return Err(format!(
                "label {name:?} is already a label of siloscope's series; give the scrape target's labels, e.g. job and instance"
            ));
        }
    }
    Ok(labels(extra.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

/// The whole backfill over a prepared frame: analyze once at `now`, aggregate at each step from
/// `since` (default: the first stored event), write OpenMetrics to `out`.
pub fn backfill(
    frame: &Frame,
    dir: &Directory,
    cfg: &SignalsConfig,
    opts: &BackfillOptions,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BackfillSummary, String> {
    let (since, step, now) = (opts.since, opts.step, opts.now);
    let extra_labels = render_extra_labels(&opts.labels)?;
    if step <= 0 {
        return Err(format!("--step must be positive, got {step} seconds"));
    }
    let first_event = frame.events.iter().map(|e| e.at).min();
    let start = match (since, first_event) {
        (Some(s), _) => s,
        (None, Some(first)) => first,
        (None, None) => now,
    };
    if start > now {
        return Err("--since is in the future: give a date before now".to_string());
    }
    let started = Instant::now();
    let analysis = crate::signals::analyze(frame, dir, cfg, now);
    let history = compute_history(&analysis, frame, dir, cfg, step_times(start, step, now), progress);
    let compute_seconds = started.elapsed().as_secs_f64();
    let written = Instant::now();
    let (samples, bytes) =
        history.write_openmetrics(out, &extra_labels).map_err(|e| format!("cannot write the backfill: {e}"))?;
    Ok(BackfillSummary {
        from: history.times[0],
        to: now,
        steps: history.times.len(),
        series: history.series(),
        samples,
        bytes,
        compute_seconds,
        write_seconds: written.elapsed().as_secs_f64(),
    })
}

/// Loads the configured store (items, events, directory snapshots) as the daemon does, with
/// `clock` for its clock, and runs [`backfill`] up to `opts.now` (`main.rs` reads it off `clock`).
pub fn backfill_store(
    config: crate::config::Config,
    store: Box<dyn crate::store::Store>,
    clock: std::sync::Arc<dyn crate::sources::http::Clock>,
    opts: &BackfillOptions,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BackfillSummary, String> {
    let state = crate::daemon::State::new(config, store, clock)?;
    let dir = state.directory();
    let mut frame = lock(&state.frame);
    frame.prepare();
    backfill(&frame, &dir, &state.config.signals, opts, out, progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::{Exporter, Snapshot};
    use crate::model::ReviewState;
    use crate::signals::HandoffKind;

    #[test]
    fn steps_are_aligned_multiples_and_end_at_now() {
        assert_eq!(step_times(3_599, 3_600, 10_000), vec![3_600, 7_200, 10_000]);
        assert_eq!(step_times(3_600, 3_600, 7_200), vec![3_600, 7_200]);
        assert_eq!(step_times(7_200, 3_600, 7_200), vec![7_200]);
        assert_eq!(step_times(-10, 60, 60), vec![0, 60]);
    }

    fn signals() -> Signals {
        let mut s = Signals::default();
        s.handoffs_total.insert(("gh".into(), HandoffKind::Review, "a".into(), "b\"x".into()), 3);
        let mut h = Histogram::default();
        h.observe(100.0);
        h.observe(7200.5);
        s.handoff_latency.insert((HandoffKind::Review, "a".into(), "b".into()), h);
        s.handoffs_stalled.insert((HandoffKind::Review, "a".into(), "b".into()), 1);
        s.handoff_oldest_wait.insert("b".into(), 7232750.0);
        s.review_reciprocity.insert(("a".into(), "b".into(), "7d".into()), 0.25);
        s.reviews_total.insert(("a".into(), "b".into(), ReviewState::Approved), 2);
        s.team_members.insert("a".into(), 5);
        s
    }

    /// Every sample line of the live exposition (health and store metrics left out), without
    /// timestamps, sorted: what the backfill's last step must equal.
    fn live_samples(s: &Signals) -> Vec<String> {
        let e = Exporter::new();
        e.publish(Snapshot { signals: s.clone(), ..Snapshot::default() });
        let mut lines: Vec<String> = e
            .render()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| FAMILIES.iter().any(|f| l.starts_with(f.name)))
            .map(normalize_sample)
            .collect();
        lines.sort();
        lines
    }

    /// Sorts the labels of a sample line so label order does not matter; drops a timestamp.
    fn normalize_sample(line: &str) -> String {
        let (name, rest) = line.split_once('{').unwrap();
        let (labels, value) = rest.rsplit_once("} ").unwrap();
        let value = value.split(' ').next().unwrap();
        let mut parts: Vec<&str> = labels.split("\",").map(|p| p.trim_end_matches('"')).collect();
        parts.sort();
        format!("{name}{{{}}} {}", parts.join(","), value.parse::<f64>().unwrap())
    }

    #[test]
    fn last_step_equals_the_live_exposition_and_help_texts_agree() {
        let s = signals();
        let mut history = History::new(vec![100, 200]);
        history.add(0, &Signals::default());
        history.add(1, &s);
        let mut out = Vec::new();
        let (samples, bytes) = history.write_openmetrics(&mut out, "").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(bytes as usize, text.len());
        assert!(text.ends_with("# EOF\n"));
        let mut last: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.ends_with(" 200"))
            .map(normalize_sample)
            .collect();
        last.sort();
        assert_eq!(last, live_samples(&s));
        // At 200: 1 counter + 14 histogram lines + stalled + oldest + reciprocity + reviews +
        // members; at 100, the zero points of the two counters and the histogram.
        assert_eq!(samples, 20 + 2 + 14);
        assert!(
            text.contains("siloscope_reviews_total{author_team=\"a\",reviewer_team=\"b\",state=\"approved\"} 0 100\n")
        );
        assert!(!text.contains("siloscope_handoffs_stalled{kind=\"review\",from_team=\"a\",to_team=\"b\"} 0 100"));
        let live = {
            let e = Exporter::new();
            e.publish(Snapshot { signals: s.clone(), ..Snapshot::default() });
            e.render()
        };
        for spec in FAMILIES.iter() {
            if text.contains(&format!("# TYPE {} ", spec.name)) {
                assert!(
                    live.contains(&format!("# HELP {} {}", spec.name, spec.help)),
                    "HELP of {} differs from the exporter's",
                    spec.name
                );
                assert!(live.contains(&format!("# TYPE {} {}", spec.name, spec.metric_type.as_str())));
            }
        }
        assert!(text.contains(
            "siloscope_handoffs_total{source=\"gh\",kind=\"review\",from_team=\"a\",to_team=\"b\\\"x\"} 3 200"
        ));
        assert!(text.contains(
            "siloscope_handoff_latency_seconds_bucket{kind=\"review\",from_team=\"a\",to_team=\"b\",le=\"300.0\"} 1 200"
        ));
        assert!(text.contains(
            "siloscope_handoff_latency_seconds_sum{kind=\"review\",from_team=\"a\",to_team=\"b\"} 7300.5 200"
        ));
    }

    #[test]
    fn extra_labels_lead_every_series_and_bad_ones_are_refused() {
        let extra =
            vec![("job".to_string(), "siloscope".to_string()), ("instance".to_string(), "host:9731".to_string())];
        let rendered = render_extra_labels(&extra).unwrap();
        assert_eq!(rendered, r#"job="siloscope",instance="host:9731""#);
        let mut history = History::new(vec![100]);
        history.add(0, &signals());
        let mut out = Vec::new();
        history.write_openmetrics(&mut out, &rendered).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#"siloscope_team_members{job="siloscope",instance="host:9731",team="a"} 5 100"#),
            "{text}"
        );
        assert!(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .all(|l| l.contains(r#"{job="siloscope",instance="host:9731","#))
        );
        assert!(render_extra_labels(&[("team".into(), "x".into())]).unwrap_err().contains("already a label"));
        assert!(render_extra_labels(&[("1job".into(), "x".into())]).is_err());
        assert!(render_extra_labels(&[("__name__".into(), "x".into())]).is_err());
    }

    #[test]
    fn each_series_is_written_whole_in_time_order() {
        let mut a = signals();
        let mut history = History::new(vec![100, 200, 300]);
        history.add(0, &a);
        a.team_members.insert("a".into(), 6);
        a.team_members.insert("c".into(), 9);
        history.add(1, &a);
        a.team_members.remove("a");
        history.add(2, &a);
        let mut out = Vec::new();
        history.write_openmetrics(&mut out, "").unwrap();
        let text = String::from_utf8(out).unwrap();
        let members: Vec<&str> = text.lines().filter(|l| l.starts_with("siloscope_team_members{")).collect();
        // Gauges start where they start; counters and histograms get a zero point the step before.
        assert_eq!(
            members,
            vec![
                "siloscope_team_members{team=\"a\"} 5 100",
                "siloscope_team_members{team=\"a\"} 6 200",
                "siloscope_team_members{team=\"c\"} 9 200",
                "siloscope_team_members{team=\"c\"} 9 300",
            ]
        );
        // One descriptor block per family, and every family appears once.
        assert_eq!(text.matches("# TYPE siloscope_team_members gauge").count(), 1);
        // A histogram point: 12 buckets, count, sum, all at the same timestamp, before the next point.
        // The series exists from the first step: its zero point goes one step before (at 0).
        let latency: Vec<&str> = text.lines().filter(|l| l.starts_with("siloscope_handoff_latency_seconds")).collect();
        assert_eq!(latency.len(), 4 * 14);
        assert!(latency[..14].iter().all(|l| l.ends_with(" 0 0")), "{latency:?}");
        assert!(latency[14..28].iter().all(|l| l.ends_with(" 100")));
        assert!(latency[27].starts_with("siloscope_handoff_latency_seconds_sum"));
    }
}
