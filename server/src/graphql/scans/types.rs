//! The scan types of the API: a scan with its summary, reports, findings and result tree
//! (sites → IPs → ports → services → certificate, TLS versions), loaded through DataLoaders.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use entity::{
    scan, scan_certificate, scan_ip, scan_port, scan_service, scan_site, scan_tls_version,
};

use crate::domain::artifact::{self, Kind};
use crate::domain::status::ScanStatus as DomainStatus;
use crate::domain::{self, facts, findings};
use crate::error::{AppError, GqlResult};
use crate::graphql::configs::ScanConfig;
use crate::graphql::connection::connection;
use crate::graphql::context::ContextExt;
use crate::graphql::enums::{
    FindingCode, HostStatus, PortState, Protocol, ScanPhase, Severity, TlsGrade, typed,
};
use crate::graphql::loaders::Loaders;
use crate::service::artifacts;
use crate::service::pagination::PageRequest;
use crate::service::reports::{self, Format};
use crate::service::results::list_from_json;
use crate::service::scans;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::status::ScanStatus")]
pub enum ScanStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
}

pub(crate) fn loaders<'a>(ctx: &'a Context<'_>) -> &'a Loaders {
    ctx.data_unchecked::<Loaders>()
}

/// The scan `id` (not a chunk) through the request's loader, for fields that link one.
pub async fn scan_or_none(ctx: &Context<'_>, id: Option<i32>) -> GqlResult<Option<Scan>> {
    ctx.actor()?.require(crate::domain::auth::Role::Viewer)?;
    let Some(id) = id else { return Ok(None) };
    let rows = loaders(ctx)
        .scans
        .load_one(id)
        .await
        .map_err(AppError::from)?;
    Ok(rows
        .and_then(|mut v| v.pop())
        .filter(|row| row.parent_id.is_none())
        .map(Scan))
}

/// The config `id` through the request's loader, for fields that link one.
pub async fn config_or_none(ctx: &Context<'_>, id: Option<i32>) -> GqlResult<Option<ScanConfig>> {
    let Some(id) = id else { return Ok(None) };
    let rows = loaders(ctx)
        .configs
        .load_one(id)
        .await
        .map_err(AppError::from)?;
    Ok(rows.and_then(|mut v| v.pop()).map(ScanConfig::new))
}

#[derive(SimpleObject)]
pub struct ScanSummary {
    pub hosts_total: i32,
    pub hosts_up: i32,
    pub open_ports: i32,
    pub services: i32,
    pub certificates: i32,
    pub unexpected_ports: i32,
    pub missing_ports: i32,
}

pub struct Scan(pub scan::Model);

#[Object]
impl Scan {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn status(&self) -> ScanStatus {
        status_of(&self.0)
    }
    /// The phase running now (QUEUED, PING, TCP, … DONE).
    async fn phase(&self) -> ScanPhase {
        phase_of(&self.0)
    }
    async fn percent(&self) -> f64 {
        self.0.percent
    }
    /// The latest progress line.
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }
    /// Who started it: a username, `import` or `schedule`.
    async fn triggered_by(&self) -> &str {
        &self.0.triggered_by
    }
    /// The schedule that started it ("schedule:<name>" in `triggeredBy`).
    async fn schedule(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<crate::graphql::schedules::Schedule>> {
        crate::graphql::schedules::scan_schedule(ctx, self.0.schedule_id).await
    }
    /// The worker (process) running the scan, or that ran it last (`agent:<name>` for an
    /// agent); null before it starts and for imports.
    async fn worker(&self) -> Option<&str> {
        self.0.worker.as_deref()
    }
    /// Runs started: more than 1 when the worker running it was lost and another one took the
    /// scan over (and ran it again from the start).
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    /// The agent pool that runs the scan (its config's sites name it); null: the workers.
    async fn pool(&self) -> Option<&str> {
        self.0.pool.as_deref()
    }
    /// How many chunks the scan runs (or ran) as; null: it runs whole (see the
    /// `chunkAddresses` setting).
    async fn chunk_count(&self) -> Option<i32> {
        self.0.chunk_count
    }
    /// Its chunks while they run, in order: each a run of its own on any worker or agent of
    /// the pool. Empty once they are merged into this scan (and for a scan that runs whole).
    /// The latest earlier scan that observed any of this scan's hosts: what its changes are
    /// against (none before its history is recorded, for a first scan, or once deleted).
    async fn baseline(&self, ctx: &Context<'_>) -> GqlResult<Option<Scan>> {
        crate::graphql::history::scan_baseline(ctx, self.0.baseline_id).await
    }
    /// What changed since the baseline, newest first (written when the scan completed).
    async fn changes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<crate::graphql::history::ChangeEventConnection> {
        crate::graphql::history::scan_changes(ctx, self.0.id, first, after).await
    }
    async fn chunks(&self, ctx: &Context<'_>) -> GqlResult<Vec<ScanChunk>> {
        if self.0.chunk_count.is_none() {
            return Ok(Vec::new());
        }
        let rows = crate::service::chunks::list(ctx.db(), ctx.actor()?, self.0.id).await?;
        Ok(rows.into_iter().map(ScanChunk).collect())
    }
    async fn config(&self, ctx: &Context<'_>) -> GqlResult<Option<ScanConfig>> {
        // Configs are edited: an answer that shows one is not kept.
        crate::graphql::answers::read_mutable(ctx);
        config_or_none(ctx, self.0.config_id).await
    }
    async fn summary(&self) -> ScanSummary {
        ScanSummary {
            hosts_total: self.0.hosts_total,
            hosts_up: self.0.hosts_up,
            open_ports: self.0.open_ports,
            services: self.0.services_count,
            certificates: self.0.certificates_count,
            unexpected_ports: self.0.unexpected_ports,
            missing_ports: self.0.missing_ports,
        }
    }
    /// The exact argv of every scanner process that ran, in order.
    async fn command_lines(&self) -> Vec<Vec<String>> {
        serde_json::from_str(&self.0.command_lines).unwrap_or_default()
    }
    async fn sites(&self, ctx: &Context<'_>) -> GqlResult<Vec<ScanSite>> {
        let rows = loaders(ctx).sites.children(self.0.id, self.0.id).await?;
        Ok(rows.into_iter().map(ScanSite).collect())
    }
    /// Download links of the JSON, HTML and ZIP reports (authenticated routes; a missing
    /// report is generated when first downloaded).
    async fn reports(&self) -> ScanReports {
        ScanReports {
            json: Format::Json.url(self.0.id),
            html: Format::Html.url(self.0.id),
            zip: Format::Zip.url(self.0.id),
        }
    }
    /// The raw nmap output of each phase that ran (ping, tcp, udp, service), in phase order,
    /// or the imported document (import): stored with the results, downloadable from any
    /// replica; a scan that ran in chunks has one file per phase and chunk. Empty while the
    /// scan runs and for scans from before stored files.
    async fn nmap_xml(&self, ctx: &Context<'_>) -> GqlResult<Vec<NmapXmlFile>> {
        let files = artifacts::xml_files(ctx.db(), ctx.actor()?, self.0.id).await?;
        Ok(files
            .into_iter()
            .filter_map(|f| {
                let Kind::NmapXml(phase) = f.kind else {
                    return None;
                };
                let file = f.name.strip_prefix("nmap/")?;
                Some(NmapXmlFile {
                    phase: phase.to_owned(),
                    chunk: artifact::xml_file(&f.name)
                        .and_then(|(_, chunk)| chunk)
                        .and_then(|c| i32::try_from(c).ok()),
                    url: format!("/api/scans/{}/nmap/{file}", self.0.id),
                    stored_bytes: f.size,
                })
            })
            .collect())
    }
    /// What needs attention: unexpected or missing ports and ping, expired, expiring,
    /// self-signed or weak certificates, old TLS versions and weak ciphers — in pages, in the
    /// order they were found.
    async fn findings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<FindingConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let settings = settings(ctx);
        let page = reports::findings(
            ctx.db(),
            ctx.actor()?,
            &self.0,
            &settings.data_dir,
            settings.scanner.web.cert_expiry_warning_days,
            page,
        )
        .await?;
        Ok(FindingConnection::from_page(page, |f| f.id, Finding::from))
    }
    /// Every address of the scan, paginated (for scans too large to load at once).
    async fn hosts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<ScanHostConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let page = scans::hosts(ctx.db(), ctx.actor()?, &self.0, page).await?;
        Ok(ScanHostConnection::from_page(
            page,
            |h| h.id,
            |ip| ScanIp {
                row: ip,
                paged: true,
            },
        ))
    }
}

connection!(ScanConnection, ScanEdge, Scan);
connection!(ScanHostConnection, ScanHostEdge, ScanIp);
connection!(FindingConnection, FindingEdge, Finding);

pub struct ScanSite(pub scan_site::Model);

#[Object]
impl ScanSite {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn ips(&self, ctx: &Context<'_>) -> GqlResult<Vec<ScanIp>> {
        let rows = loaders(ctx).ips.children(self.0.scan_id, self.0.id).await?;
        Ok(rows
            .into_iter()
            .map(|row| ScanIp { row, paged: false })
            .collect())
    }
}

pub struct ScanIp {
    pub row: scan_ip::Model,
    /// Reached through paginated `hosts`: load ports per address, not for the whole scan.
    pub paged: bool,
}

#[Object]
impl ScanIp {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn address(&self) -> &str {
        &self.row.address
    }
    async fn hostname(&self) -> Option<&str> {
        self.row.hostname.as_deref()
    }
    /// The name of the site (of the scan's config) this address was scanned under.
    async fn site(&self, ctx: &Context<'_>) -> GqlResult<String> {
        let rows = loaders(ctx)
            .sites_by_id
            .load_one(self.row.site_id)
            .await
            .map_err(AppError::from)?;
        Ok(rows
            .and_then(|mut v| v.pop())
            .map(|s| s.name)
            .unwrap_or_default())
    }
    async fn status(&self) -> HostStatus {
        typed(
            &self.row.status,
            facts::HostStatus::parse,
            facts::HostStatus::Unknown,
        )
        .into()
    }
    async fn ping_expected(&self) -> Option<bool> {
        self.row.ping_expected
    }
    async fn ping_actual(&self) -> Option<bool> {
        self.row.ping_actual
    }
    async fn ports(&self, ctx: &Context<'_>) -> GqlResult<Vec<ScanPort>> {
        let rows = if self.paged {
            loaders(ctx)
                .ports_by_ip
                .load_one(self.row.id)
                .await
                .map_err(AppError::from)?
                .unwrap_or_default()
        } else {
            loaders(ctx)
                .ports
                .children(self.row.scan_id, self.row.id)
                .await?
        };
        let paged = self.paged;
        Ok(rows
            .into_iter()
            .map(|row| ScanPort { row, paged })
            .collect())
    }
}

/// A port; `paged` as for [`ScanIp`]: its service, certificate and TLS rows are loaded by the
/// ports of the page, not for the whole scan.
pub struct ScanPort {
    pub row: scan_port::Model,
    pub paged: bool,
}

#[Object]
impl ScanPort {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn port(&self) -> i32 {
        self.row.port
    }
    async fn protocol(&self) -> Protocol {
        typed(
            &self.row.protocol,
            facts::Protocol::parse,
            facts::Protocol::Tcp,
        )
        .into()
    }
    /// nmap's state (OPEN, CLOSED, FILTERED, …), or MISSING for an expected port not seen.
    async fn state(&self) -> PortState {
        typed(
            &self.row.state,
            facts::PortState::parse,
            facts::PortState::Filtered,
        )
        .into()
    }
    async fn reason(&self) -> Option<&str> {
        self.row.reason.as_deref()
    }
    /// Listed in the config's expectations.
    async fn expected(&self) -> bool {
        self.row.expected
    }
    /// Open but not expected.
    async fn unexpected(&self) -> bool {
        self.row.unexpected
    }
    /// Expected but not open.
    async fn missing(&self) -> bool {
        self.row.is_missing()
    }
    async fn service(&self, ctx: &Context<'_>) -> GqlResult<Option<ScanService>> {
        let l = loaders(ctx);
        let mut rows = if self.paged {
            l.services_by_port
                .load_one(self.row.id)
                .await
                .map_err(AppError::from)?
                .unwrap_or_default()
        } else {
            l.services.children(self.row.scan_id, self.row.id).await?
        };
        let paged = self.paged;
        Ok(rows.pop().map(|row| ScanService { row, paged }))
    }
}

#[derive(SimpleObject)]
pub struct HttpInfo {
    pub status: Option<i32>,
    pub title: Option<String>,
    pub server: Option<String>,
    /// `Location` of a redirect answer.
    pub location: Option<String>,
    pub response_ms: Option<i32>,
}

/// A scan row's status (an unknown one reads as FAILED).
fn status_of(row: &scan::Model) -> ScanStatus {
    DomainStatus::parse(&row.status)
        .unwrap_or(DomainStatus::Failed)
        .into()
}

/// A scan row's phase (an unknown one reads as STARTING).
fn phase_of(row: &scan::Model) -> ScanPhase {
    typed(
        &row.phase,
        domain::status::ScanPhase::parse,
        domain::status::ScanPhase::Starting,
    )
    .into()
}

/// One chunk of a scan that runs in chunks.
pub struct ScanChunk(scan::Model);

#[Object]
impl ScanChunk {
    /// 1-based, in target order.
    async fn number(&self) -> i32 {
        self.0.chunk.unwrap_or_default()
    }
    async fn status(&self) -> ScanStatus {
        status_of(&self.0)
    }
    async fn phase(&self) -> ScanPhase {
        phase_of(&self.0)
    }
    async fn percent(&self) -> f64 {
        self.0.percent
    }
    /// The worker or agent running it, or that ran it.
    async fn worker(&self) -> Option<&str> {
        self.0.worker.as_deref()
    }
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    async fn hosts_up(&self) -> i32 {
        self.0.hosts_up
    }
    async fn open_ports(&self) -> i32 {
        self.0.open_ports
    }
    /// The addresses it scans, one per line.
    async fn targets(&self) -> String {
        self.0
            .config_yaml
            .as_deref()
            .and_then(|y| domain::config::parse(y).ok())
            .map(|c| {
                c.sites
                    .iter()
                    .flat_map(|s| &s.targets)
                    .map(|t| t.target.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }
}

/// The raw nmap XML of one phase of a scan.
#[derive(SimpleObject)]
pub struct NmapXmlFile {
    /// `ping`, `tcp`, `udp`, `service`, or `import` (the document an import read).
    pub phase: String,
    /// The chunk it is the output of, in a scan that ran in chunks.
    pub chunk: Option<i32>,
    /// Its download route (authenticated; the XML as nmap wrote it).
    pub url: String,
    /// Bytes stored (gzip-compressed).
    pub stored_bytes: i64,
}

#[derive(SimpleObject)]
pub struct ScanReports {
    pub json: String,
    pub html: String,
    pub zip: String,
}

/// Something in a scan's results that needs attention.
#[derive(SimpleObject)]
pub struct Finding {
    pub code: FindingCode,
    pub severity: Severity,
    pub site: String,
    pub address: String,
    pub port: Option<i32>,
    pub protocol: Option<Protocol>,
    pub message: String,
}

impl From<entity::scan_finding::Model> for Finding {
    fn from(f: entity::scan_finding::Model) -> Self {
        Self {
            code: typed(
                &f.code,
                findings::FindingCode::parse,
                findings::FindingCode::PortUnexpected,
            )
            .into(),
            severity: typed(
                &f.severity,
                findings::Severity::parse,
                findings::Severity::Info,
            )
            .into(),
            site: f.site,
            address: f.address,
            port: f.port,
            protocol: f
                .protocol
                .as_deref()
                .map(|p| typed(p, facts::Protocol::parse, facts::Protocol::Tcp).into()),
            message: f.message,
        }
    }
}

pub(super) fn settings<'a>(ctx: &'a Context<'_>) -> &'a crate::config::Settings {
    ctx.data_unchecked::<std::sync::Arc<crate::config::Settings>>()
}

pub struct ScanService {
    pub row: scan_service::Model,
    pub paged: bool,
}

#[Object]
impl ScanService {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn name(&self) -> Option<&str> {
        self.row.name.as_deref()
    }
    async fn product(&self) -> Option<&str> {
        self.row.product.as_deref()
    }
    async fn version(&self) -> Option<&str> {
        self.row.version.as_deref()
    }
    async fn extra_info(&self) -> Option<&str> {
        self.row.extra_info.as_deref()
    }
    async fn tunnel(&self) -> Option<&str> {
        self.row.tunnel.as_deref()
    }
    async fn cpe(&self) -> Option<&str> {
        self.row.cpe.as_deref()
    }
    /// What the HTTP probe saw; null when the service was not probed.
    async fn http(&self) -> Option<HttpInfo> {
        let s = &self.row;
        (s.http_status.is_some() || s.http_title.is_some() || s.http_server.is_some()).then(|| {
            HttpInfo {
                status: s.http_status,
                title: s.http_title.clone(),
                server: s.http_server.clone(),
                location: s.http_location.clone(),
                response_ms: s.http_response_ms,
            }
        })
    }
    /// The page's screenshot (authenticated route), when one was taken.
    async fn screenshot_url(&self) -> Option<String> {
        self.row.screenshot_path.as_ref().map(|_| {
            format!(
                "/api/scans/{}/services/{}/screenshot.png",
                self.row.scan_id, self.row.id
            )
        })
    }
    async fn certificate(&self, ctx: &Context<'_>) -> GqlResult<Option<ScanCertificate>> {
        let l = loaders(ctx);
        let mut rows = if self.paged {
            l.certificates_by_service
                .load_one(self.row.id)
                .await
                .map_err(AppError::from)?
                .unwrap_or_default()
        } else {
            l.certificates
                .children(self.row.scan_id, self.row.id)
                .await?
        };
        Ok(rows.pop().map(ScanCertificate))
    }
    async fn tls_versions(&self, ctx: &Context<'_>) -> GqlResult<Vec<ScanTlsVersion>> {
        let l = loaders(ctx);
        let rows = if self.paged {
            l.tls_versions_by_service
                .load_one(self.row.id)
                .await
                .map_err(AppError::from)?
                .unwrap_or_default()
        } else {
            l.tls_versions
                .children(self.row.scan_id, self.row.id)
                .await?
        };
        Ok(rows.into_iter().map(ScanTlsVersion).collect())
    }
}

pub struct ScanCertificate(pub scan_certificate::Model);

#[Object]
impl ScanCertificate {
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn issuer(&self) -> &str {
        &self.0.issuer
    }
    async fn sans(&self) -> Vec<String> {
        list_from_json(&self.0.sans)
    }
    async fn not_before(&self) -> Option<DateTime<Utc>> {
        self.0.not_before
    }
    async fn not_after(&self) -> Option<DateTime<Utc>> {
        self.0.not_after
    }
    async fn serial(&self) -> Option<&str> {
        self.0.serial.as_deref()
    }
    async fn sha256_fingerprint(&self) -> Option<&str> {
        self.0.sha256_fingerprint.as_deref()
    }
    async fn key_type(&self) -> Option<&str> {
        self.0.key_type.as_deref()
    }
    async fn key_bits(&self) -> Option<i32> {
        self.0.key_bits
    }
    async fn signature_algorithm(&self) -> Option<&str> {
        self.0.signature_algorithm.as_deref()
    }
    async fn self_signed(&self) -> bool {
        self.0.self_signed
    }
}

pub struct ScanTlsVersion(pub scan_tls_version::Model);

#[Object]
impl ScanTlsVersion {
    async fn version(&self) -> &str {
        &self.0.version
    }
    async fn ciphers(&self) -> Vec<String> {
        list_from_json(&self.0.ciphers)
    }
    async fn grade(&self) -> Option<TlsGrade> {
        self.0
            .grade
            .as_deref()
            .and_then(facts::TlsGrade::parse)
            .map(Into::into)
    }
}
