//! siloscope's development tasks, as a library so that the tests can run them: the Grafana boards
//! written from the metric catalogue. Nothing here is part of the daemon, and nothing here touches
//! the network; only the binary (`cargo xtask …`) writes files.

pub mod dashboards;
pub mod drilldown;
pub mod json;
