//! Run artifacts in the database (issue 12, "no shared filesystem"): `scan_artifacts` holds the
//! files a run leaves behind — the raw nmap XML of each phase (gzip) and the page screenshots
//! (PNG) — stored with the results in one transaction, so every replica serves them. Deleting a
//! scan deletes its artifacts.
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
                    .table("scan_artifacts")
                    .col(big_pk_auto("id"))
                    .col(integer("scan_id"))
                    .col(string("name"))
                    .col(string("content_type"))
                    .col(string_null("content_encoding"))
                    .col(big_integer("size"))
                    .col(blob("content"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("scan_artifacts", "scan_id")
                            .to("scans", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scan_artifacts_scan_id_name")
                    .table("scan_artifacts")
                    .col("scan_id")
                    .col("name")
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("scan_artifacts").to_owned())
            .await?;
        Ok(())
    }
}
