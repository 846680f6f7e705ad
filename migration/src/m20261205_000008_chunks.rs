//! Chunks (issue 12, part 4): a scan over many addresses runs as chunks — child scans, each a
//! job of its own that any worker or agent of the pool claims — merged into their parent when
//! the last one ends. `parent_id` names a chunk's scan (the parent; chunks are hidden from
//! every list), `chunk` is its number (1-based, in target order), `chunk_count` is how many
//! chunks a parent has (`None`: not chunked). No foreign key on `parent_id` (SQLite cannot add
//! one to an existing table): deleting a scan deletes its chunks (`service::scans::delete`).
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &[&str] = &["parent_id", "chunk", "chunk_count"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for name in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table("scans")
                        .add_column(ColumnDef::new(*name).integer().null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_scans_parent_id")
                    .table("scans")
                    .col("parent_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_scans_parent_id")
                    .table("scans")
                    .to_owned(),
            )
            .await?;
        for name in COLUMNS.iter().rev() {
            manager
                .alter_table(Table::alter().table("scans").drop_column(*name).to_owned())
                .await?;
        }
        Ok(())
    }
}
