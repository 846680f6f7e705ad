//! GraphQL for alerts (issue 16, DESIGN §13): `channels`, `alertRules`, `alerts(filter)`,
//! `alert`, channel and rule create/update/delete, `testChannel`, `acknowledgeAlert`,
//! `resolveAlert`, `retryDelivery`, `generateWebhookSecret`, and the `alertUpdates`
//! subscription. Thin over `service::alerts`; a channel's URL and secret are never answered.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::Value;

use entity::{alert, alert_rule, delivery, notification_channel as channel};

use crate::config::Settings;
use crate::domain;
use crate::error::{AppError, GqlError, GqlResult};
use crate::events::EventBus;
use crate::graphql::connection::connection;
use crate::graphql::context::{ContextExt, or_none, parse_id};
use crate::graphql::enums::{Severity, typed};
use crate::graphql::history::{ChangeEvent, ChangeKind};
use crate::service::alerts::{self as service, ChannelInput as InputC, RuleInput as InputR};
use crate::service::pagination::PageRequest;

/// Where a channel sends.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "service::ChannelKind")]
pub enum ChannelKind {
    /// JSON POST signed per Standard Webhooks v1.
    Webhook,
    /// A Slack-compatible incoming webhook (`{"text": …}`).
    Slack,
    /// Email through the server's SMTP settings.
    Email,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    fn parse(s: &str) -> Self {
        match s {
            service::status::ACKNOWLEDGED => Self::Acknowledged,
            service::status::RESOLVED => Self::Resolved,
            _ => Self::Open,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => service::status::OPEN,
            Self::Acknowledged => service::status::ACKNOWLEDGED,
            Self::Resolved => service::status::RESOLVED,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum DeliveryStatus {
    Pending,
    Sent,
    Failed,
}

fn severity(text: &str) -> Severity {
    typed(
        &text.to_lowercase(),
        domain::findings::Severity::parse,
        domain::findings::Severity::Info,
    )
    .into()
}

pub struct NotificationChannel(pub channel::Model);

#[Object]
impl NotificationChannel {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> ChannelKind {
        service::ChannelKind::parse(&self.0.kind)
            .unwrap_or(service::ChannelKind::Webhook)
            .into()
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Where it sends, redacted: scheme, host and port of a URL (its path may hold a token);
    /// the addresses of an email channel. The URL and the secret are never answered.
    async fn target(&self) -> String {
        service::redacted_target(&self.0)
    }
    /// Whether a signing secret is stored (webhooks).
    async fn has_secret(&self) -> bool {
        self.0.secret.is_some()
    }
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Its latest deliveries, newest first (at most 20).
    async fn deliveries(&self, ctx: &Context<'_>) -> GqlResult<Vec<Delivery>> {
        ctx.actor()?;
        Ok(
            service::channel_deliveries(ctx.db(), self.0.id, service::CHANNEL_DELIVERIES)
                .await?
                .into_iter()
                .map(Delivery)
                .collect(),
        )
    }
}

pub struct AlertRule(pub alert_rule::Model);

#[Object]
impl AlertRule {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// The change kinds it matches.
    async fn events(&self) -> Vec<ChangeKind> {
        service::rule_events(&self.0)
            .into_iter()
            .map(Into::into)
            .collect()
    }
    async fn min_severity(&self) -> Severity {
        service::rule_severity(&self.0).into()
    }
    /// A filter (site, address, hostname, port, protocol, tag, owner, kind, severity,
    /// cert.expires); empty: everything.
    async fn scope(&self) -> &str {
        &self.0.scope
    }
    /// An alert opens once the subject matched this many consecutive scans.
    async fn confirm_after_scans(&self) -> i32 {
        self.0.confirm_after_scans
    }
    /// A new alert for a subject within this many minutes of its last notified one opens
    /// without a notice.
    async fn cooldown_minutes(&self) -> i32 {
        self.0.cooldown_minutes
    }
    async fn channels(&self, ctx: &Context<'_>) -> GqlResult<Vec<NotificationChannel>> {
        ctx.actor()?;
        Ok(service::rule_channels(ctx.db(), self.0.id)
            .await?
            .into_iter()
            .map(NotificationChannel)
            .collect())
    }
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct Alert(pub alert::Model);

#[Object]
impl Alert {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn rule(&self, ctx: &Context<'_>) -> GqlResult<Option<AlertRule>> {
        or_none(
            service::rule(ctx.db(), ctx.actor()?, self.0.rule_id).await,
            AlertRule,
        )
    }
    /// What it is about: `<site>/<address>`, `<site>/<address>/<protocol>/<port>` or
    /// `config:<id>`.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// The change kind that opened it.
    async fn kind(&self) -> ChangeKind {
        typed(
            &self.0.kind,
            domain::changes::ChangeKind::parse,
            domain::changes::ChangeKind::PortOpened,
        )
        .into()
    }
    /// The most severe of its events.
    async fn severity(&self) -> Severity {
        severity(&self.0.severity)
    }
    async fn status(&self) -> AlertStatus {
        AlertStatus::parse(&self.0.status)
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    async fn site(&self) -> Option<&str> {
        self.0.site.as_deref()
    }
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    async fn protocol(&self) -> Option<&str> {
        self.0.protocol.as_deref()
    }
    async fn port(&self) -> Option<i32> {
        self.0.port
    }
    async fn host_id(&self) -> Option<ID> {
        self.0.host_id.map(|h| ID(h.to_string()))
    }
    async fn event_count(&self) -> i32 {
        self.0.event_count
    }
    /// The change events attached, oldest first.
    async fn events(&self, ctx: &Context<'_>) -> GqlResult<Vec<ChangeEvent>> {
        ctx.actor()?;
        Ok(service::events(ctx.db(), self.0.id)
            .await?
            .into_iter()
            .map(ChangeEvent)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn last_event_at(&self) -> DateTime<Utc> {
        self.0.last_event_at
    }
    async fn acknowledged_by(&self) -> Option<&str> {
        self.0.acknowledged_by.as_deref()
    }
    async fn acknowledged_at(&self) -> Option<DateTime<Utc>> {
        self.0.acknowledged_at
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    /// `system` (its condition ended) or who resolved it.
    async fn resolved_by(&self) -> Option<&str> {
        self.0.resolved_by.as_deref()
    }
    /// Its notices (opened, resolved) per channel, oldest first.
    async fn deliveries(&self, ctx: &Context<'_>) -> GqlResult<Vec<Delivery>> {
        ctx.actor()?;
        Ok(service::deliveries(ctx.db(), self.0.id)
            .await?
            .into_iter()
            .map(Delivery)
            .collect())
    }
}

connection!(AlertConnection, AlertEdge, Alert);

pub struct Delivery(pub delivery::Model);

#[Object]
impl Delivery {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn channel(&self, ctx: &Context<'_>) -> GqlResult<Option<NotificationChannel>> {
        or_none(
            service::channel(ctx.db(), ctx.actor()?, self.0.channel_id).await,
            NotificationChannel,
        )
    }
    async fn alert_id(&self) -> Option<ID> {
        self.0.alert_id.map(|a| ID(a.to_string()))
    }
    /// `alert.opened`, `alert.resolved` or `test`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn status(&self) -> DeliveryStatus {
        match self.0.status.as_str() {
            service::status::SENT => DeliveryStatus::Sent,
            service::status::FAILED => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// The receiver's HTTP status (or SMTP reply code) at the last attempt.
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
    /// When the next attempt is due (PENDING).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == service::status::PENDING).then_some(self.0.next_attempt_at)
    }
    /// The body sent to a webhook (what a Slack message and an email are made from).
    async fn payload(&self) -> Json<Value> {
        Json(serde_json::from_str(&self.0.payload).unwrap_or(Value::Null))
    }
}

/// A channel's settings. `url` and `secret` are write-only: on update, absent (or empty) keeps
/// the stored value.
#[derive(InputObject)]
pub struct ChannelInput {
    /// Unique, 1-80 characters.
    pub name: String,
    /// Required on create; cannot change.
    pub kind: Option<ChannelKind>,
    /// WEBHOOK and SLACK: http(s) URL. An internal address needs an admin's allow.
    pub url: Option<String>,
    /// WEBHOOK: `whsec_` + base64 of 24-64 bytes (`generateWebhookSecret`).
    pub secret: Option<String>,
    /// EMAIL: addresses separated by commas.
    pub email_to: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

impl From<ChannelInput> for InputC {
    fn from(i: ChannelInput) -> Self {
        Self {
            name: i.name,
            kind: i.kind.map(Into::into),
            url: i.url,
            secret: i.secret,
            email_to: i.email_to,
            enabled: i.enabled.unwrap_or(true),
        }
    }
}

/// A rule's settings (create and update take them whole).
#[derive(InputObject)]
pub struct AlertRuleInput {
    /// Unique, 1-80 characters.
    pub name: String,
    /// Default true.
    pub enabled: Option<bool>,
    /// At least one change kind.
    pub events: Vec<ChangeKind>,
    /// Default INFO.
    pub min_severity: Option<Severity>,
    /// A filter; empty: everything.
    pub scope: Option<String>,
    /// 1-100 (default 1).
    pub confirm_after_scans: Option<i32>,
    /// 0-43,200 (default 0).
    pub cooldown_minutes: Option<i32>,
    /// Default none (alerts are raised and listed, nothing is sent).
    pub channel_ids: Option<Vec<ID>>,
}

impl AlertRuleInput {
    fn into_service(self) -> GqlResult<InputR> {
        let channel_ids = self
            .channel_ids
            .unwrap_or_default()
            .iter()
            .map(|id| {
                parse_id(id, "channel")
                    .map_err(|_| AppError::validation("channelIds: not a channel id"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(InputR {
            name: self.name,
            enabled: self.enabled.unwrap_or(true),
            events: self.events.into_iter().map(Into::into).collect(),
            min_severity: self
                .min_severity
                .map_or(domain::findings::Severity::Info, Into::into),
            scope: self.scope.unwrap_or_default(),
            confirm_after_scans: self.confirm_after_scans.unwrap_or(1),
            cooldown_minutes: self.cooldown_minutes.unwrap_or(0),
            channel_ids,
        })
    }
}

fn settings<'a>(ctx: &'a Context<'_>) -> &'a Arc<Settings> {
    ctx.data_unchecked::<Arc<Settings>>()
}

#[derive(Default)]
pub struct AlertQuery;

#[Object]
impl AlertQuery {
    /// Notification channels, by name (VIEWER).
    async fn channels(&self, ctx: &Context<'_>) -> GqlResult<Vec<NotificationChannel>> {
        Ok(service::channels(ctx.db(), ctx.actor()?)
            .await?
            .into_iter()
            .map(NotificationChannel)
            .collect())
    }

    /// Alert rules, by name (VIEWER).
    async fn alert_rules(&self, ctx: &Context<'_>) -> GqlResult<Vec<AlertRule>> {
        Ok(service::rules(ctx.db(), ctx.actor()?)
            .await?
            .into_iter()
            .map(AlertRule)
            .collect())
    }

    /// Alerts, newest first (VIEWER), narrowed by the filter language (site, address, port,
    /// protocol, kind, severity, changed; hostname, tag, owner, state, seen of the host) and a
    /// status (`open: true`: OPEN or ACKNOWLEDGED).
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<String>,
        status: Option<AlertStatus>,
        open: Option<bool>,
    ) -> GqlResult<AlertConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let state = match (status, open) {
            (Some(s), _) => Some(s.as_str()),
            (None, Some(true)) => Some("OPEN_OR_ACKNOWLEDGED"),
            _ => None,
        };
        let page = service::list(ctx.db(), ctx.actor()?, page, filter.as_deref(), state).await?;
        Ok(AlertConnection::from_page(page, |a| a.id, Alert))
    }

    async fn alert(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Alert>> {
        or_none(
            service::get(ctx.db(), ctx.actor()?, parse_id(&id, "alert")?).await,
            Alert,
        )
    }

    /// A fresh webhook signing secret for a channel form (ADMIN); nothing is stored.
    async fn generate_webhook_secret(&self, ctx: &Context<'_>) -> GqlResult<String> {
        Ok(service::generate_secret(ctx.actor()?)?)
    }
}

#[derive(Default)]
pub struct AlertMutation;

#[Object]
impl AlertMutation {
    /// Creates a channel (ADMIN).
    async fn create_channel(
        &self,
        ctx: &Context<'_>,
        input: ChannelInput,
    ) -> GqlResult<NotificationChannel> {
        Ok(NotificationChannel(
            service::create_channel(ctx.db(), ctx.actor()?, input.into()).await?,
        ))
    }

    /// Changes a channel (ADMIN).
    async fn update_channel(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ChannelInput,
    ) -> GqlResult<NotificationChannel> {
        let id = parse_id(&id, "channel")?;
        Ok(NotificationChannel(
            service::update_channel(ctx.db(), ctx.actor()?, id, input.into()).await?,
        ))
    }

    /// Deletes a channel and its deliveries (ADMIN).
    async fn delete_channel(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        service::delete_channel(ctx.db(), ctx.actor()?, parse_id(&id, "channel")?).await?;
        Ok(true)
    }

    /// Sends a test message now (ADMIN) and answers the delivery after that first attempt.
    async fn test_channel(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Delivery> {
        let id = parse_id(&id, "channel")?;
        Ok(Delivery(
            service::test_channel(ctx.db(), ctx.actor()?, settings(ctx), id).await?,
        ))
    }

    /// Creates a rule (OPERATOR).
    async fn create_alert_rule(
        &self,
        ctx: &Context<'_>,
        input: AlertRuleInput,
    ) -> GqlResult<AlertRule> {
        let input = input.into_service()?;
        Ok(AlertRule(
            service::create_rule(ctx.db(), ctx.actor()?, input).await?,
        ))
    }

    /// Replaces a rule's settings (OPERATOR).
    async fn update_alert_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: AlertRuleInput,
    ) -> GqlResult<AlertRule> {
        let input = input.into_service()?;
        let id = parse_id(&id, "alert rule")?;
        Ok(AlertRule(
            service::update_rule(ctx.db(), ctx.actor()?, id, input).await?,
        ))
    }

    /// Deletes a rule with its alerts (OPERATOR).
    async fn delete_alert_rule(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        service::delete_rule(ctx.db(), ctx.actor()?, parse_id(&id, "alert rule")?).await?;
        Ok(true)
    }

    /// Acknowledges an alert (OPERATOR): who, when, a note; it stays open until its condition
    /// ends.
    async fn acknowledge_alert(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> GqlResult<Alert> {
        let id = parse_id(&id, "alert")?;
        Ok(Alert(
            service::acknowledge(ctx.db(), ctx.actor()?, id, note).await?,
        ))
    }

    /// Resolves an alert by hand (OPERATOR); a resolve notice follows a notified alert.
    async fn resolve_alert(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> GqlResult<Alert> {
        let id = parse_id(&id, "alert")?;
        Ok(Alert(
            service::resolve(ctx.db(), ctx.actor()?, id, note).await?,
        ))
    }

    /// Sends a pending or failed delivery again from now (OPERATOR).
    async fn retry_delivery(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Delivery> {
        let id = parse_id(&id, "delivery")?;
        Ok(Delivery(
            service::retry_delivery(ctx.db(), ctx.actor()?, &settings(ctx).alerts, id).await?,
        ))
    }
}

#[derive(Default)]
pub struct AlertSubscription;

#[Subscription]
impl AlertSubscription {
    /// Alerts as they open, take events, are acknowledged, resolved or delivered (VIEWER;
    /// within about a second, whichever process changed them).
    async fn alert_updates(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Alert> + use<>, GqlError> {
        let actor = ctx.actor()?.clone();
        actor.require(domain::auth::Role::Viewer)?;
        let rx = ctx.data_unchecked::<EventBus>().alert_changes();
        let db = ctx.db().clone();
        Ok(
            crate::graphql::subscription::bus_stream(rx).filter_map(move |id| {
                let (db, actor) = (db.clone(), actor.clone());
                async move { service::get(&db, &actor, id).await.ok().map(Alert) }
            }),
        )
    }
}
