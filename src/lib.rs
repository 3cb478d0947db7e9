//! siloscope: cross-team collaboration signals from the trackers teams already use.
//! Data flows one way: sources → store → signals engine → exporter / report (ARCHITECTURE.md).

pub mod backfill;
pub mod config;
pub mod connections;
pub mod coverage;
pub mod daemon;
pub mod estimate;
pub mod exporter;
pub mod init;
pub mod model;
pub mod mutex;
pub mod privacy;
pub mod progress;
pub mod report;
pub mod server;
pub mod signals;
pub mod sources;
#[cfg(feature = "standin")]
pub mod standin;
pub mod store;
pub mod suggest;
pub mod teams;
pub(crate) mod testhooks;
pub mod untrusted;
pub mod webconfig;
