//! `GET /graphql/ws`: subscriptions over graphql-transport-ws (and legacy graphql-ws).
//! Origin is checked before the upgrade; the caller is the session cookie's user or an API key
//! sent in `connection_init` (`{"authorization": "Bearer ssk_…"}`); an init that does not come
//! within the configured timeout closes the socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use crate::auth::Actor;
use crate::auth::backend::AuthSession;
use crate::error::{AppError, GqlError};
use crate::graphql::context::RequestAuth;
use crate::graphql::loaders::Loaders;
use crate::http::graphql::error_response;
use crate::http::identity;
use crate::service::api_keys;
use crate::state::AppState;

/// Largest websocket message accepted from a client.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// True when the request's Origin is the origin it was served from, or allow-listed.
/// Requests without Origin (non-browser clients) cannot be cross-site and are allowed.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

fn token_from_payload(payload: &serde_json::Value) -> Option<String> {
    ["authorization", "Authorization", "apiKey", "token"]
        .iter()
        .find_map(|k| payload.get(k).and_then(|v| v.as_str()))
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
                .to_owned()
        })
}

pub async fn upgrade(
    State(state): State<AppState>,
    mut session: AuthSession,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &state.settings.http.allowed_origins) {
        return error_response(StatusCode::FORBIDDEN, "FORBIDDEN", "origin not allowed");
    }
    let cookie_actor: Option<Actor> = match identity::session_actor(&state, &mut session).await {
        Ok(a) => a,
        Err(e) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.code(),
                "internal error",
            );
        }
    };
    let init_timeout = Duration::from_secs(state.settings.http.ws_init_timeout_secs);
    // A socket that sends nothing (not even a ping) for this long is closed.
    let idle_timeout = Duration::from_secs(state.settings.http.ws_idle_timeout_secs.max(1));
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let initialised = Arc::new(AtomicBool::new(false));
            let flag = initialised.clone();
            let db = state.db.clone();
            let serve = GraphQLWebSocket::new(socket, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    flag.store(true, Ordering::SeqCst);
                    let actor = match cookie_actor {
                        Some(actor) => actor,
                        None => match token_from_payload(&payload) {
                            Some(token) => api_keys::authenticate(&db, &token)
                                .await
                                .map_err(|e| async_graphql::Error::from(GqlError::from(e)))?,
                            None => return Err(GqlError::from(AppError::Unauthenticated).into()),
                        },
                    };
                    let mut data = Data::default();
                    data.insert(RequestAuth {
                        actor: Some(actor),
                        session: None,
                        client_ip: String::new(),
                    });
                    data.insert(Loaders::new(&db));
                    Ok(data)
                })
                .keepalive_timeout(Some(idle_timeout))
                .serve();
            tokio::pin!(serve);
            tokio::select! {
                () = &mut serve => {}
                () = tokio::time::sleep(init_timeout) => {
                    if initialised.load(Ordering::SeqCst) {
                        serve.await;
                    }
                    // else: dropping the socket closes the connection.
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).expect("host"));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).expect("origin"));
        }
        h
    }

    #[test]
    fn origin_allowed_accepts_same_origin_and_allowlist_only() {
        assert!(origin_allowed(
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            &[]
        ));
        assert!(origin_allowed(&headers(None, "127.0.0.1:8080"), &[]));
        assert!(!origin_allowed(
            &headers(Some("http://evil.example"), "127.0.0.1:8080"),
            &[]
        ));
        assert!(origin_allowed(
            &headers(Some("https://ui.example"), "127.0.0.1:8080"),
            &["https://ui.example/".to_owned()]
        ));
    }

    #[test]
    fn token_from_payload_accepts_bearer_forms() {
        let p = serde_json::json!({"authorization": "Bearer ssk_abc"});
        assert_eq!(token_from_payload(&p).as_deref(), Some("ssk_abc"));
        let p = serde_json::json!({"apiKey": "ssk_abc"});
        assert_eq!(token_from_payload(&p).as_deref(), Some("ssk_abc"));
        assert_eq!(token_from_payload(&serde_json::json!({})), None);
    }
}
