//! Signing in and out of a browser session: rate limited per account and IP, audited, and
//! always under a new session id.

use chrono::Utc;
use sea_orm::DatabaseConnection;

use entity::user;

use crate::auth::rate_limit::LoginLimiter;
use crate::error::{AppError, AppResult};
use crate::service::sessions::{SESSION_AUTH_AT, SESSION_TOUCHED_AT, SESSION_USER_ID};
use crate::service::{audit, users};
use crate::session::backend::{AuthSession, Credentials};

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
    limiter.check(username, ip).await?;
    let user = session
        .authenticate(Credentials {
            username: username.to_owned(),
            password,
        })
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("authentication backend: {e}")))?;
    let Some(user) = user else {
        limiter.record_failure(username, ip).await?;
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
    limiter.record_success(username).await?;
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
