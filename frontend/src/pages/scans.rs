//! Every scan, newest first: status filter, cursor pages, cancel and delete, live rows.

use leptos::prelude::*;

use crate::api::ops::{self, Scans};
use crate::api::{self, ApiError, ScanStatus};
use crate::components::error_box::{Empty, show};
use crate::components::pager::{Cursors, Pager};
use crate::components::scan_table::{ScanRow, ScanTable, follow_scans, status_options};

const PAGE: i64 = 20;

#[component]
pub fn ScansPage() -> impl IntoView {
    let rows = RwSignal::new(None::<Result<Vec<ScanRow>, ApiError>>);
    let status = RwSignal::new(String::new());
    let cursors = Cursors::default();

    let load = move || {
        let filter = ScanStatus::parse(&status.get_untracked()).map(|s| ops::scans::ScanFilter {
            status: Some(vec![s]),
        });
        let vars = ops::scans::Variables {
            first: Some(PAGE),
            after: cursors.after(),
            filter,
        };
        cursors.fill(rows, async move {
            Ok(Some(crate::loaded!(api::call::<Scans>(vars).await?.scans)))
        });
    };
    load();
    follow_scans(rows, load);

    let on_filter = move |ev: leptos::ev::Event| {
        status.set(event_target_value(&ev));
        cursors.reset();
        load();
    };

    view! {
        <div class="page-head">
            <h1>"Scans"</h1>
            <div class="filters">
                <label for="status-filter">"Status"</label>
                <select id="status-filter" on:change=on_filter>
                    <option value="">"All"</option>
                    {status_options()}
                </select>
            </div>
        </div>
        <section class="card">
            {move || show(rows.get(), move |list| {
                if list.is_empty() {
                    view! { <Empty>"No scans match."</Empty> }.into_any()
                } else {
                    view! { <ScanTable rows=list actions=true on_change=load /> }.into_any()
                }
            })}
            <Pager cursors=cursors size=PAGE noun="scans" load=load />
        </section>
    }
}
