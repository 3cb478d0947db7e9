//! siloscope-testkit: stand-ins for SaaS APIs these machines cannot reach, for tests and
//! benchmarks. Each serves payloads shaped exactly like the real service's (compared with
//! ../shared/realdata), from a scenario, on loopback only. A dev-dependency only: never used by the
//! daemon itself, never in a release build.

pub mod github;
pub mod gitlab;
pub mod hostile;
pub mod jira;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use axum::body::Body;
use axum::response::Response;

use crate::mutex::lock;

// The files came from one crate as `crate::standin`; the aliases keep their `crate::…` paths.
use siloscope_model as model;
use siloscope_model::mutex;
use siloscope_sources as sources;

/// The faults a stand-in will serve: queued ones on the next requests in order, scheduled ones on
/// a given request number (1-based, counting every request). Each API has its own fault type,
/// since each fails in its own shapes.
#[derive(Debug)]
pub struct FaultPlan<F> {
    queued: Mutex<VecDeque<F>>,
    scheduled: Mutex<BTreeMap<u64, F>>,
}

impl<F> Default for FaultPlan<F> {
    fn default() -> Self {
        FaultPlan { queued: Mutex::new(VecDeque::new()), scheduled: Mutex::new(BTreeMap::new()) }
    }
}

impl<F> FaultPlan<F> {
    pub fn push(&self, fault: F) {
        lock(&self.queued).push_back(fault);
    }
    pub fn at(&self, request: u64, fault: F) {
        lock(&self.scheduled).insert(request, fault);
    }
    /// The fault for request number `request`, if any: a scheduled one first, else the next queued.
    pub fn take(&self, request: u64) -> Option<F> {
        let scheduled = lock(&self.scheduled).remove(&request);
        scheduled.or_else(|| lock(&self.queued).pop_front())
    }
}

/// Cuts a response body in half: the truncated JSON a dropped connection or a flaky proxy yields.
pub async fn truncate_body(response: &mut Response) {
    let bytes = axum::body::to_bytes(std::mem::take(response.body_mut()), 64 << 20).await.unwrap_or_default();
    *response.body_mut() = Body::from(bytes.slice(..bytes.len() / 2));
    response.headers_mut().remove("content-length");
}
