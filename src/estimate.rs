//! `sync --estimate`: what a first backfill will cost before it starts. Each source counts its
//! items through its API's cheap counts (`Source::count_items`, one count per part); this module
//! turns counts into requests, rate-limit points and time at this build's measured cost per item.
//! It reads no item and stores nothing; it must never touch the store or a cursor.

use std::sync::Arc;

use crate::config::SourceConfig;
use crate::model::Ts;
use crate::sources::ItemCounts;
pub use crate::sources::cost::{CostModel, LATENCY_SECONDS};
use crate::sources::telemetry::SourceTelemetry;

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

/// Counts `source` and prices its first backfill at `now` (Unix seconds).
pub async fn estimate(
    sc: &SourceConfig,
    source: &mut dyn crate::sources::Source,
    now: Ts,
) -> Result<Option<Estimate>, crate::sources::SourceError> {
    let Some(model) = sc.settings.cost_model() else { return Ok(None) };
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
