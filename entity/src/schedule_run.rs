//! Table `schedule_runs`: one row per (schedule, scheduled time) — what that firing did
//! (STARTED with its scan, SKIPPED_OVERLAP, MISSED) and why. Unique on (schedule, time).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedule_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub schedule_id: i32,
    pub scheduled_for: DateTimeUtc,
    pub fired_at: DateTimeUtc,
    pub outcome: String,
    pub scan_id: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
