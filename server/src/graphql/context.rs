//! What a resolver can know about its request: the caller, the session (for login/logout),
//! the client IP, and shared services.

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::auth::Actor;
use crate::auth::backend::AuthSession;
use crate::error::AppError;

/// Per-request (or per-websocket) authentication data.
#[derive(Clone)]
pub struct RequestAuth {
    pub actor: Option<Actor>,
    /// Present for HTTP requests: `login`/`logout` change the session.
    pub session: Option<AuthSession>,
    pub client_ip: String,
}

pub trait ContextExt {
    fn db(&self) -> &DatabaseConnection;
    fn auth(&self) -> Option<&RequestAuth>;
    /// The signed-in caller, or `UNAUTHENTICATED`.
    fn actor(&self) -> Result<&Actor, AppError>;
}

impl ContextExt for Context<'_> {
    fn db(&self) -> &DatabaseConnection {
        self.data_unchecked::<DatabaseConnection>()
    }

    fn auth(&self) -> Option<&RequestAuth> {
        self.data_opt::<RequestAuth>()
    }

    fn actor(&self) -> Result<&Actor, AppError> {
        self.auth()
            .and_then(|a| a.actor.as_ref())
            .ok_or(AppError::Unauthenticated)
    }
}

/// Parses a GraphQL `ID` holding a numeric row id; anything else is `NOT_FOUND` (an id that
/// cannot exist).
pub fn parse_id(id: &async_graphql::ID, what: &'static str) -> Result<i32, AppError> {
    id.parse::<i32>().map_err(|_| AppError::NotFound(what))
}
