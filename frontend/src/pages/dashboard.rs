//! The landing page: headline numbers, the newest scans with live progress, and "Run scan".

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ops::{self, Scans};
use crate::api::remote::{Remote, act};
use crate::api::{self, ApiError, ScanStatus};
use crate::app::use_user;
use crate::components::changes::RecentChanges;
use crate::components::charts::DashboardCharts;
use crate::components::error_box::{Empty, ErrorBox, show};
use crate::components::scan_table::{ScanRow, ScanTable, follow_scans};
use crate::components::status::StatusBadge;
use crate::format;
use crate::route::Route;

const RECENT: i64 = 8;

/// The headline numbers: all scans, those queued or running, and the last finished one.
#[derive(Clone)]
struct Stats {
    total: i64,
    running: i64,
    last: Option<ScanRow>,
}

/// `scans(first, filter)`: the total and the rows.
async fn scans(
    first: i64,
    status: Option<Vec<ScanStatus>>,
) -> Result<(i64, Vec<ScanRow>), ApiError> {
    let data = api::call::<Scans>(ops::scans::Variables {
        first: Some(first),
        after: None,
        filter: status.map(|s| ops::scans::ScanFilter {
            status: Some(s),
            query: None,
        }),
    })
    .await?;
    Ok((
        data.scans.total_count,
        data.scans.edges.into_iter().map(|e| e.node).collect(),
    ))
}

/// The newest scans and the numbers: the same `Scans` operation three times (one set of
/// types in the wasm instead of a dashboard-only operation).
async fn load() -> Result<(Stats, Vec<ScanRow>), ApiError> {
    use ScanStatus::*;
    let (total, recent) = scans(RECENT, None).await?;
    let (running, _) = scans(1, Some(vec![Queued, Running])).await?;
    let (_, finished) = scans(1, Some(vec![Completed, Failed, Cancelled, Interrupted])).await?;
    let last = finished.into_iter().next();
    Ok((
        Stats {
            total,
            running,
            last,
        },
        recent,
    ))
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let stats = RwSignal::new(None::<Result<Stats, ApiError>>);
    let recent = RwSignal::new(None::<Result<Vec<ScanRow>, ApiError>>);
    let reload = move || {
        spawn_local(async move {
            let (s, r) = match load().await {
                Ok((s, r)) => (Ok(s), Ok(r)),
                Err(e) => (Err(e.clone()), Err(e)),
            };
            stats.try_set(Some(s));
            recent.try_set(Some(r));
        });
    };
    reload();
    follow_scans(recent, reload);

    view! {
        <div class="page-head">
            <h1>"Dashboard"</h1>
        </div>
        {move || show(stats.get(), |s| view! { <Cards stats=s /> })}
        {use_user().role.can_operate().then(|| view! { <RunScan on_started=reload /> })}
        <RecentChanges />
        <section class="card" aria-label="Trends"><DashboardCharts /></section>
        <section class="card" aria-labelledby="recent-title">
            <div class="card-head">
                <h2 id="recent-title">"Recent scans"</h2>
                <a href=Route::Scans.href()>"All scans"</a>
            </div>
            {move || show(recent.get(), move |rows| {
                if rows.is_empty() {
                    view! { <Empty>"No scans yet. Create a config, then run a scan."</Empty> }.into_any()
                } else {
                    view! { <ScanTable rows=rows on_change=reload /> }.into_any()
                }
            })}
        </section>
    }
}

#[component]
fn Cards(stats: Stats) -> impl IntoView {
    let last = stats.last;
    let card = |label: &'static str, value: String, class: &'static str| {
        view! {
            <div class=format!("stat {class}")>
                <span class="stat-value">{value}</span>
                <span class="stat-label">{label}</span>
            </div>
        }
    };
    let (hosts_up, open, unexpected, missing) = last
        .as_ref()
        .map(|l| {
            (
                format!("{} / {}", l.summary.hosts_up, l.summary.hosts_total),
                l.summary.open_ports.to_string(),
                l.summary.unexpected_ports,
                l.summary.missing_ports,
            )
        })
        .unwrap_or_else(|| ("—".into(), "—".into(), 0, 0));
    view! {
        <section class="stats" aria-label="Overview">
            {card("Scans", stats.total.to_string(), "")}
            {card("Running now", stats.running.to_string(), if stats.running > 0 { "live" } else { "" })}
            {card("Hosts up (last scan)", hosts_up, "")}
            {card("Open ports (last scan)", open, "")}
            {card("Unexpected ports", unexpected.to_string(), if unexpected > 0 { "bad" } else { "good" })}
            {card("Missing ports", missing.to_string(), if missing > 0 { "bad" } else { "good" })}
            <div class="stat wide">
                {match last {
                    Some(l) => view! {
                        <span class="stat-label">"Last scan"</span>
                        <a href=Route::Scan(l.id.clone()).href()>{l.title}</a>
                        <StatusBadge status=l.status />
                        <span class="muted">{format::maybe_timestamp(l.completed_at.as_deref())}</span>
                    }.into_any(),
                    None => view! { <span class="stat-label">"Last scan"</span><span class="muted">"none yet"</span> }.into_any(),
                }}
            </div>
        </section>
    }
}

/// Picks a config and queues a scan of it.
#[component]
fn RunScan(#[prop(into)] on_started: Callback<()>) -> impl IntoView {
    let configs = Remote::new(api::config_choices);
    let chosen = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let started = RwSignal::new(None::<String>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let config_id = chosen.get_untracked();
        if config_id.is_empty() {
            error.set(Some(ApiError::local("Choose a config to scan.")));
            return;
        }
        started.set(None);
        act(
            pending,
            error,
            api::start_config_scan(config_id),
            move |id| {
                started.try_set(Some(id));
                on_started.run(());
            },
        );
    };

    view! {
        <section class="card" aria-labelledby="run-title">
            <h2 id="run-title">"Run scan"</h2>
            {move || show(configs.get(), move |list| {
                if list.is_empty() {
                    return view! {
                        <Empty>"No configs yet. " <a href=Route::NewConfig.href()>"Create one"</a> " first."</Empty>
                    }.into_any();
                }
                if chosen.get_untracked().is_empty() {
                    chosen.set(list[0].id.clone());
                }
                let options = list.into_iter().map(|c| {
                    let label = format!("{} ({} addresses)", c.title, c.address_count);
                    view! { <option value=c.id>{label}</option> }
                }).collect_view();
                view! {
                    <form class="inline-form" on:submit=submit>
                        <label for="run-config">"Config"</label>
                        <select id="run-config" bind:value=chosen>{options}</select>
                        <button type="submit" class="button" disabled=move || pending.get()>
                            {move || if pending.get() { "Starting…" } else { "Run scan" }}
                        </button>
                    </form>
                }.into_any()
            })}
            {move || started.get().map(|id| view! {
                <p class="notice" role="status">
                    "Scan " <a href=Route::Scan(id.clone()).href()>{format!("#{id}")}</a> " queued."
                </p>
            })}
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
        </section>
    }
}
