//! Saved scan configs: list, open for editing, delete, scan now.

use leptos::prelude::*;

use crate::api::ops::{self, DeleteScanConfig, ScanConfigs};
use crate::api::remote::{Remote, act, act_on};
use crate::api::{self, ApiError};
use crate::app::use_user;
use crate::components::confirm::ConfirmButton;
use crate::components::error_box::{Empty, ErrorBox, show};
use crate::format;
use crate::route::{Route, Router, use_router};

/// Queues a scan of config `config_id` and opens its page.
pub fn scan_now(
    router: Router,
    config_id: String,
    busy: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
) {
    act(busy, error, api::start_config_scan(config_id), move |id| {
        router.go(Route::Scan(id))
    });
}

/// Configs listed (the server's largest page).
const SHOWN: i64 = 100;

#[component]
pub fn ConfigsPage() -> impl IntoView {
    let configs = Remote::new(|| async {
        api::call::<ScanConfigs>(ops::scan_configs::Variables {
            first: Some(SHOWN),
            after: None,
        })
        .await
        .map(|d| {
            (
                d.scan_configs.total_count,
                d.scan_configs
                    .edges
                    .into_iter()
                    .map(|e| e.node)
                    .collect::<Vec<_>>(),
            )
        })
    });
    let can_operate = use_user().role.can_operate();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let router = use_router();

    view! {
        <div class="page-head">
            <h1>"Configs"</h1>
            {can_operate.then(|| view! { <a class="button" href=Route::NewConfig.href()>"New config"</a> })}
        </div>
        {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
        <section class="card">
            {move || show(configs.get(), move |(total, list)| {
                if list.is_empty() {
                    return view! { <Empty>"No configs yet."</Empty> }.into_any();
                }
                view! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr>
                            <th scope="col">"Config"</th><th scope="col">"Sites"</th>
                            <th scope="col" class="num">"Addresses"</th><th scope="col">"Updated"</th>
                            {can_operate.then(|| view! { <th scope="col">"Actions"</th> })}
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|c| {
                                let (scan_id, delete_id) = (c.id.clone(), c.id.clone());
                                view! {
                                    <tr data-config-id=c.id.clone()>
                                        <td><a href=Route::Config(c.id.clone()).href()>{c.title.clone()}</a></td>
                                        <td>{c.site_names.join(", ")}</td>
                                        <td class="num">{c.address_count}</td>
                                        <td class="nowrap">{format::timestamp(&c.updated_at)}</td>
                                        {can_operate.then(|| view! {
                                            <td class="actions">
                                                <button type="button" class="button small" disabled=move || busy.get()
                                                    on:click=move |_| scan_now(router, scan_id.clone(), busy, error)>
                                                    "Scan now"
                                                </button>
                                                <ConfirmButton label="Delete" what=format!("config “{}”", c.title) disabled=busy
                                                    on_confirm=move || {
                                                        let id = delete_id.clone();
                                                        act_on(busy, error,
                                                            api::body::<DeleteScanConfig>(ops::delete_scan_config::Variables { id }),
                                                            move |_| configs.refetch());
                                                    }
                                                />
                                            </td>
                                        })}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                    <p class="muted">
                        {if total > SHOWN {
                            format!("The newest {SHOWN} of {total} configs.")
                        } else {
                            format!("{total} configs")
                        }}
                    </p>
                }.into_any()
            })}
        </section>
    }
}
