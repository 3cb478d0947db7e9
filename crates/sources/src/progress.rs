//! Progress of a source's sync, as a person watching a first backfill wants it: how far through
//! the history the cursor has come, items and events per second, requests used, rate-limit
//! headroom and an ETA. A pure tracker: no I/O and no clock of its own (the caller passes the
//! time), so tests drive it with an injected clock; drawing bars and logging are the caller's.

use crate::model::Ts;
use crate::sources::PassPosition;

/// Rate-limit state of a source's API client, as its last response reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimit {
    /// Requests (or points) left in the current window.
    pub remaining: i64,
    /// When the window resets (Unix seconds), if the API says.
    pub reset_at: Option<f64>,
}

/// What the tracker is fed after each step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Where the source's cursor stands (None: the source cannot tell).
    pub position: Option<PassPosition>,
    /// Items and new events stored by this sync so far.
    pub items: u64,
    pub new_events: u64,
    /// Requests the source's client has sent over the process's life (the tracker counts from
    /// the number it was created with).
    pub requests_total: u64,
    pub rate_limit: Option<RateLimit>,
    pub caught_up: bool,
}

/// The figures shown on a bar, in a log line and as gauges: one set, so all three agree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Share of the history covered, 0..=1; exactly 1 once (and only once) the source is caught up.
    pub ratio: f64,
    /// The time the cursor has reached, and the end of the span (the sync's `now`).
    pub reached: Option<Ts>,
    pub until: Option<Ts>,
    pub items_per_second: f64,
    pub events_per_second: f64,
    /// Requests sent since the tracker started.
    pub requests: u64,
    pub rate_limit_remaining: Option<i64>,
    /// Seconds left; None until there is a pace to extrapolate (and 0 once caught up).
    pub eta_seconds: Option<f64>,
    pub elapsed_seconds: f64,
    pub caught_up: bool,
}

/// Tracks one source's sync. Times are seconds on the caller's clock (wall or injected).
#[derive(Debug, Clone)]
pub struct Tracker {
    /// The configured `since`, where the history to cover begins when a part does not say.
    origin: Option<Ts>,
    started: f64,
    requests_base: u64,
    /// The first position seen of the part in progress `(parts_done, reached)`: where the part
    /// began when neither the cursor nor the config says.
    part_start: Option<(u32, Ts)>,
    /// Rate-limit windows learned from the responses: the largest headroom seen (≈ the limit) and
    /// the length of a window (the step between two successive reset times).
    limit_seen: i64,
    last_reset: Option<f64>,
    window: Option<f64>,
    figures: Figures,
}

impl Tracker {
    /// A tracker starting at `now` (seconds) when the source's client has sent `requests`;
    /// `origin` is the source's configured `since`.
    pub fn new(origin: Option<Ts>, now: f64, requests: u64) -> Tracker {
        Tracker {
            origin,
            started: now,
            requests_base: requests,
            part_start: None,
            limit_seen: 0,
            last_reset: None,
            window: None,
            figures: Figures::default(),
        }
    }

    /// Share of the pass covered by `p` (below 1: the caller decides when it is over).
    fn ratio_of(&mut self, p: &PassPosition) -> f64 {
        let parts = p.parts.max(1) as f64;
        let done = p.parts_done.min(p.parts) as f64;
        let within = match p.reached {
            None => 0.0,
            Some(reached) => {
                let start = match p.from.or(self.origin) {
                    Some(from) => from,
                    None => match self.part_start {
                        Some((part, at)) if part == p.parts_done => at,
                        _ => {
                            self.part_start = Some((p.parts_done, reached));
                            reached
                        }
                    },
                };
                let span = (p.until - start) as f64;
                if span <= 0.0 { 0.0 } else { ((reached - start) as f64 / span).clamp(0.0, 1.0) }
            }
        };
        ((done + within) / parts).clamp(0.0, 1.0)
    }

    /// Takes in the state after a step at `now` (seconds) and returns the updated figures.
    pub fn observe(&mut self, now: f64, o: &Observation) -> &Figures {
        let base = self.requests_base;
        let elapsed = (now - self.started).max(0.0);
        let ratio = if o.caught_up {
            1.0
        } else {
            let r = o.position.as_ref().map_or(self.figures.ratio, |p| self.ratio_of(p));
            // Never 100 % before the source is caught up, and never backwards within a sync.
            r.max(self.figures.ratio).min(0.999)
        };
        if let Some(rl) = o.rate_limit {
            self.limit_seen = self.limit_seen.max(rl.remaining);
            if let (Some(reset), Some(last)) = (rl.reset_at, self.last_reset)
                && reset > last + 0.5
            {
                self.window = Some(reset - last);
            }
            self.last_reset = rl.reset_at.or(self.last_reset);
        }
        let requests = o.requests_total.saturating_sub(base);
        let per = |n: u64| if elapsed > 0.0 { n as f64 / elapsed } else { 0.0 };
        let eta = if o.caught_up {
            Some(0.0)
        } else if ratio > 0.0 && elapsed > 0.0 {
            let pace = elapsed * (1.0 - ratio) / ratio;
            let needed = requests as f64 * (1.0 - ratio) / ratio;
            Some(pace.max(self.rate_limit_eta(now, needed, o.rate_limit)))
        } else {
            None
        };
        self.figures = Figures {
            ratio,
            reached: o.position.as_ref().and_then(|p| p.reached).or(self.figures.reached),
            until: o.position.as_ref().map(|p| p.until).or(self.figures.until),
            items_per_second: per(o.items),
            events_per_second: per(o.new_events),
            requests,
            rate_limit_remaining: o.rate_limit.map(|r| r.remaining),
            eta_seconds: eta,
            elapsed_seconds: elapsed,
            caught_up: o.caught_up,
        };
        &self.figures
    }

    /// The least time `needed` more requests take under the rate limit: the wait for the current
    /// window's reset once its headroom is spent, and a whole window per limit's worth after it.
    fn rate_limit_eta(&self, now: f64, needed: f64, rl: Option<RateLimit>) -> f64 {
        let Some(rl) = rl else { return 0.0 };
        let Some(reset) = rl.reset_at else { return 0.0 };
        if needed <= rl.remaining as f64 {
            return 0.0;
        }
        let to_reset = (reset - now).max(0.0);
        let beyond = needed - rl.remaining as f64;
        match self.window {
            Some(window) if self.limit_seen > 0 => {
                // Windows still to wait through after this one, the last one partly used.
                let windows = (beyond / self.limit_seen as f64).ceil() - 1.0;
                to_reset + windows.max(0.0) * window
            }
            _ => to_reset,
        }
    }

    pub fn figures(&self) -> &Figures {
        &self.figures
    }
}

impl Figures {
    /// The percentage shown, floored so that 100 % means caught up.
    pub fn percent(&self) -> f64 {
        if self.caught_up { 100.0 } else { (self.ratio * 1000.0).floor() / 10.0 }
    }

    /// One line of `key=value` figures, for the bar's message and the periodic log line alike.
    pub fn line(&self) -> String {
        let date = |t: Option<Ts>| {
            t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map_or_else(|| "-".to_string(), |d| d.format("%Y-%m-%d").to_string())
        };
        let eta = self.eta_seconds.map_or_else(|| "-".to_string(), format_seconds);
        let headroom = self.rate_limit_remaining.map_or_else(|| "-".to_string(), |r| r.to_string());
        format!(
            "progress={:.1}% reached={} until={} items_per_s={:.1} events_per_s={:.1} requests={} rate_limit_remaining={} eta={}",
            self.percent(),
            date(self.reached),
            date(self.until),
            self.items_per_second,
            self.events_per_second,
            self.requests,
            headroom,
            eta
        )
    }
}

/// `1h02m`, `3m05s`, `12s`.
pub fn format_seconds(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(parts: u32, parts_done: u32, from: Option<Ts>, reached: Option<Ts>, until: Ts) -> Option<PassPosition> {
        Some(PassPosition { parts, parts_done, from, reached, until })
    }

    /// A stand-in rate-limited API, simulated on an injected clock: `limit` requests per `window`
    /// seconds, `latency` seconds per request, `total` requests to cover 90 days read in order.
    /// Returns the duration and the end the tracker predicts half way through.
    fn rate_limited_run(total: u64, limit: i64, window: f64, latency: f64) -> (f64, f64) {
        let t0 = 1_000_000.0;
        let (from, until) = (1_600_000_000, 1_600_000_000 + 90 * 86_400);
        let mut t = t0;
        let mut tracker = Tracker::new(None, t, 7);
        let mut reset = t0 + window;
        let mut remaining = limit;
        let mut eta_half = None;
        for sent in 1..=total {
            if remaining == 0 {
                t = t.max(reset);
                reset += window;
                remaining = limit;
            }
            t += latency;
            remaining -= 1;
            let reached = from + ((until - from) as f64 * sent as f64 / total as f64) as Ts;
            let caught_up = sent == total;
            let f = tracker.observe(
                t,
                &Observation {
                    position: pos(1, 0, Some(from), Some(reached), until),
                    items: sent * 50,
                    new_events: sent * 300,
                    requests_total: 7 + sent,
                    rate_limit: Some(RateLimit { remaining, reset_at: Some(reset) }),
                    caught_up,
                },
            );
            if sent == total / 2 {
                eta_half = f.eta_seconds.map(|eta| t - t0 + eta);
            }
        }
        assert!(tracker.figures().caught_up);
        (t - t0, eta_half.expect("an ETA half way through"))
    }

    #[test]
    fn the_eta_half_way_through_a_rate_limited_run_is_within_20_percent() {
        // Bound by the limit: 1000 requests at 100 per minute, 50 ms each.
        for (total, limit, window, latency) in
            [(1000, 100, 60.0, 0.05), (1010, 100, 60.0, 0.05), (3000, 700, 3600.0, 0.2)]
        {
            let (duration, predicted) = rate_limited_run(total, limit, window, latency);
            let err = (predicted - duration).abs() / duration;
            assert!(
                err <= 0.20,
                "total {total}: predicted {predicted:.0}s, took {duration:.0}s ({:.0} %)",
                err * 100.0
            );
        }
    }

    #[test]
    fn the_eta_early_in_a_rate_limited_run_waits_for_the_windows() {
        // After the first burst only the rate limit knows the run is slow.
        let mut tracker = Tracker::new(None, 0.0, 0);
        let o = |n: u64, remaining: i64, reset: f64| Observation {
            position: pos(1, 0, Some(0), Some(n as Ts), 1000),
            requests_total: n,
            rate_limit: Some(RateLimit { remaining, reset_at: Some(reset) }),
            ..Observation::default()
        };
        tracker.observe(1.0, &o(0, 100, 60.0));
        tracker.observe(9.0, &o(99, 1, 60.0));
        tracker.observe(61.0, &o(100, 99, 120.0));
        let f = tracker.observe(70.0, &o(200, 0, 120.0)).clone();
        // 800 requests left at 100 a minute: 8 more windows after this one ends.
        let eta = f.eta_seconds.unwrap();
        assert!(eta >= 50.0 + 7.0 * 60.0, "eta {eta}");
        assert!(eta <= 50.0 + 8.0 * 60.0 + 1.0, "eta {eta}");
    }

    #[test]
    fn the_ratio_reaches_one_exactly_when_caught_up_and_never_goes_back() {
        let mut tracker = Tracker::new(None, 0.0, 0);
        let step = |t: &mut Tracker, at: f64, done: u32, reached: Ts, caught_up: bool| {
            t.observe(
                at,
                &Observation { position: pos(2, done, None, Some(reached), 100), caught_up, ..Observation::default() },
            )
            .clone()
        };
        assert_eq!(step(&mut tracker, 1.0, 0, 0, false).ratio, 0.0);
        assert!((step(&mut tracker, 2.0, 0, 50, false).ratio - 0.25).abs() < 1e-9);
        // The whole history read but the pass not over: below 100 %.
        let f = step(&mut tracker, 3.0, 1, 100, false);
        assert!(f.ratio < 1.0 && f.percent() < 100.0, "{f:?}");
        // An earlier-looking cursor (a part starting over) does not move the bar back.
        assert!(step(&mut tracker, 3.5, 1, 0, false).ratio >= f.ratio);
        let done = step(&mut tracker, 4.0, 2, 100, true);
        assert_eq!((done.ratio, done.percent(), done.eta_seconds), (1.0, 100.0, Some(0.0)));
        assert!(done.line().starts_with("progress=100.0% "), "{}", done.line());
    }

    #[test]
    fn figures_count_from_the_tracker_start() {
        let mut tracker = Tracker::new(Some(0), 10.0, 60);
        let f = tracker
            .observe(
                20.0,
                &Observation {
                    position: pos(1, 0, None, Some(25), 100),
                    items: 40,
                    new_events: 400,
                    requests_total: 90,
                    rate_limit: Some(RateLimit { remaining: 4000, reset_at: None }),
                    caught_up: false,
                },
            )
            .clone();
        assert_eq!(f.requests, 30);
        assert_eq!((f.items_per_second, f.events_per_second), (4.0, 40.0));
        assert!((f.ratio - 0.25).abs() < 1e-9);
        // 10 s for a quarter: 30 s to go.
        assert!((f.eta_seconds.unwrap() - 30.0).abs() < 1e-9);
        assert!(f.line().contains("rate_limit_remaining=4000 eta=30s"), "{}", f.line());
    }
}
