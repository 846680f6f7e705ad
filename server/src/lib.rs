//! SneakyScanner server: GraphQL API, auth, scan configs and scans over SQLite/PostgreSQL.
//! Start it with [`app::run`].

pub mod agent;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod oneshot;
pub mod scanner;
pub mod service;
pub mod session;
pub mod state;
pub mod telemetry;

pub use app::run;
pub use config::Settings;
