//! Writes result trees under a scan, batch by batch: every level of a batch (IPs, ports,
//! services, certificates, TLS versions) is a few multi-row INSERTs that return only the keys
//! needed to attach the next level. Scans run here hand it their whole tree once; imports hand
//! it hosts as the parser yields them, so memory stays bounded by the batch, not the file.
//!
//! An address reported twice (masscan writes one host element per open port) keeps its first
//! row; ports already stored for it are not stored again.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{InsertStatement, Query};
use sea_orm::{ConnectionTrait, EntityTrait, Iterable, QueryResult};

use entity::{scan_certificate, scan_ip, scan_port, scan_service, scan_site, scan_tls_version};

use super::{Counters, NewIp, NewPort, NewService, list_to_json};
use crate::error::{AppError, AppResult};

/// Rows per INSERT: well under SQLite's bound-parameter limit for the widest table.
const CHUNK: usize = 500;

/// Writes sites → IPs → ports → services → certificates/TLS versions of one scan.
#[derive(Debug)]
pub struct TreeWriter {
    scan_id: i32,
    sites: HashMap<String, i32>,
    /// Site id → address → IP row id.
    ips: HashMap<i32, HashMap<String, i32>>,
    ports: HashSet<(i32, u16, String)>,
    counters: Counters,
}

impl TreeWriter {
    pub fn new(scan_id: i32) -> Self {
        Self {
            scan_id,
            sites: HashMap::new(),
            ips: HashMap::new(),
            ports: HashSet::new(),
            counters: Counters::default(),
        }
    }

    /// Counters of every row written so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Writes IPs (with everything under them) into the named site, creating it on first use.
    pub async fn write<C: ConnectionTrait>(
        &mut self,
        db: &C,
        site: &str,
        ips: &[NewIp],
    ) -> AppResult<()> {
        let site_id = self.site(db, site).await?;
        if ips.is_empty() {
            return Ok(());
        }

        // IPs not stored yet (first occurrence wins, also within this batch).
        let stored = self.ips.entry(site_id).or_default();
        let mut fresh: Vec<&NewIp> = Vec::new();
        let mut batch: HashSet<&str> = HashSet::new();
        for ip in ips {
            if !stored.contains_key(ip.address.as_str()) && batch.insert(ip.address.as_str()) {
                fresh.push(ip);
            }
        }
        for chunk in fresh.chunks(CHUNK) {
            let mut stmt = insert::<scan_ip::Entity>();
            for ip in chunk {
                stmt.values([
                    self.scan_id.into(),
                    site_id.into(),
                    ip.address.clone().into(),
                    ip.hostname.clone().into(),
                    ip.status.clone().into(),
                    ip.ping_expected.into(),
                    ip.ping_actual.into(),
                ])
                .map_err(AppError::internal)?;
                self.counters.add_host(ip);
            }
            stmt.returning(
                Query::returning().columns([scan_ip::Column::Id, scan_ip::Column::Address]),
            );
            for row in db.query_all(&stmt).await? {
                let id: i32 = row.try_get("", "id")?;
                let address: String = row.try_get("", "address")?;
                self.ips.entry(site_id).or_default().insert(address, id);
            }
        }

        // Ports of every IP of the batch, paired with their IP's id.
        let mut ports: Vec<(i32, &NewPort)> = Vec::new();
        for ip in ips {
            let ip_id = self.ip_id(site_id, &ip.address)?;
            for p in &ip.ports {
                if self.ports.insert((ip_id, p.port, p.protocol.clone())) {
                    ports.push((ip_id, p));
                }
            }
        }
        let mut services: Vec<(i32, &NewService)> = Vec::new();
        for chunk in ports.chunks(CHUNK) {
            let mut stmt = insert::<scan_port::Entity>();
            let mut by_key: HashMap<(i32, i32, &str), &NewPort> = HashMap::new();
            for (ip_id, p) in chunk {
                stmt.values([
                    self.scan_id.into(),
                    (*ip_id).into(),
                    i32::from(p.port).into(),
                    p.protocol.clone().into(),
                    p.state.clone().into(),
                    p.reason.clone().into(),
                    p.expected.into(),
                    p.unexpected.into(),
                ])
                .map_err(AppError::internal)?;
                by_key.insert((*ip_id, i32::from(p.port), p.protocol.as_str()), p);
                self.counters.add_port(p);
            }
            stmt.returning(Query::returning().columns([
                scan_port::Column::Id,
                scan_port::Column::IpId,
                scan_port::Column::Port,
                scan_port::Column::Protocol,
            ]));
            for row in db.query_all(&stmt).await? {
                let (id, ip_id, port, protocol) = port_key(&row)?;
                let p = by_key
                    .get(&(ip_id, port, protocol.as_str()))
                    .ok_or_else(|| unmatched("port"))?;
                if let Some(s) = &p.service {
                    services.push((id, s));
                }
            }
        }
        self.services(db, &services).await
    }

    async fn site<C: ConnectionTrait>(&mut self, db: &C, name: &str) -> AppResult<i32> {
        if let Some(id) = self.sites.get(name) {
            return Ok(*id);
        }
        let mut stmt = insert::<scan_site::Entity>();
        stmt.values([self.scan_id.into(), name.into()])
            .map_err(AppError::internal)?
            .returning_col(scan_site::Column::Id);
        let row = db
            .query_one(&stmt)
            .await?
            .ok_or_else(|| unmatched("site"))?;
        let id: i32 = row.try_get("", "id")?;
        self.sites.insert(name.to_owned(), id);
        Ok(id)
    }

    fn ip_id(&self, site_id: i32, address: &str) -> AppResult<i32> {
        self.ips
            .get(&site_id)
            .and_then(|by_address| by_address.get(address))
            .copied()
            .ok_or_else(|| unmatched("address"))
    }

    async fn services<C: ConnectionTrait>(
        &self,
        db: &C,
        services: &[(i32, &NewService)],
    ) -> AppResult<()> {
        let mut certificates = Vec::new();
        let mut tls = Vec::new();
        for chunk in services.chunks(CHUNK) {
            let mut stmt = insert::<scan_service::Entity>();
            let by_port: HashMap<i32, &NewService> = chunk.iter().copied().collect();
            for (port_id, s) in chunk {
                stmt.values([
                    self.scan_id.into(),
                    (*port_id).into(),
                    s.name.clone().into(),
                    s.product.clone().into(),
                    s.version.clone().into(),
                    s.extra_info.clone().into(),
                    s.tunnel.clone().into(),
                    s.cpe.clone().into(),
                    s.http_status.into(),
                    s.http_title.clone().into(),
                    s.http_server.clone().into(),
                    s.screenshot_path.clone().into(),
                    s.http_location.clone().into(),
                    s.http_response_ms.into(),
                ])
                .map_err(AppError::internal)?;
            }
            stmt.returning(
                Query::returning()
                    .columns([scan_service::Column::Id, scan_service::Column::PortId]),
            );
            for row in db.query_all(&stmt).await? {
                let id: i32 = row.try_get("", "id")?;
                let port_id: i32 = row.try_get("", "port_id")?;
                let s = by_port.get(&port_id).ok_or_else(|| unmatched("service"))?;
                if let Some(c) = &s.certificate {
                    certificates.push((id, c));
                }
                tls.extend(s.tls_versions.iter().map(|t| (id, t)));
            }
        }
        for chunk in certificates.chunks(CHUNK) {
            let mut stmt = insert::<scan_certificate::Entity>();
            for (service_id, c) in chunk {
                stmt.values([
                    self.scan_id.into(),
                    (*service_id).into(),
                    c.subject.clone().into(),
                    c.issuer.clone().into(),
                    list_to_json(&c.sans).into(),
                    c.not_before.into(),
                    c.not_after.into(),
                    c.serial.clone().into(),
                    c.sha256_fingerprint.clone().into(),
                    c.key_type.clone().into(),
                    c.key_bits.into(),
                    c.signature_algorithm.clone().into(),
                    c.self_signed.into(),
                    c.pem.clone().into(),
                ])
                .map_err(AppError::internal)?;
            }
            db.execute(&stmt).await?;
        }
        for chunk in tls.chunks(CHUNK) {
            let mut stmt = insert::<scan_tls_version::Entity>();
            for (service_id, t) in chunk {
                stmt.values([
                    self.scan_id.into(),
                    (*service_id).into(),
                    t.version.clone().into(),
                    list_to_json(&t.ciphers).into(),
                    t.grade.clone().into(),
                ])
                .map_err(AppError::internal)?;
            }
            db.execute(&stmt).await?;
        }
        Ok(())
    }
}

/// `INSERT INTO <table> (<every column but id>)`: values are given in the entity's column order.
fn insert<E: EntityTrait>() -> InsertStatement {
    let mut stmt = Query::insert();
    stmt.into_table(E::default())
        .columns(E::Column::iter().filter(|c| sea_orm::IdenStatic::as_str(c) != "id"));
    stmt
}

fn port_key(row: &QueryResult) -> AppResult<(i32, i32, i32, String)> {
    Ok((
        row.try_get("", "id")?,
        row.try_get("", "ip_id")?,
        row.try_get("", "port")?,
        row.try_get("", "protocol")?,
    ))
}

fn unmatched(what: &str) -> AppError {
    AppError::internal(anyhow::anyhow!(
        "an inserted {what} row did not match what was written"
    ))
}
