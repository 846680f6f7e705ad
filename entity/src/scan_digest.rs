//! Table `scan_digests`: per completed scan, a fingerprint of what it saw of each host
//! (`[[site, address, digest], …]`, JSON), so a diff reads only the hosts that differ.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_digests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub scan_id: i32,
    #[sea_orm(column_type = "Text")]
    pub hosts: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
