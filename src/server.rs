//! HTTP routes: `/metrics` (OpenMetrics), `/healthz`, `/readyz`, `/report` and a landing page.
//! Handlers only read published state and never touch the store; the one exception is `/report`
//! (and `/report.json`), which builds the quarter to date on a blocking thread, once per computation.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::connections::{ConnectionMetrics, LimitedListener};
use crate::exporter::{Exporter, OPENMETRICS_CONTENT_TYPE};
use crate::report::{Format, ReportError, ReportProducer};

/// Whether the daemon is ready to be scraped, and if not why (`/readyz`; the daemon's
/// `Readiness`: every source's first sync pass done and a computation including it published).
pub type ReadyCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

pub fn router(exporter: Arc<Exporter>, ready: ReadyCheck, report: Option<ReportProducer>) -> Router {
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
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/", get(landing));
    match report {
        Some(producer) => {
            let json = producer.clone();
            app.route("/report", get(move || report_response(producer.clone(), Format::Html)))
                .route("/report.json", get(move || report_response(json.clone(), Format::Json)))
        }
        None => app,
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
        Ok(Err(ReportError::Failed(e))) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("the report failed: {e}\n")).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("the report task failed: {e}\n")).into_response(),
    }
}

async fn landing() -> Response {
    Html(concat!(
        "<!doctype html><html><head><title>siloscope</title></head><body>",
        "<h1>siloscope</h1><p>Cross-team collaboration signals.</p><ul>",
        "<li><a href=\"/metrics\">/metrics</a></li><li><a href=\"/healthz\">/healthz</a></li>",
        "<li><a href=\"/readyz\">/readyz</a></li><li><a href=\"/report\">/report</a> (quarter to date)</li></ul></body></html>"
    ))
    .into_response()
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
    exporter: Arc<Exporter>,
    connections: Arc<ConnectionMetrics>,
    ready: ReadyCheck,
    report: Option<ReportProducer>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(LimitedListener::new(listener, connections), router(exporter, ready, report))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves until `shutdown` resolves, with TLS and basic auth when the web config enables them
/// (`--web.config.file`).
pub async fn serve_secured(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    connections: Arc<ConnectionMetrics>,
    ready: ReadyCheck,
    report: Option<ReportProducer>,
    web: Option<Arc<crate::webconfig::WebConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Some(web) = web else { return serve(listener, exporter, connections, ready, report, shutdown).await };
    let mut app = router(exporter, ready, report);
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
