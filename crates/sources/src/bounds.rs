//! Ceilings on what a server can make a source read: bytes per answer, requests and bytes per
//! step, entries and pages per follow-up list, steps per sync, and loop detection (a request, an
//! answer or a cursor seen twice). It owns the limits and the errors (`ceiling`, `loop`) naming
//! the URL and the limit; it must not know any API's data or retry anything.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use crate::sources::SourceError;

/// The most bytes one answer may have; a longer body is cut off and the request fails.
pub const BODY_CAP: usize = 32 << 20;
/// The most requests one sync step may send (a listing page and its follow-ups).
pub const STEP_REQUESTS: u64 = 2_000;
/// The most answer bytes one sync step may read, all requests together.
pub const STEP_BYTES: u64 = 64 << 20;
/// The most pages of one follow-up list (a Jira changelog or comment list of one issue).
pub const FOLLOW_UP_PAGES: u64 = 1_000;
/// The most entries of one follow-up list.
pub const FOLLOW_UP_ENTRIES: u64 = 100_000;
/// The most steps (listing pages) of one sync before it ends.
pub const SYNC_STEPS: u64 = 100_000;

/// The marker a transport puts at the start of its error when it cut a body off at [`BODY_CAP`],
/// so the client fails the request instead of retrying it.
pub const BODY_CAP_MARKER: &str = "answer larger than the body cap";

/// The transport error for a body cut off at the cap.
pub fn body_too_large(url: &str) -> String {
    format!(
        "{BODY_CAP_MARKER} ({} MiB) from {url}; the server sent more than any API page needs, reading stopped",
        BODY_CAP >> 20
    )
}

fn hash_of(parts: &[&[u8]]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

pub fn ceiling(message: String) -> SourceError {
    SourceError { kind: "ceiling", message }
}

pub fn looping(message: String) -> SourceError {
    SourceError { kind: "loop", message }
}

/// What one sync step has read so far, kept by the API client and reset at every step.
#[derive(Debug, Default)]
pub struct StepGuard {
    requests: u64,
    bytes: u64,
    sent: HashSet<u64>,
}

impl StepGuard {
    /// A new step begins: forget the last one.
    pub fn reset(&mut self) {
        *self = StepGuard::default();
    }

    /// Before a request goes out (once per logical request, not per retry).
    pub fn request(&mut self, method: &str, url: &str, body: Option<&[u8]>) -> Result<(), SourceError> {
        self.requests += 1;
        if self.requests > STEP_REQUESTS {
            return Err(ceiling(format!(
                "{method} {url}: this step has sent {STEP_REQUESTS} requests, the most one step may; the server keeps \
                 asking for more pages, the step ends and the sync resumes at the next interval"
            )));
        }
        if !self.sent.insert(hash_of(&[method.as_bytes(), url.as_bytes(), body.unwrap_or(&[])])) {
            return Err(looping(format!(
                "{method} {url}: the same request a second time in one step (the server gave the same cursor or page \
                 again); the step ends and the sync resumes at the next interval"
            )));
        }
        Ok(())
    }

    /// After an answer was read.
    pub fn answer(&mut self, url: &str, body: &[u8]) -> Result<(), SourceError> {
        self.bytes += body.len() as u64;
        if self.bytes > STEP_BYTES {
            return Err(ceiling(format!(
                "{url}: this step has read {} MiB, the most one step may; the step ends and the sync resumes at the \
                 next interval",
                STEP_BYTES >> 20
            )));
        }
        // Identical answers to different requests are no loop by themselves (two overlapping
        // spans of a count both hold the one item at their edge): only requests are compared.
        Ok(())
    }
}

/// One paged follow-up read (the changelog of one issue): its pages and entries.
#[derive(Debug)]
pub struct PagedRead {
    what: String,
    pages: u64,
    entries: u64,
}

impl PagedRead {
    pub fn new(what: impl Into<String>) -> PagedRead {
        PagedRead { what: what.into(), pages: 0, entries: 0 }
    }

    /// A page of `entries` was read from `url`.
    pub fn page(&mut self, url: &str, entries: usize) -> Result<(), SourceError> {
        self.pages += 1;
        self.entries += entries as u64;
        if self.pages > FOLLOW_UP_PAGES || self.entries > FOLLOW_UP_ENTRIES {
            return Err(ceiling(format!(
                "{url}: {} has more than {FOLLOW_UP_PAGES} pages or {FOLLOW_UP_ENTRIES} entries (the server claims \
                 an endless list); the step ends and the sync resumes at the next interval",
                self.what
            )));
        }
        Ok(())
    }
}

/// The steps of one sync of one source: a ceiling on their number and a cursor seen twice.
#[derive(Debug, Default)]
pub struct SyncGuard {
    steps: u64,
    cursors: HashSet<u64>,
}

impl SyncGuard {
    /// A step that is not the last ended with `cursor`.
    pub fn step(&mut self, source: &str, cursor: Option<&str>) -> Result<(), SourceError> {
        self.steps += 1;
        if self.steps > SYNC_STEPS {
            return Err(ceiling(format!(
                "source {source:?}: {SYNC_STEPS} steps in one sync and still not caught up; the sync ends and resumes at \
                 the next interval"
            )));
        }
        if let Some(c) = cursor
            && !self.cursors.insert(hash_of(&[c.as_bytes()]))
        {
            return Err(looping(format!(
                "source {source:?}: a step ended at a cursor an earlier step of this sync ended at (the server repeats a \
                 page or a page token); the sync ends and resumes at the next interval"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_sent_twice_in_a_step_is_a_loop_but_not_after_a_reset() {
        let mut g = StepGuard::default();
        g.request("GET", "https://x/a?page=1", None).unwrap();
        g.request("GET", "https://x/a?page=2", None).unwrap();
        let e = g.request("GET", "https://x/a?page=1", None).unwrap_err();
        assert_eq!(e.kind, "loop");
        assert!(e.message.contains("https://x/a?page=1"), "{}", e.message);
        g.reset();
        g.request("GET", "https://x/a?page=1", None).unwrap();
        // The same URL with another body (GraphQL) is another request.
        g.request("POST", "https://x/graphql", Some(b"{\"after\":\"A\"}")).unwrap();
        g.request("POST", "https://x/graphql", Some(b"{\"after\":\"B\"}")).unwrap();
    }

    #[test]
    fn the_same_answer_to_different_requests_is_no_loop() {
        let mut g = StepGuard::default();
        let page = vec![b'x'; 600];
        g.answer("u3", &page).unwrap();
        g.answer("u4", &page).unwrap();
    }

    #[test]
    fn requests_and_bytes_per_step_have_ceilings() {
        let mut g = StepGuard::default();
        for i in 0..STEP_REQUESTS {
            g.request("GET", &format!("u{i}"), None).unwrap();
        }
        let e = g.request("GET", "last", None).unwrap_err();
        assert_eq!(e.kind, "ceiling");
        assert!(e.message.contains("last") && e.message.contains("2000"), "{}", e.message);
        let mut g = StepGuard::default();
        let chunk = vec![0u8; 1 << 20];
        let mut n = 0;
        let e = loop {
            n += 1;
            let mut c = chunk.clone();
            c[..8].copy_from_slice(&(n as u64).to_le_bytes());
            if let Err(e) = g.answer("big", &c) {
                break e;
            }
        };
        assert_eq!((e.kind, n), ("ceiling", 65));
    }

    #[test]
    fn follow_up_lists_and_syncs_have_ceilings_and_a_repeated_cursor_is_a_loop() {
        let mut p = PagedRead::new("the changelog of ABC-1");
        for _ in 0..FOLLOW_UP_PAGES {
            p.page("u", 1).unwrap();
        }
        let e = p.page("https://j/changelog?startAt=1000", 1).unwrap_err();
        assert!(e.kind == "ceiling" && e.message.contains("ABC-1") && e.message.contains("startAt=1000"));
        let mut s = SyncGuard::default();
        s.step("jira", Some("{\"a\":1}")).unwrap();
        s.step("jira", Some("{\"a\":2}")).unwrap();
        assert_eq!(s.step("jira", Some("{\"a\":1}")).unwrap_err().kind, "loop");
    }
}
