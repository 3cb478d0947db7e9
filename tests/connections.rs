//! The listener under a careless or hostile client (issue 17, item 3): 1,100 half-open
//! connections from one client do not keep an authenticated scrape from answering (the daemon
//! runs with the common default of 1,024 file descriptors), and a connection that sends nothing,
//! or only part of a request head, is closed instead of held for ever.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;

fn start(dir: &std::path::Path, port: u16) -> Running {
    let store = dir.join("s.db");
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(5);
    let cfg = sim_config(dir, "c", &store, &format!("start = \"{start}\"\nitems_per_day = 20\nteams = 3\n"));
    let web = dir.join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: '{}'\n", bcrypt::hash("s3cret", 4).unwrap()))
        .unwrap();
    // 1,024 descriptors: systemd's default soft limit, and many a container's.
    let command = format!(
        "ulimit -n 1024 && exec {} serve --config {} --web.config.file {} --web.listen-address 127.0.0.1:{port}",
        env!("CARGO_BIN_EXE_siloscope"),
        cfg.display(),
        web.display()
    );
    Running(
        std::process::Command::new("sh")
            .args(["-c", &command])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// An authenticated GET; (status, body), or None when the server does not answer in 10 s.
fn scrape(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let auth = base64::engine::general_purpose::STANDARD.encode("prometheus:s3cret");
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let raw = text(&buf);
    let (head, body) = raw.split_once("\r\n\r\n")?;
    Some((head.split_whitespace().nth(1)?.parse().ok()?, body.to_string()))
}

fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn half_open_connections_do_not_lock_out_an_authenticated_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _daemon = start(dir.path(), port);
    wait_for("the daemon to answer", Duration::from_secs(60), || scrape(port, "/healthz").filter(|(s, _)| *s == 200));

    let mut idle = Vec::new();
    for _ in 0..1100 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connecting {} half-open connections: {e}", idle.len() + 1),
        }
    }
    let (status, body) =
        wait_for("an authenticated scrape to answer", Duration::from_secs(30), || scrape(port, "/metrics"));
    assert_eq!(status, 200, "{body}");
    let open = metric(&body, "siloscope_http_connections ").expect("the connections gauge");
    assert!(open <= 512.0, "{open} connections open, above the limit");
    let evicted = metric(&body, "siloscope_http_connections_dropped_total{reason=\"evicted\"}").unwrap_or(0.0);
    assert!(evicted >= 1100.0 - 512.0, "{evicted} evicted:\n{body}");
    drop(idle);
}

#[test]
fn silent_and_slow_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _daemon = start(dir.path(), port);
    wait_for("the daemon to answer", Duration::from_secs(60), || scrape(port, "/healthz").filter(|(s, _)| *s == 200));

    let silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap(); // and never the rest
    let started = Instant::now();
    for (what, mut s) in [("a silent connection", silent), ("a half-sent request head", slow)] {
        // Either closed (EOF or reset) well before the 60 s read timeout, or held open for ever.
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = [0u8; 64];
        let closed = match s.read(&mut buf) {
            Ok(_) => true,
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        };
        assert!(
            closed && started.elapsed() < Duration::from_secs(30),
            "{what} is still open after {:?}",
            started.elapsed()
        );
    }
    let (_, body) = scrape(port, "/metrics").unwrap();
    assert!(
        metric(&body, "siloscope_http_connections_dropped_total{reason=\"first_byte_timeout\"}") >= Some(1.0),
        "{body}"
    );
    assert!(metric(&body, "siloscope_http_connections_dropped_total{reason=\"head_timeout\"}") >= Some(1.0), "{body}");
}

/// A client trickling a request head (a byte a second, under the head timeout) must not keep
/// `serve` alive after SIGTERM: systemd and Kubernetes kill after 30 s, so the daemon closes
/// what is still open a few seconds after the commits in flight are done (issue 17, item 2).
#[test]
fn a_trickling_client_does_not_hold_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut daemon = start(dir.path(), port);
    wait_for("the daemon to answer", Duration::from_secs(60), || scrape(port, "/healthz").filter(|(s, _)| *s == 200));

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: ".iter().chain(std::iter::repeat(&b'a')) {
                if stop.load(std::sync::atomic::Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    // The trickle is open (with this scrape, two connections) and its head has begun arriving.
    wait_for("the trickling connection to be open", Duration::from_secs(30), || {
        scrape(port, "/metrics")
            .and_then(|(_, body)| metric(&body, "siloscope_http_connections "))
            .filter(|n| *n >= 2.0)
    });
    let status = std::process::Command::new("kill").args(["-TERM", &daemon.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exited = wait_for("serve to exit after SIGTERM", Duration::from_secs(40), || daemon.0.try_wait().unwrap());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    trickle.join().unwrap();
    assert_eq!(exited.code(), Some(0), "{exited:?}");
}
