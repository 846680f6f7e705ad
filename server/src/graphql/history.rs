//! GraphQL for the history (issue 13, DESIGN §13): the host inventory (`hosts`, `host`,
//! `updateHost`), change events (`changes`, `Scan.changes`), the certificate inventory
//! (`certificates`) and the diff of any two scans (`scanDiff`). Thin over
//! `service::history`.

use async_graphql::{Context, Enum, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use entity::{certificate, change_event, host};

use crate::domain;
use crate::domain::auth::Role;
use crate::error::{AppError, GqlResult};
use crate::graphql::answers;
use crate::graphql::connection::connection;
use crate::graphql::context::{ContextExt, parse_id};
use crate::graphql::enums::{HostStatus, Protocol, Severity, typed};
use crate::graphql::scans::{Scan, loaders, scan_or_none};
use crate::service::history::read::{self, ChangeScope, DiffEntry as Entry, HostUpdate};
use crate::service::pagination::PageRequest;
use crate::service::results::list_from_json;

/// A typed change (DESIGN §13).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::changes::ChangeKind")]
pub enum ChangeKind {
    HostNew,
    HostUp,
    HostDown,
    HostnameChanged,
    PortOpened,
    PortClosed,
    PortStateChanged,
    ServiceChanged,
    ScriptChanged,
    HttpChanged,
    CertChanged,
    CertExpiring,
    CertExpired,
    TlsVersionAdded,
    TlsVersionRemoved,
    UnexpectedPort,
    ExpectedPortMissing,
    PingMismatch,
    DriftResolved,
    ScanCompleted,
    ScanFailed,
    ScheduleMissed,
    AgentOffline,
    AgentOnline,
}

fn protocol(text: &str) -> Protocol {
    typed(
        text,
        domain::facts::Protocol::parse,
        domain::facts::Protocol::Tcp,
    )
    .into()
}

/// A scan by id through the request's loader (one statement for a page of events); none
/// when it was deleted. Chunks never carry history.
/// A host of the inventory: one per (site, address) ever seen up.
pub struct Host(pub host::Model);

#[Object]
impl Host {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn site(&self) -> &str {
        &self.0.site
    }
    async fn address(&self) -> &str {
        &self.0.address
    }
    async fn hostname(&self) -> Option<&str> {
        self.0.hostname.as_deref()
    }
    /// As the last scan that observed it saw it.
    async fn state(&self) -> HostStatus {
        typed(
            &self.0.state,
            domain::facts::HostStatus::parse,
            domain::facts::HostStatus::Unknown,
        )
        .into()
    }
    async fn first_seen_at(&self) -> DateTime<Utc> {
        self.0.first_seen_at
    }
    /// The last scan that observed it (up or down).
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.0.last_seen_at
    }
    async fn last_up_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_up_at
    }
    /// The last scan that observed it (none once that scan is deleted).
    async fn last_scan(&self, ctx: &Context<'_>) -> GqlResult<Option<Scan>> {
        scan_or_none(ctx, self.0.last_scan_id).await
    }
    async fn tags(&self) -> Vec<String> {
        read::tags(&self.0)
    }
    async fn owner(&self) -> Option<&str> {
        self.0.owner.as_deref()
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// How many ports are open as last known.
    async fn open_port_count(&self) -> i32 {
        self.0.open_ports
    }
    /// Its open ports as last known: a port a later scan did not probe stays known open.
    async fn open_ports(&self, ctx: &Context<'_>) -> GqlResult<Vec<HostPort>> {
        Ok(read::open_ports(ctx.db(), self.0.id)
            .await?
            .into_iter()
            .map(|p| HostPort {
                protocol: protocol(&p.protocol),
                port: i32::from(p.port),
                name: p.name,
                product: p.product,
                version: p.version,
                since: p.since,
                last_seen_at: p.last_seen_at,
            })
            .collect())
    }
    /// Each port's states over time (open intervals are drawn as bars on the host's page),
    /// oldest first.
    async fn port_intervals(&self, ctx: &Context<'_>) -> GqlResult<Vec<PortInterval>> {
        Ok(read::intervals(ctx.db(), ctx.actor()?, self.0.id, "port")
            .await?
            .into_iter()
            .filter_map(|f| {
                let (proto, port) = domain::history::port_of_key(&f.key)?;
                Some(PortInterval {
                    protocol: protocol(&proto),
                    port: i32::from(port),
                    state: f.value,
                    first_seen_at: f.first_seen_at,
                    last_seen_at: f.last_seen_at,
                    ended_at: f.ended_at,
                })
            })
            .collect())
    }
    /// Its change events, newest first.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<ChangeEventConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let scope = ChangeScope {
            host_id: Some(self.0.id),
            ..ChangeScope::default()
        };
        let page = read::changes(ctx.db(), ctx.actor()?, page, &scope).await?;
        Ok(ChangeEventConnection::from_page(
            page,
            |e| e.id,
            ChangeEvent,
        ))
    }
}

connection!(HostConnection, HostEdge, Host);

/// An open port of a host as last known.
#[derive(SimpleObject)]
pub struct HostPort {
    pub protocol: Protocol,
    pub port: i32,
    pub name: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    /// Open since (the scan that first saw it open).
    pub since: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// One interval of a port's state (nmap's word: `open`, `closed`, `filtered`, …).
#[derive(SimpleObject)]
pub struct PortInterval {
    pub protocol: Protocol,
    pub port: i32,
    pub state: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// When a scan saw it end; none: it still holds.
    pub ended_at: Option<DateTime<Utc>>,
}

/// A change, written when a scan or an import completed (DESIGN §13).
pub struct ChangeEvent(pub change_event::Model);

fn json_of(text: Option<&str>) -> Option<Json<Value>> {
    text.and_then(|t| serde_json::from_str(t).ok()).map(Json)
}

#[Object]
impl ChangeEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> ChangeKind {
        typed(
            &self.0.kind,
            domain::changes::ChangeKind::parse,
            domain::changes::ChangeKind::ScanCompleted,
        )
        .into()
    }
    async fn severity(&self) -> Severity {
        typed(
            &self.0.severity,
            domain::findings::Severity::parse,
            domain::findings::Severity::Info,
        )
        .into()
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// The scan that saw the change (none once it is deleted: the event stays).
    async fn scan(&self, ctx: &Context<'_>) -> GqlResult<Option<Scan>> {
        answers::read_mutable(ctx);
        scan_or_none(ctx, self.0.scan_id).await
    }
    /// The scan it was compared with: the host's previous observation.
    async fn baseline_scan(&self, ctx: &Context<'_>) -> GqlResult<Option<Scan>> {
        answers::read_mutable(ctx);
        scan_or_none(ctx, self.0.baseline_scan_id).await
    }
    async fn host(&self, ctx: &Context<'_>) -> GqlResult<Option<Host>> {
        answers::read_mutable(ctx);
        ctx.actor()?.require(Role::Viewer)?;
        let Some(id) = self.0.host_id else {
            return Ok(None);
        };
        let rows = loaders(ctx)
            .hosts
            .load_one(id)
            .await
            .map_err(AppError::from)?;
        Ok(rows.and_then(|mut v| v.pop()).map(Host))
    }
    async fn site(&self) -> Option<&str> {
        self.0.site.as_deref()
    }
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    async fn protocol(&self) -> Option<Protocol> {
        self.0.protocol.as_deref().map(protocol)
    }
    async fn port(&self) -> Option<i32> {
        self.0.port
    }
    /// The facts before (none: not known / not there).
    async fn before(&self) -> Option<Json<Value>> {
        json_of(self.0.before.as_deref())
    }
    async fn after(&self) -> Option<Json<Value>> {
        json_of(self.0.after.as_deref())
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
}

connection!(ChangeEventConnection, ChangeEventEdge, ChangeEvent);

/// Where a certificate is (or was) served.
#[derive(SimpleObject)]
pub struct Endpoint {
    pub host: Host,
    pub protocol: Protocol,
    pub port: i32,
    /// Still served as far as the last scans of the host know.
    pub current: bool,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// A certificate of the inventory, by SHA-256 fingerprint.
pub struct Certificate {
    row: certificate::Model,
    endpoints: Vec<read::Endpoint>,
}

#[Object]
impl Certificate {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn sha256_fingerprint(&self) -> &str {
        &self.row.sha256_fingerprint
    }
    async fn subject(&self) -> &str {
        &self.row.subject
    }
    async fn issuer(&self) -> &str {
        &self.row.issuer
    }
    async fn sans(&self) -> Vec<String> {
        list_from_json(&self.row.sans)
    }
    async fn not_before(&self) -> Option<DateTime<Utc>> {
        self.row.not_before
    }
    async fn not_after(&self) -> Option<DateTime<Utc>> {
        self.row.not_after
    }
    /// Whole days until it expires (negative: expired that many days ago).
    async fn days_left(&self) -> Option<i64> {
        self.row.not_after.map(|t| (t - Utc::now()).num_days())
    }
    async fn self_signed(&self) -> bool {
        self.row.self_signed
    }
    async fn key_type(&self) -> Option<&str> {
        self.row.key_type.as_deref()
    }
    async fn key_bits(&self) -> Option<i32> {
        self.row.key_bits
    }
    async fn first_seen_at(&self) -> DateTime<Utc> {
        self.row.first_seen_at
    }
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.row.last_seen_at
    }
    /// Where it is served (current ones first), and where it was.
    async fn endpoints(&self) -> Vec<Endpoint> {
        self.endpoints
            .iter()
            .map(|e| Endpoint {
                host: Host(e.host.clone()),
                protocol: protocol(&e.protocol),
                port: i32::from(e.port),
                current: e.current,
                first_seen_at: e.first_seen_at,
                last_seen_at: e.last_seen_at,
            })
            .collect()
    }
}

connection!(CertificateConnection, CertificateEdge, Certificate);

/// One difference between two scans.
#[derive(SimpleObject)]
pub struct DiffEntry {
    pub kind: ChangeKind,
    pub site: String,
    pub address: String,
    pub protocol: Option<Protocol>,
    pub port: Option<i32>,
    pub before: Option<Json<Value>>,
    pub after: Option<Json<Value>>,
    pub summary: String,
}

connection!(DiffEntryConnection, DiffEntryEdge, DiffEntry);

#[derive(SimpleObject)]
pub struct KindCount {
    pub kind: ChangeKind,
    pub count: i32,
}

#[derive(SimpleObject)]
pub struct DiffCounts {
    pub total: i32,
    pub hosts_new: i32,
    pub hosts_up: i32,
    pub hosts_down: i32,
    pub ports_opened: i32,
    pub ports_closed: i32,
    /// Every other kind of change (state, service, script, HTTP, certificate, TLS, hostname).
    pub changed: i32,
    pub by_kind: Vec<KindCount>,
}

/// The differences from one scan to another (nmap ndiff's field set: host state, hostname,
/// port state, service name/product/version/extra info, script output; plus HTTP,
/// certificate and TLS versions).
pub struct ScanDiff {
    base: entity::scan::Model,
    head: entity::scan::Model,
    entries: Vec<Entry>,
}

#[Object]
impl ScanDiff {
    async fn base(&self) -> Scan {
        Scan(self.base.clone())
    }
    async fn head(&self) -> Scan {
        Scan(self.head.clone())
    }
    async fn counts(&self) -> DiffCounts {
        use domain::changes::ChangeKind as K;
        let counts = read::diff_counts(&self.entries);
        let n = |k: K| i32::try_from(counts.get(&k).copied().unwrap_or(0)).unwrap_or(i32::MAX);
        let total = i32::try_from(self.entries.len()).unwrap_or(i32::MAX);
        let named = [
            K::HostNew,
            K::HostUp,
            K::HostDown,
            K::PortOpened,
            K::PortClosed,
        ];
        DiffCounts {
            total,
            hosts_new: n(K::HostNew),
            hosts_up: n(K::HostUp),
            hosts_down: n(K::HostDown),
            ports_opened: n(K::PortOpened),
            ports_closed: n(K::PortClosed),
            changed: total - named.iter().map(|k| n(*k)).sum::<i32>(),
            by_kind: counts
                .iter()
                .map(|(k, c)| KindCount {
                    kind: (*k).into(),
                    count: i32::try_from(*c).unwrap_or(i32::MAX),
                })
                .collect(),
        }
    }
    /// The differences host by host in the head's order.
    async fn entries(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<DiffEntryConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let start = page.after_id.map_or(0, |n| usize::try_from(n).unwrap_or(0));
        let rows: Vec<(i32, &Entry)> = self
            .entries
            .iter()
            .enumerate()
            .skip(start)
            .take(usize::try_from(page.first).unwrap_or(0) + 1)
            .map(|(i, e)| (i32::try_from(i + 1).unwrap_or(i32::MAX), e))
            .collect();
        let total = self.entries.len() as u64;
        let page = crate::service::pagination::Page::from_rows(rows, page.first, total);
        Ok(DiffEntryConnection::from_page(
            page,
            |(i, _)| *i,
            |(_, e)| DiffEntry {
                kind: e.kind.into(),
                site: e.site.clone(),
                address: e.address.clone(),
                protocol: e.port.as_ref().map(|p| protocol(&p.0)),
                port: e.port.as_ref().map(|p| i32::from(p.1)),
                before: (!e.before.is_null()).then(|| Json(e.before.clone())),
                after: (!e.after.is_null()).then(|| Json(e.after.clone())),
                summary: read::diff_summary(e),
            },
        ))
    }
}

#[derive(InputObject)]
pub struct UpdateHostInput {
    /// Replaces the tags (each 1-64 letters, digits, `.`, `_`, `:`, `-`, `/`; at most 32).
    pub tags: Option<Vec<String>>,
    /// Null clears it.
    pub owner: MaybeUndefined<String>,
    /// Null clears them.
    pub notes: MaybeUndefined<String>,
}

fn maybe(v: MaybeUndefined<String>) -> Option<Option<String>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(s) => Some(Some(s)),
    }
}

#[derive(Default)]
pub struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// The host inventory, newest first (VIEWER). `filter`: the filter language
    /// (`site:dmz port:443 -product:nginx address:127.0.0.0/8 tag:prod seen<24h`; README); a
    /// bad filter is VALIDATION with its `column`.
    async fn hosts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<String>,
    ) -> GqlResult<HostConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let page = read::hosts(ctx.db(), ctx.actor()?, page, filter.as_deref()).await?;
        Ok(HostConnection::from_page(page, |h| h.id, Host))
    }

    async fn host(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Host> {
        Ok(Host(
            read::host(ctx.db(), ctx.actor()?, parse_id(&id, "host")?).await?,
        ))
    }

    /// Change events, newest first (VIEWER). `filter`: the filter language over the event
    /// (`kind:PORT_OPENED port:22 severity>=medium changed<24h address:…`) and its host
    /// (`hostname:`, `tag:`, `owner:`); `kinds`: only these; `sinceHours`: only the last hours.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<String>,
        kinds: Option<Vec<ChangeKind>>,
        #[graphql(validator(minimum = 1, maximum = 87600))] since_hours: Option<i32>,
    ) -> GqlResult<ChangeEventConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let scope = ChangeScope {
            since: since_hours.map(|h| Utc::now() - Duration::hours(i64::from(h))),
            kinds: kinds
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            text: filter,
            ..ChangeScope::default()
        };
        let page = read::changes(ctx.db(), ctx.actor()?, page, &scope).await?;
        Ok(ChangeEventConnection::from_page(
            page,
            |e| e.id,
            ChangeEvent,
        ))
    }

    /// The certificate inventory, soonest expiry first (VIEWER). `filter`: the filter
    /// language (`cert.expires<30d cert.issuer:*letsencrypt* port:443 address:…`; a bare word
    /// is found in the subject, issuer, names or fingerprint).
    async fn certificates(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<String>,
    ) -> GqlResult<CertificateConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let page = read::certificates(ctx.db(), ctx.actor()?, page, filter.as_deref()).await?;
        let shas: Vec<String> = page
            .items
            .iter()
            .map(|c| c.sha256_fingerprint.clone())
            .collect();
        let endpoints = read::endpoints(ctx.db(), &shas).await?;
        Ok(CertificateConnection::from_page(
            page,
            |c| c.id,
            |row| Certificate {
                endpoints: endpoints
                    .get(&row.sha256_fingerprint)
                    .cloned()
                    .unwrap_or_default(),
                row,
            },
        ))
    }

    /// The differences from scan `baseId` to scan `headId`, any two scans (VIEWER).
    async fn scan_diff(&self, ctx: &Context<'_>, base_id: ID, head_id: ID) -> GqlResult<ScanDiff> {
        let (base, head, entries) = read::diff(
            ctx.db(),
            ctx.actor()?,
            parse_id(&base_id, "scan")?,
            parse_id(&head_id, "scan")?,
        )
        .await?;
        Ok(ScanDiff {
            base,
            head,
            entries,
        })
    }
}

#[derive(Default)]
pub struct HistoryMutation;

#[Object]
impl HistoryMutation {
    /// Sets a host's tags, owner and notes (OPERATOR); a field left out stays.
    async fn update_host(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateHostInput,
    ) -> GqlResult<Host> {
        let update = HostUpdate {
            tags: input.tags,
            owner: maybe(input.owner),
            notes: maybe(input.notes),
        };
        Ok(Host(
            read::update_host(ctx.db(), ctx.actor()?, parse_id(&id, "host")?, update).await?,
        ))
    }
}

/// `Scan.changes` (its change events, newest first) and `Scan.baseline`.
pub async fn scan_changes(
    ctx: &Context<'_>,
    scan_id: i32,
    first: Option<i32>,
    after: Option<String>,
) -> GqlResult<ChangeEventConnection> {
    answers::read_mutable(ctx);
    let page = PageRequest::parse(first, after.as_deref())?;
    let scope = ChangeScope {
        scan_id: Some(scan_id),
        ..ChangeScope::default()
    };
    let page = read::changes(ctx.db(), ctx.actor()?, page, &scope).await?;
    Ok(ChangeEventConnection::from_page(
        page,
        |e| e.id,
        ChangeEvent,
    ))
}

pub async fn scan_baseline(ctx: &Context<'_>, baseline_id: Option<i32>) -> GqlResult<Option<Scan>> {
    answers::read_mutable(ctx);
    scan_or_none(ctx, baseline_id).await
}
