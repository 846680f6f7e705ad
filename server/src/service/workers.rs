//! The processes that run scans: each registers at start, is seen every heartbeat and says so
//! when it stops gracefully. Listed for operators (which workers are alive, what they run).

use chrono::Utc;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use entity::{scan, worker};

use crate::domain::auth::{Actor, Role};
use crate::domain::status::ScanStatus;
use crate::error::AppResult;

/// Rows of workers not seen for this long are deleted (every restart is a new worker).
const FORGET_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// What a process says of itself when it registers.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub host: String,
    pub pid: u32,
}

/// A worker as listed.
#[derive(Debug, Clone)]
pub struct WorkerInfo {
    pub row: worker::Model,
    /// Seen within its lease and not stopped.
    pub online: bool,
    pub running_scans: i64,
}

/// Registers this process (and forgets workers not seen for a week).
pub async fn register(db: &DatabaseConnection, me: &Registration) -> AppResult<()> {
    let now = Utc::now();
    worker::Entity::delete_many()
        .filter(worker::Column::LastSeen.lt(now - FORGET_AFTER))
        .exec(db)
        .await?;
    worker::Entity::insert(worker::ActiveModel {
        name: Set(me.name.clone()),
        host: Set(me.host.clone()),
        pid: Set(i32::try_from(me.pid).unwrap_or(i32::MAX)),
        version: Set(env!("CARGO_PKG_VERSION").to_owned()),
        started_at: Set(now),
        last_seen: Set(now),
        stopped_at: Set(None),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// The heartbeat of a worker.
pub async fn seen(db: &DatabaseConnection, name: &str) -> AppResult<()> {
    worker::Entity::update_many()
        .col_expr(worker::Column::LastSeen, Expr::value(Utc::now()))
        .filter(worker::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(())
}

/// A graceful stop.
pub async fn stopped(db: &DatabaseConnection, name: &str) -> AppResult<()> {
    worker::Entity::update_many()
        .col_expr(worker::Column::StoppedAt, Expr::value(Utc::now()))
        .filter(worker::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(())
}

/// Every known worker, online first, then by last seen (VIEWER); two statements.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    lease: chrono::TimeDelta,
) -> AppResult<Vec<WorkerInfo>> {
    actor.require(Role::Viewer)?;
    let rows = worker::Entity::find()
        .order_by_desc(worker::Column::LastSeen)
        .all(db)
        .await?;
    let running: Vec<(Option<String>, i64)> = scan::Entity::find()
        .select_only()
        .column(scan::Column::Worker)
        .column_as(Expr::expr(Func::count(Expr::col(scan::Column::Id))), "n")
        .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
        .filter(scan::Column::Worker.is_not_null())
        .group_by(scan::Column::Worker)
        .into_tuple()
        .all(db)
        .await?;
    let since = Utc::now() - lease;
    let mut workers: Vec<WorkerInfo> = rows
        .into_iter()
        .map(|row| WorkerInfo {
            online: row.stopped_at.is_none() && row.last_seen > since,
            running_scans: running
                .iter()
                .find(|(w, _)| w.as_deref() == Some(row.name.as_str()))
                .map_or(0, |(_, n)| *n),
            row,
        })
        .collect();
    workers.sort_by_key(|w| !w.online);
    Ok(workers)
}
