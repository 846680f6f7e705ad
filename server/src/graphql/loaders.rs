//! DataLoaders: nested lists are fetched with one `WHERE … IN (…)` per tree level and request,
//! so a request's statement count does not grow with the number of rows. The whole tree of a
//! scan (`scan.sites`) is loaded per scan (every child table carries `scan_id`) so that batching
//! does not depend on how quickly the resolvers of one level run; a page of `scan.hosts` loads
//! its levels by the page's own rows (`*_by_*`), so it costs what it holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use entity::{
    host, scan, scan_certificate, scan_config, scan_ip, scan_port, scan_service, scan_site,
    scan_tls_version,
};

use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct LoaderError(Arc<sea_orm::DbErr>);

impl From<LoaderError> for AppError {
    fn from(e: LoaderError) -> Self {
        AppError::internal(anyhow::anyhow!("dataloader: {}", e.0))
    }
}

/// Rows of `E` grouped by a parent-id column, ordered by `order`.
pub struct ByParent<E: EntityTrait> {
    db: DatabaseConnection,
    parent: E::Column,
    order: E::Column,
    key: fn(&E::Model) -> i32,
}

impl<E> Loader<i32> for ByParent<E>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone + 'static,
    E::Column: Send + Sync,
{
    type Value = Vec<E::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = E::find()
            .filter(self.parent.is_in(keys.iter().copied()))
            .order_by_asc(self.order)
            .all(&self.db)
            .await
            .map_err(|e| LoaderError(Arc::new(e)))?;
        let mut map: HashMap<i32, Vec<E::Model>> = HashMap::with_capacity(keys.len());
        for row in rows {
            map.entry((self.key)(&row)).or_default().push(row);
        }
        Ok(map)
    }
}

fn loader<E>(
    db: &DatabaseConnection,
    parent: E::Column,
    order: E::Column,
    key: fn(&E::Model) -> i32,
) -> DataLoader<ByParent<E>>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone + 'static,
    E::Column: Send + Sync,
{
    DataLoader::new(
        ByParent {
            db: db.clone(),
            parent,
            order,
            key,
        },
        tokio::spawn,
    )
}

/// Rows of `E` for whole scans, grouped by a parent-id column: one statement per tree level
/// for any number of rows, batched across scans.
pub struct ByScan<E: EntityTrait> {
    db: DatabaseConnection,
    scan: E::Column,
    order: E::Column,
    scan_of: fn(&E::Model) -> i32,
    parent_of: fn(&E::Model) -> i32,
}

pub type Level<M> = Arc<HashMap<i32, Vec<M>>>;

impl<E> Loader<i32> for ByScan<E>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone + 'static,
    E::Column: Send + Sync,
{
    type Value = Level<E::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = E::find()
            .filter(self.scan.is_in(keys.iter().copied()))
            .order_by_asc(self.order)
            .all(&self.db)
            .await
            .map_err(|e| LoaderError(Arc::new(e)))?;
        let mut by_scan: HashMap<i32, HashMap<i32, Vec<E::Model>>> = HashMap::new();
        for row in rows {
            by_scan
                .entry((self.scan_of)(&row))
                .or_default()
                .entry((self.parent_of)(&row))
                .or_default()
                .push(row);
        }
        Ok(keys
            .iter()
            .map(|k| (*k, Arc::new(by_scan.remove(k).unwrap_or_default())))
            .collect())
    }
}

type SharedLoad<M> = Shared<BoxFuture<'static, Result<Option<Level<M>>, LoaderError>>>;

/// A [`ByScan`] level with single-flight per scan: every object of a scan asks for the same
/// key, and exactly one load serves them all, however long resolving the objects takes.
pub struct ScanLevel<E: EntityTrait>
where
    E::Model: Send + Sync + Clone + 'static,
    E::Column: Send + Sync,
{
    loader: Arc<DataLoader<ByScan<E>>>,
    inflight: Mutex<HashMap<i32, SharedLoad<E::Model>>>,
}

impl<E> ScanLevel<E>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone + 'static,
    E::Column: Send + Sync,
{
    fn new(
        db: &DatabaseConnection,
        scan: E::Column,
        order: E::Column,
        scan_of: fn(&E::Model) -> i32,
        parent_of: fn(&E::Model) -> i32,
    ) -> Self {
        let loader = ByScan {
            db: db.clone(),
            scan,
            order,
            scan_of,
            parent_of,
        };
        Self {
            loader: Arc::new(DataLoader::new(loader, tokio::spawn)),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// The rows of `parent` in scan `scan_id`.
    pub async fn children(&self, scan_id: i32, parent: i32) -> Result<Vec<E::Model>, AppError> {
        let shared = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            inflight
                .entry(scan_id)
                .or_insert_with(|| {
                    let loader = self.loader.clone();
                    async move { loader.load_one(scan_id).await }
                        .boxed()
                        .shared()
                })
                .clone()
        };
        let level = shared.await?;
        Ok(level
            .and_then(|l| l.get(&parent).cloned())
            .unwrap_or_default())
    }
}

/// One set of loaders per request (their caches live as long as the request).
pub struct Loaders {
    pub configs: DataLoader<ByParent<scan_config::Entity>>,
    /// Scans and hosts by id (the scans and hosts of a page of change events).
    pub scans: DataLoader<ByParent<scan::Entity>>,
    pub hosts: DataLoader<ByParent<host::Entity>>,
    /// The rows under the addresses of one page of `hosts` (keyed by the page's rows: a page
    /// costs what it holds, not what its scan holds).
    pub ports_by_ip: DataLoader<ByParent<scan_port::Entity>>,
    pub services_by_port: DataLoader<ByParent<scan_service::Entity>>,
    pub certificates_by_service: DataLoader<ByParent<scan_certificate::Entity>>,
    pub tls_versions_by_service: DataLoader<ByParent<scan_tls_version::Entity>>,
    pub sites: ScanLevel<scan_site::Entity>,
    /// The sites of one page's addresses.
    pub sites_by_id: DataLoader<ByParent<scan_site::Entity>>,
    pub ips: ScanLevel<scan_ip::Entity>,
    pub ports: ScanLevel<scan_port::Entity>,
    pub services: ScanLevel<scan_service::Entity>,
    pub certificates: ScanLevel<scan_certificate::Entity>,
    pub tls_versions: ScanLevel<scan_tls_version::Entity>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            configs: loader(
                db,
                scan_config::Column::Id,
                scan_config::Column::Id,
                |r: &scan_config::Model| r.id,
            ),
            scans: loader(db, scan::Column::Id, scan::Column::Id, |r: &scan::Model| {
                r.id
            }),
            hosts: loader(db, host::Column::Id, host::Column::Id, |r: &host::Model| {
                r.id
            }),
            sites_by_id: loader(
                db,
                scan_site::Column::Id,
                scan_site::Column::Id,
                |r: &scan_site::Model| r.id,
            ),
            ports_by_ip: loader(
                db,
                scan_port::Column::IpId,
                scan_port::Column::Port,
                |r: &scan_port::Model| r.ip_id,
            ),
            services_by_port: loader(
                db,
                scan_service::Column::PortId,
                scan_service::Column::Id,
                |r: &scan_service::Model| r.port_id,
            ),
            certificates_by_service: loader(
                db,
                scan_certificate::Column::ServiceId,
                scan_certificate::Column::Id,
                |r: &scan_certificate::Model| r.service_id,
            ),
            tls_versions_by_service: loader(
                db,
                scan_tls_version::Column::ServiceId,
                scan_tls_version::Column::Version,
                |r: &scan_tls_version::Model| r.service_id,
            ),
            sites: ScanLevel::new(
                db,
                scan_site::Column::ScanId,
                scan_site::Column::Id,
                |r: &scan_site::Model| r.scan_id,
                |r: &scan_site::Model| r.scan_id,
            ),
            ips: ScanLevel::new(
                db,
                scan_ip::Column::ScanId,
                scan_ip::Column::Id,
                |r: &scan_ip::Model| r.scan_id,
                |r: &scan_ip::Model| r.site_id,
            ),
            ports: ScanLevel::new(
                db,
                scan_port::Column::ScanId,
                scan_port::Column::Port,
                |r: &scan_port::Model| r.scan_id,
                |r: &scan_port::Model| r.ip_id,
            ),
            services: ScanLevel::new(
                db,
                scan_service::Column::ScanId,
                scan_service::Column::Id,
                |r: &scan_service::Model| r.scan_id,
                |r: &scan_service::Model| r.port_id,
            ),
            certificates: ScanLevel::new(
                db,
                scan_certificate::Column::ScanId,
                scan_certificate::Column::Id,
                |r: &scan_certificate::Model| r.scan_id,
                |r: &scan_certificate::Model| r.service_id,
            ),
            tls_versions: ScanLevel::new(
                db,
                scan_tls_version::Column::ScanId,
                scan_tls_version::Column::Version,
                |r: &scan_tls_version::Model| r.scan_id,
                |r: &scan_tls_version::Model| r.service_id,
            ),
        }
    }
}
