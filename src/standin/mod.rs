//! Stand-ins for SaaS APIs these machines cannot reach, for tests and benchmarks. Each serves
//! payloads shaped exactly like the real service's (compared with ../shared/realdata), from a
//! scenario, on loopback only. Never used by the daemon itself.

pub mod github;
pub mod gitlab;
pub mod jira;
