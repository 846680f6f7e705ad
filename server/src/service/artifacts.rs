//! The files a run left behind (raw nmap XML per phase, page screenshots), stored in the
//! database with its results so that every replica serves them: written in the transaction
//! that stores the results, read by scan and name (VIEWER).

use std::collections::HashMap;
use std::io::Read;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use entity::scan_artifact;

use crate::domain::artifact::{self, Artifact, Kind};
use crate::domain::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::service::scans;

/// A stored file, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub kind: Kind,
    /// Bytes as stored (compressed for XML).
    pub size: i64,
}

/// Stores a run's files under its scan (inside the results' transaction). Each was checked
/// by [`artifact::check_all`] (an agent's) or made here (a worker's); one that is not a file
/// of this scan is skipped.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    scan_id: i32,
    artifacts: &[Artifact],
) -> AppResult<()> {
    for a in artifacts {
        let Some(kind) = artifact::kind_of(scan_id, &a.name) else {
            tracing::warn!(scan_id, name = %a.name, "not a file of this scan; not stored");
            continue;
        };
        scan_artifact::ActiveModel {
            scan_id: Set(scan_id),
            name: Set(a.name.clone()),
            content_type: Set(kind.content_type().to_owned()),
            content_encoding: Set(kind.content_encoding().map(str::to_owned)),
            size: Set(i64::try_from(a.content.len()).unwrap_or(i64::MAX)),
            content: Set(a.content.clone()),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// The raw nmap XML files of a scan, in phase order, an import's last (VIEWER).
pub async fn xml_files(
    db: &DatabaseConnection,
    actor: &Actor,
    scan_id: i32,
) -> AppResult<Vec<Listed>> {
    actor.require(Role::Viewer)?;
    xml_files_of(db, scan_id).await
}

/// [`xml_files`] without the role check (the report writer's).
pub async fn xml_files_of<C: ConnectionTrait>(conn: &C, scan_id: i32) -> AppResult<Vec<Listed>> {
    let rows: Vec<(String, i64)> = scan_artifact::Entity::find()
        .select_only()
        .column(scan_artifact::Column::Name)
        .column(scan_artifact::Column::Size)
        .filter(scan_artifact::Column::ScanId.eq(scan_id))
        .filter(scan_artifact::Column::Name.starts_with("nmap/"))
        .into_tuple()
        .all(conn)
        .await?;
    let mut listed: Vec<Listed> = rows
        .into_iter()
        .filter_map(|(name, size)| {
            let kind = artifact::kind_of(scan_id, &name)?;
            Some(Listed { name, kind, size })
        })
        .collect();
    // Phase order, then chunk order.
    let order = |l: &Listed| {
        artifact::xml_file(&l.name)
            .map(|(f, chunk)| (artifact::XML_FILES.iter().position(|g| *g == f), chunk))
    };
    listed.sort_by_key(order);
    Ok(listed)
}

/// The raw XML of one phase of a scan, decompressed (VIEWER); `NOT_FOUND` when that phase
/// left none (it did not run, or the scan is older than stored files).
pub async fn xml(
    db: &DatabaseConnection,
    actor: &Actor,
    scan_id: i32,
    phase: &str,
) -> AppResult<Vec<u8>> {
    scans::get(db, actor, scan_id).await?;
    let name = format!("nmap/{phase}.xml");
    let Some(Kind::NmapXml(_)) = artifact::kind_of(scan_id, &name) else {
        return Err(AppError::NotFound("nmap XML"));
    };
    let row = content(db, scan_id, &name)
        .await?
        .ok_or(AppError::NotFound("nmap XML"))?;
    gunzip(&row)
}

/// Decompresses a stored XML file.
pub fn gunzip(bytes: &[u8]) -> AppResult<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| AppError::internal(anyhow::Error::new(e).context("a stored XML file")))?;
    Ok(out)
}

/// The stored bytes of one file of a scan.
pub async fn content<C: ConnectionTrait>(
    conn: &C,
    scan_id: i32,
    name: &str,
) -> AppResult<Option<Vec<u8>>> {
    Ok(scan_artifact::Entity::find()
        .select_only()
        .column(scan_artifact::Column::Content)
        .filter(scan_artifact::Column::ScanId.eq(scan_id))
        .filter(scan_artifact::Column::Name.eq(name))
        .into_tuple::<Vec<u8>>()
        .one(conn)
        .await?)
}

/// The stored files of a scan among `names`, by name (a batch of screenshots for a report).
pub async fn by_names<C: ConnectionTrait>(
    conn: &C,
    scan_id: i32,
    names: &[String],
) -> AppResult<HashMap<String, Vec<u8>>> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, Vec<u8>)> = scan_artifact::Entity::find()
        .select_only()
        .column(scan_artifact::Column::Name)
        .column(scan_artifact::Column::Content)
        .filter(scan_artifact::Column::ScanId.eq(scan_id))
        .filter(scan_artifact::Column::Name.is_in(names.iter().cloned()))
        .order_by_asc(scan_artifact::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}
