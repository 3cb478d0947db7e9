//! HTTP routes: `/metrics` (OpenMetrics), `/healthz`, `/readyz` and a small landing page.
//! Handlers only read published state; they never compute signals or touch the store.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::exporter::{Exporter, OPENMETRICS_CONTENT_TYPE};

pub fn router(exporter: Arc<Exporter>) -> Router {
    let metrics = {
        let e = exporter.clone();
        move || async move { ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], e.render()).into_response() }
    };
    let ready = {
        let e = exporter.clone();
        move || async move {
            if e.ready() {
                (StatusCode::OK, "ready\n").into_response()
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "not ready: the first computation has not finished\n").into_response()
            }
        }
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/", get(landing))
}

async fn landing() -> Response {
    Html(concat!(
        "<!doctype html><html><head><title>siloscope</title></head><body>",
        "<h1>siloscope</h1><p>Cross-team collaboration signals.</p><ul>",
        "<li><a href=\"/metrics\">/metrics</a></li><li><a href=\"/healthz\">/healthz</a></li>",
        "<li><a href=\"/readyz\">/readyz</a></li></ul></body></html>"
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

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(exporter)).with_graceful_shutdown(shutdown).await
}
