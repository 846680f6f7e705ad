//! Admin-editable runtime settings, kept in the `settings` table (key → JSON): the scan scope,
//! how many scans run at once, how large a chunk of a scan is, and how long per-scan results are
//! kept (retention). Missing keys read as the documented defaults.

use chrono::Utc;
use ipnet::IpNet;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use entity::setting;

use crate::db;
use crate::domain::auth::{Actor, Role};
use crate::domain::scope::Scope;
use crate::error::{AppError, AppResult};
use crate::service::audit;

const KEY_SCOPE: &str = "scope";
const KEY_MAX_CONCURRENT: &str = "scans.max_concurrent";
const KEY_CHUNK_ADDRESSES: &str = "scans.chunk_addresses";
const KEY_KEEP_SCANS: &str = "retention.keep_scans_per_config";
const KEY_KEEP_DAYS: &str = "retention.keep_days";
const KEY_NOTIFY_ALLOWED: &str = "alerts.allowed_networks";
/// Most scans per config retention may keep / most days (larger: keep everything, i.e. 0).
pub const MAX_KEEP_SCANS: u32 = 100_000;
pub const MAX_KEEP_DAYS: u32 = 36_500;

/// Defaults: loopback-only scope, 65,536 addresses per scan, 3 scans at once.
pub const DEFAULT_MAX_CONCURRENT_SCANS: u32 = 3;
pub const MAX_CONCURRENT_SCANS_LIMIT: u32 = 32;
pub const MAX_ADDRESSES_LIMIT: u64 = 1 << 24;
/// A scan over more addresses than this runs as chunks of at most this many (0: never).
pub const DEFAULT_CHUNK_ADDRESSES: u32 = 4096;
/// The smallest chunk (smaller ones cost more in nmap start-ups than they gain).
pub const MIN_CHUNK_ADDRESSES: u32 = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSettings {
    pub scope: Scope,
    pub max_concurrent_scans: u32,
    /// Addresses per chunk of a scan (0: scans are never chunked).
    pub chunk_addresses: u32,
    /// Retention: the finished scans kept per config, newest first (0: all).
    pub keep_scans_per_config: u32,
    /// Retention: finished scans older than this many days are deleted (0: never).
    pub keep_days: u32,
    /// Internal networks (loopback, private, link-local…) notification channels may reach;
    /// every other internal address is refused (SSRF). Empty: none.
    pub notify_allowed: Vec<IpNet>,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            scope: Scope::default(),
            max_concurrent_scans: DEFAULT_MAX_CONCURRENT_SCANS,
            chunk_addresses: DEFAULT_CHUNK_ADDRESSES,
            keep_scans_per_config: 0,
            keep_days: 0,
            notify_allowed: Vec::new(),
        }
    }
}

/// A change: absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct SettingsPatch {
    pub allowed_cidrs: Option<Vec<String>>,
    pub denied_cidrs: Option<Vec<String>>,
    pub max_addresses_per_scan: Option<i64>,
    pub max_concurrent_scans: Option<i64>,
    pub chunk_addresses: Option<i64>,
    pub keep_scans_per_config: Option<i64>,
    pub keep_days: Option<i64>,
    pub notify_allowed_cidrs: Option<Vec<String>>,
}

/// Current settings, for internal use (scope checks, the job runner).
pub async fn load<C: ConnectionTrait>(db: &C) -> AppResult<RuntimeSettings> {
    let mut out = RuntimeSettings::default();
    for row in setting::Entity::find().all(db).await? {
        match row.key.as_str() {
            KEY_SCOPE => match serde_json::from_str(&row.value) {
                Ok(scope) => out.scope = scope,
                Err(e) => {
                    tracing::warn!(error = %e, "stored scope is unreadable; using the default")
                }
            },
            KEY_MAX_CONCURRENT => match serde_json::from_str(&row.value) {
                Ok(n) => out.max_concurrent_scans = n,
                Err(e) => tracing::warn!(error = %e, "stored max_concurrent is unreadable"),
            },
            KEY_CHUNK_ADDRESSES => match serde_json::from_str(&row.value) {
                Ok(n) => out.chunk_addresses = n,
                Err(e) => tracing::warn!(error = %e, "stored chunk_addresses is unreadable"),
            },
            KEY_KEEP_SCANS => match serde_json::from_str(&row.value) {
                Ok(n) => out.keep_scans_per_config = n,
                Err(e) => tracing::warn!(error = %e, "stored keep_scans is unreadable"),
            },
            KEY_KEEP_DAYS => match serde_json::from_str(&row.value) {
                Ok(n) => out.keep_days = n,
                Err(e) => tracing::warn!(error = %e, "stored keep_days is unreadable"),
            },
            KEY_NOTIFY_ALLOWED => match serde_json::from_str(&row.value) {
                Ok(nets) => out.notify_allowed = nets,
                Err(e) => {
                    tracing::warn!(error = %e, "stored alerts.allowed_networks is unreadable")
                }
            },
            _ => {}
        }
    }
    Ok(out)
}

/// The settings as an admin sees them.
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Actor) -> AppResult<RuntimeSettings> {
    actor.require(Role::Admin)?;
    load(db).await
}

fn parse_nets(field: &str, list: &[String]) -> AppResult<Vec<IpNet>> {
    if list.len() > 1000 {
        return Err(AppError::validation(format!(
            "{field}: at most 1000 entries"
        )));
    }
    list.iter()
        .map(|s| {
            let text = s.trim();
            let net = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    AppError::validation(format!(
                        "{field}: {:?} is not a CIDR such as 127.0.0.0/8",
                        text.chars().take(64).collect::<String>()
                    ))
                })?;
            if net.network() != net.addr() {
                return Err(AppError::validation(format!(
                    "{field}: {text} has host bits set; did you mean {}/{}?",
                    net.network(),
                    net.prefix_len()
                )));
            }
            Ok(net)
        })
        .collect()
}

/// Applies a change (ADMIN). Everything is validated before anything is written.
pub async fn update(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    patch: SettingsPatch,
) -> AppResult<RuntimeSettings> {
    actor.require(Role::Admin)?;
    let txn = db::begin_write(db).await?;
    let mut current = load(&txn).await?;
    if let Some(list) = &patch.allowed_cidrs {
        current.scope.allowed = parse_nets("allowedCidrs", list)?;
    }
    if let Some(list) = &patch.denied_cidrs {
        current.scope.denied = parse_nets("deniedCidrs", list)?;
    }
    if let Some(list) = &patch.notify_allowed_cidrs {
        current.notify_allowed = parse_nets("notifyAllowedCidrs", list)?;
    }
    if let Some(n) = patch.max_addresses_per_scan {
        current.scope.max_addresses = u64::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_ADDRESSES_LIMIT).contains(n))
            .ok_or_else(|| {
                AppError::validation(format!(
                    "maxAddressesPerScan must be between 1 and {MAX_ADDRESSES_LIMIT}"
                ))
            })?;
    }
    if let Some(n) = patch.max_concurrent_scans {
        current.max_concurrent_scans = u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_CONCURRENT_SCANS_LIMIT).contains(n))
            .ok_or_else(|| {
                AppError::validation(format!(
                    "maxConcurrentScans must be between 1 and {MAX_CONCURRENT_SCANS_LIMIT}"
                ))
            })?;
    }
    if let Some(n) = patch.chunk_addresses {
        current.chunk_addresses = u32::try_from(n)
            .ok()
            .filter(|n| *n == 0 || (MIN_CHUNK_ADDRESSES..=u32::try_from(MAX_ADDRESSES_LIMIT).unwrap_or(u32::MAX)).contains(n))
            .ok_or_else(|| {
                AppError::validation(format!(
                    "chunkAddresses must be 0 (no chunks) or between {MIN_CHUNK_ADDRESSES} and {MAX_ADDRESSES_LIMIT}"
                ))
            })?;
    }
    for (value, current, max, field) in [
        (
            patch.keep_scans_per_config,
            &mut current.keep_scans_per_config,
            MAX_KEEP_SCANS,
            "keepScansPerConfig",
        ),
        (
            patch.keep_days,
            &mut current.keep_days,
            MAX_KEEP_DAYS,
            "keepDays",
        ),
    ] {
        if let Some(n) = value {
            *current = u32::try_from(n).ok().filter(|n| *n <= max).ok_or_else(|| {
                AppError::validation(format!(
                    "{field} must be between 0 (keep everything) and {max}"
                ))
            })?;
        }
    }
    let now = Utc::now();
    let rows = [
        (KEY_SCOPE, serde_json::to_string(&current.scope)),
        (
            KEY_MAX_CONCURRENT,
            serde_json::to_string(&current.max_concurrent_scans),
        ),
        (
            KEY_CHUNK_ADDRESSES,
            serde_json::to_string(&current.chunk_addresses),
        ),
        (
            KEY_KEEP_SCANS,
            serde_json::to_string(&current.keep_scans_per_config),
        ),
        (KEY_KEEP_DAYS, serde_json::to_string(&current.keep_days)),
        (
            KEY_NOTIFY_ALLOWED,
            serde_json::to_string(&current.notify_allowed),
        ),
    ]
    .into_iter()
    .map(|(key, value)| {
        Ok(setting::ActiveModel {
            key: Set(key.to_owned()),
            value: Set(value.map_err(AppError::internal)?),
            updated_at: Set(now),
        })
    })
    .collect::<AppResult<Vec<_>>>()?;
    setting::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        "settings.update",
        None,
        Some(serde_json::json!({
            "allowed": current.scope.allowed.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "denied": current.scope.denied.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "max_addresses": current.scope.max_addresses,
            "max_concurrent_scans": current.max_concurrent_scans,
            "chunk_addresses": current.chunk_addresses,
            "keep_scans_per_config": current.keep_scans_per_config,
            "keep_days": current.keep_days,
            "notify_allowed": current.notify_allowed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })),
    )
    .await?;
    txn.commit().await?;
    Ok(current)
}
