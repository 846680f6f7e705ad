//! Remote agents: scanners that dial in (`sneakyscan agent --server URL --token TOKEN`) and run
//! the scans of their pool. ADMINs create them (the token is shown once and stored as
//! SHA-256), VIEWERs list them, ADMINs revoke them. Going online or offline is recorded once
//! per change (`AGENT_ONLINE` / `AGENT_OFFLINE`): `online` is flipped by one conditional update,
//! so two replicas never record the same change twice.

use chrono::Utc;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use entity::{agent, agent_event, scan};

use crate::auth::tokens;
use crate::domain::auth::{Actor, Role};
use crate::domain::config::check_pool_name;
use crate::domain::status::ScanStatus;
use crate::error::{AppError, AppResult};
use crate::service::audit;
use crate::service::pagination::{Page, PageRequest};

/// Prefix of every agent token (API keys have `ssk_`).
pub const TOKEN_PREFIX: &str = "ssa_";

/// What an agent's going online or offline is recorded as.
pub const AGENT_ONLINE: &str = "AGENT_ONLINE";
pub const AGENT_OFFLINE: &str = "AGENT_OFFLINE";

/// An agent as listed.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    pub row: agent::Model,
    /// Connected (seen within a lease) and not revoked.
    pub online: bool,
    pub running_jobs: i64,
}

/// What `Scan.worker` names when an agent runs the scan.
pub fn worker_name(agent: &str) -> String {
    format!("agent:{agent}")
}

/// Creates an agent (ADMIN). The token is returned once and never stored.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    name: &str,
    pool: &str,
) -> AppResult<(agent::Model, String)> {
    actor.require(Role::Admin)?;
    let name = name.trim();
    let pool = pool.trim();
    check_pool_name(name)
        .map_err(|_| AppError::validation("name must be 1-64 letters, digits, '.', '_' or '-'"))?;
    check_pool_name(pool).map_err(AppError::validation)?;
    if agent::Entity::find()
        .filter(agent::Column::Name.eq(name))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "an agent named {name:?} exists already (revoked agents keep their name)"
        )));
    }
    let token = format!("{TOKEN_PREFIX}{}", tokens::random_token(32));
    let row = agent::ActiveModel {
        name: Set(name.to_owned()),
        pool: Set(pool.to_owned()),
        token_hash: Set(tokens::sha256_hex(&token)),
        created_by: Set(actor.username.clone()),
        created_at: Set(Utc::now()),
        online: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        actor,
        "agent.create",
        Some(format!("agent:{}", row.id)),
        Some(serde_json::json!({ "name": name, "pool": pool })),
    )
    .await?;
    Ok((row, token))
}

/// A page of agents, newest first (VIEWER); three statements.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    lease: chrono::TimeDelta,
    page: PageRequest,
) -> AppResult<Page<AgentInfo>> {
    actor.require(Role::Viewer)?;
    let total = agent::Entity::find().count(db).await?;
    let mut query = agent::Entity::find().order_by_desc(agent::Column::Id);
    if let Some(after) = page.after_id {
        query = query.filter(agent::Column::Id.lt(after));
    }
    let rows = query.limit(page.first + 1).all(db).await?;
    let running: Vec<(Option<String>, i64)> = scan::Entity::find()
        .select_only()
        .column(scan::Column::Worker)
        .column_as(Expr::expr(Func::count(Expr::col(scan::Column::Id))), "n")
        .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
        .filter(scan::Column::Worker.starts_with("agent:"))
        .group_by(scan::Column::Worker)
        .into_tuple()
        .all(db)
        .await?;
    let since = Utc::now() - lease;
    let agents: Vec<AgentInfo> = rows
        .into_iter()
        .map(|row| {
            let worker = worker_name(&row.name);
            AgentInfo {
                online: row.online
                    && row.revoked_at.is_none()
                    && row.last_seen_at.is_some_and(|t| t > since),
                running_jobs: running
                    .iter()
                    .find(|(w, _)| w.as_deref() == Some(worker.as_str()))
                    .map_or(0, |(_, n)| *n),
                row,
            }
        })
        .collect();
    Ok(Page::from_rows(agents, page.first, total))
}

/// Revokes an agent (ADMIN): its token stops working and its connections are closed (within
/// a heartbeat, on whichever replica holds them). Revoking twice is harmless.
pub async fn revoke(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<agent::Model> {
    actor.require(Role::Admin)?;
    let row = agent::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("agent"))?;
    if row.revoked_at.is_some() {
        return Ok(row);
    }
    let mut active: agent::ActiveModel = row.into();
    active.revoked_at = Set(Some(Utc::now()));
    let row = active.update(db).await?;
    audit::record(db, actor, "agent.revoke", Some(format!("agent:{id}")), None).await?;
    Ok(row)
}

/// The agent of a token; unknown and revoked tokens are `UNAUTHENTICATED`.
pub async fn authenticate(db: &DatabaseConnection, token: &str) -> AppResult<agent::Model> {
    let refused = |m: &str| AppError::InvalidCredentials(m.to_owned());
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
        return Err(refused("invalid agent token"));
    }
    let row = agent::Entity::find()
        .filter(agent::Column::TokenHash.eq(tokens::sha256_hex(token)))
        .one(db)
        .await?
        .ok_or_else(|| refused("invalid agent token"))?;
    if row.revoked_at.is_some() {
        return Err(refused("this agent has been revoked"));
    }
    Ok(row)
}

/// An agent connected: seen now, with its version; recorded online if it was not.
pub async fn connected(db: &DatabaseConnection, id: i32, version: &str) -> AppResult<()> {
    agent::Entity::update_many()
        .col_expr(agent::Column::LastSeenAt, Expr::value(Utc::now()))
        .col_expr(
            agent::Column::Version,
            Expr::value(version.chars().take(64).collect::<String>()),
        )
        .filter(agent::Column::Id.eq(id))
        .exec(db)
        .await?;
    let flipped = agent::Entity::update_many()
        .col_expr(agent::Column::Online, Expr::value(true))
        .filter(agent::Column::Id.eq(id))
        .filter(agent::Column::Online.eq(false))
        .exec(db)
        .await?
        .rows_affected;
    if flipped == 1 {
        record(db, id, AGENT_ONLINE, None).await?;
    }
    Ok(())
}

/// The heartbeat of a connected agent; `false` when it was revoked meanwhile (its connection
/// is then closed).
pub async fn seen(db: &DatabaseConnection, id: i32) -> AppResult<bool> {
    let updated = agent::Entity::update_many()
        .col_expr(agent::Column::LastSeenAt, Expr::value(Utc::now()))
        .filter(agent::Column::Id.eq(id))
        .filter(agent::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    Ok(updated == 1)
}

/// Records offline the agents not seen for a lease (disconnected, or their replica died);
/// returns how many. A reconnection within the lease records nothing.
pub async fn mark_offline(db: &DatabaseConnection, lease: chrono::TimeDelta) -> AppResult<usize> {
    let since = Utc::now() - lease;
    let lapsed = agent::Entity::find()
        .filter(agent::Column::Online.eq(true))
        .filter(
            Condition::any()
                .add(agent::Column::LastSeenAt.lt(since))
                .add(agent::Column::RevokedAt.is_not_null()),
        )
        .all(db)
        .await?;
    let mut marked = 0;
    for row in lapsed {
        let flipped = agent::Entity::update_many()
            .col_expr(agent::Column::Online, Expr::value(false))
            .filter(agent::Column::Id.eq(row.id))
            .filter(agent::Column::Online.eq(true))
            .exec(db)
            .await?
            .rows_affected;
        if flipped == 1 {
            let detail = if row.revoked_at.is_some() {
                "revoked".to_owned()
            } else {
                format!(
                    "not seen since {}",
                    row.last_seen_at.unwrap_or(row.created_at)
                )
            };
            record(db, row.id, AGENT_OFFLINE, Some(detail)).await?;
            tracing::warn!(agent = %row.name, "agent offline");
            marked += 1;
        }
    }
    Ok(marked)
}

async fn record(
    db: &DatabaseConnection,
    agent_id: i32,
    kind: &str,
    detail: Option<String>,
) -> AppResult<()> {
    agent_event::ActiveModel {
        agent_id: Set(agent_id),
        kind: Set(kind.to_owned()),
        at: Set(Utc::now()),
        detail: Set(detail),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The latest `limit` online/offline events of the agents `ids`, newest first (VIEWER).
pub async fn events(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[i32],
    limit: u64,
) -> AppResult<Vec<agent_event::Model>> {
    actor.require(Role::Viewer)?;
    Ok(agent_event::Entity::find()
        .filter(agent_event::Column::AgentId.is_in(ids.iter().copied()))
        .order_by_desc(agent_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
