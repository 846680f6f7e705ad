//! Import an nmap or masscan XML file: the file goes to `POST /api/imports` as the raw body
//! (streamed by the server into its parser, any size), with upload progress, optionally judged
//! against a saved config; the stored scan is linked when the server has finished.

use leptos::prelude::*;
use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{HtmlInputElement, ProgressEvent, XmlHttpRequest};

use crate::api::remote::Remote;
use crate::api::{self, ApiError};
use crate::components::error_box::{ErrorBox, show};
use crate::components::status::ProgressBar;
use crate::route::Route;

/// Where the upload is.
#[derive(Clone, Debug, PartialEq)]
enum Upload {
    Idle,
    /// Bytes sent so far, in percent.
    Sending(f64),
    /// Sent; the server parses and stores it.
    Processing,
    Done(Stored),
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    id: String,
    title: String,
    hosts_total: i64,
    open_ports: i64,
}

#[derive(Deserialize)]
struct Created {
    scan: Stored,
}

/// The address of an upload with its options (query parameters).
fn upload_url(title: &str, config_id: &str) -> String {
    let mut params = Vec::new();
    if !title.trim().is_empty() {
        params.push(format!(
            "title={}",
            js_sys::encode_uri_component(title.trim())
        ));
    }
    if !config_id.is_empty() {
        params.push(format!(
            "configId={}",
            js_sys::encode_uri_component(config_id)
        ));
    }
    if params.is_empty() {
        "/api/imports".to_owned()
    } else {
        format!("/api/imports?{}", params.join("&"))
    }
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let configs = Remote::new(api::config_choices);
    let title = RwSignal::new(String::new());
    let config = RwSignal::new(String::new());
    let state = RwSignal::new(Upload::Idle);
    let error = RwSignal::new(None::<ApiError>);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let busy = move || matches!(state.get(), Upload::Sending(_) | Upload::Processing);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy() {
            return;
        }
        error.set(None);
        let file = file_input
            .get_untracked()
            .and_then(|el: HtmlInputElement| el.files())
            .and_then(|files| files.get(0));
        let Some(file) = file else {
            error.set(Some(ApiError::local("Choose an XML file first.")));
            return;
        };
        let url = upload_url(&title.get_untracked(), &config.get_untracked());
        if let Err(e) = send(&url, &file, state, error) {
            state.set(Upload::Idle);
            error.set(Some(e));
        }
    };

    let options = move || {
        show(configs.get(), move |list| {
            let items = list
                .into_iter()
                .map(|c| view! { <option value=c.id>{c.title}</option> })
                .collect_view();
            view! {
                <select id="import-config" bind:value=config>
                    <option value="">"None (no verdicts)"</option>
                    {items}
                </select>
            }
        })
    };

    view! {
        <div class="page-head"><h1>"Import"</h1></div>
        <section class="card" aria-labelledby="import-title">
            <h2 id="import-title">"nmap or masscan XML"</h2>
            <p class="hint">
                "Upload the XML output of nmap (" <code>"-oX"</code> ") or masscan. It is stored as a completed scan, "
                "with findings and reports; judged against a config, its ports are marked expected, unexpected or missing."
            </p>
            <form class="stacked-form" on:submit=submit>
                <label for="import-file">"File"</label>
                <input id="import-file" type="file" accept=".xml,application/xml,text/xml" node_ref=file_input required />
                <label for="import-config">"Judge against config (optional)"</label>
                {options}
                <label for="import-title-input">"Title (optional)"</label>
                <input id="import-title-input" type="text" autocomplete="off" maxlength="200" bind:value=title />
                <button type="submit" class="button" disabled=busy>
                    {move || if busy() { "Importing…" } else { "Import" }}
                </button>
            </form>
            {move || match state.get() {
                Upload::Sending(percent) => view! {
                    <div class="upload-progress">
                        <ProgressBar percent=percent label="Upload".to_owned() />
                    </div>
                }.into_any(),
                Upload::Processing => view! {
                    <p class="loading" role="status">"Uploaded; storing the scan…"</p>
                }.into_any(),
                Upload::Done(stored) => view! {
                    <p class="notice" role="status" data-imported=stored.id.clone()>
                        "Stored as scan "
                        <a href=Route::Scan(stored.id.clone()).href()>{format!("#{} {}", stored.id, stored.title)}</a>
                        {format!(": {} hosts, {} open ports.", stored.hosts_total, stored.open_ports)}
                    </p>
                }.into_any(),
                Upload::Idle => ().into_any(),
            }}
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
        </section>
    }
}

/// Sends the file with XMLHttpRequest (fetch reports no upload progress).
fn send(
    url: &str,
    file: &web_sys::File,
    state: RwSignal<Upload>,
    error: RwSignal<Option<ApiError>>,
) -> Result<(), ApiError> {
    let failed = |_| ApiError::new("the browser could not send the file", "NETWORK");
    let xhr = XmlHttpRequest::new().map_err(failed)?;
    xhr.open("POST", url).map_err(failed)?;
    xhr.set_request_header("Content-Type", "application/xml")
        .map_err(failed)?;
    state.set(Upload::Sending(0.0));

    let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |ev: ProgressEvent| {
        if ev.length_computable() && ev.total() > 0.0 {
            let percent = ev.loaded() / ev.total() * 100.0;
            state.try_set(if percent >= 100.0 {
                Upload::Processing
            } else {
                Upload::Sending(percent)
            });
        }
    });
    let upload = xhr.upload().map_err(failed)?;
    upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    on_progress.forget();

    let answered = xhr.clone();
    let on_load = Closure::<dyn FnMut()>::new(move || {
        let status = answered.status().unwrap_or(0);
        let text = answered.response_text().ok().flatten().unwrap_or_default();
        if status == 201 {
            match api::de::from_str::<Created>(&text) {
                Ok(created) => {
                    state.try_set(Upload::Done(created.scan));
                }
                Err(_) => {
                    state.try_set(Upload::Idle);
                    error.try_set(Some(ApiError::new(
                        "the server's answer was not understood",
                        "BAD_RESPONSE",
                    )));
                }
            }
        } else {
            state.try_set(Upload::Idle);
            error.try_set(Some(api::error_of_body(status, &text)));
        }
    });
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    on_load.forget();

    let on_error = Closure::<dyn FnMut()>::new(move || {
        state.try_set(Upload::Idle);
        error.try_set(Some(ApiError::new(
            "the upload failed (network)",
            "NETWORK",
        )));
    });
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();

    xhr.send_with_opt_blob(Some(file)).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_url_has_only_the_options_given() {
        assert_eq!(upload_url("", ""), "/api/imports");
    }
}
