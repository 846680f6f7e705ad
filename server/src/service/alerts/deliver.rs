//! Deliveries: the outbox rows [`enqueue`] writes (in the transaction that raised them), the
//! due ones a dispatcher claims for the job engine ([`claim_due`]), and one attempt
//! ([`attempt`]): locked so that two runs never send one message at once, then SENT, or
//! PENDING again after a backoff (exponential, with jitter), or FAILED once the retry period
//! is over. Every change touches the alert, so `alertUpdates` tells about it.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use entity::{delivery, notification_channel as channel};

use super::{ChannelKind, send, status, touch};
use crate::config::{AlertSettings, Settings};
use crate::error::{AppError, AppResult};

/// A job pushed for a delivery that has not run by then is pushed again.
const REQUEUE_AFTER: Duration = Duration::minutes(5);
/// Due deliveries claimed per look.
const CLAIM_BATCH: u64 = 200;

/// A PENDING delivery, due now (to insert).
pub fn pending(
    alert_id: Option<i32>,
    channel_id: i32,
    kind: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> delivery::ActiveModel {
    delivery::ActiveModel {
        alert_id: Set(alert_id),
        channel_id: Set(channel_id),
        kind: Set(kind.to_owned()),
        status: Set(status::PENDING.into()),
        attempts: Set(0),
        status_code: Set(None),
        last_error: Set(None),
        payload: Set(payload.to_string()),
        next_attempt_at: Set(now),
        give_up_at: Set(None),
        queued_at: Set(None),
        locked_until: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Writes a PENDING delivery, due now.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    alert_id: Option<i32>,
    channel_id: i32,
    kind: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> AppResult<delivery::Model> {
    Ok(pending(alert_id, channel_id, kind, payload, now)
        .insert(db)
        .await?)
}

/// How long a delivery is retried.
pub fn retry_period(settings: &AlertSettings) -> Duration {
    Duration::hours(i64::try_from(settings.give_up_after_hours).unwrap_or(24))
}

/// The wait before retry `attempts` + 1: base × 2^(attempts − 1), at most the maximum, ±20 %
/// (`jitter` in [0, 1)).
pub fn backoff(settings: &AlertSettings, attempts: i32, jitter: f64) -> Duration {
    let base = settings.retry_base_ms.max(1) as f64;
    let exp = f64::from(attempts.clamp(1, 30) - 1);
    let wait = (base * 2f64.powf(exp)).min(settings.retry_max_secs.max(1) as f64 * 1000.0);
    let wait = wait * (0.8 + 0.4 * jitter.clamp(0.0, 1.0));
    Duration::milliseconds(wait as i64)
}

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

/// Claims due deliveries (PENDING, due, no job pushed recently) for the job engine: their ids,
/// each claimed by one process only.
pub async fn claim_due(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<Vec<i32>> {
    let stale = now - REQUEUE_AFTER;
    let due: Vec<(i32, Option<DateTime<Utc>>)> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .column(delivery::Column::QueuedAt)
        .filter(delivery::Column::Status.eq(status::PENDING))
        .filter(delivery::Column::NextAttemptAt.lte(now))
        .filter(
            sea_orm::Condition::any()
                .add(delivery::Column::QueuedAt.is_null())
                .add(delivery::Column::QueuedAt.lt(stale)),
        )
        .order_by_asc(delivery::Column::NextAttemptAt)
        .limit(CLAIM_BATCH)
        .into_tuple()
        .all(db)
        .await?;
    let mut claimed = Vec::new();
    for (id, queued_at) in due {
        let mut q = delivery::Entity::update_many()
            .col_expr(delivery::Column::QueuedAt, Expr::value(Some(now)))
            .filter(delivery::Column::Id.eq(id))
            .filter(delivery::Column::Status.eq(status::PENDING));
        q = match queued_at {
            None => q.filter(delivery::Column::QueuedAt.is_null()),
            Some(at) => q.filter(delivery::Column::QueuedAt.eq(at)),
        };
        if q.exec(db).await?.rows_affected == 1 {
            claimed.push(id);
        }
    }
    Ok(claimed)
}

/// One attempt at delivery `id` (does nothing unless it is PENDING, due and not locked).
pub async fn attempt(db: &DatabaseConnection, settings: &Settings, id: i32) -> AppResult<()> {
    let now = Utc::now();
    let timeout = std::time::Duration::from_secs(settings.alerts.timeout_secs.clamp(1, 300));
    let lock = now + Duration::from_std(timeout * 3).unwrap_or(Duration::minutes(5));
    let locked = delivery::Entity::update_many()
        .col_expr(delivery::Column::LockedUntil, Expr::value(Some(lock)))
        .col_expr(
            delivery::Column::Attempts,
            super::raise::plus(delivery::Column::Attempts, 1),
        )
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.eq(status::PENDING))
        .filter(delivery::Column::NextAttemptAt.lte(now))
        .filter(
            sea_orm::Condition::any()
                .add(delivery::Column::LockedUntil.is_null())
                .add(delivery::Column::LockedUntil.lt(now)),
        )
        .exec(db)
        .await?
        .rows_affected;
    if locked == 0 {
        return Ok(());
    }
    let row = delivery::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("delivery"))?;
    let outcome = match channel::Entity::find_by_id(row.channel_id).one(db).await? {
        Some(c) if !c.enabled => Err(send::Failure::permanent("the channel is disabled")),
        Some(c) => {
            let allowed = crate::service::settings::load(db).await?.notify_allowed;
            let target = send::Target {
                kind: ChannelKind::parse(&c.kind).unwrap_or(ChannelKind::Webhook),
                url: c.url.clone(),
                secret: c.secret.clone(),
                email_to: c.email_to.clone(),
                channel_name: c.name.clone(),
            };
            send::send(&target, &row, &allowed, &settings.alerts, timeout).await
        }
        None => Err(send::Failure::permanent("the channel was deleted")),
    };
    let now = Utc::now();
    let mut update: delivery::ActiveModel = row.clone().into();
    update.locked_until = Set(None);
    update.queued_at = Set(None);
    update.updated_at = Set(now);
    match outcome {
        Ok(code) => {
            update.status = Set(status::SENT.into());
            update.status_code = Set(code);
            update.last_error = Set(None);
            update.sent_at = Set(Some(now));
            tracing::info!(delivery = id, attempts = row.attempts, "delivery sent");
        }
        Err(failure) => {
            let give_up = row
                .give_up_at
                .unwrap_or(row.created_at + retry_period(&settings.alerts));
            let next = now + backoff(&settings.alerts, row.attempts, jitter());
            update.status_code = Set(failure.code);
            update.last_error = Set(Some(failure.message.chars().take(1000).collect()));
            if failure.permanent || next > give_up {
                update.status = Set(status::FAILED.into());
                tracing::warn!(delivery = id, attempts = row.attempts, error = %failure.message, "delivery failed for good");
            } else {
                update.next_attempt_at = Set(next);
                tracing::info!(delivery = id, attempts = row.attempts, error = %failure.message, retry_at = %next, "delivery failed; will retry");
            }
        }
    }
    let row = update.update(db).await?;
    if let Some(alert_id) = row.alert_id {
        touch(db, &[alert_id], now).await?;
    }
    Ok(())
}
