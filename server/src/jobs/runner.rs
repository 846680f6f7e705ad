//! The job runner of one process. Scans are jobs on the job engine (apalis: [`super::queue`],
//! [`super::worker`]); the scan row holds the truth about a scan, and its lease says who runs
//! it. Every process queues and cancels; a process with a worker also runs scans:
//!
//! - a job claims its scan in one write transaction that also checks the global limit
//!   (`maxConcurrentScans`, counted over every process), or takes over a RUNNING scan whose
//!   lease lapsed (its worker died: the job engine re-queued the job) and runs it again from
//!   the start — nothing of the lost run was stored, so nothing is lost or stored twice;
//! - every write of a run is conditional on its lease (a fencing token): a run that lost its
//!   lease stops its nmap and writes nothing;
//! - the keeper renews this process' leases every heartbeat and honours cancel requests,
//!   which it reads every second (a cancel on another replica stops nmap within 2 s);
//! - the reaper marks INTERRUPTED a scan whose lease lapsed long ago with nobody to take it
//!   over (its job ran out of attempts), and deletes imports whose process died; the sweep
//!   pushes the job of a QUEUED scan that has none (the process died between storing the
//!   scan and pushing its job, or gave the job back at shutdown).
//! - chunks (`service::chunks`) are scans of their own for all of this — a parent running its
//!   chunks (phase `chunks`) has no job, takes no slot and is never reaped; the process that
//!   stores a parent's last chunk merges them ([`Runner::merge_chunks`]) and runs the parent's
//!   completion pipeline under a lease of its own; the sweep merges parents whose last chunk's
//!   process stopped first, and pushes a job for a merged parent whose completion was lost,
//!   which a live worker takes over.
//!
//! A graceful shutdown stops this process' scans: they end INTERRUPTED (the operator stopped
//! the server); a crash (kill -9, power) leaves them to be taken over by a live worker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect,
};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use entity::scan;

use super::queue::JobQueue;
use super::scan as job;
use crate::config::Settings;
use crate::domain::auth::{Actor, Role};
use crate::domain::status::{ScanPhase, ScanStatus};
use crate::error::{AppError, AppResult};
use crate::events::{EventBus, ScanEvent};
use crate::service::chunks::{self, Merge};
use crate::service::results;
use crate::service::retention;
use crate::service::scans;
use crate::service::settings;
use crate::service::workers;

/// How often the keeper reads cancel requests and lease changes of this process' scans.
const KEEP_EVERY: Duration = Duration::from_secs(1);
/// How long a job waits before it looks for a free slot again (a slot freed in this process
/// wakes it at once).
const SLOT_POLL: Duration = Duration::from_secs(1);
/// A QUEUED scan without a job is pushed again once it is this old.
const SWEEP_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// Key of the PostgreSQL advisory lock that serialises claims (the global limit).
const CLAIM_LOCK: i64 = 0x5C4E_0001;

/// Why a running scan is asked to stop.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StopReason {
    Cancelled {
        by: String,
    },
    Shutdown,
    /// The agent running the scan is stopping.
    AgentShutdown {
        agent: String,
    },
    /// Another worker took the scan over (or it was deleted): this run writes nothing more.
    LeaseLost,
}

/// The handle of one running scan.
#[derive(Debug)]
pub struct JobControl {
    lease: String,
    /// The agent running it, when it runs on an agent (this process only relays it).
    agent: Option<String>,
    /// The scan a chunk belongs to (its progress is shown there).
    parent: Option<i32>,
    stop: CancellationToken,
    reason: Mutex<Option<StopReason>>,
    done: CancellationToken,
}

impl JobControl {
    pub fn new(lease: String) -> Self {
        Self::of(lease, None)
    }

    fn of(lease: String, agent: Option<String>) -> Self {
        Self {
            lease,
            agent,
            parent: None,
            stop: CancellationToken::new(),
            reason: Mutex::new(None),
            done: CancellationToken::new(),
        }
    }

    /// The fencing token of this run.
    pub fn lease(&self) -> &str {
        &self.lease
    }

    /// The agent running it, when it runs on an agent.
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    /// The run of a chunk of scan `parent` (`None`: of a scan of its own).
    #[must_use]
    pub fn of_chunk_of(mut self, parent: Option<i32>) -> Self {
        self.parent = parent;
        self
    }

    /// The scan a chunk belongs to.
    pub fn parent(&self) -> Option<i32> {
        self.parent
    }

    /// Marks the run ended (its outcome is stored, or it was handed off).
    fn end(&self) {
        self.done.cancel();
    }

    pub fn stop(&self, reason: StopReason) {
        let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some(reason);
        }
        drop(r);
        self.stop.cancel();
    }

    /// Resolves when a stop was requested.
    pub async fn stopped(&self) {
        self.stop.cancelled().await;
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Resolves when the job has stored its outcome.
    pub async fn finished(&self) {
        self.done.cancelled().await;
    }
}

struct Inner {
    db: DatabaseConnection,
    bus: EventBus,
    settings: Arc<Settings>,
    queue: JobQueue,
    /// This process as a worker: its name (host, pid and a random part: unique per process).
    me: workers::Registration,
    /// Whether this process runs a worker (registered, seen every heartbeat).
    working: std::sync::atomic::AtomicBool,
    jobs: Mutex<HashMap<i32, Arc<JobControl>>>,
    /// Runs of scans (they outlive the job handler that started them).
    tracker: TaskTracker,
    /// Set at shutdown: take no more work.
    closing: CancellationToken,
    /// Set when every run has ended: the keeper stops renewing leases and the job worker
    /// stops (not before: its shutdown writes to the database, and the runs' last writes come
    /// first).
    stopped: CancellationToken,
    /// A run ended or the settings changed: waiting jobs look for a slot.
    slots: Notify,
    /// The job worker of this process, when it has one.
    worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Whether the keeper runs (it starts with the worker or the first agent's run).
    keeping: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

/// What a job found when it tried to claim its scan.
pub(crate) enum Claim {
    Run(Box<scan::Model>),
    /// No free slot, or the scan runs elsewhere under a live lease: look again later.
    Wait,
    /// Ended, cancelled or deleted: nothing to do.
    Gone,
}

/// What a job can do with its scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// QUEUED, and a slot is free.
    Start,
    /// RUNNING under a lapsed lease (its worker is gone), with runs left.
    TakeOver,
    /// No free slot, or the scan runs elsewhere under a live lease.
    Wait,
    /// Ended, deleted, or lost too often (the reaper ends it INTERRUPTED).
    Gone,
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    /// `maxConcurrentScans`, over every process.
    max_running: u32,
    /// `jobs.max_attempts`: runs of one scan.
    max_runs: u32,
}

/// The claim rule, from the scan's row and, for a QUEUED scan, the slots taken: the scans
/// running now plus the older QUEUED scans of its pool (first in, first out: a newer scan never
/// takes the slot an older one is waiting for).
fn decide(
    row: Option<&scan::Model>,
    taken: u64,
    limits: Limits,
    now: chrono::DateTime<Utc>,
) -> Decision {
    let Some(row) = row else {
        return Decision::Gone;
    };
    match ScanStatus::parse(&row.status) {
        Some(ScanStatus::Queued) if taken < u64::from(limits.max_running) => Decision::Start,
        Some(ScanStatus::Queued) => Decision::Wait,
        // Its chunks are the jobs.
        Some(ScanStatus::Running) if row.phase == ScanPhase::Chunks.as_str() => Decision::Gone,
        Some(ScanStatus::Running)
            if row.phase != ScanPhase::Importing.as_str()
                && row.lease_until.is_none_or(|until| until < now) =>
        {
            if u32::try_from(row.attempt).unwrap_or(0) >= limits.max_runs {
                Decision::Gone
            } else {
                Decision::TakeOver
            }
        }
        Some(ScanStatus::Running) => Decision::Wait,
        _ => Decision::Gone,
    }
}

impl Runner {
    pub fn new(
        db: DatabaseConnection,
        bus: EventBus,
        settings: Arc<Settings>,
        queue: JobQueue,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                bus,
                settings,
                queue,
                me: registration(),
                working: std::sync::atomic::AtomicBool::new(false),
                jobs: Mutex::new(HashMap::new()),
                tracker: TaskTracker::new(),
                closing: CancellationToken::new(),
                stopped: CancellationToken::new(),
                slots: Notify::new(),
                worker: Mutex::new(None),
                keeping: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// This process' worker name.
    pub fn name(&self) -> &str {
        &self.inner.me.name
    }

    /// How long a lease lasts (a worker not seen for this long is offline).
    pub fn lease_ttl(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.inner.settings.jobs.lease_ttl())
            .unwrap_or(chrono::TimeDelta::seconds(15))
    }

    pub fn queue(&self) -> &JobQueue {
        &self.inner.queue
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn bus(&self) -> &EventBus {
        &self.inner.bus
    }

    /// Publishes a newly started scan and pushes its job (a chunked scan: its chunks' jobs).
    /// A failed push is logged, not returned: the scan is stored, and a worker's sweep pushes
    /// its job later.
    pub async fn enqueue(&self, started: &scans::Started) {
        self.publish(&started.scan);
        let runs = if started.chunks.is_empty() {
            std::slice::from_ref(&started.scan)
        } else {
            started.chunks.as_slice()
        };
        for run in runs {
            if let Err(e) = self.push(run.id, run.pool.as_deref()).await {
                tracing::warn!(scan_id = run.id, error = ?e, "could not push the scan's job; the sweep will");
            }
        }
    }

    /// Pushes the job of a scan to the workers' queue, or to its agent pool's.
    pub(crate) async fn push(&self, scan_id: i32, pool: Option<&str>) -> AppResult<()> {
        let attempts = self.inner.settings.jobs.max_attempts;
        match pool {
            None => self.inner.queue.push(scan_id, attempts).await?,
            Some(pool) => {
                JobQueue::new(
                    &self.inner.db,
                    &self.inner.settings.jobs,
                    &super::queue::queue_of(Some(pool)),
                )
                .push(scan_id, attempts)
                .await?
            }
        }
        scan::Entity::update_many()
            .col_expr(scan::Column::JobPushedAt, Expr::value(Utc::now()))
            .filter(scan::Column::Id.eq(scan_id))
            .exec(&self.inner.db)
            .await?;
        self.inner.bus.job_pushed();
        Ok(())
    }

    /// The settings changed (maybe more slots): waiting jobs look again.
    pub fn wake(&self) {
        self.inner.slots.notify_waiters();
    }

    /// Publishes a scan row's current state.
    /// (A chunk's own row is never published: its parent shows its progress.)
    pub fn publish(&self, row: &scan::Model) {
        if row.parent_id.is_some() {
            return;
        }
        self.inner.bus.publish(ScanEvent::from_row(row));
    }

    /// The running job of a scan in this process, if any.
    pub fn job(&self, scan_id: i32) -> Option<Arc<JobControl>> {
        self.lock_jobs().get(&scan_id).cloned()
    }

    pub fn running(&self) -> usize {
        self.lock_jobs().len()
    }

    /// Starts this process' side of running scans: kills nmap processes left by a dead
    /// process on this machine, then the keeper, the reaper and sweep, and the job worker.
    pub async fn start_worker(&self) -> AppResult<()> {
        workers::register(&self.inner.db, &self.inner.me).await?;
        self.inner
            .working
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.reap_local_orphans().await?;
        // Before taking work: scans that never had a lease (left RUNNING by a version before
        // leases) end INTERRUPTED, and queued scans without a job get one. Scans with a lease
        // are left to the job engine, which re-queues the jobs of dead workers at this
        // worker's first heartbeat; the periodic reaper starts after that.
        self.reap(true).await?;
        self.sweep().await?;
        self.ensure_keeper();
        let runner = self.clone();
        tokio::spawn(crate::db::uncounted(
            async move { runner.housekeeping().await },
        ));
        let worker = super::worker::spawn(self.clone(), self.inner.stopped.clone());
        *self.inner.worker.lock().unwrap_or_else(|e| e.into_inner()) = Some(worker);
        tracing::info!(worker = %self.inner.me.name, "scan worker started");
        Ok(())
    }

    /// Starts the keeper once (renews this process' leases, honours cancel requests).
    pub fn ensure_keeper(&self) {
        if !self
            .inner
            .keeping
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            let runner = self.clone();
            tokio::spawn(crate::db::uncounted(async move { runner.keep().await }));
        }
    }

    /// Stops taking work, stops every scan running here (they end INTERRUPTED) and waits for
    /// them, at most `scanner.shutdown_grace_secs`. Scans that agents run go on: their leases
    /// lapse unless the agent reconnects (to another replica, or to this server restarted).
    pub async fn shutdown(&self) {
        self.inner.closing.cancel();
        self.inner.slots.notify_waiters();
        let jobs: Vec<_> = self.lock_jobs().values().cloned().collect();
        for job in jobs.iter().filter(|j| j.agent().is_none()) {
            job.stop(StopReason::Shutdown);
        }
        self.inner.tracker.close();
        let grace = Duration::from_secs(self.inner.settings.scanner.shutdown_grace_secs);
        if tokio::time::timeout(grace, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("scans did not stop within the shutdown grace period");
        }
        self.inner.stopped.cancel();
        if self
            .inner
            .working
            .load(std::sync::atomic::Ordering::Relaxed)
            && let Err(e) = workers::stopped(&self.inner.db, &self.inner.me.name).await
        {
            tracing::warn!(error = ?e, "could not record this worker's stop");
        }
        // The job worker acknowledges its last jobs before the database closes.
        let worker = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(worker) = worker
            && tokio::time::timeout(Duration::from_secs(5), worker)
                .await
                .is_err()
        {
            tracing::warn!("the job worker did not stop in time");
        }
    }

    fn scans_dir(&self) -> std::path::PathBuf {
        job::scans_dir(&self.inner.settings.data_dir)
    }

    fn lock_jobs(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Arc<JobControl>>> {
        self.inner.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The body of a scan job: claim the scan (waiting for a slot), run it, return when it
    /// has ended. A job that finds its scan ended or deleted does nothing, so a job pushed
    /// twice runs its scan once.
    pub async fn run_job(&self, scan_id: i32, attempt: usize) {
        loop {
            if let Some(job) = self.job(scan_id) {
                // Ours already (a job re-queued while this process still runs the scan).
                job.finished().await;
                return;
            }
            if self.inner.closing.is_cancelled() {
                self.give_back(scan_id).await;
                return;
            }
            match self.claim(scan_id, &self.inner.me.name).await {
                Ok(Claim::Run(row)) => {
                    tracing::info!(scan_id, attempt, run = row.attempt, worker = %self.inner.me.name, "scan claimed");
                    let control = self.spawn_run(*row).await;
                    control.finished().await;
                    return;
                }
                Ok(Claim::Gone) => return,
                Ok(Claim::Wait) => {}
                Err(e) => tracing::error!(scan_id, error = ?e, "claiming a scan failed"),
            }
            self.slot_or_poll().await;
        }
    }

    /// A job given up at shutdown before its scan started: the scan stays QUEUED and the
    /// sweep of a live worker pushes it again.
    pub(crate) async fn give_back(&self, scan_id: i32) {
        let given = scan::Entity::update_many()
            .col_expr(
                scan::Column::JobPushedAt,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(scan::Column::Id.eq(scan_id))
            .filter(scan::Column::Status.eq(ScanStatus::Queued.as_str()))
            .exec(&self.inner.db)
            .await;
        if let Err(e) = given {
            tracing::warn!(scan_id, error = ?e, "could not give a queued scan's job back");
        }
    }

    /// Claims a QUEUED scan when the global limit allows, or takes over a RUNNING one whose
    /// lease lapsed — in one write transaction (on PostgreSQL under an advisory lock, so two
    /// processes never both take the last slot). A read comes first, so a job that waits for a
    /// slot takes no write lock.
    pub(crate) async fn claim(&self, scan_id: i32, worker: &str) -> AppResult<Claim> {
        let db = &self.inner.db;
        let max = settings::load(db).await?.max_concurrent_scans;
        match self.look(db, scan_id, max).await?.0 {
            Decision::Wait => return Ok(Claim::Wait),
            Decision::Gone => return Ok(Claim::Gone),
            Decision::Start | Decision::TakeOver => {}
        }
        let txn = crate::db::begin_write(db).await?;
        crate::db::advisory_lock(&txn, &[CLAIM_LOCK]).await?;
        let (decision, row) = self.look(&txn, scan_id, max).await?;
        let row = match (decision, row) {
            (Decision::Start | Decision::TakeOver, Some(row)) => row,
            (Decision::Wait, _) => return Ok(Claim::Wait),
            _ => return Ok(Claim::Gone),
        };
        let now = Utc::now();
        let lease = uuid::Uuid::new_v4().to_string();
        let mut update = scan::Entity::update_many()
            .col_expr(scan::Column::Worker, Expr::value(worker.to_owned()))
            .col_expr(scan::Column::Lease, Expr::value(lease))
            .col_expr(
                scan::Column::LeaseUntil,
                Expr::value(now + self.lease_ttl()),
            )
            .col_expr(
                scan::Column::Attempt,
                Expr::col(scan::Column::Attempt).add(1),
            )
            .filter(scan::Column::Id.eq(scan_id));
        if decision == Decision::Start {
            update = update
                .col_expr(
                    scan::Column::Status,
                    Expr::value(ScanStatus::Running.as_str()),
                )
                .col_expr(
                    scan::Column::Phase,
                    Expr::value(ScanPhase::Starting.as_str()),
                )
                .col_expr(scan::Column::StartedAt, Expr::value(now))
                .filter(scan::Column::Status.eq(ScanStatus::Queued.as_str()));
        } else {
            let lost = row.worker.as_deref().unwrap_or("its worker");
            update = update
                .col_expr(
                    scan::Column::Message,
                    Expr::value(format!(
                        "run {} on {worker}: {lost} stopped answering",
                        row.attempt + 1,
                    )),
                )
                .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()));
            update = match &row.lease {
                Some(old) => update.filter(scan::Column::Lease.eq(old.clone())),
                None => update.filter(scan::Column::Lease.is_null()),
            };
            if row.phase != ScanPhase::Finishing.as_str() {
                // Run again from the start: the lost run stored nothing.
                update = update
                    .col_expr(
                        scan::Column::Phase,
                        Expr::value(ScanPhase::Starting.as_str()),
                    )
                    .col_expr(scan::Column::Percent, Expr::value(0.0))
                    .col_expr(scan::Column::HostsUp, Expr::value(0))
                    .col_expr(scan::Column::OpenPorts, Expr::value(0));
            }
        }
        if update.exec(&txn).await?.rows_affected == 0 {
            return Ok(Claim::Wait);
        }
        let row = scan::Entity::find_by_id(scan_id)
            .one(&txn)
            .await?
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("claimed scan {scan_id} vanished"))
            })?;
        txn.commit().await?;
        Ok(Claim::Run(Box::new(row)))
    }

    /// The scan's row and what a job can do with it now (the slots taken are counted only for
    /// a QUEUED one).
    async fn look<C: ConnectionTrait>(
        &self,
        conn: &C,
        scan_id: i32,
        max: u32,
    ) -> AppResult<(Decision, Option<scan::Model>)> {
        let row = scan::Entity::find_by_id(scan_id).one(conn).await?;
        let taken = match &row {
            Some(r) if r.status == ScanStatus::Queued.as_str() => {
                // Running scans, and the older QUEUED scans of its pool: one count.
                let running = Condition::all()
                    .add(scan::Column::Status.eq(ScanStatus::Running.as_str()))
                    .add(
                        scan::Column::Phase
                            .is_not_in([ScanPhase::Importing.as_str(), ScanPhase::Chunks.as_str()]),
                    );
                let older = Condition::all()
                    .add(scan::Column::Status.eq(ScanStatus::Queued.as_str()))
                    .add(scan::Column::Id.lt(r.id))
                    .add(match &r.pool {
                        Some(pool) => scan::Column::Pool.eq(pool.clone()),
                        None => scan::Column::Pool.is_null(),
                    });
                scan::Entity::find()
                    .filter(Condition::any().add(running).add(older))
                    .count(conn)
                    .await?
            }
            _ => 0,
        };
        let limits = Limits {
            max_running: max,
            max_runs: self.inner.settings.jobs.max_attempts,
        };
        Ok((decide(row.as_ref(), taken, limits, Utc::now()), row))
    }

    /// Runs a claimed scan on this process' tracker (the run outlives the job handler that
    /// started it: a job engine hiccup never kills a scan).
    async fn spawn_run(&self, row: scan::Model) -> Arc<JobControl> {
        let control = Arc::new(
            JobControl::new(row.lease.clone().unwrap_or_default()).of_chunk_of(row.parent_id),
        );
        self.lock_jobs().insert(row.id, control.clone());
        self.publish(&row);
        if row.attempt > 1 {
            // Taken over: an nmap of the lost run may still be alive on this machine.
            let id = row.id;
            let dir = self.scans_dir();
            let _ = tokio::task::spawn_blocking(move || {
                crate::scanner::process::reap_orphans(&dir, |scan| scan == id)
            })
            .await;
        }
        let runner = self.clone();
        let run = control.clone();
        self.inner.tracker.spawn(async move {
            let id = row.id;
            let ctx = runner.job_context(run.clone());
            let parent = if row.phase == ScanPhase::Finishing.as_str() {
                job::complete_taken_over(ctx, row).await;
                None
            } else {
                job::run(ctx, row).await
            };
            runner.lock_jobs().remove(&id);
            run.end();
            runner.inner.slots.notify_waiters();
            if let Some(parent) = parent {
                runner.merge_chunks(parent).await;
            }
        });
        control
    }

    /// What a run of this process stores its outcome with (under `control`'s lease).
    pub(crate) fn job_context(&self, control: Arc<JobControl>) -> job::JobContext {
        job::JobContext {
            db: self.inner.db.clone(),
            bus: self.inner.bus.clone(),
            settings: self.inner.settings.clone(),
            control,
        }
    }

    /// Merges the chunks of `parent_id` if they have all ended (`service::chunks::merge`), then
    /// runs its completion pipeline here, under a lease of this process that the keeper
    /// renews; publishes the parent (its progress, when chunks are still running). Once per
    /// parent at a time in this process; other processes are kept out by the merge itself.
    pub(crate) async fn merge_chunks(&self, parent_id: i32) {
        let lease = uuid::Uuid::new_v4().to_string();
        let control = Arc::new(JobControl::new(lease.clone()));
        {
            let mut jobs = self.lock_jobs();
            if jobs.contains_key(&parent_id) {
                return;
            }
            jobs.insert(parent_id, control.clone());
        }
        let until = Utc::now() + self.lease_ttl();
        let merged = chunks::merge(
            &self.inner.db,
            parent_id,
            &self.inner.me.name,
            &lease,
            until,
        )
        .await;
        match merged {
            Ok(Merge::Finishing(row)) => {
                tracing::info!(
                    scan_id = parent_id,
                    chunks = row.chunk_count,
                    "chunks merged"
                );
                self.publish(&row);
                job::complete_taken_over(self.job_context(control.clone()), row).await;
            }
            Ok(Merge::Ended(row)) => {
                tracing::info!(scan_id = parent_id, status = %row.status, "chunks merged; the scan ended");
                crate::service::alerts::on_scan_ended(&self.inner.db, &row).await;
                self.publish(&row);
            }
            Ok(Merge::Waiting(Some(row))) => self.publish(&row),
            Ok(Merge::Waiting(None) | Merge::Gone) => {}
            Err(e) => {
                tracing::error!(scan_id = parent_id, error = ?e, "merging the chunks failed; the sweep tries again");
            }
        }
        self.detach(parent_id, &control);
        control.end();
    }

    /// Runs a claimed scan whose results are stored (phase `finishing`) here: only the
    /// completion pipeline is left, whoever claimed it.
    pub(crate) async fn finish_here(&self, row: scan::Model) {
        self.spawn_run(row).await.finished().await;
    }

    /// Tracks a run that an agent performs under `lease`: the keeper renews its lease and
    /// stops it on a cancel request, like a run of this process.
    pub(crate) fn track_remote(
        &self,
        scan_id: i32,
        lease: &str,
        agent: &str,
        parent: Option<i32>,
    ) -> Arc<JobControl> {
        let control =
            Arc::new(JobControl::of(lease.to_owned(), Some(agent.to_owned())).of_chunk_of(parent));
        self.lock_jobs().insert(scan_id, control.clone());
        control
    }

    /// Adopts a run an agent still holds after reconnecting: tracked again (and its lease
    /// renewed) when the lease is still the scan's; `None` when it is not (taken over, ended,
    /// deleted).
    pub(crate) async fn adopt(
        &self,
        scan_id: i32,
        lease: &str,
        agent: &str,
    ) -> AppResult<Option<Arc<JobControl>>> {
        if let Some(job) = self.job(scan_id) {
            return Ok((job.lease() == lease).then_some(job));
        }
        let renewed = scan::Entity::update_many()
            .col_expr(
                scan::Column::LeaseUntil,
                Expr::value(Utc::now() + self.lease_ttl()),
            )
            .filter(scan::Column::Id.eq(scan_id))
            .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
            .filter(scan::Column::Lease.eq(lease))
            .exec_with_returning(&self.inner.db)
            .await?;
        Ok(renewed
            .first()
            .map(|row| self.track_remote(scan_id, lease, agent, row.parent_id)))
    }

    /// An agent's run ended (its outcome stored, or refused): no longer tracked.
    pub(crate) fn untrack(&self, scan_id: i32, control: &Arc<JobControl>) {
        self.detach(scan_id, control);
        control.end();
        self.inner.slots.notify_waiters();
    }

    /// The agent running it went away: stop renewing its lease (it lapses unless the agent
    /// comes back and is adopted) and write nothing.
    pub(crate) fn detach(&self, scan_id: i32, control: &Arc<JobControl>) {
        let mut jobs = self.lock_jobs();
        if jobs.get(&scan_id).is_some_and(|j| Arc::ptr_eq(j, control)) {
            jobs.remove(&scan_id);
        }
    }

    /// Whether this process is shutting down.
    pub fn closing(&self) -> &CancellationToken {
        &self.inner.closing
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// Runs `work` on this process' tracker (shutdown waits for it).
    pub(crate) fn spawn_tracked(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.inner.tracker.spawn(work);
    }

    /// Waits for a slot to be freed here, the poll interval, or shutdown.
    pub(crate) async fn slot_or_poll(&self) {
        tokio::select! {
            () = self.inner.slots.notified() => {}
            () = tokio::time::sleep(SLOT_POLL) => {}
            () = self.inner.closing.cancelled() => {}
        }
    }

    /// Every second: stops runs whose scan was cancelled (a request, from any process) or
    /// taken over; every heartbeat: renews the leases of this process' runs.
    async fn keep(&self) {
        let heartbeat = self.inner.settings.jobs.heartbeat();
        let mut renewed = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(KEEP_EVERY) => {}
                () = self.inner.stopped.cancelled() => return,
            }
            let jobs: Vec<(i32, Arc<JobControl>)> = self
                .lock_jobs()
                .iter()
                .map(|(id, job)| (*id, job.clone()))
                .collect();
            if !jobs.is_empty()
                && let Err(e) = self.check(&jobs).await
            {
                tracing::warn!(error = ?e, "checking this process' scans failed");
            }
            if renewed.elapsed() >= heartbeat {
                let seen = if self
                    .inner
                    .working
                    .load(std::sync::atomic::Ordering::Relaxed)
                {
                    workers::seen(&self.inner.db, &self.inner.me.name).await
                } else {
                    Ok(())
                };
                let renewed_leases = if jobs.is_empty() {
                    Ok(())
                } else {
                    self.renew(&jobs).await
                };
                match seen.and(renewed_leases) {
                    Ok(()) => renewed = Instant::now(),
                    Err(e) => tracing::warn!(error = ?e, "renewing this worker's leases failed"),
                }
            }
        }
    }

    async fn check(&self, jobs: &[(i32, Arc<JobControl>)]) -> AppResult<()> {
        let rows: Vec<(i32, String, Option<String>, Option<String>)> = scan::Entity::find()
            .select_only()
            .columns([
                scan::Column::Id,
                scan::Column::Status,
                scan::Column::Lease,
                scan::Column::CancelRequestedBy,
            ])
            .filter(scan::Column::Id.is_in(jobs.iter().map(|(id, _)| *id)))
            .into_tuple()
            .all(&self.inner.db)
            .await?;
        for (id, job) in jobs {
            match rows.iter().find(|r| r.0 == *id) {
                Some((_, status, lease, _))
                    if status != ScanStatus::Running.as_str()
                        || lease.as_deref() != Some(job.lease()) =>
                {
                    job.stop(StopReason::LeaseLost);
                }
                Some((_, _, _, Some(by))) => job.stop(StopReason::Cancelled { by: by.clone() }),
                Some(_) => {}
                None => job.stop(StopReason::LeaseLost),
            }
        }
        Ok(())
    }

    async fn renew(&self, jobs: &[(i32, Arc<JobControl>)]) -> AppResult<()> {
        let ttl = self.lease_ttl();
        scan::Entity::update_many()
            .col_expr(scan::Column::LeaseUntil, Expr::value(Utc::now() + ttl))
            .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
            .filter(scan::Column::Lease.is_in(jobs.iter().map(|(_, j)| j.lease().to_owned())))
            .exec(&self.inner.db)
            .await?;
        Ok(())
    }

    /// Every heartbeat: the reaper and the sweep (see the module's documentation).
    async fn housekeeping(&self) {
        let jobs = &self.inner.settings.jobs;
        let mut wait = jobs.lease_ttl() + jobs.heartbeat();
        loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.inner.closing.cancelled() => return,
            }
            wait = jobs.heartbeat();
            if let Err(e) = self.reap(false).await {
                tracing::warn!(error = ?e, "looking for lost scans failed");
            }
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = ?e, "pushing jobs of queued scans failed");
            }
            let data_dir = &self.inner.settings.data_dir;
            if let Err(e) = retention::run_if_due(&self.inner.db, data_dir).await {
                tracing::warn!(error = ?e, "the daily retention run failed");
            }
        }
    }

    /// Ends INTERRUPTED the scans whose lease lapsed more than a lease ago with nobody taking
    /// them over (or, with `unleased_only`, the RUNNING scans that never had a lease), and
    /// deletes imports whose process died.
    async fn reap(&self, unleased_only: bool) -> AppResult<()> {
        let db = &self.inner.db;
        let discarded = results::discard_abandoned_stages(db).await?;
        if discarded > 0 {
            tracing::warn!(
                scans = discarded,
                "deleted imports whose process stopped before they were stored"
            );
        }
        let ttl = self.lease_ttl();
        let lapsed = if unleased_only {
            Condition::all().add(scan::Column::LeaseUntil.is_null())
        } else {
            scans::lease_lapsed(Utc::now() - ttl)
        };
        let lapsed = scan::Entity::find()
            .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
            .filter(
                scan::Column::Phase
                    .is_not_in([ScanPhase::Importing.as_str(), ScanPhase::Chunks.as_str()]),
            )
            .filter(lapsed)
            .all(db)
            .await?;
        for row in lapsed {
            let who = row.worker.as_deref().unwrap_or("the process running it");
            let ended = scans::end_where(
                db,
                Some(row.id),
                ScanStatus::Running,
                ScanStatus::Interrupted,
                None,
                Some(format!(
                    "{who} stopped while this scan was running, and no worker took it over"
                )),
                Condition::all().add(match &row.lease {
                    Some(lease) => scan::Column::Lease.eq(lease.clone()),
                    None => scan::Column::Lease.is_null(),
                }),
            )
            .await?;
            if ended == 1 {
                tracing::warn!(
                    scan_id = row.id,
                    worker = who,
                    "scan INTERRUPTED: its lease lapsed"
                );
                if let Some(row) = scan::Entity::find_by_id(row.id).one(db).await? {
                    self.publish(&row);
                }
            }
        }
        Ok(())
    }

    async fn sweep(&self) -> AppResult<()> {
        let ids: Vec<(i32, Option<String>)> = scan::Entity::find()
            .select_only()
            .columns([scan::Column::Id, scan::Column::Pool])
            .filter(scan::Column::Status.eq(ScanStatus::Queued.as_str()))
            .filter(scan::Column::JobPushedAt.is_null())
            .filter(scan::Column::CreatedAt.lt(Utc::now() - SWEEP_AFTER))
            .into_tuple()
            .all(&self.inner.db)
            .await?;
        for (id, pool) in ids {
            tracing::info!(
                scan_id = id,
                "pushing the job of a queued scan that had none"
            );
            self.push(id, pool.as_deref()).await?;
        }
        for parent in chunks::ready(&self.inner.db).await? {
            tracing::info!(
                scan_id = parent,
                "merging the chunks of a scan whose last chunk ended elsewhere"
            );
            self.merge_chunks(parent).await;
        }
        // A merged parent whose completion was lost (its process stopped): a job, so that a
        // live worker takes it over.
        let lost: Vec<(i32, Option<String>)> = scan::Entity::find()
            .select_only()
            .columns([scan::Column::Id, scan::Column::Pool])
            .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
            .filter(scan::Column::Phase.eq(ScanPhase::Finishing.as_str()))
            .filter(scan::Column::ChunkCount.is_not_null())
            .filter(scan::Column::JobPushedAt.is_null())
            .filter(scan::Column::LeaseUntil.lt(Utc::now()))
            .into_tuple()
            .all(&self.inner.db)
            .await?;
        for (id, pool) in lost {
            tracing::info!(
                scan_id = id,
                "pushing a job to complete a merged scan whose process stopped"
            );
            self.push(id, pool.as_deref()).await?;
        }
        Ok(())
    }

    /// Kills nmap processes on this machine whose scan no live process runs (a crashed
    /// process' children), before this process takes work.
    async fn reap_local_orphans(&self) -> AppResult<()> {
        let live: Vec<i32> = scan::Entity::find()
            .select_only()
            .column(scan::Column::Id)
            .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
            .filter(scan::Column::LeaseUntil.gt(Utc::now()))
            .into_tuple()
            .all(&self.inner.db)
            .await?;
        let dir = self.scans_dir();
        let killed = tokio::task::spawn_blocking(move || {
            crate::scanner::process::reap_orphans(&dir, |scan| !live.contains(&scan))
        })
        .await
        .unwrap_or(0);
        if killed > 0 {
            tracing::warn!(
                killed,
                "killed nmap processes left by a process that stopped"
            );
        }
        Ok(())
    }
}

/// This process as a worker. Its name is unique per process (the job engine refuses a second
/// live worker of the same name) and readable in the scan list: `<host>-<pid>-<random>`.
fn registration() -> workers::Registration {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    let pid = std::process::id();
    workers::Registration {
        name: format!("{host}-{pid}-{}", &random[..6]),
        host,
        pid,
    }
}

/// How long `cancelScan` waits for a running scan to stop before answering.
const CANCEL_WAIT: Duration = Duration::from_secs(15);

/// Cancels a queued or running scan (OPERATOR). A queued one ends at once; for a running one
/// a cancel request is stored, which the process running it honours (within 2 s, whichever
/// process that is); this returns when the scan has stopped. A scan whose worker died is
/// ended here. A finished scan is `CONFLICT`.
pub async fn cancel(runner: &Runner, actor: &Actor, id: i32) -> AppResult<scan::Model> {
    let db = &runner.inner.db;
    actor.require(Role::Operator)?;
    let row = scans::get(db, actor, id).await?;
    let status = ScanStatus::parse(&row.status).unwrap_or(ScanStatus::Failed);
    if status.is_terminal() {
        return Err(AppError::Conflict(format!(
            "scan {id} has already ended ({}); there is nothing to cancel",
            row.status
        )));
    }
    crate::service::audit::record(db, actor, "scan.cancel", Some(format!("scan:{id}")), None)
        .await?;
    if row.phase == ScanPhase::Chunks.as_str() {
        cancel_chunks(runner, actor, id).await?;
        let row = scans::get(db, actor, id).await?;
        runner.publish(&row);
        return Ok(row);
    }
    let message = format!("cancelled by {}", actor.username);
    // Still queued: it never started.
    let dequeued = scans::end_if(
        db,
        Some(id),
        ScanStatus::Queued,
        ScanStatus::Cancelled,
        Some(message.clone()),
        None,
    )
    .await?;
    if dequeued == 0 {
        scan::Entity::update_many()
            .col_expr(
                scan::Column::CancelRequestedBy,
                Expr::value(actor.username.clone()),
            )
            .filter(scan::Column::Id.eq(id))
            .filter(scan::Column::Status.eq(ScanStatus::Running.as_str()))
            .exec(db)
            .await?;
        if let Some(job) = runner.job(id) {
            // Running here: no need to wait for the keeper.
            job.stop(StopReason::Cancelled {
                by: actor.username.clone(),
            });
        }
        if !wait_until_ended(db, id).await? {
            // Nobody honoured it: the process running it is gone (its lease lapsed).
            let ended = scans::end_where(
                db,
                Some(id),
                ScanStatus::Running,
                ScanStatus::Cancelled,
                Some(message),
                None,
                scans::lease_lapsed(Utc::now()),
            )
            .await?;
            if ended == 0 {
                tracing::warn!(scan_id = id, "scan did not stop within the cancel wait");
            }
        }
    }
    let row = scans::get(db, actor, id).await?;
    runner.publish(&row);
    Ok(row)
}

/// Cancels a scan running its chunks: the queued ones end at once, the running ones are asked
/// to stop (those of a process that is gone are ended here); waits until they are merged.
async fn cancel_chunks(runner: &Runner, actor: &Actor, id: i32) -> AppResult<()> {
    let db = &runner.inner.db;
    let by = actor.username.clone();
    for chunk in chunks::cancel(db, id, &by).await? {
        if let Some(job) = runner.job(chunk) {
            job.stop(StopReason::Cancelled { by: by.clone() });
        }
    }
    let deadline = Instant::now() + CANCEL_WAIT;
    loop {
        let parent = scan::Entity::find_by_id(id).one(db).await?;
        if parent.is_none_or(|p| ScanStatus::parse(&p.status).is_none_or(ScanStatus::is_terminal)) {
            return Ok(());
        }
        let now = Utc::now();
        let chunks = chunks::list(db, actor, id).await?;
        let lost = chunks.iter().any(|c| {
            c.status == ScanStatus::Running.as_str()
                && c.lease_until.is_none_or(|until| until < now)
        });
        if lost {
            // Nobody honours these: the process running them is gone.
            scans::end_where(
                db,
                None,
                ScanStatus::Running,
                ScanStatus::Cancelled,
                Some(format!("cancelled by {by}")),
                None,
                Condition::all()
                    .add(scans::lease_lapsed(now))
                    .add(scan::Column::ParentId.eq(id)),
            )
            .await?;
        }
        if lost
            || chunks
                .iter()
                .all(|c| ScanStatus::parse(&c.status).is_none_or(ScanStatus::is_terminal))
        {
            runner.merge_chunks(id).await;
        }
        if Instant::now() >= deadline {
            tracing::warn!(scan_id = id, "chunks did not stop within the cancel wait");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the scan row until it has ended (true) or [`CANCEL_WAIT`] passed, or its lease
/// lapsed with nobody to honour the request (false).
async fn wait_until_ended(db: &DatabaseConnection, id: i32) -> AppResult<bool> {
    let deadline = Instant::now() + CANCEL_WAIT;
    loop {
        let Some(row) = scan::Entity::find_by_id(id).one(db).await? else {
            return Ok(true);
        };
        if ScanStatus::parse(&row.status).is_none_or(ScanStatus::is_terminal) {
            return Ok(true);
        }
        if row.lease_until.is_none_or(|until| until < Utc::now()) || Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        status: ScanStatus,
        phase: ScanPhase,
        lease_until: Option<i64>,
        attempt: i32,
    ) -> scan::Model {
        let now = Utc::now();
        scan::Model {
            id: 1,
            title: "t".into(),
            status: status.as_str().into(),
            phase: phase.as_str().into(),
            percent: 0.0,
            message: None,
            config_id: None,
            triggered_by: "admin".into(),
            triggered_by_user_id: None,
            created_at: now,
            started_at: None,
            completed_at: None,
            error_message: None,
            command_lines: "[]".into(),
            hosts_total: 0,
            hosts_up: 0,
            open_ports: 0,
            services_count: 0,
            certificates_count: 0,
            unexpected_ports: 0,
            missing_ports: 0,
            config_yaml: None,
            findings_at: None,
            worker: Some("w".into()),
            lease: Some("l".into()),
            lease_until: lease_until.map(|s| now + chrono::TimeDelta::seconds(s)),
            attempt,
            cancel_requested_by: None,
            job_pushed_at: Some(now),
            pool: None,
            parent_id: None,
            chunk: None,
            chunk_count: None,
            coverage: None,
            history_at: None,
            baseline_id: None,
            schedule_id: None,
        }
    }

    const LIMITS: Limits = Limits {
        max_running: 2,
        max_runs: 3,
    };

    #[test]
    fn decide_starts_queued_scans_within_the_global_limit_only() {
        let queued = row(ScanStatus::Queued, ScanPhase::Queued, None, 0);
        let now = Utc::now();
        assert_eq!(decide(Some(&queued), 1, LIMITS, now), Decision::Start);
        assert_eq!(decide(Some(&queued), 2, LIMITS, now), Decision::Wait);
        assert_eq!(decide(None, 0, LIMITS, now), Decision::Gone);
        let done = row(ScanStatus::Completed, ScanPhase::Done, None, 1);
        assert_eq!(decide(Some(&done), 0, LIMITS, now), Decision::Gone);
    }

    #[test]
    fn decide_takes_over_only_lapsed_leases_with_runs_left() {
        let now = Utc::now();
        let live = row(ScanStatus::Running, ScanPhase::Tcp, Some(10), 1);
        assert_eq!(decide(Some(&live), 5, LIMITS, now), Decision::Wait);
        let lapsed = row(ScanStatus::Running, ScanPhase::Tcp, Some(-1), 1);
        // The global limit does not apply: the scan already holds its slot.
        assert_eq!(decide(Some(&lapsed), 5, LIMITS, now), Decision::TakeOver);
        let never_leased = row(ScanStatus::Running, ScanPhase::Tcp, None, 0);
        assert_eq!(
            decide(Some(&never_leased), 0, LIMITS, now),
            Decision::TakeOver
        );
        let worn_out = row(ScanStatus::Running, ScanPhase::Tcp, Some(-1), 3);
        assert_eq!(decide(Some(&worn_out), 0, LIMITS, now), Decision::Gone);
        let import = row(ScanStatus::Running, ScanPhase::Importing, Some(-1), 0);
        assert_eq!(decide(Some(&import), 0, LIMITS, now), Decision::Wait);
        // A scan running its chunks has no job and is never taken over: its chunks are.
        let parent = row(ScanStatus::Running, ScanPhase::Chunks, None, 0);
        assert_eq!(decide(Some(&parent), 0, LIMITS, now), Decision::Gone);
    }
}
