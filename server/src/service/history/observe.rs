//! What a stored scan saw, host by host, as the change rules read it: each (site, address)
//! with its [`HostObservation`] (coverage included), its drift and certificate-expiry facts,
//! and the certificates served. Read from the per-scan result tables, one query per table.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
};

use entity::{scan, scan_certificate, scan_script, scan_tls_version};

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

/// One row of the join of a scan's addresses, ports, services and certificates.
const ROWS: &str = "SELECT i.id, s.name, i.address, i.hostname, i.status, i.ping_expected, \
     i.ping_actual, p.id, p.port, p.protocol, p.state, p.expected, p.unexpected, v.id, v.name, \
     v.product, v.version, v.extra_info, v.http_status, v.http_title, v.http_server, \
     c.sha256_fingerprint, c.not_after \
     FROM scan_ips i JOIN scan_sites s ON s.id = i.site_id \
     LEFT JOIN scan_ports p ON p.ip_id = i.id \
     LEFT JOIN scan_services v ON v.port_id = p.id \
     LEFT JOIN scan_certificates c ON c.service_id = v.id \
     WHERE i.scan_id = $1 ORDER BY i.id, p.id";

/// Reads what scan `row` saw, in storage order (one joined query, plus TLS versions and
/// scripts). `expiry_days`: a certificate that ends within them is "expiring" at `now`.
pub async fn scan<C: ConnectionTrait>(
    db: &C,
    row: &scan::Model,
    now: DateTime<Utc>,
    expiry_days: i64,
) -> AppResult<Vec<Observed>> {
    let id = row.id;
    let coverage: Coverage = row
        .coverage
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => ROWS.to_owned(),
        _ => ROWS.replace("$1", "?"),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
        .await?;
    let mut tls: HashMap<i32, Vec<String>> = HashMap::new();
    for (service_id, version) in scan_tls_version::Entity::find()
        .select_only()
        .columns([
            scan_tls_version::Column::ServiceId,
            scan_tls_version::Column::Version,
        ])
        .filter(scan_tls_version::Column::ScanId.eq(id))
        .into_tuple::<(i32, String)>()
        .all(db)
        .await?
    {
        tls.entry(service_id).or_default().push(version);
    }
    let mut scripts: HashMap<i32, Vec<(String, String)>> = HashMap::new();
    for (port_id, script_id, output) in scan_script::Entity::find()
        .select_only()
        .columns([
            scan_script::Column::PortId,
            scan_script::Column::ScriptId,
            scan_script::Column::Output,
        ])
        .filter(scan_script::Column::ScanId.eq(id))
        .filter(scan_script::Column::PortId.is_not_null())
        .into_tuple::<(Option<i32>, String, String)>()
        .all(db)
        .await?
    {
        if let Some(port_id) = port_id {
            scripts
                .entry(port_id)
                .or_default()
                .push((script_id, output));
        }
    }
    let expiring_before = now + Duration::days(expiry_days);

    let mut hosts: Vec<Observed> = Vec::new();
    let mut current: Option<i32> = None;
    for r in rows {
        let ip_id: i32 = r.try_get_by_index(0)?;
        if current != Some(ip_id) {
            if let Some(h) = hosts.last_mut() {
                finish(h);
            }
            current = Some(ip_id);
            let status: String = r.try_get_by_index(4)?;
            let mut extra = Vec::new();
            let ping: (Option<bool>, Option<bool>) =
                (r.try_get_by_index(5)?, r.try_get_by_index(6)?);
            if let (Some(expected), Some(actual)) = ping
                && expected != actual
            {
                extra.push(Fact::new(
                    "drift",
                    "ping",
                    ChangeKind::PingMismatch.as_str(),
                ));
            }
            hosts.push(Observed {
                site: r.try_get_by_index(1)?,
                address: r.try_get_by_index(2)?,
                obs: HostObservation {
                    hostname: r.try_get_by_index(3)?,
                    up: match status.as_str() {
                        "up" => Some(true),
                        "down" => Some(false),
                        _ => None,
                    },
                    ports: Default::default(),
                    coverage: coverage.clone(),
                },
                extra,
            });
        }
        let Some(port_id) = r.try_get_by_index::<Option<i32>>(7)? else {
            continue;
        };
        let Some(h) = hosts.last_mut() else { continue };
        let Ok(number) = u16::try_from(r.try_get_by_index::<i32>(8)?) else {
            continue;
        };
        let protocol: String = r.try_get_by_index(9)?;
        let state: String = r.try_get_by_index(10)?;
        let (expected, unexpected): (bool, bool) =
            (r.try_get_by_index(11)?, r.try_get_by_index(12)?);
        let key = port_key(&protocol, number);
        if unexpected {
            h.extra.push(Fact::new(
                "drift",
                key.clone(),
                ChangeKind::UnexpectedPort.as_str(),
            ));
        }
        // The one rule for "missing" (`scan_port::Model::is_missing`).
        if expected && state != "open" {
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
        if let Some(service_id) = r.try_get_by_index::<Option<i32>>(13)? {
            let not_after: Option<DateTime<Utc>> = r.try_get_by_index(22)?;
            if let Some(not_after) = not_after {
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
                name: r.try_get_by_index(14)?,
                product: r.try_get_by_index(15)?,
                version: r.try_get_by_index(16)?,
                extra_info: r.try_get_by_index(17)?,
                scripts: Default::default(),
                http_status: r.try_get_by_index(18)?,
                http_title: r.try_get_by_index(19)?,
                http_server: r.try_get_by_index(20)?,
                cert_sha256: r.try_get_by_index(21)?,
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
    if let Some(h) = hosts.last_mut() {
        finish(h);
    }
    Ok(hosts)
}

/// What the scan did not observe it does not say (a down host's expected ports).
fn finish(h: &mut Observed) {
    let obs = &h.obs;
    h.extra.retain(|f| observes(obs, f));
}
