//! Table `alert_rules`: change kinds × minimum severity × scope (filter language) × confirm after
//! N consecutive scans × cooldown; its channels are in `alert_rule_channels`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_rules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub enabled: bool,
    /// JSON list of change kinds.
    #[sea_orm(column_type = "Text")]
    pub events: String,
    pub min_severity: String,
    /// A filter (empty: everything).
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub confirm_after_scans: i32,
    pub cooldown_minutes: i32,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
