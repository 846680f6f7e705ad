//! Alerts on the job engine: every second each process claims the due deliveries of the
//! outbox (`service::alerts::deliver::claim_due`: PENDING, due, no job pushed recently — also
//! those a crash left between the commit and the push) and pushes a `DeliveryJob` for each;
//! workers send them (`deliver::attempt`), retried with backoff. The same tick tells this
//! process' `alertUpdates` subscribers which alerts changed (in any process: it reads
//! `alerts.updated_at`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::queue::{DELIVERIES, DeliveryJob, Queue};
use super::runner::Runner;
use super::worker::{JobHandler, Spec, supervise};
use crate::service::alerts::{self, deliver};

/// How often the outbox and the alerts' changes are looked at.
pub const TICK: Duration = Duration::from_secs(1);
/// Changes older than this are not looked for again (writers' clocks and late commits).
const WINDOW: chrono::Duration = chrono::Duration::seconds(30);

/// Sends deliveries (the worker side).
#[derive(Clone)]
struct DeliveryJobs {
    runner: Runner,
}

impl JobHandler for DeliveryJobs {
    type Job = DeliveryJob;

    async fn run(&self, delivery_id: i32, _attempt: usize) {
        if let Err(e) =
            deliver::attempt(self.runner.db(), self.runner.settings(), delivery_id).await
        {
            tracing::warn!(delivery = delivery_id, error = ?e, "a delivery attempt failed to run");
        }
    }
}

/// Starts the dispatcher and, when `worker`, the delivery worker of this process; both stop
/// with the runner.
pub fn start(runner: Runner, worker: bool) -> tokio::task::JoinHandle<()> {
    let queue: Queue<DeliveryJob> = Queue::new(runner.db(), &runner.settings().jobs, DELIVERIES);
    let wake = Arc::new(Notify::new());
    if worker {
        supervise(
            runner.clone(),
            Spec {
                queue: queue.clone(),
                name: format!("{}-deliveries", runner.name()),
                concurrency: 8,
                handler: DeliveryJobs {
                    runner: runner.clone(),
                },
                wake: Some(wake.clone()),
            },
            runner.closing().clone(),
        );
    }
    tokio::spawn(crate::db::uncounted(async move {
        let closing = runner.closing().clone();
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut told: HashMap<i32, DateTime<Utc>> = HashMap::new();
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = closing.cancelled() => return,
            }
            dispatch(&runner, &queue, &wake).await;
            tell(&runner, &mut told).await;
        }
    }))
}

async fn dispatch(runner: &Runner, queue: &Queue<DeliveryJob>, wake: &Notify) {
    let claimed = match deliver::claim_due(runner.db(), Utc::now()).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = ?e, "looking for due deliveries failed");
            return;
        }
    };
    for id in &claimed {
        if let Err(e) = queue.push(*id, 1).await {
            // Claimed but not pushed: claimed again once the claim is stale.
            tracing::warn!(delivery = id, error = ?e, "pushing a delivery job failed");
        }
    }
    if !claimed.is_empty() {
        wake.notify_one();
    }
}

/// Publishes the alerts changed since the last look (each change once).
async fn tell(runner: &Runner, told: &mut HashMap<i32, DateTime<Utc>>) {
    let now = Utc::now();
    let changed = match alerts::changed_since(runner.db(), now - WINDOW).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = ?e, "looking for changed alerts failed");
            return;
        }
    };
    for a in changed {
        if told.get(&a.id) != Some(&a.updated_at) {
            told.insert(a.id, a.updated_at);
            runner.bus().alert_changed(a.id);
        }
    }
    told.retain(|_, at| *at > now - WINDOW - WINDOW);
}
