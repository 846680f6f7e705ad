//! Saved views (issue 15): a user's named filter for one list page (hosts, changes,
//! certificates, scans). Unique per (user, page, name): saving under a name again replaces
//! the filter. Deleted with its user.
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
                    .table("saved_views")
                    .col(pk_auto("id"))
                    .col(integer("user_id"))
                    .col(string("page"))
                    .col(string("name"))
                    .col(text("filter"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_saved_views_user")
                            .from("saved_views", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_saved_views_user_page_name")
                    .table("saved_views")
                    .col("user_id")
                    .col("page")
                    .col("name")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("saved_views").to_owned())
            .await
    }
}
