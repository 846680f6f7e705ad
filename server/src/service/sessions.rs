//! Stored sessions as data: the keys a session holds, the actor of a session as of now (an
//! open websocket checks itself with it), ending every session of a user, and the password
//! change of a signed-in user (its guesses count toward the sign-in limiter).

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use entity::session;

use crate::auth::password;
use crate::auth::rate_limit::LoginLimiter;
use crate::domain::auth::{Actor, AuthMethod};
use crate::error::{AppError, AppResult};
use crate::service::{audit, users};

/// Session key holding the sign-in time (unix seconds), for the absolute session timeout.
pub const SESSION_AUTH_AT: &str = "auth_at";
/// Session key holding the signed-in user's id (stored in its own column by the session
/// store, so all of a user's sessions can be ended).
pub const SESSION_USER_ID: &str = "user_id";
/// Session key holding when the session was last extended (unix seconds): a session is
/// written at most once a minute, not at every request.
pub const SESSION_TOUCHED_AT: &str = "touched_at";
/// How often a session's idle expiry is pushed forward.
pub const SESSION_TOUCH_EVERY_SECS: i64 = 60;

/// Changes the actor's own password after checking the current one. Wrong guesses count
/// toward the sign-in limiter of the account and the IP, like failed sign-ins.
pub async fn change_password(
    db: &DatabaseConnection,
    limiter: &LoginLimiter,
    actor: &Actor,
    current: String,
    new: &str,
    ip: &str,
) -> AppResult<()> {
    let id = actor.user_id.ok_or(AppError::NotFound("user"))?;
    let user = users::get(db, id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    limiter.check(&user.username, ip).await?;
    if !password::verify(current, user.password_hash.clone()).await? {
        limiter.record_failure(&user.username, ip).await?;
        audit::record(db, actor, "password.failed", None, None).await?;
        return Err(AppError::InvalidCredentials(
            "current password is wrong".into(),
        ));
    }
    users::set_password(db, actor, &user.username, new).await
}

/// Ends every session of a user (disabled, password changed): the rows are deleted, so
/// enabling the account again later does not bring them back.
pub async fn end_all<C: ConnectionTrait>(db: &C, user_id: i32) -> AppResult<u64> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected)
}

/// The actor of a stored session as of now: the session exists, has not expired (idle or
/// absolute), and its user is enabled. An open websocket signed in by cookie checks itself
/// with this before every operation and when told its user changed.
pub async fn actor_of_session(
    db: &DatabaseConnection,
    session_id: &str,
    absolute_max_secs: i64,
) -> AppResult<Actor> {
    let ended = || AppError::InvalidCredentials("the session has ended; sign in again".into());
    let row = session::Entity::find_by_id(session_id.to_owned())
        .filter(session::Column::Expiry.gt(Utc::now()))
        .one(db)
        .await?
        .ok_or_else(ended)?;
    let user_id = row.user_id.ok_or_else(ended)?;
    let data: serde_json::Value = serde_json::from_str(&row.data).map_err(AppError::internal)?;
    let auth_at = data
        .get(SESSION_AUTH_AT)
        .and_then(serde_json::Value::as_i64);
    if auth_at.is_none_or(|at| Utc::now().timestamp() - at > absolute_max_secs) {
        return Err(ended());
    }
    let user = users::get(db, user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(ended)?;
    Ok(Actor {
        user_id: Some(user.id),
        role: user.role.parse()?,
        username: user.username,
        method: AuthMethod::Session,
    })
}
