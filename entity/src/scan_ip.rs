//! Table `scan_ips`: One address of a site: expected and actual ping state.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_ips")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub scan_id: i32,
    pub site_id: i32,
    pub address: String,
    pub hostname: Option<String>,
    pub status: String,
    pub ping_expected: Option<bool>,
    pub ping_actual: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
