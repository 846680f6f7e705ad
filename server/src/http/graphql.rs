//! `POST /graphql`: JSON only (no GET, no forms, no multipart, no batches) so a cross-site form
//! can never run a mutation with the session cookie.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::graphql::answers::{self, Answer, AnswerScope};
use crate::graphql::context::RequestAuth;
use crate::graphql::guard;
use crate::graphql::loaders::Loaders;
use crate::http::identity;
use crate::service::scans;
use crate::session::backend::AuthSession;
use crate::state::AppState;

/// A GraphQL-shaped error body for failures before execution.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    error_response_at(status, code, message, None)
}

/// [`error_response`] that says where in the input (`extensions.line`/`column`, as GraphQL
/// errors do), when it is known.
pub fn error_response_at(
    status: StatusCode,
    code: &str,
    message: &str,
    pos: Option<&crate::error::SourcePos>,
) -> Response {
    let mut extensions = serde_json::json!({ "code": code });
    if let Some(pos) = pos {
        extensions["line"] = pos.line.into();
        extensions["column"] = pos.column.into();
    }
    let body = serde_json::json!({
        "data": null,
        "errors": [{ "message": message, "extensions": extensions }]
    });
    (status, Json(body)).into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut session: AuthSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_json(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send GraphQL requests as POST with Content-Type: application/json",
        );
    }
    if body.first().is_some_and(|b| *b == b'[') {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "batched requests are not supported",
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("invalid GraphQL request body: {e}"),
            );
        }
    };
    let mut request = request;
    if let Err(e) = guard::check(&mut request, guard::Limits::of(&state.settings)) {
        return error_response(StatusCode::OK, e.code(), &e.to_string());
    }
    let actor = match identity::resolve(&state, &headers, &mut session).await {
        Ok(a) => a,
        Err(e) => {
            if let crate::error::AppError::Internal(detail) = &e {
                tracing::error!(error = ?detail, "identity resolution failed");
            }
            return error_response(StatusCode::UNAUTHORIZED, e.code(), &e.to_string());
        }
    };
    // Queries that read only COMPLETED scans are answered from memory when they were answered
    // before (`graphql::answers`); the key is the role and the exact body.
    let storable = match &actor {
        Some(actor) if state.answers.enabled() => {
            let operation = request.operation_name.clone();
            request
                .parsed_query()
                .is_ok_and(|doc| answers::cacheable_document(doc, operation.as_deref()))
                .then_some(actor.role)
        }
        _ => None,
    };
    if let (Some(role), Some(actor)) = (storable, &actor)
        && let Some(answer) = state.answers.get(role, &body)
    {
        match scans::still_completed(&state.db, actor, &answer.scans).await {
            Ok(true) => return json_body(answer.body.clone()),
            Ok(false) => state.answers.forget(role, &body),
            Err(e) => tracing::warn!(error = %e, "checking a kept answer failed; executing"),
        }
    }
    let scope = Arc::new(AnswerScope::default());
    let request = request
        .data(RequestAuth {
            actor,
            session: Some(session),
            client_ip: identity::client_ip(peer.ip(), &headers, &state.trusted_proxies),
        })
        .data(Loaders::new(&state.db))
        .data(scope.clone());
    let mut response = state.schema.execute(request).await;
    // Errors async-graphql raises itself (syntax, validation, limits) have no code yet.
    for err in &mut response.errors {
        let ext = err.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "GRAPHQL_VALIDATION");
        }
    }
    if let Some(role) = storable
        && response.errors.is_empty()
        && let Some(scans) = scope.stamps()
    {
        match serde_json::to_vec(&response) {
            Ok(json) => {
                let json = Bytes::from(json);
                state.answers.insert(
                    role,
                    body,
                    Answer {
                        body: json.clone(),
                        scans,
                    },
                );
                return json_body(json);
            }
            Err(e) => tracing::error!(error = %e, "serializing an answer failed"),
        }
    }
    Json(response).into_response()
}

/// A JSON body already serialized.
fn json_body(json: Bytes) -> Response {
    ([(CONTENT_TYPE, "application/json")], json).into_response()
}
