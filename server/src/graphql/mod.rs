//! The GraphQL schema: one Query/Mutation/Subscription merged from per-domain parts, with depth
//! and complexity limits. `sdl()` is what `sneakyscan export-schema` writes to schema.graphql.

pub mod auth;
pub mod configs;
pub mod connection;
pub mod context;
pub mod enums;
pub mod guard;
pub mod loaders;
pub mod reauth;
pub mod scans;
pub mod settings;
pub mod subscription;

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema};
use sea_orm::DatabaseConnection;

use crate::auth::rate_limit::LoginLimiter;
use crate::config::Settings;
use crate::events::EventBus;
use crate::jobs::runner::Runner;

#[derive(MergedObject, Default)]
pub struct Query(
    auth::AuthQuery,
    configs::ConfigQuery,
    scans::ScanQuery,
    settings::SettingsQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    configs::ConfigMutation,
    scans::ScanMutation,
    settings::SettingsMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(subscription::ScanSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema with the shared services every resolver may use.
pub fn build(
    db: DatabaseConnection,
    settings: Arc<Settings>,
    events: EventBus,
    limiter: Arc<LoginLimiter>,
    runner: Runner,
) -> AppSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(settings.graphql.max_depth)
    .limit_complexity(settings.graphql.max_complexity)
    .limit_recursive_depth(64)
    .extension(guard::RequestGuard(guard::Limits {
        max_fields: settings.graphql.max_fields,
        max_aliases: settings.graphql.max_aliases,
        max_query_bytes: settings.graphql.max_query_bytes,
    }))
    .extension(reauth::SocketReauth)
    .data(db)
    .data(events)
    .data(limiter)
    .data(runner);
    if !settings.graphql.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.data(settings).finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl()
}
