//! Table `scan_findings`: What needs attention in a scan's results, stored once when the scan
//! completes (codes and severities as in the API's `FindingCode` and `Severity`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_findings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub scan_id: i32,
    pub code: String,
    pub severity: String,
    pub site: String,
    pub address: String,
    pub port: Option<i32>,
    pub protocol: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub message: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
