//! GraphQL for the processes that run scans: `workers`.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::error::GqlResult;
use crate::graphql::context::ContextExt;
use crate::jobs::runner::Runner;
use crate::service::workers;

/// A process that runs scans (`sneakyscan serve` with its worker, or `sneakyscan worker`).
#[derive(SimpleObject)]
pub struct Worker {
    /// `<host>-<pid>-<random>`: what `Scan.worker` names.
    pub name: String,
    pub host: String,
    pub pid: i32,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// When it stopped gracefully; a process that died has none and is simply offline.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Seen within one lease (`jobs.heartbeat_secs × missed_heartbeats`) and not stopped.
    pub online: bool,
    /// Scans RUNNING on it now.
    pub running_scans: i32,
}

impl From<workers::WorkerInfo> for Worker {
    fn from(w: workers::WorkerInfo) -> Self {
        Self {
            name: w.row.name,
            host: w.row.host,
            pid: w.row.pid,
            version: w.row.version,
            started_at: w.row.started_at,
            last_seen: w.row.last_seen,
            stopped_at: w.row.stopped_at,
            online: w.online,
            running_scans: i32::try_from(w.running_scans).unwrap_or(i32::MAX),
        }
    }
}

#[derive(Default)]
pub struct WorkerQuery;

#[Object]
impl WorkerQuery {
    /// The workers seen in the last week, online ones first (VIEWER).
    async fn workers(&self, ctx: &Context<'_>) -> GqlResult<Vec<Worker>> {
        let ttl = ctx.data_unchecked::<Runner>().lease_ttl();
        Ok(workers::list(ctx.db(), ctx.actor()?, ttl)
            .await?
            .into_iter()
            .map(Worker::from)
            .collect())
    }
}
