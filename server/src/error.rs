//! The error policy, in one place.
//!
//! * Every failure a caller can cause is an [`AppError`] variant with a stable code
//!   (`UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`, `VALIDATION`, `CONFLICT`, `SCOPE`,
//!   `RATE_LIMITED`, `INTERNAL`). Tools and tests rely on the codes; messages may change.
//! * Expected errors (bad input, missing rights) carry a message written for the caller.
//! * Unexpected errors (database, I/O, bugs) become `Internal`: the detail is logged with the
//!   request id and the caller only ever sees "internal error".
//! * Resolvers convert through `AppError` (never a bare `?` on a foreign error), so every GraphQL
//!   error has `extensions.code`; errors raised by async-graphql itself (syntax, depth,
//!   complexity) get `GRAPHQL_VALIDATION` in the HTTP layer.

use async_graphql::ErrorExtensions;

/// A location in a YAML document (1-based), attached to config validation errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePos {
    pub line: u64,
    pub column: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    InvalidCredentials(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Validation {
        message: String,
        pos: Option<SourcePos>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Scope(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation {
            message: message.into(),
            pos: None,
        }
    }

    pub fn validation_at(message: impl Into<String>, pos: Option<SourcePos>) -> Self {
        Self::Validation {
            message: message.into(),
            pos,
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// For the command line: the message with its code.
    pub fn into_cli(self) -> anyhow::Error {
        anyhow::anyhow!("{} ({})", self, self.code())
    }

    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::InvalidCredentials(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Validation { .. } => "VALIDATION",
            Self::Conflict(_) => "CONFLICT",
            Self::Scope(_) => "SCOPE",
            Self::RateLimited(_) => "RATE_LIMITED",
            Self::Internal(_) => "INTERNAL",
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(err).context("database error"))
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(err: sea_orm::TransactionError<AppError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

/// What resolvers return: a GraphQL error that already carries `extensions.code`. It has no
/// `Display` on purpose: async-graphql converts any `Display` error into a GraphQL error
/// *without* extensions, which would drop the code.
#[derive(Debug, Clone)]
pub struct GqlError(pub async_graphql::Error);

/// Result alias for resolvers.
pub type GqlResult<T> = Result<T, GqlError>;

impl From<GqlError> for async_graphql::Error {
    fn from(GqlError(err): GqlError) -> Self {
        err
    }
}

impl From<sea_orm::DbErr> for GqlError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::from(err).into()
    }
}

impl From<AppError> for GqlError {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(detail) = &err {
            // The current span carries the request id; the caller sees only "internal error".
            tracing::error!(error = ?detail, "internal error");
        }
        let code = err.code();
        let pos = match &err {
            AppError::Validation { pos, .. } => *pos,
            _ => None,
        };
        GqlError(
            async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
                ext.set("code", code);
                if let Some(pos) = pos {
                    ext.set("line", pos.line);
                    ext.set("column", pos.column);
                }
            }),
        )
    }
}

/// Result alias for services.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_stable_for_each_variant() {
        assert_eq!(AppError::Unauthenticated.code(), "UNAUTHENTICATED");
        assert_eq!(AppError::Forbidden("x".into()).code(), "FORBIDDEN");
        assert_eq!(AppError::NotFound("scan").code(), "NOT_FOUND");
        assert_eq!(AppError::validation("x").code(), "VALIDATION");
        assert_eq!(AppError::Conflict("x".into()).code(), "CONFLICT");
        assert_eq!(AppError::Scope("x".into()).code(), "SCOPE");
        assert_eq!(AppError::RateLimited("x".into()).code(), "RATE_LIMITED");
        assert_eq!(
            AppError::internal(anyhow::anyhow!("boom")).code(),
            "INTERNAL"
        );
    }

    #[test]
    fn internal_error_hides_its_detail_when_sent() {
        let err: async_graphql::Error =
            GqlError::from(AppError::internal(anyhow::anyhow!("secret path /etc/x"))).into();
        assert_eq!(err.message, "internal error");
        let code = err
            .extensions
            .as_ref()
            .and_then(|e| e.get("code").cloned())
            .expect("code");
        assert_eq!(code, async_graphql::Value::from("INTERNAL"));
    }
}
