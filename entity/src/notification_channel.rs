//! Table `notification_channels`: where alerts go — a webhook (Standard Webhooks v1 signed), a
//! Slack-compatible incoming webhook, or email. `url` and `secret` are never returned by the API.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_channels")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    /// `WEBHOOK`, `SLACK` or `EMAIL`.
    pub kind: String,
    pub enabled: bool,
    #[sea_orm(column_type = "Text")]
    pub url: Option<String>,
    /// A webhook's `whsec_…` signing secret.
    #[sea_orm(column_type = "Text")]
    pub secret: Option<String>,
    /// Comma-separated addresses (EMAIL).
    #[sea_orm(column_type = "Text")]
    pub email_to: Option<String>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
