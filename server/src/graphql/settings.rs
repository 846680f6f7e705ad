//! GraphQL for the admin-editable runtime settings: scan scope, concurrency and chunks.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::error::GqlResult;
use crate::graphql::context::ContextExt;
use crate::jobs::runner::Runner;
use crate::service::retention;
use crate::service::settings::{self, RuntimeSettings, SettingsPatch};

/// Scan scope and limits. Defaults: loopback only (127.0.0.0/8, ::1), 65,536 addresses per
/// scan, 3 scans (or chunks) at once, chunks of 4,096 addresses.
#[derive(SimpleObject)]
pub struct Settings {
    /// A target must lie wholly inside one of these networks.
    pub allowed_cidrs: Vec<String>,
    /// A target must not overlap any of these (they win over `allowedCidrs`).
    pub denied_cidrs: Vec<String>,
    /// Most addresses one scan may cover.
    pub max_addresses_per_scan: i64,
    /// Scans that run at once over every worker and agent (a chunk counts as a scan); more
    /// wait QUEUED.
    pub max_concurrent_scans: i32,
    /// A scan over more addresses runs as chunks of at most this many, which workers and
    /// agents run in parallel and whose results are merged into the one scan; 0: never.
    pub chunk_addresses: i32,
    /// Retention: the finished scans kept per config, newest first; older ones are deleted by
    /// the daily retention run (their change history stays). 0: keep all.
    pub keep_scans_per_config: i32,
    /// Retention: finished scans older than this many days are deleted by the daily run (their
    /// change history stays). 0: never.
    pub keep_days: i32,
    /// Internal networks (loopback, private, link-local, CGNAT…) webhook and Slack channels
    /// may reach; any other internal address is refused (SSRF). Empty: none. Public
    /// addresses are always allowed.
    pub notify_allowed_cidrs: Vec<String>,
}

impl From<RuntimeSettings> for Settings {
    fn from(s: RuntimeSettings) -> Self {
        Self {
            allowed_cidrs: s.scope.allowed.iter().map(ToString::to_string).collect(),
            denied_cidrs: s.scope.denied.iter().map(ToString::to_string).collect(),
            max_addresses_per_scan: i64::try_from(s.scope.max_addresses).unwrap_or(i64::MAX),
            max_concurrent_scans: i32::try_from(s.max_concurrent_scans).unwrap_or(i32::MAX),
            chunk_addresses: i32::try_from(s.chunk_addresses).unwrap_or(i32::MAX),
            keep_scans_per_config: i32::try_from(s.keep_scans_per_config).unwrap_or(i32::MAX),
            keep_days: i32::try_from(s.keep_days).unwrap_or(i32::MAX),
            notify_allowed_cidrs: s.notify_allowed.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A change; absent fields keep their value.
#[derive(InputObject, Default)]
pub struct UpdateSettingsInput {
    pub allowed_cidrs: Option<Vec<String>>,
    pub denied_cidrs: Option<Vec<String>>,
    pub max_addresses_per_scan: Option<i64>,
    pub max_concurrent_scans: Option<i32>,
    pub chunk_addresses: Option<i32>,
    pub keep_scans_per_config: Option<i32>,
    pub keep_days: Option<i32>,
    pub notify_allowed_cidrs: Option<Vec<String>>,
}

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// The runtime settings (ADMIN).
    async fn settings(&self, ctx: &Context<'_>) -> GqlResult<Settings> {
        Ok(settings::get(ctx.db(), ctx.actor()?).await?.into())
    }
}

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Changes the runtime settings (ADMIN); takes effect for the next scan started.
    async fn update_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateSettingsInput,
    ) -> GqlResult<Settings> {
        let patch = SettingsPatch {
            allowed_cidrs: input.allowed_cidrs,
            denied_cidrs: input.denied_cidrs,
            max_addresses_per_scan: input.max_addresses_per_scan,
            max_concurrent_scans: input.max_concurrent_scans.map(i64::from),
            chunk_addresses: input.chunk_addresses.map(i64::from),
            keep_scans_per_config: input.keep_scans_per_config.map(i64::from),
            keep_days: input.keep_days.map(i64::from),
            notify_allowed_cidrs: input.notify_allowed_cidrs,
        };
        let updated = settings::update(ctx.db(), ctx.actor()?, patch).await?;
        // More slots may be free now.
        ctx.data_unchecked::<Runner>().wake();
        Ok(updated.into())
    }

    /// Applies the retention settings now (ADMIN), as the daily run does: deletes the finished
    /// scans beyond `keepScansPerConfig` per config and older than `keepDays` (their change
    /// history stays). Answers how many scans were deleted.
    async fn apply_retention(&self, ctx: &Context<'_>) -> GqlResult<i32> {
        let data_dir = &ctx
            .data_unchecked::<std::sync::Arc<crate::config::Settings>>()
            .data_dir;
        let deleted = retention::apply_now(ctx.db(), ctx.actor()?, data_dir).await?;
        Ok(i32::try_from(deleted).unwrap_or(i32::MAX))
    }
}
