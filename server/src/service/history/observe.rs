//! What a stored scan saw, host by host, as the change rules read it: each (site, address)
//! with its [`HostObservation`] (coverage included), its drift and certificate-expiry facts,
//! and the certificates served. Read from the per-scan result tables, one query per table.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};

use entity::{scan, scan_certificate, scan_digest, scan_script, scan_tls_version};

use crate::domain::changes::{ChangeKind, Coverage, HostObservation, PortFacts, ServiceFacts};
use crate::domain::history::{Fact, observes, port_key};
use crate::error::{AppError, AppResult};

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

/// What scan `row` saw and its certificates (for the inventory).
pub async fn scan_with_certificates<C: ConnectionTrait>(
    db: &C,
    row: &scan::Model,
    now: DateTime<Utc>,
    expiry_days: i64,
) -> AppResult<ScanObservation> {
    let hosts = scan(db, row, now, expiry_days).await?;
    let certificates = scan_certificate::Entity::find()
        .filter(scan_certificate::Column::ScanId.eq(row.id))
        .all(db)
        .await?;
    Ok(ScanObservation {
        hosts,
        certificates,
    })
}

/// A scan's addresses with their ports, services and certificates as **one JSON document**
/// built by the database: one row crosses the driver instead of one per port (the drivers'
/// cost per row, not the query, was what reading a scan cost). Each address is
/// `[ip id, site, address, hostname, status, ping expected, ping actual, [port…]]`, each port
/// `[port id, port, protocol, state, expected, unexpected, service id, name, product, version,
/// extra info, HTTP status, HTTP title, HTTP server, certificate SHA-256, certificate not after]`.
const SQLITE_DOCUMENT: &str = "SELECT json_group_array(json_array(i.id, s.name, i.address, \
     i.hostname, i.status, i.ping_expected, i.ping_actual, json((SELECT json_group_array(\
     json_array(p.id, p.port, p.protocol, p.state, p.expected, p.unexpected, v.id, v.name, \
     v.product, v.version, v.extra_info, v.http_status, v.http_title, v.http_server, \
     c.sha256_fingerprint, c.not_after)) FROM scan_ports p \
     LEFT JOIN scan_services v ON v.port_id = p.id \
     LEFT JOIN scan_certificates c ON c.service_id = v.id WHERE p.ip_id = i.id)))) \
     FROM scan_ips i JOIN scan_sites s ON s.id = i.site_id WHERE i.scan_id = ?";
const POSTGRES_DOCUMENT: &str = "SELECT coalesce(json_agg(json_build_array(i.id, s.name, \
     i.address, i.hostname, i.status, i.ping_expected, i.ping_actual, (SELECT \
     coalesce(json_agg(json_build_array(p.id, p.port, p.protocol, p.state, p.expected, \
     p.unexpected, v.id, v.name, v.product, v.version, v.extra_info, v.http_status, \
     v.http_title, v.http_server, c.sha256_fingerprint, c.not_after)), '[]'::json) \
     FROM scan_ports p LEFT JOIN scan_services v ON v.port_id = p.id \
     LEFT JOIN scan_certificates c ON c.service_id = v.id WHERE p.ip_id = i.id))), '[]'::json)::text \
     FROM scan_ips i JOIN scan_sites s ON s.id = i.site_id WHERE i.scan_id = $1";

/// A boolean as either database writes it in JSON (`true` or `1`).
#[derive(Debug, Clone, Copy, Default)]
struct Flag(bool);

impl<'de> serde::Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Flag;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean, 0 or 1")
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Flag, E> {
                Ok(Flag(b))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Flag, E> {
                Ok(Flag(n != 0))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Flag, E> {
                Ok(Flag(n != 0))
            }
        }
        d.deserialize_any(Visitor)
    }
}

type PortRow = (
    i32,
    i32,
    String,
    String,
    Flag,
    Flag,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

type IpRow = (
    i32,
    String,
    String,
    Option<String>,
    String,
    Option<Flag>,
    Option<Flag>,
    Vec<PortRow>,
);

/// A stored time as either database writes it in JSON.
fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads what scan `row` saw, in storage order (one document, plus TLS versions and scripts).
/// `expiry_days`: a certificate that ends within them is "expiring" at `now`.
pub async fn scan<C: ConnectionTrait>(
    db: &C,
    row: &scan::Model,
    now: DateTime<Utc>,
    expiry_days: i64,
) -> AppResult<Vec<Observed>> {
    scan_hosts(db, row, now, expiry_days, None).await
}

/// [`scan`], of the hosts at `addresses` only (all when `None`).
pub async fn scan_hosts<C: ConnectionTrait>(
    db: &C,
    row: &scan::Model,
    now: DateTime<Utc>,
    expiry_days: i64,
    addresses: Option<&[&str]>,
) -> AppResult<Vec<Observed>> {
    let id = row.id;
    let coverage: Coverage = row
        .coverage
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    // The document and the two small tables at once, each on a connection of its own.
    let tls = scan_tls_version::Entity::find()
        .select_only()
        .columns([
            scan_tls_version::Column::ServiceId,
            scan_tls_version::Column::Version,
        ])
        .filter(scan_tls_version::Column::ScanId.eq(id))
        .into_tuple::<(i32, String)>()
        .all(db);
    let scripts = scan_script::Entity::find()
        .select_only()
        .columns([
            scan_script::Column::PortId,
            scan_script::Column::ScriptId,
            scan_script::Column::Output,
        ])
        .filter(scan_script::Column::ScanId.eq(id))
        .filter(scan_script::Column::PortId.is_not_null())
        .into_tuple::<(Option<i32>, String, String)>()
        .all(db);
    let (sqlite, postgres, values) = match addresses {
        None => (
            SQLITE_DOCUMENT.to_owned(),
            POSTGRES_DOCUMENT.to_owned(),
            vec![id.into()],
        ),
        Some(list) => (
            format!("{SQLITE_DOCUMENT} AND i.address IN (SELECT value FROM json_each(?))"),
            format!(
                "{POSTGRES_DOCUMENT} AND i.address IN (SELECT json_array_elements_text($2::json))"
            ),
            vec![
                id.into(),
                serde_json::to_string(list)
                    .map_err(AppError::internal)?
                    .into(),
            ],
        ),
    };
    let (document, tls_rows, script_rows) = tokio::try_join!(
        crate::db::json_text(db, &sqlite, &postgres, values),
        tls,
        scripts
    )?;
    let mut tls: HashMap<i32, Vec<String>> = HashMap::new();
    for (service_id, version) in tls_rows {
        tls.entry(service_id).or_default().push(version);
    }
    let mut scripts: HashMap<i32, Vec<(String, String)>> = HashMap::new();
    for (port_id, script_id, output) in script_rows {
        if let Some(port_id) = port_id {
            scripts
                .entry(port_id)
                .or_default()
                .push((script_id, output));
        }
    }
    // Parsing and building are CPU work: off the async threads (the two scans of a diff in
    // parallel).
    tokio::task::spawn_blocking(move || {
        let ips: Vec<IpRow> =
            crate::db::parse_rows(document.as_deref()).map_err(AppError::internal)?;
        build(ips, tls, scripts, coverage, now, expiry_days)
    })
    .await
    .map_err(AppError::internal)?
}

/// The hosts of a scan from its document and its TLS versions and scripts by service / port.
fn build(
    mut ips: Vec<IpRow>,
    mut tls: HashMap<i32, Vec<String>>,
    mut scripts: HashMap<i32, Vec<(String, String)>>,
    coverage: Coverage,
    now: DateTime<Utc>,
    expiry_days: i64,
) -> AppResult<Vec<Observed>> {
    ips.sort_by_key(|ip| ip.0);
    let expiring_before = now + Duration::days(expiry_days);

    let mut hosts: Vec<Observed> = Vec::with_capacity(ips.len());
    for (_, site, address, hostname, status, ping_expected, ping_actual, ports) in ips {
        let mut h = Observed {
            site,
            address,
            obs: HostObservation {
                hostname,
                up: match status.as_str() {
                    "up" => Some(true),
                    "down" => Some(false),
                    _ => None,
                },
                ports: Default::default(),
                coverage: coverage.clone(),
            },
            extra: Vec::new(),
        };
        if let (Some(expected), Some(actual)) = (ping_expected, ping_actual)
            && expected.0 != actual.0
        {
            h.extra.push(Fact::new(
                "drift",
                "ping",
                ChangeKind::PingMismatch.as_str(),
            ));
        }
        for (
            port_id,
            port,
            protocol,
            state,
            expected,
            unexpected,
            service_id,
            name,
            product,
            version,
            extra_info,
            http_status,
            http_title,
            http_server,
            cert_sha256,
            not_after,
        ) in ports
        {
            let Ok(number) = u16::try_from(port) else {
                continue;
            };
            let key = port_key(&protocol, number);
            if unexpected.0 {
                h.extra.push(Fact::new(
                    "drift",
                    key.clone(),
                    ChangeKind::UnexpectedPort.as_str(),
                ));
            }
            // The one rule for "missing" (`scan_port::Model::is_missing`).
            if expected.0 && state != "open" {
                h.extra.push(Fact::new(
                    "drift",
                    key.clone(),
                    ChangeKind::ExpectedPortMissing.as_str(),
                ));
            }
            if state == "missing" {
                continue;
            }
            let mut facts = PortFacts {
                state,
                service: ServiceFacts::default(),
            };
            if let Some(service_id) = service_id {
                if let Some(not_after) = not_after.as_deref().and_then(time) {
                    let kind = if not_after <= now {
                        Some(ChangeKind::CertExpired)
                    } else if not_after <= expiring_before {
                        Some(ChangeKind::CertExpiring)
                    } else {
                        None
                    };
                    if let Some(kind) = kind {
                        h.extra
                            .push(Fact::new("expiry", key.clone(), kind.as_str()));
                    }
                }
                facts.service = ServiceFacts {
                    name,
                    product,
                    version,
                    extra_info,
                    scripts: Default::default(),
                    http_status,
                    http_title,
                    http_server,
                    cert_sha256,
                    tls_versions: tls
                        .remove(&service_id)
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                };
            }
            if let Some(list) = scripts.remove(&port_id) {
                facts.service.scripts = list.into_iter().collect();
            }
            h.obs.ports.insert((protocol, number), facts);
        }
        finish(&mut h);
        hosts.push(h);
    }
    Ok(hosts)
}

/// What the scan did not observe it does not say (a down host's expected ports).
fn finish(h: &mut Observed) {
    let obs = &h.obs;
    h.extra.retain(|f| observes(obs, f));
}

/// A scan's host digests by (site, address) ([`HostObservation::digest`]).
pub type Digests = HashMap<(String, String), u64>;

/// Stores the digests of a scan's hosts (replacing any), in the caller's transaction.
pub async fn write_digests<C: ConnectionTrait>(
    conn: &C,
    scan_id: i32,
    hosts: &[Observed],
) -> AppResult<()> {
    let list: Vec<(&str, &str, u64)> = hosts
        .iter()
        .map(|h| (h.site.as_str(), h.address.as_str(), h.obs.digest()))
        .collect();
    scan_digest::Entity::delete_by_id(scan_id)
        .exec(conn)
        .await?;
    scan_digest::ActiveModel {
        scan_id: Set(scan_id),
        hosts: Set(serde_json::to_string(&list).map_err(AppError::internal)?),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The digests of a scan's hosts, if they were stored (scans recorded before digests existed
/// have none).
pub async fn digests<C: ConnectionTrait>(conn: &C, scan_id: i32) -> AppResult<Option<Digests>> {
    let Some(row) = scan_digest::Entity::find_by_id(scan_id).one(conn).await? else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || {
        let list: Vec<(String, String, u64)> =
            serde_json::from_str(&row.hosts).map_err(AppError::internal)?;
        Ok(Some(
            list.into_iter()
                .map(|(site, address, digest)| ((site, address), digest))
                .collect(),
        ))
    })
    .await
    .map_err(AppError::internal)?
}
