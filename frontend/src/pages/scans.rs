//! Every scan, newest first: status filter, cursor pages, cancel and delete, live rows.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ops::{self, Scans};
use crate::api::{self, ApiError, ScanStatus};
use crate::components::error_box::{Empty, show};
use crate::components::scan_table::{ScanRow, ScanTable, follow_scans, status_options};

const PAGE: i64 = 20;

#[derive(Clone, Debug, PartialEq)]
struct Page {
    total: i64,
    next: Option<String>,
}

#[component]
pub fn ScansPage() -> impl IntoView {
    let rows = RwSignal::new(None::<Result<Vec<ScanRow>, ApiError>>);
    let page = RwSignal::new(Page {
        total: 0,
        next: None,
    });
    let status = RwSignal::new(String::new());
    // Cursors of the pages before the current one (`None` = the first page).
    let previous = RwSignal::new(Vec::<Option<String>>::new());
    let current = RwSignal::new(None::<String>);

    let load = move || {
        let after = current.get_untracked();
        let filter = ScanStatus::parse(&status.get_untracked()).map(|s| ops::scans::ScanFilter {
            status: Some(vec![s]),
        });
        spawn_local(async move {
            let result = api::call::<Scans>(ops::scans::Variables {
                first: Some(PAGE),
                after,
                filter,
            })
            .await;
            match result {
                Ok(d) => {
                    page.try_set(Page {
                        total: d.scans.total_count,
                        next: d
                            .scans
                            .page_info
                            .has_next_page
                            .then_some(d.scans.page_info.end_cursor)
                            .flatten(),
                    });
                    rows.try_set(Some(Ok(d
                        .scans
                        .edges
                        .into_iter()
                        .map(|e| e.node)
                        .collect())));
                }
                Err(e) => {
                    rows.try_set(Some(Err(e)));
                }
            }
        });
    };
    load();
    follow_scans(rows, load);

    let on_filter = move |ev: leptos::ev::Event| {
        status.set(event_target_value(&ev));
        previous.set(Vec::new());
        current.set(None);
        load();
    };
    let next_page = move |_| {
        if let Some(cursor) = page.get_untracked().next {
            previous.update(|p| p.push(current.get_untracked()));
            current.set(Some(cursor));
            load();
        }
    };
    let previous_page = move |_| {
        if let Some(Some(cursor_or_first)) = previous.try_update(|p| p.pop()) {
            current.set(cursor_or_first);
            load();
        }
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
            <nav class="pager" aria-label="Pages">
                <button
                    type="button"
                    class="button secondary small"
                    disabled=move || previous.with(Vec::is_empty)
                    on:click=previous_page
                >
                    "Previous"
                </button>
                <span class="muted">
                    {move || {
                        let shown = previous.with(Vec::len) as i64 * PAGE;
                        let total = page.get().total;
                        if total == 0 {
                            "0 scans".to_owned()
                        } else {
                            format!("{}–{} of {total}", shown + 1, (shown + PAGE).min(total))
                        }
                    }}
                </span>
                <button
                    type="button"
                    class="button secondary small"
                    disabled=move || page.get().next.is_none()
                    on:click=next_page
                >
                    "Next"
                </button>
            </nav>
        </section>
    }
}
