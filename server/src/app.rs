//! `run(settings, listener, shutdown)`: the only way the server starts, in `main` and in tests.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_sessions::session_store::ExpiredDeletion;

use crate::auth::rate_limit::LoginLimiter;
use crate::config::{Secret, Settings};
use crate::db::{self, DbMetrics};
use crate::domain::auth::Actor;
use crate::events::{EventBus, relay};
use crate::http;
use crate::jobs;
use crate::jobs::queue::JobQueue;
use crate::jobs::runner::Runner;
use crate::service::{configs, users};
use crate::session::store::DbSessionStore;
use crate::state::AppState;

/// Connects, migrates, bootstraps the first admin, then serves until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("while creating data dir {}", settings.data_dir.display()))?;
    let metrics = Arc::new(DbMetrics::default());
    let db = open(&settings, metrics.clone()).await?;

    if let Some(password) =
        users::ensure_admin(&db, settings.admin_password.as_ref().map(Secret::expose))
            .await
            .map_err(|e| anyhow::anyhow!("while creating the first admin: {e:?}"))?
    {
        // Printed once, on the first start only; it is not stored anywhere in clear.
        println!(
            "\n  First start: created user `admin` with password: {password}\n  \
             Change it after signing in (or set SNEAKYSCAN_ADMIN_PASSWORD before the first start).\n"
        );
        tracing::warn!("created user `admin` with a generated password (printed on stdout)");
    }
    if settings.import_configs_at_start && settings.configs_dir.is_dir() {
        let files = configs::yaml_files(&settings.configs_dir)?;
        match configs::import_files(&db, &Actor::system(), &files).await {
            Ok(report) => {
                tracing::info!(created = ?report.created, skipped = report.skipped.len(), "imported scan configs")
            }
            Err(e) => tracing::warn!(error = %e, "scan config import at start failed"),
        }
    }

    let limiter = Arc::new(LoginLimiter::new(
        db.clone(),
        Duration::from_secs(settings.auth.login_window_secs),
        settings.auth.login_max_failures_per_account,
        settings.auth.login_max_failures_per_ip,
    ));
    let store = DbSessionStore::new(db.clone());
    let purging = limiter.clone();
    let purge = tokio::spawn(db::uncounted(async move {
        let mut every = tokio::time::interval(http::SESSION_PURGE_EVERY);
        loop {
            every.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
            if let Err(e) = purging.purge().await {
                tracing::warn!(error = ?e, "purging old sign-in failures failed");
            }
        }
    }));

    let events = EventBus::default();
    let (runner, relay) = jobs_of(&db, &settings, &events, settings.jobs.worker).await?;
    let schemas = crate::graphql::build(
        db.clone(),
        settings.clone(),
        events.clone(),
        limiter.clone(),
        runner.clone(),
    );
    let csp: Arc<str> = http::spa::content_security_policy(&settings.frontend_dir).into();
    let agents = jobs::agents::AgentHub::new(runner.clone());
    agents.start();
    // Every serve process fires schedules; the database makes each firing happen once.
    let scheduler = jobs::scheduler::start(runner.clone());
    // Every serve process dispatches the outbox of alerts and tells its subscribers.
    let alerting = jobs::alerts::start(runner.clone(), settings.jobs.worker);
    let state = AppState {
        db: db.clone(),
        settings: settings.clone(),
        events,
        limiter,
        metrics,
        schema: schemas.http,
        fanout: Arc::new(crate::graphql::fanout::Fanout::new(schemas.socket.clone())),
        socket_schema: schemas.socket,
        answers: Arc::new(crate::graphql::answers::AnswerCache::new(
            settings.graphql.answer_cache_mib,
        )),
        csp,
        agents,
        trusted_proxies: http::identity::trusted_proxies(&settings.http.trusted_proxies)?.into(),
    };

    // On shutdown, running scans are stopped (INTERRUPTED, subscribers told) before HTTP stops.
    let http_stop = CancellationToken::new();
    let stopping = runner.clone();
    let stop = http_stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.shutdown().await;
        stop.cancel();
    });

    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %db::redact(&settings.effective_database_url()), "SneakyScanner listening");
    let serve = axum::serve(
        listener,
        http::router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(http_stop.clone().cancelled_owned())
    .into_future();
    // Shutdown never waits on a request for long: open requests (and websockets) get a grace
    // period, then the server stops anyway.
    let grace = Duration::from_secs(settings.http.shutdown_request_grace_secs);
    let result = tokio::select! {
        result = serve => result.context("while serving HTTP"),
        () = async {
            http_stop.cancelled().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "open requests did not finish within the grace period; stopping anyway");
            Ok(())
        }
    };
    // Also when serving failed: never leave scans running.
    runner.shutdown().await;
    scheduler.abort();
    alerting.abort();
    purge.abort();
    if let Some(relay) = relay {
        relay.stop().await;
    }
    db.close().await.ok();
    tracing::info!("SneakyScanner stopped");
    result
}

/// The database, migrated (ours and the job queue's).
async fn open(
    settings: &Settings,
    metrics: Arc<DbMetrics>,
) -> anyhow::Result<sea_orm::DatabaseConnection> {
    db::connect_migrated(
        &settings.effective_database_url(),
        metrics,
        jobs::queue::migrate,
    )
    .await
}

/// The process' side of the job engine: the event relay (PostgreSQL), the runner and, when
/// `worker`, its worker.
async fn jobs_of(
    db: &sea_orm::DatabaseConnection,
    settings: &Arc<Settings>,
    events: &EventBus,
    worker: bool,
) -> anyhow::Result<(Runner, Option<relay::Relay>)> {
    let relay = relay::attach(db, events)
        .await
        .context("while listening for other processes' events")?;
    let runner = Runner::new(
        db.clone(),
        events.clone(),
        settings.clone(),
        JobQueue::new(db, &settings.jobs, crate::jobs::queue::QUEUE),
    );
    if worker {
        runner
            .start_worker()
            .await
            .map_err(|e| anyhow::anyhow!("while starting the scan worker: {e:?}"))?;
    }
    Ok((runner, relay))
}

/// `sneakyscan worker`: runs scan jobs (no HTTP) until `shutdown` resolves, then stops its
/// scans (INTERRUPTED) like a server does.
pub async fn run_worker(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("while creating data dir {}", settings.data_dir.display()))?;
    let db = open(&settings, Arc::new(DbMetrics::default())).await?;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        tracing::warn!(
            "a separate worker on SQLite: its scans run, but their live progress reaches the \
             server's subscribers only through the scan row (no NOTIFY on SQLite); use \
             PostgreSQL for more than one process"
        );
    }
    let (runner, relay) = jobs_of(&db, &settings, &EventBus::default(), true).await?;
    // A worker sends deliveries too (and pushes the due ones, like every process).
    let alerting = crate::jobs::alerts::start(runner.clone(), true);
    tracing::info!(worker = %runner.name(), database = %db::redact(&settings.effective_database_url()), "SneakyScanner worker running");
    shutdown.await;
    runner.shutdown().await;
    alerting.abort();
    if let Some(relay) = relay {
        relay.stop().await;
    }
    db.close().await.ok();
    tracing::info!("SneakyScanner worker stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown requested");
}
