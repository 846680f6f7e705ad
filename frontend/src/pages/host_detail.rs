//! One host of the inventory: what it is (state, first/last seen, last scan), what operators
//! say of it (tags, owner, notes; OPERATORs edit them), its open ports as last known, each
//! port's states over time drawn as bars, and its timeline of change events.

use leptos::prelude::*;

use crate::api::ops::{self, HostChanges, HostDetail, UpdateHost};
use crate::api::remote::{Remote, act_on};
use crate::api::{self, ApiError};
use crate::app::use_user;
use crate::components::changes::{ChangeRow, ChangeTable};
use crate::components::error_box::{Empty, ErrorBox, show};
use crate::components::pager::{Cursors, Pager};
use crate::format;
use crate::route::Route;

const CHANGES_PAGE: i64 = 25;

type Host = ops::host_detail::HostDetailHost;
type Interval = ops::host_detail::HostDetailHostPortIntervals;

/// Milliseconds since the epoch of an RFC 3339 time (NaN if unreadable).
fn millis(rfc3339: &str) -> f64 {
    js_sys::Date::parse(rfc3339)
}

/// Each port's intervals as bars over the time from the first observation to now: an open
/// interval is a green bar, any other state a grey one; an interval still holding runs to now.
#[component]
fn PortTimeline(intervals: Vec<Interval>) -> impl IntoView {
    if intervals.is_empty() {
        return view! { <Empty>"No port seen yet."</Empty> }.into_any();
    }
    let now = js_sys::Date::now();
    let start = intervals
        .iter()
        .map(|i| millis(&i.first_seen_at))
        .filter(|t| t.is_finite())
        .fold(now, f64::min);
    let span = (now - start).max(1.0);
    let mut ports: Vec<(String, Vec<Interval>)> = Vec::new();
    for i in intervals {
        let key = format!("{}/{}", i.protocol.label(), i.port);
        match ports.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(i),
            None => ports.push((key, vec![i])),
        }
    }
    ports.sort_by_key(|(k, _)| {
        let (proto, port) = k.split_once('/').unwrap_or((k.as_str(), "0"));
        (proto.to_owned(), port.parse::<u32>().unwrap_or(0))
    });
    view! {
        <div class="timeline" role="list" aria-label="Port states over time">
            <div class="timeline-axis muted">
                <span>{format::timestamp(&js_sys::Date::new(&start.into()).to_iso_string().as_string().unwrap_or_default())}</span>
                <span>"now"</span>
            </div>
            {ports.into_iter().map(|(key, list)| view! {
                <div class="timeline-row" role="listitem">
                    <span class="timeline-label mono">{key.clone()}</span>
                    <div class="timeline-track">
                        {list.into_iter().map(|i| {
                            let from = millis(&i.first_seen_at);
                            let to = i.ended_at.as_deref().map(millis).unwrap_or(now);
                            let left = ((from - start) / span * 100.0).clamp(0.0, 100.0);
                            // Not `clamp`: its min can exceed its max here (a bar starting after 99.2 %), and it panics.
                            let width = ((to - from) / span * 100.0).max(0.8).min(100.0 - left);
                            let title = format!(
                                "{key} {} from {} to {}",
                                i.state,
                                format::timestamp(&i.first_seen_at),
                                i.ended_at.as_deref().map(format::timestamp).unwrap_or_else(|| "now".into())
                            );
                            let class = if i.state == "open" { "bar open" } else { "bar other" };
                            view! {
                                <span class=class title=title.clone() aria-label=title
                                    style=format!("left:{};width:{}", format::css_percent(left), format::css_percent(width))></span>
                            }
                        }).collect_view()}
                    </div>
                </div>
            }).collect_view()}
        </div>
    }
    .into_any()
}

#[component]
fn EditHost(host: Host, #[prop(into)] on_saved: Callback<()>) -> impl IntoView {
    let tags = RwSignal::new(host.tags.join(", "));
    let owner = RwSignal::new(host.owner.clone().unwrap_or_default());
    let notes = RwSignal::new(host.notes.clone().unwrap_or_default());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let saved = RwSignal::new(false);
    let id = host.id.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let input = ops::update_host::UpdateHostInput {
            tags: Some(
                tags.get_untracked()
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            owner: Some(owner.get_untracked()),
            notes: Some(notes.get_untracked()),
        };
        let call = api::body::<UpdateHost>(ops::update_host::Variables {
            id: id.clone(),
            input,
        });
        act_on(busy, error, call, move |_| {
            saved.try_set(true);
            on_saved.run(());
        });
    };
    view! {
        <form class="form" on:submit=submit aria-label="Host details">
            <label for="host-tags">"Tags (comma-separated)"</label>
            <input id="host-tags" type="text" autocomplete="off" placeholder="prod, dmz" bind:value=tags />
            <label for="host-owner">"Owner"</label>
            <input id="host-owner" type="text" autocomplete="off" bind:value=owner />
            <label for="host-notes">"Notes"</label>
            <textarea id="host-notes" rows="3" bind:value=notes></textarea>
            <button type="submit" class="button" disabled=move || busy.get()>"Save"</button>
            {move || saved.get().then(|| view! { <p class="notice" role="status">"Saved."</p> })}
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
        </form>
    }
}

#[component]
pub fn HostDetailPage(id: String) -> impl IntoView {
    let host = Remote::new({
        let id = id.clone();
        move || {
            let id = id.clone();
            async move {
                api::call::<HostDetail>(ops::host_detail::Variables { id })
                    .await
                    .map(|d| d.host)
            }
        }
    });
    let operator = use_user().role.can_operate();
    view! {
        {move || show(host.get(), move |h| {
            let facts = view! {
                <dl class="facts">
                    <dt>"Site"</dt><dd>{h.site.clone()}</dd>
                    <dt>"Hostname"</dt><dd>{h.hostname.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"State"</dt><dd><span class=format!("badge host-{}", h.state)>{h.state.label()}</span></dd>
                    <dt>"Open ports"</dt><dd>{h.open_port_count}</dd>
                    <dt>"First seen"</dt><dd>{format::timestamp(&h.first_seen_at)}</dd>
                    <dt>"Last seen"</dt><dd>{format::timestamp(&h.last_seen_at)}</dd>
                    <dt>"Last up"</dt><dd>{format::maybe_timestamp(h.last_up_at.as_deref())}</dd>
                    <dt>"Last scan"</dt><dd>{match h.last_scan.clone() {
                        Some(s) => view! { <a href=Route::Scan(s.id.clone()).href()>{format!("#{} {}", s.id, s.title)}</a> }.into_any(),
                        None => view! { <span class="muted">"deleted"</span> }.into_any(),
                    }}</dd>
                    <dt>"Tags"</dt><dd>{h.tags.iter().map(|t| view! { <span class="badge tag">{t.clone()}</span>" " }).collect_view()}</dd>
                    <dt>"Owner"</dt><dd>{h.owner.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Notes"</dt><dd class="pre">{h.notes.clone().unwrap_or_else(|| "—".into())}</dd>
                </dl>
            };
            let ports = h.open_ports.clone();
            view! {
                <div class="page-head">
                    <h1>{format!("Host {}", h.address)}</h1>
                    <a href=Route::Hosts.href()>"All hosts"</a>
                </div>
                <section class="card" aria-labelledby="host-title">
                    <h2 id="host-title">"Details"</h2>
                    {facts}
                    {operator.then(|| view! { <EditHost host=h.clone() on_saved=move || host.refetch() /> })}
                </section>
                <section class="card" aria-labelledby="host-ports-title">
                    <h2 id="host-ports-title">"Open ports"</h2>
                    {if ports.is_empty() {
                        view! { <Empty>"No open port known."</Empty> }.into_any()
                    } else {
                        view! {
                            <div class="table-wrap">
                            <table class="table">
                                <thead><tr>
                                    <th scope="col">"Port"</th><th scope="col">"Service"</th>
                                    <th scope="col">"Open since"</th><th scope="col">"Last seen"</th>
                                </tr></thead>
                                <tbody>
                                    {ports.into_iter().map(|p| {
                                        let service = [p.name, p.product, p.version].into_iter().flatten().collect::<Vec<_>>().join(" ");
                                        view! {
                                            <tr>
                                                <td class="mono">{format!("{}/{}", p.port, p.protocol.label())}</td>
                                                <td>{service}</td>
                                                <td class="nowrap">{format::timestamp(&p.since)}</td>
                                                <td class="nowrap">{format::timestamp(&p.last_seen_at)}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            </div>
                        }.into_any()
                    }}
                </section>
                <section class="card" aria-labelledby="host-timeline-title">
                    <h2 id="host-timeline-title">"Ports over time"</h2>
                    <PortTimeline intervals=h.port_intervals.clone() />
                </section>
            }.into_any()
        })}
        <HostChangesCard id=id />
    }
}

#[component]
fn HostChangesCard(id: String) -> impl IntoView {
    let rows = RwSignal::new(None::<Result<Vec<ChangeRow>, ApiError>>);
    let cursors = Cursors::default();
    let load = move || {
        let vars = ops::host_changes::Variables {
            id: id.clone(),
            first: Some(CHANGES_PAGE),
            after: cursors.after(),
        };
        cursors.fill(rows, async move {
            let data = api::call::<HostChanges>(vars).await?;
            Ok(Some(
                crate::loaded!(data.host.changes).map(|n| crate::change_row!(n)),
            ))
        });
    };
    load();
    view! {
        <section class="card" aria-labelledby="host-changes-title">
            <h2 id="host-changes-title">"Timeline"</h2>
            {move || show(rows.get(), |list| {
                if list.is_empty() {
                    view! { <Empty>"No change recorded."</Empty> }.into_any()
                } else {
                    view! { <ChangeTable rows=list /> }.into_any()
                }
            })}
            <Pager cursors=cursors size=CHANGES_PAGE noun="changes" load=load />
        </section>
    }
}
