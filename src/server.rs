//! HTTP routes: `/metrics` (OpenMetrics), `/healthz`, `/readyz`, `/report`, the drill-down pages
//! (`/handoffs`, `/reviews`, `/decisions`, `/items/{key}`) and a landing page, all under `--web.external-url`'s path prefix. Handlers only
//! read published state and never touch the store; the one exception is `/report` (and
//! `/report.json`), which builds the quarter to date on a blocking thread, once per computation.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{PreEscaped, html};
use tokio::net::TcpListener;

use crate::connections::{ConnectionMetrics, LimitedListener};
use crate::exporter::{Exporter, OPENMETRICS_CONTENT_TYPE};
use crate::pages::{Computation, DecisionFilter, ExternalUrl, HandoffFilter, Published, ReviewFilter};
use crate::report::{Format, ReportError, ReportProducer};

/// Whether the daemon is ready to be scraped, and if not why (`/readyz`; the daemon's
/// `Readiness`: every source's first sync pass done and a computation including it published).
pub type ReadyCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Everything the listener serves.
#[derive(Clone)]
pub struct Routes {
    pub exporter: Arc<Exporter>,
    pub ready: ReadyCheck,
    pub report: Option<ReportProducer>,
    /// The computation the drill-down pages read (None: no pages, as for a bare exporter).
    pub pages: Option<Arc<Published>>,
    /// Where siloscope is reachable: the routes' prefix and the origin of every link written.
    pub base: Arc<ExternalUrl>,
}

pub fn router(routes: Routes) -> Router {
    let Routes { exporter, ready, report, pages, base } = routes;
    let metrics = {
        let e = exporter.clone();
        move || async move { ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], e.render()).into_response() }
    };
    let ready = move || async move {
        match ready() {
            Ok(()) => (StatusCode::OK, "ready\n").into_response(),
            Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
        }
    };
    let landing_base = base.clone();
    let mut app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/", get(move || landing(landing_base.clone())));
    if let Some(producer) = report {
        let json = producer.clone();
        app = app
            .route("/report", get(move || report_response(producer.clone(), Format::Html)))
            .route("/report.json", get(move || report_response(json.clone(), Format::Json)));
    }
    let item_pages = pages.clone();
    if let Some(published) = pages {
        let pages: [(&str, PageBuilder); 3] =
            [("/handoffs", handoffs_page), ("/decisions", decisions_page), ("/reviews", reviews_page)];
        for (path, build) in pages {
            let (p, b) = (published.clone(), base.clone());
            let (pj, bj) = (published.clone(), base.clone());
            app = app
                .route(
                    path,
                    get(move |q: RawQuery, h: HeaderMap| {
                        page_response(p.clone(), b.clone(), q.0, wants_json(&h), build)
                    }),
                )
                .route(
                    &format!("{path}.json"),
                    get(move |q: RawQuery| page_response(pj.clone(), bj.clone(), q.0, true, build)),
                );
        }
    }
    if let Some(published) = item_pages {
        let (p, b) = (published.clone(), base.clone());
        app = app.route(
            "/items/{key}",
            get(move |key: axum::extract::Path<String>, h: HeaderMap| {
                let (key, json) = match key.0.strip_suffix(".json") {
                    Some(k) => (k.to_string(), true),
                    None => (key.0, wants_json(&h)),
                };
                page_response(
                    p.clone(),
                    b.clone(),
                    Some(format!("key={}", url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>())),
                    json,
                    item_page,
                )
            }),
        );
    }
    match base.prefix() {
        "" => app,
        prefix => Router::new().nest(prefix, app),
    }
}

/// JSON when the client asks for `application/json` and not for HTML (a browser lists text/html).
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let types: Vec<&str> = accept.split(',').map(|t| t.split(';').next().unwrap_or("").trim()).collect();
    types.contains(&"application/json") && !types.contains(&"text/html")
}

/// Builds a page of the last published computation from the query: (JSON, HTML), or a 400's why.
type PageBuilder = fn(&Computation, &[(String, String)], &ExternalUrl) -> Result<(String, String), String>;

fn handoffs_page(c: &Computation, pairs: &[(String, String)], base: &ExternalUrl) -> Result<(String, String), String> {
    let page = crate::pages::handoffs(c, &HandoffFilter::parse(pairs, &c.config)?, base);
    Ok((serde_json::to_string(&page).unwrap_or_default(), crate::pages::html::handoffs(&page, base)))
}

fn decisions_page(c: &Computation, pairs: &[(String, String)], base: &ExternalUrl) -> Result<(String, String), String> {
    let page = crate::pages::decisions(c, &DecisionFilter::parse(pairs, &c.config)?, base);
    Ok((serde_json::to_string(&page).unwrap_or_default(), crate::pages::html::decisions(&page, base)))
}

fn reviews_page(c: &Computation, pairs: &[(String, String)], base: &ExternalUrl) -> Result<(String, String), String> {
    let page = crate::pages::reviews(c, &ReviewFilter::parse(pairs, &c.config)?, base);
    Ok((serde_json::to_string(&page).unwrap_or_default(), crate::pages::html::reviews(&page, base)))
}

/// `/items/{key}`: the item's custody story (the key arrives as the `key` pair); 404 for no item.
fn item_page(c: &Computation, pairs: &[(String, String)], base: &ExternalUrl) -> Result<(String, String), String> {
    let key = pairs.iter().find(|(k, _)| k == "key").map(|(_, v)| v.as_str()).unwrap_or_default();
    let page = crate::pages::item_story(c, key, base).ok_or_else(|| format!("{NO_ITEM}{key:?}"))?;
    Ok((serde_json::to_string(&page).unwrap_or_default(), crate::pages::html::item(&page, base)))
}

/// The start of the error of an item page for a key no item has (a 404, not a 400).
const NO_ITEM: &str = "no item has the key ";

/// Pages built at once: the others wait their turn (on the runtime, holding no thread), so page
/// traffic takes at most one core from the recompute, which holds the frame lock commits need
/// while it runs (benches/pages.rs: 8 clients without this made a 10M-event recompute 10x slower).
static PAGE_BUILDS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A page of the last published computation, filtered by the query (off the async runtime).
async fn page_response(
    published: Arc<Published>,
    base: Arc<ExternalUrl>,
    query: Option<String>,
    json: bool,
    build: PageBuilder,
) -> Response {
    let b = base.clone();
    let Ok(turn) = PAGE_BUILDS.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    };
    let answer = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let Some(computation) = published.get() else {
            if let Some(elsewhere) = published.elsewhere() {
                return Err((StatusCode::SERVICE_UNAVAILABLE, elsewhere.message, Some(elsewhere.retry_after_seconds)));
            }
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "nothing computed yet: try again in a moment".to_string(),
                None,
            ));
        };
        let (json_text, html) = build(&computation, &pairs, &b).map_err(|e| {
            (if e.starts_with(NO_ITEM) { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST }, e, None)
        })?;
        Ok(if json {
            ([(header::CONTENT_TYPE, "application/json")], json_text).into_response()
        } else {
            Html(html).into_response()
        })
    });
    match answer.await {
        Ok(Ok(response)) => response,
        Ok(Err((code, message, retry_after))) => {
            let mut response = if json {
                (
                    code,
                    [(header::CONTENT_TYPE, "application/json")],
                    serde_json::json!({ "error": message }).to_string(),
                )
                    .into_response()
            } else {
                (code, Html(crate::pages::html::error(&base, &message))).into_response()
            };
            if let Some(seconds) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
            }
            response
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("the page failed: {e}\n")).into_response(),
    }
}

/// Computes the report off the async runtime (it walks the whole frame): 503 with `Retry-After`
/// while the most concurrent builds run.
async fn report_response(producer: ReportProducer, format: Format) -> Response {
    match tokio::task::spawn_blocking(move || producer(format)).await {
        Ok(Ok(body)) => {
            let content_type = match format {
                Format::Html => "text/html; charset=utf-8",
                Format::Markdown => "text/markdown; charset=utf-8",
                Format::Json => "application/json",
            };
            ([(header::CONTENT_TYPE, content_type)], body.as_str().to_owned()).into_response()
        }
        Ok(Err(ReportError::Busy { retry_after_seconds })) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, retry_after_seconds.to_string())],
            format!("{}\n", ReportError::Busy { retry_after_seconds }),
        )
            .into_response(),
        Ok(Err(ReportError::Elsewhere { message, retry_after_seconds })) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, retry_after_seconds.to_string())],
            format!("{message}\n"),
        )
            .into_response(),
        Ok(Err(ReportError::Failed(e))) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("the report failed: {e}\n")).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("the report task failed: {e}\n")).into_response(),
    }
}

async fn landing(base: Arc<ExternalUrl>) -> Response {
    Html(landing_page(&base)).into_response()
}

/// The landing page: links to every route, under the external URL (escaped by maud like every
/// other page).
fn landing_page(base: &ExternalUrl) -> String {
    let link = |path: &str| base.join(path, "");
    html! {
        (PreEscaped("<!doctype html>"))
        html {
            head { title { "siloscope" } }
            body {
                h1 { "siloscope" }
                p { "Cross-team collaboration signals." }
                ul {
                    li { a href=(link("/metrics")) { "/metrics" } }
                    li { a href=(link("/healthz")) { "/healthz" } }
                    li { a href=(link("/readyz")) { "/readyz" } }
                    li { a href=(link("/report")) { "/report" } " (quarter to date)" }
                    li { a href=(base.join("/handoffs", "state=stalled")) { "/handoffs" } " (stalled handoffs)" }
                    li { a href=(link("/decisions")) { "/decisions" } " (the decision log)" }
                }
            }
        }
    }
    .into_string()
}

/// Binds the listen address, with an error that says what to do when it is taken.
pub async fn bind(address: &str) -> Result<TcpListener, String> {
    let addr: SocketAddr = address
        .parse()
        .map_err(|_| format!("invalid listen address {address:?}: expected HOST:PORT such as 0.0.0.0:9731"))?;
    TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot listen on {addr}: the port is already in use; stop the other process or pass --web.listen-address with a free port"
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!("cannot listen on {addr}: permission denied; use a port above 1024 or run with the needed privilege")
        }
        _ => format!("cannot listen on {addr}: {e}"),
    })
}

/// Serves until `shutdown` resolves; the listener counts its connections into `connections`
/// (registered with the exporter by whoever built it).
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    connections: Arc<ConnectionMetrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(LimitedListener::new(listener, connections), router(routes)).with_graceful_shutdown(shutdown).await
}

/// Serves until `shutdown` resolves, with TLS and basic auth when the web config enables them
/// (`--web.config.file`): every route, the pages included.
pub async fn serve_secured(
    listener: TcpListener,
    routes: Routes,
    connections: Arc<ConnectionMetrics>,
    web: Option<Arc<crate::webconfig::WebConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Some(web) = web else { return serve(listener, routes, connections, shutdown).await };
    let mut app = router(routes);
    if let Some(auth) = &web.basic_auth {
        app = crate::webconfig::protect(app, auth.clone());
    }
    match &web.tls {
        Some(acceptor) => {
            let tls = crate::webconfig::TlsListener::new(
                LimitedListener::new(listener, connections).for_tls(),
                acceptor.clone(),
            )?;
            axum::serve(tls, app).with_graceful_shutdown(shutdown).await
        }
        None => axum::serve(LimitedListener::new(listener, connections), app).with_graceful_shutdown(shutdown).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_landing_page_links_every_route_under_the_external_url_escaped() {
        let base = ExternalUrl::parse("https://siloscope.acme.io/siloscope").unwrap();
        let u = "https://siloscope.acme.io/siloscope";
        assert_eq!(
            landing_page(&base),
            format!(
                "<!doctype html><html><head><title>siloscope</title></head><body>\
                 <h1>siloscope</h1><p>Cross-team collaboration signals.</p><ul>\
                 <li><a href=\"{u}/metrics\">/metrics</a></li><li><a href=\"{u}/healthz\">/healthz</a></li>\
                 <li><a href=\"{u}/readyz\">/readyz</a></li><li><a href=\"{u}/report\">/report</a> (quarter to date)</li>\
                 <li><a href=\"{u}/handoffs?state=stalled\">/handoffs</a> (stalled handoffs)</li>\
                 <li><a href=\"{u}/decisions\">/decisions</a> (the decision log)</li></ul></body></html>"
            )
        );
        // A prefix with an ampersand is an attribute's text, not markup.
        let base = ExternalUrl::parse("https://siloscope.acme.io/a&b").unwrap();
        let page = landing_page(&base);
        assert!(page.contains("href=\"https://siloscope.acme.io/a&amp;b/metrics\""), "{page}");
        assert!(!page.contains("a&b"), "{page}");
    }
}
