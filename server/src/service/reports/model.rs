//! The report document (JSON schema version 1, `docs/report.schema.json`): the scan, its sites →
//! IPs → expected/actual and ports → services with HTTP, screenshot, certificate and TLS
//! versions, and the findings. Loaded from the database in one query per level.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use entity::{
    scan, scan_certificate, scan_ip, scan_port, scan_service, scan_site, scan_tls_version,
};

use super::analysis::{self, Finding};
use crate::error::AppResult;
use crate::service::results::list_from_json;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub generator: String,
    pub generated_at: DateTime<Utc>,
    pub scan: ScanPart,
    pub sites: Vec<SitePart>,
    pub findings: Vec<Finding>,
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

/// Loads a scan's report. `expiry_days`: certificates expiring within it are findings.
pub async fn load<C: ConnectionTrait>(
    db: &C,
    row: &scan::Model,
    expiry_days: i64,
) -> AppResult<Report> {
    let id = row.id;
    let sites = scan_site::Entity::find()
        .filter(scan_site::Column::ScanId.eq(id))
        .order_by_asc(scan_site::Column::Id)
        .all(db)
        .await?;
    let ips = scan_ip::Entity::find()
        .filter(scan_ip::Column::ScanId.eq(id))
        .order_by_asc(scan_ip::Column::Id)
        .all(db)
        .await?;
    let ports = scan_port::Entity::find()
        .filter(scan_port::Column::ScanId.eq(id))
        .order_by_asc(scan_port::Column::Protocol)
        .order_by_asc(scan_port::Column::Port)
        .all(db)
        .await?;
    let services = scan_service::Entity::find()
        .filter(scan_service::Column::ScanId.eq(id))
        .all(db)
        .await?;
    let certificates = scan_certificate::Entity::find()
        .filter(scan_certificate::Column::ScanId.eq(id))
        .all(db)
        .await?;
    let tls = scan_tls_version::Entity::find()
        .filter(scan_tls_version::Column::ScanId.eq(id))
        .order_by_asc(scan_tls_version::Column::Version)
        .all(db)
        .await?;

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
    let mut ips_by_site: HashMap<i32, Vec<IpPart>> = HashMap::new();
    for ip in &ips {
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
        ips_by_site.entry(ip.site_id).or_default().push(IpPart {
            address: ip.address.clone(),
            hostname: ip.hostname.clone(),
            status: ip.status.clone(),
            expected,
            actual,
            ports,
        });
    }
    let sites: Vec<SitePart> = sites
        .iter()
        .map(|s| SitePart {
            name: s.name.clone(),
            ips: ips_by_site.remove(&s.id).unwrap_or_default(),
        })
        .collect();
    let now = Utc::now();
    let findings = analysis::findings(&sites, now, expiry_days);
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        generator: concat!("SneakyScanner ", env!("CARGO_PKG_VERSION")).to_owned(),
        generated_at: now,
        scan: ScanPart {
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
        },
        sites,
        findings,
    })
}

/// `screenshots/<scan>/<file>.png` → `screenshots/<file>.png` (its path inside the ZIP).
fn zip_screenshot_name(stored: &str) -> Option<String> {
    let file = std::path::Path::new(stored).file_name()?.to_str()?;
    Some(format!("screenshots/{file}"))
}
