//! Scan configs: YAML validated on every write, stored with its parsed title.

use std::path::Path;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use entity::scan_config;

use crate::domain::auth::{Actor, Role};
use crate::domain::config as yaml;
use crate::error::{AppError, AppResult};
use crate::service::audit;
use crate::service::pagination::{Page, PageRequest};

pub async fn get(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<scan_config::Model> {
    actor.require(Role::Viewer)?;
    scan_config::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("scan config"))
}

pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
) -> AppResult<Page<scan_config::Model>> {
    actor.require(Role::Viewer)?;
    let total_count = scan_config::Entity::find().count(db).await?;
    let mut q = scan_config::Entity::find().order_by_desc(scan_config::Column::Id);
    if let Some(after) = page.after_id {
        q = q.filter(scan_config::Column::Id.lt(after));
    }
    let rows = q.limit(page.first + 1).all(db).await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}

pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    source: &str,
) -> AppResult<scan_config::Model> {
    actor.require(Role::Operator)?;
    let parsed = yaml::parse(source)?;
    let now = Utc::now();
    let model = scan_config::ActiveModel {
        title: Set(parsed.title.clone()),
        yaml: Set(source.to_owned()),
        created_by: Set(actor.user_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        actor,
        "config.create",
        Some(format!("config:{}", model.id)),
        Some(serde_json::json!({ "title": parsed.title })),
    )
    .await?;
    Ok(model)
}

pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    source: &str,
) -> AppResult<scan_config::Model> {
    actor.require(Role::Operator)?;
    let parsed = yaml::parse(source)?;
    let existing = get(db, actor, id).await?;
    let mut active: scan_config::ActiveModel = existing.into();
    active.title = Set(parsed.title.clone());
    active.yaml = Set(source.to_owned());
    active.updated_at = Set(Utc::now());
    let model = active.update(db).await?;
    audit::record(
        db,
        actor,
        "config.update",
        Some(format!("config:{id}")),
        Some(serde_json::json!({ "title": parsed.title })),
    )
    .await?;
    Ok(model)
}

/// Deletes a config. Scans made from it stay (their `config` becomes null).
pub async fn delete(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<()> {
    actor.require(Role::Operator)?;
    let existing = get(db, actor, id).await?;
    let txn = crate::db::begin_write(db).await?;
    // Its schedules stay, disabled with the reason (their config link becomes null).
    let schedules = super::schedules::disable_for_config(&txn, id, &existing.title).await?;
    scan_config::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        "config.delete",
        Some(format!("config:{id}")),
        Some(serde_json::json!({ "title": existing.title, "schedules_disabled": schedules })),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Outcome of importing config files.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub skipped: Vec<String>,
}

/// Imports YAML files as configs; a file whose title already exists is skipped. The first
/// invalid file stops the import with its error (files before it stay imported).
pub async fn import_files(
    db: &DatabaseConnection,
    actor: &Actor,
    files: &[std::path::PathBuf],
) -> AppResult<ImportReport> {
    actor.require(Role::Operator)?;
    let mut report = ImportReport::default();
    for file in files {
        let source = std::fs::read_to_string(file)
            .map_err(|e| AppError::validation(format!("cannot read {}: {e}", file.display())))?;
        let parsed = yaml::parse(&source).map_err(|e| match e {
            AppError::Validation { message, pos } => {
                AppError::validation_at(format!("{}: {message}", file.display()), pos)
            }
            other => other,
        })?;
        let exists = scan_config::Entity::find()
            .filter(scan_config::Column::Title.eq(&parsed.title))
            .count(db)
            .await?
            > 0;
        if exists {
            report.skipped.push(parsed.title);
        } else {
            create(db, actor, &source).await?;
            report.created.push(parsed.title);
        }
    }
    Ok(report)
}

/// The `*.yaml`/`*.yml` files of a directory, sorted by name.
pub fn yaml_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}
