//! sea-orm entities: plain data rows, one module per table (no GraphQL derives here).

pub mod user;
pub mod session;
pub mod api_key;
pub mod scan_config;
pub mod scan;
pub mod scan_site;
pub mod scan_ip;
pub mod scan_port;
pub mod scan_service;
pub mod scan_certificate;
pub mod scan_tls_version;
pub mod scan_script;
pub mod schedule;
pub mod notification_channel;
pub mod alert_rule;
pub mod alert;
pub mod setting;
pub mod audit_log;
