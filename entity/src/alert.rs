//! Table `alerts`: An alert raised by a rule for a scan.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub rule_id: Option<i32>,
    pub scan_id: i32,
    pub severity: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub acknowledged: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
