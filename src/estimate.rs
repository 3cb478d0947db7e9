//! `sync --estimate`: what a first backfill will cost before it starts. Each source counts its
//! items through its API's cheap counts (`Source::count_items`, one count per part); this module
//! turns counts into requests, rate-limit points and time at this build's measured cost per item.
//! It reads no item and stores nothing; it must never touch the store or a cursor.

use std::sync::Arc;

use crate::config::{SourceConfig, SourceSettings};
use crate::model::Ts;
use crate::sources::ItemCounts;
use crate::sources::telemetry::SourceTelemetry;

/// What a source's first backfill takes, per this build's request pattern, measured against the
/// stand-ins (tests/estimate.rs holds the estimate within 10 % of the requests made):
/// `per_part` requests for each list / scope / search (its first page, the repositories, the
/// auxiliary endpoints), `per_page` for each page of items read, `per_item` follow-up requests per
/// item (GitLab's notes and resource events; long timelines, changelogs and comment lists), and
/// the rate-limit points an item costs where the limit is in points (GitHub GraphQL).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostModel {
    pub per_part: f64,
    pub per_page: f64,
    pub per_item: f64,
    /// Points per request, and per item on top (GitHub charges a request by the connections it
    /// asks for: an item's timeline, reviews and their comments come to about 0.12 points).
    pub points_per_request: f64,
    pub points_per_item: f64,
    /// The primary limit: points per window and the window's length, as the APIs document them.
    pub limit: f64,
    pub window_seconds: f64,
    /// Requests after the pass (directory, files): a fixed number per source.
    pub fixed: f64,
}

/// GitHub: one GraphQL request reads a page of items (`page_size`, default 50) with the next
/// listing page; items with timelines longer than a page need follow-ups; 5,000 points an hour.
pub const GITHUB: CostModel = CostModel {
    per_part: 1.0,
    per_page: 1.0,
    per_item: 0.0,
    points_per_request: 1.0,
    points_per_item: 0.12,
    limit: 5000.0,
    window_seconds: 3600.0,
    fixed: 0.0,
};

/// GitLab: a page of items, then per item its notes, state events and label events (one page
/// each for most items); gitlab.com allows 2,000 requests a minute.
pub const GITLAB: CostModel = CostModel {
    per_part: 1.0,
    per_page: 1.0,
    per_item: 3.0,
    points_per_request: 1.0,
    points_per_item: 0.0,
    limit: 2000.0,
    window_seconds: 60.0,
    fixed: 0.0,
};

/// Jira: a search page with changelogs and comments embedded, follow-ups for longer ones, plus
/// `/myself` and `/status`; Cloud's burst limit is of the order of 100 requests a second … a
/// minute per user: taken as 350 a minute, what the stand-in and Cloud's headers report.
pub const JIRA: CostModel = CostModel {
    per_part: 0.0,
    per_page: 1.0,
    per_item: 0.0,
    points_per_request: 1.0,
    points_per_item: 0.0,
    limit: 350.0,
    window_seconds: 60.0,
    fixed: 2.0,
};

/// The cost model of a configured source (None: the simulator, which counts nothing).
pub fn model_of(sc: &SourceConfig) -> Option<CostModel> {
    match &sc.settings {
        SourceSettings::Simulator(_) => None,
        SourceSettings::Github(_) => Some(GITHUB),
        SourceSettings::Gitlab(_) => Some(GITLAB),
        SourceSettings::Jira(_) => Some(JIRA),
    }
}

/// The estimate of one source's first backfill.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub source: String,
    pub counts: ItemCounts,
    pub items: u64,
    pub requests: u64,
    pub points: u64,
    /// Seconds at the token's current limits: waits for windows once the headroom is spent,
    /// plus `latency` per request.
    pub seconds: f64,
    /// Headroom the count found (None: the API did not say).
    pub remaining: Option<i64>,
    /// Requests the counting itself made.
    pub count_requests: u64,
}

/// Seconds a request takes, for the time estimate (a typical answer of these APIs).
pub const LATENCY_SECONDS: f64 = 0.4;

impl CostModel {
    /// Requests and points for `counts`.
    pub fn cost(&self, counts: &ItemCounts) -> (u64, u64) {
        let page = counts.page_size.max(1) as f64;
        let mut requests = self.fixed;
        for (_, n) in &counts.parts {
            let n = *n as f64;
            // Full pages, then the short (possibly empty) page that ends the list.
            requests += self.per_part + self.per_page * ((n / page).floor() + 1.0) + self.per_item * n;
        }
        let requests = requests.round() as u64;
        let points = requests as f64 * self.points_per_request + counts.items() as f64 * self.points_per_item;
        (requests, points.round() as u64)
    }

    /// Seconds `requests` costing `points` take with `remaining` points left until `reset_at`.
    pub fn seconds(&self, requests: u64, points: u64, remaining: Option<i64>, reset_at: Option<f64>, now: f64) -> f64 {
        let work = requests as f64 * LATENCY_SECONDS;
        let left = remaining.map_or(self.limit, |r| r.max(0) as f64);
        let points = points as f64;
        if points <= left {
            return work;
        }
        let to_reset = reset_at.map_or(self.window_seconds, |r| (r - now).clamp(0.0, self.window_seconds));
        let windows = ((points - left) / self.limit).ceil() - 1.0;
        // Work within a window overlaps its wait: the longer of the two.
        work.max(to_reset + windows.max(0.0) * self.window_seconds)
    }
}

/// Counts `source` and prices its first backfill at `now` (Unix seconds).
pub async fn estimate(
    sc: &SourceConfig,
    source: &mut dyn crate::sources::Source,
    now: Ts,
) -> Result<Option<Estimate>, crate::sources::SourceError> {
    let Some(model) = model_of(sc) else { return Ok(None) };
    let health = Arc::new(SourceTelemetry::default());
    source.attach_health(health.clone());
    let Some(counts) = source.count_items(now).await? else { return Ok(None) };
    let tally = health.tally(&sc.name);
    let (requests, points) = model.cost(&counts);
    let rl = tally.rate_limit;
    let seconds = model.seconds(requests, points, rl.map(|r| r.remaining), rl.and_then(|r| r.reset_at), now as f64);
    Ok(Some(Estimate {
        source: sc.name.clone(),
        items: counts.items(),
        counts,
        requests,
        points,
        seconds,
        remaining: rl.map(|r| r.remaining),
        count_requests: tally.requests,
    }))
}

impl Estimate {
    /// The line `sync --estimate` prints.
    pub fn line(&self) -> String {
        let parts: Vec<String> = self.counts.parts.iter().map(|(p, n)| format!("{p} {n}")).collect();
        format!(
            "{}: {} items ({}), about {} requests and {} rate-limit points, {} at the token's current limits{}; counted with {} requests",
            self.source,
            self.items,
            parts.join(", "),
            self.requests,
            self.points,
            crate::progress::format_seconds(self.seconds),
            self.remaining.map_or_else(String::new, |r| format!(" ({r} left in this window)")),
            self.count_requests
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_pages_and_follow_ups_per_part() {
        let counts = ItemCounts { parts: vec![("a".into(), 120), ("b".into(), 0)], page_size: 50 };
        // GitLab: (1 + 3 pages + 360 follow-ups) + (1 + 1 empty page + 0).
        assert_eq!(GITLAB.cost(&counts), (366, 366));
    }

    #[test]
    fn time_waits_for_windows_once_the_headroom_is_spent() {
        // Within the headroom: the work alone.
        assert_eq!(GITLAB.seconds(100, 100, Some(1500), Some(30.0), 0.0), 100.0 * LATENCY_SECONDS);
        // 5,500 points with 1,500 left: this window (30 s) and two more.
        let s = GITLAB.seconds(100, 5500, Some(1500), Some(30.0), 0.0);
        assert_eq!(s, 30.0 + 60.0);
        let s = GITHUB.seconds(100, 12_000, Some(1000), Some(1800.0), 0.0);
        assert_eq!(s, 1800.0 + 2.0 * 3600.0);
    }
}
