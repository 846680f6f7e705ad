//! What a resolver can know about its request: the caller, the session (for login/logout),
//! the client IP, and shared services.

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::domain::auth::{Actor, AuthMethod};
use crate::error::{AppError, AppResult};
use crate::service::{api_keys, sessions};
use crate::session::backend::AuthSession;

/// Per-request (or per-websocket) authentication data.
#[derive(Clone)]
pub struct RequestAuth {
    pub actor: Option<Actor>,
    /// Present for HTTP requests: `login`/`logout` change the session.
    pub session: Option<AuthSession>,
    pub client_ip: String,
}

/// Who opened a websocket, as something that can be checked again: the socket's rights are
/// those of its session or key *now*, not at `connection_init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketPrincipal {
    Session { id: String, user_id: i32 },
    ApiKey { key_id: i32, user_id: i32 },
}

impl SocketPrincipal {
    /// The principal behind an actor that just authenticated (`None` for the system actor or a
    /// session without an id).
    pub fn of(actor: &Actor, session_id: Option<String>) -> Option<Self> {
        let user_id = actor.user_id?;
        match &actor.method {
            AuthMethod::ApiKey { key_id } => Some(Self::ApiKey {
                key_id: *key_id,
                user_id,
            }),
            AuthMethod::Session => session_id.map(|id| Self::Session { id, user_id }),
            AuthMethod::System => None,
        }
    }

    pub fn user_id(&self) -> i32 {
        match self {
            Self::Session { user_id, .. } | Self::ApiKey { user_id, .. } => *user_id,
        }
    }

    /// The actor as of now; `UNAUTHENTICATED` once the session ended, the key was revoked or
    /// expired, or the user was disabled.
    pub async fn current(
        &self,
        db: &DatabaseConnection,
        session_absolute_secs: i64,
    ) -> AppResult<Actor> {
        match self {
            Self::Session { id, .. } => {
                sessions::actor_of_session(db, id, session_absolute_secs).await
            }
            Self::ApiKey { key_id, .. } => api_keys::actor_of_id(db, *key_id).await,
        }
    }
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

/// A row a field may lack: NOT_FOUND becomes `null`, any other error stays one.
pub fn or_none<T, U>(
    found: Result<T, AppError>,
    wrap: impl FnOnce(T) -> U,
) -> crate::error::GqlResult<Option<U>> {
    match found {
        Ok(row) => Ok(Some(wrap(row))),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Parses a GraphQL `ID` holding a numeric row id; anything else is `NOT_FOUND` (an id that
/// cannot exist).
pub fn parse_id(id: &async_graphql::ID, what: &'static str) -> Result<i32, AppError> {
    id.parse::<i32>().map_err(|_| AppError::NotFound(what))
}
