//! The host inventory: every (site, address) ever seen up, newest first, with its state as
//! last seen, open ports, first/last seen, tags and owner; a search over them; cursor pages.

use leptos::prelude::*;

use crate::api::enums::ViewPage;
use crate::api::ops::{self, Hosts};
use crate::api::{self, ApiError};
use crate::components::charts::InventoryCharts;
use crate::components::error_box::{Empty, show};
use crate::components::pager::{Cursors, Pager};
use crate::components::search::{SearchBar, filter_in_address_bar};
use crate::format;
use crate::route::Route;

const PAGE: i64 = 50;

pub type HostRow = ops::hosts::HostsHostsEdgesNode;

#[component]
pub fn HostsPage() -> impl IntoView {
    let rows = RwSignal::new(None::<Result<Vec<HostRow>, ApiError>>);
    let filter = RwSignal::new(filter_in_address_bar());
    let cursors = Cursors::default();
    let load = move || {
        let text = filter.get_untracked().trim().to_owned();
        let vars = ops::hosts::Variables {
            first: Some(PAGE),
            after: cursors.after(),
            filter: (!text.is_empty()).then_some(text),
        };
        cursors.fill(rows, async move {
            Ok(Some(crate::loaded!(api::call::<Hosts>(vars).await?.hosts)))
        });
    };
    load();
    let search = Callback::new(move |()| {
        cursors.reset();
        load();
    });

    view! {
        <div class="page-head">
            <h1>"Hosts"</h1>
        </div>
        <SearchBar page=ViewPage::Hosts filter=filter on_search=search export="hosts"
            placeholder="port:443 -product:nginx site:dmz tag:prod" />
        <section class="card">
            <p class="hint">"Every host a scan or an import has seen up. A port a later scan did not probe stays known open; a host that is down closes no port. Search with the filter language: "<code>"port:443 -product:nginx"</code>", "<code>"address:10.0.0.0/8 tag:prod"</code>", "<code>"(port:80 OR port:8080) seen<24h"</code>"."</p>
            {move || show(rows.get(), |list| {
                if list.is_empty() {
                    return view! { <Empty>"No hosts match. Hosts appear here when a scan completes."</Empty> }.into_any();
                }
                view! {
                    <div class="table-wrap">
                    <table class="table hosts">
                        <thead><tr>
                            <th scope="col">"Address"</th><th scope="col">"Site"</th><th scope="col">"Hostname"</th>
                            <th scope="col">"State"</th><th scope="col">"Open ports"</th>
                            <th scope="col">"First seen"</th><th scope="col">"Last seen"</th>
                            <th scope="col">"Tags"</th><th scope="col">"Owner"</th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|h| view! {
                                <tr>
                                    <td><a href=Route::Host(h.id.clone()).href()>{h.address.clone()}</a></td>
                                    <td>{h.site.clone()}</td>
                                    <td>{h.hostname.clone().unwrap_or_default()}</td>
                                    <td><span class=format!("badge host-{}", h.state)>{h.state.label()}</span></td>
                                    <td class="num">{h.open_port_count}</td>
                                    <td class="nowrap">{format::timestamp(&h.first_seen_at)}</td>
                                    <td class="nowrap">{format::timestamp(&h.last_seen_at)}</td>
                                    <td>{h.tags.iter().map(|t| view! { <span class="badge tag">{t.clone()}</span>" " }).collect_view()}</td>
                                    <td>{h.owner.clone().unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            })}
            <Pager cursors=cursors size=PAGE noun="hosts" load=load />
        </section>
        <section class="card" aria-label="Charts"><InventoryCharts certificates=false /></section>
    }
}
