//! The certificate inventory: every certificate seen, by SHA-256 fingerprint, soonest expiry
//! first, with days left and where it is served (and was).

use leptos::prelude::*;

use crate::api::enums::ViewPage;
use crate::api::ops::{self, Certificates};
use crate::api::{self, ApiError};
use crate::components::charts::InventoryCharts;
use crate::components::error_box::{Empty, show};
use crate::components::pager::{Cursors, Pager};
use crate::components::search::{SearchBar, filter_in_address_bar};
use crate::format;
use crate::route::Route;

const PAGE: i64 = 50;

type CertRow = ops::certificates::CertificatesCertificatesEdgesNode;

fn days(left: Option<i64>) -> AnyView {
    match left {
        Some(d) if d < 0 => {
            view! { <span class="badge bad">{format!("expired {} d ago", -d)}</span> }.into_any()
        }
        Some(d) if d <= 30 => {
            view! { <span class="badge sev-medium">{format!("{d} d")}</span> }.into_any()
        }
        Some(d) => view! { <span class="badge good">{format!("{d} d")}</span> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    }
}

#[component]
pub fn CertificatesPage() -> impl IntoView {
    let rows = RwSignal::new(None::<Result<Vec<CertRow>, ApiError>>);
    let filter = RwSignal::new(filter_in_address_bar());
    let cursors = Cursors::default();
    let load = move || {
        let text = filter.get_untracked().trim().to_owned();
        let vars = ops::certificates::Variables {
            first: Some(PAGE),
            after: cursors.after(),
            filter: (!text.is_empty()).then_some(text),
        };
        cursors.fill(rows, async move {
            Ok(Some(crate::loaded!(
                api::call::<Certificates>(vars).await?.certificates
            )))
        });
    };
    load();
    let search = Callback::new(move |()| {
        cursors.reset();
        load();
    });

    view! {
        <div class="page-head">
            <h1>"Certificates"</h1>
        </div>
        <SearchBar page=ViewPage::Certificates filter=filter on_search=search
            placeholder="cert.expires<30d cert.issuer:\"Let's Encrypt\" site:dmz" />
        <section class="card">
            {move || show(rows.get(), |list| {
                if list.is_empty() {
                    return view! { <Empty>"No certificates yet. They are collected by scans with the TLS phase."</Empty> }.into_any();
                }
                view! {
                    <div class="table-wrap">
                    <table class="table certificates">
                        <thead><tr>
                            <th scope="col">"Days left"</th><th scope="col">"Subject"</th><th scope="col">"Issuer"</th>
                            <th scope="col">"Expires"</th><th scope="col">"Key"</th><th scope="col">"Served at"</th>
                            <th scope="col">"First seen"</th><th scope="col">"SHA-256"</th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|c| {
                                let key = match (c.key_type.clone(), c.key_bits) {
                                    (Some(t), Some(b)) => format!("{t} {b}"),
                                    (Some(t), None) => t,
                                    _ => "—".into(),
                                };
                                let short: String = c.sha256_fingerprint.chars().take(23).collect();
                                view! {
                                    <tr>
                                        <td>{days(c.days_left)}</td>
                                        <td>{c.subject.clone()}{c.self_signed.then(|| view! { " " <span class="badge">"self-signed"</span> })}</td>
                                        <td>{c.issuer.clone()}</td>
                                        <td class="nowrap">{format::maybe_timestamp(c.not_after.as_deref())}</td>
                                        <td>{key}</td>
                                        <td>
                                            <ul class="plain">
                                                {c.endpoints.into_iter().map(|e| {
                                                    let label = format!("{}:{} ({})", e.host.address, e.port, e.host.site);
                                                    view! {
                                                        <li>
                                                            <a href=Route::Host(e.host.id.clone()).href()>{label}</a>
                                                            {(!e.current).then(|| view! { " " <span class="muted">"(before)"</span> })}
                                                        </li>
                                                    }
                                                }).collect_view()}
                                            </ul>
                                        </td>
                                        <td class="nowrap">{format::timestamp(&c.first_seen_at)}</td>
                                        <td><code title=c.sha256_fingerprint.clone()>{short}"…"</code></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            })}
            <Pager cursors=cursors size=PAGE noun="certificates" load=load />
        </section>
        <section class="card" aria-label="Charts"><InventoryCharts certificates=true /></section>
    }
}
