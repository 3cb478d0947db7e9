//! `--web.config.file`: TLS and basic auth on siloscope's own listener, in the Prometheus
//! exporter-toolkit format (the same file `promtool check web-config` checks). Everything is read
//! and checked once at startup; a password, a hash or a key never reaches a log or an error message.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::net::TcpStream;

use crate::connections::{LimitedListener, Tracked};
use crate::mutex::lock;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

mod yaml_errors;

/// The file as written (exporter-toolkit's keys; unknown keys are an error, not ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// TLS and basic auth for the listener, ready to use.
#[derive(Clone, Default)]
pub struct WebConfig {
    pub tls: Option<TlsAcceptor>,
    pub basic_auth: Option<Arc<BasicAuth>>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("basic_auth_users", &self.basic_auth.as_ref().map_or(0, |a| a.users.len()))
            .finish()
    }
}

fn problem(path: &Path, what: impl fmt::Display) -> String {
    // A hash or key glued into a name by a YAML slip must not be shown either.
    format!("web config {}: {}", path.display(), yaml_errors::scrub(&what.to_string()))
}

/// Reads and checks a web config file: YAML syntax, known keys, certificate and key files,
/// bcrypt hashes. Relative file names are resolved against the config file's directory.
pub fn load(path: &Path) -> Result<WebConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| problem(path, format!("cannot read it: {e}; fix: check the path given to --web.config.file")))?;
    parse(&text, path)
}

/// As [`load`], from the file's text.
pub fn parse(text: &str, path: &Path) -> Result<WebConfig, String> {
    // An empty file is a valid web config (nothing enabled), as in exporter-toolkit.
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        serde_norway::from_str(text).map_err(|e| {
            problem(
                path,
                format!(
                    "{}; fix: use the exporter-toolkit keys tls_server_config, http_server_config, basic_auth_users",
                    yaml_errors::describe(&e)
                ),
            )
        })?
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(http) = &raw.http_server_config {
        if http.headers.as_ref().is_some_and(|h| !h.is_empty()) {
            return Err(problem(
                path,
                "http_server_config.headers is not supported by siloscope; fix: set those headers in a reverse proxy, or remove them",
            ));
        }
        // `http2` is accepted: siloscope serves HTTP/1.1 either way.
        let _ = http.http2;
    }
    let tls = match raw.tls_server_config {
        Some(t) => Some(tls_acceptor(t, &base, path)?),
        None => None,
    };
    let basic_auth = match raw.basic_auth_users {
        // An empty map would serve everything without auth while the file seems to ask for it.
        Some(users) if users.is_empty() => {
            return Err(problem(
                path,
                "basic_auth_users is empty, which would serve every route without authentication; fix: add a user                  (name: bcrypt hash, e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`), or remove basic_auth_users                  to serve without basic auth",
            ));
        }
        Some(users) => Some(Arc::new(BasicAuth::new(users, path)?)),
        None => None,
    };
    Ok(WebConfig { tls, basic_auth })
}

fn resolve(base: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

fn tls_version(v: &str, key: &str, path: &Path) -> Result<&'static rustls::SupportedProtocolVersion, String> {
    match v {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS10" | "TLS11" => Err(problem(
            path,
            format!(
                "tls_server_config.{key}: {v} is not supported (TLS 1.0 and 1.1 are obsolete); fix: use TLS12 or TLS13"
            ),
        )),
        _ => Err(problem(path, format!("tls_server_config.{key}: unknown TLS version {v:?}; fix: use TLS12 or TLS13"))),
    }
}

fn tls_acceptor(t: RawTls, base: &Path, path: &Path) -> Result<TlsAcceptor, String> {
    for (key, given) in [
        ("cipher_suites", t.cipher_suites.as_ref().is_some_and(|v| !v.is_empty())),
        ("curve_preferences", t.curve_preferences.as_ref().is_some_and(|v| !v.is_empty())),
        ("client_allowed_sans", t.client_allowed_sans.as_ref().is_some_and(|v| !v.is_empty())),
    ] {
        if given {
            return Err(problem(
                path,
                format!(
                    "tls_server_config.{key} is not supported by siloscope (it uses rustls' secure defaults); fix: remove {key}"
                ),
            ));
        }
    }
    let _ = t.prefer_server_cipher_suites; // rustls always applies its own preference order.
    let (Some(cert_file), Some(key_file)) = (t.cert_file.as_deref(), t.key_file.as_deref()) else {
        return Err(problem(
            path,
            "tls_server_config needs both cert_file and key_file; fix: give the PEM certificate (chain) and its private key",
        ));
    };
    let cert_path = resolve(base, cert_file);
    let key_path = resolve(base, key_file);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| problem(path, format!("tls_server_config.cert_file {}: {e}", cert_path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            problem(path, format!("tls_server_config.cert_file {}: not a PEM certificate: {e}", cert_path.display()))
        })?;
    if certs.is_empty() {
        return Err(problem(
            path,
            format!(
                "tls_server_config.cert_file {}: no certificate in it; fix: give a PEM file with a CERTIFICATE block",
                cert_path.display()
            ),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
        problem(path, format!("tls_server_config.key_file {}: no usable PEM private key ({e}); fix: give the certificate's key in PEM (PKCS#8, PKCS#1 or SEC1)", key_path.display()))
    })?;
    let min = t.min_version.as_deref().map(|v| tls_version(v, "min_version", path)).transpose()?;
    let max = t.max_version.as_deref().map(|v| tls_version(v, "max_version", path)).transpose()?;
    // TLS 1.2 ranks 12, TLS 1.3 ranks 13: keep the versions within [min, max].
    let rank = |v: &rustls::SupportedProtocolVersion| if v.version == rustls::version::TLS13.version { 13 } else { 12 };
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [&rustls::version::TLS12, &rustls::version::TLS13]
        .into_iter()
        .filter(|v| min.is_none_or(|m| rank(v) >= rank(m)) && max.is_none_or(|m| rank(v) <= rank(m)))
        .collect();
    if versions.is_empty() {
        return Err(problem(path, "tls_server_config: min_version is above max_version; fix: widen the range"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| problem(path, format!("tls_server_config: {e}")))?;
    let auth_type = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match auth_type {
        "NoClientCert" => builder.with_no_client_auth(),
        "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven" => {
            let Some(ca) = t.client_ca_file.as_deref() else {
                return Err(problem(
                    path,
                    format!(
                        "tls_server_config.client_auth_type {auth_type} needs client_ca_file; fix: give the PEM CA that signs client certificates"
                    ),
                ));
            };
            let ca_path = resolve(base, ca);
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(&ca_path)
                .map_err(|e| problem(path, format!("tls_server_config.client_ca_file {}: {e}", ca_path.display())))?;
            for ca in cas {
                let ca = ca.map_err(|e| {
                    problem(path, format!("tls_server_config.client_ca_file {}: {e}", ca_path.display()))
                })?;
                roots.add(ca).map_err(|e| {
                    problem(path, format!("tls_server_config.client_ca_file {}: {e}", ca_path.display()))
                })?;
            }
            let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if auth_type == "VerifyClientCertIfGiven" {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|e| problem(path, format!("tls_server_config.client_ca_file {}: {e}", ca_path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(problem(
                path,
                format!(
                    "tls_server_config.client_auth_type {auth_type} (a client certificate nobody verifies) is not supported; fix: use RequireAndVerifyClientCert or VerifyClientCertIfGiven with client_ca_file"
                ),
            ));
        }
        other => {
            return Err(problem(
                path,
                format!(
                    "tls_server_config.client_auth_type: unknown value {other:?}; fix: use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                ),
            ));
        }
    };
    if t.client_ca_file.is_some() && auth_type == "NoClientCert" {
        return Err(problem(
            path,
            "tls_server_config.client_ca_file is given but client_auth_type is NoClientCert; fix: set client_auth_type: RequireAndVerifyClientCert, or remove client_ca_file",
        ));
    }
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        problem(path, format!("tls_server_config: the key does not fit the certificate or is unsupported: {e}"))
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Basic auth against bcrypt hashes. Verified credentials are remembered (bcrypt is deliberately
/// slow, and Prometheus sends the same header on every scrape).
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    verified: Mutex<Vec<String>>,
}

const VERIFIED_CACHE: usize = 64;

impl BasicAuth {
    fn new(users: BTreeMap<String, String>, path: &Path) -> Result<BasicAuth, String> {
        for (user, hash) in &users {
            if user.contains(':') {
                return Err(problem(
                    path,
                    format!(
                        "basic_auth_users: user name {user:?} contains ':', which basic auth cannot carry; fix: rename the user"
                    ),
                ));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(problem(
                    path,
                    format!(
                        "basic_auth_users.{user}: the value is not a bcrypt hash; fix: hash the password, e.g. `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                    ),
                ));
            }
        }
        Ok(BasicAuth { users, verified: Mutex::new(Vec::new()) })
    }

    /// Whether an `Authorization` header value carries a configured user and its password.
    /// Blocking (bcrypt): call it off the async runtime.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization else { return false };
        if lock(&self.verified).iter().any(|v| v == value) {
            return true;
        }
        let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else { return false };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
        let Ok(decoded) = String::from_utf8(decoded) else { return false };
        let Some((user, password)) = decoded.split_once(':') else { return false };
        let ok = match self.users.get(user) {
            Some(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            None => {
                // Spend the same time as for a known user, so timing does not reveal user names.
                if let Some(hash) = self.users.values().next() {
                    let _ = bcrypt::verify(password, hash);
                }
                false
            }
        };
        if ok {
            let mut cache = lock(&self.verified);
            if cache.len() >= VERIFIED_CACHE {
                cache.clear();
            }
            cache.push(value.to_string());
        }
        ok
    }
}

/// Puts basic auth in front of every route (as exporter-toolkit does, health checks included).
pub fn protect(router: Router, auth: Arc<BasicAuth>) -> Router {
    router.layer(axum::middleware::from_fn(move |request: Request, next: Next| {
        let auth = auth.clone();
        async move {
            let header = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
            let ok = tokio::task::spawn_blocking(move || auth.check(header.as_deref())).await.unwrap_or(false);
            if ok {
                next.run(request).await
            } else {
                let mut response = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"siloscope\""));
                response
            }
        }
    }))
}

/// A TCP listener that hands out TLS streams. Handshakes run concurrently in their own tasks
/// (with a timeout), so one slow client cannot hold up the others.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<Tracked<TcpStream>>, SocketAddr)>,
    acceptor_task: tokio::task::JoinHandle<()>,
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    pub fn new(listener: LimitedListener, acceptor: TlsAcceptor) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = listener.accept_tracked().await;
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready, acceptor_task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<Tracked<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task is gone (only on shutdown): never yield another connection.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bcrypt of "s3cret" at cost 4 (kept cheap for tests).
    fn hash() -> String {
        bcrypt::hash("s3cret", 4).unwrap()
    }

    fn header(user: &str, password: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    }

    #[test]
    fn basic_auth_accepts_only_the_right_user_and_password() {
        let cfg = parse(&format!("basic_auth_users:\n  prometheus: '{}'\n", hash()), Path::new("w.yml")).unwrap();
        assert!(cfg.tls.is_none());
        let auth = cfg.basic_auth.unwrap();
        assert!(auth.check(Some(&header("prometheus", "s3cret"))));
        // Remembered, and still right.
        assert!(auth.check(Some(&header("prometheus", "s3cret"))));
        assert!(!auth.check(Some(&header("prometheus", "wrong"))));
        assert!(!auth.check(Some(&header("someone", "s3cret"))));
        assert!(!auth.check(Some("Bearer abc")));
        assert!(!auth.check(Some("Basic %%%")));
        assert!(!auth.check(None));
    }

    #[test]
    fn empty_file_enables_nothing() {
        let cfg = parse("", Path::new("w.yml")).unwrap();
        assert!(cfg.tls.is_none() && cfg.basic_auth.is_none());
    }

    #[test]
    fn mistakes_are_named_with_a_fix_and_never_echo_a_secret() {
        let p = Path::new("/etc/siloscope/web.yml");
        let err = parse("basic_auth_users:\n  alice: not-a-hash-topsecret\n", p).unwrap_err();
        assert!(
            err.contains("/etc/siloscope/web.yml") && err.contains("basic_auth_users.alice") && err.contains("fix:"),
            "{err}"
        );
        assert!(!err.contains("topsecret"), "{err}");
        let err = parse("basic_auth_user:\n  alice: x\n", p).unwrap_err();
        assert!(err.contains("basic_auth_user"), "{err}");
        let err = parse("tls_server_config:\n  cert_file: a.pem\n", p).unwrap_err();
        assert!(err.contains("key_file"), "{err}");
        let err = parse("tls_server_config:\n  cert_file: /nonexistent/a.pem\n  key_file: /nonexistent/a.key\n", p)
            .unwrap_err();
        assert!(err.contains("/nonexistent/a.pem"), "{err}");
        let err =
            parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", p)
                .unwrap_err();
        assert!(err.contains("cipher_suites") && err.contains("fix:"), "{err}");
        let err = parse("http_server_config:\n  headers:\n    X-Frame-Options: deny\n", p).unwrap_err();
        assert!(err.contains("headers"), "{err}");
        assert!(parse("http_server_config:\n  http2: false\n", p).is_ok());
    }

    #[test]
    fn an_empty_user_list_is_refused_not_served_without_auth() {
        let p = Path::new("/etc/siloscope/web.yml");
        for text in ["basic_auth_users: {}\n", "basic_auth_users: {}\ntls_server_config: null\n"] {
            let err = parse(text, p).map(|c| c.basic_auth.is_some()).unwrap_err();
            assert!(err.contains("/etc/siloscope/web.yml") && err.contains("basic_auth_users is empty"), "{err}");
            assert!(err.contains("fix:"), "{err}");
        }
        // Not given at all (or null): no basic auth, as in exporter-toolkit.
        assert!(parse("basic_auth_users:\n", p).unwrap().basic_auth.is_none());
    }
}
