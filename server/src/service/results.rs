//! Stores a scan and its whole result tree (sites → IPs → ports → services → certificates and
//! TLS versions) in one write transaction, level by level with multi-row inserts (see
//! [`TreeWriter`]), so a scan of thousands of hosts costs a handful of statements per level.

mod writer;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, Set};

use entity::scan;

use crate::db;
use crate::domain::status::{ScanPhase, ScanStatus};
pub use crate::domain::tree::{
    Counters, NewCertificate, NewIp, NewPort, NewScan, NewService, NewSite, NewTlsVersion,
};
use crate::error::AppResult;

pub use writer::TreeWriter;

/// Sets the counter columns of a scan row.
pub(crate) fn apply(counters: Counters, row: &mut scan::ActiveModel) {
    row.hosts_total = Set(counters.hosts_total);
    row.hosts_up = Set(counters.hosts_up);
    row.open_ports = Set(counters.open_ports);
    row.services_count = Set(counters.services);
    row.certificates_count = Set(counters.certificates);
    row.unexpected_ports = Set(counters.unexpected_ports);
    row.missing_ports = Set(counters.missing_ports);
}

/// Inserts the scan and its tree; returns the scan row. All or nothing.
pub async fn store(db: &DatabaseConnection, new: NewScan) -> AppResult<scan::Model> {
    PendingScan::begin(db, &new).await?.commit(None).await
}

/// A scan being stored in one write transaction, its tree written in batches (imports stream
/// hosts into it as they are parsed). Dropped without [`PendingScan::commit`], nothing is kept.
pub struct PendingScan {
    txn: DatabaseTransaction,
    row: scan::Model,
    writer: TreeWriter,
}

/// The scan row of a new scan, with zero counters.
fn new_row(new: &NewScan, status: ScanStatus, phase: ScanPhase) -> scan::ActiveModel {
    let mut row = scan::ActiveModel {
        title: Set(new.title.clone()),
        status: Set(status.as_str().to_owned()),
        phase: Set(phase.as_str().to_owned()),
        percent: Set(if status == ScanStatus::Completed {
            100.0
        } else {
            0.0
        }),
        message: Set(None),
        config_id: Set(new.config_id),
        triggered_by: Set(new.triggered_by.clone()),
        triggered_by_user_id: Set(new.triggered_by_user_id),
        created_at: Set(new.created_at),
        started_at: Set(new.started_at),
        completed_at: Set(new.completed_at),
        error_message: Set(None),
        command_lines: Set(command_lines_json(&new.command_lines)),
        config_yaml: Set(new.config_yaml.clone()),
        ..Default::default()
    };
    apply(Counters::default(), &mut row);
    row
}

impl PendingScan {
    /// Inserts the scan row and `new.sites`.
    pub async fn begin(db: &DatabaseConnection, new: &NewScan) -> AppResult<Self> {
        let txn = db::begin_write(db).await?;
        let phase = if new.status.is_terminal() {
            ScanPhase::Done
        } else {
            ScanPhase::Queued
        };
        let row = new_row(new, new.status, phase).insert(&txn).await?;
        let mut pending = Self {
            writer: TreeWriter::new(row.id),
            txn,
            row,
        };
        for site in &new.sites {
            pending.write(&site.name, &site.ips).await?;
        }
        Ok(pending)
    }

    /// Writes IPs (and everything under them) into the named site.
    pub async fn write(&mut self, site: &str, ips: &[NewIp]) -> AppResult<()> {
        self.writer.write(&self.txn, site, ips).await
    }

    /// Sets the counters (and the completion time, if given now) and commits.
    pub async fn commit(self, completed_at: Option<DateTime<Utc>>) -> AppResult<scan::Model> {
        let mut active: scan::ActiveModel = self.row.into();
        if let Some(at) = completed_at {
            active.completed_at = Set(Some(at));
        }
        apply(self.writer.counters(), &mut active);
        let row = active.update(&self.txn).await?;
        self.txn.commit().await?;
        Ok(row)
    }
}

/// A scan stored in batches, each in its own short write transaction, so that a long import
/// never holds the database's write lock for more than one batch: other writers (sessions,
/// scans, other imports) get their turn in between. All or nothing all the same: the scan is
/// RUNNING in phase [`ScanPhase::Importing`] until [`StagedScan::finish`] hands it to the completion
/// pipeline; [`StagedScan::discard`] (a malformed file) deletes every row written, and a
/// process that dies mid-import leaves a staged scan that the next start deletes.
pub struct StagedScan {
    db: DatabaseConnection,
    row: scan::Model,
    writer: TreeWriter,
}

impl StagedScan {
    /// Inserts the scan row (RUNNING, phase [`ScanPhase::Importing`], leased for
    /// [`IMPORT_LEASE`]) and commits it.
    pub async fn begin(db: &DatabaseConnection, new: &NewScan) -> AppResult<Self> {
        let mut row = new_row(new, ScanStatus::Running, ScanPhase::Importing);
        row.lease_until = Set(Some(Utc::now() + IMPORT_LEASE));
        let row = row.insert(db).await?;
        Ok(Self {
            db: db.clone(),
            writer: TreeWriter::new(row.id),
            row,
        })
    }

    pub fn scan_id(&self) -> i32 {
        self.row.id
    }

    /// Writes one batch of IPs into the named site, in its own transaction (which also
    /// renews the import's lease).
    pub async fn write(&mut self, site: &str, ips: &[NewIp]) -> AppResult<()> {
        use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
        let txn = db::begin_write(&self.db).await?;
        self.writer.write(&txn, site, ips).await?;
        scan::Entity::update_many()
            .col_expr(
                scan::Column::LeaseUntil,
                Expr::value(Utc::now() + IMPORT_LEASE),
            )
            .filter(scan::Column::Id.eq(self.row.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Sets the counters, what the document's scans probed and the completion time; the scan
    /// stays RUNNING (phase `finishing`) for the completion pipeline.
    pub async fn finish(
        self,
        completed_at: DateTime<Utc>,
        coverage: &crate::domain::changes::Coverage,
    ) -> AppResult<scan::Model> {
        let mut active: scan::ActiveModel = self.row.into();
        active.completed_at = Set(Some(completed_at));
        active.coverage = Set(coverage_json(coverage));
        active.phase = Set(ScanPhase::Finishing.as_str().to_owned());
        apply(self.writer.counters(), &mut active);
        Ok(active.update(&self.db).await?)
    }

    /// Deletes the scan and every row written under it.
    pub async fn discard(self) -> AppResult<()> {
        scan::Entity::delete_by_id(self.row.id)
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// How long an import's lease lasts: every batch renews it, so only an import whose process
/// died (or whose upload stalled this long) lapses.
pub const IMPORT_LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Deletes staged scans a dead process left behind (imports cut short: their lease lapsed);
/// returns how many. Another process' import in progress is left alone.
pub async fn discard_abandoned_stages(db: &DatabaseConnection) -> AppResult<u64> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(scan::Entity::delete_many()
        .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
        .filter(scan::Column::Phase.eq(ScanPhase::Importing.as_str()))
        .filter(super::scans::lease_lapsed(Utc::now()))
        .exec(db)
        .await?
        .rows_affected)
}

/// A scan's coverage as stored; `None` when nothing was recorded.
pub fn coverage_json(coverage: &crate::domain::changes::Coverage) -> Option<String> {
    (*coverage != crate::domain::changes::Coverage::default())
        .then(|| serde_json::to_string(coverage).ok())
        .flatten()
}

/// List columns (SANs, ciphers) are stored as JSON text.
pub fn list_to_json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Reads a list column back (an unreadable value reads as empty).
pub fn list_from_json(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

pub fn command_lines_json(lines: &[Vec<String>]) -> String {
    serde_json::to_string(lines).unwrap_or_else(|_| "[]".into())
}

/// How a run ends: its status, what it found, and why it stopped (for failures).
#[derive(Debug)]
pub struct Outcome {
    pub status: ScanStatus,
    pub sites: Vec<NewSite>,
    pub message: Option<String>,
    pub error_message: Option<String>,
    /// The files the run left (raw XML, screenshots).
    pub artifacts: Vec<crate::domain::artifact::Artifact>,
    /// The ports it probed.
    pub coverage: crate::domain::changes::Coverage,
}

/// Ends a running scan: stores what it found (also when it failed or was cancelled, so nothing
/// already learned is lost), with the files the run left, and sets the final status, in one transaction — except COMPLETED,
/// which only the completion pipeline sets (the scan stays RUNNING in phase `finishing`).
/// Refuses (returns `None`) when the scan is no longer RUNNING under `lease` (deleted
/// meanwhile, or taken over after this run lost its lease): a run that lost its lease writes
/// nothing. A chunk (of a chunked scan) keeps its tree for the merge and ends with its own
/// status, COMPLETED included: its parent runs the completion pipeline (`service::chunks`).
pub async fn finish(
    db: &DatabaseConnection,
    scan_id: i32,
    lease: &str,
    outcome: Outcome,
) -> AppResult<Option<scan::Model>> {
    let counters = Counters::of(&outcome.sites);
    let txn = db::begin_write(db).await?;
    let Some(row) = scan::Entity::find_by_id(scan_id).one(&txn).await? else {
        return Ok(None);
    };
    if row.status != ScanStatus::Running.as_str() || row.lease.as_deref() != Some(lease) {
        return Ok(None);
    }
    let chunk = row.parent_id.is_some();
    if chunk {
        super::chunks::keep_result(&txn, scan_id, &outcome.sites).await?;
    } else {
        insert_tree(&txn, scan_id, &outcome.sites).await?;
    }
    super::artifacts::insert(&txn, scan_id, &outcome.artifacts).await?;
    let mut active: scan::ActiveModel = row.into();
    if chunk {
        active.status = Set(outcome.status.as_str().to_owned());
        active.phase = Set(ScanPhase::Done.as_str().to_owned());
    } else if outcome.status == ScanStatus::Completed {
        // COMPLETED is set by the completion pipeline, after findings and reports.
        active.phase = Set(ScanPhase::Finishing.as_str().to_owned());
    } else {
        active.status = Set(outcome.status.as_str().to_owned());
        active.phase = Set(ScanPhase::Done.as_str().to_owned());
    }
    active.message = Set(outcome.message);
    active.error_message = Set(outcome.error_message);
    active.coverage = Set(coverage_json(&outcome.coverage));
    active.completed_at = Set(Some(Utc::now()));
    apply(counters, &mut active);
    let row = active.update(&txn).await?;
    txn.commit().await?;
    Ok(Some(row))
}

/// Inserts sites → IPs → ports → services → certificates/TLS versions under a scan.
pub(crate) async fn insert_tree<C: sea_orm::ConnectionTrait>(
    txn: &C,
    scan_id: i32,
    sites: &[NewSite],
) -> AppResult<()> {
    let mut writer = TreeWriter::new(scan_id);
    for site in sites {
        writer.write(txn, &site.name, &site.ips).await?;
    }
    Ok(())
}
