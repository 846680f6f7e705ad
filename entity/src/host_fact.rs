//! Table `host_facts`: one observation interval of one fact of a host — `fact` (`state`,
//! `hostname`, `port`, `service`, `script`, `http`, `cert`, `tls`, `drift`), `key` (`tcp/443`,
//! …) and `value` — from the scan that first saw it to the scan that ended it (`ended_at`
//! null: it still holds).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "host_facts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub host_id: i32,
    pub fact: String,
    pub key: String,
    #[sea_orm(column_type = "Text")]
    pub value: String,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub first_scan_id: Option<i32>,
    pub last_scan_id: Option<i32>,
    pub ended_at: Option<DateTimeUtc>,
    pub ended_scan_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
