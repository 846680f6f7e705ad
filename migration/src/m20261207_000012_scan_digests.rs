//! Scan digests (issue 13, the diff budget): per completed scan, one row holding a fingerprint
//! of what it saw of each host (`[[site, address, digest], …]` as JSON), written when its
//! history is recorded. A diff of two scans reads only the hosts whose fingerprints differ.
//! Deleted with its scan.
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
            .create_table(
                Table::create()
                    .table("scan_digests")
                    .col(integer("scan_id").primary_key())
                    .col(text("hosts"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scan_digests_scan")
                            .from("scan_digests", "scan_id")
                            .to("scans", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("scan_digests").to_owned())
            .await
    }
}
