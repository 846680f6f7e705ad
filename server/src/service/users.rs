//! User accounts: creation, passwords, roles, the first-start admin.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

use entity::user;

use crate::auth::{password, tokens};
use crate::domain::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::service::{audit, sessions};

pub const ADMIN_USERNAME: &str = "admin";

fn validate_username(name: &str) -> AppResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(
            "username must be 1-64 characters: letters, digits, '_', '-', '.', '@'",
        ))
    }
}

pub async fn find_by_username(
    db: &DatabaseConnection,
    username: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?)
}

pub async fn get(db: &DatabaseConnection, id: i32) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// Creates a user (ADMIN only). Duplicate usernames are `CONFLICT`.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    username: &str,
    new_password: &str,
    role: Role,
) -> AppResult<user::Model> {
    actor.require(Role::Admin)?;
    validate_username(username)?;
    password::validate_new(new_password)?;
    if find_by_username(db, username).await?.is_some() {
        return Err(AppError::Conflict(format!(
            "user {username:?} already exists"
        )));
    }
    let hash = password::hash(new_password.to_owned()).await?;
    let now = Utc::now();
    let created = user::ActiveModel {
        username: Set(username.to_owned()),
        password_hash: Set(hash),
        role: Set(role.as_str().to_owned()),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| match e.sql_err() {
        // Lost a race with another create of the same name.
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Conflict(format!("user {username:?} already exists"))
        }
        _ => e.into(),
    })?;
    audit::record(
        db,
        actor,
        "user.create",
        Some(username.to_owned()),
        Some(serde_json::json!({ "role": role.as_str() })),
    )
    .await?;
    Ok(created)
}

/// Sets a password: ADMIN for anyone, any user for themselves. Ends the user's sessions.
pub async fn set_password(
    db: &DatabaseConnection,
    actor: &Actor,
    username: &str,
    new_password: &str,
) -> AppResult<()> {
    let user = find_by_username(db, username)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if actor.user_id != Some(user.id) {
        actor.require(Role::Admin)?;
    }
    password::validate_new(new_password)?;
    let hash = password::hash(new_password.to_owned()).await?;
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(hash);
    active.updated_at = Set(Utc::now());
    let user = active.update(db).await?;
    sessions::end_all(db, user.id).await?;
    audit::record(
        db,
        actor,
        "user.set_password",
        Some(username.to_owned()),
        None,
    )
    .await?;
    Ok(())
}

/// Changes a user's role and/or disables the account (ADMIN only). An admin cannot demote or
/// disable themselves, so the instance never loses its last way in by accident.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    role: Option<Role>,
    disabled: Option<bool>,
) -> AppResult<user::Model> {
    actor.require(Role::Admin)?;
    let user = get(db, id).await?.ok_or(AppError::NotFound("user"))?;
    if actor.user_id == Some(id)
        && (role.is_some_and(|r| r != Role::Admin) || disabled == Some(true))
    {
        return Err(AppError::Conflict(
            "you cannot demote or disable your own account".into(),
        ));
    }
    let username = user.username.clone();
    let mut active: user::ActiveModel = user.into();
    if let Some(role) = role {
        active.role = Set(role.as_str().to_owned());
    }
    if let Some(disabled) = disabled {
        active.disabled = Set(disabled);
    }
    active.updated_at = Set(Utc::now());
    let updated = active.update(db).await?;
    if disabled == Some(true) {
        sessions::end_all(db, id).await?;
    }
    audit::record(
        db,
        actor,
        "user.update",
        Some(username),
        Some(serde_json::json!({ "role": role.map(|r| r.as_str()), "disabled": disabled })),
    )
    .await?;
    Ok(updated)
}

pub async fn list(db: &DatabaseConnection, actor: &Actor) -> AppResult<Vec<user::Model>> {
    actor.require(Role::Admin)?;
    Ok(user::Entity::find()
        .order_by_asc(user::Column::Username)
        .all(db)
        .await?)
}

/// On first start (no users), creates `admin`. Returns the password when it was generated, so
/// the caller can print it once.
pub async fn ensure_admin(
    db: &DatabaseConnection,
    configured_password: Option<&str>,
) -> AppResult<Option<String>> {
    if user::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let (pw, generated) = match configured_password.filter(|p| !p.is_empty()) {
        Some(p) => (p.to_owned(), false),
        None => (tokens::random_token(18), true),
    };
    create(db, &Actor::system(), ADMIN_USERNAME, &pw, Role::Admin).await?;
    Ok(generated.then_some(pw))
}
