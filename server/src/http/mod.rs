//! HTTP: one `router()` shows every route; layers add request ids, tracing, security headers,
//! body limits, sessions and authentication.

pub mod agent;
pub mod exports;
pub mod failure;
pub mod graphql;
pub mod health;
pub mod identity;
pub mod imports;
pub mod playground;
pub mod reports;
pub mod spa;
pub mod ws;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum_login::AuthManagerLayerBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::session::backend::Backend;
use crate::session::store::DbSessionStore;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name("sneakyscan_session")
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(settings.auth.cookie_secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            settings.auth.session_idle_minutes,
        )));
    let auth = AuthManagerLayerBuilder::new(Backend::new(state.db.clone()), sessions).build();

    Router::new()
        .route("/graphql", post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/graphiql", get(playground::page))
        .route("/api/scans/{id}/{file}", get(reports::report))
        .route(
            "/api/scans/{id}/services/{service}/{file}",
            get(reports::screenshot),
        )
        .route("/api/scans/{id}/nmap/{file}", get(reports::nmap_xml))
        .route("/api/export/{file}", get(exports::export))
        .route(
            "/api/imports",
            post(imports::import).layer(DefaultBodyLimit::disable()),
        )
        .route(crate::jobs::wire::PATH, get(agent::upgrade))
        .route("/api/{*rest}", get(reports::unknown))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(spa::router(&settings.frontend_dir))
        .layer(auth)
        .layer(DefaultBodyLimit::max(settings.http.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_playground = path == "/graphiql" || path.starts_with("/graphiql/");
    // Answers that may carry a user's data (the API, downloads) are never cached.
    let private = path.starts_with("/graphql") || path.starts_with("/api/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if private {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let csp = if is_playground {
        playground::CSP
    } else {
        &state.csp
    };
    // A handler may set a narrower policy of its own (the HTML report).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(v) = HeaderValue::from_str(csp)
    {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// How often expired sessions are purged.
pub const SESSION_PURGE_EVERY: Duration = Duration::from_secs(600);
