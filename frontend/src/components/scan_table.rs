//! The scans table shared by the dashboard and the scans page, kept live by `scanUpdates`.

use leptos::prelude::*;

use crate::api::ops::{self, CancelScan, DeleteScan, ScanUpdates};
use crate::api::remote::act_on;
use crate::api::{self, ApiError, ScanStatus};
use crate::app::use_user;
use crate::components::confirm::ConfirmButton;
use crate::components::status::{ProgressBar, StatusBadge};
use crate::format;
use crate::route::Route;

pub type ScanRow = ops::scans::ScansScansEdgesNode;
pub type ScanEvent = ops::scan_updates::ScanUpdatesScanUpdates;

/// What an event did to a list of rows.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// The row was updated in place; `finished` when it reached a terminal status.
    Updated { finished: bool },
    /// No row has that id (a new scan, or one on another page).
    Unknown,
}

/// Copies a progress event into its row.
pub fn apply(rows: &mut [ScanRow], ev: &ScanEvent) -> Applied {
    let Some(row) = rows.iter_mut().find(|r| r.id == ev.scan_id) else {
        return Applied::Unknown;
    };
    let finished = ev.status.is_terminal() && !row.status.is_terminal();
    row.status = ev.status;
    row.phase = ev.phase;
    row.percent = ev.percent;
    row.message = ev.message.clone();
    row.summary.hosts_up = ev.hosts_up;
    row.summary.open_ports = ev.open_ports;
    Applied::Updated { finished }
}

/// Whether an event calls for reloading the rows: a row finished, or a scan the rows do not
/// show started or finished (it may belong in them). Progress of an unknown scan that is
/// already running reloads at most every [`UNKNOWN_RELOAD_MS`] (a filtered page would
/// otherwise reload at every progress line of scans it does not show).
pub fn needs_reload(applied: &Applied, ev: &ScanEvent, ms_since_reload: f64) -> bool {
    match applied {
        Applied::Updated { finished } => *finished,
        Applied::Unknown => {
            ev.status != ScanStatus::Running || ms_since_reload >= UNKNOWN_RELOAD_MS
        }
    }
}

pub const UNKNOWN_RELOAD_MS: f64 = 5_000.0;

/// Follows every scan's progress while the page is open: rows update in place, and
/// `on_change` runs when the rows may have to change (see [`needs_reload`]).
pub fn follow_scans(
    rows: RwSignal<Option<Result<Vec<ScanRow>, ApiError>>>,
    on_change: impl Fn() + 'static,
) {
    let last_reload = std::rc::Rc::new(std::cell::Cell::new(js_sys::Date::now()));
    let on_change = std::rc::Rc::new(on_change);
    let (resume_change, resume_reload) = (on_change.clone(), last_reload.clone());
    api::ws::subscribe::<ScanUpdates>(
        ops::scan_updates::Variables,
        move |data| {
            let ev = data.scan_updates;
            let mut applied = Applied::Unknown;
            rows.update(|r| {
                if let Some(Ok(rows)) = r {
                    applied = apply(rows, &ev);
                }
            });
            let now = js_sys::Date::now();
            if needs_reload(&applied, &ev, now - last_reload.get()) {
                last_reload.set(now);
                on_change();
            }
        },
        |_| {},
        // Events of the gap are lost: load the rows again.
        move || {
            resume_reload.set(js_sys::Date::now());
            resume_change();
        },
    );
}

/// The scans as a table; with `actions`, operators get Cancel and Delete.
#[component]
pub fn ScanTable(
    rows: Vec<ScanRow>,
    #[prop(optional)] actions: bool,
    /// Runs after a cancel or delete succeeded (reload).
    #[prop(into)]
    on_change: Callback<()>,
) -> impl IntoView {
    let can_operate = use_user().role.can_operate();
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let body = rows
        .into_iter()
        .map(|row| {
            let id = row.id.clone();
            let status = row.status;
            let percent = row.percent;
            let live = !status.is_terminal();
            let when = row
                .completed_at
                .clone()
                .unwrap_or_else(|| row.created_at.clone());
            let (cancel_id, delete_id) = (id.clone(), id.clone());
            let action_cell = (actions && can_operate).then(|| {
                view! {
                    <td class="actions">
                        {live.then(|| view! {
                            <ConfirmButton
                                label="Cancel"
                                what=format!("scan {cancel_id}")
                                disabled=busy
                                on_confirm=move || {
                                    let id = cancel_id.clone();
                                    act_on(
                                        busy,
                                        error,
                                        api::body::<CancelScan>(ops::cancel_scan::Variables { id }),
                                        move |_| on_change.run(()),
                                    );
                                }
                            />
                        })}
                        {(!live).then(|| view! {
                            <ConfirmButton
                                label="Delete"
                                what=format!("scan {delete_id}")
                                disabled=busy
                                on_confirm=move || {
                                    let id = delete_id.clone();
                                    act_on(
                                        busy,
                                        error,
                                        api::body::<DeleteScan>(ops::delete_scan::Variables { id }),
                                        move |_| on_change.run(()),
                                    );
                                }
                            />
                        })}
                    </td>
                }
            });
            let findings = row.summary.unexpected_ports + row.summary.missing_ports;
            let findings_class = if findings > 0 { "warn" } else { "" };
            view! {
                <tr data-scan-id=id.clone()>
                    <td>
                        <a href=Route::Scan(id.clone()).href()>{row.title}</a>
                        {(status == crate::api::ScanStatus::Completed).then(|| view! {
                            " " <a class="compare" href=format!("/diff?head={id}") title="Compare with another scan">"compare"</a>
                        })}
                    </td>
                    <td><StatusBadge status=status /></td>
                    <td class="progress-cell">
                        {if live {
                            view! {
                                <ProgressBar percent=percent label=format!("Scan {id} progress") />
                                <span class="phase">{row.phase.label()}</span>
                            }
                                .into_any()
                        } else {
                            view! {
                                <span class="muted">
                                    {row.error_message.unwrap_or_else(|| "—".to_owned())}
                                </span>
                            }
                                .into_any()
                        }}
                    </td>
                    <td class="num">{row.summary.hosts_up}</td>
                    <td class="num">{row.summary.open_ports}</td>
                    <td class="num">
                        <span class=findings_class>{findings}</span>
                    </td>
                    <td class="nowrap">{format::timestamp(&when)}</td>
                    {action_cell}
                </tr>
            }
        })
        .collect_view();
    view! {
        {move || error.get().map(|e| view! { <crate::components::error_box::ErrorBox error=e /> })}
        <div class="table-wrap">
            <table class="table scans-table">
                <thead>
                    <tr>
                        <th scope="col">"Scan"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Progress"</th>
                        <th scope="col" class="num">"Hosts up"</th>
                        <th scope="col" class="num">"Open ports"</th>
                        <th scope="col" class="num" title="Unexpected + missing ports">"Findings"</th>
                        <th scope="col">"Finished / created"</th>
                        {(actions && can_operate).then(|| view! { <th scope="col">"Actions"</th> })}
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
}

/// Status as a `<select>`-friendly list for filters.
pub fn status_options() -> impl IntoView {
    ScanStatus::ALL
        .into_iter()
        .map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> })
        .collect_view()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(status: ScanStatus) -> ScanEvent {
        ScanEvent {
            scan_id: "9".into(),
            status,
            phase: crate::api::enums::ScanPhase::Tcp,
            percent: 40.0,
            message: None,
            hosts_up: 1,
            open_ports: 2,
        }
    }

    #[test]
    fn needs_reload_when_rows_may_change_and_throttles_unknown_progress() {
        let running = event(ScanStatus::Running);
        let done = event(ScanStatus::Completed);
        let queued = event(ScanStatus::Queued);
        assert!(!needs_reload(
            &Applied::Updated { finished: false },
            &running,
            0.0
        ));
        assert!(needs_reload(
            &Applied::Updated { finished: true },
            &done,
            0.0
        ));
        assert!(needs_reload(&Applied::Unknown, &queued, 0.0), "a new scan");
        assert!(
            needs_reload(&Applied::Unknown, &done, 0.0),
            "a scan finished elsewhere"
        );
        assert!(
            !needs_reload(&Applied::Unknown, &running, 1_000.0),
            "throttled"
        );
        assert!(
            needs_reload(&Applied::Unknown, &running, 6_000.0),
            "missed its start"
        );
    }
}
