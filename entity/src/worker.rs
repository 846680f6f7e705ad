//! Table `scan_workers` (not `workers`: apalis has a `Workers` table, and SQLite names ignore
//! case): a process that runs scans (`serve` or `sneakyscan worker`), as it registered at start; `last_seen` moves every heartbeat, `stopped_at` is set by a graceful
//! stop (a process that died just stops being seen).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_workers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub host: String,
    pub pid: i32,
    pub version: String,
    pub started_at: DateTimeUtc,
    pub last_seen: DateTimeUtc,
    pub stopped_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
