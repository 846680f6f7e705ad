//! Every scan, newest first: status filter, cursor pages, cancel and delete, live rows.

use leptos::prelude::*;

use crate::api::enums::ViewPage;
use crate::api::ops::{self, Scans};
use crate::api::{self, ApiError, ScanStatus};
use crate::components::error_box::{Empty, show};
use crate::components::pager::{Cursors, Pager};
use crate::components::scan_table::{ScanRow, ScanTable, follow_scans, status_options};
use crate::components::search::{SearchBar, filter_in_address_bar};

const PAGE: i64 = 20;

#[component]
pub fn ScansPage() -> impl IntoView {
    let rows = RwSignal::new(None::<Result<Vec<ScanRow>, ApiError>>);
    let status = RwSignal::new(String::new());
    let query = RwSignal::new(filter_in_address_bar());
    let cursors = Cursors::default();

    let load = move || {
        let text = query.get_untracked().trim().to_owned();
        let filter = Some(ops::scans::ScanFilter {
            status: ScanStatus::parse(&status.get_untracked()).map(|s| vec![s]),
            query: (!text.is_empty()).then_some(text),
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

    let search = Callback::new(move |()| {
        cursors.reset();
        load();
    });
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
        <SearchBar page=ViewPage::Scans filter=query on_search=search
            placeholder="port:443 kind:PORT_OPENED seen<7d" />
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
