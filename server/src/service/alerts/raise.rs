//! Rules evaluated in the transaction that writes a scan's change events: the alerts opened,
//! attached to and resolved, the streaks of rules that wait for confirmation, and the
//! deliveries of the notices (the outbox) — all or nothing with the events themselves.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::{Value, json};

use entity::{
    alert, alert_event, alert_rule, alert_streak, change_event, host,
    notification_channel as channel, scan,
};

use super::{deliver, parsed_rule, rule_channels, status};
use crate::domain::alerts::{self, Input, Item, OpenAlert, Streak, config_subject, subject};
use crate::domain::changes::ChangeKind;
use crate::domain::findings::Severity;
use crate::domain::history::{Fact, port_of_key};
use crate::error::AppResult;

/// `column + n`, for an update.
pub(super) fn plus(
    column: impl sea_orm::sea_query::IntoColumnRef,
    n: i32,
) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::ExprTrait;
    Expr::col(column).add(n)
}

/// Rows per INSERT (SQLite caps bound parameters per statement; an alert has 22 columns).
const ROWS_PER_INSERT: usize = 200;

/// What an evaluation wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub opened: usize,
    pub attached: usize,
    pub resolved: usize,
    pub deliveries: usize,
}

/// A stored severity (`high`, or a rule's `HIGH`).
fn severity(text: &str) -> Severity {
    Severity::parse(&text.to_lowercase()).unwrap_or(Severity::Info)
}

/// The host fields of an item.
fn with_host(mut item: Item, host: Option<&host::Model>) -> Item {
    if let Some(h) = host {
        item.host_id = Some(h.id);
        item.hostname.clone_from(&h.hostname);
        item.tags = serde_json::from_str(&h.tags).unwrap_or_default();
        item.owner.clone_from(&h.owner);
    }
    item
}

/// The item of a change event (`cert_expires_in`: of the certificate on its port, if any).
/// An event about no host is its own subject unless the caller names one (`raise_one`).
pub fn event_item(
    e: &change_event::Model,
    kind: ChangeKind,
    host: Option<&host::Model>,
    cert_expires_in: Option<i64>,
) -> Item {
    let port = e.port.and_then(|p| u16::try_from(p).ok());
    let subject = match (&e.site, &e.address) {
        (Some(site), Some(address)) => subject(site, address, e.protocol.as_deref().zip(port)),
        _ => format!("event:{}", e.id),
    };
    with_host(
        Item {
            event_id: Some(e.id),
            kind,
            severity: severity(&e.severity),
            subject,
            site: e.site.clone(),
            address: e.address.clone(),
            hostname: None,
            protocol: e.protocol.clone(),
            port,
            host_id: e.host_id,
            tags: Vec::new(),
            owner: None,
            cert_expires_in,
            summary: e.summary.clone(),
        },
        host,
    )
}

/// The conditions that hold on a host after a scan, from its open facts: still down, a port
/// still open, a drift or an expiry still there. `cert_expiry` gives the seconds left of the
/// certificate on a port.
pub fn holding_items(
    host: &host::Model,
    facts: &[&Fact],
    cert_expiry: &dyn Fn(&str) -> Option<i64>,
) -> Vec<Item> {
    let mut out = Vec::new();
    // The host's own fields (its tags parsed) once, for every item of it.
    let base = with_host(
        Item {
            event_id: None,
            kind: ChangeKind::HostDown,
            severity: Severity::Info,
            subject: String::new(),
            site: Some(host.site.clone()),
            address: Some(host.address.clone()),
            hostname: None,
            protocol: None,
            port: None,
            host_id: Some(host.id),
            tags: Vec::new(),
            owner: None,
            cert_expires_in: None,
            summary: String::new(),
        },
        Some(host),
    );
    for f in facts {
        let kind = match (f.fact.as_str(), f.value.as_str()) {
            ("state", "down") => ChangeKind::HostDown,
            ("port", "open") => ChangeKind::PortOpened,
            ("drift" | "expiry", value) => match ChangeKind::parse(value) {
                Some(kind) => kind,
                None => continue,
            },
            _ => continue,
        };
        let port = port_of_key(&f.key);
        out.push(Item {
            kind,
            severity: kind.severity(),
            subject: subject(
                &host.site,
                &host.address,
                port.as_ref().map(|(p, n)| (p.as_str(), *n)),
            ),
            protocol: port.as_ref().map(|p| p.0.clone()),
            port: port.as_ref().map(|p| p.1),
            cert_expires_in: port.is_some().then(|| cert_expiry(&f.key)).flatten(),
            summary: crate::domain::history::summary(
                kind,
                &host.address,
                port.as_ref(),
                &Value::Null,
                &json!(f.value),
            ),
            ..base.clone()
        });
    }
    out
}

/// Evaluates the enabled rules over a scan's items (its events and the conditions holding
/// after it) and writes the outcome, in the caller's transaction. `covered`: the subjects the
/// scan observed; `events`: the scan's change events by id (for the notices).
pub async fn raise<C: ConnectionTrait>(
    txn: &C,
    scan_id: Option<i32>,
    items: &[Item],
    covered: &HashSet<String>,
    events: &HashMap<i32, change_event::Model>,
    now: DateTime<Utc>,
) -> AppResult<Raised> {
    let rows = alert_rule::Entity::find()
        .filter(alert_rule::Column::Enabled.eq(true))
        .all(txn)
        .await?;
    if rows.is_empty() {
        return Ok(Raised::default());
    }
    let rules: Vec<_> = rows.iter().filter_map(parsed_rule).collect();
    let names: HashMap<i32, &str> = rows.iter().map(|r| (r.id, r.name.as_str())).collect();
    let ids: Vec<i32> = rules.iter().map(|r| r.id).collect();
    let open_rows = alert::Entity::find()
        .filter(alert::Column::RuleId.is_in(ids.clone()))
        .filter(alert::Column::Status.ne(status::RESOLVED))
        .all(txn)
        .await?;
    let open: Vec<OpenAlert> = open_rows
        .iter()
        .map(|a| OpenAlert {
            id: a.id,
            rule_id: a.rule_id,
            subject: a.subject.clone(),
            kind: ChangeKind::parse(&a.kind).unwrap_or(ChangeKind::PortOpened),
        })
        .collect();
    let streak_rows = alert_streak::Entity::find()
        .filter(alert_streak::Column::RuleId.is_in(ids.clone()))
        .all(txn)
        .await?;
    let streaks: Vec<Streak> = streak_rows
        .iter()
        .map(|s| Streak {
            rule_id: s.rule_id,
            subject: s.subject.clone(),
            scans: u32::try_from(s.scans).unwrap_or(0),
            last_scan_id: s.last_scan_id,
            event_ids: serde_json::from_str(&s.event_ids).unwrap_or_default(),
        })
        .collect();
    let mut last_notified: HashMap<(i32, String), DateTime<Utc>> = HashMap::new();
    if let Some(longest) = rules
        .iter()
        .map(|r| r.cooldown)
        .max()
        .filter(|d| !d.is_zero())
    {
        for a in alert::Entity::find()
            .filter(alert::Column::RuleId.is_in(ids))
            .filter(alert::Column::Notified.eq(true))
            .filter(alert::Column::CreatedAt.gt(now - longest))
            .all(txn)
            .await?
        {
            let at = last_notified
                .entry((a.rule_id, a.subject))
                .or_insert(a.created_at);
            *at = (*at).max(a.created_at);
        }
    }
    let plan = alerts::evaluate(&Input {
        scan_id,
        now,
        items,
        covered,
        rules: &rules,
        open: &open,
        streaks: &streaks,
        last_notified: &last_notified,
    });
    let mut raised = Raised::default();

    let by_id: HashMap<i32, &alert::Model> = open_rows.iter().map(|a| (a.id, a)).collect();
    let resolving: Vec<alert::Model> = plan
        .resolve
        .iter()
        .filter_map(|id| by_id.get(id).map(|a| (*a).clone()))
        .collect();
    raised.resolved = resolving.len();
    raised.deliveries += resolve_alerts(txn, &resolving, "system", now).await?;

    // New alerts in batches; their ids read back (rows of this transaction past the highest id
    // before it), then their events and deliveries in batches too.
    let mut channels_of: HashMap<i32, Vec<channel::Model>> = HashMap::new();
    for new in plan.open.iter().filter(|n| n.notify) {
        if let std::collections::hash_map::Entry::Vacant(v) = channels_of.entry(new.rule_id) {
            v.insert(enabled_channels(txn, new.rule_id).await?);
        }
    }
    if !plan.open.is_empty() {
        let before: Option<i32> = alert::Entity::find()
            .select_only()
            .column_as(alert::Column::Id.max(), "max")
            .into_tuple()
            .one(txn)
            .await?
            .flatten();
        let rows: Vec<alert::ActiveModel> = plan
            .open
            .iter()
            .map(|new| {
                let item = &new.item;
                let notified =
                    new.notify && channels_of.get(&new.rule_id).is_some_and(|c| !c.is_empty());
                alert::ActiveModel {
                    rule_id: Set(new.rule_id),
                    subject: Set(item.subject.clone()),
                    kind: Set(item.kind.as_str().to_owned()),
                    severity: Set(new.severity.as_str().to_owned()),
                    status: Set(status::OPEN.into()),
                    site: Set(item.site.clone()),
                    address: Set(item.address.clone()),
                    protocol: Set(item.protocol.clone()),
                    port: Set(item.port.map(i32::from)),
                    host_id: Set(item.host_id),
                    summary: Set(item.summary.clone()),
                    event_count: Set(i32::try_from(new.event_ids.len()).unwrap_or(i32::MAX)),
                    last_event_at: Set(now),
                    notified: Set(notified),
                    acknowledged_by: Set(None),
                    acknowledged_at: Set(None),
                    note: Set(None),
                    resolved_at: Set(None),
                    resolved_by: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
            })
            .collect();
        for batch in rows.chunks(ROWS_PER_INSERT) {
            alert::Entity::insert_many(batch.to_vec())
                .exec_without_returning(txn)
                .await?;
        }
        let mut inserted = alert::Entity::find();
        if let Some(before) = before {
            inserted = inserted.filter(alert::Column::Id.gt(before));
        }
        let inserted: HashMap<(i32, String), alert::Model> = inserted
            .all(txn)
            .await?
            .into_iter()
            .map(|a| ((a.rule_id, a.subject.clone()), a))
            .collect();
        let mut links = Vec::new();
        let mut outbox = Vec::new();
        for new in &plan.open {
            let Some(row) = inserted.get(&(new.rule_id, new.item.subject.clone())) else {
                continue;
            };
            raised.opened += 1;
            links.extend(new.event_ids.iter().map(|e| (row.id, *e)));
            if !row.notified {
                continue;
            }
            let attached: Vec<&change_event::Model> = new
                .event_ids
                .iter()
                .filter_map(|id| events.get(id))
                .collect();
            let payload = payload(
                "alert.opened",
                row,
                names.get(&row.rule_id).copied().unwrap_or(""),
                &attached,
            );
            for c in channels_of.get(&row.rule_id).into_iter().flatten() {
                outbox.push(deliver::pending(
                    Some(row.id),
                    c.id,
                    "alert.opened",
                    &payload,
                    now,
                ));
            }
        }
        link_pairs(txn, links).await?;
        raised.deliveries += outbox.len();
        for batch in outbox.chunks(ROWS_PER_INSERT) {
            entity::delivery::Entity::insert_many(batch.to_vec())
                .exec_without_returning(txn)
                .await?;
        }
    }

    for (id, event_ids, most) in &plan.attach {
        let Some(row) = by_id.get(id) else { continue };
        link_events(txn, *id, event_ids).await?;
        let severity = severity(&row.severity).max(*most);
        alert::Entity::update_many()
            .col_expr(
                alert::Column::EventCount,
                plus(
                    alert::Column::EventCount,
                    i32::try_from(event_ids.len()).unwrap_or(0),
                ),
            )
            .col_expr(alert::Column::Severity, Expr::value(severity.as_str()))
            .col_expr(alert::Column::LastEventAt, Expr::value(now))
            .col_expr(alert::Column::UpdatedAt, Expr::value(now))
            .filter(alert::Column::Id.eq(*id))
            .exec(txn)
            .await?;
        raised.attached += event_ids.len();
    }

    for (rule_id, subject) in &plan.drop_streaks {
        alert_streak::Entity::delete_many()
            .filter(alert_streak::Column::RuleId.eq(*rule_id))
            .filter(alert_streak::Column::Subject.eq(subject.as_str()))
            .exec(txn)
            .await?;
    }
    for s in &plan.streaks {
        alert_streak::Entity::insert(alert_streak::ActiveModel {
            rule_id: Set(s.rule_id),
            subject: Set(s.subject.clone()),
            scans: Set(i32::try_from(s.scans).unwrap_or(i32::MAX)),
            last_scan_id: Set(s.last_scan_id),
            event_ids: Set(serde_json::to_string(&s.event_ids).unwrap_or_else(|_| "[]".into())),
            updated_at: Set(now),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([alert_streak::Column::RuleId, alert_streak::Column::Subject])
                .update_columns([
                    alert_streak::Column::Scans,
                    alert_streak::Column::LastScanId,
                    alert_streak::Column::EventIds,
                    alert_streak::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(raised)
}

async fn link_events<C: ConnectionTrait>(
    txn: &C,
    alert_id: i32,
    event_ids: &[i32],
) -> AppResult<()> {
    link_pairs(txn, event_ids.iter().map(|e| (alert_id, *e)).collect()).await
}

/// Attaches events to alerts: (alert, event) pairs, in batches.
async fn link_pairs<C: ConnectionTrait>(txn: &C, pairs: Vec<(i32, i32)>) -> AppResult<()> {
    for batch in pairs.chunks(ROWS_PER_INSERT * 4) {
        alert_event::Entity::insert_many(batch.iter().map(|(alert_id, event_id)| {
            alert_event::ActiveModel {
                alert_id: Set(*alert_id),
                event_id: Set(*event_id),
            }
        }))
        .on_conflict(
            OnConflict::columns([alert_event::Column::AlertId, alert_event::Column::EventId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

async fn enabled_channels<C: ConnectionTrait>(
    txn: &C,
    rule_id: i32,
) -> AppResult<Vec<channel::Model>> {
    Ok(rule_channels(txn, rule_id)
        .await?
        .into_iter()
        .filter(|c| c.enabled)
        .collect())
}

/// Resolves open alerts (`by`: `system` when their condition ended, else the user) and queues
/// a resolve notice for each whose opening went out. Returns the deliveries written.
pub async fn resolve_alerts<C: ConnectionTrait>(
    txn: &C,
    rows: &[alert::Model],
    by: &str,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
    for chunk in ids.chunks(crate::db::IDS_PER_STATEMENT) {
        alert::Entity::update_many()
            .col_expr(alert::Column::Status, Expr::value(status::RESOLVED))
            .col_expr(alert::Column::ResolvedAt, Expr::value(Some(now)))
            .col_expr(alert::Column::ResolvedBy, Expr::value(Some(by.to_owned())))
            .col_expr(alert::Column::UpdatedAt, Expr::value(now))
            .filter(alert::Column::Id.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    // Resolve notices for those whose opening went out: each rule's name and channels once.
    let mut rules: HashMap<i32, (String, Vec<channel::Model>)> = HashMap::new();
    let mut outbox = Vec::new();
    for row in rows.iter().filter(|r| r.notified) {
        if let std::collections::hash_map::Entry::Vacant(v) = rules.entry(row.rule_id) {
            let name = alert_rule::Entity::find_by_id(row.rule_id)
                .one(txn)
                .await?
                .map(|r| r.name)
                .unwrap_or_default();
            v.insert((name, enabled_channels(txn, row.rule_id).await?));
        }
        let (name, channels) = &rules[&row.rule_id];
        let resolved = alert::Model {
            status: status::RESOLVED.into(),
            resolved_at: Some(now),
            resolved_by: Some(by.to_owned()),
            ..row.clone()
        };
        let payload = payload("alert.resolved", &resolved, name, &[]);
        for c in channels {
            outbox.push(deliver::pending(
                Some(row.id),
                c.id,
                "alert.resolved",
                &payload,
                now,
            ));
        }
    }
    for batch in outbox.chunks(ROWS_PER_INSERT) {
        entity::delivery::Entity::insert_many(batch.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(outbox.len())
}

/// The webhook body (DESIGN §13): `{ type, alert, events }`.
pub fn payload(
    kind: &str,
    a: &alert::Model,
    rule_name: &str,
    events: &[&change_event::Model],
) -> Value {
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .unwrap_or(Value::Null)
    };
    json!({
        "type": kind,
        "alert": {
            "id": a.id.to_string(),
            "rule": { "id": a.rule_id.to_string(), "name": rule_name },
            "subject": a.subject,
            "kind": a.kind,
            "severity": a.severity.to_uppercase(),
            "status": a.status,
            "summary": a.summary,
            "site": a.site,
            "address": a.address,
            "protocol": a.protocol,
            "port": a.port,
            "eventCount": a.event_count,
            "createdAt": a.created_at.to_rfc3339(),
            "resolvedAt": a.resolved_at.map(|t| t.to_rfc3339()),
            "resolvedBy": a.resolved_by,
        },
        "events": events.iter().map(|e| json!({
            "id": e.id.to_string(),
            "kind": e.kind,
            "severity": e.severity.to_uppercase(),
            "site": e.site,
            "address": e.address,
            "protocol": e.protocol,
            "port": e.port,
            "before": parse(&e.before),
            "after": parse(&e.after),
            "summary": e.summary,
            "scanId": e.scan_id.map(|s| s.to_string()),
            "at": e.at.to_rfc3339(),
        })).collect::<Vec<_>>(),
    })
}

/// A scan that FAILED: one SCAN_FAILED change event (subject: its config), and the rules over
/// it, in one transaction.
pub async fn scan_failed<C: ConnectionTrait>(
    txn: &C,
    row: &scan::Model,
    reason: &str,
) -> AppResult<Raised> {
    let kind = ChangeKind::ScanFailed;
    let event = change_event::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        severity: Set(kind.severity().as_str().to_owned()),
        at: Set(Utc::now()),
        scan_id: Set(Some(row.id)),
        summary: Set(format!("Scan {} ({}) failed: {reason}", row.id, row.title)),
        after: Set(Some(
            json!({ "scanId": row.id, "configId": row.config_id, "reason": reason }).to_string(),
        )),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let subject = row
        .config_id
        .map_or_else(|| format!("scan:{}", row.id), config_subject);
    raise_one(txn, event, kind, subject, Some(row.id)).await
}

/// A schedule's missed firings (its SCHEDULE_MISSED event, written in the caller's
/// transaction): the rules over it (subject `schedule:<id>`: later misses attach to its open
/// alert).
pub async fn schedule_missed<C: ConnectionTrait>(
    txn: &C,
    schedule_id: i32,
    event: change_event::Model,
) -> AppResult<Raised> {
    raise_one(
        txn,
        event,
        ChangeKind::ScheduleMissed,
        format!("schedule:{schedule_id}"),
        None,
    )
    .await
}

/// The rules over one event that is not about a host, its subject observed.
async fn raise_one<C: ConnectionTrait>(
    txn: &C,
    event: change_event::Model,
    kind: ChangeKind,
    subject: String,
    scan_id: Option<i32>,
) -> AppResult<Raised> {
    let mut item = event_item(&event, kind, None, None);
    item.subject = subject;
    let covered: HashSet<String> = [item.subject.clone()].into();
    let at = event.at;
    let events = HashMap::from([(event.id, event)]);
    raise(txn, scan_id, &[item], &covered, &events, at).await
}
