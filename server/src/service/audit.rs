//! The audit log: who signed in, who created or revoked keys, who changed configs, users, scans.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::domain::auth::Actor;
use crate::error::AppResult;

/// Appends one audit entry. Runs inside the caller's transaction when given one.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    action: &str,
    target: Option<String>,
    detail: Option<serde_json::Value>,
) -> AppResult<()> {
    record_raw(
        db,
        actor.user_id,
        &actor.username,
        action,
        target,
        detail,
        None,
    )
    .await
}

/// Appends one audit entry for a caller that may not be authenticated (failed sign-ins).
pub async fn record_raw<C: ConnectionTrait>(
    db: &C,
    user_id: Option<i32>,
    actor: &str,
    action: &str,
    target: Option<String>,
    detail: Option<serde_json::Value>,
    ip: Option<String>,
) -> AppResult<()> {
    entity::audit_log::ActiveModel {
        at: Set(Utc::now()),
        actor_user_id: Set(user_id),
        actor: Set(actor.chars().take(200).collect()),
        action: Set(action.to_owned()),
        target: Set(target),
        detail: Set(detail.map(|d| d.to_string())),
        ip: Set(ip),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
