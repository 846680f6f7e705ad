//! DataLoaders: nested lists are fetched with one `WHERE parent IN (…)` per level and request,
//! so a request's statement count does not grow with the number of rows.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use entity::{scan_certificate, scan_config, scan_ip, scan_port, scan_service, scan_site, scan_tls_version};

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

/// One set of loaders per request (their caches live as long as the request).
pub struct Loaders {
    pub configs: DataLoader<ByParent<scan_config::Entity>>,
    pub sites: DataLoader<ByParent<scan_site::Entity>>,
    pub ips: DataLoader<ByParent<scan_ip::Entity>>,
    pub ports: DataLoader<ByParent<scan_port::Entity>>,
    pub services: DataLoader<ByParent<scan_service::Entity>>,
    pub certificates: DataLoader<ByParent<scan_certificate::Entity>>,
    pub tls_versions: DataLoader<ByParent<scan_tls_version::Entity>>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            configs: loader(db, scan_config::Column::Id, scan_config::Column::Id, |r: &scan_config::Model| r.id),
            sites: loader(db, scan_site::Column::ScanId, scan_site::Column::Id, |r: &scan_site::Model| r.scan_id),
            ips: loader(db, scan_ip::Column::SiteId, scan_ip::Column::Id, |r: &scan_ip::Model| r.site_id),
            ports: loader(db, scan_port::Column::IpId, scan_port::Column::Port, |r: &scan_port::Model| r.ip_id),
            services: loader(db, scan_service::Column::PortId, scan_service::Column::Id, |r: &scan_service::Model| r.port_id),
            certificates: loader(
                db,
                scan_certificate::Column::ServiceId,
                scan_certificate::Column::Id,
                |r: &scan_certificate::Model| r.service_id,
            ),
            tls_versions: loader(
                db,
                scan_tls_version::Column::ServiceId,
                scan_tls_version::Column::Version,
                |r: &scan_tls_version::Model| r.service_id,
            ),
        }
    }
}
