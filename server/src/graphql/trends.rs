//! GraphQL for the charts (issue 15): `trends { openPorts changesPerScan topServices
//! topProducts tlsVersions certificateExpiry }`. Thin over `service::trends`; every bucket
//! carries the filter that lists what it counts.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::changes::ChangeKind;
use crate::error::GqlResult;
use crate::graphql::context::ContextExt;
use crate::graphql::history::KindCount;
use crate::service::trends::{self, Top};

/// One bar of a chart.
#[derive(SimpleObject)]
pub struct Bucket {
    pub label: String,
    pub count: i64,
    /// The filter (the filter language) that lists what this bar counts, on the page the
    /// chart is on; none when the label cannot be written as a filter value.
    pub filter: Option<String>,
}

impl From<trends::Bucket> for Bucket {
    fn from(b: trends::Bucket) -> Self {
        Self {
            label: b.label,
            count: b.count,
            filter: b.filter,
        }
    }
}

/// A completed scan's totals.
#[derive(SimpleObject)]
pub struct ScanPoint {
    pub scan_id: ID,
    pub at: DateTime<Utc>,
    pub open_ports: i32,
    pub hosts_up: i32,
    pub services: i32,
}

/// A config's completed scans, oldest first.
#[derive(SimpleObject)]
pub struct ConfigSeries {
    pub config_id: ID,
    pub name: String,
    pub points: Vec<ScanPoint>,
}

/// The change events one scan recorded, by kind.
#[derive(SimpleObject)]
pub struct ScanChanges {
    pub scan_id: ID,
    pub at: DateTime<Utc>,
    pub title: String,
    pub kinds: Vec<KindCount>,
}

/// The figures behind the charts.
pub struct Trends;

#[Object]
impl Trends {
    /// Open ports, hosts up and services of each config's last completed scans (up to 60 per
    /// config, the 6 configs scanned most recently), oldest first.
    async fn open_ports(
        &self,
        ctx: &Context<'_>,
        scans: Option<i32>,
    ) -> GqlResult<Vec<ConfigSeries>> {
        let scans = u64::try_from(scans.unwrap_or(20)).unwrap_or(1);
        Ok(trends::open_ports(ctx.db(), ctx.actor()?, scans)
            .await?
            .into_iter()
            .map(|s| ConfigSeries {
                config_id: ID(s.config_id.to_string()),
                name: s.name,
                points: s
                    .points
                    .into_iter()
                    .map(|p| ScanPoint {
                        scan_id: ID(p.scan_id.to_string()),
                        at: p.at,
                        open_ports: p.open_ports,
                        hosts_up: p.hosts_up,
                        services: p.services,
                    })
                    .collect(),
            })
            .collect())
    }

    /// The change events of the last completed scans (up to 60), by kind, oldest first.
    async fn changes_per_scan(
        &self,
        ctx: &Context<'_>,
        scans: Option<i32>,
    ) -> GqlResult<Vec<ScanChanges>> {
        let scans = u64::try_from(scans.unwrap_or(20)).unwrap_or(1);
        Ok(trends::changes_per_scan(ctx.db(), ctx.actor()?, scans)
            .await?
            .into_iter()
            .map(|s| ScanChanges {
                scan_id: ID(s.scan_id.to_string()),
                at: s.at,
                title: s.title,
                kinds: s
                    .kinds
                    .into_iter()
                    .filter_map(|(kind, count)| {
                        Some(KindCount {
                            kind: ChangeKind::parse(&kind)?.into(),
                            count: i32::try_from(count).unwrap_or(i32::MAX),
                        })
                    })
                    .collect(),
            })
            .collect())
    }

    /// Service names by the number of hosts offering one now (filters for the Hosts page).
    async fn top_services(&self, ctx: &Context<'_>, limit: Option<i32>) -> GqlResult<Vec<Bucket>> {
        top(ctx, Top::Services, limit).await
    }

    /// Products by the number of hosts running one now (filters for the Hosts page).
    async fn top_products(&self, ctx: &Context<'_>, limit: Option<i32>) -> GqlResult<Vec<Bucket>> {
        top(ctx, Top::Products, limit).await
    }

    /// TLS versions by the number of hosts offering one now (filters for the Hosts page).
    async fn tls_versions(&self, ctx: &Context<'_>, limit: Option<i32>) -> GqlResult<Vec<Bucket>> {
        top(ctx, Top::TlsVersions, limit).await
    }

    /// Certificates by time left: expired, < 7 days, < 30, < 90, later (filters for the
    /// Certificates page).
    async fn certificate_expiry(&self, ctx: &Context<'_>) -> GqlResult<Vec<Bucket>> {
        Ok(
            trends::certificate_expiry(ctx.db(), ctx.actor()?, Utc::now())
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        )
    }
}

async fn top(ctx: &Context<'_>, what: Top, limit: Option<i32>) -> GqlResult<Vec<Bucket>> {
    let limit = u64::try_from(limit.unwrap_or(10)).unwrap_or(1);
    Ok(trends::top(ctx.db(), ctx.actor()?, what, limit)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[derive(Default)]
pub struct TrendQuery;

#[Object]
impl TrendQuery {
    /// The figures behind the dashboard's, Hosts' and Certificates' charts.
    async fn trends(&self) -> Trends {
        Trends
    }
}
