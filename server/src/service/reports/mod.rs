//! Reports of a scan: JSON (versioned schema, `docs/report.schema.json`), a self-contained HTML
//! page, and a ZIP of both plus the screenshots. Written under `<data_dir>/reports/<scan id>/`
//! when a scan completes or is imported, re-generable on demand, and served by id only.

pub mod analysis;
pub mod html;
pub mod model;

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use sea_orm::DatabaseConnection;

use entity::{scan, scan_finding, scan_service};

use crate::domain::auth::{Actor, Role};
use crate::domain::status::ScanStatus;
use crate::error::{AppError, AppResult};
use crate::service::completion;
use crate::service::scans;

/// One of the three report files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
    Zip,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Json, Format::Html, Format::Zip];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Html => "html",
            Format::Zip => "zip",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == ext)
    }

    pub fn file_name(self) -> String {
        format!("report.{}", self.extension())
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
            Format::Zip => "application/zip",
        }
    }

    /// The download route of a scan's report.
    pub fn url(self, scan_id: i32) -> String {
        format!("/api/scans/{scan_id}/report.{}", self.extension())
    }
}

/// `<data_dir>/reports/<scan id>`.
pub fn dir(data_dir: &Path, scan_id: i32) -> PathBuf {
    data_dir.join("reports").join(scan_id.to_string())
}

/// A stored relative path (screenshots) resolved under the data dir; `None` for anything but
/// plain relative components, so nothing outside the data dir is ever read.
pub fn inside(data_dir: &Path, relative: &str) -> Option<PathBuf> {
    let rel = Path::new(relative);
    if relative.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(data_dir.join(rel))
}

/// The findings of a scan (VIEWER): those stored when it ended (one indexed read). A scan
/// that ended before findings were stored gets them computed now, and stored.
pub async fn findings(
    db: &DatabaseConnection,
    actor: &Actor,
    row: &scan::Model,
    expiry_days: i64,
) -> AppResult<Vec<scan_finding::Model>> {
    actor.require(Role::Viewer)?;
    if let Some(stored) = completion::stored_findings(db, row).await? {
        return Ok(stored);
    }
    let computed = model::load(db, row, expiry_days).await?.findings;
    let ended = ScanStatus::parse(&row.status).is_some_and(ScanStatus::is_terminal);
    if ended {
        completion::store_findings(db, row.id, &computed).await?;
    }
    Ok(computed
        .iter()
        .map(|f| completion::to_row(row.id, f))
        .collect())
}

/// Writes the three reports of a scan (replacing older ones); returns their directory.
pub async fn generate(
    db: &DatabaseConnection,
    data_dir: &Path,
    expiry_days: i64,
    row: &scan::Model,
) -> AppResult<PathBuf> {
    write(data_dir, model::load(db, row, expiry_days).await?).await
}

/// Writes the three files of a loaded report (off the async runtime).
pub async fn write(data_dir: &Path, report: model::Report) -> AppResult<PathBuf> {
    let data_dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || write_files(&data_dir, &report))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
}

/// Regenerates a scan's reports (OPERATOR).
pub async fn regenerate(
    db: &DatabaseConnection,
    actor: &Actor,
    data_dir: &Path,
    expiry_days: i64,
    scan_id: i32,
) -> AppResult<scan::Model> {
    actor.require(Role::Operator)?;
    let row = scans::get(db, actor, scan_id).await?;
    generate(db, data_dir, expiry_days, &row).await?;
    Ok(row)
}

/// The path of a report to download (VIEWER). Reports exist once a scan has ended: a queued
/// or running scan's download is `CONFLICT` (never a second writer racing the completion
/// pipeline); an ended scan without files (failed, cancelled, or from before) gets them now.
pub async fn file(
    db: &DatabaseConnection,
    actor: &Actor,
    data_dir: &Path,
    expiry_days: i64,
    scan_id: i32,
    format: Format,
) -> AppResult<PathBuf> {
    let row = scans::get(db, actor, scan_id).await?;
    if ScanStatus::parse(&row.status).is_none_or(|s| !s.is_terminal()) {
        return Err(AppError::Conflict(format!(
            "scan {scan_id} is {}; its reports are written when it ends",
            row.status
        )));
    }
    let path = dir(data_dir, scan_id).join(format.file_name());
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        generate(db, data_dir, expiry_days, &row).await?;
    }
    Ok(path)
}

/// The screenshot of one service of a scan (VIEWER).
pub async fn screenshot(
    db: &DatabaseConnection,
    actor: &Actor,
    data_dir: &Path,
    scan_id: i32,
    service_id: i32,
) -> AppResult<PathBuf> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    scans::get(db, actor, scan_id).await?;
    let service = scan_service::Entity::find_by_id(service_id)
        .filter(scan_service::Column::ScanId.eq(scan_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("screenshot"))?;
    service
        .screenshot_path
        .as_deref()
        .and_then(|p| inside(data_dir, p))
        .filter(|p| p.is_file())
        .ok_or(AppError::NotFound("screenshot"))
}

fn write_files(data_dir: &Path, report: &model::Report) -> anyhow::Result<PathBuf> {
    let out = dir(data_dir, report.scan.id);
    std::fs::create_dir_all(&out)?;
    let read = |rel: &str| inside(data_dir, rel).and_then(|p| std::fs::read(p).ok());
    let json = serde_json::to_vec_pretty(report)?;
    let page = html::render(report, read);

    let mut zip_bytes = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut zip_bytes));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(Format::Json.file_name(), options)?;
        zip.write_all(&json)?;
        zip.start_file(Format::Html.file_name(), options)?;
        zip.write_all(page.as_bytes())?;
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for service in report
            .sites
            .iter()
            .flat_map(|s| &s.ips)
            .flat_map(|ip| &ip.ports)
            .filter_map(|p| p.service.as_ref())
        {
            let (Some(name), Some(bytes)) = (
                service.screenshot.as_deref(),
                service.screenshot_path.as_deref().and_then(read),
            ) else {
                continue;
            };
            zip.start_file(name, stored)?;
            zip.write_all(&bytes)?;
        }
        zip.finish()?;
    }
    // Each file appears whole or not at all.
    for (format, bytes) in [
        (Format::Json, json.as_slice()),
        (Format::Html, page.as_bytes()),
        (Format::Zip, zip_bytes.as_slice()),
    ] {
        let path = out.join(format.file_name());
        let tmp = out.join(format!(".{}.tmp", format.file_name()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_resolve() {
        let data = Path::new("/data");
        assert_eq!(
            inside(data, "screenshots/1/a.png"),
            Some(PathBuf::from("/data/screenshots/1/a.png"))
        );
        for bad in [
            "",
            "../etc/passwd",
            "/etc/passwd",
            "screenshots/../../x",
            "./a",
        ] {
            assert_eq!(inside(data, bad), None, "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(Format::from_extension("zip"), Some(Format::Zip));
        assert_eq!(Format::from_extension("exe"), None);
        assert_eq!(Format::Html.url(7), "/api/scans/7/report.html");
    }
}
