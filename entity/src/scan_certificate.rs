//! Table `scan_certificates`: The TLS certificate a service presented.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_certificates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub scan_id: i32,
    pub service_id: i32,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub issuer: String,
    #[sea_orm(column_type = "Text")]
    pub sans: String,
    pub not_before: Option<DateTimeUtc>,
    pub not_after: Option<DateTimeUtc>,
    pub serial: Option<String>,
    pub sha256_fingerprint: Option<String>,
    pub key_type: Option<String>,
    pub key_bits: Option<i32>,
    pub signature_algorithm: Option<String>,
    pub self_signed: bool,
    #[sea_orm(column_type = "Text")]
    pub pem: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
