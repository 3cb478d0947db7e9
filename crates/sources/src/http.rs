//! The one HTTP client policy every source uses: timeouts, retries with jittered backoff, primary
//! and secondary rate limits, a user-set request ceiling, conditional requests (ETag), request
//! accounting, over the one network transport (reqwest); and the one home of percent-encoding,
//! redirect origins and `Link` headers. It knows no API's data and never prints a credential.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::mutex::lock;
use crate::sources::SourceError;
use crate::sources::telemetry::SourceTelemetry;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A credential (token, JWT). Its `Debug` and `Display` print `[redacted]`, so it cannot end up
/// in a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Arc::from(value.into()))
    }
    /// The value itself, for the one place that needs it: the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// HTTP Basic credentials (Jira Cloud: e-mail and API token), sent as `Basic …` instead of
    /// `Bearer …`. Register the token itself too, so an echo of it is scrubbed as well.
    pub fn basic(user: &str, password: &str) -> Secret {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Secret::new(format!("Basic {encoded}"))
    }
    /// The `Authorization` header value: `Basic …` as built by [`Secret::basic`], else `Bearer …`.
    pub fn header_value(&self) -> String {
        if self.0.starts_with("Basic ") { self.0.to_string() } else { format!("Bearer {}", self.0) }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Which primary budget a request spends (GitHub counts REST and GraphQL separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    Rest,
    Graphql,
}

impl Budget {
    fn resource(self) -> &'static str {
        match self {
            Budget::Rest => "core",
            Budget::Graphql => "graphql",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: Method,
    /// Absolute URL. Never carries a credential (those go in `authorization`).
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Sent as `Authorization: Bearer …`, marked sensitive.
    pub authorization: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends one request and reads the whole response. Errors are plain descriptions that never
/// contain request headers.
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, request: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>>;
}

/// Wall time and waiting: the one clock of the sources, the daemon and the demo (the wall clock,
/// the demo's accelerated one, a manual one so tests never really sleep). The engine reads none.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> f64;
    /// Whole seconds since the Unix epoch: the `now` the signals, the store and the report take.
    fn now_ts(&self) -> crate::model::Ts {
        self.now().floor() as crate::model::Ts
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()>;
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock for tests: sleeping advances its time at once and is recorded. Behind `test-support`
/// (tests and benchmarks turn it on), so a release build has none.
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<f64>,
    sleeps: Mutex<Vec<Duration>>,
}

#[cfg(any(test, feature = "test-support"))]
impl ManualClock {
    pub fn new(start: f64) -> ManualClock {
        ManualClock { now: Mutex::new(start), sleeps: Mutex::new(Vec::new()) }
    }
    /// Every sleep asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        lock(&self.sleeps).clone()
    }
    pub fn advance(&self, seconds: f64) {
        *lock(&self.now) += seconds;
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Clock for ManualClock {
    fn now(&self) -> f64 {
        *lock(&self.now)
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        lock(&self.sleeps).push(duration);
        *lock(&self.now) += duration.as_secs_f64();
        Box::pin(tokio::task::yield_now())
    }
}

/// The policy's knobs. Defaults suit GitHub's documented limits.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Whole request, body included.
    pub timeout: Duration,
    /// Attempts for one request on 5xx, timeouts, transport errors and unreadable bodies.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Least wait after a secondary rate limit (GitHub: at least one minute).
    pub secondary_wait: Duration,
    /// A rate-limit wait longer than this fails the request with `rate_limit` instead, so the
    /// step ends and the daemon retries at the next interval.
    pub max_wait: Duration,
    /// User-set ceiling of requests per clock hour (None = only the API's limits).
    pub requests_per_hour: Option<u32>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(30),
            max_attempts: 6,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            secondary_wait: Duration::from_secs(60),
            max_wait: Duration::from_secs(15 * 60),
            requests_per_hour: None,
        }
    }
}

/// Why a request failed for good. `kind` is an `ERROR_KINDS` label.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpError {
    pub kind: &'static str,
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for SourceError {
    fn from(e: HttpError) -> SourceError {
        SourceError { kind: e.kind, message: e.message }
    }
}

/// What the client did, for benchmarks and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientStats {
    /// Requests sent (every attempt, redirects included).
    pub requests: u64,
    /// Of those, answered `304 Not Modified`.
    pub not_modified: u64,
    /// GraphQL points spent, as reported by `rateLimit { cost }`.
    pub graphql_points: i64,
}

#[derive(Debug, Clone, Copy)]
struct Remaining {
    remaining: i64,
    reset_at: f64,
}

#[derive(Debug, Default)]
struct PolicyState {
    budgets: HashMap<String, Remaining>,
    /// No request before this time (secondary limit).
    blocked_until: f64,
    /// Consecutive secondary limits: each doubles the next wait.
    secondary_strikes: u32,
    etags: HashMap<String, (String, HttpResponse)>,
    stats: ClientStats,
}

/// An HTTP client with the policy applied. Cheap to share (`Arc`).
pub struct ApiClient {
    source: String,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    settings: HttpSettings,
    health: Mutex<Option<Arc<SourceTelemetry>>>,
    state: Mutex<PolicyState>,
    secrets: Mutex<Vec<Secret>>,
    /// What the current sync step has read (ceilings and loop detection, `sources::bounds`).
    guard: Mutex<crate::sources::bounds::StepGuard>,
    /// Every encoding of every registered secret (see [`crate::sources::redact`]).
    redactor: Mutex<crate::sources::redact::Redactor>,
    /// The user's `requests_per_hour`, as a GCRA limiter on the policy's clock.
    ceiling: Option<CeilingLimiter>,
}

/// The hourly ceiling: `requests_per_hour` in a burst, then one request every hour / ceiling.
type CeilingLimiter = governor::RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    PolicyClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

/// The policy's [`Clock`] as governor's clock, so that a test's manual clock drives the ceiling:
/// time since the client began (small numbers keep an f64 clock exact to the nanosecond).
#[derive(Clone)]
struct PolicyClock {
    clock: Arc<dyn Clock>,
    start: f64,
}

impl governor::clock::Clock for PolicyClock {
    type Instant = governor::nanos::Nanos;
    fn now(&self) -> Self::Instant {
        Duration::from_secs_f64((self.clock.now() - self.start).max(0.0)).into()
    }
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient").field("source", &self.source).field("settings", &self.settings).finish()
    }
}

/// A GraphQL answer: `data` (possibly partial) and the error messages GitHub attached.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlResponse {
    pub data: Value,
    pub errors: Vec<GraphqlError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlError {
    /// GitHub's `type` (`NOT_FOUND`, `RATE_LIMITED`…), when given.
    pub kind: Option<String>,
    pub message: String,
    pub path: Vec<String>,
}

enum Outcome {
    Done(HttpResponse),
    /// Worth another attempt after a backoff; the text says what went wrong.
    Retry(&'static str, String),
    /// Wait for a rate limit, then try again (does not spend an attempt).
    RateLimited(f64, String),
    Fail(HttpError),
}

const MAX_REDIRECTS: u32 = 3;
/// Rate-limit waits one request may go through before it gives up.
const MAX_RATE_LIMIT_ROUNDS: u32 = 10;

impl ApiClient {
    pub fn new(
        source: &str,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        settings: HttpSettings,
    ) -> ApiClient {
        let ceiling = settings.requests_per_hour.map(|n| {
            let quota = governor::Quota::per_hour(std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN));
            governor::RateLimiter::direct_with_clock(quota, PolicyClock { clock: clock.clone(), start: clock.now() })
        });
        ApiClient {
            source: source.to_string(),
            transport,
            clock,
            settings,
            health: Mutex::new(None),
            state: Mutex::new(PolicyState::default()),
            secrets: Mutex::new(Vec::new()),
            guard: Mutex::new(crate::sources::bounds::StepGuard::default()),
            redactor: Mutex::new(crate::sources::redact::Redactor::new()),
            ceiling,
        }
    }

    /// A sync step begins: its request and byte ceilings and its loop detection start afresh.
    /// Every source calls this at the start of each step.
    pub fn begin_step(&self) {
        lock(&self.guard).reset();
    }

    fn guard_request(&self, request: &HttpRequest) -> Result<(), HttpError> {
        lock(&self.guard).request(request.method.as_str(), &request.url, request.body.as_deref()).map_err(|e| {
            self.record_error(e.kind);
            HttpError { kind: e.kind, status: None, message: e.message }
        })
    }

    fn guard_answer(&self, request: &HttpRequest, response: &HttpResponse) -> Result<(), HttpError> {
        lock(&self.guard).answer(&request.url, &response.body).map_err(|e| {
            self.record_error(e.kind);
            HttpError { kind: e.kind, status: Some(response.status), message: e.message }
        })
    }

    pub fn set_health(&self, health: Arc<SourceTelemetry>) {
        *lock(&self.health) = Some(health);
    }

    /// Registers a credential so that any message this client produces is scrubbed of it, even
    /// if a server were to echo it back.
    pub fn register_secret(&self, secret: &Secret) {
        let mut s = lock(&self.secrets);
        if !secret.expose().is_empty() && !s.contains(secret) {
            s.push(secret.clone());
            lock(&self.redactor).add(secret.expose());
        }
    }

    pub fn stats(&self) -> ClientStats {
        lock(&self.state).stats.clone()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Scrubs registered secrets, in every encoding a server may echo them in (raw, any case,
    /// base64 of a Basic pair, percent-, form- and JSON-encoded), out of a text that leaves this
    /// client.
    pub fn scrub(&self, text: &str) -> String {
        lock(&self.redactor).scrub(text)
    }

    fn record_request(&self, status: &str) {
        if let Some(h) = lock(&self.health).as_ref() {
            h.record_request(&self.source, status);
        }
    }

    fn record_error(&self, kind: &str) {
        if let Some(h) = lock(&self.health).as_ref() {
            h.record_error(&self.source, kind);
        }
    }

    fn publish_remaining(&self) {
        let least = lock(&self.state).budgets.values().min_by_key(|b| b.remaining).copied();
        if let (Some(least), Some(h)) = (least, lock(&self.health).as_ref()) {
            h.set_rate_limit_remaining(&self.source, least.remaining);
            h.set_rate_limit_reset(&self.source, least.reset_at);
        }
    }

    /// The pauses between the attempts of one request: exponential backoff with "equal jitter"
    /// (attempt n waits within [full/2, full], full = min(base · 2ⁿ⁻¹, max)), one fewer than the
    /// attempts allowed. backon draws `d + d·U[0,1)` with `d` = half of that full wait.
    fn backoff(&self) -> backon::ExponentialBackoff {
        use backon::BackoffBuilder;
        backon::ExponentialBuilder::new()
            .with_min_delay(self.settings.backoff_base / 2)
            .with_max_delay(self.settings.backoff_max / 2)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.settings.max_attempts.saturating_sub(1) as usize)
            .build()
    }

    /// How long to wait before the next request may go out: secondary block, exhausted primary
    /// budget (the user's hourly ceiling is [`Self::take_ceiling`]'s).
    fn wait_needed(&self, budget: Budget) -> (f64, &'static str) {
        let now = self.clock.now();
        let st = lock(&self.state);
        let mut wait: (f64, &'static str) = (0.0, "");
        if st.blocked_until > now {
            wait = (st.blocked_until - now, "secondary rate limit");
        }
        if let Some(b) = st.budgets.get(budget.resource())
            && b.remaining <= 0
            && b.reset_at > now
            && b.reset_at + 1.0 - now > wait.0
        {
            wait = (b.reset_at + 1.0 - now, "primary rate limit");
        }
        wait
    }

    /// Waits until the API's limits let a request out; `send` also takes a request from the
    /// user's hourly ceiling (the request goes out next), a wait that only observes does not.
    async fn wait_for_turn(&self, budget: Budget, waited: &mut f64, send: bool) -> Result<(), HttpError> {
        loop {
            let (mut wait, mut why) = self.wait_needed(budget);
            if wait <= 0.0 {
                if !send {
                    return Ok(());
                }
                match self.take_ceiling() {
                    None => return Ok(()),
                    Some(ceiling) => (wait, why) = (ceiling, "requests_per_hour ceiling"),
                }
            }
            if *waited + wait > self.settings.max_wait.as_secs_f64() {
                return Err(HttpError {
                    kind: "rate_limit",
                    status: None,
                    message: format!(
                        "{}: waiting {:.0} s for the {why} is longer than this step may wait; the sync resumes at the next interval",
                        self.source, wait
                    ),
                });
            }
            tracing::info!(target: "siloscope::sources::http", source = %self.source, seconds = wait.ceil(), reason = why, "waiting before the next API request");
            *waited += wait;
            self.clock.sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    /// Takes one request from the user's hourly ceiling: `None` when it may go out now, else the
    /// seconds until it may (nothing taken).
    fn take_ceiling(&self) -> Option<f64> {
        let limiter = self.ceiling.as_ref()?;
        let refused = limiter.check().err()?;
        let now = governor::clock::Clock::now(limiter.clock());
        Some(refused.wait_time_from(now).as_secs_f64().max(0.001))
    }

    fn count_sent(&self) {
        lock(&self.state).stats.requests += 1;
    }

    /// Reads `x-ratelimit-*` headers into the budget they describe.
    fn observe_headers(&self, response: &HttpResponse, budget: Budget) {
        let remaining = limit_header(response, "remaining").and_then(|v| v.trim().parse::<i64>().ok());
        let reset = limit_header(response, "reset").and_then(reset_time);
        if let (Some(remaining), Some(reset_at)) = (remaining, reset) {
            let resource = response.header("x-ratelimit-resource").unwrap_or(budget.resource()).to_string();
            lock(&self.state).budgets.insert(resource, Remaining { remaining, reset_at });
            self.publish_remaining();
        }
    }

    /// Classifies a 403/429: a rate limit to wait out, or a plain refusal.
    fn limit_wait(&self, response: &HttpResponse) -> Option<(f64, String)> {
        let now = self.clock.now();
        let retry_after = response.header("retry-after").and_then(|v| v.trim().parse::<f64>().ok());
        let remaining = limit_header(response, "remaining").and_then(|v| v.trim().parse::<i64>().ok());
        let reset = limit_header(response, "reset").and_then(reset_time);
        let body = String::from_utf8_lossy(&response.body).to_ascii_lowercase();
        let secondary_text = body.contains("secondary rate limit") || body.contains("abuse");
        if remaining == Some(0) && retry_after.is_none() && !secondary_text {
            let until = reset.unwrap_or(now + 60.0).max(now);
            return Some((until + 1.0 - now, "primary rate limit exhausted".to_string()));
        }
        if response.status == 429 || retry_after.is_some() || secondary_text || body.contains("rate limit") {
            let mut st = lock(&self.state);
            let least = self.settings.secondary_wait.as_secs_f64() * 2f64.powi(st.secondary_strikes.min(5) as i32);
            st.secondary_strikes += 1;
            let wait = retry_after.unwrap_or(0.0).max(least);
            st.blocked_until = st.blocked_until.max(now + wait);
            // Jira says which limit it applied (`RateLimit-Reason: jira-burst-based`).
            let reason = response
                .header("ratelimit-reason")
                .map(|r| format!(", {}", self.scrub(r.trim()).chars().take(100).collect::<String>()))
                .unwrap_or_default();
            return Some((wait, format!("secondary rate limit (HTTP {}{reason})", response.status)));
        }
        None
    }

    fn error_detail(&self, response: &HttpResponse) -> String {
        let message = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&response.body).chars().take(200).collect());
        self.scrub(message.trim())
    }

    async fn attempt(&self, request: &HttpRequest, budget: Budget, conditional: bool) -> Outcome {
        let mut request = request.clone();
        let cached = (conditional && request.method == Method::Get)
            .then(|| lock(&self.state).etags.get(&request.url).cloned())
            .flatten();
        if let Some((etag, _)) = &cached {
            request.headers.push(("if-none-match".into(), etag.clone()));
        }
        self.count_sent();
        let sent = tokio::time::timeout(self.settings.timeout, self.transport.send(&request)).await;
        let response = match sent {
            Err(_) => {
                self.record_request("timeout");
                self.record_error("transport");
                return Outcome::Retry("transport", format!("timed out after {:.0?}", self.settings.timeout));
            }
            Ok(Err(why)) if why.starts_with(crate::sources::bounds::BODY_CAP_MARKER) => {
                self.record_request("error");
                self.record_error("ceiling");
                return Outcome::Fail(HttpError {
                    kind: "ceiling",
                    status: None,
                    message: format!("{} {}: {}", request.method.as_str(), request.url, self.scrub(&why)),
                });
            }
            Ok(Err(why)) => {
                self.record_request("error");
                self.record_error("transport");
                return Outcome::Retry("transport", self.scrub(&why));
            }
            Ok(Ok(r)) => r,
        };
        self.record_request(&response.status.to_string());
        self.observe_headers(&response, budget);
        match response.status {
            200..=299 => {
                lock(&self.state).secondary_strikes = 0;
                if conditional
                    && request.method == Method::Get
                    && let Some(etag) = response.header("etag")
                {
                    lock(&self.state).etags.insert(request.url.clone(), (etag.to_string(), response.clone()));
                }
                Outcome::Done(response)
            }
            304 => {
                lock(&self.state).stats.not_modified += 1;
                match cached {
                    Some((_, mut body)) => {
                        // Keep the fresh rate-limit headers, serve the stored body.
                        body.headers.retain(|(k, _)| !k.starts_with("x-ratelimit"));
                        body.headers
                            .extend(response.headers.iter().filter(|(k, _)| k.starts_with("x-ratelimit")).cloned());
                        Outcome::Done(body)
                    }
                    None => {
                        lock(&self.state).etags.remove(&request.url);
                        Outcome::Retry("http", "304 Not Modified without a cached copy".into())
                    }
                }
            }
            403 | 429 => match self.limit_wait(&response) {
                Some((wait, why)) => {
                    self.record_error("rate_limit");
                    Outcome::RateLimited(wait, why)
                }
                None => {
                    self.record_error("http");
                    Outcome::Fail(HttpError {
                        kind: "http",
                        status: Some(response.status),
                        message: format!(
                            "{} {} was refused (HTTP {}): {}; check that the credential has read access to it",
                            request.method.as_str(),
                            request.url,
                            response.status,
                            self.error_detail(&response)
                        ),
                    })
                }
            },
            500..=599 => {
                self.record_error("http");
                Outcome::Retry("http", format!("HTTP {}: {}", response.status, self.error_detail(&response)))
            }
            _ => {
                let status = response.status;
                if (300..400).contains(&status) {
                    return Outcome::Done(response);
                }
                self.record_error("http");
                let hint = match status {
                    401 => {
                        "the credential was rejected: check that the token (or GitHub App key) is valid and not expired"
                    }
                    404 => "not found, or not visible to this credential: check the name and the token's access",
                    _ => "the request was not accepted",
                };
                Outcome::Fail(HttpError {
                    kind: "http",
                    status: Some(status),
                    message: format!(
                        "{} {} failed (HTTP {status}): {}; {hint}",
                        request.method.as_str(),
                        request.url,
                        self.error_detail(&response)
                    ),
                })
            }
        }
    }

    /// Sends a request under the policy. `conditional` GETs remember the `ETag` of their URL and
    /// turn a later `304 Not Modified` into the stored answer. The step's ceilings and loop
    /// detection apply (`sources::bounds`).
    pub async fn send(
        &self,
        request: &HttpRequest,
        budget: Budget,
        conditional: bool,
    ) -> Result<HttpResponse, HttpError> {
        self.guard_request(request)?;
        let response = self.send_unguarded(request, budget, conditional).await?;
        self.guard_answer(request, &response)?;
        Ok(response)
    }

    async fn send_unguarded(
        &self,
        request: &HttpRequest,
        budget: Budget,
        conditional: bool,
    ) -> Result<HttpResponse, HttpError> {
        let mut request = request.clone();
        let (mut attempt, mut rounds, mut redirects, mut waited) = (0u32, 0u32, 0u32, 0f64);
        let mut backoff = self.backoff();
        loop {
            self.wait_for_turn(budget, &mut waited, true).await?;
            match self.attempt(&request, budget, conditional).await {
                Outcome::Done(r) if (300..400).contains(&r.status) && r.status != 304 => {
                    let location = r.header("location").map(str::to_string);
                    match location.and_then(|l| redirect_target(&request.url, &l)) {
                        Some(l) if redirects < MAX_REDIRECTS => {
                            tracing::debug!(target: "siloscope::sources::http", source = %self.source, from = %self.scrub(&request.url), to = %self.scrub(&l), "following a redirect");
                            redirects += 1;
                            request.url = l;
                        }
                        _ => {
                            return Err(HttpError {
                                kind: "http",
                                status: Some(r.status),
                                message: format!(
                                    "{} {} redirected (HTTP {}) to another host or too often; check the configured URL",
                                    request.method.as_str(),
                                    request.url,
                                    r.status
                                ),
                            });
                        }
                    }
                }
                Outcome::Done(r) => return Ok(r),
                Outcome::Fail(e) => return Err(e),
                Outcome::RateLimited(wait, why) => {
                    rounds += 1;
                    if rounds > MAX_RATE_LIMIT_ROUNDS || waited + wait > self.settings.max_wait.as_secs_f64() {
                        return Err(HttpError {
                            kind: "rate_limit",
                            status: None,
                            message: format!(
                                "{} {}: {why}; waiting {wait:.0} s more is longer than this step may wait, the sync resumes at the next interval",
                                request.method.as_str(),
                                request.url
                            ),
                        });
                    }
                    tracing::warn!(target: "siloscope::sources::http", source = %self.source, url = %self.scrub(&request.url), seconds = wait.ceil(), reason = %self.scrub(&why), "rate limited; waiting");
                    waited += wait;
                    self.clock.sleep(Duration::from_secs_f64(wait)).await;
                }
                Outcome::Retry(kind, why) => {
                    attempt += 1;
                    let Some(pause) = backoff.next() else {
                        return Err(HttpError {
                            kind,
                            status: None,
                            message: format!(
                                "{} {} failed {attempt} times, last: {why}; the sync resumes at the next interval",
                                request.method.as_str(),
                                request.url
                            ),
                        });
                    };
                    tracing::warn!(target: "siloscope::sources::http", source = %self.source, url = %self.scrub(&request.url), attempt, error = %self.scrub(&why), wait_ms = pause.as_millis() as u64, "request failed; retrying");
                    self.clock.sleep(pause).await;
                }
            }
        }
    }

    /// Sends a request and parses its body as JSON; a body that is not JSON (a truncated
    /// transfer) is retried like a transport error.
    pub async fn send_json(
        &self,
        request: &HttpRequest,
        budget: Budget,
        conditional: bool,
    ) -> Result<(HttpResponse, Value), HttpError> {
        self.send_json_guarded(request, budget, conditional, true).await
    }

    /// [`Self::send_json`]; `guarded` false for a repeat of a request already counted (a GraphQL
    /// query sent again after its rate limit).
    async fn send_json_guarded(
        &self,
        request: &HttpRequest,
        budget: Budget,
        conditional: bool,
        guarded: bool,
    ) -> Result<(HttpResponse, Value), HttpError> {
        if guarded {
            self.guard_request(request)?;
        }
        let mut attempt = 0;
        let mut backoff = self.backoff();
        loop {
            let response = self.send_unguarded(request, budget, conditional).await?;
            match serde_json::from_slice::<Value>(&response.body) {
                Ok(v) => {
                    self.guard_answer(request, &response)?;
                    return Ok((response, v));
                }
                Err(e) => {
                    attempt += 1;
                    self.record_error("transport");
                    lock(&self.state).etags.remove(&request.url);
                    let Some(pause) = backoff.next() else {
                        return Err(HttpError {
                            kind: "transport",
                            status: Some(response.status),
                            message: format!(
                                "{} {}: the answer is not complete JSON after {attempt} attempts ({e})",
                                request.method.as_str(),
                                request.url
                            ),
                        });
                    };
                    tracing::warn!(target: "siloscope::sources::http", source = %self.source, url = %self.scrub(&request.url), attempt, error = %e, "unreadable answer; retrying");
                    self.clock.sleep(pause).await;
                }
            }
        }
    }

    /// Runs a GraphQL document. Waits out `RATE_LIMITED` errors, reads `rateLimit { remaining
    /// resetAt cost }` into the budget, and returns data with any other errors for the caller.
    pub async fn graphql(
        &self,
        url: &str,
        authorization: Option<Secret>,
        document: &str,
        variables: Value,
    ) -> Result<GraphqlResponse, HttpError> {
        let body =
            serde_json::to_vec(&serde_json::json!({ "query": document, "variables": variables })).map_err(|e| {
                HttpError { kind: "malformed", status: None, message: format!("cannot encode a GraphQL request: {e}") }
            })?;
        let request = HttpRequest {
            method: Method::Post,
            url: url.to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(body),
            authorization,
        };
        let mut rounds = 0;
        let mut waited = 0.0;
        loop {
            let (response, value) = self.send_json_guarded(&request, Budget::Graphql, false, rounds == 0).await?;
            let errors: Vec<GraphqlError> = value
                .get("errors")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|e| GraphqlError {
                            kind: e.get("type").and_then(Value::as_str).map(str::to_string),
                            message: self.scrub(e.get("message").and_then(Value::as_str).unwrap_or("")),
                            path: e
                                .get("path")
                                .and_then(Value::as_array)
                                .map(|p| {
                                    p.iter().map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string)).collect()
                                })
                                .unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            if errors.iter().any(|e| e.kind.as_deref() == Some("RATE_LIMITED")) {
                let now = self.clock.now();
                let reset =
                    response.header("x-ratelimit-reset").and_then(|v| v.parse::<f64>().ok()).unwrap_or(now + 60.0);
                lock(&self.state).budgets.insert("graphql".into(), Remaining { remaining: 0, reset_at: reset });
                self.record_error("rate_limit");
                rounds += 1;
                let wait = (reset + 1.0 - now).max(1.0);
                if rounds > MAX_RATE_LIMIT_ROUNDS || waited + wait > self.settings.max_wait.as_secs_f64() {
                    return Err(HttpError {
                        kind: "rate_limit",
                        status: None,
                        message: format!(
                            "GraphQL points exhausted until {reset:.0}; the sync resumes at the next interval"
                        ),
                    });
                }
                waited += wait;
                self.wait_for_turn(Budget::Graphql, &mut 0.0, false).await?;
                continue;
            }
            let data = value.get("data").cloned().unwrap_or(Value::Null);
            if let Some(rl) = data.get("rateLimit") {
                let remaining = rl.get("remaining").and_then(Value::as_i64);
                let reset_at = rl.get("resetAt").and_then(Value::as_str).and_then(parse_time);
                if let (Some(remaining), Some(reset_at)) = (remaining, reset_at) {
                    lock(&self.state)
                        .budgets
                        .insert("graphql".into(), Remaining { remaining, reset_at: reset_at as f64 });
                    self.publish_remaining();
                }
                if let Some(cost) = rl.get("cost").and_then(Value::as_i64) {
                    lock(&self.state).stats.graphql_points += cost;
                }
            }
            if data.is_null() && !errors.is_empty() {
                let first = &errors[0];
                return Err(HttpError {
                    kind: "http",
                    status: Some(response.status),
                    message: format!("GraphQL query failed: {}", first.message),
                });
            }
            return Ok(GraphqlResponse { data, errors });
        }
    }
}

/// A rate-limit header: GitHub's `x-ratelimit-<name>`, else GitLab's `ratelimit-<name>`.
fn limit_header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
    response.header(&format!("x-ratelimit-{name}")).or_else(|| response.header(&format!("ratelimit-{name}")))
}

/// A source step's result with every secret the client knows scrubbed from its error message
/// and from the links of its items: whatever a server echoed back (a token in a URL, a header),
/// it never reaches a log, a metric, the store or a report.
pub fn scrub_error(
    result: Result<crate::sources::SyncStep, SourceError>,
    client: Option<&ApiClient>,
) -> Result<crate::sources::SyncStep, SourceError> {
    match (scrub_message(result, client), client) {
        (Ok(mut step), Some(client)) => {
            let redactor = lock(&client.redactor);
            if !redactor.is_empty() {
                for item in &mut step.batch.items {
                    item.url = redactor.scrub(&item.url);
                }
            }
            drop(redactor);
            Ok(step)
        }
        (result, _) => result,
    }
}

/// A result with every secret the client knows scrubbed from its error message (a step's, a
/// count's): what a server echoed back never reaches a log or a metric.
pub fn scrub_message<T>(result: Result<T, SourceError>, client: Option<&ApiClient>) -> Result<T, SourceError> {
    match (result, client) {
        (Err(e), Some(client)) => Err(SourceError { kind: e.kind, message: client.scrub(&e.message) }),
        (result, _) => result,
    }
}

/// Points a source's API client (if it has one yet) at the sources' telemetry (src/sources/telemetry.rs).
pub fn attach_health(client: Option<&ApiClient>, health: &Arc<crate::sources::telemetry::SourceTelemetry>) {
    if let Some(c) = client {
        c.set_health(health.clone());
    }
}

/// A rate-limit reset header: epoch seconds (GitHub, GitLab) or an ISO 8601 time (Jira Cloud's
/// `X-RateLimit-Reset: 2024-05-07T17:24Z`, minutes only).
fn reset_time(value: &str) -> Option<f64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Some(secs);
    }
    let full = match v.strip_suffix('Z') {
        Some(minutes) if minutes.len() == 16 => format!("{minutes}:00Z"),
        _ => v.to_string(),
    };
    parse_time(&full).map(|t| t as f64)
}

/// Epoch seconds of an RFC 3339 time (`2024-05-01T10:00:00Z`).
pub fn parse_time(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp())
}

/// Where a redirect of `from` to `location` (absolute, or relative to `from`) may go: the same
/// origin (scheme, host and port) and no user info, else `None`.
fn redirect_target(from: &str, location: &str) -> Option<String> {
    let from = url::Url::parse(from).ok()?;
    let to = from.join(location.trim()).ok()?;
    let bare = to.username().is_empty() && to.password().is_none();
    (bare && from.origin().is_tuple() && to.origin() == from.origin()).then(|| to.to_string())
}

/// What a query value or a path segment keeps as it is: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A query value or one path segment, percent-encoded (`acme/pay` → `acme%2Fpay`, `a b` →
/// `a%20b`): every byte but the unreserved characters, as `%XX` in capitals.
pub fn encode_component(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// The `rel="next"` target of a `Link` header (RFC 8288: GitHub's REST pages, GitLab's offset
/// and keyset pagination), resolved against `base`, the URL the header answered. `None` when
/// there is none or it is not an HTTP(S) URL.
pub fn next_link(header: &str, base: &str) -> Option<String> {
    let (target, _) = links(header).into_iter().find(|(_, rels)| rels.iter().any(|r| r == "next"))?;
    let url = url::Url::parse(base).and_then(|b| b.join(&target)).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// Every link of a `Link` header: its target as written and its `rel` types, lower-cased.
/// Commas and semicolons inside `<…>` or a quoted value do not split; a malformed rest is dropped.
fn links(header: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(after) = rest.strip_prefix('<') else { return out };
        let Some(end) = after.find('>') else { return out };
        let target = after[..end].trim().to_string();
        rest = &after[end + 1..];
        let mut rels = Vec::new();
        loop {
            rest = rest.trim_start();
            let Some(param) = rest.strip_prefix(';') else { break };
            let name_end = param.find(['=', ';', ',']).unwrap_or(param.len());
            let name = param[..name_end].trim().to_ascii_lowercase();
            rest = &param[name_end..];
            let mut value = String::new();
            if let Some(v) = rest.strip_prefix('=') {
                let v = v.trim_start();
                if let Some(quoted) = v.strip_prefix('"') {
                    let mut chars = quoted.char_indices();
                    let mut close = quoted.len();
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, escaped)) = chars.next() {
                                    value.push(escaped);
                                }
                            }
                            '"' => {
                                close = i + 1;
                                break;
                            }
                            c => value.push(c),
                        }
                    }
                    rest = &quoted[close.min(quoted.len())..];
                } else {
                    let end = v.find([';', ',']).unwrap_or(v.len());
                    value = v[..end].trim().to_string();
                    rest = &v[end..];
                }
            }
            if name == "rel" && rels.is_empty() {
                rels = value.split_whitespace().map(str::to_ascii_lowercase).collect();
            }
        }
        out.push((target, rels));
    }
}

/// Sends requests over the network with reqwest: HTTP/1.1, rustls with the ring provider and the
/// system's CA roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` name others, a private CA's included), no
/// proxy, no redirects, no retries, no decompression: auth, retries, redirects and limits are the
/// policy's business ([`ApiClient`]). The body is read as a stream and cut at the cap.
pub struct NetworkTransport {
    client: reqwest::Client,
}

impl NetworkTransport {
    pub fn new(connect_timeout: Duration) -> Result<NetworkTransport, String> {
        let setup = |why: String| format!("cannot set up the HTTP client: {why}");
        let native = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            let why = native.errors.first().map_or_else(|| "no CA certificates found".to_string(), |e| e.to_string());
            return Err(setup(why));
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .http1_only()
            .user_agent(format!("siloscope/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| setup(describe_transport_error(&e)))?;
        Ok(NetworkTransport { client })
    }
}

impl Transport for NetworkTransport {
    fn send<'a>(&'a self, request: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>> {
        Box::pin(async move {
            let method = match request.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
            };
            let url =
                reqwest::Url::parse(&request.url).map_err(|e| format!("invalid request to {}: {e}", request.url))?;
            let mut builder = self.client.request(method, url);
            for (k, v) in &request.headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            if let Some(secret) = &request.authorization {
                let mut value = http::HeaderValue::from_str(&secret.header_value())
                    .map_err(|_| "the credential contains characters not allowed in an HTTP header".to_string())?;
                value.set_sensitive(true);
                builder = builder.header(http::header::AUTHORIZATION, value);
            }
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            let req = builder
                .build()
                .map_err(|e| format!("invalid request to {}: {}", request.url, describe_transport_error(&e)))?;
            let mut response = self.client.execute(req).await.map_err(|e| describe_transport_error(&e))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let cap = crate::sources::bounds::BODY_CAP;
            let declared = response.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
            if declared.and_then(|v| v.trim().parse::<u64>().ok()).is_some_and(|n| n > cap as u64) {
                return Err(crate::sources::bounds::body_too_large(&request.url));
            }
            // Streamed, so that a server sending without end is cut off at the cap.
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| format!("reading the answer failed: {}", describe_transport_error(&e)))?
            {
                if body.len() + chunk.len() > cap {
                    return Err(crate::sources::bounds::body_too_large(&request.url));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse { status, headers, body })
        })
    }
}

/// A transport error as text, with its chain of causes (connection refused, TLS…), each said
/// once. The URL is left out: the policy's message names the request itself.
fn describe_transport_error(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    let head = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else if e.is_builder() {
        "invalid request"
    } else {
        "the request failed"
    };
    if parts.is_empty() { head.to_string() } else { format!("{head}: {}", parts.join(": ")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Answers from a script; records what it was sent.
    struct Scripted {
        answers: Mutex<VecDeque<Result<HttpResponse, String>>>,
        seen: Mutex<Vec<HttpRequest>>,
    }

    impl Scripted {
        fn new(answers: Vec<Result<HttpResponse, String>>) -> Arc<Scripted> {
            Arc::new(Scripted { answers: Mutex::new(answers.into()), seen: Mutex::new(Vec::new()) })
        }
    }

    impl Transport for Scripted {
        fn send<'a>(&'a self, request: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>> {
            lock(&self.seen).push(request.clone());
            let next = lock(&self.answers).pop_front().unwrap_or_else(|| Err("script exhausted".into()));
            Box::pin(async move { next })
        }
    }

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Result<HttpResponse, String> {
        Ok(HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    const T0: f64 = 1_700_000_000.0;

    fn client(t: Arc<Scripted>, settings: HttpSettings) -> (ApiClient, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(T0));
        (ApiClient::new("gh", t, clock.clone(), settings), clock)
    }

    fn get(url: &str) -> HttpRequest {
        HttpRequest { method: Method::Get, url: url.into(), headers: vec![], body: None, authorization: None }
    }

    #[tokio::test]
    async fn server_errors_and_transport_failures_are_retried_with_growing_jittered_backoff() {
        let t = Scripted::new(vec![
            resp(502, &[], "bad gateway"),
            Err("connection reset".into()),
            resp(500, &[], "{\"message\":\"oops\"}"),
            resp(200, &[], "{}"),
        ]);
        let (c, clock) = client(t.clone(), HttpSettings::default());
        let r = c.send(&get("https://api.test/x"), Budget::Rest, false).await.unwrap();
        assert_eq!(r.status, 200);
        let sleeps = clock.sleeps();
        assert_eq!(sleeps.len(), 3);
        // Equal jitter: attempt n waits within [2^(n-1)/2, 2^(n-1)] seconds.
        for (i, s) in sleeps.iter().enumerate() {
            let full = 2f64.powi(i as i32);
            assert!(s.as_secs_f64() >= full / 2.0 && s.as_secs_f64() <= full, "sleep {i} = {s:?}");
        }
        assert_eq!(c.stats().requests, 4);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_with_the_last_error() {
        let t = Scripted::new((0..3).map(|_| resp(503, &[], "{\"message\":\"unavailable\"}")).collect());
        let (c, _) = client(t, HttpSettings { max_attempts: 3, ..HttpSettings::default() });
        let e = c.send(&get("https://api.test/x"), Budget::Rest, false).await.unwrap_err();
        assert_eq!(e.kind, "http");
        assert!(e.message.contains("failed 3 times") && e.message.contains("HTTP 503: unavailable"), "{}", e.message);
    }

    #[tokio::test]
    async fn secondary_limits_wait_at_least_a_minute_and_honour_longer_retry_after() {
        let t = Scripted::new(vec![
            resp(403, &[], r#"{"message":"You have exceeded a secondary rate limit."}"#),
            resp(429, &[("retry-after", "5")], "{}"),
            resp(403, &[("retry-after", "300")], "{}"),
            resp(200, &[], "{}"),
        ]);
        let (c, clock) = client(t, HttpSettings::default());
        c.send(&get("https://api.test/x"), Budget::Rest, false).await.unwrap();
        let s: Vec<u64> = clock.sleeps().iter().map(|d| d.as_secs()).collect();
        // 60 s, then doubled (120 s ≥ retry-after 5), then 300 s (retry-after beats 240 s).
        assert_eq!(s, vec![60, 120, 300]);
    }

    #[tokio::test]
    async fn the_abuse_body_of_a_real_github_403_is_a_secondary_limit() {
        let dir = std::env::var("SILOSCOPE_REALDATA")
            .unwrap_or_else(|_| format!("{}/../../../shared/realdata", env!("CARGO_MANIFEST_DIR")));
        let Ok(body) = std::fs::read_to_string(format!("{dir}/perceval/github/abuse_rate_limit")) else {
            panic!("realdata missing at {dir}; set SILOSCOPE_REALDATA");
        };
        let t = Scripted::new(vec![resp(403, &[], &body), resp(200, &[], "{}")]);
        let (c, clock) = client(t, HttpSettings::default());
        c.send(&get("https://api.test/x"), Budget::Rest, false).await.unwrap();
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(60)]);
    }

    #[tokio::test]
    async fn an_exhausted_primary_budget_waits_for_its_reset_before_the_next_request() {
        let reset = (T0 + 500.0).to_string();
        let t = Scripted::new(vec![
            resp(200, &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)], "{}"),
            resp(200, &[("x-ratelimit-remaining", "4999"), ("x-ratelimit-reset", &reset)], "{}"),
        ]);
        let (c, clock) = client(t, HttpSettings::default());
        c.send(&get("https://api.test/a"), Budget::Rest, false).await.unwrap();
        assert!(clock.sleeps().is_empty());
        c.send(&get("https://api.test/b"), Budget::Rest, false).await.unwrap();
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(501)]);
    }

    #[test]
    fn reset_headers_are_epoch_seconds_or_iso_times() {
        assert_eq!(reset_time("1714000000"), Some(1_714_000_000.0));
        // Jira Cloud: minutes only, UTC.
        assert_eq!(reset_time("2024-05-07T17:24Z"), Some(1_715_102_640.0));
        assert_eq!(reset_time("2024-05-07T17:24:30+02:00"), Some(1_715_095_470.0));
        assert_eq!(reset_time("soon"), None);
    }

    #[tokio::test]
    async fn jira_rate_limit_headers_wait_until_the_iso_reset_then_for_retry_after() {
        let t = Scripted::new(vec![
            resp(200, &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "2023-11-14T22:25Z")], "{}"),
            resp(
                429,
                &[("retry-after", "75"), ("ratelimit-reason", "jira-burst-based")],
                r#"{"errorMessages":["Rate limit exceeded."]}"#,
            ),
            resp(200, &[], "{}"),
        ]);
        let (c, clock) = client(t, HttpSettings::default());
        c.send(&get("https://acme.atlassian.net/a"), Budget::Rest, false).await.unwrap();
        c.send(&get("https://acme.atlassian.net/b"), Budget::Rest, false).await.unwrap();
        let sleeps = clock.sleeps();
        // First the exhausted budget until its ISO reset (+1 s), then the 429's Retry-After.
        assert_eq!(sleeps.len(), 2, "{sleeps:?}");
        assert_eq!(sleeps[0], Duration::from_secs(701));
        assert_eq!(sleeps[1], Duration::from_secs(75));
    }

    #[tokio::test]
    async fn gitlab_ratelimit_headers_are_read_like_githubs() {
        let reset = (T0 + 300.0).to_string();
        let t = Scripted::new(vec![
            resp(200, &[("ratelimit-remaining", "0"), ("ratelimit-reset", &reset)], "[]"),
            resp(
                429,
                &[("retry-after", "90"), ("ratelimit-remaining", "0"), ("ratelimit-reset", &reset)],
                "Retry later",
            ),
            resp(200, &[("ratelimit-remaining", "1999"), ("ratelimit-reset", &reset)], "[]"),
        ]);
        let (c, clock) = client(t, HttpSettings::default());
        c.send(&get("https://gitlab.test/a"), Budget::Rest, false).await.unwrap();
        c.send(&get("https://gitlab.test/b"), Budget::Rest, false).await.unwrap();
        // Waited for the reset (301 s), then the 429's Retry-After (90 s, at least a minute).
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(301), Duration::from_secs(90)]);
    }

    #[tokio::test]
    async fn a_primary_403_waits_until_reset_and_a_too_long_wait_fails_as_rate_limit() {
        let far = (T0 + 3000.0).to_string();
        let t = Scripted::new(vec![resp(
            403,
            &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &far)],
            r#"{"message":"API rate limit exceeded"}"#,
        )]);
        let (c, clock) = client(t, HttpSettings::default());
        let e = c.send(&get("https://api.test/a"), Budget::Rest, false).await.unwrap_err();
        assert_eq!(e.kind, "rate_limit");
        assert!(clock.sleeps().is_empty(), "a 50-minute wait exceeds the 15-minute step limit");
    }

    #[tokio::test]
    async fn a_plain_403_is_not_retried() {
        let t = Scripted::new(vec![resp(403, &[], r#"{"message":"Resource not accessible by integration"}"#)]);
        let (c, _) = client(t, HttpSettings::default());
        let e = c.send(&get("https://api.test/a"), Budget::Rest, false).await.unwrap_err();
        assert_eq!((e.kind, e.status), ("http", Some(403)));
        assert!(e.message.contains("Resource not accessible by integration"));
    }

    #[tokio::test]
    async fn the_hourly_ceiling_lets_a_burst_through_then_paces_requests() {
        let t = Scripted::new((0..6).map(|_| resp(200, &[], "{}")).collect());
        let settings =
            HttpSettings { requests_per_hour: Some(2), max_wait: Duration::from_secs(3600), ..HttpSettings::default() };
        let (c, clock) = client(t, settings);
        let secs = |clock: &ManualClock| clock.sleeps().iter().map(|d| d.as_secs_f64()).collect::<Vec<_>>();
        for _ in 0..4 {
            c.begin_step(); // one poll per step
            c.send(&get("https://api.test/a"), Budget::Rest, false).await.unwrap();
        }
        // Two at once, then one every half hour (an hour over the ceiling of 2).
        assert_eq!(secs(&clock), vec![1800.0, 1800.0]);
        // An idle hour fills the burst again: two more go out at once.
        clock.advance(3600.0);
        for _ in 0..2 {
            c.begin_step();
            c.send(&get("https://api.test/a"), Budget::Rest, false).await.unwrap();
        }
        assert_eq!(secs(&clock), vec![1800.0, 1800.0]);
        assert_eq!(c.stats().requests, 6);
    }

    #[tokio::test]
    async fn a_ceiling_wait_longer_than_a_step_may_wait_fails_as_rate_limit_unsent() {
        let t = Scripted::new((0..2).map(|_| resp(200, &[], "{}")).collect());
        let (c, clock) = client(t, HttpSettings { requests_per_hour: Some(1), ..HttpSettings::default() });
        c.send(&get("https://api.test/a"), Budget::Rest, false).await.unwrap();
        c.begin_step();
        let e = c.send(&get("https://api.test/a"), Budget::Rest, false).await.unwrap_err();
        assert_eq!(e.kind, "rate_limit");
        assert_eq!(
            e.message,
            "gh: waiting 3600 s for the requests_per_hour ceiling is longer than this step may wait; the sync resumes at the next interval"
        );
        assert_eq!((c.stats().requests, clock.sleeps().len()), (1, 0));
    }

    #[tokio::test]
    async fn etags_turn_a_304_into_the_stored_answer() {
        let t = Scripted::new(vec![
            resp(200, &[("etag", "\"v1\"")], "[1]"),
            resp(304, &[("x-ratelimit-remaining", "4999"), ("x-ratelimit-reset", "1")], ""),
        ]);
        let (c, _) = client(t.clone(), HttpSettings::default());
        let a = c.send(&get("https://api.test/list"), Budget::Rest, true).await.unwrap();
        c.begin_step(); // the next poll
        let b = c.send(&get("https://api.test/list"), Budget::Rest, true).await.unwrap();
        assert_eq!((a.body.clone(), b.body.clone()), (b"[1]".to_vec(), b"[1]".to_vec()));
        let seen = lock(&t.seen);
        assert!(seen[0].headers.is_empty());
        assert_eq!(seen[1].headers, vec![("if-none-match".to_string(), "\"v1\"".to_string())]);
        assert_eq!(c.stats().not_modified, 1);
    }

    #[tokio::test]
    async fn a_request_repeated_in_a_step_is_a_loop_and_is_not_sent() {
        let t = Scripted::new((0..3).map(|_| resp(200, &[], "{}")).collect());
        let (c, _) = client(t.clone(), HttpSettings::default());
        c.send(&get("https://api.test/page?after=X"), Budget::Rest, false).await.unwrap();
        let e = c.send_json(&get("https://api.test/page?after=X"), Budget::Rest, false).await.unwrap_err();
        assert_eq!(e.kind, "loop");
        assert!(e.message.contains("https://api.test/page?after=X"), "{}", e.message);
        assert_eq!(c.stats().requests, 1);
        c.begin_step();
        c.send(&get("https://api.test/page?after=X"), Budget::Rest, false).await.unwrap();
    }

    #[tokio::test]
    async fn a_body_over_the_cap_fails_at_once_with_a_ceiling_error() {
        struct Huge;
        impl Transport for Huge {
            fn send<'a>(&'a self, r: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>> {
                let url = r.url.clone();
                Box::pin(async move { Err(crate::sources::bounds::body_too_large(&url)) })
            }
        }
        let clock = Arc::new(ManualClock::new(T0));
        let c = ApiClient::new("gh", Arc::new(Huge), clock.clone(), HttpSettings::default());
        let e = c.send(&get("https://api.test/huge"), Budget::Rest, false).await.unwrap_err();
        assert_eq!(e.kind, "ceiling");
        assert!(e.message.contains("https://api.test/huge") && e.message.contains("32 MiB"), "{}", e.message);
        assert_eq!((c.stats().requests, clock.sleeps().len()), (1, 0), "not retried");
    }

    #[tokio::test]
    async fn truncated_json_is_retried() {
        let t = Scripted::new(vec![resp(200, &[], "{\"data\": {\"a\""), resp(200, &[], "{\"data\":{\"a\":1}}")]);
        let (c, clock) = client(t, HttpSettings::default());
        let (_, v) = c.send_json(&get("https://api.test/q"), Budget::Graphql, false).await.unwrap();
        assert_eq!(v["data"]["a"], 1);
        assert_eq!(clock.sleeps().len(), 1);
    }

    #[tokio::test]
    async fn graphql_rate_limit_points_are_read_and_rate_limited_errors_waited_out() {
        let reset_at = chrono::DateTime::from_timestamp(T0 as i64 + 100, 0).unwrap().to_rfc3339();
        let ok = format!(r#"{{"data":{{"rateLimit":{{"cost":3,"remaining":4000,"resetAt":"{reset_at}"}}}}}}"#);
        let t = Scripted::new(vec![
            resp(
                200,
                &[("x-ratelimit-reset", &(T0 + 30.0).to_string())],
                r#"{"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded"}]}"#,
            ),
            resp(200, &[], &ok),
        ]);
        let (c, clock) = client(t, HttpSettings::default());
        let r = c.graphql("https://api.test/graphql", None, "query { rateLimit { cost } }", Value::Null).await.unwrap();
        assert!(r.errors.is_empty());
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(31)]);
        assert_eq!(c.stats().graphql_points, 3);
    }

    #[tokio::test]
    async fn secrets_are_scrubbed_from_errors_and_never_debug_printed() {
        let token = Secret::new("ghp_SECRETSECRET");
        assert_eq!(format!("{token:?} {token}"), "Secret([redacted]) [redacted]");
        let t = Scripted::new(vec![resp(401, &[], r#"{"message":"Bad credentials ghp_SECRETSECRET"}"#)]);
        let (c, _) = client(t, HttpSettings::default());
        c.register_secret(&token);
        let mut req = get("https://api.test/a");
        req.authorization = Some(token);
        let e = c.send(&req, Budget::Rest, false).await.unwrap_err();
        assert!(!e.message.contains("SECRETSECRET") && e.message.contains("[redacted]"), "{}", e.message);
        assert!(!format!("{req:?}").contains("SECRETSECRET"));
    }

    #[tokio::test]
    async fn redirects_are_followed_on_the_same_host_only() {
        let t = Scripted::new(vec![
            resp(301, &[("location", "https://api.test/repos/acme/new")], ""),
            resp(200, &[], "{}"),
            resp(302, &[("location", "https://evil.test/steal")], ""),
        ]);
        let (c, _) = client(t.clone(), HttpSettings::default());
        c.send(&get("https://api.test/repos/acme/old"), Budget::Rest, false).await.unwrap();
        assert_eq!(lock(&t.seen)[1].url, "https://api.test/repos/acme/new");
        let e = c.send(&get("https://api.test/x"), Budget::Rest, false).await.unwrap_err();
        assert_eq!(e.status, Some(302));
    }

    #[test]
    fn the_next_link_of_github_and_gitlab_link_headers() {
        // GitHub REST, as its pagination guide shows it (page numbers, four relations).
        let github = r#"<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", <https://api.github.com/repositories/1300192/issues?page=4>; rel="next", <https://api.github.com/repositories/1300192/issues?page=515>; rel="last", <https://api.github.com/repositories/1300192/issues?page=1>; rel="first""#;
        let base = "https://api.github.com/repositories/1300192/issues?page=3";
        assert_eq!(
            next_link(github, base).as_deref(),
            Some("https://api.github.com/repositories/1300192/issues?page=4")
        );
        // GitHub's cursor pages: `after=` a base64 cursor, an empty `before=`.
        let cursor = r#"<https://api.github.com/orgs/acme/audit-log?after=MTYwMTkxOTU5NjQxM3xZbGI4VE5EZ1dvZTlla09uWjhoZFpR&before=>; rel="next""#;
        assert_eq!(
            next_link(cursor, "https://api.github.com/orgs/acme/audit-log").as_deref(),
            Some(
                "https://api.github.com/orgs/acme/audit-log?after=MTYwMTkxOTU5NjQxM3xZbGI4VE5EZ1dvZTlla09uWjhoZFpR&before="
            )
        );
        // GitLab offset pages (notes) and keyset pages (only `rel="next"`, no x-next-page).
        let offset = r#"<https://gl.test/api/v4/projects/1/notes?page=3&per_page=100>; rel="next", <https://gl.test/api/v4/projects/1/notes?page=1>; rel="first""#;
        assert_eq!(
            next_link(offset, "https://gl.test/api/v4/projects/1/notes?page=2&per_page=100").as_deref(),
            Some("https://gl.test/api/v4/projects/1/notes?page=3&per_page=100")
        );
        let keyset = r#"<https://gitlab.example.com/api/v4/projects?pagination=keyset&per_page=50&order_by=id&sort=asc&id_after=42>; rel="next""#;
        assert_eq!(
            next_link(keyset, "https://gitlab.example.com/api/v4/projects?pagination=keyset&per_page=50").as_deref(),
            Some(
                "https://gitlab.example.com/api/v4/projects?pagination=keyset&per_page=50&order_by=id&sort=asc&id_after=42"
            )
        );
        assert_eq!(next_link(r#"<https://gl.test/x?page=1>; rel="first""#, "https://gl.test/x"), None);
        assert_eq!(next_link("", "https://gl.test/x"), None);
    }

    #[test]
    fn link_headers_split_only_between_links() {
        // A comma and a semicolon in the target or in a quoted value split nothing; `rel` may be a
        // list, unquoted, any case; a relative target is resolved against the answered URL.
        let h = r#"<https://h.test/l?labels=a,b;c>; title="x, y; rel=next"; rel="first", </l?page=2>; REL="prev Next""#;
        assert_eq!(next_link(h, "https://h.test/l?page=1").as_deref(), Some("https://h.test/l?page=2"));
        assert_eq!(
            next_link(r#"<https://h.test/l?labels=a,b>; rel=next"#, "https://h.test/").as_deref(),
            Some("https://h.test/l?labels=a,b")
        );
        assert_eq!(next_link(r#"<javascript:alert(1)>; rel="next""#, "https://h.test/"), None);
        assert_eq!(next_link(r#"<https://h.test/unclosed; rel="next""#, "https://h.test/"), None);
    }

    #[test]
    fn components_are_percent_encoded_but_for_unreserved_characters() {
        assert_eq!(encode_component("acme/pay.core"), "acme%2Fpay.core");
        assert_eq!(encode_component("a b\"=~_-"), "a%20b%22%3D~_-");
        assert_eq!(encode_component("é+&"), "%C3%A9%2B%26");
    }

    #[test]
    fn redirects_stay_on_the_origin_and_carry_no_user_info() {
        let from = "https://api.test/repos/acme/old?x=1";
        assert_eq!(
            redirect_target(from, "https://api.test/repos/acme/new").as_deref(),
            Some("https://api.test/repos/acme/new")
        );
        assert_eq!(redirect_target(from, "/repos/acme/new").as_deref(), Some("https://api.test/repos/acme/new"));
        assert_eq!(redirect_target(from, "https://API.test:443/y").as_deref(), Some("https://api.test/y"));
        assert_eq!(redirect_target(from, "https://api.test:8443/y"), None);
        assert_eq!(redirect_target(from, "http://api.test/y"), None);
        assert_eq!(redirect_target(from, "https://evil.test/steal"), None);
        assert_eq!(redirect_target(from, "https://me:pw@api.test/y"), None);
        assert_eq!(redirect_target("not a url", "/y"), None);
    }
}
