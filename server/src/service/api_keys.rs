//! API keys: random tokens shown once, stored as SHA-256, scoped to a role no higher than their
//! owner's, revocable, with an optional expiry.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};

use entity::{api_key, user};

use crate::auth::tokens;
use crate::domain::auth::{Actor, AuthMethod, Role};
use crate::error::{AppError, AppResult};
use crate::service::{audit, users};

/// Creates a key for the actor's own account. The token is returned once and never stored.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    name: &str,
    role: Option<Role>,
    expires_at: Option<DateTime<Utc>>,
) -> AppResult<(api_key::Model, String)> {
    let user_id = actor
        .user_id
        .ok_or_else(|| AppError::validation("API keys belong to a user account"))?;
    create_for(
        db,
        actor,
        user_id,
        name,
        role.unwrap_or(actor.role),
        expires_at,
    )
    .await
}

/// Creates a key for `username` (CLI). The key gets the user's role.
pub async fn create_for_username(
    db: &DatabaseConnection,
    actor: &Actor,
    username: &str,
    name: &str,
) -> AppResult<(api_key::Model, String)> {
    actor.require(Role::Admin)?;
    let user = users::find_by_username(db, username)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let role: Role = user.role.parse()?;
    create_for(db, actor, user.id, name, role, None).await
}

async fn create_for(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: i32,
    name: &str,
    role: Role,
    expires_at: Option<DateTime<Utc>>,
) -> AppResult<(api_key::Model, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("key name must be 1-100 characters"));
    }
    let owner = users::get(db, user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let owner_role: Role = owner.role.parse()?;
    if role > owner_role || (actor.method != AuthMethod::System && role > actor.role) {
        return Err(AppError::Forbidden(format!(
            "a key cannot have more rights than its creator ({})",
            actor.role.as_str().to_uppercase()
        )));
    }
    if expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(AppError::validation("expiresAt must be in the future"));
    }
    let token = tokens::new_api_key();
    let model = api_key::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        token_hash: Set(tokens::sha256_hex(&token)),
        prefix: Set(token.chars().take(10).collect()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        actor,
        "apikey.create",
        Some(format!("apikey:{}", model.id)),
        Some(serde_json::json!({ "name": name, "role": role.as_str(), "owner": owner.username })),
    )
    .await?;
    Ok((model, token))
}

/// The actor's keys; an ADMIN sees every key.
pub async fn list(db: &DatabaseConnection, actor: &Actor) -> AppResult<Vec<api_key::Model>> {
    let mut q = api_key::Entity::find().order_by_desc(api_key::Column::Id);
    if actor.role < Role::Admin {
        q = q.filter(api_key::Column::UserId.eq(actor.user_id.unwrap_or(-1)));
    }
    Ok(q.all(db).await?)
}

/// Revokes a key of the actor's (ADMIN: any key); returns its owner's id. Revoking twice is
/// harmless.
pub async fn revoke(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<i32> {
    let key = api_key::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|k| actor.role >= Role::Admin || Some(k.user_id) == actor.user_id)
        .ok_or(AppError::NotFound("API key"))?;
    // A caller acts within its own role: a VIEWER key cannot revoke its owner's ADMIN key.
    let key_role: Role = key.role.parse()?;
    if key_role > actor.role {
        return Err(AppError::Forbidden(format!(
            "revoking a {} key needs that role; you act as {}",
            key_role.as_str().to_uppercase(),
            actor.role.as_str().to_uppercase()
        )));
    }
    let owner = key.user_id;
    if key.revoked_at.is_some() {
        return Ok(owner);
    }
    let mut active: api_key::ActiveModel = key.into();
    active.revoked_at = Set(Some(Utc::now()));
    active.update(db).await?;
    audit::record(
        db,
        actor,
        "apikey.revoke",
        Some(format!("apikey:{id}")),
        None,
    )
    .await?;
    Ok(owner)
}

/// Resolves a bearer token to an actor. Unknown, revoked and expired keys, and keys of disabled
/// users, are `UNAUTHENTICATED` with a message saying which.
pub async fn authenticate(db: &DatabaseConnection, token: &str) -> AppResult<Actor> {
    let unauthenticated = |m: &str| AppError::InvalidCredentials(m.to_owned());
    if !token.starts_with(tokens::API_KEY_PREFIX) || token.len() > 200 {
        return Err(unauthenticated("invalid API key"));
    }
    // The key and its owner in one statement (every API request runs this).
    let (key, owner) = api_key::Entity::find()
        .filter(api_key::Column::TokenHash.eq(tokens::sha256_hex(token)))
        .find_also_related(user::Entity)
        .one(db)
        .await?
        .ok_or_else(|| unauthenticated("invalid API key"))?;
    let now = Utc::now();
    let actor = actor_with_owner(&key, owner)?;
    // Record use at most once a minute: no write on every request.
    if key
        .last_used_at
        .is_none_or(|t| now - t > Duration::seconds(60))
    {
        let mut active: api_key::ActiveModel = key.into();
        active.last_used_at = Set(Some(now));
        active.update(db).await?;
    }
    Ok(actor)
}

/// The actor of the key `key_id` as of now (an open websocket checks its key again with this).
pub async fn actor_of_id(db: &DatabaseConnection, key_id: i32) -> AppResult<Actor> {
    let key = api_key::Entity::find_by_id(key_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::InvalidCredentials("invalid API key".into()))?;
    actor_of(db, &key).await
}

/// Revoked and expired keys, and keys of disabled users, are `UNAUTHENTICATED`; the role is the
/// lower of the key's and its owner's.
async fn actor_of(db: &DatabaseConnection, key: &api_key::Model) -> AppResult<Actor> {
    actor_with_owner(key, users::get(db, key.user_id).await?)
}

/// [`actor_of`] with the owner's row already read.
fn actor_with_owner(key: &api_key::Model, owner: Option<user::Model>) -> AppResult<Actor> {
    let unauthenticated = |m: &str| AppError::InvalidCredentials(m.to_owned());
    let now = Utc::now();
    if key.revoked_at.is_some() {
        return Err(unauthenticated("API key has been revoked"));
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(unauthenticated("API key has expired"));
    }
    let user = owner
        .filter(|u| !u.disabled)
        .ok_or_else(|| unauthenticated("API key owner is disabled"))?;
    let user_role: Role = user.role.parse()?;
    let key_role: Role = key.role.parse()?;
    Ok(Actor {
        user_id: Some(user.id),
        username: user.username,
        role: key_role.min(user_role),
        method: AuthMethod::ApiKey { key_id: key.id },
    })
}
