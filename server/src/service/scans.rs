//! Scans: listing, detail, deletion. Running scans is the job runner's; storing a finished
//! result tree is [`super::results`].

use std::path::Path;

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use entity::scan;

use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::service::audit;
use crate::service::pagination::{Page, PageRequest};

/// Lifecycle of a scan (stored as its SCREAMING_SNAKE name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
}

impl ScanStatus {
    pub const ALL: [ScanStatus; 6] = [
        ScanStatus::Queued,
        ScanStatus::Running,
        ScanStatus::Completed,
        ScanStatus::Failed,
        ScanStatus::Cancelled,
        ScanStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Queued => "QUEUED",
            ScanStatus::Running => "RUNNING",
            ScanStatus::Completed => "COMPLETED",
            ScanStatus::Failed => "FAILED",
            ScanStatus::Cancelled => "CANCELLED",
            ScanStatus::Interrupted => "INTERRUPTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, ScanStatus::Queued | ScanStatus::Running)
    }
}

pub async fn get(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<scan::Model> {
    actor.require(Role::Viewer)?;
    scan::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("scan"))
}

/// Scans, newest first, optionally only those in the given statuses.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
    statuses: &[ScanStatus],
) -> AppResult<Page<scan::Model>> {
    actor.require(Role::Viewer)?;
    let mut filter = Condition::all();
    if !statuses.is_empty() {
        filter = filter.add(scan::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
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

/// The addresses of a scan in the order they were stored, paginated (for large scans).
pub async fn hosts(
    db: &DatabaseConnection,
    actor: &Actor,
    scan_id: i32,
    page: PageRequest,
) -> AppResult<Page<entity::scan_ip::Model>> {
    use entity::scan_ip;
    actor.require(Role::Viewer)?;
    let base = scan_ip::Entity::find().filter(scan_ip::Column::ScanId.eq(scan_id));
    let total_count = base.clone().count(db).await?;
    let mut q = base.order_by_asc(scan_ip::Column::Id);
    if let Some(after) = page.after_id {
        q = q.filter(scan_ip::Column::Id.gt(after));
    }
    let rows = q.limit(page.first + 1).all(db).await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}
