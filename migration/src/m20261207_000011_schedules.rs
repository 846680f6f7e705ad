//! Schedules (issue 14): scans that run themselves.
//!
//! - `schedules` is made anew: the placeholder of the first migration was never written by any
//!   code, and its config link deleted a schedule with its config (a schedule whose config is
//!   deleted is now kept, disabled with a reason: `config_id` becomes null).
//!   A schedule is a cron expression in an IANA timezone with its overlap and misfire policies;
//!   `next_run_at` is the next firing not handled yet (the cursor every replica compares with
//!   the clock).
//! - `schedule_runs`: one row per (schedule, scheduled time) — STARTED with its scan,
//!   SKIPPED_OVERLAP or MISSED with the reason. The unique index is what makes a firing happen
//!   exactly once whatever the number of replicas.
//! - `scans.schedule_id`: the schedule that started a scan.
//!
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("schedules").to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("schedules")
                    .col(pk_auto("id"))
                    .col(string("name"))
                    .col(integer_null("config_id"))
                    .col(string("cron"))
                    .col(string("timezone"))
                    .col(boolean("enabled"))
                    .col(string("overlap_policy"))
                    .col(string("misfire_policy"))
                    .col(integer("starting_deadline_seconds"))
                    .col(text_null("disabled_reason"))
                    .col(timestamp_with_time_zone_null("next_run_at"))
                    .col(timestamp_with_time_zone_null("last_run_at"))
                    .col(string_null("last_outcome"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_schedules_config")
                            .from("schedules", "config_id")
                            .to("scan_configs", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("idx_schedules_name", &["name"][..], true),
            ("idx_schedules_due", &["enabled", "next_run_at"][..], false),
            ("idx_schedules_config", &["config_id"][..], false),
        ] {
            let mut index = Index::create();
            index.name(name).table("schedules");
            for col in cols {
                index.col(*col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("schedule_runs")
                    .col(pk_auto("id"))
                    .col(integer("schedule_id"))
                    .col(timestamp_with_time_zone("scheduled_for"))
                    .col(timestamp_with_time_zone("fired_at"))
                    .col(string("outcome"))
                    .col(integer_null("scan_id"))
                    .col(text_null("reason"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_schedule_runs_schedule")
                            .from("schedule_runs", "schedule_id")
                            .to("schedules", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_schedule_runs_scan")
                            .from("schedule_runs", "scan_id")
                            .to("scans", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schedule_runs_firing")
                    .table("schedule_runs")
                    .col("schedule_id")
                    .col("scheduled_for")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("scans")
                    .add_column(ColumnDef::new("schedule_id").integer().null().to_owned())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("scans")
                    .drop_column("schedule_id")
                    .to_owned(),
            )
            .await?;
        for table in ["schedule_runs", "schedules"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        // The first migration's placeholder, as it was (its own `down` drops it).
        manager
            .create_table(
                Table::create()
                    .table("schedules")
                    .col(pk_auto("id"))
                    .col(string("name"))
                    .col(integer("config_id"))
                    .col(string("cron"))
                    .col(boolean("enabled"))
                    .col(timestamp_with_time_zone_null("last_run_at"))
                    .col(timestamp_with_time_zone_null("next_run_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_schedules_config_id")
                            .from("schedules", "config_id")
                            .to("scan_configs", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schedules_config_id")
                    .table("schedules")
                    .col("config_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
