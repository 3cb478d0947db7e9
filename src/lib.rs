//! siloscope: cross-team collaboration signals from the trackers teams already use.
//! Data flows one way: sources → store → signals engine → exporter / report (ARCHITECTURE.md).

pub mod agreements_check;
pub mod backfill;
pub mod connections;
pub mod daemon;
pub mod estimate;
pub mod export;
pub mod init;
pub mod pages;
pub mod replica;
pub mod rules;
pub mod server;
pub mod suggest;
pub mod webconfig;

// The workspace's crates under the module names they had in the single crate, so `crate::model::…`
// here and `siloscope::model::…` in tests/ and benches/ keep resolving.
pub use siloscope_config as config;
pub use siloscope_engine as signals;
pub use siloscope_engine::coverage;
pub use siloscope_exporter as exporter;
pub use siloscope_model as model;
pub use siloscope_model::{mutex, teams, untrusted};
pub use siloscope_report as report;
pub use siloscope_sources as sources;
pub use siloscope_sources::progress;
pub use siloscope_store as store;
pub use siloscope_store::privacy;
use siloscope_store::testhooks;
