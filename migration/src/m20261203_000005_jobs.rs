//! Scans as jobs (issue 12): who runs a scan and under which lease. `worker` names the process
//! running (or that ran) the scan; `lease` is the fencing token of the current run (every write
//! of a run is conditional on it, so a run that lost its lease writes nothing); `lease_until`
//! is when the lease lapses unless its worker renews it; `attempt` counts runs started;
//! `cancel_requested_by` is a cancel request that the process running the scan honours;
//! `job_pushed_at` says the scan's job is in the job queue (a QUEUED scan without it is pushed
//! again by a worker's sweep). The job queue's own tables are apalis' (its migrations).
//! `login_failures` holds the sign-in limiter's failures, so that every replica counts the same
//! ones; `scan_workers` lists the processes that run scans (registered at start, seen every
//! heartbeat; not `workers`: apalis has a `Workers` table, and SQLite names ignore case).
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &[&str] = &[
    "worker",
    "lease",
    "lease_until",
    "attempt",
    "cancel_requested_by",
    "job_pushed_at",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            ColumnDef::new("worker").string().null().to_owned(),
            ColumnDef::new("lease").string().null().to_owned(),
            ColumnDef::new("lease_until")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new("attempt")
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new("cancel_requested_by")
                .string()
                .null()
                .to_owned(),
            ColumnDef::new("job_pushed_at")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("scans")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Scans that were queued before this migration have no job yet: the sweep pushes them.
        manager
            .create_table(
                Table::create()
                    .table("login_failures")
                    .col(big_pk_auto("id"))
                    .col(string("key"))
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_failures_key_at")
                    .table("login_failures")
                    .col("key")
                    .col("at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("scan_workers")
                    .col(string("name").primary_key())
                    .col(string("host"))
                    .col(integer("pid"))
                    .col(string("version"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone("last_seen"))
                    .col(timestamp_with_time_zone_null("stopped_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["scan_workers", "login_failures"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table("scans")
                        .drop_column(*column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
