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

/// Parses `http.trusted_proxies` (addresses or CIDRs); an entry that is neither is an error
/// naming it (checked at start).
pub fn trusted_proxies(entries: &[String]) -> anyhow::Result<Vec<ipnet::IpNet>> {
    entries
        .iter()
        .map(|e| {
            let e = e.trim();
            e.parse::<ipnet::IpNet>()
                .or_else(|_| e.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!("http.trusted_proxies: {e:?} is not an IP address or CIDR")
                })
        })
        .collect()
}

/// The client's address: the peer, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` address that is not a trusted proxy (what the first trusted proxy saw).
/// A malformed header falls back to the peer.
pub fn client_ip(peer: std::net::IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> String {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return ip.to_string(),
            Err(_) => break,
        }
    }
    peer.to_string()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn client_ip_believes_forwarded_for_only_from_trusted_proxies() {
        let trusted = trusted_proxies(&["127.0.0.1".into(), "127.0.1.0/24".into()]).expect("valid");
        let proxy: std::net::IpAddr = "127.0.0.1".parse().expect("ip");
        let stranger: std::net::IpAddr = "192.0.2.9".parse().expect("ip");
        // Not a proxy: its header is a claim, not a fact.
        assert_eq!(
            client_ip(stranger, &headers(&["198.51.100.1"]), &trusted),
            "192.0.2.9"
        );
        // Through two trusted proxies: the right-most untrusted hop; spoofed left entries ignored.
        assert_eq!(
            client_ip(
                proxy,
                &headers(&["203.0.113.5, 198.51.100.7", "127.0.1.3"]),
                &trusted
            ),
            "198.51.100.7"
        );
        // No header, or garbage: the peer.
        assert_eq!(client_ip(proxy, &headers(&[]), &trusted), "127.0.0.1");
        assert_eq!(
            client_ip(proxy, &headers(&["not-an-ip"]), &trusted),
            "127.0.0.1"
        );
        // Nothing trusted: the header never counts.
        assert_eq!(
            client_ip(proxy, &headers(&["198.51.100.1"]), &[]),
            "127.0.0.1"
        );
        assert!(trusted_proxies(&["proxy.example".into()]).is_err());
    }
}
