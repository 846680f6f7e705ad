//! Table `hosts`: the host inventory — one row per (site, address) ever observed, with its
//! last state and what an operator says of it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hosts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub site: String,
    pub address: String,
    pub hostname: Option<String>,
    /// `up`, `down` or `unknown`, as the last scan that observed it saw it.
    pub state: String,
    /// Open ports as last known (a port a later scan did not probe stays known open).
    pub open_ports: i32,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub last_up_at: Option<DateTimeUtc>,
    pub last_scan_id: Option<i32>,
    /// JSON array of strings.
    #[sea_orm(column_type = "Text")]
    pub tags: String,
    pub owner: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub notes: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
