//! Service analysis: what the HTTP probe saw beyond status, title and `Server` (the redirect
//! location and the response time), on `scan_services`.
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table("scan_services")
                    .add_column(ColumnDef::new("http_location").text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("scan_services")
                    .add_column(ColumnDef::new("http_response_ms").integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["http_response_ms", "http_location"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("scan_services")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
