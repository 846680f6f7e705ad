//! Remote agents (issue 12): `agents` are the scanners that dial in (`sneakyscan agent`), each
//! with a token stored as SHA-256, a pool (a config site names the pool that scans it), the
//! version and time it was last seen, and whether it counts as online (flipped by one
//! conditional update, so each change is recorded once); `agent_events` records each going
//! online or offline (AGENT_ONLINE / AGENT_OFFLINE, for alerts). `scans.pool` is the agent pool
//! a scan runs in (none: the workers).
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("agents")
                    .col(pk_auto("id"))
                    .col(string_uniq("name"))
                    .col(string("pool"))
                    .col(string_uniq("token_hash"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(timestamp_with_time_zone_null("last_seen_at"))
                    .col(string_null("version"))
                    .col(boolean("online").default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("agent_events")
                    .col(big_pk_auto("id"))
                    .col(integer("agent_id"))
                    .col(string("kind"))
                    .col(timestamp_with_time_zone("at"))
                    .col(string_null("detail"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("agent_events", "agent_id")
                            .to("agents", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_agent_events_agent_id")
                    .table("agent_events")
                    .col("agent_id")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("scans")
                    .add_column(ColumnDef::new("pool").string().null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("scans").drop_column("pool").to_owned())
            .await?;
        for table in ["agent_events", "agents"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
