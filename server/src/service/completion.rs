//! The one way a scan becomes COMPLETED, for scans run here, imports and the one-off CLI scan:
//!
//! 1. results stored (the caller: the job's `results::finish`, the import's batches), the scan
//!    still RUNNING in phase `finishing` ([`ScanPhase::Finishing`]);
//! 2. the host history and change events recorded against each host's baseline
//!    (`service::history`), and in the same transaction the alert rules over them with the
//!    deliveries they raise (`service::alerts`: the outbox);
//! 3. findings computed once and stored (`scan_findings`);
//! 4. the JSON/HTML/ZIP reports written (with the changes since the baseline);
//! 5. status COMPLETED set last, in one conditional update — only then may a client see it,
//!    download its reports or delete it, so nothing races a writer that is still at work.
//!
//! A failure in 2–4 is logged and does not fail the scan (its findings are computed on the
//! next read, its reports on the first download).

use std::path::Path;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use entity::{scan, scan_finding};

use crate::db;
use crate::domain::status::{ScanPhase, ScanStatus};
use crate::error::AppResult;
use crate::service::history;
use crate::service::reports::{self, analysis::Finding};

/// Rows per INSERT (SQLite caps bound parameters per statement).
const FINDINGS_PER_INSERT: usize = 500;

/// Runs steps 2–5 for a RUNNING scan whose results are stored; returns the row as it ends
/// (COMPLETED), or `None` when the scan was deleted or ended elsewhere meanwhile.
pub async fn complete(
    db: &DatabaseConnection,
    data_dir: &Path,
    expiry_days: i64,
    scan_id: i32,
) -> AppResult<Option<scan::Model>> {
    // The history first: the reports include the changes since the baseline.
    match history::record(db, scan_id, expiry_days).await {
        Ok(r) => tracing::debug!(
            scan_id,
            events = r.events,
            new_hosts = r.new_hosts,
            "history recorded"
        ),
        Err(e) => tracing::error!(scan_id, error = ?e, "recording the history failed"),
    }
    let Some(row) = scan::Entity::find_by_id(scan_id).one(db).await? else {
        return Ok(None);
    };
    // One pass over the results writes the reports and gives the findings.
    match reports::write_reports(db, data_dir, expiry_days, &row).await {
        Ok(findings) => {
            if let Err(e) = store_findings(db, scan_id, &findings).await {
                tracing::error!(scan_id, error = ?e, "storing the findings failed");
            }
        }
        Err(e) => tracing::error!(scan_id, error = ?e, "writing the reports failed"),
    }
    let done = scan::Entity::update_many()
        .col_expr(
            scan::Column::Status,
            Expr::value(ScanStatus::Completed.as_str()),
        )
        .col_expr(scan::Column::Phase, Expr::value(ScanPhase::Done.as_str()))
        .col_expr(scan::Column::Percent, Expr::value(100.0))
        .filter(scan::Column::Id.eq(scan_id))
        .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
        .exec(db)
        .await?
        .rows_affected;
    if done == 0 {
        return Ok(None);
    }
    Ok(scan::Entity::find_by_id(scan_id).one(db).await?)
}

/// Stores a scan's findings (replacing any stored before) and marks them stored.
pub async fn store_findings(
    db: &DatabaseConnection,
    scan_id: i32,
    findings: &[Finding],
) -> AppResult<()> {
    let txn = db::begin_write(db).await?;
    scan_finding::Entity::delete_many()
        .filter(scan_finding::Column::ScanId.eq(scan_id))
        .exec(&txn)
        .await?;
    for chunk in findings.chunks(FINDINGS_PER_INSERT) {
        let rows = chunk.iter().map(|f| scan_finding::ActiveModel {
            scan_id: Set(scan_id),
            code: Set(f.code.as_str().to_owned()),
            severity: Set(f.severity.as_str().to_owned()),
            site: Set(f.site.clone()),
            address: Set(f.address.clone()),
            port: Set(f.port.map(i32::from)),
            protocol: Set(f.protocol.clone()),
            message: Set(f.message.clone()),
            ..Default::default()
        });
        scan_finding::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    scan::Entity::update_many()
        .col_expr(scan::Column::FindingsAt, Expr::value(Some(Utc::now())))
        .filter(scan::Column::Id.eq(scan_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
