//! Report and screenshot downloads, for a signed-in user or an API key. Files are found by the
//! numeric scan (and service) id only: anything else in the path is a 404, and no path a client
//! sends is ever joined onto the file system.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::Actor;
use crate::auth::backend::AuthSession;
use crate::error::AppError;
use crate::http::graphql::error_response;
use crate::http::identity;
use crate::service::reports::{self, Format};
use crate::state::AppState;

/// The HTML report carries its own inline styles and data-URI images, nothing else.
const REPORT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "not found")
}

fn failure(e: &AppError) -> Response {
    let status = match e {
        AppError::Unauthenticated | AppError::InvalidCredentials(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => return not_found(),
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Internal(err) => {
            tracing::error!(error = ?err, "download failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    error_response(status, e.code(), &e.to_string())
}

async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    session: &mut AuthSession,
) -> Result<Actor, Response> {
    match identity::resolve(state, headers, session).await {
        Ok(Some(actor)) => Ok(actor),
        Ok(None) => Err(failure(&AppError::Unauthenticated)),
        Err(e) => Err(failure(&e)),
    }
}

/// `GET /api/scans/{id}/report.{json,html,zip}`.
pub async fn report(
    State(state): State<AppState>,
    mut session: AuthSession,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let (Ok(id), Some(format)) = (
        id.parse::<i32>(),
        file.strip_prefix("report.")
            .and_then(Format::from_extension),
    ) else {
        return not_found();
    };
    let actor = match caller(&state, &headers, &mut session).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let web = &state.settings.scanner.web;
    let path = match reports::file(
        &state.db,
        &actor,
        &state.settings.data_dir,
        web.cert_expiry_warning_days,
        id,
        format,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return failure(&e),
    };
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return not_found();
    };
    let mut res = ([(header::CONTENT_TYPE, format.content_type())], bytes).into_response();
    let h = res.headers_mut();
    if format == Format::Html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(REPORT_CSP),
        );
    } else if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"sneakyscan-{id}-report.{}\"",
        format.extension()
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// `GET /api/scans/{id}/services/{service}/screenshot.png`.
pub async fn screenshot(
    State(state): State<AppState>,
    mut session: AuthSession,
    headers: HeaderMap,
    Path((id, service, file)): Path<(String, String, String)>,
) -> Response {
    let (Ok(id), Ok(service), true) = (
        id.parse::<i32>(),
        service.parse::<i32>(),
        file == "screenshot.png",
    ) else {
        return not_found();
    };
    let actor = match caller(&state, &headers, &mut session).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let path =
        match reports::screenshot(&state.db, &actor, &state.settings.data_dir, id, service).await {
            Ok(p) => p,
            Err(e) => return failure(&e),
        };
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
        Err(_) => not_found(),
    }
}

/// Any other `/api/…` path: 404 (never the web app's page).
pub async fn unknown() -> Response {
    not_found()
}
