//! Table `alerts`: what a rule raised for one subject (a port, a host, a config). At most one
//! per (rule, subject) is open (OPEN or ACKNOWLEDGED); later events attach to it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub rule_id: i32,
    /// `<site>/<address>`, `<site>/<address>/<protocol>/<port>` or `config:<id>`.
    pub subject: String,
    /// The change kind that opened it.
    pub kind: String,
    pub severity: String,
    /// `OPEN`, `ACKNOWLEDGED` or `RESOLVED`.
    pub status: String,
    pub site: Option<String>,
    pub address: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    pub host_id: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    pub event_count: i32,
    pub last_event_at: DateTimeUtc,
    /// Whether its opening was sent (a resolve notice follows only then).
    pub notified: bool,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub note: Option<String>,
    pub resolved_at: Option<DateTimeUtc>,
    /// `system` (the condition ended) or the user who resolved it.
    pub resolved_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
