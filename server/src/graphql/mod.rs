//! The GraphQL schema: one Query/Mutation/Subscription merged from per-domain parts, with depth
//! and complexity limits. `sdl()` is what `sneakyscan export-schema` writes to schema.graphql.

pub mod agents;
pub mod alerts;
pub mod answers;
pub mod auth;
pub mod configs;
pub mod connection;
pub mod context;
pub mod enums;
pub mod fanout;
pub mod guard;
pub mod history;
pub mod loaders;
pub mod reauth;
pub mod scans;
pub mod schedules;
pub mod settings;
pub mod subscription;
pub mod trends;
pub mod views;
pub mod workers;

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema};
use sea_orm::DatabaseConnection;

use crate::auth::rate_limit::LoginLimiter;
use crate::config::Settings;
use crate::events::EventBus;
use crate::jobs::runner::Runner;

#[derive(MergedObject, Default)]
pub struct Query(
    agents::AgentQuery,
    alerts::AlertQuery,
    auth::AuthQuery,
    configs::ConfigQuery,
    history::HistoryQuery,
    scans::ScanQuery,
    schedules::ScheduleQuery,
    settings::SettingsQuery,
    trends::TrendQuery,
    views::ViewQuery,
    workers::WorkerQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    agents::AgentMutation,
    alerts::AlertMutation,
    auth::AuthMutation,
    configs::ConfigMutation,
    history::HistoryMutation,
    scans::ScanMutation,
    schedules::ScheduleMutation,
    settings::SettingsMutation,
    views::ViewMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(subscription::ScanSubscription, alerts::AlertSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema twice: for `POST /graphql` (the HTTP handler applies the request guard before
/// executing) and for websockets, where the guard and the per-operation re-authentication run
/// as extensions. Extensions wrap every field's resolution, so the HTTP schema, which serves
/// the large pages, has none.
pub struct Schemas {
    pub http: AppSchema,
    pub socket: AppSchema,
}

/// Builds both schemas with the shared services every resolver may use.
pub fn build(
    db: DatabaseConnection,
    settings: Arc<Settings>,
    events: EventBus,
    limiter: Arc<LoginLimiter>,
    runner: Runner,
) -> Schemas {
    let schema = |socket: bool| {
        let mut builder = Schema::build(
            Query::default(),
            Mutation::default(),
            Subscription::default(),
        )
        .limit_depth(settings.graphql.max_depth)
        .limit_complexity(settings.graphql.max_complexity)
        .limit_recursive_depth(64)
        .data(db.clone())
        .data(events.clone())
        .data(limiter.clone())
        .data(runner.clone());
        if socket {
            builder = builder
                .extension(guard::RequestGuard(guard::Limits::of(&settings)))
                .extension(reauth::SocketReauth);
        }
        if !settings.graphql.introspection {
            builder = builder.disable_introspection().disable_suggestions();
        }
        builder.data(settings.clone()).finish()
    };
    Schemas {
        http: schema(false),
        socket: schema(true),
    }
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
