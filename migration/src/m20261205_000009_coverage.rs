//! Coverage (issue 13): the ports a scan probed, per protocol, as nmap's `<scaninfo>` lists
//! them (`{"tcp": "1-1000", "udp": null}`), so that a port outside them is "not probed", never
//! "closed". `None`: not recorded (scans from before, imports for now).
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("scans")
                    .add_column(ColumnDef::new("coverage").text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("scans")
                    .drop_column("coverage")
                    .to_owned(),
            )
            .await
    }
}
