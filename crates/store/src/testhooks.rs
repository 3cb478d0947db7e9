//! Test-only hooks that let the integration tests stop siloscope at exact points: inside an open
//! store transaction, or with a batch read but not yet committed. They exist only in debug builds
//! (what `cargo test` builds and runs), each reads its environment variable once; in release builds
//! every hook is an empty inline function, so it can neither fire nor cost anything.

/// `SILOSCOPE_TEST_KILL_AFTER_ROWS=N`: the process SIGKILLs itself right after writing the N-th row
/// (counted over the process's life) inside a store transaction, before that transaction commits,
/// as a power cut or `kill -9` would stop it mid-write.
#[inline(always)]
pub(crate) fn row_written() {
    #[cfg(debug_assertions)]
    enabled::row_written();
}

/// `SILOSCOPE_TEST_HOLD_BEFORE_COMMIT=N`: whether the daemon should hold the N-th batch of a sync
/// (read from the source, not committed yet) until shutdown is requested.
#[inline(always)]
pub fn hold_before_commit(step: u64) -> bool {
    #[cfg(debug_assertions)]
    {
        enabled::hold_before_commit(step)
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = step;
        false
    }
}

/// `SILOSCOPE_TEST_STOPPED_CLOCK=T`: `serve` runs with its clock stopped at `T` (epoch seconds),
/// so processes started at different moments sync and compute the same simulated history.
#[inline(always)]
pub fn stopped_clock() -> Option<i64> {
    #[cfg(debug_assertions)]
    {
        std::env::var("SILOSCOPE_TEST_STOPPED_CLOCK").ok().and_then(|v| v.trim().parse().ok())
    }
    #[cfg(not(debug_assertions))]
    {
        None
    }
}

#[cfg(debug_assertions)]
mod enabled {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn count(name: &str) -> Option<u64> {
        std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
    }

    pub(super) fn row_written() {
        static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
        static ROWS: AtomicU64 = AtomicU64::new(0);
        let Some(limit) = *LIMIT.get_or_init(|| count("SILOSCOPE_TEST_KILL_AFTER_ROWS")) else { return };
        let rows = ROWS.fetch_add(1, Ordering::Relaxed) + 1;
        if rows >= limit {
            eprintln!("siloscope: test hook: SIGKILL after row {rows}, inside an open store transaction");
            let pid = std::process::id().to_string();
            let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
            std::process::abort(); // no `kill` command: still no unwinding, no commit
        }
    }

    pub(super) fn hold_before_commit(step: u64) -> bool {
        static STEP: OnceLock<Option<u64>> = OnceLock::new();
        STEP.get_or_init(|| count("SILOSCOPE_TEST_HOLD_BEFORE_COMMIT")) == &Some(step)
    }
}
