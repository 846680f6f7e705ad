//! The axum-login backend: session users are loaded from the `users` table; a password change
//! or a disabled account ends existing sessions (the session auth hash is the password hash).

use axum_login::{AuthUser, AuthnBackend, UserId};
use sea_orm::{DatabaseConnection, EntityTrait};

use crate::auth::password;
use crate::domain::auth::{Actor, AuthMethod, Role};
use crate::error::AppError;
use crate::service::users;

#[derive(Clone)]
pub struct SessionUser {
    pub id: i32,
    pub username: String,
    pub role: Role,
    auth_hash: Vec<u8>,
}

impl std::fmt::Debug for SessionUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl SessionUser {
    pub fn from_model(user: entity::user::Model) -> Result<Self, AppError> {
        Ok(Self {
            id: user.id,
            role: user.role.parse()?,
            username: user.username,
            auth_hash: user.password_hash.into_bytes(),
        })
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id),
            username: self.username.clone(),
            role: self.role,
            method: AuthMethod::Session,
        }
    }
}

impl AuthUser for SessionUser {
    type Id = i32;

    fn id(&self) -> Self::Id {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.auth_hash
    }
}

#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug)]
pub struct Backend {
    db: DatabaseConnection,
}

impl Backend {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BackendError(#[from] pub AppError);

impl AuthnBackend for Backend {
    type User = SessionUser;
    type Credentials = Credentials;
    type Error = BackendError;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<SessionUser>, BackendError> {
        let user = users::find_by_username(&self.db, &creds.username).await?;
        match user {
            Some(user) if !user.disabled => {
                let ok = password::verify(creds.password, user.password_hash.clone()).await?;
                Ok(if ok {
                    Some(SessionUser::from_model(user)?)
                } else {
                    None
                })
            }
            _ => {
                // Same cost as a real check, so timing does not reveal which usernames exist.
                let _ = password::verify(creds.password, password::dummy_hash().await).await?;
                Ok(None)
            }
        }
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<SessionUser>, BackendError> {
        let user = entity::user::Entity::find_by_id(*id)
            .one(&self.db)
            .await
            .map_err(AppError::from)?;
        match user {
            Some(u) if !u.disabled => Ok(Some(SessionUser::from_model(u)?)),
            _ => Ok(None),
        }
    }
}

pub type AuthSession = axum_login::AuthSession<Backend>;
