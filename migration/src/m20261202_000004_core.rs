//! The wave-2 core: stored findings (`scan_findings`, written by the completion pipeline, with
//! `scans.findings_at` saying they exist), the owner of a session (`sessions.user_id`, so that
//! disabling a user or changing a password ends every session of theirs), and keyset indexes
//! for the paged reads (`scan_ips (scan_id, id)` and `(site_id, id)`, `scans (status, id)`).
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Sessions from before have no owner column to end them by: everyone signs in once more.
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM sessions")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("sessions")
                    .add_column(ColumnDef::new("user_id").integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user_id")
                    .table("sessions")
                    .col("user_id")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("scans")
                    .add_column(
                        ColumnDef::new("findings_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("scan_findings")
                    .col(pk_auto("id"))
                    .col(integer("scan_id"))
                    .col(string("code"))
                    .col(string("severity"))
                    .col(string("site"))
                    .col(string("address"))
                    .col(integer_null("port"))
                    .col(string_null("protocol"))
                    .col(text("message"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scan_findings_scan_id")
                            .from("scan_findings", "scan_id")
                            .to("scans", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, table, cols) in [
            (
                "idx_scan_findings_scan_id",
                "scan_findings",
                &["scan_id", "id"][..],
            ),
            (
                "idx_scan_ips_scan_id_id",
                "scan_ips",
                &["scan_id", "id"][..],
            ),
            (
                "idx_scan_ips_site_id_id",
                "scan_ips",
                &["site_id", "id"][..],
            ),
            ("idx_scans_status_id", "scans", &["status", "id"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_scans_status_id", "scans"),
            ("idx_scan_ips_scan_id_id", "scan_ips"),
            ("idx_scan_ips_site_id_id", "scan_ips"),
            ("idx_sessions_user_id", "sessions"),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table("scan_findings").to_owned())
            .await?;
        for (table, column) in [("scans", "findings_at"), ("sessions", "user_id")] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
