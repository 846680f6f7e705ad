//! The YAML editor: create or edit a config; the server's validation errors are shown at
//! their line (gutter mark and message), "Check" validates without saving.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ops::{
    self, CreateScanConfig, ScanConfigDetail, UpdateScanConfig, ValidateScanConfig,
};
use crate::api::remote::act;
use crate::api::{self, ApiError};
use crate::app::use_user;
use crate::components::error_box::{ErrorBox, show};
use crate::format;
use crate::pages::configs::scan_now;
use crate::route::{Route, use_router};

const TEMPLATE: &str = "title: Loopback lab
sites:
  - name: Lab services
    ips:
      - address: 127.0.0.1
        expected: { ping: true, tcp_ports: [22, 8080] }
    cidrs:
      - cidr: 127.0.10.0/28
        expected: { ping: true, tcp_ports: [80] }
scan:
  tcp_ports: \"1-1024,8080,8443\"
";

#[component]
pub fn ConfigEditPage(id: Option<String>) -> impl IntoView {
    let loaded = RwSignal::new(if id.is_none() {
        Some(Ok(()))
    } else {
        None::<Result<(), ApiError>>
    });
    let yaml = RwSignal::new(if id.is_none() {
        TEMPLATE.to_owned()
    } else {
        String::new()
    });
    let title = RwSignal::new(String::new());
    if let Some(id) = id.clone() {
        spawn_local(async move {
            let r = api::call::<ScanConfigDetail>(ops::scan_config_detail::Variables { id }).await;
            match r {
                Ok(d) => match d.scan_config {
                    Some(c) => {
                        yaml.try_set(c.yaml);
                        title.try_set(c.title);
                        loaded.try_set(Some(Ok(())));
                    }
                    None => {
                        loaded.try_set(Some(Err(ApiError::new(
                            "There is no such config.",
                            "NOT_FOUND",
                        ))));
                    }
                },
                Err(e) => {
                    loaded.try_set(Some(Err(e)));
                }
            }
        });
    }
    let can_edit = use_user().role.can_operate();
    let router = use_router();
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let is_new = id.is_none();
    let id = StoredValue::new(id);

    let check = move |_| {
        notice.set(None);
        let validate = api::call::<ValidateScanConfig>(ops::validate_scan_config::Variables {
            yaml: yaml.get_untracked(),
        });
        act(busy, error, validate, move |d| {
            notice.try_set(Some(format!("Valid: “{}”.", d.validate_scan_config)));
        });
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        notice.set(None);
        let source = yaml.get_untracked();
        let existing = id.get_value();
        let save = async move {
            match existing {
                None => api::call::<CreateScanConfig>(ops::create_scan_config::Variables {
                    yaml: source,
                })
                .await
                .map(|d| (d.create_scan_config.id, d.create_scan_config.title)),
                Some(id) => api::call::<UpdateScanConfig>(ops::update_scan_config::Variables {
                    id,
                    yaml: source,
                })
                .await
                .map(|d| (d.update_scan_config.id, d.update_scan_config.title)),
            }
        };
        act(busy, error, save, move |(new_id, new_title)| {
            title.try_set(new_title.clone());
            notice.try_set(Some(format!("Saved “{new_title}”.")));
            if is_new {
                router.go(Route::Config(new_id));
            }
        });
    };
    let error_line = move || error.with(|e| e.as_ref().and_then(|e| e.line));

    view! {
        <div class="page-head">
            <h1>{move || if is_new { "New config".to_owned() } else { format!("Config: {}", title.get()) }}</h1>
            <a href=Route::Configs.href()>"All configs"</a>
        </div>
        {move || show(loaded.get(), move |()| view! {
            <form class="card editor-form" on:submit=save>
                <label for="yaml">"YAML"</label>
                <p class="hint">"Sites → IPs/CIDRs → expected ping and ports. Targets must be inside the scope (Settings)."</p>
                <div class="editor">
                    <ol class="gutter" aria-hidden="true">
                        {move || {
                            let bad = error_line();
                            (1..=format::line_count(&yaml.get())).map(|n| {
                                let mark = bad == Some(n as u64);
                                view! { <li class:error-line=mark>{n}</li> }
                            }).collect_view()
                        }}
                    </ol>
                    <textarea
                        id="yaml"
                        name="yaml"
                        spellcheck="false"
                        autocapitalize="none"
                        wrap="off"
                        rows=move || (format::line_count(&yaml.get()) + 1).max(22).to_string()
                        readonly=!can_edit
                        aria-invalid=move || error.with(Option::is_some).to_string()
                        aria-describedby="yaml-error"
                        bind:value=yaml
                    ></textarea>
                </div>
                <div id="yaml-error">{move || error.get().map(|e| view! { <ErrorBox error=e /> })}</div>
                {move || notice.get().map(|n| view! { <p class="notice" role="status">{n}</p> })}
                {can_edit.then(|| view! {
                    <div class="form-actions">
                        <button type="submit" class="button" disabled=move || busy.get()>"Save"</button>
                        <button type="button" class="button secondary" disabled=move || busy.get() on:click=check>"Check"</button>
                        {(!is_new).then(|| view! {
                            <button type="button" class="button secondary" disabled=move || busy.get()
                                on:click=move |_| {
                                    if let Some(id) = id.get_value() { scan_now(router, id, busy, error) }
                                }>
                                "Scan now"
                            </button>
                        })}
                    </div>
                })}
            </form>
        })}
    }
}
