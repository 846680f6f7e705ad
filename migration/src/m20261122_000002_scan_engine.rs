//! Scan engine: each scan keeps the exact config it ran with (`scans.config_yaml`), and each
//! port its verdict against that config (`scan_ports.unexpected`; false where nothing was
//! declared, e.g. ad-hoc scans and imports without a config).
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
                    .table("scans")
                    .add_column(ColumnDef::new("config_yaml").text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("scan_ports")
                    .add_column(
                        ColumnDef::new("unexpected")
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("scan_ports")
                    .drop_column("unexpected")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("scans")
                    .drop_column("config_yaml")
                    .to_owned(),
            )
            .await
    }
}
