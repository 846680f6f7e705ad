//! One scan run: the phases in order, each an nmap child whose XML is parsed as it streams;
//! progress goes to the scan row and the event bus; at the end (also on failure, cancel or
//! shutdown) everything found is stored with the final status.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use nmap_parser::{Event, PortState, Protocol};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use entity::scan;

use super::runner::{JobControl, StopReason};
use crate::config::Settings;
use crate::domain::artifact::Artifact;
use crate::domain::changes::Coverage;
use crate::domain::config::{self as scan_config, Phase, ScanConfig};
use crate::domain::status::{ScanPhase, ScanStatus};
use crate::domain::tree::{NewService, NewSite};
use crate::error::{AppError, AppResult};
use crate::events::{EventBus, ScanEvent};
use crate::scanner::assemble::assemble;
use crate::scanner::findings::{Findings, HostStatusUse, ServiceUse};
use crate::scanner::nmap::{OpenPorts, Profile, TcpScan, is_root};
use crate::scanner::process::NmapProcess;
use crate::scanner::progress::Progress;
use crate::scanner::{http_probe, screenshot};
use crate::service::completion;
use crate::service::results::{self, Outcome, command_lines_json};
use crate::service::scans;

/// How often progress is written to the scan row and published.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// How long a killed nmap gets to exit.
const KILL_GRACE: Duration = Duration::from_secs(5);

pub struct JobContext {
    pub db: DatabaseConnection,
    pub bus: EventBus,
    pub settings: Arc<Settings>,
    pub control: Arc<JobControl>,
}

/// `<data_dir>/scans`: per-scan working files (target lists, raw XML), named by scan id.
pub fn scans_dir(data_dir: &Path) -> PathBuf {
    let dir = data_dir.join("scans");
    std::path::absolute(&dir).unwrap_or(dir)
}

/// Progress of a run, as a worker stores it or an agent sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressReport {
    pub phase: ScanPhase,
    pub percent: f64,
    pub message: Option<String>,
    pub hosts_up: i32,
    pub open_ports: i32,
    /// The nmap command lines so far; sent when a phase starts (they change only then).
    pub command_lines: Option<Vec<Vec<String>>>,
}

/// Where a run reports its progress: the scan row (a worker) or the server (an agent).
pub trait Reporter: Sync {
    /// Reports progress; `false` when the run no longer holds its scan (taken over, ended
    /// elsewhere, deleted): it then stops and stores nothing.
    fn progress(&self, report: ProgressReport) -> impl Future<Output = AppResult<bool>> + Send;
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ended {
    Completed,
    Failed(String),
    Stopped(StopReason),
}

/// What a run found and how it ended: what is stored for the scan, whoever ran it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub ended: Ended,
    pub sites: Vec<NewSite>,
    pub message: Option<String>,
    /// The files it left (raw XML, screenshots), stored with the results.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// The ports its nmap runs probed (their `<scaninfo>`).
    #[serde(default)]
    pub coverage: Coverage,
}

/// What a run needs wherever it runs (a worker or an agent): the scanner settings, its
/// control (stop requests) and where progress goes.
pub struct RunEnv<'a, R> {
    pub settings: &'a Settings,
    pub control: &'a JobControl,
    pub reporter: &'a R,
}

/// Progress of a worker's run: written to the scan row (conditional on the run's lease) and
/// published.
pub struct RowReporter<'a> {
    pub db: &'a DatabaseConnection,
    pub bus: &'a EventBus,
    pub scan_id: i32,
    pub lease: &'a str,
    /// The scan a chunk belongs to.
    pub parent: Option<i32>,
}

impl Reporter for RowReporter<'_> {
    async fn progress(&self, report: ProgressReport) -> AppResult<bool> {
        store_progress(
            self.db,
            self.bus,
            self.scan_id,
            self.lease,
            self.parent,
            report,
        )
        .await
    }
}

/// Writes a run's progress to its scan row, conditional on its lease, and publishes it (a
/// chunk of scan `parent`: the parent's progress, from all its chunks); `false` (nothing
/// written) when the lease is no longer the scan's.
pub async fn store_progress(
    db: &DatabaseConnection,
    bus: &EventBus,
    scan_id: i32,
    lease: &str,
    parent: Option<i32>,
    report: ProgressReport,
) -> AppResult<bool> {
    let mut update = scan::Entity::update_many()
        .col_expr(scan::Column::Phase, Expr::value(report.phase.as_str()))
        .col_expr(scan::Column::Percent, Expr::value(report.percent))
        .col_expr(scan::Column::Message, Expr::value(report.message.clone()))
        .col_expr(scan::Column::HostsUp, Expr::value(report.hosts_up))
        .col_expr(scan::Column::OpenPorts, Expr::value(report.open_ports))
        .filter(scan::Column::Id.eq(scan_id))
        .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
        .filter(scan::Column::Lease.eq(lease));
    if let Some(lines) = &report.command_lines {
        update = update.col_expr(
            scan::Column::CommandLines,
            Expr::value(command_lines_json(lines)),
        );
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(false);
    }
    if let Some(parent) = parent {
        if let Some(parent) = crate::service::chunks::progress(db, parent).await? {
            bus.publish(ScanEvent::from_row(&parent));
        }
        return Ok(true);
    }
    bus.publish(ScanEvent {
        scan_id,
        status: ScanStatus::Running,
        phase: report.phase,
        percent: report.percent,
        message: report.message,
        hosts_up: report.hosts_up,
        open_ports: report.open_ports,
        at: Utc::now(),
    });
    Ok(true)
}

/// Runs a claimed (RUNNING) scan to its end on this process and stores the outcome; returns
/// the parent of a chunk that ended (see [`store`]).
pub async fn run(ctx: JobContext, row: scan::Model) -> Option<i32> {
    let reporter = RowReporter {
        db: &ctx.db,
        bus: &ctx.bus,
        scan_id: row.id,
        lease: ctx.control.lease(),
        parent: row.parent_id,
    };
    let env = RunEnv {
        settings: &ctx.settings,
        control: &ctx.control,
        reporter: &reporter,
    };
    let report = execute(&env, row.id, row.config_yaml.as_deref().unwrap_or_default()).await;
    store(&ctx, row.id, report).await
}

/// Runs the phases of a scan (on a worker or an agent) and assembles what they found.
pub async fn execute<R: Reporter>(env: &RunEnv<'_, R>, scan_id: i32, yaml: &str) -> RunReport {
    let mut job = Job {
        env,
        scan_id,
        findings: Findings::default(),
        coverage: Coverage::default(),
        command_lines: Vec::new(),
        progress: Progress::new(&[]),
        phase: ScanPhase::Starting,
        message: None,
        discovery_ran: false,
        http_ran: false,
        last_task: None,
        dirty: false,
    };
    let (config, ended) = match job.execute(yaml).await {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(scan_id, error = ?e, "scan failed");
            (None, Ended::Failed(format!("internal error: {e}")))
        }
    };
    let mut sites = assemble(config.as_ref(), &job.findings, job.discovery_ran, "Ad-hoc");
    let mut artifacts = Vec::new();
    if ended != Ended::Stopped(StopReason::LeaseLost) {
        // The run's files go with its results (a run that lost its scan leaves them: another
        // run of the scan may be using them).
        let data_dir = env.settings.data_dir.clone();
        let run_dir = scans_dir(&data_dir).join(scan_id.to_string());
        let taken = tokio::task::spawn_blocking(move || {
            let taken = crate::scanner::artifacts::take(&data_dir, &run_dir, scan_id, &mut sites);
            (sites, taken)
        })
        .await;
        match taken {
            Ok((back, (files, notes))) => {
                sites = back;
                artifacts = files;
                notes.into_iter().for_each(|n| job.note(n));
            }
            Err(e) => {
                tracing::error!(scan_id, error = ?e, "gathering the run's files failed");
                sites = Vec::new();
            }
        }
    }
    RunReport {
        ended,
        sites,
        message: job.message,
        artifacts,
        coverage: job.coverage,
    }
}

/// Stores the outcome of a run of scan `scan_id` (under the run's lease, in `ctx.control`):
/// results and final status, then the completion pipeline; publishes the end. A run that lost
/// its lease stores nothing. A chunk ends without the completion pipeline or an event of its
/// own: its parent's id is returned, for the caller to merge the chunks
/// (`Runner::merge_chunks`).
#[must_use]
pub async fn store(ctx: &JobContext, scan_id: i32, report: RunReport) -> Option<i32> {
    let (status, error_message, message) = match report.ended {
        Ended::Stopped(StopReason::LeaseLost) => {
            tracing::warn!(
                scan_id,
                "this run lost its scan (taken over by another worker, or deleted); nothing stored"
            );
            return None;
        }
        Ended::Completed => (ScanStatus::Completed, None, report.message),
        Ended::Failed(reason) => (ScanStatus::Failed, Some(reason), report.message),
        Ended::Stopped(StopReason::Cancelled { by }) => (
            ScanStatus::Cancelled,
            None,
            Some(format!("cancelled by {by}")),
        ),
        Ended::Stopped(StopReason::Shutdown) => (
            ScanStatus::Interrupted,
            Some("the server shut down while this scan was running".to_owned()),
            None,
        ),
        Ended::Stopped(StopReason::AgentShutdown { agent }) => (
            ScanStatus::Interrupted,
            Some(format!(
                "agent {agent} shut down while this scan was running"
            )),
            None,
        ),
    };
    let outcome = Outcome {
        status,
        sites: report.sites,
        message,
        error_message,
        artifacts: report.artifacts,
        coverage: report.coverage,
    };
    match results::finish(&ctx.db, scan_id, ctx.control.lease(), outcome).await {
        Ok(Some(row)) if row.parent_id.is_some() => {
            tracing::info!(scan_id, chunk = row.chunk, status = %row.status, hosts_up = row.hosts_up, open_ports = row.open_ports, "chunk ended");
            row.parent_id
        }
        Ok(Some(row)) => {
            let row = if status == ScanStatus::Completed {
                match complete(ctx, scan_id).await {
                    Some(row) => row,
                    None => return None,
                }
            } else {
                row
            };
            tracing::info!(scan_id, status = %row.status, hosts_up = row.hosts_up, open_ports = row.open_ports, "scan ended");
            crate::service::alerts::on_scan_ended(&ctx.db, &row).await;
            ctx.bus.publish(ScanEvent::from_row(&row));
            None
        }
        Ok(None) => {
            tracing::info!(scan_id, "scan was removed or ended elsewhere while running");
            None
        }
        Err(e) => {
            tracing::error!(scan_id, error = ?e, "storing scan results failed");
            // Still never leave it RUNNING.
            let _ = scans::end_if(
                &ctx.db,
                Some(scan_id),
                ScanStatus::Running,
                ScanStatus::Failed,
                None,
                Some("storing the results failed (see the server log)".to_owned()),
            )
            .await;
            match scan::Entity::find_by_id(scan_id).one(&ctx.db).await {
                Ok(Some(row)) if row.parent_id.is_some() => row.parent_id,
                Ok(Some(row)) => {
                    ctx.bus.publish(ScanEvent::from_row(&row));
                    None
                }
                _ => None,
            }
        }
    }
}

/// Finishes a scan taken over from a worker that died after storing its results (phase
/// `finishing`): only the completion pipeline is left to run.
pub async fn complete_taken_over(ctx: JobContext, row: scan::Model) {
    if let Some(row) = complete(&ctx, row.id).await {
        tracing::info!(scan_id = row.id, status = %row.status, "taken-over scan completed");
        ctx.bus.publish(ScanEvent::from_row(&row));
    }
}

/// The completion pipeline of a scan whose results are stored; `None` when it was removed or
/// ended elsewhere meanwhile.
async fn complete(ctx: &JobContext, scan_id: i32) -> Option<scan::Model> {
    let days = ctx.settings.scanner.web.cert_expiry_warning_days;
    match completion::complete(&ctx.db, &ctx.settings.data_dir, days, scan_id).await {
        Ok(Some(row)) => Some(row),
        Ok(None) => {
            tracing::info!(
                scan_id,
                "scan was removed or ended elsewhere while finishing"
            );
            None
        }
        Err(e) => {
            tracing::error!(scan_id, error = ?e, "completing the scan failed");
            scan::Entity::find_by_id(scan_id)
                .one(&ctx.db)
                .await
                .ok()
                .flatten()
        }
    }
}

struct Job<'a, R> {
    env: &'a RunEnv<'a, R>,
    scan_id: i32,
    findings: Findings,
    coverage: Coverage,
    command_lines: Vec<Vec<String>>,
    progress: Progress,
    phase: ScanPhase,
    message: Option<String>,
    discovery_ran: bool,
    http_ran: bool,
    /// The nmap task last reported in this phase.
    last_task: Option<String>,
    dirty: bool,
}

/// A phase as planned: which nmap tasks it will report.
fn planned_tasks(phase: Phase, tls: bool) -> u32 {
    match phase {
        Phase::Service => 2 + u32::from(tls),
        _ => 1,
    }
}

/// What a scan will run, decided from its config alone: the phases in order, whether the
/// service phase runs the TLS scripts, and notes about what is left out (and why).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    phases: Vec<Phase>,
    tls: bool,
    notes: Vec<String>,
}

impl Plan {
    fn of(config: &ScanConfig, root: bool) -> Plan {
        let wanted = &config.scan.phases;
        let tls = wanted.contains(&Phase::Tls);
        let mut notes = Vec::new();
        let mut phases: Vec<Phase> = [
            Phase::Ping,
            Phase::Tcp,
            Phase::Udp,
            Phase::Service,
            Phase::Http,
            Phase::Screenshot,
        ]
        .into_iter()
        .filter(|p| wanted.contains(p))
        .collect();
        if phases.contains(&Phase::Udp) && !root {
            phases.retain(|p| *p != Phase::Udp);
            notes.push("udp phase skipped: UDP scans need root".to_owned());
        }
        if tls && !phases.contains(&Phase::Service) {
            notes.push("tls needs the service phase; not run".to_owned());
        }
        Plan { phases, tls, notes }
    }

    /// The progress model: each phase with the nmap tasks it will report.
    fn progress(&self) -> Progress {
        Progress::new(
            &self
                .phases
                .iter()
                .map(|p| (*p, planned_tasks(*p, self.tls)))
                .collect::<Vec<_>>(),
        )
    }
}

/// Every target of a config once, one per line (the `-iL` file of the first phase).
fn target_lines(config: &ScanConfig) -> String {
    let lines: Vec<String> = config
        .sites
        .iter()
        .flat_map(|s| &s.targets)
        .map(|t| t.target.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    lines.join("\n") + "\n"
}

/// Where a scan's work files go, and what its first phase reads.
struct WorkFiles {
    dir: PathBuf,
    all_targets: PathBuf,
    address_count: usize,
}

impl<R: Reporter> Job<'_, R> {
    /// Runs the planned phases in order until one ends the scan early.
    async fn execute(&mut self, yaml: &str) -> AppResult<(Option<ScanConfig>, Ended)> {
        let config = match scan_config::parse(yaml) {
            Ok(c) => c,
            Err(e) => {
                return Ok((
                    None,
                    Ended::Failed(format!("the scan's config is invalid: {e}")),
                ));
            }
        };
        let settings = &self.env.settings.scanner;
        let root = is_root();
        let profile = Profile {
            nmap: settings.nmap_path.display().to_string(),
            stats_every_secs: settings.stats_every_secs,
            tcp: TcpScan::from_setting(&settings.tcp_scan, root),
        };
        let plan = Plan::of(&config, root);
        self.progress = plan.progress();
        if !plan.notes.is_empty() {
            self.message = Some(plan.notes.join("; "));
        }
        let dir = scans_dir(&self.env.settings.data_dir).join(self.scan_id.to_string());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(AppError::internal)?;
        let all_targets = dir.join("targets.txt");
        tokio::fs::write(&all_targets, target_lines(&config))
            .await
            .map_err(AppError::internal)?;
        let work = WorkFiles {
            dir,
            all_targets,
            address_count: usize::try_from(config.address_count()).unwrap_or(usize::MAX),
        };

        for phase in plan.phases {
            let ended = match phase {
                Phase::Http => self.http_phase().await?,
                Phase::Screenshot => self.screenshot_phase().await?,
                _ => match self
                    .nmap_command(phase, &config, &profile, plan.tls, &work)
                    .await?
                {
                    Some((argv, timeout)) => {
                        self.run_phase(phase, argv, Duration::from_secs(timeout), &work.dir)
                            .await?
                    }
                    None => None,
                },
            };
            if let Some(ended) = ended {
                return Ok((Some(config), ended));
            }
        }
        Ok((Some(config), Ended::Completed))
    }

    /// The nmap command of a phase and its time limit; `None` (with a note) when there is
    /// nothing for it to do.
    async fn nmap_command(
        &mut self,
        phase: Phase,
        config: &ScanConfig,
        profile: &Profile,
        tls: bool,
        work: &WorkFiles,
    ) -> AppResult<Option<(Vec<String>, u64)>> {
        let timeouts = &self.env.settings.scanner.timeouts;
        Ok(Some(match phase {
            Phase::Ping => (
                profile.ping(&work.all_targets, work.address_count),
                timeouts.ping_secs,
            ),
            Phase::Tcp | Phase::Udp => {
                let (file, hosts) = if self.discovery_ran {
                    let up = self.findings.up_addresses();
                    if up.is_empty() {
                        self.note(format!("{} phase skipped: no host is up", phase.as_str()));
                        return Ok(None);
                    }
                    (write_list(&work.dir, phase, &up).await?, up.len())
                } else {
                    (work.all_targets.clone(), work.address_count)
                };
                if phase == Phase::Tcp {
                    let ports = config.scan.tcp_ports.as_ref();
                    (
                        profile.tcp(&file, hosts, ports, self.discovery_ran),
                        timeouts.tcp_secs,
                    )
                } else {
                    let ports = config.scan.udp_ports.as_ref();
                    (
                        profile.udp(&file, hosts, ports, self.discovery_ran),
                        timeouts.udp_secs,
                    )
                }
            }
            Phase::Service => {
                let (hosts, open) = self.open_ports();
                if hosts.is_empty() {
                    self.note("service phase skipped: no open ports".to_owned());
                    return Ok(None);
                }
                let file = write_list(&work.dir, phase, &hosts).await?;
                (
                    profile.service(&file, hosts.len(), &open, tls),
                    timeouts.service_secs,
                )
            }
            _ => return Ok(None),
        }))
    }

    fn note(&mut self, text: String) {
        self.message = Some(match self.message.take() {
            Some(m) => format!("{m}; {text}"),
            None => text,
        });
        self.dirty = true;
    }

    /// Up hosts with open ports, and the union of those ports.
    fn open_ports(&self) -> (Vec<IpAddr>, OpenPorts) {
        let mut tcp = BTreeSet::new();
        let mut udp = BTreeSet::new();
        let mut hosts = Vec::new();
        for (ip, host) in &self.findings.hosts {
            let mut any = false;
            for (proto, port) in host.open_ports() {
                any = true;
                match proto {
                    Protocol::Udp => udp.insert(port),
                    _ => tcp.insert(port),
                };
            }
            if any {
                hosts.push(*ip);
            }
        }
        (
            hosts,
            OpenPorts {
                tcp: tcp.into_iter().collect(),
                udp: udp.into_iter().collect(),
            },
        )
    }

    /// Runs one phase; `Some` when the scan must end here.
    async fn run_phase(
        &mut self,
        phase: Phase,
        argv: Vec<String>,
        timeout: Duration,
        dir: &Path,
    ) -> AppResult<Option<Ended>> {
        if let Some(reason) = self.env.control.reason() {
            return Ok(Some(Ended::Stopped(reason)));
        }
        self.command_lines.push(argv.clone());
        self.start_phase(phase).await?;
        tracing::info!(scan_id = self.scan_id, phase = phase.as_str(), argv = ?argv, "phase starts");

        let raw = dir.join(format!("{}.xml", phase.as_str()));
        let mut proc = match NmapProcess::spawn(&argv, &raw) {
            Ok(p) => p,
            Err(e) => {
                return Ok(Some(Ended::Failed(format!(
                    "could not start {}: {e}",
                    argv.first().map_or("nmap", String::as_str)
                ))));
            }
        };
        let (status_use, service_use) = match phase {
            Phase::Ping => (HostStatusUse::Discovery, ServiceUse::StateOnly),
            Phase::Service => (HostStatusUse::Ignore, ServiceUse::Detected),
            _ if self.discovery_ran => (HostStatusUse::Ignore, ServiceUse::StateOnly),
            _ => (HostStatusUse::Discovery, ServiceUse::StateOnly),
        };
        let deadline = Instant::now() + timeout;
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let mut parse_error = None;
        let mut stop: Option<Ended> = None;
        loop {
            tokio::select! {
                event = proc.next_event() => match event {
                    Some(Ok(event)) => self.on_event(event, status_use, service_use),
                    Some(Err(e)) => parse_error = Some(e),
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => {
                    proc.kill();
                    stop = Some(Ended::Failed(format!(
                        "{} phase timed out after {} s",
                        phase.as_str(),
                        timeout.as_secs()
                    )));
                    break;
                }
                () = self.env.control.stopped() => {
                    proc.kill();
                    stop = Some(Ended::Stopped(
                        self.env.control.reason().unwrap_or(StopReason::Shutdown),
                    ));
                    break;
                }
                _ = flush.tick() => self.flush(false).await?,
            }
        }
        let exit = proc.wait(KILL_GRACE).await;
        if phase == Phase::Ping {
            self.discovery_ran = true;
        }
        if stop.is_some() {
            return Ok(stop);
        }
        if !exit.success {
            let detail = if exit.stderr.is_empty() {
                format!("exit code {:?}", exit.code)
            } else {
                exit.stderr.lines().last().unwrap_or_default().to_owned()
            };
            return Ok(Some(Ended::Failed(format!(
                "nmap failed in the {} phase: {detail}",
                phase.as_str()
            ))));
        }
        if let Some(e) = parse_error {
            return Ok(Some(Ended::Failed(format!(
                "nmap output of the {} phase is unreadable: {e}",
                phase.as_str()
            ))));
        }
        let summary = match phase {
            Phase::Ping => format!("ping: {} hosts up", self.findings.hosts_up()),
            Phase::Tcp | Phase::Udp => format!(
                "{}: {} open ports so far",
                phase.as_str(),
                self.findings.open_ports()
            ),
            _ => format!("{}: done", phase.as_str()),
        };
        self.end_phase(summary).await?;
        Ok(None)
    }

    async fn start_phase(&mut self, phase: Phase) -> AppResult<()> {
        self.phase = phase.into();
        self.last_task = None;
        self.progress.start_phase(phase);
        self.flush(true).await
    }

    async fn end_phase(&mut self, summary: String) -> AppResult<()> {
        self.progress.end_phase();
        self.message = Some(summary);
        self.flush(true).await
    }

    /// Web services found open: every one, or (`answered`) those the HTTP probe got an answer
    /// from when it ran.
    fn web_targets(&self, answered: bool) -> Vec<http_probe::Target> {
        let mut out = Vec::new();
        for (ip, host) in &self.findings.hosts {
            for ((proto, port), p) in &host.ports {
                let Some(s) = p.service.as_ref() else {
                    continue;
                };
                if *proto != Protocol::Tcp || p.state != PortState::Open {
                    continue;
                }
                let Some(tls) = http_probe::web_service(s.name.as_deref(), s.tunnel.as_deref())
                else {
                    continue;
                };
                if answered && self.http_ran && s.http_status.is_none() {
                    continue;
                }
                out.push(http_probe::Target {
                    ip: *ip,
                    port: *port,
                    tls,
                });
            }
        }
        out
    }

    fn web_service_mut(&mut self, t: &http_probe::Target) -> Option<&mut NewService> {
        self.findings
            .hosts
            .get_mut(&t.ip)?
            .ports
            .get_mut(&(Protocol::Tcp, t.port))?
            .service
            .as_mut()
    }

    /// Waits for `work` unless the scan is stopped first.
    async fn unless_stopped<T>(&self, work: impl Future<Output = T>) -> Result<T, Ended> {
        tokio::select! {
            out = work => Ok(out),
            () = self.env.control.stopped() => Err(Ended::Stopped(
                self.env.control.reason().unwrap_or(StopReason::Shutdown),
            )),
        }
    }

    /// `GET /` on every web service: status, title, `Server`, redirect, time, certificate.
    async fn http_phase(&mut self) -> AppResult<Option<Ended>> {
        if let Some(reason) = self.env.control.reason() {
            return Ok(Some(Ended::Stopped(reason)));
        }
        let targets = self.web_targets(false);
        if targets.is_empty() {
            self.note("http phase skipped: no web service found".to_owned());
            return Ok(None);
        }
        self.start_phase(Phase::Http).await?;
        let web = &self.env.settings.scanner.web;
        let limits = http_probe::Limits {
            timeout: Duration::from_secs(web.http_timeout_secs.max(1)),
            concurrency: web.http_concurrency,
        };
        let answers = match self
            .unless_stopped(http_probe::probe_all(&targets, limits))
            .await
        {
            Ok(a) => a,
            Err(ended) => return Ok(Some(ended)),
        };
        self.http_ran = true;
        let mut answered = 0;
        for (t, a) in targets.iter().zip(answers) {
            if let Some(e) = &a.error {
                tracing::info!(scan_id = self.scan_id, url = %t.url(), error = %e, "no HTTP answer");
            }
            let Some(s) = self.web_service_mut(t) else {
                continue;
            };
            if a.status.is_some() {
                answered += 1;
            }
            s.http_status = a.status.map(i32::from);
            s.http_title = a.title;
            s.http_server = a.server;
            s.http_location = a.location;
            s.http_response_ms = a.response_ms;
            if s.certificate.is_none() {
                s.certificate = a.certificate;
            }
        }
        self.end_phase(format!(
            "http: {answered} of {} web services answered",
            targets.len()
        ))
        .await?;
        Ok(None)
    }

    /// Screenshots of the web pages (those that answered, when the HTTP probe ran).
    async fn screenshot_phase(&mut self) -> AppResult<Option<Ended>> {
        if let Some(reason) = self.env.control.reason() {
            return Ok(Some(Ended::Stopped(reason)));
        }
        let web = self.env.settings.scanner.web.clone();
        let Some(chromium) = screenshot::find_chromium(&web.chromium_path) else {
            self.note("screenshot phase skipped: Chromium is not installed".to_owned());
            return Ok(None);
        };
        let targets = self.web_targets(true);
        if targets.is_empty() {
            self.note("screenshot phase skipped: no web page answered".to_owned());
            return Ok(None);
        }
        self.start_phase(Phase::Screenshot).await?;
        let shooter = screenshot::Shooter {
            chromium,
            timeout: Duration::from_secs(web.screenshot_timeout_secs.max(1)),
            concurrency: web.screenshot_concurrency,
        };
        let relative = screenshot::relative_dir(self.scan_id);
        let dir = self.env.settings.data_dir.join(&relative);
        let shots = match self
            .unless_stopped(shooter.capture_all(&targets, &dir))
            .await
        {
            Ok(s) => s,
            Err(ended) => return Ok(Some(ended)),
        };
        let mut taken = 0;
        for (t, shot) in targets.iter().zip(shots) {
            match shot {
                Ok(_) => {
                    taken += 1;
                    let path = relative.join(screenshot::file_name(t));
                    if let Some(s) = self.web_service_mut(t) {
                        s.screenshot_path = Some(path.display().to_string());
                    }
                }
                Err(e) => {
                    tracing::info!(scan_id = self.scan_id, url = %t.url(), error = %e, "no screenshot");
                }
            }
        }
        self.end_phase(format!(
            "screenshot: {taken} of {} pages captured",
            targets.len()
        ))
        .await?;
        Ok(None)
    }

    fn on_event(&mut self, event: Event, status: HostStatusUse, services: ServiceUse) {
        match event {
            Event::Host(host) => {
                self.findings.add_host(&host, status, services);
                self.dirty = true;
            }
            Event::ScanInfo(info) => {
                if let Some(list) = &info.services
                    && let Err(e) = self.coverage.add(info.protocol.as_str(), list)
                {
                    tracing::warn!(scan_id = self.scan_id, error = %e, "nmap's scaninfo is not a port list");
                }
            }
            Event::TaskProgress(tp) => {
                // Without -v nmap reports no task ends: a new task name means the last ended.
                if self.last_task.as_ref().is_some_and(|t| *t != tp.task) {
                    self.progress.task_end();
                }
                self.last_task = Some(tp.task.clone());
                if let Some(pct) = tp.percent {
                    self.progress.task_progress(pct);
                }
                self.message = Some(format!(
                    "{}: {} {:.0}%",
                    self.phase,
                    tp.task,
                    tp.percent.unwrap_or(0.0)
                ));
                self.dirty = true;
            }
            Event::TaskEnd(_) => {
                self.progress.task_end();
                self.last_task = None;
                self.dirty = true;
            }
            _ => {}
        }
    }

    /// Reports progress (when anything changed, or `force`: a phase started or ended).
    async fn flush(&mut self, force: bool) -> AppResult<()> {
        if !force && !self.dirty {
            return Ok(());
        }
        self.dirty = false;
        let report = ProgressReport {
            phase: self.phase,
            percent: self.progress.percent(),
            message: self.message.clone(),
            hosts_up: i32::try_from(self.findings.hosts_up()).unwrap_or(i32::MAX),
            open_ports: i32::try_from(self.findings.open_ports()).unwrap_or(i32::MAX),
            command_lines: force.then(|| self.command_lines.clone()),
        };
        if !self.env.reporter.progress(report).await? {
            // Taken over by another worker, ended elsewhere or deleted: stop, write nothing.
            self.env.control.stop(StopReason::LeaseLost);
        }
        Ok(())
    }
}

/// Writes a phase's own target list (addresses found by earlier phases).
async fn write_list(dir: &Path, phase: Phase, ips: &[IpAddr]) -> AppResult<PathBuf> {
    let path = dir.join(format!("{}-targets.txt", phase.as_str()));
    let text: String = ips.iter().map(|ip| format!("{ip}\n")).collect();
    tokio::fs::write(&path, text)
        .await
        .map_err(AppError::internal)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(phases: &str) -> ScanConfig {
        scan_config::parse(&format!(
            "title: T\nsites:\n  - name: A\n    ips:\n      - address: 127.0.0.2\n      - address: 127.0.0.1\n    cidrs:\n      - cidr: 127.0.9.0/30\n  - name: B\n    ips:\n      - address: 127.0.0.1\nscan:\n  phases: [{phases}]\n"
        ))
        .expect("valid config")
    }

    #[test]
    fn plan_orders_phases_and_notes_what_cannot_run() {
        let plan = Plan::of(&config("screenshot, tcp, udp, ping, tls"), false);
        assert_eq!(
            plan.phases,
            vec![Phase::Ping, Phase::Tcp, Phase::Screenshot]
        );
        assert!(plan.tls);
        assert_eq!(
            plan.notes,
            vec![
                "udp phase skipped: UDP scans need root".to_owned(),
                "tls needs the service phase; not run".to_owned()
            ]
        );
        let as_root = Plan::of(&config("udp, service, tls"), true);
        assert_eq!(as_root.phases, vec![Phase::Udp, Phase::Service]);
        assert!(as_root.notes.is_empty());
    }

    #[test]
    fn target_lines_lists_each_target_once_in_order() {
        assert_eq!(
            target_lines(&config("tcp")),
            "127.0.0.1\n127.0.0.2\n127.0.9.0/30\n"
        );
    }
}
