//! `GET /graphql/ws`: subscriptions over graphql-transport-ws (and legacy graphql-ws).
//! Origin is checked before the upgrade; the caller is the session cookie's user or an API key
//! sent in `connection_init` (`{"authorization": "Bearer ssk_…"}`); an init that does not come
//! within the configured timeout closes the socket (4408). Every operation runs with the
//! caller's rights as of now (`graphql::reauth`), and the socket closes (4403) as soon as they
//! change. Subscription ids are unique per socket (4409) and their number is capped.
//! `scanUpdates` subscriptions are served from one shared execution per document, variables
//! and role (`graphql::fanout`); every other operation runs in the socket's own conversation.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, ClientMessage, WebSocketProtocols as Protocols, WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures::{FutureExt, SinkExt, Stream, StreamExt};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;

use crate::domain::auth::Actor;
use crate::error::{AppError, GqlError};
use crate::graphql::context::{RequestAuth, SocketPrincipal};
use crate::graphql::fanout::{Fanout, Membership};
use crate::graphql::loaders::Loaders;
use crate::http::graphql::error_response;
use crate::http::identity;
use crate::service::api_keys;
use crate::session::backend::AuthSession;
use crate::state::AppState;

/// Shared-subscription frames written before a flush (an event reaches every subscription of
/// a socket at once; one flush carries them all).
const FLUSH_AFTER: usize = 256;

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

/// The first subprotocol of the request that is one of ours.
fn protocol(headers: &HeaderMap) -> Option<Protocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())?
        .split(',')
        .find_map(|p| p.trim().parse::<Protocols>().ok())
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut session: AuthSession,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = protocol(&headers) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Sec-WebSocket-Protocol must be graphql-transport-ws or graphql-ws",
        );
    };
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
    let session_id = session.session.id().map(|id| id.to_string());
    let client_ip = identity::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| {
            serve(socket, state, protocol, cookie_actor, session_id, client_ip)
        })
}

/// Why the server closes a socket.
enum Closing {
    /// The client (or the protocol) ended the conversation.
    Done,
    /// graphql-transport-ws: "Subscriber for <id> already exists".
    DuplicateId(String),
    /// The socket's session ended or its key, user or role changed.
    RightsChanged,
    /// No `connection_init` in time.
    NoInit,
}

/// Serves one socket: the graphql-transport-ws (or legacy graphql-ws) conversation of
/// async-graphql, with what it lacks added around it — an init deadline, unique subscription
/// ids (4409), a cap on subscriptions per socket, and a watch on the caller's rights that
/// closes the socket (4403) as soon as they change.
async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: Protocols,
    cookie_actor: Option<Actor>,
    session_id: Option<String>,
    client_ip: String,
) {
    let (mut sink, stream) = socket.split();
    let principal: Arc<OnceLock<(SocketPrincipal, Actor)>> = Arc::new(OnceLock::new());
    let active: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (notices, notices_rx) = mpsc::unbounded_channel::<Notice>();
    let cap = state.settings.graphql.max_subscriptions_per_socket;

    // Incoming: parsed once, ids tracked; a duplicate id closes the socket (4409), one over
    // the cap is answered with an error for that id and not started; a shareable
    // subscription (after `connection_init`) goes to the shared executions instead.
    let input = {
        let active = active.clone();
        let notices = notices.clone();
        let initialised = principal.clone();
        let share = state.settings.graphql.share_subscriptions;
        stream
            .take_while(|m| futures::future::ready(m.is_ok()))
            .filter_map(|m| {
                futures::future::ready(match m {
                    Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m.into_data()),
                    _ => None,
                })
            })
            .map(ClientMessage::from_bytes)
            .filter_map(move |msg| {
                let route = match &msg {
                    Ok(ClientMessage::Start { id, payload }) => {
                        let mut active = active.lock().unwrap_or_else(|p| p.into_inner());
                        if active.contains(id) {
                            let _ = notices.send(Notice::Close(Closing::DuplicateId(id.clone())));
                            Route::Drop
                        } else if active.len() >= cap {
                            let _ = notices.send(Notice::TooMany(id.clone()));
                            Route::Drop
                        } else {
                            active.insert(id.clone());
                            if share && initialised.get().is_some() && Fanout::shareable(payload) {
                                Route::Share
                            } else {
                                Route::Pass
                            }
                        }
                    }
                    Ok(ClientMessage::Stop { id }) => {
                        active.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
                        let _ = notices.send(Notice::Stop(id.clone()));
                        Route::Pass
                    }
                    _ => Route::Pass,
                };
                futures::future::ready(match (route, msg) {
                    (Route::Pass, msg) => Some(msg),
                    (Route::Share, Ok(ClientMessage::Start { id, payload })) => {
                        let _ = notices.send(Notice::Shared(id, Box::new(payload)));
                        None
                    }
                    _ => None,
                })
            })
    };

    let db = state.db.clone();
    let init_principal = principal.clone();
    let init_ip = client_ip.clone();
    let conversation = async_graphql::http::WebSocket::from_message_stream(
        state.socket_schema.clone(),
        input,
        protocol,
    )
    .on_connection_init(move |payload| async move {
        let actor = match cookie_actor {
            Some(actor) => actor,
            None => match token_from_payload(&payload) {
                Some(token) => api_keys::authenticate(&db, &token)
                    .await
                    .map_err(|e| async_graphql::Error::from(GqlError::from(e)))?,
                None => return Err(GqlError::from(AppError::Unauthenticated).into()),
            },
        };
        let who = SocketPrincipal::of(&actor, session_id)
            .ok_or_else(|| async_graphql::Error::from(GqlError::from(AppError::Unauthenticated)))?;
        let data = socket_data(&db, &who, &actor, &init_ip);
        let _ = init_principal.set((who, actor));
        Ok(data)
    })
    .keepalive_timeout(Some(Duration::from_secs(
        state.settings.http.ws_idle_timeout_secs.max(1),
    )));
    tokio::pin!(conversation);
    let mut notices_rx = notices_rx;

    let init_deadline = tokio::time::sleep(Duration::from_secs(
        state.settings.http.ws_init_timeout_secs,
    ));
    tokio::pin!(init_deadline);
    let watch = watch_rights(&state, principal.clone());
    tokio::pin!(watch);
    // One receiver per shared execution this socket uses, and the subscriptions (ids, in the
    // order they came) it serves here.
    let mut shared: StreamMap<u64, SharedStream> = StreamMap::new();
    let mut groups: HashMap<u64, Vec<(String, Membership)>> = HashMap::new();

    let closing = loop {
        tokio::select! {
            // Notices first: a duplicate id must close with 4409, not as a plain end of input.
            biased;
            Some(notice) = notices_rx.recv() => match notice {
                Notice::Close(closing) => break closing,
                Notice::TooMany(id) => {
                    let text = too_many(protocol, &id, cap);
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break Closing::Done;
                    }
                }
                Notice::Shared(id, request) => {
                    let Some((who, actor)) = principal.get() else {
                        continue;
                    };
                    // As for the socket's own operations: its rights as of now.
                    let absolute = state.settings.auth.session_absolute_hours * 3600;
                    match who.current(&state.db, absolute).await {
                        Ok(now) if now.role == actor.role => {}
                        _ => break Closing::RightsChanged,
                    }
                    let data = || socket_data(&state.db, who, actor, &client_ip);
                    let joined = state.fanout.subscribe(actor.role, *request, data);
                    match groups.entry(joined.execution) {
                        Entry::Occupied(mut group) => group.get_mut().push((id, joined.member)),
                        Entry::Vacant(group) => {
                            group.insert(vec![(id, joined.member)]);
                            shared.insert(joined.execution, shared_stream(joined.rx));
                        }
                    }
                }
                Notice::Stop(id) => {
                    let found = groups.iter().find_map(|(execution, members)| {
                        members.iter().position(|(i, _)| *i == id).map(|at| (*execution, at))
                    });
                    if let Some((execution, at)) = found {
                        if let Some(members) = groups.get_mut(&execution) {
                            members.remove(at);
                            if members.is_empty() {
                                groups.remove(&execution);
                                shared.remove(&execution);
                            }
                        }
                        let text = complete_message(&id);
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            break Closing::Done;
                        }
                    }
                }
            },
            Some((execution, item)) = shared.next(), if !shared.is_empty() => {
                // An event of an execution is received once and framed for each of this
                // socket's subscriptions to it; ready events of other executions go out with
                // it, in one flush.
                let mut ready = Some((execution, item));
                let mut sent = 0;
                let mut failed = false;
                while let Some((execution, item)) = ready.take() {
                    let frames: Vec<String> = match item {
                        Some(payload) => groups
                            .get(&execution)
                            .into_iter()
                            .flatten()
                            .map(|(id, _)| next_message(protocol, id, &payload))
                            .collect(),
                        None => {
                            shared.remove(&execution);
                            let ended = groups.remove(&execution).unwrap_or_default();
                            let mut active = active.lock().unwrap_or_else(|p| p.into_inner());
                            ended
                                .into_iter()
                                .map(|(id, _)| {
                                    active.remove(&id);
                                    complete_message(&id)
                                })
                                .collect()
                        }
                    };
                    for text in frames {
                        if sink.feed(Message::Text(text.into())).await.is_err() {
                            failed = true;
                            break;
                        }
                        sent += 1;
                    }
                    if failed {
                        break;
                    }
                    if sent < FLUSH_AFTER {
                        ready = shared.next().now_or_never().flatten();
                    }
                }
                if failed || sink.flush().await.is_err() {
                    break Closing::Done;
                }
            },
            out = conversation.next() => match out {
                Some(WsMessage::Text(text)) => {
                    if let Some(id) = ended_id(&text) {
                        active.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    }
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break Closing::Done;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let _ = sink.send(close(code, &reason)).await;
                    break Closing::Done;
                }
                None => break Closing::Done,
            },
            () = &mut init_deadline, if principal.get().is_none() => break Closing::NoInit,
            () = &mut watch => break Closing::RightsChanged,
        }
    };
    let frame = match closing {
        Closing::Done => None,
        Closing::DuplicateId(id) => {
            Some(close(4409, &format!("Subscriber for {id} already exists")))
        }
        Closing::RightsChanged => Some(close(
            4403,
            "Forbidden: the session ended or its rights changed",
        )),
        Closing::NoInit => Some(close(4408, "Connection initialisation timeout")),
    };
    if let Some(frame) = frame {
        let _ = sink.send(frame).await;
    }
    let _ = sink.close().await;
}

/// Where an incoming message goes.
enum Route {
    /// To the socket's own conversation.
    Pass,
    /// To a shared execution (a shareable subscription).
    Share,
    /// Nowhere (refused; the loop was told).
    Drop,
}

/// What the input side tells the loop.
enum Notice {
    Close(Closing),
    TooMany(String),
    /// A subscription served from a shared execution.
    Shared(String, Box<async_graphql::Request>),
    /// A client's `complete`/`stop` (of a shared subscription or not).
    Stop(String),
}

/// A shared subscription as this socket sees it: each response's text, then `None` when the
/// execution ended (a subscriber that fell behind skips what it missed).
type SharedStream = Pin<Box<dyn Stream<Item = Option<Arc<str>>> + Send>>;

fn shared_stream(rx: broadcast::Receiver<Arc<str>>) -> SharedStream {
    BroadcastStream::new(rx)
        .filter_map(|item| futures::future::ready(item.ok().map(Some)))
        .chain(futures::stream::once(futures::future::ready(None)))
        .boxed()
}

/// The data a socket's operations run with (set up at `connection_init`; the same for its
/// shared subscriptions).
fn socket_data(
    db: &sea_orm::DatabaseConnection,
    who: &SocketPrincipal,
    actor: &Actor,
    client_ip: &str,
) -> Data {
    let mut data = Data::default();
    data.insert(who.clone());
    data.insert(RequestAuth {
        actor: Some(actor.clone()),
        session: None,
        client_ip: client_ip.to_owned(),
    });
    data.insert(Loaders::new(db));
    data
}

/// A response of subscription `id`, framed as async-graphql frames its own: `next`
/// (graphql-transport-ws) or `data` (legacy graphql-ws), the payload already serialised.
fn next_message(protocol: Protocols, id: &str, payload: &str) -> String {
    let kind = match protocol {
        Protocols::GraphQLWS => "next",
        Protocols::SubscriptionsTransportWS => "data",
    };
    let id = serde_json::to_string(id).unwrap_or_default();
    format!("{{\"type\":\"{kind}\",\"id\":{id},\"payload\":{payload}}}")
}

fn complete_message(id: &str) -> String {
    serde_json::json!({ "type": "complete", "id": id }).to_string()
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// The id of an outgoing `complete` or `error` message: that subscription is over.
fn ended_id(text: &str) -> Option<String> {
    if !(text.starts_with("{\"type\":\"complete\"") || text.starts_with("{\"type\":\"error\"")) {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Head {
        id: String,
    }
    serde_json::from_str::<Head>(text).ok().map(|h| h.id)
}

fn too_many(protocol: Protocols, id: &str, cap: usize) -> String {
    let error = serde_json::json!({
        "message": format!("a websocket may hold at most {cap} subscriptions; complete one first"),
        "extensions": { "code": "RATE_LIMITED" }
    });
    let payload = match protocol {
        Protocols::GraphQLWS => serde_json::json!([error]),
        Protocols::SubscriptionsTransportWS => error,
    };
    serde_json::json!({ "type": "error", "id": id, "payload": payload }).to_string()
}

/// Resolves when the socket's rights are no longer what they were at `connection_init`:
/// checked at once when its user's rights may have changed on this server (sign-out, disable,
/// role, password, key revoked), and every [`RECHECK_EVERY`] for changes made elsewhere
/// (another replica, expiry).
async fn watch_rights(state: &AppState, principal: Arc<OnceLock<(SocketPrincipal, Actor)>>) {
    let mut changes = state.events.auth_changes();
    let mut every = tokio::time::interval(RECHECK_EVERY);
    every.tick().await;
    let absolute = state.settings.auth.session_absolute_hours * 3600;
    loop {
        let changed_user = tokio::select! {
            change = changes.recv() => match change {
                Ok(change) => Some(change.user_id),
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
            },
            _ = every.tick() => None,
        };
        let Some((who, was)) = principal.get() else {
            continue;
        };
        if changed_user.is_some_and(|u| u != who.user_id()) {
            continue;
        }
        match who.current(&state.db, absolute).await {
            Ok(actor) if actor.role == was.role => {}
            Ok(_) => return,
            Err(AppError::Internal(e)) => {
                tracing::warn!(error = ?e, "re-checking a websocket's rights failed");
            }
            Err(_) => return,
        }
    }
}

/// How often an open socket re-checks its rights without being told (changes made on another
/// replica, expiry). Each check is one or two indexed reads: 10,000 idle sockets cost ~300
/// reads a second at this period.
const RECHECK_EVERY: Duration = Duration::from_secs(60);

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
