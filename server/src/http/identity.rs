//! Who is calling: an API key (`Authorization: Bearer …`) or the session cookie, with the
//! absolute session timeout enforced here.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use chrono::Utc;

use crate::domain::auth::Actor;
use crate::error::AppError;
use crate::service::api_keys;
use crate::service::sessions::{SESSION_AUTH_AT, SESSION_TOUCH_EVERY_SECS, SESSION_TOUCHED_AT};
use crate::session::backend::AuthSession;
use crate::state::AppState;

/// The bearer token of a request, if it has an `Authorization: Bearer` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The caller of a plain HTTP route, or the 401/403-style answer to send instead.
pub async fn required(
    state: &AppState,
    headers: &HeaderMap,
    session: &mut AuthSession,
) -> Result<Actor, axum::response::Response> {
    match resolve(state, headers, session).await {
        Ok(Some(actor)) => Ok(actor),
        Ok(None) => Err(crate::http::failure::response(&AppError::Unauthenticated)),
        Err(e) => Err(crate::http::failure::response(&e)),
    }
}

/// Resolves the caller. A bad API key is an error (never silently anonymous); no credentials at
/// all is `Ok(None)`.
pub async fn resolve(
    state: &AppState,
    headers: &HeaderMap,
    session: &mut AuthSession,
) -> Result<Option<Actor>, AppError> {
    if let Some(token) = bearer_token(headers) {
        return api_keys::authenticate(&state.db, token).await.map(Some);
    }
    session_actor(state, session).await
}

/// The session's user, or `None` (logging out a session past its absolute lifetime).
pub async fn session_actor(
    state: &AppState,
    session: &mut AuthSession,
) -> Result<Option<Actor>, AppError> {
    let Some(user) = session.user.clone() else {
        return Ok(None);
    };
    let auth_at: Option<i64> = session
        .session
        .get(SESSION_AUTH_AT)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("session read: {e}")))?;
    let now = Utc::now().timestamp();
    let max_age = state.settings.auth.session_absolute_hours * 3600;
    let expired = auth_at.is_none_or(|at| now - at > max_age);
    if expired {
        session
            .logout()
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("session logout: {e}")))?;
        return Ok(None);
    }
    // The idle expiry moves forward when the session is saved; save it at most once a minute
    // (a write per request would queue every signed-in read behind SQLite's writer).
    let touched_at: Option<i64> = session
        .session
        .get(SESSION_TOUCHED_AT)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("session read: {e}")))?;
    if touched_at.is_none_or(|at| now - at >= SESSION_TOUCH_EVERY_SECS) {
        session
            .session
            .insert(SESSION_TOUCHED_AT, now)
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("session touch: {e}")))?;
    }
    Ok(Some(user.actor()))
}
