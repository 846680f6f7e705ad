//! Scans: start (validated, scope-checked, queued), cancel, listing, detail, deletion.
//! Running scans is the job runner's; storing a result tree is [`super::results`].

use std::path::Path;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use entity::scan;

use crate::db;
use crate::domain::auth::{Actor, Role};
use crate::domain::config::{self as scan_config, Target};
use crate::domain::ports::PortList;
use crate::domain::status::{ScanPhase, ScanStatus};
use crate::domain::targets::parse_targets;
use crate::domain::tree::Counters;
use crate::error::{AppError, AppResult};
use crate::service::pagination::{Page, PageRequest};
use crate::service::{audit, chunks, configs, results, settings};

/// What to scan: a saved config, or ad-hoc targets with optional ports.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    pub config_id: Option<i32>,
    pub targets: Option<Vec<String>>,
    pub ports: Option<String>,
    pub title: Option<String>,
    /// Scanned by this process whatever agent pool the config names (`sneakyscan scan`).
    pub run_here: bool,
}

/// Validates the request, checks the scope and stores the scan QUEUED (OPERATOR); the caller
/// hands it to the job runner. A scan over more addresses than the `chunkAddresses` setting
/// is stored RUNNING in phase `chunks` with its QUEUED chunks (`service::chunks`), unless it
/// runs here (`run_here`). Nothing is created when anything is wrong.
pub async fn start(
    db: &DatabaseConnection,
    actor: &Actor,
    req: StartRequest,
) -> AppResult<Started> {
    let prepared = prepare(db, actor, req).await?;
    let txn = db::begin_write(db).await?;
    let started = insert(&txn, actor, prepared, None).await?;
    txn.commit().await?;
    Ok(started)
}

/// A validated, scope-checked scan about to be stored ([`prepare`] → [`insert`]).
#[derive(Debug)]
pub struct Prepared {
    title: String,
    config_id: Option<i32>,
    yaml: String,
    chunks: Option<Vec<scan_config::ScanConfig>>,
    status: ScanStatus,
    phase: ScanPhase,
    started_at: Option<chrono::DateTime<Utc>>,
    message: Option<String>,
    pool: Option<String>,
}

/// The reads and checks of [`start`], before anything is written (OPERATOR).
pub async fn prepare(
    db: &DatabaseConnection,
    actor: &Actor,
    req: StartRequest,
) -> AppResult<Prepared> {
    actor.require(Role::Operator)?;
    let title = clean_title(req.title.as_deref())?;
    let (config_id, yaml) = match (req.config_id, req.targets) {
        (Some(id), None) => {
            if req.ports.is_some() {
                return Err(AppError::validation(
                    "ports go with ad-hoc targets; a config sets its own ports",
                ));
            }
            (Some(id), configs::get(db, actor, id).await?.yaml)
        }
        (None, Some(targets)) => (
            None,
            adhoc_yaml(&targets, req.ports.as_deref(), title.as_deref())?,
        ),
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "give either configId or targets, not both",
            ));
        }
        (None, None) => return Err(AppError::validation("give a configId or targets")),
    };
    let config = scan_config::parse(&yaml)?;
    let targets: Vec<&Target> = config
        .sites
        .iter()
        .flat_map(|s| &s.targets)
        .map(|t| &t.target)
        .collect();
    let runtime = settings::load(db).await?;
    runtime.scope.check(targets)?;
    let pool = config.agent_pool().filter(|_| !req.run_here);
    let chunks = if req.run_here {
        None
    } else {
        chunks::plan(&config, runtime.chunk_addresses)
    };
    let (status, phase, started_at, message) = match &chunks {
        Some(c) => (
            ScanStatus::Running,
            ScanPhase::Chunks,
            Some(Utc::now()),
            Some(chunks::progress_message(0, c.len(), 0)),
        ),
        None => (
            ScanStatus::Queued,
            ScanPhase::Queued,
            None,
            pool.map(|p| format!("waiting for an agent of pool {p:?}")),
        ),
    };

    Ok(Prepared {
        title: title.unwrap_or_else(|| config.title.clone()),
        config_id,
        yaml,
        pool: pool.map(str::to_owned),
        chunks,
        status,
        phase,
        started_at,
        message,
    })
}

/// Stores a [`prepare`]d scan QUEUED (with its chunks) in the caller's write transaction,
/// started by `schedule` when given; audited.
pub async fn insert(
    txn: &sea_orm::DatabaseTransaction,
    actor: &Actor,
    p: Prepared,
    schedule: Option<i32>,
) -> AppResult<Started> {
    let mut row = scan::ActiveModel {
        title: Set(p.title),
        status: Set(p.status.as_str().to_owned()),
        phase: Set(p.phase.as_str().to_owned()),
        started_at: Set(p.started_at),
        chunk_count: Set(p
            .chunks
            .as_ref()
            .map(|c| i32::try_from(c.len()).unwrap_or(i32::MAX))),
        percent: Set(0.0),
        config_id: Set(p.config_id),
        triggered_by: Set(actor.username.clone()),
        triggered_by_user_id: Set(actor.user_id),
        created_at: Set(Utc::now()),
        command_lines: Set("[]".to_owned()),
        config_yaml: Set(Some(p.yaml)),
        pool: Set(p.pool),
        message: Set(p.message),
        schedule_id: Set(schedule),
        ..Default::default()
    };
    results::apply(Counters::default(), &mut row);
    let row = row.insert(txn).await?;
    let chunks = match &p.chunks {
        Some(configs) => chunks::insert(txn, &row, configs).await?,
        None => Vec::new(),
    };
    audit::record(
        txn,
        actor,
        "scan.start",
        Some(format!("scan:{}", row.id)),
        Some(serde_json::json!({
            "title": row.title,
            "config_id": p.config_id,
            "chunks": row.chunk_count,
            "schedule_id": schedule,
        })),
    )
    .await?;
    Ok(Started { scan: row, chunks })
}

/// A scan just stored by [`start`], and its chunks when it runs in chunks (their jobs are
/// the ones to push).
#[derive(Debug)]
pub struct Started {
    pub scan: scan::Model,
    pub chunks: Vec<scan::Model>,
}

/// The config of an ad-hoc scan, written as a document of the config format so it is
/// validated, stored and shown like any other. Targets are typed first: nothing else gets in.
fn adhoc_yaml(targets: &[String], ports: Option<&str>, title: Option<&str>) -> AppResult<String> {
    let targets = parse_targets(targets)?;
    let ports = ports
        .map(|p| PortList::parse(p).map_err(|e| AppError::validation(format!("ports: {e}"))))
        .transpose()?;
    let shown: Vec<String> = targets.iter().take(3).map(ToString::to_string).collect();
    let default_title = format!(
        "Ad-hoc scan of {}{}",
        shown.join(", "),
        if targets.len() > 3 { ", …" } else { "" }
    );
    let (ips, cidrs): (Vec<_>, Vec<_>) = targets.iter().partition(|t| matches!(t, Target::Ip(_)));
    let mut doc = serde_json::json!({
        "title": title.unwrap_or(&default_title),
        "sites": [{
            "name": "Ad-hoc",
            "ips": ips.iter().map(|t| serde_json::json!({ "address": t.to_string() })).collect::<Vec<_>>(),
            "cidrs": cidrs.iter().map(|t| serde_json::json!({ "cidr": t.to_string() })).collect::<Vec<_>>(),
        }],
    });
    if let Some(ports) = ports {
        doc["scan"] = serde_json::json!({ "tcp_ports": ports.to_string() });
    }
    // JSON is YAML: the generated document goes through the same parser as a saved config.
    serde_json::to_string_pretty(&doc).map_err(AppError::internal)
}

/// Ends the scan `id` (or every scan, when `None`) that is still `from`: final status, phase
/// "done", completion time, message and error. Conditional, so a scan that moved on meanwhile
/// is left alone; returns how many scans changed.
pub async fn end_if(
    db: &DatabaseConnection,
    id: Option<i32>,
    from: ScanStatus,
    to: ScanStatus,
    message: Option<String>,
    error_message: Option<String>,
) -> AppResult<u64> {
    end_where(db, id, from, to, message, error_message, Condition::all()).await
}

/// Scans whose lease lapsed before `before`, or that never had one.
pub fn lease_lapsed(before: chrono::DateTime<Utc>) -> Condition {
    Condition::any()
        .add(scan::Column::LeaseUntil.is_null())
        .add(scan::Column::LeaseUntil.lt(before))
}

/// [`end_if`] with one more condition on the row (e.g. its lease).
pub async fn end_where(
    db: &DatabaseConnection,
    id: Option<i32>,
    from: ScanStatus,
    to: ScanStatus,
    message: Option<String>,
    error_message: Option<String>,
    and: Condition,
) -> AppResult<u64> {
    let mut update = scan::Entity::update_many()
        .col_expr(scan::Column::Status, Expr::value(to.as_str()))
        .col_expr(scan::Column::Phase, Expr::value(ScanPhase::Done.as_str()))
        .col_expr(scan::Column::CompletedAt, Expr::value(Utc::now()))
        .filter(scan::Column::Status.eq(from.as_str()))
        .filter(and);
    if let Some(id) = id {
        update = update.filter(scan::Column::Id.eq(id));
    }
    if message.is_some() {
        update = update.col_expr(scan::Column::Message, Expr::value(message));
    }
    if error_message.is_some() {
        update = update.col_expr(scan::Column::ErrorMessage, Expr::value(error_message));
    }
    Ok(update.exec(db).await?.rows_affected)
}

pub fn clean_title(title: Option<&str>) -> AppResult<Option<String>> {
    match title.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > 200 => {
            Err(AppError::validation("title is longer than 200 characters"))
        }
        Some(t) => Ok(Some(t.to_owned())),
    }
}

pub async fn get(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<scan::Model> {
    actor.require(Role::Viewer)?;
    scan::Entity::find_by_id(id)
        // A chunk is part of its scan, never a scan of its own.
        .filter(scan::Column::ParentId.is_null())
        .one(db)
        .await?
        .ok_or(AppError::NotFound("scan"))
}

/// Whether every scan `(id, created_at)` still exists as that same row, COMPLETED (one
/// statement): a kept answer about them is still true (`graphql::answers`).
pub async fn still_completed(
    db: &DatabaseConnection,
    actor: &Actor,
    stamps: &[(i32, chrono::DateTime<Utc>)],
) -> AppResult<bool> {
    actor.require(Role::Viewer)?;
    let rows: Vec<(i32, chrono::DateTime<Utc>)> = scan::Entity::find()
        .select_only()
        .column(scan::Column::Id)
        .column(scan::Column::CreatedAt)
        .filter(scan::Column::Id.is_in(stamps.iter().map(|(id, _)| *id)))
        .filter(scan::Column::Status.eq(ScanStatus::Completed.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(stamps.iter().all(|stamp| rows.contains(stamp)))
}

/// Scans, newest first, optionally only those in the given statuses.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
    statuses: &[ScanStatus],
    text: Option<&str>,
) -> AppResult<Page<scan::Model>> {
    actor.require(Role::Viewer)?;
    let mut filter =
        Condition::all()
            .add(scan::Column::ParentId.is_null())
            .add(super::history::filter::scans(
                text,
                db.get_database_backend(),
                Utc::now(),
            )?);
    if !statuses.is_empty() {
        // Each status once, however often it was asked for: a filter repeating one value
        // 32,766 times must not become 32,766 bound parameters.
        let distinct = ScanStatus::ALL.into_iter().filter(|s| statuses.contains(s));
        filter = filter.add(scan::Column::Status.is_in(distinct.map(ScanStatus::as_str)));
    }
    let total_count = scan::Entity::find()
        .filter(filter.clone())
        .count(db)
        .await?;
    if let Some(after) = page.after_id {
        filter = filter.add(scan::Column::Id.lt(after));
    }
    let rows = scan::Entity::find()
        .filter(filter)
        .order_by_desc(scan::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}

/// Deletes a finished scan with all its rows (cascade) and its files under the data dir.
/// A queued or running scan must be cancelled first (`CONFLICT`).
pub async fn delete(
    db: &DatabaseConnection,
    actor: &Actor,
    data_dir: &Path,
    id: i32,
) -> AppResult<()> {
    actor.require(Role::Operator)?;
    let existing = get(db, actor, id).await?;
    if ScanStatus::parse(&existing.status).is_some_and(|s| !s.is_terminal()) {
        return Err(AppError::Conflict(format!(
            "scan {id} is {}; cancel it before deleting",
            existing.status
        )));
    }
    remove(db, data_dir, id).await?;
    audit::record(
        db,
        actor,
        "scan.delete",
        Some(format!("scan:{id}")),
        Some(serde_json::json!({ "title": existing.title })),
    )
    .await?;
    Ok(())
}

/// Removes a finished scan's rows (cascade; its history stays: events and intervals only lose
/// their link to it) and its files. The caller checked it may (a user's delete, retention).
pub async fn remove(db: &DatabaseConnection, data_dir: &Path, id: i32) -> AppResult<()> {
    // Its chunks first (no foreign key: see the chunks migration).
    scan::Entity::delete_many()
        .filter(scan::Column::ParentId.eq(id))
        .exec(db)
        .await?;
    scan::Entity::delete_by_id(id).exec(db).await?;
    // Files are named by scan id only, never by user input.
    for dir in ["reports", "scans", "screenshots"] {
        let path = data_dir.join(dir).join(id.to_string());
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(AppError::internal(
                    anyhow::Error::new(e).context(format!("while removing {}", path.display())),
                ));
            }
        }
    }
    Ok(())
}

/// The addresses of a scan in the order they were stored, paginated (for large scans). The
/// total is the scan row's own counter (written with the rows), so a page never counts the
/// whole scan.
pub async fn hosts(
    db: &DatabaseConnection,
    actor: &Actor,
    scan: &scan::Model,
    page: PageRequest,
) -> AppResult<Page<entity::scan_ip::Model>> {
    use entity::scan_ip;
    actor.require(Role::Viewer)?;
    let total_count = u64::try_from(scan.hosts_total).unwrap_or_default();
    let mut q = scan_ip::Entity::find()
        .filter(scan_ip::Column::ScanId.eq(scan.id))
        .order_by_asc(scan_ip::Column::Id);
    if let Some(after) = page.after_id {
        q = q.filter(scan_ip::Column::Id.gt(after));
    }
    let rows = q.limit(page.first + 1).all(db).await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}
