//! Table `audit_log`: Who did what, when: sign-ins, keys, configs, users, scans.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub at: DateTimeUtc,
    pub actor_user_id: Option<i32>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub detail: Option<String>,
    pub ip: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
