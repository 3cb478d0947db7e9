//! The listener's connection policy: at most [`MAX_CONNECTIONS`] open connections (when full, the
//! one quiet the longest is closed for the newcomer, so half-open clients cannot lock out a
//! scrape), a connection that sends nothing within [`FIRST_BYTE_TIMEOUT`] is closed, and one idle
//! for [`IDLE_TIMEOUT`] too. It only accepts and times out sockets; it knows nothing of HTTP or auth.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

use crate::mutex::lock;

pub const MAX_CONNECTIONS: usize = 512;
/// A new connection must send its first byte (TLS hello or request head) within this.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that has sent nothing for this long (keep-alive between scrapes) is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// A plain-HTTP request head in progress must go on (each read) within this.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// `siloscope_http_connections` (open now) and `siloscope_http_connections_dropped_total` by
/// reason (`evicted` for a newcomer at the limit, `first_byte_timeout`, `head_timeout`, `idle_timeout`).
#[derive(Debug, Default)]
pub struct ConnectionMetrics {
    open: Gauge,
    dropped: Family<Vec<(String, String)>, Counter>,
}

pub const DROP_REASONS: [&str; 4] = ["evicted", "first_byte_timeout", "head_timeout", "idle_timeout"];

impl ConnectionMetrics {
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        for reason in DROP_REASONS {
            let _ = self.dropped.get_or_create(&vec![("reason".into(), reason.into())]);
        }
        registry.register(
            siloscope_catalogue::HTTP_CONNECTIONS.name,
            siloscope_catalogue::HTTP_CONNECTIONS.help_without_full_stop(),
            self.open.clone(),
        );
        registry.register(
            siloscope_catalogue::HTTP_CONNECTIONS_DROPPED.name,
            siloscope_catalogue::HTTP_CONNECTIONS_DROPPED.help_without_full_stop(),
            self.dropped.clone(),
        );
    }

    fn dropped(&self, reason: &str) {
        self.dropped.get_or_create(&vec![("reason".into(), reason.into())]).inc();
    }
}

/// One open connection as the table sees it.
struct Entry {
    /// Milliseconds since the table's start of its last read (its accept time before any).
    last_read_ms: Arc<AtomicU64>,
    /// Has sent a whole request head (TLS: any bytes): a client, not a half-open socket.
    spoke: Arc<AtomicBool>,
    evicted: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

#[derive(Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Entry>,
}

/// A TCP listener applying the policy; its streams are [`Tracked`].
pub struct LimitedListener {
    inner: TcpListener,
    table: Arc<Mutex<Table>>,
    started: Instant,
    max: usize,
    metrics: Arc<ConnectionMetrics>,
    /// Serves plain HTTP (TLS streams are opaque: no head timeout, the handshake has its own).
    plain: bool,
}

impl LimitedListener {
    pub fn new(inner: TcpListener, metrics: Arc<ConnectionMetrics>) -> LimitedListener {
        Self::with_limit(inner, MAX_CONNECTIONS, metrics)
    }

    pub fn with_limit(inner: TcpListener, max: usize, metrics: Arc<ConnectionMetrics>) -> LimitedListener {
        LimitedListener { inner, table: Arc::default(), started: Instant::now(), max: max.max(1), metrics, plain: true }
    }

    /// For a TLS listener on top: its streams are encrypted.
    pub fn for_tls(mut self) -> LimitedListener {
        self.plain = false;
        self
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        lock(&self.table).open.len()
    }

    /// The next connection. When the table is full the quietest connection that never sent a whole
    /// request is closed for it (else the quietest idle one): a flood of half-open sockets pushes
    /// out only its own kind.
    pub async fn accept_tracked(&self) -> (Tracked<TcpStream>, SocketAddr) {
        loop {
            let (tcp, peer) = match self.inner.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let now_ms = self.started.elapsed().as_millis() as u64;
            let mut table = lock(&self.table);
            if table.open.len() >= self.max {
                let quietest = table
                    .open
                    .iter()
                    .filter(|(_, e)| !e.evicted.load(Ordering::Relaxed))
                    .min_by_key(|(_, e)| (e.spoke.load(Ordering::Relaxed), e.last_read_ms.load(Ordering::Relaxed)))
                    .map(|(id, _)| *id);
                if let Some(id) = quietest
                    && let Some(e) = table.open.remove(&id)
                {
                    e.evicted.store(true, Ordering::Relaxed);
                    self.metrics.dropped("evicted");
                    self.metrics.open.dec();
                    if let Some(w) = lock(&e.waker).take() {
                        w.wake();
                    }
                    tracing::debug!(open = self.max, "connection limit reached: closed the quietest connection");
                }
            }
            let id = table.next;
            table.next += 1;
            let entry = Entry {
                last_read_ms: Arc::new(AtomicU64::new(now_ms)),
                spoke: Arc::default(),
                evicted: Arc::new(AtomicBool::new(false)),
                waker: Arc::default(),
            };
            let tracked = Tracked {
                io: tcp,
                id,
                table: self.table.clone(),
                metrics: self.metrics.clone(),
                started: self.started,
                last_read_ms: entry.last_read_ms.clone(),
                spoke: entry.spoke.clone(),
                evicted: entry.evicted.clone(),
                waker: entry.waker.clone(),
                read_any: false,
                plain: self.plain,
                head_pending: false,
                deadline: Box::pin(tokio::time::sleep(FIRST_BYTE_TIMEOUT)),
            };
            table.open.insert(id, entry);
            self.metrics.open.inc();
            return (tracked, peer);
        }
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = Tracked<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        self.accept_tracked().await
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A stream under the policy: reads fail (and the server closes it) once it was evicted or has
/// been silent past its deadline.
pub struct Tracked<S> {
    io: S,
    id: u64,
    table: Arc<Mutex<Table>>,
    metrics: Arc<ConnectionMetrics>,
    started: Instant,
    last_read_ms: Arc<AtomicU64>,
    spoke: Arc<AtomicBool>,
    evicted: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
    read_any: bool,
    /// Plain HTTP (not TLS): request heads can be seen.
    plain: bool,
    head_pending: bool,
    deadline: Pin<Box<Sleep>>,
}

impl<S> Drop for Tracked<S> {
    fn drop(&mut self) {
        // An evicted connection was taken out of the table (and the gauge) already.
        if lock(&self.table).open.remove(&self.id).is_some() {
            self.metrics.open.dec();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.evicted.load(Ordering::Relaxed) {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "closed for a new connection")));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if !read.is_empty() {
                    this.read_any = true;
                    this.last_read_ms.store(this.started.elapsed().as_millis() as u64, Ordering::Relaxed);
                    // Plain HTTP: a read that does not end a request head (CRLF CRLF; siloscope
                    // serves only GET) leaves the head in progress, which must go on within
                    // HEAD_TIMEOUT; a complete one leaves the connection idle.
                    let head_pending = this.plain && !read.ends_with(b"\r\n\r\n");
                    let wait = if head_pending { HEAD_TIMEOUT } else { IDLE_TIMEOUT };
                    this.head_pending = head_pending;
                    if !head_pending {
                        this.spoke.store(true, Ordering::Relaxed);
                    }
                    this.deadline.as_mut().reset(Instant::now() + wait);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                *lock(&this.waker) = Some(cx.waker().clone());
                if this.deadline.as_mut().poll(cx).is_ready() {
                    let (what, reason) = if !this.read_any {
                        ("silent since it connected", "first_byte_timeout")
                    } else if this.head_pending {
                        ("slow to send its request head", "head_timeout")
                    } else {
                        ("idle", "idle_timeout")
                    };
                    this.metrics.dropped(reason);
                    this.evicted.store(true, Ordering::Relaxed); // counted once
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, format!("connection {what}"))));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
