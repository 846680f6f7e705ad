//! Table `schedules`: a recurring scan of a saved config — a cron expression in an IANA
//! timezone with its overlap and misfire policies. `next_run_at` is the next firing not handled
//! yet; a schedule whose config was deleted keeps its row, disabled with a reason.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub config_id: Option<i32>,
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    /// FORBID, ALLOW or REPLACE.
    pub overlap_policy: String,
    /// SKIP or RUN_ONCE.
    pub misfire_policy: String,
    /// A firing later than this is not caught up (RUN_ONCE).
    pub starting_deadline_seconds: i32,
    #[sea_orm(column_type = "Text")]
    pub disabled_reason: Option<String>,
    pub next_run_at: Option<DateTimeUtc>,
    pub last_run_at: Option<DateTimeUtc>,
    /// The outcome of the last firing (STARTED, SKIPPED_OVERLAP, MISSED).
    pub last_outcome: Option<String>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
