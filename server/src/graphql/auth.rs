//! GraphQL for accounts: `me`, `login`/`logout`, users (admin) and API keys.

use crate::error::GqlResult;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::rate_limit::LoginLimiter;
use crate::domain::auth::Role as DomainRole;
use crate::error::AppError;
use crate::events::EventBus;
use crate::graphql::context::{ContextExt, parse_id};
use crate::service::{api_keys, sessions, users};
use crate::session::sign_in;

fn limiter<'a>(ctx: &'a Context<'_>) -> &'a LoginLimiter {
    ctx.data_unchecked::<std::sync::Arc<LoginLimiter>>()
}

fn events<'a>(ctx: &'a Context<'_>) -> &'a EventBus {
    ctx.data_unchecked::<EventBus>()
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::auth::Role")]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

pub struct User(pub entity::user::Model);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn username(&self) -> &str {
        &self.0.username
    }
    async fn role(&self) -> Role {
        self.0
            .role
            .parse::<DomainRole>()
            .unwrap_or(DomainRole::Viewer)
            .into()
    }
    async fn disabled(&self) -> bool {
        self.0.disabled
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct ApiKey(pub entity::api_key::Model);

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The first characters of the token, to recognise it (the token itself is never stored).
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn role(&self) -> Role {
        self.0
            .role
            .parse::<DomainRole>()
            .unwrap_or(DomainRole::Viewer)
            .into()
    }
    async fn user_id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
}

#[derive(SimpleObject)]
pub struct CreatedApiKey {
    pub api_key: ApiKey,
    /// The secret token: shown this once, send it as `Authorization: Bearer <token>`.
    pub token: String,
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// Defaults to your own role; cannot exceed it.
    pub role: Option<Role>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub username: String,
    pub password: String,
    pub role: Role,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The signed-in user; null when not signed in.
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<Option<User>> {
        let Ok(actor) = ctx.actor() else {
            return Ok(None);
        };
        let Some(id) = actor.user_id else {
            return Ok(None);
        };
        Ok(users::get(ctx.db(), id).await?.map(User))
    }

    /// Every user (ADMIN).
    async fn users(&self, ctx: &Context<'_>) -> GqlResult<Vec<User>> {
        Ok(users::list(ctx.db(), ctx.actor()?)
            .await?
            .into_iter()
            .map(User)
            .collect())
    }

    /// Your API keys (ADMIN: every key).
    async fn api_keys(&self, ctx: &Context<'_>) -> GqlResult<Vec<ApiKey>> {
        Ok(api_keys::list(ctx.db(), ctx.actor()?)
            .await?
            .into_iter()
            .map(ApiKey)
            .collect())
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Signs in and sets the session cookie (a new session id at every sign-in).
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> GqlResult<User> {
        let auth = ctx
            .auth()
            .ok_or_else(|| AppError::validation("login needs an HTTP request"))?;
        let mut session = auth
            .session
            .clone()
            .ok_or_else(|| AppError::validation("login is not available over websocket"))?;
        let user = sign_in::login(
            ctx.db(),
            limiter(ctx),
            &mut session,
            &username,
            password,
            &auth.client_ip,
        )
        .await?;
        Ok(User(user))
    }

    /// Signs out: the session is deleted server-side (and its websockets closed).
    async fn logout(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let Some(mut session) = ctx.auth().and_then(|a| a.session.clone()) else {
            return Ok(false);
        };
        let user_id = session.user.as_ref().map(|u| u.id);
        let ended = sign_in::logout(ctx.db(), &mut session).await?;
        if let Some(id) = user_id {
            events(ctx).auth_changed(id);
        }
        Ok(ended)
    }

    /// Creates an API key for your account. The token is in the answer, once.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> GqlResult<CreatedApiKey> {
        let (model, token) = api_keys::create(
            ctx.db(),
            ctx.actor()?,
            &input.name,
            input.role.map(Into::into),
            input.expires_at,
        )
        .await?;
        Ok(CreatedApiKey {
            api_key: ApiKey(model),
            token,
        })
    }

    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let owner = api_keys::revoke(ctx.db(), ctx.actor()?, parse_id(&id, "API key")?).await?;
        events(ctx).auth_changed(owner);
        Ok(true)
    }

    /// Creates a user (ADMIN).
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> GqlResult<User> {
        let user = users::create(
            ctx.db(),
            ctx.actor()?,
            input.username.trim(),
            &input.password,
            input.role.into(),
        )
        .await?;
        Ok(User(user))
    }

    /// Changes a user's role or disables the account (ADMIN).
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateUserInput,
    ) -> GqlResult<User> {
        let user = users::update(
            ctx.db(),
            ctx.actor()?,
            parse_id(&id, "user")?,
            input.role.map(Into::into),
            input.disabled,
        )
        .await?;
        events(ctx).auth_changed(user.id);
        Ok(User(user))
    }

    /// Changes your own password (needs the current one). Every session of yours ends,
    /// this one included: sign in again.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> GqlResult<bool> {
        let actor = ctx.actor()?;
        let ip = ctx.auth().map(|a| a.client_ip.as_str()).unwrap_or_default();
        sessions::change_password(
            ctx.db(),
            limiter(ctx),
            actor,
            current_password,
            &new_password,
            ip,
        )
        .await?;
        if let Some(id) = actor.user_id {
            events(ctx).auth_changed(id);
        }
        Ok(true)
    }
}
