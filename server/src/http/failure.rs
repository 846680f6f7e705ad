//! Errors of the plain HTTP routes (downloads, uploads) as GraphQL-shaped JSON bodies with the
//! stable code and the matching status.

use axum::http::StatusCode;
use axum::response::Response;

use crate::error::AppError;
use crate::http::graphql::{error_response, error_response_at};

pub fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "not found")
}

/// The answer to a failed request: status by code; internal details are logged, never sent.
pub fn response(e: &AppError) -> Response {
    let status = match e {
        AppError::Unauthenticated | AppError::InvalidCredentials(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => return not_found(),
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::Internal(err) => {
            tracing::error!(error = ?err, "request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        AppError::Validation { .. } | AppError::Scope(_) => StatusCode::BAD_REQUEST,
    };
    let pos = match e {
        AppError::Validation { pos, .. } => pos.as_ref(),
        _ => None,
    };
    error_response_at(status, e.code(), &e.to_string(), pos)
}
