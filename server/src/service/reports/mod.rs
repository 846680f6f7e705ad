//! Reports of a scan: JSON (versioned schema, `docs/report.schema.json`), a self-contained HTML
//! page, and a ZIP of both plus the screenshots and the raw nmap XML of each phase (read from
//! the database, where a run stores its files). Written under `<data_dir>/reports/<scan id>/`
//! when a scan completes or is imported, re-generable on demand, and served by id only.

pub mod analysis;
pub mod html;
pub mod model;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Component, Path, PathBuf};

use chrono::Utc;

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use entity::{scan, scan_finding, scan_service};

use crate::domain::auth::{Actor, Role};
use crate::domain::status::ScanStatus;
use crate::error::{AppError, AppResult};
use crate::service::pagination::{Page, PageRequest};
use crate::service::scans;
use crate::service::{artifacts, completion};
use analysis::Finding;

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

/// A page of a scan's findings in stored order (keyset by id). They are stored when a scan
/// ends; a scan from before stored findings gets them computed and stored at its first read
/// (the one pass that writes its reports gives them); a scan still running has none yet.
pub async fn findings(
    db: &DatabaseConnection,
    actor: &Actor,
    row: &scan::Model,
    data_dir: &Path,
    expiry_days: i64,
    page: PageRequest,
) -> AppResult<Page<scan_finding::Model>> {
    actor.require(Role::Viewer)?;
    if row.findings_at.is_none() {
        let ended = ScanStatus::parse(&row.status).is_some_and(ScanStatus::is_terminal);
        if !ended {
            return Ok(Page::from_rows(Vec::new(), page.first, 0));
        }
        let computed = write_reports(db, data_dir, expiry_days, row).await?;
        completion::store_findings(db, row.id, &computed).await?;
    }
    let of_scan = scan_finding::Entity::find().filter(scan_finding::Column::ScanId.eq(row.id));
    let total = of_scan.clone().count(db).await?;
    let mut q = of_scan.order_by_asc(scan_finding::Column::Id);
    if let Some(after) = page.after_id {
        q = q.filter(scan_finding::Column::Id.gt(after));
    }
    let rows = q.limit(page.first + 1).all(db).await?;
    Ok(Page::from_rows(rows, page.first, total))
}

/// Writes the three reports of a scan (replacing older ones); returns their directory.
pub async fn generate(
    db: &DatabaseConnection,
    data_dir: &Path,
    expiry_days: i64,
    row: &scan::Model,
) -> AppResult<PathBuf> {
    write_reports(db, data_dir, expiry_days, row).await?;
    Ok(dir(data_dir, row.id))
}

/// Addresses read (with everything under them) per batch while writing reports.
const REPORT_BATCH: u64 = 250;

/// Writes a scan's JSON, HTML and ZIP reports in one pass over its results, a batch of
/// addresses at a time (memory holds one batch and the findings, whatever the scan's size),
/// and returns its findings. Each file appears whole or not at all (written aside, renamed).
/// File writes are buffered and go straight to disk; the database reads are async.
pub async fn write_reports(
    db: &DatabaseConnection,
    data_dir: &Path,
    expiry_days: i64,
    row: &scan::Model,
) -> AppResult<Vec<Finding>> {
    let out = dir(data_dir, row.id);
    std::fs::create_dir_all(&out).map_err(AppError::internal)?;
    let aside = |name: &str| out.join(format!(".{name}.tmp"));
    let io =
        |e: std::io::Error| AppError::internal(anyhow::Error::new(e).context("writing a report"));
    let scan = model::scan_part(row);
    let generator = model::generator();
    let now = Utc::now();

    let mut json = BufWriter::new(File::create(aside("report.json")).map_err(io)?);
    let mut sites_html = BufWriter::new(File::create(aside("sites.html")).map_err(io)?);
    let (baseline, changes) = model::changes(db, row).await?;
    let head = serde_json::json!({
        "schema_version": model::SCHEMA_VERSION,
        "generator": generator,
        "generated_at": now,
        "scan": &scan,
        "baseline": &baseline,
    })
    .to_string();
    // The object without its closing brace, then the sites and findings as they come.
    json.write_all(&head.as_bytes()[..head.len() - 1])
        .map_err(io)?;
    json.write_all(b",\"sites\":[").map_err(io)?;

    // A screenshot by its stored name: from the batch read from the database, or (a scan
    // from before stored files) from this process' data dir.
    let from_disk = |rel: &str| inside(data_dir, rel).and_then(|p| std::fs::read(p).ok());
    let mut findings = Vec::new();
    // The ZIP gets each screenshot as its batch is read, the two reports and the raw XML at
    // the end.
    let mut zip = zip::ZipWriter::new(BufWriter::new(
        File::create(aside("report.zip")).map_err(io)?,
    ));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let stored_as_is =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    // Site by site, each site's addresses a batch at a time.
    for (n, site) in model::sites(db, row.id).await?.iter().enumerate() {
        if n > 0 {
            json.write_all(b",").map_err(io)?;
        }
        write_site_open(&mut json, &site.name).map_err(io)?;
        let mut batch = model::ip_batch(db, site.id, None, REPORT_BATCH).await?;
        html::write_site(&mut sites_html, &site.name, batch.is_empty()).map_err(io)?;
        let mut first = true;
        while let Some(&(last, _)) = batch.last() {
            let names: Vec<String> = batch
                .iter()
                .flat_map(|(_, ip)| &ip.ports)
                .filter_map(|p| p.service.as_ref()?.screenshot_path.clone())
                .collect();
            let stored = artifacts::by_names(db, row.id, &names).await?;
            let read = |rel: &str| stored.get(rel).cloned().or_else(|| from_disk(rel));
            for (_, ip) in &batch {
                if !first {
                    json.write_all(b",").map_err(io)?;
                }
                first = false;
                serde_json::to_writer(&mut json, ip).map_err(AppError::internal)?;
                html::write_ip(&mut sites_html, ip, &read).map_err(io)?;
                analysis::ip_findings(&site.name, ip, now, expiry_days, &mut findings);
                for service in ip.ports.iter().filter_map(|p| p.service.as_ref()) {
                    let (Some(zip_name), Some(path)) =
                        (&service.screenshot, &service.screenshot_path)
                    else {
                        continue;
                    };
                    let bytes = match stored.get(path) {
                        Some(bytes) => std::borrow::Cow::Borrowed(bytes.as_slice()),
                        None => match from_disk(path) {
                            Some(bytes) => std::borrow::Cow::Owned(bytes),
                            None => continue,
                        },
                    };
                    zip.start_file(zip_name.as_str(), stored_as_is)
                        .map_err(AppError::internal)?;
                    zip.write_all(&bytes).map_err(io)?;
                }
            }
            batch = model::ip_batch(db, site.id, Some(last), REPORT_BATCH).await?;
        }
        json.write_all(b"]}").map_err(io)?;
    }
    json.write_all(b"],\"findings\":").map_err(io)?;
    serde_json::to_writer(&mut json, &findings).map_err(AppError::internal)?;
    json.write_all(b",\"changes\":").map_err(io)?;
    serde_json::to_writer(&mut json, &changes).map_err(AppError::internal)?;
    json.write_all(b"}\n").map_err(io)?;
    json.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    sites_html
        .into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;

    // The page: head (with the findings), the sites written above, the tail.
    let mut page = BufWriter::new(File::create(aside("report.html")).map_err(io)?);
    html::write_head(&mut page, &scan, &findings).map_err(io)?;
    html::write_changes(&mut page, baseline.as_ref(), &changes).map_err(io)?;
    std::io::copy(&mut File::open(aside("sites.html")).map_err(io)?, &mut page).map_err(io)?;
    html::write_tail(&mut page, &scan, &generator, model::SCHEMA_VERSION, now).map_err(io)?;
    page.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    let _ = std::fs::remove_file(aside("sites.html"));

    // The ZIP: both files, streamed from disk.
    for format in [Format::Json, Format::Html] {
        zip.start_file(format.file_name(), deflated)
            .map_err(AppError::internal)?;
        std::io::copy(
            &mut File::open(aside(&format.file_name())).map_err(io)?,
            &mut zip,
        )
        .map_err(io)?;
    }
    // The raw nmap XML, one phase at a time.
    for file in artifacts::xml_files_of(db, row.id).await? {
        let Some(gz) = artifacts::content(db, row.id, &file.name).await? else {
            continue;
        };
        zip.start_file(file.name.as_str(), deflated)
            .map_err(AppError::internal)?;
        std::io::copy(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut zip).map_err(io)?;
    }
    zip.finish()
        .map_err(AppError::internal)?
        .into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    for format in Format::ALL {
        std::fs::rename(aside(&format.file_name()), out.join(format.file_name())).map_err(io)?;
    }
    Ok(findings)
}

/// `{"name":…,"ips":[` of a site in the JSON report.
fn write_site_open(json: &mut impl Write, name: &str) -> std::io::Result<()> {
    json.write_all(b"{\"name\":")?;
    serde_json::to_writer(&mut *json, name)?;
    json.write_all(b",\"ips\":[")
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

/// The screenshot of one service of a scan (VIEWER): stored with the results; a scan from
/// before stored files has it in this process' data dir, if anywhere.
pub async fn screenshot(
    db: &DatabaseConnection,
    actor: &Actor,
    data_dir: &Path,
    scan_id: i32,
    service_id: i32,
) -> AppResult<Vec<u8>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    scans::get(db, actor, scan_id).await?;
    let service = scan_service::Entity::find_by_id(service_id)
        .filter(scan_service::Column::ScanId.eq(scan_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("screenshot"))?;
    let Some(name) = service.screenshot_path else {
        return Err(AppError::NotFound("screenshot"));
    };
    if let Some(bytes) = artifacts::content(db, scan_id, &name).await? {
        return Ok(bytes);
    }
    match inside(data_dir, &name) {
        Some(path) => tokio::fs::read(path)
            .await
            .map_err(|_| AppError::NotFound("screenshot")),
        None => Err(AppError::NotFound("screenshot")),
    }
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
