//! Alerts (issue 16): rules over change events, the alerts they raise, the channels that carry
//! them and the deliveries (the outbox).
//!
//! - `notification_channels`, `alert_rules` and `alerts` are made anew: the first migration's
//!   placeholders were never written by any code.
//! - `notification_channels`: a webhook, Slack-compatible webhook or email channel. `secret`
//!   (a webhook's `whsec_…`) and `url` (a Slack URL holds its token) are never returned by the API.
//! - `alert_rules` (+ `alert_rule_channels`): change kinds (JSON list) × minimum severity × scope
//!   (the filter language) × confirm after N scans × cooldown. Three defaults ship disabled.
//! - `alerts`: one open alert (OPEN or ACKNOWLEDGED) per (rule, subject), kept by a partial
//!   unique index; `alert_events` links the change events attached to it.
//! - `alert_streaks`: a (rule, subject) seen in consecutive scans, until it is confirmed.
//! - `deliveries`: one message to one channel (`alert.opened`, `alert.resolved`, `test`), written
//!   in the transaction that raised it; PENDING until SENT, or FAILED after a day of retries.
//!
//! Never edit this file once it has landed: add a new migration instead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The shipped rules: name, kinds, minimum severity, scope.
const DEFAULT_RULES: [(&str, &str, &str, &str); 3] = [
    ("Unexpected port", r#"["UNEXPECTED_PORT"]"#, "LOW", ""),
    (
        "Certificate expiring in 14 days",
        r#"["CERT_EXPIRING","CERT_EXPIRED"]"#,
        "INFO",
        "cert.expires<14d",
    ),
    ("Scan failed", r#"["SCAN_FAILED"]"#, "INFO", ""),
];

fn fk(
    name: &str,
    from: (&'static str, &'static str),
    to: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(*c);
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["alerts", "alert_rules", "notification_channels"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("notification_channels")
                    .col(pk_auto("id"))
                    .col(string("name"))
                    .col(string("kind"))
                    .col(boolean("enabled"))
                    .col(text_null("url"))
                    .col(text_null("secret"))
                    .col(text_null("email_to"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("idx_channels_name", "notification_channels", &["name"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("alert_rules")
                    .col(pk_auto("id"))
                    .col(string("name"))
                    .col(boolean("enabled"))
                    .col(text("events"))
                    .col(string("min_severity"))
                    .col(text("scope"))
                    .col(integer("confirm_after_scans"))
                    .col(integer("cooldown_minutes"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("idx_alert_rules_name", "alert_rules", &["name"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("alert_rule_channels")
                    .col(integer("rule_id"))
                    .col(integer("channel_id"))
                    .primary_key(Index::create().col("rule_id").col("channel_id"))
                    .foreign_key(&mut fk(
                        "fk_arc_rule",
                        ("alert_rule_channels", "rule_id"),
                        "alert_rules",
                    ))
                    .foreign_key(&mut fk(
                        "fk_arc_channel",
                        ("alert_rule_channels", "channel_id"),
                        "notification_channels",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_arc_channel",
                "alert_rule_channels",
                &["channel_id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("alerts")
                    .col(pk_auto("id"))
                    .col(integer("rule_id"))
                    .col(string("subject"))
                    .col(string("kind"))
                    .col(string("severity"))
                    .col(string("status"))
                    .col(string_null("site"))
                    .col(string_null("address"))
                    .col(string_null("protocol"))
                    .col(integer_null("port"))
                    .col(integer_null("host_id"))
                    .col(text("summary"))
                    .col(integer("event_count"))
                    .col(timestamp_with_time_zone("last_event_at"))
                    .col(boolean("notified"))
                    .col(string_null("acknowledged_by"))
                    .col(timestamp_with_time_zone_null("acknowledged_at"))
                    .col(text_null("note"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    .col(string_null("resolved_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "fk_alerts_rule",
                        ("alerts", "rule_id"),
                        "alert_rules",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_alerts_rule_subject",
                "alerts",
                &["rule_id", "subject"],
            ))
            .await?;
        manager
            .create_index(index("idx_alerts_updated_at", "alerts", &["updated_at"]))
            .await?;
        // One open alert per (rule, subject): partial indexes work on both databases.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX idx_alerts_open_subject ON alerts (rule_id, subject) \
                 WHERE status <> 'RESOLVED'",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("alert_events")
                    .col(integer("alert_id"))
                    .col(integer("event_id"))
                    .primary_key(Index::create().col("alert_id").col("event_id"))
                    .foreign_key(&mut fk(
                        "fk_alert_events_alert",
                        ("alert_events", "alert_id"),
                        "alerts",
                    ))
                    .foreign_key(&mut fk(
                        "fk_alert_events_event",
                        ("alert_events", "event_id"),
                        "change_events",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_alert_events_event",
                "alert_events",
                &["event_id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("alert_streaks")
                    .col(pk_auto("id"))
                    .col(integer("rule_id"))
                    .col(string("subject"))
                    .col(integer("scans"))
                    .col(integer_null("last_scan_id"))
                    .col(text("event_ids"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "fk_alert_streaks_rule",
                        ("alert_streaks", "rule_id"),
                        "alert_rules",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "idx_alert_streaks_rule_subject",
                    "alert_streaks",
                    &["rule_id", "subject"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("deliveries")
                    .col(pk_auto("id"))
                    .col(integer_null("alert_id"))
                    .col(integer("channel_id"))
                    .col(string("kind"))
                    .col(string("status"))
                    .col(integer("attempts"))
                    .col(integer_null("status_code"))
                    .col(text_null("last_error"))
                    .col(text("payload"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("give_up_at"))
                    .col(timestamp_with_time_zone_null("queued_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "fk_deliveries_alert",
                        ("deliveries", "alert_id"),
                        "alerts",
                    ))
                    .foreign_key(&mut fk(
                        "fk_deliveries_channel",
                        ("deliveries", "channel_id"),
                        "notification_channels",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_deliveries_due",
                "deliveries",
                &["status", "next_attempt_at"],
            ))
            .await?;
        manager
            .create_index(index("idx_deliveries_alert", "deliveries", &["alert_id"]))
            .await?;
        manager
            .create_index(index(
                "idx_deliveries_channel",
                "deliveries",
                &["channel_id", "id"],
            ))
            .await?;
        let now = match manager.get_database_backend() {
            DbBackend::Postgres => "now()",
            _ => "strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')",
        };
        for (name, events, severity, scope) in DEFAULT_RULES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "INSERT INTO alert_rules (name, enabled, events, min_severity, scope, \
                     confirm_after_scans, cooldown_minutes, created_by, created_at, updated_at) \
                     VALUES ('{name}', false, '{events}', '{severity}', '{scope}', 1, 0, 'system', \
                     {now}, {now})"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "deliveries",
            "alert_streaks",
            "alert_events",
            "alerts",
            "alert_rule_channels",
            "alert_rules",
            "notification_channels",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        // The first migration's placeholders, as they were (its own `down` drops them).
        manager
            .create_table(
                Table::create()
                    .table("notification_channels")
                    .col(pk_auto("id"))
                    .col(string("name"))
                    .col(string("kind"))
                    .col(text("target"))
                    .col(boolean("enabled"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("alert_rules")
                    .col(pk_auto("id"))
                    .col(string("name"))
                    .col(string("kind"))
                    .col(text("condition"))
                    .col(integer_null("config_id"))
                    .col(integer_null("channel_id"))
                    .col(boolean("enabled"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("alerts")
                    .col(pk_auto("id"))
                    .col(integer_null("rule_id"))
                    .col(integer("scan_id"))
                    .col(string("severity"))
                    .col(text("message"))
                    .col(boolean("acknowledged"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
