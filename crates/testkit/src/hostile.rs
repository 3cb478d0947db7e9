//! A hostile server for tests and benchmarks: a proxy in front of any of the three stand-ins that
//! turns its honest answers into what a broken or malicious server sends (endless lists, a page
//! repeated, a 1 GiB body, a 600 s rate limit, no answer at all). It knows the APIs' paging
//! fields only; it must never be used by the daemon itself.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::mutex::lock;
use crate::sources::http::{HttpRequest, Method, NetworkTransport, Transport};

/// How the proxy misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Passes every answer through unchanged (the fault-free run, through the same proxy).
    Honest,
    /// Every list claims more, page after page, each page a little different: Jira `total` 10⁹
    /// and never `isLast` (follow-ups answered from the first page), a fresh `nextPageToken`;
    /// GitHub `hasNextPage` with a fresh `endCursor`; GitLab an `x-next-page` one further.
    Endless,
    /// Every continuation is answered with the first page and the same cursor or page token.
    Repeat,
    /// 200 with a body of 1 GiB that never becomes JSON.
    HugeBody,
    /// 429 with `Retry-After: 600` on every request.
    RateLimited,
    /// Accepts the request and never answers.
    Hung,
}

struct Inner {
    upstream: String,
    own: String,
    mode: Mutex<Hostile>,
    requests: AtomicU64,
    notify: tokio::sync::Notify,
    transport: NetworkTransport,
}

/// A running hostile proxy. Dropping it stops the server.
pub struct HostileProxy {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostileProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostileProxy {
    /// A proxy on loopback forwarding to `upstream` (`http://127.0.0.1:<port>`, a stand-in).
    pub async fn start(upstream: &str, mode: Hostile) -> std::io::Result<HostileProxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let transport = NetworkTransport::new(Duration::from_secs(5)).map_err(std::io::Error::other)?;
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_string(),
            own: format!("http://{addr}"),
            mode: Mutex::new(mode),
            requests: AtomicU64::new(0),
            notify: tokio::sync::Notify::new(),
            transport,
        });
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(HostileProxy { inner, task })
    }

    /// `http://127.0.0.1:<port>`: configure a source with it in place of the stand-in's URL.
    pub fn url(&self) -> String {
        self.inner.own.clone()
    }

    /// The proxy's URL for a URL of the stand-in (`https://…/graphql` of a GitHub stand-in).
    pub fn rebase(&self, upstream_url: &str) -> String {
        upstream_url.replacen(&self.inner.upstream, &self.inner.own, 1)
    }

    pub fn set(&self, mode: Hostile) {
        *lock(&self.inner.mode) = mode;
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Acquire)
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: u64) {
        loop {
            let notified = self.inner.notify.notified();
            if self.requests() >= n {
                return;
            }
            notified.await;
        }
    }
}

/// A body of `left` bytes of spaces after a `[`: never complete JSON.
struct Endless {
    left: u64,
    started: bool,
}

impl axum::body::HttpBody for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        static CHUNK: [u8; 64 << 10] = [b' '; 64 << 10];
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len() as u64) as usize;
        self.left -= n as u64;
        let data = if self.started {
            Bytes::from_static(&CHUNK[..n])
        } else {
            self.started = true;
            let mut v = CHUNK[..n].to_vec();
            v[0] = b'[';
            Bytes::from(v)
        };
        Poll::Ready(Some(Ok(http_body::Frame::data(data))))
    }
}

fn json_answer(status: u16, body: &Value, headers: &[(&str, String)]) -> Response {
    let mut r = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (axum::http::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            r.headers_mut().insert(name, value);
        }
    }
    r
}

const TOKEN_PREFIX: &str = "hostile-";

/// The request as the stand-in should see it: continuation parameters put back to the first page.
fn rewrite_query(path: &str, query: &str, mode: Hostile) -> (String, u32) {
    let follow_up = path.contains("/changelog") || path.contains("/comment");
    let mut page = 1;
    let parts: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k {
                "nextPageToken" if v.starts_with(TOKEN_PREFIX) => None,
                "startAt" if mode == Hostile::Repeat || follow_up => Some("startAt=0".to_string()),
                "page" => {
                    page = v.parse().unwrap_or(1);
                    Some("page=1".to_string())
                }
                _ => Some(kv.to_string()),
            }
        })
        .collect();
    (parts.join("&"), page)
}

/// GraphQL variables the proxy made up (`after: "hostile-…"`) back to the first page.
fn rewrite_graphql(body: &[u8]) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else { return body.to_vec() };
    if let Some(vars) = v.get_mut("variables").and_then(Value::as_object_mut) {
        for value in vars.values_mut() {
            if value.as_str().is_some_and(|s| s.starts_with(TOKEN_PREFIX)) {
                *value = Value::Null;
            }
        }
    }
    serde_json::to_vec(&v).unwrap_or_else(|_| body.to_vec())
}

/// Paging fields turned endless (`token` a fresh or the same made-up cursor).
fn mangle(v: &mut Value, token: &str) {
    match v {
        Value::Object(map) => {
            if map.get("total").is_some_and(Value::is_u64) {
                map.insert("total".into(), json!(1_000_000_000u64));
            }
            if map.contains_key("isLast") {
                map.insert("isLast".into(), json!(false));
            }
            if map.get("issues").is_some_and(Value::is_array) {
                map.insert("nextPageToken".into(), json!(token));
                map.insert("isLast".into(), json!(false));
            }
            if let Some(Value::Object(p)) = map.get_mut("pageInfo") {
                p.insert("hasNextPage".into(), json!(true));
                p.insert("endCursor".into(), json!(token));
            }
            for child in map.values_mut() {
                mangle(child, token);
            }
        }
        Value::Array(list) => list.iter_mut().for_each(|c| mangle(c, token)),
        _ => {}
    }
}

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let n = inner.requests.fetch_add(1, Ordering::AcqRel) + 1;
    inner.notify.notify_waiters();
    let mode = *lock(&inner.mode);
    match mode {
        Hostile::Hung => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Hostile::RateLimited => {
            return json_answer(
                429,
                &json!({"message": "Too many requests", "errorMessages": ["Rate limit exceeded."]}),
                &[("retry-after", "600".into())],
            );
        }
        Hostile::HugeBody => {
            let mut r = Response::new(Body::new(Endless { left: 1 << 30, started: false }));
            r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
            return r;
        }
        Hostile::Honest | Hostile::Endless | Hostile::Repeat => {}
    }
    let method = if request.method() == axum::http::Method::POST { Method::Post } else { Method::Get };
    let path = request.uri().path().to_string();
    let (query, page) = match (mode, request.uri().query()) {
        (Hostile::Honest, q) => (q.unwrap_or("").to_string(), 1),
        (_, q) => rewrite_query(&path, q.unwrap_or(""), mode),
    };
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length" | "connection" | "user-agent"))
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = axum::body::to_bytes(request.into_body(), 16 << 20).await.unwrap_or_default().to_vec();
    let body = if mode == Hostile::Honest || body.is_empty() { body } else { rewrite_graphql(&body) };
    let url = if query.is_empty() {
        format!("{}{path}", inner.upstream)
    } else {
        format!("{}{path}?{query}", inner.upstream)
    };
    let forwarded =
        HttpRequest { method, url, headers, body: (method == Method::Post).then_some(body), authorization: None };
    let answer = match inner.transport.send(&forwarded).await {
        Ok(a) => a,
        Err(e) => return json_answer(502, &json!({"message": format!("hostile proxy: {e}")}), &[]),
    };
    let mut body = String::from_utf8_lossy(&answer.body).replace(&inner.upstream, &inner.own);
    let mut extra: Vec<(String, String)> = Vec::new();
    if mode != Hostile::Honest && (200..300).contains(&answer.status) {
        let token =
            if mode == Hostile::Endless { format!("{TOKEN_PREFIX}{n}") } else { format!("{TOKEN_PREFIX}again") };
        if let Ok(mut v) = serde_json::from_str::<Value>(&body) {
            mangle(&mut v, &token);
            if mode == Hostile::Endless {
                // Each page a little different, so that it is not the same page again.
                match &mut v {
                    Value::Object(map) => {
                        map.insert("_hostile".into(), json!(n));
                    }
                    Value::Array(list) => {
                        if let Some(Value::Object(first)) = list.first_mut() {
                            first.insert("_hostile".into(), json!(n));
                        }
                    }
                    _ => {}
                }
            }
            body = v.to_string();
        }
        let next = if mode == Hostile::Endless { page + 1 } else { 2 };
        extra.push(("x-next-page".into(), next.to_string()));
    }
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    for (k, v) in &answer.headers {
        if matches!(k.as_str(), "content-length" | "transfer-encoding" | "connection")
            || (mode != Hostile::Honest && matches!(k.as_str(), "link" | "x-next-page" | "etag"))
        {
            continue;
        }
        let v = v.replace(&inner.upstream, &inner.own);
        if let (Ok(name), Ok(value)) = (axum::http::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            r.headers_mut().append(name, value);
        }
    }
    for (k, v) in &extra {
        if let (Ok(name), Ok(value)) = (axum::http::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            r.headers_mut().insert(name, value);
        }
    }
    r
}
