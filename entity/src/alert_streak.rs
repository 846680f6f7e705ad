//! Table `alert_streaks`: a (rule, subject) matched in consecutive scans, not confirmed yet
//! (rules with `confirm_after_scans` > 1).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_streaks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub rule_id: i32,
    pub subject: String,
    /// Consecutive scans that matched.
    pub scans: i32,
    pub last_scan_id: Option<i32>,
    /// JSON list of the change events seen so far.
    #[sea_orm(column_type = "Text")]
    pub event_ids: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
