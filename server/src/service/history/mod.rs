//! History (issue 13): the host inventory, observation intervals and typed change events a
//! completed scan or import leaves behind, and the reads over them.
//!
//! [`record`] runs in the completion pipeline, once per scan (`scans.history_at`), in one
//! write transaction (on PostgreSQL under an advisory lock: two scans completing at once see
//! each other's hosts). Each host of the scan is compared with its **baseline** — its open
//! intervals, the last known state of each fact, which is what the previous completed scan
//! covering it left — by `domain::changes::diff_host`; drift and certificate expiry come from
//! their facts opening and ending (`domain::history`). A host never seen up gets no row.
//! When an alert rule is enabled, the same transaction evaluates the rules over the scan's
//! events and the conditions still holding after it (`service::alerts::raise`).

pub mod filter;
pub mod observe;
pub mod read;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use entity::{certificate, change_event, host, host_fact, scan};

use crate::db::{self, IDS_PER_STATEMENT};
use crate::domain::alerts::{Item, config_subject, subject as alert_subject};
use crate::domain::changes::{Change, ChangeKind, diff_host};
use crate::domain::history::{self, Fact};
use crate::error::{AppError, AppResult};
use crate::service::alerts;

/// PostgreSQL advisory lock under which history is recorded.
const HISTORY_LOCK: i64 = 0x5C4E_0003;

/// Rows per INSERT (SQLite caps bound parameters per statement).
const ROWS_PER_INSERT: usize = 400;

/// What [`record`] wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub events: usize,
    pub new_hosts: usize,
    pub alerts: alerts::Raised,
}

/// Records scan `scan_id`'s history (once: a second call does nothing).
pub async fn record(
    db: &DatabaseConnection,
    scan_id: i32,
    expiry_days: i64,
) -> AppResult<Recorded> {
    let Some(row) = scan::Entity::find_by_id(scan_id).one(db).await? else {
        return Ok(Recorded::default());
    };
    if row.history_at.is_some() {
        return Ok(Recorded::default());
    }
    let now = Utc::now();
    let at = row.completed_at.unwrap_or(now);
    let config_id = row.config_id;
    let seen = observe::scan_with_certificates(db, &row, now, expiry_days).await?;

    let txn = db::begin_write(db).await?;
    db::advisory_lock(&txn, &[HISTORY_LOCK]).await?;
    let claimed = scan::Entity::update_many()
        .col_expr(scan::Column::HistoryAt, Expr::value(Some(now)))
        .filter(scan::Column::Id.eq(scan_id))
        .filter(scan::Column::HistoryAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed == 0 {
        return Ok(Recorded::default());
    }
    observe::write_digests(&txn, scan_id, &seen.hosts).await?;

    // The hosts of the scan's sites that exist, and their open intervals.
    let sites: Vec<String> = seen
        .hosts
        .iter()
        .map(|h| h.site.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut hosts = hosts_of_sites(&txn, &sites).await?;
    let new_rows: Vec<host::ActiveModel> = seen
        .hosts
        .iter()
        .filter(|h| h.obs.is_up() && !hosts.contains_key(&(h.site.clone(), h.address.clone())))
        .map(|h| host::ActiveModel {
            site: Set(h.site.clone()),
            address: Set(h.address.clone()),
            hostname: Set(h.obs.hostname.clone()),
            state: Set("up".into()),
            open_ports: Set(0),
            first_seen_at: Set(at),
            last_seen_at: Set(at),
            last_up_at: Set(Some(at)),
            last_scan_id: Set(None),
            tags: Set("[]".into()),
            owner: Set(None),
            notes: Set(None),
            ..Default::default()
        })
        .collect();
    let new_hosts = new_rows.len();
    if new_hosts > 0 {
        let known: HashSet<i32> = hosts.values().map(|h| h.id).collect();
        for batch in chunked(new_rows, ROWS_PER_INSERT) {
            host::Entity::insert_many(batch)
                .exec_without_returning(&txn)
                .await?;
        }
        hosts = hosts_of_sites(&txn, &sites).await?;
        // Rows this transaction added have no baseline.
        for h in hosts.values_mut() {
            if !known.contains(&h.id) {
                h.last_scan_id = None;
            }
        }
    }
    let mut open = open_facts(&txn, &sites).await?;
    // Alert rules see the events and the conditions that still hold (only built when a rule
    // is enabled).
    let alerting = alerts::any_enabled(&txn).await?;
    let not_after: HashMap<&str, DateTime<Utc>> = seen
        .certificates
        .iter()
        .filter_map(|c| Some((c.sha256_fingerprint.as_deref()?, c.not_after?)))
        .collect();
    let mut items: Vec<Item> = Vec::new();
    let mut covered: HashSet<String> = config_id.map(config_subject).into_iter().collect();
    let mut cert_expiry: HashMap<(i32, String), i64> = HashMap::new();

    let mut extend: Vec<i64> = Vec::new();
    let mut end: Vec<i64> = Vec::new();
    let mut inserts: Vec<host_fact::ActiveModel> = Vec::new();
    let mut events: Vec<change_event::ActiveModel> = Vec::new();
    let mut baseline: Option<i32> = None;
    let mut by_state: HashMap<&str, Vec<i32>> = HashMap::new();
    let mut went_up: Vec<i32> = Vec::new();
    for h in &seen.hosts {
        let Some(row) = hosts.get(&(h.site.clone(), h.address.clone())) else {
            continue; // never seen up
        };
        let facts = open.remove(&row.id).unwrap_or_default();
        let base = (!facts.is_empty()).then(|| history::observation(facts.iter().map(|(_, f)| f)));
        let mut changes = diff_host(base.as_ref(), &h.obs);
        let mut seen_facts = history::facts(&h.obs);
        seen_facts.extend(h.extra.iter().cloned());
        let plan = history::plan(&facts, &h.obs, &seen_facts);
        changes.extend(history::fact_events(&plan));
        for Change {
            kind,
            port,
            before,
            after,
        } in changes
        {
            events.push(change_event::ActiveModel {
                kind: Set(kind.as_str().to_owned()),
                severity: Set(kind.severity().as_str().to_owned()),
                at: Set(at),
                scan_id: Set(Some(scan_id)),
                baseline_scan_id: Set(row.last_scan_id),
                host_id: Set(Some(row.id)),
                site: Set(Some(h.site.clone())),
                address: Set(Some(h.address.clone())),
                protocol: Set(port.as_ref().map(|p| p.0.clone())),
                port: Set(port.as_ref().map(|p| i32::from(p.1))),
                summary: Set(history::summary(
                    kind,
                    &h.address,
                    port.as_ref(),
                    &before,
                    &after,
                )),
                before: Set((!before.is_null()).then(|| before.to_string())),
                after: Set((!after.is_null()).then(|| after.to_string())),
                ..Default::default()
            });
        }
        baseline = baseline.max(row.last_scan_id);
        // The host's open facts after this scan, for its row.
        let ended: HashSet<i64> = plan.end.iter().map(|(id, _)| *id).collect();
        let after: Vec<&Fact> = facts
            .iter()
            .filter(|(id, _)| !ended.contains(id))
            .map(|(_, f)| f)
            .chain(plan.open.iter())
            .collect();
        let open_ports = history::open_ports(after.iter().copied());
        if alerting {
            covered.insert(alert_subject(&h.site, &h.address, None));
            for f in after.iter().filter(|f| f.fact == "cert") {
                if let Some(t) = not_after.get(f.value.as_str()) {
                    cert_expiry.insert((row.id, f.key.clone()), (*t - now).num_seconds());
                }
            }
            let expiry = |key: &str| cert_expiry.get(&(row.id, key.to_owned())).copied();
            items.extend(alerts::holding_items(row, &after, &expiry));
        }
        extend.extend(plan.extend);
        end.extend(ended);
        for f in plan.open {
            inserts.push(host_fact::ActiveModel {
                host_id: Set(row.id),
                fact: Set(f.fact),
                key: Set(f.key),
                value: Set(f.value),
                first_seen_at: Set(at),
                last_seen_at: Set(at),
                first_scan_id: Set(Some(scan_id)),
                last_scan_id: Set(Some(scan_id)),
                ended_at: Set(None),
                ended_scan_id: Set(None),
                ..Default::default()
            });
        }
        let up = h.obs.is_up();
        let state = match h.obs.up {
            Some(false) => "down",
            _ if up => "up",
            _ => "unknown",
        };
        by_state.entry(state).or_default().push(row.id);
        if up {
            went_up.push(row.id);
        }
        // What differs host by host is written only where it changed.
        let open_ports = i32::try_from(open_ports).unwrap_or(i32::MAX);
        let renamed = h
            .obs
            .hostname
            .as_ref()
            .filter(|name| row.hostname.as_ref() != Some(*name));
        if open_ports != row.open_ports || renamed.is_some() {
            let mut update = host::Entity::update_many()
                .col_expr(host::Column::OpenPorts, Expr::value(open_ports));
            if let Some(name) = renamed {
                update = update.col_expr(host::Column::Hostname, Expr::value(Some(name.clone())));
            }
            update
                .filter(host::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
        }
    }
    // What every host of the scan shares, a statement per state and batch.
    for (state, ids) in &by_state {
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            host::Entity::update_many()
                .col_expr(host::Column::State, Expr::value(*state))
                .col_expr(host::Column::LastSeenAt, Expr::value(at))
                .col_expr(host::Column::LastScanId, Expr::value(Some(scan_id)))
                .filter(host::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }
    for chunk in went_up.chunks(IDS_PER_STATEMENT) {
        host::Entity::update_many()
            .col_expr(host::Column::LastUpAt, Expr::value(Some(at)))
            .filter(host::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }

    for chunk in extend.chunks(IDS_PER_STATEMENT) {
        host_fact::Entity::update_many()
            .col_expr(host_fact::Column::LastSeenAt, Expr::value(at))
            .col_expr(host_fact::Column::LastScanId, Expr::value(Some(scan_id)))
            .filter(host_fact::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    for chunk in end.chunks(IDS_PER_STATEMENT) {
        host_fact::Entity::update_many()
            .col_expr(host_fact::Column::EndedAt, Expr::value(Some(at)))
            .col_expr(host_fact::Column::EndedScanId, Expr::value(Some(scan_id)))
            .filter(host_fact::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    for batch in chunked(inserts, ROWS_PER_INSERT) {
        host_fact::Entity::insert_many(batch)
            .exec_without_returning(&txn)
            .await?;
    }
    let event_count = events.len();
    for batch in chunked(events, ROWS_PER_INSERT) {
        change_event::Entity::insert_many(batch)
            .exec_without_returning(&txn)
            .await?;
    }
    record_certificates(&txn, &seen.certificates, at).await?;
    let mut raised = alerts::Raised::default();
    if alerting {
        let by_id: HashMap<i32, &host::Model> = hosts.values().map(|h| (h.id, h)).collect();
        let written: HashMap<i32, change_event::Model> = change_event::Entity::find()
            .filter(change_event::Column::ScanId.eq(scan_id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        for e in written.values() {
            let Some(kind) = ChangeKind::parse(&e.kind) else {
                continue;
            };
            let expiry = e
                .host_id
                .zip(e.protocol.as_deref().zip(e.port))
                .and_then(|(h, (p, n))| cert_expiry.get(&(h, format!("{p}/{n}"))).copied());
            let host = e.host_id.and_then(|id| by_id.get(&id).copied());
            items.push(alerts::event_item(e, kind, host, expiry));
        }
        raised = alerts::raise(&txn, Some(scan_id), &items, &covered, &written, now).await?;
    }
    scan::Entity::update_many()
        .col_expr(scan::Column::BaselineId, Expr::value(baseline))
        .filter(scan::Column::Id.eq(scan_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Recorded {
        events: event_count,
        new_hosts,
        alerts: raised,
    })
}

/// The open facts of the hosts of these sites, by host, read as one JSON document built by
/// the database (one row through the driver instead of one per fact: see `observe`).
async fn open_facts<C: ConnectionTrait>(
    db: &C,
    sites: &[String],
) -> AppResult<HashMap<i32, Vec<(i64, Fact)>>> {
    let mut open: HashMap<i32, Vec<(i64, Fact)>> = HashMap::new();
    if sites.is_empty() {
        return Ok(open);
    }
    let list = |placeholder: &dyn Fn(usize) -> String| -> String {
        (1..=sites.len())
            .map(placeholder)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sqlite = format!(
        "SELECT json_group_array(json_array(f.id, f.host_id, f.fact, f.key, f.value)) \
         FROM host_facts f JOIN hosts h ON h.id = f.host_id \
         WHERE h.site IN ({}) AND f.ended_at IS NULL",
        list(&|_| "?".to_owned())
    );
    let postgres = format!(
        "SELECT coalesce(json_agg(json_build_array(f.id, f.host_id, f.fact, f.key, f.value)), \
         '[]'::json)::text FROM host_facts f JOIN hosts h ON h.id = f.host_id \
         WHERE h.site IN ({}) AND f.ended_at IS NULL",
        list(&|n| format!("${n}"))
    );
    let values = sites.iter().map(|s| s.clone().into()).collect();
    let rows: Vec<(i64, i32, String, String, String)> =
        db::json_rows(db, &sqlite, &postgres, values)
            .await
            .map_err(AppError::internal)?;
    for (id, host_id, fact, key, value) in rows {
        open.entry(host_id)
            .or_default()
            .push((id, Fact { fact, key, value }));
    }
    Ok(open)
}

/// The hosts of these sites, by (site, address).
async fn hosts_of_sites<C: ConnectionTrait>(
    db: &C,
    sites: &[String],
) -> AppResult<HashMap<(String, String), host::Model>> {
    Ok(host::Entity::find()
        .filter(host::Column::Site.is_in(sites.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|h| ((h.site.clone(), h.address.clone()), h))
        .collect())
}

/// Adds the certificates a scan saw to the inventory (first seen) or marks them seen again.
async fn record_certificates<C: ConnectionTrait>(
    db: &C,
    seen: &[entity::scan_certificate::Model],
    at: DateTime<Utc>,
) -> AppResult<()> {
    let mut by_sha: HashMap<&str, &entity::scan_certificate::Model> = HashMap::new();
    for c in seen {
        if let Some(sha) = c.sha256_fingerprint.as_deref() {
            by_sha.entry(sha).or_insert(c);
        }
    }
    if by_sha.is_empty() {
        return Ok(());
    }
    let shas: Vec<String> = by_sha.keys().map(|s| (*s).to_owned()).collect();
    let mut known: HashSet<String> = HashSet::new();
    for chunk in shas.chunks(IDS_PER_STATEMENT) {
        for c in certificate::Entity::find()
            .filter(certificate::Column::Sha256Fingerprint.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            known.insert(c.sha256_fingerprint);
        }
        certificate::Entity::update_many()
            .col_expr(certificate::Column::LastSeenAt, Expr::value(at))
            .filter(certificate::Column::Sha256Fingerprint.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    let rows: Vec<certificate::ActiveModel> = by_sha
        .iter()
        .filter(|(sha, _)| !known.contains(**sha))
        .map(|(sha, c)| certificate::ActiveModel {
            sha256_fingerprint: Set((*sha).to_owned()),
            subject: Set(c.subject.clone()),
            issuer: Set(c.issuer.clone()),
            sans: Set(c.sans.clone()),
            not_before: Set(c.not_before),
            not_after: Set(c.not_after),
            self_signed: Set(c.self_signed),
            key_type: Set(c.key_type.clone()),
            key_bits: Set(c.key_bits),
            first_seen_at: Set(at),
            last_seen_at: Set(at),
            ..Default::default()
        })
        .collect();
    for batch in chunked(rows, ROWS_PER_INSERT) {
        certificate::Entity::insert_many(batch)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// `items` in batches of at most `size`.
fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut it = items.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(size).collect());
    }
    out
}
