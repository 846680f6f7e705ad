//! Sessions: signing in and out, password checks of a signed-in user, and ending every session
//! of a user. The rules (rate limit, a new session id at every sign-in, audit) live here, not in
//! the GraphQL resolvers.

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use entity::{session, user};

use crate::auth::backend::{AuthSession, Credentials};
use crate::auth::rate_limit::LoginLimiter;
use crate::auth::{Actor, password};
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

fn session_error(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::internal(anyhow::anyhow!("session {what}: {e}"))
}

/// Signs in: rate limited per account and IP, audited, and always under a new session id
/// (a session id known before sign-in is never the one that carries the login).
pub async fn login(
    db: &DatabaseConnection,
    limiter: &LoginLimiter,
    session: &mut AuthSession,
    username: &str,
    password: String,
    ip: &str,
) -> AppResult<user::Model> {
    limiter.check(username, ip)?;
    let user = session
        .authenticate(Credentials {
            username: username.to_owned(),
            password,
        })
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("authentication backend: {e}")))?;
    let Some(user) = user else {
        limiter.record_failure(username, ip);
        audit::record_raw(
            db,
            None,
            username,
            "login.failed",
            None,
            None,
            Some(ip.to_owned()),
        )
        .await?;
        return Err(AppError::InvalidCredentials(
            "invalid username or password".into(),
        ));
    };
    limiter.record_success(username);
    session
        .login(&user)
        .await
        .map_err(|e| session_error("login", e))?;
    // axum-login keeps the id when the session already carried a login: cycle it always.
    session
        .session
        .cycle_id()
        .await
        .map_err(|e| session_error("cycle", e))?;
    let now = Utc::now().timestamp();
    for (key, value) in [
        (SESSION_AUTH_AT, now),
        (SESSION_TOUCHED_AT, now),
        (SESSION_USER_ID, i64::from(user.id)),
    ] {
        session
            .session
            .insert(key, value)
            .await
            .map_err(|e| session_error("insert", e))?;
    }
    audit::record_raw(
        db,
        Some(user.id),
        &user.username,
        "login",
        None,
        None,
        Some(ip.to_owned()),
    )
    .await?;
    users::get(db, user.id)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// Signs out (the session row is deleted). Signing out a session that is not signed in does
/// nothing and writes nothing.
pub async fn logout(db: &DatabaseConnection, session: &mut AuthSession) -> AppResult<bool> {
    if session.user.is_none() {
        return Ok(false);
    }
    let user = session
        .logout()
        .await
        .map_err(|e| session_error("logout", e))?;
    if let Some(user) = user {
        audit::record_raw(
            db,
            Some(user.id),
            &user.username,
            "logout",
            None,
            None,
            None,
        )
        .await?;
    }
    Ok(true)
}

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
    limiter.check(&user.username, ip)?;
    if !password::verify(current, user.password_hash.clone()).await? {
        limiter.record_failure(&user.username, ip);
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
        method: crate::auth::AuthMethod::Session,
    })
}
