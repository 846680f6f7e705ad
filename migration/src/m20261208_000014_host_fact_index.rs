//! The host facts' per-host index gains the fact (issue 15, found by the 100,000-host export):
//! with `(host_id, ended_at)` only, SQLite's planner (no statistics) answered "the open port
//! facts of these hosts" through `(fact, value)` — every port fact of the inventory for each
//! host. `(host_id, ended_at, fact)` matches all three constraints, so it is chosen.
//!
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD: &str = "idx_host_facts_host_id_ended_at";
const NEW: &str = "idx_host_facts_host_ended_fact";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NEW)
                    .table("host_facts")
                    .col("host_id")
                    .col("ended_at")
                    .col("fact")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(OLD).table("host_facts").to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table("host_facts")
                    .col("host_id")
                    .col("ended_at")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(NEW).table("host_facts").to_owned())
            .await
    }
}
