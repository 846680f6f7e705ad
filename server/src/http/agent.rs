//! `GET /api/agent`: the websocket remote agents dial (`sneakyscan agent`). The agent's token
//! (`Authorization: Bearer ssa_…`) is checked before the upgrade: an unknown or revoked token
//! is `401 UNAUTHENTICATED` and nothing else happens. Frames are JSON
//! ([`crate::jobs::wire`]); the connection itself is served by [`crate::jobs::agents`]. The
//! socket closes with 4403 when the agent is revoked while connected.

use std::net::SocketAddr;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::error::AppError;
use crate::http::graphql::error_response;
use crate::http::identity;
use crate::jobs::agents::LinkEnd;
use crate::jobs::wire::{
    AgentMessage, CLOSE_REFUSED, MAX_MESSAGE_BYTES, SILENCE_LIMIT, ServerMessage,
};
use crate::service::agents;
use crate::state::AppState;

pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let client = identity::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    let Some(token) = identity::bearer_token(&headers) else {
        return error_response(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "an agent authenticates with Authorization: Bearer <its token>",
        );
    };
    let agent = match agents::authenticate(&state.db, token).await {
        Ok(agent) => agent,
        Err(AppError::InvalidCredentials(message)) => {
            tracing::warn!(%client, %message, "agent refused");
            return error_response(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", &message);
        }
        Err(e) => {
            tracing::error!(error = ?e, "authenticating an agent failed");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "the server cannot check agent tokens now; try again",
            );
        }
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    tracing::info!(agent = %agent.name, %client, "agent connecting");
    let hub = state.agents.clone();
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(hub, agent, socket))
}

async fn serve(hub: crate::jobs::agents::AgentHub, agent: entity::agent::Model, socket: WebSocket) {
    let name = agent.name.clone();
    let (mut sink, mut stream) = socket.split();
    let (in_tx, in_rx) = mpsc::channel::<AgentMessage>(64);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<ServerMessage>();
    // What the agent sends, parsed; the link ends when this ends (its sender drops).
    let reader = tokio::spawn(async move {
        // An agent pings every few seconds: silence means it (or the network) is gone, even
        // when no TCP reset ever comes.
        loop {
            let frame = match tokio::time::timeout(SILENCE_LIMIT, stream.next()).await {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(agent = %name, "agent silent; connection closed");
                    break;
                }
            };
            let text = match frame {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            match serde_json::from_str::<AgentMessage>(text.as_str()) {
                Ok(message) => {
                    if in_tx.send(message).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(agent = %name, error = %e, "unreadable message from an agent; closing");
                    break;
                }
            }
        }
    });
    let done = tokio_util::sync::CancellationToken::new();
    let writing = done.clone();
    let writer = tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                m = out_rx.recv() => m,
                () = writing.cancelled() => out_rx.try_recv().ok(),
            };
            let Some(message) = message else {
                return sink;
            };
            let Ok(text) = serde_json::to_string(&message) else {
                continue;
            };
            if sink.send(Message::Text(text.into())).await.is_err() {
                return sink;
            }
        }
    });
    let end = hub.serve(agent, in_rx, out_tx).await;
    reader.abort();
    done.cancel();
    if let Ok(mut sink) = writer.await {
        let frame = match end {
            LinkEnd::Revoked => CloseFrame {
                code: CLOSE_REFUSED,
                reason: "this agent has been revoked".into(),
            },
            LinkEnd::Closed => CloseFrame {
                code: 1001,
                reason: "going away".into(),
            },
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
        let _ = sink.close().await;
    }
}
