//! `POST /api/imports`: an nmap or masscan XML file uploaded as the raw body
//! (`Content-Type: application/xml`, `text/xml` or `application/octet-stream`) or as the `file`
//! field of a `multipart/form-data` form, streamed straight into the parser — never buffered
//! whole, so the parser's own limits and free disk are the only caps on its size.
//!
//! Options come as query parameters (`?title=…&configId=…`) or, in a form, as `title` and
//! `configId` fields before the file. Same rules as the API: session cookie or API key,
//! OPERATOR, audited; a cross-site request is refused (Origin / `Sec-Fetch-Site`), so a form
//! on another site cannot import with a user's cookie. A bad file is `VALIDATION` (400) and
//! stores nothing.

use std::io::BufReader;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::domain::auth::Role;
use crate::error::AppError;
use crate::events::ScanEvent;
use crate::http::{failure, identity, ws};
use crate::service::imports::{self, ImportRequest};
use crate::session::backend::AuthSession;
use crate::state::AppState;

/// Chunks in flight between the socket and the parser thread.
const CHUNKS_IN_FLIGHT: usize = 8;
/// The parser's read buffer.
const READ_BUFFER: usize = 64 * 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportParams {
    title: Option<String>,
    config_id: Option<String>,
}

pub async fn import(
    State(state): State<AppState>,
    mut session: AuthSession,
    headers: HeaderMap,
    Query(params): Query<ImportParams>,
    request: Request,
) -> Response {
    if !same_site(&headers, &state.settings.http.allowed_origins) {
        return failure::response(&AppError::Forbidden(
            "cross-site uploads are refused".into(),
        ));
    }
    let actor = match identity::required(&state, &headers, &mut session).await {
        Ok(actor) => actor,
        Err(answer) => return answer,
    };
    // Checked before a byte of the body is read (the service checks again).
    if let Err(e) = actor.require(Role::Operator) {
        return failure::response(&e);
    }
    let mut title = params.title;
    let mut config_id = params.config_id;
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHUNKS_IN_FLIGHT);
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let reader = BufReader::with_capacity(
        READ_BUFFER,
        SyncIoBridge::new(StreamReader::new(Box::pin(chunks))),
    );

    let result = match media.as_str() {
        "multipart/form-data" => {
            let mut form = match Multipart::from_request(request, &state).await {
                Ok(form) => form,
                Err(e) => return failure::response(&AppError::validation(e.body_text())),
            };
            // Fields before the file set the options; the file is imported as it arrives.
            loop {
                let field = match form.next_field().await {
                    Ok(Some(field)) => field,
                    Ok(None) => {
                        return failure::response(&AppError::validation(
                            "the form has no `file` field",
                        ));
                    }
                    Err(e) => return failure::response(&AppError::validation(e.body_text())),
                };
                match field.name() {
                    Some("file") => {
                        let req = match options(title, config_id) {
                            Ok(r) => r,
                            Err(e) => return failure::response(&e),
                        };
                        let import = run(&state, &actor, reader, req);
                        let (result, ()) = tokio::join!(import, feed(field, tx));
                        break result;
                    }
                    Some(name @ ("title" | "configId")) => {
                        let is_title = name == "title";
                        let value = match field.text().await {
                            Ok(v) => v,
                            Err(e) => {
                                return failure::response(&AppError::validation(e.body_text()));
                            }
                        };
                        if is_title {
                            title = Some(value);
                        } else {
                            config_id = Some(value);
                        }
                    }
                    _ => {}
                }
            }
        }
        "application/xml" | "text/xml" | "application/octet-stream" | "" => {
            let req = match options(title, config_id) {
                Ok(r) => r,
                Err(e) => return failure::response(&e),
            };
            let body = request.into_body().into_data_stream();
            let import = run(&state, &actor, reader, req);
            let (result, ()) = tokio::join!(import, feed(body, tx));
            result
        }
        other => {
            return crate::http::graphql::error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                &format!(
                    "send the XML as the body (application/xml) or as the `file` field of a multipart/form-data form, not {other}"
                ),
            );
        }
    };
    match result {
        Ok(row) => {
            state.events.publish(ScanEvent::from_row(&row));
            let body = serde_json::json!({ "scan": {
                "id": row.id.to_string(),
                "title": row.title,
                "status": row.status,
                "hostsTotal": row.hosts_total,
                "hostsUp": row.hosts_up,
                "openPorts": row.open_ports,
            }});
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(e) => failure::response(&e),
    }
}

async fn run(
    state: &AppState,
    actor: &crate::domain::auth::Actor,
    reader: BufReader<SyncIoBridge<impl tokio::io::AsyncRead + Send + Unpin + 'static>>,
    req: ImportRequest,
) -> Result<entity::scan::Model, AppError> {
    imports::import_xml(
        &state.db,
        actor,
        reader,
        req,
        &state.settings.data_dir,
        state.settings.scanner.web.cert_expiry_warning_days,
    )
    .await
}

/// Moves the upload's chunks to the parser until either side ends. An upload cut short reaches
/// the parser as an I/O error (and the import stores nothing).
async fn feed<E: std::fmt::Display>(
    mut source: impl Stream<Item = Result<Bytes, E>> + Unpin,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    while let Some(chunk) = source.next().await {
        let chunk = chunk.map_err(|e| std::io::Error::other(format!("upload: {e}")));
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            break;
        }
    }
}

fn options(title: Option<String>, config_id: Option<String>) -> Result<ImportRequest, AppError> {
    let config_id = config_id
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<i32>()
                .map_err(|_| AppError::validation("configId must be a config's numeric id"))
        })
        .transpose()?;
    Ok(ImportRequest { title, config_id })
}

/// Not a cross-site request: the Origin (browsers send one with every POST) is this server's
/// or allow-listed; without an Origin, the browser must not say `Sec-Fetch-Site: cross-site`.
fn same_site(headers: &HeaderMap, allowed: &[String]) -> bool {
    if headers.contains_key(header::ORIGIN) {
        return ws::origin_allowed(headers, allowed);
    }
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|site| site != "cross-site")
}
