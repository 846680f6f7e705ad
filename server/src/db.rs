//! Database connection: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL, migrations,
//! a statement counter for `/metrics`, and write transactions that do not deadlock on SQLite.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Counts SQL statements sent to the database (exported at `/metrics`; tests use it to check
/// that a request's statement count does not grow with the number of rows).
#[derive(Debug, Default)]
pub struct DbMetrics {
    pub statements: AtomicU64,
}

impl DbMetrics {
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
}

tokio::task_local! {
    /// Set around background housekeeping whose statements `/metrics` does not count.
    static UNCOUNTED: ();
}

/// Runs `work` without counting its statements in [`DbMetrics`] (the job runner's periodic
/// housekeeping: the counter measures what requests and scans cost).
pub async fn uncounted<F: std::future::Future>(work: F) -> F::Output {
    UNCOUNTED.scope((), work).await
}

/// Opens the database, creating the SQLite file's directory when needed.
pub async fn connect(url: &str, metrics: Arc<DbMetrics>) -> anyhow::Result<DatabaseConnection> {
    if let Some(parent) = sqlite_path(url).and_then(|p| std::path::Path::new(p).parent())
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("while creating {}", parent.display()))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .row_buffer_size(1024)
                .foreign_keys(true)
                // Reads through memory-mapped pages shared by every connection, rather than a
                // read call per page into each connection's small page cache (a 10,000-host
                // scan read cold took 2–3× longer without: bench_history).
                .pragma("mmap_size", "268435456")
        });
    let mut db = Database::connect(opts)
        .await
        .with_context(|| format!("while connecting to {}", redact(url)))?;
    db.set_metric_callback(move |_| {
        if UNCOUNTED.try_with(|()| ()).is_err() {
            metrics.statements.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok(db)
}

/// Opens the database with every migration applied: ours, then `more` (the job queue's). The
/// migrations run on a pool of their own, closed before the returned one opens: on SQLite a
/// connection that was open across an `ALTER TABLE … ADD COLUMN` can read the new column as
/// NULL (seen: 4 inserts in 15 read `scans.attempt` back as NULL through `RETURNING`).
pub async fn connect_migrated(
    url: &str,
    metrics: Arc<DbMetrics>,
    more: impl AsyncFnOnce(&DatabaseConnection) -> anyhow::Result<()>,
) -> anyhow::Result<DatabaseConnection> {
    let migrating = connect(url, Arc::new(DbMetrics::default())).await?;
    migrate(&migrating).await?;
    more(&migrating).await?;
    migrating.close().await.ok();
    connect(url, metrics).await
}

/// Key of the PostgreSQL advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x5C4E_0002;

/// Applies pending migrations. On PostgreSQL under an advisory lock: replicas and workers
/// starting together migrate one after the other (the later ones find nothing to do).
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Migrator::up(db, None)
            .await
            .context("while applying migrations");
    }
    let mut lock = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .context("while connecting to migrate")?;
    sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *lock)
        .await
        .context("while waiting for the migration lock")?;
    let migrated = Migrator::up(db, None).await;
    sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *lock)
        .await
        .context("while releasing the migration lock")?;
    migrated.context("while applying migrations")
}

/// True when every known migration has been applied (used by `/readyz`).
pub async fn is_migrated(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

/// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`: a deferred transaction that
/// reads and then writes fails at once with SQLITE_BUSY when another writer is active.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Ids per `IN (…)` list (below SQLite's and PostgreSQL's bound-parameter limits).
pub const IDS_PER_STATEMENT: usize = 5_000;

/// On PostgreSQL, takes the transaction-scoped advisory lock `keys` (one `bigint`, or two
/// `int`s); SQLite's write transaction already serialises writers.
pub async fn advisory_lock(txn: &DatabaseTransaction, keys: &[i64]) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({})",
            keys.join(", ")
        ))
        .await?;
    }
    Ok(())
}

/// Rows of `T` read as one JSON array the database builds (`sqlite` with `?` placeholders,
/// `postgres` with `$n`, each returning one text column): one row crosses the driver instead
/// of one per record, whose cost per row dominates large reads (bench_history).
pub async fn json_rows<C, T>(
    db: &C,
    sqlite: &str,
    postgres: &str,
    values: Vec<sea_orm::Value>,
) -> anyhow::Result<Vec<T>>
where
    C: ConnectionTrait,
    T: serde::de::DeserializeOwned,
{
    parse_rows(json_text(db, sqlite, postgres, values).await?.as_deref())
}

/// The document of [`json_rows`] as the database wrote it, for callers that parse it off the
/// async threads ([`parse_rows`] on a blocking thread).
pub async fn json_text<C: ConnectionTrait>(
    db: &C,
    sqlite: &str,
    postgres: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Option<String>, DbErr> {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Postgres {
        postgres
    } else {
        sqlite
    };
    match db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await?
    {
        Some(row) => row.try_get_by_index(0),
        None => Ok(None),
    }
}

/// The rows of a [`json_text`] document (none when the database returned no document).
pub fn parse_rows<T: serde::de::DeserializeOwned>(text: Option<&str>) -> anyhow::Result<Vec<T>> {
    Ok(match text {
        Some(text) => serde_json::from_str(text)?,
        None => Vec::new(),
    })
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_password_when_url_has_one() {
        assert_eq!(
            redact("postgres://u:secret@127.0.0.1/db"),
            "postgres://u:***@127.0.0.1/db"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn sqlite_path_extracts_file_when_url_is_sqlite() {
        assert_eq!(
            sqlite_path("sqlite://./data/a.db?mode=rwc"),
            Some("./data/a.db")
        );
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
