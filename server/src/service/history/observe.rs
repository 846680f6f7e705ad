//! What a stored scan saw, host by host, as the change rules read it: each (site, address)
//! with its [`HostObservation`] (coverage included), its drift and certificate-expiry facts,
//! and the certificates served. Read from the per-scan result tables, one query per table.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use entity::{
    scan, scan_certificate, scan_ip, scan_port, scan_script, scan_service, scan_site,
    scan_tls_version,
};

use crate::domain::changes::{ChangeKind, Coverage, HostObservation, PortFacts, ServiceFacts};
use crate::domain::history::{Fact, observes, port_key};
use crate::error::AppResult;

/// One host of a scan.
#[derive(Debug, Clone)]
pub struct Observed {
    pub site: String,
    pub address: String,
    pub obs: HostObservation,
    /// Drift (from the config's verdicts) and expiry facts the scan observed.
    pub extra: Vec<Fact>,
}

/// A scan's hosts in storage order, and the certificates it saw.
pub struct ScanObservation {
    pub hosts: Vec<Observed>,
    pub certificates: Vec<scan_certificate::Model>,
}

/// Reads what scan `row` saw. `expiry_days`: a certificate that ends within them is
/// "expiring" at `now`.
pub async fn scan<C: ConnectionTrait>(
    db: &C,
    row: &scan::Model,
    now: DateTime<Utc>,
    expiry_days: i64,
) -> AppResult<ScanObservation> {
    let id = row.id;
    let coverage: Coverage = row
        .coverage
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    let sites: HashMap<i32, String> = scan_site::Entity::find()
        .filter(scan_site::Column::ScanId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let ips = scan_ip::Entity::find()
        .filter(scan_ip::Column::ScanId.eq(id))
        .order_by_asc(scan_ip::Column::Id)
        .all(db)
        .await?;
    let ports = scan_port::Entity::find()
        .filter(scan_port::Column::ScanId.eq(id))
        .all(db)
        .await?;
    let mut services: HashMap<i32, scan_service::Model> = scan_service::Entity::find()
        .filter(scan_service::Column::ScanId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.port_id, s))
        .collect();
    let certificates = scan_certificate::Entity::find()
        .filter(scan_certificate::Column::ScanId.eq(id))
        .all(db)
        .await?;
    let cert_by_service: HashMap<i32, &scan_certificate::Model> =
        certificates.iter().map(|c| (c.service_id, c)).collect();
    let mut tls: HashMap<i32, Vec<String>> = HashMap::new();
    for t in scan_tls_version::Entity::find()
        .filter(scan_tls_version::Column::ScanId.eq(id))
        .all(db)
        .await?
    {
        tls.entry(t.service_id).or_default().push(t.version);
    }
    let mut scripts: HashMap<i32, Vec<(String, String)>> = HashMap::new();
    for s in scan_script::Entity::find()
        .filter(scan_script::Column::ScanId.eq(id))
        .filter(scan_script::Column::PortId.is_not_null())
        .all(db)
        .await?
    {
        if let Some(port_id) = s.port_id {
            scripts
                .entry(port_id)
                .or_default()
                .push((s.script_id, s.output));
        }
    }
    let mut ports_by_ip: HashMap<i32, Vec<scan_port::Model>> = HashMap::new();
    for p in ports {
        ports_by_ip.entry(p.ip_id).or_default().push(p);
    }
    let expiring_before = now + Duration::days(expiry_days);

    let mut hosts = Vec::with_capacity(ips.len());
    for ip in ips {
        let mut obs = HostObservation {
            hostname: ip.hostname.clone(),
            up: match ip.status.as_str() {
                "up" => Some(true),
                "down" => Some(false),
                _ => None,
            },
            ports: Default::default(),
            coverage: coverage.clone(),
        };
        let mut extra = Vec::new();
        if let (Some(expected), Some(actual)) = (ip.ping_expected, ip.ping_actual)
            && expected != actual
        {
            extra.push(Fact::new(
                "drift",
                "ping",
                ChangeKind::PingMismatch.as_str(),
            ));
        }
        for p in ports_by_ip.remove(&ip.id).unwrap_or_default() {
            let Ok(number) = u16::try_from(p.port) else {
                continue;
            };
            let key = port_key(&p.protocol, number);
            if p.unexpected {
                extra.push(Fact::new(
                    "drift",
                    key.clone(),
                    ChangeKind::UnexpectedPort.as_str(),
                ));
            }
            if p.is_missing() {
                extra.push(Fact::new(
                    "drift",
                    key.clone(),
                    ChangeKind::ExpectedPortMissing.as_str(),
                ));
            }
            if p.state == "missing" {
                continue;
            }
            let mut facts = PortFacts {
                state: p.state.clone(),
                service: ServiceFacts::default(),
            };
            if let Some(s) = services.remove(&p.id) {
                let cert = cert_by_service.get(&s.id);
                if let Some(not_after) = cert.and_then(|c| c.not_after) {
                    let kind = if not_after <= now {
                        Some(ChangeKind::CertExpired)
                    } else if not_after <= expiring_before {
                        Some(ChangeKind::CertExpiring)
                    } else {
                        None
                    };
                    if let Some(kind) = kind {
                        extra.push(Fact::new("expiry", key.clone(), kind.as_str()));
                    }
                }
                facts.service = ServiceFacts {
                    name: s.name,
                    product: s.product,
                    version: s.version,
                    extra_info: s.extra_info,
                    scripts: scripts
                        .remove(&p.id)
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                    http_status: s.http_status,
                    http_title: s.http_title,
                    http_server: s.http_server,
                    cert_sha256: cert.and_then(|c| c.sha256_fingerprint.clone()),
                    tls_versions: tls.remove(&s.id).unwrap_or_default().into_iter().collect(),
                };
            } else if let Some(list) = scripts.remove(&p.id) {
                facts.service.scripts = list.into_iter().collect();
            }
            obs.ports.insert((p.protocol.clone(), number), facts);
        }
        // What the scan did not observe it does not say (a down host's expected ports).
        extra.retain(|f| observes(&obs, f));
        hosts.push(Observed {
            site: sites.get(&ip.site_id).cloned().unwrap_or_default(),
            address: ip.address,
            obs,
            extra,
        });
    }
    Ok(ScanObservation {
        hosts,
        certificates,
    })
}
