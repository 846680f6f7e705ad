//! The report document (JSON schema version 2, `docs/report.schema.json`): the scan, its
//! baseline, its sites → IPs → expected/actual and ports → services with HTTP, screenshot,
//! certificate and TLS versions, the findings, and the changes since the baseline (version 2).
//! Read from the database a batch of addresses at a time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use entity::{
    change_event, scan, scan_certificate, scan_ip, scan_port, scan_service, scan_site,
    scan_tls_version,
};

use super::analysis::Finding;
use crate::error::AppResult;
use crate::service::results::list_from_json;

pub const SCHEMA_VERSION: u32 = 2;

/// The whole document. The writer (`reports::write_reports`) streams these same fields a batch
/// of addresses at a time; tests build one whole.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub generator: String,
    pub generated_at: DateTime<Utc>,
    pub scan: ScanPart,
    /// The scan its changes are against (version 2).
    pub baseline: Option<BaselinePart>,
    pub sites: Vec<SitePart>,
    pub findings: Vec<Finding>,
    /// What changed since the baseline (version 2).
    pub changes: Vec<ChangePart>,
}

/// The scan a report's changes are against.
#[derive(Debug, Clone, Serialize)]
pub struct BaselinePart {
    pub id: i32,
    pub title: String,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One change event of the scan (DESIGN §13's `ChangeEvent`).
#[derive(Debug, Clone, Serialize)]
pub struct ChangePart {
    pub kind: String,
    pub severity: String,
    pub site: Option<String>,
    pub address: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub summary: String,
}

/// A scan's baseline (if it still exists) and its change events, in the order written.
pub async fn changes<C: ConnectionTrait>(
    db: &C,
    row: &scan::Model,
) -> AppResult<(Option<BaselinePart>, Vec<ChangePart>)> {
    let baseline = match row.baseline_id {
        Some(id) => scan::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|b| BaselinePart {
                id: b.id,
                title: b.title,
                completed_at: b.completed_at,
            }),
        None => None,
    };
    let json = |t: Option<String>| {
        t.and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let changes = change_event::Entity::find()
        .filter(change_event::Column::ScanId.eq(row.id))
        .order_by_asc(change_event::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|e| ChangePart {
            kind: e.kind,
            severity: e.severity,
            site: e.site,
            address: e.address,
            protocol: e.protocol,
            port: e.port,
            before: json(e.before),
            after: json(e.after),
            summary: e.summary,
        })
        .collect();
    Ok((baseline, changes))
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanPart {
    pub id: i32,
    pub title: String,
    pub status: String,
    pub message: Option<String>,
    pub error_message: Option<String>,
    pub triggered_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub command_lines: Vec<Vec<String>>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub hosts_total: i32,
    pub hosts_up: i32,
    pub open_ports: i32,
    pub services: i32,
    pub certificates: i32,
    pub unexpected_ports: i32,
    pub missing_ports: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SitePart {
    pub name: String,
    pub ips: Vec<IpPart>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IpPart {
    pub address: String,
    pub hostname: Option<String>,
    pub status: String,
    pub expected: Expectation,
    pub actual: Expectation,
    pub ports: Vec<PortPart>,
}

/// Ping and ports: what the config declared (`expected`) or what the scan saw (`actual`:
/// the open ports).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Expectation {
    pub ping: Option<bool>,
    pub tcp_ports: Vec<u16>,
    pub udp_ports: Vec<u16>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortPart {
    pub port: u16,
    pub protocol: String,
    pub state: String,
    pub reason: Option<String>,
    pub expected: bool,
    pub unexpected: bool,
    pub missing: bool,
    pub service: Option<ServicePart>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServicePart {
    pub name: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extra_info: Option<String>,
    pub tunnel: Option<String>,
    pub cpe: Option<String>,
    pub http: Option<HttpPart>,
    /// Path of the screenshot inside the ZIP report (`screenshots/…png`).
    pub screenshot: Option<String>,
    pub certificate: Option<CertificatePart>,
    pub tls_versions: Vec<TlsPart>,
    #[serde(skip)]
    pub screenshot_path: Option<String>,
    #[serde(skip)]
    pub service_id: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpPart {
    pub status: Option<i32>,
    pub title: Option<String>,
    pub server: Option<String>,
    pub location: Option<String>,
    pub response_ms: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificatePart {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    pub serial: Option<String>,
    pub sha256_fingerprint: Option<String>,
    pub key_type: Option<String>,
    pub key_bits: Option<i32>,
    pub signature_algorithm: Option<String>,
    pub self_signed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TlsPart {
    pub version: String,
    pub ciphers: Vec<String>,
    pub grade: Option<String>,
}

impl From<&scan_certificate::Model> for CertificatePart {
    fn from(c: &scan_certificate::Model) -> Self {
        Self {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            sans: list_from_json(&c.sans),
            not_before: c.not_before,
            not_after: c.not_after,
            serial: c.serial.clone(),
            sha256_fingerprint: c.sha256_fingerprint.clone(),
            key_type: c.key_type.clone(),
            key_bits: c.key_bits,
            signature_algorithm: c.signature_algorithm.clone(),
            self_signed: c.self_signed,
        }
    }
}

impl From<&scan_tls_version::Model> for TlsPart {
    fn from(t: &scan_tls_version::Model) -> Self {
        Self {
            version: t.version.clone(),
            ciphers: list_from_json(&t.ciphers),
            grade: t.grade.clone(),
        }
    }
}

/// What the report says about the scan itself.
pub fn scan_part(row: &scan::Model) -> ScanPart {
    ScanPart {
        id: row.id,
        title: row.title.clone(),
        status: row.status.clone(),
        message: row.message.clone(),
        error_message: row.error_message.clone(),
        triggered_by: row.triggered_by.clone(),
        created_at: row.created_at,
        started_at: row.started_at,
        completed_at: row.completed_at,
        command_lines: serde_json::from_str(&row.command_lines).unwrap_or_default(),
        summary: Summary {
            hosts_total: row.hosts_total,
            hosts_up: row.hosts_up,
            open_ports: row.open_ports,
            services: row.services_count,
            certificates: row.certificates_count,
            unexpected_ports: row.unexpected_ports,
            missing_ports: row.missing_ports,
        },
    }
}

pub fn generator() -> String {
    concat!("SneakyScanner ", env!("CARGO_PKG_VERSION")).to_owned()
}

/// The sites of a scan, in the order they were stored.
pub async fn sites<C: ConnectionTrait>(db: &C, scan_id: i32) -> AppResult<Vec<scan_site::Model>> {
    Ok(scan_site::Entity::find()
        .filter(scan_site::Column::ScanId.eq(scan_id))
        .order_by_asc(scan_site::Column::Id)
        .all(db)
        .await?)
}

use crate::db::IDS_PER_STATEMENT;

/// Rows of `E` whose `column` is one of `ids`, in chunks.
async fn rows_in<C, E>(db: &C, column: E::Column, ids: &[i32]) -> AppResult<Vec<E::Model>>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    let mut out = Vec::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        out.extend(
            E::find()
                .filter(column.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// The next `limit` addresses of a site after address `after`, in storage order, each with
/// its ports, services, certificate and TLS versions: a report is read a batch at a time, so
/// writing it takes memory for one batch, whatever the scan's size.
pub async fn ip_batch<C: ConnectionTrait>(
    db: &C,
    site_id: i32,
    after: Option<i32>,
    limit: u64,
) -> AppResult<Vec<(i32, IpPart)>> {
    let mut q = scan_ip::Entity::find().filter(scan_ip::Column::SiteId.eq(site_id));
    if let Some(id) = after {
        q = q.filter(scan_ip::Column::Id.gt(id));
    }
    let ips = q
        .order_by_asc(scan_ip::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let ip_ids: Vec<i32> = ips.iter().map(|ip| ip.id).collect();
    let mut ports: Vec<scan_port::Model> =
        rows_in::<_, scan_port::Entity>(db, scan_port::Column::IpId, &ip_ids).await?;
    ports.sort_by(|a, b| (&a.protocol, a.port).cmp(&(&b.protocol, b.port)));
    let port_ids: Vec<i32> = ports.iter().map(|p| p.id).collect();
    let services =
        rows_in::<_, scan_service::Entity>(db, scan_service::Column::PortId, &port_ids).await?;
    let service_ids: Vec<i32> = services.iter().map(|s| s.id).collect();
    let certificates = rows_in::<_, scan_certificate::Entity>(
        db,
        scan_certificate::Column::ServiceId,
        &service_ids,
    )
    .await?;
    let mut tls = rows_in::<_, scan_tls_version::Entity>(
        db,
        scan_tls_version::Column::ServiceId,
        &service_ids,
    )
    .await?;
    tls.sort_by(|a, b| a.version.cmp(&b.version));

    let cert_by_service: HashMap<i32, &scan_certificate::Model> =
        certificates.iter().map(|c| (c.service_id, c)).collect();
    let mut tls_by_service: HashMap<i32, Vec<TlsPart>> = HashMap::new();
    for t in &tls {
        tls_by_service
            .entry(t.service_id)
            .or_default()
            .push(t.into());
    }
    let mut service_by_port: HashMap<i32, ServicePart> = services
        .iter()
        .map(|s| {
            let http = (s.http_status.is_some() || s.http_title.is_some()).then(|| HttpPart {
                status: s.http_status,
                title: s.http_title.clone(),
                server: s.http_server.clone(),
                location: s.http_location.clone(),
                response_ms: s.http_response_ms,
            });
            let part = ServicePart {
                name: s.name.clone(),
                product: s.product.clone(),
                version: s.version.clone(),
                extra_info: s.extra_info.clone(),
                tunnel: s.tunnel.clone(),
                cpe: s.cpe.clone(),
                http,
                screenshot: s.screenshot_path.as_deref().and_then(zip_screenshot_name),
                certificate: cert_by_service.get(&s.id).map(|c| (*c).into()),
                tls_versions: tls_by_service.remove(&s.id).unwrap_or_default(),
                screenshot_path: s.screenshot_path.clone(),
                service_id: s.id,
            };
            (s.port_id, part)
        })
        .collect();
    let mut ports_by_ip: HashMap<i32, Vec<PortPart>> = HashMap::new();
    for p in &ports {
        ports_by_ip.entry(p.ip_id).or_default().push(PortPart {
            port: u16::try_from(p.port).unwrap_or_default(),
            protocol: p.protocol.clone(),
            state: p.state.clone(),
            reason: p.reason.clone(),
            expected: p.expected,
            unexpected: p.unexpected,
            missing: p.is_missing(),
            service: service_by_port.remove(&p.id),
        });
    }
    Ok(ips
        .iter()
        .map(|ip| {
            let ports = ports_by_ip.remove(&ip.id).unwrap_or_default();
            let list = |proto: &str, want: fn(&PortPart) -> bool| -> Vec<u16> {
                ports
                    .iter()
                    .filter(|p| p.protocol == proto && want(p))
                    .map(|p| p.port)
                    .collect()
            };
            let expected = Expectation {
                ping: ip.ping_expected,
                tcp_ports: list("tcp", |p| p.expected),
                udp_ports: list("udp", |p| p.expected),
            };
            let actual = Expectation {
                ping: ip.ping_actual,
                tcp_ports: list("tcp", |p| p.state == "open"),
                udp_ports: list("udp", |p| p.state == "open"),
            };
            let part = IpPart {
                address: ip.address.clone(),
                hostname: ip.hostname.clone(),
                status: ip.status.clone(),
                expected,
                actual,
                ports,
            };
            (ip.id, part)
        })
        .collect())
}

/// `screenshots/<scan>/<file>.png` → `screenshots/<file>.png` (its path inside the ZIP).
fn zip_screenshot_name(stored: &str) -> Option<String> {
    let file = std::path::Path::new(stored).file_name()?.to_str()?;
    Some(format!("screenshots/{file}"))
}
