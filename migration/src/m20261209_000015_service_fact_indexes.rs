//! PostgreSQL: indexes on what `service:`, `product:` and `version:` compare — the lowered
//! name, product and version of a host's open service facts (issue 15, found by `make bench`:
//! `hosts(filter: "port:443 product:nginx")` on 100,000 hosts, a page and its count, took
//! 374 ms, mostly parsing the JSON of every service fact; with them 163 ms). The filter
//! compiles exactly these expressions (`lower((f.value::json ->> 'product'))` with `f.fact =
//! 'service' AND f.ended_at IS NULL`), so the planner can use them. SQLite answers the same
//! call in 52 ms without them.
//!
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const KEYS: [&str; 3] = ["name", "product", "version"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, |key| {
            format!(
                "CREATE INDEX IF NOT EXISTS idx_host_facts_service_{key} ON host_facts \
                 (lower(value::json ->> '{key}')) WHERE fact = 'service' AND ended_at IS NULL"
            )
        })
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, |key| {
            format!("DROP INDEX IF EXISTS idx_host_facts_service_{key}")
        })
        .await
    }
}

/// Runs `sql(key)` for each of [`KEYS`], on PostgreSQL only.
async fn on_postgres(
    manager: &SchemaManager<'_>,
    sql: impl Fn(&str) -> String,
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for key in KEYS {
        manager
            .get_connection()
            .execute_unprepared(&sql(key))
            .await?;
    }
    Ok(())
}
