//! Alerts (issue 16): notification channels (ADMIN), alert rules (OPERATOR), the alerts they
//! raise (OPERATOR acknowledges and resolves; VIEWER reads) and their deliveries.
//!
//! Rules are evaluated in the transaction that records a scan's change events
//! ([`raise`], called by `service::history::record`, and for a failed scan by
//! [`scan_failed`]); the deliveries are written in that same transaction (the outbox), so no
//! event is lost between a scan's end and its notices. [`deliver`] sends them, as jobs.

pub mod deliver;
mod raise;
pub mod send;

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use entity::{
    alert, alert_event, alert_rule, alert_rule_channel, change_event, delivery,
    notification_channel as channel,
};

use crate::db;
use crate::domain::alerts::{MAX_CONFIRM_AFTER, MAX_COOLDOWN_MINUTES, Rule};
use crate::domain::auth::{Actor, Role};
use crate::domain::changes::ChangeKind;
use crate::domain::findings::Severity;
use crate::domain::notify::WebhookSecret;
use crate::error::{AppError, AppResult};
use crate::service::audit;
use crate::service::history::filter;
use crate::service::pagination::{Page, PageRequest};

pub use raise::{Raised, event_item, holding_items, raise, scan_failed, schedule_missed};

/// Where a channel sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Webhook,
    Slack,
    Email,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "WEBHOOK",
            ChannelKind::Slack => "SLACK",
            ChannelKind::Email => "EMAIL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ChannelKind::Webhook, ChannelKind::Slack, ChannelKind::Email]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An alert's state.
pub mod status {
    pub const OPEN: &str = "OPEN";
    pub const ACKNOWLEDGED: &str = "ACKNOWLEDGED";
    pub const RESOLVED: &str = "RESOLVED";
    pub const PENDING: &str = "PENDING";
    pub const SENT: &str = "SENT";
    pub const FAILED: &str = "FAILED";
}

const MAX_NAME_CHARS: usize = 80;
const MAX_URL_CHARS: usize = 2000;
const MAX_SCOPE_CHARS: usize = 2000;
const MAX_NOTE_CHARS: usize = 2000;
/// Deliveries a channel lists (its latest).
pub const CHANNEL_DELIVERIES: u64 = 20;

fn check_name(field: &str, name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AppError::validation(format!(
            "{field}: 1 to {MAX_NAME_CHARS} characters, no control characters"
        )));
    }
    Ok(name.to_owned())
}

/// Records `action` on `target` in the audit log and commits: every change here ends so.
async fn commit_audited(
    txn: sea_orm::DatabaseTransaction,
    actor: &Actor,
    action: &str,
    target: String,
    detail: Option<serde_json::Value>,
) -> AppResult<()> {
    audit::record(&txn, actor, action, Some(target), detail).await?;
    txn.commit().await?;
    Ok(())
}

fn conflict_on_name(e: sea_orm::DbErr, what: &str, name: &str) -> AppError {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Conflict(format!("a {what} named {name:?} exists"))
        }
        _ => e.into(),
    }
}

// ---------------------------------------------------------------------------------------
// Channels (ADMIN)

/// A channel's settings. `url` and `secret` are write-only: absent on update keeps them.
#[derive(Debug, Clone, Default)]
pub struct ChannelInput {
    pub name: String,
    pub kind: Option<ChannelKind>,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub email_to: Option<String>,
    pub enabled: bool,
}

/// What the API shows of a channel's target: scheme, host and port of a URL (a path may hold
/// a token), the addresses of an email channel.
pub fn redacted_target(row: &channel::Model) -> String {
    match ChannelKind::parse(&row.kind) {
        Some(ChannelKind::Email) => row.email_to.clone().unwrap_or_default(),
        _ => row
            .url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .map(|u| {
                let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("{}://{}{port}/…", u.scheme(), u.host_str().unwrap_or(""))
            })
            .unwrap_or_default(),
    }
}

/// A URL a channel may post to: http(s), a host, no credentials in it.
fn check_url(url: &str) -> AppResult<reqwest::Url> {
    if url.len() > MAX_URL_CHARS {
        return Err(AppError::validation(format!(
            "url: at most {MAX_URL_CHARS} characters"
        )));
    }
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| AppError::validation(format!("url: not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(AppError::validation("url: http or https only"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(AppError::validation("url: no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(AppError::validation(
            "url: no user or password in the URL (webhooks are signed instead)",
        ));
    }
    Ok(parsed)
}

/// Comma-separated mailboxes, each parsed as lettre does.
pub fn parse_recipients(text: &str) -> Result<Vec<lettre::message::Mailbox>, String> {
    let list: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if list.is_empty() || list.len() > 50 {
        return Err("emailTo: 1 to 50 addresses, separated by commas".into());
    }
    list.into_iter()
        .map(|a| {
            a.parse::<lettre::message::Mailbox>()
                .map_err(|_| format!("emailTo: {a:?} is not an email address"))
        })
        .collect()
}

/// Validates a channel for `kind` and gives its (url, secret, email_to) as stored; `old` holds
/// the stored values an update keeps.
async fn check_channel(
    db: &DatabaseConnection,
    kind: ChannelKind,
    input: &ChannelInput,
    old: Option<&channel::Model>,
) -> AppResult<(Option<String>, Option<String>, Option<String>)> {
    let keep = |new: &Option<String>, old: Option<&Option<String>>| -> Option<String> {
        match new.as_deref().map(str::trim) {
            Some("") | None => old.cloned().flatten(),
            Some(v) => Some(v.to_owned()),
        }
    };
    match kind {
        ChannelKind::Webhook | ChannelKind::Slack => {
            let url = keep(&input.url, old.map(|o| &o.url)).ok_or_else(|| {
                AppError::validation("url: required for a webhook or Slack channel")
            })?;
            let parsed = check_url(&url)?;
            let allowed = crate::service::settings::load(db).await?.notify_allowed;
            send::check_url_target(&parsed, &allowed)
                .await
                .map_err(|e| AppError::validation(format!("url: {e}")))?;
            let secret = if kind == ChannelKind::Webhook {
                let secret = keep(&input.secret, old.map(|o| &o.secret)).ok_or_else(|| {
                    AppError::validation(
                        "secret: required for a webhook (whsec_ and base64; `generateWebhookSecret` makes one)",
                    )
                })?;
                WebhookSecret::parse(&secret)
                    .map_err(|e| AppError::validation(format!("secret: {e}")))?;
                Some(secret)
            } else {
                None
            };
            Ok((Some(url), secret, None))
        }
        ChannelKind::Email => {
            let to = keep(&input.email_to, old.map(|o| &o.email_to))
                .ok_or_else(|| AppError::validation("emailTo: required for an email channel"))?;
            parse_recipients(&to).map_err(AppError::validation)?;
            Ok((None, None, Some(to)))
        }
    }
}

pub async fn channels(db: &DatabaseConnection, actor: &Actor) -> AppResult<Vec<channel::Model>> {
    actor.require(Role::Viewer)?;
    Ok(channel::Entity::find()
        .order_by_asc(channel::Column::Name)
        .all(db)
        .await?)
}

pub async fn channel(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<channel::Model> {
    actor.require(Role::Viewer)?;
    channel::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("channel"))
}

/// Creates a channel (ADMIN).
pub async fn create_channel(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ChannelInput,
) -> AppResult<channel::Model> {
    actor.require(Role::Admin)?;
    let name = check_name("name", &input.name)?;
    let kind = input
        .kind
        .ok_or_else(|| AppError::validation("kind: required"))?;
    let (url, secret, email_to) = check_channel(db, kind, &input, None).await?;
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let row = channel::ActiveModel {
        name: Set(name.clone()),
        kind: Set(kind.as_str().to_owned()),
        enabled: Set(input.enabled),
        url: Set(url),
        secret: Set(secret),
        email_to: Set(email_to),
        created_by: Set(actor.username.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| conflict_on_name(e, "channel", &name))?;
    commit_audited(
        txn,
        actor,
        "channel.create",
        format!("channel:{}", row.id),
        Some(serde_json::json!({ "name": row.name, "kind": row.kind })),
    )
    .await?;
    Ok(row)
}

/// Changes a channel (ADMIN); its kind stays.
pub async fn update_channel(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    input: ChannelInput,
) -> AppResult<channel::Model> {
    actor.require(Role::Admin)?;
    let old = channel::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("channel"))?;
    let kind = ChannelKind::parse(&old.kind)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("channel {id} has kind {}", old.kind)))?;
    if input.kind.is_some_and(|k| k != kind) {
        return Err(AppError::validation(
            "kind: a channel's kind cannot change; create another channel",
        ));
    }
    let name = check_name("name", &input.name)?;
    let (url, secret, email_to) = check_channel(db, kind, &input, Some(&old)).await?;
    let txn = db::begin_write(db).await?;
    let mut row: channel::ActiveModel = old.into();
    row.name = Set(name.clone());
    row.enabled = Set(input.enabled);
    row.url = Set(url);
    row.secret = Set(secret);
    row.email_to = Set(email_to);
    row.updated_at = Set(Utc::now());
    let row = row
        .update(&txn)
        .await
        .map_err(|e| conflict_on_name(e, "channel", &name))?;
    commit_audited(
        txn,
        actor,
        "channel.update",
        format!("channel:{id}"),
        Some(serde_json::json!({ "name": row.name, "enabled": row.enabled })),
    )
    .await?;
    Ok(row)
}

/// Deletes a channel and its deliveries (ADMIN); rules keep their other channels.
pub async fn delete_channel(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<()> {
    actor.require(Role::Admin)?;
    let txn = db::begin_write(db).await?;
    let row = channel::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("channel"))?;
    // Its deliveries and rule links go with it (foreign keys cascade).
    channel::Entity::delete_by_id(id).exec(&txn).await?;
    commit_audited(
        txn,
        actor,
        "channel.delete",
        format!("channel:{id}"),
        Some(serde_json::json!({ "name": row.name })),
    )
    .await?;
    Ok(())
}

/// Queues a test message on a channel (ADMIN) and makes its first attempt now; answers the
/// delivery as it stands after that attempt (a failed one is retried like any other).
pub async fn test_channel(
    db: &DatabaseConnection,
    actor: &Actor,
    settings: &crate::config::Settings,
    id: i32,
) -> AppResult<delivery::Model> {
    actor.require(Role::Admin)?;
    let row = channel::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("channel"))?;
    let payload = serde_json::json!({
        "type": "test",
        "alert": null,
        "events": [],
        "message": format!("A test message from SneakyScanner to channel {:?}, sent by {}.", row.name, actor.username),
    });
    let txn = db::begin_write(db).await?;
    let queued = deliver::enqueue(&txn, None, row.id, "test", &payload, Utc::now()).await?;
    commit_audited(txn, actor, "channel.test", format!("channel:{id}"), None).await?;
    deliver::attempt(db, settings, queued.id).await?;
    delivery::Entity::find_by_id(queued.id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("delivery"))
}

/// A fresh webhook secret (`whsec_` + 32 random bytes, base64), for a channel form.
pub fn generate_secret(actor: &Actor) -> AppResult<String> {
    actor.require(Role::Admin)?;
    Ok(WebhookSecret::generate().expose())
}

/// A channel's latest deliveries, newest first.
pub async fn channel_deliveries<C: ConnectionTrait>(
    db: &C,
    channel_id: i32,
    limit: u64,
) -> AppResult<Vec<delivery::Model>> {
    Ok(delivery::Entity::find()
        .filter(delivery::Column::ChannelId.eq(channel_id))
        .order_by_desc(delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

// ---------------------------------------------------------------------------------------
// Rules (OPERATOR)

/// A rule's settings (create and update take them whole).
#[derive(Debug, Clone)]
pub struct RuleInput {
    pub name: String,
    pub enabled: bool,
    pub events: Vec<ChangeKind>,
    pub min_severity: Severity,
    pub scope: String,
    pub confirm_after_scans: i32,
    pub cooldown_minutes: i32,
    pub channel_ids: Vec<i32>,
}

/// Fields a rule's scope can use: those of a change event and its host.
const SCOPE_FIELDS: [::filter::Field; 10] = [
    ::filter::Field::Site,
    ::filter::Field::Address,
    ::filter::Field::Hostname,
    ::filter::Field::Port,
    ::filter::Field::Protocol,
    ::filter::Field::Tag,
    ::filter::Field::Owner,
    ::filter::Field::Kind,
    ::filter::Field::Severity,
    ::filter::Field::CertExpires,
];

/// Parses a rule's scope; a field it cannot use is VALIDATION with its column.
pub fn parse_scope(text: &str) -> AppResult<Option<::filter::Expr>> {
    if text.chars().count() > MAX_SCOPE_CHARS {
        return Err(AppError::validation(format!(
            "scope: at most {MAX_SCOPE_CHARS} characters"
        )));
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    let expr = filter::parse(Some(text)).map_err(|e| match e {
        AppError::Validation { message, pos } => AppError::Validation {
            message: format!("scope: {message}"),
            pos,
        },
        e => e,
    })?;
    for term in expr.terms() {
        if let Some(field) = term.field
            && !SCOPE_FIELDS.contains(&field)
        {
            return Err(AppError::validation(format!(
                "scope, column {}: `{}` does not apply to alert rules (use site, address, hostname, port, protocol, tag, owner, kind, severity or cert.expires)",
                term.column,
                field.name()
            )));
        }
    }
    Ok(Some(expr))
}

async fn check_rule(db: &DatabaseConnection, input: &RuleInput) -> AppResult<String> {
    let name = check_name("name", &input.name)?;
    if input.events.is_empty() {
        return Err(AppError::validation("events: at least one change kind"));
    }
    parse_scope(&input.scope)?;
    if !(1..=i32::try_from(MAX_CONFIRM_AFTER).unwrap_or(i32::MAX))
        .contains(&input.confirm_after_scans)
    {
        return Err(AppError::validation(format!(
            "confirmAfterScans: 1 to {MAX_CONFIRM_AFTER}"
        )));
    }
    if !(0..=MAX_COOLDOWN_MINUTES).contains(&i64::from(input.cooldown_minutes)) {
        return Err(AppError::validation(format!(
            "cooldownMinutes: 0 to {MAX_COOLDOWN_MINUTES}"
        )));
    }
    let wanted: HashSet<i32> = input.channel_ids.iter().copied().collect();
    let found = channel::Entity::find()
        .filter(channel::Column::Id.is_in(wanted.iter().copied()))
        .count(db)
        .await?;
    if found != wanted.len() as u64 {
        return Err(AppError::validation("channelIds: a channel does not exist"));
    }
    Ok(name)
}

fn events_json(events: &[ChangeKind]) -> String {
    let mut kinds: Vec<&str> = events.iter().map(|k| k.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    serde_json::to_string(&kinds).unwrap_or_else(|_| "[]".into())
}

/// A stored rule's kinds.
pub fn rule_events(row: &alert_rule::Model) -> Vec<ChangeKind> {
    serde_json::from_str::<Vec<String>>(&row.events)
        .unwrap_or_default()
        .iter()
        .filter_map(|k| ChangeKind::parse(k))
        .collect()
}

/// A stored rule's minimum severity.
pub fn rule_severity(row: &alert_rule::Model) -> Severity {
    Severity::parse(&row.min_severity.to_lowercase()).unwrap_or(Severity::Info)
}

/// A stored rule, parsed for evaluation (None if its scope no longer parses).
pub fn parsed_rule(row: &alert_rule::Model) -> Option<Rule> {
    Some(Rule {
        id: row.id,
        kinds: rule_events(row),
        min_severity: rule_severity(row),
        scope: parse_scope(&row.scope).ok()?,
        confirm_after: u32::try_from(row.confirm_after_scans).unwrap_or(1),
        cooldown: Duration::minutes(i64::from(row.cooldown_minutes)),
    })
}

pub async fn rules(db: &DatabaseConnection, actor: &Actor) -> AppResult<Vec<alert_rule::Model>> {
    actor.require(Role::Viewer)?;
    Ok(alert_rule::Entity::find()
        .order_by_asc(alert_rule::Column::Name)
        .all(db)
        .await?)
}

pub async fn rule<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i32,
) -> AppResult<alert_rule::Model> {
    actor.require(Role::Viewer)?;
    alert_rule::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("alert rule"))
}

/// A rule's channels.
pub async fn rule_channels<C: ConnectionTrait>(
    db: &C,
    rule_id: i32,
) -> AppResult<Vec<channel::Model>> {
    let ids: Vec<i32> = alert_rule_channel::Entity::find()
        .filter(alert_rule_channel::Column::RuleId.eq(rule_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.channel_id)
        .collect();
    Ok(channel::Entity::find()
        .filter(channel::Column::Id.is_in(ids))
        .order_by_asc(channel::Column::Name)
        .all(db)
        .await?)
}

async fn set_rule_channels<C: ConnectionTrait>(db: &C, rule_id: i32, ids: &[i32]) -> AppResult<()> {
    alert_rule_channel::Entity::delete_many()
        .filter(alert_rule_channel::Column::RuleId.eq(rule_id))
        .exec(db)
        .await?;
    let ids: HashSet<i32> = ids.iter().copied().collect();
    if !ids.is_empty() {
        alert_rule_channel::Entity::insert_many(ids.into_iter().map(|channel_id| {
            alert_rule_channel::ActiveModel {
                rule_id: Set(rule_id),
                channel_id: Set(channel_id),
            }
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Creates a rule (OPERATOR).
pub async fn create_rule(
    db: &DatabaseConnection,
    actor: &Actor,
    input: RuleInput,
) -> AppResult<alert_rule::Model> {
    actor.require(Role::Operator)?;
    let name = check_rule(db, &input).await?;
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let row = alert_rule::ActiveModel {
        name: Set(name.clone()),
        enabled: Set(input.enabled),
        events: Set(events_json(&input.events)),
        min_severity: Set(input.min_severity.as_str().to_uppercase()),
        scope: Set(input.scope.trim().to_owned()),
        confirm_after_scans: Set(input.confirm_after_scans),
        cooldown_minutes: Set(input.cooldown_minutes),
        created_by: Set(actor.username.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| conflict_on_name(e, "rule", &name))?;
    set_rule_channels(&txn, row.id, &input.channel_ids).await?;
    commit_audited(
        txn,
        actor,
        "alert_rule.create",
        format!("alert_rule:{}", row.id),
        Some(serde_json::json!({ "name": row.name })),
    )
    .await?;
    Ok(row)
}

/// Replaces a rule's settings (OPERATOR). Its open alerts stay.
pub async fn update_rule(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    input: RuleInput,
) -> AppResult<alert_rule::Model> {
    actor.require(Role::Operator)?;
    let old = alert_rule::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("alert rule"))?;
    let name = check_rule(db, &input).await?;
    let txn = db::begin_write(db).await?;
    let mut row: alert_rule::ActiveModel = old.into();
    row.name = Set(name.clone());
    row.enabled = Set(input.enabled);
    row.events = Set(events_json(&input.events));
    row.min_severity = Set(input.min_severity.as_str().to_uppercase());
    row.scope = Set(input.scope.trim().to_owned());
    row.confirm_after_scans = Set(input.confirm_after_scans);
    row.cooldown_minutes = Set(input.cooldown_minutes);
    row.updated_at = Set(Utc::now());
    let row = row
        .update(&txn)
        .await
        .map_err(|e| conflict_on_name(e, "rule", &name))?;
    set_rule_channels(&txn, id, &input.channel_ids).await?;
    // A streak counted under the old settings starts over.
    entity::alert_streak::Entity::delete_many()
        .filter(entity::alert_streak::Column::RuleId.eq(id))
        .exec(&txn)
        .await?;
    commit_audited(
        txn,
        actor,
        "alert_rule.update",
        format!("alert_rule:{id}"),
        Some(serde_json::json!({ "name": row.name, "enabled": row.enabled })),
    )
    .await?;
    Ok(row)
}

/// Deletes a rule with its alerts and their deliveries (OPERATOR).
pub async fn delete_rule(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<()> {
    actor.require(Role::Operator)?;
    let txn = db::begin_write(db).await?;
    let row = alert_rule::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("alert rule"))?;
    // Its alerts (with their events and deliveries), streaks and channel links go with it
    // (foreign keys cascade; SQLite's are on).
    alert_rule::Entity::delete_by_id(id).exec(&txn).await?;
    commit_audited(
        txn,
        actor,
        "alert_rule.delete",
        format!("alert_rule:{id}"),
        Some(serde_json::json!({ "name": row.name })),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Alerts

/// Alerts, newest first, narrowed by a filter (site, address, port, protocol, kind, severity,
/// `changed` = the last event's time; hostname, tag, owner, state, seen of the host) and a
/// status.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
    text: Option<&str>,
    state: Option<&str>,
) -> AppResult<Page<alert::Model>> {
    actor.require(Role::Viewer)?;
    let condition = filter::alerts(text, db.get_database_backend(), Utc::now())?;
    let mut q = alert::Entity::find().filter(condition);
    match state {
        Some("OPEN_OR_ACKNOWLEDGED") => q = q.filter(alert::Column::Status.ne(status::RESOLVED)),
        Some(s) => q = q.filter(alert::Column::Status.eq(s)),
        None => {}
    }
    let total_count = q.clone().count(db).await?;
    if let Some(after) = page.after_id {
        q = q.filter(alert::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(alert::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}

pub async fn get<C: ConnectionTrait>(db: &C, actor: &Actor, id: i32) -> AppResult<alert::Model> {
    actor.require(Role::Viewer)?;
    alert::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("alert"))
}

/// An alert's events, oldest first.
pub async fn events<C: ConnectionTrait>(
    db: &C,
    alert_id: i32,
) -> AppResult<Vec<change_event::Model>> {
    let ids: Vec<i32> = alert_event::Entity::find()
        .filter(alert_event::Column::AlertId.eq(alert_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.event_id)
        .collect();
    Ok(change_event::Entity::find()
        .filter(change_event::Column::Id.is_in(ids))
        .order_by_asc(change_event::Column::Id)
        .all(db)
        .await?)
}

/// An alert's deliveries, oldest first.
pub async fn deliveries<C: ConnectionTrait>(
    db: &C,
    alert_id: i32,
) -> AppResult<Vec<delivery::Model>> {
    Ok(delivery::Entity::find()
        .filter(delivery::Column::AlertId.eq(alert_id))
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await?)
}

fn check_note(note: Option<String>) -> AppResult<Option<String>> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(AppError::validation(format!(
            "note: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(note)
}

/// Acknowledges an open alert (OPERATOR): who, when, a note. It stays open until its condition
/// ends (or someone resolves it).
pub async fn acknowledge(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    note: Option<String>,
) -> AppResult<alert::Model> {
    actor.require(Role::Operator)?;
    let note = check_note(note)?;
    let txn = db::begin_write(db).await?;
    let row = alert::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("alert"))?;
    if row.status == status::RESOLVED {
        return Err(AppError::Conflict("the alert is resolved already".into()));
    }
    let now = Utc::now();
    let mut update: alert::ActiveModel = row.into();
    update.status = Set(status::ACKNOWLEDGED.into());
    update.acknowledged_by = Set(Some(actor.username.clone()));
    update.acknowledged_at = Set(Some(now));
    update.note = Set(note);
    update.updated_at = Set(now);
    let row = update.update(&txn).await?;
    commit_audited(txn, actor, "alert.acknowledge", format!("alert:{id}"), None).await?;
    Ok(row)
}

/// Resolves an alert by hand (OPERATOR), e.g. a change that happened once; a resolve notice
/// goes to its rule's channels when its opening went out.
pub async fn resolve(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    note: Option<String>,
) -> AppResult<alert::Model> {
    actor.require(Role::Operator)?;
    let note = check_note(note)?;
    let txn = db::begin_write(db).await?;
    let row = alert::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("alert"))?;
    if row.status == status::RESOLVED {
        return Err(AppError::Conflict("the alert is resolved already".into()));
    }
    let mut update: alert::ActiveModel = row.clone().into();
    if note.is_some() {
        update.note = Set(note);
    }
    update.update(&txn).await?;
    raise::resolve_alerts(&txn, &[row], &actor.username, Utc::now()).await?;
    commit_audited(txn, actor, "alert.resolve", format!("alert:{id}"), None).await?;
    get(db, actor, id).await
}

/// Sends a delivery again from now (OPERATOR): PENDING, a new retry period.
pub async fn retry_delivery(
    db: &DatabaseConnection,
    actor: &Actor,
    settings: &crate::config::AlertSettings,
    id: i32,
) -> AppResult<delivery::Model> {
    actor.require(Role::Operator)?;
    let row = delivery::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("delivery"))?;
    if row.status == status::SENT {
        return Err(AppError::Conflict("the delivery was sent already".into()));
    }
    let now = Utc::now();
    let mut update: delivery::ActiveModel = row.into();
    update.status = Set(status::PENDING.into());
    update.next_attempt_at = Set(now);
    update.give_up_at = Set(Some(now + deliver::retry_period(settings)));
    update.queued_at = Set(None);
    update.locked_until = Set(None);
    update.updated_at = Set(now);
    let row = update.update(db).await?;
    if let Some(alert_id) = row.alert_id {
        touch(db, &[alert_id], now).await?;
    }
    audit::record(
        db,
        actor,
        "delivery.retry",
        Some(format!("delivery:{id}")),
        None,
    )
    .await?;
    Ok(row)
}

/// Marks alerts changed (their `updated_at`), so `alertUpdates` tells about them.
pub async fn touch<C: ConnectionTrait>(db: &C, ids: &[i32], now: DateTime<Utc>) -> AppResult<()> {
    for chunk in ids.chunks(db::IDS_PER_STATEMENT) {
        alert::Entity::update_many()
            .col_expr(alert::Column::UpdatedAt, Expr::value(now))
            .filter(alert::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Alerts changed since `since` (for `alertUpdates`), oldest change first.
pub async fn changed_since(
    db: &DatabaseConnection,
    since: DateTime<Utc>,
) -> AppResult<Vec<alert::Model>> {
    Ok(alert::Entity::find()
        .filter(alert::Column::UpdatedAt.gt(since))
        .order_by_asc(alert::Column::UpdatedAt)
        .limit(1000)
        .all(db)
        .await?)
}

/// Whether any rule is enabled (nothing to evaluate otherwise).
pub async fn any_enabled<C: ConnectionTrait>(db: &C) -> AppResult<bool> {
    Ok(alert_rule::Entity::find()
        .filter(alert_rule::Column::Enabled.eq(true))
        .count(db)
        .await?
        > 0)
}

/// A scan ended: when it FAILED, its SCAN_FAILED change event and the rules over it, in one
/// transaction (a failure is logged: the scan's end stands).
pub async fn on_scan_ended(db: &DatabaseConnection, row: &entity::scan::Model) {
    if row.status != crate::domain::status::ScanStatus::Failed.as_str() || row.parent_id.is_some() {
        return;
    }
    let reason = row.error_message.as_deref().unwrap_or("no reason given");
    let done = async {
        let txn = db::begin_write(db).await?;
        let raised = scan_failed(&txn, row, reason).await?;
        txn.commit().await?;
        Ok::<_, AppError>(raised)
    };
    match done.await {
        Ok(r) => tracing::debug!(scan_id = row.id, opened = r.opened, "scan failure recorded"),
        Err(e) => {
            tracing::error!(scan_id = row.id, error = ?e, "recording the scan's failure failed")
        }
    }
}
