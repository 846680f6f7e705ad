//! History (issue 13): the host inventory, the observation intervals of each fact of a host,
//! the append-only log of typed change events and the certificate inventory.
//!
//! - `hosts`: one row per (site, address) ever seen, with its last state, first/last seen, the
//!   last scan that observed it, and what an operator says of it (tags, owner, notes).
//! - `host_facts`: one interval per (host, fact, key, value): first/last seen and the scans
//!   that opened and ended it (`ended_at` null: the fact still holds).
//! - `change_events`: what changed, written when a scan or an import completes; an event keeps
//!   its facts when its scan is deleted (the link becomes null).
//! - `certificates`: every certificate seen, by SHA-256 fingerprint.
//! - `scans.history_at` / `scans.baseline_id`: the scan's history is recorded (once) and the
//!   scan it was compared with.
//!
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn scan_link(table: &'static str, column: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to("scans", "id")
        .on_delete(ForeignKeyAction::SetNull)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("hosts")
                    .col(pk_auto("id"))
                    .col(string("site"))
                    .col(string("address"))
                    .col(string_null("hostname"))
                    .col(string("state"))
                    .col(integer("open_ports").default(0))
                    .col(timestamp_with_time_zone("first_seen_at"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .col(timestamp_with_time_zone_null("last_up_at"))
                    .col(integer_null("last_scan_id"))
                    .col(text("tags").default("[]"))
                    .col(string_null("owner"))
                    .col(text_null("notes"))
                    .foreign_key(&mut scan_link("hosts", "last_scan_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_hosts_site_address")
                    .table("hosts")
                    .col("site")
                    .col("address")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("host_facts")
                    .col(big_pk_auto("id"))
                    .col(integer("host_id"))
                    .col(string("fact"))
                    .col(string("key"))
                    .col(text("value"))
                    .col(timestamp_with_time_zone("first_seen_at"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .col(integer_null("first_scan_id"))
                    .col(integer_null("last_scan_id"))
                    .col(timestamp_with_time_zone_null("ended_at"))
                    .col(integer_null("ended_scan_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("host_facts", "host_id")
                            .to("hosts", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut scan_link("host_facts", "first_scan_id"))
                    .foreign_key(&mut scan_link("host_facts", "last_scan_id"))
                    .foreign_key(&mut scan_link("host_facts", "ended_scan_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_host_facts_host_id_ended_at")
                    .table("host_facts")
                    .col("host_id")
                    .col("ended_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_host_facts_fact_value")
                    .table("host_facts")
                    .col("fact")
                    .col("value")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("change_events")
                    .col(pk_auto("id"))
                    .col(string("kind"))
                    .col(string("severity"))
                    .col(timestamp_with_time_zone("at"))
                    .col(integer_null("scan_id"))
                    .col(integer_null("baseline_scan_id"))
                    .col(integer_null("host_id"))
                    .col(string_null("site"))
                    .col(string_null("address"))
                    .col(string_null("protocol"))
                    .col(integer_null("port"))
                    .col(text_null("before"))
                    .col(text_null("after"))
                    .col(text("summary"))
                    .foreign_key(&mut scan_link("change_events", "scan_id"))
                    .foreign_key(&mut scan_link("change_events", "baseline_scan_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("change_events", "host_id")
                            .to("hosts", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_change_events_scan_id", &["scan_id", "id"][..]),
            ("idx_change_events_host_id", &["host_id", "id"][..]),
            ("idx_change_events_at", &["at"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table("change_events");
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("certificates")
                    .col(pk_auto("id"))
                    .col(string("sha256_fingerprint"))
                    .col(text("subject"))
                    .col(text("issuer"))
                    .col(text("sans"))
                    .col(timestamp_with_time_zone_null("not_before"))
                    .col(timestamp_with_time_zone_null("not_after"))
                    .col(boolean("self_signed"))
                    .col(string_null("key_type"))
                    .col(integer_null("key_bits"))
                    .col(timestamp_with_time_zone("first_seen_at"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_certificates_sha256_fingerprint")
                    .table("certificates")
                    .col("sha256_fingerprint")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_certificates_not_after")
                    .table("certificates")
                    .col("not_after")
                    .to_owned(),
            )
            .await?;
        for column in [
            ColumnDef::new("history_at")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new("baseline_id").integer().null().to_owned(),
        ] {
            manager
                .alter_table(Table::alter().table("scans").add_column(column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["history_at", "baseline_id"] {
            manager
                .alter_table(Table::alter().table("scans").drop_column(column).to_owned())
                .await?;
        }
        for table in ["certificates", "change_events", "host_facts", "hosts"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
