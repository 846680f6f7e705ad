//! The figures behind the charts (issue 15): open ports over time per config, change events
//! per scan by kind, top services and products, certificate expiry buckets and TLS versions in
//! use. Each is one or two aggregate queries of bounded size. A bucket carries the filter (the
//! filter language) that lists exactly what it counts, so a click on a bar opens that list:
//! its count equals the list's `totalCount` at the same moment.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use entity::{scan, scan_config};

use crate::domain::auth::{Actor, Role};
use crate::domain::status::ScanStatus;
use crate::error::AppResult;

/// At most this many configs get a line of their own in "open ports over time".
pub const MAX_SERIES: usize = 6;
/// Points (scans) per line, and scans in "changes per scan".
pub const MAX_POINTS: u64 = 60;
/// Bars in a top list.
pub const MAX_BARS: u64 = 25;

/// One bar: what it counts, how many, and the filter that lists them (none when the label
/// cannot be written as a filter value, e.g. it holds `*` or `"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub label: String,
    pub count: i64,
    pub filter: Option<String>,
}

/// One completed scan of a config.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPoint {
    pub scan_id: i32,
    pub at: DateTime<Utc>,
    pub open_ports: i32,
    pub hosts_up: i32,
    pub services: i32,
}

/// A config's scans, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub config_id: i32,
    pub name: String,
    pub points: Vec<ScanPoint>,
}

/// The change events of one scan, by kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanChanges {
    pub scan_id: i32,
    pub at: DateTime<Utc>,
    pub title: String,
    pub kinds: BTreeMap<String, i64>,
}

fn completed_scans() -> sea_orm::Select<scan::Entity> {
    scan::Entity::find()
        .filter(scan::Column::ParentId.is_null())
        .filter(scan::Column::Status.eq(ScanStatus::Completed.as_str()))
}

/// Open ports (and hosts up, services) of the last `points` completed scans of the configs
/// scanned most recently (at most [`MAX_SERIES`]), each oldest first.
pub async fn open_ports(
    db: &DatabaseConnection,
    actor: &Actor,
    points: u64,
) -> AppResult<Vec<Series>> {
    actor.require(Role::Viewer)?;
    let points = points.clamp(1, MAX_POINTS);
    // Enough recent scans to fill the lines of the configs scanned last.
    let recent = completed_scans()
        .filter(scan::Column::ConfigId.is_not_null())
        .order_by_desc(scan::Column::Id)
        .limit(points * MAX_SERIES as u64 * 2)
        .all(db)
        .await?;
    let mut order: Vec<i32> = Vec::new();
    let mut by_config: HashMap<i32, Vec<ScanPoint>> = HashMap::new();
    for s in recent {
        let Some(config) = s.config_id else { continue };
        if !by_config.contains_key(&config) {
            if order.len() == MAX_SERIES {
                continue;
            }
            order.push(config);
        }
        let line = by_config.entry(config).or_default();
        if line.len() < points as usize {
            line.push(ScanPoint {
                scan_id: s.id,
                at: s.completed_at.unwrap_or(s.created_at),
                open_ports: s.open_ports,
                hosts_up: s.hosts_up,
                services: s.services_count,
            });
        }
    }
    let names: HashMap<i32, String> = scan_config::Entity::find()
        .filter(scan_config::Column::Id.is_in(order.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.title))
        .collect();
    Ok(order
        .into_iter()
        .map(|config_id| {
            let mut points = by_config.remove(&config_id).unwrap_or_default();
            points.reverse();
            Series {
                config_id,
                name: names
                    .get(&config_id)
                    .cloned()
                    .unwrap_or_else(|| format!("config {config_id}")),
                points,
            }
        })
        .collect())
}

#[derive(FromQueryResult)]
struct KindCount {
    scan_id: i32,
    kind: String,
    n: i64,
}

/// The change events of the last `scans` completed scans by kind, oldest first.
pub async fn changes_per_scan(
    db: &DatabaseConnection,
    actor: &Actor,
    scans: u64,
) -> AppResult<Vec<ScanChanges>> {
    actor.require(Role::Viewer)?;
    let mut recent = completed_scans()
        .order_by_desc(scan::Column::Id)
        .limit(scans.clamp(1, MAX_POINTS))
        .all(db)
        .await?;
    recent.reverse();
    if recent.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = recent.iter().map(|s| s.id.to_string()).collect();
    let counts = KindCount::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        format!(
            "SELECT scan_id, kind, count(*) AS n FROM change_events WHERE scan_id IN ({}) \
             GROUP BY scan_id, kind",
            ids.join(", ")
        ),
    ))
    .all(db)
    .await?;
    let mut kinds: HashMap<i32, BTreeMap<String, i64>> = HashMap::new();
    for c in counts {
        kinds.entry(c.scan_id).or_default().insert(c.kind, c.n);
    }
    Ok(recent
        .into_iter()
        .map(|s| ScanChanges {
            scan_id: s.id,
            at: s.completed_at.unwrap_or(s.created_at),
            title: s.title,
            kinds: kinds.remove(&s.id).unwrap_or_default(),
        })
        .collect())
}

#[derive(FromQueryResult)]
struct LabelCount {
    label: Option<String>,
    n: i64,
}

/// `field:"label"` when the label can be written as an exact value.
fn exact(field: &str, label: &str) -> Option<String> {
    (!label.is_empty() && !label.contains(['*', '"', '\\'])).then(|| format!("{field}:\"{label}\""))
}

async fn label_counts(
    db: &DatabaseConnection,
    sql: String,
    values: Vec<sea_orm::Value>,
) -> AppResult<Vec<LabelCount>> {
    Ok(
        LabelCount::find_by_statement(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .all(db)
        .await?,
    )
}

/// What a top list counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Top {
    /// Service names (`ssh`, `http`) of open ports.
    Services,
    /// Products (`nginx`, `OpenSSH`).
    Products,
    /// TLS versions offered.
    TlsVersions,
}

/// The most common services, products or TLS versions, by the number of hosts that have one
/// now (what `service:`, `product:` and `tls:` select), most first.
pub async fn top(
    db: &DatabaseConnection,
    actor: &Actor,
    what: Top,
    limit: u64,
) -> AppResult<Vec<Bucket>> {
    actor.require(Role::Viewer)?;
    let pg = db.get_database_backend() == DbBackend::Postgres;
    let json = |key: &str| {
        if pg {
            format!("(value::json ->> '{key}')")
        } else {
            format!("json_extract(value, '$.{key}')")
        }
    };
    let (fact, field, value) = match what {
        Top::Services => ("service", "service", json("name")),
        Top::Products => ("service", "product", json("product")),
        Top::TlsVersions => ("tls", "tls", "value".to_owned()),
    };
    // Grouped as the filter compares (ignoring case); the label as most often written.
    let rows = label_counts(
        db,
        format!(
            "SELECT min({value}) AS label, count(DISTINCT host_id) AS n FROM host_facts \
             WHERE fact = '{fact}' AND ended_at IS NULL AND {value} IS NOT NULL \
             GROUP BY lower({value}) ORDER BY n DESC, label LIMIT {}",
            limit.clamp(1, MAX_BARS)
        ),
        Vec::new(),
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let label = r.label?;
            Some(Bucket {
                filter: exact(field, &label),
                label,
                count: r.n,
            })
        })
        .collect())
}

/// The certificate inventory by time left: expired, under 7 days, under 30, under 90, later
/// (as `cert.expires` selects them on the Certificates page); every bucket, empty ones too.
pub async fn certificate_expiry(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<Vec<Bucket>> {
    actor.require(Role::Viewer)?;
    let edges = [0i64, 7, 30, 90];
    let at = |days: i64| now + Duration::days(days);
    let mut case = String::from("CASE");
    let mut values: Vec<sea_orm::Value> = Vec::new();
    for (i, d) in edges.iter().enumerate() {
        case.push_str(&format!(
            " WHEN not_after < {} THEN {i}",
            placeholder(db, i + 1)
        ));
        values.push(at(*d).into());
    }
    case.push_str(&format!(" ELSE {} END", edges.len()));
    let rows = label_counts(
        db,
        format!(
            "SELECT CAST(b AS TEXT) AS label, count(*) AS n FROM (SELECT {case} AS b FROM \
             certificates WHERE not_after IS NOT NULL) t GROUP BY b"
        ),
        values,
    )
    .await?;
    let count = |i: usize| {
        rows.iter()
            .find(|r| r.label.as_deref() == Some(&i.to_string()))
            .map_or(0, |r| r.n)
    };
    let buckets = [
        ("expired", "cert.expires<0d".to_owned()),
        ("< 7 days", "cert.expires>=0d cert.expires<7d".to_owned()),
        ("< 30 days", "cert.expires>=7d cert.expires<30d".to_owned()),
        ("< 90 days", "cert.expires>=30d cert.expires<90d".to_owned()),
        ("later", "cert.expires>=90d".to_owned()),
    ];
    Ok(buckets
        .into_iter()
        .enumerate()
        .map(|(i, (label, filter))| Bucket {
            label: label.to_owned(),
            count: count(i),
            filter: Some(filter),
        })
        .collect())
}

fn placeholder(db: &DatabaseConnection, n: usize) -> String {
    if db.get_database_backend() == DbBackend::Postgres {
        format!("${n}")
    } else {
        "?".to_owned()
    }
}
