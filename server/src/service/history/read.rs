//! Reads over the history: the host inventory, a host's ports and intervals, change events,
//! the certificate inventory and the diff of any two scans; and what an operator says of a
//! host (`update_host`). Every list is keyset-paged.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::NullOrdering;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};

use entity::{certificate, change_event, host, host_fact, scan};

use crate::domain::auth::{Actor, Role};
use crate::domain::changes::{ChangeKind, diff_host};
use crate::domain::history::{self, port_of_key};
use crate::error::{AppError, AppResult};
use crate::service::audit;
use crate::service::history::observe;
use crate::service::pagination::{Page, PageRequest};
use crate::service::results::{list_from_json, list_to_json};

/// The host inventory, newest first; `text`: words each found in the site, address,
/// hostname, owner or tags.
pub async fn hosts(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
    text: Option<&str>,
) -> AppResult<Page<host::Model>> {
    actor.require(Role::Viewer)?;
    let mut filter = super::filter::hosts(text, db.get_database_backend(), Utc::now())?;
    let total_count = host::Entity::find()
        .filter(filter.clone())
        .count(db)
        .await?;
    if let Some(after) = page.after_id {
        filter = filter.add(host::Column::Id.lt(after));
    }
    let rows = host::Entity::find()
        .filter(filter)
        .order_by_desc(host::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}

pub async fn host(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<host::Model> {
    actor.require(Role::Viewer)?;
    host::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("host"))
}

/// A port of a host as last known.
#[derive(Debug, Clone, PartialEq)]
pub struct HostPort {
    pub protocol: String,
    pub port: u16,
    pub state: String,
    pub name: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    /// Since when it holds this state.
    pub since: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// The open ports of a host as last known (a port a later scan did not probe stays known).
pub async fn open_ports(db: &DatabaseConnection, host_id: i32) -> AppResult<Vec<HostPort>> {
    Ok(open_ports_of(db, &[host_id])
        .await?
        .remove(&host_id)
        .unwrap_or_default())
}

/// [`open_ports`] of several hosts in one query (a page of an export), by host id; a host
/// without open ports has no entry.
pub async fn open_ports_of(
    db: &DatabaseConnection,
    host_ids: &[i32],
) -> AppResult<HashMap<i32, Vec<HostPort>>> {
    if host_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let facts = host_fact::Entity::find()
        .filter(host_fact::Column::HostId.is_in(host_ids.iter().copied()))
        .filter(host_fact::Column::EndedAt.is_null())
        .filter(host_fact::Column::Fact.is_in(["port", "service"]))
        .all(db)
        .await?;
    let mut services: HashMap<(i32, &str), Value> = HashMap::new();
    for f in facts.iter().filter(|f| f.fact == "service") {
        services.insert(
            (f.host_id, &f.key),
            serde_json::from_str(&f.value).unwrap_or(Value::Null),
        );
    }
    let text = |v: Option<&Value>, k: &str| {
        v.and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut out: HashMap<i32, Vec<HostPort>> = HashMap::new();
    for f in facts
        .iter()
        .filter(|f| f.fact == "port" && f.value == "open")
    {
        let Some((protocol, port)) = port_of_key(&f.key) else {
            continue;
        };
        let s = services.get(&(f.host_id, f.key.as_str()));
        out.entry(f.host_id).or_default().push(HostPort {
            protocol,
            port,
            state: f.value.clone(),
            name: text(s, "name"),
            product: text(s, "product"),
            version: text(s, "version"),
            since: f.first_seen_at,
            last_seen_at: f.last_seen_at,
        });
    }
    for ports in out.values_mut() {
        ports.sort_by(|a, b| (&a.protocol, a.port).cmp(&(&b.protocol, b.port)));
    }
    Ok(out)
}

/// The intervals of one fact of a host (`port`: its ports' states), oldest first.
pub async fn intervals(
    db: &DatabaseConnection,
    actor: &Actor,
    host_id: i32,
    fact: &str,
) -> AppResult<Vec<host_fact::Model>> {
    actor.require(Role::Viewer)?;
    Ok(host_fact::Entity::find()
        .filter(host_fact::Column::HostId.eq(host_id))
        .filter(host_fact::Column::Fact.eq(fact))
        .order_by_asc(host_fact::Column::Id)
        .all(db)
        .await?)
}

/// Which change events to list.
#[derive(Debug, Clone, Default)]
pub struct ChangeScope {
    pub scan_id: Option<i32>,
    pub host_id: Option<i32>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub kinds: Vec<ChangeKind>,
    /// A filter in the filter language (`service::history::filter::changes`).
    pub text: Option<String>,
}

/// Change events, newest first.
pub async fn changes(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
    scope: &ChangeScope,
) -> AppResult<Page<change_event::Model>> {
    actor.require(Role::Viewer)?;
    let mut filter =
        super::filter::changes(scope.text.as_deref(), db.get_database_backend(), Utc::now())?;
    if let Some(id) = scope.scan_id {
        filter = filter.add(change_event::Column::ScanId.eq(id));
    }
    if let Some(id) = scope.host_id {
        filter = filter.add(change_event::Column::HostId.eq(id));
    }
    if let Some(since) = scope.since {
        filter = filter.add(change_event::Column::At.gte(since));
    }
    if !scope.kinds.is_empty() {
        let distinct = ChangeKind::ALL.iter().filter(|k| scope.kinds.contains(k));
        filter = filter.add(change_event::Column::Kind.is_in(distinct.map(|k| k.as_str())));
    }
    let total_count = change_event::Entity::find()
        .filter(filter.clone())
        .count(db)
        .await?;
    if let Some(after) = page.after_id {
        filter = filter.add(change_event::Column::Id.lt(after));
    }
    let rows = change_event::Entity::find()
        .filter(filter)
        .order_by_desc(change_event::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}

/// The certificate inventory, soonest expiry first (no expiry date last); `text`: words each
/// found in the subject, issuer, SANs or fingerprint.
pub async fn certificates(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
    text: Option<&str>,
) -> AppResult<Page<certificate::Model>> {
    actor.require(Role::Viewer)?;
    let mut filter = super::filter::certificates(text, db.get_database_backend(), Utc::now())?;
    let total_count = certificate::Entity::find()
        .filter(filter.clone())
        .count(db)
        .await?;
    if let Some(after) = page.after_id {
        let Some(last) = certificate::Entity::find_by_id(after).one(db).await? else {
            return Err(AppError::validation("invalid cursor"));
        };
        filter = filter.add(match last.not_after {
            Some(t) => Condition::any()
                .add(certificate::Column::NotAfter.gt(t))
                .add(
                    Condition::all()
                        .add(certificate::Column::NotAfter.eq(t))
                        .add(certificate::Column::Id.gt(after)),
                )
                .add(certificate::Column::NotAfter.is_null()),
            None => Condition::all()
                .add(certificate::Column::NotAfter.is_null())
                .add(certificate::Column::Id.gt(after)),
        });
    }
    let rows = certificate::Entity::find()
        .filter(filter)
        .order_by_with_nulls(
            certificate::Column::NotAfter,
            Order::Asc,
            NullOrdering::Last,
        )
        .order_by_asc(certificate::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}

/// Where a certificate is (or was) served.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: host::Model,
    pub protocol: String,
    pub port: u16,
    /// Still served as far as the last scans know.
    pub current: bool,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// The endpoints of certificates, by fingerprint (current ones first).
pub async fn endpoints(
    db: &DatabaseConnection,
    fingerprints: &[String],
) -> AppResult<HashMap<String, Vec<Endpoint>>> {
    let facts = host_fact::Entity::find()
        .filter(host_fact::Column::Fact.eq("cert"))
        .filter(host_fact::Column::Value.is_in(fingerprints.iter().cloned()))
        .order_by_asc(host_fact::Column::Id)
        .all(db)
        .await?;
    let host_ids: Vec<i32> = facts.iter().map(|f| f.host_id).collect();
    let hosts: HashMap<i32, host::Model> = host::Entity::find()
        .filter(host::Column::Id.is_in(host_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let mut out: HashMap<String, Vec<Endpoint>> = HashMap::new();
    for f in facts {
        let (Some(h), Some((protocol, port))) = (hosts.get(&f.host_id), port_of_key(&f.key)) else {
            continue;
        };
        out.entry(f.value).or_default().push(Endpoint {
            host: h.clone(),
            protocol,
            port,
            current: f.ended_at.is_none(),
            first_seen_at: f.first_seen_at,
            last_seen_at: f.last_seen_at,
        });
    }
    for list in out.values_mut() {
        list.sort_by_key(|e| !e.current);
    }
    Ok(out)
}

/// What an operator says of a host.
#[derive(Debug, Clone, Default)]
pub struct HostUpdate {
    pub tags: Option<Vec<String>>,
    pub owner: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

const MAX_TAGS: usize = 32;
const MAX_TAG: usize = 64;
const MAX_OWNER: usize = 200;
const MAX_NOTES: usize = 10_000;

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= MAX_TAG
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-/".contains(c))
}

/// Sets a host's tags, owner and notes (OPERATOR); each field left out stays.
pub async fn update_host(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    update: HostUpdate,
) -> AppResult<host::Model> {
    actor.require(Role::Operator)?;
    let mut tags = None;
    if let Some(list) = &update.tags {
        if list.len() > MAX_TAGS {
            return Err(AppError::validation(format!(
                "at most {MAX_TAGS} tags per host"
            )));
        }
        if let Some(bad) = list.iter().find(|t| !valid_tag(t)) {
            return Err(AppError::validation(format!(
                "tag {bad:?}: 1-{MAX_TAG} letters, digits, `.`, `_`, `:`, `-` or `/`"
            )));
        }
        let mut list = list.clone();
        list.sort();
        list.dedup();
        tags = Some(list);
    }
    let trimmed =
        |v: &Option<Option<String>>, max: usize, what: &str| -> AppResult<Option<Option<String>>> {
            match v {
                None => Ok(None),
                Some(None) => Ok(Some(None)),
                Some(Some(s)) => {
                    let s = s.trim();
                    if s.chars().count() > max {
                        return Err(AppError::validation(format!(
                            "{what}: at most {max} characters"
                        )));
                    }
                    Ok(Some((!s.is_empty()).then(|| s.to_owned())))
                }
            }
        };
    let owner = trimmed(&update.owner, MAX_OWNER, "owner")?;
    let notes = trimmed(&update.notes, MAX_NOTES, "notes")?;
    let row = host(db, actor, id).await?;
    let mut active: host::ActiveModel = row.into();
    if let Some(tags) = &tags {
        active.tags = Set(list_to_json(tags));
    }
    if let Some(owner) = owner.clone() {
        active.owner = Set(owner);
    }
    if let Some(notes) = notes {
        active.notes = Set(notes);
    }
    let row = active.update(db).await?;
    audit::record(
        db,
        actor,
        "host.update",
        Some(format!("host:{id}")),
        Some(json!({ "tags": tags, "owner": owner })),
    )
    .await?;
    Ok(row)
}

pub fn tags(row: &host::Model) -> Vec<String> {
    list_from_json(&row.tags)
}

/// One difference between two scans (nmap ndiff's field set, plus HTTP, certificate and TLS).
#[derive(Debug, Clone, PartialEq)]
pub struct DiffEntry {
    pub kind: ChangeKind,
    pub site: String,
    pub address: String,
    pub port: Option<(String, u16)>,
    pub before: Value,
    pub after: Value,
}

/// The differences from scan `base` to scan `head`, host by host in the head's order (hosts
/// of the base the head did not scan are left out: not scanned is not gone).
pub async fn diff(
    db: &DatabaseConnection,
    actor: &Actor,
    base_id: i32,
    head_id: i32,
) -> AppResult<(scan::Model, scan::Model, Vec<DiffEntry>)> {
    actor.require(Role::Viewer)?;
    let get = |id: i32| async move {
        scan::Entity::find_by_id(id)
            .filter(scan::Column::ParentId.is_null())
            .one(db)
            .await?
            .ok_or(AppError::NotFound("scan"))
    };
    let (base, head) = (get(base_id).await?, get(head_id).await?);
    let now = Utc::now();
    // Where both scans have host digests, only the hosts of the head whose digest differs
    // from the base's (or that the base did not see) can differ: only they are read.
    let (base_digests, head_digests) =
        tokio::try_join!(observe::digests(db, base.id), observe::digests(db, head.id))?;
    let changed: Option<Vec<&str>> = match (&base_digests, &head_digests) {
        (Some(b), Some(h)) => {
            let mut list: Vec<&str> = h
                .iter()
                .filter(|(key, digest)| b.get(*key) != Some(*digest))
                .map(|((_, address), _)| address.as_str())
                .collect();
            list.sort_unstable();
            list.dedup();
            // Most hosts changed: one read of everything costs less than a filtered one.
            (list.len() * 2 <= h.len()).then_some(list)
        }
        _ => None,
    };
    if changed.as_ref().is_some_and(Vec::is_empty) {
        return Ok((base, head, Vec::new()));
    }
    // Both at once, on two connections of the pool.
    let only = changed.as_deref();
    let (b, h) = tokio::try_join!(
        observe::scan_hosts(db, &base, now, 0, only),
        observe::scan_hosts(db, &head, now, 0, only)
    )?;
    let base_hosts: HashMap<(&str, &str), _> = b
        .iter()
        .map(|o| ((o.site.as_str(), o.address.as_str()), &o.obs))
        .collect();
    let mut out = Vec::new();
    for o in &h {
        let before = base_hosts
            .get(&(o.site.as_str(), o.address.as_str()))
            .copied();
        for c in diff_host(before, &o.obs) {
            out.push(DiffEntry {
                kind: c.kind,
                site: o.site.clone(),
                address: o.address.clone(),
                port: c.port,
                before: c.before,
                after: c.after,
            });
        }
    }
    Ok((base, head, out))
}

/// Entries per kind.
pub fn diff_counts(entries: &[DiffEntry]) -> BTreeMap<ChangeKind, usize> {
    let mut out = BTreeMap::new();
    for e in entries {
        *out.entry(e.kind).or_default() += 1;
    }
    out
}

/// The summary line of a diff entry.
pub fn diff_summary(e: &DiffEntry) -> String {
    history::summary(e.kind, &e.address, e.port.as_ref(), &e.before, &e.after)
}
