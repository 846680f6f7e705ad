//! The server's side of remote agents. An agent dials in over a websocket (the HTTP layer
//! authenticates its token and turns frames into [`AgentMessage`]s); for as long as it is
//! connected, this process runs a job worker on the queue of the agent's pool whose jobs claim
//! their scan (the same claim as a worker's: global limit, leases, take-over) under the
//! agent's name and hand it to the agent. The runner tracks the run like one of its own: the
//! keeper renews its lease while the agent is connected and turns a cancel request into a
//! `Stop`; progress and the final result that the agent sends are stored under the run's
//! lease, exactly as a worker stores its own.
//!
//! When the connection drops, its runs are detached (their leases are no longer renewed) and
//! their jobs pushed again. An agent that reconnects within a lease (to any replica, or to
//! this server restarted) says which runs it still holds and they are adopted; otherwise the
//! lease lapses and the pushed job takes the scan over (another agent of the pool runs it
//! again from the start) or the reaper ends it INTERRUPTED after its attempts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use entity::agent;

use super::queue::{JobQueue, queue_of};
use super::runner::{Claim, JobControl, Runner, StopReason};
use super::scan::{self as job, Ended, RunReport};
use super::wire::{AgentMessage, HeldRun, ServerMessage};
use super::worker::{JobHandler, Spec, supervise};
use crate::domain::artifact;
use crate::domain::config as scan_config;
use crate::domain::status::ScanPhase;
use crate::service::agents;

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEnd {
    /// The agent went away (or this process is stopping).
    Closed,
    /// The agent was revoked while connected.
    Revoked,
}

/// Every agent connected to this process; cheap to clone.
#[derive(Clone)]
pub struct AgentHub {
    runner: Runner,
    /// Which connection holds each agent run here (an agent that reconnects before its old
    /// connection is noticed dead takes its runs along; the old one must then leave them).
    holders: Arc<Mutex<HashMap<i32, u64>>>,
    next_link: Arc<std::sync::atomic::AtomicU64>,
}

struct Link {
    id: u64,
    agent: agent::Model,
    /// What `Scan.worker` names.
    worker: String,
    out: mpsc::UnboundedSender<ServerMessage>,
    closed: CancellationToken,
    runs: Mutex<HashMap<i32, Arc<JobControl>>>,
}

impl Link {
    fn send(&self, message: ServerMessage) {
        // A closed connection has no one to tell; its runs are detached at teardown.
        let _ = self.out.send(message);
    }

    fn lock_runs(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Arc<JobControl>>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run of `scan_id` under `lease`, if this connection holds it.
    fn run(&self, scan_id: i32, lease: &str) -> Option<Arc<JobControl>> {
        self.lock_runs()
            .get(&scan_id)
            .filter(|c| c.lease() == lease)
            .cloned()
    }

    /// Holds a run; a stop request (cancel, lease lost) is passed on to the agent.
    fn attach(self: &Arc<Self>, scan_id: i32, control: Arc<JobControl>) {
        self.lock_runs().insert(scan_id, control.clone());
        let link = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = control.stopped() => {
                    if let Some(reason) = control.reason() {
                        link.send(ServerMessage::Stop { scan_id, reason });
                    }
                }
                () = control.finished() => {}
                () = link.closed.cancelled() => {}
            }
        });
    }
}

/// The job worker of one connection: its jobs claim scans for the agent.
#[derive(Clone)]
struct LinkJobs {
    hub: AgentHub,
    link: Arc<Link>,
}

impl JobHandler for LinkJobs {
    type Job = crate::jobs::queue::ScanJob;

    async fn run(&self, scan_id: i32, _attempt: usize) {
        self.hub.run_remote(&self.link, scan_id).await;
    }
}

impl AgentHub {
    pub fn new(runner: Runner) -> Self {
        Self {
            runner,
            holders: Arc::new(Mutex::new(HashMap::new())),
            next_link: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }

    fn lock_holders(&self) -> std::sync::MutexGuard<'_, HashMap<i32, u64>> {
        self.holders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `link` holds the run of `scan_id` from now on.
    fn attach(&self, link: &Arc<Link>, scan_id: i32, control: Arc<JobControl>) {
        self.lock_holders().insert(scan_id, link.id);
        link.attach(scan_id, control);
    }

    /// Every heartbeat: records offline the agents not seen for a lease (whichever replica
    /// they were connected to).
    pub fn start(&self) {
        let runner = self.runner.clone();
        tokio::spawn(crate::db::uncounted(async move {
            let every = runner.settings().jobs.heartbeat();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = runner.closing().cancelled() => return,
                }
                if let Err(e) = agents::mark_offline(runner.db(), runner.lease_ttl()).await {
                    tracing::warn!(error = ?e, "looking for offline agents failed");
                }
            }
        }));
    }

    /// Serves one connected agent until it goes away, is revoked, or this process stops.
    /// `incoming` yields what the agent sends (its `Hello` first); `out` what it is sent.
    pub async fn serve(
        &self,
        agent: agent::Model,
        mut incoming: mpsc::Receiver<AgentMessage>,
        out: mpsc::UnboundedSender<ServerMessage>,
    ) -> LinkEnd {
        let runner = &self.runner;
        let db = runner.db().clone();
        let heartbeat = runner.settings().jobs.heartbeat();
        let Ok(Some(AgentMessage::Hello {
            version,
            slots,
            held,
        })) = tokio::time::timeout(heartbeat * 2, incoming.recv()).await
        else {
            tracing::warn!(agent = %agent.name, "agent connection without a hello; closed");
            return LinkEnd::Closed;
        };
        if let Err(e) = agents::connected(&db, agent.id, &version).await {
            tracing::warn!(agent = %agent.name, error = ?e, "recording an agent's connection failed");
            return LinkEnd::Closed;
        }
        runner.ensure_keeper();
        let link = Arc::new(Link {
            id: self
                .next_link
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            worker: agents::worker_name(&agent.name),
            agent,
            out,
            closed: CancellationToken::new(),
            runs: Mutex::new(HashMap::new()),
        });
        tracing::info!(agent = %link.agent.name, pool = %link.agent.pool, %version, slots, held = held.len(), "agent connected");
        link.send(ServerMessage::Welcome {
            agent: link.agent.name.clone(),
            pool: link.agent.pool.clone(),
            heartbeat_secs: heartbeat.as_secs(),
        });
        self.adopt(&link, held).await;
        let jobs = supervise(
            runner.clone(),
            Spec {
                queue: JobQueue::new(
                    &db,
                    &runner.settings().jobs,
                    &queue_of(Some(&link.agent.pool)),
                ),
                name: format!(
                    "{}-{}",
                    link.worker,
                    &uuid::Uuid::new_v4().simple().to_string()[..6]
                ),
                concurrency: usize::try_from(slots.clamp(1, 64)).unwrap_or(1),
                handler: LinkJobs {
                    hub: self.clone(),
                    link: link.clone(),
                },
                wake: None,
            },
            link.closed.clone(),
        );
        let mut beat = tokio::time::interval(heartbeat);
        beat.tick().await;
        let end = loop {
            tokio::select! {
                message = incoming.recv() => match message {
                    Some(message) => self.on_message(&link, message).await,
                    None => break LinkEnd::Closed,
                },
                _ = beat.tick() => match agents::seen(&db, link.agent.id).await {
                    Ok(true) => {}
                    Ok(false) => break LinkEnd::Revoked,
                    Err(e) => tracing::warn!(agent = %link.agent.name, error = ?e, "recording an agent's heartbeat failed"),
                },
                () = runner.closing().cancelled() => break LinkEnd::Closed,
            }
        };
        self.teardown(&link).await;
        let _ = jobs.await;
        tracing::info!(agent = %link.agent.name, ?end, "agent disconnected");
        end
    }

    /// Adopts the runs an agent still holds after a reconnection; the others are dropped.
    async fn adopt(&self, link: &Arc<Link>, held: Vec<HeldRun>) {
        for HeldRun { scan_id, lease } in held {
            match self.runner.adopt(scan_id, &lease, &link.agent.name).await {
                Ok(Some(control)) => {
                    tracing::info!(agent = %link.agent.name, scan_id, "run adopted after a reconnection");
                    self.attach(link, scan_id, control);
                }
                Ok(None) => link.send(ServerMessage::Drop { scan_id }),
                Err(e) => {
                    tracing::warn!(scan_id, error = ?e, "adopting an agent's run failed");
                    link.send(ServerMessage::Drop { scan_id });
                }
            }
        }
    }

    /// The connection is gone: its runs are detached (their leases lapse unless the agent comes
    /// back) and their jobs pushed again, so that the scan is taken over if it does not.
    async fn teardown(&self, link: &Arc<Link>) {
        link.closed.cancel();
        let runs: Vec<(i32, Arc<JobControl>)> = link.lock_runs().drain().collect();
        for (scan_id, control) in runs {
            let mine = {
                let mut holders = self.lock_holders();
                let mine = holders.get(&scan_id) == Some(&link.id);
                if mine {
                    holders.remove(&scan_id);
                }
                mine
            };
            if mine {
                self.runner.detach(scan_id, &control);
                self.requeue(scan_id, &link.agent.pool).await;
            }
        }
    }

    async fn requeue(&self, scan_id: i32, pool: &str) {
        if let Err(e) = self.runner.push(scan_id, Some(pool)).await {
            tracing::warn!(scan_id, error = ?e, "could not push a scan's job again; a worker's sweep will");
            self.runner.give_back(scan_id).await;
        }
    }

    /// A job of the agent's pool: claim its scan for the agent and hand it over; return when
    /// the run has ended or the agent went away.
    async fn run_remote(&self, link: &Arc<Link>, scan_id: i32) {
        let runner = &self.runner;
        loop {
            if link.closed.is_cancelled() || runner.closing().is_cancelled() {
                // Not started here: somebody else (or this agent, back) takes the job.
                self.requeue(scan_id, &link.agent.pool).await;
                return;
            }
            match runner.claim(scan_id, &link.worker).await {
                Ok(Claim::Run(row)) => {
                    if row.phase == ScanPhase::Finishing.as_str() {
                        // Its results are stored: only the completion pipeline is left.
                        runner.finish_here(*row).await;
                        return;
                    }
                    let lease = row.lease.clone().unwrap_or_default();
                    tracing::info!(scan_id, run = row.attempt, agent = %link.agent.name, "scan claimed for an agent");
                    let control =
                        runner.track_remote(scan_id, &lease, &link.agent.name, row.parent_id);
                    runner.publish(&row);
                    self.attach(link, scan_id, control.clone());
                    link.send(ServerMessage::Run {
                        scan_id,
                        lease,
                        config_yaml: row.config_yaml.clone().unwrap_or_default(),
                        attempt: row.attempt,
                    });
                    tokio::select! {
                        () = control.finished() => {}
                        () = link.closed.cancelled() => {}
                    }
                    return;
                }
                Ok(Claim::Gone) => return,
                Ok(Claim::Wait) => {}
                Err(e) => {
                    tracing::error!(scan_id, error = ?e, "claiming a scan for an agent failed")
                }
            }
            tokio::select! {
                () = runner.slot_or_poll() => {}
                () = link.closed.cancelled() => {}
            }
        }
    }

    async fn on_message(&self, link: &Arc<Link>, message: AgentMessage) {
        match message {
            AgentMessage::Hello { .. } => {}
            AgentMessage::Progress {
                scan_id,
                lease,
                report,
            } => {
                let Some(control) = link.run(scan_id, &lease) else {
                    return;
                };
                match job::store_progress(
                    self.runner.db(),
                    self.runner.bus(),
                    scan_id,
                    &lease,
                    control.parent(),
                    report,
                )
                .await
                {
                    Ok(true) => {}
                    Ok(false) => control.stop(StopReason::LeaseLost),
                    Err(e) => {
                        tracing::warn!(scan_id, error = ?e, "storing an agent's progress failed")
                    }
                }
            }
            AgentMessage::Finished {
                scan_id,
                lease,
                report,
            } => {
                let Some(control) = link.run(scan_id, &lease) else {
                    // Not (or no longer) this run's scan: nothing is stored.
                    tracing::warn!(scan_id, agent = %link.agent.name, "result of a run that lost its scan; refused");
                    link.send(ServerMessage::Stored { scan_id });
                    return;
                };
                link.lock_runs().remove(&scan_id);
                self.lock_holders().remove(&scan_id);
                let hub = self.clone();
                let link = link.clone();
                self.runner.spawn_tracked(async move {
                    hub.store(&link, scan_id, control, report).await;
                    link.send(ServerMessage::Stored { scan_id });
                });
            }
        }
    }

    /// Stores the result an agent sent, under the run's lease, as a worker stores its own.
    async fn store(
        &self,
        link: &Link,
        scan_id: i32,
        control: Arc<JobControl>,
        mut report: RunReport,
    ) {
        let runner = &self.runner;
        if let Ended::Stopped(_) = report.ended
            && let Some(reason) = control.reason()
        {
            // Why it stopped is known here (a cancel request names who asked).
            report.ended = Ended::Stopped(reason);
        }
        let config = scan_config_of(runner, scan_id).await;
        if let Err(reason) = check_report(config.as_ref(), scan_id, &mut report) {
            tracing::warn!(scan_id, agent = %link.agent.name, %reason, "an agent's result was refused");
            report = RunReport {
                ended: Ended::Failed(format!(
                    "the result sent by agent {} was refused: {reason}",
                    link.agent.name
                )),
                sites: Vec::new(),
                message: None,
                artifacts: Vec::new(),
                coverage: Default::default(),
            };
        }
        let parent = job::store(&runner.job_context(control.clone()), scan_id, report).await;
        runner.untrack(scan_id, &control);
        if let Some(parent) = parent {
            runner.merge_chunks(parent).await;
        }
    }
}

async fn scan_config_of(runner: &Runner, scan_id: i32) -> Option<scan_config::ScanConfig> {
    use sea_orm::EntityTrait;
    let row = entity::scan::Entity::find_by_id(scan_id)
        .one(runner.db())
        .await
        .ok()
        .flatten()?;
    scan_config::parse(row.config_yaml.as_deref()?).ok()
}

/// What an agent sends is checked like any input: every address must be one of the scan's
/// targets, every file one of this scan's (raw XML of a phase, gzip; a PNG screenshot under
/// `screenshots/<scan id>/`), size-capped; a service naming a screenshot that was not sent
/// loses the name.
fn check_report(
    config: Option<&scan_config::ScanConfig>,
    scan_id: i32,
    report: &mut RunReport,
) -> Result<(), String> {
    let targets: Vec<&scan_config::Target> = config
        .map(|c| {
            c.sites
                .iter()
                .flat_map(|s| &s.targets)
                .map(|t| &t.target)
                .collect()
        })
        .unwrap_or_default();
    artifact::check_all(scan_id, &report.artifacts)?;
    let artifacts = &report.artifacts;
    for site in &mut report.sites {
        for ip in &mut site.ips {
            let Ok(address) = ip.address.parse::<IpAddr>() else {
                return Err(format!("{:?} is not an IP address", ip.address));
            };
            if !targets.iter().any(|t| t.contains(&address)) {
                return Err(format!("{address} is not a target of this scan"));
            }
            for port in &mut ip.ports {
                if let Some(service) = &mut port.service
                    && let Some(path) = &service.screenshot_path
                    && !artifacts.iter().any(|a| &a.name == path)
                {
                    service.screenshot_path = None;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tree::{NewIp, NewPort, NewService, NewSite};

    fn report(address: &str, shot: Option<&str>) -> RunReport {
        RunReport {
            ended: Ended::Completed,
            sites: vec![NewSite {
                name: "Lab".into(),
                ips: vec![NewIp {
                    address: address.into(),
                    hostname: None,
                    status: "up".into(),
                    ping_expected: None,
                    ping_actual: Some(true),
                    ports: vec![NewPort {
                        port: 80,
                        protocol: "tcp".into(),
                        state: "open".into(),
                        reason: None,
                        expected: false,
                        unexpected: false,
                        service: Some(NewService {
                            screenshot_path: shot.map(str::to_owned),
                            ..Default::default()
                        }),
                    }],
                }],
            }],
            message: None,
            artifacts: Vec::new(),
            coverage: Default::default(),
        }
    }

    #[test]
    fn an_agents_result_may_name_only_the_scans_targets_and_screenshots() {
        let config = scan_config::parse(
            "title: t\nsites:\n  - name: Lab\n    agent_pool: lab\n    cidrs:\n      - cidr: 198.18.1.0/30\n",
        )
        .expect("config");
        let mut ok = report("198.18.1.2", Some("screenshots/5/198.18.1.2_80.png"));
        assert_eq!(check_report(Some(&config), 5, &mut ok), Ok(()));
        // A screenshot that was not sent is not named.
        assert_eq!(
            ok.sites[0].ips[0].ports[0]
                .service
                .as_ref()
                .and_then(|s| s.screenshot_path.clone()),
            None
        );

        let mut outside = report("127.0.0.1", None);
        assert!(check_report(Some(&config), 5, &mut outside).is_err());
        let mut garbage = report("not-an-ip", None);
        assert!(check_report(Some(&config), 5, &mut garbage).is_err());
        let shot = |name: &str| artifact::Artifact {
            name: name.into(),
            content: b"\x89PNG\r\n\x1a\n".to_vec(),
        };
        let mut fine = report("198.18.1.2", Some("screenshots/5/198.18.1.2_80.png"));
        fine.artifacts = vec![shot("screenshots/5/198.18.1.2_80.png")];
        assert!(check_report(Some(&config), 5, &mut fine).is_ok());
        assert!(
            fine.sites[0].ips[0].ports[0]
                .service
                .as_ref()
                .is_some_and(|s| s.screenshot_path.is_some()),
            "a screenshot sent keeps its name"
        );
        for bad in [
            "screenshots/6/a.png",
            "screenshots/5/../../etc/passwd",
            "/etc/screenshots/5/a.png",
            "screenshots/5/a.exe",
            "screenshots/5/sub/a.png",
            "nmap/ping.xml",
        ] {
            fine.artifacts = vec![shot(bad)];
            assert!(check_report(Some(&config), 5, &mut fine).is_err(), "{bad}");
        }
    }
}
