//! The apalis workers of a process: one takes scan jobs from the queue and hands each to
//! [`Runner::run_job`]; another sends the deliveries of alerts (`jobs::alerts`). It looks for work when woken (a job pushed in this process, or
//! announced by another one over the event relay) and every `jobs.poll_ms` otherwise.
//!
//! apalis ends a worker at the first database error of its heartbeat or fetch; this module
//! starts a new one (under a new name: a name is unique per live worker) after a pause. Runs
//! of scans do not depend on it: they belong to the runner, so a restarted worker never
//! kills a scan; the job of a scan still running here comes back re-queued and simply waits
//! for that run to end.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use futures::Stream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::queue::{Job, Queue, ScanJob};
use super::runner::Runner;

/// Pause before a worker that ended on an error is started again.
const RESTART_AFTER: Duration = Duration::from_secs(2);

type Wakeups = Pin<Box<dyn Stream<Item = ()> + Send>>;

/// What a worker does with a job (of the row `id`).
pub trait JobHandler: Clone + Send + Sync + 'static {
    type Job: Job;
    fn run(&self, id: i32, attempt: usize) -> impl Future<Output = ()> + Send;
}

impl JobHandler for Runner {
    type Job = ScanJob;

    async fn run(&self, scan_id: i32, attempt: usize) {
        self.run_job(scan_id, attempt).await;
    }
}

/// A worker: which queue, under which name, how many jobs at once, and what to do with them.
pub struct Spec<H: JobHandler> {
    pub queue: Queue<H::Job>,
    /// Unique per live worker; a generation number is added at each start.
    pub name: String,
    pub concurrency: usize,
    pub handler: H,
    /// What wakes it besides its poll interval (none: the bus' job wake-ups).
    pub wake: Option<Arc<Notify>>,
}

/// Runs this process' worker of the workers' queue until `closing` is cancelled.
pub fn spawn(runner: Runner, closing: CancellationToken) -> tokio::task::JoinHandle<()> {
    let spec = Spec {
        queue: runner.queue().clone(),
        name: runner.name().to_owned(),
        concurrency: runner.settings().jobs.worker_concurrency.max(1),
        handler: runner.clone(),
        wake: None,
    };
    supervise(runner, spec, closing)
}

/// Runs a worker until `closing` is cancelled, starting it again when it fails.
pub fn supervise<H: JobHandler>(
    runner: Runner,
    spec: Spec<H>,
    closing: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut generation = 0u32;
        loop {
            generation += 1;
            let name = format!("{}.{generation}", spec.name);
            let ended = run_once(&runner, &spec, &name, closing.clone()).await;
            if closing.is_cancelled() {
                return;
            }
            match ended {
                Ok(()) => {
                    tracing::warn!(worker = %name, "the job worker stopped; starting it again")
                }
                Err(e) => {
                    tracing::warn!(worker = %name, error = %e, "the job worker failed; starting it again")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(RESTART_AFTER) => {}
                () = closing.cancelled() => return,
            }
        }
    })
}

/// When to look for jobs: at every wake-up (of `wake`, else of the bus), and every `poll_ms`.
fn wakeups(runner: &Runner, wake: Option<Arc<Notify>>) -> Wakeups {
    let bus = runner.bus().clone();
    let every = Duration::from_millis(runner.settings().jobs.poll_ms.max(50));
    Box::pin(futures::stream::unfold(
        (bus, wake),
        move |(bus, wake)| async move {
            tokio::select! {
                () = async {
                    match &wake {
                        Some(w) => w.notified().await,
                        None => bus.job_wakeup().await,
                    }
                } => {}
                () = tokio::time::sleep(every) => {}
            }
            Some(((), (bus, wake)))
        },
    ))
}

async fn handle<H: JobHandler>(
    job: H::Job,
    attempt: Attempt,
    handler: Data<H>,
) -> Result<(), BoxDynError> {
    handler.run(job.id(), attempt.current()).await;
    Ok(())
}

async fn run_once<H: JobHandler>(
    runner: &Runner,
    spec: &Spec<H>,
    name: &str,
    closing: CancellationToken,
) -> Result<(), WorkerError> {
    let stop = async move {
        closing.cancelled().await;
        Ok::<(), WorkerError>(())
    };
    // The same worker over either storage (their types differ).
    macro_rules! run {
        ($storage:expr) => {
            WorkerBuilder::new(name)
                .backend($storage.poll_with_stream(wakeups(runner, spec.wake.clone())))
                .data(spec.handler.clone())
                .concurrency(spec.concurrency.max(1))
                .build(handle::<H>)
                .run_until(stop)
                .await
        };
    }
    match spec.queue.clone() {
        Queue::Sqlite(storage) => run!(storage),
        Queue::Postgres(storage) => run!(storage),
    }
}
