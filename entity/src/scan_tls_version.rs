//! Table `scan_tls_versions`: A TLS version a service accepts, with its ciphers (JSON).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_tls_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub scan_id: i32,
    pub service_id: i32,
    pub version: String,
    #[sea_orm(column_type = "Text")]
    pub ciphers: String,
    pub grade: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
