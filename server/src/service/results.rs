//! Stores a scan and its whole result tree (sites → IPs → ports → services → certificates and
//! TLS versions) in one write transaction, level by level with multi-row inserts, so a scan of
//! thousands of hosts costs a handful of statements per level, not one per row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};

use entity::{
    scan, scan_certificate, scan_ip, scan_port, scan_service, scan_site, scan_tls_version,
};

use crate::db;
use crate::error::AppResult;
use crate::service::scans::ScanStatus;

/// Rows per INSERT: well under SQLite's bound-parameter limit for the widest table.
const CHUNK: usize = 500;

#[derive(Debug, Clone)]
pub struct NewScan {
    pub title: String,
    pub status: ScanStatus,
    pub config_id: Option<i32>,
    pub triggered_by: String,
    pub triggered_by_user_id: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub command_lines: Vec<Vec<String>>,
    /// The config the results are judged against (a snapshot), if any.
    pub config_yaml: Option<String>,
    pub sites: Vec<NewSite>,
}

#[derive(Debug, Clone)]
pub struct NewSite {
    pub name: String,
    pub ips: Vec<NewIp>,
}

#[derive(Debug, Clone)]
pub struct NewIp {
    pub address: String,
    pub hostname: Option<String>,
    /// `up`, `down` or `unknown`.
    pub status: String,
    pub ping_expected: Option<bool>,
    pub ping_actual: Option<bool>,
    pub ports: Vec<NewPort>,
}

#[derive(Debug, Clone)]
pub struct NewPort {
    pub port: u16,
    pub protocol: String,
    /// nmap's state (`open`, `closed`, `filtered`, …) or `missing` for an expected port not seen.
    pub state: String,
    pub reason: Option<String>,
    pub expected: bool,
    /// Open although the config declared this address's ports and not this one.
    pub unexpected: bool,
    pub service: Option<NewService>,
}

#[derive(Debug, Clone, Default)]
pub struct NewService {
    pub name: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extra_info: Option<String>,
    pub tunnel: Option<String>,
    pub cpe: Option<String>,
    pub http_status: Option<i32>,
    pub http_title: Option<String>,
    pub http_server: Option<String>,
    pub certificate: Option<NewCertificate>,
    pub tls_versions: Vec<NewTlsVersion>,
}

#[derive(Debug, Clone, Default)]
pub struct NewCertificate {
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

#[derive(Debug, Clone, Default)]
pub struct NewTlsVersion {
    pub version: String,
    pub ciphers: Vec<String>,
    pub grade: Option<String>,
}

/// Counters derived from a result tree (kept on the scan row for fast lists).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub hosts_total: i32,
    pub hosts_up: i32,
    pub open_ports: i32,
    pub services: i32,
    pub certificates: i32,
    pub unexpected_ports: i32,
    pub missing_ports: i32,
}

impl NewScan {
    pub fn counters(&self) -> Counters {
        Counters::of(&self.sites)
    }
}

impl Counters {
    /// Sets the counter columns of a scan row.
    fn apply(self, row: &mut scan::ActiveModel) {
        row.hosts_total = Set(self.hosts_total);
        row.hosts_up = Set(self.hosts_up);
        row.open_ports = Set(self.open_ports);
        row.services_count = Set(self.services);
        row.certificates_count = Set(self.certificates);
        row.unexpected_ports = Set(self.unexpected_ports);
        row.missing_ports = Set(self.missing_ports);
    }

    pub fn of(sites: &[NewSite]) -> Self {
        let mut c = Counters::default();
        for ip in sites.iter().flat_map(|s| &s.ips) {
            c.hosts_total += 1;
            if ip.status == "up" {
                c.hosts_up += 1;
            }
            for p in &ip.ports {
                let open = p.state == "open";
                if open {
                    c.open_ports += 1;
                    if p.unexpected {
                        c.unexpected_ports += 1;
                    }
                } else if p.expected {
                    c.missing_ports += 1;
                }
                if let Some(s) = &p.service {
                    c.services += 1;
                    if s.certificate.is_some() {
                        c.certificates += 1;
                    }
                }
            }
        }
        c
    }
}

async fn insert_chunks<A, C>(
    txn: &C,
    rows: Vec<A>,
) -> AppResult<Vec<<A::Entity as EntityTrait>::Model>>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
    C: sea_orm::ConnectionTrait,
{
    let mut out = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        let inserted = <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_with_returning(txn)
            .await?;
        out.extend(inserted);
    }
    Ok(out)
}

/// Inserts the scan and its tree; returns the scan row. All or nothing.
pub async fn store(db: &DatabaseConnection, new: NewScan) -> AppResult<scan::Model> {
    let counters = new.counters();
    let txn = db::begin_write(db).await?;
    let mut scan_row = scan::ActiveModel {
        title: Set(new.title.clone()),
        status: Set(new.status.as_str().to_owned()),
        phase: Set(if new.status.is_terminal() {
            "done"
        } else {
            "queued"
        }
        .to_owned()),
        percent: Set(if new.status == ScanStatus::Completed {
            100.0
        } else {
            0.0
        }),
        message: Set(None),
        config_id: Set(new.config_id),
        triggered_by: Set(new.triggered_by.clone()),
        triggered_by_user_id: Set(new.triggered_by_user_id),
        created_at: Set(new.created_at),
        started_at: Set(new.started_at),
        completed_at: Set(new.completed_at),
        error_message: Set(None),
        command_lines: Set(command_lines_json(&new.command_lines)),
        config_yaml: Set(new.config_yaml.clone()),
        ..Default::default()
    };
    counters.apply(&mut scan_row);
    let scan_row = scan_row.insert(&txn).await?;
    insert_tree(&txn, scan_row.id, &new.sites).await?;
    txn.commit().await?;
    Ok(scan_row)
}

pub fn command_lines_json(lines: &[Vec<String>]) -> String {
    serde_json::to_string(lines).unwrap_or_else(|_| "[]".into())
}

/// How a run ends: its status, what it found, and why it stopped (for failures).
#[derive(Debug)]
pub struct Outcome {
    pub status: ScanStatus,
    pub sites: Vec<NewSite>,
    pub message: Option<String>,
    pub error_message: Option<String>,
}

/// Ends a running scan: stores what it found (also when it failed or was cancelled, so nothing
/// already learned is lost) and sets the final status, in one transaction. Refuses (returns
/// `None`) when the scan is no longer RUNNING, e.g. deleted meanwhile.
pub async fn finish(
    db: &DatabaseConnection,
    scan_id: i32,
    outcome: Outcome,
) -> AppResult<Option<scan::Model>> {
    let counters = Counters::of(&outcome.sites);
    let txn = db::begin_write(db).await?;
    let Some(row) = scan::Entity::find_by_id(scan_id).one(&txn).await? else {
        return Ok(None);
    };
    if row.status != ScanStatus::Running.as_str() {
        return Ok(None);
    }
    insert_tree(&txn, scan_id, &outcome.sites).await?;
    let mut active: scan::ActiveModel = row.into();
    active.status = Set(outcome.status.as_str().to_owned());
    active.phase = Set("done".to_owned());
    if outcome.status == ScanStatus::Completed {
        active.percent = Set(100.0);
    }
    active.message = Set(outcome.message);
    active.error_message = Set(outcome.error_message);
    active.completed_at = Set(Some(Utc::now()));
    counters.apply(&mut active);
    let row = active.update(&txn).await?;
    txn.commit().await?;
    Ok(Some(row))
}

/// Inserts sites → IPs → ports → services → certificates/TLS versions under a scan.
async fn insert_tree<C: sea_orm::ConnectionTrait>(
    txn: &C,
    scan_id: i32,
    sites_in: &[NewSite],
) -> AppResult<()> {
    // Sites: names are unique within a scan, so they key the returned rows.
    let sites = insert_chunks(
        txn,
        sites_in
            .iter()
            .map(|s| scan_site::ActiveModel {
                scan_id: Set(scan_id),
                name: Set(s.name.clone()),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let site_ids: HashMap<&str, i32> = sites.iter().map(|s| (s.name.as_str(), s.id)).collect();

    // Each level is flattened once, each node paired with its parent's new id, so children
    // are matched to parents by key, never by iteration order.
    let ips_flat: Vec<(i32, &NewIp)> = sites_in
        .iter()
        .flat_map(|site| {
            let site_id = site_ids[site.name.as_str()];
            site.ips.iter().map(move |ip| (site_id, ip))
        })
        .collect();
    let ips = insert_chunks(
        txn,
        ips_flat
            .iter()
            .map(|(site_id, ip)| scan_ip::ActiveModel {
                scan_id: Set(scan_id),
                site_id: Set(*site_id),
                address: Set(ip.address.clone()),
                hostname: Set(ip.hostname.clone()),
                status: Set(ip.status.clone()),
                ping_expected: Set(ip.ping_expected),
                ping_actual: Set(ip.ping_actual),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let ip_ids: HashMap<(i32, &str), i32> = ips
        .iter()
        .map(|r| ((r.site_id, r.address.as_str()), r.id))
        .collect();

    let ports_flat: Vec<(i32, &NewPort)> = ips_flat
        .iter()
        .flat_map(|(site_id, ip)| {
            let ip_id = ip_ids[&(*site_id, ip.address.as_str())];
            ip.ports.iter().map(move |p| (ip_id, p))
        })
        .collect();
    let ports = insert_chunks(
        txn,
        ports_flat
            .iter()
            .map(|(ip_id, p)| scan_port::ActiveModel {
                scan_id: Set(scan_id),
                ip_id: Set(*ip_id),
                port: Set(i32::from(p.port)),
                protocol: Set(p.protocol.clone()),
                state: Set(p.state.clone()),
                reason: Set(p.reason.clone()),
                expected: Set(p.expected),
                unexpected: Set(p.unexpected),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let port_ids: HashMap<(i32, i32, &str), i32> = ports
        .iter()
        .map(|r| ((r.ip_id, r.port, r.protocol.as_str()), r.id))
        .collect();

    let services_flat: Vec<(i32, &NewService)> = ports_flat
        .iter()
        .filter_map(|(ip_id, p)| {
            let service = p.service.as_ref()?;
            Some((
                port_ids[&(*ip_id, i32::from(p.port), p.protocol.as_str())],
                service,
            ))
        })
        .collect();
    let services = insert_chunks(
        txn,
        services_flat
            .iter()
            .map(|(port_id, s)| scan_service::ActiveModel {
                scan_id: Set(scan_id),
                port_id: Set(*port_id),
                name: Set(s.name.clone()),
                product: Set(s.product.clone()),
                version: Set(s.version.clone()),
                extra_info: Set(s.extra_info.clone()),
                tunnel: Set(s.tunnel.clone()),
                cpe: Set(s.cpe.clone()),
                http_status: Set(s.http_status),
                http_title: Set(s.http_title.clone()),
                http_server: Set(s.http_server.clone()),
                screenshot_path: Set(None),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let service_by_port: HashMap<i32, i32> = services.iter().map(|s| (s.port_id, s.id)).collect();

    let mut cert_rows = Vec::new();
    let mut tls_rows = Vec::new();
    for (port_id, s) in &services_flat {
        let service_id = service_by_port[port_id];
        if let Some(c) = &s.certificate {
            cert_rows.push(scan_certificate::ActiveModel {
                scan_id: Set(scan_id),
                service_id: Set(service_id),
                subject: Set(c.subject.clone()),
                issuer: Set(c.issuer.clone()),
                sans: Set(serde_json::to_string(&c.sans).unwrap_or_else(|_| "[]".into())),
                not_before: Set(c.not_before),
                not_after: Set(c.not_after),
                serial: Set(c.serial.clone()),
                sha256_fingerprint: Set(c.sha256_fingerprint.clone()),
                key_type: Set(c.key_type.clone()),
                key_bits: Set(c.key_bits),
                signature_algorithm: Set(c.signature_algorithm.clone()),
                self_signed: Set(c.self_signed),
                pem: Set(None),
                ..Default::default()
            });
        }
        for t in &s.tls_versions {
            tls_rows.push(scan_tls_version::ActiveModel {
                scan_id: Set(scan_id),
                service_id: Set(service_id),
                version: Set(t.version.clone()),
                ciphers: Set(serde_json::to_string(&t.ciphers).unwrap_or_else(|_| "[]".into())),
                grade: Set(t.grade.clone()),
                ..Default::default()
            });
        }
    }
    insert_chunks(txn, cert_rows).await?;
    insert_chunks(txn, tls_rows).await?;
    Ok(())
}
