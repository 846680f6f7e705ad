//! Workers: the processes that run scans (`serve` with its worker, `sneakyscan worker`), which
//! are online, what they run; refreshed every 10 s.

use leptos::prelude::*;

use crate::api;
use crate::api::ops::{self, Workers};
use crate::api::remote::Remote;
use crate::components::error_box::{Empty, show};
use crate::format;

/// How often the list is read again.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

#[component]
pub fn WorkersPage() -> impl IntoView {
    let workers = Remote::new(|| async {
        api::call::<Workers>(ops::workers::Variables)
            .await
            .map(|d| d.workers)
    });
    if let Ok(tick) = set_interval_with_handle(move || workers.refetch(), REFRESH) {
        on_cleanup(move || tick.clear());
    }

    view! {
        <div class="page-head"><h1>"Workers"</h1></div>
        <section class="card" aria-labelledby="workers-title">
            <h2 id="workers-title">"Processes that run scans"</h2>
            <p class="hint">"A worker is online while it renews its lease; the scans of a worker that stops answering are taken over by another one."</p>
            {move || show(workers.get(), move |list| {
                if list.is_empty() {
                    return view! { <Empty>"No worker has registered: start " <code>"sneakyscan serve"</code> " or " <code>"sneakyscan worker"</code> "."</Empty> }.into_any();
                }
                view! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"State"</th><th scope="col">"Running scans"</th>
                            <th scope="col">"Host"</th><th scope="col">"Version"</th>
                            <th scope="col">"Started"</th><th scope="col">"Last seen"</th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|w| {
                                let state = if w.online {
                                    view! { <span class="badge good">"online"</span> }.into_any()
                                } else if w.stopped_at.is_some() {
                                    view! { <span class="badge">"stopped"</span> }.into_any()
                                } else {
                                    view! { <span class="badge bad">"offline"</span> }.into_any()
                                };
                                view! {
                                    <tr data-worker=w.name.clone()>
                                        <td class="mono">{w.name.clone()}</td>
                                        <td>{state}</td>
                                        <td>{w.running_scans}</td>
                                        <td>{w.host.clone()}" (pid "{w.pid}")"</td>
                                        <td>{w.version.clone()}</td>
                                        <td class="nowrap">{format::timestamp(&w.started_at)}</td>
                                        <td class="nowrap">{format::timestamp(&w.last_seen)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            })}
        </section>
    }
}
