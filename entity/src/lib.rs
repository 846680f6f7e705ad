//! sea-orm entities: plain data rows, one module per table (no GraphQL derives here).

pub mod agent;
pub mod agent_event;
pub mod alert;
pub mod alert_rule;
pub mod api_key;
pub mod audit_log;
pub mod login_failure;
pub mod notification_channel;
pub mod scan;
pub mod scan_artifact;
pub mod scan_certificate;
pub mod scan_config;
pub mod scan_finding;
pub mod scan_ip;
pub mod scan_port;
pub mod scan_script;
pub mod scan_service;
pub mod scan_site;
pub mod scan_tls_version;
pub mod schedule;
pub mod session;
pub mod setting;
pub mod user;
pub mod worker;
