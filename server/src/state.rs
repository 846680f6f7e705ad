//! Shared application state, handed to handlers and to the GraphQL schema.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::rate_limit::LoginLimiter;
use crate::config::Settings;
use crate::db::DbMetrics;
use crate::events::EventBus;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub events: EventBus,
    pub limiter: Arc<LoginLimiter>,
    pub metrics: Arc<DbMetrics>,
    /// The schema of `POST /graphql`.
    pub schema: crate::graphql::AppSchema,
    /// The schema of websockets (with the guard and re-authentication as extensions).
    pub socket_schema: crate::graphql::AppSchema,
    /// Shared executions of identical `scanUpdates` subscriptions (websockets).
    pub fanout: Arc<crate::graphql::fanout::Fanout>,
    /// Answers to queries about COMPLETED scans, kept in memory.
    pub answers: Arc<crate::graphql::answers::AnswerCache>,
    /// The Content-Security-Policy header, with hashes of the SPA's inline scripts.
    pub csp: Arc<str>,
    /// The remote agents connected to this process.
    pub agents: crate::jobs::agents::AgentHub,
    /// `http.trusted_proxies`, parsed.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
}
