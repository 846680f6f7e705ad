//! Hand-written SVG charts (no chart library): horizontal bars (top services and products,
//! TLS versions, certificate expiry, changes per scan stacked by kind) and lines (open ports
//! over time per config). Each has a table twin for screen readers (the SVG is hidden from
//! them), and each bar or point is a link that opens the list it counts.

use leptos::prelude::*;

/// One bar: its parts (name, count; one part for a plain bar) and where a click goes.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub parts: Vec<(String, i64)>,
    pub href: Option<String>,
}

impl Bar {
    fn total(&self) -> i64 {
        self.parts.iter().map(|(_, n)| n).sum()
    }
}

// Geometry in whole SVG units (the viewBox is 560 wide): integers keep float formatting, about
// 10 KB of wasm, out of the app.
const ROW: i64 = 24;
const LABEL_W: i64 = 150;
const WIDTH: i64 = 560;

/// The colour class of the i-th part name of a chart.
fn tone(i: usize) -> String {
    format!("tone-{}", i % 8)
}

/// A bar's label as drawn: what fits left of the bars (the whole label is its tooltip and in
/// the table twin).
fn short(label: &str) -> String {
    if label.chars().count() <= 22 {
        label.to_owned()
    } else {
        let mut cut: String = label.chars().take(21).collect();
        cut.push('…');
        cut
    }
}

/// A link inside the SVG when there is somewhere to go.
fn linked(href: Option<String>, inner: AnyView) -> AnyView {
    match href {
        // Inside a `<g>` so the macro makes an SVG `<a>` (alone it would be an HTML one,
        // which an SVG does not draw).
        Some(href) => view! { <g><a href=href>{inner}</a></g> }.into_any(),
        None => inner,
    }
}

/// Horizontal bars, one row each, with the count at the end; a legend when bars have parts.
#[component]
pub fn BarChart(title: &'static str, bars: Vec<Bar>) -> impl IntoView {
    let max = bars.iter().map(Bar::total).max().unwrap_or(0).max(1);
    let mut names: Vec<String> = Vec::new();
    for b in &bars {
        for (name, _) in &b.parts {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let stacked = names.len() > 1;
    let height = ROW * bars.len().max(1) as i64 + 4;
    let room = WIDTH - LABEL_W - 60;
    let rows = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let y = ROW * i as i64 + 2;
            let mut x = LABEL_W;
            let parts = b
                .parts
                .iter()
                .map(|(name, n)| {
                    let w = n * room / max;
                    let class = tone(names.iter().position(|m| m == name).unwrap_or(0));
                    let rect = view! {
                        <rect x=x y=y + 3 width=w height=ROW - 8 class=class>
                            <title>{format!("{name}: {n}")}</title>
                        </rect>
                    };
                    x += w;
                    rect
                })
                .collect_view();
            let inner = view! {
                <g class="bar">
                    <text x=LABEL_W - 6 y=y + ROW / 2 + 2 text-anchor="end">{short(&b.label)}<title>{b.label.clone()}</title></text>
                    {parts}
                    <text x=x + 6 y=y + ROW / 2 + 2 class="count">{b.total()}</text>
                </g>
            }
            .into_any();
            linked(b.href.clone(), inner)
        })
        .collect_view();
    let twin = bars
        .iter()
        .map(|b| {
            let label = match &b.href {
                Some(href) => view! { <a href=href.clone()>{b.label.clone()}</a> }.into_any(),
                None => view! { <span>{b.label.clone()}</span> }.into_any(),
            };
            let parts = b
                .parts
                .iter()
                .map(|(name, n)| {
                    if stacked {
                        format!("{name}: {n}")
                    } else {
                        n.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            view! { <tr><th scope="row">{label}</th><td>{parts}</td></tr> }
        })
        .collect_view();
    let legend = stacked.then(|| {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| view! { <li><span class=format!("swatch {}", tone(i))></span>{n.clone()}</li> })
            .collect_view()
    });
    view! {
        <figure class="chart">
            <figcaption>{title}</figcaption>
            {if bars.is_empty() {
                view! { <p class="empty">"Nothing to show yet."</p> }.into_any()
            } else {
                view! {
                    <svg viewBox=format!("0 0 {WIDTH} {height}") role="img" aria-hidden="true">{rows}</svg>
                    <ul class="legend" aria-hidden="true">{legend}</ul>
                    // In a div: a table is as wide as its text whatever its CSS width, and an
                    // absolutely placed one widens the page.
                    <div class="sr-only"><table><caption>{title}</caption><tbody>{twin}</tbody></table></div>
                }.into_any()
            }}
        </figure>
    }
}

/// One line: a name and its points (label, value, link), oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub name: String,
    pub points: Vec<(String, i64, Option<String>)>,
}

/// Lines over the scans of each series (x: the n-th scan, y: the value), with a legend.
#[component]
pub fn LineChart(title: &'static str, unit: &'static str, lines: Vec<Line>) -> impl IntoView {
    const H: i64 = 200;
    const PAD: i64 = 30;
    let max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .max()
        .unwrap_or(0)
        .max(1);
    let most = lines.iter().map(|l| l.points.len()).max().unwrap_or(0);
    let gaps = (most.max(2) - 1) as i64;
    let at = move |i: usize, v: i64| {
        (
            PAD + (WIDTH - 2 * PAD) * i as i64 / gaps,
            H - PAD - (H - 2 * PAD) * v / max,
        )
    };
    let drawn = lines
        .iter()
        .enumerate()
        .map(|(li, l)| {
            let path = l
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let (x, y) = at(i, p.1);
                    format!("{x},{y}")
                })
                .collect::<Vec<_>>()
                .join(" ");
            let dots = l
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let (x, y) = at(i, p.1);
                    let dot = view! {
                        <circle cx=x cy=y r="4"><title>{format!("{}: {} {unit} ({})", l.name, p.1, p.0)}</title></circle>
                    }
                    .into_any();
                    linked(p.2.clone(), dot)
                })
                .collect_view();
            view! { <g class=format!("line {}", tone(li))><polyline points=path />{dots}</g> }
        })
        .collect_view();
    let twin = lines
        .iter()
        .flat_map(|l| {
            l.points.iter().map(move |p| {
                view! { <tr><th scope="row">{l.name.clone()}</th><td>{p.0.clone()}</td><td>{p.1}</td></tr> }
            })
        })
        .collect_view();
    let legend = lines
        .iter()
        .enumerate()
        .map(|(i, l)| view! { <li><span class=format!("swatch {}", tone(i))></span>{l.name.clone()}</li> })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>{title}</figcaption>
            {if lines.is_empty() {
                view! { <p class="empty">"Nothing to show yet."</p> }.into_any()
            } else {
                view! {
                    <svg viewBox=format!("0 0 {WIDTH} {H}") role="img" aria-hidden="true">
                        <text x="2" y=PAD - 8 class="count">{max}</text>
                        <line x1=PAD y1=H - PAD x2=WIDTH - PAD y2=H - PAD class="axis" />
                        {drawn}
                    </svg>
                    <ul class="legend" aria-hidden="true">{legend}</ul>
                    <div class="sr-only"><table>
                        <caption>{title}</caption>
                        <thead><tr><th scope="col">"Config"</th><th scope="col">"Scan"</th><th scope="col">{unit}</th></tr></thead>
                        <tbody>{twin}</tbody>
                    </table></div>
                }.into_any()
            }}
        </figure>
    }
}

/// The inventory's charts: on the Hosts page top services and products, on the Certificates
/// page expiry buckets and TLS versions; a bar opens its list filtered.
#[component]
pub fn InventoryCharts(certificates: bool) -> impl IntoView {
    use crate::api::enums::ViewPage;
    use crate::api::ops::{InventoryTrends, inventory_trends};
    use crate::components::error_box::show;
    use crate::components::search::page_href;

    let data = crate::api::remote::Remote::new(|| {
        crate::api::call::<InventoryTrends>(inventory_trends::Variables {})
    });
    let bars = |list: Vec<inventory_trends::Bar>, page: ViewPage| -> Vec<Bar> {
        list.into_iter()
            .map(|b| Bar {
                href: b.filter.as_deref().map(|f| page_href(page, f)),
                parts: vec![(String::new(), b.count)],
                label: b.label,
            })
            .collect()
    };
    view! {
        <div class="charts">
            {move || show(data.get(), move |d| {
                let t = d.trends;
                if certificates {
                    view! {
                        <BarChart title="Certificates by time left" bars=bars(t.certificate_expiry, ViewPage::Certificates) />
                        <BarChart title="TLS versions in use (hosts)" bars=bars(t.tls_versions, ViewPage::Hosts) />
                    }.into_any()
                } else {
                    view! {
                        <BarChart title="Top services (hosts)" bars=bars(t.top_services, ViewPage::Hosts) />
                        <BarChart title="Top products (hosts)" bars=bars(t.top_products, ViewPage::Hosts) />
                    }.into_any()
                }
            })}
        </div>
    }
}

/// The dashboard's charts: open ports over time per config, and the changes each recent scan
/// recorded by kind; a point or bar opens its scan.
#[component]
pub fn DashboardCharts() -> impl IntoView {
    use crate::api::ops::{DashboardTrends, dashboard_trends};
    use crate::components::error_box::show;
    use crate::route::Route;

    let data = crate::api::remote::Remote::new(|| {
        crate::api::call::<DashboardTrends>(dashboard_trends::Variables {})
    });
    view! {
        <div class="charts">
            {move || show(data.get(), |d| {
                let t = d.trends;
                let lines = t.open_ports.into_iter().map(|s| Line {
                    name: s.name,
                    points: s.points.into_iter().map(|p| (
                        format!("#{} {}", p.scan_id, crate::format::timestamp(&p.at)),
                        p.open_ports,
                        Some(Route::Scan(p.scan_id).href()),
                    )).collect(),
                }).collect();
                let per_scan = t.changes_per_scan.into_iter().map(|s| Bar {
                    label: format!("#{} {}", s.scan_id, s.title),
                    parts: s.kinds.into_iter().map(|k| (k.kind.label().to_owned(), k.count)).collect(),
                    href: Some(Route::Scan(s.scan_id).href()),
                }).collect();
                view! {
                    <LineChart title="Open ports over time, per config" unit="open ports" lines=lines />
                    <BarChart title="Changes per scan, by kind" bars=per_scan />
                }
            })}
        </div>
    }
}
