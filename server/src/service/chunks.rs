//! Chunked scans. A scan over more addresses than the `chunkAddresses` setting is stored as a
//! parent (RUNNING, phase `chunks`, no job of its own) and one QUEUED child scan per chunk
//! (`domain::chunks::split`), each a normal scan job that any worker or agent of the pool
//! claims, runs, and may lose and have taken over. A chunk's result tree is kept with it
//! ([`RESULT`]); when the last chunk ends, [`merge`] writes the merged tree under the parent —
//! as one run of the whole config stores it — in one transaction, moves the chunks' files to
//! the parent and deletes the chunks. Chunks are hidden from lists, details and events: the
//! parent shows their progress (mean percent, summed counters) and a cancel of the parent
//! reaches every chunk.

use std::collections::BTreeSet;
use std::io::Write;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use entity::{scan, scan_artifact};

use crate::domain::artifact;
use crate::domain::auth::{Actor, Role};
use crate::domain::changes::Coverage;
use crate::domain::chunks;
use crate::domain::config::{self as scan_config, ScanConfig};
use crate::domain::status::{ScanPhase, ScanStatus};
use crate::domain::tree::{Counters, NewSite};
use crate::error::{AppError, AppResult};

/// The stored name of a chunk's result tree (gzip JSON), until it is merged.
pub const RESULT: &str = "chunk/sites.json";
/// The most chunks a scan is cut into: a larger scan gets larger chunks.
pub const MAX_CHUNKS: u32 = 256;
/// PostgreSQL advisory lock (with the parent's id) under which a parent's chunks merge.
const MERGE_LOCK: i32 = 0x5C4E_0002;

/// The chunk configs of a scan of `config` with `size` addresses per chunk (0: never), at
/// most [`MAX_CHUNKS`]; `None` when it runs whole.
pub fn plan(config: &ScanConfig, size: u32) -> Option<Vec<ScanConfig>> {
    if size == 0 {
        return None;
    }
    let fewest = config.address_count().div_ceil(u128::from(MAX_CHUNKS));
    let size = u32::try_from(fewest).unwrap_or(u32::MAX).max(size);
    chunks::split(config, size)
}

/// Inserts the QUEUED chunks of `parent` (inside the transaction that inserts it).
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    parent: &scan::Model,
    configs: &[ScanConfig],
) -> AppResult<Vec<scan::Model>> {
    let count = configs.len();
    let mut rows = Vec::with_capacity(count);
    for (n, config) in configs.iter().enumerate() {
        let number = i32::try_from(n + 1).unwrap_or(i32::MAX);
        let mut row = scan::ActiveModel {
            title: Set(format!("{} (chunk {number} of {count})", parent.title)),
            status: Set(ScanStatus::Queued.as_str().to_owned()),
            phase: Set(ScanPhase::Queued.as_str().to_owned()),
            percent: Set(0.0),
            config_id: Set(parent.config_id),
            triggered_by: Set(parent.triggered_by.clone()),
            triggered_by_user_id: Set(parent.triggered_by_user_id),
            created_at: Set(parent.created_at),
            command_lines: Set("[]".to_owned()),
            config_yaml: Set(Some(chunks::to_yaml(config))),
            pool: Set(parent.pool.clone()),
            parent_id: Set(Some(parent.id)),
            chunk: Set(Some(number)),
            ..Default::default()
        };
        super::results::apply(Counters::default(), &mut row);
        let row = row.insert(conn).await?;
        rows.push(row);
    }
    Ok(rows)
}

/// Keeps a chunk's result tree with it until the merge (inside the transaction that ends it).
pub async fn keep_result<C: ConnectionTrait>(
    conn: &C,
    chunk_id: i32,
    sites: &[NewSite],
) -> AppResult<()> {
    let json = serde_json::to_vec(sites).map_err(AppError::internal)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&json).map_err(AppError::internal)?;
    let content = gz.finish().map_err(AppError::internal)?;
    scan_artifact::ActiveModel {
        scan_id: Set(chunk_id),
        name: Set(RESULT.to_owned()),
        content_type: Set("application/json".to_owned()),
        content_encoding: Set(Some("gzip".to_owned())),
        size: Set(i64::try_from(content.len()).unwrap_or(i64::MAX)),
        content: Set(content),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The chunks of a scan, in order (VIEWER); empty for a scan that is not chunked or whose
/// chunks were merged.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    parent_id: i32,
) -> AppResult<Vec<scan::Model>> {
    actor.require(Role::Viewer)?;
    of(db, parent_id).await
}

async fn of<C: ConnectionTrait>(conn: &C, parent_id: i32) -> AppResult<Vec<scan::Model>> {
    Ok(scan::Entity::find()
        .filter(scan::Column::ParentId.eq(parent_id))
        .order_by_asc(scan::Column::Chunk)
        .all(conn)
        .await?)
}

fn ended(row: &scan::Model) -> bool {
    ScanStatus::parse(&row.status).is_none_or(ScanStatus::is_terminal)
}

/// Sets a running parent's progress from its chunks (mean percent, summed counters, how many
/// ended); returns the parent row, `None` when it is no longer running its chunks.
pub async fn progress(db: &DatabaseConnection, parent_id: i32) -> AppResult<Option<scan::Model>> {
    let chunks: Vec<(String, f64, i32, i32)> = scan::Entity::find()
        .select_only()
        .columns([
            scan::Column::Status,
            scan::Column::Percent,
            scan::Column::HostsUp,
            scan::Column::OpenPorts,
        ])
        .filter(scan::Column::ParentId.eq(parent_id))
        .into_tuple()
        .all(db)
        .await?;
    if chunks.is_empty() {
        return Ok(None);
    }
    let count = chunks.len();
    let is = |status: ScanStatus| move |c: &&(String, f64, i32, i32)| c.0 == status.as_str();
    let waiting = chunks.iter().filter(is(ScanStatus::Queued)).count();
    let running = chunks.iter().filter(is(ScanStatus::Running)).count();
    let done = count - waiting - running;
    // An ended chunk (however it ended) is all done.
    let percent_of = |c: &(String, f64, i32, i32)| {
        if ScanStatus::parse(&c.0).is_none_or(ScanStatus::is_terminal) {
            100.0
        } else {
            c.1
        }
    };
    #[allow(clippy::cast_precision_loss)]
    let percent = chunks.iter().map(percent_of).sum::<f64>() / count as f64;
    let updated = scan::Entity::update_many()
        .col_expr(scan::Column::Percent, Expr::value(percent))
        .col_expr(
            scan::Column::HostsUp,
            Expr::value(chunks.iter().map(|c| c.2).sum::<i32>()),
        )
        .col_expr(
            scan::Column::OpenPorts,
            Expr::value(chunks.iter().map(|c| c.3).sum::<i32>()),
        )
        .col_expr(
            scan::Column::Message,
            Expr::value(progress_message(done, count, running)),
        )
        .filter(scan::Column::Id.eq(parent_id))
        .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
        .filter(scan::Column::Phase.eq(ScanPhase::Chunks.as_str()))
        .exec_with_returning(db)
        .await?;
    Ok(updated.into_iter().next())
}

/// A running parent's message.
pub fn progress_message(done: usize, count: usize, running: usize) -> String {
    format!("{done} of {count} chunks done, {running} running")
}

/// What [`merge`] did.
#[derive(Debug)]
pub enum Merge {
    /// Chunks still queued or running: nothing merged; the parent's progress (if running).
    Waiting(Option<scan::Model>),
    /// Not a parent running its chunks (merged already, deleted).
    Gone,
    /// Merged; ended (a chunk failed, was cancelled or interrupted).
    Ended(scan::Model),
    /// Merged; every chunk completed: RUNNING in phase `finishing` under `lease`, for the
    /// completion pipeline.
    Finishing(scan::Model),
}

/// Merges the chunks of `parent_id` into it when they have all ended, in one write transaction
/// (serialized per parent): the merged result tree, the chunks' files (raw XML as
/// `nmap/<phase>.<chunk>.xml`, screenshots under the parent), the counters and the status —
/// the worst of the chunks' (FAILED, then INTERRUPTED, then CANCELLED), or `finishing` when all
/// completed, leased to `worker`/`lease` until `lease_until`. The chunks are deleted.
pub async fn merge(
    db: &DatabaseConnection,
    parent_id: i32,
    worker: &str,
    lease: &str,
    lease_until: chrono::DateTime<Utc>,
) -> AppResult<Merge> {
    let txn = crate::db::begin_write(db).await?;
    crate::db::advisory_lock(&txn, &[i64::from(MERGE_LOCK), i64::from(parent_id)]).await?;
    let Some(parent) = scan::Entity::find_by_id(parent_id).one(&txn).await? else {
        return Ok(Merge::Gone);
    };
    if parent.status != ScanStatus::Running.as_str() || parent.phase != ScanPhase::Chunks.as_str() {
        return Ok(Merge::Gone);
    }
    let chunks = of(&txn, parent_id).await?;
    if chunks.iter().any(|c| !ended(c)) {
        drop(txn);
        return Ok(Merge::Waiting(progress(db, parent_id).await?));
    }
    let config = scan_config::parse(parent.config_yaml.as_deref().unwrap_or_default())?;
    let mut parts = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        let mut sites: Vec<NewSite> =
            match super::artifacts::content(&txn, chunk.id, RESULT).await? {
                Some(gz) => serde_json::from_slice(&super::artifacts::gunzip(&gz)?)
                    .map_err(AppError::internal)?,
                // Ended without running (cancelled while queued, or lost).
                None => Vec::new(),
            };
        for service in sites
            .iter_mut()
            .flat_map(|s| &mut s.ips)
            .flat_map(|ip| &mut ip.ports)
            .filter_map(|p| p.service.as_mut())
        {
            if let Some(moved) = service
                .screenshot_path
                .as_deref()
                .and_then(|path| artifact::moved_screenshot(path, chunk.id, parent_id))
            {
                service.screenshot_path = Some(moved);
            }
        }
        parts.push(sites);
    }
    let sites = chunks::merge(&config, parts);
    super::results::insert_tree(&txn, parent_id, &sites).await?;
    move_files(&txn, parent_id, &chunks).await?;
    scan::Entity::delete_many()
        .filter(scan::Column::ParentId.eq(parent_id))
        .exec(&txn)
        .await?;

    let worst = [
        ScanStatus::Failed,
        ScanStatus::Interrupted,
        ScanStatus::Cancelled,
    ]
    .into_iter()
    .find_map(|status| {
        chunks
            .iter()
            .find(|c| c.status == status.as_str())
            .map(|c| (status, c))
    });
    let workers: BTreeSet<&str> = chunks.iter().filter_map(|c| c.worker.as_deref()).collect();
    let ran = format!(
        "ran as {} chunks on {}",
        chunks.len(),
        workers.into_iter().collect::<Vec<_>>().join(", ")
    );
    let mut active: scan::ActiveModel = parent.into();
    match worst {
        None => {
            active.phase = Set(ScanPhase::Finishing.as_str().to_owned());
            active.message = Set(Some(ran));
            active.worker = Set(Some(worker.to_owned()));
            active.lease = Set(Some(lease.to_owned()));
            active.lease_until = Set(Some(lease_until));
        }
        Some((status, chunk)) => {
            let number = chunk.chunk.unwrap_or_default();
            active.status = Set(status.as_str().to_owned());
            active.phase = Set(ScanPhase::Done.as_str().to_owned());
            active.message = Set(Some(match &chunk.message {
                Some(m) if status == ScanStatus::Cancelled => format!("{m}; {ran}"),
                _ => ran,
            }));
            active.error_message = Set(chunk
                .error_message
                .as_ref()
                .map(|e| format!("chunk {number}: {e}")));
        }
    }
    active.completed_at = Set(Some(Utc::now()));
    active.command_lines = Set(super::results::command_lines_json(
        &chunks
            .iter()
            .flat_map(|c| {
                serde_json::from_str::<Vec<Vec<String>>>(&c.command_lines).unwrap_or_default()
            })
            .collect::<Vec<_>>(),
    ));
    super::results::apply(Counters::of(&sites), &mut active);
    // What the chunks probed together.
    let mut coverage = Coverage::default();
    for c in chunks
        .iter()
        .filter_map(|c| serde_json::from_str::<Coverage>(c.coverage.as_deref()?).ok())
    {
        coverage.union(&c);
    }
    active.coverage = Set(super::results::coverage_json(&coverage));
    let row = active.update(&txn).await?;
    txn.commit().await?;
    Ok(if worst.is_none() {
        Merge::Finishing(row)
    } else {
        Merge::Ended(row)
    })
}

/// Moves the chunks' files to the parent: raw XML renamed `nmap/<phase>.<chunk>.xml`,
/// screenshots to the parent's folder; a chunk's kept result tree stays (deleted with it).
async fn move_files<C: ConnectionTrait>(
    conn: &C,
    parent_id: i32,
    chunks: &[scan::Model],
) -> AppResult<()> {
    for chunk in chunks {
        let files: Vec<(i64, String)> = scan_artifact::Entity::find()
            .select_only()
            .column(scan_artifact::Column::Id)
            .column(scan_artifact::Column::Name)
            .filter(scan_artifact::Column::ScanId.eq(chunk.id))
            .into_tuple()
            .all(conn)
            .await?;
        let number = chunk.chunk.unwrap_or_default();
        for (id, name) in files {
            let renamed = match artifact::kind_of(chunk.id, &name) {
                Some(artifact::Kind::NmapXml(file)) => artifact::chunk_xml_name(file, number),
                Some(artifact::Kind::Screenshot) => {
                    match artifact::moved_screenshot(&name, chunk.id, parent_id) {
                        Some(moved) => moved,
                        None => continue,
                    }
                }
                None => continue,
            };
            scan_artifact::Entity::update_many()
                .col_expr(scan_artifact::Column::ScanId, Expr::value(parent_id))
                .col_expr(scan_artifact::Column::Name, Expr::value(renamed))
                .filter(scan_artifact::Column::Id.eq(id))
                .exec(conn)
                .await?;
        }
    }
    Ok(())
}

/// Cancels the chunks of a parent for `by`: the queued ones end CANCELLED at once, the running
/// ones get a cancel request (honoured by whoever runs them). Returns the running chunks' ids.
pub async fn cancel(db: &DatabaseConnection, parent_id: i32, by: &str) -> AppResult<Vec<i32>> {
    super::scans::end_where(
        db,
        None,
        ScanStatus::Queued,
        ScanStatus::Cancelled,
        Some(format!("cancelled by {by}")),
        None,
        Condition::all().add(scan::Column::ParentId.eq(parent_id)),
    )
    .await?;
    let running = scan::Entity::update_many()
        .col_expr(scan::Column::CancelRequestedBy, Expr::value(by.to_owned()))
        .filter(scan::Column::ParentId.eq(parent_id))
        .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
        .exec_with_returning(db)
        .await?;
    Ok(running.into_iter().map(|r| r.id).collect())
}

/// Parents running their chunks whose chunks have all ended (the merge did not happen: the
/// process storing the last chunk stopped, or the reaper ended a lost chunk).
pub async fn ready(db: &DatabaseConnection) -> AppResult<Vec<i32>> {
    let unfinished = format!(
        "NOT EXISTS (SELECT 1 FROM scans AS c WHERE c.parent_id = scans.id AND c.status IN ('{}', '{}'))",
        ScanStatus::Queued.as_str(),
        ScanStatus::Running.as_str()
    );
    Ok(scan::Entity::find()
        .select_only()
        .column(scan::Column::Id)
        .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
        .filter(scan::Column::Phase.eq(ScanPhase::Chunks.as_str()))
        .filter(Expr::cust(unfinished))
        .into_tuple()
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_scan_gets_larger_chunks_not_more_than_the_most() {
        let cidrs: String = (0..16)
            .map(|n| format!("      - cidr: 127.{n}.0.0/16\n"))
            .collect();
        let config = scan_config::parse(&format!(
            "title: t\nsites:\n  - name: a\n    cidrs:\n{cidrs}"
        ))
        .expect("valid");
        assert!(plan(&config, 0).is_none());
        let chunks = plan(&config, 16).expect("valid");
        assert_eq!(chunks.len(), 256, "1,048,576 addresses at most 256 chunks");
        assert!(plan(&config, 1 << 20).is_none());
        assert_eq!(plan(&config, 1 << 18).expect("valid").len(), 4);
    }
}
