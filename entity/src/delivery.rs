//! Table `deliveries`: one message to one channel (the outbox). Written PENDING in the
//! transaction that raised it; a job sends it; SENT, or FAILED once retries ran out.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// None for a channel test.
    pub alert_id: Option<i32>,
    pub channel_id: i32,
    /// `alert.opened`, `alert.resolved` or `test`.
    pub kind: String,
    /// `PENDING`, `SENT` or `FAILED`.
    pub status: String,
    pub attempts: i32,
    /// The receiver's HTTP status (SMTP reply code for email) of the last attempt.
    pub status_code: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    /// The webhook body (JSON), as it was when the delivery was written.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub next_attempt_at: DateTimeUtc,
    /// No retry after this; none: the configured retry period after `created_at` (a retry by
    /// hand sets it a retry period ahead).
    pub give_up_at: Option<DateTimeUtc>,
    /// When a job was pushed for the next attempt (none: push one when due).
    pub queued_at: Option<DateTimeUtc>,
    /// An attempt is under way until then.
    pub locked_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
