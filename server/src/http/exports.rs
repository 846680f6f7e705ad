//! `GET /api/export/{hosts,changes}.{csv,json}?filter=…`: the inventory and the change events in
//! the filter language, streamed (`service::exports`), for a signed-in user or an API key.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use crate::http::{failure, identity};
use crate::service::exports::{self, Dataset};
use crate::session::backend::AuthSession;
use crate::state::AppState;

pub async fn export(
    State(state): State<AppState>,
    mut session: AuthSession,
    headers: HeaderMap,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((dataset, format)) = Dataset::parse_file(&file) else {
        return failure::not_found();
    };
    let actor = match identity::required(&state, &headers, &mut session).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let filter = query.get("filter").map(String::as_str);
    let export = match exports::prepare(&state.db, &actor, dataset, format, filter) {
        Ok(e) => e,
        Err(e) => return failure::response(&e),
    };
    let mut res = (
        [(header::CONTENT_TYPE, format.content_type())],
        Body::from_stream(export.into_stream()),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"sneakyscan-{}-{}.{}\"",
        dataset.name(),
        Utc::now().format("%Y%m%d-%H%M%S"),
        format.extension()
    )) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
