//! The scheduler of each `serve` process: every second it fires the schedules whose time has
//! come (`service::schedules::fire_due`, exactly once per scheduled time across replicas),
//! then pushes the started scans' jobs and cancels the scans a REPLACE firing replaced.

use std::time::Duration;

use chrono::Utc;

use crate::domain::auth::Actor;
use crate::jobs::runner::{self, Runner};
use crate::service::schedules;

/// How often the scheduler looks at the clock.
pub const TICK: Duration = Duration::from_secs(1);

/// Runs until the runner shuts down.
pub fn start(runner: Runner) -> tokio::task::JoinHandle<()> {
    tokio::spawn(crate::db::uncounted(async move {
        let closing = runner.closing().clone();
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = closing.cancelled() => return,
            }
            tick(&runner).await;
        }
    }))
}

async fn tick(runner: &Runner) {
    let fired = match schedules::fire_due(runner.db(), Utc::now()).await {
        Ok(fired) => fired,
        Err(e) => {
            tracing::warn!(error = %e, "looking for due schedules failed");
            return;
        }
    };
    for f in fired {
        if let Some(old) = f.replaced
            && let Err(e) = runner::cancel(runner, &Actor::system(), old).await
        {
            tracing::warn!(scan_id = old, error = %e, "cancelling the replaced scan failed");
        }
        if let Some(started) = f.started {
            tracing::info!(scan_id = started.scan.id, by = %started.scan.triggered_by, "schedule fired");
            runner.enqueue(&started).await;
        }
    }
}
