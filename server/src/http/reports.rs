//! Report, screenshot and raw nmap XML downloads, for a signed-in user or an API key. Files are found by the
//! numeric scan (and service) id only: anything else in the path is a 404, and no path a client
//! sends is ever joined onto the file system.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::http::{failure, identity};
use crate::service::artifacts;
use crate::service::reports::{self, Format};
use crate::session::backend::AuthSession;
use crate::state::AppState;

/// The HTML report carries its own inline styles and data-URI images, nothing else.
const REPORT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

/// `GET /api/scans/{id}/report.{json,html,zip}`.
pub async fn report(
    State(state): State<AppState>,
    mut session: AuthSession,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let (Ok(id), Some(format)) = (
        id.parse::<i32>(),
        file.strip_prefix("report.")
            .and_then(Format::from_extension),
    ) else {
        return failure::not_found();
    };
    let actor = match identity::required(&state, &headers, &mut session).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let web = &state.settings.scanner.web;
    let path = match reports::file(
        &state.db,
        &actor,
        &state.settings.data_dir,
        web.cert_expiry_warning_days,
        id,
        format,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return failure::response(&e),
    };
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return failure::not_found();
    };
    let mut res = ([(header::CONTENT_TYPE, format.content_type())], bytes).into_response();
    let h = res.headers_mut();
    if format == Format::Html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(REPORT_CSP),
        );
    } else if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"sneakyscan-{id}-report.{}\"",
        format.extension()
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// `GET /api/scans/{id}/services/{service}/screenshot.png`.
pub async fn screenshot(
    State(state): State<AppState>,
    mut session: AuthSession,
    headers: HeaderMap,
    Path((id, service, file)): Path<(String, String, String)>,
) -> Response {
    let (Ok(id), Ok(service), true) = (
        id.parse::<i32>(),
        service.parse::<i32>(),
        file == "screenshot.png",
    ) else {
        return failure::not_found();
    };
    let actor = match identity::required(&state, &headers, &mut session).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match reports::screenshot(&state.db, &actor, &state.settings.data_dir, id, service).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
        Err(e) => failure::response(&e),
    }
}

/// `GET /api/scans/{id}/nmap/{phase}.xml`: the raw nmap output of one phase of a scan.
pub async fn nmap_xml(
    State(state): State<AppState>,
    mut session: AuthSession,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let (Ok(id), Some(phase)) = (id.parse::<i32>(), file.strip_suffix(".xml")) else {
        return failure::not_found();
    };
    let actor = match identity::required(&state, &headers, &mut session).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let xml = match artifacts::xml(&state.db, &actor, id, phase).await {
        Ok(x) => x,
        Err(e) => return failure::response(&e),
    };
    let mut res = ([(header::CONTENT_TYPE, "application/xml")], xml).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"sneakyscan-{id}-{phase}.xml\""
    )) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// Any other `/api/…` path: 404 (never the web app's page).
pub async fn unknown() -> Response {
    failure::not_found()
}
