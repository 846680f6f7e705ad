//! Table `scans`: One scan run (or import): status, progress, counters and timing.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub title: String,
    pub status: String,
    pub phase: String,
    pub percent: f64,
    #[sea_orm(column_type = "Text")]
    pub message: Option<String>,
    pub config_id: Option<i32>,
    pub triggered_by: String,
    pub triggered_by_user_id: Option<i32>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub error_message: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub command_lines: String,
    pub hosts_total: i32,
    pub hosts_up: i32,
    pub open_ports: i32,
    pub services_count: i32,
    pub certificates_count: i32,
    pub unexpected_ports: i32,
    pub missing_ports: i32,
    /// The config the scan ran with (a snapshot; ad-hoc scans get a generated one).
    #[sea_orm(column_type = "Text")]
    pub config_yaml: Option<String>,
    /// When the findings were stored in `scan_findings` (by the completion pipeline); `None`:
    /// not stored yet (scans from before stored findings get them at their first read).
    pub findings_at: Option<DateTimeUtc>,
    /// The worker (process name) running the scan, or that ran it last.
    pub worker: Option<String>,
    /// Fencing token of the current run: every write of a run is conditional on it.
    pub lease: Option<String>,
    /// When the lease lapses unless its worker renews it.
    pub lease_until: Option<DateTimeUtc>,
    /// Runs started (a run taken over from a lost worker counts again).
    pub attempt: i32,
    /// A cancel request (by this username) for the process running the scan.
    pub cancel_requested_by: Option<String>,
    /// When the scan's job was pushed to the job queue; `None` while QUEUED: push again.
    pub job_pushed_at: Option<DateTimeUtc>,
    /// The agent pool this scan runs in (from its config's sites); none: the workers.
    pub pool: Option<String>,
    /// A chunk's scan (its parent); chunks are hidden from every list.
    pub parent_id: Option<i32>,
    /// A chunk's number (1-based, in target order).
    pub chunk: Option<i32>,
    /// How many chunks a parent scan runs as; `None`: not chunked.
    pub chunk_count: Option<i32>,
    /// The ports the scan probed per protocol (JSON `{"tcp": "1-1000", "udp": null}`, from
    /// nmap's `<scaninfo>`); `None`: not recorded.
    pub coverage: Option<String>,
    /// When the scan's change events and host history were recorded (once, on completion).
    pub history_at: Option<DateTimeUtc>,
    /// The latest earlier scan that observed any of this scan's hosts (its baseline).
    pub baseline_id: Option<i32>,
    /// The schedule that started the scan (none: started by hand, the CLI or an import).
    pub schedule_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
