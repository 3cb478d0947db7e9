//! What a hostile server costs each source: for every behaviour of `standin::hostile` (endless
//! lists, a repeated page, a 1 GiB body, a 600 s rate limit, a hung server), the peak memory of
//! the process during one sync (VmHWM, reset before each run through /proc/self/clear_refs),
//! the requests it made and the time until it ended; then the time from SIGTERM to exit of the
//! real binary in each wait. Run: `cargo bench --bench hostile` (or `cargo test --bench hostile
//! --profile dev` for a quick, slower debug figure). Linux only (procfs).

#[path = "../tests/hostile_common/mod.rs"]
mod hostile_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostile_common::*;
use siloscope_testkit::hostile::Hostile;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux 4.0+).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn one(kind: Kind, behaviour: Hostile) {
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(kind, tmp.path()).await;
    rig.proxy.set(behaviour);
    let mut store = open_store(tmp.path(), "b.db");
    let mut source = rig.source();
    let base = vm_rss_kib();
    reset_peak();
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(600), sync_once(source.as_mut(), &mut store)).await;
    let secs = started.elapsed().as_secs_f64();
    let peak = vm_hwm_kib();
    let outcome = match result {
        Ok(Ok(steps)) => format!("caught up ({steps} steps)"),
        Ok(Err(e)) => e.kind.to_string(),
        Err(_) => "still running after 600 s".into(),
    };
    println!(
        "{:<10} {:<12} peak {:>7.1} MiB (+{:>6.1} over the {:>5.1} MiB before)  {:>6} requests  {:>7.2} s  {outcome}",
        format!("{kind:?}"),
        format!("{behaviour:?}"),
        peak as f64 / 1024.0,
        peak.saturating_sub(base) as f64 / 1024.0,
        base as f64 / 1024.0,
        rig.proxy.requests(),
        secs
    );
}

async fn sigterm(kind: Kind, behaviour: Hostile) {
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(kind, tmp.path()).await;
    rig.proxy.set(behaviour);
    let config = write_config(tmp.path(), &rig);
    let mut child = Command::new(env!("CARGO_BIN_EXE_siloscope"))
        .args(["sync", "--once", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    rig.proxy.wait_for_requests(1).await;
    // Well inside the wait: the request is answered (429) or hangs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = Instant::now();
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    println!(
        "{:<10} {:<12} SIGTERM to exit {:>6.3} s, exit code {:?}",
        format!("{kind:?}"),
        format!("{behaviour:?}"),
        sent.elapsed().as_secs_f64(),
        status.code()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("siloscope under hostile servers (bounds: docs/bounds.md)");
    for kind in KINDS {
        for behaviour in
            [Hostile::Honest, Hostile::Endless, Hostile::Repeat, Hostile::HugeBody, Hostile::RateLimited, Hostile::Hung]
        {
            one(kind, behaviour).await;
        }
    }
    for kind in KINDS {
        for behaviour in [Hostile::RateLimited, Hostile::Hung, Hostile::Endless] {
            sigterm(kind, behaviour).await;
        }
    }
}
