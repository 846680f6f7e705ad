//! The job queues: apalis storages on the pool sea-orm already holds (`apalis-sqlite` embedded,
//! `apalis-postgres` at scale). A scan is one job, `ScanJob { scan_id }`; a delivery of an
//! alert one `DeliveryJob { delivery_id }`. Everything else lives in their rows, so a job is
//! cheap to push twice (running it is idempotent).

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use sea_orm::{DatabaseConnection, DbBackend};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::JobSettings;
use crate::error::{AppError, AppResult};

/// The queue of the workers' scan jobs.
pub const QUEUE: &str = "sneakyscan.scans";

/// The queue of the scan jobs of an agent pool (the agents of the pool pull from it).
pub fn queue_of(pool: Option<&str>) -> String {
    match pool {
        None => QUEUE.to_owned(),
        Some(pool) => format!("sneakyscan.pool.{pool}"),
    }
}

/// The queue of the deliveries of alerts (any worker sends them).
pub const DELIVERIES: &str = "sneakyscan.deliveries";

/// A job: the id of the row that says what to do.
pub trait Job: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static {
    fn of(id: i32) -> Self;
    fn id(&self) -> i32;
}

/// Run the scan `scan_id` (queued, or taken over from a lost worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanJob {
    pub scan_id: i32,
}

impl Job for ScanJob {
    fn of(scan_id: i32) -> Self {
        Self { scan_id }
    }
    fn id(&self) -> i32 {
        self.scan_id
    }
}

/// Make an attempt at delivery `delivery_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub delivery_id: i32,
}

impl Job for DeliveryJob {
    fn of(delivery_id: i32) -> Self {
        Self { delivery_id }
    }
    fn id(&self) -> i32 {
        self.delivery_id
    }
}

/// Pushes jobs of one kind; cheap to clone.
pub enum Queue<J> {
    Sqlite(SqliteStorage<J>),
    Postgres(PostgresStorage<J>),
}

impl<J> Clone for Queue<J> {
    fn clone(&self) -> Self {
        match self {
            Self::Sqlite(s) => Self::Sqlite(s.clone()),
            Self::Postgres(s) => Self::Postgres(s.clone()),
        }
    }
}

/// The scan jobs' queue.
pub type JobQueue = Queue<ScanJob>;

impl<J: Job> Queue<J> {
    /// The queue named `queue` (see [`queue_of`]).
    pub fn new(db: &DatabaseConnection, settings: &JobSettings, queue: &str) -> Self {
        let heartbeat = settings.heartbeat();
        let missed = settings.missed_heartbeats.max(1) as usize;
        match db.get_database_backend() {
            DbBackend::Postgres => Self::Postgres(
                PostgresStorage::new(db.get_postgres_connection_pool()).with_config(
                    apalis_postgres::Config::default()
                        .queue(queue)
                        .heartbeat_interval(heartbeat)
                        .missed_heartbeats(missed),
                ),
            ),
            _ => Self::Sqlite(
                SqliteStorage::new(db.get_sqlite_connection_pool()).with_config(
                    apalis_sqlite::Config::default()
                        .queue(queue)
                        .heartbeat_interval(heartbeat)
                        .missed_heartbeats(missed),
                ),
            ),
        }
    }

    /// Pushes the job of row `id` (a scan, a delivery).
    pub async fn push(&self, id: i32, max_attempts: u32) -> AppResult<()> {
        let task = TaskBuilder::new(J::of(id))
            .max_attempts(max_attempts.max(1) as usize)
            .build();
        let pushed = match self.clone() {
            Self::Sqlite(mut s) => s.push_task(task).await.map_err(|e| e.to_string()),
            Self::Postgres(mut s) => s.push_task(task).await.map_err(|e| e.to_string()),
        };
        pushed.map_err(|e| AppError::internal(anyhow::anyhow!("pushing the job of row {id}: {e}")))
    }
}

/// Creates apalis' own tables next to ours (its migrations only: its `setup` would also
/// change PRAGMAs of the shared SQLite pool, e.g. `synchronous = OFF`). sqlx' migrator takes
/// its own lock on PostgreSQL, so replicas starting together are safe.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    use anyhow::Context;
    match db.get_database_backend() {
        DbBackend::Postgres => PostgresStorage::<()>::migrations()
            .run(db.get_postgres_connection_pool())
            .await
            .context("while applying the job queue's migrations"),
        _ => SqliteStorage::<()>::migrations()
            .run(db.get_sqlite_connection_pool())
            .await
            .context("while applying the job queue's migrations"),
    }
}
