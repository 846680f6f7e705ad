//! Table `certificates`: the certificate inventory, one row per SHA-256 fingerprint ever
//! seen; where each is served are the `cert` facts of hosts (`host_facts`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub sha256_fingerprint: String,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub issuer: String,
    /// JSON array of strings.
    #[sea_orm(column_type = "Text")]
    pub sans: String,
    pub not_before: Option<DateTimeUtc>,
    pub not_after: Option<DateTimeUtc>,
    pub self_signed: bool,
    pub key_type: Option<String>,
    pub key_bits: Option<i32>,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
