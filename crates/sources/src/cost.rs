//! What a source's first backfill costs, per this build's request pattern: requests per list, page
//! and item, rate-limit points, and the time at the token's limits. Pure arithmetic over a
//! source's counts; each source's folder holds its own [`CostModel`], `sync --estimate` applies it.

use super::ItemCounts;

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

#[cfg(test)]
mod tests {
    use super::super::{github, gitlab};
    use super::*;

    #[test]
    fn requests_are_pages_and_follow_ups_per_part() {
        let counts = ItemCounts { parts: vec![("a".into(), 120), ("b".into(), 0)], page_size: 50 };
        // GitLab: (1 + 3 pages + 360 follow-ups) + (1 + 1 empty page + 0).
        assert_eq!(gitlab::config::COST.cost(&counts), (366, 366));
    }

    #[test]
    fn time_waits_for_windows_once_the_headroom_is_spent() {
        // Within the headroom: the work alone.
        assert_eq!(gitlab::config::COST.seconds(100, 100, Some(1500), Some(30.0), 0.0), 100.0 * LATENCY_SECONDS);
        // 5,500 points with 1,500 left: this window (30 s) and two more.
        let s = gitlab::config::COST.seconds(100, 5500, Some(1500), Some(30.0), 0.0);
        assert_eq!(s, 30.0 + 60.0);
        let s = github::config::COST.seconds(100, 12_000, Some(1000), Some(1800.0), 0.0);
        assert_eq!(s, 1800.0 + 2.0 * 3600.0);
    }
}
