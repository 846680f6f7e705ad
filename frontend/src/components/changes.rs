//! Change events as one table (a scan's "Changes since <baseline>", the dashboard's last
//! 24 hours, a host's timeline): kind, severity, where, what, when, and links to the host and
//! the scan that saw it.

use leptos::prelude::*;

use crate::api::enums::{ChangeKind, Severity, ViewPage};
use crate::components::search::page_href;
use crate::format;
use crate::route::Route;

/// A change event as the table shows it (every operation's node becomes one: `change_row!`).
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    pub kind: ChangeKind,
    pub severity: Severity,
    pub at: String,
    pub place: String,
    pub site: Option<String>,
    pub summary: String,
    pub scan_id: Option<String>,
    pub host_id: Option<String>,
}

/// The [`ChangeRow`] of a change node of any operation (same fields, distinct types).
#[macro_export]
macro_rules! change_row {
    ($node:expr) => {{
        let n = $node;
        let place = match (n.port, n.protocol) {
            (Some(port), Some(proto)) => format!(
                "{} {}/{port}",
                n.address.clone().unwrap_or_default(),
                proto.label()
            ),
            _ => n.address.clone().unwrap_or_default(),
        };
        $crate::components::changes::ChangeRow {
            kind: n.kind,
            severity: n.severity,
            at: n.at,
            place,
            site: n.site,
            summary: n.summary,
            scan_id: n.scan.map(|s| s.id),
            host_id: n.host.map(|h| h.id),
        }
    }};
}

#[component]
pub fn ChangeTable(
    rows: Vec<ChangeRow>,
    /// Show the scan column (off on a scan's own page).
    #[prop(default = true)]
    show_scan: bool,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
        <table class="table changes">
            <thead><tr>
                <th scope="col">"Severity"</th><th scope="col">"Change"</th>
                <th scope="col">"Where"</th><th scope="col">"What"</th><th scope="col">"When"</th>
                {show_scan.then(|| view! { <th scope="col">"Scan"</th> })}
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|c| {
                    let place = match &c.host_id {
                        Some(id) => view! { <a href=Route::Host(id.clone()).href()>{c.place.clone()}</a> }.into_any(),
                        None => view! { <span>{c.place.clone()}</span> }.into_any(),
                    };
                    let scan = c.scan_id.clone().map(|id| view! { <a href=Route::Scan(id.clone()).href()>{format!("#{id}")}</a> }.into_any())
                        .unwrap_or_else(|| view! { <span class="muted">"deleted"</span> }.into_any());
                    view! {
                        <tr class=format!("change kind-{}", c.kind.label().replace(' ', "-"))>
                            <td><span class=format!("badge sev-{}", c.severity)>{c.severity.label()}</span></td>
                            <td>{c.kind.label()}</td>
                            <td>{place}{c.site.clone().map(|s| view! { <span class="muted">{format!(" · {s}")}</span> })}</td>
                            <td>{c.summary.clone()}</td>
                            <td class="nowrap">{format::timestamp(&c.at)}</td>
                            {show_scan.then(|| view! { <td>{scan}</td> })}
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

const SCAN_CHANGES_PAGE: i64 = 25;

/// A completed scan's "Changes since <baseline>" card, with a link to the diff of the two.
#[component]
pub fn ScanChanges(id: String) -> impl IntoView {
    use crate::api::ops::{self, ScanChanges};
    use crate::api::{self, ApiError};
    use crate::components::error_box::{Empty, show};
    use crate::components::pager::{Cursors, Pager};

    let rows = RwSignal::new(None::<Result<Vec<ChangeRow>, ApiError>>);
    let baseline = RwSignal::new(None::<(String, String)>);
    let cursors = Cursors::default();
    let head = id.clone();
    let load = move || {
        let vars = ops::scan_changes::Variables {
            id: id.clone(),
            first: Some(SCAN_CHANGES_PAGE),
            after: cursors.after(),
        };
        cursors.fill(rows, async move {
            let data = api::call::<ScanChanges>(vars).await?;
            Ok(data.scan.map(|scan| {
                baseline.try_set(scan.baseline.map(|b| (b.id, b.title)));
                crate::loaded!(scan.changes).map(|n| crate::change_row!(n))
            }))
        });
    };
    load();
    view! {
        <section class="card" aria-labelledby="changes-title">
            <div class="card-head">
                <h2 id="changes-title">{move || match baseline.get() {
                    Some((id, title)) => format!("Changes since #{id} {title}"),
                    None => "Changes".to_owned(),
                }}</h2>
                {move || baseline.get().map(|(base, _)| view! {
                    <a href=format!("/diff?base={base}&head={head}")>"Compare with the baseline"</a>
                })}
            </div>
            {move || show(rows.get(), move |list| {
                if list.is_empty() {
                    let text = if baseline.get_untracked().is_some() {
                        "Nothing changed since the baseline."
                    } else {
                        "No baseline: the first scan of these hosts (or none was up)."
                    };
                    view! { <Empty>{text}</Empty> }.into_any()
                } else {
                    view! { <ChangeTable rows=list show_scan=false /> }.into_any()
                }
            })}
            <Pager cursors=cursors size=SCAN_CHANGES_PAGE noun="changes" load=load />
        </section>
    }
}

/// The dashboard's "What changed (24 h)" card: the newest changes of the last day.
#[component]
pub fn RecentChanges() -> impl IntoView {
    use crate::api::ops::{self, Changes};
    use crate::api::remote::Remote;
    use crate::api::{self};
    use crate::components::error_box::{Empty, show};

    let changes = Remote::new(|| async {
        api::call::<Changes>(ops::changes::Variables {
            first: Some(10),
            after: None,
            filter: None,
            since_hours: Some(24),
        })
        .await
        .map(|d| {
            let total = d.changes.total_count;
            let rows: Vec<ChangeRow> = d
                .changes
                .edges
                .into_iter()
                .map(|e| crate::change_row!(e.node))
                .collect();
            (total, rows)
        })
    });
    view! {
        <section class="card" aria-labelledby="recent-changes-title">
            <div class="card-head">
                <h2 id="recent-changes-title">"What changed (24 h)"</h2>
                <a href=page_href(ViewPage::Changes, "changed<24h")>"All changes"</a>
            </div>
            {move || show(changes.get(), |(total, rows)| {
                if rows.is_empty() {
                    view! { <Empty>"Nothing changed in the last 24 hours."</Empty> }.into_any()
                } else {
                    view! {
                        <p class="hint">{format!("{total} changes in the last 24 hours; the newest:")}</p>
                        <ChangeTable rows=rows />
                    }.into_any()
                }
            })}
        </section>
    }
}
