//! `/healthz` (the process answers), `/readyz` (database reachable and migrated; nmap found or
//! reported missing) and `/metrics` (Prometheus text).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::db;
use crate::scanner::process::find_on_path;
use crate::state::AppState;

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = match state.db.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let migrations = match db::is_migrated(&state.db).await {
        Ok(true) => "ok",
        Ok(false) => "pending",
        Err(_) => "unknown",
    };
    let nmap = find_on_path("nmap")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "missing".into());
    let ready = database == "ok" && migrations == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({
            "status": if ready { "ready" } else { "not ready" },
            "database": database,
            "migrations": migrations,
            "nmap": nmap,
        })),
    )
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let (hits, misses) = state.answers.counts();
    let body = format!(
        "# HELP sneakyscan_db_statements_total SQL statements sent to the database.\n\
         # TYPE sneakyscan_db_statements_total counter\n\
         sneakyscan_db_statements_total {}\n\
         # HELP sneakyscan_answer_cache_hits_total Queries about completed scans answered from memory.\n\
         # TYPE sneakyscan_answer_cache_hits_total counter\n\
         sneakyscan_answer_cache_hits_total {}\n\
         # HELP sneakyscan_answer_cache_misses_total Queries about completed scans that were executed.\n\
         # TYPE sneakyscan_answer_cache_misses_total counter\n\
         sneakyscan_answer_cache_misses_total {}\n\
         # HELP sneakyscan_scan_event_listeners Live scanUpdates and scanProgress subscriptions in this process.\n\
         # TYPE sneakyscan_scan_event_listeners gauge\n\
         sneakyscan_scan_event_listeners {}\n\
         # HELP sneakyscan_shared_subscription_executions Executions shared by identical scanUpdates subscriptions.\n\
         # TYPE sneakyscan_shared_subscription_executions gauge\n\
         sneakyscan_shared_subscription_executions {}\n",
        state.metrics.statements(),
        hits,
        misses,
        state.events.listeners() + state.fanout.extra_subscribers(),
        state.fanout.executions(),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}
