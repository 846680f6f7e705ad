//! The domain: plain types and rules with no database, runtime or transport in them — who
//! may do what (`auth`), a scan's lifecycle (`status`), scan configs with their typed targets,
//! ports and scope (`config`, `targets`, `ports`, `scope`), and the result tree a scan or an
//! import produces (`tree`) and the files a run leaves (`artifact`), what it observed (`facts`), what needs attention (`findings`), and what changed between two observations of a host (`changes`), when a schedule fires (`schedule`), what an alert rule matches and what one scan's evaluation opens, attaches and resolves (`alerts`), and how a notification is signed and where it may go (`notify`). Every other layer builds on these; they depend on nothing above.

pub mod alerts;
pub mod artifact;
pub mod auth;
pub mod changes;
pub mod chunks;
pub mod config;
pub mod facts;
pub mod findings;
pub mod history;
pub mod notify;
pub mod ports;
pub mod schedule;
pub mod scope;
pub mod status;
pub mod targets;
pub mod tree;
