//! Retention (issue 13): per-scan result rows are kept for the last `keepScansPerConfig`
//! finished scans of each config and for `keepDays` days (each 0: no limit); older finished
//! scans are deleted with their rows and files. The history — hosts, observation intervals,
//! change events, certificates — stays: events and intervals only lose their link to the scan.
//!
//! Every process with a job runner checks at each heartbeat whether the daily run is due; one
//! claims it (a `settings` row written in a write transaction, on PostgreSQL under an advisory
//! lock) and runs it. ADMINs run it at once with `applyRetention`.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use entity::{scan, setting};

use crate::db;
use crate::domain::auth::{Actor, Role};
use crate::domain::status::ScanStatus;
use crate::error::AppResult;
use crate::service::{audit, scans, settings};

const KEY_LAST_RUN: &str = "retention.last_run";
/// PostgreSQL advisory lock under which the daily run is claimed.
const RETENTION_LOCK: i64 = 0x5C4E_0004;
/// How often the retention runs.
pub const EVERY: Duration = Duration::days(1);

/// A finished scan as retention reads it: id, config, created, completed.
type FinishedScan = (i32, Option<i32>, DateTime<Utc>, Option<DateTime<Utc>>);

/// The finished scans the settings no longer keep at `now`, oldest first.
pub async fn expired<C: ConnectionTrait>(
    db: &C,
    keep_per_config: u32,
    keep_days: u32,
    now: DateTime<Utc>,
) -> AppResult<Vec<i32>> {
    if keep_per_config == 0 && keep_days == 0 {
        return Ok(Vec::new());
    }
    let finished: Vec<&str> = ScanStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect();
    let rows: Vec<FinishedScan> = scan::Entity::find()
        .select_only()
        .columns([
            scan::Column::Id,
            scan::Column::ConfigId,
            scan::Column::CreatedAt,
            scan::Column::CompletedAt,
        ])
        .filter(scan::Column::ParentId.is_null())
        .filter(scan::Column::Status.is_in(finished))
        .order_by_desc(scan::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let cutoff = (keep_days > 0).then(|| now - Duration::days(i64::from(keep_days)));
    let mut kept: HashMap<i32, u32> = HashMap::new();
    let mut out = Vec::new();
    for (id, config, created, completed) in rows {
        let too_old = cutoff.is_some_and(|c| completed.unwrap_or(created) < c);
        let beyond = match config {
            Some(config) if keep_per_config > 0 => {
                let n = kept.entry(config).or_default();
                *n += 1;
                *n > keep_per_config
            }
            _ => false,
        };
        if too_old || beyond {
            out.push(id);
        }
    }
    out.reverse();
    Ok(out)
}

/// Deletes what the settings no longer keep; the number of scans deleted.
async fn apply(db: &DatabaseConnection, actor: &Actor, data_dir: &Path) -> AppResult<u64> {
    let runtime = settings::load(db).await?;
    let ids = expired(
        db,
        runtime.keep_scans_per_config,
        runtime.keep_days,
        Utc::now(),
    )
    .await?;
    for id in &ids {
        scans::remove(db, data_dir, *id).await?;
    }
    if !ids.is_empty() {
        tracing::info!(scans = ids.len(), "retention deleted finished scans");
        audit::record(
            db,
            actor,
            "retention.apply",
            None,
            Some(serde_json::json!({
                "deleted": ids.len(),
                "keep_scans_per_config": runtime.keep_scans_per_config,
                "keep_days": runtime.keep_days,
                "scans": ids.iter().take(100).collect::<Vec<_>>(),
            })),
        )
        .await?;
    }
    Ok(ids.len() as u64)
}

/// Applies retention now (ADMIN).
pub async fn apply_now(db: &DatabaseConnection, actor: &Actor, data_dir: &Path) -> AppResult<u64> {
    actor.require(Role::Admin)?;
    claim(db, true).await?;
    apply(db, actor, data_dir).await
}

/// Runs the daily retention if it is due and no other process claimed it.
pub async fn run_if_due(db: &DatabaseConnection, data_dir: &Path) -> AppResult<Option<u64>> {
    // Reads first: the write transaction only when a run is due (once a day).
    if last_run(db).await?.is_some_and(|t| Utc::now() - t < EVERY) {
        return Ok(None);
    }
    let runtime = settings::load(db).await?;
    if runtime.keep_scans_per_config == 0 && runtime.keep_days == 0 {
        return Ok(None);
    }
    if !claim(db, false).await? {
        return Ok(None);
    }
    apply(db, &Actor::system(), data_dir).await.map(Some)
}

/// When retention last ran.
async fn last_run<C: ConnectionTrait>(db: &C) -> AppResult<Option<DateTime<Utc>>> {
    Ok(setting::Entity::find_by_id(KEY_LAST_RUN.to_owned())
        .one(db)
        .await?
        .and_then(|row| serde_json::from_str(&row.value).ok()))
}

/// Records a run now: always (`force`), or only when the last run is a day old or more.
/// Whether this process got the run.
async fn claim(db: &DatabaseConnection, force: bool) -> AppResult<bool> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    db::advisory_lock(&txn, &[RETENTION_LOCK]).await?;
    let last = last_run(&txn).await?;
    if !force && last.is_some_and(|t| now - t < EVERY) {
        return Ok(false);
    }
    setting::Entity::insert(setting::ActiveModel {
        key: Set(KEY_LAST_RUN.to_owned()),
        value: Set(serde_json::to_string(&now).unwrap_or_default()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(setting::Column::Key)
            .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
            .to_owned(),
    )
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(true)
}
