//! The diff of any two scans (`/diff?base=<id>&head=<id>`): pick them from the completed
//! scans (the head's baseline is the default base), see the counts and every difference —
//! nmap ndiff's fields, plus HTTP, certificates and TLS versions.

use leptos::prelude::*;

use crate::api::ops::{self, DiffChoices, ScanDiff};
use crate::api::remote::Remote;
use crate::api::{self, ApiError};
use crate::components::error_box::{Empty, show};
use crate::components::pager::{Cursors, Pager};
use crate::route::Route;

const PAGE: i64 = 50;

type Entry = ops::scan_diff::ScanDiffScanDiffEntriesEdgesNode;
type Counts = ops::scan_diff::ScanDiffScanDiffCounts;

fn set_query(base: &str, head: &str) {
    if let Ok(history) = window().history() {
        let url = format!("/diff?base={base}&head={head}");
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

#[component]
pub fn DiffPage(base: Option<String>, head: Option<String>) -> impl IntoView {
    let base = RwSignal::new(base.unwrap_or_default());
    let head = RwSignal::new(head.unwrap_or_default());
    let chosen = RwSignal::new(false);
    let choices = Remote::new(|| async {
        api::call::<DiffChoices>(ops::diff_choices::Variables)
            .await
            .map(|d| {
                d.scans
                    .edges
                    .into_iter()
                    .map(|e| e.node)
                    .collect::<Vec<_>>()
            })
    });
    let rows = RwSignal::new(None::<Result<Vec<Entry>, ApiError>>);
    let counts = RwSignal::new(None::<Counts>);
    let cursors = Cursors::default();
    let load = move || {
        let (b, h) = (base.get_untracked(), head.get_untracked());
        if b.is_empty() || h.is_empty() {
            return;
        }
        chosen.set(true);
        set_query(&b, &h);
        let vars = ops::scan_diff::Variables {
            base_id: b,
            head_id: h,
            first: Some(PAGE),
            after: cursors.after(),
        };
        cursors.fill(rows, async move {
            let d = api::call::<ScanDiff>(vars).await?.scan_diff;
            counts.try_set(Some(d.counts));
            Ok(Some(crate::loaded!(d.entries)))
        });
    };
    load();
    let compare = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        cursors.reset();
        load();
    };

    view! {
        <div class="page-head"><h1>"Compare scans"</h1></div>
        <section class="card">
            {move || show(choices.get(), move |list| {
                if list.is_empty() {
                    return view! { <Empty>"No completed scan yet."</Empty> }.into_any();
                }
                // The head's baseline is the default base (`/diff?head=<id>`, from the scans list).
                if base.get_untracked().is_empty()
                    && let Some(b) = list.iter().find(|s| s.id == head.get_untracked()).and_then(|s| s.baseline.clone())
                {
                    base.set(b.id);
                    load();
                }
                let options = |list: &[ops::diff_choices::DiffChoicesScansEdgesNode]| list.iter().map(|s| {
                    let label = format!("#{} {} ({})", s.id, s.title, crate::format::maybe_timestamp(s.completed_at.as_deref()));
                    view! { <option value=s.id.clone()>{label}</option> }
                }).collect_view();
                view! {
                    <form class="inline-form" on:submit=compare>
                        <label for="diff-base">"Base"</label>
                        <select id="diff-base" bind:value=base>
                            <option value="">"choose…"</option>
                            {options(&list)}
                        </select>
                        <label for="diff-head">"Head"</label>
                        <select id="diff-head" bind:value=head>
                            <option value="">"choose…"</option>
                            {options(&list)}
                        </select>
                        <button type="submit" class="button">"Compare"</button>
                    </form>
                }.into_any()
            })}
        </section>
        {move || counts.get().map(|c| view! {
            <section class="stats" aria-label="Differences">
                <div class="stat"><span class="stat-value">{c.total}</span><span class="stat-label">"Differences"</span></div>
                <div class="stat"><span class="stat-value">{c.hosts_new}</span><span class="stat-label">"New hosts"</span></div>
                <div class="stat"><span class="stat-value">{c.hosts_down}</span><span class="stat-label">"Hosts down"</span></div>
                <div class="stat"><span class="stat-value">{c.ports_opened}</span><span class="stat-label">"Ports opened"</span></div>
                <div class="stat"><span class="stat-value">{c.ports_closed}</span><span class="stat-label">"Ports closed"</span></div>
                <div class="stat"><span class="stat-value">{c.changed}</span><span class="stat-label">"Other changes"</span></div>
            </section>
        })}
        <section class="card" hidden=move || !chosen.get()>
            {move || show(rows.get(), |list| {
                if list.is_empty() {
                    return view! { <Empty>"The two scans saw the same."</Empty> }.into_any();
                }
                view! {
                    <div class="table-wrap">
                    <table class="table diff">
                        <thead><tr>
                            <th scope="col">"Change"</th><th scope="col">"Where"</th><th scope="col">"What"</th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|e| {
                                let place = match (e.port, e.protocol) {
                                    (Some(p), Some(proto)) => format!("{} {}/{p}", e.address, proto.label()),
                                    _ => e.address.clone(),
                                };
                                view! {
                                    <tr class=format!("diff-entry kind-{}", e.kind.label().replace(' ', "-"))>
                                        <td>{e.kind.label()}</td>
                                        <td>{place}<span class="muted">{format!(" · {}", e.site)}</span></td>
                                        <td>{e.summary}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            })}
            <Pager cursors=cursors size=PAGE noun="differences" load=load />
        </section>
        <p class="hint">"Any two scans can be compared, in either order. A host the head did not scan is left out; a port it did not probe is unknown, not closed. "<a href=Route::Scans.href()>"All scans"</a></p>
    }
}
