//! Table `change_events`: the append-only log of typed changes (DESIGN §13 `ChangeEvent`),
//! written when a scan or an import completes. An event keeps its facts when its scan is
//! deleted (`scan_id` becomes null).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub kind: String,
    pub severity: String,
    pub at: DateTimeUtc,
    pub scan_id: Option<i32>,
    pub baseline_scan_id: Option<i32>,
    pub host_id: Option<i32>,
    pub site: Option<String>,
    pub address: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    /// JSON.
    #[sea_orm(column_type = "Text")]
    pub before: Option<String>,
    /// JSON.
    #[sea_orm(column_type = "Text")]
    pub after: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
