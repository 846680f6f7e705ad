//! The job runner: takes QUEUED scans oldest first, runs up to the configured number at once,
//! and stops them on request (cancel) or at shutdown. The database is the queue: a scan is
//! claimed by a conditional update, so a scan runs once even if two claims race.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use entity::scan;

use super::scan as job;
use crate::config::Settings;
use crate::domain::auth::{Actor, Role};
use crate::domain::status::{ScanPhase, ScanStatus};
use crate::error::{AppError, AppResult};
use crate::events::{EventBus, ScanEvent};
use crate::service::results;
use crate::service::scans;
use crate::service::settings;

/// Why a running scan is asked to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Cancelled { by: String },
    Shutdown,
}

/// The handle of one running scan.
#[derive(Debug, Default)]
pub struct JobControl {
    stop: CancellationToken,
    reason: Mutex<Option<StopReason>>,
    done: CancellationToken,
}

impl JobControl {
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
    wake: Notify,
    jobs: Mutex<HashMap<i32, Arc<JobControl>>>,
    tracker: TaskTracker,
    closing: CancellationToken,
}

#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

impl Runner {
    pub fn new(db: DatabaseConnection, bus: EventBus, settings: Arc<Settings>) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                bus,
                settings,
                wake: Notify::new(),
                jobs: Mutex::new(HashMap::new()),
                tracker: TaskTracker::new(),
                closing: CancellationToken::new(),
            }),
        }
    }

    /// Marks scans left RUNNING by an earlier process INTERRUPTED (and kills their leftover
    /// nmap processes). Call once at start, before [`Runner::start`].
    pub async fn recover(&self) -> AppResult<u64> {
        let scans_dir = self.scans_dir();
        let killed =
            tokio::task::spawn_blocking(move || crate::scanner::process::reap_orphans(&scans_dir))
                .await
                .unwrap_or(0);
        if killed > 0 {
            tracing::warn!(
                killed,
                "killed nmap processes left by an earlier server process"
            );
        }
        let discarded = results::discard_abandoned_stages(&self.inner.db).await?;
        if discarded > 0 {
            tracing::warn!(
                scans = discarded,
                "deleted imports an earlier server process left unfinished"
            );
        }
        let interrupted = scans::end_if(
            &self.inner.db,
            None,
            ScanStatus::Running,
            ScanStatus::Interrupted,
            None,
            Some("the server stopped while this scan was running".to_owned()),
        )
        .await?;
        if interrupted > 0 {
            tracing::warn!(
                scans = interrupted,
                "scans left running by an earlier server process are now INTERRUPTED"
            );
        }
        Ok(interrupted)
    }

    /// Starts the dispatcher.
    pub fn start(&self) {
        let runner = self.clone();
        self.inner
            .tracker
            .spawn(async move { runner.dispatch().await });
    }

    /// A scan was queued, a job ended or the settings changed: look for work.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Publishes a newly queued scan and wakes the dispatcher.
    pub fn enqueued(&self, row: &scan::Model) {
        self.publish(row);
        self.wake();
    }

    /// Publishes a scan row's current state.
    pub fn publish(&self, row: &scan::Model) {
        self.inner.bus.publish(ScanEvent::from_row(row));
    }

    /// The running job of a scan in this process, if any.
    pub fn job(&self, scan_id: i32) -> Option<Arc<JobControl>> {
        self.lock_jobs().get(&scan_id).cloned()
    }

    pub fn running(&self) -> usize {
        self.lock_jobs().len()
    }

    /// Stops taking work, stops every running scan (they end INTERRUPTED) and waits for them,
    /// at most `scanner.shutdown_grace_secs`.
    pub async fn shutdown(&self) {
        self.inner.closing.cancel();
        let jobs: Vec<_> = self.lock_jobs().values().cloned().collect();
        for job in &jobs {
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
    }

    fn scans_dir(&self) -> std::path::PathBuf {
        job::scans_dir(&self.inner.settings.data_dir)
    }

    fn lock_jobs(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Arc<JobControl>>> {
        self.inner.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn dispatch(&self) {
        loop {
            if self.inner.closing.is_cancelled() {
                return;
            }
            if let Err(e) = self.fill_slots().await {
                tracing::error!(error = ?e, "the job runner could not start queued scans");
            }
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = self.inner.closing.cancelled() => return,
                // Also look now and then, in case a wake-up was lost to an error.
                () = tokio::time::sleep(Duration::from_secs(30)) => {}
            }
        }
    }

    async fn fill_slots(&self) -> AppResult<()> {
        let max = settings::load(&self.inner.db).await?.max_concurrent_scans as usize;
        while self.running() < max && !self.inner.closing.is_cancelled() {
            let Some(row) = self.claim_next().await? else {
                break;
            };
            let control = Arc::new(JobControl::default());
            self.lock_jobs().insert(row.id, control.clone());
            self.inner.bus.publish(ScanEvent::from_row(&row));
            let runner = self.clone();
            self.inner.tracker.spawn(async move {
                let id = row.id;
                let ctx = job::JobContext {
                    db: runner.inner.db.clone(),
                    bus: runner.inner.bus.clone(),
                    settings: runner.inner.settings.clone(),
                    control: control.clone(),
                };
                job::run(ctx, row).await;
                runner.lock_jobs().remove(&id);
                control.done.cancel();
                runner.wake();
            });
        }
        Ok(())
    }

    /// The oldest QUEUED scan, now RUNNING; `None` when the queue is empty.
    async fn claim_next(&self) -> AppResult<Option<scan::Model>> {
        let db = &self.inner.db;
        loop {
            let Some(next) = scan::Entity::find()
                .filter(scan::Column::Status.eq(ScanStatus::Queued.as_str()))
                .order_by_asc(scan::Column::Id)
                .one(db)
                .await?
            else {
                return Ok(None);
            };
            let claimed = scan::Entity::update_many()
                .col_expr(
                    scan::Column::Status,
                    Expr::value(ScanStatus::Running.as_str()),
                )
                .col_expr(
                    scan::Column::Phase,
                    Expr::value(ScanPhase::Starting.as_str()),
                )
                .col_expr(scan::Column::StartedAt, Expr::value(Utc::now()))
                .filter(scan::Column::Id.eq(next.id))
                .filter(scan::Column::Status.eq(ScanStatus::Queued.as_str()))
                .exec(db)
                .await?;
            if claimed.rows_affected == 1
                && let Some(row) = scan::Entity::find_by_id(next.id).one(db).await?
            {
                return Ok(Some(row));
            }
            // Cancelled or claimed meanwhile: try the next one.
        }
    }
}

/// How long `cancelScan` waits for a running scan to stop before answering.
const CANCEL_WAIT: Duration = Duration::from_secs(15);

/// Cancels a queued or running scan (OPERATOR); a running one is stopped (its nmap process
/// group killed) before this returns. A finished scan is `CONFLICT`.
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
        match runner.job(id) {
            Some(job) => {
                job.stop(StopReason::Cancelled {
                    by: actor.username.clone(),
                });
                if tokio::time::timeout(CANCEL_WAIT, job.finished())
                    .await
                    .is_err()
                {
                    tracing::warn!(scan_id = id, "scan did not stop within the cancel wait");
                }
            }
            None => {
                // Running, but not in this process (e.g. another server instance died): end it.
                scans::end_if(
                    db,
                    Some(id),
                    ScanStatus::Running,
                    ScanStatus::Cancelled,
                    Some(message),
                    None,
                )
                .await?;
            }
        }
    }
    let row = scans::get(db, actor, id).await?;
    runner.publish(&row);
    Ok(row)
}
